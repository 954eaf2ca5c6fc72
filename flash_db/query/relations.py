"""Relations as the query layer sees them: how to join from one model to another.

The model layer builds a :class:`Relation` for each forward relation
(``book.author``, ``book.tags``) and each reverse one (``author.books``,
``tag.books``) and files it in the model's ``_meta.relations`` under the name
lookups use. A relation is a list of :class:`JoinStep` — one for a foreign
key, two (through the join table) for a many-to-many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JoinStep:
    """Join ``target`` on ``left.<left_attname> = target.<right_attname>``."""

    target: Any
    left_attname: str
    right_attname: str


@dataclass(frozen=True, slots=True)
class Relation:
    """One named relation of a model."""

    name: str
    #: "forward" (FK / one-to-one from this model), "reverse" (FK pointing here), "m2m", "m2m_reverse"
    kind: str
    model: Any
    target: Any
    #: the ForeignKey or ManyToManyField that defines the relation
    field: Any
    steps: tuple[JoinStep, ...]
    #: True when one row of ``model`` may match many rows of ``target``
    multiple: bool
    #: True when a row of ``model`` may have no match (LEFT OUTER JOIN)
    nullable: bool

    @property
    def is_one_to_one_reverse(self) -> bool:
        return self.kind == "reverse" and bool(getattr(self.field, "one_to_one", False))


def find_relation(model: Any, name: str) -> Relation | None:
    """``model``'s relation called ``name`` in lookups (``book``) or as an attribute (``book_set``)."""
    relations: dict[str, Relation] = model._meta.relations
    found = relations.get(name)
    if found is None:
        found = next((r for r in relations.values() if r.name == name), None)
    return found
