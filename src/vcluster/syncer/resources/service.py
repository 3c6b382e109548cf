"""Services (§5.1): host-allocated ClusterIPs, translated selectors, two-way spec fields, status back-sync."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vcluster.apiserver import bootstrap
from vcluster.controllers.base import parse_time
from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy, semantic_equal
from vcluster.syncer.result import SyncResult, Translation
from vcluster.syncer.selectors import host_service_selector, virtual_service_selector

KIND = kinds.SERVICE
EXTERNAL_NAME = "ExternalName"
LOAD_BALANCER = "LoadBalancer"


def _selector_to_host(selector: Any, env: FieldEnv) -> Any:
    ns = metadata.meta(env.virtual).get("namespace", "")
    return host_service_selector(selector, env.ctx.vcluster, ns)


def _selector_merge(v_old: Any, v: Any, h_old: Any, h: Any, env: FieldEnv) -> tuple[Any, Any]:
    """Pushed virtual→host, unless only the host selector changed (then translated back)."""
    if semantic_equal(v_old, v) and not semantic_equal(h_old, h):
        return virtual_service_selector(h, env.ctx.vcluster), h
    return v, _selector_to_host(v, env)


def _status_to_virtual(status: Any, env: FieldEnv) -> Any:
    """Host status (conditions included); its LB ingress blanked for non-LoadBalancer services."""
    if (env.virtual.get("spec") or {}).get("type") != LOAD_BALANCER:
        return {**(status or {}), "loadBalancer": {}}
    return status


FIELDS = FieldDirections(
    # Not synced by vCluster after the create (its update copies only the two-way fields of §6.3),
    # so an edit of them never took effect where the Service runs; pushed like the selector.
    to_host=(
        "spec.internalTrafficPolicy",
        "spec.trafficDistribution",
        "spec.allocateLoadBalancerNodePorts",
        "spec.loadBalancerClass",
    ),
    from_host=(Field("status", to_virtual=_status_to_virtual),),
    both=(
        Field("spec.selector", merge=_selector_merge),
        "spec.type",
        "spec.externalIPs",
        "spec.externalName",
        "spec.loadBalancerIP",
        "spec.ports",
        "spec.publishNotReadyAddresses",
        "spec.externalTrafficPolicy",
        "spec.sessionAffinity",
        "spec.sessionAffinityConfig",
        "spec.loadBalancerSourceRanges",
        "spec.healthCheckNodePort",
        "metadata.labels",
        "metadata.annotations",
    ),
    excluded_annotations=("field.cattle.io/publicEndpoints",),
)


def _strip_allocations(spec: dict[str, Any]) -> None:
    """What the host allocates for a host Service made for an existing virtual one (§5.1)."""
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
    for key in ("clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        spec.pop(key, None)
    for port in spec.get("ports") or []:
        port.pop("nodePort", None)


def translate_service(
    vsvc: Mapping[str, Any], ctx: SyncContext, *, keep_requested: bool = False
) -> Translation:
    """Controller create path: the host allocates IPs and node ports afresh (unless
    `keep_requested`: what the create asks for goes to the host as asked); selector translated."""
    host = generic.to_host(vsvc, ctx, KIND, FIELDS)
    spec = host.setdefault("spec", {})
    if not keep_requested:
        _strip_allocations(spec)
    ns = metadata.meta(vsvc).get("namespace", "")
    selector = host_service_selector(spec.get("selector"), ctx.vcluster, ns)
    if selector is None:
        spec.pop("selector", None)
    else:
        spec["selector"] = selector
    return Translation(host)


def translate_service_for_proxy(vsvc: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """API-proxy create path: the host Service created first, marked `block-deletion`.

    What the create asks for — `clusterIP(s)`, `ipFamilies`, `ipFamilyPolicy`, `nodePort`s — goes
    to the host as vCluster's proxy sends it (it only rewrites metadata and the selector), so the
    host's allocator grants it or refuses with its own 422 ("provided IP is already allocated",
    `"IPv6": not configured on this cluster`), as a create on any cluster does, and the virtual
    Service keeps the policy it asked for (`PreferDualStack` on a single-stack host); the
    controller path (a host Service recreated for an existing virtual one) lets the host
    allocate afresh (§5.1)."""
    t = translate_service(vsvc, ctx, keep_requested=True)
    t.obj["metadata"]["annotations"][c.BLOCK_DELETION_ANNOTATION] = "true"
    return t


# vCluster's SyncToVirtual: a host Service the API interception created (`block-deletion`) waits
# this long for its virtual Service, looked at again every BLOCK_DELETION_RECHECK seconds; later
# it is an ordinary host Service without virtual counterpart (the virtual create failed and the
# interception could not take the host Service back, e.g. the process died in between).
BLOCK_DELETION_WINDOW = 120.0
BLOCK_DELETION_RECHECK = 10.0


def block_deletion_wait(hsvc: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds to wait before deciding about host Service `hsvc` that has no virtual Service, or
    None to decide now (no `block-deletion`, or created BLOCK_DELETION_WINDOW or more ago)."""
    if metadata.annotations_of(hsvc).get(c.BLOCK_DELETION_ANNOTATION) != "true":
        return None
    created = parse_time(metadata.meta(hsvc).get("creationTimestamp"))
    age = 0.0 if created is None else (now - created).total_seconds()
    if age >= BLOCK_DELETION_WINDOW:
        return None
    return min(BLOCK_DELETION_RECHECK, BLOCK_DELETION_WINDOW - max(age, 0.0))


