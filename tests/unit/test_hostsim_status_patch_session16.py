"""The simulated kubelet's status patch (hostsim/statuspatch.py): kubelet's two-way strategic
merge patch of what changed, checked against CreateTwoWayMergePatch's rules and by applying it
with the API server's strategic merge patch."""

from __future__ import annotations

import copy
from typing import Any

from vcluster.apiserver.schema import definitions
from vcluster.apiserver.smp import strategic_merge_patch
from vcluster.hostsim.podstatus import creating_status, finished_status, running_status
from vcluster.hostsim.statuspatch import MERGE_KEYS, pod_status_patch

T0 = 1_800_000_000.0
POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "namespace": "default", "uid": "u-1"},
    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    "status": {
        "phase": "Pending",
        "qosClass": "BestEffort",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": "x"}
        ],
    },
}


def _apply(pod: dict[str, Any], status_patch: dict[str, Any]) -> dict[str, Any]:
    body = {"metadata": {"uid": pod["metadata"]["uid"]}, "status": status_patch}
    return strategic_merge_patch(pod, body, "", "v1", "Pod")


def _without_nulls(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _without_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_without_nulls(x) for x in v]
    return v


def _with(pod: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(pod)
    out["status"] = status
    return out


def test_merge_keys_are_the_pod_status_patch_metadata_of_kube_1_32() -> None:
    props = definitions()["io.k8s.api.core.v1.PodStatus"]["properties"]
    keyed = {
        name: p["x-kubernetes-patch-merge-key"]
        for name, p in props.items()
        if "merge" in p.get("x-kubernetes-patch-strategy", "").split(",")
    }
    assert keyed == MERGE_KEYS


def test_running_from_pending_sends_changed_conditions_with_their_order() -> None:
    status = running_status(POD, "10.0.0.1", "10.244.1.2", T0, True, T0)
    patch = pod_status_patch(POD["status"], status)
    # PodScheduled did not change: only its place in $setElementOrder
    assert [c["type"] for c in patch["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
    ]
    assert patch["$setElementOrder/conditions"] == [{"type": t} for t in (
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"
    )]  # fmt: skip
    assert "qosClass" not in patch and patch["phase"] == "Running"
    assert patch["containerStatuses"] == status["containerStatuses"]
    assert patch["podIPs"] == [{"ip": "10.244.1.2"}]  # a new keyed list goes whole, no order
    assert "$setElementOrder/podIPs" not in patch
    got = _apply(POD, patch)["status"]
    assert _without_nulls(got) == _without_nulls({**POD["status"], **status})


def test_a_condition_that_turns_true_loses_reason_and_message() -> None:
    unready = _with(POD, {**POD["status"], **running_status(POD, "10.0.0.1", "10.244.1.2", T0, False, T0)})
    ready = running_status(unready, "10.0.0.1", "10.244.1.2", T0, True, T0 + 5)
    patch = pod_status_patch(unready["status"], ready)
    by_type = {c["type"]: c for c in patch["conditions"]}
    assert set(by_type) == {"Ready", "ContainersReady"}
    assert by_type["Ready"] == {
        "type": "Ready",
        "status": "True",
        "lastTransitionTime": ready["conditions"][2]["lastTransitionTime"],
        "reason": None,
        "message": None,
    }
    assert "phase" not in patch and "podIP" not in patch and "startTime" not in patch
    got = {c["type"]: c for c in _apply(unready, patch)["status"]["conditions"]}
    assert got["Ready"]["status"] == "True"
    assert "reason" not in got["Ready"] and "message" not in got["Ready"]


def test_unchanged_status_is_an_empty_patch_and_nulls_equal_absent_fields() -> None:
    running = {**POD["status"], **running_status(POD, "10.0.0.1", "10.244.1.2", T0, True, T0)}
    stored = _without_nulls(running)  # the server leaves lastProbeTime: null out
    assert (
        pod_status_patch(stored, running_status(_with(POD, stored), "10.0.0.1", "10.244.1.2", T0, True, T0))
        == {}
    )


def test_foreign_conditions_and_fields_the_kubelet_does_not_set_are_left_alone() -> None:
    foreign = {"type": "example.com/gate", "status": "False", "lastTransitionTime": "y"}
    old = {**POD["status"], "conditions": [*POD["status"]["conditions"], foreign]}
    pod = _with(POD, old)
    patch = pod_status_patch(old, running_status(pod, "10.0.0.1", "10.244.1.2", T0, True, T0))
    assert all(c.get("type") != "example.com/gate" for c in patch["conditions"])
    assert patch["$setElementOrder/conditions"][-1] == {"type": "example.com/gate"}
    got = _apply(pod, patch)["status"]
    assert got["qosClass"] == "BestEffort"
    assert got["conditions"][-1] == foreign


def test_terminated_and_dropped_keyed_entries() -> None:
    pod = _with(POD, {**POD["status"], **running_status(POD, "10.0.0.1", "10.244.1.2", T0, True, T0)})
    done = finished_status(pod, "10.0.0.1", "10.244.1.2", T0, T0 + 3, T0 + 3)
    patch = pod_status_patch(pod["status"], done)
    assert patch["phase"] == "Succeeded"
    assert patch["containerStatuses"] == done["containerStatuses"]  # atomic: whole
    got = _apply(pod, patch)["status"]
    assert _without_nulls(got) == _without_nulls({**pod["status"], **done})
    # an IP the new status no longer lists is deleted by a directive, after the changes
    two = {**pod["status"], "podIPs": [{"ip": "10.244.1.2"}, {"ip": "fd00::2"}]}
    patch = pod_status_patch(two, {"podIPs": [{"ip": "10.244.1.2"}]})
    assert patch == {
        "podIPs": [{"$patch": "delete", "ip": "fd00::2"}],
        "$setElementOrder/podIPs": [{"ip": "10.244.1.2"}],
    }
    assert _apply(_with(pod, two), patch)["status"]["podIPs"] == [{"ip": "10.244.1.2"}]


def test_reordered_keyed_list_sends_only_the_order() -> None:
    a = {"type": "A", "status": "True"}
    b = {"type": "B", "status": "True"}
    assert pod_status_patch({"conditions": [a, b]}, {"conditions": [b, a]}) == {
        "$setElementOrder/conditions": [{"type": "B"}, {"type": "A"}]
    }


def test_creating_then_running_keeps_the_pending_transition_times() -> None:
    creating = {**POD["status"], **creating_status(POD, "10.0.0.1", T0)}
    pod = _with(POD, creating)
    running = running_status(pod, "10.0.0.1", "10.244.1.2", T0 + 1, True, T0 + 1)
    patch = pod_status_patch(creating, running)
    assert _without_nulls(_apply(pod, patch)["status"]) == _without_nulls({**creating, **running})
    assert "startTime" not in patch  # kept from the ContainerCreating write


# ---------------------------------------------------------------------------- scheduler accounting
class _Handlers:
    """The part of an Informer the scheduler's constructor uses."""

    def add_handler(self, handler: Any) -> None:
        self.handler = handler


def _bound(cpu: str, phase: str = "Pending") -> dict[str, Any]:
    c = {"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"nodeName": "n1", "containers": [c]},
        "status": {"phase": phase},
    }


def test_scheduler_counts_a_bound_pod_once_and_recounts_a_resize(monkeypatch: Any) -> None:
    from vcluster.hostsim import scheduler as sched
    from vcluster.hostsim.config import HostSimConfig

    s = sched.Scheduler(None, HostSimConfig(), _Handlers(), _Handlers(), None)  # type: ignore[arg-type]
    calls = 0
    real = sched.pod_requests

    def counting(pod: dict[str, Any], *, nonzero: bool = False) -> Any:
        nonlocal calls
        calls += 1
        return real(pod, nonzero=nonzero)

    monkeypatch.setattr(sched, "pod_requests", counting)
    s._on_pod("update", _bound("500m"), None)
    assert s.usage("n1").requested == {"cpu": 500} and s.usage("n1").pods == 1
    first = calls
    s._on_pod("update", _bound("500m", "Running"), _bound("500m"))  # a status write: no recount
    assert calls == first and s.usage("n1").requested == {"cpu": 500}
    s._on_pod("update", _bound("750m", "Running"), _bound("500m", "Running"))  # requests changed
    assert calls > first
    assert s.usage("n1").requested == {"cpu": 750} and s.usage("n1").pods == 1
    s._on_pod("update", _bound("750m", "Succeeded"), _bound("750m", "Running"))
    assert s.usage("n1").requested == {"cpu": 0} and s.usage("n1").pods == 0
