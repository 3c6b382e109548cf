"""Core controllers (namespace, garbage collector, serviceaccount + root CA, endpoints,
endpointslice, disruption, resourcequota) against our API server.

The controllers run on an event loop in a background thread of the test process, built directly
over one SharedInformers; there is no scheduler or kubelet: tests set pod status themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server
from tests.integration.loopthread import LoopThread
from vcluster.client import ApiError, Client, SharedInformers
from vcluster.controllers.base import fmt_time
from vcluster.controllers.disruption import DisruptionController
from vcluster.controllers.endpoints import EndpointsController
from vcluster.controllers.endpointslice import EndpointSliceController
from vcluster.controllers.garbagecollector import GarbageCollector
from vcluster.controllers.namespace import NamespaceController
from vcluster.controllers.resourcequota import ResourceQuotaController
from vcluster.controllers.serviceaccount import DESCRIPTION, ServiceAccountController

pytestmark = pytest.mark.integration


class CoreHarness(LoopThread):
    """The core controllers on an event loop in a background thread."""

    def __init__(self, server: Server) -> None:
        self.server = server
        super().__init__()
        self.informers: SharedInformers | None = None
        self.controllers: dict[str, Any] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.ca_pem = Path(server.ca_file).read_text()

    async def _start(self) -> None:
        self.client = c = await Client.from_kubeconfig(str(self.server.kubeconfig), user_agent="test-core")
        self.informers = inf = SharedInformers(c)
        self.controllers = {
            "namespace": NamespaceController(c, inf, finalizer_estimate_seconds=1),
            "garbagecollector": GarbageCollector(c, inf, discovery_interval=5.0),
            "serviceaccount": ServiceAccountController(c, inf, root_ca_pem=self.ca_pem),
            "endpoints": EndpointsController(c, inf),
            "endpointslice": EndpointSliceController(c, inf),
            "disruption": DisruptionController(c, inf),
            "resourcequota": ResourceQuotaController(c, inf, resync_seconds=5.0),
        }
        await inf.start()
        await inf.wait_synced(20)
        for name, ctrl in self.controllers.items():
            self.tasks.append(asyncio.create_task(ctrl.run(2), name=name))
        gc: GarbageCollector = self.controllers["garbagecollector"]
        deadline = time.monotonic() + 20
        while not gc.is_synced():
            assert time.monotonic() < deadline, "garbage collector did not sync"
            await asyncio.sleep(0.05)

    async def _stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.informers is not None:
            await self.informers.stop()
        if self.client is not None:
            await self.client.close()

    def create(self, api_version: str, plural: str, obj: dict, ns: str | None = None) -> dict:
        return self.api(lambda c: c.create(api_version, plural, obj, ns))

    def get(self, api_version: str, plural: str, name: str, ns: str | None = None) -> dict | None:
        async def get(c: Client) -> dict | None:
            try:
                return await c.get(api_version, plural, name, ns)
            except ApiError as e:
                if e.not_found:
                    return None
                raise

        return self.api(get)

    def list(
        self, api_version: str, plural: str, ns: str | None = None, selector: str | None = None
    ) -> list[dict]:
        return self.api(lambda c: c.list_all(api_version, plural, ns, label_selector=selector))[0]

    def patch(self, api_version: str, plural: str, name: str, patch: dict, ns: str | None, **kw: Any) -> dict:
        return self.api(lambda c: c.patch(api_version, plural, name, patch, ns, **kw))

    def delete(self, api_version: str, plural: str, name: str, ns: str | None = None, **kw: Any) -> Any:
        return self.api(lambda c: c.delete(api_version, plural, name, ns, **kw))


def wait_for(pred: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or pred}: last={last!r}")


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An API server without its own controllers: only the ones under test act."""
    s = Server(tmp_path_factory.mktemp("core") / "vc", args=["--controllers", ""])
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def kube(bare_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(bare_server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def core(bare_server: Server) -> Iterator[CoreHarness]:
    h = CoreHarness(bare_server).start()
    try:
        yield h
    finally:
        h.stop()


def namespace(h: CoreHarness, k: Kubectl, name: str) -> str:
    """A namespace whose default ServiceAccount exists (pods need it)."""
    k.namespace(name)
    wait_for(lambda: h.get("v1", "serviceaccounts", "default", name), what="default ServiceAccount")
    return name


def pod(
    name: str, labels: dict[str, str] | None = None, owners: list[dict] | None = None, **spec: Any
) -> dict:
    md: dict[str, Any] = {"name": name, "labels": labels or {}}
    if owners:
        md["ownerReferences"] = owners
    container = {"name": "c", "image": "nginx:1.27", **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"containers": [container], **spec}}


def ref(obj: dict, *, block: bool = True, controller: bool = True) -> dict:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": block,
    }


