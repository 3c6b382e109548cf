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
            set_path(out, p, orjson.loads(orjson.dumps(v)))
    return out


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
    background, as soon as the event loop comes round (the changes of one loop iteration in one
    go), or `flush_delay` seconds later if set. The delay must stay short: a base lost to a crash
    is an older base, and against it a side that had already been pushed to the other looks
    changed again — a change made meanwhile on the other side (while the syncer was down) would
    then lose a conflict it should have won."""

    def __init__(self, store: Storage, flush_delay: float = 0.0) -> None:
        self.store = store
        self.flush_delay = flush_delay
        # key -> latest doc as JSON: read once or twice per reconcile, kept for every pair (as
        # dicts a pod's base costs ~6 KB, as bytes ~1 KB, shared with the store once written)
        self._mem: dict[str, bytes] = {}
        self._rev: dict[str, int] = {}  # key -> mod_rev of the persisted row
        self._dirty: set[str] = set()
        self._flushing: asyncio.Task[None] | None = None
        self._ahead: set[asyncio.Task[None]] = set()  # put_ahead writes in flight

    async def load(self) -> int:
        res = await self.store.list(PREFIX)
        for e in res.entries:
            with contextlib.suppress(ValueError):
                if isinstance(orjson.loads(e.raw), dict):
                    self._mem[e.key] = e.raw
                    self._rev[e.key] = e.mod_rev
        return len(self._mem)

    def get(
        self, kind: Kind, namespace: str, name: str, virtual: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(virtual base, host base); None for a side never seen. A base stored ahead of a write
        to the virtual object (`put_ahead`) is taken when `virtual` shows that write, else the
        base from before it."""
        raw = self._mem.get(base_key(kind, namespace, name))
        if raw is None:
            return None, None
        doc = orjson.loads(raw)
        ahead = doc.get("ahead")
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
    ) -> None:
        """Remember both sides (projected on `paths`); nothing to write when nothing changed."""
        paths = tuple(paths)
        doc = {"virtual": project(virtual, paths, annotations), "host": project(host, paths, annotations)}
        key = base_key(kind, namespace, name)
        old = self._mem.get(key)
        if old is not None and semantic_equal(orjson.loads(old), doc):
            return
        self._mem[key] = lasting_dumps(doc)
        self._dirty.add(key)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(
                self._flush_soon(), name="sync-base-flush"
            )

    async def _flush_soon(self) -> None:
        """Write what is dirty once the puts of this moment are in, until nothing is left."""
        await asyncio.sleep(self.flush_delay)
        while self._dirty:
            await self.flush()

    async def flush(self) -> None:
        """Write every changed base now (also called at stop)."""
        dirty, self._dirty = self._dirty, set()
        await asyncio.gather(*(self._write(key) for key in dirty), *self._ahead)

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
        make what the write copied from the host look like a virtual change). `put` replaces it
        once the write is answered. Returns once the store has it queued, without waiting;
        False (nothing stored) when the patch sets no base path."""
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
        await self._write_ahead(key, doc)
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
        create copies (the virtual object as of the create, the host labels and annotations it
        writes, the virtual UID), handed to the store before the create is sent and without
        waiting. A crash between the create and its base's save then leaves a pair without a base
        whose derived base (`created`) still tells a virtual change made after the create from
        one made on the host. The base already kept, if any, stays what `get` answers (the
        record is no proof that the create reached the host); `put` replaces the whole once the
        create is answered."""
        paths = tuple(paths)
        key = base_key(kind, namespace, name)
        old = self._mem.get(key)
        doc = orjson.loads(old) if old is not None else {"virtual": None, "host": None}
        meta_paths = [p for p in paths if p.startswith("metadata.")]
        doc["created"] = {
            "uid": str(metadata_of(virtual).get("uid") or ""),
            "virtual": project(dict(virtual), paths, annotations),
            "host": project(dict(host), meta_paths, annotations),
        }
        if old is not None and semantic_equal(orjson.loads(old), doc):
            return  # a create tried again (refused, failed): recorded already
        await self._write_ahead(key, doc)

    def created(
        self, kind: Kind, namespace: str, name: str, uid: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(virtual object, host labels and annotations) as of a host create of the virtual object
        with this UID whose base was never saved (`put_created_ahead`); None without one."""
        raw = self._mem.get(base_key(kind, namespace, name))
        if raw is None:
            return None
        rec = orjson.loads(raw).get("created")
        if not isinstance(rec, dict) or not uid or rec.get("uid") != uid:
            return None
        return rec.get("virtual") or {}, rec.get("host") or {}

    async def _write_ahead(self, key: str, doc: dict[str, Any]) -> None:
        """Keep `doc` and queue its write in the store now, ahead of the write it precedes."""
        self._mem[key] = lasting_dumps(doc)
        self._dirty.discard(key)
        task = asyncio.get_running_loop().create_task(self._write(key), name="sync-base-ahead")
        self._ahead.add(task)
        task.add_done_callback(self._ahead.discard)
        await asyncio.sleep(0)  # the task's first step queues the write in the store (LogStore)

    async def _write(self, key: str) -> None:
        """Store the key's latest doc. This process is the only writer of the bases (the data
        dir is locked to it), so writes are unconditional: one in flight never fails the next."""
        for _ in range(3):
            raw = self._mem.get(key)
            if raw is None:
                return  # forgotten meanwhile
            try:
                if self._rev.get(key) is None:
                    e = await self.store.create(key, orjson.loads(raw))
                else:
                    e = await self.store.update(key, orjson.loads(raw), expected_rev=None)
                self._rev[key] = e.mod_rev
                if self._mem.get(key) is raw and e.raw == raw:
                    self._mem[key] = e.raw  # one copy of the bytes, the store's
                return
            except KeyExistsError:
                self._rev[key] = 0  # there already: update it
            except KeyNotFoundError:
                self._rev.pop(key, None)  # deleted meanwhile: create it
            except RevisionConflictError:  # not raised without an expected revision
                continue
        log.warning("could not save sync base %s", key)

    async def forget(self, kind: Kind, namespace: str, name: str) -> None:
        key = base_key(kind, namespace, name)
        self._mem.pop(key, None)
        self._dirty.discard(key)
        if self._rev.pop(key, None) is None:
            return
        with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
            await self.store.delete(key, expected_rev=None)
