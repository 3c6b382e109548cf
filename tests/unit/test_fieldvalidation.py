"""Server-side field validation. Bodies and expected texts are upstream's, from
kubernetes/kubernetes test/integration/apiserver/field_validation_test.go (TestFieldValidation),
unless a comment says otherwise."""

from __future__ import annotations

import json

import orjson
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver import fieldvalidation as fv
from vcluster.apiserver.errors import StatusError

INVALID_BODY_JSON = b"""
	{
		"apiVersion": "apps/v1",
		"kind": "Deployment",
		"metadata": {
			"name": "dupename",
			"name": "test-deployment",
			"labels": {"app": "nginx"},
			"unknownMeta": "metaVal"
		},
		"spec": {
			"unknown1": "val1",
			"unknownDupe": "valDupe",
			"unknownDupe": "valDupe2",
			"paused": true,
			"paused": false,
			"selector": {
				"matchLabels": {
					"app": "nginx"
				}
			},
			"template": {
				"metadata": {
					"labels": {
						"app": "nginx"
					}
				},
				"spec": {
					"containers": [{
						"name":  "nginx",
						"image": "nginx:latest",
						"unknownNested": "val1",
						"imagePullPolicy": "Always",
						"imagePullPolicy": "Never"
					}]
				}
			}
		}
	}
"""

INVALID_BODY_YAML = b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: dupename
  name: test-deployment
  unknownMeta: metaVal
  labels:
    app: nginx
spec:
  unknown1: val1
  unknownDupe: valDupe
  unknownDupe: valDupe2
  paused: true
  paused: false
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:latest
        unknownNested: val1
        imagePullPolicy: Always
        imagePullPolicy: Never"""

POST_STRICT_JSON = (
    'strict decoding error: duplicate field "metadata.name", unknown field "metadata.unknownMeta", '
    'unknown field "spec.unknown1", unknown field "spec.unknownDupe", duplicate field "spec.paused", '
    'unknown field "spec.template.spec.containers[0].unknownNested", '
    'duplicate field "spec.template.spec.containers[0].imagePullPolicy"'
)
POST_STRICT_YAML = """strict decoding error: yaml: unmarshal errors:
  line 5: key "name" already set in map
  line 12: key "unknownDupe" already set in map
  line 14: key "paused" already set in map
  line 28: key "imagePullPolicy" already set in map, unknown field "metadata.unknownMeta", \
unknown field "spec.template.spec.containers[0].unknownNested", unknown field "spec.unknown1", \
unknown field "spec.unknownDupe\""""


def deployment_problems(body: bytes, media_type: str) -> list[str]:
    obj = json.loads(body) if media_type == "application/json" else yaml.safe_load(body)
    return fv.strict_problems(body, media_type, "apps", "v1", "Deployment", obj)


# ---------------------------------------------------------------------------- POST / PUT
def test_post_strict_json() -> None:
    problems = deployment_problems(INVALID_BODY_JSON, "application/json")
    with pytest.raises(StatusError) as e:
        fv.apply_field_validation("Strict", "Deployment", "v1", problems)
    err = e.value
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == 'Deployment in version "v1" cannot be handled as a Deployment: ' + POST_STRICT_JSON
    assert err.status()["details"] if err.details else "details" not in err.status()


def test_post_warn_json() -> None:
    problems = deployment_problems(INVALID_BODY_JSON, "application/json")
    expected = [
        'duplicate field "metadata.name"',
        'unknown field "metadata.unknownMeta"',
        'unknown field "spec.unknown1"',
        'unknown field "spec.unknownDupe"',
        'duplicate field "spec.paused"',
        # note: fields that are both unknown and duplicated are only detected as unknown
        'unknown field "spec.template.spec.containers[0].unknownNested"',
        'duplicate field "spec.template.spec.containers[0].imagePullPolicy"',
    ]
    assert fv.apply_field_validation("Warn", "Deployment", "v1", problems) == expected
    # absent fieldValidation means Warn (post-no-validation)
    assert fv.apply_field_validation(None, "Deployment", "v1", problems) == expected
    assert fv.apply_field_validation("", "Deployment", "v1", problems) == expected
    assert fv.apply_field_validation("Ignore", "Deployment", "v1", problems) == []


