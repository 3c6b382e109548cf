"""Pod spec updates the simulated kubelet acts on like kubelet 1.32, seen with the real kubectl:
`kubectl set image` on a running pod restarts its container with the new image (Killing
"definition changed", a new container, RESTARTS 1, the killed one in lastState, `kubectl logs
--previous`), on the host and through a virtual cluster (whose syncer copies the new image to the
host pod and the restart back); a lowered activeDeadlineSeconds fails a running pod."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Kubectl
from tests.integration.syncer_harness import (
    HOST_NS,
    Pair,
    events_for,
    get_json,
    host_name,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(nodes=1)


def _status(k: Kubectl, name: str, ns: str) -> dict[str, Any]:
    pod = get_json(k, "pod", name, "-n", ns)
    assert pod is not None, f"pod {ns}/{name} is gone"
    return pod["status"]["containerStatuses"][0]


def _restarted(k: Kubectl, name: str, ns: str) -> dict[str, Any] | None:
    cs = _status(k, name, ns)
    return cs if cs["restartCount"] == 1 and "running" in cs["state"] else None


def _set_image_and_check(k: Kubectl, name: str, ns: str) -> dict[str, Any]:
    """Run a pod, `kubectl set image` it, check the restart as kubelet reports it; the new status."""
    wait_until(lambda: pod_running(k, name, ns), 20, what=f"pod {name} Running")
    before = _status(k, name, ns)
    assert before["image"] == "docker.io/library/nginx:1.25" and before["restartCount"] == 0
    k("set", "image", f"pod/{name}", "main=nginx:1.27", "-n", ns)
    cs = wait_until(lambda: _restarted(k, name, ns), 10, what=f"pod {name} restarted")
    assert cs["image"] == "docker.io/library/nginx:1.27"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert cs["imageID"] != before["imageID"] and cs["containerID"] != before["containerID"]
    term = cs["lastState"]["terminated"]
    assert term["containerID"] == before["containerID"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert term["startedAt"] == before["state"]["running"]["startedAt"]
    assert term["finishedAt"] == cs["state"]["running"]["startedAt"]
    assert cs["ready"] is True and cs["started"] is True
    table = k("get", "pod", name, "-n", ns, "--no-headers")
    assert table.split()[1:4] == ["1/1", "Running", "1"], table
    return cs


def _kubelet_events(k: Kubectl, ns: str, name: str) -> list[tuple[str, str]]:
    evs = [e for e in events_for(k, ns, name) if (e.get("source") or {}).get("component") == "kubelet"]
    evs.sort(key=lambda e: e.get("lastTimestamp") or "")
    return [(e["reason"], e["message"]) for e in evs]


def test_set_image_restarts_the_container_on_the_host(pair: Pair) -> None:
    ns = "updates"
    pair.kh.namespace(ns)
    wait_until(lambda: get_json(pair.kh, "serviceaccount", "default", "-n", ns), 10, what="default SA")
    pair.kh.create(pod_manifest("web", ns, image="nginx:1.25"))
    _set_image_and_check(pair.kh, "web", ns)
    events = _kubelet_events(pair.kh, ns, "web")
    assert ("Killing", "Container main definition changed, will be restarted") in events
    assert ("Pulled", 'Container image "nginx:1.27" already present on machine') in events
    created = next(e for e in events_for(pair.kh, ns, "web") if e["reason"] == "Created")
    assert created["count"] == 2 and created["message"] == "Created container: main"
    assert created["involvedObject"]["fieldPath"] == "spec.containers{main}"
    previous = pair.kh("logs", "web", "-n", ns, "--previous")
    assert "nginx/1." in previous and "ready for start up" in previous


def test_set_image_in_a_virtual_cluster_restarts_the_host_container(pair: Pair) -> None:
    """The syncer copies the new image to the host pod; its restart shows on the virtual pod."""
    ns = virtual_namespace(pair.kv, "vupdates")
    pair.kv.create(pod_manifest("web", ns, image="nginx:1.25"))
    cs = _set_image_and_check(pair.kv, "web", ns)
    host = _status(pair.kh, host_name("web", ns), HOST_NS)
    assert (host["containerID"], host["restartCount"]) == (cs["containerID"], 1)
    kill = "Container main definition changed, will be restarted"
    wait_until(lambda: ("Killing", kill) in _kubelet_events(pair.kv, ns, "web"), 10, what="Killing copied")
    assert "ready for start up" in pair.kv("logs", "web", "-n", ns, "--previous")


def test_lowered_active_deadline_fails_a_running_pod(pair: Pair) -> None:
    ns = virtual_namespace(pair.kv, "deadline")
    pair.kv.create(pod_manifest("slow", ns, spec_extra="  activeDeadlineSeconds: 3600\n"))
    wait_until(lambda: pod_running(pair.kv, "slow", ns), 20, what="pod Running")
    pair.kv("patch", "pod", "slow", "-n", ns, "-p", '{"spec":{"activeDeadlineSeconds":1}}')

    def failed() -> dict[str, Any] | None:
        pod = get_json(pair.kv, "pod", "slow", "-n", ns)
        return pod if pod and pod["status"].get("phase") == "Failed" else None

    pod = wait_until(failed, 10, what="pod Failed")
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert pod["status"]["message"] == "Pod was active on the node longer than the specified deadline"
