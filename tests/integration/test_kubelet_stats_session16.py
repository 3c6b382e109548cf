"""Each simulated node's kubelet, reached through `nodes/NODE/proxy/...` with the real kubectl: its
own port, its own pods, `/stats/summary` (full and `only_cpu_and_memory`), `/metrics/resource`,
`/metrics`, `/configz`, with usage that agrees with metrics.k8s.io (`kubectl top`) — on `vcluster
host` directly and through a virtual cluster, whose syncer relay shows the virtual pod names only.
One host (2 nodes, a 1 s metrics resolution) + virtual cluster pair for the module."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Kubectl
from .syncer_harness import HostCluster, Pair, VirtualCluster, virtual_namespace, wait_until

pytestmark = pytest.mark.integration

HNS = "stats-host"
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)(?: (?P<ts>\d+))?$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("kstats")
    host = HostCluster(base / "host", nodes=2, args=["--metrics-resolution", "1"]).start()
    vc = VirtualCluster(base / "vc", host=host)
    try:
        vc.start()
    except BaseException:
        host.stop()
        raise
    p = Pair(host, vc, Kubectl(host, base / "kc-host"), Kubectl(vc, base / "kc-vc"))
    try:
        yield p
    finally:
        p.stop()


def pod_yaml(name: str, node: str = "", cpu: str = "250m", memory: str = "64Mi") -> str:
    pin = f"  nodeName: {node}\n" if node else ""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:
    hostsim.vcluster.loft.sh/cpu-usage: "{cpu},side=5m"
    hostsim.vcluster.loft.sh/memory-usage: "{memory},side=8Mi"
spec:
{pin}  containers:
  - name: app
    image: nginx:1.27
    resources:
      limits: {{memory: 256Mi}}
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
  - name: side
    image: busybox:1.36
  volumes:
  - name: scratch
    emptyDir: {{}}
  - name: host
    hostPath: {{path: /tmp}}
"""


