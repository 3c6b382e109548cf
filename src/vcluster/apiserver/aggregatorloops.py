"""The aggregator's loops inside the API server process, as kube-apiserver runs them in its own
(post-start hooks `kube-apiserver-autoregistration`, `apiservice-status-local-available-controller`,
`apiservice-status-remote-available-controller`): autoregistration of the served group versions and
the two availability controllers, writing through the server in process as `kube-apiserver`; beside
them kube-apiserver's `start-cluster-authentication-info-controller` (controllers/clusterauthtrust.py:
the `kube-system/extension-apiserver-authentication` ConfigMap aggregated servers read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from vcluster.apiserver import apiregistration as apireg
from vcluster.controllers import clusterauthtrust as authtrust
from vcluster.controllers.apiserviceautoregister import AutoRegisterController
from vcluster.controllers.apiserviceavailability import (
    LocalAvailabilityController,
    RemoteAvailabilityController,
)
from vcluster.tasks import cancel_and_wait

if TYPE_CHECKING:
    from vcluster.apiserver.aggregator import Aggregator
    from vcluster.apiserver.server import APIServer

log = logging.getLogger("vcluster.apiserver.aggregator")


class AggregatorLoops:
    """Autoregister plus local and remote availability, for one API server."""

    def __init__(self, server: APIServer, aggregator: Aggregator) -> None:
        self.server = server
        self.aggregator = aggregator
        self.client: Any = None
        self.autoregister: AutoRegisterController | None = None
        self.remote: RemoteAvailabilityController | None = None
        self.auth_trust: authtrust.ClusterAuthenticationTrustController | None = None
        self._controllers: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._watches: list[Any] = []

    async def start(self) -> None:
        from vcluster.client import Client

        srv = self.server
        assert srv.auth is not None
        self.client = Client(
            srv.url,
            ssl=False,
            token=srv.auth.admin_token,
            user_agent="kube-apiserver",
            local=srv.handle_local,
            local_stream=srv.open_local_stream,
        )
        index = self.aggregator.index
        self.autoregister = AutoRegisterController(self.client, index)
        for group, version in self._builtin_group_versions():
            prio = apireg.BUILTIN_PRIORITIES.get((group, version))
            if prio is not None:  # makeAPIService skips group versions it has no priority for
                self.autoregister.add_on_start(group, version, prio)
        self.refresh()
        local = LocalAvailabilityController(self.client, index)
        self.remote = RemoteAvailabilityController(self.client, self.aggregator)
        self.auth_trust = authtrust.ClusterAuthenticationTrustController(
            self.client, self._authentication_info()
        )
        self._controllers = [self.autoregister, local, self.remote, self.auth_trust]
        await self._watch_services()
        await self._watch_auth_configmap()
        for name, ctrl in (("autoregister", self.autoregister), ("local", local), ("remote", self.remote)):
            self._tasks.append(asyncio.create_task(ctrl.run(), name=f"apiservice-{name}"))
        self._tasks.append(asyncio.create_task(self.auth_trust.run(), name="cluster-authentication-trust"))

    def _authentication_info(self) -> authtrust.AuthenticationInfo:
        """What this server requires in the ConfigMap: its client CA and its front proxy."""
        srv = self.server
        assert srv.pki is not None and srv.front_proxy is not None
        opts = srv.front_proxy.options
        return authtrust.AuthenticationInfo(
            client_ca=srv.pki.ca_pem,
            requestheader_ca=srv.front_proxy.ca_pem,
            username_headers=opts.username_headers,
            group_headers=opts.group_headers,
            extra_header_prefixes=opts.extra_headers_prefix,
            allowed_names=opts.allowed_names,
        )

    async def _watch_auth_configmap(self) -> None:
        """Changes of kube-system/extension-apiserver-authentication requeue its controller."""
        store = self.server.store
        rt = self.server.registry.get("", "v1", "configmaps")
        assert rt is not None
        w = await store.watch(f"{rt.key_prefix}{authtrust.NAMESPACE}/", store.revision)
        if not w.set_sink(self._configmap_event):  # pragma: no cover
            raise RuntimeError("the trust controller needs a store whose watches deliver synchronously")
        self._watches.append(w)

    def _configmap_event(self, ev: Any) -> bool:
        if self.auth_trust is not None and ev.key.rsplit("/", 1)[-1] == authtrust.NAME:
            self.auth_trust.enqueue()
        return True

    def _builtin_group_versions(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for t in self.server.registry.all():
            if t.custom is None and (t.group, t.version) not in out:
                out.append((t.group, t.version))
        return out

    def refresh(self) -> None:
        """Recompute the continuously managed APIServices: CRD groups and in-process groups."""
        if self.autoregister is None:
            return
        wanted: dict[tuple[str, str], tuple[int, int]] = {}
        for t in self.server.registry.all():
            if t.custom is not None:
                wanted[(t.group, t.version)] = (apireg.CRD_GROUP_PRIORITY, apireg.CRD_VERSION_PRIORITY)
        for group, version in self.server.api_services:
            wanted.setdefault((group, version), apireg.IN_PROCESS_PRIORITY)
        self.autoregister.sync_continuous(wanted)

    async def _watch_services(self) -> None:
        """Service and Endpoints changes requeue the APIServices naming them."""
        store = self.server.store
        for plural in ("services", "endpoints"):
            rt = self.server.registry.get("", "v1", plural)
            assert rt is not None
            w = await store.watch(rt.key_prefix, store.revision)
            if not w.set_sink(self._service_event):  # pragma: no cover
                raise RuntimeError("the aggregator needs a store whose watches deliver synchronously")
            self._watches.append(w)

    def _service_event(self, ev: Any) -> bool:
        parts = ev.key.rsplit("/", 2)
        if self.remote is not None and len(parts) == 3:
            self.remote.service_changed(parts[1], parts[2])
        return True

    async def stop(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()
        for ctrl in self._controllers:
            ctrl.stop()
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
