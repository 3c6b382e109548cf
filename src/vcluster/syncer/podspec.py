"""Pod spec rewrites: hostname and /etc/hosts (§3.3), DNS (§3.5), scheduling (§3.6), tolerations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vcluster.apiserver.patch import json_copy
from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import semantic_equal
from vcluster.syncer.result import Event
from vcluster.syncer.selectors import merge_label_selectors, ns_label_selector, translate_label_selector

HOSTS_VOLUME = "vcluster-rewrite-hosts"
HOSTS_CONTAINER = "vcluster-rewrite-hosts"
AFFINITY_WARNING = (
    "Inter-pod affinity rule(s) that use both .namespaces and .namespaceSelector fields in the same term "
    "are not supported by vcluster yet. The .namespaceSelector fields of the unsupported affinity entries "
    "will be ignored."
)


def host_hostname(pod_name: str) -> str:
    """Hostname for a pod without spec.hostname: name cut to 63, dots to dashes, trailing dashes
    trimmed (vCluster trims one, which leaves an invalid hostname for a cut that ends in `--`)."""
    return pod_name[:63].replace(".", "-").rstrip("-")


def hosts_rewrite_container(ctx: SyncContext, hostname: str, fqdn: str) -> dict[str, Any]:
    """The init container that rewrites `/etc/hosts` so the pod's FQDN resolves like in a real cluster."""
    script = (
        "sed -E -e 's/^(\\d+.\\d+.\\d+.\\d+\\s+)" + hostname + "$/\\1 " + fqdn + " " + hostname + "/' "
        "/etc/hosts > /hosts/hosts"
    )
    return {
        "name": HOSTS_CONTAINER,
        "image": ctx.rewrite_hosts_image,
        "command": ["sh"],
        "args": ["-c", script],
        "resources": {k: dict(v) for k, v in ctx.rewrite_hosts_resources.items()},
        "volumeMounts": [{"name": HOSTS_VOLUME, "mountPath": "/hosts"}],
        "securityContext": {
            "capabilities": {"drop": ["ALL"]},
            "runAsUser": ctx.rewrite_hosts_uid,
            "runAsGroup": ctx.rewrite_hosts_gid,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def rewrite_hosts(pod: dict[str, Any], ctx: SyncContext, hostname: str, fqdn: str) -> None:
    """Prepend the hosts-rewrite init container and mount its output at /etc/hosts everywhere."""
    ann = pod["metadata"].setdefault("annotations", {})
    # vCluster's condition (spec open question 3): skipped only when both annotations are "true".
    if (
        ann.get(c.DISABLE_SUBDOMAIN_REWRITE_ANNOTATION) == "true"
        and ann.get(c.HOSTS_REWRITTEN_ANNOTATION) == "true"
    ):
        return
    spec = pod["spec"]
    spec.setdefault("volumes", []).append({"name": HOSTS_VOLUME, "emptyDir": {}})
    spec["initContainers"] = [
        hosts_rewrite_container(ctx, hostname, fqdn),
        *(spec.get("initContainers") or []),
    ]
    ann[c.HOSTS_REWRITTEN_ANNOTATION] = "true"
    mount = {"name": HOSTS_VOLUME, "mountPath": "/etc/hosts", "subPath": "hosts"}
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if container.get("name") == HOSTS_CONTAINER and field == "initContainers":
                continue
            container.setdefault("volumeMounts", []).append(dict(mount))


def kube_host_alias(ctx: SyncContext) -> dict[str, Any]:
    """hostAliases entry making `kubernetes[.default[.svc[.<domain>]]]` resolve to the kube IP."""
    return {
        "ip": ctx.kube_ip,
        "hostnames": [
            f"kubernetes.default.svc.{ctx.cluster_domain}",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
        ],
    }


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def translate_dns(pod: dict[str, Any], ctx: SyncContext, namespace: str) -> None:
    """ClusterFirst(WithHostNet) → dnsPolicy None with the virtual DNS; None/Default untouched (§3.5)."""
    spec = pod["spec"]
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        return  # falls back to Default
    if policy not in ("ClusterFirst", "ClusterFirstWithHostNet") or not ctx.dns_ip:
        return
    existing = spec.get("dnsConfig") or {}
    searches = []
    if ctx.cluster_domain:
        d = ctx.cluster_domain
        searches = [f"{namespace}.svc.{d}", f"svc.{d}", d]
    cfg: dict[str, Any] = {"nameservers": _dedupe([ctx.dns_ip, *(existing.get("nameservers") or [])])}
    if searches or existing.get("searches"):
        cfg["searches"] = _dedupe([*searches, *(existing.get("searches") or [])])
    cfg["options"] = [{"name": "ndots", "value": "5"}]
    spec["dnsPolicy"] = "None"
    spec["dnsConfig"] = cfg


# ---------------------------------------------------------------- scheduling (§3.6)


def _selector_empty(sel: Mapping[str, Any] | None) -> bool:
    return not sel or not (sel.get("matchLabels") or sel.get("matchExpressions"))


def translate_affinity_term(
    term: Mapping[str, Any], vcluster: str, namespace: str, events: list[Event]
) -> dict[str, Any]:
    """A pod (anti-)affinity term on host labels, restricted to this vCluster's pods (§3.6)."""
    out: dict[str, Any] = {}
    sel = translate_label_selector(term.get("labelSelector"), vcluster)
    if sel is not None:
        out["labelSelector"] = sel
    if "topologyKey" in term:
        out["topologyKey"] = term["topologyKey"]
    if sel is None:
        return out
    namespaces, ns_sel = term.get("namespaces") or [], term.get("namespaceSelector")
    if namespaces:
        if ns_sel is not None and not _selector_empty(ns_sel):
            events.append(Event("Warning", "SyncWarning", AFFINITY_WARNING))
        if ns_sel is None or not _selector_empty(ns_sel):
            sel.setdefault("matchExpressions", []).append(
                {"key": c.NAMESPACE_LABEL, "operator": "In", "values": list(namespaces)}
            )
    elif ns_sel is not None:
        sel = merge_label_selectors(sel, ns_label_selector(ns_sel, vcluster))
        out["labelSelector"] = sel
    else:
        sel.setdefault("matchLabels", {})[c.NAMESPACE_LABEL] = namespace
    sel.setdefault("matchLabels", {})[c.MARKER_LABEL] = vcluster
    return out


def translate_affinity(
    affinity: Mapping[str, Any] | None, vcluster: str, namespace: str, events: list[Event]
) -> dict[str, Any] | None:
    """Pod (anti-)affinity terms rewritten; node affinity copied as-is."""
    if affinity is None:
        return None
    out = json_copy(dict(affinity))
    for kind in ("podAffinity", "podAntiAffinity"):
        section = out.get(kind)
        if not section:
            continue
        for i, term in enumerate(section.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
            section["requiredDuringSchedulingIgnoredDuringExecution"][i] = translate_affinity_term(
                term, vcluster, namespace, events
            )
        for weighted in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            weighted["podAffinityTerm"] = translate_affinity_term(
                weighted.get("podAffinityTerm") or {}, vcluster, namespace, events
            )
    return out


def translate_spread(constraints: list[dict[str, Any]] | None, vcluster: str, namespace: str) -> None:
    """topologySpreadConstraints selectors: translated keys plus namespace and marker labels (in place)."""
    for tsc in constraints or []:
        sel = translate_label_selector(tsc.get("labelSelector"), vcluster)
        if sel is None:
            continue
        labels = sel.setdefault("matchLabels", {})
        labels[c.NAMESPACE_LABEL] = namespace
        labels[c.MARKER_LABEL] = vcluster
        tsc["labelSelector"] = sel


# ---------------------------------------------------------------- tolerations


class TolerationError(ValueError):
    """An enforceTolerations entry that cannot be parsed."""


def parse_toleration(spec: str) -> dict[str, Any]:
    """kubectl-like `key[=value]:Effect`, `key[=value]` or `*` (vCluster's ParseToleration)."""
    if spec == "*":
        return {"operator": "Exists"}
    colon, eq = spec.split(":"), spec.split("=")
    key = value = effect = operator = ""
    if len(colon) == 1:
        if len(eq) > 2:
            raise TolerationError(f"invalid toleration spec: {spec}")
        key = eq[0]
        value = eq[1] if len(eq) == 2 else ""
    elif len(colon) == 2:
        effect, operator = colon[1], "Exists"
        kv = colon[0].split("=")
        if len(kv) > 2:
            raise TolerationError(f"invalid toleration spec: {spec}")
        key = kv[0]
        if len(kv) == 2:
            operator, value = "Equal", kv[1]
    else:
        raise TolerationError(f"invalid toleration spec: {spec}")
    out = {"key": key, "operator": operator, "value": value, "effect": effect}
    return {k: v for k, v in out.items() if v}


def enforced_tolerations(ctx: SyncContext) -> list[dict[str, Any]]:
    """The parsed `sync.toHost.pods.enforceTolerations`."""
    return [parse_toleration(t) for t in ctx.enforce_tolerations]


def add_tolerations(
    existing: list[dict[str, Any]] | None, extra: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`existing` plus each of `extra` not already present (semantic comparison)."""
    out = [dict(t) for t in existing or []]
    for t in extra:
        if not any(semantic_equal(t, have) for have in out):
            out.append(dict(t))
    return out
