"""An asyncio event loop on a background thread, for tests that drive async parts (controllers,
clients) from synchronous test code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from vcluster.client import Client


class LoopThread:
    """Subclasses implement `_start()` / `_stop()` and may set `self.client`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client: Client | None = None

    async def _start(self) -> None: ...

    async def _stop(self) -> None: ...

    def start(self) -> Any:
        self.thread.start()
        self.run(self._start())
        return self

    def stop(self) -> None:
        try:
            self.run(self._stop(), timeout=20)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def run(self, coro: Awaitable[Any], timeout: float = 30) -> Any:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise

    def api(self, fn: Callable[[Client], Awaitable[Any]], timeout: float = 30) -> Any:
        assert self.client is not None
        return self.run(fn(self.client), timeout)
