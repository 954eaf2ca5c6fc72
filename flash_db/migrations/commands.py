"""The migration commands, as async functions: what ``flash db makemigrations`` and friends call.

Each database alias has its own Alembic script directory,
``<migrations>/<alias>/`` (created from ``migrations_templates/`` by the first
``makemigrations``), and its own version table. Alembic runs inside
``AsyncConnection.run_sync()`` on the alias's engine, so revisions, data
migrations and flash_db queries share one connection and one transaction::

    project = load_project()
    async with connected(project):
        await makemigrations(project, "default", message="add email")
        await migrate(project, "default")            # to head
        await migrate(project, "default", "-1")      # one step back
        for entry in await history(project, "default"):
            print(entry.applied, entry.revision, entry.message)
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import CommandLine, Config
from alembic.migration import MigrationContext
from alembic.runtime.migration import MigrationInfo
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.ext.asyncio import create_async_engine

from .. import signals
from ..db import connections
from ..db.errors import first_line, translated
from ..exceptions import ConfigurationError, FlashDBError, MigrationError
from . import autogen, rewrite
from .project import Project
from .questions import Questioner

_T = TypeVar("_T")

#: the env.py / script.py.mako templates: the repository's ``migrations_templates/``,
#: reached through the ``templates`` link so that wheels ship them inside flash_db
TEMPLATES = Path(__file__).resolve().parent / "templates"


# -- configuration ------------------------------------------------------------------------


def alembic_config(project: Project, alias: str, *, buffer: io.StringIO | None = None) -> Config:
    """An Alembic ``Config`` for ``alias``'s migrations folder, no ``alembic.ini`` needed."""
    folder = project.migrations_dir(alias)
    config = Config(output_buffer=buffer, stdout=buffer or sys.stdout)
    # Alembic's own progress lines ("Generating …") stay quiet: the commands say what they did.
    config.cmd_opts = argparse.Namespace(quiet=True, x=None)
    config.set_main_option("script_location", str(folder))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.set_main_option("truncate_slug_length", "40")
    config.set_main_option(autogen.ALIAS, alias)
    config.attributes[autogen.ALIAS] = alias
    config.attributes[autogen.ROUTERS] = project.routers
    config.attributes[autogen.DIALECT] = project.url(alias).get_backend_name()
    config.attributes[autogen.PROJECT] = project
    return config


def ensure_folder(project: Project, alias: str) -> Path:
    """Create ``alias``'s migrations folder from the templates if it does not exist yet."""
    folder = project.migrations_dir(alias)
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    for name in ("env.py", "script.py.mako", "README"):
        target = folder / name
        if not target.exists():
            shutil.copyfile(TEMPLATES / name, target)
    return folder


def has_history(project: Project, alias: str) -> bool:
    return (project.migrations_dir(alias) / "env.py").is_file()


def _scripts(project: Project, alias: str) -> ScriptDirectory:
    if not has_history(project, alias):
        raise MigrationError(
            f"database {alias!r} has no migrations folder ({project.migrations_dir(alias)}); "
            f"run `flash db makemigrations --database {alias}` first"
        )
    return ScriptDirectory.from_config(alembic_config(project, alias))


# -- connections --------------------------------------------------------------------------


@asynccontextmanager
async def connected(project: Project) -> AsyncIterator[None]:
    """Connect flash_db to the project's databases for the block (unless it already is)."""
    if connections.connected:
        yield
        return
    urls = {
        a: u.render_as_string(hide_password=False) for a, u in project.settings.databases.items()
    }
    await connections.connect(databases=urls, routers=project.routers, check=False)
    try:
        yield
    finally:
        await connections.disconnect()


async def on_connection(project: Project, alias: str, work: Callable[[sa.Connection], _T]) -> _T:
    """Run ``work(sync_connection)`` on one transactional connection of ``alias``.

    SQLite: foreign keys are switched off while migrations run, as batch mode
    rebuilds tables by copy-and-rename (with them on, dropping the old copy of
    a parent would cascade into its children); ``PRAGMA foreign_key_check``
    afterwards refuses to hide a violation.
    """
    database = connections[alias]
    sqlite = database.dialect.name == "sqlite"
    with translated(alias):
        async with database.engine.connect() as conn:
            if sqlite:
                # PRAGMA foreign_keys only takes effect outside a transaction:
                # run it while the connection still autocommits.
                await conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
                await conn.commit()
            try:
                await conn.execution_options(isolation_level=database.features.default_isolation)
                result = await conn.run_sync(_with_async_connection(conn, alias, work))
                await conn.commit()
                if sqlite:
                    broken = [
                        tuple(r) for r in (await conn.exec_driver_sql("PRAGMA foreign_key_check"))
                    ]
                    await conn.commit()
                    if broken:
                        raise MigrationError(
                            f"after migrating, {len(broken)} row(s) of {broken[0][0]!r} point at "
                            f"missing {broken[0][2]!r} rows; fix the data or the migration"
                        )
            finally:
                if conn.in_transaction():
                    await conn.rollback()
                if sqlite:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.exec_driver_sql("PRAGMA foreign_keys = ON")
                    await conn.commit()
    return result


