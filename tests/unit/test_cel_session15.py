"""The Kubernetes CEL environment (vcluster.apiserver.cel): libraries, escaping, schema type and
value mapping, list-type set/map equality, and CRD rule compilation/enforcement."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vcluster.apiserver import crd as C
from vcluster.apiserver.cel import env as celenv
from vcluster.apiserver.cel.schema import decl_type, escape, to_cel

T = celenv.T


def run(expr: str, data: dict[str, Any] | None = None, types: dict[str, Any] | None = None) -> Any:
    env = celenv.new_env(types or {"self": T.DYN})
    return celenv.evaluate(celenv.compile_expr(env, expr), data or {})


LIBRARY_CASES = [
    # lists
    ("[1, 2, 3].isSorted()", True),
    ("['b', 'a'].isSorted()", False),
    ("[1, 2, 3].sum()", 6),
    ("[1.5, 2.0].sum()", 3.5),
    ("[3, 1, 2].min()", 1),
    ("['a', 'c', 'b'].max()", "c"),
    ("[1, 2, 1].indexOf(1)", 0),
    ("[1, 2, 1].lastIndexOf(1)", 2),
    ("[1, 2].indexOf(3)", -1),
    # sets
    ("sets.contains([1, 2, 3], [3, 1])", True),
    ("sets.equivalent([1, 2], [2, 1, 1])", True),
    ("sets.intersects([1], [2])", False),
    # regex
    ("'abc 123 def 456'.find('[0-9]+')", "123"),
    ("'abc'.find('[0-9]+')", ""),
    ("'a1b2c3'.findAll('[0-9]').size()", 3),
    ("'a1b2c3'.findAll('[0-9]', 2).size()", 2),
    # strings v2 and the standard macros
    ("'Hello'.lowerAscii() + 'x'.upperAscii()", "helloX"),
    ("'a,b,c'.split(',').size()", 3),
    ("'%s-%d'.format(['a', 1])", "a-1"),
    ("[1, 2, 3].all(x, x > 0) && [1, 2].exists_one(x, x == 2)", True),
    ("[1, 2].map(x, x * 2) == [2, 4] && [1, 2, 3].filter(x, x > 1).size() == 2", True),
    # optional types
    ("optional.of(1).orValue(2) + optional.none().orValue(3)", 4),
    ("{'a': 1}.?b.orValue(5)", 5),
    # URLs
    ("url('https://example.com:8443/a/b?x=1&x=2').getHostname()", "example.com"),
    ("url('https://example.com:8443/a/b').getPort()", "8443"),
    ("url('https://[::1]:80/').getHostname()", "::1"),
    ("url('https://example.com/a%20b').getEscapedPath()", "/a%20b"),
    ("url('https://example.com/?x=1&x=2').getQuery()['x'].size()", 2),
    ("isURL('/relative/path') && !isURL('not a url')", True),
    # IP and CIDR
    ("ip('192.168.0.1').family()", 4),
    ("ip('::1').isLoopback() && ip('fe80::1').isLinkLocalUnicast()", True),
    ("ip('10.0.0.1').isGlobalUnicast() && !ip('255.255.255.255').isGlobalUnicast()", True),
    ("ip('2001:db8::0001') == ip('2001:db8::1')", True),
    ("string(ip('2001:DB8::1'))", "2001:db8::1"),
    ("ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')", True),
    ("isIP('1.2.3.4') && !isIP('1.2.3') && !isIP('01.2.3.4')", True),
    ("cidr('10.0.0.0/8').containsIP('10.1.2.3') && !cidr('10.0.0.0/8').containsIP(ip('11.0.0.1'))", True),
    (
        "cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16') && !cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8')",
        True,
    ),
    ("cidr('192.168.1.5/24').masked() == cidr('192.168.1.0/24')", True),
    ("cidr('192.168.1.5/24').ip() == ip('192.168.1.5') && cidr('::/0').prefixLength() == 0", True),
    ("isCIDR('10.0.0.0/33')", False),
    # quantity
    ("quantity('1') == quantity('1000m')", True),
    ("quantity('1.5Gi').isGreaterThan(quantity('1Gi'))", True),
    ("quantity('2Gi').asInteger()", 2 * 1024**3),
    ("quantity('500m').isInteger()", False),
    ("quantity('500m').asApproximateFloat()", 0.5),
    ("quantity('1').add(quantity('500m')).compareTo(quantity('1500m'))", 0),
    ("quantity('1').sub(2).sign()", -1),
    ("isQuantity('1Ki') && !isQuantity('1KB')", True),
]


@pytest.mark.parametrize(("expr", "want"), LIBRARY_CASES, ids=[c[0] for c in LIBRARY_CASES])
def test_library(expr: str, want: Any) -> None:
    got = run(expr)
    if isinstance(want, list | dict):
        assert got == want
    else:
        assert got == want and type(got) is type(want)


RUNTIME_ERRORS = [
    ("{'a': 1}.b == 1", "no such key: b"),
    ("[1][2] == 1", "index out of bounds: 2"),
    ("1 / 0 == 1", "division by zero"),
    ("[].min() == 1", "min called on empty list"),
    ("ip('fe80::1%eth0').family() == 6", 'IP address "fe80::1%eth0" with zone value is not allowed'),
    ("ip('::ffff:1.2.3.4').family() == 6", 'IPv4-mapped IPv6 address "::ffff:1.2.3.4" is not allowed'),
    (
        "url('x').getHost() == ''",
        'URL parse error during conversion from string: parse "x": invalid URI for request',
    ),
    ("quantity('1KB').sign() == 1", "quantities must match the regular expression"),
    ("quantity('0.5').asInteger() == 0", "cannot convert value to integer"),
    ("dyn('a') + 1 == 1", "no such overload"),
]


@pytest.mark.parametrize(("expr", "want"), RUNTIME_ERRORS, ids=[c[0] for c in RUNTIME_ERRORS])
def test_runtime_errors(expr: str, want: str) -> None:
    with pytest.raises(celenv.EvalError) as e:
        run(expr)
    assert str(e.value).startswith(want)


def test_compile_errors_have_cel_go_text() -> None:
    env = celenv.new_env({"self": T.INT})
    with pytest.raises(celenv.CompileError) as e:
        celenv.compile_expr(env, "self +")
    text = str(e.value)
    assert text.startswith("ERROR: <input>:1:7: Syntax error:")
    assert text.endswith(" | self +\n | ......^")
    with pytest.raises(celenv.CompileError) as e:
        celenv.compile_expr(env, "nope == 1")
    assert str(e.value).startswith("ERROR: <input>:1:1: undeclared reference to 'nope' (in container '')")
    with pytest.raises(celenv.CompileError) as e:
        celenv.compile_expr(env, "self == 'a'")
    assert "found no matching overload for '_==_' applied to '(int, string)'" in str(e.value)
    with pytest.raises(celenv.CompileError):
        celenv.compile_expr(env, "math.greatest(1, 2) == 2")  # not in kube's base env
    with pytest.raises(celenv.CompileError):
        celenv.compile_expr(env, "cel.bind(x, 1, x) == 1")


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("foo", "foo"),
        ("foo-bar", "foo__dash__bar"),
        ("a.b", "a__dot__b"),
        ("a/b", "a__slash__b"),
        ("a__b", "a__underscores__b"),
        ("namespace", "__namespace__"),
        ("if", "__if__"),
        ("_x", "_x"),
        ("1abc", None),
        ("a@b", None),
        ("", None),
    ],
)
def test_escape(name: str, want: str | None) -> None:
    assert escape(name) == want


def test_decl_types() -> None:
    assert decl_type({"type": "integer"}) == T.INT
    assert decl_type({"type": "number"}) == T.DOUBLE
    assert decl_type({"type": "boolean"}) == T.BOOL
    assert decl_type({"type": "string"}) == T.STRING
    assert decl_type({"type": "string", "format": "date-time"}) == T.TIMESTAMP
    assert decl_type({"type": "string", "format": "duration"}) == T.DURATION
    assert decl_type({"type": "string", "format": "byte"}) == T.BYTES
    assert decl_type({"x-kubernetes-int-or-string": True}) == T.DYN
    assert decl_type({"type": "array", "items": {"type": "integer"}}) == T.List(T.INT)
    assert decl_type({"type": "object", "additionalProperties": {"type": "string"}}) == T.Map(
        T.STRING, T.STRING
    )
    assert decl_type({"type": "object", "x-kubernetes-preserve-unknown-fields": True}) == T.Map(
        T.STRING, T.DYN
    )


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object"},
        "n": {"type": "number"},
        "when": {"type": "string", "format": "date-time"},
        "ttl": {"type": "string", "format": "duration"},
        "raw": {"type": "string", "format": "byte"},
        "ios": {"x-kubernetes-int-or-string": True},
        "dash-name": {"type": "integer"},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
            },
        },
        "plain": {"type": "array", "items": {"type": "string"}},
    },
}


def _eval_on(expr: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> Any:
    data = {"self": to_cel(obj, SCHEMA, True)}
    types = {"self": T.Map(T.STRING, T.DYN)}
    if old is not None:
        data["oldSelf"] = to_cel(old, SCHEMA, True)
        types["oldSelf"] = T.Map(T.STRING, T.DYN)
    return run(expr, data, types)


def test_values_follow_schema() -> None:
    obj = {
        "apiVersion": "x/v1",
        "kind": "X",
        "metadata": {"name": "a", "namespace": "ns", "labels": {"a": "b"}},
        "n": 1,
        "when": "2024-01-02T03:04:05Z",
        "ttl": "1h30m",
        "raw": "aGVsbG8=",
        "ios": "50%",
        "dash-name": 7,
        "undeclared": 1,
    }
    assert _eval_on("self.n + 0.5", obj) == 1.5  # a JSON integer in a number field is a double
    assert _eval_on("self.when.getFullYear() == 2024 && self.when + duration('1h') > self.when", obj)
    assert _eval_on("self.ttl == duration('90m')", obj)
    assert _eval_on("self.raw == b'hello'", obj)
    assert _eval_on("type(self.ios) == string", obj)
    assert _eval_on("self.dash__dash__name", obj) == 7
    assert _eval_on("!has(self.undeclared)", obj)
    # at the resource root only apiVersion, kind, metadata.name and metadata.generateName
    assert _eval_on("self.metadata.name == 'a' && !has(self.metadata.namespace) && self.kind == 'X'", obj)


def test_set_and_map_list_equality_ignores_order() -> None:
    a = {
        "tags": ["x", "y"],
        "ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}],
        "plain": ["1", "2"],
    }
    b = {
        "tags": ["y", "x"],
        "ports": [{"name": "b", "port": 2}, {"name": "a", "port": 1}],
        "plain": ["2", "1"],
    }
    assert _eval_on("self.tags == oldSelf.tags", a, b)
    assert _eval_on("self.ports == oldSelf.ports", a, b)
    assert not _eval_on("self.plain == oldSelf.plain", a, b)  # atomic lists keep their order
    c = copy.deepcopy(b)
    c["ports"][0]["port"] = 3
    assert not _eval_on("self.ports == oldSelf.ports", a, c)


def _crd(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "singular": "thing", "kind": "Thing", "listKind": "ThingList"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


def _spec_schema(rules: list[dict[str, Any]], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": rules,
                "properties": props or {"a": {"type": "integer"}, "b": {"type": "integer"}},
            }
        },
    }


def _texts(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_validate_crd_reports_compile_errors() -> None:
    rules = [
        {"rule": "self.a >"},
        {"rule": "self.a + 1"},
        {"rule": "self.a > 0", "messageExpression": "self.a"},
        {"rule": "self.a > 0", "fieldPath": ".nope"},
        {"rule": "self.a > 0", "optionalOldSelf": True},
    ]
    got = _texts(C.validate_crd(_crd(_spec_schema(rules))))
    p = "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations"
    # a fieldPath error at a level skips compiling that level's rules, as upstream
    assert got == [
        f'{p}[3].fieldPath: Invalid value: ".nope": fieldPath must be a valid path: '
        "does not refer to a valid field"
    ]
    del rules[3]
    got = _texts(C.validate_crd(_crd(_spec_schema(rules))))
    go = (
        'apiextensions.ValidationRule{{Rule:"{}", Message:"", MessageExpression:"{}", '
        'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", OptionalOldSelf:{}}}'
    )
    assert got[0].startswith(
        f"{p}[0].rule: Invalid value: {go.format('self.a >', '', '(*bool)(nil)')}: compilation failed: "
        "ERROR: <input>:1:9: Syntax error:"
    )
    assert got[1:] == [
        f"{p}[1].rule: Invalid value: {go.format('self.a + 1', '', '(*bool)(nil)')}: "
        "cel expression must evaluate to a bool",
        f"{p}[2].messageExpression: Invalid value: {go.format('self.a > 0', 'self.a', '(*bool)(nil)')}: "
        "messageExpression must evaluate to a string",
        f"{p}[3].optionalOldSelf: Invalid value: true: may not be set if rule does not use oldSelf",
    ]


def test_rules_are_checked_against_declared_types() -> None:
    props = {
        "a": {"type": "integer"},
        "n": {"type": "number"},
        "m": {"type": "object", "additionalProperties": {"type": "string"}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "dash-name": {"type": "string"},
    }
    ok = [
        {"rule": "self.n > 0 && self.a < 1.5"},  # cross-type numeric comparisons
        {"rule": "self.m['k'].startsWith('v') && self.items.all(i, i.x > 0)"},
        {"rule": "self.dash__dash__name.size() > 0 && has(self.a)"},
    ]
    assert C.validate_crd(_crd(_spec_schema(ok, **props))) == []
    bad = [
        {"rule": "self.nope == 1"},
        {"rule": "self.items.all(i, i.y > 0)"},
        {"rule": "self.a == 'x'"},
        {"rule": "self.a"},
        {"rule": "self.m['k'] > 1"},
    ]
    got = _texts(C.validate_crd(_crd(_spec_schema(bad, **props))))
    assert len(got) == 5
    assert "compilation failed: ERROR: <input>:1:5: undefined field 'nope'" in got[0]
    assert "compilation failed: ERROR: <input>:1:20: undefined field 'y'" in got[1]
    assert "found no matching overload for '_==_' applied to '(int, string)'" in got[2]
    assert got[3].endswith("cel expression must evaluate to a bool")
    assert "found no matching overload for '_>_' applied to '(string, int)'" in got[4]
    s = C.CRDSchema(_spec_schema(ok, **props))
    obj = {"spec": {"a": 1, "n": 2, "m": {"k": "v"}, "items": [{"x": 1}], "dash-name": "d"}}
    assert s.validate(obj) == []
    obj["spec"]["items"].append({"x": 0})
    assert _texts(s.validate(obj)) == [
        'spec: Invalid value: "object": failed rule: '
        "self.m['k'].startsWith('v') && self.items.all(i, i.x > 0)"
    ]


def test_old_self_forbidden_in_uncorrelatable_items() -> None:
    schema = _spec_schema(
        [],
        l={
            "type": "array",
            "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
        },
    )
    got = _texts(C.validate_crd(_crd(schema)))
    p = "spec.validation.openAPIV3Schema.properties[spec].properties[l].items"
    assert got == [
        f'{p}.x-kubernetes-validations[0].rule: Invalid value: "self == oldSelf": '
        f"oldSelf cannot be used on the uncorrelatable portion of the schema within {p}"
    ]


def test_crd_schema_enforces_rules() -> None:
    rules = [
        {"rule": "self.a <= self.b", "messageExpression": "'a=' + string(self.a) + ' > b=' + string(self.b)"},
        {"rule": "self.a == oldSelf.a", "message": "a is immutable", "reason": "FieldValueForbidden"},
        {"rule": "self.b < 100", "fieldPath": ".b", "reason": "FieldValueRequired"},
        {"rule": "self.b != 42", "reason": "FieldValueDuplicate"},
        {
            "rule": "!oldSelf.hasValue() || oldSelf.value().b <= self.b",
            "optionalOldSelf": True,
            "message": "b may not shrink",
        },
    ]
    s = C.CRDSchema(_spec_schema(rules))
    assert s.validate({"spec": {"a": 1, "b": 2}}) == []
    assert _texts(s.validate({"spec": {"a": 3, "b": 2}})) == ['spec: Invalid value: "object": a=3 > b=2']
    assert _texts(s.validate({"spec": {"a": 1, "b": 200}})) == [
        "spec.b: Required value: failed rule: self.b < 100"
    ]
    assert _texts(s.validate({"spec": {"a": 1, "b": 42}})) == ['spec: Duplicate value: "object"']
    # transition rules run on update only; optionalOldSelf also on create (oldSelf is none)
    assert _texts(s.validate_update({"spec": {"a": 2, "b": 3}}, {"spec": {"a": 1, "b": 3}})) == [
        "spec: Forbidden: a is immutable"
    ]
    assert _texts(s.validate_update({"spec": {"a": 1, "b": 2}}, {"spec": {"a": 1, "b": 3}})) == [
        'spec: Invalid value: "object": b may not shrink'
    ]
    # ratcheting: an unchanged value that already broke a rule is not reported again
    assert s.validate_update({"spec": {"a": 3, "b": 2}, "x": 1}, {"spec": {"a": 3, "b": 2}}) == []
    # a blocking schema error stops the rules
    assert _texts(s.validate({"spec": {"a": "x", "b": 2}})) == [
        'spec.a: Invalid value: "string": spec.a in body must be of type integer: "string"',
        '<nil>: Invalid value: "null": some validation rules were not checked because the object was '
        "invalid; correct the existing errors to complete validation",
    ]


def test_runtime_error_cause_wording() -> None:
    s = C.CRDSchema(
        _spec_schema(
            [{"rule": "self.a > 0"}, {"rule": "self.c == 1", "message": "c must be 1"}],
            a={"type": "integer"},
            c={"x-kubernetes-int-or-string": True},
        )
    )
    assert _texts(s.validate({"spec": {"c": 1}})) == [
        'spec: Invalid value: "object": no such key: a evaluating rule: self.a > 0',
    ]
    assert _texts(s.validate({"spec": {"a": 1, "c": "x"}})) == ['spec: Invalid value: "object": c must be 1']


def test_validator_compiles_once() -> None:
    s = C.CRDSchema(_spec_schema([{"rule": "self.a <= self.b"}]))
    s.validate({"spec": {"a": 1, "b": 2}})
    validator = s._cel
    assert validator is not None
    s.validate({"spec": {"a": 1, "b": 2}})
    assert s._cel is validator
    assert C.CRDSchema(_spec_schema([]))._cel is None


def test_match_conditions_matcher_semantics() -> None:
    from vcluster.apiserver.cel.matchconditions import Matcher, request_value

    req = request_value({"operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Pod"}})
    conds = [
        {"name": "err", "expression": "object.missing == 1"},
        {"name": "is-update", "expression": "request.operation == 'UPDATE'"},
    ]
    # a false condition skips the webhook even when another one fails to evaluate
    res = Matcher(conds, fail_open=False).match({}, None, req)
    assert (res.matches, res.error, res.failed_condition) == (False, "", "is-update")
    conds[1]["expression"] = "request.operation == 'CREATE' && request.subResource == ''"
    res = Matcher(conds, fail_open=False).match({}, None, req)
    assert (
        not res.matches
        and res.error == "expression 'object.missing == 1' resulted in error: no such key: missing"
    )
    res = Matcher(conds, fail_open=True).match({}, None, req)
    assert (res.matches, res.error) == (False, "")
    assert Matcher(conds[1:], fail_open=False).match({}, None, req).matches
