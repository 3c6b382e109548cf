"""Simulated resource usage of containers and nodes, and metrics-server's scrape timing (pure).

Usage is stable: derived from a hash of the pod UID and the container name, within what the
container asks for. CPU is 20-80 % of the request (capped at the limit), else 10-50 % of the limit,
else 1-15 millicores; memory 30-80 % of the request (at most 95 % of the limit), else 20-70 % of
the limit, else 4-40 MiB, in whole 4 KiB pages (so metrics-server's `<n>Ki` form). The pod
annotations `hostsim.vcluster.loft.sh/cpu-usage` and `.../memory-usage` override it: a quantity for
every container (`"250m"`), `<container>=<quantity>` entries (`"app=250m,sidecar=5m"`), or both
(`"100m,sidecar=5m"`: 100m for every container but sidecar); an entry that is not a quantity is
ignored. A node uses its pods' sum plus a system share of 50-120m and 512-1024 MiB.

Timing follows metrics-server (`--metric-resolution`, 15 s by default): it scrapes every
`resolution` seconds from its start and needs two points of a container (or, for a container
started 10 s to one resolution before the last scrape, its start as the first point) to compute a
rate, so a new pod has no metrics until then; the window is the time between the two points.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from vcluster.apiserver.defaults import quantity_value

CPU_ANNOTATION = "hostsim.vcluster.loft.sh/cpu-usage"
MEMORY_ANNOTATION = "hostsim.vcluster.loft.sh/memory-usage"
FRESH_CONTAINER_MIN_AGE = 10.0  # metrics-server's freshContainerMinMetricsResolution
PAGE = 4096
MIB = 1024 * 1024
NANO = 1_000_000_000


def fraction(*parts: str) -> float:
    """A stable number in [0, 1) from the parts."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _amount(value: Any) -> Fraction | None:
    q = quantity_value(value)
    return q if q is not None and q >= 0 else None


def _resource(container: Mapping[str, Any], kind: str, name: str) -> Fraction | None:
    res = container.get("resources")
    values = res.get(kind) if isinstance(res, dict) else None
    return _amount(values.get(name)) if isinstance(values, dict) else None


def parse_override(text: str, container: str) -> Fraction | None:
    """The override of `container` in an annotation value (see the module doc); None if none."""
    default: Fraction | None = None
    for entry in text.split(","):
        name, sep, value = entry.strip().rpartition("=")
        amount = _amount(value.strip())
        if amount is None:
            continue
        if not sep:
            default = amount
        elif name.strip() == container:
            return amount
    return default


def _annotation(pod: Mapping[str, Any], key: str) -> str:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    value = ann.get(key)
    return value if isinstance(value, str) else ""


def cpu_usage(pod: Mapping[str, Any], container: Mapping[str, Any]) -> int:
    """Nanocores the container uses."""
    name = str(container.get("name", ""))
    override = parse_override(_annotation(pod, CPU_ANNOTATION), name)
    if override is not None:
        return int(override * NANO)
    uid = str((pod.get("metadata") or {}).get("uid", ""))
    f = fraction(uid, name, "cpu")
    jitter = int(fraction(uid, name, "cpu-jitter") * 1_000_000)  # below a millicore
    request, limit = _resource(container, "requests", "cpu"), _resource(container, "limits", "cpu")
    if request:
        cores = request * Fraction(0.2 + 0.6 * f)
        if limit:
            cores = min(cores, limit)
    elif limit:
        cores = limit * Fraction(0.1 + 0.4 * f)
    else:
        cores = Fraction(1 + 14 * f) / 1000
    nanocores = int(cores * NANO) + jitter
    return min(nanocores, int(limit * NANO)) if limit else nanocores


def memory_usage(pod: Mapping[str, Any], container: Mapping[str, Any]) -> int:
    """Bytes of working set the container uses."""
    name = str(container.get("name", ""))
    override = parse_override(_annotation(pod, MEMORY_ANNOTATION), name)
    if override is not None:
        return int(override)
    uid = str((pod.get("metadata") or {}).get("uid", ""))
    f = fraction(uid, name, "memory")
    request, limit = _resource(container, "requests", "memory"), _resource(container, "limits", "memory")
    if request:
        nbytes = request * Fraction(0.3 + 0.5 * f)
        if limit:
            nbytes = min(nbytes, limit * Fraction(95, 100))
    elif limit:
        nbytes = limit * Fraction(0.2 + 0.5 * f)
    else:
        nbytes = Fraction(4 * MIB) + Fraction(36 * MIB) * Fraction(f)
    return max(PAGE, int(nbytes) // PAGE * PAGE)


def running_containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The containers a kubelet reports usage of: the app containers and the sidecars
    (init containers with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return [c for c in [*sidecars, *(spec.get("containers") or [])] if isinstance(c, dict)]


def container_usages(pod: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(name, nanocores, bytes) of each running container of the pod."""
    return [
        (str(c.get("name", "")), cpu_usage(pod, c), memory_usage(pod, c)) for c in running_containers(pod)
    ]


def node_usage(node: str, pods: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(nanocores, bytes) the node uses: its pods plus the system's share."""
    cpu = int((50 + 70 * fraction(node, "system-cpu")) * 1_000_000)
    memory = (512 * MIB + int(512 * MIB * fraction(node, "system-memory"))) // PAGE * PAGE
    for pod in pods:
        for _, c, m in container_usages(pod):
            cpu += c
            memory += m
    return cpu, memory


def last_scrape(now: float, epoch: float, resolution: float) -> tuple[float, int]:
    """(time, number) of the latest scrape at `now` of a metrics-server started at `epoch`."""
    k = max(0, math.floor((now - epoch) / resolution))
    return epoch + k * resolution, k


def pod_window(started: float, now: float, epoch: float, resolution: float) -> tuple[float, float] | None:
    """(timestamp, window seconds) of the metrics of containers started at `started`, or None
    while metrics-server has no rate for them yet."""
    t, k = last_scrape(now, epoch, resolution)
    if k >= 1 and started <= t - resolution:
        return t, resolution
    age = t - started
    if FRESH_CONTAINER_MIN_AGE <= age < resolution:
        return t, age
    return None


def node_window(now: float, epoch: float, resolution: float) -> tuple[float, float] | None:
    """(timestamp, window seconds) of node metrics: from the second scrape on."""
    t, k = last_scrape(now, epoch, resolution)
    return (t, resolution) if k >= 1 else None
