"""IngressClasses from the host (§5.5, when enabled): same name, filtered by the optional selector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import kinds
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import FieldDirections
from vcluster.syncer.resources.storageclass import class_from_host, sync_from_host

KIND = kinds.INGRESS_CLASS
FIELDS = FieldDirections(from_host=("spec", "metadata.labels", "metadata.annotations"), both=())


def virtual_ingress_class(hic: Mapping[str, Any], ctx: SyncContext) -> dict[str, Any] | None:
    """Virtual IngressClass for a host one (None = must not exist virtually)."""
    return class_from_host(hic, ctx, ctx.from_host_ingress_class_selector)


def sync_ingress_class(
    vic: Mapping[str, Any] | None, hic: Mapping[str, Any] | None, ctx: SyncContext
) -> tuple[str, dict[str, Any] | None]:
    """("create", obj) / ("patch", patch) / ("delete", None) / ("", None)."""
    return sync_from_host(vic, hic, ctx, KIND)
