"""What ``flash db migrate`` says when it cannot do its work, and what ``--sql`` prints:
a failed revision, a database off its migrations folder, the SQL from the current revision.
Through the real ``flash`` executable, on every backend."""

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


class Tag(Model):
    label = fields.CharField(max_length=20)
"""

# An ALTER of an existing column: on SQLite batch mode rebuilds the table.
V3 = """
from flash_db import Model, fields


class Author(Model):
    name = fields.CharField(max_length=300)


class Tag(Model):
    label = fields.CharField(max_length=20)
"""


def versions(project: FlashProject) -> Path:
    return project.root / "migrations" / "default" / "versions"


def revision_ids(project: FlashProject) -> list[str]:
    """The revision ids, oldest first (the file names start with the date, then the id)."""
    files = sorted(versions(project).glob("*.py"), key=lambda p: p.stat().st_mtime_ns)
    return [re.match(r"\d+_([0-9a-f]+)_", p.name).group(1) for p in files]  # type: ignore[union-attr]


def make(project: FlashProject, source: str, message: str) -> str:
    project.write_module("app.models", source)
    project.ok("db", "makemigrations", "-d", "default", "-m", message)
    return revision_ids(project)[-1]


def broken_revision(project: FlashProject) -> tuple[str, Path]:
    """An empty revision whose upgrade creates a table, then fails on a missing one."""
    project.ok("db", "makemigrations", "-d", "default", "--empty", "-m", "broken")
    path = max(versions(project).glob("*broken.py"), key=lambda p: p.stat().st_mtime_ns)
    source = path.read_text()
    body = (
        "def upgrade() -> None:\n"
        "    op.execute('CREATE TABLE half_done (id INTEGER PRIMARY KEY)')\n"
        "    op.execute('INSERT INTO no_such_table VALUES (1)')\n"
    )
    path.write_text(source.replace("def upgrade() -> None:\n    pass\n", body, 1))
    return revision_ids(project)[-1], path


def test_failed_revision_is_named_with_what_ran_before(project: FlashProject, backend: str) -> None:
    make(project, V1, "first")
    project.ok("db", "migrate", "-d", "default")
    second = make(project, V2, "second")
    project.ok("db", "migrate", "-d", "default")
    project.ok("db", "migrate", "-d", "default", "-1")
    broken, path = broken_revision(project)

    result = project.flash("db", "migrate", "-d", "default")
    assert result.returncode == 2, result.stdout + result.stderr
    error = result.stderr.strip()
    assert "Traceback" not in error and len(error.splitlines()) == 1, error
    assert f"revision {broken} (migrations/default/versions/{path.name}) of 'default' failed" in (
        error
    )
    assert "no_such_table" in error
    assert f"applied by this run before it: {second} second;" in error
    # what the error says the failure left behind is what the database shows
    assert ("may be partly applied" in error) == (backend == "mysql")
    tables = project.tables()
    if backend == "mysql":
        assert "DDL is not transactional on MySQL/MariaDB" in error
        assert "half_done" in tables  # the CREATE TABLE before the error was committed
    else:
        assert "the failed revision was rolled back" in error
        assert "half_done" not in tables
    # the revisions before it stay applied: each revision has its own transaction
    assert {"author", "tag"} <= tables
    listing = project.ok("db", "showmigrations", "-d", "default")
    assert f"[X] {second} second" in listing and f"[ ] {broken} broken" in listing


def test_traceback_on_request(project: FlashProject) -> None:
    make(project, V1, "first")
    broken_revision(project)
    result = project.flash("--traceback", "db", "migrate", "-d", "default")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_sql_starts_at_the_current_revision(project: FlashProject, backend: str) -> None:
    make(project, V1, "first")
    project.ok("db", "migrate", "-d", "default")
    make(project, V2, "second")

    sql = project.ok("db", "migrate", "-d", "default", "--sql")
    assert re.search(r"CREATE TABLE [`\"]?tag", sql), sql
    # author exists already: only what would run is printed
    assert not re.search(r"CREATE TABLE [`\"]?author", sql), sql
    project.ok("db", "migrate", "-d", "default")
    assert "nothing to run" in project.ok("db", "migrate", "-d", "default", "--sql")

    back = project.ok("db", "migrate", "-d", "default", "-1", "--sql")
    assert re.search(r"DROP TABLE [`\"]?tag", back), back
    assert "author" not in back.replace("alembic_version_default", "")


def test_sql_on_sqlite_says_which_revision_batch_mode_stops(project: FlashProject) -> None:
    make(project, V1, "first")
    project.ok("db", "migrate", "-d", "default")
    second = make(project, V2, "second")
    project.ok("db", "migrate", "-d", "default")
    third = make(project, V3, "widen name")
    project.ok("db", "migrate", "-d", "default")
    project.ok("db", "migrate", "-d", "default", "-2")

    result = project.flash("db", "migrate", "-d", "default", "--sql")
    sqlmigrate = project.flash("db", "sqlmigrate", "-d", "default", third)
    if project.databases["default"].startswith("sqlite"):
        # sqlmigrate names the revision, its file and the table too
        assert sqlmigrate.returncode == 2
        said = sqlmigrate.stderr.strip()
        assert len(said.splitlines()) == 1 and "Traceback" not in said, said
        assert said.startswith(f"error: on SQLite, sqlmigrate cannot show revision {third} ("), said
        assert 'batch_alter_table("author")' in said and "flash db migrate" in said, said
    else:
        assert sqlmigrate.returncode == 0 and "300" in sqlmigrate.stdout, sqlmigrate.stderr
    if project.databases["default"].startswith("sqlite"):
        assert result.returncode == 2
        # the revision before the batch ALTER is printed, then the one that stops it is named
        assert re.search(r"CREATE TABLE tag", result.stdout), result.stdout
        assert "varchar(300)" not in result.stdout.lower()
        error = result.stderr.strip()
        assert len(error.splitlines()) == 1, error
        assert f"stops at revision {third}" in error
        assert 'batch_alter_table("author")' in error
        assert f"revisions before it ({second})" in error
    else:
        assert result.returncode == 0, result.stderr
        assert "300" in result.stdout and re.search(r"CREATE TABLE [`\"]?tag", result.stdout)


def test_database_off_the_migrations_folder(project: FlashProject) -> None:
    make(project, V1, "first")
    project.ok("db", "migrate", "-d", "default")
    project.sql("UPDATE alembic_version SET version_num = 'feedbeef0001'")
    for args in (
        ("db", "migrate", "-d", "default"),
        ("db", "showmigrations", "-d", "default"),
        ("db", "makemigrations", "-d", "default", "--check"),
        ("db", "migrate", "-d", "default", "--sql"),
    ):
        result = project.flash(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        error = result.stderr.strip()
        assert "Traceback" not in error and len(error.splitlines()) == 1, error
        assert "is at revision 'feedbeef0001', which is not in" in error
        assert "ahead of (or off) this migrations folder" in error
        assert "stamp --purge" in error


def test_verbose_migrate_tells_the_truth_about_ddl_transactions(
    project: FlashProject, backend: str
) -> None:
    make(project, V1, "first")
    result = project.flash("-v", "db", "migrate", "-d", "default")
    assert result.returncode == 0, result.stderr
    checked = project.flash("-v", "db", "makemigrations", "-d", "default", "--check")
    assert checked.returncode == 0, checked.stderr
    said = result.stdout + result.stderr + checked.stdout + checked.stderr
    # SQLite and PostgreSQL roll a failed revision back (see the test above); MySQL cannot
    if backend == "mysql":
        assert "Will assume non-transactional DDL." in said
    else:
        assert "Will assume transactional DDL." in said
        assert "non-transactional" not in said


def test_showmigrations_creates_no_sqlite_file(tmp_path: Path) -> None:
    """Listing the history of a database that does not exist yet shows it unapplied, and
    leaves no empty database file behind (as makemigrations and migrate --sql)."""
    database = tmp_path / "never.sqlite3"
    project = FlashProject(tmp_path / "proj", {"default": f"sqlite+aiosqlite:///{database}"})
    project.root.mkdir()
    project.write_config()
    project.write_module("app.models", V1)
    project.ok("db", "makemigrations")
    assert not database.exists()
    listed = project.ok("db", "showmigrations")
    assert "[ ]" in listed and "[X]" not in listed, listed
    assert not database.exists()


def test_check_names_public_types() -> None:
    """``--check`` shows a type change in the words a revision uses, never flash_db's."""
    import sqlalchemy as sa

    from flash_db.cli.migrate import _change
    from flash_db.sqltypes import Duration, UTCDateTime

    line = _change(("modify_type", None, "thing", "at", {}, sa.DATETIME(), UTCDateTime()))
    assert line == "modify type thing.at: DATETIME() -> DateTime(timezone=True)"
    line = _change(("modify_type", None, "thing", "took", {}, sa.INTEGER(), Duration()))
    assert line == "modify type thing.took: INTEGER() -> BigInteger()"
