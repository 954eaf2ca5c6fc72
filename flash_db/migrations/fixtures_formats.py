"""Fixture file formats: how field values are written as JSON, and the json/jsonl/csv files.

:mod:`flash_db.migrations.fixtures` does the database work; this module only
turns values into text and back, one object at a time, so that neither side
ever holds a whole fixture in memory.

A fixture object is Django's ``{"model": "app.ClassName", "pk": 1, "fields":
{...}}``. Values are JSON: ISO 8601 for dates and times (aware datetimes keep
their offset), strings for ``Decimal`` and ``UUID``, base64 for bytes, seconds
(a number) for durations, the value of an ``Enum`` member, the target's pk for
a foreign key and a list of pks for a many-to-many field::

    codec = codec_for(Book._meta.get_field("price"))
    codec.encode(Decimal("9.50"))     # "9.50"
    codec.decode("9.50")              # Decimal("9.50")

The three file formats (chosen by the file name's extension):

* ``.json`` — a JSON array, one object per line when written by ``dumpdata``;
  read incrementally with ``json.JSONDecoder.raw_decode`` over 64 KiB chunks,
  so any layout (indented by hand, one line) works.
* ``.jsonl`` — one object per line.
* ``.csv`` — one file per model, named ``<app>.<Model>.csv``; the header is
  ``pk`` and the field names; ``\\N`` is NULL; a string value (text, dates,
  decimals, UUIDs, base64 bytes) is the cell itself, every other value (numbers,
  booleans, JSON fields, many-to-many lists) is written as JSON text.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..exceptions import FixtureError, ValidationError
from ..fields import (
    BinaryField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    DurationField,
    EnumField,
    Field,
    FloatField,
    IntegerField,
    JSONField,
    TimeField,
    UUIDField,
)
from ..fields.related import ForeignKey, ManyToManyField

#: file extension -> format name
EXTENSIONS = {".json": "json", ".jsonl": "jsonl", ".csv": "csv"}
#: a NULL in a csv cell (PostgreSQL COPY / MySQL LOAD DATA use the same marker)
CSV_NULL = "\\N"
_CHUNK = 64 * 1024
#: a single JSON object larger than this is refused (protects memory on a broken file)
_MAX_OBJECT = 64 * 1024 * 1024


# -- values -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Codec:
    """How one field's values travel: ``encode`` (Python → JSON), ``decode`` (JSON → Python).

    ``text`` says whether the JSON form is a string, which a csv cell then holds
    as is (otherwise the cell holds JSON text: ``12``, ``true``, ``[1, 2]``).
    ``decode`` raises ``ValidationError`` on a bad value.
    """

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    text: bool


def _identity(value: Any) -> Any:
    return value


def _iso(value: Any) -> Any:
    return value.isoformat()


def _duration_out(value: dt.timedelta) -> int | float:
    # Seconds: whole seconds as an int, else a float (exact to the microsecond for
    # durations up to about 30 years, the limit of a float's 15-16 digits).
    micro = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    return micro // 1_000_000 if micro % 1_000_000 == 0 else micro / 1_000_000


def _duration_in(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str, decimal.Decimal)):
        raise ValidationError([f"{value!r} is not a duration in seconds"])
    try:
        # repr() of a float is the text json wrote, so Decimal keeps every digit.
        seconds = decimal.Decimal(repr(value) if isinstance(value, float) else value)
        micro = int((seconds * 1_000_000).to_integral_value())
    except (decimal.InvalidOperation, ValueError):
        raise ValidationError([f"{value!r} is not a duration in seconds"]) from None
    return dt.timedelta(microseconds=micro)


def _base64_in(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValidationError([f"{value!r} is not base64 text"])
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError([f"{value[:40]!r} is not valid base64"]) from None


def _enum_out(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def codec_for(field: Field[Any, Any]) -> Codec:
    """The :class:`Codec` of ``field`` (a foreign key travels as its target's pk)."""
    if isinstance(field, ManyToManyField):
        inner = codec_for(field.remote_model._meta.pk)

        def many_in(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise ValidationError([f"{value!r} is not a list of primary keys"])
            return [inner.decode(v) for v in value]

        return Codec(lambda values: [inner.encode(v) for v in values], many_in, text=False)
    if isinstance(field, ForeignKey):
        target = codec_for(field.target_field)
        return Codec(target.encode, target.decode, target.text)
    to_python = field.to_python
    if isinstance(field, BinaryField):
        return Codec(lambda v: base64.b64encode(v).decode("ascii"), _base64_in, text=True)
    if isinstance(field, DurationField):
        return Codec(_duration_out, _duration_in, text=False)
    if isinstance(field, DecimalField):
        return Codec(str, to_python, text=True)
    if isinstance(field, (DateTimeField, DateField, TimeField)):
        return Codec(_iso, to_python, text=True)
    if isinstance(field, UUIDField):
        return Codec(str, to_python, text=True)
    if isinstance(field, EnumField):
        text = all(isinstance(m.value, str) for m in field.enum_class)
        return Codec(_enum_out, to_python, text=text)
    if isinstance(field, JSONField):
        return Codec(_identity, _identity, text=False)
    if isinstance(field, CharField):
        return Codec(_identity, to_python, text=True)
    if isinstance(field, (IntegerField, FloatField, BooleanField)):
        return Codec(_identity, to_python, text=False)
    # A custom field: its own to_python reads the value back.
    return Codec(_identity, to_python, text=field.python_type is str)


def csv_cell(codec: Codec, value: Any) -> str:
    """The csv text of an encoded value."""
    if value is None:
        return CSV_NULL
    if codec.text and isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, allow_nan=False, default=json_default)


def from_csv_cell(codec: Codec, cell: str) -> Any:
    """The JSON value of a csv cell (``ValidationError`` if it is not valid JSON text)."""
    if cell == CSV_NULL:
        return None
    if codec.text:
        return cell
    try:
        return json.loads(cell)
    except json.JSONDecodeError:
        raise ValidationError([f"{cell[:40]!r} is not a JSON value"]) from None


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for values a codec left alone (custom fields)."""
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class RawObject:
    """One object as read from a file; ``cells`` when the values are csv text."""

    model: Any
    pk: Any
    fields: Any
    where: str
    cells: bool = False


def fixture_format(path: Path) -> str:
    """``json``, ``jsonl`` or ``csv`` from ``path``'s extension (``FixtureError`` otherwise)."""
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise FixtureError(f"cannot tell the format of {path}: name it *.json, *.jsonl or *.csv")
    return fmt


def read_objects(path: Path) -> Iterator[RawObject]:
    """The objects of the fixture file ``path``, one at a time."""
    fmt = fixture_format(path)
    try:
        stream = path.open(encoding="utf-8", newline="" if fmt == "csv" else None)
    except FileNotFoundError:
        raise FixtureError(f"fixture file {path} does not exist") from None
    except OSError as exc:
        raise FixtureError(f"cannot read fixture file {path}: {exc.strerror}") from None
    with stream:
        try:
            if fmt == "json":
                yield from _read_json(stream, path)
            elif fmt == "jsonl":
                yield from _read_jsonl(stream, path)
            else:
                yield from _read_csv(stream, path)
        except UnicodeDecodeError:
            raise FixtureError(f"{path} is not UTF-8 text") from None


def _object(value: Any, where: str) -> RawObject:
    if not isinstance(value, dict) or "model" not in value:
        raise FixtureError(
            f'{where}: expected an object {{"model": "app.Model", "pk": ..., "fields": {{...}}}}'
        )
    unknown = set(value) - {"model", "pk", "fields"}
    if unknown:
        raise FixtureError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; keys: model, pk, fields"
        )
    fields = value.get("fields", {})
    if not isinstance(fields, dict):
        raise FixtureError(f'{where}: "fields" must be an object')
    return RawObject(value["model"], value.get("pk"), fields, where)


