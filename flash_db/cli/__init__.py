"""The ``flash`` command line.

``flash --version`` and ``flash db check`` exist today; the migration
commands (``flash db makemigrations`` / ``migrate`` …) arrive with the
migrations work and plug into the same ``db`` group.

Example::

    $ flash db check
    default  postgresql+asyncpg://app:***@db.internal/app  ok (PostgreSQL 15.4)
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from .. import __version__
from ..db import ConnectionHandler, config
from ..exceptions import FlashDBError

app = typer.Typer(
    name="flash",
    help="flash_db: an async, Django-style ORM on SQLAlchemy Core.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"flash_db {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """flash_db command line."""


async def _check(database: str | None) -> list[tuple[str, str, str | None]]:
    settings = config.resolve()
    aliases = [database] if database else list(settings.databases)
    results: list[tuple[str, str, str | None]] = []
    for alias in aliases:
        if alias not in settings.databases:
            raise FlashDBError(
                f"unknown database {alias!r}; configured: {', '.join(settings.databases)}"
            )
        url = settings.databases[alias]
        handler = ConnectionHandler()
        try:
            await handler.connect(url)
            version = handler["default"].dialect.server_version_info
            results.append((alias, config.mask(url), ".".join(map(str, version or ())) or None))
        except FlashDBError as exc:
            results.append((alias, config.mask(url), f"ERROR {exc}"))
        finally:
            await handler.disconnect()
    return results


@db_app.command("check")
def check(
    database: Annotated[
        str | None, typer.Option("--database", "-d", help="Only this database alias.")
    ] = None,
) -> None:
    """Connect to each configured database and report; exit 1 if one is unreachable."""
    try:
        results = asyncio.run(_check(database))
    except FlashDBError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    failed = False
    for alias, url, status in results:
        if status and status.startswith("ERROR"):
            failed = True
            errors.print(f"{alias}  {url}  {status}", markup=False, highlight=False)
        else:
            console.print(f"{alias}  {url}  ok (server {status})", markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``flash`` console script."""
    app()
