"""Job controller (with finalizer-based pod tracking) and the ttl-after-finished controller, as
kube-controller-manager 1.32 runs them: Indexed and NonIndexed completion, podFailurePolicy (with
FailIndex), backoffLimitPerIndex/maxFailedIndexes, successPolicy, podReplacementPolicy, and the
terminal conditions delayed until every pod has terminated (FailureTarget then Failed,
SuccessCriteriaMet then Complete)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    Expectations,
    adopt,
    classify_claims,
    clone,
    controller_ref,
    fmt_time,
    get_condition,
    go_status,
    is_controlled_by,
    is_deleting,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    namespace_terminating,
    owner_reference,
    parse_time,
    pod_from_template,
    pod_is_active,
    pod_is_ready,
    pod_is_terminating,
    release,
    resolve_controller_ref,
    selector_matches,
    slow_start_batch,
    split_key,
    typed,
    uid_of,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

JOB = ("batch/v1", "jobs")
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-failure-count"
IGNORED_FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-ignored-failure-count"
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0
MAX_INT32 = 2**31 - 1

REASON_BACKOFF = "BackoffLimitExceeded"
MSG_BACKOFF = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MSG_DEADLINE = "Job was active longer than specified deadline"
REASON_COMPLETIONS = "CompletionsReached"
MSG_COMPLETIONS = "Reached expected number of succeeded pods"
REASON_MAX_FAILED_INDEXES = "MaxFailedIndexesExceeded"
MSG_MAX_FAILED_INDEXES = "Job has exceeded the specified maximal number of failed indexes"
REASON_FAILED_INDEXES = "FailedIndexes"
MSG_FAILED_INDEXES = "Job has failed indexes"
REASON_SUCCESS_POLICY = "SuccessPolicy"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"


# --------------------------------------------------------------------------- pure helpers


def job_condition(job: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    c = get_condition(job.get("status"), ctype)
    return c if c is not None and c.get("status") == "True" else None


def is_finished(job: Mapping[str, Any]) -> tuple[bool, str]:
    """IsJobFinished: (finished, 'Complete' | 'Failed' | '')."""
    for t in ("Complete", "Failed"):
        if job_condition(job, t) is not None:
            return True, t
    return False, ""


def new_job_condition(ctype: str, status: str, reason: str, message: str, now: datetime) -> dict[str, Any]:
    ts = fmt_time(now)
    return {
        "type": ctype,
        "status": status,
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


def ensure_condition(status: dict[str, Any], cond: dict[str, Any]) -> bool:
    """ensureJobConditionStatus: add or update `cond`; True when something changed."""
    conds = list(status.get("conditions") or [])
    for i, c in enumerate(conds):
        if c.get("type") != cond["type"]:
            continue
        if (
            c.get("status") == cond["status"]
            and c.get("reason") == cond["reason"]
            and c.get("message") == cond["message"]
        ):
            return False
        new = dict(cond)
        if c.get("status") == cond["status"]:
            new["lastTransitionTime"] = c.get("lastTransitionTime", cond["lastTransitionTime"])
        conds[i] = new
        status["conditions"] = conds
        return True
    if cond["status"] != "True":
        return False
    conds.append(cond)
    status["conditions"] = conds
    return True


def format_indexes(indexes: set[int]) -> str:
    """orderedIntervals.String(): '1,3-5,7'; a run of two is written '1,2'."""
    out: list[str] = []
    run: list[int] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(str(run[0]))
        elif len(run) == 2:
            out.append(f"{run[0]},{run[1]}")
        elif run:
            out.append(f"{run[0]}-{run[-1]}")

    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        flush()
        run = [i]
    flush()
    return ",".join(out)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """parseIndexesFromString: corrupt intervals are skipped, indexes >= completions dropped."""
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            continue
        out.update(i for i in range(lo, min(hi, completions - 1) + 1))
    return out


def pod_index(pod: Mapping[str, Any]) -> int | None:
    md = pod.get("metadata") or {}
    v = (md.get("annotations") or {}).get(INDEX_KEY) or (md.get("labels") or {}).get(INDEX_KEY)
    try:
        i = int(v) if v is not None else None
    except ValueError:
        return None
    return i if i is not None and i >= 0 else None


def valid_index(job: Mapping[str, Any], pod: Mapping[str, Any]) -> int | None:
    """The pod's completion index when it is within [0, completions)."""
    ix = pod_index(pod)
    completions = (job.get("spec") or {}).get("completions")
    return ix if ix is not None and completions is not None and ix < int(completions) else None


def has_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def is_indexed(job: Mapping[str, Any]) -> bool:
    spec = job.get("spec") or {}
    return spec.get("completionMode") == "Indexed" and spec.get("completions") is not None


def has_backoff_limit_per_index(job: Mapping[str, Any]) -> bool:
    """hasBackoffLimitPerIndex (JobBackoffLimitPerIndex is on in 1.32)."""
    return is_indexed(job) and (job.get("spec") or {}).get("backoffLimitPerIndex") is not None


def only_replace_failed(job: Mapping[str, Any]) -> bool:
    """onlyReplaceFailedPods: podReplacementPolicy Failed (the default with a podFailurePolicy)."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def pod_failed(pod: Mapping[str, Any], job: Mapping[str, Any] | None = None) -> bool:
    """isPodFailed: Failed, or deleted before it succeeded (only Failed when the Job replaces only
    failed pods: with a podFailurePolicy a terminating pod is Failed once it ends)."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        return True
    return not (job is not None and only_replace_failed(job)) and is_deleting(pod) and phase != "Succeeded"


def _exit_code_matches(code: int, req: Mapping[str, Any]) -> bool:
    values = req.get("values") or []
    op = req.get("operator")
    return (op == "In" and code in values) or (op == "NotIn" and code not in values)


