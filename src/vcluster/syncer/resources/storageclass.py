"""StorageClasses (§5.5): copied from the host with the same name (filtered by the optional selector),
or, with `sync.toHost.storageClasses`, synced to the host as `vcluster-<name>-x-<hostns>-x-<vc>`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import FieldDirections
from vcluster.syncer.resources import priorityclass
from vcluster.syncer.result import SyncResult, Translation
from vcluster.syncer.selectors import selector_matches

KIND = kinds.STORAGE_CLASS
_CLASS_FIELDS = (
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "mountOptions",
    "allowVolumeExpansion",
    "volumeBindingMode",
    "allowedTopologies",
    "metadata.labels",
    "metadata.annotations",
)
# From the host: the host wins on every field; virtual edits are overwritten.
FIELDS = FieldDirections(from_host=_CLASS_FIELDS, both=())
# To the host (spec §6.3 table: every field both ways; the class parameters are immutable on both
# sides, so in practice only the metadata, mountOptions and allowVolumeExpansion move).
TO_HOST_FIELDS = FieldDirections(both=_CLASS_FIELDS)


def translate_storage_class(vsc: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """Host copy under the cluster-scoped translated name (PVCs' storageClassName follows it)."""
    name = metadata.meta(vsc)["name"]
    return Translation(generic.to_host(vsc, ctx, KIND, TO_HOST_FIELDS, host_name=ctx.host_name_cluster(name)))


def sync_storage_class(
    vsc: Mapping[str, Any],
    hsc: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Three-way merge of every declared field."""
    return generic.sync(vsc, hsc, virtual_old, host_old, ctx, KIND, TO_HOST_FIELDS)


def class_from_host(
    host: Mapping[str, Any], ctx: SyncContext, selector: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The virtual copy of a host class-like object, or None when the selector filters it out."""
    if not selector_matches(selector, metadata.labels_of(host), none_matches=True):
        return None
    return generic.from_host_copy(host, ctx, metadata.meta(host).get("name", ""))


def virtual_storage_class(hsc: Mapping[str, Any], ctx: SyncContext) -> dict[str, Any] | None:
    """Virtual StorageClass for a host one (None = must not exist virtually)."""
    return class_from_host(hsc, ctx, ctx.from_host_storage_class_selector)


def sync_from_host(
    virtual: Mapping[str, Any] | None, host: Mapping[str, Any] | None, ctx: SyncContext, kind: Kind = KIND
) -> tuple[str, dict[str, Any] | None]:
    """("create", obj) / ("patch", patch) / ("delete", None) / ("", None) for a from-host class."""
    selector = {
        kinds.STORAGE_CLASS: ctx.from_host_storage_class_selector,
        kinds.INGRESS_CLASS: ctx.from_host_ingress_class_selector,
        kinds.RUNTIME_CLASS: ctx.from_host_runtime_class_selector,
        kinds.PRIORITY_CLASS: ctx.from_host_priority_class_selector,
    }.get(kind)
    want = None
    if host is not None:
        if kind == kinds.PRIORITY_CLASS:
            want = priorityclass.virtual_from_host(host, ctx)
        else:
            want = class_from_host(host, ctx, selector)
    if want is None:
        return ("delete", None) if virtual is not None else ("", None)
    if virtual is None:
        return "create", want
    patch = generic.overwrite_patch(virtual, want)
    return ("patch", patch) if patch else ("", None)
