"""Which flash_db class each failure comes out as, on every backend: the table of
docs/errors.md. Retry logic tells a connection-level failure (OperationalError) from a
bad value (DataError) or a constraint (IntegrityError) by class alone, so each row is
checked against the real server, on every path a statement can take (the driver path's
pool checkout, SQLAlchemy's execute, ``atomic()``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import flash_db
from flash_db import atomic
from flash_db.exceptions import (
    DatabaseError,
    DataError,
    FlashDBError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
)

from ..conftest import BACKENDS
from ..models import Author, Book, RelBook
from .flashproject import _admin, drop_scratch, scratch_url

DRIVER_MODULE = {"postgresql": "asyncpg", "mysql": "pymysql", "sqlite": "sqlite3"}


@contextlib.asynccontextmanager
async def connected(
    backend: str, default: str | None = None, **options: Any
) -> AsyncIterator[None]:
    """flash_db connected with ``options`` (and ``default`` as the default database) for
    the block, and to the suite's databases again afterwards."""
    suite_default, other = BACKENDS[backend]
    await flash_db.disconnect()
    try:
        await flash_db.connect(
            databases={"default": default or suite_default, "other": other}, **options
        )
        yield
    finally:
        await flash_db.disconnect()
        await flash_db.connect(databases={"default": suite_default, "other": other})


def checked_out() -> int:
    return int(flash_db.connections["default"].engine.pool.checkedout())  # type: ignore[attr-defined]


async def _get() -> None:
    with contextlib.suppress(Author.DoesNotExist):
        await Author.objects.get(pk=1)


async def _in_atomic() -> int:
    async with atomic():
        return await Author.objects.count()


#: the statement paths: a reused statement and a QuerySet SELECT (the driver path, which
#: checks connections out of the pool itself), an INSERT, and a transaction
OPERATIONS: dict[str, Callable[[], Coroutine[Any, Any, Any]]] = {
    "get": _get,
    "count": lambda: Author.objects.count(),
    "create": lambda: Author.objects.create(name="new"),
    "atomic": _in_atomic,
}


def _assert_clean(error: DatabaseError, backend: str, expected: type[DatabaseError]) -> None:
    """One flash_db error of exactly ``expected``, one line, the driver's error kept."""
    assert type(error) is expected, f"{type(error).__name__}: {error}"
    assert isinstance(error, FlashDBError)
    assert "\n" not in str(error)
    driver = error.driver_error
    assert driver is not None
    assert type(driver).__module__.split(".")[0] in {DRIVER_MODULE[backend], "builtins"}
    assert error.__cause__ is None and error.__suppress_context__


# -- connection refused ---------------------------------------------------------------------


def _unreachable(backend: str) -> str:
    """A URL of ``backend`` that cannot be connected to: a port where nothing listens,
    for SQLite a file in a directory that does not exist."""
    if backend == "sqlite":
        return "sqlite+aiosqlite:////nonexistent-dir/flash_db/db.sqlite3"
    return make_url(BACKENDS[backend][0]).set(host="127.0.0.1", port=1).render_as_string(False)


async def test_refused_at_connect(db: str) -> None:
    handler = flash_db.db.ConnectionHandler()
    with pytest.raises(OperationalError) as info:
        await handler.connect(_unreachable(db))
    _assert_clean(info.value, db, OperationalError)
    hint = "unable to open database file" if db == "sqlite" else "is the server running"
    assert hint in str(info.value)


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_refused_on_the_first_query(db: str, operation: str) -> None:
    """connect(check=False) opens nothing; the first statement is refused."""
    async with connected(db, _unreachable(db), check=False):
        with pytest.raises(OperationalError) as info:
            await OPERATIONS[operation]()
        _assert_clean(info.value, db, OperationalError)
        assert checked_out() == 0


