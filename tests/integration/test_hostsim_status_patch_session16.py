"""The simulated kubelet patches only what changed in a pod's status (kubelet's PatchPodStatus), on
a real `vcluster host` with the real kubectl: a condition that turns True loses the reason and
message it had while False, and a finished pod's conditions carry no message left from before."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import Kubectl, host_fixture, host_kubectl_fixture

pytestmark = pytest.mark.integration

host = host_fixture("--nodes", "1", "--run-seconds", "1.5")
k = host_kubectl_fixture()


def conditions(k: Kubectl, name: str) -> dict[str, dict[str, Any]]:
    pod = k.get_json("pod", name, "-n", "default")
    return {c["type"]: c for c in pod["status"].get("conditions") or []}


def wait_for(k: Kubectl, name: str, what: str, pred: Any, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        conds = conditions(k, name)
        if pred(conds):
            return conds
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {conds}"
        time.sleep(0.1)


def test_ready_after_the_probe_delay_drops_the_not_ready_reason(k: Kubectl) -> None:
    k.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: probed, namespace: default}\n"
        "spec:\n  containers:\n  - name: app\n    image: nginx\n"
        "    readinessProbe: {initialDelaySeconds: 1, exec: {command: ['true']}}\n"
    )
    unready = wait_for(
        k, "probed", "Running, not ready", lambda c: c.get("Initialized", {}).get("status") == "True"
    )
    assert unready["Ready"]["status"] == "False"
    assert unready["Ready"]["reason"] == "ContainersNotReady"
    assert unready["Ready"]["message"] == "containers with unready status: [app]"
    ready = wait_for(k, "probed", "Ready", lambda c: c.get("Ready", {}).get("status") == "True")
    for t in ("Ready", "ContainersReady"):
        assert ready[t]["status"] == "True"
        assert "reason" not in ready[t] and "message" not in ready[t], ready[t]
    assert ready["PodScheduled"]["status"] == "True"
    assert ready["Initialized"]["lastTransitionTime"] == unready["Initialized"]["lastTransitionTime"]


def test_a_finished_pod_has_the_completed_reasons_only(k: Kubectl) -> None:
    k.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: done, namespace: default}\n"
        "spec:\n  restartPolicy: Never\n  containers:\n  - name: app\n    image: nginx\n"
        "    readinessProbe: {initialDelaySeconds: 30, exec: {command: ['true']}}\n"
    )
    wait_for(k, "done", "Running", lambda c: c.get("Ready", {}).get("reason") == "ContainersNotReady")
    done = wait_for(k, "done", "Succeeded", lambda c: c.get("Ready", {}).get("reason") == "PodCompleted")
    assert k.get_json("pod", "done", "-n", "default")["status"]["phase"] == "Succeeded"
    for t in ("Ready", "ContainersReady"):
        assert done[t] == {
            "type": t,
            "status": "False",
            "lastProbeTime": None,  # a zero metav1.Time: Go encodes it as null
            "lastTransitionTime": done[t]["lastTransitionTime"],
            "reason": "PodCompleted",
        }
