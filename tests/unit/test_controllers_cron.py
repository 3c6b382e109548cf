"""The cron schedule parser and missed-schedule arithmetic of the CronJob controller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vcluster.controllers.cronjob import (
    CronError,
    CronSchedule,
    job_from_template,
    job_name,
    most_recent_schedule,
)


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def nexts(spec: str, start: datetime, n: int = 3, tz: ZoneInfo | None = None) -> list[datetime]:
    s = CronSchedule(spec, tz)
    out = []
    t = start
    for _ in range(n):
        nt = s.next(t)
        assert nt is not None
        out.append(nt)
        t = nt
    return out


@pytest.mark.parametrize(
    ("spec", "start", "expected"),
    [
        (
            "* * * * *",
            utc(2024, 1, 1, 0, 0, 30),
            [utc(2024, 1, 1, 0, 1), utc(2024, 1, 1, 0, 2), utc(2024, 1, 1, 0, 3)],
        ),
        (
            "*/15 * * * *",
            utc(2024, 1, 1, 0, 7),
            [utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 0, 45)],
        ),
        (
            "5/20 * * * *",
            utc(2024, 1, 1, 0, 0),
            [utc(2024, 1, 1, 0, 5), utc(2024, 1, 1, 0, 25), utc(2024, 1, 1, 0, 45)],
        ),
        (
            "0 9-17/4 * * *",
            utc(2024, 1, 1, 10),
            [utc(2024, 1, 1, 13), utc(2024, 1, 1, 17), utc(2024, 1, 2, 9)],
        ),
        ("@hourly", utc(2024, 1, 1, 0, 0), [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2), utc(2024, 1, 1, 3)]),
        ("@daily", utc(2024, 2, 28, 12), [utc(2024, 2, 29), utc(2024, 3, 1), utc(2024, 3, 2)]),
        ("@weekly", utc(2024, 1, 1), [utc(2024, 1, 7), utc(2024, 1, 14), utc(2024, 1, 21)]),  # Sundays
        ("@monthly", utc(2024, 1, 15), [utc(2024, 2, 1), utc(2024, 3, 1), utc(2024, 4, 1)]),
        ("@yearly", utc(2024, 6, 1), [utc(2025, 1, 1), utc(2026, 1, 1), utc(2027, 1, 1)]),
        (
            "30 8 * * mon-fri",
            utc(2024, 1, 5, 9),
            [utc(2024, 1, 8, 8, 30), utc(2024, 1, 9, 8, 30), utc(2024, 1, 10, 8, 30)],
        ),
        ("0 0 31 * *", utc(2024, 1, 31, 1), [utc(2024, 3, 31), utc(2024, 5, 31), utc(2024, 7, 31)]),
        ("0 0 1 jan,jul *", utc(2024, 1, 1), [utc(2024, 7, 1), utc(2025, 1, 1), utc(2025, 7, 1)]),
        ("0 12 ? * SUN", utc(2024, 1, 1), [utc(2024, 1, 7, 12), utc(2024, 1, 14, 12), utc(2024, 1, 21, 12)]),
    ],
)
def test_next(spec: str, start: datetime, expected: list[datetime]) -> None:
    assert nexts(spec, start) == expected


def test_day_of_month_or_day_of_week() -> None:
    # Both restricted: either matches (robfig/cron, like Vixie cron). 2024-01-01 is a Monday.
    assert nexts("0 0 15 * mon", utc(2024, 1, 1, 1)) == [utc(2024, 1, 8), utc(2024, 1, 15), utc(2024, 1, 22)]
    # One of them starred: both must match -> only the 15th.
    assert nexts("0 0 15 * *", utc(2024, 1, 1), 1) == [utc(2024, 1, 15)]


def test_time_zones() -> None:
    ny = ZoneInfo("America/New_York")
    assert nexts("0 9 * * *", utc(2024, 1, 1), 1, ny) == [utc(2024, 1, 1, 14)]
    assert nexts("0 9 * * *", utc(2024, 7, 1), 1, ny) == [utc(2024, 7, 1, 13)]  # DST
    assert CronSchedule("CRON_TZ=Asia/Tokyo 0 9 * * *").next(utc(2023, 12, 31, 23)) == utc(2024, 1, 1, 0)


def test_every() -> None:
    s = CronSchedule("@every 1h30m")
    assert s.next(utc(2024, 1, 1)) == utc(2024, 1, 1, 1, 30)


def test_never_matching_schedule() -> None:
    assert CronSchedule("0 0 30 2 *").next(utc(2024, 1, 1)) is None


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ("* * * *", "expected exactly 5 fields, found 4"),
        ("60 * * * *", "end of range (60) above maximum (59)"),
        ("* * 0 * *", "beginning of range (0) below minimum (1)"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1)"),
        ("*/0 * * * *", "step of range should be a positive number"),
        ("x * * * *", "failed to parse int from x"),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("1-2-3 * * * *", "too many hyphens"),
        ("CRON_TZ=Mars/Base 0 0 * * *", "provided bad location Mars/Base"),
    ],
)
def test_errors(spec: str, msg: str) -> None:
    with pytest.raises(CronError) as e:
        CronSchedule(spec)
    assert msg in str(e.value)


def test_most_recent_schedule() -> None:
    s = CronSchedule("*/5 * * * *")
    t0 = utc(2024, 1, 1, 0, 1)
    assert most_recent_schedule(s, t0, utc(2024, 1, 1, 0, 4)) == (None, 0)
    assert most_recent_schedule(s, t0, utc(2024, 1, 1, 0, 7)) == (utc(2024, 1, 1, 0, 5), 1)
    recent, missed = most_recent_schedule(s, t0, utc(2024, 1, 1, 1, 2))
    assert recent == utc(2024, 1, 1, 1, 0) and missed == 12
    recent, missed = most_recent_schedule(CronSchedule("* * * * *"), t0, t0 + timedelta(days=1))
    assert recent == t0 + timedelta(days=1) and missed > 100


def test_job_name_and_template() -> None:
    cj = {
        "metadata": {"name": "tick", "namespace": "ns", "uid": "u"},
        "spec": {
            "jobTemplate": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                "spec": {"template": {"spec": {"containers": []}}},
            }
        },
    }
    t = utc(2024, 1, 1, 0, 5)
    assert job_name(cj, t) == f"tick-{int(t.timestamp()) // 60}" == "tick-28401125"
    j = job_from_template(cj, t, UTC)
    assert j["metadata"]["name"] == "tick-28401125"
    assert j["metadata"]["labels"] == {"a": "b"}
    assert j["metadata"]["annotations"] == {
        "x": "y",
        "batch.kubernetes.io/cronjob-scheduled-timestamp": "2024-01-01T00:05:00Z",
    }
    assert j["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert j["spec"] == {"template": {"spec": {"containers": []}}}
    tokyo = job_from_template(cj, t, ZoneInfo("Asia/Tokyo"))
    assert (
        tokyo["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        == "2024-01-01T09:05:00+09:00"
    )
