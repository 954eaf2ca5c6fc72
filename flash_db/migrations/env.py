"""What a migrations folder's ``env.py`` runs: ``run_migrations()``.

flash_db's commands run Alembic inside ``AsyncConnection.run_sync()`` and hand
the connection over in ``config.attributes``; ``run_migrations()`` configures
the Alembic context on it with :func:`flash_db.migrations.autogen.context_options`.
Offline (``flash db migrate --sql``) it configures a dialect only and Alembic
writes the SQL instead of running it. Started some other way (Alembic's own
command line with an ``alembic.ini``), it resolves the project itself and
opens its own engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from alembic import context

from ..db.config import DEFAULT_ALIAS
from . import operations as _operations  # noqa: F401  (registers op.run_python)
from .autogen import (
    ALIAS,
    CONNECTION,
    DIALECT,
    ON_VERSION_APPLY,
    PROJECT,
    ROUTERS,
    context_options,
    ddl_options,
)
from .commands import connected, on_connection
from .project import load_project


def run_migrations(configure: Mapping[str, Any] | None = None) -> None:
    """Run the current Alembic command for this folder's database.

    ``configure``: extra ``context.configure()`` options, overriding flash_db's.
    """
    config = context.config
    attributes = config.attributes
    alias = attributes.get(ALIAS) or config.get_main_option(ALIAS) or DEFAULT_ALIAS
    routers = attributes.get(ROUTERS, ())
    extra = dict(configure or {})
    if attributes.get(ON_VERSION_APPLY) is not None:
        extra.setdefault("on_version_apply", attributes[ON_VERSION_APPLY])
    if context.is_offline_mode():
        dialect_name = attributes[DIALECT]
        context.configure(
            dialect_name=dialect_name,
            literal_binds=True,
            **{**context_options(alias, dialect_name, routers), **extra},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = attributes.get(CONNECTION)
    if connection is None:
        asyncio.run(_run_standalone(attributes.get(PROJECT), alias, extra))
        return
    options = {
        **context_options(alias, connection.dialect.name, routers),
        **ddl_options(connection.dialect),
    }
    context.configure(connection=connection, **{**options, **extra})
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone(project: Any, alias: str, extra: Mapping[str, Any]) -> None:
    """No connection handed over (``flash db alembic …``, or Alembic's own command line):
    connect as ``flash db migrate`` would."""
    project = project or load_project()
    async with connected(project):
        await on_connection(project, alias, lambda conn: _configure_and_run(conn, alias, extra))


def _configure_and_run(connection: Any, alias: str, extra: Mapping[str, Any]) -> None:
    context.config.attributes[CONNECTION] = connection
    context.config.attributes[ALIAS] = alias
    run_migrations(extra)
