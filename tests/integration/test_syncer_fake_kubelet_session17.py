"""vCluster's fake kubelet and `/metrics/syncer` (spec §8.9, §8.7) end to end: raw HTTPS requests to
the virtual API server whose Host header names a virtual node's kubelet (its `Hostname` address,
`<node>.nodes.vcluster.com`, or its `InternalIP`, the node Service's ClusterIP) are that node's
kubelet, relayed to the host node's and rewritten to virtual names; authorized as a kubelet does.
One host + virtual cluster pair for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .httpclient import Client
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    host_name,
    pair_fixture,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(nodes=1)

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{{name: main, image: nginx}}]
"""


@pytest.fixture(scope="module")
def vns(pair: Pair) -> str:
    ns = virtual_namespace(pair.kv, "kubelet")
    pair.kv.apply(POD.format(ns=ns))
    wait_until(lambda: pod_running(pair.kv, "web", ns), 30, what="pod web Running")
    return ns


@pytest.fixture(scope="module")
def api(pair: Pair) -> Iterator[Client]:
    c = Client(pair.vc.url, pair.vc.ca_file, pair.vc.token)
    yield c
    c.close()


def _addresses(pair: Pair, node: str) -> dict[str, str]:
    def ready() -> dict[str, str]:
        got = pair.kv.get_json("node", node)
        addrs = {a["type"]: a["address"] for a in got["status"].get("addresses") or []}
        return addrs if {"Hostname", "InternalIP"} <= addrs.keys() else {}

    return wait_until(ready, 15, what=f"addresses of node {node}")


@pytest.fixture(scope="module")
def node(pair: Pair, vns: str) -> str:
    return str(pair.kv.get_json("pod", "web", "-n", vns)["spec"]["nodeName"])


def _kubelet(api: Client, host: str, path: str, **headers: str) -> Any:
    return api.call("GET", path, headers={"Host": f"{host}:10250", **headers})


def test_hostname_of_a_node_reaches_its_kubelet_with_virtual_names(
    pair: Pair, api: Client, vns: str, node: str
) -> None:
    hostname = _addresses(pair, node)["Hostname"]
    assert hostname == f"{node.replace('.', '-')}.nodes.vcluster.com"
    r = _kubelet(api, hostname, "/pods")
    assert r.status == 200, r.raw
    names = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in r.body["items"]}
    assert (vns, "web") in names, names
    assert not any(ns == HOST_NS for ns, _ in names)  # the host pods are not shown under host names
    r = _kubelet(api, hostname, "/healthz")
    assert (r.status, r.raw) == (200, b"ok")
    # without the fake kubelet's Host the same path is none of the API server's
    assert api.call("GET", "/pods").status == 404


def test_node_service_ip_reaches_stats_summary(pair: Pair, api: Client, vns: str, node: str) -> None:
    ip = _addresses(pair, node)["InternalIP"]
    svc = pair.kh.get_json("svc", "-n", HOST_NS, "-l", f"vcluster.loft.sh/node={node}")["items"]
    assert [s["spec"]["clusterIP"] for s in svc] == [ip]
    r = _kubelet(api, ip, "/stats/summary")
    assert r.status == 200, r.raw
    assert r.body["node"]["nodeName"] == node
    refs = {(p["podRef"]["namespace"], p["podRef"]["name"]) for p in r.body["pods"]}
    assert (vns, "web") in refs and (HOST_NS, host_name("web", vns)) not in refs, refs
    metrics = _kubelet(api, ip, "/metrics/resource")
    assert metrics.status == 200, metrics.raw
    assert f'namespace="{vns}",pod="web"' in metrics.raw.decode()


def test_kubelet_authorization_and_resource_paths(pair: Pair, api: Client, vns: str, node: str) -> None:
    hostname = _addresses(pair, node)["Hostname"]
    # the kubelet authorizer denies every resource request, even the admin's
    r = _kubelet(api, hostname, "/api/v1/namespaces")
    assert r.status == 403 and r.body["reason"] == "Forbidden", r.raw
    assert r.body["message"].endswith(": forbidden"), r.body
    # stats/summary is `get nodes/stats` of that node; other paths are non-resource requests
    as_user = {"Impersonate-User": "kubelet-reader"}
    r = _kubelet(api, hostname, "/stats/summary", **as_user)
    assert r.status == 403, r.raw
    assert 'cannot get resource "nodes/stats"' in r.body["message"], r.body
    pair.kv("create", "clusterrole", "kubelet-stats", "--verb=get", "--resource=nodes/stats")
    pair.kv("create", "clusterrolebinding", "kubelet-stats", "--clusterrole=kubelet-stats",
            "--user=kubelet-reader")  # fmt: skip
    wait_until(lambda: _kubelet(api, hostname, "/stats/summary", **as_user).status == 200, 10)
    r = _kubelet(api, hostname, "/pods", **as_user)
    assert r.status == 403 and 'cannot get path "/pods"' in r.body["message"], r.raw
    # a Host without a port, or naming no node, is an ordinary request
    r = api.call("GET", "/stats/summary", headers={"Host": hostname})
    assert r.status == 404, r.raw
    assert _kubelet(api, "nobody.nodes.vcluster.com", "/stats/summary").status == 404


def test_metrics_syncer_serves_the_syncers_metrics_only(api: Client, vns: str) -> None:
    r = api.call("GET", "/metrics/syncer")
    assert r.status == 200, r.raw
    text = r.raw.decode()
    assert 'vcluster_syncer_reconcile_seconds_count{kind="pod"}' in text
    assert 'workqueue_depth{name="pod"}' in text
    assert "apiserver_request_total" not in text
    assert "apiserver_request_total" in api.call("GET", "/metrics").raw.decode()
    r = api.call("GET", "/metrics/syncer", headers={"Impersonate-User": "nobody"})
    assert r.status == 403 and 'cannot get path "/metrics/syncer"' in json.loads(r.raw)["message"]


def test_node_service_without_vcluster_endpoints_names_the_api_server(pair: Pair, node: str) -> None:
    """§9.3: the vCluster Service selects no pod (the API server runs outside the host) and has no
    Endpoints, so the node Service's name the virtual API server, whose fake kubelet answers."""
    assert pair.kh.run("get", "endpoints", "-n", HOST_NS, VC_NAME, check=False).returncode != 0
    port = int(pair.vc.url.rsplit(":", 1)[1])
    svc = pair.kh.get_json("svc", "-n", HOST_NS, "-l", f"vcluster.loft.sh/node={node}")["items"][0]

    def endpoints() -> Any:
        got = pair.kh.run(
            "get", "endpoints", "-n", HOST_NS, svc["metadata"]["name"], "-o", "json", check=False
        )
        return json.loads(got.stdout).get("subsets") if got.returncode == 0 else None

    subsets = wait_until(endpoints, 15, what="node service endpoints")
    kubelet = {"name": "kubelet", "port": port, "protocol": "TCP"}
    assert subsets == [{"addresses": [{"ip": "127.0.0.1"}], "ports": [kubelet]}]
