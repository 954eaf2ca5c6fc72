"""Fixtures for tests that drive the real ``flash`` executable in a temporary project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .flashproject import FlashProject, drop_scratch, scratch_url


@pytest.fixture
def project(backend: str, tmp_path: Path) -> Iterator[FlashProject]:
    """A project whose ``default`` and ``other`` databases are new, empty databases on
    ``backend``'s server; ``pyproject.toml`` is written, models are up to the test."""
    urls = {"default": scratch_url(backend, tmp_path), "other": scratch_url(backend, tmp_path)}
    root = tmp_path / "proj"
    root.mkdir()
    proj = FlashProject(root, urls)
    proj.write_config()
    try:
        yield proj
    finally:
        for url in urls.values():
            drop_scratch(url)
