"""Models in a registry of their own (``class X(Model, registry=r)``) stay out of the project's."""

from __future__ import annotations

import flash_db
from flash_db import Model, fields
from flash_db.models import Registry


def test_models_of_another_registry_keep_to_it() -> None:
    other = Registry()

    class Writer(Model, registry=other):
        name = fields.CharField(max_length=50)

        class Meta:
            app_label = "past"

    class Essay(Model, registry=other):
        writer = fields.ForeignKey("Writer", on_delete=fields.CASCADE)
        readers = fields.ManyToManyField("Writer", related_name="read")

        class Meta:
            app_label = "past"

    assert other.get_model("past.Essay") is Essay
    assert "past.Essay" not in flash_db.registry
    assert "past.Essay_readers" in other, "the auto-created join model joins the same registry"
    assert set(other.metadata.tables) == {"writer", "essay", "essay_readers"}
    assert "essay" not in flash_db.metadata.tables
    assert Essay._meta.relations["writer"].target is Writer
    assert Essay._meta.registry is other and Writer._meta.registry is other


def test_abstract_parent_passes_its_registry_on() -> None:
    other = Registry()

    class Base(Model, registry=other):
        created = fields.IntegerField(default=0)

        class Meta:
            abstract = True
            app_label = "past2"

    class Child(Base):
        name = fields.CharField(max_length=10)

    assert Child._meta.registry is other
    assert "child" in other.metadata.tables and "child" not in flash_db.metadata.tables
