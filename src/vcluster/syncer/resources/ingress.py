"""Ingresses (§5.3, when enabled): backends, TLS secrets and controller annotations translated."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import (
    Field,
    FieldDirections,
    FieldEnv,
    annotation_excluded,
    diff_map,
    json_copy,
    merge_both_ways,
    semantic_equal,
    visible_annotations,
)
from vcluster.syncer.refs import RefRecorder
from vcluster.syncer.result import Event, SyncResult, Translation
from vcluster.syncer.selectors import selector_matches

KIND = kinds.INGRESS
NGINX_SECRET_ANNOTATIONS = (
    "nginx.ingress.kubernetes.io/auth-secret",
    "nginx.ingress.kubernetes.io/auth-tls-secret",
    "nginx.ingress.kubernetes.io/proxy-ssl-secret",
)
ALB_ACTIONS = "alb.ingress.kubernetes.io/actions."
ALB_CONDITIONS = "alb.ingress.kubernetes.io/conditions."
EXCLUDED_ANNOTATIONS = ("field.cattle.io/publicEndpoints",)


def _backend(backend: dict[str, Any] | None, ns: str, refs: RefRecorder) -> None:
    if not backend:
        return
    svc = backend.get("service")
    if svc and svc.get("name"):
        svc["name"] = refs.host(kinds.SERVICE, svc["name"], ns)
    res = backend.get("resource")
    if res and res.get("name"):
        res["name"] = refs.ctx.host_name(res["name"], ns)


def translate_spec(spec: Any, ns: str, refs: RefRecorder) -> Any:
    """Service backends, resource backends and TLS secret names on the host."""
    out = json_copy(spec) or {}
    _backend(out.get("defaultBackend"), ns, refs)
    for rule in out.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            _backend(path.get("backend"), ns, refs)
    for tls in out.get("tls") or []:
        if tls.get("secretName"):
            tls["secretName"] = refs.host(kinds.SECRET, tls["secretName"], ns)
    return out


def _secret_value(value: str, ns: str, refs: RefRecorder) -> str:
    ctx = refs.ctx
    if value.startswith(ctx.host_namespace + "/") or value.endswith(f"-x-{ns}-x-{ctx.vcluster}"):
        return value  # already translated
    if "/" in value:
        vns, name = value.split("/", 1)
        return f"{ctx.host_namespace}/{refs.host(kinds.SECRET, name, vns)}"
    return refs.host(kinds.SECRET, value, ns)


def _alb_action(value: str, ns: str, refs: RefRecorder) -> str:
    try:
        action = json.loads(value)
    except ValueError:
        return value
    groups = (
        ((action or {}).get("forwardConfig") or {}).get("targetGroups") if isinstance(action, dict) else None
    )
    if not groups:
        return value
    marker = f"x-{ns}-x"
    for group in groups:
        name = group.get("serviceName")
        if name and marker not in name:
            group["serviceName"] = refs.host(kinds.SERVICE, name, ns)
    return json.dumps(action, separators=(",", ":"))


def _alb_key(key: str, ns: str, ctx: SyncContext) -> str:
    for prefix in (ALB_ACTIONS, ALB_CONDITIONS):
        if key.startswith(prefix):
            name = key[len(prefix) :]
            if f"x-{ns}-x" not in name:
                return prefix + ctx.host_name(name, ns)
    return key


def translate_annotations(ann: Mapping[str, str], ns: str, refs: RefRecorder) -> dict[str, str]:
    """Controller annotations that name secrets or services, rewritten for the host."""
    out = {}
    for key, value in ann.items():
        if key in NGINX_SECRET_ANNOTATIONS and value:
            value = _secret_value(value, ns, refs)
        elif key.startswith(ALB_ACTIONS):
            value = _alb_action(value, ns, refs)
        out[_alb_key(key, ns, refs.ctx)] = value
    return out


def _is_rewritten(key: str) -> bool:
    return key in NGINX_SECRET_ANNOTATIONS or key.startswith((ALB_ACTIONS, ALB_CONDITIONS))


def _spec_to_host(spec: Any, env: FieldEnv) -> Any:
    ns = metadata.meta(env.virtual).get("namespace", "")
    out = translate_spec(spec, ns, RefRecorder(env.ctx))
    host_class = (env.host.get("spec") or {}).get("ingressClassName")
    out.pop("ingressClassName", None)
    if host_class is not None:
        out["ingressClassName"] = host_class
    return out


def _annotations_merge(v_old: Any, v: Any, h_old: Any, h: Any, env: FieldEnv) -> tuple[Any, Any]:
    """Three-way merge in host form; rewritten controller annotations never flow back to the virtual side."""
    ns = metadata.meta(env.virtual).get("namespace", "")
    refs = RefRecorder(env.ctx)

    def host_key(key: str) -> str | None:
        return None if annotation_excluded(key, EXCLUDED_ANNOTATIONS) else key

    def virtual_key(key: str) -> str | None:
        return None if annotation_excluded(key, EXCLUDED_ANNOTATIONS) or _is_rewritten(key) else key

    ex = EXCLUDED_ANNOTATIONS
    v_diff: dict[str, Any] = {}
    if not semantic_equal(visible_annotations(v_old, ex), visible_annotations(v, ex)):
        before, after = translate_annotations(v_old or {}, ns, refs), translate_annotations(v or {}, ns, refs)
        v_diff = {k: val for k, val in diff_map(before, after).items() if host_key(k)}
    elif semantic_equal(visible_annotations(h_old, ex), visible_annotations(h, ex)):
        return v, h
    return merge_both_ways(v_old, v, h_old, h, to_virtual=virtual_key, v_diff=v_diff)


FIELDS = FieldDirections(
    to_host=(Field("spec", to_host=_spec_to_host),),
    from_host=("status",),
    both=(
        "spec.ingressClassName",
        "metadata.labels",
        Field("metadata.annotations", merge=_annotations_merge),
    ),
    excluded_annotations=EXCLUDED_ANNOTATIONS,
)


def translate_ingress(ving: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host Ingress; referenced Services and Secrets recorded."""
    host = generic.to_host(ving, ctx, KIND, FIELDS)
    ns = metadata.meta(ving).get("namespace", "")
    refs = RefRecorder(ctx)
    host["spec"] = translate_spec(host.get("spec"), ns, refs)
    ann = host["metadata"]["annotations"]
    host["metadata"]["annotations"] = translate_annotations(ann, ns, refs)
    return Translation(host, refs.refs)


