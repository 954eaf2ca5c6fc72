"""What a database backend can do, read once from its SQLAlchemy dialect.

Code that must behave differently per backend asks a flag here
(``features.insert_returning``) instead of testing the dialect's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Dialect


@dataclass(frozen=True, slots=True)
class Features:
    """Capabilities of one database backend."""

    vendor: str
    #: INSERT ... RETURNING for one row
    insert_returning: bool
    #: the driver reports the auto-increment key of a single-row INSERT (the cursor's
    #: ``lastrowid``: SQLite, MySQL/MariaDB): no RETURNING is needed for it alone
    insert_lastrowid: bool
    #: executemany INSERT ... RETURNING with rows in parameter order (pks for bulk_create)
    insert_many_returning: bool
    #: bulk INSERT as one ``INSERT … SELECT … FROM unnest(<one array per column>)``
    #: (PostgreSQL): one statement and one prepared plan for any number of rows
    insert_from_arrays: bool
    #: INSERT ... ON CONFLICT (cols) DO ...  (PostgreSQL, SQLite) vs ON DUPLICATE KEY (MySQL)
    upsert_style: str
    #: streaming results needs a transaction (server-side cursors on PostgreSQL)
    stream_needs_transaction: bool
    #: a cancelled task's await can stop the statement it waits on; SQLite's run to their
    #: end on aiosqlite's thread whatever the task does, so a stream's fetch is left to
    #: finish (cutting it short closed the connection under its open cursor)
    statements_interruptible: bool
    #: the isolation level a transaction gets when none is asked for
    default_isolation: str
    #: makes the transaction just begun read-only (``atomic(read_only=True)``)
    read_only_sql: str
    #: undoes ``read_only_sql`` before the connection goes back to the pool (SQLite's pragma
    #: outlives the transaction)
    read_only_reset_sql: str | None
    #: switching a connection back to autocommit is a statement to the server (MySQL's
    #: SET AUTOCOMMIT=1; asyncpg keeps the mode in the client), so it can fail
    autocommit_switch_sends_sql: bool
    #: DDL runs inside a transaction and rolls back with it: PostgreSQL, and SQLite on
    #: flash_db's connections (``begin_sql``: the sqlite3 module itself sends no BEGIN
    #: before DDL); MySQL/MariaDB commit each DDL statement at once
    transactional_ddl: bool
    #: sent by ``atomic()`` to open its transaction on a connection left in the driver's
    #: autocommit mode; ``None``: the connection is switched to the isolation level and
    #: the driver opens the transaction
    begin_sql: str | None = None

    @classmethod
    def from_dialect(cls, dialect: Dialect) -> Features:
        name = dialect.name
        # SQLAlchemy memoizes the executemany RETURNING flags on first read: read before
        # the dialect has seen the server (server_version_info unset), they would stay
        # the pre-connection defaults (MariaDB: no RETURNING) for the engine's lifetime,
        # for SQLAlchemy's own executemany too. Until then, assume none.
        initialized = dialect.server_version_info is not None
        return cls(
            vendor=name,
            insert_returning=bool(dialect.insert_returning),
            insert_lastrowid=name in ("sqlite", "mysql")
            and bool(getattr(dialect, "postfetch_lastrowid", False)),
            insert_many_returning=initialized
            and bool(
                dialect.insert_executemany_returning
                and dialect.insert_executemany_returning_sort_by_parameter_order
            ),
            insert_from_arrays=name == "postgresql",
            upsert_style="on_duplicate_key" if name == "mysql" else "on_conflict",
            stream_needs_transaction=name == "postgresql",
            statements_interruptible=name != "sqlite",
            default_isolation={
                "postgresql": "READ COMMITTED",
                "mysql": "REPEATABLE READ",
            }.get(name, "SERIALIZABLE"),
            read_only_sql="PRAGMA query_only = ON"
            if name == "sqlite"
            else "SET TRANSACTION READ ONLY",
            read_only_reset_sql="PRAGMA query_only = OFF" if name == "sqlite" else None,
            autocommit_switch_sends_sql=name == "mysql",
            transactional_ddl=name != "mysql",
            # SQLite has one isolation level, so nothing is gained by switching the sqlite3
            # connection out of autocommit, and each switch (and the switch back when the
            # pool takes the connection) is a hop to aiosqlite's thread. BEGIN IMMEDIATE
            # takes the write lock up front: concurrent writers wait (busy timeout) instead
            # of failing with "database is locked" when they upgrade their lock.
            begin_sql="BEGIN IMMEDIATE" if name == "sqlite" else None,
        )
