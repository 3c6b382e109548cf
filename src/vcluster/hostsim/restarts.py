"""Scripted container exits as kubelet 1.32 handles them (pure): restarts, backoff, statuses.

For a pod with exit annotations (exitscript.py) `advance` takes the status the kubelet last wrote
to `now`: init containers run one after the other (a sidecar lets the next one start once it
runs), then the containers; a container that exits is restarted or not per its Rule
(kuberuntime_manager computePodActions: restartPolicy Always restarts any exit, OnFailure a
non-zero one, Never none; a failed init container is retried unless the pod's policy is Never).
A restart goes through kubelet's container backoff (flowcontrol.Backoff keyed by container): the
first exit restarts at once, later ones wait `initial` seconds doubling up to `max` while the
container shows `waiting: CrashLoopBackOff` with kubelet's message, and an exit more than twice
`max` after the last restart starts over. A restart increments restartCount and moves the exit to
`lastState.terminated` (reason Completed for 0, Error otherwise). A running container (or sidecar)
whose spec image changed is killed and started again with the new image, whatever the restart
policy (computePodActions: containerChanged; HashContainer hashes the name and the image string as
the spec gives it since 1.31, so `nginx` -> `docker.io/library/nginx:latest` restarts too: the
image a container was started with is kept in the PodClock, the normalised status image is only the
fallback for containers started before the simulator was), with a Killing event "Container <name>
definition changed, will be restarted" ("Init container <name> definition changed" for a sidecar).
The kill goes through the pod's terminationGracePeriodSeconds (capped by `grace_cap`): the
container keeps running and ready until its process exits on SIGTERM (`stop_for`, exit 0 Completed)
or the grace period ends (SIGKILL, 137 Error), and the new one starts then. Since the backoff is keyed
by the container's hash, a container waiting in CrashLoopBackOff starts with a new image at once.
The phase is kubelet's getPhase, the conditions those of pkg/kubelet/status/generate.go.
Transitions are simulated at the times they were due, so a late sync does not shift the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vcluster.hostsim.exitscript import Rule, Script
from vcluster.hostsim.podstatus import (
    _base,
    _conditions,
    _containers,
    _ephemeral_finished,
    _names,
    _status_entry,
    container_id,
    container_readiness_delay,
    ephemeral_statuses,
    normalize_image,
    parse_time,
    rfc3339,
)

CRASH_LOOP = "CrashLoopBackOff"
MAX_STEPS = 64  # transitions of one container in one sync (the rest at the next sync)


@dataclass
class Backoff:
    """One entry of kubelet's container backoff."""

    delay: float
    last_update: float


@dataclass
class PodClock:
    """What the kubelet keeps of a scripted pod beside its status: sub-second times, backoff."""

    starts: dict[str, float] = field(default_factory=dict)  # container ID -> started
    ends: dict[str, float] = field(default_factory=dict)  # container ID -> exited
    backoff: dict[str, Backoff] = field(default_factory=dict)  # container name -> entry
    images: dict[str, str] = field(default_factory=dict)  # container ID -> spec image it started from
    killing: dict[str, float] = field(default_factory=dict)  # container ID -> SIGTERM sent


@dataclass(frozen=True)
class Timing:
    run_seconds: float
    backoff_initial: float
    backoff_max: float
    grace_cap: float = float("inf")  # the simulated grace periods last at most this long


DEFAULT_GRACE = 30.0  # spec.terminationGracePeriodSeconds default


def grace_period(pod: dict[str, Any], timing: Timing, seconds: object = None) -> float:
    """The grace period of a kill: `seconds` (a deletion's), else the pod's
    terminationGracePeriodSeconds, capped by `timing.grace_cap`."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        seconds = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        seconds = DEFAULT_GRACE
    return max(0.0, min(float(seconds), timing.grace_cap))


def stop_after(rule: Rule, grace: float) -> tuple[float, int, str]:
    """kubelet's killContainer: (seconds after SIGTERM, exit code, reason) of a running container."""
    if rule.stop_for <= grace:
        return rule.stop_for, 0, "Completed"
    return grace, 137, "Error"


