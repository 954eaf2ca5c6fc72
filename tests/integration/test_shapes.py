"""QuerySet SELECTs cached per shape (``flash_db.query.shapes``), on every backend.

A shaped fetch must return exactly what the statement built per call returns, for
every value type, slice and kind of result; anything that cannot be replayed with
parameters must drop the shape, and a shape whose replay differs from the ordinary
statement must be built per call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from flash_db import F, Q, fields
from flash_db.exceptions import FieldError
from flash_db.lookups import Exact
from flash_db.query import shapes
from flash_db.query.executor import READS_ROWS, REUSED
from flash_db.testing import count_queries

from ..models import Author, Book, Everything, RelAuthor, RelBook, RelPublisher


def test_builders_keep_or_drop_the_shape() -> None:
    kept = [
        Author.objects.all(),
        Author.objects.filter(name="a", active=True),
        Author.objects.exclude(email="x").order_by("-name")[2:5],
        Author.objects.filter(id__gte=1).values("name"),
        Author.objects.filter(id__lt=3).values_list("id", flat=True).using("default"),
        Book.objects.cheap(),
        RelAuthor.objects.filter(books__title="t"),
    ]
    for qs in kept:
        assert qs._state.shape is not None, qs
    dropped = [
        Author.objects.filter(Q(name="a")),
        Author.objects.filter(email=None),
        Author.objects.filter(name__startswith="a"),
        Author.objects.filter(id__in=[1, 2]),
        Author.objects.filter(id=F("id")),
        Author.objects.filter(name="a").distinct(),
        Author.objects.filter(name="a").reverse(),
        Author.objects.order_by(F("name").desc()),
        Author.objects.annotate(n=sa.literal(1)),
        RelBook.objects.select_related("author").filter(title="t"),
        Author.objects.filter(name="a").none(),
        Author.objects.filter(joined__year=2020),
        # a boolean an integer field converts binds as a value: built per call
        Everything.objects.filter(small=True),
    ]
    for qs in dropped:
        assert qs._state.shape is None, qs
    qs = Author.objects.filter(name="a", id__gt=2, active=False)
    # booleans are compared with true()/false(), so they are part of the shape
    assert qs._state.shape_values == (2, "a")


@pytest.fixture
def per_call(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Any]:
    """Runs a QuerySet factory with the shape statements switched off."""

    async def run(factory: Callable[[], Any]) -> Any:
        with monkeypatch.context() as patch:
            patch.setattr(shapes, "select", lambda qs, purpose=shapes.FETCH: None)
            return await factory()

    return run


def _plain(result: Any) -> Any:
    if isinstance(result, list):
        return [_plain(r) for r in result]
    if hasattr(result, "_meta"):
        return {f.attname: result.__dict__.get(f.attname) for f in result._meta.concrete_fields}
    return result


async def _rows() -> list[Everything]:
    rows = []
    for k in range(6):
        rows.append(
            await Everything.objects.create(
                small=k,
                big=10**12 + k,
                ratio=k / 4,
                amount=Decimal(k) / 8,
                text=f"text {k}",
                flag=k % 2 == 0,
                day=dt.date(2024, 1, 1 + k),
                naive=dt.datetime(2024, 2, 1, 10, k),
                at=dt.time(8, k),
                span=dt.timedelta(minutes=k),
                uid=uuid.UUID(int=k + 1),
                level=k if k % 3 else None,
                code="a" if k < 3 else "b",
            )
        )
    return rows


async def test_shaped_fetches_return_what_per_call_statements_do(
    db: str, per_call: Callable[[Any], Any]
) -> None:
    rows = await _rows()
    objects = Everything.objects
    factories: list[Callable[[], Any]] = []
    for k in (1, 3, 4):
        factories += [
            lambda k=k: objects.filter(small=k),
            lambda k=k: objects.filter(small__gte=k).order_by("-small"),
            lambda k=k: objects.filter(big__lt=10**12 + k, text__gt="text 0"),
            lambda k=k: objects.filter(ratio__lte=k / 4).order_by("ratio")[1:3],
            lambda k=k: objects.filter(amount__gt=Decimal(k) / 8)[1:],
            lambda k=k: objects.filter(text=f"text {k}").values("small", "text"),
            lambda k=k: objects.filter(flag=k % 2 == 0).values_list("small", flat=True),
            lambda k=k: objects.filter(day__gte=dt.date(2024, 1, k)).order_by("day")[:2],
            lambda k=k: objects.filter(naive__lt=dt.datetime(2024, 2, 1, 10, k)),
            lambda k=k: objects.filter(at__gte=dt.time(8, k)).values_list("at", "small"),
            lambda k=k: objects.filter(span__gt=dt.timedelta(minutes=k)),
            lambda k=k: objects.filter(uid=uuid.UUID(int=k + 1)).values("small"),
            # exclude() keeps the rows where the column is NULL, as per call
            lambda k=k: objects.exclude(level=k).order_by("small"),
            lambda k=k: objects.exclude(level__lt=k, code="a").order_by("small"),
            lambda k=k: objects.filter(created__lte=rows[k].created).order_by("small")[:3],
            lambda k=k: objects.filter(pk=rows[k].pk).first(),
            lambda k=k: objects.get(small=k, code="a" if k < 3 else "b"),
        ]
    before = dict(shapes._SELECTS.get(Everything, {}))
    for factory in factories:
        shaped = await factory()
        expected = await per_call(factory)
        assert _plain(shaped) == _plain(expected), factory
        assert shaped == expected
    entries = {k: v for k, v in shapes._SELECTS[Everything].items() if k not in before}
    # every one of these shapes is cached (flag=True and flag=False are two), and the
    # values changed the statement of none
    assert len(entries) == 18 and all(v is not None for v in entries.values()), entries


async def test_one_statement_per_shape(db: str) -> None:
    await _rows()
    shapes._SELECTS.pop(Everything, None)
    async with count_queries() as log:
        found = [
            await Everything.objects.filter(small__gte=k, flag=True).order_by("small")[:2]
            for k in range(5)
        ]
    assert [[r.small for r in rows] for rows in found] == [[0, 2], [2, 4], [2, 4], [4], [4]]
    assert len(log.statements) == 5 and len(set(log.statements)) == 1, log.statements
    assert len(shapes._SELECTS[Everything]) == 1


@fields.IntegerField.register_lookup
class _Doubled(Exact):
    """Claims to bind its value as it is, but computes on it: its shape fails the check."""

    lookup_name = "shape_test_doubled"
    binds_value = True

    def as_sql(self, lhs: Any, rhs: Any) -> Any:
        return lhs == rhs * 2


async def test_a_shape_that_fails_the_check_is_built_per_call(db: str) -> None:
    await _rows()
    shapes._SELECTS.pop(Everything, None)
    for k in (1, 2):
        rows = await Everything.objects.filter(small__shape_test_doubled=k)
        assert [r.small for r in rows] == [2 * k]
    ((key, entry),) = shapes._SELECTS[Everything].items()
    assert entry is None, key


async def test_relation_paths_and_custom_querysets(db: str, per_call: Callable[[Any], Any]) -> None:
    press = await RelPublisher.objects.create(name="press")
    for name in ("ann", "bob"):
        author = await RelAuthor.objects.create(name=name, publisher=press)
        for n in range(3):
            await RelBook.objects.create(title=f"{name} {n}", author=author, price=n)
    for name in ("ann", "bob"):
        qs = RelBook.objects.filter(author__name=name, price__gte=1)
        assert qs._state.shape is not None
        assert [b.title for b in await qs] == [f"{name} 1", f"{name} 2"]
        assert _plain(await qs) == _plain(await per_call(lambda qs=qs: qs.all()))
        via_pk = RelBook.objects.filter(author=await RelAuthor.objects.get(name=name))
        assert via_pk._state.shape is None  # an instance as the value: built per call
        assert len(await via_pk) == 3
    await Book.objects.create(title="cheap", price=Decimal("1.50"))
    await Book.objects.create(title="dear", price=Decimal("9.00"))
    for _ in range(2):
        assert [b.title for b in await Book.objects.cheap()] == ["cheap"]
    key = next(k for k in shapes._SELECTS[Book] if k[2] and k[2][0][2] == ("price__lt",))
    assert key[0] is type(Book.objects.cheap()) and shapes._SELECTS[Book][key] is not None


async def test_none_and_lists_still_work_without_a_shape(db: str) -> None:
    await Author.objects.create(name="a", email=None)
    await Author.objects.create(name="b", email="b@x")
    assert [a.name for a in await Author.objects.filter(email=None)] == ["a"]
    assert [a.name for a in await Author.objects.exclude(email="b@x")] == ["a"]
    assert [a.name for a in await Author.objects.filter(name__in=["a", "b"])] == ["a", "b"]


def test_pending_filters_raise_at_the_call() -> None:
    """A shaped filter is resolved later, but bad input still fails at filter()."""
    with pytest.raises(FieldError, match="nope"):
        Author.objects.filter(nope=1)
    with pytest.raises(FieldError, match="invalid value for id__gte"):
        Author.objects.filter(id__gte="abc")
    with pytest.raises(FieldError, match="invalid value for small"):
        Everything.objects.exclude(small="x")
    with pytest.raises(TypeError, match="sliced"):
        Author.objects.all()[:2].filter(name="a")
    qs = Author.objects.filter(name="a", id__gt=2)
    assert len(qs._raw.pending) == 1 and qs._raw.where == ()
    assert len(qs._state.where) == 2 and qs._raw.pending == ()  # resolved once, kept


async def test_pending_filters_resolve_for_every_other_use(db: str) -> None:
    """count(), exists(), update(), delete(), subqueries, sql(), iterator(), joins made
    after the filter: each sees the conditions the filter would have made at once."""
    press = await RelPublisher.objects.create(name="press")
    other = await RelPublisher.objects.create(name="other")
    for name, publisher in (("ann", press), ("bob", press), ("cy", other)):
        author = await RelAuthor.objects.create(name=name, publisher=publisher)
        for n in range(3):
            await RelBook.objects.create(title=f"{name} {n}", author=author, price=n)

    def pair(**kwargs: Any) -> tuple[Any, Any]:
        """The same filter shaped (pending) and through Q (resolved at once)."""
        shaped = RelBook.objects.filter(**kwargs)
        assert shaped._raw.pending
        return shaped, RelBook.objects.filter(Q(**kwargs))

    shaped, eager = pair(author__name="ann", price__gte=1)
    assert await shaped.count() == await eager.count() == 2
    assert await shaped.exists() and await eager.exists()
    assert (
        shaped.order_by("author__name", "title").sql()
        == eager.order_by("author__name", "title").sql()
    )
    assert [b.title for b in await shaped.order_by("-author__name", "title")] == ["ann 1", "ann 2"]
    assert [b.title async for b in shaped.order_by("title").iterator()] == ["ann 1", "ann 2"]
    assert [b.title for b in await shaped.select_related("author").order_by("title")] == [
        "ann 1",
        "ann 2",
    ]
    in_press = RelAuthor.objects.filter(publisher__name="press").values_list("id", flat=True)
    assert [b.title for b in await RelBook.objects.filter(author__in=in_press, price=2)] == [
        "ann 2",
        "bob 2",
    ]
    shaped, _ = pair(author__name="bob", price__lt=2)
    assert await shaped.update(price=7) == 2
    shaped, _ = pair(author__name="bob", price=7)
    assert await shaped.delete() == 2
    assert await RelBook.objects.filter(author__name="bob").count() == 1
    # exclude() across a reverse relation: authors with no book priced 2
    assert [a.name for a in await RelAuthor.objects.exclude(books__price=2)] == []
    assert [a.name for a in await RelAuthor.objects.exclude(books__price=1).order_by("name")] == [
        "bob"
    ]


async def test_count_and_exists_by_shape(db: str, per_call: Callable[[Any], Any]) -> None:
    await _rows()
    shapes._SELECTS.pop(Everything, None)
    objects = Everything.objects
    for k in range(7):
        factories = [
            lambda k=k: objects.filter(small__gte=k).count(),
            lambda k=k: objects.exclude(level=k).count(),
            lambda k=k: objects.filter(small__lt=k, flag=True).exists(),
            lambda k=k: objects.filter(small__gte=k).order_by("small")[1:].exists(),
            lambda k=k: objects.filter(small__gte=k)[:2].count(),  # a slice: per call
        ]
        for factory in factories:
            assert await factory() == await per_call(factory), (k, factory)
    assert await objects.filter(small__gte=2).count() == 4
    assert await objects.filter(small__gte=5).order_by("small")[1:].exists() is False
    entries = shapes._SELECTS[Everything]
    purposes = sorted(key[1] for key, entry in entries.items() if entry is not None)
    assert purposes == ["count", "count", "exists", "exists"], entries


async def test_a_shape_without_values_runs_by_its_compiled_form(db: str) -> None:
    """No values, no slice: nothing to bind, so the statement runs as a READS_ROWS one
    (the driver path by its compiled form), not through SQLAlchemy's execute."""
    await _rows()
    shapes._SELECTS.pop(Everything, None)
    for _ in range(2):
        rows = await Everything.objects.filter(flag=True).order_by("-small")
        assert [r.small for r in rows] == [4, 2, 0]
        assert await Everything.objects.filter(flag=False).count() == 3
    found = shapes.select(Everything.objects.filter(flag=True).order_by("-small"))
    assert found is not None and found[2] is None
    options = found[0]._execution_options
    assert options.get(READS_ROWS) and not options.get(REUSED)
