"""The Summary API of a simulated node (kubelet 1.32's `/stats/summary`, stats/v1alpha1 types).

Figures come from `usage.py`, the same numbers the simulated metrics-server reports
(`metrics.py`): a container's `cpu.usageNanoCores` and `memory.workingSetBytes` are its
metrics.k8s.io usage, a pod's are the sum of its containers' (no pod overhead), the node's are
`usage.node_usage` (its Running pods plus the system share). Cumulative CPU
(`usageCoreNanoSeconds`) is that rate integrated since the container's start; the node's counter
keeps what pods that have gone used, so it never goes back (`NodeCounters`). Everything else
(memory cache and RSS, page faults, network bytes, filesystem use, inodes, volume use) is a stable
simulation derived from hashes of the names, growing with time where the kubelet's counters do.
With `only_cpu_and_memory` the answer is GetCPUAndMemoryStats': node cpu/memory/swap, startTime and
system containers, pods with cpu/memory/swap only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.defaults import quantity_value
from vcluster.hostsim.podstatus import parse_time, rfc3339
from vcluster.hostsim.usage import (
    MIB,
    PAGE,
    container_usages,
    fraction,
    node_usage,
    running_containers,
)

JSON = dict[str, Any]
GIB = 1024 * MIB
INODE_BYTES = 16 * 1024  # ext4's default bytes-per-inode ratio
MAX_PID = 4194304  # /proc/sys/kernel/pid_max of a 64-bit kernel
# volumes whose plugin reports metrics (hostPath and the like report none, as upstream)
DISK_VOLUMES = ("emptyDir", "persistentVolumeClaim", "ephemeral")
MEMORY_VOLUMES = ("configMap", "secret", "projected", "downwardAPI")


@dataclass
class NodeShape:
    """What a simulated node has: its name, when its kubelet started, memory and disk capacity."""

    name: str
    boot: float
    memory: int  # bytes
    disk: int  # bytes of the node filesystem (ephemeral-storage capacity)


@dataclass
class NodeCounters:
    """A node's cumulative CPU: what pods that are gone used is kept, so the counter only grows."""

    retired: int = 0  # core-nanoseconds of pods no longer running
    last: dict[str, int] = field(default_factory=dict)  # pod uid -> its counter at the last read

    def update(self, pods: Mapping[str, int]) -> int:
        """The core-nanoseconds of the node's pods now (`pods`: uid -> counter)."""
        for uid, value in self.last.items():
            if uid not in pods:
                self.retired += value
        self.last = dict(pods)
        return self.retired + sum(pods.values())


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _stable(scale: int, *parts: str) -> int:
    return int(scale * fraction(*parts))


def container_start(pod: Mapping[str, Any], name: str, pod_start: float) -> float:
    """When the container (app or sidecar) last started: its status, else the pod's start."""
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(key) or []:
            if isinstance(cs, dict) and cs.get("name") == name:
                running = ((cs.get("state") or {}).get("running")) or {}
                at = parse_time(running.get("startedAt"))
                if at is not None:
                    return pod_start if abs(at - pod_start) < 1.0 else at
    return pod_start


def _cpu(ts: str, nanocores: int, since: float, now: float) -> JSON:
    return {
        "time": ts,
        "usageNanoCores": nanocores,
        "usageCoreNanoSeconds": int(nanocores * max(0.0, now - since)),
    }


