"""Test helpers for applications that use flash_db.

``count_queries()`` counts the statements sent to the databases inside a
block, to pin down N+1 problems::

    from flash_db.testing import count_queries

    async with count_queries() as queries:
        books = await Book.objects.select_related("author")
    assert queries.count == 1
    assert "JOIN" in queries.statements[0]
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from .db import connections

#: transaction control: SQLite's BEGIN IMMEDIATE (sent by atomic()) and savepoints reach the
#: cursor, where SQLAlchemy's own BEGIN/COMMIT do not
_TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|SAVEPOINT|RELEASE|ROLLBACK|COMMIT)\b", re.I)


@dataclass
class QueryLog:
    """Statements seen by :func:`count_queries`, in order."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __len__(self) -> int:
        return len(self.statements)


@asynccontextmanager
async def count_queries(using: str | None = None) -> AsyncIterator[QueryLog]:
    """Record every statement run inside the block (on ``using``, or on every database).

    Transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK) is not counted.
    """
    log = QueryLog()
    engines = (
        [connections[using].engine]
        if using
        else [db.engine for db in connections.databases.values()]
    )

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not _TRANSACTION_CONTROL.match(statement):
            log.statements.append(statement)

    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield log
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", record)


__all__ = ["QueryLog", "count_queries"]
