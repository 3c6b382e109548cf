"""The storage engine: a kine-layout log on disk, the live objects in memory.

Writes are validated against the newest accepted state of their key (committed or still queued),
given the next revision, and handed to the log's writer thread, which commits everything queued in
one transaction (group commit). Only when the transaction has committed do readers and watchers
see the change and the caller's write return, in revision order. Reads are served from memory;
history (old snapshots, watch replay older than the in-memory ring) comes from SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sortedcontainers import SortedDict

from vcluster.jsonbytes import lasting_dumps
from vcluster.store.datasource import KineLog
from vcluster.store.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    Entry,
    EntryFilter,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    ListResult,
    RevisionConflictError,
    Storage,
    StoreUnavailableError,
    extract_labels,
    prefix_end,
)
from vcluster.store.sqlite import COMPACT_KEY, LoadedState, Row, SqliteLog
from vcluster.store.watch import Watcher, WatchHub

log = logging.getLogger("vcluster.store")

_MISSING = object()


@dataclass(slots=True)
class _Pending:
    """A write accepted but not yet committed."""

    event: Event
    future: asyncio.Future[Event]


def _stamp(obj: dict[str, Any], rev: int) -> bytes:
    """The stored bytes: Kubernetes objects carry their revision as metadata.resourceVersion;
    other values (the syncer's mappings) are stored as they are."""
    md = obj.get("metadata")
    if isinstance(md, dict):
        md["resourceVersion"] = str(rev)
    elif "kind" in obj or "apiVersion" in obj or md is not None:
        obj["metadata"] = {"resourceVersion": str(rev)}
    # stored values live long: a right-sized copy (measured: 15.9 KiB -> 1.4 KiB per 1 KiB ConfigMap)
    return lasting_dumps(obj)


def _entry_from_row(key: str, mod_rev: int, create_rev: int, value: bytes, lease: int) -> Entry:
    """An Entry from stored bytes, re-stamping resourceVersion when the row was written by
    another program (kine/k3s store objects without it)."""
    obj = orjson.loads(value)
    md = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(md, dict) and md.get("resourceVersion") != str(mod_rev):
        value = _stamp(obj, mod_rev)
    labels = extract_labels(obj) if isinstance(obj, dict) else None
    return Entry(key, mod_rev, create_rev, value, labels, lease)


RING_BYTES = 16 << 20  # object bytes the in-memory event ring may hold


class LogStore(Storage):
    """`Storage` over an append-only kine log with an in-memory live view."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        ring_size: int = 20_000,
        ring_bytes: int = RING_BYTES,
        min_retain: int = 1000,
        compact_interval: float = 300.0,
        fsync: bool = False,
        log: KineLog | None = None,
    ) -> None:
        """The log is `log` if given (e.g. a PostgresLog), else SQLite in the file `path`."""
        if log is None:
            if path is None:
                raise TypeError("LogStore needs a SQLite path or a log")
            log = SqliteLog(path, fsync=fsync)
        self.log: KineLog = log
        self.ring_size = ring_size
        self.ring_bytes = ring_bytes
        self.min_retain = max(1000, min_retain)
        self.compact_interval = compact_interval
        self._live: SortedDict[str, Entry] = SortedDict()
        self._head: dict[str, Entry | None] = {}  # newest accepted (maybe uncommitted) state
        self._head_rev: dict[str, int] = {}  # revision of the write that set _head[key]
        self._next_rev = 0
        self._rev = 0
        self._compact_rev = 0
        self._compact_row_id = 0
        # The newest events, for watches that start or resume at a recent revision (older ones are
        # read back from SQLite). Bounded by count and by the bytes of the states it holds, so
        # large objects written often cannot pin old versions by the gigabyte.
        self._ring: deque[Event] = deque()
        self._ring_held = 0  # sum of len(entry.raw) over the ring
        self._ring_floor = 0  # the ring holds every event with revision > _ring_floor
        self._hub = WatchHub(lambda: self._rev)
        self._inflight: dict[int, _Pending] = {}
        self._jobs: dict[int, asyncio.Future[Any]] = {}
        self._job_seq = 0
        self._write_failure: str | None = None  # the last transaction's error until one commits
        self._epoch = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._leases: dict[str, float] = {}  # key -> expiry (monotonic)
        self._compact_mark: int = 0
        self.writes = 0
        self.after_start: Callable[[], None] | None = None  # called once the log has opened

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        state = await self._open_log(loop)
        for r in state.live:
            create_rev = r.id if r.created else r.create_revision
            e = _entry_from_row(r.name, r.id, create_rev, r.value, r.lease)
            self._live[r.name] = e
            if r.lease:
                self._leases[r.name] = time.monotonic() + r.lease
        self._rev = self._next_rev = state.revision
        self._compact_rev = state.compact_revision
        self._ring_floor = self._rev
        self._compact_mark = self._rev
        self.log.start(loop, self._deliver)
        await self._ensure_compact_row()
        if self.compact_interval > 0:
            self._tasks.append(asyncio.create_task(self._compact_loop()))
        self._tasks.append(asyncio.create_task(self._lease_loop()))
        if self.after_start is not None:
            self.after_start()
        log.info(
            "store opened: %d keys, revision %d, compacted at %d",
            len(self._live),
            self._rev,
            self._compact_rev,
        )

    async def _open_log(self, loop: asyncio.AbstractEventLoop) -> LoadedState:
        """Open the log on a worker thread: connecting to PostgreSQL (up to its connect timeout) and
        reading every live key must not stall the event loop. If the start is cancelled meanwhile,
        the open still finishes in its thread and what it opened is closed."""
        opening = loop.run_in_executor(None, self.log.open)
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await opening
                await asyncio.to_thread(self.log.close)
            raise

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        # Wait for queued writes to commit before stopping the writer.
        if self._inflight:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.gather(*(p.future for p in self._inflight.values()), return_exceptions=True), 10
                )
        await asyncio.to_thread(self.log.close)

    # ------------------------------------------------------------------ properties
    @property
    def revision(self) -> int:
        return self._rev

    @property
    def compact_revision(self) -> int:
        return self._compact_rev

    @property
    def writes_ordered_by_call(self) -> bool:
        """True: create/update/delete take their revision and queue their row (`_accept`) before
        they first suspend, the log commits rows in revision order, and a failed transaction voids
        every write accepted after it (`_fail_pending`), on SQLite and PostgreSQL alike."""
        return True

    @property
    def unavailable(self) -> str | None:
        """Why the last write transaction failed (SQLite could not write: disk full, I/O error,
        locked), until a later one commits, or why the database cannot be reached while the writer
        reconnects (PostgreSQL); None while writes go through."""
        why = self._write_failure or self.log.down
        return None if why is None else f"storage is unavailable: {why}"

    def close_watches(self) -> None:
        self._hub.close_all()

    def object_count(self) -> int:
        return len(self._live)

    def watch_count(self) -> int:
        return self._hub.count

    # ------------------------------------------------------------------ write path
    def _current(self, key: str) -> Entry | None:
        e = self._head.get(key, _MISSING)
        if e is _MISSING:
            return self._live.get(key)
        return e  # type: ignore[return-value]

    def _accept(self, ev: Event, row: Row) -> asyncio.Future[Event]:
        key = ev.entry.key
        self._head[key] = None if ev.type == DELETED else ev.entry
        self._head_rev[key] = ev.rev
        fut: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._inflight[ev.rev] = _Pending(ev, fut)
        self.log.submit([row], ev.rev, self._epoch)
        return fut

    async def create(self, key: str, obj: dict[str, Any], *, lease: int = 0, dry_run: bool = False) -> Entry:
        if self._current(key) is not None:
            raise KeyExistsError(key)
        if dry_run:
            return Entry(key, 0, 0, orjson.dumps(obj), extract_labels(obj), lease)
        rev = self._next_rev = self._next_rev + 1
        raw = _stamp(obj, rev)
        e = Entry(key, rev, rev, raw, extract_labels(obj), lease)
        await self._accept(Event(ADDED, e, None), Row(rev, key, True, False, 0, 0, lease, raw, None))
        return e

    async def update(
        self, key: str, obj: dict[str, Any], *, expected_rev: int | None, dry_run: bool = False
    ) -> Entry:
        cur = self._current(key)
        if cur is None:
            raise KeyNotFoundError(key)
        if expected_rev is not None and cur.mod_rev != expected_rev:
            raise RevisionConflictError(key, expected_rev, cur.mod_rev)
        if dry_run:
            return Entry(
                key, cur.mod_rev, cur.create_rev, _stamp(obj, cur.mod_rev), extract_labels(obj), cur.lease
            )
        rev = self._next_rev = self._next_rev + 1
        raw = _stamp(obj, rev)
        e = Entry(key, rev, cur.create_rev, raw, extract_labels(obj), cur.lease)
        row = Row(rev, key, False, False, cur.create_rev, cur.mod_rev, cur.lease, raw, cur.raw)
        await self._accept(Event(MODIFIED, e, cur), row)
        return e

    async def delete(self, key: str, *, expected_rev: int | None, dry_run: bool = False) -> Event:
        cur = self._current(key)
        if cur is None:
            raise KeyNotFoundError(key)
        if expected_rev is not None and cur.mod_rev != expected_rev:
            raise RevisionConflictError(key, expected_rev, cur.mod_rev)
        if dry_run:
            return Event(DELETED, cur, cur)
        rev = self._next_rev = self._next_rev + 1
        # Watchers get the last state stamped with the deletion's revision.
        tomb = Entry(key, rev, cur.create_rev, _stamp(orjson.loads(cur.raw), rev), cur.labels, cur.lease)
        row = Row(rev, key, False, True, cur.create_rev, cur.mod_rev, cur.lease, cur.raw, cur.raw)
        ev = Event(DELETED, tomb, cur)
        await self._accept(ev, row)
        return ev

    def _deliver(self, results: list[tuple[Any, BaseException | None]]) -> None:
        """Runs on the loop after each writer transaction, with its writes in revision order."""
        committed: list[_Pending] = []
        failed = False
        for token, err in results:
            if isinstance(token, tuple):  # a job's (seq, result)
                seq, result = token
                jf = self._jobs.pop(seq, None)
                if jf is not None and not jf.done():
                    if err is not None:
                        jf.set_exception(err)
                    else:
                        jf.set_result(result)
                continue
            p = self._inflight.pop(token, None)
            if p is None:
                continue
            if err is not None:
                failed = True
                self._write_failure = str(err)
                if not p.future.done():
                    p.future.set_exception(StoreUnavailableError(f"write not persisted: {err}"))
            else:
                committed.append(p)
        if committed:
            if not failed:
                self._write_failure = None
            events = [p.event for p in committed]
            for ev in events:
                self._apply(ev)
            self._rev = events[-1].rev
            self.writes += len(events)
            self._hub.publish(events)
            # Callers resume last, so they observe their own write in reads and watches.
            for p in committed:
                if not p.future.done():
                    p.future.set_result(p.event)
        if failed:
            self._fail_pending()

    def _apply(self, ev: Event) -> None:
        key = ev.entry.key
        if ev.type == DELETED:
            self._live.pop(key, None)
            self._leases.pop(key, None)
        else:
            self._live[key] = ev.entry
            if ev.entry.lease:
                self._leases[key] = time.monotonic() + ev.entry.lease
        if self._head_rev.get(key) == ev.rev:
            del self._head[key]
            del self._head_rev[key]
        ring = self._ring
        ring.append(ev)
        self._ring_held += len(ev.entry.raw)
        while len(ring) > 1 and (len(ring) > self.ring_size or self._ring_held > self.ring_bytes):
            gone = ring.popleft()
            self._ring_held -= len(gone.entry.raw)
            self._ring_floor = gone.rev

    def _fail_pending(self) -> None:
        """A transaction failed: every write accepted after it is void (the writer rejects them by
        epoch); fall back to the committed state and let new writes try again."""
        for p in self._inflight.values():
            if not p.future.done():
                p.future.set_exception(StoreUnavailableError("write not persisted: an earlier write failed"))
        self._inflight.clear()
        self._head.clear()
        self._head_rev.clear()
        self._next_rev = self._rev
        self._epoch += 1

    async def _job(self, fn: Callable[[Any], Any]) -> Any:
        """Run fn(conn) on the writer thread, ordered with the writes."""
        self._job_seq += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs[self._job_seq] = fut
        self.log.submit_job(fn, self._job_seq)
        return await fut

    # ------------------------------------------------------------------ reads
    async def get(self, key: str) -> Entry | None:
        return self._live.get(key)

    def get_now(self, key: str) -> Entry | None:
        """`get` without awaiting: the live view is in memory."""
        return self._live.get(key)

    async def get_for_update(self, key: str) -> Entry | None:
        return self._current(key)

    async def list(
        self,
        prefix: str,
        *,
        revision: int | None = None,
        start_after: str | None = None,
        limit: int = 0,
        match: EntryFilter | None = None,
    ) -> ListResult:
        if revision is not None and revision != self._rev:
            return await self._list_at(prefix, revision, start_after, limit, match)
        return self._list_now(prefix, start_after=start_after, limit=limit, match=match)

    def _list_now(
        self,
        prefix: str,
        *,
        start_after: str | None = None,
        limit: int = 0,
        match: EntryFilter | None = None,
    ) -> ListResult:
        """The current entries under `prefix` (synchronous: served from memory)."""
        live = self._live
        hi = prefix_end(prefix)
        if start_after is not None and start_after >= prefix:
            keys = live.irange(start_after, hi, inclusive=(False, False))
        else:
            keys = live.irange(prefix, hi, inclusive=(True, False))
        out: list[Entry] = []
        more = False
        last_key = None
        for k in keys:
            e = live[k]
            if match is not None and not match(e):
                last_key = k
                continue
            if limit and len(out) >= limit:
                more = True
                break
            out.append(e)
            last_key = k
        remaining: int | None = None
        if more and match is None and out:
            remaining = live.bisect_left(hi) - live.bisect_right(out[-1].key)
        del last_key
        return ListResult(out, self._rev, more, remaining)

    async def _list_at(
        self, prefix: str, revision: int, start_after: str | None, limit: int, match: EntryFilter | None
    ) -> ListResult:
        if revision < self._compact_rev:
            raise CompactedError(revision, self._compact_rev)
        if revision > self._rev:
            raise FutureRevisionError(revision, self._rev)
        hi = prefix_end(prefix)
        out: list[Entry] = []
        cursor = start_after
        page = max(limit * 2, 256) if limit else 0
        while True:
            rows = await self.log.range_at(prefix, hi, revision, cursor, page)
            for r in rows:
                e = _entry_from_row(r.name, r.id, r.id if r.created else r.create_revision, r.value, r.lease)
                cursor = r.name
                if match is not None and not match(e):
                    continue
                if limit and len(out) >= limit:
                    return ListResult(out, revision, True, None)
                out.append(e)
            if not page or len(rows) < page:
                return ListResult(out, revision, False, None)

    # ------------------------------------------------------------------ watch
    async def watch(self, prefix: str, since_rev: int) -> Watcher:
        if since_rev < self._compact_rev:
            raise CompactedError(since_rev, self._compact_rev)
        if since_rev > self._rev:
            raise FutureRevisionError(since_rev, self._rev)
        return await self._hub.open(prefix, since_rev, lambda lo, hi: self._history(prefix, lo, hi))

    async def _history(self, prefix: str, after: int, upto: int) -> list[Event]:
        """Events under prefix with after < rev <= upto, from the ring or, if older, from SQLite."""
        if after >= self._ring_floor:
            out = []
            for ev in reversed(self._ring):
                if ev.rev <= after:
                    break
                if ev.rev <= upto and ev.entry.key.startswith(prefix):
                    out.append(ev)
            out.reverse()
            return out
        if after < self._compact_rev:
            raise CompactedError(after, self._compact_rev)
        rows = await self.log.history(prefix, prefix_end(prefix), after, upto)
        events = []
        for r in rows:
            create_rev = r.id if r.created else r.create_revision
            if r.deleted:
                prev = _entry_from_row(r.name, r.prev_revision, create_rev, r.old_value or r.value, r.lease)
                tomb = _entry_from_row(r.name, r.id, create_rev, r.value, r.lease)
                events.append(Event(DELETED, tomb, prev))
            elif r.created:
                events.append(Event(ADDED, _entry_from_row(r.name, r.id, create_rev, r.value, r.lease), None))
            else:
                prev = (
                    _entry_from_row(r.name, r.prev_revision, create_rev, r.old_value, r.lease)
                    if r.old_value is not None
                    else None
                )
                events.append(
                    Event(MODIFIED, _entry_from_row(r.name, r.id, create_rev, r.value, r.lease), prev)
                )
        return events

    # ------------------------------------------------------------------ compaction
    async def _ensure_compact_row(self) -> None:
        def fn(conn: Any) -> int:
            row = conn.execute(
                "SELECT id FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1", (COMPACT_KEY,)
            ).fetchone()
            return int(row[0]) if row else 0

        self._compact_row_id = await self._job(fn)
        if self._compact_row_id:
            return
        # kine keeps the compact revision in a row of its own; it takes a revision like any write.
        rev = self._next_rev = self._next_rev + 1

        def insert(conn: Any) -> int:
            conn.execute(
                "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, value, "
                "old_value) VALUES (?, ?, 0, 0, 0, 0, 0, NULL, NULL)",
                (rev, COMPACT_KEY),
            )
            return rev

        self._compact_row_id = await self._job(insert)
        self._rev = max(self._rev, rev)
        self._ring_floor = max(self._ring_floor, rev)

    async def compact(self, target: int | None = None) -> int:
        """Compact history up to `target`, never within the last `min_retain` revisions."""
        limit = self._rev - self.min_retain
        target = limit if target is None else min(target, limit)
        if target <= self._compact_rev:
            return self._compact_rev
        current, row_id = self._compact_rev, self._compact_row_id
        await self._job(lambda conn: self.log.compact_sync(conn, current, target, row_id))
        self._compact_rev = target
        return target

    async def _compact_loop(self) -> None:
        """Like kube-apiserver: every interval, compact to the revision seen one interval ago."""
        while True:
            await asyncio.sleep(self.compact_interval)
            mark, self._compact_mark = self._compact_mark, self._rev
            try:
                await self.compact(mark)
            except Exception:
                log.exception("compaction failed")

    # ------------------------------------------------------------------ leases (TTL keys)
    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            now = time.monotonic()
            expired = [k for k, t in self._leases.items() if t <= now]
            for k in expired:
                self._leases.pop(k, None)
                with contextlib.suppress(KeyNotFoundError, RevisionConflictError, StoreUnavailableError):
                    await self.delete(k, expected_rev=None)
