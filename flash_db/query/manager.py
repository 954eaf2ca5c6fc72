"""Managers: ``Model.objects`` and custom managers, as in Django.

A manager is the entry point to QuerySets for a model; every QuerySet method
is reachable through it (``Author.objects.filter(...)``). Custom managers
override ``get_queryset()``; a custom QuerySet class becomes a manager with
``MyQuerySet.as_manager()`` or ``Manager.from_queryset(MyQuerySet)``::

    class PublishedQuerySet(QuerySet):
        def published(self):
            return self.filter(published__isnull=False)

    class Book(Model):
        objects = PublishedQuerySet.as_manager()
        ...

    await Book.objects.published().count()
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, Generic, Self, overload

from typing_extensions import TypeVar

from .queryset import QuerySet

M = TypeVar("M")


class Manager(Generic[M]):
    """The gateway from a model class to its QuerySets."""

    _queryset_class: type[QuerySet[Any, Any]] = QuerySet

    def __init__(self) -> None:
        self.model: type[M] | None = None
        self.name = ""

    def contribute_to_class(self, model: type[M], name: str) -> None:
        self.model = model
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: Any) -> Self: ...
    def __get__(self, instance: Any, owner: Any) -> Self:
        if instance is not None:
            raise AttributeError(
                f"Manager isn't accessible via {owner.__name__} instances; use {owner.__name__}.{self.name}"
            )
        return self

    @classmethod
    def from_queryset(
        cls, queryset_class: type[QuerySet[Any, Any]], class_name: str | None = None
    ) -> type[Manager[Any]]:
        """A Manager subclass whose QuerySets are ``queryset_class`` (its methods reachable here too)."""
        name = class_name or f"{cls.__name__}From{queryset_class.__name__}"
        return type(name, (cls,), {"_queryset_class": queryset_class})

    def get_queryset(self) -> QuerySet[M]:
        """The base QuerySet; override to change what the manager sees."""
        if self.model is None:
            raise AttributeError("this manager is not attached to a model")
        return self._queryset_class(self.model)

    def __getattr__(self, name: str) -> Any:
        # Methods of a custom QuerySet class (from_queryset / as_manager).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.get_queryset(), name)

    def __repr__(self) -> str:
        model = getattr(self.model, "__name__", "?")
        return f"<{type(self).__name__} {model}.{self.name}>"

    # Typed delegation of the QuerySet API.

    def all(self) -> QuerySet[M]:
        return self.get_queryset()

    def none(self) -> QuerySet[M]:
        return self.get_queryset().none()

    def filter(self, *args: Any, **kwargs: Any) -> QuerySet[M]:
        return self.get_queryset().filter(*args, **kwargs)

    def exclude(self, *args: Any, **kwargs: Any) -> QuerySet[M]:
        return self.get_queryset().exclude(*args, **kwargs)

    def order_by(self, *fields: Any) -> QuerySet[M]:
        return self.get_queryset().order_by(*fields)

    def distinct(self) -> QuerySet[M]:
        return self.get_queryset().distinct()

    def select_for_update(self) -> QuerySet[M]:
        return self.get_queryset().select_for_update()

    def select_related(self, *paths: str) -> QuerySet[M]:
        return self.get_queryset().select_related(*paths)

    def prefetch_related(self, *lookups: Any) -> QuerySet[M]:
        return self.get_queryset().prefetch_related(*lookups)

    def using(self, alias: str) -> QuerySet[M]:
        return self.get_queryset().using(alias)

    def annotate(self, **annotations: Any) -> QuerySet[M]:
        return self.get_queryset().annotate(**annotations)

    def values(self, *fields: str) -> QuerySet[M, dict[str, Any]]:
        return self.get_queryset().values(*fields)

    def values_list(
        self, *fields: str, flat: bool = False, named: bool = False
    ) -> QuerySet[M, Any]:
        return self.get_queryset().values_list(*fields, flat=flat, named=named)

    def iterator(self, chunk_size: int = 1000) -> AsyncIterator[M]:
        return self.get_queryset().iterator(chunk_size)

    async def get(self, *args: Any, **kwargs: Any) -> M:
        return await self.get_queryset().get(*args, **kwargs)

    async def first(self) -> M | None:
        return await self.get_queryset().first()

    async def last(self) -> M | None:
        return await self.get_queryset().last()

    async def count(self) -> int:
        return await self.get_queryset().count()

    async def exists(self) -> bool:
        return await self.get_queryset().exists()

    async def aggregate(self, **aggregates: Any) -> dict[str, Any]:
        return await self.get_queryset().aggregate(**aggregates)

    async def in_bulk(
        self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk"
    ) -> dict[Any, M]:
        return await self.get_queryset().in_bulk(id_list, field_name=field_name)

    async def create(self, **kwargs: Any) -> M:
        if type(self).get_queryset is Manager.get_queryset and (
            self._queryset_class.create is QuerySet.create
        ):
            # what QuerySet.create does for the default QuerySet, without building one
            if self.model is None:
                raise AttributeError("this manager is not attached to a model")
            obj = self.model(**kwargs)
            await obj.save(force_insert=True)  # type: ignore[attr-defined]
            return obj
        return await self.get_queryset().create(**kwargs)

    async def get_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[M, bool]:
        return await self.get_queryset().get_or_create(defaults, **kwargs)

    async def update_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[M, bool]:
        return await self.get_queryset().update_or_create(defaults, **kwargs)

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
        return await self.get_queryset().bulk_create(
            objs,
            batch_size,
            ignore_conflicts=ignore_conflicts,
            update_conflicts=update_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )

    async def bulk_update(
        self, objs: Iterable[M], fields: Sequence[str], batch_size: int | None = None
    ) -> int:
        return await self.get_queryset().bulk_update(objs, fields, batch_size)

    async def update(self, **values: Any) -> int:
        return await self.get_queryset().update(**values)

    async def delete(self) -> int:
        return await self.get_queryset().delete()

    def sql(self, alias: str | None = None) -> str:
        return self.get_queryset().sql(alias)


def _as_manager(cls: type[QuerySet[Any, Any]]) -> Manager[Any]:
    """``MyQuerySet.as_manager()``: a manager instance whose QuerySets are ``MyQuerySet``."""
    return Manager.from_queryset(cls)()


QuerySet.as_manager = classmethod(_as_manager)  # type: ignore[attr-defined]
