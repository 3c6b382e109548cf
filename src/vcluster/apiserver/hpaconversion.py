"""autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler conversion, as kube-apiserver 1.32 does it.

autoscaling/v2 is the storage version and has the shape of the internal type, so v2 objects are
stored as they are; autoscaling/v1 objects convert through `pkg/apis/autoscaling/v1/conversion.go`:

* v1 `spec.targetCPUUtilizationPercentage` is the v2 `Resource` cpu `Utilization` metric (the first
  cpu Resource metric back in v1); a v1 object without it gets the 80 % cpu metric;
* every other v2 metric, the behavior, `status.currentMetrics` and `status.conditions` travel
  through v1 as JSON annotations (`autoscaling.alpha.kubernetes.io/metrics`, `/behavior`,
  `/current-metrics`, `/conditions`) in the autoscaling/v1 shapes of those types (the behavior
  in the field names of the internal Go type, as upstream marshals it), and are moved back into the
  fields on the way to v2; a malformed annotation is dropped, as upstream drops it;
* `status.currentCPUUtilizationPercentage` is the cpu Resource metric status.

The annotation JSON is encoded as Go's encoding/json encodes those structs (field order, `omitempty`,
required quantities as "0", HTML-safe escaping), so the strings match kube-apiserver's.
"""

from __future__ import annotations

from typing import Any

import orjson

from vcluster.apiserver.conversion import VersionConversion
from vcluster.apiserver.defaults import apply_defaults, canonical_quantity, quantity_value
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l

V1 = "autoscaling/v1"
V2 = "autoscaling/v2"
KIND = "HorizontalPodAutoscaler"
METRIC_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
ROUND_TRIP_ANNOTATIONS = (
    METRIC_SPECS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
    METRIC_STATUSES_ANNOTATION,
    CONDITIONS_ANNOTATION,
)
DEFAULT_CPU_UTILIZATION = 80

JSON = dict[str, Any]


class _Malformed(Exception):
    """An annotation Go's json.Unmarshal would refuse (the whole annotation is then ignored)."""


def _quantity(v: Any) -> Any:
    """A Quantity as Go marshals it: its canonical string; a zero (absent) value is "0"."""
    if v is None:
        return "0"
    return canonical_quantity(v)


def _is_cpu_utilization(m: Any) -> bool:
    """A Resource cpu metric with a utilization target (what v1's targetCPU holds)."""
    res = _d(m).get("resource")
    return (
        _d(m).get("type") == "Resource"
        and isinstance(res, dict)
        and res.get("name") == "cpu"
        and _d(res.get("target")).get("averageUtilization") is not None
    )


def cpu_metric(utilization: Any) -> JSON:
    """The v2 Resource cpu Utilization metric."""
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": utilization}},
    }


def drop_round_trip_annotations(md: JSON) -> None:
    """DropRoundTripHorizontalPodAutoscalerAnnotations on a metadata dict (in place; an empty map
    disappears, as Go's omitempty drops it)."""
    ann = md.get("annotations")
    if not isinstance(ann, dict) or not any(k in ann for k in ROUND_TRIP_ANNOTATIONS):
        return
    kept = {k: v for k, v in ann.items() if k not in ROUND_TRIP_ANNOTATIONS}
    if kept:
        md["annotations"] = kept
    else:
        md.pop("annotations", None)


def _go_json(v: Any) -> str:
    """encoding/json.Marshal output: compact, with <, > and & escaped (Go's HTML-safe default)."""
    s = orjson.dumps(v).decode()
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        s = s.replace(ch, esc)
    return s.replace("\u2029", "\\u2029")


# ---------------------------------------------------------------------------- v2 -> v1 shapes
def _v1_ref(ref: Any) -> JSON:
    """autoscalingv1.CrossVersionObjectReference (apiVersion omitempty)."""
    ref = _d(ref)
    out: JSON = {"kind": ref.get("kind") or "", "name": ref.get("name") or ""}
    if ref.get("apiVersion"):
        out["apiVersion"] = ref["apiVersion"]
    return out


