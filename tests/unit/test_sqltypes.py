"""Column types: what the result processors make of the values each backend hands back."""

from __future__ import annotations

import datetime as dt
import enum

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from flash_db.sqltypes import ASYNCPG_TIMESTAMPTZ, UTCDateTime

UTC = dt.UTC
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


class _Colour(enum.Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        # SQLAlchemy's own storage format
        ("2026-01-01 00:00:05.000000", dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)),
        ("2026-01-01 00:00:05.123456", dt.datetime(2026, 1, 1, 0, 0, 5, 123456, tzinfo=UTC)),
        # written by other tools: no microseconds, a T, an offset of its own
        ("2026-01-01 00:00:05", dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)),
        ("2026-01-01T00:00:05", dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)),
        ("2026-01-01 02:00:05+02:00", dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_text_reads_back_as_aware_utc(stored: str | None, expected: object) -> None:
    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    value = process(stored)
    assert value == expected
    if value is not None:
        assert value.tzinfo is UTC


def test_sqlite_text_that_is_not_a_datetime_fails_as_before() -> None:
    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    with pytest.raises(ValueError):
        process("not a date")


@pytest.mark.parametrize("dialect", [postgresql.asyncpg.dialect(), mysql.aiomysql.dialect()])
def test_driver_datetimes_become_aware_utc(dialect: object) -> None:
    process = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[arg-type]
    naive = dt.datetime(2026, 1, 1, 0, 0, 5)
    assert process(naive) == naive.replace(tzinfo=UTC)
    aware = dt.datetime(2026, 1, 1, 2, 0, 5, tzinfo=PLUS_TWO)
    assert process(aware) == aware and process(aware).tzinfo is UTC
    already = naive.replace(tzinfo=UTC)
    assert process(already) is already


def test_asyncpg_timestamptz_needs_no_processor() -> None:
    """asyncpg decodes ``timestamptz`` as aware UTC itself: no processor, so a fetch of
    such columns can hand the driver's records on as they are."""
    dialect = postgresql.asyncpg.dialect()
    impl = UTCDateTime().dialect_impl(dialect)
    assert impl.result_processor(dialect, ASYNCPG_TIMESTAMPTZ) is None
    # a plain ``timestamp`` (OID 1114) read into this type still gets the zone attached
    process = impl.result_processor(dialect, 1114)
    naive = dt.datetime(2026, 1, 1, 0, 0, 5)
    assert process(naive) == naive.replace(tzinfo=UTC)


def test_parameter_array_casts_without_length_or_precision() -> None:
    """PostgreSQL truncates on an explicit ``::varchar(n)``: the arrays are cast to the
    bare type, and the column's own limits apply when the row is assigned."""
    from sqlalchemy.dialects.postgresql import asyncpg

    from flash_db.sqltypes import ParameterArray

    dialect = asyncpg.dialect()
    binds = [
        sa.bindparam(f"p{i}", type_=ParameterArray(t))
        for i, t in enumerate(
            [sa.String(10), sa.Numeric(8, 2), sa.Double(), UTCDateTime(), sa.JSON(), sa.Uuid()]
        )
    ]
    sql = str(sa.select(*binds).compile(dialect=dialect))
    assert sql.startswith(
        "SELECT $1::TEXT[] AS anon_1, $2::NUMERIC[] AS anon_2, $3::DOUBLE PRECISION[] AS anon_3, "
        "$4::TIMESTAMP WITH TIME ZONE[] AS anon_4, $5::TEXT[] AS anon_5, $6::UUID[]"
    ), sql


def test_parameter_array_processes_each_value_and_knows_its_types() -> None:
    from sqlalchemy.dialects.postgresql import asyncpg

    from flash_db.sqltypes import EnumValue, ParameterArray

    dialect = asyncpg.dialect()
    process = ParameterArray(UTCDateTime()).dialect_impl(dialect).bind_processor(dialect)
    assert process((dt.datetime(2024, 1, 1, 12, tzinfo=PLUS_TWO), None)) == [
        dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC),
        None,
    ]
    assert process(None) is None
    json_text = (
        ParameterArray(sa.JSON(none_as_null=True)).dialect_impl(dialect).bind_processor(dialect)
    )
    assert json_text([{"a": 1}, None]) == ['{"a": 1}', None]
    assert ParameterArray.fits(EnumValue(_Colour), dialect)
    assert ParameterArray.fits(sa.JSON(), dialect)
    # native enums, arrays and unknown types keep the row-by-row form
    assert not ParameterArray.fits(sa.Enum("a", "b", name="ab"), dialect)
    assert not ParameterArray.fits(sa.ARRAY(sa.Integer()), dialect)
    assert not ParameterArray.fits(postgresql.INET(), dialect)
    # a TypeDecorator travels as its stored type, through its own processing
    assert ParameterArray.fits(sa.PickleType(), dialect)
