"""``Q``: filter conditions combined with ``&``, ``|`` and ``~``.

Example::

    from flash_db import Q
    await Book.objects.filter(Q(title__startswith="A") | ~Q(price__lt=5))

A ``Q`` holds ``(lookup, value)`` pairs, nested ``Q`` objects and raw
SQLAlchemy conditions (the escape hatch); the query layer turns it into SQL.
"""

from __future__ import annotations

from typing import Any

AND = "AND"
OR = "OR"


class Q:
    """A tree of filter conditions."""

    __slots__ = ("children", "connector", "negated")

    def __init__(self, *args: Any, _connector: str = AND, _negated: bool = False, **kwargs: Any):
        self.children: tuple[Any, ...] = (*args, *sorted(kwargs.items()))
        self.connector = _connector
        self.negated = _negated

    def _combine(self, other: Any, connector: str) -> Q:
        if not isinstance(other, Q):
            # A SQLAlchemy condition combined with a Q.
            other = Q(other)
        if not other.children:
            return self._copy()
        if not self.children:
            return other._copy()
        return Q(self, other, _connector=connector)

    def _copy(self) -> Q:
        return Q(*self.children, _connector=self.connector, _negated=self.negated)

    def __and__(self, other: Any) -> Q:
        return self._combine(other, AND)

    def __or__(self, other: Any) -> Q:
        return self._combine(other, OR)

    def __invert__(self) -> Q:
        return Q(*self.children, _connector=self.connector, _negated=not self.negated)

    def __bool__(self) -> bool:
        return bool(self.children)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Q)
            and other.connector == self.connector
            and other.negated == self.negated
            and other.children == self.children
        )

    def __hash__(self) -> int:
        return hash((self.connector, self.negated, repr(self.children)))

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(
            f"{c[0]}={c[1]!r}" if isinstance(c, tuple) else repr(c) for c in self.children
        )
        return f"<Q: {'NOT ' if self.negated else ''}({inner})>"
