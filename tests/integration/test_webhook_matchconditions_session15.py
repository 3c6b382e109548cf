"""Admission webhook matchConditions (CEL) against a real HTTPS webhook server: validation of
configurations (count, names, compilation against the admission environment), and evaluation as
kube's matchconditions matcher (all true: called; any false: skipped; an error: failurePolicy)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.httpclient import Client

from .conftest import Server, server_fixture
from .webhook_server import WebhookServer

pytestmark = pytest.mark.integration

server = server_fixture()
VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
DENY = "configmaps matched by the conditions are refused"


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    ws = WebhookServer(tmp_path_factory.mktemp("webhook"), ["hooksvc.webhooks.svc"])
    ws.behaviours["/deny"] = lambda rv: {
        "uid": rv["request"]["uid"],
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": DENY},
    }
    yield ws
    ws.stop()


def _config(
    hooks: WebhookServer, name: str, conditions: list[dict[str, str]], **extra: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.test.example.com",
                "clientConfig": {"url": hooks.url("/deny"), "caBundle": hooks.ca_bundle},
                "rules": [
                    {
                        "operations": ["CREATE", "UPDATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["configmaps"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "matchConditions": conditions,
                **extra,
            }
        ],
    }


def _cm(api: Client, ns: str, name: str, labels: dict[str, str]) -> Any:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}
    return api.call("POST", f"/api/v1/namespaces/{ns}/configmaps", body)


def test_conditions_select_the_calls(api: Client, hooks: WebhookServer) -> None:
    conditions = [
        {"name": "not-admin-ns", "expression": "request.namespace != 'kube-system'"},
        {
            "name": "labelled",
            "expression": "has(object.metadata.labels) && object.metadata.labels['deny'] == 'yes'",
        },
        {
            "name": "creates",
            "expression": "request.operation == 'CREATE' && request.kind.kind == 'ConfigMap'",
        },
    ]
    r = api.call("POST", VWC, _config(hooks, "mc-select", conditions))
    assert r.status == 201, r.body
    try:
        before = len(hooks.reviews("/deny"))
        r = _cm(api, "default", "mc-plain", {"deny": "no"})
        assert r.status == 201, r.body  # a false condition: the webhook is not called
        assert len(hooks.reviews("/deny")) == before
        r = _cm(api, "default", "mc-denied", {"deny": "yes"})
        assert r.status == 403 and DENY in r.body["message"]  # all true: called
        assert len(hooks.reviews("/deny")) == before + 1
    finally:
        api.call("DELETE", f"{VWC}/mc-select")


def test_evaluation_error_follows_failure_policy(api: Client, hooks: WebhookServer) -> None:
    conditions = [{"name": "by-label", "expression": "object.metadata.labels['team'] == 'a'"}]
    r = api.call("POST", VWC, _config(hooks, "mc-fail", conditions))
    assert r.status == 201, r.body
    try:
        r = _cm(api, "default", "mc-nolabel", {"other": "x"})  # no such key: fail closed, 403
        assert r.status == 403, r.body
        assert r.body["message"] == (
            'configmaps "mc-nolabel" is forbidden: expression '
            "'object.metadata.labels['team'] == 'a'' resulted in error: no such key: team"
        )
    finally:
        api.call("DELETE", f"{VWC}/mc-fail")
    r = api.call("POST", VWC, _config(hooks, "mc-ignore", conditions, failurePolicy="Ignore"))
    assert r.status == 201, r.body
    try:
        before = len(hooks.reviews("/deny"))
        assert _cm(api, "default", "mc-ignored", {"other": "x"}).status == 201  # skipped
        assert len(hooks.reviews("/deny")) == before
    finally:
        api.call("DELETE", f"{VWC}/mc-ignore")


def test_bad_conditions_are_422(api: Client, hooks: WebhookServer) -> None:
    conditions = [
        {"name": "a", "expression": "request.nope == 1"},
        {"name": "a", "expression": "object.x"},
        {"name": "bad name!", "expression": "request.operation =="},
        {"name": "", "expression": " "},
    ]
    r = api.call("POST", VWC, _config(hooks, "mc-bad", conditions))
    assert r.status == 422, r.body
    causes = [(c["field"], c["message"]) for c in r.body["details"]["causes"]]
    p = "webhooks[0].matchConditions"
    assert causes[0] == (
        f"{p}[0].expression",
        'Invalid value: "request.nope == 1": compilation failed: ERROR: <input>:1:8: undefined field '
        "'nope'\n | request.nope == 1\n | .......^",
    )
    assert (f"{p}[1].expression", 'Invalid value: "object.x": must evaluate to bool') in causes
    assert (f"{p}[1].name", 'Duplicate value: "a"') in causes
    assert any(
        f == f"{p}[2].expression" and "compilation failed: ERROR: <input>:1:21: Syntax error" in m
        for f, m in causes
    )
    assert any(
        f == f"{p}[2].name" and m.startswith('Invalid value: "bad name!": name part must consist')
        for f, m in causes
    )
    assert (f"{p}[3].expression", "Required value") in causes and (f"{p}[3].name", "Required value") in causes
    too_many = [{"name": f"c{i}", "expression": "true"} for i in range(65)]
    r = api.call("POST", MWC, {**_config(hooks, "mc-many", too_many), "kind": "MutatingWebhookConfiguration"})
    assert r.status == 422
    assert [(c["field"], c["message"]) for c in r.body["details"]["causes"]] == [
        (p, "Too many: 65: must have at most 64 items")
    ]