def test_post_yaml() -> None:
    problems = deployment_problems(INVALID_BODY_YAML, "application/yaml")
    with pytest.raises(StatusError) as e:
        fv.apply_field_validation("Strict", "Deployment", "v1", problems)
    assert e.value.message.endswith(POST_STRICT_YAML)
    assert fv.apply_field_validation("Warn", "Deployment", "v1", problems) == [
        'line 5: key "name" already set in map',
        'line 12: key "unknownDupe" already set in map',
        'line 14: key "paused" already set in map',
        'line 28: key "imagePullPolicy" already set in map',
        'unknown field "metadata.unknownMeta"',
        'unknown field "spec.template.spec.containers[0].unknownNested"',
        'unknown field "spec.unknown1"',
        'unknown field "spec.unknownDupe"',
    ]


def test_valid_body_has_no_problems() -> None:
    body = b"""{"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "x", "labels": {"app": "nginx"}, "annotations": {"a1": "foo", "a2": "bar"}},
      "spec": {"selector": {"matchLabels": {"app": "nginx"}},
        "template": {"metadata": {"labels": {"app": "nginx"}},
          "spec": {"containers": [{"name": "nginx", "image": "nginx:latest", "imagePullPolicy": "Always"}]}},
        "replicas": 2, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}}}}"""
    assert deployment_problems(body, "application/json") == []
    assert fv.apply_field_validation("Strict", "Deployment", "v1", []) == []


@pytest.mark.parametrize(
    "obj,paths",
    [
        ({"spec": {"foo": 1}}, ["spec.foo"]),
        ({"metadata": {"foo": 1, "labels": {"any": "x"}}}, ["metadata.foo"]),
        (
            {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b", "bogus": 1}]}}}},
            ["spec.template.spec.containers[1].bogus"],
        ),
        ({"Spec": {}}, ["Spec"]),  # strict decoding is case-sensitive
        ({"spec": None, "status": {"x": 1}}, ["status.x"]),  # null is a zero value
        ({"spec": "not-an-object"}, []),  # a type error, not an unknown field
        ({"spec": {"strategy": {"rollingUpdate": {"maxSurge": {"a": 1}}}}}, []),  # IntOrString: opaque
    ],
)
def test_unknown_fields_paths(obj: dict, paths: list[str]) -> None:
    assert fv.unknown_fields(obj, "apps", "v1", "Deployment") == paths


def test_drop_unknown_fields() -> None:
    """Decoding into the Go struct drops unknown fields whatever the mode; opaque values stay."""
    obj = json.loads(INVALID_BODY_JSON)
    obj["spec"]["strategy"] = {"rollingUpdate": {"maxSurge": "25%", "extra": 1}}
    assert fv.drop_unknown_fields(obj, "apps", "v1", "Deployment") == 5
    assert fv.unknown_fields(obj, "apps", "v1", "Deployment") == []
    assert "unknownMeta" not in obj["metadata"] and obj["metadata"]["labels"] == {"app": "nginx"}
    assert obj["spec"]["template"]["spec"]["containers"][0] == {
        "name": "nginx",
        "image": "nginx:latest",
        "imagePullPolicy": "Never",
    }
    assert obj["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": "25%"}}
    cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "data": {"free": {"form": 1}}, "x": 1}
    assert fv.drop_unknown_fields(cr, "apps", "v1", "ControllerRevision") == 1
    assert cr["data"] == {"free": {"form": 1}}
    assert fv.drop_unknown_fields({"x": 1}, "example.com", "v1", "Nope") == 0


def test_opaque_subtrees_are_not_checked() -> None:
    # RawExtension (ControllerRevision.data) and FieldsV1 (managedFields) have their own UnmarshalJSON.
    body = b"""{"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 1,
      "metadata": {"name": "r", "managedFields": [{"manager": "m", "fieldsV1": {"f:x": {}, "f:x": {}}}]},
      "data": {"anything": {"goes": true}, "anything": 1}}"""
    assert fv.strict_problems(body, "application/json", "apps", "v1", "ControllerRevision") == []


