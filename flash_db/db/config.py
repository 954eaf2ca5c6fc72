"""Where database settings come from, highest priority first.

1. arguments to ``connect()``;
2. the environment: ``FLASH_DB_URL`` for the default database;
3. ``[tool.flash_db]`` in the nearest ``pyproject.toml`` (this folder or a parent);
4. SQLite in ``./db.sqlite3``.

A relative SQLite path in ``pyproject.toml`` is relative to that file's folder;
one in ``FLASH_DB_URL`` or an argument, to the working directory.

URLs are SQLAlchemy URLs; one without an async driver gets the right one
(``postgresql://`` → ``postgresql+asyncpg://``).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..exceptions import ConfigurationError

#: the keys ``[tool.flash_db]`` may hold
KEYS = frozenset({"databases", "models", "migrations", "routers", "commands"})

DEFAULT_ALIAS = "default"
DEFAULT_URL = "sqlite+aiosqlite:///db.sqlite3"
ENV_URL = "FLASH_DB_URL"

#: backend name -> the async driver flash_db uses for it
ASYNC_DRIVERS = {
    "postgresql": "asyncpg",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
    "sqlite": "aiosqlite",
}
_BACKEND_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}


@dataclass
class Settings:
    """Resolved configuration: database URLs by alias, and project settings."""

    databases: dict[str, URL]
    models: list[str] = field(default_factory=list)
    migrations: str = "migrations"
    source: str = "default"
    pyproject: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and fill in flash_db's async driver where none (or a sync one) is named."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError):
        raise ConfigurationError(
            f"cannot parse database URL {mask(url)!r}; expected e.g. postgresql+asyncpg://user@host/db"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    backend = _BACKEND_ALIASES.get(backend, backend)
    expected = ASYNC_DRIVERS.get(backend)
    if expected is None:
        raise ConfigurationError(
            f"unsupported database {parsed.drivername!r} in {mask(parsed)}; "
            f"flash_db supports postgresql, mysql/mariadb and sqlite"
        )
    if driver and driver != expected:
        raise ConfigurationError(
            f"{parsed.drivername!r} is not an async driver; use {backend}+{expected}:// (flash_db is async)"
        )
    return parsed.set(drivername=f"{backend}+{expected}")


def mask(url: str | URL) -> str:
    """The URL with its password hidden, for logs, errors and CLI output."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    if url.count("@") <= 1:
        try:
            return make_url(url).render_as_string(hide_password=True)
        except (ArgumentError, ValueError):
            pass
    # Unparseable, or a raw "@" inside the password: hide everything between
    # the user name and the last "@".
    return _CREDENTIALS.sub(r"\1\2:***@", url)


_CREDENTIALS = re.compile(r"^(.*?//)?([^:/@]*):.*@")


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` from ``start`` (default: the working directory) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_pyproject(path: Path) -> dict[str, Any]:
    """``[tool.flash_db]`` of ``path`` (empty if absent)."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    section = data.get("tool", {}).get("flash_db", {})
    if not isinstance(section, dict):
        raise ConfigurationError(f"[tool.flash_db] in {path} must be a table")
    unknown = sorted(set(section) - KEYS)
    if unknown:
        # A misspelt key (``model = …``) would otherwise be ignored without a word.
        close = difflib.get_close_matches(unknown[0], KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigurationError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in [tool.flash_db] of {path}{hint}; "
            f"known keys: {', '.join(sorted(KEYS))}"
        )
    return section


def _anchored(url: Any, folder: Path) -> Any:
    """A SQLite URL with a relative file path made absolute against ``folder``.

    A path in ``pyproject.toml`` means the same file whichever folder ``flash`` runs
    in, as the ``migrations`` folder does. Other URLs, memory databases and
    ``file:`` URIs are returned as they are.
    """
    if not isinstance(url, str | URL):
        return url
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except (ArgumentError, ValueError):
        return url  # normalise_url reports it
    database = parsed.database or ""
    if (
        not parsed.drivername.startswith("sqlite")
        or database in ("", ":memory:")
        or database.startswith("file:")
        or Path(database).is_absolute()
    ):
        return url
    return parsed.set(database=str(folder / database))


def resolve(
    url: str | URL | None = None,
    databases: Mapping[str, str | URL] | None = None,
    *,
    pyproject: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Combine arguments, environment and pyproject.toml into :class:`Settings`."""
    env = os.environ if environ is None else environ
    path = pyproject or find_pyproject()
    section = read_pyproject(path) if path is not None else {}
    configured: dict[str, Any] = dict(section.get("databases", {}) or {})
    if path is not None:
        folder = path.resolve().parent
        configured = {alias: _anchored(value, folder) for alias, value in configured.items()}
    source = f"{path}" if configured else "default"
    if env.get(ENV_URL):
        configured[DEFAULT_ALIAS] = env[ENV_URL]
        source = ENV_URL
    if databases:
        configured = dict(databases)
        source = "arguments"
    if url is not None:
        configured[DEFAULT_ALIAS] = url
        source = "arguments"
    if DEFAULT_ALIAS not in configured:
        if configured:
            raise ConfigurationError(
                f"no 'default' database configured (have: {', '.join(configured)}); "
                f"name one of them 'default'"
            )
        configured[DEFAULT_ALIAS] = DEFAULT_URL
    models = section.get("models", [])
    if isinstance(models, str):
        models = [models]
    return Settings(
        databases={alias: normalise_url(value) for alias, value in configured.items()},
        models=list(models),
        migrations=str(section.get("migrations", "migrations")),
        source=source,
        pyproject=path,
        extra={k: v for k, v in section.items() if k not in ("databases", "models", "migrations")},
    )
