"""Writes through the status subresource, with the real kubectl: server-side apply records
managedFields entries with `subresource: status`, ownership moves with force, conflicts are 409s
(kube-apiserver 1.32); and the status the controllers write reads back as kube's does, without the
zeros of `omitempty` fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, host_fixture, host_kubectl_fixture
from tests.integration.test_host_e2e import eventually

NS = "stapply"

POD = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: {{name}}, namespace: {NS}}}
spec:
  containers: [{{name: c, image: nginx}}]
"""

DEPLOY = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {{name}}, namespace: {NS}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: {{name}}}}}}
  template:
    metadata: {{labels: {{app: {{name}}}}}}
    spec: {{containers: [{{name: c, image: nginx}}]}}
"""

JOB = f"""\
apiVersion: batch/v1
kind: Job
metadata: {{name: {{name}}, namespace: {NS}}}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: busybox}}]
"""


@pytest.fixture(scope="module")
def k(module_kubectl: Kubectl) -> Kubectl:
    module_kubectl.namespace(NS)
    return module_kubectl


def _entries(k: Kubectl, kind: str, name: str) -> list[dict[str, Any]]:
    obj = k.get_json(kind, name, "-n", NS, "--show-managed-fields")
    return obj["metadata"].get("managedFields") or []


def _entry(entries: list[dict[str, Any]], manager: str, operation: str) -> dict[str, Any] | None:
    found = [e for e in entries if e["manager"] == manager and e["operation"] == operation]
    assert len(found) <= 1, entries
    return found[0] if found else None


def _apply_status(k: Kubectl, manifest: str, *, manager: str, force: bool, check: bool = True) -> Any:
    args = ["apply", "--server-side", "--subresource=status", f"--field-manager={manager}", "-f", "-"]
    return k.run(*args, *(["--force-conflicts"] if force else []), input=manifest, check=check)


def _patch_status(k: Kubectl, kind: str, name: str, status: dict[str, Any]) -> None:
    k(
        "patch",
        kind,
        name,
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def test_pod_status_apply_with_force_takes_ownership(k: Kubectl) -> None:
    k.create(POD.replace("{name}", "p1"))
    _patch_status(k, "pod", "p1", {"phase": "Running"})
    patcher = _entry(_entries(k, "pod", "p1"), "kubectl-patch", "Update")
    assert patcher is not None and patcher["subresource"] == "status"
    assert "f:phase" in patcher["fieldsV1"]["f:status"]
    applied = f"""\
apiVersion: v1
kind: Pod
metadata: {{name: p1, namespace: {NS}}}
status:
  phase: Failed
  conditions:
  - {{type: DisruptionTarget, status: "True", reason: DeletionByPodGC, message: gc}}
"""
    _apply_status(k, applied, manager="PodGC", force=True)
    pod = k.get_json("pod", "p1", "-n", NS, "--show-managed-fields")
    assert pod["status"]["phase"] == "Failed"
    entries = pod["metadata"]["managedFields"]
    gc = _entry(entries, "PodGC", "Apply")
    assert gc is not None, entries
    assert gc["subresource"] == "status" and gc["apiVersion"] == "v1"
    st = gc["fieldsV1"]["f:status"]
    assert "f:phase" in st
    assert 'k:{"type":"DisruptionTarget"}' in st["f:conditions"]
    assert "f:spec" not in gc["fieldsV1"]
    # force moved f:phase away from the previous owner, whose entry (owning nothing else) is gone
    assert _entry(entries, "kubectl-patch", "Update") is None


def test_pod_status_apply_conflicts_without_force(k: Kubectl) -> None:
    k.create(POD.replace("{name}", "p2"))
    _patch_status(k, "pod", "p2", {"phase": "Running"})
    applied = (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p2, namespace: {NS}}}\nstatus: {{phase: Failed}}\n"
    )
    p = _apply_status(k, applied, manager="PodGC", force=False, check=False)
    assert p.returncode != 0
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-patch" with subresource "status" '
        "using v1: .status.phase"
    ) in p.stderr
    pod = k.get_json("pod", "p2", "-n", NS, "--show-managed-fields")
    assert pod["status"]["phase"] == "Running"
    assert _entry(pod["metadata"]["managedFields"], "PodGC", "Apply") is None


def test_status_apply_is_recorded_for_workloads(k: Kubectl) -> None:
    k.create(DEPLOY.replace("{name}", "d1"))
    k.create(JOB.replace("{name}", "j1"))
    deploy_status = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: d1, namespace: {NS}}}
status: {{observedGeneration: 1, replicas: 0}}
"""
    job_status = f"""\
apiVersion: batch/v1
kind: Job
metadata: {{name: j1, namespace: {NS}}}
status:
  conditions:
  - {{type: Suspended, status: "True", reason: JobSuspended, message: Job suspended}}
"""
    for kind, name, manifest in (("deployment", "d1", deploy_status), ("job", "j1", job_status)):
        _apply_status(k, manifest, manager="ctrl", force=False)
        entries = _entries(k, kind, name)
        e = _entry(entries, "ctrl", "Apply")
        assert e is not None and e["subresource"] == "status", entries
        assert set(e["fieldsV1"]) == {"f:status"}
    d = k.get_json("deployment", "d1", "-n", NS)
    assert d["status"]["observedGeneration"] == 1


def test_status_apply_keeps_spec_and_main_entries(k: Kubectl) -> None:
    """The status endpoint changes only status; the create's entry and the spec stay."""
    k.create(DEPLOY.replace("{name}", "d2"))
    applied = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: d2, namespace: {NS}}}
