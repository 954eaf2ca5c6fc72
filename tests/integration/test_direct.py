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
    """Whether the backend's driver has a direct path (asyncpg, aiosqlite, aiomysql)."""
    return backend in ("sqlite", "postgresql", "mysql")


def checked_out() -> int:
    return int(flash_db.connections["default"].engine.pool.checkedout())  # type: ignore[attr-defined]


def _author_id_by_pk() -> Any:
    """``SELECT id FROM authors WHERE id = :flash_pk_``, marked as a reused statement."""
    table = Author._meta.table
    return (
        sa.select(table.c.id)
        .where(table.c.id == sa.bindparam("flash_pk_"))
        .execution_options(**{REUSED: True})
    )


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
        # the pool saw the server close its idle connection and replaces it at checkout
        # (db._liveness): the next statement just works, on the driver path too
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
    if _direct(db):
        assert len(runs) == 6, runs
    assert await Author.objects.order_by("name").values_list("name", flat=True) == ["Ann", "Bob"]


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
        stmt = _author_id_by_pk()
        assert database.plan(stmt, {"flash_pk_": 1}) is None
        await handler.create_all()
        assert (await handler.execute("default", stmt, {"flash_pk_": 1})).all() == []
        assert database.plan(stmt, {"flash_pk_": 1}) is not None
    finally:
        await handler.disconnect()


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The functions run in SQLAlchemy's greenlet by the driver path."""
    seen: list[str] = []
    real = direct.greenlet_spawn

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(direct, "greenlet_spawn", counted)
    yield seen


async def test_an_idle_pooled_connection_needs_no_greenlet(db: str, spawns: list[str]) -> None:
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    author = await Author.objects.create(name="Ann")
    pool = flash_db.connections["default"].engine.pool
    assert direct.leasable(pool) is not None
    spawns.clear()
    for _ in range(5):
        assert (await Author.objects.get(pk=author.pk)).name == "Ann"
    assert spawns == []
    assert checked_out() == 0
    # errors on that path: one translated error, the connection back in the pool
    with pytest.raises(IntegrityError):
        await Author.objects.create(name="Ann")
    assert spawns == ["_failed_and_closed"]
    assert checked_out() == 0 and direct.leasable(pool) is not None


async def _own_handler(backend: str, tmp_path: Any, **engine_options: Any) -> Any:
    """A ConnectionHandler of its own on the test database (with tables for Author)."""
    from flash_db.db.connections import ConnectionHandler

    from ..conftest import BACKENDS

    url = BACKENDS[backend][0] if backend != "sqlite" else f"sqlite+aiosqlite:///{tmp_path}/own.db"
    handler = ConnectionHandler()
    await handler.connect(url, **engine_options)
    if backend == "sqlite":
        await handler.create_all()
    return handler


def _driver_connection_closed(dbapi_connection: Any) -> bool:
    """Whether SQLAlchemy's adapted connection has closed its driver connection."""
    inner = dbapi_connection._connection
    if hasattr(inner, "is_closed"):  # asyncpg
        return bool(inner.is_closed())
    if hasattr(inner, "closed"):  # aiomysql
        return bool(inner.closed)
    return inner._connection is None  # aiosqlite: its sqlite3 connection is gone


async def test_a_connection_due_for_recycling_is_replaced_in_the_greenlet(
    db: str, tmp_path: Any, spawns: list[str]
) -> None:
    """A connection past ``pool_recycle`` is closed and replaced by SQLAlchemy (in the
    greenlet, where closing and connecting can await), never handed out as idle."""
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    handler = await _own_handler(db, tmp_path, pool_recycle=3600)
    try:
        table = Author._meta.table
        stmt = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.id != sa.bindparam("flash_pk_"))
            .execution_options(**{REUSED: True})
        )
        await handler.execute("default", stmt, {"flash_pk_": 0})
        pool = handler["default"].engine.pool
        assert direct.leasable(pool) is not None
        (record,) = pool._pool._queue._queue
        old = record.dbapi_connection
        record.starttime -= 7200  # two hours old
        assert direct.leasable(pool) is None
        spawns.clear()
        assert (await handler.execute("default", stmt, {"flash_pk_": 0})).scalar() == 0
        assert spawns == ["_on_pooled"]
        assert record.dbapi_connection is not old and _driver_connection_closed(old)
        assert direct.leasable(pool) is not None
    finally:
        await handler.disconnect()


async def test_pool_listeners_and_pre_ping_keep_the_greenlet(
    db: str, tmp_path: Any, spawns: list[str]
) -> None:
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    handler = await _own_handler(db, tmp_path, pool_pre_ping=True)
    try:
        pool = handler["default"].engine.pool
        assert direct.leasable(pool) is None  # a ping is a round trip
        await handler.disconnect()
        handler = await _own_handler(db, tmp_path)
        pool = handler["default"].engine.pool
        assert direct.leasable(pool) is not None
        checkouts: list[object] = []
        sa.event.listen(pool, "checkout", lambda *args: checkouts.append(args))
        assert direct.leasable(pool) is None
        stmt = _author_id_by_pk()
        spawns.clear()
        assert (await handler.execute("default", stmt, {"flash_pk_": 0})).all() == []
        assert len(checkouts) == 1 and spawns == ["_on_pooled"]
    finally:
        await handler.disconnect()


