"""Schema introspection: model specs read from a live database, and ``models.py`` source.

Two layers. :func:`inspect_schema` reads tables, columns, keys, indexes and
constraints with SQLAlchemy's inspector and maps them onto flash_db fields as
:class:`ModelSpec` / :class:`FieldSpec` values (real field classes, real keyword
values, real :class:`~flash_db.Index` / constraint objects), so that code can
build model classes from them. :func:`render_models` turns specs into the
source that ``flash db inspectdb`` prints::

    with engine.connect() as conn:
        specs = inspect_schema(conn)
    print(render_models(specs))

The aim is a round trip: once the printed models are imported, Alembic's
``compare_metadata`` (types and server defaults included) sees the database
and the models as in sync. Where a column cannot be expressed exactly (a type
flash_db does not create, an expression index), the field carries a
``comment`` that is rendered as ``# TODO: ...`` above it. Whether a type is
"the same" is decided by the migration backend's own ``compare_type``, so
the TODOs appear exactly where autogenerate would report a difference.
The type and server-default mapping lives in :mod:`flash_db.migrations._columns`.
"""

from __future__ import annotations

import decimal
import keyword
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from sqlalchemy.dialects import mysql
from sqlalchemy.engine.interfaces import (
    ReflectedColumn,
    ReflectedForeignKeyConstraint,
    ReflectedIndex,
    ReflectedUniqueConstraint,
)

from .. import fields
from ..constraints import BaseConstraint, CheckConstraint, Index, UniqueConstraint
from ..exceptions import ConfigurationError
from ..expressions import Now
from ..fields import NOT_PROVIDED, Field
from ..models import Model
from ._columns import json_columns, keep_type, map_default, map_type

__all__ = ["FieldSpec", "ModelSpec", "inspect_schema", "render_models"]

_RELATIONS = (fields.ForeignKey, fields.OneToOneField)


@dataclass
class FieldSpec:
    """One field of a model, as inspectdb would write it.

    ``kwargs`` are the constructor's keyword arguments as Python values (for
    relations ``to`` is the target class name, or ``"self"``); ``column`` is
    the column name in the database; ``comment`` is what could not be mapped.

    Example::

        spec = FieldSpec("name", fields.CharField, {"max_length": 100}, column="name")
        spec.build()        # fields.CharField(max_length=100)
    """

    name: str
    field_class: type[Field[Any]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    column: str = ""

    def build(self) -> Field[Any]:
        """A new field instance from ``field_class`` and ``kwargs``."""
        return self.field_class(**self.kwargs)

    @property
    def is_relation(self) -> bool:
        return issubclass(self.field_class, _RELATIONS)


@dataclass
class ModelSpec:
    """One model: class name, table, fields and the ``Meta`` options it needs.

    ``indexes`` and ``constraints`` hold real :class:`~flash_db.Index` /
    :class:`~flash_db.UniqueConstraint` / :class:`~flash_db.CheckConstraint`
    objects, ready for ``Meta``; ``comments`` are table-level TODOs.

    Example::

        spec = ModelSpec("Author", "author", [FieldSpec("name", fields.TextField)])
        spec.field("name").field_class      # fields.TextField
    """

    class_name: str
    table: str
    fields: list[FieldSpec] = field(default_factory=list)
    unique_together: list[tuple[str, ...]] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    constraints: list[BaseConstraint] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    #: a table whose rows its model cannot address one by one (a composite primary key,
    #: or none): ``Meta.read_only`` and ``Meta.managed = False``, so that no delete or
    #: update through its stand-in key can touch more than one row
    read_only: bool = False

    def field(self, name: str) -> FieldSpec:
        """The field spec called ``name``."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def field_for_column(self, column: str) -> FieldSpec:
        """The field spec stored in ``column``."""
        for spec in self.fields:
            if spec.column == column:
                return spec
        raise KeyError(column)


# -- names ------------------------------------------------------------------------------------

#: names a field may not have (the Model API); flash_db refuses them at class creation
_RESERVED = {"pk", "objects", "DoesNotExist", "MultipleObjectsReturned", *vars(Model)}


def class_name_for(table: str) -> str:
    """``blog_post`` → ``BlogPost``; a leading digit gets a ``T`` prefix."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", table) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Table"
    return f"T{name}" if name[0].isdigit() else name


