"""The simulated kubelet as kubelet 1.32 behaves, through the real kubectl and the host's node proxy:
a hostNetwork pod's podIP is its node's InternalIP, `/metrics/cadvisor` has cAdvisor's series with
the figures `/metrics/resource` shows, and `/metrics` counts requests in the kubelet's path buckets.
One `vcluster host` with one node for the module."""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Kubectl
from .syncer_harness import HostCluster, wait_until

pytestmark = pytest.mark.integration

NS = "kubelet17"
SAMPLE = re.compile(r"^(?P<name>\w+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)(?: (?P<ts>\d+))?$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict[str, str], float, int | None]]:
    """(name, labels, value, timestamp ms) of each sample of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"not a Prometheus sample: {line!r}"
            ts = int(m.group("ts")) if m.group("ts") else None
            out.append(
                (m.group("name"), dict(LABEL.findall(m.group("labels") or "")), float(m.group("value")), ts)
            )
    return out


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostCluster, Kubectl]]:
    base = tmp_path_factory.mktemp("kubelet17")
    h = HostCluster(base / "host", nodes=1).start()
    try:
        k = Kubectl(h, base / "kc")
        k.namespace(NS)
        yield h, k
    finally:
        h.stop()


def pod_yaml(name: str, host_network: bool) -> str:
    net = "  hostNetwork: true\n" if host_network else ""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:
    hostsim.vcluster.loft.sh/cpu-usage: "150m"
    hostsim.vcluster.loft.sh/memory-usage: "48Mi"
spec:
{net}  containers:
  - name: app
    image: nginx:1.27
    resources:
      requests: {{cpu: 200m, memory: 64Mi}}
      limits: {{cpu: 400m, memory: 128Mi}}
"""


def running(k: Kubectl, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        pod = k.get_json("pod", name, "-n", NS)
        return pod if pod["status"].get("phase") == "Running" else None

    return wait_until(ready, 30, what=f"pod {name} running")


@pytest.fixture(scope="module")
def pods(host: tuple[HostCluster, Kubectl]) -> dict[str, dict[str, Any]]:
    _, k = host
    k.apply(pod_yaml("hostnet", True), "-n", NS)
    k.apply(pod_yaml("podnet", False), "-n", NS)
    return {name: running(k, name) for name in ("hostnet", "podnet")}


def test_host_network_pod_ip_is_the_node_ip(
    host: tuple[HostCluster, Kubectl], pods: dict[str, dict[str, Any]]
) -> None:
    _, k = host
    node = k.get_json("node", pods["hostnet"]["spec"]["nodeName"])
    internal = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    st = pods["hostnet"]["status"]
    assert st["podIP"] == st["hostIP"] == internal and st["podIPs"] == [{"ip": internal}]
    other = pods["podnet"]["status"]
    assert ipaddress.ip_address(other["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    wide = k("get", "pod", "hostnet", "-n", NS, "-o", "wide", "--no-headers").split()
    assert internal in wide


def test_metrics_cadvisor_agrees_with_metrics_resource(
    host: tuple[HostCluster, Kubectl], pods: dict[str, dict[str, Any]]
) -> None:
    _, k = host
    node = pods["hostnet"]["spec"]["nodeName"]
    base = f"/api/v1/nodes/{node}/proxy"
    cid = pods["hostnet"]["status"]["containerStatuses"][0]["containerID"].partition("://")[2]
    for _ in range(5):  # both reads must fall in the same second for the counters to be equal
        cadvisor = samples(k("get", "--raw", f"{base}/metrics/cadvisor"))
        resource = samples(k("get", "--raw", f"{base}/metrics/resource"))
        mine = [(n, lb, v, ts) for n, lb, v, ts in cadvisor if lb.get("pod") == "hostnet"]
        cpu = [
            (v, ts) for n, lb, v, ts in mine if n == "container_cpu_usage_seconds_total" and lb["container"]
        ]
        want = [
            (v, ts)
            for n, lb, v, ts in resource
            if n == "container_cpu_usage_seconds_total" and lb["pod"] == "hostnet"
        ]
        if cpu and want and cpu[0][1] == want[0][1]:
            break
        time.sleep(0.2)
    assert cpu == want and len(cpu) == 1
    ws = [v for n, lb, v, _ in mine if n == "container_memory_working_set_bytes" and lb["container"] == "app"]
    assert ws == [48 * 1024**2]
    labels = next(lb for n, lb, _, _ in mine if n == "container_spec_cpu_quota" and lb["container"] == "app")
    assert labels["name"] == cid and labels["image"] == "docker.io/library/nginx:1.27"
    assert labels["id"].startswith("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod")
    assert labels["id"].endswith(f"/cri-containerd-{cid}.scope")
    quota = [v for n, lb, v, _ in mine if n == "container_spec_cpu_quota"]
    assert quota == [40_000, 40_000]  # 400m of a 100ms period: the container, and its pod (all limited)
    names = {n for n, _, _, _ in cadvisor}
    assert {
        "machine_cpu_cores",
        "machine_memory_bytes",
        "cadvisor_version_info",
        "container_last_seen",
    } <= names


def test_request_counts_use_the_kubelet_path_buckets(
    host: tuple[HostCluster, Kubectl], pods: dict[str, dict[str, Any]]
) -> None:
    _, k = host
    node = pods["hostnet"]["spec"]["nodeName"]
    base = f"/api/v1/nodes/{node}/proxy"
    k("get", "--raw", f"{base}/metrics/cadvisor")
    k.run("get", "--raw", f"{base}/no/such/path", check=False)
    text = k("get", "--raw", f"{base}/metrics")
    paths = {lb["path"]: v for n, lb, v, _ in samples(text) if n == "kubelet_http_requests_total"}
    assert paths.get("metrics/cadvisor", 0) >= 1 and paths.get("other", 0) >= 1
    assert not [p for p in paths if p.startswith("/")]
    probes = json.dumps([n for n, _, _, _ in samples(k("get", "--raw", f"{base}/metrics/probes"))])
    assert probes == '["process_start_time_seconds"]'


def test_host_ports_keep_a_second_host_network_pod_pending(host: tuple[HostCluster, Kubectl]) -> None:
    _, k = host

    def web(n: int) -> str:
        return pod_yaml(f"web-{n}", True) + "    ports: [{containerPort: 18080}]\n"

    k.apply(web(1), "-n", NS)
    first = running(k, "web-1")
    assert first["spec"]["containers"][0]["ports"][0]["hostPort"] == 18080  # defaulted for hostNetwork
    k.apply(web(2), "-n", NS)

    def unschedulable() -> dict[str, Any] | None:
        conds = k.get_json("pod", "web-2", "-n", NS)["status"].get("conditions") or []
        return next((c for c in conds if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    cond = wait_until(unschedulable, 15, what="web-2 unschedulable")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == (
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )
    k("delete", "pod", "web-1", "-n", NS, "--timeout=30s")
    assert running(k, "web-2")["spec"]["nodeName"] == first["spec"]["nodeName"]
