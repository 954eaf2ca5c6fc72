"""Lookups and transforms: the ``__gte`` / ``__year`` part of ``filter(price__gte=5)``.

A lookup is a class with a ``lookup_name`` and an ``as_sql(lhs, rhs)`` that
returns a SQLAlchemy boolean expression; it is registered on a field class and
inherited along the MRO (Django's ``register_lookup``)::

    from flash_db import Lookup, fields

    @fields.CharField.register_lookup
    class NotEqual(Lookup):
        lookup_name = "ne"

        def as_sql(self, lhs, rhs):
            return lhs != rhs

    await Author.objects.filter(name__ne="Ann")

A transform (``year``, ``date``) turns the column into another expression that
further lookups then apply to: ``published__year__gte=2020``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .exceptions import FieldError
from .sqltypes import ParameterArray


class Lookup:
    """A comparison; subclasses set ``lookup_name`` and implement ``as_sql``.

    ``field`` is the field being compared (for lookups that need its type);
    ``rhs`` is the user's value, or an already resolved SQL expression when the
    user passed ``F(...)``.
    """

    lookup_name: ClassVar[str] = ""
    #: the value must be a list/tuple (``in``, ``range``)
    takes_iterable: ClassVar[bool] = False
    #: ``None`` as the value is meaningful (``isnull``); else ``x=None`` means IS NULL
    accepts_none: ClassVar[bool] = False
    #: ``as_sql`` binds ``rhs`` as it is (no Python work on the value), so a bound
    #: parameter may stand for it: QuerySets using only such lookups have their SELECT
    #: cached per shape (``flash_db.query.shapes``)
    binds_value: ClassVar[bool] = False

    def __init__(self, field: Any) -> None:
        self.field = field

    @classmethod
    def check_value(cls, name: str, value: Any) -> None:
        """Refuse a value this lookup cannot take, with a ``FieldError`` that names
        ``name`` (the compared path, ``price`` in ``price__range``) and what would do.

        Called with the user's value before it is converted, so the message shows it as
        given; ``as_sql`` can then rely on its shape. Accepts anything by default.
        """

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:  # pragma: no cover
        raise NotImplementedError


class Transform:
    """Turns a column into another expression: ``year``, ``date`` …

    ``output_field`` is the field class whose lookups apply afterwards.
    """

    lookup_name: ClassVar[str] = ""
    output_field: ClassVar[Any] = None

    def apply(self, lhs: ColumnElement[Any]) -> ColumnElement[Any]:  # pragma: no cover
        raise NotImplementedError


# -- case-sensitive pattern matching --------------------------------------------------------


class _CaseSensitive(FunctionElement[str]):
    """The operand compared case-sensitively.

    MySQL/MariaDB compare with the column's collation, which is case-insensitive
    by default (utf8mb4_general_ci); ``BINARY x`` forces a byte comparison.
    SQLite gets ``PRAGMA case_sensitive_like = ON`` on connect instead, and
    PostgreSQL's LIKE is already case-sensitive.
    """

    inherit_cache = True
    name = "case_sensitive"
    type = sa.String()


@compiles(_CaseSensitive)
def _cs_default(element: _CaseSensitive, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_CaseSensitive, "mysql")
def _cs_mysql(element: _CaseSensitive, compiler: Any, **kw: Any) -> str:
    return f"BINARY {compiler.process(element.clauses, **kw)}"


class _Regex(sa.sql.expression.ColumnElement[bool]):
    """``x`` matches the regular expression ``pattern``.

    SQLAlchemy's ``regexp_match`` drops flags on SQLite and passes them as a
    ``(?flags)`` prefix on MySQL, where the collation still makes a plain
    match case-insensitive; this element spells each backend out.
    """

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("lhs", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("pattern", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("insensitive", sa.sql.visitors.InternalTraversal.dp_boolean),
    ]

    def __init__(self, lhs: ColumnElement[Any], pattern: Any, insensitive: bool) -> None:
        self.lhs = lhs
        self.pattern = (
            pattern if isinstance(pattern, ColumnElement) else sa.literal(pattern, sa.String)
        )
        self.insensitive = insensitive


@compiles(_Regex)
def _regex_postgres(element: _Regex, compiler: Any, **kw: Any) -> str:
    op = "~*" if element.insensitive else "~"
    return f"({compiler.process(element.lhs, **kw)} {op} {compiler.process(element.pattern, **kw)})"


@compiles(_Regex, "sqlite")
def _regex_sqlite(element: _Regex, compiler: Any, **kw: Any) -> str:
    # SQLAlchemy registers a Python REGEXP function on SQLite connections;
    # Python's re understands an inline (?i) flag.
    pattern = compiler.process(element.pattern, **kw)
    if element.insensitive:
        pattern = f"('(?i)' || {pattern})"
    return f"({compiler.process(element.lhs, **kw)} REGEXP {pattern})"


@compiles(_Regex, "mysql")
def _regex_mysql(element: _Regex, compiler: Any, **kw: Any) -> str:
    flag = "(?i)" if element.insensitive else "(?-i)"
    pattern = compiler.process(element.pattern, **kw)
    return f"({compiler.process(element.lhs, **kw)} REGEXP CONCAT('{flag}', {pattern}))"


class _TruncDate(FunctionElement[Any]):
    """The date part of a datetime."""

    inherit_cache = True
    name = "trunc_date"
    type = sa.Date()


@compiles(_TruncDate)
def _trunc_date_default(element: _TruncDate, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(_TruncDate, "sqlite")
def _trunc_date_sqlite(element: _TruncDate, compiler: Any, **kw: Any) -> str:
    # CAST(x AS DATE) on SQLite yields a number (NUMERIC affinity); DATE() gives 'YYYY-MM-DD'.
    return f"DATE({compiler.process(element.clauses, **kw)})"


# -- built-in lookups -----------------------------------------------------------------------


class Exact(Lookup):
    lookup_name = "exact"
    binds_value = True

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs == rhs


class IExact(Lookup):
    lookup_name = "iexact"

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return sa.func.lower(lhs) == sa.func.lower(rhs)


class GreaterThan(Lookup):
    lookup_name = "gt"
    binds_value = True

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs > rhs


class GreaterThanOrEqual(Lookup):
    lookup_name = "gte"
    binds_value = True

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs >= rhs


class LessThan(Lookup):
    lookup_name = "lt"
    binds_value = True

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs < rhs


class LessThanOrEqual(Lookup):
    lookup_name = "lte"
    binds_value = True

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs <= rhs


class _Condition(sa.sql.expression.ColumnElement[bool]):
    """A boolean SQL element compiled per backend (``@compiles``), usable in WHERE and
    under ``exclude()``."""

    inherit_cache = True
    type = sa.Boolean()
    #: a condition, not a boolean value (no ``= 1`` where booleans are integers)
    _is_implicitly_boolean = True

    def _negate(self) -> Any:
        # NOT (…), in parentheses whatever NOT's precedence (MySQL's HIGH_NOT_PRECEDENCE)
        return sa.sql.elements.UnaryExpression(
            sa.sql.elements.Grouping(self), operator=sa.sql.operators.inv, type_=sa.Boolean()
        )


class _InList(_Condition):
    """``lhs IN (values)``: on PostgreSQL ``lhs = ANY($1::T[])``, one array parameter.

    SQLAlchemy expands an IN list into one parameter per value when the statement
    runs, so every length of list is another SQL string: another server-side
    prepared statement on asyncpg, another compiled form. As one array it is one
    statement, whatever the length. The values travel in one ``BindParameter`` (an
    expanding one, as SQLAlchemy's own IN makes), so the compiled cache's key and its
    parameters are those of ``lhs.in_(values)``; PostgreSQL renders a
    ``ParameterArray`` parameter with the same key in its place, which SQLAlchemy's
    compiled form matches to the values of each new statement by that key.
    """

    inherit_cache = True
    _traverse_internals = [
        ("lhs", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("values", sa.sql.visitors.InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, lhs: ColumnElement[Any], values: list[Any]) -> None:
        self.lhs = lhs
        # named after the column, as SQLAlchemy names the parameter of lhs.in_(values)
        key = getattr(lhs, "key", None)
        self.values = sa.bindparam(key, values, expanding=True, unique=True, type_=lhs.type)


@compiles(_InList)
def _in_list_default(element: _InList, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.lhs.in_(element.values), **kw))


@compiles(_InList, "postgresql")
def _in_list_postgresql(element: _InList, compiler: Any, **kw: Any) -> str:
    values = element.values
    array = sa.bindparam(values.key, values.value, type_=ParameterArray(element.lhs.type))
    return f"{compiler.process(element.lhs, **kw)} = ANY ({compiler.process(array, **kw)})"


class In(Lookup):
    lookup_name = "in"
    takes_iterable = True

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        if isinstance(rhs, sa.sql.Select | sa.sql.expression.ScalarSelect):
            return lhs.in_(rhs)
        values = list(rhs)
        if (
            values
            and ParameterArray.fits(lhs.type, _POSTGRESQL)
            and not isinstance(lhs.type, sa.JSON)
            and not any(isinstance(v, sa.sql.ClauseElement) for v in values)
        ):
            return _InList(lhs, values)
        return lhs.in_(values)


#: the dialect whose types ParameterArray must carry for an IN list as one array
_POSTGRESQL = PGDialect()


# -- JSON equality --------------------------------------------------------------------------


class _JSONEquals(_Condition):
    """``lhs`` and ``rhs`` are the same JSON value: objects whatever the order of their
    keys, numbers by value (``1`` equals ``1.0``), ``true`` never equal to ``1``, as
    ``jsonb`` compares them on PostgreSQL.

    A JSONField column is ``json`` on PostgreSQL, which has no ``=`` at all, and text on
    SQLite and MariaDB, where ``=`` compares spellings (``{"a": 1, "b": 2}`` is not
    ``{"b": 2, "a": 1}``); each backend gets its own comparison of values.
    """

    inherit_cache = True
    _traverse_internals = [
        ("lhs", sa.sql.visitors.InternalTraversal.dp_clauseelement),
        ("rhs", sa.sql.visitors.InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, lhs: ColumnElement[Any], rhs: Any) -> None:
        self.lhs = lhs
        # bound with the column's JSON type, so that every value (a string, a number)
        # travels as JSON text, serialised as the column's values were
        self.rhs = rhs if isinstance(rhs, ColumnElement) else sa.literal(rhs, lhs.type)


def _json_nodes(document: str) -> str:
    """Every node of a JSON document as rows of (path, kind, scalar), SQLite's ``json_tree``;
    integers and reals are one kind, so that ``1`` and ``1.0`` are the same node."""
    return (
        "SELECT fullkey, CASE WHEN type IN ('integer', 'real') THEN 'number' ELSE type END, "
        f"atom FROM json_tree({document})"
    )


@compiles(_JSONEquals)
def _json_equals_sqlite(element: _JSONEquals, compiler: Any, **kw: Any) -> str:
    # SQLite has no JSON comparison: two documents are equal when neither has a node
    # (path, kind, scalar) the other lacks. Paths name object members by key, so the
    # order of keys does not count; json_tree reads escapes (\u00e9 is é). SQL NULL
    # has no nodes at all, so it is tested first, to compare as unknown, as ``=`` does.
    lhs = compiler.process(element.lhs, **kw)
    rhs = compiler.process(element.rhs, **kw)
    left, right = _json_nodes(lhs), _json_nodes(rhs)
    return (
        f"(CASE WHEN {lhs} IS NULL OR {rhs} IS NULL THEN NULL "
        f"ELSE NOT EXISTS ({left} EXCEPT {right}) AND NOT EXISTS ({right} EXCEPT {left}) END)"
    )


@compiles(_JSONEquals, "postgresql")
def _json_equals_postgresql(element: _JSONEquals, compiler: Any, **kw: Any) -> str:
    lhs = compiler.process(element.lhs, **kw)
    rhs = compiler.process(element.rhs, **kw)
    return f"(CAST({lhs} AS JSONB) = CAST({rhs} AS JSONB))"


@compiles(_JSONEquals, "mysql")
def _json_equals_mysql(element: _JSONEquals, compiler: Any, **kw: Any) -> str:
    lhs = compiler.process(element.lhs, **kw)
    rhs = compiler.process(element.rhs, **kw)
    if compiler.dialect.is_mariadb:
        # MariaDB's JSON is LONGTEXT with a json_valid check; JSON_EQUALS (10.7+)
        # compares the values. Compared with 1: as a condition on its own (and under
        # NOT) MariaDB 10.11 takes its NULL for a NULL document as true.
        return f"(JSON_EQUALS({lhs}, {rhs}) = 1)"
    # MySQL's JSON type compares values, once both sides are of it
    return f"(CAST({lhs} AS JSON) = CAST({rhs} AS JSON))"


class JSONExact(Exact):
    """``exact`` on a JSONField: the stored value equals the given one as JSON."""

    #: the value is bound inside a per-backend comparison, not compared by ``=``
    binds_value = False

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return _JSONEquals(lhs, rhs)


class JSONIn(In):
    """``in`` on a JSONField: the stored value equals one of the given ones as JSON."""

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        if isinstance(rhs, sa.sql.Select | sa.sql.expression.ScalarSelect):
            return lhs.in_(rhs)
        values = list(rhs)
        if not values:
            # not SQLAlchemy's empty IN, which compares the column with NULL (PostgreSQL
            # has no = for json)
            return sa.false()
        return sa.or_(*(_JSONEquals(lhs, value) for value in values))


class Range(Lookup):
    lookup_name = "range"
    takes_iterable = True

    @classmethod
    def check_value(cls, name: str, value: Any) -> None:
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or len(value) != 2:
            raise FieldError(f"range lookup on {name!r} needs a (low, high) pair, got {value!r}")
        low, high = value
        # BETWEEN with a NULL bound matches no row at all: refuse it rather than
        # return nothing, and name the one-sided lookup that was probably meant.
        if low is None or high is None:
            if high is None and low is not None:
                hint = f"; for no upper bound use {name}__gte={low!r}"
            elif low is None and high is not None:
                hint = f"; for no lower bound use {name}__lte={high!r}"
            else:
                hint = "; without bounds, leave the filter out"
            raise FieldError(
                f"range lookup on {name!r} needs a (low, high) pair without None, "
                f"got {value!r}{hint}"
            )

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        low, high = rhs
        return lhs.between(low, high)


class IsNull(Lookup):
    lookup_name = "isnull"
    accepts_none = True

    @classmethod
    def check_value(cls, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise FieldError(
                f"isnull lookup on {name!r} takes True or False, got {value!r}; "
                f"to compare with a value use {name}=value"
            )

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs.is_(None) if rhs else lhs.is_not(None)


class _PatternLookup(Lookup):
    """LIKE-based lookups; the value is escaped, so ``%`` and ``_`` match literally."""

    operator = ""
    insensitive = False

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        if self.insensitive:
            return getattr(lhs, f"i{self.operator}")(rhs, autoescape=not _is_sql(rhs))
        return getattr(_CaseSensitive(lhs), self.operator)(rhs, autoescape=not _is_sql(rhs))


def _is_sql(value: Any) -> bool:
    return isinstance(value, ColumnElement)


class Contains(_PatternLookup):
    lookup_name = "contains"
    operator = "contains"


class IContains(_PatternLookup):
    lookup_name = "icontains"
    operator = "contains"
    insensitive = True


class StartsWith(_PatternLookup):
    lookup_name = "startswith"
    operator = "startswith"


class IStartsWith(_PatternLookup):
    lookup_name = "istartswith"
    operator = "startswith"
    insensitive = True


class EndsWith(_PatternLookup):
    lookup_name = "endswith"
    operator = "endswith"


class IEndsWith(_PatternLookup):
    lookup_name = "iendswith"
    operator = "endswith"
    insensitive = True


class Regex(Lookup):
    lookup_name = "regex"

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return _Regex(lhs, rhs, insensitive=False)


class IRegex(Lookup):
    lookup_name = "iregex"

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return _Regex(lhs, rhs, insensitive=True)


# -- transforms -----------------------------------------------------------------------------


class _Extract(Transform):
    part = ""

    def apply(self, lhs: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.extract(self.part, lhs)


class ExtractYear(_Extract):
    lookup_name = "year"
    part = "year"


class ExtractMonth(_Extract):
    lookup_name = "month"
    part = "month"


class ExtractDay(_Extract):
    lookup_name = "day"
    part = "day"


class TruncDate(Transform):
    lookup_name = "date"

    def apply(self, lhs: ColumnElement[Any]) -> ColumnElement[Any]:
        return _TruncDate(lhs)


DEFAULT_LOOKUPS: tuple[type[Lookup], ...] = (
    Exact,
    IExact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    In,
    Range,
    IsNull,
    Contains,
    IContains,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    Regex,
    IRegex,
)

#: the lookups a JSONField has in place of the default ones of the same name
JSON_LOOKUPS: tuple[type[Lookup], ...] = (JSONExact, JSONIn)

__all__ = [
    "DEFAULT_LOOKUPS",
    "JSON_LOOKUPS",
    "ExtractDay",
    "ExtractMonth",
    "ExtractYear",
    "Lookup",
    "Transform",
    "TruncDate",
]
