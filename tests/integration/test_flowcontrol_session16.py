"""flowcontrol.apiserver.k8s.io/v1 as kube-apiserver 1.32 serves it: the bootstrap configuration
(mandatory and suggested objects, `apf.kubernetes.io/autoupdate-spec`), kubectl's tables, defaults
and validation, the FlowSchema `Dangling` condition and the `X-Kubernetes-PF-*` headers of the
classification of every request (no queuing)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kubectl, Server, parse_table, server_fixture
from .httpclient import Client

pytestmark = pytest.mark.integration

server = server_fixture()
FC = "/apis/flowcontrol.apiserver.k8s.io/v1"
FS_HEADER = "x-kubernetes-pf-flowschema-uid"
PL_HEADER = "x-kubernetes-pf-prioritylevel-uid"
SUGGESTED_FS = [
    "exempt",
    "probes",
    "system-leader-election",
    "endpoint-controller",
    "workload-leader-election",
    "system-node-high",
    "system-nodes",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-system-service-accounts",
    "service-accounts",
    "global-default",
    "catch-all",
]


def _wait(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def _uid(api: Client, plural: str, name: str) -> str:
    r = api.call("GET", f"{FC}/{plural}/{name}")
    assert r.status == 200, r.body
    return r.body["metadata"]["uid"]


def _classified(r: Any) -> tuple[str | None, str | None]:
    return r.headers.get(FS_HEADER), r.headers.get(PL_HEADER)


def test_bootstrap_objects_and_tables(k: Kubectl) -> None:
    headers, rows = parse_table(k("get", "flowschemas"))
    assert headers == [
        "NAME",
        "PRIORITYLEVEL",
        "MATCHINGPRECEDENCE",
        "DISTINGUISHERMETHOD",
        "AGE",
        "MISSINGPL",
    ]
    assert [r["NAME"] for r in rows] == SUGGESTED_FS  # printFlowSchemaList: precedence order
    by = {r["NAME"]: r for r in rows}
    assert (by["exempt"]["PRIORITYLEVEL"], by["exempt"]["MATCHINGPRECEDENCE"]) == ("exempt", "1")
    assert by["exempt"]["DISTINGUISHERMETHOD"] == "<none>"
    assert by["kube-scheduler"]["DISTINGUISHERMETHOD"] == "ByNamespace"
    assert (by["catch-all"]["MATCHINGPRECEDENCE"], by["catch-all"]["DISTINGUISHERMETHOD"]) == (
        "10000",
        "ByUser",
    )
    _wait(lambda: all(r["MISSINGPL"] == "False" for r in parse_table(k("get", "flowschemas"))[1]))

    headers, rows = parse_table(k("get", "prioritylevelconfigurations"))
    assert headers == [
        "NAME",
        "TYPE",
        "NOMINALCONCURRENCYSHARES",
        "QUEUES",
        "HANDSIZE",
        "QUEUELENGTHLIMIT",
        "AGE",
    ]
    cells = {r["NAME"]: [r[h] for h in headers[1:6]] for r in rows}
    assert cells == {
        "catch-all": ["Limited", "5", "<none>", "<none>", "<none>"],
        "exempt": ["Exempt", "<none>", "<none>", "<none>", "<none>"],
        "global-default": ["Limited", "20", "128", "6", "50"],
        "leader-election": ["Limited", "10", "16", "4", "50"],
        "node-high": ["Limited", "40", "64", "6", "50"],
        "system": ["Limited", "30", "64", "6", "50"],
        "workload-high": ["Limited", "40", "128", "6", "50"],
        "workload-low": ["Limited", "100", "128", "6", "50"],
    }
    exempt = k.get_json("prioritylevelconfiguration", "exempt")
    assert exempt["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}
    assert exempt["spec"] == {
        "type": "Exempt",
        "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0},
    }
    fs = k.get_json("flowschema", "probes")
    cond = fs["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Dangling", "False", "Found")
    assert cond["message"] == (
        'This FlowSchema references the PriorityLevelConfiguration object named "exempt" and it exists'
    )
    assert fs["spec"]["rules"][0]["nonResourceRules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}
    ]
    resources = k("api-resources", "--api-group=flowcontrol.apiserver.k8s.io", "-o", "name").split()
    assert resources == [
        "flowschemas.flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
    ]
    assert "matchingPrecedence" in k("explain", "flowschema.spec")


def test_classification_headers(api: Client) -> None:
    exempt = (_uid(api, "flowschemas", "exempt"), _uid(api, "prioritylevelconfigurations", "exempt"))
    # the admin is system:masters: exempt
    assert _classified(api.call("GET", "/api/v1/namespaces")) == exempt
    # anonymous probes: the suggested `probes` schema, exempt level
    probes = (_uid(api, "flowschemas", "probes"), exempt[1])
    assert _classified(api.call("GET", "/healthz", token=None)) == probes
    # anonymous, refused by RBAC: still classified (APF runs before authorization)
    r = api.call("GET", "/api/v1/pods", token=None)
    assert r.status == 403
    default = (
        _uid(api, "flowschemas", "global-default"),
        _uid(api, "prioritylevelconfigurations", "global-default"),
    )
    assert _classified(r) == default

    def as_user(user: str, *groups: str) -> dict[str, str]:
        h = {"Impersonate-User": user}
        for g in groups:
            h.setdefault("Impersonate-Group", g)  # http.client sends one value per header name
        return h

    high = _uid(api, "prioritylevelconfigurations", "workload-high")
    leader = _uid(api, "prioritylevelconfigurations", "leader-election")
    sa = as_user("system:serviceaccount:kube-system:foo", "system:serviceaccounts")
    r = api.call("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", headers=sa)
    assert _classified(r) == (_uid(api, "flowschemas", "system-leader-election"), leader)
    r = api.call("GET", "/api/v1/namespaces/kube-system/pods", headers=sa)
    assert _classified(r) == (_uid(api, "flowschemas", "kube-system-service-accounts"), high)
    r = api.call(
        "PUT", "/api/v1/namespaces/default/endpoints/x", {}, headers=as_user("system:kube-controller-manager")
    )
    assert _classified(r) == (_uid(api, "flowschemas", "endpoint-controller"), high)
    node = as_user("system:node:n1", "system:nodes")
    r = api.call("GET", "/api/v1/nodes/n1", headers=node)
    assert _classified(r) == (
        _uid(api, "flowschemas", "system-node-high"),
        _uid(api, "prioritylevelconfigurations", "node-high"),
    )
    r = api.call("GET", "/api/v1/namespaces/default/configmaps", headers=node)
    assert _classified(r) == (
        _uid(api, "flowschemas", "system-nodes"),
        _uid(api, "prioritylevelconfigurations", "system"),
    )

    # a schema of one's own, ahead of the suggested ones: the cached classification follows it
    alice = as_user("alice", "devs")
    assert _classified(api.call("GET", "/api/v1/namespaces/team/configmaps", headers=alice)) == default
    pl = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "team"},
        "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}},
    }
    r = api.call("POST", f"{FC}/prioritylevelconfigurations", pl)
    assert r.status == 201, r.body
    assert r.body["spec"]["limited"] == {
        "nominalConcurrencyShares": 30,
        "lendablePercent": 0,
        "limitResponse": {"type": "Reject"},
    }
    fs = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "team"},
        "spec": {
            "priorityLevelConfiguration": {"name": "team"},
            "matchingPrecedence": 50,
            "rules": [
                {
                    "subjects": [{"kind": "Group", "group": {"name": "devs"}}],
                    "resourceRules": [
                        {
                            "verbs": ["list", "watch"],
                            "apiGroups": [""],
                            "resources": ["configmaps"],
                            "namespaces": ["team"],
                        }
                    ],
                }
            ],
        },
    }
    r = api.call("POST", f"{FC}/flowschemas", fs)
    assert r.status == 201, r.body
    team = (r.body["metadata"]["uid"], _uid(api, "prioritylevelconfigurations", "team"))
    assert _classified(api.call("GET", "/api/v1/namespaces/team/configmaps", headers=alice)) == team
    assert _classified(api.call("GET", "/api/v1/namespaces/other/configmaps", headers=alice)) == default
    assert _classified(api.call("GET", "/api/v1/namespaces/team/configmaps/x", headers=alice)) == default
    # a watch's streamed answer carries the headers too
    w = api.call("GET", "/api/v1/namespaces/team/configmaps?watch=1&timeoutSeconds=1")
    assert w.status == 200 and _classified(w) == exempt
    for plural in ("flowschemas", "prioritylevelconfigurations"):
        assert api.call("DELETE", f"{FC}/{plural}/team").status == 200
    assert _classified(api.call("GET", "/api/v1/namespaces/team/configmaps", headers=alice)) == default


def test_validation_and_fixed_specs(api: Client) -> None:
    bad_fs = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "bad"},
        "spec": {
            "matchingPrecedence": 20000,
            "priorityLevelConfiguration": {"name": ""},
            "distinguisherMethod": {"type": "ByPod"},
            "rules": [
                {
                    "subjects": [
                        {"kind": "ServiceAccount", "serviceAccount": {"name": "x"}},
                        {"kind": "Robot"},
                    ],
                    "resourceRules": [{"verbs": ["*", "get"], "apiGroups": [""], "resources": ["pods"]}],
                    "nonResourceRules": [{"verbs": ["frob"], "nonResourceURLs": ["/a/*/b", "x"]}],
                }
            ],
        },
    }
    r = api.call("POST", f"{FC}/flowschemas", bad_fs)
    assert r.status == 422 and r.body["reason"] == "Invalid", r.body
    causes = {(c["field"], c["message"]) for c in r.body["details"]["causes"]}
    assert causes == {
        ("spec.matchingPrecedence", "Invalid value: 20000: must not be greater than 10000"),
        (
            "spec.distinguisherMethod.type",
            'Unsupported value: flowcontrol.FlowDistinguisherMethod{Type:"ByPod"}: supported values: '
            '"ByNamespace", "ByUser"',
        ),
        ("spec.priorityLevelConfiguration.name", "Required value: must reference a priority level"),
        (
            "spec.rules[0].subjects[0].serviceAccount.namespace",
            "Required value: must specify namespace for service account",
        ),
        (
            "spec.rules[0].subjects[1].kind",
            'Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User"',
        ),
        (
            "spec.rules[0].resourceRules[0].verbs",
            'Invalid value: []string{"*", "get"}: if \'*\' is present, must not specify other verbs',
        ),
        (
            "spec.rules[0].resourceRules[0].namespaces",
            "Required value: resource rules that are not cluster scoped must supply at least one namespace",
        ),
        (
            "spec.rules[0].nonResourceRules[0].verbs",
            'Unsupported value: []string{"frob"}: supported values: "create", "delete", "deletecollection", '
            '"get", "list", "patch", "proxy", "update", "watch"',
        ),
        (
            "spec.rules[0].nonResourceRules[0].nonResourceURLs[0]",
            'Invalid value: "/a/*/b": wildcard can only do suffix matching',
        ),
        ("spec.rules[0].nonResourceRules[0].nonResourceURLs[1]", 'Invalid value: "x": must start with slash'),
    }
    bad_pl = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "bad"},
        "spec": {
            "type": "Exempt",
            "limited": {"limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 10}}},
        },
    }
    r = api.call("POST", f"{FC}/prioritylevelconfigurations", bad_pl)
    assert r.status == 422, r.body
    assert [(c["field"], c["message"]) for c in r.body["details"]["causes"]] == [
        ("spec.type", "Invalid value: \"Exempt\": type must be 'Exempt' if and only if name is 'exempt'"),
        ("spec.limited", "Forbidden: must be nil if the type is not Limited"),
    ]
    bad_pl["spec"]["type"] = "Limited"
    r = api.call("POST", f"{FC}/prioritylevelconfigurations", bad_pl)
    assert r.status == 422, r.body
    assert [(c["field"], c["message"]) for c in r.body["details"]["causes"]] == [
        (
            "spec.limited.limitResponse.queuing.handSize",
            "Invalid value: 10: required entropy bits of deckSize 128 and handSize 10 should not be greater "
            "than 60",
        )
    ]
    assert api.call("GET", f"{FC}/prioritylevelconfigurations/bad").status == 404

    # the mandatory objects' specs are fixed, except the exempt level's `exempt` part
    patch = {"spec": {"matchingPrecedence": 2}}
    r = api.call(
        "PATCH", f"{FC}/flowschemas/exempt", patch, headers={"Content-Type": "application/merge-patch+json"}
    )
    assert r.status == 422
    assert r.body["details"]["causes"][-1]["message"].endswith("spec of 'exempt' must equal the fixed value")
    patch = {"spec": {"limited": {"nominalConcurrencyShares": 6}}}
    r = api.call(
        "PATCH",
        f"{FC}/prioritylevelconfigurations/catch-all",
        patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 422
    assert r.body["details"]["causes"][0]["message"].endswith(
        "spec of 'catch-all' must equal the fixed value"
    )
    patch = {"spec": {"exempt": {"lendablePercent": 10}}}
    r = api.call(
        "PATCH",
        f"{FC}/prioritylevelconfigurations/exempt",
        patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200, r.body
    assert r.body["spec"]["exempt"] == {"nominalConcurrencyShares": 0, "lendablePercent": 10}
    patch = {"spec": {"exempt": {"lendablePercent": 0}}}
    r = api.call(
        "PATCH",
        f"{FC}/prioritylevelconfigurations/exempt",
        patch,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200, r.body


def test_dangling_condition_generation_and_status(api: Client, k: Kubectl) -> None:
    fs = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": "orphan"},
        "spec": {
            "priorityLevelConfiguration": {"name": "later"},
            "rules": [
                {
                    "subjects": [{"kind": "User", "user": {"name": "bob"}}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["/x/*"]}],
                }
            ],
        },
        "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
    }
    r = api.call("POST", f"{FC}/flowschemas", fs)
    assert r.status == 201, r.body
    assert r.body["spec"]["matchingPrecedence"] == 1000  # defaulted
    # the create resets the status; Go writes the FlowSchemaStatus struct as {} despite omitempty
    assert r.body["metadata"]["generation"] == 1 and r.body["status"] == {}

    def dangling() -> dict[str, Any] | None:
        conds = api.call("GET", f"{FC}/flowschemas/orphan").body.get("status", {}).get("conditions", [])
        return next((c for c in conds if c["type"] == "Dangling"), None)

    cond = _wait(lambda: (c := dangling()) and c["status"] == "True" and c)
    assert cond["reason"] == "NotFound"
    assert cond["message"] == (
        'This FlowSchema references the PriorityLevelConfiguration object named "later" but there is no '
        "such object"
    )
    row = parse_table(k("get", "flowschema", "orphan"))[1][0]
    assert row["MISSINGPL"] == "True"
    obj = api.call("GET", f"{FC}/flowschemas/orphan").body
    managers = {(m["manager"], m.get("subresource")) for m in obj["metadata"]["managedFields"]}
    assert ("api-priority-and-fairness-config-consumer-v1", "status") in managers
    # the ignored schema does not classify: bob's request lands in global-default
    r = api.call("GET", "/x/y", headers={"Impersonate-User": "bob"})
    assert r.headers.get(FS_HEADER) == _uid(api, "flowschemas", "global-default")

    pl = {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "later"},
        "spec": {
            "type": "Limited",
            "limited": {"nominalConcurrencyShares": 0, "limitResponse": {"type": "Queue", "queuing": {}}},
        },
    }
    r = api.call("POST", f"{FC}/prioritylevelconfigurations", pl)
    assert r.status == 201, r.body
    assert r.body["spec"]["limited"]["nominalConcurrencyShares"] == 0  # v1 allows zero
    assert r.body["spec"]["limited"]["limitResponse"]["queuing"] == {
        "queues": 64,
        "handSize": 8,
        "queueLengthLimit": 50,
    }
    cond = _wait(lambda: (c := dangling()) and c["status"] == "False" and c)
    assert cond["reason"] == "Found"
    r = api.call("GET", "/x/y", headers={"Impersonate-User": "bob"})
    assert r.headers.get(FS_HEADER) == obj["metadata"]["uid"]

    # spec changes bump the generation; the main endpoint keeps the status, /status keeps the spec
    obj = api.call("GET", f"{FC}/flowschemas/orphan").body
    obj["spec"]["matchingPrecedence"] = 500
    obj["status"] = {}
    r = api.call("PUT", f"{FC}/flowschemas/orphan", obj)
    assert r.status == 200, r.body
    assert r.body["metadata"]["generation"] == 2 and r.body["status"]["conditions"]
    obj = r.body
    obj["spec"]["matchingPrecedence"] = 600
    obj["status"]["conditions"].append({"type": "Dangling", "status": "True"})
    r = api.call("PUT", f"{FC}/flowschemas/orphan/status", obj)
    assert r.status == 422, r.body
    assert r.body["details"]["causes"] == [
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: "Dangling"',
            "field": "status.conditions[1].type",
        }
    ]
    obj["status"]["conditions"].pop()
    r = api.call("PUT", f"{FC}/flowschemas/orphan/status", obj)
    assert r.status == 200, r.body
    assert r.body["spec"]["matchingPrecedence"] == 500 and r.body["metadata"]["generation"] == 2
    for plural in ("flowschemas", "prioritylevelconfigurations"):
        name = "orphan" if plural == "flowschemas" else "later"
        assert api.call("DELETE", f"{FC}/{plural}/{name}").status == 200


def _objects(api: Client, plural: str) -> dict[str, dict[str, Any]]:
    r = api.call("GET", f"{FC}/{plural}")
    assert r.status == 200
    return {o["metadata"]["name"]: o for o in r.body["items"]}


def test_ensurer_restores_mandatory_and_respects_autoupdate(tmp_path: Path) -> None:
    srv = Server(tmp_path / "apf").start()
    api = Client(srv.url, srv.ca_file, srv.token)
    try:
        merge = {"Content-Type": "application/merge-patch+json"}
        assert api.call("DELETE", f"{FC}/flowschemas/exempt").status == 200
        assert api.call("DELETE", f"{FC}/prioritylevelconfigurations/catch-all").status == 200
        limited = {"spec": {"limited": {"nominalConcurrencyShares": 7}}}
        assert (
            api.call("PATCH", f"{FC}/prioritylevelconfigurations/workload-low", limited, headers=merge).status
            == 200
        )
        off = {"metadata": {"annotations": {"apf.kubernetes.io/autoupdate-spec": "false"}}, **limited}
        assert (
            api.call("PATCH", f"{FC}/prioritylevelconfigurations/global-default", off, headers=merge).status
            == 200
        )
        retired = {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "PriorityLevelConfiguration",
            "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Reject"}}},
        }
        for name, annotations in (("retired", {"apf.kubernetes.io/autoupdate-spec": "true"}), ("mine", {})):
            body = {**retired, "metadata": {"name": name, "annotations": annotations}}
            assert api.call("POST", f"{FC}/prioritylevelconfigurations", body).status == 201

        def catch_all_dangling() -> str:
            conds = _objects(api, "flowschemas")["catch-all"].get("status", {}).get("conditions", [])
            return next((c["status"] for c in conds if c["type"] == "Dangling"), "")

        _wait(lambda: catch_all_dangling() == "True")
        before = _objects(api, "flowschemas")
        assert "exempt" not in before
        # without the stored object, the mandatory exempt schema still classifies (supplied, no UID)
        r = api.call("GET", "/api/v1/namespaces")
        assert r.headers.get(FS_HEADER) == ""
        srv.stop()
        srv.start()
        api.close()
        levels = _objects(api, "prioritylevelconfigurations")
        assert levels["catch-all"]["spec"]["limited"]["nominalConcurrencyShares"] == 5
        assert levels["workload-low"]["spec"]["limited"]["nominalConcurrencyShares"] == 100  # autoupdate true
        # autoupdate false
        assert levels["global-default"]["spec"]["limited"]["nominalConcurrencyShares"] == 7
        assert "retired" not in levels and "mine" in levels
        schemas = _objects(api, "flowschemas")
        assert schemas["exempt"]["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}
        managers = {m["manager"] for m in schemas["exempt"]["metadata"]["managedFields"]}
        assert "api-priority-and-fairness-config-producer-v1" in managers
        _wait(lambda: catch_all_dangling() == "False")
        unchanged = {
            n: o["metadata"]["resourceVersion"]
            for n, o in schemas.items()
            if n not in ("exempt", "catch-all")
        }
        assert unchanged == {n: before[n]["metadata"]["resourceVersion"] for n in unchanged}
        r = api.call("GET", "/api/v1/namespaces")
        assert r.headers.get(FS_HEADER) == schemas["exempt"]["metadata"]["uid"]
    finally:
        api.close()
        srv.stop()


def test_bad_bodies_are_statuses(api: Client) -> None:
    r = api.call(
        "POST",
        f"{FC}/flowschemas",
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": "t"},
            "spec": {"matchingPrecedence": "high"},
        },
    )
    assert r.status == 400 and r.body["kind"] == "Status", r.body
    assert "cannot unmarshal string" in r.body["message"]
    r = api.call(
        "POST",
        f"{FC}/prioritylevelconfigurations",
        json.dumps(
            {
                "kind": "PriorityLevelConfiguration",
                "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
                "metadata": {"name": "Bad Name"},
                "spec": {"type": "Limited"},
            }
        ),
    )
    assert r.status == 422 and r.body["kind"] == "Status"
    fields = [c["field"] for c in r.body["details"]["causes"]]
    assert fields == ["metadata.name", "spec.limited"]
