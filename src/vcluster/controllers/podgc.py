"""PodGC (kube-controller-manager 1.32 pkg/controller/podgc, `--controllers` name `podgc`): every 20 s

- terminated pods (phase neither Pending, Running nor Unknown) beyond `--terminated-pod-gc-threshold`
  (12500; 0 turns this part off) are deleted, evicted ones first, then the oldest (name breaks ties);
- terminating pods on a node that is not Ready and has the `node.kubernetes.io/out-of-service`
  taint are deleted;
- pods bound to a node that no longer exists are deleted: a missing node is quarantined 40 s (it
  may still be on its way to the informer), then confirmed by a GET; such a pod is first set Failed
  with the condition DisruptionTarget (reason DeletionByPodGC);
- terminating pods that were never scheduled are deleted.

Every deletion is forced (grace period 0) after the pod, unless already Succeeded or Failed, is set
Failed by a server-side apply of its status as field manager `PodGC`.

It runs in a virtual cluster too, as in vCluster, whose kube-controller-manager runs `*` without
nodeipam/nodelifecycle/... and so with podgc. It does not fight the syncer: the syncer keeps a
virtual node while a non-DaemonSet pod is bound to it (real nodes: while it matches the selector),
a node missing for less than the quarantine (a binding seen before its node) is left alone, and a
virtual pod PodGC deletes goes from the host through the syncer as any virtual pod deletion does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    Clock,
    fmt_time,
    get_condition,
    is_deleting,
    name_of,
    namespace_of,
    pod_phase,
    utcnow,
)

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

log = logging.getLogger("vcluster.controllers.podgc")

GC_CHECK_PERIOD = 20.0  # gcCheckPeriod
QUARANTINE_TIME = 40.0  # quarantineTime
TERMINATED_POD_GC_THRESHOLD = 12500  # --terminated-pod-gc-threshold default
FIELD_MANAGER = "PodGC"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
ORPHAN_CONDITION = {
    "type": "DisruptionTarget",
    "status": "True",
    "reason": "DeletionByPodGC",
    "message": "PodGC: node no longer exists",
}


def is_pod_terminated(pod: Mapping[str, Any]) -> bool:
    """isPodTerminated: any phase but Pending, Running and Unknown (an empty one included)."""
    return pod_phase(pod) not in ("Pending", "Running", "Unknown")


def is_evicted(pod: Mapping[str, Any]) -> bool:
    """eviction.PodIsEvicted: Failed with reason Evicted."""
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def gc_order(pod: Mapping[str, Any]) -> tuple[bool, str, str]:
    """byEvictionAndCreationTimestamp: evicted pods first, then the oldest, then by name."""
    created = (pod.get("metadata") or {}).get("creationTimestamp") or ""
    return (not is_evicted(pod), created, name_of(pod))


def terminated_to_delete(pods: Iterable[Mapping[str, Any]], threshold: int) -> list[Mapping[str, Any]]:
    """gcTerminated's victims: the terminated pods beyond `threshold`, in deletion order."""
    terminated = [p for p in pods if is_pod_terminated(p)]
    count = len(terminated) - threshold
    if threshold <= 0 or count <= 0:
        return []
    return sorted(terminated, key=gc_order)[:count]


def node_ready(node: Mapping[str, Any]) -> bool:
    c = get_condition(node.get("status"), "Ready")
    return c is not None and c.get("status") == "True"


def out_of_service(node: Mapping[str, Any]) -> bool:
    """Not Ready and tainted node.kubernetes.io/out-of-service (any effect)."""
    taints = (node.get("spec") or {}).get("taints") or []
    return not node_ready(node) and any(t.get("key") == OUT_OF_SERVICE_TAINT for t in taints)


