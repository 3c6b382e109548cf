"""`HostSim` embedded in a process (as `vcluster host` runs it): start/stop, and `kubectl logs -f`
through our API server to its kubelet endpoint, which must close when kubectl goes away."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vcluster.hostsim import HostSim, HostSimConfig

from .conftest import Kubectl, LineReader, Server

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
