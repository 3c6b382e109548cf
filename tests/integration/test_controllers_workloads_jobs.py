"""Job (+ ttl-after-finished) and CronJob controllers against our API server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, mark_finished, wait_for
from vcluster.controllers.base import parse_time

pytestmark = pytest.mark.integration


class FakeClock:
    """A settable clock for the cronjob controller (starts at the real time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t = datetime.now(UTC)

    def __call__(self) -> datetime:
        with self._lock:
            return self._t

    def set(self, t: datetime) -> None:
        with self._lock:
            self._t = t


CLOCK = FakeClock()


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    options = {"job": {"pod_failure_backoff": 0.05}, "cronjob": {"clock": CLOCK}}
    h = Harness(module_server, {"job", "cronjob"}, options).start()
    try:
        yield h
    finally:
        h.stop()


def _running(h: Harness, ns: str, sel: str) -> list[dict]:
    return [
        p
        for p in h.pods(ns, sel)
        if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def _job(h: Harness, ns: str, name: str) -> dict:
    return h.get("batch/v1", "jobs", name, ns)


def _conds(job: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}


def test_job_runs_to_completion_with_tracking_finalizers(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "job-complete")
    k.apply(
        """
apiVersion: batch/v1
kind: Job
metadata: {name: calc}
spec:
  completions: 3
  parallelism: 2
  ttlSecondsAfterFinished: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
""",
        "-n",
        ns,
    )
    job = _job(h, ns, "calc")
    uid = job["metadata"]["uid"]
    pods = wait_for(lambda: len(p := _running(h, ns, "job-name=calc")) == 2 and p, what="2 running pods")
    for p in pods:
        assert p["metadata"]["name"].startswith("calc-") and len(p["metadata"]["name"]) == len("calc-") + 5
        assert "batch.kubernetes.io/job-tracking" in p["metadata"]["finalizers"]
        assert p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == uid
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "calc"
        ref = p["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == (
            "Job",
            uid,
            True,
            True,
        )
    job = wait_for(lambda: (j := _job(h, ns, "calc"))["status"].get("ready") == 2 and j)
    assert job["status"]["active"] == 2 and job["status"].get("startTime")

    done: set[str] = set()
    while len(done) < 3:
        running = wait_for(
            lambda: [p for p in _running(h, ns, "job-name=calc") if p["metadata"]["name"] not in done]
        )
        pod = running[0]
        h.api(lambda c, pod=pod: mark_finished(c, pod))
        done.add(pod["metadata"]["name"])
        # The finalizer goes once the pod is counted.
        wait_for(
            lambda pod=pod: (
                "batch.kubernetes.io/job-tracking"
                not in (h.get("v1", "pods", pod["metadata"]["name"], ns)["metadata"].get("finalizers") or [])
            ),
            what="finalizer removed",
        )

    job = wait_for(lambda: "Complete" in _conds(j := _job(h, ns, "calc")) and j, what="Complete")
    st = job["status"]
    assert st["succeeded"] == 3 and st.get("failed", 0) == 0 and st.get("active", 0) == 0
    conds = _conds(job)
    assert conds["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
    assert conds["Complete"]["reason"] == "CompletionsReached"
    assert conds["Complete"]["message"] == "Reached expected number of succeeded pods"
    assert st["completionTime"]
    reasons = wait_for(
        lambda: (
            "Completed"
            in (r := [e["reason"] for e in h.events(ns) if e["involvedObject"].get("name") == "calc"])
            and r
        )
    )
    assert reasons.count("SuccessfulCreate") == 3
    # ttlSecondsAfterFinished: 1 -> the job is deleted (foreground) about a second later.
    wait_for(
        lambda: (
            not [
                j
                for j in h.api(lambda c: c.list_all("batch/v1", "jobs", ns))[0]
                if not j["metadata"].get("deletionTimestamp")
            ]
        ),
        timeout=10,
        what="job deleted by ttl-after-finished",
    )


def test_job_backoff_limit_fails_the_job(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "job-fail")
    k.apply(
        """
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
""",
        "-n",
        ns,
    )
    failed: set[str] = set()
    for _ in range(2):
        pod = wait_for(
            lambda: [p for p in _running(h, ns, "job-name=flaky") if p["metadata"]["name"] not in failed]
        )[0]
        h.api(lambda c, pod=pod: mark_finished(c, pod, succeeded=False))
        failed.add(pod["metadata"]["name"])
    job = wait_for(lambda: "Failed" in _conds(j := _job(h, ns, "flaky")) and j, what="Failed")
    conds = _conds(job)
    assert conds["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert job["status"]["failed"] == 2 and job["status"].get("succeeded", 0) == 0
    assert "completionTime" not in job["status"]
    evs = wait_for(lambda: [e for e in h.events(ns) if e["reason"] == "BackoffLimitExceeded"])
    assert evs[0]["type"] == "Warning" and evs[0]["message"] == "Job has reached the specified backoff limit"
    # No third pod was started.
    assert len(h.pods(ns, "job-name=flaky")) == 2


def test_cronjob_creates_job_on_schedule_and_tracks_it(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "cron-basic")
    k("create", "cronjob", "tick", "--image=busybox", "--schedule=*/1 * * * *", "-n", ns)
    cj = h.get("batch/v1", "cronjobs", "tick", ns)
    created = parse_time(cj["metadata"]["creationTimestamp"])
    assert created is not None
    # Nothing is due at the creation time.
    CLOCK.set(created)
    k("annotate", "cronjob/tick", "poke=1", "-n", ns)
    # Two and a half minutes later: the most recent minute boundary is due.
    now = created + timedelta(minutes=2, seconds=30)
    CLOCK.set(now)
    k("annotate", "cronjob/tick", "poke=2", "--overwrite", "-n", ns)
    due = now.replace(second=0, microsecond=0)
    name = f"tick-{int(due.timestamp()) // 60}"
    job = wait_for(lambda: [j for j in h.api(lambda c: c.list_all("batch/v1", "jobs", ns))[0]], what="a job")
    assert [j["metadata"]["name"] for j in job] == [name]
    job = job[0]
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == (
        "CronJob",
        "tick",
        True,
        True,
    )
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == due.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    cj = wait_for(lambda: (c := h.get("batch/v1", "cronjobs", "tick", ns))["status"].get("active") and c)
    assert [a["name"] for a in cj["status"]["active"]] == [name]
    assert cj["status"]["lastScheduleTime"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
    wait_for(
        lambda: any(
            e["message"] == f"Created job {name}" for e in h.events(ns) if e["reason"] == "SuccessfulCreate"
        ),
        what="SuccessfulCreate event",
    )
    out = k("get", "cronjob", "tick", "-n", ns)
    assert "tick" in out and "*/1 * * * *" in out

    # The job's pod finishes -> job Complete -> cronjob drops it from active, records success.
    pod = wait_for(lambda: _running(h, ns, f"job-name={name}"))[0]
    h.api(lambda c: mark_finished(c, pod))
    cj = wait_for(
        lambda: (
            (c := h.get("batch/v1", "cronjobs", "tick", ns))["status"].get("lastSuccessfulTime")
            and not c["status"].get("active")
            and c
        ),
        what="cronjob saw the completed job",
    )
    wait_for(lambda: any(e["reason"] == "SawCompletedJob" for e in h.events(ns)), what="SawCompletedJob")

    # Suspended: no new job even when due.
    k("patch", "cronjob/tick", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    CLOCK.set(now + timedelta(minutes=1))
    k("annotate", "cronjob/tick", "poke=3", "--overwrite", "-n", ns)
    k(
        "patch",
        "cronjob/tick",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"suspend":false,"concurrencyPolicy":"Forbid"}}',
    )
    jobs = wait_for(lambda: len(j := h.api(lambda c: c.list_all("batch/v1", "jobs", ns))[0]) == 2 and j)
    second = f"tick-{int((due + timedelta(minutes=1)).timestamp()) // 60}"
    assert sorted(j["metadata"]["name"] for j in jobs) == sorted([name, second])
    # Forbid: while the second job runs, the next due run is skipped with JobAlreadyActive.
    CLOCK.set(now + timedelta(minutes=2))
    k("annotate", "cronjob/tick", "poke=4", "--overwrite", "-n", ns)
    wait_for(lambda: any(e["reason"] == "JobAlreadyActive" for e in h.events(ns)), what="JobAlreadyActive")
    assert len(h.api(lambda c: c.list_all("batch/v1", "jobs", ns))[0]) == 2
