"""Rows to results: model instances, dicts, tuples, flat values, named tuples.

Instances are built with ``object.__new__``: no ``__init__``, no per-field
Python work. Fields are non-data descriptors, so attribute reads then hit the
instance ``__dict__`` directly. ``_adding`` is left to the class default
(False: the row exists) and ``_db`` records the database alias the row came
from.

The loops that build results are generated once per model, list of names and
result processors (:func:`_instance_builders`, :func:`_dict_builder`,
:func:`_tuple_builder`)::

    for v0, v1, v2 in rows:
        obj = new(model)
        obj.id = v0
        obj.flag = p1(v1)      # the column's result processor, where it has one
        obj.created = p2(v2)
        obj._db = alias

CPython runs those as specialised stores into the instance's key-sharing
``__dict__``, about 40% less time per row than ``__dict__.update(zip(names,
row))``; dicts are dict displays with constant keys (``{'id': v0, …}``), 40%
less than ``dict(zip(names, row))``. They read the driver's rows
(:func:`fetch_all`), so SQLAlchemy builds no ``Row`` for them.
"""

from __future__ import annotations

import gc
import inspect
import keyword
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from .executor import DriverResult
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


#: the result processors of a fetch's columns (``None`` where a column has none), or
#: ``None`` when the rows already hold the final values
Processors = tuple[Callable[[Any], Any] | None, ...] | None


def fetch_all(result: Any) -> tuple[Sequence[Any], Processors]:
    """Every row of the buffered SELECT ``result``, and what is left to do to its values.

    SQLAlchemy wraps each driver row in a ``Row``, running the columns' result
    processors on the way (~0.5 µs a row before any processor, and one tracked object
    more for the garbage collector). Here the driver's own rows are taken as they are —
    asyncpg ``Record`` and DBAPI tuples index, slice and unpack like tuples — with the
    processors handed back, to be applied by the generated loops that build the
    results. When no column has one (a typical model on asyncpg, which decodes every
    type itself) the processors are ``None``. A result these internals don't fit (a
    SQLAlchemy without them) goes through ``result.all()``.
    """
    if type(result) is DriverResult:
        return result.rows, result.processors
    metadata = getattr(result, "_metadata", None)
    try:
        processors = tuple(metadata._processors)  # type: ignore[union-attr]
        plain = metadata._tuplefilter is None  # type: ignore[union-attr]
        fetchall = result._fetchall_impl
    except (AttributeError, TypeError):
        return result.all(), None
    if not plain:
        return result.all(), None
    return fetchall(), _needed(processors)


def _needed(processors: tuple[Any, ...]) -> Processors:
    """``processors``, or ``None`` when no column has one."""
    return processors if any(p is not None for p in processors) else None


def rows_of(result: Any) -> Sequence[Any]:
    """Every row of the buffered SELECT ``result``, holding the final values (tuples,
    asyncpg records or ``Row`` objects)."""
    rows, processors = fetch_all(result)
    return rows if processors is None else _tuple_builder(processors)(rows)


def _unpack(width: int, processors: Processors) -> tuple[str, list[str], dict[str, Any]]:
    """Source pieces for one row of ``width`` values: the unpacking target
    (``v0, v1, ``), each value's expression (``v1`` or ``p1(v1)``) and the namespace
    that holds the processors."""
    if processors is not None and len(processors) != width:
        raise ValueError(f"{len(processors)} result processors for rows of {width} values")
    target = "".join(f"v{i}, " for i in range(width))
    values = []
    namespace: dict[str, Any] = {}
    for i in range(width):
        process = None if processors is None else processors[i]
        if process is None:
            values.append(f"v{i}")
        else:
            namespace[f"p{i}"] = process
            values.append(f"p{i}(v{i})")
    return target, values, namespace


def _compile(source: str, namespace: dict[str, Any], name: str) -> Any:
    # the source is made of generated variable names, names checked by _assignable
    # and repr() of strings: nothing from the outside is evaluated
    exec(source, namespace)
    return namespace[name]


@lru_cache(maxsize=512)
def _tuple_builder(processors: tuple[Any, ...]) -> Callable[[Iterable[Any]], list[tuple[Any, ...]]]:
    """Rows to tuples of their processed values."""
    target, values, namespace = _unpack(len(processors), processors)
    row = "".join(f"{v}, " for v in values)
    return _compile(
        f"def build(rows):\n    return [({row}) for {target} in rows]\n", namespace, "build"
    )


def _assignable(model: Any, names: tuple[str, ...]) -> bool:
    """Whether ``obj.<name> = value`` for each of ``names`` stores into the instance
    ``__dict__``, as ``__dict__[name] = value`` would (no ``__setattr__`` of the model's,
    no data descriptor on the class, names that can be written in source)."""
    if not names or model.__setattr__ is not object.__setattr__:
        return False
    for name in (*names, "_db"):
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            return False
        attr = inspect.getattr_static(model, name, None)
        if hasattr(type(attr), "__set__") or hasattr(type(attr), "__delete__"):
            return False
    return True


_BUILD_SOURCE = """
def build(rows, alias):
    result = []
    append = result.append
    for {target} in rows:
        obj = new(model)
{stores}
        obj._db = alias
        append(obj)
    return result
"""

