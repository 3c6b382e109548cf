"""CRD x-kubernetes-validations (CEL) rules with the real kubectl: compilation at CRD create
(422 with kube's field path and text) and enforcement on custom resource create, update, patch
and /status writes (self, oldSelf transition rules, messageExpression, reason, fieldPath, rules on
map-list items and map values, rules at the resource root)."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import Kubectl, Server
from .httpclient import Client

pytestmark = pytest.mark.integration

GROUP = "cel.example.com"
CRD = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{GROUP}
spec:
  group: {GROUP}
  names: {{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-validations:
        - rule: "self.metadata.name.startsWith('w-')"
          message: name must start with w-
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.minReplicas <= self.maxReplicas"
              messageExpression: >-
                'minReplicas (' + string(self.minReplicas) + ') must not exceed maxReplicas ('
                + string(self.maxReplicas) + ')'
            - rule: "self.mode == oldSelf.mode"
              message: mode is immutable
            - rule: "!has(self.owner) || self.owner.size() >= 3"
              fieldPath: .owner
              reason: FieldValueForbidden
              message: owner too short
            properties:
              minReplicas: {{type: integer}}
              maxReplicas: {{type: integer}}
              mode: {{type: string}}
              owner: {{type: string}}
              labels:
                type: object
                additionalProperties:
                  type: string
                  x-kubernetes-validations:
                  - rule: "self.size() <= 5"
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {{type: string}}
                    port: {{type: integer}}
                  x-kubernetes-validations:
                  - rule: "self.port > 0 && self.port < 65536"
                    message: port out of range
          status:
            type: object
            properties:
              phase:
                type: string
                x-kubernetes-validations:
                - rule: "self in ['Pending', 'Ready']"
"""


def _widget(name: str, spec: dict[str, object]) -> str:
    return json.dumps(
        {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}
    )


GOOD = {
    "minReplicas": 1,
    "maxReplicas": 3,
    "mode": "a",
    "owner": "team",
    "ports": [{"name": "http", "port": 80}],
}


@pytest.fixture(scope="module")
def k(module_server: Server, module_kubectl: Kubectl) -> Kubectl:
    module_kubectl.run("create", "-f", "-", input=CRD)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if module_kubectl.run("get", "widgets", check=False).returncode == 0:
            return module_kubectl
        time.sleep(0.2)
    raise AssertionError("widgets never served")


def test_valid_object_accepted(k: Kubectl) -> None:
    k.run("create", "-f", "-", input=_widget("w-good", GOOD))
    assert k.get_json("widget", "w-good")["spec"]["owner"] == "team"


def test_rules_reject_with_kube_texts(k: Kubectl) -> None:
    bad = {
        "minReplicas": 5,
        "maxReplicas": 2,
        "mode": "a",
        "owner": "x",
        "labels": {"ok": "v", "long": "toolong"},
        "ports": [{"name": "http", "port": 0}],
    }
    p = k.run("create", "-f", "-", input=_widget("w-bad", bad), check=False)
    assert p.returncode != 0
    err = p.stderr
    assert 'The Widget "w-bad" is invalid' in err
    assert 'spec: Invalid value: "object": minReplicas (5) must not exceed maxReplicas (2)' in err
    assert "spec.owner: Forbidden: owner too short" in err
    assert 'spec.ports[0]: Invalid value: "object": port out of range' in err
    assert 'spec.labels[long]: Invalid value: "string": failed rule: self.size() <= 5' in err
    assert "spec.labels[ok]" not in err
    assert k.run("get", "widget", "w-bad", check=False).returncode != 0  # nothing stored


def test_root_rule_and_status_cause(k: Kubectl, module_server: Server) -> None:
    p = k.run("create", "-f", "-", input=_widget("bad-name", GOOD), check=False)
    assert '<nil>: Invalid value: "object": name must start with w-' in p.stderr
    # the Status itself: 422 Invalid with the causes' reasons and fields
    api = Client(module_server.url, module_server.ca_file, module_server.token)
    try:
        status, body = api.call(
            "POST",
            f"/apis/{GROUP}/v1/namespaces/default/widgets",
            json.loads(_widget("w-x", {**GOOD, "owner": "x"})),
        )
    finally:
        api.close()
    assert status == 422
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"] == [
        {"reason": "FieldValueForbidden", "message": "Forbidden: owner too short", "field": "spec.owner"}
    ]


def test_transition_rule_on_update_and_patch(k: Kubectl) -> None:
    k.run("create", "-f", "-", input=_widget("w-mode", GOOD))
    p = k.run("patch", "widget", "w-mode", "--type=merge", "-p", '{"spec":{"mode":"b"}}', check=False)
    assert 'spec: Invalid value: "object": mode is immutable' in p.stderr
    assert k.get_json("widget", "w-mode")["spec"]["mode"] == "a"
    # other changes pass; a new map-list item is checked, an unchanged one is not re-reported
    k.run("patch", "widget", "w-mode", "--type=merge", "-p", '{"spec":{"maxReplicas":4}}')
    obj = k.get_json("widget", "w-mode")
    obj["spec"]["ports"].append({"name": "bad", "port": 70000})
    p = k.run("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert 'spec.ports[1]: Invalid value: "object": port out of range' in p.stderr
    assert "spec.ports[0]" not in p.stderr


def test_status_subresource_rules(k: Kubectl) -> None:
    k.run("create", "-f", "-", input=_widget("w-status", GOOD))
    patch = ["patch", "widget", "w-status", "--subresource=status", "--type=merge"]
    p = k.run(*patch, "-p", '{"status":{"phase":"Bogus"}}', check=False)
    assert "status.phase: Invalid value: \"string\": failed rule: self in ['Pending', 'Ready']" in p.stderr
    k.run(*patch, "-p", '{"status":{"phase":"Ready"}}')
    assert k.get_json("widget", "w-status")["status"]["phase"] == "Ready"


def test_blocking_schema_error_skips_rules(k: Kubectl) -> None:
    p = k.run("create", "-f", "-", input=_widget("w-typed", {**GOOD, "minReplicas": "x"}), check=False)
    assert (
        'spec.minReplicas: Invalid value: "string": spec.minReplicas in body must be of type integer'
        in p.stderr
    )
    assert "some validation rules were not checked because the object was invalid" in p.stderr


def test_crd_with_rule_that_does_not_compile(k: Kubectl) -> None:
    bad = CRD.replace(f"widgets.{GROUP}", f"gadgets.{GROUP}").replace(
        "{plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}",
        "{plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}",
    )
    bad = bad.replace("self.minReplicas <= self.maxReplicas", "self.minReplicas <= ")
    p = k.run("create", "-f", "-", input=bad, check=False)
    assert p.returncode != 0
    assert (
        'The CustomResourceDefinition "gadgets.cel.example.com" is invalid: '
        "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
        'apiextensions.ValidationRule{Rule:"self.minReplicas <= "' in p.stderr
    )
    assert "compilation failed: ERROR: <input>:1:21: Syntax error:" in p.stderr
    assert k.run("get", "crd", f"gadgets.{GROUP}", check=False).returncode != 0
