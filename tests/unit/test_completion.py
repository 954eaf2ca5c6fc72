"""``to_completion``: clean-up that a cancellation waits for instead of cutting short."""

from __future__ import annotations

import asyncio

import pytest

from flash_db.db._completion import to_completion


async def test_the_work_ends_before_the_cancellation_is_raised() -> None:
    steps: list[str] = []

    async def work() -> str:
        steps.append("started")
        await asyncio.sleep(0.05)
        steps.append("finished")
        return "done"

    async def caller() -> str:
        return await to_completion(work())

    task = asyncio.create_task(caller())
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()  # and again: still waits
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["started", "finished"]


async def test_uncancelled_it_returns_the_result_and_raises_the_error() -> None:
    async def ok() -> int:
        return 7

    async def failing() -> None:
        raise ValueError("boom")

    assert await to_completion(ok()) == 7
    with pytest.raises(ValueError, match="boom"):
        await to_completion(failing())


async def test_the_works_own_error_wins_over_the_cancellation() -> None:
    async def failing() -> None:
        await asyncio.sleep(0.02)
        raise ValueError("boom")

    task = asyncio.create_task(to_completion(failing()))
    await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(ValueError, match="boom"):
        await task


async def test_asyncio_timeout_still_becomes_timeout_error() -> None:
    """A deadline that passes during the clean-up is still reported as a TimeoutError
    by ``asyncio.timeout()``, once the clean-up is done."""
    finished = []

    async def clean_up() -> None:
        await asyncio.sleep(0.05)
        finished.append(True)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await to_completion(clean_up())
    assert finished == [True]
