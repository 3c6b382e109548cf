"""kube's CEL authz library (vcluster.apiserver.cel.authz) over the real RBAC authorizer, and the
policy type check's schema handling (vcluster.apiserver.cel.typecheck)."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.cel import authz, policy
from vcluster.apiserver.cel import env as celenv
from vcluster.apiserver.cel import typecheck as tc
from vcluster.apiserver.rbac_authorizer import Decision, RBACAuthorizer
from vcluster.apiserver.rbac_index import RBACIndex

NS = "team"


def _authorizer() -> RBACAuthorizer:
    index = RBACIndex()
    index.put(
        "roles",
        {
            "metadata": {"name": "pod-reader", "namespace": NS},
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
                {
                    "apiGroups": ["apps"],
                    "resources": ["deployments"],
                    "resourceNames": ["web"],
                    "verbs": ["get"],
                },
            ],
        },
    )
    index.put(
        "rolebindings",
        {
            "metadata": {"name": "rb", "namespace": NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [
                {"kind": "User", "name": "alice"},
                {"kind": "ServiceAccount", "name": "bot", "namespace": NS},
            ],
        },
    )
    index.put(
        "clusterroles",
        {
            "metadata": {"name": "metrics"},
            "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
        },
    )
    index.put(
        "clusterrolebindings",
        {
            "metadata": {"name": "metrics"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "metrics"},
            "subjects": [{"kind": "Group", "name": "monitoring"}],
        },
    )
    return RBACAuthorizer(index)


AUTHZ = _authorizer()
ALICE = UserInfo("alice", groups=("monitoring", "system:authenticated"))


def run(expr: str, user: UserInfo | None = ALICE, authorizer: Any = AUTHZ) -> Any:
    program, err = policy.compile_expression(expr, policy.ANY, params=False, variables=None)
    assert not err, err
    data = {"object": None, "oldObject": None, "request": {}, "namespaceObject": None}
    data.update(authz.variables(user, authorizer, ("apps", "deployments", "", NS, "web")))
    return celenv.evaluate(program, data)


CASES = [
    ("authorizer.group('').resource('pods').namespace('team').check('list').allowed()", True),
    ("authorizer.group('').resource('pods').namespace('other').check('list').allowed()", False),
    ("authorizer.group('').resource('pods').namespace('team').check('delete').allowed()", False),
    (
        "authorizer.group('').resource('pods').subresource('log').namespace('team').check('get').allowed()",
        True,
    ),
    (
        "authorizer.group('').resource('pods').subresource('exec').namespace('team').check('get').allowed()",
        False,
    ),
    (
        "authorizer.group('apps').resource('deployments').namespace('team').name('web').check('get').allowed()",
        True,
    ),
    (
        "authorizer.group('apps').resource('deployments').namespace('team').name('db').check('get').allowed()",
        False,
    ),
    # requestResource is the request's own resource, with its namespace and name
    ("authorizer.requestResource.check('get').allowed()", True),
    ("authorizer.requestResource.check('update').allowed()", False),
    ("authorizer.requestResource.name('db').check('get').allowed()", False),
    ("authorizer.path('/metrics').check('get').allowed()", True),
    ("authorizer.path('/metrics').check('post').allowed()", False),
    ("authorizer.path('healthz').check('get').allowed()", False),
    # the decision's reason is RBAC's
    (
        "authorizer.group('').resource('pods').namespace('team').check('get').reason()",
        'RBAC: allowed by RoleBinding "rb/team" of Role "pod-reader" to User "alice"',
    ),
    ("authorizer.group('').resource('pods').check('get').reason()", ""),
    ("authorizer.group('').resource('pods').check('get').errored()", False),
    ("authorizer.group('').resource('pods').check('get').error()", ""),
    # selectors do not change an RBAC decision
    (
        "authorizer.group('').resource('pods').namespace('team').fieldSelector('spec.nodeName=n1')"
        ".labelSelector('app=x').check('list').allowed()",
        True,
    ),
    # a service account's own identity and groups
    (
        "authorizer.serviceAccount('team', 'bot').group('').resource('pods').namespace('team')"
        ".check('get').allowed()",
        True,
    ),
    (
        "authorizer.serviceAccount('team', 'other').group('').resource('pods').namespace('team')"
        ".check('get').allowed()",
        False,
    ),
    ("authorizer.serviceAccount('team', 'bot').path('/metrics').check('get').allowed()", False),
]


@pytest.mark.parametrize(("expr", "want"), CASES)
def test_authz_library(expr: str, want: Any) -> None:
    assert run(expr) == want


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("authorizer.path('').check('get')", "path must not be empty"),
        ("authorizer.path('  ').check('get')", "path must not be empty"),
        ("authorizer.group('').resource('').check('get')", "resource must not be empty"),
        ("authorizer.serviceAccount('team', 'Bad_Name').path('/x')", "Invalid service account name"),
        ("authorizer.serviceAccount('a.b', 'bot').path('/x')", "Invalid service account namespace"),
    ],
)
def test_authz_errors(expr: str, message: str) -> None:
    with pytest.raises(celenv.EvalError) as e:
        run(expr)
    assert str(e.value) == message


def test_system_masters_and_loopback() -> None:
    root = UserInfo("root", groups=("system:masters",))
    assert run("authorizer.group('x').resource('y').check('delete').allowed()", root) is True
    # no request user: the loopback client (system:masters)
    assert run("authorizer.path('/anything').check('get').allowed()", None, None) is True


class _Erroring:
    def authorize(self, user: UserInfo, a: Any) -> Decision:
        return Decision(False, "webhook said no", denied=True, evaluation_error="timeout")


def test_decision_error_and_deny() -> None:
    erroring = _Erroring()  # the values hold the authorizer weakly: the server keeps it alive
    data = {authz.AUTHORIZER_VAR: authz.authorizer_value(ALICE, erroring)}
    env = celenv.new_env({authz.AUTHORIZER_VAR: authz.AUTHORIZER_T})
    for method, want in (
        ("allowed", False),
        ("errored", True),
        ("error", "timeout"),
        ("reason", "webhook said no"),
    ):
        program = celenv.compile_expr(env, f"authorizer.path('/x').check('get').{method}()")
        assert celenv.evaluate(program, data) == want
    del erroring
    program = celenv.compile_expr(env, "authorizer.path('/x').check('get').error()")
    assert celenv.evaluate(program, data) == "authorizer is not available"


def test_compile_errors_and_scopes() -> None:
    _, err = policy.compile_expression("authorizer.group(1)", policy.ANY, params=False, variables=None)
    assert (
        "found no matching overload for 'group' applied to '(kubernetes.authorization.Authorizer, int)'"
        in err
    )
    # messageExpressions have no authorizer
    _, err = policy.compile_expression(
        "authorizer.path('/x').check('get').reason()",
        policy.STRING,
        params=False,
        variables=None,
        authorizer=False,
    )
    assert "undeclared reference to 'authorizer'" in err
    _, err = policy.compile_expression(
        "authorizer.requestResource.check('get').allowed()", policy.BOOL, params=False, variables=None
    )
    assert err == ""


# ---------------------------------------------------------------------------- type check
def test_decl_schema_exposure() -> None:
    quantity = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    s = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "format": "int-or-string"},
            "q": quantity,
            "limits": {"type": "object", "additionalProperties": quantity},
            "when": {"type": "string", "format": "date-time"},
            "items": {"type": "array", "items": {"type": "integer"}},
        },
    }
    d = tc.decl_schema(s, True)
    assert d is not None
    props = d["properties"]
    assert props["a"] == {"x-kubernetes-int-or-string": True}
    assert "q" not in props and "limits" not in props  # untyped: not exposed, as SchemaDeclType
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["metadata"]["properties"] == {"name": {"type": "string"}, "generateName": {"type": "string"}}
    assert props["kind"] == {"type": "string"}


def test_populate_refs_circular_is_empty_object() -> None:
    doc = {
        "components": {
            "schemas": {
                "A": {"type": "object", "properties": {"b": {"allOf": [{"$ref": "#/components/schemas/B"}]}}},
                "B": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}},
            }
        }
    }
    out = tc.populate_refs(doc, {"$ref": "#/components/schemas/A"})
    assert out["properties"]["b"]["properties"]["a"] == {"type": "object"}


def test_types_to_check() -> None:
    rules = [
        {"apiGroups": ["*"], "apiVersions": ["v1"], "resources": ["pods"]},  # wildcard group: skipped
        {"apiGroups": ["", "apps"], "apiVersions": ["v1"], "resources": ["pods", "pods/status", "*", "x"]},
    ]
    kinds = {("", "v1", "pods"): ["Pod"], ("apps", "v1", "x"): ["X"]}
    got = tc.types_to_check(
        {"matchConstraints": {"resourceRules": rules}}, lambda g, v, r: kinds.get((g, v, r), [])
    )
    assert got == [("", "v1", "Pod"), ("apps", "v1", "X")]
    many = [{"apiGroups": ["g"], "apiVersions": ["v1"], "resources": [f"r{i:02d}" for i in range(15)]}]
    got = tc.types_to_check({"matchConstraints": {"resourceRules": many}}, lambda g, v, r: [r.upper()])
    assert len(got) == tc.MAX_TYPES_TO_CHECK and got[-1] == ("g", "v1", "R09")
    assert tc.gvk_text(("", "v1", "Pod")) == "/v1, Kind=Pod"
    assert tc.params_gvk({"paramKind": {"apiVersion": "example.com/v1", "kind": "P"}}) == (
        "example.com",
        "v1",
        "P",
    )


def test_check_warnings_without_params_schema() -> None:
    obj = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}}}},
    }
    spec = {
        "paramKind": {"apiVersion": "v1", "kind": "Missing"},
        "validations": [
            {"expression": "object.spec.n > 1"},
            {"expression": "object.spec.m > 1"},
            {"expression": "params.x == 1"},  # an unresolved paramKind leaves params undeclared
        ],
    }
    warnings = tc.check(spec, tc.Resolved([(("g", "v1", "K"), obj), (("g", "v1", "Gone"), None)], None))
    assert [w["fieldRef"] for w in warnings] == [
        "spec.validations[1].expression",
        "spec.validations[2].expression",
    ]
    assert warnings[0]["warning"].startswith("g/v1, Kind=K: ERROR: <input>:1:12: undefined field 'm'\n")
    assert "undeclared reference to 'params" in warnings[1]["warning"]  # C++: 'params.x'
