"""kube-apiserver's bootstrap loops (1.32 pkg/controlplane/controller/systemnamespaces and
kubernetesservice, the `start-system-namespaces-controller` and `bootstrap-controller` post-start
hooks), run beside the controllers.

- System namespaces: every minute, `default`, `kube-system`, `kube-public` and `kube-node-lease` are
  created when the namespace informer does not have them (a deleted one comes back once gone).
- The `kubernetes` Service (only with `kubernetes_service=True`, kube-apiserver's endpoint
  reconciler): every 10 s the `default/kubernetes` Service is created when missing (as upstream, an
  existing one is never changed: "ports and type will be corrected only during start", a path
  upstream no longer runs), its Endpoints are reconciled as the lease reconciler does for a single
  API server (one subset naming the advertise address, label
  `endpointslice.kubernetes.io/skip-mirror`), and the EndpointSlice `kubernetes` is made equal to the
  Endpoints (EnsureEndpointSliceFromEndpoints). The Endpoints' ports are reset to this server's port
  in the first round only, as the Start-time `RemoveEndpoints` reconcile does (`reconcilePorts=true`),
  so a restart on another port is picked up; later rounds leave them alone
  (`UpdateKubernetesService(false)`, `reconcilePorts=false`). Upstream's start reconcile gets that
  far only while another API server holds a lease (with none it refuses to write); this server is
  the only one of its store, so it takes that path itself. A virtual cluster runs it with
  `kubernetes_service=False`: its syncer mirrors `default/kubernetes` from the host, as vCluster runs
  kube-apiserver with `--endpoint-reconciler-type=none`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from yarl import URL

from vcluster.apiserver.bootstrap import (
    DEFAULT_SERVICE_CIDR,
    kubernetes_endpoints,
    kubernetes_service,
    kubernetes_service_ip,
)
from vcluster.controllers.base import labels_of, meta
from vcluster.syncer.resources.endpoints import kubernetes_endpoint_slice

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

log = logging.getLogger("vcluster.controllers.bootstrap")

# kube-apiserver's default --system-namespaces (ExtraConfig.SystemNamespaces), in its order
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
NAMESPACE_INTERVAL = 60.0  # systemnamespaces.NewController: 1 * time.Minute
ENDPOINT_INTERVAL = 10.0  # --endpoint-reconciler interval (DefaultEndpointReconcilerInterval)
SERVICE = ("default", "kubernetes")
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
SLICES = "discovery.k8s.io/v1"


def reconciled_endpoints(
    current: Mapping[str, Any] | None, ip: str, port: int, *, reconcile_ports: bool = False
) -> tuple[dict[str, Any], bool]:
    """leaseEndpointReconciler.doReconcile with one API server: the Endpoints to write and whether
    they differ from `current` (the ports only count with `reconcile_ports`)."""
    ports = [{"name": "https", "port": port, "protocol": "TCP"}]
    if current is None:
        return kubernetes_endpoints(ip, port), True
    body = {k: v for k, v in current.items() if k != "metadata"}
    body["metadata"] = dict(meta(current))
    labels = dict(labels_of(current))
    changed = labels.get(SKIP_MIRROR_LABEL) != "true"
    labels[SKIP_MIRROR_LABEL] = "true"
    body["metadata"]["labels"] = labels
    subsets = list(body.get("subsets") or [])
    if len(subsets) != 1:  # the format is wrong: remake the record
        subsets = [{"addresses": [], "ports": ports}]
        changed = True
    addresses = [a.get("ip") for a in subsets[0].get("addresses") or []]
    if addresses != [ip]:
        subsets[0] = {**subsets[0], "addresses": [{"ip": ip}]}
        changed = True
    if reconcile_ports and subsets[0].get("ports") != ports:
        subsets[0] = {**subsets[0], "ports": ports}
        changed = True
    body["subsets"] = subsets
    return body, changed


def slice_needs_update(current: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """EnsureEndpointSliceFromEndpoints' comparison: endpoints, ports and labels (nil == empty)."""
    return any((current.get(k) or None) != (want.get(k) or None) for k in ("endpoints", "ports")) or (
        labels_of(current) != labels_of(want)
    )


