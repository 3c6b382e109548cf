"""PersistentVolumes with `toHost.persistentVolumes` (spec §5.5, §6.3) and fake volumes (§2.4)."""

from __future__ import annotations

import copy
from typing import Any

from vcluster.config import load_config
from vcluster.syncer import constants as c
from vcluster.syncer.configctx import context_from_config
from vcluster.syncer.resources import fakepv
from vcluster.syncer.resources import persistentvolume as pvres

CTX = context_from_config(load_config(None), name="vc", host_namespace="hns").replace(
    sync_persistent_volumes=True
)
VCLAIM = {"metadata": {"name": "data", "namespace": "apps", "uid": "vuid", "resourceVersion": "9"}}


def claims(hns: str, hname: str) -> dict[str, Any] | None:
    return VCLAIM if (hns, hname) == ("hns", "data-x-apps-x-vc") else None


def virtual_pv() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "m1", "uid": "u1", "resourceVersion": "3", "labels": {"disk": "ssd"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "hostPath": {"path": "/x"},
            "storageClassName": "manual",
            "claimRef": {"name": "data", "namespace": "apps"},
        },
        "status": {"phase": "Available"},
    }


def test_translation_clears_claim_ref_and_translates_class_and_name() -> None:
    host = pvres.translate_pv(virtual_pv(), CTX).obj
    assert host["metadata"]["name"] == "vcluster-m1-x-hns-x-vc"
    assert host["metadata"]["labels"][c.MARKER_LABEL] == "hns-x-vc"
    assert host["spec"]["storageClassName"] == "vcluster-manual-x-hns-x-vc"
    assert "claimRef" not in host["spec"] and "status" not in host


def test_sync_brings_back_status_and_a_virtualised_claim_ref_without_touching_inputs() -> None:
    v = virtual_pv()
    h = pvres.translate_pv(v, CTX).obj
    h["metadata"].update(uid="h1", resourceVersion="5")
    h["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "name": "data-x-apps-x-vc", "namespace": "hns"}
    h["status"] = {"phase": "Bound"}
    v_before, h_before = copy.deepcopy(v), copy.deepcopy(h)
    res = pvres.sync_pv(v, h, None, None, CTX, claims)
    # (name and namespace were already the virtual claim's: the merge patch has what changed)
    assert res.virtual_patch == {
        "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "uid": "vuid", "resourceVersion": "9"}}
    }
    assert res.virtual_status_patch == {"status": {"phase": "Bound"}}
    assert res.host_patch is None  # the host binder's claimRef is left alone
    assert v == v_before and h == h_before  # the informers' objects are never mutated
    # a capacity change on the virtual side is pushed (both ways, three-way)
    v2 = copy.deepcopy(v)
    v2["spec"]["capacity"] = {"storage": "2Gi"}
    res2 = pvres.sync_pv(v2, h, v, h, CTX, claims)
    assert res2.host_patch == {"spec": {"capacity": {"storage": "2Gi"}}}


def test_host_volume_of_a_virtual_claim_is_mirrored() -> None:
    hpv = {
        "metadata": {"name": "pvc-123", "uid": "h", "annotations": {"pv.kubernetes.io/provisioned-by": "x"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "storageClassName": "standard",
            "claimRef": {"name": "data-x-apps-x-vc", "namespace": "hns", "uid": "hostclaim"},
            "persistentVolumeReclaimPolicy": "Delete",
        },
    }
    assert pvres.should_mirror(hpv, CTX, claims)
    mirror = pvres.mirror_of_host(hpv, CTX, claims)
    assert mirror is not None and mirror["metadata"]["name"] == "pvc-123"
    assert mirror["metadata"]["annotations"][c.HOST_PV_ANNOTATION] == "pvc-123"
    assert mirror["spec"]["claimRef"]["uid"] == "vuid" and mirror["spec"]["claimRef"]["namespace"] == "apps"
    # not bound to one of ours: only a Retain volume of the host namespace is mirrored
    other = copy.deepcopy(hpv)
    other["spec"]["claimRef"]["name"] = "someone-else"
    assert not pvres.should_mirror(other, CTX, claims)
    other["spec"]["persistentVolumeReclaimPolicy"] = "Retain"
    assert pvres.should_mirror(other, CTX, claims)


def test_fake_volume_stands_for_the_claim() -> None:
    claim = {
        "metadata": {"name": "data", "namespace": "apps", "uid": "vuid", "resourceVersion": "9"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "2Gi"}},
            "storageClassName": "fast",
            "volumeMode": "Block",
        },
    }
    pv = fakepv.fake_pv("pvc-1", claim)
    assert fakepv.is_fake(pv)
    assert pv["spec"]["capacity"] == {"storage": "2Gi"} and pv["spec"]["volumeMode"] == "Block"
    assert pv["spec"]["claimRef"]["uid"] == "vuid" and pv["spec"]["storageClassName"] == "fast"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "fake-pv-provisioner"