async def _on_database(project: Project, alias: str, work: Callable[[sa.Connection], _T]) -> _T:
    """:func:`on_connection`, except for a SQLite file that does not exist yet: comparing
    the models with it must not create it (an empty file where the user did not ask for
    one), so the comparison runs on an empty in-memory database, which is the same."""
    if not _missing_sqlite_file(project, alias):
        return await on_connection(project, alias, work)
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        with translated(alias):
            async with engine.connect() as conn:
                return await conn.run_sync(_with_async_connection(conn, alias, work))
    finally:
        await engine.dispose()


def _with_async_connection(
    conn: Any, alias: str, work: Callable[[sa.Connection], _T]
) -> Callable[[sa.Connection], _T]:
    """``work`` with the async connection and alias on the sync connection's ``info``
    (``op.run_python`` runs flash_db queries on them)."""

    def run(sync_conn: sa.Connection) -> _T:
        sync_conn.info[autogen.ASYNC_CONNECTION] = conn
        sync_conn.info[autogen.ALIAS] = alias
        try:
            return work(sync_conn)
        finally:
            sync_conn.info.pop(autogen.ASYNC_CONNECTION, None)
            sync_conn.info.pop(autogen.ALIAS, None)

    return run


def _run(project: Project, alias: str, fn: Callable[[Config], _T]) -> Callable[[sa.Connection], _T]:
    """``fn(config)`` with the Alembic config bound to the given connection; Alembic's errors
    become :class:`MigrationError`."""

    def work(sync_conn: sa.Connection) -> _T:
        config = alembic_config(project, alias)
        config.attributes[autogen.CONNECTION] = sync_conn
        try:
            return fn(config)
        except CommandError as exc:
            raise MigrationError(_explain(str(exc), alias)) from None
        except FlashDBError:
            raise
        except Exception as exc:
            # A revision's own code failed: one line here, the traceback with --traceback.
            raise MigrationError(
                f"a migration of {alias!r} failed: {type(exc).__name__}: {exc}"
            ) from exc

    return work


def _explain(message: str, alias: str) -> str:
    if "Target database is not up to date" in message:
        return (
            f"database {alias!r} has unapplied migrations; run `flash db migrate --database {alias}` "
            f"first"
        )
    if "batch mode with dialect sqlite requires a live database" in message:
        return (
            "on SQLite, --sql cannot show ALTERs: batch mode rebuilds the table from the live "
            "schema; run the migration, or use --sql against PostgreSQL or MySQL"
        )
    if message.startswith("Can't locate revision") or "No such revision" in message:
        return f"{message.rstrip('.')}; `flash db showmigrations --database {alias}` lists them"
    return message


def current_heads(sync_conn: sa.Connection, alias: str) -> tuple[str, ...]:
    """The revisions recorded as applied on ``alias`` (empty before the first migrate)."""
    opts: dict[str, Any] = {"version_table": autogen.version_table(alias)}
    opts.update(autogen.ddl_options(sync_conn.dialect))
    context = MigrationContext.configure(sync_conn, opts=opts)
    return tuple(context.get_current_heads())


# -- makemigrations -----------------------------------------------------------------------


