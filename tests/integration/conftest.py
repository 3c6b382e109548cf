"""Fixtures that run our API server as a real subprocess on a free port, and the real kubectl."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

KUBECTL = os.environ.get("KUBECTL", "kubectl")
READY = re.compile(r"ready at (https://\S+);")


@dataclass
class Server:
    """A running `vcluster apiserver` process."""

    data_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    args: list[str] = field(default_factory=list)  # extra `vcluster apiserver` flags
    # The API-level tests run only the controllers the server's own semantics rely on (default
    # ServiceAccounts for pod admission, namespace deletion), so their listings hold exactly what
    # they created; controller tests pass "*".
    controllers: str = "serviceaccount,namespace"
    command: str = "apiserver"  # or "host": API server, all controllers and simulated nodes
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def token(self) -> str:
        cfg = yaml.safe_load(self.kubeconfig.read_text())
        return cfg["users"][0]["user"]["token"]

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    def start(self, timeout: float = 20.0) -> Server:
        def argv() -> list[str]:
            return [
                self.command, "--data-dir", str(self.data_dir), "--port", str(self.port),
                *([f"--controllers={self.controllers}"] if self.command == "apiserver" else []),
                *self.args,
            ]  # fmt: skip

        launch(self, argv, READY, timeout)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
        return rc

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range: a restarted server must get its
    port back, and a port from the ephemeral range can meanwhile become another process's
    outgoing connection or port-0 listener (bind fails with EADDRINUSE)."""
    low = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


ADDRESS_IN_USE = "Address already in use"


def launch(server: Server, argv: Callable[[], list[str]], ready: re.Pattern[str], timeout: float) -> None:
    """Start `python -m vcluster ARGV` for `server` on its port (a free one if 0), wait for the
    ready line and fill url/port. A port taken meanwhile by another process is retried: a fresh
    port when ours was picked here, the same port (a restart) for up to ten seconds otherwise."""
    server.data_dir.parent.mkdir(parents=True, exist_ok=True)
    picked = server.port == 0
    if picked:
        server.port = free_port()
    retry_until = time.monotonic() + 10
    while True:
        offset = server.log_path.stat().st_size if server.log_path.exists() else 0
        try:
            launch_once(server, argv(), ready, timeout)
            return
        except RuntimeError:
            with server.log_path.open("rb") as f:
                f.seek(offset)
                fresh = f.read().decode(errors="replace")
            if ADDRESS_IN_USE not in fresh or time.monotonic() > retry_until:
                raise
            if picked:
                server.port = free_port()
            else:
                time.sleep(0.5)


def launch_once(server: Server, args: list[str], ready: re.Pattern[str], timeout: float) -> None:
    log = open(server.log_path, "ab")  # noqa: SIM115 - handed to the child
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "vcluster", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    assert server.proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = server.proc.stdout.readline()
        if not line:
            break
        m = ready.search(line.decode())
        if m:
            server.url = m.group(1)
            server.port = int(server.url.rsplit(":", 1)[1])
            return
    server.stop()
    raise RuntimeError(f"{args[0]} did not start: {line!r}\n{server.log_path.read_text()[-4000:]}")


class Kubectl:
    """The real kubectl against one server, with a private discovery cache."""

    def __init__(self, server: Server, cache_dir: Path) -> None:
        self.server = server
        self.cache_dir = cache_dir

    def base(self) -> list[str]:
        return [KUBECTL, "--kubeconfig", str(self.server.kubeconfig), "--cache-dir", str(self.cache_dir)]

    def run(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            [*self.base(), *args], input=input, capture_output=True, text=True, timeout=timeout
        )
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.base(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def apply(self, manifest: str, *args: str) -> str:
        """`kubectl apply --validate=false -f -` of a (multi-document) YAML manifest."""
        return self("apply", "--validate=false", "-f", "-", *args, input=manifest)

    def create(self, manifest: str, *args: str) -> str:
        """`kubectl create --validate=false -f -` of a (multi-document) YAML manifest."""
        return self("create", "--validate=false", "-f", "-", *args, input=manifest)

    def get_json(self, *args: str) -> dict:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self("get", *args, "-o", "json"))

    def namespace(self, name: str) -> str:
        """Create a namespace from a manifest (works without protobuf support) and return its name."""
        self.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
        return name


