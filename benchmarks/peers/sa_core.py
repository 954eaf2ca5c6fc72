"""Hand-written SQLAlchemy Core on the async engine: ``engine.begin()`` / ``connect()`` per statement."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from workload import COLUMNS, LIST_COLUMNS, Implementation, Sizes, row

sa_metadata = sa.MetaData()
sa_item = sa.Table(
    "sa_bench_item",
    sa_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("amount", sa.Numeric(10, 2), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("rank", sa.Integer, nullable=True),
    sa.Column("ratio", sa.Float, nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
)
sa_child = sa.Table(
    "sa_bench_child",
    sa_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "item_id", sa.ForeignKey("sa_bench_item.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("label", sa.String(50), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
)


class SQLAlchemyCore(Implementation):
    name = "SQLAlchemy Core"

    def __init__(self, sizes: Sizes, url: str) -> None:
        super().__init__(sizes)
        self.url = url
        self.engine: AsyncEngine

    async def open(self) -> None:
        self.engine = create_async_engine(self.url)
        async with self.engine.connect() as conn:
            info = conn.dialect.server_version_info or ()
            self.server = " ".join(str(x) for x in info if not isinstance(x, int))
            self.server += " " + ".".join(str(x) for x in info if isinstance(x, int))

    async def close(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(sa_metadata.drop_all)
        await self.engine.dispose()

    async def reset(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(sa_metadata.drop_all)
            await conn.run_sync(sa_metadata.create_all)

    async def seed_children(self) -> None:
        rows = [{"item_id": p, "label": lb, "position": k} for p, lb, k in self.child_rows()]
        async with self.engine.begin() as conn:
            await conn.execute(sa_child.insert(), rows)

    async def test_insert_single(self) -> int:
        self.single_ids = []
        stmt = sa_item.insert().returning(sa_item.c.id)
        for i in range(self.sizes.single):
            async with self.engine.begin() as conn:
                self.single_ids.append((await conn.execute(stmt, row(i))).scalar_one())
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        stmt = sa_item.insert().returning(sa_item.c.id)
        async with self.engine.begin() as conn:
            for i in range(base, base + self.sizes.tx):
                (await conn.execute(stmt, row(i))).scalar_one()
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        rows = [row(i) for i in range(base, base + self.sizes.bulk)]
        stmt = sa_item.insert().returning(sa_item.c.id, sort_by_parameter_order=True)
        async with self.engine.begin() as conn:
            self.bulk_ids = list((await conn.execute(stmt, rows)).scalars())
        return len(rows)

    async def test_fetch_all(self) -> int:
        stmt = sa.select(sa_item).where(sa_item.c.score >= 0)
        async with self.engine.connect() as conn:
            return len((await conn.execute(stmt)).all())

    async def test_fetch_limit(self) -> int:
        n = 0
        for i in range(self.sizes.limit):
            stmt = (
                sa.select(sa_item)
                .where(sa_item.c.flag.is_(True), sa_item.c.score >= i % 500)
                .order_by(sa_item.c.id)
                .limit(20)
            )
            async with self.engine.connect() as conn:
                n += len((await conn.execute(stmt)).all())
        return n

    async def test_get_pk(self) -> int:
        self.got = []
        for pk in self.sample_ids():
            async with self.engine.connect() as conn:
                stmt = sa.select(sa_item).where(sa_item.c.id == pk)
                self.got.append(dict((await conn.execute(stmt)).one()._mapping))
        return len(self.got)

    async def test_values_dicts(self) -> int:
        stmt = sa.select(sa_item).where(sa_item.c.score >= 0)
        async with self.engine.connect() as conn:
            return len((await conn.execute(stmt)).mappings().all())

    async def test_values_tuples(self) -> int:
        stmt = sa.select(*(sa_item.c[c] for c in LIST_COLUMNS)).where(sa_item.c.score >= 0)
        async with self.engine.connect() as conn:
            return len([tuple(r) for r in (await conn.execute(stmt)).all()])

    async def test_update_whole(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            obj["name"] += "!"
            values = {c: obj[c] for c in COLUMNS}
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.update(sa_item).where(sa_item.c.id == obj["id"]).values(**values)
                )
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.update(sa_item).where(sa_item.c.id == obj["id"]).values(score=obj["score"])
                )
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            async with self.engine.begin() as conn:
                await conn.execute(sa.delete(sa_item).where(sa_item.c.id == pk))
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        stmt = (
            sa.select(sa_child, sa_item)
            .join(sa_item, sa_child.c.item_id == sa_item.c.id)
            .where(sa_child.c.position >= 0)
        )
        async with self.engine.connect() as conn:
            return len((await conn.execute(stmt)).all())

    async def test_prefetch_related(self) -> int:
        async with self.engine.connect() as conn:
            items = (
                await conn.execute(sa.select(sa_item).where(sa_item.c.id >= self.first_parent))
            ).all()
            ids = [r.id for r in items]
            children = (
                await conn.execute(sa.select(sa_child).where(sa_child.c.item_id.in_(ids)))
            ).all()
        grouped: dict[int, list[Any]] = {}
        for child in children:
            grouped.setdefault(child.item_id, []).append(child)
        return len(items) + len(children)
