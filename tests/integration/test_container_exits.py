"""Containers that exit (the hostsim exit annotations) as a user sees them with the real kubectl:
RESTARTS counting up, CrashLoopBackOff, Init:Error, and the Job and ReplicaSet controllers reacting
as on a real cluster; then the same statuses through a virtual cluster.

The host part runs our API server with every controller and `vcluster hostsim` with a short
restart backoff; all workloads are created by one fixture so their waits overlap."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, launch_once, parse_table, server_fixture
from tests.integration.syncer_harness import Pair, host_name, pair_fixture, wait_until

pytestmark = pytest.mark.integration

EXIT = "hostsim.vcluster.loft.sh/exit-code"
RUN = "hostsim.vcluster.loft.sh/run-seconds"
HOSTSIM_READY = re.compile(r"vcluster hostsim ready: .* kubelet (https://\S+)")
NS = "exits"

server = server_fixture(controllers="*")
pair = pair_fixture(nodes=1)


@pytest.fixture(scope="module")
def hostsim(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`vcluster hostsim` for the server: one node, restart backoff 0.5 s doubling up to 2 s."""
    proc = Server(tmp_path_factory.mktemp("hostsim") / "sim")
    args = [
        "hostsim", "--kubeconfig", str(server.kubeconfig), "--nodes", "1", "--run-seconds", "1",
        "--restart-backoff", "0.5", "--restart-backoff-max", "2",
    ]  # fmt: skip
    launch_once(proc, args, HOSTSIM_READY, 30)
    try:
        yield proc
    finally:
        proc.stop()


def _annotations(code: str | None, run: str | None) -> str:
    items = [f'{k}: "{v}"' for k, v in ((EXIT, code), (RUN, run)) if v is not None]
    return "{" + ", ".join(items) + "}"


def _job(name: str, code: str, *, limit: int, policy: str = "Never", extra: str = "") -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
  backoffLimit: {limit}{extra}
  template:
    metadata: {{annotations: {_annotations(code, "0.2")}}}
    spec:
      restartPolicy: {policy}
      containers: [{{name: app, image: busybox}}]
---"""


def _deployment(name: str, code: str, run: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {_annotations(code, run)}
    spec:
      containers: [{{name: app, image: busybox}}]
---"""


def _pod(name: str, policy: str, annotations: str, *, init: bool = False) -> str:
    inits = "\n  initContainers: [{name: setup, image: busybox}]" if init else ""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, annotations: {annotations}}}
spec:
  restartPolicy: {policy}{inits}
  containers: [{{name: app, image: busybox}}]
