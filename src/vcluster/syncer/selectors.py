"""Label selector translation virtual → host (§2.2, §3.6, §5) and selector matching."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer.names import label_key_from_host, label_key_to_host, ns_label_key

LabelSelector = Mapping[str, Any]


def _map_keys(sel: LabelSelector | None, fn: Callable[[str], str]) -> dict[str, Any] | None:
    if sel is None:
        return None
    out: dict[str, Any] = {}
    if sel.get("matchLabels") is not None:
        out["matchLabels"] = {fn(k): v for k, v in sel["matchLabels"].items()}
    exprs = sel.get("matchExpressions") or []
    if exprs:
        out["matchExpressions"] = [_map_expr(e, fn) for e in exprs]
    return out


def _map_expr(expr: Mapping[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    out = dict(expr)
    out["key"] = fn(expr.get("key", ""))
    if expr.get("values") is not None:
        out["values"] = list(expr["values"])
    return out


def translate_label_selector(sel: LabelSelector | None, vcluster: str) -> dict[str, Any] | None:
    """Keys translated with the reserved-key rule; values and operators unchanged; None stays None."""
    return _map_keys(sel, lambda k: label_key_to_host(k, vcluster))


def virtual_label_selector(sel: LabelSelector | None, vcluster: str) -> dict[str, Any] | None:
    """Inverse of translate_label_selector (hashed reserved keys back to their virtual form)."""
    return _map_keys(sel, lambda k: _virtual_key(k, vcluster))


def _virtual_key(key: str, vcluster: str) -> str:
    back = label_key_from_host(key, vcluster)
    return key if back is None else back


def ns_label_selector(sel: LabelSelector | None, vcluster: str) -> dict[str, Any] | None:
    """A namespace selector turned into a pod selector on the host `ns-label` keys."""
    return _map_keys(sel, lambda k: ns_label_key(k, vcluster))


def merge_label_selectors(*sels: LabelSelector | None) -> dict[str, Any]:
    """AND of several selectors: matchLabels merged, matchExpressions concatenated."""
    out: dict[str, Any] = {}
    for sel in sels:
        if sel is None:
            continue
        if sel.get("matchLabels"):
            out.setdefault("matchLabels", {}).update(sel["matchLabels"])
        if sel.get("matchExpressions"):
            out.setdefault("matchExpressions", []).extend(dict(e) for e in sel["matchExpressions"])
    return out


def host_service_selector(
    selector: Mapping[str, str] | None, vcluster: str, namespace: str
) -> dict[str, str] | None:
    """Service selector on the host: translated keys plus marker and namespace labels (§5.1)."""
    if not selector:
        return None
    out = {label_key_to_host(k, vcluster): v for k, v in selector.items()}
    out[c.MARKER_LABEL] = vcluster
    out[c.NAMESPACE_LABEL] = namespace
    return out


def virtual_service_selector(selector: Mapping[str, str] | None, vcluster: str) -> dict[str, str] | None:
    """A host service selector translated back (marker/namespace/ns-label keys dropped)."""
    if not selector:
        return None
    out = {}
    for k, v in selector.items():
        vk = label_key_from_host(k, vcluster)
        if vk is not None:
            out[vk] = v
    return out or None


def pod_selector_for_namespace(
    sel: LabelSelector | None, vcluster: str, namespace: str, *, marker: bool = True
) -> dict[str, Any] | None:
    """Pod selector restricted to this vCluster's pods of one virtual namespace (NetworkPolicy, spread)."""
    if sel is None:
        return None
    out = translate_label_selector(sel, vcluster) or {}
    labels = out.setdefault("matchLabels", {})
    labels[c.NAMESPACE_LABEL] = namespace
    if marker:
        labels[c.MARKER_LABEL] = vcluster
    return out


# ---------------------------------------------------------------- matching


def _requirement_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def selector_matches(
    sel: LabelSelector | None, labels: Mapping[str, str] | None, *, none_matches: bool = False
) -> bool:
    """metav1.LabelSelector semantics: {} matches everything, None matches nothing (unless told)."""
    if sel is None:
        return none_matches
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(_requirement_matches(e, labels) for e in sel.get("matchExpressions") or [])
