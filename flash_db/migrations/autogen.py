"""How flash_db compares models with a database: the Alembic ``context.configure()`` options.

One database alias has one migration history and sees only its own tables:
the tables of the models that ``allow_migrate`` puts there (``Meta.database``,
routers). Tables of models that live on another alias are never touched, and
the version table (``alembic_version``, ``alembic_version_<alias>`` for other
aliases, so two aliases can share one server database) is never compared.

Column types are compared (``compare_type``) and so are server defaults.
flash_db's own column types (``flash_db.sqltypes``) are rendered in revisions
as the plain SQLAlchemy type they are on that database, so a revision never
imports flash_db and later changes to flash_db cannot break it. SQLite
ALTERs go through Alembic's batch mode (copy-and-move), which revisions use on
every backend so that one made on PostgreSQL applies to SQLite.

``diff(connection, alias)`` is what ``makemigrations --check`` reports::

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff, "default")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import _repr_type
from alembic.migration import MigrationContext
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

from ..db.config import DEFAULT_ALIAS
from ..db.connections import tables_on
from ..models import metadata
from ..query.features import Features
from ..sqltypes import Duration, NaiveDateTime, Portable, PreciseTime, UTCDateTime

log = logging.getLogger(__name__)

VERSION_TABLE_PREFIX = "alembic_version"

#: ``alembic.config.Config.attributes`` keys: what flash_db's commands hand to env.py
ALIAS = "flash_db_alias"
CONNECTION = "connection"
ASYNC_CONNECTION = "flash_db_async_connection"
ROUTERS = "flash_db_routers"
DIALECT = "flash_db_dialect"
ON_VERSION_APPLY = "flash_db_on_version_apply"
PROJECT = "flash_db_project"


def version_table(alias: str) -> str:
    """The table that records ``alias``'s applied revision."""
    return VERSION_TABLE_PREFIX if alias == DEFAULT_ALIAS else f"{VERSION_TABLE_PREFIX}_{alias}"


def tables_for(alias: str, routers: Sequence[Any] = ()) -> set[str]:
    """Names of the tables that belong on ``alias``."""
    return {table.name for table in tables_on(routers, alias)}


