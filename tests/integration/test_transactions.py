"""atomic(), savepoints, on_commit, isolation, cancellation and concurrency (api.md §5)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import flash_db
from flash_db import atomic, on_commit
from flash_db.exceptions import (
    ConfigurationError,
    DatabaseError,
    NotSupportedError,
    TransactionConflict,
)

from ..conftest import BACKENDS
from ..models import TxItem, TxKeyed

connections = flash_db.connections


def checked_out(alias: str = "default") -> int:
    return int(connections[alias].engine.pool.checkedout())  # type: ignore[attr-defined]


async def names() -> list[str]:
    return sorted(await TxItem.objects.values_list("name", flat=True))


# -- commit and rollback --------------------------------------------------------------------


async def test_commit_and_rollback_on_exception(db: str) -> None:
    async with atomic() as conn:
        assert connections.in_transaction("default")
        assert conn is not None
        await TxItem.objects.create(name="kept")
    assert not connections.in_transaction("default")

    with pytest.raises(RuntimeError, match="boom"):
        async with atomic():
            await TxItem.objects.create(name="lost")
            assert await names() == ["kept", "lost"]  # the task reads its own writes
            raise RuntimeError("boom")
    assert await names() == ["kept"]
    assert checked_out() == 0


async def test_autocommit_statements_send_no_rollback(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pool would roll back every connection it gets back: for one in autocommit
    # mode that is a wasted round trip (skip_autocommit_rollback); atomic() still rolls back
    engine = connections["default"].engine
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        adapter = type(raw.dbapi_connection)
    rollbacks: list[object] = []
    real = adapter.rollback

    def counted(self: Any) -> None:
        rollbacks.append(self)
        real(self)

    monkeypatch.setattr(adapter, "rollback", counted)
    await TxItem.objects.create(name="auto")
    assert await TxItem.objects.count() == 1
    assert rollbacks == []
    with pytest.raises(RuntimeError):
        async with atomic():
            await TxItem.objects.create(name="lost")
            raise RuntimeError
    assert len(rollbacks) >= 1
    assert await names() == ["auto"]
    assert checked_out() == 0


async def test_nested_savepoint_rollback_keeps_outer_work(db: str) -> None:
    async with atomic():
        await TxItem.objects.create(name="outer")
        with pytest.raises(RuntimeError):
            async with atomic():
                await TxItem.objects.create(name="inner")
                raise RuntimeError
        assert await names() == ["outer"]
        async with atomic():
            await TxItem.objects.create(name="inner-ok")
            async with atomic():
                await TxItem.objects.create(name="deepest")
        await TxItem.objects.create(name="after")
    assert await names() == ["after", "deepest", "inner-ok", "outer"]


async def test_outer_rollback_discards_released_savepoints(db: str) -> None:
    with pytest.raises(RuntimeError):
        async with atomic():
            async with atomic():
                await TxItem.objects.create(name="inner")
            raise RuntimeError
    assert await names() == []


async def test_decorator_form(db: str) -> None:
    @atomic()
    async def make(name: str, fail: bool = False) -> int:
        item = await TxItem.objects.create(name=name)
        assert connections.in_transaction("default")
        if fail:
            raise ValueError(name)
        return int(item.pk)

    pk = await make("a")
    assert isinstance(pk, int)
    with pytest.raises(ValueError):
        await make("b", fail=True)
    # one decorated function, used by several tasks at once: one transaction each
    await asyncio.gather(make("c"), make("d"), make("e"))
    assert await names() == ["a", "c", "d", "e"]
    assert make.__name__ == "make"
    assert checked_out() == 0


def test_decorator_refuses_sync_function() -> None:
    with pytest.raises(TypeError):

        @atomic()  # type: ignore[type-var]
        def sync() -> None:
            pass


# -- savepoint=False ------------------------------------------------------------------------


async def test_savepoint_false_joins_outer_transaction(db: str) -> None:
    async with atomic():
        await TxItem.objects.create(name="outer")
        async with atomic(savepoint=False) as conn:
            assert conn is not None
            await TxItem.objects.create(name="joined")
    assert await names() == ["joined", "outer"]

    # an error propagating out of the joined block rolls back everything
    with pytest.raises(RuntimeError):
        async with atomic():
            await TxItem.objects.create(name="x")
            async with atomic(savepoint=False):
                await TxItem.objects.create(name="y")
                raise RuntimeError
    assert await names() == ["joined", "outer"]


async def test_savepoint_false_caught_error_breaks_outer(db: str) -> None:
    """Catching the error of a joined block cannot save the transaction: it rolls back."""
    with pytest.raises(ConfigurationError, match="savepoint=False"):
        async with atomic():
            await TxItem.objects.create(name="outer")
            try:
                async with atomic(savepoint=False):
                    await TxItem.objects.create(name="inner")
                    raise RuntimeError
            except RuntimeError:
                pass
    assert await names() == []
    assert checked_out() == 0


async def test_savepoint_false_outermost_is_a_transaction(db: str) -> None:
    with pytest.raises(RuntimeError):
        async with atomic(savepoint=False):
            await TxItem.objects.create(name="x")
            raise RuntimeError
    assert await names() == []


# -- on_commit ------------------------------------------------------------------------------


async def test_on_commit_order_and_timing(db: str) -> None:
    log: list[Any] = []

    async def async_callback() -> None:
        # runs after the commit, outside the transaction: another connection sees the row
        assert not connections.in_transaction("default")
        log.append(("async", await TxItem.objects.count()))

    async with atomic():
        await TxItem.objects.create(name="a")
        on_commit(lambda: log.append(1))
        on_commit(async_callback)
        async with atomic():
            on_commit(lambda: log.append(2))
        async with atomic(savepoint=False):
            on_commit(lambda: log.append(3))
        assert log == []
    assert log == [1, ("async", 1), 2, 3]


async def test_on_commit_never_after_rollback(db: str) -> None:
    log: list[int] = []
    with pytest.raises(RuntimeError):
        async with atomic():
            on_commit(lambda: log.append(1))
            async with atomic():
                on_commit(lambda: log.append(2))
            raise RuntimeError
    assert log == []


async def test_on_commit_savepoint_rollback_drops_its_callbacks(db: str) -> None:
    log: list[str] = []
    async with atomic():
        on_commit(lambda: log.append("before"))
        with pytest.raises(RuntimeError):
            async with atomic():
                on_commit(lambda: log.append("inner"))
                async with atomic():
                    on_commit(lambda: log.append("innermost"))
                raise RuntimeError
        on_commit(lambda: log.append("after"))
    assert log == ["before", "after"]


async def test_on_commit_outside_atomic(db: str) -> None:
    log: list[str] = []
    on_commit(lambda: log.append("sync"))
    assert log == ["sync"]  # at once

    done = asyncio.Event()

    async def later() -> None:
        log.append("async")
        done.set()

    on_commit(later)
    await asyncio.wait_for(done.wait(), 5)
    assert log == ["sync", "async"]


# -- isolation levels and read-only transactions -----------------------------------------------


async def test_isolation_level_in_effect(db: str) -> None:
    if db == "sqlite":
        with pytest.raises(NotSupportedError):
            async with atomic(isolation="read committed"):
                pass
        async with atomic(isolation="serializable"):
            await TxItem.objects.create(name="s")
        assert await names() == ["s"]
        assert checked_out() == 0
        return
    query = "SHOW transaction_isolation" if db == "postgresql" else "SELECT @@tx_isolation"

    async def level(conn: Any) -> str:
        result = await conn.exec_driver_sql(query)
        return str(result.scalar()).lower().replace("-", " ")

    async with atomic(isolation="serializable") as conn:
        assert await level(conn) == "serializable"
        async with atomic() as nested:  # a savepoint keeps the level
            assert await level(nested) == "serializable"
    async with atomic(isolation="read committed") as conn:
        assert await level(conn) == "read committed"
    default = "read committed" if db == "postgresql" else "repeatable read"
    async with atomic() as conn:
        assert await level(conn) == default


async def test_isolation_only_on_outermost(db: str) -> None:
    with pytest.raises(ConfigurationError):
        async with atomic(isolation="bogus"):
            pass
    other = "read committed" if db != "sqlite" else "serializable"
    async with atomic():
        if db != "sqlite":
            with pytest.raises(ConfigurationError, match="outermost"):
                async with atomic(isolation="serializable"):
                    pass
        with pytest.raises(ConfigurationError, match="outermost"):
            async with atomic(read_only=True):
                pass
        # the same level as the outer block is accepted
        if db == "postgresql":
            async with atomic(isolation=other):
                pass
    assert checked_out() == 0


async def test_read_only_refuses_writes(db: str) -> None:
    await TxItem.objects.create(name="existing")
    with pytest.raises(DatabaseError):
        async with atomic(read_only=True):
            assert await names() == ["existing"]  # reads are fine
            await TxItem.objects.create(name="refused")
    assert await names() == ["existing"]
    assert checked_out() == 0
    # no pooled connection stays read-only afterwards
    await asyncio.gather(*(TxItem.objects.create(name=f"w{i}") for i in range(8)))
    async with atomic():
        await TxItem.objects.create(name="in-tx")
    assert len(await names()) == 10


# -- cancellation ---------------------------------------------------------------------------


async def test_cancelled_transaction_rolls_back_and_returns_connection(db: str) -> None:
    inserted = asyncio.Event()

    async def victim() -> None:
        async with atomic():
            await TxItem.objects.create(name="cancelled")
            inserted.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(victim())
    await asyncio.wait_for(inserted.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert checked_out() == 0
    counts = await asyncio.wait_for(
        asyncio.gather(*(TxItem.objects.count() for _ in range(50))), 10
    )
    assert counts == [0] * 50
    assert not await TxItem.objects.filter(name="cancelled").exists()
    assert checked_out() == 0


async def test_cancelled_during_a_statement(db: str) -> None:
    """Cancelled while the server runs a statement of the transaction."""
    if db == "sqlite":
        pytest.skip("no server-side sleep on SQLite")
    sleep = "SELECT pg_sleep(5)" if db == "postgresql" else "SELECT SLEEP(5)"
    inserted = asyncio.Event()

    async def victim() -> None:
        async with atomic() as conn:
            await TxItem.objects.create(name="cancelled")
            inserted.set()
            await conn.exec_driver_sql(sleep)

    task = asyncio.create_task(victim())
    await asyncio.wait_for(inserted.wait(), 10)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert checked_out() == 0
    counts = await asyncio.wait_for(
        asyncio.gather(*(TxItem.objects.count() for _ in range(50))), 10
    )
    assert counts == [0] * 50
    assert checked_out() == 0


# -- concurrent tasks -----------------------------------------------------------------------


async def test_concurrent_transactions_do_not_see_each_other(db: str) -> None:
    a_written = asyncio.Event()
    b_done = asyncio.Event()
    seen: dict[str, list[str]] = {}

    async def writer_a() -> None:
        try:
            async with atomic():
                await TxItem.objects.create(name="a")
                a_written.set()
                await asyncio.wait_for(b_done.wait(), 10)
                seen["a"] = await names()
        finally:
            a_written.set()

    async def other_b() -> None:
        try:
            await asyncio.wait_for(a_written.wait(), 10)
            if db == "sqlite":
                # one writer at a time on SQLite: read outside a transaction
                seen["b"] = await names()
            else:
                async with atomic():
                    await TxItem.objects.create(name="b")
                    seen["b"] = await names()
        finally:
            b_done.set()

    await asyncio.wait_for(asyncio.gather(writer_a(), other_b()), 20)
    if db == "sqlite":
        assert seen == {"a": ["a"], "b": []}
        assert await names() == ["a"]
    else:
        assert seen == {"a": ["a", "b"], "b": ["b"]}  # a reads after b committed
        assert await names() == ["a", "b"]


async def test_spawned_task_does_not_share_the_transaction(db: str) -> None:
    async def child() -> tuple[bool, int]:
        return connections.in_transaction("default"), await TxItem.objects.count()

    async with atomic():
        await TxItem.objects.create(name="parent")
        assert connections.in_transaction("default")
        in_tx, count = await asyncio.create_task(child())
        assert in_tx is False
        assert count == 0  # another connection: the uncommitted row is invisible
        assert await TxItem.objects.count() == 1
    assert await asyncio.create_task(child()) == (False, 1)


class _ReadsElsewhere:
    """Sends reads of TxItem to 'other', writes to the model's own database."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return "other" if model is TxItem else None


