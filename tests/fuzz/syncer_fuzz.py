"""Schema-driven fuzzing of the syncer: random valid objects of every kind it copies to the host.

Not part of the test suite (randomised, minutes long): run it by hand after changing the syncer,

    .venv/bin/python -m tests.fuzz.syncer_fuzz --seed 1 --count 2000   # about 5 minutes

It starts a `vcluster host` + `vcluster start` pair (tests/integration/syncer_harness.py) with every
to-host kind switched on, then for `--count` objects (several at a time): generates one from the
1.32 OpenAPI definitions (`schemagen.py`: unusual names of the maximum lengths, many and long labels
and annotations including forged `vcluster.loft.sh/*` keys, unicode values, every volume source,
projections, downward-API paths, env references to missing objects, affinity with every operator,
topology spread, ...), creates it in the virtual cluster (a 422 removes the fields the API server
names and tries again: only objects the API server accepts are used), and checks:

- the host copy appears when it should (a `controlled-by` label keeps it away, spec §2.1) under the
  spec's name (§1.3, §1.5), with `managed-by`/`namespace` labels and `object-*` annotations that a
  tenant cannot forge, the virtual labels copied with reserved keys hashed (§2.2), and the
  references it makes rewritten to host names (§3.2, §5);
- now and then a host object of that name that this virtual cluster does not own exists first: it
  must be left exactly as it was, and not deleted when the virtual object goes (§1.9);
- a label/annotation update reaches the host, a delete removes the host copy;
- the syncer logged no traceback and raised no SyncError for it.

Every finding is printed with the seed and the object's index; `--only N` replays one object.
Exit code 1 when anything was found.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import random
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.schemagen import FORGED_ANNOTATIONS, Gen
from tests.integration.syncer_harness import (
    HOST_NS,
    VC_NAME,
    Pair,
    hashed_label_key,
    host_name,
    safe_concat_name,
)
from tests.integration.syncer_harness import start_pair as start_pair_
from vcluster.client import Client
from vcluster.client.errors import ApiError

MANAGED_BY = "vcluster.loft.sh/managed-by"
NS_LABEL = "vcluster.loft.sh/namespace"
CONTROLLED_BY = "vcluster.loft.sh/controlled-by"
NS_LABEL_PREFIX = "vcluster.loft.sh/ns-label"
SERVICE_NAME = "kubernetes.io/service-name"
SA_TOKEN = "kubernetes.io/service-account-token"
RESERVED = ("release", NS_LABEL, MANAGED_BY, CONTROLLED_BY)
CONFIG = """
sync:
  toHost:
    configMaps: {all: true}
    secrets: {all: true}
    ingresses: {enabled: true}
    networkPolicies: {enabled: true}
    podDisruptionBudgets: {enabled: true}
    serviceAccounts: {enabled: true}
    priorityClasses: {enabled: true}
    storageClasses: {enabled: true}
