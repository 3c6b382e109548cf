"""pods/ephemeralcontainers against `vcluster host`, with the real kubectl: `kubectl debug` adds an
ephemeral container that the simulated kubelet starts (status, events, logs, attach); patches to
the subresource change only spec.ephemeralContainers; removals, changes, duplicate names, a
missing image and forbidden fields are refused with kube-apiserver 1.32's 422 answers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, attach_echoes, host_fixture, host_kubectl_fixture
from tests.integration.httpclient import Client
from tests.integration.test_host_e2e import eventually, ns

pytestmark = pytest.mark.integration

host = host_fixture("--nodes", "1")
k = host_kubectl_fixture()

SUB = "ephemeralcontainers"
FORBIDDEN_FIELD = "Forbidden: cannot be set for an Ephemeral Container"


@pytest.fixture(scope="module")
def api(host: Server) -> Iterator[Client]:
    c = Client(host.url, host.ca_file, host.token)
    yield c
    c.close()


def running_pod(k: Kubectl, n: str, name: str) -> dict[str, Any]:
    """A pod with the one container `c` (stdin: true, so that attach echoes), once it runs."""
    k.apply(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {n}, labels: {{app: dbg}}}}\n"
        "spec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: c, image: nginx, stdin: true}\n"
    )
    return eventually(lambda: running(k, n, name), 30, f"pod {name} Running")


def running(k: Kubectl, n: str, name: str) -> dict[str, Any] | None:
    pod = k.get_json("pod", name, "-n", n)
    return pod if pod["status"].get("phase") == "Running" else None


def ephemeral_status(k: Kubectl, n: str, pod: str, container: str) -> dict[str, Any] | None:
    statuses = k.get_json("pod", pod, "-n", n)["status"].get("ephemeralContainerStatuses") or []
    return next((s for s in statuses if s["name"] == container), None)


def patch(
    k: Kubectl, n: str, pod: str, body: Any, kind: str = "strategic"
) -> subprocess.CompletedProcess[str]:
    """`kubectl patch --subresource=ephemeralcontainers`, printing the whole Pod as JSON."""
    args = ["patch", "pod", pod, "-n", n, f"--subresource={SUB}", f"--type={kind}", "-p", json.dumps(body)]
    return k.run(*args, "-o", "json", check=False)


def ephemeral(name: str, **fields: Any) -> dict[str, Any]:
    return {"spec": {"ephemeralContainers": [{"name": name, **fields}]}}


def test_kubectl_debug_starts_an_ephemeral_container(k: Kubectl) -> None:
    n = ns(k, "eph-debug")
    before = running_pod(k, n, "web")
    p = k.run("debug", "web", "-n", n, "--image=busybox", "--target=c", "-c", "dbg", check=False)
    assert p.returncode == 0, p.stderr
    spec = json.loads(k("get", "pod", "web", "-n", n, "-o", "jsonpath={.spec.ephemeralContainers}"))
    assert spec == [
        {
            "image": "busybox",
            "imagePullPolicy": "Always",
            "name": "dbg",
            "resources": {},
            "targetContainerName": "c",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
        }
    ]
    status = eventually(lambda: ephemeral_status(k, n, "web", "dbg"), 15, "ephemeral container status")
    assert status["state"]["running"]["startedAt"] >= before["status"]["startTime"]
    assert status["containerID"].startswith("containerd://") and status["ready"] is False
    assert status["image"] == "docker.io/library/busybox:latest" and status["restartCount"] == 0
    jsonpath = "jsonpath={.status.ephemeralContainerStatuses[0].state.running.startedAt}"
    assert k("get", "pod", "web", "-n", n, "-o", jsonpath) == status["state"]["running"]["startedAt"]
    # the kubelet's events, as for the pod's containers
    reasons = eventually(lambda: debug_events(k, n), 10, "the debug container's events")
    assert reasons == ["Pulling", "Pulled", "Created", "Started"]
    # the rest of the pod is as it was, and the write is recorded as the subresource's
    pod = k.get_json("pod", "web", "-n", n)
    assert pod["spec"]["containers"] == before["spec"]["containers"]
    assert pod["metadata"]["labels"] == {"app": "dbg"}
    assert pod["status"]["containerStatuses"] == before["status"]["containerStatuses"]
    mf = k.get_json("pod", "web", "-n", n, "--show-managed-fields")["metadata"]["managedFields"]
    mine = [e for e in mf if e.get("subresource") == SUB]
    assert [(e["manager"], e["operation"]) for e in mine] == [("kubectl", "Update")]
    assert 'k:{"name":"dbg"}' in mine[0]["fieldsV1"]["f:spec"]["f:ephemeralContainers"]


def debug_events(k: Kubectl, n: str) -> list[str]:
    items = k.get_json("events", "-n", n)["items"]
    items.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["creationTimestamp"]))
    return [
        e["reason"] for e in items if e["involvedObject"].get("fieldPath") == "spec.ephemeralContainers{dbg}"
    ]


def test_logs_and_attach_of_an_ephemeral_container(k: Kubectl) -> None:
    n = ns(k, "eph-attach")
    running_pod(k, n, "web")
    # -i without attaching: the container reads stdin
    k("debug", "web", "-n", n, "--image=busybox", "-c", "shell", "-i", "--attach=false")
    eventually(lambda: ephemeral_status(k, n, "web", "shell"), 15, "ephemeral container running")
    log = k("logs", "web", "-n", n, "-c", "shell")
    assert "INFO starting shell (image busybox)" in log.splitlines()[0]
    p = k.run("logs", "web", "-n", n, "-c", "nope", check=False)
    assert "container nope is not valid for pod web" in p.stderr
    attach_echoes(k, n, "web", "ping from the debugger", container="shell")


def test_patches_to_the_subresource(k: Kubectl, api: Client) -> None:
    n = ns(k, "eph-patch")
    running_pod(k, n, "web")
    p = patch(k, n, "web", ephemeral("one", image="busybox"))
    assert p.returncode == 0, p.stderr
    pod = json.loads(p.stdout)  # the whole Pod comes back
    assert pod["kind"] == "Pod" and pod["spec"]["containers"][0]["name"] == "c"
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["one"]
    # a strategic merge patch merges by name (a merge patch would replace the list)
    p = patch(k, n, "web", ephemeral("two", image="alpine:3", targetContainerName="c"))
    assert p.returncode == 0, p.stderr
    got = {c["name"]: c for c in json.loads(p.stdout)["spec"]["ephemeralContainers"]}
    assert set(got) == {"one", "two"} and got["two"]["imagePullPolicy"] == "IfNotPresent"
    for name in ("one", "two"):  # the kubelet is done with the pod
        eventually(lambda name=name: ephemeral_status(k, n, "web", name), 15, f"{name} running")
    # everything but spec.ephemeralContainers is ignored: labels, annotations, containers, status
    rv = k.get_json("pod", "web", "-n", n)["metadata"]["resourceVersion"]
    body = {"metadata": {"labels": {"app": "changed", "new": "x"}, "annotations": {"a": "b"}}}
    body["spec"] = {"containers": [{"name": "c", "image": "nginx:2"}], "activeDeadlineSeconds": 5}
    p = patch(k, n, "web", {**body, "status": {"phase": "Failed"}}, kind="merge")
    assert p.returncode == 0, p.stderr
    pod = k.get_json("pod", "web", "-n", n)
    assert pod["metadata"]["labels"] == {"app": "dbg"} and "a" not in pod["metadata"]["annotations"]
    assert pod["spec"]["containers"][0]["image"] == "nginx" and "activeDeadlineSeconds" not in pod["spec"]
    assert pod["status"]["phase"] == "Running"
    assert pod["metadata"]["resourceVersion"] == rv  # nothing changed, nothing written
    # GET serves the Pod
    status, got_pod = api.call("GET", f"/api/v1/namespaces/{n}/pods/web/{SUB}")
    assert status == 200 and got_pod["kind"] == "Pod" and got_pod["metadata"]["resourceVersion"] == rv


def test_put_with_resource_version_preconditions(k: Kubectl, api: Client) -> None:
    n = ns(k, "eph-put")
    running_pod(k, n, "web")
    path = f"/api/v1/namespaces/{n}/pods/web/{SUB}"
    pod = api.call("GET", path).body
    stale = json.loads(json.dumps(pod))
    pod["spec"]["ephemeralContainers"] = [{"name": "put", "image": "busybox"}]
    pod["metadata"]["labels"] = {"ignored": "yes"}
    reply = api.call("PUT", path, pod)
    assert reply.status == 200, reply.body
    assert [c["name"] for c in reply.body["spec"]["ephemeralContainers"]] == ["put"]
    assert reply.body["metadata"]["labels"] == {"app": "dbg"}
    assert reply.body["metadata"]["resourceVersion"] != stale["metadata"]["resourceVersion"]
    stale["spec"]["ephemeralContainers"] = [{"name": "late", "image": "busybox"}]
    reply = api.call("PUT", path, stale)
    assert reply.status == 409, reply.body
    assert reply.body["reason"] == "Conflict"
    assert reply.body["message"] == (
        'Operation cannot be fulfilled on pods "web": the object has been modified; please apply your '
        "changes to the latest version and try again"
    )
    # a patch pinning an old resourceVersion conflicts too
    p = patch(k, n, "web", {"metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]}})
    assert p.returncode != 0 and "the object has been modified" in p.stderr
    assert [c["name"] for c in k.get_json("pod", "web", "-n", n)["spec"]["ephemeralContainers"]] == ["put"]


def test_a_pod_not_yet_scheduled_starts_them_with_its_containers(k: Kubectl) -> None:
    """kube-apiserver does not ask for a node: the kubelet starts them once the pod runs."""
    n = ns(k, "eph-gated")
    k.apply(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: gated, namespace: {n}}}\n"
        "spec:\n  schedulingGates: [{name: example.com/wait}]\n"
        "  containers:\n  - {name: c, image: nginx}\n"
    )
    p = patch(k, n, "gated", ephemeral("early", image="busybox"))
    assert p.returncode == 0, p.stderr
    pod = json.loads(p.stdout)
    assert "nodeName" not in pod["spec"] and pod["status"]["phase"] == "Pending"
    k(
        "patch",
        "pod",
        "gated",
        "-n",
        n,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/schedulingGates"}]',
    )
    status = eventually(lambda: ephemeral_status(k, n, "gated", "early"), 30, "started with the pod")
    pod = k.get_json("pod", "gated", "-n", n)
    assert status["state"]["running"]["startedAt"] >= pod["status"]["startTime"]
    assert pod["status"]["containerStatuses"][0]["state"]["running"]


@pytest.mark.parametrize(
    ("body", "kind", "field", "reason", "message"),
    [
        (
            [{"op": "remove", "path": "/spec/ephemeralContainers/0"}],
            "json",
            "spec.ephemeralContainers",
            "FieldValueForbidden",
            'Forbidden: existing ephemeral containers "dbg" may not be removed\n',
        ),
        (
            ephemeral("dbg", image="alpine"),
            "strategic",
            "spec.ephemeralContainers",
            "FieldValueForbidden",
            'Forbidden: existing ephemeral containers "dbg" may not be changed\n',
        ),
        (
            ephemeral("c", image="busybox"),
            "strategic",
            "spec.ephemeralContainers[0].name",
            "FieldValueDuplicate",
            'Duplicate value: "c"',
        ),
        (
            ephemeral("noimage"),
            "strategic",
            "spec.ephemeralContainers[0].image",
            "FieldValueRequired",
            "Required value",
        ),
        (
            ephemeral("ports", image="busybox", ports=[{"containerPort": 80}]),
            "strategic",
            "spec.ephemeralContainers[0].ports",
            "FieldValueForbidden",
            FORBIDDEN_FIELD,
        ),
        (
            ephemeral("target", image="busybox", targetContainerName="nope"),
            "strategic",
            "spec.ephemeralContainers[0].targetContainerName",
            "FieldValueNotFound",
            'Not found: "nope"',
        ),
    ],
    ids=["removed", "changed", "duplicate-name", "no-image", "ports", "unknown-target"],
)
def test_refused_changes(
    k: Kubectl, api: Client, refusal_pod: str, body: Any, kind: str, field: str, reason: str, message: str
) -> None:
    n = refusal_pod
    before = k.get_json("pod", "web", "-n", n)
    p = patch(k, n, "web", body, kind)
    assert p.returncode != 0
    first_line = message.split("\n", 1)[0]
    assert f'The Pod "web" is invalid: {field}: {first_line}' in p.stderr, p.stderr
    ctype = {"json": "json-patch+json", "strategic": "strategic-merge-patch+json"}[kind]
    reply = api.call(
        "PATCH",
        f"/api/v1/namespaces/{n}/pods/web/{SUB}",
        json.dumps(body),
        headers={"Content-Type": f"application/{ctype}"},
    )
    assert reply.status == 422 and reply.body["reason"] == "Invalid", reply.body
    details = reply.body["details"]
    assert (details["name"], details["kind"]) == ("web", "Pod")
    [cause] = details["causes"]
    assert (cause["field"], cause["reason"]) == (field, reason)
    # "may not be changed" goes on with a diff of the container
    assert cause["message"] == message or (
        message.endswith("changed\n") and cause["message"].startswith(message)
    )
    assert reply.body["message"] == f'Pod "web" is invalid: {field}: {cause["message"]}'
    after = k.get_json("pod", "web", "-n", n)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.fixture(scope="module")
def refusal_pod(k: Kubectl) -> str:
    """A running pod `web` with the ephemeral container `dbg`, in its own namespace."""
    n = ns(k, "eph-refused")
    running_pod(k, n, "web")
    p = patch(k, n, "web", ephemeral("dbg", image="busybox"))
    assert p.returncode == 0, p.stderr
    return n
