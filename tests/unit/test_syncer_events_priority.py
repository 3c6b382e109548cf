"""Event copies yield to pods (EventController._pods_first): best effort, never starved, and
woken by the pods queue itself (WorkQueue.idle), with no polling."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from vcluster.client import WorkQueue
from vcluster.syncer.engine import events


def _controller(queue: WorkQueue | None) -> events.EventController:
    ec = object.__new__(events.EventController)
    controllers = {} if queue is None else {"pods": SimpleNamespace(queue=queue)}
    ec.engine = SimpleNamespace(controllers=controllers)  # type: ignore[assignment]
    return ec


def test_workqueue_idle_follows_the_ready_keys() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        assert q.idle.is_set()
        q.add("a")
        q.add("b")
        assert not q.idle.is_set()
        assert await q.get() == "a" and not q.idle.is_set()
        q.add("a")  # re-added while processing: queued again at done()
        assert await q.get() == "b" and q.idle.is_set()
        q.done("a")
        assert not q.idle.is_set() and q.depth == 1
        assert await q.get() == "a" and q.idle.is_set()
        q.add("c")
        q.shutdown()
        assert q.idle.is_set()

    asyncio.run(main())


def test_event_copies_wait_for_the_pods_queue_but_never_long(monkeypatch: object) -> None:
    async def main() -> None:
        monkeypatch.setattr(events, "EVENTS_YIELD_SECONDS", 0.3)  # type: ignore[attr-defined]
        pods = WorkQueue("pods")
        for i in range(5):
            pods.add(f"p{i}")
        busy = _controller(pods)
        t0 = time.monotonic()
        await busy._pods_first()  # pods keep waiting: the copy goes ahead after the cap
        waited = time.monotonic() - t0
        assert 0.25 <= waited < 1.0, waited
        # the pods queue drains: waiting copies go at once
        task = asyncio.create_task(busy._pods_first())
        await asyncio.sleep(0.05)
        assert not task.done()
        for _ in range(5):
            await pods.get()
        await asyncio.wait_for(task, 0.1)
        for ec in (_controller(WorkQueue("empty")), _controller(None)):  # idle, or pods not synced
            t0 = time.monotonic()
            await ec._pods_first()
            assert time.monotonic() - t0 < 0.01

    asyncio.run(main())
