"""The README walkthrough, verbatim, on a fresh HOME with the real kubectl and sqlite3 (issue 6)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.test_cli_commands import kill_pids, pids_with

CTX = "vcluster_my-vcluster_test-namespace_vcluster-local-host"
HOST_POD = re.compile(r"^testapp-[a-z0-9]+-[a-z0-9]+-x-default-x-my-vcluster\s")


class Shell:
    """Runs walkthrough lines with bash in a fresh HOME, `vcluster` and `kubectl` on PATH."""

    def __init__(self, home: Path) -> None:
        self.home = home
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("KUBECONFIG", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
        }
        env["HOME"] = str(home)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        self.env = env

    def __call__(self, line: str, *, rc: int = 0, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(
            ["bash", "-c", line],  # as typed in a shell (no pipefail: `| head -1` may SIGPIPE kubectl)
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert p.returncode == rc, f"$ {line}\nexit {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def until(self, line: str, check: Callable[[str], bool], timeout: float = 30) -> str:
        """Re-run `line` until its output passes `check` (things the syncer does asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            p = subprocess.run(
                ["bash", "-c", line], env=self.env, cwd=self.home, capture_output=True, text=True, timeout=60
            )
            if p.returncode == 0 and check(p.stdout):
                return p.stdout
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"$ {line}\nnever passed the check; last output:\n{p.stdout}\n{p.stderr}"
                )
            time.sleep(0.3)

    def current_context(self) -> str | None:
        cfg = yaml.safe_load((self.home / ".kube" / "config").read_text()) or {}
        return cfg.get("current-context")


@pytest.fixture
def sh(tmp_path: Path) -> Iterator[Shell]:
    home = tmp_path / "home"
    home.mkdir()
    try:
        yield Shell(home)
    finally:
        kill_pids(str(home))  # whatever happened, nothing keeps running (the test checks it did not need to)


def test_walkthrough_on_a_fresh_machine(sh: Shell) -> None:
    assert shutil.which("sqlite3"), "the walkthrough's last step needs the sqlite3 command"
    data = sh.home / ".local" / "share" / "vcluster"

    # 1. create: no kube context yet, so the local host starts in the background and becomes current
    p = sh("vcluster create my-vcluster --namespace test-namespace")
    assert "starting the local host cluster" in p.stderr
    assert "Added kube context 'vcluster-local-host'" in p.stderr
    assert f"Switched active kube context to {CTX}" in p.stderr
    assert sh.current_context() == CTX
    assert len(pids_with(str(data))) == 2  # the host and the vCluster, both supervised

    # 2. connect and create a deployment inside the virtual cluster
    sh("vcluster connect my-vcluster --namespace test-namespace")
    p = sh("kubectl create deployment testapp --image=nginx --replicas=2")
    assert p.stdout.strip() == "deployment.apps/testapp created"
    sh("vcluster disconnect")
    assert sh.current_context() == "vcluster-local-host"

    # 3. its pods run in the host namespace under translated names, labelled as managed
    out = sh.until(
        "kubectl get pods -n test-namespace | grep testapp",
        lambda o: sum(bool(HOST_POD.match(ln)) and "Running" in ln for ln in o.splitlines()) == 2,
    )
    assert len(out.splitlines()) == 2
    out = sh(
        "kubectl get pods,services,configmaps,secrets -n test-namespace --show-labels | "
        'grep "vcluster.loft.sh/managed-by=my-vcluster"'
    ).stdout
    kinds = {ln.split("/", 1)[0] for ln in out.splitlines()}
    assert {"pod", "service", "configmap"} <= kinds
    assert sum(ln.startswith("pod/testapp-") for ln in out.splitlines()) == 2

    # 4. nodes synced from the host
    sh("vcluster connect my-vcluster --namespace test-namespace")
    out = sh("kubectl get nodes -o wide").stdout
    vnodes = {ln.split()[0] for ln in out.splitlines()[1:]}
    sh("vcluster disconnect")
    host_nodes = {n.removeprefix("node/") for n in sh("kubectl get nodes -o name").stdout.split()}
    assert vnodes and vnodes <= host_nodes, (vnodes, host_nodes)

    # 5. the effective configuration in the host ConfigMap
    out = sh('kubectl get cm -n test-namespace my-vcluster-config -o yaml | grep -A 20 "sync:"').stdout
    assert "toHost:" in out and "pods:" in out and "enabled: true" in out

    # 6. a label set on the host pod shows up on the virtual pod
    p = sh(
        "POD=$(kubectl get pods -n test-namespace -l vcluster.loft.sh/managed-by=my-vcluster -o name "
        "| head -1) && kubectl label -n test-namespace $POD test-label=from-host"
    )
    assert p.stdout.strip().endswith("labeled")
    sh("vcluster connect my-vcluster --namespace test-namespace")
    out = sh.until("kubectl get pods --show-labels | grep test-label", lambda o: "test-label=from-host" in o)
    assert out.startswith("testapp-")
    sh("vcluster disconnect")

    # 7. the process log and the name mappings in the state database
    out = sh(
        'vcluster logs my-vcluster --namespace test-namespace | grep -E "(create|update|delete|sync)"'
    ).stdout
    assert "vcluster.syncer" in out
    out = sh(
        "sqlite3 \"$(vcluster describe my-vcluster -n test-namespace -o jsonpath='{.dataDir}')/state.db\" "
        "\"SELECT name FROM kine WHERE name LIKE '/vcluster/mappings/%' LIMIT 10;\""
    ).stdout
    assert sum(ln.startswith("/vcluster/mappings/v1/pod/default/testapp-") for ln in out.splitlines()) >= 2

    # 8. list, then delete everything: the vCluster and the local host
    out = sh("vcluster list").stdout.splitlines()
    assert out[1].split()[:4] == ["my-vcluster", "test-namespace", "Running", "0.1.0"]
    p = sh("vcluster delete my-vcluster --namespace test-namespace")
    assert "Successfully deleted virtual cluster namespace test-namespace" in p.stderr
    assert "my-vcluster" not in sh("kubectl get ns -o name").stdout
    sh("vcluster host down --delete")

    # nothing left running; nothing left but kubectl's files and the user cache
    assert not pids_with(str(sh.home))
    assert not data.exists()
    cfg = yaml.safe_load((sh.home / ".kube" / "config").read_text())
    assert not cfg.get("contexts") and not cfg.get("current-context")
    left = sorted(
        str(p.relative_to(sh.home))
        for p in sh.home.rglob("*")
        if p.is_file() and not p.is_relative_to(sh.home / ".kube" / "cache")
    )
    # ~/.cache/vcluster: the API server's protobuf descriptors read from kubectl (a cache by design)
    assert [f for f in left if not f.startswith(".cache/vcluster/")] == [".kube/config"]
