"""A QuerySet over rows that ``prefetch_related`` already loaded.

``await author.books.all()`` in a loop over prefetched authors needs the rows
only; building the relation's QuerySet (a state and a bound ``author_id =
:key`` condition) for each of them cost more than the two queries that loaded
everything. :class:`PrefetchedQuerySet` holds the rows and a function that
builds the real QuerySet; awaiting, iterating, ``count()`` and ``exists()``
read the rows, and anything else (``filter()``, ``sql()``, ``delete()`` …)
builds the real QuerySet once and works on it, so chaining stays exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from .queryset import M, QuerySet
from .state import QueryState

#: the slot that holds a QuerySet's state (the subclass shadows it with a property)
_STATE_SLOT: Any = QuerySet.__dict__["_raw"]


class PrefetchedQuerySet(QuerySet[M, M]):
    """The prefetched rows of one relation of one instance; the query is built on demand.

    Only used for managers whose QuerySets are plain :class:`QuerySet`: a custom
    QuerySet class's methods would be missing here.
    """

    __slots__ = ("_build", "_model", "_rows")

    def __init__(
        self, model: type[M], rows: tuple[M, ...], build: Callable[[], QuerySet[M, M]]
    ) -> None:
        self._model = model
        self._rows = rows
        self._build = build

    @property
    def _raw(self) -> QueryState:
        try:
            state: QueryState = _STATE_SLOT.__get__(self, type(self))
        except AttributeError:
            state = self._build()._raw
            _STATE_SLOT.__set__(self, state)
        return state

    @_raw.setter
    def _raw(self, state: QueryState) -> None:
        _STATE_SLOT.__set__(self, state)

    @property
    def model(self) -> type[M]:
        return self._model

    def _replace(self, **changes: Any) -> Any:
        # the built QuerySet's own class, not this one (whose __init__ differs)
        return QuerySet(self._model, self._raw)._replace(**changes)

    def all(self) -> Self:
        return self

    async def _fetch(self) -> list[M]:
        return list(self._rows)

    async def count(self) -> int:
        return len(self._rows)

    async def exists(self) -> bool:
        return bool(self._rows)
