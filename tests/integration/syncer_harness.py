"""Shared fixtures for the syncer integration tests: a `vcluster host` and a `vcluster start`
process pair on free ports, kubectl on both sides, polling helpers and the spec's name functions
(re-implemented here from the spec, so the tests do not trust the code they check)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Kubectl, Server, launch

VC_NAME = "my-vcluster"
HOST_NS = "test-namespace"
MANAGED_BY = "vcluster.loft.sh/managed-by"
HOST_READY = re.compile(r"vcluster host ready at (https://\S+);")
VC_READY = re.compile(r"vcluster \S+ ready at (https://\S+);")


# ---------------------------------------------------------------------- the spec's name functions
def safe_concat_name(*parts: str) -> str:
    """Spec §1.2: join with '-'; over 63 bytes: first 52 + '-' + sha256 hex[:10], then '.-' → '-'."""
    joined = "-".join(parts)
    if len(joined) <= 63:
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:10]
    return f"{joined[:52]}-{digest}".replace(".-", "-")


def host_name(name: str, namespace: str = "default", vc: str = VC_NAME) -> str:
    """Spec §1.3: the host name of a namespaced virtual object."""
    return safe_concat_name(name, "x", namespace, "x", vc)


def hashed_label_key(prefix: str, key: str, vc: str = VC_NAME) -> str:
    """Spec §2.2: reserved label keys (prefix `vcluster.loft.sh/label`) and namespace labels
    (prefix `vcluster.loft.sh/ns-label`) on the host."""
    return safe_concat_name(prefix, vc, "x", hashlib.sha256(key.encode()).hexdigest()[:10])


# ---------------------------------------------------------------------- processes
@dataclass
class HostCluster(Server):
    """`vcluster host`: API server with ClusterIP allocation, controllers and simulated nodes."""

    nodes: int = 3
    run_seconds: float = 3.0

    def start(self, timeout: float = 30.0) -> HostCluster:
        def argv() -> list[str]:
            return [
                "host", "--data-dir", str(self.data_dir), "--port", str(self.port),
                "--nodes", str(self.nodes), "--run-seconds", str(self.run_seconds), *self.args,
            ]  # fmt: skip

        launch(self, argv, HOST_READY, timeout)
        return self


@dataclass
class VirtualCluster(Server):
    """`vcluster start`: the virtual API server, its controllers and the syncer."""

    host: HostCluster | None = None
    name: str = VC_NAME
    host_namespace: str = HOST_NS
    config: str | None = None  # vcluster.yaml text
    config_path: Path | None = field(default=None, init=False)

    def launch_args(self) -> list[str]:
        assert self.host is not None
        args = [
            "start", "--name", self.name, "--data-dir", str(self.data_dir),
            "--host-kubeconfig", str(self.host.kubeconfig), "--host-namespace", self.host_namespace,
            "--port", str(self.port), *self.args,
        ]  # fmt: skip
        if self.config is not None:
            self.config_path = self.data_dir.parent / f"{self.data_dir.name}.yaml"
            self.config_path.write_text(self.config)
            args += ["--config", str(self.config_path)]
        return args

    def start(self, timeout: float = 30.0) -> VirtualCluster:
        launch(self, self.launch_args, VC_READY, timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@dataclass
class Pair:
    """A host cluster, a virtual cluster syncing into `HOST_NS` of it, and kubectl for each side."""

    host: HostCluster
    vc: VirtualCluster
    kh: Kubectl
    kv: Kubectl

    def stop(self) -> None:
        self.vc.stop()
        self.host.stop()

    def logs(self) -> str:
        """The tail of both processes' logs (for assertion messages)."""
        out = []
        for s in (self.vc, self.host):
            if s.log_path.exists():
                out.append(f"--- {s.log_path.name}\n{s.log_path.read_text()[-3000:]}")
        return "\n".join(out)


def start_pair(base: Path, config: str | None = None, nodes: int = 3) -> Pair:
    """Start a host and a virtual cluster under `base` (stop it with `Pair.stop`)."""
    host = HostCluster(base / "host", nodes=nodes).start()
    vc = VirtualCluster(base / "vc", host=host, config=config)
    try:
        vc.start()
    except BaseException:
        host.stop()
        raise
    return Pair(host, vc, Kubectl(host, base / "kcache-host"), Kubectl(vc, base / "kcache-vc"))


def pair_fixture(config: str | None = None, nodes: int = 3) -> Any:
    """A module-scoped fixture: one host + virtual cluster pair (with `config`) shared by the
    module's tests; use as `pair = pair_fixture()` at module level."""

    @pytest.fixture(scope="module")
    def _pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
        p = start_pair(tmp_path_factory.mktemp("syncer"), config=config, nodes=nodes)
        try:
            yield p
        finally:
            p.stop()

    return _pair


