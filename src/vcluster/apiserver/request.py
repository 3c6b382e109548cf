"""Request parsing: the URL into a RequestInfo, the Accept header, and request bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from aiohttp import web

from vcluster.apiserver import audit
from vcluster.apiserver.errors import (
    StatusError,
    bad_request,
    field_not_supported,
    invalid,
    unsupported_media_type,
)

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's default MaxRequestBodyBytes

# Subresources that live directly under /namespaces/<name>/ (kube RequestInfoFactory).
_NAMESPACE_SUBRESOURCES = {"status", "finalize"}

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

BODY_TYPES = [JSON, YAML, PROTOBUF]
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]


@dataclass(slots=True)
class RequestInfo:
    """What a resource request addresses, as kube-apiserver's RequestInfoFactory derives it."""

    group: str
    version: str
    namespace: str
    resource: str
    name: str
    subresource: str
    verb: str  # get list watch create update patch delete deletecollection


def parse_resource_path(path: str, method: str, query: Any) -> RequestInfo | None:
    """Parse /api/v1/... and /apis/<g>/<v>/... resource paths; None if the path is not one."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3:
        # Only proxy subresources take further path segments.
        sub = rest[2]
    if resource == "namespaces" and name:
        namespace = name
    if method == "GET" or method == "HEAD":
        if name:
            verb = "get"
        else:
            verb = "watch" if query.get("watch") in ("true", "1") else "list"
    elif method == "POST":
        verb = "create"
    elif method == "PUT":
        verb = "update"
    elif method == "PATCH":
        verb = "patch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = method.lower()
    return RequestInfo(group, version, namespace, resource, name, sub, verb)


# ---------------------------------------------------------------------------- Accept
@dataclass(slots=True)
class Accept:
    table: bool = False
    partial_metadata: bool = False
    yaml: bool = False


def parse_accept(header: str | None) -> Accept:
    """Table or PartialObjectMetadata views, or plain JSON. 406 when nothing acceptable."""
    if not header:
        return Accept()
    ok = False
    for raw in header.split(","):
        item = raw.strip()
        if not item:
            continue
        mtype, _, params_s = item.partition(";")
        mtype = mtype.strip().lower()
        params: dict[str, str] = {}
        for p in params_s.split(";"):
            k, _, v = p.partition("=")
            if k.strip():
                params[k.strip().lower()] = v.strip()
        if mtype in ("application/json", "*/*", "application/*"):
            as_ = params.get("as")
            if as_ is None:
                return Accept()
            if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
                if as_ == "Table":
                    return Accept(table=True)
                if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                    return Accept(partial_metadata=True)
            continue
        if mtype in ("application/yaml", "text/yaml"):
            return Accept(yaml=True)
        if mtype == PROTOBUF:
            ok = True  # we answer JSON; client-go lists JSON after protobuf
    if ok:
        return Accept()
    raise StatusError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf",
        {},
    )


# ---------------------------------------------------------------------------- bodies
async def read_body(request: web.Request) -> bytes:
    """The request body, or 413 when over MAX_BODY (checked before and while reading)."""
    clen = request.content_length
    if clen is not None and clen > MAX_BODY:
        raise too_large()
    body = bytearray()
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        body += chunk
        if len(body) > MAX_BODY:
            raise too_large()
    out = bytes(body)
    audit.note_request_body(out, request.headers.get("Content-Type", ""))
    return out


def too_large() -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}", {})


def media_type(request: web.Request) -> str:
    ct = request.headers.get("Content-Type", "")
    return ct.split(";", 1)[0].strip().lower()


def decode_object(body: bytes, ctype: str, default_gvk: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """Decode a JSON, YAML or Kubernetes protobuf object body (no Content-Type means JSON, as the Python
    client sends). `default_gvk` is the endpoint's kind, used for protobuf bodies and their errors."""
    if ctype in ("", JSON, "*/*", "text/plain"):
        data = _loads_json(body)
    elif ctype in (YAML, "text/yaml", "application/x-yaml"):
        data = _loads_yaml(body)
    elif ctype == PROTOBUF:
        from vcluster.apiserver.protobuf import decode_protobuf  # loads descriptors on first use

        data = decode_protobuf(body, default_gvk)
    else:
        raise unsupported_media_type(ctype, [JSON, YAML, PROTOBUF])
    if not isinstance(data, dict):
        raise bad_request(f"the object provided is unrecognized (must be of type object): {type_name(data)}")
    return data