class BootstrapController:
    """The system-namespaces loop, and with `kubernetes_service` the kubernetes-service loop."""

    name = "bootstrap"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        kubernetes_service: bool = False,
        advertise_ip: str | None = None,
        port: int | None = None,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        namespace_interval: float = NAMESPACE_INTERVAL,
        endpoint_interval: float = ENDPOINT_INTERVAL,
        **_: Any,
    ) -> None:
        self.client = client
        self.namespaces = informers.informer("v1", "namespaces")
        self.services = informers.informer("v1", "services") if kubernetes_service else None
        url = URL(client.config.server)
        self.advertise_ip = advertise_ip or (url.host or "127.0.0.1")
        self.port = port or url.port or 443
        self.service_ip = kubernetes_service_ip(service_cidr)
        self.namespace_interval = namespace_interval
        self.endpoint_interval = endpoint_interval
        self.ports_reconciled = False  # the start-time reconcile of the Endpoints' ports is done

    async def run(self, workers: int = 1) -> None:
        """Run the loops until cancelled (wait.Until: a failed round is logged, the next one comes)."""
        await self.namespaces.wait_synced()
        loops = [self._every(self.namespace_interval, self.sync_namespaces, "system namespaces")]
        if self.services is not None:
            await self.services.wait_synced()
            loops.append(
                self._every(self.endpoint_interval, self.sync_kubernetes_service, "kubernetes service")
            )
        await asyncio.gather(*loops)

    @staticmethod
    async def _every(interval: float, fn: Callable[[], Awaitable[None]], what: str) -> None:
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("unable to sync %s: %s", what, e)
            await asyncio.sleep(interval)

    async def sync_namespaces(self) -> None:
        """createNamespaceIfNeeded for every system namespace the informer does not have."""
        from vcluster.client import ApiError

        for ns in SYSTEM_NAMESPACES:
            if self.namespaces.get(ns) is not None:
                continue
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            try:
                await self.client.create("v1", "namespaces", body)
                log.info("created system namespace %s", ns)
            except ApiError as e:
                if not e.already_exists:
                    log.warning("unable to create required kubernetes system namespace %s: %s", ns, e)

    async def sync_kubernetes_service(self) -> None:
        """UpdateKubernetesService(false): the Service if missing, the Endpoints, the EndpointSlice."""
        from vcluster.client import ApiError

        assert self.services is not None
        if self.services.get(SERVICE[1], SERVICE[0]) is None:
            try:
                await self.client.create(
                    "v1",
                    "services",
                    kubernetes_service(
                        {
                            "ports": [
                                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": self.port}
                            ],
                            "clusterIP": self.service_ip,
                            "ipFamilyPolicy": "SingleStack",
                        }
                    ),
                    "default",
                )
                log.info("created service default/kubernetes")
            except ApiError as e:
                if not e.already_exists:
                    raise
        endpoints = await self._reconcile_endpoints(reconcile_ports=not self.ports_reconciled)
        self.ports_reconciled = True
        await self._ensure_slice(endpoints)

    async def _reconcile_endpoints(self, *, reconcile_ports: bool) -> dict[str, Any]:
        from vcluster.client import ApiError

        try:
            current: dict[str, Any] | None = await self.client.get("v1", "endpoints", SERVICE[1], SERVICE[0])
        except ApiError as e:
            if not e.not_found:
                raise
            current = None
        body, changed = reconciled_endpoints(
            current, self.advertise_ip, self.port, reconcile_ports=reconcile_ports
        )
        if not changed:
            return body
        log.warning("resetting endpoints for master service %s to [%s]", SERVICE[1], self.advertise_ip)
        if current is not None:
            return await self.client.update("v1", "endpoints", body, SERVICE[0])
        try:
            return await self.client.create("v1", "endpoints", body, SERVICE[0])
        except ApiError as e:
            if not e.already_exists:
                raise
            return body

    async def _ensure_slice(self, endpoints: Mapping[str, Any]) -> None:
        """EnsureEndpointSliceFromEndpoints: create, recreate on an address type change, or update."""
        from vcluster.client import ApiError

        want = kubernetes_endpoint_slice(endpoints)
        try:
            current = await self.client.get(SLICES, "endpointslices", SERVICE[1], SERVICE[0])
        except ApiError as e:
            if not e.not_found:
                raise
            try:
                await self.client.create(SLICES, "endpointslices", want, SERVICE[0])
            except ApiError as e:
                if not e.already_exists:
                    raise
            return
        if current.get("addressType") != want["addressType"]:
            await self.client.delete(SLICES, "endpointslices", SERVICE[1], SERVICE[0])
            await self.client.create(SLICES, "endpointslices", want, SERVICE[0])
        elif slice_needs_update(current, want):
            await self.client.update(SLICES, "endpointslices", want, SERVICE[0])
