"""Session 17, task L: the job status strategy of 1.32's latest patch release (resume after a start,
kubernetes/kubernetes#134521 / #135128; suspended Job with completions=0, #132727), and the fields
1.32 drops for features off by default (dropDisabledFields)."""

from __future__ import annotations

import copy
from typing import Any

from vcluster.apiserver.dropdisabled import drop_disabled_fields
from vcluster.apiserver.validate_batch import validate_job_update_status

START = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


def _job(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "j", "namespace": "default"},
        "spec": {"template": {"spec": {}}, **(spec or {})},
        "status": status,
    }


def _suspended(status: str) -> list[dict[str, str]]:
    return [{"type": "Suspended", "status": status, "reason": "r", "message": "m"}]


def _messages(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate_job_update_status(new, old)]


def test_the_resume_write_may_move_start_time() -> None:
    old = _job(startTime=START, conditions=_suspended("True"))
    new = _job(startTime=LATER, conditions=_suspended("False"), active=1)
    assert _messages(new, old) == []


def test_start_time_stays_immutable_otherwise_for_an_unsuspended_job() -> None:
    moved = "status.startTime: Required value: startTime cannot be removed for unsuspended job"
    # no Suspended condition flipping to False: refused, as before the fix
    assert _messages(_job(startTime=LATER), _job(startTime=START)) == [moved]
    assert _messages(_job(), _job(startTime=START)) == [moved]
    # Suspended True -> absent is not a resume
    assert _messages(_job(startTime=LATER), _job(startTime=START, conditions=_suspended("True"))) == [moved]
    # already False before: nothing is being resumed
    old = _job(startTime=START, conditions=_suspended("False"))
    assert _messages(_job(startTime=LATER, conditions=_suspended("False")), old) == [moved]


def test_suspended_job_with_zero_completions_may_complete_without_start_time() -> None:
    spec = {"suspend": True, "completions": 0}
    conds = [
        {"type": "SuccessCriteriaMet", "status": "True", "reason": "r", "message": "m"},
        {"type": "Complete", "status": "True", "reason": "r", "message": "m"},
    ]
    assert _messages(_job(spec, completionTime=START, conditions=conds), _job(spec)) == []
    running = {"completions": 0}
    assert _messages(_job(running, completionTime=START, conditions=conds), _job(running)) == [
        "status.startTime: Required value: startTime is required for finished job"
    ]


# ---------------------------------------------------------------------------- dropDisabledFields


def _stateful_set(max_unavailable: Any = None) -> dict[str, Any]:
    rolling: dict[str, Any] = {"partition": 0}
    if max_unavailable is not None:
        rolling["maxUnavailable"] = max_unavailable
    return {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}


def test_stateful_set_max_unavailable_is_dropped_unless_already_set() -> None:
    new = _stateful_set(2)
    drop_disabled_fields("apps", "StatefulSet", new, None)
    assert new["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 0}
    new = _stateful_set(3)
    drop_disabled_fields("apps", "StatefulSet", new, _stateful_set(), "")
    assert "maxUnavailable" not in new["spec"]["updateStrategy"]["rollingUpdate"]
    new = _stateful_set("50%")
    drop_disabled_fields("apps", "StatefulSet", new, _stateful_set(2), "")
    assert new["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == "50%"


def _pod_spec() -> dict[str, Any]:
    return {
        "hostUsers": False,
        "resources": {"limits": {"cpu": "1"}},
        "securityContext": {"supplementalGroupsPolicy": "Strict", "seLinuxChangePolicy": "Recursive"},
        "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu"}],
        "volumes": [
            {"name": "img", "image": {"reference": "busybox"}},
            {"name": "cfg", "configMap": {"name": "c"}},
            {
                "name": "proj",
                "projected": {"sources": [{"clusterTrustBundle": {"name": "b", "path": "ca.pem"}}]},
            },
        ],
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "securityContext": {"procMount": "Unmasked"},
                "resources": {"claims": [{"name": "gpu"}], "limits": {"cpu": "1"}},
                "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                "volumeMounts": [{"name": "img", "mountPath": "/i"}, {"name": "cfg", "mountPath": "/c"}],
            }
        ],
        "initContainers": [
            {"name": "i", "image": "busybox", "volumeMounts": [{"name": "img", "mountPath": "/i"}]}
        ],
    }


