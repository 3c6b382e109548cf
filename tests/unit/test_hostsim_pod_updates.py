"""Pod spec updates the simulated kubelet acts on (pure part, restarts.py): a running container or
sidecar whose image changed is killed and started again (kuberuntime computePodActions /
computeInitContainerActions with containerChanged), a crash-looping one starts at once with its
new image (the backoff key holds the container hash), a completed init container is left alone."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.test_hostsim_container_exits import T0, TIMING, Sim, pod, scripted

from vcluster.hostsim.exitscript import Script
from vcluster.hostsim.kubelet import parse_script
from vcluster.hostsim.kubeletserver import LogRequestError, log_source
from vcluster.hostsim.podstatus import image_id, rfc3339, running_status
from vcluster.hostsim.restarts import PodClock, advance, has_restarted, respec_pending


def _set_image(p: dict[str, Any], image: str, kind: str = "containers", i: int = 0) -> dict[str, Any]:
    """The pod with `spec.<kind>[i].image` changed, as `kubectl set image` does."""
    spec = {**p["spec"], kind: [dict(c) for c in p["spec"][kind]]}
    spec[kind][i]["image"] = image
    return {**p, "spec": spec}


def _plain_running(**spec: Any) -> dict[str, Any]:
    """A pod without annotations as the plain path started it at T0."""
    p = pod(**spec)
    return {**p, "status": running_status(p, "h", "10.244.0.5", T0, True, T0)}


def test_plain_pod_takes_the_restart_path_once_its_image_changes() -> None:
    p = _plain_running(containers=[{"name": "app", "image": "nginx:1.25"}])
    assert parse_script(p) is None and not respec_pending(p)
    changed = _set_image(p, "nginx:1.27")
    assert respec_pending(changed) and parse_script(changed) == Script()


def test_changed_image_kills_and_restarts_the_running_container() -> None:
    p = _plain_running(
        containers=[{"name": "app", "image": "nginx:1.25"}, {"name": "side", "image": "redis"}]
    )
    old = p["status"]["containerStatuses"][0]
    out = advance(_set_image(p, "nginx:1.27"), Script(), PodClock(), TIMING, "h", "10.244.0.5", T0, T0 + 30)
    assert out.killed == [("containers", "app", "Container app definition changed, will be restarted")]
    assert [(k, c["name"]) for k, c in out.started] == [("containers", "app")]
    app, side = out.status["containerStatuses"]
    assert app["restartCount"] == 1 and app["containerID"] != old["containerID"]
    assert app["image"] == "docker.io/library/nginx:1.27" and app["imageID"] == image_id("nginx:1.27")
    assert app["state"] == {"running": {"startedAt": rfc3339(T0 + 30)}} and app["ready"] is True
    assert app["lastState"] == {
        "terminated": {
            "containerID": old["containerID"],
            "exitCode": 0,
            "finishedAt": rfc3339(T0 + 30),
            "reason": "Completed",
            "startedAt": rfc3339(T0),
        }
    }
    assert side == {**p["status"]["containerStatuses"][1]}  # untouched
    assert out.status["phase"] == "Running"
    assert has_restarted({**p, "status": out.status})


def test_restart_for_a_spec_change_ignores_restart_policy_never() -> None:
    """The kubelet restarts a changed container regardless of the pod's restart policy."""
    sim = Sim(scripted("0", "100", restartPolicy="Never"))
    sim.at(1)
    sim.pod = _set_image(sim.pod, "busybox:1.37")
    out = sim.at(5)
    assert out.killed and sim.container()["restartCount"] == 1
    assert "running" in sim.container()["state"] and sim.pod["status"]["phase"] == "Running"


def test_readiness_delay_applies_to_the_new_container() -> None:
    probe = {"readinessProbe": {"initialDelaySeconds": 5}}
    sim = Sim(scripted(run="1000", containers=[{"name": "app", "image": "a:1", **probe}]))
    sim.at(6)
    assert sim.container()["ready"] is True
    sim.pod = _set_image(sim.pod, "a:2")
    out = sim.at(10)
    assert sim.container()["ready"] is False and out.wake == T0 + 15
    assert sim.conditions()["Ready"]["status"] == "False"
    sim.at(15)
    assert sim.container()["ready"] is True


def test_crash_looping_container_starts_at_once_with_a_new_image() -> None:
    sim = Sim(scripted("1", "1"))
    sim.at(1)  # exits, restarted at once
    sim.at(2.5)  # exits again: CrashLoopBackOff for 10 s
    waiting = sim.container()
    assert waiting["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    sim.pod = _set_image(sim.pod, "busybox:1.37")
    out = sim.at(3)
    assert not out.killed  # nothing was running
    e = sim.container()
    assert "running" in e["state"] and e["restartCount"] == waiting["restartCount"] + 1
    assert e["image"] == "docker.io/library/busybox:1.37"
    assert e["state"]["running"]["startedAt"] == rfc3339(T0 + 3)


def test_crash_loop_entry_keeps_the_image_of_the_container_that_exited() -> None:
    sim = Sim(scripted("1", "1"))
    sim.at(1)
    sim.at(2.5)
    assert sim.container()["image"] == "docker.io/library/busybox:latest"


def test_changed_sidecar_is_restarted_completed_init_container_is_not() -> None:
    inits = [
        {"name": "setup", "image": "busybox:1"},
        {"name": "proxy", "image": "envoy:1", "restartPolicy": "Always"},
    ]
    sim = Sim(scripted(run="app=1000", initContainers=inits))
    sim.at(1)
    before = [dict(e) for e in sim.pod["status"]["initContainerStatuses"]]
    sim.pod = _set_image(
        _set_image(sim.pod, "busybox:2", "initContainers", 0), "envoy:2", "initContainers", 1
    )
    out = sim.at(2)
    assert out.killed == [("initContainers", "proxy", "Init container proxy definition changed")]
    setup, proxy = sim.pod["status"]["initContainerStatuses"]
    assert setup["containerID"] == before[0]["containerID"] and setup["restartCount"] == 0
    assert proxy["restartCount"] == 1 and proxy["image"] == "docker.io/library/envoy:2"
    assert sim.container()["restartCount"] == 0  # the app container keeps running


def test_logs_of_the_restarted_container_and_of_the_previous_one() -> None:
    """`kubectl logs` reads the new container from its own start, `--previous` the killed one."""
    p = _plain_running(containers=[{"name": "app", "image": "nginx:1.25"}])
    out = advance(_set_image(p, "nginx:1.27"), Script(), PodClock(), TIMING, "h", "10.244.0.5", T0, T0 + 30)
    restarted = {**_set_image(p, "nginx:1.27"), "status": out.status}
    now = log_source(restarted, "app", previous=False, interval=1, started=T0 + 0.25)
    assert now.started == T0 + 30 and now.finished is None and now.image == "nginx:1.27"
    before = log_source(restarted, "app", previous=True, interval=1, started=T0 + 0.25)
    assert (before.started, before.finished) == (T0 + 0.25, T0 + 30)
    with pytest.raises(LogRequestError) as e:
        log_source(p, "app", previous=True, interval=1)
    assert e.value.message == 'previous terminated container "app" in pod "p" not found'
