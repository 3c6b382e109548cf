"""`vcluster apiserver --datastore` on a real 3-member etcd cluster, used by the real kubectl, when the
member the server talks to hangs (SIGSTOP) instead of dying: the server leaves it within a few
seconds (keepalive probes), kubectl's writes go on through another member, a watch sees every
acknowledged write once, and /readyz stays (or comes back) green."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.etcdcluster import running_cluster

from .conftest import Kubectl, LineReader, Server

pytestmark = pytest.mark.integration

NS = "hung"
CONFIGMAPS = f"/registry/configmaps/{NS}/"  # what each member holds of them


def test_the_member_the_server_talks_to_hangs_and_the_api_goes_on(tmp_path: Path) -> None:
    with running_cluster(3) as cluster:
        frozen = cluster.a_follower()
        server = Server(tmp_path / "vc", args=["--datastore", cluster.endpoints_from(frozen)]).start()
        try:
            k = Kubectl(server, tmp_path / "kc")
            k.namespace(NS)
            watch = LineReader(k.popen("get", "cm", "-n", NS, "-w", "--output-watch-events"))
            try:
                for i in range(3):
                    k("create", "configmap", f"before{i}", "-n", NS)
                watch.wait_for(lambda line: line.split()[:2] == ["ADDED", "before2"])
                frozen.freeze()
                acked, failed, took = [], [], []
                for i in range(5):
                    t0 = time.monotonic()
                    p = k.run("create", "configmap", f"after{i}", "-n", NS, check=False, timeout=30)
                    took.append(time.monotonic() - t0)
                    (acked if p.returncode == 0 else failed).append((f"after{i}", p.stderr.strip()))
                # a write the hung member swallowed is reported as of unknown outcome (a 500, as kube
                # reports an etcd error); it does not cost the 10 s request timeout
                assert len(failed) <= 1 and all("outcome of the write is unknown" in e for _, e in failed), (
                    failed
                )
                assert took[0] < 6 and max(took[1:]) < 2, took
                k("label", "configmap", "before0", "-n", NS, "x=y")
                watch.wait_for(lambda line: line.split()[:2] == ["MODIFIED", "before0"], timeout=10)
            finally:
                lines, _ = watch.stop()
            names = [f"before{i}" for i in range(3)] + [n for n, _ in acked]
            events = [line.split()[:2] for line in lines if line.split()[:1] in (["ADDED"], ["MODIFIED"])]
            assert events == [["ADDED", n] for n in names] + [["MODIFIED", "before0"]], events
            survivors = [m for m in cluster.members if m is not frozen]
            for m in survivors:
                assert set(names) <= m.names_under(CONFIGMAPS), (
                    m.name,
                    set(names) - m.names_under(CONFIGMAPS),
                )
            deadline = time.monotonic() + 10
            while "[+]etcd ok" not in k.run("get", "--raw", "/readyz?verbose", check=False).stdout:
                assert time.monotonic() < deadline, "readyz did not recover"
                time.sleep(0.1)
        finally:
            frozen.thaw()
            server.stop()
