"""``Meta.ordering`` is checked when the model class is defined, not at its first query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from flash_db import F, Model, fields, metadata, registry
from flash_db.exceptions import ConfigurationError

from .helpers import compiled


def define(name: str, ordering: Any, /, **attrs: Any) -> type[Model]:
    meta = type(
        "Meta", (), {"app_label": "unit", "table": f"unit_{name.lower()}", "ordering": ordering}
    )
    namespace = {
        "__module__": __name__,
        "__qualname__": f"test.<locals>.{name}",
        "Meta": meta,
        **attrs,
    }
    return type(Model)(name, (Model,), namespace)  # type: ignore[no-any-return]


@pytest.fixture
def defined() -> Iterator[list[type[Model]]]:
    """Models appended here are removed from the registry and the MetaData afterwards."""
    models: list[type[Model]] = []
    yield models
    for model in models:
        registry.unregister(model)
        table = metadata.tables.get(model._meta.table_name)
        if table is not None:
            metadata.remove(table)


def test_unknown_field_fails_at_definition_naming_the_choices() -> None:
    with pytest.raises(ConfigurationError) as caught:
        define("Misordered", ["-nmae"], name=fields.CharField(max_length=10))
    assert str(caught.value) == (
        "Misordered.Meta.ordering names unknown field 'nmae' (in '-nmae'); choices: pk, id, name"
    )
    assert "unit.Misordered" not in registry
    assert "unit_misordered" not in metadata.tables


def test_unknown_relation_path_start_fails() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown field 'writer' \(in 'writer__name'\)"):
        define("BadPath", ["writer__name"], title=fields.CharField(max_length=10))


def test_what_ordering_accepts_today_is_still_accepted(defined: list[type[Model]]) -> None:
    parent = define("OrdParent", ["name"], name=fields.CharField(max_length=10))
    defined.append(parent)
    child = define(
        "OrdChild",
        ["-title", "+title", "parent__name", "parent_id", "pk", "?", F("title").desc()],
        title=fields.CharField(max_length=10),
        parent=fields.ForeignKey(parent, on_delete=fields.CASCADE),
    )
    defined.append(child)
    assert child._meta.ordering[:3] == ("-title", "+title", "parent__name")
    # the query resolves the relation path the definition could only start to check
    sql, _ = compiled(child.objects.order_by("parent__name"), "sqlite")
    assert "JOIN unit_ordparent" in sql and sql.endswith("ORDER BY parent.name ASC")
