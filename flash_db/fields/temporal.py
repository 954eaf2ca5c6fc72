"""Date and time fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from ..exceptions import ValidationError
from ..lookups import ExtractDay, ExtractMonth, ExtractYear, TruncDate
from ..sqltypes import Duration, NaiveDateTime, PreciseTime, UTCDateTime
from .base import Field, N
from .numbers import IntegerField


def _parse(value: Any, parser: Any, kind: str) -> Any:
    try:
        return parser(value)
    except (TypeError, ValueError):
        raise ValidationError([f"{value!r} is not a valid {kind} (use ISO 8601)"]) from None


class _AutoNow:
    """``auto_now`` (set on every save) and ``auto_now_add`` (set on insert) for date/time fields."""

    attname: str
    auto_now: bool
    auto_now_add: bool

    def now(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def pre_save(self, instance: Any, add: bool) -> Any:
        if self.auto_now or (self.auto_now_add and add):
            value = self.now()
            instance.__dict__[self.attname] = value
            return value
        return instance.__dict__.get(self.attname)

    def pre_save_reads_value(self, add: bool) -> bool:
        return type(self).pre_save is _AutoNow.pre_save and not (
            self.auto_now or (self.auto_now_add and add)
        )

    def none_is_valid(self) -> bool:
        return bool(self.auto_now or self.auto_now_add) or super().none_is_valid()  # type: ignore[misc]

    def validate(self, value: Any, instance: Any) -> None:
        if value is None and (self.auto_now or self.auto_now_add):
            return
        super().validate(value, instance)  # type: ignore[misc]


class DateField(_AutoNow, Field[dt.date, N]):
    """A calendar date. ``auto_now`` / ``auto_now_add`` set today's date on save / on insert."""

    python_type = dt.date

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        auto_now: bool = False,
        auto_now_add: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Date()

    def now(self) -> Any:
        return dt.date.today()

    def to_python(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return _parse(value, dt.date.fromisoformat, "date")

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        return self._exact_type_check(DateField, var, names)


class DateTimeField(_AutoNow, Field[dt.datetime, N]):
    """A point in time.

    With ``timezone=True`` (the default) values are aware and come back in UTC
    on every backend; naive values are taken as UTC. ``timezone=False`` stores
    naive datetimes as given. ``auto_now`` / ``auto_now_add`` as on ``DateField``.
    """

    python_type = dt.datetime

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        timezone: bool = True,
        auto_now: bool = False,
        auto_now_add: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]
        self.timezone = timezone
        self.auto_now = auto_now
        self.auto_now_add = auto_now_add

    def sa_type(self) -> TypeEngine[Any]:
        return UTCDateTime() if self.timezone else NaiveDateTime()

    def now(self) -> Any:
        now = dt.datetime.now(dt.UTC)
        return now if self.timezone else now.replace(tzinfo=None)

    def to_python(self, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, dt.datetime):
            parsed = value
        elif isinstance(value, dt.date):
            tz = dt.UTC if self.timezone else None
            return dt.datetime(value.year, value.month, value.day, tzinfo=tz)
        else:
            parsed = _parse(value, dt.datetime.fromisoformat, "datetime")
        if not self.timezone and parsed.tzinfo is not None:
            # a column without a zone cannot say which zone its values are in, so an
            # aware value is refused rather than converted by a guess
            raise ValidationError(
                [
                    f"{value!r} has a time zone, and this DateTimeField(timezone=False) holds "
                    f"naive datetimes: give one without (value.astimezone(zone).replace("
                    f"tzinfo=None) in the zone the column's values are in)"
                ]
            )
        return parsed

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        check = self._exact_type_check(DateTimeField, var, names)
        if check is None or self.timezone:
            return check
        # naive only: an aware value goes to clean(), which refuses it
        return f"({check} and ({var} is None or {var}.tzinfo is None))"


class TimeField(Field[dt.time, N]):
    """A time of day."""

    python_type = dt.time

    def sa_type(self) -> TypeEngine[Any]:
        return PreciseTime()

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, dt.time):
            return value
        return _parse(value, dt.time.fromisoformat, "time")

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        return self._exact_type_check(TimeField, var, names)


class DurationField(Field[dt.timedelta, N]):
    """A ``timedelta``."""

    python_type = dt.timedelta

    def sa_type(self) -> TypeEngine[Any]:
        return Duration()

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, dt.timedelta):
            return value
        if isinstance(value, (int, float)):
            try:
                return dt.timedelta(seconds=value)
            except (OverflowError, ValueError):  # too large, NaN, infinite
                raise ValidationError([f"{value!r} seconds is not a valid duration"]) from None
        raise ValidationError([f"{value!r} is not a duration (use datetime.timedelta)"])

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        return self._exact_type_check(DurationField, var, names)


for _transform in (ExtractYear, ExtractMonth, ExtractDay):
    # Date parts are integers: ``published__year__gte=2020`` uses integer lookups.
    _transform.output_field = IntegerField
    DateField.register_lookup(_transform)
    DateTimeField.register_lookup(_transform)
TruncDate.output_field = DateField
DateTimeField.register_lookup(TruncDate)
