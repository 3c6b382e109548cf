"""Scripted container exits of the simulated kubelet: the annotations, kubelet's restart decisions,
its container backoff (CrashLoopBackOff), getPhase and the pod conditions."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.exitscript import EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION, Rule, parse
from vcluster.hostsim.podstatus import finished_status, rfc3339
from vcluster.hostsim.restarts import Outcome, PodClock, Timing, advance, go_duration, stopped

T0 = 1_700_000_000.0
TIMING = Timing(run_seconds=10.0, backoff_initial=10.0, backoff_max=300.0)


def pod(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "app", "image": "busybox"}])
    md = {"name": "p", "namespace": "ns", "uid": "u1", "annotations": annotations or {}}
    return {"metadata": md, "spec": spec, "status": {"phase": "Pending"}}


def scripted(code: str | None = None, run: str | None = None, **spec: Any) -> dict[str, Any]:
    ann = {EXIT_CODE_ANNOTATION: code, RUN_SECONDS_ANNOTATION: run}
    return pod({k: v for k, v in ann.items() if v is not None}, **spec)


class Sim:
    """Drives `advance` over a pod as the kubelet does (each outcome becomes the pod's status)."""

    def __init__(self, p: dict[str, Any], timing: Timing = TIMING) -> None:
        script = parse(p)
        assert script is not None
        self.pod, self.script, self.clock, self.timing = p, script, PodClock(), timing

    def at(self, seconds: float) -> Outcome:
        out = advance(self.pod, self.script, self.clock, self.timing, "h", "10.244.0.5", T0, T0 + seconds)
        self.pod = {**self.pod, "status": out.status}
        return out

    def container(self, field: str = "containerStatuses", i: int = 0) -> dict[str, Any]:
        return self.pod["status"][field][i]

    def conditions(self) -> dict[str, dict[str, Any]]:
        return {c["type"]: c for c in self.pod["status"]["conditions"]}


# ---------------------------------------------------------------------------- annotations
def test_no_annotation_is_not_scripted() -> None:
    assert parse(pod()) is None
    assert parse(pod({"other": "1"})) is None


def test_annotation_values_defaults_and_named_entries() -> None:
    p = scripted("1, init=3", "app=0.5", initContainers=[{"name": "init", "image": "x"}])
    s = parse(p)
    assert s is not None and s.problems == ()
    assert s.rule(p, "containers", {"name": "app"}, 10) == Rule(0.5, 1, "Always")
    assert s.rule(p, "initContainers", {"name": "init"}, 10) == Rule(0.0, 3, "OnFailure")


def test_invalid_entries_are_reported_and_ignored() -> None:
    s = parse(scripted("x,256,ap=1,app=2", "-1,app=nan"))
    assert s is not None
    assert s.exit_codes == {"app": 2} and s.default_exit is None and s.run_seconds == {}
    assert s.problems == (
        f'annotation {EXIT_CODE_ANNOTATION}: "x" is not an exit code (an integer from 0 to 255); ignored',
        f'annotation {EXIT_CODE_ANNOTATION}: "256" is not an exit code (an integer from 0 to 255); ignored',
        f'annotation {EXIT_CODE_ANNOTATION}: "ap=1": the pod has no container "ap"; ignored',
        f'annotation {RUN_SECONDS_ANNOTATION}: "-1" is not a number of seconds (0 or more); ignored',
        f'annotation {RUN_SECONDS_ANNOTATION}: "app=nan" is not a number of seconds (0 or more); ignored',
    )


def test_rules_of_unscripted_containers_keep_the_default_behaviour() -> None:
    """A container the annotations do not name runs as without them: forever under Always (and a
    sidecar), `run_seconds` then exit 0 otherwise; an init container completes at once."""
    always = scripted("app=1", containers=[{"name": "app"}, {"name": "web"}])
    s = parse(always)
    assert s is not None
    assert s.rule(always, "containers", {"name": "web"}, 10) == Rule(None, 0, "Always")
    assert s.rule(always, "containers", {"name": "app"}, 10) == Rule(10, 1, "Always")
    sidecar = {"name": "side", "restartPolicy": "Always"}
    assert s.rule(always, "initContainers", sidecar, 10) == Rule(None, 0, "Always")
    never = scripted("app=1", restartPolicy="Never", containers=[{"name": "app"}, {"name": "web"}])
    assert s.rule(never, "containers", {"name": "web"}, 10) == Rule(10, 0, "Never")
    assert s.rule(never, "initContainers", {"name": "i"}, 10) == Rule(0.0, 0, "Never")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(10, "10s"), (20, "20s"), (80, "1m20s"), (160, "2m40s"), (300, "5m0s"), (0.5, "500ms"), (1.5, "1.5s")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_backoff_config_is_validated() -> None:
    with pytest.raises(ValueError, match="--restart-backoff-max 5 is less than --restart-backoff 10"):
        HostSimConfig(restart_backoff=10, restart_backoff_max=5).validate()
    with pytest.raises(ValueError, match="restart_backoff must be positive"):
        HostSimConfig(restart_backoff=0).validate()


# ---------------------------------------------------------------------------- restarts and backoff
def test_crash_loop_restarts_at_once_then_backs_off_doubling_to_the_max() -> None:
    sim = Sim(scripted("1", "2"))
    out = sim.at(0)
    assert (
        out.started
        and out.wake == T0 + 2
        and sim.container()["state"] == {"running": {"startedAt": rfc3339(T0)}}
    )
    first_id = sim.container()["containerID"]
    sim.at(2)  # the first exit restarts at once
    c = sim.container()
    assert c["restartCount"] == 1 and c["state"] == {"running": {"startedAt": rfc3339(T0 + 2)}}
    assert c["lastState"]["terminated"] == {
        "containerID": first_id,
        "exitCode": 1,
        "finishedAt": rfc3339(T0 + 2),
        "reason": "Error",
        "startedAt": rfc3339(T0),
    }
    assert c["containerID"] != first_id
    out = sim.at(4)  # the second one waits 10 s
    c = sim.container()
    assert c["restartCount"] == 1 and not c["ready"] and not c["started"]
    assert c["state"] == {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": "back-off 10s restarting failed container=app pod=p_ns(u1)",
        }
    }
    assert c["lastState"]["terminated"]["finishedAt"] == rfc3339(T0 + 4)
    assert out.backoffs == [("containers", "app")] and out.wake == T0 + 14 and not out.started
    assert sim.pod["status"]["phase"] == "Running"
    conds = sim.conditions()
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "ContainersNotReady")
    assert conds["ContainersReady"]["message"] == "containers with unready status: [app]"
    assert sim.at(10).backoffs == []  # still waiting: no new event
    sim.at(14)
    assert sim.container()["restartCount"] == 2 and "running" in sim.container()["state"]
    assert sim.conditions()["Ready"]["status"] == "True"
    sim.at(16)
    assert sim.container()["state"]["waiting"]["message"].startswith("back-off 20s ")
    # a late sync catches up at the times the transitions were due
    sim.at(16 + 20 + 2 + 40 + 2 + 80 + 1)
    c = sim.container()
    assert c["restartCount"] == 5 and c["state"] == {
        "running": {"startedAt": rfc3339(T0 + 16 + 20 + 2 + 40 + 2 + 80)}
    }
    sim.at(1000)
    assert sim.container()["state"]["waiting"]["message"].startswith("back-off 5m0s ")  # the cap


