"""Driver errors to flash_db errors.

Every statement runs inside :class:`translated`, which turns what the layers below
raise into the flash_db tree, with a one-line message (the driver's first line plus
a hint naming the fix) and the original kept as ``driver_error``:

- SQLAlchemy's ``DBAPIError`` wrappers of asyncpg, aiomysql and sqlite3 errors;
- the same driver errors raw, where SQLAlchemy does not wrap them: a pool checkout
  (``pool.connect()``) and a connection's ``execution_options(isolation_level=…)``
  raise the DB-API's own exception. :func:`register_dbapi` records each engine's
  DB-API error class, and such errors are wrapped as SQLAlchemy would have;
- a pool timeout (``sqlalchemy.exc.TimeoutError``): :class:`OperationalError`;
- a value refused before anything was sent (a ``StatementError`` that is no
  ``DBAPIError``: a type's bind processor raised): :class:`DataError`.

The class comes from the error's code first (PostgreSQL's SQLSTATE, MySQL's error
number), because the drivers' own classes are too coarse: asyncpg reports
"the database system is starting up" as its base ``Error`` and PyMySQL raises
every server error it has no entry for (>= 1000) as ``OperationalError``, so that a
truncated value or a bad regular expression would look like a lost connection to
retry logic. Driver tracebacks are not chained into the new error (``from None``),
so they do not leak into user output; ``driver_error`` keeps the exception.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect

from .. import exceptions

_MAP: tuple[tuple[type[BaseException], type[exceptions.DatabaseError]], ...] = (
    (sa_exc.IntegrityError, exceptions.IntegrityError),
    (sa_exc.DataError, exceptions.DataError),
    (sa_exc.OperationalError, exceptions.OperationalError),
    (sa_exc.ProgrammingError, exceptions.ProgrammingError),
    (sa_exc.InterfaceError, exceptions.OperationalError),
    (sa_exc.NotSupportedError, exceptions.DatabaseError),
    (sa_exc.InternalError, exceptions.DatabaseError),
    (sa_exc.DBAPIError, exceptions.DatabaseError),
)

_MISSING_TABLE = re.compile(
    r"no such table|relation .* does not exist|table .* doesn't exist", re.I
)
_MISSING_TABLE_HINT = "; did you run create_all() or `flash db migrate`?"
_REFUSED_HINT = "; is the server running and the URL right?"
_LOST_HINT = (
    "; the connection to the server was lost (server restart, idle timeout, killed "
    "session): the pool replaces it, so run the statement (or the atomic() block) again"
)
_STARTING_HINT = "; the server is starting up or shutting down: try again in a moment"
_CONFLICT_HINT = "; run the whole transaction again"
#: SQLite's REGEXP (and SQLAlchemy's floor()) is a Python function registered on the
#: connection; when it raises, sqlite3 only says this.
_SQLITE_FUNCTION_FAILED = "user-defined function raised exception"
_SQLITE_FUNCTION_HINT = (
    " (SQLite runs REGEXP in Python: is the __regex/__iregex pattern a valid Python "
    "regular expression?)"
)
#: SQLAlchemy appends a link to its own docs to some messages
_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")


def first_line(error: BaseException) -> str:
    """The driver's message, reduced to its first meaningful line."""
    orig = getattr(error, "orig", None) or error
    text = _BACKGROUND.sub("", str(orig)).strip()
    # asyncpg / aiomysql errors arrive as "<class '...'>: message" through SQLAlchemy's adapters.
    if text.startswith("<class '") and ">: " in text:
        text = text.split(">: ", 1)[1]
    # aiomysql: (1062, "Duplicate entry 'Ann' for key 'name'")
    if text.startswith("(") and ", " in text and text.endswith(")"):
        code, _, rest = text[1:-1].partition(", ")
        if code.isdigit():
            text = (
                rest[1:-1] if len(rest) > 1 and rest[0] == rest[-1] and rest[0] in "\"'" else rest
            )
    line = text.splitlines()[0] if text else type(orig).__name__
    return line


