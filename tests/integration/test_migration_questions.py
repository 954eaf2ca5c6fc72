"""What ``makemigrations`` asks, through the real ``flash`` executable, with rows in the tables.

A NOT NULL column added to a table that has rows, a column and a table renamed: on
every backend, the revision written from the answers migrates with the rows in place,
keeps their data, goes down and up again, and leaves ``--check`` clean. Without a
terminal nothing is asked: ``--default`` and ``--rename`` answer, and a NOT NULL column
with no answer is a one-line error that writes nothing (docs/migrations.md, "Adding a
NOT NULL column" and "Renames").
"""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from .flashproject import FLASH, FlashProject, scratch_url

BEFORE = """
from flash_db import Model, fields


class Author(Model):
    name = fields.CharField(max_length=50, unique=True)
    email = fields.CharField(max_length=50, db_index=True)


class Book(Model):
    title = fields.CharField(max_length=50, db_index=True, description="shown in lists")
    note = fields.TextField(null=True)
"""

# book: title renamed to name; pages, author, added (NOT NULL, no default); created
# (auto_now_add), score and took (defaults) added; note made NOT NULL
AFTER = """
import datetime as dt

from flash_db import Model, fields


class Author(Model):
    name = fields.CharField(max_length=50, unique=True)
    email = fields.CharField(max_length=50, db_index=True)


class Book(Model):
    name = fields.CharField(max_length=50, db_index=True, description="shown in lists")
    note = fields.TextField()
    pages = fields.IntegerField()
    author = fields.ForeignKey(Author, on_delete=fields.CASCADE)
    published = fields.DateTimeField()
    created = fields.DateTimeField(auto_now_add=True)
    score = fields.DecimalField(max_digits=5, decimal_places=2, default="1.50")
    took = fields.DurationField(default=dt.timedelta(minutes=-90, microseconds=7))
"""

ROWS = """
import asyncio

from flash_db.migrations import connected, load_project

from app.models import Author, Book


async def main():
    async with connected(load_project()):
        author = await Author.objects.create(name="Ann", email="ann@example.com")
        await Book.objects.create(title="First", note="kept")
        await Book.objects.create(title="Second")
        print(author.pk)


asyncio.run(main())
"""

READ_BACK = """
import asyncio
import datetime as dt
import decimal

from flash_db.migrations import connected, load_project

from app.models import Book


async def main():
    async with connected(load_project()):
        books = [b async for b in Book.objects.order_by("id")]
        assert [b.name for b in books] == ["First", "Second"], [b.name for b in books]
        assert [b.note for b in books] == ["kept", "none given"], [b.note for b in books]
        for book in books:
            assert book.pages == 120 and book.author_id == AUTHOR, (book.pages, book.author_id)
            assert book.published == dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC), book.published
            assert book.created.tzinfo == dt.UTC
            assert book.score == decimal.Decimal("1.50"), book.score
            assert book.took == dt.timedelta(minutes=-90, microseconds=7), book.took
        new = await Book.objects.create(
            name="Third", note="n", pages=1, author_id=AUTHOR, published=dt.datetime.now(dt.UTC)
        )
        assert (await Book.objects.get(pk=new.pk)).score == decimal.Decimal("1.50")
    print("read back ok")


asyncio.run(main())
"""


def _revisions(project: FlashProject) -> set[Path]:
    versions = project.root / "migrations" / "default" / "versions"
    return set(versions.glob("*.py")) if versions.is_dir() else set()


def _start(project: FlashProject) -> int:
    """The BEFORE models migrated, two books and an author in the tables; the author's pk."""
    project.write_module("app.models", BEFORE)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    return int(project.python(ROWS).strip())


