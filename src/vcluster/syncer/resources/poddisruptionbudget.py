"""PodDisruptionBudgets (§5.5, when enabled): selector keys translated, spec pushed virtual→host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import generic, kinds
from vcluster.syncer.context import SyncContext
from vcluster.syncer.merge import Field, FieldDirections, FieldEnv, json_copy
from vcluster.syncer.result import SyncResult, Translation
from vcluster.syncer.selectors import translate_label_selector

KIND = kinds.PDB


def translate_spec(spec: Any, vcluster: str) -> Any:
    """Selector keys translated (no namespace or marker labels added); an empty spec stays `{}`
    (vCluster copies the spec struct: a null would be no PodDisruptionBudgetSpec kube serves)."""
    if spec is None:
        return None
    out = json_copy(spec)
    if "selector" in out:
        out["selector"] = translate_label_selector(out["selector"], vcluster)
    return out


def _spec_to_host(spec: Any, env: FieldEnv) -> Any:
    return translate_spec(spec, env.ctx.vcluster)


FIELDS = FieldDirections(to_host=(Field("spec", to_host=_spec_to_host),))


def translate_pdb(vpdb: Mapping[str, Any], ctx: SyncContext) -> Translation:
    """The host PodDisruptionBudget."""
    host = generic.to_host(vpdb, ctx, KIND, FIELDS)
    if host.get("spec") is not None:
        host["spec"] = translate_spec(host["spec"], ctx.vcluster)
    return Translation(host)


def sync_pdb(
    vpdb: Mapping[str, Any],
    hpdb: Mapping[str, Any],
    virtual_old: Mapping[str, Any] | None,
    host_old: Mapping[str, Any] | None,
    ctx: SyncContext,
) -> SyncResult:
    """minAvailable/maxUnavailable/selector pushed on every sync; labels/annotations both ways."""
    return generic.sync(vpdb, hpdb, virtual_old, host_old, ctx, KIND, FIELDS)
