"""Backends for the test suite.

SQLite always runs. PostgreSQL and MariaDB/MySQL run when their URL is in
``FLASH_DB_TEST_POSTGRES`` / ``FLASH_DB_TEST_MYSQL`` (``.ci/run`` sets both).
A configured backend that cannot be reached fails the tests; it is never
skipped. Each backend gets a second database, ``other``, for multi-database
tests: another SQLite file, or the same server (PostgreSQL schemas are not
needed: the ``events`` table simply lives on that alias).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

import flash_db
from flash_db import registry

from . import models  # noqa: F401  (registers the test models)

BACKENDS: dict[str, tuple[str, str]] = {}


def _configure(tmp_root: str) -> None:
    BACKENDS["sqlite"] = (
        f"sqlite+aiosqlite:///{tmp_root}/default.sqlite3",
        f"sqlite+aiosqlite:///{tmp_root}/other.sqlite3",
    )
    if os.environ.get("FLASH_DB_TEST_POSTGRES"):
        url = os.environ["FLASH_DB_TEST_POSTGRES"]
        BACKENDS["postgresql"] = (url, url)
    if os.environ.get("FLASH_DB_TEST_MYSQL"):
        url = os.environ["FLASH_DB_TEST_MYSQL"]
        BACKENDS["mysql"] = (url, url)
    if os.environ.get("FLASH_DB_TEST_REQUIRE_ALL") and set(BACKENDS) != {
        "sqlite",
        "postgresql",
        "mysql",
    }:
        raise pytest.UsageError(
            "FLASH_DB_TEST_REQUIRE_ALL is set but FLASH_DB_TEST_POSTGRES / FLASH_DB_TEST_MYSQL are not"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        if not BACKENDS:
            _configure(str(metafunc.config._tmp_root))  # type: ignore[attr-defined]
        metafunc.parametrize("backend", list(BACKENDS), indirect=True, scope="session")


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    config._tmp_root = tempfile.mkdtemp(prefix="flash_db_tests_")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """Connects to one backend (with 'default' and 'other' databases) and creates the schema."""
    name = request.param
    default, other = BACKENDS[name]
    await flash_db.connect(databases={"default": default, "other": other})
    await flash_db.drop_all()
    await flash_db.create_all()
    yield name
    await flash_db.drop_all()
    await flash_db.disconnect()


#: statements that empty tables without checking foreign keys, per backend
_EMPTY = {
    "sqlite": ("PRAGMA foreign_keys = OFF", 'DELETE FROM "{}"', "PRAGMA foreign_keys = ON"),
    "mysql": ("SET FOREIGN_KEY_CHECKS = 0", "DELETE FROM `{}`", "SET FOREIGN_KEY_CHECKS = 1"),
}


async def _empty_test_tables() -> None:
    """Empty every table of the test models, on one connection per database.

    Raw statements with foreign key checks off (one TRUNCATE on PostgreSQL):
    the tests exercise on_delete; the cleanup only needs the tables empty, fast.
    """
    for alias, database in flash_db.connections.databases.items():
        tables = [
            model._meta.table.name
            for model in registry
            if model._meta.app_label == "tests" and flash_db.connections.allow_migrate(alias, model)
        ]
        if not tables:
            continue
        async with database.engine.connect() as conn:
            if database.dialect.name == "postgresql":
                names = ", ".join(f'"{t}"' for t in tables)
                await conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))
                continue
            before, delete, after = _EMPTY[database.dialect.name]
            await conn.execute(sa.text(before))
            try:
                for table in tables:
                    await conn.execute(sa.text(delete.format(table)))
            finally:
                await conn.execute(sa.text(after))


@pytest.fixture
async def db(backend: str) -> AsyncIterator[str]:
    """A clean database for one test: every test table is emptied afterwards."""
    yield backend
    await _empty_test_tables()