_HOST_ALLOCATED = ("clusterIP", "clusterIPs", "ports", "healthCheckNodePort", "ipFamilies", "ipFamilyPolicy")


def take_host_allocations(spec: dict[str, Any], hsvc: Mapping[str, Any]) -> None:
    """Copy what the host allocated (clusterIP(s), IP families, ports with their nodePorts,
    healthCheckNodePort) into virtual spec `spec`."""
    hspec = hsvc.get("spec") or {}
    for key in _HOST_ALLOCATED:
        if hspec.get(key) is not None:
            spec[key] = json_copy(hspec[key])


def virtual_from_host_create(vsvc: Mapping[str, Any], hsvc: Mapping[str, Any]) -> dict[str, Any]:
    """The virtual create body carrying the host's clusterIP(s), ports, healthCheckNodePort and status."""
    out = json_copy(dict(vsvc))
    take_host_allocations(out.setdefault("spec", {}), hsvc)
    if hsvc.get("status") is not None:
        out["status"] = json_copy(hsvc["status"])
    return out


def intercepts_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """vCluster's API proxy takes over an update (PUT) that moves a Service away from ExternalName
    without asking for a clusterIP (pkg/server/filters/service.go): the host Service switches first
    and the virtual one is stored with the host's ClusterIP (same UID)."""
    return (
        service_type(old) == EXTERNAL_NAME
        and service_type(new) != EXTERNAL_NAME
        and not (new.get("spec") or {}).get("clusterIP")
    )


def type_switch_undo_patch(host_before: Mapping[str, Any]) -> dict[str, Any]:
    """The host patch that takes back an intercepted switch whose virtual update failed: the host
    Service's type, externalName, ports and selector as they were (the host releases what it
    allocated, as for any switch to ExternalName)."""
    spec = host_before.get("spec") or {}
    return {
        "spec": {
            "type": service_type(host_before),
            "externalName": spec.get("externalName"),
            "ports": json_copy(spec["ports"]) if spec.get("ports") else None,
            "selector": json_copy(spec["selector"]) if spec.get("selector") else None,
        }
    }


