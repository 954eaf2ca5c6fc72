"""Smoke runs of ``benchmarks/`` so that the scripts never rot.

``bench.py --smoke --backend sqlite`` (tiny sizes, one round: a few seconds)
must finish and print a row for every test, with a figure for every
implementation that ran; Tortoise ORM either runs or is reported as skipped
(CI installs ``.[dev]`` only). A second run hides ``tortoise`` to check that
skipping path on machines where the ``bench`` extra is installed.
``micro.py --quick`` must print its table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
LABELS = (
    "(1) single-row inserts",
    "(2) inserts in one transaction",
    "(3) bulk insert",
    "(4) filter, all rows as objects",
    "(5) filter, LIMIT 20",
    "(6) get by pk",
    "(7) values() dicts",
    "(8) values_list() tuples",
    "(9) update whole object",
    "(10) partial update",
    "(11) delete",
    "(12) select_related (FK)",
    "(13) prefetch_related (reverse FK)",
)
ALWAYS = ("raw aiosqlite", "SQLAlchemy Core", "flash_db", "SQLAlchemy ORM")
#: runs bench.py as __main__ with ``tortoise`` unimportable
HIDE_TORTOISE = (
    "import runpy, sys; sys.modules['tortoise'] = None; sys.path.insert(0, {bench!r}); "
    "sys.argv = ['bench.py', *sys.argv[1:]]; runpy.run_path({script!r}, run_name='__main__')"
)


def run(*args: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def check_table(out: str) -> list[str]:
    """The implementations of the table; asserts a full row of figures per test."""
    header = next(line for line in out.splitlines() if line.startswith("| test |"))
    names = re.findall(r"\| ([^|]+?) rows/s", header)
    assert set(ALWAYS) <= set(names), header
    width = header.count("|") - 1
    for label in LABELS:
        line = next((ln for ln in out.splitlines() if ln.startswith(f"| {label} |")), None)
        assert line is not None, f"{label} missing from\n{out}"
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == width, line
        figures = cells[1 : 1 + len(names)]
        assert all(re.fullmatch(r"[\d,]+", f) for f in figures), line
        assert all(re.fullmatch(r"[\d.]+( / [\d.]+)?", c) for c in cells[1 + len(names) :]), line
    assert "| **geometric mean** |" in out
    return names


@pytest.mark.parametrize("hide_tortoise", [False, True], ids=["as-installed", "no-tortoise"])
def test_bench_smoke_sqlite(hide_tortoise: bool) -> None:
    args = ["--smoke", "--backend", "sqlite"]
    if hide_tortoise:
        code = HIDE_TORTOISE.format(bench=str(BENCH), script=str(BENCH / "bench.py"))
        out = run("-c", code, *args)
    else:
        out = run(str(BENCH / "bench.py"), *args)
    names = check_table(out)
    if "Tortoise ORM" not in names:
        assert "Tortoise ORM: skipped: tortoise not installed" in out
    if hide_tortoise:
        assert "Tortoise ORM" not in names


def test_micro_quick() -> None:
    out = run(str(BENCH / "micro.py"), "--quick")
    assert "| build select |" in out
    assert "| hydrate 10,000 rows: instances vs dicts |" in out