async def makemigrations(
    project: Project,
    alias: str,
    *,
    message: str | None = None,
    empty: bool = False,
    questioner: Questioner | None = None,
) -> Path | None:
    """Write a revision for the difference between ``alias``'s models and its database.

    Returns the new file, or None when nothing changed (no file is written then,
    unless ``empty=True`` asks for an empty revision to fill in by hand).
    The database must be at its latest revision. ``questioner`` answers what the
    models alone cannot say (likely renames, values for the rows already in a table
    that gets a NOT NULL column); without one, nothing is asked: see
    :mod:`flash_db.migrations.questions`.
    """
    ensure_folder(project, alias)
    scripts = ScriptDirectory.from_config(alembic_config(project, alias))
    described: list[str] = []
    answers = questioner or Questioner()

    def directives(context: Any, revision: Any, directives: list[Any]) -> None:
        script = directives[0]
        rewrite.drop_model_info(script.upgrade_ops)
        if not empty:
            rewrite.drop_rowid_not_null(script, context.dialect)
            rewrite.rename(script, answers, context.dialect)
            rewrite.fill_not_null(script, answers)
        for operations in (script.upgrade_ops, script.downgrade_ops):
            rewrite.drop_index_with_table(operations)
        if not empty and script.upgrade_ops.is_empty():
            directives[:] = []
            return
        if message is None:
            described.append(
                rewrite.describe(script.upgrade_ops, first=scripts.get_current_head() is None)
            )
            script.message = described[-1]

    def generate(config: Config) -> Any:
        heads = current_heads(config.attributes[autogen.CONNECTION], alias)
        known_heads(scripts, heads, alias)
        return command.revision(
            config,
            message=message or "auto",
            autogenerate=not empty,
            process_revision_directives=directives,
        )

    if empty:
        config = alembic_config(project, alias)
        made = command.revision(config, message=message or "empty", autogenerate=False)
    else:
        made = await _on_database(project, alias, _run(project, alias, generate))
    script = (made[0] if made else None) if isinstance(made, list) else made
    if script is None:
        return None
    path = Path(script.path)
    _format(path)
    return path


def _format(path: Path) -> None:
    """Format a new revision with ruff, when it is installed (the output is ruff-clean then)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists() and shutil.which("ruff") is None:
        return
    for args in (["check", "--fix", "--quiet", "--select", "I"], ["format", "--quiet"]):
        subprocess.run([ruff, *args, str(path)], capture_output=True, check=False, timeout=60)


async def check(project: Project, alias: str) -> list[Any]:
    """The changes ``makemigrations`` would write for ``alias`` (empty: in sync).

    Raises :class:`MigrationError` when the database has unapplied revisions
    (the comparison is against the migrated database).
    """
    if not has_history(project, alias):
        if not project.models_for(alias):
            return []
        raise MigrationError(
            f"database {alias!r} has models but no migrations; run "
            f"`flash db makemigrations --database {alias}`"
        )
    scripts = _scripts(project, alias)

    def compare(sync_conn: sa.Connection) -> list[Any]:
        heads = current_heads(sync_conn, alias)
        known_heads(scripts, heads, alias)
        if set(heads) != set(scripts.get_heads()):
            raise MigrationError(
                f"database {alias!r} is not at its latest migration ({_heads(heads)} applied, "
                f"{_heads(scripts.get_heads())} is the head); run `flash db migrate --database {alias}`"
            )
        return autogen.diff(sync_conn, alias, project.routers)

    return await _on_database(project, alias, compare)


def _heads(heads: Any) -> str:
    return ", ".join(heads) or "none"


# -- migrate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One revision applied (``up``) or unapplied (``down``) by ``migrate``."""

    revision: str
    message: str
    direction: str


async def migrate(project: Project, alias: str, target: str = "head") -> list[Step]:
    """Bring ``alias`` to ``target``: ``head``, a revision (or unique prefix), ``-N``, ``+N``, ``zero``.

    Sends ``pre_migrate`` / ``post_migrate`` (sender: the alias) around the work.
    """
    scripts = _scripts(project, alias)
    steps: list[Step] = []

    def record(*, step: MigrationInfo, **_: Any) -> None:
        # In both directions the step's "up" revision is the one applied or unapplied.
        revision = str(step.up_revision_id)
        steps.append(
            Step(revision, _message(scripts, revision), "up" if step.is_upgrade else "down")
        )

    def run(config: Config) -> None:
        config.attributes[autogen.ON_VERSION_APPLY] = record
        sync_conn = config.attributes[autogen.CONNECTION]
        current = current_heads(sync_conn, alias)
        # End the transaction that reading the version table began: Alembic runs each
        # revision in its own transaction (transaction_per_migration) only on a connection
        # that is not in one already, and otherwise commits the whole run at once, so a
        # failing revision would take the ones before it down with it.
        sync_conn.commit()
        known_heads(scripts, current, alias)
        direction, resolved = _resolve(scripts, target, current, alias)
        try:
            if direction == "up":
                command.upgrade(config, resolved)
            else:
                command.downgrade(config, resolved)
        except (CommandError, FlashDBError):
            raise
        except Exception as exc:
            raise _failed(
                project, alias, scripts, direction, current, steps, sync_conn, exc
            ) from exc

    await signals.send(signals.pre_migrate, alias, using=alias, target=target)
    await on_connection(project, alias, _run(project, alias, run))
    await signals.send(signals.post_migrate, alias, using=alias, target=target, steps=steps)
    return steps


