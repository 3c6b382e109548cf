"""Real nodes end to end (`sync.fromHost.nodes.enabled: true`, spec §9.4): the virtual cluster
shows the host's nodes under their own names, with their labels and status, follows host changes,
and binds synced pods to them; with `syncBackChanges` (§8.9) kubectl's label, taint and cordon of
a virtual node reach the host node."""

from __future__ import annotations

import json

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
    "sync:\n  fromHost:\n    nodes:\n      enabled: true\n      syncBackChanges: true\n"
    "      selector: {all: true}\n",
    nodes=2,
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


def _taints(node: dict | None) -> set[tuple[str, str, str]]:
    return {
        (t["key"], t.get("value", ""), t["effect"])
        for t in ((node or {}).get("spec") or {}).get("taints") or []
    }


def test_virtual_node_changes_go_to_the_host_node(pair: Pair) -> None:
    p = pair
    name = _names(p.kh)[1]
    # kubectl label answers with the virtual node once the host's copy is back
    out = p.kv("label", "node", name, "team=blue", "-o", "json")
    assert labels(json.loads(out)).get("team") == "blue"
    assert labels(p.kh.get_json("node", name)).get("team") == "blue"
    p.kv("taint", "node", name, "dedicated=tenants:NoSchedule")
    want = ("dedicated", "tenants", "NoSchedule")
    assert want in _taints(p.kh.get_json("node", name))
    assert want in _taints(p.kv.get_json("node", name))
    p.kv("cordon", name)
    assert p.kh.get_json("node", name)["spec"].get("unschedulable") is True
    assert p.kv.get_json("node", name)["spec"].get("unschedulable") is True
    # and back again
    p.kv("uncordon", name)
    p.kv("taint", "node", name, "dedicated=tenants:NoSchedule-")
    p.kv("label", "node", name, "team-")
    hn = p.kh.get_json("node", name)
    assert not hn["spec"].get("unschedulable") and want not in _taints(hn) and "team" not in labels(hn)
    vn = p.kv.get_json("node", name)
    assert not vn["spec"].get("unschedulable") and want not in _taints(vn) and "team" not in labels(vn)