def test_map_duplicates_and_kind_without_schema() -> None:
    body = (
        b'{"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1", "a": "2"}},'
        b' "data": {"k": "v", "k": "w"}}'
    )
    assert fv.strict_problems(body, "application/json", "", "v1", "ConfigMap") == [
        'duplicate field "metadata.labels.a"',
        'duplicate field "data.k"',
    ]
    assert fv.strict_problems(body, "application/json", "example.com", "v1", "Nope") == []
    assert fv.unknown_fields({"x": 1}, "example.com", "v1", "Nope") == []


def test_errors_are_deduplicated_and_capped() -> None:
    # sigs.k8s.io/json saveStrictError: identical errors once, at most 100.
    items = ",".join(f'{{"name": "c{i}", "bogus{i}": 1}}' for i in range(150))
    body = f'{{"spec": {{"containers": [{items}]}}, "foo": 1, "foo": 2}}'.encode()
    problems = fv.strict_problems(body, "application/json", "", "v1", "Pod")
    assert len(problems) == fv.MAX_ERRORS
    assert problems[0] == 'unknown field "spec.containers[0].bogus0"'
    assert fv.strict_problems(b'{"foo": 1, "foo": 2}', "application/json", "", "v1", "Pod") == [
        'unknown field "foo"'
    ]


def test_paths_are_go_quoted() -> None:
    assert fv.unknown_fields({'we"ird\n': 1}, "", "v1", "Pod") == ['we"ird\n']
    assert fv.unknown_field_problems({'we"ird\n': 1}, "", "v1", "Pod") == ['unknown field "we\\"ird\\n"']


@pytest.mark.parametrize(
    "s,quoted",
    [
        ("spec.foo", '"spec.foo"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("tab\there\x00\x7f", '"tab\\there\\x00\\x7f"'),
        ("ünïcode ✓", '"ünïcode ✓"'),
        ("\u00a0\u200b", '"\\u00a0\\u200b"'),
        ("\U0001f600\U000e0001", '"\U0001f600\\U000e0001"'),
    ],
)
def test_go_quote(s: str, quoted: str) -> None:  # Go strconv.Quote
    assert fv.go_quote(s) == quoted


# ---------------------------------------------------------------------------- patches
MERGE_PATCH_BODY = b"""
{
	"spec": {
		"unknown1": "val1",
		"unknownDupe": "valDupe",
		"unknownDupe": "valDupe2",
		"paused": true,
		"paused": false,
		"template": {
			"spec": {
				"containers": [{
					"name": "nginx",
					"image": "nginx:latest",
					"unknownNested": "val1",
					"imagePullPolicy": "Always",
					"imagePullPolicy": "Never"
				}]
			}
		}
	}
}
"""


def test_merge_patch_problems() -> None:
    """Duplicates of the patch (decoded into map[string]interface{}), then the unknown fields of
    the patched object, which upstream re-encodes with sorted keys."""
    patched = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {
            "unknownDupe": "valDupe2",
            "unknown1": "val1",
            "paused": False,
            "template": {"spec": {"containers": [{"name": "nginx", "unknownNested": "val1"}]}},
        },
    }
    problems = fv.duplicate_field_problems(MERGE_PATCH_BODY) + fv.unknown_field_problems(
        patched, "apps", "v1", "Deployment", sort_keys=True
    )
    assert ", ".join(problems) == (
        'duplicate field "spec.unknownDupe", duplicate field "spec.paused", '
        'duplicate field "spec.template.spec.containers[0].imagePullPolicy", '
        'unknown field "spec.template.spec.containers[0].unknownNested", '
        'unknown field "spec.unknown1", unknown field "spec.unknownDupe"'
    )
    assert fv.patch_field_validation("Warn", problems, "{}") == problems
    with pytest.raises(StatusError) as e:
        fv.patch_field_validation("Strict", problems[:1], '{"spec":{"paused":false}}')
    err = e.value
    assert (err.code, err.reason) == (422, "Invalid")
    detail = (
        'Invalid value: "{\\"spec\\":{\\"paused\\":false}}": strict decoding error: '
        'duplicate field "spec.unknownDupe"'
    )
    assert err.message == ' "" is invalid: patch: ' + detail
    assert err.status()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": detail, "field": "patch"}
    ]


