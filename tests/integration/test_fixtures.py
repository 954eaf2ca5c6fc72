"""``flash db dumpdata`` / ``loaddata``: round trips, all-or-nothing loads, streaming.

The commands run as the real ``flash`` executable in a temporary project (the
``project`` fixture: fresh ``default`` and ``other`` databases on the backend's
server). The schema, the sample rows and the snapshots used to compare rows are
made by small Python programs run in the project folder (:func:`_python`), so
the checks do not go through the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .flashproject import FlashProject

MODELS = """
import enum
from flash_db import Model, fields

class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"

class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2

class Tag(Model):
    name = fields.CharField(max_length=50, unique=True)

class Author(Model):
    name = fields.CharField(max_length=100)
    # a self reference, and (with Book.author) a cycle between two tables
    mentor = fields.ForeignKey("self", on_delete=fields.SET_NULL, null=True, related_name="mentees")
    favourite = fields.ForeignKey("Book", on_delete=fields.SET_NULL, null=True, related_name="fans")

class Book(Model):
    title = fields.CharField(max_length=200)
    author = fields.ForeignKey(Author, on_delete=fields.CASCADE, related_name="books")
    tags = fields.ManyToManyField(Tag, related_name="books")
    price = fields.DecimalField(max_digits=8, decimal_places=2)
    published = fields.DateTimeField(null=True)
    day = fields.DateField(null=True)
    at = fields.TimeField(null=True)
    took = fields.DurationField(null=True)
    uid = fields.UUIDField(null=True)
    blob = fields.BinaryField(null=True)
    data = fields.JSONField(null=True)
    color = fields.EnumField(Color, null=True)
    level = fields.EnumField(Level, null=True)
    ratio = fields.FloatField(null=True)
    ok = fields.BooleanField(default=True)
    notes = fields.TextField(null=True)

class Club(Model):
    name = fields.CharField(max_length=50)
    members = fields.ManyToManyField(Author, through="Membership", related_name="clubs")

class Membership(Model):
    club = fields.ForeignKey(Club, on_delete=fields.CASCADE)
    author = fields.ForeignKey(Author, on_delete=fields.CASCADE)
    role = fields.CharField(max_length=20)
"""

#: connects ``db`` to the alias named by ``ALIAS`` and imports the models
_PRELUDE = """
import asyncio, datetime as dt, decimal, json, sys, uuid
import flash_db
from app.models import *

async def _connect(alias=None):
    # the alias under test is the ORM's "default" (the models have no Meta.database)
    await flash_db.connect(databases={"default": URLS[alias or ALIAS]})
"""

SEED = """
async def seed():
    t1 = await Tag.objects.create(name="a")
    t2 = await Tag.objects.create(name="b,\\"quoted\\"")
    late = await Author.objects.create(name="pupil")      # pk 1: its mentor gets pk 2
    first = await Author.objects.create(name="teacher")
    late.mentor = first
    await late.save()
    book = await Book.objects.create(
        title="Tales", author=first, price=decimal.Decimal("9.50"),
        published=dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        day=dt.date(2024, 2, 29), at=dt.time(12, 30, 1, 5),
        took=dt.timedelta(days=2, seconds=3, microseconds=7),
        uid=uuid.UUID("12345678-1234-5678-1234-567812345678"), blob=b"\\x00\\xffbin",
        data={"k": [1, None, "x"], "s": "\\u00e9"}, color=Color.RED, level=Level.HIGH,
        ratio=0.1, ok=False, notes="line 1\\nline 2, \\"q\\"",
    )
    await book.tags.add(t1, t2)
    await Book.objects.create(title="Empty", author=late, price=decimal.Decimal("1"))
    first.favourite = book
    await first.save()
    club = await Club.objects.create(name="c")
    await Membership.objects.create(club=club, author=late, role="chair")
