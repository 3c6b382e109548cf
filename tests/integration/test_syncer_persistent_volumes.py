"""`sync.toHost.persistentVolumes` (spec §1.5, §5.5, §6.3): a volume made in the virtual cluster goes
to the host under its cluster-translated name and binds a virtual claim through the host's binder;
a volume the host provisions for a virtual claim is mirrored into the virtual cluster under its own
name with `vcluster.loft.sh/host-pv`; claimRefs and status come back virtualised."""

from __future__ import annotations

import pytest

from .conftest import claim_manifest
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    annotations,
    get_json,
    host_name,
    labels,
    pair_fixture,
    pod_manifest,
    pod_running,
    safe_concat_name,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture("sync:\n  toHost:\n    persistentVolumes:\n      enabled: true\n")


def cluster_name(name: str) -> str:
    return safe_concat_name("vcluster", name, "x", HOST_NS, "x", VC_NAME)


def phase(obj: dict | None) -> str | None:
    return (obj or {}).get("status", {}).get("phase")


def test_virtual_volume_synced_and_bound_through_the_host(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "static-pv")
    p.kv.apply("""\
apiVersion: v1
kind: PersistentVolume
metadata: {name: manual-1, labels: {disk: ssd}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /mnt/manual-1}
""")
    hname = cluster_name("manual-1")
    h = wait_until(lambda: get_json(p.kh, "pv", hname), 15, what="host volume")
    assert h["spec"]["storageClassName"] == cluster_name("manual")
    assert h["spec"]["hostPath"]["path"] == "/mnt/manual-1" and "claimRef" not in h["spec"]
    assert labels(h)["disk"] == "ssd" and annotations(h)["vcluster.loft.sh/object-name"] == "manual-1"

    p.kv.apply(claim_manifest("data", ns, storage_class="manual"))
    hclaim = wait_until(
        lambda: (
            (c := get_json(p.kh, "pvc", host_name("data", ns), "-n", HOST_NS)) and phase(c) == "Bound" and c
        ),
        15,
        what="host claim bound to the synced volume",
    )
    assert hclaim["spec"]["volumeName"] == hname
    assert hclaim["spec"]["storageClassName"] == cluster_name("manual")  # the host has no class "manual"
    vclaim = wait_until(
        lambda: (c := get_json(p.kv, "pvc", "data", "-n", ns)) and phase(c) == "Bound" and c,
        15,
        what="virtual claim Bound",
    )
    assert vclaim["spec"]["volumeName"] == "manual-1"  # the virtual volume, not the host name
    vpv = wait_until(
        lambda: (v := get_json(p.kv, "pv", "manual-1")) and phase(v) == "Bound" and v,
        15,
        what="virtual Bound",
    )
    ref = vpv["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == (ns, "data", vclaim["metadata"]["uid"])

    # metadata both ways
    p.kh("label", "pv", hname, "zone=b")
    wait_until(lambda: labels(get_json(p.kv, "pv", "manual-1")).get("zone") == "b", 10, what="host label")

    # the claim goes: Retain leaves the volume Released on both sides; deleting it removes both
    p.kv("delete", "pvc", "data", "-n", ns)
    wait_until(lambda: phase(get_json(p.kv, "pv", "manual-1")) == "Released", 15, what="virtual Released")
    p.kv("delete", "pv", "manual-1", "--wait=false")
    wait_until(lambda: get_json(p.kh, "pv", hname) is None, 15, what="host volume deleted")
    wait_until(lambda: get_json(p.kv, "pv", "manual-1") is None, 15, what="virtual volume gone")


def test_host_provisioned_volume_is_mirrored(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "dynamic-pv")
    p.kv.apply(claim_manifest("cache", ns))
    p.kv.create(
        pod_manifest(
            "redis", ns, spec_extra="  volumes:\n  - name: d\n    persistentVolumeClaim: {claimName: cache}\n"
        )
    )
    wait_until(lambda: pod_running(p.kv, "redis", ns), 30, what="pod Running")
    hclaim = wait_until(
        lambda: (
            (c := get_json(p.kh, "pvc", host_name("cache", ns), "-n", HOST_NS)) and phase(c) == "Bound" and c
        ),
        15,
        what="host claim Bound",
    )
    volume = hclaim["spec"]["volumeName"]
    mirror = wait_until(
        lambda: (v := get_json(p.kv, "pv", volume)) and phase(v) == "Bound" and v, 15, what="mirrored volume"
    )
    assert annotations(mirror)["vcluster.loft.sh/host-pv"] == volume
    vclaim = get_json(p.kv, "pvc", "cache", "-n", ns)
    assert mirror["spec"]["claimRef"]["uid"] == vclaim["metadata"]["uid"]  # type: ignore[index]
    assert mirror["spec"]["claimRef"]["namespace"] == ns
    wait_until(
        lambda: (get_json(p.kv, "pvc", "cache", "-n", ns) or {}).get("spec", {}).get("volumeName") == volume,
        10,
        what="virtual claim names the mirror",
    )
    assert "vcluster.loft.sh/fake-pv" not in labels(mirror)  # no fake volumes with volume sync on
    # a claim naming the mirror asks the host for the host volume itself, not for a synced
    # volume `vcluster-<name>-x-...` that does not exist (§1.6)
    p.kv.apply(claim_manifest("cache-2", ns).replace("spec:\n", f"spec:\n  volumeName: {volume}\n", 1))
    again = wait_until(
        lambda: get_json(p.kh, "pvc", host_name("cache-2", ns), "-n", HOST_NS), 15, what="second host claim"
    )
    assert again["spec"]["volumeName"] == volume
    p.kv("delete", "pvc", "cache-2", "-n", ns)

    p.kv("delete", "pod", "redis", "-n", ns)
    p.kv("delete", "pvc", "cache", "-n", ns)
    wait_until(lambda: get_json(p.kh, "pv", volume) is None, 15, what="host volume reclaimed")
    wait_until(lambda: get_json(p.kv, "pv", volume) is None, 15, what="mirror gone with it")
