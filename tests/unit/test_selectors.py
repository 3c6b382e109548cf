"""Label and field selectors (apimachinery 1.32 grammar and messages) and selectable object fields."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.resources import BUILTIN_RESOURCES, EVENT_FIELDS, POD_FIELDS
from vcluster.apiserver.selectors import FieldSelector, LabelSelector, object_fields

NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
BINARY_OPS = "in, notin, =, ==, !=, gt, lt"


def parse_error(text: str) -> StatusError:
    with pytest.raises(StatusError) as info:
        LabelSelector.parse(text)
    return info.value


# ---------------------------------------------------------------------------------------------
# LabelSelector.parse: accepted syntax and canonical form (labels.Selector.String)
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("   ", ""),
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("app!=web", "app!=web"),
        ("app", "app"),
        ("!app", "!app"),
        ("tier in (b,a)", "tier in (a,b)"),
        ("tier notin (a)", "tier notin (a)"),
        ("n>5", "n>5"),
        ("n<5", "n<5"),
        ("b=1,a=2", "a=2,b=1"),  # requirements are sorted by key
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("x in (a,a,b)", "x in (a,b)"),
        ("x in (a,)", "x in (,a)"),
        ("x in (,a)", "x in (,a)"),
        ("  app =  web ,  tier   in(  a , b )  ,\t!gone\n", "app=web,!gone,tier in (a,b)"),
        ("a=", "a="),
        ("a=,b", "a=,b"),
        ("a in (in)", "a in (in)"),
        ("in in (notin)", "in in (notin)"),
        ("a=in", "a=in"),
        ("notin=x", "notin=x"),
        ("example.com/app=v", "example.com/app=v"),
        ("k" * 63 + "=" + "v" * 63, "k" * 63 + "=" + "v" * 63),
        ("a>-0", None),  # '-0' is an integer but not a label value: rejected (see below)
    ],
)
def test_parse_canonical(text: str, canonical: str | None) -> None:
    if canonical is None:
        assert parse_error(text).code == 400
        return
    sel = LabelSelector.parse(text)
    assert str(sel) == canonical
    assert LabelSelector.parse(str(sel)) == sel
    assert sel.empty() == (canonical == "")


# Matching semantics, operator by operator.
@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app==web", {"app": "web", "x": "y"}, True),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {"app": "web"}, False),
        ("app!=web", {}, True),  # absent key satisfies !=
        ("app", {"app": ""}, True),
        ("app", {"other": "x"}, False),
        ("!app", {}, True),
        ("!app", {"app": ""}, False),
        ("tier in (a,b)", {"tier": "b"}, True),
        ("tier in (a,b)", {"tier": "c"}, False),
        ("tier in (a,b)", {}, False),
        ("tier in ()", {"tier": ""}, True),  # "()" is the set {""}
        ("tier in ()", {}, False),
        ("tier in (a,b,c,d,e,f)", {"tier": "f"}, True),
        ("tier notin (a,b)", {"tier": "c"}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("tier notin (a,b)", {}, True),  # absent key satisfies notin
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("n>5", {"n": "6"}, True),
        ("n>5", {"n": "5"}, False),
        ("n>5", {}, False),
        ("n>5", {"n": "x"}, False),  # a label that is not an integer never matches
        ("n>5", {"n": "06"}, True),
        ("n>5", {"n": "1e3"}, False),
        ("n<5", {"n": "-3"}, True),
        ("n<5", {"n": "5"}, False),
        ("n<10", {"n": "9223372036854775808"}, False),  # beyond int64: not an integer
        ("n>0", {"n": "9223372036854775807"}, True),
        ("n<0", {"n": " 1"}, False),
        ("a=1,b in (2),!c", {"a": "1", "b": "2"}, True),
        ("a=1,b in (2),!c", {"a": "1", "b": "2", "c": ""}, False),
        ("", {}, True),
        ("", {"any": "thing"}, True),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert LabelSelector.parse(text).matches(labels) is expected


def test_matches_none_labels() -> None:
    assert LabelSelector.parse("!a").matches(None) is True
    assert LabelSelector.parse("a").matches(None) is False


# Malformed input: 400 BadRequest with the upstream message (what kubectl shows after
# `Error from server (BadRequest): ...`).
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (",", "found ',', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        ("a,=b", "found '=', expected: identifier after ','"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("(", "found '(', expected: !, identifier, or 'end of string'"),
        ("a b", f"unable to parse requirement: found 'b', expected: {BINARY_OPS}"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b)", "found ')', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!!a", "unable to parse requirement: found '!', expected: identifier"),
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in ((b))", "unable to parse requirement: found '(', expected: ',', ')' or identifier"),
        ("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a in (,", "unable to parse requirement: found '', expected: ',', or identifier"),
        ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a<>b", "unable to parse requirement: found '>', expected: identifier"),
        ("a=>b", "unable to parse requirement: found '>', expected: identifier"),
        ("a\x00b", f"unable to parse requirement: found 'b', expected: {BINARY_OPS}"),
        (
            "app:monolith",
            'unable to parse requirement: <nil>: Invalid value: "app:monolith": ' + NAME_PART_MSG,
        ),
        (
            "-ltier=postgres",
            'unable to parse requirement: <nil>: Invalid value: "-ltier": ' + NAME_PART_MSG,
        ),
        (
            "app.kubernetes_io/name=x",
            'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part '
            + SUBDOMAIN_MSG,
        ),
        (
            "k" * 64,
            'unable to parse requirement: <nil>: Invalid value: "' + "k" * 64 + '": name part must be no '
            "more than 63 characters",
        ),
        (
            "/a",
            'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty',
        ),
        (
            "a/",
            'unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty; '
            + NAME_PART_MSG,
        ),
        (
            'a"b\\c=x',
            'unable to parse requirement: <nil>: Invalid value: "a\\"b\\\\c": ' + NAME_PART_MSG,
        ),
        (
            "app=bad$value",
            'unable to parse requirement: values[0][app]: Invalid value: "bad$value": ' + LABEL_VALUE_MSG,
        ),
        (
            "app=" + "v" * 64,
            'unable to parse requirement: values[0][app]: Invalid value: "'
            + "v" * 64
            + '": must be no more than 63 characters',
        ),
        (
            "app in (ok,-bad)",
            'unable to parse requirement: values[0][app]: Invalid value: "-bad": ' + LABEL_VALUE_MSG,
        ),
        (
            "n>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, "
            "the value must be an integer",
        ),
        (
            "n<",
            "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, "
            "the value must be an integer",
        ),
        (
            "n>9223372036854775808",
            "unable to parse requirement: values[0]: Invalid value: \"9223372036854775808\": for 'Gt', "
            "'Lt' operators, the value must be an integer",
        ),
        (
            "n>-1",
            'unable to parse requirement: values[0][n]: Invalid value: "-1": ' + LABEL_VALUE_MSG,
        ),
        (
            "n>1.5",
            "unable to parse requirement: values[0]: Invalid value: \"1.5\": for 'Gt', 'Lt' operators, "
            "the value must be an integer",
        ),
        (
            "n>a$",
            "unable to parse requirement: [values[0]: Invalid value: \"a$\": for 'Gt', 'Lt' operators, "
            'the value must be an integer, values[0][n]: Invalid value: "a$": ' + LABEL_VALUE_MSG + "]",
        ),
        (
            "a=\x01",
            'unable to parse requirement: values[0][a]: Invalid value: "\\x01": ' + LABEL_VALUE_MSG,
        ),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    err = parse_error(text)
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == message
    assert err.status()["message"] == message


def test_nul_ends_the_input_at_a_token_boundary() -> None:
    # Go's lexer reads a NUL byte as the end of input when a token starts there.
    assert str(LabelSelector.parse("a=b,c \x00 garbage (((")) == "a=b,c"


def test_parse_is_cached_and_immutable() -> None:
    a = LabelSelector.parse("x=1,y")
    assert LabelSelector.parse("x=1,y") is a
    with pytest.raises(AttributeError):
        a._reqs = ()  # type: ignore[misc]
    assert hash(a) == hash(LabelSelector.parse("y,x=1"))


def test_requirements_and_exact_match() -> None:
    sel = LabelSelector.parse("app=web,tier in (fe),env in (a,b),!gone")
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("tier") == "fe"
    assert sel.requires_exact_match("env") is None
    assert sel.requires_exact_match("gone") is None
    assert sel.requires_exact_match("missing") is None
    assert [(r.key, r.operator, r.values) for r in sel.requirements()] == [
        ("app", "=", ("web",)),
        ("env", "in", ("a", "b")),
        ("gone", "!", ()),
        ("tier", "in", ("fe",)),
    ]


# ---------------------------------------------------------------------------------------------
# LabelSelector.from_api (metav1.LabelSelectorAsSelector)
def test_from_api_none_and_empty() -> None:
    nothing = LabelSelector.from_api(None)
    assert nothing.matches({}) is False and nothing.matches({"a": "b"}) is False
    assert nothing.empty() is False and nothing.is_nothing() and str(nothing) == ""
    everything = LabelSelector.from_api({})
    assert everything.matches({}) is True and everything.empty() is True
    assert LabelSelector.from_api({"matchLabels": {}, "matchExpressions": []}).empty()
    assert LabelSelector.from_api({"matchLabels": None, "matchExpressions": None}).empty()


@pytest.mark.parametrize(
    ("sel", "canonical", "labels", "expected"),
    [
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "web"}, True),
        ({"matchLabels": {"b": "1", "a": "2"}}, "a=2,b=1", {"a": "2", "b": "1"}, True),
        ({"matchLabels": {"app": "web"}}, "app=web", {}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["z", "a"]}]},
            "tier in (a,z)",
            {"tier": "z"},
            True,
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            "tier notin (a)",
            {},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, "tier", {"tier": ""}, True),
        (
            {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist", "values": []}]},
            "!tier",
            {"tier": "x"},
            False,
        ),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "app=web,!canary,env in (prod,staging)",
            {"app": "web", "env": "staging"},
            True,
        ),
    ],
)
def test_from_api(sel: dict[str, Any], canonical: str, labels: dict[str, str], expected: bool) -> None:
    parsed = LabelSelector.from_api(sel)
    assert str(parsed) == canonical
    assert parsed.matches(labels) is expected


@pytest.mark.parametrize(
    ("sel", "message"),
    [
        (
            {"matchExpressions": [{"key": "k", "operator": "In", "values": []}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "NotIn"}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["a"]}]},
            'values: Invalid value: ["a"]: values set must be empty for exists and does not exist',
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1"]}]},
            '"Gt" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "in", "values": ["1"]}]},
            '"in" is not a valid label selector operator',
        ),
        (
            {"matchExpressions": [{"key": "k", "values": ["1"]}]},
            '"" is not a valid label selector operator',
        ),
        ({"matchLabels": {"bad key": "v"}}, 'key: Invalid value: "bad key": ' + NAME_PART_MSG),
        ({"matchLabels": {"k": "bad value"}}, 'values[0][k]: Invalid value: "bad value": ' + LABEL_VALUE_MSG),
        (
            {"matchExpressions": [{"key": "k", "operator": "In", "values": ["ok", "<b>"]}]},
            'values[1][k]: Invalid value: "<b>": ' + LABEL_VALUE_MSG,
        ),
        (
            {"matchExpressions": [{"key": "-k", "operator": "Exists", "values": ["<a>"]}]},
            '[key: Invalid value: "-k": '
            + NAME_PART_MSG
            + ', values: Invalid value: ["\\u003ca\\u003e"]: values set must be empty for exists and does '
            'not exist, values[0][-k]: Invalid value: "<a>": ' + LABEL_VALUE_MSG + "]",
        ),
    ],
)
def test_from_api_errors(sel: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        LabelSelector.from_api(sel)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "sel",
    [
        [],
        "app=web",
        {"matchLabels": ["a"]},
        {"matchLabels": {"a": 1}},
        {"matchExpressions": {"key": "a"}},
        {"matchExpressions": ["a"]},
        {"matchExpressions": [{"key": 1, "operator": "Exists"}]},
        {"matchExpressions": [{"key": "a", "operator": "In", "values": "b"}]},
        {"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]},
        {"matchExpressions": [{"key": "a", "operator": 3}]},
    ],
)
def test_from_api_malformed_raises_value_error(sel: Any) -> None:
    with pytest.raises(ValueError):
        LabelSelector.from_api(sel)


# ---------------------------------------------------------------------------------------------
# FieldSelector
POD_ALLOWED = frozenset({"metadata.name", "metadata.namespace", *POD_FIELDS})


@pytest.mark.parametrize(
    ("text", "requirements", "canonical"),
    [
        ("", [], ""),
        (",,", [], ""),
        ("metadata.name=web", [("metadata.name", "=", "web")], "metadata.name=web"),
        ("metadata.name==web", [("metadata.name", "=", "web")], "metadata.name=web"),
        ("metadata.name!=web", [("metadata.name", "!=", "web")], "metadata.name!=web"),
        ("metadata.name=", [("metadata.name", "=", "")], "metadata.name="),
        (
            "status.phase!=Running,spec.nodeName=n1",
            [("spec.nodeName", "=", "n1"), ("status.phase", "!=", "Running")],  # sorted terms
            "spec.nodeName=n1,status.phase!=Running",
        ),
        (
            "metadata.name=a\\,b,metadata.namespace=x\\=y\\\\",
            [("metadata.name", "=", "a,b"), ("metadata.namespace", "=", "x=y\\")],
            "metadata.name=a\\,b,metadata.namespace=x\\=y\\\\",
        ),
        ("spec.hostNetwork=true", [("spec.hostNetwork", "=", "true")], "spec.hostNetwork=true"),
        ("metadata.name=a!b", [("metadata.name", "=", "a!b")], "metadata.name=a!b"),
        ("metadata.name=é", [("metadata.name", "=", "é")], "metadata.name=é"),
    ],
)
def test_field_parse(text: str, requirements: list[tuple[str, str, str]], canonical: str) -> None:
    sel = FieldSelector.parse(text, POD_ALLOWED)
    assert sel.requirements() == requirements
    assert str(sel) == canonical
    assert sel.empty() == (requirements == [])
    assert FieldSelector.parse(str(sel), POD_ALLOWED) == sel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b,oops", "invalid selector: 'a=b,oops'; can't understand 'oops'"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name=a\\,b,c", "invalid selector: 'metadata.name=a\\,b,c'; can't understand 'c'"),
        ("metadata.name===b", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
        ("spec.foo=bar", "field label not supported: spec.foo"),
        ("metadata.name = web", "field label not supported: metadata.name "),
        ("=", "field label not supported: "),
        ("metadata.name=a,zzz=b", "field label not supported: zzz"),
        ("zzz=1,aaa=2", "field label not supported: aaa"),  # first unsupported in sorted order
        ("metadata.labels=x", "field label not supported: metadata.labels"),
    ],
)
def test_field_parse_errors(text: str, message: str) -> None:
    with pytest.raises(StatusError) as info:
        FieldSelector.parse(text, POD_ALLOWED)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_field_parse_generic_message() -> None:
    allowed = {"metadata.name", "metadata.namespace"}
    assert FieldSelector.parse("metadata.name=x", allowed).requirements() == [("metadata.name", "=", "x")]
    with pytest.raises(StatusError) as info:
        FieldSelector.parse("data.key=x", allowed, generic_message=True)
    assert info.value.message == (
        '"data.key" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("metadata.name=web", {"metadata.name": "web"}, True),
        ("metadata.name=web", {"metadata.name": "db"}, False),
        ("metadata.name!=web", {"metadata.name": "db"}, True),
        ("metadata.name!=web", {"metadata.name": "web"}, False),
        ("spec.nodeName=", {"spec.nodeName": ""}, True),
        ("spec.nodeName=", {}, True),  # a missing field reads as ""
        ("spec.nodeName!=", {}, False),
        ("spec.nodeName!=", {"spec.nodeName": "n1"}, True),
        ("metadata.name=a,metadata.namespace=b", {"metadata.name": "a", "metadata.namespace": "b"}, True),
        ("metadata.name=a,metadata.namespace=b", {"metadata.name": "a", "metadata.namespace": "c"}, False),
        ("metadata.name=a\\,b", {"metadata.name": "a,b"}, True),
        ("", {}, True),
    ],
)
def test_field_matches(text: str, fields: dict[str, str], expected: bool) -> None:
    assert FieldSelector.parse(text, POD_ALLOWED).matches(fields) is expected


def test_field_exact_match() -> None:
    sel = FieldSelector.parse("metadata.namespace=ns1,metadata.name!=x", POD_ALLOWED)
    assert sel.requires_exact_match("metadata.namespace") == "ns1"
    assert sel.requires_exact_match("metadata.name") is None


# ---------------------------------------------------------------------------------------------
# object_fields (registries' ToSelectableFields)
RT = {(r.group, r.kind): r for r in BUILTIN_RESOURCES}


def test_object_fields_pod() -> None:
    pod = {
        "metadata": {"name": "web-0", "namespace": "prod"},
        "spec": {
            "nodeName": "node-1",
            "restartPolicy": "Always",
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "hostNetwork": True,
        },
        "status": {
            "phase": "Running",
            "podIP": "10.0.0.5",
            "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
            "nominatedNodeName": "node-2",
        },
    }
    assert object_fields(pod, RT[("", "Pod")].extra_field_labels) == {
        "metadata.name": "web-0",
        "metadata.namespace": "prod",
        "spec.nodeName": "node-1",
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default",
        "spec.hostNetwork": "true",
        "status.phase": "Running",
        "status.podIP": "10.0.0.5",
        # accepted by the Pod field-label conversion but not part of the selectable set upstream
        "status.podIPs": "",
        "status.nominatedNodeName": "node-2",
    }


def test_object_fields_pod_defaults() -> None:
    fields = object_fields({"metadata": {"name": "p", "namespace": "n"}}, POD_FIELDS)
    assert fields["spec.hostNetwork"] == "false"
    assert fields["spec.nodeName"] == "" and fields["status.podIP"] == "" and fields["status.phase"] == ""
    # status.podIP falls back on the singular field when podIPs is absent (v1 -> internal conversion)
    assert object_fields({"status": {"podIP": "1.2.3.4"}}, ("status.podIP",))["status.podIP"] == "1.2.3.4"
    assert (
        object_fields({"status": {"podIPs": [{"ip": "5.6.7.8"}]}}, ("status.podIP",))["status.podIP"]
        == "5.6.7.8"
    )
    sel = FieldSelector.parse("spec.nodeName=,spec.hostNetwork=false", POD_ALLOWED)
    assert sel.matches(fields)


def test_object_fields_event() -> None:
    event = {
        "metadata": {"name": "web.17a", "namespace": "prod"},
        "involvedObject": {
            "kind": "Pod",
            "namespace": "prod",
            "name": "web-0",
            "uid": "u-1",
            "apiVersion": "v1",
            "resourceVersion": "42",
            "fieldPath": "spec.containers{web}",
        },
        "reason": "Started",
        "source": {"component": "kubelet", "host": "node-1"},
        "reportingComponent": "kubelet",
        "type": "Normal",
    }
    assert object_fields(event, EVENT_FIELDS) == {
        "metadata.name": "web.17a",
        "metadata.namespace": "prod",
        "involvedObject.kind": "Pod",
        "involvedObject.namespace": "prod",
        "involvedObject.name": "web-0",
        "involvedObject.uid": "u-1",
        "involvedObject.apiVersion": "v1",
        "involvedObject.resourceVersion": "42",
        "involvedObject.fieldPath": "spec.containers{web}",
        "reason": "Started",
        "reportingComponent": "kubelet",
        "source": "kubelet",
        "type": "Normal",
    }
    # source falls back on the reporting controller (events written through events.k8s.io)
    newer = {"metadata": {"name": "e"}, "reportingComponent": "scheduler", "source": {}}
    assert object_fields(newer, ("source", "reportingComponent"))["source"] == "scheduler"
    assert object_fields({"metadata": {"name": "e"}}, ("source",))["source"] == ""


def test_object_fields_secret_service_namespace() -> None:
    secret = {"metadata": {"name": "s", "namespace": "n"}, "type": "kubernetes.io/tls"}
    assert object_fields(secret, RT[("", "Secret")].extra_field_labels)["type"] == "kubernetes.io/tls"
    svc = {
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"clusterIP": "10.96.0.10", "type": "ClusterIP"},
    }
    assert object_fields(svc, ("spec.clusterIP", "spec.type")) == {
        "metadata.name": "s",
        "metadata.namespace": "n",
        "spec.clusterIP": "10.96.0.10",
        "spec.type": "ClusterIP",
    }
    ns = {"metadata": {"name": "team-a"}, "status": {"phase": "Terminating"}}
    assert object_fields(ns, ("status.phase", "name")) == {
        "metadata.name": "team-a",
        "metadata.namespace": "",
        "status.phase": "Terminating",
        "name": "team-a",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [({"unschedulable": True}, "true"), ({"unschedulable": False}, "false"), ({}, "false"), (None, "false")],
)
def test_object_fields_node(spec: dict[str, Any] | None, expected: str) -> None:
    node = {"metadata": {"name": "node-1"}, "spec": spec}
    fields = object_fields(node, RT[("", "Node")].extra_field_labels)
    assert fields == {"metadata.name": "node-1", "metadata.namespace": "", "spec.unschedulable": expected}
    assert FieldSelector.parse("spec.unschedulable=false", {"spec.unschedulable"}).matches(fields) is (
        expected == "false"
    )


def test_object_fields_counters() -> None:
    job = {"metadata": {"name": "j", "namespace": "n"}, "status": {"succeeded": 3}}
    assert object_fields(job, ("status.successful",))["status.successful"] == "3"
    assert object_fields({"metadata": {}}, ("status.successful",))["status.successful"] == "0"
    rs = {"metadata": {"name": "r", "namespace": "n"}, "status": {"replicas": 2}}
    assert object_fields(rs, ("status.replicas",))["status.replicas"] == "2"
    assert object_fields({"status": {}}, ("status.replicas",))["status.replicas"] == "0"


def test_object_fields_generic_and_malformed() -> None:
    obj = {"metadata": "oops", "spec": {"signerName": "example.com/x", "n": 1.0, "flag": False, "list": [1]}}
    assert object_fields(
        obj, ("spec.signerName", "spec.n", "spec.flag", "spec.list", "spec.missing.deep")
    ) == {
        "metadata.name": "",
        "metadata.namespace": "",
        "spec.signerName": "example.com/x",
        "spec.n": "1",
        "spec.flag": "false",
        "spec.list": "[1]",
        "spec.missing.deep": "",
    }


# ---------------------------------------------------------------------------------------------
# Fuzzing: the parsers raise StatusError (400) and nothing else, whatever the input.
SELECTOR_CHARS = st.sampled_from([*list("ab=!(),<> \t\n\\/.-_09in"), "in", "notin", "\x00", "é", "€"])
SELECTOR_TEXT = st.lists(SELECTOR_CHARS, max_size=30).map("".join) | st.text(max_size=40)


@settings(max_examples=1500, deadline=None)
@given(text=SELECTOR_TEXT)
@example(text="x in (,),y notin (a,,)")
@example(text="a>1,b<2,!c,d")
def test_label_parse_fuzz(text: str) -> None:
    try:
        sel = LabelSelector.parse(text)
    except StatusError as e:
        assert (e.code, e.reason) == (400, "BadRequest")
        assert e.message
        return
    # whatever parses prints back to an equivalent selector
    assert LabelSelector.parse(str(sel)) == sel
    sel.matches({"a": "1", "b": "x"})


FIELD_CHARS = st.sampled_from([*list("ab=!,\\ ."), "metadata.name", "metadata.namespace", "==", "!=", "é"])
FIELD_TEXT = st.lists(FIELD_CHARS, max_size=20).map("".join) | st.text(max_size=40)
FIELD_ALLOWED = frozenset({"metadata.name", "metadata.namespace", "a", "b"})


@settings(max_examples=1500, deadline=None)
@given(text=FIELD_TEXT)
@example(text="a=\\\\,b!=\\,\\=")
@example(text="a==,a=!")  # prints as `a=!,a=`, whose terms sort the other way round
def test_field_parse_fuzz(text: str) -> None:
    try:
        sel = FieldSelector.parse(text, FIELD_ALLOWED)
    except StatusError as e:
        assert (e.code, e.reason) == (400, "BadRequest")
        assert e.message
        return
    assert FieldSelector.parse(str(sel), FIELD_ALLOWED) == sel
    assert all(op in ("=", "!=") for _f, op, _v in sel.requirements())
    sel.matches({"a": "x"})
