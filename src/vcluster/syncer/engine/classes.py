"""Cluster-scoped objects that come from the host (spec §5.5): StorageClasses, IngressClasses,
RuntimeClasses, PriorityClasses, CSIDrivers and CSINodes (these only for nodes the virtual cluster
has) when `sync.fromHost.<kind>` is on. The virtual copy follows the host (virtual edits are
overwritten) and goes when the host one goes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, WorkQueue
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.kinds import Kind
from vcluster.syncer.resources.storageclass import sync_from_host

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.classes")

FROM_HOST_CLASSES: dict[str, Kind] = {
    "storageclasses": kinds.STORAGE_CLASS,
    "ingressclasses": kinds.INGRESS_CLASS,
    "runtimeclasses": kinds.RUNTIME_CLASS,
    "priorityclasses": kinds.PRIORITY_CLASS,
    "csidrivers": kinds.CSI_DRIVER,
    "csinodes": kinds.CSI_NODE,  # only for nodes the virtual cluster has
}


class FromHostClassController:
    """Keyed by the class name (the same on both sides)."""

    def __init__(self, engine: Syncer, kind: Kind) -> None:
        self.engine = engine
        self.kind = kind
        self.name = f"host-{kind.kind.lower()}"
        self.queue = WorkQueue(
            self.name, base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay
        )
        self.hinf = engine.host_informers.informer(kind.api_version, kind.plural)
        self.vinf = engine.virtual_informers.informer(kind.api_version, kind.plural)
        self._watched = [self.hinf, self.vinf]
        if kind == kinds.CSI_NODE:  # a CSINode follows its node into and out of the virtual cluster
            self._watched.append(engine.virtual_informers.informer("v1", "nodes"))
        for inf in self._watched:
            inf.add_handler(self._on_change)

    def _on_change(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.queue.add(metadata.meta(obj).get("name", ""))

    def stop(self) -> None:
        """Detach from the shared informers (the kind was switched off)."""
        for inf in self._watched:
            inf.remove_handler(self._on_change)
        self.queue.shutdown()

    async def run(self, workers: int) -> None:
        await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=workers)

    def _ours(self, name: str) -> bool:
        """Only virtual objects this syncer made are overwritten or deleted (not a user's own);
        what it made is remembered in the sync base store."""
        _, host_seen = self.engine.bases.seen(self.kind, "", name)
        return host_seen

    async def reconcile(self, name: str) -> None:
        host = self.hinf.get(name)
        virtual = self.vinf.get(name)
        if virtual is not None and not self._ours(name):
            return  # a class the user created in the virtual cluster
        if host is not None and self.kind == kinds.CSI_NODE and not self.engine.virtual_node_exists(name):
            host = None  # spec §5.5: a CSINode is copied only while the virtual Node exists
        action, body = sync_from_host(virtual, host, self.engine.ctx, self.kind)
        w = self.engine.writer
        if action == "create" and body is not None:
            await w.create_virtual(self.kind, body)
            await self.engine.bases.put(self.kind, "", name, {}, {}, ())
            log.info("Create virtual %s %s from the host", self.kind.kind, name)
        elif action == "patch" and body and virtual is not None:
            await w.patch_virtual(self.kind, virtual, body)
        elif action == "delete" and virtual is not None:
            log.info("delete virtual %s %s, because the host object is gone", self.kind.kind, name)
            try:
                await self.engine.virtual.delete(self.kind.api_version, self.kind.plural, name)
            except ApiError as e:
                if not e.not_found:
                    raise
            await self.engine.bases.forget(self.kind, "", name)
