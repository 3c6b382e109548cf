"""kube-controller-manager's `csrcleaner` controller (pkg/controller/certificates/cleaner): every
hour the CertificateSigningRequests are swept; a request is deleted when it was issued (Approved
with a certificate) more than an hour ago, denied or failed more than an hour ago (the condition's
lastUpdateTime), pending (no condition) for more than 24 hours, or when its certificate expired.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any

from vcluster.apiserver import certificates as capi
from vcluster.apiserver import csrparse
from vcluster.controllers.base import BaseController, name_of, parse_time
from vcluster.controllers.csrsigning import API_VERSION, PLURAL

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

POLLING_INTERVAL = 3600.0
APPROVED_EXPIRATION = dt.timedelta(hours=1)
DENIED_EXPIRATION = dt.timedelta(hours=1)
PENDING_EXPIRATION = dt.timedelta(hours=24)


def _older_than(ts: Any, age: dt.timedelta, now: dt.datetime) -> bool:
    """isOlderThan: a set time more than `age` before now."""
    t = parse_time(ts) if isinstance(ts, str) else None
    return t is not None and now - t > age


def _condition_older_than(csr: dict[str, Any], ctype: str, age: dt.timedelta, now: dt.datetime) -> bool:
    return any(
        c.get("type") == ctype and _older_than(c.get("lastUpdateTime"), age, now)
        for c in capi.conditions_of(csr)
    )


def cleanup_reason(csr: dict[str, Any], now: dt.datetime) -> str:
    """Why the cleaner deletes `csr` ("" to keep it): isIssuedPastDeadline, isDeniedPastDeadline,
    isFailedPastDeadline, isPendingPastDeadline, isIssuedExpired."""
    issued = bool(capi.certificate_bytes(csr))
    if issued and _condition_older_than(csr, capi.APPROVED, APPROVED_EXPIRATION, now):
        return "approved and issued more than 1h0m0s ago"
    if _condition_older_than(csr, capi.DENIED, DENIED_EXPIRATION, now):
        return "denied more than 1h0m0s ago"
    if _condition_older_than(csr, capi.FAILED, DENIED_EXPIRATION, now):
        return "failed more than 1h0m0s ago"
    created = (csr.get("metadata") or {}).get("creationTimestamp")
    if not capi.conditions_of(csr) and _older_than(created, PENDING_EXPIRATION, now):
        return "pending for more than 24h0m0s"
    if issued and capi.has_condition(csr, capi.APPROVED):
        cert = csrparse.first_certificate(capi.certificate_bytes(csr))
        if cert is not None and now > cert.not_valid_after_utc:
            return "its certificate expired"
    return ""


class CSRCleanerController(BaseController):
    """Deletes finished, abandoned and expired CertificateSigningRequests, once an hour."""

    name = "csrcleaner"
    component = "csrcleaner-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        polling_interval: float = POLLING_INTERVAL,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.polling_interval = polling_interval
        self.csrs = informers.informer(API_VERSION, PLURAL)

    async def run(self, workers: int = 1) -> None:
        """wait.Until(worker, pollingInterval): a sweep at once, then one per interval."""
        await self.csrs.wait_synced()
        try:
            while True:
                await self.sweep()
                await asyncio.sleep(self.polling_interval)
        except asyncio.CancelledError:
            await self.close()
            raise

    async def sweep(self) -> None:
        from vcluster.client import ApiError

        now = self.now()
        for csr in self.csrs.list():
            reason = cleanup_reason(csr, now)
            if not reason:
                continue
            self.log.info("cleaning CSR %s: %s", name_of(csr), reason)
            try:
                await self.client.delete(API_VERSION, PLURAL, name_of(csr))
            except ApiError as e:
                if not e.not_found:
                    self.log.warning("unable to delete CSR %s: %s", name_of(csr), e)
