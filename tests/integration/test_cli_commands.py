"""The user-facing CLI against a real local host (`vcluster host`): lifecycle, bad input, manifests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.integration.conftest import KUBECTL
from vcluster.cli.main import main

READY = re.compile(r"ready at (https://\S+);")
VCLUSTER = [sys.executable, "-m", "vcluster"]


# ---------------------------------------------------------------------- process bookkeeping
def pids_with(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (a test's private directory)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            state = (d / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z":
            found.append(int(d.name))
    return found


def kill_pids(marker: str) -> list[int]:
    """SIGKILL (by pid) every process still running under `marker`; the pids that were left."""
    left = pids_with(marker)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in left:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
    return left


def wait_for(pred: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


# ---------------------------------------------------------------------- a local host for the module
@dataclass
class HostCluster:
    """A `vcluster host` process (API server, controllers, simulated nodes)."""

    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def start(self) -> HostCluster:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir.parent / "host.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [*VCLUSTER, "host", "--data-dir", str(self.data_dir), "--port", "0", "--nodes", "2"],
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        for _ in range(200):
            line = self.proc.stdout.readline().decode()
            m = READY.search(line)
            if m:
                self.url = m.group(1)
                return self
            if not line:
                break
        self.stop()
        raise RuntimeError("vcluster host did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        p = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.data_dir / "kc"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            input=input,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {p.stderr}")
        return p.stdout if check else p.stdout + p.stderr

    def exists(self, *args: str) -> bool:
        out = self.kubectl("get", *args, "--ignore-not-found", "-o", "name")
        return bool(out.strip())


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostCluster]:
    h = HostCluster(tmp_path_factory.mktemp("host") / "data").start()
    try:
        yield h
    finally:
        h.stop()


class User:
    """One user's machine: HOME, data dir and a kubeconfig whose current context is the host."""

    def __init__(self, root: Path, host: HostCluster | None) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.kubeconfig = self.home / ".kube" / "config"
        if host is not None:
            self.kubeconfig.parent.mkdir()
            cfg = yaml.safe_load(host.kubeconfig.read_text())
            cfg["clusters"][0]["name"] = cfg["contexts"][0]["context"]["cluster"] = "kind-host"
            cfg["users"][0]["name"] = cfg["contexts"][0]["context"]["user"] = "kind-host"
            cfg["contexts"][0]["name"] = cfg["current-context"] = "kind-host"
            self.kubeconfig.write_text(yaml.safe_dump(cfg))
        self.env = {"HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig), "XDG_DATA_HOME": ""}

    @property
    def data(self) -> Path:
        return self.home / ".local" / "share" / "vcluster"

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        r = self.run(*args)
        assert r.exit_code == 0, f"vcluster {' '.join(args)} failed ({r.exit_code}): {r.stderr}"
        return r

    def fails(self, *args: str, match: str) -> str:
        """Exit code 1 with a one-line error matching `match`; the error line."""
        r = self.run(*args)
        assert r.exit_code == 1, f"vcluster {' '.join(args)}: exit {r.exit_code}\n{r.stdout}\n{r.stderr}"
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error ")]
        assert len(lines) == 1, r.stderr
        assert re.search(match, lines[0]), lines[0]
        return lines[0]

    def current_context(self) -> str | None:
        return (yaml.safe_load(self.kubeconfig.read_text()) or {}).get("current-context")

    def describe(self, name: str, ns: str) -> dict:
        return json.loads(self.ok("describe", name, "-n", ns, "-o", "json").stdout)


@pytest.fixture
def user(tmp_path: Path, host: HostCluster) -> Iterator[User]:
    u = User(tmp_path, host)
    try:
        yield u
    finally:
        kill_pids(str(tmp_path))  # after a failure; the tests check themselves that nothing is left


# ====================================================================== tests
def test_lifecycle_refusals_and_recovery(user: User, host: HostCluster) -> None:
    # create without connecting; the namespace is created and annotated as ours
    r = user.ok("create", "vc-a", "-n", "team-a", "--connect=false")
    assert "Created namespace team-a" in r.stderr and "Successfully created virtual cluster vc-a" in r.stderr
    assert user.current_context() == "kind-host"
    ns = json.loads(host.kubectl("get", "ns", "team-a", "-o", "json"))
    assert ns["metadata"]["annotations"]["vcluster.loft.sh/created"] == "true"
    assert host.exists("cm", "-n", "team-a", "vc-a-config") and host.exists("svc", "-n", "team-a", "vc-a")

    # one vCluster per namespace; an existing one is not re-created
    user.fails(
        "create",
        "vc-b",
        "-n",
        "team-a",
        "--connect=false",
        match=r"namespace team-a already holds vCluster vc-a",
    )
    # without --connect an existing one is an error (vCluster's create), naming both ways on
    user.fails(
        "create",
        "vc-a",
        "-n",
        "team-a",
        "--connect=false",
        match=r"already exists in namespace team-a; use `vcluster create vc-a -n team-a --upgrade`.*"
        r"`vcluster connect vc-a -n team-a`",
    )

    # a dead background process shows in list, connect refuses, resume restarts it
    d = user.describe("vc-a", "team-a")
    assert d["status"] == "Running" and d["dataDir"].startswith(str(user.data))
    os.kill(d["pid"], signal.SIGKILL)
    wait_for(lambda: user.describe("vc-a", "team-a")["status"] == "Exited", 10, "status Exited")
    rows = json.loads(user.ok("list", "-o", "json").stdout)
    assert [(x["Name"], x["Namespace"], x["Status"]) for x in rows] == [("vc-a", "team-a", "Exited")]
    user.fails(
        "connect", "vc-a", "-n", "team-a", match=r"not running \(exited\).*vcluster resume vc-a -n team-a"
    )
    user.ok("resume", "vc-a", "-n", "team-a")
    d2 = user.describe("vc-a", "team-a")
    assert d2["status"] == "Running" and d2["pid"] != d["pid"] and d2["endpoint"] == d["endpoint"]

    # connect variants: --print, -- COMMAND, and the context itself; -n is optional when unambiguous
    printed = yaml.safe_load(user.ok("connect", "vc-a", "--print").stdout)
    assert printed["current-context"] == "vcluster_vc-a_team-a_kind-host"
    assert user.current_context() == "kind-host"
    out = user.root / "cmd.out"
    r = user.run("connect", "vc-a", "--", "sh", "-c", f"{KUBECTL} get ns -o name > {out}; exit 7")
    assert r.exit_code == 7 and "namespace/kube-system" in out.read_text()
    user.ok("connect", "vc-a")
    assert user.current_context() == "vcluster_vc-a_team-a_kind-host"
    rows = json.loads(user.ok("list", "-o", "json").stdout)
    assert rows[0]["Connected"] is True
    table = user.ok("list").stdout.splitlines()
    assert table[0].split() == ["NAME", "NAMESPACE", "STATUS", "VERSION", "CONNECTED", "AGE"]
    assert table[1].split()[:5] == ["vc-a", "team-a", "Running", "0.1.0", "True"]
    user.ok("disconnect")
    assert user.current_context() == "kind-host"
    user.fails("disconnect", match="not a virtual cluster context")

    # --upgrade applies new values: the ConfigMap changes and the process restarts
    values = user.root / "values.yaml"
    values.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: true\n")
    user.ok("create", "vc-a", "-n", "team-a", "--upgrade", "-f", str(values), "--connect=false")
    cm = json.loads(host.kubectl("get", "cm", "-n", "team-a", "vc-a-config", "-o", "json"))
    assert yaml.safe_load(cm["data"]["config.yaml"])["sync"]["toHost"]["ingresses"]["enabled"] is True
    d3 = user.describe("vc-a", "team-a")
    assert d3["pid"] != d2["pid"] and d3["valuesFile"] and d3["status"] == "Running"

    # pause / resume
    user.ok("pause", "vc-a", "-n", "team-a")
    assert user.describe("vc-a", "team-a")["status"] == "Paused"
    assert not pids_with(d3["dataDir"])
    user.ok("resume", "vc-a")
    assert user.describe("vc-a", "team-a")["status"] == "Running"

    # delete: process, host objects, the namespace we created, kube context, local state
    user.ok("connect", "vc-a")
    r = user.ok("delete", "vc-a", "-n", "team-a")
    assert "Successfully deleted virtual cluster namespace team-a" in r.stderr
    assert not host.exists("ns", "team-a")
    assert user.current_context() == "kind-host"
    assert "vcluster_vc-a" not in user.kubeconfig.read_text()
    assert not pids_with(d3["dataDir"])
    assert not (user.data / "vclusters").exists()
    user.fails("delete", "vc-a", "-n", "team-a", match=r"vCluster vc-a not found in namespace team-a")
    assert not pids_with(str(user.root))


def test_interrupted_create_is_finished_or_deleted_by_a_rerun(user: User, host: HostCluster) -> None:
    host.kubectl("create", "namespace", "shared")  # not ours: delete must leave it
    record = user.data / "vclusters" / "kind-host" / "shared" / "vc-c" / "vcluster.json"

    def crash_create() -> None:
        """Run `vcluster create` and SIGKILL it as soon as the background process exists."""
        cli = subprocess.Popen(
            [sys.executable, "-m", "vcluster", "create", "vc-c", "-n", "shared", "--connect=false"],
            env={**os.environ, **user.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: record.exists() and json.loads(record.read_text())["pid"], 30, "the spawn")
        finally:
            cli.kill()
            cli.wait()
        assert json.loads(record.read_text())["phase"] == "creating"

    crash_create()
    # a rerun finishes the job (the half-started process is replaced)
    user.ok("create", "vc-c", "-n", "shared", "--connect=false")
    assert user.describe("vc-c", "shared")["status"] == "Running"
    assert len(pids_with(str(user.data / "vclusters"))) == 1
    user.ok("delete", "vc-c", "-n", "shared")
    assert host.exists("ns", "shared") and not host.exists("cm", "-n", "shared", "vc-c-config")

    crash_create()
    # deleting the half-created one cleans everything up too
    r = user.ok("delete", "vc-c", "-n", "shared")
    assert "Stopped the vCluster vc-c process" in r.stderr
    assert not pids_with(str(user.data))
    assert not host.exists("cm", "-n", "shared", "vc-c-config") and not host.exists(
        "sa", "-n", "shared", "vc-workload-vc-c"
    )
    assert host.exists("ns", "shared") and not record.exists()


def test_bad_input_gives_one_line_errors(user: User, host: HostCluster, tmp_path: Path) -> None:
    # unknown names
    user.fails(
        "connect", "nope", "-n", "team-x", match=r"vCluster nope not found in namespace team-x.*vcluster list"
    )
    user.fails("describe", "nope", match=r"not found in namespace vcluster-nope")
    user.fails("logs", "nope", match="not found")
    user.fails("pause", "nope", match="not found")
    user.fails("delete", "nope", "-n", "team-x", match="not found")

    # a values file with an error: key path and line, nothing created anywhere
    values = tmp_path / "values.yaml"
    values.write_text("sync:\n  toHost:\n    pods:\n      enabled: maybe\n")
    user.fails(
        "create", "vc-v", "-n", "team-v", "-f", str(values),
        match=r"values file .*values.yaml is invalid: line 4: sync.toHost.pods.enabled: expected a boolean",
    )  # fmt: skip
    assert not host.exists("ns", "team-v") and not user.data.exists()

    # a broken kubeconfig
    broken = tmp_path / "broken-kubeconfig"
    broken.write_text("apiVersion: v1\nclusters: [\n")
    user.env["KUBECONFIG"] = str(broken)
    user.fails(
        "create",
        "vc-v",
        "-n",
        "team-v",
        match=r"kubeconfig .*broken-kubeconfig is broken: invalid YAML at line 3",
    )
    user.fails("list", match="is broken")

    # an unreachable host
    dead = tmp_path / "dead-kubeconfig"
    cfg = yaml.safe_load(user.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    dead.write_text(yaml.safe_dump(cfg))
    user.env["KUBECONFIG"] = str(dead)
    user.fails(
        "create", "vc-v", "-n", "team-v", match=r"cannot reach the host cluster of kube context 'kind-host'"
    )
    user.fails("create", "vc-v", "--context", "nope", match=r"kube context 'nope' does not exist")
    assert not user.data.exists() and not host.exists("ns", "team-v")
    assert not pids_with(str(user.root))


def test_manifests_pass_server_dry_run(host: HostCluster, tmp_path: Path) -> None:
    host.kubectl("create", "namespace", "vcluster-in-cluster")
    r = CliRunner().invoke(main, ["manifests", "my-vc", "-n", "vcluster-in-cluster"])
    assert r.exit_code == 0
    out = host.kubectl("apply", "--dry-run=server", "-f", "-", input=r.stdout)
    for obj in (
        "serviceaccount/vc-my-vc",
        "role.rbac.authorization.k8s.io/vc-my-vc",
        "rolebinding.rbac.authorization.k8s.io/vc-my-vc",
        "clusterrole.rbac.authorization.k8s.io/vc-my-vc-v-vcluster-in-cluster",
        "secret/vc-config-my-vc",
        "service/my-vc",
        "statefulset.apps/my-vc",
    ):
        assert f"{obj} created (server dry run)" in out
    assert not host.exists("statefulset", "-n", "vcluster-in-cluster", "my-vc")  # only a dry run
    # the check can fail: the server rejects a manifest with a mistake (strict field validation)
    bad = r.stdout.replace("serviceName:", "serviceNam:")
    err = host.kubectl("apply", "--dry-run=server", "-f", "-", input=bad, check=False)
    assert 'unknown field "spec.serviceNam"' in err
