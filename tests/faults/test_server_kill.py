"""No acknowledged write is lost when the database server crashes (issue 16, server faults).

A server killed under load (PostgreSQL ``pg_ctl stop -m immediate``, SIGKILL to
``mariadbd``) and started again must leave the application with:

- every write whose call returned present afterwards, and no atomic group in part;
- only flash_db's errors on the way (``OperationalError`` for a lost connection),
  never a driver's or SQLAlchemy's own exception;
- a pool that gave every connection back (nothing checked out, all its slots usable);
- a working database again without the application reconnecting: the first statement
  after the restart succeeds, even on a pool whose idle connections all died.

Besides a crash at a random moment of a steady load, the tests crash the server at the
moments where the transaction is over on the server but the application does not know
yet (:class:`Crash`), while a new connection is set up, and restart it refusing
connections as PostgreSQL does while it recovers.

The servers are private to these tests (``servers.py``); each test runs on flash_db's
direct driver path and on SQLAlchemy's (``Database.driver = None``), and reads its
rows back through a new engine.
"""

from __future__ import annotations

import asyncio
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.util import await_only

from flash_db import atomic
from flash_db.exceptions import FlashDBError, OperationalError

from .conftest import FaultModels, connected, read_rows
from .servers import PrivateServer

#: the load: a few writers on a pool that they use up, overflow included
WRITERS = 5
POOL = {"pool_size": 3, "max_overflow": 2, "pool_timeout": 5}
#: rows per atomic group, and the share of a writer's steps that are groups
GROUP = 3
GROUP_SHARE = 0.4
SEED = 16
#: a statement (or a whole group) that takes longer hangs; the test must end by itself
STEP_TIMEOUT = 15.0
#: writes acknowledged before the kill, and per writer after the restart
BEFORE_KILL = 60
AFTER_RESTART = 5
#: how long the server stays down, with the writers hitting it
DOWN_SECONDS = 0.5


@dataclass
class Seen:
    """An exception a writer got."""

    writer: int
    phase: str
    error: BaseException


