"""flash_db quick start: a small blog on embedded SQLite.

Run it from the project root:  .venv/bin/python examples/blog.py
It defines models, creates the schema, writes and queries data, and prints
what it did. Set FLASH_DB_URL to run it on PostgreSQL or MariaDB instead.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import flash_db
from flash_db import Avg, Count, F, Model, Q, fields
from flash_db.exceptions import IntegrityError, ValidationError


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
    author_name = fields.CharField(max_length=100)
    price = fields.DecimalField(max_digits=8, decimal_places=2, default=0)
    published = fields.DateField(null=True)

    class Meta:
        table = "example_posts"


async def main() -> None:
    url = os.environ.get("FLASH_DB_URL", "sqlite+aiosqlite:///example_blog.sqlite3")
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
                Post(title="Async ORMs", author_name="Ann", price=Decimal("9.50")),
                Post(title="SQLAlchemy Core", author_name="Ann", price=Decimal("12.00")),
                Post(title="Draft: joins", author_name="Bob", price=0),
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
            await Post.objects.values("author_name").annotate(n=Count("id")).order_by("author_name")
        )
        print("posts per author:", per_author)

        raised = await Post.objects.filter(author_name="Ann").update(price=F("price") * 2)
        print(f"doubled the price of {raised} posts by Ann")

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


if __name__ == "__main__":
    asyncio.run(main())