# -- connection refused by a server that already answered (the driver path's checkout) ----


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_refused_after_the_server_answered(db: str, tmp_path: Path, operation: str) -> None:
    """PostgreSQL refuses new connections to a database with ALLOW_CONNECTIONS false
    (SQLSTATE 55000), as it refuses every one while starting up (57P03). Once the dialect
    knows the server, statements run by plans that check a connection out of the pool
    themselves, where SQLAlchemy does not wrap the driver's error: it used to leak as
    asyncpg's ``AsyncAdapt_asyncpg_dbapi.Error`` (and 55000 came out as DatabaseError)."""
    if db != "postgresql":
        pytest.skip("ALLOW_CONNECTIONS is PostgreSQL's")
    url = scratch_url(db, tmp_path)
    name = make_url(url).database
    try:
        async with connected(db, url):
            await flash_db.create_all(using="default")
            await Author.objects.count()  # the dialect learns the server; plans are made
            await flash_db.connections["default"].engine.dispose()  # no idle connection
            _admin(make_url(url), f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
            try:
                with pytest.raises(OperationalError) as info:
                    await OPERATIONS[operation]()
                _assert_clean(info.value, db, OperationalError)
                assert "is not currently accepting connections" in str(info.value)
                assert checked_out() == 0
            finally:
                _admin(make_url(url), f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
            assert await Author.objects.count() >= 0
    finally:
        drop_scratch(url)


# -- connection terminated mid-session ------------------------------------------------------


async def _end_session_of_default(backend: str) -> None:
    """End the server session of the default database's one pooled connection, from the
    ``other`` alias's own connection (only that session: the servers are shared)."""
    own = flash_db.connections.execute
    if backend == "postgresql":
        pid = (await own("default", sa.text("SELECT pg_backend_pid()"))).scalar_one()
        await own("other", sa.text(f"SELECT pg_terminate_backend({int(pid)})"))
    else:
        pid = (await own("default", sa.text("SELECT CONNECTION_ID()"))).scalar_one()
        await own("other", sa.text(f"KILL {int(pid)}"))
    # a moment for the driver to read the server's goodbye (before it, asyncpg can report
    # "another operation is in progress": an OperationalError too, but not the case here)
    await asyncio.sleep(0.2)


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_idle_connection_the_server_ended_is_replaced(db: str, operation: str) -> None:
    """The server ended the session of the pool's idle connection (a restart, an idle
    timeout, a killed session): the next statement runs on a new connection, with no
    error and no reconnect call; the pool saw the server's goodbye and replaced the
    connection at checkout, with no round trip. (MariaDB's ``atomic()`` failed first
    in ``execution_options(isolation_level=…)``, with PyMySQL's 2013 unwrapped.)"""
    if db == "sqlite":
        pytest.skip("SQLite has no server session to end")
    async with connected(db, pool_size=1, max_overflow=0):
        await _end_session_of_default(db)
        await OPERATIONS[operation]()
        assert checked_out() == 0
        assert await Author.objects.count() >= 0
        assert checked_out() == 0


async def test_connection_lost_mid_statement(db: str) -> None:
    """The server ends the session while it runs a statement: an OperationalError that
    says the connection was lost (retry-safe to classify); the next statement gets a
    new connection, with no reconnect call."""
    if db == "sqlite":
        pytest.skip("SQLite has no server session to end")
    own = flash_db.connections.execute
    sleep, whoami = {
        "postgresql": ("SELECT pg_sleep(5)", "SELECT pg_backend_pid()"),
        "mysql": ("SELECT SLEEP(5)", "SELECT CONNECTION_ID()"),
    }[db]
    async with connected(db, pool_size=1, max_overflow=0):
        pid = int((await own("default", sa.text(whoami))).scalar_one())
        running = asyncio.create_task(own("default", sa.text(sleep)))
        await asyncio.sleep(0.3)  # the statement is running on the server
        end = f"SELECT pg_terminate_backend({pid})" if db == "postgresql" else f"KILL {pid}"
        await own("other", sa.text(end))
        with pytest.raises(OperationalError) as info:
            await running
        _assert_clean(info.value, db, OperationalError)
        assert "the connection to the server was lost" in str(info.value)
        assert checked_out() == 0
        assert await Author.objects.count() == 0
        assert checked_out() == 0


async def test_terminated_inside_atomic(db: str) -> None:
    """Inside a transaction the lost connection takes the transaction with it: every
    later statement of the block, and its end, say so as an OperationalError."""
    if db == "sqlite":
        pytest.skip("SQLite has no server session to end")
    async with connected(db, pool_size=1, max_overflow=0):
        with pytest.raises(OperationalError, match="transaction is gone"):
            async with atomic():
                await Author.objects.create(name="lost")
                await _end_session_of_default(db)
                with pytest.raises(OperationalError, match="connection to the server was lost"):
                    await Author.objects.count()
                with pytest.raises(OperationalError, match="transaction is gone") as info:
                    await Author.objects.count()
                # SQLAlchemy's refusal to use the invalidated connection: no driver error
                assert type(info.value) is OperationalError and "\n" not in str(info.value)
        assert checked_out() == 0
        assert await Author.objects.count() == 0


# -- pool timeout ---------------------------------------------------------------------------


async def test_pool_timeout(db: str) -> None:
    """The only connection is held by a transaction; another task waits pool_timeout for
    one and gets an OperationalError naming the settings, on every path."""
    async with connected(db, pool_size=1, max_overflow=0, pool_timeout=0.2):
        await Author.objects.create(name="Ann")
        async with atomic():
            await Author.objects.count()  # the transaction holds the connection
            for operation in OPERATIONS.values():
                with pytest.raises(OperationalError) as info:
                    await asyncio.create_task(operation())
                error = info.value
                assert type(error) is OperationalError
                assert "\n" not in str(error)
                assert "(pool_size=1, max_overflow=0)" in str(error)
                assert "pool_timeout=0.2s" in str(error)
                assert isinstance(error.driver_error, sa.exc.TimeoutError)
        assert checked_out() == 0
        assert await Author.objects.count() == 1


# -- values and constraints -----------------------------------------------------------------


async def _invalid_date() -> None:
    book = await Book.objects.create(title="t")
    await Book.objects.filter(pk=book.pk).update(published=sa.literal_column("'2024-13-45'"))


async def _out_of_range() -> None:
    book = await Book.objects.create(title="t", pages=100_000)
    await Book.objects.filter(pk=book.pk).update(pages=sa.literal_column("pages") * 100_000_000)


async def _truncated_comparison() -> None:
    """MariaDB in strict mode refuses to compare a text that is no number with a number
    in an UPDATE (1292, "Truncated incorrect DECIMAL value")."""
    await Book.objects.create(title="abc", pages=1)
    await Book.objects.filter(pages=sa.literal_column("title")).update(pages=2)


async def _bad_regex() -> None:
    # SQLite calls its (Python) REGEXP only for a row: there must be one
    await Author.objects.create(name="Ann")
    await Author.objects.filter(name__regex="(").count()


async def _bad_iregex() -> None:
    await Author.objects.create(name="Ann")
    await Author.objects.filter(name__iregex="[").count()


async def _unique() -> None:
    await Author.objects.create(name="Ann")
    await Author.objects.create(name="Ann")


async def _foreign_key() -> None:
    await RelBook(title="orphan", author_id=999_999).save(validate=False)


async def _not_null() -> None:
    await Author.objects.create(name="Ann")
    await Author.objects.filter(name="Ann").update(name=None)


async def _too_long() -> None:
    await Author(name="x" * 150).save(validate=False)


#: failure -> (how to cause it, its class per backend; None: the backend stores the value)
TABLE: dict[str, tuple[Callable[[], Awaitable[None]], dict[str, type[DatabaseError] | None]]] = {
    # SQLite's type affinity keeps any text in a DATE column and any 64-bit integer in an
    # INTEGER one, and a text compared with a number is simply unequal
    "invalid date": (_invalid_date, {"postgresql": DataError, "mysql": DataError, "sqlite": None}),
    "out of range": (_out_of_range, {"postgresql": DataError, "mysql": DataError, "sqlite": None}),
    # PostgreSQL has no integer = text operator: the statement itself is refused
    "truncated comparison": (
        _truncated_comparison,
        {"postgresql": ProgrammingError, "mysql": DataError, "sqlite": None},
    ),
    "bad regex": (_bad_regex, dict.fromkeys(DRIVER_MODULE, DataError)),
    "bad iregex": (_bad_iregex, dict.fromkeys(DRIVER_MODULE, DataError)),
    "unique": (_unique, dict.fromkeys(DRIVER_MODULE, IntegrityError)),
    "foreign key": (_foreign_key, dict.fromkeys(DRIVER_MODULE, IntegrityError)),
    "not null": (_not_null, dict.fromkeys(DRIVER_MODULE, IntegrityError)),
    # SQLite does not enforce VARCHAR lengths
    "too long": (_too_long, {"postgresql": DataError, "mysql": DataError, "sqlite": None}),
}


@pytest.mark.parametrize("failure", list(TABLE))
async def test_error_class(db: str, failure: str) -> None:
    cause, classes = TABLE[failure]
    expected = classes[db]
    if expected is None:
        await cause()  # the backend keeps the value as given
        return
    with pytest.raises(DatabaseError) as info:
        await cause()
    _assert_clean(info.value, db, expected)
    assert checked_out() == 0
