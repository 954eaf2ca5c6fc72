"""Data migrations: ``op.run_python`` with historical models, on every backend.

The data migration is written against the schema of its revision; the models
then change again, and a migration from scratch must still run it.
"""

from __future__ import annotations

import re
from pathlib import Path

from .flashproject import FlashProject

V1 = """
from flash_db import Model, fields


class Author(Model):
    name = fields.CharField(max_length=100)
"""

V2 = """
from flash_db import Model, fields


class Author(Model):
    name = fields.CharField(max_length=100)
    slug = fields.CharField(max_length=100, null=True)
"""

# Later changes the data migration must not see: a new NOT NULL column and a new table.
V3 = """
from flash_db import Model, fields


class Author(Model):
    name = fields.CharField(max_length=150)
    slug = fields.CharField(max_length=100, null=True)
    bio = fields.TextField(db_default="")


class Book(Model):
    author = fields.ForeignKey(Author, on_delete=fields.CASCADE)
"""

FILL = """

async def fill_slugs(models):
    Author = models.Author
    assert models["app.Author"] is Author and models["author"] is Author
    assert not Author._meta.has_field("bio"), "historical: no column of a later revision"
    async for author in Author.objects.filter(slug=None).order_by("id"):
        author.slug = author.name.lower().replace(" ", "-")
        await author.save(update_fields=["slug"])


async def clear_slugs(models):
    await models.Author.objects.update(slug=None)
"""


def add_data_migration(path: Path) -> None:
    source = path.read_text()
    source = source.replace("\ndef upgrade() -> None:", FILL + "\n\ndef upgrade() -> None:")
    source = re.sub(
        r"def upgrade\(\) -> None:\n    pass",
        "def upgrade() -> None:\n    op.run_python(fill_slugs)",
        source,
    )
    source = re.sub(
        r"def downgrade\(\) -> None:\n    pass",
        "def downgrade() -> None:\n    op.run_python(clear_slugs)",
        source,
    )
    assert "op.run_python(fill_slugs)" in source and "op.run_python(clear_slugs)" in source
    path.write_text(source)


def test_data_migration_survives_later_model_changes(project: FlashProject) -> None:
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    project.sql("INSERT INTO author (name) VALUES ('Ann Lee'), ('Bo Ek')")

    project.write_module("app.models", V2)
    project.ok("db", "makemigrations", "-m", "add slug")
    made = project.ok("db", "makemigrations", "--empty", "-m", "fill slugs")
    path = project.root / made.split("wrote ", 1)[1].strip()
    add_data_migration(path)
    project.ok("db", "migrate")
    assert project.sql("SELECT slug FROM author ORDER BY id") == [("ann-lee",), ("bo-ek",)]
    project.ok("db", "makemigrations", "--check")

    # Back one step: the data migration's downgrade runs.
    project.ok("db", "migrate", "-1")
    assert project.sql("SELECT slug FROM author ORDER BY id") == [(None,), (None,)]
    project.ok("db", "migrate")

    project.write_module("app.models", V3)
    project.ok("db", "makemigrations", "-m", "bio and books")
    project.ok("db", "migrate")

    # From scratch, with rows inserted at the first revision: the data migration
    # runs against the schema of its own revision, not today's models.
    project.ok("db", "migrate", "zero")
    first = sorted((project.root / "migrations" / "default" / "versions").glob("*_initial.py"))
    project.ok("db", "migrate", first[0].name.split("_")[1])
    project.sql("INSERT INTO author (name) VALUES ('Cy Young')")
    project.ok("db", "migrate")
    assert project.sql("SELECT slug, bio FROM author") == [("cy-young", "")]
    assert project.flash("db", "makemigrations", "--check").returncode == 0


def test_failing_data_migration(project: FlashProject, backend: str) -> None:
    """A revision that fails half-way: PostgreSQL and SQLite keep the schema of the revision
    before (transactional DDL); MySQL commits each DDL statement (documented)."""
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    project.write_module("app.models", V2)
    made = project.ok("db", "makemigrations", "-m", "slug then fail")
    path = project.root / made.split("wrote ", 1)[1].strip()
    source = path.read_text().replace(
        "\ndef upgrade() -> None:",
        "\n\ndef explode(models):\n    raise RuntimeError('boom')\n\n\ndef upgrade() -> None:",
    )
    source = source.replace(
        "    # ### end Alembic commands ###\n", "    op.run_python(explode)\n", 1
    )
    path.write_text(source)
    failed = project.flash("db", "migrate")
    assert failed.returncode != 0
    assert "RuntimeError: boom" in failed.stderr and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    listing = project.ok("db", "showmigrations")
    assert re.search(r"\[ \] \w+ slug then fail", listing), listing
    has_slug = "slug" in project.columns("author")
    if backend == "mysql":
        assert has_slug, "MySQL commits DDL at once: the ALTER stays (docs/migrations.md says so)"
    else:
        assert not has_slug, "transactional DDL: the failed revision left no column behind"
