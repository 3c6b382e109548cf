"""API fidelity (session 17) against a real API server and the real kubectl:

* objects are stored as Go encodes the built-in types: value fields a body leaves out come back as
  `null` (metav1.Time), `{}` (structs), `""` (non-omitempty strings) or `null` (non-omitempty
  slices), for events (both versions), node / PVC / deployment / replica set / job / namespace /
  CRD conditions, endpoint slices, aggregated cluster roles; JSON patches and strategic merge
  patches see those fields as kube's do;
* PUT creates a missing object for the kinds whose strategy allows create-on-update (201, with
  `create` authorization), and answers 404 for the others;
* OPTIONS, TRACE, PROPFIND and HEAD on go-restful paths get kube's 405 Status.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, server_fixture
from tests.integration.httpclient import Client

server = server_fixture()

JSON_PATCH = {"Content-Type": "application/json-patch+json"}
SMP = {"Content-Type": "application/strategic-merge-patch+json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
NOT_ALLOWED = "the server does not allow this method on the requested resource"
_seq = itertools.count()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def kubectl(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def ok(reply: Any, status: int = 200) -> dict[str, Any]:
    assert reply.status == status, reply.raw
    return reply.body


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}"


def namespace(api: Client) -> str:
    ns = unique("s17")
    ok(api.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), 201)
    return ns


def fields_of(obj: dict[str, Any], manager: str = "unknown") -> dict[str, Any]:
    (entry,) = [m for m in obj["metadata"]["managedFields"] if m["manager"] == manager]
    return entry["fieldsV1"]


# ------------------------------------------------------------------------------ Go value fields
def test_core_event_gets_its_value_fields_in_both_versions(api: Client, kubectl: Kubectl) -> None:
    ns = namespace(api)
    body = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "reason": "R",
    }
    ev = ok(api.call("POST", f"/api/v1/namespaces/{ns}/events", body), 201)
    assert ev["source"] == {}
    assert ev["firstTimestamp"] is None and ev["lastTimestamp"] is None and ev["eventTime"] is None
    assert ev["reportingComponent"] == "" and ev["reportingInstance"] == ""
    assert "series" not in ev and "count" not in ev and "related" not in ev  # pointers / omitempty
    # the zero values are not "set" by the writer: managedFields list what the body gave only
    assert fields_of(ev) == {"f:involvedObject": {}, "f:reason": {}}
    # kubectl's JSON shows the nulls (it prints what the server stored)
    got = kubectl.get_json("event", "e", "-n", ns)
    assert got["eventTime"] is None and got["source"] == {} and got["reportingInstance"] == ""
    # events.k8s.io/v1: its own Go struct (reportingController/Instance are omitempty there)
    v1 = ok(api.call("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events/e"))
    assert v1["deprecatedSource"] == {} and v1["regarding"] == {"kind": "Pod", "name": "p", "namespace": ns}
    assert v1["eventTime"] is None
    assert v1["deprecatedFirstTimestamp"] is None and v1["deprecatedLastTimestamp"] is None
    assert "reportingController" not in v1 and "reportingInstance" not in v1 and "note" not in v1


def test_json_patch_sees_the_value_fields(api: Client) -> None:
    """`/source` exists ({}) on a fresh Event and `/eventTime` is null, as in kube."""
    ns = namespace(api)
    body = {
        "metadata": {"name": "e"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
        "reason": "R",
    }
    ok(api.call("POST", f"/api/v1/namespaces/{ns}/events", body), 201)
    ops = [
        {"op": "test", "path": "/eventTime", "value": None},
        {"op": "add", "path": "/source/component", "value": "kubelet"},
    ]
    ev = ok(api.call("PATCH", f"/api/v1/namespaces/{ns}/events/e", ops, JSON_PATCH))
    assert ev["source"] == {"component": "kubelet"}


def test_node_conditions_and_status_structs(api: Client) -> None:
    name = unique("node")
    ok(api.call("POST", "/api/v1/nodes", {"metadata": {"name": name}}), 201)
    st = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}
    node = ok(api.call("PATCH", f"/api/v1/nodes/{name}/status", st, MERGE))
    (cond,) = node["status"]["conditions"]
    assert cond["lastHeartbeatTime"] is None and cond["lastTransitionTime"] is None
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "" and node["status"]["nodeInfo"]["bootID"] == ""
    # a strategic merge patch that deletes a time (null) leaves the Go zero: null, not absent
    t = "2026-01-01T00:00:00Z"
    beat = {"status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": t}]}}
    node = ok(api.call("PATCH", f"/api/v1/nodes/{name}/status", beat, SMP))
    assert node["status"]["conditions"][0]["lastHeartbeatTime"] == t
    drop = {"status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": None}]}}
    node = ok(api.call("PATCH", f"/api/v1/nodes/{name}/status", drop, SMP))
    (cond,) = node["status"]["conditions"]
    assert "lastHeartbeatTime" in cond and cond["lastHeartbeatTime"] is None
    assert cond["status"] == "True" and cond["reason"] == "KubeletReady"


def test_claim_and_namespace_conditions(api: Client) -> None:
    ns = namespace(api)
    pvc = {
        "metadata": {"name": "c"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    ok(api.call("POST", f"/api/v1/namespaces/{ns}/persistentvolumeclaims", pvc), 201)
    st = {"status": {"conditions": [{"type": "Resizing", "status": "True"}]}}
    got = ok(api.call("PATCH", f"/api/v1/namespaces/{ns}/persistentvolumeclaims/c/status", st, MERGE))
    (cond,) = got["status"]["conditions"]
    assert cond["lastProbeTime"] is None and cond["lastTransitionTime"] is None
    st = {"status": {"conditions": [{"type": "NamespaceContentRemaining", "status": "False"}]}}
    got = ok(api.call("PATCH", f"/api/v1/namespaces/{ns}/status", st, MERGE))
    cond = next(c for c in got["status"]["conditions"] if c["type"] == "NamespaceContentRemaining")
    assert cond["lastTransitionTime"] is None


def test_workload_conditions_status_and_templates(api: Client, kubectl: Kubectl) -> None:
    ns = namespace(api)
    labels = {"app": "a"}
    tmpl = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    dep = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": labels}, "template": tmpl}}
    got = ok(api.call("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep), 201)
    assert got["status"] == {}  # DeploymentStatus is a value: `status: {}` from the start
    assert got["spec"]["template"]["metadata"]["creationTimestamp"] is None
    st = {"status": {"conditions": [{"type": "Available", "status": "True"}]}}
    got = ok(api.call("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/d/status", st, MERGE))
    (cond,) = got["status"]["conditions"]
    assert cond["lastUpdateTime"] is None and cond["lastTransitionTime"] is None
    rs = {"metadata": {"name": "r"}, "spec": {"selector": {"matchLabels": labels}, "template": tmpl}}
    ok(api.call("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", rs), 201)
    st = {"status": {"replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True"}]}}
    got = ok(api.call("PATCH", f"/apis/apps/v1/namespaces/{ns}/replicasets/r/status", st, MERGE))
    assert got["status"]["conditions"][0]["lastTransitionTime"] is None
    job_tmpl = {**tmpl, "spec": {**tmpl["spec"], "restartPolicy": "Never"}}
    job = {"metadata": {"name": "j"}, "spec": {"template": job_tmpl, "suspend": True}}
    ok(api.call("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job), 201)
    st = {"status": {"conditions": [{"type": "Suspended", "status": "True"}]}}
    got = ok(api.call("PATCH", f"/apis/batch/v1/namespaces/{ns}/jobs/j/status", st, MERGE))
    (cond,) = got["status"]["conditions"]
    assert cond["lastProbeTime"] is None and cond["lastTransitionTime"] is None
    assert kubectl.get_json("job", "j", "-n", ns)["status"]["conditions"][0]["lastProbeTime"] is None


def test_nil_slices_without_omitempty_are_null(api: Client, kubectl: Kubectl) -> None:
    ns = namespace(api)
    es = {"metadata": {"name": "es"}, "addressType": "IPv4", "endpoints": []}
    got = ok(api.call("POST", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", es), 201)
    assert "ports" in got and got["ports"] is None
    name = unique("agg")
    role = {
        "metadata": {"name": name},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": name}}]},
    }
    got = ok(api.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role), 201)
    assert "rules" in got and got["rules"] is None
    assert kubectl.get_json("clusterrole", name)["rules"] is None


def test_crd_status_names_and_conditions(api: Client) -> None:
    crd = {
        "metadata": {"name": "gadgets.s17.example.com"},
        "spec": {
            "group": "s17.example.com",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    ok(api.call("POST", path, crd), 201)
    st = {"status": {"conditions": [{"type": "Custom", "status": "True"}]}}
    got = ok(api.call("PATCH", f"{path}/gadgets.s17.example.com/status", st, MERGE))
    cond = next(c for c in got["status"]["conditions"] if c["type"] == "Custom")
    assert cond["lastTransitionTime"] is None
    assert set(got["status"]["acceptedNames"]) >= {"plural", "kind"}


# ------------------------------------------------------------------------------ PUT creates
CREATES_ON_PUT = [
    ("/api/v1/namespaces/{ns}/events", {"involvedObject": {"kind": "Pod", "name": "p", "namespace": "{ns}"}}),
    ("/api/v1/namespaces/{ns}/endpoints", {}),
    ("/api/v1/namespaces/{ns}/limitranges", {"spec": {"limits": []}}),
    ("/api/v1/namespaces/{ns}/services", {"spec": {"ports": [{"port": 80}]}}),
    ("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", {}),
    ("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", {"rules": []}),
    (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "x"}},
    ),
    ("/apis/rbac.authorization.k8s.io/v1/clusterroles", {"rules": []}),
    (
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}},
    ),
    ("/apis/node.k8s.io/v1/runtimeclasses", {"handler": "runc"}),
    (
        "/apis/events.k8s.io/v1/namespaces/{ns}/events",
        {
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "example.com/c",
            "reportingInstance": "i",
            "action": "A",
            "reason": "R",
            "type": "Normal",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "{ns}"},
        },
    ),
]
NOT_ON_PUT = [
    ("/api/v1/namespaces/{ns}/configmaps", {"data": {"a": "b"}}),
    ("/api/v1/namespaces/{ns}/secrets", {}),
    ("/api/v1/namespaces/{ns}/serviceaccounts", {}),
    ("/api/v1/namespaces/{ns}/podtemplates", {}),
    ("/apis/scheduling.k8s.io/v1/priorityclasses", {"value": 10}),
    ("/apis/networking.k8s.io/v1/ingressclasses", {}),
    ("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", {"addressType": "IPv4", "endpoints": []}),
    ("/apis/storage.k8s.io/v1/storageclasses", {"provisioner": "example.com/p"}),
]


@pytest.mark.parametrize(("collection", "extra"), CREATES_ON_PUT, ids=lambda v: str(v).split("/")[-1])
def test_put_creates_where_the_strategy_allows_it(
    api: Client, collection: str, extra: dict[str, Any]
) -> None:
    ns = namespace(api)
    coll = collection.format(ns=ns)
    name = unique("put")
    extra = json.loads(json.dumps(extra).replace("{ns}", ns))
    body = {"metadata": {"name": name, "resourceVersion": "12345"}, **extra}  # a stale rv is ignored
    created = ok(api.call("PUT", f"{coll}/{name}", body), 201)
    assert created["metadata"]["name"] == name and created["metadata"]["uid"]
    assert ok(api.call("GET", f"{coll}/{name}"))["metadata"]["uid"] == created["metadata"]["uid"]
    # once it exists the same PUT is an update (200), with the usual resourceVersion precondition
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    ok(api.call("PUT", f"{coll}/{name}", body), 200)


@pytest.mark.parametrize(("collection", "extra"), NOT_ON_PUT, ids=lambda v: str(v).split("/")[-1])
def test_put_to_a_missing_name_is_404_elsewhere(api: Client, collection: str, extra: dict[str, Any]) -> None:
    ns = namespace(api)
    coll = collection.format(ns=ns)
    name = unique("put")
    r = api.call("PUT", f"{coll}/{name}", {"metadata": {"name": name}, **extra})
    assert r.status == 404 and r.body["reason"] == "NotFound", r.raw
    assert r.body["details"]["name"] == name
    assert api.call("GET", f"{coll}/{name}").status == 404


def test_put_create_checks_uid_namespace_and_create_permission(api: Client, kubectl: Kubectl) -> None:
    ns = namespace(api)
    leases = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    r = api.call("PUT", f"{leases}/u", {"metadata": {"name": "u", "uid": "abc"}})
    assert r.status == 409 and r.body["reason"] == "Conflict", r.raw
    assert "Precondition failed: UID in precondition: abc" in r.body["message"]
    r = api.call(
        "PUT", "/apis/coordination.k8s.io/v1/namespaces/nosuchns/leases/x", {"metadata": {"name": "x"}}
    )
    assert r.status == 404 and r.body["details"] == {"name": "nosuchns", "kind": "namespaces"}, r.raw
    # a writer allowed to update leases but not to create them
    kubectl("create", "serviceaccount", "bot", "-n", ns)
    kubectl("create", "role", "upd", "--verb=update,get", "--resource=leases", "-n", ns)
    kubectl("create", "rolebinding", "upd", "--role=upd", f"--serviceaccount={ns}:bot", "-n", ns)
    token = kubectl("create", "token", "bot", "-n", ns).strip()
    r = api.call("PUT", f"{leases}/held", {"metadata": {"name": "held"}}, token=token)
    assert r.status == 403 and r.body["reason"] == "Forbidden", r.raw
    assert r.body["message"].startswith('leases.coordination.k8s.io "held" is forbidden')
    assert api.call("GET", f"{leases}/held").status == 404
    kubectl("create", "role", "mk", "--verb=create", "--resource=leases", "-n", ns)
    kubectl("create", "rolebinding", "mk", "--role=mk", f"--serviceaccount={ns}:bot", "-n", ns)
    ok(api.call("PUT", f"{leases}/held", {"metadata": {"name": "held"}}, token=token), 201)


def test_kubectl_replace_creates_a_missing_lease_but_not_a_configmap(api: Client, kubectl: Kubectl) -> None:
    ns = namespace(api)
    lease = f"apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: l\n  namespace: {ns}\n"
    out = kubectl("replace", "-f", "-", input=lease)
    assert "lease.coordination.k8s.io/l replaced" in out
    assert kubectl.get_json("lease", "l", "-n", ns)["metadata"]["name"] == "l"
    cm = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: {ns}\n"
    p = kubectl.run("replace", "-f", "-", input=cm, check=False)
    assert p.returncode != 0 and 'configmaps "c" not found' in p.stderr


# ------------------------------------------------------------------------------ methods
@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PROPFIND"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/pods/x",
        "/api",
        "/apis",
        "/api/v1",
        "/apis/apps",
        "/apis/apps/v1",
        "/version",
    ],
)
def test_unknown_methods_get_kubes_405(api: Client, method: str, path: str) -> None:
    r = api.call(method, path)
    assert r.status == 405, r.raw
    assert r.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": NOT_ALLOWED,
        "reason": "MethodNotAllowed",
        "details": {},
        "code": 405,
    }


def test_head_and_other_paths(api: Client) -> None:
    # go-restful has no HEAD routes (only proxies take it): 405 without a body
    for path in ("/api/v1/namespaces/default/configmaps", "/api", "/version"):
        r = api.call("HEAD", path)
        assert r.status == 405 and r.raw == b"", (path, r.raw)
    assert api.call("OPTIONS", "/healthz").status == 200  # not go-restful: any method
    r = api.call("OPTIONS", "/api/v1/nosuchresources")
    assert r.status == 404 and r.body["reason"] == "NotFound", r.raw
    # the write methods still refuse the paths they have no route on
    r = api.call("POST", "/version", {})
    assert r.status == 405 and r.body["details"] == {}, r.raw
