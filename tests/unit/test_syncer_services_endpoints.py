"""Services, Endpoints and Ingresses (§5.1-§5.3): ExternalName switches, status, the Endpoints
ReconcileStart decisions, the `default/kubernetes` Endpoints mirror and the ingress class selector."""

from __future__ import annotations

import asyncio
import copy
from types import SimpleNamespace
from typing import Any

import pytest

from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine.controller import Requeue
from vcluster.syncer.engine.registry import KUBERNETES, EndpointsSyncer, IngressSyncer, build
from vcluster.syncer.resources import endpoints, ingress, service
from vcluster.syncer.result import Delete

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="svc-uid")


def vsvc(**spec: Any) -> dict[str, Any]:
    """A virtual Service `default/web`."""
    body = {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]}
    body.update(spec)
    meta = {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "3"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def external_name(**spec: Any) -> dict[str, Any]:
    """The virtual Service as an ExternalName one."""
    return vsvc(type="ExternalName", externalName="example.com", ports=None, **spec)


def host_of(virtual: dict[str, Any]) -> dict[str, Any]:
    """Its host copy as the controller would create it."""
    return service.translate_service(virtual, CTX).obj


# ---------------------------------------------------------------- services (§5.1)


def test_requested_allocations_go_to_the_host_only_on_the_api_create() -> None:
    ports = [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 81, "protocol": "TCP"}]
    families = {"ipFamilies": ["IPv4"], "ipFamilyPolicy": "PreferDualStack"}
    virtual = vsvc(type="NodePort", ports=ports, clusterIP="10.0.0.9", clusterIPs=["10.0.0.9"], **families)
    proxied = service.translate_service_for_proxy(virtual, CTX).obj["spec"]
    assert [p.get("nodePort") for p in proxied["ports"]] == [30080, None]  # the host allocates 81's
    assert proxied["clusterIP"] == "10.0.0.9" and proxied["clusterIPs"] == ["10.0.0.9"]
    assert proxied["ipFamilyPolicy"] == "PreferDualStack" and proxied["ipFamilies"] == ["IPv4"]
    # a host Service recreated for an existing virtual one: the host allocates afresh (§5.1)
    recreated = service.translate_service(virtual, CTX).obj["spec"]
    assert [p.get("nodePort") for p in recreated["ports"]] == [None, None]
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(recreated)
    assert virtual["spec"]["ports"][0]["nodePort"] == 30080  # the virtual object is not touched


