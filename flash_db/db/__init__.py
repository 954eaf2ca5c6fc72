"""The database layer: configuration, engines, routing, execution, error translation."""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy.engine import URL

from .config import Settings, mask, normalise_url, resolve
from .connections import ConnectionHandler, Database, connections
from .transaction import Atomic, on_commit


class _Connect:
    """What ``connect()`` returns: await it, or use it as ``async with``."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._args = args
        self._kwargs = kwargs

    def __await__(self) -> Generator[Any, None, ConnectionHandler]:
        return connections.connect(*self._args, **self._kwargs).__await__()

    async def __aenter__(self) -> ConnectionHandler:
        return await connections.connect(*self._args, **self._kwargs)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await connections.disconnect()


def connect(
    url: str | URL | None = None,
    *,
    databases: Mapping[str, str | URL] | None = None,
    routers: Sequence[Any] = (),
    check: bool = True,
    **engine_options: Any,
) -> _Connect:
    """Open the configured databases (one engine each).

    Without arguments the configuration comes from ``FLASH_DB_URL``, then
    ``[tool.flash_db]`` in pyproject.toml, else SQLite ``./db.sqlite3``.
    ``check=True`` opens one connection per database right away so a wrong
    URL fails here. Extra keyword arguments go to SQLAlchemy's
    ``create_async_engine`` (``pool_size=…``, ``echo=True``)::

        await flash_db.connect("postgresql+asyncpg://postgres@127.0.0.1/app")
        async with flash_db.connect("sqlite+aiosqlite:///:memory:"):
            ...
    """
    return _Connect(
        (url,), {"databases": databases, "routers": routers, "check": check, **engine_options}
    )


def atomic(
    using: str | None = None,
    *,
    isolation: str | None = None,
    savepoint: bool = True,
    read_only: bool = False,
) -> Atomic:
    """A transaction on ``using`` (default database), as ``async with`` or ``@atomic()``.

    Nested blocks are savepoints (``savepoint=False`` joins the outer block
    instead). ``isolation``: "read committed", "repeatable read" or
    "serializable" (outermost block only; SQLite is always serializable).
    ``read_only=True`` refuses writes in the transaction::

        async with atomic():
            await a.save()
            async with atomic():      # SAVEPOINT
                await b.save()
    """
    return Atomic(
        using, isolation=isolation, savepoint=savepoint, read_only=read_only, handler=connections
    )


async def disconnect() -> None:
    """Close every engine and its pooled connections."""
    await connections.disconnect()


async def create_all(using: str | None = None) -> None:
    """CREATE the tables of all registered models (on their databases), skipping existing ones."""
    await connections.create_all(using)


async def drop_all(using: str | None = None) -> None:
    """DROP the tables of all registered models (on their databases)."""
    await connections.drop_all(using)


__all__ = [
    "Atomic",
    "ConnectionHandler",
    "Database",
    "Settings",
    "atomic",
    "connect",
    "connections",
    "create_all",
    "disconnect",
    "drop_all",
    "mask",
    "normalise_url",
    "on_commit",
    "resolve",
]
