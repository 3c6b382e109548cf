"""Job controller (with finalizer-based pod tracking) and the ttl-after-finished controller."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
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
    is_deleting,
    key_of,
    name_of,
    namespace_of,
    namespace_terminating,
    owner_reference,
    parse_time,
    pod_from_template,
    pod_is_ready,
    release,
    resolve_controller_ref,
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
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0

REASON_BACKOFF = "BackoffLimitExceeded"
MSG_BACKOFF = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MSG_DEADLINE = "Job was active longer than specified deadline"
REASON_COMPLETIONS = "CompletionsReached"
MSG_COMPLETIONS = "Reached expected number of succeeded pods"


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
    """succeededIndexes.String(): '1,3-5,7'."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        try:
            lo, hi = int(a), int(b or a)
        except ValueError:
            continue
        out.update(i for i in range(lo, hi + 1) if i < completions)
    return out


def pod_index(pod: Mapping[str, Any]) -> int | None:
    md = pod.get("metadata") or {}
    v = (md.get("annotations") or {}).get(INDEX_KEY) or (md.get("labels") or {}).get(INDEX_KEY)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


REASON_POD_FAILURE_POLICY = "PodFailurePolicy"


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
    for field in ("containerStatuses", "initContainerStatuses"):
        for cs in status.get(field) or []:
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
    first rule matching a failed pod (FailIndex needs backoffLimitPerIndex, which is not served)."""
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
        if action == "Count":
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
        for field in ("initContainerStatuses", "containerStatuses"):
            restarts += sum(int(cs.get("restartCount") or 0) for cs in status.get(field) or [])
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
    latest: datetime | None = None
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None and (latest is None or t > latest):
            latest = t
    if latest is None:
        c = get_condition(pod.get("status"), "Ready")
        latest = parse_time((c or {}).get("lastTransitionTime"))
    return latest


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
        self.job_inf = informers.informer(*JOB)
        self.pod_inf = informers.informer("v1", "pods")
        self.job_inf.add_handler(self._on_job)
        self.pod_inf.add_handler(self._on_pod)

    def _lookup(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.job_inf.get(name, ns)

    def _on_job(self, event: str, obj: dict, old: dict | None) -> None:
        if event == "delete":
            self.expectations.delete(key_of(obj))
        self.enqueue(obj)

    def _on_pod(self, event: str, obj: dict, old: dict | None) -> None:
        job = resolve_controller_ref(obj, "Job", self._lookup)
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

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.job_inf.get(name, ns)
        if cached is None:
            self.expectations.delete(key)
            return
        job = clone(cached)
        job.setdefault("status", {})
        now = self.now()
        finished, _ = is_finished(job)
        pods = await self._claim_pods(job)
        if finished:
            await self._remove_finalizers(job, [p for p in pods if self._has_finalizer(p)])
            await self._ttl(job, now)
            return
        if is_deleting(job):
            await self._remove_finalizers(job, [p for p in pods if self._has_finalizer(p)])
            return
        await self._sync_job(job, pods, now)

    def _has_finalizer(self, pod: Mapping[str, Any]) -> bool:
        return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])

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

    async def _remove_finalizers(self, job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> None:
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
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _update_status(self, job: dict[str, Any]) -> dict[str, Any]:
        res = await self.client.update(
            *JOB, typed(job, "batch/v1", "Job"), namespace_of(job), subresource="status"
        )
        job["metadata"]["resourceVersion"] = res["metadata"]["resourceVersion"]
        return res

    async def _sync_job(self, job: dict[str, Any], pods: list[Mapping[str, Any]], now: datetime) -> None:
        key = key_of(job)
        spec = job.get("spec") or {}
        status = job["status"]
        old_status = clone(status)
        suspended = bool(spec.get("suspend"))
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism") if spec.get("parallelism") is not None else 1)
        backoff_limit = int(spec.get("backoffLimit") if spec.get("backoffLimit") is not None else 6)

        if status.get("startTime") is None and not suspended:
            status["startTime"] = fmt_time(now)

        # --- account for finished pods (uncountedTerminatedPods, then finalizer removal)
        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_s = set(uncounted.get("succeeded") or [])
        unc_f = set(uncounted.get("failed") or [])
        succeeded_idx = (
            parse_indexes(status.get("completedIndexes"), int(completions or 0)) if indexed else set()
        )
        to_untrack: list[Mapping[str, Any]] = []
        for p in pods:
            if not self._has_finalizer(p):
                continue
            phase = (p.get("status") or {}).get("phase")
            if phase == "Succeeded":
                unc_s.add(uid_of(p))
                to_untrack.append(p)
                idx = pod_index(p)
                if indexed and idx is not None and completions is not None and idx < int(completions):
                    succeeded_idx.add(idx)
            elif pod_failed(p, job):
                if match_pod_failure_policy(spec.get("podFailurePolicy"), p)[1]:
                    unc_f.add(uid_of(p))
                to_untrack.append(p)
        active = [
            p
            for p in pods
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not is_deleting(p)
        ]
        terminating = [
            p
            for p in pods
            if is_deleting(p) and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ]
        if to_untrack:
            status["uncountedTerminatedPods"] = {"succeeded": sorted(unc_s), "failed": sorted(unc_f)}
            if status != old_status:
                await self._update_status(job)
            await self._remove_finalizers(job, to_untrack)
        if unc_s or unc_f:
            if indexed:
                status["succeeded"] = len(succeeded_idx)
                status["completedIndexes"] = format_indexes(succeeded_idx)
            else:
                status["succeeded"] = int(status.get("succeeded") or 0) + len(unc_s)
            status["failed"] = int(status.get("failed") or 0) + len(unc_f)
            status["uncountedTerminatedPods"] = {}
        succeeded = int(status.get("succeeded") or 0)
        failed = int(status.get("failed") or 0)

        # --- finished?
        finish: tuple[str, str, str] | None = None  # (final type, reason, message)
        fail_message = fail_job_message(job, pods)
        if job_condition(job, "FailureTarget") is not None:
            c = job_condition(job, "FailureTarget") or {}
            finish = ("Failed", c.get("reason", ""), c.get("message", ""))
        elif job_condition(job, "SuccessCriteriaMet") is not None:
            finish = ("Complete", REASON_COMPLETIONS, MSG_COMPLETIONS)
        elif fail_message is not None:
            finish = ("Failed", REASON_POD_FAILURE_POLICY, fail_message)
        elif failed > backoff_limit or past_backoff_limit_on_failure(job, pods, backoff_limit):
            finish = ("Failed", REASON_BACKOFF, MSG_BACKOFF)
        elif self._past_deadline(job, now):
            finish = ("Failed", REASON_DEADLINE, MSG_DEADLINE)
        elif completions is None:
            if succeeded > 0 and not active:
                finish = ("Complete", REASON_COMPLETIONS, MSG_COMPLETIONS)
        elif succeeded >= int(completions):
            finish = ("Complete", REASON_COMPLETIONS, MSG_COMPLETIONS)

        if finish is not None:
            final, reason, message = finish
            interim = "FailureTarget" if final == "Failed" else "SuccessCriteriaMet"
            ensure_condition(status, new_job_condition(interim, "True", reason, message, now))
            if active:
                await self._delete_pods(job, active)
            remaining = [
                p
                for p in self.pod_inf.list(namespace_of(job))
                if (controller_ref(p) or {}).get("uid") == uid_of(job)
            ]
            still = [
                p for p in remaining if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            ]
            status["active"] = 0 if not still else len([p for p in still if not is_deleting(p)])
            status["ready"] = 0
            status["terminating"] = len([p for p in still if is_deleting(p)])
            unc = status.get("uncountedTerminatedPods") or {}
            if not still and not active and not unc.get("succeeded") and not unc.get("failed"):
                ensure_condition(status, new_job_condition(final, "True", reason, message, now))
                if final == "Complete":
                    status["completionTime"] = fmt_time(now)
                    self._event(job, EVENT_NORMAL, "Completed", "Job completed")
                else:
                    self._event(job, EVENT_WARNING, reason, message)
            status["uncountedTerminatedPods"] = unc
            if status != old_status:
                await self._update_status(job)
            if is_finished(job)[0]:
                await self._ttl(job, now)
            return

        # --- suspend / resume
        if suspended:
            if active:
                await self._delete_pods(job, active)
            if ensure_condition(
                status, new_job_condition("Suspended", "True", "JobSuspended", "Job suspended", now)
            ):
                self._event(job, EVENT_NORMAL, "Suspended", "Job suspended")
            active = []
        elif job_condition(job, "Suspended") is not None:
            ensure_condition(
                status, new_job_condition("Suspended", "False", "JobResumed", "Job resumed", now)
            )
            status["startTime"] = fmt_time(now)
            self._event(job, EVENT_NORMAL, "Resumed", "Job resumed")

        # --- manage active pods
        if not suspended and self.expectations.satisfied(key):
            delay = self._creation_delay(job, pods, failed, now)
            if delay > 0:
                self.queue.add_after(key, delay)
            else:
                active = await self._manage(
                    job,
                    active,
                    succeeded,
                    succeeded_idx,
                    parallelism,
                    completions,
                    indexed,
                    len(terminating) if only_replace_failed(job) else 0,
                )
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if pod_is_ready(p))
        status["terminating"] = len(terminating)
        status["uncountedTerminatedPods"] = status.get("uncountedTerminatedPods") or {}
        if status.get("succeeded") is None:
            status["succeeded"] = 0
        if status.get("failed") is None:
            status["failed"] = 0
        if status != old_status:
            await self._update_status(job)
        ads = spec.get("activeDeadlineSeconds")
        start = parse_time(status.get("startTime"))
        if ads is not None and start is not None and not suspended:
            self.queue.add_after(
                key, max((start + timedelta(seconds=int(ads)) - now).total_seconds(), 0) + 0.01
            )

    def _past_deadline(self, job: Mapping[str, Any], now: datetime) -> bool:
        ads = (job.get("spec") or {}).get("activeDeadlineSeconds")
        start = parse_time((job.get("status") or {}).get("startTime"))
        if ads is None or start is None or (job.get("spec") or {}).get("suspend"):
            return False
        return now - start >= timedelta(seconds=int(ads))

    def _creation_delay(
        self, job: Mapping[str, Any], pods: list[Mapping[str, Any]], failed: int, now: datetime
    ) -> float:
        """The pod failure backoff: base * 2^(failures-1) after the last failure, capped."""
        if failed <= 0 or self.pod_failure_backoff <= 0:
            return 0.0
        backoff = min(self.pod_failure_backoff * 2 ** (failed - 1), self.max_pod_failure_backoff)
        last = None
        for p in pods:
            if (p.get("status") or {}).get("phase") == "Failed":
                t = pod_finish_time(p)
                if t is not None and (last is None or t > last):
                    last = t
        if last is None:
            return 0.0
        return max((last + timedelta(seconds=backoff) - now).total_seconds(), 0.0)

    async def _manage(
        self,
        job: dict[str, Any],
        active: list[Mapping[str, Any]],
        succeeded: int,
        succeeded_idx: set[int],
        parallelism: int,
        completions: int | None,
        indexed: bool,
        terminating: int = 0,
    ) -> list[Mapping[str, Any]]:
        """manageJob: delete active pods beyond what is wanted or create the missing ones (pods
        still terminating count as active when the Job replaces only failed pods)."""
        key = key_of(job)
        if completions is None:
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = max(min(parallelism, int(completions) - succeeded), 0)
        diff = want - len(active)
        if diff < 0:
            victims = sorted(
                active,
                key=lambda p: (pod_is_ready(p), (p.get("metadata") or {}).get("creationTimestamp") or ""),
            )
            victims = victims[:-diff]
            await self._delete_pods(job, victims)
            return [p for p in active if p not in victims]
        diff -= terminating
        if diff <= 0:
            return active
        indexes: list[int | None] = [None] * diff
        if indexed and completions is not None:
            taken = succeeded_idx | {i for p in active if (i := pod_index(p)) is not None}
            free = [i for i in range(int(completions)) if i not in taken][:diff]
            indexes = list(free)
            diff = len(indexes)
        self.expectations.expect(key, adds=diff)
        ref = owner_reference(job, "Job", "batch/v1")
        template = (job.get("spec") or {}).get("template")
        it = iter(indexes)

        from vcluster.client import ApiError

        async def create() -> None:
            idx = next(it)
            pod = pod_from_template(template, job, ref)
            md = pod["metadata"]
            md["finalizers"] = [*(md.get("finalizers") or []), TRACKING_FINALIZER]
            if idx is not None:
                md["generateName"] = f"{name_of(job)}-{idx}-"
                md.setdefault("annotations", {})[INDEX_KEY] = str(idx)
                md.setdefault("labels", {})[INDEX_KEY] = str(idx)
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
        if err is not None:
            raise err
        return active

    async def _delete_pods(self, job: Mapping[str, Any], pods: list[Mapping[str, Any]]) -> None:
        from vcluster.client import ApiError

        key = key_of(job)
        self.expectations.expect_deletions(key, [key_of(p) for p in pods])

        async def one(pod: Mapping[str, Any]) -> None:
            try:
                await self.client.delete("v1", "pods", name_of(pod), namespace_of(pod))
            except ApiError as e:
                self.expectations.deletion_observed(key, key_of(pod))
                if e.not_found:
                    return
                self._event(job, EVENT_WARNING, "FailedDelete", f"Error deleting: {e.message}")
                raise
            self._event(job, EVENT_NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(one(p) for p in pods), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

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