def test_virtual_switch_from_external_name_patches_host_type_and_cluster_ip() -> None:
    old = external_name()
    host = host_of(old)
    new = vsvc(ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}])
    res = service.sync_service(new, host, old, host, CTX)
    spec = res.host_patch["spec"]
    assert spec["type"] == "ClusterIP" and spec["clusterIP"] == "" and spec["externalName"] is None
    assert spec["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert spec["selector"][c.MARKER_LABEL] == "my-vc"
    assert res.requeue_after == 1.0 and not res.recreate_virtual
    assert res.host["spec"]["type"] == "ClusterIP" and "externalName" not in res.host["spec"]
    assert host["spec"]["type"] == "ExternalName"  # the read object is untouched


def test_switch_without_base_and_host_side_switch() -> None:
    host = host_of(external_name())
    assert service.switched_from_external_name(vsvc(), host, None, None)
    # only the host became ExternalName since the last sync: that comes back to the virtual side
    v, h_old = vsvc(), host_of(vsvc())
    assert not service.switched_from_external_name(v, host, v, h_old)
    res = service.sync_service(v, host, v, h_old, CTX)
    assert res.virtual_patch["spec"]["type"] == "ExternalName"
    assert not service.switched_from_external_name(external_name(), host, None, None)


def test_after_the_switch_virtual_is_recreated_with_the_host_cluster_ip() -> None:
    v = vsvc()
    h = host_of(v)
    h["spec"].update(clusterIP="10.96.0.50", clusterIPs=["10.96.0.50"])
    res = service.sync_service(v, h, v, h, CTX)
    assert res.recreate_virtual and res.extra["body"]["spec"]["clusterIP"] == "10.96.0.50"


def test_virtual_switch_to_external_name_goes_to_host() -> None:
    old = vsvc(clusterIP="10.96.0.50")
    h = host_of(old)
    h["spec"]["clusterIP"] = "10.96.0.50"
    new = external_name()
    res = service.sync_service(new, h, old, h, CTX)
    assert res.host_patch["spec"]["type"] == "ExternalName"
    assert res.host_patch["spec"]["externalName"] == "example.com"
    assert not res.recreate_virtual and res.requeue_after is None


def test_status_keeps_conditions_and_blanks_lb_ingress_for_other_types() -> None:
    v = vsvc(clusterIP="10.96.0.50")
    h = host_of(v)
    h["spec"]["clusterIP"] = "10.96.0.50"
    cond = {"type": "Ready", "status": "True", "reason": "R", "message": "", "lastTransitionTime": "t"}
    h2 = copy.deepcopy(h)
    h2["status"] = {"conditions": [cond], "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    res = service.sync_service(v, h2, v, h, CTX)
    assert res.virtual_status_patch == {"status": {"conditions": [cond], "loadBalancer": {}}}


def test_create_path_keeps_health_check_node_port() -> None:
    v = vsvc(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=32123)
    assert host_of(v)["spec"]["healthCheckNodePort"] == 32123


# ---------------------------------------------------------------- endpoints (§5.1, §5.2)


def hep(ours: bool) -> dict[str, Any]:
    """A host Endpoints object: the syncer's copy or the host controller's."""
    ann = {c.NAME_ANNOTATION: "web"} if ours else {}
    return {"metadata": {"name": "web-x-default-x-my-vc", "namespace": "vc-ns", "annotations": ann}}


def test_kubernetes_endpoints_patch() -> None:
    host = {
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1", "nodeName": "n", "hostname": "h"}],
                "ports": [{"name": "https", "port": 8443}, {"name": "kubelet", "port": 10250}],
            }
        ]
    }
    want = [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "https", "port": 8443}]}]
    action, body = endpoints.kubernetes_endpoints_patch(None, endpoints.kubernetes_endpoints(host))
    assert action == "create" and body is not None and body["subsets"] == want
    virtual = {"metadata": {"name": "kubernetes", "namespace": "default"}, "subsets": []}
    action, body = endpoints.kubernetes_endpoints_patch(virtual, endpoints.kubernetes_endpoints(host))
    assert action == "patch"
    assert body == {"metadata": {"labels": {endpoints.SKIP_MIRROR_LABEL: "true"}}, "subsets": want}
    virtual.update(subsets=want, metadata={"labels": {endpoints.SKIP_MIRROR_LABEL: "true"}})
    assert endpoints.kubernetes_endpoints_patch(virtual, endpoints.kubernetes_endpoints(host)) == ("", None)


