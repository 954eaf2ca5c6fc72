"""Reused statements run on the driver connection, past SQLAlchemy's execution context.

A single-row statement (``get(pk=…)``, the INSERT of ``create()``, the UPDATE of
``save()``, a delete by pk) spends more time in SQLAlchemy's ``Connection`` than on
the wire: building a ``Connection``, looking the compiled form up in the cache,
setting up an ``ExecutionContext``, the cursor and a ``CursorResult``, several switches
into its greenlet. flash_db builds those statements once (``writes.cached_statement``
marks them :data:`~flash_db.query.executor.REUSED`), so it can keep a :class:`Plan`
per statement and parameter keys: the SQL that SQLAlchemy compiles for the dialect,
where each positional parameter comes from and its bind processor, and the columns'
result processors. Running one is: check a connection out of the engine's pool (or
take the transaction's), one call on the driver, a :class:`DriverResult`. SELECTs
that the query layer builds per call (marked ``READS_ROWS``) run the same way, by a
plan kept per compiled form of SQLAlchemy's compiled cache.

Outside a transaction a statement takes a connection from the engine's pool. When the
pool's next idle connection is fresh and no pool listener, pre-ping or debug logging
is installed (:func:`leasable`), it is *leased*: its connection record is taken from
the pool's queue and put back (:func:`release`) with no greenlet and no
``_ConnectionFairy`` (each costs more than the statement's own Python). Anything else,
and every failure, is SQLAlchemy's own checkout and checkin (``pool.connect()``,
``fairy.close()``) in its greenlet: a leased record in trouble becomes the fairy
SQLAlchemy would have made of it (:func:`adopt`).

What is kept from SQLAlchemy's path:

- the SQL and every type conversion (the plan is SQLAlchemy's compiled statement);
- the pool, its events and accounting, and autocommit connections returned without a
  rollback;
- asyncpg's prepared-statement cache, its lazy ``BEGIN`` inside ``atomic()`` and its
  schema-cache invalidation (the plan calls the adapter's own execute coroutine);
- error translation: a driver error becomes SQLAlchemy's ``DBAPIError`` subclass, as
  SQLAlchemy would raise it, and ``translated()`` maps it onto the flash_db tree; a
  disconnect invalidates the connection and the pool's older ones, as SQLAlchemy does.

A statement goes the ordinary way when the plan cannot stand in for SQLAlchemy: a
listener on the engine's execution events (``count_queries`` is one), engine-wide
execution options, Python-side column defaults, expanding or literal parameters,
implicit RETURNING, a missing parameter (SQLAlchemy raises its error), or a driver
other than asyncpg, aiomysql and flash_db's one-hop aiosqlite. (SQLAlchemy's aiomysql
adapter opens its cursor through the greenlet; :func:`_aiomysql` opens one itself.)

Nothing here is public: ``Database.plan`` calls :func:`compile_plan` (and keeps the
plans), ``ConnectionHandler.execute`` calls :func:`run`.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.pool.base import _ConnectionFairy, reset_none, reset_rollback
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import WARN_LINTING
from sqlalchemy.util import await_only, greenlet_spawn

from ..query.executor import DriverResult
from . import _liveness, _sqlite
from ._completion import to_completion

#: what a driver call returns: (the result columns' driver type codes or None, rows,
#: rowcount, lastrowid)
Outcome = tuple[Any, Any, int, Any]
Driver = Callable[[Any, str, Any, Dialect], Awaitable[Outcome]]

#: engine events that would miss a statement run here
_EXECUTION_EVENTS = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
    "engine_connect",
)


async def _aiosqlite(dbapi_connection: Any, sql: str, args: Any, _dialect: Dialect) -> Outcome:
    aio = dbapi_connection._connection
    try:
        description, rows, rowcount, lastrowid = await aio._execute(
            _sqlite.run, aio._conn, sql, args
        )
    except Exception as error:
        dbapi_connection._handle_exception(error)  # raises the DBAPI error
        raise
    codes = tuple([d[1] for d in description]) if description else None
    return codes, rows, rowcount, lastrowid


async def _asyncpg(adapted: Any, sql: str, args: Any, dialect: Dialect) -> Outcome:
    """What SQLAlchemy's asyncpg cursor does for one buffered statement
    (``_prepare_and_execute``), without the cursor: the connection's mutex, its lazy
    ``BEGIN``, the prepared statement from its cache (with the type-cache check), the
    fetch, and its error translation."""
    async with adapted._execute_mutex:
        try:
            if adapted._transaction is None:
                await adapted._start_transaction()  # nothing in autocommit mode
            prepared, attributes = await adapted._prepare(
                sql,
                dialect._invalidate_schema_cache_asof,  # type: ignore[attr-defined]
            )
            rows = await prepared.fetch(*args)
        except Exception as error:
            try:
                adapted._handle_exception(error)  # raises the DBAPI error
            except dialect.loaded_dbapi.Error as translated:
                if isinstance(
                    translated,
                    (
                        dialect.loaded_dbapi.InvalidCachedStatementError,
                        dialect.loaded_dbapi.InternalServerError,
                    ),
                ):
                    dialect._invalidate_schema_cache()  # type: ignore[attr-defined]
                raise
            raise
    status = prepared.get_statusmsg()
    count = status.rpartition(" ")[2] if status else ""
    codes = tuple([attribute.type.oid for attribute in attributes]) if attributes else None
    return codes, rows, int(count) if count.isdigit() else -1, None


async def _aiomysql(adapted: Any, sql: str, args: Any, dialect: Dialect) -> Outcome:
    """What SQLAlchemy's aiomysql cursor does for one buffered statement, without
    opening that cursor through the greenlet: the connection's mutex, an aiomysql
    cursor of the class SQLAlchemy uses, execute, fetch, close, and its error
    translation."""
    async with adapted._execute_mutex:
        try:
            cursor = await adapted._connection.cursor(adapted.dbapi.Cursor)
            try:
                await cursor.execute(sql, args)
                description = cursor.description
                rows = await cursor.fetchall() if description else ()
                rowcount, lastrowid = cursor.rowcount, cursor.lastrowid
            finally:
                await cursor.close()
        except Exception as error:
            adapted._handle_exception(error)  # raises the DBAPI error
            raise
    codes = tuple([d[1] for d in description]) if description else None
    return codes, rows, rowcount, lastrowid


def driver_for(engine: Engine) -> Driver | None:
    """The direct call for ``engine``'s driver, or ``None`` (SQLAlchemy's path only)."""
    dialect = engine.dialect
    if set(engine._execution_options) - {"isolation_level"}:
        return None  # e.g. a schema_translate_map would change the SQL
    if dialect.driver == "aiosqlite" and _sqlite.is_one_hop(dialect.loaded_dbapi):
        return _aiosqlite
    if dialect.driver == "aiomysql":
        from sqlalchemy.dialects.mysql.aiomysql import AsyncAdapt_aiomysql_connection

        if hasattr(AsyncAdapt_aiomysql_connection, "_handle_exception"):
            return _aiomysql
    if dialect.driver == "asyncpg":
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

        # the adapter's parts _asyncpg uses (instance attributes: _execute_mutex,
        # _transaction, _prepared_statement_cache)
        needed = ("_start_transaction", "_prepare", "_handle_exception")
        if all(hasattr(AsyncAdapt_asyncpg_connection, name) for name in needed) and hasattr(
            dialect, "_invalidate_schema_cache"
        ):
            return _asyncpg
    return None


def listened(target: Any) -> bool:
    """Whether any execution event has a listener on ``target`` (an ``Engine`` or a
    ``Connection``). SQLAlchemy flags an engine or connection once any of its
    connection events gets a listener (``_has_events``); only then are they looked at."""
    if not (target._has_events or target.engine._has_events):
        return False
    dispatch = target.dispatch
    return any(getattr(dispatch, name) for name in _EXECUTION_EVENTS)


def usable(connection: Any) -> bool:
    """Whether a statement can go straight to the driver connection of ``connection``
    (a transaction's SQLAlchemy ``Connection``): connected, its transactions active
    (SQLAlchemy raises for a failed one), and no execution listener on it."""
    if connection is None or connection.invalidated or connection._dbapi_connection is None:
        return False
    transaction = connection._transaction
    nested = connection._nested_transaction
    if transaction is None or not transaction.is_active:
        return False
    if nested is not None and not nested.is_active:
        return False
    return not listened(connection)


class Plan:
    """One reused statement compiled for one dialect and one set of parameter keys."""

    __slots__ = ("binds", "columns", "dialect", "results", "sql")

    def __init__(
        self,
        sql: str,
        binds: tuple[tuple[str | None, Any, Any], ...],
        columns: tuple[Any, ...],
        dialect: Dialect,
    ) -> None:
        self.sql = sql
        #: per positional parameter: (key in the execute() parameters or None, the
        #: bind processor or None, the bound value when the key is None)
        self.binds = binds
        self.columns = columns  # the result columns' types
        self.dialect = dialect
        #: result processors per tuple of the driver's column type codes
        self.results: dict[tuple[Any, ...], tuple[Any, ...] | None] = {}

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional parameters for ``params``, processed for the driver."""
        return [
            (value if key is None else params[key])
            if process is None
            else process(value if key is None else params[key])
            for key, process, value in self.binds
        ]

    def processors(self, codes: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """The result processors for rows whose columns have driver type ``codes``."""
        if not codes:
            return None
        found = self.results.get(codes, False)
        if found is False:
            if len(codes) != len(self.columns):
                raise sa_exc.InvalidRequestError(
                    f"{len(codes)} result columns where {len(self.columns)} were compiled"
                )
            dialect = self.dialect
            processors = tuple(
                type_._cached_result_processor(dialect, code)
                for type_, code in zip(self.columns, codes, strict=True)
            )
            found = self.results[codes] = (
                processors if any(p is not None for p in processors) else None
            )
        return found  # type: ignore[return-value]


def compile_plan(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> Plan | None:
    """The :class:`Plan` of ``statement`` executed with parameters ``keys``, or ``None``
    when it needs something of SQLAlchemy's execution context."""
    compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(keys))  # type: ignore[attr-defined]
    return plan_of(compiled, set(keys), dialect)


def plan_of(compiled: Any, given: set[str] | None, dialect: Dialect) -> Plan | None:
    """The :class:`Plan` of ``compiled`` run with parameters ``given`` (the others take
    the values compiled in), or with all its parameters when ``given`` is ``None`` (from
    ``construct_params``); ``None`` when it needs SQLAlchemy's execution context."""
    if (
        not compiled.positional
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.implicit_returning
        or compiled.escaped_bind_names
        or compiled.has_out_parameters
        or compiled._textual_ordered_columns
        or compiled._ad_hoc_textual
        or compiled._loose_column_name_matching
        or (compiled._result_columns and not compiled._ordered_columns)
    ):
        return None
    processors = compiled._bind_processors
    binds = []
    for name in compiled.positiontup:
        if given is None or name in given:
            binds.append((name, processors.get(name), None))
            continue
        bind = compiled.binds.get(name)
        if bind is None or bind.required or bind.callable is not None:
            return None  # SQLAlchemy reports the missing parameter
        binds.append((None, processors.get(name), bind.value))
    columns = tuple(entry[3] for entry in compiled._result_columns)
    return Plan(compiled.string, tuple(binds), columns, dialect)


def cached_compile(
    statement: Any, dialect: Dialect, cache: Any
) -> tuple[Any, dict[str, Any]] | None:
    """``statement`` compiled through SQLAlchemy's compiled ``cache`` (as
    ``Connection.execute`` would: same cache key, same linting) and its parameter values
    for that compiled form; ``None`` when the statement has no cache key."""
    found = statement._compile_w_cache(
        dialect,
        compiled_cache=cache,
        column_keys=[],
        for_executemany=False,
        schema_translate_map=None,
        linting=dialect.compiler_linting | WARN_LINTING,
    )
    compiled, extracted = found[0], found[1]
    if extracted is None:
        return None  # compiled for this statement alone: nothing to keep a plan for
    collected = found[2] if len(found) == 4 else None  # SQLAlchemy 2.1's collected params
    if collected is not None:
        params = compiled.construct_params(
            extracted_parameters=extracted, escape_names=False, _collected_params=collected
        )
    else:
        params = compiled.construct_params(extracted_parameters=extracted, escape_names=False)
    return compiled, params


async def run(
    driver: Driver, engine: Engine, connection: Any, plan: Plan, params: Mapping[str, Any]
) -> DriverResult:
    """Run ``plan`` with ``params`` on ``connection`` (a transaction's SQLAlchemy
    ``Connection``), or on a connection checked out of ``engine``'s pool when it is
    ``None``. Driver errors come out as SQLAlchemy's ``DBAPIError`` subclasses."""
    try:
        args = plan.arguments(params)
    except Exception as error:
        # a bind processor refused a value: nothing was sent (SQLAlchemy's error too)
        raise sa_exc.StatementError(str(error), plan.sql, params, error) from error
    dialect = plan.dialect
    if connection is not None:
        fairy = connection.connection
        try:
            outcome = await driver(fairy.dbapi_connection, plan.sql, args, dialect)
        except dialect.loaded_dbapi.Error as error:
            raise await greenlet_spawn(
                _failed, engine, fairy, connection, plan, args, error
            ) from error
        except BaseException:
            # cancelled mid-statement: what the server did is unknown (asyncpg's lazy
            # BEGIN may have run without the adapter knowing of it), so the connection
            # is closed, as SQLAlchemy's execute does; the transaction is lost with it
            await to_completion(greenlet_spawn(connection.invalidate))
            raise
    elif (record := lease(engine.pool)) is not None:
        outcome = await _on_lease(driver, engine, record, plan, args)
    else:
        # checkout, the driver call and the checkin in one greenlet: checking out and in
        # can need the driver (a new connection, closing an overflow one), and each
        # greenlet_spawn costs more than the pool's own work
        outcome = await greenlet_spawn(_on_pooled, driver, engine, plan, args)
    codes, rows, rowcount, lastrowid = outcome
    return DriverResult(rows, plan.processors(codes), rowcount, lastrowid)


class _Leased:
    """What a leased connection record's ``fairy_ref`` points at while it is out."""

    __slots__ = ("__weakref__",)


_LEASED = _Leased()
#: a leased record is "in use" for SQLAlchemy (``fairy_ref`` set, its referent alive)
_LEASED_REF = weakref.ref(_LEASED)


def leasable(pool: Any) -> Any | None:
    """The idle connection record ``pool.connect()`` would hand out next, when that
    needs no I/O and so no greenlet; else ``None``.

    That is: an ``AsyncAdaptedQueuePool`` with no checkout listener but flash_db's
    liveness check (``db._liveness``), no checkin or reset listener, no pre-ping and
    no debug logging, whose next idle record (the queue's head, or its tail for
    ``pool_use_lifo``) is open (also as far as the server is concerned), not
    invalidated or soft-invalidated, not due for recycling and has no finalize
    callbacks. Any other case goes through
    SQLAlchemy's checkout in the greenlet."""
    checkout = pool.dispatch.checkout
    if (
        type(pool) is not AsyncAdaptedQueuePool
        or pool._pre_ping
        or (checkout and not _liveness.only_check(checkout))
        or pool.dispatch.checkin
        or pool.dispatch.reset
    ):
        return None
    queue = pool._pool
    # the idle connection records: the deque of the asyncio.Queue in SQLAlchemy's queue
    idle = queue._queue._queue  # type: ignore[attr-defined]
    if not idle or pool._should_log_debug():
        return None
    record = idle[-1] if queue.use_lifo else idle[0]
    start = record.starttime
    recycle = pool._recycle
    if (
        record.dbapi_connection is None
        # what the liveness listener would refuse, where it is installed (not on SQLite);
        # the checkout in the greenlet then replaces the connection
        or (checkout and _liveness.peer_closed(record.dbapi_connection))
        or record.finalize_callback
        or pool._invalidate_time > start
        or record._soft_invalidate_time > start
        or (recycle > -1 and time.time() - start > recycle - _RECYCLE_MARGIN)
    ):
        return None
    return record


#: seconds before its ``pool_recycle`` age at which a connection is left to the greenlet
_RECYCLE_MARGIN = 1.0


def lease(pool: Any) -> Any | None:
    """Take an idle connection record out of ``pool`` without a ``_ConnectionFairy``
    (see :func:`leasable`), or ``None``. The record counts as checked out, as with
    ``pool.connect()``; it goes back by :func:`release`, or becomes a fairy by
    :func:`adopt` for anything SQLAlchemy has to do with it."""
    record = leasable(pool)
    if record is None:
        return None
    taken = pool._pool.get_nowait()
    assert taken is record, "the pool handed out another connection than its next idle one"
    record.fairy_ref = _LEASED_REF
    return record


def release(pool: Any, record: Any) -> bool:
    """Put the leased ``record`` back into ``pool`` when that needs no I/O, as
    ``fairy.close()`` would: no checkin or reset listener, no finalize callback, room
    in the pool's queue (else SQLAlchemy closes an overflow connection), and nothing
    to roll back or commit. ``False``: nothing done, the caller checks it in through
    :func:`adopt`."""
    # asked again after the statement: a listener or callback may have come meanwhile
    if pool.dispatch.checkin or pool.dispatch.reset or record.finalize_callback:
        return False
    queue = pool._pool
    if queue.maxsize and queue.qsize() >= queue.maxsize:
        return False
    reset = pool._reset_on_return
    if reset is not reset_none:
        dialect = pool._dialect
        if not (
            reset is reset_rollback
            and dialect.skip_autocommit_rollback
            and dialect.detect_autocommit_setting(record.dbapi_connection)
        ):
            return False
    record.fairy_ref = None
    # what pool._return_conn() comes to with room in the queue (checked above)
    queue._queue.put_nowait(record)
    return True


def adopt(pool: Any, record: Any) -> Any:
    """The leased ``record`` as the ``_ConnectionFairy`` ``pool.connect()`` would have
    made of it, so that SQLAlchemy checks it in, invalidates it, or (when it is lost
    to the garbage collector, as a cancelled task's can be) cleans it up."""
    fairy = _ConnectionFairy(pool, record.dbapi_connection, record, pool._should_log_debug())
    fairy._counter = 1  # checked out once: its close() checks it in
    record.fairy_ref = weakref.ref(fairy, _no_callback)
    return fairy


def _no_callback(_ref: Any) -> None:
    """A weakref callback that does nothing (SQLAlchemy's own checkout gives the fairy's
    weakref one too, so that it is cleared only after the fairy's finalizer ran)."""


async def _on_lease(driver: Driver, engine: Engine, record: Any, plan: Plan, args: Any) -> Outcome:
    """Run ``plan`` on a leased connection ``record``, put back without a greenlet when
    :func:`release` can; failures are handled by SQLAlchemy, in one."""
    dialect = plan.dialect
    pool = engine.pool
    try:
        outcome: Outcome = await driver(record.dbapi_connection, plan.sql, args, dialect)
    except dialect.loaded_dbapi.Error as error:
        fairy = adopt(pool, record)
        raise await greenlet_spawn(_failed_and_closed, engine, fairy, plan, args, error) from error
    except BaseException:
        # cancelled mid-statement: the connection's state is unknown. Adopted before
        # anything awaits, so that a coroutine closed here leaves its connection to
        # SQLAlchemy's clean-up of lost fairies.
        fairy = adopt(pool, record)
        await greenlet_spawn(_invalidated_and_closed, fairy)
        raise
    if not release(pool, record):
        await greenlet_spawn(adopt(pool, record).close)
    return outcome


def _failed_and_closed(
    engine: Engine, fairy: Any, plan: Plan, args: Any, error: Any
) -> BaseException:
    try:
        return _failed(engine, fairy, None, plan, args, error)
    finally:
        fairy.close()


def _invalidated_and_closed(fairy: Any) -> None:
    try:
        fairy.invalidate()
    finally:
        fairy.close()


def _on_pooled(driver: Driver, engine: Engine, plan: Plan, args: Any) -> Outcome:
    """In SQLAlchemy's greenlet: run ``plan`` on a connection checked out of the pool."""
    dialect = plan.dialect
    fairy = engine.pool.connect()
    try:
        outcome: Outcome = await_only(driver(fairy.dbapi_connection, plan.sql, args, dialect))
    except dialect.loaded_dbapi.Error as error:
        raise _failed(engine, fairy, None, plan, args, error) from error
    except BaseException:
        # cancelled mid-statement: the connection's state is unknown
        fairy.invalidate()
        raise
    finally:
        fairy.close()
    return outcome


def _failed(
    engine: Engine, fairy: Any, connection: Any, plan: Plan, args: Any, error: Any
) -> BaseException:
    """In SQLAlchemy's greenlet: the driver ``error`` as SQLAlchemy would raise it from
    ``Connection.execute``, after doing what it does on a disconnect: the pool's
    connections as old as ``fairy`` are stale, ``fairy`` is invalidated, and so is the
    transaction's ``connection`` (``None`` outside a transaction)."""
    dialect = plan.dialect
    disconnect = bool(dialect.is_disconnect(error, fairy.dbapi_connection, None))
    if disconnect:
        engine.pool._invalidate(fairy, error)
        if connection is not None:
            connection.invalidate(error)
    return sa_exc.DBAPIError.instance(
        plan.sql,
        args,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=disconnect,
        dialect=dialect,
        ismulti=False,
    )
