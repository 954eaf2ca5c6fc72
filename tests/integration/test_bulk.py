"""bulk_create / bulk_update on every backend."""

from __future__ import annotations

from decimal import Decimal

import pytest

import flash_db
from flash_db.exceptions import FieldError, IntegrityError
from flash_db.query import Features
from flash_db.testing import count_queries

from ..models import Author, Book, Tag


async def test_bulk_create_sets_pks_in_order(db: str) -> None:
    objs = [Book(title=f"T{i:03}", price=i) for i in range(250)]
    result = await Book.objects.bulk_create(objs, batch_size=100)
    assert result is not None and len(result) == 250
    assert all(o.pk is not None for o in objs)
    assert len({o.pk for o in objs}) == 250
    by_pk = {b.pk: b.title for b in await Book.objects.all()}
    assert all(by_pk[o.pk] == o.title for o in objs)
    assert all(o._adding is False for o in objs)


async def test_bulk_create_is_all_or_nothing(db: str) -> None:
    await Author.objects.create(name="Dup")
    objs = [Author(name=f"A{i}") for i in range(5)] + [Author(name="Dup")]
    with pytest.raises(IntegrityError):
        await Author.objects.bulk_create(objs, batch_size=2)
    assert await Author.objects.count() == 1


async def test_bulk_create_ignore_conflicts(db: str) -> None:
    await Author.objects.create(name="Ann", email="keep")
    await Author.objects.bulk_create(
        [Author(name="Ann", email="drop"), Author(name="Bob")], ignore_conflicts=True
    )
    assert await Author.objects.count() == 2
    assert (await Author.objects.get(name="Ann")).email == "keep"


async def test_bulk_create_update_conflicts(db: str) -> None:
    await Author.objects.create(name="Ann", email="old")
    await Author.objects.bulk_create(
        [Author(name="Ann", email="new"), Author(name="Cy", email="c")],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["email"],
    )
    emails = dict(await Author.objects.values_list("name", "email"))
    assert emails == {"Ann": "new", "Cy": "c"}


async def test_bulk_create_explicit_pks(db: str) -> None:
    await Tag.objects.bulk_create([Tag(slug=f"s{i}", label=str(i)) for i in range(3)])
    assert sorted(await Tag.objects.values_list("slug", flat=True)) == ["s0", "s1", "s2"]


async def test_bulk_create_bad_arguments(db: str) -> None:
    with pytest.raises(TypeError, match="update_fields"):
        await Author.objects.bulk_create([Author(name="x")], update_conflicts=True)
    with pytest.raises(FieldError):
        await Author.objects.bulk_create(
            [Author(name="x")],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["nope"],
        )
    with pytest.raises(TypeError, match="got a Book"):
        await Author.objects.bulk_create([Book(title="x")])  # type: ignore[list-item]
    assert await Author.objects.count() == 0
    assert await Author.objects.bulk_create([]) == []


async def test_bulk_update(db: str) -> None:
    objs = await Book.objects.bulk_create(
        [Book(title=f"B{i}", price=i, pages=i) for i in range(10)]
    )
    for o in objs:
        o.price = o.price + 100
        o.pages = None
    n = await Book.objects.bulk_update(objs, ["price", "pages"], batch_size=4)
    assert n == 10
    prices = sorted(await Book.objects.values_list("price", flat=True))
    assert prices == [Decimal(100 + i) for i in range(10)]
    assert await Book.objects.filter(pages__isnull=True).count() == 10
    with pytest.raises(FieldError, match="primary key"):
        await Book.objects.bulk_update(objs, ["id"])
    with pytest.raises(ValueError, match="primary key"):
        await Book.objects.bulk_update([Book(title="unsaved")], ["title"])


