"""The syncer: builds the translation context from the configuration and the host, starts one
controller per enabled kind plus nodes and events, and keeps the shared state (mappings, three-way
bases, informers, writers, metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from vcluster.client import ApiError, Client, Informer, SharedInformers, strip_managed_fields
from vcluster.config import VClusterConfig
from vcluster.controllers.base import EventRecorder
from vcluster.store.interface import Storage
from vcluster.syncer import coredns as coredns_manifests
from vcluster.syncer import kinds
from vcluster.syncer.configctx import context_from_config
from vcluster.syncer.engine import registry
from vcluster.syncer.engine.basestore import BaseStore
from vcluster.syncer.engine.classes import FROM_HOST_CLASSES, FromHostClassController
from vcluster.syncer.engine.controller import SyncController
from vcluster.syncer.engine.coredns import CoreDNSController
from vcluster.syncer.engine.events import EventController
from vcluster.syncer.engine.fakepvs import FakePVController
from vcluster.syncer.engine.imports import IMPORTED_KINDS, ImportController
from vcluster.syncer.engine.mappingstore import MappingStore
from vcluster.syncer.engine.nodes import NodeController
from vcluster.syncer.engine.servicesync import ServiceReplicator
from vcluster.syncer.engine.serviceupdate import host_refusal, intercept_service_update
from vcluster.syncer.engine.writer import TokenBucket, Writer
from vcluster.syncer.mappings import Reference
from vcluster.syncer.resources.service import SwitchesInFlight
from vcluster.syncer.servicesync import replications
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.syncer")

DNS_SERVICE = ("kube-system", "kube-dns")
# seconds a host list may be refused (401/403/404) at start before the start gives up
HOST_REFUSED_GRACE = 10.0
# seconds after `<name>-config` was deleted before it is written again (unless it came back)
CONFIG_RESTORE_DELAY = 1.0


class QueueCollector:
    """The work queues' figures, read when scraped (nothing to do per reconcile): ours per kind,
    and client-go's `workqueue_*` names (labelled `name`) that dashboards for vCluster's
    controller-runtime syncer read."""

    def __init__(self, queues: Callable[[], Iterable[Any]]) -> None:
        self._queues = queues

    def describe(self) -> list[Any]:
        return []  # queues come and go with live configuration changes

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("vcluster_syncer_queue_depth", "Queued keys per kind", labels=["kind"])
        retries = CounterMetricFamily(
            "vcluster_syncer_retries", "Rate-limited requeues (after a failure) per kind", labels=["kind"]
        )
        w_depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        w_adds = CounterMetricFamily(
            "workqueue_adds", "Total number of adds handled by workqueue", labels=["name"]
        )
        w_retries = CounterMetricFamily(
            "workqueue_retries", "Total number of retries handled by workqueue", labels=["name"]
        )
        for q in self._queues():
            depth.add_metric([q.name], len(q))
            retries.add_metric([q.name], q.retries_total)
            w_depth.add_metric([q.name], len(q))
            w_adds.add_metric([q.name], q.adds_total)
            w_retries.add_metric([q.name], q.retries_total)
        yield from (depth, retries, w_depth, w_adds, w_retries)


class SyncMetrics:
    def __init__(self, registry_: CollectorRegistry | None) -> None:
        r = self.registry = registry_ or CollectorRegistry()
        self.latency = Histogram(
            "vcluster_syncer_reconcile_seconds", "Reconcile latency per kind", ["kind"], registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.syncs = Counter(
            "vcluster_syncer_actions_total", "Sync actions per kind", ["kind", "action"], registry=r
        )
        self.errors = Counter(
            "vcluster_syncer_errors_total", "Failed reconciles per kind", ["kind"], registry=r
        )

    def watch_queues(self, queues: Callable[[], Iterable[Any]]) -> None:
        """Report the queues `queues()` returns at each scrape (until `close`)."""
        self._queue_collector = QueueCollector(queues)
        self.registry.register(self._queue_collector)

    def collect(self) -> Iterator[Any]:
        """The syncer's own metrics only (the registry also holds the API server's): what vCluster
        serves at `/metrics/syncer` from its controller-runtime registry (spec 8.7)."""
        for collector in (self.latency, self.syncs, self.errors, getattr(self, "_queue_collector", None)):
            if collector is not None:
                yield from collector.collect()

    def close(self) -> None:
        with contextlib.suppress(KeyError, AttributeError):
            self.registry.unregister(self._queue_collector)


def virtual_names(text: str, host_namespace: str, hname: str, namespace: str, name: str) -> str:
    """A host answer's text about a host pod, with the virtual pod's names in place of the host's."""
    return text.replace(f"{host_namespace}/{hname}", f"{namespace}/{name}").replace(hname, name)


