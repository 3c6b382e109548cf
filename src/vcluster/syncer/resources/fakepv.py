"""Fake PersistentVolumes (spec §2.4, §5.5; vCluster's `fake-persistentvolume` syncer): while
`sync.toHost.persistentVolumes` is off, a virtual claim the host bound gets the host volume's name
as its volumeName, and the virtual cluster gets a stand-in volume of that name (bound to the claim)
for as long as some virtual claim names it. Virtual-only: no field crosses sides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.controllers.base import claim_reference
from vcluster.syncer import constants as c
from vcluster.syncer import metadata


def is_fake(pv: Mapping[str, Any]) -> bool:
    return metadata.labels_of(pv).get(c.FAKE_PV_LABEL) == "true"


def fake_pv(name: str, pvc: Mapping[str, Any]) -> dict[str, Any]:
    """The stand-in volume for `pvc` (`CreateFakePersistentVolume`); its status is set apart."""
    spec = pvc.get("spec") or {}
    pv_spec: dict[str, Any] = {
        "flexVolume": {"driver": "fake"},
        "capacity": dict(((spec.get("resources") or {}).get("requests")) or {}),
        "accessModes": list(spec.get("accessModes") or []),
        "claimRef": claim_reference(pvc),
        "persistentVolumeReclaimPolicy": "Delete",
        "storageClassName": spec.get("storageClassName") or "",
    }
    if spec.get("volumeMode"):
        pv_spec["volumeMode"] = spec["volumeMode"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {c.FAKE_PV_LABEL: "true"},
            "annotations": {
                "kubernetes.io/createdby": c.FAKE_PV_PROVISIONER,
                "pv.kubernetes.io/bound-by-controller": "true",
                "pv.kubernetes.io/provisioned-by": c.FAKE_PV_PROVISIONER,
            },
        },
        "spec": pv_spec,
    }
