"""The pure parts of the APIService support: validation texts, the table cells, the strategy's
status handling, front-proxy header escaping and discovery documents turned into resources."""

from __future__ import annotations

from vcluster.apiserver import apiregistration as apireg
from vcluster.apiserver.aggregator import _forward_headers, header_key_escape, resource_types
from vcluster.apiserver.auth import UserInfo


def _obj(**spec: object) -> dict[str, object]:
    base = {"group": "g.example.com", "version": "v1", "groupPriorityMinimum": 10, "versionPriority": 5}
    return {"metadata": {"name": "v1.g.example.com"}, "spec": {**base, **spec}}


def test_valid_local_and_remote() -> None:
    assert apireg.validate(_obj()) == []
    assert apireg.validate(_obj(service={"namespace": "ns", "name": "s", "port": 443})) == []
    assert (
        apireg.validate({"metadata": {"name": "v1."}, "spec": {"group": "", "version": "v1", **_prio()}})
        == []
    )


def _prio() -> dict[str, int]:
    return {"groupPriorityMinimum": 1, "versionPriority": 1}


def test_field_errors() -> None:
    causes = apireg.validate(_obj(version="V1", groupPriorityMinimum=20001, service={"name": "s", "port": 0}))
    assert [(c.field, c.reason) for c in causes] == [
        ("metadata.name", "FieldValueInvalid"),
        ("spec.version", "FieldValueInvalid"),
        ("spec.groupPriorityMinimum", "FieldValueInvalid"),
        ("spec.service.namespace", "FieldValueRequired"),
        ("spec.service.port", "FieldValueInvalid"),
    ]
    assert causes[2].message == "Invalid value: 20001: must be positive and less than 20000"
    assert causes[4].message == "Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"


def test_status_update_validation() -> None:
    obj = {"status": {"conditions": [{"type": "Available", "status": "Maybe"}]}}
    (cause,) = apireg.validate_status_update(obj, {})
    assert cause.field == "status.conditions[0].status"
    assert cause.message == 'Unsupported value: "Maybe": supported values: "True", "False", "Unknown"'


def test_table_cells() -> None:
    remote = _obj(service={"namespace": "ns", "name": "s", "port": 443})
    assert apireg.table_cells(remote) == ("ns/s", "Unknown")
    remote["status"] = {
        "conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]
    }
    assert apireg.table_cells(remote) == ("ns/s", "False (MissingEndpoints)")
    local = _obj()
    apireg.prepare_for_create(local)
    assert apireg.table_cells(local) == ("Local", "True")


def test_status_strategy_keeps_spec_and_metadata() -> None:
    old = {"metadata": {"name": "n", "labels": {"a": "1"}}, "spec": {"group": "g"}, "status": {}}
    new = {"metadata": {"name": "n", "labels": {"b": "2"}, "annotations": {"x": "y"}}, "spec": {"group": "h"}}
    new["status"] = {"conditions": [{"type": "Available", "status": "True"}]}
    assert apireg.prepare_for_update(old, new, "status") is True
    assert new["spec"] == {"group": "g"}
    assert new["metadata"] == {"name": "n", "labels": {"a": "1"}}
    assert new["status"]["conditions"][0]["status"] == "True"
    assert apireg.prepare_for_update(old, dict(new), "") is False


def test_set_condition_keeps_transition_time() -> None:
    status: dict[str, object] = {}
    apireg.set_condition(status, {"type": "Available", "status": "False", "lastTransitionTime": "t1"})
    apireg.set_condition(status, {"type": "Available", "status": "False", "lastTransitionTime": "t2"})
    assert status["conditions"] == [{"type": "Available", "status": "False", "lastTransitionTime": "t1"}]
    apireg.set_condition(status, {"type": "Available", "status": "True", "lastTransitionTime": "t3"})
    assert status["conditions"] == [{"type": "Available", "status": "True", "lastTransitionTime": "t3"}]


def test_front_proxy_headers() -> None:
    assert header_key_escape("example.org/key one") == "example.org%2Fkey%20one"
    user = UserInfo("jane", "uid-1", ("dev", "system:authenticated"), {"scopes.example/a": ["x", "y"]})
    headers = _forward_headers(
        {"Authorization": "Bearer t", "Impersonate-User": "x", "X-Remote-User": "evil", "Accept": "a"}, user
    )
    assert headers == [
        ("Accept", "a"),
        ("X-Remote-User", "jane"),  # no X-Remote-Uid: 1.32's RemoteRequestHeaderUID gate is off
        ("X-Remote-Group", "dev"),
        ("X-Remote-Group", "system:authenticated"),
        ("X-Remote-Extra-scopes.example%2Fa", "x"),
        ("X-Remote-Extra-scopes.example%2Fa", "y"),
    ]


def test_resource_types_from_discovery() -> None:
    doc = {
        "resources": [
            {
                "name": "flunders",
                "singularName": "flunder",
                "namespaced": True,
                "kind": "Flunder",
                "verbs": ["get"],
            },
            {"name": "flunders/status", "namespaced": True, "kind": "Flunder", "verbs": ["get", "patch"]},
        ]
    }
    (rt,) = resource_types("w.example.com", "v1", doc)
    assert (rt.group, rt.version, rt.plural, rt.kind, rt.namespaced) == (
        "w.example.com",
        "v1",
        "flunders",
        "Flunder",
        True,
    )
    assert [(s.name, s.verbs) for s in rt.subresources] == [("status", ("get", "patch"))]
