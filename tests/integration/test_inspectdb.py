"""``flash db inspectdb``: a schema read back as models is in sync with the database.

Each test runs the real ``flash`` executable in a temporary project (see
``flashproject.py``): a schema is created from flash_db models (or raw DDL),
``inspectdb`` prints models for it, and those models are imported in a *fresh*
project pointing at the same database, where Alembic's ``compare_metadata``
(types and server defaults compared) must find nothing to change.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from .flashproject import FlashProject

RUFF = str(Path(sys.executable).with_name("ruff"))

#: every field type, nullable / unique / db_index / server defaults, a db_column,
#: FK (CASCADE in Python, DB_CASCADE / DB_SET_NULL in the DDL), OneToOne, self FK,
#: M2M (auto join table), unique_together, a named and a descending Meta index
SEED_MODELS = """
import enum
import uuid

from flash_db import Index, Model, Now, fields
from flash_db.constraints import UniqueConstraint


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.Enum):
    LOW = 1
    HIGH = 2


class Author(Model):
    name = fields.CharField(max_length=100, unique=True)
    email = fields.CharField(max_length=254, null=True, db_index=True)
    bio = fields.TextField(null=True, description="about the author")
    active = fields.BooleanField(default=True, db_default=True)
    score = fields.IntegerField(db_default=0)
    small = fields.SmallIntegerField(null=True)
    big = fields.BigIntegerField(null=True)
    rating = fields.FloatField(null=True, db_default=1.5)
    price = fields.DecimalField(max_digits=8, decimal_places=2, null=True)
    born = fields.DateField(null=True)
    joined = fields.DateTimeField(db_default=Now())
    naive = fields.DateTimeField(timezone=False, null=True)
    wake = fields.TimeField(null=True)
    span = fields.DurationField(null=True)
    blob = fields.BinaryField(null=True)
    data = fields.JSONField(null=True)
    token = fields.UUIDField(default=uuid.uuid4, unique=True)
    color = fields.EnumField(Color, null=True)
    level = fields.EnumField(Level, null=True)
    label = fields.CharField(max_length=20, db_default="n/a", db_column="label_col")

    class Meta:
        table = "ins_author"


class Tag(Model):
    id = fields.AutoField()
    name = fields.CharField(max_length=30)

    class Meta:
        table = "ins_tag"


class Book(Model):
    title = fields.CharField(max_length=200)
    author = fields.ForeignKey(Author, on_delete=fields.CASCADE, related_name="books")
    editor = fields.ForeignKey(
        Author, on_delete=fields.DB_SET_NULL, null=True, related_name="edited"
    )
    parent = fields.ForeignKey("self", on_delete=fields.DB_CASCADE, null=True)
    tag = fields.ForeignKey(Tag, on_delete=fields.PROTECT, null=True, db_index=False)
    tags = fields.ManyToManyField(Tag, related_name="books")
    year = fields.IntegerField()

    class Meta:
        table = "ins_book"
        unique_together = [("title", "author")]
        indexes = [Index(fields=["year", "-title"]), Index(fields=["title"], name="book_title_idx")]
        constraints = [UniqueConstraint(fields=["year", "editor"], name="book_year_editor_uq")]


class Profile(Model):
    key = fields.UUIDField(primary_key=True)
    author = fields.OneToOneField(Author, on_delete=fields.DO_NOTHING)

    class Meta:
        table = "ins_profile"
"""

CREATE_ALL = """
import asyncio

import flash_db
from flash_db.migrations import load_project


async def main():
    load_project()
    async with flash_db.connect():
        await flash_db.create_all()


asyncio.run(main())
"""

#: prints what Alembic would change to make the database match the imported models
COMPARE = """
import asyncio
import json

from sqlalchemy.ext.asyncio import create_async_engine

from flash_db.migrations import load_project
from flash_db.migrations.autogen import diff


def compare(conn):
    # The comparison `flash db makemigrations --check` makes (types, server defaults).
    out = []
    for change in diff(conn, "default"):
        for op in change if isinstance(change, list) else [change]:
            # ("add_index", Index) / ("modify_type", schema, table, column, ...)
            target = op[1] if len(op) == 2 else f"{op[2]}.{op[3]}"
            out.append(f"{op[0]} {getattr(target, 'name', target)}")
    return sorted(out)


async def main():
    project = load_project()
    engine = create_async_engine(project.url("default"))
    async with engine.connect() as conn:
        print(json.dumps(await conn.run_sync(compare)))
    await engine.dispose()