def _matching_container(status: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any] | None:
    """matchOnExitCodes: the first terminated container (then init container) with a non-zero
    exit code the requirement matches."""
    for field_name in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(field_name) or []:
            term = (cs.get("state") or {}).get("terminated")
            if term is None or (req.get("containerName") not in (None, cs.get("name"))):
                continue
            code = int(term.get("exitCode") or 0)
            if code != 0 and _exit_code_matches(code, req):
                return {"name": cs.get("name", ""), "exitCode": code}
    return None


def _matching_condition(status: Mapping[str, Any], patterns: list[Mapping[str, Any]]) -> str | None:
    """matchOnPodConditions: the type of the first pod condition a pattern matches."""
    for cond in status.get("conditions") or []:
        for pat in patterns:
            if cond.get("type") == pat.get("type") and cond.get("status") == (pat.get("status") or "True"):
                return str(cond.get("type"))
    return None


def match_pod_failure_policy(
    policy: Mapping[str, Any] | None, pod: Mapping[str, Any]
) -> tuple[str | None, bool, str | None]:
    """matchPodFailurePolicy: (the FailJob message, whether the failure counts, the action) of the
    first rule matching a failed pod."""
    if policy is None:
        return None, True, None
    status, md = pod.get("status") or {}, pod.get("metadata") or {}
    pod_ref = f"{md.get('namespace', '')}/{md.get('name', '')}"
    for i, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            cs = _matching_container(status, rule["onExitCodes"])
            if cs is None:
                continue
            what = f"Container {cs['name']} for pod {pod_ref} failed with exit code {cs['exitCode']}"
        elif rule.get("onPodConditions") is not None:
            ctype = _matching_condition(status, rule["onPodConditions"])
            if ctype is None:
                continue
            what = f"Pod {pod_ref} has condition {ctype}"
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("Count", "FailIndex"):
            return None, True, action
        if action == "FailJob":
            return f"{what} matching FailJob rule at index {i}", True, action
    return None, True, None


def past_backoff_limit_on_failure(
    job: Mapping[str, Any], pods: list[Mapping[str, Any]], backoff_limit: int
) -> bool:
    """pastBackoffLimitOnFailure: with restartPolicy OnFailure the kubelet restarts failed
    containers in place, so their restarts in the Pending and Running pods count against
    backoffLimit (any restart when the limit is 0)."""
    template = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    if template.get("restartPolicy") != "OnFailure":
        return False
    restarts = 0
    for pod in pods:
        status = pod.get("status") or {}
        if status.get("phase") not in ("Pending", "Running"):
            continue
        for field_name in ("initContainerStatuses", "containerStatuses"):
            restarts += sum(int(cs.get("restartCount") or 0) for cs in status.get(field_name) or [])
    return restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit


def fail_job_message(job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> str | None:
    """getFailJobMessage: the message of the first failed pod a FailJob rule matches."""
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if policy is None:
        return None
    for p in pods:
        if pod_failed(p, job):
            message = match_pod_failure_policy(policy, p)[0]
            if message is not None:
                return message
    return None


def pod_finish_time(pod: Mapping[str, Any]) -> datetime | None:
    """getFinishedTime: the latest container finish when all containers finished, else the Ready=False
    transition, else the deletion time minus the grace period, else the creation time."""
    status = pod.get("status") or {}
    times = [
        parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for cs in status.get("containerStatuses") or []
    ]
    if times and all(t is not None for t in times):
        return max(t for t in times if t is not None)
    ready = get_condition(status, "Ready")
    if ready is not None and ready.get("status") == "False" and ready.get("lastTransitionTime"):
        return parse_time(ready["lastTransitionTime"])
    md = pod.get("metadata") or {}
    deleted = parse_time(md.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - timedelta(seconds=int(md.get("deletionGracePeriodSeconds") or 0))
    return parse_time(md.get("creationTimestamp"))


def _count_annotation(pod: Mapping[str, Any], key: str) -> int:
    """parseInt32 of a failure-count annotation: 0 when missing, unparsable or out of range."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        n = int(value) if value is not None else 0
    except ValueError:
        return 0
    return n if 0 <= n <= MAX_INT32 else 0


def index_failure_counts(pod: Mapping[str, Any]) -> tuple[int, int]:
    """(job-index-failure-count, job-index-ignored-failure-count) of a pod."""
    return _count_annotation(pod, FAILURE_COUNT_KEY), _count_annotation(pod, IGNORED_FAILURE_COUNT_KEY)


def is_index_failed(job: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """isIndexFailed: a FailIndex rule matched, or a counted failure used up backoffLimitPerIndex."""
    if not pod_failed(pod, job):
        return False
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    counted = True
    if policy is not None:
        _, counted, action = match_pod_failure_policy(policy, pod)
        if action == "FailIndex":
            return True
    limit = int((job.get("spec") or {}).get("backoffLimitPerIndex") or 0)
    return counted and index_failure_counts(pod)[0] >= limit


def new_index_failure_counts(job: Mapping[str, Any], replaced: Mapping[str, Any] | None) -> tuple[int, int]:
    """getNewIndexFailureCounts: the counts of the pod replacing `replaced` in its index."""
    if replaced is None:
        return 0, 0
    failures, ignored = index_failure_counts(replaced)
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if policy is not None and not match_pod_failure_policy(policy, replaced)[1]:
        return failures, ignored + 1
    return failures + 1, ignored


def backoff_remaining(base: float, cap: float, failures: int, last: datetime | None, now: datetime) -> float:
    """getRemainingTimeForFailuresCount: base * 2^(failures-1) (capped) after the last failure."""
    if failures <= 0 or last is None or base <= 0:
        return 0.0
    backoff = base
    for _ in range(1, failures):
        backoff *= 2
        if backoff >= cap:
            backoff = cap
            break
    return max(backoff - (now - last).total_seconds(), 0.0)


@dataclass(frozen=True)
class BackoffRecord:
    """backoffRecord: the pod failures since the last success and the time of the last one."""

    failures: int = 0
    last_failure: datetime | None = None

    def remaining(self, base: float, cap: float, now: datetime) -> float:
        """getRemainingTime: seconds left before a replacement pod may be created."""
        return backoff_remaining(base, cap, self.failures, self.last_failure, now)


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _finish_key(pod: Mapping[str, Any]) -> datetime:
    return pod_finish_time(pod) or _EPOCH


def new_backoff_record(
    old: BackoffRecord | None, succeeded: list[Mapping[str, Any]], failed: list[Mapping[str, Any]]
) -> BackoffRecord:
    """backoffStore.newBackoffRecord: the stored record advanced by the pods that finished since the
    last status update. A success resets the count to the failures that finished after it."""
    old = old or BackoffRecord()
    failed = sorted(failed, key=_finish_key)
    if not succeeded:
        if not failed:
            return old
        return BackoffRecord(old.failures + len(failed), _finish_key(failed[-1]))
    last_success = max(_finish_key(p) for p in succeeded)
    after = [t for p in failed if (t := _finish_key(p)) > last_success]
    return BackoffRecord(len(after), after[-1] if after else None)


def _intervals(indexes: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i in sorted(indexes):
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def match_success_policy(
    policy: Mapping[str, Any] | None, completions: int, succeeded: set[int]
) -> str | None:
    """matchSuccessPolicy: 'Matched rules at index N' for the first rule the succeeded indexes meet."""
    if policy is None or not succeeded:
        return None
    for i, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if not required:
                continue
            contains = len(required & succeeded)
            if contains == len(required) or (count is not None and contains >= int(count)):
                return f"Matched rules at index {i}"
        elif count is not None and len(succeeded) >= int(count):
            return f"Matched rules at index {i}"
    return None


def _active_pods_order(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """controller.ActivePods: unscheduled, pending, not ready, more restarts and newer pods first."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase") or "", 0)
    ready = get_condition(status, "Ready")
    ready_since = parse_time((ready or {}).get("lastTransitionTime")) if pod_is_ready(pod) else None
    restarts = sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or [])
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        phase_rank,
        pod_is_ready(pod),
        -(ready_since.timestamp()) if ready_since else 0.0,
        -restarts,
        -(created.timestamp()) if created else 0.0,
    )


