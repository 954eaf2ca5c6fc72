"""Relation fields: ``ForeignKey``, ``OneToOneField``, ``ManyToManyField``, and ``on_delete``.

A ``ForeignKey`` named ``author`` stores its value in the ``author_id``
column and attribute; ``book.author`` is the related instance once it was
loaded (``select_related``, ``prefetch_related``, ``fetch_related`` or
assignment) and raises ``RelationNotLoaded`` otherwise: attribute access
never does I/O. The target may be a class, ``"Author"``, ``"app.Author"`` or
``"self"``; the model layer resolves names once the target is defined::

    class Book(Model):
        author = fields.ForeignKey("Author", related_name="books", on_delete=fields.CASCADE)
        tags = fields.ManyToManyField("Tag", related_name="books")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, Self, overload

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine
from typing_extensions import TypeVar

from ..exceptions import ConfigurationError, RelationNotLoaded, ValidationError
from .base import Field, N

T = TypeVar("T")


class OnDelete:
    """What happens to rows that reference a deleted row.

    ``db_action`` is the ``ON DELETE`` clause emitted in the DDL (the database
    does the work); ORM actions are carried out by flash_db before the DELETE.
    """

    __slots__ = ("db_action", "name")

    def __init__(self, name: str, db_action: str | None = None) -> None:
        self.name = name
        self.db_action = db_action

    def __repr__(self) -> str:
        return self.name


#: delete the referencing rows too (done by flash_db, in the same transaction)
CASCADE = OnDelete("CASCADE")
#: refuse the delete with ``ProtectedError`` while referencing rows exist
PROTECT = OnDelete("PROTECT")
#: like PROTECT, unless the referencing rows are themselves deleted by a CASCADE
RESTRICT = OnDelete("RESTRICT")
#: set the reference to NULL (the field needs ``null=True``)
SET_NULL = OnDelete("SET_NULL")
#: set the reference to the field's default
SET_DEFAULT = OnDelete("SET_DEFAULT")
#: do nothing (the database's foreign key may then refuse the delete)
DO_NOTHING = OnDelete("DO_NOTHING")
#: ``ON DELETE CASCADE`` in the DDL: the database deletes the referencing rows
DB_CASCADE = OnDelete("DB_CASCADE", "CASCADE")
#: ``ON DELETE SET NULL`` in the DDL: the database clears the reference
DB_SET_NULL = OnDelete("DB_SET_NULL", "SET NULL")


class RelatedField(Field[T, N]):
    """Base of relation fields; ``remote_model`` is set when the target is resolved."""

    is_relation = True
    many_to_many = False
    one_to_one = False

    def __init__(self, to: Any, *, related_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to = to
        self.related_name = related_name
        self.remote_model: Any = None

    def related_query_name(self) -> str:
        """The name the target model uses for this relation in lookups (``author.books``)."""
        return self.related_name or self.model.__name__.lower()

    def related_accessor_name(self) -> str:
        """The attribute on target instances (``author.books`` / ``author.book_set``)."""
        if self.related_name:
            return self.related_name
        suffix = "" if self.one_to_one else "_set"
        return f"{self.model.__name__.lower()}{suffix}"


class ForeignKey(RelatedField[T, N]):
    """A many-to-one relation stored in ``<name>_id``.

    ``on_delete`` is required: ``CASCADE``, ``PROTECT``, ``RESTRICT``,
    ``SET_NULL``, ``SET_DEFAULT``, ``DO_NOTHING``, ``DB_CASCADE``, ``DB_SET_NULL``.
    ``to_field`` names a unique field of the target (default: its pk).
    """

    def __init__(
        self,
        to: type[T] | str,
        *,
        on_delete: OnDelete,
        related_name: str | None = None,
        to_field: str | None = None,
        null: N = False,  # type: ignore[assignment]
        db_index: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(on_delete, OnDelete):
            raise ConfigurationError(
                "on_delete must be one of fields.CASCADE, PROTECT, RESTRICT, SET_NULL, "
                "SET_DEFAULT, DO_NOTHING, DB_CASCADE, DB_SET_NULL"
            )
        if on_delete in (SET_NULL, DB_SET_NULL) and not null:
            raise ConfigurationError(f"on_delete={on_delete!r} needs null=True on the ForeignKey")
        super().__init__(to, related_name=related_name, null=null, db_index=db_index, **kwargs)
        self.on_delete = on_delete
        self.to_field = to_field

    # -- descriptor: ``book.author`` --------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self: ForeignKey[T, Literal[False]], instance: object, owner: Any) -> T: ...
    @overload
    def __get__(self: ForeignKey[T, Literal[True]], instance: object, owner: Any) -> T | None: ...
    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        values = instance.__dict__
        if self.is_cached(instance):
            return values[self.name]
        if values.get(self.attname) is None and self.name not in values:
            return None
        raise RelationNotLoaded(
            f"{type(instance).__name__}.{self.name} is not loaded; use "
            f"select_related({self.name!r}) or prefetch_related({self.name!r}) on the query, "
            f"or await obj.fetch_related({self.name!r})"
        )

    def is_cached(self, instance: Any) -> bool:
        """Whether the related object is loaded and still matches ``<name>_id``."""
        values = instance.__dict__
        if self.name not in values:
            return False
        cached, key = values[self.name], values.get(self.attname)
        if cached is None:
            return key is None
        # Setting ``<name>_id`` directly makes a cached object stale.
        return bool(cached.__dict__.get(self.target_field.attname) == key)

    def __set__(self, instance: Any, value: Any) -> None:
        self.assign(instance.__dict__, value)

    def assign(self, values: dict[str, Any], value: Any) -> None:
        """Set the relation from an instance (or ``None``): the id and the cached object."""
        if value is None:
            values[self.attname] = None
            values[self.name] = None
            return
        remote = self.remote_model
        if remote is not None and not isinstance(value, remote):
            raise ValidationError(
                {self.name: f"expected a {remote.__name__} instance, got {type(value).__name__}"}
            )
        values[self.attname] = value.__dict__.get(self.target_field.attname)
        values[self.name] = value

    # -- column -----------------------------------------------------------------------------

    def contribute_to_class(self, model: type, name: str) -> None:
        super().contribute_to_class(model, name)
        self.attname = f"{name}_id"
        self.column_name = self.db_column or self.attname

    @property
    def target_field(self) -> Field[Any]:
        if self.remote_model is None:
            raise ConfigurationError(f"{self!r} points to {self.to!r}, which is not defined")
        meta = self.remote_model._meta
        return meta.get_field(self.to_field) if self.to_field else meta.pk

    def sa_type(self) -> TypeEngine[Any]:
        target = self.target_field
        if target.auto_increment:
            # Auto pks are plain integers of the same size in the referencing column.
            return sa.BigInteger() if target.type_max > 2**31 else sa.Integer()
        return target.column_type()

    def build_column(self) -> sa.Column[Any]:
        column = super().build_column()
        target = self.target_field
        column.append_foreign_key(
            sa.ForeignKey(
                # SQLAlchemy finds the target by its key (the attribute name), which
                # differs from the column name when the target has a db_column
                f"{self.remote_model._meta.table_name}.{target.attname}",
                ondelete=self.on_delete.db_action,
            )
        )
        return column

    def sync(self, instance: Any) -> Any:
        """The id to store: taken from the assigned object if it was saved after assignment."""
        values = instance.__dict__
        value = values.get(self.attname)
        related = values.get(self.name)
        if value is None and related is not None:
            value = related.__dict__.get(self.target_field.attname)
            if value is None:
                raise ValidationError(
                    {
                        self.name: f"the related {type(related).__name__} is not saved; save() it first"
                    }
                )
            values[self.attname] = value
        return value

    def pre_save(self, instance: Any, add: bool) -> Any:
        return self.sync(instance)

    def clean(self, value: Any, instance: Any) -> Any:
        return super().clean(self.sync(instance), instance)

    def to_python(self, value: Any) -> Any:
        if value is None:
            return None
        return self.target_field.to_python(value)

    def validate(self, value: Any, instance: Any) -> None:
        if value is None and not self.null:
            raise ValidationError(["this field cannot be null"])

    def get_lookup(self, name: str) -> Any:
        return self.target_field.get_lookup(name) if self.remote_model else super().get_lookup(name)

    def get_transform(self, name: str) -> Any:
        return None


class OneToOneField(ForeignKey[T, N]):
    """A unique ``ForeignKey``: ``profile.user``; the reverse side is one object (``user.profile``)."""

    one_to_one = True

    def __init__(self, to: type[T] | str, **kwargs: Any) -> None:
        kwargs["unique"] = True
        super().__init__(to, **kwargs)


M = TypeVar("M")


class ManyToManyField(RelatedField[Any, Literal[False]], Generic[M]):
    """A many-to-many relation through a join table.

    The join table is a model of its own: created automatically (two foreign
    keys, deleted with either side), or ``through=`` an explicit model that has
    one ``ForeignKey`` to each side.
    """

    many_to_many = True

    def __init__(
        self,
        to: type[M] | str,
        *,
        related_name: str | None = None,
        through: Any = None,
        db_table: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(to, related_name=related_name, **kwargs)
        self.through = through
        self.db_table = db_table

    if TYPE_CHECKING:

        @overload
        def __get__(self, instance: None, owner: Any) -> Self: ...
        @overload
        def __get__(self, instance: object, owner: Any) -> Any: ...
        def __get__(self, instance: Any, owner: Any) -> Any: ...

    def contribute_to_class(self, model: type, name: str) -> None:
        super().contribute_to_class(model, name)
        self.attname = name

    def sa_type(self) -> TypeEngine[Any]:
        raise ConfigurationError(f"{self!r} has no column; its rows live in the through table")

    def get_lookup(self, name: str) -> Any:
        return None

    def get_transform(self, name: str) -> Any:
        return None


__all__ = [
    "CASCADE",
    "DB_CASCADE",
    "DB_SET_NULL",
    "DO_NOTHING",
    "PROTECT",
    "RESTRICT",
    "SET_DEFAULT",
    "SET_NULL",
    "ForeignKey",
    "ManyToManyField",
    "OnDelete",
    "OneToOneField",
    "RelatedField",
]