def _field_name(column: str) -> str:
    """A valid flash_db field name for ``column`` (lower case, no ``__``, not reserved)."""
    name = re.sub(r"\W", "_", column.lower())
    name = re.sub(r"_{2,}", "_", name).strip("_") or "field"
    if name[0].isdigit():
        name = f"number_{name}"
    if keyword.iskeyword(name) or name in _RESERVED or keyword.issoftkeyword(name):
        name = f"{name}_field"
    return name


def _unique_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name}_{n}"
        n += 1
    taken.add(candidate)
    return candidate


# -- tables -----------------------------------------------------------------------------------


def _is_auto(column: ReflectedColumn, pk: list[str], backend: str) -> bool:
    if pk != [column["name"]] or not isinstance(column["type"], sa.Integer):
        return False
    if backend == "sqlite":
        # SQLite: a single INTEGER PRIMARY KEY is the rowid, always auto-incrementing;
        # the inspector does not report it.
        return not isinstance(column["type"], (sa.BigInteger, sa.SmallInteger))
    return bool(column.get("autoincrement"))


def _checks(inspector: sa.Inspector, table: str) -> list[Any]:
    try:
        return list(inspector.get_check_constraints(table))
    except NotImplementedError:
        return []


@dataclass
class _Table:
    """What the inspector said about one table, gathered once."""

    name: str
    columns: list[ReflectedColumn]
    pk: list[str]
    uniques: list[ReflectedUniqueConstraint]
    indexes: list[ReflectedIndex]
    fks: list[ReflectedForeignKeyConstraint]
    checks: list[Any]
    comment: str | None
    json_columns: set[str]


def _read(inspector: sa.Inspector, conn: sa.Connection, name: str) -> _Table:
    try:
        comment = inspector.get_table_comment(name).get("text")
    except NotImplementedError:
        comment = None
    # MySQL has no UNIQUE constraint apart from a unique index, and lists each unique
    # index as both ("duplicates_index"). One named as flash_db names indexes (a unique
    # field with db_index, a OneToOneField) is an index, the others constraints.
    uniques = [
        uq
        for uq in inspector.get_unique_constraints(name)
        if not (
            uq.get("duplicates_index") and uq["name"] == f"ix_{name}_{'_'.join(uq['column_names'])}"
        )
    ]
    unique_names = {u["name"] for u in uniques if u["name"]}
    indexes = [
        ix
        for ix in inspector.get_indexes(name)
        # PostgreSQL lists the index behind each UNIQUE constraint ("duplicates_constraint").
        if not ix.get("duplicates_constraint") and ix["name"] not in unique_names
    ]
    return _Table(
        name=name,
        columns=list(inspector.get_columns(name)),
        pk=list(inspector.get_pk_constraint(name).get("constrained_columns") or []),
        uniques=uniques,
        indexes=indexes,
        fks=list(inspector.get_foreign_keys(name)),
        checks=_checks(inspector, name),
        comment=comment,
        json_columns=json_columns(conn, name),
    )


def inspect_schema(
    sync_conn: sa.Connection,
    tables: Sequence[str] | None = None,
    *,
    exclude: Sequence[str] = ("alembic_version",),
) -> list[ModelSpec]:
    """Model specs for the tables of the database behind ``sync_conn``, parents first.

    ``tables`` limits the result to those tables (foreign keys to other tables
    still name their class, with a TODO); ``exclude`` drops tables by name.

    Example::

        async with engine.connect() as conn:
            specs = await conn.run_sync(inspect_schema, ["author", "book"])
        [s.class_name for s in specs]      # ['Author', 'Book']
    """
    inspector = sa.inspect(sync_conn)
    available = [t for t in inspector.get_table_names() if t not in set(exclude)]
    if tables:
        missing = sorted(set(tables) - set(available))
        if missing:
            raise ConfigurationError(
                f"no such table(s): {', '.join(missing)}; tables: {', '.join(sorted(available))}"
            )
        names = [t for t in available if t in set(tables)]
    else:
        names = available
    read = {name: _read(inspector, sync_conn, name) for name in sorted(names)}
    context = MigrationContext.configure(sync_conn)
    class_names: dict[str, str] = {}
    taken: set[str] = set()
    for name in read:
        class_names[name] = _unique_name(class_name_for(name), taken)
    specs = {name: _build_model(read[name], class_names, read, context) for name in read}
    _resolve_auto_sizes(specs, read, context.dialect.name)
    _set_related_names(specs)
    return [specs[name] for name in _parents_first(read)]


