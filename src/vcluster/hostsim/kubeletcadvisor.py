"""A simulated kubelet's `/metrics/cadvisor`: what kubelet 1.32 serves there (pkg/kubelet/server
server.go) — cAdvisor's PrometheusCollector with the metric sets the kubelet includes (cpu, memory, cpu
load, disk usage and IO, network, process, OOM; no per-cpu usage, so `cpu="total"`) and its
PrometheusMachineCollector, registered raw, so HELP has no stability prefix.

The series are the cgroups cAdvisor tracks on a cgroup v2 node with the systemd driver and containerd:
`/`, `/kubepods.slice`, the burstable and besteffort QoS slices, each pod's slice with its sandbox
(pause) and container scopes (`cri-containerd-<id>.scope`), and the kubelet and containerd services.
Labels are the kubelet's containerPrometheusLabelsFunc: id (the cgroup), name (a runtime container's
ID), image, pod, namespace and container (empty where cAdvisor has none). The figures are the node's
Summary (`kubeletstats.py`), so they agree with `/stats/summary` and `/metrics/resource`: a
container's cpu counter and working set, a pod slice's, `/kubepods.slice` is the `pods` system
container, the services `kubelet` and `runtime`, `/` the node; only the sandbox carries the pod's
network (cAdvisor's containerd handler gives network stats to sandboxes only). Stats samples carry the
Summary's time; spec series (start time, cpu shares/period/quota, memory limits) carry none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.defaults import quantity_value
from vcluster.hostsim.podstatus import container_id, normalize_image, parse_time
from vcluster.hostsim.promtext import Family, render
from vcluster.hostsim.usage import PAGE, fraction

JSON = dict[str, Any]
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
CFS_PERIOD = 100_000  # microseconds, the kernel's default cpu.max period
DISK, PARTITION = "/dev/vda", "/dev/vda1"  # the node's disk and its root filesystem
_MAX_SHARES, _MIN_SHARES = 262_144, 2
_BASE = ("container", "id", "image", "name", "namespace", "pod")


@dataclass
class Machine:
    """What cAdvisor's MachineInfo and VersionInfo say of a node."""

    cores: int
    memory: int  # bytes
    boot: float  # when the kubelet (and its cached MachineInfo) started
    ids: tuple[str, str, str]  # machine_id, system_uuid, boot_id
    kernel: str
    os_image: str


@dataclass
class Cgroup:
    """One cgroup as cAdvisor sees it: its labels, spec and the Summary entry of its stats."""

    id: str
    created: float
    shares: int  # cpu.weight read back as shares (0: no cpu.weight, the root)
    period: int
    quota: int = 0
    memory_limit: int | None = None  # None: no memory.max (the root); 0: unlimited
    stats: JSON = field(default_factory=dict)  # cpu, memory, network, fs, processes (Summary shapes)
    name: str = ""
    image: str = ""
    pod: str = ""
    namespace: str = ""
    container: str = ""
    ulimit: int | None = None  # soft RLIMIT_NOFILE of the root process (runtime containers, `/`)

    def labels(self) -> dict[str, str]:
        values = (self.container, self.id, self.image, self.name, self.namespace, self.pod)
        return dict(zip(_BASE, values, strict=True))


