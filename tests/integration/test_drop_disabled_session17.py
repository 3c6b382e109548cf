"""Fields of features off by default in kube 1.32 are dropped by the API server, as its strategies'
dropDisabledFields do: on create, and on update unless the stored object already has them."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Kubectl

pytestmark = pytest.mark.integration

STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  selector: {matchLabels: {app: web}}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 2, partition: 1}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostUsers: false
      containers:
      - name: c
        image: nginx
        resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]
"""

POD = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostUsers: false
  securityContext: {supplementalGroupsPolicy: Strict, seLinuxChangePolicy: Recursive}
  resources: {limits: {cpu: "1"}}
  volumes:
  - {name: img, image: {reference: busybox}}
  containers:
  - name: c
    image: busybox
    securityContext: {procMount: Unmasked}
    volumeMounts: [{name: img, mountPath: /img}]
"""


def _ns(k: Kubectl, name: str) -> str:
    k.namespace(name)
    k.apply(f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: default, namespace: {name}}}\n")
    return name


def _get(k: Kubectl, *args: str) -> dict:
    return json.loads(k("get", *args, "-o", "json"))


def test_stateful_set_max_unavailable_and_template_fields_are_dropped(module_kubectl: Kubectl) -> None:
    k = module_kubectl
    ns = _ns(k, "drop-sts")
    k.create(STS, "-n", ns)
    sts = _get(k, "statefulset/web", "-n", ns)
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    tmpl = sts["spec"]["template"]["spec"]
    assert "hostUsers" not in tmpl and "resizePolicy" not in tmpl["containers"][0]
    # an update adding it is dropped as well: the stored object does not use it
    patch = '{"spec":{"updateStrategy":{"rollingUpdate":{"maxUnavailable":"50%"}}}}'
    k("patch", "statefulset/web", "-n", ns, "--type=merge", "-p", patch)
    sts = _get(k, "statefulset/web", "-n", ns)
    assert sts["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 1}
    assert sts["metadata"]["generation"] == 1  # nothing changed
    # a bad value is not validated either: the field is gone before validation
    k("patch", "statefulset/web", "-n", ns, "--type=merge", "-p", patch.replace('"50%"', "0"))
    assert (
        "maxUnavailable"
        not in _get(k, "statefulset/web", "-n", ns)["spec"]["updateStrategy"]["rollingUpdate"]
    )


def test_pod_fields_of_disabled_features_are_dropped(module_kubectl: Kubectl) -> None:
    k = module_kubectl
    ns = _ns(k, "drop-pod")
    k.create(POD, "-n", ns)
    spec = _get(k, "pod/p", "-n", ns)["spec"]
    assert "hostUsers" not in spec and "resources" not in spec
    assert "supplementalGroupsPolicy" not in spec["securityContext"]
    assert "seLinuxChangePolicy" not in spec["securityContext"]
    assert "volumes" not in spec or all("image" not in v for v in spec["volumes"])
    c = spec["containers"][0]
    assert c["securityContext"]["procMount"] == "Default"
    assert all(m["name"] != "img" for m in c.get("volumeMounts") or [])
    # server-side apply of a deployment template: the same rules
    dep = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec:\n  selector: {matchLabels: {a: b}}\n"
        "  template:\n    metadata: {labels: {a: b}}\n    spec:\n      hostUsers: false\n"
        "      containers: [{name: c, image: nginx, resizePolicy: [{resourceName: memory, "
        "restartPolicy: RestartContainer}]}]\n"
    )
    k("apply", "--server-side", "-f", "-", "-n", ns, input=dep)
    tmpl = _get(k, "deployment/d", "-n", ns)["spec"]["template"]["spec"]
    assert "hostUsers" not in tmpl and "resizePolicy" not in tmpl["containers"][0]