def _bad_json(path: Path, line: int, exc: json.JSONDecodeError) -> FixtureError:
    return FixtureError(f"{path}:{line}: malformed JSON: {exc.msg} (column {exc.colno})")


def _read_jsonl(stream: TextIO, path: Path) -> Iterator[RawObject]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_json(path, number, exc) from None
        yield _object(value, f"{path}:{number}")


class _Chunks:
    """A text buffer over a stream that drops what was consumed and counts its lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.line = 1  # line number at ``pos``
        self.eof = False

    def more(self) -> bool:
        """Read the next chunk, dropping the consumed prefix; False at end of file."""
        if self.eof:
            return False
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def skip_space(self) -> str:
        """The next non-blank character (``""`` at end of file), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                if self.buf[self.pos] == "\n":
                    self.line += 1
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def advance_to(self, end: int) -> None:
        self.line += self.buf.count("\n", self.pos, end)
        self.pos = end


def _read_json(stream: TextIO, path: Path) -> Iterator[RawObject]:
    decoder = json.JSONDecoder()
    chunks = _Chunks(stream)
    if chunks.skip_space() != "[":
        raise FixtureError(f"{path}:{chunks.line}: expected a JSON array of objects ('[')")
    chunks.advance_to(chunks.pos + 1)
    first = True
    while True:
        char = chunks.skip_space()
        if char == "]":
            chunks.advance_to(chunks.pos + 1)
            break
        if not first:
            if char != ",":
                where = f"{path}:{chunks.line}"
                if char == "":
                    raise FixtureError(f"{where}: malformed JSON: the array is not closed (']')")
                raise FixtureError(f"{where}: malformed JSON: expected ',' or ']'")
            chunks.advance_to(chunks.pos + 1)
            char = chunks.skip_space()
        if char == "":
            raise FixtureError(f"{path}:{chunks.line}: malformed JSON: the array is not closed")
        while True:
            try:
                value, end = decoder.raw_decode(chunks.buf, chunks.pos)
            except json.JSONDecodeError as exc:
                # Maybe the object only continues in the next chunk; a broken object
                # fails again once it is whole (or the file ends).
                if len(chunks.buf) - chunks.pos < _MAX_OBJECT and chunks.more():
                    continue
                line = chunks.line + chunks.buf.count("\n", chunks.pos, exc.pos)
                raise _bad_json(path, line, exc) from None
            if end == len(chunks.buf) and not chunks.eof and not isinstance(value, (dict, list)):
                # A number at the very end of the buffer may go on in the next chunk.
                if chunks.more():
                    continue
            break
        where = f"{path}:{chunks.line}"
        chunks.advance_to(end)
        first = False
        yield _object(value, where)
    if chunks.skip_space() != "":
        raise FixtureError(f"{path}:{chunks.line}: malformed JSON: text after the array")