def active_pods_for_removal(
    job: Mapping[str, Any], pods: list[Mapping[str, Any]], at_least: int
) -> list[Mapping[str, Any]]:
    """activePodsForRemoval: for Indexed jobs the pods without a valid index and all but one pod of
    a repeated index, then the first pods in ActivePods order up to `at_least`."""
    rm: list[Mapping[str, Any]] = []
    left = list(pods)
    if is_indexed(job):
        by_index: dict[int, list[Mapping[str, Any]]] = {}
        left = []
        for p in pods:
            ix = valid_index(job, p)
            if ix is None:
                rm.append(p)
            else:
                by_index.setdefault(ix, []).append(p)
        for same in by_index.values():
            same.sort(key=_active_pods_order)
            rm.extend(same[:-1])
            left.append(same[-1])
    if len(rm) < at_least:
        left.sort(key=_active_pods_order)
        rm.extend(left[: at_least - len(rm)])
    return rm


def _set_uids(unc: dict[str, Any], key: str, uids: list[str]) -> None:
    """A uid list of uncountedTerminatedPods; empty lists are omitted (omitempty)."""
    if uids:
        unc[key] = uids
    else:
        unc.pop(key, None)


@dataclass
class SyncCtx:
    """syncJobCtx: what one sync learned about a job and its pods."""

    job: dict[str, Any]
    pods: list[Mapping[str, Any]]
    active: list[Mapping[str, Any]]
    terminating: int
    ready: int
    succeeded: int = 0
    failed: int = 0
    unc_succeeded: set[str] = field(default_factory=set)
    unc_failed: set[str] = field(default_factory=set)
    prev_succeeded_idx: set[int] = field(default_factory=set)
    succeeded_idx: set[int] = field(default_factory=set)
    failed_idx: set[int] | None = None
    delayed: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    finished: tuple[str, str, str] | None = None  # (condition type, reason, message)
    backoff: BackoffRecord = field(default_factory=BackoffRecord)


def pods_with_delayed_deletion(ctx: SyncCtx) -> dict[int, Mapping[str, Any]]:
    """getPodsWithDelayedDeletionPerIndex: per index without an active, succeeded or failed state,
    the last failed pod, kept (with its finalizer) until its replacement carries its counts."""
    job = ctx.job
    active_idx = {ix for p in ctx.active if (ix := pod_index(p)) is not None}
    out: dict[int, Mapping[str, Any]] = {}
    for p in ctx.pods:
        ix = valid_index(job, p)
        if ix is None or not has_finalizer(p) or not pod_failed(p, job):
            continue
        if ix in ctx.succeeded_idx or ix in (ctx.failed_idx or set()) or ix in active_idx:
            continue
        last = out.get(ix)
        if last is None:
            out[ix] = p
            continue
        p_time, last_time = pod_finish_time(p), pod_finish_time(last)
        later = p_time is None or last_time is None or p_time >= last_time
        if sum(index_failure_counts(last)) <= sum(index_failure_counts(p)) and later:
            out[ix] = p
    return out


