"""HorizontalPodAutoscaler validation, as kube-apiserver 1.32 (`pkg/apis/autoscaling/validation`).

Validation runs on the internal object, which has the shape of autoscaling/v2: an autoscaling/v1
object is converted first (`hpaconversion.as_internal`), so its errors name the v2 field paths
(`spec.metrics[0].resource.target.averageUtilization`), as upstream's do. The HPAScaleToZero gate is
off: minReplicas must be at least 1, unless an update keeps an object whose minReplicas was 0.
"""

from __future__ import annotations

from typing import Any

from vcluster.apiserver.defaults import canonical_quantity, quantity_value
from vcluster.apiserver.errors import Cause
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.hpaconversion import as_internal
from vcluster.apiserver.validation import (
    is_dns1123_label,
    is_valid_path_segment_name,
    validate_qualified_name,
)
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
_SOURCE_FIELDS = ("object", "external", "pods", "resource", "containerResource")
_EXPECTED_FIELD = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}
# pkg/apis/core/v1/helper: standardResources, standardContainerResources.
_STANDARD_RESOURCES = frozenset(
    (
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
        "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
        "replicationcontrollers", "secrets", "configmaps", "persistentvolumeclaims", "storage",
        "requests.storage", "services.nodeports", "services.loadbalancers",
    )
)  # fmt: skip
_STANDARD_CONTAINER_RESOURCES = frozenset(("cpu", "memory", "ephemeral-storage"))

JSON = dict[str, Any]


