"""`HostSim`: nodes + scheduler + kubelets + the kubelet log server against one Kubernetes API."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import orjson

from vcluster.client import ApiError, Client, Informer, SharedInformers, strip_managed_fields
from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.containerenv import EnvSources, referenced
from vcluster.hostsim.events import EventRecorder
from vcluster.hostsim.kubelet import Kubelet
from vcluster.hostsim.kubeletserver import KubeletServer
from vcluster.hostsim.kubeletviews import NodeViews
from vcluster.hostsim.nodes import NodeManager
from vcluster.hostsim.podrefs import keys_only
from vcluster.hostsim.scheduler import Scheduler
from vcluster.hostsim.volumes import VolumeBinder

log = logging.getLogger("vcluster.hostsim")

DEFAULT_VERSION = "v1.32.4"
SYNC_TIMEOUT = 60.0


def _outbound_address(server: str) -> str:
    """The local address used to reach `server` (for a kubelet bound to 0.0.0.0)."""
    host = urlsplit(server).hostname or "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, 443))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def _port_range(ports: list[int]) -> str:
    """`P` or `P1-Pn` (consecutive) or `P1,P2,...` of the nodes' kubelet ports."""
    if len(ports) <= 1:
        return str(ports[0]) if ports else "-"
    if ports == list(range(ports[0], ports[0] + len(ports))):
        return f"{ports[0]}-{ports[-1]}"
    return ",".join(map(str, ports[:3])) + (",..." if len(ports) > 3 else "")


