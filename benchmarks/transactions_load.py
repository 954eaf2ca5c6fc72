"""Load test: many concurrent small transactions against a small connection pool.

Each task opens ``atomic()``, inserts one row and registers an ``on_commit``
callback. Prints throughput (transactions/s) and p50/p99 latency per
transaction (including the wait for a pooled connection).

    python benchmarks/transactions_load.py                       # 1,000 tasks, pool of 10
    python benchmarks/transactions_load.py -n 5000 --pool-size 20 --url postgresql+asyncpg://...

The script creates its own table (``bench_tx_load``) and drops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time

import flash_db
from flash_db import Model, atomic, fields, on_commit

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


class BenchTxLoad(Model):
    name = fields.CharField(max_length=50)
    task = fields.IntegerField()

    class Meta:
        app_label = "bench"
        table = "bench_tx_load"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


async def run(url: str, n: int, pool_size: int, timeout: float) -> dict[str, float]:
    await flash_db.connect(url, pool_size=pool_size, max_overflow=0)
    try:
        await flash_db.drop_all()
        await flash_db.create_all()
        latencies: list[float] = []
        committed: list[int] = []

        async def one(i: int) -> None:
            start = time.perf_counter()
            async with atomic():
                await BenchTxLoad.objects.create(name=f"row-{i}", task=i)
                on_commit(lambda: committed.append(i))
            latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout)
        elapsed = time.perf_counter() - began

        rows = await BenchTxLoad.objects.count()
        pool = flash_db.connections["default"].engine.pool
        assert rows == n, f"{rows} rows, expected {n}"
        assert len(committed) == n, f"{len(committed)} on_commit callbacks, expected {n}"
        assert pool.checkedout() == 0, f"{pool.checkedout()} connections still checked out"  # type: ignore[attr-defined]
        return {
            "elapsed": elapsed,
            "throughput": n / elapsed,
            "p50": percentile(latencies, 0.50) * 1000,
            "p99": percentile(latencies, 0.99) * 1000,
            "mean": statistics.fmean(latencies) * 1000,
        }
    finally:
        try:
            await flash_db.drop_all()
        finally:
            await flash_db.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--tasks", type=int, default=1000, help="concurrent transactions")
    parser.add_argument("--pool-size", type=int, default=10, help="connection pool size")
    parser.add_argument(
        "--url", default=os.environ.get("FLASH_DB_BENCH_URL", DEFAULT_URL), help="database URL"
    )
    parser.add_argument("--timeout", type=float, default=120, help="give up after (seconds)")
    args = parser.parse_args()
    result = asyncio.run(run(args.url, args.tasks, args.pool_size, args.timeout))
    print(
        f"{args.tasks} transactions, pool {args.pool_size}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"elapsed      {result['elapsed']:.2f} s")
    print(f"throughput   {result['throughput']:.0f} transactions/s")
    print(f"latency p50  {result['p50']:.1f} ms")
    print(f"latency p99  {result['p99']:.1f} ms")
    print(f"latency mean {result['mean']:.1f} ms")


if __name__ == "__main__":
    main()
