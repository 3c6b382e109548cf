"""Controller behaviours checked against kube-controller-manager / kube-apiserver 1.32: the Job
controller's status counters during the pod failure backoff and the backoff record reset by a
success; the `default/kubernetes` Endpoints after a restart on another port."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.syncer_harness import wait_until
from tests.integration.test_controllers_workloads import Harness, _ns, mark_finished, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"job"}, {"job": {"pod_failure_backoff": 30.0}}).start()
    try:
        yield h
    finally:
        h.stop()


def _set_backoff(h: Harness, seconds: float) -> None:
    assert h.manager is not None
    h.manager.controllers["job"].pod_failure_backoff = seconds


@pytest.fixture
def backoff(harness: Harness) -> Iterator[None]:
    """Restore the module's 30 s pod failure backoff after a test that changes it."""
    yield
    _set_backoff(harness, 30.0)


def _job_yaml(name: str, completions: int, parallelism: int) -> str:
    return f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
  completions: {completions}
  parallelism: {parallelism}
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox}}]
"""


def _running(h: Harness, ns: str, job: str) -> list[dict]:
    return [
        p
        for p in h.pods(ns, f"job-name={job}")
        if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def _status(h: Harness, ns: str, job: str) -> dict:
    return h.get("batch/v1", "jobs", job, ns).get("status") or {}


def test_job_status_during_pod_failure_backoff(harness: Harness, module_kubectl: Kubectl) -> None:
    """manageJob returns 0 while the backoff holds the replacement back: status.active is 0 even
    with a pod still running; ready counts the ready active pods, terminating the deleting ones."""
    h = harness
    ns = _ns(module_kubectl, h, "job-backoff-status")
    module_kubectl.apply(_job_yaml("bo", 4, 2), "-n", ns)
    pods = wait_for(lambda: len(p := _running(h, ns, "bo")) == 2 and p, what="2 running pods")
    wait_for(lambda: _status(h, ns, "bo").get("ready") == 2, what="ready 2")
    h.api(lambda c: mark_finished(c, pods[0], succeeded=False))
    st = wait_for(
        lambda: (s := _status(h, ns, "bo")).get("failed") == 1 and not s.get("uncountedTerminatedPods") and s,
        what="the failure counted",
    )
    time.sleep(0.3)  # any further sync of the job (the finalizer removal) is done
    st = _status(h, ns, "bo")
    assert (st.get("active", 0), st.get("ready"), st.get("failed"), st.get("terminating")) == (0, 1, 1, 0), st
    assert len(h.pods(ns, "job-name=bo")) == 2  # no replacement during the backoff


def test_job_backoff_restarts_after_a_success(
    harness: Harness, module_kubectl: Kubectl, backoff: None
) -> None:
    """The backoff counts the failures since the last success (backoffStore.newBackoffRecord): after
    two failures and a success, the next failure waits the base delay, not base * 2^2."""
    h = harness
    _set_backoff(h, 1.0)
    ns = _ns(module_kubectl, h, "job-backoff-reset")
    module_kubectl.apply(_job_yaml("rs", 5, 1), "-n", ns)
    seen: set[str] = set()

    def finish_next(succeeded: bool) -> float:
        pod = wait_for(
            lambda: [p for p in _running(h, ns, "rs") if p["metadata"]["name"] not in seen],
            timeout=20,
            what="the next pod",
        )[0]
        seen.add(pod["metadata"]["name"])
        h.api(lambda c: mark_finished(c, pod, succeeded=succeeded))
        return time.monotonic()

    finish_next(False)
    finish_next(False)
    finish_next(True)
    failed_at = finish_next(False)
    wait_for(
        lambda: [p for p in h.pods(ns, "job-name=rs") if p["metadata"]["name"] not in seen],
        timeout=10,
        what="the replacement pod",
    )
    # One failure since the success: 1 s (timestamps have second precision, so at most that);
    # counting all three failures would hold it back 4 s.
    assert time.monotonic() - failed_at < 2.5


def test_kubernetes_endpoints_follow_a_restart_on_another_port(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The bootstrap controller's first round resets the Endpoints' ports (the Start-time reconcile,
    reconcilePorts=true): a server restarted on another port with the same data dir names its new
    port in the Endpoints and the EndpointSlice; the Service keeps its port 443."""
    server = Server(tmp_path_factory.mktemp("restart") / "d", controllers="bootstrap").start()
    try:
        k = Kubectl(server, tmp_path_factory.mktemp("kc"))
        first = server.port
        ep = k.get_json("endpoints", "kubernetes", "-n", "default")
        assert ep["subsets"][0]["ports"] == [{"name": "https", "port": first, "protocol": "TCP"}]
        server.stop()
        server.port = 0  # a free port again: another one
        server.start()
        assert server.port != first
        want = [{"name": "https", "port": server.port, "protocol": "TCP"}]
        ep = wait_until(
            lambda: (
                (e := k.get_json("endpoints", "kubernetes", "-n", "default"))["subsets"][0]["ports"] == want
                and e
            ),
            10,
            what="the Endpoints on the new port",
        )
        assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
        assert ep["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
        wait_until(
            lambda: (
                k.get_json("endpointslices.discovery.k8s.io", "kubernetes", "-n", "default")["ports"] == want
            ),
            10,
            what="the EndpointSlice on the new port",
        )
        assert k.get_json("service", "kubernetes", "-n", "default")["spec"]["ports"][0]["port"] == 443
    finally:
        server.stop()
