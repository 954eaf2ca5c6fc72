"""Table-level constraints and indexes for ``Meta.constraints`` / ``Meta.indexes``.

Example::

    from flash_db import Index, Q
    from flash_db.constraints import CheckConstraint, UniqueConstraint

    class Book(Model):
        ...
        class Meta:
            indexes = [Index(fields=["title", "-price"])]
            constraints = [
                CheckConstraint(Q(price__gte=0), name="book_price_nonneg"),
                UniqueConstraint(fields=["title", "author"], name="book_title_author_uniq"),
            ]

Conditions are written with ``Q`` and compiled for each backend's DDL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from .exceptions import ConfigurationError
from .query.resolver import Resolver


class BaseConstraint:
    """A named constraint that becomes part of the model's SQLAlchemy ``Table``."""

    def __init__(self, *, name: str) -> None:
        if not name:
            raise ConfigurationError(f"{type(self).__name__} needs a name= (used to drop it later)")
        self.name = name

    def to_sqlalchemy(self, model: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class CheckConstraint(BaseConstraint):
    """``CHECK (<condition>)``; the condition is a ``Q`` or a SQLAlchemy expression."""

    def __init__(self, condition: Any, *, name: str) -> None:
        super().__init__(name=name)
        self.condition = condition

    def to_sqlalchemy(self, model: Any) -> sa.CheckConstraint:
        condition = Resolver(model).resolve_q(self.condition)
        return sa.CheckConstraint(condition, name=self.name)


class UniqueConstraint(BaseConstraint):
    """``UNIQUE (fields…)`` across several columns."""

    def __init__(self, *, fields: Sequence[str], name: str) -> None:
        super().__init__(name=name)
        if not fields:
            raise ConfigurationError("UniqueConstraint needs fields=[...]")
        self.fields = tuple(fields)

    def to_sqlalchemy(self, model: Any) -> sa.UniqueConstraint:
        meta = model._meta
        return sa.UniqueConstraint(
            *(meta.get_field(f).column_name for f in self.fields), name=self.name
        )


class Index:
    """An index over one or more fields; ``"-name"`` makes that column descending."""

    def __init__(
        self, *, fields: Sequence[str], name: str | None = None, unique: bool = False
    ) -> None:
        if not fields:
            raise ConfigurationError("Index needs fields=[...]")
        self.fields = tuple(fields)
        self.name = name
        self.unique = unique

    def to_sqlalchemy(self, model: Any) -> sa.Index:
        meta = model._meta
        table = meta.table
        columns: list[Any] = []
        for spec in self.fields:
            field = meta.get_field(spec.lstrip("-"))
            column = table.c[field.attname]
            columns.append(column.desc() if spec.startswith("-") else column)
        plain = "_".join(meta.get_field(s.lstrip("-")).column_name for s in self.fields)
        name = self.name or f"ix_{meta.table_name}_{plain}"
        return sa.Index(name, *columns, unique=self.unique)


__all__ = ["BaseConstraint", "CheckConstraint", "Index", "UniqueConstraint"]
