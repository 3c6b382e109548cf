"""ResourceQuotaController (kube-controller-manager `resourcequota`): ResourceQuota status.

`status.hard` mirrors `spec.hard`; `status.used` holds, for every tracked resource name, the usage
computed like kube's quota evaluators:

* pods: `pods` (pods not terminal and not stuck past their deletion grace), `count/pods` (all),
  `cpu`/`requests.cpu`, `memory`/`requests.memory`, `ephemeral-storage`/`requests.ephemeral-storage`,
  `limits.*`, hugepages and `requests.<extended>`, from the pod requests/limits (containers summed,
  max'ed with init containers, sidecars counted, plus overhead), honouring the quota scopes and
  scopeSelector (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass,
  CrossNamespacePodAffinity);
* services: `services`, `services.nodeports`, `services.loadbalancers`;
* persistentvolumeclaims: `persistentvolumeclaims`, `requests.storage` and the per-StorageClass
  `<class>.storageclass.storage.k8s.io/requests.storage|persistentvolumeclaims`;
* object counts: `configmaps`, `secrets`, `replicationcontrollers`, `resourcequotas` and
  `count/<resource>[.<group>]` for any served resource.

Quantities are added like resource.Quantity (the first non-zero term decides the format), so
`100m + 250m` is `350m` and `64Mi + 128Mi` is `192Mi`. Usage is recomputed when objects in the
namespace are deleted or change in a way that moves usage (kube's update filter: a pod that stops
counting, a Service's type, a claim's allocated storage; see `_usage_relevant_change`) and every
`resync_seconds`; creates are charged by quota admission (apiserver/quota.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from vcluster.apiserver.defaults import _canonical, _Quantity, parse_quantity
from vcluster.controllers.base import (
    BaseController,
    clone,
    is_deleting,
    key_of,
    meta,
    parse_time,
    pod_phase,
    split_key,
    utcnow,
)
from vcluster.controllers.discovery import RESTMapper, discover

if TYPE_CHECKING:
    from vcluster.client import Client, Informer, SharedInformers

DECIMAL_SI = "DecimalSI"
Q = tuple[Fraction, str]  # (value, format)
ZERO: Q = (Fraction(0), DECIMAL_SI)

POD_COMPUTE = {
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
}
NATIVE_PREFIXES = ("kubernetes.io/", "requests.", "limits.")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
LEGACY_COUNTS = {
    "pods": ("", "pods"),
    "services": ("", "services"),
    "configmaps": ("", "configmaps"),
    "secrets": ("", "secrets"),
    "replicationcontrollers": ("", "replicationcontrollers"),
    "resourcequotas": ("", "resourcequotas"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"),
}
PRELOADED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims")


# ---------------------------------------------------------------------------- quantities
def q_parse(v: Any) -> Q | None:
    q = parse_quantity(str(v)) if v is not None else None
    return None if q is None else (q.value, q.fmt)


def q_add(a: Q, b: Q) -> Q:
    """resource.Quantity.Add: a zero receiver takes the other's format."""
    fmt = b[1] if a[0] == 0 else a[1]
    return (a[0] + b[0], fmt)


def q_max(a: Q, b: Q) -> Q:
    return b if b[0] > a[0] else a


def q_str(q: Q) -> str:
    return _canonical(_Quantity(q[0], q[1], None, ""))


def rl_add(a: dict[str, Q], b: dict[str, Q]) -> dict[str, Q]:
    out = dict(a)
    for k, v in b.items():
        out[k] = q_add(out[k], v) if k in out else v
    return out


def rl_max(a: dict[str, Q], b: dict[str, Q]) -> dict[str, Q]:
    out = dict(a)
    for k, v in b.items():
        out[k] = q_max(out[k], v) if k in out else v
    return out


def _resource_list(v: Any) -> dict[str, Q]:
    out: dict[str, Q] = {}
    if isinstance(v, dict):
        for k, x in v.items():
            q = q_parse(x)
            if q is not None:
                out[k] = q
    return out