"""

SNAPSHOT = """
async def snapshot():
    out = {}
    for model in (Tag, Author, Book, Club, Membership):
        out[model.__name__] = [
            {k: repr(v) for k, v in sorted(row.items())}
            for row in await model.objects.order_by("pk").values()
        ]
    out["links"] = [
        [b.pk, sorted(t.pk for t in await b.tags.all())] for b in await Book.objects.order_by("pk")
    ]
    return out
"""

EMPTY = """
async def empty():
    await Author.objects.update(favourite=None, mentor=None)
    for model in (Membership, Club, Book.tags.through, Book, Author, Tag):
        await model.objects.all().delete()
"""

FRESH_INSERTS = """
async def fresh_inserts():
    # explicit pks were loaded: a create() without a pk must get a new one
    tag = await Tag.objects.create(name="fresh")
    author = await Author.objects.create(name="fresh")
    book = await Book.objects.create(title="fresh", author=author, price=decimal.Decimal("2"))
    await book.tags.add(tag)
    pks = [tag.pk, author.pk, book.pk]
    await book.delete(); await author.delete(); await tag.delete()
    return pks
"""


def _python(project: FlashProject, alias: str, body: str) -> object:
    """Run ``body`` (inside ``async def main()``, returning a JSON value) on ``alias``."""
    source = "\n".join(
        [
            f"URLS = {project.databases!r}",
            f"ALIAS = {alias!r}",
            textwrap.dedent(_PRELUDE),
            textwrap.dedent(SEED),
            textwrap.dedent(SNAPSHOT),
            textwrap.dedent(EMPTY),
            textwrap.dedent(FRESH_INSERTS),
            "async def main():",
            "    await _connect()",
            "    try:",
            textwrap.indent(textwrap.dedent(body), "        "),
            "    finally:",
            "        await flash_db.disconnect()",
            "print(json.dumps(asyncio.run(main())))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", source],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def seeded(project: FlashProject) -> tuple[FlashProject, object]:
    """The models, their tables on ``default`` and ``other``, sample rows on ``default``."""
    project.write_module("app.models", MODELS)
    snapshot = _python(
        project,
        "default",
        """
        await flash_db.create_all()
        await seed()
        rows = await snapshot()
        await _connect("other")
        await flash_db.create_all()
        return rows
        """,
    )
    return project, snapshot


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_round_trip_in_every_format(seeded: tuple[FlashProject, object]) -> None:
    project, original = seeded
    root = project.root
    project.ok("db", "dumpdata", "-o", "all.json")
    project.ok("db", "dumpdata", "-o", "all.jsonl")
    project.ok("db", "dumpdata", "--format", "csv", "-o", "csv")

    objects = json.loads((root / "all.json").read_text())
    assert [json.loads(line) for line in (root / "all.jsonl").read_text().splitlines()] == objects
    by_label: dict[str, list[dict[str, object]]] = {}
    for obj in objects:
        by_label.setdefault(obj["model"], []).append(obj)
    # parents first; the auto-created join table travels as lists on Book
    order = list(by_label)
    assert sorted(order) == ["app.Author", "app.Book", "app.Club", "app.Membership", "app.Tag"]
    # (Author <-> Book is a cycle, broken at the nullable Author.favourite)
    for parent, child in [("Tag", "Book"), ("Author", "Book"), ("Club", "Membership")]:
        assert order.index(f"app.{parent}") < order.index(f"app.{child}")
    assert order.index("app.Author") < order.index("app.Membership")
    tales = by_label["app.Book"][0]["fields"]
    assert tales["published"] == "2024-01-02T01:04:05.678901+00:00"
    assert tales["price"] == "9.50" and tales["took"] == 172803.000007
    assert tales["uid"] == "12345678-1234-5678-1234-567812345678"
    assert tales["blob"] == "AP9iaW4=" and tales["data"] == {"k": [1, None, "x"], "s": "é"}
    assert (tales["color"], tales["level"], tales["tags"]) == ("red", 2, [1, 2])
    assert by_label["app.Author"][0]["fields"]["mentor"] == 2
    assert "members" not in by_label["app.Club"][0]["fields"]  # explicit through: own objects
    assert by_label["app.Membership"][0]["fields"] == {"club": 1, "author": 1, "role": "chair"}
    assert sorted(p.name for p in (root / "csv").iterdir()) == [
        "app.Author.csv", "app.Book.csv", "app.Club.csv", "app.Membership.csv", "app.Tag.csv",
    ]  # fmt: skip

    csv_files = [str(p) for p in sorted((root / "csv").iterdir())]
    _python(project, "default", "await empty()\nreturn None")
    for args in (["all.json"], ["all.jsonl"], csv_files):
        out = project.ok("db", "loaddata", *args)
        assert out.strip() == f"Installed 8 object(s) from {len(args)} fixture(s)"
        after = _python(
            project,
            "default",
            "s = await snapshot()\npks = await fresh_inserts()\nawait empty()\nreturn [s, pks]",
        )
        assert isinstance(after, list)
        assert after[0] == original, args
        # a new pk past the loaded ones on every backend (MySQL's counter may skip a used 3)
        assert all(pk > 2 for pk in after[1]), after[1]

    # --database on both commands: load into 'other', dump it back out
    project.ok("db", "loaddata", "all.jsonl", "--database", "other")
    project.ok("db", "dumpdata", "--database", "other", "-o", "other.json")
    assert json.loads((root / "other.json").read_text()) == objects
    after = _python(project, "other", "return [await snapshot(), await fresh_inserts()]")
    assert after == [original, [3, 3, 3]]  # a database that never saw pk 3


def test_a_bad_fixture_changes_nothing(seeded: tuple[FlashProject, object]) -> None:
    project, original = seeded
    root = project.root
    # More rows than one INSERT batch before the problem: earlier batches roll back too.
    good = [
        json.dumps({"model": "app.Tag", "pk": 100 + i, "fields": {"name": f"t{i}"}})
        for i in range(2500)
    ]
    cases = {
        "bad.json": (
            "[\n" + ",\n".join(good[:50]) + ',\n{"model": "app.Tag", "pk": 9, "fields": {"name": }}\n]',
            "bad.json:52: malformed JSON",
        ),
        "model.jsonl": (
            "\n".join([*good[:10], '{"model": "app.Nope", "pk": 1, "fields": {}}']),
            "model.jsonl:11: unknown model 'app.Nope'",
        ),
        "field.jsonl": (
            "\n".join([*good[:10], '{"model": "app.Tag", "pk": 7, "fields": {"nmae": "x"}}']),
            "field.jsonl:11: unknown field 'nmae' on app.Tag; fields: id, name",
        ),
        "value.jsonl": (
            '{"model": "app.Book", "pk": 9, "fields": {"title": "x", "author": 1, "price": "abc"}}',
            "value.jsonl:1: app.Book.price: 'abc' is not a decimal number",
        ),
        # a unique violation in the very last row, after 2500 good ones
        "unique.jsonl": (
            "\n".join([*good, '{"model": "app.Tag", "pk": 5000, "fields": {"name": "a"}}']),
            "loading app.Tag (objects unique.jsonl:2001 to unique.jsonl:2501) failed",
        ),
        # a foreign key to a row that does not exist, last
        "fk.jsonl": (
            "\n".join(
                [*good, '{"model": "app.Book", "pk": 9, "fields": {"title": "x", "author": 99, "price": "1"}}']
            ),
            "loading app.Book (objects fk.jsonl:2501) failed",
        ),
    }  # fmt: skip
    for name, (text, expected) in cases.items():
        (root / name).write_text(text + "\n")
        line = _error_line(project.flash("db", "loaddata", name))
        assert line.startswith("error: "), line
        assert expected in line, line
    assert "IntegrityError" not in line and "nothing was loaded" in line

    missing = _error_line(project.flash("db", "loaddata", "nope.json"))
    assert missing == "error: fixture file nope.json does not exist"
    unknown = _error_line(project.flash("db", "dumpdata", "app.Nope"))
    assert unknown.startswith("error: unknown model 'app.Nope'; models: app.Tag, app.Author")
    unknown_db = _error_line(project.flash("db", "dumpdata", "--database", "nowhere"))
    assert "unknown database 'nowhere'" in unknown_db
    assert _python(project, "default", "return await snapshot()") == original


STREAMING = """
import asyncio, io, json, os, sys, tracemalloc
from pathlib import Path
import sqlalchemy as sa
import flash_db
from flash_db.migrations import fixtures
from app.models import Item

