"""Unit checks of the session-14 API server fixes: Authorization header parsing as kube's bearertoken
authenticator, and the job status strategy's validation rules (1.32, JobManagedBy on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vcluster.apiserver.auth import ANONYMOUS, Authenticator, bearer_token
from vcluster.apiserver.validate_batch import validate_job_update_status


# ---------------------------------------------------------------------------- authentication
@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Bearer ", None),
        ("Bearer", None),
        ("  Bearer  ", None),
        ("Bearer  tok", None),  # Go's strings.Split: the token is the empty part between the spaces
        ("Basic YWRtaW46YWRtaW4=", None),
        ("tok", None),
        ("Bearer\ttok", None),  # split on spaces only
        ("Bearer tok", "tok"),
        ("bearer tok", "tok"),
        ("BEARER tok", "tok"),
        ("Bearer tok extra words", "tok"),
        ("  Bearer tok  ", "tok"),
    ],
)
def test_bearer_token_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_ignored_headers_authenticate_as_anonymous_and_unknown_tokens_fail(tmp_path: Path) -> None:
    f = tmp_path / "tokens.csv"
    f.write_text("tok-a,alice,u-1\n")
    a = Authenticator(f)
    for header in ("Bearer ", "Basic YWxpY2U6c2VjcmV0", "tok-a", "Bearer  tok-a"):
        assert a.authenticate(header, None) is ANONYMOUS, header
    alice = a.authenticate("bearer tok-a trailing", None)
    assert alice is not None and alice.username == "alice"
    assert a.authenticate("Bearer tok-b", None) is None


# ---------------------------------------------------------------------------- jobs/status
START, END = "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"


def _job(spec: dict[str, Any] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "d"},
        "spec": {"completions": 1, "parallelism": 1, **(spec or {})},
        "status": status,
    }


def _conds(*types: str) -> list[dict[str, str]]:
    return [{"type": t, "status": "True"} for t in types]


def _messages(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate_job_update_status(new, old)]


def test_a_controller_style_completion_passes() -> None:
    old = _job(startTime=START, active=1, ready=1)
    new = _job(
        startTime=START,
        completionTime=END,
        succeeded=1,
        conditions=_conds("SuccessCriteriaMet", "Complete"),
        uncountedTerminatedPods={},
    )
    assert _messages(new, old) == []


def test_complete_without_success_criteria_met_is_accepted_in_1_32() -> None:
    """RejectCompleteJobWithoutSuccessCriteriaMet is not set by 1.32's job status strategy."""
    new = _job(startTime=START, completionTime=END, conditions=_conds("Complete"))
    assert _messages(new, _job(startTime=START)) == []


def test_rules_run_only_when_their_fields_change() -> None:
    """A status that already breaks a rule does not block an unrelated write."""
    broken = _job(conditions=_conds("Complete"), active=2)  # no startTime, completionTime, active > 0
    assert _messages({**broken, "status": {**broken["status"], "ready": 1}}, broken) == []
    assert _messages({**broken, "status": {**broken["status"], "active": 3}}, broken) == [
        "status.active: Invalid value: 3: active>0 is invalid for finished job"
    ]


def test_terminal_condition_pairs() -> None:
    new = _job(startTime=START, completionTime=END, conditions=_conds("Complete", "Failed", "FailureTarget"))
    assert _messages(new, _job(startTime=START)) == [
        "status.conditions: Invalid value: cannot set Complete=True and Failed=true conditions",
        "status.conditions: Invalid value: cannot set Complete=True and FailureTarget=true conditions",
    ]
    new = _job(startTime=START, conditions=_conds("SuccessCriteriaMet", "FailureTarget"))
    assert _messages(new, _job(startTime=START)) == [
        "status.conditions: Invalid value: cannot set SuccessCriteriaMet=True and FailureTarget=true "
        "conditions"
    ]


def test_success_policy_needs_success_criteria_met_before_complete() -> None:
    spec = {
        "completionMode": "Indexed",
        "successPolicy": {"rules": [{"succeededCount": 1}]},
    }
    new = _job(spec, startTime=START, completionTime=END, conditions=_conds("Complete"))
    assert _messages(new, _job(spec, startTime=START)) == [
        "status.conditions: Invalid value: cannot set Complete=True for Job with SuccessPolicy unless "
        "SuccessCriteriaMet=True"
    ]


def test_counters_may_decrease_only_for_an_elastic_indexed_job() -> None:
    old = _job(succeeded=2, failed=1)
    assert _messages(_job(succeeded=1, failed=1), old) == [
        "status.succeeded: Invalid value: 1: cannot decrease the succeeded counter"
    ]
    indexed = {"completionMode": "Indexed", "completions": 2, "parallelism": 2}
    assert _messages(_job(indexed, succeeded=1, failed=1), _job(indexed, succeeded=2, failed=1)) == []
    assert _messages(_job(indexed, succeeded=2), _job(indexed, succeeded=2, failed=1)) == [
        "status.failed: Invalid value: 0: cannot decrease the failed counter"
    ]


def test_start_time_may_change_only_while_suspended() -> None:
    assert _messages(_job(), _job(startTime=START)) == [
        "status.startTime: Required value: startTime cannot be removed for unsuspended job"
    ]
    assert _messages(_job({"suspend": True}), _job({"suspend": True}, startTime=START)) == []


def test_failed_indexes_rules() -> None:
    per_index = {"completionMode": "Indexed", "completions": 4, "parallelism": 4, "backoffLimitPerIndex": 1}
    new = _job(per_index, completedIndexes="0-2", failedIndexes="2,3")
    assert _messages(new, _job(per_index)) == [
        'status.failedIndexes: Invalid value: "2,3": failedIndexes and completedIndexes overlap at index: 2'
    ]
    new = _job(per_index, failedIndexes="5")
    assert _messages(new, _job(per_index)) == [
        'status.failedIndexes: Invalid value: "5": error parsing failedIndexes: too large index: "5"'
    ]
    plain = {"completionMode": "Indexed", "completions": 4, "parallelism": 4}
    assert _messages(_job(plain, failedIndexes=""), _job(plain)) == [
        'status.failedIndexes: Invalid value: "": cannot set non-null failedIndexes when '
        "backoffLimitPerIndex is null"
    ]


def test_finished_job_with_uncounted_pods_prints_the_go_struct() -> None:
    new = _job(
        startTime=START,
        conditions=_conds("FailureTarget", "Failed"),
        uncountedTerminatedPods={"failed": ["a", ""], "succeeded": []},
    )
    assert _messages(new, _job(startTime=START)) == [
        'status.uncountedTerminatedPods.failed[1]: Invalid value: "": must not be empty',
        "status.uncountedTerminatedPods: Invalid value: batch.UncountedTerminatedPods{"
        'Succeeded:[]types.UID{}, Failed:[]types.UID{"a", ""}}: uncountedTerminatedPods needs to be empty '
        "for finished job",
    ]


def test_success_criteria_met_cannot_be_added_to_a_complete_job_or_removed() -> None:
    done = _job(startTime=START, completionTime=END, conditions=_conds("Complete"))
    later = _job(startTime=START, completionTime=END, conditions=_conds("Complete", "SuccessCriteriaMet"))
    assert _messages(later, done) == [
        "status.conditions: Invalid value: cannot set SuccessCriteriaMet=True for Job already has "
        "Complete=true conditions"
    ]
    met = _job(startTime=START, conditions=_conds("SuccessCriteriaMet"))
    assert _messages(_job(startTime=START), met) == [
        "status.conditions: Invalid value: cannot disable the SuccessCriteriaMet=True condition"
    ]
