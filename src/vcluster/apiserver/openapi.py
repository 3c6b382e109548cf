"""OpenAPI v3 (`/openapi/v3`, per group-version documents) and v2 (`/openapi/v2`), from the 1.32
definitions shipped by `kubernetes-validate` and from the registry of served resources.

kubectl needs these for `create -f` / `apply -f` / `replace -f` / `edit` / `diff` (it looks for the
`fieldValidation` parameter on the PATCH operation of the object's kind, and client-side apply
computes strategic merge patches from `components.schemas`) and for `explain` (descriptions,
`x-kubernetes-group-version-kind` on the schemas). The documents follow the shape of upstream's
`api/openapi-spec/v3/*.json`: one path item per collection, object, subresource and watch URL, with
`x-kubernetes-action` and `x-kubernetes-group-version-kind` on every operation, and schemas converted
back from the JSON-schema form of `kubernetes-validate` (`"type": ["string", "null"]`,
`#/$defs/...`) to OpenAPI (`"type": "string"`, `allOf: [{$ref}]` beside a description,
IntOrString and Quantity as `oneOf`).

Documents are built lazily per group-version, cached as bytes, and rebuilt after `invalidate()`;
custom resources get their schemas through `set_schema()` / `remove_schema()`.

Protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, what kubectl asks for on
`/openapi/v2`, and the v3 protobuf form) is not produced: such requests get 406 Not Acceptable,
which kubectl treats like a server without OpenAPI v2 (client-side apply falls back to the v3
schemas or its compiled-in types). Clients accepting JSON get the v2 document as JSON.
"""

from __future__ import annotations

import email.utils
import hashlib
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from vcluster.apiserver.resources import Registry, ResourceType
from vcluster.apiserver.schema import definition_for, definitions

KUBE_VERSION = "v1.32.0"
_KV_REF = "#/$defs/"
V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = _META + "ObjectMeta"
LIST_META = _META + "ListMeta"
STATUS = _META + "Status"
DELETE_OPTIONS = _META + "DeleteOptions"
PATCH = _META + "Patch"
WATCH_EVENT = _META + "WatchEvent"
API_RESOURCE_LIST = _META + "APIResourceList"
API_GROUP = _META + "APIGroup"
API_GROUP_LIST = _META + "APIGroupList"
API_VERSIONS = _META + "APIVersions"
VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
YAML = "application/yaml"
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
V2_PROTOBUF_NEW = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V3_PROTOBUF = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
V3_PROTOBUF_NEW = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
BUILTIN_PATCH_TYPES = (APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH)
CUSTOM_PATCH_TYPES = (APPLY_PATCH, JSON_PATCH, MERGE_PATCH)  # no strategic merge for custom resources

_BUILTIN_OBJECT_TYPES = (JSON, PROTOBUF, YAML)
_BUILTIN_STREAM_TYPES = (JSON, JSON + ";stream=watch", PROTOBUF, PROTOBUF + ";stream=watch", YAML)
_CUSTOM_OBJECT_TYPES = (JSON, YAML)
_CUSTOM_STREAM_TYPES = (JSON, JSON + ";stream=watch", YAML)

_BEARER = {
    "BearerToken": {
        "description": "Bearer Token authentication",
        "in": "header",
        "name": "authorization",
        "type": "apiKey",
    }
}