def _failed(
    project: Project,
    alias: str,
    scripts: ScriptDirectory,
    direction: str,
    current: tuple[str, ...],
    steps: list[Step],
    sync_conn: sa.Connection,
    exc: Exception,
) -> MigrationError:
    """The one-line error of a revision that raised: which revision (id and file), what this
    run applied before it, and what the failure left behind on this backend."""
    done = {step.revision for step in steps}
    applied = _applied(scripts, current)
    if direction == "up":
        # oldest first: the first revision not applied before the run and not by it
        pending = [s for s in reversed(list(scripts.walk_revisions())) if s.revision not in applied]
    else:
        pending = [s for s in scripts.walk_revisions() if s.revision in applied]
    failed = next((s for s in pending if s.revision not in done), None)
    verb = "applied" if direction == "up" else "unapplied"
    where = "a migration"
    if failed is not None:
        where = f"revision {failed.revision} ({_relative(project, Path(failed.path))})"
    before = ", ".join(f"{s.revision} {s.message}".rstrip() for s in steps) or "nothing"
    if not connections[alias].features.transactional_ddl:
        # MySQL/MariaDB commit each DDL statement at once; no transaction can take it back.
        left = (
            "DDL is not transactional on MySQL/MariaDB, so the failed revision may be partly "
            "applied (its statements before the error stay); check the schema against it and "
            "undo them by hand before migrating again"
        )
    else:
        # PostgreSQL and SQLite (BEGIN IMMEDIATE on flash_db's connections) run DDL in
        # transactions, and each revision has its own (transaction_per_migration).
        left = "the failed revision was rolled back; fix it and migrate again"
    return MigrationError(
        f"{where} of {alias!r} failed: {_one_line(exc)}; {verb} by this run before it: {before}; {left}"
    )


def _one_line(exc: Exception) -> str:
    """``Type: message``: the driver's error and its first line, as flash_db's database
    errors show it (no SQLAlchemy statement or background link, no MySQL error number)."""
    original = getattr(exc, "orig", None)
    shown = original if isinstance(original, Exception) else exc
    return f"{type(shown).__name__}: {' '.join(first_line(shown).split())}"


def _relative(project: Project, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.root))
    except ValueError:
        return str(path)


def known_heads(scripts: ScriptDirectory, heads: tuple[str, ...], alias: str) -> None:
    """Refuse a database whose recorded revision is not in the migrations folder."""
    for head in heads:
        try:
            found = scripts.get_revision(head)
        except CommandError:
            found = None
        if found is None:
            raise MigrationError(
                f"database {alias!r} is at revision {head!r}, which is not in "
                f"{scripts.dir}/versions: the database is ahead of (or off) this migrations "
                f"folder; migrate with the code that wrote that revision, or, if the schema matches "
                f"a revision here, record that one: `flash db alembic -d {alias} stamp --purge "
                f"REVISION`"
            )


def _message(scripts: ScriptDirectory, revision: str) -> str:
    try:
        script = scripts.get_revision(revision)
    except CommandError:
        return ""
    return (script.doc or "") if script is not None else ""


def _resolve(
    scripts: ScriptDirectory, target: str, current: tuple[str, ...], alias: str
) -> tuple[str, str]:
    """(direction, Alembic target) for a flash_db TARGET."""
    target = target.strip()
    if target in ("head", "heads"):
        return "up", "heads"
    if target == "zero":
        return "down", "base"
    if target.startswith("-") and target[1:].isdigit():
        return "down", target
    if target.startswith("+") and target[1:].isdigit():
        return "up", target
    script = _revision(scripts, target, alias)
    applied = _applied(scripts, current)
    if script.revision in applied:
        return "down", script.revision
    return "up", script.revision


