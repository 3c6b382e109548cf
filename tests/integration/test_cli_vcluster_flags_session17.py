"""Session 17: vCluster's CLI flags on a real local host with the real kubectl — connect (--update-current,
--kube-config, --server, --insecure, --kube-config-context-name, --service-account/--cluster-role,
resuming a paused vCluster), create (-f twice, --set, --print, refused flags), list (-n, ls, JSON) and
delete (--keep-pvc, --delete-namespace, --auto-delete-namespace, --delete-context, --ignore-not-found)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import KUBECTL
from tests.integration.test_cli_commands import HostCluster, User, host, kill_pids, pids_with

pytestmark = pytest.mark.integration
__all__ = ["host"]


@pytest.fixture
def user(tmp_path: Path, host: HostCluster) -> Iterator[User]:
    u = User(tmp_path, host)
    try:
        yield u
    finally:
        kill_pids(str(tmp_path))


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, timeout=60
    )
    if check:
        assert p.returncode == 0, f"kubectl {' '.join(args)}: {p.stderr}"
    return p


def test_connect_flags(user: User, host: HostCluster) -> None:
    user.ok("create", "cf", "-n", "cf-ns", "--connect=false")
    try:
        # unknown flags are usage errors (exit 1 as vCluster's), not a command to run
        r = user.run("connect", "cf", "--no-such-flag")
        assert r.exit_code == 1 and "No such option '--no-such-flag'" in r.stderr

        # --update-current=false writes --kube-config and leaves the context alone
        kc = user.root / "cf.kubeconfig"
        r = user.ok("connect", "cf", "--update-current=false", "--kube-config", str(kc))
        assert f"Virtual cluster kube config written to: {kc}" in r.stderr
        assert "Flag --update-current has been deprecated" in r.stderr
        assert user.current_context() == "kind-host"
        assert "namespace/kube-system" in kubectl(kc, "get", "ns", "-o", "name").stdout

        # --print with --server (https:// added), --insecure (no CA) and a custom context name
        printed = yaml.safe_load(
            user.ok(
                "connect", "cf", "--print", "--insecure", "--server", "127.0.0.1:1234",
                "--kube-config-context-name", "mine",
            ).stdout
        )  # fmt: skip
        assert printed["current-context"] == "mine" and printed["contexts"][0]["context"]["user"] == "mine"
        cluster = printed["clusters"][0]["cluster"]
        assert cluster["server"] == "https://127.0.0.1:1234" and cluster["insecure-skip-tls-verify"] is True
        assert "certificate-authority-data" not in cluster

        # --service-account with --cluster-role: the account is created and bound, its token used
        user.fails("connect", "cf", "--service-account", "default/viewer", "--print", match="does not exist")
        sa = user.root / "sa.kubeconfig"
        r = user.ok(
            "connect", "cf", "--service-account", "default/viewer", "--cluster-role", "view", "--print"
        )
        sa.write_text(r.stdout)
        assert "Created cluster role binding for cluster role view" in r.stderr
        assert set(yaml.safe_load(r.stdout)["users"][0]["user"]) == {"token"}
        who = json.loads(kubectl(sa, "auth", "whoami", "-o", "json").stdout)
        assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:viewer"
        kubectl(sa, "get", "pods", "-A")
        denied = kubectl(sa, "create", "namespace", "nope", check=False)
        assert denied.returncode == 1 and "Forbidden" in denied.stderr
        crb = json.loads(
            kubectl(kc, "get", "clusterrolebinding", "vcluster-sa-viewer-default", "-o", "json").stdout
        )
        assert crb["roleRef"]["name"] == "view"
        user.fails(
            "connect", "cf", "--cluster-role", "view", match="expected --service-account to be defined"
        )
        user.fails("connect", "cf", "--local-port", "9000", match="--local-port is not supported")

        # connect resumes a paused vCluster (as vCluster's connect does), then is already connected
        user.ok("pause", "cf", "-n", "cf-ns")
        r = user.ok("connect", "cf")
        assert "Resume vcluster cf..." in r.stderr and "Switched active kube context to" in r.stderr
        assert user.describe("cf", "cf-ns")["status"] == "Running"
        assert user.current_context() == "vcluster_cf_cf-ns_kind-host"
        assert 'already connected to vcluster "cf"' in user.ok("connect", "cf").stderr
        r = user.ok("disconnect")
        assert "Successfully disconnected and switched back to the original context: kind-host" in r.stderr
    finally:
        data_dir = user.describe("cf", "cf-ns")["dataDir"]
        user.ok("delete", "cf", "-n", "cf-ns")
    assert not pids_with(data_dir) and not host.exists("ns", "cf-ns")


def test_create_values_set_print_and_refusals(user: User, host: HostCluster) -> None:
    for args, match in (
        (["--expose"], "--expose=true is not supported"),
        (["--kubernetes-version", "v1.31"], "serves the Kubernetes 1.32 API only"),
        (["--create-namespace=false"], "namespace cv-ns does not exist and --create-namespace=false"),
        (["--set", "sync.toHost.ingresses.enabled"], 'key "enabled" has no value'),
        (["--set", "sync.toHost.ingresses.enabled=maybe"], "--set sync.toHost.ingresses.enabled=maybe: sync"),
    ):
        user.fails("create", "cv", "-n", "cv-ns", *args, match=match)
    assert not host.exists("ns", "cv-ns") and not (user.data / "vclusters").exists()

    a = user.root / "a.yaml"
    a.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: true\n    secrets:\n      all: true\n")
    b = user.root / "b.yaml"
    b.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: false\n")
    r = user.ok(
        "create", "cv", "-n", "cv-ns", "-f", str(a), "-f", str(b),
        "--set", "sync.toHost.priorityClasses.enabled=true", "--kubernetes-version", "v1.32", "--print",
    )  # fmt: skip
    try:
        printed = yaml.safe_load(r.stdout)
        assert printed["current-context"] == "vcluster_cv_cv-ns_kind-host"
        assert user.current_context() == "kind-host"  # --print does not switch
        cm = json.loads(host.kubectl("get", "cm", "-n", "cv-ns", "cv-config", "-o", "json"))
        to_host = yaml.safe_load(cm["data"]["config.yaml"])["sync"]["toHost"]
        assert to_host["ingresses"]["enabled"] is False and to_host["secrets"]["all"] is True
        assert to_host["priorityClasses"]["enabled"] is True

        # list: -n filters, ls is an alias, JSON has vCluster's field names
        rows = json.loads(user.ok("list", "--output", "json").stdout)
        assert [(x["Name"], x["Namespace"], x["Status"], x["Connected"]) for x in rows] == [
            ("cv", "cv-ns", "Running", False)
        ]
        assert set(rows[0]) == {
            "Created",
            "Name",
            "Namespace",
            "Version",
            "Status",
            "AgeSeconds",
            "Connected",
        }
        assert user.ok("ls", "-n", "cv-ns").stdout.splitlines()[1].split()[:3] == ["cv", "cv-ns", "Running"]
        assert user.ok("list", "-n", "other").stdout == ""
    finally:
        user.ok("delete", "cv", "-n", "cv-ns")
    assert not host.exists("ns", "cv-ns")


def test_delete_flags(user: User, host: HostCluster) -> None:
    host.kubectl("create", "namespace", "dl-keep")  # not created by vcluster
    user.ok("create", "dl", "-n", "dl-keep")
    vkc = user.root / "dl.kubeconfig"
    vkc.write_text(user.ok("connect", "dl", "--print").stdout)
    kubectl(vkc, "create", "configmap", "kept", "--from-literal=a=b")

    # --keep-pvc keeps the vCluster's own storage: created again, it has its objects
    r = user.ok("delete", "dl", "-n", "dl-keep", "--keep-pvc", "--delete-context=false")
    assert "--keep-pvc" in r.stderr and host.exists("ns", "dl-keep")
    assert user.current_context() == "vcluster_dl_dl-keep_kind-host"  # --delete-context=false
    assert user.ok("list", "-o", "json").stdout.strip() == "null"  # vCluster marshals its nil slice
    user.ok("create", "dl", "-n", "dl-keep", "--connect=false")
    vkc.write_text(user.ok("connect", "dl", "--print").stdout)
    assert kubectl(vkc, "get", "configmap", "kept", "-o", "jsonpath={.data.a}").stdout == "b"

    # --delete-namespace deletes a namespace vcluster did not create; the context goes by default
    r = user.ok("delete", "dl", "-n", "dl-keep", "--delete-namespace")
    assert "Successfully deleted virtual cluster namespace dl-keep" in r.stderr
    assert not host.exists("ns", "dl-keep") and user.current_context() == "kind-host"
    assert "vcluster_dl" not in user.kubeconfig.read_text()

    # --auto-delete-namespace=false keeps the namespace create made; --ignore-not-found
    user.ok("create", "dl2", "-n", "dl-auto", "--connect=false")
    user.ok("delete", "dl2", "-n", "dl-auto", "--auto-delete-namespace=false")
    assert host.exists("ns", "dl-auto")
    user.fails("delete", "dl2", "-n", "dl-auto", match="vCluster dl2 not found in namespace dl-auto")
    assert "nothing to delete" in user.ok("delete", "dl2", "-n", "dl-auto", "--ignore-not-found").stderr
    host.kubectl("delete", "namespace", "dl-auto", "--wait=false")
    assert not pids_with(str(user.root))
