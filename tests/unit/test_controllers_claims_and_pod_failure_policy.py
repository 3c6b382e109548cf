"""Pure helpers behind workload behaviours found by exploring a virtual cluster with kubectl."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.controllers.statefulset import claim_owner_refs, claim_owner_up_to_date

STS = {"metadata": {"name": "db", "uid": "set-uid"}}
POD = {"metadata": {"name": "db-2", "uid": "pod-uid"}}
SET_REF = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "name": "db",
    "uid": "set-uid",
    "controller": True,
    "blockOwnerDeletion": True,
}
POD_REF = {
    "apiVersion": "v1",
    "kind": "Pod",
    "name": "db-2",
    "uid": "pod-uid",
    "controller": True,
    "blockOwnerDeletion": True,
}


def _sts(when_scaled: str, when_deleted: str) -> dict[str, Any]:
    policy = {"whenScaled": when_scaled, "whenDeleted": when_deleted}
    return {**STS, "spec": {"persistentVolumeClaimRetentionPolicy": policy}}


def _claim(*refs: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "data-db-2", "ownerReferences": list(refs)}}


@pytest.mark.parametrize(
    ("scaled", "deleted", "in_range", "want"),
    [
        ("Retain", "Retain", True, []),
        ("Retain", "Retain", False, []),
        ("Retain", "Delete", True, [SET_REF]),
        ("Retain", "Delete", False, [SET_REF]),
        ("Delete", "Retain", True, []),
        ("Delete", "Retain", False, [POD_REF]),
        ("Delete", "Delete", True, [SET_REF]),
        ("Delete", "Delete", False, [POD_REF]),
    ],
)
def test_claim_owners_follow_the_retention_policy(
    scaled: str, deleted: str, in_range: bool, want: list[dict[str, Any]]
) -> None:
    """updateClaimOwnerRefForSetAndPod's table; whatever the claim had from the set and pod before."""
    sts = _sts(scaled, deleted)
    for before in ([], [SET_REF], [POD_REF], [SET_REF, POD_REF], [{**SET_REF, "controller": False}]):
        claim = _claim(*before)
        assert claim_owner_refs(claim, sts, POD, in_range) == want
        assert claim_owner_up_to_date(claim, sts, POD, in_range) == (before == want)
        assert claim_owner_up_to_date(_claim(*want), sts, POD, in_range)


def test_claim_with_another_controller_keeps_only_it() -> None:
    """hasUnexpectedController: the set's and pod's references go, nothing is added."""
    other = {"apiVersion": "example.com/v1", "kind": "Db", "name": "x", "uid": "x", "controller": True}
    sts = _sts("Delete", "Delete")
    assert claim_owner_up_to_date(_claim(other), sts, POD, True)
    assert not claim_owner_up_to_date(_claim(other, SET_REF), sts, POD, True)
    assert claim_owner_refs(_claim(other, SET_REF), sts, POD, True) == [other]
    # With a Retain policy another controller is nobody's business.
    assert claim_owner_up_to_date(_claim(other), _sts("Retain", "Retain"), POD, True)


def test_claim_of_an_earlier_set_of_the_same_name_is_left_alone() -> None:
    """hasStaleOwnerRef: a reference to a deleted set (same name, other UID) is the GC's."""
    stale = {**SET_REF, "uid": "old-set"}
    assert claim_owner_up_to_date(_claim(stale), _sts("Retain", "Delete"), POD, True)


def _failed_pod(exit_code: int, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    term = {"exitCode": exit_code, "reason": "Error"}
    return {
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {
            "phase": "Failed",
            "conditions": conditions or [],
            "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
            "containerStatuses": [{"name": "app", "state": {"terminated": term}}],
        },
    }


def test_pod_failure_policy_rules_match_as_upstream() -> None:
    """matchPodFailurePolicy: the first matching rule decides; exit code 0 never matches."""
    from vcluster.controllers.job import match_pod_failure_policy

    def policy(*rules: dict[str, Any]) -> dict[str, Any]:
        return {"rules": list(rules)}

    fail = {"action": "FailJob", "onExitCodes": {"containerName": "app", "operator": "In", "values": [3]}}
    ignore = {"action": "Ignore", "onExitCodes": {"operator": "NotIn", "values": [3, 4]}}
    count = {"action": "Count", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert match_pod_failure_policy(None, _failed_pod(3)) == (None, True, None)
    assert match_pod_failure_policy(policy(fail, ignore), _failed_pod(3)) == (
        "Container app for pod ns/p failed with exit code 3 matching FailJob rule at index 0",
        True,
        "FailJob",
    )
    assert match_pod_failure_policy(policy(fail, ignore), _failed_pod(5)) == (None, False, "Ignore")
    assert match_pod_failure_policy(policy(fail, ignore), _failed_pod(4)) == (None, True, None)
    disrupted = _failed_pod(4, [{"type": "DisruptionTarget", "status": "True"}])
    assert match_pod_failure_policy(policy(count), disrupted) == (None, True, "Count")
    fail_on_condition = {**count, "action": "FailJob"}
    assert match_pod_failure_policy(policy(ignore, fail_on_condition), disrupted) == (
        "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 1",
        True,
        "FailJob",
    )