def _build_model(
    table: _Table, class_names: dict[str, str], tables: dict[str, _Table], context: MigrationContext
) -> ModelSpec:
    dialect = context.dialect
    backend = dialect.name
    spec = ModelSpec(class_name_for(table.name), table.name)
    spec.class_name = class_names[table.name]
    if table.comment:
        spec.comments.append(f"table comment not recovered: {table.comment!r}")
    fks = {
        fk["constrained_columns"][0]: fk for fk in table.fks if len(fk["constrained_columns"]) == 1
    }
    for composite in table.fks:
        if len(composite["constrained_columns"]) > 1:
            cols = ", ".join(composite["constrained_columns"])
            spec.comments.append(
                f"composite foreign key ({cols}) -> {composite['referred_table']} not recovered"
            )
    pk = table.pk
    if len(pk) > 1:
        spec.read_only = True
        spec.comments.append(
            f"composite primary key ({', '.join(pk)}): flash_db cannot address one row of "
            f"this table yet, so the model is read-only; {pk[0]} stands in as its pk, "
            f"which is not unique"
        )
    elif not pk:
        spec.read_only = True
        spec.comments.append(
            "no primary key: flash_db cannot address one row of this table, so the model is "
            "read-only; the first column stands in as its pk, which may not be unique"
        )
    pk_column = pk[0] if pk else table.columns[0]["name"]
    json_columns = table.json_columns
    names = {c["name"] for c in table.columns}
    taken: set[str] = set()
    for column in table.columns:
        col = column["name"]
        fk = fks.get(col)
        if fk is not None:
            spec.fields.append(
                _relation_field(
                    column, fk, col == pk_column, class_names, tables, names, taken, table
                )
            )
            continue
        mapped = keep_type(context, column, map_type(column, dialect, json_columns))
        note = mapped.note
        kwargs = dict(mapped.kwargs)
        field_class = mapped.field_class
        is_pk = col == pk_column
        if is_pk and _is_auto(column, pk, backend):
            field_class = (
                fields.BigAutoField
                if isinstance(column["type"], sa.BigInteger)
                else fields.AutoField
            )
            kwargs = {"primary_key": True}
        else:
            if is_pk:
                kwargs["primary_key"] = True
            elif column["nullable"]:
                kwargs["null"] = True
            default = map_default(column.get("default"), field_class, backend)
            if default is not NOT_PROVIDED:
                kwargs["db_default"] = default
        name = _unique_name(_field_name(col), taken)
        if name != col:
            kwargs["db_column"] = col
        if column.get("comment"):
            kwargs["description"] = column["comment"]
        spec.fields.append(FieldSpec(name, field_class, kwargs, note, col))
    _apply_uniques_and_indexes(spec, table)
    for check in table.checks:
        if not check.get("name") or re.fullmatch(r"json_valid\(.*\)", check["sqltext"].strip()):
            continue
        spec.constraints.append(
            CheckConstraint(sa.literal_column(check["sqltext"]), name=check["name"])
        )
    return spec


def _relation_field(
    column: ReflectedColumn,
    fk: ReflectedForeignKeyConstraint,
    is_pk: bool,
    class_names: dict[str, str],
    tables: dict[str, _Table],
    column_names: set[str],
    taken: set[str],
    table: _Table,
) -> FieldSpec:
    col = column["name"]
    target_table = fk["referred_table"]
    base = col[:-3] if col.lower().endswith("_id") and len(col) > 3 else col
    base_name = _field_name(base)
    if base != col and base_name in column_names:  # a column "author" next to "author_id"
        base_name = f"{base_name}_rel"
    name = _unique_name(base_name, taken)
    target = (
        "self"
        if target_table == table.name
        else class_names.get(target_table, class_name_for(target_table))
    )
    ondelete = (fk.get("options") or {}).get("ondelete", "").upper()
    on_delete = {"CASCADE": fields.DB_CASCADE, "SET NULL": fields.DB_SET_NULL}.get(
        ondelete, fields.DO_NOTHING
    )
    kwargs: dict[str, Any] = {"to": target, "on_delete": on_delete}
    if is_pk:
        kwargs["primary_key"] = True
    elif column["nullable"]:
        kwargs["null"] = True
    notes = []
    if on_delete is fields.DB_SET_NULL and not kwargs.get("null"):
        # Only possible when this column had to become the primary key (see comments).
        kwargs["on_delete"] = fields.DO_NOTHING
        notes.append("ON DELETE SET NULL on a primary key column not recovered")
    if f"{name}_id" != col:
        kwargs["db_column"] = col
    if target_table not in tables:
        notes.append(f"{target_table} is not among the inspected tables")
    referred = fk["referred_columns"][0]
    target_info = tables.get(target_table)
    if target_info is not None and target_info.pk != [referred]:
        kwargs["to_field"] = _field_name(referred)
    if ondelete and on_delete is fields.DO_NOTHING and ondelete not in ("NO ACTION", "RESTRICT"):
        notes.append(f"ON DELETE {ondelete} not recovered")
    if column.get("comment"):
        kwargs["description"] = column["comment"]
    return FieldSpec(name, fields.ForeignKey, kwargs, "; ".join(notes) or None, col)


