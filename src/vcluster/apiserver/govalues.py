"""Go's value fields on the write path of built-in kinds: what encoding the Go struct always writes.

kube-apiserver decodes a built-in object into its Go struct and encodes it back before storing it,
so a field the body left out still appears when its Go type is a value, not a pointer:

* a `metav1.Time` / `MicroTime` value field encodes its zero as `null` even with `omitempty`
  (`eventTime`, `lastHeartbeatTime`, `lastTransitionTime`, `creationTimestamp` of a template);
* a struct value field is never omitted: `{}` plus its own value fields (`Event.source: {}`,
  `ContainerStatus.state: {}`, `Deployment.status: {}`, `CRD status.acceptedNames`);
* a non-pointer scalar without `omitempty` encodes its zero (`Event.reportingComponent: ""`);
* a slice, map or pointer without `omitempty` encodes nil as `null` (`EndpointSlice.ports`,
  `ClusterRole.rules`, `CRD status.conditions`);
* `Quantity`, `IntOrString` and `Duration` values encode their zeros as `"0"`, `0` and `"0s"`.

Which fields are values comes from the 1.32 `generated.proto` descriptors (`(gogoproto.nullable)
= false`) and JSON tags a kubectl binary embeds (see `protobuf.py`): :func:`fills_from_descriptors`
computes the table, kept in `govalues_data.py` (regenerate with `python -m
vcluster.apiserver.govalues`), plus the apiextensions and kube-aggregator types kubectl does not
embed (`_EXTRA`, from their Go types). The walk over present values follows the OpenAPI definitions.

The top-level `metadata` is left alone: the server stamps its `creationTimestamp` itself.
Custom resources are unstructured JSON and get nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from vcluster.apiserver.govalues_data import FILLS
from vcluster.apiserver.schema import container_walker, definition_for, definitions

__all__ = ["fill", "fills_from_descriptors", "zeros"]

_REF = "#/$defs/"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
# Types with their own JSON form: their zero value's encoding (MarshalJSON of the zero value).
_SPECIAL_ZERO: dict[str, Any] = {
    _META + "Time": None,
    _META + "MicroTime": None,
    _META + "Duration": "0s",
    _META + "FieldsV1": None,
    "io.k8s.apimachinery.pkg.runtime.RawExtension": None,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "0",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": 0,
}
_CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
_APISVC = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1."
_TIME = _META + "Time"
# Types kubectl does not embed (apiextensions-apiserver types.go, kube-aggregator types.go, 1.32):
# (field, "struct" | "null" | "zero", sub-definition or zero value).
_EXTRA: dict[str, tuple[tuple[str, str, Any], ...]] = {
    _CRD + "CustomResourceDefinition": (
        ("spec", "struct", _CRD + "CustomResourceDefinitionSpec"),
        ("status", "struct", _CRD + "CustomResourceDefinitionStatus"),
    ),
    _CRD + "CustomResourceDefinitionSpec": (
        ("group", "zero", ""),
        ("names", "struct", _CRD + "CustomResourceDefinitionNames"),
        ("scope", "zero", ""),
        ("versions", "null", None),
    ),
    _CRD + "CustomResourceDefinitionVersion": (
        ("name", "zero", ""),
        ("served", "zero", False),
        ("storage", "zero", False),
    ),
    _CRD + "CustomResourceDefinitionNames": (("plural", "zero", ""), ("kind", "zero", "")),
    _CRD + "CustomResourceDefinitionStatus": (
        ("conditions", "null", None),
        ("acceptedNames", "struct", _CRD + "CustomResourceDefinitionNames"),
        ("storedVersions", "null", None),
    ),
    _CRD + "CustomResourceDefinitionCondition": (
        ("type", "zero", ""),
        ("status", "zero", ""),
        ("lastTransitionTime", "struct", _TIME),
    ),
    _CRD + "CustomResourceColumnDefinition": (
        ("name", "zero", ""),
        ("type", "zero", ""),
        ("jsonPath", "zero", ""),
    ),
    _APISVC + "APIService": (
        ("spec", "struct", _APISVC + "APIServiceSpec"),
        ("status", "struct", _APISVC + "APIServiceStatus"),
    ),
    _APISVC + "APIServiceSpec": (("groupPriorityMinimum", "zero", 0), ("versionPriority", "zero", 0)),
    _APISVC + "APIServiceCondition": (
        ("type", "zero", ""),
        ("status", "zero", ""),
        ("lastTransitionTime", "struct", _TIME),
    ),
}

Walker = Callable[[Any], None]
Maker = Callable[[], Any]


class _Plan:
    """A struct definition's walk: the value fields to add when absent, the fields to descend."""

    __slots__ = ("fills", "walk")

    def __init__(self) -> None:
        self.fills: tuple[tuple[str, Maker], ...] = ()
        self.walk: dict[str, Walker] = {}


