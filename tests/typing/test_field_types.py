"""Static types of fields, managers and QuerySets, checked by mypy (``[tool.mypy] files``).

Nothing here runs as a test: the checks live in functions that are never called, so
pytest can import the module without a database. ``# type: ignore[...]`` lines prove that
mypy reports an error there (``warn_unused_ignores`` makes an unneeded ignore an error).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any, Literal, assert_type

from flash_db import Manager, Model, QuerySet, fields


class Status(enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class TypedAuthor(Model):
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, null=True)
    bio = fields.TextField()
    age = fields.IntegerField()
    followers = fields.BigIntegerField(null=True)
    rank = fields.SmallIntegerField()
    balance = fields.DecimalField(max_digits=10, decimal_places=2)
    joined = fields.DateTimeField()
    born = fields.DateField()
    wakes = fields.TimeField()
    slept = fields.DurationField()
    uid = fields.UUIDField()
    active = fields.BooleanField()
    score = fields.FloatField()
    avatar = fields.BinaryField()
    status = fields.EnumField(Status)
    data = fields.JSONField()
    nick = fields.TextField(null=True)
    seen = fields.DateTimeField(null=True)
    ratio = fields.FloatField(null=True)
    maybe_status = fields.EnumField(Status, null=True)

    class Meta:
        app_label = "typing"
        table = "typing_authors"


def check_instance_access(author: TypedAuthor) -> None:
    assert_type(author.name, str)
    assert_type(author.email, str | None)
    assert_type(author.bio, str)
    assert_type(author.age, int)
    assert_type(author.followers, int | None)
    assert_type(author.rank, int)
    assert_type(author.balance, decimal.Decimal)
    assert_type(author.joined, dt.datetime)
    assert_type(author.born, dt.date)
    assert_type(author.wakes, dt.time)
    assert_type(author.slept, dt.timedelta)
    assert_type(author.uid, uuid.UUID)
    assert_type(author.active, bool)
    assert_type(author.score, float)
    assert_type(author.avatar, bytes)
    assert_type(author.status, Status)
    assert_type(author.data, Any)
    assert_type(author.nick, str | None)
    assert_type(author.seen, dt.datetime | None)
    assert_type(author.ratio, float | None)
    assert_type(author.maybe_status, Status | None)
    assert_type(author.pk, Any)


def check_assignment(author: TypedAuthor) -> None:
    author.name = "Ann"
    author.email = None
    author.email = "ann@example.com"
    author.followers = None
    author.status = Status.LIVE
    author.data = {"any": ["json"]}
    author.name = 3  # type: ignore[assignment]
    author.name = None  # type: ignore[assignment]
    author.age = "3"  # type: ignore[assignment]
    author.status = "draft"  # type: ignore[assignment]
    author.balance = 1.5  # type: ignore[assignment]
    author.joined = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    author.seen = None
    author.joined = dt.date(2024, 1, 1)  # type: ignore[assignment]
    author.joined = None  # type: ignore[assignment]
    author.born = dt.date(2024, 1, 1)
    _ = author.objects  # type: ignore[arg-type]  # managers are not reachable from instances


def check_class_access() -> None:
    assert_type(TypedAuthor.name, fields.CharField[Literal[False]])
    assert_type(TypedAuthor.email, fields.CharField[Literal[True]])
    assert_type(TypedAuthor.age, fields.IntegerField[Literal[False]])
    assert_type(TypedAuthor.followers, fields.BigIntegerField[Literal[True]])
    assert_type(TypedAuthor.status, fields.EnumField[Status, Literal[False]])
    assert_type(TypedAuthor.joined, fields.DateTimeField[Literal[False]])
    assert_type(TypedAuthor.seen, fields.DateTimeField[Literal[True]])
    assert_type(TypedAuthor.objects, Manager[TypedAuthor])


async def check_queries() -> None:
    objects = TypedAuthor.objects
    assert_type(await objects.get(), TypedAuthor)
    assert_type(await objects.get(pk=1), TypedAuthor)
    assert_type(await objects.create(name="Ann"), TypedAuthor)
    assert_type(await objects.first(), TypedAuthor | None)
    assert_type(await objects.count(), int)
    assert_type(await objects.exists(), bool)
    assert_type(objects.filter(name="Ann"), QuerySet[TypedAuthor])
    assert_type(await objects.filter(name="Ann"), list[TypedAuthor])
    assert_type(await objects.all(), list[TypedAuthor])
    assert_type(objects.order_by("-age")[10:20], QuerySet[TypedAuthor])
    assert_type(await objects.exclude(age__gt=3).order_by("-age")[:10], list[TypedAuthor])
    assert_type(await objects.all()[3], TypedAuthor)
    assert_type(await objects.values("name")[:5], list[dict[str, Any]])
    assert_type(await objects.filter(age=1).filter(name="x").get(), TypedAuthor)
    assert_type(await objects.filter(age=1).first(), TypedAuthor | None)
    assert_type(await objects.values("name"), list[dict[str, Any]])
    assert_type(await objects.filter(age=1).values("name"), list[dict[str, Any]])
    assert_type(await objects.get_or_create(name="Ann"), tuple[TypedAuthor, bool])
    assert_type(await objects.in_bulk([1, 2]), dict[Any, TypedAuthor])
    assert_type(await objects.bulk_create([TypedAuthor(name="x")]), list[TypedAuthor])
    assert_type(await objects.update(age=3), int)
    assert_type(await objects.delete(), int)
    assert_type(await objects.aggregate(), dict[str, Any])
    async for author in objects.filter(age=1):
        assert_type(author, TypedAuthor)
    async for author in objects.iterator():
        assert_type(author, TypedAuthor)
    await objects.bulk_create([1])  # type: ignore[list-item]


def test_runtime_agrees_with_the_declared_types() -> None:
    """The one runtime check here: class access is the field, instance access the value."""
    assert isinstance(TypedAuthor.name, fields.CharField)
    assert isinstance(TypedAuthor.joined, fields.DateTimeField)
    assert isinstance(TypedAuthor.objects, Manager)
    author = TypedAuthor(name="Ann", joined=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert author.name == "Ann"
    assert author.email is None
    assert isinstance(author.joined, dt.datetime)
