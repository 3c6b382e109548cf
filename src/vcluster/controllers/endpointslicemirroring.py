"""EndpointSliceMirroringController (kube-controller-manager `endpointslice-mirroring`, 1.32's
pkg/controller/endpointslicemirroring): discovery.k8s.io/v1 EndpointSlices mirroring the
user-managed Endpoints of Services without a selector.

An Endpoints object is mirrored unless it is labelled `endpointslice.kubernetes.io/skip-mirror:
"true"` or carries the leader-election annotation, and only while a Service of its name exists
without a selector. Its subsets are repacked, then every (address type, port set) gets one slice:
`generateName: <endpoints>-`, owned by the Endpoints (controller reference), with the Endpoints'
labels plus `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
endpointslicemirroring-controller.k8s.io`, its annotations except
`endpoints.kubernetes.io/last-change-trigger-time` and `kubectl.kubernetes.io/last-applied-configuration`,
and at most `max_endpoints_per_subset` (1000) addresses per subset (ready ones first; invalid IPs
and the ones over the limit are skipped with a Warning event on the Endpoints). Mirrored slices go
when the Endpoints stop being mirrored, the Service goes or gains a selector.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_WARNING,
    BaseController,
    annotations_of,
    is_deleting,
    labels_of,
    meta,
    name_of,
    namespace_of,
    split_key,
    uid_of,
)
from vcluster.controllers.endpoints import (
    LAST_CHANGE_TRIGGER_TIME,
    LEADER_ANNOTATION,
    repack_subsets,
    service_selector,
)
from vcluster.controllers.endpointslice import (
    API_VERSION,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    EndpointKey,
    PortKey,
    StaleInformerCache,
    _wire_form,
    endpoint_key,
    port_key,
)
from vcluster.controllers.serviceaccount import has_terminating_cause

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ENDPOINTS_PER_SUBSET = 1000
ADDRESS_TYPES = ("IPv4", "IPv6")

SliceKey = tuple[str, PortKey]  # (address type, port set)


def should_mirror(endpoints: Mapping[str, Any] | None) -> bool:
    """Controller.shouldMirror: not skip-mirror labelled, not a leader-election record."""
    if endpoints is None:
        return False
    return labels_of(endpoints).get(SKIP_MIRROR_LABEL) != "true" and LEADER_ANNOTATION not in annotations_of(
        endpoints
    )


def address_type(ip: str) -> str | None:
    """getAddressType: IPv4 or IPv6, None for what is not an IP."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is None:
        return "IPv6"
    return "IPv4"


