"""Model signals, on blinker.

Receivers may be plain functions or coroutine functions; they run in the
order they were connected, in the task that saved or deleted the object (so
inside its ``atomic()``), and an exception in a receiver propagates to the
caller::

    from flash_db import signals

    @signals.post_save.connect_via(Author)
    async def on_author_saved(sender, *, instance, created, using, **kw):
        ...

    signals.pre_delete.connect(audit, sender=Author)

Keyword arguments sent:

- ``pre_save`` / ``post_save``: ``instance``, ``using``, ``update_fields``
  (a frozenset or None), and ``created`` (post_save only).
- ``pre_delete`` / ``post_delete``: ``instance``, ``using`` — also for each
  object a cascade deletes, when the signal has receivers for its model.
- ``m2m_changed``: ``instance``, ``action`` (``pre_add``, ``post_add``,
  ``pre_remove``, ``post_remove``, ``pre_clear``, ``post_clear``), ``model``
  (the other side), ``pk_set`` (None for clears), ``using``, ``reverse``.
- ``pre_migrate`` / ``post_migrate``: sent by the migration commands.

Bulk operations (``bulk_create``, ``bulk_update``, ``QuerySet.update``) send
no per-object signals.

This module sits at the bottom of the layering (it imports blinker only), so
that models, managers and the database layer can all send these signals.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

from blinker import Namespace, Signal

_signals = Namespace()

pre_save = _signals.signal("pre_save", doc="Before a model instance is INSERTed or UPDATEd.")
post_save = _signals.signal("post_save", doc="After a model instance was INSERTed or UPDATEd.")
pre_delete = _signals.signal("pre_delete", doc="Before a model instance is deleted.")
post_delete = _signals.signal("post_delete", doc="After a model instance was deleted.")
m2m_changed = _signals.signal("m2m_changed", doc="When a many-to-many relation changes.")
pre_migrate = _signals.signal("pre_migrate", doc="Before migrations run on a database.")
post_migrate = _signals.signal("post_migrate", doc="After migrations ran on a database.")


def has_receivers(signal: Signal, sender: Any) -> bool:
    """Whether sending ``signal`` for ``sender`` would call anything (a cheap check)."""
    return bool(signal.receivers) and bool(signal.has_receivers_for(sender))


async def send(signal: Signal, sender: Any, **kwargs: Any) -> list[tuple[Any, Any]]:
    """Call ``signal``'s receivers for ``sender`` in connection order, awaiting async ones.

    Returns ``[(receiver, result), ...]``; a receiver's exception propagates.
    """
    if not signal.receivers:
        return []
    results = []
    for receiver in _in_connection_order(signal, list(signal.receivers_for(sender))):
        result = receiver(sender, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        results.append((receiver, result))
    return results


def _in_connection_order(signal: Signal, found: list[Any]) -> list[Any]:
    """``found`` sorted as the receivers were connected.

    blinker's ``receivers_for()`` yields them from a set of ids, in no set order;
    ``signal.receivers`` is a dict, so it keeps the connection order.
    """
    if len(found) < 2:
        return found
    connected = [r() if isinstance(r, weakref.ref) else r for r in signal.receivers.values()]

    def position(receiver: Any) -> int:
        # == rather than `is`: a weakly held bound method comes back as a new object.
        return next((i for i, r in enumerate(connected) if r == receiver), len(connected))

    return sorted(found, key=position)


__all__ = [
    "m2m_changed",
    "post_delete",
    "post_migrate",
    "post_save",
    "pre_delete",
    "pre_migrate",
    "pre_save",
    "send",
]
