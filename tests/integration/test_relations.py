"""Relations on every backend (api.md §2-§4): ForeignKey, OneToOneField, ManyToManyField,
related managers, lookups across relations, select_related / prefetch_related /
fetch_related, and aggregates over relations."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

import flash_db
from flash_db import Avg, Count, Max, Model, Prefetch, Q, QuerySet, Sum, fields, metadata, registry
from flash_db.exceptions import (
    FieldError,
    IntegrityError,
    RelationNotLoaded,
    ValidationError,
)
from flash_db.testing import count_queries

from ..models import (
    RelAuthor,
    RelBook,
    RelCategory,
    RelClub,
    RelCopy,
    RelLabel,
    RelLoan,
    RelMember,
    RelMembership,
    RelProfile,
    RelPublisher,
    RelReview,
    RelTag,
)


@dataclass
class Library:
    orbit: RelPublisher
    tor: RelPublisher
    ann: RelAuthor
    bob: RelAuthor
    cid: RelAuthor
    classic: RelTag
    scifi: RelTag
    space: RelTag
    dune: RelBook
    emma: RelBook
    foundation: RelBook


@pytest.fixture
async def lib(db: str) -> Library:
    """Ann (Orbit): Dune 10.00 [classic, scifi], Emma 3.50 [classic];
    Bob (Tor): Foundation 8.00 [scifi, space]; Cid: no publisher, no books."""
    orbit = await RelPublisher.objects.create(name="Orbit")
    tor = await RelPublisher.objects.create(name="Tor")
    ann = await RelAuthor.objects.create(name="Ann", publisher=orbit)
    bob = await RelAuthor.objects.create(name="Bob", publisher=tor)
    cid = await RelAuthor.objects.create(name="Cid")
    classic, scifi, space = [
        await RelTag.objects.create(name=n) for n in ("classic", "scifi", "space")
    ]
    dune = await RelBook.objects.create(
        title="Dune", author=ann, price=Decimal("10.00"), published=dt.date(1965, 8, 1)
    )
    emma = await RelBook.objects.create(title="Emma", author=ann, price=Decimal("3.50"))
    foundation = await RelBook.objects.create(title="Foundation", author=bob, price=Decimal("8"))
    await dune.tags.add(classic, scifi)
    await emma.tags.add(classic)
    await foundation.tags.add(scifi, space)
    return Library(orbit, tor, ann, bob, cid, classic, scifi, space, dune, emma, foundation)


@pytest.fixture
async def categories(db: str) -> AsyncIterator[None]:
    """Deletes category trees root by root before the ``db`` cleanup: MySQL refuses
    ``RelCategory.objects.delete()`` of a whole tree (see test_deletion.py)."""
    yield
    for root in await RelCategory.objects.filter(parent=None):
        await root.delete()


def names(objs: list[Any]) -> list[str]:
    """Titles of books, names of everything else."""
    return [o.title if isinstance(o, RelBook) else o.name for o in objs]


# -- the examples of api.md §3-§4 -----------------------------------------------------------


async def test_spec_querying_examples(db: str) -> None:
    a = await RelAuthor.objects.create(name="Ann")
    b = RelBook(title="Dune", author=a, price=10)
    await b.save()
    assert b.author_id == a.pk and b.author is a
    await RelBook.objects.create(title="Cheap", author=a, price=2)
    zed = await RelAuthor.objects.create(name="Zed")
    await RelBook.objects.create(title="Zero", author=zed, price=20)

    found = await RelBook.objects.filter(author__name__startswith="A", price__gte=5)
    assert names(found) == ["Dune"]
    assert names(await RelBook.objects.filter(author=a)) == ["Cheap", "Dune"]
    seen = [book.title async for book in RelBook.objects.filter(author=a)]
    assert seen == ["Cheap", "Dune"]
    assert await RelBook.objects.values("title", "author__name").order_by("title") == [
        {"title": "Cheap", "author__name": "Ann"},
        {"title": "Dune", "author__name": "Ann"},
        {"title": "Zero", "author__name": "Zed"},
    ]
    tag = await RelTag.objects.create(name="scifi")
    await b.tags.add(tag)
    books = await RelBook.objects.select_related("author").prefetch_related("tags")
    assert [(x.title, x.author.name) for x in books] == [
        ("Cheap", "Ann"),
        ("Dune", "Ann"),
        ("Zero", "Zed"),
    ]
    assert [names(await x.tags.all()) for x in books] == [[], ["scifi"], []]
    await RelBook.objects.create(title="Third", author=a, price=1)
    busy = await RelAuthor.objects.annotate(n=Count("books")).filter(n__gt=2)
    assert names(busy) == ["Ann"] and busy[0].n == 3


async def test_aggregate_across_joined_relation(db: str) -> None:
    ann = await RelAuthor.objects.create(name="Ann")
    bob = await RelAuthor.objects.create(name="Bob")
    await RelAuthor.objects.create(name="Cid")
    await RelBook.objects.create(title="A", author=ann, price=Decimal("10"))
    await RelBook.objects.create(title="B", author=ann, price=Decimal("4"))
    await RelBook.objects.create(title="C", author=bob, price=Decimal("6"))
    # the filter joins books; the aggregates use that join
    result = await RelAuthor.objects.filter(books__price__gte=5).aggregate(
        avg=Avg("books__price"), n=Count("id", distinct=True)
    )
    assert result == {"avg": Decimal("8"), "n": 2}
    result = await RelBook.objects.filter(author__name="Ann").aggregate(total=Sum("price"))
    assert result == {"total": Decimal("14.00")}


async def test_spec_aggregate_across_relation(db: str) -> None:
    """api.md §3: ``Author.objects.aggregate(n=Count("id"), avg=Avg("books__price"))``."""
    ann = await RelAuthor.objects.create(name="Ann")
    bob = await RelAuthor.objects.create(name="Bob")
    await RelAuthor.objects.create(name="Cid")
    await RelBook.objects.create(title="A", author=ann, price=Decimal("10"))
    await RelBook.objects.create(title="B", author=ann, price=Decimal("4"))
    await RelBook.objects.create(title="C", author=bob, price=Decimal("6"))
    # Only Bob's books: 6 (not the average of every book, as a cartesian product would give)
    result = await RelAuthor.objects.filter(name="Bob").aggregate(avg=Avg("books__price"))
    assert result == {"avg": Decimal("6")}
    # The spec example: LEFT JOIN books gives 4 rows (Ann twice, Bob, Cid), as in Django.
    result = await RelAuthor.objects.aggregate(n=Count("id"), avg=Avg("books__price"))
    assert result["n"] == 4
    assert float(result["avg"]) == pytest.approx(20 / 3)


async def test_spec_instance_examples(lib: Library) -> None:
    book = await RelBook.objects.get(title="Dune")
    assert book.author_id == lib.ann.pk
    with pytest.raises(RelationNotLoaded):
        book.author  # noqa: B018
    await book.fetch_related("author", "tags")
    assert book.author == lib.ann and book.author.name == "Ann"
    assert names(await book.tags.all()) == ["classic", "scifi"]

    a = lib.ann
    assert names(await a.books.all()) == ["Dune", "Emma"]
    assert names(await a.books.filter(price__gt=5)) == ["Dune"]
    x = await a.books.create(title="X")
    assert x.author_id == a.pk and x.price == Decimal("0")
    assert await a.books.count() == 3

    await book.tags.add(lib.space, lib.classic)
    assert names(await book.tags.all()) == ["classic", "scifi", "space"]
    await book.tags.remove(lib.classic)
    assert names(await book.tags.all()) == ["scifi", "space"]
    await book.tags.set([lib.space])
    assert names(await book.tags.all()) == ["space"]
    await book.tags.clear()
    assert await book.tags.all() == []
    assert await book.tags.count() == 0


# -- fields and attributes --------------------------------------------------------------------


async def test_lazy_references_and_inspection(db: str) -> None:
    tags_field = RelBook._meta.get_field("tags")
    assert tags_field.remote_model is RelTag  # "RelTag", defined after RelBook
    assert RelReview._meta.get_field("book").remote_model is RelBook  # "tests.RelBook"
    assert RelMembership._meta.get_field("member").remote_model is RelMember  # dotted
    assert RelLoan._meta.get_field("copy").remote_model is RelCopy  # lazy, dotted
    assert RelLoan.__table__.c.copy_id.foreign_keys  # its table waited for RelCopy's
    assert RelCategory._meta.get_field("parent").remote_model is RelCategory  # "self"
    through = RelBook.tags.through
    assert through._meta.auto_created and through._meta.table_name == "rel_books_tags"
    assert RelClub._meta.get_field("members").through is RelMembership
    meta = flash_db.inspect(RelAuthor)
    assert {"publisher", "books", "profile"} <= set(meta.relations)
    assert {"books", "labels"} <= set(flash_db.inspect(RelTag).relations)
    # the foreign key column is <name>_id
    assert "author_id" in RelBook.__table__.c and "author" not in RelBook.__table__.c
    assert "tags" not in RelBook.__table__.c


async def test_fk_id_attribute_and_assignment(lib: Library) -> None:
    book = RelBook(title="New", author_id=lib.bob.pk)
    await book.save()
    assert book.author_id == lib.bob.pk
    with pytest.raises(RelationNotLoaded, match="fetch_related"):
        book.author  # noqa: B018
    book.author = lib.ann
    assert book.author_id == lib.ann.pk and book.author is lib.ann
    await book.save()
    fresh = await RelBook.objects.get(pk=book.pk)
    assert fresh.author_id == lib.ann.pk
    # a null foreign key is None without any loading
    cid = await RelAuthor.objects.get(name="Cid")
    assert cid.publisher_id is None and cid.publisher is None
    ann = await RelAuthor.objects.get(name="Ann")
    ann.publisher = None
    assert ann.publisher_id is None
    await ann.save()
    assert (await RelAuthor.objects.get(pk=ann.pk)).publisher_id is None
    # filter by instance, by id, by pk path
    for lookup in ({"author": lib.bob}, {"author_id": lib.bob.pk}, {"author__pk": lib.bob.pk}):
        assert names(await RelBook.objects.filter(**lookup)) == ["Foundation"]
    assert names(await RelBook.objects.filter(author__in=[lib.bob, lib.cid])) == ["Foundation"]


async def test_changing_fk_id_forgets_the_loaded_object(lib: Library) -> None:
    book = await RelBook.objects.select_related("author").get(title="Dune")
    assert book.author == lib.ann
    book.author_id = lib.bob.pk
    # the Ann object no longer matches: not loaded (attribute access does no I/O)
    with pytest.raises(RelationNotLoaded, match="fetch_related"):
        book.author  # noqa: B018
    await book.save()
    assert (await RelBook.objects.select_related("author").get(pk=book.pk)).author == lib.bob
    book.author_id = None  # type: ignore[assignment]
    with pytest.raises(RelationNotLoaded):
        book.author  # noqa: B018
    book.author = lib.ann
    assert book.author is lib.ann and book.author_id == lib.ann.pk


async def test_fetch_related_after_changing_fk_id(lib: Library) -> None:
    book = await RelBook.objects.select_related("author").get(title="Dune")
    book.author_id = lib.bob.pk
    await book.fetch_related("author")
    assert book.author == lib.bob


async def test_wrong_instance_for_foreign_key(lib: Library) -> None:
    with pytest.raises(ValidationError) as info:
        RelBook(title="X", author=lib.orbit)
    assert "author" in info.value.errors
    assert "RelAuthor" in info.value.errors["author"][0]
    book = await RelBook.objects.get(title="Dune")
    with pytest.raises(ValidationError):
        book.author = lib.classic  # type: ignore[assignment]
    assert book.author_id == lib.ann.pk


async def test_m2m_in_constructor_is_refused(lib: Library) -> None:
    with pytest.raises(FieldError, match=r"tags.*set\(\[") as info:
        RelBook(title="X", author=lib.ann, tags=[lib.classic])
    assert "many-to-many" in str(info.value)


async def test_missing_required_fk(db: str) -> None:
    with pytest.raises(ValidationError) as info:
        await RelBook(title="Orphan").save()
    assert "author" in info.value.errors
    unsaved = RelAuthor(name="Nobody")
    with pytest.raises(ValidationError):
        await RelBook(title="Orphan", author=unsaved).save()
    assert await RelBook.objects.count() == 0


async def test_fk_to_missing_row_is_integrity_error(db: str) -> None:
    with pytest.raises(IntegrityError):
        await RelBook(title="Ghost", author_id=987654).save(validate=False)


# -- reverse managers ---------------------------------------------------------------------------


async def test_reverse_manager(lib: Library) -> None:
    ann = lib.ann
    assert names(await ann.books.all()) == ["Dune", "Emma"]
    assert names(await ann.books.filter(title__startswith="E")) == ["Emma"]
    assert names(await ann.books.exclude(title="Emma")) == ["Dune"]
    assert await ann.books.count() == 2
    assert await ann.books.exists()
    assert not await lib.cid.books.exists()
    assert await lib.cid.books.count() == 0
    assert names(await ann.books.order_by("-price")) == ["Dune", "Emma"]
    assert (await ann.books.get(title="Emma")).pk == lib.emma.pk
    with pytest.raises(RelBook.DoesNotExist):
        await ann.books.get(title="Foundation")  # Bob's
    created = await lib.cid.books.create(title="Cid's", price=Decimal("1"))
    assert created.author_id == lib.cid.pk and created.author is lib.cid
    book, made = await lib.cid.books.get_or_create(title="Cid's")
    assert not made and book.pk == created.pk
    book, made = await lib.cid.books.get_or_create(title="Other", defaults={"price": 4})
    assert made and book.author_id == lib.cid.pk and book.price == Decimal("4")
    # get_or_create looks only at this author's books
    book, made = await lib.cid.books.get_or_create(title="Dune")
    assert made and book.pk != lib.dune.pk
    assert await RelBook.objects.filter(title="Dune").count() == 2
    assert await lib.cid.books.count() == 3
    # the publisher side: publisher.authors
    assert names(await lib.orbit.authors.all()) == ["Ann"]
    # async iteration over a reverse manager's queryset
    assert [b.title async for b in ann.books.all()] == ["Dune", "Emma"]


async def test_default_related_name(lib: Library) -> None:
    review = await lib.dune.relreview_set.create(stars=5)
    await lib.dune.relreview_set.create(stars=3)
    await lib.emma.relreview_set.create(stars=1)
    assert review.book_id == lib.dune.pk
    assert [r.stars for r in await lib.dune.relreview_set.all()] == [5, 3]
    # lookups use the model name
    assert names(await RelBook.objects.filter(relreview__stars=5)) == ["Dune"]
    assert names(await RelBook.objects.filter(relreview__isnull=True)) == ["Foundation"]
    books = await RelBook.objects.filter(title="Dune").prefetch_related("relreview")
    async with count_queries() as queries:
        assert [r.stars for r in await books[0].relreview_set.all()] == [5, 3]
    assert queries.count == 0


async def test_prefetch_by_default_accessor_name(lib: Library) -> None:
    await lib.dune.relreview_set.create(stars=5)
    books = await RelBook.objects.filter(title="Dune").prefetch_related("relreview_set")
    assert [r.stars for r in await books[0].relreview_set.all()] == [5]


async def test_to_field(lib: Library) -> None:
    label = await RelLabel.objects.create(tag=lib.scifi, text="Science fiction")
    await RelLabel.objects.create(tag=lib.scifi, text="Sci-fi")
    await RelLabel.objects.create(tag=lib.space, text="Space opera")
    assert label.tag_id == "scifi"  # the target's name, not its pk
    fresh = await RelLabel.objects.get(pk=label.pk)
    assert fresh.tag_id == "scifi"
    assert names_of_labels(await RelLabel.objects.filter(tag_id="scifi")) == [
        "Sci-fi",
        "Science fiction",
    ]
    assert names_of_labels(await RelLabel.objects.filter(tag__name="space")) == ["Space opera"]
    assert names_of_labels(await RelLabel.objects.filter(tag__name__startswith="sc")) == [
        "Sci-fi",
        "Science fiction",
    ]
    assert names(await RelTag.objects.filter(labels__text="Sci-fi")) == ["scifi"]
    assert [x.text for x in await lib.scifi.labels.all()] == ["Sci-fi", "Science fiction"]
    selected = await RelLabel.objects.select_related("tag").filter(text="Sci-fi")
    assert selected[0].tag == lib.scifi and selected[0].tag.name == "scifi"
    fetched = await RelLabel.objects.prefetch_related("tag").order_by("text")
    assert [x.tag.name for x in fetched] == ["scifi", "scifi", "space"]
    tags = await RelTag.objects.prefetch_related("labels")
    async with count_queries() as queries:
        got = {t.name: names_of_labels(await t.labels.all()) for t in tags}
    assert queries.count == 0
    assert got == {"classic": [], "scifi": ["Sci-fi", "Science fiction"], "space": ["Space opera"]}
    await label.fetch_related("tag")
    assert label.tag.pk == lib.scifi.pk


def names_of_labels(labels: list[RelLabel]) -> list[str]:
    return [x.text for x in labels]


async def test_to_field_filter_by_instance_and_pk(lib: Library) -> None:
    await RelLabel.objects.create(tag=lib.scifi, text="Sci-fi")
    await RelLabel.objects.create(tag=lib.space, text="Space opera")
    assert names_of_labels(await RelLabel.objects.filter(tag=lib.scifi)) == ["Sci-fi"]
    assert names_of_labels(await RelLabel.objects.filter(tag__in=[lib.space])) == ["Space opera"]
    assert names_of_labels(await RelLabel.objects.filter(tag__pk=lib.space.pk)) == ["Space opera"]


async def test_one_to_one(lib: Library) -> None:
    profile = await RelProfile.objects.create(author=lib.ann, bio="writes")
    assert profile.author_id == lib.ann.pk
    with pytest.raises(IntegrityError):
        await RelProfile.objects.create(author=lib.ann, bio="twice")
    ann = await RelAuthor.objects.get(name="Ann")
    with pytest.raises(RelationNotLoaded, match=r"prefetch_related\('profile'\)"):
        ann.profile  # noqa: B018
    await ann.fetch_related("profile")
    assert ann.profile == profile and ann.profile.bio == "writes"
    authors = await RelAuthor.objects.prefetch_related("profile")
    assert [(a.name, a.profile and a.profile.bio) for a in authors] == [
        ("Ann", "writes"),
        ("Bob", None),
        ("Cid", None),
    ]
    loaded = await RelProfile.objects.select_related("author").get(pk=profile.pk)
    assert loaded.author.name == "Ann"
    assert names(await RelAuthor.objects.filter(profile__bio="writes")) == ["Ann"]
    assert names(await RelAuthor.objects.filter(profile__isnull=True)) == ["Bob", "Cid"]


async def test_self_reference(categories: None) -> None:
    root = await RelCategory.objects.create(name="root")
    books = await RelCategory.objects.create(name="books", parent=root)
    music = await RelCategory.objects.create(name="music", parent=root)
    await RelCategory.objects.create(name="novels", parent=books)
    await RelCategory.objects.create(name="poetry", parent=books)
    assert names(await root.children.all()) == ["books", "music"]
    assert names(await RelCategory.objects.filter(parent=None)) == ["root"]
    assert names(await RelCategory.objects.filter(parent__name="books")) == ["novels", "poetry"]
    assert names(await RelCategory.objects.filter(parent__parent=root)) == ["novels", "poetry"]
    assert names(await RelCategory.objects.filter(children__name="poetry")) == ["books"]
    assert names(await RelCategory.objects.filter(children__children__name="novels")) == ["root"]
    leaves = await RelCategory.objects.select_related("parent__parent").filter(
        parent__parent__isnull=False
    )
    assert [(c.name, c.parent.name, c.parent.parent.name) for c in leaves] == [
        ("novels", "books", "root"),
        ("poetry", "books", "root"),
    ]
    top = await RelCategory.objects.select_related("parent").get(name="root")
    assert top.parent is None
    (tree,) = await RelCategory.objects.filter(parent=None).prefetch_related("children__children")
    async with count_queries() as queries:
        shape = {
            child.name: names(await child.children.all()) for child in await tree.children.all()
        }
    assert queries.count == 0
    assert shape == {"books": ["novels", "poetry"], "music": []}
    assert await music.children.count() == 0


# -- many-to-many ---------------------------------------------------------------------------------


async def test_m2m_manager(lib: Library) -> None:
    book = await RelBook.objects.create(title="Solaris", author=lib.bob)
    assert await book.tags.all() == []
    await book.tags.add(lib.scifi)
    await book.tags.add(lib.scifi, lib.space)  # existing links are left alone
    assert names(await book.tags.all()) == ["scifi", "space"]
    assert await book.tags.count() == 2
    through = RelBook.tags.through
    assert await through.objects.filter(relbook=book).count() == 2
    await book.tags.add(lib.classic.pk)  # a raw pk works too
    assert names(await book.tags.filter(name__startswith="s")) == ["scifi", "space"]
    await book.tags.remove(lib.scifi, lib.classic)
    assert names(await book.tags.all()) == ["space"]
    await book.tags.set([lib.classic, lib.space])
    assert names(await book.tags.all()) == ["classic", "space"]
    await book.tags.set([])
    assert await book.tags.count() == 0
    await book.tags.set([lib.scifi])
    await book.tags.clear()
    assert not await book.tags.exists()
    # the reverse side
    assert names(await lib.scifi.books.all()) == ["Dune", "Foundation"]
    await lib.scifi.books.add(book)
    assert names(await book.tags.all()) == ["scifi"]
    assert names(await lib.scifi.books.all()) == ["Dune", "Foundation", "Solaris"]
    await lib.scifi.books.remove(lib.dune)
    assert names(await lib.dune.tags.all()) == ["classic"]
    created = await book.tags.create(name="new")
    assert created.pk is not None and names(await book.tags.all()) == ["new", "scifi"]
    # other books' links were never touched
    assert names(await lib.foundation.tags.all()) == ["scifi", "space"]


async def test_m2m_explicit_through(db: str) -> None:
    chess = await RelClub.objects.create(name="Chess")
    go = await RelClub.objects.create(name="Go")
    ann = await RelMember.objects.create(name="Ann")
    bob = await RelMember.objects.create(name="Bob")
    await RelMembership.objects.create(club=chess, member=ann, role="admin")
    await RelMembership.objects.create(club=chess, member=bob)
    await RelMembership.objects.create(club=go, member=ann)
    assert names(await chess.members.all()) == ["Ann", "Bob"]
    assert names(await ann.clubs.all()) == ["Chess", "Go"]
    roles = await RelMembership.objects.filter(club=chess).order_by("member__name")
    assert [m.role for m in roles] == ["admin", "member"]
    assert names(await RelMember.objects.filter(memberships__role="admin")) == ["Ann"]
    assert names(await RelClub.objects.filter(members__name="Bob")) == ["Chess"]
    assert names(await RelClub.objects.filter(memberships__member__name="Ann")) == ["Chess", "Go"]
    clubs = await RelClub.objects.prefetch_related("members")
    async with count_queries() as queries:
        assert [names(await c.members.all()) for c in clubs] == [["Ann", "Bob"], ["Ann"]]
    assert queries.count == 0
    await chess.members.remove(ann)
    assert names(await chess.members.all()) == ["Bob"]
    await go.members.clear()
    assert await RelMembership.objects.count() == 1
    await bob.clubs.clear()
    assert await RelMembership.objects.count() == 0


async def test_m2m_explicit_through_add_uses_defaults(db: str) -> None:
    chess = await RelClub.objects.create(name="Chess")
    bob = await RelMember.objects.create(name="Bob")
    await chess.members.add(bob)
    (membership,) = await RelMembership.objects.filter(club=chess)
    assert membership.role == "member" and membership.member_id == bob.pk


async def test_m2m_bad_input(lib: Library) -> None:
    book = RelBook(title="Unsaved", author=lib.ann)
    with pytest.raises(ValueError, match="save"):
        await book.tags.add(lib.scifi)
    with pytest.raises(ValueError, match="save"):
        await book.tags.all()
    with pytest.raises(ValueError, match="save"):
        await book.tags.count()
    with pytest.raises(ValueError, match="save"):
        await book.tags.clear()
    with pytest.raises(ValueError, match="save"):
        await lib.dune.tags.add(RelTag(name="unsaved"))
    assert await lib.dune.tags.count() == 2


async def test_reverse_manager_of_unsaved_instance(db: str) -> None:
    author = RelAuthor(name="Unsaved")
    with pytest.raises(ValueError, match="save"):
        await author.books.all()
    with pytest.raises(ValueError, match="save"):
        await author.books.filter(title="x")
    with pytest.raises(ValueError, match="save"):
        await author.books.count()
    with pytest.raises(ValueError, match="save"):
        await author.books.exists()
    tag = RelTag(name="unsaved")
    with pytest.raises(ValueError, match="save"):
        await tag.books.all()


async def test_reverse_manager_create_of_unsaved_instance(db: str) -> None:
    author = RelAuthor(name="Unsaved")
    with pytest.raises(ValueError, match="save"):
        await author.books.create(title="x")
    with pytest.raises(ValueError, match="save"):
        await author.books.get_or_create(title="x")


# -- lookups across relations --------------------------------------------------------------------


async def test_lookups_follow_relations(lib: Library) -> None:
    # forward, nested forward
    assert names(await RelBook.objects.filter(author__name="Bob")) == ["Foundation"]
    assert names(await RelBook.objects.filter(author__publisher__name="Orbit")) == ["Dune", "Emma"]
    assert names(await RelBook.objects.filter(author__publisher__isnull=True)) == []
    assert names(await RelAuthor.objects.filter(publisher__isnull=True)) == ["Cid"]
    assert names(await RelAuthor.objects.filter(publisher=None)) == ["Cid"]
    # backward
    assert names(await RelAuthor.objects.filter(books__price__lt=5)) == ["Ann"]
    assert names(await RelPublisher.objects.filter(authors__books__title="Foundation")) == ["Tor"]
    assert names(await RelAuthor.objects.filter(books__isnull=True)) == ["Cid"]
    assert names(await RelAuthor.objects.filter(books=lib.foundation)) == ["Bob"]
    # many-to-many, both ways
    assert names(await RelBook.objects.filter(tags__name="scifi")) == ["Dune", "Foundation"]
    assert names(await RelBook.objects.filter(tags=lib.space)) == ["Foundation"]
    assert names(await RelTag.objects.filter(books__author__name="Bob")) == ["scifi", "space"]
    assert names(await RelBook.objects.filter(tags__isnull=True)) == []
    # through several relations: books__tags__name
    assert names(await RelAuthor.objects.filter(books__tags__name="space")) == ["Bob"]
    # one row per match (Dune and Emma are both classic): distinct() is the user's call
    assert names(await RelPublisher.objects.filter(authors__books__tags__name="classic")) == [
        "Orbit",
        "Orbit",
    ]
    # Q objects across relations
    either = await RelBook.objects.filter(Q(author__name="Bob") | Q(price__lt=5))
    assert names(either) == ["Emma", "Foundation"]
    assert names(await RelBook.objects.filter(~Q(author__name="Ann"))) == ["Foundation"]


async def test_distinct_when_asked(lib: Library) -> None:
    dup = await RelAuthor.objects.filter(books__tags__name__in=["classic", "scifi"])
    assert names(dup) == ["Ann", "Ann", "Ann", "Bob"]  # one row per (book, tag) match
    once = await RelAuthor.objects.filter(books__tags__name__in=["classic", "scifi"]).distinct()
    assert names(once) == ["Ann", "Bob"]
    assert (
        await RelAuthor.objects.filter(books__tags__name__in=["classic", "scifi"])
        .distinct()
        .count()
        == 2
    )
    assert await RelTag.objects.filter(books__author=lib.ann).distinct().count() == 2


async def test_related_filter_then_manager_filter(lib: Library) -> None:
    assert names(await lib.ann.books.filter(tags__name="scifi")) == ["Dune"]
    assert names(await lib.scifi.books.filter(author__name="Bob")) == ["Foundation"]
    assert await lib.classic.books.filter(price__gt=5).count() == 1


async def test_exclude_across_forward_relation(lib: Library) -> None:
    kept = await RelBook.objects.exclude(author__name="Ann")
    assert names(kept) == ["Foundation"]


async def test_exclude_across_nullable_fk_keeps_nulls(lib: Library) -> None:
    assert names(await RelAuthor.objects.exclude(publisher__name="Orbit")) == ["Bob", "Cid"]


async def test_exclude_across_reverse_relation(lib: Library) -> None:
    # "authors who have no book titled Dune": Bob and Cid (no books at all)
    assert names(await RelAuthor.objects.exclude(books__title="Dune")) == ["Bob", "Cid"]
    # Ann has a classic book that is not Dune: still excluded
    assert names(await RelAuthor.objects.exclude(books__tags__name="classic")) == ["Bob", "Cid"]
    assert names(await RelTag.objects.exclude(books__author=lib.bob)) == ["classic"]
    assert names(await RelBook.objects.exclude(tags__name="scifi")) == ["Emma"]


async def test_chained_filters_over_multi_valued_relation(lib: Library) -> None:
    both = RelAuthor.objects.filter(books__title="Dune").filter(books__title="Emma")
    assert names(await both) == ["Ann"]


# -- select_related / prefetch_related / fetch_related ------------------------------------------


async def test_select_related_is_one_query(lib: Library) -> None:
    async with count_queries() as queries:
        books = await RelBook.objects.select_related("author")
    assert queries.count == 1 and "JOIN" in queries.statements[0]
    assert [(b.title, b.author.name) for b in books] == [
        ("Dune", "Ann"),
        ("Emma", "Ann"),
        ("Foundation", "Bob"),
    ]
    assert books[0].author == lib.ann and books[0].author_id == lib.ann.pk
    # attribute access never does I/O: the author's publisher was not selected
    with pytest.raises(RelationNotLoaded, match=r"select_related\('publisher'\)"):
        books[0].author.publisher  # noqa: B018


async def test_select_related_nested_and_nullable(lib: Library) -> None:
    await RelBook.objects.create(title="Zine", author=lib.cid)
    async with count_queries() as queries:
        books = await RelBook.objects.select_related("author__publisher").filter(price__gte=0)
        authors = await RelAuthor.objects.select_related("publisher")
    assert queries.count == 2
    assert [
        (b.title, b.author.name, b.author.publisher and b.author.publisher.name) for b in books
    ] == [
        ("Dune", "Ann", "Orbit"),
        ("Emma", "Ann", "Orbit"),
        ("Foundation", "Bob", "Tor"),
        ("Zine", "Cid", None),
    ]
    assert [(a.name, a.publisher and a.publisher.name) for a in authors] == [
        ("Ann", "Orbit"),
        ("Bob", "Tor"),
        ("Cid", None),
    ]
    # select_related composes with filter, order_by over the same path, slicing, get
    top = await RelBook.objects.select_related("author").order_by("-author__name", "title")[:1]
    assert [(b.title, b.author.name) for b in top] == [("Zine", "Cid")]
    one = await RelBook.objects.select_related("author").get(title="Emma")
    assert one.author.name == "Ann"
    several = await RelBook.objects.select_related("author", "author__publisher").filter(
        author__publisher__name="Tor"
    )
    assert [(b.title, b.author.publisher.name) for b in several] == [("Foundation", "Tor")]


async def test_prefetch_related_query_counts(lib: Library) -> None:
    async with count_queries() as queries:
        books = await RelBook.objects.prefetch_related("tags")
    assert queries.count == 2  # the books + one IN query for all their tags
    assert " IN " in queries.statements[1].upper() and "JOIN" in queries.statements[1].upper()
    async with count_queries() as queries:
        got = {b.title: names(await b.tags.all()) for b in books}
        counts = [await b.tags.count() for b in books]
        exists = [await b.tags.exists() for b in books]
    assert queries.count == 0
    assert got == {
        "Dune": ["classic", "scifi"],
        "Emma": ["classic"],
        "Foundation": ["scifi", "space"],
    }
    assert counts == [2, 1, 2] and exists == [True, True, True]
    # a builder call on the manager is a new query
    async with count_queries() as queries:
        assert names(await books[0].tags.filter(name="scifi")) == ["scifi"]
    assert queries.count == 1

    async with count_queries() as queries:
        authors = await RelAuthor.objects.prefetch_related("books", "profile")
    assert queries.count == 3
    async with count_queries() as queries:
        got = {a.name: names(await a.books.all()) for a in authors}
        assert [await a.books.count() for a in authors] == [2, 1, 0]
        # the reverse side is set on the prefetched books
        assert authors[0].books and (await authors[0].books.all())[0].author is authors[0]
        assert [a.profile for a in authors] == [None, None, None]
    assert queries.count == 0
    assert got == {"Ann": ["Dune", "Emma"], "Bob": ["Foundation"], "Cid": []}
    # a builder on a prefetched reverse manager keeps the relation's condition
    async with count_queries() as queries:
        assert names(await authors[0].books.filter(title__startswith="D")) == ["Dune"]
        assert names(await authors[1].books.exclude(title="x")) == ["Foundation"]
        assert await authors[2].books.all().filter(title__startswith="").count() == 0
    assert queries.count == 3

    # the reverse many-to-many side
    async with count_queries() as queries:
        tags = await RelTag.objects.prefetch_related("books")
        got = {t.name: names(await t.books.all()) for t in tags}
    assert queries.count == 2
    assert got == {
        "classic": ["Dune", "Emma"],
        "scifi": ["Dune", "Foundation"],
        "space": ["Foundation"],
    }


async def test_prefetched_reverse_manager_builds_its_query_on_demand(lib: Library) -> None:
    authors = await RelAuthor.objects.order_by("name").prefetch_related("books")
    ann, bob, cid = authors
    qs = ann.books.all()
    assert isinstance(qs, QuerySet) and qs.model is RelBook
    async with count_queries() as queries:
        assert names([b async for b in qs]) == ["Dune", "Emma"]
        assert names(await qs.all()) == ["Dune", "Emma"]
        assert await qs.count() == 2 and await qs.exists()
        assert await cid.books.count() == 0 and not await cid.books.exists()
        assert (await qs)[0].author is ann
    assert queries.count == 0
    # anything but reading the rows works on the relation's real QuerySet
    assert f"{RelBook._meta.table.name}.author_id" in qs.sql()
    async with count_queries() as queries:
        assert names(await qs.order_by("-title")) == ["Emma", "Dune"]
        assert await qs.values_list("title", flat=True).order_by("title") == ["Dune", "Emma"]
        assert (await qs.get(title="Emma")).title == "Emma"
        assert (await bob.books.all().filter(price__gte=0).first()).title == "Foundation"
        assert await cid.books.filter(title="Dune").count() == 0
    assert queries.count == 5


async def test_prefetch_nested_and_forward(lib: Library) -> None:
    async with count_queries() as queries:
        authors = await RelAuthor.objects.prefetch_related("books__tags", "publisher")
    assert queries.count == 4  # authors, books, tags, publishers
    async with count_queries() as queries:
        shape = {
            a.name: (
                a.publisher and a.publisher.name,
                {b.title: names(await b.tags.all()) for b in await a.books.all()},
            )
            for a in authors
        }
    assert queries.count == 0
    assert shape == {
        "Ann": ("Orbit", {"Dune": ["classic", "scifi"], "Emma": ["classic"]}),
        "Bob": ("Tor", {"Foundation": ["scifi", "space"]}),
        "Cid": (None, {}),
    }
    # forward nested: books -> author -> publisher
    async with count_queries() as queries:
        books = await RelBook.objects.prefetch_related("author__publisher")
    assert queries.count == 3
    assert [b.author.publisher.name for b in books] == ["Orbit", "Orbit", "Tor"]
    # select_related and prefetch_related together
    async with count_queries() as queries:
        books = await RelBook.objects.select_related("author").prefetch_related("tags")
        pairs = [(b.author.name, names(await b.tags.all())) for b in books]
    assert queries.count == 2
    assert pairs[2] == ("Bob", ["scifi", "space"])
    # a relation already loaded is reused, not fetched again
    async with count_queries() as queries:
        books = await RelBook.objects.select_related("author").prefetch_related("author__publisher")
    assert queries.count == 2
    assert [b.author.publisher.name for b in books] == ["Orbit", "Orbit", "Tor"]
    async with count_queries() as queries:
        authors = await RelAuthor.objects.prefetch_related("books", "books__tags")
    assert queries.count == 3
    assert [len(await a.books.all()) for a in authors] == [2, 1, 0]


async def test_prefetch_with_queryset(lib: Library) -> None:
    async with count_queries() as queries:
        authors = await RelAuthor.objects.prefetch_related(
            Prefetch("books", queryset=RelBook.objects.filter(price__gt=5).order_by("-price"))
        )
    assert queries.count == 2
    assert {a.name: names(await a.books.all()) for a in authors} == {
        "Ann": ["Dune"],
        "Bob": ["Foundation"],
        "Cid": [],
    }
    books = await RelBook.objects.prefetch_related(
        Prefetch("tags", queryset=RelTag.objects.exclude(name="classic"))
    )
    assert [names(await b.tags.all()) for b in books] == [["scifi"], [], ["scifi", "space"]]
    # nested, with the queryset applying to the last step
    authors = await RelAuthor.objects.filter(name="Ann").prefetch_related(
        Prefetch("books__tags", queryset=RelTag.objects.filter(name="scifi"))
    )
    assert {b.title: names(await b.tags.all()) for b in await authors[0].books.all()} == {
        "Dune": ["scifi"],
        "Emma": [],
    }
    with pytest.raises(FieldError, match="RelTag"):
        RelAuthor.objects.prefetch_related(Prefetch("books", queryset=RelTag.objects.all()))


async def test_prefetched_manager_forgets_after_change(lib: Library) -> None:
    (book,) = await RelBook.objects.filter(title="Emma").prefetch_related("tags")
    assert names(await book.tags.all()) == ["classic"]
    await book.tags.add(lib.space)
    async with count_queries() as queries:
        assert names(await book.tags.all()) == ["classic", "space"]
    assert queries.count == 1


async def test_fetch_related_on_instances(lib: Library) -> None:
    book = await RelBook.objects.get(title="Foundation")
    async with count_queries() as queries:
        await book.fetch_related("author", "tags")
    assert queries.count == 2
    async with count_queries() as queries:
        assert book.author.name == "Bob"
        assert names(await book.tags.all()) == ["scifi", "space"]
    assert queries.count == 0
    author = await RelAuthor.objects.get(name="Ann")
    await author.fetch_related("books__tags", "publisher")
    assert author.publisher.name == "Orbit"
    async with count_queries() as queries:
        assert {b.title: names(await b.tags.all()) for b in await author.books.all()} == {
            "Dune": ["classic", "scifi"],
            "Emma": ["classic"],
        }
    assert queries.count == 0
    cid = await RelAuthor.objects.get(name="Cid")
    await cid.fetch_related("publisher", "books")
    assert cid.publisher is None and await cid.books.all() == []
    with pytest.raises(FieldError, match="choices"):
        await cid.fetch_related("nope")


async def test_iterator_with_prefetch(lib: Library) -> None:
    seen = [
        (b.title, names(await b.tags.all()))
        async for b in RelBook.objects.prefetch_related("tags").iterator(chunk_size=2)
    ]
    assert seen == [
        ("Dune", ["classic", "scifi"]),
        ("Emma", ["classic"]),
        ("Foundation", ["scifi", "space"]),
    ]


# -- annotate / aggregate / values over relations ----------------------------------------------


async def test_annotate_aggregates_over_relations(lib: Library) -> None:
    rows = await RelAuthor.objects.annotate(
        n=Count("books"),
        total=Sum("books__price"),
        avg=Avg("books__price"),
        top=Max("books__price"),
    ).order_by("name")
    assert [(a.name, a.n, a.total, a.avg, a.top) for a in rows] == [
        ("Ann", 2, Decimal("13.50"), Decimal("6.75"), Decimal("10.00")),
        ("Bob", 1, Decimal("8.00"), Decimal("8.00"), Decimal("8.00")),
        ("Cid", 0, None, None, None),
    ]
    assert rows[0].publisher_id == lib.orbit.pk  # the model's own columns are all there
    # filter() on an annotation is HAVING; on a field it stays WHERE
    with_books = RelAuthor.objects.annotate(n=Count("books")).order_by("name")
    assert names(await with_books.filter(n__gte=1)) == ["Ann", "Bob"]
    assert names(await with_books.filter(n__gte=1, name__startswith="B")) == ["Bob"]
    assert names(await with_books.exclude(n=0)) == ["Ann", "Bob"]
    ranked = await RelAuthor.objects.annotate(n=Count("books")).order_by("-n", "name")
    assert [(a.name, a.n) for a in ranked] == [("Ann", 2), ("Bob", 1), ("Cid", 0)]
    assert await RelAuthor.objects.annotate(n=Count("books")).filter(n__gt=0).count() == 2
    # aggregate filter= across the relation
    rows = await RelAuthor.objects.annotate(
        dear=Count("books", filter=Q(books__price__gte=5)),
        cheap=Sum("books__price", filter=Q(books__price__lt=5)),
    ).order_by("name")
    assert [(a.name, a.dear, a.cheap) for a in rows] == [
        ("Ann", 1, Decimal("3.50")),
        ("Bob", 1, None),
        ("Cid", 0, None),
    ]


async def test_annotate_over_many_to_many(lib: Library) -> None:
    books = await RelBook.objects.annotate(n=Count("tags")).order_by("title")
    assert [(b.title, b.n) for b in books] == [("Dune", 2), ("Emma", 1), ("Foundation", 2)]
    tags = await RelTag.objects.annotate(n=Count("books"), total=Sum("books__price")).order_by(
        "name"
    )
    assert [(t.name, t.n, t.total) for t in tags] == [
        ("classic", 2, Decimal("13.50")),
        ("scifi", 2, Decimal("18.00")),
        ("space", 1, Decimal("8.00")),
    ]
    authors = await RelAuthor.objects.annotate(
        tags=Count("books__tags", distinct=True), links=Count("books__tags")
    ).order_by("name")
    assert [(a.name, a.tags, a.links) for a in authors] == [
        ("Ann", 2, 3),
        ("Bob", 2, 2),
        ("Cid", 0, 0),
    ]
    popular = await RelTag.objects.annotate(n=Count("books")).filter(n__gt=1).order_by("name")
    assert names(popular) == ["classic", "scifi"]
    # annotate then prefetch: the aggregate and the prefetched rows are both there
    tagged = (
        await RelTag.objects.annotate(n=Count("books")).order_by("name").prefetch_related("books")
    )
    assert [(t.name, t.n, len(await t.books.all())) for t in tagged] == [
        ("classic", 2, 2),
        ("scifi", 2, 2),
        ("space", 1, 1),
    ]


async def test_annotate_with_select_related(lib: Library) -> None:
    authors = (
        await RelAuthor.objects.select_related("publisher")
        .annotate(n=Count("books"))
        .order_by("name")
    )
    assert [(a.name, a.publisher and a.publisher.name, a.n) for a in authors] == [
        ("Ann", "Orbit", 2),
        ("Bob", "Tor", 1),
        ("Cid", None, 0),
    ]


async def test_values_group_by_relation_path(lib: Library) -> None:
    per_author = await (
        RelBook.objects.values("author__name")
        .annotate(n=Count("id"), total=Sum("price"))
        .order_by("author__name")
    )
    assert per_author == [
        {"author__name": "Ann", "n": 2, "total": Decimal("13.50")},
        {"author__name": "Bob", "n": 1, "total": Decimal("8.00")},
    ]
    per_publisher = await (
        RelAuthor.objects.values("publisher__name").annotate(n=Count("books")).order_by("-n")
    )
    assert per_publisher == [
        {"publisher__name": "Orbit", "n": 2},
        {"publisher__name": "Tor", "n": 1},
        {"publisher__name": None, "n": 0},
    ]
    per_tag = await (
        RelBook.objects.values("tags__name")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("tags__name")
    )
    assert per_tag == [{"tags__name": "classic", "n": 2}, {"tags__name": "scifi", "n": 2}]


async def test_values_values_list_order_by_paths(lib: Library) -> None:
    rows = await RelBook.objects.values(
        "title", "author__name", "author__publisher__name"
    ).order_by("-author__publisher__name", "title")
    assert rows == [
        {"title": "Foundation", "author__name": "Bob", "author__publisher__name": "Tor"},
        {"title": "Dune", "author__name": "Ann", "author__publisher__name": "Orbit"},
        {"title": "Emma", "author__name": "Ann", "author__publisher__name": "Orbit"},
    ]
    assert await RelBook.objects.values_list("author__name", flat=True).order_by(
        "author__name"
    ).distinct() == ["Ann", "Bob"]
    assert await RelBook.objects.order_by("author__name", "-price").values_list(
        "title", "author_id"
    ) == [("Dune", lib.ann.pk), ("Emma", lib.ann.pk), ("Foundation", lib.bob.pk)]
    named = await RelBook.objects.filter(title="Dune").values_list(
        "title", "author__publisher__name", named=True
    )
    assert named[0].title == "Dune"
    assert await RelAuthor.objects.values_list("books__title", flat=True).order_by(
        "name", "books__title"
    ) == ["Dune", "Emma", "Foundation", None]
    assert names(await RelBook.objects.order_by("author__publisher__name", "-title")) == [
        "Emma",
        "Dune",
        "Foundation",
    ]
    assert await RelBook.objects.filter(author__name="Ann").values("author") == [
        {"author": lib.ann.pk},
        {"author": lib.ann.pk},
    ]


async def test_queryset_as_value_across_relations(lib: Library) -> None:
    orbit_authors = RelAuthor.objects.filter(publisher__name="Orbit")
    assert names(await RelBook.objects.filter(author__in=orbit_authors)) == ["Dune", "Emma"]
    assert await RelBook.objects.filter(author__in=orbit_authors).update(price=1) == 2
    assert await RelBook.objects.filter(author__publisher=lib.orbit).aggregate(s=Sum("price")) == {
        "s": Decimal("2.00")
    }
    assert await RelBook.objects.filter(author__publisher__name="Tor").update(price=2) == 1
    assert (await RelBook.objects.get(title="Foundation")).price == Decimal("2.00")


# -- bad input --------------------------------------------------------------------------------------


async def test_unknown_relation_paths(lib: Library) -> None:
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*author.*tags") as info:
        RelBook.objects.filter(nope__name="x")
    assert "RelBook" in str(info.value)
    with pytest.raises(FieldError, match=r"'nope'.*RelAuthor.*choices:.*name.*publisher.*books"):
        RelAuthor.objects.filter(nope__name="x")
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*author"):
        RelBook.objects.select_related("nope")
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*publisher"):
        RelBook.objects.select_related("author__nope")
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*author.*tags"):
        RelBook.objects.prefetch_related("nope")
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*books"):
        RelBook.objects.prefetch_related("author__nope")
    with pytest.raises(FieldError, match=r"'nope'"):
        RelBook.objects.values("author__nope")
    with pytest.raises(FieldError, match=r"'nope'"):
        RelBook.objects.order_by("author__nope")
    with pytest.raises(FieldError, match=r"'nope'"):
        RelAuthor.objects.annotate(n=Count("books__nope"))
    with pytest.raises(FieldError):
        RelBook.objects.filter(author__name__nope="x")


async def test_unknown_name_after_a_relation_names_the_target_fields(lib: Library) -> None:
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*name.*publisher.*books"):
        RelBook.objects.filter(author__nope="x")
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*title.*author.*tags"):
        RelAuthor.objects.filter(books__nope="x")
    with pytest.raises(FieldError, match=r"'nope'.*choices:.*name.*books"):
        RelBook.objects.filter(tags__nope="x")


async def test_select_related_refuses_reverse_and_m2m(lib: Library) -> None:
    with pytest.raises(FieldError, match=r"'books'.*choices: publisher"):
        RelAuthor.objects.select_related("books")
    with pytest.raises(FieldError, match=r"'profile'"):
        RelAuthor.objects.select_related("profile")
    with pytest.raises(FieldError, match=r"'tags'.*choices: author"):
        RelBook.objects.select_related("tags")
    with pytest.raises(FieldError, match=r"'children'"):
        RelCategory.objects.select_related("children")


async def test_relation_not_loaded_names_the_fix(lib: Library) -> None:
    book = await RelBook.objects.get(title="Dune")
    with pytest.raises(RelationNotLoaded) as info:
        book.author  # noqa: B018
    message = str(info.value)
    assert "RelBook.author" in message
    assert "select_related('author')" in message and "fetch_related('author')" in message
    author = await RelAuthor.objects.get(name="Ann")
    with pytest.raises(RelationNotLoaded, match=r"RelAuthor\.profile"):
        author.profile  # noqa: B018
    # loading one relation does not load another
    await book.fetch_related("tags")
    with pytest.raises(RelationNotLoaded):
        book.author  # noqa: B018


# -- model definition ------------------------------------------------------------------------------


def test_explicit_through_defined_after_its_model() -> None:
    tables = set(metadata.tables)
    before = set(registry)
    try:

        class RelXPerson(Model):
            name = fields.CharField(max_length=10)

            class Meta:
                app_label = "relx"
                table = "relx_people"

        class RelXGroup(Model):
            members = fields.ManyToManyField(RelXPerson, through="RelXMembership")

            class Meta:
                app_label = "relx"
                table = "relx_groups"

        class RelXMembership(Model):
            person = fields.ForeignKey(RelXPerson, on_delete=fields.CASCADE)
            group = fields.ForeignKey(RelXGroup, on_delete=fields.CASCADE)

            class Meta:
                app_label = "relx"
                table = "relx_memberships"

        assert RelXGroup._meta.get_field("members").through is RelXMembership
    finally:
        for model in set(registry) - before:
            registry.unregister(model)
        for name in set(metadata.tables) - tables:
            metadata.remove(metadata.tables[name])
