"""Nodes come from the host (spec §9): a fake virtual node for every host node a virtual pod runs
on (the default), or the real host nodes when `sync.fromHost.nodes.enabled`. Nodes nobody needs
any more are deleted."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, WorkQueue
from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.resources import node as noderes

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.node")
BY_NODE = "spec.nodeName"


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
        for inf in (self.vpods, self.hpods):
            inf.add_handler(self._on_pod)
            with contextlib.suppress(ValueError):  # shared informers: another part may have it
                inf.add_index(BY_NODE, _node_of)
        self.vnodes.add_handler(lambda ev, obj, old: self.queue.add(metadata.meta(obj).get("name", "")))
        if self.hnodes is not None:
            self.hnodes.add_handler(lambda ev, obj, old: self.queue.add(metadata.meta(obj).get("name", "")))

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
        """Create the virtual node for `name` now (a pod is about to be bound to it)."""
        if not self.exists(name):
            await self.reconcile(name, force=True)

    def _needed(self, name: str) -> bool:
        ctx = self.engine.ctx
        # lazily: node_needed stops at the first pod that keeps the node (usually the first one)
        hpods = (p for p in self.hpods.iter_index(BY_NODE, name) if metadata.is_managed(p, ctx, kinds.POD))
        return noderes.node_needed(name, self.vpods.iter_index(BY_NODE, name), hpods)

    async def run(self, workers: int) -> None:
        await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=workers)

    async def reconcile(self, name: str, force: bool = False) -> None:
        ctx, w = self.engine.ctx, self.engine.writer
        vnode = self.vnodes.get(name)
        needed = force or self._needed(name)
        if ctx.real_nodes and self.hnodes is not None:
            hnode = self.hnodes.get(name)
            selected = hnode is not None and (ctx.node_selector_all or needed or self._selected(hnode))
            if not selected:
                if vnode is not None:
                    log.info("delete virtual node %s, because there is no virtual pod with that node", name)
                    await self._delete(name)
                return
            if vnode is None:
                await self._create(noderes.real_node(hnode, ctx, None))
            else:
                patch, status_patch = noderes.real_node_update(vnode, hnode, ctx)
                if patch:
                    vnode = await w.patch_virtual(noderes.KIND, vnode, patch)
                if status_patch:
                    await w.patch_virtual(noderes.KIND, vnode, status_patch, status=True)
            return
        if not needed:
            if vnode is not None and metadata.labels_of(vnode).get(c.FAKE_NODE_LABEL) == "true":
                log.info("Delete fake node %s as it is not needed anymore", name)
                await self._delete(name)
                await self._delete_node_service(name)
            return
        ip = await self._node_service_ip(name) if ctx.proxy_kubelets_by_ip else None
        if vnode is None:
            from vcluster.controllers.base import fmt_time, utcnow

            if await self._create(noderes.fake_node(name, ctx, now=fmt_time(utcnow()), node_service_ip=ip)):
                log.info("Create fake node %s", name)
            return
        if not (vnode.get("status") or {}).get("nodeInfo"):
            # the status written right after the create was lost to a concurrent write: write it all
            from vcluster.controllers.base import fmt_time, utcnow

            want = noderes.fake_node(name, ctx, now=fmt_time(utcnow()), node_service_ip=ip)["status"]
            await w.patch_virtual(noderes.KIND, vnode, {"status": want}, status=True)
            return
        patch = noderes.fake_node_status_patch(vnode, ctx, ip)
        if patch:
            await w.patch_virtual(noderes.KIND, vnode, patch, status=True)

    def _selected(self, hnode: dict[str, Any]) -> bool:
        want = self.engine.ctx.node_selector_labels
        labels = metadata.labels_of(hnode)
        return bool(want) and all(labels.get(k) == v for k, v in want.items())

    async def _create(self, node: dict[str, Any]) -> bool:
        """Create a virtual node with its status; False when another worker was first."""
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

    async def _node_service_ip(self, name: str) -> str | None:
        """The ClusterIP of the host Service proxying this node's kubelet (spec §9.3), created when
        missing; it is the fake node's InternalIP."""
        ctx, host = self.engine.ctx, self.engine.host
        svc_name = noderes.node_service_name(ctx, name)
        if svc_name in self._service_ips:
            return self._service_ips[svc_name]
        try:
            svc = await host.get("v1", "services", svc_name, ctx.host_namespace)
        except ApiError as e:
            if not e.not_found:
                raise
            try:
                vc_svc = await host.get("v1", "services", ctx.vcluster, ctx.host_namespace)
            except ApiError as e2:
                if not e2.not_found:
                    raise
                return None
            try:
                body = noderes.node_service(ctx, name, vc_svc)
                svc = await self.engine.writer.create_host(kinds.SERVICE, body)
            except ApiError as e3:
                if not e3.already_exists:
                    raise
                svc = await host.get("v1", "services", svc_name, ctx.host_namespace)
        ip = (svc.get("spec") or {}).get("clusterIP") or None
        if ip:
            self._service_ips[svc_name] = ip
        return ip

    async def _delete_node_service(self, name: str) -> None:
        ctx = self.engine.ctx
        svc_name = noderes.node_service_name(ctx, name)
        self._service_ips.pop(svc_name, None)
        try:
            await self.engine.host.delete("v1", "services", svc_name, ctx.host_namespace)
        except ApiError as e:
            if not e.not_found:
                raise

    async def _delete(self, name: str) -> None:
        try:
            await self.engine.virtual.delete("v1", "nodes", name)
        except ApiError as e:
            if not e.not_found:
                raise
