"""The HPA controller's arithmetic (kube-controller-manager 1.32, `pkg/controller/podautoscaler`): the
replica calculator for resource metrics, the recommendation stabilization and the scaling rules.

Pure functions over plain data, so they can be tested without a cluster; `podautoscaler.py` calls
them once a metrics API answered. Values are int64 milli-units as upstream computes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vcluster.apiserver.defaults import quantity_value
from vcluster.controllers.base import get_condition, parse_time

TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = timedelta(minutes=5)  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = timedelta(seconds=30)  # --horizontal-pod-autoscaler-initial-readiness-delay
DOWNSCALE_STABILIZATION = timedelta(minutes=5)  # --horizontal-pod-autoscaler-downscale-stabilization
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


@dataclass(frozen=True, slots=True)
class Tuning:
    """The controller's kube-controller-manager settings (HPAControllerConfiguration) the arithmetic uses."""

    tolerance: float = TOLERANCE
    cpu_initialization_period: timedelta = CPU_INITIALIZATION_PERIOD
    initial_readiness_delay: timedelta = INITIAL_READINESS_DELAY
    downscale_stabilization: timedelta = DOWNSCALE_STABILIZATION


DEFAULT_TUNING = Tuning()


class CalcError(Exception):
    """A failure of the replica calculation; the text is upstream's error text."""


@dataclass(frozen=True, slots=True)
class PodMetric:
    """metricsclient.PodMetric: one pod's usage (milli-units) with its sample time and window."""

    value: int
    timestamp: datetime | None = None
    window: timedelta = timedelta(0)


def milli(q: Any) -> int:
    """resource.Quantity.MilliValue (rounded up, as Go rounds the scaled value away from zero)."""
    v = quantity_value(q)
    if v is None:
        return 0
    return math.ceil(v * 1000) if v >= 0 else -math.ceil(-v * 1000)


def go_duration_seconds(s: Any) -> timedelta:
    """A metav1.Duration (`30s`, `1m30s`, `500ms`) as a timedelta; unparsable is zero."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    if not isinstance(s, str) or not s:
        return timedelta(0)
    total, num, i = 0.0, "", 0
    while i < len(s):
        ch = s[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = next((u for u in ("ms", "us", "µs", "ns", "h", "m", "s") if s.startswith(u, i)), None)
        if unit is None or not num:
            return timedelta(0)
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    return timedelta(seconds=total)


def resource_metrics(items: Iterable[Any], resource: str, container: str) -> dict[str, PodMetric]:
    """resourceMetricsClient.GetResourceMetric: each pod's summed container usage (one container
    with `container`); pods reported without containers are left out."""
    out: dict[str, PodMetric] = {}
    for item in items:
        item = item if isinstance(item, dict) else {}
        containers = [c for c in item.get("containers") or [] if isinstance(c, dict)]
        md = item.get("metadata") or {}
        if not containers:
            continue
        total, found = 0, False
        for c in containers:
            if container and c.get("name") != container:
                continue
            found = True
            total += milli((c.get("usage") or {}).get(resource))
        if container and not found:
            raise CalcError(
                f"failed to get container metrics: container {container} not present in metrics for pod "
                f"{md.get('namespace', '')}/{md.get('name', '')}"
            )
        out[md.get("name", "")] = PodMetric(
            total, parse_time(item.get("timestamp")), go_duration_seconds(item.get("window"))
        )
    return out


def group_pods(
    pods: Iterable[Mapping[str, Any]],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: datetime,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready count, unready, missing, ignored) pod names."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        md, status = pod.get("metadata") or {}, pod.get("status") or {}
        name = md.get("name", "")
        if md.get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = get_condition(status, "Ready")
            start = parse_time(status.get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                transition = parse_time(cond.get("lastTransitionTime")) or start
                if start + tuning.cpu_initialization_period > now:
                    stale = metric.timestamp is None or metric.timestamp < transition + metric.window
                    is_unready = cond.get("status") == "False" or stale
                else:
                    is_unready = (
                        cond.get("status") == "False" and start + tuning.initial_readiness_delay > transition
                    )
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: Iterable[Mapping[str, Any]], container: str, resource: str) -> dict[str, int]:
    """calculatePodRequests: each pod's requests of `resource` (regular and sidecar containers)."""
    out: dict[str, int] = {}
    for pod in pods:
        spec, name = pod.get("spec") or {}, (pod.get("metadata") or {}).get("name", "")
        containers = list(spec.get("containers") or [])
        containers += [
            c for c in spec.get("initContainers") or [] if (c or {}).get("restartPolicy") == "Always"
        ]
        total = 0
        for c in containers:
            if container and c.get("name") != container:
                continue
            requests = (c.get("resources") or {}).get("requests") or {}
            if resource not in requests:
                raise CalcError(
                    f"missing request for {resource} in container {c.get('name', '')} of Pod {name}"
                )
            total += milli(requests[resource])
        out[name] = total
    return out


