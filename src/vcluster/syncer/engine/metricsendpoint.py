"""Plain-HTTP `/metrics` listeners at `experimental.syncSettings.hostMetricsBindAddress` and
`virtualMetricsBindAddress`, as vCluster's controller-runtime managers serve theirs: the process's
Prometheus registry (syncer and API server metrics), no authentication, nothing else served."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from vcluster.config._types import split_bind_address

log = logging.getLogger("vcluster.syncer.metrics")


class MetricsBindError(Exception):
    """A metrics address that cannot be listened on (in use, not an address of this machine)."""


class MetricsEndpoints:
    """One aiohttp site per address; `start` raises MetricsBindError naming the address that fails."""

    def __init__(self, registry: CollectorRegistry, addresses: list[str]) -> None:
        self.registry = registry
        self.addresses = addresses
        self._runner: web.AppRunner | None = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        if not self.addresses:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            for address in self.addresses:
                hp = split_bind_address(address)
                assert hp is not None
                host, port = hp
                try:
                    await web.TCPSite(self._runner, host or None, port).start()
                except OSError as e:
                    raise MetricsBindError(
                        f"cannot serve metrics at {address} (experimental.syncSettings): {e.strerror or e}"
                    ) from e
                log.info("serving metrics at http://%s/metrics", address if host else f"0.0.0.0{address}")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