class HostSim:
    """A simulated host cluster: N nodes with a scheduler and a kubelet each, as an API client.

    Use either ``HostSim(client, config)`` (the caller owns the client) or
    ``await HostSim.from_kubeconfig(path, config)``; then ``await start()`` / ``await stop()``.
    With ``informers`` (a SharedInformers of the same client) the pod, node, ConfigMap and Secret
    informers are shared with other components of the process; otherwise HostSim runs its own (the
    ConfigMap and Secret ones cache key names only: the kubelets check pods' references with them).
    """

    def __init__(
        self,
        client: Client,
        config: HostSimConfig | None = None,
        *,
        informers: SharedInformers | None = None,
        **options: Any,
    ) -> None:
        self.client = client
        self.config = replace(config or HostSimConfig(), **options)
        self.config.validate()
        self._shared = informers
        self._owns_client = False
        self.events = EventRecorder(
            client, workers=self.config.event_workers, queue_size=self.config.event_queue_size
        )
        self.server: KubeletServer | None = None
        self.views: NodeViews | None = None  # what each node's kubelet port serves of its node
        self.nodes: NodeManager | None = None
        self.scheduler: Scheduler | None = None
        self.kubelet: Kubelet | None = None
        self.volumes: VolumeBinder | None = None
        self.pod_informer: Informer | None = None
        self.node_informer: Informer | None = None
        # what the kubelets check pods against (ConfigMaps and Secrets they reference)
        self.configmap_informer: Informer | None = None
        self.secret_informer: Informer | None = None
        self.version = DEFAULT_VERSION
        self.address = ""
        self._started = False

    @classmethod
    async def from_kubeconfig(
        cls,
        path: str | None,
        config: HostSimConfig | None = None,
        *,
        context: str | None = None,
        **options: Any,
    ) -> HostSim:
        client = await Client.from_kubeconfig(path, context, user_agent="vcluster-hostsim")
        sim = cls(client, config, **options)
        sim._owns_client = True
        return sim

    @property
    def kubelet_port(self) -> int:
        """The first node's kubelet port (each node has its own: `kubelet_ports`)."""
        return self.server.port if self.server is not None else 0

    @property
    def kubelet_ports(self) -> dict[str, int]:
        return dict(self.server.ports) if self.server is not None else {}

    @property
    def node_names(self) -> list[str]:
        return self.config.node_names()

    async def _server_version(self) -> str:
        with contextlib.suppress(ApiError, orjson.JSONDecodeError):
            status, _, body = await self.client.request("GET", "/version")
            if status == 200:
                v = orjson.loads(body).get("gitVersion")
                if isinstance(v, str) and v:
                    return v.split("+")[0]
        return DEFAULT_VERSION

    def _advertise(self) -> str:
        cfg = self.config
        if cfg.kubelet_address:
            return cfg.kubelet_address
        try:
            unspecified = ipaddress.ip_address(cfg.kubelet_bind).is_unspecified
        except ValueError:
            return cfg.kubelet_bind
        return _outbound_address(self.client.server) if unspecified else cfg.kubelet_bind

    async def start(self) -> None:
        """Serve the kubelet endpoint, register the nodes, then schedule and run pods."""
        if self._started:
            return
        self._started = True
        cfg = self.config
        await self.events.start()
        self.version = await self._server_version()
        self.address = self._advertise()
        self.views = NodeViews(self)
        self.server = KubeletServer(
            self._pod_for_logs,
            bind=cfg.kubelet_bind,
            port=cfg.kubelet_port,
            line_seconds=cfg.log_line_seconds,
            hosts=[self.address, *cfg.node_names()],
            started=self._started_at,
            list_pods=self._list_pods,
            client_ca=self.client.config.ca_pem,
            env_sources=self._env_sources,
            nodes=cfg.node_names(),
            views=self.views,
        )
        await self.server.start()
        self.nodes = NodeManager(
            self.client.with_user_agent("kubelet"),
            cfg,
            address=self.address,
            kubelet_port=self.server.port,
            version=self.version,
            events=self.events,
            kubelet_ports=self.server.ports,
        )
        await self.nodes.register()
        if self._shared is not None:
            self.pod_informer = self._shared.informer("v1", "pods")
            self.node_informer = self._shared.informer("v1", "nodes")
            # the controller manager's (resource quota, root CA publisher) when it runs
            self.configmap_informer = self._shared.informer("v1", "configmaps")
            self.secret_informer = self._shared.informer("v1", "secrets")
        else:
            self.pod_informer = Informer(self.client, "v1", "pods", transform=strip_managed_fields)
            self.node_informer = Informer(self.client, "v1", "nodes", transform=strip_managed_fields)
            self.configmap_informer = Informer(self.client, "v1", "configmaps", transform=keys_only)
            self.secret_informer = Informer(self.client, "v1", "secrets", transform=keys_only)
        storage_informers: list[Informer] = []
        if cfg.storage:
            self.volumes = VolumeBinder(
                self.client, self._informer_for(storage_informers), self.events, self.node_informer
            )
        self.scheduler = Scheduler(
            self.client.with_user_agent("kube-scheduler"),
            cfg,
            self.pod_informer,
            self.node_informer,
            self.events,
            self.volumes,
        )
        self.kubelet = Kubelet(
            self.client.with_user_agent("kubelet"),
            cfg,
            self.pod_informer,
            self.nodes.nodes,
            self.events,
            self.configmap_informer,
            self.secret_informer,
        )
        if self._shared is not None:
            await self._shared.start()
        else:
            for inf in self._informers():
                await inf.start()
        await asyncio.gather(*(inf.wait_synced(SYNC_TIMEOUT) for inf in self._informers()))
        if self.volumes is not None:
            await self.volumes.ensure_default_class()
            await self.volumes.start()
        await self.scheduler.start()
        await self.kubelet.start()
        await self.nodes.start()
        log.info(
            "hostsim running: %d node(s) %s, kubelets https://%s:%s",
            cfg.nodes,
            ", ".join(cfg.node_names()[:3]) + (", ..." if cfg.nodes > 3 else ""),
            self.address,
            _port_range(list(self.server.ports.values())),
        )

    async def stop(self) -> None:
        """Stop everything; the nodes stay registered (like real nodes whose kubelet stopped)."""
        if not self._started:
            return
        self._started = False
        for part in (self.nodes, self.scheduler, self.kubelet, self.volumes):
            if part is not None:
                await part.stop()
        if self._shared is None:
            for inf in self._informers():
                await inf.stop()
        if self.server is not None:
            await self.server.stop()
        await self.events.flush(2.0)
        await self.events.stop()
        if self._owns_client:
            await self.client.close()

    def _informer_for(self, own: list[Informer]) -> Callable[[str, str], Informer]:
        """Informers from the shared set, else new ones (collected in `own` to start and stop)."""

        def make(api_version: str, plural: str) -> Informer:
            if self._shared is not None:
                return self._shared.informer(api_version, plural)
            inf = Informer(self.client, api_version, plural, transform=strip_managed_fields)
            own.append(inf)
            return inf

        return make

    def _storage_informers(self) -> list[Informer]:
        return self.volumes.informers if self.volumes is not None else []

    def _informers(self) -> list[Informer]:
        """Every informer HostSim reads (its own ones, or those it took from the shared set)."""
        own = (self.pod_informer, self.node_informer, self.configmap_informer, self.secret_informer)
        return [inf for inf in own if inf is not None] + self._storage_informers()

    # ------------------------------------------------------------------ kubelet server lookups
    def _pod_for_logs(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.kubelet.pod_for_logs(namespace, name) if self.kubelet is not None else None

    def _started_at(self, uid: str) -> float | None:
        return self.kubelet.started_at(uid) if self.kubelet is not None else None

    async def _env_sources(self, pod: dict[str, Any], container: dict[str, Any]) -> EnvSources:
        """The objects `container`'s environment reads, as they are now (see containerenv)."""
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        cms, secrets = referenced(container)
        out = EnvSources()
        for plural, names, into in (("configmaps", cms, out.configmaps), ("secrets", secrets, out.secrets)):
            for name in sorted(names):
                into[name] = await self._get_or_none(plural, name, ns)
        spec = pod.get("spec") or {}
        links = spec.get("enableServiceLinks") is not False
        if links:
            out.services = (await self.client.list("v1", "services", ns)).get("items") or []
        if ns != "default" or not links:  # the master service is always visible
            kube = await self._get_or_none("services", "kubernetes", "default")
            out.services += [kube] if kube else []
        node = self.node_informer.get(spec.get("nodeName") or "") if self.node_informer else None
        out.allocatable = ((node or {}).get("status") or {}).get("allocatable") or {}
        return out

    async def _get_or_none(self, plural: str, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            return await self.client.get("v1", plural, name, namespace)
        except ApiError as e:
            if e.not_found:
                return None
            raise

    def _list_pods(self) -> list[dict[str, Any]]:
        return self.kubelet.running_pods() if self.kubelet is not None else []