def _memory(ts: str, working_set: int, since: float, now: float, key: str, limit: int | None) -> JSON:
    """MemoryStats around a working set: page cache on top of it, RSS below, faults growing."""
    cache = (working_set // 4 + _stable(8 * MIB, key, "cache")) // PAGE * PAGE
    out: JSON = {"time": ts}
    if limit:
        out["availableBytes"] = max(0, limit - working_set)
    age = max(0.0, now - since)
    out.update(
        {
            "usageBytes": working_set + cache,
            "workingSetBytes": working_set,
            "rssBytes": working_set * 4 // 5 // PAGE * PAGE,
            "pageFaults": int(age * (20 + 80 * fraction(key, "faults"))) + working_set // PAGE,
            "majorPageFaults": int(age / 600) + _stable(20, key, "major"),
        }
    )
    return out


def _swap(ts: str) -> JSON:
    return {"time": ts, "swapUsageBytes": 0}  # the simulated nodes have no swap


def _fs(ts: str, capacity: int, used: int, node_used: int, inodes_used: int, key: str) -> JSON:
    """FsStats on a filesystem of `capacity` of which `node_used` is used in all, `used` by this."""
    inodes = capacity // INODE_BYTES
    all_inodes = min(inodes, node_used // (64 * 1024) + _stable(50_000, key, "inodes"))
    return {
        "time": ts,
        "availableBytes": max(0, capacity - node_used),
        "capacityBytes": capacity,
        "usedBytes": used,
        "inodesFree": max(0, inodes - all_inodes),
        "inodes": inodes,
        "inodesUsed": inodes_used,
    }


def _network(ts: str, key: str, since: float, now: float, rate: float) -> JSON:
    """NetworkStats of eth0: bytes growing at a stable rate (bytes per second) since `since`."""
    age = max(0.0, now - since)
    eth0 = {
        "name": "eth0",
        "rxBytes": int(age * rate * (0.5 + fraction(key, "rx"))),
        "rxErrors": 0,
        "txBytes": int(age * rate * (0.3 + fraction(key, "tx"))),
        "txErrors": 0,
    }
    return {"time": ts, **eth0, "interfaces": [dict(eth0)]}


class SummaryBuilder:
    """Summaries of one node's pods (`pod_start` gives when a pod's containers started;
    `log_bytes(pod, container, now)` how much the container has logged)."""

    def __init__(
        self,
        shape: NodeShape,
        counters: NodeCounters,
        pod_start: Callable[[Mapping[str, Any]], float | None],
        log_bytes: Callable[[Mapping[str, Any], str, float], int] | None = None,
    ) -> None:
        self.shape = shape
        self.counters = counters
        self.pod_start = pod_start
        self.log_bytes = log_bytes or (lambda _p, _c, _t: 0)

    def summary(self, pods: list[Mapping[str, Any]], now: float, *, only_cpu_and_memory: bool) -> JSON:
        """The Summary of the node running `pods` (its Running pods) at `now`: usage and counters at
        whole seconds, as metav1.Time carries their `time`, so that counters and times agree; log
        sizes at `now` itself, as the kubelet runs `du` on the log files when asked
        (hostStatsProvider.getPodContainerLogStats), so a log already served is never counted empty."""
        measured = now
        now = float(math.floor(now))
        ts = rfc3339(now)
        pods = sorted(pods, key=lambda p: (_meta(p).get("namespace", ""), _meta(p).get("name", "")))
        pod_stats = [self._pod(p, ts, now, measured, only_cpu_and_memory) for p in pods]
        return {"node": self._node(pods, pod_stats, ts, now, only_cpu_and_memory), "pods": pod_stats}

    # ------------------------------------------------------------------ node
    def _node(
        self, pods: list[Mapping[str, Any]], stats: list[JSON], ts: str, now: float, brief: bool
    ) -> JSON:
        s = self.shape
        cpu, memory = node_usage(s.name, pods)
        pods_cpu = sum(p["cpu"]["usageNanoCores"] for p in stats)
        pods_mem = sum(p["memory"]["workingSetBytes"] for p in stats)
        counters = {p["podRef"]["uid"]: p["cpu"]["usageCoreNanoSeconds"] for p in stats}
        system_cpu = cpu - pods_cpu
        pods_cumulative = self.counters.update(counters)
        cumulative = pods_cumulative + int(system_cpu * max(0.0, now - s.boot))
        pods_cgroup = (pods_cpu, pods_cumulative, pods_mem)
        node: JSON = {
            "nodeName": s.name,
            "systemContainers": self._system(ts, now, system_cpu, memory - pods_mem, pods_cgroup),
            "startTime": rfc3339(s.boot),
            "cpu": {"time": ts, "usageNanoCores": cpu, "usageCoreNanoSeconds": cumulative},
            "memory": _memory(ts, memory, s.boot, now, s.name, s.memory),
        }
        if not brief:
            used = self._disk_used(stats)
            node["network"] = self._node_network(ts, now)
            node["fs"] = _fs(ts, s.disk, used, used, _stable(200_000, s.name, "node-inodes") + 50_000, s.name)
            image = _stable(4 * GIB, s.name, "images") + GIB
            node["runtime"] = {
                "imageFs": _fs(ts, s.disk, image, used, _stable(60_000, s.name, "image-inodes"), s.name),
                "containerFs": _fs(ts, s.disk, image, used, _stable(60_000, s.name, "image-inodes"), s.name),
            }
            node["rlimit"] = {
                "time": ts,
                "maxpid": MAX_PID,
                "curproc": 180 + _stable(60, s.name) + 3 * len(pods),
            }
        node["swap"] = _swap(ts)
        return node

    def _system(
        self, ts: str, now: float, sys_cpu: int, sys_mem: int, pods: tuple[int, int, int]
    ) -> list[JSON]:
        """The kubelet, runtime and pods cgroups (the system share split between kubelet and runtime;
        `pods`: the pods' nanocores, cumulative core-nanoseconds and working set)."""
        s = self.shape
        kubelet_cpu = sys_cpu * 3 // 5
        kubelet_mem = sys_mem * 3 // 5 // PAGE * PAGE
        up = max(0.0, now - s.boot)
        out = []
        for name, cpu, cumulative, mem in (
            ("kubelet", kubelet_cpu, int(kubelet_cpu * up), kubelet_mem),
            ("runtime", sys_cpu - kubelet_cpu, int((sys_cpu - kubelet_cpu) * up), sys_mem - kubelet_mem),
            ("pods", *pods),
        ):
            key = f"{s.name}/{name}"
            out.append(
                {
                    "name": name,
                    "startTime": rfc3339(s.boot),
                    "cpu": {"time": ts, "usageNanoCores": cpu, "usageCoreNanoSeconds": cumulative},
                    "memory": _memory(ts, mem, s.boot, now, key, s.memory if name == "pods" else None),
                    "swap": _swap(ts),
                }
            )
        return out

    def _node_network(self, ts: str, now: float) -> JSON:
        """The node's interfaces: counters at a steady rate since boot, so they never go back."""
        s = self.shape
        return _network(ts, s.name, s.boot, now, 2000.0 + 1000.0 * fraction(s.name, "net-rate"))

    def _base_disk(self) -> int:
        """Bytes the system (OS, images, kubelet state) uses on the node filesystem."""
        return 6 * GIB + _stable(4 * GIB, self.shape.name, "disk")

    def _disk_used(self, stats: list[JSON]) -> int:
        """Bytes used on the node filesystem: the system's plus the pods' ephemeral storage."""
        return self._base_disk() + sum((p.get("ephemeral-storage") or {}).get("usedBytes", 0) for p in stats)

    # ------------------------------------------------------------------ pods
    def _pod(self, pod: Mapping[str, Any], ts: str, now: float, measured: float, brief: bool) -> JSON:
        md = _meta(pod)
        uid = str(md.get("uid", ""))
        status = pod.get("status") or {}
        start = self.pod_start(pod) or parse_time(status.get("startTime")) or now
        sandbox = parse_time(status.get("startTime")) or start
        containers: list[JSON] = []
        cpu_total = mem_total = pod_cumulative = 0
        specs = {str(c.get("name", "")): c for c in running_containers(pod)}
        for name, cpu, mem in container_usages(pod):
            since = container_start(pod, name, start)
            c = {
                "name": name,
                "startTime": rfc3339(since),
                "cpu": _cpu(ts, cpu, since, now),
                "memory": _memory(ts, mem, since, now, f"{uid}/{name}", _limit(specs.get(name))),
            }
            if not brief:
                c["rootfs"], c["logs"] = self._container_fs(pod, name, ts, measured)
            c["swap"] = _swap(ts)
            containers.append(c)
            cpu_total += cpu
            mem_total += mem
            pod_cumulative += int(cpu * max(0.0, now - start))
        out: JSON = {
            "podRef": {"name": md.get("name", ""), "namespace": md.get("namespace", ""), "uid": uid},
            "startTime": rfc3339(sandbox),
            "containers": containers,
            "cpu": {"time": ts, "usageNanoCores": cpu_total, "usageCoreNanoSeconds": pod_cumulative},
            "memory": _memory(ts, mem_total, start, now, uid, None),
        }
        if not brief:
            if (pod.get("spec") or {}).get("hostNetwork") is True:
                out["network"] = self._node_network(ts, now)  # the sandbox is in the node's netns
            else:
                out["network"] = _network(ts, uid, start, now, 200.0 + 800.0 * fraction(uid, "net"))
            volumes = self._volumes(pod, ts)
            if volumes:
                out["volume"] = [v for v, _ in volumes]
            out["ephemeral-storage"] = self._ephemeral(containers, volumes, ts, uid)
            out["process_stats"] = {"process_count": len(containers) + _stable(3, uid, "procs")}
        out["swap"] = _swap(ts)
        return out

    def _container_fs(self, pod: Mapping[str, Any], name: str, ts: str, measured: float) -> tuple[JSON, JSON]:
        """The container's writable layer and its log files (their size at `measured`)."""
        key = f"{_meta(pod).get('uid', '')}/{name}"
        disk = self.shape.disk
        rootfs = PAGE * (8 + _stable(2048, key, "rootfs"))
        logs = self.log_bytes(pod, name, measured)
        node_used = self._base_disk()
        return (
            _fs(ts, disk, rootfs, node_used, 8 + _stable(200, key, "rootfs-inodes"), self.shape.name),
            _fs(ts, disk, logs, node_used, 1, self.shape.name),
        )

    def _volumes(self, pod: Mapping[str, Any], ts: str) -> list[tuple[JSON, bool]]:
        """VolumeStats of the pod's volumes whose plugin measures them, each with whether it is
        ephemeral storage (an emptyDir on the node disk)."""
        uid = str(_meta(pod).get("uid", ""))
        ns = str(_meta(pod).get("namespace", ""))
        out = []
        for v in (pod.get("spec") or {}).get("volumes") or []:
            if not isinstance(v, dict) or not v.get("name"):
                continue
            kind = next((k for k in (*DISK_VOLUMES, *MEMORY_VOLUMES) if isinstance(v.get(k), dict)), None)
            if kind is None:
                continue
            key = f"{uid}/{v['name']}"
            memory_backed = kind in MEMORY_VOLUMES or (v.get("emptyDir") or {}).get("medium") == "Memory"
            capacity = self.shape.memory if memory_backed else self.shape.disk
            used = PAGE * (1 + _stable(16 if memory_backed else 4096, key, "used"))
            node_used = used if memory_backed else self._base_disk()
            stats: JSON = _fs(ts, capacity, used, node_used, 3 + _stable(20, key), key)
            stats["name"] = v["name"]
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if kind == "ephemeral":
                claim = f"{_meta(pod).get('name', '')}-{v['name']}"
            if claim:
                stats["pvcRef"] = {"name": claim, "namespace": ns}
            out.append((stats, kind == "emptyDir" and not memory_backed))
        return out

    def _ephemeral(self, containers: list[JSON], volumes: list[tuple[JSON, bool]], ts: str, uid: str) -> JSON:
        """Ephemeral storage: the containers' rootfs and logs plus the node-disk emptyDirs."""
        used = sum(c["rootfs"]["usedBytes"] + c["logs"]["usedBytes"] for c in containers)
        inodes = sum(c["rootfs"]["inodesUsed"] + c["logs"]["inodesUsed"] for c in containers)
        for v, local in volumes:
            if local:
                used += v["usedBytes"]
                inodes += v["inodesUsed"]
        return _fs(ts, self.shape.disk, used, self._base_disk(), inodes, uid)


def _limit(container: Mapping[str, Any] | None) -> int | None:
    """The container's memory limit in bytes (its cgroup limit), if any."""
    res = (container or {}).get("resources") or {}
    q = quantity_value(((res.get("limits") or {}) if isinstance(res, dict) else {}).get("memory"))
    return int(q) if q is not None and q > 0 else None
