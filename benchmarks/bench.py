"""Side-by-side benchmark: flash_db against the raw drivers, SQLAlchemy Core and ORM, Tortoise.

One workload (``workload.py``), several implementations (``peers/``), run
interleaved: for each round, for each test, each implementation in turn (the
order rotating from round to round), so that the machine's noise lands on
every implementation alike. Reports the median rows/s per test and each
implementation's ratio to the raw driver (asyncpg on PostgreSQL, aiosqlite on
SQLite, aiomysql on MariaDB/MySQL) and to SQLAlchemy Core, with geometric
means, as one markdown table per backend.

    python benchmarks/bench.py                           # all backends, 3 rounds
    python benchmarks/bench.py --backend sqlite --rounds 5 --scale 0.5
    python benchmarks/bench.py --smoke --backend sqlite  # tiny sizes, 1 round (CI)
    python benchmarks/bench.py --impl flash_db --impl core --output results.md

Every implementation creates and drops its own tables: ``bench_*`` (flash_db,
app label ``bench``), ``sa_bench_*`` (SQLAlchemy Core), ``orm_bench_*``
(SQLAlchemy ORM), ``tt_bench_*`` (Tortoise), ``raw_bench_*`` (raw drivers).
SQLite databases are files in a temporary directory, one per implementation.
Tortoise ORM is optional (``pip install -e .[bench]``): without it the table
says it was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import math
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from importlib import metadata

import sqlalchemy as sa
from peers.flashdb import FlashDB
from peers.raw import RawAiomysql, RawAiosqlite, RawAsyncpg
from peers.sa_core import SQLAlchemyCore
from peers.sa_orm import SQLAlchemyORM
from workload import TESTS, Implementation, Sizes

DEFAULT_URLS = {
    "postgresql": os.environ.get(
        "FLASH_DB_BENCH_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
    ),
    "mysql": os.environ.get(
        "FLASH_DB_BENCH_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/bench"
    ),
}
BACKEND_TITLES = {
    "postgresql": "PostgreSQL",
    "sqlite": "SQLite (aiosqlite, file database)",
    "mysql": "MariaDB/MySQL (aiomysql)",
}
#: --impl keys, in column order: the floor first, then Core, then the ORMs
IMPL_KEYS = ("raw", "core", "flash_db", "orm", "tortoise")
RAW = {"postgresql": RawAsyncpg, "sqlite": RawAiosqlite, "mysql": RawAiomysql}


def _tortoise() -> Callable[[Sizes, str], Implementation] | str:
    """The Tortoise peer's class, or why it is skipped."""
    try:
        from peers.tortoise_peer import TortoiseORM
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("tortoise", "pypika_tortoise"):
            return "skipped: tortoise not installed (pip install -e .[bench])"
        raise
    return TortoiseORM


def implementations(
    backend: str, sizes: Sizes, urls: dict[str, str], tmp: str, keys: tuple[str, ...]
) -> tuple[list[Implementation], list[str]]:
    """The implementations to run on ``backend`` and notes on the ones skipped."""
    impls: list[Implementation] = []
    skipped: list[str] = []
    for key in keys:
        if backend == "sqlite":
            path = os.path.join(tmp, f"{key}.sqlite3")
            url = "sqlite+aiosqlite:///" + path
        else:
            path = url = urls[backend]
        if key == "raw":
            impls.append(RAW[backend](sizes, path))
        elif key == "core":
            impls.append(SQLAlchemyCore(sizes, url))
        elif key == "flash_db":
            impls.append(FlashDB(sizes, url))
        elif key == "orm":
            impls.append(SQLAlchemyORM(sizes, url))
        elif key == "tortoise":
            peer = _tortoise()
            if isinstance(peer, str):
                skipped.append(f"Tortoise ORM: {peer}")
            else:
                impls.append(peer(sizes, url))
    return impls, skipped


async def ensure_database(url: str) -> None:
    """Create the database ``url`` names (PostgreSQL, MariaDB/MySQL) when the server
    does not have it yet, connecting to the server's own database to do so."""
    from sqlalchemy.ext.asyncio import create_async_engine

    target = sa.engine.make_url(url)
    name = target.database
    if not name:
        return
    postgres = target.get_backend_name() == "postgresql"
    admin = target.set(database="postgres" if postgres else "")
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if postgres:
                found = await conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if found.scalar() is None:
                    await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                await conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    finally:
        await engine.dispose()


async def run_backend(
    impls: list[Implementation], rounds: int, label: str
) -> dict[str, dict[str, list[float]]]:
    """rows/s per test per implementation, one entry per round."""
    results: dict[str, dict[str, list[float]]] = {t: {i.name: [] for i in impls} for t, _ in TESTS}
    opened: list[Implementation] = []
    try:
        for impl in impls:
            await impl.open()
            opened.append(impl)
        for rnd in range(rounds):
            order = impls[rnd % len(impls) :] + impls[: rnd % len(impls)]
            for impl in order:
                await impl.reset()
            for test, _label in TESTS:
                for impl in order:
                    # untimed: a full collection now, so that no implementation pays for
                    # the garbage another one left (the collector stays on while timing)
                    gc.collect()
                    began = time.perf_counter()
                    n = await getattr(impl, "test_" + test)()
                    elapsed = time.perf_counter() - began
                    results[test][impl.name].append(n / elapsed)
                if test == "insert_bulk":
                    for impl in order:
                        await impl.seed_children()
            print(f"  {label}: round {rnd + 1}/{rounds} done", file=sys.stderr)
    finally:
        for impl in opened:
            await impl.close()
    return results


