"""SQLAlchemy column types that make values round-trip the same on every backend.

This module sits at the bottom of the layering (it imports SQLAlchemy only), so
that expressions (``Now()``) and fields can both use these types.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect, processors
from sqlalchemy.types import TypeDecorator, TypeEngine

#: the type OID of ``timestamptz``, as asyncpg's cursor description reports it
ASYNCPG_TIMESTAMPTZ = 1184


class Portable:
    """A flash_db column type that a migration writes as public SQLAlchemy types.

    Revisions outlive the code that wrote them and may run on another backend than
    the one they were made on, so they reference neither flash_db nor one dialect's
    view of a type: :meth:`portable` is the generic type the field stands for, and
    :meth:`variants` the few backends that need another column to hold the same
    values (MySQL's plain ``DATETIME`` drops microseconds, so it gets ``DATETIME(6)``).
    """

    def portable(self) -> TypeEngine[Any]:
        """The generic SQLAlchemy type of this type's column."""
        raise NotImplementedError(f"{type(self).__name__} must define portable()")

    def variants(self) -> dict[str, TypeEngine[Any]]:
        """Dialect name → the type that backend needs instead of :meth:`portable`."""
        return {}

    def portable_value(self, value: Any) -> tuple[Any, dict[str, Any]]:
        """``value`` as :meth:`portable` binds it, and where a variant needs another
        Python value, dialect name → that value (a revision that writes a value, such
        as the one-off value of a new NOT NULL column, binds it through the public types)."""
        return value, {}


#: MySQL's plain DATETIME / TIME drop the fraction of a second
_MYSQL_DATETIME6: dict[str, TypeEngine[Any]] = {"mysql": mysql.DATETIME(fsp=6)}
_MYSQL_TIME6: dict[str, TypeEngine[Any]] = {"mysql": mysql.TIME(fsp=6)}


class UTCDateTime(Portable, TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes, stored as UTC.

    PostgreSQL keeps ``timestamptz``; MySQL and SQLite have no zone-aware type,
    so values are converted to UTC and stored naive, and read back as aware
    UTC. Naive input is taken to be UTC. MySQL gets ``DATETIME(6)`` because a
    plain ``DATETIME`` drops microseconds.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.DateTime(timezone=True))
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def portable(self) -> TypeEngine[Any]:
        return sa.DateTime(timezone=True)

    def variants(self) -> dict[str, TypeEngine[Any]]:
        return _MYSQL_DATETIME6

    def portable_value(self, value: Any) -> tuple[Any, dict[str, Any]]:
        # aware UTC: timestamptz takes it, and SQLite's and MySQL's DATETIME write its
        # fields as they are, which is the naive UTC these columns hold
        if isinstance(value, dt.datetime):
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
            value = value.astimezone(dt.UTC)
        return value, {}

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, dt.datetime):
            return value
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        else:
            value = value.astimezone(dt.UTC)
        if dialect.name != "postgresql":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """``process_result_value`` as one function per value, not TypeDecorator's two.

        This runs once per datetime in every row read, so the call layers show in
        large fetches (SQLite and MySQL read naive values and need the zone attached).
        Values that are already UTC (asyncpg decodes ``timestamptz`` as UTC) pass as they are.
        """
        if dialect.driver == "asyncpg" and coltype == ASYNCPG_TIMESTAMPTZ:
            # asyncpg decodes timestamptz (binary protocol, microseconds since the epoch)
            # as an aware datetime in UTC whatever the session's zone: nothing to do, and
            # with no processor on any column a fetch can skip SQLAlchemy's Row objects.
            return None
        impl = self.impl_instance.result_processor(dialect, coltype)
        utc = dt.UTC

        def process(value: Any) -> Any:
            if value is None:
                return None
            if impl is not None:
                value = impl(value)
            tz = value.tzinfo
            if tz is utc:
                return value
            return value.replace(tzinfo=utc) if tz is None else value.astimezone(utc)

        if impl is not processors.str_to_datetime:
            return process
        # SQLite's default storage format: ISO text, which SQLAlchemy parses with
        # fromisoformat. Parsing it with the zone appended makes the aware value in the
        # same C call (0.2 µs instead of 1 µs, per datetime of every row read); text
        # that already carries an offset, or that isn't ISO, takes the general path.
        fromiso = dt.datetime.fromisoformat

        def process_iso_text(value: Any) -> Any:
            if value is None:
                return None
            try:
                return fromiso(value + "+00:00")
            except (TypeError, ValueError):
                return process(value)

        return process_iso_text


class WholeNumber(Portable, TypeDecorator[int]):
    """An integer result; MySQL returns ``SUM()`` of integers as a ``Decimal``."""

    impl = sa.BigInteger
    cache_ok = True

    def portable(self) -> TypeEngine[Any]:
        return sa.BigInteger()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else int(value)


class NaiveDateTime(Portable, TypeDecorator[dt.datetime]):
    """Naive datetimes with microseconds on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def portable(self) -> TypeEngine[Any]:
        return sa.DateTime()

    def variants(self) -> dict[str, TypeEngine[Any]]:
        return _MYSQL_DATETIME6


class PreciseTime(Portable, TypeDecorator[dt.time]):
    """Times with microseconds (MySQL's plain ``TIME`` drops them)."""

    impl = sa.Time
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.TIME(fsp=6))
        return dialect.type_descriptor(sa.Time())

    def portable(self) -> TypeEngine[Any]:
        return sa.Time()

    def variants(self) -> dict[str, TypeEngine[Any]]:
        return _MYSQL_TIME6


