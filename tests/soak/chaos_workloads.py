"""The workload half of the syncer chaos soak (tests/soak/syncer_chaos.py): Deployments scaled and
rolled out, namespaces created, filled and deleted, Secrets and PersistentVolumeClaims that pods
reference, host-side label/annotation edits of synced Services, and host-side deletes of synced
objects; and the convergence checks that go with them, each naming the mismatch it found."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.integration.syncer_harness import HOST_NS, VC_NAME, host_name
from vcluster.client import Client
from vcluster.client.errors import ApiError

NAMESPACES = ("s0", "s1")  # kept for the whole run
EPHEMERAL = ("e0", "e1")  # created, filled and deleted again at random
ALL_NAMESPACES = NAMESPACES + EPHEMERAL
CONFIGMAPS = ("cm0", "cm1", "cm2", "cm3")
SECRETS = ("sec0", "sec1", "sec2")
CLAIMS = ("pvc0", "pvc1")
SERVICES = ("svc0", "svc1")
DEPLOYMENTS = ("d0", "d1")
IMAGES = ("nginx:1.26", "nginx:1.27", "nginx:1.28")
KEYS = ("k0", "k1", "k2", "k3")
META = ("labels", "annotations")
MANAGED = f"vcluster.loft.sh/managed-by={VC_NAME}"
NS_LABEL = "vcluster.loft.sh/namespace"
OBJECT_UID = "vcluster.loft.sh/object-uid"
POD_UID = "vcluster.loft.sh/uid"
REVISION = "deployment.kubernetes.io/revision"
# virtual kinds whose synced host copies the orphan check looks at: plural -> what uses the name
HOST_KINDS = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims")


def meta_view(obj: dict[str, Any]) -> dict[str, str]:
    """The labels (without vcluster's own) and the soak's annotations, as `labels:k` keys."""
    md = obj["metadata"]
    out = {
        f"labels:{k}": v for k, v in (md.get("labels") or {}).items() if not k.startswith("vcluster.loft.sh/")
    }
    out |= {f"annotations:{k}": v for k, v in (md.get("annotations") or {}).items() if k.startswith("soak/")}
    return out


def meta_patch(rng: random.Random, prefix: str) -> tuple[str, str, str | None, dict[str, Any]]:
    """A random label/annotation set or removal: (field, key, value, merge patch)."""
    what, key = rng.choice(META), rng.choice(KEYS)
    key = key if what == "labels" else f"soak/{key}"
    value = None if rng.random() < 0.3 else f"{prefix}{rng.randrange(1000)}"
    return what, key, value, {"metadata": {what: {key: value}}}


def pod_refs(pod: dict[str, Any]) -> dict[str, set[str]]:
    """The ConfigMaps, Secrets and claims a pod spec names (env, envFrom, volumes)."""
    out: dict[str, set[str]] = {"configmaps": set(), "secrets": set(), "persistentvolumeclaims": set()}
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                out["configmaps"].add(vf["configMapKeyRef"]["name"])
            if "secretKeyRef" in vf:
                out["secrets"].add(vf["secretKeyRef"]["name"])
        for ef in c.get("envFrom") or []:
            if "configMapRef" in ef:
                out["configmaps"].add(ef["configMapRef"]["name"])
            if "secretRef" in ef:
                out["secrets"].add(ef["secretRef"]["name"])
    for v in spec.get("volumes") or []:
        if "configMap" in v:
            out["configmaps"].add(v["configMap"]["name"])
        if "secret" in v:
            out["secrets"].add(v["secret"]["secretName"])
        if "persistentVolumeClaim" in v:
            out["persistentvolumeclaims"].add(v["persistentVolumeClaim"]["claimName"])
    return out


def pod_spec(rng: random.Random, image: str = "nginx", claims: bool = True) -> dict[str, Any]:
    """A one-container pod spec reading a ConfigMap key and a Secret key (both optional), at
    times mounting a Secret (optional) or, with `claims`, a claim (a pod whose claim is missing or
    being deleted stays Pending, as in kube: Deployments' pods mount none, so they must run)."""
    cm = {"name": rng.choice(CONFIGMAPS), "key": "a", "optional": True}
    sec = {"name": rng.choice(SECRETS), "key": "a", "optional": True}
    container: dict[str, Any] = {
        "name": "c",
        "image": image,
        "env": [
            {"name": "X", "valueFrom": {"configMapKeyRef": cm}},
            {"name": "Y", "valueFrom": {"secretKeyRef": sec}},
        ],
    }
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": rng.choice([0, 1]), "containers": [container]}
    volumes = []
    if rng.random() < 0.3:
        volumes.append({"name": "s", "secret": {"secretName": rng.choice(SECRETS), "optional": True}})
    if claims and rng.random() < 0.2:
        volumes.append({"name": "d", "persistentVolumeClaim": {"claimName": rng.choice(CLAIMS)}})
    if volumes:
        spec["volumes"] = volumes
        container["volumeMounts"] = [{"name": v["name"], "mountPath": f"/mnt/{v['name']}"} for v in volumes]
    return spec


@dataclass
class Workloads:
    """The soak's workload operations and what they should have left behind."""

    vc: Client
    hc: Client
    rng: random.Random
    stats: Counter[str]
    # virtual objects whose host copy we deleted: (plural, ns, name) -> the virtual uid, which
    # must be gone at the end (§8.5: a host deletion deletes the virtual object)
    host_deleted: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    # when each host delete was made: (plural, ns, name, virtual uid) -> time.monotonic()
    deleted_at: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    # while the vcluster process is down: the objects (plural, ns, name) -> virtual uid that had
    # only the create's record at the kill, no saved base (the host create's window,
    # docs/architecture.md); a host delete of one of them (the host copy of that uid existed)
    # leaves an object vCluster creates on the host again (§8.5, §3.1-2: the host object was never
    # seen, a pod had not started), so it is expected to stay (`window_deleted`)
    down: bool = False
    in_window: dict[tuple[str, str, str], str] = field(default_factory=dict)
    window_deleted: set[tuple[str, str, str, str]] = field(default_factory=set)
    # Service labels/annotations: (ns, svc, "labels:k") -> sides that wrote it, last value
    svc_writes: dict[tuple[str, str, str], tuple[set[str], str | None]] = field(default_factory=dict)
    svc_uncertain: set[tuple[str, str]] = field(default_factory=set)
    counter: int = 0

    def killed(self, unsaved: dict[tuple[str, str, str], str], grace: float = 2.0) -> None:
        """At a kill: `unsaved` (the objects with only a create's record) is the window until the
        restart; a host delete of one of them made in the last `grace` seconds, not yet
        reconciled by the syncer, counts as one in the window too."""
        self.down, self.in_window = True, dict(unsaved)
        now = time.monotonic()
        for (plural, ns, name), uid in unsaved.items():
            at = self.deleted_at.get((plural, ns, name, uid))
            if (
                at is not None
                and now - at <= grace
                and uid in self.host_deleted.get((plural, ns, name), set())
            ):
                self.host_deleted[(plural, ns, name)].discard(uid)
                self.window_deleted.add((plural, ns, name, uid))

    # ------------------------------------------------------------------ bookkeeping
    def note_svc(self, side: str, ns: str, svc: str, key: str, value: str | None) -> None:
        sides, _ = self.svc_writes.get((ns, svc, key), (set(), None))
        self.svc_writes[(ns, svc, key)] = (sides | {side}, value)

    def svc_gone(self, ns: str, svc: str) -> None:
        """A Service deleted (either side): what was written to the old one no longer counts."""
        for k in [k for k in self.svc_writes if k[:2] == (ns, svc)]:
            del self.svc_writes[k]

    async def _guard(self, side: str, op: Any) -> None:
        try:
            await op
        except ApiError as e:
            self.stats[f"{side}-error-{e.status}"] += 1
        except (OSError, TimeoutError) as e:
            self.stats[f"{side}-down-{type(e).__name__}"] += 1

    # ------------------------------------------------------------------ virtual side
    async def virtual_op(self) -> None:
        r = self.rng.random()
        if r < 0.35:
            op = self._deployment(self.rng.choice(NAMESPACES))
        elif r < 0.55:
            op = self._secret(self.rng.choice(NAMESPACES))
        elif r < 0.62:
            op = self._claim(self.rng.choice(NAMESPACES))
        elif r < 0.77:
            op = self._service_meta(self.rng.choice(NAMESPACES))
        else:
            op = self._namespace(self.rng.choice(EPHEMERAL))
        await self._guard("v", op)

    async def _deployment(self, ns: str, replicas_max: int = 3) -> None:
        name, r = self.rng.choice(DEPLOYMENTS), self.rng.random()
        if r < 0.05:
            await self.vc.delete("apps/v1", "deployments", name, ns)
            self.stats["v-deploy-delete"] += 1
            return
        if r < 0.55:
            patch: dict[str, Any] = {"spec": {"replicas": self.rng.randrange(replicas_max + 1)}}
            what = "v-deploy-scale"
        else:
            image = self.rng.choice(IMAGES)
            patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}
            what = "v-deploy-rollout"
        try:
            await self.vc.patch("apps/v1", "deployments", name, patch, ns, patch_type="strategic")
        except ApiError as e:
            if not e.not_found:
                raise
            await self.vc.create("apps/v1", "deployments", self._deployment_body(name, ns), ns)
            what = "v-deploy-create"
        self.stats[what] += 1

    def _deployment_body(self, name: str, ns: str, replicas: int | None = None) -> dict[str, Any]:
        labels = {"app": f"dep-{name}"}
        spec = pod_spec(self.rng, self.rng.choice(IMAGES), claims=False)
        spec["terminationGracePeriodSeconds"] = 0
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "replicas": self.rng.randrange(1, 4) if replicas is None else replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
        }

    async def _secret(self, ns: str) -> None:
        name = self.rng.choice(SECRETS)
        if self.rng.random() < 0.2:
            await self.vc.delete("v1", "secrets", name, ns)
            self.stats["v-secret-delete"] += 1
            return
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "stringData": {"a": f"x{self.rng.randrange(100)}"},
        }
        try:
            cur = await self.vc.get("v1", "secrets", name, ns)
            body["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
            body["data"] = {k: v for k, v in (cur.get("data") or {}).items() if k != "a"}
            await self.vc.update("v1", "secrets", body, ns)
        except ApiError as e:
            if not e.not_found:
                raise
            await self.vc.create("v1", "secrets", body, ns)
        self.stats["v-secret"] += 1

    async def _claim(self, ns: str) -> None:
        name = self.rng.choice(CLAIMS)
        if self.rng.random() < 0.25:
            await self.vc.delete("v1", "persistentvolumeclaims", name, ns)
            self.stats["v-pvc-delete"] += 1
            return
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
        await self.vc.create("v1", "persistentvolumeclaims", body, ns)
        self.stats["v-pvc-create"] += 1

    async def _service_meta(self, ns: str) -> None:
        svc = self.rng.choice(SERVICES)
        what, key, value, patch = meta_patch(self.rng, "v")
        try:
            await self.vc.patch("v1", "services", svc, patch, ns)
        except ApiError as e:
            if e.status != 0:
                raise
            self.svc_uncertain.add((ns, svc))
            raise
        except (OSError, TimeoutError):
            self.svc_uncertain.add((ns, svc))
            raise
        self.note_svc("v", ns, svc, f"{what}:{key}", value)
        self.stats["v-service-meta"] += 1

    async def _namespace(self, ns: str) -> None:
        r = self.rng.random()
        if r < 0.15:
            await self.vc.delete("v1", "namespaces", ns)
            self.stats["v-ns-delete"] += 1
        elif r < 0.35:
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            await self.vc.create("v1", "namespaces", body)
            self.stats["v-ns-create"] += 1
        elif r < 0.55:
            self.counter += 1
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"q{self.counter}", "namespace": ns, "labels": {"app": "soak"}},
                "spec": pod_spec(self.rng),
            }
            await self.vc.create("v1", "pods", body, ns)
            self.stats["v-ns-pod"] += 1
        elif r < 0.7:
            await self._deployment(ns, replicas_max=2)
        elif r < 0.8:
            await self._secret(ns)
        elif r < 0.9:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": self.rng.choice(CONFIGMAPS), "namespace": ns},
                "data": {"a": "e"},
            }
            await self.vc.create("v1", "configmaps", body, ns)
            self.stats["v-ns-configmap"] += 1
        else:
            spec = {"selector": {"app": "soak"}, "ports": [{"port": 80}]}
            body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": SERVICES[0]}, "spec": spec}
            await self.vc.create("v1", "services", body, ns)
            self.stats["v-ns-service"] += 1

    # ------------------------------------------------------------------ host side
    async def host_op(self) -> None:
        r = self.rng.random()
        ns = self.rng.choice(NAMESPACES)
        if r < 0.3:
            op = self._host_service_meta(ns)
        elif r < 0.38:
            op = self._host_delete("services", self.rng.choice(SERVICES), ns)
        elif r < 0.46:
            op = self._host_delete("configmaps", self.rng.choice(CONFIGMAPS), ns)
        elif r < 0.54:
            op = self._host_delete("secrets", self.rng.choice(SECRETS), ns)
        elif r < 0.58:
            op = self._host_delete("persistentvolumeclaims", self.rng.choice(CLAIMS), ns)
        elif r < 0.7:
            op = self._host_secret_data(ns)
        else:
            op = self._host_deployment_pod(ns)
        await self._guard("h", op)

    async def _host_service_meta(self, ns: str) -> None:
        svc = self.rng.choice(SERVICES)
        what, key, value, patch = meta_patch(self.rng, "h")
        await self.hc.patch("v1", "services", host_name(svc, ns), patch, HOST_NS)
        self.note_svc("h", ns, svc, f"{what}:{key}", value)
        self.stats["h-service-meta"] += 1

    async def _host_delete(self, plural: str, name: str, ns: str, *, pod_uid: bool = False) -> None:
        """Delete the host copy of virtual `ns/name` (with the host UID as precondition) and
        remember which virtual object it belonged to."""
        hname = host_name(name, ns)
        obj = await self.hc.get("v1", plural, hname, HOST_NS)
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            return
        vuid = (md.get("annotations") or {}).get(POD_UID if pod_uid else OBJECT_UID)
        await self.hc.delete("v1", plural, hname, HOST_NS, preconditions={"uid": md["uid"]})
        if vuid and self.down and self.in_window.get((plural, ns, name)) == vuid:
            self.window_deleted.add((plural, ns, name, vuid))
        elif vuid:
            self.host_deleted.setdefault((plural, ns, name), set()).add(vuid)
            self.deleted_at[(plural, ns, name, vuid)] = time.monotonic()
        if plural == "services":
            self.svc_gone(ns, name)
        self.stats[f"h-delete-{plural}"] += 1

    async def _host_secret_data(self, ns: str) -> None:
        patch = {"data": {"h": "aA=="}} if self.rng.random() < 0.5 else {"data": {"h": None}}
        await self.hc.patch("v1", "secrets", host_name(self.rng.choice(SECRETS), ns), patch, HOST_NS)
        self.stats["h-secret"] += 1

    async def _host_deployment_pod(self, ns: str) -> None:
        """Delete the host pod of a random Deployment pod (its ReplicaSet must replace it), or
        label it on the host."""
        pods = (await self.vc.list("v1", "pods", ns, label_selector="pod-template-hash"))["items"]
        if not pods:
            return
        name = self.rng.choice(pods)["metadata"]["name"]
        if self.rng.random() < 0.6:
            await self._host_delete("pods", name, ns, pod_uid=True)
        else:
            value = None if self.rng.random() < 0.3 else f"h{self.rng.randrange(1000)}"
            patch = {"metadata": {"labels": {self.rng.choice(KEYS): value}}}
            await self.hc.patch("v1", "pods", host_name(name, ns), patch, HOST_NS)
            self.stats["h-deploy-pod-label"] += 1

    # ------------------------------------------------------------------ the checks
    async def problems(self) -> list[str]:
        out: list[str] = []
        virtual: dict[str, dict[tuple[str, str], dict[str, Any]]] = {p: {} for p in HOST_KINDS}
        terminating: list[str] = []
        for ns in ALL_NAMESPACES:
            try:
                nso = await self.vc.get("v1", "namespaces", ns)
            except ApiError as e:
                if not e.not_found:
                    raise
                continue
            if nso["metadata"].get("deletionTimestamp"):
                terminating.append(ns)
            for plural in HOST_KINDS:
                for o in (await self.vc.list("v1", plural, ns))["items"]:
                    virtual[plural][(ns, o["metadata"]["name"])] = o
        out += [f"namespace {ns} is still terminating" for ns in terminating]
        host: dict[str, dict[str, dict[str, Any]]] = {}
        for plural in HOST_KINDS:
            host[plural] = {
                o["metadata"]["name"]: o
                for o in (await self.hc.list("v1", plural, HOST_NS, label_selector=MANAGED))["items"]
            }
        out += self._orphans(virtual, host)
        out += self._uid_problems(virtual, host)
        out += self._host_deleted_problems(virtual)
        out += await self._deployment_problems(virtual["pods"])
        out += self._used_problems("secrets", virtual, host)
        out += self._claim_problems(virtual, host)
        out += self._pod_spec_problems(virtual, host, await self._node_ips())
        out += self._service_meta_problems(virtual, host)
        out += await self.fake_volume_problems()
        return out

    @staticmethod
    def _wanted(plural: str, vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]]) -> set[str]:
        """The host names the virtual objects of `plural` should have on the host."""
        if plural in ("configmaps", "secrets"):
            used = {
                (ns, ref)
                for (ns, _), pod in vobjs["pods"].items()
                if not pod["metadata"].get("deletionTimestamp")
                for ref in pod_refs(pod)[plural]
            }
            keys = {k for k in vobjs[plural] if k in used}
        else:
            keys = set(vobjs[plural])
        return {host_name(n, ns) for (ns, n) in keys}

    def _orphans(
        self, vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]], hobjs: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Host copies of the soak's namespaces without a virtual object that should have one."""
        out = []
        for plural in HOST_KINDS:
            wanted = self._wanted(plural, vobjs)
            for hname, h in hobjs[plural].items():
                md = h["metadata"]
                if (
                    md.get("deletionTimestamp")
                    or (md.get("labels") or {}).get(NS_LABEL) not in ALL_NAMESPACES
                ):
                    continue
                if hname not in wanted:
                    out.append(f"orphan host {plural} {hname} (virtual {md['labels'][NS_LABEL]})")
        return out

    @staticmethod
    def _uid_problems(
        vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]], hobjs: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Every host copy belongs to the virtual object of today (not to a deleted namesake)."""
        out = []
        for plural in HOST_KINDS:
            for (ns, n), v in vobjs[plural].items():
                h = hobjs[plural].get(host_name(n, ns))
                if (
                    h is None
                    or v["metadata"].get("deletionTimestamp")
                    or h["metadata"].get("deletionTimestamp")
                ):
                    continue
                ann = h["metadata"].get("annotations") or {}
                huid = ann.get(POD_UID if plural == "pods" else OBJECT_UID)
                if plural != "services" and huid != v["metadata"]["uid"]:
                    out.append(
                        f"host {plural} of {ns}/{n} belongs to uid {huid}, virtual is {v['metadata']['uid']}"
                    )
        return out

    def _host_deleted_problems(self, vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]]) -> list[str]:
        out = []
        for (plural, ns, n), uids in self.host_deleted.items():
            v = vobjs[plural].get((ns, n))
            if v is not None and v["metadata"]["uid"] in uids and not v["metadata"].get("deletionTimestamp"):
                out.append(f"{plural} {ns}/{n} stayed in the virtual cluster after its host copy was deleted")
        return out

    async def _deployment_problems(self, vpods: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
        """Every Deployment rolled out: spec.replicas Running pods of its newest ReplicaSet, each
        with its host pod (checked by the pod checks), none of older ones; status to match."""
        out = []
        for ns in ALL_NAMESPACES:
            rss = (await self.vc.list("apps/v1", "replicasets", ns))["items"]
            pods = [
                p for (pns, _), p in vpods.items() if pns == ns and not p["metadata"].get("deletionTimestamp")
            ]
            for d in (await self.vc.list("apps/v1", "deployments", ns))["items"]:
                if not d["metadata"].get("deletionTimestamp"):
                    out += self._one_deployment(d, rss, pods)
        return out

    @staticmethod
    def _one_deployment(
        d: dict[str, Any], rss: list[dict[str, Any]], pods: list[dict[str, Any]]
    ) -> list[str]:
        dm = d["metadata"]
        label = f"deployment {dm['namespace']}/{dm['name']}"
        want, rev = d["spec"]["replicas"], (dm.get("annotations") or {}).get(REVISION)
        mine = {
            rs["metadata"]["uid"]
            for rs in rss
            if any(o["uid"] == dm["uid"] for o in rs["metadata"].get("ownerReferences") or [])
        }
        current = [
            rs["metadata"]["uid"]
            for rs in rss
            if rs["metadata"]["uid"] in mine
            and (rs["metadata"].get("annotations") or {}).get(REVISION) == rev
        ]
        if len(current) != 1:
            return [f"{label}: {len(current)} ReplicaSets of revision {rev}"]
        out = []

        def owner(p: dict[str, Any]) -> str:
            return next(
                (o["uid"] for o in p["metadata"].get("ownerReferences") or [] if o["uid"] in mine), ""
            )

        stale = [p["metadata"]["name"] for p in pods if owner(p) not in ("", current[0])]
        if stale:
            out.append(f"{label}: pods of older ReplicaSets left: {stale}")
        news = [p for p in pods if owner(p) == current[0]]
        running = [p for p in news if p["status"].get("phase") == "Running"]
        if len(news) != want or len(running) != want:
            out.append(f"{label}: wants {want} pods, has {len(news)} ({len(running)} Running)")
        image = d["spec"]["template"]["spec"]["containers"][0]["image"]
        wrong = [p["metadata"]["name"] for p in news if p["spec"]["containers"][0]["image"] != image]
        if wrong:
            out.append(f"{label}: pods {wrong} do not run {image}")
        st = d.get("status") or {}
        counts = {
            k: st.get(k, 0) for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        }
        if set(counts.values()) != {want} or st.get("observedGeneration") != dm.get("generation"):
            gen = f"generation {dm.get('generation')} observed {st.get('observedGeneration')}"
            out.append(f"{label}: status {counts}, {gen}, wants {want}")
        return out

    def _used_problems(
        self,
        plural: str,
        vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]],
        hobjs: dict[str, dict[str, Any]],
    ) -> list[str]:
        """Used objects of `plural` are on the host with the same data (unused ones are orphans)."""
        out = []
        wanted = self._wanted(plural, vobjs)
        for (ns, n), v in vobjs[plural].items():
            hname = host_name(n, ns)
            if hname not in wanted or v["metadata"].get("deletionTimestamp"):
                continue
            h = hobjs[plural].get(hname)
            if h is None:
                out.append(f"used {plural} {ns}/{n} not on the host")
            elif (h.get("data") or {}) != (v.get("data") or {}):
                out.append(f"{plural} {ns}/{n} data: virtual {v.get('data')} host {h.get('data')}")
        return out

    def _claim_problems(
        self, vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]], hobjs: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Each claim has its host claim; a bound one names the host volume, which the virtual
        cluster has as a fake PersistentVolume (checked in `fake_volume_problems`)."""
        out = []
        for (ns, n), v in vobjs["persistentvolumeclaims"].items():
            if v["metadata"].get("deletionTimestamp"):
                continue
            h = hobjs["persistentvolumeclaims"].get(host_name(n, ns))
            if h is None:
                out.append(f"claim {ns}/{n} has no host claim")
                continue
            vp, hp = v["status"].get("phase"), h["status"].get("phase")
            vvol, hvol = v["spec"].get("volumeName"), h["spec"].get("volumeName")
            if vp != hp or vvol != hvol:
                out.append(f"claim {ns}/{n}: virtual {vp} {vvol!r}, host {hp} {hvol!r}")
        return out

    async def fake_volume_problems(self) -> list[str]:
        """A fake volume exists exactly for each volume a virtual claim names."""
        named = set()
        for ns in ALL_NAMESPACES:
            for c in (await self.vc.list("v1", "persistentvolumeclaims", ns))["items"]:
                if c["spec"].get("volumeName") and not c["metadata"].get("deletionTimestamp"):
                    named.add(c["spec"]["volumeName"])
        pvs = {p["metadata"]["name"] for p in (await self.vc.list("v1", "persistentvolumes"))["items"]}
        return [f"no fake volume {v}" for v in sorted(named - pvs)] + [
            f"fake volume {v} without a claim" for v in sorted(pvs - named)
        ]

    async def _node_ips(self) -> dict[str, str]:
        """Each virtual node's InternalIP (its kubelet Service's ClusterIP with `proxyKubelets.byIP`)."""
        out = {}
        for node in (await self.vc.list("v1", "nodes"))["items"]:
            for a in (node.get("status") or {}).get("addresses") or []:
                if a.get("type") == "InternalIP":
                    out[node["metadata"]["name"]] = a.get("address", "")
        return out

    @staticmethod
    def _pod_spec_problems(
        vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]],
        hobjs: dict[str, dict[str, Any]],
        node_ips: dict[str, str],
    ) -> list[str]:
        """Host pods run the virtual images on the node the virtual pod is bound to, same IP; a
        virtual pod's hostIP is its virtual node's InternalIP (vCluster's rewriteFakeHostIPAddresses),
        not the host node's address."""
        out = []
        for (ns, n), v in vobjs["pods"].items():
            h = hobjs["pods"].get(host_name(n, ns))
            if h is None or v["metadata"].get("deletionTimestamp"):
                continue
            vimg = [c["image"] for c in v["spec"]["containers"]]
            himg = [c["image"] for c in h["spec"]["containers"]]
            if vimg != himg:
                out.append(f"pod {ns}/{n} images: virtual {vimg} host {himg}")
            if v["spec"].get("nodeName") != h["spec"].get("nodeName"):
                out.append(
                    f"pod {ns}/{n} node: virtual {v['spec'].get('nodeName')} host {h['spec'].get('nodeName')}"
                )
            if v["status"].get("podIP") != h["status"].get("podIP"):
                out.append(
                    f"pod {ns}/{n} IP: virtual {v['status'].get('podIP')} host {h['status'].get('podIP')}"
                )
            node = v["spec"].get("nodeName") or ""
            want = node_ips.get(node) if h["status"].get("hostIP") else None
            if v["status"].get("hostIP") != want or v["status"].get("hostIPs", []) != (
                [{"ip": want}] if want else []
            ):
                out.append(
                    f"pod {ns}/{n} hostIP: virtual {v['status'].get('hostIP')} "
                    f"{v['status'].get('hostIPs')}, node {node} InternalIP {want}"
                )
        return out

    def _service_meta_problems(
        self, vobjs: dict[str, dict[tuple[str, str], dict[str, Any]]], hobjs: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Service labels/annotations agree; a key only one side wrote holds that side's value."""
        out = []
        for (ns, n), v in vobjs["services"].items():
            h = hobjs["services"].get(host_name(n, ns))
            if h is None or ns not in NAMESPACES:
                continue
            vm, hm = meta_view(v), meta_view(h)
            if vm != hm:
                out.append(f"service {ns}/{n} metadata differs: virtual {vm} host {hm}")
            if (ns, n) in self.svc_uncertain:
                continue
            for (wns, wn, key), (sides, value) in self.svc_writes.items():
                if (wns, wn) == (ns, n) and len(sides) == 1 and vm.get(key) != value:
                    out.append(
                        f"service {ns}/{n} {key}: only {sides} wrote {value!r}, virtual has {vm.get(key)!r}"
                    )
        return out
