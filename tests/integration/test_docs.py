"""Every ```python example in ``docs/*.md`` runs, on every configured backend.

The documentation is tested, so that it stays true. How a page's code blocks
are run depends on how they are marked:

* **Definitions** — a block whose first line is a file-name comment, such as
  ``# models.py`` or ``# routers.py``, is module-level code: imports, models,
  enums, routers, lookups. A page's definition blocks run once per process, in
  page order, in one module namespace that belongs to the page (models register
  tables on a global ``MetaData``, so they can only be defined once).
* **Body** — every other ```python block is written the way a user writes code
  inside an ``async def`` (top-level ``await``). A page's body blocks are joined
  in page order, indented into ``async def __page__():`` and awaited once per
  backend, with the page's definitions as globals. Names assigned in one block
  are visible in the next. Examples ``assert`` what they claim.
* ``<!-- standalone -->`` on the line directly before the fence: a complete
  program (it calls ``asyncio.run()`` and connects on its own). It runs once in
  a subprocess, in an empty temporary directory, so its ``connect()`` /
  ``disconnect()`` never touch the suite's connection.
* ``<!-- no-test -->`` on the line directly before the fence: not run. Only for
  install snippets, configuration, and URLs of servers that do not exist.

Pages keep their models apart from each other and from the rest of the suite:
class names unique across the docs, ``Meta.app_label = "docs"``, and table names
starting with the page's prefix (``PREFIXES``). For each (page, backend) the
page's tables are created before the body runs and dropped afterwards.

Tracebacks point at the failing line in the markdown page.
"""

from __future__ import annotations

import builtins
import io
import os
import re
import subprocess
import sys
import tokenize
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import flash_db
from flash_db import metadata, registry

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md"))

#: table-name prefix of each page's models; a new page adds its own
PREFIXES = {
    "index.md": "idx_",
    "models.md": "mdl_",
    "querying.md": "qry_",
    "connections.md": "conn_",
    "errors.md": "err_",
    "inspectdb.md": "insp_",
    "fixtures.md": "fx_",
    "migrations.md": "mig_",
}

#: pages generated from code, kept current by their own test (test_cli.py for cli.md)
GENERATED = {"cli.md"}

NO_TEST = "<!-- no-test -->"
STANDALONE = "<!-- standalone -->"
_FENCE_OPEN = re.compile(r"^```\s*(?P<lang>[\w+-]*)\s*$")
_FENCE_CLOSE = re.compile(r"^```\s*$")
_DEFINITIONS = re.compile(r"^#\s*[\w./-]+\.py\s*$")


@dataclass
class Block:
    """One fenced ```python block: its code and the markdown line of its first code line."""

    first_line: int
    code: str
    marker: str | None

    @property
    def kind(self) -> str:
        if self.marker == NO_TEST:
            return "skip"
        if self.marker == STANDALONE:
            return "standalone"
        head = self.code.lstrip("\n").split("\n", 1)[0]
        return "definitions" if _DEFINITIONS.match(head) else "body"


def parse_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a markdown page, in order."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE_OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and not _FENCE_CLOSE.match(lines[end]):
            end += 1
        if end == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code fence")
        if match["lang"] in ("python", "py"):
            before = lines[start - 1].strip() if start else ""
            marker = before if before in (NO_TEST, STANDALONE) else None
            blocks.append(Block(start + 2, "\n".join(lines[start + 1 : end]), marker))
        index = end + 1
    return blocks


def _string_continuation_lines(code: str) -> set[int]:
    """Lines (1-based) that continue a multi-line string: indenting them would change the string."""
    inside: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(code + "\n").readline):
        if token.type == tokenize.STRING and token.start[0] != token.end[0]:
            inside.update(range(token.start[0] + 1, token.end[0] + 1))
    return inside


def _place(blocks: Sequence[Block], indent: str = "") -> list[str]:
    """Source lines with each block's code at its markdown line numbers (for tracebacks)."""
    lines: list[str] = []
    for block in blocks:
        code_lines = block.code.split("\n")
        keep = _string_continuation_lines(block.code) if indent else set()
        lines.extend([""] * (block.first_line - 1 - len(lines)))
        for number, line in enumerate(code_lines, start=1):
            lines.append(line if not line.strip() or number in keep else indent + line)
    return lines


