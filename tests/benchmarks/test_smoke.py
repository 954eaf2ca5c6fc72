"""Smoke runs of ``benchmarks/`` so that the scripts never rot.

``bench.py --smoke --backend sqlite`` (tiny sizes, one round: a few seconds)
must finish and print a row for every test, with a figure for every
implementation that ran; Tortoise ORM either runs or is reported as skipped
(CI installs the ``bench`` extra too). A second run hides ``tortoise`` to check that
skipping path on machines where the ``bench`` extra is installed.
``micro.py --quick`` must print its table. On PostgreSQL and MariaDB, a smoke run
pointed at a database the server lacks creates it (and the test drops it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

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
    assert "| shaped: build + statement and parameters vs build + _generate_cache_key() |" in out


#: drops a database, in a subprocess as bench.py runs (the test itself stays sync)
_DROP = (
    "import asyncio\n"
    "from sqlalchemy.ext.asyncio import create_async_engine\n"
    "async def main():\n"
    "    engine = create_async_engine({url!r}, isolation_level='AUTOCOMMIT')\n"
    "    async with engine.connect() as conn:\n"
    "        await conn.exec_driver_sql({sql!r})\n"
    "    await engine.dispose()\n"
    "asyncio.run(main())\n"
)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_bench_creates_its_database(kind: str) -> None:
    """``bench.py`` creates the database its URL names when the server lacks it."""
    variable = {"postgresql": "FLASH_DB_TEST_POSTGRES", "mysql": "FLASH_DB_TEST_MYSQL"}[kind]
    server = os.environ.get(variable)
    if not server:
        pytest.skip(f"{variable} is not set")
    name = f"flash_db_bench_{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(server).set(database=name)
    option = "--url" if kind == "postgresql" else "--mysql-url"
    quoted = f'"{name}"' if kind == "postgresql" else f"`{name}`"
    admin = url.set(database="postgres" if kind == "postgresql" else "")
    try:
        out = run(
            str(BENCH / "bench.py"),
            "--smoke",
            "--backend",
            kind,
            "--impl",
            "flash_db",
            option,
            url.render_as_string(hide_password=False),
        )
        assert "| (6) get by pk |" in out
    finally:
        run(
            "-c",
            _DROP.format(
                url=admin.render_as_string(hide_password=False),
                sql=f"DROP DATABASE IF EXISTS {quoted}",
            ),
        )


def test_bench_runs_every_backend_in_one_process() -> None:
    """One ``bench.py`` run over SQLite, PostgreSQL and MariaDB, Tortoise ORM included.

    Tortoise caches each model's INSERT per process without the dialect: the peer
    clears that cache, or MariaDB is sent PostgreSQL's placeholders after PostgreSQL.
    """
    pytest.importorskip("tortoise")
    servers = {
        "postgresql": os.environ.get("FLASH_DB_TEST_POSTGRES"),
        "mysql": os.environ.get("FLASH_DB_TEST_MYSQL"),
    }
    if not all(servers.values()):
        pytest.skip("FLASH_DB_TEST_POSTGRES and FLASH_DB_TEST_MYSQL must both be set")
    urls = {k: sa.engine.make_url(v).set(database="bench") for k, v in servers.items()}
    out = run(
        str(BENCH / "bench.py"),
        "--smoke",
        "--backend",
        "postgresql",
        "--backend",
        "sqlite",
        "--backend",
        "mysql",
        "--impl",
        "flash_db",
        "--impl",
        "tortoise",
        "--url",
        urls["postgresql"].render_as_string(hide_password=False),
        "--mysql-url",
        urls["mysql"].render_as_string(hide_password=False),
    )
    titles = [line for line in out.splitlines() if line.startswith("### ")]
    assert len(titles) == 3, out
    rows = [line for line in out.splitlines() if line.startswith("| (1) single-row inserts |")]
    assert len(rows) == 3 and all(re.search(r"\| [\d,]+ \| [\d,]+ \|", r) for r in rows), out