def type_switch_host_patch(
    vsvc_new: Mapping[str, Any], ctx: SyncContext, *, keep_node_ports: bool = False
) -> dict[str, Any]:
    """An ExternalName Service switched to another type: the host patch (the host allocates the IP;
    the nodePorts the virtual Service asks for are kept only for the API interception, which sends
    them as vCluster's proxy does)."""
    spec = vsvc_new.get("spec") or {}
    ports = [
        {k: v for k, v in p.items() if keep_node_ports or k != "nodePort"} for p in spec.get("ports") or []
    ]
    ns = metadata.meta(vsvc_new).get("namespace", "")
    return {
        "spec": {
            "type": spec.get("type") or "ClusterIP",
            "ports": ports,
            "externalName": None,
            "clusterIP": "",
            "selector": host_service_selector(spec.get("selector"), ctx.vcluster, ns),
        }
    }


def _cluster_ip(svc: Mapping[str, Any]) -> str:
    return (svc.get("spec") or {}).get("clusterIP") or ""


def service_type(svc: Mapping[str, Any] | None) -> str:
    """spec.type, ClusterIP when unset."""
    return ((svc or {}).get("spec") or {}).get("type") or "ClusterIP"


def switched_from_external_name(
    vsvc: Mapping[str, Any],
    hsvc: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
) -> bool:
    """The virtual Service left ExternalName while the host one still is (vCluster intercepts this
    `update` in its API proxy; a PATCH, or an update while the syncer was away, reaches the syncer).
    Not when only the host side became ExternalName since the last sync: that type comes back."""
    if service_type(hsvc) != EXTERNAL_NAME or service_type(vsvc) == EXTERNAL_NAME:
        return False
    virtual_same = virtual_old is not None and service_type(virtual_old) == service_type(vsvc)
    host_changed = host_old is not None and service_type(host_old) != EXTERNAL_NAME
    return not (virtual_same and host_changed)


def _with_type_switch(res: SyncResult, vsvc: Mapping[str, Any], ctx: SyncContext) -> SyncResult:
    """The sync's host patch plus the switch away from ExternalName (the host allocates the
    ClusterIP); the next reconcile recreates the virtual Service with it, as for any ClusterIP
    difference (§5.1)."""
    switch = type_switch_host_patch(vsvc, ctx)["spec"]
    patch = dict(res.host_patch or {})
    patch["spec"] = {**(patch.get("spec") or {}), **switch}
    res.host_patch = patch
    spec = dict(res.host.get("spec") or {})  # the sync's result may share it with the informer's copy
    res.host = {**res.host, "spec": spec}
    for key, value in switch.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = json_copy(value)
    res.requeue_after = 1.0
    return res


# vCluster's Sync leaves a Service alone while its API proxy is between the host switch and the
# virtual update (isSwitchingFromExternalName), looking again after this many seconds; here only
# while an intercepted update is in flight, at most SWITCH_WINDOW seconds (see SwitchesInFlight).
SWITCH_RECHECK = 3.0
SWITCH_WINDOW = 10.0


def switching_from_external_name(vsvc: Mapping[str, Any], hsvc: Mapping[str, Any]) -> bool:
    """The host Service has left ExternalName (with a ClusterIP) while the virtual one still is."""
    return (
        service_type(vsvc) == EXTERNAL_NAME
        and service_type(hsvc) != EXTERNAL_NAME
        and bool(_cluster_ip(hsvc))
    )


class SwitchesInFlight:
    """Virtual Services (namespace, name) whose intercepted update has switched the host Service and
    is being stored; each for at most SWITCH_WINDOW seconds (times are `time.monotonic()`)."""

    def __init__(self) -> None:
        self._until: dict[tuple[str, str], float] = {}

    def begin(self, key: tuple[str, str], now: float) -> None:
        self._until[key] = now + SWITCH_WINDOW

    def end(self, key: tuple[str, str]) -> None:
        self._until.pop(key, None)

    def active(self, key: tuple[str, str], now: float) -> bool:
        until = self._until.get(key)
        if until is not None and until <= now:
            self.end(key)
            return False
        return until is not None