def _put(out: JSON, key: str, value: Any) -> None:
    """Set an `omitempty` pointer field when present."""
    if value is not None:
        out[key] = value


def _put_q(out: JSON, key: str, value: Any) -> None:
    """Set an `omitempty` quantity field (canonical form) when present."""
    if value is not None:
        out[key] = canonical_quantity(value)


def metric_spec_to_v1(m: Any) -> JSON:
    """Convert_autoscaling_MetricSpec_To_v1_MetricSpec (the v1 annotation shape)."""
    m = _d(m)
    out: JSON = {"type": m.get("type") or ""}
    obj = m.get("object")
    if isinstance(obj, dict):
        target, metric = _d(obj.get("target")), _d(obj.get("metric"))
        o: JSON = {
            "target": _v1_ref(obj.get("describedObject")),
            "metricName": metric.get("name") or "",
            "targetValue": _quantity(target.get("value")),
        }
        _put(o, "selector", metric.get("selector"))
        _put_q(o, "averageValue", target.get("averageValue"))
        out["object"] = o
    pods = m.get("pods")
    if isinstance(pods, dict):
        target, metric = _d(pods.get("target")), _d(pods.get("metric"))
        p: JSON = {
            "metricName": metric.get("name") or "",
            "targetAverageValue": _quantity(target.get("averageValue")),
        }
        _put(p, "selector", metric.get("selector"))
        out["pods"] = p
    for key in ("resource", "containerResource"):
        res = m.get(key)
        if isinstance(res, dict):
            target = _d(res.get("target"))
            r: JSON = {"name": res.get("name") or ""}
            _put(r, "targetAverageUtilization", target.get("averageUtilization"))
            _put_q(r, "targetAverageValue", target.get("averageValue"))
            if key == "containerResource":
                r["container"] = res.get("container") or ""
            out[key] = r
    ext = m.get("external")
    if isinstance(ext, dict):
        target, metric = _d(ext.get("target")), _d(ext.get("metric"))
        e: JSON = {"metricName": metric.get("name") or ""}
        _put(e, "metricSelector", metric.get("selector"))
        _put_q(e, "targetValue", target.get("value"))
        _put_q(e, "targetAverageValue", target.get("averageValue"))
        out["external"] = e
    return out


def metric_status_to_v1(m: Any) -> JSON:
    """Convert_autoscaling_MetricStatus_To_v1_MetricStatus."""
    m = _d(m)
    out: JSON = {"type": m.get("type") or ""}
    obj = m.get("object")
    if isinstance(obj, dict):
        cur, metric = _d(obj.get("current")), _d(obj.get("metric"))
        o: JSON = {
            "target": _v1_ref(obj.get("describedObject")),
            "metricName": metric.get("name") or "",
            "currentValue": _quantity(cur.get("value")),
        }
        _put(o, "selector", metric.get("selector"))
        _put_q(o, "averageValue", cur.get("averageValue"))
        out["object"] = o
    pods = m.get("pods")
    if isinstance(pods, dict):
        cur, metric = _d(pods.get("current")), _d(pods.get("metric"))
        p: JSON = {
            "metricName": metric.get("name") or "",
            "currentAverageValue": _quantity(cur.get("averageValue")),
        }
        _put(p, "selector", metric.get("selector"))
        out["pods"] = p
    for key in ("resource", "containerResource"):
        res = m.get(key)
        if isinstance(res, dict):
            cur = _d(res.get("current"))
            r: JSON = {"name": res.get("name") or ""}
            _put(r, "currentAverageUtilization", cur.get("averageUtilization"))
            r["currentAverageValue"] = _quantity(cur.get("averageValue"))
            if key == "containerResource":
                r["container"] = res.get("container") or ""
            out[key] = r
    ext = m.get("external")
    if isinstance(ext, dict):
        cur, metric = _d(ext.get("current")), _d(ext.get("metric"))
        e: JSON = {"metricName": metric.get("name") or ""}
        _put(e, "metricSelector", metric.get("selector"))
        e["currentValue"] = _quantity(cur.get("value"))
        _put_q(e, "currentAverageValue", cur.get("averageValue"))
        out["external"] = e
    return out


