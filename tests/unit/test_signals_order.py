"""Receivers run in connection order, whether connected for a sender or for any sender."""

from __future__ import annotations

from typing import Any

from blinker import ANY, Signal

from flash_db import signals


class Sender:
    pass


async def test_receivers_run_in_connection_order() -> None:
    signal = Signal()
    log: list[int] = []
    for index in range(30):

        def receiver(sender: Any, index: int = index, **kw: Any) -> None:
            log.append(index)

        # mix receivers for this sender and receivers for any sender
        signal.connect(receiver, sender=Sender if index % 2 else ANY, weak=False)
    await signals.send(signal, Sender)
    assert log == list(range(30))