@dataclass
class Outcome:
    """The status to write, the containers killed for a spec change (kind, name, Killing message)
    and started (kind, spec), the containers that went into backoff (kind, name), when the next
    transition is due, and whether the pod is done."""

    status: dict[str, Any]
    killed: list[tuple[str, str, str]] = field(default_factory=list)
    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    backoffs: list[tuple[str, str]] = field(default_factory=list)
    wake: float | None = None
    terminal: bool = False


def go_duration(seconds: float) -> str:
    """time.Duration.String(): `10s`, `1m20s`, `5m0s`, `500ms`, `1.5s`."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return f"{_trim(ns / size)}{unit}"
    h, rest = divmod(ns, 3600 * 1_000_000_000)
    m, rest = divmod(rest, 60 * 1_000_000_000)
    s = _trim(rest / 1e9)
    if h:
        return f"{h}h{m}m{s}s"
    return f"{m}m{s}s" if m else f"{s}s"


def _trim(v: float) -> str:
    return f"{v:.9f}".rstrip("0").rstrip(".")


def pod_ref(pod: dict[str, Any]) -> str:
    """kubelet's format.Pod: `name_namespace(uid)`."""
    md = pod.get("metadata") or {}
    return f"{md.get('name', '')}_{md.get('namespace', '')}({md.get('uid', '')})"


def backoff_message(pod: dict[str, Any], name: str, delay: float) -> str:
    return f"back-off {go_duration(delay)} restarting failed container={name} pod={pod_ref(pod)}"


def _terminated(cid: str, code: int, start: float, end: float) -> dict[str, Any]:
    return {
        "containerID": cid,
        "exitCode": code,
        "finishedAt": rfc3339(end),
        "reason": "Completed" if code == 0 else "Error",
        "startedAt": rfc3339(start),
    }


def _entry(
    c: dict[str, Any], state: dict[str, Any], cid: str, count: int, last: dict | None, *, ready: bool
) -> dict[str, Any]:
    e = _status_entry(c, state, ready=ready, started="running" in state, cid=cid)
    e["restartCount"] = count
    e["lastState"] = {"terminated": last} if last else {}
    return e


def _waiting(c: dict[str, Any], reason: str) -> dict[str, Any]:
    return _status_entry(c, {"waiting": {"reason": reason}}, ready=False, started=False, cid="")


def _restartable(kind: str, c: dict[str, Any]) -> bool:
    """A container the kubelet restarts when its definition changes: a regular one or a sidecar."""
    return kind == "containers" or (kind == "initContainers" and c.get("restartPolicy") == "Always")


def image_changed(c: dict[str, Any], e: dict[str, Any], clock: PodClock | None = None) -> bool:
    """Whether the container of status entry `e` (one that ran) was started from another image than
    the spec's: HashContainer's name and image, the spec strings compared as given; for a container
    whose spec image is not known (started before this simulator), the status's normalised one."""
    cid = e.get("containerID")
    if not cid:
        return False
    spec_image = str(c.get("image") or "")
    started = clock.images.get(cid) if clock is not None else None
    if started is not None:
        return started != spec_image
    return e.get("image") != normalize_image(spec_image)


def changed_message(kind: str, name: str) -> str:
    """The Killing event's message for a container whose definition changed."""
    if kind == "containers":
        return f"Container {name} definition changed, will be restarted"
    return f"Init container {name} definition changed"


def respec_pending(pod: dict[str, Any], clock: PodClock | None = None) -> bool:
    """Whether a running container or sidecar of the pod runs another image than its spec says."""
    status = pod.get("status") or {}
    for kind, field_name in (
        ("containers", "containerStatuses"),
        ("initContainers", "initContainerStatuses"),
    ):
        entries = {e.get("name"): e for e in status.get(field_name) or [] if isinstance(e, dict)}
        if any(_runs_other_image(kind, c, entries.get(c.get("name")), clock) for c in _containers(pod, kind)):
            return True
    return False


def _runs_other_image(kind: str, c: dict[str, Any], e: dict[str, Any] | None, clock: PodClock | None) -> bool:
    """Whether status entry `e` shows container `c` running from another image than its spec's."""
    return (
        e is not None
        and _restartable(kind, c)
        and "running" in (e.get("state") or {})
        and image_changed(c, e, clock)
    )


