"""Pure helpers of the workload controllers: hashing, rollout arithmetic, pod ranking, scheduling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vcluster.controllers import base, daemonset, deployment, job, replicaset, statefulset
from vcluster.controllers.manager import CONTROLLERS, load_controller_class, resolve_enabled

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    return base.fmt_time(NOW - timedelta(seconds=seconds_ago))


# --------------------------------------------------------------------------- base


def test_fnv_and_safe_encode_match_go() -> None:
    assert base.fnv32a(b"") == 0x811C9DC5
    assert base.fnv32a(b"a") == 0xE40C292C  # hash/fnv New32a
    assert base.fnv32(b"a") == 0x050C5D7E  # hash/fnv New32
    assert base.safe_encode_string("123") == "567"  # alphanums[b % 27]


def test_compute_hash_is_stable_and_template_sensitive() -> None:
    t1 = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    t2 = {"spec": {"containers": [{"image": "nginx", "name": "c"}]}, "metadata": {"labels": {"app": "web"}}}
    t3 = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    h = base.compute_hash(t1)
    assert h == base.compute_hash(t2)  # key order does not matter
    assert h != base.compute_hash(t3)
    assert base.compute_hash(t1, 0) != base.compute_hash(t1, 1)
    assert set(h) <= set(base.ALPHANUMS) and 1 <= len(h) <= 10
    assert len(base.rand_suffix()) == 5 and set(base.rand_suffix(50)) <= set(base.ALPHANUMS)


def test_set_condition_keeps_transition_time() -> None:
    st: dict[str, Any] = {}
    base.set_condition(st, {"type": "A", "status": "True", "reason": "x", "lastTransitionTime": "t1"})
    base.set_condition(
        st, {"type": "A", "status": "True", "reason": "x", "lastTransitionTime": "t2", "message": "m"}
    )
    assert st["conditions"] == [{"type": "A", "status": "True", "reason": "x", "lastTransitionTime": "t1"}]
    base.set_condition(st, {"type": "A", "status": "True", "reason": "y", "lastTransitionTime": "t3"})
    assert st["conditions"][0]["reason"] == "y" and st["conditions"][0]["lastTransitionTime"] == "t1"
    base.set_condition(st, {"type": "A", "status": "False", "reason": "y", "lastTransitionTime": "t4"})
    assert st["conditions"][0]["lastTransitionTime"] == "t4"
    base.remove_condition(st, "A")
    assert "conditions" not in st


def test_claims_adopt_release_and_ignore() -> None:
    owner = {"metadata": {"name": "rs", "uid": "u1"}}
    sel = {"matchLabels": {"app": "a"}}
    mine = {
        "metadata": {
            "name": "p1",
            "labels": {"app": "a"},
            "ownerReferences": [{"uid": "u1", "controller": True}],
        }
    }
    orphan = {"metadata": {"name": "p2", "labels": {"app": "a"}}}
    gone = {
        "metadata": {
            "name": "p3",
            "labels": {"app": "b"},
            "ownerReferences": [{"uid": "u1", "controller": True}],
        }
    }
    other = {
        "metadata": {
            "name": "p4",
            "labels": {"app": "a"},
            "ownerReferences": [{"uid": "u2", "controller": True}],
        }
    }
    stranger = {"metadata": {"name": "p5", "labels": {"app": "b"}}}
    keep, adopt, release = base.classify_claims(owner, sel, [mine, orphan, gone, other, stranger])
    assert (keep, adopt, release) == ([mine], [orphan], [gone])
    deleting = {"metadata": {**owner["metadata"], "deletionTimestamp": "x"}}
    assert base.classify_claims(deleting, sel, [orphan])[1] == []
    assert base.classify_claims(owner, None, [orphan]) == ([], [], [])  # nil selector selects nothing


def test_pod_availability() -> None:
    pod = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ts(5)}]}}
    assert base.pod_is_ready(pod)
    assert base.pod_is_available(pod, 0, NOW)
    assert base.pod_is_available(pod, 4, NOW)
    assert not base.pod_is_available(pod, 10, NOW)
    assert not base.pod_is_active({"status": {"phase": "Succeeded"}})
    assert not base.pod_is_active({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}})


def test_expectations() -> None:
    e = base.Expectations()
    assert e.satisfied("k")
    e.expect("k", adds=2)
    e.creation_observed("k")
    assert not e.satisfied("k")
    e.creation_observed("k")
    assert e.satisfied("k")
    e.expect_deletions("k", ["ns/a", "ns/b"])
    e.deletion_observed("k", "ns/a")
    e.deletion_observed("k", "ns/a")  # counted once
    e.deletion_observed("k", "ns/zzz")  # not expected: ignored
    assert not e.satisfied("k")
    e.deletion_observed("k", "ns/b")
    assert e.satisfied("k")
    short = base.Expectations(ttl=-1)
    short.expect("k", adds=5)
    assert short.satisfied("k")  # expired


def test_slow_start_batch_sizes() -> None:
    import asyncio

    calls: list[int] = []

    async def run(fail_at: int | None) -> tuple[int, BaseException | None]:
        n = 0

        async def fn() -> None:
            nonlocal n
            n += 1
            calls.append(n)
            if fail_at is not None and n >= fail_at:
                raise RuntimeError("quota")

        return await base.slow_start_batch(10, 1, fn)

    assert asyncio.run(run(None)) == (10, None)
    calls.clear()
    ok, err = asyncio.run(run(5))  # batches 1, 2, 4: the third batch (calls 4-7) fails from call 5
    assert ok == 4 and isinstance(err, RuntimeError) and len(calls) == 7


def test_pod_from_template() -> None:
    owner = {"metadata": {"name": "web-abc", "namespace": "ns", "uid": "u"}}
    tmpl = {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}}, "spec": {"containers": []}}
    ref = base.owner_reference(owner, "ReplicaSet", "apps/v1")
    pod = base.pod_from_template(tmpl, owner, ref)
    assert pod["metadata"] == {
        "generateName": "web-abc-",
        "namespace": "ns",
        "labels": {"a": "b"},
        "annotations": {"x": "y"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-abc",
                "uid": "u",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


# --------------------------------------------------------------------------- deployment


def dep(replicas: int = 10, surge: Any = "25%", unavail: Any = "25%", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "generation": 2},
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail},
            },
            **spec,
        },
        "status": {},
    }


def rs(
    name: str, replicas: int, available: int = 0, created: str = "2024-01-01T00:00:00Z", **ann: str
) -> dict:
    return {
        "metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": dict(ann)},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "availableReplicas": available, "readyReplicas": available},
    }


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [
        (3, 10, True, 3),
        ("25%", 3, True, 1),
        ("25%", 3, False, 0),
        ("33%", 10, True, 4),
        ("33%", 10, False, 3),
    ],
)
def test_scaled_value(value: Any, total: int, up: bool, expected: int) -> None:
    assert deployment.scaled_value(value, total, up) == expected


def test_scaled_value_invalid() -> None:
    with pytest.raises(ValueError, match="invalid value for IntOrString"):
        deployment.scaled_value("abc%", 10, True)


def test_fenceposts() -> None:
    assert deployment.resolve_fenceposts("25%", "25%", 4) == (1, 1)
    assert deployment.resolve_fenceposts(0, "10%", 5) == (0, 1)  # both 0 -> unavailable 1
    assert deployment.max_surge(dep(10)) == 3 and deployment.max_unavailable(dep(10)) == 2
    assert deployment.max_unavailable(dep(2, unavail=5)) == 2  # capped at replicas
    recreate = {"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}
    assert deployment.max_surge(recreate) == 0 and deployment.max_unavailable(recreate) == 0


def test_new_rs_new_replicas() -> None:
    d = dep(10)  # surge 3
    old, new = rs("old", 10), rs("new", 0)
    assert deployment.new_rs_new_replicas(d, [old, new], new) == 3
    new = rs("new", 3)
    assert deployment.new_rs_new_replicas(d, [old, new], new) == 3  # already at 13
    assert deployment.new_rs_new_replicas(d, [rs("old", 5), new], new) == 8
    assert (
        deployment.new_rs_new_replicas({"spec": {"replicas": 4, "strategy": {"type": "Recreate"}}}, [], new)
        == 4
    )


def test_find_new_rs_ignores_hash_label_and_prefers_oldest() -> None:
    tmpl = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    d = {"spec": {"template": tmpl}}
    a = rs("a", 1, created="2024-01-02T00:00:00Z")
    a["spec"]["template"] = {**tmpl, "metadata": {"labels": {"app": "a", "pod-template-hash": "h1"}}}
    b = rs("b", 1, created="2024-01-01T00:00:00Z")
    b["spec"]["template"] = {**tmpl, "metadata": {"labels": {"app": "a", "pod-template-hash": "h2"}}}
    c = rs("c", 1)
    c["spec"]["template"] = {
        "metadata": {"labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "y"}]},
    }
    assert deployment.find_new_rs(d, [a, b, c]) is b


def test_revision_annotations_and_history() -> None:
    d = {"metadata": {"annotations": {"kubernetes.io/change-cause": "x", deployment.LAST_APPLIED: "{}"}}}
    d["spec"] = {"replicas": 3, "strategy": {"type": "RollingUpdate"}}
    new: dict[str, Any] = {"metadata": {}}
    assert deployment.set_new_rs_annotations(d, new, "1", False)
    ann = new["metadata"]["annotations"]
    assert ann == {
        "kubernetes.io/change-cause": "x",
        deployment.REVISION: "1",
        deployment.DESIRED_REPLICAS: "3",
        deployment.MAX_REPLICAS: "3",  # no maxSurge set -> 0
    }
    # Rolling back to this ReplicaSet: revision moves on, the old one goes into the history.
    assert deployment.set_new_rs_annotations(d, new, "3", True)
    assert ann[deployment.REVISION] == "3" and ann[deployment.REVISION_HISTORY] == "1"
    assert deployment.set_new_rs_annotations(d, new, "5", True)
    assert ann[deployment.REVISION_HISTORY] == "1,3"
    assert not deployment.set_new_rs_annotations(d, new, "2", True)  # never goes backwards


def test_proportional_scaling_fraction() -> None:
    d = dep(15, surge=3)  # scaled from 10 (+3 surge = max-replicas 13) to 15 (+3 = 18)
    a = rs("a", 8, **{deployment.MAX_REPLICAS: "13"})
    assert deployment.get_proportion(a, d, 5, 0) == 3  # round(8 * 18 / 13) - 8 = 11 - 8
    assert deployment.get_proportion(a, d, 5, 4) == 1  # only 1 left to add
    down = dep(5, surge=3)  # 8 allowed: round(8 * 8 / 13) - 8 = -3, but only -2 may be removed
    assert deployment.get_proportion(a, down, -2, 0) == -2
    assert deployment.get_proportion(a, down, -10, 0) == -3
    assert deployment.round_half_away(2.5) == 3 and deployment.round_half_away(-2.5) == -3
    assert deployment.get_proportion(rs("z", 0), d, 5, 0) == 0
    zero = dep(0)
    assert deployment.get_proportion(a, zero, -8, 0) == -8


def test_sort_by_size() -> None:
    a = rs("a", 3, created="2024-01-01T00:00:00Z")
    b = rs("b", 3, created="2024-01-02T00:00:00Z")
    c = rs("c", 5, created="2024-01-03T00:00:00Z")
    assert [x["metadata"]["name"] for x in deployment.sort_by_size([a, b, c], newer_first=True)] == [
        "c",
        "b",
        "a",
    ]
    assert [x["metadata"]["name"] for x in deployment.sort_by_size([a, b, c], newer_first=False)] == [
        "c",
        "a",
        "b",
    ]


def test_complete_progressing_timed_out() -> None:
    d = dep(3, progressDeadlineSeconds=60)
    full = {"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3, "observedGeneration": 2}
    assert deployment.deployment_complete(d, full)
    assert not deployment.deployment_complete(d, {**full, "observedGeneration": 1})
    d["status"] = {"updatedReplicas": 1, "replicas": 4, "readyReplicas": 3, "availableReplicas": 3}
    assert deployment.deployment_progressing(d, {"updatedReplicas": 2, "replicas": 4})
    assert deployment.deployment_progressing(d, {"updatedReplicas": 1, "replicas": 3})  # fewer old replicas
    assert not deployment.deployment_progressing(d, dict(d["status"]))
    cond = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "lastUpdateTime": ts(61)}
    assert deployment.deployment_timed_out(d, {"conditions": [cond]}, NOW)
    assert not deployment.deployment_timed_out(d, {"conditions": [{**cond, "lastUpdateTime": ts(30)}]}, NOW)
    done = {**cond, "reason": "NewReplicaSetAvailable"}
    assert not deployment.deployment_timed_out(d, {"conditions": [done]}, NOW)
    assert not deployment.deployment_timed_out(
        dep(3, progressDeadlineSeconds=2**31 - 1), {"conditions": [cond]}, NOW
    )


def test_calculate_status_available_condition() -> None:
    d = dep(4)  # maxUnavailable 1 -> needs 3 available
    st = deployment.calculate_status([rs("a", 4, available=3)], None, d, NOW)
    assert st["availableReplicas"] == 3 and st["unavailableReplicas"] == 1 and st["observedGeneration"] == 2
    avail = st["conditions"][0]
    assert (avail["type"], avail["status"], avail["reason"]) == (
        "Available",
        "True",
        "MinimumReplicasAvailable",
    )
    st = deployment.calculate_status([rs("a", 4, available=2)], None, d, NOW)
    assert st["conditions"][0]["reason"] == "MinimumReplicasUnavailable"
    assert st["conditions"][0]["message"] == "Deployment does not have minimum availability."


def test_find_active_or_latest_and_saturated() -> None:
    a, b = rs("a", 0, created="2024-01-01T00:00:00Z"), rs("b", 0, created="2024-01-02T00:00:00Z")
    assert deployment.find_active_or_latest(None, [a, b]) is b
    c = rs("c", 2)
    assert deployment.find_active_or_latest(None, [a, c]) is c
    assert deployment.find_active_or_latest(rs("n", 1), [c]) is None
    d = dep(3)
    full = rs("n", 3, available=3, **{deployment.DESIRED_REPLICAS: "3"})
    assert deployment.is_saturated(d, full)
    assert not deployment.is_saturated(d, rs("n", 3, available=2, **{deployment.DESIRED_REPLICAS: "3"}))


# --------------------------------------------------------------------------- replicaset


def pod(name: str, **kw: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "metadata": {"name": name, "uid": name, "creationTimestamp": kw.get("created", ts(100))},
        "spec": {"nodeName": kw.get("node", "n1")},
        "status": {"phase": kw.get("phase", "Running"), "conditions": []},
    }
    if kw.get("ready", True):
        p["status"]["conditions"].append(
            {"type": "Ready", "status": "True", "lastTransitionTime": kw.get("ready_at", ts(50))}
        )
    if "cost" in kw:
        p["metadata"]["annotations"] = {replicaset.POD_DELETION_COST: str(kw["cost"])}
    if "restarts" in kw:
        p["status"]["containerStatuses"] = [{"restartCount": kw["restarts"]}]
    return p


def test_pods_to_delete_preference() -> None:
    pods = [
        pod("ready-old", ready_at=ts(1000)),
        pod("unscheduled", node="", phase="Pending", ready=False),
        pod("pending", phase="Pending", ready=False),
        pod("notready", ready=False),
        pod("ready-new", ready_at=ts(2)),
        pod("cheap", ready_at=ts(1000), cost=-10),
        pod("crashy", ready_at=ts(1000), restarts=5),
    ]
    order = [p["metadata"]["name"] for p in replicaset.pods_to_delete(pods, pods, 6, NOW)]
    assert order[:5] == ["unscheduled", "pending", "notready", "cheap", "ready-new"]
    assert order[5] == "crashy"
    assert len(replicaset.pods_to_delete(pods, pods, 100, NOW)) == len(pods)


def test_rs_status_and_failure_condition() -> None:
    rset = {
        "metadata": {"generation": 3},
        "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "a", "extra": "1"}}}},
        "status": {},
    }
    p1 = pod("p1")
    p1["metadata"]["labels"] = {"app": "a", "extra": "1"}
    p2 = pod("p2", ready=False)
    p2["metadata"]["labels"] = {"app": "a"}
    st = replicaset.calculate_rs_status(rset, [p1, p2], RuntimeError("boom"), NOW)
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"], st["availableReplicas"]) == (
        2,
        1,
        1,
        1,
    )
    cond = st["conditions"][0]
    assert (cond["type"], cond["reason"], cond["message"]) == ("ReplicaFailure", "FailedCreate", "boom")
    rset["status"] = st
    assert "conditions" not in replicaset.calculate_rs_status(rset, [p1, p2], None, NOW)


# --------------------------------------------------------------------------- statefulset


def test_statefulset_helpers() -> None:
    assert statefulset.ordinal_of("web", {"metadata": {"name": "web-12"}}) == 12
    assert statefulset.ordinal_of("web", {"metadata": {"name": "web-a"}}) is None
    assert statefulset.ordinal_of("web", {"metadata": {"name": "webx-1"}}) is None
    sts = {
        "metadata": {"name": "db", "namespace": "ns", "uid": "u"},
        "spec": {"serviceName": "db", "volumeClaimTemplates": [{"metadata": {"name": "data"}}]},
    }
    tmpl = {"metadata": {"labels": {"app": "db"}}, "spec": {"volumes": [{"name": "data", "emptyDir": {}}]}}
    p = statefulset.new_sts_pod(sts, tmpl, 2, "db-abc")
    assert p["metadata"]["name"] == "db-2"
    assert p["metadata"]["labels"] == {
        "app": "db",
        statefulset.POD_NAME_LABEL: "db-2",
        statefulset.POD_INDEX_LABEL: "2",
        statefulset.REVISION_LABEL: "db-abc",
    }
    assert p["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-2"}}]
    assert (p["spec"]["hostname"], p["spec"]["subdomain"]) == ("db-2", "db")
    data = statefulset.revision_data(tmpl)
    assert data["spec"]["template"]["$patch"] == "replace"
    h = statefulset.hash_revision(data, None)
    assert h == statefulset.hash_revision(statefulset.revision_data(tmpl), None)
    assert h != statefulset.hash_revision(data, 1)
    assert statefulset.revision_name("x" * 300, "h") == "x" * 223 + "-h"


# --------------------------------------------------------------------------- daemonset


def node(name: str, labels: dict | None = None, taints: list | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def test_daemonset_node_predicates() -> None:
    spec = {"nodeSelector": {"role": "w"}}
    assert daemonset.node_should_run(node("a", {"role": "w"}), spec) == (True, True)
    assert daemonset.node_should_run(node("b", {"role": "x"}), spec) == (False, False)
    noschedule = [{"key": "gpu", "value": "1", "effect": "NoSchedule"}]
    assert daemonset.node_should_run(node("c", {"role": "w"}, noschedule), spec) == (False, True)
    noexec = [{"key": "gpu", "value": "1", "effect": "NoExecute"}]
    assert daemonset.node_should_run(node("c", {"role": "w"}, noexec), spec) == (False, False)
    tolerated = {**spec, "tolerations": [{"key": "gpu", "operator": "Equal", "value": "1"}]}
    assert daemonset.node_should_run(node("c", {"role": "w"}, noschedule), tolerated) == (True, True)
    # Automatically tolerated taints.
    cordoned = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    assert daemonset.node_should_run(node("d", {"role": "w"}, cordoned), spec) == (True, True)
    assert daemonset.node_should_run(
        node("p", {"role": "w"}, [{"key": "x", "effect": "PreferNoSchedule"}]), spec
    )[0]
    aff = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}
                    ]
                }
            }
        }
    }
    assert daemonset.node_should_run(node("e", {"zone": "z1"}), aff)[0]
    assert not daemonset.node_should_run(node("f", {"zone": "z2"}), aff)[0]


def test_daemonset_pinning() -> None:
    aff = daemonset.pin_to_node(None, "n1")
    assert aff == {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}
                ]
            }
        }
    }
    assert daemonset.target_node({"spec": {"affinity": aff}}) == "n1"
    assert daemonset.target_node({"spec": {"nodeName": "n2", "affinity": aff}}) == "n2"
    tols = daemonset.daemon_tolerations({"hostNetwork": True})
    keys = {(t["key"], t["effect"]) for t in tols}
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in keys and len(tols) == 7


# --------------------------------------------------------------------------- job


def test_job_helpers() -> None:
    assert job.format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6,7"  # orderedIntervals.String()
    assert job.parse_indexes("0-2,4,6-7", 7) == {0, 1, 2, 4, 6}
    st: dict[str, Any] = {}
    assert not job.ensure_condition(st, job.new_job_condition("Suspended", "False", "r", "m", NOW))
    assert job.ensure_condition(st, job.new_job_condition("Complete", "True", "r", "m", NOW))
    assert not job.ensure_condition(st, job.new_job_condition("Complete", "True", "r", "m", NOW))
    j = {"status": st}
    assert job.is_finished(j) == (True, "Complete")
    assert job.pod_failed({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}})
    assert not job.pod_failed({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Succeeded"}})


# --------------------------------------------------------------------------- manager


def test_manager_enabled_resolution_and_missing_modules(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_enabled(None) == list(CONTROLLERS)
    assert resolve_enabled({"job", "deployment"}) == ["deployment", "job"]
    assert "cronjob" not in resolve_enabled({"*", "-cronjob"})
    assert load_controller_class("deployment") is deployment.DeploymentController
    CONTROLLERS["bogus"] = ("does_not_exist_yet", "X")
    try:
        assert load_controller_class("bogus") is None
        assert "does not exist" in caplog.text
    finally:
        del CONTROLLERS["bogus"]
