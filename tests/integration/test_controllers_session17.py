"""Controllers under the kubectl flows of session 17: suspending and resuming Jobs."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"job"}, {"job": {"pod_failure_backoff": 0.05}}).start()
    try:
        yield h
    finally:
        h.stop()


def _conds(job: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or []}


def _created(h: Harness, ns: str, job: str) -> list[str]:
    return [
        e["message"]
        for e in h.events(ns)
        if e["reason"] == "SuccessfulCreate" and e["involvedObject"]["name"] == job
    ]


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: %s}
spec:
  suspend: %s
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"""


def test_job_created_suspended_creates_no_pods_until_resumed(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "job-created-suspended")
    k.apply(JOB % ("later", "true"), "-n", ns)
    job = wait_for(
        lambda: (j := h.get("batch/v1", "jobs", "later", ns)) and "Suspended" in _conds(j) and j,
        what="Suspended condition",
    )
    assert _conds(job)["Suspended"]["status"] == "True"
    assert _conds(job)["Suspended"]["reason"] == "JobSuspended"
    assert "startTime" not in job["status"]
    time.sleep(0.5)  # manageJob ran (the condition is set): nothing may have been created since
    assert h.pods(ns) == [] and _created(h, ns, "later") == []
    assert h.get("batch/v1", "jobs", "later", ns)["status"].get("active", 0) == 0

    k("patch", "job/later", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_for(lambda: len(h.pods(ns)) == 1, what="one pod after resume")
    job = wait_for(
        lambda: (
            (j := h.get("batch/v1", "jobs", "later", ns))
            and _conds(j)["Suspended"]["status"] == "False"
            and j
        ),
        what="resumed",
    )
    assert _conds(job)["Suspended"]["reason"] == "JobResumed" and job["status"].get("startTime")


def test_suspending_a_running_job_deletes_its_pod_and_creates_none(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "job-suspend-running")
    k.apply(JOB % ("run", "false"), "-n", ns)
    wait_for(lambda: h.get("batch/v1", "jobs", "run", ns)["status"].get("ready") == 1, what="ready pod")
    first = h.pods(ns)[0]["metadata"]["name"]

    k("patch", "job/run", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: h.pods(ns) == [], what="the pod deleted")
    job = wait_for(
        lambda: (
            (j := h.get("batch/v1", "jobs", "run", ns))
            and _conds(j).get("Suspended", {}).get("status") == "True"
            and j.get("status", {}).get("active", 0) == 0
            and j
        ),
        what="suspended, nothing active",
    )
    assert _conds(job)["Suspended"]["reason"] == "JobSuspended"
    time.sleep(0.5)  # the pod's deletion was observed: a suspended job must not replace it
    assert h.pods(ns) == []
    assert _created(h, ns, "run") == [f"Created pod: {first}"]
    deleted = [e["message"] for e in h.events(ns) if e["reason"] == "SuccessfulDelete"]
    assert deleted == [f"Deleted pod: {first}"]
