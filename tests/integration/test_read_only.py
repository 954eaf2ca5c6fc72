"""``Meta.read_only`` and ``Meta.managed = False``, as a user declares them by hand.

Every way flash_db writes is refused for a read-only model before a statement is sent
(the refusal does not depend on the backend; SQLite in a temporary project), and an
unmanaged table is left alone by ``create_all()`` and ``makemigrations``.
"""

from __future__ import annotations

from pathlib import Path

from .flashproject import FlashProject, scratch_url

MODELS = """
from flash_db import Model, fields


class Region(Model):
    name = fields.CharField(max_length=20)

    class Meta:
        table = "region"
        managed = False
        read_only = True


class Shop(Model):
    name = fields.CharField(max_length=20)
    region = fields.ForeignKey(Region, null=True, on_delete=fields.SET_NULL)


class Tagging(Model):
    shop = fields.ForeignKey(Shop, on_delete=fields.DO_NOTHING)
    label = fields.ForeignKey("Label", on_delete=fields.DO_NOTHING)

    class Meta:
        read_only = True


class Label(Model):
    name = fields.CharField(max_length=20)
    shops = fields.ManyToManyField(Shop, through=Tagging, related_name="labels")
"""

SCRIPT = """
import asyncio

import sqlalchemy as sa

import flash_db
from flash_db.exceptions import NotSupportedError
from flash_db.migrations import connected, load_project

from app.models import Label, Region, Shop


async def refused(action):
    try:
        await action
    except NotSupportedError as exc:
        assert "is read-only (Meta.read_only = True)" in str(exc), exc
    else:
        raise AssertionError("a write to a read-only model went through")


async def main():
    async with connected(load_project()):
        await flash_db.create_all()
        tables = await flash_db.connections["default"].engine.connect()
        try:
            names = await tables.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await tables.close()
        assert "region" not in names and "shop" in names, names  # unmanaged: not created
        # the table is the database's: made here by hand, as another tool would
        async with flash_db.atomic():
            await flash_db.connections.execute(
                "default", sa.text("CREATE TABLE region (id INTEGER PRIMARY KEY, name TEXT)")
            )
            await flash_db.connections.execute(
                "default", sa.text("INSERT INTO region VALUES (1, 'north')")
            )
        north = await Region.objects.get(name="north")
        shop = await Shop.objects.create(name="corner", region=north)
        assert (await Shop.objects.select_related("region").get()).region.name == "north"

        await refused(Region.objects.create(name="south"))
        await refused(Region(name="x").save())
        await refused(north.delete())
        await refused(Region.objects.filter(pk=1).update(name="n"))
        await refused(Region.objects.all().delete())
        await refused(Region.objects.bulk_create([Region(name="a")]))
        await refused(Region.objects.bulk_update([north], ["name"]))
        await refused(Region.objects.get_or_create(name="west"))
        await refused(Region.objects.update_or_create(name="north", defaults={"name": "n"}))
        label = await Label.objects.create(name="cheap")
        await refused(label.shops.add(shop))  # the through model is read-only
        assert await Region.objects.count() == 1
    print("read-only ok")


asyncio.run(main())
"""


def test_read_only_and_unmanaged(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    project = FlashProject(root, {"default": scratch_url("sqlite", tmp_path)})
    project.write_config()
    project.write_module("app.models", MODELS)
    assert "read-only ok" in project.python(SCRIPT)
    # makemigrations leaves the unmanaged table alone: the database has it and the
    # models' other tables (create_all made them), and nothing is to change
    assert "default: no changes" in project.ok("db", "makemigrations")
