"""inspectdb without a database: mapping reflected defaults, names, and rendering source."""

from __future__ import annotations

import decimal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from flash_db import Index, Now, fields
from flash_db.constraints import CheckConstraint, UniqueConstraint
from flash_db.migrations._columns import map_default
from flash_db.migrations.introspection import (
    FieldSpec,
    ModelSpec,
    _field_name,
    class_name_for,
    render_models,
)

RUFF = str(Path(sys.executable).with_name("ruff"))


@pytest.mark.parametrize(
    ("raw", "field_class", "dialect", "expected"),
    [
        ("'x'::character varying", fields.CharField, "postgresql", "x"),
        ("'it''s'", fields.CharField, "sqlite", "it's"),
        ("'-5'::integer", fields.IntegerField, "postgresql", -5),
        ("'0'", fields.IntegerField, "mysql", 0),  # MySQL quotes numeric literals
        ("(2.5)", fields.FloatField, "mysql", 2.5),
        ("1.50", fields.DecimalField, "postgresql", decimal.Decimal("1.50")),
        ("true", fields.BooleanField, "postgresql", True),
        ("'1'", fields.BooleanField, "mysql", True),
        ("0", fields.BooleanField, "sqlite", False),
        ("NULL", fields.CharField, "mysql", fields.NOT_PROVIDED),
        (None, fields.CharField, "sqlite", fields.NOT_PROVIDED),
    ],
)
def test_map_default_literals(
    raw: str | None, field_class: type, dialect: str, expected: object
) -> None:
    assert map_default(raw, field_class, dialect) == expected


@pytest.mark.parametrize("raw", ["CURRENT_TIMESTAMP", "now()", "current_timestamp(6)"])
def test_map_default_now(raw: str) -> None:
    assert isinstance(map_default(raw, fields.DateTimeField, "mysql"), Now)


def test_map_default_other_expressions_stay_sql() -> None:
    value = map_default("gen_random_uuid()", fields.UUIDField, "postgresql")
    assert isinstance(value, sa.TextClause) and value.text == "gen_random_uuid()"
    # CURRENT_TIMESTAMP on a column that is not a datetime is kept as SQL, not Now()
    assert isinstance(map_default("CURRENT_TIMESTAMP", fields.CharField, "sqlite"), sa.TextClause)


def test_names() -> None:
    assert class_name_for("blog_post") == "BlogPost"
    assert class_name_for("2fa codes") == "T2faCodes"
    assert _field_name("Order Date") == "order_date"
    assert _field_name("class") == "class_field"  # a keyword
    assert _field_name("pk") == "pk_field"  # part of the Model API
    assert _field_name("save") == "save_field"
    assert _field_name("a__b_") == "a_b"  # no "__", no trailing "_" (lookup syntax)
    assert _field_name("1st") == "number_1st"


def test_field_spec_builds_the_field() -> None:
    spec = FieldSpec("name", fields.CharField, {"max_length": 10, "null": True}, column="name")
    field = spec.build()
    assert isinstance(field, fields.CharField) and field.max_length == 10 and field.null
    fk = FieldSpec("author", fields.ForeignKey, {"to": "Author", "on_delete": fields.DO_NOTHING})
    assert fk.is_relation and fk.build().to == "Author"


def _specs() -> list[ModelSpec]:
    author = ModelSpec(
        "Author",
        "author",
        [
            FieldSpec("id", fields.BigAutoField, {"primary_key": True}, column="id"),
            FieldSpec("name", fields.CharField, {"max_length": 100, "unique": True}, column="name"),
            FieldSpec("joined", fields.DateTimeField, {"db_default": Now()}, column="joined"),
            FieldSpec(
                "weight",
                fields.DecimalField,
                {"max_digits": 5, "decimal_places": 2, "db_default": decimal.Decimal("1.50")},
                column="weight",
            ),
            FieldSpec(
                "addr",
                fields.TextField,
                {"null": True, "db_column": "Addr", "db_default": sa.text("'::1'::inet")},
                comment="unknown type INET, mapped to TextField",
                column="Addr",
            ),
        ],
        indexes=[Index(fields=["name", "-joined"], name="author_name_joined")],
        constraints=[CheckConstraint(sa.literal_column("weight > 0"), name="weight_positive")],
    )
    book = ModelSpec(
        "Book",
        "book",
        [
            FieldSpec(
                "code", fields.CharField, {"max_length": 8, "primary_key": True}, column="code"
            ),
            FieldSpec(
                "author",
                fields.ForeignKey,
                {
                    "to": "Author",
                    "on_delete": fields.DB_SET_NULL,
                    "null": True,
                    "db_index": False,
                    "related_name": "book_author_set",
                },
                column="author_id",
            ),
        ],
        unique_together=[("code", "author")],
        constraints=[UniqueConstraint(fields=["author"], name="book_one_per_author")],
        comments=["composite foreign key (a, b) -> x not recovered"],
    )
    return [author, book]


EXPECTED = '''\
"""Models generated by ``flash db inspectdb``.

Review them before use: Python-side defaults, choices, validators and relation
names are not in the database. ``# TODO`` comments mark what was not mapped exactly.
"""

import decimal

import sqlalchemy as sa
from flash_db import Index, Model, Now, fields
from flash_db.constraints import CheckConstraint, UniqueConstraint


class Author(Model):
    name = fields.CharField(max_length=100, unique=True)
    joined = fields.DateTimeField(db_default=Now())
    weight = fields.DecimalField(
        max_digits=5,
        decimal_places=2,
        db_default=decimal.Decimal("1.50"),
    )
    # TODO: unknown type INET, mapped to TextField
    addr = fields.TextField(
        null=True,
        db_default=sa.text("'::1'::inet"),
        db_column="Addr",
    )

    class Meta:
        table = "author"
        app_label = "legacy"
        indexes = (Index(fields=["name", "-joined"], name="author_name_joined"),)
        constraints = (
            CheckConstraint(sa.literal_column("weight > 0"), name="weight_positive"),
        )


class Book(Model):
    # TODO: composite foreign key (a, b) -> x not recovered
    code = fields.CharField(primary_key=True, max_length=8)
    author = fields.ForeignKey(
        "Author",
        on_delete=fields.DB_SET_NULL,
        null=True,
        db_index=False,
        related_name="book_author_set",
    )

    class Meta:
        table = "book"
        app_label = "legacy"
        unique_together = (("code", "author"),)
        constraints = (UniqueConstraint(fields=["author"], name="book_one_per_author"),)
'''


def test_render_models_source() -> None:
    source = render_models(_specs(), app_label="legacy")
    assert source == EXPECTED
    compile(source, "models.py", "exec")


def test_rendered_source_is_ruff_clean(tmp_path: Path) -> None:
    path = tmp_path / "models.py"
    path.write_text(render_models(_specs(), source="postgresql+asyncpg://u:***@db/app"))
    for args in (["check", "--select", "E,F,W,I,B,UP,RUF"], ["format", "--check", "--diff"]):
        result = subprocess.run(
            [RUFF, *args, "--isolated", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_render_a_model_without_fields() -> None:
    spec = ModelSpec(
        "Empty", "empty", [FieldSpec("id", fields.BigAutoField, {"primary_key": True})]
    )
    assert render_models([spec]).endswith(
        'class Empty(Model):\n    class Meta:\n        table = "empty"\n'
    )