# ---------------------------------------------------------------------------- field errors
def _value(v: Any) -> str:
    """field.Error's rendering of a bad value (pointers dereferenced; strings and named string
    types quoted; a Quantity as its quoted canonical string)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return go_quote(str(v))


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {_value(value)}: {detail}", path)


def _required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def _forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    values = ", ".join(go_quote(s) for s in supported)
    return Cause(
        "FieldValueNotSupported", f"Unsupported value: {_value(value)}: supported values: {values}", path
    )


def _positive(q: Any) -> bool:
    """Quantity.Sign() == 1."""
    v = quantity_value(q)
    return v is not None and v > 0


# ---------------------------------------------------------------------------- references
def validate_cross_version_object_reference(ref: Any, path: str) -> list[Cause]:
    """ValidateCrossVersionObjectReference: kind and name required, valid path segments."""
    ref = _d(ref)
    causes: list[Cause] = []
    for key in ("kind", "name"):
        value = _s(ref.get(key))
        if not value:
            causes.append(_required(f"{path}.{key}"))
        else:
            causes.extend(_invalid(f"{path}.{key}", value, m) for m in is_valid_path_segment_name(value))
    return causes


# ---------------------------------------------------------------------------- metrics
def _validate_metric_target(mt: JSON, path: str) -> list[Cause]:
    """validateMetricTarget."""
    causes: list[Cause] = []
    typ = _s(mt.get("type"))
    if not typ:
        causes.append(_required(f"{path}.type", "must specify a metric target type"))
    if typ not in ("Utilization", "Value", "AverageValue"):
        causes.append(_invalid(f"{path}.type", typ, "must be either Utilization, Value, or AverageValue"))
    for key in ("value", "averageValue"):
        q = mt.get(key)
        if q is not None and not _positive(q):
            causes.append(_invalid(f"{path}.{key}", canonical_quantity(q), "must be positive"))
    util = mt.get("averageUtilization")
    if isinstance(util, int) and util < 1:
        causes.append(_invalid(f"{path}.averageUtilization", util, "must be greater than 0"))
    return causes


def _validate_metric_identifier(mid: JSON, path: str) -> list[Cause]:
    """validateMetricIdentifier."""
    name = _s(mid.get("name"))
    if not name:
        return [_required(f"{path}.name", "must specify a metric name")]
    return [_invalid(f"{path}.name", name, m) for m in is_valid_path_segment_name(name)]


def _validate_object_source(src: JSON, path: str) -> list[Cause]:
    """validateObjectSource."""
    target = _d(src.get("target"))
    causes = validate_cross_version_object_reference(src.get("describedObject"), f"{path}.describedObject")
    causes += _validate_metric_identifier(_d(src.get("metric")), f"{path}.metric")
    causes += _validate_metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        causes.append(
            _required(f"{path}.target.averageValue", "must set either a target value or averageValue")
        )
    return causes


def _validate_external_source(src: JSON, path: str) -> list[Cause]:
    """validateExternalSource."""
    target = _d(src.get("target"))
    causes = _validate_metric_identifier(_d(src.get("metric")), f"{path}.metric")
    causes += _validate_metric_target(target, f"{path}.target")
    value, average = target.get("value"), target.get("averageValue")
    if value is None and average is None:
        causes.append(
            _required(
                f"{path}.target.averageValue", "must set either a target value for metric or a per-pod target"
            )
        )
    if value is not None and average is not None:
        causes.append(
            _forbidden(
                f"{path}.target.value", "may not set both a target value for metric and a per-pod target"
            )
        )
    return causes


def _validate_pods_source(src: JSON, path: str) -> list[Cause]:
    """validatePodsSource."""
    target = _d(src.get("target"))
    causes = _validate_metric_identifier(_d(src.get("metric")), f"{path}.metric")
    causes += _validate_metric_target(target, f"{path}.target")
    if target.get("averageValue") is None:
        causes.append(_required(f"{path}.target.averageValue", "must specify a positive target averageValue"))
    return causes


def _validate_container_resource_name(name: str, path: str) -> list[Cause]:
    """pkg/apis/core/v1/validation ValidateContainerResourceName (ValidateResourceName first)."""
    causes = [_invalid(path, name, m) for m in validate_qualified_name(name)]
    hugepages = name.startswith("hugepages-")
    quota_hugepages = name.startswith("requests.hugepages-")
    if (
        not causes
        and "/" not in name
        and name not in _STANDARD_RESOURCES
        and not (hugepages or quota_hugepages)
    ):
        causes.append(_invalid(path, name, "must be a standard resource type or fully qualified"))
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not hugepages:
            causes.append(_invalid(path, name, "must be a standard resource for containers"))
    elif "kubernetes.io/" not in name:
        extended = not name.startswith("requests.") and not validate_qualified_name("requests." + name)
        if not extended:
            causes.append(_invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def _validate_resource_target(target: JSON, path: str) -> list[Cause]:
    """The target checks validateResourceSource and validateContainerResourceSource share."""
    causes = _validate_metric_target(target, path)
    util, average = target.get("averageUtilization"), target.get("averageValue")
    if util is None and average is None:
        causes.append(
            _required(
                f"{path}.averageUtilization", "must set either a target raw value or a target utilization"
            )
        )
    if util is not None and average is not None:
        causes.append(
            _forbidden(f"{path}.averageValue", "may not set both a target raw value and a target utilization")
        )
    return causes


def _validate_container_resource_source(src: JSON, path: str) -> list[Cause]:
    """validateContainerResourceSource."""
    name, container = _s(src.get("name")), _s(src.get("container"))
    if not name:
        causes = [_required(f"{path}.name", "must specify a resource name")]
    else:
        causes = _validate_container_resource_name(name, f"{path}.name")
    if not container:
        causes.append(_required(f"{path}.container", "must specify a container"))
    else:
        causes.extend(_invalid(f"{path}.container", container, m) for m in is_dns1123_label(container))
    return causes + _validate_resource_target(_d(src.get("target")), f"{path}.target")


def _validate_resource_source(src: JSON, path: str) -> list[Cause]:
    """validateResourceSource."""
    causes = [] if _s(src.get("name")) else [_required(f"{path}.name", "must specify a resource name")]
    return causes + _validate_resource_target(_d(src.get("target")), f"{path}.target")


_SOURCE_VALIDATORS = {
    "object": _validate_object_source,
    "external": _validate_external_source,
    "pods": _validate_pods_source,
    "resource": _validate_resource_source,
    "containerResource": _validate_container_resource_source,
}


def _validate_metric_spec(spec: JSON, path: str) -> list[Cause]:
    """validateMetricSpec: a supported type, the matching source (validated) and no other."""
    causes: list[Cause] = []
    typ = _s(spec.get("type"))
    if not typ:
        causes.append(_required(f"{path}.type", "must specify a metric source type"))
    if typ not in METRIC_SOURCE_TYPES:
        causes.append(_not_supported(f"{path}.type", typ, METRIC_SOURCE_TYPES))
    present: list[str] = []
    for key in _SOURCE_FIELDS:
        if isinstance(spec.get(key), dict):
            present.append(key)
            if len(present) == 1:
                causes.extend(_SOURCE_VALIDATORS[key](spec[key], f"{path}.{key}"))
    expected = _EXPECTED_FIELD.get(typ, "")
    if expected and expected not in present:
        causes.append(
            _required(f"{path}.{expected}", "must populate information for the given metric source")
        )
    if not expected:
        # the switch's default case repeats the NotSupported error (the 422 message shows it once)
        causes.append(_not_supported(f"{path}.type", typ, METRIC_SOURCE_TYPES))
    if len(present) != 1:
        for key in sorted(k for k in present if k != expected):
            causes.append(_forbidden(f"{path}.{key}", "must populate the given metric source only"))
    return causes


def _validate_metrics(metrics: list[Any], path: str, min_replicas: Any) -> list[Cause]:
    """validateMetrics: each metric, and an Object or External one for minReplicas 0."""
    causes: list[Cause] = []
    object_or_external = False
    for i, m in enumerate(metrics):
        causes.extend(_validate_metric_spec(_d(m), f"{path}[{i}]"))
        object_or_external = object_or_external or _d(m).get("type") in ("Object", "External")
    if min_replicas == 0 and not object_or_external:
        causes.append(
            _forbidden(
                path,
                "must specify at least one Object or External metric to support scaling to zero replicas",
            )
        )
    return causes


# ---------------------------------------------------------------------------- behavior
def _validate_scaling_policy(policy: JSON, path: str) -> list[Cause]:
    """validateScalingPolicy."""
    causes: list[Cause] = []
    typ = _s(policy.get("type"))
    if typ not in POLICY_TYPES:
        causes.append(_not_supported(f"{path}.type", typ, POLICY_TYPES))
    value = policy.get("value") if isinstance(policy.get("value"), int) else 0
    if value <= 0:
        causes.append(_invalid(f"{path}.value", value, "must be greater than zero"))
    period = policy.get("periodSeconds") if isinstance(policy.get("periodSeconds"), int) else 0
    if period <= 0:
        causes.append(_invalid(f"{path}.periodSeconds", period, "must be greater than zero"))
    if period > MAX_PERIOD_SECONDS:
        causes.append(
            _invalid(f"{path}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}")
        )
    return causes


def _validate_scaling_rules(rules: Any, path: str) -> list[Cause]:
    """validateScalingRules."""
    if not isinstance(rules, dict):
        return []
    causes: list[Cause] = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and window < 0:
        causes.append(
            _invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero")
        )
    if isinstance(window, int) and window > MAX_STABILIZATION_WINDOW_SECONDS:
        causes.append(
            _invalid(
                f"{path}.stabilizationWindowSeconds",
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
            )
        )
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        causes.append(_not_supported(f"{path}.selectPolicy", select, SELECT_POLICIES))
    policies = _l(rules.get("policies"))
    if not policies:
        causes.append(_required(f"{path}.policies", "must specify at least one Policy"))
    for i, p in enumerate(policies):
        causes.extend(_validate_scaling_policy(_d(p), f"{path}.policies[{i}]"))
    return causes


def _validate_behavior(behavior: Any, path: str) -> list[Cause]:
    """validateBehavior."""
    if not isinstance(behavior, dict):
        return []
    return _validate_scaling_rules(behavior.get("scaleUp"), f"{path}.scaleUp") + _validate_scaling_rules(
        behavior.get("scaleDown"), f"{path}.scaleDown"
    )


# ---------------------------------------------------------------------------- objects
def validate_spec(spec: JSON, min_replicas_lower_bound: int) -> list[Cause]:
    """validateHorizontalPodAutoscalerSpec."""
    causes: list[Cause] = []
    min_replicas = spec.get("minReplicas") if isinstance(spec.get("minReplicas"), int) else None
    max_replicas = spec.get("maxReplicas") if isinstance(spec.get("maxReplicas"), int) else 0
    if min_replicas is not None and min_replicas < min_replicas_lower_bound:
        detail = f"must be greater than or equal to {min_replicas_lower_bound}"
        causes.append(_invalid("spec.minReplicas", min_replicas, detail))
    if max_replicas < 1:
        causes.append(_invalid("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if min_replicas is not None and max_replicas < min_replicas:
        causes.append(
            _invalid("spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`")
        )
    causes += validate_cross_version_object_reference(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    causes += _validate_metrics(_l(spec.get("metrics")), "spec.metrics", min_replicas)
    return causes + _validate_behavior(spec.get("behavior"), "spec.behavior")


def validate_create(obj: JSON) -> list[Cause]:
    """ValidateHorizontalPodAutoscaler (the spec; metadata is validation.py's part)."""
    return validate_spec(_d(as_internal(obj).get("spec")), 1)


def validate_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateHorizontalPodAutoscalerUpdate: minReplicas may stay 0 if the stored object has 0."""
    old_min = _d(as_internal(old).get("spec")).get("minReplicas")
    return validate_spec(_d(as_internal(new).get("spec")), 0 if old_min == 0 else 1)
