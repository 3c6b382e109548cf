"""The Job controller's pod failure backoff record (backoffStore.newBackoffRecord in 1.32)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vcluster.controllers.base import fmt_time
from vcluster.controllers.job import BackoffRecord, new_backoff_record

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def _pod(phase: str, finished: datetime) -> dict:
    code = 0 if phase == "Succeeded" else 1
    return {
        "metadata": {"creationTimestamp": fmt_time(T0 - timedelta(hours=1))},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "c", "state": {"terminated": {"exitCode": code, "finishedAt": fmt_time(finished)}}}
            ],
        },
    }


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_nothing_new_keeps_the_record() -> None:
    old = BackoffRecord(3, _at(5))
    assert new_backoff_record(old, [], []) is old


def test_failures_add_up_and_take_the_latest_time() -> None:
    rec = new_backoff_record(BackoffRecord(1, _at(1)), [], [_pod("Failed", _at(9)), _pod("Failed", _at(4))])
    assert rec == BackoffRecord(3, _at(9))


def test_a_success_resets_the_record() -> None:
    assert new_backoff_record(BackoffRecord(4, _at(1)), [_pod("Succeeded", _at(2))], []) == BackoffRecord()


def test_only_failures_after_the_last_success_count() -> None:
    failed = [_pod("Failed", _at(s)) for s in (1, 5, 7, 9)]
    succeeded = [_pod("Succeeded", _at(3)), _pod("Succeeded", _at(5))]
    # 5 is not after the last success (5): only 7 and 9 count.
    assert new_backoff_record(BackoffRecord(6, _at(0)), succeeded, failed) == BackoffRecord(2, _at(9))


def test_remaining_doubles_per_failure_up_to_the_cap() -> None:
    now = _at(100)
    assert BackoffRecord().remaining(10, 360, now) == 0
    assert BackoffRecord(1, _at(95)).remaining(10, 360, now) == 5
    assert BackoffRecord(3, _at(95)).remaining(10, 360, now) == 35
    assert BackoffRecord(12, _at(95)).remaining(10, 360, now) == 355