def test_not_null_columns_and_a_rename_with_rows_present(project: FlashProject) -> None:
    author = _start(project)
    project.write_module("app.models", AFTER)
    before = _revisions(project)

    # not at a terminal and no answers: one line naming the fix, nothing written
    refused = project.flash("db", "makemigrations")
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        "warning: book.title is dropped and book.name added (same type): if it was renamed, "
        "run again with --rename book.title=name, or the data in book.title is lost",
        "warning: book.note becomes NOT NULL; rows that hold NULL make the migration fail "
        "(give them a value with --default book.note=VALUE)",
        "error: book.name, book.pages, book.author_id, book.published are new NOT NULL "
        "columns with no default, and the rows already in book need a value: run again with "
        "--default book.name=VALUE --default book.pages=VALUE --default book.author_id=VALUE "
        "--default book.published=VALUE, give the fields defaults, or make them null=True; "
        "nothing was written",
    ], refused.stderr
    assert "Traceback" not in refused.stderr
    assert _revisions(project) == before

    made = project.ok(
        "db", "makemigrations",
        "--rename", "book.title=name",
        "--default", "book.pages=120",
        "--default", f"Book.author={author}",
        "--default", "published=2024-05-01T10:00:00+02:00",
        "--default", "book.note=none given",
    )  # fmt: skip
    assert "rename_book_title_to_name" in made, made
    [revision] = _revisions(project) - before
    source = revision.read_text()
    assert "flash_db" not in source, source
    assert 'new_column_name="name"' in source, source
    assert 'drop_column("title")' not in source, source
    # the documented form of a backfill (docs/migrations.md)
    assert 'table = sa.table("book", sa.column("pages", sa.Integer()))' in source, source
    assert 'table.c["pages"].is_(None)' in source and '{"pages": 120}' in source, source

    project.ok("db", "migrate")
    assert "read back ok" in project.python(READ_BACK.replace("AUTHOR", str(author)))
    project.ok("db", "makemigrations", "--check")

    # down and up again: the rename goes back to title and forth to name, rows kept
    project.ok("db", "migrate", "-1")
    assert "title" in project.columns("book") and "pages" not in project.columns("book")
    assert sorted(r[0] for r in project.sql("SELECT title FROM book")) == [
        "First",
        "Second",
        "Third",
    ]
    project.ok("db", "migrate")
    project.ok("db", "makemigrations", "--check")


RENAMED_TABLE = (
    BEFORE.replace("class Author(", "class Writer(")
    + """

class Review(Model):
    book = fields.ForeignKey(Book, on_delete=fields.CASCADE)
    by = fields.ForeignKey(Writer, on_delete=fields.CASCADE)
"""
)

BEFORE_WITH_REVIEW = (
    BEFORE
    + """

class Review(Model):
    book = fields.ForeignKey(Book, on_delete=fields.CASCADE)
    by = fields.ForeignKey(Author, on_delete=fields.CASCADE)
"""
)

REVIEW = """
import asyncio

from flash_db.migrations import connected, load_project

from app.models import Author, Book, Review


async def main():
    async with connected(load_project()):
        author = await Author.objects.get(name="Ann")
        book = await Book.objects.get(title="First")
        await Review.objects.create(book=book, by=author)
    print("ok")


asyncio.run(main())
"""

READ_RENAMED = """
import asyncio

from flash_db.exceptions import IntegrityError
from flash_db.migrations import connected, load_project

from app.models import Review, Writer


async def main():
    async with connected(load_project()):
        review = await Review.objects.select_related("by").get()
        assert review.by.name == "Ann" and review.by.email == "ann@example.com"
        try:
            await Writer.objects.create(name="Ann", email="x")  # the unique constraint moved
        except IntegrityError:
            pass
        else:
            raise AssertionError("writer.name is not unique")
    print("renamed ok")


asyncio.run(main())
"""


def test_table_rename_keeps_rows_indexes_and_references(project: FlashProject) -> None:
    project.write_module("app.models", BEFORE_WITH_REVIEW)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    project.python(ROWS)
    project.python(REVIEW)

    project.write_module("app.models", RENAMED_TABLE)
    made = project.ok("db", "makemigrations", "--rename", "author=writer")
    assert "rename_author_to_writer" in made, made
    project.ok("db", "migrate")
    assert "author" not in project.tables() and "writer" in project.tables()
    assert "renamed ok" in project.python(READ_RENAMED)
    project.ok("db", "makemigrations", "--check")

    project.ok("db", "migrate", "-1")
    assert "author" in project.tables() and "writer" not in project.tables()
    assert project.sql("SELECT name FROM author") == [("Ann",)]
    project.ok("db", "migrate")
    project.ok("db", "makemigrations", "--check")


@pytest.fixture
def on_sqlite(tmp_path: Path) -> FlashProject:
    """A project on a new SQLite file: the questions themselves do not depend on the backend."""
    root = tmp_path / "proj"
    root.mkdir()
    proj = FlashProject(root, {"default": scratch_url("sqlite", tmp_path)})
    proj.write_config()
    return proj


