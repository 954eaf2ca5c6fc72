"""nox sessions: tests per backend, lint, typecheck, docs.

nox -s tests-sqlite
nox -s tests-postgres      # needs FLASH_DB_TEST_POSTGRES or a local server
nox -s lint typecheck docs
nox -s bench -- --backend sqlite   # the side-by-side benchmark (arguments go to bench.py)
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests-sqlite", "lint", "typecheck", "docs"]

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
MYSQL_URL = "mysql+aiomysql://root@127.0.0.1:3306/test"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


def _tests(session: nox.Session, *, postgres: bool, mysql: bool) -> None:
    _install(session)
    env = {
        "FLASH_DB_TEST_POSTGRES": os.environ.get("FLASH_DB_TEST_POSTGRES", PG_URL)
        if postgres
        else "",
        "FLASH_DB_TEST_MYSQL": os.environ.get("FLASH_DB_TEST_MYSQL", MYSQL_URL) if mysql else "",
    }
    if postgres and mysql:
        env["FLASH_DB_TEST_REQUIRE_ALL"] = "1"
    session.run("python", "-m", "pytest", *session.posargs, env=env)


@nox.session(name="tests-sqlite")
def tests_sqlite(session: nox.Session) -> None:
    """The suite on SQLite only."""
    _tests(session, postgres=False, mysql=False)


@nox.session(name="tests-postgres")
def tests_postgres(session: nox.Session) -> None:
    """The suite on SQLite and PostgreSQL."""
    _tests(session, postgres=True, mysql=False)


@nox.session(name="tests-mysql")
def tests_mysql(session: nox.Session) -> None:
    """The suite on SQLite and MySQL/MariaDB."""
    _tests(session, postgres=False, mysql=True)


@nox.session(name="tests-all")
def tests_all(session: nox.Session) -> None:
    """The suite on all three backends, as CI runs it."""
    _tests(session, postgres=True, mysql=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on flash_db/ and the typing tests."""
    _install(session)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """mkdocs build --strict."""
    _install(session)
    session.run("mkdocs", "build", "--strict", "--site-dir", session.create_tmp())


@nox.session
def bench(session: nox.Session) -> None:
    """benchmarks/bench.py with the peers installed (the bench extra); posargs go to it."""
    session.install("-e", ".[dev,bench]")
    session.run("python", "benchmarks/bench.py", *session.posargs)
