"""Aggregates for ``aggregate()`` and ``annotate()``.

Each takes a field name or expression and an optional ``filter=Q(...)``,
emitted as ``AGG(CASE WHEN <filter> THEN x END)`` so it works on every backend
(MySQL has no ``FILTER (WHERE ...)`` clause)::

    from flash_db import Avg, Count, Q
    await Book.objects.aggregate(n=Count("id"), cheap=Count("id", filter=Q(price__lt=5)))
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ..sqltypes import WholeNumber
from .base import Expression, Resolver
from .functions import Func


class Aggregate(Func):
    """Base of aggregates; subclasses set ``function`` (the SQL name)."""

    __slots__ = ("distinct", "filter")
    contains_aggregate = True
    allow_distinct = False

    def __init__(self, expression: Any, *, distinct: bool = False, filter: Any = None) -> None:
        if distinct and not self.allow_distinct:
            raise TypeError(f"{type(self).__name__} does not allow distinct")
        super().__init__(expression)
        self.distinct = distinct
        self.filter = filter

    def _argument(self, resolver: Resolver) -> ColumnElement[Any]:
        (arg,) = self.resolve_args(resolver)
        if self.filter is not None:
            cond = resolver.resolve_q(self.filter)
            arg = sa.case((cond, arg), else_=sa.null())
        if self.distinct:
            arg = arg.distinct()
        return arg

    def build(self, arg: ColumnElement[Any]) -> ColumnElement[Any]:
        return getattr(sa.func, self._function)(arg)

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return self.build(self._argument(resolver))


class Count(Aggregate):
    """``COUNT(x)``; ``Count("*")`` counts rows; ``distinct=True`` counts distinct values."""

    function = "count"
    allow_distinct = True

    def __init__(self, expression: Any = "*", *, distinct: bool = False, filter: Any = None):
        super().__init__(
            expression if expression != "*" else _Star(), distinct=distinct, filter=filter
        )

    def build(self, arg: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.func.count(arg)


class _Star(Expression):
    __slots__ = ()

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        # COUNT(1) counts rows like COUNT(*), and still works inside CASE WHEN for filter=.
        return sa.literal_column("1")


class Sum(Aggregate):
    """``SUM(x)``: an ``int`` for integer columns on every backend."""

    function = "sum"
    allow_distinct = True

    def build(self, arg: ColumnElement[Any]) -> ColumnElement[Any]:
        if isinstance(arg.type, sa.Integer):
            return sa.func.sum(arg, type_=WholeNumber())
        return sa.func.sum(arg)


class Avg(Aggregate):
    """``AVG(x)``: a ``Decimal`` for decimal columns, a ``float`` otherwise, on every backend."""

    function = "avg"
    allow_distinct = True

    def build(self, arg: ColumnElement[Any]) -> ColumnElement[Any]:
        source = arg.type
        exact = isinstance(source, sa.Numeric) and not isinstance(source, sa.Float)
        return sa.func.avg(arg, type_=sa.Numeric(asdecimal=True) if exact else sa.Double())


class Min(Aggregate):
    """``MIN(x)``."""

    function = "min"


class Max(Aggregate):
    """``MAX(x)``."""

    function = "max"


class _Spread(FunctionElement[float]):
    """Standard deviation / variance, population or sample (one subclass each,
    so that SQLAlchemy's statement cache tells them apart by class)."""

    type = sa.Float()
    inherit_cache = True
    kind = "stddev"
    sample = False


class _StdDevPop(_Spread):
    inherit_cache = True


class _StdDevSamp(_Spread):
    inherit_cache = True
    sample = True


class _VarPop(_Spread):
    inherit_cache = True
    kind = "variance"


class _VarSamp(_Spread):
    inherit_cache = True
    kind = "variance"
    sample = True


@compiles(_Spread)
def _spread_default(element: _Spread, compiler: Any, **kw: Any) -> str:
    name = {"stddev": "stddev", "variance": "var"}[element.kind]
    suffix = "_samp" if element.sample else "_pop"
    return f"{name}{suffix}({compiler.process(element.clauses, **kw)})"


@compiles(_Spread, "sqlite")
def _spread_sqlite(element: _Spread, compiler: Any, **kw: Any) -> str:
    # SQLite has no STDDEV/VARIANCE aggregates: compute them from AVG, as
    # E[x^2] - E[x]^2, scaled by n/(n-1) for the sample estimators.
    x = compiler.process(element.clauses, **kw)
    var = f"(avg(({x}) * ({x})) - avg({x}) * avg({x}))"
    if element.sample:
        var = f"(CASE WHEN count({x}) > 1 THEN {var} * count({x}) / (count({x}) - 1.0) END)"
    return f"sqrt({var})" if element.kind == "stddev" else var


class StdDev(Aggregate):
    """Standard deviation; ``sample=True`` for the sample estimator."""

    def __init__(self, expression: Any, *, sample: bool = False, filter: Any = None) -> None:
        super().__init__(expression, filter=filter)
        self.sample = sample

    def build(self, arg: ColumnElement[Any]) -> ColumnElement[Any]:
        return (_StdDevSamp if self.sample else _StdDevPop)(arg)


class Variance(Aggregate):
    """Variance; ``sample=True`` for the sample estimator."""

    def __init__(self, expression: Any, *, sample: bool = False, filter: Any = None) -> None:
        super().__init__(expression, filter=filter)
        self.sample = sample

    def build(self, arg: ColumnElement[Any]) -> ColumnElement[Any]:
        return (_VarSamp if self.sample else _VarPop)(arg)
