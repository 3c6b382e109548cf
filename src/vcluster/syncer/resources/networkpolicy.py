"""NetworkPolicies (§5.5, when enabled): selectors confined to this vCluster's pods on the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy
from vcluster.syncer.result import SyncResult, Translation
from vcluster.syncer.selectors import (
    merge_label_selectors,
    ns_label_selector,
    pod_selector_for_namespace,
    translate_label_selector,
)

KIND = kinds.NETWORK_POLICY


def _peer(peer: Mapping[str, Any], vcluster: str, namespace: str) -> dict[str, Any]:
    if peer.get("ipBlock") is not None:
        return json_copy(dict(peer))
    ns_sel = peer.get("namespaceSelector")
    pod_sel = translate_label_selector(peer.get("podSelector") or {}, vcluster) or {}
    if ns_sel is None:
        pod_sel.setdefault("matchLabels", {})[c.NAMESPACE_LABEL] = namespace
    else:
        pod_sel = merge_label_selectors(pod_sel, ns_label_selector(ns_sel, vcluster))
    pod_sel.setdefault("matchLabels", {})[c.MARKER_LABEL] = vcluster
    return {"podSelector": pod_sel}


def translate_spec(spec: Any, vcluster: str, namespace: str) -> Any:
    """podSelector confined to the policy namespace; peers' namespace selectors folded into ns-labels."""
    out = json_copy(spec) or {}
    out["podSelector"] = pod_selector_for_namespace(out.get("podSelector") or {}, vcluster, namespace)
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        for rule in out.get(direction) or []:
            if rule.get(peers_field) is not None:
                rule[peers_field] = [_peer(p, vcluster, namespace) for p in rule[peers_field]]
    return out


def _spec_to_host(spec: Any, env: FieldEnv) -> Any:
    return translate_spec(spec, env.ctx.vcluster, metadata.meta(env.virtual).get("namespace", ""))


FIELDS = FieldDirections(to_host=(Field("spec", to_host=_spec_to_host),))


def translate_network_policy(vnp: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host NetworkPolicy."""
    host = generic.to_host(vnp, ctx, KIND, FIELDS)
    host["spec"] = translate_spec(host.get("spec"), ctx.vcluster, metadata.meta(vnp).get("namespace", ""))
    return Translation(host)


def sync_network_policy(
    vnp: Mapping[str, Any],
    hnp: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Spec re-translated from the virtual side on every sync."""
    return generic.sync(vnp, hnp, virtual_old, host_old, ctx, KIND, FIELDS)
