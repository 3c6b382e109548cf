"""CoreDNS in the virtual cluster (`controlPlane.coredns.enabled`, spec §8.1 step 5, §8.8, §11),
against a pair started with it on."""

from __future__ import annotations

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_name,
    items,
    pair_fixture,
    pod_manifest,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture("controlPlane:\n  coredns:\n    enabled: true\n")


def test_coredns_runs_in_the_virtual_cluster_and_serves_the_pods(pair: Pair) -> None:
    """Spec §8.1/§11: CoreDNS is deployed into the virtual cluster, its pod is synced and Running,
    kube-dns selects it, NodeHosts lists the virtual nodes, and a synced pod's nameserver is the
    host ClusterIP of kube-dns (§3.5)."""
    p = pair
    deploy = wait_until(
        lambda: (
            (d := get_json(p.kv, "deployment", "coredns", "-n", "kube-system"))
            and (d.get("status") or {}).get("availableReplicas") == 1
            and d
        ),
        30,
        what="coredns available",
    )
    assert deploy["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "vcluster-kube-dns"}
    svc = p.kv.get_json("service", "kube-dns", "-n", "kube-system")
    assert svc["spec"]["selector"] == {"k8s-app": "vcluster-kube-dns"}
    vpods = items(p.kv, "pods", "-n", "kube-system", "-l", "k8s-app=vcluster-kube-dns")
    assert len(vpods) == 1 and vpods[0]["status"]["phase"] == "Running"
    hpod = p.kh.get_json("pod", host_name(vpods[0]["metadata"]["name"], "kube-system"), "-n", HOST_NS)
    assert hpod["status"]["phase"] == "Running"
    # NodeHosts: one line per virtual node, as the nodes come and go
    nodes = {n["metadata"]["name"] for n in items(p.kv, "nodes")}
    hosts = wait_until(
        lambda: (
            (
                h := (get_json(p.kv, "configmap", "coredns", "-n", "kube-system") or {})
                .get("data", {})
                .get("NodeHosts")
            )
            and len(h.splitlines()) == len(nodes)
            and h
        ),
        10,
        what="NodeHosts lines for every virtual node",
    )
    assert all(len(line.split()) == 2 for line in hosts.splitlines()), hosts
    # a synced pod resolves through it: its nameserver is kube-dns's host ClusterIP
    ns = virtual_namespace(p.kv, "dns")
    p.kv.create(pod_manifest("resolver", ns))
    h = wait_until(
        lambda: get_json(p.kh, "pod", host_name("resolver", ns), "-n", HOST_NS), 15, what="host pod"
    )
    dns_ip = p.kh.get_json("service", host_name("kube-dns", "kube-system"), "-n", HOST_NS)["spec"][
        "clusterIP"
    ]
    assert h["spec"]["dnsPolicy"] == "None" and h["spec"]["dnsConfig"]["nameservers"][0] == dns_ip


def test_restart_keeps_the_manifests_and_their_edits(pair: Pair) -> None:
    """The manifests are created only when missing: a user's edit of the Corefile survives a
    restart, and nothing is created again."""
    p = pair
    wait_until(lambda: get_json(p.kv, "configmap", "coredns", "-n", "kube-system"), 15, what="coredns cm")
    uid = p.kv.get_json("deployment", "coredns", "-n", "kube-system")["metadata"]["uid"]
    p.kv("patch", "configmap", "coredns", "-n", "kube-system", "--type=merge", "-p",
         '{"data":{"Corefile":".:1053 {\\n    errors\\n}\\n"}}')  # fmt: skip
    p.vc.stop()
    p.vc.start()
    after = p.kv.get_json("configmap", "coredns", "-n", "kube-system")
    assert after["data"]["Corefile"] == ".:1053 {\n    errors\n}\n"
    assert p.kv.get_json("deployment", "coredns", "-n", "kube-system")["metadata"]["uid"] == uid
