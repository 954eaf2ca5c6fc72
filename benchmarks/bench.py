"""Side-by-side benchmark: flash_db against the raw drivers and SQLAlchemy Core.

One workload, several implementations, run interleaved: for each round, for
each test, each implementation in turn, so that the machine's noise lands on
every implementation alike. Reports the median rows/s per test and each
implementation's ratio to the raw driver (asyncpg on PostgreSQL, aiosqlite on
SQLite) and to SQLAlchemy Core, as a markdown table.

    python benchmarks/bench.py                           # PostgreSQL and SQLite, 3 rounds
    python benchmarks/bench.py --backend sqlite --rounds 5 --scale 0.5
    python benchmarks/bench.py --smoke                   # tiny sizes, 1 round (CI)
    python benchmarks/bench.py --output results.md

Every implementation creates and drops its own tables: ``bench_item`` and
``bench_child`` (flash_db, app label ``bench``), ``sa_bench_*`` (SQLAlchemy
Core), ``raw_bench_*`` (raw drivers). SQLite databases are files in a
temporary directory, one per implementation.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import flash_db
from flash_db import Model, atomic, fields

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"

# ---------------------------------------------------------------------------
# Workload


class Item(Model):
    name = fields.CharField(max_length=100, db_index=True)
    description = fields.TextField()
    flag = fields.BooleanField(default=False)
    created = fields.DateTimeField()
    amount = fields.DecimalField(max_digits=10, decimal_places=2)
    score = fields.IntegerField()
    rank = fields.IntegerField(null=True)
    ratio = fields.FloatField()
    category = fields.CharField(max_length=20)

    class Meta:
        app_label = "bench"
        table = "bench_item"


class Child(Model):
    item = fields.ForeignKey(Item, related_name="children", on_delete=fields.CASCADE)
    label = fields.CharField(max_length=50)
    position = fields.IntegerField()

    class Meta:
        app_label = "bench"
        table = "bench_child"


COLUMNS = (
    "name",
    "description",
    "flag",
    "created",
    "amount",
    "score",
    "rank",
    "ratio",
    "category",
)
LIST_COLUMNS = ("id", "name", "score", "amount")
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def row(i: int) -> dict[str, Any]:
    """The values of the i-th item (deterministic)."""
    return {
        "name": f"item-{i}",
        "description": f"description of item {i} " * 3,
        "flag": i % 2 == 0,
        "created": EPOCH + dt.timedelta(seconds=i),
        "amount": Decimal(i % 10_000) / 100,
        "score": i % 1000,
        "rank": i if i % 3 else None,
        "ratio": i / 7,
        "category": f"cat-{i % 10}",
    }


class Sizes:
    """Row counts per test, multiplied by ``--scale`` (at least 2 each)."""

    BASE = {
        "single": 500,  # (1) single-row inserts, and (11) deletes of those rows
        "tx": 2000,  # (2) inserts in one transaction
        "bulk": 20_000,  # (3) bulk insert
        "limit": 500,  # (5) LIMIT 20 queries
        "get": 2000,  # (6) get by pk
        "update": 500,  # (9), (10) updates
        "parents": 2000,  # parents of (12), (13): 2 children each
    }

    def __init__(self, scale: float) -> None:
        for key, value in self.BASE.items():
            setattr(self, key, max(2, round(value * scale)))

    single: int
    tx: int
    bulk: int
    limit: int
    get: int
    update: int
    parents: int


TESTS = (
    ("insert_single", "(1) single-row inserts"),
    ("insert_tx", "(2) inserts in one transaction"),
    ("insert_bulk", "(3) bulk insert"),
    ("fetch_all", "(4) filter, all rows as objects"),
    ("fetch_limit", "(5) filter, LIMIT 20"),
    ("get_pk", "(6) get by pk"),
    ("values_dicts", "(7) values() dicts"),
    ("values_tuples", "(8) values_list() tuples"),
    ("update_whole", "(9) update whole object"),
    ("update_partial", "(10) partial update"),
    ("delete", "(11) delete"),
    ("select_related", "(12) select_related (FK)"),
    ("prefetch_related", "(13) prefetch_related (reverse FK)"),
)


class Implementation:
    """One way of running the workload. Each ``test_*`` method returns the rows it handled.

    ``reset()`` (untimed) drops and creates the implementation's tables and
    runs once per round before the tests; ``seed_children()`` (untimed) runs
    after the bulk insert. To add a peer (SQLAlchemy ORM, Tortoise), subclass
    and implement the same methods.
    """

    name = "?"

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.single_ids: list[int] = []
        self.bulk_ids: list[int] = []
        self.got: list[Any] = []
        self.rng = random.Random(42)

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def reset(self) -> None: ...

    async def seed_children(self) -> None: ...

    def sample_ids(self) -> list[int]:
        return [self.rng.choice(self.bulk_ids) for _ in range(self.sizes.get)]

    @property
    def parent_ids(self) -> list[int]:
        return self.bulk_ids[-self.sizes.parents :]

    @property
    def first_parent(self) -> int:
        return self.parent_ids[0]

    def child_rows(self) -> list[tuple[int, str, int]]:
        return [(pid, f"child-{pid}-{k}", k) for pid in self.parent_ids for k in range(2)]


# ---------------------------------------------------------------------------
# flash_db


class FlashDB(Implementation):
    name = "flash_db"

    def __init__(self, sizes: Sizes, url: str) -> None:
        super().__init__(sizes)
        self.url = url

    async def open(self) -> None:
        await flash_db.connect(self.url)

    async def close(self) -> None:
        try:
            await flash_db.drop_all()
        finally:
            await flash_db.disconnect()

    async def reset(self) -> None:
        await flash_db.drop_all()
        await flash_db.create_all()

    async def seed_children(self) -> None:
        await Child.objects.bulk_create(
            [Child(item_id=p, label=label, position=k) for p, label, k in self.child_rows()]
        )

    async def test_insert_single(self) -> int:
        self.single_ids = []
        for i in range(self.sizes.single):
            obj = await Item.objects.create(**row(i))
            self.single_ids.append(obj.pk)
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        async with atomic():
            for i in range(base, base + self.sizes.tx):
                await Item.objects.create(**row(i))
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        objs = [Item(**row(i)) for i in range(base, base + self.sizes.bulk)]
        await Item.objects.bulk_create(objs)
        self.bulk_ids = [o.pk for o in objs]
        return len(objs)

    async def test_fetch_all(self) -> int:
        return len(await Item.objects.filter(score__gte=0))

    async def test_fetch_limit(self) -> int:
        n = 0
        for i in range(self.sizes.limit):
            n += len(await Item.objects.filter(flag=True, score__gte=i % 500).order_by("id")[:20])
        return n

    async def test_get_pk(self) -> int:
        self.got = [await Item.objects.get(pk=pk) for pk in self.sample_ids()]
        return len(self.got)

    async def test_values_dicts(self) -> int:
        return len(await Item.objects.filter(score__gte=0).values())

    async def test_values_tuples(self) -> int:
        return len(await Item.objects.filter(score__gte=0).values_list(*LIST_COLUMNS))

    async def test_update_whole(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj.score += 1
            obj.name = obj.name + "!"
            await obj.save()
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj.score += 1
            await obj.save(update_fields=["score"])
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            await Item.objects.filter(pk=pk).delete()
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        children = await Child.objects.select_related("item").filter(position__gte=0)
        assert children and children[0].item is not None
        return len(children)

    async def test_prefetch_related(self) -> int:
        items = await Item.objects.filter(id__gte=self.first_parent).prefetch_related("children")
        n = len(items)
        for item in items:
            n += len(await item.children.all())  # prefetched: no query
        return n


# ---------------------------------------------------------------------------
# SQLAlchemy Core (async engine, hand-written statements)

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


# ---------------------------------------------------------------------------
# raw asyncpg (PostgreSQL floor)

PG_DDL = """
CREATE TABLE raw_bench_item (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL,
    description text NOT NULL,
    flag boolean NOT NULL,
    created timestamptz NOT NULL,
    amount numeric(10, 2) NOT NULL,
    score integer NOT NULL,
    rank integer,
    ratio double precision NOT NULL,
    category varchar(20) NOT NULL
);
CREATE INDEX raw_bench_item_name ON raw_bench_item (name);
CREATE TABLE raw_bench_child (
    id serial PRIMARY KEY,
    item_id integer NOT NULL REFERENCES raw_bench_item (id) ON DELETE CASCADE,
    label varchar(50) NOT NULL,
    position integer NOT NULL
);
CREATE INDEX raw_bench_child_item ON raw_bench_child (item_id);
"""
DROP_DDL = "DROP TABLE IF EXISTS raw_bench_child; DROP TABLE IF EXISTS raw_bench_item;"
ITEM_INSERT = (
    f"INSERT INTO raw_bench_item ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))}) RETURNING id"
)
ITEM_SELECT = f"SELECT id, {', '.join(COLUMNS)} FROM raw_bench_item"
CHILD_SELECT = "SELECT id, item_id, label, position FROM raw_bench_child"
UPDATE_ALL = (
    "UPDATE raw_bench_item SET "
    + ", ".join(f"{c} = ${n}" for n, c in enumerate(COLUMNS, 2))
    + " WHERE id = $1"
)


class RawAsyncpg(Implementation):
    """One connection held for the whole run: asyncpg's prepared-statement cache, no pool."""

    name = "raw asyncpg"

    def __init__(self, sizes: Sizes, url: str) -> None:
        super().__init__(sizes)
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def open(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)

    async def close(self) -> None:
        await self.conn.execute(DROP_DDL)
        await self.conn.close()

    async def reset(self) -> None:
        await self.conn.execute(DROP_DDL)
        await self.conn.execute(PG_DDL)

    async def seed_children(self) -> None:
        await self.conn.executemany(
            "INSERT INTO raw_bench_child (item_id, label, position) VALUES ($1, $2, $3)",
            self.child_rows(),
        )

    async def test_insert_single(self) -> int:
        self.single_ids = []
        for i in range(self.sizes.single):
            self.single_ids.append(await self.conn.fetchval(ITEM_INSERT, *row(i).values()))
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        async with self.conn.transaction():
            for i in range(base, base + self.sizes.tx):
                await self.conn.fetchval(ITEM_INSERT, *row(i).values())
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        rows = [row(i) for i in range(base, base + self.sizes.bulk)]
        types = ("text", "text", "bool", "timestamptz", "numeric", "int", "int", "float8", "text")
        sql = (
            f"INSERT INTO raw_bench_item ({', '.join(COLUMNS)}) SELECT * FROM unnest("
            + ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, 1))
            + ") RETURNING id"
        )
        arrays = [[r[c] for r in rows] for c in COLUMNS]
        async with self.conn.transaction():
            self.bulk_ids = [r[0] for r in await self.conn.fetch(sql, *arrays)]
        return len(rows)

    async def test_fetch_all(self) -> int:
        return len(await self.conn.fetch(ITEM_SELECT + " WHERE score >= $1", 0))

    async def test_fetch_limit(self) -> int:
        sql = ITEM_SELECT + " WHERE flag AND score >= $1 ORDER BY id LIMIT 20"
        n = 0
        for i in range(self.sizes.limit):
            n += len(await self.conn.fetch(sql, i % 500))
        return n

    async def test_get_pk(self) -> int:
        sql = ITEM_SELECT + " WHERE id = $1"
        self.got = [dict(await self.conn.fetchrow(sql, pk)) for pk in self.sample_ids()]
        return len(self.got)

    async def test_values_dicts(self) -> int:
        rows = await self.conn.fetch(ITEM_SELECT + " WHERE score >= $1", 0)
        return len([dict(r) for r in rows])

    async def test_values_tuples(self) -> int:
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM raw_bench_item WHERE score >= $1"
        return len([tuple(r) for r in await self.conn.fetch(sql, 0)])

    async def test_update_whole(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            obj["name"] += "!"
            await self.conn.execute(UPDATE_ALL, obj["id"], *(obj[c] for c in COLUMNS))
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            sql = "UPDATE raw_bench_item SET score = $2 WHERE id = $1"
            await self.conn.execute(sql, obj["id"], obj["score"])
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            await self.conn.execute("DELETE FROM raw_bench_item WHERE id = $1", pk)
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        sql = (
            "SELECT c.id, c.item_id, c.label, c.position, i.* FROM raw_bench_child c "
            "JOIN raw_bench_item i ON i.id = c.item_id WHERE c.position >= $1"
        )
        return len(await self.conn.fetch(sql, 0))

    async def test_prefetch_related(self) -> int:
        items = await self.conn.fetch(ITEM_SELECT + " WHERE id >= $1", self.first_parent)
        ids = [r["id"] for r in items]
        children = await self.conn.fetch(CHILD_SELECT + " WHERE item_id = ANY($1)", ids)
        grouped: dict[int, list[Any]] = {}
        for child in children:
            grouped.setdefault(child["item_id"], []).append(child)
        return len(items) + len(children)


# ---------------------------------------------------------------------------
# raw aiosqlite (SQLite floor)

SQLITE_DDL = [
    DROP_DDL.split(";")[0],
    DROP_DDL.split(";")[1],
    PG_DDL.split(";")[0]
    .replace("serial PRIMARY KEY", "INTEGER PRIMARY KEY")
    .replace("timestamptz", "datetime")
    .replace("double precision", "real"),
    PG_DDL.split(";")[1],
    PG_DDL.split(";")[2].replace("serial PRIMARY KEY", "INTEGER PRIMARY KEY"),
    PG_DDL.split(";")[3],
]


def sqlite_params(values: dict[str, Any]) -> tuple[Any, ...]:
    """SQLite binds no Decimal or (since 3.12, by default) datetime: store text, as ORMs do."""
    return tuple(
        str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, dt.datetime) else v
        for v in values.values()
    )


