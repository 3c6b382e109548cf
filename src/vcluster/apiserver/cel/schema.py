"""OpenAPI schema → CEL (apiserver/pkg/cel/common/schemas.go and values.go of kube 1.32):
property-name escaping, the declared type of a schema node and the CEL value of a JSON value.

Objects with properties are CEL maps keyed by the escaped property names (kube uses object types
whose fields are those names: the same access syntax, but an undeclared field is then a runtime
``no such key`` instead of a compile error). Lists with ``x-kubernetes-list-type`` set or map are
passed in a canonical order (set: by value; map: by key fields) so that ``==`` compares them as
kube's set/map-list equality does, regardless of order (indexing such a list sees that order)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cel_expr_python import cel
from google.protobuf import duration_pb2, timestamp_pb2

from vcluster.jsonguards import as_dict as _d

T = cel.Type

_RESERVED = frozenset(
    (
        *("true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"),
        *("function", "if", "import", "let", "loop", "package", "namespace", "return", "var"),
        *("void", "while"),
    )
)
_EXPAND = re.compile(r"__|[-./]|[^a-zA-Z0-9-./_]")
_EXPANSIONS = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}


def escape(name: str) -> str | None:
    """kube's cel.Escape: the CEL identifier of a property name, None when it has none."""
    if not name or "0" <= name[0] <= "9":
        return None
    if name in _RESERVED:
        return f"__{name}__"
    ok = True

    def repl(m: re.Match[str]) -> str:
        nonlocal ok
        out = _EXPANSIONS.get(m.group(0))
        if out is None:
            ok = False
            return ""
        return out

    escaped = _EXPAND.sub(repl, name)
    return escaped if ok else None


def _props(s: dict[str, Any]) -> dict[str, Any]:
    return _d(s.get("properties"))


def _additional(s: dict[str, Any]) -> dict[str, Any] | None:
    ap = s.get("additionalProperties")
    return ap if isinstance(ap, dict) else None


def decl_type(s: dict[str, Any]) -> cel.Type:
    """The CEL type a schema node is declared as (SchemaDeclType)."""
    if s.get("x-kubernetes-int-or-string") is True:
        return T.DYN
    t = s.get("type")
    if t == "array":
        items = s.get("items")
        return T.List(decl_type(items) if isinstance(items, dict) else T.DYN)
    if t == "object":
        ap = _additional(s)
        if ap is not None and not _props(s):
            return T.Map(T.STRING, decl_type(ap))
        return T.Map(T.STRING, T.DYN)
    if t == "string":
        fmt = s.get("format")
        if fmt == "byte":
            return T.BYTES
        if fmt == "duration":
            return T.DURATION
        if fmt in ("date", "date-time"):
            return T.TIMESTAMP
        return T.STRING
    if t == "integer":
        return T.INT
    if t == "number":
        return T.DOUBLE
    if t == "boolean":
        return T.BOOL
    return T.DYN


# --- values ------------------------------------------------------------------------------------

_DURATION_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h|d|w)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}


def parse_duration(text: str) -> timedelta | None:
    """strfmt.ParseDuration's Go form (``1h30m``, ``-1.5s``, ``2d``); None if it is not one."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_RE.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            return None
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos == 0:
        return None
    return timedelta(microseconds=sign * total / 1000)


def parse_timestamp(text: str, date_only: bool) -> datetime | None:
    """RFC 3339 date-time (or full-date), as a UTC datetime; None if it is not one."""
    try:
        if date_only:
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _string_value(v: str, fmt: object) -> Any:
    if fmt == "byte":
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            return v
    # nested values reach the C++ runtime only as CEL values or messages: the well-known types
    if fmt == "duration":
        d = parse_duration(v)
        if d is None:
            return v
        pd = duration_pb2.Duration()
        pd.FromTimedelta(d)
        return pd
    if fmt in ("date", "date-time"):
        ts = parse_timestamp(v, fmt == "date")
        if ts is None:
            return v
        pt = timestamp_pb2.Timestamp()
        pt.FromDatetime(ts)
        return pt
    return v


def _canonical_key(v: Any) -> bytes:
    try:
        return orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return repr(v).encode()


def _ordered(items: list[Any], s: dict[str, Any]) -> list[Any]:
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        return sorted(items, key=_canonical_key)
    if list_type == "map":
        keys = [k for k in s.get("x-kubernetes-list-map-keys") or [] if isinstance(k, str)]
        return sorted(items, key=lambda it: [_canonical_key(_d(it).get(k)) for k in keys])
    return items


_ROOT_META = ("name", "generateName")


def to_cel(v: Any, s: dict[str, Any] | None, resource_root: bool = False) -> Any:
    """The CEL value of JSON ``v`` under schema node ``s`` (UnstructuredToVal)."""
    if v is None or s is None:
        return v
    if s.get("x-kubernetes-int-or-string") is True:
        return v
    if isinstance(v, dict):
        return _object(v, s, resource_root or s.get("x-kubernetes-embedded-resource") is True)
    if isinstance(v, list):
        items = s.get("items")
        conv = [to_cel(x, items if isinstance(items, dict) else None) for x in v]
        return _ordered(conv, s) if s.get("x-kubernetes-list-type") in ("set", "map") else conv
    if isinstance(v, str):
        fmt = s.get("format")
        return _string_value(v, fmt) if fmt else v
    if s.get("type") == "number" and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


def _object(v: dict[str, Any], s: dict[str, Any], resource_root: bool) -> dict[str, Any]:
    props = _props(s)
    ap = _additional(s)
    out: dict[str, Any] = {}
    if props:
        for name, sub in props.items():
            if name in v:
                esc = escape(name)
                if esc is not None:
                    out[esc] = to_cel(v[name], _d(sub))
    elif ap is not None:
        for k, x in v.items():
            out[k] = to_cel(x, ap)
    elif s.get("x-kubernetes-preserve-unknown-fields") is True:
        out = dict(v)
    if resource_root:
        for k in ("apiVersion", "kind"):
            if isinstance(v.get(k), str):
                out[k] = v[k]
        meta = v.get("metadata")
        if isinstance(meta, dict):
            out["metadata"] = {k: meta[k] for k in _ROOT_META if k in meta}
    return out