def test_backoff_caps_at_the_max_and_resets_after_running_twice_the_max() -> None:
    sim = Sim(scripted("1", "0"), Timing(10, 1, 4))
    sim.at(0)
    sim.at(100)  # waits of 1, 2, 4, 4, ... s
    assert sim.container()["state"]["waiting"]["message"].startswith("back-off 4s ")
    long = Sim(scripted("1", "9"), Timing(10, 1, 4))  # runs longer than twice the max: no backoff
    for t in (0, 9, 18, 27):
        long.at(t)
        assert "running" in long.container()["state"] and long.container()["restartCount"] == t // 9


@pytest.mark.parametrize(
    ("policy", "code", "phase", "restarts"),
    [
        ("OnFailure", "0", "Succeeded", 0),
        ("OnFailure", "1", "Running", 1),
        ("Never", "1", "Failed", 0),
        ("Never", "0", "Succeeded", 0),
        ("Always", "0", "Running", 1),
    ],
)
def test_restart_policy_decides_what_restarts(policy: str, code: str, phase: str, restarts: int) -> None:
    sim = Sim(scripted(code, "1", restartPolicy=policy))
    sim.at(0)
    out = sim.at(1)
    c = sim.container()
    assert (sim.pod["status"]["phase"], c["restartCount"], out.terminal) == (
        phase,
        restarts,
        phase in ("Succeeded", "Failed"),
    )
    if restarts:
        assert c["lastState"]["terminated"]["reason"] == ("Completed" if code == "0" else "Error")
    if out.terminal:
        assert c["state"]["terminated"]["exitCode"] == int(code) and out.wake is None
        conds = sim.conditions()
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        assert conds["Ready"]["reason"] == conds["ContainersReady"]["reason"] == reason
        assert conds["PodReadyToStartContainers"]["status"] == "False"