"""
NAMESPACES = ("default", "fz-a", "n" * 40 + "-ns")
COLLIDE_Q = "fzq"
COLLIDE_NS = f"{COLLIDE_Q}-x-default"  # `<p>` in it and `<p>-x-fzq` in default share a host name
COLLIDING = ("configmaps", "secrets", "services", "serviceaccounts", "persistentvolumeclaims", "ingresses")


@dataclass(frozen=True)
class KindInfo:
    """How to make and check one kind."""

    api_version: str
    plural: str
    kind: str
    spec_def: str | None  # definition of the `spec` field (None: top-level fields via `fields`)
    namespaced: bool = True
    name: str = "subdomain"  # subdomain | label1123 | label1035
    fields: tuple[str, ...] = ()  # top-level fields generated from the kind's own definition
    weight: int = 1


_CORE, _NET = "io.k8s.api.core.v1.", "io.k8s.api.networking.v1."
KINDS: dict[str, KindInfo] = {
    "pods": KindInfo("v1", "pods", "Pod", _CORE + "PodSpec", weight=5),
    "services": KindInfo("v1", "services", "Service", _CORE + "ServiceSpec", name="label1035", weight=3),
    "configmaps": KindInfo(
        "v1", "configmaps", "ConfigMap", None, fields=("data", "binaryData", "immutable"), weight=2
    ),
    "secrets": KindInfo("v1", "secrets", "Secret", None, fields=("data", "stringData", "type"), weight=2),
    "endpoints": KindInfo("v1", "endpoints", "Endpoints", None, name="label1035", fields=("subsets",)),
    "endpointslices": KindInfo(
        "discovery.k8s.io/v1", "endpointslices", "EndpointSlice", None, name="label1035",
        fields=("addressType", "endpoints", "ports"),
    ),
    "persistentvolumeclaims": KindInfo(
        "v1", "persistentvolumeclaims", "PersistentVolumeClaim", _CORE + "PersistentVolumeClaimSpec"
    ),
    "serviceaccounts": KindInfo(
        "v1", "serviceaccounts", "ServiceAccount", None,
        fields=("secrets", "imagePullSecrets", "automountServiceAccountToken"),
    ),
    "ingresses": KindInfo("networking.k8s.io/v1", "ingresses", "Ingress", _NET + "IngressSpec"),
    "networkpolicies": KindInfo(
        "networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", _NET + "NetworkPolicySpec"
    ),
    "poddisruptionbudgets": KindInfo(
        "policy/v1", "poddisruptionbudgets", "PodDisruptionBudget",
        "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
    ),
    "priorityclasses": KindInfo(
        "scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", None, namespaced=False,
        fields=("value", "description", "preemptionPolicy"),
    ),
    "storageclasses": KindInfo(
        "storage.k8s.io/v1", "storageclasses", "StorageClass", None, namespaced=False,
        fields=("provisioner", "parameters", "reclaimPolicy", "mountOptions", "allowVolumeExpansion",
                "volumeBindingMode"),
    ),
}  # fmt: skip
DEFS = {
    "ConfigMap": "io.k8s.api.core.v1.ConfigMap",
    "Secret": "io.k8s.api.core.v1.Secret",
    "Endpoints": "io.k8s.api.core.v1.Endpoints",
    "EndpointSlice": "io.k8s.api.discovery.v1.EndpointSlice",
    "ServiceAccount": "io.k8s.api.core.v1.ServiceAccount",
    "PriorityClass": "io.k8s.api.scheduling.v1.PriorityClass",
    "StorageClass": "io.k8s.api.storage.v1.StorageClass",
}
VOLUME_REFS = (
    ("configMap", "name"), ("secret", "secretName"), ("persistentVolumeClaim", "claimName"),
    ("azureFile", "secretName"),
)  # fmt: skip
FIELD_REFS = {
    "metadata.name": "metadata.annotations['vcluster.loft.sh/name']",
    "metadata.namespace": "metadata.annotations['vcluster.loft.sh/namespace']",
    "metadata.uid": "metadata.annotations['vcluster.loft.sh/uid']",
    "metadata.labels": "metadata.annotations['vcluster.loft.sh/labels']",
    "spec.serviceAccountName": "metadata.annotations['vcluster.loft.sh/service-account-name']",
}
_CAUSE_PATH = re.compile(r"([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[([^\]]*)\]")


def cluster_host_name(name: str) -> str:
    """Spec §1.5: the host name of a cluster-scoped object."""
    return safe_concat_name("vcluster", name, "x", HOST_NS, "x", VC_NAME)


def expected_host_name(info: KindInfo, name: str, ns: str) -> str:
    return host_name(name, ns) if info.namespaced else cluster_host_name(name)


def host_label_key(key: str) -> str:
    """Spec §2.2: reserved keys are hashed on the host, the others copied."""
    return hashed_label_key("vcluster.loft.sh/label", key) if key in RESERVED else key


def parse_path(path: str) -> list[str | int]:
    """`spec.containers[0].env[name]` → ['spec', 'containers', 0, 'env', 'name']."""
    out: list[str | int] = []
    for name, idx, key in _CAUSE_PATH.findall(path):
        out.append(name or (int(idx) if idx else key))
    return out


def remove_path(obj: dict[str, Any], path: list[str | int]) -> bool:
    """Delete the deepest existing prefix of `path` that is inside `spec`/data (never metadata.name)."""
    for end in range(len(path), 0, -1):
        if path[:end] in (["metadata"], ["apiVersion"], ["kind"], ["spec"]):
            return False
        parent: Any = obj
        ok = True
        for p in path[: end - 1]:
            if (isinstance(parent, dict) and isinstance(p, str) and p in parent) or (
                isinstance(parent, list) and isinstance(p, int) and p < len(parent)
            ):
                parent = parent[p]
            else:
                ok = False
                break
        last = path[end - 1]
        if not ok:
            continue
        if isinstance(parent, dict) and isinstance(last, str) and last in parent:
            if path[:end] in (["metadata", "name"], ["metadata", "namespace"], ["spec", "containers"]):
                return False
            del parent[last]
            return True
        if path[: end - 1] == ["spec", "containers"] and len(parent) == 1:
            continue  # a pod keeps its one container: look for a shorter path
        if isinstance(parent, list) and isinstance(last, int) and last < len(parent):
            del parent[last]
            return True
    return False


@dataclass
class Fuzz:
    """The run's state: clients, generator, findings."""

    p: Pair
    vc: Client
    hc: Client
    seed: int
    stats: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    log_offset: int = 0

    def find(self, idx: int, what: str) -> None:
        msg = f"[seed {self.seed} #{idx}] {what}"
        self.findings.append(msg)
        print("FINDING " + msg, flush=True)

    # ------------------------------------------------------------------ generation
    def object_name(self, g: Gen, info: KindInfo, idx: int) -> str:
        if info.name == "subdomain":
            base = g.dns_subdomain(g.rng.choice((63, 253)))
        else:
            base = g.dns_label(63)
            if info.name == "label1035" and not base[0].isalpha():
                base = "s" + base[:62]
            base = base.rstrip("-")
        suffix = f"-{idx}"
        limit = 253 if info.name == "subdomain" else 63
        return (base[: limit - len(suffix)].rstrip(".-") or "o") + suffix

    def build(self, g: Gen, kind: str, idx: int) -> dict[str, Any]:
        info = KINDS[kind]
        ns = g.rng.choice(NAMESPACES)
        meta: dict[str, Any] = {"name": self.object_name(g, info, idx)}
        if info.namespaced:
            meta["namespace"] = ns
        labels, annotations = g.labels(), g.annotations()
        if labels or g.rng.random() < 0.3:
            meta["labels"] = labels
        if annotations or g.rng.random() < 0.3:
            meta["annotations"] = annotations
        obj: dict[str, Any] = {"apiVersion": info.api_version, "kind": info.kind, "metadata": meta}
        if info.spec_def:
            obj["spec"] = g.value(info.spec_def)
        if info.fields:
            d = g.defs[DEFS[info.kind]]
            for f in info.fields:
                if g.rng.random() < 0.7:
                    v = g._node(d["properties"][f], DEFS[info.kind], f, 1)
                    obj[f] = v
        self.fix_kind(g, kind, obj)
        return obj

    def fix_kind(self, g: Gen, kind: str, obj: dict[str, Any]) -> None:
        """What the schema cannot say for a kind (kept small: the repair loop does the rest)."""
        if kind == "pods":
            obj["spec"]["terminationGracePeriodSeconds"] = 0
            obj["spec"].pop("activeDeadlineSeconds", None)
        elif kind == "priorityclasses":
            obj["value"] = g.rng.randint(-1000, 10**9)
            obj.pop("globalDefault", None)
            if g.rng.random() < 0.1:
                obj["globalDefault"] = True  # never on the host (one at a time here: a 422 repairs)
        elif kind == "storageclasses":
            obj.setdefault("provisioner", "example.com/csi")
        elif kind in ("configmaps", "secrets"):
            for f in ("data", "binaryData", "stringData"):
                if f in obj:
                    raw = f != "stringData" and (kind == "secrets" or f == "binaryData")
                    values = [g.text(200) for _ in range(g.rng.randint(0, 4))]
                    obj[f] = {
                        g.config_key(): base64.b64encode(x.encode()).decode() if raw else x for x in values
                    }
            if kind == "secrets":
                r = g.rng.random()
                obj.pop("type", None)
                if r < 0.15:  # a host token controller must not fill its host copy (made Opaque)
                    obj["type"] = SA_TOKEN
                    ann = obj["metadata"].setdefault("annotations", {})
                    ann["kubernetes.io/service-account.name"] = g.rng.choice(("fz-sa", "default"))
                elif r < 0.3:
                    obj["type"] = "Opaque"
        elif kind == "services":
            spec = obj["spec"]
            if spec.get("type") != "ExternalName" and not spec.get("ports"):
                spec["ports"] = [{"port": g.rng.randint(1, 65535), "name": g.port_name()}]
        elif kind == "persistentvolumeclaims":
            spec = obj["spec"]
            spec.setdefault("accessModes", ["ReadWriteOnce"])
            spec.setdefault("resources", {}).setdefault("requests", {})["storage"] = g.rng.choice(
                ("1Gi", "5Mi")
            )
        elif kind == "ingresses":
            spec = obj["spec"]
            if not spec.get("rules") and not spec.get("defaultBackend"):
                spec["defaultBackend"] = {"service": {"name": g.ref_name("services"), "port": {"number": 80}}}
        elif kind == "poddisruptionbudgets":
            spec = obj["spec"]
            if "minAvailable" in spec and "maxUnavailable" in spec:
                del spec["maxUnavailable"]

    async def create_valid(self, obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
        """Create `obj`, removing the fields a 422 names until the API server accepts it."""
        info = KINDS[kind]
        ns = obj["metadata"].get("namespace")
        for _ in range(25):
            try:
                return await self.vc.create(info.api_version, info.plural, obj, ns)
            except ApiError as e:
                if e.status == 500:
                    raise
                causes = (
                    ((e.body or {}).get("details") or {}).get("causes") or []
                    if isinstance(e.body, dict)
                    else []
                )
                fields = [c.get("field") for c in causes if c.get("field")]
                if e.status != 422 or not fields:
                    self.rejected[f"{kind} {e.status} {e.reason}: {e.message[:120]}"] += 1
                    return None
                if not any(remove_path(obj, parse_path(f)) for f in fields):
                    self.rejected[f"{kind} 422 unrepairable: {e.message[:160]}"] += 1
                    return None
        self.rejected[f"{kind}: too many repairs"] += 1
        return None

    # ------------------------------------------------------------------ checks
    async def host_get(self, info: KindInfo, name: str) -> dict[str, Any] | None:
        try:
            return await self.hc.get(
                info.api_version, info.plural, name, HOST_NS if info.namespaced else None
            )
        except ApiError as e:
            if e.not_found:
                return None
            raise

    async def wait_host(
        self, info: KindInfo, name: str, present: bool, timeout: float = 10.0
    ) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            h = await self.host_get(info, name)
            if (h is not None) == present or time.monotonic() > deadline:
                return h
            await asyncio.sleep(0.2)

    def check_meta(
        self,
        idx: int,
        info: KindInfo,
        v: dict[str, Any],
        h: dict[str, Any],
        hname: str,
        phase: str = "create",
    ) -> None:
        vm, hm = v["metadata"], h["metadata"]
        hl, ha = hm.get("labels") or {}, hm.get("annotations") or {}
        ns = vm.get("namespace", "")
        what = f"{info.kind} {ns}/{vm['name']} ({phase})"
        marker = VC_NAME if info.namespaced else safe_concat_name(HOST_NS, "x", VC_NAME)
        if hl.get(MANAGED_BY) != marker:
            self.find(idx, f"{what}: host managed-by label {hl.get(MANAGED_BY)!r}")
        if info.namespaced and hl.get(NS_LABEL) != ns:
            self.find(idx, f"{what}: host namespace label {hl.get(NS_LABEL)!r}")
        hashed_reserved = {host_label_key(k) for k in RESERVED}
        for k, val in (vm.get("labels") or {}).items():
            if info.kind == "Pod" and k.startswith(NS_LABEL_PREFIX):
                continue  # recomputed from the namespace's labels on every sync (§2.2)
            if k in hashed_reserved:
                if k in hl and hl[k] == val and k != host_label_key(k):
                    self.find(idx, f"{what}: forged hashed label {k} copied to host")
                continue
            hk = host_label_key(k)
            if info.kind == "EndpointSlice" and k == SERVICE_NAME:
                val = host_name(val, ns)  # the host Service's name (§5.2)
            if hl.get(hk) != val:
                self.find(idx, f"{what}: label {k}={val!r} on host as {hk}={hl.get(hk)!r}")
        expect = {
            "vcluster.loft.sh/object-name": vm["name"],
            "vcluster.loft.sh/object-uid": vm["uid"],
            "vcluster.loft.sh/object-host-name": hname,
        }
        if info.namespaced:
            expect["vcluster.loft.sh/object-namespace"] = ns
            expect["vcluster.loft.sh/object-host-namespace"] = HOST_NS
        if info.kind == "Pod" and phase == "create":
            # vCluster keeps a virtual pod's own values of these (a nested virtual cluster's pods);
            # an update leaves them as the create wrote them (vCluster's Diff excludes them)
            va = vm.get("annotations") or {}
            computed = {"vcluster.loft.sh/name": vm["name"], "vcluster.loft.sh/uid": vm["uid"],
                        "vcluster.loft.sh/namespace": ns}  # fmt: skip
            expect |= {k: va.get(k) or val for k, val in computed.items()}
        for k, want in expect.items():
            if ha.get(k) != want:
                self.find(idx, f"{what}: host annotation {k}={str(ha.get(k))[:80]!r}, want {want!r}")
        for k, val in (vm.get("annotations") or {}).items():
            if k in FORGED_ANNOTATIONS or k.startswith("vcluster.loft.sh/"):
                continue
            if info.kind == "Pod" and k.startswith(("cluster-autoscaler.kubernetes.io/",)):
                continue
            if ha.get(k) != val:
                self.find(idx, f"{what}: annotation {k} not copied ({str(ha.get(k))[:40]!r} vs {val[:40]!r})")

    def check_refs(self, idx: int, kind: str, v: dict[str, Any], h: dict[str, Any]) -> None:
        """References to namespaced objects point at their host names."""
        ns = v["metadata"].get("namespace", "")
        what = f"{kind} {ns}/{v['metadata']['name']}"

        def want(name: str) -> str:
            if name == "kube-root-ca.crt":  # every namespace's one maps to one host ConfigMap (§1.6)
                return safe_concat_name("vcluster", name, "x", VC_NAME)
            return host_name(name, ns)

        if kind == "priorityclasses" and h.get("globalDefault"):
            self.find(idx, f"{what}: host copy is the host's global default")
        if kind == "secrets" and h.get("type") == SA_TOKEN:
            self.find(idx, f"{what}: host copy keeps the service-account-token type")
        if isinstance(v.get("spec"), dict) and not isinstance(h.get("spec"), dict):
            self.find(idx, f"{what}: spec {json.dumps(v['spec'])[:80]} on host as {h.get('spec')!r}")
            return
        if kind == "pods":
            self.check_pod_refs(idx, what, v, h, want)
        elif kind == "ingresses":
            for tls in v["spec"].get("tls") or []:
                if tls.get("secretName") and not any(
                    t.get("secretName") == want(tls["secretName"]) for t in h["spec"].get("tls") or []
                ):
                    self.find(
                        idx, f"{what}: tls secret {tls['secretName']} not rewritten: {h['spec'].get('tls')}"
                    )

    def check_pod_refs(
        self, idx: int, what: str, v: dict[str, Any], h: dict[str, Any], want: Callable[[str], str]
    ) -> None:
        """Spec §3.2: volume, projection, env, envFrom, pull-secret and service-account references
        name host objects; downward-API field paths read the host pod's annotations and labels."""
        vs, hs = v["spec"], h["spec"]
        hvols = {x["name"]: x for x in hs.get("volumes") or []}
        for vol in vs.get("volumes") or []:
            hv = hvols.get(vol["name"])
            if hv is None:
                self.find(idx, f"{what}: volume {vol['name']} missing on host")
                continue
            for src, key in VOLUME_REFS:
                if vol.get(src, {}).get(key) and hv.get(src, {}).get(key) != want(vol[src][key]):
                    self.find(idx, f"{what}: volume {vol['name']} {src} {hv.get(src)} not rewritten")
            vsrc = (vol.get("projected") or {}).get("sources") or []
            hsrc = (hv.get("projected") or {}).get("sources") or []
            for i, src in enumerate(vsrc):
                for k in ("configMap", "secret"):
                    if src.get(k, {}).get("name") and (hsrc[i] if i < len(hsrc) else {}).get(k, {}).get(
                        "name"
                    ) != want(src[k]["name"]):
                        self.find(idx, f"{what}: projected {k} {src[k]['name']} not rewritten")
            for item, hitem in zip(
                (vol.get("downwardAPI") or {}).get("items") or [],
                (hv.get("downwardAPI") or {}).get("items") or [],
                strict=False,
            ):
                self.check_field_ref(idx, what, item.get("fieldRef"), hitem.get("fieldRef"))
        hcs = {c["name"]: c for c in hs.get("containers", []) + hs.get("initContainers", [])}
        for c in vs.get("containers", []) + vs.get("initContainers", []):
            hcn = hcs.get(c["name"])
            if hcn is None:
                self.find(idx, f"{what}: container {c['name']} missing on host")
                continue
            henv = {e["name"]: e for e in hcn.get("env") or []}
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                hf = (henv.get(e["name"]) or {}).get("valueFrom") or {}
                for src in ("configMapKeyRef", "secretKeyRef"):
                    if src in vf and (hf.get(src) or {}).get("name") != want(vf[src]["name"]):
                        self.find(idx, f"{what}: env {e['name']} {src} {hf.get(src)} not rewritten")
                if "fieldRef" in vf:
                    self.check_field_ref(idx, what, vf["fieldRef"], hf.get("fieldRef"))
            for ve, he in zip(c.get("envFrom") or [], hcn.get("envFrom") or [], strict=False):
                for src in ("configMapRef", "secretRef"):
                    if src in ve and (he.get(src) or {}).get("name") != want(ve[src]["name"]):
                        self.find(idx, f"{what}: envFrom {src} {he.get(src)} not rewritten")
        for vsec, hsec in zip(
            vs.get("imagePullSecrets") or [], hs.get("imagePullSecrets") or [], strict=False
        ):
            if vsec.get("name") and hsec.get("name") != want(vsec["name"]):
                self.find(idx, f"{what}: imagePullSecret {vsec} on host as {hsec}")
        sa = vs.get("serviceAccountName") or "default"
        if hs.get("serviceAccountName") != want(sa):
            self.find(idx, f"{what}: serviceAccountName {sa} on host as {hs.get('serviceAccountName')}")

    def check_field_ref(self, idx: int, what: str, vref: Any, href: Any) -> None:
        if not isinstance(vref, dict):
            return
        path = vref.get("fieldPath", "")
        m = re.fullmatch(r"metadata\.labels\['(.+)'\]", path)
        expect = FIELD_REFS.get(path) or (f"metadata.labels['{host_label_key(m.group(1))}']" if m else path)
        if (href or {}).get("fieldPath") != expect:
            self.find(
                idx, f"{what}: fieldRef {path} on host as {(href or {}).get('fieldPath')}, want {expect}"
            )

    async def sync_errors(self, kind: str, obj: dict[str, Any]) -> list[str]:
        m = obj["metadata"]
        info = KINDS[kind]
        ns = m.get("namespace") or "default"
        try:
            evs = await self.vc.list(
                "v1", "events", ns, field_selector=f"involvedObject.name={m['name']},reason=SyncError"
            )
        except ApiError:
            return []
        return [
            e.get("message", "")[:300]
            for e in evs["items"]
            if (e.get("involvedObject") or {}).get("kind") == info.kind
        ]

    def new_log(self) -> str:
        path = self.p.vc.log_path
        with path.open("rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        self.log_offset += len(data)
        return data.decode(errors="replace")

    # ------------------------------------------------------------------ one object
    async def one(self, idx: int) -> None:
        rng = random.Random(f"{self.seed}-{idx}")
        g = Gen(rng, FIXTURES)
        kinds = list(KINDS)
        kind = rng.choices(kinds, weights=[KINDS[k].weight for k in kinds])[0]
        info = KINDS[kind]
        obj = self.build(g, kind, idx)
        if kind in COLLIDING and rng.random() < 0.08:
            await self.collision(idx, g, kind, obj)
            return
        ns = obj["metadata"].get("namespace", "")
        hname = expected_host_name(info, obj["metadata"]["name"], ns)
        foreign: dict[str, Any] | None = None
        if kind in ("configmaps", "secrets", "services", "serviceaccounts") and rng.random() < 0.15:
            foreign = await self.make_foreign(info, hname, rng)
        if kind in ("endpoints", "endpointslices"):
            await self.selectorless_service(obj, rng)
        v = await self.create_valid(copy.deepcopy(obj), kind)
        if v is None:
            self.stats[f"{kind}-rejected"] += 1
            if foreign is not None:
                await self.hc.delete(info.api_version, info.plural, hname, HOST_NS)
            return
        self.stats[f"{kind}-created"] += 1
        what = f"{kind} {ns}/{v['metadata']['name']}"
        controlled = bool((v["metadata"].get("labels") or {}).get(CONTROLLED_BY))
        if foreign is not None or controlled:
            await asyncio.sleep(2.0)
            h = await self.host_get(info, hname)
            if foreign is not None:
                self.check_foreign(idx, what, foreign, h)
            elif h is not None:
                self.find(idx, f"{what}: has controlled-by label but was synced to the host")
        else:
            h = await self.wait_host(info, hname, True)
            if h is None:
                errs = await self.sync_errors(kind, v)
                self.find(idx, f"{what}: no host copy {hname} after 10s; SyncError events: {errs[:2]}")
            else:
                self.check_meta(idx, info, v, h, hname)
                self.check_refs(idx, kind, v, h)
                await self.update(idx, g, info, v, hname)
                await self.update_spec(idx, g, kind, hname, v["metadata"])
        await self.delete(idx, info, v, hname, foreign)
        errs = await self.sync_errors(kind, v)
        if errs and foreign is None:
            self.find(idx, f"{what}: SyncError events: {errs[:3]}")

    async def collision(self, idx: int, g: Gen, kind: str, obj: dict[str, Any]) -> None:
        """Two virtual objects with one host name (`p-x-q` in `default`, `p` in `q-x-default`, §1.3):
        the one synced first keeps the host object; the other must neither take it over nor delete it."""
        info = KINDS[kind]
        p = "c" + str(idx)
        first, second = copy.deepcopy(obj), copy.deepcopy(obj)
        first["metadata"].update(name=f"{p}-x-{COLLIDE_Q}", namespace="default")
        second["metadata"].update(name=p, namespace=COLLIDE_NS)
        for o in (first, second):
            o["metadata"].setdefault("annotations", {})["vcluster.loft.sh/force-sync"] = "true"
            o["metadata"].get("labels", {}).pop(CONTROLLED_BY, None)
        hname = host_name(first["metadata"]["name"], "default")
        assert hname == host_name(p, COLLIDE_NS)
        v1 = await self.create_valid(first, kind)
        if v1 is None:
            return
        self.stats[f"{kind}-collisions"] += 1
        h1 = await self.wait_host(info, hname, True)
        if h1 is None:
            self.find(idx, f"collision {kind}: first object {hname} not synced")
            return
        second.pop("spec", None) if kind == "services" else None
        if kind == "services":
            second["spec"] = {"ports": [{"port": 81}]}
        v2 = await self.create_valid(second, kind)
        await asyncio.sleep(1.5)
        h = await self.host_get(info, hname)
        owner = ((h or {}).get("metadata", {}).get("annotations") or {}).get("vcluster.loft.sh/object-uid")
        if h is None or owner != v1["metadata"]["uid"]:
            self.find(
                idx,
                f"collision {kind}: host object {hname} taken over or lost after the second create ({owner})",
            )
        if v2 is not None:
            await self.vc.delete(info.api_version, info.plural, p, COLLIDE_NS, grace_period_seconds=0)
            await asyncio.sleep(1.5)
            h = await self.host_get(info, hname)
            if h is None or h["metadata"]["uid"] != h1["metadata"]["uid"]:
                self.find(idx, f"collision {kind}: deleting the second virtual object deleted {hname}")
        await self.delete(idx, info, v1, hname, None)

    async def selectorless_service(self, obj: dict[str, Any], rng: random.Random) -> None:
        """Endpoints and slices are synced for a Service without a selector only (§5.2)."""
        m = obj["metadata"]
        svc_name = m["name"]
        if obj["kind"] == "EndpointSlice":
            svc_name = "svc-" + m["name"][:50].rstrip(".-")
            m.setdefault("labels", {})["kubernetes.io/service-name"] = svc_name
        ports = [{"port": rng.randint(1, 65535), "name": "p"}]
        body = {"metadata": {"name": svc_name}, "spec": {"ports": ports}}
        try:
            await self.vc.create("v1", "services", body, m["namespace"])
        except ApiError as e:
            if not e.already_exists:
                raise

    async def make_foreign(self, info: KindInfo, hname: str, rng: random.Random) -> dict[str, Any] | None:
        """A host object of the translated name this virtual cluster does not own."""
        labels = rng.choice(({}, {MANAGED_BY: "other-vc"}, {"app": "admin"}))
        obj: dict[str, Any] = {
            "apiVersion": info.api_version, "kind": info.kind,
            "metadata": {"name": hname, "namespace": HOST_NS, "labels": labels,
                         "annotations": {"owner": "admin"}},
        }  # fmt: skip
        if info.kind in ("ConfigMap", "Secret"):
            obj["data"] = {"admin": "YWRtaW4="}
        if info.kind == "Service":
            obj["spec"] = {"ports": [{"port": 80}]}
        try:
            return await self.hc.create(info.api_version, info.plural, obj, HOST_NS)
        except ApiError as e:
            print(f"could not make foreign {info.kind} {hname}: {e.message}")
            return None

    def check_foreign(self, idx: int, what: str, foreign: dict[str, Any], h: dict[str, Any] | None) -> None:
        if h is None:
            self.find(idx, f"{what}: the unowned host object {foreign['metadata']['name']} was deleted")
            return
        if h["metadata"]["uid"] != foreign["metadata"]["uid"]:
            self.find(idx, f"{what}: the unowned host object was replaced")
        for part in ("labels", "annotations"):
            if (h["metadata"].get(part) or {}) != (foreign["metadata"].get(part) or {}):
                self.find(idx, f"{what}: the unowned host object's {part} changed: {h['metadata'].get(part)}")
        if h.get("data") != foreign.get("data"):
            self.find(idx, f"{what}: the unowned host object's data changed")

    async def update(self, idx: int, g: Gen, info: KindInfo, v: dict[str, Any], hname: str) -> None:
        """A label/annotation change (adds, removals, forged keys) must reach the host."""
        m = v["metadata"]
        labels = dict(m.get("labels") or {})
        removable = [k for k in labels if k != SERVICE_NAME]  # a slice without it is not synced (§5.2)
        patch_l: dict[str, Any] = {k: None for k in removable[: g.rng.randint(0, len(removable))]}
        new_l = {g.label_key(): g.label_value() for _ in range(g.rng.randint(0, 3))}
        patch_l |= {k: val for k, val in new_l.items() if k != CONTROLLED_BY}
        patch_a: dict[str, Any] = {"fuzz.example.com/updated": g.text(20), g.label_key(): "x"}
        patch = {"metadata": {"labels": patch_l, "annotations": patch_a}}
        if info.kind == "ConfigMap":
            patch["data"] = {"updated": g.text(50)}
        try:
            nv = await self.vc.patch(info.api_version, info.plural, m["name"], patch, m.get("namespace"))
        except ApiError as e:
            if e.status == 500:
                self.find(idx, f"update of {m['name']}: 500 {e.message}")
            elif e.status != 422 or (info.kind == "ConfigMap" and (v.get("immutable"))):
                self.rejected[f"update {info.kind} {e.status}: {e.message[:100]}"] += 1
            return
        if (nv["metadata"].get("labels") or {}).get(CONTROLLED_BY):
            return
        want = {host_label_key(k): val for k, val in (nv["metadata"].get("labels") or {}).items()}
        hashed_reserved = {host_label_key(k) for k in RESERVED} - set(RESERVED)
        want = {k: val for k, val in want.items() if k not in hashed_reserved or k in RESERVED}
        if info.kind == "Pod":
            want = {k: val for k, val in want.items() if not k.startswith(NS_LABEL_PREFIX)}
        if info.kind == "EndpointSlice" and SERVICE_NAME in want:
            want[SERVICE_NAME] = host_name(want[SERVICE_NAME], m.get("namespace", ""))
        deadline = time.monotonic() + 10
        h: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            h = await self.host_get(info, hname)
            hl = (h or {}).get("metadata", {}).get("labels") or {}
            ha = (h or {}).get("metadata", {}).get("annotations") or {}
            gone = [host_label_key(k) for k in patch_l if patch_l[k] is None]
            gone = [k for k in gone if k in hl and k not in want and k not in hashed_reserved]
            if (
                h is not None
                and all(
                    hl.get(k) == val for k, val in want.items() if not k.startswith("vcluster.loft.sh/label-")
                )
                and not gone
                and ha.get("fuzz.example.com/updated") == patch_a["fuzz.example.com/updated"]
            ):
                self.stats["updates-synced"] += 1
                if h is not None:
                    self.check_meta(idx, info, nv, h, hname, "update")
                return
            await asyncio.sleep(0.2)
        self.find(
            idx, f"{info.kind} {m.get('namespace')}/{m['name']}: label/annotation update {patch} not on host"
        )

    async def update_spec(self, idx: int, g: Gen, kind: str, hname: str, m: dict[str, Any]) -> None:
        """A new random spec (a pod: new images; a ConfigMap/Secret: new data), accepted by the
        virtual API server, must reach the host (a refusal there shows as a SyncError event)."""
        info = KINDS[kind]
        try:
            cur = await self.vc.get(info.api_version, info.plural, m["name"], m.get("namespace"))
        except ApiError:
            return
        new = copy.deepcopy(cur)
        if kind == "pods":
            for c in new["spec"]["containers"]:
                c["image"] = g.rng.choice(("nginx:1.27", "busybox:1.37", "registry.example.com/x/y:2"))
        elif info.spec_def:
            new["spec"] = g.value(info.spec_def)
            self.fix_kind(g, kind, new)
        elif kind in ("configmaps", "secrets"):
            new.pop("stringData", None)
            new["data"] = {g.config_key(): base64.b64encode(g.text(30).encode()).decode() for _ in range(2)}
            if kind == "configmaps":
                new["data"] = {k: base64.b64decode(x).decode() for k, x in new["data"].items()}
        else:
            return
        try:
            after = await self.vc.update(info.api_version, info.plural, new, m.get("namespace"))
        except ApiError as e:
            if e.status >= 500:
                self.find(idx, f"spec update of {kind} {m['name']}: {e.status} {e.message}")
            return
        self.stats["spec-updates"] += 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            h = await self.host_get(info, hname)
            if h is None or self.spec_synced(kind, after, h):
                return
            await asyncio.sleep(0.2)
        self.find(idx, f"{kind} {m.get('namespace')}/{m['name']}: spec update not on host")

    @staticmethod
    def spec_synced(kind: str, v: dict[str, Any], h: dict[str, Any]) -> bool:
        """The updated part the syncer copies to the host is there."""
        if isinstance(v.get("spec"), dict) and not isinstance(h.get("spec"), dict):
            return False
        if kind == "pods":
            images = {c["name"]: c["image"] for c in h["spec"].get("containers") or []}
            return all(images.get(c["name"]) == c["image"] for c in v["spec"]["containers"])
        if kind in ("configmaps", "secrets"):
            return (h.get("data") or {}) == (v.get("data") or {})
        if kind == "services":
            return sorted(p["port"] for p in h["spec"].get("ports") or []) == sorted(
                p["port"] for p in v["spec"].get("ports") or []
            )
        if kind == "poddisruptionbudgets":
            hs, vs = h.get("spec") or {}, v.get("spec") or {}
            return all(hs.get(k) == vs.get(k) for k in ("minAvailable", "maxUnavailable"))
        if kind == "networkpolicies":
            return (h.get("spec") or {}).get("policyTypes") == (v.get("spec") or {}).get("policyTypes")
        return True

    async def delete(
        self, idx: int, info: KindInfo, v: dict[str, Any], hname: str, foreign: dict[str, Any] | None
    ) -> None:
        m = v["metadata"]
        try:
            await self.vc.delete(
                info.api_version, info.plural, m["name"], m.get("namespace"), grace_period_seconds=0
            )
        except ApiError as e:
            if not e.not_found:
                self.find(idx, f"delete of virtual {m['name']}: {e.status} {e.message}")
        if foreign is not None:
            await asyncio.sleep(1.5)
            h = await self.host_get(info, hname)
            self.check_foreign(idx, f"{info.kind} {m['name']} (after delete)", foreign, h)
            if h is not None:
                await self.hc.delete(info.api_version, info.plural, hname, HOST_NS)
            return
        h = await self.wait_host(info, hname, False, timeout=15)
        if h is not None and not (h["metadata"].get("deletionTimestamp")):
            self.find(
                idx, f"{info.kind} {m.get('namespace')}/{m['name']}: host copy {hname} left after delete"
            )


# objects every namespace has, which generated references name (or a missing name): fixed, so a
# seed makes the same objects whatever the order the workers create them in
FIXTURES: dict[str, list[str]] = {
    "configmaps": ["fz-cm", "fz.cm.dotted"],
    "secrets": ["fz-secret"],
    "persistentvolumeclaims": ["fz-claim"],
    "services": ["fz-svc"],
    "serviceaccounts": ["fz-sa"],
    "pods": ["fz-pod"],
    "priorityclasses": ["fz-pc"],
}


async def setup(vc: Client) -> None:
    """Namespaces (one with labels a tenant could forge) and the FIXTURES."""
    await vc.create("v1", "namespaces", {"metadata": {"name": COLLIDE_NS}})
    for ns in NAMESPACES[1:]:
        forged = {"team": "fuzz", "release": "x", MANAGED_BY: "forged"}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": forged}}
        await vc.create("v1", "namespaces", body)
    deadline = time.monotonic() + 15
    for ns in NAMESPACES:
        while time.monotonic() < deadline:
            try:
                await vc.get("v1", "serviceaccounts", "default", ns)
                break
            except ApiError:
                await asyncio.sleep(0.2)
        for name in FIXTURES["configmaps"]:
            await vc.create(
                "v1", "configmaps", {"metadata": {"name": name}, "data": {"a": "1", "key_1": "v"}}, ns
            )
        await vc.create("v1", "secrets", {"metadata": {"name": "fz-secret"}, "stringData": {"a": "s"}}, ns)
        await vc.create("v1", "serviceaccounts", {"metadata": {"name": "fz-sa"}}, ns)
        await vc.create(
            "v1", "services", {"metadata": {"name": "fz-svc"}, "spec": {"ports": [{"port": 80}]}}, ns
        )
        claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        await vc.create("v1", "persistentvolumeclaims", {"metadata": {"name": "fz-claim"}, "spec": claim}, ns)
        pod = {"containers": [{"name": "c", "image": "nginx"}], "terminationGracePeriodSeconds": 0}
        await vc.create(
            "v1", "pods", {"metadata": {"name": "fz-pod", "labels": {"app": "fz"}}, "spec": pod}, ns
        )
    pc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "fz-pc"},
        "value": 5,
    }
    await vc.create("scheduling.k8s.io/v1", "priorityclasses", pc)


