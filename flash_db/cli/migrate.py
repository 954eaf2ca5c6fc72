"""``flash db makemigrations``, ``migrate``, ``showmigrations``, ``sqlmigrate`` and ``alembic``.

Without ``--database`` a command works on every configured database that has
models or a migrations folder, each with its own history.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

from ..exceptions import MigrationError
from ..migrations import commands
from ..migrations.autogen import public_type
from ..migrations.project import Project, load_project
from ..migrations.questions import Questioner, parse_defaults
from ._common import (
    Command,
    Failed,
    MigratedDatabases,
    OneDatabase,
    config_path,
    db_app,
    detail,
    run,
    say,
    warn,
)


def _project() -> Project:
    return load_project(config_path())


@db_app.command("makemigrations")
def makemigrations(
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", metavar="MESSAGE", help="The revision's message."),
    ] = None,
    database: MigratedDatabases = None,
    empty: Annotated[
        bool, typer.Option("--empty", help="Write an empty revision to fill in.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the models differ from the migrations."
        ),
    ] = False,
    default: Annotated[
        list[str] | None,
        typer.Option(
            "--default",
            metavar="TABLE.COLUMN=VALUE",
            help="The value the rows already in a table get in a new NOT NULL column "
            "(repeatable; a Python literal or plain text; now for a date or time).",
        ),
    ] = None,
    rename: Annotated[
        list[str] | None,
        typer.Option(
            "--rename",
            metavar="TABLE.OLD=NEW|OLD=NEW",
            help="Confirm that a column (table.old=new) or a table (old=new) was renamed, "
            "without the question (repeatable).",
        ),
    ] = None,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input",
            "--noinput",
            help="Ask nothing (as when not at a terminal): answers only from --default and "
            "--rename.",
        ),
    ] = False,
) -> None:
    """Write a migration for the difference between the models and the database.

    At a terminal it asks whether a dropped and an added column (or table) of the same
    type were renamed, and what the rows already in a table get in a new NOT NULL
    column that has no default.
    """

    async def work() -> None:
        project = _project()
        async with commands.connected(project):
            aliases = commands.aliases_to_migrate(project, database)
            if check:
                await _check(project, aliases)
                return
            interactive = not no_input and sys.stdin.isatty()
            # one set of answers for every database: an answer is refused only when it
            # matched nothing in any of them
            questioner = Questioner(
                defaults=parse_defaults(default or []),
                renames=rename or [],
                prompt=_prompt if interactive else None,
                say=warn,
                all_used=len(aliases) == 1,
            )
            for alias in aliases:
                path = await commands.makemigrations(
                    project, alias, message=message, empty=empty, questioner=questioner
                )
                if path is None:
                    say(f"{alias}: no changes")
                else:
                    say(f"{alias}: wrote {_relative(project, path)}")
            questioner.check_unused()

    run(work())


async def _check(project: Project, aliases: list[str]) -> None:
    problems = []
    for alias in aliases:
        changes = await commands.check(project, alias)
        if changes:
            problems.append(f"{alias}: models and migrations differ ({len(changes)} change(s)):")
            problems.extend(f"  {_change(c)}" for c in changes)
        else:
            detail(f"{alias}: in sync")
    if problems:
        problems.append("run `flash db makemigrations` to write the migration")
        raise Failed("\n".join(problems))
    say("models and migrations are in sync")


def _change(change: Any) -> str:
    """One line for one of Alembic's diff entries."""
    if isinstance(change, list):
        return "; ".join(_change(c) for c in change)
    kind, *rest = change
    if kind in ("add_table", "remove_table"):
        return f"{kind.replace('_', ' ')} {rest[0].name}"
    if kind in ("add_column", "remove_column"):
        return f"{kind.replace('_', ' ')} {rest[1]}.{rest[2].name}"
    if kind.startswith("modify_"):
        _schema, table, column, _info, old, new = rest
        if kind == "modify_type":
            old, new = public_type(old), public_type(new)
        return f"{kind.replace('_', ' ')} {table}.{column}: {old!r} -> {new!r}"
    if kind in (
        "add_index",
        "remove_index",
        "add_constraint",
        "remove_constraint",
        "add_fk",
        "remove_fk",
    ):
        obj = rest[0]
        table = getattr(getattr(obj, "table", None), "name", None) or getattr(obj, "parent", None)
        return f"{kind.replace('_', ' ')} {obj.name or ''} on {table}"
    return f"{kind} {rest}"


