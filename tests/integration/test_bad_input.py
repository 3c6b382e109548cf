"""Bad input gets the Status a real kube-apiserver sends, never a 500, and the server goes on serving.

Two parts, each against its own server process:

* table tests, one per kind of bad request, asserting the exact code, `reason` and, where the API
  contract (shared/spec/k8s-api-contract.md §4, §5, §8.1, §10, §11) fixes them, message and details;
* a hypothesis test that throws random methods, paths, query strings, content types and bodies at
  the server and checks every answer's code and Status shape, and that the server stays healthy.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Server
from tests.integration.httpclient import Client, Reply
from vcluster.apiserver.resources import BUILTIN_RESOURCES

pytestmark = pytest.mark.integration

NS = "default"
CM = f"/api/v1/namespaces/{NS}/configmaps"
MIB = 1024 * 1024
JSON_CT = "application/json"
YAML_CT = "application/yaml"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
RFC1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
UNKNOWN_FORMAT = "the body of the request was in an unknown format - accepted media types include:"
NOT_FOUND_MSG = "the server could not find the requested resource"
METHOD_NOT_ALLOWED_MSG = "the server does not allow this method on the requested resource"
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}

_names = itertools.count(1)


def unique(prefix: str = "cm") -> str:
    return f"{prefix}-{next(_names)}"


def cm(name: str | None = None, **extra: Any) -> dict[str, Any]:
    md: dict[str, Any] = {} if name is None else {"name": name}
    md.update(extra.pop("metadata", {}))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, **extra}


def status_of(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    """Assert `reply` is a failure Status with this code and reason; return it."""
    st_ = reply.body
    assert reply.status == code, f"expected {code} {reason}, got {reply.status}: {reply.raw[:2000]!r}"
    assert isinstance(st_, dict), f"not a JSON object: {reply.raw[:2000]!r}"
    assert reply.content_type.startswith("application/json"), reply.headers
    assert st_.get("kind") == "Status", st_
    assert st_.get("apiVersion") == "v1", st_
    assert st_.get("status") == "Failure", st_
    assert st_.get("code") == code, st_
    assert st_.get("reason") == reason, st_
    assert isinstance(st_.get("message"), str) and st_["message"], st_
    return st_


def healthy(server: Server, client: Client) -> None:
    assert server.alive(), f"server died; log tail:\n{log_tail(server)}"
    r = client.call("GET", "/healthz")
    assert (r.status, r.raw) == (200, b"ok"), r
    r = client.call("GET", "/api/v1/namespaces")
    assert r.status == 200 and r.body["kind"] == "NamespaceList", r.raw[:500]


def log_tail(server: Server, n: int = 6000) -> str:
    try:
        return server.log_path.read_text(errors="replace")[-n:]
    except OSError:
        return "<no log>"


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp(name) / "vc")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ================================================================================ table tests
@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory, "badinput")


@pytest.fixture(scope="module")
def api(api_server: Server) -> Iterator[Client]:
    c = Client(api_server.url, api_server.ca_file, api_server.token)
    yield c
    c.close()


@pytest.fixture
def check(api_server: Server, api: Client) -> Iterator[Callable[..., dict[str, Any]]]:
    """`check(reply, code, reason)`, then (after the test) the server still answers."""
    yield status_of
    healthy(api_server, api)


def created(api: Client, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    r = api.call("POST", path, obj)
    assert r.status == 201, r.raw[:1000]
    return r.body


# ---------------------------------------------------------------- decoding
def test_malformed_json_is_400(api: Client, check: Any) -> None:
    check(
        api.call("POST", CM, b'{"apiVersion": "v1", "kind": ', {"Content-Type": "application/json"}),
        400,
        "BadRequest",
    )


def test_malformed_yaml_is_400(api: Client, check: Any) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n  data: : :\n"
    check(api.call("POST", CM, body, {"Content-Type": "application/yaml"}), 400, "BadRequest")


def test_yaml_with_a_lone_surrogate_escape_is_400(api: Client, check: Any) -> None:
    """YAML's \\u escapes can produce unpaired surrogates, which no JSON object can hold (found by the
    fuzz test as a 500)."""
    body = b'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s1}\ndata: {k: "\\udb16x"}\n'
    s = check(api.call("POST", CM, body, {"Content-Type": "application/yaml"}), 400, "BadRequest")
    assert "invalid Unicode" in s["message"], s


def test_json_array_body_is_400(api: Client, check: Any) -> None:
    check(api.call("POST", CM, [cm(unique())]), 400, "BadRequest")


def test_wrong_api_version_is_400(api: Client, check: Any) -> None:
    body = {"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": unique()}}
    s = check(api.call("POST", CM, body), 400, "BadRequest")
    assert (
        s["message"] == "the API version in the data (apps/v1) does not match the expected API version (v1)"
    )


def test_wrong_kind_is_400(api: Client, check: Any) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": unique()}}
    check(api.call("POST", CM, body), 400, "BadRequest")


def test_body_namespace_differs_from_url_is_400(api: Client, check: Any) -> None:
    s = check(api.call("POST", CM, cm(unique(), metadata={"namespace": "kube-system"})), 400, "BadRequest")
    assert s["message"] == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )


@pytest.mark.parametrize(
    ("path", "body", "kind"),
    [
        pytest.param(CM, cm("t-data-number", data={"a": 1}), "ConfigMap", id="configmap-data-number"),
        pytest.param(CM, cm("t-data-array", data=[1]), "ConfigMap", id="configmap-data-array"),
        pytest.param(CM, cm(metadata={"name": 5}), "ConfigMap", id="name-number"),
        pytest.param(CM, cm("t-labels", metadata={"labels": {"a": 1}}), "ConfigMap", id="label-number"),
        pytest.param(
            f"/api/v1/namespaces/{NS}/pods",
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t-spec-string"}, "spec": "x"},
            "Pod",
            id="pod-spec-string",
        ),
        pytest.param(
            f"/api/v1/namespaces/{NS}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "t-containers"},
                "spec": {"containers": 5},
            },
            "Pod",
            id="pod-containers-number",
        ),
        pytest.param(
            f"/apis/apps/v1/namespaces/{NS}/deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "t-replicas"},
                "spec": {"replicas": "x"},
            },
            "Deployment",
            id="deployment-replicas-string",
        ),
    ],
)
def test_wrong_json_type_in_typed_field_is_400(
    api: Client, check: Any, path: str, body: dict[str, Any], kind: str
) -> None:
    """kube-apiserver decodes into typed structs: a JSON type mismatch is a decode error, 400
    `<Kind> in version "<v>" cannot be handled as a <Kind>: json: cannot unmarshal ...`."""
    s = check(api.call("POST", path, body), 400, "BadRequest")
    version = body["apiVersion"].rsplit("/", 1)[-1]
    assert s["message"].startswith(f'{kind} in version "{version}" cannot be handled as a {kind}: '), s


def test_update_of_an_object_being_deleted_with_non_list_finalizers_is_400(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name, metadata={"finalizers": ["example.com/keep"]}))
    assert api.call("DELETE", f"{CM}/{name}").status == 200  # now terminating, held by its finalizer
    check(api.call("PUT", f"{CM}/{name}", cm(name, metadata={"finalizers": 1.5})), 400, "BadRequest")
    r = api.call("PATCH", f"{CM}/{name}", {"metadata": {"finalizers": 7}}, {"Content-Type": MERGE_PATCH})
    check(r, 400, "BadRequest")
    r = api.call("PATCH", f"{CM}/{name}", {"metadata": {"finalizers": None}}, {"Content-Type": MERGE_PATCH})
    assert r.status == 200, r.raw[:500]


def test_namespace_status_of_the_wrong_type_is_400_and_delete_still_works(api: Client, check: Any) -> None:
    name = unique("ns")
    created(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    r = api.call("PATCH", f"/api/v1/namespaces/{name}/status", {"status": [1]}, {"Content-Type": MERGE_PATCH})
    check(r, 400, "BadRequest")
    r = api.call("DELETE", f"/api/v1/namespaces/{name}")
    assert r.status == 200, r.raw[:500]


# ---------------------------------------------------------------- validation (422)
def test_invalid_name_is_422(api: Client, check: Any) -> None:
    s = check(api.call("POST", CM, cm("Bad_Name")), 422, "Invalid")
    assert s["message"] == (
        f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": {RFC1123_SUBDOMAIN_MSG}'
    )
    details = s["details"]
    assert details["kind"] == "ConfigMap"
    assert details["name"] == "Bad_Name"
    assert details["causes"][0]["field"] == "metadata.name"
    assert details["causes"][0]["reason"] == "FieldValueInvalid"


def test_no_name_and_no_generate_name_is_422(api: Client, check: Any) -> None:
    s = check(api.call("POST", CM, cm()), 422, "Invalid")
    assert "metadata.name: Required value: name or generateName is required" in s["message"]
    cause = s["details"]["causes"][0]
    assert cause == {
        "reason": "FieldValueRequired",
        "message": "Required value: name or generateName is required",
        "field": "metadata.name",
    }
    assert s["details"]["kind"] == "ConfigMap"


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({"bad key!": "v"}, id="key"),
        pytest.param({"k": "bad value!"}, id="value"),
        pytest.param({"k": "x" * 64}, id="value-too-long"),
        pytest.param({"a/b/c": "v"}, id="key-two-slashes"),
    ],
)
def test_invalid_label_is_422(api: Client, check: Any, labels: dict[str, str]) -> None:
    name = unique()
    s = check(api.call("POST", CM, cm(name, metadata={"labels": labels})), 422, "Invalid")
    assert s["message"].startswith(f'ConfigMap "{name}" is invalid: metadata.labels: Invalid value: '), s
    assert s["details"]["kind"] == "ConfigMap"
    assert s["details"]["name"] == name
    assert s["details"]["causes"][0]["field"] == "metadata.labels"
    assert s["details"]["causes"][0]["reason"] == "FieldValueInvalid"


# ---------------------------------------------------------------- selectors and list options
@pytest.mark.parametrize(
    "selector", ["a%20in%20(", "a%20in%20(b", "!", "a%3D%3D%3Db", "a%20notin", "x%3E1.5", "%3Db"]
)
def test_invalid_label_selector_is_400(api: Client, check: Any, selector: str) -> None:
    check(api.call("GET", f"{CM}?labelSelector={selector}"), 400, "BadRequest")


def test_unsupported_field_selector_is_400(api: Client, check: Any) -> None:
    s = check(api.call("GET", f"{CM}?fieldSelector=spec.foo%3Dbar"), 400, "BadRequest")
    assert s["message"] == "field label not supported: spec.foo"


@pytest.mark.parametrize(
    "query",
    [
        "limit=abc",
        "resourceVersion=xyz",
        "resourceVersion=-1",
        "continue=not-a-token",
        "continue=x&resourceVersion=1",
    ],
)
def test_bad_list_options_are_400(api: Client, check: Any, query: str) -> None:
    check(api.call("GET", f"{CM}?{query}"), 400, "BadRequest")


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        pytest.param(
            "resourceVersionMatch=Exact",
            "resourceVersionMatch: Forbidden: "
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
            id="match-without-rv",
        ),
        pytest.param(
            "resourceVersion=0&resourceVersionMatch=Exact",
            "resourceVersionMatch: Forbidden: "
            'resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
            id="exact-rv-0",
        ),
        pytest.param(
            "resourceVersion=1&resourceVersionMatch=Newest",
            'resourceVersionMatch: Unsupported value: "Newest"',
            id="unknown-match",
        ),
        pytest.param(
            "sendInitialEvents=true",
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
            id="send-initial-events-on-list",
        ),
    ],
)
def test_invalid_list_options_are_422(api: Client, check: Any, query: str, detail: str) -> None:
    """kube-apiserver's list handler answers metainternalversionvalidation.ValidateListOptions errors
    with errors.NewInvalid(meta.k8s.io/ListOptions): 422 Invalid, not 400 (contract §10.3 says 400)."""
    s = check(api.call("GET", f"{CM}?{query}"), 422, "Invalid")
    assert s["message"].startswith(f'ListOptions.meta.k8s.io "" is invalid: {detail}'), s
    assert s["details"]["kind"] == "ListOptions" and s["details"]["group"] == "meta.k8s.io", s


@pytest.mark.parametrize("watch", [False, True], ids=["list", "watch"])
def test_resource_version_in_the_future_is_504(api: Client, check: Any, watch: bool) -> None:
    q = "watch=true&" if watch else ""
    s = check(api.call("GET", f"{CM}?{q}resourceVersion=999999999"), 504, "Timeout")
    assert re.fullmatch(r"Timeout: Too large resource version: 999999999, current: \d+", s["message"]), s
    assert s["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert s["details"]["causes"][0]["message"] == "Too large resource version"
    assert s["details"]["retryAfterSeconds"] == 1


# ---------------------------------------------------------------- size and media types
def test_body_over_3mib_is_413(api: Client, check: Any) -> None:
    body = json.dumps(cm(unique(), data={"big": "x" * (3 * MIB)})).encode()
    assert len(body) > 3 * MIB
    check(api.call("POST", CM, body, {"Content-Type": "application/json"}), 413, "RequestEntityTooLarge")


def test_body_just_under_3mib_is_not_413(api: Client, check: Any) -> None:
    """The limit is on the request body's bytes: a small object padded to just under 3 MiB is served."""
    name = unique()
    body = json.dumps(cm(name)).encode() + b" " * (3 * MIB - 4096)
    r = api.call("POST", CM, body, {"Content-Type": "application/json"})
    assert r.status == 201, r.raw[:500]


