"""The simulated kubelet closer to kubelet 1.32, on a real `vcluster host` with the real kubectl:
a container's hash is its name and its image string as the spec gives it (`nginx` ->
`docker.io/library/nginx:latest` restarts it), a container killed for a spec change or a pod
deletion goes through the grace period (running and ready until its process exits on SIGTERM, after
`hostsim.vcluster.loft.sh/stop-seconds`, or is killed with 137 when the grace period ends first),
and `vcluster host --terminated-pod-gc-threshold` reaches the pod GC."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kubectl, Server, host_fixture, host_kubectl_fixture

host = host_fixture("--nodes", "1", "--run-seconds", "0.2", "--terminated-pod-gc-threshold", "2")
k = host_kubectl_fixture()

STOP = "hostsim.vcluster.loft.sh/stop-seconds"


def wait_until(pred: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def pod_yaml(name: str, image: str, *, annotations: dict[str, str] | None = None, extra: str = "") -> str:
    ann = "".join(f"\n    {key}: {json.dumps(v)}" for key, v in (annotations or {}).items())
    ann_block = f"\n  annotations:{ann}" if ann else ""
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}{ann_block}\nspec:\n{extra}"
        f"  containers:\n  - name: main\n    image: {image}\n"
    )


def get_pod(k: Kubectl, ns: str, name: str) -> dict[str, Any] | None:
    p = k.run("get", "pod", name, "-n", ns, "-o", "json", check=False)
    return json.loads(p.stdout) if p.returncode == 0 else None


def status(k: Kubectl, ns: str, name: str) -> dict[str, Any]:
    pod = get_pod(k, ns, name)
    assert pod is not None, f"{ns}/{name} is gone"
    return pod["status"]["containerStatuses"][0]


def running(k: Kubectl, ns: str, name: str, restarts: int = 0) -> dict[str, Any] | None:
    cs = status(k, ns, name)
    ok = cs["restartCount"] == restarts and "running" in cs["state"] and cs["ready"]
    return cs if ok else None


def killing(k: Kubectl, ns: str, name: str) -> list[str]:
    items = k.get_json("events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [e["message"] for e in items if e["reason"] == "Killing"]


def run_pod(k: Kubectl, ns: str, name: str, image: str, **kw: Any) -> dict[str, Any]:
    k("apply", "-n", ns, "-f", "-", input=pod_yaml(name, image, **kw))
    return wait_until(lambda: get_pod(k, ns, name) and running(k, ns, name), what=f"{name} running")


def test_an_image_string_change_restarts_even_when_it_names_the_same_image(k: Kubectl) -> None:
    k("create", "namespace", "hs15-hash")
    before = run_pod(k, "hs15-hash", "web", "nginx")
    assert before["image"] == "docker.io/library/nginx:latest"
    k("set", "image", "pod/web", "main=docker.io/library/nginx:latest", "-n", "hs15-hash")
    cs = wait_until(lambda: running(k, "hs15-hash", "web", 1), what="restart")
    assert cs["image"] == "docker.io/library/nginx:latest" and cs["containerID"] != before["containerID"]
    assert cs["lastState"]["terminated"]["exitCode"] == 0
    assert killing(k, "hs15-hash", "web") == ["Container main definition changed, will be restarted"]


def test_a_spec_change_kill_waits_for_the_process_to_exit_on_sigterm(k: Kubectl) -> None:
    ns = "hs15-term"
    k("create", "namespace", ns)
    before = run_pod(k, ns, "slow", "nginx:1.25", annotations={STOP: "main=1.5"})
    t0 = time.monotonic()
    k("set", "image", "pod/slow", "main=nginx:1.27", "-n", ns)
    wait_until(lambda: killing(k, ns, "slow"), what="Killing")
    # SIGTERM sent, the process has not exited yet: still the old container, running and ready
    cs = status(k, ns, "slow")
    if time.monotonic() - t0 < 1.2:
        assert cs["restartCount"] == 0 and cs["ready"] and cs["containerID"] == before["containerID"]
    cs = wait_until(lambda: running(k, ns, "slow", 1), what="restart")
    assert time.monotonic() - t0 >= 1.4
    last = cs["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (0, "Completed") and cs["image"].endswith("nginx:1.27")


def test_a_process_outliving_the_grace_period_is_killed_with_137(k: Kubectl) -> None:
    ns = "hs15-kill"
    k("create", "namespace", ns)
    run_pod(
        k,
        ns,
        "stubborn",
        "nginx:1.25",
        annotations={STOP: "60"},
        extra="  terminationGracePeriodSeconds: 1\n",
    )
    t0 = time.monotonic()
    k("set", "image", "pod/stubborn", "main=nginx:1.27", "-n", ns)
    cs = wait_until(lambda: running(k, ns, "stubborn", 1), what="restart")
    assert 0.9 <= time.monotonic() - t0 < 10
    last = cs["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "Error")


def test_a_deleted_pod_runs_until_its_process_exits_on_sigterm(k: Kubectl) -> None:
    ns = "hs15-del"
    k("create", "namespace", ns)
    run_pod(k, ns, "quick", "nginx")
    run_pod(k, ns, "slow", "nginx", annotations={STOP: "1.5"})
    t0 = time.monotonic()
    k("delete", "pod", "quick", "slow", "-n", ns, "--wait=false")
    wait_until(lambda: get_pod(k, ns, "quick") is None, 5, "quick gone")
    slow = get_pod(k, ns, "slow")
    if time.monotonic() - t0 < 1.2:  # still terminating, its container running and ready
        assert slow is not None and slow["metadata"]["deletionTimestamp"]
        assert slow["status"]["containerStatuses"][0]["ready"] is True
    wait_until(lambda: get_pod(k, ns, "slow") is None, 10, "slow gone")
    assert time.monotonic() - t0 >= 1.4


def test_terminated_pod_gc_threshold_flag_reaches_the_pod_gc(k: Kubectl, host: Server) -> None:
    ns = "hs15-gc"
    k("create", "namespace", ns)
    for i in range(4):
        k(
            "apply",
            "-n",
            ns,
            "-f",
            "-",
            input=pod_yaml(f"done-{i}", "busybox", extra="  restartPolicy: Never\n"),
        )
        time.sleep(0.05)  # distinct creation order

    def phases() -> list[str]:
        return [p["status"].get("phase", "") for p in k.get_json("pods", "-n", ns)["items"]]

    wait_until(lambda: phases() == ["Succeeded"] * 4, what="pods Succeeded")
    host.stop()
    host.start(timeout=40)  # the pod GC's first pass runs once its informers have synced

    def names() -> list[str]:
        return sorted(p["metadata"]["name"] for p in k.get_json("pods", "-n", ns)["items"])

    wait_until(lambda: len(names()) == 2, what="the pods over the threshold deleted")
    assert names() == ["done-2", "done-3"]  # the oldest first (the name breaks creation-time ties)


@pytest.mark.parametrize(
    ("value", "message"),
    [("many", "'many' is not a valid integer"), ("4294967296", "is not in the range")],
)
def test_a_bad_threshold_is_refused_naming_the_flag(tmp_path: Path, value: str, message: str) -> None:
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "vcluster",
            "host",
            "--data-dir",
            str(tmp_path / "d"),
            *("--terminated-pod-gc-threshold", value),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 2
    assert "Invalid value for '--terminated-pod-gc-threshold'" in p.stderr and message in p.stderr
    assert not (tmp_path / "d").exists()
