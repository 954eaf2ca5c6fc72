"""makemigrations' questions: values given as text become Python source a revision can hold.

The source must evaluate, with only the imports it declares, to the value the column
stores on every backend; the through-the-executable tests (tests/integration/
test_migration_questions.py) show the rows getting it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import pytest

from flash_db import Model, fields
from flash_db.exceptions import MigrationError
from flash_db.migrations.questions import OneOff, Questioner, parse_defaults


class Mood(enum.Enum):
    GOOD = "good"
    BAD = "bad"


class Rank(enum.IntEnum):
    LOW = 1
    HIGH = 2


class QuestionsSubject(Model):
    count = fields.IntegerField()
    label = fields.CharField(max_length=5)
    price = fields.DecimalField(max_digits=6, decimal_places=2)
    flag = fields.BooleanField()
    day = fields.DateField()
    at = fields.DateTimeField()
    naive = fields.DateTimeField(timezone=False)
    took = fields.DurationField()
    data = fields.JSONField()
    uid = fields.UUIDField()
    mood = fields.EnumField(Mood)
    rank = fields.EnumField(Rank)
    blob = fields.BinaryField()

    class Meta:
        app_label = "unit_questions"


def _field(name: str) -> Any:
    return QuestionsSubject._meta.get_field(name)


def _value(one_off: OneOff, backend: str = "sqlite") -> Any:
    """What the revision's expression evaluates to, with only its own imports."""
    namespace: dict[str, Any] = {}
    for line in one_off.imports:
        exec(line, namespace)

    class Context:
        class dialect:
            name = backend

    class Op:
        @staticmethod
        def get_context() -> Any:
            return Context

    namespace["op"] = Op
    return eval(one_off.code, namespace)


def _given(name: str, text: str) -> OneOff:
    questioner = Questioner(defaults={f"questions_subject.{name}": text})
    field = _field(name)
    column_type = QuestionsSubject._meta.table.c[field.attname].type
    found = questioner.one_off("questions_subject", field.column_name, field, column_type)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("name", "text", "stored"),
    [
        ("count", "42", 42),
        ("count", "4.0", 4),
        ("label", "hello", "hello"),
        ("label", "'42'", "42"),
        ("label", "42", "42"),
        ("price", "1.50", decimal.Decimal("1.50")),
        ("flag", "true", True),
        ("flag", "False", False),
        ("day", "2024-02-29", dt.date(2024, 2, 29)),
        # aware and in UTC, whatever zone it was given in
        ("at", "2024-05-01T10:00:00+02:00", dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)),
        ("at", "2024-05-01 10:00", dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)),
        ("naive", "2024-05-01 10:00:00.5", dt.datetime(2024, 5, 1, 10, 0, 0, 500000)),
        ("data", '{"a": [1, null, true]}', {"a": [1, None, True]}),
        ("data", "plain words", "plain words"),
        (
            "uid",
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID(int=0x12345678123456781234567812345678),
        ),
        ("mood", "good", "good"),
        ("rank", "2", 2),
        ("blob", "b'\\x00\\xff'", b"\x00\xff"),
    ],
)
def test_a_value_given_as_text_is_the_stored_value(name: str, text: str, stored: Any) -> None:
    assert _value(_given(name, text)) == stored


def test_a_duration_is_microseconds_except_on_postgresql() -> None:
    # DurationField stores INTERVAL on PostgreSQL, a count of microseconds elsewhere
    one_off = _given("took", "-5400.000007")
    assert _value(one_off, "sqlite") == _value(one_off, "mysql") == -5400000007
    assert _value(one_off, "postgresql") == dt.timedelta(seconds=-5400, microseconds=-7)


def test_now_is_the_time_the_migration_runs() -> None:
    before = dt.datetime.now(dt.UTC)
    at = _value(_given("at", "now"))
    assert at.tzinfo == dt.UTC and before <= at <= dt.datetime.now(dt.UTC)
    assert _value(_given("naive", "NOW")).tzinfo is None
    assert _value(_given("day", "now")) == dt.date.today()


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("count", "many", "'many' is not an integer"),
        ("label", "toolong", "at most 5"),
        ("mood", "meh", "'meh' is not a valid Mood"),
        ("count", "None", "None is not a value for a NOT NULL column"),
        ("blob", "text", "str is not bytes"),
    ],
)
def test_a_bad_value_names_the_column_and_the_problem(name: str, text: str, problem: str) -> None:
    with pytest.raises(MigrationError) as raised:
        _given(name, text)
    message = str(raised.value)
    assert message.startswith(f"questions_subject.{name}: {text!r} is not a valid value"), message
    assert problem in message, message


def test_without_an_answer_a_new_not_null_column_is_an_error() -> None:
    field = _field("count")
    questioner = Questioner()
    assert questioner.one_off("questions_subject", "count", field, None) is None
    assert questioner.one_off("questions_subject", "label", _field("label"), None) is None
    with pytest.raises(MigrationError) as raised:
        questioner.finish()  # every unanswered column in one message
    assert str(raised.value) == (
        "questions_subject.count, questions_subject.label are new NOT NULL columns with no "
        "default, and the rows already in questions_subject need a value: run again with "
        "--default questions_subject.count=VALUE --default questions_subject.label=VALUE, "
        "give the fields defaults, or make them null=True; nothing was written"
    )
    # a column made NOT NULL is a warning: only rows holding NULL would make it fail
    said: list[str] = []
    assert Questioner(say=said.append).one_off("t", "count", field, None, altered=True) is None
    assert said and "becomes NOT NULL" in said[0]


def test_answers_are_found_by_table_model_or_field_name() -> None:
    field = _field("count")
    for key in ("questions_subject.count", "QuestionsSubject.count", "count"):
        questioner = Questioner(defaults={key: "3"})
        found = questioner.one_off("questions_subject", "count", field, None)
        assert found is not None and found.code == "3"
        questioner.finish()


def test_unused_answers_are_refused() -> None:
    questioner = Questioner(defaults={"book.pagez": "1"}, renames=["book.a=b", "old=new"])
    assert questioner.rename_table("old", "new")
    with pytest.raises(MigrationError) as raised:
        questioner.finish()
    assert str(raised.value).startswith("--default book.pagez, --rename book.a=b matched no")


def test_renames() -> None:
    said: list[str] = []
    questioner = Questioner(renames=["book.title=book.name"], say=said.append)
    assert questioner.rename_column("book", "title", "name")
    assert not questioner.rename_column("book", "title", "other")
    assert not questioner.rename_column("book", "a", "b") and "--rename book.a=b" in said[0]
    assert not questioner.rename_table("x", "y") and "--rename x=y" in said[1]
    asked = iter(["maybe", "Y"])
    assert Questioner(prompt=lambda q: next(asked)).rename_table("x", "y")
    assert not Questioner(prompt=lambda q: "").rename_table("x", "y")


@pytest.mark.parametrize("item", ["nothing", "=1"])
def test_malformed_options(item: str) -> None:
    with pytest.raises(MigrationError, match=r"write table\.column=VALUE"):
        parse_defaults([item])
    with pytest.raises(MigrationError, match=r"write table\.old_column=new_column"):
        Questioner(renames=[item])


def test_a_value_a_revision_cannot_hold_is_refused() -> None:
    with pytest.raises(MigrationError, match="cannot be written into a revision"):
        OneOff.of(object())
    with pytest.raises(MigrationError, match="in UTC or without a zone"):
        OneOff.of(dt.time(1, tzinfo=dt.timezone(dt.timedelta(hours=1))))
