"""PriorityClasses (§5.5): to the host with a cluster-translated name, or mirrored from the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy
from vcluster.syncer.result import SyncResult, Translation
from vcluster.syncer.selectors import selector_matches

KIND = kinds.PRIORITY_CLASS
MAX_VALUE = 1_000_000_000
SYSTEM_CLASSES = ("system-node-critical", "system-cluster-critical")


def _cap(value: Any, env: FieldEnv | None = None) -> Any:
    return MAX_VALUE if isinstance(value, int) and value > MAX_VALUE else value


def _no_global_default(value: Any, env: FieldEnv) -> Any:
    return False


FIELDS = FieldDirections(
    to_host=(Field("value", to_host=_cap), Field("globalDefault", to_host=_no_global_default)),
    both=("preemptionPolicy", "description", "metadata.labels", "metadata.annotations"),
)


def translate_priority_class(vpc: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """Host copy: `vcluster-<name>-x-<hostns>-x-<vc>`, never global default, value ≤ 1e9."""
    host = generic.to_host(
        vpc, ctx, KIND, FIELDS, host_name=ctx.host_name_cluster(metadata.meta(vpc)["name"])
    )
    host["value"] = _cap(host.get("value", 0))
    host["globalDefault"] = False
    return Translation(host)


def sync_priority_class(
    vpc: Mapping[str, Any],
    hpc: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """value/globalDefault pushed; preemptionPolicy, description and metadata both ways."""
    return generic.sync(vpc, hpc, virtual_old, host_old, ctx, KIND, FIELDS)


# ---------------------------------------------------------------- from host


def from_host_selected(hpc: Mapping[str, Any], ctx: SyncContext) -> bool:
    """The two system classes always pass; others must match the from-host selector (if any)."""
    name = metadata.meta(hpc).get("name", "")
    sel = ctx.from_host_priority_class_selector
    return name in SYSTEM_CLASSES or selector_matches(sel, metadata.labels_of(hpc), none_matches=True)


def virtual_from_host(hpc: Mapping[str, Any], ctx: SyncContext) -> dict[str, Any] | None:
    """The virtual copy (same name) or None when the host class is filtered out."""
    if not from_host_selected(hpc, ctx):
        return None
    return generic.from_host_copy(hpc, ctx, metadata.meta(hpc)["name"])


def from_host_update(
    vpc: Mapping[str, Any], hpc: Mapping[str, Any], ctx: SyncContext
) -> dict[str, Any] | None:
    """Merge patch making the virtual copy equal to the host again (virtual edits are overwritten)."""
    want = virtual_from_host(hpc, ctx)
    return None if want is None else generic.overwrite_patch(vpc, json_copy(want))
