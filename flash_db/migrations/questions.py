"""What ``makemigrations`` asks when the models alone cannot say what to write.

Two questions, as Django asks them:

* **Was it renamed?** A column dropped and one of the same type added on the same
  table, or a table dropped and one with the same columns created. A rename keeps
  the data; a drop and an add lose it.
* **What do the rows already there get?** A ``NOT NULL`` column added to a table
  (or a column made ``NOT NULL``) whose field has no default.

At a terminal :class:`Questioner` asks. Otherwise the answers come from
``--rename`` and ``--default`` (``makemigrations(renames=…, defaults=…)``); a NOT
NULL column with no answer is an error that writes nothing, and a possible rename
with no answer stays a drop and an add, with a warning that says how to confirm it::

    questioner = Questioner(defaults={"book.pages": "0"}, renames=["book.title=name"])
    await makemigrations(project, "default", questioner=questioner)
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import MigrationError, ValidationError
from ..fields import DateField, DateTimeField, JSONField
from ..sqltypes import Portable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OneOff:
    """A value for the rows already in a table, as Python source for the revision.

    ``code`` is an expression (``300``, ``datetime.date(2024, 1, 1)``), and ``imports``
    the lines the revision needs for it.
    """

    code: str
    imports: frozenset[str] = frozenset()
    #: what the user is told the rows get
    shown: str = ""

    @classmethod
    def of(cls, value: Any, column_type: Any = None) -> OneOff:
        """``value`` as the column stores it on every backend (a flash_db type may store
        one Python value differently per backend: see :meth:`Portable.portable_value`)."""
        if isinstance(column_type, Portable):
            value, per_backend = column_type.portable_value(value)
        else:
            per_backend = {}
        code, imports = _source(value)
        if per_backend:
            variants = []
            for backend, variant in sorted(per_backend.items()):
                text, more = _source(variant)
                imports |= more
                variants.append(f"{backend!r}: {text}")
            code = f"{{{', '.join(variants)}}}.get(op.get_context().dialect.name, {code})"
        return cls(code, frozenset(imports), shown=repr(value))

    @classmethod
    def now(cls, field: Any) -> OneOff:
        """The time the migration runs (``now`` for a date or datetime field)."""
        if isinstance(field, DateTimeField):
            if field.timezone:
                code = "datetime.datetime.now(datetime.timezone.utc)"
            else:
                code = "datetime.datetime.now()"
        else:
            code = "datetime.date.today()"
        return cls(code, frozenset({"import datetime"}), shown="the time the migration runs")


def _source(value: Any) -> tuple[str, set[str]]:
    """Python source that evaluates to ``value``, and the imports it needs."""
    if isinstance(value, decimal.Decimal):
        return f"decimal.Decimal({str(value)!r})", {"import decimal"}
    if isinstance(value, uuid.UUID):
        return f"uuid.UUID({str(value)!r})", {"import uuid"}
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        if isinstance(value, dt.datetime | dt.time) and value.tzinfo not in (None, dt.UTC):
            raise MigrationError(f"{value!r}: give the time in UTC or without a zone")
        return repr(value), {"import datetime"}
    if value is None or isinstance(value, bool | int | float | str | bytes | list | dict):
        code = repr(value)
        try:
            ast.literal_eval(code)
        except (ValueError, SyntaxError):
            raise MigrationError(f"{value!r} cannot be written into a revision") from None
        return code, set()
    raise MigrationError(f"{value!r} ({type(value).__name__}) cannot be written into a revision")


class Questioner:
    """Answers to ``makemigrations``' questions: from a prompt, or given up front.

    ``defaults`` maps a column (``book.pages``, ``Book.pages`` or just ``pages``) to the
    text of a value for the rows already there; ``renames`` are ``table.old=new`` (a
    column) or ``old=new`` (a table); ``prompt`` (``input``) asks whatever they do not
    answer. Without a prompt, an unanswered NOT NULL column is an error and an
    unanswered rename a warning.
    """

    def __init__(
        self,
        *,
        defaults: Mapping[str, str] | None = None,
        renames: Iterable[str] = (),
        prompt: Callable[[str], str] | None = None,
        say: Callable[[str], None] | None = None,
        all_used: bool = True,
    ) -> None:
        self.defaults = dict(defaults or {})
        #: whether :meth:`finish` refuses an answer that matched nothing (off when one
        #: questioner serves several databases: call :meth:`check_unused` after the last)
        self.all_used = all_used
        self.renames = _parse_renames(renames)
        self.prompt = prompt
        self.say = say or log.warning
        self._used: set[str] = set()
        self._missing: list[tuple[str, str]] = []

    # -- renames ----------------------------------------------------------------------------

    def rename_column(self, table: str, old: str, new: str) -> bool:
        """Whether ``table.old`` was renamed to ``new`` (same type, one dropped, one added)."""
        return self._rename(f"{table}.{old}", new, f"{table}.{old} to {table}.{new}")

    def rename_table(self, old: str, new: str) -> bool:
        """Whether table ``old`` was renamed to ``new`` (the same columns)."""
        return self._rename(old, new, f"table {old} to {new}")

    def _rename(self, key: str, new: str, what: str) -> bool:
        if key in self.renames:
            if self.renames[key] == new:
                self._used.add(f"rename {key}")
                return True
            return False
        if self.prompt is not None:
            return self._yes(f"Did you rename {what}? [y/N] ")
        source, target = what.replace("table ", "").split(" to ")
        flag = f"{source}={target.rsplit('.', 1)[-1]}"
        self.say(
            f"warning: {source} is dropped and {target} added (same type): if it was renamed, "
            f"run again with --rename {flag}, or the data in {source} is lost"
        )
        return False

    def _yes(self, question: str) -> bool:
        assert self.prompt is not None
        while True:
            answer = self.prompt(question).strip().lower()
            if answer in ("", "n", "no"):
                return False
            if answer in ("y", "yes"):
                return True

    # -- values for existing rows -----------------------------------------------------------

    def one_off(
        self, table: str, column: str, field: Any, column_type: Any, *, altered: bool = False
    ) -> OneOff | None:
        """The value the rows already in ``table`` get in ``column``.

        ``altered``: the column exists and becomes NOT NULL (only rows holding NULL are
        filled; no answer leaves them, and the migration fails if there are any).
        None: no answer (for a new column, :meth:`finish` then refuses the migration).
        """
        label = f"{table}.{column}"
        given = self._given(table, column, field)
        if given is not None:
            return _parse(given, field, column_type, label)
        if self.prompt is not None:
            return self._ask(label, field, column_type, altered=altered)
        if altered:
            self.say(
                f"warning: {label} becomes NOT NULL; rows that hold NULL make the migration "
                f"fail (give them a value with --default {label}=VALUE)"
            )
            return None
        # not asked, not answered: finish() reports every such column at once
        self._missing.append((table, label))
        return None

    def _given(self, table: str, column: str, field: Any) -> str | None:
        keys = [f"{table}.{column}", column]
        if field is not None:
            keys[1:1] = [f"{field.model.__name__}.{field.name}", f"{table}.{field.name}"]
            keys.append(field.name)
        for key in keys:
            if key in self.defaults:
                self._used.add(f"default {key}")
                return self.defaults[key]
        return None

    def _ask(self, label: str, field: Any, column_type: Any, *, altered: bool) -> OneOff | None:
        assert self.prompt is not None
        rows = "rows where it is NULL" if altered else "the rows already there"
        now = ", now" if isinstance(field, DateField | DateTimeField) else ""
        self.say(
            f"{label} is {'made' if altered else 'a new'} NOT NULL column with no default: "
            f"give a value for {rows} (a Python literal or plain text{now})"
            + ("; empty to leave them" if altered else "; empty to stop")
        )
        while True:
            text = self.prompt(f"{label} = ")
            if not text.strip():
                if altered:
                    return None
                raise MigrationError(
                    f"stopped: {label} needs a default in the model, null=True, or a value for "
                    f"the rows already there"
                )
            try:
                return _parse(text, field, column_type, label)
            except MigrationError as exc:
                self.say(str(exc))

    def finish(self) -> None:
        """After the last question: refuse a ``--default`` or ``--rename`` that matched
        nothing (a typo, most likely), then NOT NULL columns left without a value."""
        if self.all_used:
            self.check_unused()
        if self._missing:
            tables = ", ".join(dict.fromkeys(table for table, _ in self._missing))
            labels = [label for _, label in self._missing]
            self._missing = []
            options = " ".join(f"--default {label}=VALUE" for label in labels)
            if len(labels) == 1:
                what = f"{labels[0]} is a new NOT NULL column with no default"
                fix = "give the field a default, or make it null=True"
            else:
                what = f"{', '.join(labels)} are new NOT NULL columns with no default"
                fix = "give the fields defaults, or make them null=True"
            raise MigrationError(
                f"{what}, and the rows already in {tables} need a value: run again with "
                f"{options}, {fix}; nothing was written"
            )

    def check_unused(self) -> None:
        """Refuse a ``--default`` or ``--rename`` that matched no change."""
        unused = [f"--default {k}" for k in self.defaults if f"default {k}" not in self._used]
        unused += [
            f"--rename {k}={v}" for k, v in self.renames.items() if f"rename {k}" not in self._used
        ]
        if unused:
            what = "this migration" if self.all_used else "any database's migration"
            raise MigrationError(
                f"{', '.join(unused)} matched no change of {what} (a new NOT NULL column, or "
                f"a dropped column or table and an added one of the same type)"
                + ("; nothing was written" if self.all_used else "")
            )


def _parse_renames(renames: Iterable[str]) -> dict[str, str]:
    parsed = {}
    for item in renames:
        old, sep, new = item.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise MigrationError(
                f"--rename {item!r}: write table.old_column=new_column or old_table=new_table"
            )
        if "." in old and "." in new:
            new = new.rsplit(".", 1)[1]
        parsed[old] = new
    return parsed


def parse_defaults(items: Iterable[str]) -> dict[str, str]:
    """``["book.pages=0", …]`` (the ``--default`` options) as a mapping."""
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MigrationError(f"--default {item!r}: write table.column=VALUE")
        parsed[key.strip()] = value
    return parsed


_NOTHING = object()


def _parse(text: str, field: Any, column_type: Any, label: str) -> OneOff:
    """The value ``text`` stands for, checked by the field as a saved value would be."""
    stripped = text.strip()
    if stripped.lower() == "now" and isinstance(field, DateField | DateTimeField):
        return OneOff.now(field)
    try:
        literal = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        literal = _NOTHING
    candidates: list[Any] = []
    if isinstance(field, JSONField):
        try:
            candidates.append(json.loads(stripped))
        except ValueError:
            pass
    quoted = isinstance(literal, str | bytes) and stripped[:1] in "'\"bB"
    if not quoted:
        candidates.append(stripped)
    if literal is not _NOTHING:
        candidates.append(literal)
    problem = "it is no value"
    for candidate in candidates:
        if candidate is None:
            problem = "None is not a value for a NOT NULL column"
            continue
        if field is None:
            return OneOff.of(candidate, column_type)
        try:
            # clean() less its instance: the checks a saved value gets
            value = field.to_python(candidate)
            field.validate(value, None)
            field.run_validators(value)
        except ValidationError as exc:
            problem = "; ".join(exc.messages)
            continue
        return OneOff.of(value, column_type)
    raise MigrationError(f"{label}: {stripped!r} is not a valid value ({problem})")
