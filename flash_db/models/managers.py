"""Managers of related objects: ``author.books`` and ``book.tags``.

``author.books`` is a manager over the books whose ``author_id`` is the
author's pk; ``book.tags`` is one over the tags linked through the join
table, with ``add`` / ``remove`` / ``set`` / ``clear``. Both serve results
loaded by ``prefetch_related`` without a query::

    books = await author.books.filter(price__gt=5)
    await book.tags.add(python, sql)
    authors = await Author.objects.prefetch_related("books")
    await authors[0].books.all()          # no query
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import BinaryExpression

from .. import signals
from ..exceptions import RelationNotLoaded
from ..query import Manager, QuerySet, get_executor
from ..query.prefetch import PREFETCHED
from ..query.prefetched import PrefetchedQuerySet
from ..query.relations import Relation


def _key(instance: Any, attname: str, relation: Relation) -> Any:
    value = instance.__dict__.get(attname)
    if value is None:
        raise ValueError(
            f"{type(instance).__name__}.{relation.name} needs a saved "
            f"{type(instance).__name__} (it has no {attname} yet); save() it first"
        )
    return value


#: column types whose ``==`` binds the value with the column's own type, unchanged
_PLAIN_KEY_TYPES = (sa.Integer, sa.BigInteger, sa.SmallInteger, sa.String)


def _equals(column: Any, value: Any) -> Any:
    """``column == value``; for integer and string keys built directly, at a third of the
    cost of SQLAlchemy's operator dispatch (which matters once per related manager)."""
    if type(column.type) in _PLAIN_KEY_TYPES:
        bind = sa.bindparam(column.key, value, type_=column.type, unique=True)
        return BinaryExpression(column, bind, operators.eq)
    return column == value


def _plain_manager(manager: Any) -> bool:
    """Whether ``manager`` hands out plain, unfiltered QuerySets (no custom class or
    ``get_queryset()``), which :class:`PrefetchedQuerySet` can stand in for."""
    return (
        type(manager).get_queryset is Manager.get_queryset and manager._queryset_class is QuerySet
    )


