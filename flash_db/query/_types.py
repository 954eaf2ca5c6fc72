"""What the query layer needs to know about a model, as protocols.

The query layer sits below ``flash_db.models`` (which imports it), so it
describes models structurally instead of importing the ``Model`` class.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa

from ..fields import Field
from .relations import Relation


class OptionsLike(Protocol):
    """The parts of a model's ``_meta`` (``flash_db.models.Options``) the query layer reads."""

    @property
    def table(self) -> sa.Table: ...

    label: str
    table_name: str
    object_name: str
    pk: Field[Any]
    concrete_fields: tuple[Field[Any], ...]
    attnames: tuple[str, ...]
    columns: tuple[sa.Column[Any], ...]
    ordering: tuple[str, ...]
    database: str | None
    relations: dict[str, Relation]

    def get_field(self, name: str) -> Field[Any]: ...

    def has_field(self, name: str) -> bool: ...


class ModelLike(Protocol):
    """A model class as the query layer sees it."""

    _meta: OptionsLike
    __name__: str
    DoesNotExist: type[Exception]
    MultipleObjectsReturned: type[Exception]