def needs_recreate(vsvc: Mapping[str, Any], hsvc: Mapping[str, Any]) -> bool:
    """The virtual service must be recreated with the host's ClusterIP (§5.1)."""
    vtype = (vsvc.get("spec") or {}).get("type") or "ClusterIP"
    htype = (hsvc.get("spec") or {}).get("type") or "ClusterIP"
    if EXTERNAL_NAME in (vtype, htype):
        return False
    return bool(_cluster_ip(hsvc)) and _cluster_ip(vsvc) != _cluster_ip(hsvc)


def recreated_virtual(vsvc: Mapping[str, Any], hsvc: Mapping[str, Any]) -> dict[str, Any]:
    """Body of the virtual Service recreated with the host's allocation (server fields reset)."""
    out = json_copy(dict(vsvc))
    out["metadata"] = {
        k: v
        for k, v in metadata.meta(vsvc).items()
        if k not in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink")
    }
    out.pop("status", None)
    return virtual_from_host_create(out, hsvc)


def sync_service(
    vsvc: Mapping[str, Any],
    hsvc: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Both exist: a switch away from ExternalName first (the host allocates), then ClusterIP parity
    (recreate virtual), then the field directions."""
    if needs_recreate(vsvc, hsvc):
        name = metadata.meta(vsvc).get("name")
        return SyncResult(
            dict(vsvc),
            dict(hsvc),
            recreate_virtual=True,
            requeue_after=1.0,
            extra={
                "body": recreated_virtual(vsvc, hsvc),
                "reason": f"recreating virtual service {metadata.meta(vsvc).get('namespace')}/{name}, "
                "because cluster ip differs",
            },
        )

    def post(new_v: dict[str, Any], new_h: dict[str, Any]) -> None:
        new_h["metadata"]["annotations"].pop(c.BLOCK_DELETION_ANNOTATION, None)

    res = generic.sync(vsvc, hsvc, virtual_old, host_old, ctx, KIND, FIELDS, post)
    if switched_from_external_name(vsvc, hsvc, virtual_old, host_old):
        return _with_type_switch(res, vsvc, ctx)
    return res


# ---------------------------------------------------------------- default/kubernetes (§5.1)


def kubernetes_service_spec(host_vc_service: Mapping[str, Any]) -> dict[str, Any]:
    """Spec fields of virtual `default/kubernetes` mirrored from the host vCluster Service."""
    hspec = host_vc_service.get("spec") or {}
    out: dict[str, Any] = {}
    for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        if hspec.get(key) is not None:
            out[key] = json_copy(hspec[key])
    ports = []
    for p in hspec.get("ports") or []:
        if p.get("name") == "kubelet":
            continue
        port = json_copy(p)
        port.pop("nodePort", None)
        ports.append(port)
    out["ports"] = ports
    return out


def kubernetes_service(host_vc_service: Mapping[str, Any]) -> dict[str, Any]:
    """Virtual `default/kubernetes` made anew after someone deleted it (kube-apiserver's bootstrap
    controller recreates it; here directly with the host Service's ClusterIP)."""
    return bootstrap.kubernetes_service(kubernetes_service_spec(host_vc_service))


def kubernetes_service_update(
    virtual_kubernetes: Mapping[str, Any], host_vc_service: Mapping[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """("recreate", body) on a ClusterIP change, ("patch", patch) when others differ, else ("", None)."""
    want = kubernetes_service_spec(host_vc_service)
    vspec = virtual_kubernetes.get("spec") or {}
    if want.get("clusterIP") and vspec.get("clusterIP") != want.get("clusterIP"):
        body = json_copy(dict(virtual_kubernetes))
        body["metadata"] = {
            k: v for k, v in metadata.meta(virtual_kubernetes).items() if k not in ("uid", "resourceVersion")
        }
        body["spec"] = {**(body.get("spec") or {}), **want}
        body.pop("status", None)
        return "recreate", body
    patch = {k: v for k, v in want.items() if not semantic_equal(vspec.get(k), v)}
    return ("patch", {"spec": patch}) if patch else ("", None)
