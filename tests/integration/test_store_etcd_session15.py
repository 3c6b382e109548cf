"""`vcluster apiserver --datastore http(s)://...` on a real etcd, used by the real kubectl: objects
as kube-apiserver lays them out in etcd, restarts, two API servers on one etcd, etcd lost and
regained under a running server, compaction and 410 Expired, CLI messages."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.etcdserver import EtcdServer, etcd_server, etcd_tls_server, running_etcd
from tests.pgserver import free_port

from .conftest import Kubectl, LineReader, Server

pytestmark = pytest.mark.integration
__all__ = ["etcd_server", "etcd_tls_server"]

NS = "etcdtest"


@dataclass
class Setup:
    etcd: EtcdServer
    server: Server
    k: Kubectl

    def raw(self, key: str) -> dict | None:
        """The value etcd holds for a key (through its JSON gateway, as etcdctl would read it)."""
        body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
        with urllib.request.urlopen(f"{self.etcd.url}/v3/kv/range", body, timeout=5) as r:
            out = json.loads(r.read())
        kvs = out.get("kvs")
        if not kvs:
            return None
        return {
            "mod_revision": int(kvs[0]["mod_revision"]),
            "value": json.loads(base64.b64decode(kvs[0]["value"])),
        }


@pytest.fixture(scope="module")
def setup(etcd_server: EtcdServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("etcdstore")
    server = Server(base / "vc", args=["--datastore", etcd_server.url])
    server.start()
    try:
        k = Kubectl(server, base / "kcache")
        k.namespace(NS)
        yield Setup(etcd_server, server, k)
    finally:
        server.stop()


def apiserver(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster", "apiserver", "--data-dir", str(data_dir), "--port", "0",
         "--controllers=", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_kubectl_objects_live_in_etcd_under_registry_with_mod_revision_as_resource_version(
    setup: Setup,
) -> None:
    k = setup.k
    watch = LineReader(k.popen("get", "cm", "-n", NS, "-w", "--output-watch-events"))
    try:
        k("create", "configmap", "one", "-n", NS, "--from-literal=a=1")
        k("create", "configmap", "two", "-n", NS, "--from-literal=b=2")
        k("label", "configmap", "one", "-n", NS, "x=y")
        watch.wait_for(lambda line: line.split()[:2] == ["ADDED", "two"])
        watch.wait_for(lambda line: line.split()[:2] == ["MODIFIED", "one"])
        k("delete", "configmap", "two", "-n", NS)
        watch.wait_for(lambda line: line.split()[:2] == ["DELETED", "two"])
    finally:
        watch.stop()
    one = k.get_json("cm", "one", "-n", NS)
    stored = setup.raw(f"/registry/configmaps/{NS}/one")
    assert stored is not None and stored["value"]["data"] == {"a": "1"}
    assert stored["value"]["metadata"]["labels"] == {"x": "y"}
    assert "resourceVersion" not in stored["value"]["metadata"]  # stamped when read, as kube does
    assert one["metadata"]["resourceVersion"] == str(stored["mod_revision"])
    assert setup.raw(f"/registry/configmaps/{NS}/two") is None
    items = k.get_json("cm", "-n", NS)["items"]
    assert [i["metadata"]["name"] for i in items] == ["one"]
    assert setup.raw(f"/registry/namespaces/{NS}") is not None


def test_a_restart_after_sigkill_keeps_objects_and_continues_the_revisions(setup: Setup) -> None:
    k = setup.k
    k("create", "configmap", "before-kill", "-n", NS, "--from-literal=a=1")
    rv = int(k.get_json("cm", "before-kill", "-n", NS)["metadata"]["resourceVersion"])
    setup.server.kill()
    setup.server.start()
    assert k.get_json("cm", "before-kill", "-n", NS)["data"] == {"a": "1"}
    k("create", "configmap", "after-restart", "-n", NS)
    assert int(k.get_json("cm", "after-restart", "-n", NS)["metadata"]["resourceVersion"]) > rv
    assert (setup.server.data_dir / "backingstore").read_text().strip() == "etcd"


def test_two_api_servers_on_one_etcd_see_each_others_writes(setup: Setup, tmp_path: Path) -> None:
    other = Server(tmp_path / "vc2", args=["--datastore", setup.etcd.url]).start()
    try:
        k2 = Kubectl(other, tmp_path / "kcache2")
        watch = LineReader(k2.popen("get", "cm", "-n", NS, "-w", "--output-watch-events"))
        try:
            setup.k("create", "configmap", "from-one", "-n", NS, "--from-literal=who=one")
            watch.wait_for(lambda line: line.split()[:2] == ["ADDED", "from-one"])
            assert k2.get_json("cm", "from-one", "-n", NS)["data"] == {"who": "one"}
            k2("create", "configmap", "from-two", "-n", NS)
            # read right after the other server's write: a consistent read waits for the cache
            assert setup.k.get_json("cm", "from-two", "-n", NS)["metadata"]["name"] == "from-two"
            # an update with the resourceVersion the other server replaced is a 409 conflict
            stale = setup.k.get_json("cm", "from-one", "-n", NS)
            k2("label", "configmap", "from-one", "-n", NS, "by=two")
            stale["data"] = {"who": "stale"}
            out = setup.k.run("replace", "-f", "-", input=json.dumps(stale), check=False)
            assert out.returncode != 0 and "the object has been modified" in out.stderr
        finally:
            watch.stop()
    finally:
        other.stop()


def test_compaction_expires_old_resource_versions_with_410(etcd_server: EtcdServer, tmp_path: Path) -> None:
    server = Server(tmp_path / "vc", args=["--datastore", etcd_server.url, "--compaction-interval", "0.5"])
    server.start()
    try:
        k = Kubectl(server, tmp_path / "kc")
        k.namespace("compact")
        k("create", "configmap", "c1", "-n", "compact")
        old = k.get_json("cm", "c1", "-n", "compact")["metadata"]["resourceVersion"]
        deadline = time.monotonic() + 15
        out = ""
        while time.monotonic() < deadline:
            k("label", "configmap", "c1", "-n", "compact", f"n={time.monotonic_ns()}", "--overwrite")
            out = k.run(
                "get", "--raw",
                f"/api/v1/namespaces/compact/configmaps?watch=1&resourceVersion={old}&timeoutSeconds=1",
                check=False,
            ).stdout  # fmt: skip
            if "Expired" in out:
                break
            time.sleep(0.3)
        event = json.loads(out.splitlines()[0])
        assert event["type"] == "ERROR" and event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
        listed = k.run(
            "get",
            "--raw",
            f"/api/v1/namespaces/compact/configmaps?limit=1&resourceVersion={old}",
            check=False,
        )
        assert listed.returncode != 0 and "Expired" in listed.stderr + listed.stdout
    finally:
        server.stop()


def test_etcd_lost_and_regained_under_a_running_server(tmp_path: Path) -> None:
    with running_etcd() as etcd:
        server = Server(tmp_path / "vc", args=["--datastore", etcd.url]).start()
        try:
            k = Kubectl(server, tmp_path / "kc")
            k.namespace("lost")
            k("create", "configmap", "kept", "-n", "lost")
            watch = LineReader(k.popen("get", "cm", "-n", "lost", "-w", "--output-watch-events"))
            try:
                etcd.stop()
                out = k.run("create", "configmap", "refused", "-n", "lost", check=False)
                assert out.returncode != 0 and "Internal error occurred" in out.stderr
                assert "write not persisted: cannot reach etcd" in out.stderr
                names = [i["metadata"]["name"] for i in k.get_json("cm", "-n", "lost")["items"]]
                assert "kept" in names and "refused" not in names  # reads go on from the cache
                ready = k.run("get", "--raw", "/readyz?verbose", check=False)
                assert "[-]etcd failed" in ready.stdout + ready.stderr
                etcd.start()
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    if k.run("create", "configmap", "after", "-n", "lost", check=False).returncode == 0:
                        break
                    time.sleep(0.2)
                watch.wait_for(lambda line: line.split()[:2] == ["ADDED", "after"], timeout=15)
                assert "[+]etcd ok" in k("get", "--raw", "/readyz?verbose")
            finally:
                watch.stop()
            names = [i["metadata"]["name"] for i in k.get_json("cm", "-n", "lost")["items"]]
            assert {"kept", "after"} <= set(names) and "refused" not in names
        finally:
            server.stop()


def test_datastore_errors_and_the_store_kind_are_one_clear_message(tmp_path: Path) -> None:
    port = free_port()
    out = apiserver(tmp_path / "a", "--datastore", f"http://127.0.0.1:{port}")
    assert out.returncode == 1
    assert f"cannot use the datastore etcd http://127.0.0.1:{port}: cannot reach etcd" in out.stderr
    assert "check that etcd is running" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "a" / "backingstore").exists()  # a failed start records nothing
    # a data dir made with SQLite does not start on etcd
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "state.db").write_bytes(b"")
    out = apiserver(tmp_path / "b", "--datastore", f"https://127.0.0.1:{port}")
    assert out.returncode == 1 and "was created with the SQLite (DIR/state.db) store" in out.stderr
    assert "the backing store of a virtual cluster cannot change after creation" in out.stderr
    out = apiserver(tmp_path / "c", "--datastore", "ftp://x")
    assert out.returncode == 2 and "'ftp' scheme is not a supported datastore" in out.stderr


def test_the_etcd_tls_flags_of_vcluster_apiserver(etcd_tls_server: EtcdServer, tmp_path: Path) -> None:
    tls = etcd_tls_server.tls
    assert tls is not None
    flags = ["--datastore", etcd_tls_server.url, "--etcd-cafile", str(tls.ca)]
    out = apiserver(tmp_path / "nocert", *flags)
    assert out.returncode == 1 and "etcd asks for a client certificate" in out.stderr
    flags += ["--etcd-certfile", str(tls.client_cert), "--etcd-keyfile", str(tls.client_key)]
    server = Server(tmp_path / "vc", args=flags).start()
    try:
        k = Kubectl(server, tmp_path / "kc")
        k("create", "configmap", "over-tls")
        assert k.get_json("cm", "over-tls")["metadata"]["name"] == "over-tls"
    finally:
        server.stop()