asyncio.run(main())
"""


def _python(project: FlashProject, source: str) -> str:
    return project.python(source)


def _fresh(project: FlashProject, name: str, models: str) -> FlashProject:
    """A second project on the same ``default`` database whose models module is ``models``."""
    root = project.root.parent / name
    root.mkdir()
    fresh = FlashProject(root, {"default": project.databases["default"]})
    fresh.write_config()
    fresh.write_module("app.models", models)
    return fresh


def _diff(project: FlashProject) -> list[str]:
    return list(json.loads(_python(project, COMPARE).strip().splitlines()[-1]))


def _joined(source: str) -> str:
    """``source`` with calls that ruff format split over lines joined back to one line."""
    source = re.sub(r",\n\s*([)\]])", r"\1", source)
    source = re.sub(r"([(\[])\n\s*", r"\1", source)
    return re.sub(r",\n\s+", ", ", source)


def _ruff(path: Path) -> None:
    # --isolated: the generated module is checked as a user's project would see it, with
    # the repository's rule set (not its config file, which names flash_db first-party).
    rules = "E,F,W,I,B,UP,RUF"
    for args in (["check", "--select", rules], ["format", "--check", "--diff"]):
        result = subprocess.run(
            [RUFF, *args, "--isolated", str(path)],
            cwd=path.parent,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"ruff {args[0]}:\n{result.stdout}\n{result.stderr}"


def test_round_trip_of_flash_db_schema(project: FlashProject, backend: str) -> None:
    project.write_module("app.models", SEED_MODELS)
    _python(project, CREATE_ALL)
    baseline = _diff(project)

    source = project.ok("db", "inspectdb")
    for expected in (
        "class InsAuthor(Model):",
        'table = "ins_book_tags"',
        'parent = fields.ForeignKey("self", on_delete=fields.DB_CASCADE, null=True)',
        'author = fields.OneToOneField("InsAuthor", on_delete=fields.DO_NOTHING)',
        'tag = fields.ForeignKey("InsTag", on_delete=fields.DO_NOTHING, null=True, db_index=False)',
        'unique_together = (("title", "author"),)',
        'Index(fields=["title"], name="book_title_idx")',
        'UniqueConstraint(fields=["year", "editor"], name="book_year_editor_uq")',
        "joined = fields.DateTimeField(db_default=Now())",
        'label_col = fields.CharField(max_length=20, db_default="n/a")',
        "token = fields.UUIDField(unique=True)",
        # PostgreSQL has interval and timestamp types; elsewhere a duration is a BIGINT
        # count of microseconds, and every datetime is stored naive
        "span = fields.DurationField(null=True)"
        if backend == "postgresql"
        else "span = fields.BigIntegerField(null=True)",
        "naive = fields.DateTimeField(timezone=False, null=True)"
        if backend == "postgresql"
        else "naive = fields.DateTimeField(null=True)",
    ):
        assert expected in _joined(source), f"{expected!r} not in:\n{source}"
    # parents before children: every class is defined before a class that names it
    assert source.index("class InsAuthor(") < source.index("class InsBook(")
    assert source.index("class InsBook(") < source.index("class InsBookTags(")

    fresh = _fresh(project, "fresh", source)
    _ruff(fresh.root / "app" / "models.py")
    generated = _diff(fresh)
    # inspectdb adds no difference of its own, and the comparison finds none at all.
    assert baseline == [] and generated == []

    # the documented workflow for an existing database: the first makemigrations finds
    # nothing to do; an empty baseline revision, applied, gives --check a history
    assert "default: no changes" in fresh.ok("db", "makemigrations")
    fresh.ok("db", "makemigrations", "--empty", "-m", "inspected schema")
    fresh.ok("db", "migrate")
    fresh.ok("db", "makemigrations", "--check")
    # inspecting again (now with alembic_version in the database) gives the same models
    assert fresh.ok("db", "inspectdb") == source


def test_tables_option_and_output_file(project: FlashProject) -> None:
    project.write_module("app.models", SEED_MODELS)
    _python(project, CREATE_ALL)
    out = project.root / "generated.py"
    project.ok("db", "inspectdb", "--table", "ins_book", "-t", "ins_author", "-o", str(out))
    source = out.read_text()
    assert "class InsBook(Model):" in source and "class InsAuthor(Model):" in source
    assert "class InsTag(" not in source
    # the FK to a table that was left out is kept, with a note
    assert "# TODO: ins_tag is not among the inspected tables" in source
    result = project.flash("db", "inspectdb", "--table", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no such table(s): nope")


#: raw DDL with types flash_db never creates, per backend
FOREIGN_DDL = {
    "sqlite": [
        "CREATE TABLE legacy (id INTEGER PRIMARY KEY, anything, "
        "amount REAL DEFAULT 0.5, note VARCHAR, code CHAR(3) NOT NULL DEFAULT 'abc')",
        "CREATE TABLE legacy_item (legacy_ref INTEGER REFERENCES legacy(id), "
        "qty INTEGER CHECK (qty > 0), class TEXT, PRIMARY KEY (legacy_ref, qty))",
    ],
    "postgresql": [
        "CREATE TYPE mood AS ENUM ('sad', 'happy')",
        "CREATE TABLE legacy (id SERIAL PRIMARY KEY, addr INET, m mood DEFAULT 'happy', "
        "doc JSONB, ratio REAL, tags TEXT[], amount NUMERIC, "
        "uid UUID DEFAULT gen_random_uuid())",
        "CREATE TABLE legacy_item (legacy_ref INTEGER REFERENCES legacy(id) ON DELETE SET NULL, "
        "qty INTEGER CONSTRAINT qty_positive CHECK (qty > 0), class TEXT)",
        "CREATE INDEX legacy_lower_addr ON legacy (lower(addr::text))",
    ],
    "mysql": [
        "CREATE TABLE legacy (id INT AUTO_INCREMENT PRIMARY KEY, body MEDIUMTEXT, "
        "flags TINYINT, kind ENUM('a','b') NOT NULL DEFAULT 'a', stamp TIMESTAMP NULL, "
        "raw VARBINARY(16), yr YEAR)",
        "CREATE TABLE legacy_item (legacy_ref INT, qty INT, class TEXT, "
        "CONSTRAINT legacy_fk FOREIGN KEY (legacy_ref) REFERENCES legacy(id))",
    ],
}

RAW_DDL = """
import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from flash_db.migrations import load_project

