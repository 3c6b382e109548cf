"""Node decisions (§9.1-§9.4), node Service ownership (§9.3), deletes already under way (§3.11,
§8.5) and event copies into closed namespaces (§5.5), without servers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from vcluster.client import ApiError, WorkQueue
from vcluster.syncer import kinds, lifecycle
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine import events, nodes
from vcluster.syncer.resources import node as noderes

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="svc-uid")
DS = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u"}]


# ---------------------------------------------------------------- deletes under way (§3.11)


def test_a_delete_of_a_terminating_object_is_a_no_op_unless_it_shortens_the_grace() -> None:
    live = {"metadata": {"name": "p"}}
    going = {"metadata": {"name": "p", "deletionTimestamp": "t", "deletionGracePeriodSeconds": 30}}
    assert not lifecycle.delete_under_way(live)
    assert lifecycle.delete_under_way(going)
    assert lifecycle.delete_under_way(going, 30) and lifecycle.delete_under_way(going, 60)
    assert not lifecycle.delete_under_way(going, 5)  # a shorter grace is still worth sending


def test_a_terminating_host_object_without_virtual_is_not_deleted_again() -> None:
    host = {
        "metadata": {
            "name": "p-x-default-x-my-vc",
            "namespace": "vc-ns",
            "deletionTimestamp": "t",
            "deletionGracePeriodSeconds": 30,
        }
    }
    for kind in (kinds.POD, kinds.SERVICE, kinds.ENDPOINTS):
        assert lifecycle.host_only(host, kind, virtual_seen_before=True) == (
            "skip",
            "host object is being deleted",
        )
    host["metadata"].pop("deletionTimestamp")
    assert lifecycle.host_only(host, kinds.POD, virtual_seen_before=True)[0] == "delete_host"


# ---------------------------------------------------------------- node Services and addresses


def _svc(labels: dict[str, str], name: str = "my-vc-node-n1", ns: str = "vc-ns") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels, "uid": "s"}}


def test_only_our_labelled_node_service_is_ours() -> None:
    ours = {noderes.SERVICE_CLUSTER_LABEL: "my-vc", noderes.SERVICE_NODE_LABEL: "n1"}
    assert noderes.is_node_service(_svc(ours), CTX, "n1")
    assert noderes.is_node_service(noderes.node_service(CTX, "n1", {"metadata": {}}), CTX, "n1")
    assert not noderes.is_node_service(_svc({}), CTX, "n1")  # a user's Service of that name
    assert not noderes.is_node_service(_svc({**ours, noderes.SERVICE_CLUSTER_LABEL: "other"}), CTX, "n1")
    assert not noderes.is_node_service(_svc({**ours, noderes.SERVICE_NODE_LABEL: "n2"}), CTX, "n1")
    assert not noderes.is_node_service(_svc(ours, ns="elsewhere"), CTX, "n1")


def test_real_node_addresses_are_the_proxied_kubelets_plus_external_ones() -> None:
    hnode = {
        "metadata": {"name": "n1"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "192.168.0.1"},
                {"type": "Hostname", "address": "n1"},
                {"type": "ExternalIP", "address": "1.2.3.4"},
            ]
        },
    }
    v = noderes.real_node(hnode, CTX.replace(real_nodes=True), node_service_ip="10.96.0.9")
    assert v["status"]["addresses"] == [
        {"type": "Hostname", "address": "n1.nodes.vcluster.com"},
        {"type": "InternalIP", "address": "10.96.0.9"},
        {"type": "ExternalIP", "address": "1.2.3.4"},
    ]


# ---------------------------------------------------------------- the node controller


class _Informer:
    """An informer's read side: get by name, the by-node index, and wait_until."""

    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {o["metadata"]["name"]: o for o in objs}
        self.waited: list[str] = []

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objs.get(name)

    def iter_index(self, index: str, value: str) -> Any:
        return (o for o in self.objs.values() if (o.get("spec") or {}).get("nodeName") == value)

    async def wait_until(self, name: str, namespace: str | None, pred: Any, timeout: float) -> bool:
        self.waited.append(name)
        return bool(pred(self.get(name)))


def _pod(name: str, node: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "ownerReferences": owners or []}, "spec": {"nodeName": node}}


def _controller(ctx: SyncContext, vpods: _Informer, hnodes: _Informer | None = None) -> nodes.NodeController:
    nc = object.__new__(nodes.NodeController)
    nc.engine = SimpleNamespace(ctx=ctx)  # type: ignore[assignment]
    nc.queue = WorkQueue("node")
    nc.vnodes, nc.vpods, nc.hpods = _Informer(), vpods, _Informer()  # type: ignore[assignment]
    nc.hnodes = hnodes  # type: ignore[assignment]
    nc._service_ips, nc._foreign, nc._orphans, nc._manual = {}, set(), set(), {}
    nc.vc_endpoints = _Informer()  # type: ignore[assignment]
    return nc


def test_a_pod_gets_its_fake_node_through_the_node_queue_but_daemonset_pods_do_not() -> None:
    """§9.1: `ensure` (the pod syncer's call before binding) never writes itself; it queues the
    node for the node workers when a non-DaemonSet pod needs it, and not for DaemonSet pods."""

    async def main() -> None:
        nc = _controller(CTX, _Informer(_pod("web", "n1"), _pod("agent", "n2", DS)))
        await nc.ensure("n1")
        assert "n1" in nc.queue and nc.vnodes.waited == ["n1"]  # type: ignore[attr-defined]
        await nc.ensure("n2")
        assert "n2" not in nc.queue and nc.vnodes.waited == ["n1"]  # type: ignore[attr-defined]

    asyncio.run(main())


