"""What every ``flash`` command shares: consoles, common options, error handling.

Commands call :func:`run` with a coroutine: a :class:`~flash_db.exceptions.FlashDBError`
becomes one line on stderr and exit code 2 (bad input, unreachable database),
unless ``flash --traceback`` asked for the whole story. :class:`Failed` is for
"the command worked and the answer is no" (``makemigrations --check``), exit 1.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from ..exceptions import FlashDBError

app = typer.Typer(
    name="flash",
    help="flash_db: an async, Django-style ORM on SQLAlchemy Core.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts mention [tool.flash_db]: plain text, not rich markup.
    rich_markup_mode=None,
)
db_app = typer.Typer(
    help="Database commands: migrations, fixtures, introspection.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db")

console = Console(soft_wrap=True, highlight=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False)

_T = TypeVar("_T")

#: set by the root callback from ``--traceback`` / ``--verbose``
state: dict[str, Any] = {"traceback": False, "verbose": False, "config": None}

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database", "-d", help="Database alias (default: 'default')."),
]


class Failed(Exception):
    """The command ran and its answer is "no": print ``message``, exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def verbose() -> bool:
    return bool(state["verbose"])


def config_path() -> Path | None:
    value = state["config"] or os.environ.get("FLASH_DB_CONFIG")
    return Path(value) if value else None


def say(message: str) -> None:
    """Print a line of normal output (no rich markup interpretation)."""
    console.print(message, markup=False)


def detail(message: str) -> None:
    """Print only with ``--verbose``."""
    if verbose():
        console.print(message, markup=False, style="dim")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; return the Exit to raise."""
    errors.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a command's coroutine; flash_db errors become one line and exit code 2.

    With ``flash --traceback`` a flash_db error propagates with its traceback.
    """
    try:
        return asyncio.run(coro)
    except Failed as exc:
        errors.print(exc.message, markup=False)
        raise typer.Exit(1) from None
    except FlashDBError as exc:
        if state["traceback"]:
            raise
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None
