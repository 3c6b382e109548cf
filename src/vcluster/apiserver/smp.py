"""Strategic merge patch for built-in kinds, as kube-apiserver 1.32 applies it.

A port of the server half of k8s.io/apimachinery/pkg/util/strategicpatch (`StrategicMergeMapPatch`
with `MergeParallelList` and `IgnoreUnmatchedNulls`, i.e. `mergeMap`, `mergePatchIntoOriginal`,
`mergeSlice`, `normalizeElementOrder`, ...). The patch metadata comes from the official 1.32
OpenAPI definitions (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) instead of Go
struct tags; both are generated from the same markers.

Directives: map merge with `null` delete; `$patch: replace|delete` in maps; `$patch:
delete|replace` list elements; `$retainKeys`; keyed lists merged by merge key; primitive lists with
strategy `merge` (union, `$deleteFromPrimitiveList/<field>`); atomic lists; `$setElementOrder/<field>`.
`$patch: merge` is rejected as upstream rejects it (500 `unknown patch type: merge in map: ...`
in a map, `merging lists cannot yet be specified in the patch` in a list).

Where Go's behaviour depends on details of Go itself, the port reproduces them: interface `==`
(an int is never equal to a float), the in-place slice shifting of `deleteMatchingEntries` that
later ordering decisions see, `sort.SliceStable` with upstream's inconsistent comparator, and the
`fmt` renderings in error messages.

Values that come from the patch are cleaned the way decoding into the Go type cleans them: in
struct contexts the directive keys (`$patch`, `$retainKeys`, `$setElementOrder/...`,
`$deleteFromPrimitiveList/...`) and `null` members are dropped, so no directive ever reaches the
result. Fields missing from the schema merge like plain maps and replace lists (upstream cannot
see them: they never survive decoding).

Errors are `StatusError`s mapped as `interpretStrategicMergePatchError` maps them: the mergepatch
format sentinels are 400 BadRequest, lists of lists 422 Invalid (generic message), every other
error 500 with no reason (kube-apiserver's `ErrorToAPIStatus` of a plain Go error), and Go panics
500 `This request caused apiserver to panic. Look in the logs for details.`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from vcluster.apiserver.errors import StatusError, unsupported_media_type
from vcluster.apiserver.patch import json_copy as _copy
from vcluster.apiserver.schema import definition_for, definitions, json_kind, json_types

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
MERGE = "merge"
RETAIN_KEYS_STRATEGY = "retainKeys"
RETAIN_KEYS = "$retainKeys"
DELETE_PREFIX = "$deleteFromPrimitiveList"
ORDER_PREFIX = "$setElementOrder"

ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
INVALID_MESSAGE = "the server rejected our request due to an error in our request"
PANIC_MESSAGE = "This request caused apiserver to panic. Look in the logs for details."
CUSTOM_RESOURCE_PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
]
"""What kube-apiserver accepts for custom resources (the 415 answer to SMP lists these)."""

_REF = "#/$defs/"
_SCALAR_DEFS = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
}
_ANY_DEFS = {
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
}


# ============================================================================ errors
class _SMPError(Exception):
    """An error of the Go code; `status` is how kube-apiserver answers it."""

    def __init__(self, message: str, code: int = 500, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason

    def status(self) -> StatusError:
        if self.code == 422:
            return StatusError(422, "Invalid", INVALID_MESSAGE, details={})
        return StatusError(self.code, self.reason, self.message)


def _bad(sentinel: str) -> _SMPError:
    return _SMPError(sentinel, 400, "BadRequest")


def _panic(what: str) -> _SMPError:
    """A Go runtime panic (`what` is Go's panic text, for logs; the client only sees the message)."""
    err = _SMPError(PANIC_MESSAGE, 500, "InternalError")
    err.add_note(what)
    return err


# ---------------------------------------------------------------------------- Go fmt renderings
def _go_float(f: float) -> str:
    """`strconv.FormatFloat(f, 'g', -1, 64)`, as `%v` prints a float64."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    x = len(ds) + int(exp) - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if x < 0:
        return f"{neg}0.{'0' * (-x - 1)}{ds}"
    if len(ds) <= x + 1:
        return neg + ds + "0" * (x + 1 - len(ds))
    return f"{neg}{ds[: x + 1]}.{ds[x + 1 :]}"


def _gofmt(v: Any) -> str:
    """Go `%v` of a JSON value held in `interface{}`."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_gofmt(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_gofmt(x) for x in v) + "]"
    return str(v)


