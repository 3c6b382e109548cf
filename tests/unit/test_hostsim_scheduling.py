"""Scheduler filters, scoring, resource arithmetic and FitError texts of the simulated host."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.hostsim.ipam import NodeIPAM
from vcluster.hostsim.predicates import (
    NodeView,
    PodFit,
    Usage,
    filter_node,
    find_fit,
    fit_error,
    insufficient,
    nodes_to_find,
    score,
    tolerates,
    untolerated_taint,
)
from vcluster.hostsim.resources import DEFAULT_MEMORY, DEFAULT_MILLI_CPU, pod_requests, quantity

GI = 1024**3


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "c", "image": "nginx"}])
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": spec}


def node(
    name: str = "n1", *, labels: dict[str, str] | None = None, taints: Any = None, **kw: Any
) -> NodeView:
    alloc = {"cpu": 4000, "memory": 8 * GI, "pods": 110, "ephemeral-storage": 100 * GI}
    alloc.update(kw.pop("alloc", {}))
    return NodeView(name, labels or {}, list(taints or []), kw.pop("unschedulable", False), alloc)


def container(name: str, **requests: str) -> dict[str, Any]:
    return {"name": name, "image": "x", "resources": {"requests": requests}}


# ---------------------------------------------------------------------------- quantities and requests
@pytest.mark.parametrize(
    ("name", "value", "want"),
    [
        ("cpu", "100m", 100),
        ("cpu", "2", 2000),
        ("cpu", "0.5", 500),
        ("cpu", "1.0001", 1001),  # rounded up to the next millicore
        ("memory", "1Gi", GI),
        ("memory", "128M", 128_000_000),
        ("memory", "1.5Ki", 1536),
        ("pods", 110, 110),
        ("cpu", "bogus", 0),
    ],
)
def test_quantity(name: str, value: Any, want: int) -> None:
    assert quantity(name, value) == want


def test_pod_requests_sum_containers_init_max_sidecars_and_overhead() -> None:
    p = pod(
        containers=[container("a", cpu="100m", memory="64Mi"), container("b", cpu="200m")],
        initContainers=[container("i1", cpu="1"), container("i2", memory="1Gi")],
        overhead={"cpu": "10m"},
    )
    # containers: 300m/64Mi; the largest init step wins per resource: cpu 1000m, memory 1Gi.
    assert pod_requests(p) == {"cpu": 1010, "memory": GI}
    sidecar = {**container("s", cpu="500m"), "restartPolicy": "Always"}
    p2 = pod(containers=[container("a", cpu="100m")], initContainers=[sidecar, container("i", cpu="1")])
    # the sidecar runs alongside: 600m total; the init step after it needs 1 + 0.5.
    assert pod_requests(p2) == {"cpu": 1500}


def test_pod_requests_nonzero_defaults_for_scoring() -> None:
    p = pod(containers=[container("a"), container("b", cpu="1")])
    assert pod_requests(p) == {"cpu": 1000}
    assert pod_requests(p, nonzero=True) == {"cpu": 1000 + DEFAULT_MILLI_CPU, "memory": 2 * DEFAULT_MEMORY}


# ---------------------------------------------------------------------------- taints
@pytest.mark.parametrize(
    ("toleration", "taint", "ok"),
    [
        (
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            ("k", "v", "NoSchedule"),
            True,
        ),
        ({"key": "k", "value": "v"}, ("k", "v", "NoExecute"), True),  # empty effect matches all
        ({"key": "k", "value": "w"}, ("k", "v", "NoSchedule"), False),
        ({"key": "k", "operator": "Exists"}, ("k", "anything", "NoSchedule"), True),
        ({"operator": "Exists"}, ("other", "", "NoExecute"), True),  # empty key + Exists: everything
        ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, ("k", "", "NoSchedule"), False),
        ({"key": "j", "operator": "Exists"}, ("k", "", "NoSchedule"), False),
    ],
)
def test_tolerates(toleration: dict[str, Any], taint: tuple[str, str, str], ok: bool) -> None:
    assert tolerates(toleration, {"key": taint[0], "value": taint[1], "effect": taint[2]}) is ok


def test_untolerated_taint_ignores_prefer_no_schedule_and_reports_first() -> None:
    taints = [
        {"key": "soft", "effect": "PreferNoSchedule"},
        {"key": "a", "value": "1", "effect": "NoSchedule"},
        {"key": "b", "value": "2", "effect": "NoExecute"},
    ]
    assert untolerated_taint([], taints) == taints[1]
    assert untolerated_taint([{"key": "a", "operator": "Exists"}], taints) == taints[2]
    assert untolerated_taint([{"operator": "Exists"}], taints) is None


# ---------------------------------------------------------------------------- filters
def test_filter_order_and_reasons() -> None:
    fit = PodFit.from_pod(pod(nodeSelector={"disk": "ssd"}))
    tainted = node(taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    assert filter_node(fit, tainted, Usage()) == (
        "UnschedulableAndUnresolvable",
        ["node(s) had untolerated taint {dedicated: gpu}"],
    )
    cordoned = node(unschedulable=True)
    assert filter_node(fit, cordoned, Usage()) == (
        "UnschedulableAndUnresolvable",
        ["node(s) were unschedulable"],
    )
    assert filter_node(fit, node(), Usage()) == (
        "UnschedulableAndUnresolvable",
        ["node(s) didn't match Pod's node affinity/selector"],
    )
    assert filter_node(fit, node(labels={"disk": "ssd"}), Usage()) is None
    tolerating = PodFit.from_pod(
        pod(
            tolerations=[
                {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
            ]
        )
    )
    assert filter_node(tolerating, cordoned, Usage()) is None


def test_taint_with_empty_value_message() -> None:
    fit = PodFit.from_pod(pod())
    n = node(taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    assert filter_node(fit, n, Usage())[1] == [  # type: ignore[index]
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    ]


@pytest.mark.parametrize(
    ("expr", "labels", "ok"),
    [
        ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"zone": "b"}, True),
        ({"key": "zone", "operator": "In", "values": ["a"]}, {}, False),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {}, True),
        ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"zone": "a"}, False),
        ({"key": "gpu", "operator": "Exists"}, {"gpu": ""}, True),
        ({"key": "gpu", "operator": "DoesNotExist"}, {"gpu": ""}, False),
        ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "8"}, True),
        ({"key": "cores", "operator": "Lt", "values": ["4"]}, {"cores": "8"}, False),
        ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"cores": "many"}, False),
    ],
)
def test_node_affinity_expressions(expr: dict[str, Any], labels: dict[str, str], ok: bool) -> None:
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [expr]}
    ]}}}  # fmt: skip
    fit = PodFit.from_pod(pod(affinity=aff))
    assert (filter_node(fit, node(labels=labels), Usage()) is None) is ok


def test_node_affinity_terms_are_ored_and_empty_term_matches_nothing() -> None:
    terms = [{}, {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}]
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    fit = PodFit.from_pod(pod(affinity=aff))
    assert filter_node(fit, node(labels={"zone": "b"}), Usage()) is None
    assert filter_node(fit, node(labels={"zone": "a"}), Usage()) is not None


def test_match_fields_prefilter_pins_daemonset_pods() -> None:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    fit = PodFit.from_pod(pod(affinity=aff))
    nodes = [node("n1"), node("n2"), node("n3")]
    feasible, failed, pre, processed = find_fit(fit, nodes, {})
    assert [n.name for n in feasible] == ["n2"] and pre == "" and processed == 3
    assert (
        failed == [("UnschedulableAndUnresolvable", ["node(s) didn't satisfy plugin(s) [NodeAffinity]"])] * 2
    )


def test_insufficient_resources_lists_every_shortage() -> None:
    n = node(alloc={"cpu": 1000, "memory": GI, "pods": 2})
    used = Usage(requested={"cpu": 900, "memory": GI // 2}, pods=2)
    reasons = insufficient({"cpu": 200, "memory": GI, "example.com/gpu": 1}, n, used)
    assert reasons == [
        "Too many pods",
        "Insufficient cpu",
        "Insufficient memory",
        "Insufficient example.com/gpu",
    ]
    assert insufficient({}, n, Usage(pods=1)) == []


def test_least_allocated_score_prefers_the_emptier_node() -> None:
    fit = PodFit.from_pod(pod())
    empty, busy = node("a"), node("b")
    assert score(fit, empty, Usage()) > score(fit, busy, Usage(nonzero={"cpu": 2000, "memory": 4 * GI}))


# ---------------------------------------------------------------------------- messages
def test_fit_error_selector() -> None:
    failed = [("UnschedulableAndUnresolvable", ["node(s) didn't match Pod's node affinity/selector"])] * 3
    assert fit_error(3, failed) == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_fit_error_mixed_reasons_sorted_and_preemption_histogram() -> None:
    failed = [
        ("UnschedulableAndUnresolvable", ["node(s) had untolerated taint {machine-check-exception: memory}"]),
        ("Unschedulable", ["Insufficient cpu"]),
        ("Unschedulable", ["Insufficient cpu"]),
    ]
    assert fit_error(3, failed) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {machine-check-exception: memory}, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for "
        "scheduling, 2 No preemption victims found for incoming pod."
    )


def test_fit_error_preemption_never_and_no_nodes() -> None:
    failed = [("Unschedulable", ["Insufficient cpu", "Insufficient memory"])]
    assert fit_error(1, failed, preemption_never=True) == (
        "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "
        "preemption: not eligible due to preemptionPolicy=Never."
    )
    assert fit_error(0, []) == "no nodes available to schedule pods"


def test_find_fit_end_to_end() -> None:
    nodes = [
        node("a", labels={"disk": "ssd"}),
        node("b"),
        node("c", taints=[{"key": "x", "effect": "NoExecute"}]),
    ]
    fit = PodFit.from_pod(pod(containers=[container("c", cpu="3")], nodeSelector={"disk": "ssd"}))
    feasible, failed, _, _ = find_fit(fit, nodes, {"a": Usage(requested={"cpu": 2000}, pods=1)})
    assert feasible == []
    assert fit_error(3, failed) == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {x: }. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    )


def test_large_clusters_search_a_share_of_nodes_round_robin() -> None:
    assert nodes_to_find(99) == 99
    assert nodes_to_find(1000) == 420  # (50 - 8)%
    assert nodes_to_find(5000) == 500  # 10%
    assert nodes_to_find(10000) == 500  # at least 5%
    assert nodes_to_find(150) == 100
    nodes = [node(f"n{i}") for i in range(1000)]
    fit = PodFit.from_pod(pod())
    feasible, failed, _, processed = find_fit(fit, nodes, {}, start=900)
    assert processed == 420 and len(feasible) == 420 and failed == []
    assert feasible[0].name == "n900" and feasible[-1].name == "n319"  # wrapped around
    full = [node(f"f{i}", alloc={"pods": 0}) for i in range(150)]
    feasible, failed, _, processed = find_fit(fit, full, {})
    assert feasible == [] and processed == 150 and len(failed) == 150  # every node explains the error


# ---------------------------------------------------------------------------- IPAM
def test_ipam_allocates_round_robin_reserves_and_releases() -> None:
    ipam = NodeIPAM("10.244.3.0/24")
    assert ipam.gateway == "10.244.3.1"
    assert ipam.allocate("a") == "10.244.3.2"
    assert ipam.allocate("a") == "10.244.3.2"  # idempotent per pod
    assert ipam.reserve("b", "10.244.3.3")
    assert not ipam.reserve("c", "10.244.3.3")  # taken
    assert not ipam.reserve("c", "10.244.4.9")  # not ours
    assert ipam.allocate("c") == "10.244.3.4"
    ipam.release("a")
    assert ipam.allocate("d") == "10.244.3.5"  # round robin: freed addresses are reused last
    assert len(ipam) == 3


def test_ipam_exhaustion() -> None:
    ipam = NodeIPAM("10.0.0.0/29")  # .2 .. .6
    got = {ipam.allocate(str(i)) for i in range(5)}
    assert len(got) == 5
    with pytest.raises(RuntimeError, match="no free pod IP"):
        ipam.allocate("x")
    ipam.release("0")
    assert ipam.allocate("x") == "10.0.0.2"
