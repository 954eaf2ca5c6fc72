"""The shape of the SQL a QuerySet compiles to: filters, ordering, slicing, values, grouping,
count/update/delete wrappers, bound parameters, immutability and statement caching."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from flash_db import Count, F, Q, QuerySet
from flash_db.exceptions import FieldError
from flash_db.query.state import build_select, count_select, write_filter

from .helpers import DIALECT_NAMES, compile_statement, compiled, param_values, where
from .models import Article, Code, Note, Status, Writer

PG, MY, SL = "postgresql", "mysql", "sqlite"

WRITER_COLUMNS = "unit_writers.id, unit_writers.name, unit_writers.email, unit_writers.active, unit_writers.joined"
ARTICLE_COLUMNS = (
    "unit_articles.id, unit_articles.title, unit_articles.subtitle, unit_articles.body, "
    "unit_articles.price, unit_articles.pages, unit_articles.rating, unit_articles.published, "
    "unit_articles.updated, unit_articles.status"
)


# -- SELECT list and FROM -------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_all_selects_every_column_with_meta_ordering(dialect: str) -> None:
    sql, params = compiled(Writer.objects.all(), dialect)
    assert sql == f"SELECT {WRITER_COLUMNS} FROM unit_writers ORDER BY unit_writers.name ASC"
    assert params == {}


def test_db_column_is_used_in_sql_and_field_name_in_values() -> None:
    sql, _ = compiled(Code.objects.values("label"), SL)
    assert sql == "SELECT unit_codes.label_text AS label FROM unit_codes"


def test_values_selects_and_labels_the_named_fields() -> None:
    sql, _ = compiled(Article.objects.values("title", "pages"), SL)
    assert sql == (
        "SELECT unit_articles.title AS title, unit_articles.pages AS pages FROM unit_articles"
    )


def test_values_without_names_selects_every_field() -> None:
    sql, _ = compiled(Article.objects.values(), SL)
    assert sql.startswith("SELECT unit_articles.id AS id, unit_articles.title AS title, ")
    assert sql.endswith("unit_articles.status AS status FROM unit_articles")


def test_values_list_and_flat() -> None:
    sql, _ = compiled(Article.objects.values_list("title", "pages"), SL)
    assert sql == (
        "SELECT unit_articles.title AS title, unit_articles.pages AS pages FROM unit_articles"
    )
    sql, _ = compiled(Article.objects.values_list("title", flat=True), SL)
    assert sql == "SELECT unit_articles.title AS title FROM unit_articles"


def test_values_list_argument_errors() -> None:
    with pytest.raises(TypeError):
        Article.objects.values_list("title", "pages", flat=True)
    with pytest.raises(TypeError):
        Article.objects.values_list("title", flat=True, named=True)


def test_values_with_a_transform() -> None:
    sql, _ = compiled(Article.objects.values("updated__year"), SL)
    assert sql == (
        "SELECT CAST(STRFTIME('%Y', unit_articles.updated) AS INTEGER) AS updated__year "
        "FROM unit_articles"
    )


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_distinct(dialect: str) -> None:
    sql, _ = compiled(Article.objects.values("title").distinct(), dialect)
    assert sql == "SELECT DISTINCT unit_articles.title AS title FROM unit_articles"


# -- WHERE: filters, Q, exclude, F ----------------------------------------------------------


def test_successive_filters_are_anded() -> None:
    sql, params = where(Article.objects.filter(title="a").filter(pages=2), SL)
    assert sql == "unit_articles.title = ? AND unit_articles.pages = ?"
    assert param_values(params) == ["a", 2]


def test_several_keywords_in_one_filter_are_anded() -> None:
    sql, _ = where(Article.objects.filter(title="a", pages__gt=2), SL)
    assert sql == "unit_articles.pages > ? AND unit_articles.title = ?"


def test_field_none_is_is_null() -> None:
    sql, params = where(Article.objects.filter(subtitle=None), SL)
    assert sql == "unit_articles.subtitle IS NULL"
    assert params == {}


def test_q_or_and_not() -> None:
    qs = Article.objects.filter(Q(title="a") | Q(title="b"), ~Q(body="x"))
    sql, params = where(qs, SL)
    assert sql == "(unit_articles.title = ? OR unit_articles.title = ?) AND unit_articles.body != ?"
    assert param_values(params) == ["a", "b", "x"]


def test_q_precedence_is_kept() -> None:
    qs = Article.objects.filter(Q(title="a") | Q(title="b") & Q(body="c"))
    sql, _ = where(qs, SL)
    assert sql == "unit_articles.title = ? OR unit_articles.title = ? AND unit_articles.body = ?"
    qs = Article.objects.filter((Q(title="a") | Q(title="b")) & Q(body="c"))
    sql, _ = where(qs, SL)
    assert sql == "(unit_articles.title = ? OR unit_articles.title = ?) AND unit_articles.body = ?"


def test_negated_q_of_several_conditions() -> None:
    sql, _ = where(Article.objects.filter(~Q(title="a", body="b")), SL)
    assert sql == "NOT (unit_articles.body = ? AND unit_articles.title = ?)"


def test_empty_q_matches_everything() -> None:
    sql, _ = compiled(Article.objects.filter(Q()), SL)
    assert "unit_articles.title" not in sql.partition("FROM")[2]


def test_exclude_on_a_non_null_field_is_a_plain_not() -> None:
    sql, _ = where(Article.objects.exclude(title="x"), SL)
    assert sql == "unit_articles.title != ?"


def test_exclude_on_a_nullable_field_adds_is_not_null_inside_the_not() -> None:
    sql, params = where(Article.objects.exclude(pages=3), SL)
    assert sql == "NOT (unit_articles.pages = ? AND unit_articles.pages IS NOT NULL)"
    assert param_values(params) == [3]
    sql, _ = where(Article.objects.exclude(pages__in=[1, 2]), SL)
    assert sql == (
        "NOT (unit_articles.pages IN (__[POSTCOMPILE_pages_1]) AND unit_articles.pages IS NOT NULL)"
    )


def test_exclude_of_or_on_nullable_fields() -> None:
    sql, _ = where(Article.objects.exclude(Q(pages=1) | Q(subtitle="s")), SL)
    assert sql == (
        "NOT (unit_articles.pages = ? AND unit_articles.pages IS NOT NULL "
        "OR unit_articles.subtitle = ? AND unit_articles.subtitle IS NOT NULL)"
    )


def test_exclude_isnull_and_none_do_not_get_the_null_guard() -> None:
    sql, _ = where(Article.objects.exclude(pages__isnull=True), SL)
    assert sql == "unit_articles.pages IS NOT NULL"
    sql, _ = where(Article.objects.exclude(pages=None), SL)
    assert sql == "unit_articles.pages IS NOT NULL"


def test_double_negation_cancels() -> None:
    sql, _ = where(Article.objects.exclude(~Q(pages=1)), SL)
    assert sql == "unit_articles.pages = ?"


@pytest.mark.parametrize(
    ("expression", "expected", "values"),
    [
        (F("price"), "unit_articles.pages > unit_articles.price", []),
        (F("price") * 2 + 1, "unit_articles.pages > unit_articles.price * ? + ?", [2, 1]),
        ((F("price") + 1) * 2, "unit_articles.pages > (unit_articles.price + ?) * ?", [1, 2]),
        (
            2 * F("pages") - F("price"),
            "unit_articles.pages > ? * unit_articles.pages - unit_articles.price",
            [2],
        ),
        (-F("pages"), "unit_articles.pages > ? - unit_articles.pages", [0]),
        (F("pages") % 4, "unit_articles.pages > unit_articles.pages % ?", [4]),
        (F("pages") ** 2, "unit_articles.pages > power(unit_articles.pages, ?)", [2]),
    ],
)
def test_f_arithmetic_in_filters(expression: Any, expected: str, values: list[Any]) -> None:
    sql, params = where(Article.objects.filter(pages__gt=expression), SL)
    assert sql == expected
    assert param_values(params) == values


def test_f_in_exact_and_across_dialects() -> None:
    for dialect, sql in [
        (PG, "unit_articles.pages = unit_articles.price + $1::INTEGER"),
        (MY, "unit_articles.pages = unit_articles.price + %s"),
        (SL, "unit_articles.pages = unit_articles.price + ?"),
    ]:
        assert where(Article.objects.filter(pages=F("price") + 1), dialect)[0] == sql


def test_f_with_an_unknown_field() -> None:
    with pytest.raises(FieldError, match="nope"):
        Article.objects.filter(pages=F("nope"))


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_sqlalchemy_expression_as_a_filter(dialect: str) -> None:
    table = Article.__table__
    sql, params = where(Article.objects.filter(table.c.price > 5, title="x"), dialect)
    placeholder = {PG: ("$1::INTEGER", "$2::VARCHAR"), MY: ("%s", "%s"), SL: ("?", "?")}[dialect]
    assert sql == (
        f"unit_articles.price > {placeholder[0]} AND unit_articles.title = {placeholder[1]}"
    )
    assert param_values(params) == [5, "x"]


def test_sqlalchemy_expression_inside_q() -> None:
    table = Article.__table__
    sql, _ = where(Article.objects.filter(Q(table.c.price > 5) | Q(title="x")), SL)
    assert sql == "unit_articles.price > ? OR unit_articles.title = ?"
    sql, _ = where(Article.objects.exclude(table.c.pages.is_(None)), SL)
    assert sql == "unit_articles.pages IS NOT NULL"


def test_filter_rejects_other_positional_arguments() -> None:
    with pytest.raises(FieldError):
        Article.objects.filter("title")


def test_none_compiles_to_a_false_condition() -> None:
    sql, _ = where(Article.objects.filter(title="a").none(), SL)
    assert sql == "0 = 1"  # SQLAlchemy folds "x AND false" to false


# -- bound parameters -----------------------------------------------------------------------

# No '%', '_' or '/' in it: LIKE lookups send it unchanged (not escaped).
SENTINEL = "s3ntinel'; DROP TABLE secrets; --"


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
@pytest.mark.parametrize(
    "key",
    [
        "title",
        "title__iexact",
        "title__contains",
        "title__icontains",
        "title__startswith",
        "title__istartswith",
        "title__endswith",
        "title__iendswith",
        "title__regex",
        "title__iregex",
        "title__gt",
        "title__lte",
    ],
)
def test_values_are_bound_never_inlined(key: str, dialect: str) -> None:
    sql, params = compiled(Article.objects.filter(**{key: SENTINEL}), dialect)
    assert "s3ntinel" not in sql
    assert "DROP" not in sql
    assert SENTINEL in param_values(params)


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_in_range_and_f_values_are_bound(dialect: str) -> None:
    qs = Article.objects.filter(
        title__in=[SENTINEL, "other"], pages__range=(123457, 987654), price__gt=F("pages") + 424242
    )
    sql, params = compiled(qs, dialect, postcompile=False)
    for value in (SENTINEL, 123457, 987654, 424242):
        assert str(value) not in sql
        assert value in param_values(params)


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_slice_bounds_and_annotation_values_are_bound(dialect: str) -> None:
    qs = Article.objects.annotate(n=Count("id", filter=Q(title=SENTINEL))).filter(n__gt=31337)
    sql, params = compiled(qs[70001:70011], dialect)
    for value in ("s3ntinel", "31337", "70001"):
        assert value not in sql
    assert SENTINEL in param_values(params)
    assert 31337 in param_values(params)
    assert 70001 in param_values(params)


# -- ORDER BY -------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_order_by_descending_and_ascending(dialect: str) -> None:
    sql, _ = compiled(Article.objects.order_by("-pages", "title"), dialect)
    assert sql.endswith(" ORDER BY unit_articles.pages DESC, unit_articles.title ASC")


def test_order_by_pk_and_expressions() -> None:
    sql, _ = compiled(Code.objects.order_by("-pk"), SL)
    assert sql.endswith(" ORDER BY unit_codes.code DESC")
    sql, _ = compiled(Article.objects.order_by(F("pages").desc(), F("title").asc()), SL)
    assert sql.endswith(" ORDER BY unit_articles.pages DESC, unit_articles.title ASC")
    sql, _ = compiled(Article.objects.order_by(Article.__table__.c.rating), SL)
    assert sql.endswith(" ORDER BY unit_articles.rating ASC")


def test_meta_ordering_is_the_default() -> None:
    assert compiled(Writer.objects.all(), SL)[0].endswith(" ORDER BY unit_writers.name ASC")
    assert compiled(Writer.objects.filter(active=True), SL)[0].endswith(
        " ORDER BY unit_writers.name ASC"
    )
    # inherited from the abstract base
    assert compiled(Note.objects.all(), SL)[0].endswith(" ORDER BY unit_notes.created DESC")
    # no Meta.ordering: no ORDER BY
    assert "ORDER BY" not in compiled(Article.objects.all(), SL)[0]


def test_order_by_replaces_meta_ordering_and_empty_order_by_clears_it() -> None:
    sql, _ = compiled(Writer.objects.order_by("-joined"), SL)
    assert sql.endswith(" ORDER BY unit_writers.joined DESC")
    assert "ORDER BY" not in compiled(Writer.objects.order_by(), SL)[0]


def test_later_order_by_replaces_earlier_one() -> None:
    sql, _ = compiled(Article.objects.order_by("title").order_by("-pages"), SL)
    assert sql.endswith(" ORDER BY unit_articles.pages DESC")


def test_reverse() -> None:
    sql, _ = compiled(Writer.objects.reverse(), SL)
    assert sql.endswith(" ORDER BY unit_writers.name DESC")
    sql, _ = compiled(Article.objects.order_by("-pages", "title").reverse(), SL)
    assert sql.endswith(" ORDER BY unit_articles.pages ASC, unit_articles.title DESC")
    # reverse twice is the original order
    sql, _ = compiled(Writer.objects.reverse().reverse(), SL)
    assert sql.endswith(" ORDER BY unit_writers.name ASC")


def test_reverse_without_any_ordering_orders_by_pk_descending() -> None:
    sql, _ = compiled(Article.objects.reverse(), SL)
    assert sql.endswith(" ORDER BY unit_articles.id DESC")
    sql, _ = compiled(Code.objects.reverse(), SL)
    assert sql.endswith(" ORDER BY unit_codes.code DESC")


def test_order_by_annotation() -> None:
    sql, _ = compiled(Article.objects.annotate(n=Count("id")).order_by("-n"), SL)
    assert sql.endswith(" ORDER BY count(unit_articles.id) DESC")


# -- slicing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "tail", "params"),
    [
        (PG, "LIMIT $1::INTEGER OFFSET $2::INTEGER", {"param_1": 10, "param_2": 10}),
        # MySQL's LIMIT offset, count
        (MY, "LIMIT %s, %s", {"param_1": 10, "param_2": 10}),
        (SL, "LIMIT ? OFFSET ?", {"param_1": 10, "param_2": 10}),
    ],
)
def test_slice_is_limit_offset(dialect: str, tail: str, params: dict[str, Any]) -> None:
    sql, got = compiled(Writer.objects.order_by("-name", "id")[10:20], dialect)
    assert sql == (
        f"SELECT {WRITER_COLUMNS} FROM unit_writers "
        f"ORDER BY unit_writers.name DESC, unit_writers.id ASC {tail}"
    )
    assert got == params


@pytest.mark.parametrize(
    ("dialect", "tail", "params"),
    [
        (PG, "LIMIT $1::INTEGER", {"param_1": 5}),
        (MY, "LIMIT %s", {"param_1": 5}),
        # SQLAlchemy's SQLite compiler always writes OFFSET
        (SL, "LIMIT ? OFFSET ?", {"param_1": 5, "param_2": 0}),
    ],
)
def test_slice_from_start_is_limit_only(dialect: str, tail: str, params: dict[str, Any]) -> None:
    sql, got = compiled(Article.objects.all()[:5], dialect)
    assert sql == f"SELECT {ARTICLE_COLUMNS} FROM unit_articles {tail}"
    assert got == params


@pytest.mark.parametrize(
    ("dialect", "tail", "params"),
    [
        (PG, "LIMIT ALL OFFSET $1::INTEGER", {"param_1": 5}),
        (MY, "LIMIT %s, 18446744073709551615", {"param_1": 5}),
        (SL, "LIMIT ? OFFSET ?", {"param_1": -1, "param_2": 5}),
    ],
)
def test_open_ended_slice_is_offset_only(dialect: str, tail: str, params: dict[str, Any]) -> None:
    sql, got = compiled(Article.objects.all()[5:], dialect)
    assert sql == f"SELECT {ARTICLE_COLUMNS} FROM unit_articles {tail}"
    assert got == params


@pytest.mark.parametrize(
    ("slices", "low", "high"),
    [
        ([slice(2, 5), slice(1, 2)], 3, 4),
        ([slice(2, 5), slice(1, 10)], 3, 5),  # the inner slice cannot extend the outer one
        ([slice(5, None), slice(None, 3)], 5, 8),
        ([slice(None, 10), slice(3, None)], 3, 10),
        ([slice(2, 5), slice(4, None)], 6, 6),  # past the end: empty
        ([slice(10, 20), slice(2, 4), slice(1, None)], 13, 14),
        ([slice(None, 0)], 0, 0),
    ],
)
def test_slicing_a_slice_composes(slices: list[slice], low: int, high: int) -> None:
    qs: Any = Article.objects.all()
    for s in slices:
        qs = qs[s]
    assert (qs._state.low, qs._state.high) == (low, high)
    _, params = compiled(qs, PG)
    expected = {high - low} if low == 0 else {high - low, low}
    assert set(params.values()) == expected


@pytest.mark.parametrize("key", [slice(-1, None), slice(None, -1), slice(0, 10, 2)])
def test_negative_and_stepped_slices_are_refused(key: slice) -> None:
    with pytest.raises(TypeError):
        Article.objects.all()[key]


def test_indexing_with_a_non_integer_is_refused() -> None:
    with pytest.raises(TypeError):
        Article.objects.all()["a"]  # type: ignore[index]


def test_a_sliced_queryset_cannot_be_filtered_or_reordered() -> None:
    sliced = Article.objects.all()[:3]
    with pytest.raises(TypeError, match="sliced"):
        sliced.filter(title="a")
    with pytest.raises(TypeError, match="sliced"):
        sliced.exclude(title="a")
    with pytest.raises(TypeError, match="sliced"):
        sliced.order_by("title")


# -- annotate, GROUP BY, HAVING -------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_annotate_count_groups_by_every_selected_column(dialect: str) -> None:
    sql, _ = compiled(Article.objects.annotate(n=Count("id")), dialect)
    assert sql == (
        f"SELECT {ARTICLE_COLUMNS}, count(unit_articles.id) AS n FROM unit_articles "
        f"GROUP BY {ARTICLE_COLUMNS}"
    )


@pytest.mark.parametrize(("dialect", "placeholder"), [(PG, "$1::INTEGER"), (MY, "%s"), (SL, "?")])
def test_values_annotate_groups_by_the_values_and_aggregate_filter_is_having(
    dialect: str, placeholder: str
) -> None:
    qs = Article.objects.values("status").annotate(n=Count("id")).filter(n__gt=2)
    sql, params = compiled(qs, dialect)
    assert sql == (
        "SELECT unit_articles.status AS status, count(unit_articles.id) AS n FROM unit_articles "
        f"GROUP BY unit_articles.status HAVING count(unit_articles.id) > {placeholder}"
    )
    assert params == {"count_1": 2}


def test_where_and_having_together() -> None:
    qs = Article.objects.filter(pages__gt=1).annotate(n=Count("id")).filter(n__gte=3)
    qs = qs.values("status", "n")
    sql, params = compiled(qs, SL)
    assert sql == (
        "SELECT unit_articles.status AS status, count(unit_articles.id) AS n FROM unit_articles "
        "WHERE unit_articles.pages > ? GROUP BY unit_articles.status "
        "HAVING count(unit_articles.id) >= ?"
    )
    assert param_values(params) == [1, 3]


def test_filter_on_an_expression_over_an_aggregate_is_having() -> None:
    qs = Article.objects.values("status").annotate(n=Count("id")).filter(n__gt=F("n") * 0 + 1)
    sql, _ = compiled(qs, SL)
    assert " HAVING count(unit_articles.id) > count(unit_articles.id) * ? + ?" in sql
    assert " WHERE " not in sql


def test_exclude_on_an_aggregate_is_having() -> None:
    qs = Article.objects.values("status").annotate(n=Count("id")).exclude(n=0)
    sql, _ = compiled(qs, SL)
    assert sql.endswith(" GROUP BY unit_articles.status HAVING count(unit_articles.id) != ?")


def test_non_aggregate_annotation_is_in_group_by() -> None:
    from flash_db import Lower

    qs = Article.objects.annotate(low=Lower("title"), n=Count("id"))
    sql, _ = compiled(qs, SL)
    assert sql.endswith(f"GROUP BY {ARTICLE_COLUMNS}, lower(unit_articles.title)")


def test_annotation_without_aggregate_adds_no_group_by() -> None:
    from flash_db import Upper

    sql, _ = compiled(Article.objects.annotate(up=Upper("title")), SL)
    assert sql == f"SELECT {ARTICLE_COLUMNS}, upper(unit_articles.title) AS up FROM unit_articles"


def test_annotation_name_conflicts() -> None:
    with pytest.raises(FieldError, match="conflicts"):
        Article.objects.annotate(title=Count("id"))
    with pytest.raises(FieldError, match="conflicts"):
        Article.objects.annotate(n=Count("id")).annotate(n=Count("pages"))
    with pytest.raises(FieldError, match="expression"):
        Article.objects.annotate(n=3)


def test_non_aggregate_condition_next_to_aggregate_one_stays_in_where() -> None:
    qs = Article.objects.values("status").annotate(n=Count("id")).filter(n__gt=2, title="x")
    sql, _ = compiled(qs, PG)
    assert "WHERE unit_articles.title = " in sql
    assert "HAVING count(unit_articles.id) > $" in sql


def test_meta_ordering_is_not_applied_to_values_annotate() -> None:
    qs = Writer.objects.values("active").annotate(n=Count("id"))
    sql, _ = compiled(qs, PG)
    assert "ORDER BY unit_writers.name" not in sql


def test_distinct_values_do_not_order_by_unselected_columns() -> None:
    sql, _ = compiled(Writer.objects.values("active").distinct(), PG)
    order_by = sql.partition(" ORDER BY ")[2]
    assert "unit_writers.name" not in order_by


# -- count(), update(), delete() ------------------------------------------------------------


def test_count_of_a_plain_queryset_is_count_star_with_where() -> None:
    sql, params = compile_statement(count_select(Article.objects.filter(pages=1)._state), SL)
    assert sql == "SELECT count(*) AS count_1 FROM unit_articles WHERE unit_articles.pages = ?"
    assert params == {"pages_1": 1}


def test_count_ignores_meta_ordering() -> None:
    sql, _ = compile_statement(count_select(Writer.objects.all()._state), SL)
    assert sql == "SELECT count(*) AS count_1 FROM unit_writers"


@pytest.mark.parametrize(
    ("dialect", "tail"),
    [
        (PG, "WHERE unit_articles.pages = $1::INTEGER LIMIT $2::INTEGER OFFSET $3::INTEGER"),
        (MY, "WHERE unit_articles.pages = %s LIMIT %s, %s"),
        (SL, "WHERE unit_articles.pages = ? LIMIT ? OFFSET ?"),
    ],
)
def test_count_of_a_sliced_queryset_wraps_a_subquery(dialect: str, tail: str) -> None:
    state = Article.objects.filter(pages=1)[2:7]._state
    sql, params = compile_statement(count_select(state), dialect)
    inner = ", ".join(f"{c} AS {c.split('.')[1]}" for c in ARTICLE_COLUMNS.split(", "))
    assert sql == (
        f"SELECT count(*) AS count_1 FROM (SELECT {inner} FROM unit_articles {tail}) AS flash_count"
    )
    assert sorted(params.values()) == [1, 2, 5]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Article.objects.values("title").distinct(),
        lambda: Article.objects.values("status").annotate(n=Count("id")),
    ],
)
def test_count_of_distinct_or_grouped_wraps_a_subquery(make: Any) -> None:
    sql, _ = compile_statement(count_select(make()._state), SL)
    assert sql.startswith("SELECT count(*) AS count_1 FROM (SELECT ")
    assert sql.endswith(") AS flash_count")


def test_count_of_none_is_false() -> None:
    sql, _ = compile_statement(count_select(Article.objects.none()._state), SL)
    assert sql == "SELECT count(*) AS count_1 FROM unit_articles WHERE 0 = 1"


def test_write_filter_of_a_plain_queryset_is_its_where() -> None:
    state = Article.objects.filter(pages=1)._state
    stmt = sa.update(Article.__table__).where(*write_filter(state)).values(pages=2)
    sql, params = compile_statement(stmt, SL)
    assert sql == "UPDATE unit_articles SET pages=? WHERE unit_articles.pages = ?"
    assert params == {"pages": 2, "pages_1": 1}


@pytest.mark.parametrize(
    ("dialect", "inner"),
    [
        (
            PG,
            "WHERE unit_articles.pages = $1::INTEGER ORDER BY unit_articles.id ASC "
            "LIMIT $2::INTEGER",
        ),
        (MY, "WHERE unit_articles.pages = %s ORDER BY unit_articles.id ASC LIMIT %s"),
        (SL, "WHERE unit_articles.pages = ? ORDER BY unit_articles.id ASC LIMIT ? OFFSET ?"),
    ],
)
def test_delete_of_a_sliced_queryset_uses_pk_in_derived_table(dialect: str, inner: str) -> None:
    state = Article.objects.filter(pages=1).order_by("id")[:100]._state
    stmt = sa.delete(Article.__table__).where(*write_filter(state))
    sql, params = compile_statement(stmt, dialect)
    assert sql == (
        "DELETE FROM unit_articles WHERE unit_articles.id IN (SELECT flash_slice.id FROM "
        f"(SELECT unit_articles.id AS id FROM unit_articles {inner}) AS flash_slice)"
    )
    assert 100 in params.values()
    assert 1 in params.values()


@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_update_of_a_sliced_queryset_uses_pk_in_derived_table(dialect: str) -> None:
    state = Code.objects.order_by("-label")[5:10]._state
    stmt = sa.update(Code.__table__).where(*write_filter(state)).values(label="x")
    sql, params = compile_statement(stmt, dialect)
    assert sql.startswith("UPDATE unit_codes SET label_text=")
    assert (
        " WHERE unit_codes.code IN (SELECT flash_slice.code FROM (SELECT unit_codes.code AS code "
        "FROM unit_codes ORDER BY unit_codes.label_text DESC LIMIT " in sql
    )
    assert sql.endswith(") AS flash_slice)")
    assert "x" in params.values()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Article.objects.values("title").distinct(),
        lambda: Article.objects.annotate(n=Count("id")).filter(n__gt=1),
    ],
)
def test_write_filter_of_distinct_or_grouped_uses_pk_in(make: Any) -> None:
    (condition,) = write_filter(make()._state)
    sql, _ = compile_statement(condition, SL)
    assert sql.startswith("unit_articles.id IN (SELECT flash_slice.id FROM (SELECT ")


def test_write_filter_of_none_is_false() -> None:
    conditions = write_filter(Article.objects.none()._state)
    stmt = sa.delete(Article.__table__).where(*conditions)
    assert compile_statement(stmt, SL)[0] == "DELETE FROM unit_articles WHERE 0 = 1"


# -- immutability ---------------------------------------------------------------------------


def test_filter_returns_a_new_queryset_and_leaves_the_original_alone() -> None:
    base = Article.objects.all()
    before = base._state
    filtered = base.filter(title="a")
    assert filtered is not base
    assert isinstance(filtered, QuerySet)
    assert base._state is before
    assert base._state.where == ()
    assert len(filtered._state.where) == 1
    assert "WHERE" not in compiled(base, SL)[0]


@pytest.mark.parametrize(
    "build",
    [
        lambda qs: qs.filter(title="a"),
        lambda qs: qs.exclude(title="a"),
        lambda qs: qs.order_by("-title"),
        lambda qs: qs.reverse(),
        lambda qs: qs.distinct(),
        lambda qs: qs.values("title"),
        lambda qs: qs.values_list("title", flat=True),
        lambda qs: qs.annotate(n=Count("id")),
        lambda qs: qs.using("other"),
        lambda qs: qs.none(),
        lambda qs: qs.all(),
        lambda qs: qs[1:3],
    ],
)
def test_every_builder_returns_a_copy(build: Any) -> None:
    base = Article.objects.filter(pages__gt=1)
    state_before = base._state
    sql_before = compiled(base, SL)
    result = build(base)
    assert result is not base
    assert result._state is not state_before
    assert base._state is state_before
    assert compiled(base, SL) == sql_before


def test_state_is_frozen() -> None:
    qs = Article.objects.all()
    with pytest.raises(dataclasses.FrozenInstanceError):
        qs._state.low = 3  # type: ignore[misc]


def test_querysets_share_nothing_mutable() -> None:
    base = Article.objects.filter(title="a")
    one = base.filter(pages=1)
    two = base.filter(pages=2)
    assert param_values(where(one, SL)[1]) == ["a", 1]
    assert param_values(where(two, SL)[1]) == ["a", 2]
    assert param_values(where(base, SL)[1]) == ["a"]


def test_queryset_is_not_a_sync_iterable() -> None:
    with pytest.raises(TypeError, match="async"):
        list(Article.objects.all())


# -- statement cache friendliness -----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "a", "b"),
    [
        (lambda v: Article.objects.filter(title=v), "a", "b"),
        (lambda v: Article.objects.filter(title__icontains=v), "a", "b"),
        (lambda v: Article.objects.filter(title__contains=v), "a", "b"),
        (lambda v: Article.objects.filter(title__iregex=v), "^a", "^b"),
        (lambda v: Article.objects.filter(title__regex=v), "^a", "^b"),
        (lambda v: Article.objects.filter(pages__in=v), [1, 2], [3, 4, 5]),
        (lambda v: Article.objects.filter(pages__range=v), (1, 2), (3, 4)),
        (lambda v: Article.objects.filter(updated__year=v), 2020, 2021),
        (lambda v: Article.objects.exclude(pages=v), 1, 2),
        (lambda v: Article.objects.filter(pages__gt=F("price") * v), 2, 3),
        (lambda v: Article.objects.filter(Q(title=v) | ~Q(body=v)), "a", "b"),
        (lambda v: Article.objects.all()[v : v + 10], 10, 20),
        (
            lambda v: (
                Article.objects.values("status")
                .annotate(n=Count("id", filter=Q(pages__gt=v)))
                .filter(n__gt=v)
            ),
            1,
            2,
        ),
    ],
)
def test_statements_differing_only_in_values_share_a_cache_key(make: Any, a: Any, b: Any) -> None:
    one, two = build_select(make(a)._state), build_select(make(b)._state)
    key_one, key_two = one._generate_cache_key(), two._generate_cache_key()
    assert key_one is not None, "statement is not cacheable"
    assert key_one == key_two
    assert compiled(make(a), SL)[1] != compiled(make(b), SL)[1]


def test_statements_differing_in_structure_have_different_cache_keys() -> None:
    one = build_select(Article.objects.filter(title="a")._state)._generate_cache_key()
    two = build_select(Article.objects.filter(body="a")._state)._generate_cache_key()
    three = build_select(Article.objects.filter(title__iregex="a")._state)._generate_cache_key()
    four = build_select(Article.objects.filter(title__regex="a")._state)._generate_cache_key()
    keys = [one, two, three, four]
    for i, key in enumerate(keys):
        for other in keys[i + 1 :]:
            assert key != other


# -- FieldError for unknown names ----------------------------------------------------------


def test_unknown_field_in_filter_names_the_choices() -> None:
    with pytest.raises(FieldError) as info:
        Article.objects.filter(titel="x")
    message = str(info.value)
    assert "'titel'" in message
    assert "Article" in message
    for name in ("pk", "id", "title", "subtitle", "pages", "status"):
        assert name in message


def test_unknown_field_in_q_and_exclude() -> None:
    with pytest.raises(FieldError, match="titel"):
        Article.objects.filter(Q(title="a") | Q(titel="b"))
    with pytest.raises(FieldError, match="titel"):
        Article.objects.exclude(titel="b")


def test_annotations_are_among_the_choices() -> None:
    with pytest.raises(FieldError) as info:
        Article.objects.annotate(num=Count("id")).filter(nmu=1)
    assert "num" in str(info.value)


def test_order_by_unknown_field_names_the_choices() -> None:
    with pytest.raises(FieldError) as info:
        Article.objects.order_by("-titel")
    assert "'titel'" in str(info.value)
    assert "title" in str(info.value)


def test_values_unknown_field_names_the_choices() -> None:
    with pytest.raises(FieldError) as info:
        Article.objects.values("title", "nope")
    assert "'nope'" in str(info.value)
    assert "pages" in str(info.value)
    with pytest.raises(FieldError, match="nope"):
        Article.objects.values_list("nope", flat=True)


def test_values_with_an_unknown_transform() -> None:
    with pytest.raises(FieldError, match="nope"):
        Article.objects.values("title__nope")


def test_enum_value_is_bound_as_the_member() -> None:
    _, params = where(Article.objects.filter(status=Status.LIVE), SL)
    assert param_values(params) == [Status.LIVE]
