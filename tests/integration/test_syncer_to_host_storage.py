"""`sync.toHost.storageClasses` (spec §1.5, §5.5): a virtual StorageClass becomes the host class
`vcluster-<name>-x-<hostns>-x-<vc>`, metadata flows both ways, PVCs name the translated class,
and the host class goes with the virtual one."""

from __future__ import annotations

import pytest

from .conftest import claim_manifest
from .syncer_harness import (
    HOST_NS,
    MANAGED_BY,
    VC_NAME,
    Pair,
    annotations,
    get_json,
    host_name,
    labels,
    pair_fixture,
    safe_concat_name,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture("sync:\n  toHost:\n    storageClasses:\n      enabled: true\n")

STORAGE_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
  labels: {tier: gold}
provisioner: example.com/fast
parameters: {type: ssd}
reclaimPolicy: Delete
allowVolumeExpansion: true
volumeBindingMode: WaitForFirstConsumer
"""


def test_virtual_storage_class_synced_to_host_and_used_by_pvcs(pair: Pair) -> None:
    p = pair
    hname = safe_concat_name("vcluster", "fast", "x", HOST_NS, "x", VC_NAME)
    p.kv.apply(STORAGE_CLASS)
    h = wait_until(lambda: get_json(p.kh, "storageclass", hname), 15, what="host storage class")
    assert h["provisioner"] == "example.com/fast" and h["parameters"] == {"type": "ssd"}
    assert h["volumeBindingMode"] == "WaitForFirstConsumer" and h["allowVolumeExpansion"] is True
    assert labels(h)["tier"] == "gold"
    assert labels(h)[MANAGED_BY] == safe_concat_name(HOST_NS, "x", VC_NAME)  # cluster-scoped marker
    assert annotations(h)["vcluster.loft.sh/object-name"] == "fast"

    ns = virtual_namespace(p.kv, "storage")
    p.kv.apply(claim_manifest("data", ns, storage_class="fast"))
    hpvc = wait_until(
        lambda: get_json(p.kh, "pvc", host_name("data", ns), "-n", HOST_NS), 15, what="host PVC"
    )
    assert hpvc["spec"]["storageClassName"] == hname

    # metadata both ways
    p.kh("label", "storageclass", hname, "owner=infra")
    wait_until(
        lambda: labels(get_json(p.kv, "storageclass", "fast")).get("owner") == "infra",
        10,
        what="host label on the virtual class",
    )
    p.kv("annotate", "storageclass", "fast", "note=from-virtual")
    wait_until(
        lambda: annotations(get_json(p.kh, "storageclass", hname)).get("note") == "from-virtual",
        10,
        what="virtual annotation on the host class",
    )
    p.kv("delete", "pvc", "data", "-n", ns, "--wait=false")
    p.kv("delete", "storageclass", "fast")
    wait_until(lambda: get_json(p.kh, "storageclass", hname) is None, 10, what="host class deleted")
