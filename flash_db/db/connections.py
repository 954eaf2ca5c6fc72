"""Databases, engines and the executor that runs QuerySet statements.

One async SQLAlchemy engine per configured database alias. Outside a
transaction, each statement runs on a pooled connection in AUTOCOMMIT mode
(no BEGIN/COMMIT round trips); inside ``transaction()`` every statement of the
task goes to the transaction's connection, bound through a context variable.

Example::

    await flash_db.connect(databases={"default": URL_A, "archive": URL_B})
    await Author.objects.using("archive").count()
    await flash_db.disconnect()
"""

from __future__ import annotations

import asyncio
import warnings
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, CursorResult, Dialect, Engine, Row
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable
from sqlalchemy.util import greenlet_spawn

from ..exceptions import ConfigurationError, DatabaseError
from ..models import metadata, registry
from ..query import Features
from ..query import install as install_executor
from ..query.executor import READS_ROWS, REUSED, DriverResult
from . import _asyncpg, _liveness, _sqlite, config, direct
from ._completion import to_completion
from .context import current, current_transaction
from .errors import register_dbapi, translated
from .transaction import Atomic, discard


@dataclass
class Database:
    """One configured database: its alias, URL, engine and features."""

    alias: str
    url: URL
    engine: AsyncEngine
    features: Features
    #: the direct driver call for reused statements (``None``: SQLAlchemy's path only)
    driver: direct.Driver | None = None
    #: compiled plans of reused statements (``None``: SQLAlchemy's path), per
    #: (id(statement), parameter keys); each entry holds its statement, so the id stays its own
    plans: dict[tuple[int, tuple[str, ...]], tuple[Any, direct.Plan | None]] = field(
        default_factory=dict
    )
    #: plans of statements built per call, per compiled form in SQLAlchemy's compiled
    #: cache (``None``: SQLAlchemy's path); an entry goes when the cache drops its form
    compiled_plans: weakref.WeakKeyDictionary[Any, direct.Plan | None] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def plan(self, statement: Executable, params: Mapping[str, Any]) -> direct.Plan | None:
        """The plan to run the reused ``statement`` with ``params``, or ``None``."""
        key = (id(statement), tuple(params))
        entry = self.plans.get(key)
        if entry is None or entry[0] is not statement:
            dialect = self.engine.dialect
            if dialect.server_version_info is None:
                # not connected yet (connect(check=False)): the dialect learns what the
                # server supports on the first connection, and the SQL may depend on it
                return None
            plan = direct.compile_plan(statement, key[1], dialect)
            entry = self.plans[key] = (statement, plan)
        return entry[1]

    def cached_plan(self, statement: Executable) -> tuple[direct.Plan, dict[str, Any]] | None:
        """The plan of ``statement`` (a SELECT built per call) from SQLAlchemy's compiled
        cache, with its parameter values; ``None``: SQLAlchemy's path."""
        engine = self.engine.sync_engine
        dialect = engine.dialect
        cache = engine._compiled_cache
        if cache is None or dialect.server_version_info is None:
            return None
        found = direct.cached_compile(statement, dialect, cache)
        if found is None:
            return None
        compiled, params = found
        plans = self.compiled_plans
        if compiled in plans:
            plan = plans[compiled]
        else:
            plan = plans[compiled] = direct.plan_of(compiled, None, dialect)
        return None if plan is None else (plan, params)

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @property
    def display_url(self) -> str:
        """The URL with the password hidden."""
        return config.mask(self.url)

    def __repr__(self) -> str:
        return f"<Database {self.alias!r} {self.display_url}>"


def _utc_session(url: URL, connect_args: Mapping[str, Any]) -> dict[str, Any]:
    """Connection arguments that run every session in UTC (unless the user set a zone).

    Date lookups (``__date``, ``__year``) and ``Now()`` are computed by the server
    in the session's time zone, while aware datetimes are stored as UTC; pinning
    the session to UTC makes them agree on every backend.
    """
    args = dict(connect_args)
    backend = url.get_backend_name()
    if backend == "postgresql":
        args["server_settings"] = {"timezone": "UTC", **(args.get("server_settings") or {})}
    elif backend == "mysql":
        args.setdefault("init_command", "SET time_zone = '+00:00'")
    return args


def _skips_autocommit_rollback(url: URL) -> bool:
    """Whether the dialect can tell an autocommit connection (SQLAlchemy's
    ``skip_autocommit_rollback`` raises on the others)."""
    try:
        dialect = url.get_dialect()
    except (ImportError, sa.exc.ArgumentError):
        return False
    detect = getattr(dialect, "detect_autocommit_setting", None)
    return detect is not None and detect is not DefaultDialect.detect_autocommit_setting


