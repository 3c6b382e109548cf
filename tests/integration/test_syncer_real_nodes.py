"""Real nodes end to end (`sync.fromHost.nodes.enabled: true`, spec §9.4): the virtual cluster
shows the host's nodes under their own names, with their labels and status, follows host changes,
and binds synced pods to them."""

from __future__ import annotations

import pytest

from .syncer_harness import (
    Pair,
    get_json,
    labels,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(
    "sync:\n  fromHost:\n    nodes:\n      enabled: true\n      selector: {all: true}\n", nodes=2
)


def _names(k: object, *args: str) -> list[str]:
    out = k("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}", *args)  # type: ignore[operator]
    return sorted(out.split())


def test_host_nodes_appear_with_their_names_labels_and_status(pair: Pair) -> None:
    p = pair
    host = _names(p.kh)
    assert len(host) == 2
    wait_until(lambda: _names(p.kv) == host, 15, what=f"virtual nodes {host}")
    for name in host:
        hn, vn = p.kh.get_json("node", name), p.kv.get_json("node", name)
        assert labels(vn)["kubernetes.io/hostname"] == labels(hn)["kubernetes.io/hostname"]
        assert "vcluster.loft.sh/fake-node" not in labels(vn)
        assert vn["status"]["capacity"] == hn["status"]["capacity"]
        assert {c["type"]: c["status"] for c in vn["status"]["conditions"]}["Ready"] == "True"
    # a label set on the host node follows
    p.kh("label", "node", host[0], "pool=tenants")
    wait_until(
        lambda: labels(get_json(p.kv, "node", host[0])).get("pool") == "tenants",
        10,
        what="host label on the virtual node",
    )
    p.kh("label", "node", host[0], "pool-")
    wait_until(lambda: "pool" not in labels(get_json(p.kv, "node", host[0])), 10, what="host label removed")


def test_synced_pods_are_bound_to_the_real_node(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "realnodes")
    p.kv.create(pod_manifest("onreal", ns))
    vpod = wait_until(lambda: pod_running(p.kv, "onreal", ns), 20, what="virtual pod Running")
    assert vpod["spec"]["nodeName"] in _names(p.kh)
