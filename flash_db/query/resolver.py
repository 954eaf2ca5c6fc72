"""Turning names, lookups, ``Q`` and ``F`` into SQLAlchemy expressions for one model.

``Resolver(model, annotations).lookup("price__gte", 5)`` walks the
``__``-separated path — a field (or annotation), then transforms, then one
lookup — and returns the boolean expression. Unknown names raise
``FieldError`` listing what would have been valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ..exceptions import FieldError, ValidationError
from ..expressions import Expression, OrderBy, Q
from ..expressions.q import AND
from ..fields import Field
from ..lookups import Lookup, Transform
from ._types import ModelLike

LOOKUP_SEP = "__"

# Lookups on annotations (whose type we do not model) use the generic field's set.
_GENERIC_FIELD: Field[Any] = Field()
_GENERIC_FIELD.name = "<annotation>"


class OrderTerm(NamedTuple):
    """One ORDER BY term: the expression, its direction, and where NULLs go (``"first"``/``"last"``)."""

    expression: ColumnElement[Any]
    descending: bool = False
    nulls: str | None = None

    def reversed(self) -> OrderTerm:
        return OrderTerm(
            self.expression,
            not self.descending,
            {"first": "last", "last": "first"}.get(self.nulls or ""),
        )

    def clauses(self) -> list[ColumnElement[Any]]:
        """The ORDER BY clauses; NULL placement is spelled as a leading ``CASE`` key, which
        every backend understands (MySQL has no ``NULLS FIRST/LAST``)."""
        main = self.expression.desc() if self.descending else self.expression.asc()
        if self.nulls is None:
            return [main]
        is_null = sa.case((self.expression.is_(None), 1), else_=0)
        return [is_null.asc() if self.nulls == "last" else is_null.desc(), main]


class Annotation:
    """A named expression added by ``annotate()``."""

    __slots__ = ("element", "is_aggregate", "name")

    def __init__(self, name: str, element: ColumnElement[Any], is_aggregate: bool) -> None:
        self.name = name
        self.element = element
        self.is_aggregate = is_aggregate


class Resolver:
    """Resolves references for one model and its annotations (implements ``expressions.Resolver``)."""

    __slots__ = ("annotations", "meta", "model", "used_aggregate")

    def __init__(
        self, model: ModelLike, annotations: Mapping[str, Annotation] | None = None
    ) -> None:
        self.model = model
        self.meta = model._meta
        self.annotations = annotations or {}
        #: set when a resolved expression referenced an aggregate (so it belongs in HAVING)
        self.used_aggregate = False

    # -- names ------------------------------------------------------------------------------

    def field(self, name: str) -> Field[Any]:
        """The model field called ``name`` (``pk`` is the primary key)."""
        if name == "pk":
            return self.meta.pk
        return self.meta.get_field(name)

    def choices(self) -> str:
        names = [f.name for f in self.meta.concrete_fields]
        return ", ".join(["pk", *names, *self.annotations])

    def unknown(self, name: str) -> FieldError:
        return FieldError(
            f"cannot resolve {name!r} on {self.meta.object_name}; choices: {self.choices()}"
        )

    def _column_for(self, name: str) -> tuple[ColumnElement[Any], Field[Any]]:
        annotation = self.annotations.get(name)
        if annotation is not None:
            if annotation.is_aggregate:
                self.used_aggregate = True
            return annotation.element, _GENERIC_FIELD
        try:
            field = self.field(name)
        except FieldError:
            raise self.unknown(name) from None
        return self.meta.table.c[field.attname], field

    def resolve_ref(self, name: str) -> ColumnElement[Any]:
        parts = name.split(LOOKUP_SEP)
        column, field = self._column_for(parts[0])
        for part in parts[1:]:
            transform = field.get_transform(part)
            if transform is None:
                raise FieldError(
                    f"cannot resolve {name!r}: {part!r} is not a transform of "
                    f"{type(field).__name__} {field.name!r}"
                )
            column = transform().apply(column)
            field = _output_field(transform, field)
        return column

    def value(self, value: Any) -> Any:
        """A lookup's right-hand side: expressions resolve, everything else stays a bound value."""
        if isinstance(value, Expression):
            return value.resolve(self)
        to_subquery = getattr(value, "_as_subquery", None)
        if to_subquery is not None:  # a QuerySet used as a value (``pk__in=qs``)
            return to_subquery()
        meta = getattr(value, "_meta", None)
        if meta is not None and hasattr(value, "pk"):  # a model instance stands for its pk
            return value.pk
        return value

    # -- lookups and Q ----------------------------------------------------------------------

    def lookup(self, key: str, value: Any, negated: bool = False) -> ColumnElement[bool]:
        """The condition for ``filter(key=value)``."""
        parts = key.split(LOOKUP_SEP)
        column, field = self._column_for(parts[0])
        rest = parts[1:]
        lookup_cls: type[Lookup] | None = None
        for index, part in enumerate(rest):
            transform = field.get_transform(part)
            if transform is not None:
                column = transform().apply(column)
                field = _output_field(transform, field)
                continue
            lookup_cls = field.get_lookup(part)
            if lookup_cls is None:
                raise FieldError(f"cannot resolve {key!r}: {field.unknown_lookup(part)}")
            if index != len(rest) - 1:
                raise FieldError(f"cannot resolve {key!r}: nothing may follow the lookup {part!r}")
        if lookup_cls is None:
            lookup_cls = field.get_lookup("exact")
            assert lookup_cls is not None
        if value is None and not lookup_cls.accepts_none:
            if lookup_cls.lookup_name != "exact":
                raise FieldError(
                    f"{key}=None: None is only allowed with exact (IS NULL); use {parts[0]}__isnull=True"
                )
            return column.is_(None)
        if lookup_cls.takes_iterable:
            value = self._iterable(key, value)
            if isinstance(value, list):
                value = [self._prepare(key, field, v) for v in value]
        elif not lookup_cls.accepts_none:
            value = self._prepare(key, field, self.value(value))
        condition = lookup_cls(field).as_sql(column, value)
        if negated and field.null and lookup_cls.lookup_name != "isnull":
            # NOT (x = 1) is NULL, not TRUE, for NULL x; Django's exclude() keeps
            # those rows, so make the condition false (not unknown) for NULLs.
            condition = sa.and_(condition, column.is_not(None))
        return condition

    @staticmethod
    def _prepare(key: str, field: Field[Any], value: Any) -> Any:
        """A plain value converted to the field's Python type, so it binds with the column's type.

        (SQLAlchemy types a bound ``"3.50"`` as VARCHAR even against a NUMERIC
        column, which PostgreSQL then refuses to compare.)
        """
        if isinstance(value, ColumnElement) or value is None:
            return value
        try:
            return field.to_python(value)
        except ValidationError as exc:
            raise FieldError(f"invalid value for {key}: {'; '.join(exc.messages)}") from None

    def _iterable(self, key: str, value: Any) -> Any:
        if getattr(value, "_as_subquery", None) is not None:
            return value._as_subquery()
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise FieldError(f"{key} expects a list, tuple or QuerySet, got {type(value).__name__}")
        return [self.value(v) for v in value]

    def resolve_q(self, q: Any, negated: bool = False) -> ColumnElement[bool]:
        """The condition for a ``Q`` (or a bare SQLAlchemy condition / boolean expression)."""
        if isinstance(q, ColumnElement):
            return q
        if isinstance(q, Expression):
            return q.resolve(self)
        if not isinstance(q, Q):
            raise FieldError(
                f"filter() takes Q objects, SQLAlchemy conditions or keywords, not {q!r}"
            )
        inner_negated = negated ^ q.negated
        parts = []
        for child in q.children:
            if isinstance(child, tuple):
                parts.append(self.lookup(child[0], child[1], inner_negated))
            else:
                parts.append(self.resolve_q(child, inner_negated))
        if not parts:
            condition: ColumnElement[bool] = sa.true()
        elif len(parts) == 1:
            condition = parts[0]
        else:
            condition = sa.and_(*parts) if q.connector == AND else sa.or_(*parts)
        return sa.not_(condition) if q.negated else condition

    def order_term(self, term: Any) -> OrderTerm:
        """``"-price"`` → (price column, descending=True); expressions resolve as they are."""
        if isinstance(term, OrderBy):
            nulls = "first" if term.nulls_first else "last" if term.nulls_last else None
            return OrderTerm(term.expression.resolve(self), term.descending, nulls)
        if isinstance(term, Expression):
            return OrderTerm(term.resolve(self))
        if isinstance(term, ColumnElement):
            return OrderTerm(term)
        if not isinstance(term, str):
            raise FieldError(f"order_by() takes field names or expressions, not {term!r}")
        descending = term.startswith("-")
        name = term.lstrip("-+")
        return OrderTerm(self.resolve_ref(name), descending)


def _output_field(transform: type[Transform], previous: Field[Any]) -> Field[Any]:
    """The field whose lookups apply after ``transform`` (the previous one if it does not say)."""
    output = transform.output_field
    if output is None:
        return previous
    field: Field[Any] = output()
    field.name = f"{previous.name}__{transform.lookup_name}"
    return field