STATEMENTS = {statements!r}


async def main():
    engine = create_async_engine(load_project(import_models=False).url("default"))
    async with engine.begin() as conn:
        for statement in STATEMENTS:
            await conn.execute(sa.text(statement))
    await engine.dispose()


asyncio.run(main())
"""


def test_foreign_types_are_kept_or_noted(project: FlashProject, backend: str) -> None:
    _python(project, RAW_DDL.format(statements=FOREIGN_DDL[backend]))
    source = project.ok("db", "inspectdb")
    assert "# TODO: " in source
    expected = {
        "sqlite": "# TODO: column has no type",
        "postgresql": 'addr = fields.TextField(null=True, db_types={"postgresql": postgresql.INET()})',
        "mysql": 'body = fields.TextField(null=True, db_types={"mysql": mysql.MEDIUMTEXT()})',
    }[backend]
    assert expected in source, source
    # the class named "class" column keeps its column name
    assert 'class_field = fields.TextField(null=True, db_column="class")' in source
    fresh = _fresh(project, "fresh", source)
    _ruff(fresh.root / "app" / "models.py")
    # importable: the models register and build their tables
    out = _python(
        fresh,
        "import flash_db\nimport app.models\nprint(sorted(flash_db.metadata.tables))\n",
    )
    assert "'legacy'" in out and "'legacy_item'" in out


#: legacy columns of types flash_db does not create, and values for them
KEPT_DDL = {
    "sqlite": (
        "CREATE TABLE kept (id INTEGER PRIMARY KEY, name NVARCHAR(20) NOT NULL, note VARCHAR, "
        "price DOUBLE, at DATETIME)",
        {"name": "n", "note": "free text", "price": 1.5},
    ),
    "postgresql": (
        "CREATE TYPE kept_mood AS ENUM ('sad', 'happy'); "
        "CREATE TABLE kept (id SERIAL PRIMARY KEY, addr INET, m kept_mood NOT NULL DEFAULT "
        "'happy', doc JSONB, tags TEXT[], amount NUMERIC, code VARCHAR, ratio REAL)",
        {
            "addr": "10.0.0.1",
            "m": "sad",
            "doc": {"a": [1, None]},
            "tags": ["x", "y"],
            "amount": "1.5",
            "code": "c",
            "ratio": 0.5,
        },
    ),
    "mysql": (
        "CREATE TABLE kept (id INT AUTO_INCREMENT PRIMARY KEY, body MEDIUMTEXT, flags TINYINT, "
        "kind ENUM('a','b') NOT NULL DEFAULT 'a', raw VARBINARY(16), price DOUBLE)",
        {"body": "b", "flags": 3, "kind": "b", "raw": b"\x00\x01", "price": 1.5},
    ),
}

KEPT_ROUND_TRIP = """
import asyncio
import decimal

from flash_db.migrations import connected, load_project

from app.models import Kept

VALUES = {values!r}


