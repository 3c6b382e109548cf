"""Watch fan-out per published batch (store/watch.py): a sink with a flush gets every event of a
batch, then one flush per batch; a flush that fails ends the watch as an overflowing sink does."""

from __future__ import annotations

import asyncio

import pytest

from vcluster.store.interface import ADDED, CompactedError, Entry, Event
from vcluster.store.watch import WatchHub


def event(key: str, rev: int) -> Event:
    return Event(ADDED, Entry(key, rev, rev, b'{"k":"%d"}' % rev, None), None)


def hub_at(rev: list[int]) -> WatchHub:
    return WatchHub(lambda: rev[0])


async def no_history(_since: int, _upto: int) -> list[Event]:
    return []


def test_one_flush_per_batch_and_watcher() -> None:
    async def main() -> None:
        rev = [0]
        hub = hub_at(rev)
        seen: dict[str, list[int]] = {"a": [], "b": []}
        flushes: dict[str, list[int]] = {"a": [], "b": []}
        for name in ("a", "b"):
            w = await hub.open(f"/r/{name}/", 0, no_history)

            def sink(ev: Event, n: str = name) -> bool:
                seen[n].append(ev.rev)
                return True

            def flush(n: str = name) -> bool:
                flushes[n].append(len(seen[n]))
                return True

            w.set_sink(sink, flush)
        assert flushes == {"a": [0], "b": [0]}  # set_sink flushes what it handed over (nothing)
        hub.publish([event("/r/a/1", 1), event("/r/a/2", 2), event("/r/b/1", 3), event("/r/a/3", 4)])
        assert seen == {"a": [1, 2, 4], "b": [3]}
        assert flushes == {"a": [0, 3], "b": [0, 1]}  # once per batch, after all of its events
        hub.publish([event("/r/b/2", 5)])
        assert flushes == {"a": [0, 3], "b": [0, 1, 2]}  # a watcher the batch missed is not flushed

    asyncio.run(main())


def test_buffered_events_go_out_in_one_flush() -> None:
    async def main() -> None:
        rev = [0]
        hub = hub_at(rev)
        w = await hub.open("/r/", 0, no_history)
        hub.publish([event("/r/1", 1), event("/r/2", 2)])  # before the sink: buffered
        got: list[int] = []
        flushed: list[int] = []
        w.set_sink(lambda ev: got.append(ev.rev) is None, lambda: flushed.append(len(got)) is None)
        assert got == [1, 2] and flushed == [2]

    asyncio.run(main())


def test_a_failing_flush_ends_the_watch_as_too_slow() -> None:
    async def main() -> None:
        rev = [0]
        hub = hub_at(rev)
        w = await hub.open("/r/", 0, no_history)
        w.set_sink(lambda ev: True, lambda: rev[0] < 2)
        rev[0] = 1
        hub.publish([event("/r/1", 1)])
        assert hub.count == 1
        rev[0] = 2
        hub.publish([event("/r/2", 2)])
        assert hub.count == 0  # unregistered
        with pytest.raises(CompactedError):
            await w.next(0.1)

    asyncio.run(main())


def test_a_sink_without_flush_is_called_per_event() -> None:
    async def main() -> None:
        rev = [0]
        hub = hub_at(rev)
        w = await hub.open("/r/", 0, no_history)
        got: list[int] = []
        w.set_sink(lambda ev: got.append(ev.rev) is None)
        hub.publish([event("/r/1", 1), event("/r/2", 2)])
        assert got == [1, 2] and hub.to_flush == []

    asyncio.run(main())
