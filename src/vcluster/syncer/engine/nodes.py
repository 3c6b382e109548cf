"""Nodes come from the host (spec §9): a fake virtual node for every host node a virtual pod runs
on (the default), or the real host nodes when `sync.fromHost.nodes.enabled`. Nodes nobody needs
any more are deleted. Every write about one node (the node, its status, its node Service) is made
by the node queue's reconcile of that node, so the writes for one node never run concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, WorkQueue
from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.resources import endpoints
from vcluster.syncer.resources import node as noderes
from vcluster.syncer.result import Delete

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.node")
BY_NODE = "spec.nodeName"
ENSURE_WAIT = 2.0  # seconds a pod's sync waits for the node queue to create the node it runs on
NODE_SERVICE = "node-service"  # the `kind` of node Service log lines
NODE_ENDPOINTS = "node-endpoints"  # the `kind` of their Endpoints' log lines
SWEEP_INTERVAL = 4.0  # §9.3: seconds between looks for node Services whose virtual node is gone
BY_VCLUSTER = noderes.SERVICE_CLUSTER_LABEL  # index of the host Services by that label


def log_decision(
    logger: logging.Logger, action: str, kind: str, virtual: str, host: str, detail: str = ""
) -> None:
    """One info line per write, as SyncController.decision writes them: action, kind, virtual and
    host names (also as the fields `action`, `kind`, `virtual`, `host` of a JSON log line)."""
    fields = {"action": action, "kind": kind, "virtual": virtual, "host": host}
    tail = f", {detail}" if detail else ""
    logger.info("%s %s %s (host %s)%s", action, kind, virtual, host, tail, extra={"fields": fields})


def _fields(action: str, name: str) -> dict[str, Any]:
    """The JSON fields of a log line about node `name` whose text the spec gives (§8.7, §9.1)."""
    return {"fields": {"action": action, "kind": "node", "virtual": name, "host": name}}


def _belongs_to(svc: dict[str, Any]) -> list[str]:
    value = metadata.labels_of(svc).get(BY_VCLUSTER)
    return [value] if value else []


def _node_of(pod: dict[str, Any]) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


class NodeController:
    """Keyed by node name; watches virtual pods, host pods and host nodes."""

    name = "node"

    def __init__(self, engine: Syncer) -> None:
        self.engine = engine
        self.queue = WorkQueue("node", base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay)
        self.vnodes = engine.virtual_informers.informer("v1", "nodes")
        self.vpods = engine.virtual_informers.informer("v1", "pods")
        self.hpods = engine.host_informers.informer("v1", "pods", engine.ctx.host_namespace)
        self.hnodes = engine.host_informers.informer("v1", "nodes") if engine.ctx.real_nodes else None
        self._service_ips: dict[str, str] = {}  # node Service name -> ClusterIP (immutable)
        self._foreign: set[str] = set()  # node Service names held by a Service not ours (warned)
        self._orphans: set[str] = set()  # node Service names the sweep found without a node
        # selector-less node Services (their Endpoints copy the vCluster Service's) -> node name
        self._manual: dict[str, str] = {}
        hns = engine.ctx.host_namespace
        self.vc_endpoints = engine.host_informers.informer(
            "v1", "endpoints", hns, field_selector=f"metadata.name={engine.ctx.vcluster}"
        )
        self.vc_endpoints.add_handler(self._on_vc_endpoints)
        for inf in (self.vpods, self.hpods):
            inf.add_handler(self._on_pod)
            with contextlib.suppress(ValueError):  # shared informers: another part may have it
                inf.add_index(BY_NODE, _node_of)
        self.vnodes.add_handler(lambda ev, obj, old: self.queue.add(metadata.meta(obj).get("name", "")))
        if self.hnodes is not None:
            self.hnodes.add_handler(lambda ev, obj, old: self.queue.add(metadata.meta(obj).get("name", "")))

    def _on_vc_endpoints(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """The vCluster Service's endpoints changed: each selector-less node Service's Endpoints are
        written again by its node's reconcile (which looks the Service up afresh)."""
        if event == "update" and (old or {}).get("subsets") == obj.get("subsets"):
            return
        for svc_name, node in list(self._manual.items()):
            self._service_ips.pop(svc_name, None)
            self.queue.add(node)

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        new_node = (obj.get("spec") or {}).get("nodeName")
        old_node = ((old or {}).get("spec") or {}).get("nodeName")
        if event == "update" and new_node == old_node:
            return  # only arrivals and departures change whether a node is needed
        for node in (new_node, old_node):
            if node:
                self.queue.add(node)

    def exists(self, name: str) -> bool:
        return self.vnodes.get(name) is not None

    async def ensure(self, name: str) -> None:
        """A synced pod runs on host node `name` and waits for its virtual node (to be bound to it):
        if that node is to exist (§9.1), the node queue creates it now (the only writer of a node)
        and this waits for it a moment. A node only DaemonSet pods run on is not created: they do
        not keep nodes, so such a pod waits until its DaemonSet deletes it."""
        if self.exists(name) or not self._wanted(name):
            return
        self.queue.add(name)
        await self.vnodes.wait_until(name, None, lambda cur: cur is not None, ENSURE_WAIT)

    def _needed(self, name: str) -> bool:
        ctx = self.engine.ctx
        # lazily: node_needed stops at the first pod that keeps the node (usually the first one)
        hpods = (p for p in self.hpods.iter_index(BY_NODE, name) if metadata.is_managed(p, ctx, kinds.POD))
        return noderes.node_needed(name, self.vpods.iter_index(BY_NODE, name), hpods)

    def _real(self) -> bool:
        return self.engine.ctx.real_nodes and self.hnodes is not None

    def _wanted(self, name: str) -> bool:
        """Whether virtual node `name` is to exist: a fake node while needed, a real one while its
        host node exists and is selected."""
        if not self._real():
            return self._needed(name)
        assert self.hnodes is not None
        hnode = self.hnodes.get(name)
        return hnode is not None and self._selected(hnode)

    def _selected(self, hnode: dict[str, Any]) -> bool:
        """§9.1 real nodes: `selector.all` syncs every host node, `selector.labels` those matching
        (and only those, needed or not, as vCluster enforces its node selector); without a
        selector a node is synced while needed."""
        ctx = self.engine.ctx
        if ctx.node_selector_all:
            return True
        want = ctx.node_selector_labels
        if want:
            labels = metadata.labels_of(hnode)
            return all(labels.get(k) == v for k, v in want.items())
        return self._needed(metadata.meta(hnode).get("name", ""))

    async def run(self, workers: int) -> None:
        sweeper = asyncio.create_task(self._sweep_loop(), name="node-service-sweep")
        try:
            await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=workers)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sweep_node_services()
            except ApiError as e:
                log.debug("looking for node services without a node failed: %s", e.message)
            except Exception:
                log.exception("looking for node services without a node failed")

    async def _our_node_services(self) -> list[dict[str, Any]]:
        """The host Services labelled as this virtual cluster's: from the services controller's
        informer (indexed by the label), else listed (services not synced)."""
        ctx = self.engine.ctx
        services = self.engine.controllers.get("services")
        if services is not None:
            inf = services.hinf
            if not inf.has_index(BY_VCLUSTER):
                inf.add_index(BY_VCLUSTER, _belongs_to)
            return inf.by_index(BY_VCLUSTER, ctx.vcluster)
        items, _ = await self.engine.host.list_all(
            "v1", "services", ctx.host_namespace, label_selector=f"{BY_VCLUSTER}={ctx.vcluster}"
        )
        return items

    async def sweep_node_services(self) -> int:
        """§9.3: node Services of virtual nodes that no longer exist (deleted while the syncer was
        down, or by hand) go to the node queue, whose reconcile deletes them; the node's absence is
        read again uncached first, as vCluster does. The number found."""
        ctx = self.engine.ctx
        found = 0
        for svc in await self._our_node_services():
            node = metadata.labels_of(svc).get(noderes.SERVICE_NODE_LABEL, "")
            if not node or not noderes.is_node_service(svc, ctx, node) or metadata.is_deleting(svc):
                continue
            if self.vnodes.get(node) is not None or self._wanted(node):
                continue
            try:
                await self.engine.virtual.get("v1", "nodes", node)
                continue
            except ApiError as e:
                if not e.not_found:
                    raise
            self._orphans.add(metadata.meta(svc).get("name", ""))
            self.queue.add(node)
            found += 1
        return found

    async def reconcile(self, name: str) -> None:
        if self._real():
            await self._reconcile_real(name)
        else:
            await self._reconcile_fake(name)

    async def _reconcile_real(self, name: str) -> None:
        """A real node: created, updated from its host node, or deleted when not selected (§9.4)."""
        assert self.hnodes is not None
        ctx, w = self.engine.ctx, self.engine.writer
        vnode, hnode = self.vnodes.get(name), self.hnodes.get(name)
        if hnode is None or not self._selected(hnode):
            if vnode is not None:
                why = (
                    "it is not needed anymore" if hnode is None else "there is no virtual pod with that node"
                )
                log.info(
                    "delete virtual node %s, because %s", name, why, extra=_fields("Delete virtual", name)
                )
                await self._delete(vnode)
            await self._delete_node_service(name, only_known=vnode is None)
            return
        if metadata.is_deleting(vnode):
            return  # created again once it is gone
        ip = await self._node_service_ip(name) if ctx.proxy_kubelets_by_ip else None
        if vnode is None:
            if await self._create(noderes.real_node(hnode, ctx, None, node_service_ip=ip)):
                log_decision(log, "Create virtual", "node", name, name)
            return
        patch, status_patch = noderes.real_node_update(vnode, hnode, ctx, node_service_ip=ip)
        if patch:
            log_decision(log, "Update virtual", "node", name, name)
            vnode = await w.patch_virtual(noderes.KIND, vnode, patch)
        if status_patch:
            log_decision(log, "Update virtual status", "node", name, name)
            await w.patch_virtual(noderes.KIND, vnode, status_patch, status=True)

    async def _reconcile_fake(self, name: str) -> None:
        """A fake node: created while needed, its addresses kept right, deleted when not (§9.2)."""
        ctx, w = self.engine.ctx, self.engine.writer
        vnode = self.vnodes.get(name)
        if not self._needed(name):
            fake = vnode is not None and metadata.labels_of(vnode).get(c.FAKE_NODE_LABEL) == "true"
            if fake:
                log.info(
                    "Delete fake node %s as it is not needed anymore",
                    name,
                    extra=_fields("Delete virtual", name),
                )
                await self._delete(vnode)
            await self._delete_node_service(name, only_known=not fake)
            return
        if metadata.is_deleting(vnode):
            return  # created again once it is gone
        ip = await self._node_service_ip(name) if ctx.proxy_kubelets_by_ip else None
        if vnode is None:
            from vcluster.controllers.base import fmt_time, utcnow

            if await self._create(noderes.fake_node(name, ctx, now=fmt_time(utcnow()), node_service_ip=ip)):
                log.info("Create fake node %s", name, extra=_fields("Create virtual", name))
            return
        if not (vnode.get("status") or {}).get("conditions"):
            # the status written right after the create was lost (a concurrent write, a kill between
            # the two): write it all. Not nodeInfo: the API server writes that struct zero-valued
            # on every node, as Go encodes it
            from vcluster.controllers.base import fmt_time, utcnow

            want = noderes.fake_node(name, ctx, now=fmt_time(utcnow()), node_service_ip=ip)["status"]
            log_decision(log, "Update virtual status", "node", name, name, "the status of a new fake node")
            await w.patch_virtual(noderes.KIND, vnode, {"status": want}, status=True)
            return
        patch = noderes.fake_node_status_patch(vnode, ctx, ip)
        if patch:
            log_decision(log, "Update virtual status", "node", name, name, "its addresses")
            await w.patch_virtual(noderes.KIND, vnode, patch, status=True)

    async def _create(self, node: dict[str, Any]) -> bool:
        """Create a virtual node with its status; False when it exists already."""
        status = node.pop("status", None)
        try:
            created = await self.engine.writer.create_virtual(noderes.KIND, node)
        except ApiError as e:
            if not e.already_exists:
                raise
            return False
        if status:
            await self.engine.writer.patch_virtual(noderes.KIND, created, {"status": status}, status=True)
        return True

    async def _host_service(self, svc_name: str) -> dict[str, Any] | None:
        """The host Service `svc_name` in the host namespace, or None."""
        try:
            return await self.engine.host.get("v1", "services", svc_name, self.engine.ctx.host_namespace)
        except ApiError as e:
            if not e.not_found:
                raise
            return None

    async def _node_service_ip(self, name: str) -> str | None:
        """The ClusterIP of the host Service proxying this node's kubelet (spec §9.3), created when
        missing; it is the node's InternalIP. None when there is none (no vCluster Service to copy
        the selector of) or when a Service of that name is not this virtual cluster's (never used)."""
        ctx = self.engine.ctx
        svc_name = noderes.node_service_name(ctx, name)
        if svc_name in self._service_ips:
            return self._service_ips[svc_name]
        svc = await self._host_service(svc_name) or await self._create_node_service(name)
        if svc is None:
            return None
        if not noderes.is_node_service(svc, ctx, name):
            if svc_name not in self._foreign:
                self._foreign.add(svc_name)
                log.warning(
                    "host service %s/%s is not managed by this virtual cluster: node %s gets no InternalIP",
                    ctx.host_namespace,
                    svc_name,
                    name,
                )
            return None
        self._foreign.discard(svc_name)
        synced = True
        if not (svc.get("spec") or {}).get("selector"):
            self._manual[svc_name] = name
            synced = await self._sync_node_endpoints(svc_name)
        ip = (svc.get("spec") or {}).get("clusterIP") or None
        if ip and ip != "None":
            if synced:  # else looked up again by the node's next reconcile, which retries them
                self._service_ips[svc_name] = ip
            return ip
        return None

    async def _sync_node_endpoints(self, svc_name: str) -> bool:
        """§9.3: the Endpoints of a selector-less node Service follow the vCluster Service's (its
        `https` port as `kubelet`). While the vCluster Service has none (the virtual API server
        runs outside the host, so nothing selects it), they name the virtual API server itself, as
        `default/kubernetes` then does: its fake kubelet answers a node's address (§8.9). vCluster's
        Service always selects its pod. False when the host refused (logged; the node is synced
        all the same)."""
        ctx = self.engine.ctx
        source = self.vc_endpoints.get(ctx.vcluster, ctx.host_namespace)
        if source is None and self.engine.api_address:
            source = endpoints.api_server_endpoints(self.engine.api_address, self.engine.api_port)
        if source is None:
            return True
        want = noderes.node_service_endpoints(ctx, svc_name, source)
        href = f"{ctx.host_namespace}/{svc_name}"
        try:
            try:
                cur = await self.engine.host.get("v1", "endpoints", svc_name, ctx.host_namespace)
            except ApiError as e:
                if not e.not_found:
                    raise
                cur = None
            if cur is None:
                await self.engine.writer.create_host(kinds.ENDPOINTS, want)
                log_decision(log, "Create host", NODE_ENDPOINTS, svc_name, href)
            elif (cur.get("subsets") or []) != (want.get("subsets") or []):
                patch = {"subsets": want.get("subsets") or []}
                await self.engine.writer.patch_host(kinds.ENDPOINTS, cur, patch)
                log_decision(log, "Update host", NODE_ENDPOINTS, svc_name, href)
        except ApiError as e:
            if e.conflict or e.already_exists:
                raise  # a concurrent write: the node's reconcile is requeued
            log.warning("cannot write the endpoints %s of a node service: %s", href, e.message)
            return False
        return True

    async def _create_node_service(self, name: str) -> dict[str, Any] | None:
        """Create the node Service of `name` (owned by the vCluster Service); the Service of that
        name when another worker or process was first; None without a vCluster Service."""
        ctx = self.engine.ctx
        vc_svc = await self._host_service(ctx.vcluster)
        if vc_svc is None:
            return None
        body = noderes.node_service(ctx, name, vc_svc)
        href = f"{ctx.host_namespace}/{body['metadata']['name']}"
        try:
            created = await self.engine.writer.create_host(kinds.SERVICE, body)
        except ApiError as e:
            if not e.already_exists:
                raise
            return await self._host_service(body["metadata"]["name"])
        log_decision(log, "Create host", NODE_SERVICE, name, href)
        return created

    async def _delete_node_service(self, name: str, *, only_known: bool = False) -> None:
        """Delete the node Service of `name` if it is this virtual cluster's (§9.3); with
        `only_known`, only when this process uses it (a node deleted by someone else)."""
        ctx = self.engine.ctx
        svc_name = noderes.node_service_name(ctx, name)
        if only_known and svc_name not in self._service_ips and svc_name not in self._orphans:
            return
        self._orphans.discard(svc_name)
        svc = await self._host_service(svc_name)
        if svc is not None and noderes.is_node_service(svc, ctx, name) and not metadata.is_deleting(svc):
            log_decision(
                log,
                "Delete host",
                NODE_SERVICE,
                name,
                f"{ctx.host_namespace}/{svc_name}",
                "because the node is gone",
            )
            d = Delete("host", "node deleted", None, metadata.meta(svc).get("uid"))
            await self.engine.writer.delete(self.engine.host, kinds.SERVICE, svc, d)
        self._service_ips.pop(svc_name, None)

    async def _delete(self, vnode: dict[str, Any]) -> None:
        """Delete a virtual node (UID precondition); nothing when it is going already."""
        if metadata.is_deleting(vnode):
            return
        d = Delete("virtual", "node not needed", None, metadata.meta(vnode).get("uid"))
        await self.engine.writer.delete(self.engine.virtual, noderes.KIND, vnode, d)