@pytest.mark.parametrize("ctype", ["text/csv", "application/xml", "application/cbor", "image/png"])
def test_unsupported_media_type_is_415(api: Client, check: Any, ctype: str) -> None:
    s = check(api.call("POST", CM, b"a,b\n1,2\n", {"Content-Type": ctype}), 415, "UnsupportedMediaType")
    assert s["message"].startswith(UNKNOWN_FORMAT), s
    assert "application/json" in s["message"]


def test_patch_with_plain_json_is_415(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    r = api.call("PATCH", f"{CM}/{name}", {"data": {"a": "b"}}, {"Content-Type": "application/json"})
    s = check(r, 415, "UnsupportedMediaType")
    assert s["message"].startswith(UNKNOWN_FORMAT), s
    assert "application/merge-patch+json" in s["message"]


# ---------------------------------------------------------------- patches, apply, protobuf, CRDs
APPLY_CT = {"Content-Type": "application/apply-patch+yaml"}
JSON_PATCH_CT = {"Content-Type": "application/json-patch+json"}


def test_apply_without_field_manager_is_422(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    r = api.call("PATCH", f"{CM}/{name}", b"apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", APPLY_CT)
    s = check(r, 422, "Invalid")
    assert s["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )
    assert s["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: is required for apply patch",
            "field": "fieldManager",
        }
    ]


def test_force_on_a_merge_patch_is_422(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    r = api.call("PATCH", f"{CM}/{name}?force=true", {"data": {"a": "b"}}, {"Content-Type": MERGE_PATCH})
    s = check(r, 422, "Invalid")
    assert "force: Forbidden: may not be specified for non-apply patch" in s["message"]


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "data/a/b", "value": 1}],  # no leading slash, missing parent
        [{"op": "replace", "path": "/nope/x", "value": 1}],
        [{"op": "test", "path": "/data/a", "value": "other"}],
        [{"op": "remove", "path": "/metadata/labels/none"}],
    ],
)
def test_json_patch_that_cannot_apply_is_422_and_changes_nothing(api: Client, check: Any, ops: Any) -> None:
    name = unique()
    before = created(api, CM, cm(name, data={"a": "1"}))
    r = api.call("PATCH", f"{CM}/{name}", json.dumps(ops).encode(), JSON_PATCH_CT)
    s = check(r, 422, "Invalid")
    assert s["message"] == "the server rejected our request due to an error in our request"
    after = api.call("GET", f"{CM}/{name}").body
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_json_patch_that_is_not_a_list_is_400(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    check(api.call("PATCH", f"{CM}/{name}", b'{"op": "add"}', JSON_PATCH_CT), 400, "BadRequest")


def test_non_structural_crd_is_422(api: Client, check: Any) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.ex.com"},
        "spec": {
            "group": "ex.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "kind": "Foo"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"properties": {"a": {"type": "string"}}}},
                        }
                    },
                }
            ],
        },
    }
    r = api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    s = check(r, 422, "Invalid")
    assert s["message"] == (
        'CustomResourceDefinition.apiextensions.k8s.io "foos.ex.com" is invalid: '
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: "
        "must not be empty for specified object fields"
    )


