"""kube-aggregator's APIService availability controllers (pkg/controllers/status/local and
status/remote of 1.32), run inside the API server process as kube-apiserver runs them.

- Local APIServices (no `spec.service`) are `Available=True`, reason `Local`, "Local APIServices
  are always available".
- Service-backed ones are checked as remote_available_controller.go does with Endpoints (1.32):
  the Service must exist (`ServiceNotFound`), a ClusterIP Service must have the port
  (`ServicePortError`), its Endpoints must exist (`EndpointsNotFound`) and have an address with the
  port's name (`MissingEndpoints`), and a GET of the backend's discovery document must answer 2xx
  (`FailedDiscoveryCheck`, retried with backoff); then `Passed`, "all checks passed". Every
  service-backed APIService is checked again every 30 s (the informer resync upstream) and when
  its Service or Endpoints change. The status is written only when it changed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vcluster.apiserver import apiregistration as apireg
from vcluster.apiserver.strategy import now_rfc3339
from vcluster.client.workqueue import RetryLater, WorkQueue

if TYPE_CHECKING:
    from vcluster.apiserver.aggregator import Aggregator, APIServiceIndex
    from vcluster.client import Client

log = logging.getLogger("vcluster.controllers.apiserviceavailability")

JSON = dict[str, Any]
RESYNC_SECONDS = 30.0


async def _update_status(client: Client, orig: JSON, cond: JSON) -> None:
    """updateAPIServiceStatus: set the condition and write the status only if it changed."""
    status = dict(orig.get("status") or {})
    apireg.set_condition(status, cond)
    if status == (orig.get("status") or {}):
        return
    old = apireg.available_condition(orig) or {}
    if (old.get("status"), old.get("reason")) != (cond.get("status"), cond.get("reason")):
        log.info(
            "changing APIService %s availability to %s (%s): %s",
            (orig.get("metadata") or {}).get("name"),
            cond["status"],
            cond.get("reason", ""),
            cond.get("message", ""),
        )
    await client.update(apireg.API_VERSION, apireg.RESOURCE, {**orig, "status": status}, subresource="status")


def _condition(status: str, reason: str, message: str) -> JSON:
    return {
        "type": "Available",
        "status": status,
        "lastTransitionTime": now_rfc3339(),
        "reason": reason,
        "message": message,
    }


class LocalAvailabilityController:
    """AvailableConditionController for local APIServices."""

    def __init__(self, client: Client, index: APIServiceIndex) -> None:
        self.client = client
        self.index = index
        self.queue = WorkQueue("local-apiservice-availability", base_delay=0.05, max_delay=30.0)
        index.listeners.append(self._changed)

    def _changed(self, name: str, old: JSON | None, new: JSON | None) -> None:
        if new is not None and apireg.service_ref(new) is None:
            self.queue.add(name)

    async def run(self, workers: int = 1) -> None:
        for name, obj in self.index.by_name.items():
            if apireg.service_ref(obj) is None:
                self.queue.add(name)
        await self.queue.run(self.sync, workers)

    def stop(self) -> None:
        self.queue.shutdown()

    async def sync(self, name: str) -> None:
        obj = self.index.get(name)
        if obj is None or apireg.service_ref(obj) is not None:
            return
        cond = apireg.available_condition(obj) or {}
        if (cond.get("status"), cond.get("reason"), cond.get("message")) == (
            "True",
            apireg.LOCAL_REASON,
            apireg.LOCAL_MESSAGE,
        ):
            return
        await _update_status(self.client, obj, apireg.local_condition(now_rfc3339()))


class RemoteAvailabilityController:
    """AvailableConditionController for service-backed APIServices."""

    def __init__(self, client: Client, aggregator: Aggregator, resync: float = RESYNC_SECONDS) -> None:
        self.client = client
        self.aggregator = aggregator
        self.index = aggregator.index
        self.resync = resync
        self.queue = WorkQueue("remote-apiservice-availability", base_delay=0.5, max_delay=30.0)
        self.index.listeners.append(self._changed)

    def _changed(self, name: str, old: JSON | None, new: JSON | None) -> None:
        if new is not None and apireg.service_ref(new) is not None:
            self.queue.add(name)

    def service_changed(self, namespace: str, name: str) -> None:
        """A Service or its Endpoints changed: recheck the APIServices naming it."""
        for api_name, obj in self.index.by_name.items():
            svc = apireg.service_ref(obj)
            if svc is not None and (svc.get("namespace"), svc.get("name")) == (namespace, name):
                self.queue.add(api_name)

    async def run(self, workers: int = 2) -> None:
        for name, obj in self.index.by_name.items():
            if apireg.service_ref(obj) is not None:
                self.queue.add(name)
        await self.queue.run(self.sync, workers)

    def stop(self) -> None:
        self.queue.shutdown()

    async def sync(self, name: str) -> None:
        obj = self.index.get(name)
        if obj is None or apireg.service_ref(obj) is None:
            return
        self.queue.add_after(name, self.resync)
        cond, failed = await self.check(obj)
        await _update_status(self.client, obj, cond)
        if failed:
            raise RetryLater(f"APIService {name}: {cond['message']}")

    async def check(self, obj: JSON) -> tuple[JSON, bool]:
        """The Available condition the checks give, and whether the discovery check failed."""
        ref = apireg.service_ref(obj) or {}
        ns, svc_name = str(ref.get("namespace") or ""), str(ref.get("name") or "")
        port = ref.get("port") or 443
        where = f'service/{svc_name} in "{ns}"'
        reader = self.aggregator.resolver
        service = await reader.get_core("services", ns, svc_name)
        if service is None:
            return _condition("False", "ServiceNotFound", f"{where} is not present"), False
        spec = service.get("spec") if isinstance(service.get("spec"), dict) else {}
        if (spec.get("type") or "ClusterIP") == "ClusterIP":
            found = next(
                (p for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("port") == port), None
            )
            if found is None:
                return _condition(
                    "False", "ServicePortError", f"{where} is not listening on port {port}"
                ), False
            port_name = str(found.get("name") or "")
            endpoints = await reader.get_core("endpoints", ns, svc_name)
            if endpoints is None:
                return _condition("False", "EndpointsNotFound", f"cannot find endpoints for {where}"), False
            if not _has_active_endpoints(endpoints, port_name):
                message = f'endpoints for {where} have no addresses with port name "{port_name}"'
                return _condition("False", "MissingEndpoints", message), False
        error = await self.aggregator.discovery_check(obj)
        if error is not None:
            return _condition("False", "FailedDiscoveryCheck", error), True
        return _condition("True", "Passed", "all checks passed"), False


def _has_active_endpoints(endpoints: JSON, port_name: str) -> bool:
    for subset in endpoints.get("subsets") or []:
        if not isinstance(subset, dict) or not subset.get("addresses"):
            continue
        if any(isinstance(p, dict) and (p.get("name") or "") == port_name for p in subset.get("ports") or []):
            return True
    return False
