"""QuerySet reads: lookups, Q/F, ordering, slicing, values, aggregates (api.md §3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from decimal import Decimal

import pytest

from flash_db import (
    Avg,
    Coalesce,
    Concat,
    Count,
    F,
    Length,
    Lower,
    Max,
    Min,
    Now,
    Q,
    StdDev,
    Sum,
    Upper,
    Value,
    Variance,
    connections,
)
from flash_db.exceptions import FieldError, MultipleObjectsReturned
from flash_db.testing import count_queries

from ..models import Author, Book


@pytest.fixture
async def books(db: str) -> list[Book]:
    data = [
        ("Dune", "Frank", "10.00", dt.date(1965, 8, 1), 412),
        ("Emma", "Jane", "3.50", dt.date(1815, 12, 23), 474),
        ("Persuasion", "Jane", "4.00", dt.date(1817, 12, 20), None),
        ("Draft 100%_done", None, "0", None, 12),
        ("Anathem", "Neal", "12.25", dt.date(2008, 9, 9), 937),
    ]
    objs = [
        Book(title=t, author_name=a, price=Decimal(p), published=d, pages=n)
        for t, a, p, d, n in data
    ]
    return await Book.objects.bulk_create(objs)


def titles(books: list[Book]) -> list[str]:
    return [b.title for b in books]


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"title": "Dune"}, ["Dune"]),
        ({"title__exact": "Dune"}, ["Dune"]),
        ({"title__iexact": "dune"}, ["Dune"]),
        ({"title__contains": "ers"}, ["Persuasion"]),
        ({"title__contains": "ERS"}, []),
        ({"title__icontains": "ERS"}, ["Persuasion"]),
        ({"title__contains": "100%_"}, ["Draft 100%_done"]),
        ({"title__contains": "%"}, ["Draft 100%_done"]),
        ({"title__in": ["Dune", "Emma", "Nope"]}, ["Dune", "Emma"]),
        ({"title__in": []}, []),
        ({"price__gt": 4}, ["Anathem", "Dune"]),
        ({"price__gte": 4}, ["Anathem", "Dune", "Persuasion"]),
        ({"price__lt": "3.50"}, ["Draft 100%_done"]),
        ({"price__lte": Decimal("3.5")}, ["Draft 100%_done", "Emma"]),
        ({"title__startswith": "D"}, ["Draft 100%_done", "Dune"]),
        ({"title__startswith": "d"}, []),
        ({"title__istartswith": "d"}, ["Draft 100%_done", "Dune"]),
        ({"title__endswith": "ion"}, ["Persuasion"]),
        ({"title__iendswith": "ION"}, ["Persuasion"]),
        ({"pages__range": (400, 500)}, ["Dune", "Emma"]),
        ({"published__isnull": True}, ["Draft 100%_done"]),
        ({"published__isnull": False, "pages__isnull": True}, ["Persuasion"]),
        ({"published": None}, ["Draft 100%_done"]),
        ({"title__regex": r"^[DE]m?"}, ["Draft 100%_done", "Dune", "Emma"]),
        ({"title__regex": r"^d"}, []),
        ({"title__iregex": r"^d"}, ["Draft 100%_done", "Dune"]),
        ({"published__year": 1965}, ["Dune"]),
        ({"published__year__lt": 1900}, ["Emma", "Persuasion"]),
        ({"published__month": 12}, ["Emma", "Persuasion"]),
        ({"published__day": 9}, ["Anathem"]),
        ({"published__range": (dt.date(1800, 1, 1), dt.date(1816, 1, 1))}, ["Emma"]),
    ],
)
async def test_lookups(books: list[Book], lookups: dict[str, object], expected: list[str]) -> None:
    result = await Book.objects.filter(**lookups).order_by("title")
    assert titles(result) == expected


async def test_q_objects_and_exclude(books: list[Book]) -> None:
    qs = Book.objects.exclude(Q(title__icontains="draft") | Q(published=None))
    assert titles(await qs.order_by("title")) == ["Anathem", "Dune", "Emma", "Persuasion"]
    both = Book.objects.filter(Q(author_name="Jane") & ~Q(title="Emma"))
    assert titles(await both) == ["Persuasion"]
    # exclude keeps rows whose compared column is NULL (as Django does)
    assert titles(await Book.objects.exclude(author_name="Jane").order_by("title")) == [
        "Anathem",
        "Draft 100%_done",
        "Dune",
    ]


async def test_f_expressions(books: list[Book]) -> None:
    assert titles(await Book.objects.filter(pages__gt=F("price") * 100).order_by("title")) == [
        "Draft 100%_done",
        "Emma",
    ]
    n = await Book.objects.filter(author_name="Jane").update(price=F("price") * 2)
    assert n == 2
    emma = await Book.objects.get(title="Emma")
    assert emma.price == Decimal("7.00")


async def test_sqlalchemy_expression_filter(books: list[Book]) -> None:
    c = Book.__table__.c
    assert titles(await Book.objects.filter(c.price > 5).order_by("title")) == ["Anathem", "Dune"]
    assert await Book.objects.filter(Q(c.price > 5) | Q(title="Emma")).count() == 3


async def test_ordering_and_slicing(books: list[Book]) -> None:
    ordered = await Book.objects.order_by("-price", "title")
    assert titles(ordered) == ["Anathem", "Dune", "Persuasion", "Emma", "Draft 100%_done"]
    assert titles(await Book.objects.order_by("-price", "title")[1:3]) == ["Dune", "Persuasion"]
    assert titles(await Book.objects.order_by("title")[1:][:2]) == ["Draft 100%_done", "Dune"]
    assert titles(await Book.objects.order_by("title")[3:]) == ["Emma", "Persuasion"]
    assert (await Book.objects.order_by("title")[0]).title == "Anathem"
    with pytest.raises(IndexError):
        await Book.objects.order_by("title")[10]
    assert titles(await Book.objects.order_by("title").reverse()[:1]) == ["Persuasion"]
    # Meta.ordering applies by default
    await Author.objects.create(name="Zoe")
    await Author.objects.create(name="Abe")
    assert [a.name for a in await Author.objects.all()] == ["Abe", "Zoe"]


async def test_get_first_last_count_exists(books: list[Book]) -> None:
    assert (await Book.objects.get(title="Dune")).pages == 412
    with pytest.raises(Book.DoesNotExist, match="does not exist"):
        await Book.objects.get(title="Missing")
    with pytest.raises(MultipleObjectsReturned):
        await Book.objects.get(author_name="Jane")
    with pytest.raises(Book.MultipleObjectsReturned):
        await Book.objects.get(author_name="Jane")
    first = await Book.objects.order_by("price").first()
    last = await Book.objects.order_by("price").last()
    assert first is not None and first.title == "Draft 100%_done"
    assert last is not None and last.title == "Anathem"
    assert await Book.objects.filter(title="Missing").first() is None
    assert await Book.objects.count() == 5
    assert await Book.objects.filter(price__gt=100).count() == 0
    assert await Book.objects.filter(title="Dune").exists()
    assert not await Book.objects.filter(title="Nope").exists()
    assert await Book.objects.order_by("title")[1:3].count() == 2
    assert await Book.objects.none().count() == 0
    assert await Book.objects.none() == []


async def test_get_by_pk_runs_a_statement_cached_per_model(books: list[Book]) -> None:
    dune = next(b for b in books if b.title == "Dune")
    async with count_queries() as queries:
        assert (await Book.objects.get(pk=dune.pk)).title == "Dune"
        assert (await Book.objects.get(id=dune.pk)).title == "Dune"
        assert (await Book.objects.all().get(pk=dune.pk)).pages == 412
        assert (await Book.objects.using("default").get(pk=dune.pk)).title == "Dune"
    assert queries.count == 4
    assert len(set(queries.statements)) == 1 and "LIMIT" in queries.statements[0].upper()
    missing = max(b.pk for b in books) + 1
    with pytest.raises(Book.DoesNotExist, match=f"pk={missing}"):
        await Book.objects.get(pk=missing)
    # a filtered QuerySet, a custom QuerySet's filter or other value kinds keep their meaning
    with pytest.raises(Book.DoesNotExist):
        await Book.objects.filter(title="Emma").get(pk=dune.pk)
    with pytest.raises(Book.DoesNotExist):
        await Book.objects.cheap().get(pk=dune.pk)
    with pytest.raises(Book.DoesNotExist):
        await Book.objects.get(pk=None)
    assert (await Book.objects.get(pk=F("id") * 1, title="Dune")).pk == dune.pk
    with pytest.raises(TypeError, match="sliced"):
        await Book.objects.order_by("-price")[:10].get(pk=dune.pk)


async def test_values_and_values_list(books: list[Book]) -> None:
    rows = (
        await Book.objects.filter(title__in=["Dune", "Emma"])
        .order_by("title")
        .values("title", "price")
    )
    assert rows == [
        {"title": "Dune", "price": Decimal("10.00")},
        {"title": "Emma", "price": Decimal("3.50")},
    ]
    ids = await Book.objects.values_list("id", flat=True)
    assert sorted(ids) == sorted(b.pk for b in books)
    pairs = await Book.objects.order_by("title").values_list("title", "pages")[:2]
    assert pairs == [("Anathem", 937), ("Draft 100%_done", 12)]
    named = await Book.objects.filter(title="Dune").values_list("title", "pages", named=True)
    assert named[0].title == "Dune" and named[0].pages == 412
    with pytest.raises(FieldError, match="choices"):
        Book.objects.values("nope")


async def test_aggregates(books: list[Book]) -> None:
    result = await Book.objects.aggregate(
        n=Count("id"),
        authors=Count("author_name", distinct=True),
        total=Sum("price"),
        avg=Avg("pages"),
        low=Min("price"),
        high=Max("price"),
        cheap=Count("id", filter=Q(price__lt=5)),
    )
    assert result["n"] == 5
    assert result["authors"] == 3
    assert result["total"] == Decimal("29.75")
    assert result["avg"] == pytest.approx((412 + 474 + 12 + 937) / 4)
    assert result["low"] == Decimal("0") and result["high"] == Decimal("12.25")
    assert result["cheap"] == 3
    spread = await Book.objects.filter(pages__isnull=False).aggregate(
        sd=StdDev("pages"), var=Variance("pages"), sds=StdDev("pages", sample=True)
    )
    values = [412, 474, 12, 937]
    mean = sum(values) / 4
    var = sum((v - mean) ** 2 for v in values) / 4
    assert spread["var"] == pytest.approx(var)
    assert spread["sd"] == pytest.approx(var**0.5)
    assert spread["sds"] == pytest.approx((var * 4 / 3) ** 0.5)
    # aggregate over a slice aggregates the slice
    top2 = await Book.objects.order_by("-price")[:2].aggregate(total=Sum("price"))
    assert top2["total"] == Decimal("22.25")


async def test_annotate_and_group_by(books: list[Book]) -> None:
    per_author = await (
        Book.objects.filter(author_name__isnull=False)
        .values("author_name")
        .annotate(n=Count("id"), total=Sum("price"))
        .order_by("author_name")
    )
    assert per_author == [
        {"author_name": "Frank", "n": 1, "total": Decimal("10.00")},
        {"author_name": "Jane", "n": 2, "total": Decimal("7.50")},
        {"author_name": "Neal", "n": 1, "total": Decimal("12.25")},
    ]
    busy = await Book.objects.values("author_name").annotate(n=Count("id")).filter(n__gt=1)
    assert busy == [{"author_name": "Jane", "n": 2}]
    annotated = await Book.objects.annotate(t=Lower("title"), n=Length("title")).filter(t="dune")
    assert annotated[0].t == "dune" and annotated[0].n == 4


async def test_functions(books: list[Book]) -> None:
    rows = await (
        Book.objects.filter(title__in=["Dune", "Draft 100%_done"])
        .annotate(
            up=Upper("title"),
            who=Coalesce("author_name", Value("anonymous")),
            label=Concat("title", Value(" by "), "author_name"),
            now=Now(),
        )
        .order_by("title")
        .values("up", "who", "label", "now")
    )
    assert rows[0]["up"] == "DRAFT 100%_DONE" and rows[0]["who"] == "anonymous"
    assert rows[0]["label"] == "Draft 100%_done by "
    assert rows[1]["label"] == "Dune by Frank"
    assert rows[1]["now"] is not None
    await Book.objects.filter(title="Dune").update(title=Upper("title"))
    assert await Book.objects.filter(title="DUNE").exists()


async def test_in_bulk_and_subquery(books: list[Book]) -> None:
    wanted = [books[0].pk, books[1].pk]
    found = await Book.objects.in_bulk(wanted)
    assert set(found) == set(wanted) and found[books[0].pk].title == "Dune"
    assert await Book.objects.in_bulk([]) == {}
    jane_ids = Book.objects.filter(author_name="Jane").values_list("id", flat=True)
    assert await Book.objects.filter(pk__in=jane_ids).count() == 2


async def test_update_and_delete_honour_slicing(books: list[Book]) -> None:
    n = await Book.objects.order_by("price")[:2].update(pages=1)
    assert n == 2
    assert sorted(await Book.objects.filter(pages=1).values_list("title", flat=True)) == [
        "Draft 100%_done",
        "Emma",
    ]
    deleted = await Book.objects.order_by("-price")[:2].delete()
    assert deleted == 2
    assert sorted(await Book.objects.values_list("title", flat=True)) == [
        "Draft 100%_done",
        "Emma",
        "Persuasion",
    ]
    assert await Book.objects.filter(title="Nope").delete() == 0


async def test_iteration(books: list[Book]) -> None:
    seen = [b.title async for b in Book.objects.order_by("title")]
    assert seen[0] == "Anathem" and len(seen) == 5
    streamed = [b.title async for b in Book.objects.order_by("title").iterator(chunk_size=2)]
    assert streamed == seen
    values = [
        v async for v in Book.objects.order_by("title").values_list("title", flat=True).iterator(2)
    ]
    assert values == seen
    with pytest.raises(TypeError, match="async for"):
        for _ in Book.objects.all():  # type: ignore[attr-defined]
            pass


async def test_custom_queryset_manager(books: list[Book]) -> None:
    cheap = await Book.objects.cheap().order_by("title")
    assert titles(cheap) == ["Draft 100%_done", "Emma", "Persuasion"]
    assert await Book.objects.filter(author_name="Jane").cheap().count() == 2


async def test_sql_renders_for_current_dialect(books: list[Book]) -> None:
    sql = Book.objects.filter(title__startswith="A", price__gte=5).order_by("-price")[:10].sql()
    assert "books" in sql and "ORDER BY" in sql and "LIMIT" in sql.upper()


async def test_abandoned_iterator_returns_its_connection(books: list[Book]) -> None:
    for _ in range(3):
        async for _book in Book.objects.order_by("title").iterator(chunk_size=1):
            break
    # An abandoned async generator is closed by the event loop after it is
    # collected (asyncio's asyncgen finalizer), so the return is asynchronous.
    gc.collect()
    pool = connections["default"].engine.pool
    for _ in range(200):
        if pool.checkedout() == 0:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await Book.objects.count() == 5


async def test_nulls_first_and_last(books: list[Book]) -> None:
    last = await Book.objects.order_by(F("pages").desc(nulls_last=True)).values_list(
        "pages", flat=True
    )
    assert last == [937, 474, 412, 12, None]
    first = await Book.objects.order_by(F("pages").asc(nulls_first=True)).values_list(
        "pages", flat=True
    )
    assert first == [None, 12, 412, 474, 937]
    assert (await Book.objects.order_by(F("pages").desc(nulls_last=True)).last()).pages is None  # type: ignore[union-attr]


async def test_sessions_run_in_utc(db: str) -> None:
    """Date lookups and Now() are computed in the session zone, which flash_db pins to UTC."""
    import sqlalchemy as sa

    from flash_db import connections

    query = {
        "postgresql": "SHOW timezone",
        "mysql": "SELECT @@session.time_zone",
        "sqlite": "SELECT 'UTC'",  # SQLite's date functions work in UTC
    }[db]
    async with connections["default"].engine.connect() as conn:
        zone = (await conn.execute(sa.text(query))).scalar_one()
    assert zone in ("UTC", "+00:00", "Etc/UTC")


async def test_in_lists_of_any_length_share_one_statement(db: str) -> None:
    """``__in`` with a list is ``= ANY($1::T[])`` on PostgreSQL (one statement, one
    prepared plan, whatever the length) and SQLAlchemy's expanded IN elsewhere; the
    same QuerySet shape run with other lists and lengths (a compiled-cache hit) binds
    each call's own values."""
    import datetime as dt

    from flash_db.testing import count_queries

    from ..models import Everything

    days = [dt.date(2024, 1, d) for d in range(1, 8)]
    objs = [
        await Everything.objects.create(day=day, code="a" if d % 2 else None, level=d)
        for d, day in enumerate(days)
    ]
    statements = []
    for picked in ([days[0]], days[2:5], [days[6], days[1]], days[3:4]):
        async with count_queries() as queries:
            got = await Everything.objects.filter(day__in=picked, level__gte=0).order_by("id")
        assert [o.day for o in got] == sorted(picked)
        statements.extend(queries.statements)
    assert len(statements) == 4
    assert await Everything.objects.filter(day__in=[]) == []
    if db == "postgresql":
        assert len(set(statements)) == 1 and "= ANY (" in statements[0], statements
    else:
        assert all(" IN (" in s for s in statements), statements
    pks = [o.pk for o in objs]
    assert await Everything.objects.exclude(pk__in=pks[1:]).values_list("pk", flat=True) == pks[:1]
    assert await Everything.objects.filter(code__in=["a", None]).count() == 3  # NULL never matches
    assert await Everything.objects.filter(uid__in=[objs[2].uid, objs[4].uid]).count() == 2
    assert await Everything.objects.filter(pk__in=pks[:3], level__in=[0, 2, 9]).values_list(
        "level", flat=True
    ) == [0, 2]


@pytest.mark.parametrize(
    ("lookups", "count"),
    [
        ({"name__icontains": "coração"}, 1),
        ({"name__iexact": "coração ärger"}, 1),
        ({"name__istartswith": "corAÇão"}, 1),
        ({"name__iendswith": "ÄRGER"}, 1),
        ({"name__contains": "coração"}, 0),  # case-sensitive, as ever
        ({"name__contains": "ÇÃO"}, 1),
    ],
)
async def test_case_insensitive_lookups_fold_every_letter(
    db: str, lookups: dict[str, str], count: int
) -> None:
    """Non-ASCII letters fold too: SQLite's own lower() folds ASCII only, so flash_db
    gives SQLite connections a lower() and upper() that fold every letter (#18)."""
    await Author.objects.create(name="CORAÇÃO Ärger")
    assert await Author.objects.filter(**lookups).count() == count
    folded = await Author.objects.annotate(low=Lower("name")).values_list("low", flat=True)
    assert list(folded) == ["coração ärger"]
