"""The API interception of a Service update away from ExternalName (vCluster's
pkg/server/filters/service.go `updateService`) and the syncer's wait while one is in flight."""

from __future__ import annotations

import asyncio
import copy
import time
from types import SimpleNamespace
from typing import Any

import pytest

from vcluster.apiserver.errors import StatusError
from vcluster.client import ApiError
from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine.controller import Requeue
from vcluster.syncer.engine.registry import ServiceSyncer, build
from vcluster.syncer.engine.serviceupdate import intercept_service_update
from vcluster.syncer.resources import service

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="svc-uid")
HNAME = "web-x-default-x-my-vc"
PORTS = [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]


def vsvc(**spec: Any) -> dict[str, Any]:
    """Virtual Service `default/web` (ExternalName unless `spec` says otherwise)."""
    body: dict[str, Any] = {"type": "ExternalName", "externalName": "example.com"}
    body.update(spec)
    meta = {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "7"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}


def cluster_ip(**spec: Any) -> dict[str, Any]:
    """The PUT body switching `default/web` to ClusterIP (no clusterIP asked for)."""
    body = {"type": "ClusterIP", "ports": copy.deepcopy(PORTS), "selector": {"app": "web"}}
    body.update(spec)
    out = vsvc()
    out["spec"] = body
    return out


def host_of(virtual: dict[str, Any]) -> dict[str, Any]:
    """Its host copy, as the syncer made it."""
    return service.translate_service(virtual, CTX).obj


class FakeHost:
    """The host API as the interception uses it: get and merge patch of one Service."""

    def __init__(self, svc: dict[str, Any] | None, refuse: ApiError | None = None) -> None:
        self.svc, self.refuse = svc, refuse
        self.patches: list[dict[str, Any]] = []

    async def get(self, av: str, plural: str, name: str, ns: str) -> dict[str, Any]:
        if self.svc is None or name != HNAME or ns != "vc-ns":
            raise ApiError(404, "NotFound", f'services "{name}" not found')
        return copy.deepcopy(self.svc)

    async def patch_host(self, kind: Any, ref: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        assert "resourceVersion" not in ref["metadata"]
        self.patches.append(patch)
        if self.refuse is not None:
            raise self.refuse
        assert self.svc is not None
        spec = self.svc["spec"]
        for k, v in patch["spec"].items():
            if v is None:
                spec.pop(k, None)
            else:
                spec[k] = copy.deepcopy(v)
        if spec["type"] != "ExternalName":
            spec.update(clusterIP="10.96.0.44", clusterIPs=["10.96.0.44"], ipFamilies=["IPv4"])
            spec["ipFamilyPolicy"] = "SingleStack"
            for i, p in enumerate(spec["ports"]):
                if spec["type"] == "NodePort":
                    p.setdefault("nodePort", 30100 + i)
        return copy.deepcopy(self.svc)


def fake_syncer(host: FakeHost, ours: bool = True) -> Any:
    """The Syncer attributes the interception reads."""
    return SimpleNamespace(
        controllers={"services": object()},
        ctx=CTX,
        host_namespace="vc-ns",
        host=host,
        writer=host,
        service_switches=service.SwitchesInFlight(),
        same_virtual=lambda h, v: ours,
    )


def test_which_updates_are_intercepted() -> None:
    assert service.intercepts_update(vsvc(), cluster_ip())
    assert service.intercepts_update(vsvc(), cluster_ip(type="LoadBalancer"))
    assert service.intercepts_update(vsvc(), cluster_ip(type=None))  # the default type
    assert not service.intercepts_update(vsvc(), vsvc(externalName="other.example.com"))
    assert not service.intercepts_update(vsvc(), cluster_ip(clusterIP="10.0.0.5"))  # asks for an IP
    assert not service.intercepts_update(vsvc(), cluster_ip(clusterIP="None"))  # headless
    assert not service.intercepts_update(cluster_ip(), cluster_ip(type="NodePort"))


def test_host_patches_of_the_switch_and_of_its_undo() -> None:
    body = cluster_ip(type="NodePort", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30007}])
    kept = service.type_switch_host_patch(body, CTX, keep_node_ports=True)["spec"]
    assert kept["ports"] == [{"port": 80, "protocol": "TCP", "nodePort": 30007}]  # sent as asked
    assert kept["type"] == "NodePort" and kept["externalName"] is None
    assert kept["selector"][c.MARKER_LABEL] == "my-vc"
    assert "nodePort" not in service.type_switch_host_patch(body, CTX)["spec"]["ports"][0]
    before = host_of(vsvc(ports=PORTS))
    undo = service.type_switch_undo_patch(before)["spec"]
    assert undo == {"type": "ExternalName", "externalName": "example.com", "ports": PORTS, "selector": None}


