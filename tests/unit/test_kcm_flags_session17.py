"""kube-controller-manager flags for a virtual cluster's controllers (`controllers/kcmflags.py`) and
`controlPlane.distro.k8s.controllerManager` in vcluster.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vcluster.client import Client, SharedInformers
from vcluster.config import ConfigError, load_config
from vcluster.controllers import hpacalc
from vcluster.controllers.kcmflags import (
    VCLUSTER_ARGS,
    KCMFlagError,
    enabled_controllers,
    merge_args,
    parse,
    virtual_cluster_settings,
)
from vcluster.controllers.manager import CONTROLLERS, ControllerManager
from vcluster.controllers.podautoscaler import HorizontalController

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
ALL_OURS = {*CONTROLLERS, "root-ca-cert-publisher"}


def _client() -> Client:
    return Client("https://127.0.0.1:9", token="t")


def _refused(*args: str) -> str:
    with pytest.raises(KCMFlagError) as e:
        virtual_cluster_settings(list(args))
    return str(e.value)


def test_virtual_cluster_defaults_are_vclusters_arguments() -> None:
    """vCluster's --controllers list disables no controller of ours; its HPA sync period is 60 s."""
    s = virtual_cluster_settings([])
    assert s.controllers == ALL_OURS
    assert s.options == {"horizontalpodautoscaling": {"sync_period": 60.0}}
    assert s.warnings == []
    # kube-controller-manager alone (`vcluster apiserver`): kube's defaults, no option
    assert parse([]).options == {} and parse([]).controllers == ALL_OURS


def test_extra_args_replace_vclusters_argument_of_the_same_flag() -> None:
    """command.MergeArgs: an extra --flag drops the base argument of that name, in either form."""
    merged = merge_args(
        VCLUSTER_ARGS, ["--controllers", "*,-job", "--horizontal-pod-autoscaler-sync-period=5s"]
    )
    assert merged == ["--controllers", "*,-job", "--horizontal-pod-autoscaler-sync-period=5s"]
    s = virtual_cluster_settings(["--horizontal-pod-autoscaler-sync-period", "1m30s"])
    assert s.options["horizontalpodautoscaling"] == {"sync_period": 90.0}


def test_controllers_flag_names_aliases_and_order() -> None:
    assert "deployment-controller" in enabled_controllers(["*"])
    assert "bootstrap-signer-controller" not in enabled_controllers(["*"])  # disabled by default
    # the first explicit mention decides; canonical names and aliases are the same controller
    assert "job-controller" not in enabled_controllers(["-job", "job-controller", "*"])
    assert "job-controller" in enabled_controllers(["job-controller", "-job"])
    s = virtual_cluster_settings(["--controllers=deployment-controller,replicaset,-ttl"])
    assert s.controllers == {"bootstrap", "deployment", "replicaset"}  # kube-apiserver's loops stay
    assert s.options["job"] == {"ttl_after_finished": False}
    # a string slice: a second --controllers appends
    s = virtual_cluster_settings(["--controllers=namespace", "--controllers=-ttl-after-finished,job"])
    assert s.controllers == {"bootstrap", "namespace", "job"}
    assert s.options["job"] == {"ttl_after_finished": False}
    s = virtual_cluster_settings(["--controllers=*,-root-ca-cert-publisher,-horizontalpodautoscaling"])
    assert s.controllers == ALL_OURS - {"root-ca-cert-publisher", "horizontalpodautoscaling"}


def test_controllers_flag_refusals() -> None:
    assert _refused("--controllers=*,bogus,-other") == (
        '--controllers: "bogus" is not in the list of known controllers; '
        '"other" is not in the list of known controllers'
    )
    # disabling a controller that does not run here is fine; enabling it by name is refused
    assert "nodelifecycle" not in str(
        virtual_cluster_settings(["--controllers=*,-nodelifecycle"]).controllers
    )
    assert _refused("--controllers=*,persistentvolume-binder") == (
        "--controllers: persistentvolume-binder (persistentvolume-binder-controller) does not run in a "
        "virtual cluster: the host binds, attaches and expands volumes"
    )
    assert "bootstrapsigner (bootstrap-signer-controller) does not run" in _refused(
        "--controllers=bootstrapsigner"
    )


