"""HorizontalPodAutoscalers with the real kubectl against a real server running the HPA controller:
discovery of autoscaling/v2 and v1, `kubectl autoscale`, the printed columns, one object read in both
versions (v2-only fields through v1's annotations), writes through either version (patch, edit,
server-side apply), validation (422), the controller's rescale to maxReplicas and its behavior
without a metrics API (conditions, events), and `kubectl describe hpa`."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Kubectl, Server, parse_table, server_fixture
from tests.integration.httpclient import Client

NO_METRICS = (
    "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
    "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
)
V1 = "horizontalpodautoscalers.v1.autoscaling"
WARNINGS = {"FailedGetResourceMetric", "FailedComputeMetricsReplicas"}
HPA_V2 = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: custom}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 6
  metrics:
  - type: Pods
    pods:
      metric: {name: requests-per-second}
      target: {type: AverageValue, averageValue: "1k"}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
      policies: [{type: Pods, value: 1, periodSeconds: 30}]
"""


server = server_fixture(controllers="serviceaccount,namespace,horizontalpodautoscaling")


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


def ns(k: Kubectl, name: str) -> str:
    k("create", "namespace", name)
    return name


def wait_for(fn: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def condition(hpa: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    return next((c for c in hpa.get("status", {}).get("conditions") or [] if c["type"] == ctype), None)


def events(k: Kubectl, n: str, name: str) -> list[dict[str, Any]]:
    sel = f"involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name={name}"
    return k.get_json("events", "-n", n, "--field-selector", sel)["items"]


def test_discovery_serves_v2_preferred_and_v1(k: Kubectl) -> None:
    versions = k("api-versions").split()
    assert "autoscaling/v2" in versions and "autoscaling/v1" in versions
    group = json.loads(k("get", "--raw", "/apis/autoscaling"))
    assert group["preferredVersion"]["version"] == "v2"
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    for version in ("v2", "v1"):
        res = json.loads(k("get", "--raw", f"/apis/autoscaling/{version}"))["resources"]
        hpa = next(r for r in res if r["name"] == "horizontalpodautoscalers")
        assert hpa["shortNames"] == ["hpa"] and hpa["categories"] == ["all"] and hpa["namespaced"]
        assert hpa["storageVersionHash"] == "qwQve8ut294="  # the storage version's (autoscaling/v2)
        assert any(r["name"] == "horizontalpodautoscalers/status" for r in res)
    _, rows = parse_table(k("api-resources", "--api-group=autoscaling"))
    assert rows[0]["NAME"] == "horizontalpodautoscalers" and rows[0]["APIVERSION"] == "autoscaling/v2"


def test_autoscale_columns_and_no_metrics_api(k: Kubectl) -> None:
    n = ns(k, "auto")
    k("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", n)
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in k(
        "autoscale", "deployment", "web", "--max=5", "--cpu-percent=60", "-n", n
    )
    names, rows = parse_table(k("get", "hpa", "-n", n))
    assert names == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert rows[0]["NAME"] == "web" and rows[0]["REFERENCE"] == "Deployment/web"
    assert rows[0]["TARGETS"] == "cpu: <unknown>/60%"
    assert (rows[0]["MINPODS"], rows[0]["MAXPODS"]) == ("1", "5")
    assert "web" in k("get", "all", "-n", n)  # category all

    # within bounds, the controller needs metrics: there is no metrics API
    def failed() -> dict[str, Any] | None:
        hpa = k.get_json("hpa", "web", "-n", n)
        cond = condition(hpa, "ScalingActive")
        return hpa if cond is not None and cond["reason"] == "FailedGetResourceMetric" else None

    hpa = wait_for(failed, what="ScalingActive=False")
    active = condition(hpa, "ScalingActive")
    assert active is not None and active["status"] == "False" and active["lastTransitionTime"]
    assert active["message"] == f"the HPA was unable to compute the replica count: {NO_METRICS}"
    able = condition(hpa, "AbleToScale")
    assert able is not None and (able["status"], able["reason"]) == ("True", "SucceededGetScale")
    assert hpa["status"]["currentReplicas"] == 2 and hpa["status"]["currentMetrics"] == [{"type": ""}]
    assert "observedGeneration" not in hpa["status"] and "generation" not in hpa["metadata"]
    got = wait_for(
        lambda: (
            {e["reason"]: e for e in events(k, n, "web")}.keys() >= WARNINGS
            and {e["reason"]: e for e in events(k, n, "web")}
        )
    )
    assert got["FailedGetResourceMetric"]["type"] == "Warning"
    assert got["FailedGetResourceMetric"]["message"] == NO_METRICS
    assert got["FailedGetResourceMetric"]["source"] == {"component": "horizontal-pod-autoscaler"}
    assert got["FailedComputeMetricsReplicas"]["message"] == (
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: "
        + NO_METRICS
    )
    names, rows = parse_table(k("get", "hpa", "-n", n))
    assert rows[0]["TARGETS"] == "cpu: <unknown>/60%" and rows[0]["REPLICAS"] == "2"

    described = k("describe", "hpa", "web", "-n", n)
    for line in (
        "Reference:",
        "Deployment/web",
        "resource cpu on pods  (as a percentage of request):  <unknown> / 60%",
        "Min replicas:",
        "Max replicas:",
        "Deployment pods:",
        "2 current / 0 desired",
        "ScalingActive  False   FailedGetResourceMetric",
        "Warning  FailedComputeMetricsReplicas",
    ):
        assert line in described, (line, described)


def test_one_object_in_both_versions(k: Kubectl) -> None:
    n = ns(k, "versions")
    k("create", "deployment", "web", "--image=nginx", "--replicas=3", "-n", n)
    k.apply(HPA_V2, "-n", n)
    v2 = k.get_json("hpa", "custom", "-n", n)
    assert v2["apiVersion"] == "autoscaling/v2"
    # behavior defaults fill what the manifest left out
    assert v2["spec"]["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    v1 = k.get_json(V1, "custom", "-n", n)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert "targetCPUUtilizationPercentage" not in v1["spec"] and v1["spec"]["maxReplicas"] == 6
    ann = v1["metadata"]["annotations"]
    assert json.loads(ann["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Pods", "pods": {"metricName": "requests-per-second", "targetAverageValue": "1k"}}
    ]
    behavior = json.loads(ann["autoscaling.alpha.kubernetes.io/behavior"])
    assert behavior["ScaleDown"] == {
        "StabilizationWindowSeconds": 60,
        "SelectPolicy": "Max",
        "Policies": [{"Type": "Pods", "Value": 1, "PeriodSeconds": 30}],
    }
    # the controller's conditions reach v1 as an annotation too
    wait_for(
        lambda: (
            "autoscaling.alpha.kubernetes.io/conditions"
            in k.get_json(V1, "custom", "-n", n)["metadata"].get("annotations", {})
        )
    )

    # a write through v1 keeps what only v2 can say
    k("patch", V1, "custom", "-n", n, "--type=merge", "-p", '{"spec":{"maxReplicas":7}}')
    v2 = k.get_json("hpa", "custom", "-n", n)
    assert v2["spec"]["maxReplicas"] == 7
    assert v2["spec"]["metrics"][0]["pods"]["metric"]["name"] == "requests-per-second"
    assert v2["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert "annotations" not in v2["metadata"] or not any(
        a.startswith("autoscaling.alpha") for a in v2["metadata"]["annotations"]
    )

    # a v1 object created through v1: targetCPUUtilizationPercentage is the cpu metric
    k.apply(
        "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: classic}\nspec:\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 4\n"
        "  targetCPUUtilizationPercentage: 70\n",
        "-n",
        n,
    )
    assert k.get_json("hpa", "classic", "-n", n)["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
        }
    ]
    # server-side apply through v1, then through v2
    k(
        "apply",
        "--server-side",
        "-f",
        "-",
        "-n",
        n,
        input="apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: classic}\nspec:\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 9\n"
        "  targetCPUUtilizationPercentage: 75\n",
    )
    v1 = k.get_json(V1, "classic", "-n", n, "--show-managed-fields")
    assert (v1["spec"]["maxReplicas"], v1["spec"]["targetCPUUtilizationPercentage"]) == (9, 75)
    assert {m["apiVersion"] for m in v1["metadata"]["managedFields"] if m["manager"] == "kubectl"} == {
        "autoscaling/v1"
    }
    k(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        "-n",
        n,
        input="apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: ssa2}\nspec:\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n  maxReplicas: 3\n",
    )
    assert k.get_json("hpa", "ssa2", "-n", n)["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_edit_through_the_preferred_version(k: Kubectl, tmp_path: Path) -> None:
    n = ns(k, "edit")
    k("create", "deployment", "web", "--image=nginx", "--replicas=1", "-n", n)
    k("autoscale", "deployment", "web", "--max=4", "-n", n)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/maxReplicas: 4/maxReplicas: 8/' \"$1\"\n")
    editor.chmod(0o755)
    p = subprocess.run(
        [*k.base(), "edit", "hpa/web", "-n", n],
        env={**os.environ, "KUBE_EDITOR": str(editor)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert k.get_json(V1, "web", "-n", n)["spec"]["maxReplicas"] == 8


def test_target_above_max_is_scaled_down(k: Kubectl) -> None:
    n = ns(k, "scale")
    k("create", "deployment", "big", "--image=nginx", "--replicas=8", "-n", n)
    k("autoscale", "deployment", "big", "--max=5", "-n", n)
    wait_for(lambda: k.get_json("deployment", "big", "-n", n)["spec"]["replicas"] == 5, what="replicas 5")
    rescale = wait_for(
        lambda: next((e for e in events(k, n, "big") if e["reason"] == "SuccessfulRescale"), None),
        what="SuccessfulRescale",
    )
    assert rescale["type"] == "Normal"
    assert rescale["message"] == "New size: 5; reason: Current number of replicas above Spec.MaxReplicas"
    assert rescale["involvedObject"]["apiVersion"] == "autoscaling/v2"

    def scaled() -> dict[str, Any] | None:
        status = k.get_json("hpa", "big", "-n", n)["status"]
        return status if status.get("lastScaleTime") else None

    status = wait_for(scaled, what="lastScaleTime")
    assert (status["currentReplicas"], status["desiredReplicas"]) == (8, 5)
    able = condition({"status": status}, "AbleToScale")
    assert able is not None and able["reason"] == "SucceededRescale"
    assert able["message"] == "the HPA controller was able to update the target scale to 5"


def test_missing_target_and_zero_replicas(k: Kubectl) -> None:
    n = ns(k, "edge")
    k.apply(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: lost}\nspec:\n"
        "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: nothere}\n  maxReplicas: 3\n",
        "-n",
        n,
    )
    hpa = wait_for(lambda: condition(k.get_json("hpa", "lost", "-n", n), "AbleToScale"), what="AbleToScale")
    assert (hpa["status"], hpa["reason"]) == ("False", "FailedGetScale")
    assert hpa["message"] == (
        "the HPA controller was unable to get the target's current scale: "
        'deployments.apps "nothere" not found'
    )
    warning = wait_for(
        lambda: next((e for e in events(k, n, "lost") if e["reason"] == "FailedGetScale"), None)
    )
    assert warning["message"] == 'deployments.apps "nothere" not found'

    k("create", "deployment", "idle", "--image=nginx", "--replicas=0", "-n", n)
    k("autoscale", "deployment", "idle", "--max=3", "-n", n)
    active = wait_for(
        lambda: condition(k.get_json("hpa", "idle", "-n", n), "ScalingActive"), what="ScalingActive"
    )
    assert (active["status"], active["reason"]) == ("False", "ScalingDisabled")
    assert active["message"] == "scaling is disabled since the replica count of the target is zero"
    assert k.get_json("deployment", "idle", "-n", n)["spec"]["replicas"] == 0


def test_invalid_hpa_is_422(k: Kubectl, server: Server) -> None:
    n = ns(k, "invalid")
    p = k.run(
        "create",
        "-n",
        n,
        "-f",
        "-",
        input="apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: bad}\nspec:\n"
        "  scaleTargetRef: {kind: Deployment, name: ''}\n  minReplicas: 3\n  maxReplicas: 2\n",
        check=False,
    )
    assert p.returncode != 0
    assert 'The HorizontalPodAutoscaler "bad" is invalid' in p.stderr
    assert "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`" in p.stderr
    assert "spec.scaleTargetRef.name: Required value" in p.stderr
    client = Client(server.url, server.ca_file, server.token)
    try:
        reply = client.call(
            "POST",
            f"/apis/autoscaling/v1/namespaces/{n}/horizontalpodautoscalers",
            {
                "apiVersion": "autoscaling/v1",
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "bad1"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                    "maxReplicas": 0,
                    "targetCPUUtilizationPercentage": 0,
                },
            },
        )
    finally:
        client.close()
    assert reply.status == 422
    body = reply.body
    assert (body["reason"], body["details"]["kind"], body["details"]["group"]) == (
        "Invalid",
        "HorizontalPodAutoscaler",
        "autoscaling",
    )
    assert body["message"] == (
        'HorizontalPodAutoscaler.autoscaling "bad1" is invalid: [spec.maxReplicas: Invalid value: 0: must be '
        "greater than 0, spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`, "
        "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0]"
    )
    assert [c["field"] for c in body["details"]["causes"]] == [
        "spec.maxReplicas",
        "spec.maxReplicas",
        "spec.metrics[0].resource.target.averageUtilization",
    ]