_PLANS: dict[str, _Plan | None] = {}
_BY_KIND: dict[tuple[str, str, str], _Plan | None] = {}
_ZEROS: dict[str, Any] = {}


_TABLE: dict[str, tuple[tuple[str, str, Any], ...]] = {**FILLS, **_EXTRA}


def _zero_struct(defname: str) -> Any:
    """The encoding of a zero value of `defname` (computed once; callers copy it)."""
    if defname in _SPECIAL_ZERO:
        return _SPECIAL_ZERO[defname]
    if defname not in _ZEROS:
        _ZEROS[defname] = {}  # a recursive value type cannot exist in Go; guards bad data
        out: dict[str, Any] = {}
        for key, how, arg in _TABLE.get(defname, ()):
            out[key] = _zero_struct(arg) if how == "struct" else arg
        _ZEROS[defname] = out
    return _ZEROS[defname]


def _copy(v: Any) -> Any:
    """A copy of a zero value (dicts of dicts and scalars)."""
    return {k: _copy(x) for k, x in v.items()} if type(v) is dict else v


def _maker(how: str, arg: Any) -> Maker:
    zero = _zero_struct(arg) if how == "struct" else arg
    if isinstance(zero, dict):
        if not zero:
            return dict
        return lambda: _copy(zero)
    return lambda: zero


def _target(sch: dict[str, Any]) -> str | None:
    ref = sch.get("$ref")
    return ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else None


def _walker(sch: Any) -> Walker | None:
    """The walk of one present value of schema `sch`, or None when nothing under it gets a fill."""
    if not isinstance(sch, dict):
        return None
    name = _target(sch)
    if name is not None:
        if name in _SPECIAL_ZERO:
            return None
        d = definitions().get(name)
        if d is None:
            return None
        if d.get("properties"):
            plan = _plan(name)
            return None if plan is None else _struct_walker(plan)
        return _walker(d)
    return container_walker(sch, _walker)


def _struct_walker(plan: _Plan) -> Walker:
    def walk_struct(v: Any) -> None:
        if type(v) is dict:
            _fill_struct(v, plan)

    return walk_struct


def _plan(defname: str) -> _Plan | None:
    """The plan of a struct definition (None: nothing to add at any depth). A recursive definition
    (JSONSchemaProps) gets its plan object before its fields are filled in."""
    if defname in _PLANS:
        return _PLANS[defname]
    plan = _PLANS[defname] = _Plan()
    props = definitions()[defname].get("properties") or {}
    plan.fills = tuple((key, _maker(how, arg)) for key, how, arg in _TABLE.get(defname, ()) if key in props)
    for prop, sch in props.items():
        w = _walker(sch)
        if w is not None:
            plan.walk[prop] = w
    if not plan.fills and not plan.walk:
        _PLANS[defname] = None
        return None
    return plan


def _fill_struct(obj: dict[str, Any], plan: _Plan) -> None:
    walk = plan.walk
    if walk:
        for key, v in obj.items():
            if v or type(v) is dict:  # an empty struct still gets its value fields
                w = walk.get(key)
                if w is not None:
                    w(v)
    for key, make in plan.fills:  # after the walk: a fresh zero value is complete
        if obj.get(key) is None:  # absent, or null: Go decodes both to the zero value
            obj[key] = make()


def _kind_plan(group: str, version: str, kind: str) -> _Plan | None:
    key = (group, version, kind)
    if key not in _BY_KIND:
        name = definition_for(group, version, kind)
        d = definitions().get(name) if name is not None else None
        _BY_KIND[key] = _plan(name) if name is not None and d is not None and d.get("properties") else None
    return _BY_KIND[key]


