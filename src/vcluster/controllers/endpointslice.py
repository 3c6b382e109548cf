"""EndpointSliceController (kube-controller-manager `endpointslice`): discovery.k8s.io/v1
EndpointSlices for every Service with a selector.

Slices are named `<svc>-<5 random>` (generateName), labelled `kubernetes.io/service-name` and
`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io` plus the service's
labels, owned by the Service (controller ownerReference, so the garbage collector removes them
with it) and hold at most `max_endpoints_per_slice` (100) endpoints with the ready/serving/
terminating conditions. Pods with the same resolved ports share slices; a Service without
endpoints keeps one empty placeholder slice. The reconcile follows kube's reconciler: keep
unchanged slices, update changed ones in place, fill up before creating, turn create+delete pairs
into updates, and never create while the Service is being deleted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vcluster.client import RetryLater
from vcluster.controllers.base import (
    EVENT_WARNING,
    BaseController,
    annotations_of,
    clone,
    fmt_time,
    is_deleting,
    key_of,
    labels_of,
    meta,
    name_of,
    namespace_of,
    pod_is_ready,
    split_key,
    uid_of,
)
from vcluster.controllers.endpoints import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    TriggerTimeTracker,
    find_port,
    is_service_ip_set,
    pod_ips,
    selector_matches,
    service_selector,
    services_for_pod,
    services_to_sync,
    should_pod_be_in_endpoints,
    should_set_hostname,
)
from vcluster.controllers.serviceaccount import has_terminating_cause

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

API_VERSION = "discovery.k8s.io/v1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100

PortKey = tuple[tuple[Any, ...], ...]
EndpointKey = tuple[Any, ...]


class StaleInformerCache(Exception):
    """The EndpointSlice cache is older than what this controller last wrote: retry later."""


def address_types_for_service(svc: Mapping[str, Any]) -> list[str]:
    """getAddressTypesForService."""
    spec = svc.get("spec") or {}
    out = []
    for fam in spec.get("ipFamilies") or []:
        if fam in ("IPv4", "IPv6") and fam not in out:
            out.append(fam)
    if out:
        return out
    cip = spec.get("clusterIP")
    if cip and cip != "None":
        try:
            return ["IPv6" if ipaddress.ip_address(cip).version == 6 else "IPv4"]
        except ValueError:
            return ["IPv4"]
    return ["IPv4", "IPv6"]


def _family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return ""


def endpoint_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """getEndpointPorts: the service ports resolved against the pod (name is always present)."""
    spec = svc.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    out: list[dict[str, Any]] = []
    if not ports and spec.get("clusterIP") == "None":
        return out
    for sp in ports:
        num = find_port(pod, sp)
        if num is None:
            continue
        ep: dict[str, Any] = {
            "name": sp.get("name") or "",
            "port": num,
            "protocol": sp.get("protocol") or "TCP",
        }
        if sp.get("appProtocol") is not None:
            ep["appProtocol"] = sp["appProtocol"]
        out.append(ep)
    return out


def port_key(ports: Iterable[Mapping[str, Any]]) -> PortKey:
    return tuple(
        sorted(
            (p.get("name") or "", p.get("port") or 0, p.get("protocol") or "", p.get("appProtocol") or "")
            for p in ports
        )
    )


def endpoint_key(ep: Mapping[str, Any]) -> EndpointKey:
    """The identity of an endpoint in an EndpointSet: addresses, hostname and the target's name."""
    ref = ep.get("targetRef") or {}
    return (
        tuple(sorted(ep.get("addresses") or [])),
        ep.get("hostname") or "",
        ref.get("namespace", ""),
        ref.get("name", ""),
    )


