"""The API Priority and Fairness configuration kube-apiserver 1.32 keeps in place
(staging/src/k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap/default.go): the mandatory objects
`exempt` and `catch-all` and the suggested ones, as flowcontrol.apiserver.k8s.io/v1 dicts carrying
the `apf.kubernetes.io/autoupdate-spec: "true"` annotation.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]

API_VERSION = "flowcontrol.apiserver.k8s.io/v1"
AUTO_UPDATE_ANNOTATION = "apf.kubernetes.io/autoupdate-spec"
EXEMPT = "exempt"
CATCH_ALL = "catch-all"

_ALL_RULES: JSON = {
    "resourceRules": [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": True, "namespaces": ["*"]}
    ],
    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
}


def _groups(*names: str) -> list[JSON]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _users(*names: str) -> list[JSON]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _kube_system_sas(*names: str) -> list[JSON]:
    return [
        {"kind": "ServiceAccount", "serviceAccount": {"name": n, "namespace": "kube-system"}} for n in names
    ]


def _rule(
    verbs: list[str], groups: list[str], resources: list[str], namespaces: list[str], cluster: bool
) -> JSON:
    rule: JSON = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if cluster:
        rule["clusterScope"] = True
    rule["namespaces"] = namespaces
    return rule


def _meta(name: str) -> JSON:
    return {"name": name, "annotations": {AUTO_UPDATE_ANNOTATION: "true"}}


def _fs(
    name: str, pl: str, precedence: int, method: str, subjects: list[JSON], rules: JSON | None = None
) -> JSON:
    spec: JSON = {"priorityLevelConfiguration": {"name": pl}, "matchingPrecedence": precedence}
    if method:
        spec["distinguisherMethod"] = {"type": method}
    spec["rules"] = [{"subjects": subjects, **copy.deepcopy(rules if rules is not None else _ALL_RULES)}]
    return {"apiVersion": API_VERSION, "kind": "FlowSchema", "metadata": _meta(name), "spec": spec}


def _limited(shares: int, lendable: int, queuing: tuple[int, int, int] | None) -> JSON:
    response: JSON = {"type": "Reject"}
    if queuing is not None:
        queues, hand, length = queuing
        response = {
            "type": "Queue",
            "queuing": {"queues": queues, "handSize": hand, "queueLengthLimit": length},
        }
    return {"nominalConcurrencyShares": shares, "lendablePercent": lendable, "limitResponse": response}


def _plc(name: str, spec: JSON) -> JSON:
    return {
        "apiVersion": API_VERSION,
        "kind": "PriorityLevelConfiguration",
        "metadata": _meta(name),
        "spec": spec,
    }


MANDATORY_PRIORITY_LEVELS: tuple[JSON, ...] = (
    _plc(CATCH_ALL, {"type": "Limited", "limited": _limited(5, 0, None)}),
    _plc(EXEMPT, {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}),
)
MANDATORY_FLOW_SCHEMAS: tuple[JSON, ...] = (
    _fs(EXEMPT, EXEMPT, 1, "", _groups("system:masters")),
    _fs(CATCH_ALL, CATCH_ALL, 10000, "ByUser", _groups("system:unauthenticated", "system:authenticated")),
)

SUGGESTED_PRIORITY_LEVELS: tuple[JSON, ...] = (
    _plc("system", {"type": "Limited", "limited": _limited(30, 33, (64, 6, 50))}),
    _plc("node-high", {"type": "Limited", "limited": _limited(40, 25, (64, 6, 50))}),
    _plc("leader-election", {"type": "Limited", "limited": _limited(10, 0, (16, 4, 50))}),
    _plc("workload-high", {"type": "Limited", "limited": _limited(40, 50, (128, 6, 50))}),
    _plc("workload-low", {"type": "Limited", "limited": _limited(100, 90, (128, 6, 50))}),
    _plc("global-default", {"type": "Limited", "limited": _limited(20, 50, (128, 6, 50))}),
)

_GET_CREATE_UPDATE = ["get", "create", "update"]
_LEASES = _rule(_GET_CREATE_UPDATE, ["coordination.k8s.io"], ["leases"], ["*"], False)
SUGGESTED_FLOW_SCHEMAS: tuple[JSON, ...] = (
    _fs("system-nodes", "system", 500, "ByUser", _groups("system:nodes")),
    _fs(
        "system-node-high",
        "node-high",
        400,
        "ByUser",
        _groups("system:nodes"),
        {
            "resourceRules": [
                _rule(["*"], [""], ["nodes", "nodes/status"], ["*"], True),
                _rule(["*"], ["coordination.k8s.io"], ["leases"], ["*"], False),
            ]
        },
    ),
    _fs(
        "probes",
        EXEMPT,
        2,
        "",
        _groups("system:unauthenticated", "system:authenticated"),
        {"nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]},
    ),
    _fs(
        "system-leader-election",
        "leader-election",
        100,
        "ByUser",
        _users("system:kube-controller-manager", "system:kube-scheduler") + _kube_system_sas("*"),
        {"resourceRules": [_LEASES]},
    ),
    _fs(
        "workload-leader-election",
        "leader-election",
        200,
        "ByUser",
        _kube_system_sas("*"),
        {
            "resourceRules": [
                _rule(_GET_CREATE_UPDATE, [""], ["endpoints", "configmaps"], ["*"], False),
                _LEASES,
            ]
        },
    ),
    _fs(
        "endpoint-controller",
        "workload-high",
        150,
        "ByUser",
        _users("system:kube-controller-manager")
        + _kube_system_sas("endpoint-controller", "endpointslicemirroring-controller"),
        {"resourceRules": [_rule(_GET_CREATE_UPDATE, [""], ["endpoints"], ["*"], False)]},
    ),
    _fs(
        "kube-controller-manager",
        "workload-high",
        800,
        "ByNamespace",
        _users("system:kube-controller-manager"),
    ),
    _fs("kube-scheduler", "workload-high", 800, "ByNamespace", _users("system:kube-scheduler")),
    _fs("kube-system-service-accounts", "workload-high", 900, "ByNamespace", _kube_system_sas("*")),
    _fs("service-accounts", "workload-low", 9000, "ByUser", _groups("system:serviceaccounts")),
    _fs(
        "global-default",
        "global-default",
        9900,
        "ByUser",
        _groups("system:unauthenticated", "system:authenticated"),
    ),
)

MANDATORY_FS_BY_NAME: dict[str, JSON] = {o["metadata"]["name"]: o for o in MANDATORY_FLOW_SCHEMAS}
MANDATORY_PL_BY_NAME: dict[str, JSON] = {o["metadata"]["name"]: o for o in MANDATORY_PRIORITY_LEVELS}


def semantic(value: Any) -> Any:
    """A value normalised as apiequality.Semantic compares internal structs: nil and empty lists
    and maps are equal, and so are an absent and a zero non-pointer field (`clusterScope: false`,
    `""`). The percent fields are pointers, so an explicit 0 stays."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            n = semantic(v)
            if n is None or n == [] or n == {}:
                continue
            if k not in _POINTER_FIELDS and (n is False or n == "" or (type(n) is int and n == 0)):
                continue
            out[k] = n
        return out
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


_POINTER_FIELDS = frozenset({"lendablePercent", "borrowingLimitPercent", "nominalConcurrencyShares"})
