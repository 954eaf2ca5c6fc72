"""A database another tool made, adopted with ``flash db inspectdb`` and used unedited (#18).

A small music store in the shape of the public "Chinook" sample: PascalCase names
(quoted on PostgreSQL), ``NVARCHAR`` on SQLite, keys named ``ArtistId`` referenced by
foreign keys, a self-referencing employee, a join table with a two-column primary key,
non-ASCII text. The schema and rows are written by each backend's own command-line
client, never by flash_db. On every backend: the printed models import unedited, the
next ``makemigrations`` changes nothing, queries agree with the same question in SQL,
the join table refuses writes instead of deleting more than one row, and a dump loads
into a new database with the same rows.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from .flashproject import FlashProject, drop_scratch, scratch_url

_ROWS = [
    "INSERT INTO {Artist} VALUES (1, 'AC/DC'), (2, 'Accept'), (3, 'CORAÇÃO')",
    "INSERT INTO {Album} VALUES (1, 'For Those About To Rock', 1), (2, 'Balls', 2), "
    "(3, 'Restless', 2)",
    "INSERT INTO {Employee} VALUES (1, 'Adams', NULL), (2, 'Edwards', 1), (3, 'Peacock', 2)",
    "INSERT INTO {Track} VALUES (1, 'Rock', 1, 0.99), (2, 'Put', 1, 0.99), (3, 'Fast', 2, 1.99)",
    "INSERT INTO {Playlist} VALUES (1, 'Music'), (2, 'Movies')",
    "INSERT INTO {PlaylistTrack} VALUES (1, 1), (1, 2), (1, 3), (2, 1), (2, 3)",
]

_TABLES = """
CREATE TABLE {Artist} ({ArtistId} INTEGER NOT NULL, {Name} {text}(120),
    PRIMARY KEY ({ArtistId}));
CREATE TABLE {Album} ({AlbumId} INTEGER NOT NULL, {Title} {text}(160) NOT NULL,
    {ArtistId} INTEGER NOT NULL, PRIMARY KEY ({AlbumId}),
    FOREIGN KEY ({ArtistId}) REFERENCES {Artist} ({ArtistId}));
CREATE TABLE {Employee} ({EmployeeId} INTEGER NOT NULL, {LastName} {text}(20) NOT NULL,
    {ReportsTo} INTEGER, PRIMARY KEY ({EmployeeId}),
    FOREIGN KEY ({ReportsTo}) REFERENCES {Employee} ({EmployeeId}));
CREATE TABLE {Track} ({TrackId} INTEGER NOT NULL, {Name} {text}(200) NOT NULL,
    {AlbumId} INTEGER, {UnitPrice} NUMERIC(10, 2) NOT NULL, PRIMARY KEY ({TrackId}),
    FOREIGN KEY ({AlbumId}) REFERENCES {Album} ({AlbumId}));
CREATE TABLE {Playlist} ({PlaylistId} INTEGER NOT NULL, {Name} {text}(120),
    PRIMARY KEY ({PlaylistId}));
CREATE TABLE {PlaylistTrack} ({PlaylistId} INTEGER NOT NULL, {TrackId} INTEGER NOT NULL,
    PRIMARY KEY ({PlaylistId}, {TrackId}),
    FOREIGN KEY ({PlaylistId}) REFERENCES {Playlist} ({PlaylistId}),
    FOREIGN KEY ({TrackId}) REFERENCES {Track} ({TrackId}));
"""

_NAMES = (
    "Artist Album Employee Track Playlist PlaylistTrack ArtistId AlbumId EmployeeId TrackId "
    "PlaylistId Name Title LastName ReportsTo UnitPrice"
).split()


def _script(backend: str) -> str:
    """The schema and rows in ``backend``'s own dialect."""
    quote = {"sqlite": "[{}]", "postgresql": '"{}"', "mysql": "`{}`"}[backend]
    names = {n: quote.format(n) for n in _NAMES}
    names["text"] = "NVARCHAR" if backend == "sqlite" else "VARCHAR"
    rows = ";\n".join(r.format(**names) for r in _ROWS)
    return _TABLES.format(**names) + rows + ";\n"


def _load_with_client(url: str, backend: str) -> None:
    """Write the schema and rows with the backend's own client (sqlite3, psql, mariadb)."""
    script = _script(backend)
    parsed = make_url(url)
    if backend == "sqlite":
        command = ["sqlite3", str(parsed.database)]
    elif backend == "postgresql":
        command = [
            "psql", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
            "-U", parsed.username or "postgres", "-d", str(parsed.database),
            "-v", "ON_ERROR_STOP=1", "-q",
        ]  # fmt: skip
    else:
        command = [
            "mariadb", "-h", parsed.host or "127.0.0.1", "-P", str(parsed.port or 3306),
            "-u", parsed.username or "root", str(parsed.database),
        ]  # fmt: skip
    subprocess.run(command, input=script, text=True, check=True, capture_output=True, timeout=60)


