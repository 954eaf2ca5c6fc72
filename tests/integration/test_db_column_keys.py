"""Keys whose columns are named apart from their fields (``db_column``), as legacy schemas
name them (``ArtistId``), through the real ``flash`` executable on every backend.

A primary key, a foreign key and a self-referencing foreign key with a ``db_column``:
migrations make the schema, rows go in through the ORM, joins work in both directions
(``select_related``, ``prefetch_related``, reverse filters, aggregates over reverse
relations, many-to-many), ``values()``, ``update()`` and ``delete()`` act on the right
rows, and ``dumpdata`` then ``loaddata`` into a new database gives the same rows (#18).
"""

from __future__ import annotations

import json
from pathlib import Path

from .flashproject import FlashProject, drop_scratch, scratch_url

MODELS = """
from flash_db import Model, fields


class Artist(Model):
    artist_id = fields.AutoField(primary_key=True, db_column="ArtistId")
    name = fields.CharField(max_length=50, db_column="Name")

    class Meta:
        table = "Artist"


class Genre(Model):
    genre_id = fields.AutoField(primary_key=True, db_column="GenreId")
    name = fields.CharField(max_length=50, db_column="Name")

    class Meta:
        table = "Genre"


class Album(Model):
    album_id = fields.AutoField(primary_key=True, db_column="AlbumId")
    title = fields.CharField(max_length=50, db_column="Title")
    artist = fields.ForeignKey(
        Artist, on_delete=fields.CASCADE, db_column="ArtistId", related_name="albums"
    )
    genres = fields.ManyToManyField(Genre, related_name="albums")

    class Meta:
        table = "Album"


class Employee(Model):
    employee_id = fields.AutoField(primary_key=True, db_column="EmployeeId")
    name = fields.CharField(max_length=50, db_column="Name")
    reports_to = fields.ForeignKey(
        "self", null=True, on_delete=fields.SET_NULL, db_column="ReportsTo", related_name="reports"
    )

    class Meta:
        table = "Employee"
"""

QUERIES = """
import asyncio

from flash_db import Count, F
from flash_db.migrations import connected, load_project

from app.models import Album, Artist, Employee, Genre


async def main():
    async with connected(load_project()):
        ann = await Artist.objects.create(name="Ann")
        bob = await Artist.objects.create(name="Bob")
        rock, jazz = await Genre.objects.create(name="rock"), await Genre.objects.create(name="jazz")
        first = await Album.objects.create(title="First", artist=ann)
        await Album.objects.create(title="Second", artist=ann)
        other = await Album.objects.create(title="Other", artist=bob)
        await first.genres.add(rock, jazz)
        await other.genres.add(jazz)
        boss = await Employee.objects.create(name="boss")
        await Employee.objects.create(name="worker", reports_to=boss)

        # joins both ways
        assert [a.title async for a in Album.objects.filter(artist__name="Bob")] == ["Other"]
        assert [a.name async for a in Artist.objects.filter(albums__title="Other")] == ["Bob"]
        got = [(a.title, a.artist.name) async for a in Album.objects.select_related("artist").order_by("title")]
        assert got == [("First", "Ann"), ("Other", "Bob"), ("Second", "Ann")], got
        artists = [a async for a in Artist.objects.prefetch_related("albums").order_by("name")]
        assert [sorted(b.title for b in await a.albums.all()) for a in artists] == [["First", "Second"], ["Other"]]
        counted = [r async for r in Artist.objects.annotate(n=Count("albums")).order_by("name").values_list("name", "n")]
        assert counted == [("Ann", 2), ("Bob", 1)], counted
        assert sorted(g.name for g in await first.genres.all()) == ["jazz", "rock"]
        assert [g.name async for g in Genre.objects.filter(albums__title="Other")] == ["jazz"]
        assert [e.name async for e in Employee.objects.filter(reports__name="worker")] == ["boss"]
        worker = await Employee.objects.select_related("reports_to").get(name="worker")
        assert worker.reports_to.name == "boss" and worker.reports_to_id == boss.pk

        # values(), update(), delete() on the right rows
        row = await Album.objects.filter(pk=other.pk).values("title", "artist", "artist__name").first()
        assert row == {"title": "Other", "artist": bob.pk, "artist__name": "Bob"}, row
        assert await Album.objects.filter(artist__name="Ann").update(title=F("title")) == 2
        await Album.objects.filter(pk=other.pk).update(title="Renamed")
        assert await Album.objects.filter(title="Renamed").count() == 1
        await (await Album.objects.get(title="Second")).delete()
        assert await Album.objects.count() == 2 and await Artist.objects.count() == 2
    print("queries ok")


asyncio.run(main())
"""


def test_db_column_keys_work_everywhere(
    project: FlashProject, backend: str, tmp_path: Path
) -> None:
    project.write_module("app.models", MODELS)
    project.ok("db", "makemigrations")
    project.ok("db", "migrate")
    project.ok("db", "makemigrations", "--check")
    assert "queries ok" in project.python(QUERIES)
    # the schema names the columns as the models say
    assert "ArtistId" in project.columns("Album") and "ReportsTo" in project.columns("Employee")

    dump = project.root / "dump.json"
    result = project.flash("db", "dumpdata", "-o", str(dump))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    objects = json.loads(dump.read_text())
    albums = {o["pk"]: o["fields"] for o in objects if o["model"] == "app.Album"}
    assert sorted(a["title"] for a in albums.values()) == ["First", "Renamed"], albums
    assert sorted(len(a["genres"]) for a in albums.values()) == [1, 2], albums
    workers = [o["fields"] for o in objects if o["model"] == "app.Employee"]
    assert {w["name"]: w["reports_to"] is not None for w in workers} == {
        "boss": False,
        "worker": True,
    }

    # loaded into a new database, the rows dump the same again
    fresh = scratch_url(backend, tmp_path)
    try:
        env = {"FLASH_DB_URL": fresh}
        migrated = project.flash_env(env, "db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        loaded = project.flash_env(env, "db", "loaddata", str(dump))
        assert loaded.returncode == 0, loaded.stderr
        again = project.flash_env(env, "db", "dumpdata")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout) == objects
    finally:
        drop_scratch(fresh)
