"""The controller of `sync.fromHost.configMaps` and `secrets`: host objects named by
`mappings.byName` are imported into the virtual cluster (spec §4.2; the translation and field
directions are in `syncer/resources/imported.py`).

Keyed by the virtual namespace/name, so that two host objects mapped onto one virtual name are
decided in one place (the higher-priority mapping wins). Host objects outside the virtual cluster's
own namespace are watched per namespace: the syncer then needs read rights there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, Informer, WorkQueue
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.kinds import Kind
from vcluster.syncer.resources import imported
from vcluster.syncer.resources.imported import ImportMap
from vcluster.syncer.result import Delete

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.imports")

IMPORTED_KINDS: dict[str, Kind] = {"configmaps": kinds.CONFIGMAP, "secrets": kinds.SECRET}
_UNLISTED_RETRY = 2.0  # seconds
_TERMINATING_RETRY = 5.0  # seconds; a namespace being deleted cannot take new objects


class ImportController:
    """One per imported kind; `configure` takes a new mapping while it runs."""

    def __init__(self, engine: Syncer, kind: Kind) -> None:
        self.engine = engine
        self.kind = kind
        self.name = f"host-{kind.plural}"
        self.queue = WorkQueue(
            self.name, base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay
        )
        self.map = ImportMap({}, engine.host_namespace)
        self._vnamespaces: set[str] = set()
        self.hinf: dict[str, Informer] = {}  # host namespace -> informer
        self.vinf = engine.virtual_informers.informer(kind.api_version, kind.plural)
        self.vinf.add_handler(self._on_virtual)

    # ------------------------------------------------------------------ configuration
    def configure(self, by_name: dict[str, str]) -> None:
        """Take a (new) mapping: watch its host namespaces and re-decide every name it touches,
        and every earlier import (one no longer mapped is deleted)."""
        self.map = ImportMap(dict(by_name), self.engine.host_namespace)
        self._vnamespaces = self.map.virtual_namespaces()
        for hns in sorted(self.map.host_namespaces()):
            if hns not in self.hinf:
                inf = self.engine.host_informers.informer(
                    self.kind.api_version, self.kind.plural, hns, compact=True
                )
                self.hinf[hns] = inf
                inf.add_handler(self._on_host)  # replays what it holds
            else:
                for obj in self.hinf[hns].list():
                    self._on_host("add", obj, None)
        for obj in self.vinf.list():
            if imported.imported_from(obj) is not None:
                self._enqueue_virtual(obj)

    def stop(self) -> None:
        """Detach from the shared informers (the kind was switched off)."""
        self.vinf.remove_handler(self._on_virtual)
        for inf in self.hinf.values():
            inf.remove_handler(self._on_host)
        self.queue.shutdown()

    # ------------------------------------------------------------------ handlers
    def _on_host(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        m = metadata.meta(obj)
        target = self.map.target(m.get("namespace", ""), m.get("name", ""))
        if target is not None:
            self.queue.add(f"{target[0]}/{target[1]}")

    def _on_virtual(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        m = metadata.meta(obj)
        if m.get("namespace") in self._vnamespaces or imported.imported_from(obj) is not None:
            self._enqueue_virtual(obj)

    def _enqueue_virtual(self, obj: dict[str, Any]) -> None:
        m = metadata.meta(obj)
        self.queue.add(f"{m.get('namespace', '')}/{m.get('name', '')}")

    # ------------------------------------------------------------------ reconcile
    async def run(self, workers: int) -> None:
        await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=workers)

    def _sources_known(self, vns: str, vname: str) -> bool:
        """Whether every host namespace that could supply vns/vname has been listed."""
        for hns, _ in self.map.candidates(vns, vname):
            inf = self.hinf.get(hns)
            if inf is not None and not inf.has_synced:
                return False
        return True

    def source(self, vns: str, vname: str) -> dict[str, Any] | None:
        """The host object imported as vns/vname now: the first mapped candidate that exists."""
        for hns, hname in self.map.candidates(vns, vname):
            inf = self.hinf.get(hns)
            host = inf.get(hname, hns) if inf is not None else None
            if host is not None and imported.importable(host, self.kind):
                return host
        return None

    async def reconcile(self, key: str) -> None:
        vns, _, vname = key.partition("/")
        virtual = self.vinf.get(vname, vns)
        host = self.source(vns, vname)
        want = imported.virtual_copy(host, self.kind, (vns, vname), self.engine.ctx) if host else None
        action, body = imported.plan(virtual, want, self.kind)
        if not action:
            return
        if action in ("delete", "recreate") and not self._sources_known(vns, vname):
            # a host namespace not listed yet (just mapped, or the host refuses its list): what
            # is missing from its cache may exist, so a copy is not deleted on that evidence
            self.queue.add_after(key, _UNLISTED_RETRY)
            return
        source = metadata.meta(host) if host is not None else {}
        href = f"{source.get('namespace', '')}/{source.get('name', '')}"
        fields = {"action": action, "kind": self.name, "virtual": key, "host": href}
        w = self.engine.writer
        if action == "create" and body is not None:
            if not await self._namespace_ready(vns, key):
                return
            await w.create_virtual(self.kind, body)
            log.info("Create virtual %s %s from host %s", self.kind.kind, key, href, extra={"fields": fields})
        elif action == "patch" and body and virtual is not None:
            if metadata.meta(virtual).get("deletionTimestamp"):
                self.queue.add_after(key, 1.0)
                return
            await w.patch_virtual(self.kind, virtual, body)
            log.info("Update virtual %s %s from host %s", self.kind.kind, key, href, extra={"fields": fields})
        elif action in ("delete", "recreate") and virtual is not None:
            why = (
                "its host object changed a field that cannot be updated"
                if action == "recreate"
                else "no host object is imported under this name any more"
            )
            log.info("Delete virtual %s %s, %s", self.kind.kind, key, why, extra={"fields": fields})
            uid = metadata.meta(virtual).get("uid")
            await w.delete(self.engine.virtual, self.kind, virtual, Delete("virtual", "import", None, uid))
            if action == "recreate":
                self.queue.add_after(key, 0.2)  # created again once the informer has seen the delete

    async def _namespace_ready(self, vns: str, key: str) -> bool:
        """Create a missing virtual namespace; wait out a terminating one."""
        ns = self.engine.virtual_namespaces.get(vns)
        if ns is None:
            log.info("Create namespace %s for the imported %s %s", vns, self.kind.kind, key)
            try:
                await self.engine.virtual.create("v1", "namespaces", {"metadata": {"name": vns}})
            except ApiError as e:
                if not e.already_exists:
                    raise
            return True
        terminating = (ns.get("status") or {}).get("phase") == "Terminating"
        if terminating or metadata.meta(ns).get("deletionTimestamp"):
            self.queue.add_after(key, _TERMINATING_RETRY)
            return False
        return True
