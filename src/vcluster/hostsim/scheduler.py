"""The simulated kube-scheduler: binds pending pods through pods/binding.

It keeps a resource view of every node fed by the pod and node informers (pods are "assumed" on
their node as soon as they are chosen, so parallel bindings never overcommit), filters nodes like
the default plugins (unschedulable, taints, node selector/affinity, host ports, resources), picks the least
allocated node, and reports pods that fit nowhere with PodScheduled=False/Unschedulable and a
FailedScheduling event. Unschedulable pods are retried when nodes or placed pods change (with a
1..10 s per-pod backoff) and at least every `unschedulable_retry_seconds`, never in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from vcluster.client import ApiError, Client, Informer, WorkQueue, obj_key
from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.events import EventRecorder, Source, object_ref
from vcluster.hostsim.podstatus import rfc3339
from vcluster.hostsim.predicates import (
    UNRESOLVABLE,
    HostPort,
    NodeView,
    PodFit,
    Usage,
    find_fit,
    fit_error,
    host_ports,
    score,
)
from vcluster.hostsim.resources import Resources, add, pod_requests, sub
from vcluster.hostsim.volumes import VolumeBinder
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.hostsim.scheduler")

Key = tuple[str, str]
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _request_shape(pod: dict[str, Any]) -> tuple[Any, ...]:
    """What pod_requests reads from the spec (resources, sidecar policies, overhead): equal shapes
    ask for the same, so a pod update that keeps it needs no recount."""
    spec = pod.get("spec") or {}
    return (
        [c.get("resources") for c in spec.get("containers") or [] if isinstance(c, dict)],
        [
            (c.get("resources"), c.get("restartPolicy"))
            for c in spec.get("initContainers") or []
            if isinstance(c, dict)
        ],
        spec.get("overhead"),
    )


class Scheduler:
    """Schedules the pods whose spec.schedulerName is the configured one."""

    def __init__(
        self,
        client: Client,
        config: HostSimConfig,
        pods: Informer,
        nodes: Informer,
        events: EventRecorder,
        volumes: VolumeBinder | None = None,
    ) -> None:
        self.client = client
        self.volumes = volumes
        self.config = config
        self.pods = pods
        self.events = events
        self.queue = WorkQueue("hostsim-scheduler", base_delay=0.05, max_delay=MAX_BACKOFF)
        self.source = Source(config.scheduler_name, "", f"{config.scheduler_name}-hostsim")
        self._nodes: dict[str, NodeView] = {}
        self._nodes_list: list[NodeView] | None = None
        self._next_start = 0  # where the next node search begins (round robin, like kube-scheduler)
        self._usage: dict[str, Usage] = {}
        # uid -> node, requests, nonzero requests, host ports
        self._placed: dict[str, tuple[str, Resources, Resources, tuple[HostPort, ...]]] = {}
        self._shapes: dict[str, tuple[Any, ...]] = {}  # uid -> the spec fields its requests come from
        self._assumed: dict[str, str] = {}  # uid -> node: chosen, not yet seen bound
        self._unschedulable: dict[Key, int] = {}  # key -> failed attempts
        self._volume_wait: dict[Key, set[Key]] = {}  # pod -> claims waiting to be provisioned
        self._tasks: list[asyncio.Task[None]] = []
        self.bound_total = 0
        self.failed_total = 0
        pods.add_handler(self._on_pod)
        nodes.add_handler(self._on_node)
        if volumes is not None:
            volumes.pvcs.add_handler(self._on_claim)

    # ------------------------------------------------------------------ informer handlers
    def _wants(self, pod: dict[str, Any]) -> bool:
        spec = pod.get("spec") or {}
        return (
            not spec.get("nodeName")
            and (spec.get("schedulerName") or "default-scheduler") == self.config.scheduler_name
            and not (pod.get("metadata") or {}).get("deletionTimestamp")
            and not _terminal(pod)
        )

    def _on_pod(self, event: str, pod: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = obj_key(pod)
        uid = (pod.get("metadata") or {}).get("uid", "")
        if event == "delete":
            self._assumed.pop(uid, None)
            self._unschedulable.pop(key, None)
            self._volume_wait.pop(key, None)
            if self._unplace(uid):
                self._retry_unschedulable()
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self._assumed.pop(uid, None)
            if _terminal(pod):
                if self._unplace(uid):
                    self._retry_unschedulable()
            else:
                self._place(uid, node, pod)
            return
        if uid in self._assumed or not self._wants(pod):
            return
        if key in self._unschedulable and old is not None and old.get("spec") == pod.get("spec"):
            return  # only a status/metadata change: waits for a cluster change or the periodic retry
        self.queue.add(key)

    def _on_node(self, event: str, node: dict[str, Any], old: dict[str, Any] | None) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        if event == "delete":
            self._nodes.pop(name, None)
            self._nodes_list = None
            return
        view = NodeView.from_node(node)
        prev = self._nodes.get(name)
        if prev is not None and prev.key() == view.key():
            return  # a heartbeat: nothing the scheduler looks at changed
        self._nodes[name] = view
        self._nodes_list = None
        self._retry_unschedulable()

    def _on_claim(self, event: str, pvc: dict[str, Any], old: dict[str, Any] | None) -> None:
        """A claim appeared, or got bound: pods waiting for it are tried again at once."""
        phase = (pvc.get("status") or {}).get("phase")
        if event == "update" and (old or {}).get("status", {}).get("phase") == phase:
            return
        claim = obj_key(pvc)
        for key, claims in list(self._volume_wait.items()):
            if claim in claims:
                self.queue.add(key)
        if event == "add":
            self._retry_unschedulable()

    def _retry_unschedulable(self) -> None:
        for key, attempts in list(self._unschedulable.items()):
            self.queue.add_after(key, min(INITIAL_BACKOFF * 2 ** max(0, attempts - 1), MAX_BACKOFF))

    # ------------------------------------------------------------------ accounting
    def _place(self, uid: str, node: str, pod: dict[str, Any], fit: PodFit | None = None) -> None:
        """Count the pod's requests on `node` (those of `fit` when given: computed already)."""
        shape = _request_shape(pod)
        cur = self._placed.get(uid)
        if cur is not None and cur[0] == node and self._shapes.get(uid) == shape:
            return  # the status or metadata changed, not what the pod asks for
        if fit is not None:
            entry = (node, fit.requests, fit.nonzero, tuple(fit.host_ports))
        else:
            entry = (node, pod_requests(pod), pod_requests(pod, nonzero=True), tuple(host_ports(pod)))
        if cur == entry:
            self._shapes[uid] = shape
            return
        self._unplace(uid)
        self._shapes[uid] = shape
        u = self._usage.setdefault(node, Usage())
        u.requested = add(u.requested, entry[1])
        u.nonzero = add(u.nonzero, entry[2])
        u.pods += 1
        for port in entry[3]:
            u.ports[port] = u.ports.get(port, 0) + 1
        self._placed[uid] = entry

    def _unplace(self, uid: str) -> bool:
        self._shapes.pop(uid, None)
        cur = self._placed.pop(uid, None)
        if cur is None:
            return False
        node, req, nonzero, ports = cur
        u = self._usage.get(node)
        if u is not None:
            u.requested = sub(u.requested, req)
            u.nonzero = sub(u.nonzero, nonzero)
            u.pods -= 1
            for port in ports:
                left = u.ports.get(port, 0) - 1
                if left > 0:
                    u.ports[port] = left
                else:
                    u.ports.pop(port, None)
        return True

    def _node_list(self) -> list[NodeView]:
        if self._nodes_list is None:
            self._nodes_list = list(self._nodes.values())
        return self._nodes_list

    def usage(self, node: str) -> Usage:
        """What is placed on `node` (bound and assumed pods)."""
        return self._usage.get(node) or Usage()

    # ------------------------------------------------------------------ scheduling
    async def _sync(self, key: Key) -> None:
        ns, name = key
        pod = self.pods.get(name, ns)
        if pod is None:
            self._unschedulable.pop(key, None)
            return
        md = pod.get("metadata") or {}
        uid = md.get("uid", "")
        if not self._wants(pod) or uid in self._assumed:
            self._unschedulable.pop(key, None)
            return
        if (pod.get("spec") or {}).get("schedulingGates"):
            self._unschedulable.pop(key, None)
            await self._set_unscheduled(pod, "SchedulingGated", GATED_MESSAGE)
            return
        fit = PodFit.from_pod(pod)
        nodes = self._node_list()
        vols = self.volumes.pod_volumes(pod) if self.volumes is not None else None
        if vols is not None and vols.error:
            self._volume_wait.pop(key, None)
            failed = [(UNRESOLVABLE, [])] * len(nodes)
            await self._unschedulable_pod(key, pod, fit, len(nodes), failed, vols.error)
            return
        if vols is not None:
            fit.volume_terms = vols.node_terms
        feasible, failed, pre, processed = find_fit(fit, nodes, self._usage, start=self._next_start)
        if nodes:
            self._next_start = (self._next_start + processed) % len(nodes)
        if not feasible:
            await self._unschedulable_pod(key, pod, fit, len(nodes), failed, pre)
            return
        best = self._select(fit, feasible)
        if vols is not None and vols.unbound_delayed and self.volumes is not None:
            # WaitForFirstConsumer: the claims learn the node, the pod is bound once they are
            self._volume_wait[key] = {obj_key(c) for c in vols.unbound_delayed}
            await self.volumes.select_node(vols.unbound_delayed, best.name)
            return
        self._volume_wait.pop(key, None)
        # Assume before the first await so that concurrent workers see the node's new usage.
        self._assumed[uid] = best.name
        self._place(uid, best.name, pod, fit)
        try:
            await self.client.create(
                "v1",
                "pods",
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name, "namespace": ns, "uid": uid},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": best.name},
                },
                namespace=ns,
                subresource="binding",
                name=name,
            )
        except ApiError as e:
            if self._assumed.pop(uid, None) is not None:
                cur = self.pods.get(name, ns)
                if cur is None or not (cur.get("spec") or {}).get("nodeName"):
                    self._unplace(uid)
            if e.conflict or e.not_found:
                log.debug("binding %s/%s: %s", ns, name, e)
                return
            raise
        self._unschedulable.pop(key, None)
        self.bound_total += 1
        self.events.event(
            object_ref(pod),
            "Normal",
            "Scheduled",
            f"Successfully assigned {ns}/{name} to {best.name}",
            self.source,
            action="Binding",
        )

    def _select(self, fit: PodFit, feasible: list[NodeView]) -> NodeView:
        best: list[NodeView] = []
        top = -1.0
        for node in feasible:
            s = score(fit, node, self.usage(node.name))
            if s > top:
                top, best = s, [node]
            elif s == top:
                best.append(node)
        return best[0] if len(best) == 1 else random.choice(best)

    async def _unschedulable_pod(
        self,
        key: Key,
        pod: dict[str, Any],
        fit: PodFit,
        num_nodes: int,
        failed: list[tuple[str, list[str]]],
        pre: str,
    ) -> None:
        msg = fit_error(num_nodes, failed, prefilter_msg=pre, preemption_never=fit.preemption_never)
        self._unschedulable[key] = self._unschedulable.get(key, 0) + 1
        self.failed_total += 1
        self.events.event(
            object_ref(pod), "Warning", "FailedScheduling", msg, self.source, action="Scheduling"
        )
        await self._set_unscheduled(pod, "Unschedulable", msg)

    async def _set_unscheduled(self, pod: dict[str, Any], reason: str, message: str) -> None:
        """PodScheduled=False with `reason`, unless the pod already says so."""
        md = pod.get("metadata") or {}
        conds = (pod.get("status") or {}).get("conditions") or []
        cur = next((c for c in conds if isinstance(c, dict) and c.get("type") == "PodScheduled"), None)
        if (
            cur
            and cur.get("status") == "False"
            and cur.get("reason") == reason
            and cur.get("message") == message
        ):
            return
        ltt = cur.get("lastTransitionTime") if cur and cur.get("status") == "False" else None
        cond = {
            "type": "PodScheduled",
            "status": "False",
            "lastProbeTime": None,
            "lastTransitionTime": ltt or rfc3339(time.time()),
            "reason": reason,
            "message": message,
        }
        try:
            await self.client.patch(
                "v1",
                "pods",
                md.get("name", ""),
                {"metadata": {"uid": md.get("uid")}, "status": {"conditions": [cond]}},
                namespace=md.get("namespace"),
                subresource="status",
                patch_type="strategic",
            )
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise

    # ------------------------------------------------------------------ lifecycle
    async def _periodic_retry(self) -> None:
        while True:
            await asyncio.sleep(self.config.unschedulable_retry_seconds)
            self._retry_unschedulable()

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(
                self.queue.run(self._sync, self.config.scheduler_workers), name="hostsim scheduler"
            ),
            asyncio.create_task(self._periodic_retry(), name="hostsim scheduler retry"),
        ]

    async def stop(self) -> None:
        self.queue.shutdown()
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)