def virtual_refusal(e: Any, host_namespace: str, hname: str, namespace: str, name: str) -> Any:
    """The host's refusal of a relayed exec/attach/port-forward (`podexec.UpstreamRefused`) as the
    virtual cluster's StatusError: the host pod's names replaced by the virtual ones."""
    from vcluster.apiserver.errors import StatusError

    def virtual(text: str) -> str:
        return virtual_names(text, host_namespace, hname, namespace, name)

    st = e.status_object()
    if st is None:
        reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
        code = e.status if e.status in reasons else 500
        return StatusError(code, reasons.get(code, "InternalError"), virtual(e.text), {})
    details = dict(st["details"]) if isinstance(st.get("details"), dict) else None
    if details is not None:
        if isinstance(details.get("name"), str):
            details["name"] = virtual(details["name"])
        if isinstance(details.get("causes"), list):
            details["causes"] = [
                {**c, "message": virtual(c["message"])} if isinstance(c.get("message"), str) else c
                for c in details["causes"]
                if isinstance(c, dict)
            ]
    code = st["code"] if isinstance(st.get("code"), int) else e.status
    return StatusError(code, str(st.get("reason") or ""), virtual(str(st.get("message") or "")), details)


class Syncer:
    """Everything one virtual cluster's syncer runs."""

    def __init__(
        self,
        *,
        name: str,
        host_namespace: str,
        config: VClusterConfig,
        virtual: Client,
        host: Client,
        store: Storage,
        metrics_registry: CollectorRegistry | None = None,
        api_port: int = 443,
        api_address: str = "",
        virtual_informers: SharedInformers | None = None,
    ) -> None:
        self.name = name
        self.host_namespace = host_namespace
        self.config = config
        self.virtual = virtual
        self.host = host
        self.api_port = api_port
        self.api_address = api_address  # where default/kubernetes points while the host has no endpoints
        eng = config.experimental.engine
        self.retry_base_delay = eng.retry_base_delay
        self.conflict_delay = eng.conflict_requeue_delay
        self.retry_max_delay = eng.retry_max_delay
        self.ctx = context_from_config(config, name=name, host_namespace=host_namespace)
        self.mappings = MappingStore(store)
        self.bases = BaseStore(store)
        self.metrics = SyncMetrics(metrics_registry)
        self.metrics.watch_queues(self._queues)
        self.writer = Writer(
            virtual,
            host,
            TokenBucket(eng.host_qps, eng.host_burst),
            TokenBucket(eng.virtual_qps, eng.virtual_burst),
        )
        # The controllers' informers when they run in this process on the same client: one watch
        # per kind for both, each event decoded once.
        self._own_virtual_informers = virtual_informers is None
        informer_options: dict[str, Any] = {
            "resync_seconds": eng.resync_period or None,
            "silence_timeout": eng.watch_silence_timeout,
            # the syncer never reads managedFields (it strips them from what it copies); a host
            # pod's are a third of it
            "transform": strip_managed_fields,
        }
        self.virtual_informers = virtual_informers or SharedInformers(virtual, **informer_options)
        self.host_informers = SharedInformers(host, **informer_options)
        self.virtual_events = EventRecorder(virtual, "vcluster-syncer")
        self.host_events = EventRecorder(host, "vcluster-syncer")  # about host objects (the config)
        self.controllers: dict[str, SyncController] = {}
        self.extra: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._controller_tasks: dict[str, asyncio.Task[Any]] = {}
        self._extra_tasks: dict[str, asyncio.Task[Any]] = {}
        self._special_pending: set[str] = set()
        self._special_event = asyncio.Event()
        # (namespace, service account, TokenRequest body) -> answer, when in the API server's process
        self.local_token_request: Any = None
        self.virtual_namespaces = self.virtual_informers.informer("v1", "namespaces")
        self.virtual_services = self.virtual_informers.informer("v1", "services")
        # intercepted updates away from ExternalName between the host switch and the virtual store
        self.service_switches = SwitchesInFlight()

    # ------------------------------------------------------------------ lookups for kind syncers
    def mapping_lookup(self, kind: Any, host_namespace: str, host_name: str) -> tuple[str, str] | None:
        """Reverse name lookup through the mappings store (owners and references)."""
        return self.mappings.virtual_for_host(kind, host_namespace, host_name)

    def controller_for(self, group: str, kind: str) -> SyncController | None:
        """The running to-host controller of a kind, by API group and Kind name."""
        return next(
            (c for c in self.controllers.values() if (c.ks.kind.group, c.ks.kind.kind) == (group, kind)), None
        )

    def owner_lookup(self, kind: Any, host_namespace: str, host_name: str) -> tuple[str, str] | None:
        """The store's half of `IsManaged`: only objects this syncer synced (owners)."""
        return self.mappings.owner_for_host(kind, host_namespace, host_name)

    def virtual_node_exists(self, name: str) -> bool:
        """Whether the virtual node `name` is in the cache (a pod can be bound to it)."""
        nodes = self.extra.get("nodes")
        return nodes is not None and nodes.exists(name)

    async def ensure_virtual_node(self, name: str) -> None:
        """A synced pod runs on host node `name`: have the node controller's queue create the
        virtual node if the node is to exist (§9.1), and wait for it a moment."""
        nodes = self.extra.get("nodes")
        if nodes is not None:
            await nodes.ensure(name)

    async def mint_token(self, namespace: str, service_account: str, body: dict[str, Any]) -> str:
        """A service-account token from the virtual API server (TokenRequest bound to the pod):
        through `local_token_request` when the syncer runs in the API server's process (the same
        TokenREST logic without an HTTPS round trip), else through the API."""
        if self.local_token_request is not None:
            return self.local_token_request(namespace, service_account, body)["status"]["token"]
        out = await self.virtual.create(
            "v1", "serviceaccounts", body, namespace, subresource="token", name=service_account
        )
        return out["status"]["token"]

    async def bind_virtual_pod(self, vpod: Mapping[str, Any], node: str) -> None:
        from vcluster.syncer.resources.pod import binding

        m = vpod.get("metadata") or {}
        try:
            await self.virtual.create(
                "v1",
                "pods",
                binding(vpod, node),
                m.get("namespace"),
                subresource="binding",
                name=m.get("name"),
            )
        except ApiError as e:
            if not e.conflict:
                raise

    async def intercept_service_create(self, vsvc: dict[str, Any]) -> Any:
        """Create the host Service first and give the virtual one its ClusterIP(s), ports and
        status before it is stored (spec §5.1); returns the undo for a failed virtual create."""
        from vcluster.syncer import metadata
        from vcluster.syncer.resources import service as svcres

        vm = vsvc.get("metadata") or {}
        if "services" not in self.controllers or (vm.get("namespace"), vm.get("name")) == (
            "default",
            "kubernetes",
        ):
            return None
        if metadata.is_controlled_by_other(vsvc):
            return None  # not the service syncer's (a replica of a host service, §5.4)
        host_obj = svcres.translate_service_for_proxy(vsvc, self.ctx).obj  # with block-deletion
        undo_needed = True
        from vcluster.apiserver.errors import StatusError

        hm = host_obj["metadata"]
        try:
            created = self._own_host_service(hm["name"], vsvc)
            if created is not None:
                undo_needed = False  # our own host Service of this virtual one (the syncer recreating it)
            else:
                try:
                    created = await self.writer.create_host(kinds.SERVICE, host_obj)
                except ApiError as e:
                    if not e.already_exists:
                        raise
                    created = await self.host.get("v1", "services", hm["name"], hm["namespace"])
                    if not self.same_virtual(created, vsvc):
                        raise StatusError(
                            409,
                            "AlreadyExists",
                            f'services "{vm.get("name")}" cannot be created: the host cluster already has '
                            f"a Service {hm['namespace']}/{hm['name']} that this virtual cluster does not "
                            "manage",
                            {"name": vm.get("name"), "kind": "services"},
                        ) from None
                    undo_needed = False
        except ApiError as e:  # the host refused or cannot be reached: say so, with virtual names
            raise host_refusal(e, self.host_namespace, hm["name"], vm, "the Service") from None
        merged = svcres.virtual_from_host_create(vsvc, created)
        vsvc["spec"] = merged.get("spec", vsvc.get("spec"))
        if "status" in merged:
            vsvc["status"] = merged["status"]
        hm = created["metadata"]
        vref, href = f"{vm.get('namespace')}/{vm.get('name')}", f"{hm['namespace']}/{hm['name']}"
        fields = {"action": "Create host", "kind": "service", "virtual": vref, "host": href}
        log.info(
            "Create host service %s (host %s), by the API interception", vref, href, extra={"fields": fields}
        )

        async def undo() -> None:
            with contextlib.suppress(ApiError):
                await self.host.delete("v1", "services", hm["name"], hm["namespace"])

        return undo if undo_needed else None

    async def intercept_service_update(self, old: dict[str, Any], new: dict[str, Any]) -> Any:
        """A client's PUT of a Service away from ExternalName: the host Service switches first and
        `new` gets its ClusterIP before it is stored (`serviceupdate`); returns the undo or None."""
        return await intercept_service_update(self, old, new)

    def _own_host_service(self, host_name: str, vsvc: Mapping[str, Any]) -> dict[str, Any] | None:
        """The cached host Service that already stands for this virtual one (the syncer recreates
        a virtual Service with the host's ClusterIP, or the virtual one was deleted and created
        again before its host copy went): taken as it is. Creating it again would not even reach
        the name conflict, as the create asks for the ClusterIP that Service holds ("provided IP
        is already allocated")."""
        from vcluster.syncer import metadata

        services = self.controllers.get("services")
        host = services.hinf.get(host_name, self.host_namespace) if services is not None else None
        if host is None or metadata.is_deleting(host) or not self.same_virtual(host, vsvc):
            return None
        return host

    def same_virtual(self, host: Mapping[str, Any], virtual: Mapping[str, Any]) -> bool:
        """A managed host object that stands for this virtual object (by name and namespace)."""
        from vcluster.syncer import constants as c
        from vcluster.syncer import metadata

        if not metadata.is_managed(host, self.ctx, kinds.SERVICE, self.owner_lookup):
            return False
        ann, vm = metadata.annotations_of(host), virtual.get("metadata") or {}
        return ann.get(c.NAME_ANNOTATION) == vm.get("name") and ann.get(c.NAMESPACE_ANNOTATION) == vm.get(
            "namespace"
        )

    def _synced_host_pod(self, namespace: str, name: str) -> str:
        """The host name of virtual pod namespace/name for logs/exec/attach/port-forward, refused
        (400) unless a host pod of that name exists and is this virtual cluster's: the request
        must never reach someone else's pod."""
        from vcluster.apiserver.errors import StatusError
        from vcluster.syncer import constants as c
        from vcluster.syncer import metadata

        hname = self.ctx.host_name_for(kinds.POD, name, namespace)
        pods = self.controllers.get("pods")
        host = pods.hinf.get(hname, self.host_namespace) if pods is not None else None
        ours = (
            host is not None
            and metadata.is_managed(host, self.ctx, kinds.POD, self.owner_lookup)
            and metadata.annotations_of(host).get(c.NAME_ANNOTATION, name) == name
        )
        if not ours:
            raise StatusError(400, "BadRequest", f'pod "{name}" is not running in the host cluster yet', {})
        return hname

    async def proxy_pod_log(self, namespace: str, name: str, request: Any) -> Any:
        """`pods/<name>/log` of a virtual pod, streamed from its host pod (vCluster's proxy does
        the same, §8.9); host names in error messages are replaced by the virtual ones."""
        from aiohttp import web

        from vcluster.apiserver.errors import StatusError

        hname = self._synced_host_pod(namespace, name)
        path = f"/api/v1/namespaces/{self.host_namespace}/pods/{hname}/log"
        resp: web.StreamResponse | None = None
        try:
            async with self.host.stream("GET", path, dict(request.query)) as upstream:
                resp = web.StreamResponse(status=upstream.status)
                resp.content_type = upstream.content_type or "text/plain"
                await resp.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
                return resp
        except ApiError as e:
            if resp is not None:
                raise  # the stream broke half way: nothing more to say to the client
            msg = virtual_names(e.message or "", self.host_namespace, hname, namespace, name)
            if e.status == 0:
                raise StatusError(
                    503, "ServiceUnavailable", f"the host cluster is unreachable: {msg}", {}
                ) from None
            raise StatusError(e.status, e.reason or "", msg, {}) from None

    async def proxy_pod_exec(self, sub: str, namespace: str, name: str, container: str, request: Any) -> Any:
        """`pods/<name>/exec`, `/attach` or `/portforward` (`sub`) of a virtual pod, relayed to its
        host pod's (the same query, the container named explicitly unless `container` is empty):
        WebSocket messages are copied both ways as they are; a refusal by the host becomes the
        same Status with the virtual names."""
        from yarl import URL

        from vcluster.apiserver import podexec
        from vcluster.apiserver.errors import StatusError

        hname = self._synced_host_pod(namespace, name)
        path = f"/api/v1/namespaces/{self.host_namespace}/pods/{hname}/{sub}"
        query = [(k, v) for k, v in request.query.items() if k != "container" or not container]
        if container:
            query.append(("container", container))
        url = URL(self.host.server + path, encoded=True).with_query(query)
        cfg = self.host.config
        headers = {"User-Agent": self.host.user_agent, **cfg.headers}
        auth = cfg.auth_header()
        if auth:
            headers["Authorization"] = auth
        try:
            return await podexec.proxy_stream(
                request,
                url,
                ssl=cfg.ssl if url.scheme == "https" else False,
                headers=headers,
                server_hostname=cfg.tls_server_name,
                protocols=podexec.PORTFORWARD_PROTOCOLS if sub == "portforward" else podexec.PROTOCOLS,
            )
        except podexec.UpstreamRefused as e:
            if e.upgrade_required:
                raise podexec.spdy_unsupported(request, sub) from None
            raise virtual_refusal(e, self.host_namespace, hname, namespace, name) from None
        except podexec.UpstreamUnreachable as e:
            raise StatusError(
                503, "ServiceUnavailable", f"the host cluster is unreachable: {e.dial_message()}", {}
            ) from None

    async def proxy_subresource(self, target: Any, request: Any) -> Any:
        """`pods/proxy`, `services/proxy` (its endpoint's pod) and `nodes/proxy` of the virtual
        cluster, relayed to the host objects (`proxyrelay.py`, spec §8.9)."""
        from vcluster.syncer.engine.proxyrelay import ProxyRelay

        return await ProxyRelay(self).relay(target, request)

    async def intercept_node_write(
        self, old: dict[str, Any], new: dict[str, Any], subresource: str
    ) -> bytes | None:
        """A client's update or patch of a real virtual node with `syncBackChanges` (spec §8.9):
        its labels, taints and `unschedulable` (`status.capacity` for /status) are merge-patched
        onto the host node, and the answer is the virtual node once the syncer has copied the
        change back (at most 4 s); the virtual node is not written directly. None: not ours to
        intercept (the normal write goes on)."""
        from vcluster.apiserver.errors import StatusError
        from vcluster.syncer.resources import node as noderes

        nodes_cfg = self.config.sync.from_host.nodes
        nodes = self.extra.get("nodes")
        if not (nodes_cfg.enabled and nodes_cfg.sync_back_changes) or nodes is None or nodes.hnodes is None:
            return None
        name = (new.get("metadata") or {}).get("name", "")
        host = nodes.hnodes.get(name)
        if host is None:
            return None  # no host node behind it: an ordinary virtual write
        patch = noderes.sync_back_patch(old, new, host, subresource)
        if patch is not None:
            log.info("Update host node %s (from a change of the virtual node)", name)
            try:
                await self.writer.patch_host(kinds.NODE, host, patch, status=subresource == "status")
            except ApiError as e:
                raise StatusError(e.status or 500, e.reason or "", e.message or "", {}) from None
            await nodes.vnodes.wait_until(name, None, lambda v: noderes.synced_back(v, new, subresource), 4.0)
        current = await self.virtual.get("v1", "nodes", name)
        return orjson.dumps(current)

    # ------------------------------------------------------------------ start / stop
    async def _host_facts(self) -> dict[str, Any]:
        """The host Service of this virtual cluster (kube IP, owner) and the DNS Service IP."""
        facts: dict[str, Any] = {}
        try:
            svc = await self.host.get("v1", "services", self.name, self.host_namespace)
            facts["kube_ip"] = (svc.get("spec") or {}).get("clusterIP") or ""
            facts["owner_uid"] = (svc.get("metadata") or {}).get("uid", "")
        except ApiError as e:
            if not e.not_found:
                raise
        if (minor := await self._host_minor()) is not None:
            facts["host_minor"] = minor
        return facts

    async def _host_minor(self) -> int | None:
        """The host's Kubernetes minor version from `/version` (`"32"`, or `"32+"` on some
        distributions); None when it does not say (the pod translation then assumes 1.32)."""
        try:
            status, _, body = await self.host.request("GET", "/version")
            minor = str(orjson.loads(body).get("minor", "")) if status == 200 else ""
        except (ApiError, ValueError, AttributeError):
            return None
        digits = "".join(itertools.takewhile(str.isdigit, minor))
        if not digits:
            return None
        log.info("host cluster is Kubernetes 1.%s", digits)
        return int(digits)

    async def ensure_host_service(self) -> None:
        """The host Service `<name>` standing for the virtual API server (vCluster's Helm chart
        creates it; pods' KUBERNETES_* variables and `default/kubernetes` mirror it)."""
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": self.name,
                "namespace": self.host_namespace,
                "labels": {"app": "vcluster", "release": self.name},
            },
            "spec": {
                "type": "ClusterIP",
                "ports": [{"name": "https", "port": 443, "targetPort": self.api_port, "protocol": "TCP"}],
            },
        }
        await self._ensure(self.host, "services", body, self.host_namespace)
        # the account host pods run as unless service accounts are synced (the Helm chart's)
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": self.ctx.workload_sa}}
        await self._ensure(self.host, "serviceaccounts", sa, self.host_namespace)

    def write_kubeconfig_secret(self, kubeconfig: Mapping[str, Any]) -> None:
        """Write the host Secret `vc-<name>` with the virtual cluster's admin `kubeconfig` in the
        background, retried every 10 s until the host takes it (spec §8.1 step 5, §10)."""
        from vcluster.syncer.engine import kubeconfigsecret

        task = asyncio.create_task(
            kubeconfigsecret.keep_writing(self.host, self.ctx, kubeconfig), name="kubeconfig-secret"
        )
        self._tasks.append(task)

    async def _apply_coredns(self) -> None:
        """CoreDNS in the virtual cluster (its kube-dns Service's host ClusterIP is the pods' DNS
        server); retried in the background when the virtual API refuses."""
        try:
            await self.extra["coredns"].apply()
        except ApiError as e:
            log.warning("applying the CoreDNS manifests failed (retrying): %s", e.message)
            asyncio.get_running_loop().call_later(1.0, self._kick, "coredns")

    async def _ensure(self, client: Client, plural: str, body: dict[str, Any], namespace: str) -> None:
        """Create unless it exists (read first, so that a restart writes nothing)."""
        try:
            await client.get("v1", plural, body["metadata"]["name"], namespace)
            return
        except ApiError as e:
            if not e.not_found:
                log.warning(
                    "cannot read %s %s/%s: %s", plural, namespace, body["metadata"]["name"], e.message
                )
                return
        try:
            await client.create("v1", plural, body, namespace)
        except ApiError as e:
            if not e.already_exists:
                name = body["metadata"]["name"]
                log.warning("cannot create %s %s/%s: %s", plural, namespace, name, e.message)

    def _dns_ip(self) -> str:
        hns, hname = (
            self.host_namespace,
            self.ctx.host_name_for(kinds.SERVICE, DNS_SERVICE[1], DNS_SERVICE[0]),
        )
        svc = self.controllers["services"].hinf.get(hname, hns) if "services" in self.controllers else None
        return ((svc or {}).get("spec") or {}).get("clusterIP") or ""

    def _refresh_dns(self, *_: Any) -> None:
        ip = self._dns_ip()
        if ip and ip != self.ctx.dns_ip:
            self.ctx = self.ctx.replace(dns_ip=ip)
            log.info("DNS service IP is %s", ip)
            pods = self.controllers.get("pods")
            if pods is not None:
                for p in pods.vinf.list():
                    m = p.get("metadata") or {}
                    pods.enqueue(m.get("namespace", ""), m.get("name", ""))

    async def start(self) -> None:
        await self.ensure_host_service()
        facts = await self._host_facts()
        self.ctx = self.ctx.replace(**facts)
        n_map, n_base = await self.mappings.load(), await self.bases.load()
        log.info("loaded %d mappings and %d sync bases", n_map, n_base)
        if not_used := self.config.not_used_sections():
            log.warning(
                "set in the config but not used here (they configure vCluster's own deployment): %s",
                ", ".join(not_used),
            )
        for option in self.config.unimplemented():
            log.warning("not implemented by this engine (set in the config): %s", option)
        for direction, kind in self.config.enabled_kinds():
            if direction != "toHost":
                continue
            ks = registry.build(kind)
            if ks is not None:
                self.controllers[kind] = SyncController(self, ks)
        for kind in ("configmaps", "secrets"):
            c = self.controllers.get(kind)
            if c is not None:
                singular = "ConfigMap" if kind == "configmaps" else "Secret"
                self.mappings.on_reference_change(singular, lambda k, ns, n, c=c: c.enqueue(ns, n))
        self.extra["nodes"] = NodeController(self)
        for name, make in self._switchable(self.config).items():
            self.extra[name] = make()
        self.extra["servicesync"] = ServiceReplicator(self)
        if self.config.control_plane.coredns.enabled:
            self.extra["coredns"] = CoreDNSController(self)
        if "services" in self.controllers:
            self.controllers["services"].hinf.add_handler(self._refresh_dns)
        self._config_cm = self.host_informers.informer(
            "v1", "configmaps", self.host_namespace, field_selector=f"metadata.name={self.name}-config"
        )
        self._config_cm.add_handler(self._on_config_map)
        self._host_vc_svc = self.host_informers.informer(
            "v1", "services", self.host_namespace, field_selector=f"metadata.name={self.name}"
        )
        self._host_vc_svc.add_handler(lambda *_: self._kick("kubernetes"))
        self.virtual_services.add_handler(
            lambda ev, obj, old: (
                self._kick("kubernetes")
                if (obj.get("metadata") or {}).get("name") == "kubernetes"
                and (obj.get("metadata") or {}).get("namespace") == "default"
                else None
            )
        )
        await self.virtual_informers.start()
        await self.host_informers.start()
        await self.virtual_informers.wait_synced(timeout=120)
        # a list the host refuses (no RBAC for a namespace an import or replication reads) stops
        # the start after a grace period for RBAC that is still being applied, with its reason
        await self.host_informers.wait_synced(timeout=120, refused_grace=HOST_REFUSED_GRACE)
        migrated = 0
        for c in self.controllers.values():
            migrated += await c.migrate()
        if migrated:
            log.info("migrated %d mappings lost before a restart", migrated)
        if "coredns" in self.extra:
            await self._apply_coredns()
        else:
            await self._ensure(self.virtual, "services", coredns_manifests.service(), "kube-system")
        self._refresh_dns()
        workers = self.config.workers_for
        for kind, c in self.controllers.items():
            self._controller_tasks[kind] = asyncio.create_task(c.run(workers(kind)), name=f"sync-{kind}")
        for name, c in self.extra.items():
            self._extra_tasks[name] = asyncio.create_task(c.run(workers(name)), name=f"sync-{name}")
        self._tasks.append(asyncio.create_task(self._mapping_gc(), name="mapping-gc"))
        self._tasks.append(asyncio.create_task(self._specials(), name="special-services"))
        self._kick("kubernetes")
        log.info("Successfully started vCluster controllers: %s", ", ".join([*self.controllers, *self.extra]))

    # ------------------------------------------------------------------ special objects
    def _kick(self, what: str) -> None:
        self._special_pending.add(what)
        self._special_event.set()

    async def _specials(self) -> None:
        """Serial loop for the one-of-a-kind objects (default/kubernetes, configuration reloads)."""
        while True:
            await self._special_event.wait()
            self._special_event.clear()
            pending, self._special_pending = self._special_pending, set()
            for what in sorted(pending):
                try:
                    if what == "kubernetes":
                        await self._sync_kubernetes_service()
                    elif what == "config":
                        await self._reload_config()
                    elif what == "config-restore":
                        await self._restore_config_map()
                    elif what == "coredns":
                        await self.extra["coredns"].apply()
                except ApiError as e:
                    log.warning("syncing %s failed (retrying): %s", what, e.message)
                    asyncio.get_running_loop().call_later(1.0, self._kick, what)
                except Exception:
                    log.exception("syncing %s failed (retrying)", what)
                    asyncio.get_running_loop().call_later(5.0, self._kick, what)

    async def _sync_kubernetes_service(self) -> None:
        """Virtual `default/kubernetes` mirrors the host Service `<name>` (spec §5.1)."""
        from vcluster.syncer.resources import service as svcres

        host_svc = self._host_vc_svc.get(self.name, self.host_namespace)
        vsvc = self.virtual_services.get("kubernetes", "default")
        if host_svc is None:
            return
        if vsvc is None:
            log.info("creating virtual service default/kubernetes (it was deleted)")
            try:
                await self.virtual.create("v1", "services", svcres.kubernetes_service(host_svc), "default")
            except ApiError as e:
                if not e.already_exists:
                    raise
            return
        action, body = svcres.kubernetes_service_update(vsvc, host_svc)
        if action == "recreate" and body is not None:
            log.info("recreating virtual service default/kubernetes with the host ClusterIP")
            uid = (vsvc.get("metadata") or {}).get("uid")
            try:
                await self.virtual.delete(
                    "v1", "services", "kubernetes", "default", preconditions={"uid": uid} if uid else None
                )
            except ApiError as e:
                if not e.not_found:
                    raise
            try:
                await self.virtual.create("v1", "services", body, "default")
            except ApiError as e:
                if not e.already_exists:
                    raise
        elif action == "patch" and body:
            await self.writer.patch_virtual(kinds.SERVICE, vsvc, body)

    def _on_config_map(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            self._kick("config")
        else:  # a moment later, so that a delete-and-create (`kubectl replace --force`) is not raced
            asyncio.get_running_loop().call_later(CONFIG_RESTORE_DELAY, self._kick, "config-restore")

    async def _restore_config_map(self) -> None:
        """`<name>-config` was deleted: write it again with the running configuration, which stays."""
        from vcluster.config import effective_config_map

        if self._config_cm.get(f"{self.name}-config", self.host_namespace) is not None:
            return
        cm = effective_config_map(self.config, self.name, self.host_namespace)
        try:
            await self.host.create("v1", "configmaps", cm, self.host_namespace)
        except ApiError as e:
            if not e.already_exists:
                raise
            return
        log.warning(
            "host ConfigMap %s/%s was deleted: written again with the running configuration "
            "(edit it to change the configuration)",
            self.host_namespace,
            cm["metadata"]["name"],
        )

    async def _reload_config(self) -> None:
        """Apply an edited `<name>-config` ConfigMap: sync switches at once, the rest on restart."""
        from vcluster.config import ConfigError, diff_config, restart_required
        from vcluster.config.loader import config_from_config_map

        cm = self._config_cm.get(f"{self.name}-config", self.host_namespace)
        if cm is None:
            return
        try:
            new = config_from_config_map(cm)
        except ConfigError as e:
            log.error("ignoring the edited configuration, it is invalid:\n%s", e)
            # where the editor looks: `kubectl describe configmap <name>-config`
            msg = f"the edited configuration is invalid and was not applied (the running one stays): {e}"
            self.host_events.event(cm, "Warning", "InvalidConfig", msg[:1024])
            return
        changed = diff_config(self.config, new)
        if not changed:
            return
        later = restart_required(changed)
        if later:
            log.warning("configuration changes that apply after a restart: %s", ", ".join(later))
        log.info("applying configuration changes: %s", ", ".join(p for p in changed if p not in later))
        facts = {k: getattr(self.ctx, k) for k in ("kube_ip", "dns_ip", "owner_uid", "host_minor")}
        eng = new.experimental.engine
        if eng != self.config.experimental.engine:
            self.writer.host_limit = TokenBucket(eng.host_qps, eng.host_burst)
            self.writer.virtual_limit = TokenBucket(eng.virtual_qps, eng.virtual_burst)
            self.retry_base_delay, self.retry_max_delay = eng.retry_base_delay, eng.retry_max_delay
            self.conflict_delay = eng.conflict_requeue_delay
        replicate_changed = new.networking.replicate_services != self.config.networking.replicate_services
        self.config = new
        self.ctx = context_from_config(new, name=self.name, host_namespace=self.host_namespace, **facts)
        replicator = self.extra.get("servicesync")
        if replicate_changed and replicator is not None:
            replicator.configure(replications(new.networking.replicate_services, self.host_namespace))
        wanted = {k for d, k in new.enabled_kinds() if d == "toHost"}
        for kind in [k for k in self.controllers if k not in wanted]:
            await self._stop_controller(kind)
        for kind in sorted(wanted - set(self.controllers)):
            ks = registry.build(kind)
            if ks is None:
                continue
            before = self._informer_ids()
            c = SyncController(self, ks)
            self.controllers[kind] = c
            lists = self._informers_since(before)
            self._controller_tasks[kind] = asyncio.create_task(
                self._once_synced(lists, lambda c=c, w=new.workers_for(kind): c.run(w)), name=f"sync-{kind}"
            )
        await self._switch_optional(new)
        for c in self.controllers.values():  # re-evaluate everything under the new switches
            for obj in c.vinf.list():
                m = obj.get("metadata") or {}
                c.enqueue(m.get("namespace", ""), m.get("name", ""))

    def _switchable(self, cfg: VClusterConfig) -> dict[str, Callable[[], Any]]:
        """The optional controllers `cfg` switches on (from-host kinds, fake volumes), by name,
        each with its maker."""
        out: dict[str, Callable[[], Any]] = {}
        for kind, k in FROM_HOST_CLASSES.items():
            if (kind != "priorityclasses" or not cfg.sync_enabled(kind, "toHost")) and cfg.sync_enabled(
                kind, "fromHost"
            ):
                out[f"host-{kind}"] = lambda k=k: FromHostClassController(self, k)
        for kind, k in IMPORTED_KINDS.items():
            if cfg.sync_enabled(kind, "fromHost"):
                out[f"host-{kind}"] = lambda kind=kind, k=k: self._importer(cfg, kind, k)
        if cfg.sync_enabled("events", "fromHost"):
            out["events"] = lambda: EventController(self)
        if not cfg.sync_enabled("persistentvolumes", "toHost"):
            out[FakePVController.name] = lambda: FakePVController(self)
        return out

    def _importer(self, cfg: VClusterConfig, kind: str, k: kinds.Kind) -> ImportController:
        c = ImportController(self, k)
        c.configure(_import_mappings(cfg, kind))
        return c

    async def _switch_optional(self, new: VClusterConfig) -> None:
        """Start and stop the optional controllers (`_switchable`) after a configuration change, and
        give running importers their new mappings."""
        wanted = self._switchable(new)
        possible = {
            *(f"host-{k}" for k in (*FROM_HOST_CLASSES, *IMPORTED_KINDS)),
            "events",
            FakePVController.name,
        }
        for name in [n for n in self.extra if n in possible and n not in wanted]:
            c = self.extra.pop(name)
            c.stop()
            t = self._extra_tasks.pop(name, None)
            if t is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(t, 5.0)
            log.info("stopped syncing %s", name)
        for name, make in wanted.items():
            c = self.extra.get(name)
            if c is None:
                # an importer keeps a copy whose host namespace is not listed yet by itself (and
                # imports from the namespaces it may list meanwhile); the others wait for their lists
                before = self._informer_ids()
                c = self.extra[name] = make()
                lists = [] if isinstance(c, ImportController) else self._informers_since(before)
                self._extra_tasks[name] = asyncio.create_task(
                    self._once_synced(lists, lambda c=c, w=new.workers_for(name): c.run(w)),
                    name=f"sync-{name}",
                )
                log.info("started syncing %s", name)
            elif isinstance(c, ImportController):
                c.configure(_import_mappings(new, name.removeprefix("host-")))

    def _informer_ids(self) -> set[int]:
        """The informers of both sides that exist now (to tell the ones a new controller adds)."""
        return {id(i) for f in (self.virtual_informers, self.host_informers) for i in f.informers()}

    def _informers_since(self, before: set[int]) -> list[Informer]:
        """The informers added since `_informer_ids` gave `before`."""
        return [
            i
            for f in (self.virtual_informers, self.host_informers)
            for i in f.informers()
            if id(i) not in before
        ]

    async def _once_synced(self, lists: list[Informer], run: Callable[[], Awaitable[None]]) -> None:
        """Run a controller switched on by a live configuration change once the informers it added
        (`lists`) have listed, as `start` waits for all of them: a reconcile on a cache still
        empty reads a pair with a saved base as "the host object was deleted" and deletes the
        virtual object. A list the host refuses keeps the controller waiting (an importer, which
        keeps the copies of a host namespace it has not listed by itself, is not held back)."""
        await asyncio.gather(*(i.wait_synced() for i in lists))
        await run()

    async def _stop_controller(self, kind: str) -> None:
        self.controllers.pop(kind, None)
        t = self._controller_tasks.pop(kind, None)
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        log.info("stopped syncing %s", kind)

    async def _mapping_gc(self) -> None:
        interval = self.config.experimental.engine.mappings_gc_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.mappings.collect(self._owner_exists)
            except Exception:
                log.exception("mapping GC failed")

    async def _owner_exists(self, owner: Reference) -> bool:
        c = self.controller_for(owner.group, owner.kind)
        if c is None:
            return True  # not ours to judge (the kind is not synced now)
        v = c.vinf.get(owner.name, owner.namespace or None)
        h = c.hinf.get(owner.host_name, owner.host_namespace or None)
        return v is not None or h is not None

    def _queues(self) -> Iterator[Any]:
        """The work queues running now (the kinds' and the other controllers')."""
        for c in itertools.chain(list(self.controllers.values()), list(self.extra.values())):
            q = getattr(c, "queue", None)
            if q is not None:
                yield q

    async def stop(self) -> None:
        self.metrics.close()
        with contextlib.suppress(Exception):
            await self.bases.flush()
        self._tasks.extend([*self._controller_tasks.values(), *self._extra_tasks.values()])
        self._controller_tasks.clear()
        self._extra_tasks.clear()
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.virtual_events.close()
        with contextlib.suppress(Exception):
            await self.host_events.close()
        if self._own_virtual_informers:
            await self.virtual_informers.stop()
        await self.host_informers.stop()


def _import_mappings(cfg: VClusterConfig, kind: str) -> dict[str, str]:
    """`sync.fromHost.<configMaps|secrets>.mappings.byName`."""
    fh = cfg.sync.from_host
    switch = fh.config_maps if kind == "configmaps" else fh.secrets
    return dict(switch.mappings.by_name)
