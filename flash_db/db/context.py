"""Which transaction, if any, the running task has open on each database.

A context variable maps database aliases to the task's open transaction. The
owning task is recorded too: a task spawned inside ``atomic()`` copies the
context, but must not use the parent's connection (two tasks on one
connection interleave their statements), so a lookup from another task finds
nothing and runs in autocommit on a pooled connection instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass
class Transaction:
    """A task's open (outermost) transaction on one database."""

    alias: str
    connection: AsyncConnection
    task: asyncio.Task[Any] | None
    isolation: str
    #: callbacks registered with on_commit(), run after the outermost commit
    callbacks: list[Callable[[], Any]] = field(default_factory=list)
    #: set when a block joined without a savepoint failed: the outer block must roll back
    broken: bool = False


current: contextvars.ContextVar[dict[str, Transaction] | None] = contextvars.ContextVar(
    "flash_db_transactions", default=None
)


def current_transaction(alias: str) -> Transaction | None:
    """The running task's open transaction on ``alias``, or None."""
    transactions = current.get()
    if not transactions:
        return None
    tx = transactions.get(alias)
    if tx is None or tx.task is not asyncio.current_task():
        return None
    return tx


def bind(tx: Transaction) -> contextvars.Token[dict[str, Transaction] | None]:
    """Make ``tx`` the running task's transaction on its database."""
    transactions = dict(current.get() or {})
    transactions[tx.alias] = tx
    return current.set(transactions)
