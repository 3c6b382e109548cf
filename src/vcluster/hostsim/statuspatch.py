"""The strategic merge patch a kubelet sends for a pod's status: only what changed.

kubelet 1.32 (pkg/kubelet/status/status_manager.go `syncPod` -> pkg/util/pod/pod.go
`PatchPodStatus`) diffs the old status and the new one with strategicpatch.CreateTwoWayMergePatch
over v1.Pod and sends the result with the pod's UID as a precondition, or nothing when the patch
holds only the UID. This is that diff for PodStatus (its patch metadata hard-coded, as the Go
struct tags give it): fields that changed, `null` for a field the new status no longer has, keyed
lists (`conditions` by type, `podIPs`/`hostIPs` by ip, `resourceClaimStatuses` by name) as the
changed elements in the new order plus `$setElementOrder/<field>` (and `{"$patch": "delete"}` for
dropped elements), every other list (containerStatuses, ...) whole when it differs.

`null`, an empty string, list or map and an absent field compare equal: Go marshals both statuses
from structs, where such a zero value is either always `null` (metav1.Time) or always left out
(the omitempty fields: every field of PodStatus, a condition's reason and message).
"""

from __future__ import annotations

from typing import Any

# PodStatus lists with patchStrategy merge: field -> merge key (types.go; patchStrategy of
# resourceClaimStatuses is `merge,retainKeys`, whose retainKeys only applies to its elements' maps,
# which have no nested maps)
MERGE_KEYS: dict[str, str] = {
    "conditions": "type",
    "hostIPs": "ip",
    "podIPs": "ip",
    "resourceClaimStatuses": "name",
}
ORDER_PREFIX = "$setElementOrder/"


def _absent(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


def pod_status_patch(old: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """The `status` part of kubelet's patch from `old` to `old` updated with `status` (the fields
    the kubelet sets; the others keep their values, as kubelet's merged status keeps them); {} when
    nothing changes."""
    patch: dict[str, Any] = {}
    for key, new in status.items():
        cur = old.get(key)
        if _absent(new):
            if not _absent(cur):
                patch[key] = None
        elif _absent(cur) or type(cur) is not type(new):
            patch[key] = new
        elif isinstance(new, list) and key in MERGE_KEYS:
            _diff_keyed_list(key, cur, new, MERGE_KEYS[key], patch)
        elif new != cur:
            patch[key] = new  # scalars, and atomic lists (containerStatuses, ...) whole
    return patch


def _key_of(e: Any, merge_key: str) -> Any:
    return e.get(merge_key) if isinstance(e, dict) else None


def _diff_maps(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """diffMaps of two list elements (no nested keyed lists in PodStatus' keyed lists)."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        cur = old.get(key)
        if _absent(value):
            if not _absent(cur):
                patch[key] = None
        elif _absent(cur) or type(cur) is not type(value):
            patch[key] = value
        elif isinstance(value, dict):
            sub = _diff_maps(cur, value)
            if sub:
                patch[key] = sub
        elif value != cur:
            patch[key] = value
    for key, cur in old.items():
        if key not in new and not _absent(cur):
            patch[key] = None
    return patch


def _diff_keyed_list(
    field: str, old: list[Any], new: list[Any], merge_key: str, patch: dict[str, Any]
) -> None:
    """diffLists of a list of maps with a merge key: the changed and added elements in the new
    order, deletions after them, and the new order when anything changed or the order did."""
    if not old:
        patch[field] = new
        return
    before = {str(e.get(merge_key)): e for e in old if isinstance(e, dict)}
    after = {str(e.get(merge_key)) for e in new if isinstance(e, dict)}
    changes: list[Any] = []
    for e in new:
        prev = before.get(str(e.get(merge_key)))
        if prev is None:
            changes.append(e)
            continue
        diff = _diff_maps(prev, e)
        if diff:
            diff[merge_key] = e.get(merge_key)
            changes.append(diff)
    deletes = [
        {"$patch": "delete", merge_key: e.get(merge_key)} for k, e in sorted(before.items()) if k not in after
    ]
    same_order = [_key_of(e, merge_key) for e in old] == [_key_of(e, merge_key) for e in new]
    changes += deletes
    if changes:
        patch[field] = changes
    if changes or not same_order:
        patch[ORDER_PREFIX + field] = [{merge_key: e.get(merge_key)} for e in new]
