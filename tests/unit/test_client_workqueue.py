"""WorkQueue semantics on a real event loop: dedup, per-key serialization, delays, backoff, shutdown."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from vcluster.client import ApiError, WorkQueue


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))  # type: ignore[arg-type]


async def until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.002)


def test_dedup_of_queued_keys() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        for k in ("a", "b", "a", "a", "c", "b"):
            q.add(k)
        assert len(q) == 3 and q.depth == 3
        assert q.adds_total == 6
        seen: list[str] = []

        async def worker(key: str) -> None:
            seen.append(key)
            if len(seen) == 3:
                q.shutdown()

        await q.run(worker, workers=2)
        assert seen == ["a", "b", "c"]
        assert q.processed_total == 3

    run(main())


def test_key_never_processed_concurrently_and_readded_while_processing_runs_again() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        active: set[str] = set()
        calls: list[str] = []
        max_parallel = 0
        release = asyncio.Event()

        async def worker(key: str) -> None:
            nonlocal max_parallel
            assert key not in active, "key processed by two workers at once"
            active.add(key)
            max_parallel = max(max_parallel, len(active))
            calls.append(key)
            if len(calls) == 1:
                await release.wait()
            else:
                await asyncio.sleep(0.01)
            active.discard(key)

        q.add("k")
        task = asyncio.create_task(q.run(worker, workers=4))
        await until(lambda: calls == ["k"])
        # Added twice while being processed: deduplicated, processed once more after the first run.
        q.add("k")
        q.add("k")
        q.add("other")
        await until(lambda: "other" in calls)
        assert calls.count("k") == 1  # still blocked; the re-add waits for it
        release.set()
        await until(lambda: calls.count("k") == 2 and not active)
        await asyncio.sleep(0.05)
        assert calls.count("k") == 2
        assert max_parallel == 2  # "k" and "other" ran side by side, never "k" twice
        q.shutdown()
        await task

    run(main())


def test_workers_bound_concurrency() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        running = 0
        peak = 0
        done: list[int] = []

        async def worker(key: int) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1
            done.append(key)

        for i in range(12):
            q.add(i)
        task = asyncio.create_task(q.run(worker, workers=3))
        await until(lambda: len(done) == 12)
        q.shutdown()
        await task
        assert peak == 3
        assert sorted(done) == list(range(12))

    run(main())


def test_add_after_delays_and_earliest_wins() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue("t")
        got: dict[str, float] = {}
        t0 = loop.time()

        async def worker(key: str) -> None:
            got[key] = loop.time() - t0

        task = asyncio.create_task(q.run(worker, workers=2))
        q.add_after("late-then-early", 2.0)
        q.add_after("late-then-early", 0.05)  # earlier time replaces the pending one
        q.add_after("early-then-late", 0.05)
        q.add_after("early-then-late", 2.0)  # later time is ignored
        q.add_after("now", 0)
        assert q.waiting == 2
        assert "late-then-early" in q
        await until(lambda: len(got) == 3)
        assert got["now"] < 0.04
        assert 0.05 <= got["late-then-early"] < 0.5
        assert 0.05 <= got["early-then-late"] < 0.5
        assert q.waiting == 0
        await asyncio.sleep(0.1)
        assert len(got) == 3
        q.shutdown()
        await task

    run(main())


def test_rate_limited_backoff_doubles_caps_and_forget_resets() -> None:
    q = WorkQueue("t", base_delay=0.01, max_delay=0.05)
    assert [q.backoff(n) for n in range(5)] == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert q.backoff(10_000) == 0.05

    async def main() -> None:
        loop = asyncio.get_running_loop()
        q2 = WorkQueue("t", base_delay=0.05, max_delay=1.0)
        times: list[float] = []

        async def worker(key: str) -> None:
            times.append(loop.time())

        task = asyncio.create_task(q2.run(worker, workers=1))
        t_add = loop.time()
        q2.add_rate_limited("k")
        q2.add_rate_limited("k")  # second failure before it ran: 0.1 s, but the earlier 0.05 s add wins
        assert q2.num_requeues("k") == 2
        await until(lambda: len(times) == 1)
        assert times[0] - t_add >= 0.05
        assert q2.num_requeues("k") == 0  # processed successfully -> forgotten
        t_add = loop.time()
        q2.add_rate_limited("k")  # backoff restarts at base_delay
        assert q2.num_requeues("k") == 1
        await until(lambda: len(times) == 2)
        assert times[1] - t_add >= 0.05
        q2.forget("k")
        assert q2.num_requeues("k") == 0
        assert q2.retries_total == 3
        await asyncio.sleep(0.15)
        assert len(times) == 2  # the superseded 0.1 s add did not fire a second run
        q2.shutdown()
        await task

    run(main())


def test_failures_retry_with_growing_backoff_then_forget_on_success() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        q = WorkQueue("t", base_delay=0.02, max_delay=1.0)
        attempts: list[float] = []
        requeues_seen: list[int] = []

        async def worker(key: str) -> None:
            attempts.append(loop.time())
            requeues_seen.append(q.num_requeues(key))
            if len(attempts) == 1:
                raise ApiError(409, "Conflict", "the object has been modified")
            if len(attempts) < 4:
                raise RuntimeError("boom")

        q.add("k")
        task = asyncio.create_task(q.run(worker, workers=2))
        await until(lambda: len(attempts) == 4)
        await until(lambda: q.num_requeues("k") == 0)
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        assert gaps[0] >= 0.02 and gaps[1] >= 0.04 and gaps[2] >= 0.08
        assert requeues_seen == [0, 1, 2, 3]
        assert q.failures_total == 3 and q.retries_total == 3
        await asyncio.sleep(0.2)
        assert len(attempts) == 4  # success: no more retries
        q.shutdown()
        await task

    run(main())


def test_shutdown_waits_for_in_flight_and_drops_the_rest() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        started = asyncio.Event()
        release = asyncio.Event()
        processed: list[str] = []

        async def worker(key: str) -> None:
            if key == "slow":
                started.set()
                await release.wait()
            processed.append(key)

        q.add("slow")
        task = asyncio.create_task(q.run(worker, workers=1))
        await started.wait()
        q.add("queued")
        q.add_after("delayed", 0.01)
        q.shutdown()
        assert q.shutting_down
        q.add("after")
        await asyncio.sleep(0.05)
        assert not task.done()  # the in-flight key is still running
        release.set()
        await asyncio.wait_for(task, 1)
        assert processed == ["slow"]
        assert len(q) == 0 and q.in_flight == 0 and q.waiting == 0

    run(main())


def test_cancelling_run_cancels_workers() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        cancelled: list[str] = []
        started = asyncio.Event()

        async def worker(key: str) -> None:
            started.set()
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.append(key)
                raise

        q.add("k")
        task = asyncio.create_task(q.run(worker, workers=2))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancelled == ["k"]
        assert q.in_flight == 0
        # The queue still works afterwards.
        seen: list[str] = []

        async def w2(key: str) -> None:
            seen.append(key)
            q.shutdown()

        q.add("k2")
        await q.run(w2, workers=1)
        assert seen == ["k2"]

    run(main())


def test_get_and_done_manual_protocol() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        q.add(("ns", "a"))
        key = await q.get()
        assert key == ("ns", "a") and q.in_flight == 1 and len(q) == 0
        q.add(("ns", "a"))
        assert len(q) == 0  # held back while processing
        q.done(key)
        assert len(q) == 1
        waiter = asyncio.create_task(q.get())
        assert await waiter == ("ns", "a")
        q.done(("ns", "a"))
        waiter = asyncio.create_task(q.get())
        await asyncio.sleep(0.01)
        assert not waiter.done()
        q.shutdown()
        assert await waiter is None

    run(main())