ROWS = 60_000

async def main():
    await flash_db.connect(databases={"default": URL})
    await flash_db.create_all()
    table = Item._meta.table
    async with flash_db.atomic():
        for start in range(1, ROWS + 1, 10_000):
            rows = [{"id": i, "name": f"item number {i}", "n": i} for i in range(start, start + 10_000)]
            await flash_db.connections.execute("default", sa.insert(table), rows)
    out = Path("items.jsonl")
    tracemalloc.start()
    dumped = await fixtures.dump(["app.Item"], fmt="jsonl", out=out)
    dump_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    await Item.objects.all().delete()
    tracemalloc.start()
    loaded = await fixtures.load([out])
    load_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    count = await Item.objects.count()
    await flash_db.disconnect()
    print(json.dumps([dumped, loaded, count, out.stat().st_size, dump_peak, load_peak]))

asyncio.run(main())
"""


def test_streaming_keeps_memory_bounded(tmp_path: Path) -> None:
    """60,000 rows through dump and load (SQLite): the peak of Python allocations stays a
    few MB, far below the rows themselves (the fixture file alone is ~3 MB, the rows as
    Python dicts ~30 MB). Kept small because tracemalloc slows Python down a lot."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'stream.sqlite3'}"
    project = FlashProject(tmp_path, {"default": url})
    project.write_config()
    project.write_module(
        "app.models",
        """
        from flash_db import Model, fields

        class Item(Model):
            name = fields.CharField(max_length=50)
            n = fields.IntegerField()
        """,
    )
    result = subprocess.run(
        [sys.executable, "-c", f"URL = {url!r}\n" + STREAMING],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    dumped, loaded, count, size, dump_peak, load_peak = json.loads(result.stdout)
    assert dumped == loaded == count == 60_000
    assert size > 2_500_000
    # Holding the rows would take ~30 MB of Python objects; batches take ~1 MB.
    assert dump_peak < 4_000_000, dump_peak
    assert load_peak < 4_000_000, load_peak


def test_json_reader_is_incremental_and_counts_lines(tmp_path: Path) -> None:
    """The JSON array reader works across its 64 KiB chunks, on any layout, and names the
    line of a broken object deep in the file (no database needed)."""
    from flash_db.exceptions import FixtureError
    from flash_db.migrations.fixtures_formats import read_objects

    objects = [
        {"model": "app.Tag", "pk": i, "fields": {"name": "x" * 40, "n": 1.5 * i}}
        for i in range(3000)
    ]
    text = json.dumps(objects, indent=4)  # ~700 KB, 8 lines per object
    path = tmp_path / "indented.json"
    path.write_text(text)
    read = list(read_objects(path))
    assert [(r.pk, r.fields) for r in read] == [(o["pk"], o["fields"]) for o in objects]
    assert read[2999].where == f"{path}:{2 + 8 * 2999}"

    broken = tmp_path / "broken.json"
    broken.write_text(text[:-2] + ',\n    {"model": "app.Tag", "pk": 1, "fields": {"n": 1,}}\n]')
    with pytest.raises(FixtureError, match=rf"broken.json:{2 + 8 * 3000}: malformed JSON"):
        list(read_objects(broken))
    unclosed = tmp_path / "unclosed.json"
    unclosed.write_text(text[:-2])
    with pytest.raises(FixtureError, match="the array is not closed"):
        list(read_objects(unclosed))
