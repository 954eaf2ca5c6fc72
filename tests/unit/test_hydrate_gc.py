"""Hydration pauses the cyclic garbage collector for large results only, and restores it."""

from __future__ import annotations

import gc

import pytest

from flash_db.query import hydrate


def test_paused_for_large_and_unknown_sizes() -> None:
    assert gc.isenabled()
    with hydrate.collector_paused(hydrate.GC_PAUSE_ROWS):
        assert not gc.isenabled()
    assert gc.isenabled()
    with hydrate.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_small_results_leave_it_alone() -> None:
    with hydrate.collector_paused(hydrate.GC_PAUSE_ROWS - 1):
        assert gc.isenabled()


def test_restored_after_an_error() -> None:
    with pytest.raises(ZeroDivisionError), hydrate.collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with hydrate.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