class RawAiosqlite(Implementation):
    """One connection in autocommit mode; transactions with explicit BEGIN/COMMIT."""

    name = "raw aiosqlite"

    def __init__(self, sizes: Sizes, path: str) -> None:
        super().__init__(sizes)
        self.path = path

    async def open(self) -> None:
        import aiosqlite

        self.conn = await aiosqlite.connect(self.path, isolation_level=None)
        await self.conn.execute("PRAGMA foreign_keys = ON")

    async def close(self) -> None:
        await self.conn.close()

    async def reset(self) -> None:
        for sql in SQLITE_DDL:
            await self.conn.execute(sql)

    async def seed_children(self) -> None:
        await self.conn.execute("BEGIN")
        await self.conn.executemany(
            "INSERT INTO raw_bench_child (item_id, label, position) VALUES (?, ?, ?)",
            self.child_rows(),
        )
        await self.conn.execute("COMMIT")

    def insert_sql(self) -> str:
        return (
            f"INSERT INTO raw_bench_item ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))})"
        )

    async def test_insert_single(self) -> int:
        self.single_ids = []
        sql = self.insert_sql()
        for i in range(self.sizes.single):
            cursor = await self.conn.execute(sql, sqlite_params(row(i)))
            self.single_ids.append(cursor.lastrowid)
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        sql = self.insert_sql()
        await self.conn.execute("BEGIN")
        for i in range(base, base + self.sizes.tx):
            await self.conn.execute(sql, sqlite_params(row(i)))
        await self.conn.execute("COMMIT")
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        rows = [sqlite_params(row(i)) for i in range(base, base + self.sizes.bulk)]
        await self.conn.execute("BEGIN")
        await self.conn.executemany(self.insert_sql(), rows)
        await self.conn.execute("COMMIT")
        # executemany gives no ids: the new rows are the last ones
        sql = "SELECT id FROM raw_bench_item ORDER BY id DESC LIMIT ?"
        self.bulk_ids = [r[0] for r in await self.conn.execute_fetchall(sql, (len(rows),))][::-1]
        return len(rows)

    async def test_fetch_all(self) -> int:
        return len(await self.conn.execute_fetchall(ITEM_SELECT + " WHERE score >= ?", (0,)))

    async def test_fetch_limit(self) -> int:
        sql = ITEM_SELECT + " WHERE flag AND score >= ? ORDER BY id LIMIT 20"
        n = 0
        for i in range(self.sizes.limit):
            n += len(await self.conn.execute_fetchall(sql, (i % 500,)))
        return n

    async def test_get_pk(self) -> int:
        sql = ITEM_SELECT + " WHERE id = ?"
        names = ("id", *COLUMNS)
        self.got = []
        for pk in self.sample_ids():
            async with self.conn.execute(sql, (pk,)) as cursor:
                self.got.append(dict(zip(names, await cursor.fetchone(), strict=True)))
        return len(self.got)

    async def test_values_dicts(self) -> int:
        names = ("id", *COLUMNS)
        rows = await self.conn.execute_fetchall(ITEM_SELECT + " WHERE score >= ?", (0,))
        return len([dict(zip(names, r, strict=True)) for r in rows])

    async def test_values_tuples(self) -> int:
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM raw_bench_item WHERE score >= ?"
        return len([tuple(r) for r in await self.conn.execute_fetchall(sql, (0,))])

    async def test_update_whole(self) -> int:
        sql = (
            "UPDATE raw_bench_item SET " + ", ".join(f"{c} = ?" for c in COLUMNS) + " WHERE id = ?"
        )
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            obj["name"] += "!"
            params = (*sqlite_params({c: obj[c] for c in COLUMNS}), obj["id"])
            await self.conn.execute(sql, params)
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            sql = "UPDATE raw_bench_item SET score = ? WHERE id = ?"
            await self.conn.execute(sql, (obj["score"], obj["id"]))
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            await self.conn.execute("DELETE FROM raw_bench_item WHERE id = ?", (pk,))
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        sql = (
            "SELECT c.id, c.item_id, c.label, c.position, i.* FROM raw_bench_child c "
            "JOIN raw_bench_item i ON i.id = c.item_id WHERE c.position >= ?"
        )
        return len(await self.conn.execute_fetchall(sql, (0,)))

    async def test_prefetch_related(self) -> int:
        items = await self.conn.execute_fetchall(
            ITEM_SELECT + " WHERE id >= ?", (self.first_parent,)
        )
        ids = [r[0] for r in items]
        sql = CHILD_SELECT + f" WHERE item_id IN ({', '.join('?' * len(ids))})"
        children = await self.conn.execute_fetchall(sql, ids)
        grouped: dict[int, list[Any]] = {}
        for child in children:
            grouped.setdefault(child[1], []).append(child)
        return len(items) + len(children)


