"""Workload behaviours a Kubernetes user hits, checked against kube-controller-manager 1.32."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"statefulset", "garbagecollector", "pvc-protection"}).start()
    try:
        yield h
    finally:
        h.stop()


def _sts(policy: str) -> str:
    return f"""
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  podManagementPolicy: Parallel
  persistentVolumeClaimRetentionPolicy: {policy}
  selector:
    matchLabels: {{app: db}}
  template:
    metadata:
      labels: {{app: db}}
    spec:
      containers:
      - name: c
        image: nginx
        volumeMounts:
        - {{name: data, mountPath: /data}}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {{storage: 1Gi}}
"""


def _claim_owners(h: Harness, ns: str) -> dict[str, list[tuple[str, str, bool]]]:
    """Claim name -> its owner references as (kind, name, controller), for live claims."""
    claims = h.api(lambda c: c.list_all("v1", "persistentvolumeclaims", ns))[0]
    return {
        c["metadata"]["name"]: [
            (r["kind"], r["name"], bool(r.get("controller")))
            for r in c["metadata"].get("ownerReferences") or []
        ]
        for c in claims
        if not c["metadata"].get("deletionTimestamp")
    }


def test_statefulset_claims_deleted_when_scaled_down(harness: Harness, module_kubectl: Kubectl) -> None:
    """whenScaled: Delete: a condemned pod's claim gets the pod as its controller, so the garbage
    collector deletes it with the pod; the claims in range keep the set as their controller."""
    k, h = module_kubectl, harness
    ns = _ns(k, h, "sts-retention-scale")
    k.apply(_sts("{whenScaled: Delete, whenDeleted: Delete}"), "-n", ns)
    k("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    set_ref = [("StatefulSet", "db", True)]
    assert wait_for(lambda: len(o := _claim_owners(h, ns)) == 3 and o) == {
        f"data-db-{i}": set_ref for i in range(3)
    }

    k("scale", "statefulset/db", "--replicas=1", "-n", ns)
    assert wait_for(lambda: list(o := _claim_owners(h, ns)) == ["data-db-0"] and o, timeout=20) == {
        "data-db-0": set_ref
    }


def test_statefulset_retention_policy_change_updates_claims(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    """A policy changed on an existing set re-owns the claims of its pods (processReplica's
    retention check): Retain -> whenDeleted Delete adds the set, back to Retain removes it."""
    k, h = module_kubectl, harness
    ns = _ns(k, h, "sts-retention-change")
    k.apply(_sts("{whenScaled: Retain, whenDeleted: Retain}"), "-n", ns)
    k("rollout", "status", "statefulset/db", "-n", ns, "--timeout=30s")
    assert wait_for(lambda: len(o := _claim_owners(h, ns)) == 3 and o) == {
        f"data-db-{i}": [] for i in range(3)
    }

    patch = '{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"}}}'
    k("patch", "statefulset/db", "-n", ns, "-p", patch)
    set_ref = [("StatefulSet", "db", True)]
    wait_for(lambda: _claim_owners(h, ns) == {f"data-db-{i}": set_ref for i in range(3)}, what="set refs")

    patch = '{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Retain"}}}'
    k("patch", "statefulset/db", "-n", ns, "-p", patch)
    wait_for(lambda: _claim_owners(h, ns) == {f"data-db-{i}": [] for i in range(3)}, what="refs removed")
