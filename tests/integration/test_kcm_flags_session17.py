"""kube-controller-manager flags in a virtual cluster: `controlPlane.distro.k8s.controllerManager.extraArgs`
reach the in-process controllers (the HPA's sync period here), and a bad flag stops `vcluster start`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.syncer_harness import start_pair, wait_until

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 2
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
"""


def _vcluster(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster", *args], capture_output=True, text=True, timeout=timeout
    )


def test_hpa_sync_period_from_extra_args(tmp_path: Path) -> None:
    """With --horizontal-pod-autoscaler-sync-period=1s, a target scaled past maxReplicas behind the
    HPA's back (no HPA event) is brought back within the period (vCluster's 60 s would not)."""
    config = (
        "controlPlane:\n  distro:\n    k8s:\n      controllerManager:\n        extraArgs:\n"
        "        - --horizontal-pod-autoscaler-sync-period=1s\n"
        "        - --concurrent-horizontal-pod-autoscaler-syncs=3\n"
    )
    p = start_pair(tmp_path, config=config, nodes=1)
    try:
        p.kv.apply(DEPLOYMENT)

        def replicas() -> int:
            return int(p.kv("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"))

        # the HPA's first pass (on creation) and its status: the target is within bounds
        wait_until(lambda: p.kv("get", "hpa", "web", "-o", "jsonpath={.status.conditions}"), what="status")
        for _ in range(2):  # twice: each correction comes from a periodic pass, not from the first one
            p.kv("scale", "deployment", "web", "--replicas=4")
            scaled = time.monotonic()
            wait_until(lambda: replicas() == 2, timeout=4.0, interval=0.05, what="rescaled to max")
            assert time.monotonic() - scaled < 2.5
        events = json.loads(
            p.kv("get", "events", "--field-selector", "reason=SuccessfulRescale", "-o", "json")
        )["items"]
        assert any("above Spec.MaxReplicas" in e["message"] for e in events)
    finally:
        p.stop()


def test_bad_controller_manager_flag_stops_the_start(tmp_path: Path) -> None:
    """An unknown, meaningless or malformed kube-controller-manager flag stops `vcluster start` with
    a message naming it, before anything is written or the host is reached."""
    cases = {
        "--node-monitor-period=5s": "--node-monitor-period=5s: it tunes the node-lifecycle-controller, "
        "which does not run in a virtual cluster",
        "--horizontal-pod-autoscaler-sync-period=fast": 'invalid argument "fast" for '
        '"--horizontal-pod-autoscaler-sync-period" flag: time: invalid duration "fast"',
        "--no-such-flag=1": "--no-such-flag=1: not a kube-controller-manager 1.32 flag",
        "--controllers=*,nodelifecycle": "--controllers: nodelifecycle (node-lifecycle-controller) does "
        "not run in a virtual cluster",
    }
    for i, (arg, message) in enumerate(cases.items()):
        values = tmp_path / f"values{i}.yaml"
        values.write_text(
            f"controlPlane:\n  distro:\n    k8s:\n      controllerManager:\n        extraArgs: ['{arg}']\n"
        )
        data = tmp_path / f"d{i}"
        r = _vcluster("start", "--name", "kcm", "--data-dir", str(data), "--host-namespace", "ns",
                      "--config", str(values))  # fmt: skip
        assert r.returncode != 0, r.stdout
        assert "controlPlane.distro" in r.stderr and "k8s.controllerManager.extraArgs" in r.stderr
        assert message in r.stderr, r.stderr
        assert not (data / "state.db").exists()
