"""API Priority and Fairness pieces without a server: rule.go's matching in `apf.FlowControl`, the
ensurer's ReviseIfNeeded, the bootstrap objects against validation and defaults."""

from __future__ import annotations

import copy
from typing import Any

from vcluster.apiserver import flowcontrolbootstrap as boot
from vcluster.apiserver.apf import FLOW_SCHEMA_HEADER, FlowControl
from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.request import parse_resource_path
from vcluster.apiserver.validate_flowcontrol import (
    default_flow_schema,
    default_priority_level,
    validate_flow_schema,
    validate_priority_level,
)
from vcluster.controllers.apfconfig import dangling_condition, revise


def _fc(*schemas: dict[str, Any]) -> FlowControl:
    fc = FlowControl()
    for o in (*boot.MANDATORY_PRIORITY_LEVELS, *boot.SUGGESTED_PRIORITY_LEVELS):
        fc.levels[o["metadata"]["name"]] = {
            **o,
            "metadata": {**o["metadata"], "uid": "pl-" + o["metadata"]["name"]},
        }
    for o in (*boot.MANDATORY_FLOW_SCHEMAS, *boot.SUGGESTED_FLOW_SCHEMAS, *schemas):
        fc.schemas[o["metadata"]["name"]] = {**o, "metadata": {**o["metadata"], "uid": o["metadata"]["name"]}}
    fc._changed()
    return fc


def _schema(user: UserInfo, path: str, method: str = "GET", fc: FlowControl | None = None) -> str | None:
    fc = fc or _fc()
    found = fc.classify(user, parse_resource_path(path, method, {}), path, method)
    return None if found is None else dict(found)[FLOW_SCHEMA_HEADER]


def test_bootstrap_objects_are_valid_and_defaulted() -> None:
    for o in (*boot.MANDATORY_FLOW_SCHEMAS, *boot.SUGGESTED_FLOW_SCHEMAS):
        d = copy.deepcopy(o)
        default_flow_schema(d)
        assert d == o and validate_flow_schema(d) == [], o["metadata"]["name"]
    for o in (*boot.MANDATORY_PRIORITY_LEVELS, *boot.SUGGESTED_PRIORITY_LEVELS):
        d = copy.deepcopy(o)
        default_priority_level(d)
        assert d == o and validate_priority_level(d) == [], o["metadata"]["name"]


def test_matching_follows_rule_go() -> None:
    sa = UserInfo(
        "system:serviceaccount:kube-system:ctrl", groups=("system:serviceaccounts", "system:authenticated")
    )
    other_ns_sa = UserInfo(
        "system:serviceaccount:kube-systemx:ctrl", groups=("system:serviceaccounts", "system:authenticated")
    )
    assert _schema(sa, "/api/v1/namespaces/kube-system/configmaps/x", "PUT") == "workload-leader-election"
    assert _schema(sa, "/api/v1/pods") == "kube-system-service-accounts"  # cluster scope
    # the namespace of a service account subject is matched exactly, not as a prefix
    assert _schema(other_ns_sa, "/api/v1/pods") == "service-accounts"
    anon = UserInfo("system:anonymous", groups=("system:unauthenticated",))
    assert _schema(anon, "/livez") == "probes"
    assert _schema(anon, "/livez/etcd") == "global-default"  # no wildcard in the probes rule
    assert _schema(anon, "/livez", "POST") == "global-default"  # verb post
    node = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))
    assert _schema(node, "/api/v1/nodes/n1/status", "PATCH") == "system-node-high"  # res/sub
    assert (
        _schema(node, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", "PUT")
        == "system-node-high"
    )
    assert _schema(node, "/api/v1/namespaces/default/pods/p/log") is None  # long-running: left alone
    custom = {
        "apiVersion": boot.API_VERSION,
        "kind": "FlowSchema",
        "metadata": {"name": "a-urls"},
        "spec": {
            "priorityLevelConfiguration": {"name": "system"},
            "matchingPrecedence": 800,  # ties with kube-scheduler's, and sorts before it by name
            "rules": [
                {
                    "subjects": [{"kind": "User", "user": {"name": "*"}}],
                    "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/metrics/*"]}],
                }
            ],
        },
    }
    fc = _fc(custom)
    sched = UserInfo("system:kube-scheduler", groups=("system:authenticated",))
    assert _schema(sched, "/metrics/x", fc=fc) == "a-urls"
    assert _schema(sched, "/metrics", fc=fc) == "kube-scheduler"
    dangling = {
        **custom,
        "metadata": {"name": "a-urls"},
        "spec": {**custom["spec"], "priorityLevelConfiguration": {"name": "gone"}},
    }
    fc = _fc(dangling)
    assert _schema(sched, "/metrics/x", fc=fc) == "kube-scheduler"
    assert fc.dangling(dangling) and dangling_condition(dangling, True)["reason"] == "NotFound"


def test_missing_mandatory_schemas_are_supplied() -> None:
    fc = _fc()
    del fc.schemas["exempt"], fc.schemas["catch-all"], fc.schemas["global-default"]
    fc._changed()
    admin = UserInfo("admin", groups=("system:masters", "system:authenticated"))
    assert _schema(admin, "/api/v1/pods", fc=fc) == ""  # the bootstrap exempt schema, no UID
    assert _schema(UserInfo("x", groups=("system:authenticated",)), "/api/v1/pods", fc=fc) == ""


def test_revise_if_needed() -> None:
    suggested = boot.SUGGESTED_PRIORITY_LEVELS[0]
    cur = copy.deepcopy(suggested)
    cur["metadata"]["generation"] = 3
    assert revise(cur, suggested, mandatory=False) is None
    cur["spec"]["limited"]["nominalConcurrencyShares"] = 1
    assert revise(cur, suggested, mandatory=False)["spec"] == suggested["spec"]
    cur["metadata"]["annotations"] = {boot.AUTO_UPDATE_ANNOTATION: "false"}
    assert revise(cur, suggested, mandatory=False) is None
    # no annotation: the spec is kept after the first generation, and the annotation says so
    del cur["metadata"]["annotations"]
    new = revise(cur, suggested, mandatory=False)
    assert new["spec"]["limited"]["nominalConcurrencyShares"] == 1
    assert new["metadata"]["annotations"] == {boot.AUTO_UPDATE_ANNOTATION: "false"}
    cur["metadata"]["generation"] = 1
    assert revise(cur, suggested, mandatory=False)["spec"] == suggested["spec"]
    # mandatory: always restored and annotated true; the exempt level's `exempt` part is the admin's
    mand = boot.MANDATORY_PL_BY_NAME["exempt"]
    cur = copy.deepcopy(mand)
    cur["metadata"]["annotations"] = {boot.AUTO_UPDATE_ANNOTATION: "false"}
    cur["spec"]["exempt"] = {"nominalConcurrencyShares": 5, "lendablePercent": 5}
    new = revise(cur, mand, mandatory=True)
    assert new["spec"]["exempt"] == {"nominalConcurrencyShares": 5, "lendablePercent": 5}
    assert new["metadata"]["annotations"] == {boot.AUTO_UPDATE_ANNOTATION: "true"}
