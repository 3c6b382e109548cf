"""kube-controller-manager 1.32's flags for the in-process controllers of a virtual cluster.

vCluster (pkg/k8s/k8s.go, k8s distro) starts kube-controller-manager with its own arguments and
merges `controlPlane.distro.k8s.controllerManager.extraArgs` over them (pkg/util/command MergeArgs:
an extra `--flag` replaces the base argument of the same name). Here the controllers run in the
virtual cluster's process, so the arguments become `ControllerManager` options instead of a command
line: the flags that tune a controller we run are honoured, every other one is refused with the reason
(a flag is never silently dropped), and a malformed value is refused with pflag's message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.auditoptions import parse_duration

# vCluster's arguments that reach a controller of ours (k8s distro, no virtual scheduler, no private
# nodes). It also passes --node-monitor-period=30s, --node-monitor-grace-period=180s and
# --pvclaimbinder-sync-period=60s: the nodelifecycle and persistentvolume-binder controllers they tune
# do not run here (nodes and volumes are the host's), and the rest (--kubeconfig, certificates,
# --leader-elect, --use-service-account-credentials) is how its separate process reaches the API
# server, which the in-process controllers do not need.
VCLUSTER_ARGS: tuple[str, ...] = (
    "--controllers=*,-nodeipam,-nodelifecycle,-persistentvolume-binder,-attachdetach,"
    "-persistentvolume-expander,-cloud-node-lifecycle,-ttl",
    "--horizontal-pod-autoscaler-sync-period=60s",
)

# kube-apiserver's loops (controllers/bootstrap.py) run whatever kube-controller-manager is told.
APISERVER_LOOPS = ("bootstrap",)
ROOT_CA_PUBLISHER = "root-ca-cert-publisher"  # a mode of our serviceaccount controller

INT32 = (-(2**31), 2**31 - 1)


class KCMFlagError(ValueError):
    """An argument the controllers cannot take; the text names the flag and why."""


@dataclass(frozen=True)
class KnownController:
    """One of kube-controller-manager 1.32's controllers (cmd/kube-controller-manager/names)."""

    aliases: tuple[str, ...]
    ours: str | None  # our CONTROLLERS name (or ROOT_CA_PUBLISHER, or "job" for ttl-after-finished)
    disabled_by_default: bool = False
    why_absent: str = "it is not implemented here"


_NODES = "nodes are the host's: the syncer mirrors them"
_VOLUMES = "the host binds, attaches and expands volumes"
_CLOUD = "there is no cloud provider in a virtual cluster"
_TOKENS = "service account tokens come from the TokenRequest API (no token Secrets are made or cleaned)"

