"""The write side shared by the durable logs (SQLite, PostgreSQL): one writer thread that takes
the rows submitted on the event loop, groups whatever is queued into one transaction (group
commit), runs jobs (compaction, reads that must follow the writes) in order with the rows, and
hands every outcome back to the loop.

A backend subclass writes a batch (`_write_batch`) and runs a job (`_run_job`); the thread calls
`_writer_begin`/`_writer_end` around its life for the backend's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

Deliver = Callable[[list[tuple[Any, BaseException | None]]], None]

MAX_BATCH = 2000  # submitted writes per transaction


class WriterThread:
    """Group commit on one thread; outcomes delivered on the loop as [(token, error)]."""

    thread_name = "kine-writer"

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Any, ...]] = []  # submitted on the loop, not yet handed over
        self._deliver: Deliver | None = None
        self._closed = False
        # Writes accepted against a state that a failed transaction voided carry an epoch <= this
        # and are rejected unwritten; the store moves to a new epoch once it has seen the failure.
        self._dead_epoch = -1
        # Why the backend cannot be reached right now (set by the writer thread while it reconnects,
        # cleared once it answers again), so that the storage health checks fail meanwhile.
        self.down: str | None = None
        self.commits = 0
        self.rows_written = 0

    # ------------------------------------------------------------------ backend hooks
    def _writer_begin(self) -> None:
        """On the writer thread, before the first item (open the writer connection)."""

    def _writer_end(self) -> None:
        """On the writer thread, after the last item (close the writer connection)."""

    def _write_batch(self, batch: list[Any]) -> None:
        """Write the ("rows", rows, token, epoch) items of `batch` in one transaction and `_post`
        every token's outcome."""
        raise NotImplementedError

    def _run_job(self, item: Any) -> None:
        """Run a ("job", fn, token) item and `_post` ((token, result), error)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ loop side
    def start(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        """Start the writer; `deliver` runs on the loop with [(token, error)] after each commit."""
        self._loop = loop
        self._deliver = deliver
        self._writer = threading.Thread(target=self._write_loop, name=self.thread_name, daemon=True)
        self._writer.start()

    def submit(self, rows: list[Any], token: Any, epoch: int = 0) -> None:
        """Queue rows to be written in one transaction with whatever else is queued.

        Called on the event loop: the writes of one loop iteration are handed to the writer
        thread together (one queue put and one thread wake-up, not one per write)."""
        item = ("rows", rows, token, epoch)
        if self._loop is None:
            self._queue.put(item)
            return
        self._pending.append(item)
        if len(self._pending) == 1:
            self._loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        if self._pending:
            items, self._pending = self._pending, []
            self._queue.put(("many", items))

    def submit_job(self, fn: Callable[[Any], Any], token: Any) -> None:
        """Run `fn(conn)` on the writer connection, in order with the row writes."""
        self._hand_over()
        self._queue.put(("job", fn, token))

    def _stop_writer(self) -> bool:
        """Write what is queued and stop the thread; False if already closed."""
        if self._closed:
            return False
        self._closed = True
        self._hand_over()
        self._queue.put(None)
        if self._writer is not None:
            self._writer.join(timeout=30)
        return True

    # ------------------------------------------------------------------ writer thread
    def _write_loop(self) -> None:
        self._writer_begin()
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if item[0] == "job":
                    self._run_job(item)
                    continue
                batch, pending_job, stop = self._collect(list(item[1]) if item[0] == "many" else [item])
                self._write_batch(batch)
                if pending_job is not None:
                    self._run_job(pending_job)
                if stop:
                    return
        finally:
            self._writer_end()

    def _collect(self, batch: list[Any]) -> tuple[list[Any], Any, bool]:
        """Add what else is queued to `batch`, up to a job or the end: (batch, job, stop)."""
        while len(batch) < MAX_BATCH:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, None, True
            if nxt[0] == "job":
                return batch, nxt, False
            if nxt[0] == "many":
                batch.extend(nxt[1])
            else:
                batch.append(nxt)
        return batch, None, False

    def _live(self, batch: list[Any]) -> list[Any]:
        """The items of `batch` not voided by an earlier failed transaction (the others are
        answered with an error here, unwritten)."""
        void = [item for item in batch if item[3] <= self._dead_epoch]
        if not void:
            return batch
        self._post([(token, RuntimeError("an earlier write failed")) for _, _, token, _ in void])
        return [item for item in batch if item[3] > self._dead_epoch]

    def _failed(self, batch: list[Any]) -> None:
        """The whole batch failed: nothing of it is durable, and writes accepted after it are void."""
        self._dead_epoch = max(item[3] for item in batch)

    def _committed(self, batch: list[Any]) -> None:
        self.commits += 1
        self.rows_written += sum(len(item[1]) for item in batch)

    def _post(self, results: list[tuple[Any, BaseException | None]]) -> None:
        if self._loop is None or self._deliver is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(self._deliver, results)
