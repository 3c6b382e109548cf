"""Real nodes chosen by `sync.fromHost.nodes.selector.labels` (spec §9.1, §9.4): a selected host
node is synced with the kubelet addresses of §9.2 (with the default `proxyKubelets.byIP`, the
InternalIP is the ClusterIP of its `<vc>-node-<node>` host Service, §9.3), and a node that stops
matching is deleted from the virtual cluster even while pods run on it (only matching nodes are
synced); the writes are logged (§8.7)."""

from __future__ import annotations

import pytest

from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    get_json,
    items,
    labels,
    name_of,
    pair_fixture,
    pod_manifest,
    pod_running,
    safe_concat_name,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(
    "sync:\n  fromHost:\n    nodes:\n      enabled: true\n      selector:\n        labels: {pool: tenants}\n",
    nodes=2,
)


def _host_nodes(p: Pair) -> list[str]:
    return sorted(name_of(n) for n in items(p.kh, "nodes"))


def _node_service(node: str) -> str:
    return safe_concat_name(VC_NAME, "node", node.replace(".", "-"))


def _addresses(node: dict | None) -> dict[str, str]:
    return {a["type"]: a["address"] for a in ((node or {}).get("status") or {}).get("addresses") or []}


def test_selected_node_has_its_node_service_address(pair: Pair) -> None:
    p = pair
    node, other = _host_nodes(p)
    p.kh("label", "node", node, "pool=tenants", "--overwrite")
    vnode = wait_until(lambda: get_json(p.kv, "node", node), 15, what=f"virtual node {node}")
    svc = wait_until(
        lambda: get_json(p.kh, "service", _node_service(node), "-n", HOST_NS), 10, what="node service"
    )
    assert labels(svc) == {"vcluster.loft.sh/belongs-to": VC_NAME, "vcluster.loft.sh/node": node}
    want = {"Hostname": f"{node}.nodes.vcluster.com", "InternalIP": svc["spec"]["clusterIP"]}
    wait_until(lambda: _addresses(get_json(p.kv, "node", node)) == want, 10, what=f"addresses {want}")
    assert "vcluster.loft.sh/fake-node" not in labels(vnode)
    assert get_json(p.kv, "node", other) is None, "a host node without the selector's labels was synced"
    log = p.vc.log_path.read_text()
    assert f"Create virtual node {node} (host {node})" in log
    assert f"Create host node-service {node} (host {HOST_NS}/{_node_service(node)})" in log


def test_a_node_that_stops_matching_is_deleted_while_pods_run_on_it(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "unselected")
    node = _host_nodes(p)[0]
    p.kh("label", "node", node, "pool=tenants", "--overwrite")
    wait_until(lambda: get_json(p.kv, "node", node), 15, what=f"virtual node {node}")
    p.kv.create(pod_manifest("stays", ns))
    try:
        vpod = wait_until(lambda: pod_running(p.kv, "stays", ns), 30, what="pod Running")
        assert vpod["spec"]["nodeName"] == node
        p.kh("label", "node", node, "pool-")
        wait_until(lambda: get_json(p.kv, "node", node) is None, 15, what=f"virtual node {node} deleted")
        wait_until(
            lambda: get_json(p.kh, "service", _node_service(node), "-n", HOST_NS) is None,
            10,
            what="its node service deleted",
        )
        assert pod_running(p.kh, name_of(vpod) + f"-x-{ns}-x-{VC_NAME}", HOST_NS), "the host pod still runs"
        assert f"delete virtual node {node}, because there is no virtual pod with that node" in (
            p.vc.log_path.read_text()
        )
    finally:
        p.kv("delete", "pod", "stays", "-n", ns, "--grace-period=0", "--force", "--ignore-not-found")
