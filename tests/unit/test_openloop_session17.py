"""bench/openloop.py: requests issued on schedule, latency counted from the scheduled time (no
coordinated omission), errors counted by code, /proc usage measured."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path += [str(BENCH), str(BENCH / "syncer")]  # appended: nothing installed is shadowed

from openloop import LatencyStats, run_open_loop, sampled  # noqa: E402
from vcluster.client import ApiError  # noqa: E402


def test_requests_are_sent_on_schedule_without_waiting_for_earlier_ones() -> None:
    async def slow(i: int) -> None:
        await asyncio.sleep(0.3)

    ops = asyncio.run(run_open_loop(10, 100.0, slow))
    sends = [op.sent - ops[0].scheduled for op in ops]
    assert sends[-1] < 0.25  # all ten sent within ~0.09 s, not one per 0.3 s
    assert all(op.sent >= op.scheduled - 0.002 for op in ops)  # none sent early
    stats = LatencyStats.of(ops, 100.0)
    assert stats.errors == 0
    assert 290 <= stats.p50 < 450


def test_latency_is_measured_from_the_scheduled_time() -> None:
    """A server that serves one request at a time (50 ms each) under 100/s: the queue grows, and
    the latency of the last request includes its wait in that queue, not just its 50 ms."""
    lock = asyncio.Lock()

    async def serial(i: int) -> None:
        async with lock:
            await asyncio.sleep(0.05)

    ops = asyncio.run(run_open_loop(6, 100.0, serial))
    stats = LatencyStats.of(ops, 100.0)
    # request k finishes at about (k+1) * 50 ms but was due at k * 10 ms: latency ~ 50 + 40k ms
    assert stats.max >= 240
    assert stats.p50 >= 100
    assert stats.achieved_rate < 25  # 6 in ~0.3 s, far below the offered 100/s
    assert stats.offered_rate == 100.0


def test_a_late_sender_shows_as_latency_not_as_a_lower_rate() -> None:
    """Requests that block the client's loop (50 ms each) delay the sending of the next ones: the
    delay counts in their latency (from the schedule), and the send lag reports it."""

    async def blocking(i: int) -> None:
        time.sleep(0.05)  # blocking on purpose: the loop cannot send on time

    ops = asyncio.run(run_open_loop(6, 100.0, blocking))
    stats = LatencyStats.of(ops, 100.0)
    service = max(op.done - op.sent for op in ops) * 1000
    assert service < 120  # each request itself took ~50 ms...
    assert stats.max >= 230  # ...but the last was due 200 ms before it could even be sent
    assert stats.send_lag_p99 >= 180


def test_errors_are_counted_by_code_and_left_out_of_latency() -> None:
    async def fails_odd(i: int) -> None:
        if i % 2:
            raise ApiError(409, "AlreadyExists", "exists")

    ops = asyncio.run(run_open_loop(8, 1000.0, fails_odd))
    stats = LatencyStats.of(ops, 1000.0)
    assert stats.n == 8
    assert stats.errors == 4
    assert stats.error_codes == {"409": 4}


def test_sampled_reads_cpu_and_rss_of_a_process() -> None:
    async def body() -> tuple[float, float]:
        async with sampled({"me": os.getpid()}, interval=0.01) as usage:
            t = time.process_time()
            while time.process_time() - t < 0.3:  # burn 0.3 s of CPU
                pass
            await asyncio.sleep(0.02)
        return usage["me"].cpu_s, usage["me"].rss_max_mb

    cpu, rss = asyncio.run(body())
    assert cpu >= 0.25
    assert rss > 10
