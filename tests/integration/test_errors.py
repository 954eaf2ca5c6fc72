"""Bad input: one clear flash_db error, no driver types, nothing half-written (api.md §7)."""

from __future__ import annotations

import pytest

import flash_db
from flash_db.exceptions import (
    ConfigurationError,
    DatabaseError,
    FieldError,
    FlashDBError,
    IntegrityError,
    MultipleObjectsReturned,
    ObjectDoesNotExist,
    OperationalError,
    ProgrammingError,
)

from ..models import Author, Book


async def test_unique_violation_is_integrity_error(db: str) -> None:
    await Author.objects.create(name="Ann")
    with pytest.raises(IntegrityError) as info:
        await Author.objects.create(name="Ann")
    err = info.value
    assert isinstance(err, DatabaseError) and isinstance(err, FlashDBError)
    assert err.driver_error is not None
    driver_module = type(err.driver_error).__module__.split(".")[0]
    assert driver_module == {"postgresql": "asyncpg", "mysql": "pymysql", "sqlite": "sqlite3"}[db]
    assert "\n" not in str(err)
    assert err.__cause__ is None and err.__suppress_context__
    assert await Author.objects.count() == 1


async def test_check_constraint_violation(db: str) -> None:
    book = Book(title="neg", price=-1)
    with pytest.raises(IntegrityError):
        await book.save(validate=False)
    assert await Book.objects.count() == 0


async def test_not_null_violation(db: str) -> None:
    with pytest.raises(IntegrityError):
        await Book.objects.filter(title="x").exists() or await Book(title=None).save(validate=False)  # type: ignore[arg-type]


async def test_does_not_exist_hierarchy(db: str) -> None:
    with pytest.raises(Author.DoesNotExist) as info:
        await Author.objects.get(name="nobody")
    assert isinstance(info.value, ObjectDoesNotExist)
    assert isinstance(info.value, flash_db.exceptions.DoesNotExist)
    assert not isinstance(info.value, Book.DoesNotExist)
    await Author.objects.create(name="A", email="same")
    await Author.objects.create(name="B", email="same")
    with pytest.raises(Author.MultipleObjectsReturned) as many:
        await Author.objects.get(email="same")
    assert isinstance(many.value, MultipleObjectsReturned)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: Author.objects.filter(nmae="x"),
            "cannot resolve 'nmae' on Author; choices: pk, id, name",
        ),
        (lambda: Author.objects.filter(name__sartswith="x"), "unsupported lookup 'sartswith'"),
        (lambda: Author.objects.exclude(name__gt=None), "None is only allowed with exact"),
        (lambda: Author.objects.filter(name__in="abc"), "expects a list"),
        (lambda: Author.objects.order_by("-nmae"), "cannot resolve 'nmae'"),
        (lambda: Author.objects.values("name", "nmae"), "cannot resolve 'nmae'"),
        (lambda: Author(nmae="x"), "unknown field(s) nmae"),
        (lambda: Author.objects.filter(joined__yeer=2020), "unsupported lookup 'yeer'"),
    ],
)
async def test_field_errors_name_the_choices(db: str, call: object, message: str) -> None:
    with pytest.raises(FieldError) as info:
        call()  # type: ignore[operator]
    assert message in str(info.value)


async def test_missing_table_is_a_clear_error(db: str) -> None:
    from flash_db import Model, fields

    class NeverCreated(Model):
        x = fields.IntegerField()

        class Meta:
            app_label = "errors"
            table = "never_created_table"

    try:
        with pytest.raises(ProgrammingError) as info:
            await NeverCreated.objects.count()
        assert "create_all() or `flash db migrate`" in str(info.value)
    finally:
        flash_db.registry.unregister(NeverCreated)
        flash_db.metadata.remove(NeverCreated.__table__)


async def test_unknown_database_alias(db: str) -> None:
    with pytest.raises(
        ConfigurationError, match="unknown database 'nope'; configured: default, other"
    ):
        await Author.objects.using("nope").count()
    with pytest.raises(ConfigurationError, match="unknown database"):
        await Author(name="x").save(using="nope")
    assert await Author.objects.count() == 0


async def test_values_are_bound_not_spliced(db: str) -> None:
    evil = "x'; DROP TABLE authors; --"
    await Author.objects.create(name=evil)
    assert (await Author.objects.get(name=evil)).name == evil
    assert await Author.objects.filter(name__contains="'; DROP").count() == 1


async def test_unreachable_database() -> None:
    """connect() to a closed port fails with one line, password masked, and no driver type."""
    handler = flash_db.db.ConnectionHandler()
    for url in (
        "postgresql+asyncpg://user:s3cret@127.0.0.1:1/app",
        "mysql+aiomysql://user:s3cret@127.0.0.1:1/app",
    ):
        with pytest.raises(OperationalError) as info:
            await handler.connect(url)
        text = str(info.value)
        assert "s3cret" not in text and "***" in text
        assert "\n" not in text
    with pytest.raises(ConfigurationError, match="not an async driver"):
        await handler.connect("postgresql+psycopg2://u:s3cret@h/db")
    with pytest.raises(OperationalError) as info:
        await handler.connect("sqlite+aiosqlite:////nonexistent-dir/x/db.sqlite3")
    assert "unable to open database file" in str(info.value)


async def test_value_too_long_without_validation(db: str) -> None:
    """full_clean() catches it; with validate=False the database decides."""
    from flash_db.exceptions import DataError

    author = Author(name="x" * 150)
    if db == "sqlite":
        # SQLite does not enforce VARCHAR lengths (documented in docs/models.md).
        await author.save(validate=False)
        assert await Author.objects.count() == 1
        return
    with pytest.raises(DataError) as info:
        await author.save(validate=False)
    assert "\n" not in str(info.value)
    assert await Author.objects.count() == 0


async def test_unknown_column_is_a_programming_error(db: str) -> None:
    import sqlalchemy as sa

    with pytest.raises(ProgrammingError):
        await Author.objects.filter(sa.literal_column("no_such_column") == 1).count()
