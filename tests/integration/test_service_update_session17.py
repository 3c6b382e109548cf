"""A Service switched away from ExternalName by a PUT, as vCluster's API proxy intercepts it
(pkg/server/filters/service.go): the host Service switches first and the virtual one is updated in
place (same UID) with the host's ClusterIP, in the answer to the PUT. Dry runs and PATCHes are not
intercepted (the syncer switches the host and recreates the virtual Service afterwards)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import Kubectl
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    get_json,
    host_name,
    pair_fixture,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()


def _spec(k: Kubectl, *args: str) -> dict[str, Any]:
    """The spec of an object ({} when it does not exist)."""
    return (get_json(k, *args) or {}).get("spec") or {}


def _external_name(p: Pair, ns: str, name: str) -> dict[str, Any]:
    """Create ExternalName Service `name` and return it once its host copy is ExternalName too."""
    p.kv("create", "service", "externalname", name, "-n", ns, "--external-name", "example.com")
    hname = host_name(name, ns)
    wait_until(lambda: _spec(p.kh, "svc", hname, "-n", HOST_NS).get("type") == "ExternalName", 15)
    got = get_json(p.kv, "svc", name, "-n", ns)
    assert got is not None
    return got


def _switched(svc: dict[str, Any], svc_type: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    """`svc` (as read, with its resourceVersion) as the client sends it to switch to `svc_type`."""
    out = json.loads(json.dumps(svc))
    out["spec"] = {"type": svc_type, "ports": ports, "selector": {"app": svc["metadata"]["name"]}}
    out.pop("status", None)
    return out


def _recreations(p: Pair, ns: str, name: str) -> int:
    """How many times the syncer recreated virtual Service ns/name (its log lines)."""
    return p.vc.log_path.read_text().count(f"recreating virtual service {ns}/{name},")


def test_replace_to_cluster_ip_answers_the_host_ip_and_keeps_the_uid(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc-put")
    hname = host_name("en", ns)
    svc = _external_name(p, ns, "en")
    ports = [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    answer = json.loads(
        p.kv("replace", "-o", "json", "-f", "-", input=json.dumps(_switched(svc, "ClusterIP", ports)))
    )
    host = get_json(p.kh, "svc", hname, "-n", HOST_NS)
    assert host is not None
    hspec, aspec = host["spec"], answer["spec"]
    assert hspec["type"] == "ClusterIP" and hspec["clusterIP"] and "externalName" not in hspec
    assert aspec["type"] == "ClusterIP" and aspec["clusterIP"] == hspec["clusterIP"]
    assert aspec["clusterIPs"] == hspec["clusterIPs"] == [hspec["clusterIP"]]
    assert hspec["ports"] == aspec["ports"] == ports
    assert answer["metadata"]["uid"] == svc["metadata"]["uid"]
    assert "externalName" not in aspec
    # the syncer takes the pair as it is: no recreation, the UID stays, the selector is translated
    time.sleep(2)
    virtual = get_json(p.kv, "svc", "en", "-n", ns)
    assert virtual is not None and virtual["metadata"]["uid"] == svc["metadata"]["uid"], p.logs()
    assert virtual["spec"]["clusterIP"] == hspec["clusterIP"]
    assert _recreations(p, ns, "en") == 0, p.logs()
    hsel = _spec(p.kh, "svc", hname, "-n", HOST_NS).get("selector") or {}
    assert hsel == {"app": "en", "vcluster.loft.sh/managed-by": VC_NAME, "vcluster.loft.sh/namespace": ns}


def test_replace_to_node_port_carries_the_host_node_ports(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc-put-np")
    hname = host_name("np", ns)
    svc = _external_name(p, ns, "np")
    body = _switched(svc, "NodePort", [{"name": "a", "port": 80, "protocol": "TCP"}])
    answer = json.loads(p.kv("replace", "-o", "json", "-f", "-", input=json.dumps(body)))
    hspec = _spec(p.kh, "svc", hname, "-n", HOST_NS)
    assert hspec["type"] == "NodePort" and 30000 <= hspec["ports"][0]["nodePort"] <= 32767
    assert answer["spec"]["ports"] == hspec["ports"]
    assert answer["spec"]["clusterIP"] == hspec["clusterIP"]
    assert answer["metadata"]["uid"] == svc["metadata"]["uid"]


def test_a_node_port_the_host_refuses_changes_nothing(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc-put-taken")
    p.kv("create", "service", "nodeport", "first", "-n", ns, "--tcp=80:80")
    first = wait_until(lambda: _spec(p.kh, "svc", host_name("first", ns), "-n", HOST_NS).get("ports"), 15)
    taken = first[0]["nodePort"]
    svc = _external_name(p, ns, "second")
    body = _switched(svc, "NodePort", [{"port": 80, "protocol": "TCP", "nodePort": taken}])
    r = p.kv.run("replace", "-f", "-", input=json.dumps(body), check=False)
    assert r.returncode != 0
    assert "provided port is already allocated" in r.stderr and "-x-" not in r.stderr, r.stderr
    assert _spec(p.kv, "svc", "second", "-n", ns)["type"] == "ExternalName"
    assert _spec(p.kh, "svc", host_name("second", ns), "-n", HOST_NS)["type"] == "ExternalName"


def test_dry_run_and_patch_are_not_intercepted(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "svc-put-dry")
    hname = host_name("dry", ns)
    svc = _external_name(p, ns, "dry")
    body = _switched(svc, "ClusterIP", [{"port": 80, "protocol": "TCP"}])
    answer = json.loads(p.kv("replace", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(body)))
    assert answer["spec"]["type"] == "ClusterIP" and not answer["spec"].get("clusterIP")
    time.sleep(1)
    assert _spec(p.kh, "svc", hname, "-n", HOST_NS)["type"] == "ExternalName"
    assert _spec(p.kv, "svc", "dry", "-n", ns)["type"] == "ExternalName"
    # `kubectl apply` PATCHes: the syncer switches the host, then recreates the virtual Service
    manifest = (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: dry, namespace: {ns}}}\n"
        "spec: {type: ClusterIP, externalName: null, ports: [{port: 80}]}\n"
    )
    p.kv.apply(manifest)

    def same_ip() -> str:
        h, v = _spec(p.kh, "svc", hname, "-n", HOST_NS), _spec(p.kv, "svc", "dry", "-n", ns)
        return h.get("clusterIP", "") if h.get("clusterIP") and v.get("clusterIP") == h["clusterIP"] else ""

    wait_until(same_ip, 15, what="the host ClusterIP on both sides")
    assert _recreations(p, ns, "dry") >= 1