class PodGCController:
    """The pod garbage collector's periodic pass over the pod and node informers."""

    name = "podgc"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        terminated_pod_gc_threshold: int = TERMINATED_POD_GC_THRESHOLD,
        gc_check_period: float = GC_CHECK_PERIOD,
        quarantine_time: float = QUARANTINE_TIME,
        clock: Clock | None = None,
        **_: Any,
    ) -> None:
        self.client = client
        self.pods = informers.informer("v1", "pods")
        self.nodes = informers.informer("v1", "nodes")
        self.threshold = terminated_pod_gc_threshold
        self.period = gc_check_period
        self.quarantine_time = quarantine_time
        self.clock = clock or utcnow
        self._quarantine: dict[str, float] = {}  # missing node -> monotonic time it may be checked

    async def run(self, workers: int = 1) -> None:
        """wait.UntilWithContext(gc, gcCheckPeriod): a failed pass is logged, the next one comes."""
        await self.pods.wait_synced()
        await self.nodes.wait_synced()
        while True:
            try:
                await self.gc()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pod garbage collection failed")
            await asyncio.sleep(self.period)

    async def gc(self) -> None:
        """One pass, in upstream's order."""
        pods = self.pods.list()
        if self.threshold > 0:
            await self._delete_all(terminated_to_delete(pods, self.threshold))
        await self._delete_all(sorted(self._terminating_out_of_service(pods), key=gc_order))
        await self._gc_orphaned(pods)
        await self._delete_all(
            [p for p in pods if is_deleting(p) and not (p.get("spec") or {}).get("nodeName")]
        )

    def _terminating_out_of_service(self, pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """gcTerminating: deleting pods whose node is out of service."""
        out = []
        for pod in pods:
            if not is_deleting(pod):
                continue
            node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            if node is not None and out_of_service(node):
                out.append(pod)
        return out

    async def _gc_orphaned(self, pods: list[dict[str, Any]]) -> None:
        """gcOrphaned: pods bound to a node that is still missing after its quarantine."""
        existing = {name_of(n) for n in self.nodes.list()}
        now = time.monotonic()
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and node not in existing:
                self._quarantine.setdefault(node, now + self.quarantine_time)
        due = [n for n, at in self._quarantine.items() if at <= now]
        deleted: set[str] = set()
        for node in due:
            del self._quarantine[node]
            if node not in existing and not await self._node_exists(node):
                deleted.add(node)
        orphans = [p for p in pods if (p.get("spec") or {}).get("nodeName") in deleted]
        await self._delete_all(orphans, condition=ORPHAN_CONDITION)

    async def _node_exists(self, name: str) -> bool:
        """checkIfNodeExists: a live GET (an error other than NotFound counts as existing)."""
        from vcluster.client import ApiError

        try:
            await self.client.get("v1", "nodes", name)
        except ApiError as e:
            if e.not_found:
                return False
            log.warning("error while getting node %s: %s", name, e)
        return True

    async def _delete_all(
        self, pods: list[Mapping[str, Any]], *, condition: Mapping[str, str] | None = None
    ) -> None:
        if pods:
            await asyncio.gather(*(self._mark_failed_and_delete(p, condition) for p in pods))

    async def _mark_failed_and_delete(
        self, pod: Mapping[str, Any], condition: Mapping[str, str] | None
    ) -> None:
        """markFailedAndDeletePodWithCondition: Failed (and the condition) by a server-side apply of
        the status unless terminal already, then a forced delete. Errors are logged (NotFound too,
        as upstream's HandleError does)."""
        from vcluster.client import ApiError

        ns, name = namespace_of(pod), name_of(pod)
        log.info("PodGC is force deleting Pod %s/%s", ns, name)
        try:
            if pod_phase(pod) not in ("Succeeded", "Failed"):
                status: dict[str, Any] = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [{**condition, "lastTransitionTime": fmt_time(self.clock())}]
                body = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": name, "namespace": ns},
                    "status": status,
                }
                await self.client.patch(
                    "v1", "pods", name, body, ns, patch_type="apply", subresource="status",
                    field_manager=FIELD_MANAGER, force=True,
                )  # fmt: skip
            await self.client.delete("v1", "pods", name, ns, grace_period_seconds=0)
        except ApiError as e:
            log.info("pod %s/%s not garbage collected: %s", ns, name, e)
