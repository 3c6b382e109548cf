"""ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1)
against a real API server with the real kubectl: deny with kube's message, params from a ConfigMap,
Warn as a kubectl warning, variables and messageExpression, namespaceSelector, failurePolicy
Ignore on an evaluation error, compile errors as 422, binding validation, printer columns and the
policy status."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.integration.httpclient import Client

from .conftest import Kubectl, Server, parse_table, server_fixture

server = server_fixture(controllers="serviceaccount,namespace,validatingadmissionpolicy-status")
VAP = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
VAPB = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Client:
    return Client(server.url, server.ca_file, server.token)


def _policy(name: str, validations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    rules = spec.pop(
        "rules",
        [
            {
                "apiGroups": ["apps"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["deployments"],
            }
        ],
    )
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {"matchConstraints": {"resourceRules": rules}, "validations": validations, **spec},
    }


def _binding(name: str, policy: str, actions: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": policy, "validationActions": actions, **spec},
    }


def _deployment(name: str, replicas: int, labels: dict[str, str] | None = None) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        }
    )


def _apply(k: Kubectl, *objs: dict[str, Any]) -> None:
    k(
        "apply",
        "--validate=false",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}),
    )


def _delete(k: Kubectl, *names: str) -> None:
    for n in names:
        k("delete", n, "--ignore-not-found", "--wait=false")


def _eventually(k: Kubectl, *args: str, ns: str, manifest: str, expect_fail: bool) -> Any:
    """Bindings reach the index through a watch: retry briefly until the outcome shows."""
    deadline = time.monotonic() + 5
    while True:
        p = k.run(*args, "-n", ns, "-f", "-", input=manifest, check=False)
        if (p.returncode != 0) == expect_fail or time.monotonic() > deadline:
            return p
        if p.returncode == 0:
            k.run("delete", "-n", ns, "-f", "-", input=manifest, check=False)
        time.sleep(0.1)


def test_deny_replicas_with_kubes_message(k: Kubectl, api: Client) -> None:
    ns = k.namespace("vap-deny")
    _apply(
        k,
        _policy("replicas-limit.example.com", [{"expression": "object.spec.replicas <= 5"}]),
        _binding("replicas-limit-binding", "replicas-limit.example.com", ["Deny"]),
    )
    try:
        p = _eventually(k, "create", ns=ns, manifest=_deployment("big", 7), expect_fail=True)
        assert p.returncode != 0
        assert (
            "ValidatingAdmissionPolicy 'replicas-limit.example.com' with binding 'replicas-limit-binding' "
            "denied request: failed expression: object.spec.replicas <= 5" in p.stderr
        )
        status, body = api.call(
            "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", json.loads(_deployment("big2", 9))
        )
        assert status == 422
        assert body["reason"] == "Invalid"
        assert body["message"] == (
            'deployments.apps "big2" is forbidden: ValidatingAdmissionPolicy '
            "'replicas-limit.example.com' with binding 'replicas-limit-binding' denied request: "
            "failed expression: object.spec.replicas <= 5"
        )
        assert body["details"]["causes"] == [{"message": body["message"].split("is forbidden: ", 1)[1]}]
        k("create", "-n", ns, "-f", "-", input=_deployment("small", 3))  # allowed
        # an update that breaks the rule is refused, nothing changed
        p = k.run("scale", "-n", ns, "deployment/small", "--replicas=8", check=False)
        assert p.returncode != 0 and "denied request" in p.stderr
        assert k.get_json("deployment", "small", "-n", ns)["spec"]["replicas"] == 3
    finally:
        _delete(k, "validatingadmissionpolicybinding/replicas-limit-binding")
        _delete(k, "validatingadmissionpolicy/replicas-limit.example.com")


def test_params_from_configmap_and_reason(k: Kubectl) -> None:
    ns = k.namespace("vap-params")
    k("create", "configmap", "limits", "-n", ns, "--from-literal=max=2")
    policy = _policy(
        "param-limit",
        [
            {
                "expression": "object.spec.replicas <= int(params.data.max)",
                "messageExpression": "'replicas must be at most ' + params.data.max",
                "reason": "Forbidden",
            }
        ],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    )
    binding = _binding(
        "param-limit-binding",
        "param-limit",
        ["Deny"],
        paramRef={"name": "limits", "parameterNotFoundAction": "Deny"},
    )
    _apply(k, policy, binding)
    try:
        p = _eventually(k, "create", ns=ns, manifest=_deployment("three", 3), expect_fail=True)
        assert "denied request: replicas must be at most 2" in p.stderr
        assert "is forbidden" in p.stderr  # reason Forbidden -> 403
        k("create", "-n", ns, "-f", "-", input=_deployment("two", 2))
        # no ConfigMap in another namespace: parameterNotFoundAction Deny
        other = k.namespace("vap-params-other")
        p = k.run("create", "-n", other, "-f", "-", input=_deployment("one", 1), check=False)
        assert p.returncode != 0
        assert "failed to configure binding: no params found for policy binding with `Deny` " in p.stderr
    finally:
        _delete(
            k, "validatingadmissionpolicybinding/param-limit-binding", "validatingadmissionpolicy/param-limit"
        )


def test_warn_action_and_variables(k: Kubectl) -> None:
    ns = k.namespace("vap-warn")
    policy = _policy(
        "needs-team",
        [{"expression": "variables.hasTeam", "message": "label team is required"}],
        variables=[
            {
                "name": "hasTeam",
                "expression": "has(object.metadata.labels) && 'team' in object.metadata.labels",
            }
        ],
    )
    _apply(k, policy, _binding("needs-team-binding", "needs-team", ["Warn"]))
    try:
        deadline = time.monotonic() + 5
        while True:
            p = k.run("create", "-n", ns, "-f", "-", input=_deployment("noteam", 1))
            if "Warning" in p.stderr or time.monotonic() > deadline:
                break
            k("delete", "-n", ns, "deployment/noteam")
            time.sleep(0.1)
        assert (
            "Warning: Validation failed for ValidatingAdmissionPolicy 'needs-team' with binding "
            "'needs-team-binding': label team is required" in p.stderr
        )
        p = k.run("create", "-n", ns, "-f", "-", input=_deployment("withteam", 1, {"team": "a"}))
        assert "Warning" not in p.stderr
    finally:
        _delete(
            k, "validatingadmissionpolicybinding/needs-team-binding", "validatingadmissionpolicy/needs-team"
        )


def test_compile_errors_are_422(api: Client) -> None:
    body = _policy(
        "broken",
        [{"expression": "object.spec.replicas <=", "messageExpression": "1 + 1"}],
        variables=[{"name": "x", "expression": "variables.nope"}],
    )
    status, out = api.call("POST", VAP, body)
    assert status == 422, out
    fields = {c["field"]: c["message"] for c in out["details"]["causes"]}
    assert fields["spec.validations[0].expression"].startswith(
        'Invalid value: "object.spec.replicas <=": compilation failed: ERROR: <input>:1:24: Syntax error'
    )
    assert (
        fields["spec.validations[0].messageExpression"] == 'Invalid value: "1 + 1": must evaluate to string'
    )
    assert "undefined field 'nope'" in fields["spec.variables[0].expression"]
    # params without a paramKind are undeclared
    status, out = api.call("POST", VAP, _policy("noparams", [{"expression": "params.x == 1"}]))
    assert status == 422
    assert "undeclared reference to 'params" in out["details"]["causes"][0]["message"]
    # matchConstraints.resourceRules required
    status, out = api.call("POST", VAP, _policy("norules", [{"expression": "true"}], rules=[]))
    assert status == 422
    assert [c["field"] for c in out["details"]["causes"]] == ["spec.matchConstraints.resourceRules"]
    status, _ = api.call("GET", f"{VAP}/broken")
    assert status == 404


def test_binding_validation(api: Client) -> None:
    bad = _binding(
        "bad-binding",
        "",
        ["Deny", "Warn", "Deny", "Nope"],
        paramRef={"name": "a", "selector": {}},
    )
    status, out = api.call("POST", VAPB, bad)
    assert status == 422, out
    causes = [(c["field"], c["message"]) for c in out["details"]["causes"]]
    assert ("spec.policyName", "Required value") in causes
    assert ("spec.paramRef.name", "Forbidden: name and selector are mutually exclusive") in causes
    assert ("spec.paramRef.parameterNotFoundAction", "Required value") in causes
    assert ("spec.validationActions[2]", 'Duplicate value: "Deny"') in causes
    assert (
        "spec.validationActions[3]",
        'Unsupported value: "Nope": supported values: "Audit", "Deny", "Warn"',
    ) in causes
    assert any(
        f == "spec.validationActions"
        and m.startswith("Invalid value: []admissionregistration.ValidationAction{")
        for f, m in causes
    )
    status, out = api.call("POST", VAPB, _binding("empty-actions", "p", []))
    assert status == 422
    assert out["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value: at least one validation action is required",
        "field": "spec.validationActions",
    }


def test_namespace_selector_in_binding(k: Kubectl) -> None:
    prod = "vap-prod"
    k.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {prod}\n  labels:\n    env: prod\n")
    dev = k.namespace("vap-dev")
    _apply(
        k,
        _policy("prod-replicas", [{"expression": "object.spec.replicas >= 2", "message": "prod needs 2"}]),
        _binding(
            "prod-replicas-binding",
            "prod-replicas",
            ["Deny"],
            matchResources={"namespaceSelector": {"matchLabels": {"env": "prod"}}},
        ),
    )
    try:
        p = _eventually(k, "create", ns=prod, manifest=_deployment("single", 1), expect_fail=True)
        assert "denied request: prod needs 2" in p.stderr
        k("create", "-n", dev, "-f", "-", input=_deployment("single", 1))  # not selected
    finally:
        _delete(
            k,
            "validatingadmissionpolicybinding/prod-replicas-binding",
            "validatingadmissionpolicy/prod-replicas",
        )


def test_failure_policy_on_evaluation_error(k: Kubectl) -> None:
    ns = k.namespace("vap-errors")
    expression = "object.metadata.annotations['missing'] == 'x'"
    _apply(
        k,
        _policy("err-fail", [{"expression": expression}]),
        _binding("err-fail-binding", "err-fail", ["Deny"]),
    )
    try:
        p = _eventually(k, "create", ns=ns, manifest=_deployment("e1", 1), expect_fail=True)
        assert (
            f"ValidatingAdmissionPolicy 'err-fail' with binding 'err-fail-binding' denied request: "
            f"expression '{expression}' resulted in error: no such key: annotations" in p.stderr
        )
        _apply(k, _policy("err-fail", [{"expression": expression}], failurePolicy="Ignore"))
        p = _eventually(k, "create", ns=ns, manifest=_deployment("e2", 1), expect_fail=False)
        assert p.returncode == 0, p.stderr
    finally:
        _delete(k, "validatingadmissionpolicybinding/err-fail-binding", "validatingadmissionpolicy/err-fail")


def test_tables_defaults_and_status(k: Kubectl) -> None:
    _apply(
        k,
        _policy(
            "table-policy",
            [{"expression": "true"}, {"expression": "1 == 1"}],
            paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
        ),
        _binding(
            "table-binding",
            "table-policy",
            ["Audit"],
            paramRef={"name": "cfg", "namespace": "default", "parameterNotFoundAction": "Allow"},
        ),
    )
    try:
        _, rows = parse_table(k("get", "validatingadmissionpolicy", "table-policy"))
        assert rows[0]["NAME"] == "table-policy"
        assert rows[0]["VALIDATIONS"] == "2"
        assert rows[0]["PARAMKIND"] == "v1/ConfigMap"
        _, rows = parse_table(k("get", "validatingadmissionpolicybinding", "table-binding"))
        assert rows[0]["POLICYNAME"] == "table-policy"
        assert rows[0]["PARAMREF"] == "default/cfg"
        obj = k.get_json("validatingadmissionpolicy", "table-policy")
        assert obj["spec"]["failurePolicy"] == "Fail"
        mc = obj["spec"]["matchConstraints"]
        assert mc["matchPolicy"] == "Equivalent"
        assert mc["namespaceSelector"] == {} and mc["objectSelector"] == {}
        assert mc["resourceRules"][0]["scope"] == "*"
        assert obj["metadata"]["generation"] == 1
        assert "validatingadmissionpolicies" in k("api-resources", "--api-group=admissionregistration.k8s.io")
        assert "table-policy" in k("get", "api-extensions", "-o", "name")
        # the type-checking controller's status
        deadline = time.monotonic() + 5
        while obj.get("status", {}).get("observedGeneration") != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            obj = k.get_json("validatingadmissionpolicy", "table-policy")
        assert obj["status"] == {"observedGeneration": 1, "typeChecking": {}}
    finally:
        _delete(k, "validatingadmissionpolicybinding/table-binding", "validatingadmissionpolicy/table-policy")


def test_delete_object_selector_and_param_selector(k: Kubectl) -> None:
    ns = k.namespace("vap-delete")
    k("create", "configmap", "rule-a", "-n", ns, "--from-literal=forbidden=keep-me")
    k("label", "configmap", "rule-a", "-n", ns, "vap-rule=yes")
    k("create", "configmap", "keep-me", "-n", ns)
    k("label", "configmap", "keep-me", "-n", ns, "protected=true")
    k("create", "configmap", "other", "-n", ns)
    policy = _policy(
        "no-delete",
        [{"expression": "oldObject.metadata.name != params.data.forbidden", "message": "protected object"}],
        rules=[
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["configmaps"]}
        ],
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    )
    binding = _binding(
        "no-delete-binding",
        "no-delete",
        ["Deny", "Audit"],
        paramRef={"selector": {"matchLabels": {"vap-rule": "yes"}}, "parameterNotFoundAction": "Allow"},
        matchResources={"objectSelector": {"matchLabels": {"protected": "true"}}},
    )
    _apply(k, policy, binding)
    try:
        deadline = time.monotonic() + 5
        while True:
            p = k.run("delete", "configmap", "keep-me", "-n", ns, check=False)
            if p.returncode != 0 or time.monotonic() > deadline:
                break
            k("create", "configmap", "keep-me", "-n", ns)
            k("label", "configmap", "keep-me", "-n", ns, "protected=true")
            time.sleep(0.1)
        assert (
            "ValidatingAdmissionPolicy 'no-delete' with binding 'no-delete-binding' denied request: "
            in p.stderr
        )
        assert "protected object" in p.stderr
        k("get", "configmap", "keep-me", "-n", ns)  # still there
        k("delete", "configmap", "other", "-n", ns)  # not selected by the objectSelector
        # no param matches the selector in another namespace: Allow
        other = k.namespace("vap-delete-other")
        k("create", "configmap", "keep-me", "-n", other)
        k("label", "configmap", "keep-me", "-n", other, "protected=true")
        k("delete", "configmap", "keep-me", "-n", other)
    finally:
        _delete(
            k, "validatingadmissionpolicybinding/no-delete-binding", "validatingadmissionpolicy/no-delete"
        )
