"""pods/eviction respects PodDisruptionBudgets as kube-apiserver's EvictionREST: against the API server
alone (budget status set by hand) and end to end with `vcluster host` and the real `kubectl drain`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, host_fixture, host_kubectl_fixture
from tests.integration.httpclient import Client, Reply
from tests.integration.test_host_e2e import eventually

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture(scope="module")
def api(module_server: Server) -> Iterator[Client]:
    c = Client(module_server.url, module_server.ca_file, module_server.token)
    yield c
    c.close()


def make_namespace(api: Client, name: str) -> str:
    assert api.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}}).status == 201
    eventually(
        lambda: api.call("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default").status == 200,
        10,
        "default ServiceAccount",
    )
    return name


def ready_pod(
    api: Client,
    ns: str,
    name: str,
    *,
    phase: str = "Running",
    ready: bool = True,
    labels: dict[str, str] | None = None,
) -> dict:
    """A pod (labels app=web unless given) with status `phase` and Ready=`ready` (no kubelet here)."""
    pod = {
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    r = api.call("POST", f"/api/v1/namespaces/{ns}/pods", pod)
    assert r.status == 201, r.body
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    r = api.call(
        "PATCH",
        f"/api/v1/namespaces/{ns}/pods/{name}/status",
        {"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200, r.body
    return r.body


def budget(api: Client, ns: str, name: str, status: dict[str, Any], **spec: Any) -> dict:
    """A PDB selecting app=web with `status` written through the status subresource."""
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}, **spec},
    }
    r = api.call("POST", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", pdb)
    assert r.status == 201, r.body
    full = {"observedGeneration": 1, "expectedPods": 2, "desiredHealthy": 1, "currentHealthy": 2, **status}
    r = api.call(
        "PATCH",
        f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}/status",
        {"status": full},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200, r.body
    return r.body


def get_pdb(api: Client, ns: str, name: str) -> dict:
    return api.call("GET", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}").body


def evict(api: Client, ns: str, pod: str, query: str = "", **delete_options: Any) -> Reply:
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": ns},
    }
    if delete_options:
        body["deleteOptions"] = delete_options
    return api.call("POST", f"/api/v1/namespaces/{ns}/pods/{pod}/eviction{query}", body)


def pod_state(api: Client, ns: str, name: str) -> str:
    """'gone', 'deleting' or 'present'."""
    r = api.call("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    if r.status == 404:
        return "gone"
    return "deleting" if r.body["metadata"].get("deletionTimestamp") else "present"


# ---------------------------------------------------------------------------- API server alone
def test_exhausted_budget_answers_429_with_cause_and_keeps_pod(api: Client) -> None:
    ns = make_namespace(api, "evict-429")
    ready_pod(api, ns, "a")
    ready_pod(api, ns, "b")
    before = budget(api, ns, "pdb", {"disruptionsAllowed": 0, "desiredHealthy": 2}, minAvailable=2)
    r = evict(api, ns, "a")
    assert r.status == 429, r.body
    assert r.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": VIOLATION,
        "reason": "TooManyRequests",
        "details": {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": "The disruption budget pdb needs 2 healthy pods and has 2 currently",
                }
            ]
        },
        "code": 429,
    }
    assert pod_state(api, ns, "a") == "present"
    assert get_pdb(api, ns, "pdb")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_allowed_eviction_spends_the_budget_then_deletes(api: Client) -> None:
    ns = make_namespace(api, "evict-spend")
    ready_pod(api, ns, "a")
    ready_pod(api, ns, "b")
    budget(api, ns, "pdb", {"disruptionsAllowed": 1})
    r = evict(api, ns, "a")
    assert (r.status, r.body["status"]) == (201, "Success")
    assert pod_state(api, ns, "a") in ("gone", "deleting")
    st = get_pdb(api, ns, "pdb")["status"]
    assert st["disruptionsAllowed"] == 0
    assert list(st["disruptedPods"]) == ["a"]
    cond = next(c for c in st["conditions"] if c["type"] == "DisruptionAllowed")
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")
    # the budget is now spent: the next eviction is refused
    r = evict(api, ns, "b")
    assert r.status == 429 and r.body["reason"] == "TooManyRequests"
    assert pod_state(api, ns, "b") == "present"


def test_dry_run_eviction_writes_nothing(api: Client) -> None:
    ns = make_namespace(api, "evict-dry")
    ready_pod(api, ns, "a")
    before = budget(api, ns, "pdb", {"disruptionsAllowed": 1})
    assert evict(api, ns, "a", "?dryRun=All").status == 201
    assert evict(api, ns, "a", dryRun=["All"]).status == 201
    assert pod_state(api, ns, "a") == "present"
    assert get_pdb(api, ns, "pdb")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    # a dry run is still checked against the budget
    spent = make_namespace(api, "evict-dry-spent")
    ready_pod(api, spent, "a")
    budget(api, spent, "pdb", {"disruptionsAllowed": 0})
    assert evict(api, spent, "a", "?dryRun=All").status == 429


def test_budget_not_yet_observed_answers_429_still_processing(api: Client) -> None:
    ns = make_namespace(api, "evict-stale")
    ready_pod(api, ns, "a")
    budget(api, ns, "pdb", {"disruptionsAllowed": 5, "observedGeneration": 0})
    r = evict(api, ns, "a")
    assert r.status == 429 and r.headers.get("retry-after") == "10"
    assert r.body["details"] == {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget pdb is still being processed by the server.",
            }
        ],
        "retryAfterSeconds": 10,
    }
    assert pod_state(api, ns, "a") == "present"


def test_two_budgets_answer_500(api: Client) -> None:
    ns = make_namespace(api, "evict-two")
    ready_pod(api, ns, "a")
    budget(api, ns, "one", {"disruptionsAllowed": 1})
    budget(api, ns, "two", {"disruptionsAllowed": 1})
    r = evict(api, ns, "a")
    assert r.status == 500
    assert r.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": (
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
        ),
        "code": 500,
    }
    assert pod_state(api, ns, "a") == "present"


def test_terminal_and_pending_pods_ignore_the_budget(api: Client) -> None:
    ns = make_namespace(api, "evict-terminal")
    ready_pod(api, ns, "done", phase="Succeeded", ready=False)
    ready_pod(api, ns, "waiting", phase="Pending", ready=False)
    ready_pod(api, ns, "running")
    budget(api, ns, "pdb", {"disruptionsAllowed": 0})
    assert evict(api, ns, "done").status == 201
    assert evict(api, ns, "waiting").status == 201
    assert evict(api, ns, "running").status == 429
    assert pod_state(api, ns, "done") in ("gone", "deleting")
    assert pod_state(api, ns, "waiting") in ("gone", "deleting")
    assert pod_state(api, ns, "running") == "present"


def test_unready_pod_follows_unhealthy_pod_eviction_policy(api: Client) -> None:
    ns = make_namespace(api, "evict-unready")
    ready_pod(api, ns, "sick", ready=False)
    # IfHealthyBudget (default) with fewer healthy pods than desired: the budget protects it
    budget(api, ns, "pdb", {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 1})
    r = evict(api, ns, "sick")
    assert r.status == 429 and r.body["details"]["causes"][0]["message"] == (
        "The disruption budget pdb needs 1 healthy pods and has 0 currently"
    )
    assert pod_state(api, ns, "sick") == "present"
    # AlwaysAllow: deleted without spending the budget
    r = api.call(
        "PATCH",
        f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/pdb",
        {"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200, r.body
    assert evict(api, ns, "sick").status == 201
    assert pod_state(api, ns, "sick") in ("gone", "deleting")
    assert "disruptedPods" not in get_pdb(api, ns, "pdb")["status"]


def test_eviction_delete_options_preconditions_are_honoured(api: Client) -> None:
    ns = make_namespace(api, "evict-precond")
    uid = ready_pod(api, ns, "a")["metadata"]["uid"]
    ready_pod(api, ns, "b")
    budget(api, ns, "pdb", {"disruptionsAllowed": 2})
    r = evict(api, ns, "a", preconditions={"uid": "not-the-uid"})
    assert r.status == 409 and r.body["message"].startswith(
        'Operation cannot be fulfilled on Pod "a": the UID in the precondition (not-the-uid) does not match'
    )
    assert pod_state(api, ns, "a") == "present"
    assert evict(api, ns, "a", preconditions={"uid": uid}, gracePeriodSeconds=0).status == 201
    assert pod_state(api, ns, "a") == "gone"
    assert "a" in get_pdb(api, ns, "pdb")["status"]["disruptedPods"]


def test_eviction_name_must_match_url(api: Client) -> None:
    ns = make_namespace(api, "evict-name")
    ready_pod(api, ns, "a")
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}}
    r = api.call("POST", f"/api/v1/namespaces/{ns}/pods/a/eviction", body)
    assert (r.status, r.body["message"]) == (400, "name in URL does not match name in Eviction object")


# ---------------------------------------------------------------------------- kubectl drain end to end
host = host_fixture("--nodes", "2", "--run-seconds", "2")
k = host_kubectl_fixture()

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: NS, labels: {app: guarded}}
spec:
  nodeName: hostsim-node-1
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: nginx}]
"""


