"""ConfigMaps (§5, §6.3): synced only while used; data and binaryData merged both ways."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import KUBE_ROOT_CA, SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, merge_bidirectional
from vcluster.syncer.result import SyncResult, Translation

KIND = kinds.CONFIGMAP


def _immutable_merge(v_old: Any, v: Any, h_old: Any, h: Any, env: FieldEnv) -> tuple[Any, Any]:
    """`immutable` goes virtual→host once set (it can never be unset); a host copy frozen on the
    host alone stays frozen (unfreezing is refused)."""
    return v, (True if v else h)


def data_field(path: str) -> Field:
    """`data`/`binaryData` merged key by key from the changed side (§6.2), except that an
    immutable virtual object takes nothing any more (its API server refuses every change): the
    host copy gets the virtual data back unless it is frozen too."""

    def merge(v_old: Any, v: Any, h_old: Any, h: Any, env: FieldEnv) -> tuple[Any, Any]:
        if env.virtual.get("immutable"):
            return v, (h if env.host.get("immutable") else v)
        res = merge_bidirectional(v_old, v, h_old, h)
        return res.virtual, res.host

    return Field(path, merge=merge)


IMMUTABLE = Field("immutable", merge=_immutable_merge)

FIELDS = FieldDirections(
    both=(
        data_field("data"),
        data_field("binaryData"),
        IMMUTABLE,
        "metadata.labels",
        "metadata.annotations",
    ),
)


def is_used(vcm: Mapping[str, Any], ctx: SyncContext, referenced: bool) -> bool:
    """Synced when forced, when `all: true`, or while something references it (§7.4)."""
    forced = metadata.annotations_of(vcm).get(c.FORCE_SYNC_ANNOTATION) == "true"
    return forced or ctx.configmaps_all or referenced


def is_kube_root_ca(vcm: Mapping[str, Any]) -> bool:
    """Every namespace's `kube-root-ca.crt` maps to the one host `vcluster-kube-root-ca.crt-x-<vc>`."""
    return metadata.meta(vcm).get("name") == KUBE_ROOT_CA


def translate_configmap(vcm: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host ConfigMap (special name for kube-root-ca.crt)."""
    return Translation(generic.to_host(vcm, ctx, KIND, FIELDS))


def sync_configmap(
    vcm: Mapping[str, Any],
    hcm: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """data/binaryData merged key by key from the changed side; labels/annotations three-way."""
    return generic.sync(vcm, hcm, virtual_old, host_old, ctx, KIND, FIELDS)
