"""``flash db check``: connect to each configured database and report."""

from __future__ import annotations

import typer

from ..db import ConnectionHandler, config
from ..exceptions import FlashDBError
from ._common import DatabaseOption, config_path, db_app, errors, run, say


async def _check(database: str | None) -> list[tuple[str, str, str | None]]:
    settings = config.resolve(pyproject=config_path())
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
def check(database: DatabaseOption = None) -> None:
    """Connect to each configured database and report; exit 1 if one is unreachable."""
    results = run(_check(database))
    failed = False
    for alias, url, status in results:
        if status and status.startswith("ERROR"):
            failed = True
            errors.print(f"{alias}  {url}  {status}", markup=False)
        else:
            say(f"{alias}  {url}  ok (server {status})")
    if failed:
        raise typer.Exit(1)