PROTOBUF_CT = {"Content-Type": "application/vnd.kubernetes.protobuf"}


def test_protobuf_of_an_unknown_kind_is_415(api: Client, check: Any) -> None:
    body = b"k8s\x00" + b"\n\x10\n\x02v1\x12\nNoSuchKind" + b"\x12\x00"
    s = check(api.call("POST", CM, body, PROTOBUF_CT), 415, "UnsupportedMediaType")
    assert s["message"].startswith(UNKNOWN_FORMAT) and "application/json" in s["message"]


def test_truncated_protobuf_is_400(api: Client, check: Any) -> None:
    body = b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12\x05\n\x03\n\x01"
    s = check(api.call("POST", CM, body, PROTOBUF_CT), 400, "BadRequest")
    assert s["message"].startswith(
        "the object provided is unrecognized (must be of type ConfigMap): unexpected EOF"
    )


# ---------------------------------------------------------------- routing
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/foos",
        "/api/v1/foos",
        "/apis/apps/v9/deployments",
        "/api/v2/pods",
        "/api/v1/namespaces/default/configmaps/x/nosuchsub",
    ],
)
def test_unknown_resource_is_404(api: Client, check: Any, path: str) -> None:
    """Under /api or a built-in group, go-restful's Status (with `details: {}`)."""
    s = check(api.call("GET", path), 404, "NotFound")
    assert s["message"].startswith(NOT_FOUND_MSG), s
    assert s["details"] == {}, s


@pytest.mark.parametrize(
    "path",
    ["/apis/nope.io/v1/things", "/apis/nope.io/v1/namespaces/default/things/x", "/apis/nope.io", "/nope"],
)
def test_a_path_no_group_serves_is_gos_plain_404(api: Client, path: str) -> None:
    """Outside every served group kube-apiserver's delegation chain ends in its not-found handler,
    Go's http.NotFound, as kube answers for a custom resource whose CRD is gone."""
    r = api.call("GET", path)
    assert (r.status, r.raw) == (404, b"404 page not found\n")
    assert r.content_type.startswith("text/plain")


def test_post_to_a_named_object_is_405(api: Client, check: Any) -> None:
    name = unique()
    s = check(api.call("POST", f"{CM}/{name}", cm(name)), 405, "MethodNotAllowed")
    assert s["message"] == METHOD_NOT_ALLOWED_MSG
    # and nothing was created
    check(api.call("GET", f"{CM}/{name}"), 404, "NotFound")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/componentstatuses"),
        ("DELETE", "/api/v1/componentstatuses/etcd-0"),
        ("PUT", "/api/v1/componentstatuses/etcd-0"),
        ("POST", "/api/v1/componentstatuses"),
        ("GET", "/api/v1/namespaces/default/bindings"),
        ("DELETE", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
    ],
)
def test_verb_not_supported_by_resource_is_405(api: Client, check: Any, method: str, path: str) -> None:
    r = api.call(method, path, {} if method in ("PUT", "POST") else None)
    s = check(r, 405, "MethodNotAllowed")
    assert s["message"] == METHOD_NOT_ALLOWED_MSG


@pytest.mark.parametrize(
    ("method", "body", "ctype"),
    [("PUT", cm("x"), JSON_CT), ("PATCH", {"data": {"a": "b"}}, "application/merge-patch+json")],
)
def test_put_or_patch_on_a_collection_is_405(
    api: Client, check: Any, method: str, body: dict[str, Any], ctype: str
) -> None:
    """Collections take GET, POST and DELETE only: kube-apiserver registers no PUT/PATCH route there."""
    s = check(api.call(method, CM, body, {"Content-Type": ctype}), 405, "MethodNotAllowed")
    assert s["message"] == METHOD_NOT_ALLOWED_MSG


@pytest.mark.parametrize("segment", ["a%0Ab", "%0A", "a%0D%0Ab", "%E2%80%A8"])
def test_control_characters_in_the_path_get_a_status(api: Client, check: Any, segment: str) -> None:
    """A percent-encoded newline in a path segment is just a name that does not exist."""
    check(api.call("GET", f"{CM}/{segment}"), 404, "NotFound")
    check(api.call("GET", f"/api/v1/namespaces/{segment}/configmaps/x"), 404, "NotFound")
    check(api.call("DELETE", f"/apis/apps/v1/{segment}"), 404, "NotFound")


# ---------------------------------------------------------------- create / update semantics
def test_create_in_missing_namespace_is_404(api: Client, check: Any) -> None:
    r = api.call("POST", "/api/v1/namespaces/nope/configmaps", cm(unique()))
    s = check(r, 404, "NotFound")
    assert s["message"] == 'namespaces "nope" not found'
    assert s["details"] == {"name": "nope", "kind": "namespaces"}


