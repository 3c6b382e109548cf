"""Pod statuses as the kubelet (1.32, containerd) writes them: ContainerCreating, Running, done."""

from __future__ import annotations

import functools
import hashlib
import math
import time
from datetime import UTC, datetime
from typing import Any

RUNTIME = "containerd"
CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
CONFIG_ERROR = "CreateContainerConfigError"  # a container's configuration cannot be built


# ---------------------------------------------------------------------------- time
def rfc3339(ts: float | None = None) -> str:
    """metav1.Time: seconds precision, UTC."""
    t = time.time() if ts is None else ts
    sec = math.floor(t)
    if round((t - sec) * 1e6) >= 1_000_000:  # datetime.fromtimestamp rounds to microseconds
        sec += 1
    return _rfc3339_second(sec)


@functools.lru_cache(maxsize=64)
def _rfc3339_second(sec: int) -> str:
    """The text of one second (the few current seconds are formatted once, not per call)."""
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(ts: float | None = None) -> str:
    """metav1.MicroTime: microseconds, UTC."""
    t = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(s: Any) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp; None if absent or malformed."""
    if not isinstance(s, str) or not s:
        return None
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# ---------------------------------------------------------------------------- images and ids
def normalize_image(image: str) -> str:
    """The fully qualified reference containerd reports (`nginx` -> `docker.io/library/nginx:latest`)."""
    image = image.strip()
    if not image:
        return image
    name, sep, digest = image.partition("@")
    first, slash, _rest = name.partition("/")
    if not slash or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}"
        if "/" not in name[len("docker.io/") :]:
            name = f"docker.io/library/{name[len('docker.io/') :]}"
    last = name.rsplit("/", 1)[-1]
    if not sep and ":" not in last:
        name += ":latest"
    return f"{name}@{digest}" if sep else name


def image_id(image: str) -> str:
    """`repo@sha256:...`: the digest given in the reference, or one derived from it."""
    full = normalize_image(image)
    name, sep, digest = full.partition("@")
    repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    if sep:
        return f"{repo}@{digest}"
    return f"{repo}@sha256:{hashlib.sha256(full.encode()).hexdigest()}"


def container_id(pod_uid: str, name: str, restart_count: int = 0) -> str:
    h = hashlib.sha256(f"{pod_uid}/{name}/{restart_count}".encode()).hexdigest()
    return f"{RUNTIME}://{h}"


# ---------------------------------------------------------------------------- helpers
def _containers(pod: dict[str, Any], kind: str = "containers") -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    return [c for c in spec.get(kind) or [] if isinstance(c, dict)]


def _mounts(c: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for m in c.get("volumeMounts") or []:
        if not isinstance(m, dict):
            continue
        vm: dict[str, Any] = {"name": m.get("name", ""), "mountPath": m.get("mountPath", "")}
        if m.get("readOnly"):
            vm["readOnly"] = True
            vm["recursiveReadOnly"] = "Disabled"
        out.append(vm)
    return out


def _condition(
    old: dict[str, dict[str, Any]], ctype: str, status: bool, now: str, reason: str = "", message: str = ""
) -> dict[str, Any]:
    s = "True" if status else "False"
    prev = old.get(ctype)
    ltt = prev.get("lastTransitionTime") if prev and prev.get("status") == s else now
    c: dict[str, Any] = {"type": ctype, "status": s, "lastProbeTime": None, "lastTransitionTime": ltt or now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _conditions(
    pod: dict[str, Any], now: str, values: dict[str, tuple[bool, str, str]]
) -> list[dict[str, Any]]:
    """The kubelet's conditions in its order, keeping transition times and foreign conditions."""
    status = pod.get("status") or {}
    old = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    out = []
    for ctype in CONDITION_ORDER:
        if ctype == "PodScheduled":
            out.append(old.get(ctype) or _condition(old, ctype, True, now))
            continue
        ok, reason, message = values[ctype]
        out.append(_condition(old, ctype, ok, now, reason, message))
    out.extend(c for t, c in old.items() if t not in CONDITION_ORDER)
    return out


def _names(cs: list[dict[str, Any]]) -> str:
    return "[" + " ".join(c.get("name", "") for c in cs) + "]"


def host_network(pod: dict[str, Any]) -> bool:
    """Whether the pod uses the node's network namespace (spec.hostNetwork)."""
    return (pod.get("spec") or {}).get("hostNetwork") is True


