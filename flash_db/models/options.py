"""``Options``: a model's ``_meta`` — its fields, table, primary key and Meta settings.

``flash_db.inspect(Model)`` returns it; it is the public way to look at a model::

    meta = flash_db.inspect(Author)
    meta.table            # the SQLAlchemy Table
    meta.pk.name          # "id"
    [f.name for f in meta.fields]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..exceptions import ConfigurationError, FieldError, NotSupportedError
from ..fields import Field
from ..query.relations import Relation

_META_OPTIONS = {
    "table",
    "ordering",
    "indexes",
    "unique_together",
    "constraints",
    "app_label",
    "abstract",
    "database",
    "verbose_name",
    "managed",
    "read_only",
}


def snake_case(name: str) -> str:
    """``BlogPost`` → ``blog_post``; ``HTTPLog`` → ``http_log``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def app_label_for(module: str) -> str:
    """The app of a model: the package holding its models module (``blog`` for ``blog.models``)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[-1] in ("models", "model"):
        return parts[-2]
    if len(parts) > 1:
        return parts[-2] if parts[-1].startswith("models") else parts[-1]
    return parts[0]


class Options:
    """A model's metadata (``Model._meta``)."""

    def __init__(self, model: Any, meta: Any, abstract_parents_meta: Sequence[Any] = ()) -> None:
        settings: dict[str, Any] = {}
        for parent_meta in abstract_parents_meta:
            settings.update({k: v for k, v in vars(parent_meta).items() if k in _META_OPTIONS})
        settings.pop("abstract", None)
        settings.pop("table", None)  # a table name is never inherited
        if meta is not None:
            unknown = sorted(
                k for k in vars(meta) if not k.startswith("_") and k not in _META_OPTIONS
            )
            if unknown:
                raise ConfigurationError(
                    f"{model.__name__}.Meta has unknown option(s) {', '.join(unknown)}; "
                    f"options: {', '.join(sorted(_META_OPTIONS))}"
                )
            settings.update({k: v for k, v in vars(meta).items() if k in _META_OPTIONS})
        self.model = model
        #: the registry the model belongs to (set by the metaclass)
        self.registry: Any = None
        self.object_name: str = model.__name__
        self.abstract: bool = bool(settings.get("abstract", False))
        self.app_label: str = settings.get("app_label") or app_label_for(model.__module__)
        self.label: str = f"{self.app_label}.{self.object_name}"
        self.table_name: str = settings.get("table") or snake_case(self.object_name)
        self.ordering: tuple[str, ...] = tuple(settings.get("ordering", ()))
        self.indexes: tuple[Any, ...] = tuple(settings.get("indexes", ()))
        self.unique_together: tuple[tuple[str, ...], ...] = _normalise_together(
            settings.get("unique_together", ())
        )
        self.constraints: tuple[Any, ...] = tuple(settings.get("constraints", ()))
        self.database: str | None = settings.get("database")
        #: False: the table is not flash_db's to create, drop or migrate (an existing
        #: table, a view); the model still reads and, unless read_only, writes it
        self.managed: bool = bool(settings.get("managed", True))
        #: True: writes and deletes are refused (see :meth:`check_writable`)
        self.read_only: bool = bool(settings.get("read_only", False))
        self.verbose_name: str = settings.get("verbose_name") or snake_case(
            self.object_name
        ).replace("_", " ")
        self.fields: tuple[Field[Any], ...] = ()
        self.concrete_fields: tuple[Field[Any], ...] = ()
        self.attnames: tuple[str, ...] = ()
        self.non_pk_fields: tuple[Field[Any], ...] = ()
        self.columns: tuple[sa.Column[Any], ...] = ()
        self._by_name: dict[str, Field[Any]] = {}
        #: generated validation checks of ``clean_fields(exclude)`` per ``exclude`` tuple
        self.subset_clean_checks: dict[tuple[str, ...], Any] = {}
        #: ``save(update_fields=…)`` names -> (fields, other field names), see ``Model.save``
        self.update_fields_plans: dict[
            tuple[str, ...], tuple[list[Field[Any]], tuple[str, ...]]
        ] = {}
        self._table: sa.Table | None = None
        self.pk: Field[Any] = None  # type: ignore[assignment]
        #: relations by lookup name: forward (``author``, ``tags``) and reverse (``books``)
        self.relations: dict[str, Relation] = {}
        #: names of relation targets not defined yet (the table waits for them)
        self.pending: set[str] = set()
        #: foreign keys of any model that point here (``on_delete`` acts through them)
        self.referenced_by: list[Any] = []

    @property
    def table(self) -> sa.Table:
        """The model's SQLAlchemy ``Table``."""
        if self._table is None:
            waiting = ", ".join(sorted(self.pending)) or "its definition to finish"
            raise ConfigurationError(
                f"{self.object_name} has no table yet: it refers to {waiting}, which is not defined; "
                f"define that model (and import its module) before using {self.object_name}"
            )
        return self._table

    @table.setter
    def table(self, table: sa.Table) -> None:
        self._table = table

    @property
    def ready(self) -> bool:
        return self._table is not None

    def set_fields(self, fields: Sequence[Field[Any]], *, abstract: bool = False) -> None:
        self.fields = tuple(fields)
        self.concrete_fields = tuple(f for f in fields if not getattr(f, "many_to_many", False))
        self.attnames = tuple(f.attname for f in self.concrete_fields)
        #: what ``save()`` of a stored instance writes: the concrete fields but the pk
        self.non_pk_fields = tuple(f for f in self.concrete_fields if not f.primary_key)
        self._by_name = {f.name: f for f in fields}
        self._by_name.update({f.attname: f for f in fields})
        pks = [f for f in fields if f.primary_key]
        if abstract:
            self.pk = pks[0] if pks else None  # type: ignore[assignment]
            return
        if len(pks) != 1:
            raise ConfigurationError(f"{self.object_name} must have exactly one primary key field")
        self.pk = pks[0]
        self._check_ordering()

    def _check_ordering(self) -> None:
        """Refuse a ``Meta.ordering`` name that is not a field, when the class is defined.

        Otherwise a typo surfaces only at the first query, far from the model. Only the
        first part of a path is checked (``author`` of ``author__name``): the related
        model may not be defined yet, and the query checks the rest.
        """
        for term in self.ordering:
            if not isinstance(term, str) or term == "?":
                continue  # expressions resolve at query time; "?" is random order
            name = term.lstrip("-+").split("__", 1)[0]
            if name == "pk" or name in self._by_name:
                continue
            choices = ", ".join(["pk", *(f.name for f in self.fields)])
            raise ConfigurationError(
                f"{self.object_name}.Meta.ordering names unknown field {name!r} (in {term!r}); "
                f"choices: {choices}"
            )

    def check_writable(self) -> None:
        """Refuse a write to a read-only model (``Meta.read_only = True``) with
        :class:`NotSupportedError`, before any statement is sent."""
        if self.read_only:
            raise NotSupportedError(
                f"{self.object_name} is read-only (Meta.read_only = True): flash_db does not "
                f"insert, update or delete its rows"
            )

    def get_field(self, name: str) -> Field[Any]:
        """The field called ``name``; ``FieldError`` naming the choices otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            if name == "pk":
                return self.pk
            choices = ", ".join(f.name for f in self.fields)
            raise FieldError(
                f"unknown field {name!r} on {self.object_name}; choices: {choices}"
            ) from None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @property
    def relation_fields(self) -> tuple[Field[Any], ...]:
        """Relation fields declared on this model (ForeignKey, OneToOne, ManyToMany)."""
        return tuple(f for f in self.fields if f.is_relation)

    def __repr__(self) -> str:
        return f"<Options for {self.label}>"


def _normalise_together(value: Any) -> tuple[tuple[str, ...], ...]:
    if not value:
        return ()
    if all(isinstance(v, str) for v in value):
        return (tuple(value),)
    return tuple(tuple(v) for v in value)
