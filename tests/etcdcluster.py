"""A real etcd cluster of several members for tests (Debian's etcd-server): each member has its own
data dir and client/peer URLs on free 127.0.0.1 ports; members can be killed and restarted, frozen
(SIGSTOP) and thawed, and all are always stopped at the end.

Fixture-free on purpose: `running_cluster(3)` is a context manager a test or a fixture wraps.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.etcdserver import ETCD
from tests.pgserver import free_port


class EtcdMember:
    """One member: `name`, client `url`, peer URL; started and stopped by its cluster."""

    def __init__(self, root: Path, name: str) -> None:
        self.name = name
        self.root = root
        self.port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def spawn(self, initial_cluster: str, state: str = "new") -> None:
        args = [
            ETCD,
            "--name", self.name,
            "--data-dir", str(self.root / self.name),
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-state", state,
            "--initial-cluster-token", "vcluster-test",
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
            "--unsafe-no-fsync",
            "--log-level", "warn",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """The member answers /health with a leader (a quorum) behind it."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                return b'"true"' in r.read()
        except OSError:
            return False

    def status(self) -> dict[str, Any]:
        """The member's maintenance/status (`leader` and `header.member_id` are member ids)."""
        with urllib.request.urlopen(f"{self.url}/v3/maintenance/status", b"{}", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def names_under(self, prefix: str) -> set[str]:
        """The last path segments of the keys under `prefix` that this member holds."""
        body = {
            "key": base64.b64encode(prefix.encode()).decode(),
            "range_end": base64.b64encode(prefix[:-1].encode() + bytes([prefix.encode()[-1] + 1])).decode(),
            "keys_only": True,
        }
        with urllib.request.urlopen(f"{self.url}/v3/kv/range", json.dumps(body).encode(), timeout=5) as r:
            kvs = json.loads(r.read()).get("kvs", [])
        return {base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1] for kv in kvs}

    def kill(self) -> None:
        """SIGKILL, as a crash: no graceful leader transfer."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the member hangs (its sockets stay open, nothing answers) instead of dying."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: a frozen member runs again."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()  # a frozen member would not act on SIGTERM
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class EtcdCluster:
    """`size` members on loopback; `endpoints` is the comma-separated client URL list."""

    def __init__(self, size: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vcluster-etcd-cluster-"))
        self.members = [EtcdMember(self.root, f"m{i}") for i in range(size)]

    @property
    def initial_cluster(self) -> str:
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    @property
    def endpoints(self) -> str:
        return ",".join(m.url for m in self.members)

    def endpoints_from(self, first: EtcdMember) -> str:
        """The client URLs with `first` listed first (the member a client talks to at start)."""
        return ",".join(m.url for m in [first, *(m for m in self.members if m is not first)])

    def a_follower(self) -> EtcdMember:
        """A member that is not the leader (per the first member's status)."""
        leader_id = self.members[0].status()["leader"]
        return next(m for m in self.members if m.status()["header"]["member_id"] != leader_id)

    def start(self, timeout: float = 20.0) -> EtcdCluster:
        for m in self.members:
            m.spawn(self.initial_cluster)
        self.wait_healthy(self.members, timeout)
        return self

    def restart(self, member: EtcdMember, timeout: float = 20.0) -> None:
        """Start a member that was killed again, on its own data dir."""
        member.spawn(self.initial_cluster, "existing")
        self.wait_healthy([member], timeout)

    def wait_healthy(self, members: list[EtcdMember], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [m for m in members if m.proc is not None and m.proc.poll() is not None]
            if dead:
                raise RuntimeError(f"etcd {dead[0].name} exited: {dead[0].log.read_text()[-2000:]}")
            if all(m.healthy() for m in members):
                return
            time.sleep(0.05)
        raise RuntimeError("the etcd cluster did not become healthy: " + self.logs())

    def logs(self) -> str:
        return "\n".join(f"{m.name}: {m.log.read_text()[-1500:]}" for m in self.members if m.log.exists())

    def destroy(self) -> None:
        try:
            for m in self.members:
                with contextlib.suppress(Exception):
                    m.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(size: int = 3) -> Iterator[EtcdCluster]:
    if not Path(ETCD).exists():
        pytest.skip("etcd is not installed (Debian: apt-get install etcd-server)")
    cluster = EtcdCluster(size)
    try:
        yield cluster.start()
    finally:
        cluster.destroy()
