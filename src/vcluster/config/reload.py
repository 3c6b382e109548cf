"""What changed between two configurations, and which changes apply without a restart.

The virtual cluster's name and host namespace are command-line flags, not configuration, so an
edited ConfigMap can never change them. Of the configuration itself, everything under `sync:`
(enabling or disabling a kind, `all`, pod options, node mode; not `sync.toHost.namespaces`, nor
`sync.toHost.services`, which decides whether the virtual API server allocates ClusterIPs itself),
`policies`, service replication, `setOwner`, the engine's rate limits and delays and the log
encoding are "live": the engine applies them in place. The rest ("restart") only takes effect
when the process starts again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from .errors import join_path
from .models import VClusterConfig

ReloadClass = Literal["live", "restart"]

# Longest matching prefix wins; a path matches a prefix when equal or continuing with "." or "[".
_RULES: dict[str, ReloadClass] = {
    "sync": "live",
    "sync.toHost.namespaces": "restart",
    # off, the virtual API server allocates ClusterIPs itself; it decides that when it starts
    "sync.toHost.services": "restart",
    "networking": "restart",
    "networking.replicateServices": "live",
    "policies": "live",
    "controlPlane": "restart",
    "experimental": "restart",
    "experimental.syncSettings.setOwner": "live",
    "experimental.engine": "live",
    "experimental.engine.workers": "restart",
    "experimental.engine.workersPerKind": "restart",
    "experimental.engine.resyncPeriod": "restart",
    "experimental.engine.watchSilenceTimeout": "restart",
    "logging": "live",
}


def _flatten_diff(old: Any, new: Any, path: list[Any], out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if key not in new or key not in old:
                out.append(join_path([*path, key]))
            else:
                _flatten_diff(old[key], new[key], [*path, key], out)
    elif old != new or type(old) is not type(new):
        out.append(join_path(path))


def diff_config(old: VClusterConfig, new: VClusterConfig) -> list[str]:
    """Key paths whose effective value differs, e.g. `sync.toHost.ingresses.enabled` or
    `sync.toHost.pods.translateImage["nginx:1.25"]`; lists count as one value."""
    out: list[str] = []
    _flatten_diff(old.model_dump(by_alias=True), new.model_dump(by_alias=True), [], out)
    return out


def _matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def reload_class(path: str) -> ReloadClass:
    """ "live" if a change at `path` can be applied by the running engine, else "restart"."""
    best, cls = -1, "restart"
    for prefix, rule in _RULES.items():
        if _matches(path, prefix) and len(prefix) > best:
            best, cls = len(prefix), rule
    return cls  # type: ignore[return-value]


def restart_required(paths: Iterable[str]) -> list[str]:
    """The changed paths that only take effect after a restart."""
    return [p for p in paths if reload_class(p) == "restart"]


def hot_reloadable(paths: Iterable[str]) -> bool:
    """True when every changed path can be applied without restarting."""
    return not restart_required(paths)
