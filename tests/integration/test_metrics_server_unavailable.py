"""`integrations.metricsServer` against a host without a metrics API (`vcluster host
--no-metrics-server`): the virtual cluster lists metrics.k8s.io and answers 503 ServiceUnavailable,
as kube-apiserver does for an aggregated API whose backend is unavailable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .conftest import Kubectl
from .syncer_harness import HostCluster, Pair, VirtualCluster, pod_manifest, pod_running, wait_until

pytestmark = pytest.mark.integration

UNAVAILABLE = "Error from server (ServiceUnavailable): the server is currently unable to handle the request"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("nometrics")
    host = HostCluster(base / "host", nodes=1, args=["--no-metrics-server"]).start()
    vc = VirtualCluster(base / "vc", host=host, config="integrations: {metricsServer: {enabled: true}}\n")
    try:
        vc.start()
        yield Pair(host, vc, Kubectl(host, base / "kc-h"), Kubectl(vc, base / "kc-v"))
    finally:
        vc.stop()
        host.stop()


def test_host_without_metrics_api_gives_503_in_the_virtual_cluster(pair: Pair) -> None:
    pair.kv.create(pod_manifest("web", "default"))
    wait_until(lambda: pod_running(pair.kv, "web", "default"), 20, what="web Running")
    p = pair.kh.run("top", "pods", "-A", check=False)
    assert p.returncode != 0 and "Metrics API not available" in p.stderr, p.stderr
    for args, what in (
        (("pods",), "(get pods.metrics.k8s.io)"),
        (("pods", "-A"), "(get pods.metrics.k8s.io)"),
        (("pod", "web"), "(get pods.metrics.k8s.io web)"),
        (("nodes",), "(get nodes.metrics.k8s.io)"),
    ):
        p = pair.kv.run("top", *args, check=False)
        assert p.returncode != 0 and f"{UNAVAILABLE} {what}" in p.stderr, p.stderr
    p = pair.kv.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", check=False)
    assert p.returncode != 0 and "ServiceUnavailable" in p.stderr
    # discovery still lists the group, as for a registered APIService whose backend is down
    group = json.loads(pair.kv("get", "--raw", "/apis/metrics.k8s.io"))
    assert group["preferredVersion"]["groupVersion"] == "metrics.k8s.io/v1beta1"
    assert "does not serve metrics.k8s.io/v1beta1" in pair.vc.log_path.read_text()
