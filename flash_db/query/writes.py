"""INSERT, UPDATE and DELETE statements for instances and QuerySets.

Values always travel as bound parameters. Backend differences are asked of
``Features`` (RETURNING support, upsert style), never of the vendor name,
except in :func:`_insert_construct`, the one place that picks SQLAlchemy's
dialect-specific INSERT for upserts.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ClauseElement

from ..exceptions import FieldError, NotSupportedError
from ..expressions import Expression
from ..fields import Field
from ..sqltypes import ParameterArray
from .executor import REUSED, Executor
from .features import Features


def insert_values(
    model: Any, obj: Any, fields: Sequence[Field[Any]]
) -> tuple[dict[str, Any], list[Field[Any]]]:
    """Values to INSERT for ``obj`` and the fields the database fills in (auto pk, db_default)."""
    values: dict[str, Any] = {}
    generated: list[Field[Any]] = []
    stored = obj.__dict__
    for field, attname, own_value, may_generate in _write_plan(_INSERT_PLANS, fields, True):
        # most fields write what the instance holds; pre_save() only where overridden
        value = stored.get(attname) if own_value else field.pre_save(obj, True)
        if value is None and may_generate:
            generated.append(field)
            continue
        values[attname] = value
    return values, generated


#: per field tuple: (field, attname, pre_save only reads the value, database may fill it in)
_INSERT_PLANS: dict[tuple[Field[Any], ...], tuple[tuple[Any, str, bool, bool], ...]] = {}


#: the same for the UPDATE of an instance (``pre_save(obj, False)``)
_UPDATE_PLANS: dict[tuple[Field[Any], ...], tuple[tuple[Any, str, bool, bool], ...]] = {}


def _write_plan(
    plans: dict[tuple[Field[Any], ...], tuple[tuple[Any, str, bool, bool], ...]],
    fields: Sequence[Field[Any]],
    add: bool,
) -> tuple[tuple[Any, str, bool, bool], ...]:
    """Per field of ``fields``: (field, attname, whether ``pre_save(obj, add)`` only
    reads the value, whether the database may fill it in); kept per field tuple."""
    key = tuple(fields)
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = tuple(
            (
                f,
                f.attname,
                f.pre_save_reads_value(add),
                bool(f.auto_increment or f.has_db_default),
            )
            for f in fields
        )
    return plan


#: statements reused across calls, per table: one object per shape keeps SQLAlchemy's
#: compiled-cache key memoized on it, where a new ``insert(table).values(...)`` per call
#: costs building the statement and walking it for its cache key (~60 µs) every time
_STATEMENTS: weakref.WeakKeyDictionary[sa.Table, dict[Any, Any]] = weakref.WeakKeyDictionary()


def cached_statement(table: sa.Table, key: Any, build: Any) -> Any:
    """The statement ``build()`` returns, built once per ``table`` and ``key``."""
    per_table = _STATEMENTS.get(table)
    if per_table is None:
        per_table = _STATEMENTS[table] = {}
    stmt = per_table.get(key)
    if stmt is None:
        # kept for the table's lifetime: executors may cache what they derive from it
        stmt = per_table[key] = _reused(build())
    return stmt


def _reused(built: Any) -> Any:
    """``built`` marked :data:`REUSED` (the statement itself, or the first item of a
    ``(statement, extra)`` pair)."""
    if isinstance(built, tuple):
        return (built[0].execution_options(**{REUSED: True}), *built[1:])
    return built.execution_options(**{REUSED: True})


def _plain(values: dict[str, Any]) -> bool:
    """Whether every value can travel as an execute() parameter (no SQL expression)."""
    if not values:
        return False
    plain = _PLAIN_TYPES
    for value in values.values():
        if type(value) not in plain and isinstance(value, (ClauseElement, Expression)):
            return False
    return True


#: value types that are never SQL expressions (the common case costs one set lookup)
_PLAIN_TYPES = frozenset(
    {type(None), int, str, float, bool, bytes, Decimal, dt.datetime, dt.date, dt.time}
)


#: the bound parameter of the pk in cached UPDATE statements (never a column key)
_PK_PARAM = "flash_pk_"


async def insert_one(executor: Executor, alias: str, model: Any, obj: Any) -> None:
    """INSERT ``obj``; database-generated values (auto pk, db_default) are set on it."""
    meta = model._meta
    table = meta.table
    values, generated = insert_values(model, obj, meta.concrete_fields)
    features = executor.features(alias)
    returning = (
        tuple(f.attname for f in generated)
        if features.insert_returning and not _key_from_lastrowid(features, meta, generated)
        else ()
    )
    params: Any = None
    if _plain(values):
        # the columns come from the parameters' keys, as in an executemany
        stmt = cached_statement(
            table,
            ("insert", returning),
            lambda: (
                sa.insert(table).returning(*(table.c[n] for n in returning))
                if returning
                else sa.insert(table)
            ),
        )
        params = values
    else:
        stmt = sa.insert(table).values(values)
        if returning:
            stmt = stmt.returning(*(table.c[n] for n in returning))
    if returning:
        result = await executor.execute(alias, stmt, params)
        row = result.one()
        for field, value in zip(generated, row, strict=True):
            obj.__dict__[field.attname] = value
        return
    result = await executor.execute(alias, stmt, params)
    pk = meta.pk
    if pk in generated:
        obj.__dict__[pk.attname] = _inserted_pk(result)
    rest = [f for f in generated if f is not pk]
    if rest:
        # No RETURNING on this backend: read the server-side defaults back.
        select = sa.select(*(table.c[f.attname] for f in rest)).where(
            table.c[pk.attname] == obj.__dict__[pk.attname]
        )
        row = (await executor.execute(alias, select)).one()
        for field, value in zip(rest, row, strict=True):
            obj.__dict__[field.attname] = value


async def update_one(
    executor: Executor, alias: str, model: Any, obj: Any, fields: Sequence[Field[Any]]
) -> int:
    """UPDATE ``obj``'s row with the current values of ``fields``; returns rows matched."""
    meta = model._meta
    table = meta.table
    stored = obj.__dict__
    values = {
        attname: stored.get(attname) if own_value else field.pre_save(obj, False)
        for field, attname, own_value, _ in _write_plan(_UPDATE_PLANS, fields, False)
    }
    if not values:
        return 1
    pk = obj.__dict__[meta.pk.attname]
    if _plain(values) and _PK_PARAM not in values:
        # SET takes the parameters named after columns; the pk binds to the WHERE
        stmt = cached_statement(
            table, "update", lambda: sa.update(table).where(pk_param(table, meta.pk.attname))
        )
        values.update(pk_params(pk))
        result = await executor.execute(alias, stmt, values)
    else:
        stmt = sa.update(table).where(table.c[meta.pk.attname] == pk).values(values)
        result = await executor.execute(alias, stmt)
    return int(result.rowcount)


