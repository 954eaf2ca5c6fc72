"""The ``flash`` command line: a typer app with a ``db`` group.

Commands live in modules of this package, each registering on ``db_app``;
projects add their own under ``flash`` (see :mod:`flash_db.cli.plugins`). Output is quiet by
default (``--verbose`` for more); bad input exits 2 with one line, a negative
answer (``makemigrations --check``) exits 1; ``--traceback`` shows the
Python traceback of an error.

Example::

    $ flash db check
    default  postgresql+asyncpg://app:***@db.internal/app  ok (server 15.4)
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import __version__
from ..db import config
from . import check as _check  # noqa: F401  (registers its command)
from . import fixtures as _fixtures  # noqa: F401  (registers dumpdata, loaddata)
from . import inspect as _inspect  # noqa: F401  (registers its command)
from . import migrate as _migrate  # noqa: F401
from . import plugins
from ._common import app, console, db_app, state

__all__ = ["app", "db_app", "main"]


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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more.")] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the Python traceback of an error.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="PYPROJECT",
            help="The pyproject.toml to read [tool.flash_db] from (default: the nearest one).",
        ),
    ] = None,
) -> None:
    """flash_db command line."""
    state.update(verbose=verbose, traceback=traceback, config=config)
    if verbose:
        # Alembic logs each revision it runs ("Running upgrade a1 -> b2").
        logging.basicConfig(format="%(message)s", level=logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.INFO)


def main() -> None:
    """Entry point of the ``flash`` console script."""
    plugins.install(app, pyproject=_pyproject(), taken=_builtin_names())
    app()


def _pyproject() -> Path | None:
    """The pyproject.toml whose commands to add: ``--config``/``FLASH_DB_CONFIG``, else the nearest."""
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    configured = os.environ.get("FLASH_DB_CONFIG")
    return Path(configured) if configured else config.find_pyproject()


def _builtin_names() -> set[str]:
    names = {group.name for group in app.registered_groups if group.name}
    names |= {cmd.name or cmd.callback.__name__ for cmd in app.registered_commands if cmd.callback}
    return names | {"help"}
