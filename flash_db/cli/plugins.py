"""Project commands: typer commands a project or a package adds under ``flash``.

Two ways, both read when ``flash`` starts:

- ``[tool.flash_db.commands]`` in the project's ``pyproject.toml``: a name and
  ``"module:object"``, where the object is a typer app (it becomes a group of
  commands) or a function (one command)::

      [tool.flash_db.commands]
      seed = "blog.commands:seed"        # flash seed --count 10
      reports = "blog.commands:reports"  # flash reports monthly …

- an installed package's entry points in the group ``flash_db.commands``,
  the same name and object (``[project.entry-points."flash_db.commands"]``).

A command that cannot be loaded does not break ``flash``: it is reported in
one line on stderr and left out. A name that ``flash`` already uses is refused.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import typer

from ..db import config
from ..exceptions import ConfigurationError
from ._common import errors

GROUP = "flash_db.commands"


def load_object(target: str) -> Any:
    """``"package.module:name"`` → the object."""
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise ConfigurationError(f"{target!r} is not 'module:object'")
    try:
        obj: Any = importlib.import_module(module)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load {target!r}: {exc}") from None
    return obj


def _project_commands(pyproject: Path | None) -> list[tuple[str, str, Callable[[], Any]]]:
    if pyproject is None or not pyproject.is_file():
        return []  # a missing --config file is the command's error to report
    try:
        section = config.read_pyproject(pyproject).get("commands") or {}
    except ConfigurationError:
        return []  # the commands themselves report a broken pyproject.toml
    if not isinstance(section, dict):
        errors.print(
            f"warning: [tool.flash_db.commands] in {pyproject} must be a table of "
            f'name = "module:object"; ignored',
            markup=False,
        )
        return []
    root = str(pyproject.parent.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    return [(name, str(pyproject), _loader(str(target))) for name, target in section.items()]


def _loader(target: str) -> Callable[[], Any]:
    return lambda: load_object(target)


def _entry_point_commands() -> list[tuple[str, str, Callable[[], Any]]]:
    return [(ep.name, f"entry point {ep.value}", ep.load) for ep in entry_points(group=GROUP)]


def install(app: typer.Typer, *, pyproject: Path | None, taken: Iterable[str]) -> None:
    """Add the project's and the installed packages' commands to ``app``."""
    used = set(taken)
    for name, source, load in (*_project_commands(pyproject), *_entry_point_commands()):
        if name in used:
            errors.print(
                f"warning: command {name!r} from {source} clashes with 'flash {name}'; ignored",
                markup=False,
            )
            continue
        try:
            obj = load()
        except Exception as exc:  # a broken plugin must not take flash down with it
            errors.print(f"warning: command {name!r} from {source} not loaded: {exc}", markup=False)
            continue
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name)
        elif callable(obj):
            app.command(name)(obj)
        else:
            errors.print(
                f"warning: {name!r} from {source} is neither a typer app nor a function; ignored",
                markup=False,
            )
            continue
        used.add(name)
