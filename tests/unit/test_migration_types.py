"""How revisions write column types, and how autogenerate compares them: no database.

A type is written as the public SQLAlchemy type it stands for (never a driver's or
flash_db's class), and the comparison takes a backend's own spelling of a column
for the type itself while still seeing real changes.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.migration import MigrationContext
from sqlalchemy.dialects import mysql, postgresql, sqlite

from flash_db import fields
from flash_db.migrations.autogen import compare_type, render_item

DIALECTS = ("sqlite", "postgresql", "mysql")


def context(dialect: str) -> MigrationContext:
    return MigrationContext.configure(dialect_name=dialect)


def autogen(dialect: str) -> AutogenContext:
    """What Alembic hands ``render_item`` while writing a revision on ``dialect``."""
    opts = {
        "render_item": render_item,
        "sqlalchemy_module_prefix": "sa.",
        "user_module_prefix": None,
    }
    return AutogenContext(context(dialect), opts=opts)


def differs(dialect: str, reflected: Any, model: Any) -> bool:
    """What autogenerate concludes: flash_db's hook, then Alembic's own comparison."""
    ctx = context(dialect)
    found = compare_type(ctx, None, None, reflected, model)
    if found is not None:
        return found
    return bool(ctx.impl.compare_type(sa.Column("c", reflected), sa.Column("c", model)))


def rendered(field: fields.Field[Any], dialect: str) -> tuple[str, set[str]]:
    made = autogen(dialect)
    text = render_item("type", field.column_type(), made)
    assert isinstance(text, str)
    return text, made.imports


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (fields.DateTimeField(), 'sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")'),
        (fields.DateTimeField(timezone=False), 'sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")'),
        (fields.TimeField(), 'sa.Time().with_variant(mysql.TIME(fsp=6), "mysql")'),
        (fields.DurationField(), 'sa.BigInteger().with_variant(sa.Interval(), "postgresql")'),
    ],
)  # fmt: skip
def test_flash_db_types_are_written_the_same_on_every_backend(
    dialect: str, field: fields.Field[Any], expected: str
) -> None:
    text, imports = rendered(field, dialect)
    assert text.replace("'", '"') == expected
    assert "Asyncpg" not in text and "flash_db" not in text
    assert imports <= {"from sqlalchemy.dialects import mysql"}


def test_enum_values_are_written_as_their_column() -> None:
    import enum

    class Color(enum.Enum):
        RED = "red"
        GREEN = "green"

    class Level(enum.Enum):
        LOW = 1

    assert rendered(fields.EnumField(Color), "postgresql")[0] == "sa.String(length=5)"
    assert rendered(fields.EnumField(Level), "sqlite")[0] == "sa.Integer()"


@pytest.mark.parametrize(
    ("reflected", "dialect", "existing"),
    [
        (sqlite.DATETIME(), "sqlite", 'sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")'),
        (postgresql.TIMESTAMP(timezone=True), "postgresql", "sa.DateTime(timezone=True)"),
        (mysql.DATETIME(fsp=6), "mysql", "sa.DateTime()"),
        (postgresql.INTERVAL(), "postgresql", "sa.BigInteger()"),
    ],
)  # fmt: skip
def test_a_reflected_column_of_a_flash_db_type_is_written_portably(
    reflected: Any, dialect: str, existing: str
) -> None:
    """``existing_type`` of an alter_column: MySQL restates it, so it must keep DATETIME(6)."""
    text = render_item("type", reflected, autogen(dialect))
    assert isinstance(text, str) and text.replace("'", '"').startswith(existing), text


def test_a_reflected_column_of_another_type_is_left_alone() -> None:
    # a legacy TIMESTAMP is no flash_db column: restating it as DATETIME would change it
    assert render_item("type", mysql.TIMESTAMP(), autogen("mysql")) is False


@pytest.mark.parametrize(
    ("dialect", "reflected", "model"),
    [
        ("postgresql", postgresql.TIMESTAMP(timezone=True), fields.DateTimeField().sa_type()),
        ("postgresql", postgresql.TIMESTAMP(), fields.DateTimeField(timezone=False).sa_type()),
        ("postgresql", postgresql.INTERVAL(), fields.DurationField().sa_type()),
        ("postgresql", postgresql.UUID(), sa.Uuid()),
        ("postgresql", postgresql.DOUBLE_PRECISION(), sa.Double()),
        ("mysql", mysql.DATETIME(fsp=6), fields.DateTimeField().sa_type()),
        ("mysql", mysql.TIME(fsp=6), fields.TimeField().sa_type()),
        ("mysql", mysql.TINYINT(display_width=1), sa.Boolean(create_constraint=False)),
        ("mysql", mysql.LONGTEXT(), sa.JSON()),
        ("mysql", mysql.CHAR(32), sa.Uuid()),
        ("mysql", mysql.BIGINT(), fields.DurationField().sa_type()),
        ("mysql", mysql.DECIMAL(10, 2), sa.Numeric(10, 2)),
        ("sqlite", sqlite.DATETIME(), fields.DateTimeField().sa_type()),
        ("sqlite", sa.BIGINT(), fields.DurationField().sa_type()),
        ("sqlite", sa.CHAR(32), sa.Uuid()),
    ],
)
def test_a_backend_spelling_is_the_same_type(dialect: str, reflected: Any, model: Any) -> None:
    assert not differs(dialect, reflected, model)


@pytest.mark.parametrize(
    ("dialect", "reflected", "model"),
    [
        ("postgresql", postgresql.VARCHAR(50), sa.String(100)),
        ("mysql", mysql.VARCHAR(50), sa.String(100)),
        ("sqlite", sa.VARCHAR(50), sa.String(100)),
        ("postgresql", postgresql.INTEGER(), sa.BigInteger()),
        ("mysql", mysql.INTEGER(), sa.BigInteger()),
        ("sqlite", sa.INTEGER(), sa.BigInteger()),
        ("postgresql", postgresql.TIMESTAMP(), fields.DateTimeField().sa_type()),
        # a MySQL column that lost its microseconds (Alembic alone would not see it)
        ("mysql", mysql.DATETIME(), fields.DateTimeField().sa_type()),
        ("mysql", mysql.TIME(), fields.TimeField().sa_type()),
        ("postgresql", postgresql.NUMERIC(10, 2), sa.Numeric(12, 2)),
    ],
)
def test_a_real_change_is_reported(dialect: str, reflected: Any, model: Any) -> None:
    assert differs(dialect, reflected, model)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_db_types_are_written_as_variants(dialect: str) -> None:
    """A field's ``db_types`` make the column on those backends, the field's own type on
    the others: a revision carries them as SQLAlchemy variants, from any backend."""
    stamped = fields.DateTimeField(db_types={"postgresql": postgresql.TIMESTAMP(precision=3)})
    text, imports = rendered(stamped, dialect)
    assert text.replace("'", '"') == (
        'sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")'
        '.with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")'
    )
    assert "from sqlalchemy.dialects import postgresql" in imports
    address = fields.TextField(db_types={"postgresql": postgresql.INET()})
    column = address.column_type()
    assert str(column.compile(dialect=postgresql.dialect())) == "INET"
    assert str(column.compile(dialect=sqlite.dialect())) == "TEXT"
    # the reflected INET of a legacy table is the model's column: no change
    assert not differs("postgresql", postgresql.INET(), column)
    assert differs("postgresql", sa.TEXT(), column)
