"""Event copies yield to pods (EventController._pods_first): best effort, never starved."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from vcluster.syncer.engine import events


def _controller(depth: int) -> events.EventController:
    ec = object.__new__(events.EventController)
    pods = SimpleNamespace(queue=SimpleNamespace(depth=depth))
    ec.engine = SimpleNamespace(controllers={"pods": pods})  # type: ignore[assignment]
    ec._pods_idle = asyncio.Event()
    return ec


def test_event_copies_wait_for_the_pods_queue_but_never_long(monkeypatch: object) -> None:
    async def main() -> None:
        monkeypatch.setattr(events, "EVENTS_YIELD_SECONDS", 0.3)  # type: ignore[attr-defined]
        busy = _controller(depth=5)
        gate = asyncio.create_task(busy._watch_pods_queue())
        t0 = time.monotonic()
        await busy._pods_first()  # pods keep waiting: the copy goes ahead after the cap
        waited = time.monotonic() - t0
        assert 0.25 <= waited < 1.0, waited
        # the pods queue drains: waiting copies go at once
        task = asyncio.create_task(busy._pods_first())
        await asyncio.sleep(0.05)
        assert not task.done()
        busy.engine.controllers["pods"].queue.depth = 0
        await asyncio.wait_for(task, 0.2)
        gate.cancel()
        idle = _controller(depth=0)
        idle._pods_idle.set()
        t0 = time.monotonic()
        await idle._pods_first()
        assert time.monotonic() - t0 < 0.01

    asyncio.run(main())
