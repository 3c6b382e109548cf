"""CustomResourceDefinitions: CRD validation, structural schemas, custom resource validation,
pruning, defaulting, printer columns and resource types, against upstream (Kubernetes 1.32)
messages. Each table cites the upstream test or documentation page its cases come from."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcluster.apiserver import crd as C
from vcluster.apiserver.errors import Cause, StatusError, invalid

NOW = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------
# Fixtures: the CronTab CRD of the Kubernetes docs
# (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/)
# ---------------------------------------------------------------------------------------------

CRONTAB_YAML = r"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                cronSpec:
                  type: string
                  pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
                  default: "5 0 * * *"
                image:
                  type: string
                replicas:
                  type: integer
                  minimum: 1
                  maximum: 10
                  default: 1
            status:
              type: object
              properties:
                replicas:
                  type: integer
                labelSelector:
                  type: string
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.replicas
          labelSelectorPath: .status.labelSelector
      additionalPrinterColumns:
      - name: Spec
        type: string
        description: The cron spec defining the interval a CronJob is run
        jsonPath: .spec.cronSpec
      - name: Replicas
        type: integer
        description: The number of jobs launched by the CronJob
        jsonPath: .spec.replicas
      - name: Age
        type: date
        jsonPath: .metadata.creationTimestamp
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames:
    - ct
"""


def crontab() -> dict[str, Any]:
    crd = yaml.safe_load(CRONTAB_YAML)
    C.prepare_crd_for_create(crd)
    return crd


def make_crd(schema: Any, **spec: Any) -> dict[str, Any]:
    """A one-version CRD foos.tests.example.com with the given openAPIV3Schema (YAML or dict)."""
    if isinstance(schema, str):
        schema = yaml.safe_load(schema)
    version: dict[str, Any] = {"name": "v1", "served": True, "storage": True}
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "foos.tests.example.com"},
        "spec": {
            "group": "tests.example.com",
            "scope": "Namespaced",
            "names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "FooList"},
            "versions": [version],
        },
    }
    crd["spec"].update(spec)
    C.prepare_crd_for_create(crd)
    return crd


def texts(causes: list[Cause]) -> list[str]:
    """``field: message`` as field.Error.Error() prints it."""
    return [f"{c.field}: {c.message}" if c.field else c.message for c in causes]


def schema_of(text: str) -> C.CRDSchema:
    return C.CRDSchema(yaml.safe_load(text))


# =============================================================================================
# Go formatting
# =============================================================================================


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # fmt.Sprint(float64): strconv 'g' with the shortest digits, %e when exp < -4 || exp >= 6
        (1.0, "1"),
        (1.5, "1.5"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
    ],
)
def test_go_float(value: float, expected: str) -> None:
    assert C._go_float(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, "1"), (1e21, "1e+21"), (1e-7, "1e-7"), (0.5, "0.5"), (123456789.0, "123456789")],
)
def test_go_json_float(value: float, expected: str) -> None:
    assert C._go_json_float(value) == expected


def test_go_value_formats() -> None:
    # field.Error.ErrorBody: %q strings, %v numbers, %#v maps and slices, "null" for nil
    assert C._body_value('a"b\n') == '"a\\"b\\n"'
    assert C._body_value(None) == '"null"'
    assert C._body_value({"b": 1, "a": [1, "x", None]}) == (
        'map[string]interface {}{"a":[]interface {}{1, "x", interface {}(nil)}, "b":1}'
    )
    assert C._go_v(["a", 1, 2.5]) == "[a 1 2.5]"
    assert C._go_json({"b": "<&>", "a": 1.0}) == '{"a":1,"b":"\\u003c\\u0026\\u003e"}'


# =============================================================================================
# CRD validation (pkg/apis/apiextensions/validation)
# =============================================================================================


def test_crontab_from_the_docs_is_valid() -> None:
    crd = crontab()
    assert C.validate_crd(crd) == []
    assert crd["spec"]["names"]["listKind"] == "CronTabList"  # SetDefaults_CustomResourceDefinitionSpec
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"] == {"storedVersions": ["v1"]}
    assert crd["metadata"]["generation"] == 1


def test_crd_name_must_be_plural_dot_group() -> None:
    crd = crontab()
    crd["metadata"]["name"] = "x"
    causes = C.validate_crd(crd)
    assert texts(causes) == ['metadata.name: Invalid value: "x": must be spec.names.plural+"."+spec.group']
    err = invalid("CustomResourceDefinition", "apiextensions.k8s.io", "x", causes)
    assert err.message == (
        'CustomResourceDefinition.apiextensions.k8s.io "x" is invalid: metadata.name: Invalid value: "x": '
        'must be spec.names.plural+"."+spec.group'
    )


def test_v1_requires_schemas() -> None:
    # kptdev/kpt#1213, purestorage/helm-charts#161: the message users see with apiextensions/v1
    assert texts(C.validate_crd(make_crd(None))) == [
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    ]


SPEC_CASES = [
    # (description, spec changes, expected causes) — validation_test.go TestValidateCustomResourceDefinition
    (
        "group without a dot",
        {"group": "nodot"},
        [
            'metadata.name: Invalid value: "foos.tests.example.com": must be '
            'spec.names.plural+"."+spec.group',
            'spec.group: Invalid value: "nodot": should be a domain with at least one dot',
        ],
    ),
    (
        "bad scope",
        {"scope": "Global"},
        ['spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'],
    ),
    ("missing scope", {"scope": ""}, ["spec.scope: Required value"]),
    (
        "kind equals listKind",
        {"names": {"plural": "foos", "singular": "foo", "kind": "Foo", "listKind": "Foo"}},
        ['spec.names.listKind: Invalid value: "Foo": kind and listKind may not be the same'],
    ),
    (
        "upper-case plural",
        {"names": {"plural": "Foos", "singular": "foo", "kind": "Foo", "listKind": "FooList"}},
        [
            'metadata.name: Invalid value: "foos.tests.example.com": must be '
            'spec.names.plural+"."+spec.group',
            'spec.names.plural: Invalid value: "Foos": a DNS-1035 label must consist of lower case '
            "alphanumeric "
            "characters or '-', start with an alphabetic character, and end with an alphanumeric character "
            "(e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ],
    ),
    (
        "bad short name",
        {
            "names": {
                "plural": "foos",
                "singular": "foo",
                "kind": "Foo",
                "listKind": "FooList",
                "shortNames": ["f_o"],
            }
        },
        [
            'spec.names.shortNames[0]: Invalid value: "f_o": a DNS-1035 label must consist of lower case '
            "alphanumeric characters or '-', start with an alphabetic character, and end with an "
            "alphanumeric "
            "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')",
        ],
    ),
    (
        "preserveUnknownFields true",
        {"preserveUnknownFields": True},
        [
            "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set "
            "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"
        ],
    ),
]


@pytest.mark.parametrize(("desc", "change", "expected"), SPEC_CASES, ids=[c[0] for c in SPEC_CASES])
def test_crd_spec_rules(desc: str, change: dict[str, Any], expected: list[str]) -> None:
    crd = make_crd({"type": "object"})
    crd["spec"].update(change)
    assert texts(C.validate_crd(crd)) == expected


def test_names_are_required() -> None:
    crd = make_crd({"type": "object"})
    crd["spec"]["names"] = {}
    got = texts(C.validate_crd(crd))
    assert got[1:] == [
        "spec.names.plural: Required value",
        "spec.names.singular: Required value",
        "spec.names.kind: Required value",
        "spec.names.listKind: Required value",
    ]


def test_exactly_one_storage_version_and_unique_names() -> None:
    crd = make_crd({"type": "object"})
    crd["spec"]["versions"].append(
        {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}}
    )
    got = texts(C.validate_crd(crd))
    assert len(got) == 3
    assert got[0].startswith("spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{")
    assert got[0].endswith("}: must contain unique version names")
    assert got[1].endswith("}: must have exactly one version marked as storage version")
    # the second "v1" no longer finds itself in storedVersions (upstream deletes matches as it goes)
    assert got[2] == 'status.storedVersions: Invalid value: []string{"v1"}: must have the storage version v1'


