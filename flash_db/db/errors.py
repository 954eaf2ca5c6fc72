"""Driver errors to flash_db errors.

SQLAlchemy already wraps asyncpg, aiomysql and sqlite3 exceptions in its
DBAPI exception classes; this module maps those onto the flash_db tree with
a one-line message (the driver's first line plus a hint) and keeps the
original as ``driver_error``. Tracebacks of the driver are not chained into
the new error, so they do not leak into user output.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import exc as sa_exc

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


def first_line(error: BaseException) -> str:
    """The driver's message, reduced to its first meaningful line."""
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip()
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


#: MySQL/MariaDB error codes that are constraint violations although PyMySQL
#: raises them as OperationalError (MariaDB's CHECK failure, 4025, is one).
_MYSQL_INTEGRITY_CODES = frozenset({1048, 1062, 1216, 1217, 1451, 1452, 3819, 4025})


#: SQLSTATE classes (PostgreSQL reports them; asyncpg exposes ``sqlstate``). SQLAlchemy
#: wraps some asyncpg errors, e.g. string truncation, in its generic class only.
_SQLSTATE_CLASSES: dict[str, type[exceptions.DatabaseError]] = {
    "08": exceptions.OperationalError,
    "40": exceptions.TransactionConflict,
    "22": exceptions.DataError,
    "23": exceptions.IntegrityError,
    "42": exceptions.ProgrammingError,
}


#: Same mistake, same class on every backend: SQLite and MySQL report a missing
#: table or column as an OperationalError, PostgreSQL as a ProgrammingError.
_PROGRAMMING = re.compile(r"^(no such (table|column|function)|.*syntax error)", re.I)
_MYSQL_PROGRAMMING_CODES = frozenset({1054, 1064, 1146})
#: deadlock found (1213): InnoDB rolled the whole transaction back
_MYSQL_CONFLICT_CODES = frozenset({1213})


def _mysql_code(error: BaseException) -> int | None:
    args: tuple[Any, ...] = getattr(getattr(error, "orig", None), "args", ())
    code = args[0] if args else None
    return code if isinstance(code, int) else None


def driver_error(error: BaseException) -> BaseException:
    """The driver's own exception (asyncpg's, not SQLAlchemy's adapter around it)."""
    orig = getattr(error, "orig", None) or error
    if type(orig).__module__.startswith("sqlalchemy") and orig.__cause__ is not None:
        return orig.__cause__
    return orig


def _by_code(error: BaseException) -> type[exceptions.DatabaseError] | None:
    orig = getattr(error, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _SQLSTATE_CLASSES:
        return _SQLSTATE_CLASSES[sqlstate[:2]]
    code = _mysql_code(error)
    if code in _MYSQL_INTEGRITY_CODES:
        return exceptions.IntegrityError
    if code in _MYSQL_CONFLICT_CODES:
        return exceptions.TransactionConflict
    if code in _MYSQL_PROGRAMMING_CODES or _PROGRAMMING.search(first_line(error)):
        return exceptions.ProgrammingError
    return None


def translate(error: BaseException, alias: str) -> exceptions.DatabaseError:
    """The flash_db exception for a SQLAlchemy/driver ``error`` raised on database ``alias``."""
    target = _by_code(error) or next(
        (target for source, target in _MAP if isinstance(error, source)), exceptions.DatabaseError
    )
    message = first_line(error)
    hint = _MISSING_TABLE_HINT if _MISSING_TABLE.search(message) else ""
    prefix = "integrity error" if target is exceptions.IntegrityError else "database error"
    return target(f"{prefix} on {alias!r}: {message}{hint}", driver_error(error))


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
        alias = self.alias
        if isinstance(error, sa_exc.DBAPIError):
            raise translate(error, alias) from None
        if isinstance(error, sa_exc.CompileError):
            # The statement cannot be written for this backend (or is malformed, like an
            # OuterRef outside a Subquery): nothing was sent to the database.
            raise exceptions.NotSupportedError(
                f"cannot run this query on {alias!r}: {error}"
            ) from None
        if isinstance(error, (OSError, ConnectionError)):
            # A refused or dropped connection can surface as a bare OSError from the driver.
            raise exceptions.OperationalError(
                f"database unavailable on {alias!r}: {error}; is the server running and the URL right?",
                error,
            ) from None
        return False
