"""``Subquery``, ``Exists``, ``OuterRef`` and ``Case`` / ``When``.

A QuerySet inside ``Subquery`` / ``Exists`` refers to the row of the outer
query with ``OuterRef("field")``::

    from flash_db import Exists, OuterRef, Subquery

    newest = Book.objects.filter(author=OuterRef("pk")).order_by("-published")
    await Author.objects.annotate(latest=Subquery(newest.values("title")[:1]))
    await Author.objects.filter(Exists(Book.objects.filter(author=OuterRef("pk"), price__gt=10)))

    from flash_db import Case, Value, When
    await Book.objects.annotate(band=Case(When(price__lt=5, then=Value("cheap")), default=Value("dear")))

The inner QuerySet resolves ``OuterRef`` to a placeholder when it is built;
the placeholder is swapped for the outer query's column when the outer query
resolves the ``Subquery``. A subquery over the same table as the outer query
is correlated by SQLAlchemy, so compare through ``OuterRef`` on another model.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnElement

from .base import Expression, F, Resolver, resolve
from .q import Q


class _OuterColumn(ColumnElement[Any]):
    """Stands for the outer query's ``name`` until the enclosing Subquery resolves it."""

    inherit_cache = True
    _traverse_internals = [("name", visitors.InternalTraversal.dp_string)]

    def __init__(self, name: str) -> None:
        self.name = name
        self.type = sa.types.NULLTYPE


@compiles(_OuterColumn)
def _outer_column_unresolved(element: _OuterColumn, compiler: Any, **kw: Any) -> str:
    raise CompileError(
        f"OuterRef({element.name!r}) is only meaningful inside Subquery() or Exists() "
        f"used in another query"
    )


class OuterRef(F):
    """A field of the outer query, used inside ``Subquery`` / ``Exists``."""

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return _OuterColumn(self.name)

    def __repr__(self) -> str:
        return f"OuterRef({self.name!r})"


def _inner_select(queryset: Any, outer: Resolver) -> Any:
    """The QuerySet's SELECT with every OuterRef bound to ``outer``'s columns."""
    statement = queryset._as_subquery()

    def bind(element: Any, **_: Any) -> Any:
        if isinstance(element, _OuterColumn):
            return outer.resolve_ref(element.name)
        return None

    options: dict[str, Any] = {}
    return visitors.replacement_traverse(statement, options, bind)


class Subquery(Expression):
    """A QuerySet selecting one column, used as a value: ``Subquery(qs.values("title")[:1])``."""

    __slots__ = ("queryset",)

    def __init__(self, queryset: Any) -> None:
        self.queryset = queryset

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return _inner_select(self.queryset, resolver).scalar_subquery()

    def __repr__(self) -> str:
        return f"Subquery({self.queryset!r})"


class Exists(Expression):
    """``EXISTS (<queryset>)``: a condition for ``filter()`` or a boolean annotation; ``~Exists(...)`` negates."""

    __slots__ = ("negated", "queryset")

    def __init__(self, queryset: Any, negated: bool = False) -> None:
        self.queryset = queryset
        self.negated = negated

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        condition = sa.exists(_inner_select(self.queryset, resolver))
        return sa.not_(condition) if self.negated else condition

    def __invert__(self) -> Exists:
        return Exists(self.queryset, negated=not self.negated)

    def __repr__(self) -> str:
        return f"{'~' if self.negated else ''}Exists({self.queryset!r})"


def _expression(value: Any) -> Any:
    """As in Django: strings in ``then=`` / ``default=`` name fields; other values are literals."""
    if isinstance(value, str):
        return F(value)
    return value


class When:
    """One branch of ``Case``: ``When(price__lt=5, then=Value("cheap"))`` or ``When(Q(...), then=...)``."""

    __slots__ = ("condition", "then")

    def __init__(self, condition: Any = None, *, then: Any, **lookups: Any) -> None:
        if condition is None and not lookups:
            raise TypeError("When() needs a condition: a Q, an expression or field lookups")
        if condition is not None and lookups:
            condition = Q(condition, **lookups)
        self.condition = condition if condition is not None else Q(**lookups)
        self.then = _expression(then)


class Case(Expression):
    """``CASE WHEN … THEN … ELSE default END``; the first matching ``When`` wins."""

    __slots__ = ("default", "whens")

    def __init__(self, *whens: When, default: Any = None) -> None:
        if not whens or not all(isinstance(w, When) for w in whens):
            raise TypeError("Case() takes one or more When(...) objects")
        self.whens = whens
        self.default = _expression(default)

    @property
    def contains_aggregate(self) -> bool:  # type: ignore[override]
        return any(getattr(w.then, "contains_aggregate", False) for w in self.whens)

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        branches = [
            (resolver.resolve_q(w.condition), resolve(w.then, resolver)) for w in self.whens
        ]
        default = None if self.default is None else resolve(self.default, resolver)
        return sa.case(*branches, else_=default)
