"""The three-way base of every synced pair, kept in the virtual cluster's store.

vCluster keeps the "old" objects of its three-way merge (spec §6.1) only in memory, so a change
made on either side while the syncer was down is either lost (host side) or re-pushed blindly.
We persist, per pair, the values of the fields that sync both ways as they were after the last
successful reconcile, under `/vcluster/syncbase/<groupVersion>/<kind>/<ns>/<name>` in the kine
table; after a restart the merge sees exactly what changed on which side.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from vcluster.jsonbytes import lasting_dumps
from vcluster.store.interface import KeyExistsError, KeyNotFoundError, RevisionConflictError, Storage
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import get_path, semantic_equal, set_path

log = logging.getLogger("vcluster.syncer.base")

PREFIX = "/vcluster/syncbase/"
# How long the base after a host create may wait for the pair's next write (a pod's first status
# copy, 0.03-0.6 s after the create in a burst of the syncer benchmark) before it is written on its
# own. While it waits, a crash leaves the create's record, which derives the same base if the host
# object is there; if the host object was deleted while the syncer was down, the pair is taken for
# one never synced and the host object is created again (as after a crash between the create and
# its answer), where a saved base would have the virtual object deleted.
SETTLE_DELAY = 1.0


def base_key(kind: Kind, namespace: str, name: str) -> str:
    ns = f"{namespace}/" if namespace else ""
    return f"{PREFIX}{kind.api_version}/{kind.kind.lower()}/{ns}{name}"


AnnotationFilter = Callable[[Mapping[str, str] | None], dict[str, str]]


def project(
    obj: dict[str, Any] | None, paths: Iterable[str], annotations: AnnotationFilter | None = None
) -> dict[str, Any] | None:
    """Only the given dotted paths of `obj` (what the three-way merge reads from a base); with
    `annotations`, only the annotations it keeps (the merge compares the others out)."""
    if obj is None:
        return None
    out: dict[str, Any] = {}
    for p in paths:
        v = get_path(obj, p)
        if v is not None and annotations is not None and p == "metadata.annotations":
            v = annotations(v) or None
        if v is not None:
            set_path(out, p, v)
    return orjson.loads(orjson.dumps(out)) if out else out  # a copy: nothing shared with `obj`


def metadata_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, Mapping) else {}


def _write_shows(virtual: Mapping[str, Any], ahead: Mapping[str, Any]) -> bool:
    """Whether `virtual` carries the write a base was stored ahead of: it has moved on from the
    resourceVersion the write required, and holds what the write set at each base path (maps key
    by key, a null key absent; other values whole)."""
    if str(metadata_of(virtual).get("resourceVersion") or "") == ahead.get("rv"):
        return False
    for path, value in ahead.get("sets") or []:
        cur = get_path(virtual, path)
        if isinstance(value, dict):
            have = cur if isinstance(cur, dict) else {}
            for k, v in value.items():
                if (have.get(k) is not None) if v is None else not semantic_equal(have.get(k), v):
                    return False
        elif not semantic_equal(cur, value):
            return False
    return True


def _sets(patch: Mapping[str, Any], paths: tuple[str, ...]) -> list[list[Any]]:
    """What a merge patch sets at each base path, as [path, value] pairs."""
    return [[p, orjson.loads(orjson.dumps(v))] for p in paths if (v := get_path(patch, p)) is not None]


class BaseStore:
    """Base objects per pair: read from memory; changes are written to the store in the
    background, as soon as the event loop comes round (the changes of one loop iteration at once),
    or `flush_delay` seconds later if set. The delay must stay short: a base lost to a crash
    is an older base, and against it a side that had already been pushed to the other looks
    changed again — a change made meanwhile on the other side (while the syncer was down) would
    then lose a conflict it should have won.

    Each key's write is its own task: a key waits for no other key's write, only for its own
    earlier one where the store does not commit writes in the order they are called (etcd), so
    a key's docs are committed in the order they were kept.

    Two kinds of base need no write of their own, as what the store holds already stands for
    them: the base after a virtual write that `put_ahead` stored (the doc written ahead reads as
    it while the virtual object shows the write: `put(..., shown_by=)`, written only once the
    virtual object stops showing it), and the base after a host create (the create's record
    derives it while the host object exists: `put(..., settle=True)`, written with the pair's
    next write or `settle_delay` seconds later, whichever comes first; at stop, `flush`)."""

    def __init__(self, store: Storage, flush_delay: float = 0.0, settle_delay: float = SETTLE_DELAY) -> None:
        self.store = store
        self.flush_delay = flush_delay
        self.settle_delay = settle_delay
        # key -> latest doc as JSON: read once or twice per reconcile, kept for every pair (as
        # dicts a pod's base costs ~6 KB, as bytes ~1 KB, shared with the store once written)
        self._mem: dict[str, bytes] = {}
        self._rev: dict[str, int] = {}  # key -> mod_rev of the persisted row
        self._unsent: set[str] = set()  # keys whose doc in memory was not handed to the store yet
        self._dirty: set[str] = set()  # keys to write when the loop comes round (`_round`)
        self._round: asyncio.Handle | None = None
        self._writing: dict[str, asyncio.Task[None]] = {}  # key -> its latest write task
        self._waiting: set[str] = set()  # keys whose latest write waits for the one before it
        self._tasks: set[asyncio.Task[None]] = set()  # every write in flight
        # keys whose doc, stored ahead of a virtual write (`put_ahead`), is known to be in: it
        # stands for its "ahead" base, which is not written as long as the virtual object shows
        # the write (see the class)
        self._stood: set[str] = set()
        self._settling: dict[str, asyncio.TimerHandle] = {}  # key -> its write at settle_delay
        self.skipped = 0  # bases not written because the doc in the store stood for them

    async def load(self) -> int:
        res = await self.store.list(PREFIX)
        for e in res.entries:
            with contextlib.suppress(ValueError):
                if isinstance(orjson.loads(e.raw), dict):
                    self._mem[e.key] = e.raw
                    self._rev[e.key] = e.mod_rev
        return len(self._mem)

    def _doc(self, key: str) -> dict[str, Any] | None:
        """The key's doc in memory; for a doc that stands for its "ahead" base, that base."""
        raw = self._mem.get(key)
        if raw is None:
            return None
        doc = orjson.loads(raw)
        if key in self._stood:
            ahead = doc.get("ahead") or {}
            return {"virtual": ahead.get("virtual"), "host": ahead.get("host")}
        return doc

    def _keep(self, key: str, doc: dict[str, Any]) -> None:
        """Make `doc` the key's doc in memory, to be handed to the store."""
        self._mem[key] = lasting_dumps(doc)
        self._unsent.add(key)

    def get(
        self, kind: Kind, namespace: str, name: str, virtual: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(virtual base, host base); None for a side never seen. A base stored ahead of a write
        to the virtual object (`put_ahead`) is taken when `virtual` shows that write, else the
        base from before it. A doc that stands for its base (`put(..., shown_by=)`) is written
        as that base once `virtual` no longer shows the write (a crash would then read it as the
        base from before the write)."""
        key = base_key(kind, namespace, name)
        raw = self._mem.get(key)
        if raw is None:
            return None, None
        doc = orjson.loads(raw)
        ahead = doc.get("ahead")
        if key in self._stood:
            vbase, hbase = ahead.get("virtual"), ahead.get("host")
            if virtual is not None and not _write_shows(virtual, ahead):
                self._stood.discard(key)
                self._keep(key, {"virtual": vbase, "host": hbase})
                self._mark_dirty(key)
            return vbase, hbase
        if ahead is not None and virtual is not None and _write_shows(virtual, ahead):
            return ahead.get("virtual"), ahead.get("host")
        return doc.get("virtual"), doc.get("host")

    def seen(self, kind: Kind, namespace: str, name: str) -> tuple[bool, bool]:
        v, h = self.get(kind, namespace, name)
        return v is not None, h is not None

    async def put(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        virtual: dict[str, Any] | None,
        host: dict[str, Any] | None,
        paths: Iterable[str],
        annotations: AnnotationFilter | None = None,
        *,
        shown_by: Mapping[str, Any] | None = None,
        settle: bool = False,
    ) -> None:
        """Remember both sides (projected on `paths`); nothing to write when nothing changed.
        `shown_by`: the virtual object as it is now; when the doc in the store was stored ahead of
        a write (`put_ahead`) that this object shows, and that write leads to this very base, the
        doc stands for it and nothing is written. `settle`: the base right after a host create,
        whose record in the store derives it meanwhile (written with the pair's next write, at
        the latest `settle_delay` seconds later)."""
        paths = tuple(paths)
        doc = {"virtual": project(virtual, paths, annotations), "host": project(host, paths, annotations)}
        key = base_key(kind, namespace, name)
        if key not in self._stood and self._mem.get(key) == orjson.dumps(doc):
            return  # the same bytes: the same doc (most syncs change no base)
        old = self._doc(key)
        if old is not None and semantic_equal(old, doc):
            return
        ahead = old.get("ahead") if old is not None else None
        if (
            shown_by is not None
            and isinstance(ahead, dict)
            and key not in self._unsent
            and semantic_equal({"virtual": ahead.get("virtual"), "host": ahead.get("host")}, doc)
            and _write_shows(shown_by, ahead)
        ):
            # the doc in memory is the one handed to the store last, and the write it was stored
            # ahead of is in
            self._stood.add(key)
            self.skipped += 1
            return
        self._stood.discard(key)
        self._keep(key, doc)
        if settle and self.settle_delay > 0 and key not in self._dirty:
            if key not in self._settling:
                loop = asyncio.get_running_loop()
                self._settling[key] = loop.call_later(self.settle_delay, self._settled, key)
            return
        self._mark_dirty(key)

    def _mark_dirty(self, key: str) -> None:
        """Write the key's doc as soon as the event loop comes round (after `flush_delay`)."""
        self._cancel_settling(key)
        self._dirty.add(key)
        if self._round is None:
            loop = asyncio.get_running_loop()
            if self.flush_delay > 0:
                self._round = loop.call_later(self.flush_delay, self._launch)
            else:
                self._round = loop.call_soon(self._launch)

    def _launch(self) -> None:
        """Start the write of every dirty key, each on its own."""
        if self._round is not None:
            self._round.cancel()
            self._round = None
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            self._start(key)

    def _start(self, key: str) -> asyncio.Task[None]:
        """The task that writes the key's latest doc: a new one, called at once where the store
        commits writes in call order, else chained after the key's write in flight (or that
        chained write itself while it waits: it will read the latest doc)."""
        prev = self._writing.get(key)
        if prev is not None and not self.store.writes_ordered_by_call:
            if key in self._waiting:
                return prev
            self._waiting.add(key)
            coro = self._write_after(prev, key)
        else:
            coro = self._write(key)
        task = asyncio.get_running_loop().create_task(coro, name="sync-base-write")
        self._writing[key] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._written, key))
        return task

    def _written(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._writing.get(key) is task:
            del self._writing[key]
            self._waiting.discard(key)
        if task.cancelled():
            return
        err = task.exception()
        if err is not None and key in self._mem:
            # kept for the next round (or `flush` at stop); not retried on its own, the store is
            # failing
            log.warning("could not save sync base %s: %s", key, err)
            self._unsent.add(key)
            self._dirty.add(key)

    async def _write_after(self, prev: asyncio.Task[None], key: str) -> None:
        await asyncio.wait([prev])
        self._waiting.discard(key)
        await self._write(key)

    def _settled(self, key: str) -> None:
        if self._settling.pop(key, None) is not None:
            self._mark_dirty(key)

    def _cancel_settling(self, key: str) -> None:
        handle = self._settling.pop(key, None)
        if handle is not None:
            handle.cancel()

    async def idle(self) -> None:
        """Wait until every write handed to the store so far is answered."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def flush(self) -> None:
        """Write every changed base now, the settling ones too, and wait for every write in flight
        (at stop)."""
        for key in list(self._settling):
            self._cancel_settling(key)
            self._dirty.add(key)
        self._launch()
        await self.idle()

    async def put_ahead(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        after: tuple[dict[str, Any] | None, dict[str, Any] | None],
        before: tuple[dict[str, Any] | None, dict[str, Any] | None],
        virtual: Mapping[str, Any],
        patch: Mapping[str, Any],
        paths: Iterable[str],
        annotations: AnnotationFilter | None = None,
    ) -> bool:
        """Right before `patch` is written to `virtual`: keep `before` and `after` (the bases
        without and with that write) and how to tell them apart (the resourceVersion the patch
        requires, what it sets), handed to the store before the patch is, so that the store
        never commits the patch without it (a crash between a write and its base's save would
        make what the write copied from the host look like a virtual change). Once the write is
        answered, `put(after, shown_by=answer)` keeps `after` without writing it (this doc reads as
        it). Returns once the store has it in its order (`_write_ahead`); False (nothing stored)
        when the patch sets no base path."""
        paths = tuple(paths)
        sets = _sets(patch, paths)
        if not sets:
            return False
        key = base_key(kind, namespace, name)
        doc = {
            "virtual": project(before[0], paths, annotations),
            "host": project(before[1], paths, annotations),
            "ahead": {
                "virtual": project(after[0], paths, annotations),
                "host": project(after[1], paths, annotations),
                "rv": str(metadata_of(virtual).get("resourceVersion") or ""),
                "sets": sets,
            },
        }
        await self._write_ahead(key, doc, same_store=True)
        return True

    async def put_created_ahead(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        paths: Iterable[str],
        annotations: AnnotationFilter | None = None,
    ) -> None:
        """Right before `host` (the translation of `virtual`) is created on the host: keep what the
        create copies (the virtual object as of the create, the host's base fields it writes, the
        virtual UID), queued in the store before the create is sent, without a wait for it.
        A crash between the create and its base's save then leaves a pair without a base
        whose derived base (`created`) still tells a virtual change made after the create from
        one made on the host. The base already kept, if any, stays what `get` answers (the
        record is no proof that the create reached the host); `put(..., settle=True)` replaces the
        whole once the create is answered, written with the pair's next write."""
        paths = tuple(paths)
        key = base_key(kind, namespace, name)
        old = self._doc(key)
        doc = dict(old) if old is not None else {"virtual": None, "host": None}
        doc["created"] = {
            "uid": str(metadata_of(virtual).get("uid") or ""),
            "virtual": project(dict(virtual), paths, annotations),
            "host": project(dict(host), paths, annotations),
        }
        if old is not None and semantic_equal(old, doc):
            return  # a create tried again (refused, failed): recorded already
        await self._write_ahead(key, doc, same_store=False)

    def created(
        self, kind: Kind, namespace: str, name: str, uid: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(virtual object, host object) as of a host create of the virtual object
        with this UID whose base was never saved (`put_created_ahead`); None without one."""
        raw = self._mem.get(base_key(kind, namespace, name))
        if raw is None:
            return None
        rec = orjson.loads(raw).get("created")
        if not isinstance(rec, dict) or not uid or rec.get("uid") != uid:
            return None
        return rec.get("virtual") or {}, rec.get("host") or {}

    async def _write_ahead(self, key: str, doc: dict[str, Any], *, same_store: bool) -> None:
        """Keep `doc` and hand it to the store now, ahead of the write it precedes. `same_store`:
        that write goes to this store (a virtual patch) and must never be committed without `doc`:
        on a store that commits writes in the order they are called
        (`Storage.writes_ordered_by_call`: LogStore, on SQLite and PostgreSQL) it is enough that
        `doc`'s write is called first; the others (etcd: each write its own request, on any of
        several connections) answer it first. A write elsewhere (a host create) is not held up:
        `doc` is queued, and a crash may lose it with that write's answer."""
        self._stood.discard(key)
        self._keep(key, doc)
        self._dirty.discard(key)
        self._cancel_settling(key)
        task = self._start(key)
        if same_store and not self.store.writes_ordered_by_call:
            await asyncio.shield(task)
        else:
            # the task's first step calls the store, which (LogStore) takes the write in its order
            # before it first suspends: nothing in `_write` awaits before that call (a round's
            # task started earlier for this key runs first and hands it this doc)
            await asyncio.sleep(0)

    async def _write(self, key: str) -> None:
        """Store the key's latest doc, unless it was handed to the store already. This process is
        the only writer of the bases (the data dir is locked to it), so writes are unconditional:
        one in flight never fails the next."""
        for _ in range(3):
            raw = self._mem.get(key)
            if raw is None or key not in self._unsent:
                return  # forgotten meanwhile, or written by the key's write before this one
            self._unsent.discard(key)
            self._cancel_settling(key)  # written now, as it is
            try:
                if self._rev.get(key) is None:
                    e = await self.store.create(key, orjson.loads(raw))
                else:
                    e = await self.store.update(key, orjson.loads(raw), expected_rev=None)
            except KeyExistsError:
                self._rev[key] = 0  # there already: update it
            except KeyNotFoundError:
                self._rev.pop(key, None)  # deleted meanwhile: create it
            except RevisionConflictError:  # not raised without an expected revision
                pass
            else:
                self._rev[key] = e.mod_rev
                if self._mem.get(key) is raw and e.raw == raw:
                    self._mem[key] = e.raw  # one copy of the bytes, the store's
                return
            if key not in self._unsent and self._mem.get(key) is raw:
                self._unsent.add(key)  # not written: try again
        log.warning("could not save sync base %s", key)

    async def forget(self, kind: Kind, namespace: str, name: str) -> None:
        """Drop the pair's base, in memory and in the store (after the key's write in flight)."""
        key = base_key(kind, namespace, name)
        self._mem.pop(key, None)
        self._unsent.discard(key)
        self._dirty.discard(key)
        self._cancel_settling(key)
        self._stood.discard(key)
        prev = self._writing.get(key)
        if prev is not None and not self.store.writes_ordered_by_call:
            await asyncio.wait([prev])
        if self._rev.pop(key, None) is None and prev is None:
            return
        with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
            await self.store.delete(key, expected_rev=None)
        self._rev.pop(key, None)  # a create in flight answered meanwhile
