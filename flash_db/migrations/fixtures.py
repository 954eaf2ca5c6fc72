"""Fixtures: dump tables to json/jsonl/csv files and load them back (``flash db dumpdata``/``loaddata``).

:func:`dump` streams each model's rows from the database (a server-side
cursor, ``chunk_size`` rows at a time) straight into the file; :func:`load`
reads files incrementally and inserts in batches. Neither holds a fixture in
memory::

    await flash_db.connect()
    await dump(["blog.Author", "blog.Book"], out=Path("blog.json"))
    await load([Path("blog.json")], using="staging")

How a load works, and why:

1. **Read and check** every file first: each object is parsed, its model and
   fields looked up and its values converted (``Field.to_python``). Problems
   raise :class:`~flash_db.exceptions.FixtureError` naming ``file:line``
   before anything touches the database. Rows are spooled per model to
   temporary files on disk (pickled batches), so the files may list models in
   any order.
2. **Insert parents before children**, in the order of the foreign keys
   between the fixture's models, in one transaction per database
   (``atomic(using=alias)``): a failure anywhere rolls back everything.
3. **Self references and cycles** are resolved without backend tricks (a
   PostgreSQL foreign key is not deferrable unless declared so, and MySQL's
   ``FOREIGN_KEY_CHECKS=0`` would let bad references commit unchecked): a
   nullable foreign key that closes a cycle, or a self reference to a row not
   inserted yet, is inserted as NULL and set by an UPDATE afterwards (the
   pending updates are spooled to disk too). A self reference to a smaller pk
   of rows sorted by pk, as ``dump`` writes them, needs no UPDATE.
4. **Sequences**: after explicit pks, PostgreSQL's sequences are moved past
   the largest pk (``setval``); MySQL and SQLite adjust by themselves.

Rows are inserted as given (no ``save()``, no signals, no validation beyond
type conversion); a pk that already exists is an IntegrityError.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TextIO

import sqlalchemy as sa

from ..db import atomic, connections
from ..db.errors import translated
from ..exceptions import ConfigurationError, DatabaseError, FixtureError, ValidationError
from ..fields import Field
from ..fields.related import ForeignKey, ManyToManyField
from ..models import registry
from .fixtures_formats import (
    Codec,
    CsvWriter,
    JsonlWriter,
    JsonWriter,
    RawObject,
    Writer,
    codec_for,
    fixture_format,
    from_csv_cell,
    read_objects,
)

__all__ = ["FORMATS", "Progress", "dump", "load"]

FORMATS = ("json", "jsonl", "csv")
_BATCH = 1000


class Progress(Protocol):
    """What :func:`dump` and :func:`load` report to (the CLI draws rich progress bars)."""

    def begin(self, description: str, total: int | None) -> None:
        """A new stage (``"dump blog.Author"``) of ``total`` rows, if known."""

    def advance(self, rows: int) -> None:
        """``rows`` more rows of the current stage are done."""


# -- models -------------------------------------------------------------------------------------


def _auto_created(model: Any) -> bool:
    return bool(getattr(model._meta, "auto_created", False))


def _foreign_keys(model: Any) -> list[ForeignKey[Any, Any]]:
    return [f for f in model._meta.concrete_fields if isinstance(f, ForeignKey)]


def _many_to_many(model: Any) -> list[ManyToManyField[Any]]:
    """The many-to-many fields whose links travel with ``model`` (auto-created join tables)."""
    return [
        f for f in model._meta.fields if isinstance(f, ManyToManyField) and _auto_created(f.through)
    ]


def dependency_order(models: Sequence[Any]) -> tuple[list[Any], set[Field[Any, Any]]]:
    """``models`` with parents before children, and the foreign keys that must be deferred.

    A deferred key closes a cycle between models: its rows go in with NULL and
    get the value by an UPDATE once every model is loaded. A cycle of NOT NULL
    keys cannot be ordered and raises ``FixtureError``. Self references are
    not edges here (the loader handles them row by row)::

        order, deferred = dependency_order([Book, Author])   # [Author, Book], set()
    """
    selected = list(dict.fromkeys(models))
    members = set(selected)
    deferred: set[Field[Any, Any]] = set()

    def parents(model: Any) -> set[Any]:
        return {
            fk.remote_model
            for fk in _foreign_keys(model)
            if fk.remote_model in members and fk.remote_model is not model and fk not in deferred
        }

    order: list[Any] = []
    done: set[Any] = set()
    pending = list(selected)
    while pending:
        ready = [m for m in pending if parents(m) <= done]
        if ready:
            order.extend(ready)
            done.update(ready)
            pending = [m for m in pending if m not in done]
            continue
        # A cycle: break it at the first nullable key between models still waiting.
        waiting = set(pending)
        breaker = next(
            (
                fk
                for m in pending
                for fk in _foreign_keys(m)
                if fk.null and fk.remote_model in waiting - {m} and fk not in deferred
            ),
            None,
        )
        if breaker is None:
            names = ", ".join(m._meta.label for m in pending)
            raise FixtureError(
                f"the foreign keys between {names} form a cycle with no nullable key; "
                f"make one of them null=True so that the rows can be loaded in two steps"
            )
        deferred.add(breaker)
    return order, deferred


def resolve_labels(labels: Sequence[str]) -> list[Any]:
    """The models named ``app.Model`` (``FixtureError`` naming the known ones otherwise)."""
    models = []
    for label in labels:
        try:
            models.append(registry.get_model(label))
        except ConfigurationError as exc:
            raise FixtureError(str(exc)) from None
    return list(dict.fromkeys(models))


# -- dump ---------------------------------------------------------------------------------------


async def _existing_tables(alias: str) -> set[str]:
    with translated(alias):
        async with connections[alias].engine.connect() as conn:
            names: list[str] = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    return set(names)


async def _dumpable(labels: Sequence[str], using: str | None) -> list[tuple[Any, str]]:
    """(model, alias) pairs to dump, parents first."""
    if labels:
        chosen = resolve_labels(labels)
        pairs = [(m, using or connections.db_for_read(m, None)) for m in chosen]
    else:
        # Everything whose table exists on its database (or on ``using``).
        pairs = []
        tables: dict[str, set[str]] = {}
        for model in registry:
            if _auto_created(model):
                continue
            alias = using or connections.db_for_read(model, None)
            if alias not in tables:
                tables[alias] = await _existing_tables(alias)
            if model._meta.table_name in tables[alias]:
                pairs.append((model, alias))
    order, _ = dependency_order([m for m, _ in pairs])
    aliases = dict(pairs)
    return [(m, aliases[m]) for m in order]


@contextlib.contextmanager
def _output(out: TextIO | Path | None, fmt: str, models: list[Any]) -> Iterator[Writer]:
    """The writer for ``out``; a file is written to ``<name>.tmp`` and renamed when complete."""
    if fmt == "csv":
        with _csv_output(out, models) as csv_writer:
            yield csv_writer
        return
    if out is None or not isinstance(out, Path):
        stream = out or sys.stdout
        writer: Writer = JsonWriter(stream) if fmt == "json" else JsonlWriter(stream)
        yield writer
        writer.close()
        stream.flush()
        return
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as file:
            file_writer: Writer = JsonWriter(file) if fmt == "json" else JsonlWriter(file)
            yield file_writer
            file_writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _csv_output(out: TextIO | Path | None, models: list[Any]) -> Iterator[Writer]:
    if not isinstance(out, Path) or (out.suffix.lower() == ".csv" and not out.is_dir()):
        if len(models) != 1:
            raise FixtureError(
                "csv has one file per model: give -o DIRECTORY to dump several models "
                f"({', '.join(m._meta.label for m in models)})"
            )
        if isinstance(out, Path):
            with out.open("w", encoding="utf-8", newline="") as file:
                yield CsvWriter(lambda label: file)
            return
        stream = out or sys.stdout
        yield CsvWriter(lambda label: stream)
        stream.flush()
        return
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as files:

        def open_for(label: str) -> TextIO:
            return files.enter_context(
                (out / f"{label}.csv").open("w", encoding="utf-8", newline="")
            )

        yield CsvWriter(open_for)


async def _links(
    alias: str, m2m: ManyToManyField[Any], low: Any, high: Any
) -> dict[Any, list[Any]]:
    """Target pks of each source pk in [low, high] for one many-to-many field, in pk order."""
    relation = m2m.model._meta.relations[m2m.name]
    through = m2m.through._meta.table
    source: sa.Column[Any] = through.c[relation.steps[0].right_attname]
    target: sa.Column[Any] = through.c[relation.steps[1].left_attname]
    statement = sa.select(source, target).where(source.between(low, high)).order_by(source, target)
    links: dict[Any, list[Any]] = {}
    result: Any = await connections.execute(alias, statement)
    for source_pk, target_pk in result:
        links.setdefault(source_pk, []).append(target_pk)
    return links


async def _rows(alias: str, model: Any, chunk_size: int) -> AsyncIterator[list[dict[str, Any]]]:
    """``model``'s rows as dicts by attname, ``chunk_size`` at a time, ordered by pk."""
    meta = model._meta
    table = meta.table
    pk = table.c[meta.pk.attname]
    columns = [table.c[f.attname] for f in meta.concrete_fields]
    m2ms = _many_to_many(model)
    keys = [c.key for c in columns]
    async for chunk in connections.stream(alias, sa.select(*columns).order_by(pk), chunk_size):
        # by attribute name (the column's key): a row's mapping is keyed by column name,
        # which differs for a field with a db_column
        rows = [dict(zip(keys, row, strict=True)) for row in chunk]
        if m2ms and rows:
            # The chunk holds every row between its first and last pk (the stream is
            # ordered by pk), so one range query fetches exactly this chunk's links.
            low, high = rows[0][pk.key], rows[-1][pk.key]
            for m2m in m2ms:
                links = await _links(alias, m2m, low, high)
                for row in rows:
                    row[m2m.name] = links.get(row[pk.key], [])
        yield rows


