"""ServiceAccounts (§5.5, when enabled): secrets and imagePullSecrets dropped, automount off on the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import generic, kinds
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import FieldDirections
from vcluster.syncer.result import SyncResult, Translation

KIND = kinds.SERVICE_ACCOUNT
FIELDS = FieldDirections()


def translate_service_account(vsa: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host ServiceAccount pods of this virtual SA run as."""
    host = generic.to_host(vsa, ctx, KIND, FIELDS)
    host.pop("secrets", None)
    host.pop("imagePullSecrets", None)
    host["automountServiceAccountToken"] = False
    return Translation(host)


def sync_service_account(
    vsa: Mapping[str, Any],
    hsa: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """Only labels and annotations are synced (both ways)."""
    return generic.sync(vsa, hsa, virtual_old, host_old, ctx, KIND, FIELDS)
