"""Rows to results: model instances, dicts, tuples, flat values, named tuples.

Instances are built with ``object.__new__`` and one ``__dict__`` assignment:
no ``__init__``, no per-field Python work. Fields are non-data descriptors,
so attribute reads then hit the instance ``__dict__`` directly. ``_adding``
is left to the class default (False: the row exists) and ``_db`` records the
database alias the row came from.
"""

from __future__ import annotations

import gc
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from .state import DICTS, FLAT, MODELS, NAMED, TUPLES

#: results of at least this many rows are built with the cyclic garbage collector paused
GC_PAUSE_ROWS = 1000


@contextmanager
def collector_paused(rows: int | None = None) -> Iterator[None]:
    """Pause the cyclic garbage collector while ``rows`` rows (``None``: a buffered
    result of unknown size) become rows or results.

    Building 20,000 instances allocates 40,000 tracked objects (each with its
    ``__dict__``): the collector would run some sixty young collections in the
    middle, each walking the rows just fetched as well, and often a full one
    (measured: 57 ms to hydrate 22,500 PostgreSQL rows, 20 ms with it paused).
    Nothing built here forms a reference cycle, so the pause loses nothing; the
    block never awaits, so no other task runs without a collector meanwhile.
    The collector is left alone when the caller disabled it.
    """
    if (rows is not None and rows < GC_PAUSE_ROWS) or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def instances(model: Any, names: tuple[str, ...], rows: Sequence[Any], alias: str) -> list[Any]:
    new = object.__new__
    result: list[Any] = []
    append = result.append
    for row in rows:
        obj = new(model)
        # fill the new instance's own (empty) __dict__: no second dict, no __dict__ swap
        values = obj.__dict__
        values.update(zip(names, row))  # noqa: B905 - rows come from our own SELECT list
        values["_db"] = alias
        append(obj)
    return result


@lru_cache(maxsize=256)
def _named_tuple(names: tuple[str, ...]) -> Any:
    return namedtuple("Row", names, rename=True)


def convert(
    kind: str, model: Any, names: tuple[str, ...], rows: Sequence[Any], alias: str
) -> list[Any]:
    """Turn raw rows into the result shape of ``kind``."""
    if kind == MODELS:
        return instances(model, names, rows, alias)
    if kind == DICTS:
        # no strict=True (a quarter of the cost): rows come from our own SELECT list
        return [dict(zip(names, row)) for row in rows]  # noqa: B905
    if kind == TUPLES:
        return [tuple(row) for row in rows]
    if kind == FLAT:
        return [row[0] for row in rows]
    if kind == NAMED:
        cls = _named_tuple(names)
        return [cls._make(row) for row in rows]
    raise ValueError(f"unknown result kind {kind!r}")


def with_related(
    model: Any, names: tuple[str, ...], paths: tuple[str, ...], rows: Sequence[Any], alias: str
) -> list[Any]:
    """Instances with their ``select_related`` objects attached (``book.author``).

    The row holds the model's columns, then each path's columns in order; a
    related row whose primary key is NULL (no match in the LEFT JOIN) is ``None``.
    """
    plan = []
    offset = len(names)
    for path in paths:
        parent_path, _, name = path.rpartition("__")
        owner = model
        for part in path.split("__")[:-1]:
            owner = owner._meta.relations[part].target
        relation = owner._meta.relations[name]
        meta = relation.target._meta
        width = len(meta.attnames)
        pk_index = meta.attnames.index(meta.pk.attname)
        plan.append(
            (
                parent_path,
                path,
                relation.field.name,
                relation.target,
                meta.attnames,
                offset,
                width,
                pk_index,
            )
        )
        offset += width
    new = object.__new__
    result: list[Any] = []
    append = result.append
    width0 = len(names)
    if len(plan) == 1:
        # the common case, one relation: no bookkeeping of loaded paths per row
        _, _, field_name, target, attnames, start, width, pk_index = plan[0]
        end = start + width
        key_index = start + pk_index
        for row in rows:
            obj = new(model)
            values = obj.__dict__
            values.update(zip(names, row[:width0]))  # noqa: B905
            values["_db"] = alias
            if row[key_index] is None:
                values[field_name] = None
            else:
                child = new(target)
                child_values = child.__dict__
                child_values.update(zip(attnames, row[start:end]))  # noqa: B905
                child_values["_db"] = alias
                values[field_name] = child
            append(obj)
        return result
    for row in rows:
        obj = new(model)
        values = obj.__dict__
        values.update(zip(names, row[:width0]))  # noqa: B905
        values["_db"] = alias
        loaded = {"": obj}
        for parent_path, path, field_name, target, attnames, start, width, pk_index in plan:
            parent = loaded.get(parent_path)
            if parent is None:
                continue
            part = row[start : start + width]
            if part[pk_index] is None:
                parent.__dict__[field_name] = None
                loaded[path] = None
                continue
            child = new(target)
            child_values = child.__dict__
            child_values.update(zip(attnames, part))  # noqa: B905
            child_values["_db"] = alias
            parent.__dict__[field_name] = child
            loaded[path] = child
        append(obj)
    return result