#: PostgreSQL SQLSTATE classes (asyncpg exposes ``sqlstate``), as psycopg maps them
#: (``psycopg.errors._base_exc_map``), with flash_db's meaning: class 40 (serialization
#: failure, deadlock) is TransactionConflict. psycopg's InternalError classes (24, 25,
#: 2B, 2D, XX) and 0A stay DatabaseError; P0 (a RAISE in the user's own PL/pgSQL)
#: too, being no mistake in the SQL. SQLAlchemy's asyncpg adapter maps only integrity
#: and syntax errors; the rest, e.g. 57P03 "the database system is starting up" or
#: 22001 string truncation, arrive as its base Error.
_SQLSTATE_CLASSES: dict[str, type[exceptions.DatabaseError]] = {
    "08": exceptions.OperationalError,  # connection exception
    "20": exceptions.ProgrammingError,  # case not found
    "21": exceptions.ProgrammingError,  # cardinality violation (a subquery of many rows)
    "22": exceptions.DataError,  # data exception
    "23": exceptions.IntegrityError,  # integrity constraint violation
    "26": exceptions.ProgrammingError,  # invalid SQL statement name
    "27": exceptions.OperationalError,  # triggered data change violation
    "28": exceptions.OperationalError,  # invalid authorization (wrong password)
    "2F": exceptions.OperationalError,  # SQL routine exception
    "34": exceptions.ProgrammingError,  # invalid cursor name
    "38": exceptions.OperationalError,  # external routine exception
    "39": exceptions.OperationalError,  # external routine invocation exception
    "3B": exceptions.OperationalError,  # savepoint exception
    "3D": exceptions.ProgrammingError,  # invalid catalog name (no such database)
    "3F": exceptions.ProgrammingError,  # invalid schema name
    "40": exceptions.TransactionConflict,  # transaction rollback
    "42": exceptions.ProgrammingError,  # syntax error or access rule violation
    "44": exceptions.ProgrammingError,  # WITH CHECK OPTION violation
    "53": exceptions.OperationalError,  # insufficient resources (too many connections)
    "54": exceptions.OperationalError,  # program limit exceeded
    "55": exceptions.OperationalError,  # object not in prerequisite state (lock_timeout)
    "57": exceptions.OperationalError,  # operator intervention (starting up, terminated)
    "58": exceptions.OperationalError,  # system error (I/O)
    "F0": exceptions.OperationalError,  # configuration file error
    "HV": exceptions.OperationalError,  # foreign data wrapper error
}
#: SQLSTATEs of a connection the server ended: admin_shutdown (pg_terminate_backend,
#: a fast shutdown), crash_shutdown, idle_session_timeout
_SQLSTATE_LOST = frozenset({"57P01", "57P02", "57P05"})
_SQLSTATE_STARTING = "57P03"  # cannot_connect_now: starting up, shutting down, recovering

_I = exceptions.IntegrityError
_D = exceptions.DataError
_P = exceptions.ProgrammingError
_T = exceptions.TransactionConflict

