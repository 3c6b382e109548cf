"""ReplicaSet controller: keep spec.replicas pods, adopt/release, slow-start creation, status."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_NORMAL,
    EVENT_WARNING,
    BaseController,
    Expectations,
    adopt,
    classify_claims,
    clone,
    controller_ref,
    fmt_time,
    get_condition,
    go_status,
    is_deleting,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    namespace_terminating,
    owner_reference,
    parse_time,
    pod_from_template,
    pod_is_active,
    pod_is_available,
    pod_is_ready,
    pod_ready_since,
    release,
    remove_condition,
    resolve_controller_ref,
    selector_matches,
    slow_start_batch,
    split_key,
    typed,
    uid_of,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# --------------------------------------------------------------------------- pure helpers


def _deletion_cost(pod: Mapping[str, Any]) -> int:
    v = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(v) if v is not None else 0
    except ValueError:
        return 0


def _max_restarts(pod: Mapping[str, Any]) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(c.get("restartCount") or 0) for c in statuses), default=0)


def _log_rank(t: datetime | None, now: datetime) -> int:
    if t is None:
        return -1
    d = (now - t).total_seconds() * 1e9
    return int(math.log2(d)) if d > 0 else -1


def deletion_sort_key(pod: Mapping[str, Any], rank: int, now: datetime) -> tuple[Any, ...]:
    """controller.ActivePodsWithRanks ordering (LogarithmicScaleDown): the pods to delete first
    sort first — unscheduled < scheduled, Pending < Unknown < Running, not ready < ready, lower
    deletion cost, more co-located ready siblings, ready for less time, more restarts, newer."""
    spec = pod.get("spec") or {}
    ready = pod_is_ready(pod)
    ready_rank = _log_rank(pod_ready_since(pod), now) if ready else 0
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_ORDINAL.get((pod.get("status") or {}).get("phase") or "", 3),
        1 if ready else 0,
        _deletion_cost(pod),
        -rank,
        ready_rank,
        -_max_restarts(pod),
        _log_rank(created, now),
        uid_of(pod),
    )


def pods_to_delete(
    pods: list[Mapping[str, Any]], related: list[Mapping[str, Any]], diff: int, now: datetime
) -> list[Mapping[str, Any]]:
    """getPodsToDelete: rank by ready related pods on the same node, then take the first `diff`."""
    if diff >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node and pod_is_active(p) and pod_is_ready(p):
            on_node[node] = on_node.get(node, 0) + 1
    ranked = sorted(
        pods,
        key=lambda p: deletion_sort_key(p, on_node.get((p.get("spec") or {}).get("nodeName") or "", 0), now),
    )
    return ranked[:diff]


def calculate_rs_status(
    rs: Mapping[str, Any], pods: list[Mapping[str, Any]], manage_error: BaseException | None, now: datetime
) -> dict[str, Any]:
    """replicaset calculateStatus (+ the ReplicaFailure condition)."""
    status = clone(rs.get("status") or {})
    tmpl_labels = ((rs.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
    mrs = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    fully = ready = available = 0
    for p in pods:
        pl = labels_of(p)
        if all(pl.get(k) == v for k, v in tmpl_labels.items()):
            fully += 1
        if pod_is_ready(p):
            ready += 1
            if pod_is_available(p, mrs, now):
                available += 1
    failure = get_condition(status, "ReplicaFailure")
    if manage_error is not None and failure is None:
        diff = len(pods) - spec_replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        msg = getattr(manage_error, "message", None) or str(manage_error)
        conds = list(status.get("conditions") or [])
        conds.append(
            {
                "type": "ReplicaFailure",
                "status": "True",
                "lastTransitionTime": fmt_time(now),
                "reason": reason,
                "message": msg,
            }
        )
        status["conditions"] = conds
    elif manage_error is None and failure is not None:
        remove_condition(status, "ReplicaFailure")
    status["replicas"] = len(pods)
    status["fullyLabeledReplicas"] = fully
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    return status


def spec_replicas(obj: Mapping[str, Any]) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def _status_same(rs: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    old = rs.get("status") or {}
    for f in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if int(old.get(f) or 0) != int(new.get(f) or 0):
            return False
    gen = int((rs.get("metadata") or {}).get("generation") or 0)
    if int(old.get("observedGeneration") or 0) != gen:
        return False
    return (old.get("conditions") or []) == (new.get("conditions") or [])


# --------------------------------------------------------------------------- controller


class ReplicaSetController(BaseController):
    """pkg/controller/replicaset."""

    name = "replicaset"
    component = "replicaset-controller"
    kind = "ReplicaSet"
    api_version = "apps/v1"
    plural = "replicasets"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        burst_replicas: int = BURST_REPLICAS,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.burst_replicas = burst_replicas
        self.expectations = Expectations()
        self.rs_inf = informers.informer(self.api_version, self.plural)
        self.pod_inf = informers.informer("v1", "pods")
        self.rs_inf.add_handler(self._on_rs)
        self.pod_inf.add_handler(self._on_pod)

    # ------------------------------------------------------------------ handlers

    def _on_rs(self, event: str, obj: dict, old: dict | None) -> None:
        if event == "delete":
            self.expectations.delete(key_of(obj))
        self.enqueue(obj)

    def _lookup(self, ns: str, name: str) -> Mapping[str, Any] | None:
        return self.rs_inf.get(name, ns)

    def selector_of(self, rs: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The owner's pod selector as a metav1.LabelSelector (subclasses convert other forms)."""
        return (rs.get("spec") or {}).get("selector")

    def _rss_for_pod(self, pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        labels = labels_of(pod)
        if not labels:
            return []
        return [
            rs for rs in self.rs_inf.list(namespace_of(pod)) if selector_matches(self.selector_of(rs), labels)
        ]

    def _on_pod(self, event: str, obj: dict, old: dict | None) -> None:
        if event == "add":
            if is_deleting(obj):
                self._pod_deleted(obj)
                return
            rs = resolve_controller_ref(obj, self.kind, self._lookup)
            if rs is not None:
                self.expectations.creation_observed(key_of(rs))
                self.enqueue(rs)
            elif controller_ref(obj) is None:
                for rs in self._rss_for_pod(obj):
                    self.enqueue(rs)
            return
        if event == "delete":
            self._pod_deleted(obj)
            return
        # update
        assert old is not None
        if (obj.get("metadata") or {}).get("resourceVersion") == (old.get("metadata") or {}).get(
            "resourceVersion"
        ):
            return
        labels_changed = labels_of(obj) != labels_of(old)
        if is_deleting(obj):
            self._pod_deleted(obj)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = controller_ref(obj), controller_ref(old)
        if old_ref is not None and (cur_ref is None or cur_ref.get("uid") != old_ref.get("uid")):
            rs = resolve_controller_ref(old, self.kind, self._lookup)
            if rs is not None:
                self.enqueue(rs)
        if cur_ref is not None:
            rs = resolve_controller_ref(obj, self.kind, self._lookup)
            if rs is None:
                return
            self.enqueue(rs)
            mrs = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if not pod_is_ready(old) and pod_is_ready(obj) and mrs > 0:
                self.enqueue_after(rs, mrs + 1)
            return
        if labels_changed or cur_ref is None:
            for rs in self._rss_for_pod(obj):
                self.enqueue(rs)

    def _pod_deleted(self, pod: Mapping[str, Any]) -> None:
        rs = resolve_controller_ref(pod, self.kind, self._lookup)
        if rs is None:
            return
        self.expectations.deletion_observed(key_of(rs), key_of(pod))
        self.enqueue(rs)

    # ------------------------------------------------------------------ sync

    def _event(self, rs: Mapping[str, Any], etype: str, reason: str, message: str) -> None:
        self.recorder.event(rs, etype, reason, message, kind=self.kind, api_version=self.api_version)

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        cached = self.rs_inf.get(name, ns)
        if cached is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        rs = cached
        selector = self.selector_of(rs)
        active = [p for p in self.pod_inf.list(ns) if pod_is_active(p)]
        pods = await self._claim_pods(rs, selector, active)
        manage_error: BaseException | None = None
        if needs_sync and not is_deleting(rs):
            manage_error = await self._manage_replicas(pods, rs)
        now = self.now()
        status = calculate_rs_status(rs, pods, manage_error, now)
        updated = await self._update_status(rs, status)
        mrs = int((updated.get("spec") or {}).get("minReadySeconds") or 0)
        st = updated.get("status") or {}
        if (
            manage_error is None
            and mrs > 0
            and int(st.get("readyReplicas") or 0) == spec_replicas(updated)
            and int(st.get("availableReplicas") or 0) != spec_replicas(updated)
        ):
            self.queue.add_after(key, mrs)
        if manage_error is not None:
            raise manage_error

    async def _update_status(self, rs: Mapping[str, Any], status: dict[str, Any]) -> Mapping[str, Any]:
        if _status_same(rs, status):
            return rs
        from vcluster.client import ApiError

        new = clone(rs)
        status["observedGeneration"] = int(new["metadata"].get("generation") or 0)
        new["status"] = go_status(status, self.api_version.rpartition("/")[0], self.kind)
        typed(new, self.api_version, self.kind)
        try:
            return await self.client.update(
                self.api_version, self.plural, new, namespace_of(rs), subresource="status"
            )
        except ApiError as e:
            if e.not_found:
                return rs
            if not e.conflict:
                raise
        # One retry against the latest object (updateReplicaSetStatus).
        fresh = await self.client.get(self.api_version, self.plural, name_of(rs), namespace_of(rs))
        status["observedGeneration"] = int(fresh["metadata"].get("generation") or 0)
        fresh["status"] = go_status(status, self.api_version.rpartition("/")[0], self.kind)
        return await self.client.update(
            self.api_version, self.plural, fresh, namespace_of(rs), subresource="status"
        )

    async def _claim_pods(
        self, rs: Mapping[str, Any], selector: Any, pods: list[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        from vcluster.client import ApiError

        keep, to_adopt, to_release = classify_claims(rs, selector, pods)
        if to_adopt and not is_deleting(rs):
            # canAdopt: recheck with a live read that the owner still exists and is not deleting.
            try:
                fresh = await self.client.get(self.api_version, self.plural, name_of(rs), namespace_of(rs))
            except ApiError as e:
                if e.not_found:
                    return keep
                raise
            if uid_of(fresh) != uid_of(rs) or is_deleting(fresh):
                to_adopt = []
        ref = owner_reference(rs, self.kind, self.api_version)
        for pod in to_adopt:
            try:
                keep.append(await adopt(self.client, "v1", "pods", pod, ref))
            except ApiError as e:
                if e.not_found or e.invalid:
                    continue
                raise
        for pod in to_release:
            await release(self.client, "v1", "pods", pod, uid_of(rs))
        return keep

    def _related_pods(self, rs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """getIndirectlyRelatedPods: pods of every ReplicaSet sharing this one's controller."""
        owner = controller_ref(rs)
        siblings = [rs]
        if owner is not None:
            siblings = [
                o
                for o in self.rs_inf.list(namespace_of(rs))
                if (controller_ref(o) or {}).get("uid") == owner.get("uid")
            ]
        uids = {uid_of(s) for s in siblings}
        return [
            p for p in self.pod_inf.list(namespace_of(rs)) if (controller_ref(p) or {}).get("uid") in uids
        ]

    async def _manage_replicas(
        self, pods: list[Mapping[str, Any]], rs: Mapping[str, Any]
    ) -> BaseException | None:
        from vcluster.client import ApiError

        key = key_of(rs)
        diff = len(pods) - spec_replicas(rs)
        if diff < 0:
            n = min(-diff, self.burst_replicas)
            self.expectations.expect(key, adds=n)
            ref = owner_reference(rs, self.kind, self.api_version)
            template = (rs.get("spec") or {}).get("template")

            async def create() -> None:
                pod = pod_from_template(template, rs, ref)
                if not (pod["metadata"].get("labels")):
                    raise ValueError("unable to create pods, no labels")
                try:
                    created = await self.client.create("v1", "pods", pod, namespace_of(rs))
                except ApiError as e:
                    if namespace_terminating(e):
                        return
                    self._event(rs, EVENT_WARNING, "FailedCreate", f"Error creating: {e.message}")
                    raise
                self._event(rs, EVENT_NORMAL, "SuccessfulCreate", f"Created pod: {name_of(created)}")

            successes, err = await slow_start_batch(n, SLOW_START_INITIAL_BATCH, create)
            for _ in range(n - successes):
                self.expectations.creation_observed(key)
            return err
        if diff > 0:
            n = min(diff, self.burst_replicas)
            victims = pods_to_delete(pods, self._related_pods(rs), n, self.now())
            self.expectations.expect_deletions(key, [key_of(p) for p in victims])

            async def delete(pod: Mapping[str, Any]) -> BaseException | None:
                try:
                    await self.client.delete("v1", "pods", name_of(pod), namespace_of(pod))
                except ApiError as e:
                    self.expectations.deletion_observed(key, key_of(pod))
                    if e.not_found:
                        return None
                    self._event(rs, EVENT_WARNING, "FailedDelete", f"Error deleting: {e.message}")
                    return e
                self._event(rs, EVENT_NORMAL, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")
                return None

            errors = [e for e in await asyncio.gather(*(delete(p) for p in victims)) if e is not None]
            return errors[0] if errors else None
        return None
