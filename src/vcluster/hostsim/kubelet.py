"""The simulated kubelets of all simulated nodes: pod lifecycle driven by one pod informer.

Level-triggered: every pod bound to a simulated node is a work-queue key; a sync reads the pod
(the informer cache, or the newer object our last write returned) and takes the next step:
ContainerCreating (optional) -> Running (IP from the node's CIDR, container statuses, the pod
conditions, Pulled/Created/Started events) -> Ready (after the probes' initial delay) ->
Succeeded after `run_seconds` for restartPolicy Never/OnFailure (Failed with DeadlineExceeded,
containers killed with exit code 137, once spec.activeDeadlineSeconds have passed since
status.startTime, as kubelet's activeDeadlineHandler); ephemeral containers added to a
started pod (pods/ephemeralcontainers) start at once, with the same events and a running
`ephemeralContainerStatuses` entry, and end with the pod; a pod with deletionTimestamp
is stopped (Killing events, terminated containers) and deleted with grace 0 and a UID
precondition after min(grace, deletion_grace_cap). Timed steps use the queue's add_after (a
timer handle, no task per pod).

Like kubelet 1.32, a pod waits for the ConfigMaps and Secrets it needs (see podrefs): a volume
that cannot be set up keeps it ContainerCreating with a Warning FailedMount event per attempt
(retried after 0.5 s, doubling up to 2 min 2 s, the volume manager's backoff); a container whose
environment cannot be resolved waits in CreateContainerConfigError with a Warning Failed event
(retried every 10 s, the pod worker's backoff). The checks read the configmaps and secrets
informers; a missing object is confirmed with a GET (the caches may lag behind the pod). A pod
that waits is indexed by what it waits for, and a change of one of those objects retries it at once.

Containers exit only when the pod says so: the annotations `hostsim.vcluster.loft.sh/exit-code`
(`"1"`: the pod's containers exit 1; `"app=3,setup=0"`: by container, init containers by name only)
and `hostsim.vcluster.loft.sh/run-seconds` (`"2"`, `"app=0.5"`: how long they run first; see
exitscript.py; an entry that cannot be used is ignored with a Warning InvalidHostSimAnnotation
event). Such a pod goes through restarts.py: restarts per restartPolicy, restartCount and
lastState, CrashLoopBackOff with kubelet's backoff (`restart_backoff` doubling up to
`restart_backoff_max`) and BackOff events, init containers one after the other, getPhase. A pod
without them takes the plain path above, with no extra request.

A pod spec update the kubelet acts on: a new image of a running container (or sidecar) makes it
kill the container (Killing "Container <name> definition changed, will be restarted") and start
it again from the new image (Pulling/Pulled, Created, Started), restartCount + 1 and the killed
container in lastState.terminated (restarts.py); from then on the pod takes the scripted path
(without annotations: an empty script, whose containers run as on the plain path) so its statuses
keep the restart counts. A lowered activeDeadlineSeconds is checked at the update's sync.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from vcluster.client import ApiError, Client, Informer, WorkQueue, obj_key
from vcluster.client.informer import Handler
from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.events import EventRecorder, Source, object_ref
from vcluster.hostsim.exitscript import INVALID_REASON, Script
from vcluster.hostsim.exitscript import parse as parse_script_annotations
from vcluster.hostsim.nodes import SimNode
from vcluster.hostsim.podrefs import (
    CONFIGMAP,
    PLURALS,
    SECRET,
    Failure,
    Lookup,
    RefKey,
    config_failures,
    mount_failures,
)
from vcluster.hostsim.podstatus import (
    config_blocked,
    config_error_status,
    container_id,
    creating_status,
    ephemeral_statuses,
    ephemeral_to_start,
    finished_status,
    host_network,
    is_ready,
    is_started,
    normalize_image,
    parse_time,
    readiness_delay,
    running_status,
    started_ephemeral,
)
from vcluster.hostsim.restarts import (
    PodClock,
    Timing,
    advance,
    grace_period,
    has_restarted,
    pod_ref,
    respec_pending,
    stop_delay,
    stopped,
)
from vcluster.hostsim.statuspatch import pod_status_patch
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.hostsim.kubelet")

Key = tuple[str, str]
_OVERRIDE_TTL = 30.0
MOUNT_RETRY = 0.5  # the volume manager's first retry of a failed mount, doubling ...
MOUNT_RETRY_MAX = 122.0  # ... up to 2 min 2 s (exponentialbackoff.maxDurationBeforeRetry)
CONFIG_RETRY = 10.0  # the pod worker's backoff after a failed sync (CreateContainerConfigError)
DEADLINE_EXCEEDED = "DeadlineExceeded"  # pkg/kubelet/active_deadline.go
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
Check = Callable[[Lookup], list[Failure]]


def parse_script(pod: dict[str, Any], clock: PodClock | None = None) -> Script | None:
    """The pod's exit script; an empty one (containers run as without annotations) for a pod whose
    containers were or are to be restarted for a spec change (`clock`: the spec images they were
    started from), so that restarts.py keeps its restart counts; None for the plain path."""
    script = parse_script_annotations(pod)
    if script is None and (has_restarted(pod) or respec_pending(pod, clock)):
        return Script()
    return script


def _rv_int(obj: dict[str, Any]) -> int | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return int(rv) if isinstance(rv, str) and rv.isdigit() else None


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _started_names(status: dict[str, Any], field: str) -> set[str]:
    """The containers of a status list (`containerStatuses`, ...) that have a container ID."""
    return {
        c.get("name", "") for c in status.get(field) or [] if isinstance(c, dict) and c.get("containerID")
    }


def _ran(pod: dict[str, Any], script: Script | None) -> bool:
    """Whether the kubelet started the pod's containers; of a scripted pod, also its init containers
    (its containers wait for them)."""
    if is_started(pod):
        return True
    return script is not None and bool(_started_names(pod.get("status") or {}, "initContainerStatuses"))


def _sandbox_ip(pod: dict[str, Any]) -> str | None:
    """The pod's IP once its sandbox is up, None before. A hostNetwork pod shows the node's IP from
    its first status on, so its sandbox is up once PodReadyToStartContainers is True."""
    status = pod.get("status") or {}
    if not host_network(pod):
        return status.get("podIP") or None
    ready = any(
        isinstance(c, dict) and c.get("type") == "PodReadyToStartContainers" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return (status.get("podIP") or None) if ready else None


def _pod_ip(pod: dict[str, Any], node: SimNode) -> str:
    """The IP a new sandbox gets: the node's for a hostNetwork pod (no CNI address is used), else the
    next free one of the node's podCIDR."""
    return node.address if host_network(pod) else node.ipam.allocate(pod["metadata"]["uid"])


