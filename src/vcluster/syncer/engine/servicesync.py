"""The service replication controller (spec §5.4, vCluster's `servicesync`): keeps the replicas
of `networking.replicateServices` in step with their sources, and removes replicas that are no
longer configured (at start and after a live configuration change)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, Informer, WorkQueue
from vcluster.syncer import kinds, metadata
from vcluster.syncer import servicesync as rep
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.result import Delete

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.servicesync")

CLEANUP = "cleanup"
Ref = tuple[str, str]


def _ref(obj: dict[str, Any]) -> Ref:
    m = obj.get("metadata") or {}
    return m.get("namespace", ""), m.get("name", "")


class ServiceReplicator:
    """One queue keyed by replication (`fromHost:ns/name`, `toHost:ns/name`) plus a cleanup key."""

    name = "servicesync"

    def __init__(self, engine: Syncer) -> None:
        self.engine = engine
        self.queue = WorkQueue(
            "servicesync", base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay
        )
        # host namespace -> (services, endpoints) informers of fromHost sources there
        self._sources: dict[str, tuple[Informer, Informer]] = {}
        self.by_key: dict[str, rep.Replication] = {}
        self._source_key: dict[tuple[str, Ref], str] = {}  # (direction, source) -> key
        self._target_key: dict[tuple[str, Ref], str] = {}  # (direction, target) -> key
        # (handlers added to a running informer are called at once for what it holds)
        self.vservices = engine.virtual_services
        self.vendpoints = engine.virtual_informers.informer("v1", "endpoints")
        self.hservices = engine.host_informers.informer("v1", "services", engine.host_namespace)
        self.vservices.add_handler(self._on_virtual)
        self.vendpoints.add_handler(self._on_virtual)
        self.hservices.add_handler(self._on_host_target)
        self.configure(rep.replications(engine.config.networking.replicate_services, engine.host_namespace))

    # ------------------------------------------------------------------ configuration
    def configure(self, replications: list[rep.Replication]) -> None:
        """Take a (new) list of replications: watch their sources, reconcile all, clean up the rest."""
        self.by_key = {r.key: r for r in replications}
        self._source_key = {(r.direction, r.source): r.key for r in replications}
        self._target_key = {(r.direction, r.target): r.key for r in replications}
        for r in replications:
            if r.direction == "fromHost" and r.source[0] not in self._sources:
                svcs = self.engine.host_informers.informer("v1", "services", r.source[0])
                eps = self.engine.host_informers.informer("v1", "endpoints", r.source[0])
                svcs.add_handler(self._on_host_source)
                eps.add_handler(self._on_host_source)
                self._sources[r.source[0]] = (svcs, eps)
        for key in self.by_key:
            self.queue.add(key)
        self.queue.add(CLEANUP)

    # ------------------------------------------------------------------ handlers
    def _on_host_source(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = self._source_key.get(("fromHost", _ref(obj)))
        if key is not None:
            self.queue.add(key)

    def _on_host_target(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = self._target_key.get(("toHost", _ref(obj)))
        if key is not None:
            self.queue.add(key)
        elif rep.is_replica(obj) and event != "delete":
            self.queue.add(CLEANUP)

    def _on_virtual(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        ref = _ref(obj)
        for key in (self._target_key.get(("fromHost", ref)), self._source_key.get(("toHost", ref))):
            if key is not None:
                self.queue.add(key)
        if rep.is_replica(obj) and event != "delete" and ("fromHost", ref) not in self._target_key:
            self.queue.add(CLEANUP)

    # ------------------------------------------------------------------ reconcile
    async def run(self, workers: int) -> None:
        await self.queue.run(
            conflict_tolerant(self.queue, self.reconcile, self.engine), workers=max(1, min(workers, 4))
        )

    async def reconcile(self, key: str) -> None:
        if key == CLEANUP:
            await self._cleanup()
            return
        r = self.by_key.get(key)
        if r is None:
            return
        if r.direction == "fromHost":
            await self._from_host(r)
        else:
            await self._to_host(r)

    async def _from_host(self, r: rep.Replication) -> None:
        svcs, eps = self._sources[r.source[0]]
        source = svcs.get(r.source[1], r.source[0])
        vns, vname = r.target
        replica = self.vservices.get(vname, vns)
        if source is None:
            if replica is not None and rep.is_replica(replica):
                log.info("Delete target service %s/%s because from service is missing", vns, vname)
                await self._delete_virtual_replica(replica)
            return
        w = self.engine.writer
        if replica is None:
            await self._ensure_namespace(vns)
            log.info("Create target service %s/%s because it is missing", vns, vname)
            replica = await w.create_virtual(kinds.SERVICE, rep.virtual_replica(source, r.target))
        elif not rep.is_replica(replica):
            log.warning("not replicating host service %s/%s: virtual service %s/%s exists and is not a "
                        "replica", *r.source, vns, vname)  # fmt: skip
            return
        else:
            patch = rep.virtual_replica_update(replica, source)
            if patch:
                log.info("Update target service %s/%s because ports are different", vns, vname)
                replica = await w.patch_virtual(kinds.SERVICE, replica, patch)
        subsets = rep.replica_subsets(source, eps.get(r.source[1], r.source[0]), replica)
        if subsets is None:
            return  # the source has no ClusterIP yet: its next event brings us back
        endpoints = self.vendpoints.get(vname, vns)
        if endpoints is None:
            log.info("Create target endpoints %s/%s because they are missing", vns, vname)
            await w.create_virtual(kinds.ENDPOINTS, rep.replica_endpoints(r.target, subsets))
        elif rep.is_replica(endpoints) and (endpoints.get("subsets") or []) != subsets:
            log.info("Update target endpoints %s/%s because subsets are different", vns, vname)
            await w.patch_virtual(kinds.ENDPOINTS, endpoints, {"subsets": subsets or None})

    async def _to_host(self, r: rep.Replication) -> None:
        ctx = self.engine.ctx
        vns, vname = r.source
        hns, hname = r.target
        source = self.vservices.get(vname, vns)
        replica = self.hservices.get(hname, hns)
        w = self.engine.writer
        if source is None:
            if replica is not None and rep.is_replica(replica):
                log.info("Delete target service %s/%s because from service is missing", hns, hname)
                await self._delete_host(replica)
            return
        if replica is None:
            log.info("Create target service %s/%s because it is missing", hns, hname)
            body = rep.host_replica(source, r.target, ctx.vcluster, ctx.owner_uid, ctx.set_owner)
            await w.create_host(kinds.SERVICE, body)
            return
        if not rep.is_replica(replica):
            msg = f"cannot replicate service to host service {hns}/{hname}: it exists and is not a replica"
            self.engine.virtual_events.event(source, "Warning", "SyncError", msg)
            log.warning("%s", msg)
            return
        patch = rep.host_replica_update(replica, source, ctx.vcluster)
        if patch:
            log.info("Update target service %s/%s because ports or selector are different", hns, hname)
            await w.patch_host(kinds.SERVICE, replica, patch)

    async def _cleanup(self) -> None:
        """Replicas no configured replication stands behind: virtual ones (vCluster does this at
        start) and host ones owned by this virtual cluster's Service."""
        for svc in self.vservices.list():
            if rep.is_replica(svc) and ("fromHost", _ref(svc)) not in self._target_key:
                ns, name = _ref(svc)
                log.info("Delete virtual service %s/%s, it is no longer replicated from the host", ns, name)
                await self._delete_virtual_replica(svc)
        owner = self.engine.ctx.owner_uid
        for svc in self.hservices.list():
            if (
                rep.is_replica(svc)
                and rep.owned_by(svc, owner)
                and ("toHost", _ref(svc)) not in self._target_key
            ):
                ns, name = _ref(svc)
                log.info("Delete host service %s/%s, it is no longer replicated to the host", ns, name)
                await self._delete_host(svc)

    # ------------------------------------------------------------------ writes
    async def _ensure_namespace(self, name: str) -> None:
        if self.engine.virtual_namespaces.get(name) is not None:
            return
        log.info("Create namespace %s because it is missing", name)
        try:
            await self.engine.virtual.create("v1", "namespaces", {"metadata": {"name": name}})
        except ApiError as e:
            if not e.already_exists:
                raise

    async def _delete_virtual_replica(self, svc: dict[str, Any]) -> None:
        """A virtual replica Service and its replica Endpoints."""
        await self._delete_virtual(kinds.SERVICE, svc)
        ns, name = _ref(svc)
        ep = self.vendpoints.get(name, ns)
        if ep is not None and rep.is_replica(ep):
            await self._delete_virtual(kinds.ENDPOINTS, ep)

    async def _delete_virtual(self, kind: kinds.Kind, obj: dict[str, Any]) -> None:
        uid = metadata.meta(obj).get("uid")
        await self.engine.writer.delete(
            self.engine.virtual, kind, obj, Delete("virtual", "replica", None, uid)
        )

    async def _delete_host(self, obj: dict[str, Any]) -> None:
        uid = metadata.meta(obj).get("uid")
        await self.engine.writer.delete(
            self.engine.host, kinds.SERVICE, obj, Delete("host", "replica", None, uid)
        )
