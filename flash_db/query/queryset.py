"""``QuerySet``: a lazy, immutable, awaitable query over one model.

Every builder method returns a new QuerySet; nothing touches the database
until the QuerySet is awaited, iterated with ``async for``, or a terminal
method (``count()``, ``get()``, ``update()`` …) is awaited::

    qs = Book.objects.filter(price__gte=5).order_by("-price")[:10]
    books = await qs                          # list[Book]
    async for book in qs: ...
    n = await qs.count()
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import Any, Generic, Self, overload

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from typing_extensions import TypeVar

from ..exceptions import FieldError, IntegrityError, NotSupportedError, TransactionConflict
from ..expressions import Expression, Q
from . import hydrate, shapes, writes
from .executor import READS_ROWS, Executor, get_executor
from .prefetch import Prefetch, prefetch_objects
from .resolver import Annotation, Resolver
from .state import (
    DICTS,
    FLAT,
    MODELS,
    NAMED,
    TUPLES,
    QueryState,
    build_select,
    count_select,
    from_clause,
    is_unfiltered,
    selected_columns,
    write_filter,
)

M = TypeVar("M")
R = TypeVar("R", default=M)

#: times update_or_create() runs its own transaction when the database aborts it
_CONFLICT_RETRIES = 5

#: rows read from a get() to tell "one" from "more than one"
_GET_LIMIT = 2


class QuerySet(Generic[M, R]):
    """A lazy query over the rows of one model. ``R`` is what awaiting it yields a list of."""

    __slots__ = ("_raw",)

    def __init__(self, model: type[M], state: QueryState | None = None) -> None:
        #: the state as built, with its pending filters (``_state`` resolves them)
        self._raw = state if state is not None else QueryState(model=model, shape=())

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _state(self) -> QueryState:
        """The state, its pending filters resolved to conditions (once per QuerySet).

        Everything that reads the conditions or joins goes through here; only the
        builders that keep a shape, and the shaped fetch, read ``_raw``.
        """
        state = self._raw
        if state.pending:
            state = self._raw = _resolve_pending(type(self), state)
        return state

    @property
    def model(self) -> type[M]:
        return self._raw.model

    def _replace(self, **changes: Any) -> Any:
        changes.setdefault("result_cache", None)  # a changed query must hit the database
        return type(self)(self.model, self._raw.replace(**changes))

    def _replace_shaped(self, shaped: tuple[Any, ...], **changes: Any) -> Any:
        """:meth:`_replace`, the state's shape becoming ``shaped`` (``(shape, values)``)."""
        return self._replace(shape=shaped[0], shape_values=shaped[1], **changes)

    def _same_shape(self) -> tuple[Any, ...]:
        raw = self._raw
        return raw.shape, raw.shape_values

    @property
    def _executor(self) -> Executor:
        return get_executor()

    def _read_alias(self) -> str:
        return self._executor.db_for_read(self.model, self._raw.using)

    def _write_alias(self) -> str:
        """Where this QuerySet writes; every write asks, so a read-only model is refused."""
        self._state.model._meta.check_writable()
        return self._executor.db_for_write(self.model, self._raw.using)

    def _check_not_sliced(self, action: str) -> None:
        if self._raw.is_sliced:
            raise TypeError(f"cannot {action} a QuerySet once it has been sliced")

    def _as_subquery(self) -> Any:
        """The SELECT of this QuerySet, for ``field__in=qs`` (one column: values_list/flat or pk)."""
        state = self._state
        if state.selected is None:
            meta = state.model._meta
            return build_select(state, [meta.table.c[meta.pk.attname]])
        if len(state.selected) != 1:
            raise FieldError("a QuerySet used as a value must select exactly one column")
        return build_select(state)

    # -- builders ---------------------------------------------------------------------------

    def all(self) -> Self:
        """A copy of this QuerySet (keeping prefetched results, which need no query)."""
        return self._replace_shaped(self._same_shape(), result_cache=self._raw.result_cache)

    def none(self) -> Self:
        """A QuerySet that matches nothing (and never queries for it)."""
        return self._replace(empty=True)

    def _filter(self, negate: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Self:
        if not args and not kwargs:
            return self._replace_shaped(self._same_shape())
        self._check_not_sliced("filter")
        raw = self._raw
        if not args and raw.shape is not None:
            shaped = shapes.with_filter(raw, negate, kwargs)
            if shaped is not None:
                # resolved only if something other than a shaped fetch needs the conditions
                return self._replace_shaped(
                    shaped, pending=(*raw.pending, (negate, tuple(kwargs.items())))
                )
        where, having, joins = self._conditions(negate, args, kwargs)
        return self._replace(where=where, having=having, joins=joins)

    def _conditions(
        self, negate: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
        """The state's WHERE and HAVING conditions and joins with those of ``filter(*args,
        **kwargs)`` (``exclude()`` when ``negate``) added."""
        # Each AND-ed part goes to WHERE, or to HAVING when it refers to an
        # aggregate annotation: filter(n__gt=2, title="x") keeps title in WHERE.
        parts = (
            [~Q(*args, **kwargs)]
            if negate
            else [Q(arg) for arg in args]
            + [Q(**{key: value}) for key, value in sorted(kwargs.items())]
        )
        where, having = list(self._state.where), list(self._state.having)
        resolver = self._state.resolver()
        resolver.sticky = True
        for part in parts:
            resolver.used_aggregate = False
            condition = resolver.resolve_q(part)
            (having if resolver.used_aggregate else where).append(condition)
        return tuple(where), tuple(having), tuple(resolver.joins.values())

    def filter(self, *args: Any, **kwargs: Any) -> Self:
        """Rows matching all conditions: ``filter(Q(...) | Q(...), name__startswith="A")``."""
        return self._filter(False, args, kwargs)

    def exclude(self, *args: Any, **kwargs: Any) -> Self:
        """Rows not matching the conditions (rows with NULL in a compared column are kept)."""
        return self._filter(True, args, kwargs)

    def order_by(self, *fields: Any) -> Self:
        """Order by field names (``"-price"`` descends) or expressions; no argument clears ordering."""
        self._check_not_sliced("reorder")
        by_name = all(type(f) is str for f in fields)
        # local field names resolve the same before and after pending filters (no join)
        state = self._raw if by_name and shapes.local_names(self._raw, fields) else self._state
        resolver = state.resolver()
        ordering = tuple(resolver.order_term(f) for f in fields)
        return self._replace_shaped(
            shapes.with_call(state, "order_by", fields) if by_name else (None, ()),
            ordering=ordering,
            reverse=False,
            joins=tuple(resolver.joins.values()),
        )

    def reverse(self) -> Self:
        """The same rows in the opposite order."""
        return self._replace(reverse=not self._state.reverse)

    def distinct(self) -> Self:
        """SELECT DISTINCT."""
        return self._replace(distinct=True)

    def select_related(self, *paths: str) -> Self:
        """Load forward relations in the same query, with JOINs: ``select_related("author")``.

        Nested paths follow relations of relations: ``"author__publisher"``. Without
        arguments, every non-null foreign key of the model (one level), as in Django.
        """
        state = self._state
        if not paths:
            paths = tuple(
                name
                for name, relation in state.model._meta.relations.items()
                if relation.kind == "forward" and not relation.nullable
            )
        resolver = state.resolver()
        loaded = list(state.select_related)
        for path in paths:
            model = state.model
            parts = path.split("__")
            prefix = ""
            outer = False
            table = model._meta.table
            for part in parts:
                relation = model._meta.relations.get(part)
                if relation is None or relation.kind != "forward":
                    forward = [n for n, r in model._meta.relations.items() if r.kind == "forward"]
                    raise FieldError(
                        f"select_related({path!r}): {part!r} is not a foreign key or one-to-one "
                        f"field of {model.__name__}; choices: {', '.join(forward) or 'none'}"
                    )
                prefix = f"{prefix}__{part}" if prefix else part
                join = resolver.join(prefix, table, relation, outer)
                table, outer, model = join.table, join.outer, relation.target
                if prefix not in loaded:
                    loaded.append(prefix)
        return self._replace(select_related=tuple(loaded), joins=tuple(resolver.joins.values()))

    def prefetch_related(self, *lookups: Any) -> Self:
        """Load relations with one extra query each after the main one.

        ``prefetch_related("tags", "author__books")``, or
        ``Prefetch("books", queryset=Book.objects.filter(...))`` to shape the related query.
        """
        prefetches = list(self._state.prefetch)
        for lookup in lookups:
            prefetch = lookup if isinstance(lookup, Prefetch) else Prefetch(lookup)
            prefetch.check(self.model)
            prefetches.append(prefetch)
        return self._replace(prefetch=tuple(prefetches))

    def using(self, alias: str) -> Self:
        """Run on the database ``alias`` (checked when the query runs)."""
        return self._replace_shaped(self._same_shape(), using=alias)

    def annotate(self, **annotations: Any) -> Self:
        """Add computed values: ``annotate(n=Count("id"), label=Lower("name"))``."""
        state = self._state
        existing = {a.name for a in state.annotations}
        resolver = state.resolver()
        added = list(state.annotations)
        field_names = {f.name for f in state.model._meta.concrete_fields}
        for name, expression in annotations.items():
            if name in existing or name in field_names:
                raise FieldError(
                    f"annotation {name!r} conflicts with a field or annotation of that name"
                )
            if not isinstance(expression, (Expression, ColumnElement)):
                raise FieldError(f"annotate({name}=...) needs an expression, got {expression!r}")
            element = (
                expression.resolve(resolver) if isinstance(expression, Expression) else expression
            )
            is_aggregate = bool(getattr(expression, "contains_aggregate", False))
            added.append(Annotation(name, element, is_aggregate))
            resolver.annotations = {a.name: a for a in added}
        selected = state.selected
        if selected is not None:
            selected = (*selected, *annotations)
        return self._replace(
            annotations=tuple(added), selected=selected, joins=tuple(resolver.joins.values())
        )

    def _select(self, names: Sequence[str], kind: str) -> Any:
        state = self._raw if shapes.local_names(self._raw, names) else self._state
        if not names:
            meta = state.model._meta
            names = tuple(f.name for f in meta.concrete_fields) + tuple(
                a.name for a in state.annotations
            )
        resolver = state.resolver()
        for name in names:
            resolver.resolve_ref(name)  # validates the name (FieldError lists the choices)
        return self._replace_shaped(
            shapes.with_call(state, "select", tuple(names), kind),
            selected=tuple(names),
            result_kind=kind,
            joins=tuple(resolver.joins.values()),
        )

    def values(self, *fields: str) -> QuerySet[M, dict[str, Any]]:
        """Rows as dicts of the named fields (all fields when none are named)."""
        return self._select(fields, DICTS)

    def values_list(
        self, *fields: str, flat: bool = False, named: bool = False
    ) -> QuerySet[M, Any]:
        """Rows as tuples; ``flat=True`` with one field gives plain values, ``named=True`` namedtuples."""
        if flat and named:
            raise TypeError("values_list() takes flat or named, not both")
        if flat and len(fields) != 1:
            raise TypeError("values_list(flat=True) takes exactly one field")
        return self._select(fields, FLAT if flat else NAMED if named else TUPLES)

    @overload
    def __getitem__(self, key: slice) -> Self: ...
    @overload
    def __getitem__(self, key: int) -> Coroutine[Any, Any, R]: ...
    def __getitem__(self, key: int | slice) -> Any:
        """``qs[10:20]`` is a QuerySet with LIMIT/OFFSET; ``await qs[3]`` is one object."""
        state = self._raw
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise TypeError("QuerySet slicing does not support a step")
            start, stop = key.start or 0, key.stop
            if start < 0 or (stop is not None and stop < 0):
                raise TypeError("QuerySet slicing does not support negative indexes")
            low = state.low + start
            high = state.high
            if stop is not None:
                high = state.low + stop if high is None else min(high, state.low + stop)
            if high is not None and high < low:
                high = low
            return self._replace_shaped(self._same_shape(), low=low, high=high)
        if not isinstance(key, int):
            raise TypeError(
                f"QuerySet indexes must be integers or slices, not {type(key).__name__}"
            )
        if key < 0:
            raise TypeError("QuerySet indexing does not support negative indexes")
        return self._index(key)

    async def _index(self, index: int) -> R:
        rows = await self[index : index + 1]._fetch()
        if not rows:
            raise IndexError("QuerySet index out of range")
        return rows[0]

    # -- running ----------------------------------------------------------------------------

    async def _fetch(self) -> list[R]:
        state = self._raw
        if state.result_cache is not None:
            return list(state.result_cache)
        if state.empty:
            return []
        alias = self._read_alias()
        shaped = shapes.select(self)
        if shaped is not None:
            stmt, names, params = shaped
            result = await self._executor.execute(alias, stmt, params)
        else:
            state = self._state
            columns, names = selected_columns(state)
            stmt = build_select(state, columns).execution_options(**_READS_ROWS)
            result = await self._executor.execute(alias, stmt)
        rows, processors = hydrate.fetch_all(result)
        return await self._materialise(names, rows, alias, processors)

    async def _materialise(
        self,
        names: tuple[str, ...],
        rows: Sequence[Any],
        alias: str,
        processors: hydrate.Processors = None,
    ) -> list[R]:
        """Rows (with their columns' result ``processors`` still to apply, if any) to
        results, with select_related objects attached and prefetches run."""
        state = self._raw  # none of what is read here depends on the pending filters
        model, kind = state.model, state.result_kind
        with hydrate.collector_paused(len(rows)):
            if state.select_related and kind == MODELS:
                objs = hydrate.with_related(
                    model, names, state.select_related, rows, alias, processors
                )
            else:
                objs = hydrate.convert(kind, model, names, rows, alias, processors)
        if state.prefetch and kind == MODELS:
            await prefetch_objects(objs, state.prefetch, alias)
        return objs

    def __await__(self) -> Generator[Any, None, list[R]]:
        return self._fetch().__await__()

    async def __aiter__(self) -> AsyncIterator[R]:
        for item in await self._fetch():
            yield item

    async def iterator(self, chunk_size: int = 1000) -> AsyncIterator[R]:
        """Stream results ``chunk_size`` rows at a time instead of loading them all."""
        state = self._state
        if state.empty:
            return
        alias = self._read_alias()
        columns, names = selected_columns(state)
        stmt = build_select(state, columns)
        async for rows in self._executor.stream(alias, stmt, chunk_size):
            for item in await self._materialise(names, rows, alias):
                yield item

    async def count(self) -> int:
        """Number of matching rows (``SELECT COUNT(*)``)."""
        raw = self._raw
        if raw.result_cache is not None:
            return len(raw.result_cache)
        if raw.empty:
            return 0
        alias = self._read_alias()
        shaped = shapes.select(self, shapes.COUNT)
        if shaped is not None:
            stmt, _, params = shaped
            return int((await self._executor.execute(alias, stmt, params)).scalar_one())
        stmt = count_select(self._state).execution_options(**_READS_ROWS)
        return int((await self._executor.execute(alias, stmt)).scalar_one())

    async def exists(self) -> bool:
        """Whether any row matches (``SELECT 1 … LIMIT 1``)."""
        raw = self._raw
        if raw.result_cache is not None:
            return bool(raw.result_cache)
        if raw.empty:
            return False
        alias = self._read_alias()
        shaped = shapes.select(self, shapes.EXISTS)
        if shaped is not None:
            stmt, _, params = shaped
            return (await self._executor.execute(alias, stmt, params)).first() is not None
        state = self._state
        high = state.low + 1 if state.high is None else min(state.high, state.low + 1)
        probe = state.replace(ordering=(), reverse=False, high=high)
        stmt = build_select(probe, [sa.literal_column("1")]).execution_options(**_READS_ROWS)
        return (await self._executor.execute(alias, stmt)).first() is not None

    async def get(self, *args: Any, **kwargs: Any) -> R:
        """The one matching row; ``Model.DoesNotExist`` / ``Model.MultipleObjectsReturned`` otherwise."""
        cls = type(self)
        by_pk = (
            _get_by_pk(self._raw, kwargs)
            # a custom QuerySet's own filter() or _fetch() must see the call
            if not args and len(kwargs) == 1 and cls.filter is _FILTER and cls._fetch is _FETCH
            else None
        )
        if by_pk is not None:
            stmt, names, value = by_pk
            alias = self._read_alias()
            result = await self._executor.execute(alias, stmt, writes.pk_params(value))
            found, processors = hydrate.fetch_all(result)
            rows = await self._materialise(names, found, alias, processors)
        else:
            qs = self.filter(*args, **kwargs) if args or kwargs else self
            if not qs._raw.is_sliced:
                # as order_by()[:_GET_LIMIT], so that the shape replays it
                qs = qs._replace_shaped(
                    shapes.with_call(qs._raw, "order_by", ()),
                    ordering=(),
                    reverse=False,
                    high=_GET_LIMIT,
                )
            rows = await qs._fetch()
        model = self.model
        if not rows:
            raise model.DoesNotExist(  # type: ignore[attr-defined]
                f"{model.__name__} matching query does not exist ({_describe(args, kwargs)})"
            )
        if len(rows) > 1:
            raise model.MultipleObjectsReturned(  # type: ignore[attr-defined]
                f"get() returned more than one {model.__name__} ({_describe(args, kwargs)}); "
                f"add filters or use filter()/first()"
            )
        return rows[0]

    def _ordered(self) -> Self:
        if self._state.ordering is None and not self.model._meta.ordering:  # type: ignore[attr-defined]
            return self.order_by("pk")
        return self

    async def first(self) -> R | None:
        """The first row (by the QuerySet's ordering, else by pk), or ``None``."""
        rows = await self._ordered()[:1]._fetch()
        return rows[0] if rows else None

    async def last(self) -> R | None:
        """The last row (by the QuerySet's ordering, else by pk), or ``None``."""
        rows = await self._ordered().reverse()[:1]._fetch()
        return rows[0] if rows else None

    async def aggregate(self, **aggregates: Any) -> dict[str, Any]:
        """Aggregate over the matching rows: ``aggregate(n=Count("id"), avg=Avg("price"))``."""
        if not aggregates:
            raise TypeError("aggregate() needs at least one aggregate, e.g. n=Count('id')")
        state = self._state
        resolver = state.resolver()
        labelled = []
        for name, aggregate in aggregates.items():
            if not getattr(aggregate, "contains_aggregate", False):
                raise TypeError(
                    f"aggregate({name}=...) is not an aggregate expression: {aggregate!r}"
                )
            labelled.append(aggregate.resolve(resolver).label(name))
        if state.is_sliced or state.distinct or state.has_aggregate or state.selected is not None:
            # Aggregate over the rows the QuerySet would return, not the whole table.
            inner = build_select(state).subquery("flash_agg")
            outer = {c.name: c for c in inner.c}
            labelled = [
                aggregate.resolve(_SubqueryResolver(outer, resolver)).label(name)
                for name, aggregate in aggregates.items()
            ]
            stmt = sa.select(*labelled).select_from(inner)
        else:
            # The aggregates may follow relations (Count("books")): join what they added.
            joined = state.replace(joins=tuple(resolver.joins.values()))
            stmt = sa.select(*labelled).select_from(from_clause(joined))
            if state.where:
                stmt = stmt.where(*state.where)
            if state.empty:
                stmt = stmt.where(sa.false())
        row = (await self._executor.execute(self._read_alias(), stmt)).one()
        return dict(zip(aggregates, row, strict=True))

    async def in_bulk(
        self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk"
    ) -> dict[Any, M]:
        """``{value: obj}`` for the given pks (or values of a unique ``field_name``)."""
        meta = self._state.model._meta
        field = meta.pk if field_name == "pk" else meta.get_field(field_name)
        if field_name != "pk" and not (field.unique or field.primary_key):
            raise FieldError(f"in_bulk() needs a unique field; {field_name!r} is not unique")
        qs: QuerySet[M, Any] = self
        if id_list is not None:
            ids = list(id_list)
            if not ids:
                return {}
            qs = self.filter(**{f"{field_name}__in": ids})
        objs = await qs._replace(result_kind=MODELS, selected=None)._fetch()
        return {obj.__dict__[field.attname]: obj for obj in objs}

    def sql(self, alias: str | None = None) -> str:
        """The SQL this QuerySet would run, for the default database's dialect (or ``alias``)."""
        dialect = self._executor.dialect(alias)
        stmt = build_select(self._state)
        try:
            return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        except (sa.exc.CompileError, NotImplementedError, TypeError):
            return str(stmt.compile(dialect=dialect))

    # -- writes -----------------------------------------------------------------------------

    async def update(self, **values: Any) -> int:
        """UPDATE the matching rows; returns the number matched. Sends no signals."""
        if not values:
            raise TypeError("update() needs at least one field=value")
        state = self._state
        if state.empty:
            return 0
        meta = state.model._meta
        resolver = state.resolver()
        assignments: dict[str, Any] = {}
        for name, value in values.items():
            field = meta.get_field(name)
            if isinstance(value, Expression):
                value = value.resolve(resolver)
            elif field.is_relation and value is not None:
                value = resolver.value(value)  # an instance stands for its key
            assignments[field.attname] = value
        stmt = sa.update(meta.table).where(*write_filter(state)).values(assignments)
        result = await self._executor.execute(self._write_alias(), stmt)
        return int(result.rowcount)

    async def delete(self) -> int:
        """DELETE the matching rows (honours slicing) with their ``on_delete`` consequences.

        Returns the number of rows of this model deleted.
        """
        if self._state.empty:
            return 0
        return await self.model._delete_queryset(self)  # type: ignore[attr-defined]

    async def _delete_plain(self) -> int:
        """One DELETE statement (no relation needs the ORM to act first)."""
        state = self._state
        meta = state.model._meta
        stmt = sa.delete(meta.table).where(*write_filter(state))
        result = await self._executor.execute(self._write_alias(), stmt)
        return int(result.rowcount)

    async def create(self, **kwargs: Any) -> M:
        """Build an instance from ``kwargs``, save it (INSERT) and return it."""
        obj = self.model(**kwargs)
        await obj.save(force_insert=True, using=self._state.using)  # type: ignore[attr-defined]
        return obj

    async def get_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[M, bool]:
        """``(obj, created)``: the row matching ``kwargs``, else a new one from ``kwargs`` + ``defaults``.

        Safe under concurrency when the lookup fields are unique: the INSERT runs in
        a savepoint, and if another task created the row first (IntegrityError),
        that row is fetched and returned. Without a unique constraint on the
        lookup fields, concurrent calls can create duplicates.
        """
        model: Any = self.model
        if defaults:
            writes.check_defaults(model, defaults, "get_or_create(defaults=...)")
        alias = self._write_alias()
        qs: Any = self.using(alias)
        try:
            return await qs.get(**kwargs), False
        except model.DoesNotExist:
            pass
        params = {k: v for k, v in kwargs.items() if "__" not in k}
        params.update(defaults or {})
        try:
            async with self._executor.transaction(alias):
                return await qs.create(**params), True
        except IntegrityError:
            try:
                return await qs.get(**kwargs), False
            except model.DoesNotExist:
                pass
            raise

    async def update_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[M, bool]:
        """``(obj, created)``: update the row matching ``kwargs`` with ``defaults``, or create it.

        The row is locked (``SELECT … FOR UPDATE``) while it is updated; creation
        is race-safe as in :meth:`get_or_create`.
        """
        model: Any = self.model
        if defaults:
            writes.check_defaults(model, defaults, "update_or_create(defaults=...)")
        alias = self._write_alias()
        qs: Any = self.using(alias)
        executor = self._executor
        # Concurrent locking reads of a missing row can deadlock (MySQL's gap locks);
        # the server then aborts one transaction, which is retried when it is ours.
        attempts = 1 if executor.in_transaction(alias) else _CONFLICT_RETRIES
        for attempt in range(attempts):
            try:
                async with executor.transaction(alias):
                    try:
                        obj: Any = await qs.select_for_update().get(**kwargs)
                    except model.DoesNotExist:
                        obj, created = await qs.get_or_create(defaults, **kwargs)
                        if created:
                            return obj, True
                    for name, value in (defaults or {}).items():
                        setattr(obj, name, value)
                    await obj.save(using=alias)
                    return obj, False
            except TransactionConflict:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
        raise AssertionError("unreachable")

    def select_for_update(self) -> Self:
        """Lock the selected rows until the end of the transaction (``FOR UPDATE``).

        Use it inside ``atomic()``. SQLite has no row locks (its transactions
        lock the database), so there it changes nothing.
        """
        return self._replace(for_update=True)

    async def bulk_create(
        self,
        objs: Iterable[M],
        batch_size: int | None = None,
        *,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Sequence[str] | None = None,
        unique_fields: Sequence[str] | None = None,
    ) -> list[M]:
        """INSERT many objects in batches, in one transaction; pks are set on the objects.

        No validation and no signals (documented). With ``ignore_conflicts``
        the pks of the objects are not set.
        """
        objs = list(objs)
        if not objs:
            return objs
        if ignore_conflicts and update_conflicts:
            raise TypeError("bulk_create() takes ignore_conflicts or update_conflicts, not both")
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch_size must be a positive integer")
        model: Any = self.model
        if update_conflicts:
            if not update_fields:
                raise TypeError("update_conflicts=True needs update_fields=[...]")
            writes.check_field_names(model, update_fields, "bulk_create(update_fields=...)")
            for name in unique_fields or ():
                model._meta.get_field(name)
        for obj in objs:
            if type(obj) is not model:
                raise TypeError(f"bulk_create() on {model.__name__} got a {type(obj).__name__}")
        alias = self._write_alias()
        async with self._executor.transaction(alias):
            await writes.bulk_insert(
                self._executor,
                alias,
                model,
                objs,
                batch_size=batch_size,
                ignore_conflicts=ignore_conflicts,
                update_conflicts=update_conflicts,
                update_fields=[model._meta.get_field(n).attname for n in update_fields or ()],
                unique_fields=[model._meta.get_field(n).attname for n in unique_fields or ()],
            )
        return objs

    async def bulk_update(
        self, objs: Iterable[M], fields: Sequence[str], batch_size: int | None = None
    ) -> int:
        """UPDATE ``fields`` of many saved objects, one statement per batch; returns rows matched."""
        objs = list(objs)
        if not fields:
            raise TypeError("bulk_update() needs the names of the fields to update")
        model: Any = self.model
        field_objs = writes.check_field_names(model, fields, "bulk_update()")
        if not objs:
            return 0
        if any(obj.__dict__.get(model._meta.pk.attname) is None for obj in objs):
            raise ValueError("bulk_update() needs objects that have a primary key (saved objects)")
        alias = self._write_alias()
        async with self._executor.transaction(alias):
            return await writes.bulk_update(
                self._executor, alias, model, objs, field_objs, batch_size
            )

    def __iter__(self) -> Any:
        raise TypeError(
            f"QuerySet of {self.model.__name__} is async: use 'async for' or 'await qs', not 'for'"
        )

    def __repr__(self) -> str:
        return f"<QuerySet of {self.model.__name__}; .sql() shows its SQL>"


class _SubqueryResolver:
    """Resolves names to the columns of a derived table (aggregate over a sliced QuerySet)."""

    def __init__(self, columns: Mapping[str, Any], fallback: Any) -> None:
        self.columns = columns
        self.fallback = fallback

    def resolve_ref(self, name: str) -> Any:
        column = self.columns.get(name)
        if column is None:
            field = self.fallback.field(name) if name not in self.fallback.annotations else None
            column = self.columns.get(field.attname if field is not None else name)
        if column is None:
            raise FieldError(f"cannot aggregate over {name!r}: not selected by this QuerySet")
        return column

    def resolve_q(self, q: Any) -> Any:
        raise NotSupportedError(
            "aggregate filter= is not supported over a sliced or values() QuerySet"
        )


_FILTER = QuerySet.filter
#: marks the SELECTs whose results are read only through DriverResult's API
_READS_ROWS = {READS_ROWS: True}
_FETCH = QuerySet._fetch

#: pk value types whose ``pk=value`` filter is exactly ``pk_column == value`` (no instance,
#: expression or QuerySet to resolve, no ``IS NULL``)
_PLAIN_PK_VALUES = (int, str)


def _get_by_pk(state: QueryState, kwargs: Mapping[str, Any]) -> tuple[Any, Any, Any] | None:
    """``(statement, names, value)`` for ``get(pk=value)`` on an unfiltered QuerySet.

    The SELECT (``WHERE pk = :flash_pk_ LIMIT 2``) is built once per model: building
    the filter and the statement per call cost ~150 µs, as much as the query itself.
    The value is converted as ``filter(pk=value)`` converts it (``FieldError`` for a bad
    one): bound as it is, ``"70abc"`` would find row 70 on MariaDB, which casts the
    string to a number, and fail with a DataError on PostgreSQL.
    """
    ((key, value),) = kwargs.items()
    model = state.model
    pk = model._meta.pk
    if (
        type(value) not in _PLAIN_PK_VALUES
        or key not in ("pk", pk.name, pk.attname)
        or not is_unfiltered(state)
    ):
        return None
    value = Resolver.prepare(key, pk, value)
    table = model._meta.table

    def build() -> Any:
        base = QueryState(
            model=model,
            where=(writes.pk_param(table, pk.attname),),
            ordering=(),
            high=_GET_LIMIT,
        )
        columns, names = selected_columns(base)
        return build_select(base, columns), names

    stmt, names = writes.cached_statement(table, ("get", model), build)
    return stmt, names, value


def _resolve_pending(cls: type[QuerySet[Any, Any]], state: QueryState) -> QueryState:
    """``state`` with its pending ``filter()`` / ``exclude()`` calls resolved to
    conditions, in their order, as each call would have resolved them at once (they
    came before any call that adds a join; the shape stays)."""
    qs = cls(state.model, state.replace(pending=(), shape=None))
    where, having, joins = state.where, state.having, state.joins
    for negate, items in state.pending:
        where, having, joins = qs._conditions(negate, (), dict(items))
        qs = cls(state.model, qs._raw.replace(where=where, having=having, joins=joins))
    return state.replace(
        where=where,
        having=having,
        joins=joins,
        pending=(),
        shape=state.shape,
        shape_values=state.shape_values,
    )


def _describe(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return ", ".join(parts) or "no filters"
