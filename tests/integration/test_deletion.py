"""on_delete on every backend (api.md §4).

ORM actions (CASCADE, PROTECT, RESTRICT, SET_NULL, SET_DEFAULT) are carried out
by flash_db in one transaction: collect first, then one statement per model and
level (``… WHERE pk IN (…)``), never one per row. DO_NOTHING, DB_CASCADE and
DB_SET_NULL are left to the database (the latter two as ON DELETE in the DDL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.schema import CreateTable

import flash_db
from flash_db.exceptions import IntegrityError, ProtectedError
from flash_db.query import get_executor, writes
from flash_db.testing import QueryLog, count_queries

from ..models import (
    RelAlbum,
    RelArtist,
    RelAuthor,
    RelBook,
    RelCategory,
    RelClub,
    RelCopy,
    RelCustomer,
    RelFile,
    RelFolder,
    RelLibrary,
    RelLoan,
    RelLyric,
    RelMember,
    RelMembership,
    RelNote,
    RelOrder,
    RelOrderLine,
    RelOwner,
    RelProfile,
    RelPublisher,
    RelQueue,
    RelRegion,
    RelReview,
    RelSong,
    RelTag,
    RelTicket,
)


async def counts(*models: Any) -> list[int]:
    return [await model.objects.count() for model in models]


def statements(queries: QueryLog, verb: str) -> list[str]:
    return [s for s in queries.statements if s.lstrip().upper().startswith(verb)]


def row_deletes(queries: QueryLog) -> list[str]:
    """The DELETEs, less the one-statement attempt of a delete by pk (``… AND NOT (EXISTS
    …)``, which deletes nothing when the row is referenced)."""
    return [s for s in statements(queries, "DELETE") if "NOT (EXISTS" not in s]


def ddl(model: Any) -> str:
    dialect = flash_db.connections["default"].dialect
    return str(CreateTable(model.__table__).compile(dialect=dialect))


# -- CASCADE --------------------------------------------------------------------------------------


async def make_artist(name: str, albums: int, songs: int = 2, lyrics: int = 1) -> RelArtist:
    """An artist with ``albums`` albums of ``songs`` songs of ``lyrics`` lines each."""
    artist = await RelArtist.objects.create(name=name)
    made = await RelAlbum.objects.bulk_create(
        [RelAlbum(artist=artist, title=f"{name} {i}") for i in range(albums)]
    )
    tracks = await RelSong.objects.bulk_create(
        [
            RelSong(album=album, artist=artist, title=f"{album.title}.{j}")
            for album in made
            for j in range(songs)
        ]
    )
    await RelLyric.objects.bulk_create(
        [RelLyric(song=song, line=f"la {k}") for song in tracks for k in range(lyrics)]
    )
    return artist


async def test_cascade_three_levels(db: str) -> None:
    abba = await make_artist("Abba", albums=2, songs=3, lyrics=2)
    await make_artist("Beck", albums=1, songs=1, lyrics=1)
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [2, 3, 7, 13]
    assert await abba.delete() == 1
    assert abba.pk is None
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [1, 1, 1, 1]
    assert [a.title for a in await RelAlbum.objects.all()] == ["Beck 0"]
    assert not await RelSong.objects.filter(title__startswith="Abba").exists()


async def test_cascade_uses_a_constant_number_of_statements(db: str) -> None:
    per_size = {}
    for n in (2, 40):
        artist = await make_artist(f"Artist{n}", albums=n, songs=2, lyrics=1)
        async with count_queries() as queries:
            assert await artist.delete() == 1
        guarded, *deletes = statements(queries, "DELETE")
        # first the one-statement attempt (delete the artist unless referenced) …
        assert "NOT (EXISTS" in guarded, guarded
        # … then lyrics, songs, albums, the artist: one DELETE … IN (…) each, whatever n is
        assert len(deletes) == 4, deletes
        assert all(" IN " in s.upper() or "=" in s for s in deletes)
        per_size[n] = queries.count
        assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [0, 0, 0, 0]
    assert per_size[2] == per_size[40]
    # QuerySet.delete() of many roots: still one statement per model
    for i in range(30):
        await make_artist(f"Many{i:02}", albums=1, songs=1, lyrics=1)
    async with count_queries() as queries:
        assert await RelArtist.objects.filter(name__startswith="Many").delete() == 30
    assert len(statements(queries, "DELETE")) == 4
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [0, 0, 0, 0]


async def test_cascade_across_relations_of_an_author(db: str) -> None:
    orbit = await RelPublisher.objects.create(name="Orbit")
    ann = await RelAuthor.objects.create(name="Ann", publisher=orbit)
    bob = await RelAuthor.objects.create(name="Bob", publisher=orbit)
    scifi = await RelTag.objects.create(name="scifi")
    dune = await RelBook.objects.create(title="Dune", author=ann)
    emma = await RelBook.objects.create(title="Emma", author=ann)
    other = await RelBook.objects.create(title="Other", author=bob)
    for book in (dune, emma, other):
        await book.tags.add(scifi)
    await RelReview.objects.create(book=dune, stars=5)
    await RelReview.objects.create(book=other, stars=4)
    await RelProfile.objects.create(author=ann, bio="x")
    through = RelBook.tags.through
    assert await counts(RelBook, RelReview, RelProfile, through) == [3, 2, 1, 3]
    await ann.delete()
    # books, their reviews and tag links, the profile: gone; the rest untouched
    assert await counts(RelAuthor, RelBook, RelReview, RelProfile, through) == [1, 1, 1, 0, 1]
    assert await counts(RelPublisher, RelTag) == [1, 1]
    assert [b.title for b in await scifi.books.all()] == ["Other"]


async def test_cascade_when_a_child_is_reached_twice(db: str) -> None:
    library = await RelLibrary.objects.create(name="Central")
    copy = await RelCopy.objects.create(library=library, title="Dune")
    await RelLoan.objects.create(library=library, copy=copy)
    await library.delete()
    assert await counts(RelLibrary, RelCopy, RelLoan) == [0, 0, 0]


# -- PROTECT --------------------------------------------------------------------------------------


@dataclass
class Shop:
    north: RelRegion
    south: RelRegion
    alice: RelCustomer
    bert: RelCustomer
    carl: RelCustomer
    order: RelOrder


@pytest.fixture
async def shop(db: str) -> Shop:
    """North: Alice (an order of 2 lines), Bert (no orders). South: Carl (no orders)."""
    north = await RelRegion.objects.create(name="north")
    south = await RelRegion.objects.create(name="south")
    alice = await RelCustomer.objects.create(name="Alice", region=north)
    bert = await RelCustomer.objects.create(name="Bert", region=north)
    carl = await RelCustomer.objects.create(name="Carl", region=south)
    order = await RelOrder.objects.create(customer=alice, total=Decimal("5"))
    await RelOrderLine.objects.create(order=order)
    await RelOrderLine.objects.create(order=order, qty=2)
    return Shop(north, south, alice, bert, carl, order)


SHOP = (RelRegion, RelCustomer, RelOrder, RelOrderLine)


async def test_protect_refuses_before_deleting_anything(shop: Shop) -> None:
    assert await counts(*SHOP) == [2, 3, 1, 2]
    async with count_queries() as queries:
        with pytest.raises(ProtectedError, match=r"RelOrder\.customer") as info:
            await shop.alice.delete()
    assert row_deletes(queries) == [] and statements(queries, "UPDATE") == []
    assert info.value.protected_objects == [(RelOrder, shop.order.pk)]
    assert shop.alice.pk is not None
    assert await counts(*SHOP) == [2, 3, 1, 2]
    # reached through a cascade: deleting the region would delete Alice
    with pytest.raises(ProtectedError):
        await shop.north.delete()
    assert await counts(*SHOP) == [2, 3, 1, 2]  # Bert was not deleted either
    with pytest.raises(ProtectedError):
        await RelCustomer.objects.filter(name__in=["Alice", "Bert"]).delete()
    with pytest.raises(ProtectedError):
        await RelRegion.objects.order_by("name")[:1].delete()
    assert await counts(*SHOP) == [2, 3, 1, 2]
    # customers without orders go; the protected one goes once its orders are gone
    assert await shop.south.delete() == 1
    assert await counts(*SHOP) == [1, 2, 1, 2]
    await shop.order.delete()  # its lines cascade
    assert await counts(RelOrder, RelOrderLine) == [0, 0]
    assert await shop.north.delete() == 1
    assert await counts(*SHOP) == [0, 0, 0, 0]


# -- RESTRICT -------------------------------------------------------------------------------------


async def test_restrict(db: str) -> None:
    abba = await RelArtist.objects.create(name="Abba")
    beck = await RelArtist.objects.create(name="Beck")
    gold = await RelAlbum.objects.create(artist=abba, title="Gold")
    odelay = await RelAlbum.objects.create(artist=beck, title="Odelay")
    await RelSong.objects.create(album=gold, artist=abba, title="SOS")
    # Beck is credited on a song of Abba's album
    guest = await RelSong.objects.create(album=gold, artist=beck, title="Guest")
    await RelSong.objects.create(album=odelay, artist=beck, title="Devils Haircut")
    assert await counts(RelArtist, RelAlbum, RelSong) == [2, 2, 3]

    # refused alone: "Guest" credits Beck and is not deleted by Beck's cascade
    async with count_queries() as queries:
        with pytest.raises(ProtectedError, match=r"RelSong\.artist") as info:
            await beck.delete()
    assert row_deletes(queries) == []
    assert info.value.protected_objects == [(RelSong, guest.pk)]
    assert await counts(RelArtist, RelAlbum, RelSong) == [2, 2, 3]

    # allowed when the restricted rows go by a cascade of the same delete:
    # Abba's album takes SOS (credits Abba) and Guest (credits Beck) with it
    assert await abba.delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong) == [1, 1, 1]
    # now nothing outside the cascade credits Beck
    assert await beck.delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong) == [0, 0, 0]


async def test_restrict_allowed_when_both_sides_go_together(db: str) -> None:
    abba = await RelArtist.objects.create(name="Abba")
    beck = await RelArtist.objects.create(name="Beck")
    gold = await RelAlbum.objects.create(artist=abba, title="Gold")
    await RelSong.objects.create(album=gold, artist=beck, title="Guest")
    with pytest.raises(ProtectedError):
        await RelArtist.objects.filter(name="Beck").delete()
    # deleting both at once: the song goes with Abba's album, so Beck may go too
    assert await RelArtist.objects.filter(name__in=["Abba", "Beck"]).delete() == 2
    assert await counts(RelArtist, RelAlbum, RelSong) == [0, 0, 0]


# -- SET_NULL / SET_DEFAULT -----------------------------------------------------------------------


async def test_set_null(db: str) -> None:
    orbit = await RelPublisher.objects.create(name="Orbit")
    tor = await RelPublisher.objects.create(name="Tor")
    for name in ("Ann", "Bob"):
        await RelAuthor.objects.create(name=name, publisher=orbit)
    await RelAuthor.objects.create(name="Cid", publisher=tor)
    async with count_queries() as queries:
        assert await orbit.delete() == 1
    assert len(statements(queries, "UPDATE")) == 1 and len(row_deletes(queries)) == 1
    rows = await RelAuthor.objects.values_list("name", "publisher_id")
    assert rows == [("Ann", None), ("Bob", None), ("Cid", tor.pk)]
    assert await RelPublisher.objects.filter(name="Tor").delete() == 1
    assert await RelAuthor.objects.filter(publisher__isnull=True).count() == 3


async def test_set_default(db: str) -> None:
    await RelQueue.objects.create(code="inbox")
    support = await RelQueue.objects.create(code="support")
    sales = await RelQueue.objects.create(code="sales")
    await RelTicket.objects.create(queue=support, subject="a")
    await RelTicket.objects.create(queue=support, subject="b")
    await RelTicket.objects.create(queue=sales, subject="c")
    default = await RelTicket.objects.create(subject="d")
    assert default.queue_id == "inbox"
    await support.delete()
    rows = await RelTicket.objects.order_by("subject").values_list("subject", "queue_id")
    assert rows == [("a", "inbox"), ("b", "inbox"), ("c", "sales"), ("d", "inbox")]
    assert await RelQueue.objects.filter(code="sales").delete() == 1
    assert await RelTicket.objects.filter(queue__code="inbox").count() == 4
    assert await RelQueue.objects.count() == 1


# -- DO_NOTHING -----------------------------------------------------------------------------------


async def test_do_nothing(db: str) -> None:
    owner = await RelOwner.objects.create(name="o")
    lonely = await RelOwner.objects.create(name="lonely")
    note = await RelNote.objects.create(owner=owner, text="n")
    # the ORM does nothing: one DELETE, which the database's foreign key refuses
    async with count_queries() as queries:
        with pytest.raises(IntegrityError):
            await owner.delete()
    assert len(queries.statements) == 1 and statements(queries, "DELETE")
    assert await counts(RelOwner, RelNote) == [2, 1]
    async with count_queries() as queries:
        assert await lonely.delete() == 1
    assert queries.count == 1
    with pytest.raises(IntegrityError):
        await RelOwner.objects.all().delete()
    assert await counts(RelOwner, RelNote) == [1, 1]
    # the user deletes the referencing rows first (no dangling row is left behind)
    await note.delete()
    assert await owner.delete() == 1
    assert await counts(RelOwner, RelNote) == [0, 0]


# -- DB_CASCADE / DB_SET_NULL ---------------------------------------------------------------------


async def test_database_actions_are_in_the_ddl(db: str) -> None:
    files = " ".join(ddl(RelFile).upper().split())
    assert "ON DELETE CASCADE" in files and "ON DELETE SET NULL" in files
    # ORM actions are not in the DDL: the database must not act on its own
    for model in (RelAlbum, RelSong, RelOrder, RelAuthor, RelTicket, RelNote, RelCategory):
        assert "ON DELETE" not in ddl(model).upper(), model
    # the automatic through table goes with either side in the database
    assert ddl(RelBook.tags.through).upper().count("ON DELETE CASCADE") == 2


async def test_database_actions_are_done_by_the_database(db: str) -> None:
    docs = await RelFolder.objects.create(name="docs")
    pics = await RelFolder.objects.create(name="pics")
    await RelFile.objects.create(folder=docs, name="a.txt")
    await RelFile.objects.create(folder=docs, name="b.txt")
    shared = await RelFile.objects.create(folder=pics, shared_from=docs, name="c.png")
    await RelFile.objects.create(folder=pics, shared_from=pics, name="d.png")
    async with count_queries() as queries:
        assert await docs.delete() == 1
    assert len(queries.statements) == 1  # no SELECT, no UPDATE: the database does it
    rows = await RelFile.objects.order_by("name").values_list("name", "shared_from_id")
    assert rows == [("c.png", None), ("d.png", pics.pk)]
    assert (await RelFile.objects.get(pk=shared.pk)).folder_id == pics.pk
    async with count_queries() as queries:
        assert await RelFolder.objects.filter(name="pics").delete() == 1
    assert len(queries.statements) == 1
    assert await counts(RelFolder, RelFile) == [0, 0]


# -- many-to-many ---------------------------------------------------------------------------------


async def test_auto_through_rows_go_with_either_side(db: str) -> None:
    ann = await RelAuthor.objects.create(name="Ann")
    dune = await RelBook.objects.create(title="Dune", author=ann)
    emma = await RelBook.objects.create(title="Emma", author=ann)
    scifi = await RelTag.objects.create(name="scifi")
    classic = await RelTag.objects.create(name="classic")
    await dune.tags.add(scifi, classic)
    await emma.tags.add(classic)
    through = RelBook.tags.through
    assert await through.objects.count() == 3
    await dune.delete()
    assert await through.objects.count() == 1
    assert await counts(RelTag) == [2]
    await classic.delete()
    assert await through.objects.count() == 0
    assert [b.title for b in await RelBook.objects.all()] == ["Emma"]
    await emma.tags.add(scifi)
    await RelTag.objects.filter(name="scifi").delete()
    assert await through.objects.count() == 0


async def test_explicit_through_rows_go_with_either_side(db: str) -> None:
    chess = await RelClub.objects.create(name="Chess")
    go = await RelClub.objects.create(name="Go")
    ann = await RelMember.objects.create(name="Ann")
    bob = await RelMember.objects.create(name="Bob")
    for club, member in ((chess, ann), (chess, bob), (go, ann), (go, bob)):
        await RelMembership.objects.create(club=club, member=member)
    await chess.delete()
    assert await RelMembership.objects.count() == 2
    assert await counts(RelMember) == [2]
    await bob.delete()
    assert [(m.club_id, m.member_id) for m in await RelMembership.objects.all()] == [
        (go.pk, ann.pk)
    ]
    assert [c.name for c in await ann.clubs.all()] == ["Go"]
    await RelMember.objects.all().delete()
    assert await counts(RelMembership, RelClub) == [0, 1]


# -- QuerySet.delete() ----------------------------------------------------------------------------


async def test_queryset_delete_applies_on_delete(db: str) -> None:
    for name in ("Abba", "Beck", "Cher", "Dido"):
        await make_artist(name, albums=2, songs=1, lyrics=1)
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [4, 8, 8, 8]
    # with a filter
    assert await RelArtist.objects.filter(name="Beck").delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [3, 6, 6, 6]
    # with slicing
    assert await RelArtist.objects.order_by("-name")[:2].delete() == 2
    assert [a.name for a in await RelArtist.objects.all()] == ["Abba"]
    assert await counts(RelAlbum, RelSong, RelLyric) == [2, 2, 2]
    # from the middle of the tree, through a relation filter
    assert await RelAlbum.objects.filter(artist__name="Abba", title__endswith="1").delete() == 1
    assert await counts(RelAlbum, RelSong, RelLyric) == [1, 1, 1]
    # nothing matches: nothing happens
    assert await RelArtist.objects.filter(name="Nobody").delete() == 0
    assert await RelArtist.objects.none().delete() == 0
    # everything
    assert await RelArtist.objects.all().delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [0, 0, 0, 0]
    # SET_NULL through a sliced QuerySet
    orbit = await RelPublisher.objects.create(name="Orbit")
    await RelAuthor.objects.create(name="Ann", publisher=orbit)
    assert await RelPublisher.objects.order_by("name")[:1].delete() == 1
    assert (await RelAuthor.objects.get(name="Ann")).publisher_id is None


# -- a self-referencing tree ------------------------------------------------------------------------


@pytest.fixture
async def categories(db: str) -> AsyncIterator[None]:
    """Deletes what is left of the trees root by root before the ``db`` cleanup
    (MySQL refuses ``RelCategory.objects.delete()`` of a whole tree: see below)."""
    yield
    for root in await RelCategory.objects.filter(parent=None):
        await root.delete()


async def make_tree(prefix: str) -> RelCategory:
    """root -> a, b; a -> a1, a2; a1 -> a1x (four levels)."""
    root = await RelCategory.objects.create(name=f"{prefix}root")
    a = await RelCategory.objects.create(name=f"{prefix}a", parent=root)
    await RelCategory.objects.create(name=f"{prefix}b", parent=root)
    a1 = await RelCategory.objects.create(name=f"{prefix}a1", parent=a)
    await RelCategory.objects.create(name=f"{prefix}a2", parent=a)
    await RelCategory.objects.create(name=f"{prefix}a1x", parent=a1)
    return root


async def test_deleting_a_self_referencing_tree(categories: None) -> None:
    first = await make_tree("1")
    await make_tree("2")
    assert await RelCategory.objects.count() == 12
    # a middle node takes its subtree; the count is of every RelCategory row deleted
    middle = await RelCategory.objects.get(name="1a")
    async with count_queries() as queries:
        assert await middle.delete() == 4
    assert len(statements(queries, "DELETE")) == 3  # one per depth: a1x, a1+a2, a
    names = await RelCategory.objects.filter(name__startswith="1").values_list("name", flat=True)
    assert names == ["1b", "1root"]
    # the root takes the rest; the other tree is untouched
    assert await first.delete() == 2
    assert await RelCategory.objects.count() == 6
    assert not await RelCategory.objects.filter(name__startswith="1").exists()
    assert await RelCategory.objects.filter(parent__name="2a").count() == 2


async def test_queryset_delete_of_a_whole_tree(categories: None) -> None:
    await make_tree("1")
    await make_tree("2")
    # a parent and its child in the same QuerySet (and the subtree below them)
    assert await RelCategory.objects.filter(name__in=["1a", "1a1"]).delete() == 4
    assert await RelCategory.objects.count() == 8
    # everything
    assert await RelCategory.objects.all().delete() == 8
    assert await RelCategory.objects.count() == 0


# -- no collector when nothing references the rows ----------------------------------------------


async def test_delete_without_dependents_needs_no_collector(db: str) -> None:
    # RelArtist has CASCADE and RESTRICT reverse relations but no rows use them here
    lone = await RelArtist.objects.create(name="Lone")
    await RelArtist.objects.create(name="Other")
    async with count_queries() as queries:
        assert await RelArtist.objects.filter(name="Lone").delete() == 1
    # SELECT EXISTS (…) OR EXISTS (…), then the DELETE: no transaction, no pk list
    assert queries.count == 2, queries.statements
    assert len(statements(queries, "DELETE")) == 1
    other = await RelArtist.objects.get(name="Other")
    async with count_queries() as queries:
        assert await other.delete() == 1
    # by pk: one DELETE … WHERE id = ? AND NOT (EXISTS (…)) AND NOT (EXISTS (…))
    assert queries.count == 1, queries.statements
    assert other.pk is None
    assert lone.pk is not None  # QuerySet.delete() leaves instances alone
    assert await counts(RelArtist) == [0]


async def test_delete_falls_back_to_the_collector_when_a_row_appears(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A dependent row created between the check and the DELETE: the DELETE fails on
    # the foreign key, and the collector then cascades as usual.
    from flash_db.models import deletion

    artist = await make_artist("Racy", albums=1, songs=1, lyrics=1)

    async def nothing_found(*args: Any, **kwargs: Any) -> bool:
        return False

    monkeypatch.setattr(deletion, "has_dependents", nothing_found)
    assert await RelArtist.objects.filter(name="Racy").delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [0, 0, 0, 0]
    # by pk, the guard and the DELETE are one statement; a row committed while it runs
    # fails it on the foreign key the same way (simulated by dropping the guard)
    artist = await make_artist("Racy1", albums=1, songs=1, lyrics=1)

    async def unguarded(model: Any, alias: str, pk: Any) -> int:
        return await writes.delete_by_pk(get_executor(), alias, model, pk)

    monkeypatch.setattr(deletion, "delete_unreferenced", unguarded)
    assert await artist.delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [0, 0, 0, 0]
    # inside a transaction the error is the caller's (PostgreSQL aborts the transaction)
    artist = await make_artist("Racy2", albums=1, songs=1, lyrics=0)
    with pytest.raises(IntegrityError):
        async with flash_db.atomic():
            await artist.delete()
    assert await counts(RelArtist, RelAlbum, RelSong) == [1, 1, 1]


async def test_delete_of_self_referencing_rows_checks_children(db: str) -> None:
    root = await RelCategory.objects.create(name="root")
    await RelCategory.objects.create(name="leaf", parent=root)
    async with count_queries() as queries:
        assert await RelCategory.objects.filter(name="leaf").delete() == 1
    assert queries.count == 2, queries.statements
    await RelCategory.objects.create(name="leaf2", parent=root)
    # cascades to leaf2, a row of the same model: both count
    assert await RelCategory.objects.filter(name="root").delete() == 2
    assert await counts(RelCategory) == [0]


async def test_delete_by_pk_uses_the_cached_check_and_still_cascades(db: str) -> None:
    # filter(pk=…).delete() and obj.delete() run a guarded DELETE cached per model, the
    # pk a parameter: the answer must follow the rows, not the first call
    lone = await RelArtist.objects.create(name="Lone")
    busy = await make_artist("Busy", albums=1, songs=1, lyrics=1)
    async with count_queries() as queries:
        assert await RelArtist.objects.filter(pk=lone.pk).delete() == 1
    assert queries.count == 1, queries.statements
    # a pk no row has: the guarded DELETE deletes nothing, the collector finds nothing
    assert await RelArtist.objects.filter(pk=lone.pk).delete() == 0
    assert await RelArtist.objects.filter(pk=busy.pk).delete() == 1
    assert await counts(RelArtist, RelAlbum, RelSong, RelLyric) == [0, 0, 0, 0]
    again = await make_artist("Again", albums=2, songs=0, lyrics=0)
    assert await again.delete() == 1
    assert again.pk is None
    assert await counts(RelArtist, RelAlbum) == [0, 0]
    # a self-referencing model: no guarded DELETE (MySQL refuses a subquery on the
    # table deleted from), the probe aliases the table
    root = await RelCategory.objects.create(name="root")
    leaf = await RelCategory.objects.create(name="leaf", parent=root)
    async with count_queries() as queries:
        assert await RelCategory.objects.filter(pk=leaf.pk).delete() == 1
    assert queries.count == 2, queries.statements
    await RelCategory.objects.create(name="leaf2", parent=root)
    assert await RelCategory.objects.filter(pk=root.pk).delete() == 2
    assert await counts(RelCategory) == [0]
