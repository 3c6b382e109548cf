"""OpenAPI v3/v2 documents: shape, kubectl's lookups, schema conversion and HTTP semantics.

Upstream references: kubernetes/kubernetes api/openapi-spec/v3/apis__apps__v1_openapi.json (paths,
parameters, schemas), kube-openapi pkg/handler3/handler.go (hash, 301, 406, caching headers),
cli-runtime query_param_verifier_v3.go (how kubectl finds `fieldValidation`), and the operation
table of the `kubernetes` Python client, which is generated from upstream's spec.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver import openapi as oa
from vcluster.apiserver.openapi import OpenAPI, gv_path
from vcluster.apiserver.resources import Registry, ResourceType, Subresource


@pytest.fixture(scope="module")
def api() -> OpenAPI:
    return OpenAPI(Registry())


def doc(api: OpenAPI, key: str) -> dict[str, Any]:
    hit = api.document(key)
    assert hit is not None, key
    return orjson.loads(hit[0])


def all_refs(node: Any) -> set[str]:
    out: set[str] = set()
    oa._refs_in(node, out)
    return out


# ---------------------------------------------------------------------------- index
def test_index_lists_every_group_version_with_content_hash(api: OpenAPI) -> None:
    index = orjson.loads(api.index())
    paths = index["paths"]
    for group, versions in Registry().groups().items():
        for v in versions:
            assert gv_path(group, v) in paths
    for key in ("api", "apis", "apis/apps", "version", "api/v1", "apis/rbac.authorization.k8s.io/v1"):
        assert key in paths
    for key, entry in paths.items():
        body, h = api.document(key)  # type: ignore[misc]
        # kube-openapi computeETag: %X of sha512 of the JSON document
        assert h == hashlib.sha512(body).hexdigest().upper()
        assert entry == {"serverRelativeURL": f"/openapi/v3/{key}?hash={h}"}


def test_document_envelope(api: OpenAPI) -> None:
    d = doc(api, "apis/apps/v1")
    assert d["openapi"] == "3.0.0"
    assert d["info"] == {"title": "Kubernetes", "version": "v1.32.0"}
    assert "BearerToken" in d["components"]["securitySchemes"]
    assert OpenAPI(Registry(), version="v1.32.4").build_document("api")["info"]["version"] == "v1.32.4"


def test_no_dangling_refs(api: OpenAPI) -> None:
    for key in orjson.loads(api.index())["paths"]:
        d = doc(api, key)
        schemas = d["components"]["schemas"]
        missing = {r for r in all_refs(d) if r not in schemas}
        assert not missing, (key, missing)


# ---------------------------------------------------------------------------- kubectl's lookups
def _supports_query_param(d: dict[str, Any], gvk: dict[str, str], param: str) -> bool:
    """cli-runtime supportsQueryParamV3: the first PATCH for the GVK decides."""
    for item in d["paths"].values():
        op = item.get("patch")
        if op is None or op.get("x-kubernetes-group-version-kind") != gvk:
            continue
        return any(p["name"] == param for p in op.get("parameters", []))
    return False


def test_every_patchable_kind_supports_field_validation(api: OpenAPI) -> None:
    reg = Registry()
    for rt in reg.all():
        if "patch" not in rt.verbs:
            continue
        d = doc(api, gv_path(rt.group, rt.version))
        gvk = {"group": rt.group, "kind": rt.kind, "version": rt.version}
        assert _supports_query_param(d, gvk, "fieldValidation"), gvk


def test_patch_request_body_types(api: OpenAPI) -> None:
    d = doc(api, "apis/apps/v1")
    op = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert sorted(op["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ]
    assert op["requestBody"]["required"] is True
    assert [p["name"] for p in op["parameters"]] == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert op["x-kubernetes-action"] == "patch"
    assert op["operationId"] == "patchAppsV1NamespacedDeployment"
    assert op["tags"] == ["apps_v1"]


def test_explain_finds_gvk_and_schema(api: OpenAPI) -> None:
    """kubectl explain's template: GVK from an operation on the resource path, then the schema
    carrying that GVK in components.schemas."""
    d = doc(api, "apis/apps/v1")
    item = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    gvk = item["get"]["x-kubernetes-group-version-kind"]
    assert gvk == {"group": "apps", "kind": "Deployment", "version": "v1"}
    matches = [
        n
        for n, s in d["components"]["schemas"].items()
        if gvk in s.get("x-kubernetes-group-version-kind", [])
    ]
    assert matches == ["io.k8s.api.apps.v1.Deployment"]
    strategy = d["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}],
        "description": "The deployment strategy to use to replace existing pods with new ones.",
        "x-kubernetes-patch-strategy": "retainKeys",
    }


def _resolve(schemas: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    """strategicpatch.PatchMetaFromOpenAPIV3's resolve: allOf[0], then $ref."""
    if s.get("allOf"):
        s = s["allOf"][0]
    ref = s.get("$ref")
    if ref:
        s = schemas[ref.removeprefix("#/components/schemas/")]
    return s