def test_kubernetes_endpoint_slice_patch() -> None:
    want_ep = {
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.1"}],
                "notReadyAddresses": [{"ip": "10.0.0.2"}],
                "ports": [{"name": "https", "port": 8443, "protocol": "TCP"}],
            }
        ]
    }
    action, body = endpoints.kubernetes_endpoint_slice_patch(None, want_ep)
    assert action == "create" and body is not None
    assert body["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert body["addressType"] == "IPv4"
    assert body["ports"] == [{"name": "https", "port": 8443, "protocol": "TCP"}]
    assert body["endpoints"] == [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
        {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
    ]
    # the bootstrap slice (the virtual API server's own address) is patched to the host's
    virtual = {
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"team": "x"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }
    action, patch = endpoints.kubernetes_endpoint_slice_patch(virtual, want_ep)
    assert action == "patch" and patch is not None
    assert patch["metadata"] == {"labels": {"kubernetes.io/service-name": "kubernetes"}}
    assert patch["endpoints"] == body["endpoints"] and patch["ports"] == body["ports"]
    current = {**virtual, **{k: body[k] for k in ("endpoints", "ports")}}
    current["metadata"] = {"labels": {"team": "x", "kubernetes.io/service-name": "kubernetes"}}
    assert endpoints.kubernetes_endpoint_slice_patch(current, want_ep) == ("", None)
    # the address type is immutable: a host that moved to IPv6 means a new slice
    v6 = {"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"name": "https", "port": 8443}]}]}
    action, body = endpoints.kubernetes_endpoint_slice_patch(current, v6)
    assert action == "recreate" and body is not None and body["addressType"] == "IPv6"
    assert body["endpoints"] == [{"addresses": ["fd00::1"], "conditions": {"ready": True}}]
    # no subsets on the host: an empty slice
    action, patch = endpoints.kubernetes_endpoint_slice_patch(current, {"subsets": []})
    assert action == "patch" and patch == {"endpoints": [], "ports": []}


class Cache:
    """An informer stand-in: `get(name, namespace)` over a dict, always listed."""

    has_synced = True

    def __init__(self, objs: dict[str, dict[str, Any]]) -> None:
        self.objs = objs

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objs.get(name)


def endpoints_syncer(virtual_svc: dict[str, Any] | None, host_svc: dict[str, Any] | None) -> EndpointsSyncer:
    """The endpoints KindSyncer over a fake engine with these Services."""
    ks = build("endpoints")
    assert isinstance(ks, EndpointsSyncer)
    services = SimpleNamespace(ks=build("services"), hinf=Cache({"web-x-default-x-my-vc": host_svc or {}}))
    vservices = Cache({"web": virtual_svc} if virtual_svc else {})
    ks.engine = SimpleNamespace(  # type: ignore[assignment]
        ctx=CTX,
        name="my-vc",
        virtual_services=vservices,
        controllers={"services": services},
        api_address="",  # no API server address: default/kubernetes only mirrors the host
        api_port=443,
    )
    return ks


def start(ks: EndpointsSyncer, host: dict[str, Any] | None) -> Any:
    return asyncio.run(ks.reconcile_start("default", "web", None, host))


def test_reconcile_start_with_a_selector() -> None:
    ks = endpoints_syncer(vsvc(), host_of(vsvc()))
    assert start(ks, hep(ours=False)) is True  # the host controller's: never deleted (the loop)
    d = start(ks, hep(ours=True))
    assert isinstance(d, Delete) and d.side == "host"
    assert start(ks, None) is False


def test_reconcile_start_without_a_selector() -> None:
    selectorless = vsvc(selector=None)
    ks = endpoints_syncer(selectorless, host_of(selectorless))
    assert start(ks, hep(ours=True)) is False  # ours: the generic sync
    d = start(ks, hep(ours=False))
    assert isinstance(d, Delete) and "replacing" in d.reason
    # the host Service still selects: the host controller would recreate its endpoints, so wait
    ks = endpoints_syncer(selectorless, host_of(vsvc()))
    with pytest.raises(Requeue):
        start(ks, hep(ours=False))
    # no virtual Service: a host controller's object is left alone
    assert start(endpoints_syncer(None, None), hep(ours=False)) is True


def test_kubernetes_endpoints_key() -> None:
    ks = endpoints_syncer(None, None)
    vc = {"metadata": {"name": "my-vc", "namespace": "vc-ns"}}
    assert ks.adopts(vc) and ks.virtual_name(CTX, vc) == KUBERNETES
    assert ks.host_name(CTX, *KUBERNETES) == ("vc-ns", "my-vc")
    assert not ks.adopts(hep(ours=False))
    assert asyncio.run(ks.reconcile_start(*KUBERNETES, None, None)) is True


# ---------------------------------------------------------------- ingresses (§5.3)

SELECTOR_CTX = CTX.replace(from_host_ingress_class_selector={"matchLabels": {"tenant": "mine"}})


def ving(cls: str | None) -> dict[str, Any]:
    spec = {"ingressClassName": cls} if cls else {}
    return {"metadata": {"name": "i", "namespace": "default"}, "spec": spec}


def test_ingress_precondition_messages() -> None:
    classes = {"mine": {"metadata": {"name": "mine", "labels": {"tenant": "mine"}}}, "x": {"metadata": {}}}
    assert ingress.ingress_precondition(ving("mine"), SELECTOR_CTX, classes.get) is None
    assert ingress.ingress_precondition(ving(None), SELECTOR_CTX, classes.get) is None
    ev = ingress.ingress_precondition(ving("x"), SELECTOR_CTX, classes.get)
    assert ev is not None and ev.reason == "SyncWarning"
    assert ev.message == (
        'did not sync ingress "i" to host because the ingress class "x" in the host does not match the '
        "selector under 'sync.fromHost.ingressClasses.selector'"
    )
    ev = ingress.ingress_precondition(ving("gone"), SELECTOR_CTX, classes.get)
    assert ev is not None and "couldn't be reached in the host" in ev.message


def test_ingress_syncer_blocks_unselected_classes() -> None:
    ks = build("ingresses")
    assert isinstance(ks, IngressSyncer)
    informers = SimpleNamespace(informer=lambda *a, **k: Cache({"mine": {"metadata": {"labels": {}}}}))
    ks.engine = SimpleNamespace(ctx=SELECTOR_CTX, host_informers=informers)  # type: ignore[assignment]
    blocked = asyncio.run(ks.precondition(ving("mine"), False))
    assert blocked is not None and blocked.event is not None and blocked.event[1] == "SyncWarning"
    assert asyncio.run(ks.precondition(ving(None), False)) is None
    ks.engine = SimpleNamespace(ctx=CTX)  # type: ignore[assignment]
    assert asyncio.run(ks.precondition(ving("mine"), False)) is None  # no selector: no lookup
