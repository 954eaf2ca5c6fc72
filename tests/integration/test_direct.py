"""Reused statements run on the driver (``db/direct.py``): which statements take that
path on which backend, and that it behaves as SQLAlchemy's path does: values, errors,
disconnects, cancellation, listeners, transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

import flash_db
from flash_db import atomic
from flash_db.db import direct
from flash_db.exceptions import IntegrityError, OperationalError, ProgrammingError
from flash_db.query.executor import REUSED
from flash_db.testing import count_queries

from ..models import Author, Everything


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL of every statement run by a plan on the driver."""
    seen: list[str] = []
    real = direct.run

    async def counted(driver: Any, engine: Any, connection: Any, plan: Any, params: Any) -> Any:
        seen.append(plan.sql)
        return await real(driver, engine, connection, plan, params)

    monkeypatch.setattr(direct, "run", counted)
    yield seen


def _direct(backend: str) -> bool:
    """Whether the backend's driver has a direct path (asyncpg and aiosqlite do)."""
    return backend in ("sqlite", "postgresql")


def checked_out() -> int:
    return int(flash_db.connections["default"].engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_single_row_statements_take_the_driver_path(db: str, runs: list[str]) -> None:
    author = await Author.objects.create(name="Ann")
    got = await Author.objects.get(pk=author.pk)
    got.email = "ann@example.com"
    await got.save()
    await got.save(update_fields=["active"])
    assert flash_db.connections["default"].driver is not None or not _direct(db)
    if not _direct(db):
        # aiomysql opens its cursors through SQLAlchemy's greenlet: SQLAlchemy's path
        assert runs == []
        return
    kinds = [sql.split()[0] for sql in runs]
    assert kinds == ["INSERT", "SELECT", "UPDATE", "UPDATE"], runs
    again = await Author.objects.get(pk=author.pk)
    assert (again.name, again.email, again.active) == ("Ann", "ann@example.com", True)
    assert again.joined == author.joined


async def test_values_read_back_the_same_by_either_path(db: str) -> None:
    """Every field type, written and read by plans and by SQLAlchemy, reads the same."""
    database = flash_db.connections["default"]
    obj = await Everything.objects.create(
        ratio=0.5, amount=Decimal("1.250"), text="t", flag=False, data={"a": [1, 2]}, blob=b"x"
    )
    by_plan = await Everything.objects.get(pk=obj.pk)
    driver, database.driver = database.driver, None
    try:
        by_core = await Everything.objects.get(pk=obj.pk)
    finally:
        database.driver = driver
    names = [f.attname for f in Everything._meta.concrete_fields]
    assert [getattr(by_plan, n) for n in names] == [getattr(by_core, n) for n in names]
    assert by_plan.amount == Decimal("1.250") and by_plan.data == {"a": [1, 2]}


async def test_listeners_see_every_statement(db: str, runs: list[str]) -> None:
    """An execution listener (count_queries is one) sends statements through SQLAlchemy."""
    author = await Author.objects.create(name="Ann")
    runs.clear()
    async with count_queries() as log:
        await Author.objects.get(pk=author.pk)
        async with atomic():
            await Author.objects.create(name="Bob")
    assert log.count == 2, log.statements
    assert runs == []


async def test_unique_violation_is_a_flash_db_error(db: str, runs: list[str]) -> None:
    await Author.objects.create(name="Ann")
    with pytest.raises(IntegrityError) as info:
        await Author.objects.create(name="Ann")
    assert "\n" not in str(info.value) and "integrity error on 'default'" in str(info.value)
    assert info.value.driver_error is not None
    with pytest.raises(IntegrityError):
        async with atomic():
            await Author.objects.create(name="Bob")
            await Author.objects.create(name="Ann")
    assert await Author.objects.values_list("name", flat=True) == ["Ann"]
    assert checked_out() == 0
    if _direct(db):
        assert sum(sql.startswith("INSERT") for sql in runs) == 4


async def test_missing_table_error_names_the_fix(db: str) -> None:
    missing = sa.table("flash_no_such_table", sa.column("id", sa.Integer))
    stmt = (
        sa.select(missing.c.id)
        .where(missing.c.id == sa.bindparam("flash_pk_"))
        .execution_options(**{REUSED: True})
    )
    with pytest.raises(ProgrammingError, match="create_all"):
        await flash_db.connections.execute("default", stmt, {"flash_pk_": 1})
    assert checked_out() == 0


async def test_cancelled_statement_returns_the_connection(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    author = await Author.objects.create(name="Ann")
    database = flash_db.connections["default"]
    real = database.driver
    assert real is not None
    started = asyncio.Event()

    async def slow(*args: Any) -> Any:
        started.set()
        await asyncio.sleep(3600)
        return await real(*args)

    monkeypatch.setattr(database, "driver", slow)
    task = asyncio.create_task(Author.objects.get(pk=author.pk))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert checked_out() == 0
    monkeypatch.setattr(database, "driver", real)
    assert (await Author.objects.get(pk=author.pk)).name == "Ann"


async def terminate(backends: str) -> None:
    """``pg_terminate_backend`` of the ``backends`` (a condition on ``pg_stat_activity``),
    from a connection of its own; then a moment for asyncpg to read the server's goodbye
    (before it, asyncpg can report "another operation is in progress" instead, on
    SQLAlchemy's path too)."""
    url = flash_db.connections["default"].url.set(drivername="postgresql")
    killer = await asyncpg.connect(url.render_as_string(False))
    try:
        await killer.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {backends}"
        )
    finally:
        await killer.close()
    await asyncio.sleep(0.2)


async def test_a_dropped_connection_is_replaced(db: str) -> None:
    if db != "postgresql":
        pytest.skip("terminates a PostgreSQL backend")
    author = await Author.objects.create(name="Ann")
    try:
        # every pooled connection of the test database dies
        await terminate("datname = current_database() AND pid <> pg_backend_pid()")
        # the pooled connection is dead: one clear error, then a fresh connection
        with pytest.raises(OperationalError, match="database error on 'default'"):
            await Author.objects.get(pk=author.pk)
        assert (await Author.objects.get(pk=author.pk)).name == "Ann"
        assert checked_out() == 0
    finally:
        # the killed connections of the other aliases on this database still sit in
        # their pools (each is found dead on its first use); the next test starts fresh
        for each in flash_db.connections.databases.values():
            await each.engine.dispose()


async def test_a_connection_dropped_inside_atomic(db: str, runs: list[str]) -> None:
    if db != "postgresql":
        pytest.skip("terminates a PostgreSQL backend")
    with pytest.raises(OperationalError, match="on 'default'"):
        async with atomic() as conn:
            await Author.objects.create(name="lost")
            pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
            await terminate(f"pid = {int(pid)}")
            await Author.objects.create(name="after the drop")
    assert runs and runs[-1].startswith("INSERT")
    assert checked_out() == 0
    # nothing of the transaction was kept, and the next statements get a live connection
    assert await Author.objects.count() == 0
    assert (await Author.objects.create(name="Ann")).pk is not None


async def test_in_a_transaction_plans_use_its_connection(db: str, runs: list[str]) -> None:
    async with atomic():
        author = await Author.objects.create(name="Ann")
        author.email = "a@example.com"
        await author.save(update_fields=["email"])
        assert (await Author.objects.get(pk=author.pk)).email == "a@example.com"
        async with atomic():
            await Author.objects.create(name="Bob")
        with pytest.raises(IntegrityError):
            async with atomic():
                await Author.objects.create(name="Cy")
                await Author.objects.create(name="Ann")
    assert await Author.objects.order_by("name").values_list("name", flat=True) == ["Ann", "Bob"]
    if _direct(db):
        assert len(runs) == 6, runs


async def test_rolled_back_transaction_keeps_nothing(db: str) -> None:
    with pytest.raises(RuntimeError):
        async with atomic():
            await Author.objects.create(name="Ann")
            raise RuntimeError("boom")
    assert await Author.objects.count() == 0
    assert checked_out() == 0


async def test_no_plan_before_the_dialect_knows_the_server(tmp_path: Any) -> None:
    """With connect(check=False) nothing has connected yet: the first statement goes
    SQLAlchemy's way (which connects), plans are made from then on."""
    from flash_db.db.connections import ConnectionHandler

    handler = ConnectionHandler()
    await handler.connect(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}", check=False)
    try:
        database = handler["default"]
        table = Author._meta.table
        stmt = (
            sa.select(table.c.id)
            .where(table.c.id == sa.bindparam("flash_pk_"))
            .execution_options(**{REUSED: True})
        )
        assert database.plan(stmt, {"flash_pk_": 1}) is None
        await handler.create_all()
        assert (await handler.execute("default", stmt, {"flash_pk_": 1})).all() == []
        assert database.plan(stmt, {"flash_pk_": 1}) is not None
    finally:
        await handler.disconnect()