def include_object_for(
    alias: str, routers: Sequence[Any] = ()
) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """An ``include_object`` hook: ``alias``'s tables, never another alias's, never the version table."""
    own = tables_for(alias, routers)
    known = set(metadata.tables)

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ != "table":
            table = getattr(obj, "table", None)
            return table is None or _include_table(table.name, reflected)
        return _include_table(name or "", reflected)

    def _include_table(name: str, reflected: bool) -> bool:
        if name.startswith(VERSION_TABLE_PREFIX):
            return False
        if name in own:
            return True
        # A table in the database that no model of any alias claims was dropped
        # from the models: include it (autogenerate drops it). One that belongs to
        # a model of another alias is that alias's business.
        return reflected and name not in known

    return include_object


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Write types and server defaults the same whichever backend the revision is made on.

    A revision made against SQLite must create the same columns on PostgreSQL and
    MySQL, so nothing in it may be one dialect's view of the model: flash_db's
    types are written as the public SQLAlchemy types they stand for (never a
    driver's class such as asyncpg's ``AsyncpgDateTime``, never flash_db), and
    defaults as expressions each backend compiles for itself.
    """
    if type_ == "type":
        return _render_type(obj, autogen_context)
    if type_ == "server_default":
        return _render_server_default(obj, autogen_context)
    if type_ == "column":
        _warn_if_not_portable(obj)
    return False


def _warn_if_not_portable(column: sa.Column[Any]) -> None:
    """Say so when a new column's type exists on one backend only (``postgresql.JSONB``):
    the revision is written as the model asks, and applies to that backend alone."""
    type_ = column.type
    if isinstance(type_, TypeDecorator) and not isinstance(type_, Portable):
        type_ = type_.impl_instance
    match = re.match(r"sqlalchemy\.dialects\.(\w+)", type(type_).__module__)
    if match is None:
        return
    backend = _BACKEND_NAMES.get(match.group(1), match.group(1))
    log.warning(
        "warning: %s.%s is written as %s.%s, a type only %s has: this revision is not "
        "portable (a generic type, or .with_variant() for the other backends, would be)",
        column.table.name,
        column.name,
        match.group(1),
        type(type_).__name__,
        backend,
    )


_BACKEND_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}


def _render_type(obj: Any, autogen_context: AutogenContext) -> str | bool:
    if isinstance(obj, Portable):
        return _render_portable(obj, autogen_context)
    if public_type(obj) is not obj:
        # A project's own TypeDecorator: the public type it decorates makes the column.
        # (SQLAlchemy's own, such as Interval, render as themselves.)
        return _repr_type(public_type(obj), autogen_context)
    reflected = _reflected_as_portable(obj, autogen_context.dialect)
    if reflected is not None:
        return _render_portable(reflected, autogen_context)
    return False


def public_type(type_: Any) -> Any:
    """``type_`` as a revision names it: a flash_db type as the public type it stands for
    (``UTCDateTime()`` is ``DateTime(timezone=True)``), a project's TypeDecorator as the
    type it decorates; ``makemigrations --check`` shows types this way."""
    if isinstance(type_, Portable):
        return type_.portable()
    if isinstance(type_, TypeDecorator) and not type(type_).__module__.startswith("sqlalchemy."):
        return type_.impl_instance
    return type_


def _render_portable(obj: Portable, autogen_context: AutogenContext) -> str:
    text = _repr_type(obj.portable(), autogen_context)
    # a field's db_types are SQLAlchemy variants of its type (read where Alembic reads them)
    variants = {**obj.variants(), **getattr(obj, "_variant_mapping", {})}
    for dialect, variant in sorted(variants.items()):
        text += f".with_variant({_repr_variant(variant, autogen_context)}, {dialect!r})"
    return text


def _repr_variant(type_: Any, autogen_context: AutogenContext) -> str:
    """A variant as written (not through render_item: it is no reflected type to translate)."""
    match = re.match(r"sqlalchemy\.dialects\.(\w+)", type(type_).__module__)
    if match is None:
        return f"sa.{type_!r}"
    if autogen_context.imports is not None:
        autogen_context.imports.add(f"from sqlalchemy.dialects import {match.group(1)}")
    return f"{match.group(1)}.{type_!r}"


def _reflected_as_portable(type_: Any, dialect: sa.Dialect | None) -> Portable | None:
    """The flash_db type that made a column the database reports, if it is one of ours.

    An ``alter_column`` names the column's current type (``existing_type``), read from
    the database, and MySQL restates it in ``MODIFY``: a revision made on SQLite would
    say ``DATETIME`` and cost a MySQL column its microseconds, one made on PostgreSQL
    would say ``TIMESTAMP`` and change its type. Reflection gives the SQL-named
    (upper-case) classes, models the generic ones; only a column exactly as a flash_db
    type makes it on this backend is translated.
    """
    if dialect is None or not type(type_).__name__.isupper():
        return None
    found: UTCDateTime | NaiveDateTime | PreciseTime | Duration
    if isinstance(type_, (sa.Interval, postgresql.INTERVAL)):
        found = Duration()
    elif isinstance(type_, sa.DateTime):
        found = UTCDateTime() if type_.timezone else NaiveDateTime()
    elif isinstance(type_, sa.Time):
        found = PreciseTime()
    else:
        return None
    same = column_type(type_, dialect) == column_type(found, dialect)
    return found if same else None


def _render_server_default(default: Any, autogen_context: AutogenContext) -> str | bool:
    arg = default.arg if isinstance(default, sa.DefaultClause) else default
    if isinstance(arg, sa.sql.elements.True_):
        return "sa.true()"
    if isinstance(arg, sa.sql.elements.False_):
        # compiled on SQLite this is 0, which PostgreSQL refuses for a boolean column
        return "sa.false()"
    if isinstance(arg, sa.sql.functions.FunctionElement) and not list(arg.clauses):
        # Now(): CURRENT_TIMESTAMP needs parentheses on SQLite and none elsewhere,
        # which each dialect's DDL compiler adds itself.
        return f"sa.func.{arg.name}()"
    if isinstance(arg, sa.ColumnElement) and not isinstance(arg, sa.TextClause):
        # Alembic writes any other expression as SQL compiled for this backend
        log.warning(
            "warning: a server default (%s) is written as %s SQL; check it on other backends",
            arg,
            autogen_context.dialect.name if autogen_context.dialect else "this backend's",
        )
    return False


def compare_server_default(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic's server-default comparison, minus the false alarms seen on our backends.

    Equal after normalising (see :func:`_canonical`) means unchanged; anything
    else goes to Alembic's own comparison (None). Without this, SQLite reads
    ``DEFAULT ''`` back as a change on every run and MariaDB reports booleans and
    ``CURRENT_TIMESTAMP`` defaults it spells differently.
    """
    inspected, rendered = _bare(inspected_default), _bare(rendered_metadata_default)
    if inspected is None or rendered is None:
        return None
    if inspected == rendered or _canonical(inspected) == _canonical(rendered):
        return False
    return None