def test_version_name_must_be_dns1035() -> None:
    crd = make_crd({"type": "object"})
    crd["spec"]["versions"][0]["name"] = "V1"
    got = texts(C.validate_crd(crd))
    assert got[0].startswith('spec.versions[0].name: Invalid value: "V1": a DNS-1035 label')
    # the internal spec.version is versions[0].name, so upstream reports it twice
    assert got[1].startswith('spec.version: Invalid value: "V1": a DNS-1035 label')


# apiextensions-apiserver test/integration/validation_test.go TestNonStructuralSchemaCondition:
# the create errors of a CRD whose versions share one schema are reported under
# spec.validation.openAPIV3Schema (the v1 → internal conversion moves identical schemas there).
STRUCTURAL_CASES = [
    (
        "missing types with extensions",
        """
properties:
 foo:
   properties:
     a: {}
 bar:
   items:
     additionalProperties:
       properties:
         a: {}
       items: {}
 abc:
   additionalProperties:
     properties:
       a:
         items:
           additionalProperties:
             items:
 json:
   x-kubernetes-preserve-unknown-fields: true
   properties:
     a: {}
 int-or-string:
   x-kubernetes-int-or-string: true
   properties:
     a: {}
""",
        [
            "properties[abc].additionalProperties.properties[a].items.additionalProperties.type: Required "
            "value: "
            "must not be empty for specified object fields",
            "properties[abc].additionalProperties.properties[a].items.type: Required value: must not be "
            "empty for "
            "specified array items",
            "properties[abc].additionalProperties.properties[a].type: Required value: must not be empty for "
            "specified object fields",
            "properties[abc].additionalProperties.type: Required value: must not be empty for specified "
            "object "
            "fields",
            "properties[abc].type: Required value: must not be empty for specified object fields",
            "properties[bar].items.additionalProperties.items.type: Required value: must not be empty for "
            "specified array items",
            "properties[bar].items.additionalProperties.properties[a].type: Required value: must not be "
            "empty for "
            "specified object fields",
            "properties[bar].items.additionalProperties.type: Required value: must not be empty for "
            "specified "
            "object fields",
            "properties[bar].items.type: Required value: must not be empty for specified array items",
            "properties[bar].type: Required value: must not be empty for specified object fields",
            "properties[foo].properties[a].type: Required value: must not be empty for specified object "
            "fields",
            "properties[foo].type: Required value: must not be empty for specified object fields",
            "properties[int-or-string].properties[a].type: Required value: must not be empty for specified "
            "object "
            "fields",
            "properties[json].properties[a].type: Required value: must not be empty for specified object "
            "fields",
            "type: Required value: must not be empty at the root",
        ],
    ),
    (
        "int-or-string variants",
        """
type: object
properties:
 a:
   x-kubernetes-int-or-string: true
 b:
   x-kubernetes-int-or-string: true
   anyOf:
   - type: integer
   - type: string
   allOf:
   - pattern: abc
 c:
   x-kubernetes-int-or-string: true
   allOf:
   - anyOf:
     - type: integer
     - type: string
   - pattern: abc
   - pattern: abc
 d:
   x-kubernetes-int-or-string: true
   anyOf:
   - type: integer
   - type: string
     pattern: abc
 e:
   x-kubernetes-int-or-string: true
   allOf:
   - anyOf:
     - type: integer
     - type: string
       pattern: abc
   - pattern: abc
 f:
   x-kubernetes-int-or-string: true
   anyOf:
   - type: integer
   - type: string
   - pattern: abc
 g:
   x-kubernetes-int-or-string: true
   anyOf:
   - type: string
   - type: integer
""",
        [
            "properties[d].anyOf[0].type: Forbidden: must be empty to be structural",
            "properties[d].anyOf[1].type: Forbidden: must be empty to be structural",
            "properties[e].allOf[0].anyOf[0].type: Forbidden: must be empty to be structural",
            "properties[e].allOf[0].anyOf[1].type: Forbidden: must be empty to be structural",
            "properties[f].anyOf[0].type: Forbidden: must be empty to be structural",
            "properties[f].anyOf[1].type: Forbidden: must be empty to be structural",
            "properties[g].anyOf[0].type: Forbidden: must be empty to be structural",
            "properties[g].anyOf[1].type: Forbidden: must be empty to be structural",
        ],
    ),
    (
        "int-or-string and preserve-unknown-fields",
        "x-kubernetes-preserve-unknown-fields: true\nx-kubernetes-int-or-string: true\n",
        [
            "x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if "
            "x-kubernetes-int-or-string is true",
        ],
    ),
    (
        "embedded-resource without preserve-unknown-fields",
        "type: object\nx-kubernetes-embedded-resource: true\n",
        [
            "properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"
        ],
    ),
    (
        "embedded-resource with wrong type",
        "type: array\nitems: {type: string}\nx-kubernetes-embedded-resource: true\n"
        "x-kubernetes-preserve-unknown-fields: true\n",
        [
            'type: Invalid value: "array": must be object at the root',
            'type: Invalid value: "array": must be object if x-kubernetes-embedded-resource is true',
        ],
    ),
    (
        "invalid regex pattern",
        'type: object\nproperties:\n foo:\n   type: string\n   pattern: "+"\n',
        [
            'properties[foo].pattern: Invalid value: "+": must be a valid regular expression, but isn\'t: '
            "error parsing regexp: missing argument to repetition operator: `+`"
        ],
    ),
    (
        "forbidden additionalProperties at the root",
        "type: object\nadditionalProperties: false\n",
        ["additionalProperties: Forbidden: must not be used at the root"],
    ),
    (
        "metadata with non-properties",
        "type: object\nproperties:\n metadata:\n   minimum: 42.0\n",
        [
            'properties[metadata].type: Invalid value: "": must be object',
            "properties[metadata].type: Required value: must not be empty for specified object fields",
            "properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
            "but "
            "metadata is implicitly specified",
        ],
    ),
    (
        "metadata under junctors",
        """
type: object
properties:
 metadata:
   type: object
   properties:
     name:
       type: string
       pattern: "^[a-z]+$"
allOf:
- properties:
   metadata: {}
anyOf:
- properties:
   metadata: {}
oneOf:
- properties:
   metadata: {}
not:
 properties:
   metadata: {}
""",
        [
            "allOf[0].properties[metadata]: Forbidden: must not be specified in a nested context",
            "anyOf[0].properties[metadata]: Forbidden: must not be specified in a nested context",
            "not.properties[metadata]: Forbidden: must not be specified in a nested context",
            "oneOf[0].properties[metadata]: Forbidden: must not be specified in a nested context",
        ],
    ),
    (
        "structural incomplete",
        """
type: object
properties:
 b:
   type: object
   properties:
     b:
       type: array
       items: {type: string}
 c:
   type: array
   items:
     type: object
 d:
   type: array
   items: {type: string}
not:
 properties:
   a: {}
   b:
     not:
       properties:
         a: {}
         b:
           items: {}
   c:
     items:
       not:
         items:
           properties:
             a: {}
   d:
     items: {}
allOf:
- properties:
   e: {}
anyOf:
- properties:
   f: {}
oneOf:
- properties:
   g: {}
""",
        [
            "properties[a]: Required value: because it is defined in "
            "spec.validation.openAPIV3Schema.not.properties[a]",
            "properties[b].properties[a]: Required value: because it is defined in "
            "spec.validation.openAPIV3Schema.not.properties[b].not.properties[a]",
            "properties[c].items.items: Required value: because it is defined in "
            "spec.validation.openAPIV3Schema.not.properties[c].items.not.items",
            "properties[e]: Required value: because it is defined in "
            "spec.validation.openAPIV3Schema.allOf[0].properties[e]",
            "properties[f]: Required value: because it is defined in "
            "spec.validation.openAPIV3Schema.anyOf[0].properties[f]",
            "properties[g]: Required value: because it is defined in "
            "spec.validation.openAPIV3Schema.oneOf[0].properties[g]",
        ],
    ),
    (
        "forbidden in nested value validation",
        """
type: object
properties:
 foo:
   type: string
not:
 type: string
 additionalProperties: true
 title: hello
 description: world
 nullable: true
""",
        [
            "not.additionalProperties: Forbidden: must be undefined to be structural",
            "not.description: Forbidden: must be empty to be structural",
            "not.nullable: Forbidden: must be false to be structural",
            "not.title: Forbidden: must be empty to be structural",
            "not.type: Forbidden: must be empty to be structural",
        ],
    ),
    (
        "missing items for array",
        "type: object\nproperties:\n slice:\n   type: array\n",
        ["properties[slice].items: Required value: must be specified"],
    ),
    (
        "items slice",
        "type: object\nproperties:\n slice:\n   type: array\n   items:\n   - type: string\n   - type: "
        "integer\n",
        ["properties[slice].items: Forbidden: items must be a schema object and not an array"],
    ),
    (
        "metadata with name property",
        "type: object\nproperties:\n metadata:\n   type: object\n   properties:\n"
        "     name:\n       type: string\n       pattern: '^[a-z]+$'\n",
        [],
    ),
]