def utilization_ratio(
    metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio, utilization %, average raw value)."""
    used = requested = n = 0
    for name, m in metrics.items():
        if name not in requests:
            continue
        used += m.value
        requested += requests[name]
        n += 1
    if requested == 0:
        raise CalcError("no metrics returned matched known pods")
    util = _go_div(used * 100, requested)
    return util / target, util, _go_div(used, n)


def usage_ratio(metrics: Mapping[str, PodMetric], target: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (ratio, average usage)."""
    usage = _go_div(sum(m.value for m in metrics.values()), len(metrics))
    return usage / target, usage


def _go_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _prepare(
    metrics: dict[str, PodMetric],
    pods: list[Mapping[str, Any]],
    resource: str,
    now: datetime,
    tuning: Tuning,
) -> tuple[int, set[str], set[str]]:
    """The grouping and filtering both calculators start with (ready count, unready, missing)."""
    if not pods:
        raise CalcError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now, tuning)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise CalcError("did not receive metrics for targeted pods (pods might be unready)")
    return ready, unready, missing


def _settle(current: int, ratio: float, new_ratio: float, count: int, tolerance: float) -> int:
    """The second pass of both calculators: keep the current count for a small change or a flip."""
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    metrics: dict[str, PodMetric],
    pods: list[Mapping[str, Any]],
    container: str,
    now: datetime,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[int, int, int]:
    """ReplicaCalculator.GetResourceReplicas after the metrics fetch: (replicas, utilization, raw)."""
    ready, unready, missing = _prepare(metrics, pods, resource, now, tuning)
    requests = pod_requests(pods, container, resource)
    ratio, util, raw = utilization_ratio(metrics, requests, target_utilization)
    with_unready = bool(unready) and ratio > 1.0
    if not with_unready and not missing:
        if abs(1.0 - ratio) <= tuning.tolerance:
            return current, util, raw
        return math.ceil(ratio * ready), util, raw
    if missing:
        fallback = max(100, target_utilization)
        for name in missing:
            value = _go_div(requests.get(name, 0) * fallback, 100) if ratio < 1.0 else 0
            if ratio != 1.0:
                metrics[name] = PodMetric(value)
    if with_unready:
        for name in unready:
            metrics[name] = PodMetric(0)
    new_ratio = utilization_ratio(metrics, requests, target_utilization)[0]
    return _settle(current, ratio, new_ratio, len(metrics), tuning.tolerance), util, raw


