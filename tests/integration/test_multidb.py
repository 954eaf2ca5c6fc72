"""Several named databases: Meta.database, using(), save(using=), routers (api.md §1, §8)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import flash_db
from flash_db import connections

from ..models import Author, Event


async def rows_on(alias: str, table: str) -> int:
    async with connections[alias].engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


async def test_meta_database_routes_reads_and_writes(db: str) -> None:
    event = await Event.objects.create(title="launch")
    assert event._db == "other"
    assert await rows_on("other", "events") == 1
    assert (await Event.objects.get(pk=event.pk)).title == "launch"
    event.title = "relaunch"
    await event.save()
    assert await Event.objects.filter(title="relaunch").count() == 1


async def test_using_and_save_using(db: str) -> None:
    if db == "sqlite":
        # On SQLite 'other' is a separate file: create the authors table there too.
        async with connections["other"].engine.connect() as conn:
            await conn.run_sync(flash_db.metadata.create_all, tables=[Author.__table__])
    try:
        a = Author(name="Archived")
        await a.save(using="other")
        assert a._db == "other"
        assert await Author.objects.using("other").filter(name="Archived").exists()
        if db == "sqlite":
            assert await Author.objects.count() == 0
            # a saved instance keeps writing to the database it came from
            a.email = "x@y"
            await a.save()
            fetched = await Author.objects.using("other").get(name="Archived")
            assert fetched.email == "x@y" and fetched._db == "other"
    finally:
        await Author.objects.using("other").delete()
        if db == "sqlite":
            async with connections["other"].engine.connect() as conn:
                await conn.run_sync(flash_db.metadata.drop_all, tables=[Author.__table__])


class ReplicaRouter:
    """Reads of Author go to 'other'; writes stay on 'default'."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        self.calls.append(("read", model.__name__))
        return "other" if model is Author else None


async def test_router_is_asked_when_the_query_runs(db: str) -> None:
    router = ReplicaRouter()
    connections.routers = [router]
    try:
        qs = Author.objects.filter(name="x")
        assert router.calls == []  # building a query routes nothing
        assert connections.db_for_read(Author, None) == "other"
        assert connections.db_for_write(Author, None) == "default"
        assert connections.db_for_read(Event, None) == "other"  # router abstains -> Meta.database
        assert connections.db_for_read(Author, "default") == "default"  # using() wins
        del qs
    finally:
        connections.routers = []


async def test_create_all_only_creates_tables_where_they_belong(db: str) -> None:
    default_tables = {t.name for t in connections.tables_for("default")}
    other_tables = {t.name for t in connections.tables_for("other")}
    assert "events" in other_tables and "events" not in default_tables
    assert "authors" in default_tables and "authors" not in other_tables


async def test_statement_compiled_per_dialect(db: str) -> None:
    qs = Author.objects.filter(name__contains="a")
    sql = qs.sql()
    if db == "mysql":
        assert "BINARY" in sql
    else:
        assert "BINARY" not in sql
