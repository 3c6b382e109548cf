"""`sync.toHost.serviceAccounts` (spec §3.3): ServiceAccounts go to the host under translated
names, a pod names its translated account there, and an account created together with its pod
reaches the host first (the host's ServiceAccount admission refuses a pod whose account is not
there yet). Without PodSyncer.before_create a heavier variant (300 accounts queued ahead for
one ServiceAccount worker, five account+pod pairs, 72 s) saw a pod refused six times before its
account arrived; the race is too rare at this size to fail the test reliably."""

from __future__ import annotations

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    events_for,
    get_json,
    host_name,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture("sync:\n  toHost:\n    serviceAccounts:\n      enabled: true\n")


def test_a_pod_created_with_its_service_account_runs_under_its_host_copy(pair: Pair) -> None:
    p, ns = pair, virtual_namespace(pair.kv, "robots")
    for i in range(3):
        sa, pod = f"robot-{i}", f"worker-{i}"
        p.kv.apply(
            f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {sa}, namespace: {ns}}}\n---\n"
            + pod_manifest(pod, ns, spec_extra=f"  serviceAccountName: {sa}\n")
        )
    for i in range(3):
        sa, pod = f"robot-{i}", f"worker-{i}"
        wait_until(lambda pod=pod: pod_running(p.kv, pod, ns), 20, what=f"{pod} Running")
        hpod = get_json(p.kh, "pod", host_name(pod, ns), "-n", HOST_NS)
        assert hpod is not None and hpod["spec"]["serviceAccountName"] == host_name(sa, ns)
        hsa = get_json(p.kh, "serviceaccount", host_name(sa, ns), "-n", HOST_NS)
        assert hsa is not None and hsa["metadata"]["annotations"]["vcluster.loft.sh/object-name"] == sa
        refused = [e for e in events_for(p.kv, ns, pod) if "service account" in e.get("message", "")]
        assert refused == [], refused
    assert "error looking up service account" not in p.vc.log_path.read_text()
