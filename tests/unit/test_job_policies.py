"""Pure helpers of the Job controller and the batch validation (upstream 1.32 semantics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from vcluster.apiserver.validate_batch import time_zone_error, validate_indexes_format
from vcluster.controllers import job

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _pod(phase: str, *, index: int = 0, failures: int = 0, ignored: int = 0, code: int = 1) -> dict[str, Any]:
    annotations = {job.INDEX_KEY: str(index), job.FAILURE_COUNT_KEY: str(failures)}
    if ignored:
        annotations[job.IGNORED_FAILURE_COUNT_KEY] = str(ignored)
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": f"u{index}", "annotations": annotations},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": code}}}],
        },
    }


def _job(**spec: Any) -> dict[str, Any]:
    return {"spec": {"completionMode": "Indexed", "completions": 4, **spec}, "status": {}}


def test_indexes_format_as_ordered_intervals() -> None:
    assert job.format_indexes({0, 1}) == "0,1"
    assert job.format_indexes({0, 1, 2, 5, 7, 8}) == "0-2,5,7,8"
    assert job.parse_indexes("1,3-9", 5) == {1, 3, 4}


def test_per_index_failure_accounting() -> None:
    limited = _job(backoffLimitPerIndex=1)
    assert not job.is_index_failed(limited, _pod("Failed", failures=0))
    assert job.is_index_failed(limited, _pod("Failed", failures=1))
    assert not job.is_index_failed(limited, _pod("Running", failures=5))
    policy = {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [7]}}]}
    assert job.is_index_failed(_job(backoffLimitPerIndex=3, podFailurePolicy=policy), _pod("Failed", code=7))
    ignore = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [2]}}]}
    with_ignore = _job(backoffLimitPerIndex=0, podFailurePolicy=ignore)
    assert not job.is_index_failed(with_ignore, _pod("Failed", code=2))
    assert job.new_index_failure_counts(with_ignore, _pod("Failed", failures=1, code=2)) == (1, 1)
    assert job.new_index_failure_counts(with_ignore, _pod("Failed", failures=1, ignored=1)) == (2, 1)
    assert job.new_index_failure_counts(with_ignore, None) == (0, 0)
    assert job.index_failure_counts({"metadata": {"annotations": {job.FAILURE_COUNT_KEY: "-1"}}}) == (0, 0)


def test_backoff_remaining_doubles_and_caps() -> None:
    assert job.backoff_remaining(10, 360, 0, NOW, NOW) == 0
    assert job.backoff_remaining(10, 360, 1, NOW, NOW + timedelta(seconds=4)) == 6
    assert job.backoff_remaining(10, 360, 3, NOW, NOW) == 40
    assert job.backoff_remaining(10, 360, 9, NOW, NOW) == 360


def test_success_policy_rules() -> None:
    policy = {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}, {"succeededCount": 3}]}
    assert job.match_success_policy(policy, 5, {0, 4}) is None
    assert job.match_success_policy(policy, 5, {0, 2}) == "Matched rules at index 0"
    assert job.match_success_policy(policy, 5, {0, 3, 4}) == "Matched rules at index 1"
    assert (
        job.match_success_policy({"rules": [{"succeededIndexes": "1,3"}]}, 5, {1, 3})
        == "Matched rules at index 0"
    )
    assert job.match_success_policy(policy, 5, set()) is None


def test_active_pods_for_removal_drops_repeated_and_invalid_indexes() -> None:
    indexed = _job()
    a, b, c = _pod("Running", index=1), _pod("Running", index=1), _pod("Running", index=9)
    b["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    removed = job.active_pods_for_removal(indexed, [a, b, c], 0)
    assert removed == [c, a]  # the index beyond completions, and the less ready pod of index 1


def test_index_and_time_zone_validation_texts() -> None:
    assert validate_indexes_format("0,2-4", 5) == (4, None)
    assert validate_indexes_format("3,1", 5) == (0, "non-increasing order, previous: 3, current: 1")
    assert validate_indexes_format("1-1", 5) == (0, "non-increasing order, previous: 1, current: 1")
    assert validate_indexes_format("a", 5) == (0, 'cannot convert string to integer for index: "a"')
    assert validate_indexes_format("1-2-3", 5)[1] == (
        'the fragment "1-2-3" violates the requirement that an index interval can have at most two parts '
        "separated by '-'"
    )
    assert time_zone_error("Europe/Berlin") is None and time_zone_error("UTC") is None
    assert time_zone_error("") == "timeZone must be nil or non-empty string"
    assert time_zone_error("../etc") == "unknown time zone ../etc"
    assert time_zone_error("local").startswith("timeZone must be an explicit time zone")
