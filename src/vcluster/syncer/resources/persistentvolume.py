"""PersistentVolumes with `sync.toHost.persistentVolumes` (spec §1.5, §5.5, §6.3).

Two kinds of virtual volume:
* one made in the virtual cluster goes to the host as `vcluster-<name>-x-<hostns>-x-<vc>`, claimRef
  cleared and storage class translated; the volume itself (source, capacity, access modes, reclaim
  policy, node affinity, mode, mount options) and the metadata merge both ways, status and the
  (virtualised) claimRef come back;
* a host volume bound to a claim of this virtual cluster (a provisioned one), or a Retain volume
  whose claim was in the host namespace, is mirrored under its own name with
  `vcluster.loft.sh/host-pv: <name>`; the host wins on everything, and the mirror goes with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy
from vcluster.syncer.result import SyncResult, Translation

KIND = kinds.PV

# The inline PersistentVolumeSource: whichever of these keys a volume has.
VOLUME_SOURCES = (
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc", "flexVolume",
    "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local", "nfs",
    "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume",
)  # fmt: skip


def host_class(name: Any, env: FieldEnv | None = None) -> Any:
    """A storage class name as the host knows it (cluster-translated; empty stays empty)."""
    if not name or env is None:
        return name
    return env.ctx.host_name_cluster(name)


FIELDS = FieldDirections(
    to_host=(Field("spec.storageClassName", to_host=host_class),),
    from_host=("status",),
    both=(
        *(f"spec.{s}" for s in VOLUME_SOURCES),
        "spec.capacity",
        "spec.accessModes",
        "spec.persistentVolumeReclaimPolicy",
        "spec.nodeAffinity",
        "spec.volumeMode",
        "spec.mountOptions",
        "metadata.labels",
        "metadata.annotations",
    ),
    excluded_annotations=(c.HOST_PV_ANNOTATION,),
)

# (host claim namespace, host claim name) -> the virtual claim, or None
ClaimLookup = Callable[[str, str], Mapping[str, Any] | None]


def host_pv_of(virtual: Mapping[str, Any]) -> str:
    """The host volume a virtual mirror stands for ("" for a volume made in the virtual cluster)."""
    return metadata.annotations_of(virtual).get(c.HOST_PV_ANNOTATION, "")


def translate_pv(vpv: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host copy of a virtual volume: cluster-translated name and class, no claimRef."""
    name = metadata.meta(vpv)["name"]
    host = generic.to_host(vpv, ctx, KIND, FIELDS, host_name=ctx.host_name_cluster(name))
    spec = host.setdefault("spec", {})
    spec.pop("claimRef", None)
    if spec.get("storageClassName"):
        spec["storageClassName"] = ctx.host_name_cluster(spec["storageClassName"])
    host.pop("status", None)
    return Translation(host)


def _claim_of(host_ref: Mapping[str, Any] | None, claims: ClaimLookup) -> Mapping[str, Any] | None:
    """The virtual claim a host claimRef stands for, if it is one of this virtual cluster's."""
    if not host_ref or not host_ref.get("name"):
        return None
    return claims(host_ref.get("namespace", ""), host_ref["name"])


def _pointed_at(host_ref: Mapping[str, Any], vpvc: Mapping[str, Any]) -> dict[str, Any]:
    m = metadata.meta(vpvc)
    return {
        **{k: v for k, v in host_ref.items() if k not in ("namespace", "name", "uid", "resourceVersion")},
        "namespace": m.get("namespace"),
        "name": m.get("name"),
        "uid": m.get("uid"),
        "resourceVersion": m.get("resourceVersion"),
    }


def virtual_claim_ref(host_ref: Mapping[str, Any] | None, claims: ClaimLookup) -> dict[str, Any] | None:
    """The host claimRef pointed at the virtual claim it stands for (None: not ours / none)."""
    vpvc = _claim_of(host_ref, claims)
    return _pointed_at(host_ref, vpvc) if host_ref is not None and vpvc is not None else None


def mirror_of_host(hpv: Mapping[str, Any], ctx: SyncContext, claims: ClaimLookup) -> dict[str, Any]:
    """The virtual mirror of an unmanaged host volume (`translateBackwards`): its claimRef and
    class are the virtual claim's."""
    name = metadata.meta(hpv)["name"]
    out = generic.from_host_copy(hpv, ctx, name, keep_status=False)
    annotations = out["metadata"].setdefault("annotations", {})
    annotations[c.HOST_PV_ANNOTATION] = name
    spec = out.setdefault("spec", {})
    host_ref = spec.get("claimRef")
    vpvc = _claim_of(host_ref, claims)
    if host_ref is not None and vpvc is not None:
        spec["claimRef"] = _pointed_at(host_ref, vpvc)
        if (vpvc.get("spec") or {}).get("storageClassName") is not None:
            spec["storageClassName"] = vpvc["spec"]["storageClassName"]
    return out


def sync_pv(
    vpv: Mapping[str, Any],
    hpv: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
    claims: ClaimLookup,
) -> SyncResult:
    """A mirror follows its host volume; a synced volume merges FIELDS, and its claimRef (and for
    a mirror, the class) comes back virtualised."""
    if host_pv_of(vpv):
        want = mirror_of_host(hpv, ctx, claims)  # fresh maps: nothing of the cached objects shared
        md = {k: v for k, v in metadata.meta(vpv).items() if k not in ("labels", "annotations")}
        md.update({k: want["metadata"][k] for k in ("labels", "annotations") if want["metadata"].get(k)})
        new_v = {**vpv, "metadata": md, "spec": want.get("spec") or {}}
        if hpv.get("status") is not None:
            new_v["status"] = json_copy(hpv["status"])
        return generic.result(vpv, hpv, new_v, dict(hpv))

    def post(new_v: dict[str, Any], new_h: dict[str, Any]) -> None:
        ref = virtual_claim_ref((hpv.get("spec") or {}).get("claimRef"), claims)
        if ref is not None:  # the host binder's claimRef, pointed at the virtual claim
            # (a new spec map: the merge shares untouched subtrees with the cached virtual object)
            new_v["spec"] = {**(new_v.get("spec") or {}), "claimRef": ref}

    return generic.sync(vpv, hpv, virtual_old, host_old, ctx, KIND, FIELDS, post)


def should_mirror(hpv: Mapping[str, Any], ctx: SyncContext, claims: ClaimLookup) -> bool:
    """`shouldSync` for a host volume this virtual cluster did not make: bound to one of its claims,
    or a Retain volume whose claim lived in the host namespace."""
    ref = (hpv.get("spec") or {}).get("claimRef") or {}
    if not ref.get("name"):
        return False
    if claims(ref.get("namespace", ""), ref["name"]) is not None:
        return True
    return (
        ref.get("namespace") == ctx.host_namespace
        and (hpv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Retain"
    )
