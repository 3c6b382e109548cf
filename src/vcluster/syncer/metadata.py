"""Host metadata of synced objects (§2.1), the reverse direction (§2.4), IsManaged (§1.9), lookups (§1.8)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from vcluster.apiserver.patch import json_copy
from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import visible_annotations
from vcluster.syncer.names import (
    RESERVED_LABEL_KEYS,
    host_name_short,
    label_key_from_host,
    label_key_to_host,
)

# Reset on every object copied to the other side (`ResetObjectMetadata`).
RESET_FIELDS = (
    "generateName",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
)

StoreLookup = Callable[[Kind, str, str], "tuple[str, str] | None"]
HostNameSearch = Callable[[str], "Iterable[tuple[Kind, str, str]]"]
_SHORT_NAME = re.compile(r"v[a-z0-9]{13}")


def meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """An object's metadata (empty mapping when absent)."""
    return (obj or {}).get("metadata") or {}


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """An object's labels (a new dict)."""
    return dict(meta(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """An object's annotations (a new dict)."""
    return dict(meta(obj).get("annotations") or {})


def reset_metadata(m: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of metadata without the server-owned and ownership fields."""
    return {k: json_copy(v) for k, v in m.items() if k not in RESET_FIELDS}


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by_other(obj: Mapping[str, Any] | None) -> bool:
    """Objects with the `controlled-by` label are skipped by generic syncers (§2.1)."""
    return bool(labels_of(obj).get(c.CONTROLLER_LABEL))


def is_deleting(obj: Mapping[str, Any] | None) -> bool:
    """True once a deletionTimestamp is set."""
    return bool(meta(obj).get("deletionTimestamp"))


# ---------------------------------------------------------------- virtual → host


def _translated_reserved_keys(vcluster: str) -> set[str]:
    return {label_key_to_host(k, vcluster) for k in RESERVED_LABEL_KEYS}


def host_labels(
    virtual_labels: Mapping[str, str] | None,
    ctx: SyncContext,
    namespace: str,
    *,
    existing: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Virtual labels with reserved keys hashed, plus marker (and namespace label when namespaced)."""
    hashed = _translated_reserved_keys(ctx.vcluster)
    out = {
        label_key_to_host(k, ctx.vcluster): v for k, v in (virtual_labels or {}).items() if k not in hashed
    }
    if namespace:
        out[c.MARKER_LABEL] = ctx.marker
        out[c.NAMESPACE_LABEL] = namespace
    else:
        out[c.MARKER_LABEL] = ctx.cluster_marker
    if existing and existing.get(c.CONTROLLER_LABEL):
        out[c.CONTROLLER_LABEL] = existing[c.CONTROLLER_LABEL]
    return out


def object_annotations(
    virtual: Mapping[str, Any], kind: Kind, host_name: str, host_namespace: str
) -> dict[str, str]:
    """The six `object-*` annotations (namespace ones only for namespaced objects, uid when known)."""
    m = meta(virtual)
    out = {c.NAME_ANNOTATION: m.get("name", "")}
    if m.get("namespace"):
        out[c.NAMESPACE_ANNOTATION] = m["namespace"]
    if m.get("uid"):
        out[c.UID_ANNOTATION] = m["uid"]
    out[c.KIND_ANNOTATION] = kind.gvk
    out[c.HOST_NAME_ANNOTATION] = host_name
    if host_namespace:
        out[c.HOST_NAMESPACE_ANNOTATION] = host_namespace
    return out


def host_annotations(
    virtual: Mapping[str, Any],
    kind: Kind,
    host_name: str,
    host_namespace: str,
    excluded: Iterable[str] = (),
    excluded_prefixes: Iterable[str] = (),
) -> dict[str, str]:
    """Copied virtual annotations + `managed-annotations` bookkeeping + the `object-*` annotations."""
    ex, pre = tuple(excluded), tuple(excluded_prefixes)
    copied = visible_annotations(annotations_of(virtual), ex, pre)
    out = dict(copied)
    if copied:
        out[c.MANAGED_ANNOTATIONS_ANNOTATION] = "\n".join(sorted(copied))
    out.update(object_annotations(virtual, kind, host_name, host_namespace))
    return out


def owner_references(virtual: Mapping[str, Any], ctx: SyncContext, kind: Kind) -> list[dict[str, Any]] | None:
    """One reference to the host vCluster Service when setOwner is on (controller iff virtual has one)."""
    if not (ctx.set_owner and ctx.owner_uid and kind.namespaced):
        return None
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": ctx.vcluster,
            "uid": ctx.owner_uid,
            "controller": controller_of(virtual) is not None,
        }
    ]


def host_metadata(
    virtual: Mapping[str, Any],
    ctx: SyncContext,
    kind: Kind,
    *,
    host_name: str | None = None,
    excluded_annotations: Iterable[str] = (),
    excluded_annotation_prefixes: Iterable[str] = (),
) -> dict[str, Any]:
    """`HostMetadata`: reset metadata, translated name/namespace, labels, annotations, owner (§2.1)."""
    m = meta(virtual)
    vns = m.get("namespace", "") if kind.namespaced else ""
    name = host_name if host_name is not None else ctx.host_name_for(kind, m.get("name", ""), vns)
    hns = ctx.host_namespace_for(kind)
    out = reset_metadata(m)
    out["name"] = name
    if hns:
        out["namespace"] = hns
    else:
        out.pop("namespace", None)
    out["labels"] = host_labels(m.get("labels"), ctx, vns)
    out["annotations"] = host_annotations(
        virtual, kind, name, hns, excluded_annotations, excluded_annotation_prefixes
    )
    owners = owner_references(virtual, ctx, kind)
    if owners:
        out["ownerReferences"] = owners
    return out


def to_host_object(
    virtual: Mapping[str, Any],
    ctx: SyncContext,
    kind: Kind,
    *,
    host_name: str | None = None,
    excluded_annotations: Iterable[str] = (),
    excluded_annotation_prefixes: Iterable[str] = (),
    keep_status: bool = False,
) -> dict[str, Any]:
    """A deep copy of the virtual object with host metadata and (by default) no status."""
    out = json_copy(dict(virtual))
    out["metadata"] = host_metadata(
        virtual,
        ctx,
        kind,
        host_name=host_name,
        excluded_annotations=excluded_annotations,
        excluded_annotation_prefixes=excluded_annotation_prefixes,
    )
    if not keep_status:
        out.pop("status", None)
    return out


def ensure_host_metadata(
    host: dict[str, Any], virtual: Mapping[str, Any], ctx: SyncContext, kind: Kind
) -> dict[str, Any]:
    """After a merge: re-add marker/namespace labels and the `object-*` annotations (mutates `host`)."""
    m = host.setdefault("metadata", {})
    vns = meta(virtual).get("namespace", "") if kind.namespaced else ""
    labels = dict(m.get("labels") or {})
    if vns:
        labels[c.MARKER_LABEL] = ctx.marker
        labels[c.NAMESPACE_LABEL] = vns
    else:
        labels[c.MARKER_LABEL] = ctx.cluster_marker
    m["labels"] = labels
    ann = dict(m.get("annotations") or {})
    ann.update(object_annotations(virtual, kind, m.get("name", ""), m.get("namespace", "")))
    m["annotations"] = ann
    return host


# ---------------------------------------------------------------- host → virtual


def virtual_labels(host_labels_: Mapping[str, str] | None, vcluster: str) -> dict[str, str]:
    """Host labels minus marker/namespace/controlled-by/ns-label keys, hashed keys translated back."""
    out = {}
    for k, v in (host_labels_ or {}).items():
        vk = label_key_from_host(k, vcluster)
        if vk is not None:
            out[vk] = v
    return out


def virtual_annotations(
    host_annotations_: Mapping[str, str] | None, excluded: Iterable[str] = ()
) -> dict[str, str]:
    """Host annotations except the `object-*` and `managed-*` keys (and per-syncer exclusions)."""
    return visible_annotations(host_annotations_, excluded)


def virtual_metadata(
    host: Mapping[str, Any],
    ctx: SyncContext,
    name: str,
    namespace: str = "",
    *,
    excluded_annotations: Iterable[str] = (),
) -> dict[str, Any]:
    """`VirtualMetadata`: metadata of a virtual object created from a host one (§2.4)."""
    m = meta(host)
    out = reset_metadata(m)
    out["name"] = name
    if namespace:
        out["namespace"] = namespace
    else:
        out.pop("namespace", None)
    labels = virtual_labels(m.get("labels"), ctx.vcluster)
    annotations = virtual_annotations(m.get("annotations"), excluded_annotations)
    out.pop("labels", None)
    out.pop("annotations", None)
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = annotations
    return out


def apply_managed(
    source: Mapping[str, str] | None,
    target: Mapping[str, str] | None,
    previously_managed: Iterable[str],
    excluded: Iterable[str] = (),
) -> tuple[dict[str, str], list[str]]:
    """`ApplyMetadata` bookkeeping: source keys win, keys managed before but gone are dropped."""
    ex, prev = set(excluded), set(previously_managed)
    out, managed = {}, []
    for k, v in (source or {}).items():
        if k in ex:
            continue
        out[k] = v
        managed.append(k)
    for k, v in (target or {}).items():
        if k in ex:
            if v:
                out[k] = v
            continue
        if k in out or k in prev:
            continue
        out[k] = v
    return out, sorted(managed)


def apply_metadata(
    source: Mapping[str, Any], target: Mapping[str, Any] | None, excluded_annotations: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations) for `target` carrying `source`'s with `managed-labels/-annotations` kept."""
    t_ann = annotations_of(target)
    ex = (*c.BOOKKEEPING_ANNOTATIONS, *excluded_annotations)
    prev_ann = (t_ann.get(c.MANAGED_ANNOTATIONS_ANNOTATION) or "").split("\n")
    ann, managed_ann = apply_managed(annotations_of(source), t_ann, prev_ann, ex)
    _set_or_drop(ann, c.MANAGED_ANNOTATIONS_ANNOTATION, "\n".join(managed_ann))
    prev_lab = (t_ann.get(c.MANAGED_LABELS_ANNOTATION) or "").split("\n")
    lab, managed_lab = apply_managed(
        labels_of(source), labels_of(target), prev_lab, c.BOOKKEEPING_ANNOTATIONS
    )
    _set_or_drop(ann, c.MANAGED_LABELS_ANNOTATION, "\n".join(managed_lab))
    return lab, ann


def _set_or_drop(m: dict[str, str], key: str, value: str) -> None:
    if value:
        m[key] = value
    else:
        m.pop(key, None)


# ---------------------------------------------------------------- ownership checks


def is_managed(
    host: Mapping[str, Any], ctx: SyncContext, kind: Kind, store_lookup: StoreLookup | None = None
) -> bool:
    """IsManaged (§1.9): a store entry, or marker label + consistent `object-*` annotations."""
    m = meta(host)
    if store_lookup and store_lookup(kind, m.get("namespace", ""), m.get("name", "")) is not None:
        return True
    labels, ann = labels_of(host), annotations_of(host)
    if not kind.namespaced:
        return labels.get(c.MARKER_LABEL) == ctx.cluster_marker
    if m.get("namespace") != ctx.host_namespace or labels.get(c.MARKER_LABEL) != ctx.vcluster:
        return False
    vname = ann.get(c.NAME_ANNOTATION, "")
    if not vname or m.get("name") != ctx.host_name_for(kind, vname, ann.get(c.NAMESPACE_ANNOTATION, "")):
        return False
    return _annotations_consistent(ann, m, kind)


def _annotations_consistent(ann: Mapping[str, str], m: Mapping[str, Any], kind: Kind) -> bool:
    if ann.get(c.KIND_ANNOTATION) and ann[c.KIND_ANNOTATION] != kind.gvk:
        return False
    if ann.get(c.HOST_NAME_ANNOTATION) and ann[c.HOST_NAME_ANNOTATION] != m.get("name"):
        return False
    return not (
        ann.get(c.HOST_NAMESPACE_ANNOTATION) and ann[c.HOST_NAMESPACE_ANNOTATION] != m.get("namespace", "")
    )


def should_delete_host_object(host: Mapping[str, Any], kind: Kind) -> bool:
    """`ShouldDeleteHostObject` (§8.5): the host copy is deleting or clearly was synced by us."""
    if is_deleting(host):
        return True
    m, ann = meta(host), annotations_of(host)
    if ann.get(c.KIND_ANNOTATION) != kind.gvk or not ann.get(c.NAME_ANNOTATION):
        return False
    if ann.get(c.HOST_NAME_ANNOTATION) != m.get("name"):
        return False
    if kind.namespaced:
        return bool(ann.get(c.NAMESPACE_ANNOTATION)) and ann.get(c.HOST_NAMESPACE_ANNOTATION) == m.get(
            "namespace"
        )
    return True


def names_other_object(host: Mapping[str, Any], namespace: str, name: str, kind: Kind) -> bool:
    """The host object's `object-name`/`object-namespace` name another virtual object than
    `namespace/name`: two virtual names that join to one host name (`a-x-b` in `c` and `a` in `b-x-c`,
    §1.3). Without the annotations (an older copy) nothing says so."""
    ann = annotations_of(host)
    vname = ann.get(c.NAME_ANNOTATION)
    if not vname:
        return False
    return vname != name or (kind.namespaced and ann.get(c.NAMESPACE_ANNOTATION, "") != namespace)


def uid_mismatch(host: Mapping[str, Any], virtual: Mapping[str, Any], kind: Kind) -> bool:
    """Host `object-uid` set, different from the virtual UID and the kind matches (§8.4 step 5)."""
    ann = annotations_of(host)
    huid, vuid = ann.get(c.UID_ANNOTATION), meta(virtual).get("uid")
    return bool(huid and vuid and huid != vuid and ann.get(c.KIND_ANNOTATION) == kind.gvk)


# ---------------------------------------------------------------- reverse lookups (§1.8)


def reverse_lookup(
    ctx: SyncContext,
    kind: Kind,
    host_namespace: str,
    host_name: str,
    *,
    host: Mapping[str, Any] | None = None,
    store_lookup: StoreLookup | None = None,
    search: HostNameSearch | None = None,
) -> tuple[str, str] | None:
    """Virtual (namespace, name) of a host object: store, namespace guard, annotations, then heuristics."""
    if store_lookup:
        hit = store_lookup(kind, host_namespace, host_name)
        if hit is not None:
            return hit
    if kind.namespaced and host_namespace != ctx.host_namespace:
        return None
    if host is not None:
        ann = annotations_of(host)
        if ann.get(c.NAME_ANNOTATION):
            return _from_annotations(host, ann, ctx, kind)
    if not kind.namespaced and ctx.host_name_for(kind, host_name) == host_name:
        return ("", host_name)  # mirror mapping (nodes, untranslated cluster-scoped kinds)
    if search is None:
        return None
    return _search(ctx, kind, host_name, search)


def _from_annotations(
    host: Mapping[str, Any], ann: Mapping[str, str], ctx: SyncContext, kind: Kind
) -> tuple[str, str] | None:
    marker = labels_of(host).get(c.MARKER_LABEL)
    want = ctx.marker if kind.namespaced else ctx.cluster_marker
    if marker is not None and marker != want:
        return None
    if not _annotations_consistent(ann, meta(host), kind):
        return None
    return ann.get(c.NAMESPACE_ANNOTATION, ""), ann[c.NAME_ANNOTATION]


def _search(ctx: SyncContext, kind: Kind, host_name: str, search: HostNameSearch) -> tuple[str, str] | None:
    for short in _SHORT_NAME.findall(host_name):
        for _k, vns, vname in search(short):
            if host_name_short(vname, vns, ctx.vcluster) == short:
                return vns, vname
    for k, vns, vname in search(host_name):
        if ctx.host_name_for(k, vname, vns) == host_name:
            return vns, vname
    return None
