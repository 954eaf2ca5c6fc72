"""Migrations on Alembic, fixtures (dumpdata/loaddata) and schema introspection (inspectdb).

The ``flash db`` commands are thin wrappers over this package.
"""

from __future__ import annotations

from .project import Project, load_project

__all__ = ["Project", "load_project"]
