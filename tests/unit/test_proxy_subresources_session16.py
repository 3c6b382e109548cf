"""The pure parts of the proxy subresources: kube's name[:port] parsing, address checks, path joining,
URL/HTML rewriting, and the virtual cluster's kubelet-listing rewriting."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.apiserver import connectoptions
from vcluster.apiserver.proxyhttp import join_preserving_trailing_slash, rewrite_html, rewrite_url
from vcluster.apiserver.proxysubresource import (
    SimulatedNetwork,
    dial_port,
    global_unicast,
    split_scheme_name_port,
)
from vcluster.syncer.engine.proxyrelay import rewrite_kubelet_json, rewrite_metrics


@pytest.mark.parametrize(
    ("ident", "want"),
    [
        ("web", ("", "web", "")),
        ("web:80", ("", "web", "80")),
        ("web:http", ("", "web", "http")),
        ("https:web:443", ("https", "web", "443")),
        ("https:web:", ("https", "web", "")),
        ("ftp:web:21", None),
        (":80", None),
        ("a:b:c:d", None),
    ],
)
def test_split_scheme_name_port(ident: str, want: tuple[str, str, str] | None) -> None:
    assert split_scheme_name_port(ident) == want


@pytest.mark.parametrize(
    ("ip", "ok"),
    [
        ("10.244.1.5", True),
        ("192.168.0.1", True),
        ("8.8.8.8", True),
        ("2001:db8::1", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("169.254.1.1", False),
        ("fe80::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("", False),
        ("not-an-ip", False),
    ],
)
def test_global_unicast_is_gos(ip: str, ok: bool) -> None:
    assert global_unicast(ip) is ok


def test_dial_port() -> None:
    assert dial_port("", "http") == 80 and dial_port("", "https") == 443
    assert dial_port("8080", "http") == 8080
    assert dial_port("70000", "http") is None
    assert dial_port("no-such-service-name", "http") is None


@pytest.mark.parametrize(
    ("elems", "want"),
    [
        (("", ""), ""),
        (("", "/"), "/"),
        (("", "/a/b"), "/a/b"),
        (("", "/a/b/"), "/a/b/"),
        (("", "/a//b/../c/"), "/a/c/"),
    ],
)
def test_join_preserving_trailing_slash(elems: tuple[str, ...], want: str) -> None:
    assert join_preserving_trailing_slash(*elems) == want


PREFIX = "/api/v1/namespaces/ns/pods/web/proxy"


@pytest.mark.parametrize(
    ("target", "want"),
    [
        ("/docs/", f"{PREFIX}/docs/"),
        ("/a?b=1#c", f"{PREFIX}/a?b=1#c"),
        ("rel/path", "rel/path"),  # relative: unchanged
        ("http://elsewhere/x", "http://elsewhere/x"),  # another host: unchanged
        ("http://10.0.0.1:8080/x", f"{PREFIX}/x"),  # the backend itself: under the API path
        ("https://api.example:6443/y", f"https://api.example:6443{PREFIX}/y"),  # the client's host
        (f"{PREFIX}/already", f"{PREFIX}/already"),
    ],
)
def test_rewrite_url_follows_transport_go(target: str, want: str) -> None:
    assert rewrite_url(target, "10.0.0.1:8080", "api.example:6443", PREFIX) == want


def test_rewrite_html_touches_only_url_attributes() -> None:
    page = (
        b'<html><head><link rel="stylesheet" href="/s.css"></head><body class="/x">'
        b'<a href=\'/a\'>/a</a><IMG SRC=/i.png alt="/alt"><form action="/f?x=1&amp;y=2"></form>'
        b'<p title="/t">text /plain</p></body></html>'
    )
    out = rewrite_html(page, lambda u: "/P" + u if u.startswith("/") else u).decode()
    assert 'href="/P/s.css"' in out and 'href="/P/a"' in out and 'SRC="/P/i.png"' in out
    assert 'action="/P/f?x=1&amp;y=2"' in out  # entities decoded for the rewrite and escaped again
    assert 'class="/x"' in out and 'alt="/alt"' in out and 'title="/t"' in out and "text /plain" in out


def test_simulated_network_maps_pod_cidrs_to_loopback() -> None:
    net = SimulatedNetwork(lambda: ["10.244.1.0/24"], lambda: ["127.0.0.1"])
    assert net.dial("10.244.1.7", 8080) == ("127.0.0.1", 8080)
    assert net.dial("10.244.2.7", 8080) == ("10.244.2.7", 8080)
    assert net.dial("node.example", 10250) == ("node.example", 10250)
    assert net.proxyable("127.0.0.1") and not net.proxyable("127.0.0.2")


def _lookup(ns: str, name: str) -> tuple[str, str] | None:
    return ("vns", name.split("-x-")[0]) if ns == "hns" and "-x-" in name else None


def test_kubelet_listings_keep_only_this_virtual_clusters_pods() -> None:
    pods: dict[str, Any] = {
        "kind": "PodList",
        "items": [
            {"metadata": {"name": "web-x-vns-x-vc", "namespace": "hns"}},
            {"metadata": {"name": "other", "namespace": "hns"}},
            {"metadata": {"name": "x-x-y", "namespace": "kube-system"}},
        ],
    }
    assert rewrite_kubelet_json(pods, _lookup)["items"] == [{"metadata": {"name": "web", "namespace": "vns"}}]
    summary: dict[str, Any] = {
        "node": {"nodeName": "n1"},
        "pods": [
            {"podRef": {"name": "web-x-vns-x-vc", "namespace": "hns", "uid": "u"}},
            {"podRef": {"name": "z"}},
        ],
    }
    out = rewrite_kubelet_json(summary, _lookup)
    assert out["node"] == {"nodeName": "n1"}
    assert out["pods"] == [{"podRef": {"name": "web", "namespace": "vns", "uid": "u"}}]


def test_metrics_relabelled_and_other_tenants_dropped() -> None:
    text = (
        "# HELP container_cpu_usage_seconds_total x\n"
        'container_cpu_usage_seconds_total{container="main",namespace="hns",pod="web-x-vns-x-vc"} 1.5 1700\n'
        'container_cpu_usage_seconds_total{container="main",namespace="hns",pod="someone-else"} 2\n'
        "node_cpu_usage_seconds_total{} 9\n"
        "machine_memory_bytes 1024\n"
    )
    assert rewrite_metrics(text, _lookup) == (
        "# HELP container_cpu_usage_seconds_total x\n"
        'container_cpu_usage_seconds_total{container="main",namespace="vns",pod="web"} 1.5 1700\n'
        "node_cpu_usage_seconds_total{} 9\n"
        "machine_memory_bytes 1024\n"
    )


def test_proxy_options_kinds_and_query_conversion() -> None:
    assert connectoptions.option_kind("Pod", "proxy") == "PodProxyOptions"
    assert connectoptions.option_kind("Service", "proxy") == "ServiceProxyOptions"
    assert connectoptions.option_kind("Node", "proxy") == "NodeProxyOptions"
    assert connectoptions.option_kind("Pod", "exec") == "PodExecOptions"
    assert connectoptions.option_kind("Service", "exec") == ""
    assert connectoptions.type_error("NodeProxyOptions", {"path": 3}) == (
        "json: cannot unmarshal number 3 into Go struct field NodeProxyOptions.path of type string"
    )
    assert connectoptions.normalize("PodProxyOptions", {"path": "/x", "extra": 1}) == {
        "kind": "PodProxyOptions",
        "apiVersion": "v1",
        "path": "/x",
    }


def test_metrics_claims_relabelled_like_vclusters_rewrite() -> None:
    """kubelet_volume_stats_* carry `namespace` + `persistentvolumeclaim`: rewritten to the virtual
    claim, other tenants' dropped; a label that only ends in `namespace` is left alone."""
    claims = {("hns", "data-x-vns-x-vc"): ("vns", "data")}
    text = (
        'kubelet_volume_stats_used_bytes{namespace="hns",persistentvolumeclaim="data-x-vns-x-vc"} 10\n'
        'kubelet_volume_stats_used_bytes{namespace="hns",persistentvolumeclaim="theirs"} 20\n'
        'x{container_namespace="hns",namespace="hns",pod="web-x-vns-x-vc"} 1\n'
    )
    out = rewrite_metrics(text, _lookup, lambda ns, name: claims.get((ns, name)))
    assert out == (
        'kubelet_volume_stats_used_bytes{namespace="vns",persistentvolumeclaim="data"} 10\n'
        'x{container_namespace="hns",namespace="vns",pod="web"} 1\n'
    )
    # without a claim lookup (or for a claim not ours) the sample is dropped, never leaked
    assert rewrite_metrics(text, _lookup) == 'x{container_namespace="hns",namespace="vns",pod="web"} 1\n'
