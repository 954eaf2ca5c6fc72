"""``flash db dumpdata`` and ``flash db loaddata``: fixtures in json, jsonl or csv.

The work is done by :mod:`flash_db.migrations.fixtures`; this module loads the
project, connects, and draws progress bars on stderr when it is a terminal (or
with ``--verbose``)::

    $ flash db dumpdata blog.Author blog.Book -o blog.json
    $ flash db loaddata blog.json --database staging
    Installed 1204 object(s) from 1 fixture(s)
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from ..migrations import commands, fixtures
from ..migrations.fixtures_formats import EXTENSIONS
from ..migrations.project import load_project
from ._common import Command, ModelsDatabases, config_path, db_app, errors, run, say, verbose

_T = TypeVar("_T")


class Format(enum.StrEnum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class _Bars:
    """:class:`flash_db.migrations.fixtures.Progress` drawn with rich on stderr."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task: Any = None

    def begin(self, description: str, total: int | None) -> None:
        if self.task is not None:
            self.bar.update(self.task, visible=False)
        self.task = self.bar.add_task(description, total=total)

    def advance(self, rows: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, rows)


@contextmanager
def _progress() -> Iterator[_Bars | None]:
    if not (errors.is_terminal or verbose()):
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=not verbose(),
    )
    with bar:
        yield _Bars(bar)


async def _connected(database: str | None, work: Callable[[], Awaitable[_T]]) -> _T:
    """Load the project, connect to its databases, run ``work``, disconnect."""
    project = load_project(config_path())
    if database is not None:
        project.url(database)  # an unknown alias fails here, naming the configured ones
    async with commands.connected(project):
        return await work()


@db_app.command("dumpdata", cls=Command)
def dumpdata(
    labels: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="APP.MODEL",
            help="Models to dump, as app.Model (default: every model with a table).",
        ),
    ] = None,
    database: ModelsDatabases = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format", "-f", help="json, jsonl or csv (default: from -o's extension, else json)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="File to write (csv: a directory for several models).",
        ),
    ] = None,
) -> None:
    """Write the rows of models as a fixture (json, jsonl or csv) to stdout or -o PATH."""
    chosen = fmt.value if fmt is not None else None
    if chosen is None:
        chosen = EXTENSIONS.get(output.suffix.lower(), "json") if output is not None else "json"
        if output is not None and output.is_dir():
            chosen = "csv"

    async def work() -> int:
        with _progress() as bars:
            return await fixtures.dump(
                labels or (), using=database, fmt=chosen, out=output, progress=bars
            )

    count = run(_connected(database, work))
    if output is not None:
        say(f"Dumped {count} object(s) to {output}")


@db_app.command("loaddata", cls=Command)
def loaddata(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="FIXTURE", help="Fixture files: *.json, *.jsonl, <app>.<Model>.csv."
        ),
    ],
    database: ModelsDatabases = None,
) -> None:
    """Load fixture files into the database, all or nothing (parents before children)."""

    async def work() -> int:
        with _progress() as bars:
            return await fixtures.load(paths, using=database, progress=bars)

    count = run(_connected(database, work))
    say(f"Installed {count} object(s) from {len(paths)} fixture(s)")