@pytest.mark.parametrize(
    ("desc", "schema", "expected"), STRUCTURAL_CASES, ids=[c[0] for c in STRUCTURAL_CASES]
)
def test_structural_schema_rules(desc: str, schema: str, expected: list[str]) -> None:
    prefix = "spec.validation.openAPIV3Schema"
    want = [f"{prefix}.{e}" for e in expected]
    assert texts(C.validate_crd(make_crd(schema))) == want


OPENAPI_CASES = [
    # validation_test.go TestValidateCustomResourceDefinition (schema walk), one rule each
    (
        "additionalProperties and properties",
        {
            "spec": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            }
        },
        [
            "properties[spec].additionalProperties: Forbidden: additionalProperties and properties are "
            "mutual exclusive"
        ],
    ),
    (
        "preserve-unknown-fields false",
        {"m": {"type": "object", "x-kubernetes-preserve-unknown-fields": False}},
        [
            "properties[m].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or "
            "undefined"
        ],
    ),
    (
        "uniqueItems",
        {"u": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}},
        [
            "properties[u].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime "
            "complexity becomes quadratic"
        ],
    ),
    (
        "type null",
        {"n": {"type": "null"}},
        [
            'properties[n].type: Unsupported value: "null": supported values: "array", "boolean", "integer", '
            '"number", "object", "string"',
            "properties[n].type: Forbidden: type cannot be set to null, use nullable as an alternative",
        ],
    ),
    (
        "$ref",
        {"r": {"type": "string", "$ref": "#/definitions/x"}},
        ["properties[r].$ref: Forbidden: $ref is not supported"],
    ),
    (
        "list-type on an object",
        {"l": {"type": "object", "x-kubernetes-list-type": "set"}},
        ['properties[l].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified'],
    ),
    (
        "list-type map without keys",
        {"l": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object"}}},
        [
            "properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if "
            "x-kubernetes-list-type is map"
        ],
    ),
    (
        "list-map-keys not properties",
        {
            "l": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
            }
        },
        [
            'properties[l].x-kubernetes-list-map-keys: Invalid value: []interface {}{"name"}: entries must '
            "all "
            "be names of item properties"
        ],
    ),
    (
        "map key neither required nor defaulted",
        {
            "l": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
        },
        [
            "properties[l].items.properties[name].default: Required value: this property is in "
            "x-kubernetes-list-map-keys, so it must have a default or be a required property"
        ],
    ),
    (
        "set of granular objects",
        {"l": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "object"}}},
        [
            'properties[l].items.x-kubernetes-map-type: Invalid value: "null": must be atomic as item of a '
            "list "
            "with x-kubernetes-list-type=set"
        ],
    ),
    (
        "bad map-type",
        {"m": {"type": "object", "x-kubernetes-map-type": "weird"}},
        [
            'properties[m].x-kubernetes-map-type: Unsupported value: "weird": supported values: "atomic", '
            '"granular"'
        ],
    ),
    (
        "empty CEL rule",
        {"s": {"type": "string", "x-kubernetes-validations": [{"rule": " "}]}},
        ["properties[s].x-kubernetes-validations[0].rule: Required value: rule is not specified"],
    ),
]


@pytest.mark.parametrize(("desc", "props", "expected"), OPENAPI_CASES, ids=[c[0] for c in OPENAPI_CASES])
def test_openapi_schema_rules(desc: str, props: dict[str, Any], expected: list[str]) -> None:
    crd = make_crd({"type": "object", "properties": props})
    prefix = "spec.validation.openAPIV3Schema"
    assert texts(C.validate_crd(crd)) == [f"{prefix}.{e}" for e in expected]


def test_default_values_are_validated() -> None:
    # defaulting/validation.go: defaults must validate against their schema and be pruned
    # (kube-openapi#395 shows the same `default: Unsupported value` text from a real server)
    crd = make_crd(
        """
type: object
properties:
 spec:
   type: object
   properties:
     d: {type: integer, default: "x"}
     o:
       type: object
       properties: {a: {type: string}}
       default: {a: "x", b: 1}
     e: {type: string, enum: [a, b], default: ""}
 metadata:
   type: object
   properties:
     name: {type: string, default: foo}
"""
    )
    p = "spec.validation.openAPIV3Schema.properties"
    assert texts(C.validate_crd(crd)) == [
        f'{p}[spec].properties[d].default: Invalid value: "string":  in body must be of type integer: '
        f'"string"',
        f'{p}[spec].properties[o].default: Invalid value: map[string]interface {{}}{{"a":"x", "b":1}}: '
        f"must not "
        "have unknown fields",
        f'{p}[spec].properties[e].default: Unsupported value: "": supported values: "a", "b"',
        f"{p}[metadata].properties[name].default: Forbidden: must not be set in top-level metadata",
    ]


def test_status_subresource_restricts_the_root() -> None:
    crd = make_crd({"type": "object", "nullable": True})
    crd["spec"]["versions"][0]["subresources"] = {"status": {}}
    got = texts(C.validate_crd(crd))
    assert got[0].startswith("spec.validation.openAPIV3Schema: Invalid value: ")
    assert got[0].endswith(
        ": only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength "
        "MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs "
        "Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the "
        "status subresource is enabled"
    )
    assert (
        got[1] == "spec.validation.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root"
    )
    crd = make_crd({"type": "string"})
    crd["spec"]["versions"][0]["subresources"] = {"status": {}}
    assert texts(C.validate_crd(crd))[0] == (
        'spec.validation.openAPIV3Schema.type: Invalid value: "string": only "object" is allowed as the type '
        "at the root of the schema if the status subresource is enabled"
    )


def test_per_version_schemas_keep_version_paths() -> None:
    crd = make_crd({"type": "object"})
    crd["spec"]["versions"][0]["storage"] = False
    crd["spec"]["versions"].append(
        {
            "name": "v2",
            "served": True,
            "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"a": {}}}},
        }
    )
    C.prepare_crd_for_create(crd)
    assert texts(C.validate_crd(crd)) == [
        "spec.versions[1].schema.openAPIV3Schema.properties[a].type: Required value: must not be empty for "
        "specified object fields"
    ]


