"""The EndpointSlice mirroring controller (in a `vcluster apiserver` process) and kube-apiserver's
bootstrap loops (system namespaces, `default/kubernetes`), with the real kubectl making the changes;
then both in a virtual cluster, where the syncer owns `default/kubernetes` and copies the mirrored
slices to the host, whose own mirroring controller must not fight it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, server_fixture
from tests.integration.loopthread import LoopThread
from tests.integration.syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_name,
    items,
    pair_fixture,
    wait_until,
)
from vcluster.client import Client, SharedInformers
from vcluster.controllers.bootstrap import BootstrapController

pytestmark = pytest.mark.integration

MIRRORED = "endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io"
SLICES = "endpointslices.discovery.k8s.io"

server = server_fixture(controllers="namespace,garbagecollector,endpointslicemirroring")
pair = pair_fixture()


class BootstrapHarness(LoopThread):
    """A BootstrapController on a background loop against `server`, with short intervals."""

    # kube's --advertise-address: Endpoints validation refuses a loopback address
    ADVERTISE = "192.0.2.10"

    def __init__(self, server: Server, *, kubernetes_service: bool) -> None:
        super().__init__()
        self.server = server
        self.kubernetes_service = kubernetes_service
        self.task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        self.client = c = await Client.from_kubeconfig(
            str(self.server.kubeconfig), user_agent="test-bootstrap"
        )
        self.informers = inf = SharedInformers(c)
        self.controller = BootstrapController(
            c,
            inf,
            kubernetes_service=self.kubernetes_service,
            advertise_ip=self.ADVERTISE,
            namespace_interval=0.5,
            endpoint_interval=0.5,
        )
        await inf.start()
        await inf.wait_synced(20)
        self.task = asyncio.create_task(self.controller.run())

    async def _stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.informers.stop()
        if self.client is not None:
            await self.client.close()


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def bootstrap(server: Server) -> Iterator[BootstrapHarness]:
    h = BootstrapHarness(server, kubernetes_service=True).start()
    try:
        yield h
    finally:
        h.stop()


def _service_and_endpoints(ns: str, name: str = "ext") -> str:
    return f"""\
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  ports: [{{port: 80, name: http}}]
---
apiVersion: v1
kind: Endpoints
metadata:
  name: {name}
  namespace: {ns}
  labels: {{team: a}}
  annotations: {{note: x, endpoints.kubernetes.io/last-change-trigger-time: "2024-01-01T00:00:00Z"}}
subsets:
- addresses:
  - {{ip: 10.1.0.2, hostname: h2, nodeName: n1, targetRef: {{kind: Pod, name: p2, namespace: {ns}}}}}
  - {{ip: 10.1.0.1}}
  - {{ip: "fd00::1"}}
  notReadyAddresses: [{{ip: 10.1.0.3}}]
  ports: [{{port: 8080, name: http}}, {{port: 8443, name: https, appProtocol: h2c}}]
