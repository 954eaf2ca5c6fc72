"""Every scalar field type round-trips with the same Python value on every backend."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from flash_db.exceptions import FieldError, ValidationError

from ..models import Everything, Priority, Status


async def test_round_trip_every_type(db: str) -> None:
    uid = uuid.uuid4()
    at = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    obj = await Everything.objects.create(
        small=-32768,
        big=2**62,
        ratio=0.1,
        amount=Decimal("1234567.891"),
        text="ünïcödé ✓ " * 100,
        flag=False,
        day=dt.date(2024, 2, 29),
        naive=dt.datetime(2020, 1, 1, 12, 30, 0, 654321),
        at=dt.time(13, 14, 15, 161718),
        span=dt.timedelta(days=-1, seconds=5, microseconds=7),
        uid=uid,
        data={"a": [1, 2, {"b": None}], "ok": True},
        blob=b"\x00\xffbinary",
        status=Status.LIVE,
        priority=Priority.HIGH,
        code="a",
        level=10,
    )
    obj.created = at
    await obj.save()
    got = await Everything.objects.get(pk=obj.pk)
    assert got.small == -32768
    assert got.big == 2**62
    assert got.ratio == pytest.approx(0.1)
    assert got.amount == Decimal("1234567.891")
    assert got.text == "ünïcödé ✓ " * 100
    assert got.flag is False
    assert got.day == dt.date(2024, 2, 29)
    assert got.naive == dt.datetime(2020, 1, 1, 12, 30, 0, 654321)
    assert got.at == dt.time(13, 14, 15, 161718)
    assert got.span == dt.timedelta(days=-1, seconds=5, microseconds=7)
    assert got.uid == uid
    assert got.data == {"a": [1, 2, {"b": None}], "ok": True}
    assert got.blob == b"\x00\xffbinary"
    assert got.status is Status.LIVE
    assert got.priority is Priority.HIGH
    # aware datetimes come back in UTC, same instant
    assert got.created == at
    assert got.created.utcoffset() == dt.timedelta(0)
    assert got.updated >= got.created.replace(year=2024) or got.updated.tzinfo is not None


async def test_every_result_shape_reads_the_same_values(db: str) -> None:
    """Instances, values(), values_list() (plain, flat, named) are built from the
    driver's rows by generated loops that apply each column's result processor: every
    shape must give what ``get()`` gives, for every type, and for NULLs."""
    full = await Everything.objects.create(
        ratio=2.5,
        amount=Decimal("-0.125"),
        flag=True,
        day=dt.date(2001, 2, 3),
        naive=dt.datetime(2001, 2, 3, 4, 5, 6, 7),
        at=dt.time(1, 2, 3, 4),
        span=dt.timedelta(seconds=90),
        data=[1, "two"],
        blob=b"\x01",
        status=Status.LIVE,
        priority=Priority.HIGH,
        level=3,
    )
    empty = await Everything.objects.create()
    names = [f.attname for f in Everything._meta.concrete_fields]
    qs = Everything.objects.order_by("pk")
    expected = [{n: getattr(await qs.get(pk=o.pk), n) for n in names} for o in (full, empty)]
    assert [{n: getattr(o, n) for n in names} for o in await qs] == expected
    assert await qs.values() == expected
    assert await qs.values_list(*names) == [tuple(e.values()) for e in expected]
    for name in ("flag", "created", "amount", "status", "data", "span"):
        assert await qs.values_list(name, flat=True) == [e[name] for e in expected]
    named = await qs.values_list(*names, named=True)
    assert [r._asdict() for r in named] == expected
    assert expected[0]["flag"] is True and expected[1]["flag"] is None
    assert expected[0]["status"] is Status.LIVE and expected[0]["priority"] is Priority.HIGH


async def test_nulls_and_defaults(db: str) -> None:
    obj = await Everything.objects.create()
    got = await Everything.objects.get(pk=obj.pk)
    assert got.small == 0 and got.text == "" and got.status is Status.DRAFT
    assert got.ratio is None and got.data is None and got.priority is None
    assert isinstance(got.uid, uuid.UUID)
    assert await Everything.objects.filter(data=None).count() == 1
    assert await Everything.objects.filter(data__isnull=True, priority=None).count() == 1


async def test_auto_now_updates_on_save(db: str) -> None:
    obj = await Everything.objects.create()
    created, updated = obj.created, obj.updated
    await obj.save()
    assert obj.created == created
    assert obj.updated >= updated


async def test_filters_on_typed_values(db: str) -> None:
    await Everything.objects.create(
        status=Status.LIVE, priority=Priority.LOW, day=dt.date(2023, 5, 6)
    )
    await Everything.objects.create(status=Status.DRAFT, day=dt.date(2024, 7, 8))
    assert await Everything.objects.filter(status=Status.LIVE).count() == 1
    assert await Everything.objects.filter(status="live").count() == 1
    assert await Everything.objects.filter(priority__in=[Priority.LOW, Priority.HIGH]).count() == 1
    assert await Everything.objects.filter(day__gte="2024-01-01").count() == 1
    assert (
        await Everything.objects.filter(created__date=dt.datetime.now(dt.UTC).date()).count() == 2
    )
    assert await Everything.objects.filter(created__year=dt.datetime.now(dt.UTC).year).count() == 2
    with pytest.raises(FieldError, match="invalid value for status"):
        Everything.objects.filter(status="nope")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"code": "z"}, "code", "not one of the choices"),
        ({"level": 11}, "level", "less than or equal to 10"),
        ({"level": -1}, "level", "greater than or equal to 0"),
        ({"small": 40000}, "small", "less than or equal to 32767"),
        ({"amount": Decimal("12345678.9")}, "amount", "digits before the point"),
        ({"amount": Decimal("1.2345")}, "amount", "decimal places"),
        ({"ratio": float("nan")}, "ratio", "NaN"),
        ({"uid": "not-a-uuid"}, "uid", "not a valid UUID"),
        ({"status": "gone"}, "status", "not a valid Status"),
        ({"day": "2024-13-01"}, "day", "not a valid date"),
        ({"data": {"x": object()}}, "data", "JSON"),
        ({"blob": "text"}, "blob", "not bytes"),
        ({"text": None}, "text", "cannot be null"),
    ],
)
async def test_field_validation_blocks_the_write(
    db: str, values: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await Everything.objects.create(**values)
    assert field in info.value.errors
    assert message in " ".join(info.value.errors[field])
    assert await Everything.objects.count() == 0


async def test_plain_columns_on_asyncpg_skip_sqlalchemys_rows(db: str, backend: str) -> None:
    """A model of strings, booleans and aware datetimes needs no result processor on
    asyncpg: the fetch hands its records on unwrapped. The other drivers return
    integers for booleans and naive datetimes, which processors convert."""
    from flash_db import connections
    from flash_db.query import hydrate

    from ..models import Author

    await Author.objects.create(name="Ann")
    table = Author._meta.table
    result = await connections.execute("default", sa.select(table))
    rows, processors = hydrate.fetch_all(result)
    assert len(rows) == 1
    if backend == "postgresql":
        assert processors is None
        assert type(rows[0]).__module__.startswith("asyncpg")
    else:
        assert processors is not None
        assert processors[list(table.c.keys()).index("active")] is not None


async def test_an_aware_datetime_for_a_naive_column_is_refused(db: str) -> None:
    """DateTimeField(timezone=False) holds naive datetimes, which say nothing of their zone:
    an aware value is refused by the field, with its name, on every backend (on
    PostgreSQL it reached the user as the driver's "can't subtract offset-naive and
    offset-aware datetimes") (#18)."""
    noon = dt.datetime(2022, 1, 10, 12, 0)
    await Everything.objects.create(naive=noon)
    aware = noon.replace(tzinfo=dt.UTC)
    with pytest.raises(FieldError, match=r"naive: .* has a time zone.*timezone=False"):
        await Everything.objects.filter(naive=aware).count()
    with pytest.raises(FieldError, match="has a time zone"):
        await Everything.objects.filter(naive__gte="2022-01-10T00:00:00+01:00").count()
    with pytest.raises(ValidationError) as refused:
        await Everything.objects.create(naive=aware)
    assert list(refused.value.errors) == ["naive"]
    assert await Everything.objects.filter(naive=noon).count() == 1
    assert await Everything.objects.count() == 1