def _condition_to_v1(c: Any) -> JSON:
    """autoscalingv1.HorizontalPodAutoscalerCondition (a zero lastTransitionTime is null)."""
    c = _d(c)
    out: JSON = {
        "type": c.get("type") or "",
        "status": c.get("status") or "",
        "lastTransitionTime": c.get("lastTransitionTime") or None,
    }
    if c.get("reason"):
        out["reason"] = c["reason"]
    if c.get("message"):
        out["message"] = c["message"]
    return out


def _rules_internal(r: Any) -> JSON | None:
    """autoscaling.HPAScalingRules as json.Marshal writes the internal type (no JSON tags)."""
    if not isinstance(r, dict):
        return None
    pols = r.get("policies")
    return {
        "StabilizationWindowSeconds": r.get("stabilizationWindowSeconds"),
        "SelectPolicy": r.get("selectPolicy"),
        "Policies": None
        if pols is None
        else [
            {
                "Type": _d(p).get("type") or "",
                "Value": _d(p).get("value") or 0,
                "PeriodSeconds": _d(p).get("periodSeconds") or 0,
            }
            for p in _l(pols)
        ],
    }


def behavior_to_internal_json(b: JSON) -> str:
    """The behavior annotation: the internal HorizontalPodAutoscalerBehavior, Go-marshalled."""
    return _go_json(
        {"ScaleUp": _rules_internal(b.get("scaleUp")), "ScaleDown": _rules_internal(b.get("scaleDown"))}
    )


def v2_to_v1(obj: JSON) -> JSON:
    """Convert_autoscaling_HorizontalPodAutoscaler_To_v1_HorizontalPodAutoscaler (a new dict)."""
    if not isinstance(obj, dict) or obj.get("apiVersion") == V1:
        return obj
    md = dict(_d(obj.get("metadata")))
    drop_round_trip_annotations(md)
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    metrics = _l(spec.get("metrics"))
    v1spec: JSON = {"scaleTargetRef": _v1_ref(spec.get("scaleTargetRef"))}
    _put(v1spec, "minReplicas", spec.get("minReplicas"))
    v1spec["maxReplicas"] = spec.get("maxReplicas") or 0
    for m in metrics:
        res = _d(m).get("resource")
        if _d(m).get("type") == "Resource" and isinstance(res, dict) and res.get("name") == "cpu":
            _put(v1spec, "targetCPUUtilizationPercentage", _d(res.get("target")).get("averageUtilization"))
            break
    v1status: JSON = {}
    _put(v1status, "observedGeneration", status.get("observedGeneration"))
    _put(v1status, "lastScaleTime", status.get("lastScaleTime"))
    v1status["currentReplicas"] = status.get("currentReplicas") or 0
    v1status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current = _l(status.get("currentMetrics"))
    for m in current:
        res = _d(m).get("resource")
        if _d(m).get("type") == "Resource" and isinstance(res, dict) and res.get("name") == "cpu":
            _put(
                v1status, "currentCPUUtilizationPercentage", _d(res.get("current")).get("averageUtilization")
            )
    added: JSON = {}
    other = [metric_spec_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]
    if other:
        added[METRIC_SPECS_ANNOTATION] = _go_json(other)
    if current:
        added[METRIC_STATUSES_ANNOTATION] = _go_json([metric_status_to_v1(m) for m in current])
    if isinstance(spec.get("behavior"), dict):
        added[BEHAVIOR_ANNOTATION] = behavior_to_internal_json(spec["behavior"])
    conditions = _l(status.get("conditions"))
    if conditions:
        added[CONDITIONS_ANNOTATION] = _go_json([_condition_to_v1(c) for c in conditions])
    if added:
        md["annotations"] = {**_d(md.get("annotations")), **added}
    return {
        "kind": obj.get("kind") or KIND,
        "apiVersion": V1,
        "metadata": md,
        "spec": v1spec,
        "status": v1status,
    }


