"""A client-go style work queue: dedup, one worker per key at a time, delayed and rate-limited adds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from vcluster.client.errors import ApiError

log = logging.getLogger(__name__)
_SHUTDOWN: Any = object()

Worker = Callable[[Any], Awaitable[None]]


class RetryLater(Exception):
    """An expected condition that a later retry resolves (a pod on a node not seen yet, say):
    requeued with backoff and logged as a warning, without a traceback."""


class WorkQueue:
    """Keys to reconcile, processed by `run()` workers.

    * a key queued several times is processed once (dedup);
    * a key is never processed by two workers at once: added while being processed, it is
      processed again after the current run ends;
    * ``add_after`` schedules an add with ``loop.call_later`` (the earliest pending time wins);
    * ``add_rate_limited`` waits ``base_delay * 2**n`` (capped at ``max_delay``) where n counts the
      key's failures since the last ``forget``;
    * ``shutdown()`` drops queued and delayed keys and makes ``run()`` return once in-flight work
      ended; adds after shutdown are ignored.

    Metrics (plain attributes/properties for exporters): ``adds_total``, ``retries_total``,
    ``processed_total``, ``failures_total``, ``work_seconds_total``, ``depth``, ``in_flight``,
    ``waiting`` (delayed keys) and ``longest_running_seconds``.
    """

    def __init__(self, name: str, *, base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()  # queued, or re-added while processing
        self._processing: dict[Hashable, float] = {}  # key -> start time (monotonic)
        self._failures: dict[Hashable, int] = {}
        self._delayed: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}  # key -> (when, handle)
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutdown = False
        # set while no key is ready (depth 0): lets other work yield to this queue without polling
        self.idle = asyncio.Event()
        self.idle.set()
        self.adds_total = 0
        self.retries_total = 0
        self.processed_total = 0
        self.failures_total = 0
        self.work_seconds_total = 0.0

    # ------------------------------------------------------------------ adding

    def add(self, key: Hashable) -> None:
        """Queue `key` unless it is already queued; if it is being processed, queue it after."""
        if self._shutdown:
            return
        self.adds_total += 1
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self.idle.clear()
        self._wake()

    def add_after(self, key: Hashable, seconds: float) -> None:
        """Add `key` after `seconds` (immediately if <= 0); an earlier pending add for it wins."""
        if self._shutdown:
            return
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + seconds
        pending = self._delayed.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        handle = loop.call_at(when, self._fire, key)
        self._delayed[key] = (when, handle)

    def _fire(self, key: Hashable) -> None:
        self._delayed.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: Hashable) -> None:
        """Add `key` after its per-key exponential backoff (base_delay * 2**failures, capped)."""
        if self._shutdown:
            return
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.retries_total += 1
        self.add_after(key, self.backoff(n))

    def backoff(self, failures: int) -> float:
        """The delay after `failures` previous failures."""
        if failures >= 64:
            return self.max_delay
        return min(self.base_delay * (2**failures), self.max_delay)

    def forget(self, key: Hashable) -> None:
        """Reset the failure count (backoff) of `key`."""
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    # ------------------------------------------------------------------ state

    def __len__(self) -> int:
        return len(self._queue)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._dirty or key in self._delayed

    @property
    def depth(self) -> int:
        """Keys ready to be processed."""
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        return len(self._processing)

    @property
    def waiting(self) -> int:
        """Keys scheduled by add_after/add_rate_limited that are not due yet."""
        return len(self._delayed)

    @property
    def longest_running_seconds(self) -> float:
        if not self._processing:
            return 0.0
        return time.monotonic() - min(self._processing.values())

    @property
    def shutting_down(self) -> bool:
        return self._shutdown

    # ------------------------------------------------------------------ processing

    def _wake(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def get(self) -> Hashable | None:
        """The next key to process (call `done(key)` afterwards), or None once shut down."""
        key = await self._get()
        return None if key is _SHUTDOWN else key

    async def _get(self) -> Hashable:
        while not self._queue and not self._shutdown:
            fut = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake()  # pass the wake-up we consumed on to another getter
                else:
                    fut.cancel()
                raise
        if self._shutdown:
            return _SHUTDOWN
        key = self._queue.popleft()
        if not self._queue:
            self.idle.set()
        self._dirty.discard(key)
        self._processing[key] = time.monotonic()
        return key

    def done(self, key: Hashable) -> None:
        """Mark `key` processed; if it was added meanwhile it is queued again."""
        start = self._processing.pop(key, None)
        if start is not None:
            self.work_seconds_total += time.monotonic() - start
        if key in self._dirty and not self._shutdown:
            self._queue.append(key)
            self.idle.clear()
            self._wake()

    def shutdown(self) -> None:
        """Stop: ignore new adds, drop pending keys; run() returns after in-flight work ends."""
        self._shutdown = True
        for _, handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        self._queue.clear()
        self.idle.set()
        self._dirty.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def run(self, worker: Worker, workers: int = 4) -> None:
        """Process keys with `workers` concurrent tasks until shutdown() (or cancellation).

        A worker exception is logged and the key re-added with add_rate_limited; success forgets
        the key's failures.
        """
        if workers < 1:
            raise ValueError("workers must be >= 1")
        await asyncio.gather(*(self._work(worker) for _ in range(workers)))

    async def _work(self, worker: Worker) -> None:
        while True:
            key = await self._get()
            if key is _SHUTDOWN:
                return
            try:
                await worker(key)
            except asyncio.CancelledError:
                self.done(key)
                raise
            except (ApiError, RetryLater) as e:
                self.failures_total += 1
                log.warning(
                    "%s: error processing %r (retry %d): %s", self.name, key, self.num_requeues(key) + 1, e
                )
                self.done(key)
                self.add_rate_limited(key)
            except Exception:
                self.failures_total += 1
                log.exception(
                    "%s: error processing %r (retry %d)", self.name, key, self.num_requeues(key) + 1
                )
                self.done(key)
                self.add_rate_limited(key)
            else:
                self.forget(key)
                self.done(key)
            finally:
                self.processed_total += 1
