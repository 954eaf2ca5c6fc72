"""The raw drivers, the floor: asyncpg (PostgreSQL), aiosqlite (SQLite), aiomysql (MariaDB/MySQL).

Each holds one connection for the whole run, sends hand-written SQL and hands
back the driver's own records, with no type conversion beyond the driver's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from workload import COLUMNS, LIST_COLUMNS, Implementation, Sizes, row

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
# raw aiomysql (MariaDB/MySQL floor)


def _q(name: str) -> str:
    # RANK is a reserved word on MySQL 8 (window functions): quote every column
    return f"`{name}`"


MYSQL_DDL = [
    "DROP TABLE IF EXISTS raw_bench_child",
    "DROP TABLE IF EXISTS raw_bench_item",
    """CREATE TABLE raw_bench_item (
        id integer AUTO_INCREMENT PRIMARY KEY,
        name varchar(100) NOT NULL,
        description text NOT NULL,
        flag bool NOT NULL,
        created datetime(6) NOT NULL,
        amount numeric(10, 2) NOT NULL,
        score integer NOT NULL,
        `rank` integer,
        ratio double NOT NULL,
        category varchar(20) NOT NULL,
        INDEX raw_bench_item_name (name)
    )""",
    """CREATE TABLE raw_bench_child (
        id integer AUTO_INCREMENT PRIMARY KEY,
        item_id integer NOT NULL,
        label varchar(50) NOT NULL,
        position integer NOT NULL,
        INDEX raw_bench_child_item (item_id),
        FOREIGN KEY (item_id) REFERENCES raw_bench_item (id) ON DELETE CASCADE
    )""",
]
MY_COLUMNS = ", ".join(_q(c) for c in COLUMNS)
MY_ITEM_SELECT = f"SELECT id, {MY_COLUMNS} FROM raw_bench_item"
MY_CHILD_SELECT = "SELECT id, item_id, label, position FROM raw_bench_child"


class RawAiomysql(Implementation):
    """One connection in autocommit mode; transactions with explicit BEGIN/COMMIT."""

    name = "raw aiomysql"

    def __init__(self, sizes: Sizes, url: str) -> None:
        from sqlalchemy.engine import make_url

        super().__init__(sizes)
        u = make_url(url)
        self.params = {
            "host": u.host or "127.0.0.1",
            "port": u.port or 3306,
            "user": u.username or "root",
            "password": u.password or "",
            "db": u.database,
        }

    async def open(self) -> None:
        import aiomysql

        self.conn = await aiomysql.connect(**self.params, autocommit=True)

    async def close(self) -> None:
        for sql in MYSQL_DDL[:2]:
            await self.execute(sql)
        self.conn.close()

    async def execute(self, sql: str, params: Any = None) -> Any:
        async with self.conn.cursor() as cur:
            await cur.execute(sql, params)
            return cur.lastrowid

    async def fetch(self, sql: str, params: Any = None) -> Any:
        async with self.conn.cursor() as cur:
            await cur.execute(sql, params)
            return await cur.fetchall()

    async def reset(self) -> None:
        for sql in MYSQL_DDL:
            await self.execute(sql)

    async def seed_children(self) -> None:
        await self.conn.begin()
        async with self.conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO raw_bench_child (item_id, label, position) VALUES (%s, %s, %s)",
                self.child_rows(),
            )
        await self.conn.commit()

    insert_sql = (
        f"INSERT INTO raw_bench_item ({MY_COLUMNS}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )

    async def test_insert_single(self) -> int:
        self.single_ids = []
        for i in range(self.sizes.single):
            self.single_ids.append(await self.execute(self.insert_sql, tuple(row(i).values())))
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        await self.conn.begin()
        for i in range(base, base + self.sizes.tx):
            await self.execute(self.insert_sql, tuple(row(i).values()))
        await self.conn.commit()
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        rows = [tuple(row(i).values()) for i in range(base, base + self.sizes.bulk)]
        await self.conn.begin()
        async with self.conn.cursor() as cur:
            await cur.executemany(
                self.insert_sql, rows
            )  # aiomysql batches it into multi-row INSERTs
        await self.conn.commit()
        sql = "SELECT id FROM raw_bench_item ORDER BY id DESC LIMIT %s"
        self.bulk_ids = [r[0] for r in await self.fetch(sql, (len(rows),))][::-1]
        return len(rows)

    async def test_fetch_all(self) -> int:
        return len(await self.fetch(MY_ITEM_SELECT + " WHERE score >= %s", (0,)))

    async def test_fetch_limit(self) -> int:
        sql = MY_ITEM_SELECT + " WHERE flag AND score >= %s ORDER BY id LIMIT 20"
        n = 0
        for i in range(self.sizes.limit):
            n += len(await self.fetch(sql, (i % 500,)))
        return n

    async def test_get_pk(self) -> int:
        sql = MY_ITEM_SELECT + " WHERE id = %s"
        names = ("id", *COLUMNS)
        self.got = []
        for pk in self.sample_ids():
            (found,) = await self.fetch(sql, (pk,))
            self.got.append(dict(zip(names, found, strict=True)))
        return len(self.got)

    async def test_values_dicts(self) -> int:
        names = ("id", *COLUMNS)
        rows = await self.fetch(MY_ITEM_SELECT + " WHERE score >= %s", (0,))
        return len([dict(zip(names, r, strict=True)) for r in rows])

    async def test_values_tuples(self) -> int:
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM raw_bench_item WHERE score >= %s"
        return len([tuple(r) for r in await self.fetch(sql, (0,))])

    async def test_update_whole(self) -> int:
        sql = (
            "UPDATE raw_bench_item SET "
            + ", ".join(f"{_q(c)} = %s" for c in COLUMNS)
            + " WHERE id = %s"
        )
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            obj["name"] += "!"
            await self.execute(sql, (*(obj[c] for c in COLUMNS), obj["id"]))
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj["score"] += 1
            sql = "UPDATE raw_bench_item SET score = %s WHERE id = %s"
            await self.execute(sql, (obj["score"], obj["id"]))
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            await self.execute("DELETE FROM raw_bench_item WHERE id = %s", (pk,))
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        sql = (
            "SELECT c.id, c.item_id, c.label, c.position, i.* FROM raw_bench_child c "
            "JOIN raw_bench_item i ON i.id = c.item_id WHERE c.position >= %s"
        )
        return len(await self.fetch(sql, (0,)))

    async def test_prefetch_related(self) -> int:
        items = await self.fetch(MY_ITEM_SELECT + " WHERE id >= %s", (self.first_parent,))
        ids = [r[0] for r in items]
        sql = MY_CHILD_SELECT + f" WHERE item_id IN ({', '.join(['%s'] * len(ids))})"
        children = await self.fetch(sql, ids)
        grouped: dict[int, list[Any]] = {}
        for child in children:
            grouped.setdefault(child[1], []).append(child)
        return len(items) + len(children)
