"""Pod environment translation: service-link and KUBERNETES_* variables, env refs, downward API (§3.2)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vcluster.serviceenv import has_cluster_ip, join_host_port, service_env_vars
from vcluster.syncer import constants as c
from vcluster.syncer import kinds
from vcluster.syncer.names import label_key_to_host
from vcluster.syncer.refs import RefRecorder

_FIELD_LABEL = re.compile(r"^metadata\.labels\['(.+)'\]$")
_FIELD_PATHS = {
    "metadata.labels": c.POD_LABELS_ANNOTATION,
    "metadata.name": c.POD_NAME_ANNOTATION,
    "metadata.namespace": c.POD_NAMESPACE_ANNOTATION,
    "metadata.uid": c.POD_UID_ANNOTATION,
    "spec.serviceAccountName": c.POD_SA_NAME_ANNOTATION,
}


def translate_field_path(path: str, vcluster: str) -> str:
    """Downward-API fieldRef path on the host pod (§3.2): virtual metadata comes from annotations."""
    m = _FIELD_LABEL.match(path)
    if m:
        return f"metadata.labels['{label_key_to_host(m.group(1), vcluster)}']"
    if path in _FIELD_PATHS:
        return f"metadata.annotations['{_FIELD_PATHS[path]}']"
    return path


def translate_field_ref(field_ref: dict[str, Any] | None, vcluster: str) -> None:
    """Rewrite a fieldRef in place."""
    if field_ref and field_ref.get("fieldPath"):
        field_ref["fieldPath"] = translate_field_path(field_ref["fieldPath"], vcluster)


def service_env(
    enable_service_links: bool | None,
    services: Iterable[Mapping[str, Any]],
    kube_ip: str,
    kube_port: int = 443,
) -> dict[str, str]:
    """Variables prepended to every container: service links (if enabled) plus KUBERNETES_*."""
    out: dict[str, str] = {}
    if enable_service_links:
        by_name = {s["metadata"]["name"]: s for s in services if has_cluster_ip(s)}
        for svc in by_name.values():
            out.update(service_env_vars(svc))
    url = f"tcp://{join_host_port(kube_ip, kube_port)}"
    out.update(
        {
            "KUBERNETES_PORT": url,
            f"KUBERNETES_PORT_{kube_port}_TCP": url,
            f"KUBERNETES_PORT_{kube_port}_TCP_ADDR": kube_ip,
            f"KUBERNETES_PORT_{kube_port}_TCP_PORT": str(kube_port),
            f"KUBERNETES_PORT_{kube_port}_TCP_PROTO": "tcp",
            "KUBERNETES_SERVICE_HOST": kube_ip,
            "KUBERNETES_SERVICE_PORT": str(kube_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(kube_port),
        }
    )
    return out


def translate_container_env(
    container: dict[str, Any], namespace: str, refs: RefRecorder, extra_env: Mapping[str, str]
) -> None:
    """Rewrite env/envFrom references in place and prepend `extra_env` (sorted, names not redefined)."""
    vcluster = refs.ctx.vcluster
    env = container.get("env") or []
    defined = set()
    for var in env:
        value_from = var.get("valueFrom") or {}
        translate_field_ref(value_from.get("fieldRef"), vcluster)
        cm = value_from.get("configMapKeyRef")
        if cm and cm.get("name"):
            cm["name"] = refs.host(kinds.CONFIGMAP, cm["name"], namespace)
        sec = value_from.get("secretKeyRef")
        if sec and sec.get("name"):
            sec["name"] = refs.host(kinds.SECRET, sec["name"], namespace)
        defined.add(var.get("name"))
    for src in container.get("envFrom") or []:
        cm = src.get("configMapRef")
        if cm and cm.get("name"):
            cm["name"] = refs.host(kinds.CONFIGMAP, cm["name"], namespace)
        sec = src.get("secretRef")
        if sec and sec.get("name"):
            sec["name"] = refs.host(kinds.SECRET, sec["name"], namespace)
    additional = [{"name": k, "value": v} for k, v in sorted(extra_env.items()) if k not in defined]
    container["env"] = additional + env


def translate_image(image: str, mapping: Mapping[str, str]) -> str:
    """`sync.toHost.pods.translateImage`: exact string match."""
    return mapping.get(image, image)
