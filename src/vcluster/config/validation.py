"""Cross-field checks after the schema: [Pro] features, mutually exclusive options, mapping formats.

Messages follow vCluster's pkg/config/validation.go where it has one, prefixed by the key path.
"""

from __future__ import annotations

from typing import Any

from vcluster.apiserver.validation import (
    is_dns1123_label,
    is_dns1123_subdomain,
    validate_label_value,
    validate_qualified_name,
)

from . import kinds
from ._types import show
from .errors import ConfigIssue, join_path
from .models import VClusterConfig
from .sync import FromHostMappings

PRO = "is a vCluster Pro feature and is not supported"
PRO_PLURAL = "are a vCluster Pro feature and are not supported"


def _patches(data: Any, path: list[Any], out: list[ConfigIssue]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "patches" and v:
                out.append(ConfigIssue(join_path([*path, k]), f"translate patches {PRO_PLURAL}"))
            elif k != "customResources":
                _patches(v, [*path, k], out)


def _pro_features(cfg: VClusterConfig, out: list[ConfigIssue]) -> None:
    th, fh = cfg.sync.to_host, cfg.sync.from_host
    if th.namespaces.enabled:
        out.append(ConfigIssue("sync.toHost.namespaces.enabled", f"multi-namespace mode {PRO}"))
    if th.custom_resources:
        out.append(ConfigIssue("sync.toHost.customResources", f"custom resource sync {PRO}"))
    if fh.custom_resources:
        out.append(ConfigIssue("sync.fromHost.customResources", f"custom resource sync {PRO}"))
    if th.pods.hybrid_scheduling.enabled:
        out.append(ConfigIssue("sync.toHost.pods.hybridScheduling.enabled", f"hybrid scheduling {PRO}"))
    _patches(cfg.model_dump(by_alias=True)["sync"], ["sync"], out)


def _exclusive(cfg: VClusterConfig, out: list[ConfigIssue]) -> None:
    th, fh = cfg.sync.to_host, cfg.sync.from_host
    if fh.storage_classes.enabled == "true" and th.storage_classes.enabled:
        out.append(
            ConfigIssue(
                "sync.fromHost.storageClasses.enabled",
                "you cannot enable both sync.fromHost.storageClasses.enabled and "
                "sync.toHost.storageClasses.enabled at the same time. Choose only one of them",
            )
        )
    if fh.priority_classes.enabled and th.priority_classes.enabled:
        out.append(
            ConfigIssue(
                "sync.fromHost.priorityClasses.enabled",
                "cannot sync priorityclasses to and from host at the same time",
            )
        )
    if th.pods.enabled and not th.services.enabled:
        out.append(
            ConfigIssue(
                "sync.toHost.services.enabled",
                "cannot be false while sync.toHost.pods.enabled is true: a synced pod's nameserver is "
                "the host copy of the Service kube-system/kube-dns, which only the service syncer "
                "makes, so no pod would ever reach the host (disable pods too, or keep services)",
            )
        )
    nodes = fh.nodes
    if cfg.scheduling_in_virtual_cluster and not nodes.enabled:
        out.append(
            ConfigIssue(
                "sync.fromHost.nodes.enabled",
                "is false, but required if using hybrid scheduling or virtual scheduler",
            )
        )
    if nodes.selector.all and nodes.selector.labels:
        out.append(
            ConfigIssue(
                "sync.fromHost.nodes.selector",
                "all and labels are mutually exclusive: sync all nodes or only those with the labels",
            )
        )
    if nodes.selector.all and not nodes.enabled:
        out.append(
            ConfigIssue(
                "sync.fromHost.nodes.selector.all",
                "needs sync.fromHost.nodes.enabled: true (real nodes); "
                "fake nodes exist only for nodes that run pods",
            )
        )
    if nodes.sync_back_changes and not nodes.enabled:
        out.append(
            ConfigIssue(
                "sync.fromHost.nodes.syncBackChanges",
                "needs sync.fromHost.nodes.enabled: true (real nodes); "
                "fake nodes have no host node to change",
            )
        )
    if cfg.control_plane.stateful_set.high_availability.replicas > 1:
        out.append(
            ConfigIssue(
                "controlPlane.statefulSet.highAvailability.replicas",
                "embedded database is not supported with multiple replicas",
            )
        )


def _not_synced(cfg: VClusterConfig, out: list[ConfigIssue]) -> None:
    """Kinds switched on that this implementation has no syncer for (`kinds.NOT_SYNCED`)."""
    unsynced = [(d, k) for d, k in cfg.enabled_kinds() if k in kinds.NOT_SYNCED[d]]
    if any(d == "toHost" and k in kinds.GATEWAY_API for d, k in unsynced):
        out.append(
            ConfigIssue(
                "sync.toHost.gatewayApi.enabled",
                "not implemented: this vcluster does not sync the Gateway API (HTTPRoutes, Gateways, "
                "TLSRoutes, BackendTLSPolicies, ReferenceGrants); set it to false or leave it out",
            )
        )
    for d, k in unsynced:
        if d == "toHost" and k in kinds.GATEWAY_API:
            continue
        if cfg._switch(d, k).enabled == "auto":
            continue  # on only through hybrid scheduling, itself refused as a Pro feature
        out.append(
            ConfigIssue(
                f"{kinds.config_path(k, d)}.enabled",
                f"not implemented: this vcluster has no syncer for {k} ({d}); "
                "set it to false or leave it out",
            )
        )


def _node_labels(cfg: VClusterConfig, out: list[ConfigIssue]) -> None:
    for key, value in cfg.sync.from_host.nodes.selector.labels.items():
        path = join_path(["sync", "fromHost", "nodes", "selector", "labels", key])
        if errs := validate_qualified_name(key):
            out.append(ConfigIssue(path, f"invalid label key {show(key)}: {'; '.join(errs)}"))
        if errs := validate_label_value(value):
            out.append(ConfigIssue(path, f"invalid label value {show(value)}: {'; '.join(errs)}"))


def _ref_errors(ref: str) -> str | None:
    """Namespace and object-name checks of one side of a byName mapping."""
    ns, _, name = ref.partition("/")
    if ns and (errs := is_dns1123_label(ns)):
        return f"invalid namespace {show(ns)}: {errs[0]}"
    if name and name != "*" and (errs := is_dns1123_subdomain(name)):
        return f"invalid object name {show(name)}: {errs[0]}"
    return None


_KEY_FORMS = 'NAMESPACE/NAME, NAMESPACE/*, /NAME or ""'


def _mapping_error(key: str, value: str) -> str | None:
    if key.count("/") > 1 or value.count("/") > 1:
        return f"invalid mapping {show(key)}: {show(value)} (expected {_KEY_FORMS})"
    if key and "/" not in key:
        return f"key has an invalid format (expected {_KEY_FORMS}), got {show(key)}"
    if key and "/" not in value:
        return f"value has an invalid format (expected NAMESPACE/NAME or NAMESPACE/*), got {show(value)}"
    if not key and "/" in value and not value.endswith("/*"):
        return (
            'key "" matches the host namespace, so the value must be NAMESPACE or NAMESPACE/*, '
            f"got {show(value)}"
        )
    if key.endswith("/*") and not value.endswith("/*"):
        return f"key matches all objects of a namespace, so the value must be NAMESPACE/*, got {show(value)}"
    if not value or value.startswith("/"):
        return f"value must name a virtual namespace, got {show(value)}"
    return _ref_errors(key) or _ref_errors(value)


def _mappings(kind: str, enabled: bool, mappings: FromHostMappings, out: list[ConfigIssue]) -> None:
    if not enabled:
        return
    base = ["sync", "fromHost", kind, "mappings", "byName"]
    if not mappings.by_name:
        message = f"must not be empty when sync.fromHost.{kind}.enabled is true"
        out.append(ConfigIssue(join_path(base), message))
    for key, value in mappings.by_name.items():
        if err := _mapping_error(key, value):
            out.append(ConfigIssue(join_path([*base, key]), err))


def _engine(cfg: VClusterConfig, out: list[ConfigIssue]) -> None:
    engine = cfg.experimental.engine
    for kind in engine.workers_per_kind:
        if kind not in kinds.ALL_KINDS:
            out.append(
                ConfigIssue(
                    join_path(["experimental", "engine", "workersPerKind", kind]),
                    f"unknown kind {show(kind)}; known kinds: {', '.join(sorted(kinds.ALL_KINDS))}",
                )
            )
    if engine.retry_base_delay > engine.retry_max_delay:
        out.append(
            ConfigIssue(
                "experimental.engine.retryBaseDelay",
                f"must not exceed experimental.engine.retryMaxDelay ({engine.retry_max_delay})",
            )
        )


def _images(cfg: VClusterConfig, out: list[ConfigIssue]) -> None:
    for src, dst in cfg.sync.to_host.pods.translate_image.items():
        if not src or not dst:
            out.append(
                ConfigIssue(
                    join_path(["sync", "toHost", "pods", "translateImage", src]),
                    "image names must not be empty",
                )
            )


def check_config(cfg: VClusterConfig) -> list[ConfigIssue]:
    """Every cross-field problem of a schema-valid configuration (empty when it is usable)."""
    out: list[ConfigIssue] = []
    _pro_features(cfg, out)
    _exclusive(cfg, out)
    _not_synced(cfg, out)
    _node_labels(cfg, out)
    fh = cfg.sync.from_host
    _mappings("configMaps", fh.config_maps.enabled, fh.config_maps.mappings, out)
    _mappings("secrets", fh.secrets.enabled, fh.secrets.mappings, out)
    _images(cfg, out)
    _engine(cfg, out)
    if cfg.control_plane.advanced.virtual_scheduler.enabled:
        out.append(
            ConfigIssue(
                "controlPlane.advanced.virtualScheduler.enabled",
                "not supported: this virtual cluster runs no scheduler, the host schedules its pods "
                "(set it to false or leave it out)",
            )
        )
    return out