async def test_features_follow_the_server(db: str) -> None:
    """Features are read again after the first connection (MariaDB's RETURNING is only
    known once SQLAlchemy has seen the server version)."""
    database = flash_db.connections["default"]
    assert database.features == Features.from_dialect(database.dialect)
    if db in ("postgresql", "mysql"):
        assert database.features.insert_returning
        # MariaDB >= 10.5: ordered executemany RETURNING, once the server is known (the
        # flags must not be read, and memoized by SQLAlchemy, before the first connection)
        assert database.features.insert_many_returning
        assert database.dialect.insert_executemany_returning


async def test_bulk_create_reads_pks_back_in_one_statement_per_batch(db: str) -> None:
    # SQLite too: its returned rows are put back in VALUES order by the integer pk
    # (db._sqlite.install), instead of SQLAlchemy's one INSERT per row there.
    objs = [Book(title=f"T{i:03}", price=i) for i in range(250)]
    async with count_queries() as queries:
        await Book.objects.bulk_create(objs, batch_size=100)
    inserts = [s for s in queries.statements if s.startswith("INSERT")]
    assert len(inserts) == 3, queries.statements
    by_pk = {b.pk: b.title for b in await Book.objects.all()}
    assert [by_pk[o.pk] for o in objs] == [o.title for o in objs]


async def test_bulk_create_pks_line_up_after_gaps_and_explicit_pks(db: str) -> None:
    """New keys continue after the largest one, whatever holes the table has; objects with
    their own pk go in their own statement and keep it."""
    first = [Book(title=f"A{i}", price=i) for i in range(5)]
    await Book.objects.bulk_create(first)
    await Book.objects.filter(pk__in=[first[1].pk, first[3].pk]).delete()
    high = first[-1].pk + 50
    mixed = [Book(title="B0", price=0), Book(pk=high, title="B1", price=1)]
    mixed += [Book(title=f"B{i}", price=i) for i in range(2, 40)]
    await Book.objects.bulk_create(mixed, batch_size=7)
    assert mixed[1].pk == high
    generated = [o.pk for o in mixed if o is not mixed[1]]
    assert len(set(generated)) == len(generated) and high not in generated
    by_pk = {b.pk: b.title for b in await Book.objects.all()}
    assert [by_pk[o.pk] for o in mixed] == [o.title for o in mixed]


def _everything_kwargs() -> list[dict[str, object]]:
    """Values for every field type, and a row of NULLs/defaults."""
    import datetime as dt
    import uuid

    from ..models import Priority, Status

    full = {
        "small": -32768,
        "big": 2**62,
        "ratio": 0.1,
        "amount": Decimal("1234567.891"),
        "text": "ünïcödé ✓ 'quoted' \\ {braces} \"x\"",
        "flag": False,
        "day": dt.date(2024, 2, 29),
        "naive": dt.datetime(2020, 1, 1, 12, 30, 0, 654321),
        "at": dt.time(13, 14, 15, 161718),
        "span": dt.timedelta(days=-1, seconds=5, microseconds=7),
        "uid": uuid.UUID(int=7),
        "data": {"a": [1, 2, {"b": None}], "ok": True, "s": "{1,2}"},
        "blob": b"\x00\xff{binary}",
        "status": Status.LIVE,
        "priority": Priority.HIGH,
        "code": "a",
        "level": 10,
    }
    empty = {"uid": uuid.UUID(int=8), "text": "", "data": ["list", None]}
    return [full, empty, {**full, "uid": uuid.UUID(int=9), "text": "NULL", "data": "NULL"}]


