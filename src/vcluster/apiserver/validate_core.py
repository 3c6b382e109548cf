"""Create and update validation of the core/v1 kinds LimitRange, ResourceQuota, Endpoints and
PersistentVolume, as kube-apiserver 1.32's `pkg/apis/core/validation` (field paths, messages and
order; Go map iteration is random upstream, here it follows the order of the JSON keys).

Runs on the defaulted object: LimitRange Container items already carry the `default` and
`defaultRequest` values copied from `max`/`default`/`min`, Endpoints ports a protocol, PVs a
reclaim policy and volume mode.
"""

from __future__ import annotations

import math
import posixpath
from fractions import Fraction
from typing import Any

from vcluster.apiserver.admission import (
    _ACCESS_MODES,
    _QUOTA_SCOPES,
    _STANDARD_QUOTA_RESOURCES,
    _STANDARD_RESOURCES,
    _go_scopes,
    _is_native_resource,
    _is_quota_hugepages,
    _negative_quantity,
    _overcommit_allowed,
    _scope_valid_for,
    _spec_diff,
    _validate_container_resource_name,
    _validate_quota_resource_name,
    _volume_attributes_class_update,
)
from vcluster.apiserver.defaults import quantity_value
from vcluster.apiserver.validate_common import (
    FIELD_IMMUTABLE,
    JSON,
    NULL,
    Cause,
    _d,
    _forbidden,
    _invalid,
    _l,
    _label_name,
    _not_supported,
    _required,
    _s,
    dns1123_label,
    dns1123_subdomain,
    go_int,
    go_quantity,
    go_quote,
    go_repr,
    non_special_ip,
    parse_ip_sloppy,
    quantity_string,
)
from vcluster.apiserver.validation import (
    is_dns1123_subdomain,
    validate_label_value,
    validate_qualified_name,
)

_MAX_MILLI_VALUE = (2**63 - 1) // 1000
_IS_NOT_INTEGER = "must be an integer"


# ============================================================================ shared
def _qualified_name(path: str, value: str) -> list[Cause]:
    """ValidateQualifiedName."""
    return [_invalid(path, go_quote(value), m) for m in validate_qualified_name(value)]


def _resource_name(name: str, path: str) -> list[Cause]:
    """validateResourceName: qualified, and a standard resource unless it has a domain."""
    causes = _qualified_name(path, name)
    if causes:
        return causes
    if "/" not in name and name not in _STANDARD_RESOURCES and not _is_quota_hugepages(name):
        causes.append(_invalid(path, go_quote(name), "must be a standard resource type or fully qualified"))
    return causes


def _go_value(q: Fraction) -> int:
    """Quantity.Value(): rounded away from zero to an integer."""
    return math.ceil(q) if q >= 0 else -math.ceil(-q)


def _is_integer_resource(name: str) -> bool:
    """helper.IsIntegerResourceName: object counts and extended resources."""
    if name in _INTEGER_RESOURCES:
        return True
    if _is_native_resource(name) or name.startswith("requests."):
        return False
    return not validate_qualified_name("requests." + name)


_INTEGER_RESOURCES = frozenset(
    (
        "pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
        "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
    )
)  # fmt: skip


def _resource_quantity_value(name: str, raw: Any, path: str) -> list[Cause]:
    """ValidateResourceQuantityValue: not negative, and whole for integer resources."""
    value = quantity_value(raw)
    causes = _negative_quantity(path, raw, value)
    if value is not None and _is_integer_resource(name) and _go_value(value * 1000) % 1000:
        causes.append(_invalid(path, go_quantity(raw), _IS_NOT_INTEGER))
    return causes


# ============================================================================ LimitRange
_LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")
_POD_DEFAULT_FORBIDDEN = "may not be specified when `type` is 'Pod'"


def _limit_type_name(value: str, path: str) -> list[Cause]:
    """validateLimitRangeTypeName."""
    causes = _qualified_name(path, value)
    if not causes and "/" not in value and value not in _LIMIT_TYPES:
        causes.append(_invalid(path, go_quote(value), "must be a standard limit type or fully qualified"))
    return causes