KNOWN_CONTROLLERS: dict[str, KnownController] = {
    "serviceaccount-token-controller": KnownController(("serviceaccount-token",), None, why_absent=_TOKENS),
    "endpoints-controller": KnownController(("endpoint",), "endpoints"),
    "endpointslice-controller": KnownController(("endpointslice",), "endpointslice"),
    "endpointslice-mirroring-controller": KnownController(
        ("endpointslicemirroring",), "endpointslicemirroring"
    ),
    "replicationcontroller-controller": KnownController(("replicationcontroller",), "replicationcontroller"),
    "pod-garbage-collector-controller": KnownController(("podgc",), "podgc"),
    "resourcequota-controller": KnownController(("resourcequota",), "resourcequota"),
    "namespace-controller": KnownController(("namespace",), "namespace"),
    "serviceaccount-controller": KnownController(("serviceaccount",), "serviceaccount"),
    "garbage-collector-controller": KnownController(("garbagecollector",), "garbagecollector"),
    "daemonset-controller": KnownController(("daemonset",), "daemonset"),
    "job-controller": KnownController(("job",), "job"),
    "deployment-controller": KnownController(("deployment",), "deployment"),
    "replicaset-controller": KnownController(("replicaset",), "replicaset"),
    "horizontal-pod-autoscaler-controller": KnownController(
        ("horizontalpodautoscaling",), "horizontalpodautoscaling"
    ),
    "disruption-controller": KnownController(("disruption",), "disruption"),
    "statefulset-controller": KnownController(("statefulset",), "statefulset"),
    "cronjob-controller": KnownController(("cronjob",), "cronjob"),
    "certificatesigningrequest-signing-controller": KnownController(("csrsigning",), "csrsigning"),
    "certificatesigningrequest-approving-controller": KnownController(("csrapproving",), "csrapproving"),
    "certificatesigningrequest-cleaner-controller": KnownController(("csrcleaner",), "csrcleaner"),
    "ttl-controller": KnownController(("ttl",), None, why_absent=_NODES),
    "bootstrap-signer-controller": KnownController(("bootstrapsigner",), None, True, "no bootstrap tokens"),
    "token-cleaner-controller": KnownController(("tokencleaner",), None, True, "no bootstrap tokens"),
    "node-ipam-controller": KnownController(("nodeipam",), None, why_absent=_NODES),
    "node-lifecycle-controller": KnownController(("nodelifecycle",), None, why_absent=_NODES),
    "taint-eviction-controller": KnownController(
        (), None, why_absent="the host evicts the pods of tainted nodes"
    ),
    "persistentvolume-binder-controller": KnownController(
        ("persistentvolume-binder",), None, why_absent=_VOLUMES
    ),
    "persistentvolume-attach-detach-controller": KnownController(
        ("attachdetach",), None, why_absent=_VOLUMES
    ),
    "persistentvolume-expander-controller": KnownController(
        ("persistentvolume-expander",), None, why_absent=_VOLUMES
    ),
    "clusterrole-aggregation-controller": KnownController(
        ("clusterrole-aggregation",), "clusterrole-aggregation"
    ),
    "persistentvolumeclaim-protection-controller": KnownController(("pvc-protection",), "pvc-protection"),
    "persistentvolume-protection-controller": KnownController(("pv-protection",), "pv-protection"),
    "ttl-after-finished-controller": KnownController(("ttl-after-finished",), "job"),
    "root-ca-certificate-publisher-controller": KnownController(
        ("root-ca-cert-publisher",), ROOT_CA_PUBLISHER
    ),
    "ephemeral-volume-controller": KnownController(("ephemeral-volume",), "ephemeral-volume"),
    "storageversion-garbage-collector-controller": KnownController(("storage-version-gc",), None),
    "resourceclaim-controller": KnownController(("resource-claim-controller",), None),
    "legacy-serviceaccount-token-cleaner-controller": KnownController(
        ("legacy-service-account-token-cleaner",), None, why_absent=_TOKENS
    ),
    "validatingadmissionpolicy-status-controller": KnownController((), "validatingadmissionpolicy-status"),
    "service-cidr-controller": KnownController((), None),
    "storage-version-migrator-controller": KnownController((), None),
    "selinux-warning-controller": KnownController((), None, True),
    "cloud-node-lifecycle-controller": KnownController(("cloud-node-lifecycle",), None, why_absent=_CLOUD),
    "node-route-controller": KnownController(("route",), None, why_absent=_CLOUD),
    "service-lb-controller": KnownController(("service",), None, why_absent=_CLOUD),
}
ALIASES: dict[str, str] = {a: name for name, c in KNOWN_CONTROLLERS.items() for a in c.aliases}


@dataclass(frozen=True)
class Flag:
    """A flag we honour: its pflag type and where its value goes."""

    kind: str  # duration | int32 | float64 | bool | strings
    controller: str  # our controller the option is for ("" for --controllers)
    option: str  # the controller's keyword argument ("" when `apply` is special)
    check: Callable[[str, Any], str | None] | None = None  # kube's Validate message, or None
    deprecated: str = ""  # pflag's MarkDeprecated text: accepted, warned, no effect


