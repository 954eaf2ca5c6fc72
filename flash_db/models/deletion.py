"""Deleting rows with their ``on_delete`` consequences, in one transaction.

The collector finds, level by level, every row that references the rows being
deleted through a foreign key with an ORM action: ``CASCADE`` rows are
collected in turn, ``PROTECT`` (and ``RESTRICT`` outside a cascade) stops
everything with ``ProtectedError`` before a single row is deleted,
``SET_NULL`` / ``SET_DEFAULT`` become one UPDATE per batch. Then it deletes,
deepest level first, one ``DELETE … WHERE pk IN (…)`` per model and level
and batch — never one statement per row. ``DB_CASCADE`` / ``DB_SET_NULL``
(and ``DO_NOTHING``) are left to the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from .. import signals
from ..exceptions import ProtectedError
from ..fields.related import CASCADE, PROTECT, RESTRICT, SET_DEFAULT, SET_NULL
from ..query import get_executor, writes
from ..query.prefetch import BATCH_SIZE

_ORM_ACTIONS = (CASCADE, PROTECT, RESTRICT, SET_NULL, SET_DEFAULT)


def needs_collector(model: Any) -> bool:
    """Whether deleting ``model`` rows has ORM-side consequences (actions or signals)."""
    return _sends_signals(model) or any(
        fk.on_delete in _ORM_ACTIONS for fk in model._meta.referenced_by
    )


def can_skip_collector(model: Any) -> bool:
    """Whether a delete of ``model`` rows needs the collector only if rows reference them.

    True when no delete signal listens for ``model``: then the ORM actions are
    the only consequence, and they apply only to referencing rows (see
    :func:`has_dependents`).
    """
    return not _sends_signals(model)


#: ``pk=`` left out (a ``None`` pk is a value)
NO_PK: Any = object()


def _orm_fks(model: Any) -> tuple[Any, ...]:
    return tuple(fk for fk in model._meta.referenced_by if fk.on_delete in _ORM_ACTIONS)


async def has_dependents(
    model: Any, alias: str, conditions: Sequence[Any] = (), *, pk: Any = NO_PK
) -> bool:
    """Whether any row references, through a foreign key with an ORM action, the ``model``
    rows matching ``conditions`` (or the row ``pk``): one ``SELECT EXISTS (…) OR EXISTS (…)``.

    A plain ``DELETE`` is then enough when none does: the collector's transaction, its
    ``SELECT`` of the pks and of the referencing rows are what made ``delete()`` of a
    model with a ``CASCADE`` reverse relation cost five statements instead of one. A row
    that starts referencing them after this check makes the ``DELETE`` fail on the
    foreign key (ORM actions emit no ``ON DELETE`` clause), never leaves an orphan.
    """
    fks = _orm_fks(model)
    if not fks:
        return False
    table = model._meta.table
    if pk is not NO_PK:
        # one probe per model and set of referencing keys, the pk a parameter (building
        # and keying it cost ~60 µs)
        stmt = writes.cached_statement(
            table,
            ("dependents", fks),
            lambda: _dependents_probe(model, fks, [writes.pk_param(table, model._meta.pk.attname)]),
        )
        result = await get_executor().execute(alias, stmt, writes.pk_params(pk))
    else:
        result = await get_executor().execute(alias, _dependents_probe(model, fks, conditions))
    return bool(result.scalar())


async def delete_unreferenced(model: Any, alias: str, pk: Any) -> int | None:
    """``DELETE`` the row ``pk`` unless a row references it through a foreign key with an
    ORM action: one statement, ``… WHERE pk = :pk AND NOT EXISTS (…)``; returns the rows
    deleted (0: no such row, or it is referenced and needs the collector).

    ``None`` when that cannot be one statement on every backend: a foreign key to a
    column other than the pk, or from the model to itself, would make the guard read the
    table being deleted from, which MySQL refuses (error 1093); :func:`has_dependents`
    asks first instead.
    """
    meta = model._meta
    fks = _orm_fks(model)
    if any(fk.model is model or fk.target_field.attname != meta.pk.attname for fk in fks):
        return None
    table = meta.table

    def build() -> Any:
        pk_name = meta.pk.attname
        guards = [
            ~sa.exists().where(fk.model._meta.table.c[fk.attname] == writes.pk_bind(table, pk_name))
            for fk in fks
        ]
        return sa.delete(table).where(writes.pk_param(table, pk_name), *guards)

    stmt = writes.cached_statement(table, ("delete_unreferenced", fks), build)
    return int((await get_executor().execute(alias, stmt, writes.pk_params(pk))).rowcount)


def _dependents_probe(model: Any, fks: Sequence[Any], conditions: Sequence[Any]) -> Any:
    table = model._meta.table
    probes = []
    for fk in fks:
        child = fk.model._meta.table
        if fk.model is model:
            # an alias keeps a self-referencing table from correlating with itself
            child = child.alias("flash_dependent")
        keys = sa.select(table.c[fk.target_field.attname]).where(*conditions).correlate(None)
        probes.append(sa.exists().where(child.c[fk.attname].in_(keys)))
    return sa.select(sa.or_(*probes))


def _sends_signals(model: Any) -> bool:
    return signals.has_receivers(signals.pre_delete, model) or signals.has_receivers(
        signals.post_delete, model
    )


def _batches(keys: Sequence[Any]) -> list[Sequence[Any]]:
    return [keys[i : i + BATCH_SIZE] for i in range(0, len(keys), BATCH_SIZE)]


class Collector:
    """Collects what a delete implies, then carries it out (see the module docstring)."""

    def __init__(self, alias: str, instance: Any = None) -> None:
        self.alias = alias
        #: the instance whose delete() started this (signals send it, not a copy)
        self.instance = instance
        self.executor = get_executor()
        #: (model, pks) in the order found; deleted in reverse (children first)
        self.levels: list[tuple[Any, list[Any]]] = []
        self.seen: dict[Any, set[Any]] = defaultdict(set)
        self.updates: list[tuple[Any, Any, Any, Sequence[Any]]] = []
        self.restricted: list[tuple[Any, Any, list[Any]]] = []

    async def _pks_referencing(self, fk: Any, keys: Sequence[Any]) -> list[Any]:
        child = fk.model
        table = child._meta.table
        pk = table.c[child._meta.pk.attname]
        found: list[Any] = []
        for batch in _batches(keys):
            result = await self.executor.execute(
                self.alias, sa.select(pk).where(table.c[fk.attname].in_(batch))
            )
            found.extend(result.scalars())
        return found

    async def collect(self, model: Any, pks: Sequence[Any]) -> None:
        new = [pk for pk in dict.fromkeys(pks) if pk not in self.seen[model]]
        if not new:
            return
        self.seen[model].update(new)
        self.levels.append((model, new))
        for fk in model._meta.referenced_by:
            action = fk.on_delete
            if action not in _ORM_ACTIONS:
                continue
            keys = new
            if fk.target_field is not model._meta.pk:
                keys = await self._values_of(model, fk.target_field, new)
            if action in (SET_NULL, SET_DEFAULT) and not fk.model._meta.read_only:
                value = None if action is SET_NULL else fk.get_default()
                self.updates.append((fk.model, fk, value, keys))
                continue
            children = await self._pks_referencing(fk, keys)
            if not children:
                continue
            if action in (CASCADE, SET_NULL, SET_DEFAULT):
                # the rows of a read-only model are never written, not even by a cascade
                fk.model._meta.check_writable()
            if action is CASCADE:
                await self.collect(fk.model, children)
            elif action is PROTECT:
                raise ProtectedError(
                    f"cannot delete {model.__name__} rows: {len(children)} {fk.model.__name__} "
                    f"row(s) refer to them through the protected foreign key "
                    f"{fk.model.__name__}.{fk.name}; delete or reassign those first",
                    [(fk.model, pk) for pk in children],
                )
            else:  # RESTRICT: allowed only if a CASCADE deletes those rows too
                self.restricted.append((model, fk, children))

    async def _values_of(self, model: Any, field: Any, pks: Sequence[Any]) -> list[Any]:
        table = model._meta.table
        pk = table.c[model._meta.pk.attname]
        values: list[Any] = []
        for batch in _batches(pks):
            result = await self.executor.execute(
                self.alias, sa.select(table.c[field.attname]).where(pk.in_(batch))
            )
            values.extend(result.scalars())
        return values

    def check_restricted(self) -> None:
        for model, fk, children in self.restricted:
            left = [pk for pk in children if pk not in self.seen[fk.model]]
            if left:
                raise ProtectedError(
                    f"cannot delete {model.__name__} rows: {len(left)} {fk.model.__name__} row(s) "
                    f"refer to them through the restricted foreign key {fk.model.__name__}.{fk.name}",
                    [(fk.model, pk) for pk in left],
                )

    async def run(self, root: Any) -> int:
        """Apply the collected updates and deletes; returns the rows of ``root`` deleted."""
        self.check_restricted()
        for model, fk, value, keys in self.updates:
            table = model._meta.table
            for batch in _batches(keys):
                await self.executor.execute(
                    self.alias,
                    sa.update(table)
                    .where(table.c[fk.attname].in_(batch))
                    .values({fk.attname: value}),
                )
        deleted = 0
        for model in self._dependency_order():
            pks = [pk for m, level in reversed(self.levels) if m is model for pk in level]
            table = model._meta.table
            pk = table.c[model._meta.pk.attname]
            for level in await self._self_reference_levels(model, pks):
                for batch in _batches(level):
                    objs = await self._instances(model, batch)
                    for obj in objs:
                        await signals.send(
                            signals.pre_delete, model, instance=obj, using=self.alias
                        )
                    stmt = sa.delete(table).where(pk.in_(batch))
                    result = await self.executor.execute(self.alias, stmt)
                    if model is root:
                        deleted += int(result.rowcount)
                    for obj in objs:
                        await signals.send(
                            signals.post_delete, model, instance=obj, using=self.alias
                        )
        return deleted

    async def _instances(self, model: Any, pks: Sequence[Any]) -> list[Any]:
        """The objects about to be deleted, for delete signals (only if anyone listens)."""
        if not _sends_signals(model):
            return []
        if (
            self.instance is not None
            and type(self.instance) is model
            and list(pks) == [self.instance.pk]
        ):
            return [self.instance]
        return list(await model.objects.using(self.alias).filter(pk__in=list(pks)))

    def _dependency_order(self) -> list[Any]:
        """Collected models, each after every collected model that references it."""
        models = list(dict.fromkeys(model for model, _ in self.levels))
        children = {
            model: {
                fk.model
                for fk in model._meta.referenced_by
                if fk.model in models and fk.model is not model
            }
            for model in models
        }
        order: list[Any] = []
        while len(order) < len(models):
            ready = [m for m in models if m not in order and children[m] <= set(order)]
            if not ready:  # a cycle between models: discovery order, deepest first
                ready = [m for m, _ in reversed(self.levels) if m not in order][:1]
            order.extend(ready)
        return order

    async def _self_reference_levels(self, model: Any, pks: list[Any]) -> list[list[Any]]:
        """``pks`` split so that rows go before the rows they reference in the same table.

        MySQL checks foreign keys row by row inside one DELETE, so a parent and its
        child in one statement can fail; leaves are deleted first, level by level.
        """
        self_fks = [fk for fk in model._meta.referenced_by if fk.model is model]
        if not self_fks or len(pks) < 2:
            return [pks]
        table = model._meta.table
        pk = table.c[model._meta.pk.attname]
        parents: dict[Any, set[Any]] = {}
        for batch in _batches(pks):
            stmt = sa.select(pk, *(table.c[fk.attname] for fk in self_fks)).where(pk.in_(batch))
            rows: list[Any] = list((await self.executor.execute(self.alias, stmt)).all())
            for row in rows:
                parents[row[0]] = {parent for parent in row[1:] if parent is not None}
        remaining = set(pks)
        levels = []
        while remaining:
            referenced = {p for key in remaining for p in parents.get(key, ()) if p in remaining}
            leaves = [key for key in remaining if key not in referenced] or list(remaining)
            levels.append(leaves)
            remaining.difference_update(leaves)
        return levels


async def delete_rows(model: Any, alias: str, pks: Sequence[Any], instance: Any = None) -> int:
    """Delete ``model`` rows ``pks`` and what ``on_delete`` implies, in one transaction.

    ``pre_delete`` / ``post_delete`` go to each deleted object, cascaded ones
    included, when the signals have receivers for its model.
    """
    async with get_executor().transaction(alias):
        return await delete_collected(model, alias, pks, instance)


async def delete_collected(model: Any, alias: str, pks: Sequence[Any], instance: Any = None) -> int:
    """:func:`delete_rows` inside the caller's transaction (which must be open)."""
    collector = Collector(alias, instance)
    await collector.collect(model, pks)
    return await collector.run(model)
