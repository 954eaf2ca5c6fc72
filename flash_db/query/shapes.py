"""QuerySet SELECTs cached per *shape*: the builder calls that made them, without their values.

``Item.objects.filter(flag=True, score__gte=n).order_by("id")[:20]`` is the same
statement for every ``n``. Building its SQLAlchemy conditions and ``Select``, walking
it for the compiled cache's key and extracting its parameters cost about as much
Python as running it. A :class:`~flash_db.query.state.QueryState` therefore records
its *shape* while every builder call that made it is one that can be replayed with
parameters in place of values:

- ``filter()`` / ``exclude()`` with keyword lookups only, each a lookup that binds its
  value as it is (:attr:`~flash_db.Lookup.binds_value`: exact, gt, gte, lt, lte) on a
  field or relation path, with a non-``None`` scalar value (:data:`SHAPE_TYPES`);
- ``order_by()`` with field names; ``values()`` / ``values_list()``; slicing;
  ``all()``; ``using()``; ``get()``'s own ordering and limit.

Any other call drops the shape (:meth:`QueryState.replace` does unless it is passed on),
and the QuerySet builds its statement as before. A shaped filter is kept *pending*
(``QueryState.pending``): its values are converted at the call, so bad input fails
there, but its conditions are built only when something other than a shaped fetch,
``count()`` or ``exists()`` reads them (``QuerySet._state`` resolves them; ``update()``,
subqueries and ``sql()`` do).

The first run of a shape replays its calls on a new QuerySet with a bound parameter
in place of each value (``flash_v0``, ``flash_v1``, …) and LIMIT / OFFSET as parameters
(:func:`select`). The statement is kept only if it matches the one built the ordinary
way from the same call: the same SQL once parameter names are set aside, and each
parameter standing where the ordinary statement binds the same value with the same
type. A shape that fails the check is remembered as one to build per call. Statements
with parameters run as :data:`~flash_db.query.executor.REUSED` ones (one plan per
statement on the driver path, SQLAlchemy's ``execute(statement, params)`` elsewhere),
those without as :data:`~flash_db.query.executor.READS_ROWS` ones.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import weakref
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from ..exceptions import FieldError
from .executor import READS_ROWS, REUSED
from .resolver import LOOKUP_SEP, Resolver
from .state import QueryState, build_select, count_select, selected_columns

#: value types a shape binds as parameters (never SQL expressions, instances or lists)
SHAPE_TYPES = frozenset(
    {int, str, float, bool, Decimal, dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID}
)

#: shapes kept per model; past it, new shapes are built per call
MAX_SHAPES = 256

_LIMIT, _OFFSET = "flash_limit", "flash_offset"
#: the parameter of a shape's ``n``-th value
_VALUE = "flash_v{}"

#: per model: lookup key -> the field whose ``to_python`` prepares its value (as the
#: resolver does), or ``None`` when the lookup does not bind its value as it is
_BINDABLE: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

#: per model: (QuerySet class, shape, offset?, limit?) -> (statement, names), or ``None``
#: when the shape failed the check
_SELECTS: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _bindable_field(model: Any, key: str) -> Any:
    """The field ``filter(key=value)`` compares, if its lookup binds ``value`` as it is."""
    per_model = _BINDABLE.get(model)
    if per_model is None:
        per_model = _BINDABLE[model] = {}
    if key in per_model:
        return per_model[key]
    field = found = None
    rest: list[str] = []
    try:
        _, found, rest = Resolver(model).walk(key.split(LOOKUP_SEP), key)
    except FieldError:
        pass
    if found is not None and len(rest) <= 1:
        lookup = found.get_lookup(rest[0] if rest else "exact")
        if lookup is not None and lookup.binds_value:
            field = found
    if len(per_model) < MAX_SHAPES:
        per_model[key] = field
    return field


def with_filter(
    state: QueryState, negate: bool, kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """The shape and its values after ``filter(**kwargs)`` / ``exclude()`` (``negate``),
    or ``None`` when the call cannot be replayed with parameters.

    Each value is converted to its field's Python type here, as resolving the lookup
    would: an invalid value raises ``FieldError`` at the call, as it does unshaped.
    """
    shape = state.shape
    if shape is None or state.annotations:
        return None
    model = state.model
    keys = tuple(sorted(kwargs))  # the order _filter resolves them in
    fields = []
    for key in keys:
        field = _bindable_field(model, key) if type(kwargs[key]) in SHAPE_TYPES else None
        if field is None:
            return None  # before converting any value: the resolver converts them again
        fields.append(field)
    values = []
    kinds: list[Any] = []
    for key, field in zip(keys, fields, strict=True):
        value = kwargs[key]
        kind = type(value)
        prepared = Resolver.prepare(key, field, value)  # FieldError for a bad value
        if kind is bool:
            if type(prepared) is not bool:
                return None  # a boolean the field converts (to 1, say) binds as a value
            # SQLAlchemy compares with true() / false(), not a parameter: part of the shape
            kinds.append(prepared)
        else:
            kinds.append(kind)
            values.append(prepared)
    item = ("filter", negate, keys, tuple(kinds))
    return (*shape, item), (*state.shape_values, *values)


def local_names(state: QueryState, names: Any) -> bool:
    """Whether ``names`` (for ``order_by()`` / ``values()``) resolve the same before and
    after ``state``'s pending filters: field names of the model itself, no relation path
    (whose join a filter may have made) and no annotation."""
    if not state.pending:
        return True
    return not state.annotations and all(LOOKUP_SEP not in name for name in names)


def with_call(state: QueryState, *item: Any) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """The shape (or ``None``) and its values after a value-free builder call ``item``."""
    if state.shape is None:
        return None, ()
    return (*state.shape, item), state.shape_values


#: what a shaped statement is for: rows, ``count()``, ``exists()``
FETCH, COUNT, EXISTS = "fetch", "count", "exists"


def select(
    qs: Any, purpose: str = FETCH
) -> tuple[Any, tuple[str, ...], dict[str, Any] | None] | None:
    """``(statement, names, params)`` to run ``qs`` for ``purpose`` by the statement of
    its shape, or ``None`` (no shape, or one that cannot be parametrised): build it per
    call. ``params`` is ``None`` for a shape without values (the statement is then a
    ``READS_ROWS`` one, run by the plan of its compiled form)."""
    state: QueryState = qs._raw
    if not state.shape:  # none, or that of ``Model.objects.all()``: nothing to save
        return None
    low, high = state.low, state.high
    if purpose == EXISTS:
        high = low + 1 if high is None else min(high, low + 1)
    elif purpose == COUNT and (low or high is not None):
        return None  # counted over a subquery of the slice: built per call
    model = state.model
    per_model = _SELECTS.get(model)
    if per_model is None:
        per_model = _SELECTS[model] = {}
    key = (type(qs), purpose, state.shape, low != 0, high is not None)
    entry = per_model.get(key, False)
    if entry is False:
        if len(per_model) >= MAX_SHAPES:
            return None
        entry = per_model[key] = _parametrised(qs, purpose, low, high)
    if entry is None:
        return None
    stmt, names = entry
    return stmt, names, _params(state.shape_values, low, high) or None


def _params(values: tuple[Any, ...], low: int, high: int | None) -> dict[str, Any]:
    """The parameters of a shape's statement: its values, then LIMIT and OFFSET."""
    params = {_VALUE.format(n): value for n, value in enumerate(values)}
    if high is not None:
        params[_LIMIT] = high - low
    if low:
        params[_OFFSET] = low
    return params


