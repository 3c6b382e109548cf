"""A claim deleted on one side while a pod still uses it (spec §5.5, vCluster's claim Sync): the
deletion reaches the other side at once, where the claim waits for its pod (pvc-protection) like
the deleted one, instead of one side terminating while the other stays in use for good (found
by tests/soak/syncer_chaos.py: a host claim deleted under a pod left the virtual claim alive)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import claim_manifest
from .syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_name,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture(nodes=1)


def _volume(claim: str) -> str:
    return f"  volumes:\n  - name: data\n    persistentVolumeClaim: {{claimName: {claim}}}\n"


def _terminating(obj: dict[str, Any] | None) -> bool:
    return obj is not None and bool(obj["metadata"].get("deletionTimestamp"))


def _bound_pair(p: Pair, ns: str, claim: str) -> None:
    p.kv.apply(claim_manifest(claim, ns))
    p.kv.create(pod_manifest(f"{claim}-user", ns, spec_extra=_volume(claim)))
    wait_until(lambda: pod_running(p.kv, f"{claim}-user", ns), 30, what="pod with a claim Running")


def test_a_host_claim_deleted_under_a_pod_takes_the_virtual_claim_with_it(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "claims-host-delete")
    _bound_pair(p, ns, "data")
    hclaim = host_name("data", ns)
    p.kh("delete", "pvc", hclaim, "-n", HOST_NS, "--wait=false")
    assert _terminating(get_json(p.kh, "pvc", hclaim, "-n", HOST_NS))  # the host pod uses it
    vclaim = wait_until(
        lambda: (c := get_json(p.kv, "pvc", "data", "-n", ns)) and _terminating(c) and c,
        15,
        what="the virtual claim being deleted too",
    )
    assert vclaim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]  # its pod uses it
    assert pod_running(p.kv, "data-user", ns)  # nothing else touched
    p.kv("delete", "pod", "data-user", "-n", ns, "--wait=false")
    wait_until(lambda: get_json(p.kv, "pvc", "data", "-n", ns) is None, 20, what="virtual claim gone")
    wait_until(lambda: get_json(p.kh, "pvc", hclaim, "-n", HOST_NS) is None, 20, what="host claim gone")


def test_a_virtual_claim_deleted_under_a_pod_is_deleted_on_the_host_at_once(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "claims-virtual-delete")
    _bound_pair(p, ns, "scratch")
    hclaim = host_name("scratch", ns)
    p.kv("delete", "pvc", "scratch", "-n", ns, "--wait=false")
    assert _terminating(get_json(p.kv, "pvc", "scratch", "-n", ns))  # the pod uses it
    wait_until(
        lambda: _terminating(get_json(p.kh, "pvc", hclaim, "-n", HOST_NS)),
        15,
        what="the host claim being deleted while the virtual one waits for its pod",
    )
    assert pod_running(p.kv, "scratch-user", ns)
    p.kv("delete", "pod", "scratch-user", "-n", ns, "--wait=false")
    wait_until(lambda: get_json(p.kv, "pvc", "scratch", "-n", ns) is None, 20, what="virtual claim gone")
    wait_until(lambda: get_json(p.kh, "pvc", hclaim, "-n", HOST_NS) is None, 20, what="host claim gone")
