"""Numeric and boolean fields."""

from __future__ import annotations

import decimal
import math
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from ..exceptions import ValidationError
from .base import Field, N


class _Bounded:
    """Shared range check for numeric fields (``min_value`` / ``max_value``)."""

    min_value: Any
    max_value: Any

    def check_bounds(self, value: Any) -> None:
        if self.min_value is not None and value < self.min_value:
            raise ValidationError(
                [f"ensure this value is greater than or equal to {self.min_value}"]
            )
        if self.max_value is not None and value > self.max_value:
            raise ValidationError([f"ensure this value is less than or equal to {self.max_value}"])

    def _bounds_check(self, var: str, names: dict[str, Any]) -> str:
        """What :meth:`check_bounds` checks, as ``and …`` terms for a generated
        ``clean_check`` of ``var`` (empty without bounds)."""
        check = ""
        if self.min_value is not None:
            names[f"{var}_lo"] = self.min_value
            check += f" and {var} >= {var}_lo"
        if self.max_value is not None:
            names[f"{var}_hi"] = self.max_value
            check += f" and {var} <= {var}_hi"
        return check


class IntegerField(_Bounded, Field[int, N]):
    """A 32-bit integer. ``min_value`` / ``max_value`` add range checks."""

    python_type = int
    type_min: ClassVar[int] = -(2**31)
    type_max: ClassVar[int] = 2**31 - 1

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        min_value: int | None = None,
        max_value: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]
        self.min_value = self.type_min if min_value is None else min_value
        self.max_value = self.type_max if max_value is None else max_value

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Integer()

    def to_python(self, value: Any) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError, ArithmeticError):
            # ArithmeticError: OverflowError for an infinity, InvalidOperation for a
            # signalling NaN
            raise ValidationError([f"{value!r} is not an integer"]) from None

    def validate(self, value: Any, instance: Any) -> None:
        super().validate(value, instance)
        if value is not None:
            self.check_bounds(value)

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        if (
            not self._checks_as(IntegerField)
            or type(self).check_bounds is not _Bounded.check_bounds
        ):
            return None
        names[f"{var}_lo"], names[f"{var}_hi"] = self.min_value, self.max_value
        return self._or_none(var, f"type({var}) is int and {var}_lo <= {var} <= {var}_hi")


class SmallIntegerField(IntegerField[N]):
    """A 16-bit integer."""

    type_min = -(2**15)
    type_max = 2**15 - 1

    def sa_type(self) -> TypeEngine[Any]:
        return sa.SmallInteger()


class BigIntegerField(IntegerField[N]):
    """A 64-bit integer."""

    type_min = -(2**63)
    type_max = 2**63 - 1

    def sa_type(self) -> TypeEngine[Any]:
        return sa.BigInteger()


class AutoField(IntegerField[N]):
    """An auto-incrementing 32-bit integer primary key."""

    auto_increment = True

    def __init__(self, *, null: N = False, **kwargs: Any) -> None:  # type: ignore[assignment]
        kwargs.setdefault("primary_key", True)
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]


class BigAutoField(AutoField[N]):
    """An auto-incrementing 64-bit integer primary key (the implicit ``id``)."""

    type_min = -(2**63)
    type_max = 2**63 - 1

    def sa_type(self) -> TypeEngine[Any]:
        # SQLite only auto-increments an "INTEGER PRIMARY KEY" (the rowid alias).
        return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class FloatField(_Bounded, Field[float, N]):
    """A double-precision float."""

    python_type = float

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        min_value: float | None = None,
        max_value: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]
        self.min_value = min_value
        self.max_value = max_value

    def sa_type(self) -> TypeEngine[Any]:
        # sa.Float is a 4-byte FLOAT on MySQL; Double is 8 bytes everywhere.
        return sa.Double()

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, float):
            return value
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise ValidationError([f"{value!r} is not a number"]) from None
        return result

    def validate(self, value: Any, instance: Any) -> None:
        super().validate(value, instance)
        if value is not None:
            if math.isnan(value) or math.isinf(value):
                raise ValidationError(["NaN and infinity are not allowed"])
            self.check_bounds(value)

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        if not self._checks_as(FloatField) or type(self).check_bounds is not _Bounded.check_bounds:
            return None
        # NaN fails every comparison; infinities fail the strict ones
        names[f"{var}_inf"] = math.inf
        check = f"type({var}) is float and -{var}_inf < {var} < {var}_inf"
        return self._or_none(var, check + self._bounds_check(var, names))


