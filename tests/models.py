"""Models shared by the integration tests (app label ``tests``)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from flash_db import CheckConstraint, Index, Model, Q, QuerySet, fields
from flash_db.exceptions import ValidationError


class Author(Model):
    name = fields.CharField(max_length=100, unique=True)
    email = fields.CharField(max_length=254, null=True)
    active = fields.BooleanField(default=True)
    joined = fields.DateTimeField(auto_now_add=True)

    class Meta:
        table = "authors"
        ordering = ["name"]

    def clean(self) -> None:
        if self.name.lower() == "admin":
            raise ValidationError({"name": "reserved name"})


class BookQuerySet(QuerySet):
    def cheap(self) -> BookQuerySet:
        return self.filter(price__lt=5)


class Book(Model):
    title = fields.CharField(max_length=200, db_index=True)
    author_name = fields.CharField(max_length=100, null=True)
    price = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    published = fields.DateField(null=True)
    pages = fields.IntegerField(null=True)

    objects = BookQuerySet.as_manager()

    class Meta:
        table = "books"
        indexes = [Index(fields=["author_name", "-price"])]
        constraints = [CheckConstraint(Q(price__gte=0), name="price_nonneg")]


class Status(enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class TimestampedBase(Model):
    created = fields.DateTimeField(auto_now_add=True)
    updated = fields.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class Everything(TimestampedBase):
    """One column of every scalar field type."""

    small = fields.SmallIntegerField(default=0)
    big = fields.BigIntegerField(default=0)
    ratio = fields.FloatField(null=True)
    amount = fields.DecimalField(max_digits=10, decimal_places=3, null=True)
    text = fields.TextField(default="")
    flag = fields.BooleanField(null=True)
    day = fields.DateField(null=True)
    naive = fields.DateTimeField(null=True, timezone=False)
    at = fields.TimeField(null=True)
    span = fields.DurationField(null=True)
    uid = fields.UUIDField(default=uuid.uuid4)
    data = fields.JSONField(null=True)
    blob = fields.BinaryField(null=True)
    status = fields.EnumField(Status, default=Status.DRAFT)
    priority = fields.EnumField(Priority, null=True)
    code = fields.CharField(max_length=5, choices=[("a", "A"), ("b", "B")], null=True)
    level = fields.IntegerField(null=True, min_value=0, max_value=10)

    class Meta:
        table = "everything"


class Tag(Model):
    """A model with a non-integer primary key."""

    slug = fields.CharField(max_length=50, primary_key=True)
    label = fields.CharField(max_length=50, db_column="label_text")

    class Meta:
        table = "tags"


class Counter(Model):
    """Server-side default read back after INSERT."""

    name = fields.CharField(max_length=20)
    hits = fields.IntegerField(db_default=7)
    seen = fields.DateTimeField(db_default=__import__("flash_db").Now())
    key = fields.UUIDField(primary_key=True, default=uuid.uuid4)

    class Meta:
        table = "counters"


class Pair(Model):
    left = fields.IntegerField()
    right = fields.IntegerField()

    class Meta:
        table = "pairs"
        unique_together = [("left", "right")]


class Event(Model):
    """Lives on the 'other' database when the test configures one."""

    title = fields.CharField(max_length=50)
    when = fields.DateTimeField(default=lambda: dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))

    class Meta:
        table = "events"
        database = "other"