def test_smp_patch_meta_resolves_from_v3(api: OpenAPI) -> None:
    """Client-side apply walks spec.template.spec.containers[].ports through the v3 schemas and
    reads the merge keys from the properties (apimachinery strategicpatch/meta.go)."""
    d = doc(api, "apis/apps/v1")
    schemas = d["components"]["schemas"]
    s = schemas["io.k8s.api.apps.v1.Deployment"]
    for key in ("spec", "template", "spec"):
        s = _resolve(schemas, s["properties"][key])
    containers = s["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    container = _resolve(schemas, containers["items"])
    ports = container["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]


# ---------------------------------------------------------------------------- paths vs upstream
# Upstream operations (method, path, query parameters) as the Python client generated from the
# upstream spec sees them. Left out: post-1.32 additions (shardSelector, pods/resize,
# csinodes/status) and the deprecated /watch/ paths the client generator drops.
_NEWER = re.compile(r"_resize$|^(read|patch|replace)_csi_node_status$")


def _client_ops(module: str) -> dict[str, tuple[str, str, list[str]]]:
    kubernetes = pytest.importorskip("kubernetes")
    path = os.path.join(os.path.dirname(kubernetes.__file__), "client", "api", module)
    with open(path) as f:
        src = f.read()
    ops: dict[str, tuple[str, str, list[str]]] = {}
    for m in re.finditer(r"def _([a-z0-9_]+)_serialize\(", src):
        chunk = src[m.end() : m.end() + 20000]
        end = chunk.find("def _")
        chunk = chunk[:end] if end > 0 else chunk
        method = re.search(r"method='([A-Z]+)'", chunk)
        rpath = re.search(r"resource_path='([^']+)'", chunk)
        assert method and rpath
        query = sorted(
            q for q in re.findall(r"_query_params.append\(\('([A-Za-z]+)'", chunk) if q != "shardSelector"
        )
        ops[m.group(1)] = (method.group(1), rpath.group(1), query)
    return ops


def _snake(s: str) -> str:
    s = s.replace("APIResources", "ApiResources").replace("CSI", "Csi")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", s).lower()


@pytest.mark.parametrize(
    "group,version,module",
    [
        ("", "v1", "core_v1_api.py"),
        ("apps", "v1", "apps_v1_api.py"),
        ("batch", "v1", "batch_v1_api.py"),
        ("rbac.authorization.k8s.io", "v1", "rbac_authorization_v1_api.py"),
        ("networking.k8s.io", "v1", "networking_v1_api.py"),
        ("authorization.k8s.io", "v1", "authorization_v1_api.py"),
        ("storage.k8s.io", "v1", "storage_v1_api.py"),
        ("events.k8s.io", "v1", "events_v1_api.py"),
    ],
)
def test_operations_match_upstream(api: OpenAPI, group: str, version: str, module: str) -> None:
    client = _client_ops(module)
    d = doc(api, gv_path(group, version))
    gid = oa._group_id(group) + oa._to_operation_id(version, True)
    ours: dict[str, tuple[str, str, list[str]]] = {}
    for path, item in d["paths"].items():
        path_query = [p["name"] for p in item.get("parameters", []) if p["in"] == "query"]
        for method, op in item.items():
            if method == "parameters" or "/watch/" in path:
                continue
            name = _snake(op["operationId"].replace(gid, "", 1))
            query = sorted(path_query + [p["name"] for p in op.get("parameters", []) if p["in"] == "query"])
            ours[name] = (method.upper(), path, query)
    plurals = {t.plural for t in Registry().in_group_version(group, version)}
    for name, c in client.items():
        if _NEWER.search(name) or not set(c[1].split("/")) & plurals:
            continue
        assert ours.get(name) == c, name
    assert set(ours) <= set(client)


def test_subresource_operations(api: OpenAPI) -> None:
    d = doc(api, "api/v1")
    p = d["paths"]
    evict = p["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
    assert evict["x-kubernetes-group-version-kind"] == {
        "group": "policy",
        "kind": "Eviction",
        "version": "v1",
    }
    assert evict["description"] == "create eviction of a Pod"
    evict_params = p["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["parameters"]
    assert evict_params[0]["description"] == "name of the Eviction"
    exec_get = p["/api/v1/namespaces/{namespace}/pods/{name}/exec"]["get"]
    assert exec_get["x-kubernetes-action"] == "connect"
    assert exec_get["x-kubernetes-group-version-kind"]["kind"] == "PodExecOptions"
    fin = p["/api/v1/namespaces/{name}/finalize"]["put"]
    assert fin["operationId"] == "replaceCoreV1NamespaceFinalize"
    log = p["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert log["responses"]["200"]["content"]["text/plain"]["schema"] == {"type": "string"}
    # Pods, Services, PVs... return the object on DELETE; Deployments a Status.
    pod_del = p["/api/v1/namespaces/{namespace}/pods/{name}"]["delete"]["responses"]["200"]
    assert pod_del["content"]["application/json"]["schema"]["$ref"].endswith("core.v1.Pod")
    apps = doc(api, "apis/apps/v1")["paths"]
    dep_del = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["delete"]["responses"]["200"]
    assert dep_del["content"]["application/json"]["schema"]["$ref"].endswith("meta.v1.Status")
    scale = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["put"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }


def test_non_resource_documents(api: OpenAPI) -> None:
    assert list(doc(api, "api")["paths"]) == ["/api/"]
    assert doc(api, "apis")["paths"]["/apis/"]["get"]["operationId"] == "getAPIVersions"
    g = doc(api, "apis/apps")["paths"]["/apis/apps/"]["get"]
    assert g["operationId"] == "getAppsAPIGroup"
    v = doc(api, "version")
    assert v["paths"]["/version/"]["get"]["operationId"] == "getCodeVersion"
    assert "io.k8s.apimachinery.pkg.version.Info" in v["components"]["schemas"]


# ---------------------------------------------------------------------------- schema conversion
# Upstream apis__apps__v1_openapi.json, with kube-openapi's "default" values (which the
# kubernetes-validate definitions do not carry) removed, and the allOf wrappers they forced.
UPSTREAM_LABEL_SELECTOR_REQUIREMENT = {
    "description": "A label selector requirement is a selector that contains values, a key, and an operator "
    "that relates the key and values.",
    "properties": {
        "key": {"description": "key is the label key that the selector applies to.", "type": "string"},
        "operator": {
            "description": "operator represents a key's relationship to a set of values. Valid operators are "
            "In, NotIn, Exists and DoesNotExist.",
            "type": "string",
        },
        "values": {
            "description": "values is an array of string values. If the operator is In or NotIn, the values "
            "array must be non-empty. If the operator is Exists or DoesNotExist, the values array must be "
            "empty. This array is replaced during a strategic merge patch.",
            "items": {"type": "string"},
            "type": "array",
            "x-kubernetes-list-type": "atomic",
        },
    },
    "required": ["key", "operator"],
    "type": "object",
}


def test_definition_matches_upstream() -> None:
    got = oa.v3_definition("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement")
    assert got == UPSTREAM_LABEL_SELECTOR_REQUIREMENT


@pytest.mark.parametrize(
    "kv,v3,v2",
    [
        # a $ref with a description: wrapped in allOf (v3), kept beside it (v2)
        (
            {"$ref": "#/$defs/X", "description": "d"},
            {"allOf": [{"$ref": "#/components/schemas/X"}], "description": "d"},
            {"$ref": "#/definitions/X", "description": "d"},
        ),
        ({"$ref": "#/$defs/X"}, {"$ref": "#/components/schemas/X"}, {"$ref": "#/definitions/X"}),
        ({"type": ["string", "null"], "format": "byte"}, {"type": "string", "format": "byte"}, None),
        (
            {"type": ["array", "null"], "items": {"$ref": "#/$defs/Y"}, "x-kubernetes-list-type": "atomic"},
            {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Y"},
                "x-kubernetes-list-type": "atomic",
            },
            None,
        ),
        (
            {"type": ["object", "null"], "additionalProperties": {"type": ["string", "null"]}},
            {"type": "object", "additionalProperties": {"type": "string"}},
            None,
        ),
    ],
)
def test_schema_conversion(kv: dict, v3: dict, v2: dict | None) -> None:
    assert oa._convert(kv, oa.V3_REF, True) == v3
    if v2 is not None:
        assert oa._convert(kv, oa.V2_REF, False) == v2


def test_special_definitions() -> None:
    # kube-openapi: IntOrString OpenAPIV3OneOfTypes (integer, string), format int-or-string;
    # Quantity OpenAPIV3OneOfTypes (string, number). v2 types both as string.
    assert oa.v3_definition(oa.INT_OR_STRING) == {
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert oa.v3_definition(oa.QUANTITY) == {"oneOf": [{"type": "string"}, {"type": "number"}]}
    assert oa.v2_definition(oa.INT_OR_STRING) == {"format": "int-or-string", "type": "string"}
    dep = oa.v3_definition("io.k8s.api.apps.v1.Deployment")
    assert dep is not None
    assert "enum" not in dep["properties"]["apiVersion"]  # openapi2jsonschema's pin removed
    assert dep["properties"]["kind"]["type"] == "string"
    assert dep["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]


# ---------------------------------------------------------------------------- custom resources
CRONTAB_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {"cronSpec": {"type": "string"}, "replicas": {"type": "integer"}},
        }
    },
}


def test_custom_resource_documents() -> None:
    reg = Registry()
    api = OpenAPI(reg)
    before = orjson.loads(api.index())["paths"]
    assert "apis/stable.example.com/v1" not in before
    reg.add(
        ResourceType(
            "stable.example.com",
            "v1",
            "crontabs",
            "crontab",
            "CronTab",
            True,
            ("ct",),
            subresources=(Subresource("status", ("get", "patch", "update")),),
        )
    )
    api.set_schema("stable.example.com", "v1", "CronTab", CRONTAB_SCHEMA)
    index = orjson.loads(api.index())["paths"]
    assert "apis/stable.example.com/v1" in index and "apis/stable.example.com" in index
    d = doc(api, "apis/stable.example.com/v1")
    schemas = d["components"]["schemas"]
    ct = schemas["com.example.stable.v1.CronTab"]
    assert ct["x-kubernetes-group-version-kind"] == [
        {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    ]
    assert ct["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert ct["properties"]["spec"]["properties"]["cronSpec"] == {"type": "string"}
    assert schemas["com.example.stable.v1.CronTabList"]["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.stable.v1.CronTab"
    }
    item = d["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
    # no strategic merge patch for custom resources (apiextensions-apiserver)
    assert sorted(item["patch"]["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    assert sorted(item["get"]["responses"]["200"]["content"]) == ["application/json", "application/yaml"]
    gvk = {"group": "stable.example.com", "kind": "CronTab", "version": "v1"}
    assert _supports_query_param(d, gvk, "fieldValidation")
    assert not {r for r in all_refs(d) if r not in schemas}
    # A schema change changes the hash; removal drops the document.
    h1 = index["apis/stable.example.com/v1"]["serverRelativeURL"]
    api.set_schema("stable.example.com", "v1", "CronTab", {"type": "object"})
    assert orjson.loads(api.index())["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"] != h1
    api.remove_schema("stable.example.com", "v1", "CronTab")
    reg.remove("stable.example.com", "v1", "crontabs")
    api.invalidate()
    assert "apis/stable.example.com/v1" not in orjson.loads(api.index())["paths"]
    assert api.document("apis/stable.example.com/v1") is None


# ---------------------------------------------------------------------------- HTTP semantics
def test_handle_index_and_etag(api: OpenAPI) -> None:
    status, headers, body = api.handle("/openapi/v3", {}, "application/json")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["Etag"] == '"' + hashlib.sha512(body).hexdigest().upper() + '"'
    status, headers, body = api.handle("/openapi/v3", {}, None, headers["Etag"])
    assert (status, body) == (304, b"")


def test_handle_hash_semantics(api: OpenAPI) -> None:
    """kube-openapi handler3: matching hash -> immutable caching headers; stale -> 301."""
    url = orjson.loads(api.index())["paths"]["apis/apps/v1"]["serverRelativeURL"]
    h = url.split("hash=")[1]
    status, headers, body = api.handle("/openapi/v3/apis/apps/v1", {"hash": h}, "application/json")
    assert status == 200
    assert orjson.loads(body)["openapi"] == "3.0.0"
    assert headers["Cache-Control"] == "public, immutable"
    assert headers["Vary"] == "Accept"
    assert headers["Etag"] == f'"{h}"'
    expires = time.mktime(time.strptime(headers["Expires"], "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
    assert expires > time.time() + 364 * 86400
    status, headers, body = api.handle("/openapi/v3/apis/apps/v1", {"hash": "STALE"}, "application/json")
    assert status == 301
    assert headers["Location"] == url
    assert body == b""
    status, headers, _ = api.handle("/openapi/v3/apis/apps/v1", {}, "application/json")
    assert status == 200 and "Cache-Control" not in headers
    status, _, _ = api.handle("/openapi/v3/apis/apps/v1", {}, None, f'"{h}"')
    assert status == 304


@pytest.mark.parametrize(
    "accept,status",
    [
        ("application/json", 200),
        (None, 200),
        ("*/*", 200),
        ("application/*", 200),
        ("application/com.github.proto-openapi.spec.v3@v1.0+protobuf", 406),
        ("application/com.github.proto-openapi.spec.v3.v1.0+protobuf, application/json;q=0.5", 200),
        ("text/html", 406),
        ("application/json;q=0", 406),
    ],
)
def test_handle_accept(api: OpenAPI, accept: str | None, status: int) -> None:
    got, headers, body = api.handle("/openapi/v3/api/v1", {}, accept)
    assert got == status
    if status == 200:
        assert headers["Content-Type"] == "application/json"
    else:
        assert body == b""


def test_handle_not_found(api: OpenAPI) -> None:
    assert api.handle("/openapi/v3/apis/nope/v1", {}, "application/json")[0] == 404
    assert api.handle("/openapi/v4", {}, "application/json")[0] == 404


def test_v2(api: OpenAPI) -> None:
    # kubectl asks for protobuf only: not produced, 406 (kubectl then falls back).
    status, _, body = api.handle(
        "/openapi/v2", {}, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    )
    assert (status, body) == (406, b"")
    status, headers, body = api.handle("/openapi/v2", {}, "application/json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    v2 = orjson.loads(body)
    assert v2["swagger"] == "2.0"
    defs = v2["definitions"]
    assert defs["io.k8s.api.apps.v1.Deployment"]["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "description": "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }
    op = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert "application/strategic-merge-patch+json" in op["consumes"]
    assert op["parameters"][0] == {
        "in": "body",
        "name": "body",
        "required": True,
        "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"},
    }
    assert any(p["name"] == "fieldValidation" and p["type"] == "string" for p in op["parameters"])
    refs = all_refs(v2)
    assert not {r for r in refs if r not in defs}


def test_build_time_is_bounded() -> None:
    t = time.perf_counter()
    fresh = OpenAPI(Registry())
    fresh.index()  # builds (and hashes) every document
    assert time.perf_counter() - t < 0.5


@settings(max_examples=200, deadline=None)
@given(
    path=st.one_of(
        st.sampled_from(
            ["/openapi/v3", "/openapi/v3/", "/openapi/v2", "/openapi/v3/api/v1", "/openapi/v3/apis"]
        ),
        st.text(max_size=40).map(lambda s: "/openapi/v3/" + s),
    ),
    query=st.dictionaries(st.sampled_from(["hash", "timeout", "x"]), st.text(max_size=20), max_size=2),
    accept=st.one_of(st.none(), st.text(max_size=60)),
    inm=st.one_of(st.none(), st.text(max_size=20)),
)
def test_handle_never_raises(
    api: OpenAPI, path: str, query: dict, accept: str | None, inm: str | None
) -> None:
    status, headers, body = api.handle(path, query, accept, inm)
    assert status in (200, 301, 304, 404, 406)
    assert isinstance(headers, dict) and isinstance(body, bytes)