def _limit_resource_name(limit_type: str, name: str, path: str) -> list[Cause]:
    """validateLimitRangeResourceName."""
    if limit_type in ("Pod", "Container"):
        return _validate_container_resource_name(name, path)
    return _resource_name(name, path)


def _limit_values(item: JSON, key: str, limit_type: str, path: str, causes: list[Cause]) -> dict[str, Any]:
    """The names of one resource list validated; its values by name."""
    values = _d(item.get(key))
    for name in values:
        causes.extend(_limit_resource_name(limit_type, name, f"{path}.{key}[{name}]"))
    return values


def _ratio_limit(ratio: Any, mn: Any, mx: Any) -> tuple[float, float]:
    """(maxRatio, max/min) as upstream computes them: milli values unless one is too large."""
    r, lo, hi = (quantity_value(x) or Fraction(0) for x in (ratio, mn, mx))
    ratio_v, lo_v, hi_v = float(_go_value(r)), _go_value(lo), _go_value(hi)
    if ratio_v < _MAX_MILLI_VALUE and lo_v < _MAX_MILLI_VALUE and hi_v < _MAX_MILLI_VALUE:
        ratio_v, lo_v, hi_v = _go_value(r * 1000) / 1000, _go_value(lo * 1000), _go_value(hi * 1000)
    if lo_v == 0:
        return ratio_v, math.inf if hi_v > 0 else (-math.inf if hi_v < 0 else math.nan)
    return ratio_v, hi_v / lo_v


def _go_float(v: float) -> str:
    """fmt %f."""
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return "NaN" if math.isnan(v) else f"{v:.6f}"


def _limit_key_checks(k: str, lists: dict[str, dict[str, Any]], path: str) -> list[Cause]:
    """The comparisons between min, max, default, defaultRequest and maxLimitRequestRatio of one key."""
    mn, mx = lists["min"].get(k), lists["max"].get(k)
    de, dr = lists["default"].get(k), lists["defaultRequest"].get(k)
    ratio = lists["maxLimitRequestRatio"].get(k)
    v = {n: quantity_value(x) for n, x in (("min", mn), ("max", mx), ("de", de), ("dr", dr), ("r", ratio))}
    s = {n: quantity_string(x) for n, x in (("min", mn), ("max", mx), ("de", de), ("dr", dr), ("r", ratio))}
    out: list[Cause] = []

    def bad(sub: str, shown: Any, msg: str) -> None:
        out.append(_invalid(f"{path}.{sub}[{k}]", go_quantity(shown), msg))

    def gt(a: str, b: str) -> bool:
        return v[a] is not None and v[b] is not None and v[a] > v[b]  # type: ignore[operator]

    if mn is not None and mx is not None and gt("min", "max"):
        bad("min", mn, f"min value {s['min']} is greater than max value {s['max']}")
    if dr is not None and mn is not None and gt("min", "dr"):
        bad("defaultRequest", dr, f"min value {s['min']} is greater than default request value {s['dr']}")
    if dr is not None and mx is not None and gt("dr", "max"):
        bad("defaultRequest", dr, f"default request value {s['dr']} is greater than max value {s['max']}")
    if dr is not None and de is not None and gt("dr", "de"):
        bad(
            "defaultRequest",
            dr,
            f"default request value {s['dr']} is greater than default limit value {s['de']}",
        )
    if de is not None and mn is not None and gt("min", "de"):
        bad("default", mn, f"min value {s['min']} is greater than default value {s['de']}")
    if de is not None and mx is not None and gt("de", "max"):
        bad("default", mx, f"default value {s['de']} is greater than max value {s['max']}")
    if ratio is not None and v["r"] is not None and v["r"] < 1:
        bad("maxLimitRequestRatio", ratio, f"ratio {s['r']} is less than 1")
    if ratio is not None and mn is not None and mx is not None:
        ratio_v, limit = _ratio_limit(ratio, mn, mx)
        if ratio_v > limit:
            bad("maxLimitRequestRatio", ratio, f"ratio {s['r']} is greater than max/min = {_go_float(limit)}")
    if not _overcommit_allowed(k) and de is not None and dr is not None and v["de"] != v["dr"]:
        bad(
            "defaultRequest",
            dr,
            f"default value {s['de']} must equal to defaultRequest value {s['dr']} in {k}",
        )
    return out


