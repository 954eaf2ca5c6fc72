"""Bad input is refused with one flash_db error that names the problem and the fix, the
same on every backend, before anything is written: never read as some other value.

Each test here is the one that would have caught a bug: ``get(pk="70abc")`` found row
70 on MariaDB; a JSON filter failed on PostgreSQL (``json = json``) and compared
spellings elsewhere; a misspelt ``update_or_create`` default was ignored when the row
existed; ``__range=(1,)`` failed inside Python's unpacking; NaN in a JSON value passed
validation.
"""

from __future__ import annotations

from typing import Any

import pytest

from flash_db import F, Q
from flash_db.exceptions import FieldError, ValidationError

from ..models import Author, Book, Counter, Everything, RelAuthor, RelBook, Tag

# -- get(pk=...) converts its value as filter(pk=...) does ---------------------------------


@pytest.mark.parametrize("key", ["pk", "id"])
async def test_get_by_pk_refuses_what_filter_refuses(db: str, key: str) -> None:
    ann = await Author.objects.create(name="Ann")
    bad = f"{ann.pk}abc"  # MariaDB read it as the number ann.pk and returned Ann
    with pytest.raises(FieldError) as by_filter:
        Author.objects.filter(**{key: bad})
    with pytest.raises(FieldError) as by_get:
        await Author.objects.get(**{key: bad})
    assert str(by_get.value) == str(by_filter.value)
    assert str(by_get.value) == f"invalid value for {key}: {bad!r} is not an integer"


async def test_get_by_pk_takes_a_numeric_string_as_filter_does(db: str) -> None:
    ann = await Author.objects.create(name="Ann")
    # bound as the string, PostgreSQL refused it (DataError)
    assert (await Author.objects.get(pk=str(ann.pk))).name == "Ann"
    assert (await Author.objects.get(id=str(ann.pk))).name == "Ann"
    assert (await Author.objects.filter(pk=str(ann.pk)).get()).name == "Ann"


async def test_get_by_uuid_pk_converts_the_string(db: str) -> None:
    counter = await Counter.objects.create(name="c")
    with pytest.raises(FieldError, match=r"^invalid value for pk: 'nope' is not a valid UUID$"):
        await Counter.objects.get(pk="nope")
    assert (await Counter.objects.get(pk=str(counter.key))).name == "c"


async def test_get_by_text_pk_compares_the_text(db: str) -> None:
    await Tag.objects.create(slug="70", label="seventy")
    assert (await Tag.objects.get(pk="70")).label == "seventy"
    with pytest.raises(Tag.DoesNotExist):
        await Tag.objects.get(pk="70abc")


# -- JSONField filters compare JSON values -------------------------------------------------

#: label -> the stored JSON value
STORED: dict[str, Any] = {
    "object": {"a": 1, "b": [1, 2, {"c": None}]},
    "list": [1, 2],
    "text": "str",
    "three": 3,
    "text three": "3",
    "half": 2.5,
    "true": True,
    "one": 1,
    "empty object": {},
    "empty list": [],
    "accent": "é",
    "null": None,
}


async def _store_json() -> None:
    for label, value in STORED.items():
        await Everything.objects.create(text=label, data=value)


async def _labels(**lookups: Any) -> set[str]:
    return set(await Everything.objects.filter(**lookups).values_list("text", flat=True))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, "b": [1, 2, {"c": None}]}, {"object"}),
        ({"b": [1, 2, {"c": None}], "a": 1}, {"object"}),  # keys in any order
        ({"a": 1}, set()),  # the whole value, not a part of it
        ([1, 2], {"list"}),
        ([2, 1], set()),  # arrays in order
        ("str", {"text"}),
        (3, {"three"}),
        (3.0, {"three"}),  # numbers by value
        ("3", {"text three"}),  # a string is not a number
        (2.5, {"half"}),
        (True, {"true"}),
        (1, {"one"}),  # JSON's true is not 1
        ({}, {"empty object"}),
        ([], {"empty list"}),
        ("é", {"accent"}),
    ],
)
async def test_json_exact_compares_values(db: str, value: Any, expected: set[str]) -> None:
    await _store_json()
    assert await _labels(data=value) == expected
    assert await _labels(data__exact=value) == expected
    # exclude() keeps the NULL row, as for every other field
    assert (
        set(await Everything.objects.exclude(data=value).values_list("text", flat=True))
        == set(STORED) - expected
    )