spec: {{replicas: 5}}
status: {{replicas: 0, observedGeneration: 1}}
"""
    _apply_status(k, applied, manager="ctrl", force=False)
    d = k.get_json("deployment", "d2", "-n", NS, "--show-managed-fields")
    assert d["spec"]["replicas"] == 0
    assert d["metadata"]["generation"] == 1
    create = _entry(d["metadata"]["managedFields"], "kubectl-create", "Update")
    assert create is not None and "subresource" not in create
    e = _entry(d["metadata"]["managedFields"], "ctrl", "Apply")
    assert e is not None and set(e["fieldsV1"]) == {"f:status"}


def test_status_put_records_update_entry(k: Kubectl) -> None:
    """A status PUT (kubectl replace --subresource=status) is an Update entry of the status."""
    k.create(DEPLOY.replace("{name}", "d3"))
    d = k.get_json("deployment", "d3", "-n", NS)
    d["status"] = {"observedGeneration": 1, "conditions": []}
    d["status"]["replicas"] = 0
    d["status"]["collisionCount"] = 2
    k("replace", "--subresource=status", "-f", "-", input=json.dumps(d))
    entries = _entries(k, "deployment", "d3")
    e = _entry(entries, "kubectl-replace", "Update")
    assert e is not None and e["subresource"] == "status", entries
    assert "f:collisionCount" in e["fieldsV1"]["f:status"]


# ---------------------------------------------------------------------------- controller statuses
host = host_fixture("--nodes", "1", "--run-seconds", "1")
hk = host_kubectl_fixture()
ZNS = "zeros"


@pytest.fixture(scope="module")
def zk(hk: Kubectl) -> Kubectl:
    hk.namespace(ZNS)
    eventually(lambda: hk.run("get", "sa", "default", "-n", ZNS, check=False).returncode == 0, 10, "SA")
    return hk


def _status(k: Kubectl, *what: str) -> dict[str, Any]:
    return k.get_json(*what, "-n", ZNS)["status"]


def _cond_types(status: dict[str, Any]) -> list[str]:
    return [c["type"] for c in status.get("conditions") or []]


def test_zero_replica_workloads_omit_empty_counters(zk: Kubectl) -> None:
    """A Deployment and a StatefulSet scaled to 0 read back as on kube 1.32: the omitempty
    counters are absent, the ones without omitempty (and pointers) are 0."""
    zk.create(DEPLOY.replace(NS, ZNS).replace("{name}", "d0"))
    zk.create(
        f"""\
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: s0, namespace: {ZNS}}}
spec:
  replicas: 0
  serviceName: s0
  selector: {{matchLabels: {{app: s0}}}}
  template:
    metadata: {{labels: {{app: s0}}}}
    spec: {{containers: [{{name: c, image: nginx}}]}}
"""
    )
    d = eventually(
        lambda: (st := _status(zk, "deploy", "d0")) and len(_cond_types(st)) == 2 and st, 20, "d0 status"
    )
    assert set(d) == {"observedGeneration", "conditions"}, d
    rs = zk.get_json("rs", "-n", ZNS, "-l", "app=d0")["items"][0]["status"]
    assert rs == {"replicas": 0, "observedGeneration": 1}
    sts = eventually(lambda: _status(zk, "sts", "s0").get("updateRevision") and _status(zk, "sts", "s0"))
    rev = sts["updateRevision"]
    assert sts == {
        "replicas": 0,
        "availableReplicas": 0,
        "collisionCount": 0,
        "observedGeneration": 1,
        "currentRevision": rev,
        "updateRevision": rev,
    }


def test_daemonset_on_no_node_omits_empty_counters(zk: Kubectl) -> None:
    """A DaemonSet whose nodeSelector matches no node: DaemonSetStatus's four plain counters are
    0, its omitempty ones (updatedNumberScheduled, numberAvailable, numberUnavailable) absent."""
    zk.create(
        f"""\
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: ds0, namespace: {ZNS}}}
spec:
  selector: {{matchLabels: {{app: ds0}}}}
  template:
    metadata: {{labels: {{app: ds0}}}}
    spec:
      nodeSelector: {{no-such-node: "true"}}
      containers: [{{name: c, image: nginx}}]
"""
    )
    st = eventually(lambda: _status(zk, "ds", "ds0").get("observedGeneration") and _status(zk, "ds", "ds0"))
    assert st == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
        "observedGeneration": 1,
    }, st


def test_running_deployment_has_no_unavailable_zero(zk: Kubectl) -> None:
    zk("create", "deployment", "d1", "--image=nginx", "-n", ZNS)
    d = eventually(lambda: (st := _status(zk, "deploy", "d1")).get("availableReplicas") == 1 and st, 30)
    assert "unavailableReplicas" not in d
    assert {k: d[k] for k in ("replicas", "updatedReplicas", "readyReplicas")} == {
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
    }
    rs = zk.get_json("rs", "-n", ZNS, "-l", "app=d1")["items"][0]["status"]
    assert rs == {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 1,
    }


def test_completed_job_omits_zero_counters(zk: Kubectl) -> None:
    """A completed Job: `active` and `failed` (int32, omitempty) are gone; `ready` and
    `terminating` (*int32) stay 0 and `uncountedTerminatedPods` {} as kube 1.32's job controller
    writes them."""
    zk("create", "job", "once", "--image=busybox", "-n", ZNS, "--", "true")
    st = eventually(lambda: "Complete" in _cond_types(s := _status(zk, "job", "once")) and s, 40, "Complete")
    assert set(st) == {
        "conditions",
        "startTime",
        "completionTime",
        "succeeded",
        "ready",
        "terminating",
        "uncountedTerminatedPods",
    }, st
    assert (st["succeeded"], st["ready"], st["terminating"], st["uncountedTerminatedPods"]) == (1, 0, 0, {})
    assert _cond_types(st) == ["SuccessCriteriaMet", "Complete"]
