"""The immutable state of a QuerySet, and its compilation to SQLAlchemy Core.

``QueryState`` is one frozen dataclass of tuples; every QuerySet builder
returns a copy made with :meth:`QueryState.replace`, so no builder can forget a
field. Filters and orderings are resolved to SQLAlchemy expressions when they
are added (errors surface at the call that caused them); compiling a state to
a statement is then only assembly, and the statement's structure — not its
values — is what SQLAlchemy's compiled cache keys on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from ._types import ModelLike
from .resolver import Annotation, Join, OrderTerm, Resolver

#: How rows come back: model instances, dicts, tuples, single values, named tuples.
MODELS, DICTS, TUPLES, FLAT, NAMED = "models", "dicts", "tuples", "flat", "named"


@dataclass(frozen=True, slots=True)
class QueryState:
    model: Any
    where: tuple[ColumnElement[bool], ...] = ()
    having: tuple[ColumnElement[bool], ...] = ()
    #: explicit ordering; ``None`` means Meta.ordering
    ordering: tuple[OrderTerm, ...] | None = None
    reverse: bool = False
    low: int = 0
    high: int | None = None
    distinct: bool = False
    annotations: tuple[Annotation, ...] = ()
    #: names selected by values()/values_list(), in order; None selects the model
    selected: tuple[str, ...] | None = None
    result_kind: str = MODELS
    using: str | None = None
    empty: bool = False
    #: tables joined to follow relations, in join order
    joins: tuple[Join, ...] = ()
    #: forward relation paths loaded in the same query (``select_related``)
    select_related: tuple[str, ...] = ()
    #: relations loaded by one extra query each after the main one (``prefetch_related``)
    prefetch: tuple[Any, ...] = ()
    #: rows already known (prefetched relations); any builder call drops them
    result_cache: tuple[Any, ...] | None = None
    #: SELECT … FOR UPDATE
    for_update: bool = False
    #: the builder calls that made this state, without their values, while each one can
    #: be replayed with parameters (``query.shapes``); ``None`` once one cannot
    shape: tuple[Any, ...] | None = None
    #: the values of those calls, in order (the filters' values as their fields' Python
    #: type, which is what they bind)
    shape_values: tuple[Any, ...] = ()
    #: ``filter()`` / ``exclude()`` calls of a shaped state not yet resolved to conditions,
    #: each ``(negate, ((key, value), …))``: a shaped fetch never needs them, and
    #: ``QuerySet._state`` resolves them for everything else
    pending: tuple[tuple[bool, tuple[tuple[str, Any], ...]], ...] = ()

    # -- helpers ----------------------------------------------------------------------------

    def replace(self, **changes: Any) -> QueryState:
        """A copy with ``changes`` applied: ``dataclasses.replace`` without its per-call
        ``__init__``/field introspection, which cost ~20 µs on every builder call.

        The copy has no shape unless ``changes`` carries one on: a change that does not
        say how to replay itself ends the shape.
        """
        if "shape" not in changes:
            changes["shape"] = None
            changes["shape_values"] = ()
        new = object.__new__(QueryState)
        setter = object.__setattr__
        for name in _FIELD_NAMES:
            setter(new, name, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            raise TypeError(f"QueryState has no field(s) {', '.join(changes)}")
        return new

    @property
    def is_sliced(self) -> bool:
        return self.low != 0 or self.high is not None

    def resolver(self) -> Resolver:
        return Resolver(self.model, {a.name: a for a in self.annotations}, self.joins)

    @property
    def has_aggregate(self) -> bool:
        return any(a.is_aggregate for a in self.annotations)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(QueryState))

#: every field but the model, the database and the shape (how the state was built), with
#: its default: ``Model.objects.all()``
_UNFILTERED = tuple(
    (f.name, f.default)
    for f in dataclasses.fields(QueryState)
    if f.name not in ("model", "using", "shape", "shape_values")
)
assert all(default is not dataclasses.MISSING for _, default in _UNFILTERED)


def is_unfiltered(state: QueryState) -> bool:
    """Whether ``state`` is that of ``Model.objects.all()`` (on any database): no filter,
    ordering, slice, annotation, relation loading or cached rows. (The defaults are
    ``()``, ``None`` and scalars: comparing a tuple of expressions to ``()`` compares
    no expression.)"""
    return all(getattr(state, name) == default for name, default in _UNFILTERED)


def _default_ordering(model: ModelLike) -> tuple[OrderTerm, ...]:
    """Meta.ordering resolved once per model."""
    cache: dict[Any, Any] = _ORDERING_CACHE
    cached = cache.get(model)
    if cached is None:
        resolver = Resolver(model)
        cached = tuple(resolver.order_term(term) for term in model._meta.ordering)
        cache[model] = cached
    return cached


_ORDERING_CACHE: dict[Any, Any] = {}


def ordering_of(state: QueryState) -> tuple[OrderTerm, ...]:
    """The effective ordering: explicit, else Meta.ordering; reversed by reverse()/last()."""
    if state.ordering is not None:
        ordering = state.ordering
    elif state.has_aggregate or (state.distinct and state.selected is not None):
        # As Django: Meta.ordering does not apply to GROUP BY queries, and a
        # DISTINCT over values() cannot order by columns it does not select.
        ordering = ()
    else:
        ordering = _default_ordering(state.model)
    if state.reverse:
        if not ordering:
            ordering = (OrderTerm(state.model._meta.table.c[state.model._meta.pk.attname]),)
        ordering = tuple(term.reversed() for term in ordering)
    return ordering


def _order_clauses(state: QueryState) -> list[ColumnElement[Any]]:
    return [clause for term in ordering_of(state) for clause in term.clauses()]


def selected_columns(
    state: QueryState,
) -> tuple[Sequence[ColumnElement[Any]], tuple[str, ...]]:
    """The SELECT list and the names rows map to (select_related columns follow, unnamed).

    The model's own ``Options.columns`` when nothing is added to them, so that
    :func:`build_select` can tell the whole table is selected.
    """
    meta = state.model._meta
    if state.selected is None:
        if not state.annotations and not state.select_related:
            return meta.columns, meta.attnames
        columns: list[ColumnElement[Any]] = list(meta.columns)
        names = meta.attnames
        for annotation in state.annotations:
            columns.append(annotation.element.label(annotation.name))
        joins = {join.path: join for join in state.joins}
        for path in state.select_related:
            join = joins[path]
            columns.extend(
                join.table.c[attname].label(f"{path}__{attname}")
                for attname in join.model._meta.attnames
            )
        return columns, names + tuple(a.name for a in state.annotations)
    resolver = state.resolver()
    columns = []
    for name in state.selected:
        columns.append(resolver.resolve_ref(name).label(name))
    return columns, state.selected


def group_by(state: QueryState, columns: Sequence[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    """GROUP BY for annotations with aggregates: every selected non-aggregate expression."""
    aggregates = {a.name for a in state.annotations if a.is_aggregate}
    return [
        getattr(column, "element", column)
        for column in columns
        if getattr(column, "name", None) not in aggregates
    ]


def build_select(
    state: QueryState, columns: Sequence[ColumnElement[Any]] | None = None
) -> Select[Any]:
    """The SELECT statement for ``state`` (``columns`` overrides the select list)."""
    if columns is None:
        columns, _ = selected_columns(state)
    meta = state.model._meta
    # Options.columns is every column of the table, in table order: select() then
    # coerces one table instead of each column (~1 µs a column)
    stmt = sa.select(meta.table) if columns is meta.columns else sa.select(*columns)
    stmt = stmt.select_from(from_clause(state))
    if state.where:
        stmt = stmt.where(*state.where)
    if state.empty:
        stmt = stmt.where(sa.false())
    if state.has_aggregate:
        stmt = stmt.group_by(*group_by(state, columns))
    if state.having:
        stmt = stmt.having(sa.and_(*state.having))
    if state.distinct:
        stmt = stmt.distinct()
    order = _order_clauses(state)
    if order:
        stmt = stmt.order_by(*order)
    if state.high is not None:
        stmt = stmt.limit(state.high - state.low)
    if state.low:
        stmt = stmt.offset(state.low)
    if state.for_update:
        stmt = stmt.with_for_update()
    return stmt


def from_clause(state: QueryState) -> Any:
    """The model's table with the joins relations need."""
    source: Any = state.model._meta.table
    for join in state.joins:
        source = source.join(join.table, join.onclause, isouter=join.outer)
    return source