def test_a_possible_rename_without_an_answer_is_a_warning(
    on_sqlite: FlashProject,
) -> None:
    project = on_sqlite
    _start(project)
    project.write_module("app.models", BEFORE.replace("title =", "name ="))
    before = _revisions(project)
    # the added column is NOT NULL as well: not renamed, its rows need a value
    result = project.flash("db", "makemigrations", "--default", "book.name=untitled")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == (
        "warning: book.title is dropped and book.name added (same type): if it was renamed, "
        "run again with --rename book.title=name, or the data in book.title is lost"
    )
    [revision] = _revisions(project) - before
    assert 'drop_column("title")' in revision.read_text()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "book.pages=many",
            "error: book.pages: 'many' is not a valid value ('many' is not an integer)",
        ),
        (
            "book.pagez=1",
            "error: --default book.pagez matched no change of this migration (a new NOT NULL "
            "column, or a dropped column or table and an added one of the same type); nothing "
            "was written",
        ),
        ("book.pages", "error: --default 'book.pages': write table.column=VALUE"),
    ],
)
def test_a_bad_default_is_one_line_and_writes_nothing(
    on_sqlite: FlashProject, option: str, message: str
) -> None:
    project = on_sqlite
    _start(project)
    project.write_module("app.models", BEFORE + "    pages = fields.IntegerField()\n")
    before = _revisions(project)
    result = project.flash("db", "makemigrations", "--default", option)
    assert result.returncode != 0
    assert result.stderr.strip() == message, result.stderr
    assert _revisions(project) == before


def _at_terminal(project: FlashProject, answers: str, *args: str) -> tuple[int, str]:
    """``flash *args`` with a terminal on stdin (so it asks), answering ``answers``."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answers.encode())
        env = {k: v for k, v in os.environ.items() if k not in ("FLASH_DB_URL", "FLASH_DB_CONFIG")}
        result = subprocess.run(
            [FLASH, *args],
            cwd=project.root,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    return result.returncode, result.stdout + result.stderr


def test_at_a_terminal_it_asks(on_sqlite: FlashProject) -> None:
    project = on_sqlite
    _start(project)
    project.write_module(
        "app.models", BEFORE.replace("title =", "name =") + "    pages = fields.IntegerField()\n"
    )
    # "many" is refused and asked again; 7 is taken
    code, output = _at_terminal(project, "y\nmany\n7\n", "db", "makemigrations")
    assert code == 0, output
    assert "Did you rename book.title to book.name? [y/N]" in output, output
    assert "book.pages is a new NOT NULL column with no default" in output, output
    assert "'many' is not a valid value" in output, output
    project.ok("db", "migrate")
    assert project.sql("SELECT name, pages FROM book ORDER BY id") == [
        ("First", 7),
        ("Second", 7),
    ]

    # --no-input at a terminal asks nothing
    project.write_module(
        "app.models",
        BEFORE.replace("title =", "name =")
        + ("    pages = fields.IntegerField()\n    year = fields.IntegerField()\n"),
    )
    code, output = _at_terminal(project, "", "db", "makemigrations", "--no-input")
    assert code != 0 and "--default book.year=VALUE" in output, output
    assert "Did you rename" not in output, output


TWO_DATABASES = (
    BEFORE
    + """

class Note(Model):
    text = fields.TextField()

    class Meta:
        database = "other"
"""
)


def test_answers_serve_every_database(tmp_path: Path) -> None:
    """Without --database, one set of answers serves every database: an answer is used by
    the database it concerns, and refused only when no database's migration used it."""
    root = tmp_path / "proj"
    root.mkdir()
    urls = {"default": scratch_url("sqlite", tmp_path), "other": scratch_url("sqlite", tmp_path)}
    project = FlashProject(root, urls)
    project.write_config()
    project.write_module("app.models", TWO_DATABASES)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    project.python(ROWS)
    project.write_module(
        "app.models",
        TWO_DATABASES.replace(
            "    note = fields.TextField(null=True)\n",
            ("    note = fields.TextField(null=True)\n    pages = fields.IntegerField()\n"),
        ),
    )
    made = project.ok("db", "makemigrations", "--default", "book.pages=3")
    assert "default: wrote" in made and "other: no changes" in made, made
    project.ok("db", "migrate")
    assert project.sql("SELECT pages FROM book") == [(3,), (3,)]

    project.write_module(
        "app.models",
        TWO_DATABASES.replace(
            "    note = fields.TextField(null=True)\n",
            "    note = fields.TextField(null=True)\n    pages = fields.IntegerField()\n",
        ).replace("text = fields.TextField()", "text = fields.TextField(null=True)"),
    )
    result = project.flash("db", "makemigrations", "--default", "book.pagez=1")
    assert result.returncode != 0
    assert "other: wrote" in result.stdout, result.stdout
    assert result.stderr.strip() == (
        "error: --default book.pagez matched no change of any database's migration (a new "
        "NOT NULL column, or a dropped column or table and an added one of the same type)"
    ), result.stderr