async def test_json_in_and_expressions(db: str) -> None:
    await _store_json()
    assert await _labels(data__in=[[1, 2], {"b": [1, 2, {"c": None}], "a": 1}, "x"]) == {
        "list",
        "object",
    }
    assert await _labels(data__in=[]) == set()
    assert await _labels(data=F("data")) == set(STORED) - {"null"}
    assert await _labels(data=None) == {"null"}
    assert await Everything.objects.filter(Q(data="str") | Q(data=True)).count() == 2


async def test_json_value_saved_is_found_by_the_same_value(db: str) -> None:
    obj = await Everything.objects.create(data={"z": [1.5, "é", None], "a": {"n": -2}})
    obj.data = {"a": {"n": -2}, "z": [1.5, "é", None], "new": False}
    await obj.save()
    assert await Everything.objects.filter(data=obj.data).count() == 1
    assert (
        await Everything.objects.filter(data={"z": [1.5, "é", None], "a": {"n": -2}}).count() == 0
    )


# -- get_or_create / update_or_create refuse unknown defaults ------------------------------


@pytest.mark.parametrize("exists", [True, False], ids=["row exists", "no row"])
@pytest.mark.parametrize("method", ["get_or_create", "update_or_create"])
async def test_unknown_default_is_refused_before_anything_is_written(
    db: str, method: str, exists: bool
) -> None:
    if exists:
        await Book.objects.create(title="Dune", pages=100)
    call = getattr(Book.objects, method)
    with pytest.raises(FieldError) as info:
        await call(defaults={"pages": 5, "misspelt": 5}, title="Dune")
    assert str(info.value) == (
        f"{method}(defaults=...): unknown field 'misspelt' on Book; "
        "choices: id, title, author_name, price, published, pages"
    )
    expected = [("Dune", 100)] if exists else []
    assert [tuple(row) for row in await Book.objects.values_list("title", "pages")] == expected


@pytest.mark.parametrize("method", ["get_or_create", "update_or_create"])
async def test_many_to_many_default_is_refused(db: str, method: str) -> None:
    ann = await RelAuthor.objects.create(name="Ann")
    with pytest.raises(FieldError, match=r"many-to-many relation 'tags' .* obj\.tags\.set"):
        await getattr(RelBook.objects, method)(defaults={"tags": []}, title="T", author=ann)
    assert await RelBook.objects.count() == 0


async def test_defaults_by_name_attname_and_relation_still_apply(db: str) -> None:
    ann = await RelAuthor.objects.create(name="Ann")
    bob = await RelAuthor.objects.create(name="Bob")
    book, created = await RelBook.objects.update_or_create(
        defaults={"author_id": ann.pk, "price": 3}, title="T"
    )
    assert created and book.author_id == ann.pk
    book, created = await RelBook.objects.update_or_create(
        defaults={"author": bob, "price": 4}, title="T"
    )
    assert not created
    stored = await RelBook.objects.get(pk=book.pk)
    assert (stored.author_id, stored.price) == (bob.pk, 4)
    _, created = await RelBook.objects.get_or_create(defaults={"price": 9}, title="T")
    assert not created
    assert (await RelBook.objects.get(pk=book.pk)).price == 4


# -- sequence lookups say what they need ---------------------------------------------------

