"""Generic one-side-missing decisions (§8.4 step 6, §8.5): delete, recreate or leave alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata
from vcluster.syncer.kinds import Kind
from vcluster.syncer.result import Delete

HostOnly = Literal["delete_host", "create_virtual", "skip"]
VirtualOnly = Literal["delete_virtual", "create_host"]

# Virtual objects deleted when their host copy vanished after having been seen (§8.5, since v0.21).
DELETE_VIRTUAL_WHEN_HOST_GONE = (
    kinds.SERVICE,
    kinds.CONFIGMAP,
    kinds.SECRET,
    kinds.ENDPOINTS,
    kinds.INGRESS,
    kinds.PVC,
    kinds.SERVICE_ACCOUNT,
    kinds.PV,
    kinds.NETWORK_POLICY,
    kinds.PDB,
    kinds.POD,
)
# Kinds whose host copy is always deleted when the virtual object is missing.
ALWAYS_DELETE_HOST = (kinds.ENDPOINTS, kinds.ENDPOINT_SLICE)


def host_only(
    host: Mapping[str, Any], kind: Kind, *, virtual_seen_before: bool, would_be_used: bool = True
) -> tuple[HostOnly, str]:
    """Host exists, virtual does not: (decision, reason)."""
    if metadata.annotations_of(host).get(c.SKIP_BACKSYNC_ANNOTATION) == "true":
        return "skip", "host object has skip-backsync"
    if delete_under_way(host):
        # ShouldDeleteHostObject holds (§8.5) and the delete was sent: every later update of the
        # terminating object would send it again (without a grace period to shorten, §3.11)
        return "skip", "host object is being deleted"
    if kind in ALWAYS_DELETE_HOST:
        return "delete_host", "virtual object was deleted"
    if virtual_seen_before or metadata.should_delete_host_object(host, kind):
        return "delete_host", "virtual object was deleted"
    if kind in (kinds.CONFIGMAP, kinds.SECRET) and not would_be_used:
        return "skip", "not used"
    if kind == kinds.POD:
        return "delete_host", "virtual object was deleted"
    return "create_virtual", "host object without virtual counterpart"


def virtual_only(
    virtual: Mapping[str, Any], kind: Kind, *, host_seen_before: bool
) -> tuple[VirtualOnly, str]:
    """Virtual exists, host does not: (decision, reason)."""
    if host_seen_before and kind in DELETE_VIRTUAL_WHEN_HOST_GONE:
        return "delete_virtual", "host object was deleted"
    return "create_host", "virtual object without host counterpart"


def delete_under_way(obj: Mapping[str, Any], grace_seconds: int | None = None) -> bool:
    """Whether a delete of `obj` (with `grace_seconds`, None = the object's default) would change
    nothing: it is terminating already (deletionTimestamp set) and the grace period asked for does
    not shorten the one it is terminating with (only a shorter one is worth propagating, §3.11)."""
    if not metadata.is_deleting(obj):
        return False
    current = metadata.meta(obj).get("deletionGracePeriodSeconds")
    return grace_seconds is None or not isinstance(current, int) or grace_seconds >= current


def host_delete(host: Mapping[str, Any], reason: str) -> Delete:
    """Delete of a host object with a UID precondition."""
    return Delete("host", reason, None, metadata.meta(host).get("uid"))


def virtual_delete(virtual: Mapping[str, Any], kind: Kind, reason: str) -> Delete:
    """Delete of a virtual object (grace 0 for pods and PVCs, §3.1 / §8.5) with a UID precondition."""
    grace = 0 if kind in (kinds.POD, kinds.PVC) else None
    return Delete("virtual", reason, grace, metadata.meta(virtual).get("uid"))
