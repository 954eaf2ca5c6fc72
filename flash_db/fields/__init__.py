"""Model field types.

Example::

    from flash_db import Model, fields

    class Author(Model):
        name = fields.CharField(max_length=100, unique=True)
        joined = fields.DateTimeField(auto_now_add=True)
"""

from .base import NOT_PROVIDED, Field
from .numbers import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    DecimalField,
    FloatField,
    IntegerField,
    SmallIntegerField,
)
from .special import BinaryField, EnumField, JSONField, UUIDField
from .temporal import DateField, DateTimeField, DurationField, TimeField
from .text import CharField, TextField

__all__ = [
    "NOT_PROVIDED",
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BinaryField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "DurationField",
    "EnumField",
    "Field",
    "FloatField",
    "IntegerField",
    "JSONField",
    "SmallIntegerField",
    "TextField",
    "TimeField",
    "UUIDField",
]
