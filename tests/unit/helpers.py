"""SQL-shape helpers for the unit tests (SQLAlchemy's ``assert_compile``, for QuerySets).

``compiled(qs, "postgresql")`` builds the QuerySet's SELECT the way the
executor would and compiles it for one dialect, without any database::

    sql, params = compiled(Article.objects.filter(pages__gt=3), "sqlite")
    assert "WHERE unit_articles.pages > ?" in sql
    assert params == {"pages_1": 3}

Whitespace is collapsed to single spaces so that expected strings can be
written on one line.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from flash_db.query.state import build_select

DIALECT_NAMES = ("postgresql", "mysql", "sqlite")

_DIALECTS: dict[str, Dialect] = {
    "postgresql": postgresql.asyncpg.dialect(),
    "mysql": mysql.dialect(),
    "sqlite": sqlite.dialect(),
}


def dialect(name: str) -> Dialect:
    """The SQLAlchemy dialect used for ``name`` (postgresql → asyncpg, mysql, sqlite)."""
    return _DIALECTS[name]


def compile_statement(
    stmt: ClauseElement, dialect_name: str, *, postcompile: bool = False
) -> tuple[str, dict[str, Any]]:
    """``(sql, params)`` of any SQLAlchemy statement or expression for ``dialect_name``.

    ``postcompile=True`` expands ``IN`` lists (and empty ``IN``) as they are
    sent to the database; otherwise they show as ``__[POSTCOMPILE_x]``.
    """
    result = stmt.compile(
        dialect=_DIALECTS[dialect_name], compile_kwargs={"render_postcompile": postcompile}
    )
    return " ".join(str(result).split()), dict(result.params)


def compiled(
    qs: Any, dialect_name: str, *, postcompile: bool = False
) -> tuple[str, dict[str, Any]]:
    """``(sql, params)`` of the SELECT that QuerySet ``qs`` would run on ``dialect_name``."""
    return compile_statement(build_select(qs._state), dialect_name, postcompile=postcompile)


def where(qs: Any, dialect_name: str, *, postcompile: bool = False) -> tuple[str, dict[str, Any]]:
    """Only the WHERE clause (without ``WHERE``) of ``compiled(qs, dialect_name)``.

    Use with models without ``Meta.ordering`` (or ``order_by()``), so that the
    clause runs to the end of the statement.
    """
    sql, params = compiled(qs, dialect_name, postcompile=postcompile)
    _, sep, tail = sql.partition(" WHERE ")
    assert sep, f"no WHERE clause in {sql!r}"
    return tail, params


def param_values(params: dict[str, Any]) -> list[Any]:
    """All bound values, with list values (``IN``) flattened."""
    values: list[Any] = []
    for value in params.values():
        if isinstance(value, (list, tuple)):
            values.extend(value)
        else:
            values.append(value)
    return values
