"""kubectl-style toleration strings of `sync.toHost.pods.enforceTolerations` (vCluster's ParseToleration)."""

from __future__ import annotations

from vcluster.apiserver.validation import validate_label_value, validate_qualified_name

EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_toleration(spec: str) -> dict[str, str]:
    """`*`, `key`, `key=value`, `key:Effect`, `key=value:Effect` → a core/v1 Toleration dict.

    Follows pkg/util/toleration/toleration.go: `*` tolerates everything (operator Exists);
    with an effect the operator is Exists (no value) or Equal (value); without an effect no
    operator is set (the API default Equal). Unlike upstream the key and effect are validated here,
    because the host API server would otherwise reject every synced pod. Raises ValueError.
    """
    if spec == "*":
        return {"operator": "Exists"}
    colon = spec.split(":")
    key, value, effect, operator = "", "", "", ""
    if len(colon) == 1:
        eq = spec.split("=")
        if len(eq) > 2:
            raise ValueError(f"invalid toleration spec: {spec}")
        key = eq[0]
        if len(eq) == 2:
            value = eq[1]
    elif len(colon) == 2:
        effect = colon[1]
        operator = "Exists"
        kv = colon[0].split("=")
        if len(kv) > 2:
            raise ValueError(f"invalid toleration spec: {spec}")
        key = kv[0]
        if len(kv) == 2:
            operator = "Equal"
            value = kv[1]
    else:
        raise ValueError(f"invalid toleration spec: {spec}")
    if value and (errs := validate_label_value(value)):
        raise ValueError(f"invalid toleration spec: {spec}, {'; '.join(errs)}")
    if not key and operator != "Exists":
        raise ValueError(f"invalid toleration spec: {spec}, the key must not be empty (use * for all)")
    if key and (errs := validate_qualified_name(key)):
        raise ValueError(f"invalid toleration spec: {spec}, key {'; '.join(errs)}")
    if effect not in EFFECTS:
        raise ValueError(
            f"invalid toleration spec: {spec}, effect must be one of NoSchedule, PreferNoSchedule, NoExecute"
        )
    out = {"key": key} if key else {}
    if operator:
        out["operator"] = operator
    if value:
        out["value"] = value
    if effect:
        out["effect"] = effect
    return out