def _gofmt_s(v: Any) -> str:
    """Go `%s` of a JSON value held in `interface{}` (non-strings are `%!s(type=value)`)."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_gofmt_s(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_gofmt_s(x) for x in v) + "]"
    if v is None:
        return "%!s(<nil>)"
    return f"%!s({_go_type_name(v)}={_gofmt(v)})"


def _go_type_name(v: Any) -> str:
    """`reflect.TypeOf(v).String()` (formatted with `%s`) of a decoded JSON value."""
    if v is None:
        return "%!s(<nil>)"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return type(v).__name__


_MAP_T = "map[string]interface {}"
_SLICE_T = "[]interface {}"


def _err_bad_arg_type(expected: str, actual: Any) -> _SMPError:
    return _SMPError(f"expected a {expected}, but received a {_go_type_name(actual)}")


def _err_no_merge_key(m: dict[str, Any], key: str) -> _SMPError:
    return _SMPError(f"map: {_gofmt(m)} does not contain declared merge key: {key}")


def _err_bad_patch_type(t: Any, m: dict[str, Any]) -> _SMPError:
    return _SMPError(f"unknown patch type: {_gofmt_s(t)} in map: {_gofmt(m)}")


# ---------------------------------------------------------------------------- Go value semantics
def _geq(a: Any, b: Any) -> bool:
    """Go `==` on two `interface{}` values."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is dict or ta is list:
        raise _panic(f"runtime error: comparing uncomparable type {_go_type_name(a)}")
    return bool(a == b)


def _hkey(v: Any) -> tuple[type, Any]:
    """A key for Go's `map[interface{}]...`: type-exact, panics on maps and slices."""
    if isinstance(v, (dict, list)):
        raise _panic(f"runtime error: hash of unhashable type {_go_type_name(v)}")
    return (type(v), v)


def _is(v: Any, s: str) -> bool:
    return type(v) is str and v == s


# ============================================================================ schema walking
class _Node:
    """Patch metadata of one schema position: `struct`, `map`, `list`, `scalar` or `any`."""

    __slots__ = ("_fields", "defname", "gokind", "item", "kind")

    def __init__(self, kind: str, gokind: str, defname: str = "", item: _Node | None = None) -> None:
        self.kind = kind
        self.gokind = gokind
        self.defname = defname
        self.item = item
        self._fields: dict[str, _Field] | None = None

    def fields(self) -> dict[str, _Field]:
        if self._fields is None:
            props = definitions().get(self.defname, {}).get("properties") or {}
            self._fields = {name: _compile_field(sch) for name, sch in props.items()}
        return self._fields


@dataclass(frozen=True, slots=True)
class _Field:
    strategies: tuple[str, ...]
    merge_key: str
    node: _Node | None


_ANY = _Node("any", "struct")


def _compile_field(sch: dict[str, Any]) -> _Field:
    strategy = sch.get("x-kubernetes-patch-strategy") or ""
    return _Field(tuple(strategy.split(",")), sch.get("x-kubernetes-patch-merge-key") or "", _node(sch))


def _node(sch: dict[str, Any]) -> _Node | None:
    ref = sch.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        return _def_node(ref[len(_REF) :])
    types = json_types(sch)
    t = types[0] if types else ""
    if t == "array":
        items = sch.get("items")
        return _Node("list", "slice", item=_node(items) if isinstance(items, dict) else None)
    if t == "object":
        ap = sch.get("additionalProperties")
        if isinstance(ap, dict):
            return _Node("map", "map", item=_node(ap))
        return _ANY
    if t == "string":
        return _Node("scalar", "string")
    if t == "integer":
        return _Node("scalar", sch.get("format") or "int64")
    if t == "number":
        return _Node("scalar", "float64")
    if t == "boolean":
        return _Node("scalar", "bool")
    return None


@functools.cache
def _def_node(name: str) -> _Node | None:
    if name in _SCALAR_DEFS:
        return _Node("scalar", "struct", name)
    if name in _ANY_DEFS:
        return _ANY
    d = definitions().get(name)
    if d is None:
        return None
    if "properties" in d:
        return _Node("struct", "struct", name)
    return _node(d)


