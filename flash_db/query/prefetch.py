"""``prefetch_related``: one extra query per relation, results attached to the instances.

Forward foreign keys land on the attribute (``book.author``); reverse and
many-to-many relations land in ``obj.__dict__["_prefetched"][name]``, which
the related managers (``author.books.all()``) serve without a query. Key
sets are split into batches of :data:`BATCH_SIZE` to stay under every
backend's bound-parameter limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..exceptions import FieldError
from . import hydrate
from .executor import get_executor
from .relations import Relation, find_relation
from .state import build_select, selected_columns

#: keys per IN (...) list; SQLite allows 32766 bound parameters, PostgreSQL 32767
BATCH_SIZE = 5000

PREFETCHED = "_prefetched"


class Prefetch:
    """A relation to prefetch, optionally with its own QuerySet::

    Author.objects.prefetch_related(Prefetch("books", queryset=Book.objects.filter(price__gt=5)))
    """

    def __init__(self, lookup: str, queryset: Any = None) -> None:
        self.lookup = lookup
        self.queryset = queryset

    def check(self, model: Any) -> None:
        """Refuse unknown relation names now, naming the valid ones."""
        for part in self.lookup.split("__"):
            relation = find_relation(model, part)
            if relation is None:
                choices = ", ".join(model._meta.relations) or "none"
                raise FieldError(
                    f"prefetch_related({self.lookup!r}): {part!r} is not a relation of "
                    f"{model.__name__}; choices: {choices}"
                )
            model = relation.target
        if self.queryset is not None and self.queryset.model is not model:
            raise FieldError(
                f"Prefetch({self.lookup!r}) needs a QuerySet of {model.__name__}, "
                f"got one of {self.queryset.model.__name__}"
            )

    def __repr__(self) -> str:
        return f"Prefetch({self.lookup!r})"


async def prefetch_objects(objs: Sequence[Any], prefetches: Sequence[Prefetch], alias: str) -> None:
    """Run every prefetch for ``objs`` (instances of one model)."""
    for prefetch in prefetches:
        await _prefetch_path(list(objs), prefetch.lookup.split("__"), prefetch, alias)


async def _prefetch_path(objs: list[Any], parts: list[str], prefetch: Prefetch, alias: str) -> None:
    objs = [o for o in objs if o is not None]
    if not objs:
        return
    relation = find_relation(type(objs[0]), parts[0])
    assert relation is not None  # checked by Prefetch.check
    last = len(parts) == 1
    queryset = prefetch.queryset if last and prefetch.queryset is not None else None
    if queryset is None and all(_is_loaded(obj, relation) for obj in objs):
        # Loaded by an earlier prefetch ("books" before "books__tags"): reuse, don't refetch.
        related = [item for obj in objs for item in _loaded(obj, relation)]
    else:
        queryset = queryset if queryset is not None else relation.target.objects.all()
        related = await _fetch(objs, relation, queryset, alias)
    if not last:
        await _prefetch_path(related, parts[1:], prefetch, alias)


def _is_loaded(obj: Any, relation: Relation) -> bool:
    if relation.kind == "forward":
        return bool(relation.field.is_cached(obj))
    if relation.is_one_to_one_reverse:
        return relation.name in obj.__dict__
    return relation.name in obj.__dict__.get(PREFETCHED, {})


def _loaded(obj: Any, relation: Relation) -> list[Any]:
    if relation.kind == "forward":
        item = obj.__dict__[relation.field.name]
        return [] if item is None else [item]
    if relation.is_one_to_one_reverse:
        item = obj.__dict__[relation.name]
        return [] if item is None else [item]
    return list(obj.__dict__[PREFETCHED][relation.name])


def _batches(keys: list[Any]) -> list[list[Any]]:
    return [keys[i : i + BATCH_SIZE] for i in range(0, len(keys), BATCH_SIZE)]


async def _fetch(objs: list[Any], relation: Relation, queryset: Any, alias: str) -> list[Any]:
    first = relation.steps[0]
    parent_keys = list(dict.fromkeys(o.__dict__.get(first.left_attname) for o in objs))
    parent_keys = [k for k in parent_keys if k is not None]
    if relation.kind == "forward":
        target_field = relation.target._meta.get_field(first.right_attname)
        found: dict[Any, Any] = {}
        for batch in _batches(parent_keys):
            for item in await queryset.filter(**{f"{target_field.name}__in": batch}):
                found[item.__dict__[first.right_attname]] = item
        for obj in objs:
            obj.__dict__[relation.field.name] = found.get(obj.__dict__.get(first.left_attname))
        return list(found.values())
    groups: dict[Any, list[Any]] = defaultdict(list)
    if relation.kind == "reverse":
        fk = relation.field
        for batch in _batches(parent_keys):
            for item in await queryset.filter(**{f"{fk.name}__in": batch}):
                groups[item.__dict__[fk.attname]].append(item)
    else:
        await _fetch_many_to_many(relation, queryset, parent_keys, groups, alias)
    fetched = []
    for obj in objs:
        items = groups.get(obj.__dict__.get(first.left_attname), [])
        fetched.extend(items)
        if relation.kind == "reverse":
            for item in items:  # the reverse side is known too: book.author is obj
                item.__dict__[relation.field.name] = obj
        if relation.is_one_to_one_reverse:
            obj.__dict__[relation.name] = items[0] if items else None
        else:
            obj.__dict__.setdefault(PREFETCHED, {})[relation.name] = tuple(items)
    return fetched


async def _fetch_many_to_many(
    relation: Relation,
    queryset: Any,
    parent_keys: list[Any],
    groups: dict[Any, list[Any]],
    alias: str,
) -> None:
    """Targets joined to the through table, with the source key as an extra column."""
    to_through, to_target = relation.steps
    through = to_through.target._meta.table.alias("flash_prefetch_through")
    source = through.c[to_through.right_attname]
    state = queryset._state
    target_table = state.model._meta.table
    columns, names = selected_columns(state)
    executor = get_executor()
    for batch in _batches(parent_keys):
        stmt = (
            build_select(state, [*columns, source.label("_prefetch_source")])
            .join(
                through,
                through.c[to_target.left_attname] == target_table.c[to_target.right_attname],
            )
            .where(source.in_(batch))
        )
        rows = hydrate.rows_of(await executor.execute(alias, stmt))
        items = hydrate.instances(state.model, names, [row[:-1] for row in rows], alias)
        for item, row in zip(items, rows, strict=True):
            groups[row[-1]].append(item)
