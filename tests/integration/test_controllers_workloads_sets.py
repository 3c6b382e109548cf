"""StatefulSet and DaemonSet controllers against our API server (kubectl + a fake kubelet)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.test_controllers_workloads import Harness, _ns, mark_running, wait_for
from vcluster.client import ApiError, Client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"statefulset", "daemonset"}).start()
    try:
        yield h
    finally:
        h.stop()


STS = """
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.0
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"""


def _names(h: Harness, ns: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in h.pods(ns) if not p["metadata"].get("deletionTimestamp"))


def test_statefulset_ordered_creation_pvcs_scale_down_and_rolling_update(
    harness: Harness, module_kubectl: Kubectl
) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "sts-ordered")
    h.kubelet.paused.add(ns)  # type: ignore[union-attr]
    k.apply(STS, "-n", ns)

    # OrderedReady: only web-0 until it is Running and Ready, then web-1, then web-2.
    for i in range(3):
        wait_for(lambda i=i: _names(h, ns) == [f"web-{j}" for j in range(i + 1)], what=f"pods up to web-{i}")
        pod = h.get("v1", "pods", f"web-{i}", ns)
        if i < 2:
            # The next ordinal must not appear while this one is not ready.
            assert _names(h, ns) == [f"web-{j}" for j in range(i + 1)]
        h.api(lambda c, pod=pod: mark_running(c, pod))

    sts = wait_for(
        lambda: (s := h.get("apps/v1", "statefulsets", "web", ns))["status"].get("readyReplicas") == 3 and s
    )
    st = sts["status"]
    assert st["replicas"] == 3 and st["currentReplicas"] == 3 and st["updatedReplicas"] == 3
    assert st["currentRevision"] == st["updateRevision"] and st["updateRevision"].startswith("web-")
    assert st["observedGeneration"] == sts["metadata"]["generation"]
    rev1 = st["updateRevision"]
    cr = h.get("apps/v1", "controllerrevisions", rev1, ns)
    assert cr["revision"] == 1
    assert cr["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert cr["metadata"]["labels"]["controller-revision-hash"] == rev1.removeprefix("web-")

    p1 = h.get("v1", "pods", "web-1", ns)
    assert p1["metadata"]["labels"] == {
        "app": "web",
        "statefulset.kubernetes.io/pod-name": "web-1",
        "apps.kubernetes.io/pod-index": "1",
        "controller-revision-hash": rev1,
    }
    assert p1["spec"]["hostname"] == "web-1" and p1["spec"]["subdomain"] == "web"
    vol = next(v for v in p1["spec"]["volumes"] if v["name"] == "data")
    assert vol["persistentVolumeClaim"]["claimName"] == "data-web-1"
    ref = p1["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("StatefulSet", "web", True)
    pvcs = h.api(lambda c: c.list_all("v1", "persistentvolumeclaims", ns))[0]
    assert sorted(p["metadata"]["name"] for p in pvcs) == ["data-web-0", "data-web-1", "data-web-2"]
    assert all(p["metadata"]["labels"] == {"app": "web"} for p in pvcs)
    msgs = wait_for(
        lambda: (
            (m := [e["message"] for e in h.events(ns) if e["reason"] == "SuccessfulCreate"])
            and "create Claim data-web-2 Pod web-2 in StatefulSet web success" in m
            and m
        )
    )
    assert "create Pod web-0 in StatefulSet web successful" in msgs
    assert "create Claim data-web-0 Pod web-0 in StatefulSet web success" in msgs

    # Scale down removes the highest ordinal first.
    k("scale", "statefulset/web", "--replicas=2", "-n", ns)
    wait_for(lambda: _names(h, ns) == ["web-0", "web-1"], what="web-2 removed")
    wait_for(
        lambda: any(e["message"] == "delete Pod web-2 in StatefulSet web successful" for e in h.events(ns))
    )

    # Rolling update: pods are replaced from the highest ordinal down (the kubelet now runs them).
    h.kubelet.paused.discard(ns)  # type: ignore[union-attr]
    k("set", "image", "statefulset/web", "nginx=nginx:2.0", "-n", ns)
    out = k("rollout", "status", "statefulset/web", "-n", ns, "--timeout=30s")
    assert "roll" in out or "complete" in out
    sts = wait_for(
        lambda: (
            (s := h.get("apps/v1", "statefulsets", "web", ns))["status"].get("currentRevision")
            == s["status"].get("updateRevision")
            and s["status"].get("updatedReplicas") == 2
            and s
        )
    )
    rev2 = sts["status"]["updateRevision"]
    assert rev2 != rev1
    for name in ("web-0", "web-1"):
        p = h.get("v1", "pods", name, ns)
        assert p["metadata"]["labels"]["controller-revision-hash"] == rev2
        assert p["spec"]["containers"][0]["image"] == "nginx:2.0"

    def deletes() -> list[str]:
        return [
            e["message"]
            for e in sorted(h.events(ns), key=lambda e: e["metadata"]["name"])  # `web.<hex time>`
            if e["reason"] == "SuccessfulDelete"
            and e["message"] != "delete Pod web-2 in StatefulSet web successful"
        ]

    assert wait_for(lambda: len(d := deletes()) == 2 and d) == [
        "delete Pod web-1 in StatefulSet web successful",
        "delete Pod web-0 in StatefulSet web successful",
    ]
    assert h.get("apps/v1", "controllerrevisions", rev2, ns)["revision"] == 2


def test_statefulset_parallel_creates_all_at_once(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "sts-parallel")
    h.kubelet.paused.add(ns)  # type: ignore[union-attr]
    manifest = STS.replace("replicas: 3", "replicas: 3\n  podManagementPolicy: Parallel")
    k.apply(manifest, "-n", ns)
    wait_for(lambda: _names(h, ns) == ["web-0", "web-1", "web-2"], what="3 pods without readiness")


NODE = """
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels: {labels}
spec: {spec}
"""

DS = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {role: worker}
      containers:
      - name: agent
        image: busybox
"""


