"""Fixtures at scale: ``flash db dumpdata`` / ``loaddata`` of N rows, memory and time.

Builds a temporary project whose model has a few mixed columns, fills its
table with N rows (1,000,000 by default) straight through SQLAlchemy Core,
then runs the real ``flash`` executable: dumpdata to a file, empty the table,
loaddata back. Each command runs in its own process, so its peak resident
memory (``wait4``'s ``ru_maxrss``) is its own; an import-only ``flash
--version`` gives the baseline. Streaming means the peak stays flat as N grows.

    python benchmarks/fixtures_stream.py                       # SQLite, 1,000,000 rows, jsonl
    python benchmarks/fixtures_stream.py -n 200000 --format json
    python benchmarks/fixtures_stream.py --url postgresql+asyncpg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

FLASH = str(Path(sys.executable).with_name("flash"))

MODELS = """
from flash_db import Model, fields


class Row(Model):
    name = fields.CharField(max_length=100)
    amount = fields.DecimalField(max_digits=10, decimal_places=2)
    created = fields.DateTimeField()
    flag = fields.BooleanField(default=False)
    note = fields.TextField(null=True)

    class Meta:
        table = "fixture_bench_row"
"""


def run(args: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one ``flash`` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([FLASH, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(
            f"flash {' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return seconds, usage.ru_maxrss / 1024


async def fill(url: str, n: int, root: Path) -> None:
    """Insert ``n`` rows through the model's own table (its column types convert the values)."""
    sys.path.insert(0, str(root))
    from app.models import Row  # type: ignore[import-not-found]

    import flash_db

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    async with flash_db.connect(url):
        async with flash_db.connections["default"].engine.begin() as conn:
            for start in range(0, n, 10_000):
                rows = [
                    {
                        "id": i + 1,
                        "name": f"row {i}",
                        "amount": Decimal(i % 100_000) / 100,
                        "created": now + dt.timedelta(seconds=i),
                        "flag": i % 2 == 0,
                        "note": None if i % 3 else "x" * 40,
                    }
                    for i in range(start, min(n, start + 10_000))
                ]
                await conn.execute(Row.__table__.insert(), rows)


async def empty(url: str) -> int:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM fixture_bench_row"))
    async with engine.connect() as conn:
        count = (await conn.execute(sa.text("SELECT COUNT(*) FROM fixture_bench_row"))).scalar_one()
    await engine.dispose()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["json", "jsonl", "csv"], default="jsonl")
    parser.add_argument("--url", help="a database to use (default: a new SQLite file)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flash_fixtures_bench_") as folder:
        root = Path(folder)
        url = options.url or f"sqlite+aiosqlite:///{root / 'bench.sqlite3'}"
        (root / "app").mkdir()
        (root / "app" / "__init__.py").write_text("")
        (root / "app" / "models.py").write_text(MODELS)
        (root / "pyproject.toml").write_text(
            f'[tool.flash_db]\nmodels = ["app.models"]\n[tool.flash_db.databases]\ndefault = "{url}"\n'
        )
        run(["db", "makemigrations"], root)
        run(["db", "migrate"], root)
        asyncio.run(fill(url, options.rows, root))
        base_s, base_mb = run(["--version"], root)
        out = f"rows.{options.format}" if options.format != "csv" else "."
        dump_s, dump_mb = run(
            ["db", "dumpdata", "app.Row", "--format", options.format, "-o", out], root
        )
        size = sum(p.stat().st_size for p in root.glob("rows.*")) + sum(
            p.stat().st_size for p in root.glob("*.csv")
        )
        assert asyncio.run(empty(url)) == 0
        fixture = out if options.format != "csv" else "app.Row.csv"
        load_s, load_mb = run(["db", "loaddata", fixture], root)
        run(["db", "migrate", "zero"], root)
    print(
        f"{options.rows:,} rows, {options.format}, {url.split(':')[0]}; fixture {size / 2**20:.0f} MiB"
    )
    print("| step | seconds | rows/s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    print(f"| flash --version (baseline) | {base_s:.1f} | | {base_mb:.0f} |")
    print(f"| dumpdata | {dump_s:.1f} | {options.rows / dump_s:,.0f} | {dump_mb:.0f} |")
    print(f"| loaddata | {load_s:.1f} | {options.rows / load_s:,.0f} | {load_mb:.0f} |")


if __name__ == "__main__":
    main()
