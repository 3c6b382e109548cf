"""apiregistration.k8s.io/v1 APIServices (kube-aggregator) with the real kubectl and a real HTTPS
aggregated API server on loopback: the autoregistered local APIServices, a CRD's group coming and
going, a service-backed group becoming Available and proxied with the front-proxy headers, a
Service without endpoints (MissingEndpoints, 503), a missing Service, and validation errors."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.httpclient import Client

from .aggregated_server import GROUP, PLURAL, VERSION, AggregatedServer
from .conftest import Kubectl, Server, parse_table, server_fixture

server = server_fixture(args=["--enable-aggregator-routing"])
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Client:
    return Client(server.url, server.ca_file, server.token)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AggregatedServer]:
    srv = AggregatedServer(tmp_path_factory.mktemp("agg"), ["api.wardle.svc"])
    yield srv
    srv.stop()


def _wait(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


def _get(api: Client, name: str) -> dict[str, Any] | None:
    r = api.call("GET", f"{APISERVICES}/{name}")
    return r.body if r.status == 200 else None


def _available(api: Client, name: str) -> dict[str, Any] | None:
    obj = _get(api, name) or {}
    return next(
        (c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Available"), None
    )


def _create(api: Client, path: str, body: dict[str, Any]) -> None:
    r = api.call("POST", path, body)
    assert r.status == 201, r.body


def _apiservice(name: str, group: str, version: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            **spec,
        },
    }


def test_local_apiservices_listed_available(k: Kubectl, api: Client) -> None:
    _wait(lambda: _get(api, "v1.apps"))
    out = k("get", "apiservices")
    names, rows = parse_table(out)
    by_name = {r["NAME"]: r for r in rows}
    assert names == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    for name in ("v1.", "v1.apps", "v1.apiregistration.k8s.io", "v2.autoscaling", "v1.apiextensions.k8s.io"):
        assert by_name[name]["SERVICE"] == "Local", out
        assert by_name[name]["AVAILABLE"] == "True", out
    core = _get(api, "v1.")
    assert core is not None
    assert core["metadata"]["labels"] == {AUTOMANAGED: "onstart"}
    assert core["spec"] == {"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    cond = _available(api, "v1.apps")
    assert cond is not None
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True",
        "Local",
        "Local APIServices are always available",
    )
    assert _get(api, "v2.autoscaling")["spec"]["versionPriority"] == 30  # type: ignore[index]


def test_crd_group_registered_and_removed(k: Kubectl, api: Client) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.stable.example.com"},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    _create(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    obj = _wait(lambda: _get(api, "v1.stable.example.com"))
    assert obj["metadata"]["labels"] == {AUTOMANAGED: "true"}
    assert obj["spec"]["groupPriorityMinimum"] == 1000 and obj["spec"]["versionPriority"] == 100
    assert "v1.stable.example.com" in k("get", "apiservices", "-o", "name")
    r = api.call(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.stable.example.com"
    )
    assert r.status == 200, r.body
    _wait(lambda: _get(api, "v1.stable.example.com") is None)


def test_user_apiservice_left_alone(api: Client) -> None:
    """An APIService without the automanaged label is never touched by autoregistration."""
    _create(api, APISERVICES, _apiservice("v1.mine.example.com", "mine.example.com", "v1"))
    time.sleep(0.3)
    obj = _get(api, "v1.mine.example.com")
    assert obj is not None and "labels" not in obj["metadata"]
    assert _available(api, "v1.mine.example.com")["reason"] == "Local"  # type: ignore[index]
    assert api.call("DELETE", f"{APISERVICES}/v1.mine.example.com").status == 200


def test_service_backed_group_proxied(k: Kubectl, api: Client, backend: AggregatedServer) -> None:
    k("create", "namespace", "wardle")
    _create(
        api,
        "/api/v1/namespaces/wardle/services",
        {
            "metadata": {"name": "api"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]},
        },
    )
    _create(
        api,
        "/api/v1/namespaces/wardle/endpoints",
        {
            "metadata": {"name": "api"},
            "subsets": [
                {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": backend.port}]}
            ],
        },
    )
    ca = base64.b64encode(backend.ca_pem).decode()
    svc = {"namespace": "wardle", "name": "api", "port": 443}
    _create(api, APISERVICES, _apiservice(f"{VERSION}.{GROUP}", GROUP, VERSION, service=svc, caBundle=ca))
    cond = _wait(lambda: (c := _available(api, f"{VERSION}.{GROUP}")) and c["status"] == "True" and c)
    assert (cond["reason"], cond["message"]) == ("Passed", "all checks passed")
    rows = {r["NAME"]: r for r in parse_table(k("get", "apiservices"))[1]}
    assert rows[f"{VERSION}.{GROUP}"]["SERVICE"] == "wardle/api"
    assert rows[f"{VERSION}.{GROUP}"]["AVAILABLE"] == "True"
    # the availability check asked the backend as system:kube-aggregator
    check = backend.seen(f"/apis/{GROUP}/{VERSION}")[0]
    assert check["x-remote-user"] == ["system:kube-aggregator"]
    # discovery lists the group (legacy and aggregated), and kubectl finds the resource through it
    groups = api.call("GET", "/apis").body["groups"]
    assert any(g["name"] == GROUP for g in groups)
    agg = api.call(
        "GET",
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    ).body
    item = next(i for i in agg["items"] if i["metadata"]["name"] == GROUP)
    assert item["versions"][0]["freshness"] == "Current"
    assert [r["resource"] for r in item["versions"][0]["resources"]] == [PLURAL]
    out = k("get", PLURAL, "-n", "wardle", "-o", "json")
    items = json.loads(out)["items"]
    assert [i["metadata"]["name"] for i in items] == ["hello"]
    whoami = json.loads(k("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert items[0]["metadata"]["annotations"]["seen-user"] == whoami["username"]
    seen = backend.seen(f"/apis/{GROUP}/{VERSION}/namespaces/wardle/{PLURAL}")[-1]
    assert seen["x-remote-user"] == [whoami["username"]]
    assert sorted(seen["x-remote-group"]) == sorted(whoami["groups"])
    assert "authorization" not in seen  # the client's credentials stay with us
    assert "NAME" in k("get", "fl", "-n", "wardle")  # short name from the backend's discovery


def test_missing_endpoints_unavailable_503(k: Kubectl, api: Client) -> None:
    k("create", "namespace", "gadgets")
    _create(
        api,
        "/api/v1/namespaces/gadgets/services",
        {"metadata": {"name": "api"}, "spec": {"ports": [{"name": "https", "port": 443}]}},
    )
    _create(api, "/api/v1/namespaces/gadgets/endpoints", {"metadata": {"name": "api"}})
    svc = {"namespace": "gadgets", "name": "api", "port": 443}
    _create(api, APISERVICES, _apiservice("v1.gadgets.example.com", "gadgets.example.com", "v1", service=svc))
    cond = _wait(lambda: (c := _available(api, "v1.gadgets.example.com")) and c["status"] == "False" and c)
    assert cond["reason"] == "MissingEndpoints"
    assert (
        cond["message"] == 'endpoints for service/api in "gadgets" have no addresses with port name "https"'
    )
    rows = {r["NAME"]: r for r in parse_table(k("get", "apiservices"))[1]}
    assert rows["v1.gadgets.example.com"]["AVAILABLE"] == "False (MissingEndpoints)"
    r = api.call("GET", "/apis/gadgets.example.com/v1/namespaces/default/things")
    assert r.status == 503
    assert r.raw == b"service unavailable\n"
    # kube's aggregated discovery keeps the group, Stale, without resources
    agg = api.call(
        "GET",
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    ).body
    item = next(i for i in agg["items"] if i["metadata"]["name"] == "gadgets.example.com")
    assert item["versions"] == [{"version": "v1", "resources": [], "freshness": "Stale"}]


def test_missing_service(api: Client) -> None:
    svc = {"namespace": "gadgets", "name": "nope", "port": 443}
    _create(api, APISERVICES, _apiservice("v2.gadgets.example.com", "gadgets.example.com", "v2", service=svc))
    cond = _wait(lambda: (c := _available(api, "v2.gadgets.example.com")) and c["status"] == "False" and c)
    assert (cond["reason"], cond["message"]) == (
        "ServiceNotFound",
        'service/nope in "gadgets" is not present',
    )


def test_status_ignored_on_create_and_update(api: Client) -> None:
    body = _apiservice("v1.st.example.com", "st.example.com", "v1")
    body["status"] = {"conditions": [{"type": "Available", "status": "False", "reason": "Mine"}]}
    _create(api, APISERVICES, body)
    assert _available(api, "v1.st.example.com")["reason"] == "Local"  # type: ignore[index]
    obj = _get(api, "v1.st.example.com")
    assert obj is not None
    obj["status"] = {"conditions": [{"type": "Available", "status": "False", "reason": "Mine"}]}
    obj["spec"]["versionPriority"] = 20
    r = api.call("PUT", f"{APISERVICES}/v1.st.example.com", obj)
    assert r.status == 200, r.body
    assert r.body["spec"]["versionPriority"] == 20
    assert r.body["status"]["conditions"][0]["reason"] == "Local"


def test_validation_errors(api: Client) -> None:
    bad = _apiservice("v1.other.example.com", "bad.example.com", "v1")
    bad["spec"].update(
        groupPriorityMinimum=0,
        versionPriority=1001,
        caBundle=base64.b64encode(b"abc").decode(),
        insecureSkipTLSVerify=True,
        service={"namespace": "", "name": "x", "port": 70000},
    )
    r = api.call("POST", APISERVICES, bad)
    assert r.status == 422, r.body
    assert r.body["reason"] == "Invalid"
    fields = [(c["field"], c["reason"]) for c in r.body["details"]["causes"]]
    assert fields == [
        ("metadata.name", "FieldValueInvalid"),
        ("spec.groupPriorityMinimum", "FieldValueInvalid"),
        ("spec.versionPriority", "FieldValueInvalid"),
        ("spec.service.namespace", "FieldValueRequired"),
        ("spec.service.port", "FieldValueInvalid"),
        ("spec.insecureSkipTLSVerify", "FieldValueInvalid"),
    ]
    assert r.body["details"]["causes"][0]["message"] == (
        'Invalid value: "v1.other.example.com": must be `spec.version+"."+spec.group`: "v1.bad.example.com"'
    )
    local = _apiservice(
        "v1beta1.local.example.com", "local.example.com", "v1beta1", insecureSkipTLSVerify=True
    )
    local["spec"]["caBundle"] = base64.b64encode(b"abcd").decode()
    r = api.call("POST", APISERVICES, local)
    assert r.status == 422
    assert [(c["field"], c["message"]) for c in r.body["details"]["causes"]] == [
        ("spec.caBundle", 'Invalid value: "4 bytes": local APIServices may not have a caBundle'),
        (
            "spec.insecureSkipTLSVerify",
            "Invalid value: true: local APIServices may not have insecureSkipTLSVerify",
        ),
    ]
    r = api.call("POST", APISERVICES, _apiservice("v2.", "", "v2"))
    assert r.status == 422
    assert [c["field"] for c in r.body["details"]["causes"]] == ["spec.group"]
    assert api.call("GET", f"{APISERVICES}/v1.other.example.com").status == 404  # nothing stored
