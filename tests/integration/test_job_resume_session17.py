"""Resuming a Job that already ran (kube 1.32.10+, kubernetes/kubernetes#134521): the job
controller's resume write moves startTime and must be accepted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, mark_finished, wait_for
from vcluster.controllers.base import parse_time

pytestmark = pytest.mark.integration

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: resume}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"""


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"job"}, {"job": {"pod_failure_backoff": 0.05}}).start()
    try:
        yield h
    finally:
        h.stop()


def _conds(job: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}


def _live(h: Harness, ns: str) -> list[dict]:
    return [p for p in h.pods(ns) if not p["metadata"].get("deletionTimestamp")]


def test_resuming_a_started_job_resets_start_time_and_completes(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "job-resume-started")
    k.create(JOB, "-n", ns)
    first = wait_for(
        lambda: (j := h.get("batch/v1", "jobs", "resume", ns))["status"].get("ready") == 1 and j,
        what="a ready pod",
    )
    first_start = parse_time(first["status"]["startTime"])
    first_pod = _live(h, ns)[0]["metadata"]["name"]

    k("patch", "job/resume", "-n", ns, "--type=strategic", "-p", '{"spec":{"suspend":true}}')
    suspended = wait_for(
        lambda: (
            (j := h.get("batch/v1", "jobs", "resume", ns))
            and _conds(j).get("Suspended", {}).get("status") == "True"
            and j["status"].get("active", 0) == 0
            and not h.pods(ns)
            and j
        ),
        what="suspended with its pod gone",
    )
    assert parse_time(suspended["status"]["startTime"]) == first_start  # 1.32 keeps it while suspended

    # startTime has second granularity: resume in a later second so the reset is visible.
    while datetime.now(UTC).replace(microsecond=0) <= first_start:
        time.sleep(0.05)
    resumed_at = datetime.now(UTC).replace(microsecond=0)
    k("patch", "job/resume", "-n", ns, "--type=strategic", "-p", '{"spec":{"suspend":false}}')
    resumed = wait_for(
        lambda: (
            (j := h.get("batch/v1", "jobs", "resume", ns))
            and _conds(j).get("Suspended", {}).get("status") == "False"
            and j["status"].get("ready") == 1
            and j
        ),
        what="Suspended=False with a ready pod",
    )
    cond = _conds(resumed)["Suspended"]
    assert (cond["reason"], cond["message"]) == ("JobResumed", "Job resumed")
    new_start = parse_time(resumed["status"]["startTime"])
    assert new_start is not None and new_start >= resumed_at > first_start
    reasons = [e["reason"] for e in h.events(ns) if e["involvedObject"]["name"] == "resume"]
    assert "Suspended" in reasons and "Resumed" in reasons

    pods = _live(h, ns)
    assert len(pods) == 1 and pods[0]["metadata"]["name"] != first_pod
    assert pods[0]["status"]["phase"] == "Running"
    h.api(lambda c: mark_finished(c, pods[0]))
    done = wait_for(
        lambda: (j := h.get("batch/v1", "jobs", "resume", ns)) and "Complete" in _conds(j) and j,
        what="Complete",
    )
    assert _conds(done)["Complete"]["status"] == "True"
    assert done["status"]["succeeded"] == 1 and done["status"].get("active", 0) == 0
    assert parse_time(done["status"]["startTime"]) == new_start
    assert parse_time(done["status"]["completionTime"]) >= new_start
    out = k(
        "get", "job/resume", "-n", ns, "-o", "jsonpath={.status.conditions[?(@.type=='Complete')].status}"
    )
    assert out.strip() == "True"
