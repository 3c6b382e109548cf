"""CronJob controller (cronjob v2) with a robfig/cron-compatible standard schedule parser."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    clone,
    controller_ref,
    fmt_time,
    is_deleting,
    name_of,
    namespace_of,
    namespace_terminating,
    owner_reference,
    parse_time,
    resolve_controller_ref,
    split_key,
    typed,
    uid_of,
)
from vcluster.controllers.job import is_finished

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

CJ = ("batch/v1", "cronjobs")
JOB = ("batch/v1", "jobs")
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"

# --------------------------------------------------------------------------- cron parsing

_MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_DOWS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class CronError(ValueError):
    """An unparseable schedule (the message is robfig/cron's)."""


@dataclass(frozen=True)
class _Field:
    values: frozenset[int]
    star: bool


def _parse_int(s: str) -> int:
    if not s.isdigit():
        raise CronError(f"failed to parse int from {s}: strconv.Atoi: parsing {s!r}: invalid syntax")
    return int(s)


def _value(s: str, names: dict[str, int] | None) -> int:
    if names is not None and s.lower() in names:
        return names[s.lower()]
    return _parse_int(s)


def _parse_field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> _Field:
    values: set[int] = set()
    star = False
    for expr in text.split(","):
        range_step = expr.split("/")
        low_high = range_step[0].split("-")
        single = len(low_high) == 1
        extra_star = False
        if low_high[0] in ("*", "?"):
            start, end, extra_star = lo, hi, True
        else:
            start = _value(low_high[0], names)
            if len(low_high) == 1:
                end = start
            elif len(low_high) == 2:
                end = _value(low_high[1], names)
            else:
                raise CronError(f"too many hyphens: {expr}")
        if len(range_step) == 1:
            step = 1
        elif len(range_step) == 2:
            step = _parse_int(range_step[1])
            if single:
                end = hi
            if step > 1:
                extra_star = False
        else:
            raise CronError(f"too many slashes: {expr}")
        if start < lo:
            raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
        if end > hi:
            raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
        if step == 0:
            raise CronError(f"step of range should be a positive number: {expr}")
        values.update(range(start, end + 1, step))
        star = star or extra_star
    return _Field(frozenset(values), star)


def _parse_duration(s: str) -> float:
    if not s or _DURATION.sub("", s) != "":
        raise CronError(f"failed to parse duration @every {s}: time: invalid duration {s!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(s))


class CronSchedule:
    """cron.ParseStandard: 5 fields (minute hour day-of-month month day-of-week), descriptors
    (@hourly, @daily, ...), @every <duration>, and an optional CRON_TZ=/TZ= prefix."""

    def __init__(self, spec: str, tz: tzinfo | None = None) -> None:
        self.spec = spec
        text = spec.strip()
        self.tz: tzinfo = tz or UTC
        if text.startswith(("CRON_TZ=", "TZ=")):
            head, _, text = text.partition(" ")
            name = head.split("=", 1)[1]
            try:
                self.tz = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise CronError(f"provided bad location {name}: unknown time zone {name}") from None
            text = text.strip()
        self.every: float | None = None
        if text.startswith("@every "):
            self.every = max(round(_parse_duration(text[len("@every ") :].strip())), 1)
            return
        if text.startswith("@"):
            if text not in _DESCRIPTORS:
                raise CronError(f"unrecognized descriptor: {text}")
            text = _DESCRIPTORS[text]
        fields = text.split()
        if len(fields) != 5:
            raise CronError(f"expected exactly 5 fields, found {len(fields)}: {text}")
        self.minute = _parse_field(fields[0], 0, 59, None)
        self.hour = _parse_field(fields[1], 0, 23, None)
        self.dom = _parse_field(fields[2], 1, 31, None)
        self.month = _parse_field(fields[3], 1, 12, _MONTHS)
        self.dow = _parse_field(fields[4], 0, 6, _DOWS)

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.dom.values
        dow = ((t.weekday() + 1) % 7) in self.dow.values
        if self.dom.star or self.dow.star:
            return dom and dow
        return dom or dow

    def next(self, after: datetime) -> datetime | None:
        """The first activation strictly after `after` (None if there is none within 5 years)."""
        if self.every is not None:
            t = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=self.every)
            return t
        local = after.astimezone(self.tz).replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        limit = local.year + 5
        while local.year <= limit:
            if local.month not in self.month.values:
                y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
                local = datetime(y, m, 1)
                continue
            if not self._day_matches(local):
                local = datetime(local.year, local.month, local.day) + timedelta(days=1)
                continue
            if local.hour not in self.hour.values:
                local = local.replace(minute=0) + timedelta(hours=1)
                continue
            if local.minute not in self.minute.values:
                local += timedelta(minutes=1)
                continue
            return local.replace(tzinfo=self.tz).astimezone(UTC)
        return None


def most_recent_schedule(
    sched: CronSchedule, earliest: datetime, now: datetime
) -> tuple[datetime | None, int]:
    """mostRecentScheduleTime: (latest activation in (earliest, now], number of missed runs)."""
    t1 = sched.next(earliest)
    if t1 is None or now < t1:
        return None, 0
    t2 = sched.next(t1)
    if t2 is None or now < t2:
        return t1, 1
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise CronError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    start = t1 + timedelta(seconds=(missed - 2) * between) if missed > 2 else earliest
    most: datetime | None = None
    cur = sched.next(start)
    while cur is not None and cur <= now:
        most = cur
        cur = sched.next(cur)
    return most, missed


def job_name(cj: Mapping[str, Any], scheduled: datetime) -> str:
    """getJobName: `<cronjob>-<scheduled time in minutes since the epoch>`."""
    return f"{name_of(cj)}-{int(scheduled.timestamp()) // 60}"


def rfc1123z(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def job_from_template(cj: Mapping[str, Any], scheduled: datetime, tz: tzinfo) -> dict[str, Any]:
    """getJobFromTemplate2."""
    tmpl = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = tmpl.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(tz).isoformat().replace("+00:00", "Z")
    md: dict[str, Any] = {
        "name": job_name(cj, scheduled),
        "namespace": namespace_of(cj),
        "annotations": annotations,
        "ownerReferences": [owner_reference(cj, "CronJob", "batch/v1")],
    }
    if tmeta.get("labels"):
        md["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": clone(tmpl.get("spec") or {})}


# --------------------------------------------------------------------------- controller


class CronJobController(BaseController):
    """pkg/controller/cronjob (v2): schedules Jobs, tracks active/finished ones, trims history."""

    name = "cronjob"
    component = "cronjob-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.cj_inf = informers.informer(*CJ)
        self.job_inf = informers.informer(*JOB)
        self.cj_inf.add_handler(lambda e, o, old: self.enqueue(o))
        self.job_inf.add_handler(self._on_job)

    def _lookup(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.cj_inf.get(name, ns)

    def _on_job(self, event: str, obj: dict, old: dict | None) -> None:
        cj = resolve_controller_ref(obj, "CronJob", self._lookup)
        if cj is not None:
            self.enqueue(cj)

    def _event(self, cj: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        self.recorder.event(cj, etype, reason, message, kind="CronJob", api_version="batch/v1")

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.cj_inf.get(name, ns)
        if cached is None:
            return
        cj = clone(cached)
        cj.setdefault("status", {})
        old_status = clone(cj["status"])
        jobs = [j for j in self.job_inf.list(ns) if (controller_ref(j) or {}).get("uid") == uid_of(cj)]
        requeue = await self._sync_cronjob(cj, jobs)
        if cj["status"] != old_status:
            res = await self.client.update(
                *CJ, typed(cj, "batch/v1", "CronJob"), namespace_of(cj), subresource="status"
            )
            cj["metadata"]["resourceVersion"] = res["metadata"]["resourceVersion"]
        await self._cleanup_finished(cj, jobs)
        if requeue is not None:
            self.queue.add_after(key, requeue)

    def _active(self, cj: Mapping[str, Any]) -> list[dict[str, Any]]:
        return list((cj.get("status") or {}).get("active") or [])

    def _remove_active(self, cj: dict[str, Any], uid: str) -> None:
        active = [a for a in self._active(cj) if a.get("uid") != uid]
        if active:
            cj["status"]["active"] = active
        else:
            cj["status"].pop("active", None)

    async def _sync_cronjob(self, cj: dict[str, Any], jobs: list[Mapping[str, Any]]) -> float | None:
        from vcluster.client import ApiError

        now = self.now()
        status = cj["status"]
        children = {uid_of(j) for j in jobs}
        for j in jobs:
            in_active = any(a.get("uid") == uid_of(j) for a in self._active(cj))
            finished, how = is_finished(j)
            if not in_active and not finished:
                self._event(
                    cj,
                    EVENT_WARNING,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {name_of(j)}",
                )
            elif in_active and finished:
                self._remove_active(cj, uid_of(j))
                self._event(
                    cj, EVENT_NORMAL, "SawCompletedJob", f"Saw completed job: {name_of(j)}, condition: {how}"
                )
            elif finished and how == "Complete":
                done = (j.get("status") or {}).get("completionTime")
                last = parse_time(status.get("lastSuccessfulTime"))
                if done and (last is None or (parse_time(done) or last) > last):
                    status["lastSuccessfulTime"] = done
        for a in self._active(cj):
            if a.get("uid") in children:
                continue
            try:
                await self.client.get(*JOB, a.get("name", ""), a.get("namespace") or namespace_of(cj))
            except ApiError as e:
                if not e.not_found:
                    raise
                self._event(cj, EVENT_NORMAL, "MissingJob", f"Active job went missing: {a.get('name')}")
                self._remove_active(cj, a.get("uid", ""))
        if is_deleting(cj):
            return None
        spec = cj.get("spec") or {}
        tz: tzinfo = UTC
        if spec.get("timeZone"):
            try:
                tz = ZoneInfo(spec["timeZone"])
            except (ZoneInfoNotFoundError, ValueError) as e:
                self._event(
                    cj, EVENT_WARNING, "UnknownTimeZone", f'invalid timeZone: "{spec["timeZone"]}": {e}'
                )
                return None
        if spec.get("suspend"):
            return None
        try:
            sched = CronSchedule(spec.get("schedule") or "", tz)
        except CronError as e:
            self._event(
                cj,
                EVENT_WARNING,
                "UnparseableSchedule",
                f'unparseable schedule: "{spec.get("schedule")}" : {e}',
            )
            return None
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(
            cj["metadata"].get("creationTimestamp")
        )
        earliest = earliest or now
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - timedelta(seconds=int(deadline)))
        try:
            scheduled, missed = most_recent_schedule(sched, earliest, now)
        except CronError as e:
            self._event(
                cj, EVENT_WARNING, "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {e}"
            )
            return None
        if missed > 100:
            self._event(
                cj,
                EVENT_WARNING,
                "TooManyMissedTimes",
                f"too many missed start times: {missed}. "
                "Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        next_in = self._next_delay(sched, now)
        if scheduled is None:
            return next_in
        if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
            self._event(
                cj,
                EVENT_WARNING,
                "MissSchedule",
                f"Missed scheduled time to start a job: {rfc1123z(scheduled)}",
            )
            return next_in
        name = job_name(cj, scheduled)
        if (
            any(a.get("name") == name for a in self._active(cj))
            or parse_time(status.get("lastScheduleTime")) == scheduled
        ):
            return next_in
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and self._active(cj):
            self._event(
                cj,
                EVENT_NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return next_in
        if policy == "Replace":
            for a in self._active(cj):
                try:
                    job = await self.client.get(
                        *JOB, a.get("name", ""), a.get("namespace") or namespace_of(cj)
                    )
                except ApiError as e:
                    if not e.not_found:
                        raise
                    self._event(cj, EVENT_NORMAL, "MissingJob", f"Active job went missing: {a.get('name')}")
                    self._remove_active(cj, a.get("uid", ""))
                    continue
                await self._delete_job(cj, job)
        job = job_from_template(cj, scheduled, tz)
        try:
            created = await self.client.create(*JOB, job, namespace_of(cj))
        except ApiError as e:
            if namespace_terminating(e) or e.already_exists:
                raise
            self._event(cj, EVENT_WARNING, "FailedCreate", f"Error creating job: {e.message}")
            raise
        self._event(cj, EVENT_NORMAL, "SuccessfulCreate", f"Created job {name_of(created)}")
        ref = {
            "kind": "Job",
            "namespace": namespace_of(created),
            "name": name_of(created),
            "uid": uid_of(created),
            "apiVersion": "batch/v1",
            "resourceVersion": created["metadata"].get("resourceVersion", ""),
        }
        status["active"] = [*self._active(cj), ref]
        status["lastScheduleTime"] = fmt_time(scheduled)
        return next_in

    def _next_delay(self, sched: CronSchedule, now: datetime) -> float | None:
        nxt = sched.next(now)
        if nxt is None:
            return None
        return max((nxt - now).total_seconds(), 0.0) + 0.1

    async def _delete_job(self, cj: dict[str, Any], job: Mapping[str, Any]) -> bool:
        from vcluster.client import ApiError

        try:
            await self.client.delete(*JOB, name_of(job), namespace_of(job), propagation_policy="Background")
        except ApiError as e:
            if not e.not_found:
                self._event(cj, EVENT_WARNING, "FailedDelete", f"Deleted job: {e.message}")
                return False
        self._remove_active(cj, uid_of(job))
        self._event(cj, EVENT_NORMAL, "SuccessfulDelete", f"Deleted job {name_of(job)}")
        return True

    async def _cleanup_finished(self, cj: dict[str, Any], jobs: list[Mapping[str, Any]]) -> None:
        """cleanupFinishedJobs: keep successfulJobsHistoryLimit / failedJobsHistoryLimit jobs."""
        spec = cj.get("spec") or {}
        ok_limit, fail_limit = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        if ok_limit is None and fail_limit is None:
            return
        ok = [j for j in jobs if is_finished(j) == (True, "Complete") and not is_deleting(j)]
        bad = [j for j in jobs if is_finished(j) == (True, "Failed") and not is_deleting(j)]

        def start(j: Mapping[str, Any]) -> tuple[str, str]:
            return ((j.get("status") or {}).get("startTime") or "", name_of(j))

        for group, limit in ((ok, ok_limit), (bad, fail_limit)):
            if limit is None or len(group) <= int(limit):
                continue
            for j in sorted(group, key=start)[: len(group) - int(limit)]:
                await self._delete_job(cj, j)