def _revision(scripts: ScriptDirectory, revision: str, alias: str) -> Script:
    try:
        script = scripts.get_revision(revision)
    except CommandError as exc:
        raise MigrationError(_explain(str(exc), alias)) from None
    if script is None:
        raise MigrationError(f"unknown revision {revision!r} for database {alias!r}")
    return script


def _applied(scripts: ScriptDirectory, heads: tuple[str, ...]) -> set[str]:
    """Every revision at or below the applied heads."""
    if not heads:
        return set()
    return {s.revision for s in scripts.iterate_revisions(heads, "base")}


@dataclass(frozen=True)
class PendingSQL:
    """What ``migrate --sql`` prints: the SQL, and why it stops early (SQLite batch mode)."""

    sql: str
    problem: str | None = None


async def migrate_sql(project: Project, alias: str, target: str = "head") -> PendingSQL:
    """The SQL ``migrate`` would run to bring ``alias`` from its current revision to
    ``target`` (``head``, a revision, ``-N``, ``+N``, ``zero``), as Alembic's offline mode
    writes it.

    On SQLite an ``ALTER`` that needs batch mode's table rebuild cannot be rendered without
    the live table: the SQL stops before that revision and ``problem`` says which revision
    and table.
    """
    scripts = _scripts(project, alias)
    current = await _current(project, alias)
    known_heads(scripts, current, alias)
    if len(current) > 1:
        raise MigrationError(
            f"database {alias!r} is at several heads ({_heads(current)}); merge them with "
            f"`flash db alembic -d {alias} merge heads` before asking for --sql"
        )
    direction, resolved = _resolve(scripts, target, current, alias)
    chosen = _pending(scripts, direction, resolved, current)
    if not chosen:
        return PendingSQL(f"-- database {alias!r} is at {_heads(current)}: nothing to run\n")
    buffer = io.StringIO()
    config = alembic_config(project, alias, buffer=buffer)
    try:
        _render(config, chosen, direction)
        return PendingSQL(buffer.getvalue())
    except CommandError as exc:
        if "requires a live database" not in str(exc):
            raise MigrationError(_explain(str(exc), alias)) from None
    # Batch mode on SQLite: render revision by revision to say which one stops it.
    done: list[Script] = []
    output = io.StringIO()
    for script in chosen:
        buffer = io.StringIO()
        try:
            _render(alembic_config(project, alias, buffer=buffer), [script], direction)
        except CommandError as exc:
            rendered = ", ".join(s.revision for s in done) or "none"
            return PendingSQL(
                output.getvalue(),
                f"on SQLite, --sql stops at revision {script.revision} "
                f"({_relative(project, Path(script.path))}): {_batch_stop(exc)}; the SQL "
                f"printed covers the revisions before it ({rendered}); `flash db migrate` "
                f"runs them all",
            )
        output.write(buffer.getvalue())
        done.append(script)
    return PendingSQL(output.getvalue())


async def _current(project: Project, alias: str) -> tuple[str, ...]:
    """``alias``'s applied revisions, without creating a SQLite file that is not there."""
    if _missing_sqlite_file(project, alias):
        return ()
    return await on_connection(project, alias, lambda conn: current_heads(conn, alias))


def _missing_sqlite_file(project: Project, alias: str) -> bool:
    url = project.url(alias)
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return False
    return not Path(database).exists()


def _pending(
    scripts: ScriptDirectory, direction: str, resolved: str, current: tuple[str, ...]
) -> list[Script]:
    """The revisions ``migrate`` would run, in the order it runs them."""
    applied = _applied(scripts, current)
    oldest_first = list(reversed(list(scripts.walk_revisions())))
    if direction == "up":
        if resolved.startswith("+"):
            return [s for s in oldest_first if s.revision not in applied][: int(resolved[1:])]
        wanted = {s.revision for s in scripts.iterate_revisions(resolved, "base")}
        return [s for s in oldest_first if s.revision in wanted and s.revision not in applied]
    newest_first = [s for s in reversed(oldest_first) if s.revision in applied]
    if resolved == "base":
        return newest_first
    if resolved.startswith("-"):
        return newest_first[: int(resolved[1:])]
    kept = _applied(scripts, (resolved,))
    return [s for s in newest_first if s.revision not in kept]


def _render(config: Config, chosen: list[Script], direction: str) -> None:
    """Alembic's offline SQL for the consecutive revisions ``chosen`` (in running order)."""
    first, last = chosen[0], chosen[-1]
    if direction == "up":
        before = _down(first)
        command.upgrade(config, f"{before}:{last.revision}" if before else last.revision, sql=True)
    else:
        command.downgrade(config, f"{first.revision}:{_down(last) or 'base'}", sql=True)