def test_subresources_and_columns() -> None:
    # ValidateCustomResourceDefinitionSubresources / ValidateCustomResourceColumnDefinition
    crd = make_crd({"type": "object"})
    v = crd["spec"]["versions"][0]
    v["subresources"] = {"scale": {"specReplicasPath": ".status.replicas", "statusReplicasPath": "status"}}
    v["additionalPrinterColumns"] = [
        {"name": "", "type": "str", "format": "hex", "jsonPath": "spec.x"},
        {"name": "Ok", "type": "integer", "jsonPath": ".spec.x"},
    ]
    assert texts(C.validate_crd(crd)) == [
        'spec.subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json '
        "path under "
        ".spec",
        'spec.subresources.scale.statusReplicasPath: Invalid value: "status": must be a simple json path '
        "starting with .",
        "spec.additionalPrinterColumns[0].name: Required value",
        'spec.additionalPrinterColumns[0].type: Invalid value: "str": must be one of '
        "boolean,date,integer,number,"
        "string",
        'spec.additionalPrinterColumns[0].format: Invalid value: "hex": must be one of '
        "byte,date,date-time,double,"
        "float,int32,int64,password",
        'spec.additionalPrinterColumns[0].JSONPath: Invalid value: "spec.x": must be a simple json path '
        "starting "
        "with .",
    ]


def test_webhook_conversion_is_forbidden() -> None:
    crd = make_crd(
        {"type": "object"},
        conversion={
            "strategy": "Webhook",
            "webhook": {
                "clientConfig": {"url": "https://conv.example.com/convert"},
                "conversionReviewVersions": ["v1"],
            },
        },
    )
    got = C.validate_crd(crd)
    assert [(c.reason, c.field) for c in got] == [("FieldValueForbidden", "spec.conversion.strategy")]
    assert got[0].message.startswith("Forbidden: conversion webhooks are not supported by this API server")
    crd["spec"]["conversion"] = {"strategy": "Webhook"}
    assert texts(C.validate_crd(crd))[:2] == [
        "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
        "spec.conversion.conversionReviewVersions: Required value",
    ]
    crd["spec"]["conversion"] = {"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"]}}
    assert texts(C.validate_crd(crd)) == [
        "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set "
        "to Webhook"
    ]


def test_protected_groups_need_api_approval() -> None:
    # apihelpers.GetAPIApprovalState / validateAPIApproval
    crd = make_crd({"type": "object"}, group="widgets.k8s.io")
    crd["metadata"]["name"] = "foos.widgets.k8s.io"
    assert texts(C.validate_crd(crd)) == [
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have "
        "approval "
        'annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111'
    ]
    crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, experimental"}
    assert C.validate_crd(crd) == []
    crd["metadata"]["annotations"] = {
        "api-approved.kubernetes.io": "https://github.com/kubernetes/kubernetes/pull/1"
    }
    assert C.validate_crd(crd) == []


def test_crd_update_rules() -> None:
    old = crontab()
    old["status"] = C.established_status(old, "2024-01-01T00:00:00Z")
    new = copy.deepcopy(old)
    new["spec"]["group"] = "other.example.com"
    new["spec"]["scope"] = "Cluster"
    new["spec"]["names"]["plural"] = "crons"
    C.prepare_crd_for_update(new, old)
    got = texts(C.validate_crd_update(new, old))
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in got
    assert 'spec.group: Invalid value: "other.example.com": field is immutable' in got
    assert 'spec.names.plural: Invalid value: "crons": field is immutable' in got
    assert new["metadata"]["generation"] == 2
    # dropping a version that is still listed in status.storedVersions
    new = copy.deepcopy(old)
    new["spec"]["versions"][0]["name"] = "v2"
    C.prepare_crd_for_update(new, old)
    assert new["status"]["storedVersions"] == ["v1", "v2"]
    assert texts(C.validate_crd_update(new, old)) == [
        'status.storedVersions[0]: Invalid value: "v1": missing from spec.versions; v1 was previously a '
        "storage "
        "version, and must remain in spec.versions until a storage migration ensures no data remains "
        "persisted "
        "in v1 and removes v1 from status.storedVersions"
    ]


def test_established_status() -> None:
    crd = crontab()
    status = C.established_status(crd, "2024-01-01T00:00:00Z")
    assert status["acceptedNames"] == {
        "plural": "crontabs",
        "singular": "crontab",
        "shortNames": ["ct"],
        "kind": "CronTab",
        "listKind": "CronTabList",
    }
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts"),
        ("Established", "True", "InitialNamesAccepted"),
    ]
    assert status["storedVersions"] == ["v1"]


# =============================================================================================
# Go RE2 patterns
# =============================================================================================

REGEX_CASES = [
    # (pattern, text, matches) — Go regexp semantics
    (r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$", "* * * * */5", True),
    (r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$", "* * * *", False),
    (r"^abc$", "abc\n", False),  # Go's $ is the end of the text, Python's allows a trailing newline
    (r"(?m)^abc$", "abc\nx", True),
    (r"^\d+$", "١٢٣", False),  # \d is ASCII in RE2
    (r"^\w+\z", "abc", True),
    (r"a(?i)b", "aB", True),
    (r"a(?i)b", "AB", False),
    (r"^[[:alpha:]]+$", "abc", True),
    (r"^\Q.*\E$", ".*", True),
    (r"^a{,2}$", "a{,2}", True),  # not a repeat in Go
    (r"^\x{41}\101$", "AA", True),
]


@pytest.mark.parametrize(("pattern", "text", "matches"), REGEX_CASES)
def test_go_regex_semantics(pattern: str, text: str, matches: bool) -> None:
    # both the matcher in use (RE2 when google-re2 is installed) and the Python translation
    for compiled, err in (C.compile_go_regex(pattern), C._compile_translated(pattern)):
        assert err is None and compiled is not None
        assert (compiled.search(text) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("+", "missing argument to repetition operator: `+`"),
        ("a(?=b)", "invalid or unsupported Perl syntax: `(?=`"),
        ("(a)\\1", "invalid escape sequence: `\\1`"),
        ("(a", "missing closing ): `(a`"),
        ("a)", "unexpected ): `a)`"),
        ("[a", "missing closing ]: `[a`"),
        ("a**", "invalid nested repetition operator: `**`"),
        ("x{1001}", "invalid repeat count: `{1001}`"),
        ("[z-a]", "invalid character class range: `z-a`"),
        ("\\Z", "invalid escape sequence: `\\Z`"),
    ],
)
def test_go_regex_errors(pattern: str, error: str) -> None:
    assert C.compile_go_regex(pattern) == (None, "error parsing regexp: " + error)


def test_unicode_classes_are_accepted() -> None:
    # valid RE2; the Python translation cannot express it and does not enforce it, RE2 does
    assert C._compile_translated(r"^\pL+$") == (None, None)
    compiled, err = C.compile_go_regex(r"^\pL+$")
    assert err is None
    s = C.CRDSchema({"type": "object", "properties": {"a": {"type": "string", "pattern": r"^\pL+$"}}})
    assert s.validate({"a": "héllo"}) == []
    assert len(s.validate({"a": "123"})) == (1 if compiled is not None else 0)


@pytest.mark.skipif(C._re2 is None, reason="google-re2 is not installed")
def test_patterns_run_in_linear_time_with_re2() -> None:
    s = C.CRDSchema({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}})
    assert len(s.validate({"a": "a" * 5000 + "!"})) == 1


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(alphabet=list("ab()[]{}*+?|^$\\.-:,=!<>PQEzZdwsx0123456789pLi "), max_size=12))
def test_random_patterns_compile_or_report(pattern: str) -> None:
    compiled, err = C.compile_go_regex(pattern)
    assert compiled is None or err is None
    if compiled is not None:
        compiled.search("ab12 x")