---"""


WORKLOADS = "".join(
    [
        _deployment("crash", "1", "0.2"),
        _job("retry", "1", limit=1),
        _job(
            "fatal",
            "42",
            limit=3,
            extra="\n  podFailurePolicy:\n    rules: [{action: FailJob, onExitCodes: "
            "{containerName: app, operator: In, values: [42]}}]",
        ),
        _job("onfailure", "1", limit=2, policy="OnFailure"),
        _pod("init-never", "Never", _annotations("setup=2", None), init=True),
        _pod("init-always", "Always", _annotations("setup=2", None), init=True),
        _pod("init-slow", "Always", _annotations(None, "setup=1"), init=True),
        _pod("done", "OnFailure", _annotations("0", "0.2")),
        _pod("typo", "Always", _annotations("ap=1,x", None)),
    ]
)


@pytest.fixture(scope="module")
def k(server: Server, hostsim: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """kubectl in namespace NS, where every workload of the module was created at once."""
    kc = Kubectl(server, tmp_path_factory.mktemp("kc"))
    kc("create", "namespace", NS)
    wait_until(lambda: kc.run("get", "serviceaccount", "default", "-n", NS, check=False).returncode == 0)
    kc("apply", "-n", NS, "-f", "-", input=WORKLOADS)
    return kc


def _get(k: Kubectl, *args: str) -> dict[str, Any]:
    return json.loads(k("get", "-n", NS, *args, "-o", "json"))


def _row(k: Kubectl, pod: str) -> dict[str, str]:
    return parse_table(k("get", "pod", pod, "-n", NS))[1][0]


def _events(k: Kubectl, pod: str) -> list[dict[str, Any]]:
    return _get(k, "events", "--field-selector", f"involvedObject.name={pod}")["items"]


def _job_failed(k: Kubectl, name: str) -> dict[str, Any] | None:
    job = _get(k, "job", name)
    conds = {c["type"]: c for c in job["status"].get("conditions") or []}
    return job if "Failed" in conds else None


def test_deployment_pod_in_crash_loop_restarts_in_place(k: Kubectl) -> None:
    """RESTARTS climbs, CrashLoopBackOff with kubelet's message and BackOff events, the pod stays
    Running and not ready, and the ReplicaSet does not replace it."""

    def crash_looping() -> dict[str, Any] | None:
        pods = _get(k, "pods", "-l", "app=crash")["items"]
        if len(pods) != 1:
            return None
        c = pods[0]["status"].get("containerStatuses", [{}])[0]
        waiting = (c.get("state") or {}).get("waiting") or {}
        return (
            pods[0] if c.get("restartCount", 0) >= 3 and waiting.get("reason") == "CrashLoopBackOff" else None
        )

    pod = wait_until(crash_looping, timeout=20, what="the crash pod restarted 3 times, in CrashLoopBackOff")
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    c = pod["status"]["containerStatuses"][0]
    assert re.fullmatch(
        rf"back-off (500ms|1s|2s) restarting failed container=app pod={name}_{NS}\({uid}\)",
        c["state"]["waiting"]["message"],
    )
    last = c["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (1, "Error") and last["containerID"] == c["containerID"]
    assert pod["status"]["phase"] == "Running" and not c["ready"]
    conds = {x["type"]: x for x in pod["status"]["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "ContainersNotReady")
    rs = _get(k, "rs", "-l", "app=crash")["items"][0]
    assert rs["status"]["replicas"] == 1
    assert [p["metadata"]["uid"] for p in _get(k, "pods", "-l", "app=crash")["items"]] == [uid]
    restarts = int(_row(k, name)["RESTARTS"].split()[0])
    assert restarts >= 3
    events = _events(k, name)
    backoff = [e for e in events if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["type"] == "Warning"
    assert backoff[0]["message"] == f"Back-off restarting failed container app in pod {name}_{NS}({uid})"
    assert backoff[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    started = [e for e in events if e["reason"] == "Started"]
    assert sum(e.get("count", 1) for e in started) >= 4


def test_job_retries_failed_pods_up_to_the_backoff_limit(k: Kubectl) -> None:
    job = wait_until(lambda: _job_failed(k, "retry"), timeout=40, what="job retry Failed")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert job["status"]["failed"] == 2
    pods = _get(k, "pods", "-l", "job-name=retry")["items"]
    assert len(pods) == 2 and all(p["status"]["phase"] == "Failed" for p in pods)
    term = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (1, "Error")
    assert _row(k, pods[0]["metadata"]["name"])["STATUS"] == "Error"


def test_pod_failure_policy_on_exit_codes_fails_the_job_at_once(k: Kubectl) -> None:
    job = wait_until(lambda: _job_failed(k, "fatal"), timeout=20, what="job fatal Failed")
    pods = _get(k, "pods", "-l", "job-name=fatal")["items"]
    assert len(pods) == 1 and job["status"]["failed"] == 1
    message = (
        f"Container app for pod {NS}/{pods[0]['metadata']['name']} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == ("PodFailurePolicy", message)


def test_job_with_restart_on_failure_counts_restarts_against_the_backoff_limit(k: Kubectl) -> None:
    """OnFailure pods restart in place and never fail: their containers' restarts count against
    backoffLimit (pastBackoffLimitOnFailure), so the Job fails once they reach it (2 here)."""
    job = wait_until(lambda: _job_failed(k, "onfailure"), timeout=10, what="job onfailure Failed")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    wait_until(lambda: not _get(k, "pods", "-l", "job-name=onfailure")["items"], timeout=10, what="pod gone")


def test_init_container_failures(k: Kubectl) -> None:
    """Never: the pod fails (Init:Error); Always: retried with backoff (Init:CrashLoopBackOff,
    Pending); an init container that runs 1 s delays the containers."""
    wait_until(lambda: _row(k, "init-never")["STATUS"] == "Init:Error", timeout=10, what="Init:Error")
    assert _get(k, "pod", "init-never")["status"]["phase"] == "Failed"
    wait_until(
        lambda: _row(k, "init-always")["STATUS"] == "Init:CrashLoopBackOff",
        timeout=10,
        what="Init:CrashLoopBackOff",
    )
    pod = _get(k, "pod", "init-always")
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["initContainerStatuses"][0]["restartCount"] >= 1
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    k("wait", "--for=condition=Ready", "pod/init-slow", "-n", NS, "--timeout=15s")
    slow = _get(k, "pod", "init-slow")["status"]
    init = slow["initContainerStatuses"][0]["state"]["terminated"]
    assert (
        init["exitCode"] == 0
        and slow["containerStatuses"][0]["state"]["running"]["startedAt"] >= init["finishedAt"]
    )


def test_exit_zero_with_on_failure_completes_and_bad_annotations_are_reported(k: Kubectl) -> None:
    wait_until(lambda: _get(k, "pod", "done")["status"].get("phase") == "Succeeded", timeout=10, what="done")
    assert _get(k, "pod", "done")["status"]["containerStatuses"][0]["restartCount"] == 0
    assert _row(k, "done")["STATUS"] == "Completed"
    warnings = wait_until(
        lambda: [e for e in _events(k, "typo") if e["reason"] == "InvalidHostSimAnnotation"],
        timeout=10,
        what="the warnings",
    )
    assert {e["type"] for e in warnings} == {"Warning"}
    assert sorted(e["message"] for e in warnings) == [
        f'annotation {EXIT}: "ap=1": the pod has no container "ap"; ignored',
        f'annotation {EXIT}: "x" is not an exit code (an integer from 0 to 255); ignored',
    ]
    k("wait", "--for=condition=Ready", "pod/typo", "-n", NS, "--timeout=10s")  # runs as unscripted


# ---------------------------------------------------------------------------- through a virtual cluster
def _virtual_and_host_rows(p: Pair, name: str) -> tuple[dict[str, str], dict[str, str]]:
    v = parse_table(p.kv("get", "pod", name))[1][0]
    h = parse_table(p.kh("get", "pod", host_name(name), "-n", "test-namespace"))[1][0]
    return v, h


def test_virtual_cluster_shows_the_host_status_and_restarts(pair: Pair) -> None:
    """The syncer copies the host pod's status back: kubectl in the virtual cluster shows the same
    STATUS and RESTARTS (the host's default 10 s backoff keeps the first CrashLoopBackOff)."""
    pair.kv(
        "apply",
        "-f",
        "-",
        input=_pod("vcrash", "Always", _annotations("1", "0.2"))
        + _pod("vinit", "Never", _annotations("setup=3", None), init=True),
    )

    def same(name: str, status: str) -> tuple[dict[str, str], dict[str, str]] | None:
        v, h = _virtual_and_host_rows(pair, name)
        return (v, h) if v["STATUS"] == h["STATUS"] == status else None

    v, h = wait_until(
        lambda: same("vcrash", "CrashLoopBackOff"), timeout=15, what="vcrash in CrashLoopBackOff"
    )
    assert v["RESTARTS"].split()[0] == h["RESTARTS"].split()[0] == "1"
    vpod = json.loads(pair.kv("get", "pod", "vcrash", "-o", "json"))
    c = vpod["status"]["containerStatuses"][0]
    assert (
        c["lastState"]["terminated"]["exitCode"] == 1
        and c["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    )
    wait_until(lambda: same("vinit", "Init:Error"), timeout=15, what="vinit Init:Error")
    assert json.loads(pair.kv("get", "pod", "vinit", "-o", "json"))["status"]["phase"] == "Failed"
