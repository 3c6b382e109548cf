"""State survives SIGKILL: objects, resourceVersions, uids and the watch history live in DIR/state.db."""

from __future__ import annotations

import json
import shutil
import sqlite3
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Kubectl, Server

pytestmark = pytest.mark.integration

NS = "persist"


def cm(name: str, ns: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}
    )


DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NS}
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"""


@dataclass
class Scenario:
    server: Server
    kubectl: Kubectl
    old_rv: str  # the namespace's configmap list revision before the updates/deletes
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, rv) after old_rv
    before: dict[str, tuple[str, str]] = field(default_factory=dict)  # "kind/ns/name" -> (rv, uid)
    deleted_rv_bounds: tuple[int, int] = (0, 0)


def snapshot(k: Kubectl) -> dict[str, tuple[str, str]]:
    """(resourceVersion, uid) of every configmap, deployment, service and namespace, via kubectl -o json."""
    out = {}
    for item in k.get_json("configmaps,deployments,services,namespaces", "-A")["items"]:
        md = item["metadata"]
        out[f"{item['kind']}/{md.get('namespace', '')}/{md['name']}"] = (md["resourceVersion"], md["uid"])
    return out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("persist")
    server = Server(base / "vc")
    server.start()
    try:
        k = Kubectl(server, base / "kcache")
        k.namespace(NS)
        k.create("---\n".join(cm(n, NS, v=n) for n in ("keep", "edit", "drop")))
        k.create(DEPLOYMENT)
        k.create(cm("top", "default", where="default"))
        # (kubectl get -o json wraps lists in a client-side List without a resourceVersion: ask raw.)
        old_rv = json.loads(k("get", "--raw", f"/api/v1/namespaces/{NS}/configmaps"))["metadata"][
            "resourceVersion"
        ]
        assert old_rv.isdigit()
        sc = Scenario(server, k, old_rv)

        # Changes after old_rv, before the crash.
        k("label", "cm", "edit", "-n", NS, "changed=yes")
        edit_rv = k("get", "cm", "edit", "-n", NS, "-o=jsonpath={.metadata.resourceVersion}")
        k("delete", "cm", "drop", "-n", NS)
        k.create(cm("late", NS, v="late"))
        late_rv = k("get", "cm", "late", "-n", NS, "-o=jsonpath={.metadata.resourceVersion}")
        k("scale", "deployment", "web", "-n", NS, "--replicas=1")
        sc.changes = [("MODIFIED", "edit", edit_rv), ("DELETED", "drop", ""), ("ADDED", "late", late_rv)]
        sc.deleted_rv_bounds = (int(edit_rv), int(late_rv))

        sc.before = snapshot(k)
        server.kill()  # SIGKILL: no chance to flush anything on the way out
        assert not server.alive()
        server.start()
        yield sc
    finally:
        server.stop()


def test_objects_survive_sigkill(scenario: Scenario) -> None:
    k = scenario.kubectl
    after = snapshot(k)
    for key in (
        f"ConfigMap/{NS}/keep",
        f"ConfigMap/{NS}/edit",
        f"ConfigMap/{NS}/late",
        "ConfigMap/default/top",
        f"Deployment/{NS}/web",
        f"Namespace//{NS}",
        "Namespace//default",
        "Service/default/kubernetes",
    ):
        assert key in scenario.before, key
        assert after.get(key) == scenario.before[key], key
    assert after == scenario.before
    assert f"ConfigMap/{NS}/drop" not in after

    edit = k.get_json("cm", "edit", "-n", NS)
    assert edit["metadata"]["labels"] == {"changed": "yes"}
    assert edit["data"] == {"v": "edit"}
    dep = k.get_json("deployment", "web", "-n", NS)
    assert dep["spec"]["replicas"] == 1
    assert dep["metadata"]["generation"] == 2
    p = k.run("get", "cm", "drop", "-n", NS, check=False)
    assert p.returncode == 1
    assert p.stderr.strip() == 'Error from server (NotFound): configmaps "drop" not found'


def test_writes_continue_after_restart(scenario: Scenario) -> None:
    k = scenario.kubectl
    k.create(cm("post-restart", NS, v="new"))
    new = k.get_json("cm", "post-restart", "-n", NS)["metadata"]
    newest_before = max(int(rv) for rv, _ in scenario.before.values())
    assert int(new["resourceVersion"]) > newest_before
    uids = {uid for _, uid in scenario.before.values()}
    assert new["uid"] not in uids
    k("delete", "cm", "post-restart", "-n", NS)


def raw_watch(server: Server, path: str) -> list[dict[str, Any]]:
    """GET a watch URL with the admin token; read events until the server ends the stream."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    req = urllib.request.Request(
        server.url + path, headers={"Authorization": f"Bearer {server.token}", "Accept": "application/json"}
    )
    with urllib.request.urlopen(req, context=ctx, timeout=15) as resp:
        assert resp.status == 200
        return [json.loads(line) for line in resp if line.strip()]