# ---------------------------------------------------------------------------- pods
def pod_resources(pod: dict[str, Any], which: str) -> dict[str, Q]:
    """resourcehelper.PodRequests/PodLimits: containers summed; init containers in order (the
    restartable ones stay running and add up); the max of both; plus pod overhead."""
    spec = pod.get("spec") or {}
    total: dict[str, Q] = {}
    for c in spec.get("containers") or []:
        total = rl_add(total, _resource_list((c.get("resources") or {}).get(which)))
    restartable: dict[str, Q] = {}
    init_max: dict[str, Q] = {}
    for c in spec.get("initContainers") or []:
        res = _resource_list((c.get("resources") or {}).get(which))
        if c.get("restartPolicy") == "Always":
            total = rl_add(total, res)
            restartable = rl_add(restartable, res)
            res = dict(restartable)
        else:
            res = rl_add(res, restartable)
        init_max = rl_max(init_max, res)
    total = rl_max(total, init_max)
    overhead = _resource_list(spec.get("overhead"))
    if overhead:
        total = rl_add(total, {k: v for k, v in overhead.items() if which == "requests" or k in total})
    return total


def pod_counts_for_quota(pod: dict[str, Any], now: Any) -> bool:
    """QuotaV1Pod: not terminal, and not stuck terminating past its grace period."""
    if pod_phase(pod) in ("Succeeded", "Failed"):
        return False
    md = meta(pod)
    ts = parse_time(md.get("deletionTimestamp"))
    grace = md.get("deletionGracePeriodSeconds")
    return not (ts is not None and isinstance(grace, int) and now > ts + timedelta(seconds=grace))


def _is_extended(name: str) -> bool:
    if name.startswith(NATIVE_PREFIXES) or "/" not in name:
        return False
    return not name.startswith("requests.")


def pod_usage(pod: dict[str, Any], now: Any) -> dict[str, Q]:
    """PodUsageFunc."""
    used: dict[str, Q] = {"count/pods": (Fraction(1), DECIMAL_SI)}
    if not pod_counts_for_quota(pod, now):
        return used
    used["pods"] = (Fraction(1), DECIMAL_SI)
    req = pod_resources(pod, "requests")
    lim = pod_resources(pod, "limits")
    for r in ("cpu", "memory", "ephemeral-storage"):
        if r in req:
            used[r] = req[r]
            used[f"requests.{r}"] = req[r]
        if r in lim:
            used[f"limits.{r}"] = lim[r]
    for r, q in req.items():
        if r.startswith("hugepages-"):
            used[r] = q
            used[f"requests.{r}"] = q
        elif _is_extended(r):
            used[f"requests.{r}"] = q
    for r, q in lim.items():
        if r.startswith("hugepages-"):
            used[f"limits.{r}"] = q
    return used


def pod_matches_scope(
    pod: dict[str, Any], scope: str, op: str = "Exists", values: list[str] | None = None
) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        ads = spec.get("activeDeadlineSeconds")
        return isinstance(ads, int) and ads >= 0
    if scope == "NotTerminating":
        ads = spec.get("activeDeadlineSeconds")
        return not (isinstance(ads, int) and ads >= 0)
    if scope in ("BestEffort", "NotBestEffort"):
        best = not pod_resources(pod, "requests") and not pod_resources(pod, "limits")
        return best if scope == "BestEffort" else not best
    if scope == "PriorityClass":
        pc = spec.get("priorityClassName") or ""
        if op == "Exists":
            return bool(pc)
        if op == "DoesNotExist":
            return not pc
        if op == "In":
            return pc in (values or [])
        if op == "NotIn":
            return pc not in (values or [])
        return False
    if scope == "CrossNamespacePodAffinity":
        aff = spec.get("affinity") or {}
        for kind in ("podAffinity", "podAntiAffinity"):
            a = aff.get(kind) or {}
            terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
            terms += [
                t.get("podAffinityTerm") or {}
                for t in a.get("preferredDuringSchedulingIgnoredDuringExecution") or []
            ]
            if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
                return True
        return False
    return True


