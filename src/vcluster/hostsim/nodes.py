"""The simulated nodes: registration (Node objects), status heartbeats and Leases in kube-node-lease."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vcluster.client import ApiError, Client
from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.events import EventRecorder, Source
from vcluster.hostsim.ipam import NodeIPAM
from vcluster.hostsim.podstatus import micro_time, rfc3339
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.hostsim.nodes")

LEASE_NAMESPACE = "kube-node-lease"
CONTAINER_RUNTIME = "containerd://1.7.24"
KERNEL = "6.8.0-hostsim"
OS_IMAGE = "Debian GNU/Linux 12 (bookworm)"
_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


@dataclass
class SimNode:
    """One simulated node: its name, number, pod CIDR, addresses and IP allocator."""

    name: str
    index: int
    address: str
    cidr: str
    ipam: NodeIPAM = field(init=False)
    uid: str = ""
    conditions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ipam = NodeIPAM(self.cidr)


def node_cidr(index: int) -> str:
    """The pod CIDR of node number `index`: 10.244.<i>.0/24, continuing into 10.245-10.255 and then
    100.64.0.0/10 for very large simulations."""
    if index < 12 * 256:
        return f"10.{244 + index // 256}.{index % 256}.0/24"
    j = index - 12 * 256
    return f"100.{64 + j // 256}.{j % 256}.0/24"


def _uuid(name: str, kind: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{name}.hostsim.vcluster"))


def machine_ids(name: str) -> tuple[str, str, str]:
    """(machineID, systemUUID, bootID) of a simulated node, as its nodeInfo and cAdvisor show them."""
    return _uuid(name, "machine").replace("-", ""), _uuid(name, "system"), _uuid(name, "boot")


class NodeManager:
    """Registers the simulated nodes and keeps their status and Leases fresh."""

    def __init__(
        self,
        client: Client,
        config: HostSimConfig,
        *,
        address: str,
        kubelet_port: int,
        version: str,
        events: EventRecorder,
        kubelet_ports: Mapping[str, int] | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.address = address
        self.kubelet_port = kubelet_port
        # each node's own kubelet port (the kubelet server listens on one per node), else the shared one
        self.kubelet_ports = dict(kubelet_ports or {})
        self.version = version
        self.events = events
        self.nodes: dict[str, SimNode] = {
            name: SimNode(name, i, address, node_cidr(i)) for i, name in enumerate(config.node_names(), 1)
        }
        self._tasks: list[asyncio.Task[None]] = []
        self.lease_renewals = 0
        self.status_updates = 0

    # ------------------------------------------------------------------ objects
    def labels(self, node: SimNode) -> dict[str, str]:
        return {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node.name,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": self.config.instance_type,
            **self.config.node_labels,
        }

    def capacity(self) -> dict[str, str]:
        return {
            "cpu": self.config.cpu,
            "ephemeral-storage": self.config.ephemeral_storage,
            "hugepages-1Gi": "0",
            "hugepages-2Mi": "0",
            "memory": self.config.memory,
            "pods": str(self.config.pods),
        }

    def conditions(self, now: float, old: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        prev = {c.get("type"): c for c in old or [] if isinstance(c, dict)}
        ts = rfc3339(now)
        out = []
        for ctype, status, reason, message in _CONDITIONS:
            p = prev.get(ctype)
            ltt = p.get("lastTransitionTime") if p and p.get("status") == status else ts
            out.append(
                {
                    "type": ctype,
                    "status": status,
                    "lastHeartbeatTime": ts,
                    "lastTransitionTime": ltt or ts,
                    "reason": reason,
                    "message": message,
                }
            )
        return out

    def status(self, node: SimNode, now: float, old: dict[str, Any] | None = None) -> dict[str, Any]:
        cap = self.capacity()
        node.conditions = self.conditions(now, (old or {}).get("conditions"))
        return {
            "capacity": cap,
            "allocatable": dict(cap),
            "conditions": node.conditions,
            "addresses": [
                {"type": "InternalIP", "address": node.address},
                {"type": "Hostname", "address": node.name},
            ],
            "daemonEndpoints": {
                "kubeletEndpoint": {"Port": self.kubelet_ports.get(node.name, self.kubelet_port)}
            },
            "nodeInfo": {
                **dict(zip(("machineID", "systemUUID", "bootID"), machine_ids(node.name), strict=True)),
                "kernelVersion": KERNEL,
                "osImage": OS_IMAGE,
                "containerRuntimeVersion": CONTAINER_RUNTIME,
                "kubeletVersion": self.version,
                "kubeProxyVersion": self.version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def node_object(self, node: SimNode, now: float) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "labels": self.labels(node),
                "annotations": {
                    "node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {"podCIDR": node.cidr, "podCIDRs": [node.cidr], "providerID": f"hostsim://{node.name}"},
            "status": self.status(node, now),
        }

    # ------------------------------------------------------------------ registration
    async def register(self) -> None:
        """Create the nodes (or refresh existing ones: labels, addresses, kubelet port, conditions)."""
        await asyncio.gather(*(self._register(n) for n in self.nodes.values()))
        await asyncio.gather(*(self._renew_lease(n) for n in self.nodes.values()))

    async def _register(self, node: SimNode) -> None:
        now = time.time()
        try:
            existing = await self.client.get("v1", "nodes", node.name)
        except ApiError as e:
            if not e.not_found:
                raise
            existing = None
        if existing is None:
            try:
                created = await self.client.create("v1", "nodes", self.node_object(node, now))
            except ApiError as e:
                if not e.already_exists:
                    raise
                existing = await self.client.get("v1", "nodes", node.name)
            else:
                node.uid = created["metadata"]["uid"]
                await self._ensure_status(node, created, now)
                self._node_events(node, registered=True)
                log.info("registered node %s (%s)", node.name, node.cidr)
                return
        node.uid = existing["metadata"]["uid"]
        patch: dict[str, Any] = {"metadata": {"labels": self.labels(node)}}
        if not (existing.get("spec") or {}).get("podCIDR"):
            patch["spec"] = {"podCIDR": node.cidr, "podCIDRs": [node.cidr]}
        await self.client.patch("v1", "nodes", node.name, patch)
        await self.client.patch(
            "v1",
            "nodes",
            node.name,
            {"status": self.status(node, now, existing.get("status"))},
            subresource="status",
            patch_type="strategic",
        )
        self._node_events(node, registered=False)
        log.info("node %s is back (%s)", node.name, node.cidr)

    async def _ensure_status(self, node: SimNode, created: dict[str, Any], now: float) -> None:
        """Servers that drop status on create get it through the status subresource."""
        endpoints = (created.get("status") or {}).get("daemonEndpoints") or {}
        if (endpoints.get("kubeletEndpoint") or {}).get("Port"):  # kept; a dropped one reads Port 0
            return
        await self.client.patch(
            "v1",
            "nodes",
            node.name,
            {"status": self.status(node, now)},
            subresource="status",
            patch_type="merge",
        )

    def _node_events(self, node: SimNode, *, registered: bool) -> None:
        ref = {"kind": "Node", "name": node.name, "uid": node.name}
        src = Source("kubelet", node.name, node.name)
        self.events.event(ref, "Normal", "Starting", "Starting kubelet.", src)
        for reason in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
            self.events.event(ref, "Normal", reason, f"Node {node.name} status is now: {reason}", src)
        self.events.event(
            ref, "Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", src
        )
        if registered:
            self.events.event(ref, "Normal", "NodeReady", f"Node {node.name} status is now: NodeReady", src)

    # ------------------------------------------------------------------ heartbeats
    def lease_object(self, node: SimNode, now: float) -> dict[str, Any]:
        md: dict[str, Any] = {"name": node.name, "namespace": LEASE_NAMESPACE}
        if node.uid:
            md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node.uid}]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": md,
            "spec": {
                "holderIdentity": node.name,
                "leaseDurationSeconds": self.config.lease_duration,
                "renewTime": micro_time(now),
            },
        }

    async def _renew_lease(self, node: SimNode) -> None:
        now = time.time()
        try:
            await self.client.patch(
                "coordination.k8s.io/v1",
                "leases",
                node.name,
                {"spec": {"holderIdentity": node.name, "renewTime": micro_time(now)}},
                namespace=LEASE_NAMESPACE,
            )
        except ApiError as e:
            if not e.not_found:
                raise
            try:
                await self.client.create(
                    "coordination.k8s.io/v1",
                    "leases",
                    self.lease_object(node, now),
                    namespace=LEASE_NAMESPACE,
                )
            except ApiError as e2:
                if not e2.already_exists:
                    raise
        self.lease_renewals += 1

    async def _heartbeat(self, node: SimNode) -> None:
        conditions = self.conditions(time.time(), node.conditions)
        await self.client.patch(
            "v1",
            "nodes",
            node.name,
            {"status": {"conditions": conditions}},
            subresource="status",
            patch_type="strategic",
        )
        node.conditions = conditions
        self.status_updates += 1

    async def _loop(self, interval: float, fn: Any, what: str) -> None:
        while True:
            await asyncio.sleep(interval)
            results = await asyncio.gather(*(fn(n) for n in self.nodes.values()), return_exceptions=True)
            for n, r in zip(self.nodes.values(), results, strict=True):
                if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError):
                    log.warning("%s of node %s failed: %s", what, n.name, r)
                    if isinstance(r, ApiError) and r.not_found and what == "status update":
                        with contextlib.suppress(Exception):
                            await self._register(n)

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(
                self._loop(self.config.lease_renew_seconds, self._renew_lease, "lease renewal")
            ),
            asyncio.create_task(
                self._loop(self.config.node_status_seconds, self._heartbeat, "status update")
            ),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)
