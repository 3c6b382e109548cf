"""The simulated kubelet against kubelet 1.32: hostNetwork pods get the node's IP as their podIP (from
the first status on, without taking a podCIDR address), kubelet_http_requests_total's path buckets,
`/metrics/probes`, and `/metrics/cadvisor` (cAdvisor's series over the cgroups of the node, with the
figures of the node's Summary and `/metrics/resource`)."""

from __future__ import annotations

import asyncio
import re
import ssl
from typing import Any

import aiohttp
import pytest

from vcluster.hostsim.kubelet import _pod_ip, _sandbox_ip
from vcluster.hostsim.kubeletcadvisor import Machine, cadvisor_metrics, milli_to_shares, weight_shares
from vcluster.hostsim.kubeletmetrics import probe_metrics, resource_metrics
from vcluster.hostsim.kubeletserver import KubeletServer, metric_bucket, request_labels
from vcluster.hostsim.kubeletstats import GIB, NodeCounters, NodeShape, SummaryBuilder
from vcluster.hostsim.nodes import SimNode
from vcluster.hostsim.podstatus import creating_status, finished_status, running_status
from vcluster.hostsim.predicates import NodeView, PodFit, Usage, filter_node, host_ports, port_conflict
from vcluster.syncer.engine.proxyrelay import rewrite_metrics

