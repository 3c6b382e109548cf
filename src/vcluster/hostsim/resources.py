"""Resource arithmetic of the scheduler: quantities as integers, pod requests, node allocatable."""

from __future__ import annotations

import math
from typing import Any

from vcluster.apiserver.defaults import parse_quantity

Resources = dict[str, int]  # cpu in millicores, everything else in base units

# The scheduler scores pods without requests as if they asked for this much (schedutil defaults).
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


def quantity(name: str, value: Any) -> int:
    """A quantity as an integer: millicores for cpu, base units (rounded up) for the rest."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        v = value
    else:
        q = parse_quantity(str(value))
        if q is None:
            return 0
        v = q.value
    if name == "cpu":
        v = v * 1000
    return max(0, math.ceil(v))


def to_resources(m: Any) -> Resources:
    """A ResourceList (name -> quantity) as integers."""
    if not isinstance(m, dict):
        return {}
    return {k: quantity(k, v) for k, v in m.items()}


def add(a: Resources, b: Resources) -> Resources:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


def sub(a: Resources, b: Resources) -> Resources:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) - v
    return out


def maximum(a: Resources, b: Resources) -> Resources:
    out = dict(a)
    for k, v in b.items():
        if v > out.get(k, 0):
            out[k] = v
    return out


def _container_requests(c: Any, nonzero: bool) -> Resources:
    res = c.get("resources") if isinstance(c, dict) else None
    req = to_resources(res.get("requests") if isinstance(res, dict) else None)
    if nonzero:
        if not req.get("cpu"):
            req["cpu"] = DEFAULT_MILLI_CPU
        if not req.get("memory"):
            req["memory"] = DEFAULT_MEMORY
    return req


def pod_requests(pod: dict[str, Any], *, nonzero: bool = False) -> Resources:
    """What the pod asks for, as the scheduler counts it (resource.PodRequests): the sum of its
    containers and sidecars, at least the largest init container step, plus the pod overhead.
    With `nonzero`, containers without cpu/memory requests count the scoring defaults."""
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    reqs: Resources = {}
    for c in spec.get("containers") or []:
        reqs = add(reqs, _container_requests(c, nonzero))
    sidecars: Resources = {}
    init_max: Resources = {}
    for c in spec.get("initContainers") or []:
        r = _container_requests(c, nonzero)
        if isinstance(c, dict) and c.get("restartPolicy") == "Always":
            reqs = add(reqs, r)
            sidecars = add(sidecars, r)
            step = sidecars
        else:
            step = add(r, sidecars)
        init_max = maximum(init_max, step)
    reqs = maximum(reqs, init_max)
    reqs = add(reqs, to_resources(spec.get("overhead")))
    return {k: v for k, v in reqs.items() if v}


def format_resources(r: Resources) -> dict[str, str]:
    """Integers back to quantity strings (cpu in millicores)."""
    out = {}
    for k, v in r.items():
        if k == "cpu":
            out[k] = f"{v // 1000}" if v % 1000 == 0 else f"{v}m"
        else:
            out[k] = str(v)
    return out