@dataclass
class Ledger:
    """What the writers were told: acknowledged rows and groups, and every exception."""

    phase: str = "load"
    acked: set[tuple[int, int]] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)
    acks: Counter[int] = field(default_factory=Counter)
    seen: list[Seen] = field(default_factory=list)

    def ack(self, writer: int, seqs: Iterable[int], batch: int | None) -> None:
        for seq in seqs:
            self.acked.add((writer, seq))
        if batch is not None:
            self.groups.add(batch)
        self.acks[writer] += 1

    async def wait(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {seconds:.0f} s for {what} (phase {self.phase}, "
                    f"{len(self.acked)} rows acknowledged)\n{describe(self.seen)}"
                )
            await asyncio.sleep(0.02)


async def write_steps(
    writer: int, model: Any, ledger: Ledger, stop: asyncio.Event, rng: random.Random
) -> None:
    """Plain creates and atomic groups until ``stop``; a write counts as acknowledged
    only once its call (or its whole ``atomic()`` block) returned."""
    seq = 0
    batches = 0
    while not stop.is_set():
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                if rng.random() < GROUP_SHARE:
                    batches += 1
                    batch = writer * 1_000_000 + batches
                    seqs = range(seq + 1, seq + GROUP + 1)
                    seq += GROUP
                    async with atomic():
                        for s in seqs:
                            await model.objects.create(writer=writer, seq=s, batch=batch)
                    ledger.ack(writer, seqs, batch)
                else:
                    seq += 1
                    await model.objects.create(writer=writer, seq=seq)
                    ledger.ack(writer, (seq,), None)
        except Exception as error:
            ledger.seen.append(Seen(writer, ledger.phase, error))
            # the server is down: do not spin on refused connections
            await asyncio.sleep(0.02)


class Crash:
    """Crashes the server at one moment of the next transaction's end, once armed.

    ``"ended"``: right after the server acknowledged the transaction's COMMIT or ROLLBACK.
    ``"returning"``: as the connection goes back to the pool, right after the ROLLBACK of
    SQLAlchemy's reset-on-return, the last round trip before the connection's isolation
    level is restored. An implementation that sends no such ROLLBACK never reaches that
    moment; then :meth:`now` crashes the server when the caller gives up waiting.

    Both are moments where the transaction is over on the server but the application
    has not heard of it yet. A crash at a random moment lands there now and then (slots
    leaked there); this makes it land there every time. The dialect's ``do_commit`` /
    ``do_rollback`` run on both execution paths (``atomic()`` ends its transaction
    through SQLAlchemy on each). The kill blocks the event loop, so every other writer's
    statement is in flight when the server dies.
    """

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, database: Any, server: PrivateServer, moment: str
    ) -> None:
        self.server = server
        self.moment = moment
        self.armed = False
        self.killed = asyncio.Event()
        dialect = database.engine.sync_engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback
        ended: set[int] = set()  # driver connections whose transaction ended

        def key(connection: Any) -> int:
            return id(getattr(connection, "dbapi_connection", connection))

        def do_commit(connection: Any) -> None:
            commit(connection)
            ended.add(key(connection))
            if moment == "ended":
                self.now()

        def do_rollback(connection: Any) -> None:
            # a connection in autocommit mode (a plain statement's) has no transaction:
            # the pool's reset of it rolls nothing back
            plain = dialect.detect_autocommit_setting(connection)
            rollback(connection)
            if plain:
                return
            if key(connection) not in ended:
                ended.add(key(connection))  # the transaction's own ROLLBACK
                if moment == "ended":
                    self.now()
                return
            ended.discard(key(connection))  # the pool's reset: the connection is going back
            if moment == "returning":
                self.now()

        monkeypatch.setattr(dialect, "do_commit", do_commit)
        monkeypatch.setattr(dialect, "do_rollback", do_rollback)

    def now(self) -> None:
        """Crash the server, if armed and not done yet."""
        if self.armed and not self.killed.is_set():
            self.server.kill()
            self.killed.set()


def origin(error: BaseException) -> str:
    """Where ``error`` was raised: its innermost frame and the innermost frame of
    flash_db, which is where it should have been translated."""
    frames = traceback.extract_tb(error.__traceback__)

    def short(frame: traceback.FrameSummary) -> str:
        parts = frame.filename.split("/")
        for root in ("flash_db", "sqlalchemy", "asyncpg", "aiomysql", "pymysql", "asyncio"):
            if root in parts:
                parts = parts[parts.index(root) :]
                break
        return f"{'/'.join(parts[-3:])}:{frame.lineno} {frame.name}"

    ours = [f for f in frames if "/flash_db/" in f.filename and "/tests/" not in f.filename]
    where = short(frames[-1]) if frames else "?"
    via = f"; last flash_db frame {short(ours[-1])}" if ours else ""
    return f"raised at {where}{via}"


def describe(seen: list[Seen], limit: int = 8) -> str:
    """One line per distinct kind of exception seen: class, phase, count, first
    message, origin; the full traceback of the first non-flash_db one."""
    kinds: dict[tuple[str, str], list[Seen]] = {}
    for s in seen:
        cls = type(s.error)
        kinds.setdefault((f"{cls.__module__}.{cls.__qualname__}", s.phase), []).append(s)
    lines = []
    for (name, phase), group in list(kinds.items())[:limit]:
        first = group[0].error
        message = str(first).splitlines()[0][:160] if str(first) else ""
        lines.append(f"  {len(group)} x {name} [{phase}]: {message} ({origin(first)})")
    raw = [s for s in seen if not isinstance(s.error, FlashDBError)]
    if raw:
        lines.append("first exception that is not a FlashDBError:")
        lines.append("".join(traceback.format_exception(raw[0].error)))
    return "\n".join(lines) or "  (no exceptions)"


