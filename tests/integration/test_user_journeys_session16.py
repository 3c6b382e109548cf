"""Exploratory user testing of a live virtual cluster (session 16): each defect it found, replayed
with the real kubectl against a host + virtual cluster pair."""

from __future__ import annotations

import pytest

from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    get_json,
    host_name,
    items,
    pair_fixture,
    pod_manifest,
    pod_running,
    safe_concat_name,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()

JOB = """apiVersion: batch/v1
kind: Job
metadata: {{name: {name}, namespace: {ns}}}
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{{name: main, image: busybox, command: [sleep, "3600"]}}]
"""


def test_deleting_a_running_job_deletes_its_pods(pair: Pair) -> None:
    """`kubectl delete job` (background propagation): the garbage collector deletes the pod, and
    the job controller's orphan worker removes the pod's `batch.kubernetes.io/job-tracking`
    finalizer, as its Job is gone (job_controller.go deleteJob/cleanupPodFinalizers,
    syncOrphanPod) — the pod (virtual and host) goes instead of staying Terminating for good."""
    p = pair
    ns = virtual_namespace(p.kv, "jobdel")
    p.kv.create(JOB.format(name="sleeper", ns=ns))
    pod = wait_until(
        lambda: next(
            (
                x
                for x in items(p.kv, "pods", "-n", ns, "-l", "job-name=sleeper")
                if x["status"].get("phase") == "Running"
            ),
            None,
        ),
        20,
        what="the job's pod running",
    )
    name = pod["metadata"]["name"]
    assert "batch.kubernetes.io/job-tracking" in pod["metadata"]["finalizers"]
    p.kv("delete", "job", "sleeper", "-n", ns)
    wait_until(lambda: get_json(p.kv, "pod", name, "-n", ns) is None, 10, what="virtual pod gone")
    wait_until(
        lambda: get_json(p.kh, "pod", host_name(name, ns), "-n", HOST_NS) is None, 10, what="host pod gone"
    )


def test_deleting_a_namespace_with_a_running_job_finishes(pair: Pair) -> None:
    """`kubectl delete namespace` of a namespace with a running Job completes: the namespace
    controller deletes the Job, the pod loses its tracking finalizer and the namespace goes."""
    p = pair
    ns = virtual_namespace(p.kv, "busy")
    p.kv.create(JOB.format(name="worker", ns=ns))
    wait_until(
        lambda: any(x["status"].get("phase") == "Running" for x in items(p.kv, "pods", "-n", ns)),
        20,
        what="the job's pod running",
    )
    p.kv("delete", "namespace", ns, "--wait=false")
    wait_until(lambda: get_json(p.kv, "namespace", ns) is None, 15, what="namespace gone")
    assert not [
        x
        for x in items(p.kh, "pods", "-n", HOST_NS)
        if x["metadata"]["name"].endswith(f"-x-{ns}-x-my-vcluster")
    ]


def test_pod_host_ip_is_its_virtual_nodes_address(pair: Pair) -> None:
    """`proxyKubelets.byIP` (on by default): a virtual pod's `status.hostIP`/`hostIPs` is the
    ClusterIP of its node's kubelet Service, the virtual node's InternalIP (vCluster's
    rewriteFakeHostIPAddresses), not the host node's address, which the virtual cluster does not
    know; the host pod keeps the real one."""
    p = pair
    ns = virtual_namespace(p.kv, "hostip")
    p.kv.create(pod_manifest("where", ns))
    vpod = wait_until(lambda: pod_running(p.kv, "where", ns), 20, what="pod running")
    node = vpod["spec"]["nodeName"]
    svc = p.kh.get_json("service", safe_concat_name(VC_NAME, "node", node.replace(".", "-")), "-n", HOST_NS)
    ip = svc["spec"]["clusterIP"]
    internal = [
        a["address"] for a in p.kv.get_json("node", node)["status"]["addresses"] if a["type"] == "InternalIP"
    ]
    assert internal == [ip]
    vpod = wait_until(
        lambda: (v := p.kv.get_json("pod", "where", "-n", ns))["status"].get("hostIP") == ip and v,
        10,
        what="virtual hostIP = node service IP",
    )
    assert vpod["status"]["hostIPs"] == [{"ip": ip}]
    hpod = p.kh.get_json("pod", host_name("where", ns), "-n", HOST_NS)
    assert hpod["status"]["hostIP"] != ip and hpod["status"]["hostIP"]
