"""Which delete filters run the statements cached per model (``writes.pk_equals``)."""

from __future__ import annotations

from flash_db.query import writes
from flash_db.query.state import write_filter

from ..models import RelArtist


def _shape(qs: object) -> tuple[bool, object]:
    return writes.pk_equals(RelArtist, write_filter(qs._state))  # type: ignore[attr-defined]


def test_pk_equality_is_recognised() -> None:
    assert _shape(RelArtist.objects.filter(pk=5)) == (True, 5)
    assert _shape(RelArtist.objects.filter(id=7)) == (True, 7)


def test_other_filters_are_not() -> None:
    assert _shape(RelArtist.objects.filter(pk__gte=5)) == (False, None)
    assert _shape(RelArtist.objects.filter(pk=5, name="x")) == (False, None)
    assert _shape(RelArtist.objects.filter(name="x")) == (False, None)
    assert _shape(RelArtist.objects.exclude(pk=5)) == (False, None)
    assert _shape(RelArtist.objects.filter(pk=5)[:1]) == (False, None)
    assert _shape(RelArtist.objects.filter(pk=None)) == (False, None)
    assert _shape(RelArtist.objects.all()) == (False, None)
