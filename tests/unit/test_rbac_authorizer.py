"""RBAC: rule matching and covering (evaluation_helpers.go, policy_comparator.go, policy_compact.go), the
authorizer over an in-memory index (rbac.go), impersonation, the bootstrap policy's reconciliation and
the ClusterRole aggregation rule."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from vcluster.apiserver.auth import UserInfo
from vcluster.apiserver.errors import StatusError
from vcluster.apiserver.rbac_authorizer import Attributes, RBACAuthorizer
from vcluster.apiserver.rbac_index import RBACIndex
from vcluster.apiserver.rbac_policy import bootstrap_objects, reconcile_binding, reconcile_role
from vcluster.apiserver.rbac_request import (
    forbidden,
    impersonate,
    resource_attributes,
)
from vcluster.apiserver.rbac_rules import PolicyRule, compact_rules, compact_string, covers, rule_allows
from vcluster.apiserver.request import RequestInfo
from vcluster.controllers.clusterroleaggregation import aggregated_rules

SA = UserInfo(
    "system:serviceaccount:team:bot",
    groups=("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"),
)
ADMIN = UserInfo("admin", groups=("system:masters", "system:authenticated"))


def _rule(**kw: Any) -> PolicyRule:
    return PolicyRule.from_json(kw)


def _res(
    verb: str, resource: str, sub: str = "", ns: str = "team", name: str = "", group: str = ""
) -> Attributes:
    return Attributes(verb, True, ns, group, "v1", resource, sub, name)


def test_rule_matching() -> None:
    r = _rule(verbs=["get"], apiGroups=[""], resources=["pods", "*/status"], resourceNames=["a"])
    assert rule_allows(r, verb="get", resource_request=True, resource="pods", name="a")
    assert not rule_allows(r, verb="get", resource_request=True, resource="pods", name="b")
    assert not rule_allows(r, verb="list", resource_request=True, resource="pods", name="a")
    assert rule_allows(
        r, verb="get", resource_request=True, resource="deployments", subresource="status", name="a"
    )
    assert not rule_allows(r, verb="get", resource_request=True, resource="pods", subresource="log", name="a")
    urls = _rule(verbs=["get"], nonResourceURLs=["/healthz", "/apis/*"])
    assert rule_allows(urls, verb="get", resource_request=False, path="/apis/apps/v1")
    assert not rule_allows(urls, verb="get", resource_request=False, path="/healthz/etcd")
    assert not rule_allows(urls, verb="get", resource_request=True, resource="healthz")


def test_covers_and_the_escalation_message_parts() -> None:
    owner = [_rule(verbs=["get", "list"], apiGroups=[""], resources=["pods", "*/log"])]
    asked = (_rule(verbs=["get", "delete"], apiGroups=[""], resources=["pods", "pods/log", "secrets"]),)
    missing = covers(owner, asked)
    lines = sorted(compact_string(r) for r in compact_rules(missing))
    assert lines == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
        '{APIGroups:[""], Resources:["pods/log"], Verbs:["delete"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}',
    ]
    assert covers([_rule(verbs=["*"], apiGroups=["*"], resources=["*"])], asked) == []
    # a named grant does not cover an unnamed one
    assert covers([_rule(verbs=["get"], apiGroups=[""], resources=["pods"], resourceNames=["a"])], asked[:1])


def _index(*objs: tuple[str, dict[str, Any]]) -> RBACIndex:
    index = RBACIndex()
    for plural in ("clusterroles", "clusterrolebindings", "roles", "rolebindings"):
        for obj in bootstrap_objects(plural):
            index.put(plural, obj)
    for plural, obj in objs:
        index.put(plural, obj, f"/{plural}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}")
    return index


def _binding(
    kind: str, name: str, ns: str, role_kind: str, role: str, subjects: list[dict[str, Any]]
) -> dict:
    md = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": md, "roleRef": {"kind": role_kind, "name": role}, "subjects": subjects}


def test_role_bindings_grant_in_their_namespace_only_and_name_the_reason() -> None:
    role = {
        "metadata": {"name": "reader", "namespace": "team"},
        "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}],
    }
    # a ServiceAccount subject without a namespace means the binding's namespace
    rb = _binding(
        "RoleBinding", "bot-reads", "team", "Role", "reader", [{"kind": "ServiceAccount", "name": "bot"}]
    )
    authz = RBACAuthorizer(_index(("roles", role), ("rolebindings", rb)))
    d = authz.authorize(SA, _res("list", "pods"))
    assert d.allowed and d.reason == (
        'RBAC: allowed by RoleBinding "bot-reads/team" of Role "reader" to ServiceAccount "bot/team"'
    )
    assert not authz.authorize(SA, _res("list", "pods", ns="other")).allowed
    assert not authz.authorize(SA, _res("list", "pods", ns="")).allowed
    assert authz.authorize(ADMIN, _res("delete", "nodes", ns="")).allowed
    # a deleted binding is out of force at once (the cache follows the index's generation)
    authz.index.remove("/rolebindings/team/bot-reads")
    assert not authz.authorize(SA, _res("list", "pods")).allowed


def test_missing_role_is_the_denial_reason_and_an_evaluation_error() -> None:
    crb = _binding(
        "ClusterRoleBinding",
        "ghost",
        "",
        "ClusterRole",
        "nope",
        [{"kind": "Group", "name": "system:serviceaccounts"}],
    )
    authz = RBACAuthorizer(_index(("clusterrolebindings", crb)))
    d = authz.authorize(SA, _res("list", "pods"))
    assert (d.allowed, d.reason) == (False, 'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found')
    assert (
        authz.rules_for(SA, "team").evaluation_error
        == 'clusterrole.rbac.authorization.k8s.io "nope" not found'
    )
    err = forbidden(SA, _res("list", "pods"), d.reason)
    assert err.status()["message"] == (
        'pods is forbidden: User "system:serviceaccount:team:bot" cannot list resource "pods" '
        'in API group "" in the namespace "team": '
        'RBAC: clusterrole.rbac.authorization.k8s.io "nope" not found'
    )
    assert err.status()["details"] == {"kind": "pods"}


def test_forbidden_messages() -> None:
    path = forbidden(SA, Attributes("get", False, path="/foo")).status()
    assert (path["message"], path["details"]) == (
        'forbidden: User "system:serviceaccount:team:bot" cannot get path "/foo"',
        {},
    )
    named = forbidden(SA, _res("get", "deployments", "scale", ns="", name="web", group="apps")).status()
    assert named["message"] == (
        'deployments.apps "web" is forbidden: User "system:serviceaccount:team:bot" cannot get resource '
        '"deployments/scale" in API group "apps" at the cluster scope'
    )
    assert named["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


def test_request_attributes() -> None:
    info = RequestInfo("", "v1", "team", "pods", "", "", "list")
    a = resource_attributes(info, "GET", {"fieldSelector": "metadata.name=web"})
    assert (a.verb, a.name) == ("list", "web")
    info = RequestInfo("", "v1", "team", "pods", "web", "exec", "get")
    assert resource_attributes(info, "GET", {}).verb == "create"  # the WebSocket form of exec


def _headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def test_impersonation() -> None:
    authz = RBACAuthorizer(_index())
    as_sa = impersonate(authz, ADMIN, _headers(("Impersonate-User", "system:serviceaccount:team:bot")))
    assert as_sa == UserInfo(
        "system:serviceaccount:team:bot",
        groups=("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"),
    )
    as_user = impersonate(authz, ADMIN, _headers(("Impersonate-User", "jane"), ("Impersonate-Group", "devs")))
    assert as_user.groups == ("devs", "system:authenticated")
    with pytest.raises(StatusError) as ei:
        impersonate(authz, SA, _headers(("Impersonate-User", "jane")))
    assert ei.value.status()["message"] == (
        'users "jane" is forbidden: User "system:serviceaccount:team:bot" cannot impersonate resource '
        '"users" in API group "" at the cluster scope'
    )
    assert impersonate(authz, SA, _headers(("Accept", "x"))) is SA


def test_reconciliation_adds_what_is_missing_and_keeps_the_rest() -> None:
    expected = next(
        o for o in bootstrap_objects("clusterroles") if o["metadata"]["name"] == "system:basic-user"
    )
    existing = {
        "metadata": {"name": "system:basic-user", "labels": {"mine": "1"}, "annotations": {}},
        "rules": [
            {
                "verbs": ["create"],
                "apiGroups": ["authorization.k8s.io"],
                "resources": ["selfsubjectaccessreviews"],
            }
        ],
    }
    out = reconcile_role(existing, expected)
    assert out is not None
    assert out["rules"][0] == existing["rules"][0] and len(out["rules"]) == 3
    assert out["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults", "mine": "1"}
    assert reconcile_role(out, expected) is None
    crb = next(
        o for o in bootstrap_objects("clusterrolebindings") if o["metadata"]["name"] == "system:discovery"
    )
    trimmed = {**crb, "subjects": []}
    assert reconcile_binding(trimmed, crb)["subjects"] == crb["subjects"]  # type: ignore[index]


def test_aggregation_gathers_rules_by_label_in_name_order() -> None:
    view = next(o for o in bootstrap_objects("clusterroles") if o["metadata"]["name"] == "view")
    mine = {
        "metadata": {
            "name": "a-crd-viewer",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
        },
        "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}],
    }
    roles = [*bootstrap_objects("clusterroles"), mine]
    rules = aggregated_rules(view, roles)
    assert rules[0] == mine["rules"][0]
    builtin = next(o for o in roles if o["metadata"]["name"] == "system:aggregate-to-view")
    assert rules[1:] == builtin["rules"]