def has_restarted(pod: dict[str, Any]) -> bool:
    """Whether some container of the pod was restarted (its status must keep the restart counts)."""
    status = pod.get("status") or {}
    return any(
        isinstance(e, dict) and (e.get("restartCount") or 0) > 0
        for field_name in ("containerStatuses", "initContainerStatuses")
        for e in status.get(field_name) or []
    )


class _Pod:
    """One `advance` run over a pod."""

    def __init__(self, pod: dict[str, Any], script: Script, clock: PodClock, timing: Timing, now: float):
        self.pod, self.script, self.clock, self.timing, self.now = pod, script, clock, timing, now
        self.uid = str((pod.get("metadata") or {}).get("uid", ""))
        self.out = Outcome({})
        self.wakes: list[float] = []

    def rule(self, kind: str, c: dict[str, Any]) -> Rule:
        return self.script.rule(self.pod, kind, c, self.timing.run_seconds)

    def start(self, kind: str, c: dict[str, Any], at: float, count: int, last: dict | None) -> dict:
        """A new container (attempt `count`) running from `at`."""
        cid = container_id(self.uid, str(c.get("name", "")), count)
        self.clock.starts[cid] = at
        self.clock.images[cid] = str(c.get("image") or "")
        self.out.started.append((kind, c))
        return _entry(c, {"running": {"startedAt": rfc3339(at)}}, cid, count, last, ready=self.ready(c, at))

    def ready(self, c: dict[str, Any], start: float) -> bool:
        at = start + container_readiness_delay(c)
        if at > self.now:
            self.wakes.append(at)
            return False
        return True

    def started_at(self, cid: str, state: dict[str, Any]) -> float:
        return self.clock.starts.get(cid) or parse_time(state.get("startedAt")) or self.now

    def step(self, kind: str, c: dict[str, Any], e: dict[str, Any]) -> dict[str, Any]:
        """The container's transitions up to now."""
        rule, name = self.rule(kind, c), str(c.get("name", ""))
        for _ in range(MAX_STEPS):
            state = e.get("state") or {}
            waiting = state.get("waiting") or {}
            if "running" in state:
                cid = e["containerID"]
                start = self.started_at(cid, state["running"])
                natural = None if rule.run_for is None else start + rule.run_for
                if _restartable(kind, c) and image_changed(c, e, self.clock):
                    killed_at, code, reason = self.kill(kind, c, cid, name, rule)
                    if killed_at <= self.now and (natural is None or killed_at <= natural):
                        e = self.replace(kind, c, e, start, killed_at, code, reason)
                        continue
                    if natural is None or natural > self.now:
                        self.wakes.append(killed_at)
                if natural is None or natural > self.now:
                    if natural is not None:
                        self.wakes.append(natural)
                    ready = self.ready(c, start)
                    return {**e, "ready": ready} if e.get("ready") != ready else e
                end = natural
                self.clock.ends[cid] = end
                last = _terminated(cid, rule.exit_code, start, end)
                if not rule.restarts(rule.exit_code):
                    before = (e.get("lastState") or {}).get("terminated")
                    return _entry(c, {"terminated": last}, cid, e.get("restartCount", 0), before, ready=False)
            elif waiting.get("reason") == CRASH_LOOP:
                last = (e.get("lastState") or {}).get("terminated") or {}
                if image_changed(c, e, self.clock):  # a new backoff key: no backoff
                    self.clock.backoff.pop(name, None)
                    e = self.start(kind, c, self.now, e.get("restartCount", 0) + 1, last)
                    continue
                end = (
                    self.clock.ends.get(last.get("containerID", ""))
                    or parse_time(last.get("finishedAt"))
                    or self.now
                )
            else:
                return e
            e = self.restart(kind, c, e, name, last, end)
            if "waiting" in e["state"]:
                return e
        self.wakes.append(self.now)
        return e

    def kill(self, kind: str, c: dict, cid: str, name: str, rule: Rule) -> tuple[float, int, str]:
        """SIGTERM to the container whose definition changed (once, with the Killing event): when
        it ends, with which exit code and reason."""
        sent = self.clock.killing.get(cid)
        if sent is None:
            sent = self.clock.killing[cid] = self.now
            self.out.killed.append((kind, name, changed_message(kind, name)))
        after, code, reason = stop_after(rule, grace_period(self.pod, self.timing))
        return sent + after, code, reason

    def replace(self, kind: str, c: dict, e: dict, start: float, end: float, code: int, reason: str) -> dict:
        """The killed container of entry `e` ended at `end`; the new one starts then: restartCount
        + 1, the killed one in lastState, a fresh backoff (a new hash)."""
        cid = e["containerID"]
        self.clock.ends[cid] = end
        self.clock.killing.pop(cid, None)
        self.clock.backoff.pop(str(c.get("name", "")), None)
        last = {**_terminated(cid, code, start, end), "reason": reason}
        return self.start(kind, c, end, e.get("restartCount", 0) + 1, last)

    def restart(self, kind: str, c: dict, e: dict, name: str, last: dict, end: float) -> dict[str, Any]:
        """kubelet's doBackOff after an exit at `end`: wait in CrashLoopBackOff, or start again."""
        t = self.timing
        bo = self.clock.backoff.get(name)
        fresh = bo is None or end - bo.last_update > 2 * t.backoff_max
        if bo is not None and not fresh and self.now < end + bo.delay:
            self.wakes.append(end + bo.delay)
            message = backoff_message(self.pod, name, bo.delay)
            old = (e.get("state") or {}).get("waiting") or {}
            if old.get("message") != message:
                self.out.backoffs.append((kind, name))
            state = {"waiting": {"message": message, "reason": CRASH_LOOP}}
            entry = _entry(c, state, last["containerID"], e.get("restartCount", 0), last, ready=False)
            # the image of the container that exited (kubelet reports the runtime's)
            return {**entry, **{k: e[k] for k in ("image", "imageID") if e.get(k)}}
        at = end if fresh or bo is None else end + bo.delay
        delay = t.backoff_initial if fresh or bo is None else min(bo.delay * 2, t.backoff_max)
        self.clock.backoff[name] = Backoff(delay, at)
        return self.start(kind, c, at, e.get("restartCount", 0) + 1, last)

    def run(self, kind: str, c: dict[str, Any], old: dict[str, Any] | None, begin: float | None) -> dict:
        """The container's entry: started at `begin` if it has not run yet (None: it must wait)."""
        if old is None:
            if begin is None:
                return _waiting(c, "PodInitializing")
            old = self.start(kind, c, begin, 0, None)
        return self.step(kind, c, old)


