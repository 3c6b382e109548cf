"""Object fidelity as kube-apiserver 1.32 stores built-in objects (decoded into Go structs and encoded
back): empty or null list and map fields tagged `omitempty` are not stored, on every kind of write,
while empty structs, required lists and list items stay; custom resources keep their empty values.
Also: a quota refusal of a generateName create names the generated object, and server-side apply of
an autoscaling/v1 Scale on the scale subresources."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, server_fixture
from tests.integration.httpclient import Client

server = server_fixture()

NS = "s15"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
SMP = {"Content-Type": "application/strategic-merge-patch+json"}
JSONPATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    kubectl = Kubectl(server, tmp_path_factory.mktemp("kcache"))
    kubectl.namespace(NS)
    return kubectl


@pytest.fixture(scope="module")
def api(server: Server, k: Kubectl) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


def cm_path(name: str = "") -> str:
    return f"/api/v1/namespaces/{NS}/configmaps" + (f"/{name}" if name else "")


def deploy_path(name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{NS}/deployments" + (f"/{name}" if name else "")


def ok(reply: Any, status: int = 200) -> dict[str, Any]:
    assert reply.status == status, reply.raw
    return reply.body


def deployment(name: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx", **container}]},
            },
        },
    }


def fields_v1(obj: dict[str, Any]) -> str:
    return json.dumps([e.get("fieldsV1") for e in obj["metadata"].get("managedFields", [])])


# ---------------------------------------------------------------------------- creates
def test_kubectl_create_configmap_stores_no_data(k: Kubectl) -> None:
    k("create", "configmap", "empty-cm", "-n", NS)
    obj = k.get_json("configmap", "empty-cm", "-n", NS, "--show-managed-fields")
    assert "data" not in obj and "binaryData" not in obj
    assert '"f:data"' not in fields_v1(obj)


def test_empty_and_null_omitempty_fields_are_not_stored(api: Client) -> None:
    """Go decodes [] / {} / null of an omitempty list or map into an empty or nil value that
    encoding omits: none of them is stored, and the managedFields do not claim them."""
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "empties",
            "labels": {},
            "annotations": None,
            "finalizers": [],
            "ownerReferences": None,
        },
        "data": {},
        "binaryData": None,
    }
    created = ok(api.call("POST", cm_path(), body), 201)
    stored = ok(api.call("GET", cm_path("empties")))
    for obj in (created, stored):
        assert set(obj) == {"apiVersion", "kind", "metadata"}, obj
        assert not {"labels", "annotations", "finalizers", "ownerReferences"} & set(obj["metadata"])
    assert "f:labels" not in fields_v1(stored) and "f:data" not in fields_v1(stored)


def test_pod_keeps_empty_structs_and_list_items_but_not_empty_lists(api: Client) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "shapes"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "ports": [],
                    "args": [],
                    "env": None,
                    "securityContext": {},
                    "resources": {"limits": {}, "requests": {}},
                }
            ],
            "volumes": [{"name": "scratch", "emptyDir": {}}],
            "nodeSelector": {},
            "tolerations": [],
            "imagePullSecrets": [{}],
        },
    }
    obj = ok(api.call("POST", f"/api/v1/namespaces/{NS}/pods", pod), 201)
    c = obj["spec"]["containers"][0]
    assert not {"ports", "args", "env"} & set(c), c
    assert c["securityContext"] == {} and c["resources"] == {}
    vol = next(v for v in obj["spec"]["volumes"] if v["name"] == "scratch")
    assert vol == {"name": "scratch", "emptyDir": {}}
    assert "nodeSelector" not in obj["spec"]
    assert obj["spec"]["imagePullSecrets"] == [{}]  # a list item stays, even empty
    # the defaulted tolerations of DefaultTolerationSeconds are there, the empty list was not kept
    assert all(t.get("key") for t in obj["spec"].get("tolerations", []))


def test_network_policy_keeps_empty_selector_and_empty_rule(api: Client) -> None:
    np = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-all"},
        "spec": {"podSelector": {}, "ingress": [{}], "egress": []},
    }
    obj = ok(api.call("POST", f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies", np), 201)
    assert obj["spec"]["podSelector"] == {} and obj["spec"]["ingress"] == [{}]
    assert "egress" not in obj["spec"] and obj["spec"]["policyTypes"] == ["Ingress"]


def test_required_lists_are_kept_or_refused(api: Client) -> None:
    """Fields without omitempty are stored as sent: Role.rules `[]` and `null` (Go's nil slice),
    EndpointSlice.endpoints `[]`; a required Pod `containers: []` is refused, never dropped."""
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "none"}}
    obj = ok(
        api.call("POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles", {**role, "rules": []}),
        201,
    )
    assert obj["rules"] == []
    role["metadata"] = {"name": "nil"}
    obj = ok(
        api.call(
            "POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles", {**role, "rules": None}
        ),
        201,
    )
    assert "rules" in obj and obj["rules"] is None
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "none", "labels": {}},
        "addressType": "IPv4",
        "endpoints": [],
        "ports": [],
    }
    obj = ok(api.call("POST", f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices", eps), 201)
    assert obj["endpoints"] == [] and obj["ports"] == [] and "labels" not in obj["metadata"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nothing"}, "spec": {"containers": []}}
    r = api.call("POST", f"/api/v1/namespaces/{NS}/pods", pod)
    assert r.status == 422 and "spec.containers" in r.body["message"], r.raw


def test_secret_empty_data_and_string_data(api: Client) -> None:
    sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "blank"}, "data": {}, "stringData": {}}
    obj = ok(api.call("POST", f"/api/v1/namespaces/{NS}/secrets", sec), 201)
    assert "data" not in obj and "stringData" not in obj and obj["type"] == "Opaque"


# ---------------------------------------------------------------------------- updates and patches
def test_removing_the_last_label_leaves_no_labels_field(k: Kubectl) -> None:
    k("create", "configmap", "labelled", "-n", NS)
    k("label", "configmap", "labelled", "-n", NS, "one=1")
    k("label", "configmap", "labelled", "-n", NS, "one-")
    obj = k.get_json("configmap", "labelled", "-n", NS)
    assert "labels" not in obj["metadata"], obj["metadata"]
    k("annotate", "configmap", "labelled", "-n", NS, "note=x")
    k("annotate", "configmap", "labelled", "-n", NS, "note-")
    assert "annotations" not in k.get_json("configmap", "labelled", "-n", NS)["metadata"]


@pytest.mark.parametrize(
    ("headers", "patch"),
    [
        (MERGE, {"spec": {"template": {"spec": {"tolerations": [], "nodeSelector": {}}}}}),
        (SMP, {"spec": {"template": {"spec": {"tolerations": [], "nodeSelector": {}}}}}),
        (
            JSONPATCH,
            [
                {"op": "add", "path": "/spec/template/spec/tolerations", "value": []},
                {"op": "add", "path": "/metadata/finalizers", "value": []},
            ],
        ),
    ],
    ids=["merge", "strategic", "json"],
)
def test_a_patch_adding_only_empty_lists_changes_nothing(
    api: Client, headers: dict[str, str], patch: Any
) -> None:
    """The patched object encodes like the stored one: no write, no new resourceVersion, no
    generation bump, no managedFields entry for the patcher."""
    name = f"noop-{headers['Content-Type'].split('/')[1].split('-')[0]}"
    before = ok(api.call("POST", deploy_path(), deployment(name)), 201)
    after = ok(api.call("PATCH", deploy_path(name) + "?fieldManager=noop", patch, headers=headers))
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == 1
    assert "tolerations" not in after["spec"]["template"]["spec"]
    assert all(e["manager"] != "noop" for e in after["metadata"]["managedFields"])


def test_put_with_empty_lists_does_not_bump_generation(api: Client) -> None:
    cur = ok(api.call("POST", deploy_path(), deployment("put-empties")), 201)
    cur["spec"]["template"]["spec"]["containers"][0]["ports"] = []
    cur["spec"]["template"]["spec"]["volumes"] = []
    cur["metadata"]["labels"] = {}
    after = ok(api.call("PUT", deploy_path("put-empties"), cur))
    assert after["metadata"]["generation"] == 1
    assert after["metadata"]["resourceVersion"] == cur["metadata"]["resourceVersion"]
    assert "ports" not in after["spec"]["template"]["spec"]["containers"][0]


def test_status_write_drops_empty_conditions(api: Client) -> None:
    cur = ok(api.call("POST", deploy_path(), deployment("status-empties")), 201)
    cur["status"] = {"replicas": 0, "conditions": []}
    after = ok(api.call("PUT", deploy_path("status-empties") + "/status", cur))
    assert "conditions" not in after["status"]


def test_managed_fields_reset_still_works(api: Client) -> None:
    """`metadata.managedFields: []` asks the field manager to clear them (it sees the decoded, non-nil
    empty list before encoding), not to be dropped as an empty list."""
    ok(api.call("POST", cm_path(), {"metadata": {"name": "reset"}, "data": {"a": "b"}}), 201)
    assert ok(api.call("GET", cm_path("reset")))["metadata"]["managedFields"]
    obj = ok(api.call("PATCH", cm_path("reset"), {"metadata": {"managedFields": []}}, headers=MERGE))
    assert "managedFields" not in obj["metadata"] and obj["data"] == {"a": "b"}


def test_server_side_apply_of_empty_lists(api: Client) -> None:
    body = deployment("applied", ports=[], args=[], securityContext={})
    body["metadata"]["labels"] = {}
    obj = ok(
        api.call("PATCH", deploy_path("applied") + "?fieldManager=ssa", json.dumps(body), headers=APPLY), 201
    )
    c = obj["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in c and "args" not in c and c["securityContext"] == {}
    assert "labels" not in obj["metadata"]
    # applying the same configuration again changes nothing
    again = ok(
        api.call("PATCH", deploy_path("applied") + "?fieldManager=ssa", json.dumps(body), headers=APPLY)
    )
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


# ---------------------------------------------------------------------------- custom resources
def test_custom_resources_keep_empty_values_but_not_in_metadata(api: Client) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.s15.example.com"},
        "spec": {
            "group": "s15.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "items": {"type": "array", "items": {"type": "string"}},
                                        "extra": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    ok(api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd), 201)
    path = f"/apis/s15.example.com/v1/namespaces/{NS}/widgets"
    deadline = time.monotonic() + 10
    while api.call("GET", path).status != 200:
        assert time.monotonic() < deadline, "the CRD was not established"
        time.sleep(0.1)
    cr = {
        "apiVersion": "s15.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {}, "finalizers": []},
        "spec": {"items": [], "extra": {}},
    }
    obj = ok(api.call("POST", path, cr), 201)
    assert obj["spec"] == {"items": [], "extra": {}}
    assert "labels" not in obj["metadata"] and "finalizers" not in obj["metadata"]


# ---------------------------------------------------------------------------- quota and generateName
def test_quota_refusal_of_generate_name_names_the_generated_object(api: Client) -> None:
    rq = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "cms"},
        "spec": {"hard": {"configmaps": "1"}},
    }
    ns = "s15-quota"
    ok(api.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), 201)
    cur = ok(api.call("POST", f"/api/v1/namespaces/{ns}/resourcequotas", rq), 201)
    # what the quota controller would have recorded: the namespace already holds one configmap
    cur["status"] = {"hard": {"configmaps": "1"}, "used": {"configmaps": "1"}}
    ok(api.call("PUT", f"/api/v1/namespaces/{ns}/resourcequotas/cms/status", cur))
    r = api.call("POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"generateName": "gen-"}})
    assert r.status == 403 and r.body["reason"] == "Forbidden", r.raw
    name = r.body["details"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5
    assert r.body["message"] == (
        f'configmaps "{name}" is forbidden: exceeded quota: cms, requested: configmaps=1, '
        "used: configmaps=1, limited: configmaps=1"
    )


def test_invalid_generate_name_create_names_the_generated_object(api: Client) -> None:
    """kube's BeforeCreate names the object before validation: the 422 names the generated name,
    and an invalid generateName is reported on both generateName and the name made from it."""
    bad = {"metadata": {"generateName": "gen-"}, "data": {"bad key!": "x"}}
    r = api.call("POST", f"/api/v1/namespaces/{NS}/configmaps", bad)
    assert r.status == 422 and r.body["reason"] == "Invalid", r.raw
    name = r.body["details"]["name"]
    assert name.startswith("gen-") and len(name) == len("gen-") + 5, name
    expected = f'ConfigMap "{name}" is invalid: data[bad key!]: Invalid value'
    assert r.body["message"].startswith(expected), r.raw
    r = api.call("POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"generateName": "Gen-"}})
    assert r.status == 422, r.raw
    fields = sorted(c["field"] for c in r.body["details"]["causes"])
    assert fields == ["metadata.generateName", "metadata.name"], r.raw
    assert r.body["details"]["name"].startswith("Gen-")


# ---------------------------------------------------------------------------- apply on /scale
WORKLOADS = {
    "deployments": ("apps/v1", "Deployment"),
    "statefulsets": ("apps/v1", "StatefulSet"),
    "replicasets": ("apps/v1", "ReplicaSet"),
    "replicationcontrollers": ("v1", "ReplicationController"),
}


def workload(resource: str, name: str) -> dict[str, Any]:
    api_version, kind = WORKLOADS[resource]
    template = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    spec: dict[str, Any] = {"replicas": 1, "template": template}
    spec["selector"] = {"app": name} if kind == "ReplicationController" else {"matchLabels": {"app": name}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def scale_body(name: str, replicas: int) -> str:
    return json.dumps(
        {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": name},
            "spec": {"replicas": replicas},
        }
    )


@pytest.mark.parametrize("resource", list(WORKLOADS))
def test_server_side_apply_of_a_scale(api: Client, resource: str) -> None:
    """The parent's applier of spec.replicas conflicts with a Scale applier (409) until it forces;
    the parent then records the scale applier's `.spec.replicas` as a `subresource: scale` entry
    and the first applier keeps its other fields."""
    api_version, _ = WORKLOADS[resource]
    base = ("/api/v1" if api_version == "v1" else f"/apis/{api_version}") + f"/namespaces/{NS}/{resource}"
    name = f"ssa-{resource[:-1]}"
    ok(
        api.call(
            "PATCH", f"{base}/{name}?fieldManager=owner", json.dumps(workload(resource, name)), headers=APPLY
        ),
        201,
    )
    r = api.call("PATCH", f"{base}/{name}/scale?fieldManager=scaler", scale_body(name, 3), headers=APPLY)
    assert r.status == 409 and r.body["reason"] == "Conflict", r.raw
    assert r.body["message"] == 'Apply failed with 1 conflict: conflict with "owner": .spec.replicas'
    scale = ok(
        api.call(
            "PATCH", f"{base}/{name}/scale?fieldManager=scaler&force=true", scale_body(name, 3), headers=APPLY
        )
    )
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    parent = ok(api.call("GET", f"{base}/{name}"))
    assert parent["spec"]["replicas"] == 3
    entries = {(e["manager"], e.get("subresource", "")): e for e in parent["metadata"]["managedFields"]}
    scaler = entries[("scaler", "scale")]
    assert scaler["operation"] == "Apply" and scaler["apiVersion"] == api_version
    assert scaler["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    owner = entries[("owner", "")]
    assert "f:replicas" not in owner["fieldsV1"]["f:spec"] and "f:template" in owner["fieldsV1"]["f:spec"]
    # the scale applier applies again without force: it owns the field now
    ok(api.call("PATCH", f"{base}/{name}/scale?fieldManager=scaler", scale_body(name, 2), headers=APPLY))
    assert ok(api.call("GET", f"{base}/{name}"))["spec"]["replicas"] == 2


def test_scale_apply_refusals(api: Client, k: Kubectl) -> None:
    name = "ssa-refusals"
    ok(api.call("POST", deploy_path() + "?fieldManager=creator", deployment(name)), 201)
    r = api.call("PATCH", deploy_path(name) + "/scale", scale_body(name, 2), headers=APPLY)
    assert r.status == 422 and r.body["details"]["causes"][0]["field"] == "fieldManager", r.raw
    # conflicts are found before the Scale is validated; the creator's Update entry is named in the
    # Scale's version, as the scale handler converts it
    r = api.call("PATCH", deploy_path(name) + "/scale?fieldManager=x", scale_body(name, -1), headers=APPLY)
    assert r.status == 409 and r.body["message"] == (
        'Apply failed with 1 conflict: conflict with "creator" using autoscaling/v1: .spec.replicas'
    ), r.raw
    r = api.call(
        "PATCH", deploy_path(name) + "/scale?fieldManager=x&force=1", scale_body(name, -1), headers=APPLY
    )
    assert r.status == 422 and "spec.replicas" in r.body["message"], r.raw
    # kubectl sends the file's own kind to the subresource: not a Scale, refused as kube's
    # versionCheckManager does
    manifest = json.dumps(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": {"replicas": 2}}
    )
    p = k.run(
        "apply", "--server-side", "--subresource=scale", "-n", NS, "-f", "-", input=manifest, check=False
    )
    assert p.returncode != 0 and "invalid object type: apps/v1, Kind=Deployment" in p.stderr, p.stderr
    # kubectl scale (a merge patch on /scale) still works and records an Update entry
    k("scale", "deployment", name, "-n", NS, "--replicas=4")
    obj = k.get_json("deployment", name, "-n", NS, "--show-managed-fields")
    assert obj["spec"]["replicas"] == 4
    assert any(
        e.get("subresource") == "scale" and e["operation"] == "Update"
        for e in obj["metadata"]["managedFields"]
    )
