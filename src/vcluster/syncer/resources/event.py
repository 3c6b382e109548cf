"""Events from the host (§5.5): re-pointed at the virtual involved object; never synced to the host."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import FieldDirections, json_copy

KIND = kinds.EVENT
# Host events about these kinds are copied (vCluster's table also lists the misspelt `Endpoint`).
INVOLVED_KINDS = ("Pod", "Service", "Secret", "ConfigMap", "Endpoint")
UPDATED_FIELDS = (
    "message",
    "reason",
    "count",
    "firstTimestamp",
    "lastTimestamp",
    "eventTime",
    "series",
    "type",
    "action",
    "source",
    "reportingComponent",
    "reportingInstance",
)
FIELDS = FieldDirections(from_host=(*UPDATED_FIELDS, "involvedObject"), both=())

# (involved kind, host name) -> the virtual involved object, or None when unknown
VirtualLookup = Callable[[str, str], "Mapping[str, Any] | None"]


def translate_event(
    hevent: Mapping[str, Any], ctx: SyncContext, lookup: VirtualLookup
) -> dict[str, Any] | None:
    """The virtual event for a host event, or None when it must not be synced."""
    inv = hevent.get("involvedObject") or {}
    ann = metadata.annotations_of(hevent)
    forced = ann.get(c.FORCE_SYNC_ANNOTATION) == "true"
    if inv.get("namespace") != ctx.host_namespace:
        return None
    vobj = lookup(inv.get("kind", ""), inv.get("name", "")) if inv.get("kind") in INVOLVED_KINDS else None
    hname = metadata.meta(hevent).get("name", "")
    if vobj is None:
        if not forced:
            return None
        return generic.from_host_copy(hevent, ctx, hname, "default")
    vm = metadata.meta(vobj)
    vns, vname, host_inv = vm.get("namespace", ""), vm.get("name", ""), inv.get("name", "")
    name = vname + hname[len(host_inv) :] if host_inv and hname.startswith(host_inv) else hname
    out = generic.from_host_copy(hevent, ctx, name, vns)
    new_inv = json_copy(dict(inv))
    new_inv.update({"namespace": vns, "name": vname})
    for key in ("uid", "resourceVersion"):
        if vm.get(key):
            new_inv[key] = vm[key]
        else:
            new_inv.pop(key, None)
    out["involvedObject"] = new_inv
    if out.get("message"):
        out["message"] = (
            out["message"]
            .replace(f"{ctx.host_namespace}/{host_inv}", f"{vns}/{vname}")
            .replace(host_inv, vname)
        )
    return out


def event_update_patch(vevent: Mapping[str, Any], translated: Mapping[str, Any]) -> dict[str, Any] | None:
    """Merge patch carrying later host changes (count, timestamps, message, …) to the virtual event."""
    patch: dict[str, Any] = {}
    for key in UPDATED_FIELDS:
        want, have = translated.get(key), vevent.get(key)
        if want != have:
            patch[key] = json_copy(want)
    return patch or None