def test_never_pod_with_one_failed_container_runs_until_the_other_ends() -> None:
    sim = Sim(
        scripted("fail=2", "fail=1", restartPolicy="Never", containers=[{"name": "fail"}, {"name": "ok"}])
    )
    sim.at(0)
    assert sim.at(1).wake == T0 + 10 and sim.pod["status"]["phase"] == "Running"
    assert sim.at(10).terminal and sim.pod["status"]["phase"] == "Failed"


# ---------------------------------------------------------------------------- init containers
def init_pod(policy: str, code: str = "init=2", run: str | None = None) -> dict[str, Any]:
    return scripted(code, run, restartPolicy=policy, initContainers=[{"name": "init", "image": "busybox"}])


def test_failing_init_container_fails_a_never_pod() -> None:
    sim = Sim(init_pod("Never"))
    out = sim.at(0)
    assert out.terminal and sim.pod["status"]["phase"] == "Failed"
    init = sim.container("initContainerStatuses")
    assert init["state"]["terminated"]["exitCode"] == 2 and init["state"]["terminated"]["reason"] == "Error"
    assert sim.container()["state"] == {"waiting": {"reason": "PodInitializing"}}
    conds = sim.conditions()
    assert (conds["Initialized"]["status"], conds["Initialized"]["message"]) == (
        "False",
        "containers with incomplete status: [init]",
    )


def test_failing_init_container_is_retried_with_backoff_and_the_pod_stays_pending() -> None:
    sim = Sim(init_pod("Always"))
    out = sim.at(0)  # exits at once: retried at once, exits again, backs off
    init = sim.container("initContainerStatuses")
    assert init["restartCount"] == 1 and init["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert out.backoffs == [("initContainers", "init")] and out.wake == T0 + 10
    assert sim.pod["status"]["phase"] == "Pending" and not out.terminal
    assert sim.container()["state"] == {"waiting": {"reason": "PodInitializing"}}
    sim.at(10)
    assert sim.container("initContainerStatuses")["restartCount"] == 2


def test_init_containers_run_in_order_then_the_containers_start() -> None:
    p = scripted(
        None,
        "a=2,b=3",
        initContainers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x"}],
    )
    sim = Sim(p)
    out = sim.at(0)
    assert [c["name"] for _, c in out.started] == ["a"] and sim.pod["status"]["phase"] == "Pending"
    assert sim.container("initContainerStatuses", 1)["state"] == {"waiting": {"reason": "PodInitializing"}}
    out = sim.at(2.5)
    assert [c["name"] for _, c in out.started] == ["b"]
    assert sim.container("initContainerStatuses", 1)["state"]["running"]["startedAt"] == rfc3339(T0 + 2)
    out = sim.at(6)
    assert [c["name"] for _, c in out.started] == ["app"] and sim.pod["status"]["phase"] == "Running"
    assert sim.container()["state"] == {"running": {"startedAt": rfc3339(T0 + 5)}}
    assert sim.conditions()["Initialized"]["status"] == "True"


def test_stopped_keeps_restart_counts_and_takes_the_phase_from_the_last_exits() -> None:
    sim = Sim(scripted("1", "1"))
    sim.at(0)
    sim.at(1)
    sim.at(2.5)  # in backoff after two exits
    st = stopped(sim.pod, sim.script, sim.clock, TIMING, "h", "10.244.0.5", T0 + 3)
    c = st["containerStatuses"][0]
    assert st["phase"] == "Failed" and c["restartCount"] == 1
    assert c["state"]["terminated"]["exitCode"] == 1
    killed = stopped(sim.pod, sim.script, sim.clock, TIMING, "h", None, T0 + 3, exit_code=137, reason="Error")
    assert killed["phase"] == "Failed"


def test_a_pod_killed_at_its_deadline_is_not_ready_because_it_failed() -> None:
    """generate.go: a Failed pod's Ready/ContainersReady reason is PodFailed (PodCompleted is for
    Succeeded ones), and Initialized stays True without a reason."""
    p = pod()
    done = finished_status(p, "h", "10.244.0.5", T0, T0 + 3, T0 + 3, exit_code=137, reason="Error")
    conds = {c["type"]: c for c in done["conditions"]}
    assert done["phase"] == "Failed"
    assert conds["Ready"]["reason"] == conds["ContainersReady"]["reason"] == "PodFailed"
    assert conds["Initialized"]["status"] == "True" and "reason" not in conds["Initialized"]
