"""Plans of reused statements (``db/direct.py``) and the results they give
(``DriverResult``), without a database: the compiled SQL and parameter order must be
SQLAlchemy's own, and anything needing SQLAlchemy's execution context has no plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.mysql import aiomysql
from sqlalchemy.dialects.postgresql import asyncpg

from flash_db.db import direct
from flash_db.query.executor import DriverResult
from flash_db.sqltypes import UTCDateTime

metadata = sa.MetaData()
table = sa.Table(
    "plan_item",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(20)),
    sa.Column("at", UTCDateTime()),
    sa.Column("stamp", sa.Integer, default=lambda: 7),  # a Python-side default
)
pk = sa.bindparam("flash_pk_", type_=sa.Integer)

#: the drivers' own dialects: their paramstyles are positional ($1, ?, %s)
DIALECTS = [sqlite.dialect(), asyncpg.dialect(), aiomysql.dialect()]


def sa_arguments(stmt: Any, params: dict[str, Any], dialect: Any) -> tuple[str, list[Any]]:
    """The SQL and positional parameters SQLAlchemy's execution context would send."""
    compiled: Any = stmt.compile(dialect=dialect, column_keys=sorted(params))
    values = compiled.construct_params(params, escape_names=False)
    processors = compiled._bind_processors
    return compiled.string, [
        processors[k](values[k]) if k in processors else values[k] for k in compiled.positiontup
    ]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_select_by_pk_matches_sqlalchemy(dialect: Any) -> None:
    stmt = sa.select(table.c.id, table.c.name, table.c.at).where(table.c.id == pk).limit(2)
    params = {"flash_pk_": 5}
    plan = direct.compile_plan(stmt, tuple(params), dialect)
    assert plan is not None
    sql, arguments = sa_arguments(stmt, params, dialect)
    assert (plan.sql, plan.arguments(params)) == (sql, arguments)
    assert len(plan.columns) == 3


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_insert_and_update_take_their_columns_from_the_keys(dialect: Any) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    insert = sa.insert(table).returning(table.c.id)
    params = {"name": "a", "at": when, "stamp": 1}
    plan = direct.compile_plan(insert, tuple(params), dialect)
    assert plan is not None
    assert (plan.sql, plan.arguments(params)) == sa_arguments(insert, params, dialect)
    update = sa.update(table).where(table.c.id == pk)
    params = {"name": "b", "stamp": 2, "flash_pk_": 3}
    plan = direct.compile_plan(update, tuple(params), dialect)
    assert plan is not None
    assert (plan.sql, plan.arguments(params)) == sa_arguments(update, params, dialect)


def test_what_needs_sqlalchemys_context_has_no_plan() -> None:
    dialect = sqlite.dialect()
    # the Python-side default of "stamp" is computed by the execution context
    assert direct.compile_plan(sa.insert(table), ("name",), dialect) is None
    # a missing parameter: SQLAlchemy raises its own error
    stmt = sa.select(table.c.id).where(table.c.id == pk)
    assert direct.compile_plan(stmt, ("other",), dialect) is None
    # expanding IN parameters are rendered per execution
    expanding = sa.select(table.c.id).where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
    assert direct.compile_plan(expanding, ("ids",), dialect) is None


def test_result_processors_follow_the_drivers_column_types() -> None:
    dialect = sqlite.dialect()
    stmt = sa.select(table.c.id, table.c.at).where(table.c.id == pk)
    plan = direct.compile_plan(stmt, ("flash_pk_",), dialect)
    assert plan is not None
    # the drivers' type codes of the result columns: sqlite3 reports none
    processors = plan.processors((None, None))
    assert processors is not None and processors[0] is None and processors[1] is not None
    assert plan.processors(None) is None
    with pytest.raises(exc.InvalidRequestError, match="1 result columns where 2"):
        plan.processors((None,))


def test_driver_result_answers_like_a_cursor_result() -> None:
    double = DriverResult([(1, "a"), (2, "b")], (None, str.upper), 2, None)
    assert double.all() == [(1, "A"), (2, "B")]
    assert double.first() == (1, "A") and double.scalar() == 1
    assert double.scalars() == [1, 2]
    with pytest.raises(exc.MultipleResultsFound):
        double.one()
    empty = DriverResult([], None, 0, None)
    assert empty.first() is None and empty.scalar() is None
    with pytest.raises(exc.NoResultFound):
        empty.scalar_one()
    inserted = DriverResult((), None, 1, 42)
    assert inserted.inserted_primary_key == (42,) and inserted.rowcount == 1


def test_asyncpg_timestamptz_needs_no_processor_but_other_codes_do() -> None:
    """Processors are chosen per driver type code: asyncpg's timestamptz (1184) decodes
    aware UTC datetimes itself; a plain timestamp (1114) still gets the zone attached."""
    from sqlalchemy.dialects.postgresql import asyncpg

    from flash_db.sqltypes import ASYNCPG_TIMESTAMPTZ

    dialect = asyncpg.dialect()
    stmt = sa.select(table.c.id, table.c.at).where(table.c.id == pk)
    plan = direct.compile_plan(stmt, ("flash_pk_",), dialect)
    assert plan is not None
    assert plan.processors((20, ASYNCPG_TIMESTAMPTZ)) is None
    naive = plan.processors((20, 1114))
    assert naive is not None and naive[1] is not None