async def dump(
    labels: Sequence[str] = (),
    *,
    using: str | None = None,
    fmt: str = "json",
    out: TextIO | Path | None = None,
    chunk_size: int = _BATCH,
    progress: Progress | None = None,
) -> int:
    """Write the rows of ``labels`` (default: every model with a table) as a fixture.

    ``using`` reads from that database (default: each model's own). ``out`` is
    a text stream (default stdout) or a path; csv writes one file per model, so
    for several models ``out`` is a directory. Rows are written as they stream
    in. Returns the number of objects written::

        n = await dump(["blog.Author"], fmt="jsonl", out=Path("authors.jsonl"))
    """
    if fmt not in FORMATS:
        raise FixtureError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    pairs = await _dumpable(labels, using)
    count = 0
    with _output(out, fmt, [m for m, _ in pairs]) as writer:
        for model, alias in pairs:
            meta = model._meta
            fields = [*meta.concrete_fields, *_many_to_many(model)]
            fields = [f for f in fields if f is not meta.pk]
            codecs = [codec_for(f) for f in fields]
            pk_codec = codec_for(meta.pk)
            writer.begin(meta.label, [f.name for f in fields], [pk_codec, *codecs])
            if progress is not None:
                total = await connections.execute(
                    alias, sa.select(sa.func.count()).select_from(meta.table)
                )
                progress.begin(f"dump {meta.label}", total.scalar_one())
            keys = [f.name if isinstance(f, ManyToManyField) else f.attname for f in fields]
            async for rows in _rows(alias, model, chunk_size):
                for row in rows:
                    encoded = {}
                    for f, key, codec in zip(fields, keys, codecs, strict=True):
                        value = row[key]
                        encoded[f.name] = None if value is None else codec.encode(value)
                    writer.row(meta.label, pk_codec.encode(row[meta.pk.attname]), encoded)
                count += len(rows)
                if progress is not None:
                    progress.advance(len(rows))
    return count


