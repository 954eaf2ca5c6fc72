"""No acknowledged write is lost to a cancelled task (issue 16).

A web framework cancels a request's task when its client goes away; ``asyncio.timeout()``
cancels too. Whatever await point the cancellation lands on — the pool checkout, the
lazy BEGIN, a statement, a savepoint, COMMIT, ROLLBACK, an ``on_commit`` callback — a
write that returned is durable, a transaction that raised ``CancelledError`` committed
wholly (and its callbacks ran) or not at all, and the connection goes back to the pool
clean or is discarded. Every check reads the rows back through a *new* connection pool:
a connection left inside a transaction shows its own uncommitted rows to the old one.

Each test runs on every backend and on both execution paths: flash_db's direct driver
path and SQLAlchemy's own ``Connection.execute`` (``Database.driver = None``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import flash_db
from flash_db import atomic, on_commit
from flash_db.db import transaction

from ..conftest import BACKENDS
from ..models import CancelRow

connections = flash_db.connections


@pytest.fixture(params=["driver", "sqlalchemy"])
def path(request: pytest.FixtureRequest, db: str) -> Iterator[str]:
    """The execution path under test: flash_db's driver path, or SQLAlchemy's."""
    yield request.param


@asynccontextmanager
async def pool(backend: str, path: str, **options: Any) -> AsyncIterator[None]:
    """Connect anew with engine ``options`` on ``path``; the suite's connection after."""
    default, other = BACKENDS[backend]
    await flash_db.connect(databases={"default": default, "other": other}, **options)
    try:
        database = connections["default"]
        assert database.driver is not None, "every backend of the suite has a driver path"
        if path == "sqlalchemy":
            database.driver = None
        yield
    finally:
        await flash_db.connect(databases={"default": default, "other": other})


async def open_transactions(backend: str) -> int:
    """Sessions of the test database still inside a transaction, seen from outside
    flash_db's pool (run while that pool is still open)."""
    url = BACKENDS[backend][0]
    if backend == "sqlite":
        # SQLite has no session list: a session left in a transaction (or a statement
        # left unfinished) holds a lock on the database, so another connection cannot
        # take the exclusive one.
        raw = sqlite3.connect(url.split("///", 1)[1], timeout=0)
        try:
            raw.execute("BEGIN EXCLUSIVE")
            raw.rollback()
            return 0
        except sqlite3.OperationalError:
            return 1
        finally:
            raw.close()
    query = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
        "mysql": "SELECT COUNT(*) FROM information_schema.innodb_trx t"
        " JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id"
        " WHERE p.db = DATABASE() AND p.id <> CONNECTION_ID()",
    }[backend]
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text(query))).scalar_one())
    finally:
        await engine.dispose()


async def durable_tags(backend: str) -> list[str]:
    """Every row's tag, read through a new connection pool."""
    default, other = BACKENDS[backend]
    await flash_db.connect(databases={"default": default, "other": other})
    return list(await CancelRow.objects.values_list("tag", flat=True))


def after_turns(turns: int, callback: Callable[..., None], *args: Any) -> None:
    """Call ``callback(*args)`` after ``turns`` turns of the event loop (0: the next)."""
    loop = asyncio.get_running_loop()

    def step(left: int) -> None:
        if left <= 0:
            callback(*args)
        else:
            loop.call_soon(step, left - 1)

    loop.call_soon(step, turns)


def cancel(task: asyncio.Task[Any]) -> None:
    if not task.done():
        task.cancel()


@dataclass
class Ledger:
    """What the application was told: writes acknowledged, callbacks run, errors seen."""

    acked: set[str] = field(default_factory=set)
    callbacks: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    #: group name -> whether its savepoint was rolled back on purpose
    groups: dict[str, bool] = field(default_factory=dict)


class _Rollback(Exception):
    """Raised inside a savepoint to roll it back on purpose."""