async def test_overflow_connections_are_closed_in_the_greenlet(db: str, tmp_path: Any) -> None:
    """Concurrent statements on a pool of one: the first takes the idle connection, the
    others open overflow ones; those SQLAlchemy closes when they come back (full queue),
    which awaits the driver, so their checkin goes through the greenlet."""
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    handler = await _own_handler(db, tmp_path, pool_size=1, max_overflow=3)
    try:
        database = handler["default"]
        pool = database.engine.pool
        real = database.driver
        assert real is not None
        opened: list[Any] = []

        async def slow(dbapi_connection: Any, *args: Any) -> Any:
            opened.append(dbapi_connection)
            await asyncio.sleep(0.05)
            return await real(dbapi_connection, *args)

        database.driver = slow
        stmt = _author_id_by_pk()
        results = await asyncio.gather(
            *(handler.execute("default", stmt, {"flash_pk_": n}) for n in range(4))
        )
        assert [r.all() for r in results] == [[]] * 4
        assert len({id(c) for c in opened}) == 4
        assert pool.checkedout() == 0 and pool.checkedin() == 1
        kept = pool._pool._queue._queue[0].dbapi_connection
        assert sum(not _driver_connection_closed(c) for c in opened) == 1
        assert not _driver_connection_closed(kept)
    finally:
        await handler.disconnect()


async def test_queryset_selects_run_by_plans_of_the_compiled_cache(
    db: str, runs: list[str]
) -> None:
    """SELECTs built per call (filters, ordering, slices, count, exists, select_related)
    run on the driver by a plan kept per compiled form, and read the same as by
    SQLAlchemy's path; IN lists, expanded per call, stay on SQLAlchemy's path except
    on PostgreSQL, where they are one array."""
    from ..models import RelAuthor, RelBook

    ann = await RelAuthor.objects.create(name="Ann")
    for i in range(5):
        await RelBook.objects.create(title=f"B{i}", author=ann, price=Decimal(i))
    runs.clear()

    async def read() -> list[object]:
        return [
            [
                (b.title, b.price)
                for b in await RelBook.objects.filter(price__gte=1).order_by("-title")[:3]
            ],
            await RelBook.objects.filter(title__startswith="B").count(),
            await RelBook.objects.filter(title="B9").exists(),
            [
                (b.title, b.author.name)
                for b in await RelBook.objects.select_related("author").order_by("id")
            ],
            await RelBook.objects.filter(price__lt=3).values_list("title", flat=True),
            await RelBook.objects.values("title", "price").order_by("price")[1:2],
            [b.title for b in await RelBook.objects.filter(title__in=["B1", "B3"]).order_by("id")],
        ]

    by_plans = await read()
    if _direct(db):
        selects = [sql for sql in runs if sql.startswith("SELECT")]
        if db == "postgresql":  # the IN list is one array parameter there
            assert len(selects) == 7 and "= ANY (" in selects[-1], runs
        else:  # an IN list is expanded per call: SQLAlchemy's path
            assert len(selects) == 6 and not any(" IN " in sql for sql in selects), runs
    else:
        assert runs == []
    database = flash_db.connections["default"]
    driver, database.driver = database.driver, None
    try:
        by_core = await read()
    finally:
        database.driver = driver
    assert by_plans == by_core
    assert by_plans[0] == [
        ("B4", Decimal("4.00")),
        ("B3", Decimal("3.00")),
        ("B2", Decimal("2.00")),
    ]
    assert by_plans[1:3] == [5, False]
    assert checked_out() == 0


async def test_compiled_plans_go_with_the_compiled_cache(db: str, tmp_path: Any) -> None:
    """A plan lives as long as SQLAlchemy's compiled cache keeps the compiled form; with
    the cache disabled (query_cache_size=0) every SELECT goes SQLAlchemy's way."""
    import gc

    if not _direct(db):
        pytest.skip("no direct path on this driver")
    table = Author._meta.table

    def stmt(n: int) -> Any:
        return (
            sa.select(table.c.id)
            .where(table.c.id > n)
            .limit(n + 1)
            .execution_options(flash_db_reads_rows=True)
        )

    handler = await _own_handler(db, tmp_path, query_cache_size=2)
    try:
        database = handler["default"]
        for n in range(3):
            assert (await handler.execute("default", stmt(n))).all() == []
        assert len(database.compiled_plans) == 1  # one shape: one compiled form
        shapes = [stmt(1).order_by(c) for c in table.c] + [
            stmt(1).where(c.is_(None)) for c in table.c
        ]
        for shape in shapes:
            assert (await handler.execute("default", shape)).all() == []
        gc.collect()
        # SQLAlchemy's LRU cache holds at most 2 + 50% before it prunes: so do the plans
        assert len(shapes) == 10 and len(database.compiled_plans) <= 3
    finally:
        await handler.disconnect()
    handler = await _own_handler(db, tmp_path, query_cache_size=0)
    try:
        result = await handler.execute("default", stmt(0))
        assert type(result) is not direct.DriverResult and result.all() == []
        assert len(handler["default"].compiled_plans) == 0
    finally:
        await handler.disconnect()


