"""Exploratory user testing (session 16): the defects it found that a unit test pins down."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from vcluster.config import load_config
from vcluster.syncer import coredns
from vcluster.syncer.configctx import context_from_config
from vcluster.syncer.engine.coredns import CoreDNSController
from vcluster.syncer.resources import pod as podres


def _coredns_security(uid: int, gid: int) -> dict[str, Any]:
    cfg = load_config(None)
    ctx = context_from_config(cfg, name="my-vc", host_namespace="vcluster-my-vc", uid=uid, gid=gid)
    controller: Any = SimpleNamespace(engine=SimpleNamespace(config=cfg, ctx=ctx))
    deploy = CoreDNSController.manifests(controller)[4]
    assert deploy["kind"] == "Deployment"
    return deploy["spec"]["template"]["spec"]["containers"][0]["securityContext"]


def test_coredns_runs_as_the_syncers_ids() -> None:
    """vCluster fills its CoreDNS manifests' RUN_AS_USER/RUN_AS_GROUP from the syncer's own ids,
    1001 only in place of root's 0 (the rule of the /etc/hosts rewrite container)."""
    sc = _coredns_security(1000, 2000)
    assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (1000, 2000, True)
    root = _coredns_security(0, 0)
    assert (root["runAsUser"], root["runAsGroup"]) == (coredns.RUN_AS, coredns.RUN_AS) == (1001, 1001)


def test_pod_host_ip_becomes_the_node_service_ip() -> None:
    """rewriteFakeHostIPAddresses: hostIP/hostIPs replaced by the node Service's ClusterIP; a pod
    not placed yet (no hostIP) or a node without a known Service IP is left as the host has it."""
    hpod = {
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running", "hostIP": "192.168.1.5", "podIP": "10.1.0.3"},
    }
    out = podres.with_node_host_ip(hpod, "10.96.7.7")
    assert out["status"] == {
        "phase": "Running",
        "hostIP": "10.96.7.7",
        "hostIPs": [{"ip": "10.96.7.7"}],
        "podIP": "10.1.0.3",
    }
    assert hpod["status"]["hostIP"] == "192.168.1.5"  # the cached host pod is not modified
    assert podres.with_node_host_ip(hpod, "") is hpod
    pending = {"spec": {}, "status": {"phase": "Pending"}}
    assert podres.with_node_host_ip(pending, "10.96.7.7") is pending