def _base(pod: dict[str, Any], host_ip: str, pod_ip: str | None, start: float) -> dict[str, Any]:
    """hostIP(s), podIP(s) and startTime. A hostNetwork pod has the node's IP as its podIP in every
    status the kubelet writes, from the first one on, and keeps it once set (generateAPIPodStatus)."""
    st: dict[str, Any] = {"hostIP": host_ip, "hostIPs": [{"ip": host_ip}]}
    if host_network(pod):
        pod_ip = (pod.get("status") or {}).get("podIP") or host_ip
    if pod_ip:
        st["podIP"] = pod_ip
        st["podIPs"] = [{"ip": pod_ip}]
    old_start = (pod.get("status") or {}).get("startTime")
    st["startTime"] = old_start or rfc3339(start)
    return st


def _status_entry(c: dict[str, Any], state: dict[str, Any], *, ready: bool, started: bool, cid: str) -> dict:
    entry: dict[str, Any] = {"name": c.get("name", "")}
    if cid:
        entry["containerID"] = cid
    image = str(c.get("image") or "")
    entry["image"] = normalize_image(image) if cid else image
    entry["imageID"] = image_id(image) if cid else ""
    entry["lastState"] = {}
    entry["ready"] = ready
    entry["restartCount"] = 0
    entry["started"] = started
    entry["state"] = state
    mounts = _mounts(c)
    if mounts and cid:
        entry["volumeMounts"] = mounts
    return entry


def _init_entry(c: dict[str, Any], uid: str, started_at: str, running: bool) -> dict[str, Any]:
    """An init container that ran to completion; a sidecar (restartPolicy Always) keeps running."""
    cid = container_id(uid, c.get("name", ""))
    term = {
        "containerID": cid,
        "exitCode": 0,
        "finishedAt": started_at,
        "reason": "Completed",
        "startedAt": started_at,
    }
    if c.get("restartPolicy") == "Always":
        state: dict[str, Any] = {"running": {"startedAt": started_at}} if running else {"terminated": term}
        return _status_entry(c, state, ready=running, started=running, cid=cid)
    return _status_entry(c, {"terminated": term}, ready=True, started=False, cid=cid)


def _init_statuses(pod: dict[str, Any], uid: str, started_at: str, running: bool) -> list[dict[str, Any]]:
    """Init containers ran to completion at once; sidecars (restartPolicy Always) keep running."""
    return [_init_entry(c, uid, started_at, running) for c in _containers(pod, "initContainers")]