# ---------------------------------------------------------------------------- parameters
# Texts as kube-apiserver 1.32 publishes them (k8s.io/apimachinery metav1 option types).
_P_TEXT: dict[str, tuple[str, str]] = {
    "allowWatchBookmarks": (
        "boolean",
        'allowWatchBookmarks requests watch events with type "BOOKMARK". Servers that do not implement '
        "bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should "
        "not assume bookmarks are returned at any specific interval, nor may they assume the server will "
        "send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
    ),
    "continue": (
        "string",
        "The continue option should be set when retrieving more results from the server. Since this value "
        "is server defined, clients may only use the continue value from a previous query result with "
        "identical query parameters (except for the value of continue) and the server may reject a continue "
        "value it does not recognize. If the specified continue value is no longer valid whether due to "
        "expiration (generally five to fifteen minutes) or a configuration change on the server, the server "
        "will respond with a 410 ResourceExpired error together with a continue token. If the client needs a "
        "consistent list, it must restart their list without the continue field. Otherwise, the client may "
        "send another list request with the token received with the 410 error, the server will respond with "
        "a list starting from the next key, but from the latest snapshot, which is inconsistent from the "
        "previous list results - objects that are created, modified, or deleted after the first list request "
        'will be included in the response, as long as their keys are after the "next key".\n\nThis field is '
        "not supported when watch is true. Clients may start a watch from the last resourceVersion value "
        "returned by the server and not miss any modifications.",
    ),
    "dryRun": (
        "string",
        "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
        "dryRun directive will result in an error response and no further processing of the request. Valid "
        "values are: - All: all dry run stages will be processed",
    ),
    "fieldManager": (
        "string",
        "fieldManager is a name associated with the actor or entity that is making these changes. The value "
        "must be less than or 128 characters long, and only contain printable characters, as defined by "
        "https://golang.org/pkg/unicode/#IsPrint.",
    ),
    "fieldSelector": (
        "string",
        "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    ),
    "fieldValidation": (
        "string",
        "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
        "containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown "
        "fields that are silently dropped from the object, and will ignore all but the last duplicate field "
        "that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a "
        "warning via the standard warning response header for each unknown field that is dropped from the "
        "object, and for each duplicate field that is encountered. The request will still succeed if there "
        "are no other errors, and will only persist the last of any duplicate fields. This is the default in "
        "v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be "
        "dropped from the object, or if any duplicate fields are present. The error returned from the server "
        "will contain all unknown and duplicate fields encountered.",
    ),
    "force": (
        "boolean",
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting fields owned by '
        "other people. Force flag must be unset for non-apply patch requests.",
    ),
    "gracePeriodSeconds": (
        "integer",
        "The duration in seconds before the object should be deleted. Value must be non-negative integer. "
        "The value zero indicates delete immediately. If this value is nil, the default grace period for the "
        "specified type will be used. Defaults to a per object value if not specified. zero means delete "
        "immediately.",
    ),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "boolean",
        "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow "
        "fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from "
        "the underlying storage successfully because of a) its data can not be transformed e.g. decryption "
        "failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer "
        "constraints, skips precondition checks, and removes the object from the storage. WARNING: This may "
        "potentially break the cluster if the workload associated with the resource being unsafe-deleted "
        "relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value "
        "is false, and the user must opt in to enable it",
    ),
    "labelSelector": (
        "string",
        "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    ),
    "limit": (
        "integer",
        "limit is a maximum number of responses to return for a list call. If more items exist, the server "
        "will set the `continue` field on the list metadata to a value that can be used with the same "
        "initial query to retrieve the next set of results. Setting a limit may return fewer than the "
        "requested amount of items (up to zero items) in the event all requested objects are filtered out "
        "and clients should only use the presence of the continue field to determine whether more results "
        "are available. Servers may choose not to support the limit argument and will return all of the "
        "available results. If limit is specified and the continue field is empty, clients may assume that "
        "no more results are available. This field is not supported if watch is true.\n\nThe server "
        "guarantees that the objects returned when using continue will be identical to issuing a single list "
        "call without a limit - that is, no objects created, modified, or deleted after the first request is "
        "issued will be included in any subsequent continued requests. This is sometimes referred to as a "
        "consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a "
        "very large result can ensure they see all possible objects. If objects are updated during a chunked "
        "list the version of the object that was present at the time the first list result was calculated "
        "is returned.",
    ),
    "orphanDependents": (
        "boolean",
        "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the "
        'dependent objects be orphaned. If true/false, the "orphan" finalizer will be added to/removed from '
        "the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
    ),
    "pretty": (
        "string",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a "
        "browser or command-line HTTP tool (curl and wget).",
    ),
    "propagationPolicy": (
        "string",
        "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be "
        "set, but not both. The default policy is decided by the existing finalizer set in the "
        "metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - "
        "orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the "
        "background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
    ),
    "resourceVersion": (
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from. See "
        "https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details."
        "\n\nDefaults to unset",
    ),
    "resourceVersionMatch": (
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly "
        "recommended that resourceVersionMatch be set for list calls where resourceVersion is set See "
        "https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details."
        "\n\nDefaults to unset",
    ),
    "sendInitialEvents": (
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will "
        "begin with synthetic events to produce the current state of objects in the collection. Once all "
        'such events have been sent, a synthetic "Bookmark" event  will be sent. The bookmark will report '
        'the ResourceVersion (RV) corresponding to the set of objects, and be marked with `"k8s.io/initial-'
        'events-end": "true"` annotation. Afterwards, the watch stream will proceed as usual, sending watch '
        "events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen "
        "`sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The "
        "semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is "
        'interpreted as "data at least as new as the provided `resourceVersion`"\n  and the bookmark event '
        "is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by "
        'the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as "consistent read" and '
        "the\n  bookmark event is send when the state is synced at least to the moment\n  when request "
        "started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error "
        'is returned.\n\nDefaults to true if `resourceVersion=""` or `resourceVersion="0"` (for backward '
        "compatibility reasons) and to false otherwise.",
    ),
    "timeoutSeconds": (
        "integer",
        "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity "
        "or inactivity.",
    ),
    "watch": (
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, update, and remove "
        "notifications. Specify resourceVersion.",
    ),
}
_FIELD_MANAGER_PATCH = (
    _P_TEXT["fieldManager"][1] + " This field is required for apply requests (application/apply-patch) but "
    "optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch)."
)


def _param(name: str, where: str = "query", description: str | None = None, typ: str | None = None) -> dict:
    t, text = _P_TEXT.get(name, ("string", ""))
    p: dict[str, Any] = {}
    if description is not None:
        text = description
    if text:
        p["description"] = text
    p["in"] = where
    p["name"] = name
    if where == "path":
        p["required"] = True
    p["schema"] = {"type": typ or t, "uniqueItems": True}
    return p


# Shared parameter objects (serialised many times, built once).
_P = {name: _param(name) for name in _P_TEXT}
_P_FIELD_MANAGER_PATCH = _param("fieldManager", description=_FIELD_MANAGER_PATCH)
_P_NAMESPACE = _param("namespace", "path", "object name and auth scope, such as for teams and projects")
_LIST_PARAMS = [
    _P[n]
    for n in (
        "allowWatchBookmarks",
        "continue",
        "fieldSelector",
        "labelSelector",
        "limit",
        "resourceVersion",
        "resourceVersionMatch",
        "sendInitialEvents",
        "timeoutSeconds",
        "watch",
    )
]
_WRITE_PARAMS = [_P["dryRun"], _P["fieldManager"], _P["fieldValidation"]]
_PATCH_PARAMS = [_P["dryRun"], _P_FIELD_MANAGER_PATCH, _P["fieldValidation"], _P["force"]]
_DELETE_PARAMS = [
    _P[n]
    for n in (
        "dryRun",
        "gracePeriodSeconds",
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "orphanDependents",
        "propagationPolicy",
    )
]
_DELETECOLLECTION_PARAMS = [
    _P[n]
    for n in (
        "continue",
        "dryRun",
        "fieldSelector",
        "gracePeriodSeconds",
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        "labelSelector",
        "limit",
        "orphanDependents",
        "propagationPolicy",
        "resourceVersion",
        "resourceVersionMatch",
        "sendInitialEvents",
        "timeoutSeconds",
    )
]


def _sorted_params(params: Iterable[dict]) -> list[dict]:
    return sorted(params, key=lambda p: p["name"])


# Parameters of subresources that are not metav1 options (PodLogOptions, Pod*Options); upstream
# documents them from those types, which kubernetes-validate does not carry: names and types only.
_LOG_PARAMS = [
    _param(n, typ=t)
    for n, t in (
        ("container", "string"),
        ("follow", "boolean"),
        ("insecureSkipTLSVerifyBackend", "boolean"),
        ("limitBytes", "integer"),
        ("previous", "boolean"),
        ("sinceSeconds", "integer"),
        ("stream", "string"),
        ("tailLines", "integer"),
        ("timestamps", "boolean"),
    )
]
_CONNECT: dict[str, tuple[str, list[dict]]] = {
    # subresource -> (options kind, query parameters)
    "attach": (
        "PodAttachOptions",
        [
            _param(n, typ=t)
            for n, t in (
                ("container", "string"),
                ("stderr", "boolean"),
                ("stdin", "boolean"),
                ("stdout", "boolean"),
                ("tty", "boolean"),
            )
        ],
    ),
    "exec": (
        "PodExecOptions",
        [
            _param(n, typ=t)
            for n, t in (
                ("command", "string"),
                ("container", "string"),
                ("stderr", "boolean"),
                ("stdin", "boolean"),
                ("stdout", "boolean"),
                ("tty", "boolean"),
            )
        ],
    ),
    "portforward": ("PodPortForwardOptions", [_param("ports", typ="integer")]),
    "proxy": ("ProxyOptions", [_param("path", typ="string")]),
}
_CONNECT_METHODS = {"get": "get", "create": "post", "delete": "delete", "patch": "patch", "update": "put"}
# Subresources whose body kind the registry leaves implicit.
_SUB_KINDS = {"binding": ("", "v1", "Binding")}


# ---------------------------------------------------------------------------- schema conversion
def _strip_null(t: Any) -> Any:
    if isinstance(t, list):
        rest = [x for x in t if x != "null"]
        return rest[0] if len(rest) == 1 else rest
    return t


def _convert(node: Any, ref_prefix: str, v3: bool) -> Any:
    """A kubernetes-validate JSON-schema node as an OpenAPI schema (v3: refs with siblings wrapped
    in `allOf`, as kube-openapi writes them; v2: `$ref` beside its description)."""
    if isinstance(node, list):
        return [_convert(x, ref_prefix, v3) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    ref = None
    for k, v in node.items():
        if k == "$ref":
            ref = ref_prefix + v[len(_KV_REF) :] if isinstance(v, str) and v.startswith(_KV_REF) else v
        elif k == "type":
            out[k] = _strip_null(v)
        elif k == "properties" and isinstance(v, dict):
            out[k] = {pk: _convert(pv, ref_prefix, v3) for pk, pv in v.items()}
        elif k in ("items", "additionalProperties", "not") or k in ("allOf", "oneOf", "anyOf"):
            out[k] = _convert(v, ref_prefix, v3)
        else:
            out[k] = v
    if ref is None:
        return out
    if not out:
        return {"$ref": ref}
    if v3:
        return {"allOf": [{"$ref": ref}], **out}
    return {"$ref": ref, **out}


def _convert_definition(name: str, d: dict[str, Any], ref_prefix: str, v3: bool) -> dict[str, Any]:
    if name == INT_OR_STRING:  # kube-openapi: OpenAPIV3OneOfTypes integer, string; v2: int-or-string
        if v3:
            return {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
        return {"format": "int-or-string", "type": "string"}
    if name == QUANTITY:  # OpenAPIV3OneOfTypes string, number
        return {"oneOf": [{"type": "string"}, {"type": "number"}]} if v3 else {"type": "string"}
    out = _convert(d, ref_prefix, v3)
    props = out.get("properties")
    if isinstance(props, dict):
        # openapi2jsonschema pins apiVersion/kind with an enum; the API's own documents do not.
        for key in ("apiVersion", "kind"):
            p = props.get(key)
            if isinstance(p, dict) and "enum" in p:
                props[key] = {k: v for k, v in p.items() if k != "enum"}
    return out


_conv_lock = threading.Lock()
_V3_DEFS: dict[str, dict[str, Any]] = {}
_V2_DEFS: dict[str, dict[str, Any]] = {}
_DEPS: dict[str, frozenset[str]] = {}


def v3_definition(name: str) -> dict[str, Any] | None:
    """The OpenAPI v3 form of one built-in definition (memoised; treat as read-only)."""
    hit = _V3_DEFS.get(name)
    if hit is None:
        d = definitions().get(name)
        if d is None:
            return None
        hit = _convert_definition(name, d, V3_REF, True)
        with _conv_lock:
            _V3_DEFS[name] = hit
    return hit


def v2_definition(name: str) -> dict[str, Any] | None:
    hit = _V2_DEFS.get(name)
    if hit is None:
        d = definitions().get(name)
        if d is None:
            return None
        hit = _convert_definition(name, d, V2_REF, False)
        with _conv_lock:
            _V2_DEFS[name] = hit
    return hit


def _refs_in(node: Any, out: set[str]) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str):
                for prefix in (_KV_REF, V3_REF, V2_REF):
                    if ref.startswith(prefix):
                        out.add(ref[len(prefix) :])
                        break
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def _deps(name: str) -> frozenset[str]:
    hit = _DEPS.get(name)
    if hit is None:
        refs: set[str] = set()
        d = definitions().get(name)
        if d is not None and name not in (INT_OR_STRING, QUANTITY):
            _refs_in(d, refs)
        hit = frozenset(refs)
        _DEPS[name] = hit
    return hit


def reachable(names: Iterable[str]) -> list[str]:
    """Every built-in definition reachable from `names` through `$ref`s, sorted."""
    seen: set[str] = set()
    stack = [n for n in names if n in definitions()]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(d for d in _deps(n) if d not in seen)
    return sorted(seen)


# ---------------------------------------------------------------------------- naming
def _to_operation_id(s: str, capitalize_first: bool) -> str:
    """apiserver's ToValidOperationID: letters, '_' and non-leading digits; capitalise after others."""
    buf: list[str] = []
    capitalize = capitalize_first
    for i, ch in enumerate(s):
        if ch.isalpha() or ch == "_" or (i != 0 and ch.isdigit()):
            buf.append(ch.upper() if capitalize else ch)
            capitalize = False
        else:
            capitalize = True
    return "".join(buf)


def _group_id(group: str) -> str:
    """`apps` -> `Apps`, `rbac.authorization.k8s.io` -> `RbacAuthorization`, core -> `Core`."""
    return _to_operation_id((group or "core").removesuffix(".k8s.io"), True)


def _tag(group: str, version: str) -> str:
    return (
        _to_operation_id((group or "core").removesuffix(".k8s.io"), False)
        + "_"
        + _to_operation_id(version, False)
    )


def _article(noun: str) -> str:
    """apiserver's GetArticleForNoun(noun, " ")."""
    if not noun.endswith("ss") and noun.endswith("s"):
        return " "
    return " an " if noun[:1].lower() in "aeiou" else " a "


def _reverse_group(group: str) -> str:
    return ".".join(reversed(group.split(".")))


def gv_path(group: str, version: str) -> str:
    """The key of a group-version in the `/openapi/v3` index: `api/v1`, `apis/apps/v1`."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


# ---------------------------------------------------------------------------- documents
def _content(ref: str | None, types: Iterable[str], schema: dict | None = None) -> dict[str, Any]:
    sch = schema if schema is not None else {"$ref": ref}
    return {t: {"schema": sch} for t in types}


def _responses(codes: Iterable[tuple[str, str, dict[str, Any] | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, description, content in codes:
        r: dict[str, Any] = {}
        if content is not None:
            r["content"] = content
        r["description"] = description
        out[code] = r
    out["401"] = {"description": "Unauthorized"}
    return out


class _GVBuilder:
    """The paths of one group-version document and the schemas they reference."""

    def __init__(self, api: OpenAPI, group: str, version: str) -> None:
        self.api = api
        self.group = group
        self.version = version
        self.prefix = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        self.gid = _group_id(group) + _to_operation_id(version, True)
        self.tag = _tag(group, version)
        self.paths: dict[str, dict[str, Any]] = {}
        self.refs: set[str] = set()  # built-in definitions used directly
        self.custom: dict[str, dict[str, Any]] = {}  # custom schemas by component name

    # -- helpers
    def ref(self, name: str) -> str:
        self.refs.add(name)
        return V3_REF + name

    def item(self, path: str, params: list[dict]) -> dict[str, Any]:
        it = self.paths.get(path)
        if it is None:
            it = self.paths[path] = {"parameters": _sorted_params(params)}
        return it

    def op(
        self,
        action: str,
        op_id: str,
        description: str,
        gvk: dict[str, str] | None,
        responses: dict[str, Any],
        params: list[dict] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        o: dict[str, Any] = {"description": description, "operationId": op_id}
        if params:
            o["parameters"] = params
        if body is not None:
            o["requestBody"] = body
        o["responses"] = responses
        o["tags"] = [self.tag]
        o["x-kubernetes-action"] = action
        if gvk is not None:
            o["x-kubernetes-group-version-kind"] = gvk
        return o

    # -- the group-version root
    def root(self) -> None:
        self.paths[self.prefix + "/"] = {
            "get": {
                "description": "get available resources",
                "operationId": f"get{self.gid}APIResources",
                "responses": _responses(
                    [("200", "OK", _content(self.ref(API_RESOURCE_LIST), _BUILTIN_OBJECT_TYPES))]
                ),
                "tags": [self.tag],
            }
        }

    # -- one resource
    def schema_names(self, group: str, version: str, kind: str) -> tuple[str | None, bool]:
        """(component name, is custom) of a kind's schema."""
        custom = self.api._custom.get((group, version, kind))
        if custom is not None:
            name, schema = custom
            self.custom[name] = schema
            return name, True
        name = definition_for(group, version, kind)
        if name is not None:
            self.refs.add(name)
        return name, False

    def resource(self, rt: ResourceType) -> None:
        kind_name, custom = self.schema_names(rt.group, rt.version, rt.kind)
        if kind_name is None:  # a kind without any schema: served as a custom resource without one
            kind_name = self.api._synthesize_custom(rt)
            self.custom[kind_name] = self.api._custom[(rt.group, rt.version, rt.kind)][1]
            custom = True
        list_name, _ = self.schema_names(rt.group, rt.version, rt.list_kind)
        if list_name is None and custom:
            list_name = self.api._synthesize_list(rt, kind_name)
            self.custom[list_name] = self.api._custom[(rt.group, rt.version, rt.list_kind)][1]
        obj_types = _CUSTOM_OBJECT_TYPES if custom else _BUILTIN_OBJECT_TYPES
        stream_types = _CUSTOM_STREAM_TYPES if custom else _BUILTIN_STREAM_TYPES
        patch_types = CUSTOM_PATCH_TYPES if custom else BUILTIN_PATCH_TYPES
        kind = rt.kind
        kref = V3_REF + kind_name
        gvk = {"group": rt.group, "kind": kind, "version": rt.version}
        verbs = set(rt.verbs)
        cluster_ns = rt.kind == "Namespace" and not rt.group
        ns = rt.namespaced
        nsd = "Namespaced" if ns else ""
        base = self.prefix + ("/namespaces/{namespace}" if ns else "")
        coll = f"{base}/{rt.plural}"
        item_path = f"{coll}/{{name}}"
        pretty = _P["pretty"]
        ns_params = [_P_NAMESPACE] if ns else []
        name_param = _param("name", "path", f"name of the {kind}")
        obj = _content(kref, obj_types)
        art = _article(kind)

        if verbs & {"list", "create", "deletecollection"}:
            coll_item = self.item(coll, [*ns_params, pretty])
            if "list" in verbs and list_name is not None:
                coll_item["get"] = self.op(
                    "list",
                    f"list{self.gid}{nsd}{kind}",
                    f"list or watch objects of kind {kind}",
                    gvk,
                    _responses([("200", "OK", _content(V3_REF + list_name, stream_types))]),
                    _LIST_PARAMS,
                )
            if "create" in verbs:
                coll_item["post"] = self.op(
                    "post",
                    f"create{self.gid}{nsd}{kind}",
                    f"create{art}{kind}",
                    gvk,
                    _responses([("200", "OK", obj), ("201", "Created", obj), ("202", "Accepted", obj)]),
                    _WRITE_PARAMS,
                    {"content": {"*/*": {"schema": {"$ref": kref}}}, "required": True},
                )
            if "deletecollection" in verbs:
                coll_item["delete"] = self.op(
                    "deletecollection",
                    f"delete{self.gid}Collection{nsd}{kind}",
                    f"delete collection of {kind}",
                    gvk,
                    _responses([("200", "OK", _content(self.ref(STATUS), obj_types))]),
                    _DELETECOLLECTION_PARAMS,
                    {"content": {"*/*": {"schema": {"$ref": self.ref(DELETE_OPTIONS)}}}},
                )
        if verbs & {"get", "update", "patch", "delete"}:
            it = self.item(item_path, [name_param, *ns_params, pretty])
            if "get" in verbs:
                it["get"] = self.op(
                    "get",
                    f"read{self.gid}{nsd}{kind}",
                    f"read the specified {kind}",
                    gvk,
                    _responses([("200", "OK", obj)]),
                )
            if "update" in verbs:
                it["put"] = self.op(
                    "put",
                    f"replace{self.gid}{nsd}{kind}",
                    f"replace the specified {kind}",
                    gvk,
                    _responses([("200", "OK", obj), ("201", "Created", obj)]),
                    _WRITE_PARAMS,
                    {"content": {"*/*": {"schema": {"$ref": kref}}}, "required": True},
                )
            if "patch" in verbs:
                it["patch"] = self.op(
                    "patch",
                    f"patch{self.gid}{nsd}{kind}",
                    f"partially update the specified {kind}",
                    gvk,
                    _responses([("200", "OK", obj), ("201", "Created", obj)]),
                    _PATCH_PARAMS,
                    self.patch_body(patch_types),
                )
            if "delete" in verbs:
                deleted = obj if rt.delete_returns_object else _content(self.ref(STATUS), obj_types)
                it["delete"] = self.op(
                    "delete",
                    f"delete{self.gid}{nsd}{kind}",
                    f"delete{art}{kind}",
                    gvk,
                    _responses([("200", "OK", deleted), ("202", "Accepted", deleted)]),
                    _DELETE_PARAMS,
                    {"content": {"*/*": {"schema": {"$ref": self.ref(DELETE_OPTIONS)}}}},
                )
        if ns and "list" in verbs and list_name is not None:
            self.item(f"{self.prefix}/{rt.plural}", [*_LIST_PARAMS, pretty])["get"] = self.op(
                "list",
                f"list{self.gid}{kind}ForAllNamespaces",
                f"list or watch objects of kind {kind}",
                gvk,
                _responses([("200", "OK", _content(V3_REF + list_name, stream_types))]),
            )
        if "watch" in verbs:
            events = _content(self.ref(WATCH_EVENT), stream_types)
            wbase = self.prefix + "/watch" + ("/namespaces/{namespace}" if ns else "")
            list_desc = (
                f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with "
                "a list operation instead."
            )
            self.item(f"{wbase}/{rt.plural}", [*_LIST_PARAMS, *ns_params, pretty])["get"] = self.op(
                "watchlist",
                f"watch{self.gid}{nsd}{kind}List",
                list_desc,
                gvk,
                _responses([("200", "OK", events)]),
            )
            self.item(f"{wbase}/{rt.plural}/{{name}}", [*_LIST_PARAMS, name_param, *ns_params, pretty])[
                "get"
            ] = self.op(
                "watch",
                f"watch{self.gid}{nsd}{kind}",
                f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a "
                "list operation, filtered to a single item with the 'fieldSelector' parameter.",
                gvk,
                _responses([("200", "OK", events)]),
            )
            if ns:
                self.item(f"{self.prefix}/watch/{rt.plural}", [*_LIST_PARAMS, pretty])["get"] = self.op(
                    "watchlist",
                    f"watch{self.gid}{kind}ListForAllNamespaces",
                    list_desc,
                    gvk,
                    _responses([("200", "OK", events)]),
                )
        for sub in rt.subresources:
            self.subresource(rt, sub, item_path, ns_params, kref, obj_types, patch_types, cluster_ns)

    def patch_body(self, patch_types: Iterable[str]) -> dict[str, Any]:
        return {"content": _content(self.ref(PATCH), patch_types), "required": True}

    def subresource(
        self,
        rt: ResourceType,
        sub: Any,
        item_path: str,
        ns_params: list[dict],
        kref: str,
        obj_types: tuple[str, ...],
        patch_types: tuple[str, ...],
        cluster_ns: bool,
    ) -> None:
        kind = rt.kind
        nsd = "Namespaced" if rt.namespaced else ""
        title = sub.name[:1].upper() + sub.name[1:]
        path = f"{item_path}/{sub.name}"
        pretty = _P["pretty"]
        if sub.name in _CONNECT:
            opts_kind, params = _CONNECT[sub.name]
            if opts_kind == "ProxyOptions":
                opts_kind = f"{kind}ProxyOptions"
            gvk = {"group": rt.group, "kind": opts_kind, "version": rt.version}
            name_param = _param("name", "path", f"name of the {opts_kind}")
            variants = [(path, [name_param, *ns_params], "")]
            if sub.name == "proxy":
                variants.append(
                    (
                        path + "/{path}",
                        [name_param, *ns_params, _param("path", "path", "path to the resource")],
                        "WithPath",
                    )
                )
            for vpath, vparams, suffix in variants:
                it = self.item(vpath, vparams)
                methods = [_CONNECT_METHODS[v] for v in sub.verbs if v in _CONNECT_METHODS]
                if sub.name == "proxy" and "get" in methods:
                    methods += ["head", "options"]  # proxies answer every HTTP method
                for method in sorted(methods):
                    it[method] = self.op(
                        "connect",
                        f"connect{self.gid}{method.capitalize()}{nsd}{kind}{title}{suffix}",
                        f"connect {method.upper()} requests to {sub.name} of {kind}",
                        gvk,
                        _responses([("200", "OK", {"*/*": {"schema": {"type": "string"}}})]),
                        params,
                    )
            return
        if sub.name == "log":
            gvk = {"group": rt.group, "kind": kind, "version": rt.version}
            it = self.item(path, [_param("name", "path", f"name of the {kind}"), *ns_params, pretty])
            it["get"] = self.op(
                "get",
                f"read{self.gid}{nsd}{kind}Log",
                f"read log of the specified {kind}",
                gvk,
                _responses(
                    [("200", "OK", _content(None, ("text/plain", JSON, PROTOBUF, YAML), {"type": "string"}))]
                ),
                _LOG_PARAMS,
            )
            return
        if sub.kind is not None:
            sg, sv, sk = (
                (sub.group if sub.group is not None else rt.group),
                (sub.version or rt.version),
                sub.kind,
            )
        elif sub.name in _SUB_KINDS:
            sg, sv, sk = _SUB_KINDS[sub.name]
        else:
            sg, sv, sk = rt.group, rt.version, kind
        if (sg, sv, sk) == (rt.group, rt.version, kind):
            sref = kref
        else:
            sname, _ = self.schema_names(sg, sv, sk)
            if sname is None:
                return
            sref = V3_REF + sname
        gvk = {"group": sg, "kind": sk, "version": sv}
        obj = _content(sref, obj_types)
        it = self.item(path, [_param("name", "path", f"name of the {sk}"), *ns_params, pretty])
        body = {"content": {"*/*": {"schema": {"$ref": sref}}}, "required": True}
        verbs = set(sub.verbs)
        if "get" in verbs:
            it["get"] = self.op(
                "get",
                f"read{self.gid}{nsd}{kind}{title}",
                f"read {sub.name} of the specified {kind}",
                gvk,
                _responses([("200", "OK", obj)]),
            )
        if "update" in verbs:
            it["put"] = self.op(
                "put",
                f"replace{self.gid}{nsd}{kind}{title}",
                f"replace {sub.name} of the specified {kind}",
                gvk,
                _responses([("200", "OK", obj), ("201", "Created", obj)]),
                _WRITE_PARAMS,
                body,
            )
        if "patch" in verbs:
            it["patch"] = self.op(
                "patch",
                f"patch{self.gid}{nsd}{kind}{title}",
                f"partially update {sub.name} of the specified {kind}",
                gvk,
                _responses([("200", "OK", obj), ("201", "Created", obj)]),
                _PATCH_PARAMS,
                self.patch_body(patch_types),
            )
        if "create" in verbs:
            it["post"] = self.op(
                "post",
                f"create{self.gid}{nsd}{kind}{title}",
                f"create {sub.name} of{_article(kind)}{kind}",
                gvk,
                _responses([("200", "OK", obj), ("201", "Created", obj), ("202", "Accepted", obj)]),
                _WRITE_PARAMS,
                body,
            )

    def document(self, info_version: str) -> dict[str, Any]:
        schemas: dict[str, Any] = {}
        extra: set[str] = set()
        for sch in self.custom.values():
            _refs_in(sch, extra)
        for name in reachable(self.refs | extra):
            s = v3_definition(name)
            if s is not None:
                schemas[name] = s
        schemas.update(self.custom)
        return _doc(info_version, self.paths, schemas)


def _doc(info_version: str, paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": info_version},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _BEARER},
    }


def _simple_doc(
    info_version: str, path: str, op_id: str, description: str, tag: str, schema: str, types: tuple[str, ...]
) -> dict[str, Any]:
    paths = {
        path: {
            "get": {
                "description": description,
                "operationId": op_id,
                "responses": _responses([("200", "OK", _content(V3_REF + schema, types))]),
                "tags": [tag],
            }
        }
    }
    return _doc(info_version, paths, {n: v3_definition(n) for n in reachable([schema])})


# ---------------------------------------------------------------------------- custom schemas
def _type_meta_props() -> dict[str, Any]:
    """apiVersion, kind and metadata as every built-in kind documents them (taken from ConfigMap)."""
    cm = v3_definition("io.k8s.api.core.v1.ConfigMap") or {}
    props = cm.get("properties", {})
    return {k: props[k] for k in ("apiVersion", "kind", "metadata") if k in props}


def _list_props() -> dict[str, Any]:
    cml = v3_definition("io.k8s.api.core.v1.ConfigMapList") or {}
    props = cml.get("properties", {})
    return {k: props[k] for k in ("apiVersion", "kind", "metadata") if k in props}


def custom_resource_schema(
    group: str, version: str, kind: str, schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The published schema of a custom resource: its `openAPIV3Schema` with apiVersion, kind and
    metadata (a reference to ObjectMeta) added and `x-kubernetes-group-version-kind` set, as the
    apiextensions OpenAPI builder does."""
    s: dict[str, Any] = orjson.loads(orjson.dumps(schema)) if schema else {}
    if not s:
        s = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    s.setdefault("type", "object")
    props = dict(s.get("properties") or {})
    props.update(_type_meta_props())
    s["properties"] = props
    s["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return s


def custom_list_schema(group: str, version: str, kind: str, plural: str, item_name: str) -> dict[str, Any]:
    props = _list_props()
    props["items"] = {
        "description": f"List of {plural}. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
        "items": {"$ref": V3_REF + item_name},
        "type": "array",
    }
    return {
        "description": f"{kind}List is a list of {kind}",
        "properties": dict(sorted(props.items())),
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": group, "kind": kind + "List", "version": version}],
    }


def _v3_to_v2_schema(node: Any) -> Any:
    """A v3 schema (custom resources) in v2 form: refs re-pointed, allOf-wrapped refs unwrapped."""
    if isinstance(node, list):
        return [_v3_to_v2_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str) and v.startswith(V3_REF):
            out[k] = V2_REF + v[len(V3_REF) :]
        elif k == "nullable":
            continue
        elif k == "properties" and isinstance(v, dict):
            out[k] = {pk: _v3_to_v2_schema(pv) for pk, pv in v.items()}
        else:
            out[k] = _v3_to_v2_schema(v)
    allof = out.get("allOf")
    if (
        isinstance(allof, list)
        and len(allof) == 1
        and isinstance(allof[0], dict)
        and list(allof[0]) == ["$ref"]
    ):
        rest = {k: v for k, v in out.items() if k != "allOf"}
        return {"$ref": allof[0]["$ref"], **rest}
    return out


# ---------------------------------------------------------------------------- HTTP helpers
def _http_date(t: float) -> str:
    return email.utils.formatdate(t, usegmt=True)


def _etag(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()


def _accept_clauses(accept: str | None) -> list[tuple[str, str]]:
    """(type, subtype) of the Accept header's clauses, highest q first (goautoneg's order)."""
    if not accept or not accept.strip():
        accept = "*/*"
    clauses: list[tuple[float, int, int, str, str]] = []
    for i, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        if not mt:
            continue
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        typ, _, sub = mt.partition("/")
        if not sub:
            typ, sub = mt, "*" if mt == "*" else ""
        specific = (typ != "*") + (sub != "*")
        clauses.append((-q, -specific, i, typ, sub))
    clauses.sort()
    return [(c[3], c[4]) for c in clauses]


def _negotiate(accept: str | None, offers: Iterable[str]) -> str | None:
    """The first offered media type an Accept clause admits, clause by clause (upstream's loop)."""
    offers = list(offers)
    for typ, sub in _accept_clauses(accept):
        for offer in offers:
            ot, _, os_ = offer.partition("/")
            if (typ == ot or typ == "*") and (sub == os_ or sub == "*"):
                return offer
    return None


def _if_none_match(header: str | None, etag: str) -> bool:
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


_NOT_FOUND = (
    404,
    {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    b"404 page not found\n",
)


# ---------------------------------------------------------------------------- the service
class OpenAPI:
    """OpenAPI v3 and v2 documents of the served API, built from `registry`.

    Documents are built on first use and cached as bytes with their hash; call `invalidate()`
    after the registry changes (custom resources added or removed), and `set_schema()` /
    `remove_schema()` for a custom resource version's `openAPIV3Schema`. Thread-safe."""

    def __init__(self, registry: Registry, *, version: str = KUBE_VERSION) -> None:
        self.registry = registry
        self.version = version
        self._lock = threading.RLock()
        self._custom: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
        self._docs: dict[str, tuple[bytes, str, float]] = {}
        self._index: tuple[bytes, str, float] | None = None
        self._v2: tuple[bytes, str, float] | None = None

    # -- custom resources
    def set_schema(
        self, group: str, version: str, kind: str, schema: Mapping[str, Any] | None, *, plural: str = ""
    ) -> None:
        """Publish a custom resource version's schema (its CRD `openAPIV3Schema`; None: any object).
        The list kind `<Kind>List` is published with it. The resource itself must be in the
        registry for paths to appear."""
        name = f"{_reverse_group(group)}.{version}.{kind}"
        item = custom_resource_schema(group, version, kind, schema)
        if not plural:
            rt = self.registry.by_kind(group, version, kind)
            plural = rt.plural if rt is not None else kind.lower() + "s"
        lst = custom_list_schema(group, version, kind, plural, name)
        with self._lock:
            self._custom[(group, version, kind)] = (name, item)
            self._custom[(group, version, kind + "List")] = (name + "List", lst)
            self.invalidate(group, version)

    def remove_schema(self, group: str, version: str, kind: str) -> None:
        with self._lock:
            self._custom.pop((group, version, kind), None)
            self._custom.pop((group, version, kind + "List"), None)
            self.invalidate(group, version)

    def _synthesize_custom(self, rt: ResourceType) -> str:
        name = f"{_reverse_group(rt.group)}.{rt.version}.{rt.kind}"
        self._custom[(rt.group, rt.version, rt.kind)] = (
            name,
            custom_resource_schema(rt.group, rt.version, rt.kind, None),
        )
        return name

    def _synthesize_list(self, rt: ResourceType, item_name: str) -> str:
        name = item_name + "List"
        self._custom[(rt.group, rt.version, rt.list_kind)] = (
            name,
            custom_list_schema(rt.group, rt.version, rt.kind, rt.plural, item_name),
        )
        return name

    def invalidate(self, group: str | None = None, version: str | None = None) -> None:
        """Forget cached documents: one group-version's (and the index and v2), or all."""
        with self._lock:
            if group is None:
                self._docs.clear()
            else:
                self._docs.pop(gv_path(group, version or ""), None)
                self._docs.pop(f"apis/{group}", None)
                self._docs.pop("apis", None)
            self._index = None
            self._v2 = None

    # -- documents
    def paths(self) -> list[str]:
        """The keys of the `/openapi/v3` index."""
        keys = ["api", "apis", "version"]
        for group, versions in self.registry.groups().items():
            if group:
                keys.append(f"apis/{group}")
            keys.extend(gv_path(group, v) for v in versions)
        return sorted(set(keys))

    def build_document(self, key: str) -> dict[str, Any] | None:
        """The document of one index key (`api/v1`, `apis/apps/v1`, `apis/apps`, `api`, ...)."""
        parts = key.split("/")
        if key == "api":
            return _simple_doc(
                self.version,
                "/api/",
                "getCoreAPIVersions",
                "get available API versions",
                "core",
                API_VERSIONS,
                _BUILTIN_OBJECT_TYPES,
            )
        if key == "apis":
            return _simple_doc(
                self.version,
                "/apis/",
                "getAPIVersions",
                "get available API versions",
                "apis",
                API_GROUP_LIST,
                _BUILTIN_OBJECT_TYPES,
            )
        if key == "version":
            return _simple_doc(
                self.version,
                "/version/",
                "getCodeVersion",
                "get the version information for this server",
                "version",
                VERSION_INFO,
                (JSON,),
            )
        groups = self.registry.groups()
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups and parts[1]:
            g = parts[1]
            return _simple_doc(
                self.version,
                f"/apis/{g}/",
                f"get{_group_id(g)}APIGroup",
                "get information of a group",
                _to_operation_id(g.removesuffix(".k8s.io"), False),
                API_GROUP,
                _BUILTIN_OBJECT_TYPES,
            )
        if len(parts) == 2 and parts[0] == "api":
            group, version = "", parts[1]
        elif len(parts) == 3 and parts[0] == "apis":
            group, version = parts[1], parts[2]
        else:
            return None
        types = self.registry.in_group_version(group, version)
        if not types:
            return None
        with self._lock:
            b = _GVBuilder(self, group, version)
            b.root()
            for rt in sorted(types, key=lambda t: t.plural):
                b.resource(rt)
            return b.document(self.version)

    def _cached(self, key: str) -> tuple[bytes, str, float] | None:
        hit = self._docs.get(key)
        if hit is None:
            with self._lock:
                hit = self._docs.get(key)
                if hit is None:
                    doc = self.build_document(key)
                    if doc is None:
                        return None
                    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
                    hit = (body, _etag(body), time.time())
                    self._docs[key] = hit
        return hit

    def document(self, key: str) -> tuple[bytes, str] | None:
        """(JSON bytes, hash) of one index key's document; None if there is no such document."""
        hit = self._cached(key)
        return None if hit is None else (hit[0], hit[1])

    def server_relative_url(self, key: str, hash_: str) -> str:
        return f"/openapi/v3/{key}?hash={quote(hash_)}"

    def index(self) -> bytes:
        """The `/openapi/v3` discovery document (builds every document to hash it)."""
        return self._index_entry()[0]

    def _index_entry(self) -> tuple[bytes, str, float]:
        hit = self._index
        if hit is None:
            with self._lock:
                paths: dict[str, dict[str, str]] = {}
                for key in self.paths():
                    doc = self._cached(key)
                    if doc is not None:
                        paths[key] = {"serverRelativeURL": self.server_relative_url(key, doc[1])}
                body = orjson.dumps({"paths": paths}, option=orjson.OPT_SORT_KEYS)
                hit = self._index = (body, _etag(body), time.time())
        return hit

    def v2(self) -> bytes:
        """The OpenAPI v2 (Swagger 2.0) document as JSON: every definition, every served path."""
        return self._v2_entry()[0]

    def _v2_entry(self) -> tuple[bytes, str, float]:
        hit = self._v2
        if hit is None:
            with self._lock:
                body = orjson.dumps(self._build_v2(), option=orjson.OPT_SORT_KEYS)
                hit = self._v2 = (body, _etag(body), time.time())
        return hit

    def _build_v2(self) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for key in self.paths():
            doc = self.build_document(key)
            if doc is None:
                continue
            for p, item in doc["paths"].items():
                paths[p] = _v2_path_item(item)
        defs: dict[str, Any] = {}
        for name in definitions():
            d = v2_definition(name)
            if d is not None:
                defs[name] = d
        for name, schema in self._custom.values():
            defs[name] = _v3_to_v2_schema(schema)
        return {
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": self.version},
            "paths": paths,
            "definitions": defs,
            "securityDefinitions": _BEARER,
            "security": [{"BearerToken": []}],
        }

    # -- HTTP
    def handle(
        self,
        path: str,
        query: Mapping[str, str],
        accept: str | None,
        if_none_match: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve `/openapi/v3`, `/openapi/v3/<key>` and `/openapi/v2` as kube-openapi's handlers do:
        returns (status, headers, body). A GET with `?hash=` equal to the current hash is marked
        immutable (`Cache-Control: public, immutable`, `Expires` a year ahead); a stale hash gets a
        301 to the current URL; `If-None-Match` matching the ETag gets 304; an Accept that admits no
        JSON gets 406."""
        if path in ("/openapi/v3", "/openapi/v3/"):
            body, etag, modified = self._index_entry()
            return self._serve(body, etag, modified, {"Content-Type": JSON}, if_none_match)
        if path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/") :].strip("/")
            hit = self._cached(key)
            if hit is None:
                return _NOT_FOUND
            offer = _negotiate(accept, (JSON, V3_PROTOBUF_NEW, V3_PROTOBUF))
            if offer != JSON:
                alt = _negotiate(accept, (JSON,))  # protobuf is not produced: fall back if JSON is admitted
                if alt is None:
                    return 406, {"Vary": "Accept"}, b""
            body, etag, modified = hit
            headers = {"Content-Type": JSON, "Vary": "Accept"}
            wanted = query.get("hash")
            if wanted:
                if wanted != etag:
                    return (
                        301,
                        {
                            "Content-Type": JSON,
                            "Etag": f'"{etag}"',
                            "Location": self.server_relative_url(key, etag),
                            "Vary": "Accept",
                        },
                        b"",
                    )
                headers["Cache-Control"] = "public, immutable"
                headers["Expires"] = _http_date(time.time() + 365 * 86400)
            return self._serve(body, etag, modified, headers, if_none_match)
        if path in ("/openapi/v2", "/openapi/v2/"):
            offer = _negotiate(accept, (JSON, V2_PROTOBUF, V2_PROTOBUF_NEW))
            if offer != JSON and _negotiate(accept, (JSON,)) is None:
                return 406, {"Vary": "Accept"}, b""
            body, etag, modified = self._v2_entry()
            headers = {"Content-Type": JSON, "Vary": "Accept", "X-Varied-Accept": accept or ""}
            return self._serve(body, etag, modified, headers, if_none_match)
        return _NOT_FOUND

    @staticmethod
    def _serve(
        body: bytes, etag: str, modified: float, headers: dict[str, str], if_none_match: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        quoted = f'"{etag}"'
        headers = {**headers, "Etag": quoted, "Last-Modified": _http_date(modified)}
        if _if_none_match(if_none_match, quoted):
            headers.pop("Content-Type", None)
            headers.pop("Last-Modified", None)
            return 304, headers, b""
        return 200, headers, body


def _v2_param(p: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in p.items() if k != "schema"}
    sch = p.get("schema") or {}
    out.update(sch)
    return out


def _v2_schema(s: dict[str, Any]) -> dict[str, Any]:
    ref = s.get("$ref")
    if isinstance(ref, str) and ref.startswith(V3_REF):
        return {"$ref": V2_REF + ref[len(V3_REF) :]}
    return s


def _v2_operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    consumes: list[str] = []
    params = [_v2_param(p) for p in op.get("parameters", ())]
    body = op.get("requestBody")
    if body is not None:
        content = body.get("content", {})
        consumes = list(content)
        first = next(iter(content.values()), {})
        bp: dict[str, Any] = {"in": "body", "name": "body"}
        if body.get("required"):
            bp["required"] = True
        bp["schema"] = _v2_schema(first.get("schema", {}))
        params.insert(0, bp)
    produces: list[str] = []
    responses: dict[str, Any] = {}
    for code, r in op.get("responses", {}).items():
        rr: dict[str, Any] = {"description": r.get("description", "")}
        content = r.get("content")
        if content:
            for ct in content:
                if ct not in produces:
                    produces.append(ct)
            rr["schema"] = _v2_schema(next(iter(content.values())).get("schema", {}))
        responses[code] = rr
    if consumes:
        out["consumes"] = consumes
    out["description"] = op.get("description", "")
    out["operationId"] = op.get("operationId", "")
    if params:
        out["parameters"] = params
    out["produces"] = produces
    out["responses"] = responses
    out["schemes"] = ["https"]
    out["tags"] = op.get("tags", [])
    for k, v in op.items():
        if k.startswith("x-"):
            out[k] = v
    return out


def _v2_path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in item.items():
        if k == "parameters":
            out[k] = [_v2_param(p) for p in v]
        else:
            out[k] = _v2_operation(v)
    return out