"""


def _mirrored(k: Kubectl, ns: str, svc: str = "ext") -> list[dict[str, Any]]:
    return items(k, SLICES, "-n", ns, "-l", f"kubernetes.io/service-name={svc},{MIRRORED}")


def _by_type(slices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["addressType"]: s for s in slices}


def test_endpoints_of_a_selectorless_service_are_mirrored(k: Kubectl) -> None:
    ns = k.namespace("mirror-basic")
    k.apply(_service_and_endpoints(ns))
    ep = k.get_json("endpoints", "ext", "-n", ns)
    slices = wait_until(
        lambda: len(_mirrored(k, ns)) == 2 and _mirrored(k, ns), 10, what="two mirrored slices"
    )
    v4, v6 = _by_type(slices)["IPv4"], _by_type(slices)["IPv6"]
    for s in (v4, v6):
        md = s["metadata"]
        assert md["generateName"] == "ext-" and md["name"].startswith("ext-")
        assert md["labels"] == {
            "team": "a",
            "kubernetes.io/service-name": "ext",
            "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
        }
        # the trigger time and kubectl's last-applied configuration are not copied
        assert md["annotations"] == {"note": "x"}
        assert md["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "name": "ext",
                "uid": ep["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert s["ports"] == [
            {"name": "http", "port": 8080, "protocol": "TCP"},
            {"name": "https", "port": 8443, "protocol": "TCP", "appProtocol": "h2c"},
        ]
    assert v4["endpoints"] == [
        {"addresses": ["10.1.0.1"], "conditions": {"ready": True}},
        {
            "addresses": ["10.1.0.2"],
            "conditions": {"ready": True},
            "hostname": "h2",
            "targetRef": {"kind": "Pod", "namespace": ns, "name": "p2"},
            "nodeName": "n1",
        },
        {"addresses": ["10.1.0.3"], "conditions": {"ready": False}},
    ]
    assert v6["endpoints"] == [{"addresses": ["fd00::1"], "conditions": {"ready": True}}]


def test_mirrored_slices_follow_updates_and_come_back(k: Kubectl) -> None:
    ns = k.namespace("mirror-update")
    k.apply(_service_and_endpoints(ns))
    wait_until(lambda: len(_mirrored(k, ns)) == 2, 10, what="mirrored slices")
    v4 = _by_type(_mirrored(k, ns))["IPv4"]
    k("label", "endpoints", "ext", "-n", ns, "team=b", "--overwrite")
    k("patch", "endpoints", "ext", "-n", ns, "--type=merge", "-p",
      '{"subsets":[{"addresses":[{"ip":"10.1.0.9"}],"ports":[{"name":"http","port":8080}]}]}')  # fmt: skip

    def updated() -> dict[str, Any] | None:
        slices = _mirrored(k, ns)
        if len(slices) != 1 or slices[0]["metadata"]["labels"].get("team") != "b":
            return None
        return slices[0] if slices[0]["endpoints"][0]["addresses"] == ["10.1.0.9"] else None

    s = wait_until(updated, 10, what="the IPv4 slice updated in place, the IPv6 one gone")
    assert s["metadata"]["name"] == v4["metadata"]["name"]  # updated, not replaced
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    k("delete", SLICES, s["metadata"]["name"], "-n", ns)
    again = wait_until(lambda: _mirrored(k, ns), 10, what="the deleted slice mirrored again")
    assert again[0]["metadata"]["uid"] != s["metadata"]["uid"]
    assert again[0]["endpoints"][0]["addresses"] == ["10.1.0.9"]


def test_mirrored_slices_go_when_mirroring_stops(k: Kubectl) -> None:
    ns = k.namespace("mirror-stop")
    k.apply(_service_and_endpoints(ns))
    wait_until(lambda: len(_mirrored(k, ns)) == 2, 10, what="mirrored slices")
    k("label", "endpoints", "ext", "-n", ns, "endpointslice.kubernetes.io/skip-mirror=true")
    wait_until(lambda: not _mirrored(k, ns), 10, what="slices gone after skip-mirror")
    k("label", "endpoints", "ext", "-n", ns, "endpointslice.kubernetes.io/skip-mirror-")
    wait_until(lambda: len(_mirrored(k, ns)) == 2, 10, what="slices back without skip-mirror")
    k("patch", "service", "ext", "-n", ns, "-p", '{"spec":{"selector":{"app":"x"}}}')
    wait_until(lambda: not _mirrored(k, ns), 10, what="slices gone once the service has a selector")
    k("patch", "service", "ext", "-n", ns, "--type=json", "-p", '[{"op":"remove","path":"/spec/selector"}]')
    wait_until(lambda: len(_mirrored(k, ns)) == 2, 10, what="slices back without the selector")
    k("delete", "service", "ext", "-n", ns)
    wait_until(lambda: not _mirrored(k, ns), 10, what="slices gone with the service")
    k.apply(_service_and_endpoints(ns))
    wait_until(lambda: len(_mirrored(k, ns)) == 2, 10, what="slices back with the service")
    k("delete", "endpoints", "ext", "-n", ns)
    wait_until(lambda: not _mirrored(k, ns), 10, what="slices gone with the endpoints")


def test_services_with_a_selector_are_not_mirrored(k: Kubectl) -> None:
    ns = k.namespace("mirror-selector")
    k.apply(_service_and_endpoints(ns).replace("spec:\n  ports", "spec:\n  selector: {app: x}\n  ports"))
    time.sleep(1.0)
    assert _mirrored(k, ns) == []


# ---------------------------------------------------------------------- kube-apiserver's bootstrap loops
def test_system_namespace_recreated_after_deletion(k: Kubectl, bootstrap: BootstrapHarness) -> None:
    before = k.get_json("namespace", "kube-node-lease")
    k("delete", "namespace", "kube-node-lease", "--wait=true", timeout=30)
    ns = wait_until(lambda: get_json(k, "namespace", "kube-node-lease"), 10, what="kube-node-lease back")
    assert ns["metadata"]["uid"] != before["metadata"]["uid"]
    assert ns["status"]["phase"] == "Active"


def test_kubernetes_service_and_endpoints_reconciled(
    server: Server, k: Kubectl, bootstrap: BootstrapHarness
) -> None:
    ip, port = BootstrapHarness.ADVERTISE, server.port
    ports = [{"name": "https", "port": port, "protocol": "TCP"}]
    before = k.get_json("service", "kubernetes", "-n", "default")
    k("delete", "service", "kubernetes", "-n", "default")
    svc = wait_until(
        lambda: (
            (s := get_json(k, "service", "kubernetes", "-n", "default"))
            and s["metadata"]["uid"] != before["metadata"]["uid"]
            and s
        ),
        10,
        what="default/kubernetes recreated",
    )
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert svc["spec"]["ports"] == [
        {"name": "https", "protocol": "TCP", "port": 443, "targetPort": server.port}
    ]
    # as upstream, an existing Service is not reconciled: a changed port stays
    k("patch", "service", "kubernetes", "-n", "default", "--type=json", "-p",
      '[{"op":"replace","path":"/spec/ports/0/port","value":444}]')  # fmt: skip
    # the Endpoints name this API server again, labelled skip-mirror, after a delete or an edit
    k("delete", "endpoints", "kubernetes", "-n", "default")

    def own_endpoints() -> dict[str, Any] | None:
        ep = get_json(k, "endpoints", "kubernetes", "-n", "default")
        want = [{"addresses": [{"ip": ip}], "ports": ports}]
        return ep if ep is not None and ep.get("subsets") == want else None

    ep = wait_until(own_endpoints, 10, what="default/kubernetes endpoints recreated")
    assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    k("patch", "endpoints", "kubernetes", "-n", "default", "--type=merge", "-p",
      '{"metadata":{"labels":{"endpointslice.kubernetes.io/skip-mirror":null}},'
      '"subsets":[{"addresses":[{"ip":"10.9.9.9"}],"ports":[{"name":"https","port":1}]}]}')  # fmt: skip
    wait_until(
        lambda: (
            (e := get_json(k, "endpoints", "kubernetes", "-n", "default"))
            and e["subsets"][0]["addresses"] == [{"ip": ip}]
            and e["metadata"].get("labels") == {"endpointslice.kubernetes.io/skip-mirror": "true"}
        ),
        10,
        what="the address and the label reset",
    )
    # ports are not reconciled (reconcilePorts=false) while the address is right
    assert get_json(k, "endpoints", "kubernetes", "-n", "default")["subsets"][0]["ports"][0]["port"] == 1
    assert k.get_json("service", "kubernetes", "-n", "default")["spec"]["ports"][0]["port"] == 444
    fixed = {"subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port}]}]}
    k("patch", "endpoints", "kubernetes", "-n", "default", "--type=merge", "-p", json.dumps(fixed))
    # the EndpointSlice follows the Endpoints and comes back when deleted
    want_slice = [{"addresses": [ip], "conditions": {"ready": True}}]

    def own_slice() -> dict[str, Any] | None:
        es = get_json(k, SLICES, "kubernetes", "-n", "default")
        return es if es is not None and es["endpoints"] == want_slice and es["ports"] == ports else None

    es = wait_until(own_slice, 10, what="default/kubernetes EndpointSlice")
    k("delete", SLICES, "kubernetes", "-n", "default")
    again = wait_until(own_slice, 10, what="default/kubernetes EndpointSlice recreated")
    assert again["metadata"]["uid"] != es["metadata"]["uid"]
    assert again["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    # and no mirrored slice for the skip-mirror Endpoints
    assert _mirrored(k, "default", "kubernetes") == []


# ---------------------------------------------------------------------- in a virtual cluster
def test_virtual_cluster_bootstrap_leaves_kubernetes_service_to_the_syncer(pair: Pair) -> None:
    p = pair
    h = BootstrapHarness(p.vc, kubernetes_service=False).start()
    try:
        assert h.controller.services is None
        before = p.kv.get_json("namespace", "kube-node-lease")
        p.kv("delete", "namespace", "kube-node-lease", "--wait=true", timeout=30)
        ns = wait_until(
            lambda: get_json(p.kv, "namespace", "kube-node-lease"), 10, what="kube-node-lease back"
        )
        assert ns["metadata"]["uid"] != before["metadata"]["uid"]
        host_ip = p.kh.get_json("service", p.vc.name, "-n", HOST_NS)["spec"]["clusterIP"]
        old = p.kv.get_json("service", "kubernetes", "-n", "default")
        p.kv("delete", "service", "kubernetes", "-n", "default")
        svc = wait_until(
            lambda: (
                (s := get_json(p.kv, "service", "kubernetes", "-n", "default"))
                and s["metadata"]["uid"] != old["metadata"]["uid"]
                and s
            ),
            10,
            what="default/kubernetes recreated by the syncer",
        )
        assert svc["spec"]["clusterIP"] == host_ip
        time.sleep(1.5)  # a few rounds of the bootstrap loops
        managers = {
            m["manager"]
            for m in p.kv.get_json("service", "kubernetes", "-n", "default", "--show-managed-fields")[
                "metadata"
            ]["managedFields"]
        }
        assert "test-bootstrap" not in managers
        assert get_json(p.kh, "service", host_name("kubernetes"), "-n", HOST_NS) is None
    finally:
        h.stop()


def test_virtual_mirrored_slices_reach_the_host_once_without_a_fight(pair: Pair) -> None:
    p = pair
    ns = p.kv.namespace("mirror-vc")
    p.kv.apply(_service_and_endpoints(ns))
    wait_until(lambda: len(_mirrored(p.kv, ns)) == 2, 10, what="virtual mirrored slices")
    host_svc = host_name("ext", ns)

    def host_slices() -> list[dict[str, Any]]:
        return items(p.kh, SLICES, "-n", HOST_NS, "-l", f"kubernetes.io/service-name={host_svc}")

    wait_until(lambda: len(host_slices()) == 2, 15, what="the host's two mirrored slices")
    time.sleep(1.0)  # let both sides' controllers settle
    first = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in host_slices()}
    time.sleep(2.0)
    second = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in host_slices()}
    # the host mirrors the synced Endpoints itself; the syncer does not copy the virtual mirrored
    # slices (the host controller would adopt and rewrite them): one writer, no write loop
    assert len(second) == 2 and second == first, (first, second)
    for s in host_slices():
        labels = s["metadata"]["labels"]
        assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslicemirroring-controller.k8s.io"
        # made by the host's controller from the synced Endpoints (whose labels and annotations
        # it copies), not a synced copy of a virtual slice
        owner = s["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("Endpoints", host_svc), owner
        assert s["metadata"]["generateName"] == f"{host_svc}-"
    eps = sorted(a for s in host_slices() for e in s["endpoints"] for a in e["addresses"])
    assert eps == ["10.1.0.1", "10.1.0.2", "10.1.0.3", "fd00::1"]
    p.kv("delete", "endpoints", "ext", "-n", ns)
    wait_until(lambda: not host_slices(), 15, what="host slices gone with the virtual endpoints")
