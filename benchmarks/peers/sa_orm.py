"""SQLAlchemy ORM with ``AsyncSession``, written the way its documentation teaches.

Mapped classes live in their own ``DeclarativeBase`` (tables ``orm_bench_*``).
One session per unit of work: a statement outside a transaction gets its own
short session (``async with sessionmaker.begin()`` for writes), as Core gets
its own ``engine.begin()``. ``expire_on_commit=False`` so that objects stay
readable after their session closes; updates re-attach the detached objects
with ``session.add()`` and let the unit of work flush what changed.
(2) flushes after each ``add()`` so that every insert runs (and reads back its
pk) inside the one transaction, like ``create()`` does; (3) is ``add_all()``
and one commit (insertmanyvalues with RETURNING).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)
from workload import COLUMNS, LIST_COLUMNS, Implementation, Sizes, row


class Base(DeclarativeBase):
    pass


class OrmItem(Base):
    __tablename__ = "orm_bench_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    flag: Mapped[bool] = mapped_column(default=False)
    created: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    amount: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    score: Mapped[int]
    rank: Mapped[int | None]
    ratio: Mapped[float]
    category: Mapped[str] = mapped_column(sa.String(20))

    children: Mapped[list[OrmChild]] = relationship(back_populates="item", passive_deletes=True)


class OrmChild(Base):
    __tablename__ = "orm_bench_child"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orm_bench_item.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(50))
    position: Mapped[int]

    item: Mapped[OrmItem] = relationship(back_populates="children")


class SQLAlchemyORM(Implementation):
    name = "SQLAlchemy ORM"

    def __init__(self, sizes: Sizes, url: str) -> None:
        super().__init__(sizes)
        self.url = url
        self.engine: AsyncEngine

    async def open(self) -> None:
        self.engine = create_async_engine(self.url)
        self.session = async_sessionmaker(self.engine, expire_on_commit=False)

    async def close(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
        await self.engine.dispose()

    async def reset(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)

    async def seed_children(self) -> None:
        async with self.session.begin() as s:
            s.add_all(OrmChild(item_id=p, label=lb, position=k) for p, lb, k in self.child_rows())

    async def test_insert_single(self) -> int:
        self.single_ids = []
        for i in range(self.sizes.single):
            obj = OrmItem(**row(i))
            async with self.session.begin() as s:
                s.add(obj)
            self.single_ids.append(obj.id)
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        async with self.session.begin() as s:
            for i in range(base, base + self.sizes.tx):
                s.add(OrmItem(**row(i)))
                await s.flush()
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        objs = [OrmItem(**row(i)) for i in range(base, base + self.sizes.bulk)]
        async with self.session.begin() as s:
            s.add_all(objs)
        self.bulk_ids = [o.id for o in objs]
        return len(objs)

    async def test_fetch_all(self) -> int:
        async with self.session() as s:
            return len((await s.scalars(sa.select(OrmItem).where(OrmItem.score >= 0))).all())

    async def test_fetch_limit(self) -> int:
        n = 0
        for i in range(self.sizes.limit):
            stmt = (
                sa.select(OrmItem)
                .where(OrmItem.flag.is_(True), OrmItem.score >= i % 500)
                .order_by(OrmItem.id)
                .limit(20)
            )
            async with self.session() as s:
                n += len((await s.scalars(stmt)).all())
        return n

    async def test_get_pk(self) -> int:
        self.got = []
        for pk in self.sample_ids():
            async with self.session() as s:
                self.got.append(await s.get_one(OrmItem, pk))
        return len(self.got)

    async def test_values_dicts(self) -> int:
        cols = [getattr(OrmItem, c) for c in ("id", *COLUMNS)]
        async with self.session() as s:
            result = await s.execute(sa.select(*cols).where(OrmItem.score >= 0))
            return len(result.mappings().all())

    async def test_values_tuples(self) -> int:
        cols = [getattr(OrmItem, c) for c in LIST_COLUMNS]
        async with self.session() as s:
            result = await s.execute(sa.select(*cols).where(OrmItem.score >= 0))
            return len([tuple(r) for r in result.all()])

    async def test_update_whole(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj.score += 1
            obj.name = obj.name + "!"
            async with self.session.begin() as s:
                s.add(obj)
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj.score += 1
            async with self.session.begin() as s:
                s.add(obj)
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            async with self.session.begin() as s:
                await s.execute(sa.delete(OrmItem).where(OrmItem.id == pk))
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        stmt = sa.select(OrmChild).options(joinedload(OrmChild.item)).where(OrmChild.position >= 0)
        async with self.session() as s:
            children = (await s.scalars(stmt)).all()
        assert children and children[0].item is not None
        return len(children)

    async def test_prefetch_related(self) -> int:
        stmt = (
            sa.select(OrmItem)
            .where(OrmItem.id >= self.first_parent)
            .options(selectinload(OrmItem.children))
        )
        async with self.session() as s:
            items = (await s.scalars(stmt)).all()
        return len(items) + sum(len(item.children) for item in items)