IngressClassLookup = Callable[[str], "Mapping[str, Any] | None"]


def class_to_check(ving: Mapping[str, Any], ctx: SyncContext) -> str | None:
    """The ingress class that must be a selected host class, or None when nothing is checked: no
    from-host IngressClass selector, or an ingress without a class (vCluster's applyLimitByClass)."""
    sel = ctx.from_host_ingress_class_selector
    if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        return None
    return (ving.get("spec") or {}).get("ingressClassName") or None


def ingress_precondition(
    ving: Mapping[str, Any], ctx: SyncContext, host_class: IngressClassLookup
) -> Event | None:
    """With a from-host IngressClass selector, an ingress whose class is not a selected host class is
    not synced; the warning event says why (vCluster's texts)."""
    name = class_to_check(ving, ctx)
    if name is None:
        return None
    obj = host_class(name)
    ing = metadata.meta(ving).get("name", "")
    if obj is None or metadata.is_deleting(obj):
        why = f'couldn\'t be reached in the host: ingressclasses.networking.k8s.io "{name}" not found'
    elif not selector_matches(ctx.from_host_ingress_class_selector or {}, metadata.labels_of(obj)):
        why = "in the host does not match the selector under 'sync.fromHost.ingressClasses.selector'"
    else:
        return None
    return Event(
        "Warning",
        "SyncWarning",
        f'did not sync ingress "{ing}" to host because the ingress class "{name}" {why}',
    )


def sync_ingress(
    ving: Mapping[str, Any],
    hing: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Spec re-translated from virtual, status back, class and metadata both ways."""
    res = generic.sync(ving, hing, virtual_old, host_old, ctx, KIND, FIELDS)
    ns = metadata.meta(ving).get("namespace", "")
    refs = RefRecorder(ctx)
    translate_spec(ving.get("spec"), ns, refs)
    translate_annotations(metadata.annotations_of(ving), ns, refs)
    res.refs = refs.refs
    return res