#: MySQL/MariaDB error numbers and their flash_db class. PyMySQL raises every server
#: error missing from its small table (``pymysql.err.error_map``) as OperationalError,
#: and drops the SQLSTATE the server sends, so the number is all there is. The list
#: holds PyMySQL's DataError and IntegrityError entries too, so that the class does not
#: hang on PyMySQL's table, except 1263 (a NULL into a NOT NULL column), which PyMySQL
#: calls a DataError: an IntegrityError here, as 1048 and PostgreSQL's 23502 are.
_MYSQL_CODES: dict[int, type[exceptions.DatabaseError]] = {
    # integrity: a NOT NULL column left out (strict mode), MariaDB's CHECK (4025),
    # MySQL's CHECK (3819), duplicates through a foreign key's cascade
    1048: _I,  # column cannot be null
    1062: _I,  # duplicate entry
    1169: _I,  # can't write, because of unique constraint
    1216: _I,  # cannot add or update a child row
    1217: _I,  # cannot delete or update a parent row
    1263: _I,  # NULL supplied to NOT NULL column (multi-row INSERT)
    1364: _I,  # field doesn't have a default value
    1451: _I,  # cannot delete or update a parent row (with the constraint)
    1452: _I,  # cannot add or update a child row (with the constraint)
    1586: _I,  # duplicate entry for key (named)
    1761: _I,  # foreign key would lead to a duplicate entry in a child table
    1762: _I,  # the same, without the child's name
    3819: _I,  # check constraint violated (MySQL)
    4025: _I,  # CONSTRAINT failed (MariaDB's CHECK)
    # data: a value that does not convert or fit (strict mode turns the warning into
    # the error); PostgreSQL reports each of these in SQLSTATE class 22
    1138: _D,  # invalid use of NULL value
    1139: _D,  # regex error (MariaDB's PCRE)
    1264: _D,  # out of range value for column
    1265: _D,  # data truncated for column
    1292: _D,  # truncated incorrect value / incorrect date value
    1300: _D,  # invalid character string
    1365: _D,  # division by 0 (ERROR_FOR_DIVISION_BY_ZERO)
    1366: _D,  # incorrect integer/string value for column
    1367: _D,  # illegal value found during parsing
    1406: _D,  # data too long for column
    1411: _D,  # incorrect value for function
    1416: _D,  # cannot get geometry object
    1441: _D,  # datetime function: field overflow
    1525: _D,  # incorrect value
    1690: _D,  # value is out of range (BIGINT UNSIGNED arithmetic)
    1918: _D,  # illegal value when converting (MariaDB)
    3140: _D,  # invalid JSON text (MySQL)
    3141: _D,  # invalid JSON text in argument (MySQL)
    3146: _D,  # invalid data type for JSON data (MySQL)
    3155: _D,  # JSON value out of range (MySQL)
    3156: _D,  # invalid JSON value for CAST (MySQL)
    **dict.fromkeys((3685, 3686, *range(3688, 3698), 3700), _D),  # MySQL 8's ICU regex
    # programming: what PostgreSQL reports in SQLSTATE classes 42, 21 and 3D
    1049: _P,  # unknown database
    1052: _P,  # column is ambiguous
    1054: _P,  # unknown column
    1055: _P,  # not in GROUP BY (ONLY_FULL_GROUP_BY)
    1064: _P,  # syntax error
    1146: _P,  # table doesn't exist
    1242: _P,  # subquery returns more than 1 row
    1305: _P,  # FUNCTION does not exist
    # conflicts the server resolved by rolling the whole transaction back: InnoDB's
    # deadlock, and MariaDB's write conflict under innodb_snapshot_isolation. A lock wait
    # timeout (1205) rolls back only the statement: it stays an OperationalError.
    1020: _T,  # record has changed since last read
    1213: _T,  # deadlock found
}
#: can't connect: through a socket, to a host, an unknown host
_MYSQL_REFUSED = frozenset({2002, 2003, 2005})

#: Same mistake, same class on every backend: SQLite reports a missing table or column
#: as an OperationalError, PostgreSQL as a ProgrammingError.
_PROGRAMMING = re.compile(r"^(no such (table|column|function)|.*syntax error)", re.I)


def _mysql_code(error: BaseException) -> int | None:
    args: tuple[Any, ...] = getattr(getattr(error, "orig", None), "args", ())
    code = args[0] if args else None
    return code if isinstance(code, int) else None


def _sqlstate(error: BaseException) -> str | None:
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def driver_error(error: BaseException) -> BaseException:
    """The driver's own exception (asyncpg's, not SQLAlchemy's adapter around it)."""
    orig = getattr(error, "orig", None) or error
    if type(orig).__module__.startswith("sqlalchemy") and orig.__cause__ is not None:
        return orig.__cause__
    return orig


def _by_code(error: BaseException) -> type[exceptions.DatabaseError] | None:
    sqlstate = _sqlstate(error)
    if sqlstate is not None and sqlstate[:2] in _SQLSTATE_CLASSES:
        return _SQLSTATE_CLASSES[sqlstate[:2]]
    code = _mysql_code(error)
    if code is not None and code in _MYSQL_CODES:
        return _MYSQL_CODES[code]
    message = first_line(error)
    if _PROGRAMMING.search(message):
        return exceptions.ProgrammingError
    if message == _SQLITE_FUNCTION_FAILED:
        return exceptions.DataError
    return None