def _validate_limit_item(item: JSON, seen: set[str], path: str) -> list[Cause]:
    limit_type = _s(item.get("type"))
    causes = _limit_type_name(limit_type, path + ".type")
    if limit_type in seen:
        causes.append(
            Cause("FieldValueDuplicate", f"Duplicate value: {go_quote(limit_type)}", path + ".type")
        )
    seen.add(limit_type)
    lists: dict[str, dict[str, Any]] = {"default": {}, "defaultRequest": {}}
    lists["max"] = _limit_values(item, "max", limit_type, path, causes)
    lists["min"] = _limit_values(item, "min", limit_type, path, causes)
    if limit_type == "Pod":
        for key in ("default", "defaultRequest"):
            if _d(item.get(key)):
                causes.append(_forbidden(f"{path}.{key}", _POD_DEFAULT_FORBIDDEN))
    else:
        for key in ("default", "defaultRequest"):
            lists[key] = _limit_values(item, key, limit_type, path, causes)
    if (
        limit_type == "PersistentVolumeClaim"
        and "storage" not in lists["min"]
        and "storage" not in lists["max"]
    ):
        causes.append(
            _required(
                path + ".limits",
                "either minimum or maximum storage value is required, but neither was provided",
            )
        )
    lists["maxLimitRequestRatio"] = _limit_values(item, "maxLimitRequestRatio", limit_type, path, causes)
    keys = dict.fromkeys(k for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
                         for k in lists[key])  # fmt: skip
    for k in keys:
        causes.extend(_limit_key_checks(k, lists, path))
    return causes


def validate_limit_range(obj: JSON) -> list[Cause]:
    """ValidateLimitRange (spec part)."""
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, item in enumerate(_l(_d(obj.get("spec")).get("limits"))):
        causes.extend(_validate_limit_item(_d(item), seen, f"spec.limits[{i}]"))
    return causes


# ============================================================================ ResourceQuota
def _quota_hard(spec: JSON) -> list[Cause]:
    causes: list[Cause] = []
    for name, value in _d(spec.get("hard")).items():
        path = f"spec.hard[{name}]"
        causes.extend(_validate_quota_resource_name(name, path))
        causes.extend(_resource_quantity_value(name, value, path))
    return causes


def _standard_hard(spec: JSON) -> list[str]:
    hard = _d(spec.get("hard"))
    return sorted(k for k in hard if k in _STANDARD_QUOTA_RESOURCES or _is_quota_hugepages(k))


