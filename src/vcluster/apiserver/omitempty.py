"""Go's `omitempty` on the write path of built-in kinds: empty lists and maps vanish.

kube-apiserver decodes a built-in object into its Go struct and encodes it back before storing it,
so a list or map field tagged `omitempty` that is empty (`[]`, `{}`) or null is not stored:
`labels: {}`, `finalizers: []`, `containers[].ports: []`, `data: null` disappear. A field without
`omitempty` keeps `[]` (an empty non-nil slice) and keeps an explicit `null` (a nil slice encodes
as null). Empty structs are kept (`securityContext: {}`, `emptyDir: {}`, `podSelector: {}`: a
non-nil pointer to an empty struct), and so are list items and map values (`ingress: [{}]`).

Which fields have `omitempty` comes from the 1.32 OpenAPI definitions: kube-openapi lists a field
in `required` exactly when its JSON tag has no `omitempty` and it is not marked `+optional`, so a
field outside `required` is `omitempty` except for the list fields in `_KEPT` (marked `+optional`
but tagged without `omitempty`, e.g. `Role.rules`, `CustomResourceDefinitionStatus.storedVersions`;
found by comparing the definitions with the Go struct tags of a 1.32 kubectl binary, see
`tests/unit/test_omitempty.py`).

Custom resources are not pruned this way: they are stored as unstructured JSON, which keeps empty
values (only their `metadata`, ObjectMeta, goes through Go: `prune_object_meta`). The per-definition
plans are computed once, so a write costs one walk of the object's struct fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vcluster.apiserver.schema import container_walker, definition_for, definitions, json_types

__all__ = ["prune", "prune_object_meta"]

_REF = "#/$defs/"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Definitions whose Go type has its own JSON form (not walked as structs).
_OPAQUE = frozenset(
    {
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    }
)
# List fields outside `required` whose Go tag has no `omitempty` (1.32): `[]` and null stay.
_KEPT = frozenset(
    {
        ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "currentMetrics"),
        ("io.k8s.api.core.v1.ContainerImage", "names"),
        ("io.k8s.api.core.v1.ProjectedVolumeSource", "sources"),
        ("io.k8s.api.discovery.v1.EndpointSlice", "ports"),
        ("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", "namespaces"),
        ("io.k8s.api.rbac.v1.ClusterRole", "rules"),
        ("io.k8s.api.rbac.v1.Role", "rules"),
        ("io.k8s.api.resource.v1alpha3.AllocatedDeviceStatus", "conditions"),
        ("io.k8s.api.resource.v1alpha3.DeviceClaim", "requests"),
        ("io.k8s.api.resource.v1alpha3.ResourceSliceSpec", "devices"),
        ("io.k8s.api.resource.v1beta1.AllocatedDeviceStatus", "conditions"),
        ("io.k8s.api.resource.v1beta1.DeviceClaim", "requests"),
        ("io.k8s.api.resource.v1beta1.ResourceSliceSpec", "devices"),
        ("io.k8s.api.storage.v1.CSINodeDriver", "topologyKeys"),
        (
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
            "conditions",
        ),
        (
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
            "storedVersions",
        ),
    }
)
# The field manager reads `metadata.managedFields: []` (reset them all) before the object is
# encoded; it removes or rewrites the field itself.
_LEFT_TO_FIELD_MANAGER = frozenset({(_OBJECT_META, "managedFields")})

Walker = Callable[[Any], None]


class _Plan:
    """What a struct definition's walk does: the fields to drop when empty, the ones to descend."""

    __slots__ = ("drop", "walk")

    def __init__(self) -> None:
        self.drop: frozenset[str] = frozenset()
        self.walk: dict[str, Walker] = {}


_PLANS: dict[str, _Plan | None] = {}
_BY_KIND: dict[tuple[str, str, str], _Plan | None] = {}


def _target(sch: dict[str, Any]) -> str | None:
    ref = sch.get("$ref")
    return ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else None


def _is_struct(defname: str) -> bool:
    d = definitions().get(defname)
    return d is not None and defname not in _OPAQUE and bool(d.get("properties"))


def _container_kind(sch: dict[str, Any]) -> str:
    """ "list", "map" (additionalProperties) or "" for a property schema (after one $ref)."""
    name = _target(sch)
    if name is not None:
        if name in _OPAQUE:
            return ""
        sch = definitions().get(name) or {}
        if sch.get("properties"):
            return ""
    types = json_types(sch)
    if "array" in types:
        return "list"
    if "object" in types and isinstance(sch.get("additionalProperties"), dict) and not sch.get("properties"):
        return "map"
    return ""


def _walker(sch: Any) -> Walker | None:
    """The walk of one value of schema `sch`, or None when nothing under it can be pruned."""
    if not isinstance(sch, dict):
        return None
    name = _target(sch)
    if name is not None:
        if _is_struct(name):
            plan = _plan(name)
            return None if plan is None else _struct_walker(plan)
        target = definitions().get(name)
        return _walker(target) if target is not None and name not in _OPAQUE else None
    return container_walker(sch, _walker)


def _struct_walker(plan: _Plan) -> Walker:
    def walk_struct(v: Any) -> None:
        if type(v) is dict:
            _prune_struct(v, plan)

    return walk_struct


def _plan(defname: str) -> _Plan | None:
    """The plan of a struct definition (None: nothing in it is ever pruned). Recursive definitions
    (JSONSchemaProps) get their plan object before their fields are filled in."""
    if defname in _PLANS:
        return _PLANS[defname]
    plan = _PLANS[defname] = _Plan()
    d = definitions()[defname]
    required = set(d.get("required") or ())
    drop: set[str] = set()
    for prop, sch in (d.get("properties") or {}).items():
        if not isinstance(sch, dict):
            continue
        if (
            prop not in required
            and (defname, prop) not in _KEPT
            and (defname, prop) not in _LEFT_TO_FIELD_MANAGER
            and _container_kind(sch)
        ):
            drop.add(prop)
        w = _walker(sch)
        if w is not None:
            plan.walk[prop] = w
    plan.drop = frozenset(drop)
    if not plan.drop and not plan.walk:
        _PLANS[defname] = None
        return None
    return plan


def _prune_struct(obj: dict[str, Any], plan: _Plan) -> None:
    drop, walk = plan.drop, plan.walk
    dead: list[str] | None = None
    for key, v in obj.items():
        if key in drop and (v is None or ((type(v) is list or type(v) is dict) and not v)):
            if dead is None:
                dead = [key]
            else:
                dead.append(key)
            continue
        if v:
            w = walk.get(key)
            if w is not None:
                w(v)
    if dead is not None:
        for key in dead:
            del obj[key]


def _kind_plan(group: str, version: str, kind: str) -> _Plan | None:
    key = (group, version, kind)
    if key in _BY_KIND:
        return _BY_KIND[key]
    name = definition_for(group, version, kind)
    plan = _plan(name) if name is not None and _is_struct(name) else None
    _BY_KIND[key] = plan
    return plan


def prune(obj: dict[str, Any], group: str, version: str, kind: str) -> None:
    """Drop, in place, what encoding the object's Go struct would omit: empty or null list and map
    fields tagged `omitempty`, at every depth. Kinds without a definition are left alone."""
    plan = _kind_plan(group, version, kind)
    if plan is not None and type(obj) is dict:
        _prune_struct(obj, plan)


def prune_object_meta(obj: dict[str, Any]) -> None:
    """The same for `metadata` alone (custom resources: the rest of the object is unstructured)."""
    md = obj.get("metadata")
    if type(md) is dict:
        plan = _plan(_OBJECT_META)
        if plan is not None:
            _prune_struct(md, plan)