def quota_scopes(rq: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """Scopes and scopeSelector as (scope, operator, values)."""
    spec = rq.get("spec") or {}
    out = [(s, "Exists", []) for s in spec.get("scopes") or []]
    for e in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        out.append((e.get("scopeName") or "", e.get("operator") or "Exists", list(e.get("values") or [])))
    return out


# ---------------------------------------------------------------------------- other evaluators
def service_usage(svc: dict[str, Any]) -> dict[str, Q]:
    one = (Fraction(1), DECIMAL_SI)
    used: dict[str, Q] = {"services": one, "count/services": one}
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    stype = spec.get("type")
    if stype == "NodePort":
        used["services.nodeports"] = (Fraction(len(ports)), DECIMAL_SI)
    elif stype == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            n = sum(1 for p in ports if p.get("nodePort"))
        else:
            n = len(ports)
        used["services.nodeports"] = (Fraction(n), DECIMAL_SI)
        used["services.loadbalancers"] = one
    return used


def pvc_usage(pvc: dict[str, Any]) -> dict[str, Q]:
    one = (Fraction(1), DECIMAL_SI)
    used: dict[str, Q] = {"persistentvolumeclaims": one, "count/persistentvolumeclaims": one}
    spec = pvc.get("spec") or {}
    cls = spec.get("storageClassName") or ""
    if cls:
        used[f"{cls}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = one
    req = q_parse(((spec.get("resources") or {}).get("requests") or {}).get("storage"))
    alloc = q_parse(((pvc.get("status") or {}).get("allocatedResources") or {}).get("storage"))
    if alloc is not None and (req is None or alloc[0] > req[0]):
        req = alloc
    if req is not None:
        used["requests.storage"] = req
        if cls:
            used[f"{cls}{STORAGE_CLASS_SUFFIX}requests.storage"] = req
    return used


def count_resource(name: str) -> tuple[str, str] | None:
    """(group, plural) counted by a resource name, for object-count names."""
    if name in LEGACY_COUNTS:
        return LEGACY_COUNTS[name]
    if name.startswith("count/"):
        plural, _, group = name[len("count/") :].partition(".")
        return group, plural
    return None


# ---------------------------------------------------------------------------- controller
class ResourceQuotaController(BaseController):
    """Keeps ResourceQuota status (hard, used) current."""

    name = "resourcequota"
    component = "resourcequota-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        resync_seconds: float = 300.0,
        sync_timeout: float = 30.0,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.resync_seconds = resync_seconds
        self.sync_timeout = sync_timeout
        self.quotas = informers.informer("v1", "resourcequotas")
        self.quotas.add_handler(self._on_quota)
        self.mapper: RESTMapper | None = None
        self.tracked: dict[tuple[str, str], Informer] = {}
        for plural in PRELOADED:
            self._track("", "v1", plural)

    def _track(self, group: str, api_version: str, plural: str) -> Informer:
        inf = self.informers.informer(api_version, plural)
        if (group, plural) not in self.tracked:
            self.tracked[(group, plural)] = inf
            inf.add_handler(self._replenish_handler(plural if not group else f"{plural}.{group}"))
        return inf

    def _on_quota(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete":
            return
        if event == "update" and old is not None:
            st = obj.get("status") or {}
            if old.get("spec") == obj.get("spec") and st.get("hard") == (obj.get("spec") or {}).get("hard"):
                return
        self.queue.add(key_of(obj))

    def _replenish_handler(self, resource: str) -> Any:
        def handle(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            if event == "update" and old is not None and not _usage_relevant_change(resource, old, obj):
                return
            ns = meta(obj).get("namespace")
            if not ns:
                return
            for rq in self.quotas.list(ns):
                # A create is charged by quota admission once the quota's status.hard is set; a
                # recount then could only read an informer that lags that charge and lower the
                # usage under parallel creates (kube's replenishment ignores creates for this).
                if event == "add" and (rq.get("status") or {}).get("hard") == (rq.get("spec") or {}).get(
                    "hard"
                ):
                    continue
                self.queue.add(key_of(rq))

        return handle

    async def run(self, workers: int = 2) -> None:
        await self.quotas.wait_synced()
        for inf in list(self.tracked.values()):
            await inf.wait_synced()
        resync = asyncio.ensure_future(self._resync_loop())
        try:
            await super().run(workers)
        finally:
            resync.cancel()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            for rq in self.quotas.list():
                self.queue.add(key_of(rq))

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        rq = self.quotas.get(name, ns)
        if rq is None or is_deleting(rq):
            return
        hard_raw = (rq.get("spec") or {}).get("hard") or {}
        hard = {k: v for k, v in hard_raw.items()}
        status = rq.get("status") or {}
        prev_used = _resource_list(status.get("used"))
        used = dict(prev_used)
        new_used = await self.calculate_usage(ns or "", rq, list(hard))
        used.update(new_used)
        used = {k: v for k, v in used.items() if k in hard}
        dirty = status.get("hard") != hard or status.get("hard") is None or status.get("used") is None
        if not dirty:
            dirty = set(used) != set(prev_used) or any(used[k][0] != prev_used[k][0] for k in used)
        if not dirty:
            return
        body = clone(rq)
        body["status"] = {"hard": dict(hard), "used": {k: q_str(v) for k, v in sorted(used.items())}}
        await self.client.update("v1", "resourcequotas", body, ns, subresource="status")

    async def _informer_for(self, group: str, plural: str) -> Informer | None:
        inf = self.tracked.get((group, plural))
        if inf is not None:
            return inf
        r = self.mapper.for_resource(group, plural) if self.mapper else None
        if r is None:
            self.mapper = RESTMapper((await discover(self.client)).resources)
            r = self.mapper.for_resource(group, plural)
        if r is None or not r.namespaced or not r.supports("list", "watch"):
            return None
        inf = self._track(group, r.api_version, plural)
        if not inf.running:
            await inf.start()
        await inf.wait_synced(timeout=self.sync_timeout)
        return inf

    async def calculate_usage(self, ns: str, rq: dict[str, Any], hard: list[str]) -> dict[str, Q]:
        """quota.CalculateUsage over the evaluators that match the hard resource names."""
        used: dict[str, Q] = {}
        now = self.now()
        scopes = quota_scopes(rq)
        pod_names = [
            h
            for h in hard
            if h in POD_COMPUTE
            or h in ("pods", "count/pods")
            or (h.startswith(("requests.", "limits.", "hugepages-")) and h != "requests.storage")
        ]
        if pod_names:
            pods = await self._informer_for("", "pods")
            total = {h: ZERO for h in pod_names}
            for pod in pods.list(ns) if pods else []:
                if scopes and not all(pod_matches_scope(pod, s, op, vals) for s, op, vals in scopes):
                    continue
                total = rl_add(total, {k: v for k, v in pod_usage(pod, now).items() if k in total})
            used.update(total)
        svc_names = [
            h
            for h in hard
            if h in ("services", "count/services", "services.nodeports", "services.loadbalancers")
        ]
        if svc_names:
            svcs = await self._informer_for("", "services")
            total = {h: ZERO for h in svc_names}
            for svc in svcs.list(ns) if svcs and not scopes else []:
                total = rl_add(total, {k: v for k, v in service_usage(svc).items() if k in total})
            used.update(total)
        pvc_names = [
            h
            for h in hard
            if h in ("persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage")
            or STORAGE_CLASS_SUFFIX in h
        ]
        if pvc_names:
            pvcs = await self._informer_for("", "persistentvolumeclaims")
            total = {h: ZERO for h in pvc_names}
            for pvc in pvcs.list(ns) if pvcs and not scopes else []:
                total = rl_add(total, {k: v for k, v in pvc_usage(pvc).items() if k in total})
            used.update(total)
        for h in hard:
            if h in used:
                continue
            target = count_resource(h)
            if target is None:
                continue
            inf = await self._informer_for(*target)
            if inf is None:
                continue
            # object counts match no quota scope (only pod resources can be scoped)
            used[h] = (Fraction(0 if scopes else len(inf.list(ns))), DECIMAL_SI)
        return used


def _usage_relevant_change(resource: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether an update calls for a recount: kube's DefaultUpdateFilter (pkg/quota/v1/install).

    A recount reads informers that can lag the charges quota admission has just made, and would
    lower `status.used` under parallel creates; so, as upstream, a pod's binding, its start or a
    claim's binding do not trigger one: only a pod that stops counting (terminal, or stuck past its
    deletion grace), a change of its resources (in-place resize), a Service's quota type and a
    claim's allocated storage."""
    if resource == "pods":
        now = utcnow()
        return (
            (pod_counts_for_quota(old, now) and not pod_counts_for_quota(new, now))
            or _container_resources(old) != _container_resources(new)
            or (old.get("status") or {}).get("resize") != (new.get("status") or {}).get("resize")
        )
    if resource == "services":
        return _quota_service_type(old) != _quota_service_type(new)
    if resource == "persistentvolumeclaims":
        return ((old.get("status") or {}).get("allocatedResources") or {}).get("storage") != (
            (new.get("status") or {}).get("allocatedResources") or {}
        ).get("storage")
    return False


def _container_resources(pod: dict[str, Any]) -> list[Any]:
    spec = pod.get("spec") or {}
    return [
        (c.get("name"), c.get("resources"))
        for kind in ("initContainers", "containers")
        for c in spec.get(kind) or []
        if isinstance(c, dict)
    ] + [spec.get("overhead")]


def _quota_service_type(svc: dict[str, Any]) -> str:
    """GetQuotaServiceType: NodePort and LoadBalancer count apart, every other type alike."""
    t = (svc.get("spec") or {}).get("type")
    return t if t in ("NodePort", "LoadBalancer") else ""