def test_duplicate_create_is_409_already_exists(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    s = check(api.call("POST", CM, cm(name)), 409, "AlreadyExists")
    assert s["message"] == f'configmaps "{name}" already exists'
    assert s["details"] == {"name": name, "kind": "configmaps"}


def test_put_with_mismatched_name_is_400(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    s = check(api.call("PUT", f"{CM}/{name}", cm("other")), 400, "BadRequest")
    assert s["message"] == f"the name of the object (other) does not match the name on the URL ({name})"


def test_put_with_mismatched_namespace_is_400(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    r = api.call("PUT", f"{CM}/{name}", cm(name, metadata={"namespace": "kube-system"}))
    s = check(r, 400, "BadRequest")
    assert s["message"] == (
        "the namespace of the object (kube-system) does not match the namespace on the request (default)"
    )


def test_put_with_stale_resource_version_is_409(api: Client, check: Any) -> None:
    name = unique()
    obj = created(api, CM, cm(name))
    stale = obj["metadata"]["resourceVersion"]
    obj["data"] = {"a": "1"}
    assert api.call("PUT", f"{CM}/{name}", obj).status == 200
    obj["data"] = {"a": "2"}
    assert obj["metadata"]["resourceVersion"] == stale
    s = check(api.call("PUT", f"{CM}/{name}", obj), 409, "Conflict")
    assert s["message"] == (
        f'Operation cannot be fulfilled on configmaps "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert s["details"]["name"] == name and s["details"]["kind"] == "configmaps"


def test_create_with_unsupported_dry_run_is_422(api: Client, check: Any) -> None:
    """kube-apiserver's create handler answers ValidateCreateOptions errors with
    errors.NewInvalid(meta.k8s.io/CreateOptions): 422 Invalid (contract §5.2 says 400)."""
    name = unique()
    s = check(api.call("POST", f"{CM}?dryRun=Some", cm(name)), 422, "Invalid")
    assert s["message"].startswith('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '), s
    assert s["details"]["kind"] == "CreateOptions" and s["details"]["group"] == "meta.k8s.io", s
    check(api.call("GET", f"{CM}/{name}"), 404, "NotFound")


def test_delete_with_invalid_propagation_policy_is_422(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    r = api.call("DELETE", f"{CM}/{name}?propagationPolicy=Sideways")
    s = check(r, 422, "Invalid")
    assert "propagationPolicy" in s["message"]
    assert api.call("GET", f"{CM}/{name}").status == 200


def test_delete_with_malformed_options_body_is_400(api: Client, check: Any) -> None:
    name = unique()
    created(api, CM, cm(name))
    r = api.call(
        "DELETE", f"{CM}/{name}", b'{"kind": "DeleteOptions", ', {"Content-Type": "application/json"}
    )
    check(r, 400, "BadRequest")
    assert api.call("GET", f"{CM}/{name}").status == 200


# ---------------------------------------------------------------- authentication
@pytest.mark.parametrize("path", [CM, "/api", "/apis", "/api/v1", "/metrics", "/nope"])
def test_unauthenticated_is_401(api: Client, check: Any, path: str) -> None:
    """An unknown bearer token is 401 (an empty one is anonymous: test_api_session14)."""
    r = api.call("GET", path, token="bad-token")
    check(r, 401, "Unauthorized")
    assert r.body == UNAUTHORIZED


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (CM, 'configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" in API '
         'group "" in the namespace "default"'),
        ("/api", 'forbidden: User "system:anonymous" cannot get path "/api"'),
        ("/metrics", 'forbidden: User "system:anonymous" cannot get path "/metrics"'),
        ("/nope", 'forbidden: User "system:anonymous" cannot get path "/nope"'),
    ],
)  # fmt: skip
def test_no_credentials_is_system_anonymous_under_rbac(
    api: Client, check: Any, path: str, message: str
) -> None:
    """No credentials at all: kube-apiserver's anonymous authenticator makes the request
    system:anonymous, and RBAC's bootstrap policy lets it read only /version and health paths."""
    r = api.call("GET", path, token=None)
    check(r, 403, "Forbidden")
    assert r.body["message"] == message


@pytest.mark.parametrize("path", ["/version", "/healthz", "/livez", "/readyz"])
def test_anonymous_health_and_version_are_allowed(api: Client, check: Any, path: str) -> None:
    r = api.call("GET", path, token=None)
    assert r.status == 200, r.raw
    if path == "/version":
        assert r.body["major"] == "1" and r.body["minor"] == "32"
    else:
        assert r.raw == b"ok"


def test_basic_authorization_header_is_anonymous(api: Client, check: Any) -> None:
    """kube 1.32 has no basic authenticator: the header is ignored and RBAC refuses the anonymous user."""
    r = api.call("GET", CM, headers={"Authorization": "Basic Zm9vOmJhcg=="}, token=None)
    check(r, 403, "Forbidden")
    assert 'User "system:anonymous" cannot' in r.body["message"]


# ================================================================================ property-based test
@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory, "fuzz")


FUZZ_EXAMPLES = int(os.environ.get("VCLUSTER_FUZZ_EXAMPLES", "300"))
FUZZ_LOG = os.environ.get("VCLUSTER_FUZZ_LOG")  # a file to append every request and answer to
ALLOWED = {200, 201, 202, 204, 400, 401, 403, 404, 405, 406, 409, 410, 413, 415, 422, 429, 504}
HEALTH_EVERY = 50
RESEED_EVERY = 10

# Real resources (from the server's built-in list, only to aim the random paths at real handlers).
REAL = [(f"/apis/{r.group}/{r.version}" if r.group else "/api/v1", r) for r in BUILTIN_RESOURCES]
NAMES = ["fuzz", "default", "kube-system", "kubernetes", "x", "Bad_Name", ""]
SUBRESOURCES = ["status", "scale", "finalize", "binding", "eviction", "log", "ephemeralcontainers", "nosuch"]
PREFIXES = ["/api/v1", "/apis/apps/v1", "/apis/nope.io/v1", "/api/v2", "/apis/apps", "/api", "/apis", ""]
RESOURCES = ["configmaps", "pods", "deployments", "namespaces", "componentstatuses", "bindings", "foos"]
QUERY_KEYS = [
    "limit",
    "continue",
    "labelSelector",
    "fieldSelector",
    "resourceVersion",
    "resourceVersionMatch",
    "timeoutSeconds",
    "dryRun",
    "propagationPolicy",
    "gracePeriodSeconds",
    "orphanDependents",
    "fieldManager",
    "fieldValidation",
    "sendInitialEvents",
    "allowWatchBookmarks",
    "includeObject",
    "pretty",
]
QUERY_VALUES = [
    "",
    "0",
    "1",
    "-1",
    "500",
    "99999999999",
    "99999999999999999999999",
    "abc",
    "All",
    "true",
    "false",
    "Exact",
    "NotOlderThan",
    "Background",
    "Foreground",
    "Orphan",
    "Strict",
    "a=b",
    "a in (b,c)",
    "a notin (b),!c,d",
    "a in (",
    "x>1",
    "!a",
    "metadata.name=fuzz",
    "metadata.namespace!=default",
    "spec.foo=bar",
    "status.phase=Running",
    "spec.nodeName=",
    "eyJydiI6MSwic3RhcnQiOiJ4In0",
    "eyJydiI6OTk5OTk5OTksInN0YXJ0IjoiIn0",
]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json",
    "application/json; charset=utf-8",
    "application/yaml",
    "application/merge-patch+json",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "application/cbor",
    "text/plain",
    "*/*",
    "multipart/form-data; boundary=x",
]
ACCEPTS = [
    "application/json;as=Table;v=v1;g=meta.k8s.io",
    "application/json",
    "application/yaml",
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
    "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
    "application/vnd.kubernetes.protobuf,application/json",
    "application/vnd.kubernetes.protobuf",
    "*/*",
    "text/html",
]
KINDS = [
    "ConfigMap",
    "Pod",
    "Deployment",
    "Namespace",
    "Secret",
    "Service",
    "Status",
    "List",
    "DeleteOptions",
]
API_VERSIONS = ["v1", "apps/v1", "batch/v1", "nope/v9", "v2", "meta.k8s.io/v1"]

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
any_text = st.text(max_size=30)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
    st.sampled_from(["", "x", "0", "-", "a" * 300, "2024-01-01T00:00:00Z", "100m", "1Gi"]),
)
garbage = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(any_text, c, max_size=4),
    max_leaves=12,
)
huge_text = st.sampled_from([10_000, 300_000]).map(lambda n: "h" * n)


