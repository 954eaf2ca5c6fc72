"""``flash db makemigrations`` / ``migrate`` / ``showmigrations`` / ``sqlmigrate``, through the
real ``flash`` executable in a temporary project, on every backend."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .flashproject import FlashProject

V1 = """
from flash_db import Model, fields


class Publisher(Model):
    name = fields.CharField(max_length=100)


class Author(Model):
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254)
    rating = fields.IntegerField(default=0)
    code = fields.CharField(max_length=20)


class Book(Model):
    title = fields.CharField(max_length=200)
    author = fields.ForeignKey(Author, related_name="books", on_delete=fields.CASCADE)
"""

# One change of each kind the autogenerate must see: column type, nullability,
# server default, index, unique, and a new foreign key; plus a new table.
V2 = """
from flash_db import Model, fields


class Publisher(Model):
    name = fields.CharField(max_length=100)


class Author(Model):
    name = fields.CharField(max_length=300)
    email = fields.CharField(max_length=254, null=True)
    rating = fields.IntegerField(default=0, db_default=5)
    code = fields.CharField(max_length=20, unique=True)


class Book(Model):
    title = fields.CharField(max_length=200, db_index=True)
    author = fields.ForeignKey(Author, related_name="books", on_delete=fields.CASCADE)
    publisher = fields.ForeignKey(Publisher, null=True, on_delete=fields.SET_NULL)


class Review(Model):
    book = fields.ForeignKey(Book, on_delete=fields.CASCADE)
    stars = fields.SmallIntegerField()
"""


def revisions(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.py"))


def test_lifecycle(project: FlashProject) -> None:
    project.write_module("app.models", V1)
    assert "wrote migrations/default/versions/" in project.ok("db", "makemigrations")
    versions = project.root / "migrations" / "default" / "versions"
    assert (project.root / "migrations" / "default" / "env.py").is_file()
    [initial] = revisions(versions)
    assert initial.name.endswith("_initial.py")

    # The database is behind its migrations: both commands say so and write nothing.
    for args in (("makemigrations",), ("makemigrations", "--check")):
        behind = project.flash("db", *args)
        assert behind.returncode == 2 and "flash db migrate" in behind.stderr, behind
    assert len(revisions(versions)) == 1

    assert "applied" in project.ok("db", "migrate")
    assert {"author", "book", "publisher", "alembic_version"} <= project.tables()
    assert project.ok("db", "makemigrations", "--check").strip() == (
        "models and migrations are in sync"
    )
    assert project.ok("db", "makemigrations") == "default: no changes\n"

    project.write_module("app.models", V2)
    changed = project.flash("db", "makemigrations", "--check")
    assert changed.returncode == 1, changed
    report = changed.stderr
    for expected in (
        "modify type author.name",
        "modify nullable author.email",
        "modify default author.rating",
        "add constraint uq_author_code",
        "add index ix_book_title",
        "add column book.publisher_id",
        "add fk fk_book_publisher_id_publisher",
        "add table review",
    ):
        assert expected in report, f"{expected!r} not in:\n{report}"
    assert "Traceback" not in report
    assert len(revisions(versions)) == 1, "--check must not write a revision"

    made = project.ok("db", "makemigrations", "-m", "second pass")
    assert "second_pass.py" in made
    second = next(p for p in revisions(versions) if p != initial)
    source = second.read_text()
    assert "flash_db" not in source.split('"""', 2)[2], "revisions never import flash_db"
    ruff = str(Path(sys.executable).with_name("ruff"))
    for args in (["check", "--select", "E,F,W,I"], ["format", "--check"]):
        lint = subprocess.run(
            [ruff, *args, str(second)], capture_output=True, text=True, cwd=project.root
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr

    project.ok("db", "migrate")
    assert "review" in project.tables()
    assert project.flash("db", "makemigrations", "--check").returncode == 0

    rev1 = initial.name.split("_")[1]
    rev2 = second.name.split("_")[1]
    listing = project.ok("db", "showmigrations")
    assert re.search(rf"\[X\] {rev1} initial\n", listing), listing
    assert re.search(rf"\[X\] {rev2} second pass \(head\)", listing), listing

    assert f"unapplied {rev2}" in project.ok("db", "migrate", "-1")
    assert "review" not in project.tables()
    assert f"[ ] {rev2}" in project.ok("db", "showmigrations")

    project.ok("db", "migrate", "zero")
    assert project.tables() <= {"alembic_version"}
    project.ok("db", "migrate", rev1[:4])  # a unique prefix
    assert "review" not in project.tables() and "book" in project.tables()
    project.ok("db", "migrate")
    assert "review" in project.tables()
    assert project.flash("db", "makemigrations", "--check").returncode == 0


def test_sql_output(project: FlashProject, backend: str) -> None:
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    sql = project.ok("db", "migrate", "--sql")
    assert re.search(r"CREATE TABLE [`\"]?author", sql), sql
    assert project.tables() <= {"alembic_version"}, "--sql must not touch the database"
    rev = revisions(project.root / "migrations" / "default" / "versions")[0].name.split("_")[1]
    one = project.ok("db", "sqlmigrate", rev)
    assert "CREATE TABLE" in one and "book" in one
    back = project.ok("db", "sqlmigrate", rev, "--backwards")
    assert "DROP TABLE" in back


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("migrate", "nope"), "nope"),
        (("sqlmigrate", "zzz"), "zzz"),
        (("showmigrations", "--database", "missing"), "unknown database 'missing'"),
    ],
)
def test_bad_input_is_one_line(project: FlashProject, args: tuple[str, ...], message: str) -> None:
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    result = project.flash("db", *args)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


