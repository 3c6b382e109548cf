"""Session 16 syncer conformance audit (spec §4-§10, §13): the gaps found, without servers.

- §5.1: a host Service the API interception created (`block-deletion`) waits at most two minutes
  for its virtual Service, re-checked every 10 s; after that it is handled like any host-only
  Service (vCluster's services SyncToVirtual), instead of being skipped for good.
- §8.1 step 5, §10, §13.15: the kubeconfig Secret `vc-<name>` (shape; written by the engine).
- §9.3: a node Service made for a vCluster Service without a selector targets its own port and
  gets Endpoints copied from the vCluster Service's (`https` port renamed `kubelet`, addresses
  without hostname/nodeName/targetRef), kept up to date when those change.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from vcluster.client import ApiError, WorkQueue
from vcluster.controllers.base import fmt_time
from vcluster.syncer import constants as c
from vcluster.syncer import kinds
from vcluster.syncer import kubeconfigsecret as kcs
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine import nodes, registry
from vcluster.syncer.engine.controller import Requeue
from vcluster.syncer.resources import node as noderes
from vcluster.syncer.resources import service

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="svc-uid")
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


# ---------------------------------------------------------------- §5.1 block-deletion window


def _intercepted(age_seconds: float | None, *, block: bool = True) -> dict[str, Any]:
    """A host Service as the API interception creates it (translated metadata, block-deletion)."""
    virtual = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "uid": "v-uid"},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
    }
    host = service.translate_service_for_proxy(virtual, CTX).obj
    if not block:
        host["metadata"]["annotations"].pop(c.BLOCK_DELETION_ANNOTATION)
    if age_seconds is not None:
        host["metadata"]["creationTimestamp"] = fmt_time(NOW - timedelta(seconds=age_seconds))
    return host


def test_block_deletion_waits_two_minutes_rechecking_every_ten_seconds() -> None:
    assert service.block_deletion_wait(_intercepted(0), NOW) == 10.0
    assert service.block_deletion_wait(_intercepted(30), NOW) == 10.0
    assert service.block_deletion_wait(_intercepted(115), NOW) == pytest.approx(5.0)
    assert service.block_deletion_wait(_intercepted(120), NOW) is None
    assert service.block_deletion_wait(_intercepted(3600), NOW) is None
    assert service.block_deletion_wait(_intercepted(None), NOW) == 10.0  # not stored yet: just made
    assert service.block_deletion_wait(_intercepted(0, block=False), NOW) is None


def test_a_stale_intercepted_host_service_is_deleted_not_kept_for_ever() -> None:
    """The virtual create failed after the host create (and the interception could not take the
    host Service back): after the window it is a synced host Service without virtual one, so it
    is deleted (ShouldDeleteHostObject), as vCluster does; a fresh one requeues the key."""
    ks = registry.build("services")
    assert isinstance(ks, registry.ServiceSyncer)
    fresh = _intercepted(0)
    fresh["metadata"]["creationTimestamp"] = fmt_time(datetime.now(UTC))
    with pytest.raises(Requeue) as r:
        ks.host_only(fresh, False)
    assert 0 < r.value.after <= 10.0
    stale = _intercepted(0)
    stale["metadata"]["creationTimestamp"] = fmt_time(datetime.now(UTC) - timedelta(minutes=5))
    assert ks.host_only(stale, False)[0] == "delete_host"
    assert ks.host_only(stale, True)[0] == "delete_host"


# ---------------------------------------------------------------- §9.3 node services


def _vc_service(selector: dict[str, str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}
    if selector:
        spec["selector"] = selector
    return {"metadata": {"name": "my-vc", "namespace": "vc-ns", "uid": "u"}, "spec": spec}


VC_ENDPOINTS = {
    "metadata": {"name": "my-vc", "namespace": "vc-ns"},
    "subsets": [
        {
            "addresses": [
                {
                    "ip": "10.1.0.5",
                    "hostname": "vc-0",
                    "nodeName": "n1",
                    "targetRef": {"kind": "Pod", "name": "my-vc-0", "namespace": "vc-ns"},
                }
            ],
            "notReadyAddresses": [{"ip": "10.1.0.6", "nodeName": "n2"}],
            "ports": [
                {"name": "https", "port": 8443, "protocol": "TCP", "appProtocol": "https"},
                {"name": "metrics", "port": 9090, "protocol": "TCP"},
            ],
        }
    ],
}


def test_a_node_service_without_selector_targets_its_own_port() -> None:
    with_sel = noderes.node_service(CTX, "n1", _vc_service({"app": "vcluster"}))
    assert with_sel["spec"]["selector"] == {"app": "vcluster"}
    assert with_sel["spec"]["ports"][0]["targetPort"] == 8443
    without = noderes.node_service(CTX, "n1", _vc_service(None))
    assert "selector" not in without["spec"]
    assert "targetPort" not in without["spec"]["ports"][0]  # kube defaults it to the port, 10250
    assert without["spec"]["ports"][0]["port"] == 10250


def test_node_service_endpoints_copy_the_https_port_as_kubelet() -> None:
    ep = noderes.node_service_endpoints(CTX, "my-vc-node-n1", VC_ENDPOINTS)
    assert ep["metadata"] == {"name": "my-vc-node-n1", "namespace": "vc-ns"}
    assert ep["subsets"] == [
        {
            "addresses": [{"ip": "10.1.0.5"}],
            "notReadyAddresses": [{"ip": "10.1.0.6"}],
            "ports": [{"name": "kubelet", "port": 8443, "protocol": "TCP", "appProtocol": "https"}],
        }
    ]
    assert "subsets" not in noderes.node_service_endpoints(CTX, "x", {"subsets": [{"ports": []}]})


class _Informer:
    def __init__(self, *objs: dict[str, Any]) -> None:
        self.objs = {o["metadata"]["name"]: o for o in objs}

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objs.get(name)


class _Host:
    """Host GETs of Services and Endpoints, and the writer's creates and patches."""

    def __init__(self, *objs: tuple[str, dict[str, Any]]) -> None:
        self.objs = {(plural, o["metadata"]["name"]): o for plural, o in objs}
        self.writes: list[tuple[str, str, str]] = []

    async def get(self, av: str, plural: str, name: str, ns: str | None = None) -> dict[str, Any]:
        if (plural, name) not in self.objs:
            raise ApiError(404, "NotFound", f'{plural} "{name}" not found')
        return self.objs[(plural, name)]

    async def create_host(self, kind: Any, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        self.writes.append(("create", kind.plural, name))
        if kind is kinds.SERVICE:
            obj = {**obj, "spec": {**obj["spec"], "clusterIP": "10.96.0.7"}}
        self.objs[(kind.plural, name)] = obj
        return obj

    async def patch_host(self, kind: Any, obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        self.writes.append(("patch", kind.plural, name))
        self.objs[(kind.plural, name)] = {**obj, **patch}
        return self.objs[(kind.plural, name)]


def _node_controller(host: _Host, vc_endpoints: _Informer, api_address: str = "") -> nodes.NodeController:
    nc = object.__new__(nodes.NodeController)
    engine = SimpleNamespace(ctx=CTX, host=host, writer=host, api_address=api_address, api_port=7443)
    nc.engine = engine  # type: ignore[assignment]
    nc.queue = WorkQueue("node")
    nc._service_ips, nc._foreign, nc._orphans, nc._manual = {}, set(), set(), {}
    nc.vc_endpoints = vc_endpoints  # type: ignore[assignment]
    return nc


def test_selectorless_node_service_gets_and_keeps_the_vcluster_endpoints() -> None:
    async def main() -> None:
        host = _Host(("services", _vc_service(None)))
        vc_eps = _Informer(VC_ENDPOINTS)
        nc = _node_controller(host, vc_eps)
        assert await nc._node_service_ip("n1") == "10.96.0.7"
        assert host.writes == [
            ("create", "services", "my-vc-node-n1"),
            ("create", "endpoints", "my-vc-node-n1"),
        ]
        assert host.objs[("endpoints", "my-vc-node-n1")]["subsets"][0]["ports"][0]["name"] == "kubelet"
        # the vCluster Service's endpoints move: the node is queued and its Endpoints follow
        moved = {**VC_ENDPOINTS, "subsets": [{"addresses": [{"ip": "10.1.0.9"}], "ports": [
            {"name": "https", "port": 8443, "protocol": "TCP"}]}]}  # fmt: skip
        vc_eps.objs["my-vc"] = moved
        nc._on_vc_endpoints("update", moved, VC_ENDPOINTS)
        assert "n1" in nc.queue
        assert await nc._node_service_ip("n1") == "10.96.0.7"
        assert host.writes[-1] == ("patch", "endpoints", "my-vc-node-n1")
        assert host.objs[("endpoints", "my-vc-node-n1")]["subsets"] == [
            {
                "addresses": [{"ip": "10.1.0.9"}],
                "ports": [{"name": "kubelet", "port": 8443, "protocol": "TCP"}],
            }
        ]
        n = len(host.writes)
        assert await nc._node_service_ip("n1") == "10.96.0.7"  # cached: nothing written again
        assert len(host.writes) == n

    asyncio.run(main())


def test_a_node_service_with_selector_or_without_vcluster_endpoints_gets_none() -> None:
    async def main() -> None:
        with_sel = _Host(("services", _vc_service({"app": "vcluster"})))
        nc = _node_controller(with_sel, _Informer(VC_ENDPOINTS))
        assert await nc._node_service_ip("n1") == "10.96.0.7"
        assert with_sel.writes == [("create", "services", "my-vc-node-n1")]
        local = _Host(("services", _vc_service(None)))  # a local host: the API server runs outside
        nc = _node_controller(local, _Informer())
        assert await nc._node_service_ip("n1") == "10.96.0.7"
        assert local.writes == [("create", "services", "my-vc-node-n1")]

    asyncio.run(main())


def test_without_vcluster_endpoints_a_node_service_names_the_virtual_api_server() -> None:
    """Session 17: the virtual API server runs outside the host (its Service selects nothing and
    has no Endpoints): the node Service's Endpoints name it, as default/kubernetes' do."""

    async def main() -> None:
        local = _Host(("services", _vc_service(None)))
        nc = _node_controller(local, _Informer(), api_address="10.0.0.5")
        assert await nc._node_service_ip("n1") == "10.96.0.7"
        assert local.writes == [
            ("create", "services", "my-vc-node-n1"),
            ("create", "endpoints", "my-vc-node-n1"),
        ]
        assert local.objs[("endpoints", "my-vc-node-n1")]["subsets"] == [
            {
                "addresses": [{"ip": "10.0.0.5"}],
                "ports": [{"name": "kubelet", "port": 7443, "protocol": "TCP"}],
            }
        ]

    asyncio.run(main())


# ---------------------------------------------------------------- §8.1 / §10 kubeconfig Secret


def _kubeconfig(**user: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data":
                                               base64.b64encode(b"CA").decode()}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }  # fmt: skip


def test_the_kubeconfig_secret_has_vclusters_name_keys_and_labels() -> None:
    cert, key = base64.b64encode(b"CERT").decode(), base64.b64encode(b"KEY").decode()
    s = kcs.kubeconfig_secret(CTX, _kubeconfig(**{"client-certificate-data": cert, "client-key-data": key}))
    assert s["metadata"]["name"] == "vc-my-vc" and s["metadata"]["namespace"] == "vc-ns"
    assert s["metadata"]["labels"] == {"app": "vcluster", "vcluster-name": "my-vc"}
    assert s["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    data = {k: base64.b64decode(v) for k, v in s["data"].items()}
    assert data["certificate-authority"] == b"CA" and data["client-certificate"] == b"CERT"
    assert data["client-key"] == b"KEY" and data["token"] == b""
    assert yaml.safe_load(data["config"])["current-context"] == "x"
    with_token = kcs.kubeconfig_secret(CTX.replace(owner_uid=""), _kubeconfig(token="t0k"))
    assert base64.b64decode(with_token["data"]["token"]) == b"t0k"
    assert "ownerReferences" not in with_token["metadata"]
    # an existing Secret is patched only where it differs; keys and labels others added stay
    cur = {"metadata": {"labels": {"app": "vcluster", "vcluster-name": "my-vc", "team": "a"}},
           "data": {**with_token["data"], "extra": "eA=="}}  # fmt: skip
    assert kcs.update_patch(cur, with_token) is None
    cur["data"]["token"] = base64.b64encode(b"old").decode()
    assert kcs.update_patch(cur, with_token) == {"data": {"token": with_token["data"]["token"]}}
