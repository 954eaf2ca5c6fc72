"""``flash_db.registry``: every concrete model, by label (``app.ClassName``).

A registry owns the ``MetaData`` its models' tables live on and the relations
still waiting for a model to be defined. Models go to the global
``flash_db.registry`` unless their class names another one
(``class Author(Model, registry=other)``): data migrations build the models
of a past schema that way, without touching the project's own models.

Example::

    import flash_db
    flash_db.registry.get_model("blog.Author")
    [m.__name__ for m in flash_db.registry]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from ..exceptions import ConfigurationError

#: The naming convention gives every constraint a predictable name, so that
#: migrations can drop them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Registry:
    """Concrete model classes in definition order, and the ``MetaData`` of their tables."""

    def __init__(self, metadata: sa.MetaData | None = None) -> None:
        self._models: dict[str, Any] = {}
        self.metadata = (
            metadata if metadata is not None else sa.MetaData(naming_convention=NAMING_CONVENTION)
        )
        #: reference key (lower-case label) -> callbacks waiting for that model to be defined
        self.waiting: dict[str, list[Callable[[Any], None]]] = defaultdict(list)

    def check(self, model: Any) -> None:
        """Refuse ``model`` if another model already has its label.

        The same class defined again (same module and name, e.g. a reloaded
        module) is not a conflict.
        """
        label = model._meta.label
        existing = self._models.get(label)
        if existing is not None and (existing.__module__, existing.__qualname__) != (
            model.__module__,
            model.__qualname__,
        ):
            raise ConfigurationError(
                f"two models are labelled {label!r} ({existing.__module__}.{existing.__qualname__} "
                f"and {model.__module__}.{model.__qualname__}); set Meta.app_label on one of them"
            )

    def register(self, model: Any) -> None:
        self.check(model)
        self._models[model._meta.label] = model

    def unregister(self, model: Any) -> None:
        """Forget ``model`` (tests that define throwaway models)."""
        self._models.pop(model._meta.label, None)

    def get_model(self, label: str) -> Any:
        """The model for ``"app.ClassName"`` (or a unique ``"ClassName"``), case-insensitive."""
        wanted = label.lower()
        for key, model in self._models.items():
            if key.lower() == wanted:
                return model
        matches = [m for k, m in self._models.items() if k.split(".")[-1].lower() == wanted]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(self._models) or "none registered"
        raise ConfigurationError(f"unknown model {label!r}; models: {known}")

    @property
    def models(self) -> list[Any]:
        return list(self._models.values())

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._models.values()))

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(k.lower() == item.lower() for k in self._models)
        return item in self._models.values()

    def __repr__(self) -> str:
        return f"<Registry: {', '.join(self._models)}>"


#: The MetaData every project model's Table lives on; Alembic and raw SQLAlchemy see the same schema.
metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

registry = Registry(metadata)