def _engine_for(url: URL, options: Mapping[str, Any]) -> AsyncEngine:
    kwargs: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", **_sqlite.engine_options(url)}
    if _skips_autocommit_rollback(url):
        # The pool rolls back every connection it gets back; one in autocommit mode
        # (every statement outside atomic()) has nothing to roll back, and the
        # ROLLBACK costs a round trip to aiosqlite's thread or to the MySQL server.
        kwargs["skip_autocommit_rollback"] = True
    kwargs.update(options)
    kwargs["connect_args"] = _utc_session(url, kwargs.get("connect_args") or {})
    asyncpg = url.get_driver_name() == "asyncpg"
    if asyncpg:
        kwargs["connect_args"] = _asyncpg.connect_args(kwargs["connect_args"])
    try:
        engine = create_async_engine(url, **kwargs)
    except ModuleNotFoundError as exc:
        extra = {"postgresql": "postgres", "mysql": "mysql"}.get(url.get_backend_name(), "all")
        raise ConfigurationError(
            f"the driver for {config.mask(url)} is not installed ({exc.name}); "
            f"pip install 'flash_db[{extra}]'"
        ) from None
    except (TypeError, sa.exc.ArgumentError) as exc:
        raise ConfigurationError(f"bad engine options for {config.mask(url)}: {exc}") from None
    sync = engine.sync_engine
    if url.get_backend_name() == "sqlite":
        _sqlite.install(sync)
    else:
        # a server closes the pool's idle connections when it restarts or times them out
        _liveness.install(sync)
    if asyncpg:
        _asyncpg.install(sync)
    # a pool checkout raises the driver's own errors, unwrapped: translated() must know them
    register_dbapi(engine.dialect, *(_asyncpg.native_errors() if asyncpg else ()))
    return engine


def _execute_autocommit(engine: Engine, statement: Executable, params: Any) -> Any:
    """One statement on a pooled connection (in AUTOCOMMIT mode), run inside SQLAlchemy's
    greenlet. The result is buffered (the async drivers' cursors fetch on execute), so
    it outlives the connection's return to the pool."""
    with engine.connect() as conn:
        return conn.execute(statement, params)


async def _open_stream(conn: AsyncConnection, statement: Executable, interruptible: bool) -> Any:
    """``conn.stream(statement)``; where statements are not ``interruptible`` it runs to
    its end, and a result opened for a task cancelled meanwhile is closed again."""
    if interruptible:
        return await conn.stream(statement)
    opening = asyncio.ensure_future(conn.stream(statement))
    try:
        return await to_completion(opening)
    except asyncio.CancelledError:
        if not opening.cancelled() and opening.exception() is None:
            await to_completion(_close_quietly(opening.result()))
        raise


async def _close_quietly(result: Any) -> None:
    try:
        await result.close()
    except Exception:
        pass


async def _release(conn: AsyncConnection) -> None:
    """Return a stream's connection to the pool, or discard it if that fails."""
    with warnings.catch_warnings():
        # aiomysql drains an abandoned server-side cursor when the pool resets the
        # connection, and warns about it; draining is what we want.
        warnings.filterwarnings("ignore", "Previous unbuffered result")
        try:
            await conn.close()
        except Exception:
            await discard(conn)


def allow_migrate(routers: Sequence[Any], alias: str, model: Any) -> bool:
    """Whether ``model``'s table belongs on ``alias``: the first router with an opinion, else
    ``Meta.database`` (``"default"`` when unset)."""
    for router in routers:
        decide = getattr(router, "allow_migrate", None)
        if decide is not None:
            verdict = decide(alias, model)
            if verdict is not None:
                return bool(verdict)
    return (model._meta.database or config.DEFAULT_ALIAS) == alias


def models_on(routers: Sequence[Any], alias: str) -> list[Any]:
    """The registered models whose tables belong on ``alias`` (see :func:`allow_migrate`)."""
    return [m for m in registry if allow_migrate(routers, alias, m)]


def tables_on(routers: Sequence[Any], alias: str) -> list[sa.Table]:
    """The tables flash_db creates, drops and migrates on ``alias``: those of the models
    :func:`models_on` puts there, but for ``Meta.managed = False`` ones."""
    return [m._meta.table for m in models_on(routers, alias) if m._meta.managed]


