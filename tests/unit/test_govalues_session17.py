"""Go's value fields on the write path (`apiserver/govalues.py`), the events.k8s.io/v1 encoding of a
stored Event, the field manager's zero values of non-omitempty scalars, and the kinds a PUT creates."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vcluster.apiserver import fieldmanager, govalues, govalues_data, strategy
from vcluster.apiserver.conversion import core_to_events_v1
from vcluster.apiserver.resources import BUILTIN_RESOURCES


def filled(obj: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    govalues.fill(out, group, version, kind)
    return out


def test_event_gets_times_structs_and_strings() -> None:
    ev = filled({"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod"}}, "", "v1", "Event")
    assert ev == {
        "metadata": {"name": "e"},  # the top-level ObjectMeta is the server's: no creationTimestamp
        "involvedObject": {"kind": "Pod"},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    }
    # present values are kept, pointers (series) get their own value fields only when present
    ev = filled({"series": {"count": 2}, "source": {"component": "k"}}, "", "v1", "Event")
    assert ev["series"] == {"count": 2, "lastObservedTime": None} and ev["source"] == {"component": "k"}


def test_nested_values_lists_and_templates() -> None:
    pod = {
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "state": {"running": {}}}],
        },
    }
    out = filled(pod, "", "v1", "Pod")
    assert out["spec"]["containers"][0]["resources"] == {}
    assert out["status"]["conditions"][0] == {
        "type": "Ready",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": None,
    }
    cs = out["status"]["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": None}} and cs["lastState"] == {}
    assert cs["ready"] is False and cs["restartCount"] == 0 and cs["image"] == "" and cs["imageID"] == ""
    dep = filled({"spec": {"template": {"spec": {"containers": []}}}}, "apps", "v1", "Deployment")
    assert dep["spec"]["template"]["metadata"] == {"creationTimestamp": None}
    assert dep["status"] == {} and dep["spec"]["strategy"] == {}
    svc = filled({"spec": {"ports": [{"port": 80}]}}, "", "v1", "Service")
    assert svc["spec"]["ports"][0]["targetPort"] == 0  # IntOrString's zero (defaulting sets the port)
    assert svc["status"] == {"loadBalancer": {}}


def test_zero_values_are_fresh_copies_and_wrong_types_are_left_alone() -> None:
    a = filled({"status": {}}, "", "v1", "Node")
    b = filled({"status": {}}, "", "v1", "Node")
    a["status"]["nodeInfo"]["bootID"] = "x"
    assert b["status"]["nodeInfo"]["bootID"] == ""
    assert b["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    odd = filled({"status": {"conditions": "nope"}, "spec": []}, "", "v1", "Node")
    assert odd["spec"] == [] and odd["status"]["conditions"] == "nope"  # for the type check to refuse
    assert filled({"spec": {"x": []}}, "example.com", "v1", "Widget") == {"spec": {"x": []}}


def test_apiextensions_and_aggregator_types() -> None:
    crd = filled(
        {"spec": {"versions": [{"name": "v1"}]}}, "apiextensions.k8s.io", "v1", "CustomResourceDefinition"
    )
    assert crd["status"] == {
        "conditions": None,
        "acceptedNames": {"plural": "", "kind": ""},
        "storedVersions": None,
    }
    assert crd["spec"]["versions"][0] == {"name": "v1", "served": False, "storage": False}
    svc = filled(
        {"status": {"conditions": [{"type": "Available"}]}}, "apiregistration.k8s.io", "v1", "APIService"
    )
    assert svc["spec"] == {"groupPriorityMinimum": 0, "versionPriority": 0}
    assert svc["status"]["conditions"][0] == {"type": "Available", "status": "", "lastTransitionTime": None}


def test_events_v1_view_omits_its_omitempty_strings() -> None:
    core = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod"},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
        "count": 0,
    }
    v1 = core_to_events_v1(core)
    assert v1 == {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "e"},
        "eventTime": None,
        "regarding": {"kind": "Pod"},
        "deprecatedFirstTimestamp": None,
        "deprecatedLastTimestamp": None,
        "deprecatedSource": {},
    }
    assert (
        core_to_events_v1({"reportingComponent": "c", "reportingInstance": "i"})["reportingController"] == "c"
    )


def test_managed_fields_skip_fields_that_hold_their_go_zero() -> None:
    """A create is compared with the zero object: `reportingComponent: ""` is not a field the writer
    set, `reason` is."""
    ev = filled(
        {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod"}, "reason": "R"}, "", "v1", "Event"
    )
    fieldmanager.update_managed_fields(None, ev, "m", group="", version="v1", kind="Event", now="t")
    assert ev["metadata"]["managedFields"][0]["fieldsV1"] == {"f:involvedObject": {}, "f:reason": {}}
    ev2 = filled({"metadata": {"name": "e"}, "reportingComponent": "c"}, "", "v1", "Event")
    fieldmanager.update_managed_fields(None, ev2, "m", group="", version="v1", kind="Event", now="t")
    assert ev2["metadata"]["managedFields"][0]["fieldsV1"] == {"f:reportingComponent": {}}


def test_create_on_update_kinds_exist() -> None:
    kinds = {(r.group, r.kind) for r in BUILTIN_RESOURCES}
    assert kinds >= strategy._CREATE_ON_UPDATE
    by_kind = {(r.group, r.kind): r for r in BUILTIN_RESOURCES}
    assert strategy.allow_create_on_update(by_kind[("coordination.k8s.io", "Lease")])
    assert not strategy.allow_create_on_update(by_kind[("", "ConfigMap")])


def test_table_matches_the_kubectl_descriptors() -> None:
    """The committed table is what `fills_from_descriptors` reads from a kubectl 1.32 binary."""
    from vcluster.apiserver import protobuf

    codec = protobuf._codec() if protobuf.protobuf_available() else None
    if codec is None or not getattr(codec, "_tags", None):
        pytest.skip("no kubectl binary with Go struct tags")
    assert govalues.fills_from_descriptors(codec) == govalues_data.FILLS


def test_a_value_field_sent_as_null_is_its_zero_as_go_decodes_it() -> None:
    """`spec: null` on a PodDisruptionBudget (a struct, not a pointer) decodes to the zero struct,
    which kube writes back as `{}`; a null Event source likewise, and a null scalar as its zero."""
    pdb: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "spec": None}
    govalues.fill(pdb, "policy", "v1", "PodDisruptionBudget")
    assert pdb["spec"] == {} and pdb["status"]["currentHealthy"] == 0
    ev: dict[str, Any] = {"source": None, "reportingComponent": None, "eventTime": None}
    govalues.fill(ev, "", "v1", "Event")
    assert ev["source"] == {} and ev["reportingComponent"] == "" and ev["eventTime"] is None
