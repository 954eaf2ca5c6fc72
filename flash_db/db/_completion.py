"""Clean-up that a cancellation must not cut short.

``asyncio.shield()`` alone keeps the shielded work running when the awaiting task is
cancelled, but the task itself goes on at once: a transaction's rollback would still be
talking to its connection while the task's next step (the outer block's rollback, the
connection's return to the pool) starts on the same connection. :func:`to_completion`
waits for the work to end, however often the task is cancelled meanwhile, and only
then raises the cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def to_completion(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the running task is cancelled meanwhile; a
    cancellation that arrived is raised once ``work`` has finished (its own error, if
    it failed, wins). The work runs as a task of its own, in a copy of the context.

    Example::

        await to_completion(transaction.rollback())
    """
    task = asyncio.ensure_future(work)
    interrupted: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError as error:
            if task.done():
                raise  # the work itself was cancelled, or this was its result
            interrupted = error
            continue
        if interrupted is not None:
            raise interrupted
        return result
