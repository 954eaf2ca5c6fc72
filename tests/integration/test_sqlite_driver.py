"""SQLite through aiosqlite (``db/_sqlite.py``): one hop to the driver's thread per
statement, transactions opened by ``atomic()`` on a connection left in autocommit, and
what must still hold: rollbacks, the write lock, errors, multi-row RETURNING order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiosqlite
import pytest

import flash_db
from flash_db import atomic
from flash_db.exceptions import IntegrityError

from ..models import Author, Book, TxItem


@pytest.fixture
def sqlite_db(db: str) -> str:
    if not flash_db.connections["default"].features.begin_sql:
        pytest.skip("SQLite's transactions and aiosqlite's thread")
    return db


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What is handed to aiosqlite's worker thread, one entry per hand-off."""
    seen: list[str] = []
    queue_call = aiosqlite.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sql = next((a for a in args if isinstance(a, str)), "")
        seen.append(f"{getattr(fn, '__name__', fn)} {sql}".strip())
        return await queue_call(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield seen


async def test_one_hop_per_statement(sqlite_db: str, hops: list[str]) -> None:
    author = await Author.objects.create(name="Ann")
    await Author.objects.get(pk=author.pk)
    author.name = "Anne"
    await author.save()
    assert await Author.objects.filter(name__startswith="A").count() == 1
    assert len(hops) == 4, hops


async def test_atomic_is_begin_statements_commit(sqlite_db: str, hops: list[str]) -> None:
    async with atomic():
        await TxItem.objects.create(name="a")
        await TxItem.objects.create(name="b")
    # no isolation switch out of autocommit and back, no ROLLBACK at checkin
    assert [h.split(" ", 1)[-1][:16] for h in hops] == [
        "BEGIN IMMEDIATE",
        "INSERT INTO tx_i",
        "INSERT INTO tx_i",
        "commit",
    ], hops
    assert await TxItem.objects.count() == 2


async def test_failed_atomic_rolls_back_and_returns_a_clean_connection(sqlite_db: str) -> None:
    await TxItem.objects.create(name="kept")
    with pytest.raises(IntegrityError):
        async with atomic():
            await TxItem.objects.create(name="lost")
            await TxItem.objects.create(pk=1, name="duplicate pk")
    assert await TxItem.objects.values_list("name", flat=True) == ["kept"]
    # every pooled connection is out of any transaction (no write lock left behind)
    engine = flash_db.connections["default"].engine
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert raw.driver_connection is not None
        assert not raw.driver_connection.in_transaction
    async with atomic():
        await TxItem.objects.create(name="after")
    assert await TxItem.objects.count() == 2


async def test_errors_from_the_thread_are_flash_db_errors(sqlite_db: str) -> None:
    await Author.objects.create(name="Solo", email="solo@example.com")
    with pytest.raises(IntegrityError, match=r"(?i)unique"):
        await Author.objects.create(name="Solo", email="solo@example.com")


async def test_bulk_returning_is_batched_and_in_order(sqlite_db: str, hops: list[str]) -> None:
    objs = [Book(title=f"B{i:04}", price=i) for i in range(1500)]
    await Book.objects.bulk_create(objs)
    inserts = [h for h in hops if "INSERT" in h]
    # SQLAlchemy's page size is 1,000 rows (and at most 32,700 parameters) per statement
    assert len(inserts) == 2, inserts
    by_pk = {b.pk: b.title for b in await Book.objects.all()}
    assert [by_pk[o.pk] for o in objs] == [o.title for o in objs]


async def test_a_transaction_out_of_autocommit_begins_immediate(
    sqlite_db: str, hops: list[str]
) -> None:
    """A connection switched out of autocommit (migrations do) opens its transaction with
    BEGIN IMMEDIATE before its first statement, reads included, from the dialect's
    ``do_begin``: no engine listener, which would flag the engine as listened to."""
    engine = flash_db.connections["default"].engine
    # (``_has_events``, once set by any listener, e.g. count_queries(), stays set)
    assert not engine.sync_engine.dispatch.begin
    await TxItem.objects.create(name="before")
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="SERIALIZABLE")
        raw = await conn.get_raw_connection()
        hops.clear()
        async with conn.begin():
            assert (await conn.exec_driver_sql("SELECT count(*) FROM tx_items")).scalar() == 1
            assert raw.driver_connection is not None and raw.driver_connection.in_transaction
            await conn.exec_driver_sql("INSERT INTO tx_items (name) VALUES ('inside')")
        assert [h.split(" ", 1)[-1][:15] for h in hops[:2]] == [
            "BEGIN IMMEDIATE",
            "SELECT count(*)",
        ]
    assert await TxItem.objects.count() == 2
