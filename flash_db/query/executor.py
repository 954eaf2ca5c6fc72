"""The execution seam between the query layer and ``flash_db.db``.

QuerySets build SQLAlchemy Core statements and hand them to the installed
:class:`Executor`, which picks the database (routers, ``using()``, the task's
open transaction), runs the statement and translates driver errors. The
database layer installs its executor when it is imported; tests or embedders
may install another (e.g. one that records statements).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from sqlalchemy.engine import CursorResult, Dialect, Row
from sqlalchemy.sql import Executable

from ..exceptions import ConfigurationError
from .features import Features


class Executor(Protocol):
    """Runs statements on behalf of QuerySets and model instances."""

    def db_for_read(self, model: Any, using: str | None, **hints: Any) -> str:
        """The alias to read ``model`` from (``using`` wins over routers)."""
        ...

    def db_for_write(self, model: Any, using: str | None, **hints: Any) -> str:
        """The alias to write ``model`` to."""
        ...

    def features(self, alias: str) -> Features: ...

    def dialect(self, alias: str | None = None) -> Dialect: ...

    async def execute(
        self, alias: str, statement: Executable, params: Any = None
    ) -> CursorResult[Any]:
        """Run ``statement`` on ``alias`` (in the task's transaction if one is open)."""
        ...

    def stream(
        self, alias: str, statement: Executable, chunk_size: int
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        """Yield the rows of ``statement`` in chunks, without buffering the whole result."""
        ...

    def in_transaction(self, alias: str) -> bool:
        """Whether the running task has a transaction open on ``alias``."""
        ...

    def transaction(self, alias: str) -> AbstractAsyncContextManager[Any]:
        """A block whose statements commit together (a savepoint when nested)."""
        ...


_executor: Executor | None = None


def install(executor: Executor | None) -> None:
    """Make ``executor`` the one QuerySets use."""
    global _executor
    _executor = executor


def get_executor() -> Executor:
    if _executor is None:
        raise ConfigurationError("flash_db has no database layer installed; import flash_db first")
    return _executor