def zeros(defname: str) -> dict[str, Any]:
    """The value fields of a definition and the encoding of their zero values: non-omitempty scalars
    (`""`, 0, false) and struct values (`{}` and its own value fields, `null` for times). Shared:
    callers must not change them."""
    found = _FIELD_ZEROS.get(defname)
    if found is None:
        found = _FIELD_ZEROS[defname] = {
            key: (_zero_struct(arg) if how == "struct" else arg)
            for key, how, arg in _TABLE.get(defname, ())
            if how != "null"
        }
    return found


_FIELD_ZEROS: dict[str, dict[str, Any]] = {}


def fill(obj: dict[str, Any], group: str, version: str, kind: str) -> None:
    """Add, in place, what encoding the object's Go struct writes for absent value fields (and for
    value fields sent as null, which Go decodes to their zero value), at every depth but the
    top-level metadata. Kinds without a definition are left alone."""
    plan = _kind_plan(group, version, kind)
    if plan is None or type(obj) is not dict:
        return
    walk = plan.walk
    for key, v in obj.items():
        if (v or type(v) is dict) and key != "metadata":
            w = walk.get(key)
            if w is not None:
                w(v)
    for key, make in plan.fills:
        if obj.get(key) is None and key != "metadata":  # absent or null: the zero value
            obj[key] = make()


# ------------------------------------------------------------------------------------------ the table
def fills_from_descriptors(codec: Any) -> dict[str, tuple[tuple[str, str, Any], ...]]:
    """The value fields of every message a kubectl binary embeds, by OpenAPI definition name:
    (JSON key, "struct" (a value struct, or Time & co.: its zero's encoding), "null" or "zero",
    sub-definition or zero). Inline value structs (`json:",inline"`) lend their fields."""
    from vcluster.apiserver import protobuf as pb

    pool, tags = codec._pool, codec._tags

    def entries(full_name: str) -> list[tuple[str, str, Any]]:
        msg_tags = tags.get(full_name)
        if msg_tags is None:
            return []
        desc = pool.FindMessageTypeByName(full_name)
        out: list[tuple[str, str, Any]] = []
        for fd in desc.fields:
            tag = msg_tags.get(str(fd.number))
            if tag is None or tag[0] == "-":
                continue
            key, omitempty = str(tag[0]), bool(tag[1])
            opts = pb._field_options(fd.GetOptions().SerializeToString())
            nullable = opts.get(pb._OPT_NULLABLE, 1) != 0
            is_msg = fd.type == fd.TYPE_MESSAGE
            if pb._repeated(fd) or fd.type == fd.TYPE_BYTES or nullable:
                if not omitempty and key:
                    out.append((key, "null", None))  # a nil slice, map, []byte or pointer
                continue
            if is_msg:
                sub = _defname(fd.message_type.full_name)
                if not key:
                    out.extend(entries(fd.message_type.full_name))  # an embedded struct's fields
                else:
                    out.append((key, "struct", sub))
            elif not omitempty:
                out.append((key, "zero", pb._zero(fd) if fd.type not in (1, 2) else 0))
        return out

    table: dict[str, tuple[tuple[str, str, Any], ...]] = {}
    defs = definitions()
    for full_name in sorted(tags):
        name = _defname(full_name)
        if name not in defs or name in _SPECIAL_ZERO or name.endswith("List"):
            continue  # lists are built by the server, never decoded from a body
        try:
            found = entries(full_name)
        except KeyError:
            continue
        if found:
            table[name] = tuple(found)
    return table


def _defname(proto_name: str) -> str:
    return "io.k8s." + proto_name[len("k8s.io.") :] if proto_name.startswith("k8s.io.") else proto_name


def _write_data(path: str) -> None:
    from vcluster.apiserver import protobuf

    codec = protobuf._codec()
    if codec is None:
        raise SystemExit("no kubectl binary with descriptors found")
    table = fills_from_descriptors(codec)
    lines = [
        '"""Go value fields of the 1.32 built-in types (generated by `python -m vcluster.apiserver.govalues`',
        'from a kubectl 1.32 binary\'s descriptors; see govalues.py). Do not edit."""',
        "",
        "from typing import Any",
        "",
        "FILLS: dict[str, tuple[tuple[str, str, Any], ...]] = {",
    ]
    for name, fields in table.items():
        lines.append(f"    {name!r}: (")
        for f in fields:
            lines.append(f"        {f!r},")
        lines.append("    ),")
    lines.append("}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    _write_data(sys.argv[1] if len(sys.argv) > 1 else __file__.replace("govalues.py", "govalues_data.py"))
