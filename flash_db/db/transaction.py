"""``atomic()`` and ``on_commit()``.

``atomic()`` opens a transaction on one database and binds its connection to
the running task, so every query of the task inside the block — through
managers, instances and signal receivers — runs on it. Nested blocks are
savepoints. An exception, or the task being cancelled, rolls back and returns
the connection to the pool (a connection that cannot roll back is discarded)::

    from flash_db import atomic, on_commit

    async with atomic():
        await Account.objects.filter(pk=a).update(balance=F("balance") - 10)
        await Account.objects.filter(pk=b).update(balance=F("balance") + 10)
        on_commit(lambda: print("moved"))

    @atomic(isolation="serializable")
    async def transfer(...): ...
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from ..exceptions import ConfigurationError, DatabaseError, NotSupportedError
from . import config
from ._completion import to_completion
from .context import Transaction, bind, current, current_transaction
from .errors import translated

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

#: isolation levels by the names users write; SQLite only has SERIALIZABLE
ISOLATION_LEVELS = {
    "read uncommitted": "READ UNCOMMITTED",
    "read committed": "READ COMMITTED",
    "repeatable read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}


def _isolation(name: str | None, vendor: str) -> str | None:
    if name is None:
        return None
    level = ISOLATION_LEVELS.get(name.lower().replace("_", " "))
    if level is None:
        raise ConfigurationError(
            f"unknown isolation level {name!r}; choices: {', '.join(ISOLATION_LEVELS)}"
        )
    if vendor == "sqlite" and level != "SERIALIZABLE":
        raise NotSupportedError(
            f"SQLite transactions are always serializable; isolation={name!r} cannot be honoured"
        )
    return level


class Atomic:
    """The object ``atomic()`` returns: an async context manager and a decorator."""

    def __init__(
        self,
        using: str | None = None,
        *,
        isolation: str | None = None,
        savepoint: bool = True,
        read_only: bool = False,
        handler: Any,
    ) -> None:
        self.using = using
        self.isolation = isolation
        self.savepoint = savepoint
        self.read_only = read_only
        self.handler = handler
        # One entry per active ``async with`` of this object (re-entrant use).
        self._frames: list[tuple[str, Any]] = []

    def __call__(self, function: F) -> F:
        if not inspect.iscoroutinefunction(function):
            raise TypeError("@atomic() decorates async functions (coroutine functions)")

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            async with self._copy():
                return await function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _copy(self) -> Atomic:
        return Atomic(
            self.using,
            isolation=self.isolation,
            savepoint=self.savepoint,
            read_only=self.read_only,
            handler=self.handler,
        )

    @property
    def alias(self) -> str:
        return self.using or config.DEFAULT_ALIAS

    async def __aenter__(self) -> AsyncConnection:
        alias = self.alias
        database = self.handler[alias]
        level = _isolation(self.isolation, database.features.vendor)
        tx = current_transaction(alias)
        if tx is not None:
            if level is not None and level != tx.isolation:
                raise ConfigurationError(
                    f"atomic(isolation={self.isolation!r}) inside a {tx.isolation} transaction: "
                    f"the isolation level is set by the outermost atomic()"
                )
            if self.read_only:
                raise ConfigurationError("atomic(read_only=True) must be the outermost atomic()")
            if not self.savepoint:
                self._frames.append(("join", tx))
                return tx.connection
            with translated(alias):
                savepoint = await tx.connection.begin_nested()
            self._frames.append(("savepoint", (tx, savepoint, len(tx.callbacks))))
            return tx.connection
        features = database.features
        with translated(alias):
            connection = await database.engine.connect()
        try:
            with translated(alias):
                if features.begin_sql is not None:
                    # SQLite: the driver stays in autocommit and the transaction is
                    # opened here; commit() and rollback() end it as usual.
                    outer = await connection.begin()
                    await connection.exec_driver_sql(features.begin_sql)
                else:
                    # The engine autocommits; a transaction needs a real isolation level.
                    await connection.execution_options(
                        isolation_level=level or features.default_isolation
                    )
                    outer = await connection.begin()
                if self.read_only:
                    await connection.exec_driver_sql(features.read_only_sql)
        except BaseException:
            await to_completion(discard(connection))
            raise
        tx = Transaction(
            alias, connection, asyncio.current_task(), level or features.default_isolation
        )
        token = bind(tx)
        self._frames.append(("outer", (tx, outer, token)))
        return connection

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        kind, state = self._frames.pop()
        if kind == "join":
            if exc is not None:
                state.broken = True
            return
        if kind == "savepoint":
            tx, savepoint, mark = state
            if exc is None and not tx.broken:
                with translated(tx.alias):
                    await savepoint.commit()
                return
            # Callbacks registered inside a rolled-back savepoint never run.
            del tx.callbacks[mark:]
            broken, tx.broken = tx.broken, False
            try:
                # to its end even if this task is cancelled again: the outer block's
                # rollback must not run beside it on the same connection
                await to_completion(_rollback(tx.alias, savepoint))
            except DatabaseError:
                if exc is None:
                    raise
                # The server already aborted the whole transaction (MySQL does on a
                # deadlock): keep the original error; the outer block rolls back.
                tx.broken = True
                return
            if exc is None and broken:
                raise ConfigurationError(_BROKEN)
            return
        tx, outer, token = state
        current.reset(token)
        features = self.handler[tx.alias].features
        reset = _Return(
            features.read_only_reset_sql if self.read_only else None,
            features.autocommit_switch_sends_sql,
        )
        if exc is None and not tx.broken:
            # COMMIT, the connection's return and the on_commit callbacks run to their end
            # even if the task is cancelled meanwhile (the cancellation is raised after):
            # a cancelled COMMIT would leave it unknown whether the rows were written, and
            # a committed transaction always runs its callbacks.
            await to_completion(_commit(tx, outer, reset))
            return
        # An exception or a cancellation: roll back, even if this task is cancelled again.
        await to_completion(_finish(tx.connection, outer, rollback=True, reset=reset))
        if exc is None:
            raise ConfigurationError(_BROKEN)


async def _commit(tx: Transaction, outer: AsyncTransaction, reset: _Return) -> None:
    """COMMIT, return the connection, run the ``on_commit`` callbacks."""
    try:
        with translated(tx.alias):
            await outer.commit()
    except BaseException:
        await _finish(tx.connection, outer, rollback=True, reset=reset)
        raise
    await _finish(tx.connection, outer, rollback=False, reset=reset)
    await _run_callbacks(tx.callbacks)


async def _rollback(alias: str, transaction: AsyncTransaction) -> None:
    with translated(alias):
        await transaction.rollback()


_BROKEN = (
    "a block inside atomic(savepoint=False) failed, so the enclosing transaction was rolled "
    "back; catch errors outside that block, or give it a savepoint (the default)"
)


class _Return(NamedTuple):
    """What a connection needs before ``atomic()`` gives it back to the pool."""

    #: undoes ``atomic(read_only=True)`` (SQLite's pragma outlives the transaction)
    sql: str | None
    #: switch it back to autocommit here rather than in SQLAlchemy's check-in
    autocommit: bool


async def _finish(
    connection: AsyncConnection,
    transaction: AsyncTransaction,
    *,
    rollback: bool,
    reset: _Return,
) -> None:
    """Roll back if asked, then return the connection to the pool, or discard a broken one."""
    try:
        if rollback and transaction.is_active:
            await transaction.rollback()
        if reset.sql:
            await connection.exec_driver_sql(reset.sql)
        if reset.autocommit:
            # __aenter__ took the connection out of the engine's AUTOCOMMIT. SQLAlchemy
            # would restore it in a callback that the pool runs as it takes the
            # connection back, outside its own error handling: when that fails (MySQL's
            # SET AUTOCOMMIT=1 to a server that just died) the pool slot is lost for
            # good, and the closed Connection can no longer be invalidated. Restored
            # here, a failure is still ours to discard; and the pool then sees an
            # autocommit connection, with no ROLLBACK to send.
            await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.close()
    except Exception:
        await discard(connection)


async def discard(connection: AsyncConnection) -> None:
    """Drop a connection whose state is unknown, so the pool never hands it out again."""
    try:
        await connection.invalidate()
    except Exception:
        pass
    try:
        await connection.close()
    except Exception:
        pass


async def _run_callbacks(callbacks: list[Callable[[], Any]]) -> None:
    for callback in callbacks:
        result = callback()
        if inspect.isawaitable(result):
            await result


_background: set[asyncio.Task[Any]] = set()


def on_commit(callback: Callable[[], Any], using: str | None = None) -> None:
    """Run ``callback`` (sync or async, no arguments) after the outermost commit.

    Inside ``atomic()`` it waits for the commit and is dropped on rollback
    (also of the savepoint it was registered in). Outside a transaction a
    sync callback runs at once and an async one is started as a task.
    """
    tx = current_transaction(using or config.DEFAULT_ALIAS)
    if tx is not None:
        tx.callbacks.append(callback)
        return
    result = callback()
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        _background.add(task)  # keep a reference until it finishes
        task.add_done_callback(_background.discard)