def test_json_patch_problems() -> None:
    body = b"""
			[
				{"op": "add", "path": "/spec/unknown1", "value": "val1", "foo":"bar"},
				{"op": "add", "path": "/spec/unknown2", "path": "/spec/unknown3", "value": "val1"},
				{"op": "add", "path": "/spec/unknownDupe", "value": "valDupe"},
				{"op": "add", "path": "/spec/paused", "value": true}
			]
			"""
    assert fv.json_patch_problems(body) == [
        'json patch unknown field "[0].foo"',
        'json patch duplicate field "[1].path"',
    ]
    assert fv.json_patch_problems(b'[{"op": "add", "path": "/a", "value": {"x": 1, "x": 2}}]') == [
        'json patch duplicate field "[0].value.x"'
    ]
    assert fv.json_patch_problems(b'{"op": "add"}') == []
    assert fv.json_patch_problems(b"not json") == []


def test_go_sprint_for_smp_values() -> None:
    # fmt.Sprintf("%+v", patchMap): what the SMP strict error shows as the invalid value
    assert fv.go_sprint({"spec": {"paused": False, "replicas": 2, "a": [1.5, None, "x"]}}) == (
        "map[spec:map[a:[1.5 <nil> x] paused:false replicas:2]]"
    )
    assert [fv.go_sprint(x) for x in (1e21, 1e20, 0.0001, 0.00001, -2.5)] == [
        "1e+21",
        "100000000000000000000",
        "0.0001",
        "1e-05",
        "-2.5",
    ]


def test_apply_yaml_duplicates() -> None:
    # testFieldValidationApplyCreate: the apply body is JSON read as YAML (one line per key here)
    body = b'{\n"apiVersion": "apps/v1",\n"spec": {\n"paused": false,\n"paused": true\n}\n}'
    assert fv.yaml_duplicate_errors(body) == ['line 5: key "paused" already set in map']


# ---------------------------------------------------------------------------- YAML details
@pytest.mark.parametrize(
    "doc,errors",
    [
        ("a: 1\nb: 2\n", []),
        ("a: 1\na: 2\n", ['line 2: key "a" already set in map']),
        # the line is the value's: a block mapping starts at its first key
        ("a:\n  x: 1\na:\n  y: 2\n", ['line 4: key "a" already set in map']),
        # a value's own duplicates come before the duplicate of its key (go-yaml decodes it first)
        (
            "a: 1\na:\n  y: 1\n  y: 2\n",
            ['line 4: key "y" already set in map', 'line 3: key "a" already set in map'],
        ),
        ('1: a\n"1": b\n1.0: c\n', []),  # int, string and float keys differ in map[interface{}]interface{}
        ("1: a\n0x1: b\n", ["line 2: key 1 already set in map"]),
        ("true: a\nyes: b\n", ["line 2: key true already set in map"]),  # YAML 1.1 booleans
        ("- {a: 1, a: 2}\n- [x]\n", ['line 1: key "a" already set in map']),
        ("base: &b {k: 1}\nother:\n  <<: *b\n  k: 2\n", []),  # merge keys are not duplicates
        ("a: [unclosed\n", []),
        ("", []),
    ],
)
def test_yaml_duplicate_errors(doc: str, errors: list[str]) -> None:
    assert fv.yaml_duplicate_errors(doc.encode()) == errors


