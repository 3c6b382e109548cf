"""`networking.advanced.fallbackHostCluster` (the virtual CoreDNS forwards to the host cluster's
DNS) and `experimental.syncSettings.{host,virtual}MetricsBindAddress` (plain-HTTP /metrics
listeners), against a host that has a `kube-system/kube-dns` Service."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Kubectl
from .syncer_harness import HostCluster, Pair, VirtualCluster, get_json, wait_until

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        return str(r.read().decode())


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pair, str, list[int]]]:
    base = tmp_path_factory.mktemp("hostdns")
    host = HostCluster(base / "host").start()
    try:
        kh = Kubectl(host, base / "kcache-host")
        kh.run("get", "namespace", "kube-system")
        kh.run("create", "service", "clusterip", "kube-dns", "-n", "kube-system", "--tcp=53:53")
        dns_ip = kh.get_json("service", "kube-dns", "-n", "kube-system")["spec"]["clusterIP"]
        ports = [_free_port(), _free_port()]
        config = (
            "controlPlane:\n  coredns:\n    enabled: true\n"
            "networking:\n  advanced:\n    fallbackHostCluster: true\n"
            "experimental:\n  syncSettings:\n"
            f"    hostMetricsBindAddress: 127.0.0.1:{ports[0]}\n"
            f"    virtualMetricsBindAddress: 127.0.0.1:{ports[1]}\n"
        )
        vc = VirtualCluster(base / "vc", host=host, config=config).start()
    except BaseException:
        host.stop()
        raise
    pair = Pair(host, vc, kh, Kubectl(vc, base / "kcache-vc"))
    try:
        yield pair, dns_ip, ports
    finally:
        pair.stop()


def test_coredns_forwards_to_the_host_cluster_dns(setup: tuple[Pair, str, list[int]]) -> None:
    """The Corefile of the virtual CoreDNS lets cluster names it does not know fall through and
    forwards them (and every other name) to the host's kube-dns ClusterIP."""
    p, dns_ip, _ = setup
    cm = wait_until(
        lambda: get_json(p.kv, "configmap", "coredns", "-n", "kube-system"), 20, what="coredns cm"
    )
    corefile = cm["data"]["Corefile"]
    assert f"    forward . {dns_ip}\n" in corefile, corefile
    assert "fallthrough cluster.local in-addr.arpa ip6.arpa" in corefile
    assert "/etc/resolv.conf" not in corefile
    assert "fallbackHostCluster" not in p.vc.log_path.read_text()  # no "not implemented" warning


def test_metrics_are_served_at_the_configured_addresses(setup: tuple[Pair, str, list[int]]) -> None:
    p, _, ports = setup
    p.kv.run("create", "configmap", "m1", "--from-literal=k=v")
    for port in ports:
        text = wait_until(
            lambda port=port: (
                (t := _metrics(port)) and 'vcluster_syncer_reconcile_seconds_count{kind="' in t and t
            ),
            15,
            what=f"syncer metrics on {port}",
        )
        assert "# TYPE vcluster_syncer_queue_depth gauge" in text
        # read from the queues when scraped: a counter of retries, and client-go's workqueue names
        assert "# TYPE vcluster_syncer_retries_total counter" in text
        assert 'vcluster_syncer_queue_depth{kind="configmap"}' in text
        adds = [ln for ln in text.splitlines() if ln.startswith('workqueue_adds_total{name="configmap"}')]
        assert adds and float(adds[0].split()[1]) >= 1, adds
        assert 'workqueue_depth{name="node"}' in text and 'workqueue_retries_total{name="pod"}' in text
        assert "apiserver_request_total" in text  # the process's one registry, as controller-runtime's
        # the store's gauges are read when collected, here as on the API port
        gauges = {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith(
                (
                    "apiserver_storage_objects ",
                    "apiserver_storage_revision ",
                    "apiserver_registered_watchers ",
                )
            )
        }
        assert gauges["apiserver_storage_objects"] > 0 and gauges["apiserver_storage_revision"] > 0, gauges
        assert gauges["apiserver_registered_watchers"] > 0, gauges  # the syncer's and controllers' watches
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/api/v1/namespaces", timeout=10)
    assert e.value.code == 404  # only /metrics, never the API without authentication


def test_a_metrics_address_in_use_stops_the_start_with_its_name(tmp_path: Path) -> None:
    """The second process cannot bind the address the first holds: it exits 1 naming it."""
    host = HostCluster(tmp_path / "host").start()
    try:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            vc = VirtualCluster(
                tmp_path / "vc",
                host=host,
                config=f"experimental:\n  syncSettings:\n    hostMetricsBindAddress: 127.0.0.1:{port}\n",
            )
            out = subprocess.run(
                [sys.executable, "-m", "vcluster", *vc.launch_args()],
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert out.returncode == 1, out
        assert f"cannot serve metrics at 127.0.0.1:{port} (experimental.syncSettings)" in out.stderr
        assert "Traceback" not in out.stderr
    finally:
        host.stop()