def _read_csv(stream: TextIO, path: Path) -> Iterator[RawObject]:
    # The model is the file name: ``blog.Author.csv`` (``Path.stem`` keeps the dot).
    label = path.stem
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise FixtureError(f"{path}:1: malformed csv: {exc}") from None
    if len(header) != len(set(header)):
        raise FixtureError(f"{path}:1: a column name appears twice in the header")
    has_pk = "pk" in header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FixtureError(f"{path}:{reader.line_num}: malformed csv: {exc}") from None
        where = f"{path}:{reader.line_num}"
        if not row:
            continue
        if len(row) != len(header):
            raise FixtureError(
                f"{where}: {len(row)} cells for {len(header)} columns ({', '.join(header)})"
            )
        fields = dict(zip(header, row, strict=True))
        pk = fields.pop("pk") if has_pk else CSV_NULL
        yield RawObject(label, pk, fields, where, cells=True)


# -- writing ------------------------------------------------------------------------------------


class Writer:
    """Writes fixture objects; ``begin`` is called once per model, before its rows."""

    def begin(self, label: str, columns: list[str], codecs: list[Codec]) -> None:
        pass

    def row(self, label: str, pk: Any, fields: dict[str, Any]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, default=json_default)


class JsonWriter(Writer):
    """A JSON array with one object per line (diffable, and line numbers in errors mean rows)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0

    def row(self, label: str, pk: Any, fields: dict[str, Any]) -> None:
        text = _dumps({"model": label, "pk": pk, "fields": fields})
        self.stream.write(("[\n" if self.count == 0 else ",\n") + text)
        self.count += 1

    def close(self) -> None:
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")


class JsonlWriter(Writer):
    """One object per line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def row(self, label: str, pk: Any, fields: dict[str, Any]) -> None:
        self.stream.write(_dumps({"model": label, "pk": pk, "fields": fields}) + "\n")


class CsvWriter(Writer):
    """One csv table per model; ``open_for(label)`` gives the stream to write it to."""

    def __init__(self, open_for: Callable[[str], TextIO]) -> None:
        self.open_for = open_for
        self.writer: Any = None
        self.codecs: list[Codec] = []

    def begin(self, label: str, columns: list[str], codecs: list[Codec]) -> None:
        self.writer = csv.writer(self.open_for(label), lineterminator="\n")
        self.writer.writerow(["pk", *columns])
        self.codecs = codecs

    def row(self, label: str, pk: Any, fields: dict[str, Any]) -> None:
        cells = [csv_cell(self.codecs[0], pk)]
        cells.extend(
            csv_cell(codec, value)
            for codec, value in zip(self.codecs[1:], fields.values(), strict=True)
        )
        self.writer.writerow(cells)
