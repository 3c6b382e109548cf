"""The simulated host's metrics-server: `metrics.k8s.io` figures of the simulated nodes and their pods.

`HostMetrics` is the `MetricsSource` the host API server serves (`apiserver/metricsapi.py`) while
the simulated kubelets run in its process. It reads HostSim's pod and node informers: pods in phase
Running on a simulated node have metrics once metrics-server would have two scrapes of them
(`usage.pod_window`), nodes from its second scrape on; the figures come from `usage.py`. Items
carry the pod's or node's labels and a creationTimestamp of now, as metrics-server's do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vcluster.apiserver.metricsapi import (
    Item,
    no_node_metrics,
    no_pod_metrics,
    node_not_found,
    pod_not_found,
)
from vcluster.apiserver.quantityfmt import cpu_string, go_duration, memory_string
from vcluster.apiserver.selectors import FieldSelector, LabelSelector
from vcluster.hostsim.kubelet import container_started_at
from vcluster.hostsim.podstatus import rfc3339
from vcluster.hostsim.usage import container_usages, node_usage, node_window, pod_window

if TYPE_CHECKING:
    from vcluster.hostsim.sim import HostSim


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _fields(obj: dict[str, Any], namespaced: bool) -> dict[str, str]:
    """generic.AddObjectMetaFieldsSet of the pod or node."""
    m = _meta(obj)
    out = {"metadata.name": m.get("name") or ""}
    if namespaced:
        out["metadata.namespace"] = m.get("namespace") or ""
    return out


def _object_meta(obj: dict[str, Any], now: float, namespaced: bool) -> dict[str, Any]:
    m = _meta(obj)
    out: dict[str, Any] = {"name": m.get("name", "")}
    if namespaced:
        out["namespace"] = m.get("namespace", "")
    out["creationTimestamp"] = rfc3339(now)
    if m.get("labels"):
        out["labels"] = dict(m["labels"])
    return out


class HostMetrics:
    """Usage of the simulated nodes and their Running pods, on metrics-server's scrape timing."""

    def __init__(self, sim: HostSim, resolution: float, clock: Callable[[], float] = time.time) -> None:
        self.sim = sim
        self.resolution = resolution
        self.clock = clock
        self.epoch = clock()  # metrics-server's start: its first scrape

    # ------------------------------------------------------------------ lookups
    def _pods(self, namespace: str | None) -> list[dict[str, Any]]:
        inf = self.sim.pod_informer
        return inf.list(namespace) if inf is not None else []

    def _simulated(self, node: str) -> bool:
        return self.sim.nodes is not None and node in self.sim.nodes.nodes

    def _on_simulated_node(self, pod: dict[str, Any]) -> bool:
        return self._simulated((pod.get("spec") or {}).get("nodeName") or "")

    @staticmethod
    def _running(pod: dict[str, Any]) -> bool:
        return (pod.get("status") or {}).get("phase") == "Running"

    def _started(self, pod: dict[str, Any]) -> float | None:
        kubelet = self.sim.kubelet
        uid = _meta(pod).get("uid", "")
        at = kubelet.started_at(uid) if kubelet is not None else None
        return at if at is not None else container_started_at(pod)

    # ------------------------------------------------------------------ items
    def pod_item(self, pod: dict[str, Any], now: float) -> Item | None:
        """The PodMetrics of a pod, or None while it has none."""
        if not self._running(pod) or not self._on_simulated_node(pod):
            return None
        started = self._started(pod)
        when = pod_window(started, now, self.epoch, self.resolution) if started is not None else None
        if when is None:
            return None
        containers = [
            {"name": name, "usage": {"cpu": cpu_string(cpu), "memory": memory_string(mem)}}
            for name, cpu, mem in container_usages(pod)
        ]
        return {
            "metadata": _object_meta(pod, now, True),
            "timestamp": rfc3339(when[0]),
            "window": go_duration(when[1]),
            "containers": containers,
        }

    def _pods_by_node(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for p in self._pods(None):
            if self._running(p):
                out.setdefault((p.get("spec") or {}).get("nodeName") or "", []).append(p)
        return out

    def node_item(self, node: dict[str, Any], now: float, pods: list[dict[str, Any]]) -> Item | None:
        """The NodeMetrics of a simulated node running `pods`, or None while it has none."""
        name = _meta(node).get("name", "")
        when = node_window(now, self.epoch, self.resolution)
        if when is None or not self._simulated(name):
            return None
        cpu, mem = node_usage(name, pods)
        return {
            "metadata": _object_meta(node, now, False),
            "timestamp": rfc3339(when[0]),
            "window": go_duration(when[1]),
            "usage": {"cpu": cpu_string(cpu), "memory": memory_string(mem)},
        }

    # ------------------------------------------------------------------ MetricsSource
    async def pod_metrics(self, namespace: str, labels: LabelSelector, fields: FieldSelector) -> list[Item]:
        now = self.clock()
        out = []
        for pod in self._pods(namespace or None):
            if not labels.matches(_meta(pod).get("labels")) or not fields.matches(_fields(pod, True)):
                continue
            item = self.pod_item(pod, now)
            if item is not None:
                out.append(item)
        out.sort(key=lambda i: (i["metadata"]["namespace"], i["metadata"]["name"]))
        return out

    async def pod_metric(self, namespace: str, name: str) -> Item:
        inf = self.sim.pod_informer
        pod = inf.get(name, namespace) if inf is not None else None
        if pod is None:
            raise pod_not_found(name)
        item = self.pod_item(pod, self.clock())
        if item is None:
            raise no_pod_metrics(namespace, name)
        return item

    async def node_metrics(self, labels: LabelSelector, fields: FieldSelector) -> list[Item]:
        inf = self.sim.node_informer
        now = self.clock()
        by_node = self._pods_by_node()
        out = []
        for node in inf.list() if inf is not None else []:
            if not labels.matches(_meta(node).get("labels")) or not fields.matches(_fields(node, False)):
                continue
            item = self.node_item(node, now, by_node.get(_meta(node).get("name", ""), []))
            if item is not None:
                out.append(item)
        out.sort(key=lambda i: i["metadata"]["name"])
        return out

    async def node_metric(self, name: str) -> Item:
        inf = self.sim.node_informer
        node = inf.get(name) if inf is not None else None
        if node is None:
            raise node_not_found(name)
        item = self.node_item(node, self.clock(), self._pods_by_node().get(name, []))
        if item is None:
            raise no_node_metrics(name)
        return item
