"""Pooled connections the server closed are replaced at checkout, with no round trip.

After a server restart, an idle timeout or a killed session, the pool's idle
connections are dead, and without a check the first statement on each fails with an
``OperationalError``. SQLAlchemy's ``pool_pre_ping`` finds them with a round trip per
checkout. The drivers already know without one, once the server's FIN or RST has
reached the event loop: asyncpg marks the connection closed (``is_closed()``), and
aiomysql's stream reader has seen end-of-file. :func:`check`, a ``checkout`` listener
on the pool, reads that and raises ``DisconnectionError``, on which the pool discards
the connection and hands out a new one (SQLAlchemy's documented "pessimistic"
disconnect handling). ``db.direct`` asks :func:`peer_closed` before it leases an idle
connection, and leaves a closed one to that checkout.

SQLite has no server: nothing to check. Private names read: aiomysql's
``Connection._reader`` (an ``asyncio.StreamReader``); without it a connection counts
as open, as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError


def peer_closed(dbapi_connection: Any) -> bool:
    """Whether the server has closed the pooled ``dbapi_connection`` (as far as the
    event loop has seen)."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)  # asyncpg
    if is_closed is not None:
        return bool(is_closed())
    reader = getattr(driver, "_reader", None)  # aiomysql
    if reader is not None:
        # a clean close is end-of-file; a reset sets the reader's exception instead
        return bool(reader.at_eof()) or reader.exception() is not None
    return False


def check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The pool's ``checkout`` listener: refuse a connection the server closed."""
    if peer_closed(dbapi_connection):
        raise DisconnectionError("the server closed this pooled connection")


def install(engine: Engine) -> None:
    """Check ``engine``'s connections at checkout (PostgreSQL and MySQL engines)."""
    event.listen(engine.pool, "checkout", check)


def only_check(listeners: Any) -> bool:
    """Whether ``listeners`` (a pool's ``checkout`` listeners) are :func:`check` alone,
    or none: the leased path does the same check itself."""
    # a loop, not all(...): it runs for every leased statement, and a generator costs more
    for listener in listeners:
        if listener is not check:
            return False
    return True
