"""Migrations on Alembic, fixtures (dumpdata/loaddata) and schema introspection (inspectdb).

The ``flash db`` commands are thin wrappers over this package; its async
functions are the programmatic API::

    from flash_db.migrations import connected, load_project, makemigrations, migrate

    project = load_project()                 # [tool.flash_db] of the nearest pyproject.toml
    async with connected(project):
        await makemigrations(project, "default")
        await migrate(project, "default")
"""

from __future__ import annotations

from .commands import (
    Entry,
    PendingSQL,
    Step,
    check,
    connected,
    history,
    makemigrations,
    migrate,
    migrate_sql,
    sqlmigrate,
)
from .historical import HistoricalModels, historical_models
from .operations import RunPythonOp
from .project import Project, load_project

__all__ = [
    "Entry",
    "HistoricalModels",
    "PendingSQL",
    "Project",
    "RunPythonOp",
    "Step",
    "check",
    "connected",
    "historical_models",
    "history",
    "load_project",
    "makemigrations",
    "migrate",
    "migrate_sql",
    "sqlmigrate",
]
