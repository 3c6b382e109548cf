"""The simulated kubelet's per-node views: Prometheus text as expfmt writes it, the Summary built from
the usage model (consistent with the metrics API's figures, counters that never go back),
`/metrics/resource` derived from it, and one port per node on the kubelet server."""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson
import pytest

from vcluster.hostsim.kubeletmetrics import kubelet_metrics, resource_metrics
from vcluster.hostsim.kubeletserver import KubeletServer, metric_bucket
from vcluster.hostsim.kubeletstats import GIB, NodeCounters, NodeShape, SummaryBuilder
from vcluster.hostsim.promtext import Family, go_float, render
from vcluster.hostsim.usage import CPU_ANNOTATION, MEMORY_ANNOTATION, MIB, container_usages, node_usage

NOW = 1_700_000_100.0
BOOT = 1_700_000_000.0


@pytest.mark.parametrize(
    ("v", "text"),
    [(0.0, "0"), (1.0, "1"), (100.0, "100"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
     (28725248.0, "2.8725248e+07"), (1.795575686e9, "1.795575686e+09"), (0.162528919, "0.162528919"),
     (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (1e21, "1e+21"), (math.inf, "+Inf"),
     (-math.inf, "-Inf"), (math.nan, "NaN")],
)  # fmt: skip
def test_floats_are_go_shortest_g(v: float, text: str) -> None:
    assert go_float(v) == text


def test_families_sort_by_name_and_label_values_and_escape() -> None:
    b = Family("b_total", "Second.\nLine", "counter", "STABLE")
    b.add(2, {"pod": "z", "namespace": "a"}, 1.5)
    b.add(1, {"pod": "y", "namespace": "a"})
    a = Family("a_bytes", 'The "a"', "gauge", "")
    a.add(3, {"v": 'q"\\'})
    empty = Family("c", "none", "gauge")
    assert render([b, empty, a]) == (
        '# HELP a_bytes The "a"\n# TYPE a_bytes gauge\na_bytes{v="q\\"\\\\"} 3\n'
        "# HELP b_total [STABLE] Second.\\nLine\n# TYPE b_total counter\n"
        'b_total{namespace="a",pod="y"} 1\nb_total{namespace="a",pod="z"} 2 1500\n'
    )


def pod(
    name: str, uid: str, cpu: str = "", memory: str = "", volumes: list[Any] | None = None
) -> dict[str, Any]:
    ann = {k: v for k, v in ((CPU_ANNOTATION, cpu), (MEMORY_ANNOTATION, memory)) if v}
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": uid, "annotations": ann},
        "spec": {
            "nodeName": "n1",
            "containers": [
                {"name": "app", "resources": {"limits": {"memory": "128Mi"}}},
                {"name": "log", "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}},
            ],
            "volumes": volumes or [],
        },
        "status": {
            "phase": "Running",
            "startTime": "2023-11-14T22:13:30Z",
            "containerStatuses": [
                {"name": "app", "state": {"running": {"startedAt": "2023-11-14T22:13:40Z"}}},
                {"name": "log", "state": {"running": {"startedAt": "2023-11-14T22:14:00Z"}}},
            ],
        },
    }


def builder(counters: NodeCounters | None = None) -> SummaryBuilder:
    shape = NodeShape("n1", BOOT, 8 * GIB, 100 * GIB)
    return SummaryBuilder(shape, counters or NodeCounters(), lambda p: 1_700_000_020.0, lambda p, c, t: 1000)


def test_summary_figures_are_the_metrics_api_usage() -> None:
    pods = [
        pod("a", "u1", cpu="250m", memory="64Mi"),
        pod("b", "u2", volumes=[{"name": "e", "emptyDir": {}}, {"name": "h", "hostPath": {"path": "/"}}]),
    ]
    s = builder().summary(pods, NOW + 0.7, only_cpu_and_memory=False)
    node_cpu, node_mem = node_usage("n1", pods)
    assert (
        s["node"]["cpu"]["usageNanoCores"] == node_cpu and s["node"]["memory"]["workingSetBytes"] == node_mem
    )
    assert s["node"]["memory"]["availableBytes"] == 8 * GIB - node_mem
    for p, stats in zip(pods, s["pods"], strict=True):
        want = {name: (c, m) for name, c, m in container_usages(p)}
        got = {
            c["name"]: (c["cpu"]["usageNanoCores"], c["memory"]["workingSetBytes"])
            for c in stats["containers"]
        }
        assert got == want
        assert stats["cpu"]["usageNanoCores"] == sum(c for c, _ in want.values())
    a = s["pods"][0]
    app = a["containers"][0]
    assert app["startTime"] == "2023-11-14T22:13:40Z" and app["cpu"]["time"] == "2023-11-14T22:15:00Z"
    # 250m for the 80 s since the pod's start (NOW is whole seconds: 22:15:00)
    assert app["cpu"]["usageCoreNanoSeconds"] == 250_000_000 * 80
    assert app["memory"]["availableBytes"] == 64 * MIB and app["logs"]["usedBytes"] == 1000
    assert [v["name"] for v in s["pods"][1]["volume"]] == ["e"]
    system = {c["name"]: c for c in s["node"]["systemContainers"]}
    assert system["pods"]["cpu"]["usageNanoCores"] == sum(p["cpu"]["usageNanoCores"] for p in s["pods"])
    assert s["node"]["cpu"]["usageCoreNanoSeconds"] == sum(
        c["cpu"]["usageCoreNanoSeconds"] for c in system.values()
    )
    brief = builder().summary(pods, NOW, only_cpu_and_memory=True)
    assert set(brief["node"]) == {"nodeName", "systemContainers", "startTime", "cpu", "memory", "swap"}
    assert set(brief["pods"][0]) == {"podRef", "startTime", "containers", "cpu", "memory", "swap"}


def test_node_cpu_counter_keeps_what_gone_pods_used() -> None:
    counters = NodeCounters()
    pods = [pod("a", "u1", cpu="1"), pod("b", "u2", cpu="2")]
    first = builder(counters).summary(pods, NOW, only_cpu_and_memory=True)["node"]["cpu"][
        "usageCoreNanoSeconds"
    ]
    second = builder(counters).summary(pods[:1], NOW + 1, only_cpu_and_memory=True)["node"]["cpu"]
    assert second["usageNanoCores"] < 5_000_000_000 and second["usageCoreNanoSeconds"] > first
    assert counters.retired == 2 * 2_000_000_000 * 80  # b's two containers' counter at the first read


def test_resource_metrics_from_the_summary() -> None:
    s = builder().summary([pod("a", "u1", cpu="250m", memory="64Mi")], NOW, only_cpu_and_memory=True)
    text = resource_metrics(s)
    lines = text.splitlines()
    assert (
        'container_cpu_usage_seconds_total{container="app",namespace="ns",pod="a"} 20 1700000100000' in lines
    )
    app = '{container="app",namespace="ns",pod="a"}'
    assert f"container_memory_working_set_bytes{app} 6.7108864e+07 1700000100000" in lines
    assert 'container_start_time_seconds{container="app",namespace="ns",pod="a"} 1.70000002e+09' in lines
    assert "resource_scrape_error 0" in lines and not any(x.startswith("scrape_error") for x in lines)
    names = [x.split()[2] for x in lines if x.startswith("# TYPE")]
    assert names == sorted(names) and "node_cpu_usage_seconds_total" in names


def test_kubelet_metrics_and_buckets() -> None:
    p = pod("a", "u1")
    p["status"]["containerStatuses"][0]["containerID"] = "containerd://1"
    text = kubelet_metrics("n1", [p], {("GET", "stats", "false"): 3}, "v1.32.4", BOOT)
    assert 'kubelet_node_name{node="n1"} 1' in text and "kubelet_running_pods 1" in text
    assert 'kubelet_running_containers{container_state="running"} 1' in text
    assert (
        'kubelet_http_requests_total{long_running="false",method="GET",path="stats",'
        'server_type="readwrite"} 3' in text
    )
    assert 'minor="32"' in text and "process_start_time_seconds 1.7e+09" in text
    assert metric_bucket("/stats/summary") == "stats"
    assert metric_bucket("/metrics/resource") == "metrics/resource"
    assert metric_bucket("/containerLogs/ns/p/c") == "containerLogs" and metric_bucket("/") == "other"


class _Views:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.all = pods

    def pods(self, node: str) -> list[dict[str, Any]]:
        return [p for p in self.all if p["spec"]["nodeName"] == node]

    def summary(self, node: str, *, only_cpu_and_memory: bool = False) -> dict[str, Any]:
        return {"node": {"nodeName": node, "brief": only_cpu_and_memory}, "pods": []}

    def resource_metrics(self, node: str) -> str:
        return f"# {node}\n"

    def cadvisor_metrics(self, node: str) -> str:
        return f"# cadvisor {node}\n"

    def probe_metrics(self, node: str) -> str:
        return f"# probes {node}\n"

    def metrics(self, node: str, requests: Mapping[tuple[str, str, str], int]) -> str:
        return "".join(f"{k[1]} {v}\n" for k, v in sorted(requests.items()))

    def configz(self, node: str, port: int) -> dict[str, Any]:
        return {"kubeletconfig": {"port": port}}


def test_one_port_per_node_serves_that_node_only() -> None:
    a, b = pod("a", "u1"), pod("b", "u2")
    b["spec"]["nodeName"] = "n2"
    for p in (a, b):
        for cs in p["status"]["containerStatuses"]:
            cs["containerID"] = "containerd://x"
    by_name = {("ns", "a"): a, ("ns", "b"): b}

    async def run() -> dict[str, Any]:
        server = KubeletServer(lambda ns, n: by_name.get((ns, n)), nodes=["n1", "n2"], views=_Views([a, b]))
        shared = KubeletServer(lambda ns, n: by_name.get((ns, n)), list_pods=lambda: [a, b])
        port = await server.start()
        await shared.start()
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        out: dict[str, Any] = {"first": port, "ports": dict(server.ports)}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as s:
                for node, p in server.ports.items():
                    base = f"https://127.0.0.1:{p}"
                    async with s.get(f"{base}/pods") as r:
                        out[f"{node}/pods"] = [
                            i["metadata"]["name"] for i in orjson.loads(await r.read())["items"]
                        ]
                    async with s.get(f"{base}/containerLogs/ns/a/app?tailLines=1") as r:
                        out[f"{node}/logs-a"] = (r.status, await r.text())
                    async with s.get(f"{base}/stats/summary?only_cpu_and_memory=true") as r:
                        out[f"{node}/summary"] = (r.status, await r.text())
                    async with s.get(f"{base}/configz") as r:
                        out[f"{node}/configz"] = orjson.loads(await r.read())
                    async with s.get(f"{base}/metrics") as r:
                        out[f"{node}/metrics"] = (r.headers["Content-Type"], await r.text())
                base = f"https://127.0.0.1:{shared.port}"
                async with s.get(f"{base}/pods") as r:
                    out["shared/pods"] = [
                        i["metadata"]["name"] for i in orjson.loads(await r.read())["items"]
                    ]
                async with s.get(f"{base}/stats/summary") as r:
                    out["shared/summary"] = r.status
        finally:
            await server.stop()
            await shared.stop()
        return out

    out = asyncio.run(run())
    ports = out["ports"]
    assert set(ports) == {"n1", "n2"} and len(set(ports.values())) == 2 and out["first"] == ports["n1"]
    assert out["n1/pods"] == ["a"] and out["n2/pods"] == ["b"]
    assert out["n1/logs-a"][0] == 200 and out["n2/logs-a"] == (404, 'pod "a" does not exist')
    status, body = out["n2/summary"]
    assert status == 200 and orjson.loads(body)["node"] == {"nodeName": "n2", "brief": True}
    assert body.startswith('{\n "node": {\n  "nodeName": "n2"')  # go-restful's one-space indent
    assert out["n2/configz"] == {"kubeletconfig": {"port": ports["n2"]}}
    ctype, text = out["n2/metrics"]
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    assert "stats 1" in text and "containerLogs 1" in text and "\nmetrics 1" in text
    assert out["shared/pods"] == ["a", "b"] and out["shared/summary"] == 404
