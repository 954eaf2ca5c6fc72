"""``Model``: declarative models whose fields build a SQLAlchemy ``Table``.

Example::

    from flash_db import Model, fields

    class Author(Model):
        name = fields.CharField(max_length=100, unique=True)
        email = fields.CharField(max_length=254, null=True)

        class Meta:
            table = "authors"
            ordering = ["name"]

    ann = await Author.objects.create(name="Ann")
    ann.email = "ann@example.com"
    await ann.save()
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa

from .. import exceptions, signals
from ..exceptions import ConfigurationError, FieldError, FlashDBError, ValidationError
from ..fields import NOT_PROVIDED, BigAutoField, Field
from ..query import Manager, get_executor, writes
from ..query.prefetch import Prefetch, prefetch_objects
from ..query.state import write_filter
from . import deletion, relations
from .options import Options
from .registry import Registry, registry

_M = TypeVar("_M", bound="Model")


class ModelBase(type):
    """Metaclass: collects fields and managers, builds ``_meta`` and the ``Table``."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any
    ) -> Any:
        model_bases = [b for b in bases if isinstance(b, ModelBase)]
        if not model_bases:  # the Model class itself
            return super().__new__(mcs, name, bases, attrs, **kwargs)

        # A model joins the registry its class names, else its abstract parent's, else the global one.
        inherited_registry = [getattr(b, "_meta", None) for b in model_bases if b is not Model]
        models: Registry | None = kwargs.pop("registry", None)
        if models is None:  # (a Registry with no models yet is falsy: compare with None)
            models = next((m.registry for m in inherited_registry if m is not None), registry)
        meta = attrs.pop("Meta", None)
        declared = {k: v for k, v in attrs.items() if isinstance(v, Field)}
        managers = {k: v for k, v in attrs.items() if isinstance(v, Manager)}
        for key in (*declared, *managers):
            attrs.pop(key)

        parents_meta = []
        inherited: dict[str, Field[Any]] = {}
        inherited_managers: dict[str, Manager[Any]] = {}
        for base in reversed(model_bases):
            if base is Model:
                continue
            base_meta: Options = base._meta  # type: ignore[attr-defined]
            if not base_meta.abstract:
                raise ConfigurationError(
                    f"{name} inherits from the concrete model {base.__name__}; only abstract models "
                    f"(Meta.abstract = True) can be inherited"
                )
            parents_meta.extend(base.__dict__.get("_meta_sources", ()))
            for field in base_meta.fields:
                inherited[field.name] = copy.copy(field)
            for mname, manager in base.__dict__.get("_declared_managers", {}).items():
                inherited_managers[mname] = manager

        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        options = Options(cls, meta, parents_meta)
        options.registry = models
        cls._meta = options  # type: ignore[attr-defined]
        cls._meta_sources = (*parents_meta, *([meta] if meta is not None else []))  # type: ignore[attr-defined]

        fields = {
            **inherited,
            **dict(sorted(declared.items(), key=lambda kv: kv[1].creation_counter)),
        }
        for field_name in fields:
            _check_field_name(name, field_name)
        all_managers = {**inherited_managers, **managers}
        cls._declared_managers = all_managers  # type: ignore[attr-defined]

        if options.abstract:
            for field_name, field in fields.items():
                field.name = field_name
                field.attname = field_name
                setattr(cls, field_name, field)
            options.set_fields(list(fields.values()), abstract=True)
            return cls

        if not any(f.primary_key for f in fields.values()):
            if "id" in fields:
                raise ConfigurationError(
                    f"{name}.id is not a primary key; set primary_key=True on it or on another field"
                )
            fields = {"id": BigAutoField(primary_key=True), **fields}

        cls.DoesNotExist = _subclass_exception(  # type: ignore[attr-defined]
            "DoesNotExist", exceptions.DoesNotExist, cls
        )
        cls.MultipleObjectsReturned = _subclass_exception(  # type: ignore[attr-defined]
            "MultipleObjectsReturned", exceptions.MultipleObjectsReturned, cls
        )

        for field_name, field in fields.items():
            field.contribute_to_class(cls, field_name)
            setattr(cls, field_name, field)
        options.set_fields(list(fields.values()))

        if "objects" not in all_managers:
            all_managers = {"objects": Manager(), **all_managers}
        for manager_name, manager in all_managers.items():
            bound = copy.copy(manager)
            bound.contribute_to_class(cls, manager_name)
            setattr(cls, manager_name, bound)

        models.check(cls)
        models.register(cls)
        try:
            relations.resolve_relations(cls, _build_ready_table)
        except BaseException:
            models.unregister(cls)
            raise
        return cls