def pk_equals(model: Any, conditions: Sequence[Any]) -> tuple[bool, Any]:
    """``(True, value)`` when ``conditions`` are exactly ``pk = value`` (``filter(pk=…)``,
    an instance's own row), bound with the pk column's type; else ``(False, None)``.

    Such deletes run statements cached per table with the value as a parameter.
    """
    if len(conditions) != 1:
        return False, None
    cond = conditions[0]
    meta = model._meta
    pk_col = meta.table.c[meta.pk.attname]
    if (
        isinstance(cond, BinaryExpression)
        and cond.operator is operators.eq
        and cond.left is pk_col
        and not cond.modifiers
    ):
        bind = cond.right
        if (
            isinstance(bind, BindParameter)
            and bind.callable is None
            and bind.value is not None
            and type(bind.type) is type(pk_col.type)
        ):
            return True, bind.value
    return False, None


def pk_param(table: sa.Table, pk_attname: str) -> Any:
    """``pk = :flash_pk_``, for statements cached per table (the value is a parameter)."""
    return table.c[pk_attname] == pk_bind(table, pk_attname)


def pk_bind(table: sa.Table, pk_attname: str) -> Any:
    """The ``:flash_pk_`` parameter of :func:`pk_param`, typed as the pk column, to compare
    other columns with the same value."""
    return sa.bindparam(_PK_PARAM, type_=table.c[pk_attname].type)


async def delete_by_pk(executor: Executor, alias: str, model: Any, pk: Any) -> int:
    """``DELETE … WHERE pk = :pk`` (one cached statement per table); returns rows deleted."""
    meta = model._meta
    table = meta.table
    stmt = cached_statement(
        table, "delete", lambda: sa.delete(table).where(pk_param(table, meta.pk.attname))
    )
    return int((await executor.execute(alias, stmt, pk_params(pk))).rowcount)


def pk_params(pk: Any) -> dict[str, Any]:
    """The execute() parameters of a statement built with :func:`pk_param`."""
    return {_PK_PARAM: pk}


def _key_from_lastrowid(features: Features, meta: Any, generated: Sequence[Field[Any]]) -> bool:
    """Whether the only value the database fills in is an auto-increment key that the
    driver reports as ``lastrowid``. RETURNING would cost a result set for it: on
    MariaDB four more packets to parse per INSERT (~20% of a ``create()`` in a
    transaction), on SQLite a row to build."""
    return (
        features.insert_lastrowid
        and len(generated) == 1
        and generated[0] is meta.pk
        and meta.table.autoincrement_column is meta.table.c[meta.pk.attname]
    )


def _inserted_pk(result: Any) -> Any:
    key = result.inserted_primary_key
    assert key is not None, "INSERT did not report its primary key"
    return key[0]


