"""Endpoints (§5.2): synced only for selector-less Services; pod targetRefs translated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy, semantic_equal
from vcluster.syncer.result import Delete, SyncResult, Translation

KIND = kinds.ENDPOINTS
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"


def translate_subsets(subsets: Any, ctx: SyncContext, namespace: str = "") -> Any:
    """Addresses pointing at virtual pods point at their host pods (uid/resourceVersion cleared)."""
    out = json_copy(subsets)
    for subset in out or []:
        for field in ("addresses", "notReadyAddresses"):
            for addr in subset.get(field) or []:
                ref = addr.get("targetRef")
                if ref and ref.get("kind") == "Pod":
                    ref["name"] = ctx.host_name(ref.get("name", ""), ref.get("namespace") or namespace)
                    ref["namespace"] = ctx.host_namespace
                    ref.pop("uid", None)
                    ref.pop("resourceVersion", None)
    return out


def _subsets_to_host(subsets: Any, env: FieldEnv) -> Any:
    return translate_subsets(subsets, env.ctx, metadata.meta(env.virtual).get("namespace", ""))


FIELDS = FieldDirections(
    to_host=(Field("subsets", to_host=_subsets_to_host),),
    excluded_annotations=("control-plane.alpha.kubernetes.io/leader",),
)


def should_sync(service: Mapping[str, Any] | None) -> bool:
    """Only user-managed endpoints (the virtual Service exists and has no selector) are synced."""
    return service is not None and not (service.get("spec") or {}).get("selector")


def translate_endpoints(vep: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host Endpoints for a selector-less virtual Service."""
    host = generic.to_host(vep, ctx, KIND, FIELDS)
    if "subsets" in host:
        host["subsets"] = translate_subsets(host["subsets"], ctx, metadata.meta(vep).get("namespace", ""))
    return Translation(host)


def sync_endpoints(
    vep: Mapping[str, Any],
    hep: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Subsets virtual→host; labels/annotations both ways."""
    return generic.sync(vep, hep, virtual_old, host_old, ctx, KIND, FIELDS)


def is_vcluster_copy(hep: Mapping[str, Any]) -> bool:
    """Written by the syncer (it carries `object-name`); other host Endpoints are the host controller's."""
    return bool(metadata.annotations_of(hep).get(c.NAME_ANNOTATION))


def host_endpoints_decision(
    service: Mapping[str, Any] | None, hep: Mapping[str, Any] | None
) -> Delete | None:
    """Delete a host Endpoints object that is not ours to keep (§5.2).

    With a selector the host controller owns the endpoints, so a vCluster-written copy goes; without
    one a host-controller copy (no `object-name`) goes so that ours can replace it.
    """
    if hep is None:
        return None
    ours = is_vcluster_copy(hep)
    if service is not None and (service.get("spec") or {}).get("selector") and ours:
        return Delete("host", "service has a selector, host endpoints are managed by the host")
    if should_sync(service) and not ours:
        return Delete("host", "service has no selector, replacing host-managed endpoints")
    return None


def kubernetes_endpoints(host_vc_endpoints: Mapping[str, Any]) -> dict[str, Any]:
    """Virtual `default/kubernetes` Endpoints: the host vCluster endpoints, `https` port only."""
    subsets = []
    for s in host_vc_endpoints.get("subsets") or []:
        ports = [json_copy(p) for p in s.get("ports") or [] if p.get("name") == "https"]
        if not ports:
            continue
        subset: dict[str, Any] = {"ports": ports}
        for field in ("addresses", "notReadyAddresses"):
            addrs = [
                {k: v for k, v in a.items() if k not in ("hostname", "nodeName", "targetRef")}
                for a in s.get(field) or []
            ]
            if addrs:
                subset[field] = addrs
        subsets.append(subset)
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {SKIP_MIRROR_LABEL: "true"}},
    }
    if subsets:
        out["subsets"] = subsets
    return out


def api_server_endpoints(address: str, port: int) -> dict[str, Any]:
    """Endpoints shaped like the host's, naming the virtual API server itself: what default/kubernetes
    mirrors while the host Service `<vc>` has none (the virtual cluster runs outside the host, so its
    Service selects no pod), as kube-apiserver's own endpoint reconciler would write them."""
    subset = {"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
    return {"subsets": [subset]}


def kubernetes_endpoints_patch(
    virtual: Mapping[str, Any] | None, want: Mapping[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """("create", body) / ("patch", merge patch) / ("", None): virtual `default/kubernetes` Endpoints
    made equal to `want` (kubernetes_endpoints of the host's; labels other than skip-mirror are left
    alone)."""
    if virtual is None:
        return "create", dict(want)
    patch: dict[str, Any] = {}
    if metadata.labels_of(virtual).get(SKIP_MIRROR_LABEL) != "true":
        patch["metadata"] = {"labels": {SKIP_MIRROR_LABEL: "true"}}
    if not semantic_equal(virtual.get("subsets") or [], want.get("subsets") or []):
        patch["subsets"] = want.get("subsets") or []
    return ("patch", patch) if patch else ("", None)


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _all_ipv6(addresses: list[Mapping[str, Any]]) -> bool:
    return bool(addresses) and all(":" in str(a.get("ip", "")) for a in addresses)


def kubernetes_endpoint_slice(want_endpoints: Mapping[str, Any]) -> dict[str, Any]:
    """Virtual `default/kubernetes` EndpointSlice made from its Endpoints, as kube-apiserver's
    endpointSliceFromEndpoints does (first subset; ready and not-ready addresses of its family)."""
    out: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {SERVICE_NAME_LABEL: "kubernetes"},
        },
        "addressType": "IPv4",
        "endpoints": [],
    }
    subsets = want_endpoints.get("subsets") or []
    if not subsets:
        return out
    subset = subsets[0]
    out["ports"] = [
        {"name": p.get("name", ""), "port": p.get("port"), "protocol": p.get("protocol", "TCP")}
        for p in subset.get("ports") or []
    ]
    ready, not_ready = subset.get("addresses") or [], subset.get("notReadyAddresses") or []
    ipv6 = _all_ipv6([*ready, *not_ready])
    if ipv6:
        out["addressType"] = "IPv6"
    for addrs, is_ready in ((ready, True), (not_ready, False)):
        for a in addrs:
            if (":" in str(a.get("ip", ""))) != ipv6:
                continue
            ep: dict[str, Any] = {"addresses": [a.get("ip", "")], "conditions": {"ready": is_ready}}
            for src, dst in (("targetRef", "targetRef"), ("nodeName", "nodeName")):
                if a.get(src):
                    ep[dst] = json_copy(a[src])
            out["endpoints"].append(ep)
    return out


def kubernetes_endpoint_slice_patch(
    virtual: Mapping[str, Any] | None, want_endpoints: Mapping[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """("create", body) / ("recreate", body) / ("patch", merge patch) / ("", None): the virtual
    `default/kubernetes` EndpointSlice made to match its Endpoints (other labels are left alone;
    "recreate" when the address type, which is immutable, changes)."""
    want = kubernetes_endpoint_slice(want_endpoints)
    if virtual is None:
        return "create", want
    if virtual.get("addressType") != want["addressType"]:
        return "recreate", want
    patch: dict[str, Any] = {}
    if metadata.labels_of(virtual).get(SERVICE_NAME_LABEL) != "kubernetes":
        patch["metadata"] = {"labels": {SERVICE_NAME_LABEL: "kubernetes"}}
    for field in ("endpoints", "ports"):
        if not semantic_equal(virtual.get(field) or [], want.get(field) or []):
            patch[field] = want.get(field) or []
    return ("patch", patch) if patch else ("", None)
