"""The generic create / sync steps every to-host resource shares (§2.1, §6.3, §6.4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vcluster.syncer import metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import (
    FieldDirections,
    apply_directions,
    create_merge_patch,
    json_copy,
    split_status,
)
from vcluster.syncer.result import SyncResult

PostSync = Callable[[dict[str, Any], dict[str, Any]], None]


def to_host(
    virtual: Mapping[str, Any], ctx: SyncContext, kind: Kind, fields: FieldDirections, **kw: Any
) -> dict[str, Any]:
    """Deep copy with host metadata (the resource's excluded annotations not copied) and no status."""
    return metadata.to_host_object(
        virtual,
        ctx,
        kind,
        excluded_annotations=fields.excluded_annotations,
        excluded_annotation_prefixes=fields.excluded_annotation_prefixes,
        **kw,
    )


def result(
    virtual: Mapping[str, Any], host: Mapping[str, Any], new_v: dict[str, Any], new_h: dict[str, Any]
) -> SyncResult:
    """SyncResult with minimal merge patches, status split off for the status subresource."""
    v_rest, v_status = split_status(create_merge_patch(virtual, new_v))
    h_rest, h_status = split_status(create_merge_patch(host, new_h))
    return SyncResult(
        virtual=new_v,
        host=new_h,
        virtual_patch=v_rest,
        virtual_status_patch=v_status,
        host_patch=h_rest,
        host_status_patch=h_status,
    )


def sync(
    virtual: Mapping[str, Any],
    host: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
    kind: Kind,
    fields: FieldDirections,
    post: PostSync | None = None,
) -> SyncResult:
    """Apply the field directions, restore host bookkeeping metadata, then diff both sides."""
    merged = apply_directions(virtual, host, virtual_old, host_old, fields, ctx)
    new_v, new_h = merged.virtual, merged.host
    metadata.ensure_host_metadata(new_h, new_v, ctx, kind)
    if post is not None:
        post(new_v, new_h)
    return result(virtual, host, new_v, new_h)


def from_host_copy(
    host: Mapping[str, Any], ctx: SyncContext, name: str, namespace: str = "", *, keep_status: bool = True
) -> dict[str, Any]:
    """A virtual object made from a host one (`VirtualMetadata`, rest copied)."""
    out = {k: v for k, v in host.items() if k != "metadata"}
    out = json_copy(out)
    out["metadata"] = metadata.virtual_metadata(host, ctx, name, namespace)
    if not keep_status:
        out.pop("status", None)
    return out


_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")


def overwrite_patch(virtual: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any] | None:
    """Merge patch turning the virtual object into `want` (server-owned metadata left alone)."""
    current = {k: v for k, v in virtual.items()}
    current["metadata"] = {k: v for k, v in metadata.meta(virtual).items() if k not in _SERVER_FIELDS}
    target = dict(want)
    target["metadata"] = {k: v for k, v in metadata.meta(want).items() if k not in _SERVER_FIELDS}
    for key in ("apiVersion", "kind"):
        target.setdefault(key, virtual.get(key))
    return create_merge_patch(current, target)
