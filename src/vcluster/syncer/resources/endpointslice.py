"""EndpointSlices (§5.2): like Endpoints, synced only for selector-less Services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import generic, kinds, metadata, names
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy
from vcluster.syncer.result import SyncResult, Translation

KIND = kinds.ENDPOINT_SLICE
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MIRRORING_MANAGER = "endpointslicemirroring-controller.k8s.io"  # kube's mirroring controller


def host_service_label(service: str, namespace: str, vcluster: str) -> str:
    """The host Service's name, `SafeConcatName(<svc>, x, <vns>, x, <vc>)`. vCluster joins the
    parts without shortening (spec open question 8), which for a host name over 63 characters is
    a label value the host refuses, so such a slice could never be synced."""
    return names.host_name(service, namespace, vcluster)


def translate_endpoints_list(eps: Any, ctx: SyncContext, namespace: str) -> Any:
    """Endpoints pointing at virtual pods point at their host pods (uid/resourceVersion cleared)."""
    out = json_copy(eps)
    for ep in out or []:
        ref = ep.get("targetRef")
        if ref and ref.get("kind") == "Pod":
            ref["name"] = ctx.host_name(ref.get("name", ""), ref.get("namespace") or namespace)
            ref["namespace"] = ctx.host_namespace
            ref.pop("uid", None)
            ref.pop("resourceVersion", None)
    return out


def _endpoints_to_host(eps: Any, env: FieldEnv) -> Any:
    return translate_endpoints_list(eps, env.ctx, metadata.meta(env.virtual).get("namespace", ""))


FIELDS = FieldDirections(
    to_host=(Field("endpoints", to_host=_endpoints_to_host), "ports", "addressType"),
    excluded_labels=(SERVICE_NAME_LABEL,),
)


def _set_service_label(host: dict[str, Any], virtual: Mapping[str, Any], ctx: SyncContext) -> None:
    vm = metadata.meta(virtual)
    svc = (vm.get("labels") or {}).get(SERVICE_NAME_LABEL)
    labels = host["metadata"].setdefault("labels", {})
    if svc:
        labels[SERVICE_NAME_LABEL] = host_service_label(svc, vm.get("namespace", ""), ctx.vcluster)
    else:
        labels.pop(SERVICE_NAME_LABEL, None)


def translate_endpoint_slice(vslice: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host EndpointSlice of a selector-less virtual Service."""
    host = generic.to_host(vslice, ctx, KIND, FIELDS)
    host["endpoints"] = translate_endpoints_list(
        host.get("endpoints"), ctx, metadata.meta(vslice).get("namespace", "")
    )
    if host["endpoints"] is None:
        host.pop("endpoints")
    _set_service_label(host, vslice, ctx)
    return Translation(host)


def sync_endpoint_slice(
    vslice: Mapping[str, Any],
    hslice: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Endpoints/ports virtual→host; labels/annotations both ways (service-name label recomputed)."""
    return generic.sync(
        vslice, hslice, virtual_old, host_old, ctx, KIND, FIELDS, lambda v, h: _set_service_label(h, v, ctx)
    )
