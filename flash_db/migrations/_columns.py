"""Reflected columns to flash_db fields: the type mapping and server defaults of inspectdb.

``map_type`` picks the field class for a reflected column type, ``type_differs``
asks the migration backend whether that field's column type would be reported
as a change, and ``map_default`` turns a reflected server default into the
``db_default`` that renders the same DDL::

    map_default("'x'::character varying", fields.CharField, "postgresql")   # 'x'
    map_default("CURRENT_TIMESTAMP", fields.DateTimeField, "sqlite")        # Now()
"""

from __future__ import annotations

import copy
import decimal
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine.interfaces import ReflectedColumn

from .. import fields
from ..expressions import Now
from ..fields import NOT_PROVIDED, Field
from .autogen import compare_type

__all__ = [
    "Mapped",
    "json_columns",
    "keep_type",
    "map_default",
    "map_type",
    "type_differs",
    "type_name",
]


# -- types ------------------------------------------------------------------------------------


@dataclass
class Mapped:
    field_class: type[Field[Any]]
    kwargs: dict[str, Any]
    note: str | None = None


def type_name(type_: Any, dialect: sa.Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except sa.exc.CompileError:  # a reflected type the dialect cannot render (e.g. NullType)
        return type(type_).__name__


def map_type(column: ReflectedColumn, dialect: sa.Dialect, json_columns: set[str]) -> Mapped:
    """The field class and type keywords for a reflected column (see docs/inspectdb.md)."""
    type_ = column["type"]
    backend = dialect.name
    shown = type_name(type_, dialect)
    if isinstance(type_, sa.types.NullType):
        # SQLite allows columns without a declared type (any value goes).
        return Mapped(fields.TextField, {}, f"column has no type ({shown}), mapped to TextField")
    if isinstance(type_, sa.Enum):
        # Native ENUM types (PostgreSQL, MySQL); flash_db's EnumField stores a VARCHAR.
        values = list(type_.enums)
        length = max((len(v) for v in values), default=1)
        return Mapped(
            fields.CharField,
            {"max_length": length, "choices": values},
            f"native enum {shown}, mapped to CharField",
        )
    if isinstance(type_, mysql.SET):
        # MySQL's SET: any members, comma-separated ("a,c")
        return Mapped(fields.CharField, {"max_length": len(",".join(type_.values)) or 1})
    if isinstance(type_, sa.Boolean):
        return Mapped(fields.BooleanField, {})
    if isinstance(type_, mysql.TINYINT) and type_.display_width == 1:
        # MySQL/MariaDB have no boolean type: BOOLEAN is an alias of TINYINT(1).
        return Mapped(fields.BooleanField, {})
    if isinstance(type_, sa.Uuid):
        return Mapped(fields.UUIDField, {})
    if isinstance(type_, sa.Integer):
        if isinstance(type_, sa.BigInteger):
            return Mapped(fields.BigIntegerField, {})
        if isinstance(type_, sa.SmallInteger):
            return Mapped(fields.SmallIntegerField, {})
        return Mapped(fields.IntegerField, {})
    if isinstance(type_, sa.Float):  # before Numeric: Float subclasses it
        return Mapped(fields.FloatField, {})
    if isinstance(type_, sa.Numeric):
        if type_.precision is None:
            # PostgreSQL NUMERIC without precision; flash_db always writes NUMERIC(p, s).
            return Mapped(
                fields.DecimalField,
                {"max_digits": 65, "decimal_places": type_.scale or 30},
                f"{shown} without precision, guessed max_digits/decimal_places",
            )
        return Mapped(
            fields.DecimalField,
            {"max_digits": type_.precision, "decimal_places": type_.scale or 0},
        )
    if isinstance(type_, sa.DateTime):
        # Only PostgreSQL has a zone-aware type; elsewhere flash_db's aware datetimes are
        # stored as naive UTC, so the column cannot tell and the default (aware) is kept.
        if backend == "postgresql" and not type_.timezone:
            return Mapped(fields.DateTimeField, {"timezone": False})
        return Mapped(fields.DateTimeField, {})
    if isinstance(type_, sa.Date):
        return Mapped(fields.DateField, {})
    if isinstance(type_, sa.Time):
        return Mapped(fields.TimeField, {})
    if isinstance(type_, (sa.Interval, postgresql.INTERVAL)):
        return Mapped(fields.DurationField, {})
    if isinstance(type_, sa.LargeBinary):
        return Mapped(fields.BinaryField, {})
    if isinstance(type_, sa.types._Binary):
        return Mapped(fields.BinaryField, {}, f"{shown}, mapped to BinaryField")
    if isinstance(type_, sa.ARRAY):
        # lists on every backend: the array where there is one (db_types), JSON elsewhere
        return Mapped(fields.JSONField, {})
    if isinstance(type_, sa.JSON):
        note = "JSONB, mapped to JSONField (json)" if isinstance(type_, postgresql.JSONB) else None
        return Mapped(fields.JSONField, {}, note)
    if isinstance(type_, sa.String):
        if column["name"] in json_columns:
            # MariaDB: JSON is LONGTEXT plus a CHECK (json_valid(col)) it adds itself.
            return Mapped(fields.JSONField, {})
        # MySQL's TINYTEXT / MEDIUMTEXT / LONGTEXT are not sa.Text subclasses
        if isinstance(type_, (sa.Text, mysql.TINYTEXT, mysql.MEDIUMTEXT, mysql.LONGTEXT)):
            return Mapped(fields.TextField, {})
        if isinstance(type_, sa.CHAR) and type_.length == 32 and backend != "postgresql":
            # UUIDField is CHAR(32) (hex digits) where there is no native uuid type.
            return Mapped(fields.UUIDField, {})
        if type_.length is None:
            return Mapped(fields.TextField, {}, f"{shown} without a length, mapped to TextField")
        return Mapped(fields.CharField, {"max_length": type_.length})
    return Mapped(fields.TextField, {}, f"unknown type {shown}, mapped to TextField")


def type_differs(context: MigrationContext, column: ReflectedColumn, mapped: Mapped) -> str | None:
    """A note when autogenerate would see the field's type as a change of the column's."""
    probe = mapped.field_class(**mapped.kwargs).column_type()
    table = sa.Table("t", sa.MetaData(), sa.Column(column["name"], probe))
    reflected = sa.Column(column["name"], column["type"])
    wanted = table.c[column["name"]]
    same = compare_type(context, reflected, wanted, reflected.type, probe) is False
    if same or not context.impl.compare_type(reflected, wanted):
        return None
    dialect = context.dialect
    return (
        f"column type {type_name(column['type'], dialect)}; "
        f"{mapped.field_class.__name__} creates {type_name(probe, dialect)}"
    )


def keep_type(context: MigrationContext, column: ReflectedColumn, mapped: Mapped) -> Mapped:
    """``mapped``, keeping the column's own type on this backend where the field's differs.

    A legacy column of a type flash_db does not create (PostgreSQL ``inet``, a native
    enum, ``jsonb``, an array, MySQL's ``MEDIUMTEXT``) gets the field whose values fit it,
    with ``db_types={backend: <the column's type>}``: the model then describes the
    schema as it is, so the next ``makemigrations`` writes no ALTER that would change it,
    and other backends get the field's own type. A column without a type (SQLite) or of
    a type SQLAlchemy does not know keeps its note.
    """
    reflected = column["type"]
    if isinstance(reflected, sa.types.NullType):
        return mapped
    difference = type_differs(context, column, mapped)
    if difference is None and mapped.note is None:
        return mapped
    kept = Mapped(
        mapped.field_class,
        {**mapped.kwargs, "db_types": {context.dialect.name: _plain(reflected)}},
    )
    if type_differs(context, column, kept) is None:
        if isinstance(reflected, sa.ARRAY):
            kept.note = (
                f"{type_name(reflected, context.dialect)} kept; values are lists, and JSON "
                f"lookups do not apply to an array"
            )
        return kept
    return Mapped(mapped.field_class, mapped.kwargs, mapped.note or difference)


def _plain(type_: Any) -> Any:
    """A reflected type without what MySQL reports beside it: the collation and character
    set of each text column (the table's defaults, not compared as part of the type) and
    an integer's display width (``INT(11)``, no part of the type since MySQL 8)."""
    attributes = ["collation", "charset"]
    if isinstance(type_, sa.Integer):
        attributes.append("display_width")
    present = [a for a in attributes if getattr(type_, a, None) is not None]
    if not present:
        return type_
    plain = copy.copy(type_)
    for attribute in present:
        setattr(plain, attribute, None)
    return plain


# -- server defaults --------------------------------------------------------------------------

_NOW = re.compile(r"^(current_timestamp|now|localtimestamp)(\(\d*\))?$", re.I)
#: PostgreSQL reflects literals with their cast: 'x'::character varying, '5'::integer
_PG_CAST = re.compile(r"^(.*?)::[a-z ]+(\(\d+(,\s*\d+)?\))?(\[\])?$", re.I | re.S)
_INT = re.compile(r"^[-+]?\d+$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _unquote(text: str) -> str | None:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return None


def map_default(raw: str | None, field_class: type[Field[Any]], backend: str) -> Any:
    """The ``db_default`` for a reflected server default (``NOT_PROVIDED`` when there is none)."""
    if raw is None:
        return NOT_PROVIDED
    text = raw.strip()
    if backend == "postgresql":
        match = _PG_CAST.match(text)
        if match:
            text = match.group(1)
    if backend == "mysql" and text.upper() == "NULL":
        # MariaDB reports DEFAULT NULL of nullable columns as the text NULL.
        return NOT_PROVIDED
    if _NOW.match(text) and issubclass(field_class, fields.DateTimeField):
        return Now()
    number = text.strip("()")
    quoted = _unquote(number)
    if quoted is not None and _NUMBER.match(quoted):
        number = quoted  # MySQL quotes numeric literals: '0'
    if issubclass(field_class, fields.BooleanField):
        lowered = number.lower()
        if lowered in ("true", "1", "b'1'"):
            return True
        if lowered in ("false", "0", "b'0'"):
            return False
    if issubclass(field_class, (fields.IntegerField, fields.FloatField, fields.DecimalField)):
        if issubclass(field_class, fields.IntegerField) and _INT.match(number):
            return int(number)
        if issubclass(field_class, fields.FloatField) and _NUMBER.match(number):
            return float(number)
        if issubclass(field_class, fields.DecimalField) and _NUMBER.match(number):
            return decimal.Decimal(number)
    literal = _unquote(text)
    if literal is not None:
        return literal
    return sa.text(raw)


def json_columns(conn: sa.Connection, table: str) -> set[str]:
    """MariaDB: the LONGTEXT columns that are JSON (its JSON type is an alias of LONGTEXT).

    MariaDB adds a column-level ``CHECK (json_valid(col))`` to them, which SQLAlchemy's
    inspector does not report; ``information_schema`` has it.
    """
    if not getattr(conn.dialect, "is_mariadb", False):
        return set()
    rows = conn.execute(
        sa.text(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = :table"
        ),
        {"table": table},
    )
    found = set()
    for (clause,) in rows:
        match = re.fullmatch(r"json_valid\(`?(\w+)`?\)", (clause or "").strip())
        if match:
            found.add(match.group(1))
    return found
