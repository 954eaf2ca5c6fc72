"""UUID, JSON, binary and enum fields."""

from __future__ import annotations

import enum
import json
import math
import uuid
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from ..exceptions import ValidationError
from ..lookups import JSON_LOOKUPS
from ..sqltypes import EnumValue
from .base import Field, N

E = TypeVar("E", bound=enum.Enum)


class UUIDField(Field[uuid.UUID, N]):
    """A UUID: native ``uuid`` on PostgreSQL, ``CHAR(32)`` elsewhere.

    ``UUIDField(primary_key=True, default=uuid.uuid4)`` for UUID keys.
    """

    python_type = uuid.UUID

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Uuid()

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, uuid.UUID):
            return value
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise ValidationError([f"{value!r} is not a valid UUID"]) from None

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        return self._exact_type_check(UUIDField, var, names)


class JSONField(Field[Any, N]):
    """Any JSON-serialisable value (dict, list, str, number, bool).

    Python ``None`` is stored as SQL NULL. Lookups compare the whole value, as JSON:
    ``filter(data={"a": 1, "b": 2})`` finds ``{"b": 2, "a": 1}`` on every backend.
    """

    def sa_type(self) -> TypeEngine[Any]:
        return sa.JSON(none_as_null=True)

    def to_python(self, value: Any) -> Any:
        """``value`` itself, if it has a JSON form; ``ValidationError`` otherwise (and so
        ``FieldError`` for a filter value). NaN and infinities are refused: JSON has no
        such numbers, and Python's ``json`` would write them as the non-standard ``NaN``
        and ``Infinity``, which PostgreSQL and MariaDB refuse and SQLite stores as text
        that its own JSON functions (and other programs) cannot read."""
        if value is None:
            return value
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            fault = _non_finite(value, "", set())
            if fault is None:
                raise ValidationError([f"value is not JSON serialisable: {exc}"]) from None
            raise ValidationError(
                [
                    f"{fault} is not a JSON number (JSON has no NaN or infinity); "
                    "store None or a string instead"
                ]
            ) from None
        return value


def _non_finite(value: Any, path: str, seen: set[int]) -> str | None:
    """The first NaN or infinity in ``value`` and where it is (``nan at ['x'][0]``), or
    ``None``; ``seen`` holds the containers walked, so a circular value ends the walk
    (``json.dumps`` has refused it already)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"{value!r} at {path}" if path else repr(value)
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    if id(value) in seen:
        return None
    seen.add(id(value))
    for key, item in items:
        if isinstance(key, float) and not math.isfinite(key):
            return f"the key {key!r}" + (f" at {path}" if path else "")
        found = _non_finite(item, f"{path}[{key!r}]", seen)
        if found is not None:
            return found
    return None


for _lookup in JSON_LOOKUPS:
    JSONField.register_lookup(_lookup)


class BinaryField(Field[bytes, N]):
    """Raw bytes (``BYTEA`` / ``BLOB``)."""

    python_type = bytes

    def sa_type(self) -> TypeEngine[Any]:
        return sa.LargeBinary(self.max_length)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        raise ValidationError([f"{type(value).__name__} is not bytes"])

    def validate(self, value: Any, instance: Any) -> None:
        super().validate(value, instance)
        if value is not None and self.max_length is not None and len(value) > self.max_length:
            raise ValidationError([f"ensure this value has at most {self.max_length} bytes"])


class EnumField(Field[E, N]):
    """A member of a Python ``Enum``, stored by its value::

    class Status(enum.Enum):
        DRAFT = "draft"
        LIVE = "live"

    status = fields.EnumField(Status, default=Status.DRAFT)
    """

    def __init__(
        self,
        enum_class: type[E],
        *,
        null: N = False,  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(null=null, **kwargs)  # type: ignore[arg-type]
        self.enum_class = enum_class

    def sa_type(self) -> TypeEngine[Any]:
        return EnumValue(self.enum_class, self.max_length)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, self.enum_class):
            return value
        try:
            return self.enum_class(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in self.enum_class)
            raise ValidationError(
                [f"{value!r} is not a valid {self.enum_class.__name__} ({allowed})"]
            ) from None
