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
take the transaction's), one call on the driver, a :class:`DriverResult`.

What is kept from SQLAlchemy's path:

- the SQL and every type conversion (the plan is SQLAlchemy's compiled statement);
- the pool, its events, and autocommit connections returned without a rollback;
- asyncpg's prepared-statement cache, its lazy ``BEGIN`` inside ``atomic()`` and its
  schema-cache invalidation (the plan calls the adapter's own execute coroutine);
- error translation: a driver error becomes SQLAlchemy's ``DBAPIError`` subclass, as
  SQLAlchemy would raise it, and ``translated()`` maps it onto the flash_db tree; a
  disconnect invalidates the connection and the pool's older ones, as SQLAlchemy does.

A statement goes the ordinary way when the plan cannot stand in for SQLAlchemy: a
listener on the engine's execution events (``count_queries`` is one), engine-wide
execution options, Python-side column defaults, expanding or literal parameters,
implicit RETURNING, a missing parameter (SQLAlchemy raises its error), or a driver
other than asyncpg and flash_db's one-hop aiosqlite (aiomysql's adapter opens its
cursor through the greenlet, so MariaDB and MySQL keep SQLAlchemy's path).

Nothing here is public: ``Database.plan`` calls :func:`compile_plan` (and keeps the
plans), ``ConnectionHandler.execute`` calls :func:`run`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.sql import Executable
from sqlalchemy.util import await_only, greenlet_spawn

from ..query.executor import DriverResult
from . import _sqlite

#: what a driver call returns: (description, rows, rowcount, lastrowid)
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
        outcome: Outcome = await aio._execute(_sqlite.run, aio._conn, sql, args)
    except Exception as error:
        dbapi_connection._handle_exception(error)  # raises the DBAPI error
        raise
    return outcome


async def _asyncpg(dbapi_connection: Any, sql: str, args: Any, dialect: Dialect) -> Outcome:
    cursor = dbapi_connection.cursor()
    cursor._invalidate_schema_cache_asof = dialect._invalidate_schema_cache_asof  # type: ignore[attr-defined]
    try:
        await cursor._prepare_and_execute(sql, args)
    except Exception as error:
        dbapi = dialect.loaded_dbapi
        if isinstance(error, (dbapi.InvalidCachedStatementError, dbapi.InternalServerError)):
            dialect._invalidate_schema_cache()  # type: ignore[attr-defined]
        raise
    return cursor._description, cursor._rows, cursor._rowcount, None


def driver_for(engine: Engine) -> Driver | None:
    """The direct call for ``engine``'s driver, or ``None`` (SQLAlchemy's path only)."""
    dialect = engine.dialect
    if set(engine._execution_options) - {"isolation_level"}:
        return None  # e.g. a schema_translate_map would change the SQL
    if dialect.driver == "aiosqlite" and _sqlite.is_one_hop(dialect.loaded_dbapi):
        return _aiosqlite
    if dialect.driver == "asyncpg":
        from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_cursor

        needed = ("_prepare_and_execute", "_description", "_rows", "_rowcount")
        if all(hasattr(AsyncAdapt_asyncpg_cursor, name) for name in needed) and hasattr(
            dialect, "_invalidate_schema_cache"
        ):
            return _asyncpg
    return None


def listened(dispatch: Any) -> bool:
    """Whether any execution event has a listener on ``dispatch``."""
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
    return not listened(connection.dispatch)


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

    def processors(self, description: Any) -> tuple[Any, ...] | None:
        """The result processors for rows described by ``description``."""
        if not description:
            return None
        codes = tuple(d[1] for d in description)
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
    given = set(keys)
    processors = compiled._bind_processors
    binds = []
    for name in compiled.positiontup:
        if name in given:
            binds.append((name, processors.get(name), None))
            continue
        bind = compiled.binds.get(name)
        if bind is None or bind.required or bind.callable is not None:
            return None  # SQLAlchemy reports the missing parameter
        binds.append((None, processors.get(name), bind.value))
    columns = tuple(entry[3] for entry in compiled._result_columns)
    return Plan(compiled.string, tuple(binds), columns, dialect)


async def run(
    driver: Driver, engine: Engine, connection: Any, plan: Plan, params: Mapping[str, Any]
) -> DriverResult:
    """Run ``plan`` with ``params`` on ``connection`` (a transaction's SQLAlchemy
    ``Connection``), or on a connection checked out of ``engine``'s pool when it is
    ``None``. Driver errors come out as SQLAlchemy's ``DBAPIError`` subclasses."""
    args = plan.arguments(params)
    dialect = plan.dialect
    if connection is not None:
        fairy = connection.connection
        try:
            outcome = await driver(fairy.dbapi_connection, plan.sql, args, dialect)
        except dialect.loaded_dbapi.Error as error:
            raise await greenlet_spawn(
                _failed, engine, fairy, connection, plan, args, error
            ) from error
    else:
        # checkout, the driver call and the checkin in one greenlet: checking out and in
        # can need the driver (a new connection, closing an overflow one), and each
        # greenlet_spawn costs more than the pool's own work
        outcome = await greenlet_spawn(_on_pooled, driver, engine, plan, args)
    description, rows, rowcount, lastrowid = outcome
    return DriverResult(rows, plan.processors(description), rowcount, lastrowid)


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
