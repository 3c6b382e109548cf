"""One process, several parts: the API server, the controllers beside it (talking to it over
loopback HTTPS like kube-controller-manager does), and optionally the simulated host nodes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.server import APIServer, ServerConfig, tune_gc

log = logging.getLogger("vcluster.controlplane")

# kube-controller-manager runs the kube-root-ca.crt publisher as its own controller; here it is a
# mode of the serviceaccount controller (both keyed by namespace).
ROOT_CA_PUBLISHER = "root-ca-cert-publisher"


def known_controllers() -> list[str]:
    from vcluster.controllers.manager import CONTROLLERS

    return [*CONTROLLERS, ROOT_CA_PUBLISHER]


def _enabled(controllers: set[str] | None, name: str) -> bool:
    if controllers is None:
        return True
    if f"-{name}" in controllers:
        return False
    return "*" in controllers or name in controllers


@dataclass
class ControlPlaneConfig:
    server: ServerConfig
    # kube-controller-manager's --controllers: None = all; {"-x"} disables x; empty set = none.
    controllers: set[str] | None = None
    hostsim: Any = None  # a vcluster.hostsim.config.HostSimConfig to run simulated nodes
    controller_options: dict[str, Any] = field(default_factory=dict)
    banner: str = "vcluster apiserver"
    syncer: SyncerSpec | None = None  # run the syncer against a host cluster (`vcluster start`)


@dataclass
class SyncerSpec:
    name: str
    host_kubeconfig: str | None
    host_namespace: str
    config: Any  # a loaded vcluster.config.VClusterConfig
    host_context: str | None = None


def _warn_replaced_edits(cur: dict[str, Any], config: Any) -> None:
    """The start's configuration (--config) replaces the host ConfigMap: say which live edits of
    it that drops, so that a tightened setting is not relaxed without a word."""
    from vcluster.config import ConfigError, config_from_config_map, diff_config

    try:
        edited = config_from_config_map(cur)
    except ConfigError:
        return  # an invalid edit was never applied either
    changed = diff_config(edited, config)
    if changed:
        log.warning(
            "the host ConfigMap %s had live edits that this start's configuration replaces: %s "
            "(put them in the --config file to keep them)",
            cur["metadata"]["name"],
            ", ".join(changed),
        )


class ControlPlane:
    """Starts the parts in order and stops them in reverse."""

    def __init__(self, cfg: ControlPlaneConfig) -> None:
        self.cfg = cfg
        self.server = APIServer(cfg.server)
        self.client: Any = None
        self.controllers: Any = None
        self.hostsim: Any = None
        self.syncer: Any = None
        self.host_client: Any = None
        self.lease: Any = None
        self.metrics_endpoints: Any = None
        self.metrics_proxy: Any = None  # integrations.metricsServer

    async def start(self) -> None:
        # a host that cannot be used stops the start before anything is written to the data dir
        if self.cfg.syncer is not None:
            await self._connect_host(self.cfg.syncer)
        await self.server.start()
        want_controllers = self.cfg.controllers is None or bool(self.cfg.controllers)
        if want_controllers or self.cfg.hostsim is not None or self.cfg.syncer is not None:
            from vcluster.client import Client

            self.client = await Client.from_kubeconfig(
                str(self.server.kubeconfig_path),
                user_agent="kube-controller-manager",  # the syncer and the simulated host derive their own
                unix_socket=str(self.server.unix_socket),  # logs, exec, proxies
                local=self.server.handle_local,  # requests in process, no HTTP
                local_stream=self.server.open_local_stream,  # watches too
            )
        if want_controllers:
            from vcluster.controllers.manager import ControllerManager

            assert self.server.pki is not None
            publish = _enabled(self.cfg.controllers, ROOT_CA_PUBLISHER)
            root_ca = self.server.pki.ca_pem.decode() if publish else None
            options: dict[str, Any] = {
                "serviceaccount": {"root_ca_pem": root_ca},
                # --cluster-signing-cert-file/--cluster-signing-key-file: the CA the API server
                # trusts for client certificates
                "csrsigning": {
                    "cluster_signing_cert_file": str(self.server.pki.ca_cert),
                    "cluster_signing_key_file": str(self.server.pki.ca_key),
                },
                # kube-apiserver's kubernetes-service loop only without a syncer: with one, the
                # syncer mirrors default/kubernetes from the host (vCluster runs kube-apiserver
                # with --endpoint-reconciler-type=none)
                "bootstrap": {
                    "kubernetes_service": self.cfg.syncer is None,
                    "advertise_ip": self.server.advertise_ip or None,
                    "service_cidr": self.server.cfg.service_cidr,
                },
            }
            enabled = self.cfg.controllers
            if enabled is not None:
                enabled = {c for c in enabled if c.lstrip("-") != ROOT_CA_PUBLISHER}
            for k, v in self.cfg.controller_options.items():
                if isinstance(v, dict) and isinstance(options.get(k), dict):
                    options[k] = {**options[k], **v}
                else:
                    options[k] = v
            self.controllers = ControllerManager(self.client, enabled=enabled, options=options)
            await self.controllers.start()
        if self.cfg.hostsim is not None:
            from vcluster.hostsim.sim import HostSim

            informers = self.controllers.informers if self.controllers is not None else None
            self.hostsim = HostSim(self.client, self.cfg.hostsim, informers=informers)
            await self.hostsim.start()
            self._simulated_network()
            if self.hostsim.config.metrics_server:
                self._serve_host_metrics()

        if self.cfg.syncer is not None:
            await self._start_syncer(self.cfg.syncer)

    def _simulated_network(self) -> None:
        """The proxy subresources dial the simulated pods and kubelets on this machine."""
        from vcluster.apiserver.proxysubresource import SimulatedNetwork

        sim = self.hostsim
        self.server.rest.proxy_network = SimulatedNetwork(
            lambda: [n.cidr for n in sim.nodes.nodes.values()], lambda: [sim.address]
        )

    def _serve_host_metrics(self) -> None:
        """metrics.k8s.io of the simulated nodes, as metrics-server would serve it on this host."""
        from vcluster.apiserver.metricsapi import MetricsAPI
        from vcluster.hostsim.metrics import HostMetrics

        source = HostMetrics(self.hostsim, self.hostsim.config.metrics_resolution)
        self.server.add_api_service(MetricsAPI(source))

    async def _serve_virtual_metrics(self, spec: SyncerSpec) -> None:
        """`integrations.metricsServer`: metrics.k8s.io proxied to the host's metrics-server."""
        ms = spec.config.integrations.metrics_server
        if not ms.enabled or not (ms.nodes or ms.pods):
            return
        from vcluster.apiserver.metricsapi import MetricsAPI
        from vcluster.integrations.metricsserver import MetricsServerProxy

        self.metrics_proxy = MetricsServerProxy(self.syncer)
        await self.metrics_proxy.start()
        self.server.add_api_service(MetricsAPI(self.metrics_proxy, nodes=ms.nodes, pods=ms.pods))

    async def _connect_host(self, spec: SyncerSpec) -> None:
        """The host client, and the host namespace read (made when missing): the first host request."""
        from vcluster.client import ApiError, Client

        self.host_client = host = await Client.from_kubeconfig(
            spec.host_kubeconfig, spec.host_context, user_agent="vcluster"
        )
        # Read before writing: a restart of an unchanged virtual cluster writes nothing to the host.
        try:
            await host.get("v1", "namespaces", spec.host_namespace)
        except ApiError as e:
            if not (e.not_found or e.forbidden):
                raise
            if e.not_found:
                ns_body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.host_namespace}}
                try:
                    await host.create("v1", "namespaces", ns_body)
                except ApiError as e2:
                    if not (e2.already_exists or e2.forbidden):
                        raise

    async def _start_syncer(self, spec: SyncerSpec) -> None:
        from vcluster.client import ApiError
        from vcluster.config import effective_config_map
        from vcluster.syncer.engine.syncer import Syncer

        host = self.host_client
        # before anything is written to the host: refuse a second syncer for this virtual cluster
        # or a second virtual cluster in the namespace (they would delete each other's objects)
        from vcluster.syncer.engine.ownership import HostLease, instance_identity

        self.lease = HostLease(
            host, spec.host_namespace, spec.name, instance_identity(self.server.data_dir), self._lease_lost
        )
        await self.lease.acquire()
        cm = effective_config_map(spec.config, spec.name, spec.host_namespace)
        try:
            cur = await host.get("v1", "configmaps", cm["metadata"]["name"], spec.host_namespace)
        except ApiError as e:
            if not e.not_found:
                raise
            await host.create("v1", "configmaps", cm, spec.host_namespace)
        else:
            if cur.get("data") != cm["data"]:
                _warn_replaced_edits(cur, spec.config)
                cm["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
                await host.update("v1", "configmaps", cm, spec.host_namespace)
        self.syncer = Syncer(
            name=spec.name,
            host_namespace=spec.host_namespace,
            config=spec.config,
            virtual=self.client.with_user_agent("vcluster"),
            host=host,
            store=self.server.store,
            metrics_registry=self.server.metrics.registry,
            api_port=self.server.port,
            api_address=self.server.advertise_ip,
            virtual_informers=self.controllers.informers if self.controllers is not None else None,
        )
        if self.server.authapi is not None:
            self.syncer.local_token_request = self.server.authapi.issue_token
        await self.syncer.start()
        from vcluster.apiserver.kubeconfig import load_kubeconfig

        self.syncer.write_kubeconfig_secret(load_kubeconfig(self.server.kubeconfig_path))
        self.server.rest.service_create_hook = self.syncer.intercept_service_create
        self.server.rest.service_update_hook = self.syncer.intercept_service_update
        self.server.rest.pod_log_hook = self.syncer.proxy_pod_log
        self.server.rest.node_write_hook = self.syncer.intercept_node_write
        self.server.rest.pod_exec_hook = self.syncer.proxy_pod_exec
        self.server.rest.proxy_hook = self.syncer.proxy_subresource
        from vcluster.syncer.engine.fakekubelet import FakeKubelet

        self.server.fake_kubelet = FakeKubelet(self.syncer)
        self.server.syncer_metrics = self.syncer.metrics
        await self._serve_virtual_metrics(spec)
        from vcluster.syncer.engine.metricsendpoint import MetricsEndpoints

        self.metrics_endpoints = MetricsEndpoints(
            self.server.metrics.registry, spec.config.metrics_bind_addresses()
        )
        await self.metrics_endpoints.start()

    def _lease_lost(self, why: str) -> None:
        """Another process now runs this virtual cluster: stop syncing at once (vCluster exits)."""
        log.error("stopping: %s", why)
        os.kill(os.getpid(), signal.SIGTERM)

    async def stop(self) -> None:
        for part in (self.metrics_endpoints, self.metrics_proxy, self.syncer, self.hostsim, self.controllers):
            if part is not None:
                try:
                    await part.stop()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)
        if self.lease is not None:
            await self.lease.release()
        for c in (self.host_client, self.client):
            if c is not None:
                await c.close()
        await self.server.stop()


async def run_control_plane(cfg: ControlPlaneConfig) -> None:
    """Run until SIGTERM or SIGINT; print one `ready at` line when everything is up."""
    cp = ControlPlane(cfg)
    try:
        await cp.start()
    except BaseException:
        await cp.stop()
        raise
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"{cfg.banner} ready at {cp.server.url}; kubeconfig {cp.server.kubeconfig_path}", flush=True)
    await stop.wait()
    log.info("shutting down")
    await cp.stop()