#: spellings of the same default across backends and SQLAlchemy's rendering
_SAME = {
    "true": "1",
    "false": "0",
    "current_timestamp": "now()",
    "localtimestamp": "now()",
}


def _canonical(text: str) -> str:
    """One spelling per default: MariaDB reflects ``true`` as ``1`` and ``CURRENT_TIMESTAMP``
    as ``current_timestamp(6)``; SQLite keeps a doubled quote doubled."""
    lowered = text.lower().replace("''", "'")
    lowered = re.sub(r"^(current_timestamp|now|localtimestamp)\(\d*\)$", r"\1", lowered)
    return _SAME.get(lowered, lowered)


def _bare(default: str | None) -> str | None:
    """A default's text without parentheses, a ``::type`` cast and quotes."""
    if default is None:
        return None
    text = default.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    text = text.split("::", 1)[0]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic's type comparison, minus the spellings one backend has for the same column.

    A column made by a portable revision reads back in the backend's own words:
    ``TIMESTAMPTZ`` for ``DateTime(timezone=True)`` on PostgreSQL, ``TINYINT(1)``
    for ``BOOLEAN`` and ``LONGTEXT`` for ``JSON`` on MariaDB. Types that compile
    to the same column after normalising (see :func:`column_type`) are unchanged;
    anything else goes to Alembic's own comparison (None), so a real change (a
    ``VARCHAR`` length, ``INTEGER`` to ``BIGINT``) is still reported.
    """
    dialect = context.dialect
    inspected, wanted = column_type(inspected_type, dialect), column_type(metadata_type, dialect)
    if inspected is not None and inspected == wanted:
        return False
    if inspected is not None and wanted is not None and _fraction_differs(inspected, wanted):
        # Alembic compares a type's arguments only when both sides have them, so it
        # takes MySQL's DATETIME for DATETIME(6): a column that lost its microseconds.
        return True
    return None


_FRACTION = re.compile(r"^(DATETIME|TIMESTAMP|TIME)(?:\((\d)\))?$")


def _fraction_differs(inspected: str, wanted: str) -> bool:
    """The same temporal type with other fractional-second digits (MySQL: ``DATETIME(6)``)."""
    one, other = _FRACTION.match(inspected), _FRACTION.match(wanted)
    if one is None or other is None or one.group(1) != other.group(1):
        return False
    return (one.group(2) or "0") != (other.group(2) or "0")


#: a backend's other names for the same column type (after upper-casing)
_SYNONYMS = {
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIME WITHOUT TIME ZONE": "TIME",
    "BOOL": "BOOLEAN",
    "DOUBLE PRECISION": "DOUBLE",
    "FLOAT(53)": "DOUBLE",
    "INT": "INTEGER",
    "INT4": "INTEGER",
    "INT8": "BIGINT",
    "INT2": "SMALLINT",
}

#: MySQL / MariaDB only: what their DDL makes of a type. MariaDB's JSON is a LONGTEXT with
#: a CHECK (flash_db's text fields make TEXT, never LONGTEXT, so no text column is
#: mistaken for one), and BOOLEAN is TINYINT(1).
_MYSQL_SYNONYMS = {"TINYINT(1)": "BOOLEAN", "LONGTEXT": "JSON"}


def column_type(type_: Any, dialect: sa.Dialect) -> str | None:
    """One spelling of the column ``type_`` makes on ``dialect`` (None if it cannot compile)."""
    try:
        text = str(type_.compile(dialect=dialect))
    except sa.exc.CompileError:
        return None
    # collation and character set are MySQL column options, not the type
    text = re.sub(r"\s+(COLLATE|CHARACTER SET)\s+\w+", "", text, flags=re.I)
    text = " ".join(text.upper().split())
    text = re.sub(r"^NUMERIC\((\d+),\s*(\d+)\)$", r"NUMERIC(\1, \2)", text)
    text = re.sub(r"^DECIMAL\b", "NUMERIC", text)
    text = _SYNONYMS.get(text, text)
    if dialect.name == "mysql":
        text = _MYSQL_SYNONYMS.get(text, text)
        # MariaDB reflects an integer with its display width (BIGINT(20)), which is no
        # part of the type (TINYINT(1) is BOOLEAN, above)
        text = re.sub(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\(\d+\)", r"\1", text)
        text = _SYNONYMS.get(text, text)
    return text


def context_options(alias: str, dialect_name: str, routers: Sequence[Any] = ()) -> dict[str, Any]:
    """The ``context.configure()`` keyword arguments flash_db uses for ``alias``.

    ``dialect_name`` is the backend's; the options are the same for every backend, so
    that a revision written on one applies to the others.
    """
    return {
        "target_metadata": metadata,
        "version_table": version_table(alias),
        "include_object": include_object_for(alias, routers),
        "compare_type": compare_type,
        "compare_server_default": compare_server_default,
        "render_item": render_item,
        # ALTERs are written in batch form on every backend: SQLite needs it (its ALTER
        # TABLE cannot change a column; batch mode rebuilds the table) and elsewhere it
        # is a plain ALTER, so a revision made on PostgreSQL still applies to SQLite.
        "render_as_batch": True,
        # Each revision commits on its own where DDL is transactional (PostgreSQL,
        # SQLite): a failing revision leaves the schema as the previous one left it.
        "transaction_per_migration": True,
    }


def ddl_options(dialect: sa.Dialect) -> dict[str, Any]:
    """How DDL runs on ``dialect``, for every ``MigrationContext`` flash_db configures.

    Alembic takes SQLite's DDL to be non-transactional (the sqlite3 module sends no
    BEGIN before it) and says so under ``-v``; flash_db's connections do run it in a
    transaction (see :attr:`Features.transactional_ddl`).
    """
    return {"transactional_ddl": Features.from_dialect(dialect).transactional_ddl}


def diff(connection: sa.Connection, alias: str, routers: Sequence[Any] = ()) -> list[Any]:
    """The differences between ``alias``'s models and the database (Alembic's diff tuples)."""
    options = context_options(alias, connection.dialect.name, routers)
    opts = {
        k: options[k]
        for k in ("compare_type", "compare_server_default", "include_object", "render_item")
    }
    opts.update(ddl_options(connection.dialect))
    context = MigrationContext.configure(connection, opts=opts)
    changes = []
    for change in compare_metadata(context, metadata):
        if isinstance(change, list):
            change = [c for c in change if not _rowid_nullable(connection.dialect, c)]
            if not change:
                continue
        changes.append(change)
    return changes


def rowid_alias(dialect: sa.Dialect, table: str, column: str) -> bool:
    """Whether ``table.column`` is SQLite's ``INTEGER PRIMARY KEY``: the rowid, never NULL.

    SQLite reports it nullable unless the table says ``NOT NULL``, which tables made by
    other tools seldom do; making it NOT NULL would rebuild a legacy table for nothing.
    """
    found = metadata.tables.get(table)
    if dialect.name != "sqlite" or found is None or column not in found.c:
        return False
    pk = list(found.primary_key.columns)
    return len(pk) == 1 and pk[0].name == column and isinstance(pk[0].type, sa.Integer)


def _rowid_nullable(dialect: sa.Dialect, change: Any) -> bool:
    """A diff entry that would only make the rowid (see :func:`rowid_alias`) NOT NULL."""
    kind, *rest = change
    return (
        kind == "modify_nullable"
        and rest[3] is not None
        and rowid_alias(dialect, rest[1], rest[2])
        and rest[-1] is False
    )
