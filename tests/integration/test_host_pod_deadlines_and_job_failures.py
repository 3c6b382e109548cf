"""Workload behaviours of the simulated host (`vcluster host`: API server, all controllers and the
simulated kubelets) that a Kubernetes user hits, checked with the real kubectl."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Kubectl, host_fixture, host_kubectl_fixture, parse_table
from tests.integration.test_controllers_workloads import wait_for

pytestmark = pytest.mark.integration

# Containers of run-to-completion pods run 30 s here: whatever ends them sooner is under test.
host = host_fixture("--nodes", "1", "--run-seconds", "30")
k = host_kubectl_fixture()

DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def _get(k: Kubectl, *args: str) -> dict:
    return json.loads(k("get", *args, "-o", "json"))


def test_pod_active_deadline_fails_the_pod(k: Kubectl) -> None:
    """kubelet's activeDeadlineHandler: past spec.activeDeadlineSeconds (from status.startTime)
    the pod is Failed with reason DeadlineExceeded and its containers are killed."""
    k.namespace("deadline-pod")
    k.apply(
        """
apiVersion: v1
kind: Pod
metadata: {name: capped}
spec:
  activeDeadlineSeconds: 2
  containers: [{name: app, image: nginx}]
""",
        "-n",
        "deadline-pod",
    )
    pod = wait_for(
        lambda: (
            (p := _get(k, "pod", "capped", "-n", "deadline-pod"))["status"].get("phase") == "Failed" and p
        ),
        timeout=15,
        what="pod Failed",
    )
    st = pod["status"]
    assert (st["reason"], st["message"]) == ("DeadlineExceeded", DEADLINE_MESSAGE)
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (137, "Error")
    row = parse_table(k("get", "pod", "capped", "-n", "deadline-pod"))[1][0]
    assert (row["READY"], row["STATUS"]) == ("0/1", "Error")  # kubectl shows the container's reason
    events = _get(k, "events", "-n", "deadline-pod", "--field-selector", "involvedObject.name=capped")
    assert any(
        (e["type"], e["reason"], e["message"]) == ("Normal", "DeadlineExceeded", DEADLINE_MESSAGE)
        for e in events["items"]
    )


def test_job_whose_pod_exceeds_its_deadline_hits_the_backoff_limit(k: Kubectl) -> None:
    """A failed pod counts against backoffLimit: with 0 the Job fails at once."""
    k.namespace("deadline-job")
    k.apply(
        """
apiVersion: batch/v1
kind: Job
metadata: {name: capped}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      activeDeadlineSeconds: 1
      containers: [{name: app, image: busybox}]
""",
        "-n",
        "deadline-job",
    )
    k("wait", "--for=condition=failed", "job/capped", "-n", "deadline-job", "--timeout=20s")
    job = _get(k, "job", "capped", "-n", "deadline-job")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert job["status"]["failed"] == 1 and not job["status"].get("succeeded")


def _failing_job(name: str, rule: str) -> str:
    """A Job whose pods are killed at their 1 s deadline (exit code 137), with one failure rule."""
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
  backoffLimit: 0
  podFailurePolicy:
    rules: [{rule}]
  template:
    spec:
      restartPolicy: Never
      activeDeadlineSeconds: 1
      containers: [{{name: app, image: busybox}}]
"""


def test_job_pod_failure_policy_fail_job_and_ignore(k: Kubectl) -> None:
    """podFailurePolicy: a FailJob rule fails the Job with reason PodFailurePolicy and upstream's
    message; an Ignore rule leaves the failure out of status.failed and the backoff limit."""
    ns = "failure-policy"
    k.namespace(ns)
    k.apply(
        _failing_job(
            "fail", "{action: FailJob, onExitCodes: {containerName: app, operator: In, values: [137]}}"
        ),
        "-n",
        ns,
    )
    k.apply(_failing_job("ignore", "{action: Ignore, onExitCodes: {operator: In, values: [137]}}"), "-n", ns)

    k("wait", "--for=condition=failed", "job/fail", "-n", ns, "--timeout=20s")
    job = _get(k, "job", "fail", "-n", ns)
    pod = _get(k, "pods", "-n", ns, "-l", "job-name=fail")["items"][0]["metadata"]["name"]
    message = f"Container app for pod {ns}/{pod} failed with exit code 137 matching FailJob rule at index 0"
    conds = {c["type"]: (c["reason"], c["message"]) for c in job["status"]["conditions"]}
    assert conds["FailureTarget"] == conds["Failed"] == ("PodFailurePolicy", message)

    def ignored_pod_untracked() -> bool:
        pods = _get(k, "pods", "-n", ns, "-l", "job-name=ignore")["items"]
        return any(p["status"].get("phase") == "Failed" and not p["metadata"].get("finalizers") for p in pods)

    wait_for(ignored_pod_untracked, timeout=15, what="the ignored pod accounted for")
    job = _get(k, "job", "ignore", "-n", ns)
    assert not job["status"].get("failed")
    assert not any(c["type"] in ("Failed", "FailureTarget") for c in job["status"].get("conditions") or [])
