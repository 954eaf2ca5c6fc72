"""Every field type through the whole migration workflow, and histories that move between
backends: the real ``flash`` executable in a temporary project, on every backend.

A revision must create the same columns whichever backend it was made on, so both
tests also read the revision text: only public SQLAlchemy types, never a driver's
class (``AsyncpgDateTime``) or flash_db's own (``UTCDateTime``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .. import conftest
from .flashproject import FlashProject, drop_scratch, scratch_url

# One model with each field type flash_db ships, nullable and not, with Python and
# database defaults, foreign keys (required, nullable, to itself, one-to-one, to a UUID
# key), a many-to-many, indexes and unique constraints.
MODELS = """
import enum

from flash_db import Index, Model, Now, UniqueConstraint, fields


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


class Team(Model):
    code = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=40, unique=True)


class Tag(Model):
    name = fields.CharField(max_length=20)


class Thing(Model):
    name = fields.CharField(max_length=50, db_index=True)
    slug = fields.CharField(max_length=30, null=True, unique=True)
    body = fields.TextField(default="")
    note = fields.TextField(null=True)
    small = fields.SmallIntegerField(default=1)
    count = fields.IntegerField(db_default=5)
    big = fields.BigIntegerField(null=True)
    ratio = fields.FloatField(null=True)
    price = fields.DecimalField(max_digits=10, decimal_places=2, default="0.00")
    active = fields.BooleanField(db_default=True)
    hidden = fields.BooleanField(null=True)
    day = fields.DateField(null=True)
    created = fields.DateTimeField(db_default=Now())
    seen = fields.DateTimeField(null=True)
    local = fields.DateTimeField(timezone=False, null=True)
    at = fields.TimeField(null=True)
    took = fields.DurationField(null=True)
    data = fields.JSONField(null=True)
    uid = fields.UUIDField(null=True)
    color = fields.EnumField(Color, default=Color.RED)
    level = fields.EnumField(Level, null=True)
    blob = fields.BinaryField(null=True)
    team = fields.ForeignKey(Team, on_delete=fields.CASCADE)
    buddy = fields.ForeignKey(Team, null=True, on_delete=fields.SET_NULL, related_name="+")
    parent = fields.ForeignKey("self", null=True, on_delete=fields.DB_SET_NULL)
    tags = fields.ManyToManyField(Tag, related_name="things")

    class Meta:
        indexes = [Index(fields=["team", "-day"])]
        constraints = [UniqueConstraint(fields=["team", "name"], name="uq_thing_team_name")]


class Profile(Model):
    thing = fields.OneToOneField(Thing, on_delete=fields.CASCADE)
    bio = fields.CharField(max_length=100, default="")
"""

# A column made optional after the first revision: the second revision alters it.
MODELS_ALTERED = MODELS.replace(
    "created = fields.DateTimeField(db_default=Now())",
    "created = fields.DateTimeField(db_default=Now(), null=True)",
)

# Written, then read back through the ORM in a fresh query: each value must compare
# equal (datetimes aware and in UTC, microseconds kept, negative durations kept).
ROUND_TRIP = """
import asyncio
import datetime as dt
import decimal
import uuid

from flash_db.migrations import connected, load_project

from app.models import Color, Level, Profile, Tag, Team, Thing

