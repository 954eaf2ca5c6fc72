"""Signals on every backend (api.md §6): save, delete (with cascades), m2m_changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from blinker import Signal

from flash_db import atomic, signals

from ..models import RelAuthor, RelBook, RelTag


@pytest.fixture
def connect() -> Iterator[Any]:
    """Connect receivers for one test only."""
    connected: list[tuple[Signal, Any]] = []

    def _connect(signal: Signal, receiver: Any, sender: Any) -> Any:
        signal.connect(receiver, sender=sender, weak=False)
        connected.append((signal, receiver))
        return receiver

    yield _connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


async def test_save_signals_sync_and_async_in_order(db: str, connect: Any) -> None:
    log: list[tuple[Any, ...]] = []

    def pre(sender: Any, *, instance: Any, using: str, update_fields: Any, **kw: Any) -> None:
        log.append(("pre", instance.name, instance.pk is None, using, update_fields))

    async def post(
        sender: Any, *, instance: Any, created: bool, update_fields: Any, **kw: Any
    ) -> None:
        log.append(("post", instance.name, created, update_fields))

    async def second(sender: Any, **kw: Any) -> None:
        log.append(("second",))

    connect(signals.pre_save, pre, RelAuthor)
    connect(signals.post_save, post, RelAuthor)
    connect(signals.post_save, second, RelAuthor)
    author = await RelAuthor.objects.create(name="Ann")
    author.name = "Anne"
    await author.save(update_fields=["name"])
    await RelTag.objects.create(name="not an author")  # another sender: not received
    assert log == [
        ("pre", "Ann", True, "default", None),
        ("post", "Ann", True, None),
        ("second",),
        ("pre", "Anne", False, "default", frozenset({"name"})),
        ("post", "Anne", False, frozenset({"name"})),
        ("second",),
    ]


async def test_connect_via_decorator(db: str) -> None:
    seen = []

    @signals.post_save.connect_via(RelTag)
    async def on_tag(sender: Any, *, instance: Any, created: bool, **kw: Any) -> None:
        seen.append((sender, instance.name, created))

    try:
        await RelTag.objects.create(name="sf")
    finally:
        signals.post_save.disconnect(on_tag)
    assert seen == [(RelTag, "sf", True)]


async def test_receiver_error_rolls_back_the_atomic_block(db: str, connect: Any) -> None:
    def refuse(sender: Any, *, instance: Any, **kw: Any) -> None:
        if instance.title == "forbidden":
            raise PermissionError("not this title")

    connect(signals.pre_save, refuse, RelBook)
    author = await RelAuthor.objects.create(name="Ann")
    with pytest.raises(PermissionError):
        async with atomic():
            await RelBook.objects.create(title="fine", author=author)
            await RelBook.objects.create(title="forbidden", author=author)
    assert await RelBook.objects.count() == 0


async def test_delete_signals_reach_cascaded_objects(db: str, connect: Any) -> None:
    log: list[tuple[str, str]] = []

    def pre(sender: Any, *, instance: Any, **kw: Any) -> None:
        log.append(("pre", instance.title))

    async def post(sender: Any, *, instance: Any, using: str, **kw: Any) -> None:
        log.append(("post", instance.title))

    connect(signals.pre_delete, pre, RelBook)
    connect(signals.post_delete, post, RelBook)
    author = await RelAuthor.objects.create(name="Ann")
    await RelBook.objects.create(title="a", author=author)
    await RelBook.objects.create(title="b", author=author)
    await author.delete()  # cascades to both books
    assert sorted(log) == [("post", "a"), ("post", "b"), ("pre", "a"), ("pre", "b")]
    assert [kind for kind, _ in log] == ["pre", "pre", "post", "post"]
    log.clear()
    other = await RelAuthor.objects.create(name="Bob")
    book = await RelBook.objects.create(title="c", author=other)
    await book.delete()
    await RelBook.objects.filter(title="nothing").delete()
    assert log == [("pre", "c"), ("post", "c")]


async def test_m2m_changed(db: str, connect: Any) -> None:
    log: list[tuple[Any, ...]] = []

    def changed(
        sender: Any,
        *,
        instance: Any,
        action: str,
        pk_set: Any,
        reverse: bool,
        model: Any,
        **kw: Any,
    ) -> None:
        log.append((action, None if pk_set is None else sorted(pk_set), reverse, model.__name__))

    through = RelBook.tags.through
    connect(signals.m2m_changed, changed, through)
    author = await RelAuthor.objects.create(name="Ann")
    book = await RelBook.objects.create(title="a", author=author)
    sf = await RelTag.objects.create(name="sf")
    old = await RelTag.objects.create(name="old")
    await book.tags.add(sf, old)
    await book.tags.add(sf)  # already there: nothing added
    await sf.books.remove(book)
    await book.tags.clear()
    assert log == [
        ("pre_add", sorted([sf.pk, old.pk]), False, "RelTag"),
        ("post_add", sorted([sf.pk, old.pk]), False, "RelTag"),
        ("pre_add", [], False, "RelTag"),
        ("post_add", [], False, "RelTag"),
        ("pre_remove", [book.pk], True, "RelBook"),
        ("post_remove", [book.pk], True, "RelBook"),
        ("pre_clear", None, False, "RelTag"),
        ("post_clear", None, False, "RelTag"),
    ]


async def test_bulk_operations_send_no_per_object_signals(db: str, connect: Any) -> None:
    calls = []
    connect(signals.post_save, lambda sender, **kw: calls.append(kw), RelTag)
    tags = await RelTag.objects.bulk_create([RelTag(name=f"t{i}") for i in range(3)])
    for tag in tags:
        tag.name = tag.name.upper()
    await RelTag.objects.bulk_update(tags, ["name"])
    await RelTag.objects.filter(name="T0").update(name="x")
    assert calls == []
