"""Wiring relations between models: lazy targets, reverse accessors, through models.

When a model with a ``ForeignKey("Author")`` is defined before ``Author``,
the relation waits here until ``Author`` is registered; the model's table is
built once every foreign key it holds is resolved. Each resolved relation is
filed in both models' ``_meta.relations`` (for lookups, joins and prefetch)
and gets its accessor on the target class (``author.books``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..exceptions import ConfigurationError
from ..fields import ForeignKey, ManyToManyField
from ..fields.related import DB_CASCADE, RelatedField
from ..query.relations import JoinStep, Relation
from .managers import ManyRelatedManagerDescriptor, ReverseManyDescriptor, ReverseOneDescriptor

#: makes a model class from a name and class attributes (set by ``models.base``, which
#: defines ``Model``; used for the automatic many-to-many join-table models)
_make_model: Callable[[str, dict[str, Any], Any], Any] | None = None


def install_model_factory(factory: Callable[[str, dict[str, Any], Any], Any]) -> None:
    global _make_model
    _make_model = factory


def _reference_key(reference: str, app_label: str) -> str:
    """``"Tag"`` means the model of the same app (as in Django); ``"app.Tag"`` names the app."""
    key = reference.lower()
    return key if "." in key else f"{app_label.lower()}.{key}"


def _lookup(reference: str, app_label: str, models: Any) -> Any:
    """The model of registry ``models`` that ``reference`` names, or None."""
    key = _reference_key(reference, app_label)
    for model in models:
        if model._meta.label.lower() == key:
            return model
    return None


def resolve_relations(model: Any, build_table: Callable[[Any], None]) -> None:
    """Resolve ``model``'s relation fields now or when their targets appear; then build its table.

    Also resolves relations of other models that were waiting for ``model``.
    """
    meta = model._meta
    models = meta.registry
    # First let relations that were waiting for this model bind to it: a through
    # model defined earlier must point here before this model's own fields use it.
    for callback in models.waiting.pop(meta.label.lower(), []):
        callback(model)
    for field in meta.relation_fields:
        target = field.to
        if isinstance(target, str):
            target = model if target == "self" else _lookup(target, meta.app_label, models)
        if target is not None:
            _bind(field, target)
            continue
        key = _reference_key(field.to, meta.app_label)
        if isinstance(field, ForeignKey):
            meta.pending.add(field.to)

        def later(found: Any, field: RelatedField[Any, Any] = field) -> None:
            _bind(field, found)
            if not field.model._meta.pending and not field.model._meta.ready:
                build_table(field.model)

        models.waiting[key].append(later)
    if not meta.pending:
        build_table(model)


def _bind(field: RelatedField[Any, Any], target: Any) -> None:
    model = field.model
    meta = model._meta
    if field.remote_model is not None:
        return
    field.remote_model = target
    if isinstance(field, ManyToManyField):
        _bind_many_to_many(field, target)
        return
    assert isinstance(field, ForeignKey)
    target_field = field.target_field
    meta.relations[field.name] = Relation(
        name=field.name,
        kind="forward",
        model=model,
        target=target,
        field=field,
        steps=(JoinStep(target, field.attname, target_field.attname),),
        multiple=False,
        nullable=field.null,
    )
    target._meta.referenced_by.append(field)
    reverse_name = field.related_query_name()
    accessor = field.related_accessor_name()
    if not reverse_name.endswith("+"):
        _check_free(target, reverse_name, field)
        target._meta.relations[reverse_name] = Relation(
            name=accessor,
            kind="reverse",
            model=target,
            target=model,
            field=field,
            steps=(JoinStep(model, target_field.attname, field.attname),),
            multiple=not field.one_to_one,
            nullable=True,
        )
        descriptor = ReverseOneDescriptor if field.one_to_one else ReverseManyDescriptor
        setattr(target, accessor, descriptor(target._meta.relations[reverse_name]))
    meta.pending.discard(field.to)


def _check_free(target: Any, name: str, field: RelatedField[Any, Any]) -> None:
    meta = target._meta
    if meta.has_field(name) or name in meta.relations:
        raise ConfigurationError(
            f"{field!r}: the reverse name {name!r} clashes with {target.__name__}.{name}; "
            f"set related_name= to another name"
        )


def _bind_many_to_many(field: ManyToManyField[Any], target: Any) -> None:
    model = field.model
    through = field.through
    if isinstance(through, str):
        found = _lookup(through, model._meta.app_label, model._meta.registry)
        if found is None:
            # The through model comes later in the module: finish when it is defined.
            key = _reference_key(through, model._meta.app_label)
            model._meta.registry.waiting[key].append(
                lambda found: _finish_many_to_many(field, target, found)
            )
            return
        through = found
    _finish_many_to_many(field, target, through)


def _finish_many_to_many(field: ManyToManyField[Any], target: Any, through: Any) -> None:
    model = field.model
    if through is None:
        through = _auto_through(field, model, target)
    field.through = through
    source_fk, target_fk = _through_keys(field, through, model, target)
    _add_many_to_many(field, "m2m", field.name, field.name, model, target, source_fk, target_fk)
    reverse_name = field.related_query_name()
    if reverse_name.endswith("+"):
        return
    _check_free(target, reverse_name, field)
    accessor = field.related_accessor_name()
    _add_many_to_many(
        field, "m2m_reverse", reverse_name, accessor, target, model, target_fk, source_fk
    )


def _add_many_to_many(
    field: ManyToManyField[Any],
    kind: str,
    key: str,
    accessor: str,
    model: Any,
    target: Any,
    to_model: ForeignKey[Any, Any],
    to_target: ForeignKey[Any, Any],
) -> None:
    """File one side of a many-to-many relation on ``model`` and give it its manager attribute."""
    relation = Relation(
        name=accessor,
        kind=kind,
        model=model,
        target=target,
        field=field,
        steps=(
            JoinStep(field.through, model._meta.pk.attname, to_model.attname),
            JoinStep(target, to_target.attname, target._meta.pk.attname),
        ),
        multiple=True,
        nullable=True,
    )
    model._meta.relations[key] = relation
    setattr(model, accessor, ManyRelatedManagerDescriptor(relation))


def _auto_through(field: ManyToManyField[Any], model: Any, target: Any) -> Any:
    """The join-table model: two foreign keys, unique together, deleted with either side."""
    assert _make_model is not None, "models.base installs the model factory at import"
    source_name = model.__name__.lower()
    target_name = target.__name__.lower()
    if target is model:
        source_name, target_name = f"from_{source_name}", f"to_{target_name}"
    table = field.db_table or f"{model._meta.table_name}_{field.name}"
    meta = type(
        "Meta",
        (),
        {
            "table": table,
            "app_label": model._meta.app_label,
            "unique_together": [(source_name, target_name)],
        },
    )
    attrs = {
        "__module__": model.__module__,
        "__qualname__": f"{model.__qualname__}_{field.name}",
        "Meta": meta,
        source_name: ForeignKey(model, on_delete=DB_CASCADE, related_name="+"),
        target_name: ForeignKey(target, on_delete=DB_CASCADE, related_name="+"),
    }
    through = _make_model(f"{model.__name__}_{field.name}", attrs, model._meta.registry)
    through._meta.auto_created = True
    return through


def _target_of(fk: ForeignKey[Any, Any]) -> Any:
    """The model ``fk`` points to, even while its own binding is still queued."""
    if fk.remote_model is not None:
        return fk.remote_model
    if fk.to == "self":
        return fk.model
    if isinstance(fk.to, str):
        return _lookup(fk.to, fk.model._meta.app_label, fk.model._meta.registry)
    return fk.to


def _through_keys(
    field: ManyToManyField[Any], through: Any, model: Any, target: Any
) -> tuple[ForeignKey[Any, Any], ForeignKey[Any, Any]]:
    fks = [f for f in through._meta.fields if isinstance(f, ForeignKey)]
    to_source = [f for f in fks if _target_of(f) is model]
    to_target = [f for f in fks if _target_of(f) is target]
    if model is target and len(to_source) == 2:
        return to_source[0], to_source[1]
    if len(to_source) != 1 or len(to_target) != 1:
        raise ConfigurationError(
            f"{field!r}: the through model {through.__name__} needs exactly one ForeignKey to "
            f"{model.__name__} and one to {target.__name__}"
        )
    return to_source[0], to_target[0]
