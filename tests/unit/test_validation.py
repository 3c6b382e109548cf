"""Name, label, annotation and ObjectMeta validation: upstream (apimachinery 1.32) messages verbatim."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver.errors import Cause, forbidden, invalid
from vcluster.apiserver.resources import BUILTIN_RESOURCES, ResourceType
from vcluster.apiserver.validation import (
    validate_annotations,
    validate_label_value,
    validate_labels,
    validate_name,
    validate_object_meta,
    validate_qualified_name,
)

# The upstream detail strings, spelled out (not imported) so that the tests pin the exact text.
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
QNAME_SLASHES_MSG = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
    "and '/' (e.g. 'example.com/MyName')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
TOO_LONG_63 = "must be no more than 63 characters"
TOO_LONG_253 = "must be no more than 253 characters"

RT: dict[str, ResourceType] = {(r.group, r.kind): r for r in BUILTIN_RESOURCES}
POD = RT[("", "Pod")]
NAMESPACE = RT[("", "Namespace")]
SERVICE = RT[("", "Service")]
NODE = RT[("", "Node")]
CRONJOB = RT[("batch", "CronJob")]
JOB = RT[("batch", "Job")]
ROLE = RT[("rbac.authorization.k8s.io", "Role")]
CLUSTERROLE = RT[("rbac.authorization.k8s.io", "ClusterRole")]


def test_resource_table_rules() -> None:
    """The kinds these tests rely on carry the rules the validator expects."""
    assert (POD.name_rule, POD.name_max) == ("subdomain", 253)
    assert (NAMESPACE.name_rule, NAMESPACE.name_max) == ("label", 63)
    assert SERVICE.name_rule == "dns1035"
    assert CRONJOB.name_max == 52 and JOB.name_max == 63
    assert ROLE.name_rule == CLUSTERROLE.name_rule == "path-segment"


# ---------------------------------------------------------------------------------------------
# validate_name
@pytest.mark.parametrize(
    ("name", "rule", "max_len", "expected"),
    [
        # DNS-1123 subdomain
        ("a", "subdomain", 253, []),
        ("my-pod.example.com", "subdomain", 253, []),
        ("0", "subdomain", 253, []),
        ("a" * 253, "subdomain", 253, []),
        ("a" * 63 + "." + "b" * 63, "subdomain", 253, []),
        ("Bad", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("-a", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("a-", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("a..b", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("a_b", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("a\n", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("é", "subdomain", 253, [SUBDOMAIN_MSG]),
        ("a" * 254, "subdomain", 253, [TOO_LONG_253]),
        ("A" * 254, "subdomain", 253, [TOO_LONG_253, SUBDOMAIN_MSG]),
        # kind-specific limits below the rule's own: CronJob 52, Job 63
        ("a" * 52, "subdomain", 52, []),
        ("a" * 53, "subdomain", 52, ["must be no more than 52 characters"]),
        ("a" * 63, "subdomain", 63, []),
        ("a" * 64, "subdomain", 63, [TOO_LONG_63]),
        ("A" * 64, "subdomain", 63, [SUBDOMAIN_MSG, TOO_LONG_63]),
        # DNS-1123 label
        ("default", "label", 63, []),
        ("123-abc", "label", 63, []),
        ("a" * 63, "label", 63, []),
        ("a" * 64, "label", 63, [TOO_LONG_63]),
        ("a.b", "label", 63, [LABEL_MSG]),
        ("My-Ns", "label", 63, [LABEL_MSG]),
        ("a" * 64 + "-", "label", 63, [TOO_LONG_63, LABEL_MSG]),
        # DNS-1035 label
        ("my-svc", "dns1035", 63, []),
        ("abc-123", "dns1035", 63, []),
        ("1abc", "dns1035", 63, [DNS1035_MSG]),
        ("my.svc", "dns1035", 63, [DNS1035_MSG]),
        ("a" * 64, "dns1035", 63, [TOO_LONG_63]),
        # path segments (RBAC): anything but '.', '..', '/' and '%'
        ("system:controller:deployment-controller", "path-segment", 253, []),
        ("Weird Name!", "path-segment", 253, []),
        ("x" * 300, "path-segment", 253, []),
        (".", "path-segment", 253, ["may not be '.'"]),
        ("..", "path-segment", 253, ["may not be '..'"]),
        ("...", "path-segment", 253, []),
        ("a/b", "path-segment", 253, ["may not contain '/'"]),
        ("a%b", "path-segment", 253, ["may not contain '%'"]),
        ("a/%", "path-segment", 253, ["may not contain '/'", "may not contain '%'"]),
    ],
)
def test_validate_name(name: str, rule: str, max_len: int, expected: list[str]) -> None:
    assert validate_name(name, rule, max_len) == expected


def test_validate_name_counts_bytes() -> None:
    # Go's len() counts UTF-8 bytes: 32 two-byte characters are 64 bytes.
    assert validate_name("é" * 32, "label", 63) == [TOO_LONG_63, LABEL_MSG]


@pytest.mark.parametrize(
    ("prefix", "rule", "expected"),
    [
        ("web-", "subdomain", []),
        ("web", "subdomain", []),
        ("ab-", "subdomain", []),
        ("a-", "subdomain", []),
        ("Web-", "subdomain", [SUBDOMAIN_MSG]),
        ("-", "subdomain", [SUBDOMAIN_MSG]),  # one character: not masked upstream
        ("web--", "subdomain", []),
        ("ns-", "label", []),
        ("ns.x-", "label", [LABEL_MSG]),
        ("svc-", "dns1035", []),
        ("1svc-", "dns1035", [DNS1035_MSG]),
        # a prefix may be '.' or '..' (the suffix follows) but not contain '/' or '%'
        (".", "path-segment", []),
        ("a/", "path-segment", ["may not contain '/'"]),
        # the kind-specific limit is not applied to generateName
        ("a" * 60 + "-", "subdomain", []),
    ],
)
def test_validate_name_prefix(prefix: str, rule: str, expected: list[str]) -> None:
    assert validate_name(prefix, rule, 52, prefix=True) == expected


def test_validate_name_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown name rule"):
        validate_name("a", "bogus", 10)


# ---------------------------------------------------------------------------------------------
# qualified names and label values
@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("app", []),
        ("App_Name.v1-2", []),
        ("1", []),
        ("a" * 63, []),
        ("example.com/MyName", []),
        ("app.kubernetes.io/name", []),
        ("a" * 253 + "/n", []),
        ("a" * 64, ["name part " + TOO_LONG_63]),
        ("a" * 62 + "_", [NAME_PART_MSG]),
        ("a" * 63 + "_", ["name part " + TOO_LONG_63, NAME_PART_MSG]),
        ("", ["name part must be non-empty", NAME_PART_MSG]),
        ("-app", [NAME_PART_MSG]),
        ("app-", [NAME_PART_MSG]),
        ("app name", [NAME_PART_MSG]),
        ("app:monolith", [NAME_PART_MSG]),
        ("/name", ["prefix part must be non-empty"]),
        ("example.com/", ["name part must be non-empty", NAME_PART_MSG]),
        ("Example.com/name", ["prefix part " + SUBDOMAIN_MSG]),
        ("app.kubernetes_io/name", ["prefix part " + SUBDOMAIN_MSG]),
        ("a" * 254 + "/n", ["prefix part " + TOO_LONG_253]),
        ("a/b/c", [QNAME_SLASHES_MSG]),
        ("Bad_/x_", ["prefix part " + SUBDOMAIN_MSG, NAME_PART_MSG]),
    ],
)
def test_validate_qualified_name(key: str, expected: list[str]) -> None:
    assert validate_qualified_name(key) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("v", []),
        ("MyValue", []),
        ("my_value", []),
        ("1.2.3", []),
        ("a" * 63, []),
        ("a" * 64, [TOO_LONG_63]),
        ("-v", [LABEL_VALUE_MSG]),
        ("v.", [LABEL_VALUE_MSG]),
        ("a b", [LABEL_VALUE_MSG]),
        ("a/b", [LABEL_VALUE_MSG]),
        ("a" * 63 + "-", [TOO_LONG_63, LABEL_VALUE_MSG]),
    ],
)
def test_validate_label_value(value: str, expected: list[str]) -> None:
    assert validate_label_value(value) == expected


# ---------------------------------------------------------------------------------------------
# labels and annotations
def test_validate_labels_ok() -> None:
    assert validate_labels({"app": "web", "example.com/tier": "", "v": "a" * 63}) == []
    assert validate_labels({}) == []
    assert validate_labels(None) == []


def test_validate_labels_errors_in_order() -> None:
    causes = validate_labels({"bad key": "ok", "k": "bad value", "k2": "v" * 64})
    assert causes == [
        Cause("FieldValueInvalid", 'Invalid value: "bad key": ' + NAME_PART_MSG, "metadata.labels"),
        Cause("FieldValueInvalid", 'Invalid value: "bad value": ' + LABEL_VALUE_MSG, "metadata.labels"),
        Cause("FieldValueInvalid", f'Invalid value: "{"v" * 64}": {TOO_LONG_63}', "metadata.labels"),
    ]


def test_validate_labels_custom_path() -> None:
    causes = validate_labels({"a": "-"}, "spec.template.metadata.labels")
    assert [c.field for c in causes] == ["spec.template.metadata.labels"]


@pytest.mark.parametrize("labels", [["a"], "a=b", 3, True, {"a": 1}, {"a": None}, {"a": ["b"]}, {"a": {}}])
def test_validate_labels_wrong_types_give_causes(labels: Any) -> None:
    causes = validate_labels(labels)
    assert len(causes) == 1
    assert causes[0].reason == "FieldValueTypeInvalid"
    assert causes[0].message.startswith("Invalid value: ")
    assert causes[0].field.startswith("metadata.labels")


def test_validate_annotations_keys() -> None:
    # case does not matter in annotation keys (lower-cased before the check)
    assert validate_annotations({"Example.COM/Some-Key": "x", "UPPER": "any value at all\n"}) == []
    assert validate_annotations({"bad key": "v"}) == [
        Cause("FieldValueInvalid", 'Invalid value: "bad key": ' + NAME_PART_MSG, "metadata.annotations")
    ]
    # the reported value is the original key, not the lower-cased one
    causes = validate_annotations({"Bad_Prefix.com/X": ""})
    assert causes == [
        Cause(
            "FieldValueInvalid",
            'Invalid value: "Bad_Prefix.com/X": prefix part ' + SUBDOMAIN_MSG,
            "metadata.annotations",
        )
    ]


TOO_LONG_ANNOTATIONS = Cause(
    "FieldValueTooLong", "Too long: may not be more than 262144 bytes", "metadata.annotations"
)


@pytest.mark.parametrize(
    ("annotations", "too_long"),
    [
        ({"k": "v" * (262144 - 1)}, False),
        ({"k": "v" * 262144}, True),
        ({"a": "x" * 131071, "b": "y" * 131071}, False),
        ({"a": "x" * 131071, "b": "y" * 131072}, True),
        # sizes are in bytes: 87382 three-byte characters are 262146 bytes
        ({"k": "€" * 87381}, False),
        ({"k": "€" * 87382}, True),
    ],
)
def test_validate_annotations_total_size(annotations: dict[str, str], too_long: bool) -> None:
    assert validate_annotations(annotations) == ([TOO_LONG_ANNOTATIONS] if too_long else [])


@pytest.mark.parametrize("annotations", [["a"], "x", 1, {"a": 2}, {"a": None}])
def test_validate_annotations_wrong_types_give_causes(annotations: Any) -> None:
    causes = validate_annotations(annotations)
    assert [c.reason for c in causes] == ["FieldValueTypeInvalid"]


# ---------------------------------------------------------------------------------------------
# ObjectMeta
BAD_POD_CAUSE = Cause(
    "FieldValueInvalid",
    'Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
    "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
    "'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    "metadata.name",
)


def meta(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "X", "metadata": fields}


def test_object_meta_bad_pod_name_and_invalid_message() -> None:
    causes = validate_object_meta(meta(name="Bad"), POD, is_create=True, url_namespace="default")
    assert causes == [BAD_POD_CAUSE]
    err = invalid("Pod", "", "Bad", causes)
    assert err.code == 422
    assert err.message == 'Pod "Bad" is invalid: metadata.name: ' + BAD_POD_CAUSE.message
    assert err.status()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": BAD_POD_CAUSE.message, "field": "metadata.name"}
    ]


def test_object_meta_valid() -> None:
    obj = meta(
        name="web-0",
        namespace="default",
        labels={"app": "web"},
        annotations={"kubernetes.io/description": "x"},
        ownerReferences=[{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1"}],
        finalizers=["example.com/cleanup"],
        generation=1,
    )
    assert validate_object_meta(obj, POD, is_create=True, url_namespace="default") == []


def test_object_meta_name_required() -> None:
    expected = [
        Cause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")
    ]
    assert validate_object_meta(meta(), POD, is_create=True, url_namespace="ns") == expected
    assert validate_object_meta(meta(name=""), POD, is_create=True, url_namespace="ns") == expected
    assert validate_object_meta({}, POD, is_create=True, url_namespace="ns") == expected
    assert validate_object_meta({"metadata": None}, POD, is_create=True, url_namespace="ns") == expected


def test_object_meta_generate_name() -> None:
    assert validate_object_meta(meta(generateName="web-"), POD, is_create=True, url_namespace="ns") == []
    causes = validate_object_meta(meta(generateName="Web-"), POD, is_create=True, url_namespace="ns")
    assert causes == [
        Cause("FieldValueInvalid", 'Invalid value: "Web-": ' + SUBDOMAIN_MSG, "metadata.generateName")
    ]
    # generateName and the generated name are both validated, generateName first (as upstream)
    causes = validate_object_meta(
        meta(generateName="Web-", name="Web-x7k2q"), POD, is_create=True, url_namespace="ns"
    )
    assert [(c.field, c.message.split(":")[1].strip()) for c in causes] == [
        ("metadata.generateName", '"Web-"'),
        ("metadata.name", '"Web-x7k2q"'),
    ]


def test_object_meta_namespace_kind() -> None:
    assert validate_object_meta(meta(name="team-a"), NAMESPACE, is_create=True, url_namespace=None) == []
    causes = validate_object_meta(meta(name="team.a"), NAMESPACE, is_create=True, url_namespace=None)
    assert causes == [Cause("FieldValueInvalid", 'Invalid value: "team.a": ' + LABEL_MSG, "metadata.name")]
    causes = validate_object_meta(meta(name="n" * 64), NAMESPACE, is_create=True, url_namespace=None)
    assert causes == [
        Cause("FieldValueInvalid", f'Invalid value: "{"n" * 64}": {TOO_LONG_63}', "metadata.name")
    ]


def test_object_meta_service_dns1035() -> None:
    causes = validate_object_meta(meta(name="1svc"), SERVICE, is_create=True, url_namespace="ns")
    assert causes == [Cause("FieldValueInvalid", 'Invalid value: "1svc": ' + DNS1035_MSG, "metadata.name")]


def test_object_meta_cronjob_and_job_limits() -> None:
    name52, name53 = "c" * 52, "c" * 53
    assert validate_object_meta(meta(name=name52), CRONJOB, is_create=True, url_namespace="ns") == []
    causes = validate_object_meta(
        meta(name=name53, labels={"a": "-"}), CRONJOB, is_create=True, url_namespace="ns"
    )
    # the CronJob limit is reported after the rest of the metadata, as upstream appends it last
    assert causes == [
        Cause("FieldValueInvalid", 'Invalid value: "-": ' + LABEL_VALUE_MSG, "metadata.labels"),
        Cause(
            "FieldValueInvalid",
            f'Invalid value: "{name53}": must be no more than 52 characters',
            "metadata.name",
        ),
    ]
    causes = validate_object_meta(meta(name="j" * 64), JOB, is_create=True, url_namespace="ns")
    assert causes == [
        Cause("FieldValueInvalid", f'Invalid value: "{"j" * 64}": {TOO_LONG_63}', "metadata.name")
    ]


def test_object_meta_rbac_path_segment() -> None:
    assert (
        validate_object_meta(meta(name="system:admin"), CLUSTERROLE, is_create=True, url_namespace=None) == []
    )
    causes = validate_object_meta(meta(name="a/b"), ROLE, is_create=True, url_namespace="ns")
    assert causes == [
        Cause("FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'", "metadata.name")
    ]
    causes = validate_object_meta(meta(name=".."), CLUSTERROLE, is_create=True, url_namespace=None)
    assert causes == [Cause("FieldValueInvalid", "Invalid value: \"..\": may not be '..'", "metadata.name")]


def test_object_meta_namespace_of_namespaced_kinds() -> None:
    # the body's namespace wins; otherwise the URL's
    causes = validate_object_meta(meta(name="p", namespace="Bad_NS"), POD, is_create=True, url_namespace="ns")
    assert causes == [
        Cause("FieldValueInvalid", 'Invalid value: "Bad_NS": ' + LABEL_MSG, "metadata.namespace")
    ]
    causes = validate_object_meta(meta(name="p"), POD, is_create=True, url_namespace="a.b")
    assert causes == [Cause("FieldValueInvalid", 'Invalid value: "a.b": ' + LABEL_MSG, "metadata.namespace")]
    causes = validate_object_meta(meta(name="p"), POD, is_create=True, url_namespace=None)
    assert causes == [Cause("FieldValueRequired", "Required value", "metadata.namespace")]
    # cluster-scoped kinds: the namespace is not checked (the server drops it)
    assert (
        validate_object_meta(meta(name="n1", namespace="X"), NODE, is_create=True, url_namespace=None) == []
    )


def test_object_meta_update_skips_name() -> None:
    assert validate_object_meta(meta(name="Bad"), POD, is_create=False, url_namespace="ns") == []
    assert validate_object_meta(meta(), POD, is_create=False, url_namespace="ns") == []
    causes = validate_object_meta(
        meta(name="Bad", labels={"x": "-"}), POD, is_create=False, url_namespace="ns"
    )
    assert [c.field for c in causes] == ["metadata.labels"]


def test_object_meta_order_of_causes() -> None:
    obj = meta(
        generateName="Gen-",
        name="N",
        namespace="NS",
        generation=-1,
        labels={"l": "-"},
        annotations={"a b": ""},
        ownerReferences=[{"apiVersion": "v1", "kind": "Pod", "name": "p"}],
        finalizers=["bad finalizer"],
    )
    causes = validate_object_meta(obj, POD, is_create=True, url_namespace="ns")
    assert [c.field for c in causes] == [
        "metadata.generateName",
        "metadata.name",
        "metadata.namespace",
        "metadata.generation",
        "metadata.labels",
        "metadata.annotations",
        "metadata.ownerReferences.uid",
        "metadata.finalizers",
    ]
    assert causes[3].message == "Invalid value: -1: must be greater than or equal to 0"
    assert causes[6].message == 'Invalid value: "": must not be empty'


def test_object_meta_owner_references() -> None:
    refs = [
        {"apiVersion": "", "kind": "", "name": "", "uid": ""},
        {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True},
    ]
    causes = validate_object_meta(
        meta(name="p", ownerReferences=refs), POD, is_create=True, url_namespace="ns"
    )
    assert [(c.field, c.message.rsplit(": ", 1)[-1]) for c in causes] == [
        ("metadata.ownerReferences.apiVersion", "version must not be empty"),
        ("metadata.ownerReferences.kind", "must not be empty"),
        ("metadata.ownerReferences.name", "must not be empty"),
        ("metadata.ownerReferences.uid", "must not be empty"),
        ("metadata.ownerReferences", "/v1, Kind=Event is disallowed from being an owner"),
        (
            "metadata.ownerReferences",
            'Only one reference can have Controller set to true. Found "true" in references for '
            "ReplicaSet/a and ReplicaSet/b",
        ),
    ]


def test_object_meta_finalizers() -> None:
    ok = meta(name="p", finalizers=["kubernetes", "foregroundDeletion", "example.com/x"])
    assert validate_object_meta(ok, POD, is_create=True, url_namespace="ns") == []
    both = meta(name="p", finalizers=["orphan", "foregroundDeletion"])
    causes = validate_object_meta(both, POD, is_create=True, url_namespace="ns")
    assert causes == [
        Cause(
            "FieldValueInvalid",
            'Invalid value: ["orphan","foregroundDeletion"]: '
            "finalizer orphan and foregroundDeletion cannot be both set",
            "metadata.finalizers",
        )
    ]


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        "x",
        {"name": 5},
        {"name": "p", "labels": "a=b"},
        {"name": "p", "labels": {"a": 1}},
        {"name": "p", "annotations": [1]},
        {"name": "p", "ownerReferences": {"a": 1}},
        {"name": "p", "ownerReferences": [1]},
        {"name": "p", "finalizers": "x"},
        {"name": "p", "finalizers": [None]},
        {"name": "p", "namespace": 7},
        {"generateName": 3},
    ],
)
def test_object_meta_wrong_types_give_causes(metadata: Any) -> None:
    causes = validate_object_meta({"metadata": metadata}, POD, is_create=True, url_namespace="ns")
    assert causes, "a malformed field must produce a cause"
    assert all(isinstance(c, Cause) and c.reason.startswith("FieldValue") for c in causes)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
META_KEYS = st.sampled_from(
    [
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "generation",
    ]
)


@settings(max_examples=300, deadline=None)
@given(metadata=st.dictionaries(META_KEYS, JSON, max_size=8), is_create=st.booleans())
def test_object_meta_never_raises(metadata: dict[str, Any], is_create: bool) -> None:
    for rt in (POD, NAMESPACE, SERVICE, ROLE, CRONJOB):
        causes = validate_object_meta({"metadata": metadata}, rt, is_create=is_create, url_namespace="ns")
        assert all(isinstance(c, Cause) for c in causes)


def test_update_checks_changed_metadata_maps_only() -> None:
    old = meta(name="p", labels={"bad key!": "x"}, annotations={"a": "b"})["metadata"]
    # the stored labels (written before a rule existed, say) are not re-checked when unchanged
    unchanged = meta(name="p", labels={"bad key!": "x"}, annotations={"a": "c"})
    assert validate_object_meta(unchanged, POD, is_create=False, url_namespace="ns", old=old) == []
    # a changed map is checked whole, as on create
    changed = meta(name="p", labels={"bad key!": "x", "ok": "y"})
    causes = validate_object_meta(changed, POD, is_create=False, url_namespace="ns", old=old)
    assert [c.field for c in causes] == ["metadata.labels"]
    bad_annotation = meta(name="p", labels={"bad key!": "x"}, annotations={"Bad/Key/x": "b"})
    causes = validate_object_meta(bad_annotation, POD, is_create=False, url_namespace="ns", old=old)
    assert [c.field for c in causes] == ["metadata.annotations"]
    # without old (or on create) everything is checked
    assert validate_object_meta(unchanged, POD, is_create=False, url_namespace="ns") != []


def test_status_details_omit_an_empty_name() -> None:
    """StatusDetails.name is omitempty in Go: a refusal of a list names no object."""
    listed = forbidden("pods", "", "", 'User "u" cannot list resource "pods"').status()
    assert listed["details"] == {"kind": "pods"}
    named = forbidden("deployments", "apps", "web", "why").status()
    assert named["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
