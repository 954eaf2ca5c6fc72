"""UUID, JSON, binary and enum fields."""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from ..exceptions import ValidationError
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

    Python ``None`` is stored as SQL NULL. Lookups compare the whole value.
    """

    def sa_type(self) -> TypeEngine[Any]:
        return sa.JSON(none_as_null=True)

    def validate(self, value: Any, instance: Any) -> None:
        super().validate(value, instance)
        if value is not None:
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise ValidationError([f"value is not JSON serialisable: {exc}"]) from None


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
