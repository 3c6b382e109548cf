"""Server-side apply and `metadata.managedFields`, as pure functions.

A port of `sigs.k8s.io/structured-merge-diff/v4` (typed values, field sets, merge, compare, prune,
the FieldsV1 wire format) and of the field manager chain kube-apiserver wraps around it
(`k8s.io/apimachinery/pkg/util/managedfields/internal`: strip-meta, managed-fields updater,
manager identifiers, cap of 10 update managers, skip-non-applied / `before-first-apply`,
last-applied upgrade and sync for the `kubectl` manager, version check, conflict errors).

Public API (everything else is private):

* `type_for(group, version, kind) -> TypeNode` and `type_from_openapi(schema) -> TypeNode`: the
  structured-merge-diff schema of a built-in kind (from the 1.32 definitions) or of a custom
  resource version (its structural `openAPIV3Schema`); memoised / cheap to keep.
* `fields_of(obj, schema) -> FieldSet`: the set of field paths an object sets (`ToFieldSet`);
  `validate_typed(obj, schema)` raises `SchemaError` with SMD's text when it does not fit.
* `to_fields_v1(fs) -> dict` / `from_fields_v1(d) -> FieldSet`: the FieldsV1 JSON format.
* `path_string(path) -> str`: `.spec.template.spec.containers[name="c"].image`.
* `apply(live, applied, manager, force, *, group, version, kind, now, ...) -> dict`: server-side
  apply; raises `StatusError` (409 conflicts, 400 / 500 as kube-apiserver does).
* `update_managed_fields(old, new, manager, *, group, version, kind, now, ...) -> None`: records
  an ordinary create / update / patch in `new["metadata"]["managedFields"]`; never raises.
* `ignore_managed_fields_timestamps(old, new) -> None`: kube-apiserver's
  `IgnoreManagedFieldsTimestampsTransformer` (no resourceVersion bump for a timestamp-only change).
* `reset_fields(has_status, subresource) -> FieldSet`, `validate_patch_options(...)`,
  `validate_field_manager(name) -> list[Cause]`, `manager_from_user_agent(user_agent)`.

Field paths are tuples of path elements: `("f", name)` (struct field or map key),
`("k", ((key, value), ...))` (associative-list item by its list-map keys, sorted by key name),
`("v", value)` (set item) and `("i", index)` (atomic-list index; only in user-provided sets).
Values inside `k` / `v` elements are *frozen* (hashable) JSON values, see `freeze` / `thaw`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from vcluster.apiserver import govalues
from vcluster.apiserver.errors import (
    Cause,
    StatusError,
    field_forbidden,
    field_invalid,
    field_required,
    field_too_long,
    invalid,
)
from vcluster.apiserver.gostr import go_quote as _go_quote
from vcluster.apiserver.schema import definition_for, definitions

PathElement = tuple[Any, ...]
Path = tuple[PathElement, ...]
FieldSet = set[Path]

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER_MAX_LENGTH = 128
MAX_UPDATE_MANAGERS = 10
_CURRENT_OPERATION = "current-operation"
_BEFORE_FIRST_APPLY = "before-first-apply"
_ANCIENT_CHANGES = "ancient-changes"


class FieldsV1Error(ValueError):
    """A FieldsV1 document that is not a valid field set (the text is structured-merge-diff's)."""


class SchemaError(ValueError):
    """An object that does not fit its structured-merge-diff schema (the text is SMD's)."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


# ============================================================================ schema
SCALAR, MAP, LIST, UNTYPED, DEDUCED = range(5)
_REF = "#/$defs/"
_UNTYPED_SCALARS = (
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
)
_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# List-map keys with a `+default` in k8s.io/api (the 1.32 OpenAPI carries `"default": "TCP"`; the
# kubernetes-validate definitions dropped defaults). SSA uses them for items that omit the key.
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
}

# Struct fields that Go holds by value (not by pointer): kube-apiserver's typed objects always
# carry them, so a missing one compares like an empty struct (the zero object of a create has
# them too). `metadata`, `spec` and `status` are by value in every built-in kind; these are the
# other by-value structs of the everyday kinds (k8s.io/api 1.32 types.go).
_BY_VALUE_NAMES = frozenset({"metadata", "spec", "status"})
_BY_VALUE: dict[str, tuple[str, ...]] = {
    "io.k8s.api.apps.v1.DeploymentSpec": ("template", "strategy"),
    "io.k8s.api.apps.v1.ReplicaSetSpec": ("template",),
    "io.k8s.api.apps.v1.StatefulSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.apps.v1.DaemonSetSpec": ("template", "updateStrategy"),
    "io.k8s.api.batch.v1.JobSpec": ("template",),
    "io.k8s.api.batch.v1.CronJobSpec": ("jobTemplate",),
    "io.k8s.api.core.v1.PodTemplate": ("template",),
    "io.k8s.api.core.v1.Container": ("resources",),
    "io.k8s.api.core.v1.EphemeralContainer": ("resources",),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": ("resources",),
    "io.k8s.api.rbac.v1.RoleBinding": ("roleRef",),
    "io.k8s.api.rbac.v1.ClusterRoleBinding": ("roleRef",),
    "io.k8s.api.core.v1.Event": ("involvedObject", "source"),
    "io.k8s.api.core.v1.ServiceStatus": ("loadBalancer",),
    "io.k8s.api.networking.v1.IngressStatus": ("loadBalancer",),
    "io.k8s.api.core.v1.NodeStatus": ("daemonEndpoints", "nodeInfo"),
    "io.k8s.api.core.v1.NodeDaemonEndpoints": ("kubeletEndpoint",),
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec": ("scaleTargetRef",),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": ("scaleTargetRef",),
}


class TypeNode:
    """One structured-merge-diff atom.

    `kind` is SCALAR (`scalar` in string / numeric / boolean / untyped), MAP (a struct when it has
    named fields, a map when it has `elem`, both with x-kubernetes-preserve-unknown-fields),
    LIST (`list_type` atomic / set / map with `keys`), UNTYPED (anything, atomic) or DEDUCED
    (maps granular, lists atomic: unknown fields of preserve-unknown-fields schemas).
    Struct fields are converted lazily, so recursive definitions cost nothing up front.
    """

    __slots__ = (
        "_fields",
        "_props",
        "always",
        "atomic",
        "defname",
        "elem",
        "key_defaults",
        "keys",
        "kind",
        "list_type",
        "required",
        "scalar",
        "zeros",
    )

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.scalar = "untyped"
        self.atomic = False
        self.elem: TypeNode | None = None
        self.list_type = "atomic"
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self.always: frozenset[str] = frozenset()
        self.required: frozenset[str] = frozenset()
        self.zeros: dict[str, Any] = {}  # value fields: their Go zero (govalues.zeros)
        self.defname = ""
        self._props: dict[str, Any] = {}
        self._fields: dict[str, TypeNode] = {}

    def field(self, name: str) -> TypeNode | None:
        """The type of the named (struct) field `name`, or None when it is not a declared field."""
        t = self._fields.get(name)
        if t is not None:
            return t
        sch = self._props.get(name)
        if sch is None:
            return None
        t = self._fields[name] = _convert(sch)
        return t

    def has_field(self, name: str) -> bool:
        return name in self._props

    def child(self, name: str) -> TypeNode | None:
        """Field type, else the map element type, else None (a field not declared in the schema)."""
        t = self.field(name)
        return t if t is not None else self.elem

    def variant(self, atomic: bool) -> TypeNode:
        """A copy with another map relationship (x-kubernetes-map-type on a reference)."""
        n = TypeNode(self.kind)
        for s in TypeNode.__slots__:
            setattr(n, s, getattr(self, s))
        n.atomic = atomic
        return n


def _scalar(kind: str) -> TypeNode:
    n = TypeNode(SCALAR)
    n.scalar = kind
    return n


_UNTYPED = TypeNode(UNTYPED)
_DEDUCED = TypeNode(DEDUCED)
_DEDUCED_MAP = TypeNode(MAP)
_DEDUCED_MAP.elem = _DEDUCED
_SCALAR_NODES = {k: _scalar(k) for k in ("string", "numeric", "boolean", "untyped")}
_DEF_CACHE: dict[str, TypeNode] = {}


def _types(sch: dict[str, Any]) -> tuple[str, ...]:
    t = sch.get("type")
    if isinstance(t, str):
        return (t,)
    if isinstance(t, list):
        return tuple(x for x in t if isinstance(x, str) and x != "null")
    return ()


def _def_node(name: str) -> TypeNode:
    node = _DEF_CACHE.get(name)
    if node is not None:
        return node
    if name in _UNTYPED_SCALARS:
        node = _SCALAR_NODES["untyped"]
    elif name == _RAW_EXTENSION:
        node = _UNTYPED
    else:
        sch = definitions().get(name)
        node = _DEDUCED if sch is None else _convert(sch, name)
    _DEF_CACHE[name] = node
    return node


def _convert(sch: Any, defname: str = "") -> TypeNode:
    """kube-openapi `schemaconv` for one schema (a definition or an inline property schema)."""
    if not isinstance(sch, dict):
        return _DEDUCED
    ref = sch.get("$ref")
    if isinstance(ref, str):
        node = _def_node(ref.rsplit("/", 1)[-1] if not ref.startswith(_REF) else ref[len(_REF) :])
        mt = sch.get("x-kubernetes-map-type")
        if node.kind == MAP and mt in ("atomic", "granular") and node.atomic != (mt == "atomic"):
            node = node.variant(mt == "atomic")
        return node
    if sch.get("x-kubernetes-int-or-string") is True:
        return _SCALAR_NODES["untyped"]
    types = _types(sch)
    if "array" in types:
        n = TypeNode(LIST)
        items = sch.get("items")
        n.elem = _convert(items) if isinstance(items, dict) else _UNTYPED
        lt = sch.get("x-kubernetes-list-type")
        if lt == "set":
            n.list_type = "set"
        elif lt == "map":
            keys = sch.get("x-kubernetes-list-map-keys")
            n.list_type = "map"
            n.keys = tuple(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else ()
        elif lt is None:
            strategy = sch.get("x-kubernetes-patch-strategy")
            if strategy in ("merge", "merge,retainKeys"):
                key = sch.get("x-kubernetes-patch-merge-key")
                if isinstance(key, str):
                    n.list_type, n.keys = "map", (key,)
                else:
                    n.list_type = "set"
        if n.list_type == "map":
            n.key_defaults = _key_defaults(items if isinstance(items, dict) else {}, n.keys)
            if not n.keys:
                n.list_type = "set"
        return n
    props = sch.get("properties")
    ap = sch.get("additionalProperties")
    preserve = sch.get("x-kubernetes-preserve-unknown-fields") is True
    if "object" in types or isinstance(props, dict) or isinstance(ap, dict):
        if isinstance(props, dict) and props:
            n = TypeNode(MAP)
            n._props = props
            n.defname = defname
            if preserve:
                n.elem = _DEDUCED
            elif isinstance(ap, dict):
                n.elem = _convert(ap)
            if defname:
                n.always = _by_value_fields(defname, props)
                n.zeros = govalues.zeros(defname)
                req = sch.get("required")
                if isinstance(req, list):
                    n.required = frozenset(r for r in req if isinstance(r, str)) - n.always
        elif isinstance(ap, dict):
            n = TypeNode(MAP)
            n.elem = _convert(ap)
        elif preserve or ap is True:
            return _DEDUCED
        else:
            n = TypeNode(MAP)  # an empty struct (`status: {}` markers, FieldsV1)
            n.defname = defname
        n.atomic = sch.get("x-kubernetes-map-type") == "atomic"
        return n
    if preserve:
        return _DEDUCED
    if "string" in types:
        fmt = sch.get("format") or ""
        return _SCALAR_NODES["string" if fmt in ("", "byte") else "untyped"]
    if "integer" in types or "number" in types:
        return _SCALAR_NODES["numeric"]
    if "boolean" in types:
        return _SCALAR_NODES["boolean"]
    return _DEDUCED


def _key_defaults(items: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    ref = items.get("$ref")
    elem_def = ref[len(_REF) :] if isinstance(ref, str) and ref.startswith(_REF) else ""
    props = (definitions().get(elem_def) or {}).get("properties") if elem_def else items.get("properties")
    out: dict[str, Any] = {}
    for k in keys:
        d = _KEY_DEFAULTS.get((elem_def, k), MISSING)
        if d is MISSING and isinstance(props, dict) and isinstance(props.get(k), dict):
            d = props[k].get("default", MISSING)
        if d is not MISSING and d is not None:
            out[k] = d
    return out


def _by_value_fields(defname: str, props: dict[str, Any]) -> frozenset[str]:
    """The by-value struct fields of a definition (granular structs only; looked up in the raw
    definitions so that converting one definition never converts another)."""
    out = set()
    for name in (*_BY_VALUE_NAMES, *_BY_VALUE.get(defname, ())):
        sch = props.get(name)
        ref = sch.get("$ref") if isinstance(sch, dict) else None
        if not isinstance(ref, str) or not ref.startswith(_REF):
            continue
        target = definitions().get(ref[len(_REF) :]) or {}
        if target.get("properties") and target.get("x-kubernetes-map-type") != "atomic":
            out.add(name)
    return frozenset(out)


_TYPE_CACHE: dict[tuple[str, str, str], TypeNode] = {}


def type_for(group: str, version: str, kind: str) -> TypeNode:
    """The schema of a built-in kind; kinds without a definition get the deduced (schemaless) type."""
    key = (group, version, kind)
    node = _TYPE_CACHE.get(key)
    if node is None:
        name = definition_for(group, version, kind)
        node = _TYPE_CACHE[key] = _def_node(name) if name else _DEDUCED
    return node


def type_from_openapi(schema: dict[str, Any] | None) -> TypeNode:
    """The schema of a custom resource version from its structural `openAPIV3Schema` (None: no
    schema, every field deduced). `metadata` is always ObjectMeta, `apiVersion`/`kind` strings,
    as the CRD handler's type converter does. Cache the result per CRD version."""
    if not isinstance(schema, dict):
        return _DEDUCED
    props = dict(schema.get("properties") or {})
    props["metadata"] = {"$ref": _REF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    root = dict(schema)
    root["properties"] = props
    root["type"] = "object"
    return _convert(root)


def _eff(node: TypeNode, v: Any) -> TypeNode:
    """deduceAtom for the deduced type: maps are granular maps of deduced, the rest atomic."""
    if node.kind == DEDUCED:
        return _DEDUCED_MAP if type(v) is dict else _UNTYPED
    return node


# ============================================================================ values and path elements
def freeze(v: Any) -> tuple[Any, ...]:
    """A hashable form of a JSON value whose tuple order is structured-merge-diff's value order
    (numbers < strings < booleans < lists < maps < null)."""
    t = type(v)
    if t is str:
        return (1, v)
    if t is bool:
        return (2, v)
    if t is int or t is float:
        return (0, v)
    if v is None:
        return (5,)
    if t is list:
        return (3, tuple(freeze(x) for x in v))
    if t is dict:
        return (4, tuple(sorted((k, freeze(x)) for k, x in v.items())))
    return (1, str(v))


def thaw(f: tuple[Any, ...]) -> Any:
    tag = f[0]
    if tag in (0, 1, 2):
        return f[1]
    if tag == 3:
        return [thaw(x) for x in f[1]]
    if tag == 4:
        return {k: thaw(x) for k, x in f[1]}
    return None


_PE_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def _pe_key(pe: PathElement) -> tuple[int, Any]:
    return (_PE_RANK[pe[0]], pe[1])


def _dumps(v: Any, sort_keys: bool = False) -> str:
    """JSON as Go's encoding/json writes it (compact, HTML characters escaped)."""
    try:
        s = orjson.dumps(v, option=orjson.OPT_SORT_KEYS if sort_keys else 0).decode()
    except TypeError:
        s = json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    if "<" in s or ">" in s or "&" in s or "\u2028" in s or "\u2029" in s:
        s = (
            s.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return s


def _json_number(v: Any) -> Any:
    # Go writes float64 without a fractional part when it has none (80, not 80.0).
    if type(v) is float and v.is_integer() and abs(v) < 1e21:
        return int(v)
    return v


def _pe_serialize(pe: PathElement) -> str:
    t = pe[0]
    if t == "f":
        return "f:" + pe[1]
    if t == "i":
        return f"i:{pe[1]}"
    return _pe_serialize_value(pe)


@lru_cache(maxsize=1024)  # list keys recur in every document (container names, condition types)
def _pe_serialize_value(pe: PathElement) -> str:
    t = pe[0]
    if t == "k":
        return "k:{" + ",".join(_dumps(n) + ":" + _dumps(_json_number(thaw(v))) for n, v in pe[1]) + "}"
    if t == "v":
        return "v:" + _dumps(_json_number(thaw(pe[1])))
    return f"i:{pe[1]}"


_INT_RE = re.compile(r"^[+-]?[0-9]+$")


@lru_cache(maxsize=4096)  # the same field names and list keys come back in every document
def _pe_parse(s: str) -> PathElement | None:
    """DeserializePathElement; None for an unknown element type (dropped, as upstream does)."""
    if len(s) < 2:
        raise FieldsV1Error("key must be 2 characters long:")
    if s[1] != ":":
        raise FieldsV1Error(f"missing colon: {s}")
    t, body = s[0], s[2:]
    if t == "f":
        return ("f", body)
    if t == "i":
        if not _INT_RE.match(body):
            raise FieldsV1Error(f'strconv.Atoi: parsing "{body}": invalid syntax')
        return ("i", int(body))
    if t in ("v", "k"):
        try:
            v = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise FieldsV1Error(f"parsing key as path element: {e}") from None
        if t == "v":
            return ("v", freeze(v))
        if not isinstance(v, dict):
            raise FieldsV1Error("ReadObjectCB: expect { or n")
        return ("k", tuple(sorted((k, freeze(x)) for k, x in v.items())))
    return None


def _value_string(v: Any) -> str:
    """structured-merge-diff's value.ToString."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e21 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ",".join(_value_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ";".join(f"{k}={_value_string(x)}" for k, x in v.items()) + "}"
    return str(v)


def _pe_string(pe: PathElement) -> str:
    t = pe[0]
    if t == "f":
        return "." + pe[1]
    if t == "k":
        return "[" + ",".join(f"{n}={_value_string(thaw(v))}" for n, v in pe[1]) + "]"
    if t == "v":
        return "[=" + _value_string(thaw(pe[1])) + "]"
    return f"[{pe[1]}]"


def path_string(path: Path) -> str:
    """The path as structured-merge-diff prints it: `.spec.ports[port=80,protocol="TCP"].name`."""
    return "".join(_pe_string(pe) for pe in path)


def _list_pe(node: TypeNode, item: Any) -> tuple[PathElement | None, str]:
    """listItemToPathElement for an associative list: the element, or None and SMD's error text."""
    if node.list_type == "map":
        if item is None:
            return None, "associative list with keys may not have a null element"
        if type(item) is not dict:
            return None, "associative list with keys may not have non-map elements"
        fields = []
        for k in node.keys:
            if k in item:
                fields.append((k, freeze(item[k])))
            elif k in node.key_defaults:
                fields.append((k, freeze(node.key_defaults[k])))
            else:
                return None, (
                    f'associative list with keys has an element that omits key field "{k}" '
                    "(and doesn't have default value)"
                )
        fields.sort()
        return ("k", tuple(fields)), ""
    t = type(item)
    if t is dict:
        return None, "associative list without keys has an element that's a map type"
    if t is list:
        return None, "not supported: associative list with lists as elements"
    if item is None:
        return None, "associative list without keys has an element that's an explicit null"
    return ("v", freeze(item)), ""


# ============================================================================ field sets
def _trie(s: Iterable[Path]) -> dict[PathElement, list[Any]]:
    """pe -> [is_member, children] (structured-merge-diff's Set layout)."""
    root: dict[PathElement, list[Any]] = {}
    for p in s:
        if not p:
            continue
        level = root
        for pe in p[:-1]:
            ent = level.get(pe)
            if ent is None:
                ent = level[pe] = [False, {}]
            level = ent[1]
        ent = level.get(p[-1])
        if ent is None:
            level[p[-1]] = [True, {}]
        else:
            ent[0] = True
    return root


# Most writes re-encode and re-decode the same FieldsV1 documents (every pod of a template has the
# same managers' sets; each write of an object decodes the entries of its previous version): the
# JSON text <-> field set translations are kept for the most recent ones. Small: the shared shapes
# are few, and a set unique to one object (a pod's IP in its status) costs tens of KB to keep.
# _ENCODED: the fieldsV1 text by field set, least recently used first (a dict keeps insertion order).
_ENCODED: dict[frozenset[Path], bytes] = {}
_ENCODED_MAX = 64


@lru_cache(maxsize=64)
def _decoded(raw: bytes) -> frozenset[Path]:
    out: FieldSet = set()
    _read_v1(orjson.loads(raw), (), out)
    return frozenset(out)


def to_fields_v1(fs: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 document of a field set, keys ordered as upstream serializes them
    (field names, then keys, values, indexes; `.` first when an element is also a member)."""
    key = frozenset(fs)
    raw = _ENCODED.pop(key, None)
    if raw is not None:
        _ENCODED[key] = raw  # now the most recent
        return orjson.loads(raw)  # type: ignore[no-any-return]
    root = _doc_trie(key)
    doc = _emit(root) if root else {}
    _ENCODED[key] = orjson.dumps(doc)  # the document itself goes to the caller: no decode of a miss
    if len(_ENCODED) > _ENCODED_MAX:
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):  # another thread got there first
            del _ENCODED[next(iter(_ENCODED))]
    return doc


# The member mark of a `_doc_trie` level: its own key, sorting before every path element.
_MEMBER: Any = ("",)


def _doc_trie(s: Iterable[Path]) -> dict[Any, Any]:
    """pe -> the next level, `_MEMBER` in a level whose path is a member of the set (the layout
    `_emit` reads; `_trie`'s [is_member, children] pairs cost a list per node)."""
    root: dict[Any, Any] = {}
    for p in s:
        if not p:
            continue
        level = root
        for pe in p:
            nxt = level.get(pe)
            if nxt is None:
                nxt = level[pe] = {}
            level = nxt
        level[_MEMBER] = _MEMBER
    return root


def _emit(level: dict[Any, Any]) -> dict[str, Any]:
    """The FieldsV1 document of a non-empty `_doc_trie` level."""
    out: dict[str, Any] = {}
    keys = sorted(level)
    if keys[0] is _MEMBER:  # a member with children: "." first
        out["."] = {}
        del keys[0]
    # tuple order is _pe_key's (f, k, v, i) except that it puts index elements before keys and values
    if keys[-1][0] in ("k", "v") and any(pe[0] == "i" for pe in keys):
        keys.sort(key=_pe_key)
    for pe in keys:
        child = level[pe]
        key = "f:" + pe[1] if pe[0] == "f" else _pe_serialize(pe)
        out[key] = {} if len(child) == 1 and _MEMBER in child else _emit(child)
    return out


def from_fields_v1(d: Any) -> FieldSet:
    """Parse a FieldsV1 document (`Set.FromJSON`); raises FieldsV1Error on malformed input."""
    out: FieldSet = set()
    if d is None:
        return out
    if not isinstance(d, dict):
        raise FieldsV1Error("ReadMapCB: expect { or n")
    try:
        raw = orjson.dumps(d)
    except (TypeError, orjson.JSONEncodeError):  # not JSON text: decode without the cache
        _read_v1(d, (), out)
        return out
    return set(_decoded(raw))


def _read_v1(d: dict[str, Any], prefix: Path, out: FieldSet) -> bool:
    has_child = False
    for key, val in d.items():
        if key == ".":
            continue
        if not isinstance(key, str):
            raise FieldsV1Error("parsing key as path element")
        pe = _pe_parse(key)
        if pe is None:
            continue
        if val is not None and not isinstance(val, dict):
            raise FieldsV1Error("ReadMapCB: expect { or n")
        p = (*prefix, pe)
        child_has = _read_v1(val, p, out) if val else False
        if not child_has or "." in val:
            out.add(p)
        has_child = True
    return has_child


def _iterate(s: Iterable[Path]) -> list[Path]:
    """Set.Iterate order: at each level the members, then the children, all sorted."""
    out: list[Path] = []

    def rec(level: dict[PathElement, list[Any]], prefix: Path) -> None:
        keys = sorted(level, key=_pe_key)
        for pe in keys:
            if level[pe][0]:
                out.append((*prefix, pe))
        for pe in keys:
            if level[pe][1]:
                rec(level[pe][1], (*prefix, pe))

    rec(_trie(s), ())
    return out


def _rdiff(s: FieldSet, s2: FieldSet | frozenset[Path] | None) -> FieldSet:
    """RecursiveDifference: drop every path that is in s2 or below a member of s2."""
    if not s2:
        return set(s)
    lengths = sorted({len(q) for q in s2})  # only prefixes of these lengths can be members
    firsts = {q[0] for q in s2 if q}  # and only paths that start like one of them
    if () in s2:
        return set()
    if lengths == [1]:  # top-level fields only (the reset fields: `spec` or `status`)
        return {p for p in s if not p or p[0] not in firsts}
    return {
        p for p in s if not p or p[0] not in firsts or not any(p[:i] in s2 for i in lengths if i <= len(p))
    }


def _ensure_named(s: FieldSet, root: TypeNode) -> FieldSet:
    """EnsureNamedFieldsAreMembers: add every struct field that has children in the set."""
    out = set(s)
    prefixes: set[Path] = set()
    for p in s:
        for i in range(len(p) - 1, 0, -1):
            q = p[:i]
            if q in prefixes:
                break
            prefixes.add(q)
    types: dict[Path, TypeNode | None] = {(): root}

    def type_at(p: Path) -> TypeNode | None:
        t = types.get(p, MISSING)
        if t is not MISSING:
            return t
        parent = type_at(p[:-1])
        t = None
        if parent is not None:
            pe = p[-1]
            if parent.kind == DEDUCED:
                t = _DEDUCED if pe[0] == "f" else None
            elif parent.kind == MAP and pe[0] == "f":
                t = parent.child(pe[1])
            elif parent.kind == LIST and pe[0] != "f":
                t = parent.elem
        types[p] = t
        return t

    for q in prefixes:
        pe = q[-1]
        if pe[0] == "f" and q not in out:
            parent = type_at(q[:-1])
            if parent is not None and parent.kind == MAP and parent.has_field(pe[1]):
                out.add(q)
    return out


# ============================================================================ typed walks
def fields_of(obj: Any, schema: TypeNode) -> FieldSet:
    """ToFieldSet: every leaf field, every set/list-map item and map key the object sets; atomic
    lists and maps are one leaf; struct fields are not members themselves. Fields the schema does
    not declare are skipped (run `_validate` first to reject them)."""
    out: FieldSet = set()
    _to_set(obj, schema, (), out, False)
    return out


def _fields_named(obj: Any, schema: TypeNode) -> FieldSet:
    """EnsureNamedFieldsAreMembers(ToFieldSet(obj)) in one walk."""
    out: FieldSet = set()
    _to_set(obj, schema, (), out, True)
    return out


def _to_set(v: Any, node: TypeNode, path: Path, out: FieldSet, en: bool) -> None:
    n = _eff(node, v)
    kind = n.kind
    if kind == MAP:
        if n.atomic:
            out.add(path)
            return
        if type(v) is not dict:
            return
        for key, child in v.items():
            t = n.field(key)
            named = t is not None
            if t is None:
                t = n.elem
                if t is None:
                    continue
            p = (*path, ("f", key))
            if named:
                if en:
                    before = len(out)
                    _to_set(child, t, p, out, en)
                    if len(out) > before:
                        out.add(p)
                else:
                    _to_set(child, t, p, out, en)
            else:
                _to_set(child, t, p, out, en)
                out.add(p)
        return
    if kind == LIST:
        if n.list_type == "atomic":
            out.add(path)
            return
        if type(v) is not list:
            return
        pes = [_list_pe(n, item)[0] for item in v]
        seen: dict[PathElement, int] = {}
        for pe in pes:
            if pe is not None:
                seen[pe] = seen.get(pe, 0) + 1
        elem = n.elem or _UNTYPED
        for item, pe in zip(v, pes, strict=True):
            if pe is None:
                continue
            p = (*path, pe)
            if seen[pe] == 1:
                _to_set(item, elem, p, out, en)
            out.add(p)  # duplicated items are owned as a whole (AllowDuplicates)
        return
    out.add(path)


def _eq(a: Any, b: Any) -> bool:
    """value.Equals: deep equality where 1 == 1.0 but true != 1."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is dict:
        if tb is not dict or len(a) != len(b):
            return False
        for k, x in a.items():
            y = b.get(k, MISSING)
            if y is MISSING or not _eq(x, y):
                return False
        return True
    if ta is list:
        return tb is list and len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if tb is dict or tb is list:
        return False
    return bool(a == b)


def _compare(
    lhs: Any, rhs: Any, node: TypeNode, null_is_missing: bool
) -> tuple[FieldSet, FieldSet, FieldSet]:
    """TypedValue.Compare: (added, modified, removed). Nested containers that appear or vanish are
    added/removed themselves as well as their leaves; `null_is_missing` treats JSON nulls in maps
    as absent (typed Go objects never carry them)."""
    added: FieldSet = set()
    modified: FieldSet = set()
    removed: FieldSet = set()
    _cmp(lhs, rhs, node, (), added, modified, removed, null_is_missing)
    return added, modified, removed


def _compare_ignoring(
    lhs: Any, rhs: Any, node: TypeNode, null_is_missing: bool, ignored: FieldSet | None
) -> tuple[FieldSet, FieldSet, FieldSet]:
    """`_compare` with `_rdiff(_, ignored)` applied to its three sets. Ignored top-level fields
    (the reset `spec` or `status`, the common case) are left out of the walk instead of being
    collected and filtered out of every path found."""
    names = _top_level_names(ignored) if ignored else None
    if names is None:
        added, modified, removed = _compare(lhs, rhs, node, null_is_missing)
        if ignored:
            added, modified, removed = (_rdiff(x, ignored) for x in (added, modified, removed))
        return added, modified, removed
    if type(lhs) is dict and not names.isdisjoint(lhs):
        lhs = {k: v for k, v in lhs.items() if k not in names}
    if type(rhs) is dict and not names.isdisjoint(rhs):
        rhs = {k: v for k, v in rhs.items() if k not in names}
    return _compare(lhs, rhs, node, null_is_missing)


def _top_level_names(ignored: FieldSet) -> frozenset[str] | None:
    """The field names of a set of top-level field paths only, else None."""
    names = []
    for p in ignored:
        if len(p) != 1 or p[0][0] != "f":
            return None
        names.append(p[0][1])
    return frozenset(names)


def _cmp(
    l: Any,  # noqa: E741
    r: Any,
    node: TypeNode,
    path: Path,
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
    nim: bool,
) -> None:
    # An unchanged subtree adds, modifies and removes nothing: skip the walk (most of an object
    # is unchanged by an update; dict == is C-fast). The schema fixes each field's JSON type, so
    # Python's 1 == True cannot hide a change here.
    if l is r or (type(l) is type(r) and l == r):
        return
    if l is MISSING:
        _cmp_added(r, node, path, added, nim)
        return
    lm, rm = l is MISSING, r is MISSING
    n = _eff(node, l if rm else r)
    if node.kind == DEDUCED and not lm and not rm and (type(l) is dict) != (type(r) is dict):
        n = _UNTYPED
    kind = n.kind
    if kind == MAP and not n.atomic:
        ld = l if type(l) is dict else None
        rd = r if type(r) is dict else None
        if (ld is not None or l is None or lm) and (rd is not None or r is None or rm) and (ld or rd):
            if lm:
                added.add(path)
            elif rm:
                removed.add(path)
            always, required, zeros = n.always, n.required, n.zeros
            for key, lv in ld.items() if ld else ():
                t = n.child(key)
                if t is None:
                    continue
                if nim and _go_omitted(lv, t, key, required):
                    lv = _zero(key, always, required, zeros)
                rv = rd.get(key, MISSING) if rd is not None else MISSING
                if nim and rv is not MISSING and _go_omitted(rv, t, key, required):
                    rv = MISSING
                if rv is MISSING and rd is not None:
                    rv = _zero(key, always, required, zeros)
                if lv is MISSING and rv is MISSING:
                    continue
                _cmp(lv, rv, t, (*path, ("f", key)), added, modified, removed, nim)
            if rd:
                for key, rv in rd.items():
                    if ld is not None and key in ld:
                        continue
                    t = n.child(key)
                    if t is None or (nim and _go_omitted(rv, t, key, required)):
                        continue
                    lv = _zero(key, always, required, zeros) if ld is not None else MISSING
                    if lv is MISSING:  # a field that appears (all of them, at a create's top level)
                        _cmp_added(rv, t, (*path, ("f", key)), added, nim)
                    else:
                        _cmp(lv, rv, t, (*path, ("f", key)), added, modified, removed, nim)
            return
    elif kind == LIST and n.list_type != "atomic":
        ll = l if type(l) is list else None
        rl = r if type(r) is list else None
        if (ll is not None or l is None or lm) and (rl is not None or r is None or rm) and (ll or rl):
            if lm:
                added.add(path)
            elif rm:
                removed.add(path)
            elem = n.elem or _UNTYPED
            lvals: dict[PathElement, Any] = {}
            for item in ll or ():
                pe = _list_pe(n, item)[0]
                if pe is not None and pe not in lvals:
                    lvals[pe] = item
            rseen: set[PathElement] = set()
            for item in rl or ():
                pe = _list_pe(n, item)[0]
                if pe is None or pe in rseen:
                    continue
                rseen.add(pe)
                _cmp(lvals.get(pe, MISSING), item, elem, (*path, pe), added, modified, removed, nim)
            for pe, item in lvals.items():
                if pe not in rseen:
                    _cmp(item, MISSING, elem, (*path, pe), added, modified, removed, nim)
            return
    if lm:
        added.add(path)
    elif rm:
        removed.add(path)
    elif not _eq(l, r):
        modified.add(path)


def _cmp_added(r: Any, node: TypeNode, path: Path, added: FieldSet, nim: bool) -> None:
    """`_cmp(MISSING, r, ...)`: a value that appears, with everything under it (most of a create).
    Leaves of scalar type are added here rather than in a call of their own."""
    added.add(path)
    n = _eff(node, r)
    kind = n.kind
    if kind == MAP:
        if n.atomic or type(r) is not dict:
            return
        required = n.required
        for key, rv in r.items():
            t = n.child(key)
            if t is None:
                continue
            if (
                nim
                and (rv is None or (not rv and type(rv) in _CONTAINERS))
                and _go_omitted(rv, t, key, required)
            ):
                continue
            if t.kind in _LEAF_KINDS:
                added.add((*path, ("f", key)))
            else:
                _cmp_added(rv, t, (*path, ("f", key)), added, nim)
    elif kind == LIST:
        if n.list_type == "atomic" or type(r) is not list:
            return
        elem = n.elem or _UNTYPED
        leaf = elem.kind in _LEAF_KINDS
        seen: set[PathElement] = set()
        for item in r:
            pe = _list_pe(n, item)[0]
            if pe is None or pe in seen:
                continue
            seen.add(pe)
            if leaf:
                added.add((*path, pe))
            else:
                _cmp_added(item, elem, (*path, pe), added, nim)


# Types under which a value is one field path whatever it holds (no map or list walk).
_LEAF_KINDS = (SCALAR, UNTYPED)
_CONTAINERS = (dict, list)


def _go_omitted(v: Any, t: TypeNode, key: str, required: frozenset[str]) -> bool:
    """Whether a typed Go object drops this JSON value: nulls, and empty maps / lists of
    `omitempty` fields (structs, even empty ones, are kept)."""
    if v is None:
        return True
    if (type(v) is dict or type(v) is list) and not v and key not in required:
        return t.kind == LIST or (t.kind == MAP and not t._props and not t.defname) or t.kind == DEDUCED
    return False


def _zero(key: str, always: frozenset[str], required: frozenset[str], zeros: dict[str, Any]) -> Any:
    """The value a typed Go object has for a field its JSON lacks: `{}` for a by-value struct, the
    Go zero of another value field (`""`, 0, false, a struct's zero, null for a time), null for any
    other field without omitempty (`required` in the OpenAPI), else absent."""
    if key in always:
        return {}
    if key in zeros:
        return zeros[key]
    if key in required:
        return None
    return MISSING


def _merge(l: Any, r: Any, node: TypeNode) -> Any:  # noqa: E741
    """TypedValue.Merge (ruleKeepRHS): no field is removed; leaves and atomic values take rhs;
    granular maps merge key by key; associative lists merge item by item, ordered like rhs with
    lhs-only items kept in place."""
    if r is MISSING:
        return l
    if l is MISSING:
        return r
    n = _eff(node, r)
    if node.kind == DEDUCED and (type(l) is dict) != (type(r) is dict):
        return r
    kind = n.kind
    if kind == MAP and not n.atomic:
        if (type(l) is dict or l is None) and (type(r) is dict or r is None):
            ld = l or {}
            rd = r or {}
            if not ld and not rd:
                return r
            out: dict[str, Any] = {}
            for key, lv in ld.items():
                rv = rd.get(key, MISSING)
                if rv is MISSING:
                    out[key] = lv
                else:
                    t = n.child(key)
                    out[key] = _merge(lv, rv, t) if t is not None else rv
            for key, rv in rd.items():
                if key not in ld:
                    out[key] = rv
            return out
        return r
    if kind == LIST and n.list_type != "atomic":
        if (type(l) is list or l is None) and (type(r) is list or r is None):
            if not l and not r:
                return r
            return _merge_list(l or [], r or [], n)
        return r
    return r


def _index(items: list[Any], node: TypeNode) -> tuple[list[PathElement], dict[PathElement, Any], list[Any]]:
    order: list[PathElement] = []
    values: dict[PathElement, Any] = {}
    unkeyed: list[Any] = []
    for item in items:
        pe = _list_pe(node, item)[0]
        if pe is None:
            unkeyed.append(item)
            continue
        if pe in values:
            continue
        values[pe] = item
        order.append(pe)
    return order, values, unkeyed


def _merge_list(lhs: list[Any], rhs: list[Any], node: TypeNode) -> list[Any]:
    elem = node.elem or _UNTYPED
    r_order, r_vals, _ = _index(rhs, node)
    l_order, l_vals, l_unkeyed = _index(lhs, node)
    shared = [pe for pe in r_order if pe in l_vals]
    si = 0
    next_shared = shared[0] if shared else None
    out: list[Any] = []
    li = ri = 0
    nl, nr = len(l_order), len(r_order)
    while li < nl or ri < nr:
        progress = (li, ri)
        if li < nl and ri < nr:
            pe = l_order[li]
            if pe == r_order[ri]:
                out.append(_merge(l_vals[pe], r_vals[pe], elem))
                li += 1
                ri += 1
                si += 1
                next_shared = shared[si] if si < len(shared) else None
                continue
            if pe in r_vals and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < nl:
            pe = l_order[li]
            if pe not in r_vals:
                out.append(l_vals[pe])
                li += 1
                continue
        if ri < nr:
            pe = r_order[ri]
            out.append(_merge(l_vals.get(pe, MISSING), r_vals[pe], elem))
            ri += 1
            if next_shared is not None and next_shared == pe:
                si += 1
                next_shared = shared[si] if si < len(shared) else None
        if (li, ri) == progress:  # cannot happen with consistent inputs; never loop forever
            li += 1
    out.extend(l_unkeyed)
    return out


def _remove(v: Any, node: TypeNode, level: dict[PathElement, list[Any]]) -> Any:
    """TypedValue.RemoveItems: drop every member of the set (with its subtree). A map or list that
    ends up empty becomes null, as upstream."""
    n = _eff(node, v)
    kind = n.kind
    if kind == MAP:
        if type(v) is dict:
            if n.atomic or not v:
                return None
            out: dict[str, Any] = {}
            for key, val in v.items():
                ent = level.get(("f", key))
                if ent is not None:
                    if ent[0]:
                        continue
                    if ent[1]:
                        t = n.child(key)
                        out[key] = _remove(val, t, ent[1]) if t is not None else val
                        continue
                out[key] = val
            return out or None
        return v
    if kind == LIST:
        if type(v) is list:
            if n.list_type == "atomic" or not v:
                return None
            elem = n.elem or _UNTYPED
            items: list[Any] = []
            for item in v:
                pe = _list_pe(n, item)[0]
                ent = level.get(pe) if pe is not None else None
                if ent is not None:
                    if ent[0]:
                        continue
                    if ent[1]:
                        item = _remove(item, elem, ent[1])
                items.append(item)
            return items or None
        return v
    return v


# ---------------------------------------------------------------------------- validation (AsTyped)
def _go_v(v: Any) -> str:
    """Go's %v of an unstructured value."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _value_string(v)
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def _go_sharp_v(v: Any) -> str:
    """Go's %#v of an unstructured value."""
    if v is None:
        return "interface {}(nil)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _go_quote(v)
    if isinstance(v, (int, float)):
        return _value_string(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(x) for x in v) + "}"
    if isinstance(v, dict):
        return (
            "map[string]interface {}{"
            + ", ".join(f"{_go_quote(k)}:{_go_sharp_v(v[k])}" for k in sorted(v))
            + "}"
        )
    return str(v)


def _validate(v: Any, node: TypeNode, path: str, errs: list[str]) -> None:
    """AsTyped validation of an apply configuration (duplicates are errors)."""
    n = _eff(node, v)
    kind = n.kind
    if kind == SCALAR:
        if v is None:
            return
        sc, t = n.scalar, type(v)
        if sc == "string" and t is not str:
            errs.append(_at(path, f"expected string, got &value.valueUnstructured{{Value:{_go_sharp_v(v)}}}"))
        elif sc == "numeric" and t is not int and t is not float:
            errs.append(_at(path, "expected numeric (int or float), got *value.valueUnstructured"))
        elif sc == "boolean" and t is not bool:
            errs.append(_at(path, f"expected boolean, got &{{{_go_v(v)}}}"))
        elif sc == "untyped" and (t is dict or t is list):
            errs.append(_at(path, f"expected any scalar, got &{{{_go_v(v)}}}"))
        return
    if kind == MAP:
        if v is None:
            return
        if type(v) is not dict:
            errs.append(_at(path, f"expected map, got &{{{_go_v(v)}}}"))
            return
        for key, child in v.items():
            t = n.child(key)
            if t is None:
                errs.append(f"{path}.{key}: field not declared in schema")
                return
            _validate(child, t, f"{path}.{key}", errs)
        return
    if kind == LIST:
        if v is None:
            return
        if type(v) is not list:
            errs.append(_at(path, f"expected list, got &{{{_go_v(v)}}}"))
            return
        elem = n.elem or _UNTYPED
        if n.list_type == "atomic":
            for i, item in enumerate(v):
                _validate(item, elem, f"{path}[{i}]", errs)
            return
        seen: set[PathElement] = set()
        for i, item in enumerate(v):
            pe, err = _list_pe(n, item)
            if pe is None:
                errs.append(_at(path, f"element {i}: {err}"))
                return
            if pe in seen:
                errs.append(_at(path, f"duplicate entries for key {_pe_string(pe)}"))
            seen.add(pe)
            _validate(item, elem, path + _pe_string(pe), errs)


def validate_typed(obj: Any, schema: TypeNode) -> None:
    """AsTyped: raise SchemaError with structured-merge-diff's text when `obj` does not fit the
    schema (undeclared fields, wrong types, list items without their keys, duplicate keys)."""
    errs: list[str] = []
    try:
        _validate(obj, schema, "", errs)
    except RecursionError:
        errs.append("object nested too deeply")
    if errs:
        raise SchemaError(_errors_text(errs))


def _at(path: str, msg: str) -> str:
    return f"{path}: {msg}" if path else msg


def _errors_text(errs: list[str]) -> str:
    if len(errs) == 1:
        return errs[0]
    return "\n".join(["errors:", *("  " + e for e in errs)])


# ============================================================================ managed fields
class _VSet:
    """fieldpath.VersionedSet."""

    __slots__ = ("api_version", "applied", "fields")

    def __init__(self, fields: FieldSet, api_version: str, applied: bool) -> None:
        self.fields = fields
        self.api_version = api_version
        self.applied = applied


Managers = dict[str, _VSet]
Times = dict[str, "str | None"]


class _DecodeError(Exception):
    pass


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[str, FieldSet]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def _identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """BuildManagerIdentifier: the entry without time, fields and (for appliers) apiVersion."""
    d: dict[str, str] = {}
    if manager:
        d["manager"] = manager
    if operation:
        d["operation"] = operation
    if operation != "Apply" and api_version:
        d["apiVersion"] = api_version
    if subresource:
        d["subresource"] = subresource
    return _dumps(d)


def _norm_time(t: Any) -> str | None:
    if not isinstance(t, str) or not t:
        return None
    return _norm_time_text(t)


@lru_cache(maxsize=256)  # an object's entries are decoded again at each of its writes
def _norm_time_text(t: str) -> str:
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return t
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=256)
def _seconds(t: str | None) -> int:
    if not t:
        return 0
    try:
        return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


_ENTRY_KEYS = ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource")


def _is_reset(mf: Any) -> bool:
    """isResetManagedFields: `[]` or `[{}]` clears managedFields."""
    if not isinstance(mf, list):
        return False
    if not mf:
        return True
    if len(mf) == 1 and isinstance(mf[0], dict):
        return all(mf[0].get(k) in (None, "") for k in _ENTRY_KEYS)
    return False


# ident -> (the set decoded from an entry, that entry's fieldsV1 document): lets _encode reuse the
# document of a manager whose set a write did not change instead of encoding it again
Reuse = dict[str, tuple["_VSet", Any]]


def _decode(entries: Any, reuse: Reuse | None = None) -> tuple[Managers, Times]:
    """DecodeManagedFields; raises _DecodeError with upstream's text. `reuse` collects each
    entry's fieldsV1 document for `_encode`."""
    fields: Managers = {}
    times: Times = {}
    if entries is None:
        return fields, times
    if not isinstance(entries, list):
        raise _DecodeError("managedFields must be a list")
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise _DecodeError(f"managed fields entry {i} is not an object")
        op = e.get("operation")
        if op not in ("Apply", "Update"):
            raise _DecodeError("operation must be `Apply` or `Update`")
        av = e.get("apiVersion")
        if not isinstance(av, str) or not av:
            raise _DecodeError("apiVersion must not be empty")
        ft = e.get("fieldsType") or ""
        if ft == "":
            raise _DecodeError(f"missing fieldsType in managed fields entry {i}")
        if ft != "FieldsV1":
            raise _DecodeError(f"invalid fieldsType {_go_quote(str(ft))} in managed fields entry {i}")
        manager = e.get("manager") or ""
        sub = e.get("subresource") or ""
        if not isinstance(manager, str) or not isinstance(sub, str):
            raise _DecodeError(f"managed fields entry {i} has a non-string manager or subresource")
        try:
            fs = from_fields_v1(e.get("fieldsV1"))
        except (FieldsV1Error, RecursionError) as err:
            raise _DecodeError(f"error decoding versioned set: error decoding set: {err}") from None
        ident = _identifier(manager, op, av, sub)
        vs = fields[ident] = _VSet(fs, av, op == "Apply")
        times[ident] = _norm_time(e.get("time"))
        if reuse is not None and isinstance(e.get("fieldsV1"), dict):
            reuse[ident] = (vs, e["fieldsV1"])
    return fields, times


def _encode(fields: Managers, times: Times, reuse: Reuse | None = None) -> list[dict[str, Any]]:
    """encodeManagedFields, sorted as upstream: operation, time, manager, apiVersion, subresource.
    A manager whose set is the very one decoded into `reuse` keeps its fieldsV1 document."""
    entries: list[dict[str, Any]] = []
    for ident, vs in fields.items():
        try:
            info = orjson.loads(ident)
        except orjson.JSONDecodeError:
            info = {"manager": ident}
        e: dict[str, Any] = {}
        if info.get("manager"):
            e["manager"] = info["manager"]
        e["operation"] = "Apply" if vs.applied else info.get("operation", "Update")
        if vs.api_version:
            e["apiVersion"] = vs.api_version
        t = times.get(ident)
        if t:
            e["time"] = t
        e["fieldsType"] = "FieldsV1"
        prev = reuse.get(ident) if reuse else None
        e["fieldsV1"] = prev[1] if prev is not None and prev[0] is vs else to_fields_v1(vs.fields)
        if info.get("subresource"):
            e["subresource"] = info["subresource"]
        entries.append(e)
    entries.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e.get("manager", ""),
            e.get("apiVersion", ""),
            e.get("subresource", ""),
        )
    )
    return entries


def _set_managed(obj: dict[str, Any], fields: Managers, times: Times, reuse: Reuse | None = None) -> None:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        if not fields:
            return
        md = obj["metadata"] = {}
    if fields:
        md["managedFields"] = _encode(fields, times, reuse)
    else:
        md.pop("managedFields", None)


def _print_manager(ident: str) -> str:
    try:
        e = orjson.loads(ident)
    except orjson.JSONDecodeError:
        return _go_quote(ident)
    if not isinstance(e, dict):
        return _go_quote(ident)
    s = _go_quote(str(e.get("manager", "")))
    if e.get("subresource"):
        s += f" with subresource {_go_quote(str(e['subresource']))}"
    if e.get("operation") == "Update":
        s += f" using {e.get('apiVersion', '')}"
    return s


def _conflict_error(conflicts: dict[str, FieldSet]) -> StatusError:
    """NewConflictError: 409 Conflict, one FieldManagerConflict cause per field."""
    items = [(m, p) for m in sorted(conflicts) for p in _iterate(conflicts[m])]
    causes = [
        Cause("FieldManagerConflict", f"conflict with {_print_manager(m)}", path_string(p)) for m, p in items
    ]
    if len(items) == 1:
        m, p = items[0]
        msg = f"Apply failed with 1 conflict: conflict with {_print_manager(m)}: {path_string(p)}"
    else:
        lines: list[str] = []
        for m in sorted(conflicts):
            lines.append(f"conflicts with {_print_manager(m)}:")
            lines.extend(f"- {path_string(p)}" for p in _iterate(conflicts[m]))
        msg = f"Apply failed with {len(items)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", msg, None, causes)


# stripMetaManager: never owned by anybody.
_STRIP: frozenset[Path] = frozenset(
    [(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)]
    + [
        (("f", "metadata"), ("f", k))
        for k in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ]
)


# ---------------------------------------------------------------------------- merge.Updater
class _Ctx:
    """What one request's field manager needs: schema, version, reset fields, clock."""

    __slots__ = ("api_version", "ignored", "kind", "node", "now", "subresource")

    def __init__(
        self,
        node: TypeNode,
        api_version: str,
        ignored: FieldSet | None,
        now: str,
        subresource: str,
        kind: str = "",
    ) -> None:
        self.node = node
        self.api_version = api_version
        self.ignored = ignored
        self.now = now
        self.subresource = subresource
        self.kind = kind


def _version_converter(kind: str, from_version: str, to_version: str) -> Any:
    """The conversion of a built-in kind's object between two served versions, or None. Only the
    kinds stored as one object for two groups (events.k8s.io/v1 and core/v1 Events) have one."""
    from vcluster.apiserver.conversion import core_to_events_v1, events_v1_to_core

    if kind != "Event":
        return None
    if (from_version, to_version) == ("events.k8s.io/v1", "v1"):
        return events_v1_to_core
    if (from_version, to_version) == ("v1", "events.k8s.io/v1"):
        return core_to_events_v1
    return None


def _changes_in_version(
    ctx: _Ctx, api_version: str, old: Any, new: Any, nim: bool
) -> tuple[FieldSet, FieldSet] | None:
    """(added | modified, removed) of a write seen in another version of the kind, as merge.Updater
    compares the objects converted to each other manager's version; None when not convertible."""
    convert = _version_converter(ctx.kind, ctx.api_version, api_version)
    if convert is None:
        return None
    group, _, version = api_version.rpartition("/")
    try:
        node = type_for(group, version, ctx.kind)
        c_old = convert(copy.deepcopy(old)) if isinstance(old, dict) and old else {}
        added, modified, removed = _compare(c_old, convert(copy.deepcopy(new)), node, nim)
    except Exception:  # an object the conversion cannot take: compare in the request's version
        return None
    if ctx.ignored:
        added, modified, removed = (_rdiff(x, ctx.ignored) for x in (added, modified, removed))
    return modified | added, removed


def _smd_update_managers(
    ctx: _Ctx, old: Any, new: Any, fields: Managers, workflow: str, force: bool, nim: bool
) -> tuple[Managers, FieldSet, FieldSet, FieldSet]:
    """Updater.update: conflicts with other managers, then ownership transfer and removals."""
    added, modified, removed = _compare_ignoring(old, new, ctx.node, nim, ctx.ignored)
    changed = modified | added
    # per version: what changed and what was removed, in that version's field paths
    versions: dict[str, tuple[FieldSet, FieldSet]] = {ctx.api_version: (changed, removed)}
    conflicts: dict[str, FieldSet] = {}
    for m, vs in fields.items():
        if m == workflow:
            continue
        if vs.api_version not in versions:
            other = _changes_in_version(ctx, vs.api_version, old, new, nim)
            versions[vs.api_version] = other if other is not None else (changed, removed)
        c = vs.fields & versions[vs.api_version][0]
        if c:
            conflicts[m] = c
    if conflicts and not force:
        raise _Conflicts(conflicts)
    out: Managers = {}
    for m, vs in fields.items():
        s = vs.fields
        if m != workflow:
            if m in conflicts:
                s = s - conflicts[m]
            gone = versions[vs.api_version][1]
            if gone and not s.isdisjoint(gone):
                s = s - gone
        if s:
            out[m] = vs if s is vs.fields else _VSet(s, vs.api_version, vs.applied)
    return out, added, modified, removed


def _smd_update(ctx: _Ctx, live: Any, new: Any, fields: Managers, manager: str) -> Managers:
    """Updater.Update: the manager takes what changed, everybody else loses it."""
    fields, added, modified, removed = _smd_update_managers(ctx, live, new, fields, manager, True, True)
    prev = fields.get(manager)
    s = (prev.fields if prev else set()) | modified | added
    if removed:
        s -= removed
    if ctx.ignored and prev:  # modified and added are without the ignored fields already
        s = _rdiff(s, ctx.ignored)
    if s:
        fields[manager] = _VSet(s, ctx.api_version, False)
    else:
        fields.pop(manager, None)
    return fields


def _smd_apply(
    ctx: _Ctx, live: Any, config: dict[str, Any], fields: Managers, manager: str, force: bool
) -> tuple[Any, Managers]:
    """Updater.Apply: merge, own the config's fields, prune what this manager dropped, check
    conflicts. Returns (None, managers) when the object does not change."""
    node = ctx.node
    new = _merge(live, config, node)
    last = fields.get(manager)
    s = fields_of(config, node)
    if ctx.ignored:
        s = _rdiff(s, ctx.ignored)
    fields = dict(fields)
    fields[manager] = _VSet(s, ctx.api_version, True)
    new = _prune(ctx, new, fields, last)
    fields, _, _, _ = _smd_update_managers(ctx, live, new, fields, manager, force, False)
    if _eq(live, new):
        return None, fields
    return new, fields


def _prune(ctx: _Ctx, merged: Any, fields: Managers, last: _VSet | None) -> Any:
    """Remove what the applier owned last time and omits now, unless somebody else owns it."""
    if last is None or not last.fields:
        return merged
    node = ctx.node
    last_en = _ensure_named(last.fields, node)
    pruned = _remove(merged, node, _trie(last_en)) or {}
    managed: FieldSet = set()
    for vs in fields.values():
        managed |= vs.fields
    merged_en = _fields_named(merged, node)
    pruned_en = _fields_named(pruned, node)
    pruned = _remove(merged, node, _trie(merged_en - (pruned_en | _ensure_named(managed, node)))) or {}
    pruned_en = _fields_named(pruned, node)
    return _remove(merged, node, _trie((merged_en - pruned_en) & last_en)) or {}


# ---------------------------------------------------------------------------- the manager chain
def _update_chain(
    ctx: _Ctx, live: Any, new: Any, fields: Managers, times: Times, manager: str
) -> tuple[Managers, Times]:
    """capManagers(buildManagerInfo(managedFieldsUpdater(stripMeta(structuredMerge)))).Update."""
    ident = _identifier(manager or "unknown", "Update", ctx.api_version, ctx.subresource)
    fields = _smd_update(ctx, live, new, dict(fields), _CURRENT_OPERATION)
    vs = fields.pop(_CURRENT_OPERATION, None)
    if vs is not None:
        s = vs.fields - _STRIP
        if s:
            prev = fields.get(ident)
            fields[ident] = _VSet(s | prev.fields if prev else s, ctx.api_version, False)
            times = dict(times)
            times[ident] = ctx.now
    return _cap_managers(fields, times)


def _cap_managers(fields: Managers, times: Times) -> tuple[Managers, Times]:
    """Merge the oldest update managers into `ancient-changes` buckets (max 10 updaters)."""
    updaters = [m for m, vs in fields.items() if not vs.applied]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return fields, times
    updaters.sort(key=lambda m: (_seconds(times.get(m)), m))
    fields, times = dict(fields), dict(times)
    first_of_version: dict[str, str] = {}
    length = len(updaters)
    for m in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        vs = fields[m]
        version = vs.api_version
        bucket = _identifier(_ANCIENT_CHANGES, "Update", version, "")
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = m
            continue
        if bucket not in fields:
            fields[bucket] = fields.pop(first)
        fields[bucket] = _VSet(vs.fields | fields[bucket].fields, vs.api_version, vs.applied)
        del fields[m]
        length -= 1
        times[bucket] = times.get(m)
    return fields, times


def _apply_chain(
    ctx: _Ctx,
    live: dict[str, Any],
    config: dict[str, Any],
    fields: Managers,
    times: Times,
    manager: str,
    force: bool,
) -> tuple[dict[str, Any], Managers, Times]:
    """skipNonApplied(capManagers(buildManagerInfo(managedFieldsUpdater(stripMeta(SMD))))).Apply."""
    if not fields:
        # Start tracking an untracked object: its current fields belong to `before-first-apply`.
        fields, times = _update_chain(ctx, {}, live, fields, times, _BEFORE_FIRST_APPLY)
    ident = _identifier(manager, "Apply", ctx.api_version, ctx.subresource)
    new, fields = _smd_apply(ctx, live, config, fields, ident, force)
    vs = fields.get(ident)
    if vs is not None:
        s = vs.fields - _STRIP
        if s:
            fields[ident] = _VSet(s, vs.api_version, vs.applied)
        else:
            del fields[ident]
    times = dict(times)
    if new is not None:
        times[ident] = ctx.now
    else:
        new = live  # apply() copies the result (_strip_nulls)
    return new, fields, times


def _allowed_from_last_applied(ctx: _Ctx, live: dict[str, Any]) -> FieldSet | None:
    """lastAppliedManager: fields a client-side apply owned (last-applied matches the live value)."""
    md = live.get("metadata")
    ann = md.get("annotations") if isinstance(md, dict) else None
    text = ann.get(LAST_APPLIED_ANNOTATION) if isinstance(ann, dict) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != ctx.api_version:
        return None
    errs: list[str] = []
    _validate(last, ctx.node, "", errs)
    if errs:
        return None
    s = fields_of(last, ctx.node)
    added, modified, removed = _compare(last, live, ctx.node, True)
    return s - modified - added - removed


def _build_last_applied(applied: dict[str, Any]) -> str:
    obj = orjson.loads(orjson.dumps(applied))
    md = obj.get("metadata")
    if isinstance(md, dict):
        ann = md.get("annotations")
        if isinstance(ann, dict):
            ann.pop(LAST_APPLIED_ANNOTATION, None)
        elif "annotations" in md:
            del md["annotations"]
    return _dumps(obj, sort_keys=True) + "\n"


def _gvk_string(api_version: Any, kind: Any) -> str:
    av = api_version if isinstance(api_version, str) else ""
    k = kind if isinstance(kind, str) else ""
    parts = av.split("/")
    if av == "":
        g, v = "", ""
    elif len(parts) == 1:
        g, v = "", av
    elif len(parts) == 2:
        g, v = parts
    else:
        g, v, k = "", "", ""
    return f"{g}/{v}, Kind={k}"


def _strip_nulls(v: Any) -> Any:
    """Round trip through the Go type: null fields vanish (a zero creationTimestamp stays null)."""
    if type(v) is dict:
        return {k: _strip_nulls(x) for k, x in v.items() if x is not None or k == "creationTimestamp"}
    if type(v) is list:
        return [_strip_nulls(x) for x in v]
    return v


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    md = obj.get("metadata")
    if isinstance(md, dict) and "managedFields" in md:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in md.items() if k != "managedFields"}
    return obj


def _api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def _internal_error(message: str) -> StatusError:
    # kube-apiserver answers plain Go errors with code 500 and no reason.
    return StatusError(500, "", message)


# ============================================================================ public API
def apply(
    live: dict[str, Any] | None,
    applied: Any,
    manager: str,
    force: bool,
    *,
    group: str,
    version: str,
    kind: str,
    now: str,
    subresource: str = "",
    schema: TypeNode | None = None,
    ignored: FieldSet | None = None,
) -> dict[str, Any]:
    """Server-side apply of `applied` (the decoded apply-patch body) to `live` (None: the object
    does not exist, apply creates it). Returns the new object with `metadata.managedFields`;
    `live` and `applied` are not modified. When nothing but managedFields changes the result is
    `live` with updated managedFields.

    `now` is the RFC 3339 time of the request; `schema` defaults to `type_for(group, version,
    kind)` (pass `type_from_openapi(...)` for custom resources); `ignored` are the strategy's
    reset fields (see `reset_fields`). The result still needs the strategy (defaults, system
    metadata, status reset) like any patched object; nulls in the merge are already dropped.

    Raises StatusError: 409 Conflict (FieldManagerConflict causes), 400 for a wrong
    apiVersion/kind or managedFields in the body, 500 (no reason) for a body that does not fit the
    schema or undecodable live managedFields, as kube-apiserver 1.32 does.
    """
    node = schema if schema is not None else type_for(group, version, kind)
    api_version = _api_version(group, version)
    if not isinstance(applied, dict):
        t = "array" if isinstance(applied, list) else "string" if isinstance(applied, str) else "number"
        raise StatusError(
            400,
            "BadRequest",
            f"error decoding YAML: json: cannot unmarshal {t} into Go value of type "
            "map[string]interface {}",
        )
    live_obj: dict[str, Any] = _without_managed_fields(live) if isinstance(live, dict) else {}
    live_md = live.get("metadata") if isinstance(live, dict) else None
    try:
        fields, times = _decode(live_md.get("managedFields") if isinstance(live_md, dict) else None)
    except _DecodeError as e:
        raise _internal_error(f"failed to decode managed fields: {e}") from None
    av, kd = applied.get("apiVersion"), applied.get("kind")
    if av != api_version or kd != kind:
        raise StatusError(400, "BadRequest", f"invalid object type: {_gvk_string(av, kd)}")
    amd = applied.get("metadata")
    if isinstance(amd, dict) and amd.get("managedFields") is not None:
        raise StatusError(400, "BadRequest", "metadata.managedFields must be nil")
    try:
        validate_typed(applied, node)
    except SchemaError as e:
        name = amd.get("name") if isinstance(amd, dict) else ""
        ns = amd.get("namespace") if isinstance(amd, dict) else ""
        raise _internal_error(
            f"failed to create typed patch object ({ns if isinstance(ns, str) else ''}/"
            f"{name if isinstance(name, str) else ''}; {_gvk_string(av, kd)}): {e}"
        ) from None
    ctx = _Ctx(node, api_version, ignored, now, subresource, kind)
    try:
        try:
            new, fields, times = _apply_chain(ctx, live_obj, applied, fields, times, manager, force)
        except _Conflicts as c:
            if manager != "kubectl":
                raise _conflict_error(c.conflicts) from None
            allowed = _allowed_from_last_applied(ctx, live_obj)
            if allowed is None:
                raise _conflict_error(c.conflicts) from None
            remaining = {m: s - allowed for m, s in c.conflicts.items()}
            remaining = {m: s for m, s in remaining.items() if s}
            if remaining:
                raise _conflict_error(remaining) from None
            new, fields, times = _apply_chain(ctx, live_obj, applied, fields, times, manager, True)
    except RecursionError:
        raise _internal_error("failed to merge config: object nested too deeply") from None
    new = _strip_nulls(new)
    if manager == "kubectl":
        md = new.get("metadata")
        ann = md.get("annotations") if isinstance(md, dict) else None
        if isinstance(ann, dict) and ann.get(LAST_APPLIED_ANNOTATION):
            ann[LAST_APPLIED_ANNOTATION] = _build_last_applied(applied)
    _set_managed(new, fields, times)
    return new


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    *,
    group: str,
    version: str,
    kind: str,
    now: str,
    subresource: str = "",
    schema: TypeNode | None = None,
    ignored: FieldSet | None = None,
) -> None:
    """Record a create (`old` None), update or non-apply patch in `new["metadata"]["managedFields"]`
    (FieldManager.UpdateNoErrors): the fields that changed are owned by `manager` with operation
    Update (and `subresource`), and removed from every other manager; empty entries vanish.

    managedFields sent in `new` are honoured when valid (so clients can rewrite them, e.g. kubectl's
    client-side-apply to server-side-apply migration), `[]` / `[{}]` resets them, anything invalid
    falls back to `old`'s; a subresource write always keeps `old`'s. An existing object without
    managedFields stays untracked until it is applied to. Never raises: on an internal error
    managedFields are dropped, as upstream does.
    """
    md = new.get("metadata")
    if not isinstance(md, dict):
        return
    # the stored object's fieldsV1 documents (canonical: we wrote them), for the unchanged managers
    reuse: Reuse = {}
    try:
        old_md = old.get("metadata") if isinstance(old, dict) else None
        old_mf = old_md.get("managedFields") if isinstance(old_md, dict) else None
        fields: Managers
        times: Times
        if subresource:
            fields, times = _decode_or_empty(old_mf, reuse)
        elif _is_reset(md.get("managedFields")):
            fields, times = {}, {}
        elif old_mf and md.get("managedFields") == old_mf:  # a patch or an update echoing them
            fields, times = _decode_or_empty(old_mf, reuse)
        else:
            try:
                fields, times = _decode(md.get("managedFields"))
            except _DecodeError:
                fields, times = {}, {}
            if not fields:
                fields, times = _decode_or_empty(old_mf, reuse)
        md.pop("managedFields", None)
        old_uid = old_md.get("uid") if isinstance(old_md, dict) else None
        if not fields and old is not None and old_uid:
            return  # skipNonApplied: an untracked existing object stays untracked
        node = schema if schema is not None else type_for(group, version, kind)
        ctx = _Ctx(node, _api_version(group, version), ignored, now, subresource, kind)
        live = _without_managed_fields(old) if isinstance(old, dict) else {}
        fields, times = _update_chain(ctx, live, new, fields, times, manager)
        _set_managed(new, fields, times, reuse)
    except Exception:  # UpdateNoErrors: never fail the write because of managedFields
        md.pop("managedFields", None)


