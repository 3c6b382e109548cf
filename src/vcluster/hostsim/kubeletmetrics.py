"""A simulated kubelet's Prometheus endpoints: `/metrics/resource` (kubelet 1.32's
resourceMetricsCollector over the CPU-and-memory Summary, pkg/kubelet/metrics/collectors/
resource_metrics.go) and `/metrics` (a few of the kubelet registry's own series: node name, running
pods and containers, HTTP requests, build info, process start)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vcluster.hostsim.podstatus import parse_time
from vcluster.hostsim.promtext import Family, render

JSON = dict[str, Any]
GO_VERSION = "go1.23.8"  # what kubelet 1.32 builds with


def _t(obj: Mapping[str, Any]) -> float | None:
    return parse_time(obj.get("time"))


_SWAP_HELP = "Current amount of the {} swap usage in bytes. Reported only on non-windows systems"
# name: (help, type, stability) of the resource collector's descriptors
_RESOURCE = {
    "node_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed by the node in core-seconds",
        "counter",
        "STABLE",
    ),
    "node_memory_working_set_bytes": ("Current working set of the node in bytes", "gauge", "STABLE"),
    "node_swap_usage_bytes": (
        "Current swap usage of the node in bytes. Reported only on non-windows systems",
        "gauge",
        "ALPHA",
    ),
    "container_start_time_seconds": (
        "Start time of the container since unix epoch in seconds",
        "gauge",
        "STABLE",
    ),
    "container_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed by the container in core-seconds",
        "counter",
        "STABLE",
    ),
    "container_memory_working_set_bytes": (
        "Current working set of the container in bytes",
        "gauge",
        "STABLE",
    ),
    "container_swap_usage_bytes": (_SWAP_HELP.format("container"), "gauge", "ALPHA"),
    "pod_cpu_usage_seconds_total": (
        "Cumulative cpu time consumed by the pod in core-seconds",
        "counter",
        "STABLE",
    ),
    "pod_memory_working_set_bytes": ("Current working set of the pod in bytes", "gauge", "STABLE"),
    "pod_swap_usage_bytes": (_SWAP_HELP.format("pod"), "gauge", "ALPHA"),
    "resource_scrape_error": (
        "1 if there was an error while getting container metrics, 0 otherwise",
        "gauge",
        "STABLE",
    ),
}
_BUILD_HELP = (
    "A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree "
    "state, build date, Go version, and compiler from which Kubernetes was built, and platform on which "
    "it is running."
)


def _family(name: str) -> Family:
    help_, type_, stability = _RESOURCE[name]
    return Family(name, help_, type_, stability)


def resource_metrics(summary: JSON) -> str:
    """`/metrics/resource` of a CPU-and-memory Summary (node, then each pod's containers and the pod);
    `scrape_error`, deprecated in 1.29, is hidden in 1.32 as component-base hides it."""
    f = {name: _family(name) for name in _RESOURCE}
    kinds = ("cpu_usage_seconds_total", "memory_working_set_bytes", "swap_usage_bytes")
    node_cpu, node_mem, node_swap = (f[f"node_{k}"] for k in kinds)
    c_cpu, c_mem, c_swap = (f[f"container_{k}"] for k in kinds)
    p_cpu, p_mem, p_swap = (f[f"pod_{k}"] for k in kinds)
    start, scrape = f["container_start_time_seconds"], f["resource_scrape_error"]
    node = summary.get("node") or {}
    _usage(node, {}, node_cpu, node_mem, node_swap)
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        labels = {"pod": str(ref.get("name", "")), "namespace": str(ref.get("namespace", ""))}
        for c in pod.get("containers") or []:
            cl = {"container": str(c.get("name", "")), **labels}
            started = parse_time(c.get("startTime"))
            if started is not None and started > 0:
                start.add(started, cl)
            _usage(c, cl, c_cpu, c_mem, c_swap)
        _usage(pod, labels, p_cpu, p_mem, p_swap)
    scrape.add(0)
    return render(list(f.values()))


def _usage(stats: Mapping[str, Any], labels: dict[str, str], cpu: Family, mem: Family, swap: Family) -> None:
    """The cpu counter, working set and swap use of one node, container or pod (when present)."""
    c, m, s = stats.get("cpu") or {}, stats.get("memory") or {}, stats.get("swap") or {}
    if c.get("usageCoreNanoSeconds") is not None:
        cpu.add(c["usageCoreNanoSeconds"] / 1e9, labels, _t(c))
    if m.get("workingSetBytes") is not None:
        mem.add(float(m["workingSetBytes"]), labels, _t(m))
    if s.get("swapUsageBytes") is not None:
        swap.add(float(s["swapUsageBytes"]), labels, _t(s) if s.get("time") else _t(m))


def _container_states(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """kubelet_running_containers by container_state, from the pods' container statuses."""
    out: dict[str, int] = {}
    for pod in pods:
        status = pod.get("status") or {}
        for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
            for cs in status.get(key) or []:
                if not isinstance(cs, dict) or not cs.get("containerID"):
                    continue
                state = cs.get("state") or {}
                kind = "running" if "running" in state else "exited" if "terminated" in state else "created"
                out[kind] = out.get(kind, 0) + 1
    return out


def kubelet_metrics(
    node: str,
    pods: list[Mapping[str, Any]],
    requests: Mapping[tuple[str, str, str], int],
    version: str,
    process_start: float,
) -> str:
    """`/metrics`: `requests` counts (method, path bucket, long_running) of this node's server."""
    name = Family("kubelet_node_name", "The node's name. The count is always 1.", "gauge")
    name.add(1, {"node": node})
    running = Family("kubelet_running_pods", "Number of pods that have a running pod sandbox", "gauge")
    running.add(sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running"))
    containers = Family("kubelet_running_containers", "Number of containers currently running", "gauge")
    for state, n in _container_states(pods).items():
        containers.add(n, {"container_state": state})
    http = Family(
        "kubelet_http_requests_total",
        "Number of the http requests received since the server started",
        "counter",
    )
    for (method, path, long_running), n in requests.items():
        http.add(
            n, {"method": method, "path": path, "long_running": long_running, "server_type": "readwrite"}
        )
    v = version.lstrip("v").split("-")[0].split("+")[0].split(".")
    build = Family("kubernetes_build_info", _BUILD_HELP, "gauge")
    build.add(
        1,
        {
            "build_date": "",
            "compiler": "gc",
            "git_commit": "",
            "git_tree_state": "clean",
            "git_version": version,
            "go_version": GO_VERSION,
            "major": v[0] if v else "",
            "minor": v[1] if len(v) > 1 else "",
            "platform": "linux/amd64",  # what the simulated nodes report (nodeInfo.architecture)
        },
    )
    started = Family(
        "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge"
    )
    started.add(process_start)
    return render([name, running, containers, http, build, started])


def probe_metrics(process_start: float) -> str:
    """`/metrics/probes`: its registry's process start time, and the prober's families, which have no
    series while nothing is probed."""
    started = Family(
        "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge"
    )
    started.add(process_start)
    return render([started])