def at_least_one(name: str, value: Any) -> str | None:
    return f"{name} must be greater than 0, but got {value}" if value < 1 else None


def between(lo: int, hi: int) -> Callable[[str, Any], str | None]:
    def check(name: str, value: Any) -> str | None:
        if value < lo:
            return f"{name} must not be less than {lo}, but got {value}"
        if value > hi:
            return f"{name} must not be more than {hi}, but got {value}"
        return None

    return check


def positive_duration(name: str, value: Any) -> str | None:
    """Not validated by kube (a 0 period makes its loop spin); refused here."""
    return f"{name} must be greater than 0, but got {value:g}s" if value <= 0 else None


def non_negative(name: str, value: Any) -> str | None:
    if not math.isfinite(value) or value < 0:
        return f"{name} must be a non-negative number, but got {value}"
    return None


HPA = "horizontalpodautoscaling"
FLAGS: dict[str, Flag] = {
    "controllers": Flag("strings", "", ""),
    "enable-garbage-collector": Flag("bool", "garbagecollector", ""),
    "horizontal-pod-autoscaler-sync-period": Flag("duration", HPA, "sync_period", positive_duration),
    "horizontal-pod-autoscaler-tolerance": Flag("float64", HPA, "tolerance", non_negative),
    "horizontal-pod-autoscaler-downscale-stabilization": Flag("duration", HPA, "downscale_stabilization"),
    "horizontal-pod-autoscaler-cpu-initialization-period": Flag("duration", HPA, "cpu_initialization_period"),
    "horizontal-pod-autoscaler-initial-readiness-delay": Flag("duration", HPA, "initial_readiness_delay"),
    "horizontal-pod-autoscaler-upscale-delay": Flag(
        "duration", HPA, "", deprecated="This flag is currently no-op and will be deleted."
    ),
    "horizontal-pod-autoscaler-downscale-delay": Flag(
        "duration", HPA, "", deprecated="This flag is currently no-op and will be deleted."
    ),
    "concurrent-horizontal-pod-autoscaler-syncs": Flag("int32", HPA, "workers", at_least_one),
    "terminated-pod-gc-threshold": Flag("int32", "podgc", "terminated_pod_gc_threshold"),
    "concurrent-deployment-syncs": Flag("int32", "deployment", "workers", at_least_one),
    "concurrent-replicaset-syncs": Flag("int32", "replicaset", "workers", at_least_one),
    "concurrent-rc-syncs": Flag("int32", "replicationcontroller", "workers", at_least_one),
    "concurrent-statefulset-syncs": Flag("int32", "statefulset", "workers", at_least_one),
    "concurrent-daemonset-syncs": Flag("int32", "daemonset", "workers", at_least_one),
    "concurrent-job-syncs": Flag("int32", "job", "workers", at_least_one),
    "concurrent-cron-job-syncs": Flag("int32", "cronjob", "workers", at_least_one),
    "concurrent-namespace-syncs": Flag("int32", "namespace", "workers", at_least_one),
    "concurrent-gc-syncs": Flag("int32", "garbagecollector", "workers", at_least_one),
    "concurrent-endpoint-syncs": Flag("int32", "endpoints", "workers", at_least_one),
    "concurrent-service-endpoint-syncs": Flag("int32", "endpointslice", "workers", between(1, 50)),
    "max-endpoints-per-slice": Flag("int32", "endpointslice", "max_endpoints_per_slice", between(1, 1000)),
    "mirroring-concurrent-service-endpoint-syncs": Flag(
        "int32", "endpointslicemirroring", "workers", between(1, 50)
    ),
    "mirroring-max-endpoints-per-subset": Flag(
        "int32", "endpointslicemirroring", "max_endpoints_per_subset", between(1, 1000)
    ),
    "concurrent-resource-quota-syncs": Flag("int32", "resourcequota", "workers", at_least_one),
    "resource-quota-sync-period": Flag("duration", "resourcequota", "resync_seconds", positive_duration),
    "concurrent-ephemeralvolume-syncs": Flag("int32", "ephemeral-volume", "workers", at_least_one),
    "concurrent-validating-admission-policy-status-syncs": Flag(
        "int32", "validatingadmissionpolicy-status", "workers", at_least_one
    ),
    "cluster-signing-duration": Flag("duration", "csrsigning", "cert_ttl", positive_duration),
}