@functools.cache
def _root(group: str, version: str, kind: str) -> _Node | None:
    name = definition_for(group, version, kind)
    return _def_node(name) if name else None


def smp_supported(group: str, version: str, kind: str) -> bool:
    """True when kube-apiserver would serve strategic merge patch for the kind (a built-in with a
    definition); custom resources get 415 instead."""
    return _root(group, version, kind) is not None


def _lookup(node: _Node | None, key: str) -> tuple[_Node | None, tuple[str, ...], str]:
    """`LookupPatchMetadataForStruct`: the field's node, patch strategies and merge key."""
    if node is None:
        return None, (), ""
    if node.kind == "struct":
        f = node.fields().get(key)
        if f is None:
            return None, (), ""
        return f.node, f.strategies, f.merge_key
    if node.kind == "map":
        return node.item, (), ""
    if node.kind == "any":
        return _ANY, (), ""
    return None, (), ""


def _lookup_slice(node: _Node | None, key: str) -> tuple[_Node | None, tuple[str, ...], str]:
    """`LookupPatchMetadataForSlice`: the element node instead of the field's node."""
    sub, strategies, merge_key = _lookup(node, key)
    if sub is None:
        return None, strategies, merge_key
    if sub.kind == "list":
        return sub.item, strategies, merge_key
    if sub.kind == "any":
        return _ANY, strategies, merge_key
    return None, strategies, merge_key


def _strategy(strategies: tuple[str, ...]) -> str:
    """`extractRetainKeysPatchStrategy`, the non-retainKeys part."""
    if len(strategies) == 1:
        return "" if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
    if len(strategies) == 2:
        if strategies[0] == RETAIN_KEYS_STRATEGY:
            return strategies[1]
        if strategies[1] == RETAIN_KEYS_STRATEGY:
            return strategies[0]
    if not strategies:
        return ""
    raise _SMPError(f"unexpected patch strategy: {_gofmt(list(strategies))}")


# ============================================================================ patch values
def _is_directive_key(k: str) -> bool:
    return k in (DIRECTIVE, RETAIN_KEYS) or k.startswith((ORDER_PREFIX + "/", DELETE_PREFIX + "/"))


def _clean(v: Any, node: _Node | None) -> Any:
    """Drop what decoding into the Go type drops from patch-supplied content: directive keys and
    `null` members of structs (and of fields unknown to the schema). Mutates `v` (a private copy)."""
    stack: list[tuple[Any, _Node | None]] = [(v, node)]
    while stack:
        cur, n = stack.pop()
        if n is not None and n.kind in ("any", "scalar"):
            continue
        if isinstance(cur, dict):
            if n is not None and n.kind == "map":
                stack.extend((x, n.item) for x in cur.values())
                continue
            if n is not None and n.kind == "list":
                continue
            for k in [k for k, x in cur.items() if x is None or (k[:1] == "$" and _is_directive_key(k))]:
                del cur[k]
            for k, x in cur.items():
                if isinstance(x, (dict, list)):
                    stack.append((x, _lookup(n, k)[0] if n is not None else None))
        elif isinstance(cur, list):
            item = n.item if n is not None and n.kind == "list" else None
            stack.extend((x, item) for x in cur if isinstance(x, (dict, list)))
    return v


def _clean_items(items: list[Any], elem: _Node | None) -> None:
    for x in items:
        if isinstance(x, (dict, list)):
            _clean(x, elem)


