"""SQLite specifics of the engine: one hop to aiosqlite's thread per statement, the
connection pragmas, BEGIN IMMEDIATE, and ordered ``INSERT … RETURNING`` batches.

aiosqlite runs every call on a worker thread and hands the result back through the
event loop; each hand-off costs tens of microseconds, more than SQLite takes to run a
small statement. SQLAlchemy's aiosqlite adapter makes three or four of them per
statement (open a cursor, execute, fetch, close the cursor). :class:`OneHopCursor`
makes one: the whole execute-fetch-close runs as a single function on aiosqlite's
thread (``Connection._execute``, the queue every aiosqlite call goes through). It is
used only when the installed aiosqlite has that entry point; otherwise SQLAlchemy's
own adapter runs unchanged.

Nothing here is public; :func:`engine_options` and :func:`install` are called by
``db.connections`` when it builds an engine for a ``sqlite`` URL.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts
from sqlalchemy.util import await_only


def run(conn: sqlite3.Connection, operation: str, parameters: Any) -> tuple[Any, ...]:
    """On aiosqlite's thread: execute, fetch everything, close the cursor."""
    cursor = conn.cursor()
    try:
        cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        # rowcount is read after the fetch: for DML with RETURNING, sqlite3 counts the
        # rows only as they are stepped through.
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, operation: str, seq: Any) -> tuple[Any, ...]:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq)
        return None, (), cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor:
    """A DBAPI cursor over an aiosqlite connection that costs one thread hop per execute.

    The rows are fetched on the worker thread with the execute and buffered here, as
    SQLAlchemy's adapter buffers them; the sqlite3 cursor is closed before the hop
    returns, so there is nothing to close afterwards.
    """

    server_side = False
    __slots__ = ("_adapt", "_aio", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt = adapt_connection
        self._aio = adapt_connection._connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def execute(self, operation: str, parameters: Any = None) -> None:
        aio = self._aio
        try:
            description, rows, self.rowcount, self.lastrowid = await_only(
                aio._execute(run, aio._conn, operation, () if parameters is None else parameters)
            )
        except Exception as error:
            self._adapt._handle_exception(error)
        self.description = description
        self._rows = deque(rows)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        aio = self._aio
        try:
            self.description, _, self.rowcount, self.lastrowid = await_only(
                aio._execute(_run_many, aio._conn, operation, seq_of_parameters)
            )
        except Exception as error:
            self._adapt._handle_exception(error)
        self._rows = deque()

    def fetchone(self) -> Any:
        rows = self._rows
        return rows.popleft() if rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        n = min(self.arraysize if size is None else size, len(rows))
        return [rows.popleft() for _ in range(n)]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        rows = self._rows
        while rows:
            yield rows.popleft()

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio layer closes adapted cursors through this; there is
        nothing left open."""

    def setinputsizes(self, *inputsizes: Any) -> None:
        """Not used by SQLite."""

    def nextset(self) -> None:
        """SQLite statements have one result set."""
        self._rows.clear()


def _dbapi() -> Any:
    """SQLAlchemy's aiosqlite DBAPI shim, with connections that hand out OneHopCursors
    (None when aiosqlite lacks the private queue entry point this relies on)."""
    import aiosqlite
    from sqlalchemy.dialects.sqlite.aiosqlite import (
        AsyncAdapt_aiosqlite_connection,
        AsyncAdapt_aiosqlite_dbapi,
    )

    if not callable(getattr(aiosqlite.Connection, "_execute", None)):
        return None

    class Connection(AsyncAdapt_aiosqlite_connection):
        __slots__ = ()

        def cursor(self, server_side: bool = False) -> Any:
            if server_side:
                return super().cursor(server_side=True)
            return OneHopCursor(self)

    class DBAPI(AsyncAdapt_aiosqlite_dbapi):
        one_hop = True

        def connect(self, *arg: Any, **kw: Any) -> Any:
            adapted = super().connect(*arg, **kw)
            return Connection(self, adapted._connection)

    return DBAPI(aiosqlite, sqlite3)


def is_one_hop(dbapi: Any) -> bool:
    """Whether ``dbapi`` (a dialect's ``loaded_dbapi``) is the shim :func:`_dbapi` builds,
    whose connections wrap aiosqlite connections that :func:`run` can be queued on."""
    return getattr(dbapi, "one_hop", False) is True


def engine_options(url: URL) -> dict[str, Any]:
    """Extra ``create_async_engine`` options for ``url`` (empty unless it is aiosqlite)."""
    if url.get_backend_name() != "sqlite" or url.get_driver_name() != "aiosqlite":
        return {}
    dbapi = _dbapi()
    return {} if dbapi is None else {"module": dbapi}


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Enforce foreign keys (off by default in SQLite), and make LIKE
    # case-sensitive so that contains/startswith behave as on PostgreSQL.
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA case_sensitive_like = ON")
    cursor.close()
    # SQLite's own lower()/upper() fold ASCII letters only, so icontains / iexact
    # (lower() on both sides) missed "CORAÇÃO" for "coração"; Python's fold every letter,
    # as PostgreSQL's and MariaDB's do.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    dbapi_connection.create_function("upper", 1, _upper, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else _as_text(value, str.lower)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else _as_text(value, str.upper)


def _as_text(value: Any, fold: Any) -> Any:
    """What SQLite's lower()/upper() give for a value that is not text: NULL stays NULL,
    a number or a blob is read as text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return fold(value.decode("utf-8", "replace"))
    return fold(str(value))


def _begin(dbapi_connection: Any) -> None:
    """BEGIN IMMEDIATE when a connection switched out of autocommit begins a transaction
    (migrations do; ``atomic()`` leaves the driver in autocommit and sends
    ``Features.begin_sql`` itself). Installed as the dialect's ``do_begin``, which
    SQLAlchemy calls with the pooled connection when a ``Connection`` begins.

    The sqlite3 driver would only send BEGIN before the first INSERT/UPDATE/DELETE,
    so reads and savepoints before it ran outside the transaction (a savepoint
    opening the transaction commits it when released). BEGIN IMMEDIATE takes the
    write lock up front: concurrent writers wait (busy timeout) instead of
    failing with "database is locked" when they upgrade their lock.

    This is the dialect's hook rather than the engine's ``begin`` event: a listener on
    the engine's connection events flags it as listened to (``_has_events``), and every
    statement would then look for execution listeners.
    """
    # The driver's isolation_level is None in autocommit.
    if dbapi_connection.isolation_level is not None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.close()


def _nothing_to_roll_back(dbapi_connection: Any) -> bool:
    """SQLAlchemy's ``detect_autocommit_setting``, which decides whether a rollback is
    skipped (``skip_autocommit_rollback``): in autocommit mode *and* no transaction open.

    ``atomic()`` opens its transaction with ``BEGIN IMMEDIATE`` on a connection that stays
    in the driver's autocommit mode (``Features.begin_sql``), so the mode alone would skip
    the rollback of a failed block, and the pool would take the connection back with
    the transaction (and SQLite's write lock) still open.
    """
    try:
        # the sqlite3 connection itself (SQLAlchemy's adapter and aiosqlite forward both
        # attributes to it, through two properties each)
        conn = dbapi_connection._connection._conn
        return conn.isolation_level is None and not conn.in_transaction
    except (AttributeError, ValueError, sqlite3.ProgrammingError):
        return False  # not aiosqlite, or closed: let rollback() decide


def install(engine: Engine) -> None:
    """The connection pragmas, BEGIN IMMEDIATE, rollbacks, and ordered multi-row RETURNING.

    SQLAlchemy runs ``INSERT … RETURNING`` for many rows in batches only where it can
    line the returned rows up with the parameters; on SQLite it sends one INSERT per
    row, because SQLite does not promise the order of RETURNING rows. It does promise
    how it picks a new rowid: one more than the largest in the table (or in
    ``sqlite_sequence`` for AUTOINCREMENT tables), row by row in VALUES order, while
    the statement holds the write lock. Sorting the returned rows by the integer
    primary key therefore restores the parameter order, which is what SQLAlchemy's
    ``ANY_AUTOINCREMENT`` sentinel does. (The exception is a table whose rowid has
    reached 2**63 - 1, where SQLite picks unused rowids at random; upserts, whose
    updated rows keep their old keys, SQLAlchemy already sends one row at a time.)
    """
    event.listen(engine, "connect", _on_connect)
    engine.dialect.do_begin = _begin  # type: ignore[method-assign]
    engine.dialect.detect_autocommit_setting = _nothing_to_roll_back  # type: ignore[method-assign,assignment]
    engine.dialect.insertmanyvalues_implicit_sentinel = (
        InsertmanyvaluesSentinelOpts.ANY_AUTOINCREMENT
    )