# =============================================================================================
# Custom resource validation (apiserver/validation + kube-openapi messages)
# =============================================================================================


def test_crontab_validation_errors_from_the_docs() -> None:
    # docs "Validation": cronSpec "* * * *" and replicas 15 are rejected
    s = C.CRDSchema.for_version(crontab(), "v1")
    obj = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-new-cron-object"},
        "spec": {"cronSpec": "* * * *", "image": "my-awesome-cron-image", "replicas": 15},
    }
    causes = s.validate(obj)
    assert texts(causes) == [
        'spec.cronSpec: Invalid value: "* * * *": spec.cronSpec in body should match '
        "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'",
        "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10",
    ]
    err = invalid("CronTab", "stable.example.com", "my-new-cron-object", causes)
    assert err.code == 422 and err.message.startswith(
        'CronTab.stable.example.com "my-new-cron-object" is invalid: [spec.cronSpec: Invalid value: "* * * '
        '*": '
    )


VALUE_CASES = [
    # (schema of field x, value, expected causes) — kube-openapi pkg/validation/errors texts as
    # mapped by apiextensions' kubeOpenAPIResultToFieldErrors
    (
        {"type": "integer"},
        "string",
        ['x: Invalid value: "string": x in body must be of type integer: "string"'],
    ),
    ({"type": "integer"}, 1.5, ['x: Invalid value: "number": x in body must be of type integer: "number"']),
    ({"type": "integer"}, 2.0, []),  # a float that is an integer passes
    (
        {"type": "integer", "minimum": 1},
        0,
        ["x: Invalid value: 0: x in body should be greater than or equal to 1"],
    ),
    (
        {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
        1,
        ["x: Invalid value: 1: x in body should be greater than 1"],
    ),
    (
        {"type": "number", "maximum": 1.5},
        2.5,
        ["x: Invalid value: 2.5: x in body should be less than or equal to 1.5"],
    ),
    ({"type": "integer", "multipleOf": 3}, 7, ["x: Invalid value: 7: x in body should be a multiple of 3"]),
    (
        {"type": "number", "multipleOf": 0.5},
        0.75,
        ["x: Invalid value: 0.75: x in body should be a multiple of 0.5"],
    ),
    ({"type": "string", "maxLength": 3}, "abcd", ["x: Too long: may not be more than 3 bytes"]),
    ({"type": "string", "maxLength": 1}, "ab", ["x: Too long: may not be more than 1 byte"]),
    (
        {"type": "string", "minLength": 2},
        "a",
        ['x: Invalid value: "a": x in body should be at least 2 chars long'],
    ),
    ({"type": "string", "enum": ["a", "b"]}, "c", ['x: Unsupported value: "c": supported values: "a", "b"']),
    ({"type": "integer", "enum": [1, 2]}, 3, ['x: Unsupported value: 3: supported values: "1", "2"']),
    (
        {"type": "string", "format": "date-time"},
        "yesterday",
        ['x: Invalid value: "yesterday": x in body must be of type date-time: "yesterday"'],
    ),
    ({"type": "string", "format": "date-time"}, "2024-01-01T00:00:00Z", []),
    ({"type": "string", "format": "int32"}, "not checked", []),  # unsupported formats are stripped
    (
        {"type": "string", "format": "ipv4"},
        "1.2.3",
        ['x: Invalid value: "1.2.3": x in body must be of type ipv4: "1.2.3"'],
    ),
    ({"type": "string", "format": "uuid"}, "0f8fad5b-d9cb-469f-a165-70867728950e", []),
    ({"type": "string", "format": "byte"}, "aGVsbG8=", []),
    (
        {"type": "string", "format": "byte"},
        "hello!",
        ['x: Invalid value: "hello!": x in body must be of type byte: "hello!"'],
    ),
    (
        {"type": "array", "items": {"type": "string"}, "minItems": 2},
        ["a"],
        ["x: Invalid value: 1: x in body should have at least 2 items"],
    ),
    (
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        ["a", "b", "c"],
        ["x: Too many: 3: must have at most 2 items"],
    ),
    (
        {"type": "array", "items": {"type": "string"}},
        ["a", 1],
        ['x[1]: Invalid value: "integer": x[1] in body must be of type string: "integer"'],
    ),
    (
        {"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}},
        {"a": "1"},
        ["x: Invalid value: 1: x in body should have at least 2 properties"],
    ),
    (
        {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        {"a": "1", "b": "2"},
        ["x: Too many: 2: must have at most 1 item"],
    ),
    (
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"a": "1"},
        ['x.a: Invalid value: "string": x.a in body must be of type integer: "string"'],
    ),
    (
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]},
        {"a": "1"},
        ["x.b: Required value"],
    ),
    ({"x-kubernetes-int-or-string": True}, "80%", []),
    ({"x-kubernetes-int-or-string": True}, 80, []),
    (
        {"x-kubernetes-int-or-string": True},
        True,
        ['x: Invalid value: "boolean": x in body must be of type integer,string: "boolean"'],
    ),
    ({"type": "string", "nullable": True}, None, []),
    (
        {"type": "array", "items": {"type": "string"}},
        [None],
        ['x[0]: Invalid value: "null": x[0] in body must be of type string: "null"'],
    ),
    (
        {"type": "string", "anyOf": [{"pattern": "^a"}, {"pattern": "^b"}]},
        "c",
        [
            'Invalid value: "": "x" must validate at least one schema (anyOf)',
            "x: Invalid value: \"c\": x in body should match '^a'",
        ],
    ),
    (
        {"type": "string", "oneOf": [{"pattern": "^a"}, {"pattern": "b$"}]},
        "ab",
        ['Invalid value: "": "x" must validate one and only one schema (oneOf). Found 2 valid alternatives'],
    ),
    (
        {"type": "string", "not": {"pattern": "^a"}},
        "ab",
        ['Invalid value: "": "x" must not validate the schema (not)'],
    ),
    (
        {"type": "string", "allOf": [{"minLength": 3}]},
        "ab",
        [
            'x: Invalid value: "ab": x in body should be at least 3 chars long',
            'Invalid value: "": "x" must validate all the schemas (allOf). None validated',
        ],
    ),
]


@pytest.mark.parametrize(("schema", "value", "expected"), VALUE_CASES)
def test_value_validation(schema: dict[str, Any], value: Any, expected: list[str]) -> None:
    s = C.CRDSchema({"type": "object", "properties": {"x": schema}})
    assert texts(s.validate({"x": value})) == expected


def test_root_required_and_type_of_causes() -> None:
    s = schema_of("type: object\nrequired: [spec]\nproperties:\n spec: {type: object}\n")
    causes = s.validate({"metadata": {"name": "a"}})
    assert causes == [Cause("FieldValueRequired", "Required value", "spec")]
    causes = s.validate({"spec": "x"})
    assert causes == [
        Cause(
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec in body must be of type object: "string"',
            "spec",
        )
    ]


def test_update_ratchets_unchanged_invalid_values() -> None:
    # CRDValidationRatcheting (beta, on by default since 1.30): errors about values the update
    # did not change are not reported; changed or new invalid values still are
    s = C.CRDSchema.for_version(crontab(), "v1")
    old = {"spec": {"cronSpec": "bad", "replicas": 50, "image": "i"}}
    new = copy.deepcopy(old)
    new["spec"]["image"] = "j"
    assert s.validate_update(new, old) == []
    new["spec"]["replicas"] = 40
    assert texts(s.validate_update(new, old)) == [
        "spec.replicas: Invalid value: 40: spec.replicas in body should be less than or equal to 10"
    ]
    assert len(s.validate(new)) == 2


