"""Expression objects: ``F``, ``Value`` and arithmetic between them.

An expression is a small, immutable description that becomes a SQLAlchemy
``ColumnElement`` only when a query resolves it against a model (through the
:class:`Resolver` protocol, which the query layer implements). Keeping that
step late lets one expression serve any model, alias or dialect.

Example::

    from flash_db import F
    await Book.objects.update(price=F("price") * 2)
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement


class Resolver(Protocol):
    """What an expression needs from the query it is part of."""

    def resolve_ref(self, name: str) -> ColumnElement[Any]:
        """Return the column (or annotation) that ``name`` (``"price"``, ``"author__name"``) means."""
        ...

    def resolve_q(self, q: Any) -> ColumnElement[bool]:
        """Return the condition a ``Q`` object stands for."""
        ...


def resolve(value: Any, resolver: Resolver) -> Any:
    """Resolve ``value`` if it is an expression; plain values become bound parameters."""
    if isinstance(value, Expression):
        return value.resolve(resolver)
    if isinstance(value, ColumnElement):
        return value
    return sa.literal(value)


class Expression:
    """Base of every flash_db expression; supports ``+ - * / % **`` and unary ``-``."""

    __slots__ = ()

    #: True for aggregates and expressions that contain one (they go to HAVING / GROUP BY).
    contains_aggregate: bool = False

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _combine(
        self, other: Any, op: Callable[[Any, Any], Any], reverse: bool
    ) -> CombinedExpression:
        other_expr = other if isinstance(other, Expression) else Value(other)
        if reverse:
            return CombinedExpression(other_expr, op, self)
        return CombinedExpression(self, op, other_expr)

    def __add__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.add, False)

    def __radd__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.add, True)

    def __sub__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.sub, False)

    def __rsub__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.sub, True)

    def __mul__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.mul, False)

    def __rmul__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.mul, True)

    def __truediv__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.truediv, False)

    def __rtruediv__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.truediv, True)

    def __mod__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.mod, False)

    def __rmod__(self, other: Any) -> CombinedExpression:
        return self._combine(other, operator.mod, True)

    def __pow__(self, other: Any) -> CombinedExpression:
        return self._combine(other, _power, False)

    def __neg__(self) -> CombinedExpression:
        return CombinedExpression(Value(0), operator.sub, self)

    def asc(self, *, nulls_first: bool = False, nulls_last: bool = False) -> OrderBy:
        """Ascending order on this expression, for ``order_by()``: ``F("pages").asc(nulls_first=True)``."""
        return OrderBy(self, descending=False, nulls_first=nulls_first, nulls_last=nulls_last)

    def desc(self, *, nulls_first: bool = False, nulls_last: bool = False) -> OrderBy:
        """Descending order on this expression, for ``order_by()``: ``F("pages").desc(nulls_last=True)``."""
        return OrderBy(self, descending=True, nulls_first=nulls_first, nulls_last=nulls_last)


def _power(a: Any, b: Any) -> Any:
    return sa.func.power(a, b)


class F(Expression):
    """A reference to a field (or annotation) of the row being queried.

    ``F("price") * 2``; ``F("author__name")`` once relations are joined.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return resolver.resolve_ref(self.name)

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, F) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("F", self.name))


class Value(Expression):
    """A literal value, always sent as a bound parameter: ``Value(3)``, ``Value("x")``."""

    __slots__ = ("type_", "value")

    def __init__(self, value: Any, type_: Any = None) -> None:
        self.value = value
        self.type_ = type_

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return sa.literal(self.value, self.type_)

    def __repr__(self) -> str:
        return f"Value({self.value!r})"


class CombinedExpression(Expression):
    """``lhs <op> rhs``, built by the arithmetic operators of :class:`Expression`."""

    __slots__ = ("lhs", "op", "rhs")

    def __init__(self, lhs: Expression, op: Callable[[Any, Any], Any], rhs: Expression) -> None:
        self.lhs = lhs
        self.op = op
        self.rhs = rhs

    @property
    def contains_aggregate(self) -> bool:  # type: ignore[override]
        return self.lhs.contains_aggregate or self.rhs.contains_aggregate

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        result: ColumnElement[Any] = self.op(self.lhs.resolve(resolver), self.rhs.resolve(resolver))
        return result

    def __repr__(self) -> str:
        return f"({self.lhs!r} {getattr(self.op, '__name__', self.op)} {self.rhs!r})"


class OrderBy(Expression):
    """An ordering: ``F("price").desc()``; accepted by ``order_by()``."""

    __slots__ = ("descending", "expression", "nulls_first", "nulls_last")

    def __init__(
        self,
        expression: Expression,
        *,
        descending: bool = False,
        nulls_first: bool = False,
        nulls_last: bool = False,
    ) -> None:
        self.expression = expression
        self.descending = descending
        self.nulls_first = nulls_first
        self.nulls_last = nulls_last

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        col = self.expression.resolve(resolver)
        clause: ColumnElement[Any] = col.desc() if self.descending else col.asc()
        if self.nulls_first:
            clause = clause.nulls_first()
        elif self.nulls_last:
            clause = clause.nulls_last()
        return clause

    def reversed(self) -> OrderBy:
        """The opposite direction (used by ``last()`` and ``reverse()``)."""
        return OrderBy(
            self.expression,
            descending=not self.descending,
            nulls_first=self.nulls_last,
            nulls_last=self.nulls_first,
        )
