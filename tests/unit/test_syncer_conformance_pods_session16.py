"""Syncer conformance audit, spec §1-§3 (session 16): the gaps the audit found, one test each."""

from __future__ import annotations

import copy
import os

from vcluster.config import load_config
from vcluster.syncer.configctx import context_from_config
from vcluster.syncer.context import SyncContext
from vcluster.syncer.podvolumes import token_requests
from vcluster.syncer.resources import pod as podres

CTX = SyncContext(
    vcluster="my-vc",
    host_namespace="vcluster-my-vc",
    kube_ip="10.96.0.10",
    dns_ip="10.96.0.53",
    owner_uid="svc-uid",
    pod_security_standard="baseline",
)
NS_LABELS = {"kubernetes.io/metadata.name": "default"}
PRIVILEGED_DEBUG = {
    "name": "dbg",
    "image": "busybox",
    "securityContext": {"privileged": True},
    "targetContainerName": "app",
}


def virtual_pod() -> dict:
    """A baseline-compliant running pod `default/app`, as the virtual API server keeps it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default", "uid": "vuid", "labels": {"app": "a"}},
        "spec": {
            "serviceAccountName": "default",
            "enableServiceLinks": True,
            "dnsPolicy": "ClusterFirst",
            "nodeName": "node-1",
            "containers": [{"name": "app", "image": "busybox"}],
        },
        "status": {"phase": "Running", "qosClass": "BestEffort"},
    }


def synced_pair() -> tuple[dict, dict]:
    vpod = virtual_pod()
    tokens = {r.key: "jwt" for r in token_requests(vpod, CTX)}
    host = podres.translate_pod(vpod, CTX, namespace_labels=NS_LABELS, tokens=tokens).obj
    host["metadata"].update(uid="huid", resourceVersion="3")
    host["status"] = {"phase": "Running", "qosClass": "BestEffort"}
    return vpod, host


def test_update_path_checks_the_pod_security_standard() -> None:
    """§3.9(c): a synced pod that now violates `policies.podSecurityStandard` (a privileged
    `kubectl debug` container under baseline) gets the SyncError event and nothing of it reaches
    the host — no ephemeral container, no label or spec change — while the host status still
    comes back (§3.10)."""
    vpod, host = synced_pair()
    old_v, old_h = copy.deepcopy(vpod), copy.deepcopy(host)
    assert podres.create_precondition(vpod, CTX) is None  # compliant as created

    vpod["spec"]["ephemeralContainers"] = [PRIVILEGED_DEBUG]
    vpod["metadata"]["labels"]["team"] = "x"
    vpod["spec"]["containers"][0]["image"] = "busybox:2"
    host["status"]["podIP"] = "10.0.0.7"
    res = podres.sync_pod(vpod, host, old_v, old_h, CTX, namespace_labels=NS_LABELS)

    assert res.blocked
    (event,) = res.events
    assert (event.type, event.reason) == ("Warning", "SyncError")
    assert event.message.startswith('Pod app is forbidden: pods "app" is forbidden: violates PodSecurity')
    assert "privileged" in event.message
    assert res.host_patch is None and res.host_status_patch is None
    assert res.virtual_patch is None
    assert res.virtual_status_patch == {"status": {"podIP": "10.0.0.7"}}

    # the same change on a pod within the standard goes through
    ok = CTX.replace(pod_security_standard="")
    res = podres.sync_pod(vpod, host, old_v, old_h, ok, namespace_labels=NS_LABELS)
    assert not res.blocked and not res.events
    assert res.host_patch is not None and res.host_patch["metadata"]["labels"]["team"] == "x"
    assert podres.ephemeral_containers_to_add(vpod, host, ok) is not None


def test_update_path_deletions_go_before_the_security_check() -> None:
    """§3.9(a) comes first: a violating pod that is being deleted still has its host pod deleted."""
    vpod, host = synced_pair()
    vpod["spec"]["ephemeralContainers"] = [PRIVILEGED_DEBUG]
    vpod["metadata"].update(deletionTimestamp="2026-01-01T00:00:00Z", deletionGracePeriodSeconds=5)
    res = podres.sync_pod(vpod, host, vpod, host, CTX, namespace_labels=NS_LABELS)
    assert [(d.side, d.grace_seconds, d.uid) for d in res.deletes] == [("host", 5, "huid")]
    assert not res.blocked


def test_hosts_rewrite_container_runs_as_the_syncers_ids() -> None:
    """§3.3: the /etc/hosts init container runs as the syncer's own uid/gid, or 1001 when the
    syncer runs as root (vCluster's coredns.GetUserID / GetGroupID)."""
    cfg = load_config(None)
    ctx = context_from_config(cfg, name="my-vc", host_namespace="vcluster-my-vc", uid=1000, gid=2000)
    assert (ctx.rewrite_hosts_uid, ctx.rewrite_hosts_gid) == (1000, 2000)
    root = context_from_config(cfg, name="my-vc", host_namespace="vcluster-my-vc", uid=0, gid=0)
    assert (root.rewrite_hosts_uid, root.rewrite_hosts_gid) == (1001, 1001)
    own = context_from_config(cfg, name="my-vc", host_namespace="vcluster-my-vc")
    assert own.rewrite_hosts_uid == (os.getuid() or 1001)
    assert own.rewrite_hosts_gid == (os.getgid() or 1001)

    vpod = virtual_pod()
    vpod["spec"]["subdomain"] = "web"
    ctx = ctx.replace(dns_ip="10.96.0.53", kube_ip="10.96.0.10")
    pod = podres.translate_pod(vpod, ctx, namespace_labels=NS_LABELS).obj
    (init,) = pod["spec"]["initContainers"]
    sc = init["securityContext"]
    assert (init["name"], sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"]) == (
        "vcluster-rewrite-hosts",
        1000,
        2000,
        True,
    )
