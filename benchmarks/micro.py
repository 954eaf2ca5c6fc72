"""Micro-benchmark of flash_db's pure-Python cost, with no database.

    python benchmarks/micro.py             # default repetitions
    python benchmarks/micro.py --quick     # fewer repetitions (CI smoke)

1. Building and compiling a typical QuerySet (two lookups, ``order_by``, a
   slice) against the same hand-written SQLAlchemy Core ``select()``, both
   compiled with the PostgreSQL dialect, and both only up to
   ``_generate_cache_key()`` (what a cached execution pays). Then a QuerySet
   whose shape is cached (``flash_db.query.shapes``: lookups that bind their
   values as they are): building it and getting its statement and parameters,
   against building the Core ``select()`` and its cache key.
2. Hydrating 10,000 rows into model instances against building the dicts or
   tuples SQLAlchemy Core hands out for the same rows.

Prints the time per operation and flash_db's cost as a ratio (1.0 = same as Core).
"""

from __future__ import annotations

import argparse
import datetime as dt
import timeit
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from workload import Item  # the workload model; micro.py runs beside bench.py

from flash_db.query import shapes
from flash_db.query.hydrate import instances
from flash_db.query.state import build_select

DIALECT = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
TABLE = Item._meta.table


def flash_queryset() -> Any:
    qs = Item.objects.filter(score__gte=10, name__startswith="item").order_by("-created")
    return build_select(qs[:20]._state)


def core_select() -> Any:
    return (
        sa.select(TABLE)
        .where(TABLE.c.score >= 10, TABLE.c.name.startswith("item", autoescape=True))
        .order_by(TABLE.c.created.desc())
        .limit(20)
    )


def flash_shaped() -> Any:
    """The statement and parameters a shaped QuerySet runs with."""
    qs = Item.objects.filter(score__gte=10, category="cat-1").order_by("-created")[:20]
    found = shapes.select(qs)
    assert found is not None
    return found


def core_shaped_select() -> Any:
    return (
        sa.select(TABLE)
        .where(TABLE.c.score >= 10, TABLE.c.category == "cat-1")
        .order_by(TABLE.c.created.desc())
        .limit(20)
    )


def best(fn: Any, number: int, repeat: int = 5) -> float:
    """Seconds per call, best of ``repeat`` (after a warm-up call)."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    n = 200 if args.quick else 2000
    hydrate_n = 3 if args.quick else 20

    # sanity: both build the same SQL
    flash_sql = str(flash_queryset().compile(dialect=DIALECT))
    core_sql = str(core_select().compile(dialect=DIALECT))
    print("flash_db SQL:", " ".join(flash_sql.split()))
    print("Core SQL:    ", " ".join(core_sql.split()))
    print()

    results: list[tuple[str, float, float]] = []
    results.append(("build select", best(flash_queryset, n), best(core_select, n)))
    results.append(
        (
            "build + _generate_cache_key()",
            best(lambda: flash_queryset()._generate_cache_key(), n),
            best(lambda: core_select()._generate_cache_key(), n),
        )
    )
    results.append(
        (
            "build + compile (PostgreSQL)",
            best(lambda: flash_queryset().compile(dialect=DIALECT), n // 4),
            best(lambda: core_select().compile(dialect=DIALECT), n // 4),
        )
    )
    results.append(
        (
            "shaped: build + statement and parameters vs build + _generate_cache_key()",
            best(flash_shaped, n),
            best(lambda: core_shaped_select()._generate_cache_key(), n),
        )
    )

    names = Item._meta.attnames
    rows = [
        (
            i,
            f"item-{i}",
            "text",
            i % 2 == 0,
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            Decimal("1.50"),
            i,
            None,
            i / 7,
            "cat",
        )
        for i in range(10_000)
    ]
    assert len(names) == len(rows[0]), names
    results.append(
        (
            "hydrate 10,000 rows: instances vs dicts",
            best(lambda: instances(Item, names, rows, "default"), hydrate_n),
            best(lambda: [dict(zip(names, r, strict=True)) for r in rows], hydrate_n),
        )
    )
    results.append(
        (
            "hydrate 10,000 rows: instances vs tuples",
            best(lambda: instances(Item, names, rows, "default"), hydrate_n),
            best(lambda: [tuple(r) for r in rows], hydrate_n),
        )
    )

    print("| operation | flash_db µs | Core µs | flash_db / Core |")
    print("|---|---:|---:|---:|")
    for label, flash, core in results:
        print(f"| {label} | {flash * 1e6:,.1f} | {core * 1e6:,.1f} | {flash / core:.2f} |")


if __name__ == "__main__":
    main()
