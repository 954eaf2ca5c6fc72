"""The SQL every built-in lookup compiles to, per dialect; custom lookups; lookup errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.sql.elements import ColumnElement

from flash_db import Lookup, Model, Q, Transform, fields, metadata, registry
from flash_db.exceptions import FieldError
from flash_db.lookups import JSONExact, JSONIn
from flash_db.query.state import build_select

from .helpers import DIALECT_NAMES, compiled, param_values, where
from .models import Article, Status, Writer

PG, MY, SL = "postgresql", "mysql", "sqlite"

# lookup -> value -> {dialect: WHERE clause}; one entry per dialect even where they agree,
# so that a backend-specific change shows up as a diff in exactly one place.
LOOKUPS: list[tuple[str, Any, dict[str, str]]] = [
    (
        "title",
        "v",
        {
            PG: "unit_articles.title = $1::VARCHAR",
            MY: "unit_articles.title = %s",
            SL: "unit_articles.title = ?",
        },
    ),
    (
        "title__exact",
        "v",
        {
            PG: "unit_articles.title = $1::VARCHAR",
            MY: "unit_articles.title = %s",
            SL: "unit_articles.title = ?",
        },
    ),
    (
        "title__iexact",
        "v",
        {
            PG: "lower(unit_articles.title) = lower($1::VARCHAR)",
            MY: "lower(unit_articles.title) = lower(%s)",
            SL: "lower(unit_articles.title) = lower(?)",
        },
    ),
    (
        "title__contains",
        "v",
        {
            PG: "(unit_articles.title LIKE '%' || $1::VARCHAR || '%' ESCAPE '/')",
            # MySQL compares with the column's (case-insensitive) collation: BINARY forces bytes.
            MY: "(BINARY unit_articles.title LIKE concat('%%', %s, '%%') ESCAPE '/')",
            SL: "(unit_articles.title LIKE '%' || ? || '%' ESCAPE '/')",
        },
    ),
    (
        "title__icontains",
        "v",
        {
            PG: "(unit_articles.title ILIKE '%' || $1::VARCHAR || '%' ESCAPE '/')",
            MY: "(lower(unit_articles.title) LIKE concat('%%', lower(%s), '%%') ESCAPE '/')",
            SL: "(lower(unit_articles.title) LIKE '%' || lower(?) || '%' ESCAPE '/')",
        },
    ),
    (
        "title__startswith",
        "v",
        {
            PG: "(unit_articles.title LIKE $1::VARCHAR || '%' ESCAPE '/')",
            MY: "(BINARY unit_articles.title LIKE concat(%s, '%%') ESCAPE '/')",
            SL: "(unit_articles.title LIKE ? || '%' ESCAPE '/')",
        },
    ),
    (
        "title__istartswith",
        "v",
        {
            PG: "(unit_articles.title ILIKE $1::VARCHAR || '%' ESCAPE '/')",
            MY: "(lower(unit_articles.title) LIKE concat(lower(%s), '%%') ESCAPE '/')",
            SL: "(lower(unit_articles.title) LIKE lower(?) || '%' ESCAPE '/')",
        },
    ),
    (
        "title__endswith",
        "v",
        {
            PG: "(unit_articles.title LIKE '%' || $1::VARCHAR ESCAPE '/')",
            MY: "(BINARY unit_articles.title LIKE concat('%%', %s) ESCAPE '/')",
            SL: "(unit_articles.title LIKE '%' || ? ESCAPE '/')",
        },
    ),
    (
        "title__iendswith",
        "v",
        {
            PG: "(unit_articles.title ILIKE '%' || $1::VARCHAR ESCAPE '/')",
            MY: "(lower(unit_articles.title) LIKE concat('%%', lower(%s)) ESCAPE '/')",
            SL: "(lower(unit_articles.title) LIKE '%' || lower(?) ESCAPE '/')",
        },
    ),
    (
        "pages__gt",
        1,
        {
            PG: "unit_articles.pages > $1::INTEGER",
            MY: "unit_articles.pages > %s",
            SL: "unit_articles.pages > ?",
        },
    ),
    (
        "pages__gte",
        1,
        {
            PG: "unit_articles.pages >= $1::INTEGER",
            MY: "unit_articles.pages >= %s",
            SL: "unit_articles.pages >= ?",
        },
    ),
    (
        "pages__lt",
        1,
        {
            PG: "unit_articles.pages < $1::INTEGER",
            MY: "unit_articles.pages < %s",
            SL: "unit_articles.pages < ?",
        },
    ),
    (
        "pages__lte",
        1,
        {
            PG: "unit_articles.pages <= $1::INTEGER",
            MY: "unit_articles.pages <= %s",
            SL: "unit_articles.pages <= ?",
        },
    ),
    (
        "pages__range",
        (1, 9),
        {
            PG: "unit_articles.pages BETWEEN $1::INTEGER AND $2::INTEGER",
            MY: "unit_articles.pages BETWEEN %s AND %s",
            SL: "unit_articles.pages BETWEEN ? AND ?",
        },
    ),
    (
        "pages__isnull",
        True,
        {d: "unit_articles.pages IS NULL" for d in DIALECT_NAMES},
    ),
    (
        "pages__isnull",
        False,
        {d: "unit_articles.pages IS NOT NULL" for d in DIALECT_NAMES},
    ),
    (
        "title__regex",
        "^v",
        {
            PG: "(unit_articles.title ~ $1::VARCHAR)",
            # The collation would make a plain REGEXP case-insensitive on MySQL.
            MY: "(unit_articles.title REGEXP CONCAT('(?-i)', %s)) = 1",
            SL: "(unit_articles.title REGEXP ?) = 1",
        },
    ),
    (
        "title__iregex",
        "^v",
        {
            PG: "(unit_articles.title ~* $1::VARCHAR)",
            MY: "(unit_articles.title REGEXP CONCAT('(?i)', %s)) = 1",
            SL: "(unit_articles.title REGEXP ('(?i)' || ?)) = 1",
        },
    ),
    (
        "updated__year",
        2020,
        {
            PG: "EXTRACT(year FROM unit_articles.updated) = $1::INTEGER",
            MY: "EXTRACT(year FROM unit_articles.updated) = %s",
            SL: "CAST(STRFTIME('%Y', unit_articles.updated) AS INTEGER) = ?",
        },
    ),
    (
        "updated__month",
        2,
        {
            PG: "EXTRACT(month FROM unit_articles.updated) = $1::INTEGER",
            MY: "EXTRACT(month FROM unit_articles.updated) = %s",
            SL: "CAST(STRFTIME('%m', unit_articles.updated) AS INTEGER) = ?",
        },
    ),
    (
        "updated__day",
        3,
        {
            PG: "EXTRACT(day FROM unit_articles.updated) = $1::INTEGER",
            MY: "EXTRACT(day FROM unit_articles.updated) = %s",
            SL: "CAST(STRFTIME('%d', unit_articles.updated) AS INTEGER) = ?",
        },
    ),
    (
        "published__year__gte",
        2020,
        {
            PG: "EXTRACT(year FROM unit_articles.published) >= $1::INTEGER",
            MY: "EXTRACT(year FROM unit_articles.published) >= %s",
            SL: "CAST(STRFTIME('%Y', unit_articles.published) AS INTEGER) >= ?",
        },
    ),
    (
        "updated__date",
        dt.date(2020, 1, 2),
        {
            PG: "CAST(unit_articles.updated AS DATE) = $1::DATE",
            MY: "CAST(unit_articles.updated AS DATE) = %s",
            # CAST(x AS DATE) has NUMERIC affinity on SQLite: DATE() keeps 'YYYY-MM-DD'.
            SL: "DATE(unit_articles.updated) = ?",
        },
    ),
    (
        "updated__date__gt",
        dt.date(2020, 1, 2),
        {
            PG: "CAST(unit_articles.updated AS DATE) > $1::DATE",
            MY: "CAST(unit_articles.updated AS DATE) > %s",
            SL: "DATE(unit_articles.updated) > ?",
        },
    ),
    (
        "subtitle",
        None,
        {d: "unit_articles.subtitle IS NULL" for d in DIALECT_NAMES},
    ),
    (
        "subtitle__exact",
        None,
        {d: "unit_articles.subtitle IS NULL" for d in DIALECT_NAMES},
    ),
]


def _lookup_cases() -> list[Any]:
    return [
        pytest.param(key, value, dialect, sql, id=f"{key}={value!r}-{dialect}")
        for key, value, by_dialect in LOOKUPS
        for dialect, sql in by_dialect.items()
    ]


@pytest.mark.parametrize(("key", "value", "dialect", "expected"), _lookup_cases())
def test_lookup_sql(key: str, value: Any, dialect: str, expected: str) -> None:
    sql, params = where(Article.objects.filter(**{key: value}), dialect)
    assert sql == expected
    if value is None or key.endswith("__isnull"):
        assert params == {}
    else:
        expected_values = list(value) if isinstance(value, tuple) else [value]
        assert param_values(params) == expected_values


def test_every_documented_lookup_is_covered() -> None:
    documented = set(
        "exact iexact contains icontains in gt gte lt lte startswith istartswith "
        "endswith iendswith range isnull regex iregex year month day date".split()
    )
    covered = {part for key, _, _ in LOOKUPS for part in key.split("__")[1:]}
    covered.add("in")  # test_in_* below
    assert documented <= covered


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_in_is_one_parameter(dialect: str) -> None:
    """One expanding parameter (one array on PostgreSQL, cast to the bare type)."""
    sql, params = where(Article.objects.filter(title__in=["v", "w"]), dialect)
    if dialect == PG:
        assert sql == "unit_articles.title = ANY ($1::TEXT[])"
    else:
        assert sql == "unit_articles.title IN (__[POSTCOMPILE_title_1])"
    assert params == {"title_1": ["v", "w"]}


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (PG, "unit_articles.title = ANY ($1::TEXT[])"),
        (MY, "unit_articles.title IN (%s, %s)"),
        (SL, "unit_articles.title IN (?, ?)"),
    ],
)
def test_in_expanded(dialect: str, expected: str) -> None:
    sql, params = where(Article.objects.filter(title__in=("v", "w")), dialect, postcompile=True)
    assert sql == expected
    values = [v for value in params.values() for v in (value if dialect == PG else [value])]
    assert sorted(values) == ["v", "w"]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (PG, "unit_articles.title IN (NULL) AND (1 != 1)"),
        (MY, "unit_articles.title IN (NULL) AND (1 != 1)"),
        (SL, "unit_articles.title IN (SELECT 1 FROM (SELECT 1) WHERE 1!=1)"),
    ],
)
def test_in_empty_list_is_always_false(dialect: str, expected: str) -> None:
    sql, params = where(Article.objects.filter(title__in=[]), dialect, postcompile=True)
    assert sql == expected
    assert params == {}


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_in_accepts_a_queryset_as_subquery(dialect: str) -> None:
    inner = Writer.objects.filter(active=True).values_list("name", flat=True)
    sql, _ = where(Article.objects.filter(title__in=inner), dialect)
    assert sql.startswith(
        "unit_articles.title IN (SELECT unit_writers.name AS name FROM unit_writers WHERE"
    )


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_like_lookups_escape_wildcards(dialect: str) -> None:
    _, params = where(Article.objects.filter(title__contains="50%_off/now"), dialect)
    assert param_values(params) == ["50/%/_off//now"]
    _, params = where(Article.objects.filter(title__istartswith="a_b"), dialect)
    assert param_values(params) == ["a/_b"]


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_like_against_an_expression_is_not_escaped(dialect: str) -> None:
    from flash_db import F

    sql, params = where(Article.objects.filter(title__startswith=F("subtitle")), dialect)
    assert "unit_articles.subtitle" in sql
    assert "ESCAPE" not in sql
    assert params == {}


def test_case_sensitive_like_is_binary_only_on_mysql() -> None:
    for dialect in (PG, SL):
        sql, _ = where(Article.objects.filter(title__contains="v"), dialect)
        assert "BINARY" not in sql
    sql, _ = where(Article.objects.filter(title__icontains="v"), MY)
    assert "BINARY" not in sql


def test_isnull_requires_a_boolean() -> None:
    with pytest.raises(FieldError, match="isnull lookup on 'pages' takes True or False"):
        Article.objects.filter(pages__isnull="yes")


# -- errors ---------------------------------------------------------------------------------


def test_unknown_lookup_lists_the_lookups() -> None:
    with pytest.raises(FieldError) as info:
        Article.objects.filter(title__nope="x")
    message = str(info.value)
    assert "'nope'" in message
    for name in ("exact", "icontains", "startswith", "regex", "in", "isnull"):
        assert name in message


def test_unknown_lookup_after_transform() -> None:
    with pytest.raises(FieldError, match="'nope'"):
        Article.objects.filter(updated__year__nope=1)


def test_date_transform_only_on_datetime_fields() -> None:
    with pytest.raises(FieldError, match="'date'"):
        Article.objects.filter(published__date=dt.date(2020, 1, 1))


def test_nothing_may_follow_a_lookup() -> None:
    with pytest.raises(FieldError):
        Article.objects.filter(pages__gt__lt=1)


@pytest.mark.parametrize(
    "key", ["title__gt", "title__contains", "pages__in", "pages__range", "title__iexact"]
)
def test_none_only_with_exact(key: str) -> None:
    with pytest.raises(FieldError, match="isnull"):
        Article.objects.filter(**{key: None})


@pytest.mark.parametrize(
    ("key", "expected"), [("title__in", "list"), ("pages__range", r"\(low, high\) pair")]
)
@pytest.mark.parametrize("value", ["abc", b"abc", 5])
def test_iterable_lookups_refuse_strings_and_scalars(key: str, expected: str, value: Any) -> None:
    with pytest.raises(FieldError, match=expected):
        Article.objects.filter(**{key: value})


# -- custom lookups -------------------------------------------------------------------------


class ThrowawayField(fields.CharField):
    """A field class only these tests register lookups on (so CharField stays clean)."""


class ThrowawayChildField(ThrowawayField):
    pass


class ThrowawaySiblingField(fields.CharField):
    pass


@ThrowawayField.register_lookup
class Differs(Lookup):
    lookup_name = "differs"

    def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
        return lhs != rhs


@ThrowawayField.register_lookup
class Trimmed(Transform):
    lookup_name = "trimmed"

    def apply(self, lhs: ColumnElement[Any]) -> ColumnElement[Any]:
        return sa.func.trim(lhs)


class Gadget(Model):
    own = ThrowawayField(max_length=20)
    child = ThrowawayChildField(max_length=20)
    sibling = ThrowawaySiblingField(max_length=20)
    plain = fields.CharField(max_length=20)

    class Meta:
        app_label = "unit"
        table = "unit_gadgets"


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_registered_lookup_is_used(dialect: str) -> None:
    sql, params = where(Gadget.objects.filter(own__differs="x"), dialect)
    placeholder = {PG: "$1::VARCHAR", MY: "%s", SL: "?"}[dialect]
    assert sql == f"unit_gadgets.own != {placeholder}"
    assert param_values(params) == ["x"]


def test_registered_lookup_is_inherited_by_subclasses() -> None:
    sql, _ = where(Gadget.objects.filter(child__differs="x"), SL)
    assert sql == "unit_gadgets.child != ?"
    assert ThrowawayChildField.get_lookups()["differs"] is Differs
    # The built-in lookups are still there, merged along the MRO.
    assert "icontains" in ThrowawayChildField.get_lookups()


def test_registered_transform_then_builtin_lookup() -> None:
    sql, params = where(Gadget.objects.filter(child__trimmed__startswith="ab"), SL)
    assert sql == "(trim(unit_gadgets.child) LIKE ? || '%' ESCAPE '/')"
    assert param_values(params) == ["ab"]


@pytest.mark.parametrize("name", ["sibling", "plain"])
def test_registered_lookup_does_not_leak_to_siblings_or_parents(name: str) -> None:
    with pytest.raises(FieldError, match="'differs'"):
        Gadget.objects.filter(**{f"{name}__differs": "x"})
    assert "differs" not in fields.CharField.get_lookups()
    assert "differs" not in fields.Field.get_lookups()
    assert "differs" not in ThrowawaySiblingField.get_lookups()
    assert "trimmed" not in fields.CharField.get_lookups()


def test_registering_after_first_use_invalidates_the_cache() -> None:
    assert "late" not in ThrowawayChildField.get_lookups()

    class Late(Lookup):
        lookup_name = "late"

        def as_sql(self, lhs: ColumnElement[Any], rhs: Any) -> ColumnElement[bool]:
            return lhs > rhs

    ThrowawayField.register_lookup(Late)
    try:
        assert ThrowawayChildField.get_lookups()["late"] is Late
        sql, _ = where(Gadget.objects.filter(child__late="m"), SL)
        assert sql == "unit_gadgets.child > ?"
    finally:
        del ThrowawayField.class_lookups["late"]
        ThrowawayField.register_lookup(Differs)  # clears the merged-lookup cache again
    assert "late" not in ThrowawayChildField.get_lookups()


def test_registered_lookup_in_q_and_exclude() -> None:
    sql, _ = where(Gadget.objects.exclude(Q(own__differs="a") | Q(plain="b")), SL)
    assert sql == "NOT (unit_gadgets.own != ? OR unit_gadgets.plain = ?)"


def test_gadget_is_registered_on_the_shared_metadata() -> None:
    assert "unit.Gadget" in registry
    assert metadata.tables["unit_gadgets"] is Gadget.__table__
    sql, _ = compiled(Gadget.objects.all(), SL)
    assert sql.startswith("SELECT unit_gadgets.id, unit_gadgets.own")


# -- JSONField compares JSON values ----------------------------------------------------------


class Document(Model):
    data = fields.JSONField(null=True)

    class Meta:
        app_label = "unit"
        table = "unit_documents"


#: what ``data = <value>`` compiles to per backend ({lhs} and {rhs}: the two documents)
JSON_EQUALS = {
    PG: "(CAST({lhs} AS JSONB) = CAST({rhs} AS JSONB))",
    "mariadb": "(JSON_EQUALS({lhs}, {rhs}) = 1)",
    MY: "(CAST({lhs} AS JSON) = CAST({rhs} AS JSON))",
    SL: (
        "(CASE WHEN {lhs} IS NULL OR {rhs} IS NULL THEN NULL ELSE "
        "NOT EXISTS ({nodes_lhs} EXCEPT {nodes_rhs}) AND NOT EXISTS ({nodes_rhs} EXCEPT {nodes_lhs}) "
        "END)"
    ),
}


def _json_equals(dialect: str, rhs: str) -> str:
    def nodes(document: str) -> str:
        return (
            "SELECT fullkey, CASE WHEN type IN ('integer', 'real') THEN 'number' ELSE type END, "
            f"atom FROM json_tree({document})"
        )

    lhs = "unit_documents.data"
    return JSON_EQUALS[dialect].format(lhs=lhs, rhs=rhs, nodes_lhs=nodes(lhs), nodes_rhs=nodes(rhs))


def _json_where(qs: Any, dialect: str) -> tuple[str, dict[str, Any]]:
    if dialect != "mariadb":
        return where(qs, dialect)
    stmt = build_select(qs._state)
    result = stmt.compile(dialect=mysql.aiomysql.dialect(is_mariadb=True))
    return " ".join(str(result).split()).partition(" WHERE ")[2], dict(result.params)


@pytest.mark.parametrize("dialect", [PG, "mariadb", MY, SL])
def test_json_exact_compares_documents(dialect: str) -> None:
    placeholder = {PG: "$1::JSON", "mariadb": "%s", MY: "%s", SL: "?"}[dialect]
    sql, params = _json_where(Document.objects.filter(data={"a": [1, 2]}), dialect)
    assert sql == _json_equals(dialect, placeholder)
    assert param_values(params) == [{"a": [1, 2]}]


@pytest.mark.parametrize("dialect", [PG, "mariadb", MY, SL])
def test_json_in_is_one_comparison_per_value(dialect: str) -> None:
    first, second = {PG: ("$1::JSON", "$2::JSON"), SL: ("?", "?")}.get(dialect, ("%s", "%s"))
    sql, params = _json_where(Document.objects.filter(data__in=[[1], "x"]), dialect)
    assert sql == f"{_json_equals(dialect, first)} OR {_json_equals(dialect, second)}"
    assert list(params.values()) == [[1], "x"]


@pytest.mark.parametrize(
    ("dialect", "nothing", "everything"),
    [(PG, "false", "true"), (MY, "false = 1", "true = 1"), (SL, "0 = 1", "1 = 1")],
)
def test_json_in_nothing(dialect: str, nothing: str, everything: str) -> None:
    """An empty list matches no row (not SQLAlchemy's empty IN, which compares the column
    with NULL: PostgreSQL has no ``=`` for ``json``); excluding it keeps every row."""
    assert where(Document.objects.filter(data__in=[]), dialect) == (nothing, {})
    assert where(Document.objects.exclude(data__in=[]), dialect) == (everything, {})


def test_json_lookups_replace_only_exact_and_in() -> None:
    lookups = fields.JSONField.get_lookups()
    assert lookups["exact"] is JSONExact and lookups["in"] is JSONIn
    assert fields.Field.get_lookups()["exact"] is not JSONExact
    assert lookups["isnull"] is fields.Field.get_lookups()["isnull"]


# -- values are converted to the field's type ------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "expected_sql", "expected_value"),
    [
        ("published", "2024-01-02", "unit_articles.published = $1::DATE", dt.date(2024, 1, 2)),
        (
            "updated__date",
            "2024-01-02",
            "CAST(unit_articles.updated AS DATE) = $1::DATE",
            dt.date(2024, 1, 2),
        ),
        (
            "updated__gte",
            "2024-01-02T03:04:05+00:00",
            "unit_articles.updated >= $1::TIMESTAMP WITH TIME ZONE",
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        ),
        ("price", "1.50", "unit_articles.price = $1::NUMERIC(8, 2)", Decimal("1.50")),
        ("pages__gt", "3", "unit_articles.pages > $1::INTEGER", 3),
    ],
)
def test_plain_values_bind_with_the_column_type(
    key: str, value: Any, expected_sql: str, expected_value: Any
) -> None:
    # PostgreSQL refuses e.g. "date = character varying": a string must not bind as VARCHAR.
    sql, params = where(Article.objects.filter(**{key: value}), PG)
    assert sql == expected_sql
    assert param_values(params) == [expected_value]


def test_in_values_are_converted_each() -> None:
    sql, params = where(Article.objects.filter(pages__in=["1", 2]), SL, postcompile=True)
    assert sql == "unit_articles.pages IN (?, ?)"
    assert sorted(params.values()) == [1, 2]
    sql, params = where(Article.objects.filter(pages__in=["1", 2]), PG)
    assert sql == "unit_articles.pages = ANY ($1::INTEGER[])"
    assert params == {"pages_1": [1, 2]}


def test_enum_value_given_by_its_value_is_converted_to_the_member() -> None:
    _, params = where(Article.objects.filter(status="live"), PG)
    assert param_values(params) == [Status.LIVE]


@pytest.mark.parametrize(
    ("key", "value"),
    [("pages__gt", "many"), ("published", "not a date"), ("price__lt", "cheap")],
)
def test_unconvertible_value_is_a_field_error(key: str, value: Any) -> None:
    with pytest.raises(FieldError, match=key.split("__")[0]):
        Article.objects.filter(**{key: value})
