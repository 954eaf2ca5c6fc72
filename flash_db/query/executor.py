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

from sqlalchemy import exc
from sqlalchemy.engine import CursorResult, Dialect, Row
from sqlalchemy.sql import Executable

from ..exceptions import ConfigurationError
from .features import Features

#: The execution option on statements that flash_db builds once and reuses (see
#: ``writes.cached_statement``): an executor may cache what it derives from such a
#: statement object, e.g. its compiled SQL, for as long as it keeps a reference to it.
REUSED = "flash_db_reused"

#: The execution option on the SELECTs the query layer builds per call and reads only
#: through what :class:`DriverResult` answers (``all()``, ``first()``, ``scalar_one()``,
#: ``hydrate.fetch_all``): an executor may return a :class:`DriverResult` for them, e.g.
#: running them by a plan kept per compiled form in SQLAlchemy's compiled cache.
READS_ROWS = "flash_db_reads_rows"


class DriverResult:
    """A buffered result read straight from the driver: what an executor may return for
    a :data:`REUSED` or :data:`READS_ROWS` statement instead of SQLAlchemy's
    ``CursorResult``.

    ``rows`` are the driver's own rows (asyncpg ``Record`` objects, DBAPI tuples) and
    ``processors`` the columns' result processors still to apply (``None`` when no
    column has one), as :func:`flash_db.query.hydrate.fetch_all` hands them on. It
    answers the part of ``CursorResult`` flash_db's own code asks of such statements::

        result = await executor.execute(alias, stmt, {"flash_pk_": 1})
        result.rowcount, result.one(), result.scalar()
    """

    __slots__ = ("lastrowid", "processors", "rowcount", "rows")

    def __init__(
        self,
        rows: Sequence[Any],
        processors: tuple[Any, ...] | None,
        rowcount: int,
        lastrowid: int | None,
    ) -> None:
        self.rows = rows
        self.processors = processors
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def all(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple of final values."""
        processors = self.processors
        if processors is None:
            return [tuple(row) for row in self.rows]
        return [
            tuple(v if p is None else p(v) for p, v in zip(processors, row, strict=True))
            for row in self.rows
        ]

    def one(self) -> tuple[Any, ...]:
        """The only row; ``NoResultFound`` / ``MultipleResultsFound`` as SQLAlchemy raises."""
        rows = self.all()
        if len(rows) != 1:
            raise (exc.NoResultFound if not rows else exc.MultipleResultsFound)(
                "No row was found when one was required"
                if not rows
                else "Multiple rows were found when exactly one was required"
            )
        return rows[0]

    def first(self) -> tuple[Any, ...] | None:
        """The first row, or ``None`` when there is none."""
        rows = self.all()
        return rows[0] if rows else None

    def scalar(self) -> Any:
        """The first column of the first row, or ``None`` when there is no row."""
        rows = self.all()
        return rows[0][0] if rows else None

    def scalar_one(self) -> Any:
        """The first column of the only row (``one()``'s errors otherwise)."""
        return self.one()[0]

    def scalars(self) -> list[Any]:
        """The first column of every row."""
        return [row[0] for row in self.all()]

    @property
    def inserted_primary_key(self) -> tuple[Any, ...]:
        """``(lastrowid,)``: the generated key of a single-row INSERT without RETURNING
        (an auto-increment integer pk, the one case flash_db asks for)."""
        return (self.lastrowid,)


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
    ) -> CursorResult[Any] | DriverResult:
        """Run ``statement`` on ``alias`` (in the task's transaction if one is open).

        For a :data:`REUSED` or :data:`READS_ROWS` statement the result may be a
        :class:`DriverResult`."""
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
