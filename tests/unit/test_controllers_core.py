"""Pure parts of the core controllers: subsets repacking, port resolution, trigger times, slice
packing, quota arithmetic, PDB helpers, namespace conditions and the GC graph builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from vcluster.client import Client, SharedInformers, WorkQueue
from vcluster.controllers.discovery import APIResource, RESTMapper, _parse_resource_list
from vcluster.controllers.disruption import ExpectedCountError, scaled_value, set_status_condition
from vcluster.controllers.endpoints import (
    EndpointsController,
    TriggerTimeTracker,
    endpoint_ip_for_service,
    find_port,
    repack_subsets,
    should_pod_be_in_endpoints,
)
from vcluster.controllers.endpointslice import (
    EndpointSliceController,
    address_types_for_service,
    pod_to_endpoint,
)
from vcluster.controllers.garbagecollector import GarbageCollector, Identity
from vcluster.controllers.namespace import _Conditions
from vcluster.controllers.resourcequota import (
    _usage_relevant_change,
    pod_matches_scope,
    pod_resources,
    pod_usage,
    pvc_usage,
    q_add,
    q_parse,
    q_str,
    rl_add,
    service_usage,
)


def _client() -> Client:
    return Client("https://127.0.0.1:9", token="t")


def addr(ip: str, uid: str) -> dict[str, Any]:
    return {"ip": ip, "targetRef": {"kind": "Pod", "name": uid, "uid": uid}}


# ---------------------------------------------------------------------------- endpoints
def test_repack_groups_addresses_by_port_set_and_not_ready_wins() -> None:
    p80 = {"name": "http", "port": 80, "protocol": "TCP"}
    p443 = {"name": "https", "port": 443, "protocol": "TCP"}
    subsets = [
        {"addresses": [addr("10.0.0.2", "b")], "ports": [p80]},
        {"addresses": [addr("10.0.0.2", "b")], "ports": [p443]},
        {"addresses": [addr("10.0.0.10", "c")], "ports": [p80]},
        {"addresses": [addr("10.0.0.10", "c")], "ports": [p443]},
        {"notReadyAddresses": [addr("10.0.0.1", "a")], "ports": [p80]},
        {"notReadyAddresses": [addr("10.0.0.1", "a")], "ports": [p443]},
        {"addresses": [addr("10.0.0.3", "d")], "ports": [p80]},  # only on 80
    ]
    out = repack_subsets(subsets)
    # ports offered by exactly the same addresses share a subset (addresses sorted by IP bytes)
    assert out == [
        {
            "addresses": [addr("10.0.0.2", "b"), addr("10.0.0.3", "d"), addr("10.0.0.10", "c")],
            "notReadyAddresses": [addr("10.0.0.1", "a")],
            "ports": [p80],
        },
        {
            "addresses": [addr("10.0.0.2", "b"), addr("10.0.0.10", "c")],
            "notReadyAddresses": [addr("10.0.0.1", "a")],
            "ports": [p443],
        },
    ]
    same = [s for s in subsets if s != {"addresses": [addr("10.0.0.3", "d")], "ports": [p80]}]
    assert repack_subsets(same) == [
        {
            "addresses": [addr("10.0.0.2", "b"), addr("10.0.0.10", "c")],
            "notReadyAddresses": [addr("10.0.0.1", "a")],
            "ports": [p80, p443],
        }
    ]
    # the same address ready and not ready on one port is not ready, in either order (upstream's
    # "not ready always trumps ready")
    both = [
        {"notReadyAddresses": [addr("10.0.0.5", "e")], "ports": [p80]},
        {"addresses": [addr("10.0.0.5", "e")], "ports": [p80]},
    ]
    assert repack_subsets(both) == [{"notReadyAddresses": [addr("10.0.0.5", "e")], "ports": [p80]}]
    assert repack_subsets(both[::-1]) == [{"notReadyAddresses": [addr("10.0.0.5", "e")], "ports": [p80]}]
    # headless without ports keeps the addresses
    assert repack_subsets([{"addresses": [addr("10.0.0.7", "f")]}]) == [
        {"addresses": [addr("10.0.0.7", "f")]}
    ]
    assert repack_subsets([]) == []


def test_find_port_resolves_names_by_protocol_and_sidecars() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "ports": [{"name": "dns", "containerPort": 5353, "protocol": "UDP"}]}
            ],
            "initContainers": [
                {
                    "name": "side",
                    "restartPolicy": "Always",
                    "ports": [{"name": "metrics", "containerPort": 9090}],
                },
                {"name": "init", "ports": [{"name": "setup", "containerPort": 1}]},
            ],
        }
    }
    assert find_port(pod, {"targetPort": "dns", "protocol": "UDP"}) == 5353
    assert find_port(pod, {"targetPort": "dns", "protocol": "TCP"}) is None
    assert find_port(pod, {"targetPort": "metrics", "protocol": "TCP"}) == 9090
    assert find_port(pod, {"targetPort": "setup", "protocol": "TCP"}) is None
    assert find_port(pod, {"targetPort": 8080, "protocol": "TCP"}) == 8080
    assert find_port(pod, {"targetPort": "8080", "protocol": "TCP"}) is None


def test_pod_membership_rules() -> None:
    running = {"metadata": {}, "status": {"phase": "Running", "podIP": "10.1.1.1"}}
    assert should_pod_be_in_endpoints(running, False)
    assert not should_pod_be_in_endpoints({"status": {"phase": "Running"}}, True)
    assert not should_pod_be_in_endpoints({"status": {"phase": "Succeeded", "podIP": "10.1.1.1"}}, True)
    deleting = {"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": running["status"]}
    assert not should_pod_be_in_endpoints(deleting, False)
    assert should_pod_be_in_endpoints(deleting, True)
    dual = {"status": {"podIPs": [{"ip": "10.1.1.1"}, {"ip": "fd00::1"}]}}
    assert endpoint_ip_for_service({"spec": {"ipFamilies": ["IPv6"]}}, dual) == "fd00::1"
    assert endpoint_ip_for_service({"spec": {"ipFamilies": ["IPv4"]}}, dual) == "10.1.1.1"
    assert endpoint_ip_for_service({"spec": {"clusterIP": "None"}}, dual) == "10.1.1.1"


def test_trigger_time_tracker() -> None:
    t = TriggerTimeTracker()
    svc = {"metadata": {"name": "s", "namespace": "n", "creationTimestamp": "2024-01-01T00:00:00Z"}}

    def pod(name: str, ts: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "lastTransitionTime": ts}]},
        }

    first = t.compute(svc, [pod("a", "2024-01-01T00:00:05Z")])
    assert first == datetime(2024, 1, 1, tzinfo=UTC), "a new service uses its creation time"
    assert t.compute(svc, [pod("a", "2024-01-01T00:00:05Z")]) is None, "nothing changed"
    got = t.compute(svc, [pod("a", "2024-01-01T00:00:09Z"), pod("b", "2024-01-01T00:00:07Z")])
    assert got == datetime(2024, 1, 1, 0, 0, 7, tzinfo=UTC), "the earliest unseen change"


def test_leftover_endpoints_are_queued_for_deletion() -> None:
    c = EndpointsController(_client(), SharedInformers(_client()))
    c.services._replace([{"metadata": {"name": "kept", "namespace": "n"}}])
    c.endpoints._replace(
        [
            {"metadata": {"name": "kept", "namespace": "n"}},
            {"metadata": {"name": "stale", "namespace": "n"}},
            {
                "metadata": {
                    "name": "lock",
                    "namespace": "n",
                    "annotations": {"control-plane.alpha.kubernetes.io/leader": "{}"},
                }
            },
        ]
    )
    c.queue = WorkQueue("endpoint")  # drop what the informer handlers queued
    c.check_leftover_endpoints()
    assert "n/stale" in c.queue and "n/kept" not in c.queue and "n/lock" not in c.queue


# ---------------------------------------------------------------------------- endpointslices
def _slice_controller(max_eps: int = 100) -> EndpointSliceController:
    return EndpointSliceController(_client(), SharedInformers(_client()), max_endpoints_per_slice=max_eps)


SVC = {
    "metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid", "labels": {"a": "b"}},
    "spec": {"clusterIP": "10.96.0.10", "ipFamilies": ["IPv4"], "selector": {"app": "web"}},
}


def _ep(i: int) -> dict[str, Any]:
    return {
        "addresses": [f"10.1.{i // 250}.{i % 250}"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": f"p{i:03d}", "uid": f"u{i}"},
    }


def test_slices_are_packed_to_the_limit() -> None:
    c = _slice_controller(max_eps=100)
    from vcluster.controllers.endpointslice import endpoint_key

    desired = {endpoint_key(e): e for e in (_ep(i) for i in range(250))}
    ports = [{"name": "", "port": 80, "protocol": "TCP"}]
    create, update, delete = c._reconcile_ports(SVC, [], desired, ports, "IPv4")
    assert [len(s["endpoints"]) for s in create] == [100, 100, 50]
    assert update == [] and delete == []
    s0 = create[0]
    assert s0["metadata"]["generateName"] == "web-"
    assert s0["metadata"]["labels"] == {
        "a": "b",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert s0["ports"] == ports and s0["addressType"] == "IPv4"
    # existing full slices stay untouched; a removed endpoint updates only its slice; new ones
    # fill the updated slice before anything is created
    existing = []
    for n, s in enumerate(create):
        s = dict(s, metadata={**s["metadata"], "name": f"web-{n}", "resourceVersion": str(n + 1)})
        existing.append(s)
    desired2 = {endpoint_key(e): e for e in (_ep(i) for i in range(1, 251))}
    create2, update2, delete2 = c._reconcile_ports(SVC, existing, desired2, ports, "IPv4")
    assert create2 == [] and delete2 == []
    assert [s["metadata"]["name"] for s in update2] == ["web-0"]
    assert len(update2[0]["endpoints"]) == 100
    assert "p250" in {e["targetRef"]["name"] for e in update2[0]["endpoints"]}


def test_pod_to_endpoint_conditions_and_address_types() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "deletionTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"nodeName": "n1", "hostname": "h", "subdomain": "web"},
        "status": {"podIP": "10.1.1.1", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    node = {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}
    ep = pod_to_endpoint(pod, node, SVC, "IPv4")
    assert ep == {
        "addresses": ["10.1.1.1"],
        "conditions": {"ready": False, "serving": True, "terminating": True},
        "hostname": "h",
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u"},
        "nodeName": "n1",
        "zone": "z1",
    }
    publish = {**SVC, "spec": {**SVC["spec"], "publishNotReadyAddresses": True}}
    assert pod_to_endpoint(pod, node, publish, "IPv4")["conditions"]["ready"] is True
    assert address_types_for_service(SVC) == ["IPv4"]
    assert address_types_for_service({"spec": {"clusterIP": "fd00::10"}}) == ["IPv6"]
    assert address_types_for_service({"spec": {"clusterIP": "None"}}) == ["IPv4", "IPv6"]


# ---------------------------------------------------------------------------- resourcequota
def test_quantity_addition_keeps_the_first_nonzero_format() -> None:
    zero = (Fraction(0), "DecimalSI")
    cpu = q_add(q_add(zero, q_parse("100m")), q_parse("250m"))
    assert q_str(cpu) == "350m"
    mem = q_add(q_add(zero, q_parse("64Mi")), q_parse("128Mi"))
    assert q_str(mem) == "192Mi"
    assert q_str(q_add(q_parse("1"), q_parse("500m"))) == "1500m"
    assert q_str(q_add(q_parse("1Gi"), q_parse("1G"))) == "2073741824"
    assert q_str(zero) == "0"


def test_quota_recount_only_on_the_updates_kube_replenishes() -> None:
    """kube's DefaultUpdateFilter: binding or starting a pod (or binding a claim) is no reason to
    recount; a recount then reads informers that lag quota admission's charges and would let
    parallel creates past the limit. A pod that stops counting, a resize, a Service's quota type
    and a claim's allocated storage are."""
    pending = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending"},
    }
    bound = {**pending, "spec": {**pending["spec"], "nodeName": "n1"}}
    running = {**bound, "status": {"phase": "Running", "podIP": "10.0.0.1"}}
    assert not _usage_relevant_change("pods", pending, bound)
    assert not _usage_relevant_change("pods", bound, running)
    graceful = {**running, "metadata": {"name": "p", "deletionTimestamp": "2999-01-01T00:00:00Z",
                                         "deletionGracePeriodSeconds": 30}}  # fmt: skip
    assert not _usage_relevant_change("pods", running, graceful)  # still charged until it is gone
    stuck = {**running, "metadata": {"name": "p", "deletionTimestamp": "2000-01-01T00:00:00Z",
                                      "deletionGracePeriodSeconds": 30}}  # fmt: skip
    assert _usage_relevant_change("pods", running, stuck)
    assert _usage_relevant_change("pods", running, {**running, "status": {"phase": "Succeeded"}})
    resized = {**running, "spec": {**running["spec"], "containers": [
        {"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}  # fmt: skip
    assert _usage_relevant_change("pods", running, resized)

    svc = {"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    assert not _usage_relevant_change("services", svc, {"spec": {**svc["spec"], "clusterIP": "10.0.0.9"}})
    assert not _usage_relevant_change("services", svc, {"spec": {**svc["spec"], "type": "ExternalName"}})
    assert _usage_relevant_change("services", svc, {"spec": {**svc["spec"], "type": "LoadBalancer"}})

    claim = {"spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}}
    bound_claim = {"spec": {**claim["spec"], "volumeName": "pv1"}, "status": {"phase": "Bound"}}
    assert not _usage_relevant_change("persistentvolumeclaims", claim, bound_claim)
    grown = {**bound_claim, "status": {"phase": "Bound", "allocatedResources": {"storage": "2Gi"}}}
    assert _usage_relevant_change("persistentvolumeclaims", bound_claim, grown)


def test_pod_resources_with_init_containers_sidecars_and_overhead() -> None:
    def c(cpu: str, mem: str | None = None, **kw: Any) -> dict[str, Any]:
        req = {"cpu": cpu} | ({"memory": mem} if mem else {})
        return {"name": "x", "resources": {"requests": req, "limits": req}, **kw}

    pod = {
        "spec": {
            "containers": [c("100m", "64Mi"), c("200m")],
            "initContainers": [c("1"), c("50m", restartPolicy="Always"), c("500m", "1Gi")],
            "overhead": {"cpu": "10m"},
        }
    }
    req = pod_resources(pod, "requests")
    # containers 300m + sidecar 50m = 350m; init max(1, 50m, 500m+50m) = 1 -> 1 + overhead 10m
    assert q_str(req["cpu"]) == "1010m"
    # memory: containers 64Mi; init 1Gi (no sidecar memory) -> 1Gi
    assert q_str(req["memory"]) == "1Gi"
    used = pod_usage(pod, datetime.now(UTC))
    assert set(used) >= {"pods", "count/pods", "cpu", "requests.cpu", "limits.cpu", "memory", "limits.memory"}
    finished = {**pod, "status": {"phase": "Failed"}}
    assert set(pod_usage(finished, datetime.now(UTC))) == {"count/pods"}
    now = datetime(2024, 1, 1, 0, 1, tzinfo=UTC)
    stuck = {
        **pod,
        "metadata": {"deletionTimestamp": "2024-01-01T00:00:20Z", "deletionGracePeriodSeconds": 30},
    }
    assert set(pod_usage(stuck, now)) == {"count/pods"}, "stuck past its grace period"
    assert "pods" in pod_usage(stuck, now - timedelta(seconds=20))


def test_pod_scopes_and_other_evaluators() -> None:
    best = {"spec": {"containers": [{"name": "a"}]}}
    burst = {
        "spec": {
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}],
            "priorityClassName": "hi",
        }
    }
    assert pod_matches_scope(best, "BestEffort") and not pod_matches_scope(burst, "BestEffort")
    assert pod_matches_scope(burst, "NotBestEffort")
    term = {"spec": {"activeDeadlineSeconds": 10, "containers": []}}
    assert pod_matches_scope(term, "Terminating") and pod_matches_scope(best, "NotTerminating")
    assert pod_matches_scope(burst, "PriorityClass", "In", ["hi"])
    assert not pod_matches_scope(burst, "PriorityClass", "NotIn", ["hi"])
    assert pod_matches_scope(best, "PriorityClass", "DoesNotExist")
    lb = {"spec": {"type": "LoadBalancer", "ports": [{"port": 1}, {"port": 2, "nodePort": 30001}]}}
    assert {k: q_str(v) for k, v in service_usage(lb).items()} == {
        "services": "1",
        "count/services": "1",
        "services.nodeports": "2",
        "services.loadbalancers": "1",
    }
    lb["spec"]["allocateLoadBalancerNodePorts"] = False
    assert q_str(service_usage(lb)["services.nodeports"]) == "1"
    pvc = {
        "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"allocatedResources": {"storage": "2Gi"}},
    }
    got = {k: q_str(v) for k, v in pvc_usage(pvc).items()}
    assert got["requests.storage"] == "2Gi"
    assert got["fast.storageclass.storage.k8s.io/requests.storage"] == "2Gi"
    assert got["fast.storageclass.storage.k8s.io/persistentvolumeclaims"] == "1"
    assert {k: q_str(v) for k, v in rl_add({}, {"x": q_parse("1")}).items()} == {"x": "1"}


# ---------------------------------------------------------------------------- disruption
def test_pdb_helpers() -> None:
    assert scaled_value(2, 10, True) == 2
    assert scaled_value("25%", 3, True) == 1
    assert scaled_value("50%", 3, True) == 2
    assert scaled_value("50%", 3, False) == 1
    with pytest.raises(ExpectedCountError):
        scaled_value("abc", 3, True)
    status: dict[str, Any] = {}
    cond = {
        "type": "DisruptionAllowed",
        "status": "True",
        "reason": "SufficientPods",
        "message": "",
        "observedGeneration": 1,
    }
    set_status_condition(status, cond, "T1")
    set_status_condition(status, {**cond, "observedGeneration": 2}, "T2")
    assert status["conditions"] == [{**cond, "observedGeneration": 2, "lastTransitionTime": "T1"}]
    set_status_condition(status, {**cond, "status": "False", "reason": "InsufficientPods"}, "T3")
    assert status["conditions"][0]["lastTransitionTime"] == "T3"


# ---------------------------------------------------------------------------- namespace
def test_namespace_conditions() -> None:
    u = _Conditions()
    u.content_totals({"pods.": 2, "widgets.example.com": 1}, {"example.com/hold": 1})
    u.content_errors.append("boom")
    status: dict[str, Any] = {"phase": "Terminating"}
    assert u.update(status, "T1")
    conds = {c["type"]: c for c in status["conditions"]}
    assert [c["type"] for c in status["conditions"]] == [
        "NamespaceDeletionDiscoveryFailure",
        "NamespaceDeletionGroupVersionParsingFailure",
        "NamespaceDeletionContentFailure",
        "NamespaceContentRemaining",
        "NamespaceFinalizersRemaining",
    ]
    assert conds["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: pods. has 2 resource instances, "
        "widgets.example.com has 1 resource instances"
    )
    assert conds["NamespaceDeletionContentFailure"] == {
        "type": "NamespaceDeletionContentFailure",
        "status": "True",
        "reason": "ContentDeletionFailed",
        "message": "Failed to delete all resource types, 1 remaining: boom",
        "lastTransitionTime": "T1",
    }
    # all good again: the ok variants, with new transition times only where the status flipped
    ok = _Conditions()
    assert ok.update(status, "T2")
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["NamespaceContentRemaining"]["reason"] == "ContentRemoved"
    assert conds["NamespaceContentRemaining"]["lastTransitionTime"] == "T2"
    assert conds["NamespaceDeletionDiscoveryFailure"]["lastTransitionTime"] == "T1"
    assert not _Conditions().update(status, "T3")


# ---------------------------------------------------------------------------- discovery
def test_discovery_parsing_and_mapper() -> None:
    doc = {
        "resources": [
            {
                "name": "deployments",
                "kind": "Deployment",
                "namespaced": True,
                "verbs": ["list", "watch", "delete"],
            },
            {"name": "deployments/scale", "kind": "Scale", "namespaced": True, "verbs": ["get"]},
        ]
    }
    rs = _parse_resource_list("apps", "v1", doc)
    assert [r.plural for r in rs] == ["deployments"]
    m = RESTMapper(rs)
    r = m.for_kind("apps/v1beta1", "Deployment")
    assert r is not None and r.api_version == "apps/v1" and r.gvr() == "apps/v1, Resource=deployments"
    assert m.for_resource("apps", "deployments") is r and m.for_kind("v1", "Deployment") is None


# ---------------------------------------------------------------------------- garbage collector graph
class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def event(self, obj: Any, type: str, reason: str, message: str, **kw: Any) -> None:
        self.events.append((obj, type, reason, message, kw))

    async def close(self) -> None:
        return None


CM = APIResource("", "v1", "configmaps", "ConfigMap", True, frozenset({"list", "watch", "delete"}))


def _obj(name: str, uid: str, ns: str = "ns", owners: list[dict] | None = None, **md: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": uid, "namespace": ns, "ownerReferences": owners or [], **md}}


def _ref(name: str, uid: str, block: bool = True) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid, "blockOwnerDeletion": block}


def _gc() -> tuple[GarbageCollector, _Recorder]:
    rec = _Recorder()
    return GarbageCollector(_client(), SharedInformers(_client()), recorder=rec), rec  # type: ignore[arg-type]


def test_gc_graph_builder_virtual_owners_and_deletes() -> None:
    gc, _ = _gc()
    gc.process_event(CM, "add", _obj("dep", "d1", owners=[_ref("owner", "o1")]), None)
    owner = gc.nodes["o1"]
    assert owner.virtual and owner.dependents == {"d1"}
    assert "o1" in gc.delete_queue, "a virtual owner is checked against the API"
    gc.process_event(CM, "add", _obj("owner", "o1"), None)
    assert not gc.nodes["o1"].virtual
    # the owner goes: its dependents are queued and it is remembered as absent
    gc.process_event(CM, "delete", _obj("owner", "o1"), None)
    assert "o1" not in gc.nodes
    assert "d1" in gc.delete_queue
    assert Identity("v1", "ConfigMap", "owner", "o1", "ns") in gc.absent
    # owner references changing: removed blocking refs re-queue the owner
    gc.process_event(CM, "add", _obj("o2", "o2"), None)
    gc.process_event(CM, "update", _obj("dep", "d1", owners=[_ref("o2", "o2")]), None)
    assert gc.nodes["o2"].dependents == {"d1"}
    gc.process_event(CM, "update", _obj("dep", "d1", owners=[]), None)
    assert gc.nodes["o2"].dependents == set()


def test_gc_transitions_queue_foreground_and_orphan() -> None:
    gc, _ = _gc()
    gc.process_event(CM, "add", _obj("o", "o"), None)
    gc.process_event(CM, "add", _obj("a", "a", owners=[_ref("o", "o")]), None)
    gc.process_event(CM, "add", _obj("b", "b", owners=[_ref("o", "o")]), None)
    old = _obj("o", "o")
    fg = _obj("o", "o", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["foregroundDeletion"])
    gc.process_event(CM, "update", fg, old)
    assert gc.nodes["o"].deleting_dependents
    assert {"a", "b", "o"} <= {k for k in ("a", "b", "o") if k in gc.delete_queue}
    gc2, _ = _gc()
    gc2.process_event(CM, "add", _obj("o", "o"), None)
    orphan = _obj("o", "o", deletionTimestamp="2024-01-01T00:00:00Z", finalizers=["orphan"])
    gc2.process_event(CM, "update", orphan, _obj("o", "o"))
    assert "o" in gc2.orphan_queue and not gc2.nodes["o"].deleting_dependents


def test_gc_reports_cross_namespace_owner() -> None:
    gc, rec = _gc()
    gc.process_event(CM, "add", _obj("owner", "o1", ns="a"), None)
    gc.process_event(CM, "add", _obj("dep", "d1", ns="b", owners=[_ref("owner", "o1")]), None)
    assert "d1" in gc.delete_queue
    [(obj, etype, reason, message, kw)] = rec.events
    assert (etype, reason) == ("Warning", "OwnerRefInvalidNamespace")
    assert obj["metadata"] == {"name": "dep", "namespace": "b", "uid": "d1"}
    assert kw == {"kind": "ConfigMap", "api_version": "v1"}
    assert (
        message
        == 'ownerRef [v1/ConfigMap, namespace: b, name: owner, uid: o1] does not exist in namespace "b"'
    )