RANGE = "range lookup on 'pages' needs a (low, high) pair"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((1,), f"{RANGE}, got (1,)"),
        ([1, 2, 3], f"{RANGE}, got [1, 2, 3]"),
        (5, f"{RANGE}, got 5"),
        ("15", f"{RANGE}, got '15'"),
        (
            (1, None),
            f"{RANGE} without None, got (1, None); for no upper bound use pages__gte=1",
        ),
        (
            (None, 9),
            f"{RANGE} without None, got (None, 9); for no lower bound use pages__lte=9",
        ),
    ],
)
async def test_range_needs_a_pair(db: str, value: Any, message: str) -> None:
    await Book.objects.create(title="a", pages=5)
    for build in (
        lambda: Book.objects.filter(pages__range=value),
        lambda: Book.objects.exclude(pages__range=value),
        lambda: Book.objects.filter(Q(pages__range=value) | Q(title="a")),
    ):
        with pytest.raises(FieldError) as info:
            build()
        assert str(info.value) == message
    assert await Book.objects.filter(pages__range=(1, 9)).count() == 1
    assert await Book.objects.filter(pages__range=[5, 5]).count() == 1


async def test_range_refuses_a_queryset(db: str) -> None:
    with pytest.raises(FieldError, match=r"^range lookup on 'pages' needs a \(low, high\) pair"):
        Book.objects.filter(pages__range=Book.objects.values_list("pages", flat=True))


async def test_in_names_the_single_value_lookup(db: str) -> None:
    await Book.objects.create(title="a", pages=5)
    with pytest.raises(FieldError) as info:
        Book.objects.filter(pages__in=5)
    assert str(info.value) == (
        "pages__in expects a list, tuple or QuerySet, got 5 (int); "
        "to compare with one value use pages=5"
    )
    assert await Book.objects.filter(pages__in=(5,)).count() == 1


@pytest.mark.parametrize("value", ["yes", 1, None])
async def test_isnull_takes_a_boolean(db: str, value: Any) -> None:
    with pytest.raises(FieldError) as info:
        Book.objects.filter(pages__isnull=value)
    assert str(info.value) == (
        f"isnull lookup on 'pages' takes True or False, got {value!r}; "
        "to compare with a value use pages=value"
    )


# -- JSON has no NaN or infinity ------------------------------------------------------------

NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"x": NAN}, "nan at ['x']"),
        (NAN, "nan"),
        ([1, [2, INF]], "inf at [1][1]"),
        ({"a": {"b": [-INF]}}, "-inf at ['a']['b'][0]"),
        ({"a": {NAN: 1}}, "the key nan at ['a']"),
    ],
)
async def test_json_refuses_nan_and_infinity(db: str, data: Any, where: str) -> None:
    message = (
        f"{where} is not a JSON number (JSON has no NaN or infinity); "
        "store None or a string instead"
    )
    with pytest.raises(ValidationError) as info:
        Everything(data=data).full_clean()
    assert info.value.errors == {"data": [message]}
    with pytest.raises(ValidationError) as info:
        await Everything.objects.create(data=data)
    assert str(info.value) == f"validation failed: data: {message}"
    assert await Everything.objects.count() == 0
    for build in (
        lambda: Everything.objects.filter(data=data),
        lambda: Everything.objects.filter(data__in=[[], data]),
        lambda: Everything.objects.exclude(data=data),
    ):
        with pytest.raises(FieldError) as by_filter:
            build()
        assert str(by_filter.value).endswith(message)
    with pytest.raises(FieldError, match=r"^invalid value for data: "):
        Everything.objects.filter(data=data)


async def test_nan_leaves_the_stored_value_as_it_was(db: str) -> None:
    obj = await Everything.objects.create(text="keep", data={"x": 1.5})
    obj.data = {"x": NAN}
    with pytest.raises(ValidationError):
        await obj.save()
    with pytest.raises(ValidationError):
        await Everything.objects.update_or_create(defaults={"data": [INF]}, text="keep")
    assert await Everything.objects.values_list("data", flat=True) == [{"x": 1.5}]