def _decode_or_empty(mf: Any, reuse: Reuse | None = None) -> tuple[Managers, Times]:
    try:
        return _decode(mf, reuse)
    except _DecodeError:
        return {}, {}


def ignore_managed_fields_timestamps(old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    """IgnoreManagedFieldsTimestampsTransformer: when `new` equals `old` except for managedFields
    times, restore `old`'s managedFields so that the update is a no-op (no resourceVersion bump).
    Call it last, just before comparing the objects to decide whether to write."""
    if not isinstance(old, dict):
        return
    omd, nmd = old.get("metadata"), new.get("metadata")
    if not isinstance(omd, dict) or not isinstance(nmd, dict):
        return
    omf, nmf = omd.get("managedFields"), nmd.get("managedFields")
    if not isinstance(omf, list) or not isinstance(nmf, list) or len(omf) != len(nmf) or omf == nmf:
        return
    for a, b in zip(omf, nmf, strict=True):
        if not isinstance(a, dict) or not isinstance(b, dict):
            return
        if {k: v for k, v in a.items() if k != "time"} != {k: v for k, v in b.items() if k != "time"}:
            return
    if len(old) != len(new) or len(omd) != len(nmd):
        return
    for k, v in old.items():
        if k != "metadata" and not _eq(v, new.get(k, MISSING)):
            return
    for k, v in omd.items():
        if k != "managedFields" and not _eq(v, nmd.get(k, MISSING)):
            return
    nmd["managedFields"] = omf


def reset_fields(has_status: bool, subresource: str = "") -> FieldSet:
    """The fields a registry strategy resets (GetResetFields) in the common case: the main endpoint
    of a kind with a status subresource ignores `status`, the status endpoint ignores `spec`;
    pods/ephemeralcontainers keeps the pod strategy's. Ignored fields are never owned and never
    conflict."""
    if subresource == "status":
        return {(("f", "spec"),)}
    if has_status and subresource in ("", "ephemeralcontainers"):
        return {(("f", "status"),)}
    return set()


def validate_patch_options(is_apply: bool, field_manager: str | None, force_given: bool) -> None:
    """ValidatePatchOptions: 422 `PatchOptions.meta.k8s.io "" is invalid: ...` for an apply without
    fieldManager, `force` on another patch type, or a fieldManager that is too long / unprintable."""
    causes: list[Cause] = []
    fm = field_manager or ""
    if not is_apply:
        if force_given:
            causes.append(field_forbidden("force", "may not be specified for non-apply patch"))
    elif fm == "":
        causes.append(field_required("fieldManager", "is required for apply patch"))
    causes.extend(validate_field_manager(fm))
    if causes:
        raise invalid("PatchOptions", "meta.k8s.io", "", causes)


def validate_field_manager(field_manager: str) -> list[Cause]:
    """ValidateFieldManager (also used for create/update options)."""
    causes: list[Cause] = []
    if len(field_manager) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(field_too_long("fieldManager", field_manager, FIELD_MANAGER_MAX_LENGTH))
    pos = 0
    for ch in field_manager:
        if not ch.isprintable():
            causes.append(
                field_invalid(
                    "fieldManager", field_manager, f"invalid character U+{ord(ch):04X} (at position {pos})"
                )
            )
        pos += len(ch.encode("utf-8", "surrogatepass"))
    return causes


@lru_cache(maxsize=256)
def manager_from_user_agent(user_agent: str) -> str:
    """prefixFromUserAgent: the manager name of a write without fieldManager (`kubectl/v1.32.4
    (linux/amd64) ...` -> `kubectl`), printable characters only, at most 128 bytes."""
    head = user_agent.split("/", 1)[0]
    out: list[str] = []
    size = 0
    for ch in head:
        if not ch.isprintable():
            continue
        n = len(ch.encode("utf-8", "surrogatepass"))
        if size + n > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


# ============================================================================ the scale subresource
SCALE_API_VERSION = "autoscaling/v1"
SCALE_REPLICAS: Path = (("f", "spec"), ("f", "replicas"))


def _decoded_or_500(entries: Any) -> tuple[Managers, Times]:
    try:
        return _decode(entries)
    except _DecodeError as e:
        raise _internal_error(f"failed to decode managed fields: {e}") from None


def scale_to_subresource(parent_entries: Any, mappings: dict[str, Path]) -> list[dict[str, Any]]:
    """ScaleHandler.ToSubresource: the managedFields of the Scale view of an object. A manager of
    the parent's replicas path (`mappings`: apiVersion -> that path) owns `.spec.replicas` of the
    autoscaling/v1 Scale; every other manager, and entries of unknown versions, are left out."""
    fields, times = _decoded_or_500(parent_entries)
    out: Managers = {}
    out_times: Times = {}
    for ident, vs in fields.items():
        path = mappings.get(vs.api_version)
        if path is not None and path in vs.fields:
            out[ident] = _VSet({SCALE_REPLICAS}, SCALE_API_VERSION, vs.applied)
            out_times[ident] = times.get(ident)
    return _encode(out, out_times)


def scale_to_parent(
    parent_entries: Any, scale_entries: Any, mappings: dict[str, Path], api_version: str
) -> list[dict[str, Any]]:
    """ScaleHandler.ToParent: the parent's managedFields after a write through its scale
    subresource. Parent managers keep their other fields; the replicas path goes to the managers
    that own `.spec.replicas` in the written Scale, recorded at the parent's `api_version`."""
    parent, parent_times = _decoded_or_500(parent_entries)
    scale = dict(_decoded_or_500(scale_entries)[0])
    out: Managers = {}
    out_times: Times = {}
    for ident, vs in parent.items():
        if vs.api_version not in mappings:
            continue  # dropped, as upstream drops entries of versions it cannot map
        path = mappings[vs.api_version]
        if path not in vs.fields:
            out[ident] = vs
            out_times[ident] = parent_times.get(ident)
        elif ident not in scale:  # the replicas path is stolen from this manager
            rest = vs.fields - {path}
            if rest:
                out[ident] = _VSet(rest, vs.api_version, vs.applied)
                out_times[ident] = parent_times.get(ident)
        else:  # not stolen: the entry stays as it is
            out[ident] = vs
            out_times[ident] = parent_times.get(ident)
            scale.pop(ident)
    target = mappings[api_version]
    for ident, vs in scale.items():
        if SCALE_REPLICAS not in vs.fields:
            continue
        out[ident] = _VSet({target}, api_version, vs.applied)
        out_times[ident] = parent_times.get(ident)  # upstream's: a manager new to the parent has none
    return _encode(out, out_times)
