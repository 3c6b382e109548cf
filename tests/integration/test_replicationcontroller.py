"""The `replicationcontroller` controller (kube-controller-manager 1.32: the ReplicaSet controller run
on v1 ReplicationControllers) in a virtual cluster, driven with the real kubectl: pods created and
synced to the host, status and `kubectl get rc` columns, scaling, orphaning and adoption, cascading
deletion and the ReplicaFailure condition. One host + virtual cluster pair for the module; each test
works in its own virtual namespace."""

from __future__ import annotations

from typing import Any

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_name,
    items,
    name_of,
    pair_fixture,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()
SOURCE = "replication-controller"


def rc_manifest(name: str, namespace: str, replicas: int, *, service_account: str | None = None) -> str:
    """An RC whose selector is the plain label map `app: NAME` (= the template labels)."""
    sa = f"      serviceAccountName: {service_account}\n" if service_account else ""
    return (
        f"apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
        f"spec:\n  replicas: {replicas}\n  selector:\n    app: {name}\n  template:\n    metadata:\n"
        f"      labels:\n        app: {name}\n    spec:\n      terminationGracePeriodSeconds: 1\n{sa}"
        f"      containers:\n      - name: main\n        image: nginx\n"
    )


def live_pods(p: Pair, ns: str, app: str) -> list[dict[str, Any]]:
    """The RC's pods that are not being deleted."""
    pods = items(p.kv, "pods", "-n", ns, "-l", f"app={app}")
    return [x for x in pods if not x["metadata"].get("deletionTimestamp")]


def running_pods(p: Pair, ns: str, app: str, n: int) -> list[dict[str, Any]]:
    """Wait for exactly `n` live pods of `app`, all Running."""

    def check() -> list[dict[str, Any]] | None:
        pods = live_pods(p, ns, app)
        if len(pods) == n and all(x.get("status", {}).get("phase") == "Running" for x in pods):
            return pods
        return None

    return wait_until(check, 20, what=f"{n} running pods of {app}")


def controlled_pods(p: Pair, ns: str, app: str, uid: str | None) -> list[dict[str, Any]] | None:
    """The live pods of `app` if every one has `uid` as its only owner (None: has no owner)."""
    pods = live_pods(p, ns, app)
    want = [] if uid is None else [uid]
    ok = all([r["uid"] for r in x["metadata"].get("ownerReferences") or []] == want for x in pods)
    return pods if ok else None


def rc_status(p: Pair, ns: str, name: str, want: dict[str, Any]) -> dict[str, Any]:
    """Wait for the RC's status to be exactly `want` (Go omitempty: zero fields absent)."""
    return wait_until(
        lambda: (rc := get_json(p.kv, "rc", name, "-n", ns)) and rc.get("status") == want and rc,
        20,
        what=f"status {want}",
    )


def rc_events(p: Pair, ns: str, name: str, reason: str) -> list[dict[str, Any]]:
    evs = items(p.kv, "events", "-n", ns, "--field-selector", f"involvedObject.name={name},reason={reason}")
    return [e for e in evs if e["involvedObject"].get("kind") == "ReplicationController"]