def _insert_construct(features: Features) -> Any:
    """SQLAlchemy's INSERT with this backend's upsert clauses."""
    return {
        "postgresql": postgresql.insert,
        "sqlite": sqlite.insert,
        "mysql": mysql.insert,
    }.get(features.vendor, sa.insert)


def upsert_statement(
    features: Features,
    table: sa.Table,
    *,
    ignore_conflicts: bool,
    update_fields: Sequence[str],
    unique_fields: Sequence[str],
) -> Any:
    """INSERT that skips or updates rows that collide with a unique constraint."""
    construct = _insert_construct(features)
    stmt = construct(table)
    if features.upsert_style == "on_duplicate_key":
        if ignore_conflicts:
            # MySQL's INSERT IGNORE also downgrades some other errors to warnings.
            return sa.insert(table).prefix_with("IGNORE")
        return stmt.on_duplicate_key_update({name: stmt.inserted[name] for name in update_fields})
    if ignore_conflicts:
        return stmt.on_conflict_do_nothing()
    if not unique_fields:
        raise NotSupportedError(
            f"update_conflicts on {features.vendor} needs unique_fields=[...] naming the unique columns"
        )
    return stmt.on_conflict_do_update(
        index_elements=[table.c[name] for name in unique_fields],
        set_={name: stmt.excluded[name] for name in update_fields},
    )


async def bulk_insert(
    executor: Executor,
    alias: str,
    model: Any,
    objs: Sequence[Any],
    *,
    batch_size: int | None,
    ignore_conflicts: bool,
    update_conflicts: bool,
    update_fields: Sequence[str],
    unique_fields: Sequence[str],
) -> None:
    """INSERT many objects in batches; sets generated pks when the backend can return them."""
    meta = model._meta
    table = meta.table
    features = executor.features(alias)
    # executemany needs one key set per statement: group objects by the columns they provide.
    groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any], list[Field[Any]]]]] = {}
    for obj in objs:
        values, generated = insert_values(model, obj, meta.concrete_fields)
        groups.setdefault(tuple(values), []).append((obj, values, generated))
    if ignore_conflicts or update_conflicts:
        base = upsert_statement(
            features,
            table,
            ignore_conflicts=ignore_conflicts,
            update_fields=update_fields,
            unique_fields=unique_fields,
        )
    else:
        base = sa.insert(table)
    size = batch_size or len(objs) or 1
    dialect = executor.dialect(alias)
    for keys, entries in groups.items():
        generated_fields = entries[0][2]
        want_returning = bool(generated_fields) and not ignore_conflicts
        if features.insert_from_arrays and _fits_arrays(
            meta, keys, generated_fields if want_returning else (), update_conflicts, dialect
        ):
            returning = tuple(f.attname for f in generated_fields) if want_returning else ()
            stmt = array_insert_statement(features, table, keys, returning, ignore_conflicts)
            names = [f"{_ARRAY_PARAM}{i}" for i in range(len(keys))]
            for start in range(0, len(entries), size):
                batch = entries[start : start + size]
                columns = zip(*(values.values() for _, values, _ in batch), strict=True)
                result = await executor.execute(alias, stmt, dict(zip(names, columns, strict=True)))
                if returning:
                    _set_generated(batch, generated_fields, _by_pk(result.all(), returning, meta))
            continue
        for start in range(0, len(entries), size):
            batch = entries[start : start + size]
            params = [values for _, values, _ in batch]
            if want_returning and features.insert_many_returning:
                stmt = base.returning(
                    *(table.c[f.attname] for f in generated_fields), sort_by_parameter_order=True
                )
                rows = (await executor.execute(alias, stmt, params)).all()
                _set_generated(batch, generated_fields, rows)
            elif want_returning:
                # No ordered RETURNING for executemany here: one INSERT per row.
                for obj, values, _ in batch:
                    result = await executor.execute(alias, base.values(values))
                    obj.__dict__[meta.pk.attname] = _inserted_pk(result)
            else:
                await executor.execute(alias, base, params)
    for obj in objs:
        obj.__dict__["_adding"] = False
        obj.__dict__["_db"] = alias


#: the bound parameters of an array INSERT: ``flash_a0``, ``flash_a1``, … (one per column)
_ARRAY_PARAM = "flash_a"


def _fits_arrays(
    meta: Any, keys: Sequence[str], generated: Sequence[Field[Any]], upsert: bool, dialect: Any
) -> bool:
    """Whether a group of rows giving ``keys`` can be INSERTed from arrays, reading back
    ``generated``. RETURNING rows are matched to the objects by sorting on the pk, which
    takes an auto-increment pk the database fills in (as SQLAlchemy's insertmanyvalues
    does for ``sort_by_parameter_order``); an upsert may return updated rows too."""
    if not keys or upsert:
        return False
    if generated and not (meta.pk.auto_increment and meta.pk in generated):
        return False
    columns = meta.table.c
    return all(ParameterArray.fits(columns[key].type, dialect) for key in keys)


