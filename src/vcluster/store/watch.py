"""Watch fan-out: per-watcher buffers fed from committed events, with history replay."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from vcluster.store.interface import CompactedError, Event, WatchStream

# A watcher that falls this many events behind is closed, as kube-apiserver drops slow watchers;
# the client re-watches from its last revision.
MAX_BACKLOG = 50_000


class Watcher(WatchStream):
    """Buffered events for one watch. Live events arriving during the history replay are held
    back and de-duplicated by revision."""

    def __init__(self, hub: WatchHub, prefix: str, since_rev: int) -> None:
        self._hub = hub
        self.prefix = prefix
        self._buf: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._overflow = False
        self._last_rev = since_rev  # newest revision handed out (or known complete)
        self._replaying = True
        self._sink: Callable[[Event], bool] | None = None
        self._flush: Callable[[], bool] | None = None
        self._dirty = False  # the sink holds events of the batch being published

    def set_sink(self, sink: Callable[[Event], bool], flush: Callable[[], bool] | None = None) -> bool:
        """Deliver events by calling `sink(event)` right in the publishing loop instead of waking the
        consumer (fan-out to many watchers then costs no task switches). The buffered events go
        first. `sink` returns False when its client cannot keep up; the watch then ends. With
        `flush`, the sink may hold a batch's events: `flush()` is called once after each published
        batch that reached the sink (one write to the client per batch), False ending the watch."""
        if self._replaying:
            raise RuntimeError("set_sink before the replay finished")
        while self._buf:
            ev = self._buf.popleft()
            self._last_rev = ev.rev
            if not sink(ev):
                self._overflow = True
                self.close()
                return True
        self._sink, self._flush = sink, flush
        self.flush_sink()
        return True

    def flush_sink(self) -> None:
        """Hand the sink's held events to its client (after a published batch)."""
        self._dirty = False
        if self._flush is not None and not self._closed and not self._flush():
            self._overflow = True
            self.close()

    # ---- producer side (event loop, from the hub)
    def push(self, ev: Event) -> None:
        if self._closed:
            return
        if self._sink is not None:
            self._last_rev = ev.rev
            if not self._sink(ev):
                self._overflow = True
                self.close()
            elif self._flush is not None and not self._dirty:
                self._dirty = True
                self._hub.to_flush.append(self)
            return
        if len(self._buf) >= MAX_BACKLOG and not self._replaying:
            self._overflow = True
            self.close()
            return
        self._buf.append(ev)
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def finish_replay(self, replayed: list[Event], upto: int) -> None:
        """Put replayed history first, then the live events newer than it."""
        live = [e for e in self._buf if e.rev > upto]
        self._buf.clear()
        self._buf.extend(e for e in replayed if e.rev > self._last_rev)
        self._buf.extend(live)
        self._replaying = False
        if upto > self._last_rev and not self._buf:
            self._last_rev = upto
        self._wake()

    # ---- consumer side
    @property
    def last_revision(self) -> int:
        if not self._buf and not self._replaying:
            return max(self._last_rev, self._hub.revision())
        return self._last_rev

    async def next(self, timeout: float | None) -> Event | None:
        while True:
            if self._buf and not self._replaying:
                ev = self._buf.popleft()
                self._last_rev = ev.rev
                return ev
            if self._overflow:
                raise CompactedError(self._last_rev + 1, self._hub.revision())
            if self._closed:
                raise StopAsyncIteration
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                if timeout is None:
                    await self._waiter
                else:
                    try:
                        await asyncio.wait_for(asyncio.shield(self._waiter), timeout)
                    except TimeoutError:
                        return None
            finally:
                self._waiter = None

    def pending(self) -> int:
        return len(self._buf)

    def drain_ready(self) -> list[Event]:
        """Every buffered event at once (for batching writes to the client)."""
        if self._replaying or not self._buf:
            return []
        out = list(self._buf)
        self._buf.clear()
        self._last_rev = out[-1].rev
        return out

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while True:
            try:
                ev = await self.next(None)
            except StopAsyncIteration:
                return
            if ev is not None:
                yield ev

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub.remove(self)
            self._wake()


class WatchHub:
    """Routes committed events to the watchers whose prefix covers the key."""

    def __init__(self, revision: Callable[[], int]) -> None:
        self.revision = revision
        self._by_prefix: dict[str, set[Watcher]] = {}
        self.count = 0
        self.to_flush: list[Watcher] = []  # watchers whose sinks hold events of this batch

    def add(self, w: Watcher) -> None:
        self._by_prefix.setdefault(w.prefix, set()).add(w)
        self.count += 1

    def remove(self, w: Watcher) -> None:
        s = self._by_prefix.get(w.prefix)
        if s is not None and w in s:
            s.discard(w)
            self.count -= 1
            if not s:
                del self._by_prefix[w.prefix]

    def close_all(self) -> None:
        for ws in list(self._by_prefix.values()):
            for w in list(ws):
                w.close()

    def publish(self, events: list[Event]) -> None:
        if not self._by_prefix:
            return
        by_prefix = self._by_prefix
        for ev in events:
            key = ev.entry.key
            # Every prefix of the key that ends at a '/' (and the key itself) may have watchers.
            i = key.find("/", 1)
            while i != -1:
                ws = by_prefix.get(key[: i + 1])
                if ws:
                    for w in tuple(ws):
                        w.push(ev)
                i = key.find("/", i + 1)
            ws = by_prefix.get(key)
            if ws:
                for w in tuple(ws):
                    w.push(ev)
        if self.to_flush:  # one write per watcher for the whole batch
            ready, self.to_flush = self.to_flush, []
            for w in ready:
                w.flush_sink()

    async def open(
        self,
        prefix: str,
        since_rev: int,
        history: Callable[[int, int], Awaitable[list[Event]]],
    ) -> Watcher:
        """Register a watcher (so no live event is missed), then replay (since_rev, now]."""
        w = Watcher(self, prefix, since_rev)
        self.add(w)
        upto = self.revision()
        try:
            replayed = await history(since_rev, upto) if upto > since_rev else []
        except BaseException:
            w.close()
            raise
        w.finish_replay(replayed, upto)
        return w
