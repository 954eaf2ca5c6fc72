"""String fields."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

from ..exceptions import ValidationError
from .base import Field, N


class CharField(Field[str, N]):
    """A string of at most ``max_length`` characters (``VARCHAR``)."""

    python_type = str

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        max_length: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_length=max_length, null=null, **kwargs)  # type: ignore[arg-type]

    def sa_type(self) -> TypeEngine[Any]:
        return sa.String(self.max_length)

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValidationError([f"{value!r} is not a string"])

    def validate(self, value: Any, instance: Any) -> None:
        super().validate(value, instance)
        if value is not None and self.max_length is not None and len(value) > self.max_length:
            raise ValidationError(
                [
                    f"ensure this value has at most {self.max_length} characters (it has {len(value)})"
                ]
            )

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        if not self._checks_as(CharField):
            return None
        if self.max_length is None:
            return self._or_none(var, f"type({var}) is str")
        names[f"{var}_max"] = self.max_length
        return self._or_none(var, f"type({var}) is str and len({var}) <= {var}_max")


class TextField(CharField[N]):
    """Unbounded text (``TEXT``); ``max_length`` is optional and only validated."""

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        max_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        Field.__init__(self, max_length=max_length, null=null, **kwargs)

    def sa_type(self) -> TypeEngine[Any]:
        return sa.Text()