def can_remove_finalizer(ctx: SyncCtx, pod: Mapping[str, Any], considered_failed: bool) -> bool:
    """canRemoveFinalizer: not while a failed pod awaits its replacement in its index."""
    phase = (pod.get("status") or {}).get("phase")
    if is_deleting(ctx.job) or ctx.finished is not None or phase == "Succeeded":
        return True
    if not considered_failed:
        return False
    if has_backoff_limit_per_index(ctx.job):
        ix = pod_index(pod)
        delayed = ctx.delayed.get(ix) if ix is not None else None
        if delayed is not None and uid_of(delayed) == uid_of(pod):
            return False
    return True


def first_pending_indexes(ctx: SyncCtx, count: int, completions: int) -> list[int]:
    """firstPendingIndexes: the lowest indexes neither active, succeeded, failed nor (when only
    failed pods are replaced) held by a terminating pod."""
    taken = set(ctx.succeeded_idx) | {ix for p in ctx.active if (ix := pod_index(p)) is not None}
    if only_replace_failed(ctx.job):
        taken |= {ix for p in ctx.pods if pod_is_terminating(p) and (ix := pod_index(p)) is not None}
    taken |= ctx.failed_idx or set()
    return [i for i in range(completions) if i not in taken][:count]


# --------------------------------------------------------------------------- controller


