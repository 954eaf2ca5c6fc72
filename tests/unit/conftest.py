"""Unit tests run without a database; each must leave the global model state as it found it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flash_db import metadata, registry


@pytest.fixture(autouse=True)
def _no_leftover_models() -> Iterator[None]:
    """Throwaway models defined by a test are gone afterwards (tables and registry entries)."""
    tables = dict(metadata.tables)
    models = {model._meta.label: model for model in registry}
    yield
    assert dict(metadata.tables) == tables, "a test left tables on flash_db.metadata"
    assert {model._meta.label: model for model in registry} == models, (
        "a test changed flash_db.registry"
    )
