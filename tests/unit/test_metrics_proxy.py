"""integrations.metricsServer: the virtual cluster's metrics.k8s.io from the host's — selector and
name translation, filtering to this virtual cluster's pods and nodes, errors; and its config."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.selectors import FieldSelector, LabelSelector
from vcluster.client import ConnectionFailed
from vcluster.config import load_config, reload_class
from vcluster.deploy.manifests import cluster_rules
from vcluster.integrations.metricsserver import (
    MetricsServerProxy,
    host_pod_selector,
    is_our_host_pod,
    virtual_node_items,
    virtual_pod_items,
)
from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.names import host_name, label_key_to_host

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns")
EVERYTHING = LabelSelector.everything()
NO_FIELDS = FieldSelector()


def vpod(name: str, ns: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}}


def hpod(name: str, ns: str, vc: str = "my-vc", **labels: str) -> dict[str, Any]:
    """The host copy of virtual pod ns/name as virtual cluster `vc` makes it."""
    return {
        "metadata": {
            "name": host_name(name, ns, vc),
            "namespace": "vc-ns",
            "labels": {**labels, c.MARKER_LABEL: vc, c.NAMESPACE_LABEL: ns},
            "annotations": {c.NAME_ANNOTATION: name, c.NAMESPACE_ANNOTATION: ns},
        }
    }


def item(name: str, ns: str = "vc-ns", cpu: str = "250m", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": "2026-01-01T00:00:01Z",
            "labels": labels,
        },
        "timestamp": "2026-01-01T00:00:00Z",
        "window": "15s",
        "containers": [{"name": "main", "usage": {"cpu": cpu, "memory": "64Mi"}}],
    }


# ---------------------------------------------------------------------------- pure translation
def test_host_selector_translates_keys_and_adds_markers() -> None:
    sel = LabelSelector.parse("app=web,release in (a,b),!tier")
    out = LabelSelector.parse(host_pod_selector(sel, "my-vc", "team-a"))
    reqs = {r.key: (r.operator, r.values) for r in out.requirements()}
    assert reqs[c.MARKER_LABEL][1] == ("my-vc",) and reqs[c.NAMESPACE_LABEL][1] == ("team-a",)
    assert reqs["app"][1] == ("web",) and "tier" in reqs
    hashed = label_key_to_host("release", "my-vc")
    assert hashed != "release" and "release" not in reqs and set(reqs[hashed][1]) == {"a", "b"}
    all_ns = host_pod_selector(EVERYTHING, "my-vc", "")
    assert all_ns == f"{c.MARKER_LABEL}=my-vc"
    # a virtual selector on the marker keys cannot widen the host query
    spoof = host_pod_selector(LabelSelector.parse(f"{c.MARKER_LABEL}=other"), "my-vc", "")
    assert LabelSelector.parse(spoof).requires_exact_match(c.MARKER_LABEL) == "my-vc"


def test_pod_items_are_renamed_to_the_wanted_virtual_pods_only() -> None:
    web, db = vpod("web", "team-a", app="web"), vpod("db", "default", app="db")
    wanted = {host_name("web", "team-a", "my-vc"): web, host_name("db", "default", "my-vc"): db}
    host = [
        item(host_name("web", "team-a", "my-vc"), app="web", **{c.MARKER_LABEL: "my-vc"}),
        item(host_name("web", "team-a", "other-vc")),  # another virtual cluster's
        item("plain"),  # not a virtual cluster's
        item(host_name("db", "default", "my-vc"), cpu="5m"),
    ]
    out = virtual_pod_items(host, wanted)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in out] == [
        ("default", "db"), ("team-a", "web")
    ]  # fmt: skip
    assert out[1]["metadata"]["labels"] == {"app": "web"}  # the virtual pod's, no host markers
    assert out[1]["metadata"]["creationTimestamp"] == "2026-01-01T00:00:01Z"
    assert out[0]["containers"][0]["usage"]["cpu"] == "5m" and out[1]["window"] == "15s"


def test_node_items_only_for_virtual_nodes_with_their_labels() -> None:
    host = [
        {"metadata": {"name": "n2", "labels": {"host": "x"}}, "usage": {"cpu": "1"}},
        {"metadata": {"name": "n1", "labels": {"host": "x"}}, "usage": {"cpu": "2"}},
        {"metadata": {"name": "n3"}, "usage": {"cpu": "3"}},
    ]
    vnodes = {"n1": {"metadata": {"name": "n1", "labels": {"v": "1"}}}, "n2": {"metadata": {"name": "n2"}}}
    out = virtual_node_items(host, vnodes)
    assert [(i["metadata"]["name"], i["metadata"].get("labels")) for i in out] == [
        ("n1", {"v": "1"}),
        ("n2", None),
    ]


def test_host_pod_ownership() -> None:
    assert is_our_host_pod(hpod("web", "team-a"), CTX, "web")
    assert not is_our_host_pod(None, CTX, "web")
    assert not is_our_host_pod(hpod("web", "team-a", vc="other-vc"), CTX, "web")
    squatter = hpod("web", "team-a")
    squatter["metadata"]["annotations"][c.NAME_ANNOTATION] = "other"
    assert not is_our_host_pod(squatter, CTX, "web")


# ---------------------------------------------------------------------------- the proxy
class FakeInformer:
    def __init__(self, objs: list[dict[str, Any]]) -> None:
        self.objs = objs

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objs if namespace is None or o["metadata"].get("namespace") == namespace]

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return next((o for o in self.list(namespace) if o["metadata"]["name"] == name), None)


class FakeInformers:
    def __init__(self, by_plural: dict[str, FakeInformer]) -> None:
        self.by_plural = by_plural

    def informer(self, api_version: str, plural: str, namespace: str | None = None) -> FakeInformer:
        return self.by_plural[plural]


class FakeHost:
    """Answers GETs from a table of path -> (status, body); records the calls."""

    def __init__(self, answers: dict[str, tuple[int, Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, str] | None]] = []

    async def request(self, method: str, path: str, *, params: Any = None, timeout: Any = None) -> Any:
        self.calls.append((path, params))
        if path not in self.answers:
            raise ConnectionFailed("connection refused", method=method, path=path)
        status, body = self.answers[path]
        return status, {}, orjson.dumps(body)


class FakeSyncer:
    def __init__(self, host: FakeHost, vpods: list[dict], hpods: list[dict], vnodes: list[dict]) -> None:
        self.ctx = CTX
        self.host = host
        self.host_namespace = CTX.host_namespace
        self.virtual_informers = FakeInformers({"pods": FakeInformer(vpods), "nodes": FakeInformer(vnodes)})
        self.host_informers = FakeInformers({"pods": FakeInformer(hpods)})

    def owner_lookup(self, kind: Any, namespace: str, name: str) -> None:
        return None


BASE = "/apis/metrics.k8s.io/v1beta1"
PODS = f"{BASE}/namespaces/vc-ns/pods"


def proxy(answers: dict[str, tuple[int, Any]]) -> tuple[MetricsServerProxy, FakeHost]:
    host = FakeHost(answers)
    vpods = [vpod("web", "team-a", app="web"), vpod("db", "team-a", app="db"), vpod("new", "team-a")]
    hpods = [
        hpod("web", "team-a", app="web"),
        hpod("db", "team-a", app="db"),
        hpod("web", "team-a", "other-vc"),
    ]
    vnodes = [{"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}}]
    return MetricsServerProxy(FakeSyncer(host, vpods, hpods, vnodes)), host  # type: ignore[arg-type]


def test_proxy_lists_this_virtual_clusters_pods_by_virtual_name() -> None:
    web_h, db_h = host_name("web", "team-a", "my-vc"), host_name("db", "team-a", "my-vc")
    host_list = {
        "kind": "PodMetricsList",
        "items": [item(web_h), item(db_h), item(host_name("web", "team-a", "other-vc"))],
    }
    p, host = proxy({PODS: (200, host_list)})
    out = asyncio.run(p.pod_metrics("team-a", EVERYTHING, NO_FIELDS))
    assert [i["metadata"]["name"] for i in out] == ["db", "web"]
    assert {i["metadata"]["namespace"] for i in out} == {"team-a"}
    path, params = host.calls[-1]
    assert path == PODS and params is not None
    assert LabelSelector.parse(params["labelSelector"]).requires_exact_match(c.NAMESPACE_LABEL) == "team-a"
    web = asyncio.run(p.pod_metrics("", LabelSelector.parse("app=web"), NO_FIELDS))
    assert [i["metadata"]["name"] for i in web] == ["web"]  # the virtual selector decides
    named = asyncio.run(
        p.pod_metrics("team-a", EVERYTHING, FieldSelector.parse("metadata.name=db", {"metadata.name"}))
    )
    assert [i["metadata"]["name"] for i in named] == ["db"]


def test_proxy_gets_one_pod_and_says_what_is_missing() -> None:
    web_h = host_name("web", "team-a", "my-vc")
    missing = {
        "kind": "Status",
        "code": 404,
        "reason": "NotFound",
        "details": {"name": "x", "kind": "podmetrics"},
    }
    p, _ = proxy({
        f"{PODS}/{web_h}": (200, {"kind": "PodMetrics", "apiVersion": "x", **item(web_h)}),
        f"{PODS}/{host_name('db', 'team-a', 'my-vc')}": (404, missing),
        f"{PODS}/{host_name('new', 'team-a', 'my-vc')}": (200, item(host_name("new", "team-a", "my-vc"))),
    })  # fmt: skip
    got = asyncio.run(p.pod_metric("team-a", "web"))
    assert got["metadata"]["name"] == "web" and got["metadata"]["namespace"] == "team-a" and "kind" not in got
    with pytest.raises(StatusError) as e:
        asyncio.run(p.pod_metric("team-a", "db"))
    assert (e.value.code, e.value.message) == (404, 'podmetrics.metrics.k8s.io "team-a/db" not found')
    with pytest.raises(StatusError) as e:  # the host has metrics, but of no pod of ours
        asyncio.run(p.pod_metric("team-a", "new"))
    assert e.value.message == 'podmetrics.metrics.k8s.io "team-a/new" not found'
    with pytest.raises(StatusError) as e:
        asyncio.run(p.pod_metric("team-a", "nosuch"))
    assert e.value.message == 'pods "nosuch" not found'


def test_proxy_nodes_are_the_virtual_clusters() -> None:
    nodes = {"items": [{"metadata": {"name": n}, "usage": {"cpu": "1"}} for n in ("n1", "n2")]}
    p, _ = proxy({f"{BASE}/nodes": (200, nodes), f"{BASE}/nodes/n1": (200, {"metadata": {"name": "n1"}})})
    out = asyncio.run(p.node_metrics(EVERYTHING, NO_FIELDS))
    assert [i["metadata"]["name"] for i in out] == ["n1"]
    assert out[0]["metadata"]["labels"] == {"kubernetes.io/hostname": "n1"}
    assert asyncio.run(p.node_metrics(LabelSelector.parse("kubernetes.io/hostname=n2"), NO_FIELDS)) == []
    assert asyncio.run(p.node_metric("n1"))["metadata"]["name"] == "n1"
    with pytest.raises(StatusError, match='nodes "n2" not found'):
        asyncio.run(p.node_metric("n2"))


def test_proxy_answers_503_when_the_host_has_no_metrics_api() -> None:
    no_api = {
        "kind": "Status",
        "code": 404,
        "reason": "NotFound",
        "message": "the server could not find the requested resource",
    }
    for answers in ({PODS: (404, no_api)}, {PODS: (503, {"message": "service unavailable"})}, {}):
        p, _ = proxy(answers)
        with pytest.raises(StatusError) as e:
            asyncio.run(p.pod_metrics("team-a", EVERYTHING, NO_FIELDS))
        assert e.value.code == 503 and e.value.reason == "ServiceUnavailable"
        assert (
            e.value.message
            == "the server is currently unable to handle the request (get pods.metrics.k8s.io)"
        )
    p, _ = proxy({})
    with pytest.raises(StatusError) as e:
        asyncio.run(p.node_metric("n1"))
    assert (
        e.value.message
        == "the server is currently unable to handle the request (get nodes.metrics.k8s.io n1)"
    )
    forbidden = {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"}
    p, _ = proxy({PODS: (403, forbidden)})
    with pytest.raises(StatusError) as e:
        asyncio.run(p.pod_metrics("", EVERYTHING, NO_FIELDS))
    assert (e.value.code, e.value.reason, e.value.message) == (403, "Forbidden", "no")


# ---------------------------------------------------------------------------- configuration
def test_metrics_server_integration_config() -> None:
    cfg = load_config(None)
    ms = cfg.integrations.metrics_server
    assert (ms.enabled, ms.nodes, ms.pods) == (False, True, True)
    assert cfg.model_dump(by_alias=True)["integrations"] == {
        "metricsServer": {"enabled": False, "nodes": True, "pods": True}
    }
    cfg = load_config(
        "integrations:\n"
        "  metricsServer: {enabled: true, nodes: false, apiService: {service: {name: ms, namespace: x}}}\n"
        "  kubeVirt: {enabled: false}\n"
    )
    assert cfg.integrations.metrics_server.enabled and not cfg.integrations.metrics_server.nodes
    assert cfg.not_used_sections() == ["integrations.kubeVirt", "integrations.metricsServer.apiService"]
    assert "apiService" not in cfg.model_dump(by_alias=True)["integrations"]["metricsServer"]
    with pytest.raises(Exception, match=r"integrations\.metricsServer\.pods: expected a boolean"):
        load_config("integrations: {metricsServer: {pods: 'yes'}}")
    with pytest.raises(Exception, match=r"integrations\.prometheus: unknown key"):
        load_config("integrations: {prometheus: {}}")
    assert reload_class("integrations.metricsServer.enabled") == "restart"
    # `vcluster manifests`: the syncer may read the host's metrics API when the integration is on
    rule = {"apiGroups": ["metrics.k8s.io"], "resources": ["nodes", "pods"], "verbs": ["get", "list"]}
    assert rule in cluster_rules(cfg) and rule not in cluster_rules(load_config(None))