async def main():
    async with connected(load_project()):
        made = await Kept.objects.create(**VALUES)
        got = await Kept.objects.get(pk=made.pk)
        for name, value in VALUES.items():
            field = Kept._meta.get_field(name)
            read = getattr(got, name)
            if name == "addr":
                # asyncpg decodes inet as ipaddress objects (docs/inspectdb.md)
                read = str(read)
            assert read == field.to_python(value), (name, read)
        first = next(iter(VALUES))
        assert await Kept.objects.filter(**{{first: VALUES[first]}}).count() == 1
    print("kept ok")


asyncio.run(main())
"""


def test_legacy_column_types_are_kept(project: FlashProject, backend: str) -> None:
    """A column of a type flash_db does not create keeps its type in the inspected model
    (db_types), so rows are written and read through it and makemigrations changes nothing."""
    ddl, values = KEPT_DDL[backend]
    _python(project, RAW_DDL.format(statements=ddl.split("; ")))
    source = project.ok("db", "inspectdb")
    assert "db_types=" in source, source
    # nothing left to do by hand but reading the note on an array column
    todos = [line for line in source.split('"""', 2)[2].splitlines() if "# TODO" in line]
    assert all("TEXT[] kept; values are lists" in t for t in todos), source
    fresh = _fresh(project, "fresh", source)
    _ruff(fresh.root / "app" / "models.py")
    assert "default: no changes" in fresh.ok("db", "makemigrations")
    assert "kept ok" in _python(fresh, KEPT_ROUND_TRIP.format(values=values))


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.flash_db]\n[tool.flash_db.databases]\n"
        'default = "postgresql+asyncpg://u:s3cret@127.0.0.1:1/x"\n'
    )
    project = FlashProject(tmp_path, {})
    result = project.flash("db", "inspectdb")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    assert "u:***@127.0.0.1:1" in lines[0]
    assert result.stdout == ""


def test_unknown_alias(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.flash_db]\n")
    result = FlashProject(tmp_path, {}).flash("db", "inspectdb", "--database", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown database 'nope'")


#: a join table with a two-column primary key, and rows, as another tool made them
COMPOSITE_DDL = [
    "CREATE TABLE playlist (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
    "CREATE TABLE track (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL)",
    "CREATE TABLE playlist_track (playlist_id INTEGER NOT NULL REFERENCES playlist(id), "
    "track_id INTEGER NOT NULL REFERENCES track(id), PRIMARY KEY (playlist_id, track_id))",
    "INSERT INTO playlist VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO track VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    "INSERT INTO playlist_track VALUES (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)",
]

READ_ONLY = """
import asyncio

from flash_db.exceptions import NotSupportedError
from flash_db.migrations import connected, load_project

from app.models import Playlist, PlaylistTrack


async def refused(action):
    try:
        await action
    except NotSupportedError as exc:
        assert "PlaylistTrack is read-only (Meta.read_only = True)" in str(exc), exc
    else:
        raise AssertionError("a write to the read-only model went through")


async def main():
    async with connected(load_project()):
        assert await PlaylistTrack.objects.count() == 6
        assert await PlaylistTrack.objects.filter(playlist__name="two").count() == 3
        row = await PlaylistTrack.objects.filter(playlist_id=1).first()
        await refused(row.delete())
        await refused(PlaylistTrack.objects.filter(playlist_id=1).delete())
        await refused(PlaylistTrack.objects.filter(playlist_id=1).update(track_id=3))
        await refused(PlaylistTrack.objects.create(playlist_id=2, track_id=1))
        # a cascade from a parent stops before deleting anything
        await refused((await Playlist.objects.get(pk=1)).delete())
        assert await PlaylistTrack.objects.count() == 6
        assert await Playlist.objects.count() == 2
    print("read-only ok")


asyncio.run(main())
"""


def test_a_composite_key_table_is_read_only(project: FlashProject) -> None:
    """inspectdb never writes a model whose stand-in key could delete more than one row:
    a table with a composite primary key (or none) becomes a read-only, unmanaged model."""
    _python(project, RAW_DDL.format(statements=COMPOSITE_DDL))
    source = project.ok("db", "inspectdb")
    assert "composite primary key (playlist_id, track_id)" in source, source
    assert "managed = False\n        read_only = True" in source, source
    fresh = _fresh(project, "fresh", source)
    _ruff(fresh.root / "app" / "models.py")
    assert "default: no changes" in fresh.ok("db", "makemigrations")
    # a user who asks the ORM to cascade into it is refused too, before any row goes
    cascading = source.replace("on_delete=fields.DO_NOTHING", "on_delete=fields.CASCADE")
    assert cascading != source
    fresh.write_module("app.models", cascading)
    assert "read-only ok" in _python(fresh, READ_ONLY)
    assert project.sql("SELECT COUNT(*) FROM playlist_track") == [(6,)]