def _apply_uniques_and_indexes(spec: ModelSpec, table: _Table) -> None:
    """Single-column ones named as flash_db names them become field options, others Meta.

    Names matter: ``compare_metadata`` matches indexes and unique constraints by
    name, so any name that is not the naming convention's is kept explicitly.
    """
    by_column = {f.column: f for f in spec.fields}
    name_of = {f.column: f.name for f in spec.fields}
    relation_columns = {f.column for f in spec.fields if f.is_relation}
    indexed: set[str] = set()
    for uq in table.uniques:
        cols = list(uq["column_names"])
        convention = f"uq_{table.name}_{'_'.join(cols)}"
        if len(cols) == 1 and uq["name"] in (convention, None):
            by_column[cols[0]].kwargs["unique"] = True
        elif uq["name"] in (convention, None):
            spec.unique_together.append(tuple(name_of[c] for c in cols))
        else:
            spec.constraints.append(
                UniqueConstraint(fields=[name_of[c] for c in cols], name=uq["name"])
            )
    for ix in table.indexes:
        reflected = list(ix["column_names"])
        if any(c is None for c in reflected) or ix.get("expressions"):
            spec.comments.append(f"expression index {ix['name']} not recovered")
            continue
        cols = [c for c in reflected if c is not None]
        options = ix.get("dialect_options") or {}
        if options.get("postgresql_where") or options.get("sqlite_where"):
            spec.comments.append(f"partial index {ix['name']} not recovered")
            continue
        sorting = ix.get("column_sorting") or {}
        descending = {c for c, flags in sorting.items() if "desc" in flags}
        convention = f"ix_{table.name}_{'_'.join(cols)}"
        if len(cols) == 1 and not descending and ix["name"] == convention:
            column = cols[0]
            indexed.add(column)
            field_spec = by_column[column]
            field_spec.kwargs["db_index"] = True
            if ix["unique"]:
                field_spec.kwargs["unique"] = True
            continue
        index_fields = [("-" if c in descending else "") + name_of[c] for c in cols]
        spec.indexes.append(
            Index(
                fields=index_fields,
                name=None if ix["name"] == convention else ix["name"],
                unique=bool(ix["unique"]),
            )
        )
    for column in relation_columns:
        field_spec = by_column[column]
        # ForeignKey indexes its column by default (db_index=True): say so only when not.
        if field_spec.kwargs.pop("db_index", False) is False and column not in indexed:
            field_spec.kwargs["db_index"] = False
        if field_spec.kwargs.pop("unique", False):
            field_spec.field_class = fields.OneToOneField
    for field_spec in spec.fields:
        if field_spec.kwargs.get("primary_key"):
            field_spec.kwargs.pop("unique", None)