async def hold_every_slot(model: Any, slots: int) -> int:
    """Open ``slots`` transactions at once (each holds a pooled connection), to show the
    pool still has all its slots; returns how many got one.

    A holder that meets a connection the server closed tries again (a dead connection
    is not a lost slot); one whose checkout times out has no slot, and lets the others
    go."""
    barrier = asyncio.Barrier(slots)
    held = 0

    async def hold() -> None:
        nonlocal held
        for attempt in range(3):
            try:
                async with atomic():
                    await model.objects.count()
                    held += 1
                    await barrier.wait()
                return
            except asyncio.BrokenBarrierError:
                return
            except OperationalError as error:
                if attempt < 2 and not isinstance(error.driver_error, sa.exc.TimeoutError):
                    continue
                await barrier.abort()
                return

    async with asyncio.timeout(STEP_TIMEOUT):
        await asyncio.gather(*(hold() for _ in range(slots)))
    return held


def check_rows(rows: list[Any], ledger: Ledger) -> list[str]:
    """Lost acknowledged writes, duplicates and partial groups, as problems."""
    problems = []
    present = Counter((row.writer, row.seq) for row in rows)
    lost = sorted(ledger.acked - set(present))
    if lost:
        problems.append(f"{len(lost)} acknowledged writes lost, e.g. {lost[:10]}")
    twice = sorted(key for key, n in present.items() if n > 1)
    if twice:
        problems.append(f"{len(twice)} writes stored twice, e.g. {twice[:10]}")
    sizes = Counter(row.batch for row in rows if row.batch is not None)
    partial = sorted(batch for batch, n in sizes.items() if n != GROUP)
    if partial:
        problems.append(
            f"{len(partial)} atomic groups stored in part: "
            + ", ".join(f"{b}: {sizes[b]} of {GROUP} rows" for b in partial[:10])
        )
    missing_groups = sorted(ledger.groups - set(sizes))
    if missing_groups:
        problems.append(f"{len(missing_groups)} acknowledged groups missing: {missing_groups[:10]}")
    return problems


def check_errors(seen: list[Seen]) -> list[str]:
    """Exceptions other than flash_db's OperationalError, as problems."""
    wrong = [s for s in seen if not isinstance(s.error, OperationalError)]
    if not wrong:
        return []
    return [
        f"{len(wrong)} of {len(seen)} exceptions the writers got are not flash_db's "
        f"OperationalError:\n{describe(wrong)}"
    ]