class DecimalField(_Bounded, Field[decimal.Decimal, N]):
    """A fixed-precision decimal: ``DecimalField(max_digits=8, decimal_places=2)``."""

    python_type = decimal.Decimal

    def __init__(
        self,
        *,
        max_digits: int,
        decimal_places: int,
        null: N = False,  # type: ignore[assignment]
        min_value: Any = None,
        max_value: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]
        self.max_digits = max_digits
        self.decimal_places = decimal_places
        self.min_value = min_value
        self.max_value = max_value

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Numeric(self.max_digits, self.decimal_places, asdecimal=True)

    def get_default(self) -> Any:
        value = super().get_default()
        return self.to_python(value) if value is not None else None

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        try:
            if isinstance(value, float):
                return decimal.Decimal(repr(value))
            return decimal.Decimal(value)
        except (decimal.InvalidOperation, TypeError, ValueError):
            raise ValidationError([f"{value!r} is not a decimal number"]) from None

    def validate(self, value: Any, instance: Any) -> None:
        super().validate(value, instance)
        if value is None:
            return
        if not value.is_finite():
            raise ValidationError(["NaN and infinity are not allowed"])
        decimals, whole = _places(value)
        if decimals > self.decimal_places:
            raise ValidationError(
                [f"ensure there are no more than {self.decimal_places} decimal places"]
            )
        if whole > self.max_digits - self.decimal_places:
            raise ValidationError(
                [
                    f"ensure there are no more than {self.max_digits - self.decimal_places} digits before the point"
                ]
            )
        self.check_bounds(value)

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        if (
            not self._checks_as(DecimalField)
            or type(self).check_bounds is not _Bounded.check_bounds
        ):
            return None
        names[f"{var}_type"] = decimal.Decimal
        names[f"{var}_fits"] = _digits_check(self.max_digits, self.decimal_places)
        check = f"type({var}) is {var}_type and {var}_fits({var})"
        return self._or_none(var, check + self._bounds_check(var, names))


def _digits_check(max_digits: int, decimal_places: int) -> Any:
    """Whether a ``Decimal`` is finite and fits ``max_digits`` / ``decimal_places``: what
    ``DecimalField.validate`` checks, as one call that raises nothing."""
    whole_digits = max_digits - decimal_places

    def fits(value: decimal.Decimal) -> bool:
        if not value.is_finite():
            return False
        decimals, whole = _places(value)
        return decimals <= decimal_places and whole <= whole_digits

    return fits


def _places(value: decimal.Decimal) -> tuple[int, int]:
    """The digits of a finite ``value`` after and before the point."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite decimals have an int exponent
    return max(-exponent, 0), max(len(digits) + exponent, 0)


class BooleanField(Field[bool, N]):
    """``True`` / ``False``."""

    python_type = bool

    def sa_type(self) -> TypeEngine[Any]:
        # No CHECK constraint: SQLAlchemy would add an unnamed one on backends
        # without a native boolean, which migrations then cannot drop by name.
        return sa.Boolean(create_constraint=False)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        try:
            number = value in (0, 1)
        except ArithmeticError:  # a signalling NaN refuses to be compared
            number = False
        if number:
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "t", "f", "1", "0"):
            return value.lower() in ("true", "t", "1")
        raise ValidationError([f"{value!r} is not true or false"])

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        return self._exact_type_check(BooleanField, var, names)
