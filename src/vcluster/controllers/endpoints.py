"""EndpointsController (kube-controller-manager `endpoint`): one Endpoints object per Service with a
selector, listing the matching pods' IPs (ready in `addresses`, the rest in `notReadyAddresses`) for
each service port resolved against the pod's container ports.

Services without a selector (and ExternalName services) are left to their users; the Endpoints of
a deleted Service are deleted. The subsets are repacked into kube's canonical layout (addresses
sharing the same ports grouped in one subset). The EndpointSlice controller reuses the pod and port
helpers below.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vcluster.controllers.base import (
    EVENT_WARNING,
    BaseController,
    annotations_of,
    fmt_time,
    get_condition,
    is_deleting,
    key_of,
    labels_of,
    meta,
    name_of,
    namespace_of,
    parse_time,
    pod_is_ready,
    pod_phase,
    split_key,
    uid_of,
)
from vcluster.controllers.serviceaccount import has_terminating_cause

if TYPE_CHECKING:
    from vcluster.client import Client, Informer, SharedInformers

HEADLESS_LABEL = "service.kubernetes.io/headless"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_CAPACITY = 1000
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"


# ---------------------------------------------------------------------------- shared helpers
def service_selector(svc: Mapping[str, Any]) -> dict[str, str] | None:
    """spec.selector, or None when the Service has none (an empty map is none: it does not survive
    kube-apiserver's storage round trip either)."""
    sel = (svc.get("spec") or {}).get("selector")
    return sel if isinstance(sel, dict) and sel else None


def selector_matches(sel: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in sel.items())


def is_service_ip_set(svc: Mapping[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    """endpointsliceutil.ShouldPodBeInEndpoints."""
    if pod_phase(pod) in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not is_deleting(pod)


def service_families(svc: Mapping[str, Any]) -> list[str]:
    return [f for f in (svc.get("spec") or {}).get("ipFamilies") or [] if isinstance(f, str)]


def _family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return ""


def endpoint_ip_for_service(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> str | None:
    """The pod IP of the service's (first) family; a service without families takes the pod's
    primary IP (podToEndpointAddressForService)."""
    ips = pod_ips(pod)
    fams = service_families(svc)
    if not fams:
        spec = svc.get("spec") or {}
        if spec.get("clusterIP") not in (None, "", "None"):
            want = _family(spec["clusterIP"])
            return next((ip for ip in ips if _family(ip) == want), None)
        return ips[0] if ips else None
    return next((ip for ip in ips if _family(ip) == fams[0]), None)


def find_port(pod: Mapping[str, Any], svc_port: Mapping[str, Any]) -> int | None:
    """podutil.FindPort: a named targetPort resolves through the containers' (and restartable init
    containers') port names with the same protocol; a number is used as it is."""
    target = svc_port.get("targetPort")
    proto = svc_port.get("protocol") or "TCP"
    if isinstance(target, str):
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or [])
        containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        for c in containers:
            for p in c.get("ports") or []:
                if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                    return int(p.get("containerPort") or 0)
        return None
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    return None


def should_set_hostname(pod: Mapping[str, Any], svc: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == name_of(svc)
        and namespace_of(svc) == namespace_of(pod)
    )


class TriggerTimeTracker:
    """endpointutil.TriggerTimeTracker: the time of the earliest change (pod Ready transition or
    service creation) not yet reflected in the service's endpoints."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[datetime | None, dict[str, datetime]]] = {}

    def compute(self, svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> datetime | None:
        key = key_of(svc)
        state = self._state.get(key)
        last_svc, last_pods = state if state is not None else (None, {})
        changed: datetime | None = None
        new_pods: dict[str, datetime] = {}
        for pod in pods:
            c = get_condition(pod.get("status"), "Ready")
            t = parse_time(c.get("lastTransitionTime")) if c else None
            if t is None:
                continue
            new_pods[name_of(pod)] = t
            prev = last_pods.get(name_of(pod))
            if prev is None or t > prev:
                changed = t if changed is None or t < changed else changed
        svc_time = parse_time(meta(svc).get("creationTimestamp"))
        if svc_time is not None and (last_svc is None or svc_time > last_svc):
            changed = svc_time if changed is None or svc_time < changed else changed
        self._state[key] = (svc_time, new_pods)
        if state is None:
            return svc_time
        return changed

    def delete(self, key: str) -> None:
        self._state.pop(key, None)


def pods_changed_for_endpoints(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a pod update can change any Endpoints/EndpointSlice (podEndpointsChanged)."""

    def view(p: Mapping[str, Any]) -> tuple[Any, ...]:
        spec = p.get("spec") or {}
        ready = get_condition(p.get("status"), "Ready")
        return (
            labels_of(p),
            pod_ips(p),
            pod_is_ready(p),
            (ready or {}).get("lastTransitionTime"),
            meta(p).get("deletionTimestamp"),
            spec.get("nodeName"),
            spec.get("hostname"),
            spec.get("subdomain"),
            pod_phase(p),
            [c.get("ports") for c in spec.get("containers") or []],
        )

    return view(old) != view(new)


def services_for_pod(services: Informer, pod: Mapping[str, Any]) -> set[str]:
    """Keys of the services in the pod's namespace whose selector selects it."""
    labels = labels_of(pod)
    out: set[str] = set()
    for svc in services.list(namespace_of(pod)):
        sel = service_selector(svc)
        if sel is not None and selector_matches(sel, labels):
            out.add(key_of(svc))
    return out


def services_to_sync(
    services: Informer, event: str, pod: Mapping[str, Any], old: Mapping[str, Any] | None
) -> set[str]:
    """Keys of the services a pod event concerns: those selecting the pod now or before an
    update that changed what endpoints show of it (none for an update that did not)."""
    if event == "update" and old is not None:
        if not pods_changed_for_endpoints(old, pod):
            return set()
        return services_for_pod(services, pod) | services_for_pod(services, old)
    return services_for_pod(services, pod)


# ---------------------------------------------------------------------------- subsets
def _addr_key(addr: Mapping[str, Any]) -> tuple[str, str]:
    return (addr.get("ip", ""), (addr.get("targetRef") or {}).get("uid", ""))


def _port_key(port: Mapping[str, Any]) -> tuple[Any, ...]:
    return (port.get("name", ""), port.get("port", 0), port.get("protocol", ""), port.get("appProtocol"))


def repack_subsets(subsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """endpoints.RepackSubsets: group addresses that offer the same set of ports; an address listed
    both ready and not ready on a port is not ready; sorted addresses, ports and subsets."""
    all_addrs: dict[tuple[str, str], dict[str, Any]] = {}
    port_addrs: dict[tuple[Any, ...], tuple[dict[str, Any] | None, dict[tuple[str, str], bool]]] = {}
    for ss in subsets:
        ports = ss.get("ports") or [None]
        for port in ports:
            pk = _port_key(port) if port is not None else ("", -1, "", None)
            entry = port_addrs.setdefault(pk, (port, {}))
            for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
                for addr in ss.get(key) or []:
                    ak = _addr_key(addr)
                    all_addrs.setdefault(ak, addr)
                    if entry[1].get(ak, True):  # not ready always trumps ready
                        entry[1][ak] = ready
    groups: dict[tuple[Any, ...], tuple[dict[tuple[str, str], bool], list[dict[str, Any]]]] = {}
    for _pk, (port, addrs) in port_addrs.items():
        gk = tuple(sorted(addrs.items()))
        g = groups.setdefault(gk, (addrs, []))
        if port is not None:
            g[1].append(port)
    out: list[dict[str, Any]] = []
    for addrs, ports in groups.values():
        ready = sorted((all_addrs[a] for a, r in addrs.items() if r), key=_addr_sort)
        not_ready = sorted((all_addrs[a] for a, r in addrs.items() if not r), key=_addr_sort)
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = sorted(
                ports, key=lambda p: (p.get("name", ""), p.get("port", 0), p.get("protocol"))
            )
        out.append(subset)
    out.sort(key=_subset_sort)
    return out


def _addr_sort(addr: Mapping[str, Any]) -> tuple[Any, ...]:
    ip = addr.get("ip", "")
    try:
        packed = ipaddress.ip_address(ip).packed
    except ValueError:
        packed = ip.encode()
    return (packed, (addr.get("targetRef") or {}).get("uid", ""))


def _subset_sort(ss: Mapping[str, Any]) -> tuple[Any, ...]:
    first = (ss.get("addresses") or ss.get("notReadyAddresses") or [{}])[0]
    ports = tuple((p.get("name", ""), p.get("port", 0)) for p in ss.get("ports") or [])
    return (_addr_sort(first), ports)


def _strip_rv(subsets: Any) -> Any:
    """Subsets with the targetRefs' resourceVersion dropped (compared without it upstream)."""
    out = []
    for ss in subsets or []:
        s2 = dict(ss)
        for key in ("addresses", "notReadyAddresses"):
            if key in s2:
                s2[key] = [
                    {**a, "targetRef": {k: v for k, v in a["targetRef"].items() if k != "resourceVersion"}}
                    if isinstance(a.get("targetRef"), dict)
                    else a
                    for a in s2[key]
                ]
        out.append(s2)
    return out


def _truncate(subsets: list[dict[str, Any]]) -> bool:
    """truncateEndpoints: keep at most MAX_CAPACITY addresses, ready ones first, proportionally
    across subsets."""
    total = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)
    if total <= MAX_CAPACITY:
        return False
    ready_total = sum(len(s.get("addresses") or []) for s in subsets)
    can_ready = min(ready_total, MAX_CAPACITY)
    can_not_ready = MAX_CAPACITY - can_ready
    not_ready_total = total - ready_total
    for s in subsets:
        r, nr = s.get("addresses") or [], s.get("notReadyAddresses") or []
        if ready_total:
            keep = (len(r) * can_ready + ready_total - 1) // ready_total
            s["addresses"] = r[:keep]
        if not_ready_total:
            keep = (len(nr) * can_not_ready + not_ready_total - 1) // not_ready_total
            s["notReadyAddresses"] = nr[:keep]
        for key in ("addresses", "notReadyAddresses"):
            if key in s and not s[key]:
                del s[key]
    return True


# ---------------------------------------------------------------------------- controller
class EndpointsController(BaseController):
    """Keeps `Endpoints/<svc>` in sync with the pods selected by `Service/<svc>`."""

    name = "endpoint"
    component = "endpoint-controller"

    def __init__(self, client: Client, informers: SharedInformers, **options: Any) -> None:
        super().__init__(client, informers, **options)
        self.services = informers.informer("v1", "services")
        self.pods = informers.informer("v1", "pods")
        self.endpoints = informers.informer("v1", "endpoints")
        self.trigger_times = TriggerTimeTracker()
        self.services.add_handler(self._on_service)
        self.pods.add_handler(self._on_pod)
        self.endpoints.add_handler(self._on_endpoints)

    def _on_service(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.queue.add(key_of(obj))

    def _on_pod(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for k in services_to_sync(self.services, event, obj, old):
            self.queue.add(k)

    def _on_endpoints(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event == "delete":
            self.queue.add(key_of(obj))

    async def run(self, workers: int = 2) -> None:
        for inf in (self.services, self.pods, self.endpoints):
            await inf.wait_synced()
        self.check_leftover_endpoints()
        await super().run(workers)

    def check_leftover_endpoints(self) -> None:
        """checkLeftoverEndpoints: Endpoints without a Service (left from a Service deleted while
        the controller was down) are queued, which deletes them; leader-election records are kept."""
        for ep in self.endpoints.list():
            if LEADER_ANNOTATION in annotations_of(ep):
                continue
            if self.services.get(name_of(ep), namespace_of(ep)) is None:
                self.queue.add(key_of(ep))

    def desired_subsets(
        self, svc: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        spec = svc.get("spec") or {}
        publish = bool(spec.get("publishNotReadyAddresses"))
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        subsets: list[dict[str, Any]] = []
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, publish):
                continue
            ip = endpoint_ip_for_service(svc, pod)
            if ip is None:
                continue
            addr: dict[str, Any] = {"ip": ip}
            if should_set_hostname(pod, svc):
                addr["hostname"] = (pod.get("spec") or {}).get("hostname")
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                addr["nodeName"] = node
            addr["targetRef"] = {
                "kind": "Pod",
                "namespace": namespace_of(pod),
                "name": name_of(pod),
                "uid": uid_of(pod),
            }
            key = "addresses" if publish or pod_is_ready(pod) else "notReadyAddresses"
            if not ports:
                if spec.get("clusterIP") == "None":
                    subsets.append({key: [addr]})
                continue
            for sp in ports:
                num = find_port(pod, sp)
                if num is None:
                    continue
                ep: dict[str, Any] = {}
                if sp.get("name"):
                    ep["name"] = sp["name"]
                ep["port"] = num
                ep["protocol"] = sp.get("protocol") or "TCP"
                if sp.get("appProtocol") is not None:
                    ep["appProtocol"] = sp["appProtocol"]
                subsets.append({key: [addr], "ports": [ep]})
        return repack_subsets(subsets)

    async def sync(self, key: str) -> None:
        from vcluster.client import ApiError

        ns, name = split_key(key)
        assert ns is not None
        svc = self.services.get(name, ns)
        if svc is None:
            self.trigger_times.delete(key)
            try:
                await self.client.delete("v1", "endpoints", name, ns)
            except ApiError as e:
                if not e.not_found:
                    raise
            return
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        sel = service_selector(svc)
        if sel is None:
            return
        pods = [p for p in self.pods.list(ns) if selector_matches(sel, labels_of(p))]
        trigger = self.trigger_times.compute(svc, pods)
        subsets = self.desired_subsets(svc, pods)
        current = self.endpoints.get(name, ns)
        create = current is None
        svc_labels = dict(labels_of(svc))
        if current is not None:
            cur_labels = {k: v for k, v in labels_of(current).items() if k != HEADLESS_LABEL}
            cap_ok = (OVER_CAPACITY in annotations_of(current)) == (
                sum(
                    len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or [])
                    for s in current.get("subsets") or []
                )
                > MAX_CAPACITY
            )
            if (
                _strip_rv(current.get("subsets")) == subsets
                and cur_labels == svc_labels
                and cap_ok
                and (HEADLESS_LABEL in labels_of(current)) == (not is_service_ip_set(svc))
            ):
                return
        new: dict[str, Any] = (
            dict(current) if current is not None else {"apiVersion": "v1", "kind": "Endpoints"}
        )
        md = dict(meta(current)) if current is not None else {"name": name, "namespace": ns}
        annotations = dict(md.get("annotations") or {})
        if trigger is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = fmt_time(trigger)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if _truncate(subsets):
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        labels = dict(svc_labels)
        if not is_service_ip_set(svc):
            labels[HEADLESS_LABEL] = ""
        md["labels"] = labels
        if annotations:
            md["annotations"] = annotations
        else:
            md.pop("annotations", None)
        new["metadata"] = md
        if subsets:
            new["subsets"] = subsets
        else:
            new.pop("subsets", None)
        try:
            if create:
                await self.client.create("v1", "endpoints", new, ns)
            else:
                await self.client.update("v1", "endpoints", new, ns)
        except ApiError as e:
            if create and e.forbidden and has_terminating_cause(e):
                return
            if e.conflict or (create and e.already_exists):
                raise
            ref = {"metadata": {"name": name, "namespace": ns, "uid": uid_of(new)}}
            if create:
                msg = f"Failed to create endpoint for service {ns}/{name}: {e}"
                self.recorder.event(
                    ref, EVENT_WARNING, "FailedToCreateEndpoint", msg, kind="Endpoints", api_version="v1"
                )
            else:
                msg = f"Failed to update endpoint {ns}/{name}: {e}"
                self.recorder.event(
                    ref, EVENT_WARNING, "FailedToUpdateEndpoint", msg, kind="Endpoints", api_version="v1"
                )
            raise
