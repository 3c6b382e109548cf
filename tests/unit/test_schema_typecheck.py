"""The typed-decode check of built-in kinds, and its skipping of fields an update left alone."""

from __future__ import annotations

import copy
from typing import Any

from vcluster.apiserver import schema


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"a": "b"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
            },
        },
        "status": {"replicas": 0},
    }


def test_wrong_types_are_reported() -> None:
    d = _deployment()
    assert schema.type_error(d, "apps", "v1", "Deployment") is None
    d["spec"]["replicas"] = "two"
    assert "cannot unmarshal string" in (schema.type_error(d, "apps", "v1", "Deployment") or "")


def test_changed_fields_are_checked_against_the_old_object() -> None:
    old = _deployment()
    for path, bad in [
        (("spec", "replicas"), True),  # True == 1 in Python: still a change of JSON type
        (("spec", "replicas"), 2.0),  # 2.0 == 2 in Python: Go refuses a float for an int32
        (("status", "replicas"), "0"),
        (("spec", "template", "spec", "containers"), {"name": "c"}),
    ]:
        new = copy.deepcopy(old)
        target = new
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad
        assert schema.type_error(new, "apps", "v1", "Deployment", old) is not None, (path, bad)
    deep = copy.deepcopy(old)
    deep["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    assert "cannot unmarshal string" in (schema.type_error(deep, "apps", "v1", "Deployment", old) or "")


def test_fields_equal_to_the_old_object_are_not_checked_again() -> None:
    # A stored object written before a schema change (here: a bad value planted in old) does not
    # block unrelated updates, the way a status write leaves the spec alone.
    old = _deployment()
    old["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "80"
    new = copy.deepcopy(old)
    new["status"]["replicas"] = 2
    assert schema.type_error(new, "apps", "v1", "Deployment", old) is None
    assert schema.type_error(new, "apps", "v1", "Deployment") is not None
