"""RBAC enforced by the API server, seen through the real kubectl: kube's Forbidden messages, what
Roles and bindings grant, `auth can-i` (also with --as), escalation prevention, the aggregated
admin/edit/view roles and the bootstrap policy's reconciliation at start."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from .conftest import Kubectl, Server, server_fixture

server = server_fixture(controllers="serviceaccount,namespace,clusterrole-aggregation")


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def _ns(k: Kubectl, name: str) -> str:
    k.namespace(name)
    k("create", "serviceaccount", "bot", "-n", name)
    return name


def _token(k: Kubectl, ns: str) -> str:
    return k("create", "token", "bot", "-n", ns).strip()


def _as_bot(k: Kubectl, token: str) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        p = k.run("--token", token, *args, input=stdin, check=False)
        return p.returncode, p.stdout, p.stderr.strip()

    return run


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_forbidden_messages_and_what_a_role_binding_grants(k: Kubectl) -> None:
    ns = _ns(k, "rbac-grants")
    bot = _as_bot(k, _token(k, ns))
    user = f'User "system:serviceaccount:{ns}:bot"'
    assert bot("get", "pods", "-n", ns) == (
        1,
        "",
        f'Error from server (Forbidden): pods is forbidden: {user} cannot list resource "pods" '
        f'in API group "" in the namespace "{ns}"',
    )
    assert bot("get", "nodes")[2] == (
        f'Error from server (Forbidden): nodes is forbidden: {user} cannot list resource "nodes" '
        'in API group "" at the cluster scope'
    )
    assert bot("get", "--raw", "/metrics")[2] == (
        f'Error from server (Forbidden): forbidden: {user} cannot get path "/metrics"'
    )
    assert bot("get", "secret", "s", "-n", ns)[2] == (
        f'Error from server (Forbidden): secrets "s" is forbidden: {user} cannot get resource "secrets" '
        f'in API group "" in the namespace "{ns}"'
    )
    k("create", "role", "pod-lister", "-n", ns, "--verb=list", "--resource=pods")
    k("create", "rolebinding", "bot-lists", "-n", ns, "--role=pod-lister", f"--serviceaccount={ns}:bot")
    assert bot("get", "pods", "-n", ns) == (0, "", f"No resources found in {ns} namespace.")
    assert "cannot list resource" in bot("get", "pods", "-n", "default")[2]  # its namespace only
    code, _, err = bot("get", "pods", "-n", ns, "--watch", "--request-timeout=5s")
    assert code == 1 and f'cannot watch resource "pods" in API group "" in the namespace "{ns}"' in err
    k("delete", "rolebinding", "bot-lists", "-n", ns)
    assert bot("get", "pods", "-n", ns)[0] == 1  # out of force as soon as deleted


def test_can_i_with_impersonation_and_the_aggregated_roles(k: Kubectl) -> None:
    ns = _ns(k, "rbac-can-i")
    sa = f"system:serviceaccount:{ns}:bot"
    assert (
        k.run("auth", "can-i", "create", "pods", "-n", ns, f"--as={sa}", check=False).stdout.strip() == "no"
    )
    k("create", "rolebinding", "bot-edits", "-n", ns, "--clusterrole=edit", f"--serviceaccount={ns}:bot")
    # `edit` gets its rules from the aggregate-to-edit and aggregate-to-view roles (the controller)
    _eventually(lambda: k("auth", "can-i", "create", "pods", "-n", ns, f"--as={sa}").strip() == "yes")
    assert (
        k.run("auth", "can-i", "create", "roles", "-n", ns, f"--as={sa}", check=False).stdout.strip() == "no"
    )
    listing = k("auth", "can-i", "--list", "-n", ns, f"--as={sa}")
    assert "pods/exec" in listing and "selfsubjectaccessreviews.authorization.k8s.io" in listing
    # impersonating needs the impersonate verb: the service account has it only for serviceaccounts
    bot = _as_bot(k, _token(k, ns))
    assert bot("get", "pods", "-n", ns, "--as=jane")[2] == (
        f'Error from server (Forbidden): users "jane" is forbidden: User "{sa}" cannot impersonate resource '
        '"users" in API group "" at the cluster scope'
    )
    # a CRD's role labelled aggregate-to-view joins view (and so edit and admin)
    k.apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: rbac-widgets-view\n"
        "  labels: {rbac.authorization.k8s.io/aggregate-to-view: 'true'}\n"
        "rules: [{apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}]\n"
    )

    def view_has_widgets() -> bool:
        return any(
            "widgets" in (r.get("resources") or []) for r in k.get_json("clusterrole", "view")["rules"]
        )

    _eventually(view_has_widgets)
    _eventually(
        lambda: any(
            "widgets" in (r.get("resources") or []) for r in k.get_json("clusterrole", "admin")["rules"]
        )
    )


def test_escalation_needs_the_rights_or_escalate_and_bind(k: Kubectl) -> None:
    ns = _ns(k, "rbac-escalation")
    k("create", "role", "rbac-writer", "-n", ns, "--verb=create,update", "--resource=roles,rolebindings")
    k("create", "role", "pod-reader", "-n", ns, "--verb=get,list", "--resource=pods")
    k("create", "rolebinding", "bot-writes", "-n", ns, "--role=rbac-writer", f"--serviceaccount={ns}:bot")
    k("create", "rolebinding", "bot-reads", "-n", ns, "--role=pod-reader", f"--serviceaccount={ns}:bot")
    bot = _as_bot(k, _token(k, ns))
    groups = f'["system:serviceaccounts" "system:serviceaccounts:{ns}" "system:authenticated"]'
    who = f'user "system:serviceaccount:{ns}:bot" (groups={groups})'
    assert bot("create", "role", "sneaky", "-n", ns, "--verb=get,delete", "--resource=pods,secrets")[2] == (
        f'Error from server (Forbidden): roles.rbac.authorization.k8s.io "sneaky" is forbidden: {who} is '
        "attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'
    )
    assert bot("create", "role", "subset", "-n", ns, "--verb=get", "--resource=pods")[0] == 0
    code, _, err = bot("create", "rolebinding", "grab", "-n", ns, "--clusterrole=admin", "--user=jane")
    assert code == 1 and 'rolebindings.rbac.authorization.k8s.io "grab" is forbidden' in err
    assert bot("create", "rolebinding", "ok", "-n", ns, "--role=pod-reader", "--user=jane")[0] == 0
    assert bot("create", "rolebinding", "nf", "-n", ns, "--role=nope", "--user=jane")[2] == (
        'error: failed to create rolebinding: role.rbac.authorization.k8s.io "nope" not found'
    )
    # `escalate` on roles and `bind` on a named cluster role lift the checks
    k("create", "role", "escalator", "-n", ns, "--verb=escalate", "--resource=roles")
    k(
        "create",
        "role",
        "admin-binder",
        "-n",
        ns,
        "--verb=bind",
        "--resource=clusterroles",
        "--resource-name=admin",
    )
    k("create", "rolebinding", "bot-escalates", "-n", ns, "--role=escalator", f"--serviceaccount={ns}:bot")
    k("create", "rolebinding", "bot-binds", "-n", ns, "--role=admin-binder", f"--serviceaccount={ns}:bot")
    assert bot("create", "role", "sneaky", "-n", ns, "--verb=get,delete", "--resource=pods,secrets")[0] == 0
    assert bot("create", "rolebinding", "grab", "-n", ns, "--clusterrole=admin", "--user=jane")[0] == 0


def test_bootstrap_policy_is_reconciled_at_start(k: Kubectl, server: Server) -> None:
    k(
        "annotate",
        "--overwrite",
        "clusterrole",
        "system:discovery",
        "rbac.authorization.kubernetes.io/autoupdate=false",
    )
    k("patch", "clusterrole", "system:discovery", "--type=json", "-p", '[{"op":"remove","path":"/rules/0"}]')
    k("patch", "clusterrole", "system:basic-user", "--type=json", "-p", '[{"op":"remove","path":"/rules/1"}]')
    k("label", "clusterrole", "system:basic-user", "mine=1")
    k("delete", "clusterrolebinding", "system:public-info-viewer")
    server.stop()
    server.start()
    assert k.get_json("clusterrole", "system:discovery").get("rules") in (None, [])  # autoupdate=false: kept
    basic = k.get_json("clusterrole", "system:basic-user")
    assert basic["metadata"]["labels"]["mine"] == "1"
    assert [r["resources"] for r in basic["rules"]] == [
        ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        ["selfsubjectreviews"],
    ]
    crb = k.get_json("clusterrolebinding", "system:public-info-viewer")
    assert [s["name"] for s in crb["subjects"]] == ["system:authenticated", "system:unauthenticated"]
    assert json.loads(k("get", "--raw", "/version"))["minor"] == "32"
