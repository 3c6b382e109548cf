"""The official Python client (`kubernetes`) against our API server, sharing one server per module."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import kubernetes
import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from .conftest import Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(module_server: Server) -> Iterator[client.ApiClient]:
    c = kubernetes.config.new_client_from_config(config_file=str(module_server.kubeconfig))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def v1(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def make_ns(v1: client.CoreV1Api, name: str) -> str:
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def test_create_and_list_configmaps(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-list")
    created = v1.create_namespaced_config_map(ns, configmap("a", x="1"))
    assert isinstance(created, client.V1ConfigMap)
    assert created.metadata.name == "a"
    assert created.metadata.namespace == ns
    assert created.metadata.uid
    assert created.metadata.resource_version.isdigit()
    assert created.metadata.creation_timestamp is not None
    assert created.data == {"x": "1"}
    v1.create_namespaced_config_map(ns, configmap("b", y="2"))

    lst = v1.list_namespaced_config_map(ns)
    assert isinstance(lst, client.V1ConfigMapList)
    assert [i.metadata.name for i in lst.items] == ["a", "b"]
    assert all(i.metadata.resource_version.isdigit() for i in lst.items)
    assert lst.items[0].metadata.resource_version == created.metadata.resource_version
    assert lst.items[0].metadata.uid == created.metadata.uid
    assert [i.data for i in lst.items] == [{"x": "1"}, {"y": "2"}]
    assert int(lst.metadata.resource_version) >= max(int(i.metadata.resource_version) for i in lst.items)

    read = v1.read_namespaced_config_map("b", ns)
    assert read.data == {"y": "2"}
    everywhere = v1.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={ns}")
    assert sorted(i.metadata.name for i in everywhere.items) == ["a", "b"]


def test_list_with_label_selector(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-labels")
    v1.create_namespaced_config_map(ns, configmap("front", {"tier": "frontend", "app": "shop"}))
    v1.create_namespaced_config_map(ns, configmap("back", {"tier": "backend", "app": "shop"}))
    v1.create_namespaced_config_map(ns, configmap("plain"))

    def sel(s: str) -> list[str]:
        return sorted(i.metadata.name for i in v1.list_namespaced_config_map(ns, label_selector=s).items)

    assert sel("tier=frontend") == ["front"]
    assert sel("app=shop") == ["back", "front"]
    assert sel("app=shop,tier!=frontend") == ["back"]
    assert sel("tier in (backend,frontend)") == ["back", "front"]
    assert sel("!tier") == ["plain"]
    assert sel("tier") == ["back", "front"]
    assert sel("app=none") == []


def test_read_missing_is_404(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-missing")
    with pytest.raises(ApiException) as ei:
        v1.read_namespaced_config_map("nope", ns)
    assert ei.value.status == 404
    assert ei.value.reason == "Not Found"
    body = json.loads(ei.value.body)
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["code"] == 404
    assert body["message"] == 'configmaps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "configmaps"}
    with pytest.raises(ApiException) as ei:
        v1.read_namespace("py-no-such-namespace")
    assert ei.value.status == 404


def test_replace_with_stale_resource_version_conflicts(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-conflict")
    first = v1.create_namespaced_config_map(ns, configmap("c", x="1"))
    stale_rv = first.metadata.resource_version

    first.data = {"x": "2"}
    second = v1.replace_namespaced_config_map("c", ns, first)
    assert second.data == {"x": "2"}
    assert int(second.metadata.resource_version) > int(stale_rv)

    stale = configmap("c", x="3")
    stale.metadata.resource_version = stale_rv
    with pytest.raises(ApiException) as ei:
        v1.replace_namespaced_config_map("c", ns, stale)
    assert ei.value.status == 409
    assert ei.value.reason == "Conflict"
    body = json.loads(ei.value.body)
    assert body["reason"] == "Conflict"
    assert body["code"] == 409
    assert body["details"]["name"] == "c"
    # The stale write did not land.
    now = v1.read_namespaced_config_map("c", ns)
    assert now.data == {"x": "2"}
    assert now.metadata.resource_version == second.metadata.resource_version


def test_delete_pod_returns_v1pod(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-pods")
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="p"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]),
    )
    created = v1.create_namespaced_pod(ns, pod)
    assert created.status.phase == "Pending"
    deleted = v1.delete_namespaced_pod("p", ns)
    assert isinstance(deleted, client.V1Pod)
    assert deleted.metadata.name == "p"
    assert deleted.metadata.uid == created.metadata.uid
    # Never scheduled, so it is removed at once.
    with pytest.raises(ApiException) as ei:
        v1.read_namespaced_pod("p", ns)
    assert ei.value.status == 404
    assert v1.list_namespaced_pod(ns).items == []


def test_delete_configmap_returns_status(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-delete")
    created = v1.create_namespaced_config_map(ns, configmap("gone"))
    res = v1.delete_namespaced_config_map("gone", ns)
    res = res if isinstance(res, dict) else res.to_dict()
    assert res["kind"] == "Status"
    assert res["status"] == "Success"
    assert res["details"]["name"] == "gone"
    assert res["details"]["kind"] == "configmaps"
    assert res["details"]["uid"] == created.metadata.uid
    with pytest.raises(ApiException) as ei:
        v1.delete_namespaced_config_map("gone", ns)
    assert ei.value.status == 404


def events(stream: Iterator[dict], stop_after: int) -> list[tuple[str, str, str, dict[str, str] | None]]:
    out = []
    for ev in stream:
        obj = ev["object"]
        out.append((ev["type"], obj.metadata.name, obj.metadata.resource_version, obj.data))
        if len(out) == stop_after:
            break
    return out


def test_watch_replays_changes_after_resource_version(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-watch")
    v1.create_namespaced_config_map(ns, configmap("before", x="0"))
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version

    a = v1.create_namespaced_config_map(ns, configmap("a", x="1"))
    a_rv = a.metadata.resource_version
    a.data = {"x": "2"}
    a2 = v1.replace_namespaced_config_map("a", ns, a)
    v1.delete_namespaced_config_map("a", ns)

    w = watch.Watch()
    got = events(w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=5), 3)
    w.stop()
    assert [(t, n, d) for t, n, _, d in got] == [
        ("ADDED", "a", {"x": "1"}),
        ("MODIFIED", "a", {"x": "2"}),
        ("DELETED", "a", {"x": "2"}),
    ]
    assert got[0][2] == a_rv
    assert got[1][2] == a2.metadata.resource_version
    assert int(got[2][2]) > int(a2.metadata.resource_version)


def test_watch_sees_live_changes_in_order(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-watch-live")
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    got: list[tuple[str, str, str, dict[str, str] | None]] = []
    w = watch.Watch()

    def run() -> None:
        got.extend(
            events(w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=5), 4)
        )

    t = threading.Thread(target=run, daemon=True)
    t.start()
    b = v1.create_namespaced_config_map(ns, configmap("b", x="1"))
    b_rv = b.metadata.resource_version
    c = v1.create_namespaced_config_map(ns, configmap("c", {"k": "v"}))
    b.data = {"x": "9"}
    b2 = v1.replace_namespaced_config_map("b", ns, b)
    v1.delete_namespaced_config_map("c", ns)
    t.join(10)
    w.stop()
    assert [(typ, n) for typ, n, _, _ in got] == [
        ("ADDED", "b"),
        ("ADDED", "c"),
        ("MODIFIED", "b"),
        ("DELETED", "c"),
    ]
    assert got[0][2:] == (b_rv, {"x": "1"})
    assert got[1][2] == c.metadata.resource_version
    assert got[2][2] == b2.metadata.resource_version
    assert got[2][3] == {"x": "9"}
    rvs = [int(r) for _, _, r, _ in got]
    assert rvs == sorted(rvs)
    assert len(set(rvs)) == 4


def test_watch_with_label_selector(v1: client.CoreV1Api) -> None:
    ns = make_ns(v1, "py-watch-sel")
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    v1.create_namespaced_config_map(ns, configmap("skip", {"app": "other"}))
    v1.create_namespaced_config_map(ns, configmap("keep", {"app": "web"}))
    v1.delete_namespaced_config_map("skip", ns)
    v1.delete_namespaced_config_map("keep", ns)
    w = watch.Watch()
    stream = w.stream(
        v1.list_namespaced_config_map, ns, resource_version=rv, label_selector="app=web", timeout_seconds=5
    )
    got = events(stream, 2)
    w.stop()
    assert [(t, n) for t, n, _, _ in got] == [("ADDED", "keep"), ("DELETED", "keep")]