async def test_a_value_the_column_type_refuses_fails_the_same_both_ways(db: str) -> None:
    """A bind processor (or the driver) refusing a value raises what SQLAlchemy's path
    raises, and nothing is sent."""
    table = Author._meta.table
    stmt = (
        sa.select(table.c.id)
        .where(table.c.joined == "not a datetime")
        .execution_options(flash_db_reads_rows=True)
    )
    database = flash_db.connections["default"]
    outcomes: list[object] = []
    for driver in (database.driver, None):
        saved, database.driver = database.driver, driver
        try:
            outcomes.append((await flash_db.connections.execute("default", stmt)).all())
        except Exception as error:
            outcomes.append(type(error))
        finally:
            database.driver = saved
    assert outcomes[0] == outcomes[1], outcomes
    if db != "mysql":  # MariaDB compares the text with the datetime and finds nothing
        assert isinstance(outcomes[0], type) and issubclass(outcomes[0], Exception)
    assert checked_out() == 0


@pytest.mark.parametrize("lifo", [False, True], ids=["fifo", "lifo"])
async def test_a_lease_is_the_connection_the_pool_would_hand_out(
    db: str, tmp_path: Any, lifo: bool
) -> None:
    """The driver path leases the idle connection ``pool.connect()`` would give (the
    queue's head, or its tail with ``pool_use_lifo``); while leased it counts as
    checked out, and it goes back to the same place."""
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    handler = await _own_handler(db, tmp_path, pool_use_lifo=lifo)
    try:
        database = handler["default"]
        pool = database.engine.pool
        real = database.driver
        assert real is not None
        stmt = _author_id_by_pk()
        # two idle connections: two statements at once open one each
        seen: list[Any] = []
        checked_out_during: list[int] = []
        both = asyncio.Barrier(2)

        async def slow(dbapi_connection: Any, *args: Any) -> Any:
            seen.append(dbapi_connection)
            checked_out_during.append(pool.checkedout())
            return await real(dbapi_connection, *args)

        async def together(dbapi_connection: Any, *args: Any) -> Any:
            await both.wait()
            return await slow(dbapi_connection, *args)

        database.driver = together
        await asyncio.gather(*(handler.execute("default", stmt, {"flash_pk_": n}) for n in (1, 2)))
        assert pool.checkedin() == 2 and pool.checkedout() == 0
        assert checked_out_during == [2, 2]
        database.driver = slow
        for _ in range(3):
            record = direct.leasable(pool)
            assert record is not None
            fairy = pool.connect()  # what SQLAlchemy itself hands out next
            assert fairy._connection_record is record
            fairy.close()  # back into the queue: FIFO now hands out the other one
            record = direct.leasable(pool)
            assert record is not None
            seen.clear()
            checked_out_during.clear()
            await handler.execute("default", stmt, {"flash_pk_": 1})
            assert seen == [record.dbapi_connection] and checked_out_during == [1]
            assert pool.checkedout() == 0 and pool.checkedin() == 2
            assert record.fairy_ref is None  # checked in, as far as SQLAlchemy knows
            # it went back where SQLAlchemy puts a connection: the next out with LIFO
            assert (direct.leasable(pool) is record) is lifo
    finally:
        await handler.disconnect()


async def test_a_leased_connection_lost_with_its_task_is_left_to_sqlalchemy(
    db: str, tmp_path: Any
) -> None:
    """A statement cancelled mid-flight makes its leased connection a SQLAlchemy fairy
    before anything awaits, which is invalidated and checked in: the pool keeps its size."""
    if not _direct(db):
        pytest.skip("no direct path on this driver")
    handler = await _own_handler(db, tmp_path, pool_size=1, max_overflow=0)
    try:
        database = handler["default"]
        pool = database.engine.pool
        real = database.driver
        assert real is not None
        stmt = _author_id_by_pk()
        await handler.execute("default", stmt, {"flash_pk_": 1})
        record = direct.leasable(pool)
        assert record is not None
        started = asyncio.Event()

        async def hangs(dbapi_connection: Any, *args: Any) -> Any:
            started.set()
            await asyncio.sleep(30)
            return await real(dbapi_connection, *args)

        database.driver = hangs
        task = asyncio.create_task(handler.execute("default", stmt, {"flash_pk_": 1}))
        await started.wait()
        assert pool.checkedout() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.checkedout() == 0 and pool.checkedin() == 1
        database.driver = real
        assert (await handler.execute("default", stmt, {"flash_pk_": 1})).all() == []
    finally:
        await handler.disconnect()