def type_name(v: Any) -> str:
    return {
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def _loads_json(body: bytes) -> Any:
    if not body.strip():
        raise bad_request("Object 'Kind' is missing in ''")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise bad_request(f"error decoding JSON: {e}") from None


def _loads_yaml(body: bytes) -> Any:
    if not body.strip():
        raise bad_request("Object 'Kind' is missing in ''")
    try:
        docs = list(yaml.safe_load_all(body))
    except yaml.YAMLError as e:
        raise bad_request(f"error converting YAML to JSON: {_one_line(str(e))}") from None
    except (ValueError, RecursionError) as e:
        raise bad_request(f"error converting YAML to JSON: {e}") from None
    if len(docs) != 1:
        raise bad_request("error converting YAML to JSON: expected exactly one YAML document")
    try:  # YAML allows non-JSON values (dates, binary); normalise through JSON
        return _yaml_to_json(docs[0], [_YAML_NODE_BUDGET])
    except (TypeError, ValueError, RecursionError) as e:
        raise bad_request(f"error converting YAML to JSON: {e}") from None


# Aliases let a small YAML document expand into an enormous one ("billion laughs"); like go-yaml's
# excessive-aliasing check, refuse documents whose expansion exceeds this many nodes.
_YAML_NODE_BUDGET = 1_000_000


def _yaml_to_json(v: Any, budget: list[int]) -> Any:
    """The YAML value as JSON data: keys as strings, within the node budget, valid Unicode only."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError("yaml: document contains excessive aliasing")
    if isinstance(v, dict):
        return {_yaml_key(k): _yaml_to_json(x, budget) for k, x in v.items()}
    if isinstance(v, list):
        return [_yaml_to_json(x, budget) for x in v]
    if isinstance(v, str):
        return _valid_unicode(v)
    if v is None or isinstance(v, (bool, int, float)):
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            raise ValueError(f"unsupported value: {v}")
        return v
    return str(v)


def _yaml_key(k: Any) -> str:
    return _valid_unicode(k if isinstance(k, str) else orjson.dumps(k, default=str).decode().strip('"'))


def _valid_unicode(s: str) -> str:
    """YAML's \\u escapes can produce lone surrogates (it does not pair them); JSON cannot carry them."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"invalid Unicode in string at position {e.start}") from None
    return s


def _one_line(s: str) -> str:
    return " ".join(s.split())


def decode_json_any(body: bytes) -> Any:
    return _loads_json(body)


def decode_yaml_any(body: bytes) -> Any:
    return _loads_yaml(body)


# ---------------------------------------------------------------------------- query helpers
def query_bool(query: Any, name: str) -> bool:
    v = query.get(name)
    return v in ("true", "1", "True")


def query_int(query: Any, name: str, default: int | None = None) -> int | None:
    """An int64 query parameter; anything else is a 400 with Go's strconv.ParseInt text."""
    v = query.get(name)
    if v is None or v == "":
        return default
    if not _INT_RE.fullmatch(v):
        raise bad_request(f'strconv.ParseInt: parsing "{v}": invalid syntax')
    n = int(v)
    if not -(2**63) <= n < 2**63:
        raise bad_request(f'strconv.ParseInt: parsing "{v}": value out of range')
    return n


_INT_RE = re.compile(r"[+-]?[0-9]+")


_OPTIONS_KIND = {
    "POST": "CreateOptions",
    "PUT": "UpdateOptions",
    "PATCH": "PatchOptions",
    "DELETE": "DeleteOptions",
}


def dry_run(request: web.Request) -> bool:
    """`?dryRun=All`; other values are a 422 on the verb's options kind, as kube-apiserver answers."""
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            kind = _OPTIONS_KIND.get(request.method, "CreateOptions")
            raise invalid(kind, "meta.k8s.io", "", [field_not_supported("dryRun", v, ["All"])])
    return bool(values)