def test_embedded_resources_are_checked() -> None:
    # objectmeta/validation.go: apiVersion and kind required, kind a DNS-1035 label, metadata valid
    s = schema_of(
        "type: object\nproperties:\n template:\n   type: object\n   x-kubernetes-embedded-resource: true\n"
        "   x-kubernetes-preserve-unknown-fields: true\n"
    )
    assert texts(s.validate({"template": {"metadata": {"name": "a"}}})) == [
        "template.apiVersion: Required value",
        "template.kind: Required value",
    ]
    got = texts(
        s.validate({"template": {"apiVersion": "a/b/c", "kind": "Foo_Bar", "metadata": {"name": "a/b"}}})
    )
    assert got[0] == 'template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c'
    assert got[1].startswith(
        'template.kind: Invalid value: "Foo_Bar": may have mixed case, but should otherwise match'
    )
    assert got[2] == "template.metadata.name: Invalid value: \"a/b\": may not contain '/'"
    assert s.validate({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}}) == []


def test_list_type_invariants() -> None:
    # listtype/validation_test.go
    s = schema_of(
        """
type: object
properties:
 set:
   type: array
   x-kubernetes-list-type: set
   items: {type: string}
 map:
   type: array
   x-kubernetes-list-type: map
   x-kubernetes-list-map-keys: [name]
   items:
     type: object
     required: [name]
     properties: {name: {type: string}, v: {type: integer}}
 map2:
   type: array
   x-kubernetes-list-type: map
   x-kubernetes-list-map-keys: [a, b]
   items:
     type: object
     required: [a, b]
     properties: {a: {type: string}, b: {type: integer}}
"""
    )
    obj = {
        "set": ["a", "b", "a", "a"],
        "map": [{"name": "x", "v": 1}, {"name": "y"}, {"name": "x", "v": 2}],
        "map2": [{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"a": "x", "b": 1}],
    }
    assert texts(s.validate(obj)) == [
        'set[2]: Duplicate value: "a"',
        'map[2]: Duplicate value: map[string]interface {}{"name":"x"}',
        'map2[2]: Duplicate value: map[string]interface {}{"a":"x", "b":1}',
    ]


def test_scale_paths_are_validated() -> None:
    # pkg/registry/customresource/validator.go ValidateScaleSpec/ValidateScaleStatus
    s = C.CRDSchema.for_version(crontab(), "v1")
    got = s.validate({"spec": {"replicas": -1}, "status": {"replicas": "x"}})
    assert texts(got)[-2:] == [
        ".spec.replicas: Invalid value: -1: should be a non-negative integer",
        ".status.replicas: Invalid value: 0: .status.replicas accessor error: x is of the type string, "
        "expected int64",
    ]


# =============================================================================================
# Pruning (pkg/apiserver/schema/pruning/algorithm_test.go TestPrune)
# =============================================================================================

PRUNE_CASES = [
    ("scalar array", [1, 2], {"type": "array", "items": {"type": "integer"}}, [1, 2]),
    (
        "object array",
        [{"a": 1}, {"b": 1}, {"a": 1, "b": 2, "c": 3}],
        {"type": "array", "items": {"type": "object", "properties": {"a": {}, "c": {}}}},
        [{"a": 1}, {}, {"a": 1, "c": 3}],
    ),
    ("object array with nil schema", [{"a": 1}, {"b": 1}], None, [{}, {}]),
    (
        "additionalProperties with schema",
        {"a": 1, "b": 1, "c": {"a": 1, "b": 2, "c": {"a": 1}}},
        {"properties": {"a": {}, "c": {"additionalProperties": {"type": "integer"}}}},
        {"a": 1, "c": {"a": 1, "b": 2, "c": {}}},
    ),
    (
        "additionalProperties with bool",
        {"a": 1, "b": 1, "c": {"a": 1, "b": 2, "c": {"a": 1}}},
        {"properties": {"a": {}, "c": {"additionalProperties": False}}},
        {"a": 1, "c": {"a": 1, "b": 2, "c": {}}},
    ),
    (
        "nested x-kubernetes-preserve-unknown-fields",
        {
            "unspecified": "bar",
            "alpha": "abc",
            "pruning": {
                "unspecified": "bar",
                "pruning": {"unspecified": "bar"},
                "preserving": {"unspecified": "bar"},
            },
            "preserving": {"unspecified": "bar", "pruning": {"unspecified": "bar"}},
            "apKeysKept": {"foo": {"specified": {"unspecified": "bar"}, "unspecified": "bar"}},
        },
        {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "alpha": {"type": "string"},
                "pruning": {
                    "type": "object",
                    "properties": {
                        "preserving": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "pruning": {"type": "object"},
                    },
                },
                "preserving": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"pruning": {"type": "object"}},
                },
                "apKeysKept": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"specified": {"type": "object"}},
                    },
                },
            },
        },
        {
            "unspecified": "bar",
            "alpha": "abc",
            "pruning": {"pruning": {}, "preserving": {"unspecified": "bar"}},
            "preserving": {"unspecified": "bar", "pruning": {}},
            "apKeysKept": {"foo": {"specified": {}}},
        },
    ),
    (
        "x-kubernetes-embedded-resource",
        {
            "unspecified": "bar",
            "pruned": {
                "apiVersion": "foo/v1",
                "kind": "Foo",
                "unspecified": "bar",
                "spec": {"unspecified": "bar"},
            },
        },
        {
            "type": "object",
            "properties": {
                "pruned": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                }
            },
        },
        {"pruned": {"apiVersion": "foo/v1", "kind": "Foo", "spec": {}}},
    ),
]


@pytest.mark.parametrize(("desc", "data", "schema", "expected"), PRUNE_CASES, ids=[c[0] for c in PRUNE_CASES])
def test_prune_algorithm(desc: str, data: Any, schema: dict[str, Any] | None, expected: Any) -> None:
    node = C._Schema(schema) if schema is not None else None
    C._prune(data, node, "", C._Unknown())
    assert data == expected


def test_prune_resource_root_and_unknown_paths() -> None:
    # the docs' "someRandomField" example; metadata keeps only ObjectMeta fields (objectmeta.Coerce)
    s = C.CRDSchema.for_version(crontab(), "v1")
    obj = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-new-cron-object", "labels": {"a": "b"}, "unspecified": 1, "generation": 0},
        "spec": {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image", "someRandomField": 42},
        "list": [{"a": 1}],
    }
    assert s.prune(obj) == ["list", "metadata.unspecified", "spec.someRandomField"]
    assert obj == {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "my-new-cron-object", "labels": {"a": "b"}},
        "spec": {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image"},
    }


def test_prune_embedded_metadata_and_list_paths() -> None:
    s = schema_of(
        """
type: object
properties:
 items:
   type: array
   items:
     type: object
     x-kubernetes-embedded-resource: true
     properties:
       spec: {type: object, properties: {a: {type: string}}}
"""
    )
    obj = {
        "items": [
            {
                "apiVersion": "v1",
                "kind": "X",
                "metadata": {"name": "n", "junk": 1},
                "spec": {"a": "1", "b": 2},
            }
        ]
    }
    assert s.prune(obj) == ["items[0].metadata.junk", "items[0].spec.b"]
    assert obj == {
        "items": [{"apiVersion": "v1", "kind": "X", "metadata": {"name": "n"}, "spec": {"a": "1"}}]
    }


# =============================================================================================
# Defaulting (pkg/apiserver/schema/defaulting/algorithm_test.go and the docs)
# =============================================================================================


