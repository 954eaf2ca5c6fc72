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
from .related import (
    CASCADE,
    DB_CASCADE,
    DB_SET_NULL,
    DO_NOTHING,
    PROTECT,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    ForeignKey,
    ManyToManyField,
    OnDelete,
    OneToOneField,
)
from .special import BinaryField, EnumField, JSONField, UUIDField
from .temporal import DateField, DateTimeField, DurationField, TimeField
from .text import CharField, TextField

__all__ = [
    "CASCADE",
    "DB_CASCADE",
    "DB_SET_NULL",
    "DO_NOTHING",
    "NOT_PROVIDED",
    "PROTECT",
    "RESTRICT",
    "SET_DEFAULT",
    "SET_NULL",
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
    "ForeignKey",
    "IntegerField",
    "JSONField",
    "ManyToManyField",
    "OnDelete",
    "OneToOneField",
    "SmallIntegerField",
    "TextField",
    "TimeField",
    "UUIDField",
]