def or_garbage(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `s`, sometimes any JSON value at all."""
    return st.one_of(s, s, s, s, garbage)


label_keys = st.one_of(
    st.sampled_from(["app", "a", "k8s.io/x", "kubernetes.io/metadata.name", "bad key!", "a/b/c", "x" * 64]),
    any_text,
)
label_values = st.one_of(st.sampled_from(["v", "", "fuzz", "x" * 64, "bad value!"]), any_text)
label_maps = st.dictionaries(label_keys, or_garbage(label_values), max_size=4)
name_values = or_garbage(st.one_of(st.sampled_from([*NAMES, "a" * 254, "-a", "a.b", "UPPER"]), any_text))
metadata = or_garbage(
    st.fixed_dictionaries(
        {},
        optional={
            "name": name_values,
            "namespace": or_garbage(st.sampled_from(["default", "kube-system", "nope", ""])),
            "generateName": name_values,
            "labels": or_garbage(label_maps),
            "annotations": or_garbage(
                st.one_of(label_maps, st.dictionaries(label_keys, huge_text, max_size=1))
            ),
            "resourceVersion": or_garbage(st.sampled_from(["", "0", "1", "5", "999999999", "abc", "-1"])),
            "finalizers": or_garbage(
                st.lists(st.sampled_from(["kubernetes", "a/b", "foregroundDeletion", "orphan", "x"]))
            ),
            "uid": or_garbage(any_text),
            "deletionTimestamp": or_garbage(st.sampled_from(["2024-01-01T00:00:00Z", "yesterday"])),
            "creationTimestamp": or_garbage(st.sampled_from(["2024-01-01T00:00:00Z", "soon"])),
            "deletionGracePeriodSeconds": garbage,
            "generation": garbage,
            "ownerReferences": garbage,
            "managedFields": garbage,
        },
    )
)
containers = or_garbage(
    st.lists(
        or_garbage(
            st.fixed_dictionaries(
                {"name": name_values},
                optional={
                    "image": or_garbage(st.sampled_from(["nginx", "", "busybox:1"])),
                    "ports": garbage,
                    "resources": or_garbage(
                        st.fixed_dictionaries({}, optional={"limits": garbage, "requests": garbage})
                    ),
                    "env": garbage,
                    "command": garbage,
                    "imagePullPolicy": garbage,
                },
            )
        ),
        max_size=3,
    )
)
pod_specs = st.fixed_dictionaries(
    {},
    optional={
        "containers": containers,
        "initContainers": containers,
        "nodeName": name_values,
        "restartPolicy": or_garbage(st.sampled_from(["Always", "Never", "Sometimes"])),
        "terminationGracePeriodSeconds": garbage,
        "volumes": garbage,
        "tolerations": garbage,
    },
)
specs = or_garbage(
    st.one_of(
        pod_specs,
        st.fixed_dictionaries(
            {},
            optional={
                "replicas": or_garbage(st.integers(-5, 5)),
                "selector": or_garbage(st.fixed_dictionaries({"matchLabels": or_garbage(label_maps)})),
                "template": or_garbage(
                    st.fixed_dictionaries({}, optional={"metadata": metadata, "spec": or_garbage(pod_specs)})
                ),
                "strategy": garbage,
                "finalizers": garbage,
                "type": or_garbage(st.sampled_from(["ClusterIP", "NodePort", "Opaque"])),
                "ports": garbage,
                "clusterIP": garbage,
                "schedule": garbage,
            },
        ),
    )
)
k8s_objects = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": or_garbage(st.sampled_from(API_VERSIONS)),
        "kind": or_garbage(st.sampled_from(KINDS)),
        "metadata": metadata,
        "data": or_garbage(st.dictionaries(any_text, st.one_of(any_text, huge_text), max_size=3)),
        "stringData": garbage,
        "binaryData": garbage,
        "spec": specs,
        "status": garbage,
        "items": garbage,
        "type": garbage,
        "rules": garbage,
        "subjects": garbage,
        "target": garbage,
        "propagationPolicy": garbage,
        "gracePeriodSeconds": garbage,
        "preconditions": garbage,
        "dryRun": garbage,
    },
)
json_patches = st.lists(
    st.fixed_dictionaries(
        {"op": or_garbage(st.sampled_from(["add", "remove", "replace", "test", "move", "copy"]))},
        optional={
            "path": or_garbage(st.sampled_from(["/data/a", "/metadata/labels", "/spec", ""])),
            "from": garbage,
            "value": garbage,
        },
    ),
    max_size=3,
)
raw_bodies = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda s: s.encode()),
    st.sampled_from(
        [
            b"",
            b"{}",
            b"[]",
            b"null",
            b'"x"',
            b"{",
            b"\xff\xfe",
            b"---\n---\n",
            b"[1e999]",
            b"{" * 2000,
            b"[" * 100_000,
            b'{"a":' * 5000,
            b"a: &a [*a]\n",
            b"- !!python/object:os.system {}\n",
        ]
    ),
    garbage.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    json_patches.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([3 * MIB + 1, 4 * MIB + 10]).map(
        lambda n: (
            b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"big"},"data":{"a":"'
            + b"x" * n
            + b'"}}'
        )
    ),
)


def _segment(raw: bool) -> st.SearchStrategy[str]:
    txt = st.text(min_size=1, max_size=20)
    return txt.map(lambda s: quote(s, safe="") if not raw else quote(s, safe="%:@!$&'()*+,;="))


segments = st.one_of(
    _segment(False),
    _segment(True),
    st.sampled_from(["%zz", "%00", "..", ".", "%2F", "a%2Fb", "%0A", "a%0Ab", "%E2%80%A8", "%C0%AF"]),
)


@dataclass
class Target:
    path: str
    resource: Any = None  # the ResourceType aimed at, if a real one
    prefix: str = ""  # its /api/v1 or /apis/<group>/<version>


@st.composite
def targets(draw: st.DrawFn) -> Target:
    """Mostly a real resource with a plausible namespace and name, sometimes random segments."""
    if draw(st.integers(0, 3)) == 0:
        parts = [draw(st.sampled_from(PREFIXES))]
        ns = draw(st.sampled_from(["", "/namespaces/default", None]))
        parts.append(ns if ns is not None else "/namespaces/" + draw(segments))
        parts.append("/" + draw(st.one_of(st.sampled_from(RESOURCES), segments)))
        if draw(st.booleans()):
            parts.append("/" + draw(st.one_of(st.sampled_from(NAMES), segments)))
            for _ in range(draw(st.integers(0, 2))):
                parts.append("/" + draw(st.one_of(st.sampled_from(SUBRESOURCES), segments)))
        return Target("".join(parts) + draw(st.sampled_from(["", "", "", "/"])))
    prefix, rt = draw(st.sampled_from(REAL_SEEDED) | st.sampled_from(REAL))
    parts = [prefix]
    if rt.namespaced or rt.kind == "Namespace":
        ns = draw(
            st.sampled_from(
                [*["/namespaces/default"] * 6, "/namespaces/kube-system", "/namespaces/nope", "", None]
            )
        )
        if ns is None:
            ns = "/namespaces/" + draw(segments)
        if rt.kind != "Namespace":
            parts.append(ns)
    parts.append("/" + rt.plural)
    if draw(st.booleans()):
        roll = draw(st.integers(0, 5))
        name = "fuzz" if roll < 3 else draw(st.sampled_from(NAMES)) if roll < 5 else draw(segments)
        parts.append("/" + name)
        if draw(st.integers(0, 3)) == 0:
            subs = [s.name for s in rt.subresources] or SUBRESOURCES
            parts.append("/" + draw(st.one_of(st.sampled_from(subs), segments)))
    return Target("".join(parts), rt, prefix)


query_values = st.one_of(st.sampled_from(QUERY_VALUES), st.text(max_size=20))
query_pairs = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(QUERY_KEYS), query_values),
        st.tuples(st.sampled_from(QUERY_KEYS), query_values),
        st.tuples(st.just("watch"), st.sampled_from(["false", "0", "", "no"])),
        st.tuples(st.text(max_size=10).filter(lambda k: k != "watch"), query_values),
    ),
    max_size=4,
)


@st.composite
def queries(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 15)) == 0:  # a raw, possibly malformed query string
        raw = draw(st.sampled_from(["%zz", "&&==&", "limit", "=", "a=%ff", "labelSelector=%", "?", "watch"]))
        return "?" + raw
    pairs = draw(query_pairs)
    return "?" + urlencode(pairs, quote_via=quote) if pairs else ""


wrong_values = st.one_of(
    st.sampled_from([None, 5, -1, 0, 1.5, "x", "", True, [], {}, [5], {"a": 5}, "9" * 30, 2**70, "1e3"]),
    garbage,
)


def node_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node below the root of a JSON value."""
    out: list[tuple[Any, ...]] = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out.extend(node_paths(v, (*prefix, k)))
    return out


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    """A valid object with one node replaced by a value of a wrong (or right but odd) type, or with
    an unknown field added: the bodies that get furthest into validation, storage and printing."""
    obj = copy.deepcopy(template)
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from(node_paths(obj)))
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        if draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "status", "x-unknown"]))] = copy.deepcopy(
                draw(wrong_values)
            )
        else:
            parent[path[-1]] = copy.deepcopy(draw(wrong_values))
    return obj


