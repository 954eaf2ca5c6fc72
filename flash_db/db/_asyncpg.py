"""asyncpg: no unretrieved futures when a task is cancelled mid-query or mid-connect.

When a task awaiting a query is cancelled, asyncpg asks the server to cancel it from a
background task, over a second, short-lived connection. A connection whose statement
was interrupted is invalidated (by SQLAlchemy, or by ``db.direct``), and closing it
cancels that background task. Cancelled while it still connects, asyncpg's
TLS-negotiation protocol later sets an exception on a future nobody awaits, and asyncio
logs "Future exception was never retrieved … unexpected connection_lost()" when it is
garbage collected: dozens of lines per cancelled request under load.

The pool's ``invalidate`` event runs before the connection is closed; there, in
SQLAlchemy's greenlet, the pending CancelRequests get up to :data:`SETTLE_SECONDS` to
finish. The only private name used is asyncpg's ``Connection._cancellations`` (the set
of those tasks); without it, nothing is waited for and the connection closes as before.

The same protocol logs the same line when a *new* connection is cancelled while it
negotiates TLS (a task cancelled while the pool opens a connection for it).
:func:`connect` opens connections for the pool: a cancelled caller stops waiting at once,
while the connection attempt itself finishes in the background and the connection is
closed. SQLAlchemy's asyncpg adapter takes it as ``async_creator_fn``, the connect
argument its own ``async_creator`` engine option goes through.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

from ._completion import to_completion

#: how long an invalidation waits for asyncpg's pending CancelRequests
SETTLE_SECONDS = 1.0


def install(engine: Engine) -> None:
    """Wait for pending CancelRequests whenever ``engine``'s pool invalidates a
    connection (called for asyncpg engines)."""
    event.listen(engine.pool, "invalidate", _settle)


def _settle(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
    driver = getattr(dbapi_connection, "driver_connection", None)
    if getattr(driver, "_cancellations", None) is None or not in_greenlet():
        return  # outside a greenlet (garbage collection) nothing can be awaited
    try:
        await_only(to_completion(_cancellations_done(driver)))
    except asyncio.CancelledError:
        # cancelled again meanwhile: the close that follows raises it
        task = asyncio.current_task()
        if task is not None:
            task.cancel()


async def _cancellations_done(driver: Any) -> None:
    # asyncpg starts a CancelRequest from a callback of the cancelled query's future,
    # which may run after the cancellation reached this task: one turn of the loop first
    await asyncio.sleep(0)
    pending = [task for task in driver._cancellations if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=SETTLE_SECONDS)


def native_errors() -> tuple[type[Exception], ...]:
    """asyncpg's own exception bases, which reach a pool checkout unwrapped: SQLAlchemy
    sets a new connection up (its JSON codecs) on the raw asyncpg connection, and
    SQLAlchemy 2.0's adapter does not translate errors of the connect itself."""
    import asyncpg

    return (asyncpg.PostgresError, asyncpg.InterfaceError)


def connect_args(args: dict[str, Any]) -> dict[str, Any]:
    """``args`` with :func:`connect` as the adapter's connect call, unless the user
    gave one of their own."""
    return {"async_creator_fn": connect, **args}


#: connection attempts whose caller was cancelled, kept referenced until they end
_abandoned: set[asyncio.Task[Any]] = set()


async def connect(*args: Any, **kwargs: Any) -> Any:
    """``asyncpg.connect(*args, **kwargs)``; when the caller is cancelled, the attempt
    goes on in the background and its connection, if any, is closed."""
    import asyncpg

    attempt = asyncio.ensure_future(asyncpg.connect(*args, **kwargs))
    try:
        return await asyncio.shield(attempt)
    except asyncio.CancelledError:
        if not attempt.done():
            _abandoned.add(attempt)
            attempt.add_done_callback(_close_abandoned)
        raise


def _close_abandoned(attempt: asyncio.Task[Any]) -> None:
    _abandoned.discard(attempt)
    if attempt.cancelled() or attempt.exception() is not None:
        return  # exception() marks a failure as retrieved: nobody is left to see it
    attempt.result().terminate()