@dataclass
class Page:
    """A docs page made runnable: its definitions module and its body coroutine function."""

    name: str
    path: Path
    blocks: list[Block]
    module: types.ModuleType | None = None
    models: list[Any] = field(default_factory=list)
    body: Any = None
    error: BaseException | None = None

    def of_kind(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind]

    def load(self) -> None:
        """Run the definition blocks (once) and compile the body."""
        module = types.ModuleType(f"docs_examples.{self.path.stem}")
        module.__file__ = str(self.path)
        module.__dict__["__builtins__"] = builtins
        sys.modules[module.__name__] = module
        before = set(registry)
        labels_before = {m._meta.label for m in before}
        definitions = _place(self.of_kind("definitions"))
        exec(compile("\n".join(definitions), str(self.path), "exec"), module.__dict__)
        self.module = module
        self.models = [m for m in registry if m not in before]
        self._check_models(labels_before)

        body = self.of_kind("body")
        if body:
            source = _place(body, indent="    ")
            source[0] = "async def __page__():"  # line 1 is never code: the fence is there
            source.append("    pass")
            exec(compile("\n".join(source), str(self.path), "exec"), module.__dict__)
            self.body = module.__dict__.pop("__page__")

    def _check_models(self, labels_before: set[str]) -> None:
        prefix = PREFIXES.get(self.name, f"{self.path.stem}_")
        for model in self.models:
            meta = flash_db.inspect(model)
            assert meta.app_label == "docs", (
                f"{self.name}: {model.__name__} needs Meta.app_label = 'docs'"
            )
            assert meta.label not in labels_before, (
                f"{self.name}: {meta.label} is already defined elsewhere; "
                f"model class names must be unique across the docs"
            )
            assert meta.table_name.startswith(prefix), (
                f"{self.name}: table of {model.__name__} must start with {prefix!r} "
                f"(got {meta.table_name!r}); tables are global, so each page has its own prefix"
            )


_pages: dict[str, Page] = {}


def page(name: str) -> Page:
    """The page, loaded at most once per process (a failure is remembered, not retried)."""
    loaded = _pages.get(name)
    if loaded is None:
        loaded = _pages[name] = Page(name, DOCS / name, parse_blocks(DOCS / name))
        try:
            loaded.load()
        except BaseException as exc:
            loaded.error = exc
    if loaded.error is not None:
        raise loaded.error
    return loaded


async def _run_ddl(models: Sequence[Any], create: bool) -> None:
    """CREATE (or DROP) the tables of ``models`` on the databases they live on."""
    handler = flash_db.connections
    for alias in list(handler.databases):
        tables = [m._meta.table for m in models if handler.allow_migrate(alias, m)]
        if not tables:
            continue
        async with handler[alias].engine.connect() as conn:
            if create:
                await conn.run_sync(metadata.create_all, tables=tables)
            else:
                await conn.run_sync(metadata.drop_all, tables=tables)


# -- the tests ------------------------------------------------------------------------------


def test_pages_have_tested_examples() -> None:
    assert set(PAGES) >= {"index.md", "models.md", "querying.md", "connections.md", "errors.md"}
    for name in set(PAGES) - GENERATED:
        blocks = parse_blocks(DOCS / name)
        tested = [b for b in blocks if b.kind != "skip"]
        assert tested, f"{name} has no tested python example"


@pytest.mark.parametrize("name", sorted(set(PAGES) - GENERATED))
async def test_examples(name: str, backend: str) -> None:
    """The page's body, top to bottom, on one backend, against freshly created tables."""
    doc = page(name)
    if doc.body is None:
        pytest.skip(f"{name} has no body examples")
    await _run_ddl(doc.models, create=False)
    await _run_ddl(doc.models, create=True)
    try:
        await doc.body()
    finally:
        await _run_ddl(doc.models, create=False)


def _standalone_cases() -> list[Any]:
    cases = []
    for name in PAGES:
        for block in parse_blocks(DOCS / name):
            if block.kind == "standalone":
                cases.append(pytest.param(name, block, id=f"{name}:{block.first_line}"))
    return cases


@pytest.mark.parametrize(("name", "block"), _standalone_cases())
def test_standalone_programs(name: str, block: Block, tmp_path: Path) -> None:
    """A complete program from the docs, in a subprocess and an empty directory."""
    script = tmp_path / f"{Path(name).stem}_line{block.first_line}.py"
    script.write_text("\n".join(_place([block])), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASH_DB_")}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{name}, the program starting at line {block.first_line} failed:\n{result.stderr}"
    )