MULTI = """
from flash_db import Model, fields


class Customer(Model):
    name = fields.CharField(max_length=100)


class Event(Model):
    kind = fields.CharField(max_length=30)

    class Meta:
        database = "other"
"""


def test_each_database_has_its_own_history(project: FlashProject) -> None:
    project.write_module("app.models", MULTI)
    out = project.ok("db", "makemigrations")
    assert "default: wrote migrations/default/versions/" in out
    assert "other: wrote migrations/other/versions/" in out
    default_src = revisions(project.root / "migrations" / "default" / "versions")[0].read_text()
    other_src = revisions(project.root / "migrations" / "other" / "versions")[0].read_text()
    assert '"customer"' in default_src and '"event"' not in default_src
    assert '"event"' in other_src and '"customer"' not in other_src

    project.ok("db", "migrate", "--database", "other")
    assert "event" in project.tables("other") and "customer" not in project.tables("other")
    assert "customer" not in project.tables("default")
    assert "alembic_version_other" in project.tables("other")
    listing = project.ok("db", "showmigrations")
    assert re.search(r"default\n  \[ \] \w+ initial \(head\)\nother\n  \[X\] \w+ initial", listing)
    project.ok("db", "migrate")
    assert "customer" in project.tables("default")
    assert project.ok("db", "makemigrations", "--check").strip() == (
        "models and migrations are in sync"
    )


def test_alembic_commands_stay_reachable(project: FlashProject) -> None:
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    assert "(head)" in project.ok("db", "alembic", "heads")
    current = project.ok("db", "alembic", "current")
    rev = revisions(project.root / "migrations" / "default" / "versions")[0].name.split("_")[1]
    assert rev in current
    project.ok("db", "alembic", "stamp", "base")
    assert "[ ] " in project.ok("db", "showmigrations")
    bad = project.flash("db", "alembic", "--database", "nope", "heads")
    assert bad.returncode == 2 and "unknown database 'nope'" in bad.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    proj = FlashProject(tmp_path, {"default": "postgresql+asyncpg://u:s3cret@127.0.0.1:1/x"})
    proj.write_config()
    proj.write_module("app.models", V1)
    for args in (("makemigrations",), ("migrate",), ("showmigrations",)):
        result = proj.flash("db", *args)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--traceback" not in proj.flash("db", "migrate").stderr
    assert "Traceback" in proj.flash("--traceback", "db", "makemigrations").stderr