# ------------------------------------------------------------------------------ cgroup v2 cpu values
def milli_to_shares(milli: int) -> int:
    """kubelet's MilliCPUToShares."""
    if milli == 0:
        return _MIN_SHARES
    return max(_MIN_SHARES, min(_MAX_SHARES, milli * 1024 // 1000))


def weight_shares(shares: int) -> int:
    """The shares cAdvisor reports for a cgroup given `shares`: runc writes cpu.weight
    (ConvertCPUSharesToCgroupV2Value) and cAdvisor converts it back (convertCPUWeightToCPULimit),
    losing precision on the way."""
    weight = 1 + ((shares - 2) * 9999) // 262142
    return 2 + ((weight - 1) * 262142) // 9999


def milli_to_quota(milli: int) -> int:
    """kubelet's MilliCPUToQuota for the default period."""
    return max(1000, milli * CFS_PERIOD // 1000) if milli else 0


def _amount(container: Mapping[str, Any], kind: str, name: str) -> Any:
    res = container.get("resources")
    values = res.get(kind) if isinstance(res, dict) else None
    return quantity_value(values.get(name)) if isinstance(values, dict) else None


def _milli(container: Mapping[str, Any], kind: str) -> int | None:
    q = _amount(container, kind, "cpu")
    return int(q * 1000) if q is not None else None


def _bytes(container: Mapping[str, Any]) -> int | None:
    q = _amount(container, "limits", "memory")
    return int(q) if q is not None and q > 0 else None


# ------------------------------------------------------------------------------ the cgroup tree
def _slice(qos: str) -> str:
    return "/kubepods.slice" if qos == "Guaranteed" else f"/kubepods.slice/kubepods-{qos.lower()}.slice"


def _pod_slice(qos: str, uid: str) -> str:
    unit = uid.replace("-", "_")
    prefix = "kubepods" if qos == "Guaranteed" else f"kubepods-{qos.lower()}"
    return f"{_slice(qos)}/{prefix}-pod{unit}.slice"


def _sum_memory(entries: list[Mapping[str, Any]]) -> JSON:
    keys = ("usageBytes", "workingSetBytes", "rssBytes", "pageFaults", "majorPageFaults")
    return {k: sum(int(e.get(k) or 0) for e in entries) for k in keys}


def _sum_stats(stats: list[JSON]) -> JSON:
    cpu = sum(int((s.get("cpu") or {}).get("usageCoreNanoSeconds") or 0) for s in stats)
    procs = sum(int(s.get("processes") or 0) for s in stats)
    return {
        "cpu": {"usageCoreNanoSeconds": cpu},
        "memory": _sum_memory([s.get("memory") or {} for s in stats]),
        "processes": procs,
    }


def _container_ids(pod: Mapping[str, Any]) -> dict[str, str]:
    """Each running container's runtime ID (without the `containerd://` prefix)."""
    out = {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in (pod.get("status") or {}).get(key) or []:
            if isinstance(cs, dict) and cs.get("containerID") and "running" in (cs.get("state") or {}):
                out[str(cs.get("name", ""))] = str(cs["containerID"]).partition("://")[2]
    return out


def _pod_cgroups(pod: Mapping[str, Any], stats: JSON, now: float) -> tuple[str, int, list[Cgroup]]:
    """(QoS class, cpu request in millicores, cgroups) of one running pod (`stats`: its Summary entry):
    its slice first, then its containers and its sandbox."""
    md = pod.get("metadata") or {}
    uid, name, ns = str(md.get("uid", "")), str(md.get("name", "")), str(md.get("namespace", ""))
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    qos = str(status.get("qosClass") or "BestEffort")
    specs = {str(c.get("name", "")): c for k in ("initContainers", "containers") for c in spec.get(k) or []}
    started = parse_time(stats.get("startTime")) or 0.0
    base = _pod_slice(qos, uid)
    ids = _container_ids(pod)
    images = {
        str(cs.get("name", "")): str(cs.get("image") or "")
        for k in ("initContainerStatuses", "containerStatuses")
        for cs in status.get(k) or []
        if isinstance(cs, dict)
    }
    out: list[Cgroup] = []
    requests = quotas = memory = 0
    limited_cpu = limited_memory = True
    for c in stats.get("containers") or []:
        cname = str(c.get("name", ""))
        cspec = specs.get(cname) or {}
        request, limit, mem = _milli(cspec, "requests"), _milli(cspec, "limits"), _bytes(cspec)
        requests += request or 0
        quotas += milli_to_quota(limit or 0)
        memory += mem or 0
        limited_cpu, limited_memory = limited_cpu and bool(limit), limited_memory and bool(mem)
        cid = ids.get(cname) or container_id(uid, cname).partition("://")[2]
        out.append(
            Cgroup(
                id=f"{base}/cri-containerd-{cid}.scope",
                created=parse_time(c.get("startTime")) or started,
                shares=weight_shares(milli_to_shares(request or 0)),
                period=CFS_PERIOD,
                quota=milli_to_quota(limit or 0),
                memory_limit=mem or 0,
                stats={"cpu": c.get("cpu") or {}, "memory": c.get("memory") or {}, "processes": 1},
                name=cid,
                image=images.get(cname) or normalize_image(str(cspec.get("image") or "")),
                pod=name,
                namespace=ns,
                container=cname,
                ulimit=1_048_576,
            )
        )
    sandbox = container_id(uid, "POD").partition("://")[2]
    pause_mem = (256 + int(256 * fraction(uid, "pause"))) * 1024 // PAGE * PAGE
    age = max(0.0, now - started)
    out.append(
        Cgroup(
            id=f"{base}/cri-containerd-{sandbox}.scope",
            created=started,
            shares=weight_shares(_MIN_SHARES),
            period=CFS_PERIOD,
            memory_limit=0,
            stats={
                "cpu": {"usageCoreNanoSeconds": int(age * 20_000)},
                "memory": {"usageBytes": pause_mem, "workingSetBytes": pause_mem, "rssBytes": pause_mem},
                "network": stats.get("network"),
                "processes": 1,
            },
            name=sandbox,
            image=PAUSE_IMAGE,
            pod=name,
            namespace=ns,
            ulimit=1_048_576,
        )
    )
    procs = int((stats.get("process_stats") or {}).get("process_count") or len(out))
    pod_cg = Cgroup(
        id=base,
        created=started,
        shares=weight_shares(milli_to_shares(requests)),
        period=CFS_PERIOD,
        quota=quotas if limited_cpu and quotas else 0,
        memory_limit=memory if limited_memory else 0,
        stats={"cpu": stats.get("cpu") or {}, "memory": stats.get("memory") or {}, "processes": procs},
        pod=name,
        namespace=ns,
    )
    return qos, requests, [pod_cg, *out]


def cgroups(summary: JSON, pods: list[Mapping[str, Any]], machine: Machine) -> list[Cgroup]:
    """Every cgroup of the node (`summary`: its full Summary; `pods`: the pods in it), the root last."""
    node = summary.get("node") or {}
    system = {str(s.get("name")): s for s in node.get("systemContainers") or []}
    by_uid = {str((p.get("metadata") or {}).get("uid", "")): p for p in pods}
    boot = machine.boot
    out: list[Cgroup] = []
    qos_stats: dict[str, list[JSON]] = {"Burstable": [], "BestEffort": []}
    burstable_milli = pods_procs = 0
    for ps in summary.get("pods") or []:
        pod = by_uid.get(str((ps.get("podRef") or {}).get("uid", "")))
        if pod is None:
            continue
        qos, milli, groups = _pod_cgroups(pod, ps, _now(node))
        out.extend(groups)
        pods_procs += int(groups[0].stats.get("processes") or 0)
        if qos in qos_stats:
            qos_stats[qos].append(groups[0].stats)
            burstable_milli += milli if qos == "Burstable" else 0
    for qos, shares in (("Burstable", milli_to_shares(burstable_milli)), ("BestEffort", _MIN_SHARES)):
        stats = _sum_stats(qos_stats[qos])
        out.append(Cgroup(_slice(qos), boot, weight_shares(shares), CFS_PERIOD, memory_limit=0, stats=stats))
    pods_sys = system.get("pods") or {}
    out.append(
        Cgroup(
            "/kubepods.slice",
            boot,
            weight_shares(milli_to_shares(machine.cores * 1000)),
            CFS_PERIOD,
            memory_limit=machine.memory,
            stats={
                "cpu": pods_sys.get("cpu") or {},
                "memory": pods_sys.get("memory"),
                "processes": pods_procs,
            },
        )
    )
    default_shares = 2 + (99 * 262142) // 9999  # cpu.weight 100, systemd's default
    for unit, name, procs in (("kubelet", "kubelet", 1), ("containerd", "runtime", 1 + len(pods))):
        s = system.get(name) or {}
        out.append(
            Cgroup(
                f"/system.slice/{unit}.service",
                boot,
                default_shares,
                CFS_PERIOD,
                memory_limit=0,
                stats={"cpu": s.get("cpu") or {}, "memory": s.get("memory") or {}, "processes": procs},
            )
        )
    rlimit = node.get("rlimit") or {}
    out.append(
        Cgroup(
            "/",
            boot,
            0,
            0,
            stats={
                "cpu": node.get("cpu") or {},
                "memory": node.get("memory") or {},
                "network": node.get("network"),
                "fs": node.get("fs"),
                "processes": int(rlimit.get("curproc") or 0),
            },
            ulimit=1024,
        )
    )
    return out


def _now(node: Mapping[str, Any]) -> float:
    return parse_time((node.get("cpu") or {}).get("time")) or 0.0


# ------------------------------------------------------------------------------ exposition
# name: (help, type) of the container metrics, in cAdvisor's order
_HELP = {
    "container_last_seen": ("Last time a container was seen by the exporter", "gauge"),
    "container_cpu_user_seconds_total": ("Cumulative user cpu time consumed in seconds.", "counter"),
    "container_cpu_system_seconds_total": ("Cumulative system cpu time consumed in seconds.", "counter"),
    "container_cpu_usage_seconds_total": ("Cumulative cpu time consumed in seconds.", "counter"),
    "container_cpu_cfs_periods_total": ("Number of elapsed enforcement period intervals.", "counter"),
    "container_cpu_cfs_throttled_periods_total": ("Number of throttled period intervals.", "counter"),
    "container_cpu_cfs_throttled_seconds_total": (
        "Total time duration the container has been throttled.",
        "counter",
    ),
    "container_cpu_load_average_10s": (
        "Value of container cpu load average over the last 10 seconds.",
        "gauge",
    ),
    "container_tasks_state": ("Number of tasks in given state", "gauge"),
    "container_memory_cache": ("Number of bytes of page cache memory.", "gauge"),
    "container_memory_rss": ("Size of RSS in bytes.", "gauge"),
    "container_memory_mapped_file": ("Size of memory mapped files in bytes.", "gauge"),
    "container_memory_swap": ("Container swap usage in bytes.", "gauge"),
    "container_memory_failcnt": ("Number of memory usage hits limits", "counter"),
    "container_memory_usage_bytes": (
        "Current memory usage in bytes, including all memory regardless of when it was accessed",
        "gauge",
    ),
    "container_memory_max_usage_bytes": ("Maximum memory usage recorded in bytes", "gauge"),
    "container_memory_working_set_bytes": ("Current working set in bytes.", "gauge"),
    "container_memory_failures_total": ("Cumulative count of memory allocation failures.", "counter"),
    "container_fs_inodes_free": ("Number of available Inodes", "gauge"),
    "container_fs_inodes_total": ("Number of Inodes", "gauge"),
    "container_fs_limit_bytes": (
        "Number of bytes that can be consumed by the container on this filesystem.",
        "gauge",
    ),
    "container_fs_usage_bytes": (
        "Number of bytes that are consumed by the container on this filesystem.",
        "gauge",
    ),
    "container_fs_reads_bytes_total": ("Cumulative count of bytes read", "counter"),
    "container_fs_reads_total": ("Cumulative count of reads completed", "counter"),
    "container_fs_writes_bytes_total": ("Cumulative count of bytes written", "counter"),
    "container_fs_writes_total": ("Cumulative count of writes completed", "counter"),
    "container_network_receive_bytes_total": ("Cumulative count of bytes received", "counter"),
    "container_network_receive_packets_total": ("Cumulative count of packets received", "counter"),
    "container_network_receive_packets_dropped_total": (
        "Cumulative count of packets dropped while receiving",
        "counter",
    ),
    "container_network_receive_errors_total": (
        "Cumulative count of errors encountered while receiving",
        "counter",
    ),
    "container_network_transmit_bytes_total": ("Cumulative count of bytes transmitted", "counter"),
    "container_network_transmit_packets_total": ("Cumulative count of packets transmitted", "counter"),
    "container_network_transmit_packets_dropped_total": (
        "Cumulative count of packets dropped while transmitting",
        "counter",
    ),
    "container_network_transmit_errors_total": (
        "Cumulative count of errors encountered while transmitting",
        "counter",
    ),
    "container_processes": ("Number of processes running inside the container.", "gauge"),
    "container_file_descriptors": ("Number of open file descriptors for the container.", "gauge"),
    "container_sockets": ("Number of open sockets for the container.", "gauge"),
    "container_threads_max": (
        "Maximum number of threads allowed inside the container, infinity if value is zero",
        "gauge",
    ),
    "container_threads": ("Number of threads running inside the container", "gauge"),
    "container_ulimits_soft": (
        "Soft ulimit values for the container root process. Unlimited if -1, except priority and nice",
        "gauge",
    ),
    "container_oom_events_total": ("Count of out of memory events observed for the container", "counter"),
    "container_start_time_seconds": ("Start time of the container since unix epoch in seconds.", "gauge"),
    "container_spec_cpu_period": ("CPU period of the container.", "gauge"),
    "container_spec_cpu_quota": ("CPU quota of the container.", "gauge"),
    "container_spec_cpu_shares": ("CPU share of the container.", "gauge"),
    "container_spec_memory_limit_bytes": ("Memory limit for the container.", "gauge"),
    "container_spec_memory_swap_limit_bytes": ("Memory swap limit for the container.", "gauge"),
    "container_spec_memory_reservation_limit_bytes": ("Memory reservation limit for the container.", "gauge"),
    "container_scrape_error": (
        "1 if there was an error while getting container metrics, 0 otherwise",
        "gauge",
    ),
}
_MACHINE = {
    "machine_cpu_physical_cores": "Number of physical CPU cores.",
    "machine_cpu_cores": "Number of logical CPU cores.",
    "machine_cpu_sockets": "Number of CPU sockets.",
    "machine_memory_bytes": "Amount of memory installed on the machine.",
    "machine_nvm_capacity": "NVM capacity value labeled by NVM mode (memory mode or app direct mode).",
    "machine_nvm_avg_power_budget_watts": "NVM power budget.",
    "machine_scrape_error": "1 if there was an error while getting machine metrics, 0 otherwise.",
}
_VERSION_HELP = (
    "A metric with a constant '1' value labeled by kernel version, OS version, docker version, cadvisor "
    "version & cadvisor revision."
)


class _Families(dict[str, Family]):
    def add(self, name: str, value: float, labels: dict[str, str], ts: float | None = None) -> None:
        if name not in self:
            help_, type_ = _HELP[name]
            self[name] = Family(name, help_, type_, "")
        self[name].add(value, labels, ts)


def _stats_samples(f: _Families, cg: Cgroup, ts: float, now: float) -> None:
    """The stats series of one cgroup (cAdvisor's containerMetrics over its latest stats)."""
    lb = cg.labels()
    key = cg.id
    f.add("container_last_seen", float(int(now)), lb, now)
    total = int((cg.stats.get("cpu") or {}).get("usageCoreNanoSeconds") or 0)
    user = int(total * (0.6 + 0.2 * fraction(key, "user")))
    f.add("container_cpu_user_seconds_total", user / 1e9, lb, ts)
    f.add("container_cpu_system_seconds_total", (total - user) / 1e9, lb, ts)
    if total > 0:
        f.add("container_cpu_usage_seconds_total", total / 1e9, {**lb, "cpu": "total"}, ts)
    if cg.quota:
        age = max(0.0, now - cg.created)
        periods = int(age * 10 * (0.3 + 0.6 * fraction(key, "periods")))
        throttled = int(periods * 0.02 * fraction(key, "throttled"))
        f.add("container_cpu_cfs_periods_total", periods, lb, ts)
        f.add("container_cpu_cfs_throttled_periods_total", throttled, lb, ts)
        f.add("container_cpu_cfs_throttled_seconds_total", throttled * 0.01, lb, ts)
    f.add("container_cpu_load_average_10s", 0, lb, ts)  # the kubelet's cAdvisor runs no load reader
    for state in ("sleeping", "running", "stopped", "uninterruptible", "iowaiting"):
        f.add("container_tasks_state", 0, {**lb, "state": state}, ts)
    _memory_samples(f, cg, lb, ts)
    fs = cg.stats.get("fs")
    if fs:
        _disk_samples(f, cg, lb, fs, ts, now)
    _network_samples(f, lb, cg.stats.get("network"), ts)
    procs = int(cg.stats.get("processes") or 0)
    f.add("container_processes", procs, lb, ts)
    f.add("container_file_descriptors", procs * (3 + int(12 * fraction(key, "fds"))), lb, ts)
    f.add("container_sockets", procs * int(3 * fraction(key, "sockets")), lb, ts)
    f.add("container_threads_max", 0, lb, ts)  # pids.max is "max": the kubelet sets no pod pids limit
    f.add("container_threads", procs * (1 + int(4 * fraction(key, "threads"))), lb, ts)
    if cg.ulimit is not None:
        f.add("container_ulimits_soft", cg.ulimit, {**lb, "ulimit": "max_open_files"}, ts)
    f.add("container_oom_events_total", 0, lb, ts)


def _memory_samples(f: _Families, cg: Cgroup, lb: dict[str, str], ts: float) -> None:
    m = cg.stats.get("memory") or {}
    usage, ws = int(m.get("usageBytes") or 0), int(m.get("workingSetBytes") or 0)
    cache = max(0, usage - ws)  # the working set is usage less inactive file pages
    f.add("container_memory_cache", cache, lb, ts)
    f.add("container_memory_rss", int(m.get("rssBytes") or 0), lb, ts)
    f.add("container_memory_mapped_file", cache // 8 // PAGE * PAGE, lb, ts)
    f.add("container_memory_swap", 0, lb, ts)
    f.add("container_memory_failcnt", 0, lb, ts)  # cgroup v2 has no failcnt
    f.add("container_memory_usage_bytes", usage, lb, ts)
    peak = usage + int(usage * 0.2 * fraction(cg.id, "peak")) // PAGE * PAGE
    f.add("container_memory_max_usage_bytes", peak, lb, ts)
    f.add("container_memory_working_set_bytes", ws, lb, ts)
    faults, major = int(m.get("pageFaults") or 0), int(m.get("majorPageFaults") or 0)
    for scope in ("container", "hierarchy"):  # cgroup v2's memory.stat is hierarchical: both the same
        f.add(
            "container_memory_failures_total", faults, {**lb, "failure_type": "pgfault", "scope": scope}, ts
        )
        f.add(
            "container_memory_failures_total", major, {**lb, "failure_type": "pgmajfault", "scope": scope}, ts
        )


def _disk_samples(f: _Families, cg: Cgroup, lb: dict[str, str], fs: JSON, ts: float, now: float) -> None:
    """The root's filesystem (usage, inodes) and disk IO counters."""
    part = {**lb, "device": PARTITION}
    f.add("container_fs_inodes_free", int(fs.get("inodesFree") or 0), part, ts)
    f.add("container_fs_inodes_total", int(fs.get("inodes") or 0), part, ts)
    f.add("container_fs_limit_bytes", int(fs.get("capacityBytes") or 0), part, ts)
    f.add("container_fs_usage_bytes", int(fs.get("usedBytes") or 0), part, ts)
    up = max(0.0, now - cg.created)
    disk = {**lb, "device": DISK}
    reads, writes = (
        int(up * (4 + 6 * fraction(cg.id, "reads"))),
        int(up * (8 + 8 * fraction(cg.id, "writes"))),
    )
    f.add("container_fs_reads_bytes_total", reads * 16 * 1024, disk, ts)
    f.add("container_fs_writes_bytes_total", writes * 24 * 1024, disk, ts)
    for name, count in (("container_fs_reads_total", reads), ("container_fs_writes_total", writes)):
        f.add(name, count, disk, ts)
        f.add(name, count, part, ts)


def _network_samples(f: _Families, lb: dict[str, str], net: JSON | None, ts: float) -> None:
    for iface in (net or {}).get("interfaces") or []:
        il = {**lb, "interface": str(iface.get("name", ""))}
        rx, tx = int(iface.get("rxBytes") or 0), int(iface.get("txBytes") or 0)
        f.add("container_network_receive_bytes_total", rx, il, ts)
        f.add("container_network_receive_packets_total", rx // 600, il, ts)
        f.add("container_network_receive_packets_dropped_total", 0, il, ts)
        f.add("container_network_receive_errors_total", int(iface.get("rxErrors") or 0), il, ts)
        f.add("container_network_transmit_bytes_total", tx, il, ts)
        f.add("container_network_transmit_packets_total", tx // 600, il, ts)
        f.add("container_network_transmit_packets_dropped_total", 0, il, ts)
        f.add("container_network_transmit_errors_total", int(iface.get("txErrors") or 0), il, ts)


def _spec_samples(f: _Families, cg: Cgroup) -> None:
    """The spec series of one cgroup (no timestamps)."""
    lb = cg.labels()
    f.add("container_start_time_seconds", float(int(cg.created)), lb)
    f.add("container_spec_cpu_period", cg.period, lb)
    if cg.quota:
        f.add("container_spec_cpu_quota", cg.quota, lb)
    f.add("container_spec_cpu_shares", cg.shares, lb)
    if cg.memory_limit is not None:
        f.add("container_spec_memory_limit_bytes", cg.memory_limit, lb)
        f.add("container_spec_memory_swap_limit_bytes", 0, lb)
        f.add("container_spec_memory_reservation_limit_bytes", 0, lb)


def _machine(m: Machine) -> list[Family]:
    base = dict(zip(("machine_id", "system_uuid", "boot_id"), m.ids, strict=True))
    values: dict[str, list[tuple[float, dict[str, str]]]] = {
        "machine_cpu_physical_cores": [(max(1, m.cores // 2), {})],
        "machine_cpu_cores": [(m.cores, {})],
        "machine_cpu_sockets": [(1, {})],
        "machine_memory_bytes": [(m.memory, {})],
        "machine_nvm_capacity": [(0, {"mode": "memory_mode"}), (0, {"mode": "app_direct_mode"})],
        "machine_nvm_avg_power_budget_watts": [(0, {})],
    }
    out = []
    for name, samples in values.items():
        fam = Family(name, _MACHINE[name], "gauge", "")
        for value, extra in samples:
            fam.add(value, {**base, **extra}, m.boot)
        out.append(fam)
    scrape = Family("machine_scrape_error", _MACHINE["machine_scrape_error"], "gauge", "")
    scrape.add(0)
    return [*out, scrape]


def cadvisor_metrics(summary: JSON, pods: list[Mapping[str, Any]], machine: Machine, now: float) -> str:
    """`/metrics/cadvisor` of a node: its full Summary, the pods in it, its machine, the time asked."""
    ts = _now(summary.get("node") or {}) or now
    f = _Families()
    version = Family("cadvisor_version_info", _VERSION_HELP, "gauge", "")
    version.add(
        1,
        {
            "cadvisorRevision": "",
            "cadvisorVersion": "",
            "dockerVersion": "",
            "kernelVersion": machine.kernel,
            "osVersion": machine.os_image,
        },
    )
    for cg in cgroups(summary, pods, machine):
        _spec_samples(f, cg)
        _stats_samples(f, cg, ts, now)
    f.add("container_scrape_error", 0, {})
    return render([version, *f.values(), *_machine(machine)])