def test_watch_from_old_revision_replays_history(scenario: Scenario) -> None:
    t0 = time.monotonic()
    events = raw_watch(
        scenario.server,
        f"/api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={scenario.old_rv}&timeoutSeconds=1",
    )
    assert time.monotonic() - t0 < 10
    got = [
        (e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"])
        for e in events
    ]
    # The post-restart test may have added and removed its own configmap; only the pre-crash history counts.
    got = [g for g in got if g[1] != "post-restart"]
    (m, d, a) = scenario.changes
    assert [(t, n) for t, n, _ in got] == [(m[0], m[1]), (d[0], d[1]), (a[0], a[1])], got
    assert got[0][2] == m[2]
    lo, hi = scenario.deleted_rv_bounds
    assert lo < int(got[1][2]) < hi
    assert got[2][2] == a[2]
    assert events[0]["object"]["metadata"]["labels"] == {"changed": "yes"}
    assert events[1]["object"]["data"] == {"v": "drop"}
    assert all(e["object"]["kind"] == "ConfigMap" for e in events)


def test_watch_from_old_revision_with_python_client(scenario: Scenario) -> None:
    import kubernetes
    from kubernetes import client, watch

    api = kubernetes.config.new_client_from_config(config_file=str(scenario.server.kubeconfig))
    try:
        v1 = client.CoreV1Api(api)
        w = watch.Watch()
        got = []
        for ev in w.stream(
            v1.list_namespaced_config_map, NS, resource_version=scenario.old_rv, timeout_seconds=5
        ):
            got.append((ev["type"], ev["object"].metadata.name))
            if len(got) == 3:
                w.stop()
                break
    finally:
        api.close()
    assert got == [(t, n) for t, n, _ in scenario.changes]


def kine_names(db: Path) -> list[str]:
    if shutil.which("sqlite3"):
        out = subprocess.run(
            ["sqlite3", str(db), "SELECT name FROM kine"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        return out.splitlines()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in con.execute("SELECT name FROM kine")]
    finally:
        con.close()


def test_kine_table_lists_registry_keys(scenario: Scenario) -> None:
    db = scenario.server.data_dir / "state.db"
    assert db.is_file()
    keys = set(kine_names(db))
    for key in (
        f"/registry/configmaps/{NS}/keep",
        f"/registry/configmaps/{NS}/edit",
        f"/registry/configmaps/{NS}/late",
        "/registry/configmaps/default/top",
        f"/registry/deployments/{NS}/web",
        f"/registry/namespaces/{NS}",
        "/registry/namespaces/default",
        "/registry/namespaces/kube-system",
        "/registry/services/specs/default/kubernetes",
    ):
        assert key in keys, key


def test_sigterm_exits_zero_and_keeps_data(tmp_path: Path) -> None:
    server = Server(tmp_path / "vc")
    server.start()
    try:
        k = Kubectl(server, tmp_path / "kcache")
        k.create(cm("durable", "default", a="1"))
        rv = k("get", "cm", "durable", "-o=jsonpath={.metadata.resourceVersion}")
        t0 = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - t0 < 5
        server.start()
        assert k("get", "cm", "durable", "-o=jsonpath={.metadata.resourceVersion}|{.data.a}") == f"{rv}|1"
    finally:
        server.stop()


def test_sigterm_with_open_watch_exits_promptly(tmp_path: Path) -> None:
    """Watches are long-running requests: SIGTERM closes them instead of waiting for them to end."""
    server = Server(tmp_path / "vc")
    server.start()
    k = Kubectl(server, tmp_path / "kcache")
    w = k.popen("get", "cm", "-A", "-w")
    try:
        time.sleep(1.0)
        t0 = time.monotonic()
        rc = server.stop()
        elapsed = time.monotonic() - t0
    finally:
        w.kill()
        w.communicate(timeout=10)
        server.stop()
    assert rc == 0
    assert elapsed < 1.5, f"SIGTERM with one open watch took {elapsed:.1f}s"
