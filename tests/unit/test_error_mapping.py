"""The driver-error mapping of ``flash_db.db.errors``, with errors built as the drivers build
them: asyncpg's exception classes (each carries its SQLSTATE) through SQLAlchemy's adapter,
PyMySQL's ``raise_mysql_exception`` on a server error packet, sqlite3's classes. No
database: the states that a shared test server cannot be put in (PostgreSQL starting up,
a pool checkout that SQLAlchemy does not wrap) are pinned here."""

from __future__ import annotations

import sqlite3
import struct
from typing import Any

import asyncpg
import pymysql
import pytest
import sqlalchemy as sa
from pymysql.constants import CR
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.mysql.aiomysql import MySQLDialect_aiomysql
from sqlalchemy.dialects.postgresql.asyncpg import (
    AsyncAdapt_asyncpg_connection,
    PGDialect_asyncpg,
)

from flash_db.db import errors
from flash_db.exceptions import (
    DatabaseError,
    DataError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    TransactionConflict,
)

PG = PGDialect_asyncpg(dbapi=PGDialect_asyncpg.import_dbapi())
MYSQL = MySQLDialect_aiomysql(dbapi=MySQLDialect_aiomysql.import_dbapi())
errors.register_dbapi(PG)
errors.register_dbapi(MYSQL)


def _asyncpg_error(cls: type[Exception], message: str) -> Exception:
    """``cls`` as SQLAlchemy's asyncpg adapter raises it (its own Error classes, the
    asyncpg exception as ``__cause__``, ``sqlstate`` copied)."""
    try:
        AsyncAdapt_asyncpg_connection._handle_exception_no_connection(PG.loaded_dbapi, cls(message))
    except Exception as adapted:
        return adapted
    raise AssertionError("the adapter did not raise")


def _mysql_error(code: int, message: str, sqlstate: str = "HY000") -> Exception:
    """The exception PyMySQL raises for a server error packet with ``code``."""
    packet = b"\xff" + struct.pack("<h", code) + b"#" + sqlstate.encode() + message.encode()
    try:
        pymysql.err.raise_mysql_exception(packet)
    except pymysql.err.Error as error:
        return error
    raise AssertionError("PyMySQL did not raise")