def _old(pod: dict[str, Any], field_name: str) -> dict[str, dict[str, Any]]:
    """The status entries of containers that ran (a container ID), by name."""
    return {
        c["name"]: c
        for c in (pod.get("status") or {}).get(field_name) or []
        if isinstance(c, dict) and c.get("containerID") and isinstance(c.get("name"), str)
    }


def _end(p: _Pod, e: dict[str, Any]) -> float:
    term = (e.get("state") or {}).get("terminated") or {}
    return p.clock.ends.get(e.get("containerID", "")) or parse_time(term.get("finishedAt")) or p.now


def _initialize(p: _Pod, begin: float) -> tuple[list[dict[str, Any]], float | None, bool]:
    """The init containers' entries, when the containers may start (None: not yet), and whether
    an init container failed for good."""
    old = _old(p.pod, "initContainerStatuses")
    entries: list[dict[str, Any]] = []
    at: float | None = begin
    failed = False
    for c in _containers(p.pod, "initContainers"):
        e = p.run("initContainers", c, old.get(str(c.get("name", ""))), at)
        state = e.get("state") or {}
        if c.get("restartPolicy") == "Always":  # a sidecar: the next one starts once it runs
            at = (
                p.started_at(e["containerID"], state["running"])
                if at is not None and "running" in state
                else None
            )
        elif at is not None and (state.get("terminated") or {}).get("exitCode") == 0:
            e = {**e, "ready": True}
            at = _end(p, e)
        else:
            failed = failed or "terminated" in state
            at = None
        entries.append(e)
    return entries, at, failed