def mirrored_ports(ports: list[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """epPortsToEpsPorts: name, port and protocol always present (pointers), appProtocol if set."""
    out = []
    for p in ports or []:
        port: dict[str, Any] = {"name": p.get("name") or "", "port": p.get("port") or 0}
        port["protocol"] = p.get("protocol") or ""
        if p.get("appProtocol") is not None:
            port["appProtocol"] = p["appProtocol"]
        out.append(port)
    return out


def address_to_endpoint(address: Mapping[str, Any], ready: bool) -> dict[str, Any]:
    """addressToEndpoint: the address as one endpoint (targetRef copied as it is)."""
    ep: dict[str, Any] = {"addresses": [address.get("ip", "")], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if address.get("targetRef") is not None:
        ep["targetRef"] = dict(address["targetRef"])
    if address.get("nodeName") is not None:
        ep["nodeName"] = address["nodeName"]
    return ep


def _beyond_hash(ep: Mapping[str, Any]) -> tuple[Any, ...]:
    """What EndpointsEqualBeyondHash compares (the fields not in the endpoint's hash)."""
    cond = ep.get("conditions") or {}
    return (
        cond.get("ready"),
        cond.get("serving"),
        cond.get("terminating"),
        ep.get("nodeName"),
        ep.get("zone"),
        ep.get("hints"),
        ep.get("targetRef"),
    )


class Desired:
    """desiredCalc: the endpoints and ports wanted per (address type, port set)."""

    def __init__(self) -> None:
        self.endpoints: dict[SliceKey, dict[EndpointKey, dict[str, Any]]] = {}
        self.ports: dict[SliceKey, list[dict[str, Any]]] = {}
        self.invalid = 0
        self.skipped = 0

    def add_subset(self, subset: Mapping[str, Any], limit: int) -> None:
        """Add a repacked subset's addresses (ready first), at most `limit` of them."""
        ports = mirrored_ports(subset.get("ports"))
        pk = port_key(ports)
        for at in ADDRESS_TYPES:
            self.endpoints.setdefault((at, pk), {})
            self.ports[(at, pk)] = ports
        total = len(subset.get("addresses") or []) + len(subset.get("notReadyAddresses") or [])
        added = 0
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field) or []:
                if added >= limit:
                    break
                at = address_type(address.get("ip") or "")
                if at is None:
                    self.invalid += 1
                    continue
                ep = address_to_endpoint(address, ready)
                self.endpoints[(at, pk)][endpoint_key(ep)] = ep
                added += 1
        self.skipped += total - added


class SliceTracker:
    """endpointsliceutil.EndpointSliceTracker: the generation of every slice this controller wrote
    (or expects deleted) per Endpoints key, to skip its own events and spot a stale cache. Label and
    annotation changes do not bump a slice's generation, so they do not trigger a sync either."""

    DELETED = -1

    def __init__(self) -> None:
        self._by_key: dict[str, dict[str, int]] = {}

    @staticmethod
    def _generation(s: Mapping[str, Any]) -> int:
        return int(meta(s).get("generation") or 0)

    def update(self, s: Mapping[str, Any]) -> None:
        self._by_key.setdefault(_owner_key(s), {})[uid_of(s)] = self._generation(s)

    def expect_deletion(self, s: Mapping[str, Any]) -> None:
        self._by_key.setdefault(_owner_key(s), {})[uid_of(s)] = self.DELETED

    def has(self, s: Mapping[str, Any]) -> bool:
        return uid_of(s) in self._by_key.get(_owner_key(s), {})

    def should_sync(self, s: Mapping[str, Any]) -> bool:
        """Not written by this controller in this state (someone else changed it)."""
        gen = self._by_key.get(_owner_key(s), {}).get(uid_of(s))
        return gen is None or self._generation(s) > gen

    def handle_deletion(self, s: Mapping[str, Any]) -> bool:
        """Forget a deleted slice; False when its deletion was not this controller's."""
        gen = self._by_key.get(_owner_key(s), {}).pop(uid_of(s), None)
        return gen is None or gen == self.DELETED

    def delete_service(self, key: str) -> None:
        self._by_key.pop(key, None)

    def stale(self, key: str, slices: list[dict[str, Any]]) -> bool:
        """StaleSlices: the cache lacks a slice written here, holds an older one, or one deleted."""
        tracked = self._by_key.get(key)
        if not tracked:
            return False
        seen = set()
        for s in slices:
            seen.add(uid_of(s))
            gen = tracked.get(uid_of(s))
            if gen is not None and (gen == self.DELETED or gen > self._generation(s)):
                return True
        return any(gen != self.DELETED and uid not in seen for uid, gen in tracked.items())


def _owner_key(s: Mapping[str, Any]) -> str:
    return f"{namespace_of(s)}/{labels_of(s).get(SERVICE_NAME_LABEL, '')}"


def _managed(s: Mapping[str, Any] | None) -> bool:
    return s is not None and labels_of(s).get(MANAGED_BY_LABEL) == CONTROLLER_NAME


def slice_metadata(endpoints: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations a mirrored slice carries (newEndpointSlice)."""
    labels = {**labels_of(endpoints), SERVICE_NAME_LABEL: name_of(endpoints)}
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    skip = (LAST_CHANGE_TRIGGER_TIME, LAST_APPLIED_ANNOTATION)
    annotations = {k: v for k, v in annotations_of(endpoints).items() if k not in skip}
    return labels, annotations


def new_slice(
    endpoints: Mapping[str, Any],
    ports: list[dict[str, Any]],
    addr_type: str,
    existing: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """newEndpointSlice: a slice for `endpoints` (updating `existing` when given)."""
    labels, annotations = slice_metadata(endpoints)
    md: dict[str, Any] = {
        "namespace": namespace_of(endpoints),
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "name": name_of(endpoints),
                "uid": uid_of(endpoints),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if annotations:
        md["annotations"] = annotations
    if existing is None:
        md["generateName"] = f"{name_of(endpoints)}-"
    else:
        md["name"] = name_of(existing)
        for k in ("uid", "resourceVersion", "creationTimestamp"):
            if meta(existing).get(k):
                md[k] = meta(existing)[k]
    return {
        "apiVersion": API_VERSION,
        "kind": "EndpointSlice",
        "metadata": md,
        "addressType": addr_type,
        "endpoints": [],
        "ports": ports,
    }


class EndpointSliceMirroringController(BaseController):
    """Mirrors the Endpoints of selector-less Services into EndpointSlices."""

    name = "endpointslicemirroring"
    component = "endpoint-slice-mirroring-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        max_endpoints_per_subset: int = MAX_ENDPOINTS_PER_SUBSET,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.max_endpoints = max_endpoints_per_subset
        self.endpoints = informers.informer("v1", "endpoints")
        self.services = informers.informer("v1", "services")
        self.slices = informers.informer(API_VERSION, "endpointslices")
        self.tracker = SliceTracker()
        self.endpoints.add_handler(self._on_endpoints)
        self.services.add_handler(self._on_service)
        self.slices.add_handler(self._on_slice)

    # ------------------------------------------------------------------ handlers
    def _on_endpoints(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if should_mirror(obj) or (event == "update" and should_mirror(old)):
            self.enqueue(obj)

    def _on_service(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        no_selector = service_selector(obj) is None
        if event == "update" and old is not None:
            if no_selector != (service_selector(old) is None):
                self.enqueue(obj)
        elif no_selector:
            self.enqueue(obj)

    def _on_slice(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete":
            if _managed(obj) and self.tracker.has(obj) and not self.tracker.handle_deletion(obj):
                self._enqueue_for_slice(obj)
            return
        if event == "update" and old is not None:
            if labels_of(obj).get(SERVICE_NAME_LABEL) != labels_of(old).get(SERVICE_NAME_LABEL):
                self._enqueue_for_slice(obj)
                self._enqueue_for_slice(old)
                return
            if _managed(obj) != _managed(old):
                if _managed(old):  # no longer this controller's: not expected in its list any more
                    self.tracker.handle_deletion(old)
                self._enqueue_for_slice(obj)
                return
        if _managed(obj) and self.tracker.should_sync(obj):
            self._enqueue_for_slice(obj)

    def _enqueue_for_slice(self, s: Mapping[str, Any]) -> None:
        svc = labels_of(s).get(SERVICE_NAME_LABEL)
        if svc:
            self.queue.add(f"{namespace_of(s)}/{svc}")

    async def run(self, workers: int = 2) -> None:
        for inf in (self.endpoints, self.services, self.slices):
            await inf.wait_synced()
        await super().run(workers)

    # ------------------------------------------------------------------ sync
    def mirrored_slices(self, ns: str, name: str) -> list[dict[str, Any]]:
        """endpointSlicesMirroredForService, oldest first."""
        out = [
            s for s in self.slices.list(ns) if labels_of(s).get(SERVICE_NAME_LABEL) == name and _managed(s)
        ]
        return sorted(out, key=lambda s: (meta(s).get("creationTimestamp") or "", name_of(s)))

    async def sync(self, key: str) -> None:
        ns, name = split_key(key)
        assert ns is not None
        endpoints = self.endpoints.get(name, ns)
        svc = self.services.get(name, ns)
        if not should_mirror(endpoints) or svc is None or service_selector(svc) is not None:
            self.tracker.delete_service(key)
            await self._delete_all(ns, name)
            return
        assert endpoints is not None
        slices = self.mirrored_slices(ns, name)
        if self.tracker.stale(key, slices):
            raise StaleInformerCache("EndpointSlice informer cache is out of date")
        await self.reconcile(endpoints, slices)

    async def _delete_all(self, ns: str, name: str) -> None:
        """deleteMirroredSlices: every slice mirrored for `ns/name`, errors reported together."""
        from vcluster.client import ApiError

        slices = self.mirrored_slices(ns, name)
        errors: list[ApiError] = []
        for s in slices:
            try:
                await self.client.delete(API_VERSION, "endpointslices", name_of(s), ns)
            except ApiError as e:
                if not e.not_found:
                    errors.append(e)
        if errors:
            raise RuntimeError(
                f"error(s) deleting {len(errors)}/{len(slices)} EndpointSlices for {ns}/{name} "
                f"Endpoints, including: {errors[0]}"
            )

    def desired(self, endpoints: Mapping[str, Any]) -> Desired:
        d = Desired()
        for subset in repack_subsets(list(endpoints.get("subsets") or [])):
            d.add_subset(subset, self.max_endpoints)
        return d

    async def reconcile(self, endpoints: dict[str, Any], existing: list[dict[str, Any]]) -> None:
        """reconciler.reconcile: one slice per address type and port set."""
        d = self.desired(endpoints)
        self._record_skips(endpoints, d)
        by_key: dict[SliceKey, list[dict[str, Any]]] = {}
        for s in existing:
            by_key.setdefault((s.get("addressType") or "", port_key(s.get("ports") or [])), []).append(s)
        to_create: list[dict[str, Any]] = []
        to_update: list[dict[str, Any]] = []
        to_delete: list[dict[str, Any]] = []
        for sk, eps in d.endpoints.items():
            c, u, dl = self._reconcile_key(endpoints, by_key.get(sk, []), eps, d.ports[sk], sk[0])
            to_create += c
            to_update += u
            to_delete += dl
        for sk, slices in by_key.items():
            if sk not in d.endpoints:
                to_delete += slices
        await self._finalize(endpoints, to_create, to_update, to_delete)

    def _record_skips(self, endpoints: Mapping[str, Any], d: Desired) -> None:
        if d.invalid:
            self.recorder.event(
                endpoints,
                EVENT_WARNING,
                "InvalidIPAddress",
                f"Skipped {d.invalid} invalid IP addresses when mirroring to EndpointSlices",
                kind="Endpoints",
                api_version="v1",
            )
        if d.skipped > d.invalid:
            self.recorder.event(
                endpoints,
                EVENT_WARNING,
                "TooManyAddressesToMirror",
                f"A max of {self.max_endpoints} addresses can be mirrored to EndpointSlices per Endpoints "
                f"subset. {d.skipped} addresses were skipped",
                kind="Endpoints",
                api_version="v1",
            )

    def _reconcile_key(
        self,
        endpoints: Mapping[str, Any],
        existing: list[dict[str, Any]],
        desired: dict[EndpointKey, dict[str, Any]],
        ports: list[dict[str, Any]],
        addr_type: str,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """reconcileByPortMapping: keep the first slice (updated if anything differs), drop the rest."""
        if not desired:
            return [], [], list(existing)
        to_delete = list(existing[1:])
        first = existing[0] if existing else None
        if first is not None and self._matches(first, endpoints, desired):
            return [], [], to_delete
        s = new_slice(endpoints, ports, addr_type, first)
        s["endpoints"] = list(desired.values())[: self.max_endpoints]
        return ([], [s], to_delete) if first is not None else ([s], [], to_delete)

    @staticmethod
    def _matches(s: Mapping[str, Any], endpoints: Mapping[str, Any], desired: dict[EndpointKey, Any]) -> bool:
        """No endpoint added, removed or changed, and the labels and annotations mirror the Endpoints'."""
        have = {endpoint_key(ep): ep for ep in s.get("endpoints") or []}
        if have.keys() != desired.keys():
            return False
        if any(_beyond_hash(ep) != _beyond_hash(desired[k]) for k, ep in have.items()):
            return False
        labels = {k: v for k, v in labels_of(s).items() if k not in (MANAGED_BY_LABEL, SERVICE_NAME_LABEL)}
        _, annotations = slice_metadata(endpoints)
        return labels == labels_of(endpoints) and annotations == annotations_of(s)

    async def _finalize(
        self,
        endpoints: Mapping[str, Any],
        to_create: list[dict[str, Any]],
        to_update: list[dict[str, Any]],
        to_delete: list[dict[str, Any]],
    ) -> None:
        """finalize: recycle deletions into updates per address type, then create, update, delete."""
        from vcluster.client import ApiError

        ns, name = namespace_of(endpoints), name_of(endpoints)
        for s in list(to_create):
            victim = next((v for v in to_delete if v.get("addressType") == s.get("addressType")), None)
            if victim is None:
                continue
            to_create.remove(s)
            to_delete.remove(victim)
            recycled = new_slice(endpoints, s["ports"], s["addressType"], victim)
            recycled["endpoints"] = s["endpoints"]
            to_update.append(recycled)
        if not is_deleting(endpoints):
            for s in to_create:
                _wire_form(s)
                try:
                    created = await self.client.create(API_VERSION, "endpointslices", s, ns)
                except ApiError as e:
                    if has_terminating_cause(e):
                        return
                    raise RuntimeError(
                        f"failed to create EndpointSlice for Endpoints {ns}/{name}: {e}"
                    ) from e
                self.tracker.update(created)
        for s in to_update:
            _wire_form(s)
            try:
                updated = await self.client.update(API_VERSION, "endpointslices", s, ns)
            except ApiError as e:
                if e.conflict:
                    raise
                raise RuntimeError(
                    f"failed to update {name_of(s)} EndpointSlice for Endpoints {ns}/{name}: {e}"
                ) from e
            self.tracker.update(updated)
        for s in to_delete:
            try:
                await self.client.delete(API_VERSION, "endpointslices", name_of(s), ns)
            except ApiError as e:
                if not e.not_found:
                    raise RuntimeError(
                        f"failed to delete {name_of(s)} EndpointSlice for Endpoints {ns}/{name}: {e}"
                    ) from e
            self.tracker.expect_deletion(s)