def _wrapped(orig: Exception, dialect: Any, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """``orig`` as ``Connection.execute`` raises it."""
    error = sa_exc.DBAPIError.instance(
        "SELECT 1",
        {},
        orig,
        dialect.loaded_dbapi.Error,
        connection_invalidated=invalidated,
        dialect=dialect,
    )
    assert isinstance(error, sa_exc.DBAPIError)
    return error


def _raised(error: BaseException, alias: str = "default") -> BaseException:
    """What leaves a ``translated()`` block in which ``error`` was raised."""
    try:
        with errors.translated(alias):
            raise error
    except BaseException as out:
        return out
    raise AssertionError("translated() swallowed the error")


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and text
    return text


# -- PostgreSQL: SQLSTATE classes ------------------------------------------------------------

PG_CASES = [
    # (asyncpg class, its SQLSTATE, flash_db class)
    (asyncpg.exceptions.CannotConnectNowError, "57P03", OperationalError),
    (asyncpg.exceptions.AdminShutdownError, "57P01", OperationalError),
    (asyncpg.exceptions.QueryCanceledError, "57014", OperationalError),
    (asyncpg.exceptions.ObjectNotInPrerequisiteStateError, "55000", OperationalError),
    (asyncpg.exceptions.LockNotAvailableError, "55P03", OperationalError),
    (asyncpg.exceptions.TooManyConnectionsError, "53300", OperationalError),
    (asyncpg.exceptions.DiskFullError, "53100", OperationalError),
    (asyncpg.exceptions.PostgresIOError, "58030", OperationalError),
    (asyncpg.exceptions.ConnectionDoesNotExistError, "08003", OperationalError),
    (asyncpg.exceptions.InvalidPasswordError, "28P01", OperationalError),
    (asyncpg.exceptions.SerializationError, "40001", TransactionConflict),
    (asyncpg.exceptions.DeadlockDetectedError, "40P01", TransactionConflict),
    (asyncpg.exceptions.StringDataRightTruncationError, "22001", DataError),
    (asyncpg.exceptions.InvalidRegularExpressionError, "2201B", DataError),
    (asyncpg.exceptions.InvalidTextRepresentationError, "22P02", DataError),
    (asyncpg.exceptions.NumericValueOutOfRangeError, "22003", DataError),
    (asyncpg.exceptions.DatetimeFieldOverflowError, "22008", DataError),
    (asyncpg.exceptions.UniqueViolationError, "23505", IntegrityError),
    (asyncpg.exceptions.ForeignKeyViolationError, "23503", IntegrityError),
    (asyncpg.exceptions.NotNullViolationError, "23502", IntegrityError),
    (asyncpg.exceptions.CheckViolationError, "23514", IntegrityError),
    (asyncpg.exceptions.UndefinedTableError, "42P01", ProgrammingError),
    (asyncpg.exceptions.CardinalityViolationError, "21000", ProgrammingError),
    (asyncpg.exceptions.InvalidCatalogNameError, "3D000", ProgrammingError),
    (asyncpg.exceptions.InFailedSQLTransactionError, "25P02", DatabaseError),
    (asyncpg.exceptions.RaiseError, "P0001", DatabaseError),
]


@pytest.mark.parametrize(("cls", "sqlstate", "expected"), PG_CASES)
@pytest.mark.parametrize("path", ["wrapped", "raw"])
def test_sqlstate_classes(
    cls: type[Exception], sqlstate: str, expected: type[DatabaseError], path: str
) -> None:
    """Wrapped: as ``Connection.execute`` raises it. Raw: as a pool checkout raises it
    (``engine.pool.connect()`` on the driver path), which SQLAlchemy does not wrap."""
    assert cls.sqlstate == sqlstate  # type: ignore[attr-defined]
    adapted = _asyncpg_error(cls, "the message")
    out = _raised(_wrapped(adapted, PG) if path == "wrapped" else adapted)
    assert type(out) is expected
    assert isinstance(out, DatabaseError)
    assert type(out.driver_error) is cls  # asyncpg's own, not SQLAlchemy's adapter
    assert out.__cause__ is None and out.__suppress_context__
    assert _one_line(out).startswith(
        "integrity error on 'default': the message"
        if expected is IntegrityError
        else "database error on 'default': the message"
    )


def test_postgresql_starting_up_says_to_wait() -> None:
    """57P03 is what every statement gets while the server starts (or stops): asyncpg's
    adapter raises it as its base Error, from the pool checkout."""
    adapted = _asyncpg_error(
        asyncpg.exceptions.CannotConnectNowError, "the database system is starting up"
    )
    assert type(adapted).__name__ == "Error"
    out = _raised(adapted)
    assert isinstance(out, OperationalError)
    assert _one_line(out) == (
        "database error on 'default': the database system is starting up; the server is "
        "starting up or shutting down: try again in a moment"
    )


def test_postgresql_terminated_session_is_a_lost_connection() -> None:
    adapted = _asyncpg_error(
        asyncpg.exceptions.AdminShutdownError, "terminating connection due to administrator command"
    )
    out = _raised(_wrapped(adapted, PG))
    assert isinstance(out, OperationalError)
    assert "the connection to the server was lost" in _one_line(out)


def test_postgresql_closed_connection_is_lost() -> None:
    """asyncpg's client-side "connection is closed" (an InterfaceError without SQLSTATE);
    raw, the dialect's disconnect check is asked."""
    adapted = _asyncpg_error(asyncpg.exceptions.InterfaceError, "connection is closed")
    out = _raised(adapted)
    assert type(out) is OperationalError
    assert "the connection to the server was lost" in _one_line(out)


def test_conflict_says_to_run_the_transaction_again() -> None:
    adapted = _asyncpg_error(asyncpg.exceptions.SerializationError, "could not serialize access")
    assert _one_line(_raised(_wrapped(adapted, PG))).endswith("; run the whole transaction again")


def test_missing_table_hint() -> None:
    adapted = _asyncpg_error(asyncpg.exceptions.UndefinedTableError, 'relation "x" does not exist')
    assert "did you run create_all()" in _one_line(_raised(_wrapped(adapted, PG)))


# -- MySQL / MariaDB: error numbers ----------------------------------------------------------

MYSQL_CASES = [
    # (error number, message, flash_db class)
    (1292, "Truncated incorrect DOUBLE value: 'abc'", DataError),
    (1292, "Incorrect date value: '2024-13-45' for column `published` at row 1", DataError),
    (1139, "Regex error 'missing closing parenthesis at offset 1'", DataError),
    (3685, "Illegal argument to a regular expression.", DataError),
    (3692, "Incorrect description of a {min,max} interval.", DataError),
    (1366, "Incorrect integer value: 'x' for column `pages` at row 1", DataError),
    (1264, "Out of range value for column 'pages' at row 1", DataError),
    (1265, "Data truncated for column 'status' at row 1", DataError),
    (1406, "Data too long for column 'name' at row 1", DataError),
    (1690, "BIGINT UNSIGNED value is out of range in '0 - 1'", DataError),
    (1365, "Division by 0", DataError),
    (3140, 'Invalid JSON text: "Invalid value." at position 0', DataError),
    (1062, "Duplicate entry 'Ann' for key 'name'", IntegrityError),
    (1048, "Column 'name' cannot be null", IntegrityError),
    (
        1263,
        "Column set to default value; NULL supplied to NOT NULL column 'a' at row 2",
        IntegrityError,
    ),
    (1364, "Field 'title' doesn't have a default value", IntegrityError),
    (1452, "Cannot add or update a child row: a foreign key constraint fails", IntegrityError),
    (1451, "Cannot delete or update a parent row: a foreign key constraint fails", IntegrityError),
    (4025, "CONSTRAINT `price_nonneg` failed for `db`.`books`", IntegrityError),
    (3819, "Check constraint 'price_nonneg' is violated.", IntegrityError),
    (
        1213,
        "Deadlock found when trying to get lock; try restarting transaction",
        TransactionConflict,
    ),
    (1020, "Record has changed since last read in table 'books'", TransactionConflict),
    (1205, "Lock wait timeout exceeded; try restarting transaction", OperationalError),
    (1040, "Too many connections", OperationalError),
    (1927, "Connection was killed", OperationalError),
    (1146, "Table 'db.x' doesn't exist", ProgrammingError),
    (1054, "Unknown column 'x' in 'field list'", ProgrammingError),
    (1049, "Unknown database 'nope'", ProgrammingError),
    (1242, "Subquery returns more than 1 row", ProgrammingError),
]


@pytest.mark.parametrize(("code", "message", "expected"), MYSQL_CASES)
@pytest.mark.parametrize("path", ["wrapped", "raw"])
def test_mysql_codes(code: int, message: str, expected: type[DatabaseError], path: str) -> None:
    orig = _mysql_error(code, message)
    out = _raised(_wrapped(orig, MYSQL) if path == "wrapped" else orig)
    assert type(out) is expected
    assert out.driver_error is orig
    assert message in _one_line(out)


@pytest.mark.parametrize("path", ["wrapped", "raw"])
def test_mysql_refused(path: str) -> None:
    orig = pymysql.err.OperationalError(
        CR.CR_CONN_HOST_ERROR, "Can't connect to MySQL server on '127.0.0.1' ([Errno 111])"
    )
    out = _raised(_wrapped(orig, MYSQL) if path == "wrapped" else orig)
    assert type(out) is OperationalError
    assert _one_line(out).endswith("; is the server running and the URL right?")


@pytest.mark.parametrize("code", [CR.CR_SERVER_LOST, CR.CR_SERVER_GONE_ERROR])
def test_mysql_lost_raw(code: int) -> None:
    """2013/2006 raw, as ``atomic()`` gets them from ``execution_options(isolation_level=…)``
    on a pooled connection that the server closed while it was idle."""
    orig = pymysql.err.OperationalError(code, "Lost connection to MySQL server during query")
    out = _raised(orig)
    assert type(out) is OperationalError
    assert out.driver_error is orig
    assert _one_line(out).startswith(
        "database error on 'default': Lost connection to MySQL server during query; "
        "the connection to the server was lost"
    )


# -- SQLite ----------------------------------------------------------------------------------


def test_sqlite_regexp_failure_is_a_data_error() -> None:
    """SQLite's REGEXP is SQLAlchemy's Python function; an invalid pattern makes it raise,
    and sqlite3 reports only that a user-defined function raised."""
    orig = sqlite3.OperationalError("user-defined function raised exception")
    out = _raised(sa_exc.DBAPIError.instance("SELECT 1", (), orig, sqlite3.Error))
    assert type(out) is DataError
    assert "valid Python regular expression" in _one_line(out)


def test_sqlite_operational_errors() -> None:
    for message in ("unable to open database file", "database is locked"):
        orig = sqlite3.OperationalError(message)
        out = _raised(sa_exc.DBAPIError.instance("SELECT 1", (), orig, sqlite3.Error))
        assert type(out) is OperationalError, message


def test_sqlite_int_overflow_is_a_data_error() -> None:
    """sqlite3 raises OverflowError, no DB-API error, for an int beyond 64 bits."""
    out = _raised(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert type(out) is DataError
    assert _one_line(out) == (
        "database error on 'default': Python int too large to convert to SQLite INTEGER"
    )


# -- SQLAlchemy's own errors -----------------------------------------------------------------


def _memory_connection() -> Any:
    """A DB-API connection for a pool that is never used for a statement."""
    return sqlite3.connect(":memory:")


def test_pool_timeout_names_the_settings() -> None:
    pool = sa.pool.QueuePool(_memory_connection, pool_size=1, max_overflow=0, timeout=0.01)
    held = pool.connect()
    try:
        with pytest.raises(sa_exc.TimeoutError) as raised:
            pool.connect()
    finally:
        held.close()
        pool.dispose()
    out = _raised(raised.value, "reports")
    assert type(out) is OperationalError
    assert out.driver_error is raised.value
    assert _one_line(out).startswith(
        "database error on 'reports': all 1 connections of the pool are in use "
        "(pool_size=1, max_overflow=0) and none came free within pool_timeout=0.01s; "
        "raise pool_size, max_overflow or pool_timeout in connect()"
    )


def test_refused_value_is_a_data_error() -> None:
    """A bind processor refused the value: SQLAlchemy's StatementError, no DBAPIError,
    and nothing was sent."""
    orig = TypeError("SQLite Date type only accepts Python date objects as input.")
    out = _raised(sa_exc.StatementError(str(orig), "SELECT ?", ("x",), orig))
    assert type(out) is DataError
    assert out.driver_error is orig
    assert "SQLite Date type only accepts Python date objects" in _one_line(out)
    assert "nothing was sent" in str(out)


def test_missing_parameter_is_a_programming_error() -> None:
    orig = sa_exc.InvalidRequestError("A value is required for bind parameter 'x'")
    out = _raised(sa_exc.StatementError(str(orig), "SELECT :x", {}, orig))
    assert type(out) is ProgrammingError
    assert "A value is required for bind parameter 'x'" in _one_line(out)


def test_pending_rollback_is_operational() -> None:
    """Every statement on a transaction's connection after it was lost."""
    orig = sa_exc.PendingRollbackError(
        "Can't reconnect until invalid transaction is rolled back.", code="8s2b"
    )
    out = _raised(orig)
    assert type(out) is OperationalError
    assert "leave the atomic() block and run it again" in _one_line(out)


def test_compile_error_is_not_supported() -> None:
    out = _raised(sa_exc.CompileError("no such construct"))
    assert type(out) is NotSupportedError


def test_connection_refused_oserror() -> None:
    out = _raised(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)"))
    assert type(out) is OperationalError
    assert _one_line(out).endswith("; is the server running and the URL right?")


def test_other_errors_pass_through() -> None:
    """Only database errors are translated: a bug in the block stays itself."""
    for error in (ValueError("x"), KeyError("k"), sa_exc.InvalidRequestError("y")):
        assert _raised(error) is error


def test_register_dbapi_is_idempotent() -> None:
    before = errors._dbapi_errors
    errors.register_dbapi(PGDialect_asyncpg(dbapi=PGDialect_asyncpg.import_dbapi()))
    assert errors._dbapi_errors == before