def _resolve_auto_sizes(
    specs: dict[str, ModelSpec], tables: dict[str, _Table], backend: str
) -> None:
    """Pick AutoField vs BigAutoField where the column type cannot tell, and check FK types.

    A foreign key's column type follows its target's primary key (INTEGER for an
    AutoField, BIGINT for a BigAutoField), so the referencing columns decide on
    SQLite, where both kinds of auto key are an INTEGER rowid.
    """
    referencing: dict[str, list[tuple[FieldSpec, ReflectedColumn]]] = {}
    for name, table in tables.items():
        columns = {c["name"]: c for c in table.columns}
        for field_spec in specs[name].fields:
            if field_spec.is_relation:
                target = (
                    name
                    if field_spec.kwargs["to"] == "self"
                    else _table_of(specs, field_spec.kwargs["to"])
                )
                if target is not None:
                    referencing.setdefault(target, []).append(
                        (field_spec, columns[field_spec.column])
                    )
    for name, spec in specs.items():
        pk = next((f for f in spec.fields if f.kwargs.get("primary_key")), None)
        refs = referencing.get(name, [])
        if pk is None or pk.field_class not in (fields.AutoField, fields.BigAutoField):
            continue
        if backend == "sqlite":
            small = any(not isinstance(c["type"], sa.BigInteger) for _, c in refs)
            pk.field_class = fields.AutoField if small else fields.BigAutoField
        wanted = sa.BigInteger if pk.field_class is fields.BigAutoField else sa.Integer
        for field_spec, column in refs:
            if "to_field" in field_spec.kwargs:
                continue
            big = isinstance(column["type"], sa.BigInteger)
            if big != (wanted is sa.BigInteger):
                note = f"column type {type(column['type']).__name__} differs from the target's key"
                field_spec.comment = "; ".join(filter(None, [field_spec.comment, note]))


def _table_of(specs: dict[str, ModelSpec], class_name: str) -> str | None:
    for name, spec in specs.items():
        if spec.class_name == class_name:
            return name
    return None


def _set_related_names(specs: dict[str, ModelSpec]) -> None:
    """Give ``related_name`` to foreign keys whose default reverse name would clash.

    The default reverse name is the source class in lower case: two foreign keys
    from one model to the same target (or a target field of that name) clash.
    """
    by_class = {s.class_name: s for s in specs.values()}
    incoming: dict[str, list[tuple[ModelSpec, FieldSpec]]] = {}
    for spec in specs.values():
        for field_spec in spec.fields:
            if field_spec.is_relation:
                to = field_spec.kwargs["to"]
                incoming.setdefault(spec.class_name if to == "self" else to, []).append(
                    (spec, field_spec)
                )
    for target_name, refs in incoming.items():
        target = by_class.get(target_name)
        target_names = set()
        if target is not None:
            for f in target.fields:
                target_names.add(f.name)
                if f.is_relation:
                    target_names.add(f"{f.name}_id")
        counts: dict[str, int] = {}
        for source, _ in refs:
            default = source.class_name.lower()
            counts[default] = counts.get(default, 0) + 1
        used: set[str] = set(target_names)
        for source, field_spec in refs:
            default = source.class_name.lower()
            if counts[default] == 1 and default not in target_names:
                used.add(default)
                continue
            related = _unique_name(
                f"{_field_name(source.class_name)}_{field_spec.name}_set".lower(), used
            )
            field_spec.kwargs["related_name"] = related


def _parents_first(tables: dict[str, _Table]) -> list[str]:
    """Table names ordered so that referenced tables come first (cycles: by name)."""
    deps = {
        name: {fk["referred_table"] for fk in t.fks if fk["referred_table"] in tables} - {name}
        for name, t in tables.items()
    }
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(tables):
        ready = [n for n in sorted(tables) if n not in done and deps[n] <= done]
        if not ready:  # a cycle: take the first remaining table; string references resolve it
            ready = [next(n for n in sorted(tables) if n not in done)]
        for name in ready[:1]:
            order.append(name)
            done.add(name)
    return order


# -- rendering --------------------------------------------------------------------------------

#: ruff format's default line length; longer calls are split one argument a line, with a
#: trailing comma, which ruff format keeps at any configured length
_WIDTH = 88
_KWARG_ORDER = (
    "to",
    "on_delete",
    "to_field",
    "primary_key",
    "max_length",
    "max_digits",
    "decimal_places",
    "timezone",
    "null",
    "unique",
    "db_index",
    "db_default",
    "default",
    "choices",
    "db_column",
    "related_name",
    "description",
)


@dataclass
class _Seq:
    """A bracketed, comma-separated group: a call, list or tuple."""

    open: str
    items: list[Any]
    close: str


@dataclass
class _Imports:
    flash: set[str] = field(default_factory=lambda: {"Model", "fields"})
    constraints: set[str] = field(default_factory=set)
    sqlalchemy: bool = False
    decimal: bool = False
    #: ``from sqlalchemy.dialects import …`` (a column type kept with ``db_types``)
    dialects: set[str] = field(default_factory=set)

    def lines(self) -> list[str]:
        # isort order (ruff's "I"): stdlib, then third party; ``import x`` before ``from``.
        out = []
        if self.decimal:
            out += ["import decimal", ""]
        if self.sqlalchemy:
            out.append("import sqlalchemy as sa")
        names = sorted(self.flash, key=lambda n: (n[0].islower(), n))
        out.append(f"from flash_db import {', '.join(names)}")
        if self.constraints:
            out.append(f"from flash_db.constraints import {', '.join(sorted(self.constraints))}")
        if self.dialects:
            out.append(f"from sqlalchemy.dialects import {', '.join(sorted(self.dialects))}")
        return out


