"""The strategies' dropDisabledFields of kube-apiserver 1.32 with its default feature gates: fields
of alpha (and off-by-default beta) features are dropped on create, and on update unless the stored
object already uses them (the `...InUse(old)` checks), as PrepareForCreate / PrepareForUpdate do.

Off by default in 1.32 and so dropped here: MaxUnavailableStatefulSet (StatefulSet
`updateStrategy.rollingUpdate.maxUnavailable`), and in every pod spec (pods and the pod templates
of the workload kinds, pkg/api/pod/util.go dropDisabledFields) UserNamespacesSupport (`hostUsers`),
SupplementalGroupsPolicy, PodLevelResources (`spec.resources`), ProcMountType (a container's
`procMount` is forced to Default), DynamicResourceAllocation (`resourceClaims`, containers'
`resources.claims`), ClusterTrustBundleProjection, InPlacePodVerticalScaling (`resizePolicy`),
ImageVolume (`image` volumes and their mounts), SELinuxChangePolicy; in a pod's status
(dropDisabledPodStatusFields) the container statuses' `resources`, `allocatedResources`,
`allocatedResourcesStatus` and `user`, `resize` and `resourceClaimStatuses`; VolumeAttributesClass
in a PersistentVolume's spec (the claim's is dropped by admission.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

JSON = dict[str, Any]
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
STATUS_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
DEFAULT_PROC_MOUNT = "Default"


def _d(v: Any) -> JSON:
    return v if isinstance(v, dict) else {}


def _dicts(v: Any) -> Iterator[JSON]:
    return (x for x in (v if isinstance(v, list) else []) if isinstance(x, dict))


def _containers(spec: JSON, lists: tuple[str, ...] = CONTAINER_LISTS) -> Iterator[JSON]:
    """VisitContainers over the given container lists of a pod spec."""
    for key in lists:
        yield from _dicts(spec.get(key))


def _any_container(
    spec: JSON | None, pred: Callable[[JSON], bool], lists: tuple[str, ...] = CONTAINER_LISTS
) -> bool:
    return spec is not None and any(pred(c) for c in _containers(spec, lists))


def _security_context_has(spec: JSON | None, key: str) -> bool:
    return spec is not None and _d(spec.get("securityContext")).get(key) is not None


def _pop_security_context(spec: JSON, key: str) -> None:
    sc = spec.get("securityContext")
    if isinstance(sc, dict):
        sc.pop(key, None)


def _proc_mount_in_use(spec: JSON | None) -> bool:
    def non_default(c: JSON) -> bool:
        pm = _d(c.get("securityContext")).get("procMount")
        return pm is not None and pm != DEFAULT_PROC_MOUNT

    return _any_container(spec, non_default)


def _resize_policy_in_use(spec: JSON | None) -> bool:
    return _any_container(spec, lambda c: bool(c.get("resizePolicy")), ("containers", "initContainers"))


def _claims_in_use(spec: JSON | None) -> bool:
    return spec is not None and bool(spec.get("resourceClaims"))


def _pod_resources_in_use(spec: JSON | None) -> bool:
    res = _d((spec or {}).get("resources"))
    return bool(res.get("requests")) or bool(res.get("limits"))


def _projected_sources(spec: JSON) -> Iterator[JSON]:
    for vol in _dicts(spec.get("volumes")):
        yield from _dicts(_d(vol.get("projected")).get("sources"))


def _trust_bundles_in_use(spec: JSON | None) -> bool:
    return spec is not None and any(s.get("clusterTrustBundle") is not None for s in _projected_sources(spec))


def _image_volumes_in_use(spec: JSON | None) -> bool:
    return spec is not None and any(v.get("image") is not None for v in _dicts(spec.get("volumes")))


def _drop_image_volumes(spec: JSON) -> None:
    """dropImageVolumes: the image volumes go, with every container's mounts of them."""
    vols = spec.get("volumes")
    if not isinstance(vols, list):
        return
    names = {v.get("name") for v in _dicts(vols) if v.get("image") is not None}
    if not names:
        return
    kept = [v for v in vols if not (isinstance(v, dict) and v.get("image") is not None)]
    _set_or_pop(spec, "volumes", kept)
    for c in _containers(spec):
        mounts = c.get("volumeMounts")
        if isinstance(mounts, list):
            _set_or_pop(
                c, "volumeMounts", [m for m in mounts if not (isinstance(m, dict) and m.get("name") in names)]
            )


def _set_or_pop(obj: JSON, key: str, items: list[Any]) -> None:
    """A Go slice that became empty is nil: omitted from the JSON."""
    if items:
        obj[key] = items
    else:
        obj.pop(key, None)


def _scan_containers(spec: JSON) -> tuple[bool, bool, bool]:
    """One pass over a pod spec's containers: does any set a procMount other than Default, a
    `resources.claims` or a `resizePolicy` (what drop_pod_spec may have to drop)."""
    proc = claims = resize = False
    for key in CONTAINER_LISTS:
        items = spec.get(key)
        if type(items) is not list:
            continue
        for c in items:
            if type(c) is not dict:
                continue
            sc = c.get("securityContext")
            if type(sc) is dict:
                pm = sc.get("procMount")
                proc = proc or (pm is not None and pm != DEFAULT_PROC_MOUNT)
            res = c.get("resources")
            claims = claims or (type(res) is dict and "claims" in res)
            resize = resize or "resizePolicy" in c
    return proc, claims, resize


