"""The fake kubelet's pure parts (spec §8.9): which Host headers name a node, and what a kubelet
request is authorized as (vCluster's nodename.go and kubeletauthorizer)."""

from __future__ import annotations

import pytest

from vcluster.syncer.engine import fakekubelet as fk


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("node-1.nodes.vcluster.com:10250", "node-1.nodes.vcluster.com"),
        ("10.96.0.7:10250", "10.96.0.7"),
        ("[fd00::7]:10250", "fd00::7"),
        ("node-1.nodes.vcluster.com:", "node-1.nodes.vcluster.com"),  # Go: empty port, no error
        ("node-1.nodes.vcluster.com", None),  # no port: vCluster does not look
        ("fd00::7", None),  # too many colons
        ("[fd00::7]", None),
        ("", None),
    ],
)
def test_split_host_port_as_go(header: str, host: str | None) -> None:
    assert fk.split_host_port(header) == host


def test_legacy_hostname_of_vcluster_0_14() -> None:
    assert fk.legacy_node_hostname("a.b", "vc", "ns") == "a-b.vc.ns.nodes.vcluster.com"


def test_kubelet_attributes() -> None:
    stats = fk.kubelet_attributes("n1", "/stats/summary", "GET")
    assert (stats.resource_request, stats.verb, stats.resource, stats.subresource, stats.name) == (
        True, "get", "nodes", "stats", "n1",
    )  # fmt: skip
    for path in ("/metrics", "/metrics/cadvisor", "/metrics/resource", "/metrics/resource/v1beta1"):
        m = fk.kubelet_attributes("n1", path, "GET")
        assert (m.resource, m.subresource, m.name) == ("nodes", "metrics", "n1"), path
    other = fk.kubelet_attributes("n1", "/containerLogs/a/b/c", "POST")
    assert (other.resource_request, other.verb, other.path) == (False, "post", "/containerLogs/a/b/c")
    assert not fk.kubelet_attributes("n1", "/metrics/other", "GET").resource_request