def _str(text: str) -> str:
    """A string literal in ruff format's preferred (double) quotes."""
    literal = repr(text)
    if literal[0] == "'" and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def _node(value: Any, imports: _Imports) -> Any:
    if isinstance(value, fields.OnDelete):
        return f"fields.{value.name}"
    if isinstance(value, Now):
        imports.flash.add("Now")
        return "Now()"
    if isinstance(value, sa.TextClause):
        imports.sqlalchemy = True
        return f"sa.text({_str(value.text)})"
    if isinstance(value, decimal.Decimal):
        imports.decimal = True
        return f"decimal.Decimal({_str(str(value))})"
    if isinstance(value, str):
        return _str(value)
    if isinstance(value, dict):
        return _Seq(
            "{", [_Seq(f"{_str(k)}: ", [_node(v, imports)], "") for k, v in value.items()], "}"
        )
    if isinstance(value, sa.types.TypeEngine):
        return _type(value, imports)
    if isinstance(value, list):
        return _Seq("[", [_node(v, imports) for v in value], "]")
    if isinstance(value, tuple):
        items = [_node(v, imports) for v in value]
        return _Seq("(", items, ",)" if len(items) == 1 else ")")
    if isinstance(value, Index):
        imports.flash.add("Index")
        kwargs: dict[str, Any] = {"fields": list(value.fields)}
        if value.name:
            kwargs["name"] = value.name
        if value.unique:
            kwargs["unique"] = True
        return _call("Index", [], kwargs, imports)
    if isinstance(value, UniqueConstraint):
        imports.constraints.add("UniqueConstraint")
        return _call(
            "UniqueConstraint", [], {"fields": list(value.fields), "name": value.name}, imports
        )
    if isinstance(value, CheckConstraint):
        imports.constraints.add("CheckConstraint")
        imports.sqlalchemy = True
        condition = f"sa.literal_column({_str(str(value.condition))})"
        return _call("CheckConstraint", [condition], {"name": value.name}, imports)
    return repr(value)


def _type(type_: sa.types.TypeEngine[Any], imports: _Imports) -> str:
    """A SQLAlchemy type as source: ``postgresql.INET()``, ``sa.NVARCHAR(length=20)``."""
    match = re.match(r"sqlalchemy\.dialects\.(\w+)", type(type_).__module__)
    if match is None:
        imports.sqlalchemy = True
        prefix = "sa"
    else:
        prefix = match.group(1)
        imports.dialects.add(prefix)
    if isinstance(type_, sa.ARRAY):
        return f"{prefix}.{type(type_).__name__}({_type(type_.item_type, imports)})"
    if isinstance(type_, sa.JSON):
        # its one argument (astext_type) is SQLAlchemy's default as reflected
        return f"{prefix}.{type(type_).__name__}()"
    if isinstance(type_, sa.Enum | mysql.SET):
        members = type_.values if isinstance(type_, mysql.SET) else type_.enums
        values = [_str(str(v)) for v in members]
        name = getattr(type_, "name", None)
        if name:
            values.append(f"name={_str(str(name))}")
        return f"{prefix}.{type(type_).__name__}({', '.join(values)})"
    return f"{prefix}.{type_!r}"


def _call(head: str, args: list[Any], kwargs: dict[str, Any], imports: _Imports) -> _Seq:
    items = list(args)
    items += [_Seq(f"{k}=", [_node(v, imports)], "") for k, v in kwargs.items()]
    return _Seq(f"{head}(", items, ")")


def _is_prefix(node: _Seq) -> bool:
    """``k=value`` or ``"k": value``: a label before one item, not a bracketed group."""
    return node.open.endswith(("=", ": ")) and not node.close


def _flat(node: Any) -> str:
    if isinstance(node, str):
        return node
    if _is_prefix(node):  # keyword argument, or a dict's key
        return node.open + _flat(node.items[0])
    inner = ", ".join(_flat(i) for i in node.items)
    close = ")" if node.close == ",)" and len(node.items) != 1 else node.close
    return f"{node.open}{inner}{close}"


