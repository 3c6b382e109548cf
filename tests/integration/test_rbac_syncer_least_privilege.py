"""The syncer needs rights only inside its host namespace (plus the cluster-wide reads of nodes and
classes): a `vcluster start` whose host kubeconfig carries the token of a ServiceAccount granted
exactly the RBAC objects `deploy/manifests.py` renders works against a host that enforces RBAC, and
the host refuses it anything more."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from vcluster.deploy.manifests import render

from .conftest import Kubectl
from .syncer_harness import (
    HOST_NS,
    MANAGED_BY,
    VC_NAME,
    HostCluster,
    Pair,
    VirtualCluster,
    host_name,
    items,
    wait_until,
)

RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}


@dataclass
class TokenVirtualCluster(VirtualCluster):
    """A virtual cluster that reaches its host with the kubeconfig at `host_kubeconfig`."""

    host_kubeconfig: Path | None = None

    def launch_args(self) -> list[str]:
        args = super().launch_args()
        args[args.index("--host-kubeconfig") + 1] = str(self.host_kubeconfig)
        return args


def _grant_and_mint(kh: Kubectl, host: HostCluster, base: Path) -> Path:
    """Apply the rendered RBAC objects on the host and write a kubeconfig with the account's token."""
    kh.namespace(HOST_NS)
    objs = [o for o in render(VC_NAME, HOST_NS) if o["kind"] in RBAC_KINDS]
    kh.create(yaml.safe_dump_all(objs))
    sa = next(o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount")
    token = kh("create", "token", sa, "-n", HOST_NS, "--duration=2h").strip()
    admin = yaml.safe_load(host.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "host", "cluster": cluster}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": "host", "context": {"cluster": "host", "user": sa, "namespace": HOST_NS}}],
        "current-context": "host",
    }
    path = base / "syncer-kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("least-privilege")
    host = HostCluster(base / "host").start()
    try:
        kh = Kubectl(host, base / "kcache-host")
        vc = TokenVirtualCluster(base / "vc", host=host, host_kubeconfig=_grant_and_mint(kh, host, base))
        vc.start(timeout=60)
    except BaseException:
        host.stop()
        raise
    p = Pair(host, vc, kh, Kubectl(vc, base / "kcache-vc"))
    try:
        yield p
    finally:
        p.stop()


WORKLOAD = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {MODE: least}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: nginx:1.27
        envFrom: [{configMapRef: {name: settings}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def test_the_syncer_runs_with_the_rendered_namespace_rights(pair: Pair) -> None:
    kv, kh = pair.kv, pair.kh
    kv.apply(WORKLOAD)

    def running() -> list[dict]:
        pods = items(kv, "pods", "-n", "default", "-l", "app=web")
        ok = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return ok if len(ok) == 2 else []

    pods = wait_until(running, timeout=60, what="two Running web pods")
    host_pods = items(kh, "pods", "-n", HOST_NS, "-l", f"{MANAGED_BY}={VC_NAME}")
    assert {p["metadata"]["name"] for p in host_pods} >= {host_name(p["metadata"]["name"]) for p in pods}
    for kind in ("service", "configmap"):
        name = host_name("web" if kind == "service" else "settings")
        assert kh.get_json(kind, name, "-n", HOST_NS)["metadata"]["labels"][MANAGED_BY] == VC_NAME
    # host events about the pods come back to the virtual namespace
    wait_until(
        lambda: [e for e in items(kv, "events", "-n", "default") if e["involvedObject"]["kind"] == "Pod"],
        timeout=30,
        what="pod events in the virtual cluster",
    )
    log = pair.vc.log_path.read_text()
    # a refusal logs "403 Forbidden: ... is forbidden" (a bare "403" may be part of a uid or a hash,
    # or the milliseconds of the line's timestamp, which is cut off first)
    lines = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", "", ln) for ln in log.splitlines()]
    refusals = [ln for ln in lines if re.search(r"\b403\b|[Ff]orbidden", ln)]
    assert not refusals, refusals[:10]


def test_the_host_refuses_the_syncer_anything_else(pair: Pair, tmp_path: Path) -> None:
    cfg = str(pair.vc.launch_args()[pair.vc.launch_args().index("--host-kubeconfig") + 1])
    k = pair.kh
    sa = f"system:serviceaccount:{HOST_NS}:vc-{VC_NAME}"
    for args in (["get", "pods", "-n", "default"], ["get", "secrets", "-A"], ["create", "namespace", "x"]):
        p = k.run("--kubeconfig", cfg, *args, check=False)
        assert p.returncode == 1 and f'User "{sa}"' in p.stderr and "Forbidden" in p.stderr, p.stderr
    assert k.run("--kubeconfig", cfg, "get", "nodes", check=False).returncode == 0