async def test_acknowledged_writes_survive_a_server_crash(
    server: PrivateServer,
    models: FaultModels,
    path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A steady load of creates and atomic groups through a crash and restart: zero
    acknowledged writes lost, no group in part, only OperationalError on the way, every
    pool slot back, and the writers going on without reconnecting.

    The server dies as the connection of a group that committed goes back to the pool
    (see :class:`Crash`), the other writers' statements in flight."""
    model = models.write
    async with connected(server, models, path, **POOL) as database:
        crash = Crash(monkeypatch, database, server, "returning")
        ledger = Ledger()
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(write_steps(n, model, ledger, stop, random.Random(SEED * 100 + n)))
            for n in range(WRITERS)
        ]
        try:
            await ledger.wait(lambda: len(ledger.acked) >= BEFORE_KILL, 15, "the load to start")
            crash.armed = True
            try:
                async with asyncio.timeout(2):
                    await crash.killed.wait()
            except TimeoutError:
                crash.now()  # the moment never came: crash the server wherever the load is
            ledger.phase = "killed"
            await asyncio.sleep(DOWN_SECONDS)
            ledger.phase = "restarting"
            await server.astart()
            ledger.phase = "restarted"
            before = Counter(ledger.acks)
            await ledger.wait(
                lambda: all(ledger.acks[n] - before[n] >= AFTER_RESTART for n in range(WRITERS)),
                20,
                f"each writer to be acknowledged {AFTER_RESTART} times after the restart",
            )
        finally:
            stop.set()
            _, pending = await asyncio.wait(tasks, timeout=STEP_TIMEOUT + 5)
            for task in pending:
                task.cancel()
        assert not pending, f"{len(pending)} writers did not stop"

        problems = check_errors(ledger.seen)
        pool = database.engine.pool
        if pool.checkedout() != 0:
            problems.append(
                f"{pool.checkedout()} connections still checked out after the load "
                f"({pool.status()}): pool slots leaked"
            )
        slots = POOL["pool_size"] + POOL["max_overflow"]
        held = await hold_every_slot(model, slots)
        if held != slots:
            problems.append(f"only {held} of the pool's {slots} slots can be used at once")
        problems += check_rows(await read_rows(server, model._meta.table.name), ledger)
    assert not problems, (
        f"{server.name}, {path} path ({len(ledger.acked)} rows acknowledged, "
        f"{len(ledger.seen)} exceptions):\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("moment", ["ended", "returning"])
@pytest.mark.parametrize("end", ["commit", "rollback"])
async def test_a_crash_as_a_transaction_ends_returns_its_connection(
    server: PrivateServer,
    models: FaultModels,
    path: str,
    end: str,
    moment: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server dies as an ``atomic()`` block that committed (or raised, and rolled
    back) ends: right after the server acknowledged it, or as the connection goes back
    to the pool (see :class:`Crash`). The block ends as the server did (returns / raises
    its own exception), the connection leaves the pool's accounting, and after the
    restart every slot can be used again."""
    model = models.write
    options = {"pool_size": 2, "max_overflow": 0, "pool_timeout": 3}
    async with connected(server, models, path, **options) as database:
        crash = Crash(monkeypatch, database, server, moment)
        crash.armed = True
        outcome: BaseException | None = None
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                async with atomic():
                    await model.objects.create(writer=1, seq=1, batch=None)
                    if end == "rollback":
                        raise LookupError("the block fails")
        except Exception as error:
            outcome = error
        crash.now()  # when the moment never came (nothing left to send at the return)
        problems = []
        if end == "commit" and outcome is not None:
            problems.append(f"the committed block raised {outcome!r}")
        if end == "rollback" and not isinstance(outcome, LookupError):
            problems.append(f"the block's LookupError became {outcome!r}")
        pool = database.engine.pool
        if pool.checkedout() != 0:
            problems.append(
                f"{pool.checkedout()} connection still checked out ({pool.status()}): "
                "the slot leaked"
            )
        await server.astart()
        held = await hold_every_slot(model, 2)
        if held != 2:
            problems.append(f"only {held} of the pool's 2 slots can be used after the restart")
        rows = await read_rows(server, model._meta.table.name)
        expected = 1 if end == "commit" else 0
        if len(rows) != expected:
            problems.append(f"{len(rows)} rows after the restart, {expected} expected")
    assert not problems, f"{server.name}, {path} path:\n" + "\n".join(problems)


async def test_transactions_open_at_the_crash_give_their_connections_back(
    server: PrivateServer, models: FaultModels, path: str
) -> None:
    """Transactions that wrote and are still open when the server dies: those that go
    on end with an OperationalError (their commit cannot have happened), those that
    raise keep their own exception, none of their rows is there, and their connections
    leave the pool's accounting: none stays checked out, every slot can be used again."""
    model = models.write
    async with connected(server, models, path, **POOL) as database:
        wrote = asyncio.Event()
        go = asyncio.Event()
        opened = 0
        slots = POOL["pool_size"] + POOL["max_overflow"]

        async def open_transaction(n: int) -> None:
            nonlocal opened
            async with atomic():
                await model.objects.create(writer=n, seq=1, batch=n)
                opened += 1
                if opened == slots:
                    wrote.set()
                await go.wait()
                if n % 2:
                    raise LookupError("the block fails after the crash")
                await model.objects.create(writer=n, seq=2, batch=n)

        tasks = [asyncio.create_task(open_transaction(n)) for n in range(slots)]
        async with asyncio.timeout(10):
            await wrote.wait()
        server.kill()
        go.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await server.astart()
        seen = [Seen(n, "killed", r) for n, r in enumerate(results) if r is not None]
        problems = check_errors([s for s in seen if not isinstance(s.error, LookupError)])
        silent = [n for n, r in enumerate(results) if r is None]
        if silent:
            problems.append(f"transactions {silent} returned although the server was dead")
        pool = database.engine.pool
        if pool.checkedout() != 0:
            problems.append(
                f"{pool.checkedout()} of {slots} connections still checked out "
                f"({pool.status()}): pool slots leaked"
            )
        held = await hold_every_slot(model, slots)
        if held != slots:
            problems.append(f"only {held} of the pool's {slots} slots can be used at once")
        rows = await read_rows(server, model._meta.table.name)
        if rows:
            problems.append(f"rows of transactions that never committed: {rows}")
    assert not problems, f"{server.name}, {path} path:\n" + "\n".join(problems)


async def test_a_crash_while_a_new_connection_is_set_up_is_an_operational_error(
    server: PrivateServer, models: FaultModels, path: str
) -> None:
    """The server dies after it accepted a new connection and before SQLAlchemy's
    dialect set it up (its ``connect`` listener: isolation level, asyncpg's JSON codecs):
    the statement that wanted the connection fails with OperationalError, and nothing
    stays checked out."""
    model = models.write
    async with connected(server, models, path, pool_size=2, max_overflow=0) as database:
        engine = database.engine.sync_engine
        await database.engine.dispose()  # no idle connection: the next statement connects

        def crash(_dbapi_connection: Any, _record: Any) -> None:
            server.kill()
            # in SQLAlchemy's greenlet: let the loop read the server's end of the socket,
            # so that the driver knows its connection is closed, as it does when the
            # server dies during the connect
            await_only(asyncio.sleep(0.1))

        # first among the pool's connect listeners, so before the dialect's set-up
        event.listen(engine.pool, "connect", crash, insert=True, once=True)
        with pytest.raises(OperationalError):
            async with asyncio.timeout(STEP_TIMEOUT):
                await model.objects.create(writer=1, seq=1)
        assert engine.pool.checkedout() == 0
        await server.astart()


async def test_a_server_refusing_connections_is_an_operational_error(
    server: PrivateServer, models: FaultModels, path: str
) -> None:
    """The server is up again but refuses connections, as PostgreSQL does for a moment
    while it recovers from a crash (SQLSTATE 57P03, see ``astart_refusing()``): each
    statement fails with OperationalError and leaves no connection checked out; once
    the server accepts connections, the next statement succeeds."""
    if server.name != "postgresql":
        pytest.skip("MariaDB listens only once it accepts connections (a refused connect)")
    model = models.write
    async with connected(server, models, path, pool_size=2, max_overflow=0) as database:
        server.kill()
        await server.astart_refusing()

        async def in_atomic() -> None:
            async with atomic():
                await model.objects.create(writer=1, seq=2)

        for step in (model.objects.count, lambda: model.objects.create(writer=1, seq=1), in_atomic):
            with pytest.raises(OperationalError):
                async with asyncio.timeout(STEP_TIMEOUT):
                    await step()
            assert database.engine.pool.checkedout() == 0
        server.kill()
        await server.astart()
        await model.objects.create(writer=1, seq=3)
        assert database.engine.pool.checkedout() == 0


@pytest.mark.parametrize("first", ["count", "create", "atomic"])
async def test_first_statement_after_a_restart_succeeds(
    server: PrivateServer, models: FaultModels, path: str, first: str
) -> None:
    """A pool whose idle connections all died with the server: the application's first
    statement after the restart succeeds, with no reconnect or dispose call."""
    model = models.write
    async with connected(server, models, path, pool_size=3, max_overflow=0) as database:
        assert await hold_every_slot(model, 3) == 3  # three idle connections in the pool
        assert database.engine.pool.checkedin() == 3
        server.kill()
        await server.astart()
        async with asyncio.timeout(STEP_TIMEOUT):
            if first == "count":
                assert await model.objects.count() == 0
            elif first == "create":
                await model.objects.create(writer=1, seq=1)
            else:
                async with atomic():
                    await model.objects.create(writer=1, seq=1, batch=1)
        assert database.engine.pool.checkedout() == 0
