"""JSON patch (RFC 6902) as kube-apiserver applies it.

kube-apiserver 1.32 applies `application/json-patch+json` bodies with `gopkg.in/evanphx/json-patch.v4`
(k8s.io/apiserver/pkg/endpoints/handlers/patch.go, `jsonPatcher.applyJSPatch`). This module reproduces
that library's semantics, quirks included, and the apiserver's error mapping:

* with `fieldValidation` Warn (the default) or Strict the body is first decoded strictly into
  `[]handlers.jsonPatchOp{op, path, from string; value any}`; a type error is
  400 `error decoding patch: json: cannot unmarshal ...`;
* `jsonpatch.DecodePatch` errors (body not a list, an operation not an object) are 400 with Go's
  decode message;
* more than 10000 operations is 413 `Request entity too large: The allowed maximum operations in a
  JSON patch is 10000, got N`;
* every failure while applying (missing path, bad index, failed `test`, unknown `op`, ...) is
  `NewGenericServerResponse(422, ...)`: 422 `Invalid` with the generic message
  `the server rejected our request due to an error in our request` and empty `details` — the
  library's own text (kept here as the exception's `__cause__`) never reaches the client.

Library behaviour kept on purpose (all of it observable through kube-apiserver):

* `replace` of a missing object member adds it (v4 checks only that the parent exists);
* `add`/`replace` without `value` store `null`; `copy` from a missing object member copies `null`;
* negative array indices count from the end (`SupportNegativeIndices`), `-` appends for `add`;
* a path without a leading `/` ignores its first segment (`a/b` addresses `/b`);
* `replace` of the whole document (`""`) with a scalar is a no-op;
* `test` compares scalars by their JSON text (`1` is not `1.0`), objects and arrays structurally;
* `copy` operations may add at most 3 MiB in total (`JSONPatchMaxCopyBytes`).

The input document is never modified; the patched document is a new value.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.patch import json_copy as _copy
from vcluster.apiserver.schema import json_kind

MAX_JSON_PATCH_OPERATIONS = 10000
"""maxJSONPatchOperations in k8s.io/apiserver/pkg/endpoints/handlers/patch.go."""

MAX_COPY_BYTES = 3 * 1024 * 1024
"""JSONPatchMaxCopyBytes (the apiserver's default), armed as jsonpatch.AccumulatedCopySizeLimit."""

INVALID_MESSAGE = "the server rejected our request due to an error in our request"
PANIC_MESSAGE = "This request caused apiserver to panic. Look in the logs for details."

_INDEX_RE = re.compile(r"[+-]?[0-9]+")
_ESCAPE_RE = re.compile(r"~[01]")
_INT64 = (-(2**63), 2**63 - 1)
_OP_FIELDS = ("op", "path", "from")
_KNOWN_FIELDS = frozenset(("op", "path", "from", "value"))


class JSONPatchFailed(Exception):
    """The evanphx/json-patch error text behind a 422 (attached as `__cause__`, for logs)."""


class _Panic(Exception):
    """Where the Go library dereferences nil and kube-apiserver answers 500."""


def invalid_patch_error() -> StatusError:
    """`errors.NewGenericServerResponse(422, "", GroupResource{}, "", msg, 0, false)`."""
    return StatusError(422, "Invalid", INVALID_MESSAGE, details={})


# ---------------------------------------------------------------------------- decoding checks
def _strict_decode_error(ops: Any) -> str | None:
    """The first error of `kjson.UnmarshalStrict(body, &[]jsonPatchOp{})`, or None."""
    if ops is None:
        return None
    if not isinstance(ops, list):
        return f"json: cannot unmarshal {json_kind(ops)} into Go value of type []handlers.jsonPatchOp"
    for op in ops:
        if op is None:
            continue
        if not isinstance(op, dict):
            return f"json: cannot unmarshal {json_kind(op)} into Go value of type handlers.jsonPatchOp"
        for name, v in op.items():
            if name in _OP_FIELDS and v is not None and not isinstance(v, str):
                return (
                    f"json: cannot unmarshal {json_kind(v)} into Go struct field "
                    f"jsonPatchOp.{name} of type string"
                )
    return None


def _decode_patch_error(ops: Any) -> str | None:
    """The error of `jsonpatch.DecodePatch` (`json.Unmarshal` into `[]map[string]*RawMessage`)."""
    if ops is None:
        return None
    if not isinstance(ops, list):
        return f"json: cannot unmarshal {json_kind(ops)} into Go value of type jsonpatch.Patch"
    for op in ops:
        if op is not None and not isinstance(op, dict):
            return f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation"
    return None


def json_patch_strict_errors(ops: Any) -> list[str]:
    """Strict-decoding findings for the operations themselves (fieldValidation Warn/Strict).

    kube-apiserver reports unknown members of an operation as `json patch unknown field "[0].foo"`
    (a warning with Warn, part of the 422 strict decoding error with Strict). Duplicate members
    (`json patch duplicate field "[1].path"`) cannot be seen after JSON decoding and are not
    reported here.
    """
    out: list[str] = []
    if not isinstance(ops, list):
        return out
    for i, op in enumerate(ops):
        if isinstance(op, dict):
            out.extend(f'json patch unknown field "[{i}].{k}"' for k in op if k not in _KNOWN_FIELDS)
    return out


# ---------------------------------------------------------------------------- helpers
def _size(v: Any) -> int:
    """Bytes a `copy` adds (`deepCopy` of a nil node counts 0)."""
    if v is None:
        return 0
    try:
        return len(orjson.dumps(v))
    except (TypeError, ValueError):
        return len(repr(v))


def _same(a: Any, b: Any) -> bool:
    """evanphx `lazyNode.equal`: objects and arrays structurally, scalars by JSON text."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and _same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, (dict, list)):
        return False
    return type(a) is type(b) and a == b


def _unescape(token: str) -> str:
    """RFC 6901 `~1` -> `/`, `~0` -> `~` in one left-to-right pass (strings.NewReplacer)."""
    if "~" not in token:
        return token
    return _ESCAPE_RE.sub(lambda m: "/" if m.group() == "~1" else "~", token)


def _atoi(key: str) -> int:
    """Go's strconv.Atoi: optional sign, decimal digits, 64-bit range."""
    if not _INDEX_RE.fullmatch(key):
        raise JSONPatchFailed(f'strconv.Atoi: parsing "{key}": invalid syntax')
    n = int(key)
    if not _INT64[0] <= n <= _INT64[1]:
        raise JSONPatchFailed(f'strconv.Atoi: parsing "{key}": value out of range')
    return n


def _invalid_index(idx: int) -> JSONPatchFailed:
    return JSONPatchFailed(f"Unable to access invalid index: {idx}: invalid index referenced")


def _get(con: dict[str, Any] | list[Any], key: str) -> Any:
    """`container.get`: a missing object member is None without error; arrays check the index."""
    if isinstance(con, dict):
        return con.get(key)
    idx = _atoi(key)
    if idx < 0:
        if idx < -len(con):
            raise _invalid_index(idx)
        idx += len(con)
    if idx >= len(con):
        raise _invalid_index(idx)
    return con[idx]


def _set(con: dict[str, Any] | list[Any], key: str, val: Any) -> None:
    """`container.set` (replace): objects set unconditionally, arrays need an existing index."""
    if isinstance(con, dict):
        con[key] = val
        return
    _get(con, key)
    idx = _atoi(key)
    if idx < 0:
        idx += len(con)
    con[idx] = val


def _add(con: dict[str, Any] | list[Any], key: str, val: Any) -> None:
    if isinstance(con, dict):
        con[key] = val
        return
    if key == "-":
        con.append(val)
        return
    idx = _atoi(key)
    size = len(con) + 1
    if idx >= size:
        raise _invalid_index(idx)
    if idx < 0:
        if idx < -size:
            raise _invalid_index(idx)
        idx += size
    con.insert(idx, val)


def _remove(con: dict[str, Any] | list[Any], key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise JSONPatchFailed(f"Unable to remove nonexistent key: {key}: missing value")
        del con[key]
        return
    idx = _atoi(key)
    if idx >= len(con):
        raise _invalid_index(idx)
    if idx < 0:
        if idx < -len(con):
            raise _invalid_index(idx)
        idx += len(con)
    del con[idx]


def _find(root: Any, path: str) -> tuple[dict[str, Any] | list[Any], str] | None:
    """evanphx `findObject`: the container holding the last segment, and that segment."""
    split = path.split("/")
    if len(split) < 2:
        return None
    doc = root
    for part in split[1:-1]:
        try:
            nxt = _get(doc, _unescape(part))
        except JSONPatchFailed:
            return None
        if not isinstance(nxt, (dict, list)):
            return None
        doc = nxt
    if not isinstance(doc, (dict, list)):
        return None
    return doc, _unescape(split[-1])


def _str_member(op: dict[str, Any], name: str, what: str) -> str:
    v = op.get(name)
    if v is None:
        raise JSONPatchFailed(f"{what}: missing value")
    if not isinstance(v, str):
        raise JSONPatchFailed(f"json: cannot unmarshal {json_kind(v)} into Go value of type string")
    return v


# ---------------------------------------------------------------------------- operations
class _Doc:
    """The document being patched (the root can be replaced by `replace ""`)."""

    __slots__ = ("copied", "root")

    def __init__(self, root: Any) -> None:
        self.root = root
        self.copied = 0


def _op_add(d: _Doc, op: dict[str, Any]) -> None:
    path = _str_member(op, "path", "operation missing path field")
    found = _find(d.root, path)
    if found is None:
        raise JSONPatchFailed(f'add operation does not apply: doc is missing path: "{path}": missing value')
    con, key = found
    _add(con, key, _copy(op.get("value")))


def _op_remove(d: _Doc, op: dict[str, Any]) -> None:
    path = _str_member(op, "path", "operation missing path field")
    found = _find(d.root, path)
    if found is None:
        raise JSONPatchFailed(
            f'remove operation does not apply: doc is missing path: "{path}": missing value'
        )
    _remove(*found)


def _op_replace(d: _Doc, op: dict[str, Any]) -> None:
    path = _str_member(op, "path", "operation missing path field")
    if path == "":
        if "value" not in op:
            raise _Panic("replace of the whole document without a value")
        val = op["value"]
        if isinstance(val, (dict, list)):
            d.root = _copy(val)
        return  # a scalar: errors.Wrapf(nil, ...) is nil, the document is left alone
    found = _find(d.root, path)
    if found is None:
        raise JSONPatchFailed(f"replace operation does not apply: doc is missing path: {path}: missing value")
    con, key = found
    try:
        _get(con, key)
    except JSONPatchFailed:
        raise JSONPatchFailed(
            f"replace operation does not apply: doc is missing key: {path}: missing value"
        ) from None
    _set(con, key, _copy(op.get("value")))


def _op_move(d: _Doc, op: dict[str, Any]) -> None:
    frm = _str_member(op, "from", "operation, missing from field")
    found = _find(d.root, frm)
    if found is None:
        raise JSONPatchFailed(
            f"move operation does not apply: doc is missing from path: {frm}: missing value"
        )
    con, key = found
    val = _get(con, key)
    _remove(con, key)
    path = _str_member(op, "path", "operation missing path field")
    found = _find(d.root, path)
    if found is None:
        raise JSONPatchFailed(
            f"move operation does not apply: doc is missing destination path: {path}: missing value"
        )
    _add(found[0], found[1], val)


def _op_test(d: _Doc, op: dict[str, Any]) -> None:
    path = _str_member(op, "path", "operation missing path field")
    if path == "":
        if "value" not in op:
            raise _Panic("test of the whole document without a value")
        if _same(d.root, op["value"]):
            return
        raise JSONPatchFailed(f"testing value {path} failed: test failed")
    found = _find(d.root, path)
    if found is None:
        raise JSONPatchFailed(f"test operation does not apply: is missing path: {path}: missing value")
    val = _get(*found)
    if val is None:
        if "value" not in op:
            raise _Panic("test of a missing value without a value")
        if op["value"] is None:
            return
        raise JSONPatchFailed(f"testing value {path} failed: test failed")
    if "value" not in op or not _same(val, op["value"]):
        raise JSONPatchFailed(f"testing value {path} failed: test failed")


def _op_copy(d: _Doc, op: dict[str, Any]) -> None:
    frm = _str_member(op, "from", "operation, missing from field")
    found = _find(d.root, frm)
    if found is None:
        raise JSONPatchFailed(
            f"copy operation does not apply: doc is missing from path: {frm}: missing value"
        )
    val = _get(*found)
    path = _str_member(op, "path", "operation missing path field")
    found = _find(d.root, path)
    if found is None:
        raise JSONPatchFailed(
            f"copy operation does not apply: doc is missing destination path: {path}: missing value"
        )
    d.copied += _size(val)
    if d.copied > MAX_COPY_BYTES:
        raise JSONPatchFailed(
            "Unable to complete the copy, the accumulated size increase of copy is "
            f"{d.copied}, exceeding the limit {MAX_COPY_BYTES}"
        )
    _add(found[0], found[1], _copy(val))


_OPS = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "test": _op_test,
    "copy": _op_copy,
}


def _kind(op: dict[str, Any] | None) -> str:
    v = op.get("op") if op else None
    return v if isinstance(v, str) else "unknown"


# ---------------------------------------------------------------------------- public API
def apply_json_patch(doc: Any, ops: Any, field_validation: str = "Warn", *, in_place: bool = False) -> Any:
    """Apply the decoded JSON patch body `ops` to `doc` and return the new document (`in_place`:
    `doc` is the caller's own copy, changed itself rather than copied first).

    `field_validation` is the request's `fieldValidation` ("Ignore", "Warn", "Strict"; absent or ""
    means Warn): unless it is Ignore the operations are type-checked first, as kube-apiserver does.
    Unknown operation members are not errors here; see `json_patch_strict_errors`.

    Raises `StatusError`: 400 (undecodable patch), 413 (too many operations), 422 (any operation
    fails; message `the server rejected our request due to an error in our request`), 500 where
    the Go library would panic (a `test` or whole-document `replace` without `value`).
    """
    if field_validation != "Ignore":
        err = _strict_decode_error(ops)
        if err:
            raise StatusError(400, "BadRequest", f"error decoding patch: {err}")
    err = _decode_patch_error(ops)
    if err:
        raise StatusError(400, "BadRequest", err)
    if not ops:
        return doc if in_place else _copy(doc)
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}",
        )
    d = _Doc(doc if in_place else _copy(doc))
    for op in ops:
        kind = _kind(op)
        fn = _OPS.get(kind)
        try:
            if fn is None:
                raise JSONPatchFailed(f"Unexpected kind: {kind}")
            fn(d, op)
        except JSONPatchFailed as e:
            raise invalid_patch_error() from e
        except _Panic as e:
            raise StatusError(500, "InternalError", PANIC_MESSAGE) from e
    return d.root