# ---------------------------------------------------------------------------- v1 -> v2 shapes
def _field(d: JSON, key: str) -> Any:
    """A struct field as Go's json.Unmarshal finds it: the exact key, else a case-insensitive match."""
    if key in d:
        return d[key]
    low = key.lower()
    for k, v in d.items():
        if k.lower() == low:
            return v
    return None


def _typed(d: JSON, key: str, types: type) -> Any:
    """A field of the expected JSON type, None when absent; another type is malformed."""
    v = _field(d, key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, types):
        raise _Malformed(key)
    return v


def _str(d: JSON, key: str) -> str:
    return _typed(d, key, str) or ""


def _int(d: JSON, key: str) -> int | None:
    return _typed(d, key, int)


def _obj(d: JSON, key: str) -> JSON | None:
    return _typed(d, key, dict)


def _q(d: JSON, key: str) -> Any:
    """A Quantity field (string or number); an invalid quantity fails the whole annotation."""
    v = _field(d, key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, str | int | float) or quantity_value(v) is None:
        raise _Malformed(key)
    return canonical_quantity(v)


def _v2_ref(d: JSON | None) -> JSON:
    """A v2 CrossVersionObjectReference from the v1 JSON."""
    d = d or {}
    out: JSON = {"kind": _str(d, "kind"), "name": _str(d, "name")}
    if _str(d, "apiVersion"):
        out["apiVersion"] = _str(d, "apiVersion")
    return out


def _identifier(name: str, selector: JSON | None) -> JSON:
    """A v2 MetricIdentifier."""
    out: JSON = {"name": name}
    _put(out, "selector", selector)
    return out


def _target(typ: str, value: Any = None, average: Any = None, utilization: Any = None) -> JSON:
    """A v2 MetricTarget (Go field order)."""
    out: JSON = {"type": typ}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def _value_status(value: Any = None, average: Any = None, utilization: Any = None) -> JSON:
    """A v2 MetricValueStatus (Go field order)."""
    out: JSON = {}
    _put(out, "value", value)
    _put(out, "averageValue", average)
    _put(out, "averageUtilization", utilization)
    return out


def metric_spec_from_v1(m: JSON) -> JSON:
    """Convert_v1_MetricSpec_To_autoscaling_MetricSpec (raises _Malformed on a type error)."""
    if not isinstance(m, dict):
        raise _Malformed("metric")
    out: JSON = {"type": _str(m, "type")}
    obj = _obj(m, "object")
    if obj is not None:
        average = _q(obj, "averageValue")
        value = _q(obj, "targetValue") or "0"
        out["object"] = {
            "describedObject": _v2_ref(_obj(obj, "target")),
            "target": _target("Value" if average is None else "AverageValue", value, average),
            "metric": _identifier(_str(obj, "metricName"), _obj(obj, "selector")),
        }
    pods = _obj(m, "pods")
    if pods is not None:
        out["pods"] = {
            "metric": _identifier(_str(pods, "metricName"), _obj(pods, "selector")),
            "target": _target("AverageValue", average=_q(pods, "targetAverageValue") or "0"),
        }
    for key in ("resource", "containerResource"):
        res = _obj(m, key)
        if res is not None:
            util = _int(res, "targetAverageUtilization")
            typ = "AverageValue" if util is None else "Utilization"
            r: JSON = {
                "name": _str(res, "name"),
                "target": _target(typ, None, _q(res, "targetAverageValue"), util),
            }
            if key == "containerResource":
                r["container"] = _str(res, "container")
            out[key] = r
    ext = _obj(m, "external")
    if ext is not None:
        value = _q(ext, "targetValue")
        out["external"] = {
            "metric": _identifier(_str(ext, "metricName"), _obj(ext, "metricSelector")),
            "target": _target(
                "AverageValue" if value is None else "Value", value, _q(ext, "targetAverageValue")
            ),
        }
    return out