async def group(ledger: Ledger, name: str, *, fail_savepoint: bool) -> None:
    """An atomic() group of three writes, the middle one in a savepoint, with one sync
    and one async on_commit callback."""
    ledger.groups[name] = fail_savepoint

    async def committed() -> None:
        await asyncio.sleep(0)  # an await point inside the callback
        ledger.callbacks.append(name)

    async with atomic():
        await CancelRow.objects.create(tag=f"{name}:a")
        try:
            async with atomic():
                await CancelRow.objects.create(tag=f"{name}:b")
                on_commit(lambda: ledger.callbacks.append(f"{name}:b"))
                if fail_savepoint:
                    raise _Rollback
        except _Rollback:
            pass
        await CancelRow.objects.create(tag=f"{name}:c")
        on_commit(committed)
    ledger.acked.add(name)


async def plain(ledger: Ledger, name: str) -> None:
    await CancelRow.objects.create(tag=name)
    ledger.acked.add(name)


def verify(ledger: Ledger, tags: list[str]) -> None:
    """The invariants, on the rows a new pool reads."""
    assert len(tags) == len(set(tags)), "a write was stored twice"
    present = set(tags)
    missing = sorted(
        name for name in ledger.acked if name not in ledger.groups and name not in present
    )
    assert not missing, f"acknowledged writes lost: {missing[:10]} ({len(missing)})"
    callbacks = set(ledger.callbacks)
    assert len(callbacks) == len(ledger.callbacks), "an on_commit callback ran twice"
    for name, fail_savepoint in ledger.groups.items():
        parts = {tag.rsplit(":", 1)[1] for tag in present if tag.rsplit(":", 1)[0] == name}
        whole = {"a", "c"} if fail_savepoint else {"a", "b", "c"}
        if name in ledger.acked:
            assert parts == whole, f"acknowledged group {name} stored {sorted(parts)}"
        assert parts in (set(), whole), f"partial group {name}: {sorted(parts)}"
        assert (name in callbacks) == bool(parts), (
            f"group {name}: committed={bool(parts)} but on_commit ran={name in callbacks}"
        )
        assert (f"{name}:b" in callbacks) == ("b" in parts), f"group {name}: savepoint callback"


async def storm(ledger: Ledger, seed: int, tasks: int, wave: int) -> None:
    """``tasks`` jobs (groups and plain writes), most cancelled after a random number of
    event-loop turns, some twice; ``wave`` run at a time."""
    rng = random.Random(seed)
    for start in range(0, tasks, wave):
        running = []
        for i in range(start, min(start + wave, tasks)):
            if rng.random() < 0.6:
                job = group(ledger, f"s{seed}g{i}", fail_savepoint=rng.random() < 0.3)
            else:
                job = plain(ledger, f"s{seed}p{i}")
            task = asyncio.create_task(job)
            if rng.random() < 0.85:
                after_turns(rng.randrange(0, 60), cancel, task)
                if rng.random() < 0.2:  # cancelled again, e.g. while it rolls back
                    after_turns(rng.randrange(0, 80), cancel, task)
            running.append(task)
        done, pending = await asyncio.wait(running, timeout=10)
        assert not pending, f"{len(pending)} tasks still running 10 s after their wave"
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                ledger.errors.append(task.exception())  # type: ignore[arg-type]


def never_retrieved(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()  # asyncio reports an unretrieved exception when its future is collected
    return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]


# -- the report's repro ------------------------------------------------------------------


async def test_cancelled_lazy_begin_loses_no_later_write(db: str, path: str) -> None:
    """A task cancelled while atomic() starts its transaction left the only pooled
    connection inside a BEGIN nobody tracked: every later write returned normally and
    vanished (the driver path on PostgreSQL)."""
    async with pool(db, path, pool_size=1, max_overflow=0):

        async def job() -> None:
            me = asyncio.current_task()
            assert me is not None
            async with atomic():
                asyncio.get_running_loop().call_soon(me.cancel)  # lands in the lazy BEGIN
                await CancelRow.objects.create(tag="cancelled")

        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(job())
        async with atomic():
            await CancelRow.objects.create(tag="atomic-ok")
        await CancelRow.objects.create(tag="autocommit-ok")
        assert await CancelRow.objects.count() == 2
        assert await open_transactions(db) == 0
        assert connections["default"].engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert sorted(await durable_tags(db)) == ["atomic-ok", "autocommit-ok"]