def test_honoured_flags_become_controller_options() -> None:
    s = virtual_cluster_settings(
        [
            "--horizontal-pod-autoscaler-tolerance=0.2",
            "--horizontal-pod-autoscaler-downscale-stabilization=1m",
            "--horizontal-pod-autoscaler-cpu-initialization-period=2m",
            "--horizontal-pod-autoscaler-initial-readiness-delay=10s",
            "--concurrent-horizontal-pod-autoscaler-syncs=7",
            "--terminated-pod-gc-threshold=0",
            "--concurrent_rc_syncs=3",  # cliflag.WordSepNormalizeFunc
            "--concurrent-deployment-syncs",
            "4",
            "--concurrent-gc-syncs=9",
            "--max-endpoints-per-slice=50",
            "--resource-quota-sync-period=30s",
            "--cluster-signing-duration=48h",
            "--enable-garbage-collector=false",
            "--terminated-pod-gc-threshold=100",  # the last one wins
        ]
    )
    assert s.options == {
        "horizontalpodautoscaling": {
            "sync_period": 60.0,
            "tolerance": 0.2,
            "downscale_stabilization": 60.0,
            "cpu_initialization_period": 120.0,
            "initial_readiness_delay": 10.0,
            "workers": 7,
        },
        "podgc": {"terminated_pod_gc_threshold": 100},
        "replicationcontroller": {"workers": 3},
        "deployment": {"workers": 4},
        "garbagecollector": {"workers": 9},
        "endpointslice": {"max_endpoints_per_slice": 50},
        "resourcequota": {"resync_seconds": 30.0},
        "csrsigning": {"cert_ttl": 172800.0},
    }
    assert "garbagecollector" not in s.controllers
    # a bool flag alone is true; deprecated no-op flags are accepted with pflag's warning
    s = virtual_cluster_settings(
        ["--enable-garbage-collector", "--horizontal-pod-autoscaler-upscale-delay=3m"]
    )
    assert "garbagecollector" in s.controllers
    assert s.warnings == [
        "--horizontal-pod-autoscaler-upscale-delay has been deprecated, This flag is currently no-op and "
        "will be deleted."
    ]


def test_malformed_and_invalid_values() -> None:
    assert _refused("--horizontal-pod-autoscaler-sync-period=60") == (
        'invalid argument "60" for "--horizontal-pod-autoscaler-sync-period" flag: '
        'time: invalid duration "60"'
    )
    assert _refused("--terminated-pod-gc-threshold=many") == (
        'invalid argument "many" for "--terminated-pod-gc-threshold" flag: strconv.ParseInt: parsing "many": '
        "invalid syntax"
    )
    assert "value out of range" in _refused("--terminated-pod-gc-threshold=4294967296")
    assert "strconv.ParseBool" in _refused("--enable-garbage-collector=maybe")
    assert "strconv.ParseFloat" in _refused("--horizontal-pod-autoscaler-tolerance=lots")
    assert _refused("--concurrent-job-syncs=0") == (
        "--concurrent-job-syncs: concurrent-job-syncs must be greater than 0, but got 0"
    )
    assert _refused("--concurrent-service-endpoint-syncs=51") == (
        "--concurrent-service-endpoint-syncs: concurrent-service-endpoint-syncs must not be more than 50, "
        "but got 51"
    )
    assert "must be greater than 0, but got 0s" in _refused("--horizontal-pod-autoscaler-sync-period=0s")
    assert _refused("--horizontal-pod-autoscaler-sync-period") == (
        "flag needs an argument: --horizontal-pod-autoscaler-sync-period"
    )
    assert _refused("stray") == "\"kube-controller-manager\" does not take any arguments, got ['stray']"


def test_meaningless_and_unknown_flags_are_refused_with_the_reason() -> None:
    assert _refused("--kubeconfig=/x") == (
        "--kubeconfig=/x: set by the virtual cluster itself: its controllers run inside its process, with "
        "its certificates and in-process clients, not as a separate kube-controller-manager"
    )
    assert _refused("--v=4").startswith("--v=4: set by the virtual cluster itself")
    assert _refused("--pvclaimbinder-sync-period=15s") == (
        "--pvclaimbinder-sync-period=15s: it tunes the persistentvolume-binder-controller, which does not "
        "run in a virtual cluster: the host binds, attaches and expands volumes"
    )
    assert "no periodic resync" in _refused("--namespace-sync-period=1m")
    unknown = _refused("--horizontal-pod-autoscaler-speed=2")
    assert unknown.startswith("--horizontal-pod-autoscaler-speed=2: not a kube-controller-manager 1.32 flag")
    assert "--horizontal-pod-autoscaler-sync-period" in unknown  # the supported ones are listed


def test_disabled_controller_manager_runs_only_apiserver_loops() -> None:
    s = virtual_cluster_settings(["--bogus"], enabled=False)
    assert s.controllers == {"bootstrap"} and s.options == {}
    assert s.warnings == ["extraArgs not used: the controller manager is disabled (enabled: false)"]


