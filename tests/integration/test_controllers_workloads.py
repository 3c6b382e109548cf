"""Workload controllers (deployment, replicaset) against our API server, driven by the real kubectl.

The ControllerManager runs in a background event loop thread of the test process; a minimal fake
kubelet (also in that loop) binds pods to a node, marks them Running/Ready and finishes graceful
deletions, so rollouts can complete without the simulated host.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.loopthread import LoopThread
from vcluster.client import ApiError, Client, Informer
from vcluster.controllers.base import fmt_time
from vcluster.controllers.manager import ControllerManager

pytestmark = pytest.mark.integration


class FakeKubelet:
    """Bind new pods of some namespaces to `node`, mark them Running and Ready (unless the
    namespace is paused or the pod is in `hold`), and remove pods whose graceful deletion began."""

    def __init__(self, client: Client, node: str = "node-1") -> None:
        self.client = client
        self.node = node
        self.namespaces: set[str] = set()
        self.paused: set[str] = set()  # namespaces whose pods stay Pending (bound, not started)
        self.inf = Informer(client, "v1", "pods")
        self.inf.add_handler(self._on_pod)
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()

    async def start(self) -> None:
        try:
            await self.client.create("v1", "nodes", {"metadata": {"name": self.node}})
        except ApiError as e:
            if not e.already_exists:
                raise
        await self.inf.start()
        await self.inf.wait_synced(10)

    async def stop(self) -> None:
        await self.inf.stop()
        for t in list(self._tasks):
            t.cancel()

    def _on_pod(self, event: str, pod: dict, old: dict | None) -> None:
        if event == "delete":
            return
        md = pod["metadata"]
        if md["namespace"] not in self.namespaces:
            return
        key = f"{md['namespace']}/{md['name']}/{md.get('resourceVersion')}"
        if key in self._busy:
            return
        self._busy.add(key)
        t = asyncio.get_running_loop().create_task(self._handle(pod, key))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _handle(self, pod: dict, key: str) -> None:
        md = pod["metadata"]
        ns, name = md["namespace"], md["name"]
        try:
            if md.get("deletionTimestamp"):
                await self.client.delete("v1", "pods", name, ns, grace_period_seconds=0)
                return
            if ns in self.paused:
                return
            if not pod["spec"].get("nodeName"):
                if (pod["spec"].get("affinity") or {}).get("nodeAffinity"):
                    return  # daemonset pods: the test binds them
                binding = {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": self.node},
                }
                await self.client.create("v1", "pods", binding, ns, subresource="binding", name=name)
                return
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Running", "Succeeded", "Failed") or (pod["metadata"].get("annotations") or {}).get(
                "test/hold"
            ):
                return
            await mark_running(self.client, pod, ready=True)
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
        finally:
            self._busy.discard(key)


def _pod_status(pod: dict, phase: str, ready: bool, now: datetime | None = None) -> dict:
    ts = fmt_time(now or datetime.now(UTC))
    rs = "True" if ready else "False"
    containers = pod["spec"].get("containers") or []
    status: dict[str, Any] = {
        "phase": phase,
        "hostIP": "10.0.0.1",
        "podIP": "10.244.0.10",
        "startTime": ts,
        "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": ts},
            {"type": "Ready", "status": rs, "lastTransitionTime": ts},
            {"type": "ContainersReady", "status": rs, "lastTransitionTime": ts},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts},
        ],
    }
    if phase == "Running":
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": ready,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": ts}},
            }
            for c in containers
        ]
    elif phase in ("Succeeded", "Failed"):
        code = 0 if phase == "Succeeded" else 1
        status["containerStatuses"] = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}},
            }
            for c in containers
        ]
    return status


async def mark_running(client: Client, pod: dict, *, ready: bool = True) -> dict:
    md = pod["metadata"]
    return await client.patch(
        "v1",
        "pods",
        md["name"],
        {"status": _pod_status(pod, "Running", ready)},
        md["namespace"],
        subresource="status",
    )


async def mark_finished(client: Client, pod: dict, *, succeeded: bool = True) -> dict:
    md = pod["metadata"]
    phase = "Succeeded" if succeeded else "Failed"
    return await client.patch(
        "v1",
        "pods",
        md["name"],
        {"status": _pod_status(pod, phase, False)},
        md["namespace"],
        subresource="status",
    )


class Harness(LoopThread):
    """A ControllerManager (and fake kubelet) running on an event loop in a background thread."""

    def __init__(self, server: Server, enabled: set[str], options: dict | None = None) -> None:
        self.server = server
        self.enabled = enabled
        self.options = options or {}
        super().__init__()
        self.manager: ControllerManager | None = None
        self.kubelet: FakeKubelet | None = None

    async def _start(self) -> None:
        self.client = await Client.from_kubeconfig(str(self.server.kubeconfig), user_agent="test-controllers")
        self.kubelet = FakeKubelet(self.client)
        await self.kubelet.start()
        self.manager = ControllerManager(self.client, enabled=self.enabled, options=self.options)
        await self.manager.start(sync_timeout=20)

    async def _stop(self) -> None:
        if self.manager is not None:
            await self.manager.stop()
        if self.kubelet is not None:
            await self.kubelet.stop()
        if self.client is not None:
            await self.client.close()

    def pods(self, ns: str, selector: str | None = None) -> list[dict]:
        return self.api(lambda c: c.list_all("v1", "pods", ns, label_selector=selector))[0]

    def get(self, api_version: str, plural: str, name: str, ns: str) -> dict:
        return self.api(lambda c: c.get(api_version, plural, name, ns))

    def events(self, ns: str) -> list[dict]:
        return self.api(lambda c: c.list_all("v1", "events", ns))[0]


def wait_for(pred: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll `pred` until it returns something truthy; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or pred}: last={last!r}")


@pytest.fixture(scope="module")
def harness(module_server: Server) -> Iterator[Harness]:
    h = Harness(module_server, {"deployment", "replicaset"}).start()
    try:
        yield h
    finally:
        h.stop()


def _ns(kubectl: Kubectl, h: Harness, name: str, *, kubelet: bool = True) -> str:
    kubectl.namespace(name)
    # The serviceaccount controller is not running here: create the default ServiceAccount.
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}

    async def create_sa(c: Client) -> None:
        try:
            await c.create("v1", "serviceaccounts", sa, name)
        except ApiError as e:
            if not e.already_exists:
                raise

    h.api(create_sa)
    assert h.kubelet is not None
    if kubelet:
        h.kubelet.namespaces.add(name)
    return name


def _owner(obj: dict) -> dict:
    refs = obj["metadata"].get("ownerReferences") or []
    assert len(refs) == 1, refs
    return refs[0]


def _rss(h: Harness, ns: str) -> list[dict]:
    return h.api(lambda c: c.list_all("apps/v1", "replicasets", ns))[0]


def test_create_deployment_rs_pods_and_rollout_status(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-basic")
    h.kubelet.paused.add(ns)  # type: ignore[union-attr]
    k("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", ns)

    pods = wait_for(lambda: (p := h.pods(ns)) and len(p) == 3 and p, what="3 pods")
    rss = _rss(h, ns)
    assert len(rss) == 1
    rs = rss[0]
    d = h.get("apps/v1", "deployments", "web", ns)
    h_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{h_}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h_}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h_}
    ref = _owner(rs)
    assert ref == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "uid": d["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    ann = rs["metadata"]["annotations"]
    assert ann["deployment.kubernetes.io/revision"] == "1"
    assert ann["deployment.kubernetes.io/desired-replicas"] == "3"
    assert ann["deployment.kubernetes.io/max-replicas"] == "4"  # 3 + ceil(25% of 3)
    for p in pods:
        name = p["metadata"]["name"]
        assert name.startswith(f"web-{h_}-")
        suffix = name[len(f"web-{h_}-") :]
        assert len(suffix) == 5 and set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789"), name
        assert p["metadata"]["labels"] == {"app": "web", "pod-template-hash": h_}
        pref = _owner(p)
        assert (pref["kind"], pref["name"], pref["uid"], pref["controller"], pref["blockOwnerDeletion"]) == (
            "ReplicaSet",
            rs["metadata"]["name"],
            rs["metadata"]["uid"],
            True,
            True,
        )
    # Not ready yet: rollout status times out with the upstream waiting message.
    p = k.run("rollout", "status", "deployment/web", "-n", ns, "--timeout=1s", check=False)
    assert p.returncode != 0
    assert "of 3 updated replicas are available" in p.stdout + p.stderr

    h.kubelet.paused.discard(ns)  # type: ignore[union-attr]
    for pod in pods:
        h.api(lambda c, pod=pod: mark_running(c, pod))
    out = k("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in out

    d = wait_for(
        lambda: (
            (x := h.get("apps/v1", "deployments", "web", ns))["status"].get("availableReplicas") == 3 and x
        )
    )
    st = d["status"]
    assert st["replicas"] == st["updatedReplicas"] == st["readyReplicas"] == st["availableReplicas"] == 3
    assert st["observedGeneration"] == d["metadata"]["generation"]
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Available"]["message"] == "Deployment has minimum availability."
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert (
        conds["Progressing"]["message"]
        == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
    )
    rs = h.get("apps/v1", "replicasets", rs["metadata"]["name"], ns)
    assert rs["status"]["replicas"] == rs["status"]["readyReplicas"] == rs["status"]["availableReplicas"] == 3
    assert rs["status"]["fullyLabeledReplicas"] == 3
    assert rs["status"]["observedGeneration"] == rs["metadata"]["generation"]

    evs = wait_for(
        lambda: (
            [e for e in h.events(ns) if e["reason"] in ("ScalingReplicaSet", "SuccessfulCreate")]
            if len([e for e in h.events(ns) if e["reason"] == "SuccessfulCreate"]) == 3
            else None
        )
    )
    scaling = [e for e in evs if e["reason"] == "ScalingReplicaSet"]
    assert [e["message"] for e in scaling] == [f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"]
    assert scaling[0]["involvedObject"]["kind"] == "Deployment"
    assert scaling[0]["source"]["component"] == "deployment-controller"
    created = sorted(e["message"] for e in evs if e["reason"] == "SuccessfulCreate")
    assert created == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)


def test_set_image_rolls_within_surge_and_unavailable(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-roll")
    k("create", "deployment", "web", "--image=nginx:1.0", "--replicas=4", "-n", ns)
    k("rollout", "status", "deployment/web", "-n", ns, "--timeout=20s")
    first = _rss(h, ns)[0]["metadata"]["name"]

    # What kube's e2e checkRollingUpdateStatus (test/utils/deployment.go) holds at every poll of a
    # rolling update: the ReplicaSets' spec.replicas sum to at most replicas + maxSurge, and the
    # deployment's status.availableReplicas stays at least replicas - maxUnavailable. Live pods are
    # not bounded: a scaled-down ReplicaSet's pods count until its controller deletes them.
    stop = threading.Event()
    seen: dict[str, int] = {"max_spec_sum": 0, "min_available": 99, "polls": 0}

    def watch() -> None:
        while not stop.is_set():
            rs_spec = sum(r["spec"]["replicas"] for r in _rss(h, ns))
            d = h.get("apps/v1", "deployments", "web", ns)
            seen["max_spec_sum"] = max(seen["max_spec_sum"], rs_spec)
            seen["min_available"] = min(seen["min_available"], d["status"].get("availableReplicas", 0))
            seen["polls"] += 1
            time.sleep(0.02)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    k("set", "image", "deployment/web", "nginx=nginx:2.0", "-n", ns)
    out = k("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    stop.set()
    t.join(5)
    assert "successfully rolled out" in out
    # 4 replicas, maxSurge 25% -> 1, maxUnavailable 25% -> 1
    assert seen["polls"] > 0
    assert seen["max_spec_sum"] <= 5, seen
    assert seen["min_available"] >= 3, seen

    rss = {r["metadata"]["name"]: r for r in _rss(h, ns)}
    assert len(rss) == 2
    new = next(r for n, r in rss.items() if n != first)
    assert new["spec"]["replicas"] == 4 and rss[first]["spec"]["replicas"] == 0
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2.0"
    pods = wait_for(lambda: (p := h.pods(ns)) and len(p) == 4 and p)
    assert all(
        p["metadata"]["labels"]["pod-template-hash"] == new["metadata"]["labels"]["pod-template-hash"]
        for p in pods
    )
    d = h.get("apps/v1", "deployments", "web", ns)
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    msgs = wait_for(
        lambda: (
            (m := [e["message"] for e in h.events(ns) if e["reason"] == "ScalingReplicaSet"])
            and f"Scaled down replica set {first} from 1 to 0" in m
            and m
        )
    )
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in msgs
    assert f"Scaled down replica set {first} from 4 to 3" in msgs

    # History and undo (kubectl does the undo client-side from the old ReplicaSet).
    hist = k("rollout", "history", "deployment/web", "-n", ns)
    assert "1 " in hist and "2 " in hist
    k("rollout", "undo", "deployment/web", "-n", ns)
    k("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    back = h.get("apps/v1", "replicasets", first, ns)
    assert back["spec"]["replicas"] == 4
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert len(_rss(h, ns)) == 2  # the old template's RS was reused, no third RS
    d = h.get("apps/v1", "deployments", "web", ns)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.0"


def test_scale_and_restart(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-scale")
    k("create", "deployment", "api", "--image=busybox", "--replicas=2", "-n", ns)
    k("rollout", "status", "deployment/api", "-n", ns, "--timeout=20s")
    k("scale", "deployment/api", "--replicas=5", "-n", ns)
    k("rollout", "status", "deployment/api", "-n", ns, "--timeout=20s")
    wait_for(lambda: len(h.pods(ns)) == 5, what="5 pods")
    rs = _rss(h, ns)[0]
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    k("scale", "deployment/api", "--replicas=1", "-n", ns)
    wait_for(lambda: len([p for p in h.pods(ns) if not p["metadata"].get("deletionTimestamp")]) == 1)
    name = rs["metadata"]["name"]
    msgs = wait_for(
        lambda: (
            (m := [e["message"] for e in h.events(ns) if e["reason"] == "ScalingReplicaSet"])
            and f"Scaled down replica set {name} from 5 to 1" in m
            and m
        )
    )
    assert f"Scaled up replica set {name} from 2 to 5" in msgs
    deleted = wait_for(
        lambda: len(d := [e for e in h.events(ns) if e["reason"] == "SuccessfulDelete"]) == 4 and d
    )
    assert all(e["message"].startswith("Deleted pod: ") for e in deleted)

    k("rollout", "restart", "deployment/api", "-n", ns)
    k("rollout", "status", "deployment/api", "-n", ns, "--timeout=20s")
    rss = _rss(h, ns)
    assert len(rss) == 2
    d = h.get("apps/v1", "deployments", "api", ns)
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    assert d["status"]["updatedReplicas"] == 1


def test_recreate_scales_old_down_before_new_up(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-recreate")
    k("create", "deployment", "db", "--image=postgres:15", "--replicas=2", "-n", ns)
    k(
        "patch",
        "deployment/db",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}',
    )
    k("rollout", "status", "deployment/db", "-n", ns, "--timeout=20s")
    old = _rss(h, ns)[0]["metadata"]["name"]
    k("set", "image", "deployment/db", "postgres=postgres:16", "-n", ns)
    k("rollout", "status", "deployment/db", "-n", ns, "--timeout=20s")
    new = next(r["metadata"]["name"] for r in _rss(h, ns) if r["metadata"]["name"] != old)

    def scaling() -> list[str]:
        evs = sorted(h.events(ns), key=lambda e: e["metadata"]["name"])  # `db.<hex time>`
        return [e["message"] for e in evs if e["reason"] == "ScalingReplicaSet"]

    msgs = wait_for(lambda: len(m := scaling()) == 3 and m)
    assert msgs == [
        f"Scaled up replica set {old} from 0 to 2",
        f"Scaled down replica set {old} from 2 to 0",
        f"Scaled up replica set {new} from 0 to 2",
    ]


def test_revision_history_limit_and_paused(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-history")
    k("create", "deployment", "app", "--image=app:1", "--replicas=1", "-n", ns)
    k("patch", "deployment/app", "-n", ns, "--type=merge", "-p", '{"spec":{"revisionHistoryLimit":1}}')
    for tag in ("2", "3", "4"):
        k("set", "image", "deployment/app", f"app=app:{tag}", "-n", ns)
        k("rollout", "status", "deployment/app", "-n", ns, "--timeout=20s")
    rss = wait_for(lambda: len(r := _rss(h, ns)) == 2 and r, what="history trimmed to 1 old RS")
    revs = sorted(int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for r in rss)
    assert revs == [3, 4]

    # Paused: template changes are not rolled out, and the Progressing condition says so.
    k("rollout", "pause", "deployment/app", "-n", ns)
    k("set", "image", "deployment/app", "app=app:5", "-n", ns)
    d = wait_for(
        lambda: (
            (x := h.get("apps/v1", "deployments", "app", ns))["status"].get("observedGeneration")
            == x["metadata"]["generation"]
            and x
        )
    )
    prog = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (prog["status"], prog["reason"], prog["message"]) == (
        "Unknown",
        "DeploymentPaused",
        "Deployment is paused",
    )
    # No ReplicaSet for the new template while paused (upstream also trims history here: the
    # running revision-4 ReplicaSet now counts as old, so the idle revision 3 goes).
    rss = _rss(h, ns)
    assert [
        r["spec"]["template"]["spec"]["containers"][0]["image"] for r in rss if r["spec"]["replicas"]
    ] == ["app:4"]
    assert all(r["spec"]["template"]["spec"]["containers"][0]["image"] != "app:5" for r in rss)
    k("rollout", "resume", "deployment/app", "-n", ns)
    k("rollout", "status", "deployment/app", "-n", ns, "--timeout=20s")
    assert any(
        r["spec"]["template"]["spec"]["containers"][0]["image"] == "app:5" and r["spec"]["replicas"] == 1
        for r in _rss(h, ns)
    )


def test_progress_deadline_exceeded(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-deadline")
    h.kubelet.paused.add(ns)  # type: ignore[union-attr]
    k.apply(
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 2
  progressDeadlineSeconds: 1
  selector: {matchLabels: {app: slow}}
  template:
    metadata: {labels: {app: slow}}
    spec: {containers: [{name: c, image: busybox}]}
""",
        "-n",
        ns,
    )
    p = k.run("rollout", "status", "deployment/slow", "-n", ns, "--timeout=15s", check=False)
    assert p.returncode != 0
    assert 'deployment "slow" exceeded its progress deadline' in p.stderr
    d = h.get("apps/v1", "deployments", "slow", ns)
    prog = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    rs = _rss(h, ns)[0]["metadata"]["name"]
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert prog["message"] == f'ReplicaSet "{rs}" has timed out progressing.'
    avail = next(c for c in d["status"]["conditions"] if c["type"] == "Available")
    assert (avail["status"], avail["reason"]) == ("False", "MinimumReplicasUnavailable")


