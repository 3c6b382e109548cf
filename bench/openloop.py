"""Open-loop request driving for fixed-rate load (kube-burner's `qps`), its latency statistics, and
/proc sampling of the server processes during a phase.

Requests are issued on a fixed schedule (request i at start + i / rate) whether or not earlier ones
have returned, and each latency is measured from its *scheduled* time: a server (or client) that
falls behind shows up as latency instead of silently lowering the offered rate (no coordinated
omission)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

# bench/syncer/procs.py and watch.py: the caller puts bench/syncer on sys.path
from procs import cpu_seconds, rss_mb
from watch import percentile

from vcluster.client import ApiError


@dataclass
class Op:
    """One scheduled request: when it was due, when it was sent, when it returned, how it ended."""

    index: int
    scheduled: float
    sent: float = 0.0
    done: float = 0.0
    error: str = ""  # "" when it succeeded, else the HTTP code or the exception name


async def run_open_loop(
    n: int, rate: float, fn: Callable[[int], Awaitable[Any]], start: float | None = None
) -> list[Op]:
    """Issue fn(0..n-1) at `rate` per second from `start` (monotonic; default now) without waiting
    for earlier calls; return every Op once all have returned."""
    t0 = time.monotonic() if start is None else start
    ops = [Op(i, t0 + i / rate) for i in range(n)]

    async def one(op: Op) -> None:
        op.sent = time.monotonic()
        try:
            await fn(op.index)
        except ApiError as e:
            op.error = str(e.status or type(e).__name__)  # 0: connection failed or timed out
        except Exception as e:  # a broken request is counted, not fatal to the run
            op.error = type(e).__name__
        op.done = time.monotonic()

    tasks: list[asyncio.Task[None]] = []
    for op in ops:
        delay = op.scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(op)))
    await asyncio.gather(*tasks)
    return ops


@dataclass
class LatencyStats:
    """Latency (ms, from the scheduled time) and rate of one phase's requests."""

    n: int
    errors: int
    p50: float
    p90: float
    p99: float
    max: float
    avg: float
    send_lag_p99: float  # ms between a request's scheduled and actual send: the client's own lag
    offered_rate: float
    achieved_rate: float  # successful requests per second, first scheduled → last returned
    error_codes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, ops: list[Op], rate: float) -> LatencyStats:
        ok = [op for op in ops if not op.error]
        lat = [(op.done - op.scheduled) * 1000 for op in ok] or [0.0]
        lag = [(op.sent - op.scheduled) * 1000 for op in ops] or [0.0]
        span = max(op.done for op in ops) - ops[0].scheduled if ops else 0.0
        codes: dict[str, int] = {}
        for op in ops:
            if op.error:
                codes[op.error] = codes.get(op.error, 0) + 1
        return cls(
            n=len(ops),
            errors=len(ops) - len(ok),
            p50=percentile(lat, 50),
            p90=percentile(lat, 90),
            p99=percentile(lat, 99),
            max=max(lat),
            avg=sum(lat) / len(lat),
            send_lag_p99=percentile(lag, 99),
            offered_rate=rate,
            achieved_rate=len(ok) / span if span > 0 else 0.0,
            error_codes=codes,
        )


def runq_wait_seconds(pid: int) -> float:
    """Seconds the process's main thread (its event loop) has spent runnable but waiting for a CPU,
    from /proc/<pid>/schedstat (0.0 where the kernel does not keep schedstats)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_pressure_seconds() -> float:
    """The machine's total time with some task waiting for a CPU (PSI, /proc/pressure/cpu)."""
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
        return int(some[-1].split("=")[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class ProcUsage:
    """CPU seconds used, main-thread run-queue wait and the highest and last RSS seen for one
    process over a phase."""

    cpu_s: float = 0.0
    rss_max_mb: float = 0.0
    rss_end_mb: float = 0.0
    runq_wait_s: float = 0.0


@contextlib.asynccontextmanager
async def sampled(pids: dict[str, int], interval: float = 0.2) -> AsyncIterator[dict[str, ProcUsage]]:
    """Measure the named processes while the body runs: CPU seconds (difference of /proc readings)
    and RSS sampled every `interval` seconds; the dict is filled in when the body ends."""
    usage = {name: ProcUsage() for name in pids}
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wait0 = {name: runq_wait_seconds(pid) for name, pid in pids.items()}

    async def sample() -> None:
        while True:
            for name, pid in pids.items():
                usage[name].rss_max_mb = max(usage[name].rss_max_mb, rss_mb(pid))
            await asyncio.sleep(interval)

    task = asyncio.create_task(sample())
    try:
        yield usage
    finally:
        task.cancel()
        await asyncio.wait([task])  # unlike awaiting it, lets a cancellation of the caller through
        for name, pid in pids.items():
            u = usage[name]
            u.cpu_s = cpu_seconds(pid) - cpu0[name]
            u.runq_wait_s = runq_wait_seconds(pid) - wait0[name]
            u.rss_end_mb = rss_mb(pid)
            u.rss_max_mb = max(u.rss_max_mb, u.rss_end_mb)