def test_vcluster_yaml_controller_manager_section() -> None:
    cfg = load_config(
        "controlPlane:\n  distro:\n    k8s:\n      controllerManager:\n        enabled: true\n"
        "        extraArgs: [--horizontal-pod-autoscaler-sync-period=5s]\n"
        "      apiServer: {extraArgs: [--v=2]}\n"
    )
    assert cfg.control_plane.controller_manager_settings().options == {
        "horizontalpodautoscaling": {"sync_period": 5.0}
    }
    assert cfg.not_used_sections() == []  # both extraArgs and `enabled` are used
    cfg = load_config("controlPlane:\n  distro: {k8s: {controllerManager: {image: {tag: v1}}}}\n")
    assert cfg.not_used_sections() == ["controlPlane.distro"]
    assert cfg.control_plane.distro_not_used() == {"k8s": {"controllerManager": {"image": {"tag": "v1"}}}}
    assert load_config("{}").control_plane.controller_manager_settings().controllers == ALL_OURS
    bad = {
        "extraArgs: [--node-monitor-period=1s]": "controlPlane.distro: k8s.controllerManager.extraArgs: "
        "--node-monitor-period=1s: it tunes the node-lifecycle-controller",
        "extraArgs: --controllers=*": "k8s.controllerManager.extraArgs: expected a list of strings",
        "enabled: maybe": 'k8s.controllerManager.enabled: expected a boolean, got "maybe"',
        "command: [/bin/kcm]": "k8s.controllerManager.command: not supported",
    }
    for body, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace("[", r"\[")):
            load_config(f"controlPlane:\n  distro:\n    k8s:\n      controllerManager: {{{body}}}\n")


def test_settings_reach_the_hpa_controller() -> None:
    """ControllerManager hands a controller its options: the HPA gets its period and tuning."""
    s = virtual_cluster_settings(
        [
            "--horizontal-pod-autoscaler-tolerance=0.5",
            "--horizontal-pod-autoscaler-downscale-stabilization=0s",
        ]
    )
    manager = ControllerManager(
        _client(), enabled=s.controllers - {"root-ca-cert-publisher"}, options=s.options
    )
    opts: dict[str, Any] = manager._options_for("horizontalpodautoscaling")
    hpa = HorizontalController(_client(), SharedInformers(_client()), **opts)
    assert hpa.sync_period == 60.0
    assert hpa.tuning == hpacalc.Tuning(
        tolerance=0.5,
        cpu_initialization_period=timedelta(minutes=5),
        initial_readiness_delay=timedelta(seconds=30),
        downscale_stabilization=timedelta(0),
    )
    default = HorizontalController(_client(), SharedInformers(_client()))
    assert default.sync_period == 15.0 and default.tuning == hpacalc.DEFAULT_TUNING


def _pod(name: str) -> dict[str, Any]:
    t = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]},
        "status": {"phase": "Running", "startTime": t, "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": t}]},
    }  # fmt: skip


def _usage(cpu: str) -> dict[str, hpacalc.PodMetric]:
    items = [
        {"metadata": {"name": n}, "timestamp": "2024-06-01T11:59:50Z", "window": "30s",
         "containers": [{"name": "c", "usage": {"cpu": cpu}}]}
        for n in ("a", "b")
    ]  # fmt: skip
    return hpacalc.resource_metrics(items, "cpu", "")


def test_tuning_changes_the_arithmetic() -> None:
    """--horizontal-pod-autoscaler-tolerance and -downscale-stabilization reach the calculator."""
    pods = [_pod("a"), _pod("b")]
    # 120 % of an 80 % target: a 1.5 ratio scales by default, not with a 0.6 tolerance
    assert hpacalc.resource_replicas(2, 80, "cpu", _usage("120m"), pods, "", NOW)[0] == 3
    loose = hpacalc.Tuning(tolerance=0.6)
    assert hpacalc.resource_replicas(2, 80, "cpu", _usage("120m"), pods, "", NOW, loose)[0] == 2
    assert hpacalc.raw_resource_replicas(2, 80, "cpu", _usage("120m"), pods, NOW, loose)[0] == 2
    # a recommendation 2 minutes old holds a scale-down for the default 5 minutes, not for 1
    mem = hpacalc.Recommendations([(5, NOW - timedelta(minutes=2))])
    assert hpacalc.normalize(mem, 5, 2, 1, 10, NOW)[0] == 5
    mem = hpacalc.Recommendations([(5, NOW - timedelta(minutes=2))])
    short = hpacalc.Tuning(downscale_stabilization=timedelta(minutes=1))
    assert hpacalc.normalize(mem, 5, 2, 1, 10, NOW, short)[0] == 2
    behavior: dict[str, Any] = {
        "scaleDown": {"policies": [{"type": "Pods", "value": 10, "periodSeconds": 60}]}
    }
    mem = hpacalc.Recommendations([(5, NOW - timedelta(minutes=2))])
    assert hpacalc.normalize_with_behaviors(mem, behavior, 5, 2, 1, 10, NOW)[0] == 5
    mem = hpacalc.Recommendations([(5, NOW - timedelta(minutes=2))])
    assert hpacalc.normalize_with_behaviors(mem, behavior, 5, 2, 1, 10, NOW, short)[0] == 2
