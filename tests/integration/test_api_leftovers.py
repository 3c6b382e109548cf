"""API server gaps closed the way kube-apiserver 1.32 behaves: malformed impersonation, anonymous
requests under RBAC (and off with AlwaysAllow), server-side apply through events.k8s.io/v1 with
managedFields in the version written, and evictions marking the pod as a DisruptionTarget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import Kubectl, Server, server_fixture
from tests.integration.httpclient import Client

server = server_fixture()
always_allow = server_fixture(args=["--authorization-mode", "AlwaysAllow"])


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


def _anonymous_kubeconfig(server: Server, directory: Path) -> Path:
    """A kubeconfig with a user name and password: kubectl sends them as Basic auth, which no kube
    authenticator reads since 1.19, so its requests are anonymous (kubectl would prompt for a user
    name with no credentials at all). (A client certificate without a common name is no longer a
    way: with kubeadm's front proxy configured, its failed requestheader check makes it a 401.)"""
    cfg = yaml.safe_load(server.kubeconfig.read_text())
    cfg["users"][0]["user"] = {"username": "nobody", "password": "none"}
    path = directory / "anon.kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


# ---------------------------------------------------------------------------- impersonation
def test_impersonating_groups_uid_or_extras_without_a_user_is_a_bad_request(api: Client) -> None:
    """kube's impersonation filter refuses these with its message in a plain-text 500; a client
    mistake is never a 500 here, so the same message comes as a 400 Status (kubectl refuses
    `--as-group` without `--as` itself)."""
    path = "/api/v1/namespaces/default/pods?limit=500"
    r = api.call("GET", path, headers={"Impersonate-Group": "system:masters"})
    assert r.status == 400 and r.body["reason"] == "BadRequest", r.raw
    assert r.body["message"] == "requested [{Group  system:masters    }] without impersonating a user"
    r = api.call("GET", "/api/v1/namespaces", headers={"Impersonate-Uid": "u-1", "Impersonate-User": ""})
    assert r.status == 400
    assert r.body["message"] == (
        "requested [{UID  u-1  authentication.k8s.io/v1  }] without impersonating a user"
    )
    r = api.call("GET", "/api/v1/namespaces", headers={"Impersonate-Extra-Scopes": "a"})
    assert r.status == 400
    assert "requested [{UserExtra  a  authentication.k8s.io/v1  scopes}]" in r.body["message"]


def _whoami(api: Client, headers: dict[str, str]) -> dict[str, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    r = api.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body, headers=headers)
    assert r.status == 201, r.body
    return r.body["status"]["userInfo"]


def test_impersonation_headers_kube_ignores_or_reads_differently(api: Client) -> None:
    # an unknown Impersonate-* header impersonates nobody: the request stays the admin's
    assert _whoami(api, {"Impersonate-Foo": "x"})["username"] == "admin"
    # not a valid service-account name (namespace "Foo"): a user of that name, not a service account
    who = _whoami(api, {"Impersonate-User": "system:serviceaccount:Foo:bar"})
    assert who == {"username": "system:serviceaccount:Foo:bar", "groups": ["system:authenticated"]}
    sa = _whoami(api, {"Impersonate-User": "system:serviceaccount:ns1:bot", "Impersonate-Group": "g1"})
    assert sa["groups"] == ["g1", "system:authenticated"]
    # the extra key is lower-cased, then unescaped (%41 is "A")
    extra = _whoami(api, {"Impersonate-User": "bob", "Impersonate-Extra-Foo%41": "v"})
    assert extra["extra"] == {"fooA": ["v"]}


# ---------------------------------------------------------------------------- anonymous requests
def test_anonymous_kubectl_is_authorized_by_rbac(server: Server, k: Kubectl, tmp_path: Path) -> None:
    """Anonymous requests act as system:anonymous: system:public-info-viewer lets them read
    /version and the health endpoints, everything else is a 403 naming the user (not a 401)."""
    kc = str(_anonymous_kubeconfig(server, tmp_path))

    def anon(*args: str) -> tuple[int, str, str]:
        p = k.run("--kubeconfig", kc, *args, check=False)
        return p.returncode, p.stdout, p.stderr.strip()

    code, out, _ = anon("get", "--raw", "/version")
    assert code == 0 and json.loads(out)["minor"] == "32"
    assert anon("get", "--raw", "/readyz") == (0, "ok", "")
    assert anon("get", "--raw", "/api/v1/namespaces") == (
        1,
        "",
        'Error from server (Forbidden): namespaces is forbidden: User "system:anonymous" cannot list '
        'resource "namespaces" in API group "" at the cluster scope',
    )
    assert anon("get", "--raw", "/healthz/etcd")[2] == (
        'Error from server (Forbidden): forbidden: User "system:anonymous" cannot get path "/healthz/etcd"'
    )
    assert anon("get", "--raw", "/api")[2] == (
        'Error from server (Forbidden): forbidden: User "system:anonymous" cannot get path "/api"'
    )


def test_anonymous_requests_are_401_under_always_allow(always_allow: Server) -> None:
    """kube-apiserver turns anonymous auth off with the AlwaysAllow authorizer."""
    c = Client(always_allow.url, always_allow.ca_file, always_allow.token)
    try:
        for path in ("/version", "/healthz", "/api/v1/namespaces"):
            r = c.call("GET", path, token=None)
            assert (r.status, r.body["reason"]) == (401, "Unauthorized"), path
        assert c.call("GET", "/api/v1/namespaces").status == 200
    finally:
        c.close()


# ---------------------------------------------------------------------------- events.k8s.io/v1 apply
EVENT = """
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: NAME, namespace: default}
eventTime: "2024-01-01T00:00:00.000000Z"
reportingController: example.com/ctl
reportingInstance: inst-1
action: Started
reason: Started
note: hello
type: Normal
regarding: {kind: Pod, name: p, namespace: default}
"""


def _managed(k: Kubectl, resource: str, name: str) -> dict[str, dict[str, Any]]:
    obj = k.get_json(resource, name, "--show-managed-fields")
    return {m["manager"]: m for m in obj["metadata"]["managedFields"]}


def test_server_side_apply_through_events_k8s_io_records_the_served_version(k: Kubectl) -> None:
    out = k("apply", "--server-side", "-f", "-", input=EVENT.replace("NAME", "ssa-ev"))
    assert out.strip() == "event.events.k8s.io/ssa-ev serverside-applied"
    entry = _managed(k, "events.v1.events.k8s.io", "ssa-ev")["kubectl"]
    assert (entry["apiVersion"], entry["operation"]) == ("events.k8s.io/v1", "Apply")
    assert {"f:note", "f:regarding", "f:reportingController"} <= set(entry["fieldsV1"])
    assert "f:message" not in entry["fieldsV1"]
    # applying the same configuration again changes nothing
    out = k("apply", "--server-side", "-f", "-", input=EVENT.replace("NAME", "ssa-ev"))
    assert out.strip() == "event.events.k8s.io/ssa-ev serverside-applied"
    # an update through events.k8s.io/v1 is recorded in that version as well
    k("label", "events.v1.events.k8s.io", "ssa-ev", "tier=web")
    label = _managed(k, "events.v1.events.k8s.io", "ssa-ev")["kubectl-label"]
    assert (label["apiVersion"], label["operation"]) == ("events.k8s.io/v1", "Update")
    # a core/v1 apply changing the message conflicts with the events.k8s.io/v1 owner of `.note`
    core = (
        "apiVersion: v1\nkind: Event\nmetadata: {name: ssa-ev, namespace: default}\n"
        "message: other\ninvolvedObject: {kind: Pod, name: p, namespace: default}\n"
    )
    p = k.run("apply", "--server-side", "--field-manager=core", "-f", "-", input=core, check=False)
    assert p.returncode == 1 and 'conflict with "kubectl": .note' in p.stderr
    k("apply", "--server-side", "--field-manager=core", "--force-conflicts", "-f", "-", input=core)
    managers = _managed(k, "events.v1.events.k8s.io", "ssa-ev")
    assert "f:note" not in managers["kubectl"]["fieldsV1"]
    assert managers["core"]["apiVersion"] == "v1" and "f:message" in managers["core"]["fieldsV1"]
    assert k("get", "events.v1.events.k8s.io", "ssa-ev", "-o", "jsonpath={.note}") == "other"


def test_server_side_apply_creates_an_events_k8s_io_event_with_dry_run(k: Kubectl) -> None:
    manifest = EVENT.replace("NAME", "ssa-dry")
    out = k("apply", "--server-side", "--dry-run=server", "-f", "-", input=manifest)
    assert out.strip() == "event.events.k8s.io/ssa-dry serverside-applied (server dry run)"
    assert k.run("get", "events.v1.events.k8s.io", "ssa-dry", check=False).returncode == 1


# ---------------------------------------------------------------------------- eviction
def _running_pod(api: Client, ns: str, name: str) -> dict[str, Any]:
    """A scheduled (so gracefully deleted), Ready pod: no kubelet here, the status is set by hand."""
    pod = {
        "metadata": {"name": name},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
    }
    r = api.call("POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert r.status == 201, r.body
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    r = api.call(
        "PATCH",
        f"/api/v1/namespaces/{ns}/pods/{name}/status",
        {"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200, r.body
    return r.body


def _evict(api: Client, ns: str, pod: str, query: str = "", **options: Any) -> Any:
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod},
        "deleteOptions": options,
    }
    return api.call("POST", f"/api/v1/namespaces/{ns}/pods/{pod}/eviction{query}", body)


def test_eviction_marks_the_pod_as_disruption_target_before_deleting_it(api: Client) -> None:
    ns = "default"
    pod = _running_pod(api, ns, "evicted")
    md = pod["metadata"]
    r = _evict(api, ns, "evicted", "?dryRun=All")
    assert r.status == 201
    after = api.call("GET", f"/api/v1/namespaces/{ns}/pods/evicted").body
    assert [c["type"] for c in after["status"]["conditions"]] == ["Ready"]
    assert after["metadata"]["resourceVersion"] == md["resourceVersion"]
    r = _evict(api, ns, "evicted", preconditions={"uid": "other"})
    assert (r.status, r.body["message"], r.body["details"]) == (
        409,
        f'Operation cannot be fulfilled on Pod "evicted": the UID in the precondition (other) does not '
        f"match the UID in record ({md['uid']}). The object might have been deleted and then recreated",
        {"name": "evicted", "kind": "Pod"},
    )
    # a resourceVersion precondition holds for the pod as evicted: it follows the condition's write
    r = _evict(api, ns, "evicted", preconditions={"resourceVersion": md["resourceVersion"]})
    assert r.status == 201, r.body
    gone = api.call("GET", f"/api/v1/namespaces/{ns}/pods/evicted").body
    assert gone["metadata"]["deletionTimestamp"]
    target = gone["status"]["conditions"][-1]
    assert {k: v for k, v in target.items() if k != "lastTransitionTime"} == {
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": None,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    }