def _check_field_name(model_name: str, name: str) -> None:
    if name in _RESERVED or name in vars(Model):
        raise ConfigurationError(
            f"{model_name}.{name}: a field may not be called {name!r}, which is part of the Model API; "
            f"rename it and keep the column name with db_column={name!r}"
        )
    if "__" in name or name.endswith("_"):
        raise ConfigurationError(
            f"{model_name}.{name}: field names may not contain '__' or end with '_' "
            f"(they would clash with lookups)"
        )


_RESERVED = {"pk", "objects", "DoesNotExist", "MultipleObjectsReturned"}


def _subclass_exception(name: str, parent: type[Exception], model: type) -> type[Exception]:
    return type(
        name,
        (parent,),
        {"__module__": model.__module__, "__qualname__": f"{model.__qualname__}.{name}"},
    )


def _build_ready_table(cls: Any) -> None:
    """Build ``cls``'s table (called once all its foreign keys are resolved)."""
    _build_table(cls, cls._meta)
    cls.__table__ = cls._meta.table


def _build_table(cls: Any, options: Options) -> None:
    metadata = options.registry.metadata
    existing = metadata.tables.get(options.table_name)
    if existing is not None:
        owner = existing.info.get("flash_db_model")
        same = owner is not None and (owner.__module__, owner.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )
        if not same:
            owner_name = f"{owner.__module__}.{owner.__qualname__}" if owner else "another table"
            raise ConfigurationError(
                f"table {options.table_name!r} for {cls.__module__}.{cls.__qualname__} is already "
                f"used by {owner_name}; set Meta.table to a different name"
            )
        # The same model defined again (a reloaded module): the new class replaces it.
        metadata.remove(existing)
    columns = [f.build_column() for f in options.concrete_fields]
    table = sa.Table(options.table_name, metadata, *columns, info={"flash_db_model": cls})
    options.table = table
    options.columns = tuple(table.c[f.attname] for f in options.concrete_fields)
    try:
        for together in options.unique_together:
            table.append_constraint(
                sa.UniqueConstraint(*(options.get_field(n).column_name for n in together))
            )
        for constraint in options.constraints:
            table.append_constraint(constraint.to_sqlalchemy(cls))
        for index in options.indexes:
            index.to_sqlalchemy(cls)  # sa.Index binds itself to the table's columns
    except FlashDBError as exc:
        # Leave no half-built table behind, so a corrected class can be defined.
        metadata.remove(table)
        raise ConfigurationError(f"{cls.__name__}.Meta: {exc}") from None


class _DefaultManagerDescriptor:
    """For type checkers only: ``Author.objects`` is a ``Manager[Author]``.

    ``_M`` is bound per access (method-scoped), not per class: a ``ClassVar`` cannot
    carry a type variable, so a generic descriptor class would always be ``[Any]``.
    """

    def __get__(self, instance: None, owner: type[_M]) -> Manager[_M]:
        raise NotImplementedError  # never instantiated: the metaclass installs real managers