_PROCESS = (
    "set by the virtual cluster itself: its controllers run inside its process, with its certificates "
    "and in-process clients, not as a separate kube-controller-manager"
)


def _words(*lines: str) -> list[str]:
    """Flag names written as space-separated lines."""
    return [w for line in lines for w in line.split()]


_PROCESS_FLAGS = _words(
    "kubeconfig master authentication-kubeconfig authorization-kubeconfig bind-address secure-port",
    "client-ca-file cert-dir tls-cert-file tls-private-key-file tls-cipher-suites tls-min-version",
    "tls-sni-cert-key requestheader-client-ca-file requestheader-allowed-names",
    "requestheader-username-headers requestheader-group-headers requestheader-extra-headers-prefix",
    "cluster-name cluster-signing-cert-file cluster-signing-key-file",
    "cluster-signing-kubelet-serving-cert-file cluster-signing-kubelet-serving-key-file",
    "cluster-signing-kubelet-client-cert-file cluster-signing-kubelet-client-key-file",
    "cluster-signing-kube-apiserver-client-cert-file cluster-signing-kube-apiserver-client-key-file",
    "cluster-signing-legacy-unknown-cert-file cluster-signing-legacy-unknown-key-file root-ca-file",
    "service-account-private-key-file use-service-account-credentials leader-elect",
    "leader-elect-lease-duration leader-elect-renew-deadline leader-elect-retry-period",
    "leader-elect-resource-lock leader-elect-resource-name leader-elect-resource-namespace",
    "enable-leader-migration leader-migration-config kube-api-qps kube-api-burst kube-api-content-type",
    "profiling contention-profiling feature-gates controller-start-interval min-resync-period",
    "http2-max-streams-per-connection permit-address-sharing permit-port-sharing",
    "authentication-skip-lookup authentication-token-webhook-cache-ttl",
    "authentication-tolerate-lookup-failure authorization-always-allow-paths",
    "authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl",
    "show-hidden-metrics-for-version allow-metric-labels allow-metric-labels-manifest disabled-metrics",
    "v vmodule log-flush-frequency logging-format log-text-split-stream log-text-info-buffer-size",
    "log-json-split-stream log-json-info-buffer-size master-service-namespace",
)
_ABSENT_FLAGS: dict[str, str] = {
    **dict.fromkeys(
        _words(
            "node-monitor-period node-monitor-grace-period node-startup-grace-period node-eviction-rate",
            "secondary-node-eviction-rate large-cluster-size-threshold unhealthy-zone-threshold",
        ),
        "node-lifecycle-controller",
    ),
    **dict.fromkeys(
        _words(
            "allocate-node-cidrs cluster-cidr service-cluster-ip-range secondary-service-cluster-ip-range",
            "node-cidr-mask-size node-cidr-mask-size-ipv4 node-cidr-mask-size-ipv6",
        ),
        "node-ipam-controller",
    ),
    **dict.fromkeys(
        _words(
            "pvclaimbinder-sync-period pv-recycler-minimum-timeout-nfs pv-recycler-increment-timeout-nfs",
            "pv-recycler-pod-template-filepath-nfs pv-recycler-minimum-timeout-hostpath",
            "pv-recycler-pod-template-filepath-hostpath pv-recycler-timeout-increment-hostpath",
            "enable-dynamic-provisioning enable-hostpath-provisioner flex-volume-plugin-dir",
        ),
        "persistentvolume-binder-controller",
    ),
    **dict.fromkeys(
        _words(
            "disable-attach-detach-reconcile-sync attach-detach-reconcile-sync-period",
            "disable-force-detach-on-timeout",
        ),
        "persistentvolume-attach-detach-controller",
    ),
    **dict.fromkeys(
        _words(
            "cloud-provider cloud-config external-cloud-volume-plugin configure-cloud-routes",
            "route-reconciliation-period node-sync-period concurrent-service-syncs",
        ),
        "service-lb-controller",
    ),
    "concurrent-serviceaccount-token-syncs": "serviceaccount-token-controller",
    "concurrent-resource-claim-syncs": "resourceclaim-controller",
}
_NOT_TUNABLE: dict[str, str] = {
    "concurrent-ttl-after-finished-syncs": "finished Jobs' TTLs are kept by the job controller's own "
    "workers here (--concurrent-job-syncs)",
    "namespace-sync-period": "the namespace controller here has no periodic resync: it works from watch "
    "events",
}


