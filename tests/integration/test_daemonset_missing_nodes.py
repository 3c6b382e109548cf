"""Daemon pods of nodes that were deleted, as kube-controller-manager 1.32 handles them: the
DaemonSet controller deletes only the pods not bound yet (getUnscheduledPodsWithoutNode); a bound
pod is left to PodGC, which marks it Failed with DisruptionTarget (DeletionByPodGC) once the node
has been missing for its quarantine, then force-deletes it. Neither is replaced. The pods carry a
test finalizer so the test can look at who deleted them and how."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, wait_for
from tests.integration.test_controllers_workloads_sets import NODE, _bind, _pinned
from vcluster.client import Client

pytestmark = pytest.mark.integration

HOLD = "test.vcluster.loft.sh/hold"
QUARANTINE = 1.5

DS = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {{app: agent}}
  template:
    metadata:
      labels: {{app: agent}}
      finalizers: [{HOLD}]
    spec:
      nodeSelector: {{role: gone-soon}}
      containers:
      - name: agent
        image: busybox
"""


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    options = {"podgc": {"gc_check_period": 0.2, "quarantine_time": QUARANTINE}}
    h = Harness(module_server, {"daemonset", "podgc"}, options).start()
    try:
        yield h
    finally:
        h.stop()


def _deleted_by_daemonset(h: Harness, ns: str) -> set[str]:
    """The pods the DaemonSet controller reported deleting (SuccessfulDelete events)."""
    prefix = "Deleted pod: "
    return {
        e["message"][len(prefix) :]
        for e in h.events(ns)
        if e["reason"] == "SuccessfulDelete" and e["message"].startswith(prefix)
    }


def _release(h: Harness, ns: str, pods: list[dict[str, Any]]) -> None:
    async def go(c: Client) -> None:
        for p in pods:
            await c.patch("v1", "pods", p["metadata"]["name"], {"metadata": {"finalizers": None}}, ns)

    h.api(go)


def test_bound_pods_of_a_deleted_node_are_left_to_podgc(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "ds-missing-nodes", kubelet=False)
    for name in ("gone-1", "gone-2"):
        k.apply(NODE.format(name=name, labels="{role: gone-soon}", spec="{}"))
    k.apply(DS, "-n", ns)
    pods = wait_for(lambda: (p := h.pods(ns)) and len(p) == 2 and p, what="two daemon pods")
    by_node = {_pinned(p): p for p in pods}
    bound, unbound = by_node["gone-1"], by_node["gone-2"]
    _bind(h, bound, "gone-1")
    wait_for(lambda: h.get("v1", "pods", bound["metadata"]["name"], ns)["spec"].get("nodeName"))

    k("delete", "node", "gone-1", "gone-2")
    # the unbound pod can never be scheduled (nor collected by PodGC): the DaemonSet deletes it
    wait_for(
        lambda: unbound["metadata"]["name"] in _deleted_by_daemonset(h, ns),
        what="unbound pod deleted by the DS",
    )
    assert h.get("v1", "pods", unbound["metadata"]["name"], ns)["metadata"].get("deletionTimestamp")

    # the bound one: PodGC, after the quarantine, Failed + DisruptionTarget, then deleted
    def collected() -> dict[str, Any] | None:
        pod = h.get("v1", "pods", bound["metadata"]["name"], ns)
        return pod if pod["metadata"].get("deletionTimestamp") else None

    pod = wait_for(collected, timeout=QUARANTINE + 10, what="bound pod deleted by PodGC")
    assert pod["status"]["phase"] == "Failed"
    target = next(c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"]) == ("True", "DeletionByPodGC")
    assert target["message"] == "PodGC: node no longer exists"
    assert bound["metadata"]["name"] not in _deleted_by_daemonset(h, ns)

    _release(h, ns, pods)
    wait_for(lambda: not h.pods(ns), what="daemon pods gone")
    ds = wait_for(
        lambda: (
            (d := h.get("apps/v1", "daemonsets", "agent", ns))["status"].get("desiredNumberScheduled") == 0
            and d
        )
    )
    assert ds["status"].get("currentNumberScheduled", 0) == 0
    assert not h.pods(ns), "a daemon pod was created again for a deleted node"