def _lines(node: Any, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    pad = " " * indent
    flat = f"{pad}{prefix}{_flat(node)}{suffix}"
    if isinstance(node, str) or len(flat) <= _WIDTH or not node.items:
        return [flat]
    if _is_prefix(node):
        return _lines(node.items[0], indent, prefix + node.open, suffix)
    out = [f"{pad}{prefix}{node.open}"]
    for item in node.items:
        out += _lines(item, indent + 4, "", ",")
    close = ")" if node.close == ",)" else node.close
    out.append(f"{pad}{close}{suffix}")
    return out


def _comment(text: str, indent: int) -> list[str]:
    """``# TODO: text`` wrapped to the line length (ruff's E501)."""
    pad = " " * indent
    return textwrap.wrap(
        " ".join(text.split()),
        width=_WIDTH,
        initial_indent=f"{pad}# TODO: ",
        subsequent_indent=f"{pad}#   ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _is_implicit_id(spec: FieldSpec) -> bool:
    """The ``id`` flash_db adds by itself when no field is a primary key."""
    return (
        spec.name == "id"
        and spec.field_class is fields.BigAutoField
        and spec.kwargs == {"primary_key": True}
        and not spec.comment
    )


def _render_field(spec: FieldSpec, imports: _Imports) -> list[str]:
    kwargs = dict(spec.kwargs)
    args = []
    if spec.is_relation:
        args.append(_node(kwargs.pop("to"), imports))
    if spec.field_class in (fields.AutoField, fields.BigAutoField):
        kwargs.pop("primary_key", None)  # auto fields are primary keys by default
    ordered = {k: kwargs[k] for k in _KWARG_ORDER if k in kwargs}
    ordered.update({k: v for k, v in kwargs.items() if k not in ordered})
    call = _call(f"fields.{spec.field_class.__name__}", args, ordered, imports)
    out = _comment(spec.comment, 4) if spec.comment else []
    return out + _lines(call, 4, f"{spec.name} = ")


def _render_model(spec: ModelSpec, app_label: str | None, imports: _Imports) -> list[str]:
    out = [f"class {spec.class_name}(Model):"]
    for comment in spec.comments:
        out += _comment(comment, 4)
    body = [
        line for f in spec.fields if not _is_implicit_id(f) for line in _render_field(f, imports)
    ]
    out += body
    if body:
        out.append("")
    out += ["    class Meta:", f"        table = {_str(spec.table)}"]
    if spec.read_only:
        out += ["        managed = False", "        read_only = True"]
    if app_label:
        out.append(f"        app_label = {_str(app_label)}")
    meta: list[tuple[str, Any]] = [
        # tuples, not lists: ruff's RUF012 flags mutable class attributes
        ("unique_together", tuple(spec.unique_together)),
        ("indexes", tuple(spec.indexes)),
        ("constraints", tuple(spec.constraints)),
    ]
    for name, values in meta:
        if values:
            out += _lines(_node(values, imports), 8, f"{name} = ")
    return out


def render_models(
    specs: Sequence[ModelSpec], *, app_label: str | None = None, source: str | None = None
) -> str:
    """The source of a models module for ``specs``: ``flash db inspectdb``'s output.

    ``app_label`` sets ``Meta.app_label`` on every model; ``source`` (a masked
    URL) is named in the module docstring. The output passes ``ruff check`` and
    ``ruff format --check``.

    Example::

        print(render_models([ModelSpec("Tag", "tag", [FieldSpec("name", fields.TextField)])]))
        # ...
        # class Tag(Model):
        #     name = fields.TextField()
        #
        #     class Meta:
        #         table = "tag"
    """
    imports = _Imports()
    classes = [_render_model(spec, app_label, imports) for spec in specs]
    # The URL gets a line of its own: a line without spaces is exempt from E501.
    origin = [" from:", "", source, ""] if source else [".", ""]
    header = [
        f'"""Models generated by ``flash db inspectdb``{origin[0]}',
        *origin[1:],
        "Review them before use: Python-side defaults, choices, validators and relation",
        "names are not in the database. ``# TODO`` comments mark what was not mapped exactly.",
        '"""',
        "",
        *imports.lines(),
    ]
    out = header
    for lines in classes:
        out += ["", "", *lines]
    return "\n".join(out) + "\n"
