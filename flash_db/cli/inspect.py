"""``flash db inspectdb``: print a models module for an existing database schema.

Example::

    $ flash db inspectdb --table author --table book > blog/models.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..db import config
from ..db.connections import _engine_for
from ..db.errors import translated
from ..exceptions import DatabaseError
from ..migrations.autogen import version_table
from ..migrations.introspection import inspect_schema, render_models
from ..migrations.project import load_project
from ._common import OneDatabase, config_path, db_app, detail, fail, run, say


async def _inspect(database: str | None, tables: list[str] | None, app_label: str | None) -> str:
    project = load_project(config_path(), import_models=False)
    alias = database or config.DEFAULT_ALIAS
    url = project.url(alias)
    # every alias's version table: two aliases may share one server database
    exclude = [version_table(a) for a in project.aliases]
    engine = _engine_for(url, {})
    try:
        with translated(alias):
            async with engine.connect() as conn:
                specs = await conn.run_sync(
                    lambda sync: inspect_schema(sync, tables or None, exclude=exclude)
                )
    except DatabaseError as exc:
        # Name the server (password masked) as `flash db check` does.
        raise type(exc)(f"{exc} [{config.mask(url)}]", exc.driver_error) from None
    finally:
        await engine.dispose()
    detail(f"{len(specs)} table(s) from {config.mask(url)}")
    return render_models(specs, app_label=app_label, source=config.mask(url))


@db_app.command("inspectdb")
def inspectdb(
    database: OneDatabase = None,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", "-t", metavar="TABLE", help="Only this table (repeat for more)."),
    ] = None,
    app_label: Annotated[
        str | None,
        typer.Option("--app-label", metavar="LABEL", help="Set Meta.app_label on every model."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write to this file instead of stdout."
        ),
    ] = None,
) -> None:
    """Print models for the tables of a database (review the TODO comments)."""
    source = run(_inspect(database, table, app_label))
    if output is None:
        typer.echo(source, nl=False)
    else:
        try:
            # -o blog/models.py: the package folder may not exist yet
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(source)
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
        say(f"wrote {output}")