NOW = 1_700_000_100.4
BOOT = 1_700_000_000.0
SAMPLE = re.compile(r"^(?P<name>\w+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)(?: (?P<ts>\d+))?$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# ------------------------------------------------------------------------------ hostNetwork
def _pod(host_network: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx"}]}
    if host_network:
        spec["hostNetwork"] = True
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": spec, "status": {}}


def test_host_network_pod_has_the_node_ip_from_its_first_status() -> None:
    pod = _pod(True)
    creating = creating_status(pod, "10.0.0.7", BOOT)
    assert creating["podIP"] == "10.0.0.7" and creating["podIPs"] == [{"ip": "10.0.0.7"}]
    assert creating["hostIP"] == "10.0.0.7"
    running = running_status(pod, "10.0.0.7", "10.0.0.7", BOOT, True, BOOT)
    assert running["podIPs"] == [{"ip": "10.0.0.7"}]
    done = finished_status(pod, "10.0.0.7", None, BOOT, BOOT + 1, BOOT + 1)
    assert done["podIP"] == "10.0.0.7"
    # a normal pod has no IP until its sandbox is up
    assert "podIP" not in creating_status(_pod(False), "10.0.0.7", BOOT)


def test_host_network_sandbox_and_address() -> None:
    node = SimNode("n1", 1, "10.0.0.7", "10.244.1.0/24")
    pod = _pod(True)
    assert _pod_ip(pod, node) == "10.0.0.7" and len(node.ipam) == 0  # no podCIDR address used
    pod["status"] = creating_status(pod, node.address, BOOT)
    assert _sandbox_ip(pod) is None  # ContainerCreating: the sandbox is not up yet
    pod["status"] = running_status(pod, node.address, node.address, BOOT, True, BOOT)
    assert _sandbox_ip(pod) == "10.0.0.7"
    normal = _pod(False)
    assert _pod_ip(normal, node) == "10.244.1.2" and len(node.ipam) == 1


# ------------------------------------------------------------------------------ request metrics
@pytest.mark.parametrize(
    ("method", "path", "labels"),
    [("GET", "/stats/summary", ("GET", "stats", "false")),
     ("POST", "/stats/summary", ("POST", "stats", "false")),
     ("GET", "/metrics", ("GET", "metrics", "false")),
     ("GET", "/metrics/cadvisor", ("GET", "metrics/cadvisor", "false")),
     ("GET", "/metrics/resource/x", ("GET", "metrics/resource", "false")),
     ("GET", "/metrics/slis", ("GET", "other", "false")),
     ("GET", "/containerLogs/ns/p/c", ("GET", "containerLogs", "false")),
     ("POST", "/exec/ns/p/c", ("POST", "exec", "true")),
     ("GET", "/attach/ns/p/c", ("GET", "attach", "true")),
     ("POST", "/portForward/ns/p", ("POST", "portForward", "false")),
     ("PATCH", "/pods", ("other", "pods", "false")),
     ("GET", "/", ("GET", "other", "false")),
     ("GET", "/nope/x", ("GET", "other", "false"))],
)  # fmt: skip
def test_request_labels_are_kubelet_buckets(method: str, path: str, labels: tuple[str, str, str]) -> None:
    assert request_labels(method, path) == labels
    assert metric_bucket(path) == labels[1]


def test_probe_metrics_have_the_process_start_time() -> None:
    assert probe_metrics(BOOT) == (
        "# HELP process_start_time_seconds [ALPHA] Start time of the process since unix epoch in seconds.\n"
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1.7e+09\n"
    )


# ------------------------------------------------------------------------------ cadvisor
def samples(text: str) -> list[tuple[str, dict[str, str], float, int | None]]:
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, line
            ts = int(m.group("ts")) if m.group("ts") else None
            out.append(
                (m.group("name"), dict(LABEL.findall(m.group("labels") or "")), float(m.group("value")), ts)
            )
    return out


def one(
    rows: list[tuple[str, dict[str, str], float, int | None]], name: str, **labels: str
) -> tuple[float, Any]:
    got = [(v, ts) for n, lb, v, ts in rows if n == name and all(lb.get(k) == x for k, x in labels.items())]
    assert len(got) == 1, (name, labels, got)
    return got[0]


def _running(name: str, uid: str, qos: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": uid},
        "spec": {"nodeName": "n1", "containers": containers},
        "status": {
            "phase": "Running",
            "qosClass": qos,
            "startTime": "2023-11-14T22:13:30Z",
            "containerStatuses": [
                {
                    "name": c["name"],
                    "containerID": f"containerd://{uid[0] * 64}",
                    "image": "docker.io/library/nginx:1.27",
                    "state": {"running": {"startedAt": "2023-11-14T22:13:40Z"}},
                }
                for c in containers
            ],
        },
    }


def _node() -> tuple[list[dict[str, Any]], str, str]:
    guaranteed = _running(
        "g",
        "a-1",
        "Guaranteed",
        [{"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                       "requests": {"cpu": "500m", "memory": "128Mi"}}}],
    )  # fmt: skip
    burstable = _running("b", "b-2", "Burstable", [{"name": "app", "resources": {"requests": {"cpu": "1"}}}])
    best = _running("e", "c-3", "BestEffort", [{"name": "app"}])
    pods = [guaranteed, burstable, best]
    shape = NodeShape("n1", BOOT, 8 * GIB, 100 * GIB)
    build = SummaryBuilder(shape, NodeCounters(), lambda p: 1_700_000_020.0, lambda p, c, t: 1000)
    brief = SummaryBuilder(shape, NodeCounters(), lambda p: 1_700_000_020.0, lambda p, c, t: 1000)
    machine = Machine(8, 8 * GIB, BOOT, ("mid", "suuid", "bid"), "6.8.0-hostsim", "Debian GNU/Linux 12")
    full = build.summary(pods, NOW, only_cpu_and_memory=False)
    text = cadvisor_metrics(full, pods, machine, NOW)
    resource = resource_metrics(brief.summary(pods, NOW, only_cpu_and_memory=True))
    return pods, text, resource


def test_cgroup_v2_shares_read_back_lossy() -> None:
    assert weight_shares(milli_to_shares(1000)) == 998
    assert weight_shares(milli_to_shares(100)) == 80
    assert weight_shares(milli_to_shares(0)) == 2 and milli_to_shares(1) == 2


def test_cadvisor_agrees_with_resource_metrics() -> None:
    _, text, resource = _node()
    rows, res = samples(text), samples(resource)
    for pod in ("g", "b", "e"):
        cpu, ts = one(rows, "container_cpu_usage_seconds_total", pod=pod, container="app", cpu="total")
        want_cpu, want_ts = one(res, "container_cpu_usage_seconds_total", pod=pod, container="app")
        assert (cpu, ts) == (want_cpu, want_ts) and cpu > 0
        mem = one(rows, "container_memory_working_set_bytes", pod=pod, container="app")
        assert mem == one(res, "container_memory_working_set_bytes", pod=pod, container="app")
        pod_cpu = [v for n, lb, v, _ in rows if n == "container_cpu_usage_seconds_total" and lb["pod"] == pod
                   and lb["container"] == "" and lb["image"] == ""]  # fmt: skip
        assert pod_cpu == [one(res, "pod_cpu_usage_seconds_total", pod=pod)[0]]
    node_cpu = one(rows, "container_cpu_usage_seconds_total", id="/")
    assert node_cpu == one(res, "node_cpu_usage_seconds_total")
    assert one(rows, "container_memory_working_set_bytes", id="/") == one(
        res, "node_memory_working_set_bytes"
    )


def test_cadvisor_cgroups_labels_and_specs() -> None:
    _, text, _ = _node()
    rows = samples(text)
    assert "[ALPHA]" not in text and "[STABLE]" not in text  # registered raw
    ids = {lb["id"] for n, lb, _, _ in rows if n == "container_start_time_seconds"}
    g_slice = "/kubepods.slice/kubepods-poda_1.slice"
    b_slice = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podb_2.slice"
    e_slice = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podc_3.slice"
    assert {"/", "/kubepods.slice", "/kubepods.slice/kubepods-burstable.slice", g_slice, b_slice, e_slice,
            "/kubepods.slice/kubepods-besteffort.slice", f"{g_slice}/cri-containerd-{'a' * 64}.scope",
            "/system.slice/kubelet.service", "/system.slice/containerd.service"} <= ids  # fmt: skip
    app = {"pod": "g", "container": "app"}
    shares = [lb for n, lb, _, _ in rows if n == "container_spec_cpu_shares" and lb["pod"] == "g"]
    labels = next(lb for lb in shares if lb["container"] == "app")
    assert labels == {
        "container": "app",
        "id": f"{g_slice}/cri-containerd-{'a' * 64}.scope",
        "image": "docker.io/library/nginx:1.27",
        "name": "a" * 64,
        "namespace": "ns",
        "pod": "g",
    }
    assert one(rows, "container_spec_cpu_quota", **app) == (50_000, None)
    assert one(rows, "container_spec_cpu_shares", **app)[0] == weight_shares(512)
    assert one(rows, "container_spec_memory_limit_bytes", **app)[0] == 128 * 1024**2
    assert one(rows, "container_spec_cpu_shares", pod="b", container="app")[0] == 998
    assert one(rows, "container_spec_memory_limit_bytes", pod="e", container="app")[0] == 0  # unlimited
    assert not [lb for n, lb, _, _ in rows if n == "container_spec_cpu_quota" and lb["pod"] in ("b", "e")]
    assert one(rows, "container_start_time_seconds", **app) == (1_700_000_020.0, None)
    # only sandboxes carry the pod network; the root has the node's
    net = [lb for n, lb, _, _ in rows if n == "container_network_receive_bytes_total"]
    assert {lb["image"] for lb in net if lb["pod"]} == {"registry.k8s.io/pause:3.10"} and len(net) == 4
    assert all(lb["interface"] == "eth0" and lb["container"] == "" for lb in net)
    # machine and version
    assert one(rows, "machine_cpu_cores", machine_id="mid", boot_id="bid", system_uuid="suuid") == (
        8,
        1_700_000_000_000,
    )
    assert one(rows, "machine_memory_bytes")[0] == 8 * GIB
    assert one(rows, "cadvisor_version_info", kernelVersion="6.8.0-hostsim", dockerVersion="")[0] == 1
    assert one(rows, "container_scrape_error")[0] == 0 and one(rows, "machine_scrape_error")[0] == 0
    last_seen = one(rows, "container_last_seen", id="/")
    assert last_seen == (1_700_000_100.0, 1_700_000_100_400)


def test_unknown_paths_get_the_kubelet_404s() -> None:
    async def run() -> dict[str, tuple[int, str]]:
        server = KubeletServer(lambda ns, n: None, nodes=["n1"])
        port = await server.start()
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        out = {}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
                for path in ("/nope", "/stats/nope", "/exec/ns/p", "/metrics/nope"):
                    async with s.get(f"https://127.0.0.1:{port}{path}") as r:
                        out[path] = (r.status, await r.text())
        finally:
            await server.stop()
        return out

    out = asyncio.run(run())
    assert out["/nope"] == (404, "404 page not found\n") == out["/metrics/nope"]  # Go's ServeMux
    assert out["/stats/nope"] == (404, "404: Page Not Found") == out["/exec/ns/p"]  # go-restful's


# ------------------------------------------------------------------------------ NodePorts
def test_host_ports_conflict_as_the_node_ports_plugin() -> None:
    spec = {
        "containers": [
            {"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}, {"containerPort": 81}]},
            {
                "name": "b",
                "ports": [{"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.7"}],
            },
        ],
        "initContainers": [{"name": "i", "ports": [{"containerPort": 9, "hostPort": 9}]}],  # not counted
    }
    ports = host_ports({"spec": spec})
    assert ports == [("0.0.0.0", "TCP", 80), ("10.0.0.7", "UDP", 53)]
    used = {("10.0.0.7", "TCP", 8080): 1, ("0.0.0.0", "UDP", 53): 1}
    assert port_conflict(used, ("0.0.0.0", "TCP", 8080))  # all addresses vs one address
    assert port_conflict(used, ("10.0.0.9", "UDP", 53))  # one address vs all addresses
    assert not port_conflict(used, ("10.0.0.9", "TCP", 8080))  # another address
    assert not port_conflict(used, ("0.0.0.0", "TCP", 53))  # another protocol
    fit = PodFit.from_pod({"spec": spec})
    view = NodeView("n1", allocatable={"pods": 110, "cpu": 8000, "memory": 8 * GIB})
    assert filter_node(fit, view, Usage(ports={("0.0.0.0", "TCP", 80): 1})) == (
        "Unschedulable",
        ["node(s) didn't have free ports for the requested pod ports"],
    )
    assert filter_node(fit, view, Usage(ports={("0.0.0.0", "TCP", 8080): 1})) is None


def test_virtual_relay_keeps_the_cadvisor_series_without_a_pod() -> None:
    _, text, _ = _node()
    host_to_virtual = {("ns", "g"): ("vns", "guaranteed")}
    out = samples(rewrite_metrics(text, lambda ns, name: host_to_virtual.get((ns, name))))
    ids = {lb["id"] for n, lb, _, _ in out if n == "container_start_time_seconds"}
    assert {"/", "/kubepods.slice", "/system.slice/kubelet.service"} <= ids  # pod="": kept
    pods = {(lb["namespace"], lb["pod"]) for _, lb, _, _ in out if lb.get("pod")}
    assert pods == {("vns", "guaranteed")}  # other pods dropped, this one renamed
    assert one(out, "machine_cpu_cores")[0] == 8


# ------------------------------------------------------------------------------ Summary network
def test_node_network_counters_never_go_back_and_host_network_pods_see_them() -> None:
    pods, _, _ = _node()
    shape = NodeShape("n1", BOOT, 8 * GIB, 100 * GIB)
    build = SummaryBuilder(shape, NodeCounters(), lambda p: 1_700_000_020.0, lambda p, c, t: 1000)
    before = build.summary(pods, NOW, only_cpu_and_memory=False)["node"]["network"]
    after = build.summary(pods[:1], NOW + 1, only_cpu_and_memory=False)["node"]["network"]  # two pods gone
    assert after["rxBytes"] >= before["rxBytes"] and after["txBytes"] >= before["txBytes"]
    pods[0]["spec"]["hostNetwork"] = True
    s = build.summary(pods, NOW, only_cpu_and_memory=False)
    by_name = {p["podRef"]["name"]: p for p in s["pods"]}
    assert by_name["g"]["network"] == s["node"]["network"]  # the node's interfaces
    assert by_name["b"]["network"] != s["node"]["network"]