class Duration(Portable, TypeDecorator[dt.timedelta]):
    """``timedelta`` as ``INTERVAL`` on PostgreSQL, as a count of microseconds elsewhere.

    (SQLAlchemy's generic ``Interval`` stores an epoch-based DATETIME on MySQL,
    which loses microseconds and cannot hold negative durations.)
    """

    impl = sa.BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Interval())
        return dialect.type_descriptor(sa.BigInteger())

    def portable(self) -> TypeEngine[Any]:
        return sa.BigInteger()

    def variants(self) -> dict[str, TypeEngine[Any]]:
        return {"postgresql": sa.Interval()}

    def portable_value(self, value: Any) -> tuple[Any, dict[str, Any]]:
        if not isinstance(value, dt.timedelta):
            return value, {}
        return _microseconds(value), {"postgresql": value}

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        if isinstance(value, dt.timedelta):
            return _microseconds(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or isinstance(value, dt.timedelta):
            return value
        return dt.timedelta(microseconds=int(value))


def _microseconds(value: dt.timedelta) -> int:
    return (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds


class EnumValue(Portable, TypeDecorator[enum.Enum]):
    """A Python ``Enum`` stored by value: VARCHAR for string values, INTEGER for ints.

    Stored values stay readable from SQL and other programs, and adding a member
    never needs an ``ALTER TYPE`` (no native enum types).
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, enum_class: type[enum.Enum], length: int | None = None) -> None:
        self.enum_class = enum_class
        values = [m.value for m in enum_class]
        self.integer = all(isinstance(v, int) for v in values)
        self.length = (
            None if self.integer else length or max((len(str(v)) for v in values), default=1)
        )
        super().__init__()

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if self.integer:
            return dialect.type_descriptor(sa.Integer())
        return dialect.type_descriptor(sa.String(self.length))

    def portable(self) -> TypeEngine[Any]:
        return sa.Integer() if self.integer else sa.String(self.length)

    def portable_value(self, value: Any) -> tuple[Any, dict[str, Any]]:
        return (None if value is None else self.enum_class(value).value), {}

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.enum_class(value)


class ParameterArray(TypeDecorator[list[Any]]):
    """One bound parameter holding a column's values for many rows (PostgreSQL).

    ``bulk_create`` sends a batch as one array per column and lets the server
    unnest them (``INSERT … SELECT … FROM unnest($1::TEXT[], …)``): one statement,
    one prepared plan and one round trip for any number of rows. Each value goes
    through ``element``'s own bind processing. The cast drops the element type's
    length and precision (``TEXT[]``, not ``VARCHAR(100)[]``): PostgreSQL's explicit
    cast to ``varchar(n)`` would truncate a long value silently, where assigning it to
    the column raises as any INSERT does.

    Only the types :meth:`fits` accepts: scalars whose array PostgreSQL and the
    driver handle as they handle the value, and JSON, which travels as text and is
    cast back by :meth:`selected` (not arrays, native enums or other types).
    """

    impl = sa.ARRAY
    cache_ok = True

    def __init__(self, element: TypeEngine[Any]) -> None:
        self.element = element
        super().__init__(element, dimensions=1)

    @staticmethod
    def fits(element: TypeEngine[Any], dialect: Dialect) -> bool:
        """Whether values of ``element`` can travel in a :class:`ParameterArray`."""
        base = _dialect_base(element, dialect)
        return isinstance(base, _ARRAY_SAFE) and not isinstance(base, (sa.Enum, sa.ARRAY))

    @staticmethod
    def selected(values: Any, element: TypeEngine[Any]) -> Any:
        """``values`` (a column of the unnested arrays) as the INSERT's SELECT hands it
        to a column of type ``element``: JSON text is cast back to JSON."""
        return sa.cast(values, element) if isinstance(element, sa.JSON) else values

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        base = _dialect_base(self.element, dialect)
        if isinstance(base, (sa.String, sa.JSON)):
            base = sa.Text()
        elif isinstance(base, sa.Float):
            base = sa.Double()
        elif isinstance(base, sa.Numeric):
            base = sa.Numeric()
        elif isinstance(base, postgresql.INTERVAL):
            base = postgresql.INTERVAL()
        return dialect.type_descriptor(postgresql.ARRAY(base, dimensions=1))

    def bind_processor(self, dialect: Dialect) -> Any:
        process = self.element.dialect_impl(dialect).bind_processor(dialect)
        if process is None:
            return None

        def process_all(values: Any) -> Any:
            return None if values is None else [process(v) for v in values]

        return process_all


#: the column types :class:`ParameterArray` carries (after TypeDecorators are unwrapped)
_ARRAY_SAFE = (
    sa.Integer,
    sa.String,
    sa.Boolean,
    sa.Numeric,
    sa.Float,
    sa.Date,
    sa.DateTime,
    sa.Time,
    sa.Interval,
    postgresql.INTERVAL,
    sa.Uuid,
    sa.LargeBinary,
    sa.JSON,
)


def _dialect_base(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """``type_`` as ``dialect`` stores it, TypeDecorators and variants unwrapped."""
    found = type_.dialect_impl(dialect)
    while isinstance(found, TypeDecorator):
        found = found.impl_instance.dialect_impl(dialect)
    return found
