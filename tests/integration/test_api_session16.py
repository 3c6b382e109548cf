"""API fidelity (session 16) against a real API server: NamespaceLifecycle admission refuses every
kind of create in a terminating namespace (plain, generateName, server-side apply, pods/binding,
bindings, pods/eviction, serviceaccounts/token) with kube's 403 and NamespaceTerminating cause, and
exempts local access reviews; pod status is stored as Go encodes PodStatus (zero condition times as
null, container states as structs)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Server, server_fixture
from tests.integration.httpclient import Client

server = server_fixture()

APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}
SMP = {"Content-Type": "application/strategic-merge-patch+json"}
HOLD = "example.com/hold"


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


def ok(reply: Any, status: int = 200) -> dict[str, Any]:
    assert reply.status == status, reply.raw
    return reply.body


def pod(name: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def refused(reply: Any, ns: str, resource: str, name: str) -> None:
    """kube's NamespaceLifecycle answer: admission.NewForbidden with the NamespaceTerminating cause."""
    why = f"unable to create new content in namespace {ns} because it is being terminated"
    assert reply.status == 403, reply.raw
    assert reply.body["reason"] == "Forbidden"
    assert reply.body["message"] == f'{resource} "{name}" is forbidden: {why}'
    assert reply.body["details"] == {
        "name": name,
        "kind": resource,
        "causes": [
            {
                "reason": "NamespaceTerminating",
                "message": f"namespace {ns} is being terminated",
                "field": "metadata.namespace",
            }
        ],
    }


@pytest.fixture(scope="module")
def terminating(api: Client) -> Iterator[str]:
    """A namespace kept Terminating by a pod and a configmap with a finalizer of ours."""
    ns = "doomed16"
    ok(api.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), 201)
    base = f"/api/v1/namespaces/{ns}"
    ok(api.call("POST", f"{base}/pods", pod("p", finalizers=[HOLD])), 201)
    cm = {"metadata": {"name": "held", "finalizers": [HOLD]}, "data": {"a": "1"}}
    ok(api.call("POST", f"{base}/configmaps", cm), 201)
    deadline = time.monotonic() + 10
    while api.call("GET", f"{base}/serviceaccounts/default").status != 200:
        assert time.monotonic() < deadline, "no default service account"
        time.sleep(0.05)
    assert ok(api.call("DELETE", base))["status"]["phase"] == "Terminating"
    yield ns
    for path in (f"{base}/pods/p", f"{base}/configmaps/held"):
        api.call("PATCH", path, {"metadata": {"finalizers": None}}, headers=MERGE)
    deadline = time.monotonic() + 15
    while api.call("GET", base).status != 404:
        assert time.monotonic() < deadline, "namespace not removed"
        time.sleep(0.1)


def test_creates_in_terminating_namespace_are_refused(api: Client, terminating: str) -> None:
    ns = terminating
    base = f"/api/v1/namespaces/{ns}"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}}
    refused(api.call("POST", f"{base}/configmaps", cm), ns, "configmaps", "new")
    # admission.NewForbidden names a generateName create by its prefix, a nameless one "Unknown"
    gen = {"metadata": {"generateName": "gen-"}}
    refused(api.call("POST", f"{base}/configmaps", gen), ns, "configmaps", "gen-")
    refused(api.call("POST", f"{base}/configmaps", {"metadata": {}}), ns, "configmaps", "Unknown")
    # server-side apply that would create the object goes through create admission
    applied = api.call("PATCH", f"{base}/configmaps/new?fieldManager=t", json.dumps(cm), headers=APPLY)
    refused(applied, ns, "configmaps", "new")
    assert api.call("GET", f"{base}/configmaps/new").status == 404
    # an update of an existing object is no create: allowed
    patched = api.call("PATCH", f"{base}/configmaps/held", {"data": {"a": "2"}}, headers=MERGE)
    assert ok(patched)["data"] == {"a": "2"}


def test_subresource_creates_in_terminating_namespace_are_refused(api: Client, terminating: str) -> None:
    ns = terminating
    base = f"/api/v1/namespaces/{ns}"
    target = {"target": {"kind": "Node", "name": "n1"}}
    refused(api.call("POST", f"{base}/pods/p/binding", target), ns, "pods", "p")
    top = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, **target}
    refused(api.call("POST", f"{base}/bindings", top), ns, "bindings", "p")
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}
    refused(api.call("POST", f"{base}/pods/p/eviction", eviction), ns, "pods", "p")
    token = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    refused(
        api.call("POST", f"{base}/serviceaccounts/default/token", token), ns, "serviceaccounts", "default"
    )
    # the body is decoded before admission runs: a broken one is still a 400
    broken = api.call("POST", f"{base}/pods/p/eviction", b"{", headers={"Content-Type": "application/json"})
    assert broken.status == 400, broken.raw
    got = ok(api.call("GET", f"{base}/pods/p"))
    assert "nodeName" not in got["spec"] and got["metadata"]["finalizers"] == [HOLD]


def test_local_access_review_is_exempt(api: Client, terminating: str) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "LocalSubjectAccessReview",
        "metadata": {"namespace": terminating},
        "spec": {
            "user": "someone",
            "resourceAttributes": {"namespace": terminating, "verb": "get", "resource": "pods"},
        },
    }
    path = f"/apis/authorization.k8s.io/v1/namespaces/{terminating}/localsubjectaccessreviews"
    got = ok(api.call("POST", path, review), 201)
    assert got["status"]["allowed"] is False


def test_pod_status_is_stored_as_go_encodes_it(api: Client) -> None:
    ns = "podstatus16"
    ok(api.call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), 201)
    base = f"/api/v1/namespaces/{ns}/pods"
    ok(api.call("POST", base, pod("a")), 201)
    ok(api.call("POST", f"{base}/a/binding", {"target": {"kind": "Node", "name": "n1"}}), 201)
    (scheduled,) = ok(api.call("GET", f"{base}/a"))["status"]["conditions"]
    assert scheduled["type"] == "PodScheduled" and scheduled["lastProbeTime"] is None
    # a kubelet-like status patch without the zero times
    status = {
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [
            {
                "name": "c",
                "image": "busybox",
                "imageID": "",
                "ready": False,
                "restartCount": 1,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1}},
            }
        ],
    }
    got = ok(api.call("PATCH", f"{base}/a/status", {"status": status}, headers=SMP))["status"]
    conds = {c["type"]: c for c in got["conditions"]}
    assert conds["Ready"] == {
        "type": "Ready",
        "status": "False",
        "reason": "ContainersNotReady",
        "lastProbeTime": None,
        "lastTransitionTime": None,
    }
    assert conds["PodScheduled"] == scheduled
    (cs,) = got["containerStatuses"]
    assert cs["state"] == {"running": {"startedAt": None}}
    assert cs["lastState"] == {"terminated": {"exitCode": 1, "startedAt": None, "finishedAt": None}}
    # what is returned is what is stored
    assert ok(api.call("GET", f"{base}/a"))["status"] == got
    # a container status without states gets both as empty structs
    status["containerStatuses"][0].pop("state")
    status["containerStatuses"][0].pop("lastState")
    got = ok(api.call("PUT", f"{base}/a/status", {**ok(api.call("GET", f"{base}/a")), "status": status}))
    (cs,) = got["status"]["containerStatuses"]
    assert cs["state"] == {} and cs["lastState"] == {}
