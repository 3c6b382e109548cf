"""Kubernetes 1.32 schemas from the `kubernetes-validate` package, and the decode-time type check.

kube-apiserver decodes request bodies into typed Go structs, so a JSON value of the wrong type
(`"replicas": "x"`) is a 400 before anything else runs. `type_error` reproduces that check and
Go's error text from the official OpenAPI definitions (never hand-written schemas).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

SCHEMA_VERSION = "v1.32.0-local"
_REF = "#/$defs/"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_TIME = ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")
_ANY = (
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
)
QUANTITY_MESSAGE = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class DecodeError(Exception):
    """The body cannot be decoded into the kind's Go type; the text is what Go reports."""


def _definitions_path() -> Path:
    import kubernetes_validate

    return (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / SCHEMA_VERSION
        / "_definitions.json"
    )


@functools.cache
def definitions() -> dict[str, Any]:
    """The 1.32 OpenAPI definitions, by name (io.k8s.api.core.v1.Pod, ...)."""
    return orjson.loads(_definitions_path().read_bytes())["$defs"]


@functools.cache
def gvk_index() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, d in definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind") or ():
            out.setdefault((gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")), name)
    return out


def definition_for(group: str, version: str, kind: str) -> str | None:
    return gvk_index().get((group, version, kind))


# ---------------------------------------------------------------------------- Go type names
def _go_name(defname: str) -> str:
    """`io.k8s.api.core.v1.PodSpec` -> `v1.PodSpec` (package alias and type, as Go prints it)."""
    parts = defname.split(".")
    return f"{parts[-2]}.{parts[-1]}"


def _short(defname: str) -> str:
    return defname.rsplit(".", 1)[-1]


def json_types(schema: dict[str, Any]) -> tuple[str, ...]:
    """The non-null JSON types a schema node allows."""
    t = schema.get("type")
    if isinstance(t, str):
        return (t,)
    if isinstance(t, list):
        return tuple(x for x in t if x != "null")
    return ()


def _go_type(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        name = ref[len(_REF) :]
        if name == _INT_OR_STRING:
            return "intstr.IntOrString"
        if name == _QUANTITY:
            return "resource.Quantity"
        return _go_name(name)
    types = json_types(schema)
    t = types[0] if types else ""
    fmt = schema.get("format", "")
    if t == "string":
        return "[]uint8" if fmt == "byte" else "string"
    if t == "integer":
        return fmt if fmt in ("int32", "int64") else "int"
    if t == "number":
        return "float64"
    if t == "boolean":
        return "bool"
    if t == "array":
        return "[]" + _go_type(schema.get("items") or {})
    if t == "object":
        ap = schema.get("additionalProperties")
        if isinstance(ap, dict):
            return "map[string]" + _go_type(ap)
        return "map[string]interface {}"
    return "interface {}"


def json_kind(v: Any) -> str:
    """The `Value` of Go's UnmarshalTypeError for a decoded JSON value ("cannot unmarshal X into ...")."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def _num_literal(v: Any) -> str:
    return orjson.dumps(v).decode()


# ---------------------------------------------------------------------------- the check
def type_error(
    obj: dict[str, Any], group: str, version: str, kind: str, old: dict[str, Any] | None = None
) -> str | None:
    """Go's decode error for the first wrongly typed field, or None when the body decodes.

    `old` is the stored object an update replaces: fields whose JSON is byte-identical to old's
    (at the top two levels, where a status write or a binding leaves most of a pod alone) were
    checked when old was written and are skipped."""
    defname = definition_for(group, version, kind)
    if defname is None:
        return None
    try:
        if _fast_struct(obj, defname, old, 2):
            return None  # nearly every body: no error to describe, no paths built
    except RecursionError:
        pass  # very deep input: the walk below finds the same answer (or the same RecursionError)
    try:
        _check_struct(obj, defname, "", old, 2)
    except DecodeError as e:
        return str(e)
    return None


# ---------------------------------------------------------------------------- the fast check
# `_fast_struct` answers whether `_check_struct` would pass, from predicates compiled once per schema
# node: one call per value instead of re-reading the schema and building each field's path. Only a
# body that fails it is walked again by `_check_struct` for Go's error text.
_Pred = Callable[[Any], bool]


def _fast_struct(value: dict[str, Any], defname: str, old: dict[str, Any] | None, depth: int) -> bool:
    """`_check_struct(value, defname, "", old, depth)` raises nothing."""
    preds = _struct_preds(defname)
    props = definitions()[defname].get("properties") or {}
    for key, v in value.items():
        if v is None:
            continue
        pred = preds.get(key, _UNDECLARED)
        if pred is _UNDECLARED:
            continue
        ov = old.get(key) if old is not None else None
        if ov is not None:
            if _unchanged(v, ov):
                continue
            if depth > 1 and type(v) is dict and type(ov) is dict:
                name = _struct_ref(props[key])
                if name is not None:
                    if not _fast_struct(v, name, ov, depth - 1):
                        return False
                    continue
        if pred is not None and not pred(v):
            return False
    return True


_UNDECLARED: Any = object()  # the predicate of a key the struct does not declare


@functools.cache
def _struct_preds(defname: str) -> dict[str, _Pred | None]:
    """Per declared field of a struct definition, its value's predicate (None: anything goes)."""
    props = definitions()[defname].get("properties") or {}
    return {key: _pred(sch) for key, sch in props.items()}


def _struct_pred(defname: str) -> _Pred:
    """A JSON object whose fields decode into the struct `defname` (resolved on first use, so
    recursive definitions such as JSONSchemaProps compile)."""
    preds: dict[str, _Pred | None] | None = None

    def check(v: Any) -> bool:
        nonlocal preds
        if not isinstance(v, dict):
            return False
        if preds is None:
            preds = _struct_preds(defname)
        for key, x in v.items():
            if x is not None:
                p = preds.get(key)
                if p is not None and not p(x):
                    return False
        return True

    return check


def _pred(sch: dict[str, Any]) -> _Pred | None:
    """The predicate `_check(v, sch, ...)` raising nothing compiles to (None: always true)."""
    ref = sch.get("$ref")
    if ref:
        name = ref[len(_REF) :]
        if name == _INT_OR_STRING:
            return _int_or_string_ok
        if name == _QUANTITY:
            return _quantity_ok
        if name in _TIME:
            return _time_ok
        if name in _ANY:
            return None
        target = definitions().get(name)
        if target is None:
            return None
        if "properties" in target or json_types(target) == ("object",):
            return _struct_pred(name)
        return _pred(target)
    types = json_types(sch)
    if not types:
        return None
    t = types[0]
    if t == "string":
        return _base64_ok if sch.get("format") == "byte" else _is_str
    if t == "integer":
        lo, hi = _INT_RANGES.get(sch.get("format", ""), _INT_RANGES["int64"])
        return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    if t == "number":
        return _number_ok
    if t == "boolean":
        return _is_bool
    if t == "array":
        items = sch.get("items")
        item = _pred(items) if isinstance(items, dict) else None
        if item is None:
            return _is_list

        def check_list(v: Any) -> bool:
            if not isinstance(v, list):
                return False
            for x in v:  # noqa: SIM110 (a plain loop: all() of a generator costs more per item)
                if x is not None and not item(x):
                    return False
            return True

        return check_list
    if t == "object":
        ap = sch.get("additionalProperties")
        value = _pred(ap) if isinstance(ap, dict) else None
        if value is None:
            return _is_dict

        def check_map(v: Any) -> bool:
            if not isinstance(v, dict):
                return False
            for x in v.values():  # noqa: SIM110 (as above)
                if x is not None and not value(x):
                    return False
            return True

        return check_map
    return None


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_list(v: Any) -> bool:
    return isinstance(v, list)


def _is_dict(v: Any) -> bool:
    return isinstance(v, dict)


def _number_ok(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int_or_string_ok(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31)


def _quantity_ok(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        return False
    text = v if isinstance(v, str) else _num_literal(v)
    return _QUANTITY_RE.match(text.strip()) is not None


def _time_ok(v: Any) -> bool:
    return isinstance(v, str) and (not v or _RFC3339_RE.match(v) is not None)


def _base64_ok(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        _check_base64(v)
    except DecodeError:
        return False
    return True


def _unchanged(v: Any, ov: Any) -> bool:
    """The same JSON (strictly: 1, 1.0 and true differ), compared in C."""
    if v is ov:
        return True
    if type(v) is not type(ov):
        return False
    if type(v) is dict or type(v) is list:
        try:
            return orjson.dumps(v) == orjson.dumps(ov)
        except (TypeError, orjson.JSONEncodeError):
            return False
    return bool(v == ov)


def _check_struct(
    value: dict[str, Any], defname: str, path: str, old: dict[str, Any] | None = None, depth: int = 0
) -> None:
    d = definitions()[defname]
    props = d.get("properties") or {}
    struct = _short(defname)
    for key, v in value.items():
        sch = props.get(key)
        if sch is None or v is None:
            continue  # unknown fields are fieldValidation's business; null is a zero value
        ov = old.get(key) if old is not None else None
        if ov is not None:
            if _unchanged(v, ov):
                continue
            if depth > 1 and type(v) is dict and type(ov) is dict:
                name = _struct_ref(sch)
                if name is not None:
                    _check_struct(v, name, f"{path}.{key}" if path else key, ov, depth - 1)
                    continue
        _check(v, sch, f"{path}.{key}" if path else key, struct)


def _struct_ref(sch: dict[str, Any]) -> str | None:
    """The definition a `$ref` field decodes into when it is a struct with properties."""
    ref = sch.get("$ref")
    if not ref:
        return None
    target = definitions().get(ref[len(_REF) :])
    return ref[len(_REF) :] if target is not None and "properties" in target else None


def _mismatch(v: Any, sch: dict[str, Any], path: str, struct: str) -> DecodeError:
    what = json_kind(v)
    if what == "number" and isinstance(v, float) and not v.is_integer():
        what = f"number {_num_literal(v)}"
    return DecodeError(
        f"json: cannot unmarshal {what} into Go struct field {struct}.{path} of type {_go_type(sch)}"
    )


def _check(v: Any, sch: dict[str, Any], path: str, struct: str) -> None:
    ref = sch.get("$ref")
    if ref:
        name = ref[len(_REF) :]
        if name == _INT_OR_STRING:
            if isinstance(v, str) or (
                isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31
            ):
                return
            raise DecodeError(f"json: cannot unmarshal {json_kind(v)} into Go value of type int32")
        if name == _QUANTITY:
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise DecodeError(QUANTITY_MESSAGE)
            text = v if isinstance(v, str) else _num_literal(v)
            if not _QUANTITY_RE.match(text.strip()):
                raise DecodeError(QUANTITY_MESSAGE)
            return
        if name in _TIME:
            if not isinstance(v, str):
                raise DecodeError(f"json: cannot unmarshal {json_kind(v)} into Go value of type string")
            if v and not _RFC3339_RE.match(v):
                raise DecodeError(
                    f'parsing time "{v}" as "2006-01-02T15:04:05Z07:00": cannot parse "{v}" as "2006"'
                )
            return
        if name in _ANY:
            return
        target = definitions().get(name)
        if target is None:
            return
        if "properties" in target or json_types(target) == ("object",):
            if not isinstance(v, dict):
                raise _mismatch(v, sch, path, struct)
            _check_struct(v, name, path)
            return
        _check(v, target, path, struct)
        return
    types = json_types(sch)
    if not types:
        return
    t = types[0]
    if t == "string":
        if not isinstance(v, str):
            raise _mismatch(v, sch, path, struct)
        if sch.get("format") == "byte":
            _check_base64(v)
    elif t == "integer":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _mismatch(v, sch, path, struct)
        lo, hi = _INT_RANGES.get(sch.get("format", ""), _INT_RANGES["int64"])
        if isinstance(v, float) or not lo <= v <= hi:
            raise DecodeError(
                f"json: cannot unmarshal number {_num_literal(v)} into Go struct field "
                f"{struct}.{path} of type {_go_type(sch)}"
            )
    elif t == "number":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _mismatch(v, sch, path, struct)
    elif t == "boolean":
        if not isinstance(v, bool):
            raise _mismatch(v, sch, path, struct)
    elif t == "array":
        if not isinstance(v, list):
            raise _mismatch(v, sch, path, struct)
        items = sch.get("items")
        if isinstance(items, dict):
            for item in v:
                if item is not None:
                    _check(item, items, path, struct)
    elif t == "object":
        if not isinstance(v, dict):
            raise _mismatch(v, sch, path, struct)
        ap = sch.get("additionalProperties")
        if isinstance(ap, dict):
            for item in v.values():
                if item is not None:
                    _check(item, ap, path, struct)


def _check_base64(s: str) -> None:
    try:
        base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        pos = next((i for i, ch in enumerate(s) if not (ch.isalnum() or ch in "+/=")), max(len(s) - 1, 0))
        raise DecodeError(f"illegal base64 data at input byte {pos}") from None


def container_walker(
    sch: Any, walker: Callable[[Any], Callable[[Any], None] | None]
) -> Callable[[Any], None] | None:
    """For an array or map schema: a function applying `walker(items)` / `walker(values)` to each
    element of a JSON list / object; None for another schema or when the elements need nothing."""
    types = json_types(sch)
    if "array" in types:
        inner = walker(sch.get("items"))
        if inner is None:
            return None

        def walk_list(v: Any) -> None:
            if type(v) is list:
                for item in v:
                    inner(item)

        return walk_list
    ap = sch.get("additionalProperties")
    if "object" in types and isinstance(ap, dict):
        inner_v = walker(ap)
        if inner_v is None:
            return None

        def walk_map(v: Any) -> None:
            if type(v) is dict:
                for item in v.values():
                    inner_v(item)

        return walk_map
    return None