def get_phase(pod: dict[str, Any], inits: list[dict], regular: list[dict], failed_init: bool) -> str:
    """kubelet_pods.go getPhase (the pod not terminal yet)."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    pending = running = waiting = stopped = succeeded = 0
    for c, e in zip(_containers(pod, "initContainers"), inits, strict=True):
        state, last = e.get("state") or {}, (e.get("lastState") or {}).get("terminated")
        if c.get("restartPolicy") == "Always":
            if "running" in state:
                running += 1
                pending += 0 if e.get("started") else 1
            elif "waiting" in state and not last:
                pending += 1
                waiting += 1
        elif "running" in state or ("waiting" in state and not last):
            pending += 1
    for e in regular:
        state = e.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif (e.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if failed_init and policy == "Never":
        return "Failed"
    if (pending and not _any_started(regular)) or waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _any_started(regular: list[dict[str, Any]]) -> bool:
    """kubecontainer.HasAnyRegularContainerStarted."""
    return any(
        "running" in (s := e.get("state") or {})
        or "terminated" in s
        or bool((e.get("lastState") or {}).get("terminated"))
        for e in regular
    )


def _conds(pod: dict[str, Any], phase: str, inits: list[dict], regular: list[dict], ts: str) -> list[dict]:
    """The kubelet's pod conditions (status/generate.go)."""
    terminal = phase in ("Succeeded", "Failed")
    init_specs = _containers(pod, "initContainers")
    incomplete = [c for c, e in zip(init_specs, inits, strict=True) if not e.get("ready")]
    if phase == "Succeeded":
        initialized = (True, "PodCompleted", "")
    elif not incomplete or _any_started(regular):
        initialized = (True, "", "")
    else:
        initialized = (
            False,
            "ContainersNotInitialized",
            f"containers with incomplete status: {_names(incomplete)}",
        )
    sidecars = [(c, e) for c, e in zip(init_specs, inits, strict=True) if c.get("restartPolicy") == "Always"]
    unready = [
        c for c, e in sidecars + list(zip(_containers(pod), regular, strict=True)) if not e.get("ready")
    ]
    if terminal:
        ready = (False, "PodCompleted" if phase == "Succeeded" else "PodFailed", "")
    elif unready:
        ready = (False, "ContainersNotReady", f"containers with unready status: {_names(unready)}")
    else:
        ready = (True, "", "")
    values = {
        "PodReadyToStartContainers": (not terminal, "", ""),
        "Initialized": initialized,
        "Ready": ready,
        "ContainersReady": ready,
    }
    return _conditions(pod, ts, values)


def _stop_all(
    p: _Pod,
    entries: list[dict[str, Any]],
    specs: list[dict],
    code: int,
    reason: str,
    term_kind: tuple[str, float, float] | None = None,
) -> list[dict]:
    """Running containers killed at now, or, with `term_kind` (kind, SIGTERM time, grace), each when
    its process exits on SIGTERM or is killed at the grace period's end; containers waiting to
    restart show their last exit."""
    out = []
    for c, e in zip(specs, entries, strict=True):
        state = e.get("state") or {}
        last = (e.get("lastState") or {}).get("terminated")
        if "running" in state:
            cid = e["containerID"]
            end, c_code, c_reason = p.now, code, reason
            if term_kind is not None:
                kind, sent, grace = term_kind
                after, c_code, c_reason = stop_after(p.rule(kind, c), grace)
                end = min(sent + after, p.now)
            start = p.started_at(cid, state["running"])
            term = {**_terminated(cid, c_code, start, max(start, end)), "reason": c_reason}
            e = _entry(c, {"terminated": term}, cid, e.get("restartCount", 0), last, ready=False)
        elif "waiting" in state and last:
            e = _entry(
                c, {"terminated": last}, last["containerID"], e.get("restartCount", 0), None, ready=False
            )
        out.append(e)
    return out