def _discard_nulls(v: Any) -> None:
    """`discardNullValuesFromPatch`: drop null members of maps, recursively (not list items)."""
    stack = [v]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k in [k for k, x in cur.items() if x is None]:
                del cur[k]
            stack.extend(x for x in cur.values() if isinstance(x, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(x for x in cur if isinstance(x, (dict, list)))


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    """`removeDirectives`: maps holding `$patch` disappear (from maps and lists), recursively."""
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            v, keep = _remove_directives(obj[k])
            if keep:
                obj[k] = v
            else:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        out = []
        for x in obj:
            v, keep = _remove_directives(x)
            if keep:
                out.append(v)
        return out, True
    return obj, True


def _take_patch_value(original: dict[str, Any], k: str, pv: Any, node: _Node | None) -> None:
    """A value the original lacks (or holds with another type): the patch value, cleaned."""
    _discard_nulls(pv)
    v, keep = _remove_directives(pv)
    if keep:
        original[k] = _clean(v, _lookup(node, k)[0])
    else:
        original.pop(k, None)


# ============================================================================ mergeMap
def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: _Node | None) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _directive_in_map(patch[DIRECTIVE], patch, node)
    _apply_retain_keys(original, patch)
    _merge_patch_into_original(original, patch, node)
    for k, pv in list(patch.items()):
        is_delete_list = False
        if k.startswith(DELETE_PREFIX):
            stripped = _extract_key(k, DELETE_PREFIX)
            is_delete_list = True
            if stripped:
                k = stripped
        if pv is None:
            original.pop(k, None)
            continue
        if k not in original:
            if not is_delete_list:
                _take_patch_value(original, k, pv, node)
            continue
        ov = original[k]
        if type(ov) is not type(pv):
            if not is_delete_list:
                _take_patch_value(original, k, pv, node)
            continue
        if isinstance(ov, dict):
            sub, strategies, _ = _lookup(node, k)
            if _strategy(strategies) == REPLACE:
                original[k] = _clean(pv, sub)
            else:
                original[k] = _merge_map(ov, pv, sub)
        elif isinstance(ov, list):
            elem, strategies, merge_key = _lookup_slice(node, k)
            original[k] = _merge_slice_handler(ov, pv, elem, _strategy(strategies), merge_key, is_delete_list)
        else:
            original[k] = pv
    return original


def _directive_in_map(directive: Any, patch: dict[str, Any], node: _Node | None) -> dict[str, Any]:
    """`handleDirectiveInMergeMap`."""
    if _is(directive, REPLACE):
        del patch[DIRECTIVE]
        return _clean(patch, node)
    if _is(directive, DELETE):
        return {}
    raise _err_bad_patch_type(directive, patch)


def _extract_key(s: str, prefix: str) -> str:
    parts = s.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_PREFIX:
            raise _bad(ERR_BAD_PRIMITIVE_LIST)
        raise _bad(ERR_BAD_SET_ELEMENT_ORDER)
    return parts[1]


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`applyRetainKeysDirective` (server side: clear the original keys not listed)."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _bad(ERR_BAD_RETAIN_KEYS)
    keep = {_hkey(v) for v in retain}
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_PREFIX, ORDER_PREFIX)):
            continue
        if (str, k) not in keep:
            raise _bad(ERR_BAD_RETAIN_KEYS)
    for k in [k for k in original if (str, k) not in keep]:
        del original[k]


def _merge_patch_into_original(original: dict[str, Any], patch: dict[str, Any], node: _Node | None) -> None:
    """`mergePatchIntoOriginal`: the `$setElementOrder/<field>` lists and their fields."""
    for key in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _err_bad_arg_type(_SLICE_T, order)
        okey = _extract_key(key, ORDER_PREFIX)
        found_original = okey in original
        found_patch = okey in patch
        original_list: list[Any] = []
        patch_list: list[Any] = []
        if found_original:
            if not isinstance(original[okey], list):
                raise _err_bad_arg_type(_SLICE_T, original[okey])
            original_list = original[okey]
        if found_patch:
            if not isinstance(patch[okey], list):
                raise _err_bad_arg_type(_SLICE_T, patch[okey])
            patch_list = patch[okey]
        elem, strategies, merge_key = _lookup_slice(node, okey)
        strategy = _strategy(strategies)
        _validate_order(patch_list, order, merge_key)
        added: list[Any] | None = None
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged = _remove_directives(patch_list)[0]
            added = merged
        elif found_original and found_patch:
            merged = _merge_slice_handler(original_list, patch_list, elem, strategy, merge_key, False)
        else:
            continue
        if not merge_key:
            patch_items, server_only = _partition_primitives(merged, order)
        else:
            patch_items, server_only = _partition_maps(merged, order, merge_key)
        kind = _element_kind(original_list, patch_list)
        # `original_list` is Go's originalFieldValue: mergeSlice may have shifted its backing array.
        original[okey] = _normalize_order(patch_items, server_only, order, original_list, merge_key, kind)
        patch.pop(okey, None)
        if added is not None:
            _clean_items(added, elem)


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """`validatePatchWithSetOrderList`: the patch list must follow the order list."""
    if not order or not patch_list:
        return
    non_delete = _extract_to_delete(patch_list)[0] if merge_key else patch_list
    pi = si = 0
    while pi < len(non_delete) and si < len(order):
        item = non_delete[pi]
        if isinstance(item, dict) and DIRECTIVE in item:
            pi += 1
            continue
        if _merge_key_equal(item, order[si], merge_key):
            pi += 1
        si += 1
    if pi < len(non_delete) and si >= len(order):
        raise _SMPError(
            f"The order in patch list:\n{_gofmt(patch_list)}\n doesn't match {ORDER_PREFIX} list:\n"
            f"{_gofmt(order)}\n"
        )


