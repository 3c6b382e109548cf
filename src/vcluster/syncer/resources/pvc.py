"""PersistentVolumeClaims (§5.5): references and storage classes translated; volumeName/status come back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, lifecycle, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import FieldDirections
from vcluster.syncer.refs import RefRecorder
from vcluster.syncer.result import Delete, Event, SyncResult, Translation
from vcluster.syncer.selectors import translate_label_selector

KIND = kinds.PVC
STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
# Set by the host's PV controller; they flow host→virtual only.
BIND_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)

FIELDS = FieldDirections(
    to_host=("spec.resources.requests",),
    from_host=("status", "spec.volumeName"),
    excluded_annotations=BIND_ANNOTATIONS,
)


def _translate_data_source(ref: dict[str, Any] | None, ns: str, refs: RefRecorder) -> None:
    if ref and ref.get("kind") == "PersistentVolumeClaim" and not ref.get("apiGroup") and ref.get("name"):
        ref["name"] = refs.host(KIND, ref["name"], ns)


def translate_pvc(
    vpvc: Mapping[str, Any],
    ctx: SyncContext,
    *,
    host_storage_class_exists: Callable[[str], bool] | None = None,
    mirrored_volume: Callable[[str], str | None] | None = None,
) -> Translation:
    """The host PVC (data sources, storage class, selector and volumeName translated as configured);
    `mirrored_volume(name)` is the host volume a virtual one mirrors (`vcluster.loft.sh/host-pv`)."""
    host = generic.to_host(vpvc, ctx, KIND, FIELDS)
    spec = host.setdefault("spec", {})
    ann = host["metadata"]["annotations"]
    ns = metadata.meta(vpvc).get("namespace", "")
    refs = RefRecorder(ctx)
    if metadata.annotations_of(vpvc).get(c.SKIP_TRANSLATE_ANNOTATION) != "true":
        _translate_data_source(spec.get("dataSource"), ns, refs)
        _translate_data_source(spec.get("dataSourceRef"), ns, refs)
        if ctx.sync_persistent_volumes:
            if spec.get("selector") is not None:
                spec["selector"] = translate_label_selector(spec["selector"], ctx.vcluster)
            if spec.get("volumeName"):
                mirrored = mirrored_volume(spec["volumeName"]) if mirrored_volume else None
                spec["volumeName"] = mirrored or refs.host(kinds.PV, spec["volumeName"])
    storage_class = spec.get("storageClassName") or ann.get(STORAGE_CLASS_ANNOTATION)
    if storage_class and _translate_class(vpvc, ctx, storage_class, host_storage_class_exists):
        spec["storageClassName"] = refs.host_cluster(kinds.STORAGE_CLASS, storage_class)
        ann.pop(STORAGE_CLASS_ANNOTATION, None)
    return Translation(host, refs.refs)


def _translate_class(
    vpvc: Mapping[str, Any], ctx: SyncContext, name: str, exists: Callable[[str], bool] | None
) -> bool:
    if ctx.sync_storage_classes:
        return True
    if not ctx.sync_persistent_volumes:
        return False
    spec = vpvc.get("spec") or {}
    if spec.get("selector") is not None or spec.get("volumeName"):
        return True
    return exists is not None and not exists(name)


def _bind_annotations_back(new_v: dict[str, Any], new_h: dict[str, Any]) -> None:
    host_ann = new_h["metadata"].get("annotations") or {}
    ann = dict(new_v.setdefault("metadata", {}).get("annotations") or {})
    for key in BIND_ANNOTATIONS:
        if key in host_ann:
            ann[key] = host_ann[key]
        else:
            ann.pop(key, None)
    if ann:
        new_v["metadata"]["annotations"] = ann
    else:
        new_v["metadata"].pop("annotations", None)


def deletion_result(vpvc: Mapping[str, Any], hpvc: Mapping[str, Any]) -> SyncResult | None:
    """vCluster's claim Sync: a host claim being deleted (by a host user; it waits for its
    finalizers, e.g. pvc-protection while a pod uses it) takes the virtual claim with it, and a
    virtual claim being deleted its host claim (UID preconditions); while both are being deleted
    nothing is synced any more. None when neither is being deleted."""
    vdel, hdel = metadata.is_deleting(vpvc), metadata.is_deleting(hpvc)
    if not (vdel or hdel):
        return None
    res = SyncResult(dict(vpvc), dict(hpvc))
    if hdel and not vdel:
        res.deletes.append(
            lifecycle.virtual_delete(vpvc, KIND, "host persistent volume claim is being deleted")
        )
    elif vdel and not hdel:
        res.deletes.append(lifecycle.host_delete(hpvc, "virtual persistent volume claim is being deleted"))
    return res


def sync_pvc(
    vpvc: Mapping[str, Any],
    hpvc: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
    volume_for_host: Callable[[str], str | None] | None = None,
) -> SyncResult:
    """Requests (expansion) to host; status, volumeName and bind annotations back (§6.3).

    With `toHost.persistentVolumes` the virtual claim names the virtual volume standing for the
    host one: `volume_for_host(host volume name)`, None while that is not known yet. A deletion
    on either side is passed to the other at once (`deletion_result`)."""
    deleting = deletion_result(vpvc, hpvc)
    if deleting is not None:
        return deleting
    vname = (vpvc.get("spec") or {}).get("volumeName")
    hname = (hpvc.get("spec") or {}).get("volumeName")
    if vname and hname and vname != hname and not ctx.sync_persistent_volumes:
        msg = f"volume name differs: virtual {vname}, host {hname}; recreating the virtual claim"
        m = metadata.meta(vpvc)
        return SyncResult(
            dict(vpvc),
            dict(hpvc),
            deletes=[Delete("virtual", msg, 0, m.get("uid"))],
            events=[Event("Warning", "VolumeNameDiffers", msg)],
            recreate_virtual=True,
        )
    res = generic.sync(vpvc, hpvc, virtual_old, host_old, ctx, KIND, FIELDS, _bind_annotations_back)
    if ctx.sync_persistent_volumes and hname:
        # Host volume names are cluster-translated; the virtual claim keeps its own, or takes the
        # virtual volume of the host one once it is bound
        virtual_volume = vname or (volume_for_host(hname) if volume_for_host is not None else None)
        spec = res.virtual["spec"] = dict(res.virtual.get("spec") or {})  # never the cached map
        if virtual_volume:
            spec["volumeName"] = virtual_volume
        else:
            spec.pop("volumeName", None)
        res = generic.result(vpvc, hpvc, res.virtual, res.host)
        if not virtual_volume:
            res.requeue_after = 1.0  # the host volume is not in the cache yet
    return res