def test_failed_pod_creation_reports_and_backs_off(harness: Harness, module_kubectl: Kubectl) -> None:
    k, h = module_kubectl, harness
    ns = _ns(k, h, "deploy-badinput")
    # A selector that does not match the template is rejected by validation.
    p = k.run(
        "apply",
        "-n",
        ns,
        "-f",
        "-",
        input="""
apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatch}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: busybox}]}
""",
        check=False,
    )
    assert p.returncode != 0 and "selector" in p.stderr and "does not match template" in p.stderr

    # Pods that cannot be created (missing service account): FailedCreate + ReplicaFailure, with backoff.
    k.apply(
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: nosa}
spec:
  replicas: 2
  selector: {matchLabels: {app: nosa}}
  template:
    metadata: {labels: {app: nosa}}
    spec:
      serviceAccountName: robot
      containers: [{name: c, image: busybox}]
""",
        "-n",
        ns,
    )
    rs = wait_for(
        lambda: (
            (r := _rss(h, ns))
            and any(c["type"] == "ReplicaFailure" for c in r[0].get("status", {}).get("conditions") or [])
            and r[0]
        ),
        what="ReplicaFailure on the ReplicaSet",
    )
    cond = next(c for c in rs["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert 'serviceaccount "robot" not found' in cond["message"]
    d = wait_for(
        lambda: (
            (x := h.get("apps/v1", "deployments", "nosa", ns))
            and any(c["type"] == "ReplicaFailure" for c in x["status"].get("conditions") or [])
            and x
        ),
        what="ReplicaFailure on the Deployment",
    )
    dc = next(c for c in d["status"]["conditions"] if c["type"] == "ReplicaFailure")
    assert dc["reason"] == "FailedCreate" and dc["message"] == cond["message"]
    ev = wait_for(lambda: [e for e in h.events(ns) if e["reason"] == "FailedCreate"])[0]
    assert ev["type"] == "Warning" and ev["message"].startswith(
        f'Error creating: pods "{rs["metadata"]["name"]}-" is forbidden'
    )
    time.sleep(2.0)
    attempts = sum(int(e.get("count") or 1) for e in h.events(ns) if e["reason"] == "FailedCreate")
    assert 3 <= attempts <= 30, attempts  # retried with exponential backoff, not a hot loop

    # Fixing the cause lets the retries succeed and clears the condition.
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}
    h.api(lambda c: c.create("v1", "serviceaccounts", sa, ns))
    k("rollout", "status", "deployment/nosa", "-n", ns, "--timeout=40s")
    rs_name = rs["metadata"]["name"]

    def healed() -> dict | None:
        r = h.get("apps/v1", "replicasets", rs_name, ns)
        return None if any(c["type"] == "ReplicaFailure" for c in r["status"].get("conditions") or []) else r

    rs = wait_for(healed, what="ReplicaFailure cleared")
    assert rs["status"]["readyReplicas"] == 2
