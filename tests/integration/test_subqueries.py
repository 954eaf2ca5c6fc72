"""Subquery, Exists, OuterRef, Case/When on every backend (api.md §3)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flash_db import Case, Count, Exists, OuterRef, Q, Subquery, Sum, Value, When
from flash_db.exceptions import NotSupportedError

from ..models import Author, Book


@pytest.fixture
async def library(db: str) -> None:
    for name in ("Ann", "Bob", "Cy"):
        await Author.objects.create(name=name)
    await Book.objects.bulk_create(
        [
            Book(title="x", author_name="Ann", price=Decimal(3), pages=100),
            Book(title="y", author_name="Ann", price=Decimal(12), pages=300),
            Book(title="z", author_name="Bob", price=Decimal(7), pages=200),
        ]
    )


async def test_subquery_annotation(library: None) -> None:
    priciest = Book.objects.filter(author_name=OuterRef("name")).order_by("-price")
    rows = await Author.objects.annotate(best=Subquery(priciest.values("title")[:1])).values_list(
        "name", "best"
    )
    assert rows == [("Ann", "y"), ("Bob", "z"), ("Cy", None)]


async def test_subquery_in_filter(library: None) -> None:
    pages = Book.objects.filter(author_name=OuterRef("name")).order_by("-pages").values("pages")[:1]
    assert await Author.objects.annotate(most=Subquery(pages)).filter(most__gt=250).count() == 1


async def test_exists_and_not_exists(library: None) -> None:
    dear = Book.objects.filter(author_name=OuterRef("name"), price__gt=10)
    assert await Author.objects.filter(Exists(dear)).values_list("name", flat=True) == ["Ann"]
    none = Book.objects.filter(author_name=OuterRef("name"))
    assert await Author.objects.filter(~Exists(none)).values_list("name", flat=True) == ["Cy"]
    flags = await Author.objects.annotate(has=Exists(none)).values_list("name", "has")
    assert flags == [("Ann", True), ("Bob", True), ("Cy", False)]


async def test_case_when(library: None) -> None:
    band = Case(
        When(price__lt=5, then=Value("cheap")),
        When(Q(price__gt=10), then=Value("dear")),
        default=Value("mid"),
    )
    rows = await Book.objects.annotate(band=band).order_by("title").values_list("title", "band")
    assert rows == [("x", "cheap"), ("y", "dear"), ("z", "mid")]
    # then= a field name refers to the field, as in Django
    picked = await Book.objects.annotate(
        v=Case(When(pages__gt=150, then="title"), default=Value("-"))
    )
    assert sorted(b.v for b in picked) == ["-", "y", "z"]
    counted = await Book.objects.aggregate(
        dear=Sum(Case(When(price__gt=5, then=Value(1)), default=Value(0)))
    )
    assert counted["dear"] == 2


async def test_integer_sum_is_int_everywhere(library: None) -> None:
    result = await Book.objects.aggregate(pages=Sum("pages"), n=Count("id"))
    assert result == {"pages": 600, "n": 3}
    assert type(result["pages"]) is int


async def test_outer_ref_outside_a_subquery_is_a_clear_error(library: None) -> None:
    with pytest.raises(NotSupportedError, match="only meaningful inside Subquery"):
        await Book.objects.filter(author_name=OuterRef("name"))