def _merge_key_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _geq(left, right)
    if not isinstance(left, dict):
        raise _err_bad_arg_type(_MAP_T, left)
    if not isinstance(right, dict):
        raise _err_bad_arg_type(_MAP_T, right)
    if merge_key not in left:
        raise _err_no_merge_key(left, merge_key)
    if merge_key not in right:
        raise _err_no_merge_key(right, merge_key)
    return _geq(left[merge_key], right[merge_key])


def _extract_to_delete(items: list[Any]) -> tuple[list[Any], list[Any]]:
    keep: list[Any] = []
    delete: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _err_bad_arg_type(_MAP_T, v)
        if _is(v.get(DIRECTIVE), DELETE):
            delete.append(v)
        else:
            keep.append(v)
    return keep, delete


# ============================================================================ mergeSlice
def _merge_slice_handler(
    original: list[Any],
    patch: list[Any],
    elem: _Node | None,
    strategy: str,
    merge_key: str,
    is_delete_list: bool,
) -> list[Any]:
    """`mergeSliceHandler`: merge lists, delete lists; anything else is replaced atomically."""
    if strategy == MERGE or is_delete_list:
        return _merge_slice(original, patch, elem, merge_key, is_delete_list)
    _clean_items(patch, elem)
    return patch


def _element_kind(*lists: list[Any]) -> str:
    """`sliceElementType`: "map" or "scalar"; mixed, nested or empty lists are errors."""
    prev: type | None = None
    for s in lists:
        for v in s:
            t = type(v)
            if prev is None:
                if v is None:
                    raise _panic("invalid memory address or nil pointer dereference")
                prev = t
                if t is list:
                    raise _SMPError(ERR_NO_LIST_OF_LISTS, 422)
            elif prev is not t:
                rendered = "[" + " ".join(_gofmt(list(s2)) for s2 in lists) + "]"
                raise _SMPError(f"list element types are not identical: {rendered}")
    if prev is None:
        raise _SMPError("no elements in any of the given slices")
    return "map" if prev is dict else "scalar"


class _GoSlice:
    """A Go slice over `backing` (a Python list used as the array, capacity = its length):
    `deleteMatchingEntries` and `append` write through to the array the caller still holds."""

    __slots__ = ("arr", "length")

    def __init__(self, backing: list[Any]) -> None:
        self.arr = backing
        self.length = len(backing)

    def items(self) -> list[Any]:
        return self.arr[: self.length]

    def delete_at(self, k: int) -> None:
        """`append(s[:k], s[k+1:]...)`."""
        self.arr[k : self.length - 1] = self.arr[k + 1 : self.length]
        self.length -= 1

    def append(self, v: Any) -> None:
        if self.length < len(self.arr):
            self.arr[self.length] = v  # room left by deletions: Go writes into the shared array
        else:
            self.arr = [*self.arr[: self.length], v]  # growslice: a new array, the caller's is untouched
        self.length += 1