#: each question asked of the ORM, and the same question in SQL (table names quoted as
#: the backend quotes them)
QUERIES = """
import asyncio
import json

import sqlalchemy as sa

from flash_db import Count, Sum, connections
from flash_db.exceptions import NotSupportedError
from flash_db.migrations import connected, load_project

from app.models import Album, Artist, Employee, Playlist, PlaylistTrack, Track

Q = {quote!r}


def t(name):
    return Q.format(name)


async def sql(text):
    result = await connections.execute("default", sa.text(text))
    return [tuple(r) for r in result]


async def main():
    async with connected(load_project()):
        pairs = [
            (
                [a.title async for a in Album.objects.filter(artistid__name="Accept").order_by("title")],
                [r[0] for r in await sql(f"SELECT al.{{t('Title')}} FROM {{t('Album')}} al JOIN {{t('Artist')}} ar ON al.{{t('ArtistId')}} = ar.{{t('ArtistId')}} WHERE ar.{{t('Name')}} = 'Accept' ORDER BY 1")],
            ),
            (
                [a.name async for a in Artist.objects.filter(album__title="Balls")],
                [r[0] for r in await sql(f"SELECT ar.{{t('Name')}} FROM {{t('Artist')}} ar JOIN {{t('Album')}} al ON al.{{t('ArtistId')}} = ar.{{t('ArtistId')}} WHERE al.{{t('Title')}} = 'Balls'")],
            ),
            (
                [(a.name, a.n) async for a in Artist.objects.annotate(n=Count("album")).order_by("artistid")],
                await sql(f"SELECT ar.{{t('Name')}}, COUNT(al.{{t('AlbumId')}}) FROM {{t('Artist')}} ar LEFT JOIN {{t('Album')}} al ON al.{{t('ArtistId')}} = ar.{{t('ArtistId')}} GROUP BY ar.{{t('ArtistId')}}, ar.{{t('Name')}} ORDER BY ar.{{t('ArtistId')}}"),
            ),
            (
                [(e.lastname, e.reportsto.lastname if e.reportsto else None) async for e in Employee.objects.select_related("reportsto").order_by("employeeid")],
                await sql(f"SELECT e.{{t('LastName')}}, b.{{t('LastName')}} FROM {{t('Employee')}} e LEFT JOIN {{t('Employee')}} b ON e.{{t('ReportsTo')}} = b.{{t('EmployeeId')}} ORDER BY e.{{t('EmployeeId')}}"),
            ),
            (
                [e.lastname async for e in Employee.objects.filter(employee__lastname="Peacock")],
                ["Edwards"],
            ),
            (
                [a.name async for a in Artist.objects.filter(name__icontains="coração")],
                ["CORAÇÃO"],
            ),
            (
                str((await Track.objects.filter(albumid__artistid__name="AC/DC").aggregate(s=Sum("unitprice")))["s"]),
                str((await sql(f"SELECT SUM(tr.{{t('UnitPrice')}}) FROM {{t('Track')}} tr JOIN {{t('Album')}} al ON tr.{{t('AlbumId')}} = al.{{t('AlbumId')}} WHERE al.{{t('ArtistId')}} = 1"))[0][0]),
            ),
            (
                await PlaylistTrack.objects.filter(playlistid__name="Music").count(),
                (await sql(f"SELECT COUNT(*) FROM {{t('PlaylistTrack')}} WHERE {{t('PlaylistId')}} = 1"))[0][0],
            ),
        ]
        for orm, raw in pairs:
            assert orm == raw, (orm, raw)
        # the join table: one "row" would stand for every row of its playlist
        row = await PlaylistTrack.objects.filter(playlistid=1).first()
        try:
            await row.delete()
        except NotSupportedError:
            pass
        else:
            raise AssertionError("a row of the composite-key table was deleted")
        assert (await sql(f"SELECT COUNT(*) FROM {{t('PlaylistTrack')}}"))[0][0] == 5
        # the other tables write as any model's
        # (AlbumId has no default on PostgreSQL and MariaDB, as in Chinook: given here)
        album = await Album.objects.create(albumid=99, title="Новый", artistid_id=3)
        await album.delete()
        assert await Album.objects.count() == 3
    print("legacy ok")


asyncio.run(main())
"""


def test_a_legacy_database_adopted_unedited(
    project: FlashProject, backend: str, tmp_path: Path
) -> None:
    url = project.databases["default"]
    _load_with_client(url, backend)
    source = project.ok("db", "inspectdb", "-o", "app/models.py")
    assert "wrote app/models.py" in source
    models = (project.root / "app" / "models.py").read_text()
    assert "managed = False" in models and "read_only = True" in models, models
    assert "default: no changes" in project.ok("db", "makemigrations")
    quote = {"sqlite": '"{}"', "postgresql": '"{}"', "mysql": "`{}`"}[backend]
    assert "legacy ok" in project.python(QUERIES.format(quote=quote))

    # dumped, and loaded into a new database the models create: the same objects (the
    # read-only join table is not loaded by flash_db: docs/inspectdb.md)
    labels = ["app.Artist", "app.Album", "app.Employee", "app.Track", "app.Playlist"]
    dump = project.root / "dump.json"
    dumped = project.flash("db", "dumpdata", *labels, "-o", str(dump))
    assert dumped.returncode == 0, dumped.stderr
    fresh = scratch_url(backend, tmp_path)
    try:
        env = {"FLASH_DB_URL": fresh}
        # the schema from the models: an initial revision, made against the new database
        for command in (("db", "makemigrations"), ("db", "migrate")):
            made = project.flash_env(env, *command)
            assert made.returncode == 0, made.stderr
        loaded = project.flash_env(env, "db", "loaddata", str(dump))
        assert loaded.returncode == 0, loaded.stderr
        again = project.flash_env(env, "db", "dumpdata", *labels)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == json.loads(dump.read_text())
    finally:
        drop_scratch(fresh)
    if backend == "sqlite":
        # the file was written by sqlite3, and still reads there
        with sqlite3.connect(make_url(url).database or "") as conn:
            assert conn.execute("SELECT COUNT(*) FROM PlaylistTrack").fetchone() == (5,)