def _norm_endpoint(ep: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(ep)
    if isinstance(out.get("targetRef"), dict):
        out["targetRef"] = {k: v for k, v in out["targetRef"].items() if k != "resourceVersion"}
    return out


def pod_to_endpoint(
    pod: Mapping[str, Any], node: Mapping[str, Any] | None, svc: Mapping[str, Any], address_type: str
) -> dict[str, Any]:
    """podToEndpoint."""
    spec = pod.get("spec") or {}
    serving = pod_is_ready(pod)
    terminating = is_deleting(pod)
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    ep: dict[str, Any] = {
        "addresses": [ip for ip in pod_ips(pod) if _family(ip) == address_type],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, svc):
        ep["hostname"] = spec.get("hostname")
    ep["targetRef"] = {
        "kind": "Pod",
        "namespace": namespace_of(pod),
        "name": name_of(pod),
        "uid": uid_of(pod),
    }
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    zone = labels_of(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        ep["zone"] = zone
    return ep


def slice_labels(
    slice_: Mapping[str, Any] | None, svc: Mapping[str, Any], controller: str
) -> tuple[dict[str, str], bool]:
    """setEndpointSliceLabels: the service's labels plus the reserved ones; `changed` tells whether
    the slice's non-reserved labels differ from the service's."""
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
    ep_labels = {k: v for k, v in (labels_of(slice_) if slice_ else {}).items() if k not in reserved}
    svc_labels = {k: v for k, v in labels_of(svc).items() if k not in reserved}
    changed = any(svc_labels.get(k) != v for k, v in ep_labels.items())
    if not is_service_ip_set(svc):
        svc_labels[HEADLESS_LABEL] = ""
    svc_labels[SERVICE_NAME_LABEL] = name_of(svc)
    svc_labels[MANAGED_BY_LABEL] = controller
    return svc_labels, changed


def owned_by(slice_: Mapping[str, Any], svc: Mapping[str, Any]) -> bool:
    return any(
        o.get("uid") == uid_of(svc) and o.get("kind") == "Service" and o.get("apiVersion") == "v1"
        for o in meta(slice_).get("ownerReferences") or []
    )


def slice_prefix(service_name: str) -> str:
    prefix = f"{service_name}-"
    # generateName must leave room for the 5 random characters of a DNS subdomain name
    return prefix if len(prefix) <= 58 else "endpointslice-"


class EndpointSliceController(BaseController):
    """Keeps the EndpointSlices of each selector Service in sync with its pods."""

    name = "endpointslice"
    component = "endpoint-slice-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.max_endpoints = max_endpoints_per_slice
        self.controller_name = CONTROLLER_NAME
        self.services = informers.informer("v1", "services")
        self.pods = informers.informer("v1", "pods")
        self.nodes = informers.informer("v1", "nodes")
        self.slices = informers.informer(API_VERSION, "endpointslices")
        self.trigger_times = TriggerTimeTracker()
        # slice key -> resourceVersion this controller wrote (None: deleted by it)
        self._written: dict[str, str | None] = {}
        self.services.add_handler(self._on_service)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        self.slices.add_handler(self._on_slice)

    # ------------------------------------------------------------------ handlers
    def _on_service(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.queue.add(key_of(obj))

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for k in services_to_sync(self.services, event, obj, old):
            self.queue.add(k)

    def _on_node(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if (
            event == "update"
            and old is not None
            and labels_of(old).get(ZONE_LABEL) == labels_of(obj).get(ZONE_LABEL)
        ):
            return
        node = name_of(obj)
        keys: set[str] = set()
        for pod in self.pods.list():
            if (pod.get("spec") or {}).get("nodeName") == node:
                keys |= services_for_pod(self.services, pod)
        for k in keys:
            self.queue.add(k)

    def _on_slice(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        labels = labels_of(obj)
        if labels.get(MANAGED_BY_LABEL) != self.controller_name and not (
            old is not None and labels_of(old).get(MANAGED_BY_LABEL) == self.controller_name
        ):
            return
        key = key_of(obj)
        if event == "delete":
            if key in self._written and self._written.pop(key) is None:
                return  # our own delete coming back
        elif self._written.get(key) == meta(obj).get("resourceVersion"):
            return  # our own write coming back
        svc = labels.get(SERVICE_NAME_LABEL)
        if svc:
            self.queue.add(f"{namespace_of(obj)}/{svc}")
        if old is not None:
            old_svc = labels_of(old).get(SERVICE_NAME_LABEL)
            if old_svc and old_svc != svc:
                self.queue.add(f"{namespace_of(obj)}/{old_svc}")

    async def run(self, workers: int = 2) -> None:
        for inf in (self.services, self.pods, self.nodes, self.slices):
            await inf.wait_synced()
        await super().run(workers)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        assert ns is not None
        svc = self.services.get(name, ns)
        if svc is None:
            self.trigger_times.delete(key)
            return
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        sel = service_selector(svc)
        if sel is None:
            return
        pods = [p for p in self.pods.list(ns) if selector_matches(sel, labels_of(p))]
        slices = [
            s
            for s in self.slices.list(ns)
            if labels_of(s).get(SERVICE_NAME_LABEL) == name
            and labels_of(s).get(MANAGED_BY_LABEL) == self.controller_name
            and not is_deleting(s)
        ]
        self._check_stale(ns, slices)
        trigger = self.trigger_times.compute(svc, pods)
        try:
            await self.reconcile(svc, pods, slices, trigger)
        except Exception as e:
            self.recorder.event(
                svc,
                EVENT_WARNING,
                "FailedToUpdateEndpointSlices",
                f"Error updating Endpoint Slices for Service {ns}/{name}: {e}",
                kind="Service",
                api_version="v1",
            )
            raise

    def _check_stale(self, ns: str, slices: list[dict[str, Any]]) -> None:
        cached = {key_of(s): s for s in slices}
        for skey, rv in list(self._written.items()):
            if not skey.startswith(ns + "/"):
                continue
            cur = cached.get(skey)
            if rv is None:
                if cur is not None:
                    raise StaleInformerCache("EndpointSlice informer cache is out of date")
                continue
            if cur is None:
                continue
            cur_rv = meta(cur).get("resourceVersion") or ""
            if cur_rv.isdigit() and rv.isdigit() and int(cur_rv) < int(rv):
                raise StaleInformerCache("EndpointSlice informer cache is out of date")

    async def reconcile(
        self,
        svc: dict[str, Any],
        pods: list[dict[str, Any]],
        existing: list[dict[str, Any]],
        trigger: datetime | None,
    ) -> None:
        """Reconciler.Reconcile: per address type, then delete slices of unsupported types."""
        types = address_types_for_service(svc)
        by_type: dict[str, list[dict[str, Any]]] = {}
        to_delete: list[dict[str, Any]] = []
        for s in existing:
            if s.get("addressType") not in types:
                to_delete.append(s)
            else:
                by_type.setdefault(s["addressType"], []).append(s)
        errors: list[Exception] = []
        for at in types:
            try:
                await self._reconcile_type(svc, pods, by_type.get(at, []), trigger, at)
            except Exception as e:
                errors.append(e)
        for s in to_delete:
            try:
                await self._delete(s)
            except Exception as e:
                errors.append(e)
        if errors:
            raise errors[0]

    async def _reconcile_type(
        self,
        svc: dict[str, Any],
        pods: list[dict[str, Any]],
        existing: list[dict[str, Any]],
        trigger: datetime | None,
        address_type: str,
    ) -> None:
        ns = namespace_of(svc)
        to_create: list[dict[str, Any]] = []
        to_update: list[dict[str, Any]] = []
        to_delete: list[dict[str, Any]] = []
        existing_by_ports: dict[PortKey, list[dict[str, Any]]] = {}
        for s in existing:
            if owned_by(s, svc):
                existing_by_ports.setdefault(port_key(s.get("ports") or []), []).append(s)
            else:
                to_delete.append(s)
        desired: dict[PortKey, dict[EndpointKey, dict[str, Any]]] = {}
        desired_ports: dict[PortKey, list[dict[str, Any]]] = {}
        publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
        missing_nodes: list[str] = []
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, True):
                continue
            ports = endpoint_ports(svc, pod)
            pk = port_key(ports)
            desired.setdefault(pk, {})
            desired_ports.setdefault(pk, ports)
            node_name = (pod.get("spec") or {}).get("nodeName") or ""
            node = self.nodes.get(node_name) if node_name else None
            if node is None and not publish:
                missing_nodes.append(
                    f"skipping Pod {name_of(pod)} for Service {ns}/{name_of(svc)}: Node {node_name} Not Found"
                )
                continue
            ep = pod_to_endpoint(pod, node, svc, address_type)
            if ep["addresses"]:
                desired[pk][endpoint_key(ep)] = ep
        for pk, eps in desired.items():
            c, u, d = self._reconcile_ports(
                svc, existing_by_ports.get(pk, []), eps, desired_ports[pk], address_type
            )
            to_create += c
            to_update += u
            to_delete += d
        for pk, slices in existing_by_ports.items():
            if pk not in desired:
                to_delete += slices
        if len(existing) == len(to_delete) and not to_create:
            placeholder = self._new_slice(svc, [], address_type)
            if len(to_delete) == 1 and self._is_placeholder(to_delete[0], placeholder):
                to_delete = []
            else:
                to_create.append(placeholder)
        await self._finalize(svc, to_create, to_update, to_delete, trigger)
        if missing_nodes:
            raise RetryLater(missing_nodes[0])

    def _reconcile_ports(
        self,
        svc: dict[str, Any],
        existing: list[dict[str, Any]],
        desired: dict[EndpointKey, dict[str, Any]],
        ports: list[dict[str, Any]],
        address_type: str,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """reconcileByPortMapping."""
        desired = dict(desired)
        by_name: dict[str, dict[str, Any]] = {}
        unchanged: list[str] = []
        to_update: list[str] = []
        to_delete: list[str] = []
        for s in existing:
            sname = name_of(s)
            by_name[sname] = s
            new_eps: list[dict[str, Any]] = []
            updated = False
            for ep in s.get("endpoints") or []:
                want = desired.pop(endpoint_key(ep), None)
                if want is not None:
                    new_eps.append(want)
                    if want != _norm_endpoint(ep):
                        updated = True
            labels, labels_changed = slice_labels(s, svc, self.controller_name)
            if updated or len(s.get("endpoints") or []) != len(new_eps):
                if not new_eps:
                    to_delete.append(sname)
                else:
                    cp = clone(s)
                    cp["endpoints"] = new_eps
                    cp["metadata"]["labels"] = labels
                    by_name[sname] = cp
                    to_update.append(sname)
            elif labels_changed or labels != labels_of(s):
                cp = clone(s)
                cp["metadata"]["labels"] = labels
                by_name[sname] = cp
                to_update.append(sname)
            else:
                unchanged.append(sname)
        remaining = [desired[k] for k in sorted(desired)]
        if remaining and to_update:
            for s in sorted((by_name[n] for n in to_update), key=lambda x: -len(x.get("endpoints") or [])):
                while remaining and len(s["endpoints"]) < self.max_endpoints:
                    s["endpoints"].append(remaining.pop(0))
        to_create: list[dict[str, Any]] = []
        while remaining:
            fill: dict[str, Any] | None = None
            if len(remaining) < self.max_endpoints and unchanged:
                fill = self._slice_to_fill([by_name[n] for n in unchanged], len(remaining))
            if fill is None:
                fill = self._new_slice(svc, ports, address_type)
            else:
                fill = clone(fill)
                by_name[name_of(fill)] = fill
            fill.setdefault("endpoints", [])
            if fill["endpoints"] is None:
                fill["endpoints"] = []
            while remaining and len(fill["endpoints"]) < self.max_endpoints:
                fill["endpoints"].append(remaining.pop(0))
            if name_of(fill):
                to_update.append(name_of(fill))
                unchanged.remove(name_of(fill))
            else:
                to_create.append(fill)
        return to_create, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]

    def _slice_to_fill(self, slices: list[dict[str, Any]], n: int) -> dict[str, Any] | None:
        """getSliceToFill: the fullest slice that still has room for `n` endpoints."""
        best: dict[str, Any] | None = None
        for s in sorted(slices, key=lambda x: -len(x.get("endpoints") or [])):
            if self.max_endpoints - len(s.get("endpoints") or []) >= n:
                best = s
                break
        return best

    def _new_slice(
        self, svc: dict[str, Any], ports: list[dict[str, Any]], address_type: str
    ) -> dict[str, Any]:
        labels, _ = slice_labels(None, svc, self.controller_name)
        return {
            "apiVersion": API_VERSION,
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": slice_prefix(name_of(svc)),
                "namespace": namespace_of(svc),
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": name_of(svc),
                        "uid": uid_of(svc),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": address_type,
            "endpoints": [],
            "ports": list(ports),
        }

    @staticmethod
    def _is_placeholder(s: Mapping[str, Any], placeholder: Mapping[str, Any]) -> bool:
        return (
            namespace_of(s) == namespace_of(placeholder)
            and labels_of(s) == labels_of(placeholder)
            and s.get("addressType") == placeholder.get("addressType")
            and not s.get("endpoints")
            and not s.get("ports")
        )

    async def _finalize(
        self,
        svc: dict[str, Any],
        to_create: list[dict[str, Any]],
        to_update: list[dict[str, Any]],
        to_delete: list[dict[str, Any]],
        trigger: datetime | None,
    ) -> None:
        from vcluster.client import ApiError

        ns = namespace_of(svc)
        i = 0
        while i < len(to_delete) and to_create:
            victim = to_delete[i]
            s = to_create[-1]
            if victim.get("addressType") == s.get("addressType") and owned_by(victim, svc):
                s["metadata"]["name"] = name_of(victim)
                s["metadata"]["resourceVersion"] = meta(victim).get("resourceVersion")
                s["metadata"].pop("generateName", None)
                if meta(victim).get("generateName"):
                    s["metadata"]["generateName"] = meta(victim)["generateName"]
                for k in ("uid", "creationTimestamp", "annotations"):
                    if k in meta(victim):
                        s["metadata"][k] = meta(victim)[k]
                to_create.pop()
                to_update.append(s)
                to_delete.pop(i)
            else:
                i += 1
        if not is_deleting(svc):
            for s in to_create:
                _set_trigger(s, trigger)
                _wire_form(s)
                try:
                    created = await self.client.create(API_VERSION, "endpointslices", s, ns)
                except ApiError as e:
                    if has_terminating_cause(e):
                        return
                    raise RuntimeError(
                        f"failed to create EndpointSlice for Service {ns}/{name_of(svc)}: {e}"
                    ) from e
                self._written[key_of(created)] = meta(created).get("resourceVersion")
        for s in to_update:
            _set_trigger(s, trigger)
            _wire_form(s)
            try:
                updated = await self.client.update(API_VERSION, "endpointslices", s, ns)
            except ApiError as e:
                if e.conflict:
                    raise
                raise RuntimeError(
                    f"failed to update {name_of(s)} EndpointSlice for Service {ns}/{name_of(svc)}: {e}"
                ) from e
            self._written[key_of(updated)] = meta(updated).get("resourceVersion")
        for s in to_delete:
            await self._delete(s)

    async def _delete(self, s: Mapping[str, Any]) -> None:
        from vcluster.client import ApiError

        try:
            await self.client.delete(API_VERSION, "endpointslices", name_of(s), namespace_of(s))
        except ApiError as e:
            if not e.not_found:
                raise RuntimeError(f"failed to delete {name_of(s)} EndpointSlice: {e}") from e
        self._written[key_of(s)] = None


def _wire_form(s: dict[str, Any]) -> None:
    """Empty lists as kube-apiserver returns them after its storage round trip: null."""
    for key in ("endpoints", "ports"):
        if not s.get(key):
            s[key] = None


def _set_trigger(s: dict[str, Any], trigger: datetime | None) -> None:
    ann = dict(annotations_of(s))
    if trigger is not None:
        ann[LAST_CHANGE_TRIGGER_TIME] = fmt_time(trigger)
    else:
        ann.pop(LAST_CHANGE_TRIGGER_TIME, None)
    if ann:
        s["metadata"]["annotations"] = ann
    else:
        s["metadata"].pop("annotations", None)
