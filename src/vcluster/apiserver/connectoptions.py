"""The connect options of CONNECT subresources (core/v1 PodExecOptions, PodAttachOptions,
PodPortForwardOptions, and the {Pod,Service,Node}ProxyOptions of the proxy subresources, whose `path`
is the request's path after `/proxy`) as kube-apiserver builds them: decoded from the query by the generated
`Convert_url_Values_To_v1_*` functions (bad values are a 400, as `getRequestOptions` answers), shown
to admission as the AdmissionReview `object`, type-checked again after a mutating webhook patched them
(Go's json decode errors), and written back to a query for the next hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.apiserver.schema import json_kind

JSON = dict[str, Any]

# subresource of pods -> the options kind (ExecREST.New(), AttachREST.New(), PortForwardREST.New())
POD_OPTION_KINDS: Mapping[str, str] = {
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}
# (kind of the resource, subresource) -> the options kind, for every CONNECT subresource
# (the ProxyREST of pods, services and nodes: PodProxyOptions, ServiceProxyOptions, NodeProxyOptions)
CONNECT_KINDS: Mapping[tuple[str, str], str] = {
    **{("Pod", sub): kind for sub, kind in POD_OPTION_KINDS.items()},
    ("Pod", "proxy"): "PodProxyOptions",
    ("Service", "proxy"): "ServiceProxyOptions",
    ("Node", "proxy"): "NodeProxyOptions",
}
_STREAMS = (("stdin", "bool"), ("stdout", "bool"), ("stderr", "bool"), ("tty", "bool"), ("container", "str"))
# the fields of each kind in Go declaration order, with their types ("[]str": a query value per item)
FIELDS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "PodExecOptions": (*_STREAMS, ("command", "[]str")),
    "PodAttachOptions": _STREAMS,
    "PodPortForwardOptions": (("ports", "[]int32"),),
    "PodProxyOptions": (("path", "str"),),
    "ServiceProxyOptions": (("path", "str"),),
    "NodeProxyOptions": (("path", "str"),),
}
_GO_TYPES = {"bool": "bool", "str": "string", "[]str": "string", "[]int32": "int32"}


def option_kind(kind: str, subresource: str) -> str:
    """The options kind of a CONNECT on `subresource` of a `kind` object ("" if none)."""
    return CONNECT_KINDS.get((kind, subresource), "")


class OptionsError(ValueError):
    """A query value the conversion refuses (the message is the conversion's error)."""


def _query_bool(values: list[str]) -> bool:
    """runtime.Convert_Slice_string_To_bool: absent is false; "0" and "false" (any case) are false."""
    if not values:
        return False
    v = values[0]
    return not (v == "0" or v.lower() == "false")


def _parse_port(text: str) -> int:
    """strconv.ParseUint(text, 10, 16) with Go's error texts."""
    if not text or not text.isascii() or not text.isdigit():
        raise OptionsError(f'cannot convert to []int32: strconv.ParseUint: parsing "{text}": invalid syntax')
    n = int(text)
    if n > 0xFFFF:
        raise OptionsError(
            f'cannot convert to []int32: strconv.ParseUint: parsing "{text}": value out of range'
        )
    return n


def from_query(kind: str, query: Any) -> JSON:
    """The versioned options object of `kind` from a request's query (a MultiDict); OptionsError
    for values the conversion refuses. Fields are omitted as their JSON tags omit them (`command`
    is always present on PodExecOptions)."""
    obj: JSON = {"kind": kind, "apiVersion": "v1"}
    for name, typ in FIELDS[kind]:
        values = [str(v) for v in query.getall(name, [])]
        if typ == "bool":
            if _query_bool(values):
                obj[name] = True
        elif typ == "str":
            if values and values[0]:
                obj[name] = values[0]
        elif typ == "[]str":
            obj[name] = values or None
        elif values:  # []int32: Convert_Slice_string_To_Slice_int32, comma-separated values too
            obj[name] = [_parse_port(p) for v in values for p in v.split(",")]
    return obj


def type_error(kind: str, obj: JSON) -> str | None:
    """Go's json decode error for the first wrongly typed field of a patched options object."""
    for name, typ in FIELDS.get(kind, ()):
        v = obj.get(name)
        if v is None:
            continue
        where = f"Go struct field {kind}.{name} of type "
        if typ.startswith("[]"):
            if not isinstance(v, list):
                return f"json: cannot unmarshal {_json_type(v)} into {where}[]{_GO_TYPES[typ]}"
            bad = next((x for x in v if x is not None and not _is(typ, x)), _OK)
            if bad is not _OK:
                return f"json: cannot unmarshal {_json_type(bad)} into {where}{_GO_TYPES[typ]}"
        elif not _is(typ, v):
            return f"json: cannot unmarshal {_json_type(v)} into {where}{_GO_TYPES[typ]}"
    for name in ("kind", "apiVersion"):
        v = obj.get(name)
        if v is not None and not isinstance(v, str):
            return f"json: cannot unmarshal {_json_type(v)} into Go struct field {kind}.{name} of type string"
    return None


_OK = object()


def _is(typ: str, v: Any) -> bool:
    if typ == "bool":
        return isinstance(v, bool)
    if typ in ("str", "[]str"):
        return isinstance(v, str)
    return isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31


def _json_type(v: Any) -> str:
    """encoding/json's name of a JSON value's type in UnmarshalTypeError ("number 1.5" for numbers)."""
    kind = json_kind(v)
    return f"number {v}" if kind == "number" else kind


def normalize(kind: str, obj: JSON) -> JSON:
    """A decoded options object as the versioned type holds it (unknown fields dropped, nulls as
    zero values), serialized again."""
    out: JSON = {"kind": kind, "apiVersion": "v1"}
    for name, typ in FIELDS[kind]:
        v = obj.get(name)
        if typ in ("bool", "str"):
            if v:
                out[name] = v
        elif typ == "[]str":
            out[name] = [x if x is not None else "" for x in v] if isinstance(v, list) else None
        elif v:
            out[name] = [x if x is not None else 0 for x in v]
    return out


def to_query(kind: str, obj: JSON) -> list[tuple[str, str]]:
    """The options as query parameters again (the conversion's inverse: bools as "true")."""
    query: list[tuple[str, str]] = []
    for name, typ in FIELDS[kind]:
        v = obj.get(name)
        if typ == "bool":
            if v:
                query.append((name, "true"))
        elif typ == "str":
            if v:
                query.append((name, str(v)))
        elif typ == "[]str":
            query.extend((name, str(x)) for x in v or [])
        elif v:
            query.append((name, ",".join(str(x) for x in v)))
    return query
