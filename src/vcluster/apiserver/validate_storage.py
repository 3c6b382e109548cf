"""Create and update validation of storage.k8s.io/v1 StorageClass, as kube-apiserver 1.32's
`pkg/apis/storage/validation` (ValidateStorageClass, ValidateStorageClassUpdate).

Runs on the defaulted object: `reclaimPolicy` and `volumeBindingMode` are set unless a client
sent them as explicit nulls on an update.
"""

from __future__ import annotations

from typing import Any

from vcluster.apiserver.validate_common import (
    FIELD_IMMUTABLE,
    JSON,
    NULL,
    Cause,
    _d,
    _duplicate,
    _forbidden,
    _invalid,
    _l,
    _label_name,
    _not_supported,
    _required,
    _s,
    go_quote,
)
from vcluster.apiserver.validation import validate_qualified_name

_MAX_PARAMETERS = 512
_MAX_PARAMETERS_SIZE = 256 * (1 << 10)
_RECLAIM_POLICIES = ("Delete", "Retain")
_BINDING_MODES = ("Immediate", "WaitForFirstConsumer")


def _provisioner(value: str) -> list[Cause]:
    """validateProvisioner: required, and a qualified name once lower-cased."""
    if not value:
        return [_required("provisioner")]
    return [
        _invalid("provisioner", go_quote(value.lower()), m) for m in validate_qualified_name(value.lower())
    ]


def _parameters(params: JSON) -> list[Cause]:
    """validateParameters: at most 512 entries of 256 KiB in all, no empty key."""
    if len(params) > _MAX_PARAMETERS:
        return [
            Cause(
                "FieldValueTooLong", f"Too long: may not be more than {_MAX_PARAMETERS} bytes", "parameters"
            )
        ]
    causes = [_invalid("parameters", '""', "field can not be empty.") for k in params if not k]
    size = sum(len(k.encode()) + len(_s(v).encode()) for k, v in params.items())
    if size > _MAX_PARAMETERS_SIZE:
        msg = f"Too long: may not be more than {_MAX_PARAMETERS_SIZE} bytes"
        causes.append(Cause("FieldValueTooLong", msg, "parameters"))
    return causes


def _topology_term(term: JSON, path: str) -> tuple[dict[str, frozenset[str]], list[Cause]]:
    """ValidateTopologySelectorTerm: the term's key -> values map and its causes."""
    exprs: dict[str, frozenset[str]] = {}
    causes: list[Cause] = []
    for i, req in enumerate(_l(term.get("matchLabelExpressions"))):
        req, p = _d(req), f"{path}.matchLabelExpressions[{i}]"
        values = [_s(v) for v in _l(req.get("values"))]
        if not values:
            causes.append(_required(p + ".values"))
        seen: set[str] = set()
        for j, v in enumerate(values):
            if v in seen:
                causes.append(_duplicate(f"{p}.values[{j}]", go_quote(v)))
            seen.add(v)
        key = _s(req.get("key"))
        causes.extend(_label_name(p + ".key", key))
        if key in exprs:
            causes.append(_duplicate(p + ".key", go_quote(key)))
        exprs[key] = frozenset(seen)
    return exprs, causes


def _allowed_topologies(terms: list[Any]) -> list[Cause]:
    """validateAllowedTopologies. Upstream compares each term with a slice that starts with
    len(terms) nil maps, so a term without expressions is reported once per term as well."""
    if not terms:
        return []
    causes: list[Cause] = []
    previous: list[dict[str, frozenset[str]]] = [{} for _ in terms]
    for i, term in enumerate(terms):
        exprs, term_causes = _topology_term(_d(term), f"allowedTopologies[{i}]")
        causes += term_causes
        path = f"allowedTopologies[{i}].matchLabelExpressions"
        causes.extend(_duplicate(path, '""') for seen in previous if seen == exprs)
        previous.append(exprs)
    return causes


def validate_storage_class(obj: JSON) -> list[Cause]:
    """ValidateStorageClass (after the metadata)."""
    causes = _provisioner(_s(obj.get("provisioner"))) + _parameters(_d(obj.get("parameters")))
    policy = obj.get("reclaimPolicy")
    if isinstance(policy, str) and policy and policy not in _RECLAIM_POLICIES:
        causes.append(_not_supported("reclaimPolicy", policy, _RECLAIM_POLICIES))
    mode = obj.get("volumeBindingMode")
    if not isinstance(mode, str):
        causes.append(_required("volumeBindingMode"))
    elif mode not in _BINDING_MODES:
        causes.append(_not_supported("volumeBindingMode", mode, _BINDING_MODES))
    return causes + _allowed_topologies(_l(obj.get("allowedTopologies")))


def _storage_class_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateStorageClassUpdate: parameters, provisioner, reclaimPolicy and volumeBindingMode
    are fixed."""
    causes: list[Cause] = []
    if _d(new.get("parameters")) != _d(old.get("parameters")):
        causes.append(_forbidden("parameters", "updates to parameters are forbidden."))
    if _s(new.get("provisioner")) != _s(old.get("provisioner")):
        causes.append(_forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        causes.append(_forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    nv, ov = new.get("volumeBindingMode"), old.get("volumeBindingMode")
    if nv != ov:
        causes.append(
            _invalid("volumeBindingMode", go_quote(nv) if isinstance(nv, str) else NULL, FIELD_IMMUTABLE)
        )
    return causes


def validate_storage_class_update(new: JSON, old: JSON) -> list[Cause]:
    """The strategy's ValidateUpdate: the new object's validation, then the update rules."""
    return validate_storage_class(new) + _storage_class_update(new, old)
