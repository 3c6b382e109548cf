"""The ReplicationController controller's conversion layer: the map selector, the kind checks of
its pod handlers and the ReplicationControllerStatus as Go serializes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from vcluster.controllers.base import go_status, selector_matches
from vcluster.controllers.manager import load_controller_class
from vcluster.controllers.replicaset import calculate_rs_status
from vcluster.controllers.replicationcontroller import ReplicationManager, rc_selector

NOW = datetime(2025, 1, 1, tzinfo=UTC)
Handler = Callable[[str, dict, "dict | None"], None]


class FakeInformer:
    """The part of an Informer the controller uses: handlers, get and list from a dict."""

    def __init__(self) -> None:
        self.objs: dict[tuple[str, str], dict[str, Any]] = {}
        self.handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objs.get((namespace or "", name))

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for (ns, _), o in self.objs.items() if namespace in (None, ns)]

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.objs[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        return obj


class FakeInformers:
    def __init__(self) -> None:
        self.made: dict[tuple[str, str], FakeInformer] = {}

    def informer(self, api_version: str, plural: str) -> FakeInformer:
        return self.made.setdefault((api_version, plural), FakeInformer())


def rc(name: str, selector: dict[str, str] | None, uid: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"replicas": 2, "template": {"metadata": {"labels": {"app": name}}}}
    if selector is not None:
        spec["selector"] = selector
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "generation": 1},
        "spec": spec,
    }


def pod(name: str, labels: dict[str, str], owner: dict[str, Any] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": labels}
    md["resourceVersion"] = "1"
    if owner is not None:
        md["ownerReferences"] = [owner]
    return {"metadata": md, "spec": {}, "status": {"phase": "Pending"}}


def make() -> tuple[ReplicationManager, FakeInformer, FakeInformer]:
    infs = FakeInformers()
    ctrl = ReplicationManager(None, infs)  # type: ignore[arg-type]
    return ctrl, infs.made[("v1", "replicationcontrollers")], infs.made[("v1", "pods")]


def test_registered_under_the_kube_controller_manager_name() -> None:
    assert load_controller_class("replicationcontroller") is ReplicationManager
    ctrl, _, _ = make()
    assert (ctrl.kind, ctrl.api_version, ctrl.plural) == (
        "ReplicationController",
        "v1",
        "replicationcontrollers",
    )
    assert ctrl.recorder.component == "replication-controller"


def test_map_selector_converts_to_match_labels_and_empty_selects_nothing() -> None:
    sel = rc_selector(rc("a", {"app": "a", "tier": "web"}))
    assert sel == {"matchLabels": {"app": "a", "tier": "web"}}
    assert selector_matches(sel, {"app": "a", "tier": "web", "x": "1"})
    assert not selector_matches(sel, {"app": "a"})
    for empty in (rc("b", {}), rc("c", None)):
        assert rc_selector(empty) is None
        assert not selector_matches(rc_selector(empty), {"app": "b"})


def test_orphan_pod_wakes_only_the_rcs_whose_map_selector_matches() -> None:
    ctrl, rcs, pods = make()
    rcs.put(rc("web", {"app": "web"}))
    rcs.put(rc("other", {"app": "other"}))
    rcs.put(rc("empty", {}))
    for handler in pods.handlers:
        handler("add", pod("p", {"app": "web"}), None)
    assert "ns/web" in ctrl.queue
    assert "ns/other" not in ctrl.queue and "ns/empty" not in ctrl.queue


def test_owned_pod_counts_only_for_a_replicationcontroller_owner() -> None:
    ctrl, rcs, pods = make()
    web = rcs.put(rc("web", {"app": "web"}))
    ctrl.expectations.expect("ns/web", adds=1)
    rs_ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": "uid-web",
        "controller": True,
    }
    for handler in pods.handlers:
        handler("add", pod("p1", {"x": "y"}, rs_ref), None)
    assert "ns/web" not in ctrl.queue and not ctrl.expectations.satisfied("ns/web")
    rc_ref = {**rs_ref, "apiVersion": "v1", "kind": "ReplicationController", "uid": web["metadata"]["uid"]}
    for handler in pods.handlers:
        handler("add", pod("p2", {"x": "y"}, rc_ref), None)
    assert "ns/web" in ctrl.queue and ctrl.expectations.satisfied("ns/web")


def test_status_serialized_as_replication_controller_status() -> None:
    obj = rc("web", {"app": "web"})
    obj["spec"]["replicas"] = 0
    status = calculate_rs_status(obj, [], None, NOW)
    status["observedGeneration"] = 0
    # replicas has no omitempty; the other counters, observedGeneration and conditions do
    assert go_status(status, "", "ReplicationController") == {"replicas": 0}
    obj["spec"]["replicas"] = 1
    failed = go_status(calculate_rs_status(obj, [], RuntimeError("denied"), NOW), "", "ReplicationController")
    assert failed == {
        "replicas": 0,
        "conditions": [
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "reason": "FailedCreate",
                "message": "denied",
            }
        ],
    }