# ---------------------------------------------------------------------------
# Harness


def implementations(backend: str, sizes: Sizes, pg_url: str, tmp: str) -> list[Implementation]:
    if backend == "postgresql":
        return [
            RawAsyncpg(sizes, pg_url),
            SQLAlchemyCore(sizes, pg_url),
            FlashDB(sizes, pg_url),
        ]
    path = os.path.join(tmp, "{}.sqlite3")
    return [
        RawAiosqlite(sizes, path.format("raw")),
        SQLAlchemyCore(sizes, "sqlite+aiosqlite:///" + path.format("core")),
        FlashDB(sizes, "sqlite+aiosqlite:///" + path.format("flash_db")),
    ]


async def run_backend(
    backend: str, sizes: Sizes, rounds: int, pg_url: str, tmp: str
) -> dict[str, dict[str, list[float]]]:
    """rows/s per test per implementation, one entry per round."""
    impls = implementations(backend, sizes, pg_url, tmp)
    results: dict[str, dict[str, list[float]]] = {t: {i.name: [] for i in impls} for t, _ in TESTS}
    for impl in impls:
        # flash_db holds one global connection set: open it last, just before use
        if not isinstance(impl, FlashDB):
            await impl.open()
    flash = next(i for i in impls if isinstance(i, FlashDB))
    await flash.open()
    try:
        for rnd in range(rounds):
            for impl in impls:
                await impl.reset()
            for test, _label in TESTS:
                for impl in impls:
                    began = time.perf_counter()
                    n = await getattr(impl, "test_" + test)()
                    elapsed = time.perf_counter() - began
                    results[test][impl.name].append(n / elapsed)
                if test == "insert_bulk":
                    for impl in impls:
                        await impl.seed_children()
            print(f"  {backend}: round {rnd + 1}/{rounds} done", file=sys.stderr)
    finally:
        for impl in impls:
            await impl.close()
    return results


