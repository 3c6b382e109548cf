"""JSON patch (RFC 6902) as kube-apiserver 1.32 applies it (gopkg.in/evanphx/json-patch.v4 behind
k8s.io/apiserver/pkg/endpoints/handlers/patch.go `jsonPatcher.applyJSPatch`)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.jsonpatch import (
    INVALID_MESSAGE,
    MAX_JSON_PATCH_OPERATIONS,
    apply_json_patch,
    json_patch_strict_errors,
)


def j(s: str) -> Any:
    return orjson.loads(s)


# evanphx/json-patch patch_test.go `Cases` (v4), ported verbatim: (doc, patch, result).
EVANPHX_CASES = [
    ('{ "foo": "bar"}', '[{ "op": "add", "path": "/baz", "value": "qux" }]', '{"baz": "qux", "foo": "bar"}'),
    (
        '{ "foo": [ "bar", "baz" ] }',
        '[{ "op": "add", "path": "/foo/1", "value": "qux" }]',
        '{ "foo": [ "bar", "qux", "baz" ] }',
    ),
    (
        '{ "foo": [ "bar", "baz" ] }',
        '[{ "op": "add", "path": "/foo/-1", "value": "qux" }]',
        '{ "foo": [ "bar", "baz", "qux" ] }',
    ),
    ('{ "baz": "qux", "foo": "bar" }', '[ { "op": "remove", "path": "/baz" } ]', '{ "foo": "bar" }'),
    (
        '{ "foo": [ "bar", "qux", "baz" ] }',
        '[ { "op": "remove", "path": "/foo/1" } ]',
        '{ "foo": [ "bar", "baz" ] }',
    ),
    (
        '{ "baz": "qux", "foo": "bar" }',
        '[ { "op": "replace", "path": "/baz", "value": "boo" } ]',
        '{ "baz": "boo", "foo": "bar" }',
    ),
    (
        '{"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}',
        '[ { "op": "move", "from": "/foo/waldo", "path": "/qux/thud" } ]',
        '{"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}',
    ),
    (
        '{ "foo": [ "all", "grass", "cows", "eat" ] }',
        '[ { "op": "move", "from": "/foo/1", "path": "/foo/3" } ]',
        '{ "foo": [ "all", "cows", "eat", "grass" ] }',
    ),
    (
        '{ "foo": [ "all", "grass", "cows", "eat" ] }',
        '[ { "op": "move", "from": "/foo/1", "path": "/foo/2" } ]',
        '{ "foo": [ "all", "cows", "grass", "eat" ] }',
    ),
    (
        '{ "foo": "bar" }',
        '[ { "op": "add", "path": "/child", "value": { "grandchild": { } } } ]',
        '{ "foo": "bar", "child": { "grandchild": { } } }',
    ),
    (
        '{ "foo": ["bar"] }',
        '[ { "op": "add", "path": "/foo/-", "value": ["abc", "def"] } ]',
        '{ "foo": ["bar", ["abc", "def"]] }',
    ),
    (
        '{ "foo": "bar", "qux": { "baz": 1, "bar": null } }',
        '[ { "op": "remove", "path": "/qux/bar" } ]',
        '{ "foo": "bar", "qux": { "baz": 1 } }',
    ),
    (
        '{ "foo": "bar" }',
        '[ { "op": "add", "path": "/baz", "value": null } ]',
        '{ "baz": null, "foo": "bar" }',
    ),
    ('{ "foo": ["bar"]}', '[ { "op": "replace", "path": "/foo/0", "value": "baz"}]', '{ "foo": ["baz"]}'),
    (
        '{ "foo": ["bar","baz"]}',
        '[ { "op": "replace", "path": "/foo/0", "value": "bum"}]',
        '{ "foo": ["bum","baz"]}',
    ),
    (
        '{ "foo": ["bar","qux","baz"]}',
        '[ { "op": "replace", "path": "/foo/1", "value": "bum"}]',
        '{ "foo": ["bar", "bum","baz"]}',
    ),
    (
        '[ {"foo": ["bar","qux","baz"]}]',
        '[ { "op": "replace", "path": "/0/foo/0", "value": "bum"}]',
        '[ {"foo": ["bum","qux","baz"]}]',
    ),
    (
        '[ {"foo": ["bar","qux","baz"], "bar": ["qux","baz"]}]',
        '[ { "op": "copy", "from": "/0/foo/0", "path": "/0/bar/0"}]',
        '[ {"foo": ["bar","qux","baz"], "bar": ["bar", "qux", "baz"]}]',
    ),
    (
        '[ {"foo": ["bar","qux","baz"], "bar": ["qux","baz"]}]',
        '[ { "op": "copy", "from": "/0/foo", "path": "/0/bar"}]',
        '[ {"foo": ["bar","qux","baz"], "bar": ["bar", "qux", "baz"]}]',
    ),
    (
        '[ { "foo": {"bar": ["qux","baz"]}, "baz": {"qux": "bum"}}]',
        '[ { "op": "copy", "from": "/0/foo/bar", "path": "/0/baz/bar"}]',
        '[ { "baz": {"bar": ["qux","baz"], "qux":"bum"}, "foo": {"bar": ["qux","baz"]}}]',
    ),
    (
        '{ "foo": ["bar"]}',
        '[{"op": "copy", "path": "/foo/0", "from": "/foo"}]',
        '{ "foo": [["bar"], "bar"]}',
    ),
    ('{ "foo": ["bar","qux","baz"]}', '[ { "op": "remove", "path": "/foo/-2"}]', '{ "foo": ["bar", "baz"]}'),
    ('{ "foo": []}', '[ { "op": "add", "path": "/foo/-1", "value": "qux"}]', '{ "foo": ["qux"]}'),
    (
        '{ "bar": [{"baz": null}]}',
        '[ { "op": "replace", "path": "/bar/0/baz", "value": 1 } ]',
        '{ "bar": [{"baz": 1}]}',
    ),
    (
        '{ "bar": [{"baz": 1}]}',
        '[ { "op": "replace", "path": "/bar/0/baz", "value": null } ]',
        '{ "bar": [{"baz": null}]}',
    ),
    ('{ "bar": [null]}', '[ { "op": "replace", "path": "/bar/0", "value": 1 } ]', '{ "bar": [1]}'),
    ('{ "bar": [1]}', '[ { "op": "replace", "path": "/bar/0", "value": null } ]', '{ "bar": [null]}'),
]

# RFC 6902 appendix A examples that succeed: (doc, patch, result).
RFC6902_CASES = [
    # A.1 adding an object member
    ('{"foo": "bar"}', '[{"op": "add", "path": "/baz", "value": "qux"}]', '{"baz": "qux", "foo": "bar"}'),
    # A.2 adding an array element
    (
        '{"foo": ["bar", "baz"]}',
        '[{"op": "add", "path": "/foo/1", "value": "qux"}]',
        '{"foo": ["bar", "qux", "baz"]}',
    ),
    # A.3 removing an object member
    ('{"baz": "qux", "foo": "bar"}', '[{"op": "remove", "path": "/baz"}]', '{"foo": "bar"}'),
    # A.4 removing an array element
    ('{"foo": ["bar", "qux", "baz"]}', '[{"op": "remove", "path": "/foo/1"}]', '{"foo": ["bar", "baz"]}'),
    # A.5 replacing a value
    (
        '{"baz": "qux", "foo": "bar"}',
        '[{"op": "replace", "path": "/baz", "value": "boo"}]',
        '{"baz": "boo", "foo": "bar"}',
    ),
    # A.8 testing a value: success
    (
        '{"baz": "qux", "foo": ["a", 2, "c"]}',
        '[{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}]',
        '{"baz": "qux", "foo": ["a", 2, "c"]}',
    ),
    # A.10 adding a nested member object
    (
        '{"foo": "bar"}',
        '[{"op": "add", "path": "/child", "value": {"grandchild": {}}}]',
        '{"foo": "bar", "child": {"grandchild": {}}}',
    ),
    # A.11 ignoring unrecognized elements
    (
        '{"foo": "bar"}',
        '[{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]',
        '{"foo": "bar", "baz": "qux"}',
    ),
    # A.14 ~ escape ordering
    ('{"/": 9, "~1": 10}', '[{"op": "test", "path": "/~01", "value": 10}]', '{"/": 9, "~1": 10}'),
    # A.16 adding an array value
    (
        '{"foo": ["bar"]}',
        '[{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]',
        '{"foo": ["bar", ["abc", "def"]]}',
    ),
]

# evanphx/json-patch.v4 behaviour kube-apiserver exposes (read from the vendored patch.go).
QUIRK_CASES = [
    # replace only checks that the parent exists: a missing member is added
    ('{"a": {}}', '[{"op": "replace", "path": "/a/b", "value": 1}]', '{"a": {"b": 1}}'),
    # add / replace without "value" store null
    ('{"a": 1}', '[{"op": "add", "path": "/b"}]', '{"a": 1, "b": null}'),
    ('{"a": 1}', '[{"op": "replace", "path": "/a"}]', '{"a": null}'),
    # copy from a missing object member copies null
    ('{"a": 1}', '[{"op": "copy", "from": "/missing", "path": "/b"}]', '{"a": 1, "b": null}'),
    # a path without leading slash ignores its first segment
    ('{"a": 1}', '[{"op": "add", "path": "x/b", "value": 2}]', '{"a": 1, "b": 2}'),
    # replacing the whole document with an object, and with a scalar (a no-op)
    ('{"a": 1}', '[{"op": "replace", "path": "", "value": {"b": 2}}]', '{"b": 2}'),
    ('{"a": 1}', '[{"op": "replace", "path": "", "value": 5}]', '{"a": 1}'),
    # test of the whole document
    ('{"a": 1}', '[{"op": "test", "path": "", "value": {"a": 1}}]', '{"a": 1}'),
    # test: a missing member and null both match null
    ('{"baz": "qux"}', '[{"op": "test", "path": "/foo", "value": null}]', '{"baz": "qux"}'),
    ('{"foo": null}', '[{"op": "test", "path": "/foo", "value": null}]', '{"foo": null}'),
    # negative indices count from the end; add -N inserts before the Nth from the end
    ('{"a": [1, 2, 3]}', '[{"op": "replace", "path": "/a/-1", "value": 9}]', '{"a": [1, 2, 9]}'),
    ('{"a": [1, 2, 3]}', '[{"op": "add", "path": "/a/-2", "value": 9}]', '{"a": [1, 2, 9, 3]}'),
    # Go's strconv.Atoi: leading zeros and "+" are indices
    ('{"a": [1, 2, 3]}', '[{"op": "remove", "path": "/a/01"}]', '{"a": [1, 3]}'),
    ('{"a": [1, 2, 3]}', '[{"op": "remove", "path": "/a/+2"}]', '{"a": [1, 2]}'),
    # the empty member name
    ('{"a": 1}', '[{"op": "add", "path": "/", "value": 2}]', '{"a": 1, "": 2}'),
    # operations apply in order, each seeing the previous result
    (
        '{"a": [1]}',
        '[{"op": "add", "path": "/a/-", "value": 2}, {"op": "move", "from": "/a/0", "path": "/b"},'
        ' {"op": "test", "path": "/a", "value": [2]}]',
        '{"a": [2], "b": 1}',
    ),
]


@pytest.mark.parametrize(("doc", "patch", "result"), EVANPHX_CASES + RFC6902_CASES + QUIRK_CASES)
def test_patch_applies(doc: str, patch: str, result: str) -> None:
    d = j(doc)
    before = copy.deepcopy(d)
    assert apply_json_patch(d, j(patch)) == j(result)
    assert d == before  # the input document is never modified


# Patches that fail to apply: evanphx `BadCases`, RFC 6902 A.9/A.12/A.15, and evanphx `TestCases`
# whose test fails. kube-apiserver answers every one with the same generic 422.
FAILING = [
    ('{ "foo": "bar" }', '[ { "op": "add", "path": "/baz/bat", "value": "qux" } ]'),
    ('{ "a": { "b": { "d": 1 } } }', '[ { "op": "remove", "path": "/a/b/c" } ]'),
    ('{ "a": { "b": { "d": 1 } } }', '[ { "op": "move", "from": "/a/b/c", "path": "/a/b/e" } ]'),
    ('{ "a": { "b": [1] } }', '[ { "op": "remove", "path": "/a/b/1" } ]'),
    ('{ "a": { "b": [1] } }', '[ { "op": "move", "from": "/a/b/1", "path": "/a/b/2" } ]'),
    ('{ "foo": "bar" }', '[ { "op": "add", "pathz": "/baz", "value": "qux" } ]'),
    ('{ "foo": "bar" }', '[ { "op": "add", "path": "", "value": "qux" } ]'),
    ('{ "foo": ["bar","baz"]}', '[ { "op": "replace", "path": "/foo/2", "value": "bum"}]'),
    ('{ "foo": ["bar","baz"]}', '[ { "op": "add", "path": "/foo/-4", "value": "bum"}]'),
    ('{ "name":{ "foo": "bat", "qux": "bum"}}', '[ { "op": "replace", "path": "/foo/bar", "value":"baz"}]'),
    ('{ "foo": ["bar"]}', '[ {"op": "add", "path": "/foo/2", "value": "bum"}]'),
    ('{ "foo": []}', '[ {"op": "remove", "path": "/foo/-"}]'),
    ('{ "foo": []}', '[ {"op": "remove", "path": "/foo/-1"}]'),
    ('{ "foo": ["bar"]}', '[ {"op": "remove", "path": "/foo/-2"}]'),
    ("{}", '[ {"op":null,"path":""} ]'),
    ("{}", '[ {"op":"add","path":null} ]'),
    ("{}", '[ { "op": "copy", "from": null }]'),
    ('{ "foo": ["bar"]}', '[{"op": "copy", "path": "/foo/6666666666", "from": "/"}]'),
    ('{ "foo": ["bar"]}', '[{"op": "copy", "path": "/foo/2", "from": "/foo/0"}]'),
    (
        '{ "foo": [ "all", "grass", "cows", "eat" ] }',
        '[ { "op": "move", "from": "/foo/1", "path": "/foo/4" } ]',
    ),
    # RFC 6902 A.9 testing a value: error
    ('{"baz": "qux"}', '[{"op": "test", "path": "/baz", "value": "bar"}]'),
    # RFC 6902 A.12 adding to a nonexistent target
    ('{"foo": "bar"}', '[{"op": "add", "path": "/baz/bat", "value": "qux"}]'),
    # RFC 6902 A.15 comparing strings and numbers
    ('{"/": 9, "~1": 10}', '[{"op": "test", "path": "/~01", "value": "10"}]'),
    # evanphx TestCases that fail
    ('{"baz": "qux", "foo": ["a", 2, "c"]}', '[{"op": "test", "path": "/foo/1", "value": "c"}]'),
    ('{ "baz": "qux" }', '[ { "op": "test", "path": "/foo", "value": 42 } ]'),
    ('{ "foo": {} }', '[ { "op": "test", "path": "/foo", "value": null } ]'),
    ('{ "foo": [] }', '[ { "op": "test", "path": "/foo", "value": null } ]'),
    ('{ "foo": [] }', '[ { "op": "test", "path": "/foo"} ]'),
    # unknown op, missing op, numbers compared by their JSON text, traversing a scalar
    ('{"a": 1}', '[{"op": "frobnicate", "path": "/a"}]'),
    ('{"a": 1}', '[{"path": "/a"}]'),
    ('{"a": 1}', '[{"op": "test", "path": "/a", "value": 1.0}]'),
    ('{"a": true}', '[{"op": "test", "path": "/a", "value": 1}]'),
    ('{"a": "x"}', '[{"op": "add", "path": "/a/b", "value": 1}]'),
    ('{"a": [1]}', '[{"op": "add", "path": "/a/x", "value": 1}]'),
    ('{"a": [1]}', '[{"op": "test", "path": "/a/-", "value": 1}]'),
    # a failing op after successful ones rolls everything back
    ('{"a": 1}', '[{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/c"}]'),
]


@pytest.mark.parametrize(("doc", "patch"), FAILING)
def test_failing_patch_is_generic_422(doc: str, patch: str) -> None:
    d = j(doc)
    with pytest.raises(StatusError) as ei:
        apply_json_patch(d, j(patch))
    e = ei.value
    assert (e.code, e.reason, e.message, e.details) == (422, "Invalid", INVALID_MESSAGE, {})
    assert d == j(doc)


def test_failing_test_status_body() -> None:
    # `kubectl patch --type=json` with a failing test: NewGenericServerResponse(422, ...)
    with pytest.raises(StatusError) as ei:
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    st = ei.value.status()
    assert st["code"] == 422 and st["reason"] == "Invalid"
    assert st["message"] == "the server rejected our request due to an error in our request"
    assert "testing value /a failed" in str(ei.value.__cause__)


# Decoding errors: strict decoding into []handlers.jsonPatchOp (fieldValidation Warn/Strict, Warn being
# the default), else jsonpatch.DecodePatch.
DECODE_ERRORS = [
    (
        {"op": "add"},
        "Warn",
        "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
    ),
    (
        "x",
        "Strict",
        "error decoding patch: json: cannot unmarshal string into Go value of type []handlers.jsonPatchOp",
    ),
    (
        ["x"],
        "Warn",
        "error decoding patch: json: cannot unmarshal string into Go value of type handlers.jsonPatchOp",
    ),
    (
        [[1]],
        "Warn",
        "error decoding patch: json: cannot unmarshal array into Go value of type handlers.jsonPatchOp",
    ),
    (
        [{"op": "add", "path": 5}],
        "Warn",
        "error decoding patch: json: cannot unmarshal number into Go struct field "
        "jsonPatchOp.path of type string",
    ),
    (
        [{"op": True, "path": "/a"}],
        "Strict",
        "error decoding patch: json: cannot unmarshal bool into Go struct field "
        "jsonPatchOp.op of type string",
    ),
    ({"op": "add"}, "Ignore", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    (5, "Ignore", "json: cannot unmarshal number into Go value of type jsonpatch.Patch"),
    (["x"], "Ignore", "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
]


@pytest.mark.parametrize(("ops", "validation", "message"), DECODE_ERRORS)
def test_decode_errors_are_400(ops: Any, validation: str, message: str) -> None:
    with pytest.raises(StatusError) as ei:
        apply_json_patch({"a": 1}, ops, field_validation=validation)
    assert (ei.value.code, ei.value.reason, ei.value.message) == (400, "BadRequest", message)


def test_type_errors_without_strict_decoding_are_422() -> None:
    with pytest.raises(StatusError) as ei:
        apply_json_patch({"a": 1}, [{"op": "add", "path": 5}], field_validation="Ignore")
    assert ei.value.code == 422


def test_null_and_empty_patches_change_nothing() -> None:
    assert apply_json_patch({"a": 1}, None) == {"a": 1}
    assert apply_json_patch({"a": 1}, []) == {"a": 1}


def test_operation_limit() -> None:
    ops = [{"op": "test", "path": "/a", "value": 1}] * MAX_JSON_PATCH_OPERATIONS
    assert apply_json_patch({"a": 1}, ops) == {"a": 1}
    with pytest.raises(StatusError) as ei:
        apply_json_patch({"a": 1}, [*ops, ops[0]])
    assert (ei.value.code, ei.value.reason, ei.value.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001",
    )


def test_copy_size_limit() -> None:
    # jsonpatch.AccumulatedCopySizeLimit = JSONPatchMaxCopyBytes (3 MiB) in kube-apiserver
    big = "A" * (1024 * 1024)
    ops = [{"op": "copy", "from": "/a", "path": f"/b{i}"} for i in range(2)]
    assert len(apply_json_patch({"a": big}, ops)) == 3
    with pytest.raises(StatusError) as ei:
        apply_json_patch({"a": big}, [*ops, {"op": "copy", "from": "/a", "path": "/b9"}])
    assert ei.value.code == 422


def test_panicking_operations_are_500() -> None:
    # evanphx v4 dereferences a nil value node: kube-apiserver's panic handler answers 500
    for ops in (
        [{"op": "test", "path": "/missing"}],
        [{"op": "test", "path": ""}],
        [{"op": "replace", "path": ""}],
    ):
        with pytest.raises(StatusError) as ei:
            apply_json_patch({"a": 1}, ops)
        assert ei.value.code == 500


def test_resource_version_test_and_replace() -> None:
    # kubectl apply --server-side's managedFields migration guards its JSON patch with a test on
    # resourceVersion; a replace of resourceVersion makes the update conditional (caller checks it).
    live = {"metadata": {"name": "cm", "resourceVersion": "42", "labels": {"a": "b"}}, "data": {"k": "v"}}
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
        {"op": "replace", "path": "/metadata/managedFields", "value": []},
        {"op": "replace", "path": "/metadata/labels/a", "value": "c"},
    ]
    out = apply_json_patch(live, ops)
    assert out["metadata"] == {
        "name": "cm",
        "resourceVersion": "42",
        "labels": {"a": "c"},
        "managedFields": [],
    }
    with pytest.raises(StatusError) as ei:
        apply_json_patch(live, [{"op": "test", "path": "/metadata/resourceVersion", "value": "41"}])
    assert ei.value.code == 422
    out = apply_json_patch(live, [{"op": "replace", "path": "/metadata/resourceVersion", "value": "41"}])
    assert out["metadata"]["resourceVersion"] == "41"
    assert live["metadata"]["resourceVersion"] == "42"


def test_values_are_not_aliased() -> None:
    ops = [{"op": "add", "path": "/a", "value": {"x": [1]}}, {"op": "add", "path": "/a/x/-", "value": 2}]
    out = apply_json_patch({}, ops)
    assert out == {"a": {"x": [1, 2]}}
    assert ops[0]["value"] == {"x": [1]}
    out = apply_json_patch(
        {"s": {"k": [1]}},
        [{"op": "copy", "from": "/s", "path": "/t"}, {"op": "add", "path": "/t/k/-", "value": 2}],
    )
    assert out == {"s": {"k": [1]}, "t": {"k": [1, 2]}}


def test_strict_errors_name_unknown_members() -> None:
    # test/integration/apiserver/field_validation_test.go: `json patch unknown field "[0].foo"`
    ops = [{"op": "add", "path": "/a", "value": 1, "foo": 2}, {"op": "remove", "path": "/a"}, "x"]
    assert json_patch_strict_errors(ops) == ['json patch unknown field "[0].foo"']
    assert json_patch_strict_errors({"op": "add"}) == []


# ---------------------------------------------------------------------------- property test
_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-2, 2), st.sampled_from(["a", "b", ""])
)
_json = st.recursive(
    _json_scalars,
    lambda c: st.one_of(
        st.lists(c, max_size=4), st.dictionaries(st.sampled_from(["a", "b", "c", "~", "/"]), c, max_size=4)
    ),
    max_leaves=12,
)
_paths = st.lists(st.sampled_from(["a", "b", "c", "0", "1", "-", "-1", "~0", "~1", "", "x"]), max_size=4).map(
    lambda parts: "".join("/" + p for p in parts)
)
_path_like = st.one_of(_paths, st.sampled_from(["a/b", "a", ""]), st.integers(), st.none())
_ops = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
                "path": _path_like,
            },
            optional={"from": _path_like, "value": _json, "extra": _json},
        ),
        _json,
    ),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(
    doc=st.dictionaries(st.sampled_from(["a", "b", "c"]), _json, max_size=4),
    ops=st.one_of(_ops, _json),
    validation=st.sampled_from(["Warn", "Strict", "Ignore"]),
)
def test_random_patches_only_raise_status_errors(doc: dict[str, Any], ops: Any, validation: str) -> None:
    before = copy.deepcopy(doc)
    ops_before = copy.deepcopy(ops)
    try:
        out = apply_json_patch(doc, ops, field_validation=validation)
    except StatusError as e:
        assert e.code in (400, 413, 422, 500)
    else:
        orjson.dumps(out)
    assert doc == before
    assert ops == ops_before
    json_patch_strict_errors(ops)
