"""One syncer per virtual cluster, one virtual cluster per host namespace (spec §8.1, §8.6).

A `coordination.k8s.io/v1` Lease `vcluster-<NAME>-controller` in the host namespace, labelled
`app=vcluster, release=<NAME>`, is held and renewed by the running syncer. A start refuses when
another process holds a fresh lease for the same name, or when another virtual cluster's lease in
the namespace is fresh; two syncers on one namespace delete each other's objects. The identity is
tied to the data directory (which only one process can use, `apiserver.datadir`), so a restart
after a crash takes its own lease over at once instead of waiting for it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vcluster.client import ApiError, Client
from vcluster.syncer.names import safe_concat_name

log = logging.getLogger("vcluster.syncer.lease")

API = "coordination.k8s.io/v1"
DURATION = 40  # seconds a lease stays fresh without renewal (vCluster: 60/40/15)
RENEW_EVERY = 10.0


class OwnershipError(Exception):
    """Another process runs this virtual cluster, or another virtual cluster this namespace."""


def lease_name(name: str) -> str:
    return safe_concat_name("vcluster", name, "controller")


def instance_identity(data_dir: Path | None) -> str:
    """`<hostname>-<id>`, the id kept in `DIR/instance-id` (a fresh one without a data dir)."""
    ident = ""
    if data_dir is not None:
        path = data_dir / "instance-id"
        with contextlib.suppress(OSError):
            ident = path.read_text().strip()
        if not ident:
            ident = uuid.uuid4().hex[:12]
            with contextlib.suppress(OSError):
                path.write_text(ident)
    return f"{socket.gethostname()}-{ident or uuid.uuid4().hex[:12]}"


def _micro(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _age(lease: dict[str, Any], now: float) -> float | None:
    """Seconds since the lease was last renewed (None when it never was)."""
    spec = lease.get("spec") or {}
    stamp = spec.get("renewTime") or spec.get("acquireTime")
    if not stamp:
        return None
    try:
        t = datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None
    return now - t


def _fresh(lease: dict[str, Any], now: float) -> bool:
    age = _age(lease, now)
    duration = (lease.get("spec") or {}).get("leaseDurationSeconds") or DURATION
    return age is not None and age < duration


class HostLease:
    """Acquire at start (or refuse with OwnershipError), then renew until stopped; `on_lost` is
    called if another holder takes it (the process should stop syncing)."""

    def __init__(
        self, host: Client, namespace: str, name: str, identity: str, on_lost: Callable[[str], None]
    ) -> None:
        self.host, self.namespace, self.name, self.identity = host, namespace, name, identity
        self.lease_name = lease_name(name)
        self.on_lost = on_lost
        self._lease: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        now = time.time()
        await self._refuse_other_vclusters(now)
        try:
            cur = await self.host.get(API, "leases", self.lease_name, self.namespace)
        except ApiError as e:
            if not e.not_found:
                raise
            cur = None
        if cur is not None:
            holder = (cur.get("spec") or {}).get("holderIdentity") or ""
            if holder and holder != self.identity and _fresh(cur, now):
                raise OwnershipError(
                    f"the virtual cluster {self.name!r} in host namespace {self.namespace!r} is already "
                    f"run by {holder} (its lease {self.lease_name} was renewed {_age(cur, now):.0f} s "
                    "ago): stop that process first; if it is gone, start again once the lease has "
                    f"expired ({DURATION} s after its last renewal)"
                )
        body = self._body(cur, now)
        try:
            if cur is None:
                self._lease = await self.host.create(API, "leases", body, self.namespace)
            else:
                self._lease = await self.host.update(API, "leases", body, self.namespace)
        except ApiError as e:
            if e.conflict or e.already_exists:
                raise OwnershipError(
                    f"another process took the lease {self.lease_name} in {self.namespace!r} at the same "
                    "moment: only one may run this virtual cluster"
                ) from None
            raise
        log.info("holding lease %s/%s as %s", self.namespace, self.lease_name, self.identity)
        self._task = asyncio.create_task(self._renew(), name="vcluster-lease")

    async def _refuse_other_vclusters(self, now: float) -> None:
        res = await self.host.list(API, "leases", self.namespace, label_selector="app=vcluster")
        for lease in res.get("items") or []:
            release = ((lease.get("metadata") or {}).get("labels") or {}).get("release", "")
            if release and release != self.name and _fresh(lease, now):
                holder = (lease.get("spec") or {}).get("holderIdentity")
                raise OwnershipError(
                    f"host namespace {self.namespace!r} already holds the virtual cluster {release!r} "
                    f"(run by {holder}): one virtual cluster per host namespace; use another "
                    "--host-namespace"
                )

    def _body(self, cur: dict[str, Any] | None, now: float) -> dict[str, Any]:
        spec = dict((cur or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = _micro(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if cur else 0)
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=DURATION, renewTime=_micro(now))
        md: dict[str, Any] = {
            "name": self.lease_name,
            "namespace": self.namespace,
            "labels": {"app": "vcluster", "release": self.name},
        }
        if cur is not None:
            md["resourceVersion"] = cur["metadata"]["resourceVersion"]
        return {"apiVersion": API, "kind": "Lease", "metadata": md, "spec": spec}

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                try:  # from the lease as we last wrote it: one request while nobody else writes it
                    body = self._body(self._lease, time.time())
                    self._lease = await self.host.update(API, "leases", body, self.namespace)
                    continue
                except ApiError as e:
                    if not e.conflict:
                        raise
                cur = await self.host.get(API, "leases", self.lease_name, self.namespace)
                holder = (cur.get("spec") or {}).get("holderIdentity")
                if holder != self.identity:
                    self.on_lost(f"the lease {self.lease_name} is now held by {holder}")
                    return
                self._lease = await self.host.update(
                    API, "leases", self._body(cur, time.time()), self.namespace
                )
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.not_found:  # deleted by someone: take it again
                    with contextlib.suppress(ApiError):
                        self._lease = await self.host.create(
                            API, "leases", self._body(None, time.time()), self.namespace
                        )
                    continue
                log.warning("renewing lease %s: %s", self.lease_name, e.message or e)

    async def release(self) -> None:
        """Stop renewing and give the lease up (a clean stop lets the next start go at once)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(ApiError, Exception):
            cur = await self.host.get(API, "leases", self.lease_name, self.namespace)
            if (cur.get("spec") or {}).get("holderIdentity") == self.identity:
                await self.host.delete(API, "leases", self.lease_name, self.namespace)