class Model(metaclass=ModelBase):
    """Base class of all models.

    Instances are plain objects: field values live in the instance ``__dict__``
    and attribute access never does I/O. ``await obj.save()`` validates
    (``full_clean()``) and INSERTs or UPDATEs.
    """

    _meta: ClassVar[Options]
    #: the model's SQLAlchemy Table (SQLAlchemy's own convention)
    __table__: ClassVar[sa.Table]
    #: True until the instance has been saved or was loaded from the database
    _adding: bool = False
    #: the database alias the instance was loaded from / saved to
    _db: str | None = None

    if TYPE_CHECKING:
        objects: ClassVar[_DefaultManagerDescriptor]
        DoesNotExist: ClassVar[type[exceptions.DoesNotExist]]
        MultipleObjectsReturned: ClassVar[type[exceptions.MultipleObjectsReturned]]

    def __init__(self, **kwargs: Any) -> None:
        meta = self._meta
        if meta.abstract:
            raise TypeError(f"{type(self).__name__} is abstract and cannot be instantiated")
        values = self.__dict__
        plan = meta.__dict__.get("_init_plan") or _init_plan(meta)
        for name, attname, field, assign, default in plan:
            if name in kwargs:
                if assign:
                    field.assign(values, kwargs.pop(name))
                else:
                    values[attname] = kwargs.pop(name)
            elif attname in kwargs:
                values[attname] = kwargs.pop(attname)
            elif default is _CALL_DEFAULT:
                values[attname] = field.get_default()
            else:
                values[attname] = default
        if kwargs:
            if "pk" in kwargs:
                values[meta.pk.attname] = kwargs.pop("pk")
            for key in list(kwargs):
                if isinstance(getattr(type(self), key, None), property):
                    setattr(self, key, kwargs.pop(key))
            many = [k for k in kwargs if meta.has_field(k)]
            if many:
                raise FieldError(
                    f"{type(self).__name__}({many[0]}=...): many-to-many relations cannot be set "
                    f"in the constructor; save() first, then await obj.{many[0]}.set([...])"
                )
            if kwargs:
                raise FieldError(
                    f"{type(self).__name__}() got unknown field(s) {', '.join(sorted(kwargs))}; "
                    f"choices: {', '.join(meta.field_names)}"
                )
        values["_adding"] = True

    # -- identity ---------------------------------------------------------------------------

    @property
    def pk(self) -> Any:
        """The primary key value, whatever the pk field is called."""
        return self.__dict__.get(self._meta.pk.attname)

    @pk.setter
    def pk(self, value: Any) -> None:
        self.__dict__[self._meta.pk.attname] = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model) or type(other)._meta.label != self._meta.label:
            return NotImplemented if not isinstance(other, Model) else False
        if self.pk is None:
            return self is other
        return bool(self.pk == other.pk)

    def __hash__(self) -> int:
        if self.pk is None:
            raise TypeError(f"unsaved {type(self).__name__} instances are unhashable (no pk yet)")
        return hash((self._meta.label, self.pk))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self}>"

    def __str__(self) -> str:
        return f"{type(self).__name__} object ({self.pk})"

    # -- validation -------------------------------------------------------------------------

    def clean(self) -> None:
        """Model-wide validation; override and raise ``ValidationError``. Runs after field checks."""

    def clean_fields(self, exclude: Iterable[str] = ()) -> None:
        """Convert and validate each field's value; raise one ``ValidationError`` for all problems."""
        errors: dict[str, list[str]] = {}
        values = self.__dict__
        meta = self._meta
        # the values that pass their field's check as they are need no clean() call
        if exclude:
            skip = exclude if type(exclude) is tuple else tuple(exclude)
            checks = meta.subset_clean_checks.get(skip) or _clean_checks(meta, skip)
        else:
            checks = meta.__dict__.get("_clean_checks") or _clean_checks(meta)
        for field in checks(values):
            try:
                values[field.attname] = field.clean(values.get(field.attname), self)
            except ValidationError as exc:
                errors[field.name] = exc.messages
        if errors:
            raise ValidationError(errors)

    def full_clean(self, exclude: Iterable[str] = ()) -> None:
        """``clean_fields()`` then ``clean()``; raises ``ValidationError`` with ``.errors`` per field."""
        errors: dict[str, list[str]] = {}
        try:
            self.clean_fields(exclude)
        except ValidationError as exc:
            errors.update(exc.errors)
        try:
            self.clean()
        except ValidationError as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    # -- persistence ------------------------------------------------------------------------

    async def save(
        self,
        *,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
        validate: bool = True,
        force_insert: bool = False,
        force_update: bool = False,
    ) -> None:
        """INSERT a new instance or UPDATE a saved one, after ``full_clean()`` (``validate=False`` skips it).

        ``update_fields=["email"]`` writes only those columns.
        """
        if force_insert and (force_update or update_fields is not None):
            raise ValueError("force_insert cannot be combined with force_update or update_fields")
        meta = self._meta
        meta.check_writable()
        fields: list[Field[Any]] | None = None
        exclude: tuple[str, ...] = ()
        if update_fields is not None:
            fields, exclude = _update_fields_plan(meta, tuple(update_fields))
            if not fields:
                return
        if validate:
            self.full_clean(exclude=exclude)
        executor = get_executor()
        model = type(self)
        alias = executor.db_for_write(model, using, instance=self)
        changed = None
        if fields is not None and (signals.pre_save.receivers or signals.post_save.receivers):
            changed = frozenset(f.name for f in fields)
        if signals.pre_save.receivers:
            await signals.send(
                signals.pre_save, model, instance=self, using=alias, update_fields=changed
            )
        created = force_insert or (self._adding and not force_update)
        if created:
            await writes.insert_one(executor, alias, model, self)
        else:
            targets = fields if fields is not None else meta.non_pk_fields
            matched = (
                0
                if self.pk is None
                else await writes.update_one(executor, alias, model, self, targets)
            )
            if not matched:
                if fields is not None or force_update:
                    raise exceptions.DatabaseError(
                        f"{model.__name__} with pk={self.pk!r} was not updated: no such row on {alias!r}"
                    )
                await writes.insert_one(executor, alias, model, self)
                created = True
        values = self.__dict__
        values["_adding"] = False
        values["_db"] = alias
        if signals.post_save.receivers:
            await signals.send(
                signals.post_save,
                model,
                instance=self,
                created=created,
                using=alias,
                update_fields=changed,
            )

    async def delete(self, *, using: str | None = None) -> int:
        """DELETE this row; returns the number of rows deleted. The pk is set to ``None``."""
        self._meta.check_writable()
        if self.pk is None:
            raise ValueError(
                f"{type(self).__name__} has no pk: it was never saved, so it cannot be deleted"
            )
        executor = get_executor()
        alias = executor.db_for_write(type(self), using, instance=self)
        model = type(self)
        pk = self.pk
        count = await _delete_with_fast_path(
            model,
            alias,
            pk=pk,
            plain=lambda: writes.delete_by_pk(executor, alias, model, pk),
            collected=lambda: deletion.delete_collected(model, alias, [pk], instance=self),
        )
        self.pk = None
        self.__dict__["_adding"] = True
        return count

    @classmethod
    async def _delete_queryset(cls, queryset: Any) -> int:
        """``QuerySet.delete()``: one DELETE, or the on_delete collector when relations need it."""
        alias = queryset._write_alias()
        qs = queryset.using(alias)

        async def collected() -> int:
            pks = await qs.values_list("pk", flat=True)
            return await deletion.delete_collected(cls, alias, pks)

        conditions = write_filter(qs._state)
        by_pk, pk = writes.pk_equals(cls, conditions)
        plain: Callable[[], Awaitable[int]] = (
            (lambda: writes.delete_by_pk(qs._executor, alias, cls, pk))
            if by_pk
            else qs._delete_plain
        )
        return await _delete_with_fast_path(
            cls,
            alias,
            conditions,
            pk=pk if by_pk else deletion.NO_PK,
            plain=plain,
            collected=collected,
        )

    async def refresh_from_db(
        self, *, using: str | None = None, fields: Iterable[str] | None = None
    ) -> None:
        """Reload field values from the database (all, or just ``fields``)."""
        model = type(self)
        if self.pk is None:
            raise ValueError(
                f"{model.__name__} has no pk: it was never saved, so it cannot be refreshed"
            )
        alias = using or self._db
        qs = model.objects.using(alias) if alias else model.objects.all()
        names = list(fields) if fields is not None else [f.name for f in self._meta.concrete_fields]
        for name in names:
            self._meta.get_field(name)
        rows = await qs.filter(pk=self.pk).values(*names)
        if not rows:
            raise model.DoesNotExist(f"{model.__name__} with pk={self.pk!r} no longer exists")
        for name, value in rows[0].items():
            field = self._meta.get_field(name)
            if field.is_relation and self.__dict__.get(field.attname) != value:
                self.__dict__.pop(field.name, None)  # the cached object is stale
            self.__dict__[field.attname] = value

    async def fetch_related(self, *names: str, using: str | None = None) -> None:
        """Load relations of this instance (one query each): ``await book.fetch_related("author", "tags")``."""
        model = type(self)
        prefetches = [Prefetch(name) for name in names]
        for prefetch in prefetches:
            prefetch.check(model)
        alias = get_executor().db_for_read(model, using, instance=self)
        await prefetch_objects([self], prefetches, alias)


