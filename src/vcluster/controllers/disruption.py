"""DisruptionController (kube-controller-manager `disruption`): PodDisruptionBudget status.

For each policy/v1 PDB: `expectedPods` (the number of selected pods, or with a percentage
minAvailable / any maxUnavailable the summed scale of the pods' controllers: Deployment via its
ReplicaSet, ReplicaSet, StatefulSet, ReplicationController, or any owner with a /scale
subresource), `desiredHealthy`, `currentHealthy` (Ready pods not being deleted nor recently
evicted), `disruptionsAllowed`, `disruptedPods`, `observedGeneration` and the `DisruptionAllowed`
condition (SufficientPods / InsufficientPods / SyncFailed), with kube's events (NoPods,
CalculateExpectedPodCountFailed, UnmanagedPods).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    clone,
    controller_ref,
    fmt_time,
    is_deleting,
    key_of,
    labels_of,
    meta,
    name_of,
    parse_time,
    pod_is_ready,
    selector_from,
    split_key,
    uid_of,
)
from vcluster.controllers.discovery import RESTMapper, discover

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

API_VERSION = "policy/v1"
DELETION_TIMEOUT = timedelta(minutes=2)
CONDITION = "DisruptionAllowed"


class ExpectedCountError(Exception):
    """The expected pod count could not be computed."""


def scaled_value(v: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(v, bool):
        raise ExpectedCountError(f"invalid value for IntOrString: invalid type: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.endswith("%"):
        try:
            pct = int(v[:-1])
        except ValueError:
            raise ExpectedCountError(f'invalid value for IntOrString: invalid value "{v}"') from None
        x = pct * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    raise ExpectedCountError(f"invalid value for IntOrString: invalid type: string is not a percentage: {v}")


def _condition(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == ctype), None)


def set_status_condition(status: dict[str, Any], cond: dict[str, Any], now: str) -> None:
    """apimeta.SetStatusCondition (metav1.Condition: message always present)."""
    conds = [dict(c) for c in status.get("conditions") or []]
    cur = next((c for c in conds if c.get("type") == cond["type"]), None)
    if cur is None:
        conds.append({**cond, "lastTransitionTime": now})
    else:
        if cur.get("status") != cond["status"]:
            cur["lastTransitionTime"] = now
        cur.update({k: cond[k] for k in ("status", "reason", "message", "observedGeneration")})
    status["conditions"] = conds


class DisruptionController(BaseController):
    """Computes the status of every PodDisruptionBudget from the pods it selects."""

    name = "disruption"
    component = "controllermanager"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.pdbs = informers.informer(API_VERSION, "poddisruptionbudgets")
        self.pods = informers.informer("v1", "pods")
        self.rcs = informers.informer("v1", "replicationcontrollers")
        self.rss = informers.informer("apps/v1", "replicasets")
        self.deployments = informers.informer("apps/v1", "deployments")
        self.statefulsets = informers.informer("apps/v1", "statefulsets")
        self.mapper: RESTMapper | None = None
        self.pdbs.add_handler(self._on_pdb)
        self.pods.add_handler(self._on_pod)

    def _on_pdb(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            self.queue.add(key_of(obj))

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for key in self._pdbs_for_pod(obj):
            self.queue.add(key)
        if old is not None and labels_of(old) != labels_of(obj):
            for key in self._pdbs_for_pod(old):
                self.queue.add(key)

    def _pdbs_for_pod(self, pod: dict[str, Any]) -> list[str]:
        """getPdbForPod (every matching PDB is refreshed; kube warns when there are several)."""
        ns = meta(pod).get("namespace") or ""
        labels = labels_of(pod)
        if not labels:
            return []
        return [
            key_of(p)
            for p in self.pdbs.list(ns)
            if selector_from((p.get("spec") or {}).get("selector")).matches(labels)
        ]

    async def run(self, workers: int = 2) -> None:
        for inf in (self.pdbs, self.pods, self.rcs, self.rss, self.deployments, self.statefulsets):
            await inf.wait_synced()
        await super().run(workers)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        from vcluster.client import ApiError

        ns, name = split_key(key)
        pdb = self.pdbs.get(name, ns)
        if pdb is None:
            return
        try:
            await self.try_sync(pdb)
        except ApiError as e:
            if e.conflict:
                raise
            await self._fail_safe(pdb, e)
            raise
        except Exception as e:
            await self._fail_safe(pdb, e)
            raise

    async def try_sync(self, pdb: dict[str, Any]) -> None:
        ns = meta(pdb).get("namespace") or ""
        spec = pdb.get("spec") or {}
        sel = selector_from(spec.get("selector"))
        pods = [p for p in self.pods.list(ns) if sel.matches(labels_of(p))]
        if not pods:
            self.recorder.event(
                pdb,
                EVENT_NORMAL,
                "NoPods",
                "No matching pods found",
                kind="PodDisruptionBudget",
                api_version=API_VERSION,
            )
        try:
            expected, desired, unmanaged = await self._expected_count(pdb, pods)
        except Exception as e:
            self.recorder.event(
                pdb,
                EVENT_WARNING,
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {e}",
                kind="PodDisruptionBudget",
                api_version=API_VERSION,
            )
            raise
        if unmanaged:
            self.recorder.event(
                pdb,
                EVENT_WARNING,
                "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {sel}) were found to be unmanaged. "
                "As a result, the status of the PDB cannot be calculated correctly, which may result in "
                'undefined behavior. To account for these pods please set ".spec.minAvailable" field of '
                "the PDB to an integer value.",
                kind="PodDisruptionBudget",
                api_version=API_VERSION,
            )
        now = self.now()
        disrupted, recheck = self._disrupted_pods(pods, pdb, now)
        healthy = self._count_healthy(pods, disrupted, now)
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(key_of(pdb), (recheck - now).total_seconds())

    async def _expected_count(
        self, pdb: dict[str, Any], pods: list[dict[str, Any]]
    ) -> tuple[int, int, list[str]]:
        spec = pdb.get("spec") or {}
        expected = desired = 0
        unmanaged: list[str] = []
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = await self._expected_scale(pdb, pods)
            max_unavailable = scaled_value(spec["maxUnavailable"], expected, True)
            desired = max(expected - max_unavailable, 0)
        elif spec.get("minAvailable") is not None:
            min_available = spec["minAvailable"]
            if isinstance(min_available, int) and not isinstance(min_available, bool):
                desired = min_available
                expected = len(pods)
            else:
                expected, unmanaged = await self._expected_scale(pdb, pods)
                desired = scaled_value(min_available, expected, True)
        return expected, desired, unmanaged

    async def _expected_scale(self, pdb: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[int, list[str]]:
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(name_of(pod))
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._find_controller(ref, meta(pod).get("namespace") or "")
            if found is None:
                raise ExpectedCountError(f'found no controllers for pod "{name_of(pod)}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def _find_controller(self, ref: dict[str, Any], ns: str) -> tuple[str, int] | None:
        """The finders, in kube's order: RC, Deployment (via RS), RS, StatefulSet, /scale."""
        kind = ref.get("kind")
        group = (ref.get("apiVersion") or "").rpartition("/")[0]
        name = ref.get("name") or ""
        uid = ref.get("uid")

        def replicas(obj: dict[str, Any]) -> int:
            r = (obj.get("spec") or {}).get("replicas")
            return r if isinstance(r, int) else 1

        if kind == "ReplicationController" and group == "":
            rc = self.rcs.get(name, ns)
            if rc is not None and uid_of(rc) == uid:
                return uid_of(rc), replicas(rc)
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self.rss.get(name, ns)
            if rs is not None and uid_of(rs) == uid:
                rs_ref = controller_ref(rs)
                if rs_ref is None or rs_ref.get("kind") != "Deployment":
                    return uid_of(rs), replicas(rs)
                if (rs_ref.get("apiVersion") or "").rpartition("/")[0] in ("apps", "extensions"):
                    d = self.deployments.get(rs_ref.get("name") or "", ns)
                    if d is not None and uid_of(d) == rs_ref.get("uid"):
                        return uid_of(d), replicas(d)
                # an RS whose Deployment is gone: only the /scale finder below can count it
        if kind == "StatefulSet" and group == "apps":
            ss = self.statefulsets.get(name, ns)
            if ss is not None and uid_of(ss) == uid:
                return uid_of(ss), replicas(ss)
        return await self._scale_controller(ref, ns)

    async def _scale_controller(self, ref: dict[str, Any], ns: str) -> tuple[str, int] | None:
        """getScaleController: any owner kind with a /scale subresource."""
        from vcluster.client import ApiError

        if self.mapper is None:
            self.mapper = RESTMapper((await discover(self.client)).resources)
        r = self.mapper.for_kind(ref.get("apiVersion") or "", ref.get("kind") or "")
        if r is None:
            self.mapper = RESTMapper((await discover(self.client)).resources)
            r = self.mapper.for_kind(ref.get("apiVersion") or "", ref.get("kind") or "")
            if r is None:
                return None
        try:
            scale = await self.client.get(
                r.api_version,
                r.plural,
                ref.get("name") or "",
                ns if r.namespaced else None,
                subresource="scale",
            )
        except ApiError as e:
            if e.not_found:
                return None
            raise
        if uid_of(scale) != ref.get("uid"):
            return None
        return uid_of(scale), int((scale.get("spec") or {}).get("replicas") or 0)

    def _disrupted_pods(
        self, pods: list[dict[str, Any]], pdb: dict[str, Any], now: datetime
    ) -> tuple[dict[str, str], datetime | None]:
        """buildDisruptedPodMap."""
        disrupted = (pdb.get("status") or {}).get("disruptedPods")
        result: dict[str, str] = {}
        recheck: datetime | None = None
        if not disrupted:
            return result, recheck
        for pod in pods:
            if is_deleting(pod):
                continue
            t_s = disrupted.get(name_of(pod))
            t = parse_time(t_s) if t_s else None
            if t is None:
                continue
            expected_deletion = t + DELETION_TIMEOUT
            if expected_deletion < now:
                ns = meta(pdb).get("namespace")
                self.recorder.event(
                    pod,
                    EVENT_WARNING,
                    "NotDeleted",
                    f"Pod was expected by PDB {ns}/{ns} to be deleted but it wasn't",
                    kind="Pod",
                    api_version="v1",
                )
            else:
                if recheck is None or expected_deletion < recheck:
                    recheck = expected_deletion
                result[name_of(pod)] = t_s
        return result, recheck

    @staticmethod
    def _count_healthy(pods: list[dict[str, Any]], disrupted: dict[str, str], now: datetime) -> int:
        healthy = 0
        for pod in pods:
            if is_deleting(pod):
                continue
            t = parse_time(disrupted.get(name_of(pod)))
            if t is not None and t + DELETION_TIMEOUT > now:
                continue
            if pod_is_ready(pod):
                healthy += 1
        return healthy

    async def _update_status(
        self, pdb: dict[str, Any], healthy: int, desired: int, expected: int, disrupted: dict[str, str]
    ) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status = pdb.get("status") or {}
        generation = meta(pdb).get("generation") or 0
        cond = _condition(status, CONDITION)
        up_to_date = (
            cond is not None
            and status.get("observedGeneration") == generation
            and (
                (cond.get("status") == "True" and cond.get("reason") == "SufficientPods")
                if status.get("disruptionsAllowed", 0) > 0
                else (cond.get("status") == "False" and cond.get("reason") == "InsufficientPods")
            )
        )
        if (
            status.get("currentHealthy", 0) == healthy
            and status.get("desiredHealthy", 0) == desired
            and status.get("expectedPods", 0) == expected
            and status.get("disruptionsAllowed", 0) == allowed
            and (status.get("disruptedPods") or {}) == disrupted
            and status.get("observedGeneration") == generation
            and up_to_date
        ):
            return
        new_status: dict[str, Any] = {}
        if disrupted:
            new_status["disruptedPods"] = disrupted
        new_status.update(
            {
                "disruptionsAllowed": allowed,
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "expectedPods": expected,
                "observedGeneration": generation,
                "conditions": list(status.get("conditions") or []),
            }
        )
        if allowed > 0:
            want = {"type": CONDITION, "status": "True", "reason": "SufficientPods"}
        else:
            want = {"type": CONDITION, "status": "False", "reason": "InsufficientPods"}
        want.update({"message": "", "observedGeneration": generation})
        set_status_condition(new_status, want, fmt_time(self.now()))
        body = clone(pdb)
        body["status"] = new_status
        await self.client.update(
            API_VERSION, "poddisruptionbudgets", body, meta(pdb).get("namespace"), subresource="status"
        )

    async def _fail_safe(self, pdb: dict[str, Any], err: Exception) -> None:
        """failSafe: disruptionsAllowed 0 and DisruptionAllowed=False/SyncFailed."""
        from vcluster.client import ApiError

        body = clone(pdb)
        status = dict(body.get("status") or {})
        status["disruptionsAllowed"] = 0
        set_status_condition(
            status,
            {
                "type": CONDITION,
                "status": "False",
                "reason": "SyncFailed",
                "message": str(err),
                "observedGeneration": status.get("observedGeneration", 0),
            },
            fmt_time(self.now()),
        )
        body["status"] = status
        try:
            await self.client.update(
                API_VERSION, "poddisruptionbudgets", body, meta(pdb).get("namespace"), subresource="status"
            )
        except ApiError as e:
            self.log.warning("failSafe status update for %s failed: %s", key_of(pdb), e)