def render(backend: str, results: dict[str, dict[str, list[float]]]) -> str:
    names = list(next(iter(results.values())))
    floor, core = names[0], "SQLAlchemy Core"
    medians = {t: {n: statistics.median(v) for n, v in per.items()} for t, per in results.items()}
    lines = [
        f"### {backend}",
        "",
        "| test | "
        + " | ".join(f"{n} rows/s" for n in names)
        + " | flash_db / "
        + floor
        + " | flash_db / Core | Core / "
        + floor
        + " |",
        "|---|" + "---:|" * (len(names) + 3),
    ]
    ratios: dict[str, list[float]] = {"floor": [], "core": [], "core_floor": []}
    for test, label in TESTS:
        m = medians[test]
        r_floor = m["flash_db"] / m[floor]
        r_core = m["flash_db"] / m[core]
        r_cf = m[core] / m[floor]
        ratios["floor"].append(r_floor)
        ratios["core"].append(r_core)
        ratios["core_floor"].append(r_cf)
        cells = " | ".join(f"{m[n]:,.0f}" for n in names)
        lines.append(f"| {label} | {cells} | {r_floor:.2f} | {r_core:.2f} | {r_cf:.2f} |")
    geo = {k: math.exp(statistics.fmean(math.log(x) for x in v)) for k, v in ratios.items()}
    lines.append(
        "| **geometric mean** | "
        + " | ".join("" for _ in names)
        + f" | **{geo['floor']:.2f}** | **{geo['core']:.2f}** | **{geo['core_floor']:.2f}** |"
    )
    return "\n".join(lines)