def test_drain_is_refused_by_the_budget_then_succeeds(k: Kubectl) -> None:
    ns = "drain-pdb"
    k("create", "namespace", ns)
    eventually(lambda: k.run("get", "sa", "default", "-n", ns, check=False).returncode == 0, 10, "default SA")
    k.apply("---".join(PODS.replace("NAME", n).replace("NS", ns) for n in ("p1", "p2")))
    k("create", "poddisruptionbudget", "guard", "-n", ns, "--selector=app=guarded", "--min-available=2")

    def pdb_status() -> dict[str, Any]:
        return k.get_json("pdb", "guard", "-n", ns).get("status") or {}

    eventually(
        lambda: pdb_status().get("currentHealthy") == 2 and pdb_status().get("observedGeneration") == 1,
        60,
        "PDB sees both pods healthy",
    )
    assert pdb_status()["disruptionsAllowed"] == 0
    drain = ["drain", "hostsim-node-1", "--force", "--pod-selector=app=guarded", "--ignore-daemonsets"]
    p = k.run(*drain, "--timeout=6s", check=False, timeout=60)
    assert p.returncode != 0
    assert VIOLATION in p.stderr
    pods = k.get_json("pods", "-n", ns)["items"]
    assert sorted(x["metadata"]["name"] for x in pods) == ["p1", "p2"]
    assert not any(x["metadata"].get("deletionTimestamp") for x in pods)

    k("patch", "pdb", "guard", "-n", ns, "--type=merge", "-p", '{"spec":{"minAvailable":0}}')
    eventually(lambda: pdb_status().get("disruptionsAllowed") == 2, 30, "budget allows 2")
    out = k(*drain, "--timeout=60s", timeout=90)
    assert "pod/p1 evicted" in out and "pod/p2 evicted" in out
    assert k.get_json("pods", "-n", ns)["items"] == []