def replicaset(name: str, replicas: int = 0) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def set_pod_status(
    h: CoreHarness, ns: str, name: str, ip: str, ready: bool, when: datetime | None = None
) -> dict:
    ts = fmt_time(when or datetime.now(UTC))
    status = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts}],
    }
    return h.patch("v1", "pods", name, {"status": status}, ns, subresource="status")


def bind(h: CoreHarness, ns: str, name: str, node: str) -> None:
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
    h.api(lambda c: c.create("v1", "pods", binding, ns, subresource="binding", name=name))


def ensure_node(h: CoreHarness, name: str) -> None:
    if h.get("v1", "nodes", name) is None:
        h.create("v1", "nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})


# ---------------------------------------------------------------------------- serviceaccount
def test_default_serviceaccount_and_root_ca_configmap(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-sa")
    cm = wait_for(lambda: h.get("v1", "configmaps", "kube-root-ca.crt", ns), what="kube-root-ca.crt")
    assert cm["data"] == {"ca.crt": h.ca_pem}
    assert cm["metadata"]["annotations"] == {"kubernetes.io/description": DESCRIPTION}
    sa = h.get("v1", "serviceaccounts", "default", ns)
    assert sa is not None and "secrets" not in sa
    # kubectl sees them as in a real cluster
    out = k("get", "sa,cm", "-n", ns, "-o", "name")
    assert set(out.split()) == {"serviceaccount/default", "configmap/kube-root-ca.crt"}
    # deleted -> recreated (new uid); tampered -> restored
    old_uid = sa["metadata"]["uid"]
    k("delete", "sa", "default", "-n", ns)
    wait_for(
        lambda: (s := h.get("v1", "serviceaccounts", "default", ns)) and s["metadata"]["uid"] != old_uid,
        what="recreated default ServiceAccount",
    )
    h.patch("v1", "configmaps", "kube-root-ca.crt", {"data": {"ca.crt": "junk"}}, ns)
    wait_for(lambda: h.get("v1", "configmaps", "kube-root-ca.crt", ns)["data"] == {"ca.crt": h.ca_pem})
    k("delete", "cm", "kube-root-ca.crt", "-n", ns)
    wait_for(lambda: h.get("v1", "configmaps", "kube-root-ca.crt", ns), what="recreated kube-root-ca.crt")
    # the system namespaces got them too
    for sys_ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_for(lambda n=sys_ns: h.get("v1", "configmaps", "kube-root-ca.crt", n), what=sys_ns)


# ---------------------------------------------------------------------------- namespace
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.core.example.com"},
    "spec": {
        "group": "core.example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def ensure_crd(h: CoreHarness) -> None:
    if h.get("apiextensions.k8s.io/v1", "customresourcedefinitions", CRD["metadata"]["name"]) is None:
        try:
            h.create("apiextensions.k8s.io/v1", "customresourcedefinitions", CRD)
        except ApiError as e:
            if not e.already_exists:
                raise

    def served() -> bool:
        status, _, _ = h.api(lambda c: c.request("GET", "/apis/core.example.com/v1"))
        return status == 200

    wait_for(served, what="CRD served")


def test_namespace_deletion_removes_all_content(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ensure_crd(h)
    ns = namespace(h, k, "core-nsdel")
    for i in range(3):
        h.create("v1", "configmaps", {"metadata": {"name": f"cm{i}"}, "data": {"a": "b"}}, ns)
        h.create("v1", "pods", pod(f"p{i}", {"app": "x"}), ns)
    k("create", "deployment", "web", "--image=nginx", "-n", ns)
    h.create(
        "core.example.com/v1",
        "widgets",
        {"apiVersion": "core.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}},
        ns,
    )
    # kubectl delete waits until the namespace is gone
    t0 = time.monotonic()
    k("delete", "namespace", ns, "--timeout=30s")
    assert time.monotonic() - t0 < 20
    assert h.get("v1", "namespaces", ns) is None
    for av, plural in (
        ("v1", "pods"),
        ("v1", "configmaps"),
        ("apps/v1", "deployments"),
        ("core.example.com/v1", "widgets"),
    ):
        assert h.list(av, plural, ns) == [], plural
    out = k("get", "namespace", ns, check=False)
    assert "NotFound" in out or out == ""


def test_namespace_waits_for_graceful_pods(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-nsgrace")
    ensure_node(h, "core-node-1")
    h.create("v1", "pods", pod("slow"), ns)
    bind(h, ns, "slow", "core-node-1")  # scheduled: deletion is graceful (30 s)
    k("delete", "namespace", ns, "--wait=false")
    p = wait_for(
        lambda: (x := h.get("v1", "pods", "slow", ns)) and x["metadata"].get("deletionTimestamp") and x,
        what="pod terminating",
    )
    assert p["metadata"]["deletionGracePeriodSeconds"] == 30
    time.sleep(0.5)
    assert h.get("v1", "namespaces", ns) is not None, "the namespace waits for its terminating pod"
    # the kubelet's final delete: the namespace goes right after, not after the 16 s re-check
    h.delete("v1", "pods", "slow", ns, grace_period_seconds=0)
    wait_for(lambda: h.get("v1", "namespaces", ns) is None, timeout=5, what="namespace gone")


def test_namespace_waits_for_finalizers_and_reports_conditions(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-nsfin")
    h.create("v1", "configmaps", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, ns)
    h.delete("v1", "namespaces", ns)

    def remaining() -> dict | None:
        obj = h.get("v1", "namespaces", ns)
        conds = {c["type"]: c for c in (obj or {}).get("status", {}).get("conditions") or []}
        c = conds.get("NamespaceFinalizersRemaining")
        return conds if c and c["status"] == "True" else None

    conds = wait_for(remaining, what="NamespaceFinalizersRemaining")
    assert conds["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizerRemain"
    assert conds["NamespaceFinalizersRemaining"]["message"] == (
        "Some finalizers are remaining: example.com/hold in 1 resource instances"
    )
    assert conds["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances"
    )
    assert conds["NamespaceDeletionDiscoveryFailure"] == {
        "type": "NamespaceDeletionDiscoveryFailure",
        "status": "False",
        "reason": "ResourcesDiscovered",
        "message": "All resources successfully discovered",
        "lastTransitionTime": conds["NamespaceDeletionDiscoveryFailure"]["lastTransitionTime"],
    }
    ns_obj = h.get("v1", "namespaces", ns)
    assert ns_obj["status"]["phase"] == "Terminating"
    assert ns_obj["spec"]["finalizers"] == ["kubernetes"]
    # new content is refused while terminating
    with pytest.raises(ApiError) as ei:
        h.create("v1", "configmaps", {"metadata": {"name": "late"}}, ns)
    assert ei.value.status == 403
    h.patch("v1", "configmaps", "held", {"metadata": {"finalizers": None}}, ns)
    wait_for(lambda: h.get("v1", "namespaces", ns) is None, what="namespace gone")


# ---------------------------------------------------------------------------- garbage collector
def test_gc_background_deletes_dependents_of_a_deleted_owner(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-gc-bg")
    rs = h.create("apps/v1", "replicasets", replicaset("web"), ns)
    keeper = h.create(
        "v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keeper"}}, ns
    )
    for i in range(3):
        h.create("v1", "pods", pod(f"web-{i}", {"app": "web"}, [ref(rs)]), ns)
    # a dependent with a second, live owner survives and only loses the dead reference
    h.create(
        "v1",
        "configmaps",
        {"metadata": {"name": "shared", "ownerReferences": [ref(rs), ref(keeper, controller=False)]}},
        ns,
    )
    k("delete", "rs", "web", "-n", ns)
    wait_for(lambda: h.list("v1", "pods", ns) == [], what="pods collected")
    shared = wait_for(
        lambda: (
            (c := h.get("v1", "configmaps", "shared", ns))
            and len(c["metadata"]["ownerReferences"]) == 1
            and c
        )
    )
    assert shared["metadata"]["ownerReferences"][0]["uid"] == keeper["metadata"]["uid"]
    # an object whose only owner never existed is collected too
    ghost = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "ghost",
        "uid": "00000000-0000-0000-0000-000000000001",
    }
    h.create("v1", "configmaps", {"metadata": {"name": "orphaned", "ownerReferences": [ghost]}}, ns)
    wait_for(lambda: h.get("v1", "configmaps", "orphaned", ns) is None, what="dangling dependent collected")
    assert h.get("v1", "configmaps", "keeper", ns) is not None


def test_gc_foreground_waits_for_blocking_dependents(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-gc-fg")
    rs = h.create("apps/v1", "replicasets", replicaset("fg"), ns)
    h.create("v1", "pods", pod("fg-a", {"app": "fg"}, [ref(rs)]), ns)
    # a blocking dependent that cannot go away yet (finalizer)
    h.create(
        "v1",
        "configmaps",
        {"metadata": {"name": "blocker", "finalizers": ["example.com/hold"], "ownerReferences": [ref(rs)]}},
        ns,
    )
    h.delete("apps/v1", "replicasets", "fg", ns, propagation_policy="Foreground")
    wait_for(lambda: h.get("v1", "pods", "fg-a", ns) is None, what="pod deleted first")
    blocker = wait_for(
        lambda: (
            (c := h.get("v1", "configmaps", "blocker", ns)) and c["metadata"].get("deletionTimestamp") and c
        )
    )
    assert blocker["metadata"]["finalizers"] == ["example.com/hold"]
    time.sleep(0.5)
    owner = h.get("apps/v1", "replicasets", "fg", ns)
    assert owner is not None, "the owner waits for its blocking dependents"
    assert owner["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in owner["metadata"]["finalizers"]
    h.patch("v1", "configmaps", "blocker", {"metadata": {"finalizers": None}}, ns)
    wait_for(lambda: h.get("apps/v1", "replicasets", "fg", ns) is None, what="owner deleted last")


def test_gc_orphan_removes_owner_references(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-gc-orphan")
    rs = h.create("apps/v1", "replicasets", replicaset("orph"), ns)
    for i in range(2):
        h.create("v1", "pods", pod(f"orph-{i}", {"app": "orph"}, [ref(rs)]), ns)
    k("delete", "rs", "orph", "-n", ns, "--cascade=orphan")
    assert h.get("apps/v1", "replicasets", "orph", ns) is None
    pods = h.list("v1", "pods", ns)
    assert sorted(p["metadata"]["name"] for p in pods) == ["orph-0", "orph-1"]
    for p in pods:
        assert not p["metadata"].get("ownerReferences")
    time.sleep(0.3)
    assert len(h.list("v1", "pods", ns)) == 2, "orphans are not collected"


def test_gc_custom_resources_and_cluster_scoped_owners(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ensure_crd(h)
    ns = namespace(h, k, "core-gc-cr")
    owner = h.create(
        "v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, ns
    )
    widget = {
        "apiVersion": "core.example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "ownerReferences": [ref(owner)]},
    }
    h.create("core.example.com/v1", "widgets", widget, ns)
    role = h.create(
        "rbac.authorization.k8s.io/v1",
        "clusterroles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "core-gc-owner"},
        },
    )
    # a namespaced dependent of a cluster-scoped owner, and a custom resource owning a ConfigMap
    h.create("v1", "configmaps", {"metadata": {"name": "by-role", "ownerReferences": [ref(role)]}}, ns)
    w = h.get("core.example.com/v1", "widgets", "w", ns)
    h.create("v1", "configmaps", {"metadata": {"name": "by-widget", "ownerReferences": [ref(w)]}}, ns)
    time.sleep(0.3)
    assert h.get("v1", "configmaps", "by-role", ns) is not None, "a cluster-scoped owner is valid"
    h.delete("v1", "configmaps", "owner", ns)
    wait_for(
        lambda: h.get("core.example.com/v1", "widgets", "w", ns) is None, what="custom resource collected"
    )
    wait_for(
        lambda: h.get("v1", "configmaps", "by-widget", ns) is None, what="dependent of the custom resource"
    )
    h.delete("rbac.authorization.k8s.io/v1", "clusterroles", "core-gc-owner")
    wait_for(lambda: h.get("v1", "configmaps", "by-role", ns) is None, what="dependent of the ClusterRole")


def test_gc_cross_namespace_owner_is_invalid(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns_a = namespace(h, k, "core-gc-xa")
    ns_b = namespace(h, k, "core-gc-xb")
    owner = h.create(
        "v1", "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}}, ns_a
    )
    time.sleep(0.3)  # the owner is observed first
    dep = h.create("v1", "configmaps", {"metadata": {"name": "dep", "ownerReferences": [ref(owner)]}}, ns_b)
    wait_for(
        lambda: h.get("v1", "configmaps", "dep", ns_b) is None, what="cross-namespace dependent collected"
    )
    events = wait_for(
        lambda: [e for e in h.list("v1", "events", ns_b) if e["reason"] == "OwnerRefInvalidNamespace"],
        what="OwnerRefInvalidNamespace event",
    )
    e = events[0]
    assert e["type"] == "Warning"
    assert e["involvedObject"]["name"] == "dep" and e["involvedObject"]["uid"] == dep["metadata"]["uid"]
    assert e["message"] == (
        f"ownerRef [v1/ConfigMap, namespace: {ns_b}, name: owner, uid: {owner['metadata']['uid']}] "
        f'does not exist in namespace "{ns_b}"'
    )
    assert h.get("v1", "configmaps", "owner", ns_a) is not None


# ---------------------------------------------------------------------------- endpoints / slices
def _web_service(name: str, **spec: Any) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"tier": "front"}},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "ipFamilies": ["IPv4"],
            **spec,
        },
    }


def test_endpoints_and_slices_follow_pod_readiness(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-ep")
    ensure_node(h, "core-node-1")
    svc = h.create("v1", "services", _web_service("web", clusterIP="10.96.100.10"), ns)
    headless = h.create(
        "v1", "services", _web_service("web-hl", clusterIP="None", selector={"app": "web"}), ns
    )
    manual = h.create(
        "v1", "services", {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}, ns
    )
    h.create(
        "v1", "services", _web_service("web-pub", selector={"app": "web"}, publishNotReadyAddresses=True), ns
    )
    ips = {"web-0": "10.244.1.10", "web-1": "10.244.1.11", "web-2": "10.244.1.12"}
    for name, ip in ips.items():
        h.create(
            "v1",
            "pods",
            pod(name, {"app": "web"}, container={"ports": [{"name": "http", "containerPort": 8080}]}),
            ns,
        )
        bind(h, ns, name, "core-node-1")
        set_pod_status(h, ns, name, ip, ready=name != "web-2")
    uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in h.list("v1", "pods", ns)}

    def addr(name: str) -> dict:
        return {
            "ip": ips[name],
            "nodeName": "core-node-1",
            "targetRef": {"kind": "Pod", "namespace": ns, "name": name, "uid": uids[name]},
        }

    want = [
        {
            "addresses": [addr("web-0"), addr("web-1")],
            "notReadyAddresses": [addr("web-2")],
            "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
        }
    ]
    ep = wait_for(
        lambda: (e := h.get("v1", "endpoints", "web", ns)) and e.get("subsets") == want and e,
        what="endpoints",
    )
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
    hl = wait_for(lambda: (e := h.get("v1", "endpoints", "web-hl", ns)) and e.get("subsets") == want and e)
    assert hl["metadata"]["labels"] == {"tier": "front", "service.kubernetes.io/headless": ""}
    assert h.get("v1", "endpoints", "manual", ns) is None, "services without selector are left alone"
    pub = [{"addresses": [addr("web-0"), addr("web-1"), addr("web-2")], "ports": want[0]["ports"]}]
    wait_for(
        lambda: (e := h.get("v1", "endpoints", "web-pub", ns)) and e.get("subsets") == pub, what="publish"
    )
    assert manual["spec"].get("selector") is None

    # the slice mirrors the pods with conditions
    def slices(svc_name: str) -> list[dict]:
        return h.list("discovery.k8s.io/v1", "endpointslices", ns, f"kubernetes.io/service-name={svc_name}")

    def slice_view() -> dict | None:
        ss = slices("web")
        if len(ss) != 1:
            return None
        eps = {e["targetRef"]["name"]: e for e in ss[0].get("endpoints") or []}
        return ss[0] if set(eps) == set(ips) and not eps["web-2"]["conditions"]["ready"] else None

    es = wait_for(slice_view, what="endpointslice")
    md = es["metadata"]
    assert md["name"].startswith("web-") and len(md["name"]) == len("web-") + 5
    assert md["generateName"] == "web-"
    assert md["labels"] == {
        "tier": "front",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert md["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": svc["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert es["addressType"] == "IPv4"
    assert es["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    eps = {e["targetRef"]["name"]: e for e in es["endpoints"]}
    assert eps["web-0"] == {
        "addresses": [ips["web-0"]],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": "core-node-1",
        "targetRef": {"kind": "Pod", "namespace": ns, "name": "web-0", "uid": uids["web-0"]},
    }
    assert eps["web-2"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    hl_slices = wait_for(lambda: slices("web-hl"))
    assert hl_slices[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert slices("manual") == []

    # readiness flips move the addresses; the slice follows
    set_pod_status(h, ns, "web-2", ips["web-2"], ready=True)
    set_pod_status(h, ns, "web-0", ips["web-0"], ready=False)
    want2 = [
        {
            "addresses": [addr("web-1"), addr("web-2")],
            "notReadyAddresses": [addr("web-0")],
            "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
        }
    ]
    wait_for(lambda: h.get("v1", "endpoints", "web", ns).get("subsets") == want2, what="endpoints after flip")

    def ready_in_slice() -> set[str]:
        ss = slices("web")
        return {
            e["targetRef"]["name"] for s in ss for e in s.get("endpoints") or [] if e["conditions"]["ready"]
        }

    wait_for(lambda: ready_in_slice() == {"web-1", "web-2"}, what="slice after flip")
    # a deleted pod disappears from both
    h.delete("v1", "pods", "web-1", ns, grace_period_seconds=0)
    want3 = [
        {
            "addresses": [addr("web-2")],
            "notReadyAddresses": [addr("web-0")],
            "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
        }
    ]
    wait_for(
        lambda: h.get("v1", "endpoints", "web", ns).get("subsets") == want3, what="endpoints after delete"
    )
    wait_for(lambda: ready_in_slice() == {"web-2"}, what="slice after delete")
    # the service goes: its Endpoints are deleted and the slices are garbage collected
    h.delete("v1", "services", "web", ns)
    wait_for(lambda: h.get("v1", "endpoints", "web", ns) is None, what="endpoints deleted")
    wait_for(lambda: slices("web") == [], what="slices collected")
    assert headless["spec"]["clusterIP"] == "None"


def test_service_without_pods_gets_placeholder_slice(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-ep-empty")
    h.create("v1", "services", _web_service("lonely", clusterIP="10.96.100.11"), ns)
    ss = wait_for(
        lambda: h.list("discovery.k8s.io/v1", "endpointslices", ns, "kubernetes.io/service-name=lonely"),
        what="placeholder slice",
    )
    assert len(ss) == 1
    assert not ss[0].get("endpoints") and not ss[0].get("ports")
    ep = wait_for(lambda: h.get("v1", "endpoints", "lonely", ns), what="empty endpoints")
    assert "subsets" not in ep
    time.sleep(0.3)
    assert len(h.list("discovery.k8s.io/v1", "endpointslices", ns, "kubernetes.io/service-name=lonely")) == 1


# ---------------------------------------------------------------------------- disruption
def test_pdb_status(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-pdb")
    rs = h.create("apps/v1", "replicasets", replicaset("db", replicas=4), ns)
    for i in range(3):
        h.create("v1", "pods", pod(f"db-{i}", {"app": "db"}, [ref(rs)]), ns)
        set_pod_status(h, ns, f"db-{i}", f"10.244.2.{i + 10}", ready=i < 2)
    h.create(
        "policy/v1",
        "poddisruptionbudgets",
        {
            "metadata": {"name": "min1"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
        ns,
    )
    h.create(
        "policy/v1",
        "poddisruptionbudgets",
        {
            "metadata": {"name": "max25"},
            "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "db"}}},
        },
        ns,
    )

    def status(name: str, **want: int) -> dict | None:
        pdb = h.get("policy/v1", "poddisruptionbudgets", name, ns)
        st = (pdb or {}).get("status") or {}
        return st if all(st.get(k) == v for k, v in want.items()) and st.get("conditions") else None

    st = wait_for(lambda: status("min1", currentHealthy=2), what="min1 status")
    assert {k: st[k] for k in ("currentHealthy", "desiredHealthy", "disruptionsAllowed", "expectedPods")} == {
        "currentHealthy": 2,
        "desiredHealthy": 1,
        "disruptionsAllowed": 1,
        "expectedPods": 3,
    }
    assert st["observedGeneration"] == 1
    cond = st["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "DisruptionAllowed",
        "True",
        "SufficientPods",
        "",
    )
    assert cond["observedGeneration"] == 1 and cond["lastTransitionTime"]
    # maxUnavailable 25% of the ReplicaSet's 4 replicas: expected 4, desired 3, 2 healthy -> 0 allowed
    st = wait_for(lambda: status("max25", expectedPods=4), what="max25 status")
    assert (st["desiredHealthy"], st["currentHealthy"], st["disruptionsAllowed"]) == (3, 2, 0)
    assert st["conditions"][0]["reason"] == "InsufficientPods"
    assert st["conditions"][0]["status"] == "False"
    # a pod becoming ready updates both
    set_pod_status(h, ns, "db-2", "10.244.2.12", ready=True)
    wait_for(lambda: status("min1", currentHealthy=3, disruptionsAllowed=2), what="min1 after ready")
    st = wait_for(lambda: status("max25", currentHealthy=3, disruptionsAllowed=0), what="max25 after ready")
    assert st["desiredHealthy"] == 3
    h.patch("policy/v1", "poddisruptionbudgets", "max25", {"spec": {"maxUnavailable": 2}}, ns)
    st = wait_for(
        lambda: status("max25", observedGeneration=2, disruptionsAllowed=1), what="max25 generation 2"
    )
    assert st["conditions"][0]["reason"] == "SufficientPods"


# ---------------------------------------------------------------------------- resourcequota
def test_resourcequota_usage(core: CoreHarness, kube: Kubectl) -> None:
    h, k = core, kube
    ns = namespace(h, k, "core-quota")
    hard = {
        "pods": "10",
        "count/pods": "10",
        "services": "5",
        "configmaps": "10",
        "secrets": "10",
        "requests.cpu": "4",
        "requests.memory": "4Gi",
        "limits.memory": "8Gi",
        "count/deployments.apps": "3",
        "services.nodeports": "4",
    }
    h.create("v1", "resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": hard}}, ns)
    res = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
    h.create("v1", "pods", pod("a", container={"resources": res}), ns)
    # (quota admission refuses a pod that does not state a limit the quota tracks)
    res_b = {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    h.create("v1", "pods", pod("b", container={"resources": res_b}), ns)
    h.create("v1", "pods", pod("done", container={"resources": res}), ns)
    h.patch("v1", "pods", "done", {"status": {"phase": "Succeeded"}}, ns, subresource="status")
    h.create(
        "v1",
        "services",
        {
            "metadata": {"name": "np"},
            "spec": {
                "type": "NodePort",
                "ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "b"}],
                "selector": {"a": "b"},
            },
        },
        ns,
    )
    h.create("v1", "secrets", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}, ns)
    k("create", "deployment", "web", "--image=nginx", "-n", ns)

    def used() -> dict:
        rq = h.get("v1", "resourcequotas", "q", ns)
        return (rq.get("status") or {}).get("used") or {}

    want = {
        "pods": "2",
        "count/pods": "3",
        "services": "1",
        "services.nodeports": "2",
        "configmaps": "1",  # kube-root-ca.crt
        "secrets": "1",
        "requests.cpu": "350m",
        "requests.memory": "192Mi",
        "limits.memory": "384Mi",
        "count/deployments.apps": "1",
    }
    wait_for(lambda: used() == want, what=f"quota usage {want}")
    rq = h.get("v1", "resourcequotas", "q", ns)
    assert rq["status"]["hard"] == hard
    # kubectl describe shows it like a real cluster
    out = k("describe", "quota", "q", "-n", ns)
    assert "requests.cpu" in out and "350m" in out
    h.delete("v1", "pods", "a", ns)
    wait_for(
        lambda: (
            (u := used()).get("pods") == "1"
            and u.get("requests.cpu") == "250m"
            and u.get("limits.memory") == "256Mi"
        ),
        what="usage after delete",
    )
