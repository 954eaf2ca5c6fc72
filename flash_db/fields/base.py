"""The ``Field`` base class: column definition, Python value, validation, lookups.

A field is a descriptor on the model class. On the class, ``Author.name`` is
the field; on an instance, ``author.name`` is the value, read straight from the
instance ``__dict__`` (the descriptor defines no ``__set__`` at run time, so
instance access never runs Python code: that keeps row hydration cheap).

For a type checker ``Field[T, N]`` reads as ``T`` on instances, or ``T | None``
when ``null=True`` (``N`` is ``Literal[True]``)::

    class Author(Model):
        name = fields.CharField(max_length=100)            # author.name: str
        email = fields.CharField(max_length=254, null=True) # author.email: str | None
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Self, cast, overload

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine
from typing_extensions import TypeVar

from ..exceptions import ConfigurationError, FieldError, ValidationError
from ..expressions import Expression
from ..lookups import DEFAULT_LOOKUPS, Lookup, Transform

T = TypeVar("T")
N = TypeVar("N", Literal[True], Literal[False], default=Literal[False])


class _NotProvided:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_PROVIDED"

    def __bool__(self) -> bool:
        return False


NOT_PROVIDED: Any = _NotProvided()

_counter = itertools.count()


class _NoRefs:
    """Resolver for server-side defaults: they cannot reference other columns."""

    def resolve_ref(self, name: str) -> ColumnElement[Any]:
        raise ConfigurationError(
            f"db_default cannot reference a field ({name!r}); use GeneratedField"
        )

    def resolve_q(self, q: Any) -> ColumnElement[bool]:
        raise ConfigurationError("db_default cannot use Q()")


class RegisterLookupMixin:
    """Lookups and transforms registered on a class, merged along the MRO."""

    class_lookups: ClassVar[dict[str, type[Lookup] | type[Transform]]] = {}

    @classmethod
    def register_lookup(cls, lookup: Any, lookup_name: str | None = None) -> Any:
        """Register a :class:`~flash_db.Lookup` or :class:`~flash_db.Transform`; usable as a decorator."""
        name = lookup_name or lookup.lookup_name
        if not name:
            raise ConfigurationError(f"{lookup.__name__} has no lookup_name")
        if "class_lookups" not in cls.__dict__:
            cls.class_lookups = {}
        cls.class_lookups[name] = lookup
        _merged_lookups.cache_clear()
        return lookup

    @classmethod
    def get_lookups(cls) -> dict[str, type[Lookup] | type[Transform]]:
        """All lookups and transforms that apply to this class, by name."""
        merged: dict[str, type[Lookup] | type[Transform]] = _merged_lookups(cast(Hashable, cls))
        return merged


@cache
def _merged_lookups(cls: Hashable) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for klass in reversed(cast(type, cls).__mro__):
        merged.update(klass.__dict__.get("class_lookups", {}))
    return merged


class Field(RegisterLookupMixin, Generic[T, N]):
    """Base of all fields.

    Options (all keyword-only): ``null``, ``default`` (value or callable),
    ``db_default`` (server-side default: a value or an expression such as
    ``Now()``), ``unique``, ``db_index``, ``primary_key``, ``choices``,
    ``validators``, ``db_column``, ``max_length``, ``description``, and
    ``db_types``: the column type on some backends instead of the field's own,
    as SQLAlchemy types by dialect name (the others keep the field's)::

        data = fields.JSONField(db_types={"postgresql": postgresql.JSONB()})
        addr = fields.TextField(db_types={"postgresql": postgresql.INET()})
    """

    #: the Python type values should have (used in validation messages)
    python_type: ClassVar[type | tuple[type, ...]] = object
    #: auto-incrementing primary key fields skip the "null" check before INSERT
    auto_increment: ClassVar[bool] = False
    is_relation: ClassVar[bool] = False

    name: str
    attname: str
    column_name: str
    model: Any

    def __init__(
        self,
        *,
        null: N = False,  # type: ignore[assignment]
        default: Any = NOT_PROVIDED,
        db_default: Any = NOT_PROVIDED,
        unique: bool = False,
        db_index: bool = False,
        primary_key: bool = False,
        choices: Iterable[Any] | None = None,
        validators: Sequence[Callable[[Any], Any]] = (),
        db_column: str | None = None,
        max_length: int | None = None,
        description: str | None = None,
        db_types: Mapping[str, TypeEngine[Any]] | None = None,
    ) -> None:
        self.null: bool = bool(null)
        self.default = default
        self.db_default = db_default
        self.unique = unique
        self.db_index = db_index
        self.primary_key = primary_key
        self.choices = _normalise_choices(choices)
        self.validators = tuple(validators)
        self.db_column = db_column
        self.max_length = max_length
        self.description = description
        self.db_types = dict(db_types or {})
        self.creation_counter = next(_counter)
        self.name = ""
        self.model = None

    # -- descriptor -------------------------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: Any) -> Self: ...
    @overload
    def __get__(self: Field[T, Literal[False]], instance: object, owner: Any) -> T: ...
    @overload
    def __get__(self: Field[T, Literal[True]], instance: object, owner: Any) -> T | None: ...
    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        # Only reached when the value is missing from the instance __dict__.
        raise AttributeError(
            f"{type(instance).__name__}.{self.attname} has no value on this instance "
            f"(it was built without __init__ and never loaded); call refresh_from_db() to load it"
        )

    if TYPE_CHECKING:

        @overload
        def __set__(self: Field[T, Literal[False]], instance: Any, value: T) -> None: ...
        @overload
        def __set__(self: Field[T, Literal[True]], instance: Any, value: T | None) -> None: ...
        def __set__(self, instance: Any, value: Any) -> None: ...

    def __set_name__(self, owner: type, name: str) -> None:
        if not self.name:
            self.name = name

    # -- model binding ----------------------------------------------------------------------

    def contribute_to_class(self, model: type, name: str) -> None:
        """Bind the field to ``model`` under ``name`` (called by the model metaclass)."""
        self.name = name
        self.attname = name
        self.column_name = self.db_column or name
        self.model = model

    def sa_type(self) -> TypeEngine[Any]:
        """The SQLAlchemy column type. Custom fields override this."""
        raise NotImplementedError(f"{type(self).__name__} must define sa_type()")

    def column_type(self) -> TypeEngine[Any]:
        """The column's type: :meth:`sa_type`, with the ``db_types`` of the backends that
        asked for another (SQLAlchemy's ``with_variant``)."""
        type_ = self.sa_type()
        for dialect, variant in self.db_types.items():
            type_ = type_.with_variant(variant, dialect)
        return type_

    def server_default(self) -> Any:
        """The ``server_default`` for the column, from ``db_default``."""
        value = self.db_default
        if value is NOT_PROVIDED:
            return None
        if isinstance(value, Expression):
            return value.resolve(_NoRefs())
        if isinstance(value, ColumnElement):
            return value
        if isinstance(value, bool):
            return sa.true() if value else sa.false()
        if isinstance(value, str):
            return value
        return sa.text(str(value))

    def build_column(self) -> sa.Column[Any]:
        """The SQLAlchemy ``Column`` for this field."""
        return sa.Column(
            self.column_name,
            self.column_type(),
            key=self.attname,
            primary_key=self.primary_key,
            nullable=self.null,
            unique=self.unique if not self.primary_key else False,
            index=self.db_index or None,
            server_default=self.server_default(),
            comment=self.description,
            # only a primary key autoincrements; "auto" elsewhere keeps revisions free of
            # an autoincrement=False on every column
            autoincrement=self.auto_increment if self.primary_key else "auto",
        )

    # -- values -----------------------------------------------------------------------------

    @property
    def has_default(self) -> bool:
        return self.default is not NOT_PROVIDED

    @property
    def has_db_default(self) -> bool:
        return self.db_default is not NOT_PROVIDED

    def get_default(self) -> Any:
        """The Python default for a new instance (``None`` if there is none)."""
        if self.default is NOT_PROVIDED:
            return None
        if callable(self.default):
            return self.default()
        return self.default

    def assign(self, values: dict[str, Any], value: Any) -> None:
        """Store ``value`` given to the constructor (relation fields also cache the object)."""
        values[self.attname] = value

    def pre_save(self, instance: Any, add: bool) -> Any:
        """The value to write for ``instance``; ``auto_now`` fields override this."""
        return instance.__dict__.get(self.attname)

    def pre_save_reads_value(self, add: bool) -> bool:
        """Whether ``pre_save(instance, add)`` only reads the instance's value, so that
        the write paths may read it themselves. A field overriding ``pre_save`` says no
        unless it overrides this too."""
        return type(self).pre_save is Field.pre_save

    def to_python(self, value: Any) -> Any:
        """Convert ``value`` to this field's Python type or raise ``ValidationError``."""
        return value

    def validate(self, value: Any, instance: Any) -> None:
        """Check ``null`` and ``choices``; subclasses add type-specific checks."""
        if value is None:
            if not self.null and not self.auto_increment and not self.has_db_default:
                raise ValidationError(["this field cannot be null"])
            return
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            raise ValidationError([f"{value!r} is not one of the choices ({allowed})"])

    def run_validators(self, value: Any) -> None:
        if value is None:
            return
        messages: list[str] = []
        for validator in self.validators:
            try:
                validator(value)
            except ValidationError as exc:
                messages.extend(exc.messages)
            except (ValueError, TypeError) as exc:
                messages.append(str(exc))
        if messages:
            raise ValidationError(messages)

    def clean(self, value: Any, instance: Any) -> Any:
        """Convert, validate and run validators; returns the cleaned value."""
        value = self.to_python(value)
        self.validate(value, instance)
        self.run_validators(value)
        return value

    def clean_check(self, var: str, names: dict[str, Any]) -> str | None:
        """A Python expression over the variable ``var``, true only when ``clean(var)``
        would return ``var`` itself and raise nothing (a value of the field's own type
        in range); constants it needs go into ``names``, under names starting with
        ``var``. A model's ``full_clean()`` runs these checks in one generated function
        and calls ``clean()`` only for the values that fail them. ``None`` (the
        default, and for any field with validators or choices): always call ``clean()``.

        A field class that converts or validates differently, or a subclass that
        overrides ``to_python``, ``validate`` or ``clean``, gets ``None`` unless it
        defines its own check.
        """
        return None

    def _checks_as(self, cls: type[Field[Any, Any]]) -> bool:
        """Whether this field cleans exactly as ``cls`` defines it: ``cls``'s own
        ``to_python`` and ``validate``, ``Field``'s ``clean``, no validators or choices."""
        kind = type(self)
        return (
            not self.validators
            and self.choices is None
            and kind.clean is Field.clean
            and kind.run_validators is Field.run_validators
            and kind.to_python is cls.to_python
            and kind.validate is cls.validate
        )

    def _exact_type_check(
        self, cls: type[Field[Any, Any]], var: str, names: dict[str, Any]
    ) -> str | None:
        """``clean_check`` of a field of class ``cls`` whose ``to_python`` returns a value
        of exactly its ``python_type`` as it is, and whose ``validate`` checks only
        ``null`` (and choices, which rule the check out)."""
        if not self._checks_as(cls):
            return None
        names[f"{var}_type"] = cls.python_type
        return self._or_none(var, f"type({var}) is {var}_type")

    def none_is_valid(self) -> bool:
        """Whether ``validate()`` accepts ``None`` (nullable, or the database fills it in)."""
        return bool(self.null or self.auto_increment or self.has_db_default)

    def _or_none(self, var: str, check: str) -> str:
        """``check``, or ``None`` where :meth:`none_is_valid`."""
        return f"({var} is None or ({check}))" if self.none_is_valid() else f"({check})"

    # -- lookups ----------------------------------------------------------------------------

    def get_lookup(self, name: str) -> type[Lookup] | None:
        found = self.get_lookups().get(name)
        return found if isinstance(found, type) and issubclass(found, Lookup) else None

    def get_transform(self, name: str) -> type[Transform] | None:
        found = self.get_lookups().get(name)
        return found if isinstance(found, type) and issubclass(found, Transform) else None

    def unknown_lookup(self, name: str) -> FieldError:
        names = ", ".join(sorted(self.get_lookups()))
        return FieldError(
            f"unsupported lookup {name!r} for {type(self).__name__} {self.name!r}; choices: {names}"
        )

    def __repr__(self) -> str:
        owner = getattr(self.model, "__name__", "?")
        return f"<{type(self).__name__}: {owner}.{self.name}>"


def _normalise_choices(choices: Iterable[Any] | None) -> tuple[Any, ...] | None:
    if choices is None:
        return None
    values = []
    for choice in choices:
        if isinstance(choice, (tuple, list)) and len(choice) == 2:
            values.append(choice[0])
        else:
            values.append(choice)
    return tuple(values)


for _lookup in DEFAULT_LOOKUPS:
    Field.register_lookup(_lookup)