def _scan_volumes(spec: JSON) -> tuple[bool, bool]:
    """One pass over a pod spec's volumes: is there an image volume, a projected source with a
    `clusterTrustBundle` key."""
    image = bundle = False
    vols = spec.get("volumes")
    for vol in vols if type(vols) is list else ():
        if type(vol) is not dict:
            continue
        image = image or vol.get("image") is not None
        projected = vol.get("projected")
        if type(projected) is dict:
            sources = projected.get("sources")
            for src in sources if type(sources) is list else ():
                bundle = bundle or (type(src) is dict and "clusterTrustBundle" in src)
    return image, bundle


def drop_pod_spec(spec: JSON, old: JSON | None) -> None:
    """dropDisabledFields of a pod spec (`old`: the stored spec on update, None on create).
    The stored spec is only looked at for a field the new one has (nothing to drop otherwise)."""
    if "hostUsers" in spec and _d(old).get("hostUsers") is None:
        del spec["hostUsers"]
    sc = spec.get("securityContext")
    if type(sc) is dict:
        if "supplementalGroupsPolicy" in sc and not _security_context_has(old, "supplementalGroupsPolicy"):
            del sc["supplementalGroupsPolicy"]
        if "seLinuxChangePolicy" in sc and not _security_context_has(old, "seLinuxChangePolicy"):
            del sc["seLinuxChangePolicy"]
    if "resources" in spec and not _pod_resources_in_use(old):
        del spec["resources"]
    proc, claims, resize = _scan_containers(spec)
    if proc and not _proc_mount_in_use(old):
        for c in _containers(spec):
            sc = c.get("securityContext")
            if isinstance(sc, dict) and sc.get("procMount") is not None:
                sc["procMount"] = DEFAULT_PROC_MOUNT
    if (claims or "resourceClaims" in spec) and not _claims_in_use(old):
        for c in _containers(spec):
            res = c.get("resources")
            if isinstance(res, dict):
                res.pop("claims", None)
        spec.pop("resourceClaims", None)
    if resize and not _resize_policy_in_use(old):
        for c in _containers(spec):
            c.pop("resizePolicy", None)
    image, bundle = _scan_volumes(spec)
    if bundle and not _trust_bundles_in_use(old):
        for source in _projected_sources(spec):
            source.pop("clusterTrustBundle", None)
    if image and not _image_volumes_in_use(old):
        _drop_image_volumes(spec)


def drop_pod_status(status: JSON, old_spec: JSON | None) -> None:
    """dropDisabledPodStatusFields (1.32, default gates)."""
    resize_in_use: bool | None = None  # looked up in the stored spec when first needed
    groups_in_use: bool | None = None
    for key in STATUS_LISTS:
        items = status.get(key)
        for cs in items if type(items) is list else ():
            if type(cs) is not dict:
                continue
            if "resources" in cs:
                if resize_in_use is None:
                    resize_in_use = _resize_policy_in_use(old_spec)
                if not resize_in_use:
                    del cs["resources"]
            cs.pop("allocatedResources", None)  # InPlacePodVerticalScalingAllocatedStatus is off
            cs.pop("allocatedResourcesStatus", None)  # ResourceHealthStatus is off
            if "user" in cs:
                if groups_in_use is None:
                    groups_in_use = _security_context_has(old_spec, "supplementalGroupsPolicy")
                if not groups_in_use:
                    del cs["user"]
    if "resize" in status and not _resize_policy_in_use(old_spec):
        del status["resize"]
    if "resourceClaimStatuses" in status and not _claims_in_use(old_spec):
        del status["resourceClaimStatuses"]


def _template_spec(obj: JSON, path: tuple[str, ...]) -> JSON | None:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur if isinstance(cur, dict) else None


# Where each kind keeps its pod template's spec (DropDisabledTemplateFields).
_TEMPLATE_SPEC: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "PodTemplate"): ("template", "spec"),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _max_unavailable_in_use(ss: JSON | None) -> bool:
    rolling = _d(_d(_d((ss or {}).get("spec")).get("updateStrategy")).get("rollingUpdate"))
    return rolling.get("maxUnavailable") is not None


def _drop_stateful_set(new: JSON, old: JSON | None) -> None:
    """dropStatefulSetDisabledFields: MaxUnavailableStatefulSet is alpha (off) in 1.32."""
    if _max_unavailable_in_use(old):
        return
    rolling = _d(_d(new.get("spec")).get("updateStrategy")).get("rollingUpdate")
    if isinstance(rolling, dict):
        rolling.pop("maxUnavailable", None)


def drop_disabled_fields(group: str, kind: str, new: JSON, old: JSON | None, subresource: str = "") -> None:
    """Drop what 1.32's PrepareForCreate (old None) / PrepareForUpdate drops for this kind."""
    if group == "" and kind == "Pod":
        if subresource == "binding":
            return  # BindingREST updates the stored pod directly, without a strategy
        spec, ospec = new.get("spec"), (_d(old.get("spec")) if old is not None else None)
        if isinstance(spec, dict) and subresource != "status":
            drop_pod_spec(spec, ospec)
        status = new.get("status")
        if isinstance(status, dict):
            drop_pod_status(status, ospec)
        return
    if subresource:
        return  # status (and scale) strategies keep the stored spec
    if group == "apps" and kind == "StatefulSet":
        _drop_stateful_set(new, old)
    elif group == "" and kind == "PersistentVolume":
        spec = new.get("spec")
        if isinstance(spec, dict) and _d(_d(old).get("spec")).get("volumeAttributesClassName") is None:
            spec.pop("volumeAttributesClassName", None)
    path = _TEMPLATE_SPEC.get((group, kind))
    if path is None:
        return
    spec = _template_spec(new, path)
    if spec is not None:
        drop_pod_spec(spec, _template_spec(old, path) if old is not None else None)
