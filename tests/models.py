"""Models shared by the integration tests (app label ``tests``)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from flash_db import CheckConstraint, Index, Model, Q, QuerySet, fields
from flash_db.exceptions import ValidationError


class Author(Model):
    name = fields.CharField(max_length=100, unique=True)
    email = fields.CharField(max_length=254, null=True)
    active = fields.BooleanField(default=True)
    joined = fields.DateTimeField(auto_now_add=True)

    class Meta:
        table = "authors"
        ordering = ["name"]

    def clean(self) -> None:
        if self.name.lower() == "admin":
            raise ValidationError({"name": "reserved name"})


class BookQuerySet(QuerySet):
    def cheap(self) -> BookQuerySet:
        return self.filter(price__lt=5)


class Book(Model):
    title = fields.CharField(max_length=200, db_index=True)
    author_name = fields.CharField(max_length=100, null=True)
    price = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    published = fields.DateField(null=True)
    pages = fields.IntegerField(null=True)

    objects = BookQuerySet.as_manager()

    class Meta:
        table = "books"
        indexes = [Index(fields=["author_name", "-price"])]
        constraints = [CheckConstraint(Q(price__gte=0), name="price_nonneg")]


class Status(enum.Enum):
    DRAFT = "draft"
    LIVE = "live"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class TimestampedBase(Model):
    created = fields.DateTimeField(auto_now_add=True)
    updated = fields.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class Everything(TimestampedBase):
    """One column of every scalar field type."""

    small = fields.SmallIntegerField(default=0)
    big = fields.BigIntegerField(default=0)
    ratio = fields.FloatField(null=True)
    amount = fields.DecimalField(max_digits=10, decimal_places=3, null=True)
    text = fields.TextField(default="")
    flag = fields.BooleanField(null=True)
    day = fields.DateField(null=True)
    naive = fields.DateTimeField(null=True, timezone=False)
    at = fields.TimeField(null=True)
    span = fields.DurationField(null=True)
    uid = fields.UUIDField(default=uuid.uuid4)
    data = fields.JSONField(null=True)
    blob = fields.BinaryField(null=True)
    status = fields.EnumField(Status, default=Status.DRAFT)
    priority = fields.EnumField(Priority, null=True)
    code = fields.CharField(max_length=5, choices=[("a", "A"), ("b", "B")], null=True)
    level = fields.IntegerField(null=True, min_value=0, max_value=10)

    class Meta:
        table = "everything"


class Tag(Model):
    """A model with a non-integer primary key."""

    slug = fields.CharField(max_length=50, primary_key=True)
    label = fields.CharField(max_length=50, db_column="label_text")

    class Meta:
        table = "tags"


class Counter(Model):
    """Server-side default read back after INSERT."""

    name = fields.CharField(max_length=20)
    hits = fields.IntegerField(db_default=7)
    seen = fields.DateTimeField(db_default=__import__("flash_db").Now())
    key = fields.UUIDField(primary_key=True, default=uuid.uuid4)

    class Meta:
        table = "counters"


class Stamp(Model):
    """An auto pk beside a column the database fills in: both are read back."""

    label = fields.CharField(max_length=20)
    level = fields.IntegerField(db_default=3)

    class Meta:
        table = "stamps"


class Pair(Model):
    left = fields.IntegerField()
    right = fields.IntegerField()

    class Meta:
        table = "pairs"
        unique_together = [("left", "right")]


class Event(Model):
    """Lives on the 'other' database when the test configures one."""

    title = fields.CharField(max_length=50)
    when = fields.DateTimeField(default=lambda: dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))

    class Meta:
        table = "events"
        database = "other"


# -- relations (tests/integration/test_relations.py, test_deletion.py; tables rel_*) ---------
#
# Mind the definition order: the ``db`` fixture empties models in reverse
# registry (definition) order, so a model whose rows must go first (PROTECT,
# RESTRICT, SET_DEFAULT, DO_NOTHING children) is defined after its target.


class RelPublisher(Model):
    name = fields.CharField(max_length=50, unique=True)

    class Meta:
        table = "rel_publishers"
        ordering = ["name"]


class RelAuthor(Model):
    name = fields.CharField(max_length=100, unique=True)
    publisher = fields.ForeignKey(
        RelPublisher, on_delete=fields.SET_NULL, null=True, related_name="authors"
    )

    class Meta:
        table = "rel_authors"
        ordering = ["name"]


class RelBook(Model):
    title = fields.CharField(max_length=200)
    author = fields.ForeignKey(RelAuthor, related_name="books", on_delete=fields.CASCADE)
    price = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    # a lazy reference: RelTag is defined below
    tags = fields.ManyToManyField("RelTag", related_name="books")
    published = fields.DateField(null=True)

    class Meta:
        table = "rel_books"
        ordering = ["title"]


class RelTag(Model):
    name = fields.CharField(max_length=50, unique=True)

    class Meta:
        table = "rel_tags"
        ordering = ["name"]


class RelProfile(Model):
    author = fields.OneToOneField(RelAuthor, on_delete=fields.CASCADE, related_name="profile")
    bio = fields.TextField(default="")

    class Meta:
        table = "rel_profiles"


class RelReview(Model):
    """No related_name: the reverse accessor is ``book.relreview_set``, lookups say ``relreview``."""

    book = fields.ForeignKey("tests.RelBook", on_delete=fields.CASCADE)
    stars = fields.IntegerField()

    class Meta:
        table = "rel_reviews"
        ordering = ["id"]


class RelLabel(Model):
    """A foreign key to a unique non-pk column (``to_field``)."""

    tag = fields.ForeignKey(
        RelTag, to_field="name", on_delete=fields.CASCADE, related_name="labels"
    )
    text = fields.CharField(max_length=50)

    class Meta:
        table = "rel_labels"
        ordering = ["text"]


class RelCategory(Model):
    name = fields.CharField(max_length=50)
    parent = fields.ForeignKey("self", on_delete=fields.CASCADE, null=True, related_name="children")

    class Meta:
        table = "rel_categories"
        ordering = ["name"]


# An explicit through model, in Django's order: defined after the model whose
# ManyToManyField names it with a string.
class RelMember(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_members"
        ordering = ["name"]


class RelClub(Model):
    name = fields.CharField(max_length=50)
    members = fields.ManyToManyField(RelMember, through="RelMembership", related_name="clubs")

    class Meta:
        table = "rel_clubs"
        ordering = ["name"]


class RelMembership(Model):
    club = fields.ForeignKey(RelClub, on_delete=fields.CASCADE, related_name="memberships")
    # a dotted lazy reference ("app.Model"), resolved at once: RelMember exists
    member = fields.ForeignKey(
        "tests.RelMember", on_delete=fields.CASCADE, related_name="memberships"
    )
    role = fields.CharField(max_length=20, default="member")

    class Meta:
        table = "rel_memberships"
        unique_together = [("club", "member")]


# -- on_delete ---------------------------------------------------------------------------------


class RelArtist(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_artists"
        ordering = ["name"]


class RelAlbum(Model):
    artist = fields.ForeignKey(RelArtist, on_delete=fields.CASCADE, related_name="albums")
    title = fields.CharField(max_length=50)

    class Meta:
        table = "rel_albums"
        ordering = ["title"]


class RelSong(Model):
    album = fields.ForeignKey(RelAlbum, on_delete=fields.CASCADE, related_name="songs")
    # RESTRICT: an artist cannot be deleted while songs credit them, unless the
    # same delete removes those songs through a CASCADE (their album's artist)
    artist = fields.ForeignKey(RelArtist, on_delete=fields.RESTRICT, related_name="songs")
    title = fields.CharField(max_length=50)

    class Meta:
        table = "rel_songs"
        ordering = ["title"]


class RelLyric(Model):
    song = fields.ForeignKey(RelSong, on_delete=fields.CASCADE, related_name="lyrics")
    line = fields.CharField(max_length=100)

    class Meta:
        table = "rel_lyrics"


class RelRegion(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_regions"


class RelCustomer(Model):
    name = fields.CharField(max_length=50)
    region = fields.ForeignKey(
        RelRegion, on_delete=fields.CASCADE, null=True, related_name="customers"
    )

    class Meta:
        table = "rel_customers"


class RelOrder(Model):
    customer = fields.ForeignKey(RelCustomer, on_delete=fields.PROTECT, related_name="orders")
    total = fields.DecimalField(max_digits=8, decimal_places=2, default=0)

    class Meta:
        table = "rel_orders"


class RelOrderLine(Model):
    order = fields.ForeignKey(RelOrder, on_delete=fields.CASCADE, related_name="lines")
    qty = fields.IntegerField(default=1)

    class Meta:
        table = "rel_order_lines"


class RelQueue(Model):
    code = fields.CharField(max_length=20, unique=True)

    class Meta:
        table = "rel_queues"


class RelTicket(Model):
    """SET_DEFAULT through a to_field foreign key: tickets fall back to the "inbox" queue."""

    queue = fields.ForeignKey(
        RelQueue,
        to_field="code",
        on_delete=fields.SET_DEFAULT,
        default="inbox",
        related_name="tickets",
    )
    subject = fields.CharField(max_length=50)

    class Meta:
        table = "rel_tickets"


class RelOwner(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_owners"


class RelNote(Model):
    owner = fields.ForeignKey(RelOwner, on_delete=fields.DO_NOTHING, related_name="notes")
    text = fields.CharField(max_length=50)

    class Meta:
        table = "rel_notes"


class RelFolder(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_folders"


class RelFile(Model):
    folder = fields.ForeignKey(RelFolder, on_delete=fields.DB_CASCADE, related_name="files")
    shared_from = fields.ForeignKey(
        RelFolder, on_delete=fields.DB_SET_NULL, null=True, related_name="shared_files"
    )
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_files"


class RelLibrary(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        table = "rel_libraries"


class RelLoan(Model):
    """Defined before RelCopy (a lazy reference), so RelLibrary.loans is found before
    RelLibrary.copies when a library is deleted."""

    library = fields.ForeignKey(RelLibrary, on_delete=fields.CASCADE, related_name="loans")
    # a lazy dotted reference: RelCopy is defined below
    copy = fields.ForeignKey("tests.RelCopy", on_delete=fields.CASCADE, related_name="loans")

    class Meta:
        table = "rel_loans"


class RelCopy(Model):
    library = fields.ForeignKey(RelLibrary, on_delete=fields.CASCADE, related_name="copies")
    title = fields.CharField(max_length=50)

    class Meta:
        table = "rel_copies"


# -- transactions (tests/integration/test_transactions.py) ----------------------------------


class TxItem(Model):
    name = fields.CharField(max_length=100)

    class Meta:
        table = "tx_items"


class TxKeyed(Model):
    """A unique lookup field: get_or_create / update_or_create are race-safe on it."""

    key = fields.CharField(max_length=50, unique=True)
    value = fields.IntegerField(default=0)

    class Meta:
        table = "tx_keyed"


# -- cancellation (tests/integration/test_cancellation.py) ----------------------------------


class CancelRow(Model):
    """A write of the cancellation storm: ``tag`` names the task and the row's place in
    its group, so the check can tell a whole group from a partial one."""

    tag = fields.CharField(max_length=40)

    class Meta:
        table = "cancel_rows"
