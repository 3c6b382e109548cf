"""ValidatingAdmissionPolicy pieces without a server: the policy CEL environment (typed variables,
lazy variable errors, messageExpression fallbacks, matchConditions), validation causes, defaults
and table cells."""

from __future__ import annotations

from typing import Any

from vcluster.apiserver import defaults, vapvalidation
from vcluster.apiserver.cel import policy as celpolicy


def _act(spec: dict[str, Any], obj: Any, params: Any = None) -> celpolicy.Activation:
    data = {"object": obj, "oldObject": None, "request": {}, "namespaceObject": None, "params": params}
    return celpolicy.Activation(celpolicy.compile_policy(spec), data)


def _policy(spec: dict[str, Any]) -> dict[str, Any]:
    base = {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "matchPolicy": "Equivalent",
            "namespaceSelector": {},
            "objectSelector": {},
            "resourceRules": [
                {
                    "operations": ["CREATE"],
                    "apiGroups": ["apps"],
                    "apiVersions": ["v1"],
                    "resources": ["deployments"],
                }
            ],
        },
    }
    return {"metadata": {"name": "p"}, "spec": {**base, **spec}}


def test_variables_are_typed_and_fail_only_when_used() -> None:
    spec = {
        "variables": [
            {"name": "broken", "expression": "object.spec.x / 0"},
            {"name": "chained", "expression": "variables.broken + 1"},
            {"name": "isBig", "expression": "object.spec.x > 3"},
        ],
        "validations": [
            {"expression": "variables.isBig"},  # a bool variable is a bool expression
            {"expression": "false && variables.broken == 1"},  # never reached: no error
            {"expression": "variables.chained > 1"},
        ],
    }
    assert vapvalidation.validate_policy(_policy(spec)) == []
    decisions = celpolicy.validate(_act(spec, {"spec": {"x": 1}}))
    assert [(d.index, d.error) for d in decisions] == [(0, False), (1, False), (2, True)]
    assert decisions[0].message == "failed expression: variables.isBig"
    assert decisions[2].message == (
        "expression 'variables.chained > 1' resulted in error: composited variable \"chained\" fails "
        'to evaluate: composited variable "broken" fails to evaluate: division by zero'
    )


def test_message_expression_fallbacks_and_reason() -> None:
    spec = {
        "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
        "validations": [
            {"expression": "false", "messageExpression": "'max ' + params.data.max", "reason": "Forbidden"},
            {"expression": "false", "messageExpression": "'a\\nb'", "message": "plain"},
            {"expression": " false ", "messageExpression": "string(params.data.missing)"},
        ],
    }
    assert vapvalidation.validate_policy(_policy(spec)) == []
    decisions = celpolicy.validate(_act(spec, {}, {"data": {"max": "2"}}))
    assert [(d.message, d.reason) for d in decisions] == [
        ("max 2", "Forbidden"),
        ("plain", "Invalid"),  # multi-line messages are refused
        ("failed expression: false", "Invalid"),  # the messageExpression errored
    ]


def test_match_conditions_false_wins_and_errors_follow_failure_policy() -> None:
    spec = {
        "matchConditions": [
            {"name": "err", "expression": "object.nope == 1"},
            {"name": "no", "expression": "false"},
        ],
        "validations": [{"expression": "true"}],
    }
    assert celpolicy.match_conditions(_act(spec, {}), False) == (False, "")
    spec["matchConditions"] = spec["matchConditions"][:1]
    matches, err = celpolicy.match_conditions(_act(spec, {}), False)
    assert not matches and err == "expression 'object.nope == 1' resulted in error: no such key: nope"
    assert celpolicy.match_conditions(_act(spec, {}), True) == (False, "")


def test_policy_validation_causes() -> None:
    spec = {
        "failurePolicy": "Sometimes",
        "paramKind": {"apiVersion": "a/b/c", "kind": "Config_Map"},
        "variables": [{"name": "in", "expression": "1"}, {"name": "", "expression": ""}],
        "validations": [{"expression": "1", "message": " ", "reason": "Teapot"}],
        "auditAnnotations": [
            {"key": "k", "valueExpression": "1"},
            {"key": "k", "valueExpression": "'v'"},
        ],
        "matchConditions": [{"name": "bad name!", "expression": "'x'"}],
    }
    causes = {(c.field, c.message) for c in vapvalidation.validate_policy(_policy(spec))}
    expected = {
        ("spec.failurePolicy", 'Unsupported value: "Sometimes": supported values: "Fail", "Ignore"'),
        ("spec.paramKind.apiVersion", 'Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c'),
        ("spec.variables[0].name", 'Invalid value: "in": name is not a valid CEL identifier'),
        ("spec.variables[1].name", "Required value: name is not specified"),
        ("spec.variables[1].expression", "Required value: expression is not specified"),
        ("spec.validations[0].expression", 'Invalid value: "1": must evaluate to bool'),
        ("spec.validations[0].message", 'Invalid value: " ": message must be non-empty if specified'),
        (
            "spec.validations[0].reason",
            'Unsupported value: "Teapot": supported values: "Forbidden", "Invalid", '
            '"RequestEntityTooLarge", "Unauthorized"',
        ),
        (
            "spec.auditAnnotations[0].valueExpression",
            'Invalid value: "1": must evaluate to one of [string null_type]',
        ),
        ("spec.auditAnnotations[1].key", 'Duplicate value: "k"'),
        ("spec.matchConditions[0].expression", "Invalid value: \"'x'\": must evaluate to bool"),
    }
    assert expected <= causes, expected - causes
    assert any(f == "spec.paramKind.kind" for f, _ in causes)
    assert any(f == "spec.matchConditions[0].name" for f, _ in causes)
    missing = vapvalidation.validate_policy({"metadata": {"name": "p"}, "spec": {"failurePolicy": "Fail"}})
    assert [(c.field, c.message) for c in missing] == [
        ("spec.matchConstraints", "Required value"),
        (
            "spec.validations",
            "Required value: validations or auditAnnotations must contain at least one item",
        ),
        (
            "spec.auditAnnotations",
            "Required value: validations or auditAnnotations must contain at least one item",
        ),
    ]


def test_defaults_and_cells() -> None:
    policy: dict[str, Any] = {
        "spec": {"matchConstraints": {"resourceRules": [{"operations": ["*"]}]}, "validations": []}
    }
    defaults.apply_defaults(policy, "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy")
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert policy["spec"]["matchConstraints"] == {
        "resourceRules": [{"operations": ["*"], "scope": "*"}],
        "matchPolicy": "Equivalent",
        "namespaceSelector": {},
        "objectSelector": {},
    }
    binding: dict[str, Any] = {"spec": {"paramRef": {"name": "x"}, "matchResources": {}}}
    defaults.apply_defaults(binding, "admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding")
    assert "parameterNotFoundAction" not in binding["spec"]["paramRef"]  # required in v1, not defaulted
    assert binding["spec"]["matchResources"]["matchPolicy"] == "Equivalent"
    assert vapvalidation.param_ref_cell(binding) == "*/x"
    sel = {"spec": {"paramRef": {"selector": {"matchLabels": {"b": "2", "a": "1"}}}}}
    assert vapvalidation.param_ref_cell(sel) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}"
    )
    assert vapvalidation.param_ref_cell({"spec": {}}) == "<unset>"
    assert vapvalidation.param_kind_cell({"spec": {}}) == "<unset>"
