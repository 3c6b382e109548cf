"""What each simulated node's kubelet endpoint knows of its own node: its pods (`/pods`), its Summary
(`/stats/summary`), its Prometheus series (`/metrics`, `/metrics/resource`, `/metrics/cadvisor`,
`/metrics/probes`) and its configuration (`/configz`). The figures are read from the same informers and
usage model as the simulated metrics-server (`hostsim/metrics.py`), so `kubectl top` and the kubelet
agree."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vcluster.apiserver.defaults import quantity_value
from vcluster.apiserver.quantityfmt import go_duration
from vcluster.hostsim.kubelet import container_started_at
from vcluster.hostsim.kubeletcadvisor import Machine, cadvisor_metrics
from vcluster.hostsim.kubeletmetrics import kubelet_metrics, probe_metrics, resource_metrics
from vcluster.hostsim.kubeletserver import LogRequestError, log_source
from vcluster.hostsim.kubeletstats import NodeCounters, NodeShape, SummaryBuilder
from vcluster.hostsim.nodes import KERNEL, OS_IMAGE, machine_ids

if TYPE_CHECKING:
    from vcluster.hostsim.sim import HostSim

JSON = dict[str, Any]
_SAMPLE_LINES = 8  # lines whose length estimates a log's size


def _bytes(quantity: str) -> int:
    q = quantity_value(quantity)
    return int(q) if q is not None and q > 0 else 0


class NodeViews:
    """The per-node kubelet views of a running `HostSim`."""

    def __init__(self, sim: HostSim, clock: Any = time.time) -> None:
        self.sim = sim
        self.clock = clock
        self.boot = clock()  # the kubelets' (and their nodes') start
        self._counters: dict[str, NodeCounters] = {}

    # ------------------------------------------------------------------ pods
    def pods(self, node: str) -> list[dict[str, Any]]:
        """Every pod bound to `node` (the kubelet's `/pods`: what its pod manager holds)."""
        kubelet = self.sim.kubelet
        pods = kubelet.running_pods() if kubelet is not None else []
        return [p for p in pods if (p.get("spec") or {}).get("nodeName") == node]

    def running(self, node: str) -> list[dict[str, Any]]:
        """The node's Running pods: the ones with usage (as `HostMetrics` counts them)."""
        return [p for p in self.pods(node) if (p.get("status") or {}).get("phase") == "Running"]

    def _pod_start(self, pod: Mapping[str, Any]) -> float | None:
        kubelet = self.sim.kubelet
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        at = kubelet.started_at(uid) if kubelet is not None else None
        return at if at is not None else container_started_at(dict(pod))

    def _log_bytes(self, pod: Mapping[str, Any], container: str, now: float) -> int:
        """The size of the container's generated log so far (its line count times the mean length
        of its first lines)."""
        try:
            src = log_source(
                dict(pod),
                container,
                previous=False,
                interval=self.sim.config.log_line_seconds,
                started=self._pod_start(pod),
            )
        except LogRequestError:
            return 0
        n = src.count(now)
        if n == 0:
            return 0
        sample = [len(src.line(i)[1]) + 1 for i in range(min(n, _SAMPLE_LINES))]
        return n * sum(sample) // len(sample)

    # ------------------------------------------------------------------ stats
    def shape(self, node: str) -> NodeShape:
        cfg = self.sim.config
        return NodeShape(node, self.boot, _bytes(cfg.memory), _bytes(cfg.ephemeral_storage))

    def summary(
        self, node: str, *, only_cpu_and_memory: bool = False, pods: list[dict[str, Any]] | None = None
    ) -> JSON:
        counters = self._counters.setdefault(node, NodeCounters())
        builder = SummaryBuilder(self.shape(node), counters, self._pod_start, self._log_bytes)
        running = self.running(node) if pods is None else pods
        return builder.summary(running, self.clock(), only_cpu_and_memory=only_cpu_and_memory)

    def resource_metrics(self, node: str) -> str:
        return resource_metrics(self.summary(node, only_cpu_and_memory=True))

    def cadvisor_metrics(self, node: str) -> str:
        """`/metrics/cadvisor`: the cgroups of the node's full Summary, at the same moment."""
        cfg = self.sim.config
        cores = quantity_value(cfg.cpu)
        machine = Machine(
            cores=max(1, int(cores)) if cores is not None else 1,
            memory=_bytes(cfg.memory),
            boot=self.boot,
            ids=machine_ids(node),
            kernel=KERNEL,
            os_image=OS_IMAGE,
        )
        pods = self.running(node)
        summary = self.summary(node, pods=pods)
        return cadvisor_metrics(summary, pods, machine, self.clock())

    def probe_metrics(self, node: str) -> str:
        return probe_metrics(self.boot)

    def metrics(self, node: str, requests: Mapping[tuple[str, str, str], int]) -> str:
        return kubelet_metrics(node, self.pods(node), requests, self.sim.version, self.boot)

    def configz(self, node: str, port: int) -> JSON:
        """`/configz`: the kubelet's KubeletConfiguration (the settings the simulation has)."""
        cfg = self.sim.config
        return {
            "kubeletconfig": {
                "enableServer": True,
                "staticPodPath": "/etc/kubernetes/manifests",
                "podLogsDir": "/var/log/pods",
                "syncFrequency": "1m0s",
                "fileCheckFrequency": "20s",
                "httpCheckFrequency": "20s",
                "address": cfg.kubelet_bind,
                "port": port,
                "rotateCertificates": True,
                "authentication": {
                    "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
                    "webhook": {"enabled": False, "cacheTTL": "2m0s"},
                    "anonymous": {"enabled": False},
                },
                "authorization": {"mode": "AlwaysAllow", "webhook": {}},
                "registryPullQPS": 5,
                "registryBurst": 10,
                "eventRecordQPS": 50,
                "eventBurst": 100,
                "enableDebuggingHandlers": True,
                "healthzPort": port,
                "healthzBindAddress": cfg.kubelet_bind,
                "oomScoreAdj": -999,
                "clusterDomain": "cluster.local",
                "clusterDNS": ["10.96.0.10"],
                "streamingConnectionIdleTimeout": "4h0m0s",
                "nodeStatusUpdateFrequency": "10s",
                "nodeStatusReportFrequency": go_duration(cfg.node_status_seconds),
                "nodeLeaseDurationSeconds": cfg.lease_duration,
                "imageMinimumGCAge": "2m0s",
                "imageGCHighThresholdPercent": 85,
                "imageGCLowThresholdPercent": 80,
                "volumeStatsAggPeriod": "1m0s",
                "cgroupsPerQOS": True,
                "cgroupDriver": "systemd",
                "cpuManagerPolicy": "none",
                "memoryManagerPolicy": "None",
                "topologyManagerPolicy": "none",
                "runtimeRequestTimeout": "2m0s",
                "hairpinMode": "promiscuous-bridge",
                "maxPods": cfg.pods,
                "podPidsLimit": -1,
                "resolvConf": "/run/systemd/resolve/resolv.conf",
                "cpuCFSQuota": True,
                "cpuCFSQuotaPeriod": "100ms",
                "maxOpenFiles": 1000000,
                "contentType": "application/vnd.kubernetes.protobuf",
                "kubeAPIQPS": 50,
                "kubeAPIBurst": 100,
                "serializeImagePulls": True,
                "evictionHard": {
                    "imagefs.available": "15%",
                    "imagefs.inodesFree": "5%",
                    "memory.available": "100Mi",
                    "nodefs.available": "10%",
                    "nodefs.inodesFree": "5%",
                },
                "evictionPressureTransitionPeriod": "5m0s",
                "enableControllerAttachDetach": True,
                "makeIPTablesUtilChains": True,
                "failSwapOn": True,
                "memorySwap": {},
                "containerLogMaxSize": "10Mi",
                "containerLogMaxFiles": 5,
                "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
                "enableSystemLogHandler": True,
                "shutdownGracePeriod": "0s",
                "shutdownGracePeriodCriticalPods": "0s",
                "registerNode": True,
                "localStorageCapacityIsolation": True,
            }
        }
