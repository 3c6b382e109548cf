"""CEL fidelity (session 16) against a real API server with the real kubectl: the ``authorizer``
variable in ValidatingAdmissionPolicies and webhook matchConditions (backed by RBAC for the
request's user), the policy type check in ``status.typeChecking``, and the estimated cost limits
of CRD validation rules."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import Kubectl, Server, server_fixture

server = server_fixture(controllers="serviceaccount,namespace,validatingadmissionpolicy-status")
ARV1 = "admissionregistration.k8s.io/v1"


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def _apply(k: Kubectl, *objs: dict[str, Any]) -> None:
    k(
        "apply",
        "--validate=false",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}),
    )


def _policy(name: str, resource: str, validations: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    group, _, plural = resource.rpartition("/")
    rule = {"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": [plural]}
    return {
        "apiVersion": ARV1,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {"matchConstraints": {"resourceRules": [rule]}, "validations": validations, **spec},
    }


def _binding(name: str, policy: str, namespace: str) -> dict[str, Any]:
    selector = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return {
        "apiVersion": ARV1,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": policy,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": selector},
        },
    }


def _grant(k: Kubectl, ns: str, user: str, verbs: str, resource: str, name: str) -> None:
    k("create", "role", name, "-n", ns, f"--verb={verbs}", f"--resource={resource}")
    k("create", "rolebinding", name, "-n", ns, f"--role={name}", f"--user={user}")


def _until(k: Kubectl, args: list[str], manifest: str, ok: Any) -> Any:
    """Policies, bindings and RBAC reach their indexes by watches: retry briefly."""
    deadline = time.monotonic() + 5
    while True:
        p = k.run(*args, "-f", "-", input=manifest, check=False)
        if ok(p) or time.monotonic() > deadline:
            return p
        time.sleep(0.1)


def _configmap(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})


def test_authorizer_checks_the_request_users_rbac(k: Kubectl) -> None:
    ns = k.namespace("authz-vap")
    _grant(k, ns, "alice", "create", "configmaps", "cm-writer")
    policy = _policy(
        "needs-secret-read",
        "/configmaps",
        [
            {
                "expression": "authorizer.group('').resource('secrets').namespace(object.metadata.namespace)"
                ".check('get').allowed()",
                "message": "only secret readers may create configmaps",
                "reason": "Forbidden",
            },
            # the request's own resource, as RBAC sees it: alice may create configmaps here
            {"expression": "authorizer.requestResource.check('create').allowed()"},
        ],
    )
    _apply(k, policy, _binding("needs-secret-read-b", "needs-secret-read", ns))
    try:
        # alice may create configmaps but not read secrets: denied with the policy's reason (403)
        p = _until(
            k,
            ["create", "-n", ns, "--as=alice"],
            _configmap("c1"),
            lambda p: "ValidatingAdmissionPolicy" in p.stderr,
        )
        assert p.returncode != 0
        assert (
            'Error from server (Forbidden): error when creating "STDIN": configmaps "c1" is forbidden: '
            "ValidatingAdmissionPolicy 'needs-secret-read' with binding 'needs-secret-read-b' denied "
            "request: only secret readers may create configmaps" in p.stderr
        )
        # the admin (system:masters) passes
        k("create", "-n", ns, "-f", "-", input=_configmap("c0"))
        # once RBAC lets alice read secrets, her create passes too
        _grant(k, ns, "alice", "get", "secrets", "secret-reader")
        p = _until(k, ["create", "-n", ns, "--as=alice"], _configmap("c1"), lambda p: p.returncode == 0)
        assert p.returncode == 0, p.stderr
        assert k.get_json("configmap", "c1", "-n", ns)["metadata"]["name"] == "c1"
    finally:
        k("delete", "validatingadmissionpolicybinding", "needs-secret-read-b", "--ignore-not-found")
        k("delete", "validatingadmissionpolicy", "needs-secret-read", "--ignore-not-found")


def test_authorizer_in_variables_and_messages(k: Kubectl) -> None:
    ns = k.namespace("authz-vars")
    _grant(k, ns, "bob", "create", "configmaps", "cm-writer")
    policy = _policy(
        "sa-check",
        "/configmaps",
        [
            {
                "expression": "variables.saCanList",
                "messageExpression": "'service account cannot list pods in ' + object.metadata.namespace",
            }
        ],
        variables=[
            {
                "name": "saCanList",
                "expression": "authorizer.serviceAccount(object.metadata.namespace, 'lister')"
                ".group('').resource('pods').namespace(object.metadata.namespace).check('list').allowed()",
            }
        ],
    )
    _apply(k, policy, _binding("sa-check-b", "sa-check", ns))
    try:
        p = _until(
            k, ["create", "-n", ns], _configmap("x"), lambda p: "ValidatingAdmissionPolicy" in p.stderr
        )
        assert f"denied request: service account cannot list pods in {ns}" in p.stderr
        _grant(k, ns, f"system:serviceaccount:{ns}:lister", "list", "pods", "lister")
        p = _until(k, ["create", "-n", ns], _configmap("x"), lambda p: p.returncode == 0)
        assert p.returncode == 0, p.stderr
    finally:
        k("delete", "validatingadmissionpolicybinding", "sa-check-b", "--ignore-not-found")
        k("delete", "validatingadmissionpolicy", "sa-check", "--ignore-not-found")


def test_authorizer_refusals(k: Kubectl) -> None:
    # messageExpressions have no authorizer (kube's expressionOptionalVars)
    policy = _policy(
        "bad-message",
        "/configmaps",
        [{"expression": "true", "messageExpression": "authorizer.path('/x').check('get').reason()"}],
    )
    p = k.run("create", "--validate=false", "-f", "-", input=json.dumps(policy), check=False)
    assert p.returncode != 0
    assert "spec.validations[0].messageExpression: Invalid value:" in p.stderr
    assert "undeclared reference to 'authorizer'" in p.stderr
    # a wrong argument type is a compile error, as cel-go's overload error
    policy = _policy(
        "bad-arg", "/configmaps", [{"expression": "authorizer.group(1).resource('x').check('get')"}]
    )
    p = k.run("create", "--validate=false", "-f", "-", input=json.dumps(policy), check=False)
    assert p.returncode != 0
    assert (
        "found no matching overload for 'group' applied to '(kubernetes.authorization.Authorizer, int)'"
        in (p.stderr)
    )
    # an empty resource is an evaluation error: with failurePolicy Fail the request is refused
    ns = k.namespace("authz-err")
    policy = _policy(
        "empty-resource",
        "/configmaps",
        [{"expression": "authorizer.group('').resource(' ').check('get').allowed()"}],
    )
    _apply(k, policy, _binding("empty-resource-b", "empty-resource", ns))
    try:
        p = _until(
            k, ["create", "-n", ns], _configmap("y"), lambda p: "ValidatingAdmissionPolicy" in p.stderr
        )
        assert p.returncode != 0
        assert "resulted in error: resource must not be empty" in p.stderr
    finally:
        k("delete", "validatingadmissionpolicybinding", "empty-resource-b", "--ignore-not-found")
        k("delete", "validatingadmissionpolicy", "empty-resource", "--ignore-not-found")


def test_webhook_match_condition_uses_authorizer(k: Kubectl) -> None:
    ns = k.namespace("authz-hook")
    _grant(k, ns, "carol", "create", "configmaps", "cm-writer")
    hook = {
        "apiVersion": ARV1,
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "authz-hook"},
        "webhooks": [
            {
                "name": "unreachable.example.com",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "timeoutSeconds": 1,
                "clientConfig": {"url": "https://127.0.0.1:1/validate"},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ],
                # only callers who may not list secrets are sent to the webhook
                "matchConditions": [
                    {
                        "name": "not-secret-lister",
                        "expression": "!authorizer.group('').resource('secrets').check('list').allowed()",
                    }
                ],
            }
        ],
    }
    _apply(k, hook)
    try:
        p = _until(k, ["create", "-n", ns, "--as=carol"], _configmap("h1"), lambda p: "webhook" in p.stderr)
        assert p.returncode != 0
        assert 'failed calling webhook "unreachable.example.com"' in p.stderr
        # the admin may list secrets: the condition is false, the webhook is skipped
        k("create", "-n", ns, "-f", "-", input=_configmap("h2"))
    finally:
        k("delete", "validatingwebhookconfiguration", "authz-hook", "--ignore-not-found")


def _status(k: Kubectl, name: str, generation: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        obj = k.get_json("validatingadmissionpolicy", name)
        status = obj.get("status") or {}
        if status.get("observedGeneration") == generation or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.tc.example.com"},
    "spec": {
        "group": "tc.example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                        },
                    }
                },
            }
        ],
    },
}


def test_type_checking_warnings_in_status(k: Kubectl) -> None:
    _apply(k, _CRD)
    k("wait", "--for=condition=Established", "crd/gadgets.tc.example.com", "--timeout=10s")
    rules = [
        {
            "apiGroups": ["apps"],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["deployments"],
        },
        {
            "apiGroups": ["tc.example.com"],
            "apiVersions": ["v1"],
            "operations": ["*"],
            "resources": ["gadgets"],
        },
    ]
    policy = {
        "apiVersion": ARV1,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "typed"},
        "spec": {
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": rules},
            "validations": [
                {"expression": "object.spec.replicas > 1"},  # no Gadget has replicas
                {
                    "expression": "object.spec.size > 1",
                    "messageExpression": "params.data.msg + string(params.nope)",
                },
                {"expression": "object.metadata.name != '' && has(object.spec)"},
            ],
        },
    }
    _apply(k, policy)
    try:
        status = _status(k, "typed", 1)
        assert status["observedGeneration"] == 1
        assert status["typeChecking"]["expressionWarnings"] == [
            {
                "fieldRef": "spec.validations[0].expression",
                "warning": "tc.example.com/v1, Kind=Gadget: ERROR: <input>:1:12: undefined field 'replicas'\n"
                " | object.spec.replicas > 1\n | ...........^\n",
            },
            {
                "fieldRef": "spec.validations[1].expression",
                "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'size'\n"
                " | object.spec.size > 1\n | ...........^\n",
            },
            {
                "fieldRef": "spec.validations[1].messageExpression",
                "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:32: undefined field 'nope'\n"
                " | params.data.msg + string(params.nope)\n | ...............................^\n\n"
                "tc.example.com/v1, Kind=Gadget: ERROR: <input>:1:32: undefined field 'nope'\n"
                " | params.data.msg + string(params.nope)\n | ...............................^\n",
            },
        ]
        # fixed expressions: the next generation's status has no warnings
        policy["spec"]["validations"] = [{"expression": "object.metadata.name != ''"}]
        _apply(k, policy)
        status = _status(k, "typed", 2)
        assert status["observedGeneration"] == 2
        # kube's apply of `typeChecking: {}` removes the warnings the controller owned; the emptied
        # struct becomes null (structured-merge-diff RemoveItems), a nil pointer: no typeChecking
        assert status == {"observedGeneration": 2}, status
    finally:
        k("delete", "validatingadmissionpolicy", "typed", "--ignore-not-found")
