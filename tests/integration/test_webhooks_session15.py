"""Admission webhooks (admissionregistration.k8s.io/v1) against real HTTPS webhook servers on
loopback, with the real kubectl and raw HTTP: deny with a message, mutate with a JSON patch,
failurePolicy Ignore vs Fail, timeouts, namespace and object selectors, dry run, warnings, DELETE,
matchPolicy Equivalent, Service client config, and validation errors of bad configurations."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.httpclient import Client

from .conftest import Kubectl, Server, parse_table, server_fixture
from .webhook_server import WebhookServer, allow, patch_response, slow

server = server_fixture()
VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Client:
    return Client(server.url, server.ca_file, server.token)


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    ws = WebhookServer(tmp_path_factory.mktemp("webhook"), ["hooksvc.webhooks.svc"])
    yield ws
    ws.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _webhook(name: str, client: dict[str, Any], resources: list[str], **extra: Any) -> dict[str, Any]:
    ops = extra.pop("operations", ["CREATE"])
    groups = extra.pop("apiGroups", [""])
    versions = extra.pop("apiVersions", ["v1"])
    return {
        "name": name,
        "clientConfig": client,
        "rules": [{"operations": ops, "apiGroups": groups, "apiVersions": versions, "resources": resources}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


def _url(hooks: WebhookServer, path: str) -> dict[str, Any]:
    return {"url": hooks.url(path), "caBundle": hooks.ca_bundle}


def _configure(api: Client, mutating: bool, name: str, webhooks: list[dict[str, Any]]) -> None:
    kind = "MutatingWebhookConfiguration" if mutating else "ValidatingWebhookConfiguration"
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": webhooks,
    }
    r = api.call("POST", MWC if mutating else VWC, body)
    assert r.status == 201, r.body


def _remove(api: Client, mutating: bool, name: str) -> None:
    r = api.call("DELETE", f"{MWC if mutating else VWC}/{name}")
    assert r.status == 200, r.body


def _namespace(api: Client, name: str, labels: dict[str, str] | None = None) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
    r = api.call("POST", "/api/v1/namespaces", body)
    assert r.status == 201, r.body


def _cm(api: Client, ns: str, name: str, labels: dict[str, str] | None = None, query: str = "") -> Any:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}}}
    return api.call("POST", f"/api/v1/namespaces/{ns}/configmaps{query}", body)


def test_configurations_served_defaulted_and_printed(api: Client, k: Kubectl, hooks: WebhookServer) -> None:
    resources = k("api-resources", "--api-group=admissionregistration.k8s.io", "-o", "wide")
    assert "validatingwebhookconfigurations" in resources and "mutatingwebhookconfigurations" in resources
    hook = {
        "name": "print.test.example.com",
        "clientConfig": {"service": {"namespace": "ns", "name": "svc"}},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["x"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    _configure(api, True, "print-config", [hook, {**hook, "name": "second.test.example.com"}])
    try:
        got = api.call("GET", f"{MWC}/print-config").body
        w = got["webhooks"][0]
        assert got["metadata"]["generation"] == 1
        assert w["failurePolicy"] == "Fail" and w["matchPolicy"] == "Equivalent"
        assert w["namespaceSelector"] == {} and w["objectSelector"] == {}
        assert w["timeoutSeconds"] == 10 and w["reinvocationPolicy"] == "Never"
        assert w["rules"][0]["scope"] == "*" and w["clientConfig"]["service"]["port"] == 443
        header, rows = parse_table(k("get", "mutatingwebhookconfigurations"))
        assert header == ["NAME", "WEBHOOKS", "AGE"]
        assert [r["WEBHOOKS"] for r in rows if r["NAME"] == "print-config"] == ["2"]
        assert "print-config" in k("get", "api-extensions", "-o", "name")
        assert "SideEffects states whether" in k(
            "explain", "validatingwebhookconfiguration.webhooks.sideEffects"
        )
    finally:
        _remove(api, True, "print-config")


def test_bad_configurations_are_422_with_kube_field_paths(api: Client, hooks: WebhookServer) -> None:
    bad = {
        "name": "two.segments",
        "clientConfig": {
            "url": "http://user@example.com/x?q=1#f",
            "service": {"namespace": "a", "name": "b"},
        },
        "rules": [
            {"operations": ["*", "CREATE"], "apiGroups": ["*", "apps"], "apiVersions": [], "resources": []},
            {"operations": ["FOO"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*", "pods"]},
        ],
        "sideEffects": "Some",
        "timeoutSeconds": 31,
        "admissionReviewVersions": ["v2"],
        "matchConditions": [{"name": "c", "expression": "1"}],
    }
    body = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "bad"},
        "webhooks": [bad, {**bad, "sideEffects": None}],
    }
    r = api.call("POST", VWC, body)
    assert r.status == 422, r.body
    st = r.body
    assert st["reason"] == "Invalid" and st["details"]["kind"] == "ValidatingWebhookConfiguration"
    causes = {(c["field"], c["message"]) for c in st["details"]["causes"]}
    expected = {
        (
            "webhooks[0].name",
            'Invalid value: "two.segments": '
            "should be a domain with at least three segments separated by dots",
        ),
        (
            "webhooks[0].rules[0].operations",
            'Invalid value: []admissionregistration.OperationType{"*", "CREATE"}: '
            "if '*' is present, must not specify other operations",
        ),
        (
            "webhooks[0].rules[0].apiGroups",
            'Invalid value: []string{"*", "apps"}: if \'*\' is present, must not specify other API groups',
        ),
        ("webhooks[0].rules[0].apiVersions", "Required value"),
        ("webhooks[0].rules[0].resources", "Required value"),
        (
            "webhooks[0].rules[1].operations[0]",
            'Unsupported value: "FOO": supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE"',
        ),
        (
            "webhooks[0].rules[1].resources",
            'Invalid value: []string{"*", "pods"}: '
            "if '*' is present, must not specify other resources without subresources",
        ),
        ("webhooks[0].sideEffects", 'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"'),
        (
            "webhooks[0].timeoutSeconds",
            "Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        ),
        ("webhooks[0].clientConfig", "Required value: exactly one of url or service is required"),
        (
            "webhooks[0].admissionReviewVersions",
            'Invalid value: []string{"v2"}: must include at least one of v1, v1beta1',
        ),
        ("webhooks[1].sideEffects", "Required value: must specify one of None, NoneOnDryRun"),
        ("webhooks[1].name", 'Duplicate value: "two.segments"'),
    }
    assert expected <= causes, causes - expected
    assert (
        "webhooks[0].matchConditions[0].expression",
        'Invalid value: "1": must evaluate to bool',
    ) in causes
    # the url alone: https only, no user, query or fragment
    body["webhooks"] = [{**bad, "clientConfig": {"url": "http://user@example.com/x?q=1#f"}}]
    r = api.call("POST", VWC, body)
    url_causes = {
        c["message"] for c in r.body["details"]["causes"] if c["field"] == "webhooks[0].clientConfig.url"
    }
    assert url_causes == {
        "Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
        'Invalid value: "user": user information is not permitted in the URL',
        'Invalid value: "f": fragments are not permitted in the URL',
        'Invalid value: "q=1": query parameters are not permitted in the URL',
    }
    assert api.call("GET", f"{VWC}/bad").status == 404


def test_deny_with_message_and_object_selector(api: Client, k: Kubectl, hooks: WebhookServer) -> None:
    hooks.behaviours["/deny"] = lambda rv: {
        "uid": rv["request"]["uid"],
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": "configmaps labelled deny are refused"},
    }
    _namespace(api, "wh-deny")
    wh = _webhook(
        "deny.test.example.com",
        _url(hooks, "/deny"),
        ["configmaps"],
        objectSelector={"matchLabels": {"deny": "yes"}},
    )
    _configure(api, False, "deny-config", [wh])
    try:
        p = k.run("create", "configmap", "refused", "-n", "wh-deny", check=False, input=None)
        assert p.returncode == 0, p.stderr  # no label: the objectSelector leaves it alone
        manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: denied\n  labels: {deny: 'yes'}\n"
        p = k.run("create", "-n", "wh-deny", "-f", "-", input=manifest, check=False)
        assert p.returncode == 1
        assert (
            'Error from server (Forbidden): error when creating "STDIN": admission webhook '
            '"deny.test.example.com" denied the request: configmaps labelled deny are refused'
        ) in p.stderr
        assert api.call("GET", "/api/v1/namespaces/wh-deny/configmaps/denied").status == 404
        review = hooks.reviews("/deny")[-1]
        assert review["apiVersion"] == "admission.k8s.io/v1" and review["_query"] == "timeout=10s"
        req = review["request"]
        assert req["operation"] == "CREATE" and req["namespace"] == "wh-deny" and req["name"] == "denied"
        assert req["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
        assert req["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
        assert req["requestResource"] == req["resource"] and req["dryRun"] is False
        assert req["object"]["metadata"]["labels"] == {"deny": "yes"} and req["oldObject"] is None
        assert req["options"]["kind"] == "CreateOptions" and req["userInfo"]["username"] == "admin"
        # a denial without a message: 400 with kube's wording
        hooks.behaviours["/deny"] = lambda rv: {"uid": rv["request"]["uid"], "allowed": False}
        r = _cm(api, "wh-deny", "plain", {"deny": "yes"})
        assert r.status == 400 and r.body["message"] == (
            'admission webhook "deny.test.example.com" denied the request without explanation'
        )
    finally:
        _remove(api, False, "deny-config")


def test_mutating_patch_adds_label_with_namespace_selector(
    api: Client, k: Kubectl, hooks: WebhookServer
) -> None:
    hooks.behaviours["/label"] = lambda rv: patch_response(
        rv, [{"op": "add", "path": "/metadata/labels", "value": {"mutated": "by-webhook"}}]
    )
    _namespace(api, "wh-mut-on", {"webhooks": "on"})
    _namespace(api, "wh-mut-off")
    wh = _webhook(
        "label.test.example.com",
        _url(hooks, "/label"),
        ["configmaps"],
        namespaceSelector={"matchExpressions": [{"key": "webhooks", "operator": "In", "values": ["on"]}]},
    )
    _configure(api, True, "label-config", [wh])
    try:
        k("create", "configmap", "one", "-n", "wh-mut-on")
        got = json.loads(k("get", "configmap", "one", "-n", "wh-mut-on", "-o", "json"))
        assert got["metadata"]["labels"] == {"mutated": "by-webhook"}
        k("create", "configmap", "two", "-n", "wh-mut-off")
        got = json.loads(k("get", "configmap", "two", "-n", "wh-mut-off", "-o", "json"))
        assert "labels" not in got["metadata"]
        assert [rv["request"]["name"] for rv in hooks.reviews("/label")] == ["one"]
        # a patch that cannot apply: 500 InternalError
        hooks.behaviours["/label"] = lambda rv: patch_response(
            rv,
            [
                {"op": "add", "path": "/metadata/unknown", "value": "dropped"},
                {"op": "remove", "path": "/nothere"},
            ],
        )
        r = _cm(api, "wh-mut-on", "three")
        assert r.status == 500 and r.body["reason"] == "InternalError", r.body
        assert r.body["message"] == (
            "Internal error occurred: Unable to remove nonexistent key: nothere: missing value"
        )
    finally:
        _remove(api, True, "label-config")


def test_failure_policy_ignore_and_fail_with_unreachable_url(api: Client, hooks: WebhookServer) -> None:
    _namespace(api, "wh-fail")
    port = _free_port()
    dead = {"url": f"https://127.0.0.1:{port}/nowhere", "caBundle": hooks.ca_bundle}
    _configure(
        api,
        False,
        "ignore-config",
        [_webhook("ignore.test.example.com", dead, ["secrets"], failurePolicy="Ignore")],
    )
    try:
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}}
        r = api.call("POST", "/api/v1/namespaces/wh-fail/secrets", body)
        assert r.status == 201, r.body
    finally:
        _remove(api, False, "ignore-config")
    _configure(api, False, "fail-config", [_webhook("fail.test.example.com", dead, ["secrets"])])
    try:
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"}}
        r = api.call("POST", "/api/v1/namespaces/wh-fail/secrets", body)
        assert r.status == 500 and r.body["reason"] == "InternalError"
        assert r.body["message"] == (
            'Internal error occurred: failed calling webhook "fail.test.example.com": '
            f'failed to call webhook: Post "https://127.0.0.1:{port}/nowhere?timeout=10s": '
            f"dial tcp 127.0.0.1:{port}: connect: connection refused"
        )
        assert api.call("GET", "/api/v1/namespaces/wh-fail/secrets/s2").status == 404
    finally:
        _remove(api, False, "fail-config")


def test_timeout_fails_closed_quickly(api: Client, hooks: WebhookServer) -> None:
    hooks.behaviours["/slow"] = slow(3)
    _namespace(api, "wh-slow")
    wh = _webhook("slow.test.example.com", _url(hooks, "/slow"), ["configmaps"], timeoutSeconds=1)
    _configure(api, False, "slow-config", [wh])
    try:
        t0 = time.monotonic()
        r = _cm(api, "wh-slow", "late")
        elapsed = time.monotonic() - t0
        assert r.status == 500 and r.body["message"].endswith(
            f'Post "{hooks.url("/slow")}?timeout=1s": context deadline exceeded'
        ), r.body
        assert elapsed < 2.5
    finally:
        _remove(api, False, "slow-config")


def test_dry_run_warnings_and_delete(api: Client, k: Kubectl, hooks: WebhookServer) -> None:
    hooks.behaviours["/warn"] = lambda rv: allow(
        rv, warnings=[f"{rv['request']['operation']} seen by webhook"]
    )
    hooks.behaviours["/nodelete"] = lambda rv: {
        "uid": rv["request"]["uid"],
        "allowed": False,
        "status": {"message": "keep it"},
    }
    _namespace(api, "wh-warn")
    warn = _webhook(
        "warn.test.example.com", _url(hooks, "/warn"), ["configmaps"], operations=["CREATE", "UPDATE"]
    )
    nodelete = _webhook(
        "nodelete.test.example.com", _url(hooks, "/nodelete"), ["configmaps"], operations=["DELETE"]
    )
    _configure(api, False, "warn-config", [warn, nodelete])
    try:
        p = k.run("create", "configmap", "dry", "-n", "wh-warn", "--dry-run=server")
        assert "Warning: CREATE seen by webhook" in p.stderr
        assert hooks.reviews("/warn")[-1]["request"]["dryRun"] is True
        assert hooks.reviews("/warn")[-1]["request"]["options"]["dryRun"] == ["All"]
        assert api.call("GET", "/api/v1/namespaces/wh-warn/configmaps/dry").status == 404
        p = k.run("create", "configmap", "kept", "-n", "wh-warn")
        assert "Warning: CREATE seen by webhook" in p.stderr
        p = k.run("label", "configmap", "kept", "-n", "wh-warn", "a=b")
        assert "Warning: UPDATE seen by webhook" in p.stderr
        upd = hooks.reviews("/warn")[-1]["request"]
        assert upd["operation"] == "UPDATE" and upd["oldObject"]["metadata"].get("labels") is None
        assert upd["object"]["metadata"]["labels"] == {"a": "b"}
        p = k.run("delete", "configmap", "kept", "-n", "wh-warn", check=False)
        assert (
            p.returncode == 1
            and 'admission webhook "nodelete.test.example.com" denied the request: keep it' in (p.stderr)
        )
        req = hooks.reviews("/nodelete")[-1]["request"]
        assert req["operation"] == "DELETE" and req["object"] is None
        assert req["oldObject"]["metadata"]["name"] == "kept" and req["options"]["kind"] == "DeleteOptions"
        assert api.call("GET", "/api/v1/namespaces/wh-warn/configmaps/kept").status == 200
    finally:
        _remove(api, False, "warn-config")


def test_service_client_config_and_equivalent_match_policy(api: Client, hooks: WebhookServer) -> None:
    """A Service client config (ExternalName to loopback, TLS name hooksvc.webhooks.svc) and a rule
    naming autoscaling/v2 only, met by an autoscaling/v1 write (matchPolicy Equivalent)."""
    hooks.behaviours["/hpa"] = lambda rv: patch_response(
        rv,
        [{"op": "add", "path": "/metadata/labels", "value": {"seen-as": rv["request"]["kind"]["version"]}}],
    )
    _namespace(api, "webhooks")
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "hooksvc"},
        "spec": {"type": "ExternalName", "externalName": "localhost"},
    }
    assert api.call("POST", "/api/v1/namespaces/webhooks/services", svc).status == 201
    client = {
        "service": {"namespace": "webhooks", "name": "hooksvc", "port": hooks.port, "path": "/hpa"},
        "caBundle": hooks.ca_bundle,
    }
    wh = _webhook(
        "hpa.test.example.com",
        client,
        ["horizontalpodautoscalers"],
        apiGroups=["autoscaling"],
        apiVersions=["v2"],
    )
    _configure(api, True, "hpa-config", [wh])
    try:
        hpa = {
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                "maxReplicas": 3,
                "targetCPUUtilizationPercentage": 50,
            },
        }
        r = api.call("POST", "/apis/autoscaling/v1/namespaces/webhooks/horizontalpodautoscalers", hpa)
        assert r.status == 201, r.body
        assert r.body["metadata"]["labels"] == {"seen-as": "v2"}
        assert r.body["spec"]["targetCPUUtilizationPercentage"] == 50
        req = hooks.reviews("/hpa")[-1]["request"]
        assert req["kind"]["version"] == "v2" and req["requestKind"]["version"] == "v1"
        assert req["object"]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        # Exact: the v1 write no longer matches
        wh["matchPolicy"] = "Exact"
        cur = api.call("GET", f"{MWC}/hpa-config").body
        cur["webhooks"][0]["matchPolicy"] = "Exact"
        assert api.call("PUT", f"{MWC}/hpa-config", cur).status == 200
        hpa["metadata"]["name"] = "h2"
        r = api.call("POST", "/apis/autoscaling/v1/namespaces/webhooks/horizontalpodautoscalers", hpa)
        assert r.status == 201 and "labels" not in r.body["metadata"]
        assert api.call("GET", f"{MWC}/hpa-config").body["metadata"]["generation"] == 2
    finally:
        _remove(api, True, "hpa-config")


def test_kubectl_apply_of_helm_style_configuration(k: Kubectl, hooks: WebhookServer) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "chart-webhook"},
            "webhooks": [
                {
                    "name": "webhook.cert-manager.io",
                    "clientConfig": {
                        "service": {"name": "cert-manager-webhook", "namespace": "cm", "path": "/validate"}
                    },
                    "rules": [
                        {
                            "apiGroups": ["cert-manager.io"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["*/*"],
                        }
                    ],
                    "namespaceSelector": {
                        "matchExpressions": [
                            {
                                "key": "cert-manager.io/disable-validation",
                                "operator": "NotIn",
                                "values": ["true"],
                            }
                        ]
                    },
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 30,
                }
            ],
        }
    )
    assert "created" in k.apply(manifest)
    k.apply(manifest)  # rules is atomic and defaulted (scope "*"): kubectl sends it again, a no-op
    got = json.loads(k("get", "validatingwebhookconfiguration", "chart-webhook", "-o", "json"))
    assert got["metadata"]["generation"] == 1 and got["webhooks"][0]["rules"][0]["scope"] == "*"
    k("delete", "validatingwebhookconfiguration", "chart-webhook")
