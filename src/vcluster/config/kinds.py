"""Resource kind names used by the syncer and where their switch lives under `sync:`."""

from __future__ import annotations

from typing import Literal

Direction = Literal["toHost", "fromHost"]

# kind (lowercase plural resource) → key path under sync.toHost
TO_HOST: dict[str, str] = {
    "services": "services",
    "endpoints": "endpoints",
    "endpointslices": "endpointSlices",
    "persistentvolumeclaims": "persistentVolumeClaims",
    "configmaps": "configMaps",
    "secrets": "secrets",
    "pods": "pods",
    "ingresses": "ingresses",
    "httproutes": "gatewayApi.httpRoutes",
    "gateways": "gatewayApi.gateways",
    "tlsroutes": "gatewayApi.tlsRoutes",
    "backendtlspolicies": "gatewayApi.backendTLSPolicies",
    "referencegrants": "gatewayApi.referenceGrants",
    "priorityclasses": "priorityClasses",
    "networkpolicies": "networkPolicies",
    "poddisruptionbudgets": "podDisruptionBudgets",
    "serviceaccounts": "serviceAccounts",
    "storageclasses": "storageClasses",
    "persistentvolumes": "persistentVolumes",
    "namespaces": "namespaces",
    "resourceclaims": "resourceClaims",
    "resourceclaimtemplates": "resourceClaimTemplates",
}

# kind → key path under sync.fromHost
FROM_HOST: dict[str, str] = {
    "events": "events",
    "configmaps": "configMaps",
    "secrets": "secrets",
    "csidrivers": "csiDrivers",
    "csinodes": "csiNodes",
    "csistoragecapacities": "csiStorageCapacities",
    "storageclasses": "storageClasses",
    "ingressclasses": "ingressClasses",
    "gatewayclasses": "gatewayClasses",
    "gateways": "gateways",
    "runtimeclasses": "runtimeClasses",
    "priorityclasses": "priorityClasses",
    "nodes": "nodes",
    "deviceclasses": "deviceClasses",
}

# Kinds that exist in both directions default to the direction issue 5 lists them under.
DEFAULT_DIRECTION: dict[str, Direction] = {
    "configmaps": "toHost",
    "secrets": "toHost",
    "priorityclasses": "toHost",
    "gateways": "toHost",
    "storageclasses": "fromHost",
}

ALL_KINDS: frozenset[str] = frozenset(TO_HOST) | frozenset(FROM_HOST)

# Kinds vcluster.yaml can switch on that this implementation has no syncer for: a configuration
# that turns one on (after `auto` is resolved) is refused, rather than accepted and left unsynced.
# (`toHost.namespaces`, multi-namespace mode, is refused as a Pro feature.)
GATEWAY_API: frozenset[str] = frozenset(k for k, path in TO_HOST.items() if path.startswith("gatewayApi."))
NOT_SYNCED: dict[Direction, frozenset[str]] = {
    "toHost": GATEWAY_API | {"resourceclaims", "resourceclaimtemplates"},
    "fromHost": frozenset({"csistoragecapacities", "deviceclasses", "gatewayclasses", "gateways"}),
}


def direction_of(kind: str, direction: Direction | None = None) -> Direction:
    """The direction a kind name refers to; ValueError for an unknown kind or direction."""
    if direction is not None:
        table = TO_HOST if direction == "toHost" else FROM_HOST if direction == "fromHost" else None
        if table is None:
            raise ValueError(f'unknown sync direction {direction!r} (expected "toHost" or "fromHost")')
        if kind not in table:
            raise ValueError(f"kind {kind!r} is not synced {direction}")
        return direction
    if kind in DEFAULT_DIRECTION:
        return DEFAULT_DIRECTION[kind]
    if kind in TO_HOST:
        return "toHost"
    if kind in FROM_HOST:
        return "fromHost"
    raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(ALL_KINDS))}")


def config_path(kind: str, direction: Direction | None = None) -> str:
    """The vcluster.yaml key path of a kind's switch, e.g. `sync.toHost.pods`."""
    d = direction_of(kind, direction)
    return f"sync.{d}.{(TO_HOST if d == 'toHost' else FROM_HOST)[kind]}"