def metric_status_from_v1(m: JSON) -> JSON:
    """Convert_v1_MetricStatus_To_autoscaling_MetricStatus (raises _Malformed on a type error)."""
    if not isinstance(m, dict):
        raise _Malformed("metric status")
    out: JSON = {"type": _str(m, "type")}
    obj = _obj(m, "object")
    if obj is not None:
        out["object"] = {
            "metric": _identifier(_str(obj, "metricName"), _obj(obj, "selector")),
            "current": _value_status(_q(obj, "currentValue") or "0", _q(obj, "averageValue")),
            "describedObject": _v2_ref(_obj(obj, "target")),
        }
    pods = _obj(m, "pods")
    if pods is not None:
        out["pods"] = {
            "metric": _identifier(_str(pods, "metricName"), _obj(pods, "selector")),
            "current": _value_status(average=_q(pods, "currentAverageValue") or "0"),
        }
    for key in ("resource", "containerResource"):
        res = _obj(m, key)
        if res is not None:
            cur = _value_status(
                None, _q(res, "currentAverageValue") or "0", _int(res, "currentAverageUtilization")
            )
            r: JSON = {"name": _str(res, "name"), "current": cur}
            if key == "containerResource":
                r["container"] = _str(res, "container")
            out[key] = r
    ext = _obj(m, "external")
    if ext is not None:
        out["external"] = {
            "metric": _identifier(_str(ext, "metricName"), _obj(ext, "metricSelector")),
            "current": _value_status(_q(ext, "currentValue") or "0", _q(ext, "currentAverageValue")),
        }
    return out


def _condition_from_v1(c: JSON) -> JSON:
    """A v2 condition from the v1 conditions annotation."""
    if not isinstance(c, dict):
        raise _Malformed("condition")
    out: JSON = {"type": _str(c, "type"), "status": _str(c, "status")}
    _put(out, "lastTransitionTime", _typed(c, "lastTransitionTime", str) or None)
    for key in ("reason", "message"):
        if _str(c, key):
            out[key] = _str(c, key)
    return out


def _rules_from_internal(r: Any) -> JSON | None:
    """v2 HPAScalingRules from the internal type's JSON (the behavior annotation)."""
    if r is None:
        return None
    if not isinstance(r, dict):
        raise _Malformed("rules")
    out: JSON = {}
    _put(out, "stabilizationWindowSeconds", _int(r, "StabilizationWindowSeconds"))
    _put(out, "selectPolicy", _typed(r, "SelectPolicy", str))
    pols = _typed(r, "Policies", list)
    if pols is not None:
        policies = []
        for p in pols:
            if not isinstance(p, dict):
                raise _Malformed("policy")
            policies.append(
                {
                    "type": _str(p, "Type"),
                    "value": _int(p, "Value") or 0,
                    "periodSeconds": _int(p, "PeriodSeconds") or 0,
                }
            )
        out["policies"] = policies
    return out


def _annotation(ann: JSON, key: str, shape: type) -> Any:
    """The JSON of a round-trip annotation, or None when absent or not of the expected shape."""
    raw = ann.get(key)
    if not isinstance(raw, str):
        return None
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if v is None:
        return shape()
    return v if isinstance(v, shape) else None


def _decoded_list(ann: JSON, key: str, fn: Any) -> list[JSON] | None:
    """A list annotation converted item by item, or None when any item is malformed."""
    items = _annotation(ann, key, list)
    if items is None:
        return None
    try:
        return [fn(i) for i in items]
    except _Malformed:
        return None


def _decoded_behavior(ann: JSON) -> JSON | None:
    """The behavior annotation as v2 behavior; None when malformed or empty."""
    b = _annotation(ann, BEHAVIOR_ANNOTATION, dict)
    if b is None:
        return None
    try:
        up, down = _rules_from_internal(_field(b, "ScaleUp")), _rules_from_internal(_field(b, "ScaleDown"))
    except _Malformed:
        return None
    if up is None and down is None:
        return None
    out: JSON = {}
    _put(out, "scaleUp", up)
    _put(out, "scaleDown", down)
    return out


