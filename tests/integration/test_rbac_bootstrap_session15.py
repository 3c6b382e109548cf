"""kube-apiserver 1.32's `system:controller:*` bootstrap ClusterRoles and their bindings, through the
real kubectl: listed, equal to upstream's controller-roles.yaml, bound to the controllers' service
accounts, kept as they are across restarts (no write, same resourceVersion), user edits under
`autoupdate: "false"` left alone and deleted ones recreated."""

from __future__ import annotations

import json

import pytest

from .conftest import Kubectl, Server, server_fixture

server = server_fixture(controllers="serviceaccount")

PREFIX = "system:controller:"
# the controllers kube-controller-manager 1.32 runs with its default feature gates (upstream's list)
CONTROLLERS = {
    "attachdetach-controller", "certificate-controller", "clusterrole-aggregation-controller",
    "cronjob-controller", "daemon-set-controller", "deployment-controller", "disruption-controller",
    "endpoint-controller", "endpointslice-controller", "endpointslicemirroring-controller",
    "ephemeral-volume-controller", "expand-controller", "generic-garbage-collector",
    "horizontal-pod-autoscaler", "job-controller", "legacy-service-account-token-cleaner",
    "namespace-controller", "node-controller", "persistent-volume-binder", "pod-garbage-collector",
    "pv-protection-controller", "pvc-protection-controller", "replicaset-controller",
    "replication-controller", "resourcequota-controller", "root-ca-cert-publisher", "route-controller",
    "service-account-controller", "service-controller", "statefulset-controller",
    "ttl-after-finished-controller", "ttl-controller", "validatingadmissionpolicy-status-controller",
}  # fmt: skip
# testdata/controller-roles.yaml of release-1.32 (with the #130461 watch cherry-pick)
PODGC_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list", "watch"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch"]},
]


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def _names(k: Kubectl, kind: str) -> set[str]:
    return {n.split("/", 1)[1] for n in k("get", kind, "-o", "name").split()}


def _versions(k: Kubectl) -> dict[str, str]:
    out = {}
    for kind in ("clusterroles", "clusterrolebindings"):
        for item in k.get_json(kind)["items"]:
            if item["metadata"]["name"].startswith(PREFIX):
                out[f"{kind}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


def test_controller_roles_and_bindings_are_listed(k: Kubectl) -> None:
    roles = {n for n in _names(k, "clusterroles") if n.startswith(PREFIX)}
    assert roles == {PREFIX + c for c in CONTROLLERS}
    assert PREFIX + "resource-claim-controller" not in roles  # DynamicResourceAllocation is off in 1.32
    table = k("get", "clusterroles")
    assert "system:controller:pod-garbage-collector" in table
    crbs = {n for n in _names(k, "clusterrolebindings") if n.startswith(PREFIX)}
    assert crbs == roles
    crb = k.get_json("clusterrolebinding", PREFIX + "node-controller")
    assert crb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": PREFIX + "node-controller",
    }
    assert crb["subjects"] == [
        {"kind": "ServiceAccount", "name": "node-controller", "namespace": "kube-system"}
    ]


def test_a_controller_role_equals_upstream(k: Kubectl) -> None:
    role = k.get_json("clusterrole", PREFIX + "pod-garbage-collector")
    assert role["rules"] == PODGC_RULES
    assert role["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
    assert role["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def test_the_bindings_grant_the_controllers_their_rules(k: Kubectl) -> None:
    def can(sa: str, *args: str) -> str:
        p = k.run("auth", "can-i", "--as", f"system:serviceaccount:kube-system:{sa}", *args, check=False)
        return p.stdout.strip()

    assert can("pod-garbage-collector", "delete", "pods", "-A") == "yes"
    assert can("pod-garbage-collector", "create", "pods", "-n", "default") == "no"
    assert can("namespace-controller", "watch", "secrets", "-n", "default") == "yes"
    assert (
        can("horizontal-pod-autoscaler", "update", "deployments.apps", "--subresource=scale", "-n", "default")
        == "yes"
    )


def test_restart_keeps_them_and_respects_autoupdate_false(k: Kubectl, server: Server) -> None:
    # a user-owned controller role keeps its edit; an autoupdated one gets its rule back
    k("annotate", "--overwrite", "clusterrole", PREFIX + "ttl-controller",
      "rbac.authorization.kubernetes.io/autoupdate=false")  # fmt: skip
    k(
        "patch",
        "clusterrole",
        PREFIX + "ttl-controller",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/rules/1"}]',
    )
    k(
        "patch",
        "clusterrole",
        PREFIX + "route-controller",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/rules/0"}]',
    )
    k("delete", "clusterrolebinding", PREFIX + "job-controller")
    before = _versions(k)
    server.stop()
    server.start()
    after = _versions(k)
    ttl = k.get_json("clusterrole", PREFIX + "ttl-controller")
    assert [r["resources"] for r in ttl["rules"]] == [["nodes"]]
    assert ttl["metadata"]["resourceVersion"] == before[f"clusterroles/{PREFIX}ttl-controller"]
    route = k.get_json("clusterrole", PREFIX + "route-controller")
    # reconciliation appends what is missing as validation.Covers breaks it down: one verb per rule
    assert route["rules"][2:] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["watch"]},
    ]
    crb = k.get_json("clusterrolebinding", PREFIX + "job-controller")
    assert crb["subjects"][0]["name"] == "job-controller"
    changed = {key for key in after if before.get(key) != after[key]}
    assert changed == {
        f"clusterroles/{PREFIX}route-controller",
        f"clusterrolebindings/{PREFIX}job-controller",
    }
    # a second restart writes nothing at all
    server.stop()
    server.start()
    assert _versions(k) == after
    assert json.loads(k("get", "--raw", "/version"))["minor"] == "32"
