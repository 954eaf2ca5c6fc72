"""Column types: what the result processors make of the values each backend hands back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.dialects import mysql, postgresql, sqlite

from flash_db.sqltypes import ASYNCPG_TIMESTAMPTZ, UTCDateTime

UTC = dt.UTC
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


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
