"""Volumes through the syncer (spec §5.5, §2.4): a virtual claim used by a pod is bound on the host
(the simulated host provisions it when the pod is scheduled), the virtual claim shows the host
volume, a fake PersistentVolume of that name stands for it in the virtual cluster while a claim
names it, and deleting the pod and the claim cleans up both sides."""

from __future__ import annotations

import pytest

from .conftest import claim_manifest
from .syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    get_json,
    host_name,
    labels,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture()

VOLUME = "  volumes:\n  - name: data\n    persistentVolumeClaim: {claimName: data}\n"


def test_claim_bound_on_host_with_fake_volume_in_virtual(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "volumes")
    p.kv.apply(claim_manifest("data", ns, size="2Gi"))
    p.kv.create(pod_manifest("db", ns, spec_extra=VOLUME))
    wait_until(lambda: pod_running(p.kv, "db", ns), 30, what="pod with a claim Running")
    hclaim = wait_until(
        lambda: (
            (c := get_json(p.kh, "pvc", host_name("data", ns), "-n", HOST_NS))
            and c.get("status", {}).get("phase") == "Bound"
            and c
        ),
        15,
        what="host claim Bound",
    )
    volume = hclaim["spec"]["volumeName"]
    assert volume == f"pvc-{hclaim['metadata']['uid']}"
    vclaim = wait_until(
        lambda: (
            (c := get_json(p.kv, "pvc", "data", "-n", ns))
            and c.get("status", {}).get("phase") == "Bound"
            and c
        ),
        15,
        what="virtual claim Bound",
    )
    assert vclaim["spec"]["volumeName"] == volume
    assert vclaim["status"]["capacity"] == {"storage": "2Gi"}
    fake = wait_until(lambda: get_json(p.kv, "pv", volume), 15, what="fake volume in the virtual cluster")
    assert labels(fake)["vcluster.loft.sh/fake-pv"] == "true"
    assert fake["spec"]["claimRef"]["name"] == "data" and fake["spec"]["claimRef"]["namespace"] == ns
    assert fake["spec"]["claimRef"]["uid"] == vclaim["metadata"]["uid"]
    assert fake["status"]["phase"] == "Bound"
    assert "pvc-" in p.kv("get", "pv")  # kubectl lists it

    # the claim outlives its pod's deletion only as long as the pod exists
    p.kv("delete", "pvc", "data", "-n", ns, "--wait=false")
    assert get_json(p.kv, "pvc", "data", "-n", ns) is not None  # pvc-protection: the pod uses it
    p.kv("delete", "pod", "db", "-n", ns)
    wait_until(lambda: get_json(p.kv, "pvc", "data", "-n", ns) is None, 15, what="virtual claim deleted")
    wait_until(lambda: get_json(p.kv, "pv", volume) is None, 15, what="fake volume deleted")
    wait_until(
        lambda: get_json(p.kh, "pvc", host_name("data", ns), "-n", HOST_NS) is None,
        15,
        what="host claim deleted",
    )
    wait_until(lambda: get_json(p.kh, "pv", volume) is None, 15, what="host volume reclaimed")


STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: NS}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: db, image: postgres, volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


def test_statefulset_claims_bind_and_the_namespace_can_be_deleted(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "sts")
    p.kv.apply(STATEFULSET.replace("NS", ns))
    for i in (0, 1):
        wait_until(lambda i=i: pod_running(p.kv, f"db-{i}", ns), 40, what=f"db-{i} Running")
    claims = p.kv.get_json("pvc", "-n", ns)["items"]
    assert sorted(c["metadata"]["name"] for c in claims) == ["data-db-0", "data-db-1"]
    assert all(c["status"]["phase"] == "Bound" for c in claims)
    volumes = {c["spec"]["volumeName"] for c in claims}
    wait_until(
        lambda: volumes <= {v["metadata"]["name"] for v in p.kv.get_json("pv")["items"]},
        15,
        what="a fake volume per claim",
    )
    # deleting the namespace deletes the pods, then the claims (pvc-protection lets them go), then
    # the namespace itself; the host side follows
    p.kv("delete", "namespace", ns, "--wait=false")
    wait_until(lambda: get_json(p.kv, "namespace", ns) is None, 40, what="namespace deleted")
    wait_until(
        lambda: not (volumes & {v["metadata"]["name"] for v in p.kv.get_json("pv")["items"]}),
        15,
        what="fake volumes gone",
    )
    wait_until(
        lambda: (
            not [
                c
                for c in p.kh.get_json("pvc", "-n", HOST_NS)["items"]
                if c["metadata"]["name"].endswith(f"-x-{ns}-x-my-vcluster")
            ]
        ),
        15,
        what="host claims gone",
    )


