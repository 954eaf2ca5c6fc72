"""SQL of F/Value, functions and aggregates per dialect (resolved against a model, no database)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from flash_db import (
    Avg,
    Coalesce,
    Concat,
    Count,
    F,
    Func,
    Length,
    Lower,
    Max,
    Min,
    Now,
    Q,
    StdDev,
    Sum,
    Upper,
    Value,
    Variance,
)
from flash_db.exceptions import FieldError
from flash_db.query.resolver import Resolver

from .helpers import DIALECT_NAMES, compile_statement, compiled
from .models import Article

PG, MY, SL = "postgresql", "mysql", "sqlite"


def sql_of(expression: Any, dialect: str) -> tuple[str, dict[str, Any]]:
    """``(sql, params)`` of ``expression`` resolved against ``Article``."""
    return compile_statement(expression.resolve(Resolver(Article)), dialect)


def _per_dialect(cases: list[tuple[str, Any, dict[str, str]]]) -> list[Any]:
    return [
        pytest.param(make, dialect, sql, id=f"{name}-{dialect}")
        for name, make, by_dialect in cases
        for dialect, sql in by_dialect.items()
    ]


def _same(sql: str) -> dict[str, str]:
    return {d: sql for d in DIALECT_NAMES}


# -- aggregates -----------------------------------------------------------------------------

_SQLITE_VAR_POP = (
    "(avg((unit_articles.pages) * (unit_articles.pages)) "
    "- avg(unit_articles.pages) * avg(unit_articles.pages))"
)
_SQLITE_VAR_SAMP = (
    f"(CASE WHEN count(unit_articles.pages) > 1 THEN {_SQLITE_VAR_POP} "
    "* count(unit_articles.pages) / (count(unit_articles.pages) - 1.0) END)"
)

AGGREGATES: list[tuple[str, Any, dict[str, str]]] = [
    ("count", lambda: Count("id"), _same("count(unit_articles.id)")),
    ("count-star", lambda: Count("*"), _same("count(1)")),
    ("count-default", lambda: Count(), _same("count(1)")),
    (
        "count-distinct",
        lambda: Count("pages", distinct=True),
        _same("count(DISTINCT unit_articles.pages)"),
    ),
    ("sum", lambda: Sum("pages"), _same("sum(unit_articles.pages)")),
    (
        "sum-distinct",
        lambda: Sum("pages", distinct=True),
        _same("sum(DISTINCT unit_articles.pages)"),
    ),
    (
        "sum-of-f",
        lambda: Sum(F("price") * F("pages")),
        _same("sum(unit_articles.price * unit_articles.pages)"),
    ),
    ("avg", lambda: Avg("price"), _same("avg(unit_articles.price)")),
    ("min", lambda: Min("price"), _same("min(unit_articles.price)")),
    ("max", lambda: Max("updated"), _same("max(unit_articles.updated)")),
    (
        "stddev",
        lambda: StdDev("pages"),
        {
            PG: "stddev_pop(unit_articles.pages)",
            MY: "stddev_pop(unit_articles.pages)",
            # SQLite has no STDDEV: sqrt(E[x^2] - E[x]^2)
            SL: f"sqrt({_SQLITE_VAR_POP})",
        },
    ),
    (
        "stddev-sample",
        lambda: StdDev("pages", sample=True),
        {
            PG: "stddev_samp(unit_articles.pages)",
            MY: "stddev_samp(unit_articles.pages)",
            SL: f"sqrt({_SQLITE_VAR_SAMP})",
        },
    ),
    (
        "variance",
        lambda: Variance("pages"),
        {
            PG: "var_pop(unit_articles.pages)",
            MY: "var_pop(unit_articles.pages)",
            SL: _SQLITE_VAR_POP,
        },
    ),
    (
        "variance-sample",
        lambda: Variance("pages", sample=True),
        {
            PG: "var_samp(unit_articles.pages)",
            MY: "var_samp(unit_articles.pages)",
            SL: _SQLITE_VAR_SAMP,
        },
    ),
]


@pytest.mark.parametrize(("make", "dialect", "expected"), _per_dialect(AGGREGATES))
def test_aggregate_sql(make: Any, dialect: str, expected: str) -> None:
    sql, params = sql_of(make(), dialect)
    assert sql == expected
    assert params == {}


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            PG,
            "count(CASE WHEN (unit_articles.pages > $1::INTEGER) THEN unit_articles.id ELSE NULL END)",
        ),
        (MY, "count(CASE WHEN (unit_articles.pages > %s) THEN unit_articles.id ELSE NULL END)"),
        (SL, "count(CASE WHEN (unit_articles.pages > ?) THEN unit_articles.id ELSE NULL END)"),
    ],
)
def test_aggregate_filter_is_case_when(dialect: str, expected: str) -> None:
    # MySQL has no FILTER (WHERE …): CASE WHEN works everywhere.
    sql, params = sql_of(Count("id", filter=Q(pages__gt=3)), dialect)
    assert sql == expected
    assert params == {"pages_1": 3}


def test_aggregate_filter_with_q_combination_and_distinct() -> None:
    aggregate = Count("pages", distinct=True, filter=Q(title="a") | ~Q(body="b"))
    sql, params = sql_of(aggregate, SL)
    assert sql == (
        "count(DISTINCT CASE WHEN (unit_articles.title = ? OR unit_articles.body != ?) "
        "THEN unit_articles.pages ELSE NULL END)"
    )
    assert sorted(params.values()) == ["a", "b"]


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_stddev_with_filter(dialect: str) -> None:
    sql, params = sql_of(StdDev("pages", filter=Q(pages__gt=1)), dialect)
    assert "CASE WHEN (unit_articles.pages > " in sql
    assert params == {"pages_1": 1}


def test_sqlite_spread_repeats_the_filter_parameter_positionally() -> None:
    # The SQLite formula renders the argument several times: each '?' needs its value.
    stmt = sa.select(StdDev("pages", filter=Q(pages__gt=1)).resolve(Resolver(Article)))
    from .helpers import dialect

    result = stmt.compile(dialect=dialect(SL))
    assert result.positiontup is not None
    assert str(result).count("?") == len(result.positiontup) == 4


def test_avg_result_type_follows_the_column() -> None:
    resolver = Resolver(Article)
    decimal_avg = Avg("price").resolve(resolver).type
    assert isinstance(decimal_avg, sa.Numeric) and not isinstance(decimal_avg, sa.Float)
    assert decimal_avg.asdecimal
    assert isinstance(Avg("pages").resolve(resolver).type, sa.Double)


@pytest.mark.parametrize("aggregate", [Min, Max, StdDev, Variance])
def test_distinct_is_refused_where_meaningless(aggregate: Any) -> None:
    with pytest.raises(TypeError, match="distinct"):
        aggregate("pages", distinct=True)


def test_contains_aggregate() -> None:
    assert Count("id").contains_aggregate
    assert (Count("id") + 1).contains_aggregate
    assert (1 + Sum("pages")).contains_aggregate
    assert Lower(Max("title")).contains_aggregate
    assert not Lower("title").contains_aggregate
    assert not (F("pages") + 1).contains_aggregate


def test_arithmetic_on_aggregates() -> None:
    sql, params = sql_of(Count("id") * 2 + Sum("pages"), SL)
    assert sql == "count(unit_articles.id) * ? + sum(unit_articles.pages)"
    assert params == {"param_1": 2}


def test_aggregate_annotation_over_values() -> None:
    qs = Article.objects.values("status").annotate(
        n=Count("id"), cheap=Count("id", filter=Q(price__lt=5)), spread=StdDev("pages")
    )
    sql, params = compiled(qs, PG)
    assert sql == (
        "SELECT unit_articles.status AS status, count(unit_articles.id) AS n, "
        "count(CASE WHEN (unit_articles.price < $1::NUMERIC(8, 2)) THEN unit_articles.id ELSE NULL END) "
        "AS cheap, stddev_pop(unit_articles.pages) AS spread FROM unit_articles "
        "GROUP BY unit_articles.status"
    )
    assert params == {"price_1": 5}


def test_aggregate_over_an_unknown_field() -> None:
    with pytest.raises(FieldError, match="nope"):
        Article.objects.annotate(n=Count("nope"))


# -- functions ------------------------------------------------------------------------------

FUNCTIONS: list[tuple[str, Any, dict[str, str]]] = [
    ("lower", lambda: Lower("title"), _same("lower(unit_articles.title)")),
    ("upper", lambda: Upper("title"), _same("upper(unit_articles.title)")),
    (
        "length",
        lambda: Length("title"),
        {
            PG: "char_length(unit_articles.title)",
            MY: "char_length(unit_articles.title)",
            # SQLite has no CHAR_LENGTH; LENGTH counts characters for text.
            SL: "length(unit_articles.title)",
        },
    ),
    (
        "coalesce",
        lambda: Coalesce("subtitle", "title"),
        _same("coalesce(unit_articles.subtitle, unit_articles.title)"),
    ),
    ("now", lambda: Now(), _same("CURRENT_TIMESTAMP")),
    ("nested", lambda: Upper(Lower("title")), _same("upper(lower(unit_articles.title))")),
    (
        "concat",
        lambda: Concat("title", "subtitle"),
        {
            PG: "coalesce(CAST(unit_articles.title AS VARCHAR), $1::VARCHAR) || "
            "coalesce(CAST(unit_articles.subtitle AS VARCHAR), $2::VARCHAR)",
            # MySQL: CONCAT(), CHAR casts; NULL parts are coalesced to '' everywhere.
            MY: "concat(coalesce(CAST(unit_articles.title AS CHAR), %s), "
            "coalesce(CAST(unit_articles.subtitle AS CHAR), %s))",
            SL: "coalesce(CAST(unit_articles.title AS VARCHAR), ?) || "
            "coalesce(CAST(unit_articles.subtitle AS VARCHAR), ?)",
        },
    ),
]


@pytest.mark.parametrize(("make", "dialect", "expected"), _per_dialect(FUNCTIONS))
def test_function_sql(make: Any, dialect: str, expected: str) -> None:
    sql, _ = sql_of(make(), dialect)
    assert sql == expected


def test_concat_parameters_and_value() -> None:
    sql, params = sql_of(Concat("title", Value(" - "), "subtitle"), SL)
    assert sql == (
        "coalesce(CAST(unit_articles.title AS VARCHAR), ?) || coalesce(CAST(? AS VARCHAR), ?) || "
        "coalesce(CAST(unit_articles.subtitle AS VARCHAR), ?)"
    )
    assert " - " in params.values()
    assert list(params.values()).count("") == 3


def test_coalesce_with_a_value_is_bound() -> None:
    sql, params = sql_of(Coalesce("subtitle", Value("n/a")), PG)
    assert sql == "coalesce(unit_articles.subtitle, $1::VARCHAR)"
    assert params == {"param_1": "n/a"}


@pytest.mark.parametrize(("dialect", "placeholder"), [(PG, "$1::INTEGER"), (MY, "%s"), (SL, "?")])
def test_value_is_a_bound_parameter(dialect: str, placeholder: str) -> None:
    assert sql_of(Value(3), dialect) == (placeholder, {"param_1": 3})


def test_value_with_explicit_type() -> None:
    sql, _ = sql_of(Value("3", sa.Integer()), PG)
    assert sql == "$1::INTEGER"


def test_functions_in_filters() -> None:
    qs = Article.objects.filter(title=Lower("subtitle"), pages__gt=Length("title"))
    sql, _ = compiled(qs, SL)
    assert sql.endswith(
        "WHERE unit_articles.pages > length(unit_articles.title) "
        "AND unit_articles.title = lower(unit_articles.subtitle)"
    )


def test_function_annotations_select_with_labels() -> None:
    qs = Article.objects.values("id").annotate(low=Lower("title"), at=Now())
    sql, _ = compiled(qs, SL)
    assert sql == (
        "SELECT unit_articles.id AS id, lower(unit_articles.title) AS low, CURRENT_TIMESTAMP AS at "
        "FROM unit_articles"
    )


def test_lookup_on_a_function_annotation() -> None:
    qs = Article.objects.annotate(low=Lower("title")).filter(low__startswith="ab")
    sql, _ = compiled(qs, SL)
    assert sql.endswith("WHERE (lower(unit_articles.title) LIKE ? || '%' ESCAPE '/')")


def test_coalesce_needs_two_expressions() -> None:
    with pytest.raises(ValueError, match="two"):
        Coalesce("title")


@pytest.mark.parametrize("literal", [3, 2.5, None, b"x"])
def test_function_arguments_must_be_names_or_expressions(literal: Any) -> None:
    with pytest.raises(TypeError, match="Value"):
        Lower(literal)


def test_func_calls_any_function_by_name() -> None:
    sql, _ = sql_of(Func("title", function="trim"), SL)
    assert sql == "trim(unit_articles.title)"


def test_func_subclass_calls_its_function() -> None:
    class Trim(Func):
        function = "trim"

    assert sql_of(Trim("title"), SL)[0] == "trim(unit_articles.title)"
    assert repr(Trim("title")) == "Trim(F('title'))"


# -- F and Q objects ------------------------------------------------------------------------


def test_f_equality_and_repr() -> None:
    assert F("a") == F("a")
    assert F("a") != F("b")
    assert hash(F("a")) == hash(F("a"))
    assert repr(F("a")) == "F('a')"


def test_q_combinators_build_trees() -> None:
    a, b = Q(x=1), Q(y=2)
    assert (a & b).connector == "AND"
    assert (a | b).connector == "OR"
    assert (~a).negated and not a.negated
    assert ~~a == a
    assert (a & Q()) == a
    assert (Q() | b) == b
    assert not Q()
    assert Q(y=2, x=1) == Q(x=1, y=2)


def test_order_by_expression_nulls() -> None:
    qs = Article.objects.order_by(F("pages").desc())
    assert compiled(qs, PG)[0].endswith("ORDER BY unit_articles.pages DESC")
