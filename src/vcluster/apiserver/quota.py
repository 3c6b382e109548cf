"""ResourceQuota admission (kube-apiserver's `ResourceQuota` validating plugin): creates, and the
updates that can raise usage (a claim's requested storage, a Service's type).

For each ResourceQuota of the namespace whose `status.hard` names a resource the new object uses
(pods and their compute resources, services, claims and storage, `count/<resource>` of anything):
a pod that does not specify a tracked cpu/memory request or limit is refused ("failed quota: Q:
must specify ..."), a quota without usage for such a resource is refused until the controller has
computed it ("status unknown for quota"), and a create that would take `status.used` over
`status.hard` is refused ("exceeded quota: Q, requested: ..., used: ..., limited: ..."), each as
403 Forbidden with kube's message. Otherwise the quotas' `status.used` is raised by the new
object's usage before it is stored (compare-and-swap on the quota, retried on conflicts), so that
parallel creates cannot all slip under the limit; the ResourceQuota controller recomputes usage
from the objects afterwards, as upstream. Quota scopes match pods only, as upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from vcluster.controllers.base import utcnow
from vcluster.controllers.resourcequota import (
    DECIMAL_SI,
    LEGACY_COUNTS,
    Q,
    pod_matches_scope,
    pod_usage,
    pvc_usage,
    q_add,
    q_parse,
    q_str,
    quota_scopes,
    service_usage,
)

# podEvaluator.Constraints: tracked in a quota, each container must state these explicitly
_MUST_SPECIFY = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


class QuotaRefusal(Exception):
    """The create is refused: the message after `... is forbidden: `."""


def object_usage(group: str, plural: str, kind: str, obj: Mapping[str, Any]) -> dict[str, Q]:
    """What creating `obj` adds to a quota's usage (the evaluators of the quota controller)."""
    one: Q = (Fraction(1), DECIMAL_SI)
    if group == "" and kind == "Pod":
        used = pod_usage(dict(obj), utcnow())
    elif group == "" and kind == "Service":
        used = service_usage(dict(obj))
    elif group == "" and kind == "PersistentVolumeClaim":
        used = pvc_usage(dict(obj))
    else:
        used = {}
    used.setdefault(f"count/{plural}.{group}" if group else f"count/{plural}", one)
    if group == "" and plural in LEGACY_COUNTS:
        used.setdefault(plural, one)
    return used


def _container_usage_names(c: Mapping[str, Any]) -> set[str]:
    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    out = set()
    for r in ("cpu", "memory"):
        if r in req:
            out |= {r, f"requests.{r}"}
        if r in lim:
            out.add(f"limits.{r}")
    return out


def _must_specify(pod: Mapping[str, Any], required: set[str]) -> str:
    """podEvaluator.Constraints: "" or the "must specify ..." text."""
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if not isinstance(c, dict):
            continue
        for r in required - _container_usage_names(c):
            missing.setdefault(r, set()).add(c.get("name", ""))
    if not missing:
        return ""
    parts = [f"{r} for: {','.join(sorted(names))}" for r, names in sorted(missing.items())]
    return "must specify " + "; ".join(parts)


def _pretty(values: Mapping[str, Q], names: list[str]) -> str:
    return ",".join(f"{n}={q_str(values[n])}" for n in sorted(names) if n in values)


# Updates that can raise usage (kube: claims expanded, Services changing type); a pod's usage
# does not change on update without in-place resize (alpha, off in 1.32), object counts never do.
UPDATE_KINDS = (("", "PersistentVolumeClaim"), ("", "Service"))


def _delta(usage: dict[str, Q], old_usage: dict[str, Q]) -> dict[str, Q]:
    """SubtractWithNonNegativeResult, zeros removed."""
    out = {}
    for r, q in usage.items():
        prev = old_usage.get(r)
        diff = q[0] - prev[0] if prev is not None else q[0]
        if diff > 0:
            out[r] = (diff, q[1])
    return out


def _charge(
    group: str, plural: str, kind: str, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> dict[str, Q]:
    """What admitting `obj` adds (a create: its usage; an update: the increase over `old`)."""
    usage = object_usage(group, plural, kind, obj)
    if old is not None:
        usage = _delta(usage, object_usage(group, plural, kind, old))
    return usage


def admit(
    quotas: list[dict[str, Any]],
    group: str,
    plural: str,
    kind: str,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Check a create (or, with `old`, an update: charged by what it adds) against the
    namespace's quotas: the quotas to raise, each with its new `status.used`; raises QuotaRefusal."""
    usage = _charge(group, plural, kind, obj, old)
    if old is not None and not usage:
        return []
    is_pod = group == "" and kind == "Pod" and old is None
    out = []
    for rq in sorted(quotas, key=lambda q: (q.get("metadata") or {}).get("name", "")):
        name = (rq.get("metadata") or {}).get("name", "")
        status = rq.get("status") or {}
        hard = {k: q for k, v in (status.get("hard") or {}).items() if (q := q_parse(v)) is not None}
        scopes = quota_scopes(rq)
        if scopes and not (is_pod and all(pod_matches_scope(dict(obj), s, op, v) for s, op, v in scopes)):
            continue
        restricted = [r for r in hard if r in usage or (is_pod and r in _MUST_SPECIFY)]
        if not restricted:
            continue
        if is_pod:
            required = set(restricted) & set(_MUST_SPECIFY)
            why = _must_specify(obj, required) if required else ""
            if why:
                raise QuotaRefusal(f"failed quota: {name}: {why}")
        used = {k: q for k, v in (status.get("used") or {}).items() if (q := q_parse(v)) is not None}
        unknown = [r for r in restricted if r not in used]
        if unknown:
            raise QuotaRefusal(f"status unknown for quota: {name}, resources: {','.join(sorted(unknown))}")
        requested = {r: usage[r] for r in restricted if r in usage}
        new_used = {r: q_add(used[r], q) for r, q in requested.items()}
        exceeded = [r for r, q in new_used.items() if q[0] > hard[r][0]]
        if exceeded:
            raise QuotaRefusal(
                f"exceeded quota: {name}, requested: {_pretty(requested, exceeded)}, "
                f"used: {_pretty(used, exceeded)}, limited: {_pretty(hard, exceeded)}"
            )
        if requested:
            merged = {**(status.get("used") or {}), **{r: q_str(q) for r, q in new_used.items()}}
            out.append((rq, merged))
    return out


def release(
    rq: Mapping[str, Any],
    group: str,
    plural: str,
    kind: str,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> dict[str, str] | None:
    """The quota's `status.used` with what `admit` charged it for `obj` taken back (never below
    zero), or None when it charged nothing there."""
    usage = _charge(group, plural, kind, obj, old)
    status = rq.get("status") or {}
    hard = status.get("hard") or {}
    used = {k: q for k, v in (status.get("used") or {}).items() if (q := q_parse(v)) is not None}
    back = {r: q for r, q in usage.items() if r in hard and r in used}
    if not back:
        return None
    out = dict(status.get("used") or {})
    for r, q in back.items():
        out[r] = q_str((max(used[r][0] - q[0], Fraction(0)), used[r][1]))
    return out