async def test_reads_inside_atomic_go_to_the_write_database(db: str) -> None:
    saved = connections.routers
    connections.routers = [_ReadsElsewhere()]
    try:
        async with atomic():
            await TxItem.objects.create(name="mine")
            assert connections.db_for_read(TxItem, None) == "default"
            assert await names() == ["mine"]  # read your writes
        assert connections.db_for_read(TxItem, None) == "other"
        assert await TxItem.objects.using("default").count() == 1
    finally:
        connections.routers = saved


async def test_concurrent_get_or_create_makes_one_row(db: str) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(
            *(TxKeyed.objects.get_or_create(key="k", defaults={"value": i}) for i in range(20))
        ),
        30,
    )
    assert sum(created for _, created in results) == 1
    assert len({obj.pk for obj, _ in results}) == 1
    assert await TxKeyed.objects.count() == 1
    assert checked_out() == 0


async def test_concurrent_update_or_create_makes_one_row(db: str) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(
            *(TxKeyed.objects.update_or_create(key="k", defaults={"value": i}) for i in range(20))
        ),
        30,
    )
    assert sum(created for _, created in results) == 1
    assert len({obj.pk for obj, _ in results}) == 1
    row = await TxKeyed.objects.get(key="k")
    assert row.value in range(20)
    assert await TxKeyed.objects.count() == 1
    assert checked_out() == 0