def test_switches_in_flight_end_or_expire() -> None:
    s = service.SwitchesInFlight()
    s.begin(("default", "web"), 100.0)
    assert s.active(("default", "web"), 101.0) and not s.active(("default", "other"), 101.0)
    assert not s.active(("default", "web"), 100.0 + service.SWITCH_WINDOW)
    s.begin(("default", "web"), 200.0)
    s.end(("default", "web"))
    assert not s.active(("default", "web"), 200.5)


def test_the_switch_gives_the_update_the_host_allocations_and_can_be_undone() -> None:
    host = FakeHost(host_of(vsvc()))
    syncer = fake_syncer(host)
    new = cluster_ip(type="NodePort")
    undo = asyncio.run(intercept_service_update(syncer, vsvc(), new))
    assert undo is not None
    spec = new["spec"]
    assert spec["clusterIP"] == "10.96.0.44" and spec["clusterIPs"] == ["10.96.0.44"]
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ports"][0]["nodePort"] == 30100
    assert host.svc is not None and host.svc["spec"]["type"] == "NodePort"
    assert syncer.service_switches.active(("default", "web"), 0.0)
    asyncio.run(undo())  # the virtual update failed: the host Service goes back
    assert host.svc["spec"]["type"] == "ExternalName" and host.svc["spec"]["externalName"] == "example.com"
    assert not syncer.service_switches.active(("default", "web"), 0.0)


def test_what_the_interception_leaves_to_the_update() -> None:
    host = FakeHost(host_of(vsvc()))
    for old, new in (
        (vsvc(), vsvc(externalName="b.example.com")),
        (vsvc(), cluster_ip(clusterIP="10.0.0.1")),
    ):
        assert asyncio.run(intercept_service_update(fake_syncer(host), old, new)) is None
    kubernetes = vsvc()
    kubernetes["metadata"].update(name="kubernetes")
    assert asyncio.run(intercept_service_update(fake_syncer(host), kubernetes, cluster_ip())) is None
    # no host copy, or one that is not this virtual Service's: stored as it is, the syncer follows
    assert asyncio.run(intercept_service_update(fake_syncer(FakeHost(None)), vsvc(), cluster_ip())) is None
    assert asyncio.run(intercept_service_update(fake_syncer(host, ours=False), vsvc(), cluster_ip())) is None
    assert host.patches == []


@pytest.mark.parametrize(
    ("refusal", "code", "text"),
    [
        (
            ApiError(422, "Invalid", f'Service "{HNAME}" is invalid: spec.ports[0].nodePort: Invalid value'),
            422,
            'the host cluster refused the Service: Service "web" is invalid',
        ),
        (ApiError(0, "", "connection refused"), 503, "the host cluster is unreachable"),
    ],
)
def test_a_host_refusal_is_the_answer_and_nothing_changes(refusal: ApiError, code: int, text: str) -> None:
    host = FakeHost(host_of(vsvc()), refuse=refusal)
    syncer = fake_syncer(host)
    new = cluster_ip()
    with pytest.raises(StatusError) as e:
        asyncio.run(intercept_service_update(syncer, vsvc(), new))
    assert e.value.code == code and text in e.value.message and HNAME not in e.value.message
    assert "clusterIP" not in new["spec"]
    assert not syncer.service_switches.active(("default", "web"), 0.0)


def _service_syncer(switches: service.SwitchesInFlight) -> ServiceSyncer:
    ks = build("services")
    assert isinstance(ks, ServiceSyncer)
    ks.engine = SimpleNamespace(ctx=CTX, service_switches=switches)  # type: ignore[assignment]
    return ks


def test_the_syncer_waits_only_while_an_intercepted_switch_is_in_flight() -> None:
    virtual = vsvc(ports=PORTS)
    host_before = host_of(virtual)
    host = copy.deepcopy(host_before)
    host["spec"].update(type="ClusterIP", clusterIP="10.96.0.44", clusterIPs=["10.96.0.44"])
    host["spec"].pop("externalName")
    switches = service.SwitchesInFlight()
    ks = _service_syncer(switches)
    switches.begin(("default", "web"), time.monotonic())
    with pytest.raises(Requeue) as r:
        asyncio.run(ks.sync(virtual, host, virtual, host_before))
    assert r.value.after == service.SWITCH_RECHECK
    # once stored, the pair agrees: nothing to write, no recreation, and the mark is gone
    stored = cluster_ip(clusterIP="10.96.0.44", clusterIPs=["10.96.0.44"], ports=PORTS)
    host["spec"]["selector"] = service.translate_service(stored, CTX).obj["spec"]["selector"]
    res = asyncio.run(ks.sync(stored, host, virtual, host_before))
    assert not res.recreate_virtual and not (res.virtual_patch or {}).get("spec")
    assert not switches.active(("default", "web"), 0.0)
    # without one in flight a host-side switch is synced as before (the type comes to the virtual side)
    res = asyncio.run(ks.sync(virtual, host, virtual, host_before))
    assert (res.virtual_patch or {}).get("spec", {}).get("type") == "ClusterIP"
