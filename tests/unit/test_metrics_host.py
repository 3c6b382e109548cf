"""The simulated metrics-server: quantity and duration strings, usage simulation, scrape timing, the
host's PodMetrics/NodeMetrics items and the metrics.k8s.io API surface (errors, tables, discovery)."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from vcluster.apiserver.discovery import Discovery
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.metricsapi import NODE_METRICS, POD_METRICS, MetricsAPI, metrics_table
from vcluster.apiserver.quantityfmt import binary_si, cpu_string, decimal_si, go_duration, memory_string
from vcluster.apiserver.request import parse_resource_path
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.selectors import FieldSelector, LabelSelector
from vcluster.hostsim.metrics import HostMetrics
from vcluster.hostsim.usage import (
    CPU_ANNOTATION,
    MEMORY_ANNOTATION,
    MIB,
    container_usages,
    cpu_usage,
    memory_usage,
    node_usage,
    node_window,
    parse_override,
    pod_window,
    running_containers,
)

EVERYTHING = LabelSelector.everything()
NO_FIELDS = FieldSelector()


# ---------------------------------------------------------------------------- formats
@pytest.mark.parametrize(
    ("nanocores", "text"),
    [(0, "0"), (250_000_000, "250m"), (1_000_000_000, "1"), (1_500_000_000, "1500m"),
     (12_345_678, "12345678n"), (2_000_000_003, "2000000003n"), (100_000, "100u"), (3_000_000_000_000, "3k")],
)  # fmt: skip
def test_cpu_strings_are_go_canonical_decimal_si(nanocores: int, text: str) -> None:
    assert cpu_string(nanocores) == text


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(0, "0"), (512, "512"), (1000, "1k"), (1024, "1Ki"), (3_276_800, "3200Ki"), (1_048_576, "1Mi"),
     (123_456_789, "123456789"), (3 * 1024**3, "3Gi")],
)  # fmt: skip
def test_memory_strings_are_go_canonical_binary_si(nbytes: int, text: str) -> None:
    assert memory_string(nbytes) == text
    assert binary_si(-nbytes) == ("-" + text if nbytes else "0")


def test_decimal_si_with_scales() -> None:
    assert decimal_si(15, 0) == "15"
    assert decimal_si(1500, 0) == "1500"
    assert decimal_si(15000, 0) == "15k"
    assert decimal_si(5, -3) == "5m"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(15, "15s"), (12.5, "12.5s"), (0.5, "500ms"), (90.5, "1m30.5s"), (3600, "1h0m0s"), (0, "0s"),
     (10.123, "10.123s"), (0.0000012, "1.2µs")],
)  # fmt: skip
def test_windows_are_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


# ---------------------------------------------------------------------------- usage
def pod(
    uid: str = "uid-1",
    containers: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": uid, "annotations": annotations or {}},
        "spec": {"containers": containers or [{"name": "main"}], **spec},
    }


def test_usage_is_stable_and_differs_between_pods_and_containers() -> None:
    a, b = pod("uid-a"), pod("uid-b")
    main = a["spec"]["containers"][0]
    assert cpu_usage(a, main) == cpu_usage(pod("uid-a"), main)
    assert memory_usage(a, main) == memory_usage(pod("uid-a"), main)
    assert cpu_usage(a, main) != cpu_usage(b, main)
    assert cpu_usage(a, {"name": "other"}) != cpu_usage(a, main)


def test_usage_without_resources_is_small() -> None:
    for i in range(50):
        p = pod(f"uid-{i}")
        c = p["spec"]["containers"][0]
        assert 1_000_000 <= cpu_usage(p, c) < 16_000_000  # 1-15m (+ below a millicore)
        mem = memory_usage(p, c)
        assert 4 * MIB <= mem <= 40 * MIB and mem % 4096 == 0


def test_usage_stays_within_requests_and_limits() -> None:
    c = {"name": "main", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"},
                                       "limits": {"cpu": "600m", "memory": "300Mi"}}}  # fmt: skip
    for i in range(50):
        p = pod(f"uid-{i}", [c])
        cpu, mem = cpu_usage(p, c), memory_usage(p, c)
        assert 100_000_000 <= cpu <= 600_000_000  # 20 % of the request .. the limit
        assert int(256 * MIB * 0.3) - 4096 <= mem <= 300 * MIB * 0.95
    only_limit = {"name": "main", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}
    p = pod("x", [only_limit])
    assert 200_000_000 <= cpu_usage(p, only_limit) <= 1_001_000_000
    assert 0.2 * 1024 * MIB - 4096 <= memory_usage(p, only_limit) <= 0.7 * 1024 * MIB


def test_annotations_override_usage_per_container() -> None:
    assert parse_override("250m", "main") == Fraction(1, 4)
    assert parse_override("app=250m,sidecar=5m", "sidecar") == Fraction(5, 1000)
    assert parse_override("app=250m,sidecar=5m", "other") is None
    assert parse_override("100m, sidecar=5m", "main") == Fraction(1, 10)
    assert parse_override("100m, sidecar=5m", "sidecar") == Fraction(5, 1000)
    assert parse_override("lots,main=-1", "main") is None  # not quantities (or negative): ignored
    p = pod(
        containers=[{"name": "main"}, {"name": "sidecar"}],
        annotations={CPU_ANNOTATION: "main=1.5,sidecar=10m", MEMORY_ANNOTATION: "64Mi"},
    )
    assert container_usages(p) == [("main", 1_500_000_000, 64 * MIB), ("sidecar", 10_000_000, 64 * MIB)]


def test_running_containers_include_sidecars_but_not_init_containers() -> None:
    p = pod(
        containers=[{"name": "main"}],
        initContainers=[{"name": "init"}, {"name": "proxy", "restartPolicy": "Always"}],
    )
    assert [c["name"] for c in running_containers(p)] == ["proxy", "main"]


def test_node_usage_is_its_pods_plus_a_system_share() -> None:
    base_cpu, base_mem = node_usage("node-1", [])
    assert 50_000_000 <= base_cpu <= 120_000_000 and 512 * MIB <= base_mem <= 1024 * MIB
    p = pod(annotations={CPU_ANNOTATION: "250m", MEMORY_ANNOTATION: "100Mi"})
    assert node_usage("node-1", [p, p]) == (base_cpu + 500_000_000, base_mem + 200 * MIB)
    assert node_usage("node-2", []) != (base_cpu, base_mem)


# ---------------------------------------------------------------------------- scrape timing
def test_pod_window_needs_two_scrapes_of_the_container() -> None:
    epoch = 1000.0
    # resolution 15 s: scrapes at 1000, 1015, 1030, ...
    assert pod_window(started=985, now=1010, epoch=epoch, resolution=15) is None  # one scrape so far
    assert pod_window(started=990, now=1010, epoch=epoch, resolution=15) == (1000, 10)  # fresh: 10 s old
    assert pod_window(started=990, now=1016, epoch=epoch, resolution=15) == (1015, 15)
    # a container seen by one scrape has a rate only if it is 10 s to one resolution old then
    # (metrics-server's fresh-container rule: its start is the first point) ...
    assert pod_window(started=1004, now=1016, epoch=epoch, resolution=15) == (1015, 11)
    # ... else it waits for the next scrape
    assert pod_window(started=1006, now=1016, epoch=epoch, resolution=15) is None  # 9 s old
    assert pod_window(started=1006, now=1031, epoch=epoch, resolution=15) == (1030, 15)
    # a short resolution (tests, demos): metrics within two resolutions of the start
    assert pod_window(started=1000.5, now=1001.2, epoch=epoch, resolution=1) is None
    assert pod_window(started=1000.5, now=1002.1, epoch=epoch, resolution=1) == (1002, 1)


def test_node_window_from_the_second_scrape() -> None:
    assert node_window(now=1014, epoch=1000, resolution=15) is None
    assert node_window(now=1016, epoch=1000, resolution=15) == (1015, 15)


# ---------------------------------------------------------------------------- HostMetrics
class FakeInformer:
    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objs if namespace is None or o["metadata"].get("namespace") == namespace]

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return next(
            (o for o in self.list(namespace) if o["metadata"]["name"] == name),
            None,
        )


class FakeSim:
    def __init__(self, pods: list[dict[str, Any]], nodes: list[dict[str, Any]], simulated: set[str]) -> None:
        self.pod_informer = FakeInformer(pods)
        self.node_informer = FakeInformer(nodes)
        self.nodes = type("N", (), {"nodes": dict.fromkeys(simulated)})()
        self.kubelet = None


def running_pod(name: str, ns: str, node: str, started: str = "2026-01-01T00:00:00Z", **labels: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels,
                     "annotations": {CPU_ANNOTATION: "250m", MEMORY_ANNOTATION: "64Mi"}},
        "spec": {"nodeName": node, "containers": [{"name": "main"}]},
        "status": {"phase": "Running", "startTime": started,
                   "containerStatuses": [{"name": "main", "state": {"running": {"startedAt": started}}}]},
    }  # fmt: skip


def host_metrics() -> HostMetrics:
    pods = [
        running_pod("b", "ns1", "node-1", app="b"),
        running_pod("a", "ns2", "node-1", app="a"),
        running_pod("c", "ns1", "node-2", app="c"),
        running_pod("elsewhere", "ns1", "real-node"),  # not a simulated node: no metrics
        running_pod("young", "ns1", "node-1", started="2026-01-01T00:10:00Z"),
        {**running_pod("pending", "ns1", "node-1"), "status": {"phase": "Pending"}},
    ]
    nodes = [{"metadata": {"name": n, "labels": {"zone": n[-1]}}} for n in ("node-1", "node-2", "real-node")]
    t = [1767225600.0]  # 2026-01-01T00:00:00Z
    m = HostMetrics(FakeSim(pods, nodes, {"node-1", "node-2"}), 15, clock=lambda: t[0])  # type: ignore[arg-type]
    t[0] += 601  # 00:10:01: the latest scrape at 00:10:00, the one before at 00:09:45
    return m


def test_host_pod_metrics_are_running_pods_of_simulated_nodes_sorted() -> None:
    m = host_metrics()
    items = asyncio.run(m.pod_metrics("", EVERYTHING, NO_FIELDS))
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        ("ns1", "b"), ("ns1", "c"), ("ns2", "a")
    ]  # fmt: skip
    b = items[0]
    assert (
        b["metadata"]["labels"] == {"app": "b"}
        and b["metadata"]["creationTimestamp"] == "2026-01-01T00:10:01Z"
    )
    assert b["timestamp"] == "2026-01-01T00:10:00Z" and b["window"] == "15s"
    assert b["containers"] == [{"name": "main", "usage": {"cpu": "250m", "memory": "64Mi"}}]
    ns1 = asyncio.run(m.pod_metrics("ns1", LabelSelector.parse("app in (b,c)"), NO_FIELDS))
    assert [i["metadata"]["name"] for i in ns1] == ["b", "c"]
    one = asyncio.run(
        m.pod_metrics("", EVERYTHING, FieldSelector.parse("metadata.name=c", {"metadata.name"}))
    )
    assert [i["metadata"]["name"] for i in one] == ["c"]


def test_host_pod_metric_errors_as_metrics_server() -> None:
    m = host_metrics()
    assert asyncio.run(m.pod_metric("ns2", "a"))["metadata"]["name"] == "a"
    with pytest.raises(StatusError) as e:
        asyncio.run(m.pod_metric("ns1", "nosuch"))
    assert (e.value.code, e.value.message) == (404, 'pods "nosuch" not found')
    for name in ("young", "pending", "elsewhere"):
        with pytest.raises(StatusError) as e:
            asyncio.run(m.pod_metric("ns1", name))
        assert e.value.message == f'podmetrics.metrics.k8s.io "ns1/{name}" not found'
        assert e.value.details == {"name": f"ns1/{name}", "group": "metrics.k8s.io", "kind": "podmetrics"}


def test_host_node_metrics_sum_their_pods() -> None:
    m = host_metrics()
    items = asyncio.run(m.node_metrics(EVERYTHING, NO_FIELDS))
    assert [i["metadata"]["name"] for i in items] == ["node-1", "node-2"]
    base_cpu, base_mem = node_usage("node-1", [])
    young = 250_000_000  # running but without pod metrics yet: the node still counts it
    assert items[0]["usage"] == {
        "cpu": cpu_string(base_cpu + 2 * 250_000_000 + young),
        "memory": memory_string(base_mem + 3 * 64 * MIB),
    }
    assert items[0]["metadata"]["labels"] == {"zone": "1"} and items[0]["window"] == "15s"
    zone2 = asyncio.run(m.node_metrics(LabelSelector.parse("zone=2"), NO_FIELDS))
    assert [i["metadata"]["name"] for i in zone2] == ["node-2"]
    with pytest.raises(StatusError, match=r'nodemetrics\.metrics\.k8s\.io "real-node" not found'):
        asyncio.run(m.node_metric("real-node"))
    with pytest.raises(StatusError, match='nodes "gone" not found'):
        asyncio.run(m.node_metric("gone"))


# ---------------------------------------------------------------------------- the API surface
def call(api: MetricsAPI, method: str, path: str, accept: str = "application/json") -> tuple[int, Any]:
    req = make_mocked_request(method, path, headers={"Accept": accept})
    info = parse_resource_path(req.path, method, req.query)
    assert info is not None

    async def run() -> tuple[int, Any]:
        try:
            resp = await api.handle(req, info)
        except StatusError as e:
            return e.code, e.status()
        return resp.status, orjson.loads(resp.body)  # type: ignore[arg-type]

    return asyncio.run(run())


def test_api_lists_gets_and_refuses_like_metrics_server() -> None:
    api = MetricsAPI(host_metrics())
    code, body = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods")
    assert code == 200 and body["kind"] == "PodMetricsList" and body["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert body["metadata"] == {} and [i["metadata"]["name"] for i in body["items"]] == ["b", "c"]
    assert "kind" not in body["items"][0]
    code, body = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-2")
    assert code == 200 and body["kind"] == "NodeMetrics" and body["metadata"]["name"] == "node-2"
    code, body = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/pods?watch=true")
    assert (
        code == 405 and body["message"] == 'watch is not supported on resources of kind "pods.metrics.k8s.io"'
    )
    code, body = call(api, "DELETE", "/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods/b")
    assert code == 405
    code, body = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/pods?fieldSelector=spec.nodeName%3Dx")
    assert code == 400 and body["message"] == (
        '"spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )
    code, body = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns1/nodes")
    assert code == 404
    code, body = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods/b/status")
    assert code == 404
    pods_only = MetricsAPI(host_metrics(), nodes=False)
    assert pods_only.resources() == [POD_METRICS]
    assert call(pods_only, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 404


def test_tables_have_metrics_server_columns() -> None:
    api = MetricsAPI(host_metrics())
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    code, table = call(api, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns1/pods", accept)
    assert code == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory", "Window"]
    assert [c["format"] for c in table["columnDefinitions"]] == ["name", "quantity", "quantity", "duration"]
    assert table["rows"][0]["cells"] == ["b", "250m", "64Mi", "15s"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    two = {"metadata": {"name": "p"}, "window": "1s", "containers": [
        {"name": "a", "usage": {"cpu": "1500m", "memory": "100Ki"}},
        {"name": "b", "usage": {"cpu": "500m", "memory": "1Mi"}},
    ]}  # fmt: skip
    assert metrics_table([two], "None")["rows"] == [{"cells": ["p", "2", "1124Ki", "1s"]}]
    assert metrics_table([], "Metadata")["rows"] == []


def test_discovery_lists_api_services_after_every_group_without_storage_hash() -> None:
    d = Discovery(Registry(), "127.0.0.1:6443", extra=lambda: [NODE_METRICS, POD_METRICS])
    groups = orjson.loads(d.api_groups()[0])["groups"]
    assert groups[-1]["name"] == "metrics.k8s.io"
    assert groups[-1]["preferredVersion"] == {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}
    res = d.resource_list("metrics.k8s.io", "v1beta1")
    assert res is not None
    doc = orjson.loads(res[0])
    assert doc["resources"] == [
        {
            "name": "nodes",
            "singularName": "",
            "namespaced": False,
            "kind": "NodeMetrics",
            "verbs": ["get", "list"],
        },
        {
            "name": "pods",
            "singularName": "",
            "namespaced": True,
            "kind": "PodMetrics",
            "verbs": ["get", "list"],
        },
    ]
    agg = orjson.loads(d.aggregated(False, "v2")[0])["items"][-1]
    assert agg["metadata"] == {"name": "metrics.k8s.io"}
    assert [(r["resource"], r["scope"], r["verbs"]) for r in agg["versions"][0]["resources"]] == [
        ("nodes", "Cluster", ["get", "list"]), ("pods", "Namespaced", ["get", "list"])
    ]  # fmt: skip
    assert Discovery(Registry(), "x").resource_list("metrics.k8s.io", "v1beta1") is None
