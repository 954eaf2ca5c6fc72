"""Fixtures of the server-fault tests: a private server per backend, their models, and
flash_db connected to that server for one test.

A backend's fault tests run when its URL is set, the rule of ``tests/conftest.py``
(``FLASH_DB_TEST_POSTGRES`` for PostgreSQL, ``FLASH_DB_TEST_MYSQL`` for MariaDB), but
never on that URL's server: the tests kill servers, so each gets one of its own (see
``servers.py``). A private server that cannot start fails the tests with the reason;
it is never a skip, as a configured backend that cannot be reached is not.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import flash_db
from flash_db import Model, fields
from flash_db.db.connections import Database

from .servers import SERVERS, PrivateServer, ServerError

#: backends whose fault tests run: those whose test URL is set
CONFIGURED = [
    name
    for name, variable in (
        ("postgresql", "FLASH_DB_TEST_POSTGRES"),
        ("mysql", "FLASH_DB_TEST_MYSQL"),
    )
    if os.environ.get(variable)
]

#: one line per private server that ran: its port and start-up times
TIMINGS: list[str] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" in metafunc.fixturenames:
        params = CONFIGURED or [
            pytest.param(
                None,
                marks=pytest.mark.skip(
                    reason="the fault tests run per backend whose URL is set "
                    "(FLASH_DB_TEST_POSTGRES, FLASH_DB_TEST_MYSQL)"
                ),
            )
        ]
        metafunc.parametrize("server", params, indirect=True, scope="module")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[PrivateServer]:
    """A private server of ``request.param``'s backend, running; stopped and removed
    after the module, also when a test failed."""
    name = request.param
    private: PrivateServer | None = None
    failure = None
    try:
        private = SERVERS[name]()
        private.start()
    except (ServerError, OSError) as error:
        if private is not None:
            private.stop()
        failure = f"the private {name} server of the fault tests could not start: {error}"
    if failure is not None or private is None:
        pytest.fail(failure, pytrace=False)  # outside the except: no chained traceback
    try:
        yield private
    finally:
        private.stop()
        TIMINGS.append(private.describe())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "private servers of the fault tests (start-up)")
        for line in TIMINGS:
            terminalreporter.write_line(line)


@dataclass(frozen=True)
class FaultModels:
    """The models the fault tests write (app label ``faults``)."""

    write: type[Model]


@pytest.fixture(scope="module")
def models() -> Iterator[FaultModels]:
    """Declares the fault tests' models for the module only.

    Declared at import they would stay registered for the whole session, and the
    suite's ``create_all()`` would put their tables on the shared servers too.
    """
    registered = set(flash_db.registry)
    tables = set(flash_db.metadata.tables)

    class FaultWrite(Model):
        """One write of the load: ``writer``'s ``seq``-th row, in atomic group
        ``batch`` (``None`` for a plain ``create()``)."""

        writer = fields.IntegerField()
        seq = fields.IntegerField()
        batch = fields.IntegerField(null=True)

        class Meta:
            app_label = "faults"
            table = "faults_writes"

    try:
        yield FaultModels(FaultWrite)
    finally:
        for model in set(flash_db.registry) - registered:
            flash_db.registry.unregister(model)
        for name in set(flash_db.metadata.tables) - tables:
            flash_db.metadata.remove(flash_db.metadata.tables[name])


@pytest.fixture(params=["driver", "sqlalchemy"])
def path(request: pytest.FixtureRequest) -> str:
    """The execution path under test: flash_db's direct driver path, or SQLAlchemy's
    own (``Database.driver = None``)."""
    return str(request.param)


@asynccontextmanager
async def connected(
    server: PrivateServer, models: FaultModels, path: str, **options: Any
) -> AsyncIterator[Database]:
    """flash_db connected to ``server`` alone with engine ``options``, on ``path``, the
    models' tables new and empty; the connection the session had before is put back.

    The session's databases are set aside rather than disconnected: the suite's
    session-wide ``backend`` fixture may hold them, and ``connect()`` would dispose
    of them.
    """
    handler = flash_db.connections
    saved = (handler.databases, handler.routers, handler.settings)
    handler.databases = {}
    await server.serve()  # a test before this one may have failed with its server down
    try:
        await flash_db.connect(server.url, **options)
        database = handler["default"]
        tables = [model._meta.table for model in (models.write,)]
        async with database.engine.begin() as conn:
            await conn.run_sync(flash_db.metadata.drop_all, tables=tables)
            await conn.run_sync(flash_db.metadata.create_all, tables=tables)
        if path == "sqlalchemy":
            database.driver = None
        else:
            assert database.driver is not None, f"{server.name} has a driver path"
        yield database
    finally:
        await flash_db.disconnect()
        handler.databases, handler.routers, handler.settings = saved
        await server.serve()


async def read_rows(server: PrivateServer, table: str) -> list[sa.Row[Any]]:
    """Every row of ``table``, read through a new engine that pools nothing: a
    connection of the tested pool left inside a transaction would show its own
    uncommitted rows."""
    engine = create_async_engine(server.url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(f"SELECT writer, seq, batch FROM {table}"))
            return list(result.all())
    finally:
        await engine.dispose()
