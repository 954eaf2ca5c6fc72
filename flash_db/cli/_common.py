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
from typer.core import TyperArgument, TyperCommand

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


class _Argument(TyperArgument):
    """An argument listed in help by its metavar alone."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class Command(TyperCommand):
    """Typer's command class, its arguments shown without a Python type: typer puts the
    annotation after an argument's name (``APP.MODEL <list[str]>``), which tells a user
    of the command line nothing that the metavar and help do not."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument


console = Console(soft_wrap=True, highlight=False)
errors = Console(stderr=True, soft_wrap=True, highlight=False)

_T = TypeVar("_T")

#: set by the root callback from ``--traceback`` / ``--verbose``
state: dict[str, Any] = {"traceback": False, "verbose": False, "config": None}


def _database(default: str) -> Any:
    """``-d/--database ALIAS``, its help saying what the command does without it."""
    return typer.Option(
        "--database", "-d", metavar="ALIAS", help=f"Database alias (default: {default})."
    )


#: migration commands: without -d, every alias that has models or a history
MigratedDatabases = Annotated[
    str | None, _database("every database with models or a migrations folder")
]
#: ``flash db check``: every alias
DatabaseOption = Annotated[str | None, _database("every configured database")]
#: commands that work on one database: 'default'
OneDatabase = Annotated[str | None, _database("'default'")]
#: fixtures: each model reads from / writes to where the routers send it
ModelsDatabases = Annotated[
    str | None, _database("each model's own database: routers, then Meta.database")
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


def warn(message: str) -> None:
    """Print a warning or a question's preamble on stderr (stdout stays the result)."""
    errors.print(message, markup=False)


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