def _bind(h: Harness, pod: dict, node: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod["metadata"]["name"]},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }

    async def go(c: Client) -> None:
        try:
            await c.create(
                "v1",
                "pods",
                body,
                pod["metadata"]["namespace"],
                subresource="binding",
                name=body["metadata"]["name"],
            )
        except ApiError as e:
            if not e.conflict:
                raise

    h.api(go)


def _pinned(pod: dict) -> str:
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [
        {
            "matchFields": [
                {
                    "key": "metadata.name",
                    "operator": "In",
                    "values": [terms[0]["matchFields"][0]["values"][0]],
                }
            ]
        }
    ]
    return terms[0]["matchFields"][0]["values"][0]


def test_daemonset_one_pod_per_eligible_node(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "ds-basic")
    k.apply(NODE.format(name="ds-w1", labels="{role: worker}", spec="{}"))
    k.apply(
        NODE.format(
            name="ds-w2",
            labels="{role: worker}",
            spec="{taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}",
        )
    )
    k.apply(NODE.format(name="ds-other", labels="{role: db}", spec="{}"))
    k.apply(DS, "-n", ns)

    pods = wait_for(lambda: (p := h.pods(ns)) and len(p) == 1 and p, what="one daemon pod")
    pod = pods[0]
    assert _pinned(pod) == "ds-w1"
    assert pod["metadata"]["generateName"] == "agent-"
    labels = pod["metadata"]["labels"]
    assert labels["app"] == "agent" and labels["pod-template-generation"] == "1"
    tol_keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tol_keys
    assert ("node.kubernetes.io/not-ready", "NoExecute") in tol_keys
    ds = h.get("apps/v1", "daemonsets", "agent", ns)
    cr = h.get("apps/v1", "controllerrevisions", f"agent-{labels['controller-revision-hash']}", ns)
    assert cr["revision"] == 1

    _bind(h, pod, "ds-w1")  # the scheduler's job; the fake kubelet then runs it
    ds = wait_for(
        lambda: (d := h.get("apps/v1", "daemonsets", "agent", ns))["status"].get("numberReady") == 1 and d
    )
    st = ds["status"]
    assert st["desiredNumberScheduled"] == 1 and st["currentNumberScheduled"] == 1
    assert st["numberAvailable"] == 1 and st["updatedNumberScheduled"] == 1
    assert st.get("numberMisscheduled", 0) == 0 and st.get("numberUnavailable", 0) == 0

    # Tolerating the taint adds the tainted node (a template change: new revision, rolling update).
    k(
        "patch",
        "daemonset/agent",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","operator":"Exists"}]}}}}',
    )

    def settled() -> list[dict] | None:
        live = [p for p in h.pods(ns) if not p["metadata"].get("deletionTimestamp")]
        for p in live:
            if not p["spec"].get("nodeName"):
                _bind(h, p, _pinned(p))
        ds = h.get("apps/v1", "daemonsets", "agent", ns)
        st = ds["status"]
        ok = (
            st.get("desiredNumberScheduled") == 2
            and st.get("updatedNumberScheduled") == 2
            and st.get("numberReady") == 2
            and len(live) == 2
        )
        return live if ok else None

    live = wait_for(settled, timeout=20, interval=0.1, what="2 updated daemon pods")
    assert sorted(_pinned(p) for p in live) == ["ds-w1", "ds-w2"]
    assert all(p["metadata"]["labels"]["pod-template-generation"] == "2" for p in live)
    out = k("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=10s")
    assert "successfully rolled out" in out