# -- a cancellation at each await point in turn -------------------------------------------


async def test_cancellation_at_each_await_point(
    db: str, path: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same group cancelled after 0, 1, 2 … event-loop turns, then after a delay
    growing in small steps (while the loop waits on I/O it turns only as events come)
    to past the group's run time, so that the cancellation lands on every await point
    of the group in turn; the phases reached show that checkout, statements, the
    savepoint, its release, COMMIT and the on_commit callback were each hit. Every
    other run is cancelled a second time a little later, and the ROLLBACK that the
    first cancellation started is seen to take some of those (a hook on atomic()'s
    clean-up tells when it runs)."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    ledger = Ledger()
    phases: list[str] = []
    rolling_back = 0  # atomic()'s clean-ups (savepoint or outer rollback) running now

    def counted(real: Callable[..., Any]) -> Callable[..., Any]:
        async def clean_up(*args: Any, **kwargs: Any) -> None:
            nonlocal rolling_back
            rolling_back += 1
            try:
                await real(*args, **kwargs)
            finally:
                rolling_back -= 1

        return clean_up

    monkeypatch.setattr(transaction, "_finish", counted(transaction._finish))
    monkeypatch.setattr(transaction, "_rollback", counted(transaction._rollback))

    def cancel_in_phase(task: asyncio.Task[Any], reached: list[str], again: int | None) -> None:
        """Cancel ``task``, noting the phase it is in; with ``again``, cancel it once more
        that many turns of the loop later, noting whether atomic() was cleaning up."""
        if task.done():
            return
        phases.append(reached[-1] if reached else "before start")
        task.cancel()
        if again is not None:
            after_turns(again, cancel_again, task)

    def cancel_again(task: asyncio.Task[Any]) -> None:
        if not task.done():
            if rolling_back:
                phases.append("rollback")
            task.cancel()

    async with pool(db, path, pool_size=2, max_overflow=0):

        async def job(name: str, phase: Callable[[str], None]) -> None:
            phase("checkout")
            async with atomic():
                phase("first statement")
                await CancelRow.objects.create(tag=f"{name}:a")
                phase("savepoint")
                async with atomic():
                    await CancelRow.objects.create(tag=f"{name}:b")
                    on_commit(lambda: ledger.callbacks.append(f"{name}:b"))
                    phase("savepoint work")
                    await asyncio.sleep(0.0005)  # the application awaits something else
                    phase("savepoint release")
                phase("other work")
                await asyncio.sleep(0.0005)  # the application awaits something else
                phase("second statement")
                await CancelRow.objects.create(tag=f"{name}:c")

                async def committed() -> None:
                    phase("on_commit")
                    await asyncio.sleep(0.0005)  # e.g. a message sent to a queue
                    ledger.callbacks.append(name)

                on_commit(committed)
                phase("commit")
            phase("done")
            ledger.acked.add(name)

        points = {"checkout", "first statement", "savepoint", "savepoint work"}
        points |= {"savepoint release", "other work", "second statement", "commit"}
        points |= {"on_commit", "rollback"}
        loop = asyncio.get_running_loop()
        started = loop.time()
        ledger.groups["warm-up"] = False
        await job("warm-up", lambda _phase: None)
        took = loop.time() - started  # how long an uncancelled group takes
        for run in range(2000):
            name = f"t{run}"
            ledger.groups[name] = False
            reached: list[str] = []
            if run % 3 == 2:
                # no idle connection: the checkout opens one, an await point of its own
                await connections["default"].engine.dispose()
            else:
                await CancelRow.objects.exists()  # a pooled connection ready, as in a warm app
            task = asyncio.create_task(job(name, reached.append))
            # first after 0, 1, 2 … turns of the loop, then after a delay that grows to
            # past an uncancelled group's run time in 200 steps, and again
            if run < 20:
                after_turns(run, cancel_in_phase, task, reached, None)
            else:
                delay = ((run - 20) % 240) * took / 200
                again = run % 5 if run % 2 else None
                loop.call_later(delay, cancel_in_phase, task, reached, again)
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except asyncio.CancelledError:
                assert task.cancelled()
            assert connections["default"].engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            during_commit = any(
                n in ledger.callbacks and n not in ledger.acked for n in ledger.groups
            )
            hit = {point for point in points if phases.count(point) >= 3}
            if hit == points and during_commit and not task.cancelled():
                break
        assert await open_transactions(db) == 0
    verify(ledger, await durable_tags(db))
    assert points <= set(phases), f"cancellations landed only at {sorted(set(phases))}"
    assert any(n in ledger.callbacks and n not in ledger.acked for n in ledger.groups), (
        "no cancellation landed during COMMIT or on_commit"
    )
    assert never_retrieved(caplog) == []


# -- the storm -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_cancellation_storm(
    db: str, path: str, seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    """500 jobs cancelled at random await points, then 400 ordinary writes: no
    acknowledged write missing, no partial group, callbacks exactly for the committed
    groups, no session left in a transaction, the pool all checked in."""
    caplog.set_level(logging.ERROR, logger="asyncio")
    ledger = Ledger()
    async with pool(db, path, pool_size=4, max_overflow=2):
        await storm(ledger, seed, tasks=500, wave=25)
        assert ledger.errors == []
        # then ordinary writes, none cancelled: each must be acknowledged
        quiet = Ledger()
        for i in range(0, 400, 40):
            jobs = [plain(quiet, f"q{seed}p{j}") for j in range(i, i + 30)]
            jobs += [
                group(quiet, f"q{seed}g{j}", fail_savepoint=j % 2 == 0) for j in range(i, i + 10)
            ]
            await asyncio.gather(*jobs)
        assert len(quiet.acked) == 400
        assert len(quiet.callbacks) == 100 + 50
        assert await open_transactions(db) == 0
        assert connections["default"].engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    ledger.acked |= quiet.acked
    ledger.callbacks += quiet.callbacks
    ledger.groups.update(quiet.groups)
    verify(ledger, await durable_tags(db))
    assert never_retrieved(caplog) == []


# -- streaming -----------------------------------------------------------------------------


async def test_cancelled_iterator_returns_its_connection(db: str, path: str) -> None:
    """A task cancelled while it streams rows (``iterator()``: a server-side cursor in a
    transaction of its own on PostgreSQL, an unbuffered result on MariaDB) gives its
    connection back clean, at every await point of the loop, and again when cancelled
    a second time while the stream closes."""
    await CancelRow.objects.bulk_create([CancelRow(tag=f"r{i}") for i in range(40)])
    async with pool(db, path, pool_size=2, max_overflow=0):
        seen: list[int] = []

        async def reader() -> None:
            count = 0
            async for _row in CancelRow.objects.order_by("id").iterator(chunk_size=7):
                count += 1
                await asyncio.sleep(0)  # the application's own work per row
            seen.append(count)

        for turns in range(0, 3000, 3):
            task = asyncio.create_task(reader())
            after_turns(turns, cancel, task)
            if turns % 2:  # and again, e.g. while the stream closes
                after_turns(turns + turns % 5, cancel, task)
            await asyncio.wait({task}, timeout=10)
            assert task.done()
            assert task.cancelled() or task.exception() is None
            # an abandoned `async for` leaves its generator to the loop's finalizer, which
            # closes it (and returns the stream's connection) in a task of its own
            del task
            pool_ = connections["default"].engine.pool
            for _ in range(200):
                if pool_.checkedout() == 0:  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.01)
            assert pool_.checkedout() == 0, f"cancelled after {turns} turns: connection kept"  # type: ignore[attr-defined]
            assert await open_transactions(db) == 0, f"cancelled after {turns} turns: locked"
            if seen:
                break
        assert await open_transactions(db) == 0
        assert 40 in seen, "no run streamed to its end: the sweep stopped too early"
        assert await CancelRow.objects.count() == 40