async def _delete_with_fast_path(
    model: Any,
    alias: str,
    conditions: Sequence[Any] = (),
    *,
    pk: Any = deletion.NO_PK,
    plain: Callable[[], Awaitable[int]],
    collected: Callable[[], Awaitable[int]],
) -> int:
    """Delete with one plain DELETE when nothing references the rows, else with the collector.

    ``pk`` (when given) says the rows are the one row with that pk, and ``conditions``
    are then unused. The collector (in a transaction) runs when ``on_delete`` actions or
    delete signals need it; with actions but no signals, the row is first deleted only if
    nothing references it (:func:`deletion.delete_unreferenced`, one statement), or
    :func:`deletion.has_dependents` asks whether any row would be affected. If a
    referencing row appears between that check and the DELETE (a foreign key error
    outside a transaction), the collector runs after all.
    """
    executor = get_executor()
    if not deletion.needs_collector(model):
        return await plain()
    if deletion.can_skip_collector(model):
        try:
            if pk is not deletion.NO_PK:
                deleted = await deletion.delete_unreferenced(model, alias, pk)
                if deleted:
                    return deleted
                # 0: missing or referenced; the collector tells which
                ask_first = deleted is None
            else:
                ask_first = True
            if ask_first and not await deletion.has_dependents(model, alias, conditions, pk=pk):
                return await plain()
        except exceptions.IntegrityError:
            if executor.in_transaction(alias):
                raise
    async with executor.transaction(alias):
        return await collected()