def _build(
    purpose: str, state: QueryState, low: int, high: int | None, parametrised: bool
) -> tuple[Any, tuple[str, ...]]:
    """The statement of ``state`` for ``purpose`` and its result names; LIMIT and OFFSET
    as parameters when ``parametrised``, else as the values ``high - low`` and ``low``."""
    if purpose == COUNT:
        return count_select(state), ()
    if purpose == EXISTS:
        state = state.replace(ordering=(), reverse=False)
        columns: Any = [sa.literal_column("1")]
        names: tuple[str, ...] = ()
    else:
        columns, names = selected_columns(state)
    if not parametrised:
        return build_select(state.replace(low=low, high=high), columns), names
    stmt = build_select(state.replace(low=0, high=None), columns)
    if high is not None:
        stmt = stmt.limit(sa.bindparam(_LIMIT, type_=sa.Integer(), required=True))
    if low:
        stmt = stmt.offset(sa.bindparam(_OFFSET, type_=sa.Integer(), required=True))
    return stmt, names


def _parametrised(
    qs: Any, purpose: str, low: int, high: int | None
) -> tuple[Any, tuple[str, ...]] | None:
    """The statement of ``qs``'s shape with parameters for its values, checked against
    the one built from ``qs`` itself; ``None`` if they differ."""
    state: QueryState = qs._state  # its pending filters resolved: the statement per call
    model = state.model
    replay = type(qs)(model)
    bound = 0
    try:
        for item in state.shape or ():
            kind = item[0]
            if kind == "filter":
                _, negate, keys, kinds = item
                params: dict[str, Any] = {}
                for key, kind in zip(keys, kinds, strict=True):
                    if type(kind) is bool:
                        params[key] = kind
                        continue
                    params[key] = sa.bindparam(_VALUE.format(bound), required=True)
                    bound += 1
                replay = replay._filter(negate, (), params)
            elif kind == "order_by":
                replay = replay.order_by(*item[1])
            elif kind == "select":
                replay = replay._select(item[1], item[2])
            else:  # pragma: no cover - every recorded kind is replayed above
                return None
    except Exception:  # a call that only works with its real value: build per call
        return None
    if bound != len(state.shape_values):
        return None
    stmt, names = _build(purpose, replay._state, low, high, True)
    built, built_names = _build(purpose, state, low, high, False)
    expected = _params(state.shape_values, low, high)
    if names != built_names or not _same(built, stmt, expected):
        return None
    if expected:
        return stmt.execution_options(**{REUSED: True}), names
    # nothing to bind: the compiled form's plan, its cache key memoized on the statement
    return stmt.execution_options(**{READS_ROWS: True}), names


_BIND_NAME = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


def _same(built: Any, template: Any, expected: dict[str, Any]) -> bool:
    """Whether ``template`` is ``built`` with its parameters (``expected``: their values)
    in place of the values."""
    if _BIND_NAME.sub(":?", str(built)) != _BIND_NAME.sub(":?", str(template)):
        return False
    ours = [e for e in visitors.iterate(template) if isinstance(e, BindParameter)]
    theirs = [e for e in visitors.iterate(built) if isinstance(e, BindParameter)]
    if len(ours) != len(theirs):
        return False
    seen = set()
    for mine, other in zip(ours, theirs, strict=True):
        if mine.key in expected:
            seen.add(mine.key)
            if other.value != expected[mine.key] or type(other.value) is not type(
                expected[mine.key]
            ):
                return False
        elif mine.value != other.value or type(mine.value) is not type(other.value):
            return False
        if type(mine.type) is not type(other.type):
            return False
    return seen == set(expected)