VALUES = {
    "name": "every type",
    "slug": "every-type",
    "body": "long text \\u00e9\\u00e8 \\U0001f600",
    "note": None,
    "small": -32768,
    "count": 2147483647,
    "big": 9223372036854775807,
    "ratio": 0.1,
    "price": decimal.Decimal("12345678.90"),
    "active": False,
    "hidden": True,
    "day": dt.date(2024, 2, 29),
    "created": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
    "seen": dt.datetime(2024, 1, 1, 23, 30, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "local": dt.datetime(2024, 3, 4, 5, 6, 7, 654321),
    "at": dt.time(12, 34, 56, 789012),
    "took": dt.timedelta(days=-1, seconds=5, microseconds=7),
    "data": {"a": [1, 2.5, None, True], "b": {"c": "d"}},
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "color": Color.GREEN,
    "level": Level.HIGH,
    "blob": bytes(range(256)),
}


async def main():
    async with connected(load_project()):
        team = await Team.objects.create(code=uuid.uuid4(), name="core")
        other = await Team.objects.create(code=uuid.uuid4(), name="other")
        parent = await Thing.objects.create(name="parent", team=team)
        thing = await Thing.objects.create(team=team, buddy=other, parent=parent, **VALUES)
        red, blue = await Tag.objects.create(name="red"), await Tag.objects.create(name="blue")
        await thing.tags.add(red, blue)
        await Profile.objects.create(thing=thing, bio="hi")

        got = await Thing.objects.get(pk=thing.pk)
        for name, value in VALUES.items():
            assert getattr(got, name) == value, (name, getattr(got, name), value)
        assert got.seen.tzinfo == dt.UTC and got.local.tzinfo is None
        assert (got.team_id, got.buddy_id, got.parent_id) == (team.pk, other.pk, parent.pk)
        assert sorted(t.name for t in await got.tags.all()) == ["blue", "red"]
        assert (await Profile.objects.get(thing=got)).bio == "hi"

        # the defaults: Python's (default=) and the database's (db_default=)
        bare = await Thing.objects.get(pk=parent.pk)
        assert (bare.body, bare.small, bare.price) == ("", 1, decimal.Decimal("0.00"))
        assert (bare.count, bare.active, bare.color) == (5, True, Color.RED)
        assert bare.created.tzinfo == dt.UTC
        assert (bare.slug, bare.buddy_id, bare.parent_id, bare.took) == (None, None, None, None)
    print("round trip ok")


asyncio.run(main())
"""

#: what a revision must never mention: driver classes, flash_db, its type module
PRIVATE = ("Asyncpg", "flash_db", "sqltypes.", "UTCDateTime", "Duration(", "EnumValue")


def make_revision(project: FlashProject, **env: str) -> str:
    """``flash db makemigrations`` where ruff is not installed; the new revision's text,
    checked: public types only, and tidy without a formatter (only long lines are left)."""
    versions = project.root / "migrations" / "default" / "versions"
    before = set(versions.glob("*.py")) if versions.is_dir() else set()
    made = project.flash_without_ruff("db", "makemigrations", extra=env)
    assert made.returncode == 0, f"stdout:\n{made.stdout}\nstderr:\n{made.stderr}"
    assert "warning" not in made.stderr, made.stderr  # every flash_db field is portable
    [revision] = set(versions.glob("*.py")) - before
    source = revision.read_text()
    for name in PRIVATE:
        assert name not in source, f"{name!r} in the revision:\n{source}"
    ruff = str(Path(sys.executable).with_name("ruff"))
    lint = subprocess.run(
        [ruff, "check", "--no-cache", "--select", "E,F,W,I", "--ignore", "E501", str(revision)],
        capture_output=True,
        text=True,
        cwd=project.root,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return source


def check_clean(project: FlashProject, **env: str) -> None:
    result = project.flash_env(env, "db", "makemigrations", "--check")
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def test_every_field_type_lifecycle(project: FlashProject) -> None:
    project.write_module("app.models", MODELS)
    source = make_revision(project)
    assert "sa.DateTime(timezone=True)" in source and "sa.JSON(" in source, source

    project.ok("db", "migrate")
    check_clean(project)
    assert "round trip ok" in project.python(ROUND_TRIP)

    project.ok("db", "migrate", "zero")
    assert project.tables() <= {"alembic_version"}
    project.ok("db", "migrate")
    # the history that went down and up again still matches the models
    check_clean(project)


def _source_backend(target: str) -> str | None:
    """Where the moved history is made: SQLite (a laptop) for the servers; for SQLite, a
    server (so the move the other way is covered too)."""
    if target != "sqlite":
        return "sqlite"
    return next((b for b in ("postgresql", "mysql") if b in conftest.BACKENDS), None)


def test_history_made_on_another_backend_applies(
    project: FlashProject, backend: str, tmp_path: Path
) -> None:
    source = _source_backend(backend)
    if source is None:
        pytest.skip("needs a second backend (FLASH_DB_TEST_POSTGRES or FLASH_DB_TEST_MYSQL)")
    made_on = scratch_url(source, tmp_path)
    try:
        # the history is made on the source backend, as a developer makes it on their
        # machine: the initial revision, then one that alters columns. MySQL restates a
        # column's type to alter it, so the second revision's existing_type must keep
        # DATETIME(6)/TIME(6) there, whatever backend it was read from.
        project.write_module("app.models", MODELS)
        make_revision(project, FLASH_DB_URL=made_on)
        migrated = project.flash_env({"FLASH_DB_URL": made_on}, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        project.write_module("app.models", MODELS_ALTERED)
        altered = make_revision(project, FLASH_DB_URL=made_on)
        assert "alter_column" in altered and "existing_type" in altered, altered
    finally:
        drop_scratch(made_on)

    project.ok("db", "migrate")
    check_clean(project)
    assert "round trip ok" in project.python(ROUND_TRIP)


ONE_BACKEND = """
from sqlalchemy.dialects import postgresql

from flash_db import Model, fields


class JSONBField(fields.JSONField):
    def sa_type(self):
        return postgresql.JSONB()


class Doc(Model):
    data = JSONBField(null=True)
    title = fields.CharField(max_length=20)
"""


def test_a_type_only_one_backend_has_is_reported(tmp_path: Path) -> None:
    """The one thing that cannot be portable is a type the model asks of one backend:
    makemigrations writes it as asked, and says so."""
    proj = FlashProject(tmp_path, {"default": scratch_url("sqlite", tmp_path)})
    proj.write_config()
    proj.write_module("app.models", ONE_BACKEND)
    made = proj.flash_without_ruff("db", "makemigrations")
    assert made.returncode == 0, made.stderr
    assert made.stderr.strip() == (
        "warning: doc.data is written as postgresql.JSONB, a type only PostgreSQL has: this "
        "revision is not portable (a generic type, or .with_variant() for the other backends, "
        "would be)"
    )
