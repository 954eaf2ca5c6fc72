"""flash_db quick start: a small blog on embedded SQLite.

Run it from the project root:  .venv/bin/python examples/blog.py
It defines two related models (a post has an author), creates the schema,
writes and queries data, follows the relation, and prints what it did; then it
drops its tables (and deletes its SQLite file). Set FLASH_DB_URL to run it on
PostgreSQL or MariaDB instead.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import flash_db
from flash_db import Avg, Count, F, Model, Q, fields
from flash_db.exceptions import IntegrityError, RelationNotLoaded, ValidationError


class Author(Model):
    name = fields.CharField(max_length=100, unique=True)
    email = fields.CharField(max_length=254, null=True)
    active = fields.BooleanField(default=True)
    joined = fields.DateTimeField(auto_now_add=True)

    class Meta:
        table = "example_authors"
        ordering = ["name"]

    def clean(self) -> None:
        if self.name.lower() == "admin":
            raise ValidationError({"name": "reserved name"})


class Post(Model):
    title = fields.CharField(max_length=200, db_index=True)
    author = fields.ForeignKey(Author, related_name="posts", on_delete=fields.CASCADE)
    price = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    published = fields.DateField(null=True)

    class Meta:
        table = "example_posts"


SQLITE_FILE = "example_blog.sqlite3"


async def main() -> None:
    url = os.environ.get("FLASH_DB_URL", f"sqlite+aiosqlite:///{SQLITE_FILE}")
    async with flash_db.connect(url) as db:
        print(f"connected to {db['default'].display_url}")
        await flash_db.drop_all()
        await flash_db.create_all()
        print(
            "created tables:",
            ", ".join(
                t.name for t in flash_db.metadata.sorted_tables if t.name.startswith("example_")
            ),
        )

        ann = await Author.objects.create(name="Ann", email="ann@example.com")
        bob = Author(name="Bob")
        await bob.save()
        print(f"created {ann!r} and {bob!r}")

        posts = await Post.objects.bulk_create(
            [
                Post(title="Async ORMs", author=ann, price=Decimal("9.50")),
                Post(title="SQLAlchemy Core", author=ann, price=Decimal("12.00")),
                Post(title="Draft: joins", author=bob, price=0),
            ]
        )
        print(f"bulk-created {len(posts)} posts, pks {[p.pk for p in posts]}")

        cheap = (
            await Post.objects.filter(price__lt=10)
            .order_by("title")
            .values_list("title", flat=True)
        )
        print("posts under 10:", cheap)

        real = await Post.objects.exclude(Q(title__startswith="Draft") | Q(price=0)).count()
        print("published-looking posts:", real)

        stats = await Post.objects.aggregate(n=Count("id"), avg=Avg("price"))
        print(f"{stats['n']} posts, average price {stats['avg']:.2f}")

        per_author = (
            await Author.objects.annotate(n=Count("posts"))
            .order_by("-n", "name")
            .values_list("name", "n")
        )
        print("posts per author:", ", ".join(f"{name}: {n}" for name, n in per_author))

        post = await Post.objects.get(title="Async ORMs")
        try:
            print(post.author.name)  # attribute access never queries the database
        except RelationNotLoaded as exc:
            print("not loaded yet:", exc)
        for post in await Post.objects.select_related("author").order_by("title"):
            print(f"  {post.title!r} by {post.author.name} (one query, with a JOIN)")
        for author in await Author.objects.prefetch_related("posts"):
            titles = [p.title for p in await author.posts.all()]  # prefetched: no query
            print(f"  {author.name} wrote {titles}")

        raised = await Post.objects.filter(author__name="Ann").update(price=F("price") * 2)
        print(f"doubled the price of {raised} posts by Ann")

        deleted = await Author.objects.filter(name="Bob").delete()
        print(f"deleted {deleted} author; posts left: {await Post.objects.count()} (CASCADE)")

        try:
            await Author.objects.create(name="Ann")
        except IntegrityError as exc:
            print("duplicate author refused:", exc)
        try:
            await Author.objects.create(name="admin")
        except ValidationError as exc:
            print("invalid author refused:", exc.errors)

        print(
            "SQL of a query:",
            Post.objects.filter(title__icontains="orm").order_by("-price")[:5].sql(),
        )
        await flash_db.drop_all()
    if "FLASH_DB_URL" not in os.environ and os.path.exists(SQLITE_FILE):
        os.remove(SQLITE_FILE)


if __name__ == "__main__":
    asyncio.run(main())