def test_defaulting_crontab_from_the_docs() -> None:
    s = C.CRDSchema.for_version(crontab(), "v1")
    obj = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "x"},
        "spec": {"image": "my-awesome-cron-image"},
    }
    s.prune(obj)
    s.default(obj)
    assert obj["spec"] == {"cronSpec": "5 0 * * *", "image": "my-awesome-cron-image", "replicas": 1}
    # defaults only apply inside objects that exist
    obj = {"metadata": {"name": "x"}}
    s.default(obj)
    assert obj == {"metadata": {"name": "x"}}


def test_defaulting_and_nullable_from_the_docs() -> None:
    # docs "Defaulting and Nullable": foo null → default, bar null kept (nullable), baz null pruned
    s = schema_of(
        """
type: object
properties:
  spec:
    type: object
    properties:
      foo: {type: string, nullable: false, default: "default"}
      bar: {type: string, nullable: true}
      baz: {type: string}
"""
    )
    obj = {"spec": {"foo": None, "bar": None, "baz": None}}
    s.prune(obj)
    s.default(obj)
    assert obj == {"spec": {"foo": "default", "bar": None}}


DEFAULT_CASES = [
    # (schema, object, expected) — algorithm_test.go TestDefault
    (
        {"type": "object", "properties": {"a": {"type": "string", "default": "A"}, "b": {"type": "string"}}},
        {"b": "x"},
        {"a": "A", "b": "x"},
    ),
    (
        {
            "type": "object",
            "properties": {
                "a": {
                    "type": "object",
                    "default": {"x": 1},
                    "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 2}},
                }
            },
        },
        {},
        {"a": {"x": 1, "y": 2}},  # a default object is itself defaulted
    ),
    (
        {
            "type": "array",
            "items": {"type": "object", "properties": {"n": {"type": "integer", "default": 0}}},
        },
        [{}, {"n": 5}, None],
        [{"n": 0}, {"n": 5}, None],
    ),
    (
        {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"z": {"type": "string", "default": "z"}},
            },
        },
        {"k": {}, "l": {"z": "q"}},
        {"k": {"z": "z"}, "l": {"z": "q"}},
    ),
    (
        {"type": "array", "items": {"type": "string", "default": "d"}},
        ["a", None],
        ["a", "d"],  # a non-nullable null array item gets the items default
    ),
]


@pytest.mark.parametrize(("schema", "obj", "expected"), DEFAULT_CASES)
def test_default_algorithm(schema: dict[str, Any], obj: Any, expected: Any) -> None:
    C._default(obj, C._Schema(schema))
    assert obj == expected


def test_default_values_are_copied() -> None:
    s = C.CRDSchema({"type": "object", "properties": {"o": {"type": "object", "default": {"l": [1]}}}})
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    s.default(a)
    s.default(b)
    a["o"]["l"].append(2)
    assert b == {"o": {"l": [1]}}


# =============================================================================================
# Printer columns (tableconvertor_test.go and the docs' `kubectl get crontab`)
# =============================================================================================


def test_crontab_printer_columns() -> None:
    cols, row = C.printer_columns(C.crd_version(crontab(), "v1"))
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in cols] == [
        ("Name", "string", "name", 0),
        ("Spec", "string", "", 0),
        ("Replicas", "integer", "", 0),
        ("Age", "date", "", 0),
    ]
    assert cols[1]["description"] == "The cron spec defining the interval a CronJob is run"
    assert (
        cols[3]["description"]
        == "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp"
    )
    obj = {
        "metadata": {"name": "my-new-cron-object", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"cronSpec": "* * * * */5", "replicas": 1},
    }
    assert row(obj, NOW) == ["my-new-cron-object", "* * * * */5", 1, "5m"]
    assert row({"metadata": {"name": "bare"}}, NOW) == ["bare", None, None, None]


def test_default_age_column_when_none_defined() -> None:
    cols, row = C.printer_columns({"name": "v1"})
    assert [(c["name"], c["type"]) for c in cols] == [("Name", "string"), ("Age", "date")]
    assert cols[1]["description"].startswith("CreationTimestamp is a timestamp")
    assert row({"metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:04:50Z"}}, NOW) == ["a", "10s"]


CELL_CASES = [
    # tableconvertor_test.go Test_cellForJSONValue, plus string columns printing any value
    ("integer", 42, 42),
    ("integer", 3.14, 3),
    ("integer", True, None),
    ("integer", "foo", None),
    ("number", 42, 42.0),
    ("number", 3.14, 3.14),
    ("number", True, None),
    ("boolean", True, True),
    ("boolean", 42, None),
    ("string", "foo", "foo"),
    ("string", 42, "42"),
    ("string", 1.5, "1.5"),
    ("string", True, "true"),
    ("string", {"b": 1, "a": [1]}, '{"a":[1],"b":1}'),
    ("string", None, "<no value>"),
    ("date", 42, None),
    ("date", "2024-01-01T00:00:00Z", "5m"),
    ("date", "2024-01-01T12:00:00Z", "<invalid>"),
    ("date", "", "<unknown>"),
    ("date", "not a time", "<invalid>"),
    ("unknown", "foo", None),
]


@pytest.mark.parametrize(("col_type", "value", "expected"), CELL_CASES)
def test_cell_values(col_type: str, value: Any, expected: Any) -> None:
    assert C._cell(col_type, value, NOW) == expected


JSONPATH_CASES = [
    # (jsonPath, expected cell of a string column) — client-go util/jsonpath semantics
    (".spec.x", "1"),
    (".spec.missing", None),
    ('.status.conditions[?(@.type=="Ready")].status', "True"),
    (".status.conditions[?(@.type=='Synced')].reason", "Done"),
    (".status.conditions[0].type", "Ready"),
    (".status.conditions[-1].type", "Synced"),
    (".status.conditions[5].type", None),  # out of bounds: evaluation error, null cell
    (".status.conditions[*].type", "Ready"),
    (".metadata.labels['app.kubernetes.io/name']", "demo"),
    (".metadata.labels.app\\.kubernetes\\.io/name", "demo"),
    ("..reason", "Done"),
    (".spec.list", '["a","b"]'),
    (".spec.list[1:]", "b"),
    (".status.conditions[?(@.count > 1)].type", "Synced"),
    (".status.conditions[?(@.reason)].type", "Synced"),
    (".spec.x[0]", None),  # not an array
]


@pytest.mark.parametrize(("path", "expected"), JSONPATH_CASES)
def test_jsonpath_columns(path: str, expected: Any) -> None:
    cols, row = C.printer_columns(
        {"additionalPrinterColumns": [{"name": "C", "type": "string", "jsonPath": path}]}
    )
    assert len(cols) == 2
    obj = {
        "metadata": {"name": "n", "labels": {"app.kubernetes.io/name": "demo"}},
        "spec": {"x": 1, "list": ["a", "b"]},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "count": 1},
                {"type": "Synced", "status": "False", "reason": "Done", "count": 2},
            ]
        },
    }
    assert row(obj, NOW)[1] == expected


def test_unparsable_column_ends_the_list() -> None:
    cols, row = C.printer_columns(
        {
            "additionalPrinterColumns": [
                {"name": "A", "type": "string", "jsonPath": ".a"},
                {"name": "B", "type": "string", "jsonPath": ".b[?(@.x"},
                {"name": "C", "type": "string", "jsonPath": ".c"},
            ]
        }
    )
    assert [c["name"] for c in cols] == ["Name", "A"]
    assert row({"a": "1", "metadata": {"name": "n"}}, NOW) == ["n", "1"]


# =============================================================================================
# Resource types, versions, scale
# =============================================================================================


