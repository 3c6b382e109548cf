"""The controllers' statuses as Go's encoding/json writes them: `go_status` drops the zero values of
`omitempty` fields, checked against the Go struct tags of the kubectl 1.32 binary."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.apiserver import protobuf as pb
from vcluster.controllers.base import OMITEMPTY_STATUS, go_status

# (group, kind) -> the protobuf message of its status (k8s.io/api 1.32)
_MESSAGES = {
    ("apps", "Deployment"): "k8s.io.api.apps.v1.DeploymentStatus",
    ("apps", "ReplicaSet"): "k8s.io.api.apps.v1.ReplicaSetStatus",
    ("", "ReplicationController"): "k8s.io.api.core.v1.ReplicationControllerStatus",
    ("apps", "StatefulSet"): "k8s.io.api.apps.v1.StatefulSetStatus",
    ("apps", "DaemonSet"): "k8s.io.api.apps.v1.DaemonSetStatus",
    ("batch", "Job"): "k8s.io.api.batch.v1.JobStatus",
    ("batch", "CronJob"): "k8s.io.api.batch.v1.CronJobStatus",
    ("autoscaling", "HorizontalPodAutoscaler"): "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
    ("policy", "PodDisruptionBudget"): "k8s.io.api.policy.v1.PodDisruptionBudgetStatus",
    ("", "ResourceQuota"): "k8s.io.api.core.v1.ResourceQuotaStatus",
    ("", "Namespace"): "k8s.io.api.core.v1.NamespaceStatus",
}
# omitempty fields held by pointer in types.go: nil is dropped, a pointed-to zero is written
_POINTERS = {
    ("apps", "Deployment"): {"collisionCount"},
    ("apps", "StatefulSet"): {"collisionCount"},
    ("apps", "DaemonSet"): {"collisionCount"},
    ("batch", "Job"): {
        "startTime",
        "completionTime",
        "terminating",
        "failedIndexes",
        "uncountedTerminatedPods",
        "ready",
    },
    ("batch", "CronJob"): {"lastScheduleTime", "lastSuccessfulTime"},
    ("autoscaling", "HorizontalPodAutoscaler"): {"observedGeneration", "lastScaleTime"},
}


@pytest.fixture(scope="module")
def go_tags() -> dict[str, dict[str, list[Any]]]:
    codec = pb._codec()
    assert codec is not None, "kubectl 1.32 is needed to read the Go struct tags"
    return codec._tags


@pytest.mark.parametrize("gk", sorted(_MESSAGES))
def test_omitempty_table_matches_the_go_tags(gk: tuple[str, str], go_tags: dict[str, Any]) -> None:
    tags = go_tags[_MESSAGES[gk]]
    omitempty = {name for name, omit in tags.values() if omit}
    assert gk in OMITEMPTY_STATUS
    assert OMITEMPTY_STATUS[gk] == omitempty - _POINTERS.get(gk, set())


def test_deployment_counters_at_zero_are_dropped() -> None:
    status = {
        "observedGeneration": 1,
        "replicas": 0,
        "updatedReplicas": 0,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "unavailableReplicas": 0,
        "collisionCount": 0,
    }
    assert go_status(status, "apps", "Deployment") == {"observedGeneration": 1, "collisionCount": 0}


def test_replica_set_keeps_replicas() -> None:
    status = {"replicas": 0, "fullyLabeledReplicas": 0, "readyReplicas": 0, "availableReplicas": 0}
    assert go_status(status, "apps", "ReplicaSet") == {"replicas": 0}
    assert go_status(dict(status), "", "ReplicationController") == {"replicas": 0}


def test_job_keeps_pointer_zeros() -> None:
    status = {
        "active": 0,
        "succeeded": 1,
        "failed": 0,
        "ready": 0,
        "terminating": 0,
        "completedIndexes": "",
        "uncountedTerminatedPods": {},
        "conditions": [],
    }
    assert go_status(status, "batch", "Job") == {
        "succeeded": 1,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    }


def test_statefulset_and_pdb_keep_fields_without_omitempty() -> None:
    sts = {
        "replicas": 0,
        "availableReplicas": 0,
        "readyReplicas": 0,
        "currentRevision": "r",
        "collisionCount": 0,
    }
    assert go_status(sts, "apps", "StatefulSet") == {
        "replicas": 0,
        "availableReplicas": 0,
        "currentRevision": "r",
        "collisionCount": 0,
    }
    cond = {"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": ""}
    pdb = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    assert go_status({**pdb, "conditions": [dict(cond)]}, "policy", "PodDisruptionBudget") == {
        **pdb,
        "conditions": [cond],  # metav1.Condition: message has no omitempty
    }


def test_empty_condition_reason_and_message_are_dropped() -> None:
    cond = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "",
        "message": "",
        "lastTransitionTime": "t",
    }
    st = go_status({"replicas": 1, "conditions": [cond]}, "apps", "ReplicaSet")
    assert st["conditions"] == [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "t"}]


def test_kinds_without_a_table_are_unchanged() -> None:
    assert go_status({"replicas": 0}, "example.com", "Widget") == {"replicas": 0}
