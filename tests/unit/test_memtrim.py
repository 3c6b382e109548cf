"""The heap trim after large responses: scheduled once, only for large buffers, and it runs."""

from __future__ import annotations

import asyncio

import pytest

from vcluster import memtrim


@pytest.mark.skipif(memtrim._load() is None, reason="needs glibc's malloc_trim")
def test_trim_scheduled_once_for_large_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memtrim, "_DELAY", 0.05)
    real = memtrim._trim

    def counting_trim() -> None:
        calls.append(1)
        real()

    monkeypatch.setattr(memtrim, "_trim", counting_trim)

    async def main() -> None:
        memtrim.released(1000)  # small: nothing scheduled
        assert memtrim._pending is None
        memtrim.released(memtrim.LARGE)
        first = memtrim._pending
        assert first is not None
        memtrim.released(memtrim.LARGE * 3)  # already pending: not scheduled twice
        assert memtrim._pending is first
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert calls == [1]
    assert memtrim._pending is None


def test_released_without_a_loop_is_harmless() -> None:
    memtrim.released(memtrim.LARGE)  # no running loop: nothing to schedule, no error
    assert memtrim._pending is None
