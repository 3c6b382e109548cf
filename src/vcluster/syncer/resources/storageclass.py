"""StorageClasses from the host (§5.5): copied with the same name, filtered by the optional selector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import FieldDirections
from vcluster.syncer.resources import priorityclass
from vcluster.syncer.selectors import selector_matches

KIND = kinds.STORAGE_CLASS
# From-host kinds: the host wins on every field; virtual edits are overwritten.
FIELDS = FieldDirections(
    from_host=(
        "provisioner",
        "parameters",
        "reclaimPolicy",
        "mountOptions",
        "allowVolumeExpansion",
        "volumeBindingMode",
        "allowedTopologies",
        "metadata.labels",
        "metadata.annotations",
    ),
    both=(),
)


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