def _lost(error: sa_exc.DBAPIError) -> bool:
    """Whether ``error`` says the connection is gone (SQLAlchemy's ``is_disconnect``
    decided it, or PostgreSQL said why it ended the session)."""
    return bool(error.connection_invalidated) or _sqlstate(error) in _SQLSTATE_LOST


def _hint(error: sa_exc.DBAPIError, target: type[exceptions.DatabaseError], message: str) -> str:
    if _MISSING_TABLE.search(message):
        return _MISSING_TABLE_HINT
    if _lost(error):
        return _LOST_HINT
    if _sqlstate(error) == _SQLSTATE_STARTING:
        return _STARTING_HINT
    if _mysql_code(error) in _MYSQL_REFUSED:
        return _REFUSED_HINT
    if message == _SQLITE_FUNCTION_FAILED:
        return _SQLITE_FUNCTION_HINT
    if target is exceptions.TransactionConflict:
        return _CONFLICT_HINT
    return ""


def translate(error: sa_exc.DBAPIError, alias: str) -> exceptions.DatabaseError:
    """The flash_db exception for a SQLAlchemy/driver ``error`` raised on database ``alias``."""
    target = _by_code(error) or next(
        (target for source, target in _MAP if isinstance(error, source)), exceptions.DatabaseError
    )
    if _lost(error) and not issubclass(target, exceptions.OperationalError):
        # e.g. asyncpg's 57P01 arrives as its base Error: a lost connection is one
        # failure whatever the driver called it, and retry logic looks for this class
        target = exceptions.OperationalError
    message = first_line(error)
    prefix = "integrity error" if target is exceptions.IntegrityError else "database error"
    return target(
        f"{prefix} on {alias!r}: {message}{_hint(error, target, message)}", driver_error(error)
    )


#: DB-API base error class -> a dialect of that DB-API (see :func:`register_dbapi`)
_DIALECTS: dict[type[Exception], Dialect] = {}
_dbapi_errors: tuple[type[Exception], ...] = ()


def register_dbapi(dialect: Dialect, *native: type[Exception]) -> None:
    """Let :class:`translated` recognise raw errors of ``dialect``'s DB-API, and the
    driver's ``native`` exception classes that reach the application unwrapped too.

    SQLAlchemy wraps driver errors in ``DBAPIError`` only inside ``Connection``'s
    execution; a checkout from the pool (``engine.pool.connect()``, the driver path's)
    and ``Connection.execution_options(isolation_level=…)`` raise the driver's own
    exception: asyncpg's adapter ``Error`` while PostgreSQL starts up, PyMySQL's
    ``OperationalError`` 2013 when the server has dropped an idle connection. Called
    for every engine flash_db creates.
    """
    global _dbapi_errors
    bases: tuple[type[Exception], ...] = (dialect.loaded_dbapi.Error, *native)
    for base in bases:
        _DIALECTS.setdefault(base, dialect)
    _dbapi_errors = tuple(_DIALECTS)


def _wrapped(error: BaseException) -> sa_exc.DBAPIError:
    """A raw DB-API ``error`` as SQLAlchemy's ``DBAPIError`` subclass, as ``Connection``
    would have raised it (its disconnect check included)."""
    base, dialect = next((b, d) for b, d in _DIALECTS.items() if isinstance(error, b))
    try:
        lost = bool(dialect.is_disconnect(error, None, None))  # type: ignore[arg-type]
    except Exception:
        lost = False  # a dialect's check that needs a connection: not known to be lost
    if not isinstance(error, dialect.loaded_dbapi.Error):
        # a native asyncpg error: the dialect's check knows only its adapter's classes
        lost = lost or "connection is closed" in str(error)
    wrapped = sa_exc.DBAPIError.instance(
        None, None, error, base, connection_invalidated=lost, dialect=dialect
    )
    assert isinstance(wrapped, sa_exc.DBAPIError)
    return wrapped


_POOL_LIMITS = re.compile(r"limit of size (\d+) overflow (-?\d+) reached.* timeout ([\d.]+)")


