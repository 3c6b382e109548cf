"""Syncer conformance audit, spec §1-§3 (session 16), end to end: the pod security standard is
checked on the update path too (§3.9 c), so a privileged `kubectl debug` container added to a
running pod never reaches the host while the virtual pod's status keeps coming back."""

from __future__ import annotations

import time

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    events_for,
    get_json,
    host_name,
    labels,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture("policies:\n  podSecurityStandard: baseline\n")


def _ephemeral_names(pod: dict | None) -> list[str]:
    return [c["name"] for c in ((pod or {}).get("spec") or {}).get("ephemeralContainers") or []]


def test_privileged_debug_container_is_held_back_under_baseline(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "pss-update")
    p.kv.create(pod_manifest("app", ns, image="busybox"))
    wait_until(lambda: pod_running(p.kv, "app", ns), 30, what="pod Running")
    hname = host_name("app", ns)

    # a compliant debug container goes through (§3.12)
    p.kv("debug", "app", "-n", ns, "--image=busybox", "--target=main", "-c", "plain")
    wait_until(
        lambda: "plain" in _ephemeral_names(get_json(p.kh, "pod", hname, "-n", HOST_NS)),
        15,
        what="the compliant ephemeral container on the host pod",
    )

    # a privileged one violates baseline: event, and neither it nor later edits reach the host
    p.kv("debug", "app", "-n", ns, "--image=busybox", "--profile=sysadmin", "-c", "root")
    vpod = get_json(p.kv, "pod", "app", "-n", ns)
    assert "root" in _ephemeral_names(vpod)  # the virtual API server took it
    ev = wait_until(
        lambda: [e for e in events_for(p.kv, ns, "app") if "forbidden" in (e.get("message") or "")],
        15,
        what="a forbidden event on the virtual pod",
    )
    assert ev[0]["type"] == "Warning" and ev[0]["reason"] == "SyncError"
    assert ev[0]["message"].startswith('Pod app is forbidden: pods "app" is forbidden: violates PodSecurity')
    assert "privileged" in ev[0]["message"]
    p.kv("label", "pod", "app", "-n", ns, "after=debug")
    time.sleep(1.5)  # several reconciles of the pod (its events, the label) have run by now
    hpod = get_json(p.kh, "pod", hname, "-n", HOST_NS)
    assert hpod is not None
    assert _ephemeral_names(hpod) == ["plain"]
    assert "after" not in labels(hpod)

    # the host status still comes back (§3.10): the plain debug container's status reaches the
    # virtual pod, the held-back one never has any
    def statuses() -> set[str]:
        vpod = get_json(p.kv, "pod", "app", "-n", ns) or {}
        return {s["name"] for s in (vpod.get("status") or {}).get("ephemeralContainerStatuses") or []}

    wait_until(lambda: "plain" in statuses(), 20, what="the plain debug container's status")
    assert "root" not in statuses()
    assert pod_running(p.kv, "app", ns)

    # deletion still propagates (§3.9 a comes before the check)
    p.kv("delete", "pod", "app", "-n", ns, "--wait=false")
    wait_until(lambda: get_json(p.kh, "pod", hname, "-n", HOST_NS) is None, 20, what="host pod deleted")
