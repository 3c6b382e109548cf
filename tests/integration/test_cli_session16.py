"""Session 16 CLI fixes: `vcluster create -f` with go-yaml v2 booleans (`enabled: yes`) on a real
host, and `vcluster hostsim` naming every node's kubelet port in its ready line."""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_cli_commands import HostCluster, User, host, kill_pids, pids_with

pytestmark = pytest.mark.integration
__all__ = ["host"]

READY = re.compile(r"vcluster hostsim ready: (\d+) node\(s\) \([^)]*\); (kubelet .*)$")
URL = re.compile(r"https://127\.0\.0\.1:(\d+) \(([\w-]+)\)")


@pytest.fixture
def user(tmp_path: Path, host: HostCluster) -> Iterator[User]:
    u = User(tmp_path, host)
    try:
        yield u
    finally:
        kill_pids(str(tmp_path))


def test_create_accepts_yes_and_on_and_refuses_quoted_yes(user: User, host: HostCluster) -> None:
    bad = user.root / "bad.yaml"
    bad.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: 'yes'\n")
    user.fails(
        "create", "w3-bad", "-n", "w3-bad", "-f", str(bad), "--connect=false",
        match=r'line 4: sync\.toHost\.ingresses\.enabled: expected a boolean, got the string "yes" '
        r"\(write it without quotes\)",
    )  # fmt: skip
    assert not host.exists("ns", "w3-bad") and not (user.data / "vclusters").exists()

    values = user.root / "v.yaml"
    values.write_text("sync:\n  toHost:\n    ingresses: {enabled: yes}\n    secrets: {all: On}\n")
    user.ok("create", "w3", "-n", "w3", "-f", str(values), "--connect=false")
    try:
        cm = json.loads(host.kubectl("get", "cm", "-n", "w3", "w3-config", "-o", "json"))
        to_host = yaml.safe_load(cm["data"]["config.yaml"])["sync"]["toHost"]
        assert to_host["ingresses"]["enabled"] is True and to_host["secrets"]["all"] is True
    finally:
        data_dir = user.describe("w3", "w3")["dataDir"]
        user.ok("delete", "w3", "-n", "w3")
    assert not host.exists("ns", "w3") and not pids_with(data_dir)


def _consecutive_free_ports(count: int) -> int:
    """A base port below the ephemeral range with `count` free ports from it."""
    for _ in range(200):
        base = random.randrange(20000, 30000)
        with contextlib.ExitStack() as stack:
            try:
                for p in range(base, base + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", p))
            except OSError:
                continue
            return base
    raise RuntimeError("no consecutive free ports")


def _run_hostsim(server: Server, tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], re.Match[str]]:
    log = open(tmp_path / "hostsim.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcluster", "hostsim", "--kubeconfig", str(server.kubeconfig), *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    log.close()
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if m := READY.search(line.rstrip("\n")):
            return proc, m
    _stop(proc)
    raise AssertionError(f"hostsim did not start:\n{(tmp_path / 'hostsim.log').read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()


def _node_ports(kubectl: Kubectl, prefix: str) -> dict[str, int]:
    nodes = kubectl.get_json("nodes")["items"]
    return {
        n["metadata"]["name"]: n["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        for n in nodes
        if n["metadata"]["name"].startswith(prefix)
    }


def _healthz(port: int) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ctx, timeout=5) as r:
        return r.read().decode()


def test_hostsim_ready_line_names_every_kubelet_port(
    server: Server, kubectl: Kubectl, tmp_path: Path
) -> None:
    # a configured port: node i on PORT+i-1, shown as a range
    base = _consecutive_free_ports(3)
    proc, m = _run_hostsim(
        server, tmp_path, "--nodes", "3", "--node-prefix", "fixed-", "--kubelet-port", str(base)
    )
    try:
        assert m.group(2) == (
            f"kubelet https://127.0.0.1:{base} (fixed-1) to https://127.0.0.1:{base + 2} (fixed-3), "
            "one port per node"
        )
        assert _node_ports(kubectl, "fixed-") == {f"fixed-{i}": base + i - 1 for i in (1, 2, 3)}
        assert all(_healthz(base + i) == "ok" for i in range(3))
    finally:
        _stop(proc)

    # free ports: every node's own port is listed (or the range, when they happen to be consecutive)
    proc, m = _run_hostsim(server, tmp_path, "--nodes", "3", "--node-prefix", "free-")
    try:
        ports = _node_ports(kubectl, "free-")
        assert sorted(ports) == ["free-1", "free-2", "free-3"] and len(set(ports.values())) == 3
        listed = {name: int(port) for port, name in URL.findall(m.group(2))}
        if [ports[f"free-{i}"] for i in (1, 2, 3)] == [ports["free-1"] + i for i in range(3)]:
            assert listed == {"free-1": ports["free-1"], "free-3": ports["free-3"]}
        else:
            assert listed == ports
        assert all(_healthz(p) == "ok" for p in ports.values())
    finally:
        _stop(proc)


def test_hostsim_refuses_kubelet_ports_beyond_65535(tmp_path: Path) -> None:
    """Refused before any connection (the kubeconfig is not even read)."""
    r = subprocess.run(
        [sys.executable, "-m", "vcluster", "hostsim", "--kubeconfig", str(tmp_path / "none"),
         "--nodes", "3", "--kubelet-port", "65534"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "Invalid value for --kubelet-port: 3 nodes need ports 65534-65536, beyond 65535" in r.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "vcluster", "hostsim", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "Kubelet port of node 1; node i listens on PORT+i-1 (0: a free port for each node)." in " ".join(
        help_text.split()
    )