def test_pod_spec_fields_of_disabled_features_are_dropped_on_create() -> None:
    pod = {"spec": _pod_spec()}
    drop_disabled_fields("", "Pod", pod, None)
    spec = pod["spec"]
    assert "hostUsers" not in spec and "resources" not in spec and "resourceClaims" not in spec
    assert spec["securityContext"] == {}
    assert [v["name"] for v in spec["volumes"]] == ["cfg", "proj"]
    assert spec["volumes"][1]["projected"]["sources"] == [{}]
    c = spec["containers"][0]
    assert c["securityContext"] == {"procMount": "Default"}
    assert c["resources"] == {"limits": {"cpu": "1"}}
    assert "resizePolicy" not in c
    assert c["volumeMounts"] == [{"name": "cfg", "mountPath": "/c"}]
    assert "volumeMounts" not in spec["initContainers"][0]


def test_pod_spec_fields_in_use_are_kept_on_update() -> None:
    old = {"spec": _pod_spec()}
    new = copy.deepcopy(old)
    drop_disabled_fields("", "Pod", new, old)
    assert new == old


def test_pod_templates_of_every_workload_kind_are_dropped() -> None:
    paths = {
        ("", "PodTemplate"): ("template",),
        ("", "ReplicationController"): ("spec", "template"),
        ("apps", "Deployment"): ("spec", "template"),
        ("apps", "ReplicaSet"): ("spec", "template"),
        ("apps", "DaemonSet"): ("spec", "template"),
        ("apps", "StatefulSet"): ("spec", "template"),
        ("batch", "Job"): ("spec", "template"),
        ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template"),
    }
    for (group, kind), path in paths.items():
        obj: dict[str, Any] = {}
        cur = obj
        for key in path:
            cur = cur.setdefault(key, {})
        cur["spec"] = {"hostUsers": False, "containers": [{"name": "c", "resizePolicy": []}]}
        drop_disabled_fields(group, kind, obj, None)
        assert cur["spec"] == {"containers": [{"name": "c"}]}, kind


def test_pod_status_fields_of_disabled_features_are_dropped() -> None:
    cs = {
        "name": "c",
        "ready": True,
        "allocatedResources": {"cpu": "1"},
        "resources": {"limits": {"cpu": "1"}},
        "allocatedResourcesStatus": [{"name": "x", "resources": []}],
        "user": {"linux": {"uid": 0, "gid": 0}},
    }
    old = {"spec": {"containers": [{"name": "c"}]}, "status": {}}
    new = {
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "resize": "InProgress",
            "resourceClaimStatuses": [{"name": "x"}],
            "containerStatuses": [cs],
        },
    }
    drop_disabled_fields("", "Pod", new, old, "status")
    assert new["status"] == {"containerStatuses": [{"name": "c", "ready": True}]}


def test_persistent_volume_attributes_class_is_dropped_unless_set() -> None:
    pv = {"spec": {"volumeAttributesClassName": "fast", "capacity": {"storage": "1Gi"}}}
    drop_disabled_fields("", "PersistentVolume", pv, None)
    assert pv["spec"] == {"capacity": {"storage": "1Gi"}}
    old = {"spec": {"volumeAttributesClassName": "fast"}}
    pv = {"spec": {"volumeAttributesClassName": "slow"}}
    drop_disabled_fields("", "PersistentVolume", pv, old)
    assert pv["spec"]["volumeAttributesClassName"] == "slow"
