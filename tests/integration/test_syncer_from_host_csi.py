"""`sync.fromHost.csiDrivers` and `csiNodes` (spec §5.5): host CSIDrivers are copied into the
virtual cluster with the same name; a host CSINode only while the virtual cluster has that node."""

from __future__ import annotations

import pytest

from .syncer_harness import (
    Pair,
    get_json,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(
    "sync:\n  fromHost:\n    csiDrivers:\n      enabled: true\n    csiNodes:\n      enabled: true\n"
)

CSI_DRIVER = """\
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: hostpath.csi.example.com
  labels: {team: storage}
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes: [Persistent]
"""


def csi_node(name: str) -> str:
    return f"""\
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata:
  name: {name}
spec:
  drivers:
  - name: hostpath.csi.example.com
    nodeID: {name}
    topologyKeys: [topology.hostpath.csi/node]
"""


def test_host_csi_drivers_are_copied_and_follow_the_host(pair: Pair) -> None:
    p = pair
    p.kh.apply(CSI_DRIVER)
    v = wait_until(
        lambda: get_json(p.kv, "csidriver", "hostpath.csi.example.com"), 15, what="virtual CSIDriver"
    )
    assert v["spec"]["podInfoOnMount"] is True and v["spec"]["attachRequired"] is False
    assert v["metadata"]["labels"]["team"] == "storage"
    p.kh("label", "csidriver", "hostpath.csi.example.com", "tier=gold")
    wait_until(
        lambda: (
            (get_json(p.kv, "csidriver", "hostpath.csi.example.com") or {})["metadata"]["labels"].get("tier")
            == "gold"
        ),
        10,
        what="host label on the virtual copy",
    )
    p.kh("delete", "csidriver", "hostpath.csi.example.com")
    wait_until(
        lambda: get_json(p.kv, "csidriver", "hostpath.csi.example.com") is None, 10, what="copy deleted"
    )


def test_host_csi_nodes_only_for_nodes_of_the_virtual_cluster(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "csinodes")
    host_nodes = sorted(n["metadata"]["name"] for n in p.kh.get_json("nodes")["items"])
    p.kv.create(pod_manifest("csi", ns))
    wait_until(lambda: pod_running(p.kv, "csi", ns), 20, what="virtual pod Running")
    used = p.kv.get_json("pod", "csi", "-n", ns)["spec"]["nodeName"]
    others = [n for n in host_nodes if n != used]
    assert others, host_nodes
    for n in (used, others[0]):
        p.kh.apply(csi_node(n))
    v = wait_until(lambda: get_json(p.kv, "csinode", used), 15, what="virtual CSINode of the pod's node")
    assert v["spec"]["drivers"][0]["nodeID"] == used
    assert get_json(p.kv, "csinode", others[0]) is None  # no virtual node there
    # the node leaves the virtual cluster with its last pod, and its CSINode with it
    p.kv("delete", "pod", "csi", "-n", ns, "--wait=false")
    wait_until(lambda: get_json(p.kv, "node", used) is None, 20, what="fake node removed")
    wait_until(lambda: get_json(p.kv, "csinode", used) is None, 10, what="CSINode copy removed")
    for n in (used, others[0]):
        p.kh("delete", "csinode", n)
