"""The chaos soak's pod check (tests/soak/chaos_workloads.py): a virtual pod's hostIP is its
virtual node's InternalIP (vCluster's rewriteFakeHostIPAddresses), never the host node's address."""

from __future__ import annotations

from typing import Any

from tests.integration.syncer_harness import host_name
from tests.soak.chaos_workloads import Workloads

NODE_IPS = {"node-1": "10.96.0.50"}


def pods(vstatus: dict[str, Any], hstatus: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """One virtual pod on node-1 and its host pod, with these statuses."""
    spec = {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]}
    v = {
        "metadata": {"name": "a", "namespace": "s0"},
        "spec": spec,
        "status": {"podIP": "10.0.0.7", **vstatus},
    }
    h = {"metadata": {"name": host_name("a", "s0")}, "spec": spec, "status": {"podIP": "10.0.0.7", **hstatus}}
    return {"pods": {("s0", "a"): v}}, {"pods": {host_name("a", "s0"): h}}


def test_virtual_node_address_passes() -> None:
    vobjs, hobjs = pods(
        {"hostIP": "10.96.0.50", "hostIPs": [{"ip": "10.96.0.50"}]},
        {"hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}]},
    )
    assert Workloads._pod_spec_problems(vobjs, hobjs, NODE_IPS) == []


def test_host_node_address_fails() -> None:
    vobjs, hobjs = pods(
        {"hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}]},
        {"hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}]},
    )
    problems = Workloads._pod_spec_problems(vobjs, hobjs, NODE_IPS)
    assert len(problems) == 1 and "pod s0/a hostIP: virtual 127.0.0.1" in problems[0]


def test_hostips_must_follow_hostip() -> None:
    vobjs, hobjs = pods(
        {"hostIP": "10.96.0.50", "hostIPs": [{"ip": "127.0.0.1"}]},
        {"hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}]},
    )
    assert len(Workloads._pod_spec_problems(vobjs, hobjs, NODE_IPS)) == 1


def test_no_hostip_before_the_host_has_one() -> None:
    vobjs, hobjs = pods({}, {})
    assert Workloads._pod_spec_problems(vobjs, hobjs, NODE_IPS) == []
    vobjs, hobjs = pods({"hostIP": "10.96.0.50", "hostIPs": [{"ip": "10.96.0.50"}]}, {})
    assert len(Workloads._pod_spec_problems(vobjs, hobjs, NODE_IPS)) == 1