def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(x) for x in values))


def render(
    title: str, impls: list[Implementation], results: dict[str, dict[str, list[float]]]
) -> str:
    """One markdown table: rows/s per implementation, then each one's ratios to raw and Core."""
    names = [i.name for i in impls]
    floor = next((i.name for i in impls if i.name.startswith("raw ")), None)
    core = SQLAlchemyCore.name if SQLAlchemyCore.name in names else None
    medians = {t: {n: statistics.median(v) for n, v in per.items()} for t, per in results.items()}
    compared = [n for n in names if n != floor]

    def ratio_cell(values: list[float | None]) -> str:
        return " / ".join("-" if v is None else f"{v:.2f}" for v in values)

    bases = [b for b in (floor, core) if b is not None]
    basis = " / ".join("raw" if b == floor else "Core" for b in bases)
    header = (
        ["test"]
        + [f"{n} rows/s" for n in names]
        + [f"{n} ÷ {basis}" if n != core else "Core ÷ raw" for n in compared]
    )
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |"]
    lines.append("|---|" + "---:|" * (len(header) - 1))
    per_name: dict[str, list[list[float]]] = {n: [[] for _ in bases] for n in compared}
    for test, label in TESTS:
        m = medians[test]
        cells = [f"{m[n]:,.0f}" for n in names]
        for n in compared:
            rs: list[float | None] = []
            for k, b in enumerate(bases):
                if n == core and b == core:
                    continue
                r = m[n] / m[b]
                per_name[n][k].append(r)
                rs.append(r)
            cells.append(ratio_cell(rs))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    geo = []
    for n in compared:
        geo.append("**" + ratio_cell([geomean(v) for v in per_name[n] if v]) + "**")
    lines.append(
        "| **geometric mean** | " + " | ".join("" for _ in names) + " | " + " | ".join(geo) + " |"
    )
    return "\n".join(lines)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu})"


def versions() -> str:
    libs = ("flash_db", "SQLAlchemy", "asyncpg", "aiosqlite", "aiomysql", "tortoise-orm")
    return (
        f"Python {platform.python_version()}; "
        + ", ".join(f"{lib} {_version(lib)}" for lib in libs)
        + f"; SQLite library {sqlite3.sqlite_version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        action="append",
        choices=("postgresql", "sqlite", "mysql", "all"),
        help="repeatable; default: all (postgresql, sqlite, mysql)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="row counts multiplier")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round (CI)")
    parser.add_argument(
        "--impl",
        action="append",
        choices=IMPL_KEYS,
        help="run only these implementations (repeatable; default: all)",
    )
    parser.add_argument("--url", default=DEFAULT_URLS["postgresql"], help="PostgreSQL URL")
    parser.add_argument("--mysql-url", default=DEFAULT_URLS["mysql"], help="MariaDB/MySQL URL")
    parser.add_argument("--output", help="also write the markdown tables to this file")
    args = parser.parse_args()
    # MariaDB answers DROP TABLE IF EXISTS of a missing table with a warning
    warnings.filterwarnings("ignore", message=r".*Unknown table")
    if args.smoke:
        args.scale, args.rounds = 0.01, 1
    sizes = Sizes(args.scale)
    keys = tuple(k for k in IMPL_KEYS if not args.impl or k in args.impl)
    urls = {"postgresql": args.url, "mysql": args.mysql_url}
    chosen = args.backend or ["all"]
    backends = [b for b in ("postgresql", "sqlite", "mysql") if b in chosen or "all" in chosen]
    began = time.perf_counter()
    sections = []
    with tempfile.TemporaryDirectory(prefix="flash_db_bench_") as tmp:
        for backend in backends:
            if backend in urls:
                asyncio.run(ensure_database(urls[backend]))
            impls, skipped = implementations(backend, sizes, urls, tmp, keys)
            results = asyncio.run(run_backend(impls, args.rounds, backend))
            server = next((i.server for i in impls if i.server.strip()), "")
            title = BACKEND_TITLES[backend] + (
                f", server {server.strip()}" if server.strip() else ""
            )
            section = render(title, impls, results)
            if skipped:
                section += "\n\n" + "\n".join(f"- {note}" for note in skipped)
            sections.append(section)
            # each backend's table as soon as it is done: a later backend's failure
            # must not cost the minutes of runs before it
            print(section + "\n", file=sys.stderr, flush=True)
    header = (
        f"Measured {dt.date.today().isoformat()} on {machine()}. {versions()}. "
        f"{args.rounds} interleaved round(s), scale {args.scale:g}, median rows/s "
        f"(higher is better; ratios above 1 mean faster than the basis); "
        f"run took {time.perf_counter() - began:.0f} s."
    )
    text = header + "\n\n" + "\n\n".join(sections) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
