"""The project the ``flash`` commands work on: settings, models, migrations folders.

``load_project()`` finds the nearest ``pyproject.toml`` (or the file given with
``--config``), resolves the databases as :func:`flash_db.db.config.resolve`
does, puts the project folder on ``sys.path`` and imports the modules listed in
``[tool.flash_db] models``, so that the registry holds the project's models.

Each database alias has its own migration history in
``<migrations>/<alias>/`` (an Alembic script directory)::

    project = load_project()
    project.migrations_dir("default")   # Path('.../migrations/default')
    project.models_for("default")       # the models whose tables live there
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from ..db import config
from ..db.connections import models_on
from ..exceptions import ConfigurationError


@dataclass
class Project:
    """Resolved settings plus where the project lives."""

    settings: config.Settings
    root: Path
    _routers: list[Any] | None = None

    @property
    def migrations_root(self) -> Path:
        path = Path(self.settings.migrations)
        return path if path.is_absolute() else self.root / path

    def migrations_dir(self, alias: str) -> Path:
        """The Alembic script directory of ``alias``: ``<migrations>/<alias>``."""
        self.url(alias)
        return self.migrations_root / alias

    def url(self, alias: str) -> URL:
        try:
            return self.settings.databases[alias]
        except KeyError:
            raise ConfigurationError(
                f"unknown database {alias!r}; configured: {', '.join(self.settings.databases)}"
            ) from None

    @property
    def routers(self) -> list[Any]:
        """Instances of the router classes named in ``[tool.flash_db] routers``."""
        if self._routers is None:
            self._routers = [
                _import_object(path)() for path in _as_list(self.settings.extra.get("routers"))
            ]
        return self._routers

    @property
    def aliases(self) -> list[str]:
        return list(self.settings.databases)

    def models_for(self, alias: str) -> list[Any]:
        """Registered models whose table belongs on ``alias`` (routers, then ``Meta.database``)."""
        return models_on(self.routers, alias)


def load_project(
    config_path: Path | None = None, *, import_models: bool = True, url: str | None = None
) -> Project:
    """Resolve the configuration and import the project's models modules.

    ``config_path`` is a ``pyproject.toml`` (``--config``); by default the
    nearest one from the working directory upwards. ``url`` overrides the
    default database (as ``connect(url)`` does).
    """
    if config_path is not None and not config_path.is_file():
        raise ConfigurationError(f"config file {config_path} does not exist")
    settings = config.resolve(url, pyproject=config_path)
    root = settings.pyproject.parent if settings.pyproject is not None else Path.cwd()
    project = Project(settings=settings, root=root.resolve())
    if import_models:
        import_models_of(project)
    return project


def import_models_of(project: Project) -> None:
    """Import ``[tool.flash_db] models`` with the project folder first on ``sys.path``."""
    root = str(project.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    for module in project.settings.models:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                raise ConfigurationError(
                    f"cannot import models module {module!r} (from [tool.flash_db] models in "
                    f"{project.settings.pyproject}); is it under {project.root}?"
                ) from None
            raise ConfigurationError(f"importing {module!r} failed: {exc}") from exc
        except ConfigurationError:
            raise
        except Exception as exc:
            # The project's own code is broken: one line, the traceback with --traceback.
            where = f" ({exc.filename}, line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
            raise ConfigurationError(
                f"importing models module {module!r} failed: {type(exc).__name__}: {exc}{where}"
            ) from exc


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _import_object(path: str) -> Any:
    """``"package.module.Name"`` → the object."""
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ConfigurationError(
            f"cannot import {path!r} named in [tool.flash_db]; write it as 'package.module.Name'"
        ) from None