def test_signals_and_programmatic_api(project: FlashProject) -> None:
    """pre_migrate / post_migrate are sent; the async API is usable from Python."""
    project.write_module("app.models", V1)
    project.write_module(
        "app.run",
        """
        import asyncio

        from flash_db import signals
        from flash_db.migrations import connected, load_project, makemigrations, migrate

        seen = []
        signals.pre_migrate.connect(lambda sender, **kw: seen.append(("pre", sender)), weak=False)


        @signals.post_migrate.connect_via("default")
        async def after(sender, *, steps, **kw):
            seen.append(("post", sender, [s.direction for s in steps]))


        async def main():
            project = load_project()
            async with connected(project):
                await makemigrations(project, "default")
                await migrate(project, "default")
                await migrate(project, "default", "zero")
            print(seen)


        asyncio.run(main())
        """,
    )
    out = subprocess.run(
        [sys.executable, "-m", "app.run"], cwd=project.root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "[('pre', 'default'), ('post', 'default', ['up']), "
        "('pre', 'default'), ('post', 'default', ['down'])]"
    )


def test_broken_models_module_is_one_line(project: FlashProject) -> None:
    project.write_module(
        "app.models", "from flash_db import Model\n\nclass Oops(Model:\n    pass\n"
    )
    result = project.flash("db", "makemigrations")
    assert result.returncode == 2, result
    assert "importing models module 'app.models' failed: SyntaxError" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    project.write_module("app.models", "raise RuntimeError('half-written models')\n")
    result = project.flash("db", "migrate")
    assert result.returncode == 2 and "RuntimeError: half-written models" in result.stderr


def test_verbose_shows_each_revision(project: FlashProject) -> None:
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    result = project.flash("--verbose", "db", "migrate")
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> " in result.stderr
    assert "Running upgrade" not in project.flash("db", "migrate", "zero").stderr


ROUTED = """
from flash_db import Model, fields


class Customer(Model):
    name = fields.CharField(max_length=100)


class Metric(Model):
    value = fields.FloatField()
"""

ROUTER = """
class AnalyticsRouter:
    def allow_migrate(self, db, model, **hints):
        if model.__name__ == "Metric":
            return db == "other"
        return None
"""


def test_routers_from_pyproject_decide_where_tables_go(project: FlashProject) -> None:
    project.write_config('routers = ["app.routers.AnalyticsRouter"]')
    project.write_module("app.models", ROUTED)
    project.write_module("app.routers", ROUTER)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    assert "metric" in project.tables("other") and "metric" not in project.tables("default")
    assert "customer" in project.tables("default") and "customer" not in project.tables("other")
    project.ok("db", "makemigrations", "--check")


def test_config_flag_and_environment(project: FlashProject, tmp_path: Path) -> None:
    """--config names the pyproject.toml from anywhere; FLASH_DB_URL overrides 'default'."""
    project.write_module("app.models", V1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runner = FlashProject(elsewhere, project.databases)
    config = str(project.root / "pyproject.toml")
    assert "wrote" in runner.ok("--config", config, "db", "makemigrations")
    assert (project.root / "migrations" / "default" / "versions").is_dir()
    runner.ok("--config", config, "db", "migrate", "--database", "default")
    assert "author" in project.tables()

    # FLASH_DB_URL points 'default' at the 'other' database: migrate creates the tables there.
    env_run = project.flash_env({"FLASH_DB_URL": project.databases["other"]}, "db", "migrate")
    assert env_run.returncode == 0, env_run.stderr
    assert "author" in project.tables("other")
    missing = runner.flash("--config", str(tmp_path / "nope.toml"), "db", "migrate")
    assert missing.returncode == 2 and "does not exist" in missing.stderr
