"""flash_db's own Alembic operations: ``op.run_python()`` for data migrations.

Registered on Alembic's ``Operations`` when flash_db's migration environment
loads, so a revision can write::

    from alembic import op


    async def fill_slugs(models):
        async for author in models.Author.objects.filter(slug=None):
            author.slug = author.name.lower()
            await author.save(update_fields=["slug"])


    def upgrade() -> None:
        op.add_column("author", sa.Column("slug", sa.String(100), nullable=True))
        op.run_python(fill_slugs)

The function gets :class:`~flash_db.migrations.historical.HistoricalModels`:
the models as the schema is at that point of the revision, not the project's
current models. It runs on the migration's own connection and transaction,
so on PostgreSQL and SQLite a failure rolls the whole revision back. It may
be ``async def`` (to use the ORM) or a plain function. ``--sql`` output shows
a comment in its place. A project adds operations of its own the same way:
see the migrations page of the docs.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from alembic.operations import MigrateOperation, Operations
from sqlalchemy.util import await_only

from ..db.context import Transaction, bind, current
from ..exceptions import MigrationError
from .autogen import ALIAS, ASYNC_CONNECTION
from .historical import HistoricalModels, historical_models


@Operations.register_operation("run_python")
class RunPythonOp(MigrateOperation):
    """Run ``function(models)`` inside the migration (see the module docstring)."""

    def __init__(
        self, function: Callable[[HistoricalModels], Any], tables: Sequence[str] | None = None
    ) -> None:
        self.function = function
        self.tables = tables

    @classmethod
    def run_python(
        cls,
        operations: Operations,
        function: Callable[[HistoricalModels], Any],
        *,
        tables: Sequence[str] | None = None,
    ) -> Any:
        """``op.run_python(function, tables=None)``: ``tables`` limits the reflected models."""
        return operations.invoke(cls(function, tables))

    def reverse(self) -> MigrateOperation:
        raise NotImplementedError("write the reverse data migration in downgrade()")


@Operations.implementation_for(RunPythonOp)
def _run_python(operations: Operations, operation: RunPythonOp) -> None:
    context = operations.migration_context
    name = getattr(operation.function, "__qualname__", repr(operation.function))
    if context.as_sql:
        context.impl.static_output(f"-- run_python({name}): Python, not shown as SQL")
        return
    sync_conn = operations.get_bind()
    async_conn = sync_conn.info.get(ASYNC_CONNECTION)
    alias = sync_conn.info.get(ALIAS)
    if async_conn is None or alias is None:
        raise MigrationError(
            f"op.run_python({name}) runs only under flash_db's migrate command "
            f"(`flash db migrate`), which provides the async connection"
        )
    models = historical_models(sync_conn, alias=alias, tables=operation.tables)
    result = operation.function(models)
    if inspect.isawaitable(result):
        # Alembic calls us from inside AsyncConnection.run_sync(): hand the coroutine
        # back to the event loop, bound to the migration's connection and transaction.
        await_only(_bound(result, alias, async_conn))


async def _bound(work: Any, alias: str, connection: Any) -> None:
    tx = Transaction(alias, connection, asyncio.current_task(), "migration")
    token = bind(tx)
    try:
        await work
    finally:
        current.reset(token)