@dataclass
class KCMSettings:
    """The controllers to run (our names) and their options, from kube-controller-manager flags."""

    controllers: set[str]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def flag_name(arg: str) -> str:
    """The name of `--flag[=value]`, with `_` as `-` (cliflag.WordSepNormalizeFunc)."""
    return arg.lstrip("-").partition("=")[0].replace("_", "-")


def merge_args(base: list[str] | tuple[str, ...], extra: list[str]) -> list[str]:
    """vCluster's command.MergeArgs: the base arguments whose `--flag` appears in `extra`, dropped,
    then `extra` appended."""
    named = {a.partition("=")[0] for a in extra if a.startswith("--")}
    return [a for a in base if not (a.startswith("--") and a.partition("=")[0] in named)] + list(extra)


def _invalid(raw: str, name: str, why: str) -> KCMFlagError:
    return KCMFlagError(f'invalid argument "{raw}" for "--{name}" flag: {why}')


def convert(name: str, kind: str, raw: str) -> Any:
    """A flag's text as pflag parses it (durations in seconds); KCMFlagError with pflag's message."""
    if kind == "bool":
        if raw in ("1", "t", "T", "true", "TRUE", "True"):
            return True
        if raw in ("0", "f", "F", "false", "FALSE", "False"):
            return False
        raise _invalid(raw, name, f'strconv.ParseBool: parsing "{raw}": invalid syntax')
    if kind == "int32":
        try:
            value = int(raw, 0)
        except ValueError:
            raise _invalid(raw, name, f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None
        if not INT32[0] <= value <= INT32[1]:
            raise _invalid(raw, name, f'strconv.ParseInt: parsing "{raw}": value out of range')
        return value
    if kind == "float64":
        try:
            return float(raw)
        except ValueError:
            raise _invalid(raw, name, f'strconv.ParseFloat: parsing "{raw}": invalid syntax') from None
    if kind == "duration":
        try:
            return parse_duration(raw)
        except ValueError as e:
            raise _invalid(raw, name, str(e)) from None
    return [s.strip() for s in raw.split(",")] if raw else []  # strings (pflag's CSV)


def refusal(name: str) -> str:
    """Why `--name` is not taken (for a flag that is not in FLAGS)."""
    if name in _PROCESS_FLAGS:
        return _PROCESS
    if name in _ABSENT_FLAGS:
        ctrl = _ABSENT_FLAGS[name]
        why = KNOWN_CONTROLLERS[ctrl].why_absent
        return f"it tunes the {ctrl}, which does not run in a virtual cluster: {why}"
    if name in _NOT_TUNABLE:
        return _NOT_TUNABLE[name]
    return (
        "not a kube-controller-manager 1.32 flag that the controllers here take (supported: "
        + ", ".join(f"--{f}" for f in FLAGS)
        + ")"
    )


def split_args(args: list[str]) -> list[tuple[str, str]]:
    """pflag's parsing of `--flag=value`, `--flag value` and a bool `--flag`: (name, raw value)."""
    out: list[tuple[str, str]] = []
    stray: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            stray.append(arg)
            continue
        name = flag_name(arg)
        flag = FLAGS.get(name)
        if flag is None:
            raise KCMFlagError(f"{arg}: {refusal(name)}")
        _, eq, raw = arg.partition("=")
        if not eq:
            if flag.kind == "bool":
                raw = "true"
            elif i < len(args):
                raw, i = args[i], i + 1
            else:
                raise KCMFlagError(f"flag needs an argument: --{name}")
        out.append((name, raw))
    if stray:
        raise KCMFlagError(f'"kube-controller-manager" does not take any arguments, got {stray}')
    return out


def enabled_controllers(names: list[str]) -> set[str]:
    """--controllers as kube-controller-manager 1.32 reads it: the canonical names enabled. Aliases are
    resolved; the first explicit `name` or `-name` decides, else `*` enables the ones not disabled by
    default (IsControllerEnabled). A controller we do not run may be disabled, not enabled by name."""
    errors, decided, star = [], {}, False
    for given in names:
        if given == "*":
            star = True
            continue
        bare = given.removeprefix("-")
        name = ALIASES.get(bare, bare)
        if name not in KNOWN_CONTROLLERS:
            errors.append(f'"{bare}" is not in the list of known controllers')
            continue
        if name not in decided:
            decided[name] = not given.startswith("-")
            c = KNOWN_CONTROLLERS[name]
            if decided[name] and c.ours is None:
                errors.append(f"{bare} ({name}) does not run in a virtual cluster: {c.why_absent}")
    if errors:
        raise KCMFlagError("--controllers: " + "; ".join(errors))
    return {
        name for name, c in KNOWN_CONTROLLERS.items() if decided.get(name, star and not c.disabled_by_default)
    }


def parse(args: list[str]) -> KCMSettings:
    """kube-controller-manager arguments as the controllers' settings; KCMFlagError names a bad one."""
    values: dict[str, Any] = {}
    controllers: list[str] = ["*"]  # kube-controller-manager's default
    given = False
    for name, raw in split_args(args):
        flag = FLAGS[name]
        value = convert(name, flag.kind, raw)
        if name == "controllers":
            controllers = controllers + value if given else value  # a string slice appends
            given = True
        else:
            values[name] = value  # the last one wins
    for name, value in values.items():
        check = FLAGS[name].check
        problem = check(name, value) if check is not None else None
        if problem:
            raise KCMFlagError(f"--{name}: {problem}")
    enabled = enabled_controllers(controllers)
    ours = {c.ours for name, c in KNOWN_CONTROLLERS.items() if name in enabled and c.ours is not None}
    settings = KCMSettings(ours | set(APISERVER_LOOPS))
    if "ttl-after-finished-controller" not in enabled:  # part of our job controller
        settings.options.setdefault("job", {})["ttl_after_finished"] = False
    if "job-controller" not in enabled:
        settings.controllers.discard("job")
    for name, value in values.items():
        flag = FLAGS[name]
        if flag.deprecated:
            settings.warnings.append(f"--{name} has been deprecated, {flag.deprecated}")
        elif name == "enable-garbage-collector":
            if not value:  # startGarbageCollectorController: nothing started
                settings.controllers.discard("garbagecollector")
        else:
            settings.options.setdefault(flag.controller, {})[flag.option] = value
    return settings


def virtual_cluster_settings(extra_args: list[str], *, enabled: bool = True) -> KCMSettings:
    """The controllers of a virtual cluster: vCluster's arguments with `extraArgs` merged over them.
    `enabled: false` (controlPlane.distro.k8s.controllerManager.enabled) runs none of
    kube-controller-manager's controllers, only kube-apiserver's own loops."""
    if not enabled:
        settings = KCMSettings(set(APISERVER_LOOPS))
        if extra_args:
            settings.warnings.append(
                "extraArgs not used: the controller manager is disabled (enabled: false)"
            )
        return settings
    return parse(merge_args(VCLUSTER_ARGS, extra_args))
