"""Writes of the syncer: creates, merge patches guarded by the read resourceVersion (a concurrent
change is a 409 and the reconcile runs again), deletes with UID preconditions, and a token-bucket
rate limit on host writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from vcluster.client import ApiError, Client
from vcluster.syncer import metadata
from vcluster.syncer.kinds import Kind
from vcluster.syncer.result import Delete


class TokenBucket:
    """`qps` tokens per second, at most `burst` saved; `take()` waits for one."""

    def __init__(self, qps: float, burst: int) -> None:
        self.rate = max(qps, 0.001)
        self.burst = max(burst, 1)
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


def _with_rv(patch: dict[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    rv = metadata.meta(obj).get("resourceVersion")
    if not rv:
        return patch
    out = dict(patch)
    md = dict(out.get("metadata") or {})
    md["resourceVersion"] = rv
    out["metadata"] = md
    return out


class Writer:
    def __init__(
        self, virtual: Client, host: Client, host_limit: TokenBucket, virtual_limit: TokenBucket
    ) -> None:
        self.virtual = virtual
        self.host = host
        self.host_limit = host_limit
        self.virtual_limit = virtual_limit

    def _limit(self, client: Client) -> TokenBucket:
        return self.host_limit if client is self.host else self.virtual_limit

    async def create_host(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        await self.host_limit.take()
        ns = metadata.meta(obj).get("namespace") if kind.namespaced else None
        return await self.host.create(kind.api_version, kind.plural, obj, ns)

    async def create_virtual(self, kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
        await self.virtual_limit.take()
        ns = metadata.meta(obj).get("namespace") if kind.namespaced else None
        return await self.virtual.create(kind.api_version, kind.plural, obj, ns)

    async def create_or_update_host(self, obj: dict[str, Any]) -> dict[str, Any]:
        """An auxiliary host object (e.g. a pod's token Secret): create, or overwrite if it exists."""
        av, kind = obj.get("apiVersion", "v1"), obj.get("kind", "")
        plural = kind.lower() + "s"
        ns = metadata.meta(obj).get("namespace")
        await self.host_limit.take()
        try:
            return await self.host.create(av, plural, obj, ns)
        except ApiError as e:
            if not e.already_exists:
                raise
        cur = await self.host.get(av, plural, metadata.meta(obj)["name"], ns)
        new = dict(obj)
        new["metadata"] = {**metadata.meta(obj), "resourceVersion": metadata.meta(cur).get("resourceVersion")}
        await self.host_limit.take()
        return await self.host.update(av, plural, new, ns)

    async def _patch(
        self,
        client: Client,
        kind: Kind,
        obj: Mapping[str, Any],
        patch: dict[str, Any],
        status: bool,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        m = metadata.meta(obj)
        await self._limit(client).take()
        return await client.patch(
            kind.api_version,
            kind.plural,
            m.get("name", ""),
            _with_rv(patch, obj),
            m.get("namespace") if kind.namespaced else None,
            patch_type="merge",
            subresource="status" if status else subresource,
        )

    async def patch_virtual(
        self, kind: Kind, obj: Mapping[str, Any], patch: dict[str, Any], *, status: bool = False
    ) -> dict[str, Any]:
        return await self._patch(self.virtual, kind, obj, patch, status)

    async def patch_host(
        self,
        kind: Kind,
        obj: Mapping[str, Any],
        patch: dict[str, Any],
        *,
        status: bool = False,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self._patch(self.host, kind, obj, patch, status, subresource)

    async def delete(self, client: Client, kind: Kind, obj: Mapping[str, Any], d: Delete) -> None:
        m = metadata.meta(obj)
        await self._limit(client).take()
        try:
            await client.delete(
                kind.api_version,
                kind.plural,
                m.get("name", ""),
                m.get("namespace") if kind.namespaced else None,
                grace_period_seconds=d.grace_seconds,
                preconditions={"uid": d.uid} if d.uid else None,
            )
        except ApiError as e:
            if not e.not_found:
                raise