# ---------------------------------------------------------------- patch and protobuf bodies
SMP_DIRECTIVES = st.sampled_from(
    [
        {"$patch": "replace"},
        {"$patch": "delete"},
        {"$patch": "merge"},
        {"$patch": "bogus"},
        {"$retainKeys": ["a", "b"]},
        {"$retainKeys": "x"},
        {"$setElementOrder/containers": [{"name": "c"}, {"name": "d"}]},
        {"$setElementOrder/finalizers": ["x"]},
        {"$deleteFromPrimitiveList/finalizers": ["kubernetes"]},
        {"$deleteFromPrimitiveList/args": 5},
        {"containers": [{"name": "c", "$patch": "delete"}]},
        {"containers": [{"$patch": "replace"}]},
        {"tolerations": [{"$patch": "delete", "key": "k"}]},
    ]
)


@st.composite
def strategic_patches(draw: st.DrawFn, template: dict[str, Any] | None) -> dict[str, Any]:
    """A strategic merge patch: the object's changed fields with directives sprinkled in at
    random depths (maps of the template), or directives alone."""
    base = draw(mutated(template)) if template is not None else draw(k8s_objects)
    patch: dict[str, Any] = {k: v for k, v in base.items() if template is None or v != template.get(k)}
    targets_ = [(), *[p for p in node_paths(base) if isinstance(_at(base, p), dict)]]
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(targets_))
        node = patch
        for k in where:
            if not isinstance(node, dict):
                break
            node = node.setdefault(k, {}) if isinstance(k, str) else node
        if isinstance(node, dict):
            node.update(copy.deepcopy(draw(SMP_DIRECTIVES)))
    return patch


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        obj = obj[k]
    return obj


@st.composite
def aimed_json_patches(draw: st.DrawFn, template: dict[str, Any] | None) -> list[dict[str, Any]]:
    """JSON patch operations on paths that exist in the object (so they get past lookup)."""
    paths = [
        "/" + "/".join(str(k).replace("~", "~0").replace("/", "~1") for k in p)
        for p in node_paths(template or {})
    ]
    paths += [
        "/metadata/labels/new",
        "/spec/nope/deeper",
        "/data/-",
        "/spec/template/spec/containers/-",
        "/x~2y",
    ]
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        op: dict[str, Any] = {
            "op": draw(st.sampled_from(["add", "remove", "replace", "test", "move", "copy"]))
        }
        op["path"] = draw(st.sampled_from(paths))
        if op["op"] in ("move", "copy"):
            op["from"] = draw(st.sampled_from(paths))
        if op["op"] in ("add", "replace", "test") and draw(st.integers(0, 5)):
            op["value"] = draw(st.one_of(wrong_values, garbage))
        ops.append(op)
    return ops


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _pb_bytes(field_no: int, payload: bytes) -> bytes:
    return _varint(field_no << 3 | 2) + _varint(len(payload)) + payload


def protobuf_envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """The `k8s\0` magic and a runtime.Unknown{typeMeta{apiVersion, kind}, raw}."""
    type_meta = _pb_bytes(1, api_version.encode()) + _pb_bytes(2, kind.encode())
    return b"k8s\x00" + _pb_bytes(1, type_meta) + _pb_bytes(2, raw)


@st.composite
def protobuf_bodies(draw: st.DrawFn, rt: Any) -> bytes:
    """Protobuf bodies: the right or a wrong type, with random, truncated or plausible messages."""
    av, kind = (rt.api_version, rt.kind) if rt is not None else ("v1", "ConfigMap")
    if draw(st.integers(0, 3)) == 0:
        av, kind = draw(
            st.sampled_from([("v1", "Nope"), ("apps/v1", "ConfigMap"), ("", ""), ("x/y/z", "Pod")])
        )
    name = _pb_bytes(1, b"fuzz-new")  # ObjectMeta.name
    plausible = _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, b"k") + _pb_bytes(2, b"v"))
    raw = draw(
        st.one_of(
            st.binary(max_size=80),
            st.just(plausible),
            st.integers(1, len(plausible) - 1).map(lambda n: plausible[:n]),  # truncated
            st.just(b"\xff" * 12),  # an endless varint
        )
    )
    body = protobuf_envelope(av, kind, raw)
    if draw(st.integers(0, 4)) == 0:
        body = body[: draw(st.integers(0, len(body) - 1))]  # the envelope itself cut short
    return body