class JobController(BaseController):
    """pkg/controller/job + pkg/controller/ttlafterfinished."""

    name = "job"
    component = "job-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        pod_failure_backoff: float = DEFAULT_BACKOFF,
        max_pod_failure_backoff: float = MAX_BACKOFF,
        ttl_after_finished: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.pod_failure_backoff = pod_failure_backoff
        self.max_pod_failure_backoff = max_pod_failure_backoff
        self.ttl_after_finished = ttl_after_finished
        self.expectations = Expectations()
        # podBackoffStore: per job key, kept in memory only (as upstream) and saved once the
        # status update counting the finished pods it saw went through.
        self.backoffs: dict[str, BackoffRecord] = {}
        self.job_inf = informers.informer(*JOB)
        self.pod_inf = informers.informer("v1", "pods")
        # orphanQueue: pods whose tracking finalizer no syncJob will remove (job gone or finished)
        from vcluster.client import WorkQueue

        self.orphans = WorkQueue(f"{self.name}-orphan-pod", base_delay=self.queue.base_delay, max_delay=60.0)
        self.job_inf.add_handler(self._on_job)
        self.pod_inf.add_handler(self._on_pod)

    def _lookup(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.job_inf.get(name, ns)

    def _on_job(self, event: str, obj: dict, old: dict | None) -> None:
        if event == "delete":
            self.expectations.delete(key_of(obj))
        self.enqueue(obj)
        # deleteJob, and updateJob's backup for a finished job: cleanupPodFinalizers
        if event == "delete" or is_finished(obj)[0]:
            self._cleanup_pod_finalizers(obj)

    def _cleanup_pod_finalizers(self, job: Mapping[str, Any]) -> None:
        """cleanupPodFinalizers: the job's pods that still have the finalizer go to the orphan queue."""
        selector = (job.get("spec") or {}).get("selector")
        for pod in self.pod_inf.list(namespace_of(job)):
            if (
                is_controlled_by(pod, job)
                and has_finalizer(pod)
                and selector_matches(selector, labels_of(pod))
            ):
                self.orphans.add(key_of(pod))

    def _on_pod(self, event: str, obj: dict, old: dict | None) -> None:
        job = resolve_controller_ref(obj, "Job", self._lookup)
        deleting = event == "delete" or is_deleting(obj)
        # addPod/updatePod/deletePod: an orphan, or a deleted pod whose job is gone or finished,
        # keeps its finalizer unless the orphan worker removes it
        if has_finalizer(obj) and (
            controller_ref(obj) is None or (deleting and (job is None or is_finished(job)[0]))
        ):
            self.orphans.add(key_of(obj))
        if job is None:
            return
        key = key_of(job)
        if event == "add" and not is_deleting(obj):
            self.expectations.creation_observed(key)
        elif event == "delete" or (is_deleting(obj) and (old is None or not is_deleting(old))):
            self.expectations.deletion_observed(key, key_of(obj))
        self.enqueue(job)

    def _event(self, job: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        self.recorder.event(job, etype, reason, message, kind="Job", api_version="batch/v1")

    # ------------------------------------------------------------------ sync

    async def sync_orphan_pod(self, key: str) -> None:
        """syncOrphanPod: remove the tracking finalizer from a pod no unfinished Job controls."""
        ns, name = split_key(key)
        pod = self.pod_inf.get(name, ns)
        if pod is None or not has_finalizer(pod):
            return
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != JOB[0]:
                return  # controlled by something that is not a batch/v1 Job
            job = resolve_controller_ref(pod, "Job", self._lookup)
            if job is not None and (job.get("spec") or {}).get("managedBy") not in (
                None,
                JOB_CONTROLLER_NAME,
            ):
                return
            if job is not None and not is_finished(job)[0]:
                return  # adopted: the job's sync owns the finalizer
        _, err = await self._remove_finalizers([pod])
        if err is not None:
            raise err

    async def run(self, workers: int = 2) -> None:
        """The job workers and the orphan pod worker, until cancelled."""
        try:
            await asyncio.gather(
                self.queue.run(self._worker, workers=workers),
                self.orphans.run(self.sync_orphan_pod, workers=1),
            )
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self) -> None:
        self.orphans.shutdown()
        await super().close()

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.job_inf.get(name, ns)
        if cached is None:
            self.expectations.delete(key)
            self.backoffs.pop(key, None)
            return
        if (cached.get("spec") or {}).get("managedBy") not in (None, JOB_CONTROLLER_NAME):
            return  # managed by an external controller (JobManagedBy)
        job = clone(cached)
        job.setdefault("status", {})
        now = self.now()
        finished, _ = is_finished(job)
        pods = await self._claim_pods(job)
        if finished:
            self.backoffs.pop(key, None)
            await self._remove_finalizers([p for p in pods if has_finalizer(p)])
            await self._ttl(job, now)
            return
        if is_deleting(job):
            await self._remove_finalizers([p for p in pods if has_finalizer(p)])
            return
        await self._sync_job(job, pods, now)

    async def _claim_pods(self, job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        from vcluster.client import ApiError

        candidates = self.pod_inf.list(namespace_of(job))
        keep, to_adopt, to_release = classify_claims(job, (job.get("spec") or {}).get("selector"), candidates)
        ref = owner_reference(job, "Job", "batch/v1")
        for pod in to_adopt:
            if is_finished(job)[0]:
                break
            try:
                keep.append(await adopt(self.client, "v1", "pods", pod, ref))
            except ApiError as e:
                if not (e.not_found or e.invalid):
                    raise
        for pod in to_release:
            await release(self.client, "v1", "pods", pod, uid_of(job))
        return keep

    async def _remove_finalizers(
        self, pods: list[Mapping[str, Any]]
    ) -> tuple[set[str], BaseException | None]:
        """removeTrackingFinalizerFromPods: (the uids whose finalizer is gone, the first error)."""
        from vcluster.client import ApiError

        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}

        async def one(pod: Mapping[str, Any]) -> None:
            try:
                await self.client.patch(
                    "v1", "pods", name_of(pod), patch, namespace_of(pod), patch_type="strategic"
                )
            except ApiError as e:
                if not e.not_found:
                    raise

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        done = {uid_of(p) for p, r in zip(pods, results, strict=True) if not isinstance(r, BaseException)}
        errors = [r for r in results if isinstance(r, BaseException)]
        return done, errors[0] if errors else None

    async def _update_status(self, job: dict[str, Any]) -> dict[str, Any]:
        res = await self.client.update(
            *JOB, typed(job, "batch/v1", "Job"), namespace_of(job), subresource="status"
        )
        job["metadata"]["resourceVersion"] = res["metadata"]["resourceVersion"]
        return res

    def _new_ctx(self, job: dict[str, Any], pods: list[Mapping[str, Any]]) -> SyncCtx:
        """The counters of syncJob: active, terminating, ready and the pods finished since the
        last status update (pods with the finalizer that are not in uncountedTerminatedPods)."""
        status = job["status"]
        active = [p for p in pods if pod_is_active(p)]
        unc = status.get("uncountedTerminatedPods") or {}
        ctx = SyncCtx(
            job=job,
            pods=pods,
            active=active,
            terminating=sum(1 for p in pods if pod_is_terminating(p)),
            ready=sum(1 for p in active if pod_is_ready(p)),
            unc_succeeded=set(unc.get("succeeded") or []),
            unc_failed=set(unc.get("failed") or []),
        )
        indexed = is_indexed(job)
        valid = [p for p in pods if has_finalizer(p) and (not indexed or valid_index(job, p) is not None)]
        new_s = [
            p for p in valid if uid_of(p) not in ctx.unc_succeeded and p["status"].get("phase") == "Succeeded"
        ]
        new_f = [p for p in valid if uid_of(p) not in ctx.unc_failed and pod_failed(p, job)]
        policy = (job.get("spec") or {}).get("podFailurePolicy")
        counted_f = [p for p in new_f if match_pod_failure_policy(policy, p)[1]]
        ctx.succeeded = int(status.get("succeeded") or 0) + len(new_s) + len(ctx.unc_succeeded)
        ctx.failed = int(status.get("failed") or 0) + len(counted_f) + len(ctx.unc_failed)
        ctx.backoff = new_backoff_record(self.backoffs.get(key_of(job)), new_s, new_f)
        return ctx

    def _failure_condition(self, ctx: SyncCtx, now: datetime) -> tuple[str, str, str] | None:
        """The pre-existing interim conditions, then the podFailurePolicy, backoffLimit and
        activeDeadlineSeconds failures (requeueing for the deadline)."""
        job, spec = ctx.job, ctx.job.get("spec") or {}
        if (c := job_condition(job, "SuccessCriteriaMet")) is not None:
            return "SuccessCriteriaMet", c.get("reason", ""), c.get("message", "")
        if (c := job_condition(job, "FailureTarget")) is not None:
            return "Failed", c.get("reason", ""), c.get("message", "")
        if (message := fail_job_message(job, ctx.pods)) is not None:
            return "FailureTarget", REASON_POD_FAILURE_POLICY, message
        backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)
        if ctx.failed > backoff_limit or past_backoff_limit_on_failure(job, ctx.pods, backoff_limit):
            return "FailureTarget", REASON_BACKOFF, MSG_BACKOFF
        if self._past_deadline(job, now):
            return "FailureTarget", REASON_DEADLINE, MSG_DEADLINE
        ads, start = spec.get("activeDeadlineSeconds"), parse_time(job["status"].get("startTime"))
        if ads is not None and start is not None and not spec.get("suspend"):
            left = (start + timedelta(seconds=int(ads)) - now).total_seconds()
            self.queue.add_after(key_of(job), max(left, 0) + 0.01)
        return None

    def _indexed_condition(self, ctx: SyncCtx) -> tuple[str, str, str] | None:
        """Indexed jobs: the succeeded (and failed) indexes, then the per-index failures and the
        successPolicy."""
        job, spec, status = ctx.job, ctx.job.get("spec") or {}, ctx.job["status"]
        completions = int(spec["completions"])
        ctx.prev_succeeded_idx = parse_indexes(status.get("completedIndexes"), completions)
        ctx.succeeded_idx = ctx.prev_succeeded_idx | {
            ix
            for p in ctx.pods
            if (p.get("status") or {}).get("phase") == "Succeeded"
            and has_finalizer(p)
            and (ix := valid_index(job, p)) is not None
        }
        ctx.succeeded = len(ctx.succeeded_idx)
        finished = ctx.finished
        if has_backoff_limit_per_index(job):
            ctx.failed_idx = parse_indexes(status.get("failedIndexes"), completions) | {
                ix
                for p in ctx.pods
                if has_finalizer(p) and (ix := valid_index(job, p)) is not None and is_index_failed(job, p)
            }
            max_failed = spec.get("maxFailedIndexes")
            if finished is None and max_failed is not None and len(ctx.failed_idx) > int(max_failed):
                finished = ("FailureTarget", REASON_MAX_FAILED_INDEXES, MSG_MAX_FAILED_INDEXES)
            elif finished is None and ctx.failed_idx and len(ctx.failed_idx) + ctx.succeeded >= completions:
                finished = ("FailureTarget", REASON_FAILED_INDEXES, MSG_FAILED_INDEXES)
            ctx.delayed = pods_with_delayed_deletion(ctx)
        if finished is None:
            message = match_success_policy(spec.get("successPolicy"), completions, ctx.succeeded_idx)
            if message is not None:
                finished = ("SuccessCriteriaMet", REASON_SUCCESS_POLICY, message)
        return finished

    async def _sync_job(self, job: dict[str, Any], pods: list[Mapping[str, Any]], now: datetime) -> None:
        """syncJob: decide whether the job finished, manage its pods, then track its status."""
        spec, status = job.get("spec") or {}, job["status"]
        old_status = clone(status)
        suspended = bool(spec.get("suspend"))
        if status.get("startTime") is None and not suspended:
            status["startTime"] = fmt_time(now)
        ctx = self._new_ctx(job, pods)
        ctx.finished = self._failure_condition(ctx, now)
        if is_indexed(job):
            ctx.finished = self._indexed_condition(ctx)
        error: BaseException | None = None
        active = len(ctx.active)
        if ctx.finished is not None:
            deleted, deleted_ready, error = await self._delete_pods(job, ctx.active, expect=False)
            if deleted != active:
                ctx.finished = None  # pods left: not finished yet
            active -= deleted
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
        else:
            managed = self.expectations.satisfied(key_of(job))
            if managed:
                active, error = await self._manage(ctx, now)
            completions = spec.get("completions")
            done = ctx.succeeded > 0 if completions is None else ctx.succeeded >= int(completions)
            if done and active == 0:
                ctx.finished = ("SuccessCriteriaMet", REASON_COMPLETIONS, MSG_COMPLETIONS)
            elif managed:
                self._suspend_conditions(job, suspended, now)
        status["active"] = active
        status["ready"] = ctx.ready
        status["terminating"] = ctx.terminating
        await self._track_status(ctx, old_status, now)
        if error is not None:
            raise error

    def _suspend_conditions(self, job: dict[str, Any], suspended: bool, now: datetime) -> None:
        status = job["status"]
        if suspended:
            cond = new_job_condition("Suspended", "True", "JobSuspended", "Job suspended", now)
            if ensure_condition(status, cond):
                self._event(job, EVENT_NORMAL, "Suspended", "Job suspended")
            return
        cond = new_job_condition("Suspended", "False", "JobResumed", "Job resumed", now)
        if ensure_condition(status, cond):
            self._event(job, EVENT_NORMAL, "Resumed", "Job resumed")
            status["startTime"] = fmt_time(now)

    def _count_finished_pods(self, ctx: SyncCtx) -> list[Mapping[str, Any]]:
        """trackJobStatusAndRemoveFinalizers, first part: put the finished pods whose finalizer may
        go into uncountedTerminatedPods (their indexes into completedIndexes); returns them."""
        job, status = ctx.job, ctx.job["status"]
        unc = status.setdefault("uncountedTerminatedPods", {})
        unc_s, unc_f = list(unc.get("succeeded") or []), list(unc.get("failed") or [])
        policy = (job.get("spec") or {}).get("podFailurePolicy")
        failing_all = ctx.finished is not None and ctx.finished[0] != "SuccessCriteriaMet"
        to_untrack: list[Mapping[str, Any]] = []
        for p in ctx.pods:
            if not has_finalizer(p):
                continue
            considered_failed = pod_failed(p, job)
            if not can_remove_finalizer(ctx, p, considered_failed):
                continue
            to_untrack.append(p)
            uid = uid_of(p)
            if (p.get("status") or {}).get("phase") == "Succeeded" and uid not in ctx.unc_failed:
                if is_indexed(job):
                    if (ix := valid_index(job, p)) is not None:
                        ctx.succeeded_idx.add(ix)
                elif uid not in ctx.unc_succeeded:
                    unc_s.append(uid)
            elif considered_failed or failing_all:
                if uid in ctx.unc_failed or (is_indexed(job) and valid_index(job, p) is None):
                    continue
                if match_pod_failure_policy(policy, p)[1]:
                    unc_f.append(uid)
        _set_uids(unc, "succeeded", unc_s)
        _set_uids(unc, "failed", unc_f)
        if is_indexed(job):
            status["succeeded"] = len(ctx.succeeded_idx)
            if ctx.succeeded_idx:
                status["completedIndexes"] = format_indexes(ctx.succeeded_idx)
            else:
                status.pop("completedIndexes", None)
            if ctx.failed_idx is not None:
                status["failedIndexes"] = format_indexes(ctx.failed_idx)
        return to_untrack

    @staticmethod
    def _clean_uncounted(status: dict[str, Any], with_finalizer: set[str]) -> None:
        """cleanUncountedPodsWithoutFinalizers: count the uncounted pods whose finalizer is gone."""
        unc = status.setdefault("uncountedTerminatedPods", {})
        for key in ("succeeded", "failed"):
            uids = list(unc.get(key) or [])
            keep = [u for u in uids if u in with_finalizer]
            if len(keep) != len(uids):
                status[key] = int(status.get(key) or 0) + len(uids) - len(keep)
            _set_uids(unc, key, keep)

    def _interim_condition(self, ctx: SyncCtx, now: datetime) -> None:
        """Record FailureTarget / SuccessCriteriaMet; what is left to set is Failed / Complete."""
        if ctx.finished is None:
            return
        ctype, reason, message = ctx.finished
        status = ctx.job["status"]
        if ctype == "FailureTarget":
            ensure_condition(status, new_job_condition(ctype, "True", reason, message, now))
            ctx.finished = ("Failed", reason, message)
        elif ctype == "SuccessCriteriaMet":
            if job_condition(ctx.job, "SuccessCriteriaMet") is None:
                ensure_condition(status, new_job_condition(ctype, "True", reason, message, now))
            ctx.finished = ("Complete", reason, message)

    async def _track_status(self, ctx: SyncCtx, old_status: dict[str, Any], now: datetime) -> None:
        """trackJobStatusAndRemoveFinalizers: flush the uncounted pods and interim condition, remove
        the finalizers, count the pods, then set Failed / Complete once no pod is left running."""
        job, status = ctx.job, ctx.job["status"]
        with_finalizer = {uid_of(p) for p in ctx.pods if has_finalizer(p)}
        self._clean_uncounted(status, with_finalizer)
        to_untrack = self._count_finished_pods(ctx)
        self._interim_condition(ctx, now)
        if go_status(status, "batch", "Job") != old_status:
            await self._update_status(job)
            self.backoffs[key_of(job)] = ctx.backoff
            old_status = clone(status)
        error = None
        if to_untrack:
            removed, error = await self._remove_finalizers(to_untrack)
            self._clean_uncounted(status, with_finalizer - removed)
        enacted = error is None and self._enact_finished(ctx)
        if go_status(status, "batch", "Job") != old_status:
            await self._update_status(job)
        if enacted:
            self._record_finished(ctx)
            await self._ttl(job, now)
        if error is not None:
            raise error

    def _enact_finished(self, ctx: SyncCtx) -> bool:
        """enactJobFinished: Complete / Failed once nothing is uncounted or terminating."""
        if ctx.finished is None:
            return False
        unc = ctx.job["status"].get("uncountedTerminatedPods") or {}
        if unc.get("succeeded") or unc.get("failed") or ctx.terminating > 0:
            return False
        ctype, reason, message = ctx.finished
        cond = new_job_condition(ctype, "True", reason, message, self.now())
        ensure_condition(ctx.job["status"], cond)
        if ctype == "Complete":
            ctx.job["status"]["completionTime"] = cond["lastTransitionTime"]
        return True

    def _record_finished(self, ctx: SyncCtx) -> None:
        job = ctx.job
        assert ctx.finished is not None
        ctype, reason, message = ctx.finished
        if ctype != "Complete":
            self._event(job, EVENT_WARNING, reason, message)
            return
        completions = (job.get("spec") or {}).get("completions")
        if completions is not None and int(job["status"].get("succeeded") or 0) > int(completions):
            self._event(
                job,
                EVENT_WARNING,
                "TooManySucceededPods",
                "Too many succeeded pods running after completion count reached",
            )
        self._event(job, EVENT_NORMAL, "Completed", "Job completed")

    def _past_deadline(self, job: Mapping[str, Any], now: datetime) -> bool:
        ads = (job.get("spec") or {}).get("activeDeadlineSeconds")
        start = parse_time((job.get("status") or {}).get("startTime"))
        if ads is None or start is None or (job.get("spec") or {}).get("suspend"):
            return False
        return now - start >= timedelta(seconds=int(ads))

    def _creation_delay(self, ctx: SyncCtx, now: datetime) -> float:
        """The pod failure backoff of the whole job: base * 2^(n-1) after the last failure, n the
        failures since the last success."""
        return ctx.backoff.remaining(self.pod_failure_backoff, self.max_pod_failure_backoff, now)

    def _ready_indexes(self, ctx: SyncCtx, indexes: list[int], now: datetime) -> tuple[list[int], float]:
        """getPodCreationInfoForIndependentIndexes: the indexes whose own backoff has passed, or the
        shortest wait when none has."""
        ready: list[int] = []
        waits: list[float] = []
        for ix in indexes:
            last = ctx.delayed.get(ix)
            wait = 0.0
            if last is not None:
                failures = sum(index_failure_counts(last)) + 1
                base, cap = self.pod_failure_backoff, self.max_pod_failure_backoff
                wait = backoff_remaining(base, cap, failures, pod_finish_time(last), now)
            if wait <= 0:
                ready.append(ix)
            else:
                waits.append(wait)
        return ready, (0.0 if ready or not waits else min(waits))

    def _wanted(self, ctx: SyncCtx) -> int:
        spec = ctx.job.get("spec") or {}
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
        completions = spec.get("completions")
        if completions is None:
            return len(ctx.active) if ctx.succeeded > 0 else parallelism
        return max(min(parallelism, int(completions) - ctx.succeeded), 0)

    async def _manage(self, ctx: SyncCtx, now: datetime) -> tuple[int, BaseException | None]:
        """manageJob: delete the pods of a suspended job or beyond what is wanted, or create the
        missing ones (after the backoff; pods still terminating count when only failed pods are
        replaced). Returns the active count — 0 while the pod failure backoff holds the creations
        back, as upstream's manageJob returns — and the first error."""
        job, key = ctx.job, key_of(ctx.job)
        active = len(ctx.active)
        suspended = bool((job.get("spec") or {}).get("suspend"))
        if suspended:
            victims = list(ctx.active)
        else:
            victims = active_pods_for_removal(job, ctx.active, max(active - self._wanted(ctx), 0))
        if victims or suspended:  # a suspended job creates nothing, with or without pods to delete
            await self._remove_finalizers([p for p in victims if has_finalizer(p)])
            deleted, deleted_ready, err = await self._delete_pods(job, victims)
            ctx.terminating += deleted
            ctx.ready -= deleted_ready
            return active - deleted, err
        terminating = ctx.terminating if only_replace_failed(job) else 0
        diff = self._wanted(ctx) - terminating - active
        if diff <= 0:
            return active, None
        per_index = has_backoff_limit_per_index(job)
        if not per_index and (delay := self._creation_delay(ctx, now)) > 0:
            self.queue.add_after(key, delay)
            return 0, None
        indexes: list[int | None] = [None] * diff
        if is_indexed(job):
            pending = first_pending_indexes(ctx, diff, int(job["spec"]["completions"]))
            if per_index:
                pending, wait = self._ready_indexes(ctx, pending, now)
                if wait > 0:
                    self.queue.add_after(key, wait)
                    return 0, None
            indexes = list(pending)
        created, err = await self._create_pods(ctx, indexes)
        return active + created, err

    def _pod_for_index(self, ctx: SyncCtx, idx: int | None) -> dict[str, Any]:
        job = ctx.job
        pod = pod_from_template(
            (job.get("spec") or {}).get("template"), job, owner_reference(job, "Job", "batch/v1")
        )
        md = pod["metadata"]
        md["finalizers"] = [*(md.get("finalizers") or []), TRACKING_FINALIZER]
        if idx is None:
            return pod
        md["generateName"] = f"{name_of(job)}-{idx}-"
        annotations = md.setdefault("annotations", {})
        annotations[INDEX_KEY] = str(idx)
        md.setdefault("labels", {})[INDEX_KEY] = str(idx)
        if has_backoff_limit_per_index(job):
            failures, ignored = new_index_failure_counts(job, ctx.delayed.get(idx))
            annotations[FAILURE_COUNT_KEY] = str(failures)
            if ignored > 0:
                annotations[IGNORED_FAILURE_COUNT_KEY] = str(ignored)
        pod["spec"]["hostname"] = f"{name_of(job)}-{idx}"
        for c in [*(pod["spec"].get("containers") or []), *(pod["spec"].get("initContainers") or [])]:
            env = [e for e in c.get("env") or [] if e.get("name") != "JOB_COMPLETION_INDEX"]
            env.append(
                {
                    "name": "JOB_COMPLETION_INDEX",
                    "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}},
                }
            )
            c["env"] = env
        return pod

    async def _create_pods(self, ctx: SyncCtx, indexes: list[int | None]) -> tuple[int, BaseException | None]:
        from vcluster.client import ApiError

        job, key = ctx.job, key_of(ctx.job)
        diff = len(indexes)
        if diff == 0:
            return 0, None
        self.expectations.expect(key, adds=diff)
        it = iter(indexes)

        async def create() -> None:
            pod = self._pod_for_index(ctx, next(it))
            try:
                created = await self.client.create("v1", "pods", pod, namespace_of(job))
            except ApiError as e:
                if namespace_terminating(e):
                    return
                self._event(job, EVENT_WARNING, "FailedCreate", f"Error creating: {e.message}")
                raise
            self._event(job, EVENT_NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")

        successes, err = await slow_start_batch(diff, 1, create)
        for _ in range(diff - successes):
            self.expectations.creation_observed(key)
        return successes, err

    async def _delete_pods(
        self, job: Mapping[str, Any], pods: list[Mapping[str, Any]], *, expect: bool = True
    ) -> tuple[int, int, BaseException | None]:
        """Delete pods: (deleted, deleted ready ones, the first error); NotFound counts as deleted."""
        from vcluster.client import ApiError

        key = key_of(job)
        if expect:
            self.expectations.expect_deletions(key, [key_of(p) for p in pods])

        async def one(pod: Mapping[str, Any]) -> None:
            try:
                await self.client.delete("v1", "pods", name_of(pod), namespace_of(pod))
            except ApiError as e:
                if expect:
                    self.expectations.deletion_observed(key, key_of(pod))
                if e.not_found:
                    return
                self._event(job, EVENT_WARNING, "FailedDelete", f"Error deleting: {e.message}")
                raise
            self._event(job, EVENT_NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        ok = [p for p, r in zip(pods, results, strict=True) if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, BaseException)]
        return len(ok), sum(1 for p in ok if pod_is_ready(p)), errors[0] if errors else None

    # ------------------------------------------------------------------ ttl-after-finished

    async def _ttl(self, job: Mapping[str, Any], now: datetime) -> None:
        """ttlafterfinished: delete a finished job `ttlSecondsAfterFinished` after it finished."""
        from vcluster.client import ApiError

        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if not self.ttl_after_finished or ttl is None or is_deleting(job):
            return
        finished, how = is_finished(job)
        if not finished:
            return
        status = job.get("status") or {}
        at = parse_time(status.get("completionTime")) if how == "Complete" else None
        if at is None:
            at = parse_time((job_condition(job, how) or {}).get("lastTransitionTime"))
        if at is None:
            return
        expire = at + timedelta(seconds=int(ttl))
        if now < expire:
            self.queue.add_after(key_of(job), (expire - now).total_seconds() + 0.01)
            return
        try:
            await self.client.delete(
                *JOB,
                name_of(job),
                namespace_of(job),
                propagation_policy="Foreground",
                preconditions={"resourceVersion": (job.get("metadata") or {}).get("resourceVersion")},
            )
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