class _BoundManager(Manager[Any]):
    """A manager bound to one instance and one relation."""

    def __init__(self, instance: Any, relation: Relation) -> None:
        super().__init__()
        self.instance = instance
        self.relation = relation
        self.model = relation.target
        self.name = relation.name

    def _cached(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        """``qs`` holding the prefetched rows, if this relation was prefetched."""
        cached = self.instance.__dict__.get(PREFETCHED, {}).get(self.relation.name)
        if cached is None:
            return qs
        return qs._replace(result_cache=cached)

    def _base(self) -> QuerySet[Any]:
        qs: QuerySet[Any] = self.relation.target.objects.all()
        alias = self.instance.__dict__.get("_db")
        return qs._replace(using=alias) if alias else qs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {type(self.instance).__name__}.{self.relation.name}>"


class RelatedManager(_BoundManager):
    """The reverse side of a foreign key: ``author.books``."""

    def get_queryset(self) -> QuerySet[Any]:
        step = self.relation.steps[0]
        key = _key(self.instance, step.left_attname, self.relation)
        cached = self.instance.__dict__.get(PREFETCHED, {}).get(self.relation.name)
        if cached is None:
            return self._base().filter(**{self.relation.field.attname: key})
        target = self.relation.target
        if _plain_manager(target.objects):
            # Served from the prefetch: the QuerySet (state, bound condition: ~15 µs)
            # is built only if something other than reading the rows asks for it.
            return PrefetchedQuerySet(target, cached, lambda: self._prefetched(key, cached))
        return self._prefetched(key, cached)

    def _prefetched(self, key: Any, cached: tuple[Any, ...]) -> QuerySet[Any]:
        """The relation's QuerySet holding the prefetched rows ``cached``."""
        fk = self.relation.field
        qs: QuerySet[Any] = self.relation.target.objects.all()
        state = qs._state
        if state.is_sliced:
            return self._cached(self._base().filter(**{fk.attname: key}))
        # The condition built directly (the SQL that filter(item_id=key) compiles to)
        # rather than through the resolver (~60 µs); it stays in the state, for a
        # filter() chained on it.
        column = fk.model._meta.table.c[fk.attname]
        return qs._replace(
            where=(*state.where, _equals(column, key)),
            using=self.instance.__dict__.get("_db") or state.using,
            result_cache=cached,
        )

    async def create(self, **kwargs: Any) -> Any:
        """Create a related object pointing at this instance: ``author.books.create(title="X")``."""
        _key(self.instance, self.relation.steps[0].left_attname, self.relation)
        kwargs[self.relation.field.name] = self.instance
        return await self._base().create(**kwargs)

    async def get_or_create(self, defaults: Any = None, **kwargs: Any) -> tuple[Any, bool]:
        _key(self.instance, self.relation.steps[0].left_attname, self.relation)
        kwargs[self.relation.field.name] = self.instance
        return await self._base().get_or_create(defaults, **kwargs)


class ManyRelatedManager(_BoundManager):
    """Either side of a many-to-many relation: ``book.tags`` / ``tag.books``."""

    def __init__(self, instance: Any, relation: Relation) -> None:
        super().__init__(instance, relation)
        to_through, to_target = relation.steps
        self.through_table = to_through.target._meta.table
        self.through_model = to_through.target
        self.source_column = self.through_table.c[to_through.right_attname]
        self.target_column = self.through_table.c[to_target.left_attname]
        self.source_attname = to_through.left_attname
        self.target_attname = to_target.right_attname

    def _source_key(self) -> Any:
        return _key(self.instance, self.source_attname, self.relation)

    def get_queryset(self) -> QuerySet[Any]:
        linked = sa.select(self.target_column).where(self.source_column == self._source_key())
        target_field = self.relation.target._meta.get_field(self.target_attname)
        return self._cached(self._base().filter(**{f"{target_field.name}__in": linked}))

    def _target_keys(self, objs: Iterable[Any]) -> list[Any]:
        keys = []
        for obj in objs:
            if isinstance(obj, self.relation.target):
                keys.append(_key(obj, self.target_attname, self.relation))
            else:
                keys.append(obj)  # a raw primary key
        return list(dict.fromkeys(keys))

    def _alias(self) -> str:
        self.through_model._meta.check_writable()
        return get_executor().db_for_write(self.through_model, None, instance=self.instance)

    async def _changed(self, action: str, pk_set: set[Any] | None, alias: str) -> None:
        """Send ``m2m_changed`` (sender: the through model), if anyone listens."""
        await signals.send(
            signals.m2m_changed,
            self.through_model,
            instance=self.instance,
            action=action,
            reverse=self.relation.kind == "m2m_reverse",
            model=self.relation.target,
            pk_set=pk_set,
            using=alias,
        )

    async def add(self, *objs: Any) -> None:
        """Link ``objs`` (instances or pks); links that exist already are left as they are.

        ``m2m_changed`` gets ``pre_add`` / ``post_add`` with the keys actually added.
        """
        keys = self._target_keys(objs)
        if not keys:
            return
        source = self._source_key()
        executor = get_executor()
        alias = self._alias()
        async with executor.transaction(alias):
            existing = await executor.execute(
                alias,
                sa.select(self.target_column).where(
                    self.source_column == source, self.target_column.in_(keys)
                ),
            )
            present = set(existing.scalars())
            missing = [key for key in keys if key not in present]
            await self._changed("pre_add", set(missing), alias)
            # Through-model instances, so that extra fields get their defaults.
            links = [
                self.through_model(**{self.source_column.key: source, self.target_column.key: key})
                for key in missing
            ]
            if links:
                await self.through_model.objects.using(alias).bulk_create(links)
            await self._changed("post_add", set(missing), alias)
        self._forget_prefetched()

    async def remove(self, *objs: Any) -> None:
        """Unlink ``objs`` (instances or pks); ``m2m_changed`` gets ``pre_remove`` / ``post_remove``."""
        keys = self._target_keys(objs)
        if not keys:
            return
        alias = self._alias()
        async with get_executor().transaction(alias):
            await self._changed("pre_remove", set(keys), alias)
            await get_executor().execute(
                alias,
                sa.delete(self.through_table).where(
                    self.source_column == self._source_key(), self.target_column.in_(keys)
                ),
            )
            await self._changed("post_remove", set(keys), alias)
        self._forget_prefetched()

    async def clear(self) -> None:
        """Unlink every related object; ``m2m_changed`` gets ``pre_clear`` / ``post_clear``."""
        alias = self._alias()
        async with get_executor().transaction(alias):
            await self._changed("pre_clear", None, alias)
            await get_executor().execute(
                alias,
                sa.delete(self.through_table).where(self.source_column == self._source_key()),
            )
            await self._changed("post_clear", None, alias)
        self._forget_prefetched()

    async def set(self, objs: Iterable[Any]) -> None:
        """Make ``objs`` exactly the related objects (one transaction)."""
        wanted = self._target_keys(objs)
        executor = get_executor()
        alias = self._alias()
        async with executor.transaction(alias):
            current = await executor.execute(
                alias, sa.select(self.target_column).where(self.source_column == self._source_key())
            )
            present = set(current.scalars())
            stale = [key for key in present if key not in set(wanted)]
            if stale:
                await self.remove(*stale)
            await self.add(*[key for key in wanted if key not in present])
        self._forget_prefetched()

    async def create(self, **kwargs: Any) -> Any:
        """Create a target object and link it."""
        obj = await self._base().create(**kwargs)
        await self.add(obj)
        return obj

    def _forget_prefetched(self) -> None:
        self.instance.__dict__.get(PREFETCHED, {}).pop(self.relation.name, None)


class ReverseManyDescriptor:
    """``author.books``: a :class:`RelatedManager` per instance."""

    def __init__(self, relation: Relation) -> None:
        self.relation = relation

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        return RelatedManager(instance, self.relation)


class ManyRelatedManagerDescriptor:
    """``book.tags`` / ``tag.books``: a :class:`ManyRelatedManager` per instance."""

    def __init__(self, relation: Relation) -> None:
        self.relation = relation

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self.relation.field if self.relation.kind == "m2m" else self
        return ManyRelatedManager(instance, self.relation)


class ReverseOneDescriptor:
    """``user.profile`` for a one-to-one: the object once loaded, else ``RelationNotLoaded``."""

    def __init__(self, relation: Relation) -> None:
        self.relation = relation

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        # Only reached when prefetch/fetch_related has not put the object in __dict__.
        name = self.relation.name
        raise RelationNotLoaded(
            f"{type(instance).__name__}.{name} is not loaded; use prefetch_related({name!r}) "
            f"on the query, or await obj.fetch_related({name!r})"
        )
