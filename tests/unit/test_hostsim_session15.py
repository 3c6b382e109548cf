"""Session 15, pure parts: the container hash compares the spec's image string (restarts.py), the
SIGTERM / grace period model of a kill and the `stop-seconds` annotation (exitscript.py), the
`system:controller:*` bootstrap roles and bindings (rbac_policy.py) and the CLI default of the
terminated-pod GC threshold."""

from __future__ import annotations

from typing import Any

from tests.unit.test_hostsim_container_exits import T0, TIMING, pod
from tests.unit.test_hostsim_pod_updates import _plain_running, _set_image

from vcluster.apiserver.rbac_policy import bootstrap_objects
from vcluster.controllers.podgc import TERMINATED_POD_GC_THRESHOLD
from vcluster.hostsim.exitscript import STOP_SECONDS_ANNOTATION, Rule, parse
from vcluster.hostsim.podstatus import container_id
from vcluster.hostsim.restarts import (
    PodClock,
    Timing,
    advance,
    grace_period,
    image_changed,
    respec_pending,
    stop_after,
    stop_delay,
)


def _clock_for(p: dict[str, Any]) -> PodClock:
    uid = p["metadata"]["uid"]
    return PodClock(images={container_id(uid, c["name"]): c["image"] for c in p["spec"]["containers"]})


def test_the_hash_compares_image_strings_as_the_spec_gives_them() -> None:
    p = _plain_running(containers=[{"name": "app", "image": "nginx"}])
    same = _set_image(p, "docker.io/library/nginx:latest")
    clock = _clock_for(p)
    entry = same["status"]["containerStatuses"][0]
    assert image_changed(same["spec"]["containers"][0], entry, clock)
    assert respec_pending(same, clock)
    # without the started spec image (a container from before the simulator) only the normalised one
    assert not respec_pending(same)
    assert not respec_pending(p, clock)


def test_stop_seconds_annotation_and_rule() -> None:
    ann = {STOP_SECONDS_ANNOTATION: "2,side=1,app=x"}
    p = pod(annotations=ann, containers=[{"name": "app", "image": "i"}, {"name": "b", "image": "i"}])
    script = parse(p)
    assert script is not None and script.default_stop == 2.0 and script.stop_seconds == {}
    assert any('"app=x" is not a number of seconds' in m for m in script.problems)
    assert any('no container "side"' in m for m in script.problems)
    assert script.rule(p, "containers", p["spec"]["containers"][0], 10).stop_for == 2.0


def test_a_kill_ends_on_sigterm_or_at_the_capped_grace_period() -> None:
    assert stop_after(Rule(None, 0, "Always", 1.5), 30) == (1.5, 0, "Completed")
    assert stop_after(Rule(None, 0, "Always", 60), 30) == (30, 137, "Error")
    p = pod(terminationGracePeriodSeconds=5, containers=[{"name": "app", "image": "i"}])
    capped = Timing(1, 10, 300, grace_cap=2)
    assert grace_period(p, capped) == 2 and grace_period(p, TIMING) == 5
    assert grace_period(p, TIMING, 0) == 0  # a deletion's own grace period wins
    assert grace_period(pod(containers=[{"name": "a", "image": "i"}]), TIMING) == 30


def test_a_changed_container_keeps_running_until_its_process_exits() -> None:
    spec = {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    p = pod(annotations={STOP_SECONDS_ANNOTATION: "3"}, **spec)
    script = parse(p)
    assert script is not None
    clock = PodClock()
    out = advance(p, script, clock, TIMING, "h", "10.244.0.5", T0, T0)
    started = {**p, "status": out.status}
    changed = _set_image(started, "nginx:1.27")
    mid = advance(changed, script, clock, TIMING, "h", "10.244.0.5", T0, T0 + 1)
    cs = mid.status["containerStatuses"][0]
    assert mid.killed and cs["restartCount"] == 0 and "running" in cs["state"] and cs["ready"]
    assert mid.wake == T0 + 4
    later = {**changed, "status": mid.status}
    end = advance(later, script, clock, TIMING, "h", "10.244.0.5", T0, T0 + 5)
    cs = end.status["containerStatuses"][0]
    assert not end.killed and cs["restartCount"] == 1 and "running" in cs["state"]
    assert cs["lastState"]["terminated"]["exitCode"] == 0
    assert cs["state"]["running"]["startedAt"] == cs["lastState"]["terminated"]["finishedAt"]
    assert stop_delay(later, script, TIMING, 30) == 3 and stop_delay(later, script, TIMING, 1) == 1


def test_controller_roles_and_their_bindings() -> None:
    roles = {r["metadata"]["name"]: r for r in bootstrap_objects("clusterroles")}
    bindings = {b["metadata"]["name"]: b for b in bootstrap_objects("clusterrolebindings")}
    controllers = sorted(n for n in roles if n.startswith("system:controller:"))
    assert len(controllers) == 33 and len(roles) == 31 + 33
    for name in controllers:
        b = bindings[name]
        assert b["roleRef"]["name"] == name
        sa = name.removeprefix("system:controller:")
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "kube-system"}]
        assert roles[name]["metadata"]["annotations"] == {
            "rbac.authorization.kubernetes.io/autoupdate": "true"
        }
    ns = roles["system:controller:namespace-controller"]["rules"][-1]
    assert ns == {
        "apiGroups": ["*"],
        "resources": ["*"],
        "verbs": ["delete", "deletecollection", "get", "list", "watch"],
    }


def test_cli_default_threshold_is_the_pod_gc_default() -> None:
    from vcluster.cli.main import host

    opt = next(p for p in host.params if p.name == "terminated_pod_gc_threshold")
    assert opt.default == TERMINATED_POD_GC_THRESHOLD == 12500