def test_real_nodes_follow_the_selector_labels_only() -> None:
    """§9.1 real nodes: with `selector.labels` a node is synced while it matches, needed or not;
    without a selector while needed; with `selector.all` always."""
    hnodes = _Informer(
        {"metadata": {"name": "n1", "labels": {"pool": "tenants"}}},
        {"metadata": {"name": "n2", "labels": {}}},
    )
    vpods = _Informer(_pod("web", "n2"))
    by_labels = _controller(
        CTX.replace(real_nodes=True, node_selector_labels={"pool": "tenants"}), vpods, hnodes
    )
    assert by_labels._wanted("n1") and not by_labels._wanted("n2")  # n2 runs a pod, but does not match
    needed = _controller(CTX.replace(real_nodes=True), vpods, hnodes)
    assert needed._wanted("n2") and not needed._wanted("n1")
    everything = _controller(CTX.replace(real_nodes=True, node_selector_all=True), vpods, hnodes)
    assert everything._wanted("n1") and everything._wanted("n2") and not everything._wanted("n3")


class _Host:
    """The host client's GET of Services, and the writer's deletes and creates."""

    def __init__(self, *services: dict[str, Any]) -> None:
        self.services = {s["metadata"]["name"]: s for s in services}
        self.deleted: list[str] = []
        self.created: list[str] = []

    async def get(self, av: str, plural: str, name: str, ns: str | None = None) -> dict[str, Any]:
        if name not in self.services:
            raise ApiError(404, "NotFound", f'services "{name}" not found')
        return self.services[name]

    async def delete(self, client: Any, kind: Any, obj: dict[str, Any], d: Any) -> None:
        self.deleted.append(obj["metadata"]["name"])

    async def create_host(self, kind: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self.created.append(obj["metadata"]["name"])
        return {**obj, "spec": {**obj["spec"], "clusterIP": "10.96.0.7"}}


def test_a_foreign_service_named_like_a_node_service_is_neither_used_nor_deleted() -> None:
    async def main() -> None:
        host = _Host(_svc({}), {"metadata": {"name": "my-vc", "namespace": "vc-ns"}, "spec": {}})
        nc = _controller(CTX, _Informer())
        engine = SimpleNamespace(ctx=CTX, host=host, writer=host, api_address="", api_port=0)
        nc.engine = engine  # type: ignore[assignment]
        assert await nc._node_service_ip("n1") is None
        await nc._delete_node_service("n1")
        assert host.deleted == [] and host.created == []
        # ours (created here when missing) is used and deleted with the node
        assert await nc._node_service_ip("n2") == "10.96.0.7"
        host.services["my-vc-node-n2"] = noderes.node_service(CTX, "n2", {"metadata": {}})
        await nc._delete_node_service("n2")
        assert host.created == ["my-vc-node-n2"] and host.deleted == ["my-vc-node-n2"]

    asyncio.run(main())


# ---------------------------------------------------------------- events (§5.5)


def test_no_event_copy_into_a_missing_or_terminating_namespace() -> None:
    namespaces = _Informer(
        {"metadata": {"name": "live"}}, {"metadata": {"name": "going", "deletionTimestamp": "t"}}
    )
    ec = object.__new__(events.EventController)
    ec.engine = SimpleNamespace(virtual_namespaces=namespaces)  # type: ignore[assignment]
    assert not ec._namespace_closed("live")
    assert ec._namespace_closed("going") and ec._namespace_closed("missing")
    cause = {"reason": "NamespaceTerminating", "message": "namespace going is being terminated"}
    terminating = ApiError(403, "Forbidden", "is being terminated", {"details": {"causes": [cause]}})
    assert events._namespace_refused(terminating)
    assert events._namespace_refused(ApiError(404, "NotFound", 'namespaces "missing" not found'))
    assert not events._namespace_refused(ApiError(403, "Forbidden", "RBAC"))
    assert not events._namespace_refused(ApiError(409, "AlreadyExists", "exists"))


def test_a_fake_node_whose_status_write_was_lost_gets_its_status() -> None:
    """A kill between a fake node's create and its status write leaves the node as the API server
    stored it: Go's zero-valued nodeInfo and daemonEndpoints but no conditions. The next reconcile
    writes the whole status (it looked at nodeInfo, which the zero-valued struct made truthy)."""

    class _Writer:
        def __init__(self) -> None:
            self.status_patches: list[dict[str, Any]] = []

        async def patch_virtual(
            self, kind: Any, obj: Any, patch: dict[str, Any], status: bool = False
        ) -> Any:
            assert status
            self.status_patches.append(patch)
            return obj

    async def main() -> list[dict[str, Any]]:
        ctx = CTX.replace(proxy_kubelets_by_ip=False)
        nc = _controller(ctx, _Informer(_pod("web", "n1")))
        writer = _Writer()
        nc.engine = SimpleNamespace(ctx=ctx, writer=writer)  # type: ignore[assignment]
        stored = noderes.fake_node("n1", ctx, now="2026-11-25T00:00:00Z")
        stored["status"] = {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {"machineID": "", "kubeletVersion": "", "architecture": ""},
        }
        nc.vnodes = _Informer(stored)  # type: ignore[assignment]
        await nc.reconcile("n1")
        return writer.status_patches

    patches = asyncio.run(main())
    assert len(patches) == 1
    conds = {c["type"]: c["status"] for c in patches[0]["status"]["conditions"]}
    assert conds["Ready"] == "True"
