"""etcd leases for keys with a TTL (core Events), shared as kube-apiserver's leaseManager does.

A lease granted for `ttl` is asked with a little extra time (5 % of the TTL, at most 60 s) and
reused by later writes while it still outlives their TTL and is not extended by more than that
extra time, up to 1000 keys per lease (apiserver/pkg/storage/etcd3/lease_manager.go,
DefaultLeaseManagerConfig). So a burst of Events costs one grant, not one per Event.
"""

from __future__ import annotations

import asyncio
import time

from vcluster.store.etcdclient import EtcdClient

REUSE_SECONDS = 60
REUSE_PERCENT = 0.05
MAX_OBJECTS = 1000


class LeaseManager:
    def __init__(
        self,
        client: EtcdClient,
        *,
        reuse_seconds: int = REUSE_SECONDS,
        reuse_percent: float = REUSE_PERCENT,
        max_objects: int = MAX_OBJECTS,
    ) -> None:
        self.client = client
        self.reuse_seconds = reuse_seconds
        self.reuse_percent = reuse_percent
        self.max_objects = max_objects
        self._prev_id = 0
        self._prev_expiry = 0.0
        self._attached = 0
        self._lock = asyncio.Lock()
        self.granted = 0
        self.ttl_of: dict[int, int] = {}  # the TTL each lease of ours was asked for (to renew on update)

    def _reuse(self, ttl: int) -> int:
        return min(int(self.reuse_percent * ttl), self.reuse_seconds)

    async def get(self, ttl: int) -> int:
        """A lease id that keeps a key for at least `ttl` seconds."""
        async with self._lock:
            now = time.monotonic()
            reuse = self._reuse(ttl)
            valid = now + ttl < self._prev_expiry
            sufficient = now + ttl + reuse > self._prev_expiry
            self._attached += 1
            if valid and sufficient and self._attached <= self.max_objects:
                return self._prev_id
            lease = await self.client.lease_grant(ttl + reuse)
            self.granted += 1
            self._prev_id, self._prev_expiry, self._attached = lease, now + ttl + reuse, 1
            self.ttl_of[lease] = ttl
            if len(self.ttl_of) > 4096:  # old leases have expired long ago
                for old in list(self.ttl_of)[:2048]:
                    del self.ttl_of[old]
            return lease