_MAKE_SOURCE = """
def make(row, alias):
    {target} = row
    obj = new(model)
{stores}
    obj._db = alias
    return obj
"""


@lru_cache(maxsize=512)
def _instance_builders(
    model: Any, names: tuple[str, ...], processors: Processors = None
) -> tuple[Callable[[Iterable[Any], str], list[Any]], Callable[[Sequence[Any], str], Any]]:
    """``build(rows, alias)`` (a list of instances) and ``make(row, alias)`` (one) for
    rows of ``names``, generated for the model (see the module docstring)."""
    if _assignable(model, names):
        target, values, namespace = _unpack(len(names), processors)
        namespace.update(new=object.__new__, model=model)

        def source(template: str, indent: str) -> str:
            stores = "\n".join(
                f"{indent}obj.{name} = {value}" for name, value in zip(names, values, strict=True)
            )
            return template.format(target=target, stores=stores)

        return (
            _compile(source(_BUILD_SOURCE, " " * 8), namespace, "build"),
            _compile(source(_MAKE_SOURCE, " " * 4), namespace, "make"),
        )

    # names the generated code cannot assign: the same result through __dict__
    process = None if processors is None else _tuple_builder(processors)

    def make(row: Sequence[Any], alias: str) -> Any:
        obj = object.__new__(model)
        values = obj.__dict__
        if process is not None:
            row = process((row,))[0]
        values.update(zip(names, row))  # noqa: B905 - rows come from our own SELECT list
        values["_db"] = alias
        return obj

    def build(rows: Iterable[Any], alias: str) -> list[Any]:
        return [make(row, alias) for row in rows]

    return build, make


@lru_cache(maxsize=512)
def _dict_builder(
    names: tuple[str, ...], processors: Processors = None
) -> Callable[[Iterable[Any]], list[dict[str, Any]]]:
    """Rows of ``names`` to dicts (a dict display with constant keys)."""
    if not names:
        return lambda rows: [{} for _ in rows]
    target, values, namespace = _unpack(len(names), processors)
    items = ", ".join(f"{str(name)!r}: {value}" for name, value in zip(names, values, strict=True))
    return _compile(
        f"def build(rows):\n    return [{{{items}}} for {target} in rows]\n", namespace, "build"
    )


def instances(
    model: Any,
    names: tuple[str, ...],
    rows: Iterable[Any],
    alias: str,
    processors: Processors = None,
) -> list[Any]:
    """Model instances from rows of ``names`` read from the database ``alias``."""
    return _instance_builders(model, names, processors)[0](rows, alias)


@lru_cache(maxsize=256)
def _named_tuple(names: tuple[str, ...]) -> Any:
    return namedtuple("Row", names, rename=True)


def convert(
    kind: str,
    model: Any,
    names: tuple[str, ...],
    rows: Sequence[Any],
    alias: str,
    processors: Processors = None,
) -> list[Any]:
    """Turn rows (with their columns' ``processors`` still to apply, if any) into the
    result shape of ``kind``."""
    if kind == MODELS:
        return instances(model, names, rows, alias, processors)
    if kind == DICTS:
        return _dict_builder(names, processors)(rows)
    if processors is not None:
        rows = _tuple_builder(processors)(rows)
    if kind == TUPLES:
        return [tuple(row) for row in rows]
    if kind == FLAT:
        return [row[0] for row in rows]
    if kind == NAMED:
        cls = _named_tuple(names)
        return [cls._make(row) for row in rows]
    raise ValueError(f"unknown result kind {kind!r}")


def with_related(
    model: Any,
    names: tuple[str, ...],
    paths: tuple[str, ...],
    rows: Sequence[Any],
    alias: str,
    processors: Processors = None,
) -> list[Any]:
    """Instances with their ``select_related`` objects attached (``book.author``).

    The row holds the model's columns, then each path's columns in order; a
    related row whose primary key is NULL (no match in the LEFT JOIN) is ``None``.
    """

    def processors_of(start: int, end: int) -> Processors:
        return None if processors is None else _needed(processors[start:end])

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
                _instance_builders(
                    relation.target, meta.attnames, processors_of(offset, offset + width)
                )[1],
                offset,
                offset + width,
                pk_index,
            )
        )
        offset += width
    make = _instance_builders(model, names, processors_of(0, len(names)))[1]
    result: list[Any] = []
    append = result.append
    width0 = len(names)
    if len(plan) == 1:
        # the common case, one relation: no bookkeeping of loaded paths per row
        _, _, field_name, make_child, start, end, pk_index = plan[0]
        key_index = start + pk_index
        for row in rows:
            obj = make(row[:width0], alias)
            # the relation's own attribute is a data descriptor: store into __dict__
            obj.__dict__[field_name] = (
                None if row[key_index] is None else make_child(row[start:end], alias)
            )
            append(obj)
        return result
    for row in rows:
        obj = make(row[:width0], alias)
        loaded = {"": obj}
        for parent_path, path, field_name, make_child, start, end, pk_index in plan:
            parent = loaded.get(parent_path)
            if parent is None:
                continue
            part = row[start:end]
            child = None if part[pk_index] is None else make_child(part, alias)
            parent.__dict__[field_name] = child
            loaded[path] = child
        append(obj)
    return result