relations.install_model_factory(
    lambda name, attrs, models: ModelBase(name, (Model,), attrs, registry=models)
)


#: in an ``_init_plan`` entry: the default comes from calling ``field.get_default()``
_CALL_DEFAULT = object()


def _init_plan(meta: Any) -> tuple[tuple[str, str, Any, bool, Any], ...]:
    """Per concrete field, what ``Model.__init__`` does with it: ``(name, attname, field,
    whether to call field.assign() for a keyword value, the default or _CALL_DEFAULT)``,
    made once per model and kept on its ``_meta``. Fields that keep ``Field``'s own
    ``assign``/``get_default`` and a constant default skip those calls."""
    plan = []
    for field in meta.concrete_fields:
        kind = type(field)
        if kind.get_default is Field.get_default and not callable(field.default):
            default = None if field.default is NOT_PROVIDED else field.default
        else:
            default = _CALL_DEFAULT
        assign = kind.assign is not Field.assign
        plan.append((field.name, field.attname, field, assign, default))
    built = tuple(plan)
    meta._init_plan = built
    return built


def _update_fields_plan(
    meta: Options, names: tuple[str, ...]
) -> tuple[list[Field[Any]], tuple[str, ...]]:
    """The fields ``save(update_fields=names)`` writes, and the names of the other
    concrete fields (left out of its validation); kept per model for up to
    :data:`_UPDATE_PLANS` different ``names``."""
    plans = meta.update_fields_plans
    plan = plans.get(names)
    if plan is None:
        fields = writes.check_field_names(meta.model, names, "save(update_fields=...)")
        plan = (fields, tuple(f.name for f in meta.concrete_fields if f not in fields))
        if len(plans) < _UPDATE_PLANS:
            plans[names] = plan
    return plan


#: ``update_fields`` combinations kept per model (more are worked out per call)
_UPDATE_PLANS = 256


def _clean_checks(meta: Any, skip: tuple[str, ...] = ()) -> Any:
    """A function of an instance's ``__dict__`` returning the concrete fields whose values
    fail their ``Field.clean_check`` (or have none), generated once per model and kept
    on its ``_meta``: one call runs every field's check inline. With ``skip`` (field
    names), the function leaves those fields out; it is kept for up to
    :data:`_UPDATE_PLANS` different ``skip``."""
    names: dict[str, Any] = {}
    lines = ["def checks(values):", "    failed = []"]
    for i, field in enumerate(meta.concrete_fields):
        if field.name in skip:
            continue
        var = f"v{i}"
        names[f"f{i}"] = field
        check = field.clean_check(var, names)
        if check is None:
            lines.append(f"    failed.append(f{i})")
            continue
        lines.append(f"    {var} = values.get({field.attname!r})")
        lines.append(f"    if not {check}:")
        lines.append(f"        failed.append(f{i})")
    lines.append("    return failed")
    exec("\n".join(lines), names)  # the source is built from the checks above
    checks = names["checks"]
    if not skip:
        meta._clean_checks = checks
    elif len(meta.subset_clean_checks) < _UPDATE_PLANS:
        meta.subset_clean_checks[skip] = checks
    return checks