def pk_subquery(state: QueryState) -> Any:
    """``pk IN (…)`` target for UPDATE/DELETE of a sliced or ordered QuerySet.

    MySQL refuses LIMIT inside an IN subquery and a subquery on the table being
    modified; wrapping the limited SELECT in a derived table satisfies both,
    and PostgreSQL and SQLite accept the same shape.
    """
    meta = state.model._meta
    pk_col = meta.table.c[meta.pk.attname]
    inner = build_select(state, [pk_col]).subquery("flash_slice")
    return sa.select(inner.c[pk_col.key])


def write_filter(state: QueryState) -> list[ColumnElement[bool]]:
    """WHERE clause for UPDATE/DELETE of ``state``."""
    if state.is_sliced or state.distinct or state.having or state.has_aggregate or state.joins:
        meta = state.model._meta
        return [meta.table.c[meta.pk.attname].in_(pk_subquery(state))]
    conditions = list(state.where)
    if state.empty:
        conditions.append(sa.false())
    return conditions


def count_select(state: QueryState) -> Select[Any]:
    if state.is_sliced or state.distinct or state.has_aggregate or state.having:
        inner = build_select(state).subquery("flash_count")
        return sa.select(sa.func.count()).select_from(inner)
    stmt = sa.select(sa.func.count()).select_from(from_clause(state))
    conditions = list(state.where)
    if state.empty:
        conditions.append(sa.false())
    if conditions:
        stmt = stmt.where(*conditions)
    return stmt