def test_crd_resource_type() -> None:
    rt = C.crd_resource_type(crontab(), "v1")
    assert (rt.group, rt.version, rt.plural, rt.singular, rt.kind, rt.namespaced) == (
        "stable.example.com",
        "v1",
        "crontabs",
        "crontab",
        "CronTab",
        True,
    )
    assert rt.short_names == ("ct",)
    assert rt.has_generation and rt.verbs == (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    scale = rt.subresource("scale")
    assert scale is not None and (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    assert rt.has_status()
    assert rt.key_prefix == "/registry/stable.example.com/crontabs/"
    assert rt.list_kind == "CronTabList"


def test_crd_resource_type_in_a_legacy_storage_group() -> None:
    crd = make_crd({"type": "object"}, group="networking.k8s.io", scope="Cluster")
    rt = C.crd_resource_type(crd, "v1")
    assert rt.key_prefix == "/registry/networking.k8s.io/foos/"
    assert not rt.namespaced and not rt.has_status() and rt.subresource("scale") is None


def test_crd_resource_type_itself() -> None:
    rt = C.CRD_RESOURCE_TYPE
    assert rt.key_prefix == "/registry/apiextensions.k8s.io/customresourcedefinitions/"
    assert rt.short_names == ("crd", "crds") and rt.categories == ("api-extensions",)


def test_served_versions_in_kube_order() -> None:
    crd = make_crd({"type": "object"})
    crd["spec"]["versions"] = [
        {"name": n, "served": n != "v3", "storage": n == "v1"}
        for n in ("v1alpha1", "v1", "v2beta1", "v11alpha2", "foo", "v2", "v3", "v12alpha1", "bar")
    ]
    # version.CompareKubeAwareVersionStrings: GA, then beta, then alpha, then others alphabetically
    assert C.served_versions(crd) == [
        "v2",
        "v1",
        "v2beta1",
        "v12alpha1",
        "v11alpha2",
        "v1alpha1",
        "bar",
        "foo",
    ]


def test_scale_object_and_update() -> None:
    sc = crontab()["spec"]["versions"][0]["subresources"]["scale"]
    obj = {
        "metadata": {
            "name": "c",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "7",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "labelSelector": "app=c"},
    }
    assert C.scale_from_custom_resource(obj, sc) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "c",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "7",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "selector": "app=c"},
    }
    C.apply_scale_to_custom_resource(obj, sc, 5)
    assert obj["spec"]["replicas"] == 5
    with pytest.raises(StatusError) as e:
        C.scale_from_custom_resource({"spec": {"replicas": "x"}}, sc)
    assert e.value.code == 500


# =============================================================================================
# Untrusted input: random objects and CRDs only ever produce causes
# =============================================================================================

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    ["spec", "status", "metadata", "apiVersion", "kind", "replicas", "a", "x", "list"]
)
objects = st.dictionaries(field_names, json_values, max_size=6)

RICH_SCHEMA = yaml.safe_load(
    r"""
type: object
properties:
  spec:
    type: object
    required: [a]
    properties:
      a: {type: string, pattern: '^[a-z]+$', maxLength: 5, enum: [abc, de]}
      replicas: {type: integer, minimum: 0, maximum: 9, default: 1, multipleOf: 1}
      ratio: {type: number, exclusiveMaximum: true, maximum: 1.5}
      port: {x-kubernetes-int-or-string: true}
      when: {type: string, format: date-time}
      tags: {type: array, items: {type: string}, x-kubernetes-list-type: set, maxItems: 3}
      ports:
        type: array
        x-kubernetes-list-type: map
        x-kubernetes-list-map-keys: [name]
        items: {type: object, required: [name], properties: {name: {type: string}, p: {type: integer}}}
      labels: {type: object, additionalProperties: {type: string}, maxProperties: 2}
      free: {type: object, x-kubernetes-preserve-unknown-fields: true}
      inner:
        type: object
        x-kubernetes-embedded-resource: true
        x-kubernetes-preserve-unknown-fields: true
      choice: {type: string, anyOf: [{pattern: '^a'}, {pattern: '^b'}], not: {pattern: 'z$'}}
      nul: {type: string, nullable: true, default: d}
  status:
    type: object
    properties:
      replicas: {type: integer}
      selector: {type: string}
"""
)
RICH = C.CRDSchema(
    RICH_SCHEMA,
    scale={
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    obj=objects,
    spec=st.dictionaries(
        st.sampled_from(
            [
                "a",
                "replicas",
                "ratio",
                "port",
                "when",
                "tags",
                "ports",
                "labels",
                "free",
                "inner",
                "choice",
                "nul",
                "junk",
            ]
        ),
        json_values,
        max_size=8,
    ),
)
def test_random_objects_only_produce_causes(obj: dict[str, Any], spec: dict[str, Any]) -> None:
    obj["spec"] = spec
    before = orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    causes = RICH.validate(obj)
    assert all(isinstance(c, Cause) for c in causes)
    assert orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS) == before  # validate never mutates
    for c in causes:
        assert isinstance(c.message, str) and isinstance(c.field, str)
    old = orjson.loads(before)
    RICH.prune(obj)
    RICH.default(obj)
    assert all(isinstance(c, Cause) for c in RICH.validate_update(obj, old))
    cols, row = C.printer_columns(
        {
            "additionalPrinterColumns": [
                {"name": "A", "type": "string", "jsonPath": ".spec.a"},
                {"name": "R", "type": "integer", "jsonPath": ".spec.replicas"},
                {"name": "W", "type": "date", "jsonPath": ".spec.when"},
                {"name": "P", "type": "string", "jsonPath": '.spec.ports[?(@.name=="x")].p'},
            ]
        }
    )
    assert len(row(obj, NOW)) == len(cols)


schemas = st.recursive(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(
                ["object", "string", "integer", "number", "array", "boolean", "null", "", "x"]
            ),
            "pattern": st.sampled_from(["^a", "(", "a**", r"\d+", r"\pL"]),
            "default": json_values,
            "nullable": st.booleans(),
            "x-kubernetes-int-or-string": st.booleans(),
            "x-kubernetes-preserve-unknown-fields": st.booleans(),
            "x-kubernetes-embedded-resource": st.booleans(),
            "x-kubernetes-list-type": st.sampled_from(["set", "map", "atomic", "bad"]),
            "x-kubernetes-list-map-keys": st.lists(st.sampled_from(["a", "name"]), max_size=2),
            "enum": st.lists(json_values, max_size=3),
            "maxLength": st.integers(-1, 5) | st.text(max_size=2),
            "additionalProperties": st.booleans(),
            "description": st.text(max_size=3),
        },
    ),
    lambda children: st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["object", "array"]),
            "properties": st.dictionaries(
                st.sampled_from(["a", "b", "metadata", "kind"]), children, max_size=3
            ),
            "items": children | st.lists(children, max_size=2),
            "additionalProperties": children,
            "anyOf": st.lists(children, max_size=2),
            "not": children,
        },
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    schema=schemas,
    spec_extra=st.dictionaries(
        st.sampled_from(["group", "scope", "names", "versions", "conversion", "preserveUnknownFields"]),
        json_values,
        max_size=2,
    ),
    obj=objects,
)
def test_random_crds_only_produce_causes(
    schema: dict[str, Any], spec_extra: dict[str, Any], obj: dict[str, Any]
) -> None:
    crd = make_crd(schema)
    assert all(isinstance(c, Cause) for c in C.validate_crd(crd))
    bad = copy.deepcopy(crd)
    bad["spec"].update(spec_extra)
    assert all(isinstance(c, Cause) for c in C.validate_crd(bad))
    assert all(isinstance(c, Cause) for c in C.validate_crd_update(bad, crd))
    C.crd_resource_type(bad, "v1")
    C.printer_columns(C.crd_version(bad, "v1") or {})
    s = C.CRDSchema.for_version(crd, "v1")
    s.prune(obj)
    s.default(obj)
    assert all(isinstance(c, Cause) for c in s.validate(obj))