def _conflicting(scopes: set[str]) -> int:
    pairs = (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating"))
    return sum(1 for a, b in pairs if a in scopes and b in scopes)


def _quota_scopes(spec: JSON) -> list[Cause]:
    """validateResourceQuotaScopes."""
    scopes = _l(spec.get("scopes"))
    if not scopes:
        return []
    rendered = _go_scopes(scopes)
    causes: list[Cause] = []
    for scope in scopes:
        if scope not in _QUOTA_SCOPES:
            causes.append(_invalid("spec.scopes", rendered, "unsupported scope"))
        for resource in _standard_hard(spec):
            if not _scope_valid_for(_s(scope), resource):
                causes.append(_invalid("spec.scopes", rendered, "unsupported scope applied to resource"))
    causes.extend(
        _invalid("spec.scopes", rendered, "conflicting scopes") for _ in range(_conflicting(set(scopes)))
    )
    return causes


_EXISTS_ONLY_SCOPES = (
    "BestEffort",
    "NotBestEffort",
    "Terminating",
    "NotTerminating",
    "CrossNamespacePodAffinity",
)
_EXISTS_ONLY_MSG = (
    "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, "
    "ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or "
    "ResourceQuotaScopeCrossNamespacePodAffinity"
)


def _go_scope_selector(sel: JSON) -> str:
    """%#v of *core.ScopeSelector (dereferenced by ErrorBody)."""
    reqs = []
    for req in _l(sel.get("matchExpressions")):
        req = _d(req)
        values = _l(req.get("values"))
        vals = "[]string{" + ", ".join(go_quote(_s(x)) for x in values) + "}" if values else "[]string(nil)"
        reqs.append(
            f"core.ScopedResourceSelectorRequirement{{ScopeName:{go_quote(_s(req.get('scopeName')))}, "
            f"Operator:{go_quote(_s(req.get('operator')))}, Values:{vals}}}"
        )
    exprs = (
        "[]core.ScopedResourceSelectorRequirement{" + ", ".join(reqs) + "}"
        if reqs
        else ("[]core.ScopedResourceSelectorRequirement(nil)")
    )
    return f"core.ScopeSelector{{MatchExpressions:{exprs}}}"


def _scope_requirement(req: JSON, spec: JSON, sel: JSON, path: str) -> list[Cause]:
    """One matchExpressions entry of validateScopedResourceSelectorRequirement."""
    scope, op, values = _s(req.get("scopeName")), _s(req.get("operator")), _l(req.get("values"))
    causes: list[Cause] = []
    if scope not in _QUOTA_SCOPES:
        causes.append(_invalid(path + ".scopeName", go_quote(scope), "unsupported scope"))
    for resource in _standard_hard(spec):
        if not _scope_valid_for(scope, resource):
            causes.append(_invalid(path, _go_scope_selector(sel), "unsupported scope applied to resource"))
    if scope in _EXISTS_ONLY_SCOPES and op != "Exists":
        causes.append(_invalid(path + ".operator", go_quote(op), _EXISTS_ONLY_MSG))
    if op in ("In", "NotIn"):
        if not values:
            causes.append(
                _required(
                    path + ".values",
                    "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                )
            )
    elif op in ("Exists", "DoesNotExist"):
        if values:
            rendered = "[]string{" + ", ".join(go_quote(_s(x)) for x in values) + "}"
            msg = "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"
            causes.append(_invalid(path + ".values", rendered, msg))
    else:
        causes.append(_invalid(path + ".operator", go_quote(op), "not a valid selector operator"))
    return causes


def _quota_scope_selector(spec: JSON) -> list[Cause]:
    """validateScopeSelector."""
    sel = spec.get("scopeSelector")
    if not isinstance(sel, dict):
        return []
    path = "spec.scopeSelector.matchExpressions"
    causes: list[Cause] = []
    scopes: set[str] = set()
    for req in _l(sel.get("matchExpressions")):
        causes.extend(_scope_requirement(_d(req), spec, sel, path))
        scopes.add(_s(_d(req).get("scopeName")))
    rendered = _go_scopes(_l(spec.get("scopes")))
    causes.extend(_invalid(path, rendered, "conflicting scopes") for _ in range(_conflicting(scopes)))
    return causes


def validate_resource_quota(obj: JSON) -> list[Cause]:
    """ValidateResourceQuotaSpec: hard names and values, scopes, then the scope selector."""
    spec = _d(obj.get("spec"))
    return _quota_hard(spec) + _quota_scopes(spec) + _quota_scope_selector(spec)


def validate_resource_quota_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateResourceQuotaUpdate: the spec, and scopes that may not change."""
    causes = validate_resource_quota(new)
    nscopes, oscopes = _l(_d(new.get("spec")).get("scopes")), _l(_d(old.get("spec")).get("scopes"))
    if {_s(x) for x in nscopes} != {_s(x) for x in oscopes}:
        causes.append(_invalid("spec.scopes", _go_scopes(nscopes), FIELD_IMMUTABLE))
    return causes


# ============================================================================ Endpoints
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_VALID_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _endpoint_address(addr: JSON, path: str) -> list[Cause]:
    """validateEndpointAddress."""
    ip = _s(addr.get("ip"))
    causes: list[Cause] = []
    if parse_ip_sloppy(ip) is None:
        causes.append(_invalid(path + ".ip", go_quote(ip), _VALID_IP_MSG))
    hostname = _s(addr.get("hostname"))
    if hostname:
        causes.extend(dns1123_label(path + ".hostname", hostname))
    node = addr.get("nodeName")
    if isinstance(node, str):
        causes.extend(_invalid(path + ".nodeName", go_quote(node), m) for m in is_dns1123_subdomain(node))
    return causes + non_special_ip(ip, path + ".ip")


def _endpoint_port(port: JSON, require_name: bool, path: str) -> list[Cause]:
    """validateEndpointPort."""
    causes: list[Cause] = []
    name = _s(port.get("name"))
    if require_name and not name:
        causes.append(_required(path + ".name"))
    elif name:
        causes.extend(dns1123_label(path + ".name", name))
    number = go_int(port.get("port"))
    if not 1 <= number <= 65535:
        causes.append(_invalid(path + ".port", str(number), "must be between 1 and 65535, inclusive"))
    proto = _s(port.get("protocol"))
    if not proto:
        causes.append(_required(path + ".protocol"))
    elif proto not in _PROTOCOLS:
        causes.append(_not_supported(path + ".protocol", proto, _PROTOCOLS))
    app = port.get("appProtocol")
    if isinstance(app, str):
        causes.extend(_qualified_name(path + ".appProtocol", app))
    return causes


def validate_endpoints(obj: JSON) -> list[Cause]:
    """ValidateEndpoints (subsets)."""
    causes: list[Cause] = []
    for i, ss in enumerate(_l(obj.get("subsets"))):
        ss, path = _d(ss), f"subsets[{i}]"
        addrs, not_ready, ports = (
            _l(ss.get("addresses")),
            _l(ss.get("notReadyAddresses")),
            _l(ss.get("ports")),
        )
        if not addrs and not not_ready:
            causes.append(_required(path, "must specify `addresses` or `notReadyAddresses`"))
        for j, a in enumerate(addrs):
            causes.extend(_endpoint_address(_d(a), f"{path}.addresses[{j}]"))
        for j, a in enumerate(not_ready):
            causes.extend(_endpoint_address(_d(a), f"{path}.notReadyAddresses[{j}]"))
        for j, p in enumerate(ports):
            causes.extend(_endpoint_port(_d(p), len(ports) > 1, f"{path}.ports[{j}]"))
    return causes


# ============================================================================ PersistentVolume
_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
_VOLUME_MODES = ("Block", "Filesystem")
_HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                    "Socket")  # fmt: skip
# ValidatePersistentVolumeSpec's order: (JSON key, path of the "more than 1" error, path of the source).
_PV_SOURCES = tuple(
    (key, dup, src)
    for key, dup, src in (
        ("hostPath", "hostPath", "hostPath"),
        ("gcePersistentDisk", "gcePersistentDisk", "persistentDisk"),
        ("awsElasticBlockStore", "awsElasticBlockStore", "awsElasticBlockStore"),
        ("glusterfs", "glusterfs", "glusterfs"),
        ("flocker", "flocker", "flocker"),
        ("nfs", "nfs", "nfs"),
        ("rbd", "rbd", "rbd"),
        ("quobyte", "quobyte", "quobyte"),
        ("cephfs", "cephFS", "cephfs"),
        ("iscsi", "iscsi", "iscsi"),
        ("cinder", "cinder", "cinder"),
        ("fc", "fc", "fc"),
        ("flexVolume", "", "flexVolume"),
        ("azureFile", "azureFile", "azureFile"),
        ("vsphereVolume", "vsphereVolume", "vsphereVolume"),
        ("photonPersistentDisk", "photonPersistentDisk", "photonPersistentDisk"),
        ("portworxVolume", "portworxVolume", "portworxVolume"),
        ("azureDisk", "azureDisk", "azureDisk"),
        ("scaleIO", "scaleIO", "scaleIO"),
        ("local", "local", "local"),
        ("storageos", "storageos", "storageos"),
        ("csi", "csi", "csi"),
    )
)
_PV_SOURCE_KEYS = tuple(k for k, _, _ in _PV_SOURCES)
_NODE_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def _no_backsteps(value: str, path: str) -> list[Cause]:
    """validatePathNoBacksteps."""
    if ".." in value.split("/"):
        return [_invalid(path, go_quote(value), "must not contain '..'")]
    return []


def _host_path_source(src: JSON, path: str) -> list[Cause]:
    p = _s(src.get("path"))
    if not p:
        return [_required(path + ".path")]
    causes = _no_backsteps(p, path + ".path")
    t = src.get("type")
    if isinstance(t, str) and t not in _HOST_PATH_TYPES:
        causes.append(_not_supported(path + ".type", t, _HOST_PATH_TYPES))
    return causes


def _nfs_source(src: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not _s(src.get("server")):
        causes.append(_required(path + ".server"))
    p = _s(src.get("path"))
    if not p:
        causes.append(_required(path + ".path"))
    if not p.startswith("/"):
        causes.append(_invalid(path + ".path", go_quote(p), "must be an absolute path"))
    return causes


def _local_source(src: JSON, path: str) -> list[Cause]:
    p = _s(src.get("path"))
    if not p:
        return [_required(path + ".path")]
    return _no_backsteps(p, path + ".path")


def _secret_reference(ref: JSON, path: str) -> list[Cause]:
    """validatePVSecretReference."""
    causes: list[Cause] = []
    name, ns = _s(ref.get("name")), _s(ref.get("namespace"))
    causes.extend(dns1123_subdomain(path + ".name", name) if name else [_required(path + ".name")])
    causes.extend(dns1123_label(path + ".namespace", ns) if ns else [_required(path + ".namespace")])
    return causes


def _csi_source(src: JSON, path: str) -> list[Cause]:
    """validateCSIPersistentVolumeSource."""
    driver = _s(src.get("driver"))
    causes: list[Cause] = []
    if not driver:
        causes.append(_required(path + ".driver"))
    if len(driver.encode()) > 63:
        causes.append(Cause("FieldValueTooLong", "Too long: may not be more than 63 bytes", path + ".driver"))
    causes.extend(
        _invalid(path + ".driver", go_quote(driver), m) for m in is_dns1123_subdomain(driver.lower())
    )
    if not _s(src.get("volumeHandle")):
        causes.append(_required(path + ".volumeHandle"))
    for key in ("controllerPublishSecretRef", "controllerExpandSecretRef", "nodePublishSecretRef",
                "nodeExpandSecretRef"):  # fmt: skip
        ref = src.get(key)
        if isinstance(ref, dict):
            causes.extend(_secret_reference(ref, f"{path}.{key}"))
    return causes


_SOURCE_VALIDATORS = {
    "hostPath": _host_path_source,
    "nfs": _nfs_source,
    "local": _local_source,
    "csi": _csi_source,
}


def _node_selector_requirement(req: JSON, path: str) -> list[Cause]:
    """ValidateNodeSelectorRequirement."""
    op, values = _s(req.get("operator")), _l(req.get("values"))
    causes: list[Cause] = []
    if op in ("In", "NotIn") and not values:
        causes.append(_required(path + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist") and values:
        causes.append(
            _forbidden(path + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
        )
    elif op in ("Gt", "Lt") and len(values) != 1:
        causes.append(
            _required(path + ".values", "must be specified single value when `operator` is 'Lt' or 'Gt'")
        )
    elif op not in _NODE_SELECTOR_OPS:
        causes.append(_invalid(path + ".operator", go_quote(op), "not a valid selector operator"))
    causes.extend(_label_name(path + ".key", _s(req.get("key"))))
    for i, value in enumerate(values):
        causes.extend(
            _invalid(f"{path}.values[{i}]", go_quote(_s(value)), m) for m in validate_label_value(_s(value))
        )
    return causes


def _node_field_requirement(req: JSON, path: str) -> list[Cause]:
    """ValidateNodeFieldSelectorRequirement (only metadata.name is a valid key)."""
    op, values, key = _s(req.get("operator")), _l(req.get("values")), _s(req.get("key"))
    causes: list[Cause] = []
    if op in ("In", "NotIn"):
        if len(values) != 1:
            msg = "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"
            causes.append(_required(path + ".values", msg))
    else:
        causes.append(_invalid(path + ".operator", go_quote(op), "not a valid selector operator"))
    if key != "metadata.name":
        causes.append(_invalid(path + ".key", go_quote(key), "not a valid field selector key"))
    else:
        for i, v in enumerate(values):
            causes.extend(
                _invalid(f"{path}.values[{i}]", go_quote(_s(v)), m) for m in is_dns1123_subdomain(_s(v))
            )
    return causes


def _node_affinity(affinity: JSON, path: str) -> list[Cause]:
    """validateVolumeNodeAffinity with ValidateNodeSelector."""
    required = affinity.get("required")
    if not isinstance(required, dict):
        return [_required(path + ".required", "must specify required node constraints")]
    terms_path = path + ".required.nodeSelectorTerms"
    terms = _l(required.get("nodeSelectorTerms"))
    if not terms:
        return [_required(terms_path, "must have at least one node selector term")]
    causes: list[Cause] = []
    for i, term in enumerate(terms):
        term = _d(term)
        for j, req in enumerate(_l(term.get("matchExpressions"))):
            causes.extend(_node_selector_requirement(_d(req), f"{terms_path}[{i}].matchExpressions[{j}]"))
        for j, req in enumerate(_l(term.get("matchFields"))):
            causes.extend(_node_field_requirement(_d(req), f"{terms_path}[{i}].matchFields[{j}]"))
    return causes


def _go_resource_list(rl: Any) -> str:
    """%#v of a core.ResourceList (keys sorted, as fmt prints maps)."""
    if not isinstance(rl, dict):
        return "core.ResourceList(nil)"
    items = ", ".join(f"{go_quote(k)}:{go_quantity(rl[k])}" for k in sorted(rl))
    return "core.ResourceList{" + items + "}"


def _pv_access_modes(spec: JSON) -> list[Cause]:
    modes = _l(spec.get("accessModes"))
    causes = [] if modes else [_required("spec.accessModes")]
    rwop = other = False
    for mode in modes:
        if mode not in _ACCESS_MODES:
            causes.append(_not_supported("spec.accessModes", mode, _ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            rwop = True
        elif mode in _ACCESS_MODES:
            other = True
    if rwop and other:
        causes.append(_forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes"))
    return causes


def _pv_capacity(spec: JSON) -> list[Cause]:
    cap = spec.get("capacity")
    capd = _d(cap)
    causes = [] if capd else [_required("spec.capacity")]
    if "storage" not in capd or len(capd) > 1:
        causes.append(_not_supported("spec.capacity", None, ("storage",)))
        causes[-1].message = causes[-1].message.replace(NULL, _go_resource_list(cap), 1)
    for name, raw in capd.items():
        path = f"spec.capacity[{name}]"
        value = quantity_value(raw)
        if value is None:
            continue
        if _go_value(value) < 0:
            causes.append(_invalid(path, str(_go_value(value)), "must be a valid resource quantity"))
        if value <= 0:
            causes.append(_invalid(path, go_quote(quantity_string(raw)), "must be greater than zero"))
    return causes


def _pv_sources(spec: JSON, affinity_set: bool) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    for key, dup_path, src_path in _PV_SOURCES:
        src = spec.get(key)
        if src is None:
            continue
        if count and dup_path:
            causes.append(_forbidden(f"spec.{dup_path}", "may not specify more than 1 volume type"))
            continue
        count += 1
        fn = _SOURCE_VALIDATORS.get(key)
        if fn is not None:
            causes.extend(fn(_d(src), f"spec.{src_path}"))
        if key == "local" and not affinity_set:
            causes.append(_required("spec.nodeAffinity", "Local volume requires node affinity"))
    if count == 0:
        causes.append(_required("spec", "must specify a volume type"))
    return causes


def _pv_tail(spec: JSON) -> list[Cause]:
    """The hostPath '/' recycle rule, the class name and the volume mode."""
    causes: list[Cause] = []
    hp = spec.get("hostPath")
    policy = _s(spec.get("persistentVolumeReclaimPolicy"))
    if isinstance(hp, dict) and posixpath.normpath(_s(hp.get("path")) or ".") == "/" and policy == "Recycle":
        causes.append(
            _forbidden(
                "spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'"
            )
        )
    cls = _s(spec.get("storageClassName"))
    if cls:
        causes.extend(dns1123_subdomain("spec.storageClassName", cls))
    mode = spec.get("volumeMode")
    if isinstance(mode, str) and mode not in _VOLUME_MODES:
        causes.append(_not_supported("spec.volumeMode", mode, _VOLUME_MODES))
    return causes


def validate_persistent_volume(obj: JSON) -> list[Cause]:
    """ValidatePersistentVolumeSpec (not inline; VolumeAttributesClass gate off)."""
    spec = _d(obj.get("spec"))
    causes = _pv_access_modes(spec) + _pv_capacity(spec)
    policy = _s(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in _RECLAIM_POLICIES:
        causes.append(_not_supported("spec.persistentVolumeReclaimPolicy", policy, _RECLAIM_POLICIES))
    affinity = spec.get("nodeAffinity")
    if isinstance(affinity, dict):
        causes.extend(_node_affinity(affinity, "spec.nodeAffinity"))
    return causes + _pv_sources(spec, isinstance(affinity, dict)) + _pv_tail(spec)


_BETA_TO_GA_LABELS = {
    "failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region",
    "beta.kubernetes.io/instance-type": "node.kubernetes.io/instance-type",
}


def _ga_node_affinity(affinity: Any) -> Any:
    """The node affinity with its beta topology label keys replaced by the GA ones."""
    if not isinstance(affinity, dict):
        return affinity
    terms = []
    for term in _l(_d(affinity.get("required")).get("nodeSelectorTerms")):
        exprs = [
            {**_d(e), "key": _BETA_TO_GA_LABELS.get(_s(_d(e).get("key")), _d(e).get("key"))}
            for e in _l(_d(term).get("matchExpressions"))
        ]
        terms.append({**_d(term), "matchExpressions": exprs} if exprs else term)
    return {**affinity, "required": {**_d(affinity.get("required")), "nodeSelectorTerms": terms}}


def _pv_source(spec: JSON) -> JSON:
    return {k: spec[k] for k in _PV_SOURCE_KEYS if spec.get(k) is not None}


def validate_persistent_volume_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidatePersistentVolumeUpdate: the volume source, volume mode and node affinity are fixed
    (a CSI controllerExpandSecretRef may be added), the class of volume attributes too (gate off)."""
    causes = validate_persistent_volume(new)
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    nsrc, osrc = _pv_source(nspec), _pv_source(ospec)
    ocsi, ncsi = osrc.get("csi"), nsrc.get("csi")
    if isinstance(ocsi, dict) and isinstance(ncsi, dict) and "controllerExpandSecretRef" not in ocsi:
        nsrc = {**nsrc, "csi": {k: v for k, v in ncsi.items() if k != "controllerExpandSecretRef"}}
    if nsrc != osrc:
        diff = _spec_diff("core.PersistentVolumeSource", osrc, nsrc)
        causes.append(
            _forbidden(
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation\n" + diff,
            )
        )
    nmode, omode = nspec.get("volumeMode"), ospec.get("volumeMode")
    if nmode != omode:
        causes.append(
            _invalid("volumeMode", go_repr(nmode) if isinstance(nmode, str) else NULL, FIELD_IMMUTABLE)
        )
    oaff, naff = ospec.get("nodeAffinity"), nspec.get("nodeAffinity")
    if oaff is not None and naff != oaff and naff != _ga_node_affinity(oaff):
        rendered = "core.VolumeNodeAffinity{Required:(*core.NodeSelector)(0xc000a1e000)}" if naff else NULL
        causes.append(
            _invalid(
                "nodeAffinity", rendered, FIELD_IMMUTABLE + ", except for updating from beta label to GA"
            )
        )
    return causes + _volume_attributes_class_update(nspec, ospec)
