"""cancel_and_wait: every task cancelled and ended; failures logged; the caller's cancel propagates."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vcluster.tasks import cancel_and_wait


async def _forever() -> None:
    await asyncio.Event().wait()


async def _fail() -> None:
    raise ValueError("broken")


async def _slow_cleanup(done: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0.01)  # a task that needs time to end after its cancel
        done.append("cleaned")


def test_all_tasks_end_and_a_failed_one_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[asyncio.Task[None]]:
        done: list[str] = []
        tasks = [
            asyncio.create_task(_forever()),
            asyncio.create_task(_fail(), name="the-broken-one"),
            asyncio.create_task(_slow_cleanup(done)),
        ]
        await asyncio.sleep(0)
        await cancel_and_wait(tasks, "loop")
        assert done == ["cleaned"]
        return tasks

    tasks = asyncio.run(main())
    assert all(t.done() for t in tasks)
    assert tasks[0].cancelled() and tasks[2].cancelled()
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert failed == ["loop the-broken-one had failed: ValueError('broken')"]


def test_the_callers_own_cancellation_propagates() -> None:
    async def main() -> bool:
        inner = asyncio.create_task(_forever())
        stopper = asyncio.create_task(cancel_and_wait([inner, asyncio.create_task(_slow_cleanup([]))]))
        await asyncio.sleep(0)
        stopper.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stopper
        return inner.cancelled()

    assert asyncio.run(main())