def test_rc_creates_pods_synced_to_host_with_status_columns_and_events(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "rc-basic")
    assert "replicationcontroller/web created" in p.kv.create(rc_manifest("web", ns, 3))
    rc = get_json(p.kv, "rc", "web", "-n", ns)
    assert rc is not None
    pods = running_pods(p, ns, "web", 3)
    for pod in pods:
        assert name_of(pod).startswith("web-") and len(name_of(pod)) == len("web-") + 5
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "ReplicationController",
                "name": "web",
                "uid": rc["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    # like any pod, they run on the host under their translated names
    host_names = {name_of(x) for x in items(p.kh, "pods", "-n", HOST_NS)}
    assert {host_name(name_of(x), ns) for x in pods} <= host_names

    rc_status(
        p,
        ns,
        "web",
        {
            "replicas": 3,
            "fullyLabeledReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "observedGeneration": 1,
        },
    )
    out = p.kv("get", "rc", "web", "-n", ns).splitlines()
    assert out[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert out[1].split()[:4] == ["web", "3", "3", "3"]

    created = wait_until(lambda: len(r := rc_events(p, ns, "web", "SuccessfulCreate")) == 3 and r, 10)
    assert sorted(e["message"] for e in created) == sorted(f"Created pod: {name_of(x)}" for x in pods)
    for e in created:
        assert e["type"] == "Normal"
        assert e["source"]["component"] == SOURCE
        assert e["involvedObject"]["apiVersion"] == "v1"
        assert e["involvedObject"]["uid"] == rc["metadata"]["uid"]


def test_kubectl_scale_rc_down_up_and_to_zero(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "rc-scale")
    p.kv.create(rc_manifest("sc", ns, 3))
    before = {name_of(x) for x in running_pods(p, ns, "sc", 3)}

    assert "replicationcontroller/sc scaled" in p.kv("scale", "rc", "sc", "--replicas=1", "-n", ns)
    kept = running_pods(p, ns, "sc", 1)
    assert name_of(kept[0]) in before
    deleted = wait_until(lambda: len(r := rc_events(p, ns, "sc", "SuccessfulDelete")) == 2 and r, 10)
    assert {e["message"] for e in deleted} == {f"Deleted pod: {n}" for n in before - {name_of(kept[0])}}
    assert all(e["source"]["component"] == SOURCE for e in deleted)

    p.kv("scale", "rc", "sc", "--replicas=2", "-n", ns)
    running_pods(p, ns, "sc", 2)
    rc_status(
        p,
        ns,
        "sc",
        {
            "replicas": 2,
            "fullyLabeledReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "observedGeneration": 3,
        },
    )
    # scaled to zero: only `replicas` (no omitempty) and the generation are left
    p.kv("scale", "rc", "sc", "--replicas=0", "-n", ns)
    rc_status(p, ns, "sc", {"replicas": 0, "observedGeneration": 4})
    wait_until(lambda: not items(p.kv, "pods", "-n", ns), 20, what="no pods")


def test_orphan_then_adopt_then_cascading_delete(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "rc-orphan")
    p.kv.create(rc_manifest("orph", ns, 2))
    names = {name_of(x) for x in running_pods(p, ns, "orph", 2)}

    out = p.kv("delete", "rc", "orph", "--cascade=orphan", "-n", ns)
    assert 'replicationcontroller "orph" deleted' in out
    wait_until(lambda: get_json(p.kv, "rc", "orph", "-n", ns) is None, 10, what="rc gone")
    orphans = wait_until(lambda: controlled_pods(p, ns, "orph", None), 10, what="owner refs removed")
    assert {name_of(x) for x in orphans} == names

    # a new RC selecting them adopts both and creates nothing
    p.kv.create(rc_manifest("orph", ns, 2))
    rc = get_json(p.kv, "rc", "orph", "-n", ns)
    assert rc is not None
    uid = rc["metadata"]["uid"]
    adopted = wait_until(lambda: controlled_pods(p, ns, "orph", uid), 10, what="pods adopted")
    assert {name_of(x) for x in adopted} == names
    rc_status(
        p,
        ns,
        "orph",
        {
            "replicas": 2,
            "fullyLabeledReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "observedGeneration": 1,
        },
    )
    assert not [e for e in rc_events(p, ns, "orph", "SuccessfulCreate") if e["involvedObject"]["uid"] == uid]

    # the default (background) cascade: the garbage collector deletes the owned pods, here and on
    # the host
    p.kv("delete", "rc", "orph", "-n", ns)
    wait_until(lambda: not items(p.kv, "pods", "-n", ns), 20, what="pods collected")
    host_names = {host_name(n, ns) for n in names}
    wait_until(
        lambda: not host_names & {name_of(x) for x in items(p.kh, "pods", "-n", HOST_NS)},
        20,
        what="host pods gone",
    )


def test_replica_failure_condition_and_recovery(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "rc-fail")
    p.kv.create(rc_manifest("fl", ns, 2, service_account="builder"))

    def failure() -> dict[str, Any] | None:
        rc = get_json(p.kv, "rc", "fl", "-n", ns)
        conds = ((rc or {}).get("status") or {}).get("conditions") or []
        return conds[0] if conds else None

    cond = wait_until(failure, 20, what="ReplicaFailure condition")
    assert set(cond) == {"type", "status", "lastTransitionTime", "reason", "message"}
    assert (cond["type"], cond["status"], cond["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    denied = (
        'pods "fl-" is forbidden: error looking up service account rc-fail/builder: '
        'serviceaccount "builder" not found'
    )
    assert cond["message"] == denied
    rc = get_json(p.kv, "rc", "fl", "-n", ns)
    assert rc is not None
    assert rc["status"]["replicas"] == 0 and "readyReplicas" not in rc["status"]
    ev = wait_until(lambda: rc_events(p, ns, "fl", "FailedCreate"), 10)[0]
    assert ev["type"] == "Warning" and ev["source"]["component"] == SOURCE
    assert ev["message"] == f"Error creating: {denied}"

    # the account appears: the pods are created and the condition goes away
    p.kv("create", "serviceaccount", "builder", "-n", ns)
    running_pods(p, ns, "fl", 2)
    rc_status(
        p,
        ns,
        "fl",
        {
            "replicas": 2,
            "fullyLabeledReplicas": 2,
            "readyReplicas": 2,
            "availableReplicas": 2,
            "observedGeneration": 1,
        },
    )