@st.composite
def bodies(draw: st.DrawFn, target: Target, method: str) -> tuple[bytes, str]:
    """A body and its natural content type (None when it has none)."""
    rt = target.resource
    template = TEMPLATES.get((rt.group, rt.plural)) if rt is not None else None
    roll = draw(st.integers(0, 9))
    if roll < 2:
        return draw(raw_bodies), ""
    if method == "PATCH" and draw(st.integers(0, 2)) > 0:
        flavour = draw(st.sampled_from(["strategic", "json", "apply"]))
        if flavour == "strategic":
            return json.dumps(draw(strategic_patches(template))).encode(), STRATEGIC_PATCH
        if flavour == "json":
            return json.dumps(draw(aimed_json_patches(template))).encode(), JSON_PATCH
        obj = draw(mutated(template)) if template is not None else draw(k8s_objects)
        if rt is not None and isinstance(obj, dict) and draw(st.booleans()):
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        return yaml.safe_dump(obj).encode(), APPLY_PATCH
    if method in ("POST", "PUT") and draw(st.integers(0, 5)) == 0:
        return draw(protobuf_bodies(rt)), PROTOBUF
    if template is not None and roll < 6:
        obj = draw(mutated(template))
        md = obj.get("metadata")
        if isinstance(md, dict) and md.get("name") == "fuzz":
            if method == "POST":
                md["name"] = draw(st.sampled_from(["fuzz", "fuzz-new", "fuzz-new-2", "fuzz-new-3"]))
            elif draw(st.booleans()):
                del md["name"]
        if method == "PATCH":  # a merge patch of the changed top-level fields
            obj = {k: v for k, v in obj.items() if v != template.get(k)} or obj
    else:
        obj = draw(k8s_objects)
        if rt is not None and draw(st.integers(0, 2)) > 0:
            # Aim at the resource, so the body gets past decoding into validation and storage:
            # the right (or no) apiVersion/kind, a name that exists (updates) or is new (creates).
            if draw(st.integers(0, 3)) == 0 or method == "PATCH":
                obj.pop("apiVersion", None)
                obj.pop("kind", None)
            else:
                obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            md = obj["metadata"] = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
            for k in ("uid", "resourceVersion", "namespace", "creationTimestamp", "deletionTimestamp"):
                if draw(st.booleans()):
                    md.pop(k, None)
            if method == "POST":
                md["name"] = draw(st.sampled_from(["fuzz", "fuzz-new", "fuzz-new-2", "fuzz-new-3"]))
            else:
                md.pop("name", None)
    if draw(st.integers(0, 4)) == 0:
        return yaml.safe_dump(obj).encode(), YAML_CT
    return json.dumps(obj).encode(), JSON_CT


@dataclass
class FuzzRequest:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    target: Target | None = None

    def describe(self) -> str:
        body = "<no body>" if self.body is None else f"{len(self.body)} bytes: {self.body[:400]!r}"
        return f"{self.method} {self.path}\n  headers: {self.headers}\n  body: {body}"


def seeded_path(prefix: str, rt: Any, name: str = "") -> str:
    ns = "" if not rt.namespaced else f"/namespaces/{NS}"
    return f"{prefix}{ns}/{rt.plural}" + (f"/{name}" if name else "")


@st.composite
def fuzz_requests(draw: st.DrawFn) -> FuzzRequest:
    """One of four scenarios: an update/get/delete of a seeded object, a create in a seeded
    collection, a collection request (list, deletecollection), or anything at all."""
    scenario = draw(st.sampled_from(["object"] * 7 + ["create"] * 4 + ["collection"] * 3 + ["any"] * 6))
    if scenario == "any":
        method = draw(st.sampled_from(["GET", "GET", "POST", "PUT", "PATCH", "DELETE"]))
        target = draw(targets())
    else:
        prefix, rt = draw(st.sampled_from(REAL_SEEDED))
        if scenario == "object":
            method = draw(st.sampled_from(["GET", "PUT", "PUT", "PATCH", "PATCH", "PATCH", "DELETE"]))
            path = seeded_path(prefix, rt, "fuzz")
            if rt.subresources and draw(st.integers(0, 3)) == 0:
                path += "/" + draw(st.sampled_from([sub.name for sub in rt.subresources]))
        elif scenario == "create":
            method = "POST"
            path = seeded_path(prefix, rt)
        else:
            method = draw(st.sampled_from(["GET", "GET", "DELETE"]))
            path = seeded_path(prefix, rt)
        target = Target(path, rt, prefix)
    path = target.path + draw(queries())
    body, natural = None, ""
    if method in ("POST", "PUT", "PATCH") or draw(st.integers(0, 5)) == 0:
        body, natural = draw(bodies(target, method))
    headers: dict[str, str] = {}
    # Mostly the content type a client would send, so bodies reach the decoders and beyond.
    if natural in (STRATEGIC_PATCH, JSON_PATCH, APPLY_PATCH, PROTOBUF):
        usual: str | None = natural
        if natural == APPLY_PATCH and draw(st.integers(0, 4)):
            path += (
                ("&" if "?" in path else "?")
                + "fieldManager=fuzz"
                + draw(st.sampled_from(["", "&force=true"]))
            )
    elif method == "PATCH":
        usual = "application/merge-patch+json"
    else:
        usual = natural if natural == YAML_CT else draw(st.sampled_from([None, JSON_CT]))
    roll = draw(st.integers(0, 9))
    ctype = usual if roll < 7 else draw(st.sampled_from(CONTENT_TYPES)) if roll < 9 else draw(header_text)
    if ctype is not None:
        headers["Content-Type"] = ctype
    roll = draw(st.integers(0, 9))
    accept = None if roll < 5 else draw(st.sampled_from(ACCEPTS)) if roll < 9 else draw(header_text)
    if accept is not None:
        headers["Accept"] = accept
    return FuzzRequest(method, path, body, headers, target)


CONTAINER = {
    "name": "c",
    "image": "nginx:1.27",
    "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
    "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
    "env": [{"name": "A", "value": "b"}],
    "command": ["sh", "-c", "true"],
}
POD_TEMPLATE = {
    "metadata": {"labels": {"app": "fuzz"}, "annotations": {"a": "b"}},
    "spec": {
        "containers": [CONTAINER],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "volumes": [{"name": "v", "emptyDir": {}}],
    },
}
SEED_OBJECTS = [
    ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fuzz"}}),
    (CM, cm("fuzz", data={"a": "b"}, metadata={"labels": {"app": "fuzz"}})),
    (
        f"/api/v1/namespaces/{NS}/secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fuzz"}},
    ),
    (
        f"/api/v1/namespaces/{NS}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "fuzz"}},
    ),
    (
        f"/api/v1/namespaces/{NS}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "fuzz"},
            "spec": {
                "selector": {"app": "fuzz"},
                "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP", "name": "http"}],
                "type": "ClusterIP",
            },
        },
    ),
    (
        f"/api/v1/namespaces/{NS}/pods",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fuzz", "labels": {"app": "fuzz"}}}
        | {"spec": POD_TEMPLATE["spec"]},
    ),
    (
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "fuzz"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "fuzz"}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
                },
                "template": {**POD_TEMPLATE, "spec": {"containers": [CONTAINER]}},
            },
        },
    ),
    (
        f"/apis/batch/v1/namespaces/{NS}/jobs",
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "fuzz"},
            "spec": {"suspend": True, "template": POD_TEMPLATE},
        },
    ),
    (
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "fuzz"},
            "rules": [],
        },
    ),
    (
        f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases",
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "fuzz"}, "spec": {}},
    ),
]
# (group, plural) of the seeded resources; random paths aim at these half of the time.
TEMPLATES = {
    ("" if p.startswith("/api/") else p.split("/")[2], p.rsplit("/", 1)[1]): o for p, o in SEED_OBJECTS
}
SEEDED = set(TEMPLATES)
REAL_SEEDED = [(prefix, rt) for prefix, rt in REAL if (rt.group, rt.plural) in SEEDED]


def seed(client: Client) -> None:
    """(Re)create the objects the random requests address by name, so updates reach deep code."""
    for path, obj in SEED_OBJECTS:
        r = client.call("POST", path, obj)
        assert r.status in (201, 409, 403), r.raw[:500]  # 403: default namespace being deleted


