"""Models for the SQL-only unit tests (app label ``unit``, tables ``unit_*``).

Tables live on the global ``flash_db.metadata``, shared with ``tests/models.py``,
so every table name here carries the ``unit_`` prefix.
"""

from __future__ import annotations

import enum
from typing import Any

from flash_db import Model, fields
from flash_db.exceptions import ValidationError


class Status(enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class Writer(Model):
    """The api.md ``Author``: Meta.ordering, a unique name, a nullable email."""

    name = fields.CharField(max_length=100, unique=True)
    email = fields.CharField(max_length=254, null=True)
    active = fields.BooleanField(default=True)
    joined = fields.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "unit"
        table = "unit_writers"
        ordering = ["name"]


class Article(Model):
    """No Meta.ordering, so a compiled SELECT ends with its WHERE clause."""

    title = fields.CharField(max_length=200)
    subtitle = fields.CharField(max_length=200, null=True)
    body = fields.TextField(default="")
    price = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    pages = fields.IntegerField(null=True)
    rating = fields.FloatField(null=True)
    published = fields.DateField(null=True)
    updated = fields.DateTimeField(null=True)
    status = fields.EnumField(Status, default=Status.DRAFT)

    class Meta:
        app_label = "unit"
        table = "unit_articles"


class Code(Model):
    """A model whose primary key is not called ``id``."""

    code = fields.CharField(max_length=10, primary_key=True)
    label = fields.CharField(max_length=50, db_column="label_text")

    class Meta:
        app_label = "unit"
        table = "unit_codes"


class Stamped(Model):
    """An abstract base: its fields and Meta.ordering are inherited."""

    created = fields.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-created"]


class Note(Stamped):
    text = fields.CharField(max_length=50)

    class Meta:
        app_label = "unit"
        table = "unit_notes"


def must_be_even(value: Any) -> None:
    if value % 2:
        raise ValidationError([f"{value} is not even"])


def no_spaces(value: Any) -> None:
    if " " in value:
        raise ValueError("no spaces allowed")


class Checked(Model):
    """One field per kind of validation, and a ``clean()`` with model-wide rules."""

    name = fields.CharField(max_length=5, validators=[no_spaces])
    kind = fields.CharField(max_length=1, choices=[("a", "A"), ("b", "B")], null=True)
    level = fields.IntegerField(min_value=0, max_value=10, default=0)
    small = fields.SmallIntegerField(default=0)
    amount = fields.DecimalField(max_digits=5, decimal_places=2, null=True)
    ratio = fields.FloatField(null=True, min_value=0.0, max_value=1.0)
    even = fields.IntegerField(null=True, validators=[must_be_even])

    class Meta:
        app_label = "unit"
        table = "unit_checked"

    def clean(self) -> None:
        if self.name == "admin":
            raise ValidationError("admin is a reserved name")
        if self.name == "root" and self.level != 10:
            raise ValidationError({"level": "root needs level 10"})