def v1_to_v2(obj: JSON) -> JSON:
    """Convert_v1_HorizontalPodAutoscaler_To_autoscaling_HorizontalPodAutoscaler (a new dict)."""
    if not isinstance(obj, dict) or obj.get("apiVersion") == V2:
        return obj
    md = dict(_d(obj.get("metadata")))
    ann = _d(md.get("annotations"))
    spec, status = _d(obj.get("spec")), _d(obj.get("status"))
    ref = _d(spec.get("scaleTargetRef"))
    v2spec: JSON = {"scaleTargetRef": {k: ref[k] for k in ("kind", "name", "apiVersion") if ref.get(k)}}
    v2spec["scaleTargetRef"].setdefault("kind", "")
    v2spec["scaleTargetRef"].setdefault("name", "")
    _put(v2spec, "minReplicas", spec.get("minReplicas"))
    v2spec["maxReplicas"] = spec.get("maxReplicas") or 0
    metrics: list[JSON] = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics = [cpu_metric(spec["targetCPUUtilizationPercentage"])]
    other = _decoded_list(ann, METRIC_SPECS_ANNOTATION, metric_spec_from_v1)
    if other is not None:
        metrics = other + metrics[:1]
    behavior = _decoded_behavior(ann)
    v2status: JSON = {}
    _put(v2status, "observedGeneration", status.get("observedGeneration"))
    _put(v2status, "lastScaleTime", status.get("lastScaleTime"))
    if status.get("currentReplicas"):
        v2status["currentReplicas"] = status["currentReplicas"]
    v2status["desiredReplicas"] = status.get("desiredReplicas") or 0
    current: list[JSON] = []
    if status.get("currentCPUUtilizationPercentage") is not None:
        pct = status["currentCPUUtilizationPercentage"]
        current = [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": pct}}}]
    decoded = _decoded_list(ann, METRIC_STATUSES_ANNOTATION, metric_status_from_v1)
    if decoded is not None:
        current = decoded
    if not metrics:
        metrics = [cpu_metric(DEFAULT_CPU_UTILIZATION)]
    v2spec["metrics"] = metrics
    if behavior is not None:
        v2spec["behavior"] = behavior
    if current:
        v2status["currentMetrics"] = current
    conditions = _decoded_list(ann, CONDITIONS_ANNOTATION, _condition_from_v1)
    if conditions:
        v2status["conditions"] = conditions
    drop_round_trip_annotations(md)
    return {
        "kind": obj.get("kind") or KIND,
        "apiVersion": V2,
        "metadata": md,
        "spec": v2spec,
        "status": v2status,
    }


def normalize_v2(obj: JSON) -> None:
    """What decoding a v2 body into the Go type does (in place): the round-trip annotations are
    dropped (`Convert_v2_HorizontalPodAutoscaler_To_autoscaling_...`) and quantities take their
    canonical form."""
    drop_round_trip_annotations(_d(obj.get("metadata")))
    for m in _l(_d(obj.get("spec")).get("metrics")):
        for src in _d(m).values():
            target = _d(src).get("target") if isinstance(src, dict) else None
            for key in ("value", "averageValue"):
                if isinstance(target, dict) and target.get(key) is not None:
                    target[key] = canonical_quantity(target[key])


def v1_to_storage(obj: JSON) -> JSON:
    """A v1 object as stored: converted, then with the v2 defaults the storage decoder applies."""
    out = v1_to_v2(obj)
    apply_defaults(out, "autoscaling", "v2", KIND)
    return out


def as_internal(obj: JSON) -> JSON:
    """The internal (v2-shaped) form of a v1 or v2 object, for validation and printing."""
    return v1_to_v2(obj) if isinstance(obj, dict) and obj.get("apiVersion") == V1 else obj


V1_CONVERSION = VersionConversion(v2_to_v1, v1_to_storage)
