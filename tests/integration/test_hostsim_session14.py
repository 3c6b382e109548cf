"""PodGC (kube-controller-manager 1.32 pkg/controller/podgc), which the simulated host (`vcluster
host`) and virtual clusters run among their controllers: orphaned pods, terminated pods beyond the
threshold, terminating pods that were never scheduled or whose node is out of service. Runs the
controller with short periods against an API server; pods keep a test finalizer where the test
looks at what PodGC wrote before the deletion went through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, wait_for
from vcluster.client import ApiError, Client

pytestmark = pytest.mark.integration

HOLD = "test.vcluster.loft.sh/hold"
QUARANTINE = 1.0


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    options = {
        "podgc": {"gc_check_period": 0.2, "quarantine_time": QUARANTINE, "terminated_pod_gc_threshold": 0}
    }
    h = Harness(module_server, {"podgc"}, options).start()
    try:
        yield h
    finally:
        h.stop()


def _pod(name: str, node: str | None = None, *, hold: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    md: dict[str, Any] = {"name": name}
    if hold:
        md["finalizers"] = [HOLD]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}


def _create(h: Harness, ns: str, pod: dict[str, Any], status: dict[str, Any] | None = None) -> dict:
    async def go(c: Client) -> dict:
        created = await c.create("v1", "pods", pod, ns)
        if status is None:
            return created
        return await c.patch(
            "v1", "pods", pod["metadata"]["name"], {"status": status}, ns, subresource="status"
        )

    return h.api(go)


def _get(h: Harness, ns: str, name: str) -> dict | None:
    async def go(c: Client) -> dict | None:
        try:
            return await c.get("v1", "pods", name, ns)
        except ApiError as e:
            if e.not_found:
                return None
            raise

    return h.api(go)


def _release(h: Harness, ns: str, name: str) -> None:
    """Drop the test finalizer and end the pod's deletion (no kubelet here)."""

    async def go(c: Client) -> None:
        await c.patch("v1", "pods", name, {"metadata": {"finalizers": None}}, ns)
        try:
            await c.delete("v1", "pods", name, ns, grace_period_seconds=0)
        except ApiError as e:
            if not e.not_found:
                raise

    h.api(go)
    wait_for(lambda: _get(h, ns, name) is None, what=f"pod {name} gone")


def _node(h: Harness, name: str, *, ready: bool = True, taints: list[dict] | None = None) -> None:
    async def go(c: Client) -> None:
        await c.create("v1", "nodes", {"metadata": {"name": name}, "spec": {"taints": taints or []}})
        cond = {"type": "Ready", "status": "True" if ready else "False", "reason": "Test"}
        await c.patch("v1", "nodes", name, {"status": {"conditions": [cond]}}, subresource="status")

    h.api(go)


RUNNING = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}


def test_orphaned_pod_is_failed_with_disruption_target_then_deleted(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    h = harness
    ns = _ns(module_kubectl, h, "podgc-orphan", kubelet=False)
    _create(h, ns, _pod("orphan", "ghost-node"), RUNNING)
    pod = wait_for(lambda: (p := _get(h, ns, "orphan")) and p["metadata"].get("deletionTimestamp") and p)
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 0
    st = pod["status"]
    assert st["phase"] == "Failed"
    cond = next(c for c in st["conditions"] if c["type"] == "DisruptionTarget")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True",
        "DeletionByPodGC",
        "PodGC: node no longer exists",
    )
    assert cond.get("lastTransitionTime")
    _release(h, ns, "orphan")


def test_node_appearing_within_the_quarantine_saves_its_pods(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    h = harness
    ns = _ns(module_kubectl, h, "podgc-late-node", kubelet=False)
    _create(h, ns, _pod("early", "late-node", hold=False), RUNNING)
    _node(h, "late-node")
    # past the quarantine and a few passes: still there, untouched
    time.sleep(QUARANTINE + 1.0)
    pod = _get(h, ns, "early")
    assert pod is not None and not pod["metadata"].get("deletionTimestamp")
    assert pod["status"]["phase"] == "Running"
    h.api(lambda c: c.delete("v1", "nodes", "late-node"))


def test_unscheduled_terminating_pod_is_failed_and_deleted(harness: Harness, module_kubectl: Kubectl) -> None:
    h = harness
    ns = _ns(module_kubectl, h, "podgc-unscheduled", kubelet=False)
    _create(h, ns, _pod("pending"))
    h.api(lambda c: c.delete("v1", "pods", "pending", ns))
    pod = wait_for(lambda: (p := _get(h, ns, "pending")) and p["status"].get("phase") == "Failed" and p)
    assert pod["metadata"]["deletionTimestamp"]
    assert not [c for c in pod["status"].get("conditions") or [] if c["type"] == "DisruptionTarget"]
    _release(h, ns, "pending")


def test_terminating_pod_on_out_of_service_node_is_deleted(harness: Harness, module_kubectl: Kubectl) -> None:
    h = harness
    ns = _ns(module_kubectl, h, "podgc-oos", kubelet=False)
    taint = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
    _node(h, "oos-node", ready=False, taints=[taint])
    _node(h, "tainted-ready", ready=True, taints=[taint])
    _create(h, ns, _pod("gone", "oos-node"), RUNNING)
    _create(h, ns, _pod("kept", "tainted-ready"), RUNNING)
    for name in ("gone", "kept"):
        h.api(lambda c, name=name: c.delete("v1", "pods", name, ns, grace_period_seconds=30))
    pod = wait_for(
        lambda: (p := _get(h, ns, "gone")) and p["metadata"].get("deletionGracePeriodSeconds") == 0 and p
    )
    assert pod["status"]["phase"] == "Failed"
    kept = _get(h, ns, "kept")
    assert kept is not None and kept["metadata"]["deletionGracePeriodSeconds"] == 30
    assert kept["status"]["phase"] == "Running"
    for name in ("gone", "kept"):
        _release(h, ns, name)
    for node in ("oos-node", "tainted-ready"):
        h.api(lambda c, node=node: c.delete("v1", "nodes", node))


def test_terminated_pods_beyond_the_threshold_go_evicted_then_oldest_first(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    h = harness
    ns = _ns(module_kubectl, h, "podgc-threshold", kubelet=False)
    for name in ("a0", "a1", "a2"):
        _create(h, ns, _pod(name, "node-1", hold=False), {"phase": "Succeeded"})
    _create(h, ns, _pod("z-evicted", "node-1", hold=False), {"phase": "Failed", "reason": "Evicted"})
    _create(h, ns, _pod("running", "node-1", hold=False), RUNNING)
    assert h.manager is not None
    h.manager.controllers["podgc"].threshold = 2
    try:
        wait_for(lambda: len(h.pods(ns)) == 3, what="two pods collected")
    finally:
        h.manager.controllers["podgc"].threshold = 0
    assert sorted(p["metadata"]["name"] for p in h.pods(ns)) == ["a1", "a2", "running"]
