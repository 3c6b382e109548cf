"""The CLI's building blocks: kubeconfig edits, context names, JSONPath, values errors, processes."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from vcluster.cli import jsonpath, paths, proc, records, ui
from vcluster.cli.kubecfg import UserKubeconfig
from vcluster.cli.main import main
from vcluster.cli.valuesfile import key_line, load_values, split_path
from vcluster.deploy import render, to_yaml

REPO = Path(__file__).resolve().parents[2]


def _kubeconfig(path: Path, contexts: list[str], current: str | None, ca_file: str | None = None) -> None:
    cfg: dict = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": f"https://{c}.example:6443"}} for c in contexts],
        "users": [{"name": c, "user": {"token": f"tok-{c}"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }
    if ca_file:
        cfg["clusters"][0]["cluster"]["certificate-authority"] = ca_file
    if current:
        cfg["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))


# ---------------------------------------------------------------------- kubeconfig
def test_kubeconfig_merge_and_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    _kubeconfig(a, ["one"], None)
    _kubeconfig(b, ["two", "one"], "two")
    monkeypatch.setenv("KUBECONFIG", f"{a}{os.pathsep}{b}")
    kc = UserKubeconfig()
    assert kc.current_context == "two"  # the first file setting it wins
    assert kc.context_names() == ["one", "two"]
    assert kc.cluster("one") == {"server": "https://one.example:6443"}  # first definition wins
    assert kc.default_file == a

    kc.set_entry("contexts", "new", {"cluster": "one", "user": "one"})  # new entries: default file
    kc.set_entry("users", "two", {"token": "rotated"})  # existing ones: where they are defined
    kc.set_current("new")  # current-context: the file that sets it
    kc.save()
    fa, fb = yaml.safe_load(a.read_text()), yaml.safe_load(b.read_text())
    assert [c["name"] for c in fa["contexts"]] == ["one", "new"]
    assert {u["name"]: u["user"] for u in fb["users"]}["two"] == {"token": "rotated"}
    assert fb["current-context"] == "new" and "current-context" not in fa
    assert oct(a.stat().st_mode & 0o777) == "0o600"
    assert UserKubeconfig().current_context == "new"

    kc = UserKubeconfig()
    assert kc.remove_entry("contexts", "one") and not kc.remove_entry("contexts", "nope")
    kc.save()
    assert UserKubeconfig().context_names() == ["new", "two"]  # file order


def test_kubeconfig_fresh_machine_and_broken_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    kc = UserKubeconfig()
    assert kc.current_context is None and kc.files == {}
    assert kc.default_file == tmp_path / ".kube" / "config"
    kc.set_entry("contexts", "c", {"cluster": "c", "user": "c"})
    kc.set_current("c")
    kc.save()
    assert yaml.safe_load((tmp_path / ".kube" / "config").read_text())["current-context"] == "c"

    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nclusters:\n  - name: x\n   cluster: {}\n")
    monkeypatch.setenv("KUBECONFIG", str(broken))
    with pytest.raises(ui.CliError) as e:
        UserKubeconfig()
    msg = e.value.format_message()
    assert str(broken) in msg and "line 4" in msg and "\n" not in msg
    broken.write_text("- just\n- a list\n")
    with pytest.raises(ui.CliError, match="expected a mapping"):
        UserKubeconfig()
    _kubeconfig(broken, ["a"], "gone")
    with pytest.raises(ui.CliError, match="current-context 'gone' is not among its contexts"):
        UserKubeconfig()


def test_flatten_embeds_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(b"CA-PEM")
    cfg = tmp_path / "config"
    _kubeconfig(cfg, ["h", "other"], "h", ca_file="certs/ca.crt")  # relative to the kubeconfig's dir
    monkeypatch.setenv("KUBECONFIG", str(cfg))
    flat = UserKubeconfig().flatten("h")
    assert [c["name"] for c in flat["contexts"]] == ["h"] and flat["current-context"] == "h"
    assert flat["clusters"] == [
        {
            "name": "h",
            "cluster": {"server": "https://h.example:6443", "certificate-authority-data": "Q0EtUEVN"},
        }
    ]
    assert flat["users"] == [{"name": "h", "user": {"token": "tok-h"}}]
    with pytest.raises(ui.CliError, match="does not exist"):
        UserKubeconfig().flatten("missing")


# ---------------------------------------------------------------------- names, records, output
def test_context_names_round_trip() -> None:
    ctx = records.context_name("my-vcluster", "test-namespace", "kind_my_cluster")
    assert ctx == "vcluster_my-vcluster_test-namespace_kind_my_cluster"
    assert records.parse_context_name(ctx) == ("my-vcluster", "test-namespace", "kind_my_cluster")
    assert records.parse_context_name("kind-kind") is None
    assert records.parse_context_name("vcluster_a_b") is None
    assert paths.host_id("gke_proj/zone:cluster") == "gke_proj_zone_cluster"


def test_record_status_follows_the_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    rec = records.Record("vc", "ns", "ctx", phase=records.RUNNING)
    rec.save()
    assert rec.dir == tmp_path / "vcluster" / "vclusters" / "ctx" / "ns" / "vc"
    assert records.find("ctx", "vc", None)[0] == rec
    assert rec.status() == "Exited"  # no process
    rec.phase = records.PAUSED
    assert rec.status() == "Paused"
    script = (
        f"import sys,time; print('vcluster vc ready at https://127.0.0.1:1; kubeconfig x', flush=True);"
        f"time.sleep(30)  # {rec.data_dir}"
    )
    sp = proc.spawn([sys.executable, "-c", script, str(rec.data_dir)], rec.log_path, rec.pid_path)
    try:
        rec.pid, rec.log_offset, rec.phase = sp.pid, sp.log_offset, records.RUNNING
        proc.wait_ready(sp, "vcluster vc ", 10)
        assert rec.status() == "Running"
        other = records.Record("vc2", "ns", "ctx", pid=sp.pid)  # same pid, not its data dir
        assert not other.running()
        assert proc.stop(rec.pid, rec.marker, timeout=5)
        sp.popen.wait(5)
        assert rec.status() == "Exited"
    finally:
        if sp.popen.poll() is None:
            sp.popen.kill()
            sp.popen.wait()


def test_wait_ready_reports_an_exit(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    sp = proc.spawn(
        [
            sys.executable,
            "-c",
            "import sys; print('Error: cannot listen on 127.0.0.1:1', file=sys.stderr); sys.exit(1)",
        ],
        log,
    )
    with pytest.raises(proc.ExitedError) as e:
        proc.wait_ready(sp, "vcluster x ", 10)
    assert e.value.code == 1 and proc.last_error_line(e.value.tail) == "Error: cannot listen on 127.0.0.1:1"
    sp2 = proc.spawn([sys.executable, "-c", "import time; time.sleep(30)"], log)
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            proc.wait_ready(sp2, "vcluster x ", 0.3)
        assert time.monotonic() - t0 < 3
        assert proc.stop(sp2.pid, timeout=5) and sp2.popen.wait(5) is not None
    finally:
        if sp2.popen.poll() is None:
            sp2.popen.kill()
            sp2.popen.wait()


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    script = (
        "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
        "time.sleep(60)"
    )
    sp = proc.spawn([sys.executable, "-c", script], tmp_path / "x.log")
    try:
        deadline = time.monotonic() + 10
        while "up" not in proc.read_from(sp.log_path, 0) and time.monotonic() < deadline:
            time.sleep(0.02)
        t0 = time.monotonic()
        assert proc.stop(sp.pid, timeout=0.5)  # SIGTERM is ignored: SIGKILL after 0.5 s
        assert 0.45 < time.monotonic() - t0 < 5
        assert not proc.alive(sp.pid)
        assert not proc.stop(sp.pid, timeout=0.5)  # nothing left to stop
    finally:
        if sp.popen.poll() is None:
            sp.popen.kill()
            sp.popen.wait()


def test_human_age_and_table() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ages = [
        ui.human_age(t, t + dt.timedelta(seconds=s)) for s in (5, 119, 150, 600, 3 * 3600 + 60, 30 * 3600)
    ]
    assert ages == ["5s", "119s", "2m30s", "10m", "3h1m", "30h"]
    assert ui.human_age(ui.parse_timestamp(ui.timestamp(t)), t) == "0s"
    assert ui.table(["NAME", "AGE"], [["a-long-name", "5s"]]) == "NAME          AGE\na-long-name   5s"


# ---------------------------------------------------------------------- JSONPath, values files
def test_jsonpath_subset() -> None:
    data = {"dataDir": "/d", "syncedObjects": {"pods": 2}, "list": [{"n": "a"}, {"n": "b"}], "k.x": True}
    assert jsonpath.render("{.dataDir}", data) == "/d"
    assert jsonpath.render("{.syncedObjects.pods} pods in {.dataDir}\\n", data) == "2 pods in /d\n"
    assert jsonpath.render("{.list[1].n}|{.list[*].n}|{['k.x']}", data) == "b|a b|true"
    assert jsonpath.render("{.missing}", data) == ""
    assert jsonpath.render("{.syncedObjects}", data) == '{"pods":2}'
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.render("{.a", data)
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.render("{.a[?(@.x)]}", data)


def test_values_errors_name_key_path_and_line(tmp_path: Path) -> None:
    assert split_path('sync.toHost["a.b"][2].x') == ["sync", "toHost", "a.b", 2, "x"]
    text = "sync:\n  toHost:\n    pods:\n      enabled: maybe\n    secrets:\n      bogus: 1\n"
    assert key_line(text, "sync.toHost.pods.enabled") == 4
    assert key_line(text, "sync.toHost.secrets.bogus") == 6
    assert key_line(text, "sync.toHost.nothere") == 2  # the deepest part that exists
    f = tmp_path / "values.yaml"
    f.write_text(text)
    with pytest.raises(ui.CliError) as e:
        load_values(f)
    msg = e.value.format_message()
    assert "line 4: sync.toHost.pods.enabled: expected a boolean" in msg
    assert "line 6: sync.toHost.secrets.bogus: unknown key" in msg
    assert "\n" not in msg and str(f) in msg
    f.write_text("sync: [\n")
    with pytest.raises(ui.CliError, match=r"YAML syntax error .* line 2"):
        load_values(f)
    with pytest.raises(ui.CliError, match="not found"):
        load_values(tmp_path / "nope.yaml")
    f.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: true\n")
    cfg, got = load_values(f)
    assert cfg.sync_enabled("ingresses") and got == f.read_text()


# ---------------------------------------------------------------------- commands without a host
def test_host_command_keeps_its_foreground_form() -> None:
    r = CliRunner().invoke(main, ["host", "--help"])
    assert r.exit_code == 0
    assert "--data-dir" in r.output and "host up" in r.output and "host status" in r.output
    r = CliRunner().invoke(main, ["host", "up", "--help"])
    assert r.exit_code == 0 and "--nodes" in r.output and "--data-dir" not in r.output
    r = CliRunner().invoke(main, ["host"])  # the foreground host still needs its --data-dir
    assert r.exit_code == 2 and "--data-dir" in r.output


def test_bad_names_are_refused_up_front(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KUBECONFIG": "", "XDG_DATA_HOME": ""}
    r = CliRunner().invoke(main, ["create", "My_VC"], env=env)
    assert r.exit_code == 1 and "invalid vCluster name 'My_VC'" in r.stderr
    r = CliRunner().invoke(main, ["connect", "vc", "-n", "Bad.NS"], env=env)
    assert r.exit_code == 1 and "invalid namespace 'Bad.NS'" in r.stderr
    assert not (tmp_path / ".kube").exists() and not (tmp_path / ".local").exists()  # nothing started
    r = CliRunner().invoke(main, ["disconnect"], env=env)
    assert r.exit_code == 1 and "is not a virtual cluster context" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------- deploy
def test_manifests_shape() -> None:
    docs = render("my-vc", "team-a", image="reg/vcluster:1", values="sync: {}\n")
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    sts = by_kind[("StatefulSet", "my-vc")]
    pod = sts["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["name"] == "syncer" and c["image"] == "reg/vcluster:1"
    assert c["args"][:3] == ["start", "--name", "my-vc"] and "--host-namespace" in c["args"]
    assert c["args"][c["args"].index("--host-namespace") + 1] == "team-a"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"  # PVC data-my-vc-0
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    assert pod["serviceAccountName"] == "vc-my-vc"
    svc = by_kind[("Service", "my-vc")]["spec"]
    assert svc["ports"] == [{"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]
    assert svc["selector"] == sts["spec"]["selector"]["matchLabels"]
    assert svc["selector"] == sts["spec"]["template"]["metadata"]["labels"]
    role = by_kind[("Role", "vc-my-vc")]
    assert role["metadata"]["namespace"] == "team-a"
    assert any("pods" in r["resources"] and "create" in r["verbs"] for r in role["rules"])
    assert by_kind[("Secret", "vc-config-my-vc")]["stringData"] == {"config.yaml": "sync: {}\n"}
    assert ("ClusterRoleBinding", "vc-my-vc-v-team-a") in by_kind


def test_checked_in_example_manifests_are_current() -> None:
    text = (REPO / "deploy" / "manifests" / "my-vcluster.yaml").read_text()
    body = "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("#"))
    assert body == to_yaml(render("my-vcluster", "vcluster-my-vcluster"))
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["vcluster"]' in dockerfile and "EXPOSE 8443" in dockerfile


def test_manifests_command_prints_what_render_gives(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["manifests", "my-vcluster", "-n", "vcluster-my-vcluster"])
    assert r.exit_code == 0 and r.stdout == to_yaml(render("my-vcluster", "vcluster-my-vcluster"))
    bad = tmp_path / "v.yaml"
    bad.write_text("sync:\n  toHost:\n    pods: 3\n")
    r = CliRunner().invoke(main, ["manifests", "x", "-f", str(bad)])
    assert r.exit_code == 1 and "line 3: sync.toHost.pods: expected a mapping" in r.stderr


def test_manifests_rbac_follows_the_configuration() -> None:
    """Writes on the cluster-scoped kinds synced to the host; reads in the host namespaces that
    imports and service replication read from (none of it with the defaults)."""
    values = (
        "sync:\n  toHost:\n    persistentVolumes: {enabled: true}\n    storageClasses: {enabled: true}\n"
        "  fromHost:\n    configMaps:\n      enabled: true\n"
        '      mappings: {byName: {"shared/*": "s/*", "/local": "d/x", "team-a/own": "d/own"}}\n'
        "networking:\n  replicateServices:\n"
        "    fromHost: [{from: infra/db, to: a/db}, {from: here, to: a/h}]\n"
    )
    docs = render("vc", "team-a", values=values)
    (cluster_role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    writes = {r["resources"][0] for r in cluster_role["rules"] if "create" in r["verbs"]}
    assert writes == {"persistentvolumes", "storageclasses"}
    roles = {
        d["metadata"]["namespace"]: d
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] != "vc-vc"
    }
    assert set(roles) == {"shared", "infra"}  # not the virtual cluster's own namespace
    assert roles["shared"]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    ]
    assert roles["infra"]["rules"][0]["resources"] == ["endpoints", "services"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] in roles]
    assert {b["subjects"][0]["namespace"] for b in bindings} == {"team-a"} and len(bindings) == 2
    default_role = next(d for d in render("vc", "team-a") if d["kind"] == "ClusterRole")
    assert not any("create" in r["verbs"] for r in default_role["rules"])
