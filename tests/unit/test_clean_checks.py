"""``full_clean()`` skips ``Field.clean()`` for values that pass their field's generated
check: the outcome must be exactly ``clean()``'s for every value, valid or not."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest

from flash_db import Model, fields
from flash_db.exceptions import ValidationError
from flash_db.models import Registry


class Sample(Model, registry=Registry()):
    small = fields.SmallIntegerField(default=0)
    count = fields.IntegerField(null=True, min_value=-5, max_value=5)
    big = fields.BigIntegerField(default=0)
    ratio = fields.FloatField(null=True)
    bounded = fields.FloatField(default=0.0, min_value=0.0, max_value=1.0)
    name = fields.CharField(max_length=5)
    text = fields.TextField(default="")
    flag = fields.BooleanField(default=False)
    maybe = fields.BooleanField(null=True)
    day = fields.DateField(null=True)
    at = fields.DateTimeField(null=True)
    stamped = fields.DateTimeField(auto_now_add=True)
    clock = fields.TimeField(null=True)
    span = fields.DurationField(null=True)
    uid = fields.UUIDField(default=uuid.uuid4)
    amount = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    price = fields.DecimalField(
        max_digits=4, decimal_places=0, min_value=Decimal(-5), max_value=Decimal(10), default=0
    )
    code = fields.CharField(max_length=3, choices=[("a", "A")], null=True)
    checked = fields.IntegerField(null=True, validators=[lambda v: None])

    class Meta:
        app_label = "clean_checks"


CANDIDATES: list[Any] = [
    None,
    0,
    -5,
    5,
    6,
    -32769,
    2**63,
    True,
    False,
    1.0,
    0.5,
    1.5,
    math.nan,
    math.inf,
    -math.inf,
    "",
    "abc",
    "abcdef",
    "1",
    "true",
    "2024-02-29",
    Decimal("1.25"),
    Decimal("1.255"),
    Decimal("-1.2"),
    Decimal("999.99"),
    Decimal("1000"),
    Decimal("1E+3"),
    Decimal("1E+2"),
    Decimal("0E-5"),
    Decimal("0.000"),
    Decimal("5.0"),
    Decimal("10"),
    Decimal("11"),
    Decimal("-6"),
    Decimal("NaN"),
    Decimal("sNaN"),
    Decimal("Infinity"),
    Decimal("-Infinity"),
    dt.date(2024, 2, 29),
    dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC),
    dt.datetime(2024, 2, 29, 12),
    dt.time(1, 2, 3),
    dt.timedelta(seconds=5),
    uuid.UUID(int=1),
    b"x",
]


def _by_clean(field: Any, value: Any, obj: Any) -> tuple[str, Any]:
    try:
        return "ok", field.clean(value, obj)
    except ValidationError as exc:
        return "error", exc.messages


@pytest.mark.parametrize("name", [f.name for f in Sample._meta.concrete_fields if f.name != "id"])
def test_generated_checks_agree_with_clean(name: str) -> None:
    field = Sample._meta.get_field(name)
    for value in CANDIDATES:
        obj = Sample(name="ok")
        obj.__dict__[field.attname] = value
        expected = _by_clean(field, value, obj)
        try:
            obj.clean_fields()
            got: tuple[str, Any] = ("ok", obj.__dict__[field.attname])
        except ValidationError as exc:
            assert set(exc.errors) == {name}, (value, exc.errors)
            got = ("error", exc.errors[name])
        assert got == expected, (name, value)
        if got[0] == "ok":
            assert type(got[1]) is type(expected[1])
        # the same with every other field excluded (save(update_fields=[name]) does so)
        obj = Sample(name="ok")
        obj.__dict__[field.attname] = value
        others = [f.name for f in Sample._meta.concrete_fields if f.name != name]
        try:
            obj.clean_fields(exclude=others)
            got = ("ok", obj.__dict__[field.attname])
        except ValidationError as exc:
            assert set(exc.errors) == {name}, (value, exc.errors)
            got = ("error", exc.errors[name])
        assert got == expected, (name, value, "excluding the others")


def test_excluded_fields_are_not_checked() -> None:
    obj = Sample(name="far too long", count=99)
    with pytest.raises(ValidationError) as info:
        obj.clean_fields(exclude=("count",))
    assert set(info.value.errors) == {"name"}
    obj.clean_fields(exclude=["name", "count"])  # a list works as well as a tuple
    with pytest.raises(ValidationError) as info:
        obj.clean_fields()
    assert set(info.value.errors) == {"name", "count"}


def test_checks_are_inline_only_where_clean_would_change_nothing() -> None:
    """Validators and choices always go through clean()."""
    obj = Sample(name="ok", amount=Decimal("1.00"), code="a", checked=1)
    failed = Sample._meta._clean_checks(obj.__dict__)  # built by the test above or here
    assert {f.name for f in failed} == {"code", "checked"}


def test_a_subclass_that_overrides_to_python_keeps_clean() -> None:
    class Upper(fields.CharField[Any]):
        def to_python(self, value: Any) -> Any:
            return None if value is None else str(value).upper()

    names: dict[str, Any] = {}
    assert Upper(max_length=3).clean_check("v", names) is None
    assert fields.CharField(max_length=3).clean_check("v", names) is not None