def raw_resource_replicas(
    current: int,
    target_usage: int,
    resource: str,
    metrics: dict[str, PodMetric],
    pods: list[Mapping[str, Any]],
    now: datetime,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[int, int]:
    """calcPlainMetricReplicas (GetRawResourceReplicas): (replicas, average usage)."""
    ready, unready, missing = _prepare(metrics, pods, resource, now, tuning)
    ratio, usage = usage_ratio(metrics, target_usage)
    with_unready = bool(unready) and ratio > 1.0
    if not with_unready and not missing:
        if abs(1.0 - ratio) <= tuning.tolerance:
            return current, usage
        return math.ceil(ratio * ready), usage
    for name in missing:
        metrics[name] = PodMetric(target_usage if ratio < 1.0 else 0)
    if with_unready:
        for name in unready:
            metrics[name] = PodMetric(0)
    new_ratio = usage_ratio(metrics, target_usage)[0]
    return _settle(current, ratio, new_ratio, len(metrics), tuning.tolerance), usage


# ---------------------------------------------------------------------------- normalization
@dataclass
class ScaleEvent:
    """timestampedScaleEvent."""

    change: int
    at: datetime
    outdated: bool = False


@dataclass
class Recommendations:
    """The per-HPA memory of the controller: recent recommendations and scale events."""

    recommendations: list[tuple[int, datetime]] = field(default_factory=list)
    scale_up: list[ScaleEvent] = field(default_factory=list)
    scale_down: list[ScaleEvent] = field(default_factory=list)


Condition = tuple[str, str, str, str]  # (type, status, reason, message)


def calculate_scale_up_limit(current: int) -> int:
    """calculateScaleUpLimit: twice the replicas, at least 4."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def convert_with_rules(
    current: int, desired: int, min_replicas: int, max_replicas: int
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules."""
    limit = calculate_scale_up_limit(current)
    if max_replicas > limit:
        maximum, cond, reason = (
            limit,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    else:
        maximum, cond, reason = (
            max_replicas,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    if desired < min_replicas:
        return (
            min_replicas,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    if desired > maximum:
        return maximum, cond, reason
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def normalize(
    mem: Recommendations,
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    now: datetime,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[int, list[Condition]]:
    """normalizeDesiredReplicas (no behavior): the stabilized, bounded count and its conditions."""
    cutoff = now - tuning.downscale_stabilization
    stabilized, old = desired, None
    for i, (rec, at) in enumerate(mem.recommendations):
        if at < cutoff:
            old = i
        elif rec > stabilized:
            stabilized = rec
    if old is not None:
        mem.recommendations[old] = (desired, now)
    else:
        mem.recommendations.append((desired, now))
    if stabilized != desired:
        able = ("AbleToScale", "True", "ScaleDownStabilized", _HIGHER)
    else:
        able = ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
    result, cond, reason = convert_with_rules(current, stabilized, min_replicas, max_replicas)
    limited = ("ScalingLimited", "False" if result == stabilized else "True", cond, reason)
    return result, [able, limited]


_HIGHER = "recent recommendations were higher than current one, applying the highest recent recommendation"
_LOWER = "recent recommendations were lower than current one, applying the lowest recent recommendation"


def _changes(period: int, events: list[ScaleEvent], now: datetime) -> int:
    """getReplicasChangePerPeriod: the replicas added (or removed) within the period."""
    cutoff = now - timedelta(seconds=period)
    return sum(e.change for e in events if e.at > cutoff)


def _limit(rules: Mapping[str, Any], current: int, mem: Recommendations, now: datetime, up: bool) -> int:
    """calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors."""
    select = rules.get("selectPolicy")
    if select == "Disabled":
        return current
    lowest = select == "Min"
    pick = (min if lowest else max) if up else (max if lowest else min)
    result = (INT32_MAX if lowest else INT32_MIN) if up else (INT32_MIN if lowest else INT32_MAX)
    for p in rules.get("policies") or []:
        added = _changes(int(p.get("periodSeconds") or 0), mem.scale_up, now)
        deleted = _changes(int(p.get("periodSeconds") or 0), mem.scale_down, now)
        start = current - added + deleted
        value = int(p.get("value") or 0)
        if p.get("type") == "Pods":
            proposed = start + value if up else start - value
        else:
            proposed = math.ceil(start * (1 + value / 100)) if up else int(start * (1 - value / 100))
        result = pick(result, proposed)
    return result


def normalize_with_behaviors(
    mem: Recommendations,
    behavior: Mapping[str, Any],
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    now: datetime,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[int, list[Condition]]:
    """normalizeDesiredReplicasWithBehaviors: stabilization windows, then the scaling policies."""
    up_rules, down_rules = dict(behavior.get("scaleUp") or {}), dict(behavior.get("scaleDown") or {})
    if down_rules.get("stabilizationWindowSeconds") is None:  # maybeInitScaleDownStabilizationWindow
        down_rules["stabilizationWindowSeconds"] = int(tuning.downscale_stabilization.total_seconds())
    up_cut = now - timedelta(seconds=int(up_rules.get("stabilizationWindowSeconds") or 0))
    down_cut = now - timedelta(seconds=int(down_rules["stabilizationWindowSeconds"]))
    up_rec = down_rec = desired
    old = None
    for i, (rec, at) in enumerate(mem.recommendations):
        if at > up_cut:
            up_rec = min(rec, up_rec)
        if at > down_cut:
            down_rec = max(rec, down_rec)
        if at < up_cut and at < down_cut:
            old = i
    stabilized = min(max(current, up_rec), down_rec)
    if old is not None:
        mem.recommendations[old] = (desired, now)
    else:
        mem.recommendations.append((desired, now))
    if stabilized != desired:
        up = desired >= current
        able = (
            "AbleToScale",
            "True",
            "ScaleUpStabilized" if up else "ScaleDownStabilized",
            _LOWER if up else _HIGHER,
        )
    else:
        able = ("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
    result, reason, message = (
        stabilized,
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )
    if stabilized > current:
        limit = max(_limit(up_rules, current, mem, now, True), current)
        if max_replicas > limit:
            maximum, why = (
                limit,
                (
                    "ScaleUpLimit",
                    "the desired replica count is increasing faster than the maximum scale rate",
                ),
            )
        else:
            maximum, why = (
                max_replicas,
                ("TooManyReplicas", "the desired replica count is more than the maximum replica count"),
            )
        if stabilized > maximum:
            result, (reason, message) = maximum, why
    elif stabilized < current:
        limit = min(_limit(down_rules, current, mem, now, False), current)
        if min_replicas < limit:
            minimum, why = (
                limit,
                (
                    "ScaleDownLimit",
                    "the desired replica count is decreasing faster than the maximum scale rate",
                ),
            )
        else:
            minimum, why = (
                min_replicas,
                ("TooFewReplicas", "the desired replica count is less than the minimum replica count"),
            )
        if stabilized < minimum:
            result, (reason, message) = minimum, why
    limited = ("ScalingLimited", "False" if result == stabilized else "True", reason, message)
    return result, [able, limited]


def _longest_period(rules: Mapping[str, Any]) -> int:
    """getLongestPolicyPeriod."""
    return max((int(p.get("periodSeconds") or 0) for p in rules.get("policies") or []), default=0)


def store_scale_event(
    mem: Recommendations, behavior: Mapping[str, Any] | None, prev: int, new: int, now: datetime
) -> None:
    """storeScaleEvent: remember a rescale for the policies' periods (reusing an outdated slot)."""
    if behavior is None:
        return
    up = new > prev
    events = mem.scale_up if up else mem.scale_down
    cutoff = now - timedelta(seconds=_longest_period(behavior.get("scaleUp" if up else "scaleDown") or {}))
    slot = None
    for i, e in enumerate(events):
        if e.at < cutoff:
            e.outdated = True
        if e.outdated:
            slot = i
    event = ScaleEvent(abs(new - prev), now)
    if slot is not None:
        events[slot] = event
    else:
        events.append(event)
