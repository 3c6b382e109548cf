"""The `vcluster host` and `vcluster start` processes of the syncer benchmark, with /proc readings."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import yaml

from vcluster.client import Client

READY = re.compile(r"ready at (https://\S+);")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def rss_mb(pid: int) -> float:
    """Resident set size in MB (VmRSS of /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_quiet(pid: int, *, below: float = 0.05, interval: float = 0.5, timeout: float = 60.0) -> float:
    """Wait until a process uses less than `below` of a core over `interval`; the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        c0 = cpu_seconds(pid)
        time.sleep(interval)
        if (cpu_seconds(pid) - c0) / interval < below:
            break
    return time.monotonic() - t0


def start_profiler(py_spy: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling a process into a speedscope file until stop_profiler()."""
    cmd = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--format",
        "speedscope",
        "-o",
        str(out),
        "--rate",
        "100",
        "--nonblocking",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()


class Proc:
    """One `python -m vcluster ARGS` child: started until its ready line, stopped with a signal."""

    def __init__(self, name: str, args: list[str], data_dir: Path, launcher: list[str] | None = None) -> None:
        self.name = name
        self.args = args
        self.launcher = launcher or ["-m"]  # python options before "vcluster ARGS" (e.g. a profiler)
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.ready_seconds = 0.0

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def token(self) -> str:
        return yaml.safe_load(self.kubeconfig.read_text())["users"][0]["user"]["token"]

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Proc:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, *self.launcher, "vcluster", *self.args],
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        while time.monotonic() - t0 < timeout:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = READY.search(line.decode())
            if m:
                self.url = m.group(1)
                self.ready_seconds = time.monotonic() - t0
                port = self.url.rsplit(":", 1)[1]
                prev = ["", *self.args[:-1]]
                self.args = [port if p == "--port" else a for p, a in zip(prev, self.args, strict=True)]
                return self
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


def host_proc(base: Path, nodes: int, launcher: list[str] | None = None) -> Proc:
    d = base / "host"
    args = ["host", "--data-dir", str(d), "--port", "0", "--nodes", str(nodes), "--run-seconds", "3"]
    return Proc("host", args, d, launcher)


def vcluster_proc(
    base: Path, host: Proc, name: str, host_ns: str, config: str | None, launcher: list[str] | None = None
) -> Proc:
    d = base / f"vc-{host_ns}"
    args = [
        "start", "--name", name, "--data-dir", str(d), "--host-kubeconfig", str(host.kubeconfig),
        "--host-namespace", host_ns, "--port", "0",
    ]  # fmt: skip
    if config:
        cfg = base / f"vc-{host_ns}.yaml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    return Proc(f"vc-{host_ns}", args, d, launcher)


@contextlib.asynccontextmanager
async def started_pair(
    base: Path, *, nodes: int = 2, name: str = "my-vcluster", host_ns: str = "test-namespace"
) -> AsyncIterator[tuple[Proc, Proc, Client, Client]]:
    """A `vcluster host` and a `vcluster start` against it, with a client for each (virtual,
    host); both processes stopped on the way out."""
    host = host_proc(base, nodes=nodes).start()
    vc = vcluster_proc(base, host, name, host_ns, None)
    try:
        vc.start()
        async with (
            await Client.from_kubeconfig(str(vc.kubeconfig)) as v,
            await Client.from_kubeconfig(str(host.kubeconfig)) as h,
        ):
            yield host, vc, v, h
    finally:
        vc.stop()
        host.stop()
