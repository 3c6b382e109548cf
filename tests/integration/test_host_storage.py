"""Storage on the simulated host (`vcluster host`), with the real kubectl: the default StorageClass,
WaitForFirstConsumer provisioning through the scheduler, static binding, the claim- and
volume-protection finalizers, and reclaiming."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Kubectl, claim_manifest, host_fixture, host_kubectl_fixture
from tests.integration.test_host_e2e import eventually, ns

pytestmark = pytest.mark.integration


host = host_fixture("--nodes", "3")
k = host_kubectl_fixture()


def get(k: Kubectl, *args: str) -> dict[str, Any] | None:
    p = k.run("get", *args, "-o", "json", check=False)
    if p.returncode != 0:
        return None
    import json

    return json.loads(p.stdout)


def pod(name: str, namespace: str, claim: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: main, image: nginx, volumeMounts: [{{name: data, mountPath: /data}}]}}
  volumes:
  - {{name: data, persistentVolumeClaim: {{claimName: {claim}}}}}
"""


def phase(k: Kubectl, *args: str) -> str | None:
    obj = get(k, *args)
    return (obj or {}).get("status", {}).get("phase") if obj else None


def test_default_class_and_wait_for_first_consumer(k: Kubectl) -> None:
    n = ns(k, "wffc")
    sc = get(k, "storageclass", "standard")
    assert sc is not None and sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    k.apply(claim_manifest("data", n))
    claim = get(k, "pvc", "data", "-n", n)
    assert claim is not None and claim["spec"]["storageClassName"] == "standard"  # DefaultStorageClass
    eventually(
        lambda: any(e["reason"] == "WaitForFirstConsumer" for e in k.get_json("events", "-n", n)["items"]),
        10,
        "WaitForFirstConsumer event",
    )
    assert phase(k, "pvc", "data", "-n", n) == "Pending"  # no consumer yet
    k.apply(pod("app", n, "data"))
    eventually(lambda: phase(k, "pod", "app", "-n", n) == "Running", 20, "pod Running")
    claim = get(k, "pvc", "data", "-n", n)
    node = get(k, "pod", "app", "-n", n)["spec"]["nodeName"]  # type: ignore[index]
    assert claim["status"]["phase"] == "Bound" and claim["status"]["capacity"] == {"storage": "1Gi"}  # type: ignore[index]
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node  # type: ignore[index]
    pv = get(k, "pv", claim["spec"]["volumeName"])  # type: ignore[index]
    assert pv is not None and pv["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"  # type: ignore[index]
    assert pv["status"]["phase"] == "Bound" and pv["spec"]["claimRef"]["name"] == "data"
    term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert term["values"] == [node]
    # a second pod of the claim goes to the volume's node (VolumeBinding filter)
    k.apply(pod("app2", n, "data"))
    eventually(lambda: phase(k, "pod", "app2", "-n", n) == "Running", 20, "second pod Running")
    assert get(k, "pod", "app2", "-n", n)["spec"]["nodeName"] == node  # type: ignore[index]

    # deleting the claim waits for its pods (pvc-protection), then the volume is reclaimed
    k("delete", "pvc", "data", "-n", n, "--wait=false")
    k("delete", "pod", "app", "-n", n)
    assert get(k, "pvc", "data", "-n", n) is not None  # app2 still uses it
    k("delete", "pod", "app2", "-n", n)
    eventually(lambda: get(k, "pvc", "data", "-n", n) is None, 15, "claim deleted")
    eventually(lambda: get(k, "pv", pv["metadata"]["name"]) is None, 15, "volume reclaimed (Delete)")


def test_static_binding_and_retain(k: Kubectl) -> None:
    n = ns(k, "static")
    k.apply("""\
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-big, labels: {disk: ssd}}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /mnt/big}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-small}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /mnt/small}
""")
    eventually(lambda: phase(k, "pv", "static-small") == "Available", 10, "volume Available")
    k.apply(claim_manifest("claim", n, storage_class="manual"))  # no StorageClass object: binding only
    eventually(lambda: phase(k, "pvc", "claim", "-n", n) == "Bound", 10, "claim Bound")
    assert get(k, "pvc", "claim", "-n", n)["spec"]["volumeName"] == "static-small"  # type: ignore[index]  # smallest fit
    too_big = claim_manifest("huge", n, size="10Gi", storage_class="manual")
    k.apply(too_big)
    eventually(
        lambda: (
            any(e["reason"] == "FailedBinding" for e in k.get_json("events", "-n", n)["items"])
            or phase(k, "pvc", "huge", "-n", n) == "Pending"
        ),
        5,
        "huge stays Pending",
    )
    assert phase(k, "pvc", "huge", "-n", n) == "Pending"
    k("delete", "pvc", "claim", "-n", n)  # no pod uses it: the finalizer goes at once
    eventually(lambda: phase(k, "pv", "static-small") == "Released", 10, "Retain: Released")
    k("delete", "pv", "static-small")  # not Bound any more: pv-protection lets it go
    eventually(lambda: get(k, "pv", "static-small") is None, 10, "released volume deleted")


def test_pod_waits_for_a_missing_claim(k: Kubectl) -> None:
    n = ns(k, "missing")
    k.apply(pod("early", n, "later"))
    eventually(
        lambda: any(
            e["reason"] == "FailedScheduling" and 'persistentvolumeclaim "later" not found' in e["message"]
            for e in k.get_json("events", "-n", n)["items"]
        ),
        10,
        "FailedScheduling for the missing claim",
    )
    k.apply(claim_manifest("later", n))
    eventually(lambda: phase(k, "pod", "early", "-n", n) == "Running", 20, "scheduled once the claim exists")
    assert phase(k, "pvc", "later", "-n", n) == "Bound"


def local_pv(name: str, node: str) -> str:
    return f"""\
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {name}}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  storageClassName: local-disks
  persistentVolumeReclaimPolicy: Retain
  local: {{path: /mnt/disk}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{{key: kubernetes.io/hostname, operator: In, values: [{node}]}}]
"""


def test_delayed_binding_picks_the_local_volume_of_the_pods_node(k: Kubectl) -> None:
    """Local volumes (no provisioner, WaitForFirstConsumer): the claim binds to the volume on the
    node the scheduler chose for its pod, not to the first one that fits."""
    n = ns(k, "local")
    k.apply("""\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-disks}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
""")
    k.apply(local_pv("disk-on-1", "hostsim-node-1") + "---\n" + local_pv("disk-on-2", "hostsim-node-2"))
    k.apply(claim_manifest("data", n, storage_class="local-disks"))
    pinned = pod("app", n, "data").replace(
        "spec:\n", "spec:\n  nodeSelector: {kubernetes.io/hostname: hostsim-node-2}\n", 1
    )
    k.apply(pinned)
    eventually(lambda: phase(k, "pod", "app", "-n", n) == "Running", 20, "pod Running on node 2")
    claim = get(k, "pvc", "data", "-n", n)
    assert claim is not None and claim["spec"]["volumeName"] == "disk-on-2"
    assert phase(k, "pv", "disk-on-1") == "Available"
    # a pod left to the scheduler goes where a volume is left: node 1 (of three)
    k.apply(claim_manifest("more", n, storage_class="local-disks"))
    k.apply(pod("free", n, "more"))
    eventually(lambda: phase(k, "pod", "free", "-n", n) == "Running", 20, "second pod Running")
    assert get(k, "pod", "free", "-n", n)["spec"]["nodeName"] == "hostsim-node-1"  # type: ignore[index]
    assert get(k, "pvc", "more", "-n", n)["spec"]["volumeName"] == "disk-on-1"  # type: ignore[index]
    # no volume left: a third pod stays Pending with kube's reason
    k.apply(claim_manifest("none", n, storage_class="local-disks"))
    k.apply(pod("late", n, "none"))
    eventually(
        lambda: any(
            e["reason"] == "FailedScheduling"
            and "didn't find available persistent volumes to bind" in e["message"]
            for e in k.get_json("events", "-n", n)["items"]
        ),
        15,
        "FailedScheduling for want of a volume",
    )


def test_claim_expansion(k: Kubectl) -> None:
    n = ns(k, "expand")
    k.apply("""\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: expandable}
provisioner: vcluster.loft.sh/hostsim-local-path
volumeBindingMode: Immediate
allowVolumeExpansion: true
""")
    k.apply(claim_manifest("grow", n, storage_class="expandable"))
    eventually(lambda: phase(k, "pvc", "grow", "-n", n) == "Bound", 10, "Immediate: bound without a pod")
    volume = get(k, "pvc", "grow", "-n", n)["spec"]["volumeName"]  # type: ignore[index]
    k("patch", "pvc", "grow", "-n", n, "-p", '{"spec":{"resources":{"requests":{"storage":"3Gi"}}}}')
    eventually(
        lambda: (
            (get(k, "pvc", "grow", "-n", n) or {}).get("status", {}).get("capacity") == {"storage": "3Gi"}
        ),
        10,
        "claim expanded",
    )
    assert get(k, "pv", volume)["spec"]["capacity"] == {"storage": "3Gi"}  # type: ignore[index]
    # the standard class does not allow it: admission refuses (PersistentVolumeClaimResize)
    k.apply(claim_manifest("fixed", n))
    pinned = pod("user", n, "fixed")
    k.apply(pinned)
    eventually(lambda: phase(k, "pvc", "fixed", "-n", n) == "Bound", 20, "standard claim bound")
    p = k.run(
        "patch",
        "pvc",
        "fixed",
        "-n",
        n,
        "-p",
        '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}',
        check=False,
    )
    assert p.returncode != 0 and "only dynamically provisioned pvc can be resized" in p.stderr
