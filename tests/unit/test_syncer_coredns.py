"""The virtual cluster's CoreDNS manifests and NodeHosts (spec §8.1, §8.8, §11)."""

from __future__ import annotations

from vcluster.syncer import coredns


def test_corefile_serves_the_virtual_names() -> None:
    cf = coredns.corefile()
    assert cf.startswith(".:1053 {\n")
    assert "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        pods insecure\n" in cf
    assert "rewrite name regex .*\\.nodes\\.vcluster\\.com kubernetes.default.svc.cluster.local" in cf
    assert "    hosts /etc/coredns/NodeHosts {\n" in cf and "    forward . /etc/resolv.conf\n" in cf
    assert cf.endswith("import /etc/coredns/custom/*.server")
    other = coredns.corefile("corp.local", rewrite_node_names=False)
    assert "kubernetes corp.local cluster.local in-addr.arpa ip6.arpa {" in other and "rewrite" not in other


def test_corefile_falls_back_to_the_host_cluster_dns() -> None:
    """networking.advanced.fallbackHostCluster: cluster names the virtual cluster does not know fall
    through to the host's DNS server, which also answers everything else (vCluster's template)."""
    cf = coredns.corefile(fallback_dns="10.96.0.10")
    assert "        fallthrough cluster.local in-addr.arpa ip6.arpa\n" in cf
    assert "    forward . 10.96.0.10\n" in cf and "/etc/resolv.conf" not in cf
    other = coredns.corefile("corp.local", fallback_dns="10.96.0.10")
    assert "fallthrough corp.local cluster.local in-addr.arpa ip6.arpa" in other
    cm = coredns.manifests(fallback_dns="10.0.0.53")[3]
    assert "forward . 10.0.0.53\n" in cm["data"]["Corefile"]


def test_nameservers_of_a_resolv_conf() -> None:
    text = (
        "# generated\nsearch ns.svc.cluster.local svc.cluster.local\n"
        "nameserver 10.96.0.10 # cluster DNS\n  nameserver\tfd00::a\nnameserver\noptions ndots:5\n"
        "; nameserver 1.1.1.1\n"
    )
    assert coredns.nameservers(text) == ["10.96.0.10", "fd00::a"]
    assert coredns.nameservers("") == []


def test_manifests() -> None:
    objs = coredns.manifests("mirror.example.com/coredns/coredns:1.11.3", pod_security=True)
    assert [o["kind"] for o in objs] == [
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service",
    ]  # fmt: skip
    cm, deploy, svc = objs[3], objs[4], objs[5]
    assert cm["metadata"] == {"name": "coredns", "namespace": "kube-system"}
    assert set(cm["data"]) == {"Corefile", "NodeHosts"} and cm["data"]["NodeHosts"] == ""
    sel = {"k8s-app": "vcluster-kube-dns"}
    assert (
        deploy["spec"]["selector"]["matchLabels"] == sel == deploy["spec"]["template"]["metadata"]["labels"]
    )
    pod = deploy["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "mirror.example.com/coredns/coredns:1.11.3"
    assert pod["serviceAccountName"] == "coredns" and pod["dnsPolicy"] == "Default"
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert "securityContext" not in coredns.manifests()[4]["spec"]["template"]["spec"]
    assert svc["metadata"]["name"] == "kube-dns" and svc["spec"]["selector"] == sel
    assert [(p["name"], p["port"], p.get("targetPort")) for p in svc["spec"]["ports"]] == [
        ("dns", 53, 1053), ("dns-tcp", 53, 1053), ("metrics", 9153, None),
    ]  # fmt: skip
    assert objs[2]["subjects"] == [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]


def test_node_hosts_and_the_old_dns_service() -> None:
    nodes = [
        {"metadata": {"name": "b"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}},
        {
            "metadata": {"name": "a"},
            "status": {
                "addresses": [
                    {"type": "Hostname", "address": "a.nodes.vcluster.com"},
                    {"type": "InternalIP", "address": "10.0.0.1"},
                ]
            },
        },
    ]
    assert coredns.node_hosts(nodes) == "10.0.0.1 a.nodes.vcluster.com\n10.0.0.2 b"
    assert coredns.node_hosts([]) == ""
    assert coredns.is_old_dns_service({"spec": {"selector": {"k8s-app": "kube-dns"}}})
    assert not coredns.is_old_dns_service(coredns.service())
