"""Database functions usable in ``annotate()``, ``filter()``, ``update()`` and ``values()``.

String arguments name fields (as in Django); wrap literals in ``Value``::

    from flash_db import Concat, Lower, Value
    await Author.objects.filter(name__startswith="a").update(name=Lower("name"))
    await Author.objects.annotate(label=Concat("name", Value(" <"), "email", Value(">")))
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ..sqltypes import UTCDateTime
from .base import Expression, F, Resolver, resolve


def _as_expression(arg: Any) -> Expression:
    if isinstance(arg, Expression):
        return arg
    if isinstance(arg, str):
        return F(arg)
    raise TypeError(
        f"expected a field name or an expression, got {arg!r}; wrap literals in Value()"
    )


class Func(Expression):
    """Base for SQL functions: subclasses set ``function`` (the SQL name), as in Django.

    ``Func("name", function="upper")`` calls any function by name.
    """

    __slots__ = ("_function", "extra", "source_expressions")
    #: the SQL function a subclass calls, as in Django (``Func(..., function="name")`` overrides it)
    function: ClassVar[str] = ""

    def __init__(self, *expressions: Any, function: str | None = None, **extra: Any) -> None:
        self._function = function or self.function
        self.source_expressions = tuple(_as_expression(e) for e in expressions)
        self.extra = extra

    @property
    def contains_aggregate(self) -> bool:  # type: ignore[override]
        return any(e.contains_aggregate for e in self.source_expressions)

    def resolve_args(self, resolver: Resolver) -> list[ColumnElement[Any]]:
        return [resolve(e, resolver) for e in self.source_expressions]

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return getattr(sa.func, self._function)(*self.resolve_args(resolver))

    def __repr__(self) -> str:
        args = ", ".join(repr(e) for e in self.source_expressions)
        return f"{type(self).__name__}({args})"


class Lower(Func):
    """``LOWER(x)``."""

    function = "lower"


class Upper(Func):
    """``UPPER(x)``."""

    function = "upper"


class _CharLength(FunctionElement[int]):
    """Length in characters (not bytes) on every backend."""

    type = sa.Integer()
    inherit_cache = True
    name = "char_length"


@compiles(_CharLength)
def _char_length_default(element: _CharLength, compiler: Any, **kw: Any) -> str:
    return f"char_length({compiler.process(element.clauses, **kw)})"


@compiles(_CharLength, "sqlite")
def _char_length_sqlite(element: _CharLength, compiler: Any, **kw: Any) -> str:
    # SQLite has no CHAR_LENGTH; its LENGTH already counts characters for text.
    return f"length({compiler.process(element.clauses, **kw)})"


class Length(Func):
    """Number of characters in a string: ``Length("name")``."""

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        return _CharLength(*self.resolve_args(resolver))


class Coalesce(Func):
    """First non-NULL argument: ``Coalesce("nickname", "name", Value("?"))``."""

    function = "coalesce"

    def __init__(self, *expressions: Any, **extra: Any) -> None:
        if len(expressions) < 2:
            raise ValueError("Coalesce needs at least two expressions")
        super().__init__(*expressions, **extra)


class Concat(Func):
    """String concatenation that treats NULL as an empty string on every backend."""

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        # MySQL's CONCAT() and the || operator both return NULL if any part is
        # NULL; Django users expect Concat to skip NULLs, so coalesce each part.
        parts = [sa.func.coalesce(sa.cast(a, sa.String), "") for a in self.resolve_args(resolver)]
        # ColumnOperators.concat renders || on PostgreSQL/SQLite (SQLite < 3.44 has
        # no CONCAT function) and CONCAT() on MySQL, where || means OR.
        return functools.reduce(lambda a, b: a.concat(b), parts)


class Now(Func):
    """The database's current timestamp."""

    def resolve(self, resolver: Resolver) -> ColumnElement[Any]:
        # Typed like a DateTimeField: aware UTC values on every backend (sessions run in UTC).
        return sa.func.current_timestamp(type_=UTCDateTime())