def _pool_timeout(error: sa_exc.TimeoutError, alias: str) -> exceptions.OperationalError:
    """No connection came free within ``pool_timeout``: every one was checked out."""
    found = _POOL_LIMITS.search(str(error))
    if found is None:
        problem = first_line(error)
    else:
        size, overflow, timeout = found.groups()
        problem = (
            f"all {int(size) + max(int(overflow), 0)} connections of the pool are in use "
            f"(pool_size={size}, max_overflow={overflow}) and none came free within "
            f"pool_timeout={float(timeout):g}s"
        )
    return exceptions.OperationalError(
        f"database error on {alias!r}: {problem}; raise pool_size, max_overflow or "
        "pool_timeout in connect(), or hold connections for less time (long atomic() "
        "blocks, tasks left waiting inside them)",
        error,
    )


def _refused_value(error: sa_exc.StatementError, alias: str) -> exceptions.DatabaseError:
    """A ``StatementError`` that is no ``DBAPIError``: SQLAlchemy (or the driver path) failed
    while preparing the statement's parameters, before anything was sent."""
    orig = error.orig
    reason = first_line(orig) if orig is not None else first_line(error)
    if isinstance(orig, sa_exc.SQLAlchemyError):
        # SQLAlchemy's own complaint about the statement, e.g. a bind parameter
        # without a value
        return exceptions.ProgrammingError(
            f"database error on {alias!r}: {reason}; nothing was sent to the database",
            orig,
        )
    # a type's bind processor refused the value (SQLite's Date type wants a date)
    return exceptions.DataError(
        f"database error on {alias!r}: a value does not fit its column type ({reason}); "
        "pass a value of the column's Python type, nothing was sent to the database",
        orig or error,
    )


def translation(error: BaseException, alias: str) -> exceptions.FlashDBError | None:
    """The flash_db error for ``error`` raised while running a statement on ``alias``, or
    ``None`` when it is not a database error (the caller lets it through)."""
    if isinstance(error, sa_exc.DBAPIError):
        return translate(error, alias)
    if _dbapi_errors and isinstance(error, _dbapi_errors):
        return translate(_wrapped(error), alias)
    if isinstance(error, sa_exc.TimeoutError):
        return _pool_timeout(error, alias)
    if isinstance(error, sa_exc.StatementError):
        return _refused_value(error, alias)
    if isinstance(error, sa_exc.PendingRollbackError):
        # SQLAlchemy's answer to any statement on a transaction's connection after it was
        # invalidated (lost): the transaction is gone with it
        return exceptions.OperationalError(
            f"database error on {alias!r}: this transaction's connection was lost, so the "
            "transaction is gone; leave the atomic() block and run it again",
            error,
        )
    if isinstance(error, sa_exc.CompileError):
        # The statement cannot be written for this backend (or is malformed, like an
        # OuterRef outside a Subquery): nothing was sent to the database.
        return exceptions.NotSupportedError(f"cannot run this query on {alias!r}: {error}")
    if isinstance(error, OSError):
        # A refused or dropped connection can surface as a bare OSError from the driver
        # (asyncpg's connect; ConnectionError and TimeoutError are OSErrors).
        return exceptions.OperationalError(
            f"database unavailable on {alias!r}: {error}{_REFUSED_HINT}", error
        )
    if isinstance(error, OverflowError):
        # sqlite3 refuses an int beyond 64 bits while binding it, outside its DB-API
        # errors ("Python int too large to convert to SQLite INTEGER")
        return exceptions.DataError(f"database error on {alias!r}: {first_line(error)}", error)
    return None


class translated:
    """Re-raise driver errors inside the ``with`` block as flash_db errors.

    A class rather than a ``@contextmanager`` generator: every statement runs in one,
    and entering and leaving it is then two plain method calls.

    Example::

        with translated("default"):
            await connection.execute(statement)
    """

    __slots__ = ("alias",)

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __enter__(self) -> None:
        return None

    def __exit__(self, _type: Any, error: BaseException | None, _traceback: Any) -> Literal[False]:
        if error is None:
            return False
        translated_error = translation(error, self.alias)
        if translated_error is None:
            return False
        raise translated_error from None
