"""`Storage` on etcd v3, as kube-apiserver's etcd3 store with its watch cache in front.

Keys are the ones `LogStore` uses (`/registry/...`, the syncer's `/vcluster/mappings/...`). Values
are stored without `metadata.resourceVersion` and stamped with the key's mod_revision when read
(kube's APIObjectVersioner). Writes are etcd transactions comparing the key's mod_revision (0 for a
create), so several processes on one etcd stay correct: a stale base loses the compare-and-swap.

Reads are served from a cache fed by one watch over the whole keyspace (every revision is an event
there, so the cache knows it is complete up to a revision without progress notifications). A
consistent read (get, list without a revision) first asks etcd for its current revision (a
count-only range, no data) and waits until the cache has caught up, as 1.32's consistent list from
the watch cache does; concurrent reads share one such probe. Writes return once the cache holds
them, so a caller reads its own writes. Watches replay from an in-memory event ring, or, when older,
from an etcd watch started at the revision; compaction follows kube's compactor (a
`compact_rev_key` version check, so only one of several processes compacts per interval).
With several etcd members, the client fails over between them (`etcdclient`); the cache's watch,
when its member goes away, is made again at once on another from the next revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from sortedcontainers import SortedDict

from vcluster.store.datasource import DatastoreError
from vcluster.store.etcdclient import (
    EtcdClient,
    EtcdCompacted,
    EtcdEndpoint,
    EtcdError,
    EtcdUnavailable,
    KeyValue,
    WatchResult,
    b64,
    explain,
)
from vcluster.store.etcdhistory import ALL, PAGE, key_of, list_at, replay, restamped, stamped, storage_bytes
from vcluster.store.etcdlease import LeaseManager
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
from vcluster.store.logstore import RING_BYTES, _stamp
from vcluster.store.watch import Watcher, WatchHub
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.store.etcd")

COMPACT_KEY = "compact_rev_key"  # kube's compactor's key (apiserver/pkg/storage/etcd3/compact.go)
UPDATE_RETRIES = 16


def _cmp_mod(key: str, rev: int) -> dict[str, Any]:
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(rev)}


def _put(key: str, value: bytes, lease: int = 0) -> dict[str, Any]:
    op: dict[str, Any] = {"key": b64(key), "value": b64(value), "prev_kv": True}
    if lease:
        op["lease"] = str(lease)
    return {"request_put": op}


def _get(key: str) -> dict[str, Any]:
    return {"request_range": {"key": b64(key)}}


def _failed_kv(resp: dict[str, Any]) -> KeyValue | None:
    """The key's current state from a transaction's failure branch (a range of the key)."""
    kvs = resp.get("responses", [{}])[0].get("response_range", {}).get("kvs")
    return KeyValue.parse(kvs[0]) if kvs else None


class EtcdStore(Storage):
    """`Storage` on an etcd cluster (one or several members) with a watch-fed cache."""

    def __init__(
        self,
        endpoint: EtcdEndpoint,
        *,
        compact_interval: float = 300.0,
        ring_size: int = 20_000,
        ring_bytes: int = RING_BYTES,
        catch_up_timeout: float = 5.0,
    ) -> None:
        self.endpoint = endpoint
        self.client = EtcdClient(endpoint)
        self.leases = LeaseManager(self.client)
        self.compact_interval = compact_interval
        self.ring_size = ring_size
        self.ring_bytes = ring_bytes
        self.catch_up_timeout = catch_up_timeout
        self._live: SortedDict[str, Entry] = SortedDict()
        self._rev = 0
        self._compact_rev = 0
        self._compact_version = 0  # the version of compact_rev_key (kube's compaction "time")
        self._ring: deque[Event] = deque()
        self._ring_held = 0
        self._ring_floor = 0
        self._hub = WatchHub(lambda: self._rev)
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._write_failure: str | None = None
        self._watch_failure: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._probe: asyncio.Task[int] | None = None  # the revision probe in flight
        self._next_probe: asyncio.Task[int] | None = None  # the one readers arriving now will share
        self.writes = 0
        self.reconnects = 0
        self.probes = 0
        self.after_start: Callable[[], None] | None = None  # called once the cache is loaded

    @property
    def where(self) -> str:
        return f"etcd {self.endpoint.url}"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        try:
            await self.client.status()
            await self._load()
        except EtcdError as e:
            await self.client.close()
            raise DatastoreError(
                f"cannot use the datastore {self.where}: {explain(self.endpoint, e)}"
            ) from None
        if self.after_start is not None:
            self.after_start()
        self._tasks.append(asyncio.create_task(self._watch_loop()))
        if self.compact_interval > 0:
            self._tasks.append(asyncio.create_task(self._compact_loop()))
        log.info("store opened on %s: %d keys, revision %d", self.where, len(self._live), self._rev)

    async def _load(self) -> None:
        """Read every key at one revision, in pages (the cache's starting state)."""
        live: SortedDict[str, Entry] = SortedDict()
        rev, cursor = 0, ALL.encode()
        while True:
            hdr, kvs, more = await self.client.range(cursor, ALL, revision=rev, limit=PAGE)
            rev = rev or hdr
            for kv in kvs:
                key = key_of(kv.key)
                if key == COMPACT_KEY:
                    self._take_compactkey_of(kv)
                elif key is not None:
                    live[key] = stamped(key, kv)
            if not more or not kvs:
                break
            cursor = kvs[-1].key + b"\x00"
        self._live = live
        self._rev = self._ring_floor = rev
        self._ring.clear()
        self._ring_held = 0
        self._resolve()

    async def close(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        await self.client.close()

    # ------------------------------------------------------------------ properties
    @property
    def revision(self) -> int:
        return self._rev

    @property
    def compact_revision(self) -> int:
        return self._compact_rev

    @property
    def unavailable(self) -> str | None:
        """Why etcd cannot be used (the last write failed, or the watch is down), else None."""
        why = self._write_failure or self._watch_failure
        return None if why is None else f"storage is unavailable: {why}"

    def close_watches(self) -> None:
        self._hub.close_all()

    def object_count(self) -> int:
        return len(self._live)

    def watch_count(self) -> int:
        return self._hub.count

    # ------------------------------------------------------------------ the cache
    def _take_compactkey_of(self, kv: KeyValue) -> None:
        self._compact_version = kv.version
        with contextlib.suppress(ValueError):
            self._compact_rev = max(self._compact_rev, int(kv.value or b"0"))

    async def _watch_loop(self) -> None:
        """Feed the cache from one watch over the whole keyspace; after a drop, resume at the next
        revision (reconnecting with backoff); after a compaction that overtook it, reload."""
        backoff = 0.1
        dropped = False  # the watch ended and is being made again
        while True:
            try:
                async with contextlib.aclosing(self.client.watch(ALL, ALL, self._rev + 1)) as stream:
                    async for res in stream:
                        if res.canceled:
                            if res.compact_revision:
                                log.warning("the watch fell behind a compaction; reloading from etcd")
                                await self._reload()
                                break
                            raise EtcdError(f"etcd canceled the watch: {res.cancel_reason or 'no reason'}")
                        if res.created:
                            if dropped:
                                self.reconnects += 1
                                log.info(
                                    "the etcd watch is back at revision %d on %s",
                                    self._rev,
                                    self.client.member,
                                )
                            self._watch_failure = None
                            dropped = False
                            backoff = 0.1
                            continue
                        self._apply(res)
            except asyncio.CancelledError:
                raise
            except EtcdError as e:
                if not dropped and len(self.client.urls) > 1:
                    # the member went away: resume at once on the next one, still available
                    log.warning("the etcd watch on a member ended (resuming on another): %s", e)
                    dropped = True
                    continue
                if self._watch_failure is None:
                    log.warning("the etcd watch failed (retrying): %s", e)
                self._watch_failure = str(e)
                dropped = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _reload(self) -> None:
        """Start over from etcd's current state: open watches end (their clients re-watch and get
        410 when their revision is gone, as kube's watch cache does when it re-initializes)."""
        self._hub.close_all()
        await self._load()

    def _apply(self, res: WatchResult) -> None:
        events: list[Event] = []
        newest = self._rev
        for we in res.events:
            rev = we.kv.mod_revision
            newest = max(newest, rev)
            key = key_of(we.kv.key)
            if key is None:
                continue
            if key == COMPACT_KEY:
                if not we.deleted:
                    self._take_compactkey_of(we.kv)
                continue
            prev = self._live.get(key)
            if prev is None and we.prev is not None:
                prev = stamped(key, we.prev)
            if we.deleted:
                self._live.pop(key, None)
                if prev is not None:
                    events.append(Event(DELETED, restamped(prev, rev), prev))
                continue
            entry = stamped(key, we.kv)
            self._live[key] = entry
            events.append(
                Event(ADDED if we.kv.version == 1 else MODIFIED, entry, None if we.kv.version == 1 else prev)
            )
        for ev in events:
            self._ring_append(ev)
        self._rev = newest
        if events:
            self.writes += len(events)
            self._hub.publish(events)
        self._resolve()

    def _ring_append(self, ev: Event) -> None:
        ring = self._ring
        ring.append(ev)
        self._ring_held += len(ev.entry.raw)
        while len(ring) > 1 and (len(ring) > self.ring_size or self._ring_held > self.ring_bytes):
            gone = ring.popleft()
            self._ring_held -= len(gone.entry.raw)
            self._ring_floor = gone.rev

    def _resolve(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._rev:
            fut = heapq.heappop(self._waiters)[2]
            if not fut.done():
                fut.set_result(None)

    async def _caught_up(self, rev: int, timeout: float | None = None) -> bool:
        """Wait until the cache holds revision `rev` (False after `timeout`)."""
        if self._rev >= rev:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rev, next(self._seq), fut))
        try:
            await asyncio.wait_for(fut, self.catch_up_timeout if timeout is None else timeout)
            return True
        except TimeoutError:
            return False

    async def _fresh(self) -> None:
        """Make the cache at least as new as etcd was when this read began."""
        try:
            rev = await self._probe_revision()
        except EtcdError as e:  # etcd unreachable: reads go on from the cache
            log.debug("consistent read served from the cache: %s", e)
            return
        if not await self._caught_up(rev):
            log.warning("the cache is behind etcd (at %d, etcd at %d): served what it has", self._rev, rev)

    async def _probe_revision(self) -> int:
        """etcd's current revision, by a probe that started after the caller arrived; callers
        arriving together share one."""
        if self._next_probe is None:
            self._next_probe = asyncio.ensure_future(self._run_probe())
        return await asyncio.shield(self._next_probe)

    async def _run_probe(self) -> int:
        running = self._probe
        if running is not None:
            await asyncio.wait([running])
        self._probe, self._next_probe = self._next_probe, None
        try:
            self.probes += 1
            return await self.client.revision()
        finally:
            self._probe = None

    # ------------------------------------------------------------------ write path
    async def _txn(
        self, compare: list[dict[str, Any]], success: list[dict[str, Any]], failure: list[dict[str, Any]]
    ) -> dict[str, Any]:
        try:
            resp = await self.client.txn(compare, success, failure)
        except EtcdError as e:
            self._write_failure = str(e)
            if isinstance(e, EtcdUnavailable) and e.sent:
                # the request reached etcd and the answer was lost: kube's clientv3 does not retry
                # such a write either (write-at-most-once)
                raise StoreUnavailableError(f"the outcome of the write is unknown: {e}") from None
            raise StoreUnavailableError(f"write not persisted: {e}") from None
        self._write_failure = None
        return resp

    async def _readkey_of(self, key: str) -> Entry | None:
        """A key's state straight from etcd (when the cache may be behind)."""
        try:
            _, kvs, _ = await self.client.range(key)
        except EtcdError as e:
            raise StoreUnavailableError(f"cannot read {key}: {e}") from None
        return stamped(key, kvs[0]) if kvs else None

    async def _lease(self, ttl: int) -> int:
        try:
            return await self.leases.get(ttl)
        except EtcdError as e:
            self._write_failure = str(e)
            raise StoreUnavailableError(f"write not persisted: cannot grant a lease: {e}") from None

    async def _renewed(self, lease: int) -> int:
        """The lease an updated key gets: a fresh one for the TTL we granted it with (kube computes
        the TTL again on update), else the one it has."""
        ttl = self.leases.ttl_of.get(lease)
        return await self._lease(ttl) if ttl else lease

    async def create(self, key: str, obj: dict[str, Any], *, lease: int = 0, dry_run: bool = False) -> Entry:
        if dry_run:
            if self._live.get(key) is not None:
                raise KeyExistsError(key)
            return Entry(key, 0, 0, orjson.dumps(obj), extract_labels(obj), lease)
        lease_id = await self._lease(lease) if lease > 0 else 0
        resp = await self._txn([_cmp_mod(key, 0)], [_put(key, storage_bytes(obj), lease_id)], [])
        rev = int(resp["header"]["revision"])
        if not resp.get("succeeded"):
            await self._caught_up(rev)  # a retry sees the key
            raise KeyExistsError(key)
        entry = Entry(key, rev, rev, _stamp(obj, rev), extract_labels(obj), lease_id)
        await self._caught_up(rev)
        return entry

    async def _base(self, key: str, expected_rev: int | None) -> Entry:
        """The state a conditional write compares against: the cache's, or etcd's when the cache
        does not have the expected revision."""
        cur = self._live.get(key)
        if cur is None or (expected_rev is not None and cur.mod_rev != expected_rev):
            cur = await self._readkey_of(key)
        if cur is None:
            raise KeyNotFoundError(key)
        return cur

    async def _lost(self, key: str, resp: dict[str, Any], expected_rev: int | None) -> Entry:
        """A failed compare: KeyNotFoundError, RevisionConflictError, or (for an unconditional
        write) the newest state to try again on."""
        await self._caught_up(int(resp["header"]["revision"]))
        kv = _failed_kv(resp)
        if kv is None:
            raise KeyNotFoundError(key)
        if expected_rev is not None:
            raise RevisionConflictError(key, expected_rev, kv.mod_revision)
        return stamped(key, kv)

    async def update(
        self, key: str, obj: dict[str, Any], *, expected_rev: int | None, dry_run: bool = False
    ) -> Entry:
        if dry_run:
            cur = self._live.get(key)
            if cur is None:
                raise KeyNotFoundError(key)
            if expected_rev is not None and cur.mod_rev != expected_rev:
                raise RevisionConflictError(key, expected_rev, cur.mod_rev)
            return Entry(
                key, cur.mod_rev, cur.create_rev, _stamp(obj, cur.mod_rev), extract_labels(obj), cur.lease
            )
        cur = await self._base(key, expected_rev)
        value = storage_bytes(obj)
        for _ in range(UPDATE_RETRIES):
            if expected_rev is not None and cur.mod_rev != expected_rev:
                raise RevisionConflictError(key, expected_rev, cur.mod_rev)
            lease = await self._renewed(cur.lease)
            resp = await self._txn([_cmp_mod(key, cur.mod_rev)], [_put(key, value, lease)], [_get(key)])
            if resp.get("succeeded"):
                rev = int(resp["header"]["revision"])
                prev = resp["responses"][0]["response_put"].get("prev_kv")
                create_rev = int(prev["create_revision"]) if prev else cur.create_rev
                entry = Entry(key, rev, create_rev, _stamp(obj, rev), extract_labels(obj), lease)
                await self._caught_up(rev)
                return entry
            cur = await self._lost(key, resp, expected_rev)
        raise RevisionConflictError(key, cur.mod_rev, cur.mod_rev)

    async def delete(self, key: str, *, expected_rev: int | None, dry_run: bool = False) -> Event:
        if dry_run:
            cur = self._live.get(key)
            if cur is None:
                raise KeyNotFoundError(key)
            if expected_rev is not None and cur.mod_rev != expected_rev:
                raise RevisionConflictError(key, expected_rev, cur.mod_rev)
            return Event(DELETED, cur, cur)
        cur = await self._base(key, expected_rev)
        for _ in range(UPDATE_RETRIES):
            if expected_rev is not None and cur.mod_rev != expected_rev:
                raise RevisionConflictError(key, expected_rev, cur.mod_rev)
            op = {"request_delete_range": {"key": b64(key), "prev_kv": True}}
            resp = await self._txn([_cmp_mod(key, cur.mod_rev)], [op], [_get(key)])
            if resp.get("succeeded"):
                rev = int(resp["header"]["revision"])
                kvs = resp["responses"][0]["response_delete_range"].get("prev_kvs") or []
                prev = stamped(key, KeyValue.parse(kvs[0])) if kvs else cur
                await self._caught_up(rev)
                return Event(DELETED, restamped(prev, rev), prev)
            cur = await self._lost(key, resp, expected_rev)
        raise RevisionConflictError(key, cur.mod_rev, cur.mod_rev)

    # ------------------------------------------------------------------ reads
    async def get(self, key: str) -> Entry | None:
        await self._fresh()
        return self._live.get(key)

    def get_now(self, key: str) -> Entry | None:
        """From the cache, without waiting for it to catch up."""
        return self._live.get(key)

    async def get_for_update(self, key: str) -> Entry | None:
        """The cache's state: a write based on a stale one loses its compare-and-swap and is retried."""
        return self._live.get(key)

    async def list(
        self,
        prefix: str,
        *,
        revision: int | None = None,
        start_after: str | None = None,
        limit: int = 0,
        match: EntryFilter | None = None,
    ) -> ListResult:
        if revision is None:
            await self._fresh()
            return self._list_now(prefix, start_after, limit, match)
        if revision < self._compact_rev:
            raise CompactedError(revision, self._compact_rev)
        if revision > self._rev and not await self._caught_up(revision, 1.0):
            raise FutureRevisionError(revision, self._rev)
        if revision == self._rev:
            return self._list_now(prefix, start_after, limit, match)
        return await list_at(
            self.client,
            prefix,
            revision,
            start_after,
            limit,
            match,
            compacted=self._compact_rev,
            current=self._rev,
        )

    def _list_now(
        self, prefix: str, start_after: str | None, limit: int, match: EntryFilter | None
    ) -> ListResult:
        live = self._live
        hi = prefix_end(prefix)
        if start_after is not None and start_after >= prefix:
            keys = live.irange(start_after, hi, inclusive=(False, False))
        else:
            keys = live.irange(prefix, hi, inclusive=(True, False))
        out: list[Entry] = []
        more = False
        for k in keys:
            e = live[k]
            if match is not None and not match(e):
                continue
            if limit and len(out) >= limit:
                more = True
                break
            out.append(e)
        remaining: int | None = None
        if more and match is None and out:
            remaining = live.bisect_left(hi) - live.bisect_right(out[-1].key)
        return ListResult(out, self._rev, more, remaining)

    # ------------------------------------------------------------------ watch
    async def watch(self, prefix: str, since_rev: int) -> Watcher:
        if since_rev < self._compact_rev:
            raise CompactedError(since_rev, self._compact_rev)
        if since_rev > self._rev and not await self._caught_up(since_rev, 1.0):
            raise FutureRevisionError(since_rev, self._rev)
        return await self._hub.open(prefix, since_rev, lambda lo, hi: self._history(prefix, lo, hi))

    async def _history(self, prefix: str, after: int, upto: int) -> list[Event]:
        """Events under prefix with after < rev <= upto: from the ring, or replayed by etcd."""
        if after >= self._ring_floor:
            out = []
            for ev in reversed(self._ring):
                if ev.rev <= after:
                    break
                if ev.rev <= upto and ev.entry.key.startswith(prefix):
                    out.append(ev)
            out.reverse()
            return out
        return await replay(self.client, prefix, after, upto, compacted=self._compact_rev)

    # ------------------------------------------------------------------ compaction
    async def _compact_step(self, version: int, rev: int) -> tuple[int, int]:
        """kube's compact(): claim this round by bumping compact_rev_key's version (only the process
        that saw the current version wins), then compact to `rev`; returns (version, etcd revision)."""
        cmp = {"key": b64(COMPACT_KEY), "target": "VERSION", "result": "EQUAL", "version": str(version)}
        put = {"request_put": {"key": b64(COMPACT_KEY), "value": b64(str(rev))}}
        resp = await self.client.txn([cmp], [put], [_get(COMPACT_KEY)])
        current = int(resp["header"]["revision"])
        if not resp.get("succeeded"):
            kv = _failed_kv(resp)
            return (kv.version if kv else 0), current
        if rev:
            with contextlib.suppress(EtcdCompacted):
                await self.client.compact(rev)
            self._compact_rev = max(self._compact_rev, rev)
            log.info("etcd compacted to revision %d", rev)
        return version + 1, current

    async def compact(self, target: int | None = None) -> int:
        """Compact to `target` (default: the current revision)."""
        rev = self._rev if target is None else min(target, self._rev)
        if rev <= self._compact_rev:
            return self._compact_rev
        try:
            version, _ = await self._compact_step(self._compact_version, rev)
            if version != self._compact_version + 1:  # the cache had an older version: once more
                await self._compact_step(version, rev)
        except EtcdError as e:
            raise StoreUnavailableError(f"compaction failed: {e}") from None
        return self._compact_rev

    async def _compact_loop(self) -> None:
        """kube-apiserver's compactor: every interval, compact to the revision seen one interval
        earlier, unless another process did this round (compact_rev_key's version moved)."""
        version, rev = 0, 0
        while True:
            await asyncio.sleep(self.compact_interval)
            try:
                version, rev = await self._compact_step(version, rev)
            except EtcdError as e:
                log.warning("etcd compaction failed: %s", e)