def versions() -> str:
    import aiosqlite
    import asyncpg

    return (
        f"Python {platform.python_version()}, SQLAlchemy {sa.__version__}, "
        f"asyncpg {asyncpg.__version__}, aiosqlite {aiosqlite.__version__}, "
        f"flash_db {flash_db.__version__}, {os.cpu_count()} CPUs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="row counts multiplier")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round (CI)")
    parser.add_argument(
        "--url",
        default=os.environ.get("FLASH_DB_BENCH_URL", DEFAULT_PG_URL),
        help="PostgreSQL URL (postgresql+asyncpg://...)",
    )
    parser.add_argument("--output", help="also write the markdown table to this file")
    args = parser.parse_args()
    if args.smoke:
        args.scale, args.rounds = 0.01, 1
    sizes = Sizes(args.scale)
    backends = ("postgresql", "sqlite") if args.backend == "all" else (args.backend,)
    sections = [
        f"{args.rounds} interleaved round(s), scale {args.scale:g}, median rows/s. {versions()}."
    ]
    with tempfile.TemporaryDirectory(prefix="flash_db_bench_") as tmp:
        for backend in backends:
            results = asyncio.run(run_backend(backend, sizes, args.rounds, args.url, tmp))
            sections.append(render(backend, results))
    text = "\n\n".join(sections) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