def _down(script: Script) -> str | None:
    down = script.down_revision
    return down if isinstance(down, str) else (down[0] if down else None)


def _single_head(scripts: ScriptDirectory, alias: str) -> str:
    heads = scripts.get_heads()
    if len(heads) != 1:
        raise MigrationError(
            f"database {alias!r} has {len(heads)} heads ({_heads(heads)}); merge them with "
            f"`flash db alembic merge heads`"
        )
    return heads[0]


def sqlmigrate(project: Project, alias: str, revision: str, *, backwards: bool = False) -> str:
    """The SQL of one revision (its ``downgrade()`` with ``backwards=True``)."""
    scripts = _scripts(project, alias)
    script = _revision(scripts, revision, alias)
    buffer = io.StringIO()
    config = alembic_config(project, alias, buffer=buffer)
    down = script.down_revision
    before = down if isinstance(down, str) else (down[0] if down else "base")
    try:
        if backwards:
            command.downgrade(config, f"{script.revision}:{before}", sql=True)
        else:
            command.upgrade(
                config, f"{before}:{script.revision}" if down else script.revision, sql=True
            )
    except CommandError as exc:
        if "requires a live database" in str(exc):
            raise MigrationError(
                f"on SQLite, sqlmigrate cannot show revision {script.revision} "
                f"({_relative(project, Path(script.path))}): {_batch_stop(exc)}; "
                f"`flash db migrate` runs it, and sqlmigrate shows it on PostgreSQL or MySQL "
                f"(FLASH_DB_URL=…)"
            ) from None
        raise MigrationError(_explain(str(exc), alias)) from None
    return buffer.getvalue()


def _batch_stop(exc: CommandError) -> str:
    """Why offline SQL stops at a batch operation on SQLite, naming the table."""
    table = re.search(r'reflect the table "([^"]+)"', str(exc))
    what = f'batch_alter_table("{table.group(1)}")' if table else "a batch operation"
    return f"its {what} rebuilds the table from the live schema, which offline SQL cannot read"


# -- showmigrations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One revision of a history, oldest first."""

    revision: str
    message: str
    applied: bool
    head: bool


async def history(project: Project, alias: str) -> list[Entry]:
    """``alias``'s revisions, oldest first, each marked applied or pending."""
    scripts = _scripts(project, alias)
    heads = set(scripts.get_heads())

    # (no SQLite file yet: nothing applied, and listing the history must not create one)
    current = await _current(project, alias)
    known_heads(scripts, current, alias)
    applied = _applied(scripts, current)
    ordered = list(reversed(list(scripts.walk_revisions())))
    return [
        Entry(s.revision, s.doc or "", s.revision in applied, s.revision in heads) for s in ordered
    ]


def aliases_to_migrate(project: Project, database: str | None) -> list[str]:
    """The aliases a command without ``--database`` works on: those with models or a history."""
    if database is not None:
        project.url(database)
        return [database]
    chosen = [a for a in project.aliases if has_history(project, a) or project.models_for(a)]
    if not chosen:
        raise ConfigurationError(
            "no models found; list your models modules in [tool.flash_db] models = [...] "
            "in pyproject.toml"
        )
    return chosen


def alembic(project: Project, alias: str, argv: list[str]) -> None:
    """Run an Alembic command line (``heads``, ``history``, ``stamp``, ``merge`` …) on ``alias``'s
    migrations, with flash_db's configuration: ``flash db alembic history -v``.

    Runs synchronously, outside an event loop: env.py connects when the command needs the
    database.
    """
    cli = CommandLine(prog="flash db alembic")
    try:
        options = cli.parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed the usage or the error
        if exc.code:
            raise MigrationError(f"alembic: bad arguments {' '.join(argv)!r} (see above)") from None
        return
    if not hasattr(options, "cmd"):
        cli.parser.print_help()
        return
    # only now: asking for Alembic's help must not leave a migrations folder behind
    ensure_folder(project, alias)
    config = alembic_config(project, alias)
    config.cmd_opts = options
    fn, positional, kwarg = options.cmd
    try:
        fn(
            config,
            *[getattr(options, k, None) for k in positional],
            **{k: getattr(options, k, None) for k in kwarg},
        )
    except CommandError as exc:
        raise MigrationError(_explain(str(exc), alias)) from None
