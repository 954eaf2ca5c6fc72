"""The flash_db error tree.

Every error flash_db raises derives from :class:`FlashDBError`; driver errors
from asyncpg, aiomysql and sqlite3 are translated into this tree before they
reach user code, so an application never needs to import a driver to catch a
database error::

    FlashDBError
    ├── ConfigurationError          bad settings, unknown database alias, model definition errors
    ├── FieldError                  unknown field / lookup / annotation name in a query
    ├── FixtureError                loaddata/dumpdata: missing or malformed fixture, unknown model/field
    ├── ValidationError             full_clean() failed; .errors maps field -> [messages]
    ├── ObjectDoesNotExist
    │   └── DoesNotExist            get() matched nothing (also Model.DoesNotExist)
    ├── MultipleObjectsReturned     get() matched more than one (also Model.MultipleObjectsReturned)
    ├── ProtectedError              a PROTECT on_delete prevented a delete
    ├── RelationNotLoaded           attribute access to a relation that was not fetched
    ├── NotSupportedError           the backend cannot do what was asked
    ├── MigrationError              unknown revision, database behind its migrations, bad history
    └── DatabaseError               the database refused a statement (.driver_error keeps the original)
        ├── IntegrityError          unique / foreign key / not null / check constraint violated
        ├── DataError               value out of range, bad format for the column type, bad regex
        ├── OperationalError        unreachable or starting up, connection lost, pool or lock timeout
        │   └── TransactionConflict deadlock / serialization failure: retry the transaction
        └── ProgrammingError        invalid SQL, missing table (did you run create_all / migrate?)

Example::

    from flash_db.exceptions import IntegrityError

    try:
        await Author.objects.create(name="Ann")
    except IntegrityError as exc:
        print(exc)               # one line naming the constraint problem
        exc.driver_error         # the asyncpg / aiomysql / sqlite3 exception
"""

from __future__ import annotations

from typing import Any


class FlashDBError(Exception):
    """Base class of every error flash_db raises."""


class ConfigurationError(FlashDBError):
    """Settings, URLs, database aliases or a model definition are wrong."""


class FieldError(FlashDBError):
    """A query named a field, lookup or annotation that does not exist, or gave one a value
    it cannot take (``filter(pk="70abc")``, ``price__range=(1,)``)."""


class FixtureError(FlashDBError):
    """A fixture file is missing or malformed, or names a model or field that does not exist.

    The message starts with ``file:line`` when the problem is in a file.
    """


class NotSupportedError(FlashDBError):
    """The database backend cannot do what was asked."""


class MigrationError(FlashDBError):
    """A migration command cannot go on: unknown or ambiguous revision, a database with
    unapplied migrations, a broken migrations folder. The message names the fix."""


class ObjectDoesNotExist(FlashDBError):
    """Base for every model's ``DoesNotExist``."""


class DoesNotExist(ObjectDoesNotExist):
    """``get()`` found no row. Each model has a subclass as ``Model.DoesNotExist``."""


class MultipleObjectsReturned(FlashDBError):
    """``get()`` found more than one row. Each model has ``Model.MultipleObjectsReturned``."""


class ProtectedError(FlashDBError):
    """A delete was refused because of ``on_delete=PROTECT``.

    ``protected_objects`` holds the rows that are in the way.
    """

    def __init__(self, message: str, protected_objects: Any = ()) -> None:
        super().__init__(message)
        self.protected_objects = protected_objects


class RelationNotLoaded(FlashDBError):
    """A relation was accessed that was not loaded; attribute access never does I/O."""


class ValidationError(FlashDBError):
    """Validation failed.

    ``errors`` maps a field name (or ``"__all__"`` for model-wide errors) to a
    list of messages::

        raise ValidationError({"name": "reserved name"})
        raise ValidationError("end must be after start")   # -> {"__all__": [...]}
    """

    NON_FIELD = "__all__"

    def __init__(self, errors: str | list[str] | dict[str, Any]) -> None:
        normalised: dict[str, list[str]] = {}
        msgs: list[str]
        if isinstance(errors, dict):
            for key, value in errors.items():
                if isinstance(value, ValidationError):
                    msgs = value.messages
                elif isinstance(value, (list, tuple)):
                    msgs = [str(v) for v in value]
                else:
                    msgs = [str(value)]
                normalised.setdefault(key, []).extend(msgs)
        elif isinstance(errors, (list, tuple)):
            normalised[self.NON_FIELD] = [str(e) for e in errors]
        else:
            normalised[self.NON_FIELD] = [str(errors)]
        self.errors = normalised
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [f"{field}: {'; '.join(msgs)}" for field, msgs in self.errors.items()]
        return "validation failed: " + ", ".join(parts)

    @property
    def messages(self) -> list[str]:
        """All messages, flattened."""
        return [m for msgs in self.errors.values() for m in msgs]


class DatabaseError(FlashDBError):
    """The database refused a statement.

    ``driver_error`` is the original asyncpg / aiomysql / sqlite3 exception.
    """

    def __init__(self, message: str, driver_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.driver_error = driver_error

    @property
    def orig(self) -> BaseException | None:
        """Alias of ``driver_error`` (SQLAlchemy's name for it)."""
        return self.driver_error


class IntegrityError(DatabaseError):
    """A unique, foreign key, not-null or check constraint was violated."""


class DataError(DatabaseError):
    """A value does not fit its column (out of range, too long, wrong format), or is no
    valid argument for the operation (a bad regular expression for ``__regex``)."""


class OperationalError(DatabaseError):
    """The database could not be reached (refused, starting up), the connection broke,
    or a wait ran out (no free connection in the pool, a lock): running the statement
    again later may succeed."""


class TransactionConflict(OperationalError):
    """The database aborted the transaction to resolve a conflict with another one
    (deadlock, serialization failure); running the whole transaction again may succeed."""


class ProgrammingError(DatabaseError):
    """The statement is invalid for this schema (e.g. a table that was never created)."""


__all__ = [
    "ConfigurationError",
    "DataError",
    "DatabaseError",
    "DoesNotExist",
    "FieldError",
    "FixtureError",
    "FlashDBError",
    "IntegrityError",
    "MigrationError",
    "MultipleObjectsReturned",
    "NotSupportedError",
    "ObjectDoesNotExist",
    "OperationalError",
    "ProgrammingError",
    "ProtectedError",
    "RelationNotLoaded",
    "TransactionConflict",
    "ValidationError",
]
