"""`vcluster apiserver --datastore` with a comma-separated list of etcd members (kube-apiserver's
--etcd-servers), on a real 3-member etcd cluster, used by the real kubectl: the member the server
talks to dies during writes and a watch, and the API goes on without losing or repeating anything;
with every member down, one clear message names them all."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.etcdcluster import running_cluster
from tests.pgserver import free_port

from .conftest import Kubectl, LineReader, Server
from .test_store_etcd_session15 import apiserver

pytestmark = pytest.mark.integration

NS = "members"
CONFIGMAPS = f"/registry/configmaps/{NS}/"  # what each member holds of them


def test_the_member_the_server_talks_to_dies_and_the_api_goes_on(tmp_path: Path) -> None:
    with running_cluster(3) as cluster:
        # the server talks to the first member listed: a follower, so no election follows its death
        # (the store test kills the leader too)
        follower = cluster.a_follower()
        server = Server(tmp_path / "vc", args=["--datastore", cluster.endpoints_from(follower)]).start()
        try:
            k = Kubectl(server, tmp_path / "kc")
            k.namespace(NS)
            watch = LineReader(k.popen("get", "cm", "-n", NS, "-w", "--output-watch-events"))
            try:
                for i in range(4):
                    k("create", "configmap", f"before{i}", "-n", NS)
                follower.kill()
                for i in range(4):
                    k("create", "configmap", f"after{i}", "-n", NS)  # each acknowledged
                k("label", "configmap", "before0", "-n", NS, "x=y")
                watch.wait_for(lambda line: line.split()[:2] == ["MODIFIED", "before0"])
            finally:
                lines, _ = watch.stop()
            events = [line.split()[:2] for line in lines if line.split()[:1] in (["ADDED"], ["MODIFIED"])]
            names = [f"before{i}" for i in range(4)] + [f"after{i}" for i in range(4)]
            # every event once, in order (the watch resumed on another member at its revision)
            assert events == [["ADDED", n] for n in names] + [["MODIFIED", "before0"]], events
            listed = {i["metadata"]["name"] for i in k.get_json("cm", "-n", NS)["items"]}
            assert set(names) <= listed
            survivors = [m for m in cluster.members if m.alive]
            assert all(
                set(names) <= m.names_under(CONFIGMAPS) for m in survivors
            )  # nothing acknowledged lost
            deadline = time.monotonic() + 10
            while "[+]etcd ok" not in k.run("get", "--raw", "/readyz?verbose", check=False).stdout:
                assert time.monotonic() < deadline, "readyz did not recover"
                time.sleep(0.1)
        finally:
            server.stop()


def test_every_member_down_is_one_message_naming_them_all(tmp_path: Path) -> None:
    a, b = free_port(), free_port()
    out = apiserver(tmp_path / "a", "--datastore", f"http://127.0.0.1:{a},http://127.0.0.1:{b}")
    assert out.returncode == 1, out.stderr
    assert (
        f"cannot use the datastore etcd http://127.0.0.1:{a},http://127.0.0.1:{b}: "
        "no etcd member answered (2 tried)"
    ) in out.stderr
    assert f"cannot reach etcd at http://127.0.0.1:{a}" in out.stderr
    assert f"cannot reach etcd at http://127.0.0.1:{b}" in out.stderr
    assert "listening for clients at those addresses" in out.stderr and "Traceback" not in out.stderr