# ---------------------------------------------------------------------- polling and reading
def wait_until(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1, what: str = "") -> Any:
    """Call `fn` until it returns something truthy (returned) or the deadline passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
        except AssertionError as e:  # a helper's own check failed: keep polling
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or fn}; last: {last!r}")
        time.sleep(interval)


def get_json(k: Kubectl, *args: str) -> dict[str, Any] | None:
    """`kubectl get ARGS -o json`, or None when the object does not exist."""
    p = k.run("get", *args, "-o", "json", check=False)
    if p.returncode != 0:
        if "NotFound" in p.stderr or "not found" in p.stderr:
            return None
        raise AssertionError(f"kubectl get {' '.join(args)} failed: {p.stderr}")
    return json.loads(p.stdout)


def items(k: Kubectl, *args: str) -> list[dict[str, Any]]:
    """`kubectl get ARGS -o json` of a list."""
    return json.loads(k("get", *args, "-o", "json"))["items"]


def host_pods(p: Pair, selector: str | None = None) -> list[dict[str, Any]]:
    args = ["pods", "-n", HOST_NS] + (["-l", selector] if selector else [])
    return items(p.kh, *args)


def labels(obj: dict[str, Any] | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def annotations(obj: dict[str, Any] | None) -> dict[str, str]:
    return ((obj or {}).get("metadata") or {}).get("annotations") or {}


def name_of(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


def virtual_namespace(k: Kubectl, name: str) -> str:
    """Create a virtual namespace and wait for its default ServiceAccount (pods need it)."""
    k.namespace(name)
    wait_until(lambda: get_json(k, "serviceaccount", "default", "-n", name), 10, what=f"default SA in {name}")
    return name


def pod_manifest(
    name: str,
    namespace: str,
    *,
    labels_: dict[str, str] | None = None,
    spec_extra: str = "",
    image: str = "nginx",
) -> str:
    """A one-container pod (add YAML lines at spec level, two-space indented, with `spec_extra`)."""
    lab = "".join(f"\n    {k}: {json.dumps(v)}" for k, v in (labels_ or {}).items())
    lab_block = f"\n  labels:{lab}" if lab else ""
    return (
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}{lab_block}\n"
        f"spec:\n  terminationGracePeriodSeconds: 1\n{spec_extra}"
        f"  containers:\n  - name: main\n    image: {image}\n"
    )


def pod_running(k: Kubectl, name: str, namespace: str) -> dict[str, Any] | None:
    pod = get_json(k, "pod", name, "-n", namespace)
    return pod if pod and (pod.get("status") or {}).get("phase") == "Running" else None


def events_for(k: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    """Virtual or host events whose involved object is `name` in `namespace`."""
    return items(k, "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}")


# ---------------------------------------------------------------------- state.db and /metrics
def mapping_keys(data_dir: Path) -> list[str]:
    """The issue's `sqlite3 DIR/state.db "SELECT name FROM kine WHERE name LIKE '/vcluster/mappings/%'"`
    (sqlite3 CLI when installed, else Python's sqlite3 with the same query)."""
    query = "SELECT name FROM kine WHERE name LIKE '/vcluster/mappings/%'"
    db = data_dir / "state.db"
    if shutil.which("sqlite3"):
        out = subprocess.run(["sqlite3", str(db), query], capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)
    try:
        return [r[0] for r in con.execute(query)]
    finally:
        con.close()


def live_mappings(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The latest, not deleted value of each `/vcluster/mappings/` key (kine keeps every revision)."""
    con = sqlite3.connect(f"file:{data_dir / 'state.db'}?mode=ro", uri=True, timeout=20)
    try:
        rows = con.execute(
            "SELECT k.name, k.value, k.deleted FROM kine k JOIN (SELECT name, MAX(id) AS id FROM kine "
            "WHERE name LIKE '/vcluster/mappings/%' GROUP BY name) m ON k.id = m.id"
        ).fetchall()
    finally:
        con.close()
    return {n: json.loads(v) for n, v, deleted in rows if not deleted and v}


def api_get(server: Server, path: str, timeout: float = 10.0) -> bytes:
    """GET `path` from a server with its admin token, verified against its CA."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
        return r.read()


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric_samples(server: Server) -> list[tuple[str, dict[str, str], float]]:
    """The server's Prometheus /metrics as (name, labels, value) samples."""
    out = []
    for line in api_get(server, "/metrics").decode().splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


WRITE_VERBS = ("create", "update", "patch", "delete")


def write_counts(server: Server, resource: str | None = None) -> dict[str, float]:
    """`apiserver_request_total` summed per write verb (optionally for one resource)."""
    out = dict.fromkeys(WRITE_VERBS, 0.0)
    for name, lab, value in metric_samples(server):
        wanted = resource is None or lab.get("resource") == resource
        if name == "apiserver_request_total" and lab.get("verb") in out and wanted:
            out[lab["verb"]] += value
    return out


def edit_config(p: Pair, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Change the host ConfigMap `<NAME>-config` with kubectl (read, edit, apply): the live
    configuration of the running virtual cluster. Returns the new configuration."""
    cm = get_json(p.kh, "configmap", f"{VC_NAME}-config", "-n", HOST_NS)
    assert cm is not None, f"no host ConfigMap {VC_NAME}-config"
    cfg = yaml.safe_load(cm["data"]["config.yaml"])
    edit(cfg)
    cm["data"]["config.yaml"] = yaml.safe_dump(cfg, sort_keys=False)
    p.kh("apply", "-f", "-", input=yaml.safe_dump(cm))
    return cfg
