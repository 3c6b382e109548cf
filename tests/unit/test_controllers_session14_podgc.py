"""PodGC's pure parts (pkg/controller/podgc 1.32): what counts as terminated, the deletion order,
the out-of-service check."""

from __future__ import annotations

from typing import Any

from vcluster.controllers.podgc import is_pod_terminated, out_of_service, terminated_to_delete


def _pod(name: str, phase: str, created: str, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase} if phase else {}
    if reason:
        status["reason"] = reason
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def test_terminated_means_not_pending_running_or_unknown() -> None:
    assert [is_pod_terminated(_pod("p", ph, "")) for ph in ("Pending", "Running", "Unknown")] == [False] * 3
    assert is_pod_terminated(_pod("p", "Succeeded", "")) and is_pod_terminated(_pod("p", "Failed", ""))
    assert is_pod_terminated(_pod("p", "", ""))  # no phase at all counts, as upstream


def test_terminated_beyond_threshold_evicted_first_then_oldest_then_name() -> None:
    pods = [
        _pod("b", "Succeeded", "2025-01-01T00:00:01Z"),
        _pod("a", "Succeeded", "2025-01-01T00:00:01Z"),
        _pod("old", "Failed", "2025-01-01T00:00:00Z"),
        _pod("ev", "Failed", "2025-01-01T00:00:09Z", reason="Evicted"),
        _pod("run", "Running", "2024-01-01T00:00:00Z"),
    ]
    assert [p["metadata"]["name"] for p in terminated_to_delete(pods, 1)] == ["ev", "old", "a"]
    assert terminated_to_delete(pods, 4) == []
    assert terminated_to_delete(pods, 0) == []  # 0 turns it off


def test_out_of_service_needs_not_ready_and_the_taint() -> None:
    taint = [{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]
    not_ready = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    assert out_of_service({**not_ready, "spec": {"taints": taint}})
    assert not out_of_service({**ready, "spec": {"taints": taint}})
    assert not out_of_service(not_ready)
    assert out_of_service({"spec": {"taints": taint}})  # no Ready condition: not ready
