"""Less common kubectl and client usage compared with a real kube-apiserver 1.32: health checks,
list resourceVersion semantics, patches that rename an object, and the validation of kinds whose
rules are easy to forget (PriorityClass, PodDisruptionBudget, RBAC, Job updates)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from yarl import URL

from tests.integration.conftest import Kubectl, Server
from tests.integration.httpclient import Client
from vcluster.apiserver.server import APIServer, ServerConfig

pytestmark = pytest.mark.integration

NS = "explore"


@pytest.fixture(scope="module")
def k(module_kubectl: Kubectl) -> Kubectl:
    module_kubectl.namespace(NS)
    return module_kubectl


@pytest.fixture(scope="module")
def api(module_server: Server, k: Kubectl) -> Iterator[Client]:
    c = Client(module_server.url, module_server.ca_file, module_server.token)
    yield c
    c.close()


def _fails(k: Kubectl, *args: str, input: str | None = None) -> str:
    """Run kubectl expecting a failure; its stderr."""
    p = k.run(*args, input=input, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr.strip()


# ------------------------------------------------------------------ patches that rename or move
def test_patch_changing_the_name_or_namespace_is_400(k: Kubectl) -> None:
    k("-n", NS, "create", "configmap", "renamed", "--from-literal=a=b")
    err = _fails(
        k, "-n", NS, "patch", "configmap", "renamed", "--type=merge", "-p", '{"metadata":{"name":"x"}}'
    )
    assert err == (
        "Error from server (BadRequest): the name of the object (x) does not match the name on the URL "
        "(renamed)"
    )
    err = _fails(
        k,
        "-n",
        NS,
        "patch",
        "cm",
        "renamed",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/name"}]',
    )
    assert err.endswith("the name of the object () does not match the name on the URL (renamed)")
    err = _fails(
        k, "-n", NS, "patch", "cm", "renamed", "--type=merge", "-p", '{"metadata":{"namespace":"default"}}'
    )
    assert err == (
        "Error from server (BadRequest): the namespace of the object (default) does not match the "
        "namespace on the request (explore)"
    )
    err = _fails(k, "patch", "namespace", NS, "-p", '{"metadata":{"name":"other"}}')
    assert err.endswith(f"the name of the object (other) does not match the name on the URL ({NS})")
    assert k("-n", NS, "get", "cm", "renamed", "-o", "jsonpath={.data.a}") == "b"


def test_apply_naming_another_object_and_put_without_a_name_are_400(api: Client) -> None:
    path = f"/api/v1/namespaces/{NS}/configmaps"
    assert api.call("POST", path, {"metadata": {"name": "unnamed-put"}}).status == 201
    applied = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: other, namespace: {NS}}}\n"
    r = api.call(
        "PATCH",
        f"{path}/unnamed-put?fieldManager=t",
        applied,
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert r.status == 400, r.body
    assert (
        r.body["message"] == "the name of the object (other) does not match the name on the URL (unnamed-put)"
    )
    r = api.call("PUT", f"{path}/unnamed-put", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert r.status == 400, r.body
    assert r.body["message"] == "the name of the object () does not match the name on the URL (unnamed-put)"


# ------------------------------------------------------------------ list resourceVersion semantics
def test_paginated_list_at_a_resource_version_is_exact(api: Client) -> None:
    """resourceVersion=N with a limit and no resourceVersionMatch is the legacy Exact semantics: the
    list as of N (the watch cache serves only NotOlderThan, so it goes to storage)."""
    path = f"/api/v1/namespaces/{NS}/configmaps"
    first = api.call("POST", path, {"metadata": {"name": "rv-a"}}).body
    rv = first["metadata"]["resourceVersion"]
    assert api.call("POST", path, {"metadata": {"name": "rv-b"}}).status == 201
    exact = api.call("GET", f"{path}?resourceVersion={rv}&limit=500").body
    assert exact["metadata"]["resourceVersion"] == rv
    names = [o["metadata"]["name"] for o in exact["items"]]
    assert "rv-a" in names and "rv-b" not in names
    not_older = api.call("GET", f"{path}?resourceVersion={rv}").body  # no limit: NotOlderThan
    assert "rv-b" in [o["metadata"]["name"] for o in not_older["items"]]
    any_rv = api.call("GET", f"{path}?resourceVersion=0&limit=1").body  # rv=0 is never exact
    assert int(any_rv["metadata"]["resourceVersion"]) > int(rv)


def test_exact_list_of_a_compacted_revision_is_410_with_the_list_message(tmp_path: Path) -> None:
    """etcd3 store's interpretListError: a list (not a continue) at a compacted revision is 410
    Expired "The resourceVersion for the provided list is too old." (the watch message differs)."""

    async def main() -> list[tuple[int, str, str]]:
        srv = APIServer(ServerConfig(data_dir=tmp_path, port=0, compact_interval=0))
        await srv.start()
        try:
            first = srv.store.revision
            for i in range(srv.store.min_retain + 5):  # history the compaction may drop
                await srv.store.create(f"/registry/configmaps/default/filler-{i}", {"metadata": {}})
            await srv.store.compact()
            assert srv.store.compact_revision > first
            answers = []
            for query in (
                f"resourceVersion={first}&resourceVersionMatch=Exact",
                f"resourceVersion={first}&limit=5",
            ):
                url = URL(f"/api/v1/namespaces/default/configmaps?{query}")
                auth = {"Authorization": f"Bearer {srv.auth.admin_token}"}
                status, _, body = await srv.handle_local("GET", url, auth, b"")
                st = orjson.loads(body)
                answers.append((status, st["reason"], st["message"]))
            return answers
        finally:
            await srv.stop()

    expired = (410, "Expired", "The resourceVersion for the provided list is too old.")
    assert asyncio.run(main()) == [expired, expired]


# ------------------------------------------------------------------ health checks
def test_health_endpoints_list_named_checks(k: Kubectl, api: Client) -> None:
    livez = k("get", "--raw", "/livez?verbose").splitlines()
    assert livez[:3] == ["[+]ping ok", "[+]log ok", "[+]etcd ok"]
    assert "[+]poststarthook/crd-informer-synced ok" in livez
    assert livez[-1] == "livez check passed"
    readyz = k("get", "--raw", "/readyz?verbose").splitlines()
    assert readyz[3:5] == ["[+]etcd-readiness ok", "[+]informer-sync ok"]
    assert readyz[-2:] == ["[+]shutdown ok", "readyz check passed"]
    assert k("get", "--raw", "/healthz?verbose").splitlines()[-1] == "healthz check passed"
    excluded = k("get", "--raw", "/livez?verbose&exclude=etcd&exclude=nope").splitlines()
    assert "[+]etcd excluded: ok" in excluded
    assert 'warn: some health checks cannot be excluded: no matches for "nope"' in excluded
    assert k("get", "--raw", "/livez?exclude=etcd") == "ok"
    assert k("get", "--raw", "/readyz/etcd") == "ok"
    assert k("get", "--raw", "/healthz/poststarthook/rbac/bootstrap-roles") == "ok"
    r = api.call("GET", "/readyz/no-such-check")
    assert (r.status, r.raw) == (404, b"404 page not found\n")
    assert api.call("GET", "/livez/shutdown").status == 404  # a readyz-only check
    r = api.call("GET", "/livez?verbose", token=None)  # anonymous clients may read it
    assert r.status == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"


# ------------------------------------------------------------------ validation of less common kinds
def _invalid(k: Kubectl, manifest: str) -> list[str]:
    """`kubectl create` of an invalid manifest: the causes listed in the 422 message."""
    err = _fails(k, "create", "--validate=false", "-f", "-", input=manifest)
    head, _, rest = err.partition(" is invalid: ")
    assert head.startswith("The ") and rest, err
    return [ln[2:] for ln in rest.splitlines() if ln.startswith("* ")] or [rest]


def test_priority_class_value_limits_reserved_names_and_immutability(k: Kubectl) -> None:
    pc = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {{name: {}}}\nvalue: {}\n"
    assert _invalid(k, pc.format("too-high", 2000000000)) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]
    assert _invalid(k, pc.format("system-mine", 5)) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use "
        "only. error: system-mine is not a known system priority class"
    ]
    assert _invalid(k, pc.format("bad-policy", 5) + "preemptionPolicy: Sometimes\n") == [
        'preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"'
    ]
    k("create", "priorityclass", "fixed", "--value=100")
    err = _fails(k, "patch", "priorityclass", "fixed", "-p", '{"value":5,"preemptionPolicy":"Never"}')
    assert err == (
        'The PriorityClass "fixed" is invalid: \n* value: Forbidden: may not be changed in an update.\n'
        '* preemptionPolicy: Invalid value: "Never": field is immutable'
    )
    k("patch", "priorityclass", "fixed", "-p", '{"description":"still editable"}')


def test_pod_disruption_budget_validation(k: Kubectl) -> None:
    pdb = (
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: {}, namespace: " + NS + "}}\n"
        "spec: {{selector: {{matchLabels: {{app: x}}}}, {}}}\n"
    )
    both = _invalid(k, pdb.format("both", "minAvailable: 1, maxUnavailable: 1"))
    assert len(both) == 1 and both[0].startswith("spec: Invalid value: policy.PodDisruptionBudgetSpec{")
    assert both[0].endswith(": minAvailable and maxUnavailable cannot be both set")
    assert _invalid(k, pdb.format("pct", "minAvailable: 150%")) == [
        'spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not '
        "be greater than 100%"
    ]
    assert _invalid(k, pdb.format("neg", "maxUnavailable: -1, unhealthyPodEvictionPolicy: Never")) == [
        "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0",
        'spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", '
        '"IfHealthyBudget"',
    ]
    k("-n", NS, "create", "pdb", "ok", "--selector=app=x", "--min-available=1")
    err = _fails(k, "-n", NS, "patch", "pdb", "ok", "--type=merge", "-p", '{"spec":{"maxUnavailable":"x"}}')
    assert err.startswith('The PodDisruptionBudget "ok" is invalid: \n* spec: Invalid value: ')


def test_rbac_rules_role_refs_and_subjects_are_validated(k: Kubectl) -> None:
    role = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {}\nmetadata: {{name: r, namespace: " + NS + "}}\n"
    )
    assert _invalid(k, role.format("Role") + "rules: [{apiGroups: [''], resources: [pods]}, {}]\n") == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        "rules[1].verbs: Required value: verbs must contain at least one value",
        "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[1].resources: Required value: resource rules must supply at least one resource",
    ]
    assert _invalid(k, role.format("Role") + "rules: [{verbs: [get], nonResourceURLs: [/x]}]\n") == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot apply to '
        "non-resource URLs"
    ]
    assert _invalid(k, role.format("ClusterRole") + "aggregationRule: {}\n") == [
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if "
        "aggregationRule is non-nil"
    ]
    binding = role.format("RoleBinding") + (
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Foo, name: ''}\n"
        "subjects: [{kind: User, name: ''}, {kind: ServiceAccount, name: Bad_SA, apiGroup: x},\n"
        "  {kind: Robot, name: r}]\n"
    )
    assert _invalid(k, binding) == [
        'roleRef.kind: Unsupported value: "Foo": supported values: "Role", "ClusterRole"',
        "roleRef.name: Required value",
        "subjects[0].name: Required value",
        'subjects[1].name: Invalid value: "Bad_SA": a lowercase RFC 1123 subdomain must consist of lower '
        "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        'subjects[1].apiGroup: Unsupported value: "x": supported values: ""',
        'subjects[2].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"',
    ]
    crb = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: crb}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n"
        "subjects: [{kind: ServiceAccount, name: sa}]\n"
    )
    assert _invalid(k, crb) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "subjects[0].namespace: Required value",
    ]
    k("create", "clusterrolebinding", "crb", "--clusterrole=view", "--user=u")
    err = _fails(k, "patch", "clusterrolebinding", "crb", "--type=json", "-p",
                 '[{"op":"replace","path":"/subjects/0/kind","value":"Robot"}]')  # fmt: skip
    assert "subjects[0].kind: Unsupported value" in err


def test_job_completions_are_immutable_unless_an_elastic_indexed_job(k: Kubectl) -> None:
    k("-n", NS, "create", "job", "fixed", "--image=busybox", "--", "true")
    err = _fails(k, "-n", NS, "patch", "job", "fixed", "--type=merge", "-p", '{"spec":{"completions":3}}')
    assert err == 'The Job "fixed" is invalid: spec.completions: Invalid value: 3: field is immutable'
    indexed = (
        f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: elastic, namespace: {NS}}}\n"
        "spec:\n  completionMode: Indexed\n  completions: 2\n  parallelism: 2\n"
        "  template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}\n"
    )
    k.create(indexed)
    k("-n", NS, "patch", "job", "elastic", "--type=merge", "-p", '{"spec":{"completions":4,"parallelism":4}}')
    err = _fails(k, "-n", NS, "patch", "job", "elastic", "--type=merge", "-p", '{"spec":{"completions":5}}')
    assert err == (
        'The Job "elastic" is invalid: spec.completions: Invalid value: 5: can only be modified in tandem '
        "with spec.parallelism"
    )


def test_only_one_priority_class_may_be_the_global_default(k: Kubectl) -> None:
    k("create", "priorityclass", "default-a", "--value=10", "--global-default")
    err = _fails(k, "create", "priorityclass", "default-b", "--value=20", "--global-default")
    assert err == (  # the create subcommand words the Forbidden error itself
        'error: failed to create priorityclass: priorityclasses.scheduling.k8s.io "default-b" is forbidden: '
        "PriorityClass default-a is already marked as default. Only one default can exist"
    )
    k("create", "priorityclass", "plain", "--value=30")
    err = _fails(k, "patch", "priorityclass", "plain", "-p", '{"globalDefault":true}')
    assert err.endswith("PriorityClass default-a is already marked as default. Only one default can exist")
    k("patch", "priorityclass", "default-a", "-p", '{"description":"the default may be edited"}')
    k("delete", "priorityclass", "default-a")
    k("patch", "priorityclass", "plain", "-p", '{"globalDefault":true}')


def test_resource_quota_names_values_and_scopes(k: Kubectl) -> None:
    quota = "apiVersion: v1\nkind: ResourceQuota\nmetadata: {{name: q, namespace: " + NS + "}}\nspec: {}\n"
    best_effort_cpu = quota.format("{hard: {pods: '10', requests.cpu: '1'}, scopes: [BestEffort]}")
    assert _invalid(k, best_effort_cpu) == [
        'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to '
        "resource"
    ]
    # (upstream walks the map of hard limits in random order)
    assert sorted(_invalid(k, quota.format("{hard: {foo: '1', storage: '1Gi', pods: '-1'}}"))) == [
        'spec.hard[foo]: Invalid value: "foo": must be a standard resource for quota',
        'spec.hard[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
        'spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0',
        'spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota',
    ]
    conflicting = quota.format("{hard: {pods: '1'}, scopes: [Terminating, NotTerminating, Sometimes]}")
    scopes = '[]core.ResourceQuotaScope{"Terminating", "NotTerminating", "Sometimes"}'
    assert _invalid(k, conflicting) == [
        f"spec.scopes: Invalid value: {scopes}: unsupported scope",
        f"spec.scopes: Invalid value: {scopes}: conflicting scopes",
    ]
    k("-n", NS, "create", "quota", "scoped", "--hard=pods=5,count/deployments.apps=2", "--scopes=BestEffort")
    err = _fails(k, "-n", NS, "patch", "quota", "scoped", "--type=merge", "-p", '{"spec":{"scopes":null}}')
    assert err == (
        'The ResourceQuota "scoped" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope(nil): '
        "field is immutable"
    )