def array_insert_statement(
    features: Features,
    table: sa.Table,
    keys: Sequence[str],
    returning: Sequence[str],
    ignore_conflicts: bool,
) -> Any:
    """``INSERT INTO table (keys) SELECT … FROM unnest(<an array per key>) WITH ORDINALITY
    … ORDER BY ordinality [RETURNING …]``: rows go in the order given, so an auto-increment
    pk numbers them in that order. Built once per table and shape."""

    def build() -> Any:
        arrays = [
            sa.bindparam(f"{_ARRAY_PARAM}{i}", type_=ParameterArray(table.c[key].type))
            for i, key in enumerate(keys)
        ]
        rows = (
            sa.func.unnest(*arrays)
            .table_valued(*(sa.column(f"c{i}") for i in range(len(keys))), with_ordinality="n")
            .render_derived(name="flash_rows")
        )
        source = sa.select(
            *(
                ParameterArray.selected(rows.c[f"c{i}"], table.c[key].type)
                for i, key in enumerate(keys)
            )
        ).order_by(rows.c.n)
        if ignore_conflicts:
            stmt = upsert_statement(
                features, table, ignore_conflicts=True, update_fields=(), unique_fields=()
            )
        else:
            stmt = sa.insert(table)
        stmt = stmt.from_select(list(keys), source)
        return stmt.returning(*(table.c[name] for name in returning)) if returning else stmt

    return cached_statement(
        table, ("arrays", tuple(keys), tuple(returning), ignore_conflicts), build
    )


def _by_pk(rows: Sequence[Any], returning: Sequence[str], meta: Any) -> list[Any]:
    """RETURNING ``rows`` in the order their rows were given (auto-increment pk order)."""
    at = returning.index(meta.pk.attname)
    return sorted(rows, key=lambda r: r[at])


def _set_generated(batch: Sequence[Any], fields: Sequence[Field[Any]], rows: Sequence[Any]) -> None:
    """Set the database-filled ``fields`` on the objects of ``batch`` from ``rows``."""
    for (obj, _, _), row in zip(batch, rows, strict=True):
        stored = obj.__dict__
        for field, value in zip(fields, row, strict=True):
            stored[field.attname] = value


async def bulk_update(
    executor: Executor,
    alias: str,
    model: Any,
    objs: Sequence[Any],
    fields: Sequence[Field[Any]],
    batch_size: int | None,
) -> int:
    """UPDATE ``fields`` of many objects with one ``CASE pk WHEN …`` statement per batch."""
    meta = model._meta
    table = meta.table
    pk_col = table.c[meta.pk.attname]
    size = batch_size or len(objs) or 1
    updated = 0
    for start in range(0, len(objs), size):
        batch = objs[start : start + size]
        pks = [obj.__dict__[meta.pk.attname] for obj in batch]
        values = {}
        for field in fields:
            col = table.c[field.attname]
            whens = [
                (pk_col == pk, sa.cast(sa.literal(field.pre_save(obj, False), col.type), col.type))
                for obj, pk in zip(batch, pks, strict=True)
            ]
            values[field.attname] = sa.case(*whens, else_=col)
        stmt = sa.update(table).where(pk_col.in_(pks)).values(values)
        updated += int((await executor.execute(alias, stmt)).rowcount)
    return updated


def check_field_names(model: Any, names: Iterable[str], what: str) -> list[Field[Any]]:
    """Fields for ``names``, refusing unknown ones and the primary key."""
    meta = model._meta
    result = []
    for name in names:
        field = meta.get_field(name)
        if field.primary_key:
            raise FieldError(f"{what} cannot change the primary key {name!r}")
        result.append(field)
    return result


def check_defaults(model: Any, defaults: Iterable[str], what: str) -> None:
    """Refuse the names in ``defaults`` that building ``model`` would refuse: unknown
    names and many-to-many relations. ``get_or_create`` and ``update_or_create`` check
    them before reading the row, since the row they find is changed by ``setattr`` (which
    takes any name) or not at all, so a misspelt default would otherwise be ignored."""
    meta = model._meta
    for name in defaults:
        if meta.has_field(name):
            if getattr(meta.get_field(name), "many_to_many", False):
                raise FieldError(
                    f"{what}: the many-to-many relation {name!r} cannot be set here; "
                    f"after the call, await obj.{name}.set([...])"
                )
        elif name != "pk" and not isinstance(getattr(model, name, None), property):
            raise FieldError(
                f"{what}: unknown field {name!r} on {meta.object_name}; "
                f"choices: {', '.join(meta.field_names)}"
            )