class LineReader:
    """Collects the stdout lines of a long-running process (e.g. `kubectl get -w`) on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def wait_for(self, pred: Callable[[str], bool], timeout: float = 10.0) -> str:
        """Block until a line matching `pred` arrives (already-seen lines count); return it."""
        for line in self.lines:
            if pred(line):
                return line
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if pred(line):
                return line
        raise AssertionError(f"no matching line within {timeout}s; got {self.lines!r}")

    def stop(self) -> tuple[list[str], str]:
        """Terminate the process; return all stdout lines and stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._t.join(5)
        while True:
            try:
                line = self._q.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        err = self.proc.stderr.read() if self.proc.stderr is not None else ""
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
        return self.lines, err


def attach_echoes(
    k: Kubectl,
    ns: str,
    pod: str,
    line: str,
    *,
    container: str | None = None,
    then: Callable[[str], bool] | None = None,
) -> None:
    """`kubectl attach -i POD [-c CONTAINER]`: `line` written to stdin comes back on stdout (the
    container has stdin: true), then a line matching `then` arrives if given; the client stays
    attached until it is stopped, and kubectl reports no error."""
    args = [*k.base(), "-n", ns, "attach", "-i", pod] + (["-c", container] if container else [])
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    reader = LineReader(proc)
    try:
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        reader.wait_for(lambda got: got == line, 10)
        if then is not None:
            reader.wait_for(then, 12)
        assert proc.poll() is None  # attached until the client leaves
    finally:
        _, err = reader.stop()
    assert "error" not in err.lower(), err


def parse_table(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Split kubectl table output into (headers, rows); columns are cut at the header offsets,
    so empty cells (e.g. SHORTNAMES) come back as ''."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines, "empty table"
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    rows = []
    for ln in lines[1:]:
        row = {}
        for i, name in enumerate(names):
            end = starts[i + 1] if i + 1 < len(starts) else None
            row[name] = ln[starts[i] : end].strip()
        rows.append(row)
    return names, rows


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[object]:
    started: list[Server] = []

    def make(name: str = "vc", port: int = 0) -> Server:
        s = Server(tmp_path / name, port)
        started.append(s)
        return s.start()

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def server(server_factory: object) -> Server:
    return server_factory()  # type: ignore[operator]


@pytest.fixture
def kubectl(server: Server, tmp_path: Path) -> Kubectl:
    return Kubectl(server, tmp_path / "kcache")


def _module_server(tmp_path_factory: pytest.TempPathFactory, **kw: Any) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("srv") / "vc", **kw)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by all tests of a module (tests use distinct namespaces)."""
    yield from _module_server(tmp_path_factory)


def server_fixture(**kw: Any) -> Any:
    """A module-scoped API server made with Server(..., **kw) (use as `server = server_fixture(...)`
    at module level)."""

    @pytest.fixture(scope="module")
    def _server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
        yield from _module_server(tmp_path_factory, **kw)

    return _server


@pytest.fixture(scope="module")
def module_kubectl(module_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(module_server, tmp_path_factory.mktemp("kcache"))


def host_fixture(*args: str) -> Any:
    """A module-scoped `vcluster host` with `args` (use as `host = host_fixture(...)` at module
    level, with `k = host_kubectl_fixture()` for kubectl against it)."""

    @pytest.fixture(scope="module")
    def _host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
        s = Server(tmp_path_factory.mktemp("host") / "h", command="host", args=list(args))
        s.start(timeout=40)
        try:
            yield s
        finally:
            s.stop()

    return _host


def host_kubectl_fixture() -> Any:
    """Module-scoped kubectl against the module's `host` fixture."""

    @pytest.fixture(scope="module")
    def _k(host: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
        return Kubectl(host, tmp_path_factory.mktemp("kc"))

    return _k


def claim_manifest(name: str, namespace: str, *, size: str = "1Gi", storage_class: str | None = None) -> str:
    """A ReadWriteOnce PersistentVolumeClaim (no storageClassName line unless given)."""
    line = f"\n  storageClassName: {storage_class}" if storage_class is not None else ""
    return (
        f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n  accessModes: [ReadWriteOnce]{line}\n  resources: {{requests: {{storage: {size}}}}}\n"
    )
