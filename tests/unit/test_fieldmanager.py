"""Server-side apply and managedFields (vcluster.apiserver.fieldmanager).

Cases are taken from upstream tests; each cites its source:
  SMD  = sigs.k8s.io/structured-merge-diff/v4 (typed/toset_test.go, fieldpath/serialize_test.go,
         merge/*_test.go)
  INT  = kubernetes test/integration/apiserver/apply/apply_test.go
  FM   = k8s.io/apimachinery/pkg/util/managedfields/internal (conflict.go, fieldmanager.go,
         skipnonapplied.go, lastappliedmanager.go, capmanagers.go, stripmeta.go)
  REAL = managedFields a 1.32 kube-apiserver returns for the same request.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcluster.apiserver import fieldmanager as fm
from vcluster.apiserver.errors import StatusError

T0, T1, T2, T3 = (f"2024-05-01T10:00:0{i}Z" for i in range(4))
LAC = fm.LAST_APPLIED_ANNOTATION


def P(*parts: Any) -> fm.Path:
    """A path from readable parts: "spec" -> f:spec, {"name": "c"} -> k:, ("v", x) -> v:, int -> i:."""
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(("f", p))
        elif isinstance(p, dict):
            out.append(("k", tuple(sorted((k, fm.freeze(v)) for k, v in p.items()))))
        elif isinstance(p, tuple):
            out.append(("v", fm.freeze(p[1])))
        else:
            out.append(("i", p))
    return tuple(out)


def dump(v: Any) -> str:
    return orjson.dumps(v).decode()


def copy(v: Any) -> Any:
    return orjson.loads(orjson.dumps(v))


def deployment(**spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "nginx", "image": "nginx:latest"}])
    d = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": containers}},
        },
    }
    d["spec"].update(spec)
    return d


def configmap(data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "test-cm", "namespace": "default"}
    if labels is not None:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data}


def apply_dep(live: Any, body: Any, manager: str, now: str = T0, force: bool = False) -> dict[str, Any]:
    return fm.apply(live, body, manager, force, group="apps", version="v1", kind="Deployment", now=now)


def apply_core(
    live: Any, body: Any, manager: str, kind: str, now: str = T0, force: bool = False, **kw: Any
) -> dict[str, Any]:
    return fm.apply(live, body, manager, force, group="", version="v1", kind=kind, now=now, **kw)


def update_core(old: Any, new: dict[str, Any], manager: str, kind: str, now: str = T1, **kw: Any) -> None:
    fm.update_managed_fields(old, new, manager, group="", version="v1", kind=kind, now=now, **kw)


def entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    md = obj.get("metadata")
    return md.get("managedFields", []) if isinstance(md, dict) else []


def fields_v1(obj: dict[str, Any], manager: str) -> str:
    for e in entries(obj):
        if e.get("manager") == manager:
            return dump(e["fieldsV1"])
    raise AssertionError(f"no entry for {manager}: {entries(obj)}")


def persisted(obj: dict[str, Any]) -> dict[str, Any]:
    """What the store would hand back (the tests emulate the uid a create assigns)."""
    out = copy(obj)
    out["metadata"].setdefault("uid", "6f0c5d1e-0000-4000-8000-000000000001")
    return out


def conflict_of(fn: Any) -> StatusError:
    with pytest.raises(StatusError) as ei:
        fn()
    assert ei.value.code == 409, ei.value
    return ei.value


# ============================================================================ FieldsV1
CONTRACT_FIELDS = (
    '{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":'
    '{"k:{\\"name\\":\\"c\\"}":{".":{},"f:image":{},"f:name":{}}}}}}}'
)


def test_fields_v1_round_trip_exact_bytes() -> None:
    # contract §7.5 example; SMD fieldpath/serialize_test.go round-trips byte for byte.
    fs = fm.from_fields_v1(json.loads(CONTRACT_FIELDS))
    assert fs == {
        P("spec", "replicas"),
        P("spec", "template", "spec", "containers", {"name": "c"}),
        P("spec", "template", "spec", "containers", {"name": "c"}, "image"),
        P("spec", "template", "spec", "containers", {"name": "c"}, "name"),
    }
    assert dump(fm.to_fields_v1(fs)) == CONTRACT_FIELDS


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Order: field names, then keys, values, indexes (SMD PathElement.Compare), "." first.
        (
            {P("spec", "b"), P("spec", "a"), P("spec", "ports", {"port": 80, "protocol": "TCP"})},
            '{"f:spec":{"f:a":{},"f:b":{},"f:ports":{"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{}}}}',
        ),
        # Multi-key elements serialize their keys sorted by name (SMD KeyByFields).
        (
            {P("spec", "ports", {"protocol": "UDP", "containerPort": 53})},
            '{"f:spec":{"f:ports":{"k:{\\"containerPort\\":53,\\"protocol\\":\\"UDP\\"}":{}}}}',
        ),
        # Sets: v: elements, numbers < strings (SMD value.Compare).
        (
            {P("metadata", "finalizers", ("v", "b")), P("metadata", "finalizers", ("v", "a"))},
            '{"f:metadata":{"f:finalizers":{"v:\\"a\\"":{},"v:\\"b\\"":{}}}}',
        ),
        ({P("x", ("v", "s")), P("x", ("v", 2)), P("x", 0)}, '{"f:x":{"v:2":{},"v:\\"s\\"":{},"i:0":{}}}'),
        # Go's encoder escapes HTML characters inside k: and v: JSON.
        ({P("l", ("v", "<a&b>"))}, '{"f:l":{"v:\\"\\\\u003ca\\\\u0026b\\\\u003e\\"":{}}}'),
    ],
)
def test_fields_v1_serialization_order(fields: fm.FieldSet, expected: str) -> None:
    assert dump(fm.to_fields_v1(fields)) == expected
    assert fm.from_fields_v1(json.loads(expected)) == fields


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({}, set()),
        ({".": {}}, set()),  # a top-level "." means nothing
        ({"f:a": None}, {P("a")}),
        ({"f:a": {".": {}}}, {P("a")}),
        ({"f:a": {"f:b": {}}}, {P("a", "b")}),
        ({"x:unknown": {}, "f:a": {}}, {P("a")}),  # unknown element types are dropped (readIterV1)
        ({"f:a": {"x:unknown": {}}}, {P("a")}),  # ... and their parent is then a member
        ({"f:": {}}, {P("")}),
        ({"i:-1": {}}, {P(-1)}),
    ],
)
def test_from_fields_v1_members(doc: dict[str, Any], expected: fm.FieldSet) -> None:
    assert fm.from_fields_v1(doc) == expected


@pytest.mark.parametrize(
    "doc",
    [
        {"k:notjson": {}},
        {"k:[1]": {}},
        {"v:{": {}},
        {"i:abc": {}},
        {"f": {}},
        {"fx": {}},
        {"f:a": 1},
        {"f:a": []},
        [],
        "x",
    ],
)
def test_from_fields_v1_errors(doc: Any) -> None:
    with pytest.raises(fm.FieldsV1Error):
        fm.from_fields_v1(doc)


def test_path_string() -> None:
    # Conflict fields as kube-apiserver prints them (SMD PathElement.String / value.ToString).
    assert fm.path_string(P("spec", "replicas")) == ".spec.replicas"
    assert (
        fm.path_string(P("spec", "template", "spec", "containers", {"name": "c"}, "image"))
        == '.spec.template.spec.containers[name="c"].image'
    )
    assert fm.path_string(P("spec", "ports", {"port": 80, "protocol": "TCP"})) == (
        '.spec.ports[port=80,protocol="TCP"]'
    )
    assert fm.path_string(P("metadata", "finalizers", ("v", "x"))) == '.metadata.finalizers[="x"]'
    assert fm.path_string(P("spec", "args", 0)) == ".spec.args[0]"


# ============================================================================ fields_of (ToFieldSet)
def test_fields_of_deployment_uses_list_map_keys() -> None:
    dep = deployment(
        containers=[
            {
                "name": "c",
                "image": "x",
                "args": ["a", "b"],
                "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                "env": [{"name": "A", "value": "1"}],
            }
        ],
        strategy={"type": "Recreate"},
    )
    dep["spec"]["template"]["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    fs = fm.fields_of(dep, fm.type_for("apps", "v1", "Deployment"))
    c = ("spec", "template", "spec", "containers", {"name": "c"})
    assert P(*c) in fs and P(*c, "name") in fs and P(*c, "image") in fs
    assert P(*c, "args") in fs and not any(len(p) > len(P(*c, "args")) and p[:6] == P(*c, "args") for p in fs)
    # ports: containerPort+protocol, protocol defaults to TCP (SMD merge/default_keys_test.go)
    assert P(*c, "ports", {"containerPort": 80, "protocol": "TCP"}) in fs
    assert P(*c, "ports", {"containerPort": 80, "protocol": "TCP"}, "containerPort") in fs
    assert P(*c, "ports", {"containerPort": 80, "protocol": "TCP"}, "protocol") not in fs
    assert P(*c, "ports", {"containerPort": 53, "protocol": "UDP"}, "protocol") in fs
    assert P(*c, "env", {"name": "A"}, "value") in fs
    assert P("spec", "template", "spec", "tolerations") in fs  # atomic list: one leaf
    assert P("spec", "selector") in fs  # LabelSelector is an atomic map
    assert P("spec", "selector", "matchLabels") not in fs
    assert P("metadata", "labels", "app") in fs  # labels: granular map
    assert P("spec", "strategy", "type") in fs
    assert P("spec") not in fs and P("spec", "template") not in fs  # struct fields are not members


def test_fields_of_sets_and_duplicates() -> None:
    # SMD typed/toset_test.go: set items once each; duplicated keyed items owned as a whole.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "finalizers": ["a", "b", "a"]},
        "spec": {"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]},
    }
    fs = fm.fields_of(pod, fm.type_for("", "v1", "Pod"))
    assert {P("metadata", "finalizers", ("v", "a")), P("metadata", "finalizers", ("v", "b"))} <= fs
    assert P("spec", "containers", {"name": "c"}) in fs
    assert P("spec", "containers", {"name": "c"}, "image") not in fs


def test_fields_of_service_ports_and_configmap_data() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "a"}},
    }
    fs = fm.fields_of(svc, fm.type_for("", "v1", "Service"))
    assert P("spec", "ports", {"port": 80, "protocol": "TCP"}, "targetPort") in fs
    # ServiceSpec.selector is `+mapType=atomic` in 1.32: one leaf
    assert P("spec", "selector") in fs and P("spec", "selector", "app") not in fs
    cm = configmap({"a": "1", "b": "2"})
    assert {P("data", "a"), P("data", "b")} <= fm.fields_of(cm, fm.type_for("", "v1", "ConfigMap"))


def test_fields_of_custom_resource_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["id"],
                        "items": {"type": "object", "properties": {"id": {"type": "string"}}},
                    },
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    node = fm.type_from_openapi(schema)
    cr = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"x": "y"}},
        "spec": {"size": 3, "items": [{"id": "a"}], "extra": {"free": {"form": 1}, "list": [1]}},
    }
    fs = fm.fields_of(cr, node)
    assert P("spec", "size") in fs and P("spec", "items", {"id": "a"}, "id") in fs
    assert P("metadata", "labels", "x") in fs
    assert {P("spec", "extra", "free"), P("spec", "extra", "free", "form"), P("spec", "extra", "list")} <= fs


# ============================================================================ update_managed_fields
KUBECTL_CREATE_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "nginx",
        "namespace": "default",
        "labels": {"app": "nginx"},
        "creationTimestamp": None,
    },
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": {"app": "nginx"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx",
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "Always",
                    }
                ],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    },
    "status": {},
}

# REAL: `kubectl create deployment nginx --image=nginx` against kube-apiserver 1.32.
REAL_CREATE_FIELDS = (
    '{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},'
    '"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":'
    '{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":'
    '{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":'
    '{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},'
    '"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},'
    '"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},'
    '"f:terminationGracePeriodSeconds":{}}}}}'
)


def test_create_records_update_manager_like_kube_apiserver() -> None:
    obj = copy(KUBECTL_CREATE_DEPLOYMENT)
    fm.update_managed_fields(
        None,
        obj,
        "kubectl-create",
        group="apps",
        version="v1",
        kind="Deployment",
        now=T0,
        ignored=fm.reset_fields(True),
    )
    (e,) = entries(obj)
    assert list(e) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert (e["manager"], e["operation"], e["apiVersion"], e["time"], e["fieldsType"]) == (
        "kubectl-create",
        "Update",
        "apps/v1",
        T0,
        "FieldsV1",
    )
    assert dump(e["fieldsV1"]) == REAL_CREATE_FIELDS


def test_update_takes_changed_fields_from_other_managers() -> None:
    # INT TestApplyManagedFields: apply, then two merge patches by "updater" one second apart.
    live = persisted(
        apply_core(None, configmap({"key": "value"}, {"test-label": "test"}), "apply_test", "ConfigMap")
    )
    new = copy(live)
    new["data"]["new-key"] = "value"
    update_core(live, new, "updater", "ConfigMap", now=T1)
    live2 = persisted(new)
    new2 = copy(live2)
    new2["data"]["key"] = "new value"
    update_core(live2, new2, "updater", "ConfigMap", now=T2)
    assert entries(new2) == [
        {
            "manager": "apply_test",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}},
        },
        {
            "manager": "updater",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T2,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}, "f:new-key": {}}},
        },
    ]


def test_update_without_changes_keeps_time_and_adds_nobody() -> None:
    live = persisted(apply_core(None, configmap({"a": "1"}), "apply_test", "ConfigMap"))
    new = copy(live)
    update_core(live, new, "kubectl-edit", "ConfigMap", now=T3)
    assert entries(new) == entries(live)


def test_update_removal_drops_field_from_owner_and_empty_entry() -> None:
    live = persisted(apply_core(None, configmap({"a": "1"}), "apply_test", "ConfigMap"))
    new = copy(live)
    del new["data"]
    update_core(live, new, "kubectl-edit", "ConfigMap")
    assert "managedFields" not in new["metadata"]  # nobody owns anything any more


@pytest.mark.parametrize("reset", [[], [{}], [{"manager": "", "time": None}]])
def test_update_can_reset_managed_fields(reset: list[Any]) -> None:
    # INT TestClearManagedFieldsWithUpdate / WithUpdateEmptyList; FM isResetManagedFields.
    live = persisted(apply_core(None, configmap({"a": "1"}, {"l": "v"}), "apply_test", "ConfigMap"))
    new = copy(live)
    new["metadata"]["managedFields"] = reset
    update_core(live, new, "kubectl-edit", "ConfigMap")
    assert "managedFields" not in new["metadata"]
    # ... and an untracked object stays untracked on later updates (skipNonApplied).
    later = copy(new)
    later["data"]["b"] = "2"
    update_core(persisted(new), later, "kubectl-edit", "ConfigMap")
    assert "managedFields" not in later["metadata"]


def test_update_with_invalid_managed_fields_falls_back_to_live() -> None:
    # INT TestErrorsDontFail / TestErrorsDontFailUpdate: an empty fieldsType is not an error.
    bad = [
        {"manager": "apply_test", "operation": "Apply", "apiVersion": "v1", "fieldsType": "", "fieldsV1": {}}
    ]
    obj = configmap({"key": "value"})
    obj["metadata"]["managedFields"] = bad
    update_core(None, obj, "apply_test", "ConfigMap", now=T0)
    assert [(e["manager"], e["operation"]) for e in entries(obj)] == [("apply_test", "Update")]
    live = persisted(obj)
    new = copy(live)
    new["metadata"]["managedFields"] = bad
    new["data"]["key"] = "v2"
    update_core(live, new, "apply_test", "ConfigMap", now=T1)
    assert [(e["manager"], e["time"]) for e in entries(new)] == [("apply_test", T1)]


def test_update_honours_client_managed_fields() -> None:
    # kubectl's client-side-apply -> server-side-apply migration rewrites managedFields with a
    # JSON patch (contract §7.5): the valid entries it sends are kept as they are.
    live = persisted(apply_core(None, configmap({"a": "1"}), "x", "ConfigMap"))
    new = copy(live)
    new["metadata"]["managedFields"] = [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2024-05-01T12:00:00+02:00",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}},
        }
    ]
    update_core(live, new, "kubectl", "ConfigMap")
    assert entries(new) == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2024-05-01T10:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}},
        }
    ]


def test_status_subresource_update_keeps_live_managed_fields() -> None:
    # INT TestApplyDoesNotChangeManagedFieldsViaSubresources.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "just-a-pod", "namespace": "default"},
        "spec": {"containers": [{"name": "test-container-a", "image": "test-image-one"}]},
    }
    live = persisted(apply_core(None, pod, "apply_test", "Pod", ignored=fm.reset_fields(True)))
    new = copy(live)
    new["metadata"]["managedFields"] = [
        {
            "manager": "testing",
            "operation": "Update",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:containers": {'k:{"name":"testing"}': {".": {}, "f:image": {}}}}},
        }
    ]
    new["status"] = {"conditions": [{"type": "MyStatus", "status": "true"}]}
    update_core(
        live,
        new,
        "update_managedfields_test",
        "Pod",
        subresource="status",
        ignored=fm.reset_fields(True, "status"),
    )
    got = entries(new)
    assert len(got) == 2 and got[0] == entries(live)[0]
    assert got[1]["manager"] == "update_managedfields_test" and got[1]["subresource"] == "status"
    assert list(got[1]) == [
        "manager",
        "operation",
        "apiVersion",
        "time",
        "fieldsType",
        "fieldsV1",
        "subresource",
    ]
    assert dump(got[1]["fieldsV1"]) == (
        '{"f:status":{"f:conditions":{".":{},"k:{\\"type\\":\\"MyStatus\\"}":'
        '{".":{},"f:status":{},"f:type":{}}}}}'
    )


def test_cap_update_managers_into_ancient_changes() -> None:
    # FM capmanagers.go: at most 10 update entries; the oldest merge into "ancient-changes".
    obj = configmap({"k0": "v"})
    update_core(None, obj, "m00", "ConfigMap", now="2024-05-01T10:00:00Z")
    for i in range(1, 12):
        new = copy(persisted(obj))
        new["data"][f"k{i}"] = "v"
        update_core(persisted(obj), new, f"m{i:02d}", "ConfigMap", now=f"2024-05-01T10:00:{i:02d}Z")
        obj = new
    managers = [e["manager"] for e in entries(obj)]
    assert len(managers) == 10 and "ancient-changes" in managers
    bucket = next(e for e in entries(obj) if e["manager"] == "ancient-changes")
    # m00 created `data` (REAL: `kubectl create configmap` owns `"f:data":{".":{},...}`)
    assert bucket["fieldsV1"] == {"f:data": {".": {}, "f:k0": {}, "f:k1": {}, "f:k2": {}}}
    assert bucket["time"] == "2024-05-01T10:00:02Z"
    assert not {"m00", "m01", "m02"} & set(managers) and "m03" in managers


def test_update_does_not_own_empty_omitempty_maps() -> None:
    # Go drops `data: {}` (omitempty) from the typed object, so nobody owns it and an object whose
    # create owned nothing stays untracked (FM skipnonapplied.go).
    obj = configmap({})
    update_core(None, obj, "kubectl-create", "ConfigMap", now=T0)
    assert "managedFields" not in obj["metadata"]
    new = copy(persisted(obj))
    new["data"]["a"] = "1"
    update_core(persisted(obj), new, "kubectl-edit", "ConfigMap")
    assert "managedFields" not in new["metadata"]


def test_update_never_raises_and_drops_garbage() -> None:
    new = configmap({"a": "1"})
    new["metadata"]["managedFields"] = "not a list"
    update_core(None, new, "x", "ConfigMap", now=T0)
    assert [e["manager"] for e in entries(new)] == ["x"]
    update_core(None, {"metadata": "weird"}, "x", "ConfigMap")  # no metadata: nothing to do


# ============================================================================ apply
def test_apply_creates_with_apply_entry() -> None:
    # INT TestApplyAlsoCreates / TestApplyManagedFields (first step).
    obj = apply_core(None, configmap({"key": "value"}, {"test-label": "test"}), "apply_test", "ConfigMap")
    assert obj["data"] == {"key": "value"}
    assert entries(obj) == [
        {
            "manager": "apply_test",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            # an applier owns what it sent: struct fields (data, labels) are not members, no "."
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}},
        }
    ]


def test_apply_contract_example_fields() -> None:
    body = deployment(containers=[{"name": "c", "image": "nginx"}])
    del body["metadata"]["labels"]
    del body["spec"]["selector"]
    del body["spec"]["template"]["metadata"]
    obj = apply_dep(None, body, "kubectl")
    assert dump(entries(obj)[0]["fieldsV1"]) == CONTRACT_FIELDS


def test_apply_of_only_metadata_name_leaves_no_entry() -> None:
    # INT TestApplyRemovesEmptyManagedFields; FM stripmeta.go.
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm", "namespace": "default"}}
    obj = apply_core(None, body, "apply_test", "ConfigMap")
    assert "managedFields" not in obj["metadata"]
    again = apply_core(persisted(obj), body, "apply_test", "ConfigMap", now=T1)
    assert "managedFields" not in again["metadata"]


def test_reapply_same_config_changes_nothing() -> None:
    # INT TestNoOpApplyWithEmptyMap / TestNoopChangeCreationTime: same object, same time.
    live = persisted(apply_dep(None, deployment(), "apply_test"))
    again = apply_dep(live, deployment(), "apply_test", now=T2)
    assert again == live


def test_reapply_removes_fields_the_applier_dropped() -> None:
    # INT TestApplyRemoveContainerPort; SMD merge "remove" cases.
    body = deployment(
        containers=[
            {"name": "nginx", "image": "nginx:latest", "ports": [{"containerPort": 80, "protocol": "TCP"}]}
        ]
    )
    live = persisted(apply_dep(None, body, "apply_test"))
    body2 = deployment()
    del body2["metadata"]["labels"]
    obj = apply_dep(live, body2, "apply_test", now=T1)
    assert "ports" not in obj["spec"]["template"]["spec"]["containers"][0]
    assert "labels" not in obj["metadata"]
    assert "f:ports" not in fields_v1(obj, "apply_test")
    assert entries(obj)[0]["time"] == T1


def test_reapply_keeps_dropped_field_owned_by_another_manager() -> None:
    # SMD merge/multiple_appliers_test.go: shared ownership survives one applier leaving.
    live = persisted(apply_dep(None, deployment(), "a"))
    live = persisted(apply_dep(live, deployment(), "b", now=T1))  # same values: no conflict
    assert {e["manager"] for e in entries(live)} == {"a", "b"}
    body = deployment()
    del body["spec"]["replicas"]
    obj = apply_dep(live, body, "a", now=T2)
    assert obj["spec"]["replicas"] == 3
    assert "f:replicas" not in fields_v1(obj, "a") and "f:replicas" in fields_v1(obj, "b")


def test_reapply_keeps_dropped_field_taken_by_an_updater() -> None:
    # SMD merge/multiple_appliers_test.go "apply_update_apply": an Update took the field.
    live = persisted(apply_core(None, configmap({"a": "1", "b": "2"}), "applier", "ConfigMap"))
    new = copy(live)
    new["data"]["a"] = "edited"
    update_core(live, new, "kubectl-edit", "ConfigMap")
    obj = apply_core(persisted(new), configmap({"b": "2"}), "applier", "ConfigMap", now=T2)
    assert obj["data"] == {"a": "edited", "b": "2"}
    assert fields_v1(obj, "kubectl-edit") == '{"f:data":{"f:a":{}}}'
    assert fields_v1(obj, "applier") == '{"f:data":{"f:b":{}}}'


@pytest.mark.parametrize(
    ("first", "message", "field"),
    [
        # FM conflict.go printManager: appliers are printed by name only ...
        ("apply", 'Apply failed with 1 conflict: conflict with "a": .spec.replicas', 'conflict with "a"'),
        # ... updaters with "using <apiVersion>" (the contract's kubectl example).
        (
            "update",
            'Apply failed with 1 conflict: conflict with "a" using apps/v1: .spec.replicas',
            'conflict with "a" using apps/v1',
        ),
    ],
)
def test_conflict_message_and_causes(first: str, message: str, field: str) -> None:
    if first == "apply":
        live = persisted(apply_dep(None, deployment(), "a"))
    else:
        live = deployment()
        fm.update_managed_fields(None, live, "a", group="apps", version="v1", kind="Deployment", now=T0)
        live = persisted(live)
    err = conflict_of(lambda: apply_dep(live, deployment(replicas=5), "b", now=T1))
    assert err.reason == "Conflict"
    assert err.message == message
    assert err.status()["details"] == {
        "causes": [{"reason": "FieldManagerConflict", "message": field, "field": ".spec.replicas"}]
    }


def test_conflicts_with_several_managers_are_grouped() -> None:
    # FM conflict.go getConflictMessage (sorted managers, "conflicts with" lines, "- path").
    live = persisted(apply_dep(None, deployment(), "x-applier"))
    upd = copy(live)
    upd["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    fm.update_managed_fields(live, upd, "kubectl-set", group="apps", version="v1", kind="Deployment", now=T1)
    live = persisted(upd)
    body = deployment(replicas=9, containers=[{"name": "nginx", "image": "nginx:2"}])
    body["metadata"]["labels"]["app"] = "other"
    err = conflict_of(lambda: apply_dep(live, body, "b", now=T2))
    assert err.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "kubectl-set" using apps/v1:\n'
        '- .spec.template.spec.containers[name="nginx"].image\n'
        'conflicts with "x-applier":\n'
        "- .metadata.labels.app\n"
        "- .spec.replicas"
    )
    assert [(c.message, c.field) for c in err.causes] == [
        ('conflict with "kubectl-set" using apps/v1', '.spec.template.spec.containers[name="nginx"].image'),
        ('conflict with "x-applier"', ".metadata.labels.app"),
        ('conflict with "x-applier"', ".spec.replicas"),
    ]


def test_conflict_with_status_subresource_manager() -> None:
    # FM conflict.go: `"<mgr>" with subresource "status" using v1`.
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }
    live = persisted(apply_core(None, svc, "a", "Service", ignored=fm.reset_fields(True)))
    new = copy(live)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
    update_core(live, new, "cloud", "Service", subresource="status", ignored=fm.reset_fields(True, "status"))
    live = persisted(new)
    body = copy(svc)
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "10.9.9.9"}]}}
    err = conflict_of(
        lambda: apply_core(
            live, body, "b", "Service", subresource="status", ignored=fm.reset_fields(True, "status")
        )
    )
    assert err.message == (
        'Apply failed with 1 conflict: conflict with "cloud" with subresource "status" using v1: '
        ".status.loadBalancer.ingress"
    )


def test_force_takes_ownership() -> None:
    live = persisted(apply_dep(None, deployment(), "a"))
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment"},
        "spec": {"replicas": 5},
    }
    obj = apply_dep(live, body, "hpa", now=T1, force=True)
    assert obj["spec"]["replicas"] == 5
    assert "f:replicas" not in fields_v1(obj, "a")
    assert fields_v1(obj, "hpa") == '{"f:spec":{"f:replicas":{}}}'
    # the previous owner re-applying its old value now conflicts with the new owner
    err = conflict_of(lambda: apply_dep(persisted(obj), deployment(), "a", now=T2))
    assert err.message == 'Apply failed with 1 conflict: conflict with "hpa": .spec.replicas'


def test_force_removes_emptied_manager_entry() -> None:
    live = persisted(apply_core(None, configmap({"a": "1"}), "a", "ConfigMap"))
    obj = apply_core(live, configmap({"a": "2"}), "b", "ConfigMap", now=T1, force=True)
    assert [e["manager"] for e in entries(obj)] == ["b"]


def test_list_map_merge_of_containers() -> None:
    # SMD merge/multiple_appliers_test.go (associative list items owned per applier).
    live = persisted(apply_dep(None, deployment(containers=[{"name": "app", "image": "app:1"}]), "a"))
    side = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "sidecar:1"}]}}},
    }
    obj = persisted(apply_dep(live, side, "sidecar_controller", now=T1))
    assert [c["name"] for c in obj["spec"]["template"]["spec"]["containers"]] == ["app", "sidecar"]
    # INT TestApplyConvertsManagedFieldsVersion: the sidecar applier's exact field set.
    body_side = copy(side)
    body_side["metadata"]["labels"] = {"sidecar_version": "release"}
    obj = persisted(apply_dep(obj, body_side, "sidecar_controller", now=T2))
    assert fields_v1(obj, "sidecar_controller") == (
        '{"f:metadata":{"f:labels":{"f:sidecar_version":{}}},"f:spec":{"f:template":{"f:spec":'
        '{"f:containers":{"k:{\\"name\\":\\"sidecar\\"}":{".":{},"f:image":{},"f:name":{}}}}}}}'
    )
    # the first applier drops its container: only the sidecar remains
    obj = apply_dep(obj, deployment(containers=[{"name": "sidecar", "image": "sidecar:1"}]), "a", now=T3)
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "sidecar", "image": "sidecar:1"}]


def test_list_map_merge_of_ports_uses_port_and_protocol() -> None:
    # contract §7.5: container ports are keyed by containerPort+protocol, not containerPort alone.
    live = persisted(
        apply_dep(
            None,
            deployment(containers=[{"name": "dns", "image": "coredns", "ports": [{"containerPort": 53}]}]),
            "a",
        )
    )
    udp = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment"},
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "dns", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}
            }
        },
    }
    obj = apply_dep(live, udp, "b", now=T1)
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 53},
        {"containerPort": 53, "protocol": "UDP"},
    ]


def test_list_map_merge_of_env_by_name_keeps_order() -> None:
    c1 = [{"name": "c", "image": "x", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]
    live = persisted(apply_dep(None, deployment(containers=c1), "a"))
    env2 = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]}
                    ]
                }
            }
        },
    }
    obj = apply_dep(live, env2, "b", now=T1)
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "C", "value": "3"},
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]


def test_set_lists_merge_like_finalizers() -> None:
    # SMD merge/set_test.go: set items are owned one by one.
    def cm(fins: list[str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": fins}}

    live = persisted(apply_core(None, cm(["example.com/a"]), "a", "ConfigMap"))
    live = persisted(apply_core(live, cm(["example.com/b"]), "b", "ConfigMap", now=T1))
    assert live["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert fields_v1(live, "b") == '{"f:metadata":{"f:finalizers":{"v:\\"example.com/b\\"":{}}}}'
    obj = apply_core(live, cm([]), "a", "ConfigMap", now=T2)
    assert obj["metadata"]["finalizers"] == ["example.com/b"]


def test_atomic_lists_are_replaced_and_conflict_whole() -> None:
    # SMD merge/leaf_test.go / atomic lists: args and tolerations are one field.
    c = [{"name": "c", "image": "x", "args": ["--a", "--b"]}]
    body = deployment(containers=c)
    body["spec"]["template"]["spec"]["tolerations"] = [{"key": "k1", "operator": "Exists"}]
    live = persisted(apply_dep(None, body, "a"))
    body2 = copy(body)
    body2["spec"]["template"]["spec"]["containers"][0]["args"] = ["--c"]
    body2["spec"]["template"]["spec"]["tolerations"] = [{"key": "k2", "operator": "Exists"}]
    obj = apply_dep(live, body2, "a", now=T1)
    assert obj["spec"]["template"]["spec"]["containers"][0]["args"] == ["--c"]
    assert obj["spec"]["template"]["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment"},
        "spec": {"template": {"spec": {"tolerations": [{"key": "k3", "operator": "Exists"}]}}},
    }
    err = conflict_of(lambda: apply_dep(persisted(obj), other, "b", now=T2))
    assert err.causes[0].field == ".spec.template.spec.tolerations"


def test_update_after_apply_moves_ownership() -> None:
    live = persisted(apply_dep(None, deployment(), "kubectl"))
    new = copy(live)
    new["spec"]["replicas"] = 7
    fm.update_managed_fields(
        live, new, "kubectl-scale", group="apps", version="v1", kind="Deployment", now=T1
    )
    assert fields_v1(new, "kubectl-scale") == '{"f:spec":{"f:replicas":{}}}'
    assert "f:replicas" not in fields_v1(new, "kubectl")
    assert [e["operation"] for e in entries(new)] == ["Apply", "Update"]


def test_apply_to_untracked_object_conflicts_with_before_first_apply() -> None:
    # FM skipnonapplied.go: existing fields are first given to "before-first-apply".
    live = persisted(configmap({"a": "1"}))
    err = conflict_of(lambda: apply_core(live, configmap({"a": "2"}), "x", "ConfigMap"))
    assert err.message == 'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a'
    obj = apply_core(live, configmap({"a": "1", "b": "2"}), "x", "ConfigMap")
    assert [e["manager"] for e in entries(obj)] == ["x", "before-first-apply"]


def test_kubectl_server_side_apply_takes_over_client_side_apply() -> None:
    # FM lastappliedmanager.go + lastappliedupdater.go: `kubectl apply --server-side` after
    # `kubectl apply`: fields the last-applied annotation describes do not conflict, and the
    # annotation is rewritten from the applied configuration.
    csa = configmap({"a": "1"})
    csa["metadata"]["annotations"] = {LAC: fm._dumps(configmap({"a": "1"}), sort_keys=True) + "\n"}
    obj = copy(csa)
    update_core(None, obj, "kubectl-client-side-apply", "ConfigMap", now=T0)
    live = persisted(obj)
    body = configmap({"a": "2"})
    obj = apply_core(live, body, "kubectl", "ConfigMap", now=T1)
    assert obj["data"] == {"a": "2"}
    assert obj["metadata"]["annotations"][LAC] == (
        '{"apiVersion":"v1","data":{"a":"2"},"kind":"ConfigMap",'
        '"metadata":{"name":"test-cm","namespace":"default"}}\n'
    )
    # another manager gets no such pass
    err = conflict_of(lambda: apply_core(live, body, "other", "ConfigMap", now=T1))
    assert "kubectl-client-side-apply" in err.message


def test_kubectl_takeover_still_conflicts_when_live_diverged() -> None:
    csa = configmap({"a": "1"})
    csa["metadata"]["annotations"] = {LAC: fm._dumps(configmap({"a": "0"}), sort_keys=True) + "\n"}
    update_core(None, csa, "kubectl-client-side-apply", "ConfigMap", now=T0)
    err = conflict_of(lambda: apply_core(persisted(csa), configmap({"a": "2"}), "kubectl", "ConfigMap"))
    assert err.causes[0].field == ".data.a"


def test_status_is_ignored_on_the_main_endpoint() -> None:
    # SMD merge/ignore_test.go + strategy GetResetFields: reset fields are never owned.
    body = deployment()
    body["status"] = {"replicas": 3}
    obj = apply_dep_ignoring(body)
    assert "f:status" not in fields_v1(obj, "a")


def apply_dep_ignoring(body: dict[str, Any]) -> dict[str, Any]:
    return fm.apply(
        None,
        body,
        "a",
        False,
        group="apps",
        version="v1",
        kind="Deployment",
        now=T0,
        ignored=fm.reset_fields(True),
    )


def test_apply_to_status_subresource_records_subresource() -> None:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "deployment"},
        "spec": {"replicas": 9},
        "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]},
    }
    live = persisted(apply_dep(None, deployment(), "a"))
    obj = fm.apply(
        live,
        body,
        "ctrl",
        False,
        group="apps",
        version="v1",
        kind="Deployment",
        now=T1,
        subresource="status",
        ignored=fm.reset_fields(True, "status"),
    )
    e = next(e for e in entries(obj) if e["manager"] == "ctrl")
    assert (e["operation"], e["subresource"], e["apiVersion"]) == ("Apply", "status", "apps/v1")
    assert dump(e["fieldsV1"]) == (
        '{"f:status":{"f:conditions":{"k:{\\"type\\":\\"Available\\"}":{".":{},"f:status":{},'
        '"f:type":{}}},"f:replicas":{}}}'
    )


def test_validate_typed() -> None:
    node = fm.type_for("", "v1", "Pod")
    fm.validate_typed({"spec": {"containers": [{"name": "a"}]}}, node)
    with pytest.raises(fm.SchemaError) as ei:
        fm.validate_typed({"spec": {"containers": [{"name": 1}], "nodeName": ["x"], "x": 1}}, node)
    assert str(ei.value) == (
        "errors:\n"
        "  .spec.containers[name=1].name: expected string, got &value.valueUnstructured{Value:1}\n"
        '  .spec.nodeName: expected string, got &value.valueUnstructured{Value:[]interface {}{"x"}}\n'
        "  .spec.x: field not declared in schema"
    )


def test_apply_on_custom_resource_schema() -> None:
    node = fm.type_from_openapi({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1, "tags": ["a"]},
    }
    obj = fm.apply(
        None, body, "m", False, group="example.com", version="v1", kind="Widget", now=T0, schema=node
    )
    assert dump(entries(obj)[0]["fieldsV1"]) == '{"f:spec":{".":{},"f:size":{},"f:tags":{}}}'


@pytest.mark.parametrize(
    ("mutate", "code", "message"),
    [
        # INT TestApplyFailsWithVersionMismatch; FM versioncheck.go
        (
            lambda b: b.update(apiVersion="extensions/v1beta"),
            400,
            "invalid object type: extensions/v1beta, Kind=Deployment",
        ),
        (lambda b: b.update(kind="StatefulSet"), 400, "invalid object type: apps/v1, Kind=StatefulSet"),
        # FM structuredmerge.go
        (lambda b: b["metadata"].update(managedFields=[]), 400, "metadata.managedFields must be nil"),
        # kubernetes#122480: undeclared fields are a 500 without reason in 1.32
        (
            lambda b: b["spec"].update(foo=1),
            500,
            "failed to create typed patch object (default/deployment; apps/v1, Kind=Deployment): "
            ".spec.foo: field not declared in schema",
        ),
        (
            lambda b: b["spec"]["template"]["spec"]["containers"].append({"image": "x"}),
            500,
            "failed to create typed patch object (default/deployment; apps/v1, Kind=Deployment): "
            ".spec.template.spec.containers: element 1: associative list with keys has an element "
            'that omits key field "name" (and doesn\'t have default value)',
        ),
        (
            lambda b: b["spec"]["template"]["spec"]["containers"].append({"name": "nginx"}),
            500,
            "failed to create typed patch object (default/deployment; apps/v1, Kind=Deployment): "
            '.spec.template.spec.containers: duplicate entries for key [name="nginx"]',
        ),
        (
            lambda b: b["spec"].update(replicas="3"),
            500,
            "failed to create typed patch object (default/deployment; apps/v1, Kind=Deployment): "
            ".spec.replicas: expected numeric (int or float), got *value.valueUnstructured",
        ),
        (
            lambda b: b["metadata"].update(labels=["x"]),
            500,
            "failed to create typed patch object (default/deployment; apps/v1, Kind=Deployment): "
            ".metadata.labels: expected map, got &{[x]}",
        ),
    ],
)
def test_apply_errors(mutate: Any, code: int, message: str) -> None:
    body = deployment()
    mutate(body)
    with pytest.raises(StatusError) as ei:
        apply_dep(None, body, "m")
    assert (ei.value.code, ei.value.message) == (code, message)


def test_apply_with_undecodable_live_managed_fields() -> None:
    live = persisted(configmap({"a": "1"}))
    live["metadata"]["managedFields"] = [{"manager": "x", "operation": "Patch", "apiVersion": "v1"}]
    with pytest.raises(StatusError) as ei:
        apply_core(live, configmap({"a": "1"}), "x", "ConfigMap")
    assert ei.value.code == 500
    assert ei.value.message == "failed to decode managed fields: operation must be `Apply` or `Update`"


def test_apply_does_not_modify_inputs() -> None:
    live = persisted(apply_dep(None, deployment(), "a"))
    body = deployment(replicas=3, containers=[{"name": "nginx", "image": "nginx:2"}])
    live_before, body_before = copy(live), copy(body)
    apply_dep(live, body, "a", now=T1)
    assert live == live_before and body == body_before


# ============================================================================ helpers
def test_ignore_managed_fields_timestamps() -> None:
    old = persisted(apply_core(None, configmap({"a": "1"}), "a", "ConfigMap"))
    new = copy(old)
    new["metadata"]["managedFields"][0]["time"] = T3
    fm.ignore_managed_fields_timestamps(old, new)
    assert new == old
    changed = copy(old)
    changed["metadata"]["managedFields"][0]["time"] = T3
    changed["data"]["a"] = "2"
    fm.ignore_managed_fields_timestamps(old, changed)
    assert changed["metadata"]["managedFields"][0]["time"] == T3


def test_validate_patch_options() -> None:
    # INT TestApplyRequiresFieldManager; apimachinery ValidatePatchOptions.
    with pytest.raises(StatusError) as ei:
        fm.validate_patch_options(True, "", False)
    st_ = ei.value.status()
    assert st_["code"] == 422 and st_["reason"] == "Invalid"
    assert (
        st_["message"]
        == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )
    assert st_["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: is required for apply patch",
            "field": "fieldManager",
        }
    ]
    with pytest.raises(StatusError) as ei:
        fm.validate_patch_options(False, None, True)
    assert ei.value.message == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'
    )
    fm.validate_patch_options(True, "kubectl", True)
    fm.validate_patch_options(False, "", False)
    with pytest.raises(StatusError) as ei:
        fm.validate_patch_options(True, "a\x07b", False)
    assert (
        ei.value.causes[0].message == 'Invalid value: "a\\u0007b": invalid character U+0007 (at position 1)'
    )


def test_manager_from_user_agent() -> None:
    assert fm.manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd") == "kubectl"
    assert fm.manager_from_user_agent("OpenAPI-Generator/33.1.0/python") == "OpenAPI-Generator"
    assert fm.manager_from_user_agent("x" * 200) == "x" * 128
    assert fm.manager_from_user_agent("a\x00b") == "ab"


# ============================================================================ properties
json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=6)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "metadata",
        "spec",
        "status",
        "labels",
        "replicas",
        "template",
        "containers",
        "name",
        "image",
        "ports",
        "containerPort",
        "protocol",
        "env",
        "value",
        "args",
        "finalizers",
        "data",
        "selector",
        "x",
    ]
)
structured = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(field_names, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=structured, meta=structured, live_spec=structured, force=st.booleans())
def test_apply_random_bodies_raise_only_status_errors(
    spec: Any, meta: Any, live_spec: Any, force: bool
) -> None:
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
    live = persisted(apply_dep(None, deployment(), "a"))
    live["spec"] = live_spec if isinstance(live_spec, dict) else live["spec"]
    for target in (None, live):
        try:
            out = apply_dep(target, body, "b", now=T1, force=force)
        except StatusError as e:
            assert e.code in (400, 409, 500)
            continue
        assert isinstance(out, dict)
        orjson.dumps(out)
        for e in entries(out):
            fm.from_fields_v1(e["fieldsV1"])


@settings(max_examples=200, deadline=None)
@given(doc=json_values)
def test_from_fields_v1_random_raises_only_fields_v1_error(doc: Any) -> None:
    try:
        fs = fm.from_fields_v1(doc)
    except fm.FieldsV1Error:
        return
    assert fm.from_fields_v1(fm.to_fields_v1(fs)) == fs


@settings(max_examples=150, deadline=None)
@given(mf=json_values, data=st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3))
def test_update_random_managed_fields_never_raises(mf: Any, data: dict[str, str]) -> None:
    live = persisted(apply_core(None, configmap({"a": "1"}), "a", "ConfigMap"))
    new = copy(live)
    new["metadata"]["managedFields"] = mf
    new["data"] = data
    update_core(live, new, "m", "ConfigMap")
    for e in entries(new):
        fm.from_fields_v1(e["fieldsV1"])


@settings(max_examples=150, deadline=None)
@given(spec=structured, meta=structured)
def test_named_fields_walk_matches_ensure_named(spec: Any, meta: Any) -> None:
    """The one-walk EnsureNamedFieldsAreMembers(ToFieldSet(x)) used by prune equals the set version."""
    node = fm.type_for("apps", "v1", "Deployment")
    obj = {"metadata": meta, "spec": spec}
    assert fm._fields_named(obj, node) == fm._ensure_named(fm.fields_of(obj, node), node)


@settings(max_examples=100, deadline=None)
@given(
    first=st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["1", "2"]), max_size=4),
    second=st.dictionaries(st.sampled_from("abcd"), st.sampled_from(["1", "2"]), max_size=4),
)
def test_two_appliers_invariants(first: dict[str, str], second: dict[str, str]) -> None:
    """Whatever two appliers do to ConfigMap data: force makes the second own all it applied, the
    result holds both configs merged, and no field is owned twice unless the values agree."""
    live = persisted(apply_core(None, configmap(first), "a", "ConfigMap"))
    obj = apply_core(live, configmap(second), "b", "ConfigMap", now=T1, force=True)
    assert obj.get("data", {}) == {**first, **second}
    owned = {m: fm.from_fields_v1(e["fieldsV1"]) for e in entries(obj) for m in [e["manager"]]}
    assert owned.get("b", set()) >= {P("data", k) for k in second}
    for k in first:
        if k in second and first[k] != second[k]:
            assert P("data", k) not in owned.get("a", set())


def test_unchanged_managers_keep_their_stored_fieldsv1() -> None:
    """A write re-encodes only the managers whose sets changed; the others keep the stored document
    (the same JSON as re-encoding it, without the work)."""
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "d", "uid": "u", "labels": {"a": "1"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    fm.update_managed_fields(None, pod, "creator", group="", version="v1", kind="Pod", now=T0)
    old = json.loads(json.dumps(pod))
    new = json.loads(json.dumps(pod))
    new["status"] = {"phase": "Running", "podIP": "10.0.0.1"}
    fm.update_managed_fields(
        old, new, "kubelet", group="", version="v1", kind="Pod", now=T0, subresource="status"
    )
    entries = {e["manager"]: e for e in new["metadata"]["managedFields"]}
    assert set(entries) == {"creator", "kubelet"}
    stored = old["metadata"]["managedFields"][0]["fieldsV1"]
    assert entries["creator"]["fieldsV1"] is stored  # reused, not re-encoded
    assert entries["creator"]["fieldsV1"] == fm.to_fields_v1(fm.from_fields_v1(stored))
    assert entries["kubelet"]["fieldsV1"] == {"f:status": {"f:phase": {}, "f:podIP": {}}}
