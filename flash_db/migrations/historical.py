"""Models as they were at a revision: built from the schema a data migration runs against.

A data migration must not import the project's models: they describe the
schema as it is *now*, and a column added three revisions later would make
an old migration's SELECT fail. ``historical_models(connection)`` reflects the
tables as they are at that point of the migration history (the earlier
revisions have run) and builds model classes for them in a registry of their
own, bound to the database being migrated::

    models = historical_models(sync_conn, alias="default")
    Author = models["Author"]           # by class name, table name or project label
    await Author.objects.filter(slug=None).update(slug=Lower("name"))

What reflection cannot know is not there: Python-side defaults, validators,
choices, custom managers and methods, related names (reverse accessors are
named after the table, e.g. ``author.book_set``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..models import Model, ModelBase, Registry, registry
from .autogen import VERSION_TABLE_PREFIX
from .introspection import ModelSpec, inspect_schema

APP_LABEL = "historical"


class HistoricalModels(Mapping[str, Any]):
    """The models of one schema state, by class name (``models["Author"]`` or ``models.Author``),
    table name (``models["author"]``) or the project's label (``models["blog.Author"]``)."""

    def __init__(self, models: Registry, alias: str) -> None:
        self.registry = models
        self.alias = alias
        self._by_name: dict[str, Any] = {}
        for model in models:
            if getattr(model._meta, "auto_created", False):
                continue
            self._by_name[model.__name__] = model
            self._by_name.setdefault(model._meta.table_name, model)

    def __getitem__(self, name: str) -> Any:
        found = self._by_name.get(name)
        if found is not None:
            return found
        if "." in name and name in registry:
            # The project's label: the historical model of the same table.
            found = self._by_name.get(registry.get_model(name)._meta.table_name)
            if found is not None:
                return found
        raise KeyError(
            f"no table for {name!r} at this revision; models: {', '.join(sorted(self._by_name))}"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"<HistoricalModels on {self.alias!r}: {', '.join(sorted(self._by_name))}>"


def historical_models(
    sync_conn: sa.Connection, *, alias: str, tables: Sequence[str] | None = None
) -> HistoricalModels:
    """Model classes for the tables of ``sync_conn``'s database as they are now."""
    names = tables
    if names is None:
        names = [
            t
            for t in sa.inspect(sync_conn).get_table_names()
            if not t.startswith(VERSION_TABLE_PREFIX)
        ]
    models = Registry()
    for spec in inspect_schema(sync_conn, names):
        _build(spec, models, alias)
    return HistoricalModels(models, alias)


def _build(spec: ModelSpec, models: Registry, alias: str) -> Any:
    meta: dict[str, Any] = {"table": spec.table, "app_label": APP_LABEL, "database": alias}
    if spec.read_only:
        meta.update(managed=False, read_only=True)
    if spec.unique_together:
        meta["unique_together"] = spec.unique_together
    if spec.indexes:
        meta["indexes"] = spec.indexes
    if spec.constraints:
        meta["constraints"] = spec.constraints
    attrs: dict[str, Any] = {
        "__module__": f"flash_db.migrations.{APP_LABEL}",
        "__qualname__": spec.class_name,
        "Meta": type("Meta", (), meta),
    }
    for field in spec.fields:
        attrs[field.name] = field.build()
    return ModelBase(spec.class_name, (Model,), attrs, registry=models)