async def test_bulk_create_stores_what_create_stores(db: str) -> None:
    """Every field type, NULLs included, reads back the same from ``bulk_create`` as from
    ``create()`` (PostgreSQL sends the batch as one array per column)."""
    from ..models import Everything

    rows = _everything_kwargs()
    made = [await Everything.objects.create(**kwargs) for kwargs in rows]
    for kwargs in rows:
        kwargs["uid"] = kwargs["uid"].__class__(int=kwargs["uid"].int + 100)  # type: ignore[attr-defined]
    async with count_queries() as queries:
        bulk = await Everything.objects.bulk_create([Everything(**kwargs) for kwargs in rows])
    if db == "postgresql":
        assert ["FROM unnest(" in s for s in queries.statements] == [True], queries.statements
    stored = {r["id"]: r for r in await Everything.objects.values()}
    compared = [n for n in rows[0] if n != "uid"]
    for one, many, kwargs in zip(made, bulk, rows, strict=True):
        assert {n: stored[many.pk][n] for n in compared} == {n: stored[one.pk][n] for n in compared}
        assert stored[many.pk]["uid"] == kwargs["uid"]
        assert stored[many.pk]["created"] is not None
    assert stored[bulk[0].pk]["data"] == rows[0]["data"]
    assert stored[bulk[1].pk]["amount"] is None and stored[bulk[1].pk]["data"] == ["list", None]
    assert stored[bulk[2].pk]["text"] == "NULL" and stored[bulk[2].pk]["data"] == "NULL"


async def test_bulk_create_never_truncates_a_long_value(db: str) -> None:
    """A value too long for its column fails the whole call, as ``create()`` does
    (PostgreSQL's array form must not cast it to the column's length); SQLite has no
    length limit and keeps it whole."""
    from flash_db.exceptions import DataError

    long_name = "x" * 101  # Author.name is max_length=100
    objs = [Author(name="ok"), Author(name=long_name)]
    if db == "sqlite":
        await Author.objects.bulk_create(objs)
        assert await Author.objects.filter(name=long_name).exists()
        return
    with pytest.raises(DataError, match="too long"):
        await Author.objects.bulk_create(objs)
    assert await Author.objects.count() == 0


async def test_bulk_create_on_postgresql_is_one_array_insert_per_batch(db: str) -> None:
    if db != "postgresql":
        pytest.skip("the array form is PostgreSQL's (elsewhere: executemany, tested above)")
    objs = [Book(title=f"T{i:03}", price=i, pages=None if i % 3 else i) for i in range(250)]
    async with count_queries() as queries:
        await Book.objects.bulk_create(objs, batch_size=100)
    inserts = [s for s in queries.statements if s.startswith("INSERT")]
    assert len(inserts) == 3 and all("FROM unnest(" in s for s in inserts), inserts
    assert "VARCHAR(" not in inserts[0] and "TEXT[]" in inserts[0]
    by_pk = {b.pk: (b.title, b.pages) for b in await Book.objects.all()}
    assert [by_pk[o.pk] for o in objs] == [(o.title, o.pages) for o in objs]
    # the conflict-skipping form too (no pks read back)
    tags = [Tag(slug="a", label="A"), Tag(slug="b", label="B")]
    await Tag.objects.bulk_create(tags)
    async with count_queries() as queries:
        await Tag.objects.bulk_create(
            [Tag(slug="a", label="again"), Tag(slug="c", label="C")], ignore_conflicts=True
        )
    assert any("FROM unnest(" in s and "ON CONFLICT DO NOTHING" in s for s in queries.statements)
    assert dict(await Tag.objects.values_list("slug", "label")) == {"a": "A", "b": "B", "c": "C"}


async def test_bulk_create_reads_back_database_defaults_beside_the_pk(db: str) -> None:
    """Rows that leave a db_default column out get the database's value and their pk,
    in the order given; rows that set it keep theirs (they go in their own statement)."""
    from ..models import Stamp

    objs = [Stamp(label=f"s{i}", level=9 if i % 4 == 0 else None) for i in range(30)]
    await Stamp.objects.bulk_create(objs, batch_size=8)
    assert [o.level for o in objs] == [9 if i % 4 == 0 else 3 for i in range(30)]
    stored = {s.pk: (s.label, s.level) for s in await Stamp.objects.all()}
    assert [stored[o.pk] for o in objs] == [(o.label, o.level) for o in objs]
