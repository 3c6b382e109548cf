"""`vcluster start` stops with one clear message when the host cannot be used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


def start(tmp_path: Path, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster", "start", "--name", "vc", "--data-dir", str(tmp_path / "d"),
         "--host-kubeconfig", str(kubeconfig), "--host-namespace", "ns", "--port", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_unreachable_host(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    p = start(tmp_path, kc)
    assert p.returncode != 0
    assert f"Error: cannot reach the host cluster (--host-kubeconfig {kc}): " in p.stderr
    assert "127.0.0.1:1" in p.stderr and "cannot listen" not in p.stderr


def test_broken_host_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("{bad")
    p = start(tmp_path, kc)
    assert p.returncode != 0
    assert f"Error: cannot use the host kubeconfig (--host-kubeconfig {kc}): " in p.stderr
    assert "not valid YAML" in p.stderr