def _assemble(
    p: _Pod, host_ip: str, pod_ip: str | None, phase: str, inits: list[dict], regular: list[dict]
) -> dict[str, Any]:
    ts = rfc3339(p.now)
    st = _base(p.pod, host_ip, pod_ip, p.now)
    st["phase"] = phase
    st["conditions"] = _conds(p.pod, phase, inits, regular, ts)
    st["containerStatuses"] = regular
    if inits:
        st["initContainerStatuses"] = inits
    if _containers(p.pod, "ephemeralContainers"):
        if phase in ("Succeeded", "Failed"):
            st["ephemeralContainerStatuses"] = _ephemeral_finished(p.pod, ts, 0, "Completed")
        else:
            st["ephemeralContainerStatuses"] = ephemeral_statuses(p.pod, p.now)
    return st


def advance(
    pod: dict[str, Any],
    script: Script,
    clock: PodClock,
    timing: Timing,
    host_ip: str,
    pod_ip: str,
    begin: float,
    now: float,
) -> Outcome:
    """The pod's status at `now` (containers not started yet start at `begin` at the earliest)."""
    p = _Pod(pod, script, clock, timing, now)
    inits, at, failed = _initialize(p, begin)
    old = _old(pod, "containerStatuses")
    regular = [p.run("containers", c, old.get(str(c.get("name", ""))), at) for c in _containers(pod)]
    phase = get_phase(pod, inits, regular, failed)
    terminal = phase in ("Succeeded", "Failed")
    if terminal:  # the sidecars are stopped with the pod
        inits = _stop_all(p, inits, _containers(pod, "initContainers"), 0, "Completed")
        p.wakes.clear()
    p.out.status = _assemble(p, host_ip, pod_ip, phase, inits, regular)
    p.out.terminal = terminal
    p.out.wake = min(p.wakes, default=None)
    return p.out


def stopped(
    pod: dict[str, Any],
    script: Script,
    clock: PodClock,
    timing: Timing,
    host_ip: str,
    pod_ip: str | None,
    now: float,
    *,
    exit_code: int = 0,
    reason: str = "Completed",
    sigterm: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The status once the kubelet killed the pod (deletion, activeDeadlineSeconds): restart
    counts and last states kept, the phase from the containers' last exits. With `sigterm`
    (SIGTERM time, grace period: a deletion) each container ends as `stop_after` says."""
    p = _Pod(pod, script, clock, timing, now)
    inits = [e for e in (pod.get("status") or {}).get("initContainerStatuses") or [] if isinstance(e, dict)]
    regular = [e for e in (pod.get("status") or {}).get("containerStatuses") or [] if isinstance(e, dict)]
    init_specs, specs = _containers(pod, "initContainers"), _containers(pod)
    if len(inits) != len(init_specs) or len(regular) != len(specs):
        inits, regular = (
            [_waiting(c, "PodInitializing") for c in init_specs],
            [_waiting(c, "PodInitializing") for c in specs],
        )
    kinds = {k: (k, *sigterm) if sigterm is not None else None for k in ("initContainers", "containers")}
    inits = _stop_all(p, inits, init_specs, exit_code, reason, kinds["initContainers"])
    regular = _stop_all(p, regular, specs, exit_code, reason, kinds["containers"])
    done = [(e.get("state") or {}).get("terminated") for e in regular]
    phase = "Succeeded" if all(t and t.get("exitCode") == 0 for t in done) else "Failed"
    return _assemble(p, host_ip, pod_ip, phase, inits, regular)


def stop_delay(pod: dict[str, Any], script: Script, timing: Timing, grace: float) -> float:
    """How long after SIGTERM the last running container (or sidecar) of the pod has ended."""
    status = pod.get("status") or {}
    delay = 0.0
    for kind, field_name in (
        ("containers", "containerStatuses"),
        ("initContainers", "initContainerStatuses"),
    ):
        running = {
            e.get("name")
            for e in status.get(field_name) or []
            if isinstance(e, dict) and "running" in (e.get("state") or {})
        }
        for c in _containers(pod, kind):
            if c.get("name") in running:
                rule = script.rule(pod, kind, c, timing.run_seconds)
                delay = max(delay, stop_after(rule, grace)[0])
    return delay