# ---------------------------------------------------------------------------- custom resources
CRD_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "cronSpec": {"type": "string"},
                "knownField1": {"type": "string"},
                "embeddedObj": {
                    "x-kubernetes-embedded-resource": True,
                    "type": "object",
                    "properties": {
                        "apiversion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                    },
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                    "x-kubernetes-list-type": "map",
                    "items": {
                        "properties": {
                            "containerPort": {"format": "int32", "type": "integer"},
                            "hostIP": {"type": "string"},
                            "hostPort": {"format": "int32", "type": "integer"},
                            "name": {"type": "string"},
                            "protocol": {"type": "string"},
                        },
                        "required": ["containerPort", "protocol"],
                        "type": "object",
                    },
                },
            },
        }
    },
}
CRD_INVALID_BODY = b"""
{
	"apiVersion": "schema.example.com/v1",
	"kind": "Noxu",
	"metadata": {
		"name": "dupename",
		"name": "crd-post-strict-validation",
		"unknownMeta": "metaVal",
		"resourceVersion": ""
	},
	"spec": {
		"unknown1": "val1",
		"unknownDupe": "valDupe",
		"unknownDupe": "valDupe2",
		"knownField1": "val1",
		"knownField1": "val2",
			"ports": [{
				"name": "portName",
				"containerPort": 8080,
				"protocol": "TCP",
				"hostPort": 8081,
				"hostPort": 8082,
				"unknownNested": "val"
			}],
		"embeddedObj": {
			"apiVersion": "v1",
			"kind": "ConfigMap",
			"metadata": {
				"name": "my-cm",
				"namespace": "my-ns",
				"unknownEmbeddedMeta": "foo"
			}
		}
	}
}"""


def test_custom_resource_problems() -> None:
    """testFieldValidationPostCRD: all duplicates (untyped decoding), then pruned fields."""
    obj = json.loads(CRD_INVALID_BODY)
    problems = fv.duplicate_field_problems(CRD_INVALID_BODY) + [
        f"unknown field {fv.go_quote(p)}" for p in fv.structural_unknown_fields(obj, CRD_SCHEMA)
    ]
    assert ", ".join(problems) == (
        'duplicate field "metadata.name", duplicate field "spec.unknownDupe", '
        'duplicate field "spec.knownField1", '
        'duplicate field "spec.ports[0].hostPort", unknown field "metadata.unknownMeta", '
        'unknown field "spec.ports[0].unknownNested", unknown field "spec.unknown1", '
        'unknown field "spec.unknownDupe", unknown field "spec.embeddedObj.metadata.unknownEmbeddedMeta"'
    )
    # testFieldValidationPostCRDSchemaless: spec preserves unknown fields
    schemaless = {"type": "object", "properties": {"spec": {**CRD_SCHEMA["properties"]["spec"]}}}
    schemaless["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] = True
    assert fv.structural_unknown_fields(obj, schemaless) == [
        "metadata.unknownMeta",
        "spec.ports[0].unknownNested",
        "spec.embeddedObj.metadata.unknownEmbeddedMeta",
    ]
    assert fv.structural_unknown_fields({"metadata": {}, "spec": {"a": 1}}, None) == []


# ---------------------------------------------------------------------------- modes and headers
@pytest.mark.parametrize("options", ["CreateOptions", "UpdateOptions"])
def test_invalid_mode(options: str) -> None:
    # apimachinery ValidateFieldValidation via Validate{Create,Update}Options -> 422 Invalid
    with pytest.raises(StatusError) as e:
        fv.apply_field_validation("strict", "Deployment", "v1", [], options_kind=options)
    err = e.value
    detail = 'Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn"'
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == f'{options}.meta.k8s.io "" is invalid: fieldValidation: {detail}'
    assert err.status()["details"] == {
        "group": "meta.k8s.io",
        "kind": options,
        "causes": [{"reason": "FieldValueNotSupported", "message": detail, "field": "fieldValidation"}],
    }
    with pytest.raises(StatusError):
        fv.patch_field_validation("Bogus", [], "")
    assert fv.validate_mode(None) == "Warn"


def test_warning_header() -> None:
    assert fv.warning_header('unknown field "spec.foo"') == '299 - "unknown field \\"spec.foo\\""'
    assert fv.warning_header("a\\b") == '299 - "a\\\\b"'


# ---------------------------------------------------------------------------- robustness
def test_deeply_nested_input() -> None:
    deep = b'{"spec": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}"
    assert fv.strict_problems(deep, "application/json", "", "v1", "Pod") == []  # not decodable here either
    # orjson (the server's decoder) accepts up to 1024 levels; the walk itself is iterative
    deep = b'{"spec": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"}"
    obj = orjson.loads(deep)
    assert fv.strict_problems(deep, "application/json", "", "v1", "Pod", obj) == ['unknown field "spec.a"']
    assert fv.duplicate_field_problems(b'{"a": ' * 1000 + b'{"x": 1, "x": 2}' + b"}" * 1000) in (
        [],  # beyond the stdlib decoder's recursion limit: not scanned
        ['duplicate field "' + "a." * 1000 + 'x"'],
    )
    assert fv.duplicate_field_problems(b"[" * 5000 + b"]" * 5000) == []
    assert fv.yaml_duplicate_errors(b"[" * 5000 + b"]" * 5000) == []


def test_duplicate_scan_is_fast_enough() -> None:
    import time

    big = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x"},
            "data": {f"k{i}": "x" * 1000 for i in range(1000)},
        }
    ).encode()
    t = time.perf_counter()
    assert fv.strict_problems(big, "application/json", "", "v1", "ConfigMap") == []
    assert time.perf_counter() - t < 0.25


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["spec", "metadata", "name", "containers", "x", "labels", "template"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
    media=st.sampled_from(["application/json", "application/yaml", ""]),
)
def test_random_bodies_only_give_problem_lists(body: bytes, media: str) -> None:
    for kind in ("Pod", "Deployment", "ConfigMap"):
        group = "apps" if kind == "Deployment" else ""
        out = fv.strict_problems(body, media, group, "v1", kind)
        assert isinstance(out, list) and all(isinstance(x, str) for x in out)
    assert isinstance(fv.duplicate_field_problems(body), list)
    assert isinstance(fv.json_patch_problems(body), list)
    assert isinstance(fv.yaml_duplicate_errors(body), list)