def running(k: Kubectl, ns: str, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        pod = k.get_json("pod", name, "-n", ns)
        return pod if pod["status"].get("phase") == "Running" else None

    return wait_until(ready, 30, what=f"pod {ns}/{name} running")


def raw(k: Kubectl, path: str) -> str:
    return k("get", "--raw", path)


def summary(k: Kubectl, node: str, query: str = "") -> dict[str, Any]:
    return json.loads(raw(k, f"/api/v1/nodes/{node}/proxy/stats/summary{query}"))


def samples(text: str) -> list[tuple[str, dict[str, str], float, int | None]]:
    """(name, labels, value, timestamp ms) of each sample of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample: {line!r}"
        labels = dict(LABEL.findall(m.group("labels") or ""))
        ts = int(m.group("ts")) if m.group("ts") else None
        out.append((m.group("name"), labels, float(m.group("value")), ts))
    return out


def value(text: str, name: str, **labels: str) -> float:
    got = [v for n, lb, v, _ in samples(text) if n == name and all(lb.get(k) == x for k, x in labels.items())]
    assert len(got) == 1, (name, labels, got)
    return got[0]


def nanocores(q: str) -> int:
    units = {"n": 1, "u": 1_000, "m": 1_000_000}
    return int(q[:-1]) * units[q[-1]] if q[-1] in units else int(float(q) * 1e9)


def membytes(q: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    return int(q[:-2]) * units[q[-2:]] if q[-2:] in units else int(q)


@pytest.fixture(scope="module")
def nodes(pair: Pair) -> list[dict[str, Any]]:
    return pair.kh.get_json("nodes")["items"]


@pytest.fixture(scope="module")
def placed(pair: Pair, nodes: list[dict[str, Any]]) -> dict[str, str]:
    """Pods `a` (node 1) and `b` (node 2) in the host namespace HNS: pod -> node."""
    pair.kh.namespace(HNS)
    out = {}
    for name, node in (("a", nodes[0]), ("b", nodes[1])):
        pair.kh.apply(pod_yaml(name, node["metadata"]["name"]), "-n", HNS)
        out[name] = node["metadata"]["name"]
    for name in out:
        running(pair.kh, HNS, name)
    return out


def test_each_node_has_its_own_kubelet_port_and_pods(
    pair: Pair, nodes: list[dict[str, Any]], placed: dict[str, str]
) -> None:
    ports = [n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] for n in nodes]
    assert len(set(ports)) == 2 and all(p > 0 for p in ports), ports
    for pod, node in placed.items():
        listed = json.loads(raw(pair.kh, f"/api/v1/nodes/{node}/proxy/pods"))
        assert listed["kind"] == "PodList"
        assert {p["spec"]["nodeName"] for p in listed["items"]} == {node}
        assert (HNS, pod) in {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in listed["items"]}
        # logs, exec and port-forward's pod lookup still reach the right node's kubelet
        assert "nginx" in pair.kh("logs", pod, "-c", "app", "-n", HNS)
        assert pair.kh("exec", pod, "-c", "app", "-n", HNS, "--", "echo", f"on-{pod}").strip() == f"on-{pod}"
    # a node's kubelet does not know the other node's pods
    other = placed["b"]
    p = pair.kh.run("get", "--raw", f"/api/v1/nodes/{other}/proxy/containerLogs/{HNS}/a/app", check=False)
    assert p.returncode != 0 and "(NotFound)" in p.stderr, p.stderr  # the kubelet's 404, passed through
    assert "nginx" in raw(pair.kh, f"/api/v1/nodes/{placed['a']}/proxy/containerLogs/{HNS}/a/app")
    assert raw(pair.kh, f"/api/v1/nodes/{other}/proxy/healthz") == "ok"


def test_stats_summary_has_the_kubelet_shape(pair: Pair, placed: dict[str, str]) -> None:
    node = placed["a"]
    s = summary(pair.kh, node)
    n = s["node"]
    assert n["nodeName"] == node
    assert [c["name"] for c in n["systemContainers"]] == ["kubelet", "runtime", "pods"]
    for key in ("cpu", "memory", "network", "fs", "runtime", "rlimit", "swap", "startTime"):
        assert key in n, key
    assert n["memory"]["availableBytes"] + n["memory"]["workingSetBytes"] == 32 * 1024**3  # the capacity
    assert n["fs"]["capacityBytes"] == 100 * 1024**3 and n["network"]["interfaces"][0]["name"] == "eth0"
    assert set(n["runtime"]) == {"imageFs", "containerFs"} and n["rlimit"]["maxpid"] > 0
    pods = {(p["podRef"]["namespace"], p["podRef"]["name"]): p for p in s["pods"]}
    assert (HNS, "b") not in pods  # the other node's pod
    a = pods[(HNS, "a")]
    assert a["podRef"]["uid"] == pair.kh.get_json("pod", "a", "-n", HNS)["metadata"]["uid"]
    by_name = {c["name"]: c for c in a["containers"]}
    assert set(by_name) == {"app", "side"}
    app = by_name["app"]
    assert app["cpu"]["usageNanoCores"] == 250_000_000 and app["memory"]["workingSetBytes"] == 64 * 1024**2
    assert app["memory"]["availableBytes"] == 192 * 1024**2  # the 256Mi limit minus the working set
    assert by_name["side"]["cpu"]["usageNanoCores"] == 5_000_000
    assert a["cpu"]["usageNanoCores"] == 255_000_000
    assert app["logs"]["usedBytes"] > 0 and app["rootfs"]["usedBytes"] > 0
    vols = {v["name"]: v for v in a["volume"]}
    assert "host" not in vols  # hostPath reports no volume stats
    token = next(v for v in vols if v.startswith("kube-api-access-"))
    assert set(vols) == {"scratch", token}
    assert vols[token]["capacityBytes"] == 32 * 1024**3  # tmpfs
    # ephemeral storage: the containers' layers and logs plus the emptyDir on the node disk
    layers = sum(c["rootfs"]["usedBytes"] + c["logs"]["usedBytes"] for c in a["containers"])
    assert a["ephemeral-storage"]["usedBytes"] == layers + vols["scratch"]["usedBytes"]
    # what metrics-server asks for: cpu and memory only
    brief = summary(pair.kh, node, "?only_cpu_and_memory=true")
    assert "fs" not in brief["node"] and "network" not in brief["node"] and "cpu" in brief["node"]
    bpod = next(p for p in brief["pods"] if p["podRef"]["name"] == "a")
    assert "volume" not in bpod and "ephemeral-storage" not in bpod
    assert all(set(c) >= {"cpu", "memory"} and "rootfs" not in c for c in bpod["containers"])


def test_stats_agree_with_metrics_api_and_kubectl_top(pair: Pair, placed: dict[str, str]) -> None:
    node = placed["a"]

    def pod_metrics() -> dict[str, Any] | None:
        p = pair.kh.run("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{HNS}/pods/a", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    pm = wait_until(pod_metrics, 20, what="pod metrics of a")
    s = summary(pair.kh, node, "?only_cpu_and_memory=true")
    a = next(p for p in s["pods"] if p["podRef"]["name"] == "a")
    stats = {c["name"]: c for c in a["containers"]}
    for c in pm["containers"]:
        assert nanocores(c["usage"]["cpu"]) == stats[c["name"]]["cpu"]["usageNanoCores"]
        assert membytes(c["usage"]["memory"]) == stats[c["name"]]["memory"]["workingSetBytes"]

    def node_figures() -> tuple[tuple[int, int], tuple[int, int]]:
        """(metrics API, summary) cpu/memory of the node: equal unless a pod of the node started or
        stopped between the two reads (the virtual cluster's own pods may), so read again then."""
        nm = json.loads(raw(pair.kh, f"/apis/metrics.k8s.io/v1beta1/nodes/{node}"))
        sn = summary(pair.kh, node, "?only_cpu_and_memory=true")["node"]
        return (
            (nanocores(nm["usage"]["cpu"]), membytes(nm["usage"]["memory"])),
            (sn["cpu"]["usageNanoCores"], sn["memory"]["workingSetBytes"]),
        )

    figures: list[Any] = []
    agree = lambda: (f := node_figures()) and (figures.append(f) or f[0] == f[1])  # noqa: E731
    wait_until(agree, 10, what=f"node figures of the metrics API and the summary agree: {figures[-3:]}")
    top = pair.kh("top", "pod", "a", "-n", HNS, "--no-headers").split()
    assert top[:3] == ["a", "255m", "72Mi"], top


def test_metrics_resource_is_the_kubelet_collector(pair: Pair, placed: dict[str, str]) -> None:
    node = placed["a"]
    path = f"/api/v1/nodes/{node}/proxy/metrics/resource"
    first = raw(pair.kh, path)
    assert (
        "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in"
        in first
    )
    assert "# TYPE node_cpu_usage_seconds_total counter" in first
    assert "resource_scrape_error 0" in first.splitlines()
    labels = {"container": "app", "namespace": HNS, "pod": "a"}
    assert value(first, "container_memory_working_set_bytes", **labels) == 64 * 1024**2
    assert value(first, "pod_memory_working_set_bytes", namespace=HNS, pod="a") == 64 * 1024**2 + value(
        first, "container_memory_working_set_bytes", container="side", namespace=HNS, pod="a"
    )
    start = value(first, "container_start_time_seconds", **labels)
    assert abs(start - time.time()) < 120
    assert not [lb for n, lb, _, _ in samples(first) if lb.get("pod") == "b"]  # node 2's pod
    line = next(
        x for x in first.splitlines() if x.startswith('container_cpu_usage_seconds_total{container="app"')
    )
    assert line.startswith(f'container_cpu_usage_seconds_total{{container="app",namespace="{HNS}",pod="a"}} ')
    # the counters grow at the usage rate between two scrapes (metrics-server's computation)
    c1 = [
        (v, ts)
        for n, lb, v, ts in samples(first)
        if n == "container_cpu_usage_seconds_total" and lb == labels
    ]
    time.sleep(2.1)
    second = raw(pair.kh, path)
    c2 = [
        (v, ts)
        for n, lb, v, ts in samples(second)
        if n == "container_cpu_usage_seconds_total" and lb == labels
    ]
    (v1, t1), (v2, t2) = c1[0], c2[0]
    assert t1 is not None and t2 is not None and t2 > t1
    assert abs((v2 - v1) / ((t2 - t1) / 1000) - 0.25) < 0.01
    n1, n2 = value(first, "node_cpu_usage_seconds_total"), value(second, "node_cpu_usage_seconds_total")
    assert n2 > n1


def test_metrics_configz_and_probes(pair: Pair, nodes: list[dict[str, Any]], placed: dict[str, str]) -> None:
    node = placed["b"]
    port = next(n for n in nodes if n["metadata"]["name"] == node)["status"]["daemonEndpoints"][
        "kubeletEndpoint"
    ]
    raw(pair.kh, f"/api/v1/nodes/{node}/proxy/stats/summary")
    text = raw(pair.kh, f"/api/v1/nodes/{node}/proxy/metrics")
    assert value(text, "kubelet_node_name", node=node) == 1
    assert value(text, "kubelet_running_pods") >= 1
    assert value(text, "kubelet_running_containers", container_state="running") >= 2
    got = [lb for n, lb, _, _ in samples(text) if n == "kubelet_http_requests_total"]
    assert {
        "long_running": "false",
        "method": "GET",
        "path": "stats",
        "server_type": "readwrite",
    } in got
    assert value(text, "kubernetes_build_info", major="1", minor="32", compiler="gc") == 1
    cfg = json.loads(raw(pair.kh, f"/api/v1/nodes/{node}/proxy/configz"))["kubeletconfig"]
    assert cfg["port"] == port["Port"] and cfg["maxPods"] == 110
    probes = raw(pair.kh, f"/api/v1/nodes/{node}/proxy/metrics/probes")
    assert [n for n, _, _, _ in samples(probes)] == ["process_start_time_seconds"]
    p = pair.kh.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/nope", check=False)
    assert p.returncode != 0 and "the server could not find the requested resource" in p.stderr, p.stderr


def test_virtual_node_stats_show_virtual_pod_names_only(pair: Pair, placed: dict[str, str]) -> None:
    vns = virtual_namespace(pair.kv, "stats-v")
    pair.kv.apply(pod_yaml("web", cpu="100m", memory="32Mi"), "-n", vns)
    node = running(pair.kv, vns, "web")["spec"]["nodeName"]
    s = summary(pair.kv, node)
    refs = {(p["podRef"]["namespace"], p["podRef"]["name"]) for p in s["pods"]}
    assert (vns, "web") in refs
    assert all(ns == vns or ns in ("kube-system", "default") for ns, _ in refs), refs  # no host pods
    assert not any(ns == HNS for ns, _ in refs)
    web = next(p for p in s["pods"] if p["podRef"]["name"] == "web")
    assert {c["name"]: c["cpu"]["usageNanoCores"] for c in web["containers"]} == {
        "app": 100_000_000,
        "side": 5_000_000,
    }
    assert s["node"]["nodeName"] == node
    text = raw(pair.kv, f"/api/v1/nodes/{node}/proxy/metrics/resource")
    assert (
        value(text, "container_memory_working_set_bytes", container="app", namespace=vns, pod="web")
        == 32 * 1024**2
    )
    assert not [lb for _, lb, _, _ in samples(text) if lb.get("namespace") == HNS]
    assert value(text, "node_memory_working_set_bytes") > 0


def test_virtual_node_cadvisor_keeps_node_series_and_virtual_pod_names(
    pair: Pair, placed: dict[str, str]
) -> None:
    vns = virtual_namespace(pair.kv, "cadvisor-v")
    pair.kv.apply(pod_yaml("web", cpu="100m", memory="32Mi"), "-n", vns)
    node = running(pair.kv, vns, "web")["spec"]["nodeName"]
    text = raw(pair.kv, f"/api/v1/nodes/{node}/proxy/metrics/cadvisor")
    rows = [(n, lb, v) for n, lb, v, _ in samples_any(text)]
    ids = {lb["id"] for n, lb, _ in rows if n == "container_start_time_seconds"}
    assert {"/", "/kubepods.slice"} <= ids  # node-level cgroups (pod="") pass the relay
    pods = {(lb["namespace"], lb["pod"]) for _, lb, _ in rows if lb.get("pod")}
    assert (vns, "web") in pods and not [p for p in pods if p[0] == HNS]
    ws = [v for n, lb, v in rows if n == "container_memory_working_set_bytes" and lb.get("container") == "app"
          and lb["pod"] == "web"]  # fmt: skip
    assert ws == [32 * 1024**2]


def samples_any(text: str) -> list[tuple[str, dict[str, str], float, int | None]]:
    """`samples` for names with digits too (cAdvisor's `container_cpu_load_average_10s`)."""
    pattern = re.compile(r"^(?P<name>\w+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)(?: (?P<ts>\d+))?$")
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = pattern.match(line)
            assert m, line
            ts = int(m.group("ts")) if m.group("ts") else None
            out.append(
                (m.group("name"), dict(LABEL.findall(m.group("labels") or "")), float(m.group("value")), ts)
            )
    return out