def _keep_times(pod: dict[str, Any], field: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`entries` with the state of containers the old status already shows in the same state (same
    container ID): a container started by an earlier write keeps its times."""
    old = {
        c.get("name"): c
        for c in (pod.get("status") or {}).get(field) or []
        if isinstance(c, dict) and c.get("containerID")
    }
    if not old:
        return entries
    out = []
    for e in entries:
        prev = old.get(e["name"])
        state, prev_state = e.get("state") or {}, (prev or {}).get("state") or {}
        if (
            prev is not None
            and prev.get("containerID") == e.get("containerID")
            and state.keys() == prev_state.keys()
        ):
            e = {**e, "state": prev_state}
        out.append(e)
    return out


def _ephemeral_entry(uid: str, c: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """An ephemeralContainerStatuses entry: a container status without `started` (no probes)."""
    entry = _status_entry(c, state, ready=False, started=False, cid=container_id(uid, c.get("name", "")))
    del entry["started"]
    return entry


def started_ephemeral(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ephemeral container statuses the kubelet already wrote (a container ID), by name."""
    status = pod.get("status") or {}
    return {
        c["name"]: c
        for c in status.get("ephemeralContainerStatuses") or []
        if isinstance(c, dict) and c.get("containerID") and isinstance(c.get("name"), str)
    }


def ephemeral_to_start(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The ephemeral containers of the spec the kubelet has not started yet."""
    started = started_ephemeral(pod)
    return [c for c in _containers(pod, "ephemeralContainers") if c.get("name") not in started]


def ephemeral_statuses(pod: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """Every ephemeral container running: the started ones as they are, the others from `now`."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    started = started_ephemeral(pod)
    running = {"running": {"startedAt": rfc3339(now)}}
    return [
        started.get(c.get("name", "")) or _ephemeral_entry(uid, c, running)
        for c in _containers(pod, "ephemeralContainers")
    ]


def _ephemeral_finished(pod: dict[str, Any], finished_at: str, exit_code: int, reason: str) -> list[dict]:
    """The started ephemeral containers, terminated with the pod (they are never restarted)."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    started = started_ephemeral(pod)
    out = []
    for c in _containers(pod, "ephemeralContainers"):
        old = started.get(c.get("name", ""))
        if old is None:
            continue
        state = old.get("state") or {}
        if "terminated" in state:
            out.append(old)
            continue
        begin = (state.get("running") or {}).get("startedAt") or finished_at
        term = {
            "containerID": old["containerID"],
            "exitCode": exit_code,
            "finishedAt": finished_at,
            "reason": reason,
            "startedAt": begin,
        }
        out.append(_ephemeral_entry(uid, c, {"terminated": term}))
    return out


# ---------------------------------------------------------------------------- statuses
def creating_status(pod: dict[str, Any], host_ip: str, now: float) -> dict[str, Any]:
    """Pending with containers waiting in ContainerCreating (sandbox being set up)."""
    ts = rfc3339(now)
    containers = _containers(pod)
    st = _base(pod, host_ip, None, now)
    st["phase"] = "Pending"
    not_ready = f"containers with unready status: {_names(containers)}"
    inits = _containers(pod, "initContainers")
    init_ok = not inits
    st["conditions"] = _conditions(
        pod,
        ts,
        {
            "PodReadyToStartContainers": (False, "", ""),
            "Initialized": (
                init_ok,
                "" if init_ok else "ContainersNotInitialized",
                "" if init_ok else f"containers with incomplete status: {_names(inits)}",
            ),
            "Ready": (False, "ContainersNotReady", not_ready),
            "ContainersReady": (False, "ContainersNotReady", not_ready),
        },
    )
    waiting = {"waiting": {"reason": "PodInitializing" if inits else "ContainerCreating"}}
    st["containerStatuses"] = [
        _status_entry(c, waiting, ready=False, started=False, cid="") for c in containers
    ]
    if inits:
        st["initContainerStatuses"] = [
            _status_entry(c, {"waiting": {"reason": "PodInitializing"}}, ready=False, started=False, cid="")
            for c in inits
        ]
    return st


def running_status(
    pod: dict[str, Any], host_ip: str, pod_ip: str, started: float, ready: bool, now: float
) -> dict[str, Any]:
    """Running: every container started at `started`; Ready once `ready`."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    ts = rfc3339(now)
    started_at = rfc3339(started)
    containers = _containers(pod)
    st = _base(pod, host_ip, pod_ip, started)
    st["phase"] = "Running"
    not_ready = f"containers with unready status: {_names(containers)}"
    st["conditions"] = _conditions(
        pod,
        ts,
        {
            "PodReadyToStartContainers": (True, "", ""),
            "Initialized": (True, "", ""),
            "Ready": (ready, "" if ready else "ContainersNotReady", "" if ready else not_ready),
            "ContainersReady": (ready, "" if ready else "ContainersNotReady", "" if ready else not_ready),
        },
    )
    running = {"running": {"startedAt": started_at}}
    st["containerStatuses"] = _keep_times(
        pod,
        "containerStatuses",
        [
            _status_entry(c, running, ready=ready, started=True, cid=container_id(uid, c.get("name", "")))
            for c in containers
        ],
    )
    inits = _keep_times(pod, "initContainerStatuses", _init_statuses(pod, uid, started_at, running=True))
    if inits:
        st["initContainerStatuses"] = inits
    if _containers(pod, "ephemeralContainers"):
        st["ephemeralContainerStatuses"] = ephemeral_statuses(pod, now)
    return st


def finished_status(
    pod: dict[str, Any],
    host_ip: str,
    pod_ip: str | None,
    started: float,
    finished: float,
    now: float,
    *,
    exit_code: int = 0,
    reason: str = "Completed",
) -> dict[str, Any]:
    """Every container terminated (run to completion, or stopped for deletion)."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    ts = rfc3339(now)
    started_at = rfc3339(started)
    finished_at = rfc3339(finished)
    st = _base(pod, host_ip, pod_ip, started)
    st["phase"] = "Succeeded" if exit_code == 0 else "Failed"
    done = "PodCompleted" if exit_code == 0 else "PodFailed"  # status/generate.go, per phase
    st["conditions"] = _conditions(
        pod,
        ts,
        {
            "PodReadyToStartContainers": (False, "", ""),
            "Initialized": (True, "PodCompleted" if exit_code == 0 else "", ""),
            "Ready": (False, done, ""),
            "ContainersReady": (False, done, ""),
        },
    )
    out = []
    for c in _containers(pod):
        cid = container_id(uid, c.get("name", ""))
        term = {
            "containerID": cid,
            "exitCode": exit_code,
            "finishedAt": finished_at,
            "reason": reason,
            "startedAt": started_at,
        }
        out.append(_status_entry(c, {"terminated": term}, ready=False, started=False, cid=cid))
    st["containerStatuses"] = out
    inits = _init_statuses(pod, uid, started_at, running=False)
    if inits:
        st["initContainerStatuses"] = inits
    ephemeral = _ephemeral_finished(pod, finished_at, exit_code, reason)
    if ephemeral:
        st["ephemeralContainerStatuses"] = ephemeral
    return st


def _waiting(c: dict[str, Any], reason: str, message: str = "") -> dict[str, Any]:
    waiting = {"reason": reason, **({"message": message} if message else {})}
    return _status_entry(c, {"waiting": waiting}, ready=False, started=False, cid="")


def config_error_status(
    pod: dict[str, Any], host_ip: str, pod_ip: str, now: float, errors: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """Pending with the sandbox up: containers whose configuration cannot be built wait in
    CreateContainerConfigError with the kubelet's message. `errors`: (`initContainers` or
    `containers`, name) -> message. Init containers before a blocked one have completed (sidecars
    run), those after it and all containers wait in PodInitializing; with no init container
    blocked, the other containers run."""
    uid = (pod.get("metadata") or {}).get("uid", "")
    ts = rfc3339(now)
    inits, containers = _containers(pod, "initContainers"), _containers(pod)
    blocked = next(
        (i for i, c in enumerate(inits) if ("initContainers", c.get("name", "")) in errors), len(inits)
    )
    init_entries = [_init_entry(c, uid, ts, True) for c in inits[:blocked]]
    if blocked < len(inits):
        c = inits[blocked]
        init_entries.append(_waiting(c, CONFIG_ERROR, errors[("initContainers", c.get("name", ""))]))
        init_entries += [_waiting(c, "PodInitializing") for c in inits[blocked + 1 :]]
        entries = [_waiting(c, "PodInitializing") for c in containers]
    else:
        ready = readiness_delay(pod) <= 0
        running = {"running": {"startedAt": ts}}
        entries = [
            _waiting(c, CONFIG_ERROR, errors[("containers", c.get("name", ""))])
            if ("containers", c.get("name", "")) in errors
            else _status_entry(
                c, running, ready=ready, started=True, cid=container_id(uid, c.get("name", ""))
            )
            for c in containers
        ]
    st = _base(pod, host_ip, pod_ip, now)
    st["phase"] = "Pending"
    incomplete = inits[blocked:]
    unready = [c for c, e in zip(containers, entries, strict=True) if not e["ready"]]
    not_ready = f"containers with unready status: {_names(unready)}"
    st["conditions"] = _conditions(
        pod,
        ts,
        {
            "PodReadyToStartContainers": (True, "", ""),
            "Initialized": (
                not incomplete,
                "ContainersNotInitialized" if incomplete else "",
                f"containers with incomplete status: {_names(incomplete)}" if incomplete else "",
            ),
            "Ready": (False, "ContainersNotReady", not_ready),
            "ContainersReady": (False, "ContainersNotReady", not_ready),
        },
    )
    st["containerStatuses"] = _keep_times(pod, "containerStatuses", entries)
    if init_entries:
        st["initContainerStatuses"] = _keep_times(pod, "initContainerStatuses", init_entries)
    return st


def config_blocked(pod: dict[str, Any]) -> bool:
    """Whether some container of the pod waits in CreateContainerConfigError."""
    status = pod.get("status") or {}
    for field in ("initContainerStatuses", "containerStatuses"):
        for c in status.get(field) or []:
            if (
                isinstance(c, dict)
                and ((c.get("state") or {}).get("waiting") or {}).get("reason") == CONFIG_ERROR
            ):
                return True
    return False


def is_started(pod: dict[str, Any]) -> bool:
    """Whether the kubelet already ran the pod's containers (any container has an ID)."""
    status = pod.get("status") or {}
    return any(isinstance(c, dict) and c.get("containerID") for c in status.get("containerStatuses") or [])


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return any(
        isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def container_readiness_delay(c: dict[str, Any]) -> float:
    """Seconds after a container starts until it is ready: its readiness/startup probe initial delay."""
    delay = 0.0
    for probe in ("startupProbe", "readinessProbe"):
        p = c.get(probe)
        if isinstance(p, dict):
            d = p.get("initialDelaySeconds")
            if isinstance(d, int | float) and not isinstance(d, bool):
                delay = max(delay, float(d))
    return delay


def readiness_delay(pod: dict[str, Any]) -> float:
    """Seconds after start until the pod is Ready: the largest readiness/startup probe initial delay."""
    return max((container_readiness_delay(c) for c in _containers(pod)), default=0.0)