@settings(max_examples=200, deadline=None)
@given(obj=json_values, schema=st.sampled_from([None, CRD_SCHEMA, {"type": "object"}]))
def test_random_objects(obj: object, schema: dict | None) -> None:
    if isinstance(obj, dict):
        assert isinstance(fv.unknown_fields(obj, "", "v1", "Pod", sort_keys=True), list)
        pruned = json.loads(json.dumps(obj))
        fv.drop_unknown_fields(pruned, "", "v1", "Pod")
        assert fv.unknown_fields(pruned, "", "v1", "Pod") == []  # property: nothing unknown is left
        assert isinstance(fv.structural_unknown_fields(obj, schema), list)
    for mode in ("Strict", "Warn", "Ignore", None, "x"):
        try:
            fv.apply_field_validation(mode, "Pod", "v1", ['unknown field "x"'])
        except StatusError as e:
            assert e.code in (400, 422)


_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"a": "b"}, "annotations": {"x": "y"}},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "env": [{"name": "A", "value": "1"}],
                "resources": {"limits": {"cpu": "1"}},
                "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            }
        ],
        "volumes": [{"name": "v", "projected": {"sources": [{"configMap": {"name": "c"}}]}}],
        "nodeSelector": {"k": "v"},
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIPs": [{"ip": "10.0.0.1"}]},
}


def _containers_of(value: object, out: list) -> list:
    if isinstance(value, dict):
        out.append(value)
        for v in value.values():
            _containers_of(v, out)
    elif isinstance(value, list):
        for v in value:
            _containers_of(v, out)
    return out


@settings(max_examples=300, deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, 1000), st.sampled_from(["bogus", "name", "Labels", "ip"])), max_size=3
    ),
    duplicate=st.booleans(),
)
def test_fast_path_agrees_with_the_full_walk(picks: list[tuple[int, str]], duplicate: bool) -> None:
    """The fast clean-check and the iterative walk give the same problems, for clean and dirty bodies."""
    obj = json.loads(json.dumps(_POD))
    dicts = _containers_of(obj, [])
    for i, key in picks:
        dicts[i % len(dicts)][key] = {"x": 1}
    body = orjson.dumps(obj)
    if duplicate:  # repeat the first key of the body's top-level object
        body = b'{"kind":"Pod",' + body[1:]
    root = fv._loads_with_pairs(body)
    desc = fv._kind_desc("", "v1", "Pod")
    full = fv._walk(root, desc, fast=False)
    assert fv._walk(root, desc) == full
    assert fv._clean(root, desc) == (full == [])
    assert fv.strict_problems(body, "application/json", "", "v1", "Pod") == full
