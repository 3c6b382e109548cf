"""HorizontalPodAutoscaler: v1 <-> v2 conversion, defaults, validation, printing and the controller's
arithmetic, against kube-apiserver / kube-controller-manager 1.32.

Expected values follow pkg/apis/autoscaling/v1/conversion.go (and its round-trip tests),
pkg/apis/autoscaling/v2/defaults.go, pkg/apis/autoscaling/validation/validation.go,
pkg/printers/internalversion/printers.go and pkg/controller/podautoscaler.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from vcluster.apiserver import hpa
from vcluster.apiserver import hpaconversion as conv
from vcluster.apiserver.defaults import apply_defaults
from vcluster.apiserver.errors import Cause, invalid
from vcluster.apiserver.printers import row_cells
from vcluster.apiserver.validation import is_dns1123_label
from vcluster.controllers import hpacalc
from vcluster.controllers.podautoscaler import (
    client_error,
    parse_group_version,
    selector_go_string,
    set_condition,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
CPU80 = conv.cpu_metric(80)
M0 = "spec.metrics[0]"
SD = "spec.behavior.scaleDown"
ZERO = (
    "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero "
    "replicas"
)
TYPES = '"ContainerResource", "External", "Object", "Pods", "Resource"'


def copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def v1_hpa(
    spec: dict[str, Any], annotations: dict[str, str] | None = None, status: Any = None
) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "web", "namespace": "default"}
    if annotations is not None:
        md["annotations"] = annotations
    obj = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": md, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


def v2_hpa(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": REF, "minReplicas": 1, "maxReplicas": 5, **spec},
        "status": status or {"desiredReplicas": 0},
    }


# ---------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------


def test_v1_target_cpu_is_the_cpu_utilization_metric() -> None:
    v2 = conv.v1_to_v2(
        v1_hpa({"scaleTargetRef": REF, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60})
    )
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [conv.cpu_metric(60)]
    assert v2["status"] == {"desiredReplicas": 0}  # currentReplicas is omitempty in v2
    back = conv.v2_to_v1(v2)
    assert back["spec"] == {"scaleTargetRef": REF, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60}
    assert back["status"] == {"currentReplicas": 0, "desiredReplicas": 0}  # not omitempty in v1
    assert "annotations" not in back["metadata"]


def test_v1_without_a_target_gets_80_percent_cpu() -> None:
    stored = conv.v1_to_storage(v1_hpa({"scaleTargetRef": REF, "maxReplicas": 3}))
    assert stored["spec"]["metrics"] == [CPU80]
    assert conv.v2_to_v1(stored)["spec"]["targetCPUUtilizationPercentage"] == 80


def test_v2_only_fields_travel_through_v1_annotations_and_back() -> None:
    pods = {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}},
    }
    external = {
        "type": "External",
        "external": {
            "metric": {"name": "queue", "selector": {"matchLabels": {"q": "a<b"}}},
            "target": {"type": "Value", "value": "30"},
        },
    }
    behavior = {
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 30}],
        }
    }
    obj = v2_hpa(
        {"metrics": [conv.cpu_metric(50), pods, external], "behavior": behavior},
        {
            "currentReplicas": 2,
            "desiredReplicas": 3,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}
            ],
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "lastTransitionTime": "2024-06-01T12:00:00Z",
                    "reason": "R",
                }
            ],
        },
    )
    apply_defaults(obj, "autoscaling", "v2", "HorizontalPodAutoscaler")
    v1 = conv.v2_to_v1(copy(obj))
    ann = v1["metadata"]["annotations"]
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 40}
    # the autoscaling/v1 metric shapes, marshalled as Go does (required quantities, HTML escaping)
    assert ann[conv.METRIC_SPECS_ANNOTATION] == (
        '[{"type":"Pods","pods":{"metricName":"qps","targetAverageValue":"1k"}},'
        '{"type":"External","external":{"metricName":"queue","metricSelector":{"matchLabels":{"q":"a\\u003cb"}},'
        '"targetValue":"30"}}]'
    )
    assert ann[conv.METRIC_STATUSES_ANNOTATION] == (
        '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":40,"currentAverageValue":"0"}}]'
    )
    # the internal Go type, without JSON tags
    assert ann[conv.BEHAVIOR_ANNOTATION] == (
        '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":4,'
        '"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}]},"ScaleDown":'
        '{"StabilizationWindowSeconds":60,"SelectPolicy":"Max","Policies":[{"Type":"Pods","Value":1,"PeriodSeconds":30}]}}'
    )
    assert ann[conv.CONDITIONS_ANNOTATION] == (
        '[{"type":"AbleToScale","status":"True","lastTransitionTime":"2024-06-01T12:00:00Z","reason":"R"}]'
    )
    back = conv.v1_to_storage(v1)
    # the cpu metric comes last after a trip through v1, as upstream's conversion puts it
    assert back["spec"]["metrics"] == [pods, external, conv.cpu_metric(50)]
    assert back["spec"]["behavior"] == obj["spec"]["behavior"]
    assert back["status"]["conditions"] == obj["status"]["conditions"]
    # the raw value is kept next to the utilization: currentAverageValue "0" comes back
    assert back["status"]["currentMetrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageValue": "0", "averageUtilization": 40}},
        }
    ]
    assert "annotations" not in back["metadata"]


def test_v1_status_cpu_percentage_is_the_cpu_metric_status() -> None:
    v2 = conv.v1_to_v2(
        v1_hpa(
            {"scaleTargetRef": REF, "maxReplicas": 5},
            status={"currentReplicas": 3, "desiredReplicas": 4, "currentCPUUtilizationPercentage": 70},
        )
    )
    assert v2["status"] == {
        "currentReplicas": 3,
        "desiredReplicas": 4,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 70}}}
        ],
    }


def test_annotations_read_back_case_insensitively_and_malformed_ones_are_dropped() -> None:
    ann = {
        conv.METRIC_SPECS_ANNOTATION: '[{"Type":"Pods","Pods":{"MetricName":"qps","TargetAverageValue":2}}]',
        conv.BEHAVIOR_ANNOTATION: '{"ScaleUp":{"Policies":"not a list"}}',
        conv.CONDITIONS_ANNOTATION: "{not json",
        "keep": "me",
    }
    v2 = conv.v1_to_v2(v1_hpa({"scaleTargetRef": REF, "maxReplicas": 5}, ann))
    assert v2["spec"]["metrics"] == [
        {
            "type": "Pods",
            "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "2"}},
        }
    ]
    assert "behavior" not in v2["spec"] and "conditions" not in v2["status"]
    assert v2["metadata"]["annotations"] == {"keep": "me"}


def test_an_empty_behavior_annotation_is_no_behavior() -> None:
    ann = {conv.BEHAVIOR_ANNOTATION: '{"ScaleUp":null,"ScaleDown":null}'}
    v2 = conv.v1_to_v2(v1_hpa({"scaleTargetRef": REF, "maxReplicas": 5}, ann))
    assert "behavior" not in v2["spec"]


def test_v2_writes_lose_round_trip_annotations_and_canonicalize_quantities() -> None:
    obj = v2_hpa(
        {
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "q"},
                        "target": {"type": "AverageValue", "averageValue": "1000m"},
                    },
                }
            ]
        }
    )
    obj["metadata"]["annotations"] = {conv.METRIC_SPECS_ANNOTATION: "[]", "a": "b"}
    apply_defaults(obj, "autoscaling", "v2", "HorizontalPodAutoscaler")
    assert obj["metadata"]["annotations"] == {"a": "b"}
    assert obj["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "1"


def test_conversions_leave_objects_of_their_target_version_alone() -> None:
    v2 = v2_hpa({"metrics": [CPU80]})
    assert conv.v1_to_v2(v2) is v2
    v1 = v1_hpa({"scaleTargetRef": REF, "maxReplicas": 1})
    assert conv.v2_to_v1(v1) is v1


# ---------------------------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------------------------


def test_v2_defaults() -> None:
    obj = {"spec": {"maxReplicas": 3, "behavior": {"scaleUp": {"policies": []}}}}
    apply_defaults(obj, "autoscaling", "v2", "HorizontalPodAutoscaler")
    spec = obj["spec"]
    assert spec["minReplicas"] == 1 and spec["metrics"] == [CPU80]
    # an empty (non-nil) policy list is kept: validation then refuses it
    assert spec["behavior"]["scaleUp"] == {
        "policies": [],
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
    }
    # scale-down has no default window: the controller's --horizontal-pod-autoscaler-downscale-stabilization
    assert spec["behavior"]["scaleDown"] == {
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    no_behavior = {"spec": {"maxReplicas": 3}}
    apply_defaults(no_behavior, "autoscaling", "v2", "HorizontalPodAutoscaler")
    assert "behavior" not in no_behavior["spec"]


def test_v1_defaults() -> None:
    obj = {"spec": {"maxReplicas": 3}}
    apply_defaults(obj, "autoscaling", "v1", "HorizontalPodAutoscaler")
    assert obj["spec"] == {"maxReplicas": 3, "minReplicas": 1}


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def messages(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_spec_bounds_and_target_reference() -> None:
    got = hpa.validate_create(
        v2_hpa(
            {
                "scaleTargetRef": {"kind": "", "name": "a/b"},
                "minReplicas": 0,
                "maxReplicas": 0,
                "metrics": [CPU80],
            }
        )
    )
    assert messages(got) == [
        "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
        "spec.maxReplicas: Invalid value: 0: must be greater than 0",
        "spec.scaleTargetRef.kind: Required value",
        "spec.scaleTargetRef.name: Invalid value: \"a/b\": may not contain '/'",
        ZERO,
    ]
    got = hpa.validate_create(v2_hpa({"minReplicas": 4, "maxReplicas": 2, "metrics": [CPU80]}))
    assert messages(got) == [
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
    ]
    assert [c.reason for c in got] == ["FieldValueInvalid"]


def test_v1_objects_are_validated_as_internal_objects() -> None:
    got = hpa.validate_create(
        v1_hpa({"scaleTargetRef": REF, "maxReplicas": 5, "targetCPUUtilizationPercentage": 0})
    )
    assert messages(got) == [
        f"{M0}.resource.target.averageUtilization: Invalid value: 0: must be greater than 0"
    ]


def test_update_keeps_a_stored_zero_min_replicas() -> None:
    old = v2_hpa({"minReplicas": 0, "metrics": [CPU80]})
    new = v2_hpa({"minReplicas": 0, "maxReplicas": 6, "metrics": [CPU80]})
    assert messages(hpa.validate_update(new, old)) == [ZERO]
    assert messages(hpa.validate_update(new, v2_hpa({"metrics": [CPU80]})))[0] == (
        "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (
            {"type": "Foo"},
            [f'{M0}.type: Unsupported value: "Foo": supported values: {TYPES}'] * 2,
        ),
        (
            {
                "type": "Resource",
                "pods": {"metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": "1"}},
            },
            [
                f"{M0}.resource: Required value: must populate information for the given metric source",
            ],
        ),
        (
            # the first source present (object, external, pods, resource, containerResource) is validated
            {
                "type": "Resource",
                "resource": {"name": "", "target": {"type": "Utilization"}},
                "pods": {"metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": "1"}},
            },
            [f"{M0}.pods: Forbidden: must populate the given metric source only"],
        ),
        (
            {
                "type": "Resource",
                "resource": {
                    "name": "",
                    "target": {"type": "Utilization", "averageUtilization": 50, "averageValue": "-1"},
                },
            },
            [
                f"{M0}.resource.name: Required value: must specify a resource name",
                f'{M0}.resource.target.averageValue: Invalid value: "-1": must be positive',
                f"{M0}.resource.target.averageValue: Forbidden: may not set both a target raw value and a "
                "target utilization",
            ],
        ),
        (
            {
                "type": "Object",
                "object": {"describedObject": {"kind": "Service"}, "metric": {}, "target": {"type": "Bad"}},
            },
            [
                f"{M0}.object.describedObject.name: Required value",
                f"{M0}.object.metric.name: Required value: must specify a metric name",
                f'{M0}.object.target.type: Invalid value: "Bad": must be either Utilization, Value, or '
                "AverageValue",
                f"{M0}.object.target.averageValue: Required value: must set either a target value or "
                "averageValue",
            ],
        ),
        (
            {
                "type": "External",
                "external": {
                    "metric": {"name": "q"},
                    "target": {"type": "Value", "value": "1", "averageValue": "2"},
                },
            },
            [
                f"{M0}.external.target.value: Forbidden: may not set both a target value for metric and a "
                "per-pod target"
            ],
        ),
        (
            {"type": "Pods", "pods": {"metric": {"name": "q"}, "target": {"type": "AverageValue"}}},
            [f"{M0}.pods.target.averageValue: Required value: must specify a positive target averageValue"],
        ),
        (
            {
                "type": "ContainerResource",
                "containerResource": {
                    "name": "gpu",
                    "container": "Web",
                    "target": {"type": "Utilization", "averageUtilization": 10},
                },
            },
            [
                f'{M0}.containerResource.name: Invalid value: "gpu": must be a standard resource type or '
                "fully qualified",
                f'{M0}.containerResource.name: Invalid value: "gpu": must be a standard resource for '
                "containers",
                f'{M0}.containerResource.container: Invalid value: "Web": {is_dns1123_label("Web")[0]}',
            ],
        ),
    ],
)
def test_metric_source_validation(metric: dict[str, Any], expected: list[str]) -> None:
    assert messages(hpa.validate_create(v2_hpa({"metrics": [metric]}))) == expected


def test_an_unsupported_type_is_reported_once_in_the_message() -> None:
    causes = hpa.validate_create(v2_hpa({"metrics": [{"type": "Foo"}]}))
    err = invalid("HorizontalPodAutoscaler", "autoscaling", "web", causes)
    assert len(err.causes) == 2  # upstream's causes list both, its aggregated message one
    assert err.message == (
        f'HorizontalPodAutoscaler.autoscaling "web" is invalid: {M0}.type: Unsupported value: "Foo": '
        f"supported values: {TYPES}"
    )


def test_behavior_validation() -> None:
    behavior = {
        "scaleUp": {
            "selectPolicy": "Most",
            "stabilizationWindowSeconds": -1,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 15}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 3601,
            "policies": [{"type": "Nodes", "value": 0, "periodSeconds": 1801}],
        },
    }
    got = hpa.validate_create(v2_hpa({"metrics": [CPU80], "behavior": behavior}))
    assert messages(got) == [
        "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: -1: must be greater than or "
        "equal to zero",
        'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Most": supported values: "Disabled", "Max", '
        '"Min"',
        f"{SD}.stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600",
        f'{SD}.policies[0].type: Unsupported value: "Nodes": supported values: "Percent", "Pods"',
        f"{SD}.policies[0].value: Invalid value: 0: must be greater than zero",
        f"{SD}.policies[0].periodSeconds: Invalid value: 1801: must be less than or equal to 1800",
    ]
    empty = {"scaleUp": {"policies": []}}
    assert messages(hpa.validate_create(v2_hpa({"metrics": [CPU80], "behavior": empty}))) == [
        "spec.behavior.scaleUp.policies: Required value: must specify at least one Policy"
    ]


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------


def cells(obj: dict[str, Any]) -> list[Any]:
    return row_cells("autoscaling", "horizontalpodautoscalers", obj, NOW)


def test_printer_columns_and_targets() -> None:
    obj = v2_hpa(
        {"metrics": [CPU80]}, {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": [{"type": ""}]}
    )
    obj["metadata"]["creationTimestamp"] = "2024-06-01T11:00:00Z"
    assert cells(obj) == ["web", "Deployment/web", "cpu: <unknown>/80%", "1", 5, 3, "60m"]
    obj["status"]["currentMetrics"] = [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 45, "averageValue": "90m"}},
        }
    ]
    assert cells(obj)[2] == "cpu: 45%/80%"
    obj["spec"]["metrics"] += [
        {
            "type": "Resource",
            "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
        },
        {
            "type": "External",
            "external": {"metric": {"name": "q"}, "target": {"type": "AverageValue", "averageValue": "30"}},
        },
    ]
    assert cells(obj)[2] == "cpu: 45%/80%, memory: <unknown>/1Gi + 1 more..."
    qps = {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": 10}},
    }
    obj["spec"]["metrics"] = [*obj["spec"]["metrics"][2:], qps]
    assert cells(obj)[2] == "<unknown>/30 (avg), <unknown>/10"
    del obj["spec"]["minReplicas"]
    obj["spec"]["metrics"] = []
    assert cells(obj)[2:4] == ["<none>", "<unset>"]


def test_v1_rows_print_the_converted_object() -> None:
    obj = v1_hpa(
        {"scaleTargetRef": REF, "maxReplicas": 4, "minReplicas": 2, "targetCPUUtilizationPercentage": 70}
    )
    obj["status"] = {"currentReplicas": 2, "desiredReplicas": 2, "currentCPUUtilizationPercentage": 35}
    assert cells(obj)[1:6] == ["Deployment/web", "cpu: 35%/70%", "2", 4, 2]


# ---------------------------------------------------------------------------------------------
# Controller helpers and arithmetic
# ---------------------------------------------------------------------------------------------


def test_set_condition_changes_the_transition_time_with_the_status_only() -> None:
    status: dict[str, Any] = {}
    set_condition(status, "AbleToScale", "True", "SucceededGetScale", "m1", "t1")
    set_condition(status, "AbleToScale", "True", "SucceededRescale", "m2", "t2")
    set_condition(status, "ScalingActive", "False", "FailedGetResourceMetric", "m3", "t3")
    assert status["conditions"] == [
        {
            "type": "AbleToScale",
            "status": "True",
            "lastTransitionTime": "t1",
            "reason": "SucceededRescale",
            "message": "m2",
        },
        {
            "type": "ScalingActive",
            "status": "False",
            "lastTransitionTime": "t3",
            "reason": "FailedGetResourceMetric",
            "message": "m3",
        },
    ]
    set_condition(status, "AbleToScale", "False", "FailedGetScale", "m4", "t4")
    assert status["conditions"][0]["lastTransitionTime"] == "t4"


def test_client_error_texts() -> None:
    from vcluster.client import ApiError

    bare = ApiError(404, "NotFound", "the server could not find the requested resource")
    assert client_error(bare, "get", "pods.metrics.k8s.io") == (
        "the server could not find the requested resource (get pods.metrics.k8s.io)"
    )
    text = ApiError.from_response(404, b"404 page not found\n")  # kube's answer for an unserved group
    assert client_error(text, "get", "pods.metrics.k8s.io") == (
        "the server could not find the requested resource (get pods.metrics.k8s.io)"
    )
    msg = 'deployments.apps "web" not found'
    named = ApiError(
        404, "NotFound", msg, {"kind": "Status", "reason": "NotFound", "message": msg, "code": 404}
    )
    assert client_error(named, "get", "deployments.apps", "web") == 'deployments.apps "web" not found'
    assert parse_group_version("apps/v1") == ("apps", "v1") and parse_group_version("v1") == ("", "v1")
    with pytest.raises(ValueError, match="unexpected GroupVersion string: a/b/c"):
        parse_group_version("a/b/c")
    assert selector_go_string(None) == "nil"
    assert selector_go_string({"matchLabels": {"b": "2", "a": "1"}}) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}"
    )


def pod(
    name: str,
    cpu: str = "100m",
    phase: str = "Running",
    ready: bool = True,
    started: timedelta = timedelta(hours=1),
) -> dict[str, Any]:
    t = (NOW - started).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
        "status": {
            "phase": phase,
            "startTime": t,
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": t}
            ],
        },
    }


def usage(pods: dict[str, str]) -> dict[str, hpacalc.PodMetric]:
    items = [
        {
            "metadata": {"name": n},
            "timestamp": "2024-06-01T11:59:50Z",
            "window": "30s",
            "containers": [{"name": "c", "usage": {"cpu": u}}],
        }
        for n, u in pods.items()
    ]
    return hpacalc.resource_metrics(items, "cpu", "")


def test_resource_replicas_scale_on_utilization() -> None:
    pods = [pod("a"), pod("b")]
    # 160% of request against an 80% target: twice as many pods
    assert hpacalc.resource_replicas(2, 80, "cpu", usage({"a": "160m", "b": "160m"}), pods, "", NOW) == (
        4,
        160,
        160,
    )
    # within the 10% tolerance: unchanged
    assert hpacalc.resource_replicas(2, 80, "cpu", usage({"a": "85m", "b": "85m"}), pods, "", NOW)[0] == 2
    # a pod without metrics counts as 100% of its request on a scale-down
    assert hpacalc.resource_replicas(2, 80, "cpu", usage({"a": "10m"}), pods, "", NOW)[0] == 2
    with pytest.raises(hpacalc.CalcError, match="missing request for cpu in container c of Pod a"):
        hpacalc.resource_replicas(
            1, 80, "cpu", usage({"a": "1"}), [{**pod("a"), "spec": {"containers": [{"name": "c"}]}}], "", NOW
        )
    with pytest.raises(hpacalc.CalcError, match="did not receive metrics for targeted pods"):
        hpacalc.resource_replicas(1, 80, "cpu", usage({"a": "1"}), [pod("a", phase="Pending")], "", NOW)


def test_normalization_stabilizes_scale_down_and_limits_scale_up() -> None:
    mem = hpacalc.Recommendations([(5, NOW - timedelta(minutes=1))])
    desired, conds = hpacalc.normalize(mem, 5, 2, 1, 10, NOW)
    assert desired == 5 and conds[0][2] == "ScaleDownStabilized"
    mem = hpacalc.Recommendations()
    desired, conds = hpacalc.normalize(mem, 2, 20, 1, 10, NOW)
    assert desired == 4 and conds[1] == (
        "ScalingLimited",
        "True",
        "ScaleUpLimit",
        "the desired replica count is increasing faster than the maximum scale rate",
    )
    behavior = {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        },
        "scaleDown": {
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }
    mem = hpacalc.Recommendations()
    desired, conds = hpacalc.normalize_with_behaviors(mem, behavior, 3, 9, 1, 10, NOW)
    assert desired == 4 and conds[1][2] == "ScaleUpLimit"
    hpacalc.store_scale_event(mem, behavior, 3, 4, NOW)
    desired, _ = hpacalc.normalize_with_behaviors(mem, behavior, 4, 9, 1, 10, NOW + timedelta(seconds=10))
    assert desired == 4  # one pod per minute: the minute is not over