def problems_with(reply: Reply) -> str | None:
    """Why this answer is wrong, or None."""
    if reply.status == 500 or reply.status not in ALLOWED:
        return f"status {reply.status}"
    if reply.status == 404 and reply.raw == b"404 page not found\n":  # kube's not-found handler
        return (
            None
            if reply.content_type.startswith("text/plain")
            else f"404 Content-Type {reply.content_type!r}"
        )
    if reply.status >= 400:
        s = reply.body
        if not isinstance(s, dict):
            return "error body is not a JSON object"
        if s.get("kind") != "Status" or s.get("apiVersion") != "v1" or s.get("status") != "Failure":
            return "error body is not a failure Status"
        if s.get("code") != reply.status:
            return f"Status code {s.get('code')!r} != HTTP status {reply.status}"
        if not isinstance(s.get("reason"), str) or not s["reason"]:
            return "Status has no reason"
        if not reply.content_type.startswith("application/json"):
            return f"error Content-Type {reply.content_type!r}"
    elif reply.status == 204:  # pods/log of a pod that has no node yet: no content, as kube-apiserver
        if reply.raw:
            return "204 with a body"
    elif "yaml" not in reply.content_type:
        try:
            json.loads(reply.raw)
        except ValueError:
            return f"success body is not JSON (Content-Type {reply.content_type!r})"
    return None


def _seeded_target(group: str, plural: str, name: str = "") -> Target:
    prefix, rt = next((p, r) for p, r in REAL_SEEDED if (r.group, r.plural) == (group, plural))
    return Target(seeded_path(prefix, rt, name), rt, prefix)


# Requests that once broke the server, tried on every run besides the random ones.
KNOWN_BAD = [
    FuzzRequest("GET", f"{CM}/a%0Ab", None),
    FuzzRequest(
        "POST",
        f"/api/v1/namespaces/{NS}/pods",
        b'{"metadata": {"name": "fuzz-new"}, "spec": {"containers": 5}}',
        {"Content-Type": JSON_CT},
        _seeded_target("", "pods"),
    ),
    FuzzRequest(
        "PATCH",
        f"/apis/apps/v1/namespaces/{NS}/deployments/fuzz",
        b'{"spec": {"replicas": "x"}}',
        {"Content-Type": MERGE_PATCH},
        _seeded_target("apps", "deployments", "fuzz"),
    ),
]
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}


def read_backs(req: FuzzRequest, reply: Reply) -> list[FuzzRequest]:
    """After the server accepted a write, the reads that must serve what it stored: the object as
    JSON and as a Table, the collection as a Table and with selectors, and readable subresources."""
    t = req.target
    if t is None or t.resource is None or req.method not in ("POST", "PUT", "PATCH") or reply.status >= 300:
        return []
    obj = reply.body
    md = obj.get("metadata") if isinstance(obj, dict) else None
    name = md.get("name") if isinstance(md, dict) else None
    if not isinstance(name, str) or not name or "/" in name:
        return []
    rt = t.resource
    if t.path.startswith(seeded_path(t.prefix, rt)):
        coll = seeded_path(t.prefix, rt)
    else:  # a namespace other than default, or cluster scope
        coll = t.path.split("?")[0].rsplit("/" + rt.plural, 1)[0] + "/" + rt.plural
    one = f"{coll}/{quote(name, safe='')}"
    if rt.kind == "Namespace":
        coll, one = "/api/v1/namespaces", f"/api/v1/namespaces/{quote(name, safe='')}"
    sel = urlencode({"labelSelector": "app=fuzz", "fieldSelector": f"metadata.name={name}"})
    reads = [
        FuzzRequest("GET", one, None),
        FuzzRequest("GET", one, None, TABLE),
        FuzzRequest("GET", coll, None, TABLE),
        FuzzRequest("GET", f"{coll}?{sel}", None),
        FuzzRequest("GET", f"{coll}?{sel}&limit=1", None, TABLE),
    ]
    reads += [FuzzRequest("GET", f"{one}/{sub.name}", None) for sub in rt.subresources if "get" in sub.verbs]
    return reads


def test_random_requests_get_a_proper_status_and_never_break_the_server(fuzz_server: Server) -> None:
    """Every answer is an allowed code (never 500) with a well-formed Status on errors; whatever a
    write stored can be read back (as JSON, as a Table, in lists, through subresources); every
    HEALTH_EVERY requests and at the end the server is alive and serving. All bad answers are
    collected (one per distinct symptom) and reported together with the request to reproduce."""
    client = Client(fuzz_server.url, fuzz_server.ca_file, fuzz_server.token, timeout=20)
    probe = Client(fuzz_server.url, fuzz_server.ca_file, fuzz_server.token, timeout=20)
    seed(client)
    failures: dict[tuple[str, ...], str] = {}
    counter = itertools.count(1)

    def send(req: FuzzRequest, after: FuzzRequest | None = None) -> Reply | None:
        try:
            reply = client.call(req.method, req.path, req.body, req.headers)
        except Exception as e:  # no answer at all: record it, then see whether the server survived
            client.close()
            key = ("no answer", type(e).__name__)
            failures.setdefault(key, f"{req.describe()}\n  -> no answer: {e!r}")
            return None
        if FUZZ_LOG:
            with open(FUZZ_LOG, "a") as f:
                f.write(f"{reply.status} {req.describe()}\n  -> {reply.raw[:300]!r}\n")
        why = problems_with(reply)
        if why is not None:
            msg = reply.body.get("message", "") if isinstance(reply.body, dict) else reply.raw[:40]
            key = (why, re.sub(r"\d+", "N", str(msg))[:60])
            if key not in failures:
                report = f"{req.describe()}\n  -> {why}: {reply.raw[:600]!r}"
                if after is not None:
                    report = f"after the accepted write\n{after.describe()}\nthe read back\n{report}"
                failures[key] = report
                print(f"\nBAD ANSWER {report}")
        return reply

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(req=fuzz_requests())
    @example(req=KNOWN_BAD[0])
    @example(req=KNOWN_BAD[1])
    @example(req=KNOWN_BAD[2])
    def one_request(req: FuzzRequest) -> None:
        n = next(counter)
        reply = send(req)
        if reply is not None:
            for read in read_backs(req, reply):
                send(read, after=req)
        if n % HEALTH_EVERY == 0 or reply is None:
            healthy(fuzz_server, probe)
        if n % RESEED_EVERY == 0:
            seed(probe)

    try:
        one_request()
        healthy(fuzz_server, probe)
    finally:
        client.close()
        probe.close()
    if failures:
        pytest.fail(
            f"{len(failures)} bad answer(s):\n\n"
            + "\n\n".join(failures.values())
            + f"\n\ninternal errors in the server log {fuzz_server.log_path}:\n"
            + "\n".join(internal_errors(fuzz_server))
        )


def internal_errors(server: Server, limit: int = 20) -> list[str]:
    """One line per distinct internal error the server logged: the request, where, and the exception."""
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return []
    seen: dict[tuple[str, str], str] = {}
    for block in re.split(r"\n(?=\d{4}-\d\d-\d\d )", text):
        if "internal error on" not in block:
            continue
        lines = block.splitlines()
        frames = [ln.strip() for ln in lines if ln.strip().startswith('File "') and "/vcluster/" in ln]
        where, exc = (frames[-1] if frames else "?"), lines[-1].strip()
        seen.setdefault(
            (where, exc), f"{lines[0].split('internal error on ', 1)[-1][:200]}\n    {where}\n    {exc}"
        )
    return list(seen.values())[:limit]
