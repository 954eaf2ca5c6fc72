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
from .relations import Relation

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


class Join:
    """A joined table: ``path`` names it (``"author"``, ``"books__tags"``)."""

    __slots__ = ("model", "onclause", "outer", "path", "table")

    def __init__(
        self, path: str, model: Any, table: Any, onclause: ColumnElement[bool], outer: bool
    ) -> None:
        self.path = path
        self.model = model
        self.table = table
        self.onclause = onclause
        self.outer = outer


class Resolver:
    """Resolves references for one model and its annotations (implements ``expressions.Resolver``).

    Names that follow relations (``author__name``, ``books__tags__slug``) add
    joins to :attr:`joins`, keyed by path, so one path is joined once per query.
    """

    __slots__ = (
        "annotations",
        "base",
        "joins",
        "made",
        "meta",
        "model",
        "outer",
        "sticky",
        "used_aggregate",
    )

    def __init__(
        self,
        model: ModelLike,
        annotations: Mapping[str, Annotation] | None = None,
        joins: Iterable[Join] = (),
        base: Any = None,
    ) -> None:
        self.model = model
        self.meta = model._meta
        #: the table (or alias) the model's own columns come from
        self.base = base if base is not None else model._meta.table
        self.annotations = annotations or {}
        self.joins: dict[str, Join] = {join.path: join for join in joins}
        #: joins this resolver added (reused freely within one call)
        self.made: set[str] = set()
        #: give multi-valued relations a new join per filter() call, as Django does
        self.sticky = False
        #: whether the last walked column came through an outer join
        self.outer = False
        #: set when a resolved expression referenced an aggregate (so it belongs in HAVING)
        self.used_aggregate = False

    # -- names ------------------------------------------------------------------------------

    def field(self, name: str) -> Field[Any]:
        """The model field called ``name`` (``pk`` is the primary key)."""
        if name == "pk":
            return self.meta.pk
        return self.meta.get_field(name)

    @staticmethod
    def _choices(meta: Any, annotations: Iterable[str] = ()) -> str:
        names = [f.name for f in meta.concrete_fields]
        relations = [name for name in meta.relations if name not in names]
        return ", ".join(["pk", *names, *relations, *annotations])

    def choices(self) -> str:
        return self._choices(self.meta, self.annotations)

    def unknown(self, name: str, meta: Any = None, key: str | None = None) -> FieldError:
        meta = meta or self.meta
        where = f" (in {key!r})" if key and key != name else ""
        annotations = self.annotations if meta is self.meta else ()
        return FieldError(
            f"cannot resolve {name!r} on {meta.object_name}{where}; "
            f"choices: {self._choices(meta, annotations)}"
        )

    def join(self, path: str, left: Any, relation: Relation, outer: bool) -> Join:
        """Join ``relation`` from the table ``left``; ``path`` names the result.

        An existing join of the same path is reused, except a multi-valued one made
        by an earlier ``filter()`` when :attr:`sticky` is set: as in Django, each
        ``filter()`` call over a reverse or many-to-many relation gets its own join
        (``filter(books__title="a").filter(books__title="b")``: two books).
        """
        outer = outer or relation.nullable or relation.multiple
        if relation.multiple and self.sticky and path in self.joins and path not in self.made:
            number = 2
            while f"{path}_{number}" in self.joins:
                number += 1
            path = f"{path}_{number}"
        join: Join | None = None
        for index, step in enumerate(relation.steps):
            last = index == len(relation.steps) - 1
            key = path if last else f"{path}__through{index}"
            join = self.joins.get(key)
            if join is None:
                right = step.target._meta.table.alias(self._alias_name(key))
                onclause = left.c[step.left_attname] == right.c[step.right_attname]
                join = Join(key, step.target, right, onclause, outer)
                self.joins[key] = join
                self.made.add(key)
            left = join.table
        assert join is not None
        return join

    def _alias_name(self, key: str) -> str:
        """The SQL alias of the join ``key``: the key itself, unless it is the name of the
        query's own table (a self-referencing foreign key's reverse join, ``employee`` on
        table ``Employee``), which SQLite and MySQL compare without case: that would make
        every column of the two ambiguous."""
        if key.lower() == self.meta.table_name.lower():
            return f"{key}_join"
        return key

    def walk(self, parts: list[str], key: str) -> tuple[ColumnElement[Any], Field[Any], list[str]]:
        """Follow ``parts`` through relations to a column; returns it, its field, and the rest.

        The rest are transforms and lookups. A forward foreign key compared as a
        whole (``author=a``, ``author__in=[...]``, ``author__pk=1``) uses the
        local ``author_id`` column, without a join. :attr:`outer` tells whether
        the column came through an outer join (it may then be NULL).
        """
        self.outer = False
        first = parts[0]
        annotation = self.annotations.get(first)
        if annotation is not None:
            if annotation.is_aggregate:
                self.used_aggregate = True
            return annotation.element, _GENERIC_FIELD, parts[1:]
        meta = self.meta
        table = self.base
        path = ""
        index = 0
        while True:
            part = parts[index]
            rest = parts[index + 1 :]
            relation = meta.relations.get(part)
            if relation is None:
                try:
                    field = meta.pk if part == "pk" else meta.get_field(part)
                except FieldError:
                    raise self.unknown(part, meta, key) from None
                return table.c[field.attname], field, rest
            target_meta = relation.target._meta
            following = rest[0] if rest else None
            deeper = following is not None and (
                following == "pk"
                or following in target_meta.relations
                or target_meta.has_field(following)
            )
            if (
                following is not None
                and not deeper
                and following not in self._lookup_names(relation)
            ):
                raise self.unknown(following, target_meta, key)
            if relation.kind == "forward":
                fk = relation.field
                if not deeper:
                    return table.c[fk.attname], fk, rest
                target = fk.target_field
                if following == target.name or (following == "pk" and target is target_meta.pk):
                    return table.c[fk.attname], target, rest[1:]
            joined = self.join(
                f"{path}{LOOKUP_SEP}{part}" if path else part, table, relation, self.outer
            )
            path, table, meta = joined.path, joined.table, target_meta
            self.outer = joined.outer
            if not deeper:
                return table.c[meta.pk.attname], meta.pk, rest

            index += 1

    @staticmethod
    def _lookup_names(relation: Relation) -> dict[str, Any]:
        """Lookups and transforms that may follow a relation compared as a whole."""
        field = relation.field if relation.kind == "forward" else relation.target._meta.pk
        return field.get_lookups()

    def resolve_ref(self, name: str) -> ColumnElement[Any]:
        column, field, rest = self.walk(name.split(LOOKUP_SEP), name)
        for part in rest:
            transform = field.get_transform(part)
            if transform is None:
                raise FieldError(
                    f"cannot resolve {name!r}: {part!r} is not a transform of "
                    f"{type(field).__name__} {field.name!r}"
                )
            column = transform().apply(column)
            field = _output_field(transform, field)
        return column

    def value(self, value: Any, field: Field[Any] | None = None) -> Any:
        """A lookup's right-hand side: expressions resolve, everything else stays a bound value.

        A model instance stands for its key: the pk, or the ``to_field`` of ``field``.
        """
        if isinstance(value, Expression):
            return value.resolve(self)
        to_subquery = getattr(value, "_as_subquery", None)
        if to_subquery is not None:  # a QuerySet used as a value (``pk__in=qs``)
            return to_subquery()
        meta = getattr(value, "_meta", None)
        if meta is not None and hasattr(value, "pk"):
            target = getattr(field, "target_field", None) if field is not None else None
            return value.__dict__.get(target.attname) if target is not None else value.pk
        return value

    # -- lookups and Q ----------------------------------------------------------------------

    def crosses_many(self, parts: list[str]) -> bool:
        """Whether the path goes through a reverse or many-to-many relation."""
        meta = self.meta
        for part in parts:
            relation = meta.relations.get(part)
            if relation is None:
                return False
            if relation.multiple:
                return True
            meta = relation.target._meta
        return False

    def lookup(self, key: str, value: Any, negated: bool = False) -> ColumnElement[bool]:
        """The condition for ``filter(key=value)``."""
        parts = key.split(LOOKUP_SEP)
        if negated and parts[0] not in self.annotations and self.crosses_many(parts):
            return self._matching_rows(key, value)
        column, field, rest = self.walk(parts, key)
        lookup_cls: type[Lookup] | None = None
        # the compared path, for messages: ``price`` of ``price__range``
        name = key
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
            name = key[: -len(LOOKUP_SEP + part)]
        if lookup_cls is None:
            lookup_cls = field.get_lookup("exact")
            assert lookup_cls is not None
        if value is None and not lookup_cls.accepts_none:
            if lookup_cls.lookup_name != "exact":
                raise FieldError(
                    f"{key}=None: None is only allowed with exact (IS NULL); use {parts[0]}__isnull=True"
                )
            return column.is_(None)
        lookup_cls.check_value(name, value)
        if lookup_cls.takes_iterable:
            value = self._iterable(key, name, value, field)
            if isinstance(value, list):
                value = [self.prepare(key, field, v) for v in value]
        elif not lookup_cls.accepts_none:
            value = self.prepare(key, field, self.value(value, field))
        condition = lookup_cls(field).as_sql(column, value)
        if negated and (field.null or self.outer) and lookup_cls.lookup_name != "isnull":
            # NOT (x = 1) is NULL, not TRUE, for NULL x; Django's exclude() keeps
            # those rows, so make the condition false (not unknown) for NULLs.
            condition = sa.and_(condition, column.is_not(None))
        return condition

    def _matching_rows(self, key: str, value: Any) -> ColumnElement[bool]:
        """``pk IN (rows that have a related row matching key=value)``, for negation.

        ``exclude(books__title="x")`` means "no book titled x", as in Django: the
        negation applies to the existence of a match, not to each joined row.
        """
        inner_base = self.meta.table.alias(f"flash_{self.meta.table_name}")
        inner = Resolver(self.model, base=inner_base)
        condition = inner.lookup(key, value)
        source: Any = inner_base
        for join in inner.joins.values():
            source = source.join(join.table, join.onclause, isouter=join.outer)
        pk = self.meta.pk.attname
        matching = sa.select(inner_base.c[pk]).select_from(source).where(condition)
        return self.base.c[pk].in_(matching)

    @staticmethod
    def prepare(key: str, field: Field[Any], value: Any) -> Any:
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

    def _iterable(self, key: str, name: str, value: Any, field: Field[Any]) -> Any:
        if getattr(value, "_as_subquery", None) is not None:
            return value._as_subquery()
        if isinstance(value, sa.sql.Select):
            return value
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise FieldError(
                f"{key} expects a list, tuple or QuerySet, got {value!r} "
                f"({type(value).__name__}); to compare with one value use {name}={value!r}"
            )
        return [self.value(v, field) for v in value]

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
