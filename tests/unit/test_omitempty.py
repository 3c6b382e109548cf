"""The omitempty walk of built-in objects (`apiserver/omitempty.py`) and the scale subresource's
managedFields handler (`fieldmanager.scale_to_subresource` / `scale_to_parent`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vcluster.apiserver import fieldmanager, omitempty, schema

PARENT_PATHS = {"apps/v1": (("f", "spec"), ("f", "replicas"))}


def pruned(obj: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    omitempty.prune(out, group, version, kind)
    return out


def test_pod_drops_empty_lists_and_maps_at_every_depth_and_keeps_structs() -> None:
    pod = {
        "metadata": {"name": "p", "labels": {}, "annotations": None, "finalizers": [], "ownerReferences": []},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "ports": [],
                    "args": [],
                    "command": None,
                    "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
                    "securityContext": {"capabilities": {"add": [], "drop": []}},
                    "resources": {"limits": {}, "claims": []},
                }
            ],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "p", "projected": {"sources": []}}],
            "nodeSelector": {},
            "affinity": {},
        },
        "status": {"conditions": [], "containerStatuses": None},
    }
    out = pruned(pod, "", "v1", "Pod")
    assert out["metadata"] == {"name": "p"}
    c = out["spec"]["containers"][0]
    assert c == {
        "name": "c",
        "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}],
        "securityContext": {"capabilities": {}},
        "resources": {},
    }
    # an empty struct stays; ProjectedVolumeSource.sources has no omitempty
    assert out["spec"]["volumes"] == [
        {"name": "v", "emptyDir": {}},
        {"name": "p", "projected": {"sources": []}},
    ]
    assert out["spec"]["affinity"] == {} and "nodeSelector" not in out["spec"]
    assert out["status"] == {}


def test_required_fields_list_items_and_map_values_stay() -> None:
    spec = {"containers": [], "imagePullSecrets": [{}], "overhead": {}}
    assert pruned({"spec": spec}, "", "v1", "Pod")["spec"] == {"containers": [], "imagePullSecrets": [{}]}
    np = {"spec": {"podSelector": {}, "ingress": [{"from": [], "ports": []}, {}], "egress": []}}
    assert pruned(np, "networking.k8s.io", "v1", "NetworkPolicy")["spec"] == {
        "podSelector": {},
        "ingress": [{}, {}],
    }
    sar = {"spec": {"extra": {"scopes": []}, "groups": []}}
    assert pruned(sar, "authorization.k8s.io", "v1", "SubjectAccessReview")["spec"] == {
        "extra": {"scopes": []}
    }
    role = {"rules": [{"verbs": [], "apiGroups": [], "resources": []}]}
    assert pruned(role, "rbac.authorization.k8s.io", "v1", "ClusterRole") == {"rules": [{"verbs": []}]}
    assert pruned({"rules": None}, "rbac.authorization.k8s.io", "v1", "Role") == {"rules": None}


def test_scalars_and_wrong_types_are_left_to_the_type_check() -> None:
    cm = {"metadata": {"name": "", "generation": 0, "labels": "x"}, "data": [], "immutable": False}
    # `data: []` is the wrong type for a map: the decode check refuses it, the walk only sees []
    assert pruned(cm, "", "v1", "ConfigMap") == {
        "metadata": {"name": "", "generation": 0, "labels": "x"},
        "immutable": False,
    }


def test_recursive_definitions_and_managed_fields() -> None:
    crd = {
        "metadata": {"managedFields": []},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": [],
                            "properties": {
                                "a": {"type": "object", "properties": {}, "enum": [], "default": {}}
                            },
                        }
                    },
                }
            ]
        },
        "status": {"conditions": [], "storedVersions": []},
    }
    out = pruned(crd, "apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    props = out["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert props == {"type": "object", "properties": {"a": {"type": "object", "default": {}}}}
    assert out["status"] == {"conditions": [], "storedVersions": []}  # no omitempty on either
    assert out["metadata"] == {"managedFields": []}  # the field manager's: `[]` means reset


def test_unknown_kinds_and_custom_resource_metadata() -> None:
    obj = {"metadata": {"labels": {}}, "spec": {"items": []}}
    assert pruned(obj, "example.com", "v1", "Widget") == obj
    cr = copy.deepcopy(obj)
    omitempty.prune_object_meta(cr)
    assert cr == {"metadata": {}, "spec": {"items": []}}


def test_kept_lists_match_the_go_struct_tags() -> None:
    """Every list or map field outside `required` whose Go tag lacks omitempty is in `_KEPT`, and
    nothing else: checked against the JSON tags of the kubectl binary's Go types."""
    from vcluster.apiserver import protobuf

    codec = protobuf._codec() if protobuf.protobuf_available() else None
    tags = getattr(codec, "_tags", None)
    if not tags:
        pytest.skip("no kubectl binary with Go struct tags")
    found = set()
    for defname, d in schema.definitions().items():
        msg = tags.get(defname.replace("io.k8s.", "k8s.io.", 1))
        if not msg:
            continue
        by_json = {v[0]: bool(v[1]) for v in msg.values()}
        required = set(d.get("required") or ())
        for prop, sch in (d.get("properties") or {}).items():
            if (
                prop in by_json
                and not by_json[prop]
                and prop not in required
                and omitempty._container_kind(sch)
            ):
                found.add((defname, prop))
    in_kubectl = {k for k in omitempty._KEPT if not k[0].startswith("io.k8s.apiextensions-apiserver.")}
    assert found == in_kubectl


def test_scale_to_subresource_keeps_only_replicas_owners() -> None:
    parent = [
        {
            "manager": "owner",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}},
        },
        {
            "manager": "labeler",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": "2026-01-01T00:00:01Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}},
        },
    ]
    assert fieldmanager.scale_to_subresource(parent, PARENT_PATHS) == [
        {
            "manager": "owner",
            "operation": "Apply",
            "apiVersion": "autoscaling/v1",
            "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]


def test_scale_to_parent_steals_replicas_and_records_the_scale_owner() -> None:
    parent = [
        {
            "manager": "owner",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}, "f:paused": {}}},
        },
        {
            "manager": "old",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        },
        {
            "manager": "other-version",
            "operation": "Update",
            "apiVersion": "apps/v1beta1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:paused": {}}},
        },
    ]
    scale = [
        {
            "manager": "scaler",
            "operation": "Apply",
            "apiVersion": "autoscaling/v1",
            "time": "2026-01-01T00:00:02Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
            "subresource": "scale",
        }
    ]
    out = fieldmanager.scale_to_parent(parent, scale, PARENT_PATHS, "apps/v1")
    assert out == [
        {
            "manager": "owner",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:paused": {}}},
        },
        {
            "manager": "scaler",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
            "subresource": "scale",
        },
    ]
    # an applier that still owns the replicas in the Scale keeps its parent entry as it is
    kept = fieldmanager.scale_to_parent(
        parent[:1], fieldmanager.scale_to_subresource(parent[:1], PARENT_PATHS), PARENT_PATHS, "apps/v1"
    )
    assert kept == parent[:1]


def test_scale_handler_refuses_undecodable_entries() -> None:
    with pytest.raises(fieldmanager.StatusError) as e:
        fieldmanager.scale_to_subresource([{"operation": "Bogus"}], PARENT_PATHS)
    assert e.value.code == 500 and "failed to decode managed fields" in e.value.message