async def test_write_skew_raises_transaction_conflict(db: str) -> None:
    """Two serializable transactions that read, then write what the other read."""
    if db == "sqlite":
        pytest.skip("SQLite serializes writers: no write skew to detect")
    barrier = asyncio.Barrier(2)

    async def book(name: str) -> None:
        async with atomic(isolation="serializable"):
            taken = await TxItem.objects.count()
            await barrier.wait()
            if taken == 0:
                await TxItem.objects.create(name=name)

    results = await asyncio.wait_for(
        asyncio.gather(book("a"), book("b"), return_exceptions=True), 30
    )
    conflicts = [r for r in results if isinstance(r, TransactionConflict)]
    assert len(conflicts) == 1, results
    assert results.count(None) == 1
    assert await TxItem.objects.count() == 1
    assert checked_out() == 0


async def test_select_for_update_serializes_increments(db: str) -> None:
    row = await TxKeyed.objects.create(key="counter", value=0)

    async def increment() -> None:
        async with atomic():
            locked = await TxKeyed.objects.select_for_update().get(pk=row.pk)
            await asyncio.sleep(0)
            locked.value += 1
            await locked.save()

    await asyncio.wait_for(asyncio.gather(*(increment() for _ in range(10))), 30)
    assert (await TxKeyed.objects.get(pk=row.pk)).value == 10


# -- load (PostgreSQL) ----------------------------------------------------------------------


async def test_load_1000_concurrent_transactions(db: str) -> None:
    if db != "postgresql":
        pytest.skip("load test runs on PostgreSQL")
    default, other = BACKENDS["postgresql"]
    committed: list[int] = []

    async def one(i: int) -> None:
        async with atomic():
            await TxItem.objects.create(name=f"load-{i}")
            on_commit(lambda: committed.append(i))

    await flash_db.disconnect()
    try:
        await flash_db.connect(
            databases={"default": default, "other": other}, pool_size=10, max_overflow=0
        )
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(1000))), 120)
        assert checked_out() == 0
        assert connections["default"].engine.pool.size() == 10  # type: ignore[attr-defined]
    finally:
        await flash_db.disconnect()
        await flash_db.connect(databases={"default": default, "other": other})
    assert sorted(committed) == list(range(1000))
    assert await TxItem.objects.count() == 1000
    assert len(set(await TxItem.objects.values_list("name", flat=True))) == 1000
