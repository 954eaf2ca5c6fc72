"""The model layer: ``Model``, its metaclass, ``Options`` (``_meta``) and the registry."""

from typing import Any

from .base import Model, ModelBase
from .options import Options
from .registry import Registry, metadata, registry


def inspect(model: Any) -> Options:
    """The public description of a model: fields, table, pk, database, relations.

    Example::

        meta = flash_db.inspect(Author)
        meta.table.name, meta.pk.name, [f.name for f in meta.fields]
    """
    meta = getattr(model, "_meta", None)
    if not isinstance(meta, Options):
        raise TypeError(f"{model!r} is not a flash_db model")
    return meta


__all__ = ["Model", "ModelBase", "Options", "Registry", "inspect", "metadata", "registry"]
