"""Secrets (§5, §6.3): synced only while used; data merged both ways; SA-token type becomes Opaque."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, copy_bidirectional
from vcluster.syncer.resources.configmap import IMMUTABLE, data_field
from vcluster.syncer.result import SyncResult, Translation

KIND = kinds.SECRET
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"


def _type_merge(v_old: Any, v: Any, h_old: Any, h: Any, env: FieldEnv) -> tuple[Any, Any]:
    """`type` both ways, unless either side is a service-account-token secret."""
    if SA_TOKEN_TYPE in (v, h):
        return v, h
    return copy_bidirectional(v_old, v, h_old, h)


FIELDS = FieldDirections(
    both=(
        data_field("data"),
        Field("type", merge=_type_merge),
        IMMUTABLE,
        "metadata.labels",
        "metadata.annotations",
    ),
)


def is_used(vsecret: Mapping[str, Any], ctx: SyncContext, referenced: bool) -> bool:
    """Synced when forced, when `all: true`, or while something references it (§7.4)."""
    forced = metadata.annotations_of(vsecret).get(c.FORCE_SYNC_ANNOTATION) == "true"
    return forced or ctx.secrets_all or referenced


def translate_secret(vsecret: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host Secret; a service-account-token secret is stored as Opaque on the host."""
    host = generic.to_host(vsecret, ctx, KIND, FIELDS)
    host.pop("stringData", None)
    if host.get("type") == SA_TOKEN_TYPE:
        host["type"] = "Opaque"
    return Translation(host)


def sync_secret(
    vsecret: Mapping[str, Any],
    hsecret: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """data merged key by key from the changed side; type and metadata as declared."""
    return generic.sync(vsecret, hsecret, virtual_old, host_old, ctx, KIND, FIELDS)