# -- load: reading and spooling -----------------------------------------------------------------


@dataclass
class _ModelCodecs:
    """How to read one model's objects: its fields by name and attname, with their codecs."""

    model: Any
    by_name: dict[str, tuple[Field[Any, Any], Codec]]
    pk: Codec

    @classmethod
    def of(cls, model: Any) -> _ModelCodecs:
        by_name: dict[str, tuple[Field[Any, Any], Codec]] = {}
        for f in model._meta.fields:
            entry = (f, codec_for(f))
            by_name[f.name] = entry
            by_name.setdefault(f.attname, entry)
        return cls(model, by_name, codec_for(model._meta.pk))


class _Spool:
    """Rows of one model on disk: pickled batches in a temporary file, read back in order."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()
        self.buffer: list[Any] = []
        self.count = 0

    def add(self, item: Any) -> None:
        self.buffer.append(item)
        self.count += 1
        if len(self.buffer) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            pickle.dump(self.buffer, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.buffer = []

    def batches(self) -> Iterator[list[Any]]:
        self.flush()
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)
            except EOFError:
                return

    def close(self) -> None:
        self.file.close()


@dataclass
class _Spools:
    """One spool of rows per model (in order of first appearance) and of pending UPDATEs."""

    rows: dict[Any, _Spool] = field(default_factory=dict)
    updates: dict[Any, _Spool] = field(default_factory=dict)

    def of(self, model: Any, kind: str = "rows") -> _Spool:
        spools = self.rows if kind == "rows" else self.updates
        if model not in spools:
            spools[model] = _Spool()
        return spools[model]

    def close(self) -> None:
        for spool in [*self.rows.values(), *self.updates.values()]:
            spool.close()


def _decode(codecs: _ModelCodecs, raw: RawObject, spools: _Spools) -> None:
    """Check and convert one object; spool its row (and its many-to-many links)."""
    model = codecs.model
    meta = model._meta
    label = meta.label

    def convert(f: Field[Any, Any], codec: Codec, value: Any) -> Any:
        try:
            if raw.cells:
                value = from_csv_cell(codec, value)
            return None if value is None else codec.decode(value)
        except ValidationError as exc:
            raise FixtureError(
                f"{raw.where}: {label}.{f.name}: {'; '.join(exc.messages)}"
            ) from None

    pk = convert(meta.pk, codecs.pk, raw.pk)
    values: dict[str, Any] = {}
    links: list[tuple[ManyToManyField[Any], list[Any]]] = []
    for name, value in raw.fields.items():
        entry = codecs.by_name.get(name)
        if entry is None:
            choices = ", ".join(f.name for f in meta.fields)
            raise FixtureError(f"{raw.where}: unknown field {name!r} on {label}; fields: {choices}")
        f, codec = entry
        if isinstance(f, ManyToManyField):
            if not _auto_created(f.through):
                raise FixtureError(
                    f"{raw.where}: {label}.{name} goes through {f.through._meta.label}; "
                    f"load {f.through._meta.label} objects instead of the list"
                )
            if pk is None:
                raise FixtureError(f"{raw.where}: {label}.{name} needs the object's pk")
            links.append((f, convert(f, codec, value) or []))
            continue
        values[f.attname] = convert(f, codec, value)
    if pk is not None:
        values[meta.pk.attname] = pk
    elif meta.pk.attname in values:
        pk = values[meta.pk.attname]
    for f in meta.concrete_fields:
        if f.attname in values:
            continue
        if f.primary_key and f.auto_increment:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values[f.attname] = f.now()
        elif f.has_default:
            values[f.attname] = f.get_default()
        elif f.has_db_default:
            continue
        elif f.null:
            values[f.attname] = None
        else:
            raise FixtureError(f"{raw.where}: {label} needs a value for {f.name!r} (no default)")
    # Field order, whatever the file's order: rows with the same columns batch together.
    ordered = {f.attname: values[f.attname] for f in meta.concrete_fields if f.attname in values}
    spools.of(model).add((ordered, raw.where))
    for m2m, targets in links:
        relation = meta.relations[m2m.name]
        source, target = relation.steps[0].right_attname, relation.steps[1].left_attname
        through = spools.of(m2m.through)
        for target_pk in targets:
            through.add(({source: pk, target: target_pk}, raw.where))


def _read(paths: Sequence[Path], spools: _Spools, progress: Progress | None) -> int:
    codecs: dict[Any, _ModelCodecs] = {}
    count = 0
    for path in paths:
        if progress is not None:
            progress.begin(f"read {path.name}", None)
        in_file = 0
        for raw in read_objects(path):
            label = raw.model
            if not isinstance(label, str):
                raise FixtureError(f'{raw.where}: "model" must be a string like "app.Model"')
            model_codecs = codecs.get(label)
            if model_codecs is None:
                try:
                    model = registry.get_model(label)
                except ConfigurationError as exc:
                    raise FixtureError(f"{raw.where}: {exc}") from None
                model_codecs = codecs[label] = _ModelCodecs.of(model)
            _decode(model_codecs, raw, spools)
            in_file += 1
            if progress is not None and in_file % _BATCH == 0:
                progress.advance(_BATCH)
        count += in_file
        if progress is not None:
            progress.advance(in_file % _BATCH)
    return count


# -- load: writing ------------------------------------------------------------------------------


def _span(batch: list[tuple[dict[str, Any], str]]) -> str:
    first, last = batch[0][1], batch[-1][1]
    return first if first == last else f"{first} to {last}"


async def _run(alias: str, label: str, span: str, statement: Any, params: list[Any]) -> None:
    try:
        await connections.execute(alias, statement, params)
    except DatabaseError as exc:
        raise type(exc)(
            f"loading {label} (objects {span}) failed, nothing was loaded: {exc}",
            exc.driver_error,
        ) from None


class _SelfReferences:
    """Decides, row by row, whether a self reference can go in with the INSERT.

    While the rows arrive in ascending pk order, a reference to a smaller pk
    is either a row inserted already or not in the fixture at all (then the
    database must have it), so it is safe; anything else waits for an UPDATE.
    """

    def __init__(self, pk_attname: str) -> None:
        self.pk_attname = pk_attname
        self.last: Any = None
        self.sorted = True

    def see(self, pk: Any) -> None:
        if pk is None:
            return
        try:
            if self.last is not None and not pk > self.last:
                self.sorted = False
        except TypeError:
            self.sorted = False
        self.last = pk

    def safe(self, pk: Any, value: Any) -> bool:
        if not self.sorted or pk is None:
            return False
        try:
            return bool(value < pk)
        except TypeError:
            return False


async def _insert(
    alias: str,
    model: Any,
    spool: _Spool,
    deferred: set[Field[Any, Any]],
    spools: _Spools,
    progress: Progress | None,
) -> None:
    meta = model._meta
    table = meta.table
    label = meta.label
    pk_attname = meta.pk.attname
    self_refs = [f for f in _foreign_keys(model) if f.remote_model is model and f.null]
    cyclic = [f for f in _foreign_keys(model) if f in deferred]
    order = _SelfReferences(pk_attname)
    batch: list[tuple[dict[str, Any], str]] = []
    keys: tuple[str, ...] = ()

    async def flush() -> None:
        if batch:
            await _run(alias, label, _span(batch), sa.insert(table), [v for v, _ in batch])
            if progress is not None:
                progress.advance(len(batch))
            batch.clear()

    if progress is not None:
        progress.begin(f"load {label}", spool.count)
    for items in spool.batches():
        for values, where in items:
            pk = values.get(pk_attname)
            order.see(pk)
            for f in cyclic + self_refs:
                value = values.get(f.attname)
                if value is None or (f in self_refs and order.safe(pk, value)):
                    continue
                if pk is None:
                    raise FixtureError(
                        f"{where}: {label}.{f.name} refers to a row loaded later; "
                        f"give the object its pk so that the reference can be set afterwards"
                    )
                spools.of(model, "updates").add((pk, f.attname, value, where))
                values[f.attname] = None
            # One executemany needs the same columns in every row; a row without a
            # column (left to its db_default) starts a new batch, keeping the order.
            row_keys = tuple(values)
            if row_keys != keys or len(batch) >= _BATCH:
                await flush()
                keys = row_keys
            batch.append((values, where))
    await flush()


async def _update(alias: str, model: Any, spool: _Spool) -> None:
    meta = model._meta
    table = meta.table
    pk = table.c[meta.pk.attname]
    for items in spool.batches():
        by_field: dict[str, list[dict[str, Any]]] = {}
        for key, attname, value, _where in items:
            by_field.setdefault(attname, []).append({"fx_pk": key, "fx_value": value})
        for attname, params in by_field.items():
            statement = (
                sa.update(table)
                .where(pk == sa.bindparam("fx_pk"))
                .values({attname: sa.bindparam("fx_value")})
            )
            span = f"{items[0][3]} to {items[-1][3]}"
            await _run(alias, meta.label, span, statement, params)


async def _reset_postgresql_sequences(alias: str, models: Sequence[Any]) -> None:
    # Explicit pks do not advance a PostgreSQL sequence: the next INSERT without
    # a pk would collide. Move each serial/identity sequence past the largest pk
    # (or back to 1 on an empty table); pg_get_serial_sequence is NULL for a
    # column without a sequence, and setval(NULL, ...) does nothing.
    preparer = connections[alias].dialect.identifier_preparer
    for model in models:
        meta = model._meta
        if not meta.pk.auto_increment:
            continue
        table = meta.table
        column = table.c[meta.pk.attname]
        statement = sa.select(
            sa.func.setval(
                sa.func.pg_get_serial_sequence(preparer.format_table(table), column.name),
                sa.func.coalesce(sa.func.max(column), 1),
                sa.func.max(column).is_not(None),
            )
        ).select_from(table)
        await connections.execute(alias, statement)


#: per backend, what to do after rows with explicit pks went in (MySQL moves its
#: AUTO_INCREMENT past explicit values itself; SQLite takes max(rowid) + 1)
_RESET_SEQUENCES = {"postgresql": _reset_postgresql_sequences}


async def load(
    paths: Sequence[Path | str],
    *,
    using: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Load fixture files (``.json``, ``.jsonl``, ``.csv``), all or nothing; the object count.

    ``using`` writes every model there (default: each model's own database,
    one transaction on each). See the module docstring for the order of
    inserts, cycles and sequences::

        n = await load([Path("blog.json"), Path("fixtures/blog.Tag.csv")], using="other")
    """
    files = [Path(p) for p in paths]
    for path in files:
        fixture_format(path)
        if not path.is_file():
            raise FixtureError(f"fixture file {path} does not exist")
    spools = _Spools()
    try:
        count = _read(files, spools, progress)
        order, deferred = dependency_order(list(spools.rows))
        for model in order:
            model._meta.check_writable()
        aliases = {m: using or connections.db_for_write(m, None) for m in order}
        async with contextlib.AsyncExitStack() as stack:
            for alias in dict.fromkeys(aliases.values()):
                await stack.enter_async_context(atomic(alias))
            for model in order:
                await _insert(aliases[model], model, spools.rows[model], deferred, spools, progress)
            for model, spool in spools.updates.items():
                await _update(aliases[model], model, spool)
            for alias in dict.fromkeys(aliases.values()):
                reset = _RESET_SEQUENCES.get(connections.features(alias).vendor)
                if reset is not None:
                    await reset(alias, [m for m in order if aliases[m] == alias])
        return count
    finally:
        spools.close()
