"""Which KindSyncer serves which `sync.toHost` kind. To add a kind: write its pure module in
`vcluster.syncer.resources` (translation + FIELDS), then add a line here (or a KindSyncer
subclass when it needs lookups)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from vcluster.controllers.base import utcnow
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import Requeue
from vcluster.syncer.engine.kindsyncer import Blocked, KindSyncer
from vcluster.syncer.engine.persistentvolumes import ClaimSyncer, PersistentVolumeSyncer
from vcluster.syncer.engine.pods import PodSyncer
from vcluster.syncer.resources import (
    configmap,
    endpoints,
    endpointslice,
    ingress,
    networkpolicy,
    poddisruptionbudget,
    priorityclass,
    secret,
    service,
    serviceaccount,
    storageclass,
)
from vcluster.syncer.result import Delete, SyncResult


class UsedOnlySyncer(KindSyncer):
    """ConfigMaps and Secrets: on the host only while used (referenced, forced, or `all: true`)."""

    used_fn: Callable[[Mapping[str, Any], Any, bool], bool]
    used_only = True

    def ignores(self, namespace: str, name: str) -> bool:
        # Every namespace's kube-root-ca.crt holds the same CA and maps to the one host ConfigMap
        # `vcluster-kube-root-ca.crt-x-<vc>`; the copy in `default` is the one that is synced.
        return self.kind == kinds.CONFIGMAP and name == "kube-root-ca.crt" and namespace != "default"

    def virtual_name(self, ctx: Any, host: Mapping[str, Any]) -> tuple[str, str] | None:
        m = metadata.meta(host)
        if (
            self.kind == kinds.CONFIGMAP
            and m.get("namespace") == ctx.host_namespace
            and m.get("name") == ctx.kube_root_ca_host_name
        ):
            return ("default", "kube-root-ca.crt")  # the one of the many that is synced (see ignores)
        return super().virtual_name(ctx, host)

    def wants(self, virtual: Mapping[str, Any]) -> bool:
        assert self.engine is not None
        m = metadata.meta(virtual)
        if self.kind == kinds.CONFIGMAP and m.get("name") == "kube-root-ca.crt":
            return True  # every pod's service-account volume projects it, whatever its namespace
        referenced = self.engine.mappings.used(self.kind.kind, m.get("namespace", ""), m.get("name", ""))
        return self.extra["used"](virtual, self.engine.ctx, referenced)

    def host_only(self, host: Mapping[str, Any], virtual_seen_before: bool) -> Any:
        from vcluster.syncer import lifecycle

        return lifecycle.host_only(
            host, self.kind, virtual_seen_before=virtual_seen_before, would_be_used=False
        )


class ServiceSyncer(KindSyncer):
    """Services: the host allocates the ClusterIP; the virtual Service is recreated with it."""

    def wants(self, virtual: Mapping[str, Any]) -> bool:
        m = metadata.meta(virtual)
        # default/kubernetes mirrors the host Service of the virtual cluster instead (§5.1)
        return (m.get("namespace"), m.get("name")) != ("default", "kubernetes")

    async def sync(
        self,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        virtual_old: Mapping[str, Any] | None,
        host_old: Mapping[str, Any] | None,
    ) -> SyncResult:
        assert self.engine is not None
        m = metadata.meta(virtual)
        key = (m.get("namespace", ""), m.get("name", ""))
        switches = self.engine.service_switches
        if service.switching_from_external_name(virtual, host):
            if switches.active(key, time.monotonic()):
                # the API interception switched the host and is storing the virtual Service
                raise Requeue(service.SWITCH_RECHECK, "switching from ExternalName")
        else:
            switches.end(key)
        return service.sync_service(virtual, host, virtual_old, host_old, self.engine.ctx)

    def host_only(self, host: Mapping[str, Any], virtual_seen_before: bool) -> Any:
        wait = service.block_deletion_wait(host, utcnow())
        if wait is not None:
            # created by the API interception; its virtual Service is being stored right now
            raise Requeue(wait, "virtual service is being created")
        return super().host_only(host, virtual_seen_before)


KUBERNETES = ("default", "kubernetes")


def _endpoints_decision_changed(event: str, svc: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """A virtual Service event that can change whether its endpoints are synced (§5.2): it came,
    went, or gained or lost its selector."""
    return event != "update" or endpoints.should_sync(svc) != endpoints.should_sync(old)


def watch_services(controller: Any, enqueue: Callable[[str, str], None]) -> None:
    """vCluster's endpoints syncers watch the virtual Services: a Service that gains or loses its
    selector changes who keeps its endpoints on the host, with no change of the endpoints object
    itself (the host's controller leaves them as they are), so `enqueue(namespace, service)`."""

    def on_service(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if _endpoints_decision_changed(event, obj, old):
            m = metadata.meta(obj)
            enqueue(m.get("namespace", ""), m.get("name", ""))

    controller.engine.virtual_services.add_handler(on_service)


class EndpointsSyncer(KindSyncer):
    """Endpoints of selector-less Services (the host's controller makes the others); the virtual
    `default/kubernetes` Endpoints mirror the host Endpoints of the virtual cluster's Service, or
    name the virtual API server itself while the host has none (a virtual cluster run outside it)."""

    def wants(self, virtual: Mapping[str, Any]) -> bool:
        assert self.engine is not None
        m = metadata.meta(virtual)
        if (m.get("namespace"), m.get("name")) == KUBERNETES:
            return False  # mirrors the host Service of the virtual cluster, not synced
        svc = self.engine.virtual_services.get(m.get("name", ""), m.get("namespace") or None)
        return endpoints.should_sync(svc)

    # ---- default/kubernetes: the host `<HNS>/<vc name>` Endpoints come to this key (§5.1)
    def _is_vc_endpoints(self, host: Mapping[str, Any]) -> bool:
        assert self.engine is not None
        m = metadata.meta(host)
        return (m.get("namespace"), m.get("name")) == (self.engine.ctx.host_namespace, self.engine.name)

    def adopts(self, host: Mapping[str, Any]) -> bool:
        return self._is_vc_endpoints(host)

    def virtual_name(self, ctx: Any, host: Mapping[str, Any]) -> tuple[str, str] | None:
        return KUBERNETES if self._is_vc_endpoints(host) else super().virtual_name(ctx, host)

    def host_name(self, ctx: Any, namespace: str, name: str) -> tuple[str, str]:
        if (namespace, name) == KUBERNETES:
            assert self.engine is not None
            return ctx.host_namespace, self.engine.name
        return super().host_name(ctx, namespace, name)

    def attach(self, controller: Any) -> None:
        """A change of the virtual `default/kubernetes` EndpointSlice brings the mirror back; a
        Service's selector change decides the Endpoints of the same name again."""
        watch_services(controller, controller.enqueue)
        slices = kinds.ENDPOINT_SLICE
        self._vslices = controller.engine.virtual_informers.informer(slices.api_version, slices.plural)

        def on_slice(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            m = metadata.meta(obj)
            if (m.get("namespace"), m.get("name")) == KUBERNETES:
                controller.enqueue(*KUBERNETES)

        self._vslices.add_handler(on_slice)

    async def _mirror_kubernetes(self, virtual: Mapping[str, Any] | None, host: Mapping[str, Any]) -> None:
        """vCluster's k8sdefaultendpoint controller: the host endpoints, `https` port only, and the
        EndpointSlice kube-apiserver keeps beside them (vCluster writes it only when the Endpoints
        changed; here it is compared every time, so an edited or deleted slice comes back)."""
        assert self.engine is not None
        writer = self.engine.writer
        want = endpoints.kubernetes_endpoints(host)
        action, body = endpoints.kubernetes_endpoints_patch(virtual, want)
        if action == "create" and body is not None:
            await writer.create_virtual(self.kind, body)
        elif action == "patch" and body and virtual is not None:
            await writer.patch_virtual(self.kind, virtual, body)
        slices = kinds.ENDPOINT_SLICE
        current = self._vslices.get(KUBERNETES[1], KUBERNETES[0])
        action, body = endpoints.kubernetes_endpoint_slice_patch(current, want)
        if action == "recreate" and current is not None:
            uid = metadata.meta(current).get("uid")
            await writer.delete(
                writer.virtual, slices, current, Delete("virtual", "address type changed", uid=uid)
            )
            action = "create"
        if action == "create" and body is not None:
            await writer.create_virtual(slices, body)
        elif action == "patch" and body and current is not None:
            await writer.patch_virtual(slices, current, body)

    # ---- vCluster's ReconcileStart (§5.2)
    def _host_service_has_selector(self, namespace: str, name: str) -> bool:
        """The host Service still selects pods (so the host controller would recreate its endpoints)."""
        assert self.engine is not None
        services = self.engine.controllers.get("services")
        if services is None:
            return False
        hns, hname = services.ks.host_name(self.engine.ctx, namespace, name)
        return not endpoints.should_sync(services.hinf.get(hname, hns or None) or {"spec": {}})

    async def reconcile_start(
        self, namespace: str, name: str, virtual: Mapping[str, Any] | None, host: Mapping[str, Any] | None
    ) -> Delete | bool:
        """Before the generic reconcile: True = done with this key, a Delete = remove that host object
        first. A host Endpoints object without `object-name` is the host controller's: it is never
        synced nor deleted as ours, only replaced once the Service has no selector on both sides."""
        if (namespace, name) == KUBERNETES:
            assert self.engine is not None
            source = host
            if source is None and self.engine.api_address:
                source = endpoints.api_server_endpoints(self.engine.api_address, self.engine.api_port)
            if source is not None:
                await self._mirror_kubernetes(virtual, source)
            return True
        if host is None:
            return False
        assert self.engine is not None
        svc = self.engine.virtual_services.get(name, namespace or None)
        decision = endpoints.host_endpoints_decision(svc, host)
        if decision is None:
            return not endpoints.is_vcluster_copy(host)
        if endpoints.should_sync(svc) and self._host_service_has_selector(namespace, name):
            raise Requeue(1.0, "the host service still has a selector")
        return decision


class EndpointSliceSyncer(KindSyncer):
    """EndpointSlices of selector-less Services (the host's controller makes the others), except
    those the virtual cluster's EndpointSlice mirroring controller made from Endpoints: the host's
    own mirroring controller makes them from the synced Endpoints, and a synced copy, carrying its
    managed-by label, would be adopted and rewritten by it (two writers of one object)."""

    def attach(self, controller: Any) -> None:
        """A Service's selector change decides its slices again (`kubernetes.io/service-name`)."""

        def enqueue_slices(namespace: str, service: str) -> None:
            for vslice in controller.vinf.list(namespace):
                if metadata.labels_of(vslice).get(endpointslice.SERVICE_NAME_LABEL) == service:
                    controller.enqueue(namespace, metadata.meta(vslice).get("name", ""))

        watch_services(controller, enqueue_slices)

    def wants(self, virtual: Mapping[str, Any]) -> bool:
        assert self.engine is not None
        m = metadata.meta(virtual)
        svc_name = metadata.labels_of(virtual).get("kubernetes.io/service-name", "")
        if (m.get("namespace"), svc_name) == ("default", "kubernetes") or not svc_name:
            return False
        if metadata.labels_of(virtual).get(endpointslice.MANAGED_BY_LABEL) == endpointslice.MIRRORING_MANAGER:
            return False
        svc = self.engine.virtual_services.get(svc_name, m.get("namespace") or None)
        return endpoints.should_sync(svc)


class IngressSyncer(KindSyncer):
    """Ingresses; with `fromHost.ingressClasses.selector`, only those of a selected host class (§5.3)."""

    _controller: Any = None
    _watching_classes = False

    def attach(self, controller: Any) -> None:
        self._controller = controller

    def _on_class(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """A host IngressClass changed (labels, created, deleted): its ingresses are checked again."""
        name = metadata.meta(obj).get("name")
        for ving in self._controller.vinf.list():
            if (ving.get("spec") or {}).get("ingressClassName") == name:
                m = metadata.meta(ving)
                self._controller.enqueue(m.get("namespace", ""), m.get("name", ""))

    def _class_block(self, virtual: Mapping[str, Any]) -> Blocked | None:
        assert self.engine is not None
        if ingress.class_to_check(virtual, self.engine.ctx) is None:
            return None
        # the from-host IngressClass controller's informer (shared), running with the selector
        ic = kinds.INGRESS_CLASS
        classes = self.engine.host_informers.informer(ic.api_version, ic.plural)
        if not self._watching_classes and self._controller is not None:
            self._watching_classes = True  # from the first check on: the selector may come with a reload
            classes.add_handler(self._on_class)
        if not classes.has_synced:
            return Blocked("host ingress classes not listed yet", requeue_after=1.0)
        ev = ingress.ingress_precondition(virtual, self.engine.ctx, classes.get)
        return None if ev is None else Blocked(ev.message, event=(ev.type, ev.reason, ev.message))

    async def precondition(self, virtual: Mapping[str, Any], host_seen_before: bool) -> Blocked | None:
        return self._class_block(virtual)

    async def sync(
        self,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        virtual_old: Mapping[str, Any] | None,
        host_old: Mapping[str, Any] | None,
    ) -> SyncResult:
        assert self.engine is not None
        if self._class_block(virtual) is not None:
            return SyncResult(dict(virtual), dict(host))  # as vCluster: left alone while not selected
        return ingress.sync_ingress(virtual, host, virtual_old, host_old, self.engine.ctx)


def build(name: str) -> KindSyncer | None:
    """The KindSyncer for a `sync.toHost` kind name, or None when this engine has none."""
    if name == "pods":
        return PodSyncer()
    if name == "configmaps":
        return UsedOnlySyncer(
            "configmap", kinds.CONFIGMAP, configmap.FIELDS, configmap.translate_configmap,
            configmap.sync_configmap, extra={"used": configmap.is_used},
        )  # fmt: skip
    if name == "secrets":
        return UsedOnlySyncer(
            "secret", kinds.SECRET, secret.FIELDS, secret.translate_secret, secret.sync_secret,
            extra={"used": secret.is_used},
        )  # fmt: skip
    if name == "services":
        return ServiceSyncer(
            "service", kinds.SERVICE, service.FIELDS, service.translate_service, service.sync_service,
            uid_deletion=False,
        )  # fmt: skip
    if name == "persistentvolumeclaims":
        return ClaimSyncer()
    if name == "persistentvolumes":
        return PersistentVolumeSyncer()
    if name == "endpointslices":
        return EndpointSliceSyncer(
            "endpointslice", kinds.ENDPOINT_SLICE, endpointslice.FIELDS,
            endpointslice.translate_endpoint_slice, endpointslice.sync_endpoint_slice,
        )  # fmt: skip
    if name == "endpoints":
        return EndpointsSyncer(
            "endpoints",
            kinds.ENDPOINTS,
            endpoints.FIELDS,
            endpoints.translate_endpoints,
            endpoints.sync_endpoints,
        )
    if name == "ingresses":
        return IngressSyncer(
            "ingress", kinds.INGRESS, ingress.FIELDS, ingress.translate_ingress, ingress.sync_ingress
        )
    table: dict[str, tuple[str, Any, Any, Any, Any]] = {
        "serviceaccounts": ("serviceaccount", kinds.SERVICE_ACCOUNT, serviceaccount.FIELDS,
                            serviceaccount.translate_service_account, serviceaccount.sync_service_account),
        "networkpolicies": ("networkpolicy", kinds.NETWORK_POLICY, networkpolicy.FIELDS,
                            networkpolicy.translate_network_policy, networkpolicy.sync_network_policy),
        "poddisruptionbudgets": ("podDisruptionBudget", kinds.PDB, poddisruptionbudget.FIELDS,
                                 poddisruptionbudget.translate_pdb, poddisruptionbudget.sync_pdb),
        "priorityclasses": ("priorityclass", kinds.PRIORITY_CLASS, priorityclass.FIELDS,
                            priorityclass.translate_priority_class, priorityclass.sync_priority_class),
        "storageclasses": ("storageclass", kinds.STORAGE_CLASS, storageclass.TO_HOST_FIELDS,
                           storageclass.translate_storage_class, storageclass.sync_storage_class),
    }  # fmt: skip
    row = table.get(name)
    if row is None:
        return None
    return KindSyncer(*row)


# to-host kinds the engine serves (others the config accepts are named in a warning at start)
SUPPORTED_TO_HOST = (
    "pods",
    "services",
    "endpoints",
    "endpointslices",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "persistentvolumeclaims",
    "ingresses",
    "networkpolicies",
    "poddisruptionbudgets",
    "priorityclasses",
    "storageclasses",
    "persistentvolumes",
)
