"""The three-way base of every synced pair, kept in the virtual cluster's store.

vCluster keeps the "old" objects of its three-way merge (spec §6.1) only in memory, so a change
made on either side while the syncer was down is either lost (host side) or re-pushed blindly.
We persist, per pair, the values of the fields that sync both ways as they were after the last
successful reconcile, under `/vcluster/syncbase/<groupVersion>/<kind>/<ns>/<name>` in the kine
table; after a restart the merge sees exactly what changed on which side.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

import orjson

from vcluster.store.interface import KeyExistsError, KeyNotFoundError, RevisionConflictError, Storage
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import get_path, semantic_equal, set_path

log = logging.getLogger("vcluster.syncer.base")

PREFIX = "/vcluster/syncbase/"


def base_key(kind: Kind, namespace: str, name: str) -> str:
    ns = f"{namespace}/" if namespace else ""
    return f"{PREFIX}{kind.api_version}/{kind.kind.lower()}/{ns}{name}"


def project(obj: dict[str, Any] | None, paths: Iterable[str]) -> dict[str, Any] | None:
    """Only the given dotted paths of `obj` (what the three-way merge reads from a base)."""
    if obj is None:
        return None
    out: dict[str, Any] = {}
    for p in paths:
        v = get_path(obj, p)
        if v is not None:
            set_path(out, p, orjson.loads(orjson.dumps(v)))
    return out


class BaseStore:
    """Base objects per pair: read from memory, written through to the store when they change."""

    def __init__(self, store: Storage) -> None:
        self.store = store
        self._mem: dict[str, tuple[dict[str, Any], int]] = {}  # key -> (doc, mod_rev)

    async def load(self) -> int:
        res = await self.store.list(PREFIX)
        for e in res.entries:
            with contextlib.suppress(ValueError):
                doc = orjson.loads(e.raw)
                if isinstance(doc, dict):
                    self._mem[e.key] = (doc, e.mod_rev)
        return len(self._mem)

    def get(
        self, kind: Kind, namespace: str, name: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(virtual base, host base); None for a side never seen."""
        hit = self._mem.get(base_key(kind, namespace, name))
        if hit is None:
            return None, None
        doc = hit[0]
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
    ) -> None:
        """Remember both sides (projected on `paths`); no write when nothing changed."""
        paths = tuple(paths)
        doc = {"virtual": project(virtual, paths), "host": project(host, paths)}
        key = base_key(kind, namespace, name)
        hit = self._mem.get(key)
        if hit is not None and semantic_equal(hit[0], doc):
            return
        await self._write(key, doc, hit[1] if hit else None)

    async def _write(self, key: str, doc: dict[str, Any], rev: int | None) -> None:
        for _ in range(3):
            try:
                if rev is None:
                    e = await self.store.create(key, dict(doc))
                else:
                    e = await self.store.update(key, dict(doc), expected_rev=rev)
                self._mem[key] = (doc, e.mod_rev)
                return
            except (KeyExistsError, RevisionConflictError, KeyNotFoundError):
                cur = await self.store.get(key)
                rev = cur.mod_rev if cur is not None else None
        log.warning("could not save sync base %s", key)

    async def forget(self, kind: Kind, namespace: str, name: str) -> None:
        key = base_key(kind, namespace, name)
        hit = self._mem.pop(key, None)
        if hit is None:
            return
        with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
            await self.store.delete(key, expected_rev=None)