def container_started_at(pod: dict[str, Any]) -> float | None:
    """When the pod's containers started, from its status."""
    status = pod.get("status") or {}
    for c in status.get("containerStatuses") or []:
        state = (c or {}).get("state") or {}
        for s in ("running", "terminated"):
            t = parse_time((state.get(s) or {}).get("startedAt"))
            if t is not None:
                return t
    return parse_time(status.get("startTime"))


class Kubelet:
    """Runs the pods of every simulated node."""

    def __init__(
        self,
        client: Client,
        config: HostSimConfig,
        pods: Informer,
        nodes: dict[str, SimNode],
        events: EventRecorder,
        configmaps: Informer | None = None,
        secrets: Informer | None = None,
    ) -> None:
        """Without `configmaps` and `secrets` informers, pods start without waiting for objects."""
        self.client = client
        self.config = config
        self.pods = pods
        self.nodes = nodes
        self.events = events
        self._objects = (
            {CONFIGMAP: configmaps, SECRET: secrets} if configmaps is not None and secrets is not None else {}
        )
        self._waiting: dict[RefKey, set[Key]] = {}  # object -> pods waiting for it
        self._waits: dict[Key, set[RefKey]] = {}  # pod -> the objects it waits for
        self._retry: dict[Key, tuple[float, float]] = {}  # waiting pod -> (next attempt, last delay)
        self.queue = WorkQueue("hostsim-kubelet", base_delay=0.05, max_delay=10.0)
        self._override: dict[Key, tuple[dict[str, Any], float]] = {}  # newer than the cache
        self._started: dict[str, float] = {}  # uid -> containers started (wall clock)
        self._creating: dict[str, float] = {}  # uid -> ContainerCreating written
        self._killing: dict[str, float] = {}  # uid -> stop requested (Killing posted)
        self._deleted: set[str] = set()  # uid: final delete sent
        self._clocks: dict[str, PodClock] = {}  # uid -> times and backoff of a scripted pod
        self._tasks: list[asyncio.Task[None]] = []
        self.started_total = 0
        self.completed_total = 0
        self.deleted_total = 0
        self.blocked_total = 0  # failed attempts to start a pod (FailedMount, CreateContainerConfigError)
        pods.add_handler(self._on_pod)
        for kind, inf in self._objects.items():
            assert inf is not None
            inf.add_handler(self._on_object(kind))

    # ------------------------------------------------------------------ cache
    def _node(self, pod: dict[str, Any]) -> SimNode | None:
        name = (pod.get("spec") or {}).get("nodeName")
        return self.nodes.get(name) if name else None

    def _on_pod(self, event: str, pod: dict[str, Any], old: dict[str, Any] | None) -> None:
        node = self._node(pod)
        if node is None:
            return
        key = obj_key(pod)
        uid = (pod.get("metadata") or {}).get("uid", "")
        if event == "delete":
            self._forget(key, uid, node)
            return
        ov = self._override.get(key)
        if ov is not None:
            have, want = _rv_int(pod), _rv_int(ov[0])
            if (ov[0].get("metadata") or {}).get("uid") != uid or (
                have is not None and want is not None and have >= want
            ):
                del self._override[key]
        status = pod.get("status") or {}
        if _terminal(pod):
            node.ipam.release(uid)
        elif status.get("podIP"):
            node.ipam.reserve(uid, status["podIP"])
        self.queue.add(key)

    def _forget(self, key: Key, uid: str, node: SimNode) -> None:
        ov = self._override.get(key)
        if ov is not None and (ov[0].get("metadata") or {}).get("uid") == uid:
            del self._override[key]
        node.ipam.release(uid)
        self._started.pop(uid, None)
        self._creating.pop(uid, None)
        self._killing.pop(uid, None)
        self._deleted.discard(uid)
        self._clocks.pop(uid, None)
        self._unwait(key)

    def current(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The newest known state of a pod: the informer's, or what our last write returned."""
        key = (namespace, name)
        cached = self.pods.get(name, namespace)
        ov = self._override.get(key)
        if ov is None:
            return cached
        obj, at = ov
        if cached is None or time.monotonic() - at > _OVERRIDE_TTL:
            del self._override[key]
            return cached
        if (cached.get("metadata") or {}).get("uid") != (obj.get("metadata") or {}).get("uid"):
            return cached
        return obj

    def pod_for_logs(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The pod if it runs on a simulated node (for the kubelet HTTP server)."""
        pod = self.current(namespace, name)
        return pod if pod is not None and self._node(pod) is not None else None

    def started_at(self, uid: str) -> float | None:
        """When we started the pod's containers (sub-second), if this process did."""
        return self._started.get(uid)

    @property
    def waiting(self) -> int:
        """Pods waiting for a ConfigMap or Secret (or a key of one)."""
        return len(self._waits)

    def running_pods(self) -> list[dict[str, Any]]:
        """Pods bound to the simulated nodes (the kubelet's /pods)."""
        return [p for p in self.pods.list() if self._node(p) is not None]

    # ------------------------------------------------------------------ writes
    async def _write_status(self, pod: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Patch the pod's status with `status` (kubelet's PatchPodStatus: a strategic merge patch
        of what changed, the UID as precondition; no request when nothing did); the pod as written."""
        md = pod["metadata"]
        changes = pod_status_patch(pod.get("status") or {}, status)
        if not changes:
            return pod
        new = await self.client.patch(
            "v1",
            "pods",
            md["name"],
            {"metadata": {"uid": md["uid"]}, "status": changes},
            namespace=md["namespace"],
            subresource="status",
            patch_type="strategic",
        )
        self._override[(md["namespace"], md["name"])] = (new, time.monotonic())
        return new

    def _event(
        self,
        pod: dict[str, Any],
        node: SimNode,
        reason: str,
        message: str,
        field_path: str = "",
        etype: str = "Normal",
    ) -> None:
        self.events.event(
            object_ref(pod, field_path), etype, reason, message, Source("kubelet", node.name, node.name)
        )

    # ------------------------------------------------------------------ sync
    async def _sync(self, key: Key) -> None:
        pod = self.current(*key)
        if pod is None:
            return
        node = self._node(pod)
        if node is None:
            return
        now = time.time()
        script = parse_script(pod, self._clocks.get(pod["metadata"]["uid"]))
        try:
            if (pod.get("metadata") or {}).get("deletionTimestamp"):
                await self._terminate(key, pod, node, now, script)
            elif _terminal(pod):
                node.ipam.release(pod["metadata"]["uid"])
                self._clocks.pop(pod["metadata"]["uid"], None)
            elif await self._deadline_exceeded(key, pod, node, now, script):
                return
            elif not _ran(pod, script) or (self._objects and config_blocked(pod)):
                await self._start(key, pod, node, now, script)
            else:
                await self._progress(key, pod, node, now, script)
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
            # The pod went away or was replaced (UID precondition): its informer event follows.
            log.debug("pod %s/%s changed under us: %s", key[0], key[1], e)

    async def _start(
        self, key: Key, pod: dict[str, Any], node: SimNode, now: float, script: Script | None = None
    ) -> None:
        uid = pod["metadata"]["uid"]
        retry = self._retry.get(key)
        if retry is not None and now < retry[0]:
            self.queue.add_after(key, retry[0] - now)  # a failed attempt's backoff runs
            return
        ip = _sandbox_ip(pod)
        if not ip:  # volumes, then the sandbox
            if not await self._volumes_ready(key, pod, node, now):
                return
            delay = self.config.start_seconds
            if delay > 0:
                since = self._creating.get(uid)
                if since is None:
                    await self._write_status(pod, creating_status(pod, node.address, now))
                    self._creating[uid] = now
                    self.queue.add_after(key, delay)
                    return
                if now < since + delay:
                    self.queue.add_after(key, since + delay - now)
                    return
            ip = _pod_ip(pod, node)
        if not await self._configs_ready(key, pod, node, ip, now):
            return
        self._unwait(key)
        if script is not None:
            self._script_warnings(pod, node, script)
            await self._advance(key, pod, node, script, ip, now, now)
            self._started[uid] = now
            self._creating.pop(uid, None)
            self.started_total += 1
            return
        self._container_events(pod, node)
        ready_in = readiness_delay(pod)
        await self._write_status(pod, running_status(pod, node.address, ip, now, ready_in <= 0, now))
        self._remember_images(pod)
        self._started[uid] = now
        self._creating.pop(uid, None)
        self.started_total += 1
        if ready_in > 0:
            self.queue.add_after(key, ready_in)
        if self._runs_to_completion(pod):
            self.queue.add_after(key, self.config.run_seconds)

    def _container_events(
        self, pod: dict[str, Any], node: SimNode, new_status: dict[str, Any] | None = None
    ) -> None:
        """Start events of the containers the pod's status does not show started yet (of those
        `new_status` starts, if given)."""
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        for kind, field in (
            ("initContainers", "initContainerStatuses"),
            ("containers", "containerStatuses"),
            ("ephemeralContainers", ""),
        ):
            before = _started_names(status, field)
            after = _started_names(new_status, field) if new_status is not None else None
            for c in spec.get(kind) or []:
                name = c.get("name") if isinstance(c, dict) else None
                if name is not None and name not in before and (after is None or name in after):
                    self._start_events(pod, node, kind, c)

    def _start_events(self, pod: dict[str, Any], node: SimNode, kind: str, c: dict[str, Any]) -> None:
        """Pulling/Pulled, Created and Started of one container (`kind`: its list in the spec)."""
        name = c.get("name", "")
        fp = f"spec.{kind}{{{name}}}"
        self._image_events(pod, node, c, fp)
        self._event(pod, node, "Created", f"Created container: {name}", fp)
        self._event(pod, node, "Started", f"Started container {name}", fp)

    def _image_events(self, pod: dict[str, Any], node: SimNode, c: dict[str, Any], fp: str) -> None:
        """Pulling/Pulled: the image step of every attempt to start a container."""
        image = str(c.get("image") or "")
        if c.get("imagePullPolicy") == "Always":
            self._event(pod, node, "Pulling", f'Pulling image "{image}"', fp)
            size = 50_000_000 + sum(map(ord, normalize_image(image))) * 1000
            self._event(
                pod,
                node,
                "Pulled",
                f'Successfully pulled image "{image}" in 312ms (312ms including waiting). '
                f"Image size: {size} bytes.",
                fp,
            )
        else:
            self._event(pod, node, "Pulled", f'Container image "{image}" already present on machine', fp)

    # ------------------------------------------------------------------ configmaps and secrets
    def _cached(self, ref: RefKey) -> dict[str, Any] | None:
        inf = self._objects.get(ref[1])
        return inf.get(ref[2], ref[0] or None) if inf is not None else None

    async def _fetch(self, refs: Iterable[RefKey]) -> dict[RefKey, dict[str, Any] | None]:
        """The objects as the API server has them now (None: not found); refs it could not be
        asked about are left out (the cache answers for them)."""
        out: dict[RefKey, dict[str, Any] | None] = {}
        for ref in refs:
            try:
                out[ref] = await self.client.get("v1", PLURALS[ref[1]], ref[2], ref[0])
            except ApiError as e:
                if e.not_found:
                    out[ref] = None
                else:
                    log.debug("cannot read %s %s/%s: %s", ref[1], ref[0], ref[2], e)
        return out

    async def _failures(self, check: Check) -> list[Failure]:
        """What `check` finds missing, each miss of the caches confirmed by the API server."""
        if not self._objects:
            return []
        known: dict[RefKey, dict[str, Any] | None] = {}

        def lookup(ref: RefKey) -> dict[str, Any] | None:
            return known[ref] if ref in known else self._cached(ref)

        while True:
            failures = check(lookup)
            unconfirmed = {r for f in failures for r in f.refs if r not in known}
            if not unconfirmed:
                return failures
            fetched = await self._fetch(unconfirmed)
            if not fetched:
                return failures
            known.update(fetched)
            known.update((r, self._cached(r)) for r in unconfirmed if r not in fetched)

    def _wait_for(self, key: Key, failures: list[Failure], delay: float, now: float) -> None:
        """Retry `key` after `delay`, or as soon as an object it waits for changes."""
        refs = {r for f in failures for r in f.refs}
        old = self._waits.get(key, set())
        for r in old - refs:
            self._unindex(r, key)
        for r in refs - old:
            self._waiting.setdefault(r, set()).add(key)
        self._waits[key] = refs
        self._retry[key] = (now + delay, delay)
        self.blocked_total += 1
        self.queue.add_after(key, delay)

    def _unindex(self, ref: RefKey, key: Key) -> None:
        keys = self._waiting.get(ref)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._waiting[ref]

    def _unwait(self, key: Key) -> None:
        for r in self._waits.pop(key, ()):
            self._unindex(r, key)
        self._retry.pop(key, None)

    def _on_object(self, kind: str) -> Handler:
        """A ConfigMap or Secret handler: pods waiting for the object retry at once."""

        def handle(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            if event == "delete" or not self._waiting:
                return
            md = obj.get("metadata") or {}
            keys = self._waiting.get((md.get("namespace") or "", kind, md.get("name") or ""))
            for key in list(keys or ()):
                retry = self._retry.get(key)
                if retry is not None:
                    self._retry[key] = (0.0, retry[1])
                self.queue.add(key)

        return handle

    async def _volumes_ready(self, key: Key, pod: dict[str, Any], node: SimNode, now: float) -> bool:
        """Whether every mounted volume can be set up; if not: ContainerCreating, FailedMount."""
        failures = await self._failures(lambda lookup: mount_failures(pod, lookup))
        if not failures:
            return True
        uid = pod["metadata"]["uid"]
        if uid not in self._creating:
            await self._write_status(pod, creating_status(pod, node.address, now))
            self._creating[uid] = now
        for f in failures:
            self._event(pod, node, "FailedMount", f.mount_message, etype="Warning")
        last = self._retry.get(key)
        delay = min(MOUNT_RETRY_MAX, last[1] * 2) if last is not None else MOUNT_RETRY
        self._wait_for(key, failures, delay, now)
        return False

    async def _configs_ready(self, key: Key, pod: dict[str, Any], node: SimNode, ip: str, now: float) -> bool:
        """Whether every container's environment resolves; if not, the sandbox is up (`ip`), the
        containers that can start run, the others wait in CreateContainerConfigError."""
        failures = await self._failures(lambda lookup: config_failures(pod, lookup))
        if not failures:
            return True
        status = config_error_status(
            pod, node.address, ip, now, {(f.field, f.name): f.error for f in failures}
        )
        self._container_events(pod, node, status)
        spec = pod.get("spec") or {}
        for f in failures:
            c = next(
                (c for c in spec.get(f.field) or [] if isinstance(c, dict) and c.get("name") == f.name), {}
            )
            fp = f"spec.{f.field}{{{f.name}}}"
            self._image_events(pod, node, c, fp)
            self._event(pod, node, "Failed", f"Error: {f.error}", fp, etype="Warning")
        old = pod.get("status") or {}
        if any(old.get(k) != v for k, v in status.items()):
            await self._write_status(pod, status)
        self._wait_for(key, failures, CONFIG_RETRY, now)
        return False

    async def _start_ephemeral(self, pod: dict[str, Any], node: SimNode, now: float) -> dict[str, Any]:
        """Start the ephemeral containers added to a running pod's spec; the pod as written."""
        pending = ephemeral_to_start(pod)
        if not pending:
            return pod
        for c in pending:
            self._start_events(pod, node, "ephemeralContainers", c)
        return await self._write_status(pod, {"ephemeralContainerStatuses": ephemeral_statuses(pod, now)})

    # ------------------------------------------------------------------ scripted exits
    @property
    def _timing(self) -> Timing:
        cfg = self.config
        return Timing(cfg.run_seconds, cfg.restart_backoff, cfg.restart_backoff_max, cfg.deletion_grace_cap)

    def _script_warnings(self, pod: dict[str, Any], node: SimNode, script: Script) -> None:
        """A Warning event for each annotation entry that is ignored."""
        for problem in script.problems:
            self._event(pod, node, INVALID_REASON, problem, etype="Warning")

    async def _advance(
        self, key: Key, pod: dict[str, Any], node: SimNode, script: Script, ip: str, begin: float, now: float
    ) -> None:
        """Take a scripted pod's containers to `now` (exits, restarts, backoff); write what changed."""
        uid = pod["metadata"]["uid"]
        out = advance(
            pod, script, self._clocks.setdefault(uid, PodClock()), self._timing, node.address, ip, begin, now
        )
        for kind, name, message in out.killed:
            self._event(pod, node, "Killing", message, f"spec.{kind}{{{name}}}")
        for kind, c in out.started:
            self._start_events(pod, node, kind, c)
        for kind, name in out.backoffs:
            message = f"Back-off restarting failed container {name} in pod {pod_ref(pod)}"
            self._event(pod, node, "BackOff", message, f"spec.{kind}{{{name}}}", "Warning")
        old = pod.get("status") or {}
        if any(old.get(k) != v for k, v in out.status.items()):
            await self._write_status(pod, out.status)
        if out.terminal:
            node.ipam.release(uid)
            self._clocks.pop(uid, None)
            self.completed_total += 1
        elif out.wake is not None:
            self.queue.add_after(key, out.wake - now)

    def _stopped(
        self, pod: dict[str, Any], node: SimNode, script: Script, ip: str | None, now: float, **kw: Any
    ) -> dict[str, Any]:
        clock = self._clocks.setdefault(pod["metadata"]["uid"], PodClock())
        return stopped(pod, script, clock, self._timing, node.address, ip, now, **kw)

    def _remember_images(self, pod: dict[str, Any]) -> None:
        """The spec images the plain path's containers (and sidecars) started from: the kubelet's
        container hash, which a later image change is compared with."""
        uid = pod["metadata"]["uid"]
        images = self._clocks.setdefault(uid, PodClock()).images
        for kind in ("initContainers", "containers"):
            for c in (pod.get("spec") or {}).get(kind) or []:
                if isinstance(c, dict):
                    images[container_id(uid, str(c.get("name", "")))] = str(c.get("image") or "")

    def _runs_to_completion(self, pod: dict[str, Any]) -> bool:
        return (pod.get("spec") or {}).get("restartPolicy", "Always") != "Always"

    async def _progress(
        self, key: Key, pod: dict[str, Any], node: SimNode, now: float, script: Script | None = None
    ) -> None:
        uid = pod["metadata"]["uid"]
        pod = await self._start_ephemeral(pod, node, now)
        started = self._started.get(uid) or container_started_at(pod) or now
        ip = (pod.get("status") or {}).get("podIP") or _pod_ip(pod, node)
        if script is not None:
            await self._advance(key, pod, node, script, ip, started, now)
            return
        if self._runs_to_completion(pod):
            done_at = started + self.config.run_seconds
            if now >= done_at:
                await self._write_status(pod, finished_status(pod, node.address, ip, started, now, now))
                node.ipam.release(uid)
                self.completed_total += 1
                return
            self.queue.add_after(key, done_at - now)
        if not is_ready(pod):
            ready_at = started + readiness_delay(pod)
            if now >= ready_at:
                await self._write_status(pod, running_status(pod, node.address, ip, started, True, now))
            else:
                self.queue.add_after(key, ready_at - now)

    def _active_since(self, pod: dict[str, Any]) -> float | None:
        """status.startTime, with the sub-second time of the write that set it when we made it."""
        since = parse_time((pod.get("status") or {}).get("startTime"))
        if since is None:
            return None
        uid = pod["metadata"]["uid"]
        own = [t for t in (self._creating.get(uid), self._started.get(uid)) if t is not None]
        return min([t for t in own if since <= t < since + 1], default=since)

    async def _deadline_exceeded(
        self, key: Key, pod: dict[str, Any], node: SimNode, now: float, script: Script | None = None
    ) -> bool:
        """kubelet's activeDeadlineHandler: once spec.activeDeadlineSeconds have passed since
        status.startTime the pod is Failed (DeadlineExceeded) and its containers are killed.
        False (with a timer for the deadline) while the pod may still run."""
        seconds = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        since = self._active_since(pod)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or since is None:
            return False
        if now < since + seconds:
            self.queue.add_after(key, since + seconds - now)
            return False
        uid = pod["metadata"]["uid"]
        self._event(pod, node, DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
        if _ran(pod, script):
            self._killing_events(pod, node)
        ip = (pod.get("status") or {}).get("podIP")
        if script is not None:
            status = self._stopped(pod, node, script, ip, now, exit_code=137, reason="Error")
        else:
            started = self._started.get(uid) or container_started_at(pod) or now
            status = finished_status(pod, node.address, ip, started, now, now, exit_code=137, reason="Error")
        status.update(reason=DEADLINE_EXCEEDED, message=DEADLINE_MESSAGE)
        await self._write_status(pod, status)
        node.ipam.release(uid)
        self._unwait(key)
        return True

    async def _terminate(
        self, key: Key, pod: dict[str, Any], node: SimNode, now: float, script: Script | None = None
    ) -> None:
        md = pod["metadata"]
        uid = md["uid"]
        if uid in self._deleted:
            return  # waiting for finalizers to go
        if _ran(pod, script) and not _terminal(pod):
            since = self._killing.get(uid)
            if since is None:
                since = self._killing[uid] = now
                self._killing_events(pod, node)
            # the processes exit on SIGTERM (at once unless the pod's stop-seconds say otherwise),
            # or are killed when the grace period (capped by deletion_grace_cap) ends
            grace = grace_period(pod, self._timing, md.get("deletionGracePeriodSeconds"))
            stop_at = since + (stop_delay(pod, script, self._timing, grace) if script is not None else 0.0)
            if now < stop_at:
                self.queue.add_after(key, stop_at - now)
                return
            started = self._started.get(uid) or container_started_at(pod) or now
            ip = (pod.get("status") or {}).get("podIP")
            if script is not None:
                status = self._stopped(pod, node, script, ip, stop_at, sigterm=(since, grace))
            else:
                status = finished_status(pod, node.address, ip, started, now, now)
            try:
                pod = await self._write_status(pod, status)
            except ApiError as e:
                if e.not_found or e.conflict:
                    return
                raise
        try:
            await self.client.delete(
                "v1",
                "pods",
                md["name"],
                md["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": uid},
            )
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
        self._deleted.add(uid)
        node.ipam.release(uid)
        self.deleted_total += 1

    def _killing_events(self, pod: dict[str, Any], node: SimNode) -> None:
        """Killing of the containers, then of the ephemeral containers that were started."""
        spec = pod.get("spec") or {}
        running = {n for n, c in started_ephemeral(pod).items() if (c.get("state") or {}).get("running")}
        ephemeral = [c for c in spec.get("ephemeralContainers") or [] if (c or {}).get("name") in running]
        for kind, items in (("containers", spec.get("containers") or []), ("ephemeralContainers", ephemeral)):
            for c in items:
                name = (c or {}).get("name", "")
                self._event(pod, node, "Killing", f"Stopping container {name}", f"spec.{kind}{{{name}}}")

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(
                self.queue.run(self._sync, self.config.kubelet_workers), name="hostsim kubelet"
            )
        ]

    async def stop(self) -> None:
        self.queue.shutdown()
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)