async def run(args: argparse.Namespace) -> bool:
    base = Path(args.dir or f"/tmp/syncer-fuzz-{int(time.time())}")
    p = start_pair_(base, config=CONFIG, nodes=2)
    print(f"pair up in {base}", flush=True)
    vc = await Client.from_kubeconfig(str(p.vc.kubeconfig), user_agent="fuzz", timeout=15)
    hc = await Client.from_kubeconfig(str(p.host.kubeconfig), user_agent="fuzz", timeout=15)
    fz = Fuzz(p, vc, hc, args.seed)
    started = time.monotonic()
    try:
        await setup(vc)
        indexes = [args.only] if args.only is not None else list(range(args.count))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in indexes:
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                try:
                    await fz.one(i)
                except Exception as e:
                    tb = "".join(traceback.format_exception(e)[-3:])
                    fz.find(i, f"harness error {e!r}\n{tb}")
                log = fz.new_log()
                for chunk in log.split("Traceback (most recent call last)")[1:]:
                    fz.find(i, "traceback in the vcluster log:\n" + chunk[:1500])
                if (i + 1) % 25 == 0:
                    print(f"{i + 1} objects, {time.monotonic() - started:.0f}s, {dict(fz.stats)}", flush=True)

        await asyncio.gather(*(worker() for _ in range(args.parallel)))
        await asyncio.sleep(1)
        for chunk in fz.new_log().split("Traceback (most recent call last)")[1:]:
            fz.find(-1, "traceback in the vcluster log:\n" + chunk[:1500])
        if not p.vc.alive():
            fz.find(-1, "the vcluster process died")
    finally:
        await vc.close()
        await hc.close()
        if not args.keep:
            p.stop()
    print(f"seed {args.seed}, {len(indexes)} objects in {time.monotonic() - started:.0f}s")
    print(f"stats: {dict(sorted(fz.stats.items()))}")
    print("rejected by the virtual API server (after repairs):")
    for r, n in fz.rejected.most_common(15):
        print(f"  {n:4d}  {r}")
    print(f"{len(fz.findings)} findings")
    for f in fz.findings:
        print("  " + f.replace("\n", "\n    "))
    return not fz.findings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=2000, help="objects to make (2000: about 5 minutes)")
    ap.add_argument("--only", type=int, help="replay one object index of the seed")
    ap.add_argument("--parallel", type=int, default=6, help="objects in flight at once")
    ap.add_argument("--dir", help="where the pair keeps its data and logs (default /tmp/syncer-fuzz-*)")
    ap.add_argument("--keep", action="store_true", help="leave the pair running at the end")
    sys.exit(0 if asyncio.run(run(ap.parse_args())) else 1)


if __name__ == "__main__":
    main()