def _merge_slice(
    original: list[Any], patch: list[Any], elem: _Node | None, merge_key: str, is_delete_list: bool
) -> list[Any]:
    """`mergeSlice`."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    new_items: list[Any] = []
    if kind != "map":
        if is_delete_list:
            return _delete_from_slice(original, patch)
        merged = _dedupe(original + patch)
        server_order = original
        patch_order = patch
    else:
        if not merge_key:
            raise _SMPError(f"cannot merge lists without merge key for {elem.gokind if elem else 'struct'}")
        base = _GoSlice(original)
        without: list[Any] = []
        replace = False
        for v in patch:
            if DIRECTIVE not in v:
                without.append(v)
                continue
            directive = v[DIRECTIVE]
            if _is(directive, DELETE):
                if merge_key not in v:
                    raise _err_no_merge_key(v, merge_key)
                _delete_matching(base, merge_key, v[merge_key])
            elif _is(directive, REPLACE):
                replace = True
            elif _is(directive, MERGE):
                raise _SMPError("merging lists cannot yet be specified in the patch")
            else:
                raise _err_bad_patch_type(directive, v)
        if replace:
            base = _GoSlice(list(without))
            patch_order = []
            new_items = without
        else:
            patch_order = without
        server_order = base.items()
        for v in patch_order:
            if merge_key not in v:
                raise _err_no_merge_key(v, merge_key)
            idx = _find_map(base.items(), merge_key, v[merge_key])
            if idx >= 0:
                base.arr[idx] = _merge_map(base.arr[idx], v, elem)
            else:
                base.append(v)
                new_items.append(v)
        merged = base.items()
    if not merge_key:
        patch_items, server_only = _partition_primitives(merged, patch_order)
    else:
        patch_items, server_only = _partition_maps(merged, patch_order, merge_key)
    result = _normalize_order(patch_items, server_only, patch_order, server_order, merge_key, kind)
    _clean_items(new_items, elem)
    return result


def _delete_matching(s: _GoSlice, merge_key: str, value: Any) -> None:
    """`deleteMatchingEntries`: remove every element whose merge key equals `value`."""
    while True:
        idx = _find_map(s.items(), merge_key, value)
        if idx < 0:
            return
        s.delete_at(idx)


def _find_map(items: list[Any], key: str, value: Any) -> int:
    """`findMapInSliceBasedOnKeyValue`: index of the first map whose `key` equals `value`."""
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise _SMPError(f"value for key {i} is not a map.")
        if key in v and _geq(v[key], value):
            return i
    return -1


def _delete_from_slice(current: list[Any], to_delete: list[Any]) -> list[Any]:
    drop = {_hkey(v) for v in to_delete}
    return [v for v in current if _hkey(v) not in drop]


def _dedupe(s: list[Any]) -> list[Any]:
    """`deduplicateScalars`, including the way it reorders (a duplicate takes the last item)."""
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _geq(s[i], s[j]):
                s[j] = s[length]
                del s[length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _partition_primitives(items: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    present = {_hkey(v) for v in by}
    inside: list[Any] = []
    outside: list[Any] = []
    for v in items:
        (inside if _hkey(v) in present else outside).append(v)
    return inside, outside


def _partition_maps(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _err_bad_arg_type(_MAP_T, v)
        if merge_key not in v:
            raise _err_no_merge_key(v, merge_key)
        (inside if _find_map(by, merge_key, v[merge_key]) >= 0 else outside).append(v)
    return inside, outside


# ---------------------------------------------------------------------------- ordering
def _index(items: list[Any], value: Any, merge_key: str, kind: str) -> int:
    """`index`: position of `value` in `items` (by merge key for maps), or -1."""
    if kind == "map":
        want = value.get(merge_key) if isinstance(value, dict) else None
        for i, v in enumerate(items):
            if _geq(want, v.get(merge_key) if isinstance(v, dict) else None):
                return i
        return -1
    for i, v in enumerate(items):
        if _geq(value, v):
            return i
    return -1


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """`normalizeElementOrder`: patch items in patch order, server-only items in live order,
    interleaved by their live positions."""
    p = _normalize_slice_order(patch_items, patch_order, merge_key, kind)
    s = _normalize_slice_order(server_only, server_order, merge_key, kind)
    out: list[Any] = []
    i = j = 0
    while i < len(s) and j < len(p):
        li = _index(server_order, s[i], merge_key, kind)
        ri = _index(server_order, p[j], merge_key, kind)
        if li >= 0 and ri >= 0 and li < ri:
            out.append(s[i])
            i += 1
        else:
            out.append(p[j])
            j += 1
    out.extend(s[i:])
    out.extend(p[j:])
    return out


def _normalize_slice_order(to_sort: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """`normalizeSliceOrder`: `sort.SliceStable` by position in `order`."""
    to_delete: list[Any] = []
    if kind == "map":
        for lst in (to_sort, order):
            for item in lst:
                if not isinstance(item, dict):
                    raise _err_bad_arg_type(_MAP_T, item)
                if merge_key not in item:
                    raise _err_no_merge_key(item, merge_key)
        to_sort, to_delete = _extract_to_delete(to_sort)
    keyed = [(_index(order, v, merge_key, kind), v) for v in to_sort]
    if all(k >= 0 for k, _ in keyed):
        keyed.sort(key=lambda kv: kv[0])
    else:
        _go_stable_sort(keyed, lambda a, b: a[0] < b[0] if a[0] >= 0 and b[0] >= 0 else True)
    return [v for _, v in keyed] + to_delete


def _go_stable_sort(data: list[Any], less: Callable[[Any, Any], bool]) -> None:
    """Go's `sort.SliceStable` (insertion sort on blocks of 20, then SymMerge), step for step, so
    that upstream's inconsistent comparator gives upstream's order."""

    def lt(i: int, j: int) -> bool:
        return less(data[i], data[j])

    def swap(i: int, j: int) -> None:
        data[i], data[j] = data[j], data[i]

    def insertion(a: int, b: int) -> None:
        for i in range(a + 1, b):
            j = i
            while j > a and lt(j, j - 1):
                swap(j, j - 1)
                j -= 1

    def swap_range(a: int, b: int, n: int) -> None:
        for i in range(n):
            swap(a + i, b + i)

    def rotate(a: int, m: int, b: int) -> None:
        i, j = m - a, b - m
        while i != j:
            if i > j:
                swap_range(m - i, m, j)
                i -= j
            else:
                swap_range(m - i, m + j - i, i)
                j -= i
        swap_range(m - i, m, i)

    def sym_merge(a: int, m: int, b: int) -> None:
        if m - a == 1:
            i, j = m, b
            while i < j:
                h = (i + j) >> 1
                if lt(h, a):
                    i = h + 1
                else:
                    j = h
            for k in range(a, i - 1):
                swap(k, k + 1)
            return
        if b - m == 1:
            i, j = a, m
            while i < j:
                h = (i + j) >> 1
                if not lt(m, h):
                    i = h + 1
                else:
                    j = h
            for k in range(m, i, -1):
                swap(k, k - 1)
            return
        mid = (a + b) >> 1
        n = mid + m
        if m > mid:
            start, r = n - b, mid
        else:
            start, r = a, m
        p = n - 1
        while start < r:
            c = (start + r) >> 1
            if not lt(p - c, c):
                start = c + 1
            else:
                r = c
        end = n - start
        if start < m < end:
            rotate(start, m, end)
        if a < start < mid:
            sym_merge(a, start, mid)
        if mid < end < b:
            sym_merge(mid, end, b)

    n = len(data)
    block = 20
    a, b = 0, block
    while b <= n:
        insertion(a, b)
        a, b = b, b + block
    insertion(a, n)
    while block < n:
        a, b = 0, 2 * block
        while b <= n:
            sym_merge(a, a + block, b)
            a, b = b, b + 2 * block
        if a + block < n:
            sym_merge(a, a + block, n)
        block *= 2


# ============================================================================ public API


def strategic_merge_patch(
    original: dict[str, Any], patch: Any, group: str, version: str, kind: str, *, in_place: bool = False
) -> dict[str, Any]:
    """Apply the decoded SMP body `patch` to the live object `original` (neither is modified) and
    return the patched object. `in_place`: `original` is the caller's own copy, to be patched
    itself rather than copied first.

    `patch` is what the request body decoded to: `null` is an empty patch, anything but an object
    is 400 as decoding into `map[string]interface{}` fails. A kind without a definition (a custom
    resource) is 415 listing the patch types custom resources accept; check `smp_supported` first.
    Every other failure is the `StatusError` kube-apiserver answers (see the module docstring).
    """
    node = _root(group, version, kind)
    if node is None:
        raise unsupported_media_type("application/strategic-merge-patch+json", CUSTOM_RESOURCE_PATCH_TYPES)
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise StatusError(
            400,
            "BadRequest",
            f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}",
        )
    if not isinstance(original, dict):
        raise StatusError(500, "InternalError", f"Internal error occurred: {ERR_BAD_JSON_DOC}")
    try:
        result = _merge_map(original if in_place else _copy(original), _copy(patch), node)
    except _SMPError as e:
        raise e.status() from e
    except RecursionError:
        raise StatusError(
            500, "InternalError", "Internal error occurred: the patch is nested too deeply"
        ) from None
    return result
