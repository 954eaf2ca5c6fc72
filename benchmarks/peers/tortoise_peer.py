"""Tortoise ORM running the workload (tables ``tt_bench_*``).

Imported only when ``tortoise-orm`` is installed (the ``bench`` extra); the
harness reports the peer as skipped otherwise. Tortoise brings its own
drivers: asyncpg on PostgreSQL, aiosqlite on SQLite, asyncmy or aiomysql on
MariaDB/MySQL. Its ``bulk_create`` does not read back integer pks, so (3)
reads the new ids with one more query, as the raw SQLite and MariaDB floors do.
"""

from __future__ import annotations

from typing import Any

import tortoise
from sqlalchemy.engine import make_url
from tortoise import Tortoise, fields, models
from tortoise.backends.base import executor as tortoise_executor
from tortoise.transactions import in_transaction
from workload import LIST_COLUMNS, Implementation, Sizes, row


class TItem(models.Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, db_index=True)
    description = fields.TextField()
    flag = fields.BooleanField(default=False)
    created = fields.DatetimeField()
    amount = fields.DecimalField(max_digits=10, decimal_places=2)
    score = fields.IntField()
    rank = fields.IntField(null=True)
    ratio = fields.FloatField()
    category = fields.CharField(max_length=20)

    children: fields.ReverseRelation[TChild]

    class Meta:
        table = "tt_bench_item"


class TChild(models.Model):
    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[TItem] = fields.ForeignKeyField(
        "models.TItem", related_name="children", on_delete=fields.CASCADE
    )
    label = fields.CharField(max_length=50)
    position = fields.IntField()

    class Meta:
        table = "tt_bench_child"


VERSION = tortoise.__version__


def tortoise_url(sa_url: str) -> str:
    """Tortoise's URL for the SQLAlchemy URL the harness uses."""
    u = make_url(sa_url)
    if u.get_backend_name() == "sqlite":
        # Tortoise switches SQLite to WAL by default; the other implementations run with
        # SQLite's defaults (rollback journal), so Tortoise does too
        return f"sqlite://{u.database}?journal_mode=DELETE"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[u.get_backend_name()]
    auth = u.username or ""
    if u.password:
        auth += f":{u.password}"
    return f"{scheme}://{auth}@{u.host}:{u.port or ''}/{u.database}"


class TortoiseORM(Implementation):
    name = "Tortoise ORM"

    def __init__(self, sizes: Sizes, url: str) -> None:
        super().__init__(sizes)
        self.url = tortoise_url(url)

    async def open(self) -> None:
        # Tortoise keeps each model's INSERT SQL per process, keyed by connection name
        # and table but not by dialect: a run over several backends would send
        # PostgreSQL's ``$1`` placeholders to the next backend (MariaDB then fails)
        tortoise_executor.EXECUTOR_CACHE.clear()
        await Tortoise.init(db_url=self.url, modules={"models": [__name__]})

    async def _drop(self) -> None:
        conn = Tortoise.get_connection("default")
        for table in ("tt_bench_child", "tt_bench_item"):
            await conn.execute_script(f"DROP TABLE IF EXISTS {table}")

    async def close(self) -> None:
        try:
            await self._drop()
        finally:
            await Tortoise.close_connections()

    async def reset(self) -> None:
        await self._drop()
        await Tortoise.generate_schemas(safe=False)

    async def seed_children(self) -> None:
        await TChild.bulk_create(
            [TChild(item_id=p, label=lb, position=k) for p, lb, k in self.child_rows()]
        )

    async def test_insert_single(self) -> int:
        self.single_ids = []
        for i in range(self.sizes.single):
            obj = await TItem.create(**row(i))
            self.single_ids.append(obj.pk)
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        async with in_transaction():
            for i in range(base, base + self.sizes.tx):
                await TItem.create(**row(i))
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        objs = [TItem(**row(i)) for i in range(base, base + self.sizes.bulk)]
        await TItem.bulk_create(objs)
        ids = await TItem.all().order_by("-id").limit(len(objs)).values_list("id", flat=True)
        self.bulk_ids = list(ids)[::-1]
        return len(objs)

    async def test_fetch_all(self) -> int:
        return len(await TItem.filter(score__gte=0))

    async def test_fetch_limit(self) -> int:
        n = 0
        for i in range(self.sizes.limit):
            n += len(await TItem.filter(flag=True, score__gte=i % 500).order_by("id").limit(20))
        return n

    async def test_get_pk(self) -> int:
        self.got = [await TItem.get(pk=pk) for pk in self.sample_ids()]
        return len(self.got)

    async def test_values_dicts(self) -> int:
        return len(await TItem.filter(score__gte=0).values())

    async def test_values_tuples(self) -> int:
        return len(await TItem.filter(score__gte=0).values_list(*LIST_COLUMNS))

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
            await TItem.filter(pk=pk).delete()
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        children = await TChild.filter(position__gte=0).select_related("item")
        assert children and children[0].item is not None
        return len(children)

    async def test_prefetch_related(self) -> int:
        items: list[Any] = await TItem.filter(id__gte=self.first_parent).prefetch_related(
            "children"
        )
        return len(items) + sum(len(item.children) for item in items)
