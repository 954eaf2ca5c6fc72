"""flash_db running the workload: manager methods as application code writes them."""

from __future__ import annotations

from workload import LIST_COLUMNS, Child, Implementation, Item, Sizes, row

import flash_db
from flash_db import atomic


class FlashDB(Implementation):
    name = "flash_db"

    def __init__(self, sizes: Sizes, url: str) -> None:
        super().__init__(sizes)
        self.url = url

    async def open(self) -> None:
        await flash_db.connect(self.url)

    async def close(self) -> None:
        try:
            await flash_db.drop_all()
        finally:
            await flash_db.disconnect()

    async def reset(self) -> None:
        await flash_db.drop_all()
        await flash_db.create_all()

    async def seed_children(self) -> None:
        await Child.objects.bulk_create(
            [Child(item_id=p, label=label, position=k) for p, label, k in self.child_rows()]
        )

    async def test_insert_single(self) -> int:
        self.single_ids = []
        for i in range(self.sizes.single):
            obj = await Item.objects.create(**row(i))
            self.single_ids.append(obj.pk)
        return self.sizes.single

    async def test_insert_tx(self) -> int:
        base = self.sizes.single
        async with atomic():
            for i in range(base, base + self.sizes.tx):
                await Item.objects.create(**row(i))
        return self.sizes.tx

    async def test_insert_bulk(self) -> int:
        base = self.sizes.single + self.sizes.tx
        objs = [Item(**row(i)) for i in range(base, base + self.sizes.bulk)]
        await Item.objects.bulk_create(objs)
        self.bulk_ids = [o.pk for o in objs]
        return len(objs)

    async def test_fetch_all(self) -> int:
        return len(await Item.objects.filter(score__gte=0))

    async def test_fetch_limit(self) -> int:
        n = 0
        for i in range(self.sizes.limit):
            n += len(await Item.objects.filter(flag=True, score__gte=i % 500).order_by("id")[:20])
        return n

    async def test_get_pk(self) -> int:
        self.got = [await Item.objects.get(pk=pk) for pk in self.sample_ids()]
        return len(self.got)

    async def test_values_dicts(self) -> int:
        return len(await Item.objects.filter(score__gte=0).values())

    async def test_values_tuples(self) -> int:
        return len(await Item.objects.filter(score__gte=0).values_list(*LIST_COLUMNS))

    async def test_update_whole(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj.score += 1
            obj.name = obj.name + "!"
            await obj.save()
        return len(objs)

    async def test_update_partial(self) -> int:
        objs = self.got[: self.sizes.update]
        for obj in objs:
            obj.score += 1
            await obj.save(update_fields=["score"])
        return len(objs)

    async def test_delete(self) -> int:
        for pk in self.single_ids:
            await Item.objects.filter(pk=pk).delete()
        return len(self.single_ids)

    async def test_select_related(self) -> int:
        children = await Child.objects.select_related("item").filter(position__gte=0)
        assert children and children[0].item is not None
        return len(children)

    async def test_prefetch_related(self) -> int:
        items = await Item.objects.filter(id__gte=self.first_parent).prefetch_related("children")
        n = len(items)
        for item in items:
            n += len(await item.children.all())  # prefetched: no query
        return n
