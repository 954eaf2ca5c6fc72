"""The benchmark workload: the models, the rows, the sizes and the list of tests.

Shared by every implementation in ``peers/`` and by ``micro.py``. ``Item`` and
``Child`` are flash_db models (tables ``bench_item`` / ``bench_child``, app
label ``bench``); each peer declares the same two tables its own way.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from flash_db import Model, fields

# ---------------------------------------------------------------------------
# Workload


class Item(Model):
    name = fields.CharField(max_length=100, db_index=True)
    description = fields.TextField()
    flag = fields.BooleanField(default=False)
    created = fields.DateTimeField()
    amount = fields.DecimalField(max_digits=10, decimal_places=2)
    score = fields.IntegerField()
    rank = fields.IntegerField(null=True)
    ratio = fields.FloatField()
    category = fields.CharField(max_length=20)

    class Meta:
        app_label = "bench"
        table = "bench_item"


class Child(Model):
    item = fields.ForeignKey(Item, related_name="children", on_delete=fields.CASCADE)
    label = fields.CharField(max_length=50)
    position = fields.IntegerField()

    class Meta:
        app_label = "bench"
        table = "bench_child"


COLUMNS = (
    "name",
    "description",
    "flag",
    "created",
    "amount",
    "score",
    "rank",
    "ratio",
    "category",
)
LIST_COLUMNS = ("id", "name", "score", "amount")
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def row(i: int) -> dict[str, Any]:
    """The values of the i-th item (deterministic)."""
    return {
        "name": f"item-{i}",
        "description": f"description of item {i} " * 3,
        "flag": i % 2 == 0,
        "created": EPOCH + dt.timedelta(seconds=i),
        "amount": Decimal(i % 10_000) / 100,
        "score": i % 1000,
        "rank": i if i % 3 else None,
        "ratio": i / 7,
        "category": f"cat-{i % 10}",
    }


class Sizes:
    """Row counts per test, multiplied by ``--scale`` (at least 2 each)."""

    BASE = {
        "single": 500,  # (1) single-row inserts, and (11) deletes of those rows
        "tx": 2000,  # (2) inserts in one transaction
        "bulk": 20_000,  # (3) bulk insert
        "limit": 500,  # (5) LIMIT 20 queries
        "get": 2000,  # (6) get by pk
        "update": 500,  # (9), (10) updates
        "parents": 2000,  # parents of (12), (13): 2 children each
    }

    def __init__(self, scale: float) -> None:
        for key, value in self.BASE.items():
            setattr(self, key, max(2, round(value * scale)))

    single: int
    tx: int
    bulk: int
    limit: int
    get: int
    update: int
    parents: int


TESTS = (
    ("insert_single", "(1) single-row inserts"),
    ("insert_tx", "(2) inserts in one transaction"),
    ("insert_bulk", "(3) bulk insert"),
    ("fetch_all", "(4) filter, all rows as objects"),
    ("fetch_limit", "(5) filter, LIMIT 20"),
    ("get_pk", "(6) get by pk"),
    ("values_dicts", "(7) values() dicts"),
    ("values_tuples", "(8) values_list() tuples"),
    ("update_whole", "(9) update whole object"),
    ("update_partial", "(10) partial update"),
    ("delete", "(11) delete"),
    ("select_related", "(12) select_related (FK)"),
    ("prefetch_related", "(13) prefetch_related (reverse FK)"),
)


class Implementation:
    """One way of running the workload. Each ``test_*`` method returns the rows it handled.

    ``reset()`` (untimed) drops and creates the implementation's tables and
    runs once per round before the tests; ``seed_children()`` (untimed) runs
    after the bulk insert. To add a peer (SQLAlchemy ORM, Tortoise), subclass
    and implement the same methods.
    """

    name = "?"
    server = ""  # the server's version, as the implementation saw it (for the table header)

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.single_ids: list[int] = []
        self.bulk_ids: list[int] = []
        self.got: list[Any] = []
        self.rng = random.Random(42)

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def reset(self) -> None: ...

    async def seed_children(self) -> None: ...

    def sample_ids(self) -> list[int]:
        return [self.rng.choice(self.bulk_ids) for _ in range(self.sizes.get)]

    @property
    def parent_ids(self) -> list[int]:
        return self.bulk_ids[-self.sizes.parents :]

    @property
    def first_parent(self) -> int:
        return self.parent_ids[0]

    def child_rows(self) -> list[tuple[int, str, int]]:
        return [(pid, f"child-{pid}-{k}", k) for pid in self.parent_ids for k in range(2)]
