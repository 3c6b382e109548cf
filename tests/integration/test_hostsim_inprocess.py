"""`HostSim` embedded in a process (as `vcluster host` runs it): start/stop, `kubectl logs -f`
through our API server to its kubelet endpoint, which must close when kubectl goes away, and pods
waiting for the Secret they reference."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vcluster.hostsim import HostSim, HostSimConfig

from .conftest import Kubectl, LineReader, Server, parse_table

pytestmark = pytest.mark.integration
T = TypeVar("T")
POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: tail
spec:
  containers:
  - name: app
    image: app:1
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The API server with the root CA publisher: the kubelet mounts `kube-root-ca.crt` into
    every pod with a ServiceAccount token and would not start a pod without it."""
    s = Server(tmp_path / "vc", controllers="serviceaccount,namespace,root-ca-cert-publisher")
    s.start()
    try:
        yield s
    finally:
        s.stop()


class LoopThread:
    """An event loop on a thread, so the test can drive kubectl while HostSim runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def wait_until(fn: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_embedded_hostsim_follow_logs_close_with_the_client(server: Server, tmp_path: Path) -> None:
    k = Kubectl(server, tmp_path / "kcache")
    lt = LoopThread()
    cfg = HostSimConfig(nodes=2, node_prefix="embedded-", log_line_seconds=0.1, lease_renew_seconds=0.5)
    sim = lt.run(HostSim.from_kubeconfig(str(server.kubeconfig), cfg))
    try:
        lt.run(sim.start())
        assert sim.node_names == ["embedded-1", "embedded-2"] and sim.kubelet_port > 0
        p = k.run("create", "serviceaccount", "default", check=False)
        assert p.returncode == 0 or "already exists" in p.stderr, p.stderr
        k.apply(POD)
        k("wait", "--for=condition=Ready", "--timeout=20s", "pod/tail", timeout=30)
        assert sim.server is not None and sim.server.active_streams == 0
        reader = LineReader(k.popen("logs", "-f", "tail"))
        try:
            reader.wait_for(lambda line: "INFO tick seq=" in line, timeout=10)
            seen = reader.wait_for(
                lambda line: "INFO tick seq=" in line and line not in reader.lines[:-1], 10
            )
            assert sim.server.active_streams == 1
        finally:
            lines, _ = reader.stop()  # kubectl goes away
        assert lines[0].endswith("INFO starting app (image app:1)") and seen in lines
        # the API server drops its upstream connection and the kubelet stream ends
        wait_until(
            lambda: sim.server is not None and sim.server.active_streams == 0, 10, "the stream to close"
        )
        pod = k.get_json("pod", "tail")
        assert pod["spec"]["nodeName"] in sim.node_names
        assert pod["status"]["hostIP"] == sim.address == "127.0.0.1"
    finally:
        lt.run(sim.stop())
        lt.close()
    # nodes stay registered after stop, like real nodes whose kubelet stopped
    names = [n["metadata"]["name"] for n in k.get_json("nodes")["items"]]
    assert names == ["embedded-1", "embedded-2"]


SECRET_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: needs-secret
spec:
  initContainers:
  - name: init
    image: busybox:1.36
    env:
    - name: USER
      valueFrom:
        secretKeyRef:
          name: creds
          key: user
  containers:
  - name: app
    image: app:1
    volumeMounts:
    - name: creds
      mountPath: /creds
  volumes:
  - name: creds
    projected:
      sources:
      - secret:
          name: creds
          items:
          - key: token
            path: token
"""


def test_embedded_hostsim_pod_waits_for_its_secret(server: Server, tmp_path: Path) -> None:
    k = Kubectl(server, tmp_path / "kcache")
    lt = LoopThread()
    cfg = HostSimConfig(nodes=1, node_prefix="secret-", lease_renew_seconds=0.5)
    sim = lt.run(HostSim.from_kubeconfig(str(server.kubeconfig), cfg))

    def pod() -> dict[str, Any]:
        return k.get_json("pod", "needs-secret")

    def warnings(reason: str) -> list[dict[str, Any]]:
        return [
            e
            for e in k.get_json("events")["items"]
            if e["involvedObject"].get("name") == "needs-secret"
            and e["reason"] == reason
            and e["type"] == "Warning"
        ]

    def mount_message(error: str) -> Callable[[], Any]:
        want = f'MountVolume.SetUp failed for volume "creds" : {error}'
        return lambda: [e for e in warnings("FailedMount") if e["message"] == want]

    try:
        lt.run(sim.start())
        assert sim.kubelet is not None
        p = k.run("create", "serviceaccount", "default", check=False)
        assert p.returncode == 0 or "already exists" in p.stderr, p.stderr
        k.apply(SECRET_POD)
        # no Secret: the projected volume cannot be set up, retried with backoff (one event, counted)
        (ev,) = wait_until(mount_message('secret "creds" not found'), 15, "FailedMount")
        assert ev["source"] == {"component": "kubelet", "host": "secret-1"}
        wait_until(lambda: mount_message('secret "creds" not found')()[0]["count"] >= 3, 15, "two retries")
        st = pod()["status"]
        assert st["phase"] == "Pending" and "podIP" not in st
        assert st["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
        assert sim.kubelet.waiting == 1
        # the Secret without the volume's key
        k("create", "secret", "generic", "creds", "--from-literal=user=admin")
        wait_until(mount_message("references non-existent secret key: token"), 10, "the missing key")
        assert pod()["status"]["phase"] == "Pending"
        # the volume's key but not the init container's: the init container cannot be created
        k(
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=token=t0k3n",
            "--dry-run=client",
            "-o",
            "yaml",
        )
        k("patch", "secret", "creds", "--type=merge", "-p", '{"data":{"user":null,"token":"dDBrM24="}}')
        msg = "couldn't find key user in Secret default/creds"
        want = {"waiting": {"reason": "CreateContainerConfigError", "message": msg}}

        def init_state() -> dict[str, Any]:
            return (pod()["status"].get("initContainerStatuses") or [{}])[0].get("state") or {}

        wait_until(lambda: init_state() == want, 10, "CreateContainerConfigError")
        st = pod()["status"]
        assert st["phase"] == "Pending" and st["podIP"]
        assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
        conds = {c["type"]: c for c in st["conditions"]}
        assert conds["Initialized"]["status"] == "False"
        assert conds["Initialized"]["message"] == "containers with incomplete status: [init]"
        (failed,) = wait_until(lambda: warnings("Failed"), 10, "Failed event")
        assert failed["message"] == f"Error: {msg}"
        assert failed["involvedObject"]["fieldPath"] == "spec.initContainers{init}"
        _, rows = parse_table(k("get", "pod", "needs-secret"))
        assert rows[0]["STATUS"] == "Init:CreateContainerConfigError"
        # the key arrives: the pod runs at once
        k("patch", "secret", "creds", "-p", '{"stringData":{"user":"admin"}}')
        k("wait", "--for=condition=Ready", "--timeout=8s", "pod/needs-secret", timeout=15)
        st = pod()["status"]
        assert st["phase"] == "Running"
        assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
        assert sim.kubelet.waiting == 0
    finally:
        lt.run(sim.stop())
        lt.close()
