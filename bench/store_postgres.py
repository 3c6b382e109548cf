"""Create throughput and latency of the store on SQLite vs PostgreSQL vs etcd (loopback TCP), same run.

LogStore.create of ~1 KiB ConfigMaps, N per round, at concurrency C (1: each create waits for its
own commit; higher: group commit batches them). Latency is per create (accept -> committed and
visible); throughput is N / wall time. PostgreSQL is a private server started for the run
(tests/pgserver.py) with its durable defaults (fsync on, synchronous_commit on): every commit is
flushed, where SQLite in WAL mode with synchronous=NORMAL (our default) does not flush per commit.
`--pg-async` adds a PostgreSQL run with synchronous_commit=off, the closer match to that.
The etcd row is `EtcdStore` on a private etcd (tests/etcdserver.py, fsync on, its default): one
transaction per create through the JSON gateway (etcd batches concurrent ones in its raft log),
each returning once the watch-fed cache holds it. `--no-etcd` leaves it out.

Usage:  .venv/bin/python bench/store_postgres.py [--n 2000] [--concurrency 1,16,128] [--pg-async]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.etcdserver import EtcdServer
from tests.pgserver import PgServer, pg_bin_dir

from vcluster.store.etcdclient import EtcdEndpoint
from vcluster.store.etcdstore import EtcdStore
from vcluster.store.interface import Storage
from vcluster.store.logstore import LogStore
from vcluster.store.postgres import PostgresLog


def configmap(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:06d}", "namespace": "bench", "labels": {"app": "bench"}},
        "data": {"payload": "x" * 900},
    }


async def run_creates(store: Storage, n: int, concurrency: int, tag: str) -> tuple[float, list[float]]:
    """n creates with `concurrency` in flight; (wall seconds, per-create latencies)."""
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            t0 = time.perf_counter()
            await store.create(f"/registry/configmaps/bench/{tag}-{i:06d}", configmap(i))
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t0, latencies


def pct(values: list[float], p: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]
    )


async def bench(name: str, make: Callable[[], Storage], n: int, levels: list[int]) -> None:
    store = make()
    await store.start()  # type: ignore[attr-defined]
    try:
        await run_creates(store, min(n, 200), 8, f"warm-{name}")  # connections, caches, prepared statements
        for c in levels:
            wall, lat = await run_creates(store, n, c, f"{name}-c{c}")
            print(
                f"{name:<22} c={c:<4} {n / wall:>8.0f} creates/s   p50 {pct(lat, 50) * 1e3:7.2f} ms   "
                f"p99 {pct(lat, 99) * 1e3:7.2f} ms   commits {_commits(store)}",
                flush=True,
            )
    finally:
        await store.close()


def _commits(store: Storage) -> object:
    log = getattr(store, "log", None)
    return log.commits if log is not None else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", default="1,16,128")
    ap.add_argument("--pg-async", action="store_true", help="also PostgreSQL with synchronous_commit=off")
    ap.add_argument("--no-etcd", action="store_true", help="leave out the etcd row")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (scripts/bootstrap.sh installs it as root)")
    pg = PgServer(bin_dir, {"fsync": "on", "full_page_writes": "on"}).init().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
            uvloop.run(
                bench("sqlite", lambda: LogStore(Path(tmp) / "state.db", compact_interval=0), args.n, levels)
            )
        dsn = pg.dsn(pg.create_database("bench"))
        uvloop.run(
            bench("postgres", lambda: LogStore(log=PostgresLog(dsn), compact_interval=0), args.n, levels)
        )
        if args.pg_async:
            pg.sql("ALTER SYSTEM SET synchronous_commit = off")
            pg.sql("SELECT pg_reload_conf()")
            dsn2 = pg.dsn(pg.create_database("bench_async"))
            name = "postgres sync_commit=off"
            uvloop.run(
                bench(name, lambda: LogStore(log=PostgresLog(dsn2), compact_interval=0), args.n, levels)
            )
    finally:
        pg.destroy()
    if not args.no_etcd:
        etcd = EtcdServer(fsync=True).start()
        try:
            url = etcd.url
            uvloop.run(
                bench("etcd", lambda: EtcdStore(EtcdEndpoint(url), compact_interval=0), args.n, levels)
            )
        finally:
            etcd.destroy()


if __name__ == "__main__":
    main()