def _prompt(question: str) -> str:
    return str(typer.prompt(question, default="", show_default=False, prompt_suffix=""))


def _relative(project: Project, path: Any) -> str:
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)


@db_app.command("migrate", cls=Command, context_settings={"ignore_unknown_options": True})
def migrate(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="head (default), a revision or unique prefix, -N (steps back), or zero.",
        ),
    ] = "head",
    database: MigratedDatabases = None,
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL instead of running it.")
    ] = False,
) -> None:
    """Apply (or unapply) migrations, up to TARGET."""
    if sql:
        run(_sql(database, target))
        return

    async def work() -> None:
        project = _project()
        async with commands.connected(project):
            for alias in commands.aliases_to_migrate(project, database):
                steps = await commands.migrate(project, alias, target)
                if not steps:
                    say(f"{alias}: nothing to do")
                for step in steps:
                    arrow = "applied" if step.direction == "up" else "unapplied"
                    say(f"{alias}: {arrow} {step.revision} {step.message}".rstrip())

    run(work())


async def _sql(database: str | None, target: str) -> None:
    """Print each database's pending SQL; a part --sql cannot render is an error after it."""
    project = _project()
    async with commands.connected(project):
        for alias in commands.aliases_to_migrate(project, database):
            pending = await commands.migrate_sql(project, alias, target)
            typer.echo(pending.sql, nl=False)
            if pending.problem is not None:
                raise MigrationError(pending.problem)


@db_app.command("showmigrations")
def showmigrations(database: MigratedDatabases = None) -> None:
    """List each database's migrations: [X] applied, [ ] pending."""

    async def work() -> None:
        project = _project()
        async with commands.connected(project):
            for alias in commands.aliases_to_migrate(project, database):
                say(alias)
                if not commands.has_history(project, alias):
                    say("  (no migrations)")
                    continue
                for entry in await commands.history(project, alias):
                    mark = "X" if entry.applied else " "
                    head = " (head)" if entry.head else ""
                    say(f"  [{mark}] {entry.revision} {entry.message}{head}")

    run(work())


@db_app.command("sqlmigrate", cls=Command)
def sqlmigrate(
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", help="A revision or unique prefix.")
    ],
    database: OneDatabase = None,
    backwards: Annotated[
        bool, typer.Option("--backwards", help="The SQL of its downgrade.")
    ] = False,
) -> None:
    """Print the SQL of one migration."""
    typer.echo(run(_sqlmigrate(database or "default", revision, backwards)), nl=False)


async def _sqlmigrate(alias: str, revision: str, backwards: bool) -> str:
    return commands.sqlmigrate(_project(), alias, revision, backwards=backwards)


@db_app.command(
    "alembic",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    options_metavar="[-d ALIAS] ALEMBIC_ARGS...",
)
def alembic(ctx: typer.Context, database: OneDatabase = None) -> None:
    """Run any Alembic command on a database's migrations.

    Every argument after -d ALIAS passes through to Alembic's own command line
    unchanged (`flash db alembic --help` is this page; `flash db alembic -- --help` lists
    Alembic's commands): flash db alembic history -v, flash db alembic -d other stamp head.
    """
    run(_alembic(database or "default", list(ctx.args)))


async def _alembic(alias: str, argv: list[str]) -> None:
    project = _project()
    project.url(alias)
    # Alembic's env.py opens its own event loop when a command needs the database:
    # run it in a worker thread, away from this one.
    await asyncio.to_thread(commands.alembic, project, alias, argv)
