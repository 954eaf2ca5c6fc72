"""create / save / update / delete / refresh on every backend (api.md §3-§4)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import flash_db
from flash_db import atomic
from flash_db.exceptions import DatabaseError, DoesNotExist, FieldError, ValidationError
from flash_db.testing import count_queries

from ..models import Author, Book, Counter, Pair, Stamp, Tag


async def test_create_sets_pk_and_defaults(db: str) -> None:
    a = await Author.objects.create(name="Ann")
    assert isinstance(a.pk, int) and a.pk == a.id
    assert a.active is True
    assert isinstance(a.joined, dt.datetime) and a.joined.tzinfo is not None
    assert a._adding is False and a._db == "default"
    fetched = await Author.objects.get(pk=a.pk)
    assert fetched == a
    assert fetched.name == "Ann" and fetched.email is None
    assert abs(fetched.joined - a.joined) < dt.timedelta(seconds=1)


async def test_save_inserts_then_updates(db: str) -> None:
    b = Book(title="Dune", price=10)
    await b.save()
    first_pk = b.pk
    b.title = "Dune Messiah"
    await b.save()
    assert b.pk == first_pk
    assert await Book.objects.count() == 1
    assert (await Book.objects.get(pk=first_pk)).title == "Dune Messiah"


async def test_save_update_fields_writes_only_those(db: str) -> None:
    a = await Author.objects.create(name="Ann", email="a@x")
    stale = await Author.objects.get(pk=a.pk)
    a.email = "new@x"
    await a.save(update_fields=["email"], validate=False)
    stale.name = "Changed"
    await stale.save(update_fields=["active"])
    fresh = await Author.objects.get(pk=a.pk)
    assert fresh.email == "new@x" and fresh.name == "Ann"


async def test_save_update_fields_unknown_field(db: str) -> None:
    a = await Author.objects.create(name="Ann")
    with pytest.raises(FieldError, match="unknown field 'emial' on Author"):
        await a.save(update_fields=["emial"])


async def test_save_update_fields_on_deleted_row_fails(db: str) -> None:
    a = await Author.objects.create(name="Ann")
    await Author.objects.filter(pk=a.pk).delete()
    a.email = "x@y"
    with pytest.raises(DatabaseError, match="was not updated"):
        await a.save(update_fields=["email"])


async def test_save_runs_full_clean(db: str) -> None:
    with pytest.raises(ValidationError) as info:
        await Author.objects.create(name="admin")
    assert info.value.errors == {"name": ["reserved name"]}
    with pytest.raises(ValidationError) as info:
        await Author(name="x" * 101).save()
    assert "name" in info.value.errors
    assert await Author.objects.count() == 0
    # validate=False skips the model's clean(): the database accepts the row
    await Author(name="admin").save(validate=False)
    assert await Author.objects.filter(name="admin").exists()


async def test_delete_instance(db: str) -> None:
    a = await Author.objects.create(name="Ann")
    pk = a.pk
    assert await a.delete() == 1
    assert a.pk is None
    with pytest.raises(Author.DoesNotExist):
        await Author.objects.get(pk=pk)
    with pytest.raises(ValueError, match="never saved"):
        await Author(name="Zed").delete()


async def test_refresh_from_db(db: str) -> None:
    a = await Author.objects.create(name="Ann")
    await Author.objects.filter(pk=a.pk).update(email="changed@x")
    assert a.email is None
    await a.refresh_from_db()
    assert a.email == "changed@x"
    await Author.objects.filter(pk=a.pk).update(email="again@x", name="Anne")
    await a.refresh_from_db(fields=["email"])
    assert a.email == "again@x" and a.name == "Ann"
    await Author.objects.filter(pk=a.pk).delete()
    with pytest.raises(DoesNotExist):
        await a.refresh_from_db()


async def test_non_integer_primary_key_and_db_column(db: str) -> None:
    t = await Tag.objects.create(slug="py", label="Python")
    assert t.pk == "py"
    t.label = "Python 3"
    await t.save()
    assert (await Tag.objects.get(pk="py")).label == "Python 3"
    assert await Tag.objects.filter(label__startswith="Python").count() == 1
    # a fresh instance with an existing pk conflicts on INSERT
    with pytest.raises(Exception) as info:
        await Tag.objects.create(slug="py", label="again")
    assert type(info.value).__module__ == "flash_db.exceptions"


async def test_db_default_and_uuid_pk_read_back(db: str) -> None:
    c = await Counter.objects.create(name="c")
    assert isinstance(c.pk, uuid.UUID)
    assert c.hits == 7
    assert isinstance(c.seen, dt.datetime)
    again = await Counter.objects.get(pk=c.pk)
    assert again.hits == 7 and again == c


async def test_auto_pk_alone_comes_from_lastrowid(db: str) -> None:
    """SQLite and MariaDB report an auto-increment key as the cursor's ``lastrowid``: an
    INSERT that needs nothing else back sends no RETURNING. With a ``db_default`` beside
    the key, RETURNING reads both where the backend has it; PostgreSQL always uses it."""
    features = flash_db.connections["default"].features
    # on the driver path (no listener), in and out of a transaction
    alone = await Author.objects.create(name="alone")
    async with atomic():
        inside = [await Author.objects.create(name=f"in-{k}") for k in range(3)]
    assert len({alone.pk, *(a.pk for a in inside)}) == 4
    for author in (alone, *inside):
        assert (await Author.objects.get(pk=author.pk)).name == author.name
    async with count_queries() as log:
        author = await Author.objects.create(name="logged")
        stamp = await Stamp.objects.create(label="s")
    assert (await Author.objects.get(pk=author.pk)).name == "logged"
    assert stamp.level == 3 and (await Stamp.objects.get(pk=stamp.pk)).label == "s"
    author_sql, stamp_sql = (s for s in log.statements if s.startswith("INSERT"))
    assert ("RETURNING" in author_sql) == (
        features.insert_returning and not features.insert_lastrowid
    ), author_sql
    assert ("RETURNING" in stamp_sql) == features.insert_returning, stamp_sql
    assert features.insert_lastrowid == (features.vendor in ("sqlite", "mysql"))


async def test_get_or_create(db: str) -> None:
    a, created = await Author.objects.get_or_create(name="Ann", defaults={"email": "a@x"})
    assert created and a.email == "a@x"
    b, created = await Author.objects.get_or_create(name="Ann", defaults={"email": "other"})
    assert not created and b == a and b.email == "a@x"


async def test_update_or_create(db: str) -> None:
    a, created = await Author.objects.update_or_create(name="Ann", defaults={"email": "1@x"})
    assert created
    b, created = await Author.objects.update_or_create(name="Ann", defaults={"email": "2@x"})
    assert not created and b.pk == a.pk
    assert (await Author.objects.get(name="Ann")).email == "2@x"


async def test_unique_together(db: str) -> None:
    from flash_db.exceptions import IntegrityError

    await Pair.objects.create(left=1, right=2)
    await Pair.objects.create(left=2, right=1)
    with pytest.raises(IntegrityError):
        await Pair.objects.create(left=1, right=2)
    assert await Pair.objects.count() == 2
