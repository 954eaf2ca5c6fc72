"""The generated hydration loops: the same results as ``__dict__``/``zip`` would give,
result processors applied, and the ``__dict__`` path wherever an attribute store
would run other code (a property, a data descriptor, ``__setattr__``, a keyword)."""

from __future__ import annotations

from typing import Any

import pytest

from flash_db.query import hydrate
from flash_db.query.state import DICTS, FLAT, MODELS, NAMED, TUPLES

NAMES = ("id", "name", "flag")
ROWS = [(1, "a", 0), (2, "b", 1), (3, None, None)]


class Plain:
    _db: str | None = None


class WithProperty:
    """``total`` is a read-only property: an annotation of that name must not call it."""

    _db: str | None = None

    @property
    def total(self) -> int:
        return -1


class Guarded:
    """A model of the user's own with a ``__setattr__`` that must not run on load."""

    _db: str | None = None
    calls: list[str] = []

    def __setattr__(self, name: str, value: Any) -> None:
        Guarded.calls.append(name)
        super().__setattr__(name, value)


def as_bool(value: Any) -> Any:
    return None if value is None else bool(value)


def upper(value: Any) -> Any:
    return None if value is None else value.upper()


def expected_dicts(processors: tuple[Any, ...] | None = None) -> list[dict[str, Any]]:
    out = []
    for row in ROWS:
        values = (
            row
            if processors is None
            else [p(v) if p else v for p, v in zip(processors, row, strict=True)]
        )
        out.append(dict(zip(NAMES, values, strict=True)))
    return out


def test_instances_hold_the_row_in_their_dict_in_column_order() -> None:
    objs = hydrate.instances(Plain, NAMES, ROWS, "replica")
    assert [o.__dict__ for o in objs] == [{**d, "_db": "replica"} for d in expected_dicts()]
    assert [list(o.__dict__) for o in objs] == [[*NAMES, "_db"]] * len(ROWS)


def test_processors_apply_to_their_columns_only() -> None:
    processors = (None, upper, as_bool)
    objs = hydrate.instances(Plain, NAMES, ROWS, "default", processors)
    assert [{k: v for k, v in o.__dict__.items() if k != "_db"} for o in objs] == expected_dicts(
        processors
    )
    assert objs[0].__dict__["flag"] is False
    assert hydrate.convert(DICTS, Plain, NAMES, ROWS, "default", processors) == expected_dicts(
        processors
    )
    assert hydrate.convert(TUPLES, Plain, NAMES, ROWS, "default", processors) == [
        (1, "A", False),
        (2, "B", True),
        (3, None, None),
    ]
    assert hydrate.convert(FLAT, Plain, ("name",), [("x",)], "default", (upper,)) == ["X"]
    named = hydrate.convert(NAMED, Plain, NAMES, ROWS, "default", processors)
    assert named[1].name == "B" and named[1].flag is True


@pytest.mark.parametrize("kind", [MODELS, DICTS, TUPLES, FLAT, NAMED])
def test_one_column(kind: str) -> None:
    result = hydrate.convert(kind, Plain, ("id",), [(7,), (8,)], "default")
    first = result[0]
    value = {
        MODELS: lambda: first.__dict__["id"],
        DICTS: lambda: first["id"],
        TUPLES: lambda: first[0],
        FLAT: lambda: first,
        NAMED: lambda: first.id,
    }[kind]()
    assert value == 7 and len(result) == 2


def test_a_read_only_property_is_shadowed_in_the_dict_not_called() -> None:
    objs = hydrate.instances(WithProperty, ("id", "total"), [(1, 10)], "default")
    assert objs[0].__dict__ == {"id": 1, "total": 10, "_db": "default"}


def test_a_models_own_setattr_does_not_run_on_load() -> None:
    Guarded.calls.clear()
    objs = hydrate.instances(Guarded, NAMES, ROWS, "default", (None, upper, None))
    assert Guarded.calls == []
    assert objs[0].__dict__ == {"id": 1, "name": "A", "flag": 0, "_db": "default"}


@pytest.mark.parametrize("name", ["class", "not an identifier", "2nd"])
def test_names_that_cannot_be_written_in_source(name: str) -> None:
    objs = hydrate.instances(Plain, ("id", name), [(1, "x")], "default")
    assert objs[0].__dict__ == {"id": 1, name: "x", "_db": "default"}
    assert hydrate.convert(DICTS, Plain, ("id", name), [(1, "x")], "default") == [
        {"id": 1, name: "x"}
    ]


def test_a_dict_key_with_quotes_is_kept_as_it_is() -> None:
    name = 'it\'s "quoted"\n'
    assert hydrate.convert(DICTS, Plain, (name,), [(1,)], "default") == [{name: 1}]


def test_repeated_names_keep_the_last_value_as_zip_would() -> None:
    objs = hydrate.instances(Plain, ("id", "id"), [(1, 2)], "default")
    assert objs[0].__dict__["id"] == 2
    assert hydrate.convert(DICTS, Plain, ("id", "id"), [(1, 2)], "default") == [{"id": 2}]


def test_processors_of_another_width_are_refused() -> None:
    with pytest.raises(ValueError, match="2 result processors for rows of 3 values"):
        hydrate.instances(Plain, NAMES, ROWS, "default", (None, upper))


def test_rows_of_no_columns() -> None:
    assert hydrate.convert(DICTS, Plain, (), [(), ()], "default") == [{}, {}]
    objs = hydrate.instances(Plain, (), [()], "replica")
    assert objs[0].__dict__ == {"_db": "replica"}