def _refresh_features_on_first_connect(database: Database) -> None:
    """Read the features again once the dialect knows the server.

    SQLAlchemy learns the server version (and with it, e.g., MariaDB's INSERT …
    RETURNING) on the first connection; features read before it are the dialect's
    conservative defaults, which would keep bulk_create on one INSERT per row.
    """

    def refresh(_dbapi_connection: Any, _record: Any) -> None:
        database.features = Features.from_dialect(database.engine.dialect)

    # The engine runs dialect.initialize() in its own "connect" listener; this one is
    # registered after it, so it sees the initialized dialect ("first_connect" would not).
    event.listen(database.engine.sync_engine, "connect", refresh, once=True)


class ConnectionHandler:
    """The configured databases, routers, and the executor used by QuerySets."""

    def __init__(self) -> None:
        self.databases: dict[str, Database] = {}
        self.routers: list[Any] = []
        self.settings: config.Settings | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return bool(self.databases)

    async def connect(
        self,
        url: str | URL | None = None,
        *,
        databases: Mapping[str, str | URL] | None = None,
        routers: Sequence[Any] = (),
        check: bool = True,
        **engine_options: Any,
    ) -> ConnectionHandler:
        if self.databases:
            await self.disconnect()
        settings = config.resolve(url, databases)
        created: dict[str, Database] = {}
        try:
            for alias, db_url in settings.databases.items():
                engine = _engine_for(db_url, engine_options)
                database = created[alias] = Database(
                    alias,
                    db_url,
                    engine,
                    Features.from_dialect(engine.dialect),
                    direct.driver_for(engine.sync_engine),
                )
                _refresh_features_on_first_connect(database)
            if check:
                for database in created.values():
                    await self._check(database)
        except BaseException:
            for database in created.values():
                await database.engine.dispose()
            raise
        self.databases = created
        self.routers = list(routers)
        self.settings = settings
        return self

    async def _check(self, database: Database) -> None:
        """Open one connection now, so a wrong URL fails at connect() with a clear message."""
        try:
            with translated(database.alias):
                async with database.engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
        except DatabaseError as exc:
            raise type(exc)(f"{exc} [{database.display_url}]", exc.driver_error) from None

    async def disconnect(self) -> None:
        databases, self.databases = self.databases, {}
        self.routers = []
        for database in databases.values():
            await database.engine.dispose()

    def __getitem__(self, alias: str) -> Database:
        try:
            return self.databases[alias]
        except KeyError:
            if not self.databases:
                raise ConfigurationError(
                    "flash_db is not connected; call await flash_db.connect() first"
                ) from None
            raise ConfigurationError(
                f"unknown database {alias!r}; configured: {', '.join(self.databases)}"
            ) from None

    # -- routing ----------------------------------------------------------------------------

    def _route(self, method: str, model: Any, using: str | None, hints: dict[str, Any]) -> str:
        if using:
            self[using]
            return using
        for router in self.routers:
            chooser = getattr(router, method, None)
            if chooser is not None:
                alias = chooser(model, **hints)
                if alias:
                    self[alias]
                    return str(alias)
        instance = hints.get("instance")
        if instance is not None and instance.__dict__.get("_db"):
            return str(instance.__dict__["_db"])
        alias = model._meta.database or config.DEFAULT_ALIAS
        self[alias]
        return str(alias)

    def db_for_read(self, model: Any, using: str | None, **hints: Any) -> str:
        alias = self._route("db_for_read", model, using, hints)
        if using is None and current.get():
            # Read your writes: inside atomic() on the model's write database, read there.
            write = self._route("db_for_write", model, None, hints)
            if write != alias and current_transaction(write) is not None:
                return write
        return alias

    def db_for_write(self, model: Any, using: str | None, **hints: Any) -> str:
        return self._route("db_for_write", model, using, hints)

    def allow_migrate(self, alias: str, model: Any) -> bool:
        """Whether ``model``'s table belongs on ``alias`` (routers first, then Meta.database)."""
        return allow_migrate(self.routers, alias, model)

    # -- executor ---------------------------------------------------------------------------

    def features(self, alias: str) -> Features:
        return self[alias].features

    def dialect(self, alias: str | None = None) -> Dialect:
        if self.databases:
            return self[alias or config.DEFAULT_ALIAS].dialect
        settings = config.resolve()
        url = settings.databases[alias or config.DEFAULT_ALIAS]
        dialect: Dialect = url.get_dialect()()
        return dialect

    async def execute(
        self, alias: str, statement: Executable, params: Any = None
    ) -> CursorResult[Any] | DriverResult:
        tx = current_transaction(alias)
        options = statement._execution_options
        if options:
            reused = type(params) is dict and params and options.get(REUSED)
            if reused or (params is None and options.get(READS_ROWS)):
                database = self[alias]
                if database.driver is not None:
                    result = await self._on_driver(
                        database, tx, statement, params if reused else None
                    )
                    if result is not None:
                        return result
        with translated(alias):
            if tx is not None:
                return await tx.connection.execute(statement, params)
            # Checkout, execute and return in one greenlet: AsyncConnection's connect(),
            # execute() and close() would switch into SQLAlchemy's greenlet three times.
            return await greenlet_spawn(
                _execute_autocommit, self[alias].engine.sync_engine, statement, params
            )

    @staticmethod
    async def _on_driver(
        database: Database, tx: Any, statement: Executable, params: Mapping[str, Any] | None
    ) -> DriverResult | None:
        """``statement`` run by a plan on the driver (see ``db.direct``): a reused
        statement with its ``params``, or (``params`` is ``None``) a SELECT marked
        :data:`READS_ROWS`, by the plan of its compiled form. ``None`` when it has to go
        through SQLAlchemy's ``Connection``."""
        assert database.driver is not None
        if params is None and len(statement._execution_options) != 1:
            return None  # options for SQLAlchemy's execution (e.g. a schema_translate_map)
        engine = database.engine.sync_engine
        connection = None
        if tx is not None:
            connection = tx.connection.sync_connection
            if not direct.usable(connection):
                return None
        elif direct.listened(engine):
            return None
        with translated(database.alias):  # compiling can fail as SQLAlchemy's path would
            found = (
                database.cached_plan(statement)
                if params is None
                else (database.plan(statement, params), params)
            )
            if found is None or found[0] is None:
                return None
            return await direct.run(database.driver, engine, connection, found[0], found[1])

    async def stream(
        self, alias: str, statement: Executable, chunk_size: int
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        statement = statement.execution_options(yield_per=chunk_size)
        tx = current_transaction(alias)
        if tx is not None:
            interruptible = self[alias].features.statements_interruptible
            with translated(alias):
                result = await _open_stream(tx.connection, statement, interruptible)
            async for chunk in self._partitions(alias, result, chunk_size, interruptible):
                yield chunk
            return
        database = self[alias]
        with translated(alias):
            conn = await database.engine.connect()
        try:
            if database.features.stream_needs_transaction:
                # PostgreSQL server-side cursors only live inside a transaction.
                with translated(alias):
                    await conn.execution_options(
                        isolation_level=database.features.default_isolation
                    )
                    await conn.begin()
            interruptible = database.features.statements_interruptible
            with translated(alias):
                result = await _open_stream(conn, statement, interruptible)
            async for chunk in self._partitions(alias, result, chunk_size, interruptible):
                yield chunk
        finally:
            # to its end even if the task is cancelled again, so that the connection is
            # back in the pool (or discarded) when the loop is left
            await to_completion(_release(conn))

    @staticmethod
    async def _partitions(
        alias: str, result: Any, chunk_size: int, interruptible: bool
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        iterator = result.partitions(chunk_size).__aiter__()
        try:
            while True:
                with translated(alias):
                    try:
                        fetched = iterator.__anext__()
                        chunk = await (fetched if interruptible else to_completion(fetched))
                    except StopAsyncIteration:
                        break
                yield chunk
        except BaseException:
            # An error, a cancellation or an abandoned loop (GeneratorExit): closing the
            # result discards the unread rows of a server-side cursor, so the connection
            # goes back to the pool clean; if that fails too, the first error is the one
            # to report, and the connection's return (or its atomic()) discards it.
            await to_completion(_close_quietly(result))
            raise
        with translated(alias):
            await result.close()

    def in_transaction(self, alias: str) -> bool:
        return current_transaction(alias) is not None

    def transaction(self, alias: str) -> AbstractAsyncContextManager[Any]:
        """A block whose statements commit together (a savepoint when nested): ``atomic(alias)``."""
        return Atomic(alias, handler=self)

    # -- schema -----------------------------------------------------------------------------

    def tables_for(self, alias: str) -> list[sa.Table]:
        """Tables of the registered (managed) models that live on ``alias``."""
        return tables_on(self.routers, alias)

    async def create_all(self, using: str | None = None) -> None:
        for alias in [using] if using else list(self.databases):
            tables = self.tables_for(alias)
            with translated(alias):
                async with self[alias].engine.connect() as conn:
                    await conn.run_sync(metadata.create_all, tables=tables)

    async def drop_all(self, using: str | None = None) -> None:
        for alias in [using] if using else list(self.databases):
            tables = self.tables_for(alias)
            with translated(alias):
                async with self[alias].engine.connect() as conn:
                    await conn.run_sync(metadata.drop_all, tables=tables)


connections = ConnectionHandler()
install_executor(connections)