EPHEMERAL = """\
  volumes:
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        metadata: {labels: {kind: scratch}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
"""


def test_generic_ephemeral_volume(pair: Pair) -> None:
    """The virtual ephemeral-volume controller makes the claim `<pod>-<volume>`, owned by the pod;
    the host pod mounts its host copy; the claim goes with the pod (garbage collector)."""
    p = pair
    ns = virtual_namespace(p.kv, "ephemeral")
    p.kv.create(pod_manifest("worker", ns, spec_extra=EPHEMERAL))
    wait_until(lambda: pod_running(p.kv, "worker", ns), 30, what="pod with an ephemeral volume Running")
    claim = wait_until(
        lambda: (
            (c := get_json(p.kv, "pvc", "worker-scratch", "-n", ns))
            and c["status"].get("phase") == "Bound"
            and c
        ),
        15,
        what="its claim Bound",
    )
    assert labels(claim)["kind"] == "scratch"
    (owner,) = claim["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Pod", "worker", True)
    hpod = get_json(p.kh, "pod", host_name("worker", ns), "-n", HOST_NS)
    (vol,) = [v for v in hpod["spec"]["volumes"] if v["name"] == "scratch"]  # type: ignore[index]
    assert vol == {"name": "scratch", "persistentVolumeClaim": {"claimName": host_name("worker-scratch", ns)}}
    p.kv("delete", "pod", "worker", "-n", ns)
    wait_until(
        lambda: get_json(p.kv, "pvc", "worker-scratch", "-n", ns) is None, 20, what="claim gone with the pod"
    )
    wait_until(
        lambda: get_json(p.kh, "pvc", host_name("worker-scratch", ns), "-n", HOST_NS) is None,
        15,
        what="host claim gone",
    )


def test_host_path_into_another_pods_kubelet_directory_names_its_host_uid(pair: Pair) -> None:
    """§3.7: a hostPath under /var/lib/kubelet/pods/<virtual UID>/ points at the host pod's UID
    (the directory the host kubelet really uses); /var/log/pods goes to the vCluster's directory."""
    p = pair
    ns = virtual_namespace(p.kv, "kubelet-paths")
    p.kv.create(pod_manifest("target", ns))
    target = wait_until(lambda: pod_running(p.kv, "target", ns), 30, what="target pod Running")
    vuid = target["metadata"]["uid"]
    huid = get_json(p.kh, "pod", host_name("target", ns), "-n", HOST_NS)["metadata"]["uid"]  # type: ignore[index]
    assert vuid != huid
    volumes = (
        "  volumes:\n"
        f"  - name: peer\n    hostPath: {{path: /var/lib/kubelet/pods/{vuid}/volumes}}\n"
        "  - name: logs\n    hostPath: {path: /var/log/pods/}\n"
    )
    p.kv.create(pod_manifest("reader", ns, spec_extra=volumes))
    hpod = wait_until(
        lambda: get_json(p.kh, "pod", host_name("reader", ns), "-n", HOST_NS), 20, what="reader on the host"
    )
    paths = {v["name"]: v["hostPath"]["path"] for v in hpod["spec"]["volumes"] if "hostPath" in v}
    assert paths["peer"] == f"/var/lib/kubelet/pods/{huid}/volumes"
    assert paths["logs"] == f"/tmp/vcluster/{HOST_NS}/{VC_NAME}/log/pods"
