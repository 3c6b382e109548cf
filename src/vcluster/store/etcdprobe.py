"""Synchronous checks of an etcd endpoint for the CLI (`vcluster create`, `vcluster describe`)."""

from __future__ import annotations

import asyncio

from vcluster.store.datasource import DatastoreError, describe
from vcluster.store.etcdclient import EtcdClient, EtcdEndpoint, EtcdError, b64, explain
from vcluster.store.interface import prefix_end


def _endpoint(url: str, tls: dict[str, str]) -> EtcdEndpoint:
    return EtcdEndpoint(url, tls.get("caFile", ""), tls.get("certFile", ""), tls.get("keyFile", ""))


def probe_etcd(url: str, tls: dict[str, str]) -> str:
    """etcd's version when it answers at `url` with these TLS files; DatastoreError saying what to fix."""
    endpoint = _endpoint(url, tls)

    async def status() -> str:
        client = EtcdClient(endpoint)
        try:
            return str((await client.status()).get("version", ""))
        finally:
            await client.close()

    try:
        return asyncio.run(status())
    except (OSError, ValueError) as e:  # unreadable TLS files, a key that does not match
        raise DatastoreError(f"cannot use the TLS files for {describe(url)}: {e}") from None
    except EtcdError as e:
        raise DatastoreError(f"cannot use the datastore {describe(url)}: {explain(endpoint, e)}") from None


def etcd_live_count(url: str, tls: dict[str, str], prefix: str) -> int | None:
    """Keys under `prefix` (a count-only range), or None when etcd does not answer."""

    async def count() -> int:
        client = EtcdClient(_endpoint(url, tls))
        try:
            out = await client.call(
                "kv/range",
                {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "count_only": True},
                timeout=3.0,
            )
            return int(out.get("count", 0))
        finally:
            await client.close()

    try:
        return asyncio.run(count())
    except (EtcdError, OSError, ValueError):
        return None
