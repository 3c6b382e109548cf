"""Admission, create validation and update (immutability) rules of kube-apiserver 1.32 for the kinds
users create, as pure functions over JSON objects.

* `admit_create` / `admit_update` mutate the object as kube-apiserver's default admission plugins
  and REST hooks do (ServiceAccount, DefaultTolerationSeconds, Priority, StorageObjectInUseProtection,
  DefaultStorageClass, the Service ClusterIP/NodePort carry-over on update). A rejection is raised
  as `StatusError` (403 Forbidden) with the plugin's message.
* `validate_create` / `validate_update` return the `details.causes` of a 422 Invalid answer
  (empty list: valid), with the field paths and texts of `pkg/apis/*/validation` (apps, batch,
  core) and the registry strategies. Build the answer with `errors.invalid(kind, group, name,
  meta_causes + causes)`; metadata itself is validated by validation.py.
  `validate_ephemeral_containers_update` is the same for the pods/ephemeralcontainers endpoint.
* `job_generate_selector` and `pod_qos_class` are the Job and Pod strategy steps that need the uid
  or the defaulted resources.

Values inside messages are printed the way 1.32's `field.Error.ErrorBody` prints them: strings
quoted Go-style, numbers plain and composite values with Go's `%#v` (`map[string]string{"a":"b"}`,
`v1.LabelSelector{MatchLabels:...}`, `[]string{"10.0.0.1"}`). The `cmp.Diff` appended to the "pod
updates may not change fields" and PVC messages is an approximation: upstream's go-cmp output
deliberately varies its whitespace between processes, so no client can depend on its exact text.
"""

from __future__ import annotations

import functools
import ipaddress
import random
import re
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

import orjson

from vcluster.apiserver import hpa
from vcluster.apiserver.defaults import canonical_quantity, quantity_value
from vcluster.apiserver.errors import Cause, StatusError, forbidden
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.validation import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_path_segment_name,
    validate_annotations,
    validate_label_value,
    validate_labels,
    validate_qualified_name,
)
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_list as _l
from vcluster.jsonguards import as_str as _s

__all__ = [
    "Lookup",
    "ObjectLister",
    "admission_reads",
    "admit_create",
    "admit_update",
    "go_repr",
    "job_generate_selector",
    "pod_qos_class",
    "validate_create",
    "validate_ephemeral_containers_update",
    "validate_update",
]

JSON = dict[str, Any]
Lookup = Callable[[str, str, str], "dict[str, Any] | None"]
"""`lookup(kind, namespace, name)`: the stored object or None (namespace "" for cluster scope)."""
ObjectLister = Callable[[str, str], Iterable[dict[str, Any]]]
"""`list_objects(kind, namespace)`: every stored object of a kind ("" = cluster scope / all)."""

# ============================================================================ constants
SA_VOLUME_PREFIX = "kube-api-access-"
SA_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")
CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
MAX_INT32 = 2**31 - 1
MAX_SECRET_SIZE = 1024 * 1024
DS_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery util/rand

FIELD_IMMUTABLE = "field is immutable"
NULL = '"null"'  # ErrorBody prints a nil value as the string "null", quoted by %q
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
IS_NEGATIVE = "must be greater than or equal to 0"
UPDATABLE_POD_SPEC_FIELDS = ",".join(
    (
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )
)
STS_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
PVC_SPEC_IMMUTABLE = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)


# ============================================================================ small accessors
def _ld(v: Any) -> list[JSON]:
    """The dict items of a list (malformed items are skipped, as schema checks ran earlier)."""
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _i(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _copy(v: Any) -> Any:
    """A deep copy through orjson (much cheaper than copy.deepcopy); falls back for odd values."""
    try:
        return orjson.loads(orjson.dumps(v))
    except (TypeError, orjson.JSONDecodeError):
        import copy

        return copy.deepcopy(v)


def _meta(obj: JSON) -> JSON:
    return _d(obj.get("metadata"))


def _name_for_message(obj: JSON) -> str:
    md = _meta(obj)
    return _s(md.get("name")) or _s(md.get("generateName"))


# ============================================================================ Go value printing


def _go_str(v: Any) -> str:
    return go_quote(v if isinstance(v, str) else "" if v is None else str(v))


def _go_map(v: Any) -> str:
    """%#v of a map[string]string (keys sorted, as fmt does)."""
    if not isinstance(v, dict):
        return "map[string]string(nil)"
    items = ", ".join(f"{_go_str(k)}:{_go_str(v[k])}" for k in sorted(v, key=str))
    return "map[string]string{" + items + "}"


def _go_strings(v: Any) -> str:
    if not isinstance(v, list):
        return "[]string(nil)"
    return "[]string{" + ", ".join(_go_str(x) for x in v) + "}"


def _go_selector(sel: Any) -> str:
    """%#v of a metav1.LabelSelector value."""
    sel = _d(sel)
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list):
        parts = [
            "v1.LabelSelectorRequirement{Key:"
            + _go_str(_d(e).get("key"))
            + ", Operator:"
            + _go_str(_d(e).get("operator"))
            + ", Values:"
            + _go_strings(_d(e).get("values"))
            + "}"
            for e in exprs
        ]
        rendered = "[]v1.LabelSelectorRequirement{" + ", ".join(parts) + "}"
    else:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    return (
        "v1.LabelSelector{MatchLabels:"
        + _go_map(sel.get("matchLabels"))
        + ", MatchExpressions:"
        + rendered
        + "}"
    )


def _go_intstr(v: Any) -> str:
    if isinstance(v, str):
        return "intstr.IntOrString{Type:1, IntVal:0, StrVal:" + go_quote(v) + "}"
    return "intstr.IntOrString{Type:0, IntVal:" + str(_i(v)) + ', StrVal:""}'


def go_repr(value: Any) -> str:
    """How ErrorBody prints a JSON scalar: strings quoted, numbers and booleans plain, null "null"."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    return orjson.dumps(value).decode()


# ============================================================================ causes
def _invalid(path: str, rendered: str, detail: str) -> Cause:
    """field.Invalid with an already rendered value."""
    msg = f"Invalid value: {rendered}"
    if detail:
        msg += f": {detail}"
    return Cause("FieldValueInvalid", msg, path)


def _invalid_v(path: str, value: Any, detail: str) -> Cause:
    return _invalid(path, go_repr(value), detail)


def _required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def _forbidden(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueForbidden", "Forbidden" + (f": {detail}" if detail else ""), path)


def _not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    quoted = ", ".join(go_quote(s) for s in supported)
    msg = f"Unsupported value: {go_repr(value) if not isinstance(value, str) else go_quote(value)}"
    if quoted:
        msg += f": supported values: {quoted}"
    return Cause("FieldValueNotSupported", msg, path)


def _duplicate(path: str, rendered: str) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {rendered}", path)


def _not_found(path: str, rendered: str) -> Cause:
    return Cause("FieldValueNotFound", f"Not found: {rendered}", path)


def _nonnegative(path: str, value: Any) -> list[Cause]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [_invalid(path, str(value), IS_NEGATIVE)]
    return []


def _immutable(path: str, new: Any, old: Any, rendered: str) -> list[Cause]:
    """ValidateImmutableField: semantic deep-equal, else Invalid(new value): field is immutable."""
    if _norm(new) == _norm(old):
        return []
    return [_invalid(path, rendered, FIELD_IMMUTABLE)]


def _norm(v: Any) -> Any:
    """Semantic equality view: nil == empty for maps, slices and strings (Go zero values)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            n = _norm(x)
            if n is not None:
                out[k] = n
        return out or None
    if isinstance(v, list):
        return [_norm(x) for x in v] or None
    if v == "":
        return None
    return v


# ============================================================================ apimachinery validators
_PERCENT_RE = re.compile(r"[0-9]+%")
_ENV_VAR_RE = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_PORT_NAME_CHARSET = re.compile(r"[-a-z0-9]+")
_PORT_NAME_LETTER = re.compile(r"[a-z]")


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """validation.RegexError (with upstream's double space before each " or ")."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    parts = [msg, " (e.g. "]
    for i, ex in enumerate(examples):
        if i:
            parts.append(" or ")
        parts.append(f"'{ex}', ")
    parts.append(f"regex used for validation is '{fmt}')")
    return "".join(parts)


_PERCENT_MSG = _regex_error(
    "a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%"
)
_ENV_VAR_MSG = _regex_error(
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
    "and must not start with a digit",
    "[-._a-zA-Z][-._a-zA-Z0-9]*",
    "my.env-name",
    "MY_ENV.NAME",
    "MyEnvName1",
)
_PORT_RANGE_MSG = "must be between 1 and 65535, inclusive"


def _is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [_PORT_RANGE_MSG]


def _is_valid_port_name(name: str) -> list[str]:
    errs = []
    if len(name.encode()) > 15:
        errs.append("must be no more than 15 characters")
    if _PORT_NAME_CHARSET.fullmatch(name) is None:
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if _PORT_NAME_LETTER.search(name) is None:
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def _is_env_var_name(name: str) -> list[str]:
    return list(_env_var_name_errors(name))


@functools.lru_cache(maxsize=4096)  # the same variable names in every pod
def _env_var_name_errors(name: str) -> tuple[str, ...]:
    errs = [] if _ENV_VAR_RE.fullmatch(name) else [_ENV_VAR_MSG]
    if name == ".":
        errs.append("must not be '.'")
    elif name == "..":
        errs.append("must not be '..'")
    elif name.startswith(".."):
        errs.append("must not start with '..'")
    return tuple(errs)


def _port_num_or_name(path: str, port: Any) -> list[Cause]:
    """ValidatePortNumOrName for an IntOrString."""
    if isinstance(port, str):
        return [_invalid(path, go_quote(port), m) for m in _is_valid_port_name(port)]
    n = _i(port)
    return [_invalid(path, str(n), m) for m in _is_valid_port_num(n)]


def _dns_label(path: str, value: str) -> list[Cause]:
    return [_invalid(path, go_quote(value), m) for m in is_dns1123_label(value)]


def _dns_subdomain(path: str, value: str) -> list[Cause]:
    return [_invalid(path, go_quote(value), m) for m in is_dns1123_subdomain(value)]


def _label_name(path: str, key: str) -> list[Cause]:
    return [_invalid(path, go_quote(key), m) for m in validate_qualified_name(key)]


# ============================================================================ label selectors
def _validate_label_selector(sel: Any, path: str) -> list[Cause]:
    """ValidateLabelSelector (AllowInvalidLabelValueInSelector=false)."""
    if not isinstance(sel, dict):
        return []
    causes = validate_labels(sel.get("matchLabels"), path + ".matchLabels")
    for i, expr in enumerate(_l(sel.get("matchExpressions"))):
        p = f"{path}.matchExpressions[{i}]"
        expr = _d(expr)
        op = _s(expr.get("operator"))
        values = _l(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                causes.append(
                    _required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(
                    _forbidden(
                        p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                    )
                )
        else:
            causes.append(_invalid(p + ".operator", go_quote(op), "not a valid selector operator"))
        causes.extend(_label_name(p + ".key", _s(expr.get("key"))))
        for j, value in enumerate(values):
            for m in validate_label_value(_s(value)):
                causes.append(_invalid(f"{p}.values[{j}]", go_quote(_s(value)), m))
    return causes


class _Selector:
    """metav1.LabelSelectorAsSelector: None selector matches nothing, an empty one everything."""

    __slots__ = ("empty", "nothing", "reqs")

    def __init__(self, nothing: bool, reqs: list[tuple[str, str, list[str]]]) -> None:
        self.nothing = nothing
        self.reqs = reqs
        self.empty = not nothing and not reqs

    def matches(self, labels: Any) -> bool:
        if self.nothing:
            return False
        labels = _d(labels)
        for key, op, values in self.reqs:
            has = key in labels
            value = labels.get(key)
            if op in ("=", "In"):
                if not has or value not in values:
                    return False
            elif op == "NotIn":
                if has and value in values:
                    return False
            elif op == "Exists":
                if not has:
                    return False
            elif op == "DoesNotExist" and has:
                return False
        return True


def _as_selector(sel: Any) -> _Selector | None:
    """None when LabelSelectorAsSelector fails (bad operator, key or value)."""
    if sel is None:
        return _Selector(True, [])
    sel = _d(sel)
    reqs: list[tuple[str, str, list[str]]] = []
    for k, v in _d(sel.get("matchLabels")).items():
        if validate_qualified_name(k) or not isinstance(v, str) or validate_label_value(v):
            return None
        reqs.append((k, "=", [v]))
    for expr in _l(sel.get("matchExpressions")):
        expr = _d(expr)
        op = _s(expr.get("operator"))
        key = _s(expr.get("key"))
        values = [_s(x) for x in _l(expr.get("values"))]
        if op not in ("In", "NotIn", "Exists", "DoesNotExist") or validate_qualified_name(key):
            return None
        if op in ("In", "NotIn") and (not values or any(validate_label_value(x) for x in values)):
            return None
        if op in ("Exists", "DoesNotExist") and values:
            return None
        reqs.append((key, op, values))
    return _Selector(False, reqs)


def _selector_empty(sel: Any) -> bool:
    sel = _d(sel)
    return not sel.get("matchLabels") and not sel.get("matchExpressions")


# ============================================================================ pod spec validation
_VOLUME_SOURCE_ORDER = (
    "hostPath", "emptyDir", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)  # fmt: skip
_FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
# sorted, as the Unsupported value message lists them (sets.List)
_HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                    "Socket")  # fmt: skip


def _default_mode(src: JSON, path: str) -> list[Cause]:
    mode = src.get("defaultMode")
    if isinstance(mode, int) and not isinstance(mode, bool) and not 0 <= mode <= 0o777:
        return [_invalid(path + ".defaultMode", str(mode), _FILE_MODE_MSG)]
    return []


def _validate_volume_source(vol: JSON, path: str) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    for key in _VOLUME_SOURCE_ORDER:
        src = vol.get(key)
        if src is None:
            continue
        if count:
            causes.append(_forbidden(f"{path}.{key}", "may not specify more than 1 volume type"))
            continue
        count += 1
        src = _d(src)
        p = f"{path}.{key}"
        if key == "hostPath":
            if not _s(src.get("path")):
                causes.append(_required(p + ".path"))
            t = src.get("type")
            if isinstance(t, str) and t not in _HOST_PATH_TYPES:
                causes.append(_not_supported(p + ".type", t, _HOST_PATH_TYPES))
        elif key == "secret":
            if not _s(src.get("secretName")):
                causes.append(_required(p + ".secretName"))
            causes.extend(_default_mode(src, p))
        elif key == "configMap":
            name = _s(src.get("name"))
            if not name:
                causes.append(_required(p + ".name"))
            causes.extend(_default_mode(src, p))
        elif key == "persistentVolumeClaim":
            if not _s(src.get("claimName")):
                causes.append(_required(p + ".claimName"))
        elif key in ("downwardAPI", "projected"):
            causes.extend(_default_mode(src, p))
        elif key == "nfs":
            if not _s(src.get("server")):
                causes.append(_required(p + ".server"))
            npath = _s(src.get("path"))
            if not npath:
                causes.append(_required(p + ".path"))
            if not npath.startswith("/"):  # an empty path gets both, as upstream
                causes.append(_invalid(p + ".path", go_quote(npath), "must be an absolute path"))
    if count == 0:
        causes.append(_required(path, "must specify a volume type"))
    return causes


def _validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, vol in enumerate(_l(volumes)):
        vol = _d(vol)
        p = f"{path}[{i}]"
        el = _validate_volume_source(vol, p)
        name = _s(vol.get("name"))
        if not name:
            el.append(_required(p + ".name"))
        else:
            el.extend(_dns_label(p + ".name", name))
        if name in names:
            el.append(_duplicate(p + ".name", go_quote(name)))
        if el:
            causes.extend(el)
        else:
            names.add(name)
    return names, causes


_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_STANDARD_RESOURCES = frozenset(
    (
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
        "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
        "services", "replicationcontrollers", "resourcequotas", "secrets", "persistentvolumeclaims",
        "configmaps", "storage", "requests.storage", "services.nodeports", "services.loadbalancers",
    )
)  # fmt: skip


def _is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _overcommit_allowed(name: str) -> bool:
    return _is_native_resource(name) and not _is_hugepages(name)


def _validate_container_resource_name(name: str, path: str) -> list[Cause]:
    causes = [_invalid(path, go_quote(name), m) for m in validate_qualified_name(name)]
    if causes:
        return causes
    if "/" not in name:
        standard = name in _STANDARD_RESOURCES or _is_quota_hugepages(name)
        if not standard:
            causes.append(
                _invalid(path, go_quote(name), "must be a standard resource type or fully qualified")
            )
        if name not in _STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            causes.append(_invalid(path, go_quote(name), "must be a standard resource for containers"))
    elif not _is_native_resource(name):
        quota = "requests." + name
        if name.startswith("requests.") or validate_qualified_name(quota):
            causes.append(_invalid(path, go_quote(name), "doesn't follow extended resource name standard"))
    return causes


def _volume_attributes_class_update(nspec: JSON, ospec: JSON) -> list[Cause]:
    """A claim's or volume's volumeAttributesClassName may not change (the VolumeAttributesClass
    gate is off in 1.32)."""
    if nspec.get("volumeAttributesClassName") == ospec.get("volumeAttributesClassName"):
        return []
    return [
        _forbidden(
            "spec.volumeAttributesClassName",
            "update is forbidden when the VolumeAttributesClass feature gate is disabled",
        )
    ]


def _negative_quantity(path: str, raw: Any, value: Any) -> list[Cause]:
    """ValidateNonnegativeQuantity: the cause for a quantity below zero (`value` is `raw` parsed)."""
    if value is not None and value < 0:
        return [_invalid(path, go_quote(str(canonical_quantity(raw))), IS_NEGATIVE)]
    return []


def _validate_resources(res: Any, path: str) -> list[Cause]:
    res = _d(res)
    causes: list[Cause] = []
    limits = _d(res.get("limits"))
    requests = _d(res.get("requests"))
    lim_path, req_path = path + ".limits", path + ".requests"
    for name, q in limits.items():
        p = f"{lim_path}[{name}]"
        causes.extend(_validate_container_resource_name(name, p))
        causes.extend(_negative_quantity(p, q, quantity_value(q)))
    for name, q in requests.items():
        p = f"{req_path}[{name}]"
        causes.extend(_validate_container_resource_name(name, p))
        v = quantity_value(q)
        causes.extend(_negative_quantity(p, q, v))
        if name in limits:
            lv = quantity_value(limits[name])
            if v is None or lv is None:
                continue
            req_s, lim_s = str(canonical_quantity(q)), str(canonical_quantity(limits[name]))
            if v != lv and not _overcommit_allowed(name):
                causes.append(
                    _invalid(req_path, go_quote(req_s), f"must be equal to {name} limit of {lim_s}")
                )
            elif v > lv:
                causes.append(
                    _invalid(
                        req_path, go_quote(req_s), f"must be less than or equal to {name} limit of {lim_s}"
                    )
                )
        elif not _overcommit_allowed(name):
            causes.append(_required(lim_path, "Limit must be set for non overcommitable resources"))
    return causes


def _validate_container_ports(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(_l(ports)):
        port = _d(port)
        p = f"{path}[{i}]"
        name = _s(port.get("name"))
        if name:
            msgs = _is_valid_port_name(name)
            if msgs:
                causes.extend(_invalid(p + ".name", go_quote(name), m) for m in msgs)
            elif name in names:
                causes.append(_duplicate(p + ".name", go_quote(name)))
            else:
                names.add(name)
        cp = _i(port.get("containerPort"))
        if cp == 0:
            causes.append(_required(p + ".containerPort"))
        else:
            causes.extend(_invalid(p + ".containerPort", str(cp), m) for m in _is_valid_port_num(cp))
        hp = _i(port.get("hostPort"))
        if hp:
            causes.extend(_invalid(p + ".hostPort", str(hp), m) for m in _is_valid_port_num(hp))
        proto = _s(port.get("protocol"))
        if not proto:
            causes.append(_required(p + ".protocol"))
        elif proto not in ("SCTP", "TCP", "UDP"):
            causes.append(_not_supported(p + ".protocol", proto, ("SCTP", "TCP", "UDP")))
    return causes


def _validate_env(env: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, ev in enumerate(_l(env)):
        ev = _d(ev)
        p = f"{path}[{i}]"
        name = _s(ev.get("name"))
        if not name:
            causes.append(_required(p + ".name"))
        else:
            causes.extend(_invalid(p + ".name", go_quote(name), m) for m in _is_env_var_name(name))
        vf = ev.get("valueFrom")
        if isinstance(vf, dict):
            n = sum(
                1 for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if vf.get(k)
            )
            vp = p + ".valueFrom"
            if n == 0:
                causes.append(
                    _invalid(
                        vp,
                        '""',
                        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                        "or `secretKeyRef`",
                    )
                )
            elif _s(ev.get("value")):
                causes.append(_invalid(vp, '""', "may not be specified when `value` is not empty"))
            elif n > 1:
                causes.append(_invalid(vp, '""', "may not have more than one field specified at a time"))
    return causes


def _validate_volume_mounts(mounts: Any, volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, m in enumerate(_l(mounts)):
        m = _d(m)
        p = f"{path}[{i}]"
        name = _s(m.get("name"))
        if not name:
            causes.append(_required(p + ".name"))
        if name not in volumes:
            causes.append(_not_found(p + ".name", go_quote(name)))
        mp = _s(m.get("mountPath"))
        if not mp:
            causes.append(_required(p + ".mountPath"))
        if mp in seen:
            causes.append(_invalid(p + ".mountPath", go_quote(mp), "must be unique"))
        seen.add(mp)
    return causes


def _validate_handler(h: Any, path: str) -> list[Cause]:
    h = _d(h)
    causes: list[Cause] = []
    n = 0
    for key in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        action = h.get(key)
        if action is None:
            continue
        if n:
            causes.append(_forbidden(f"{path}.{key}", "may not specify more than 1 handler type"))
            continue
        n += 1
        action = _d(action)
        p = f"{path}.{key}"
        if key == "exec":
            if not _l(action.get("command")):
                causes.append(_required(p + ".command"))
        elif key == "httpGet":
            if not _s(action.get("path")):
                causes.append(_required(p + ".path"))
            causes.extend(_port_num_or_name(p + ".port", action.get("port")))
            scheme = action.get("scheme")
            if scheme not in ("HTTP", "HTTPS"):
                causes.append(_not_supported(p + ".scheme", _s(scheme), ("HTTP", "HTTPS")))
        elif key == "tcpSocket":
            causes.extend(_port_num_or_name(p + ".port", action.get("port")))
        elif key == "grpc":
            causes.extend(_port_num_or_name(p + ".port", _i(action.get("port"))))
    if n == 0:
        causes.append(_required(path, "must specify a handler type"))
    return causes


def _validate_probe(probe: Any, path: str, kind: str) -> list[Cause]:
    if not isinstance(probe, dict):
        return []
    causes = _validate_handler(probe, path)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        causes.extend(_nonnegative(f"{path}.{key}", probe.get(key)))
    tgps = probe.get("terminationGracePeriodSeconds")
    if isinstance(tgps, int) and tgps <= 0:
        causes.append(_invalid(path + ".terminationGracePeriodSeconds", str(tgps), "must be greater than 0"))
    if kind in ("liveness", "startup"):
        st = _i(probe.get("successThreshold"))
        if st != 1:
            causes.append(_invalid(path + ".successThreshold", str(st), "must be 1"))
    elif kind == "readiness" and probe.get("terminationGracePeriodSeconds") is not None:
        causes.append(
            _invalid(
                path + ".terminationGracePeriodSeconds",
                str(tgps),
                "must not be set for readinessProbes",
            )
        )
    return causes


def _validate_container_common(c: JSON, volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    name = _s(c.get("name"))
    if not name:
        causes.append(_required(path + ".name"))
    else:
        causes.extend(_dns_label(path + ".name", name))
    if not _s(c.get("image")):
        causes.append(_required(path + ".image"))
    tmp = _s(c.get("terminationMessagePolicy"))
    if not tmp:
        causes.append(_required(path + ".terminationMessagePolicy"))
    elif tmp not in ("File", "FallbackToLogsOnError"):
        causes.append(
            _not_supported(path + ".terminationMessagePolicy", tmp, ("File", "FallbackToLogsOnError"))
        )
    causes.extend(_validate_container_ports(c.get("ports"), path + ".ports"))
    causes.extend(_validate_env(c.get("env"), path + ".env"))
    causes.extend(_validate_volume_mounts(c.get("volumeMounts"), volumes, path + ".volumeMounts"))
    policy = _s(c.get("imagePullPolicy"))
    if not policy:
        causes.append(_required(path + ".imagePullPolicy"))
    elif policy not in ("Always", "IfNotPresent", "Never"):
        causes.append(_not_supported(path + ".imagePullPolicy", policy, ("Always", "IfNotPresent", "Never")))
    causes.extend(_validate_resources(c.get("resources"), path + ".resources"))
    return causes


def _host_port_conflicts(containers: list[JSON], path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(_ld(c.get("ports"))):
            hp = _i(port.get("hostPort"))
            if not hp:
                continue
            key = f"{_s(port.get('protocol'))}/{_s(port.get('hostIP'))}/{hp}"
            if key in seen:
                causes.append(_duplicate(f"{path}[{ci}].ports[{pi}].hostPort", go_quote(key)))
            seen.add(key)
    return causes


def _validate_containers(containers: Any, volumes: set[str], path: str) -> list[Cause]:
    items = _ld(containers)
    if not items:
        return [_required(path)]
    causes: list[Cause] = []
    names: set[str] = set()
    for i, c in enumerate(items):
        p = f"{path}[{i}]"
        causes.extend(_validate_container_common(c, volumes, p))
        name = _s(c.get("name"))
        if name in names:
            causes.append(_duplicate(p + ".name", go_quote(name)))
        else:
            names.add(name)
        lifecycle = c.get("lifecycle")
        if isinstance(lifecycle, dict):
            for hook in ("postStart", "preStop"):
                if lifecycle.get(hook) is not None:
                    causes.extend(_validate_handler(lifecycle[hook], f"{p}.lifecycle.{hook}"))
        causes.extend(_validate_probe(c.get("livenessProbe"), p + ".livenessProbe", "liveness"))
        causes.extend(_validate_probe(c.get("readinessProbe"), p + ".readinessProbe", "readiness"))
        causes.extend(_validate_probe(c.get("startupProbe"), p + ".startupProbe", "startup"))
        if c.get("restartPolicy") is not None:
            causes.append(_forbidden(p + ".restartPolicy", "may not be set for non-init containers"))
    causes.extend(_host_port_conflicts(items, path))
    return causes


def _validate_init_containers(init: Any, regular: Any, volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    names = {_s(c.get("name")) for c in _ld(regular)}
    for i, c in enumerate(_ld(init)):
        p = f"{path}[{i}]"
        causes.extend(_validate_container_common(c, volumes, p))
        rp = c.get("restartPolicy")
        always = False
        if rp is not None:
            if rp != "Always":
                causes.append(_not_supported(p + ".restartPolicy", _s(rp), ("Always",)))
            always = rp == "Always"
        name = _s(c.get("name"))
        if name in names:
            causes.append(_duplicate(p + ".name", go_quote(name)))
        elif name:
            names.add(name)
        causes.extend(_host_port_conflicts([c], path))
        if always:
            lifecycle = c.get("lifecycle")
            if isinstance(lifecycle, dict):
                for hook in ("postStart", "preStop"):
                    if lifecycle.get(hook) is not None:
                        causes.extend(_validate_handler(lifecycle[hook], f"{p}.lifecycle.{hook}"))
            causes.extend(_validate_probe(c.get("livenessProbe"), p + ".livenessProbe", "liveness"))
            causes.extend(_validate_probe(c.get("readinessProbe"), p + ".readinessProbe", "readiness"))
            causes.extend(_validate_probe(c.get("startupProbe"), p + ".startupProbe", "startup"))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if c.get(key) is not None:
                    causes.append(
                        _forbidden(
                            f"{p}.{key}", "may not be set for init containers without restartPolicy=Always"
                        )
                    )
    return causes


# The EphemeralContainerCommon fields an ephemeral container may not set, in the struct's order
# (validateFieldAllowList reports them in that order); Go's zero value means "not set".
_EPHEMERAL_FORBIDDEN_FIELDS = (
    "ports",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
)
_EPHEMERAL_FORBIDDEN = "cannot be set for an Ephemeral Container"


def _go_set(key: str, value: Any) -> bool:
    """Whether a decoded container field differs from its Go zero value: any value of a pointer,
    slice or map field (even `{}` or `[]`); for `resources`, a struct, one of its members."""
    if key == "resources":
        return isinstance(value, dict) and any(v is not None for v in value.values())
    return value is not None


def _validate_ephemeral_containers(
    ephemeral: Any, containers: Any, init: Any, volumes: set[str], path: str
) -> list[Cause]:
    """validateEphemeralContainers: the common container checks, names unique among all the pod's
    containers, an existing non-ephemeral target, and none of the fields only workloads may use."""
    items = _ld(ephemeral)
    others = {_s(c.get("name")) for c in (*_ld(containers), *_ld(init))}
    every = set(others)
    causes: list[Cause] = []
    for i, c in enumerate(items):
        p = f"{path}[{i}]"
        causes.extend(_validate_container_common(c, volumes, p))
        image = _s(c.get("image"))
        if image != image.strip():
            causes.append(
                _invalid(p + ".image", go_quote(image), "must not have leading or trailing whitespace")
            )
        name = _s(c.get("name"))
        if name in every:
            causes.append(_duplicate(p + ".name", go_quote(name)))
        else:
            every.add(name)
        target = _s(c.get("targetContainerName"))
        if target and target not in others:
            causes.append(_not_found(p + ".targetContainerName", go_quote(target)))
        causes.extend(
            _forbidden(f"{p}.{key}", _EPHEMERAL_FORBIDDEN)
            for key in _EPHEMERAL_FORBIDDEN_FIELDS
            if _go_set(key, c.get(key))
        )
        for mi, m in enumerate(_ld(c.get("volumeMounts"))):
            for key in ("subPath", "subPathExpr"):
                if _s(m.get(key)):
                    causes.append(_forbidden(f"{p}.volumeMounts[{mi}].{key}", _EPHEMERAL_FORBIDDEN))
    return causes


def _validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, t in enumerate(_l(tolerations)):
        t = _d(t)
        p = f"{path}[{i}]"
        key = _s(t.get("key"))
        op = _s(t.get("operator"))
        effect = _s(t.get("effect"))
        value = _s(t.get("value"))
        if key:
            causes.extend(_label_name(p + ".key", key))
        if not key and op != "Exists":
            causes.append(
                _invalid(
                    p + ".operator",
                    go_quote(op),
                    "operator must be Exists when `key` is empty, which means "
                    '"match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                _invalid(
                    p + ".effect",
                    go_quote(effect),
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if op in ("Equal", ""):
            errs = validate_label_value(value)
            if errs:
                causes.append(_invalid(p + ".operator", go_quote(value), ";".join(errs)))
        elif op == "Exists":
            if value:
                causes.append(
                    _invalid(
                        p + ".operator", go_quote(value), "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            causes.append(_not_supported(p + ".operator", op, ("Equal", "Exists")))
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            causes.append(
                _not_supported(p + ".effect", effect, ("NoSchedule", "PreferNoSchedule", "NoExecute"))
            )
    return causes


def _validate_pod_spec(spec: Any, path: str, *, is_pod: bool) -> list[Cause]:
    """ValidatePodSpec (the checks users meet; see the module docstring for what is left out)."""
    spec = _d(spec)
    causes: list[Cause] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        causes.append(_required(path + ".terminationGracePeriodSeconds"))
    volumes, vcauses = _validate_volumes(spec.get("volumes"), path + ".volumes")
    causes.extend(vcauses)
    causes.extend(_validate_containers(spec.get("containers"), volumes, path + ".containers"))
    causes.extend(
        _validate_init_containers(
            spec.get("initContainers"), spec.get("containers"), volumes, path + ".initContainers"
        )
    )
    causes.extend(
        _validate_ephemeral_containers(
            spec.get("ephemeralContainers"),
            spec.get("containers"),
            spec.get("initContainers"),
            volumes,
            path + ".ephemeralContainers",
        )
    )
    if spec.get("hostNetwork") is True:
        for ci, c in enumerate(_ld(spec.get("containers"))):
            for pi, port in enumerate(_ld(c.get("ports"))):
                hp, cp = _i(port.get("hostPort")), _i(port.get("containerPort"))
                if (is_pod or hp != 0) and hp != cp:
                    causes.append(
                        _invalid(
                            f"{path}.containers[{ci}].ports[{pi}].hostPort",
                            str(hp),
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    rp = _s(spec.get("restartPolicy"))
    if not rp:
        causes.append(_required(path + ".restartPolicy"))
    elif rp not in ("Always", "OnFailure", "Never"):
        causes.append(_not_supported(path + ".restartPolicy", rp, ("Always", "OnFailure", "Never")))
    dns = _s(spec.get("dnsPolicy"))
    dns_values = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
    if not dns:
        causes.append(_required(path + ".dnsPolicy"))
    elif dns not in dns_values:
        causes.append(_not_supported(path + ".dnsPolicy", dns, dns_values))
    if spec.get("nodeSelector") is not None:
        causes.extend(validate_labels(spec.get("nodeSelector"), path + ".nodeSelector"))
    if dns == "None":
        cfg = spec.get("dnsConfig")
        if not isinstance(cfg, dict):
            causes.append(_required(path + ".dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
        elif not _l(cfg.get("nameservers")):
            causes.append(
                _required(
                    path + ".dnsConfig.nameservers",
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            )
    for key in ("serviceAccountName", "nodeName"):
        value = _s(spec.get(key))
        if value:
            causes.extend(_dns_subdomain(f"{path}.{key}", value))
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not isinstance(ads, bool) and not 1 <= ads <= MAX_INT32:
        causes.append(
            _invalid(
                path + ".activeDeadlineSeconds", str(ads), f"must be between 1 and {MAX_INT32}, inclusive"
            )
        )
    for key in ("hostname", "subdomain"):
        value = _s(spec.get(key))
        if value:
            causes.extend(_dns_label(f"{path}.{key}", value))
    if _l(spec.get("tolerations")):
        causes.extend(_validate_tolerations(spec.get("tolerations"), path + ".tolerations"))
    pcn = _s(spec.get("priorityClassName"))
    if pcn:
        causes.extend(_dns_subdomain(path + ".priorityClassName", pcn))
    pp = spec.get("preemptionPolicy")
    if pp is not None:
        if pp == "":
            causes.append(_required(path + ".preemptionPolicy"))
        elif pp not in ("PreemptLowerPriority", "Never"):
            causes.append(
                _not_supported(path + ".preemptionPolicy", _s(pp), ("PreemptLowerPriority", "Never"))
            )
    return causes


def _validate_pod_template(tmpl: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: labels at `<path>.labels` (sic), annotations, then the pod spec."""
    tmpl = _d(tmpl)
    md = _d(tmpl.get("metadata"))
    causes: list[Cause] = []
    if md.get("labels") is not None:
        causes.extend(validate_labels(md.get("labels"), path + ".labels"))
    if md.get("annotations") is not None:
        causes.extend(validate_annotations(md.get("annotations"), path + ".annotations"))
    spec = _d(tmpl.get("spec"))
    causes.extend(_validate_pod_spec(spec, path + ".spec", is_pod=False))
    if _l(spec.get("ephemeralContainers")):
        causes.append(
            _forbidden(path + ".spec.ephemeralContainers", "ephemeral containers not allowed in pod template")
        )
    return causes


def _template_labels(tmpl: Any) -> Any:
    return _d(_d(tmpl).get("metadata")).get("labels")


def _template_spec(tmpl: Any) -> JSON:
    return _d(_d(tmpl).get("spec"))


# ============================================================================ per-kind create validation
def _validate_pod(pod: JSON) -> list[Cause]:
    spec = _d(pod.get("spec"))
    causes = _validate_pod_spec(spec, "spec", is_pod=True)
    if not _s(spec.get("serviceAccountName")):
        for vi, vol in enumerate(_ld(spec.get("volumes"))):
            for si, src in enumerate(_ld(_d(vol.get("projected")).get("sources"))):
                if src.get("serviceAccountToken") is not None:
                    causes.append(
                        _forbidden(
                            f"spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken",
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for i, c in enumerate(_ld(spec.get(key))):
            image = _s(c.get("image"))
            if image != image.strip():
                causes.append(
                    _invalid(
                        f"spec.{key}[{i}].image",
                        go_quote(image),
                        "must not have leading or trailing whitespace",
                    )
                )
    return causes


def _validate_pod_create(pod: JSON) -> list[Cause]:
    causes = _validate_pod(pod)
    spec = _d(pod.get("spec"))
    if _l(spec.get("ephemeralContainers")):
        causes.append(_forbidden("spec.ephemeralContainers", "cannot be set on create"))
    if _s(spec.get("nodeName")) and _l(spec.get("schedulingGates")):
        causes.append(
            _forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared")
        )
    return causes


def _validate_selector_required(spec: JSON, what: str) -> list[Cause]:
    sel = spec.get("selector")
    if sel is None:
        return [_required("spec.selector")]
    causes = _validate_label_selector(sel, "spec.selector")
    if _selector_empty(sel):
        causes.append(_invalid("spec.selector", _go_selector(sel), f"empty selector is invalid for {what}"))
    return causes


def _validate_template_for_replicas(spec: JSON, kind: str) -> list[Cause]:
    """LabelSelectorAsSelector + ValidatePodTemplateSpecForReplicaSet."""
    sel = _as_selector(spec.get("selector"))
    if sel is None:
        return [_invalid("spec.selector", _go_selector(spec.get("selector")), "invalid label selector")]
    tmpl = _d(spec.get("template"))
    causes: list[Cause] = []
    labels = _template_labels(tmpl)
    if not sel.empty and not sel.matches(labels):
        causes.append(
            _invalid(
                "spec.template.metadata.labels",
                _go_map(labels),
                "`selector` does not match template `labels`",
            )
        )
    causes.extend(_validate_pod_template(tmpl, "spec.template"))
    tspec = _template_spec(tmpl)
    rp = _s(tspec.get("restartPolicy"))
    if rp != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return causes


def _int_or_percent(v: Any) -> tuple[int, bool]:
    """getIntOrPercentValue: (value, is_percent)."""
    if isinstance(v, str):
        if _PERCENT_RE.fullmatch(v):
            return int(v[:-1]), True
        return 0, False  # IntValue() of a non-numeric string
    return _i(v), False


def _validate_positive_int_or_percent(v: Any, path: str) -> list[Cause]:
    if isinstance(v, str):
        return [] if _PERCENT_RE.fullmatch(v) else [_invalid(path, _go_intstr(v), _PERCENT_MSG)]
    return _nonnegative(path, _i(v))


def _not_more_than_100(v: Any, path: str) -> list[Cause]:
    value, pct = _int_or_percent(v)
    if pct and value > 100:
        return [_invalid(path, _go_intstr(v), "must not be greater than 100%")]
    return []


def _validate_deployment(obj: JSON) -> list[Cause]:
    spec = _d(obj.get("spec"))
    causes = _nonnegative("spec.replicas", spec.get("replicas"))
    causes.extend(_validate_selector_required(spec, "deployment"))
    causes.extend(_validate_template_for_replicas(spec, "ReplicaSet"))
    strategy = _d(spec.get("strategy"))
    stype = _s(strategy.get("type"))
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if ru is not None:
            causes.append(
                _forbidden(
                    "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
                )
            )
    elif stype == "RollingUpdate":
        if not isinstance(ru, dict):
            causes.append(
                _required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")
            )
        else:
            p = "spec.strategy.rollingUpdate"
            mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
            causes.extend(_validate_positive_int_or_percent(mu, p + ".maxUnavailable"))
            causes.extend(_validate_positive_int_or_percent(ms, p + ".maxSurge"))
            if _int_or_percent(mu)[0] == 0 and _int_or_percent(ms)[0] == 0:
                causes.append(
                    _invalid(p + ".maxUnavailable", _go_intstr(mu), "may not be 0 when `maxSurge` is 0")
                )
            causes.extend(_not_more_than_100(mu, p + ".maxUnavailable"))
    else:
        rendered = (
            "apps.DeploymentStrategy{Type:"
            + go_quote(stype)
            + ", RollingUpdate:(*apps.RollingUpdateDeployment)("
            + ("nil" if ru is None else "0xc000000000")
            + ")}"
        )
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: {rendered}: supported values: "Recreate", "RollingUpdate"',
                "spec.strategy",
            )
        )
    min_ready = _i(spec.get("minReadySeconds"))
    causes.extend(_nonnegative("spec.minReadySeconds", min_ready))
    causes.extend(_nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit")))
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int) and not isinstance(pds, bool):
        causes.extend(_nonnegative("spec.progressDeadlineSeconds", pds))
        if pds <= min_ready:
            causes.append(
                _invalid("spec.progressDeadlineSeconds", str(pds), "must be greater than minReadySeconds")
            )
    return causes


def _validate_replica_set(obj: JSON) -> list[Cause]:
    spec = _d(obj.get("spec"))
    causes = _nonnegative("spec.replicas", spec.get("replicas"))
    causes.extend(_nonnegative("spec.minReadySeconds", spec.get("minReadySeconds")))
    causes.extend(_validate_selector_required(spec, "deployment"))
    causes.extend(_validate_template_for_replicas(spec, "ReplicaSet"))
    return causes


def _validate_replication_controller(obj: JSON) -> list[Cause]:
    spec = _d(obj.get("spec"))
    causes = _nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector = _d(spec.get("selector"))
    if not selector:
        causes.append(_required("spec.selector"))
    if spec.get("replicas") is None:
        causes.append(_required("spec.replicas"))
    else:
        causes.extend(_nonnegative("spec.replicas", spec.get("replicas")))
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        causes.append(_required("spec.template"))
        return causes
    labels = _d(_template_labels(tmpl))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        causes.append(
            _invalid(
                "spec.template.metadata.labels",
                _go_map(_template_labels(tmpl)),
                "`selector` does not match template `labels`",
            )
        )
    causes.extend(_validate_pod_template(tmpl, "spec.template"))
    rp = _s(_template_spec(tmpl).get("restartPolicy"))
    if rp != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if _template_spec(tmpl).get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return causes


def _validate_daemon_set(obj: JSON) -> list[Cause]:
    spec = _d(obj.get("spec"))
    causes = _validate_label_selector(spec.get("selector"), "spec.selector")
    sel = _as_selector(spec.get("selector"))
    tmpl = _d(spec.get("template"))
    if sel is not None and not sel.matches(_template_labels(tmpl)):
        causes.append(
            _invalid(
                "spec.template.metadata.labels",
                _go_map(_template_labels(tmpl)),
                "`selector` does not match template `labels`",
            )
        )
    if spec.get("selector") is not None and _selector_empty(spec.get("selector")):
        causes.append(
            _invalid(
                "spec.selector", _go_selector(spec.get("selector")), "empty selector is invalid for daemonset"
            )
        )
    causes.extend(_validate_pod_template(tmpl, "spec.template"))
    tspec = _template_spec(tmpl)
    rp = _s(tspec.get("restartPolicy"))
    if rp != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    causes.extend(_nonnegative("spec.minReadySeconds", spec.get("minReadySeconds")))
    strategy = _d(spec.get("updateStrategy"))
    stype = _s(strategy.get("type"))
    if stype == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            causes.append(_required("spec.updateStrategy.rollingUpdate"))
        else:
            p = "spec.updateStrategy.rollingUpdate"
            mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
            causes.extend(_validate_positive_int_or_percent(mu, p + ".maxUnavailable"))
            causes.extend(_validate_positive_int_or_percent(ms, p + ".maxSurge"))
            causes.extend(_not_more_than_100(mu, p + ".maxUnavailable"))
            causes.extend(_not_more_than_100(ms, p + ".maxSurge"))
            has_u, has_s = _int_or_percent(mu)[0] != 0, _int_or_percent(ms)[0] != 0
            if has_u and has_s:
                causes.append(
                    _invalid(
                        p + ".maxSurge", _go_intstr(ms), "may not be set when maxUnavailable is non-zero"
                    )
                )
            elif not has_u and not has_s:
                causes.append(_required(p + ".maxUnavailable", "cannot be 0 when maxSurge is 0"))
    elif stype != "OnDelete":
        ru = strategy.get("rollingUpdate")
        rendered = (
            "apps.DaemonSetUpdateStrategy{Type:"
            + go_quote(stype)
            + ", RollingUpdate:(*apps.RollingUpdateDaemonSet)("
            + ("nil" if ru is None else "0xc000000000")
            + ")}"
        )
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f'Unsupported value: {rendered}: supported values: "RollingUpdate", "OnDelete"',
                "spec.updateStrategy",
            )
        )
    causes.extend(_nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit")))
    return causes


def _validate_stateful_set(obj: JSON) -> list[Cause]:
    spec = _d(obj.get("spec"))
    causes: list[Cause] = []
    pmp = _s(spec.get("podManagementPolicy"))
    if not pmp:
        causes.append(_required("spec.podManagementPolicy"))
    elif pmp not in ("OrderedReady", "Parallel"):
        causes.append(
            _invalid("spec.podManagementPolicy", go_quote(pmp), "must be 'OrderedReady' or 'Parallel'")
        )
    strategy = _d(spec.get("updateStrategy"))
    stype = _s(strategy.get("type"))
    ru = strategy.get("rollingUpdate")
    if not stype:
        causes.append(_required("spec.updateStrategy"))
    elif stype == "OnDelete":
        if ru is not None:
            partition = _i(_d(ru).get("partition"))
            causes.append(
                _invalid(
                    "spec.updateStrategy.rollingUpdate",
                    f"apps.RollingUpdateStatefulSetStrategy{{Partition:{partition}, "
                    "MaxUnavailable:(*intstr.IntOrString)(nil)}",
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif stype == "RollingUpdate":
        if isinstance(ru, dict):
            p = "spec.updateStrategy.rollingUpdate"
            causes.extend(_nonnegative(p + ".partition", ru.get("partition")))
            mu = ru.get("maxUnavailable")
            if mu is not None:
                causes.extend(_validate_positive_int_or_percent(mu, p + ".maxUnavailable"))
                if _int_or_percent(mu)[0] == 0:
                    causes.append(_invalid(p + ".maxUnavailable", _go_intstr(mu), "cannot be 0"))
                causes.extend(_not_more_than_100(mu, p + ".maxUnavailable"))
    else:
        causes.append(
            _invalid(
                "spec.updateStrategy",
                "apps.StatefulSetUpdateStrategy{Type:"
                + go_quote(stype)
                + ", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)("
                + ("nil" if ru is None else "0xc000000000")
                + ")}",
                "must be 'RollingUpdate' or 'OnDelete'",
            )
        )
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(policy, dict):
        for key in ("whenDeleted", "whenScaled"):
            value = _s(policy.get(key))
            if value not in ("Retain", "Delete"):
                causes.append(
                    _not_supported(
                        f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, ("Retain", "Delete")
                    )
                )
    causes.extend(_nonnegative("spec.replicas", spec.get("replicas")))
    causes.extend(_nonnegative("spec.minReadySeconds", spec.get("minReadySeconds")))
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        causes.extend(_nonnegative("spec.ordinals.start", ordinals.get("start")))
    causes.extend(_validate_selector_required(spec, "statefulset"))
    sel = _as_selector(spec.get("selector"))
    tmpl = _d(spec.get("template"))
    if sel is None:
        causes.append(_invalid("spec.selector", _go_selector(spec.get("selector")), ""))
    else:
        labels = _template_labels(tmpl)
        if not sel.empty and not sel.matches(labels):
            causes.append(
                _invalid(
                    "spec.template.metadata.labels",
                    _go_map(labels),
                    "`selector` does not match template `labels`",
                )
            )
        md = _d(tmpl.get("metadata"))
        if md.get("labels") is not None:
            causes.extend(validate_labels(md.get("labels"), "spec.template.labels"))
        if md.get("annotations") is not None:
            causes.extend(validate_annotations(md.get("annotations"), "spec.template.annotations"))
    tspec = _template_spec(tmpl)
    rp = _s(tspec.get("restartPolicy"))
    if rp != "Always":
        causes.append(_not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        causes.append(
            _forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    return causes


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("dom", 1, 31), ("month", 1, 12), ("dow", 0, 6))
_CRON_NAMES = {
    "month": {
        m: i + 1
        for i, m in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
        )
    },
    "dow": {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


_GO_INT_RE = re.compile(r"[+-]?[0-9]+")


def _cron_int(text: str) -> tuple[int | None, str]:
    """robfig/cron mustParseInt: (value, error)."""
    if not _GO_INT_RE.fullmatch(text):
        return (
            None,
            f"failed to parse int from {text}: strconv.Atoi: parsing {go_quote(text)}: invalid syntax",
        )
    num = int(text)
    if not -(2**63) <= num < 2**63:
        return (
            None,
            f"failed to parse int from {text}: strconv.Atoi: parsing {go_quote(text)}: value out of range",
        )
    if num < 0:
        return None, f"negative number ({num}) not allowed: {text}"
    return num, ""


def _cron_range(expr: str, lo: int, hi: int, names: dict[str, int]) -> str | None:
    """robfig/cron getRange: the error for one comma-separated expression, or None."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        first = names.get(low_high[0].lower())
        if first is None:
            first, err = _cron_int(low_high[0])
            if first is None:
                return err
        start = end = first
        if len(low_high) == 2:
            second = names.get(low_high[1].lower())
            if second is None:
                second, err = _cron_int(low_high[1])
                if second is None:
                    return err
            end = second
        elif len(low_high) > 2:
            return f"too many hyphens: {expr}"
    step = 1
    if len(range_and_step) == 2:
        parsed, err = _cron_int(range_and_step[1])
        if parsed is None:
            return err
        step = parsed
        if len(low_high) == 1:
            end = hi
    elif len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if start < lo:
        return f"beginning of range ({start}) below minimum ({lo}): {expr}"
    if end > hi:
        return f"end of range ({end}) above maximum ({hi}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return None


def _cron_error(schedule: str) -> str | None:
    """robfig/cron/v3 ParseStandard's error text (None: the schedule parses)."""
    spec = schedule
    if spec.startswith(("TZ=", "CRON_TZ=")):
        i = spec.find(" ")
        spec = spec[i:].strip() if i >= 0 else ""
        if not spec:
            return "empty spec string"
    if spec.startswith("@"):
        if spec in _CRON_DESCRIPTORS or spec.startswith("@every "):
            return None
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (fname, lo, hi) in zip(fields, _CRON_FIELDS, strict=True):
        names = _CRON_NAMES.get(fname, {})
        for expr in text.split(","):
            if not expr:
                continue
            err = _cron_range(expr, lo, hi, names)
            if err:
                return err
    return None


def _is_headless(spec: JSON) -> bool:
    ips = spec.get("clusterIPs")
    if isinstance(ips, list) and ips:
        return len(ips) == 1 and ips[0] == "None"
    return spec.get("clusterIP") == "None"


def _go_service_port_key(protocol: str, port: int) -> str:
    return (
        'core.ServicePort{Name:"", Protocol:'
        + go_quote(protocol)
        + ", AppProtocol:(*string)(nil), Port:"
        + str(port)
        + ', TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def _validate_service(obj: JSON) -> list[Cause]:
    """ValidateService without the ClusterIP/ipFamilies fields (the allocator's, issue 4)."""
    spec = _d(obj.get("spec"))
    stype = _s(spec.get("type"))
    headless = _is_headless(spec)
    ports = _ld(spec.get("ports"))
    causes: list[Cause] = []
    if not ports and not headless and stype != "ExternalName":
        causes.append(_required("spec.ports"))
    if stype in ("LoadBalancer", "NodePort") and headless:
        causes.append(
            _invalid("spec.clusterIPs[0]", go_quote("None"), f"may not be set to 'None' for {stype} services")
        )
    elif stype == "ExternalName":
        if _l(spec.get("clusterIPs")):
            causes.append(_forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if _l(spec.get("ipFamilies")):
            causes.append(_forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            causes.append(_forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = _s(spec.get("externalName"))
        cname = cname[:-1] if cname.endswith(".") else cname
        if cname:
            causes.extend(_dns_subdomain("spec.externalName", cname))
        else:
            causes.append(_required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        name = _s(port.get("name"))
        if len(ports) > 1 and not name:
            causes.append(_required(p + ".name"))
        elif name:
            causes.extend(_dns_label(p + ".name", name))
            if name in names:
                causes.append(_duplicate(p + ".name", go_quote(name)))
            else:
                names.add(name)
        pn = _i(port.get("port"))
        causes.extend(_invalid(p + ".port", str(pn), m) for m in _is_valid_port_num(pn))
        proto = _s(port.get("protocol"))
        if not proto:
            causes.append(_required(p + ".protocol"))
        elif proto not in ("SCTP", "TCP", "UDP"):
            causes.append(_not_supported(p + ".protocol", proto, ("SCTP", "TCP", "UDP")))
        causes.extend(_port_num_or_name(p + ".targetPort", port.get("targetPort")))
        ap = port.get("appProtocol")
        if isinstance(ap, str):
            causes.extend(_invalid(p + ".appProtocol", go_quote(ap), m) for m in validate_qualified_name(ap))
    if spec.get("selector") is not None:
        causes.extend(validate_labels(spec.get("selector"), "spec.selector"))
    affinity = _s(spec.get("sessionAffinity"))
    if not affinity:
        causes.append(_required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        causes.append(_not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if affinity == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        timeout = _d(_d(cfg).get("clientIP")).get("timeoutSeconds")
        if isinstance(timeout, int) and not 0 < timeout <= 86400:
            causes.append(
                _invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    str(timeout),
                    "must be greater than 0 and less than 86400",
                )
            )
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(
            _forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")
        )
    for i, ip in enumerate(_l(spec.get("externalIPs"))):
        try:
            ipaddress.ip_address(_s(ip))
        except ValueError:
            causes.append(
                _invalid(
                    f"spec.externalIPs[{i}]",
                    go_quote(_s(ip)),
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    types = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
    if not stype:
        causes.append(_required("spec.type"))
    elif stype not in types:
        causes.append(_not_supported("spec.type", stype, types))
    if stype == "ClusterIP":
        for i, port in enumerate(ports):
            if _i(port.get("nodePort")):
                causes.append(
                    _forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                )
    seen_np: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        np = _i(port.get("nodePort"))
        if not np:
            continue
        key = (_s(port.get("protocol")), np)
        if key in seen_np:
            causes.append(_duplicate(f"spec.ports[{i}].nodePort", str(np)))
        seen_np.add(key)
    seen_p: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        key = (_s(port.get("protocol")), _i(port.get("port")))
        if key in seen_p:
            causes.append(_duplicate(f"spec.ports[{i}]", _go_service_port_key(*key)))
        seen_p.add(key)
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        causes.append(
            _forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
        )
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        causes.append(_required("allocateLoadBalancerNodePorts"))
    lbc = spec.get("loadBalancerClass")
    if isinstance(lbc, str):
        if stype == "LoadBalancer":
            causes.extend(
                _invalid("spec.loadBalancerClass", go_quote(lbc), m) for m in validate_qualified_name(lbc)
            )
        else:
            causes.append(
                _forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
            )
    externally = stype in ("LoadBalancer", "NodePort") or (
        stype == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    etp = _s(spec.get("externalTrafficPolicy"))
    if not externally:
        if etp:
            causes.append(
                _invalid(
                    "spec.externalTrafficPolicy",
                    go_quote(etp),
                    "may only be set for externally-accessible services",
                )
            )
    elif not etp:
        causes.append(_required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        causes.append(_not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if stype in ("NodePort", "LoadBalancer", "ClusterIP"):
            causes.append(_required("spec.internalTrafficPolicy"))
    elif itp not in ("Cluster", "Local"):
        causes.append(_not_supported("spec.internalTrafficPolicy", _s(itp), ("Cluster", "Local")))
    return causes


_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _validate_pvc_spec(spec: Any, path: str) -> list[Cause]:
    spec = _d(spec)
    causes: list[Cause] = []
    modes = _l(spec.get("accessModes"))
    if not modes:
        causes.append(_required(path + ".accessModes", "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        causes.extend(_validate_label_selector(spec.get("selector"), path + ".selector"))
    rwop = other = False
    for mode in modes:
        if mode not in _ACCESS_MODES:
            causes.append(_not_supported(path + ".accessModes", _s(mode), _ACCESS_MODES))
        if mode == "ReadWriteOncePod":
            rwop = True
        elif mode in _ACCESS_MODES:
            other = True
    if rwop and other:
        causes.append(
            _forbidden(path + ".accessModes", "may not use ReadWriteOncePod with other access modes")
        )
    requests = _d(_d(spec.get("resources")).get("requests"))
    storage_path = path + ".resources[storage]"
    if "storage" not in requests:
        causes.append(_required(storage_path))
    else:
        v = quantity_value(requests["storage"])
        if v is not None and v <= 0:
            causes.append(
                _invalid(
                    storage_path,
                    go_quote(str(canonical_quantity(requests["storage"]))),
                    "must be greater than zero",
                )
            )
    sc = spec.get("storageClassName")
    if isinstance(sc, str) and sc:
        causes.extend(_dns_subdomain(path + ".storageClassName", sc))
    vm = spec.get("volumeMode")
    if isinstance(vm, str) and vm not in ("Block", "Filesystem"):
        causes.append(_not_supported(path + ".volumeMode", vm, ("Block", "Filesystem")))
    return causes


def _validate_pvc(obj: JSON) -> list[Cause]:
    return _validate_pvc_spec(obj.get("spec"), "spec")


def _validate_config_map(obj: JSON) -> list[Cause]:
    causes: list[Cause] = []
    data = _d(obj.get("data"))
    binary = _d(obj.get("binaryData"))
    for key in data:
        for m in _config_map_key(key):
            causes.append(_invalid(f"data[{key}]", go_quote(key), m))
        if key in binary:
            causes.append(_invalid(f"data[{key}]", go_quote(key), "duplicate of key present in binaryData"))
    for key in binary:
        for m in _config_map_key(key):
            causes.append(_invalid(f"binaryData[{key}]", go_quote(key), m))
    size = sum(len(_s(v).encode()) for v in data.values()) + sum(_b64_len(v) for v in binary.values())
    if size > MAX_SECRET_SIZE:
        causes.append(
            Cause("FieldValueTooLong", f"Too long: may not be more than {MAX_SECRET_SIZE} bytes", "")
        )
    return causes


def _b64_len(v: Any) -> int:
    """Decoded length of a base64 value (as stored in []byte fields)."""
    s = _s(v).rstrip("=")
    return len(s) * 3 // 4


_CONFIG_MAP_KEY_RE = re.compile(r"[-._a-zA-Z0-9]+")
_CONFIG_MAP_KEY_MSG = _regex_error(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    "[-._a-zA-Z0-9]+",
    "key.name",
    "KEY_NAME",
    "key-name",
)


def _config_map_key(key: str) -> list[str]:
    errs = []
    if len(key.encode()) > 253:
        errs.append("must be no more than 253 characters")
    if _CONFIG_MAP_KEY_RE.fullmatch(key) is None:
        errs.append(_CONFIG_MAP_KEY_MSG)
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _validate_secret(obj: JSON) -> list[Cause]:
    causes: list[Cause] = []
    data = _d(obj.get("data"))
    for key in data:
        for m in _config_map_key(key):
            causes.append(_invalid(f"data[{key}]", go_quote(key), m))
    if sum(_b64_len(v) for v in data.values()) > MAX_SECRET_SIZE:
        causes.append(
            Cause("FieldValueTooLong", f"Too long: may not be more than {MAX_SECRET_SIZE} bytes", "data")
        )
    stype = _s(obj.get("type"))
    ann = _d(_meta(obj).get("annotations"))
    if stype == "kubernetes.io/service-account-token":
        if not _s(ann.get("kubernetes.io/service-account.name")):
            causes.append(_required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif stype == "kubernetes.io/dockercfg":
        if ".dockercfg" not in data:
            causes.append(_required("data[.dockercfg]"))
    elif stype == "kubernetes.io/dockerconfigjson":
        if ".dockerconfigjson" not in data:
            causes.append(_required("data[.dockerconfigjson]"))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes.append(_required("data[username]"))
            causes.append(_required("data[password]"))
    elif stype == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            causes.append(_required("data[ssh-privatekey]"))
    elif stype == "kubernetes.io/tls":
        if "tls.crt" not in data:
            causes.append(_required("data[tls.crt]"))
        if "tls.key" not in data:
            causes.append(_required("data[tls.key]"))
    return causes


_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_WILDCARD_FMT = "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_WILDCARD_RE = re.compile(r"\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_WILDCARD_MSG = _regex_error(
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
    "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
    _WILDCARD_FMT,
    "*.example.com",
)


def _validate_ingress_backend(backend: Any, path: str) -> list[Cause]:
    backend = _d(backend)
    resource, svc = backend.get("resource"), backend.get("service")
    if resource is not None and svc is not None:
        return [_invalid(path, '""', "cannot set both resource and service backends")]
    if resource is not None:
        resource = _d(resource)
        causes = []
        if not _s(resource.get("kind")):
            causes.append(_required(path + ".resource.kind"))
        if not _s(resource.get("name")):
            causes.append(_required(path + ".resource.name"))
        return causes
    if svc is None:
        return [_invalid(path, '""', "resource or service backend is required")]
    svc = _d(svc)
    causes = []
    name = _s(svc.get("name"))
    if not name:
        causes.append(_required(path + ".service.name"))
    else:
        causes.extend(_invalid(path + ".service.name", go_quote(name), m) for m in is_dns1035_label(name))
    port = _d(svc.get("port"))
    pname, pnum = _s(port.get("name")), _i(port.get("number"))
    if pname and pnum:
        causes.append(_invalid(path, '""', "cannot set both port name & port number"))
    elif pname:
        causes.extend(
            _invalid(path + ".service.port.name", go_quote(pname), m) for m in _is_valid_port_name(pname)
        )
    elif pnum:
        causes.extend(_invalid(path + ".service.port.number", str(pnum), m) for m in _is_valid_port_num(pnum))
    else:
        causes.append(_required(path, "port name or number is required"))
    return causes


def _validate_ingress(obj: JSON) -> list[Cause]:
    """networking/validation ValidateIngressSpec: rules, hosts, paths and backends."""
    spec = _d(obj.get("spec"))
    rules = _ld(spec.get("rules"))
    causes: list[Cause] = []
    if not rules and spec.get("defaultBackend") is None:
        rendered = (
            "[]networking.IngressRule(nil)" if spec.get("rules") is None else "[]networking.IngressRule{}"
        )
        causes.append(_invalid("spec", rendered, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        causes.extend(_validate_ingress_backend(spec.get("defaultBackend"), "spec.defaultBackend"))
    for i, rule in enumerate(rules):
        p = f"spec.rules[{i}]"
        host = _s(rule.get("host"))
        if host:
            try:
                ipaddress.ip_address(host)
                causes.append(_invalid(p + ".host", go_quote(host), "must be a DNS name, not an IP address"))
            except ValueError:
                pass
            if "*" in host:
                if len(host.encode()) > 253:
                    causes.append(
                        _invalid(p + ".host", go_quote(host), "must be no more than 253 characters")
                    )
                if _WILDCARD_RE.fullmatch(host) is None:
                    causes.append(_invalid(p + ".host", go_quote(host), _WILDCARD_MSG))
            else:
                causes.extend(_dns_subdomain(p + ".host", host))
        http = rule.get("http")
        if isinstance(http, dict):
            paths = _ld(http.get("paths"))
            if not paths:
                causes.append(_required(p + ".http.paths"))
            for j, hp in enumerate(paths):
                pp = f"{p}.http.paths[{j}]"
                ptype = hp.get("pathType")
                value = _s(hp.get("path"))
                if ptype is None:
                    causes.append(_required(pp + ".pathType", "pathType must be specified"))
                    continue
                if ptype in ("Exact", "Prefix"):
                    if not value.startswith("/"):
                        causes.append(_invalid(pp + ".path", go_quote(value), "must be an absolute path"))
                    if value:
                        for seq in _INVALID_PATH_SEQUENCES:
                            if seq in value:
                                causes.append(
                                    _invalid(pp + ".path", go_quote(value), f"must not contain '{seq}'")
                                )
                        for suffix in _INVALID_PATH_SUFFIXES:
                            if value.endswith(suffix):
                                causes.append(
                                    _invalid(pp + ".path", go_quote(value), f"cannot end with '{suffix}'")
                                )
                elif ptype == "ImplementationSpecific":
                    if value and not value.startswith("/"):
                        causes.append(_invalid(pp + ".path", go_quote(value), "must be an absolute path"))
                else:
                    causes.append(
                        _not_supported(
                            pp + ".pathType", _s(ptype), ("Exact", "ImplementationSpecific", "Prefix")
                        )
                    )
                causes.extend(_validate_ingress_backend(hp.get("backend"), pp + ".backend"))
    cls = spec.get("ingressClassName")
    if isinstance(cls, str):
        causes.extend(_dns_subdomain("spec.ingressClassName", cls))
    return causes


# ---------------------------------------------------------------------------- scheduling, policy, rbac
SYSTEM_PRIORITY_CLASS_PREFIX = "system-"
RBAC_GROUP = "rbac.authorization.k8s.io"
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000


def _validate_preemption_policy(v: Any, path: str) -> list[Cause]:
    if v in ("PreemptLowerPriority", "Never"):
        return []
    if v == "":
        return [_required(path)]
    return [_not_supported(path, v, ("PreemptLowerPriority", "Never"))]


def _system_priority_class_error(name: str, value: Any, global_default: bool) -> str:
    """IsKnownSystemPriorityClass's error, "" for a known class with its own value."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def _validate_priority_class(obj: JSON) -> list[Cause]:
    """pkg/apis/scheduling/validation ValidatePriorityClass (spec part)."""
    causes: list[Cause] = []
    name, value = _s(_meta(obj).get("name")), obj.get("value")
    if name.startswith(SYSTEM_PRIORITY_CLASS_PREFIX):
        err = _system_priority_class_error(name, value, obj.get("globalDefault") is True)
        if err:
            causes.append(
                _forbidden(
                    "metadata.name",
                    f"priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for "
                    f"system use only. error: {err}",
                )
            )
    elif _i(value) > HIGHEST_USER_DEFINABLE_PRIORITY:
        causes.append(
            _forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    if obj.get("preemptionPolicy") is not None:
        causes.extend(_validate_preemption_policy(obj["preemptionPolicy"], "preemptionPolicy"))
    return causes


def _validate_priority_class_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidatePriorityClassUpdate: value and preemptionPolicy are immutable (upstream validates
    only the update, not the new object as a whole)."""
    causes: list[Cause] = []
    if new.get("value") != old.get("value"):
        causes.append(_forbidden("value", "may not be changed in an update."))
    npp, opp = new.get("preemptionPolicy"), old.get("preemptionPolicy")
    causes.extend(_immutable("preemptionPolicy", npp, opp, go_quote(npp) if isinstance(npp, str) else NULL))
    return causes


def _go_pdb_spec(spec: JSON) -> str:
    """%#v of a policy.PodDisruptionBudgetSpec (pointers print as addresses, not comparable)."""

    def ptr(key: str, typ: str) -> str:
        return f"(*{typ})(nil)" if spec.get(key) is None else f"(*{typ})(0xc000000000)"

    return (
        "policy.PodDisruptionBudgetSpec{MinAvailable:"
        + ptr("minAvailable", "intstr.IntOrString")
        + ", Selector:"
        + ptr("selector", "v1.LabelSelector")
        + ", MaxUnavailable:"
        + ptr("maxUnavailable", "intstr.IntOrString")
        + ", UnhealthyPodEvictionPolicy:"
        + ptr("unhealthyPodEvictionPolicy", "policy.UnhealthyPodEvictionPolicyType")
        + "}"
    )


def _validate_pdb(obj: JSON) -> list[Cause]:
    """pkg/apis/policy/validation ValidatePodDisruptionBudgetSpec (create and update alike)."""
    spec = _d(obj.get("spec"))
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(
            _invalid("spec", _go_pdb_spec(spec), "minAvailable and maxUnavailable cannot be both set")
        )
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            causes.extend(_validate_positive_int_or_percent(spec[key], f"spec.{key}"))
            causes.extend(_not_more_than_100(spec[key], f"spec.{key}"))
    causes.extend(_validate_label_selector(spec.get("selector"), "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        causes.append(
            _not_supported("spec.unhealthyPodEvictionPolicy", policy, ("AlwaysAllow", "IfHealthyBudget"))
        )
    return causes


def _validate_policy_rules(obj: JSON, namespaced: bool) -> list[Cause]:
    """ValidatePolicyRule for each of `rules`."""
    causes: list[Cause] = []
    for i, rule in enumerate(_l(obj.get("rules"))):
        rule, path = _d(rule), f"rules[{i}]"
        if not _l(rule.get("verbs")):
            causes.append(_required(path + ".verbs", "verbs must contain at least one value"))
        urls = _l(rule.get("nonResourceURLs"))
        if urls:
            rendered = _go_strings(urls)
            if namespaced:
                causes.append(
                    _invalid(
                        path + ".nonResourceURLs",
                        rendered,
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if _l(rule.get("apiGroups")) or _l(rule.get("resources")) or _l(rule.get("resourceNames")):
                causes.append(
                    _invalid(
                        path + ".nonResourceURLs",
                        rendered,
                        "rules cannot apply to both regular resources and non-resource URLs",
                    )
                )
            continue
        if not _l(rule.get("apiGroups")):
            causes.append(_required(path + ".apiGroups", "resource rules must supply at least one api group"))
        if not _l(rule.get("resources")):
            causes.append(_required(path + ".resources", "resource rules must supply at least one resource"))
    return causes


def _validate_cluster_role(obj: JSON) -> list[Cause]:
    causes = _validate_policy_rules(obj, namespaced=False)
    rule = obj.get("aggregationRule")
    if isinstance(rule, dict):
        path = "aggregationRule.clusterRoleSelectors"
        selectors = _l(rule.get("clusterRoleSelectors"))
        if not selectors:
            causes.append(
                _required(path, "at least one clusterRoleSelector required if aggregationRule is non-nil")
            )
        for i, sel in enumerate(selectors):
            causes.extend(_validate_label_selector(sel, f"{path}[{i}]"))
    return causes


def _validate_subject(subject: JSON, namespaced: bool, path: str) -> list[Cause]:
    """ValidateRoleBindingSubject."""
    causes: list[Cause] = []
    name, kind, group = _s(subject.get("name")), _s(subject.get("kind")), _s(subject.get("apiGroup"))
    if not name:
        causes.append(_required(path + ".name"))
    if kind == "ServiceAccount":
        if name:
            causes.extend(_dns_subdomain(path + ".name", name))
        if group:
            causes.append(_not_supported(path + ".apiGroup", group, ("",)))
        if not namespaced and not _s(subject.get("namespace")):
            causes.append(_required(path + ".namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            causes.append(_not_supported(path + ".apiGroup", group, (RBAC_GROUP,)))
    else:
        causes.append(_not_supported(path + ".kind", kind, ("ServiceAccount", "User", "Group")))
    return causes


def _validate_binding(obj: JSON, namespaced: bool) -> list[Cause]:
    """ValidateRoleBinding / ValidateClusterRoleBinding (spec part)."""
    causes: list[Cause] = []
    ref = _d(obj.get("roleRef"))
    group, kind, name = _s(ref.get("apiGroup")), _s(ref.get("kind")), _s(ref.get("name"))
    if group != RBAC_GROUP:
        causes.append(_not_supported("roleRef.apiGroup", group, (RBAC_GROUP,)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if kind not in kinds:
        causes.append(_not_supported("roleRef.kind", kind, kinds))
    if not name:
        causes.append(_required("roleRef.name"))
    else:
        causes.extend(_invalid("roleRef.name", go_quote(name), m) for m in is_valid_path_segment_name(name))
    for i, subject in enumerate(_l(obj.get("subjects"))):
        causes.extend(_validate_subject(_d(subject), namespaced, f"subjects[{i}]"))
    return causes


# ---------------------------------------------------------------------------- resource quotas
_STANDARD_QUOTA_RESOURCES = (_STANDARD_RESOURCES - {"storage"}) | {"requests.storage"}
_POD_COMPUTE_RESOURCES = frozenset(
    ["cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"]
)
_QUOTA_SCOPES = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)


def _is_quota_hugepages(name: str) -> bool:
    """IsQuotaHugePageResourceName (a container resource is only `hugepages-*`: `_is_hugepages`)."""
    return name.startswith(("hugepages-", "requests.hugepages-"))


def _scope_valid_for(scope: str, resource: str) -> bool:
    """IsResourceQuotaScopeValidForResource."""
    if scope == "BestEffort":
        return resource == "pods"
    if scope in _QUOTA_SCOPES:
        return resource == "pods" or resource in _POD_COMPUTE_RESOURCES
    return True


def _validate_quota_resource_name(name: str, path: str) -> list[Cause]:
    """ValidateResourceQuotaResourceName (validateResourceName first)."""
    causes = [_invalid(path, go_quote(name), m) for m in validate_qualified_name(name)]
    if causes:
        return causes
    if "/" in name:
        return []
    if name not in _STANDARD_RESOURCES and not _is_quota_hugepages(name):
        causes.append(_invalid(path, go_quote(name), "must be a standard resource type or fully qualified"))
    if name not in _STANDARD_QUOTA_RESOURCES and not _is_quota_hugepages(name):
        causes.append(_invalid(path, go_quote(name), "must be a standard resource for quota"))
    return causes


def _go_scopes(scopes: list[Any]) -> str:
    if not scopes:
        return "[]core.ResourceQuotaScope(nil)"
    return "[]core.ResourceQuotaScope{" + ", ".join(_go_str(x) for x in scopes) + "}"


_CREATE_VALIDATORS: dict[tuple[str, str], Callable[[JSON], list[Cause]]] = {
    ("", "Pod"): _validate_pod_create,
    ("", "Service"): _validate_service,
    ("", "ReplicationController"): _validate_replication_controller,
    ("", "PersistentVolumeClaim"): _validate_pvc,
    ("", "ConfigMap"): _validate_config_map,
    ("", "Secret"): _validate_secret,
    ("apps", "Deployment"): _validate_deployment,
    ("apps", "ReplicaSet"): _validate_replica_set,
    ("apps", "DaemonSet"): _validate_daemon_set,
    ("apps", "StatefulSet"): _validate_stateful_set,
    ("networking.k8s.io", "Ingress"): _validate_ingress,
    ("autoscaling", "HorizontalPodAutoscaler"): hpa.validate_create,
    ("scheduling.k8s.io", "PriorityClass"): _validate_priority_class,
    ("policy", "PodDisruptionBudget"): _validate_pdb,
    ("rbac.authorization.k8s.io", "Role"): lambda o: _validate_policy_rules(o, namespaced=True),
    ("rbac.authorization.k8s.io", "ClusterRole"): _validate_cluster_role,
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda o: _validate_binding(o, namespaced=True),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda o: _validate_binding(o, namespaced=False),
}


def validate_create(obj: dict[str, Any], group: str, version: str, kind: str) -> list[Cause]:
    """The 422 causes of kube-apiserver's create validation for the spec/data of the object.

    Run after defaulting, admission, the registry strategy (uid set) and `job_generate_selector`,
    as upstream validates the prepared object; `metadata` is validation.py's part.
    """
    if not isinstance(obj, dict):
        return []
    fn = _kind_modules().CREATE_VALIDATORS.get((group, kind)) or _CREATE_VALIDATORS.get((group, kind))
    return fn(obj) if fn is not None else []


def _kind_modules() -> Any:
    """validate_kinds.py: the validators of the kinds with their own modules (which import this
    module's helpers, hence the import at call time)."""
    from vcluster.apiserver import validate_kinds

    return validate_kinds


# ============================================================================ update validation
def _diff_field_name(key: str) -> str:
    special = {"dnsPolicy": "DNSPolicy", "dnsConfig": "DNSConfig", "os": "OS", "hostPID": "HostPID",
               "hostIPC": "HostIPC", "nodeSelector": "NodeSelector", "tty": "TTY"}  # fmt: skip
    return special.get(key) or (key[:1].upper() + key[1:])


def _spec_diff(type_name: str, old: JSON, new: JSON) -> str:
    """A go-cmp-shaped diff of two specs (top-level fields; values printed as JSON)."""
    lines = [f"  {type_name}{{"]
    keys = list(old)
    keys.extend(k for k in new if k not in old)
    same = 0
    for key in keys:
        a, b = _norm(old.get(key)), _norm(new.get(key))
        if a == b:
            same += 1
            continue
        if same:
            lines.append(f"  \t... // {same} identical field{'s' if same > 1 else ''}")
            same = 0
        name = _diff_field_name(key)
        if a is not None:
            lines.append(f"- \t{name}: {orjson.dumps(old.get(key)).decode()},")
        if b is not None:
            lines.append(f"+ \t{name}: {orjson.dumps(new.get(key)).decode()},")
    if same:
        lines.append(f"  \t... // {same} identical field{'s' if same > 1 else ''}")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def _validate_only_added_tolerations(new: Any, old: Any, path: str) -> list[Cause]:
    new_list = _ld(new)
    for t in _ld(old):
        found = False
        for nt in new_list:
            a = dict(t)
            a["tolerationSeconds"] = nt.get("tolerationSeconds")
            b = dict(nt)
            if _norm(a) == _norm(b):
                found = True
                break
        if not found:
            return [_forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return _validate_tolerations(new, path)


def _validate_pod_update(new: JSON, old: JSON) -> list[Cause]:
    causes = _validate_pod(new)
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    for key in ("containers", "initContainers"):
        nc, oc = _ld(nspec.get(key)), _ld(ospec.get(key))
        path = f"spec.{key}"
        if len(nc) != len(oc):
            causes.append(_forbidden(path, "pod updates may not add or remove containers"))
            return causes
        for i, c in enumerate(nc):
            image = _s(c.get("image"))
            if not image:
                causes.append(_required(f"{path}[{i}].image"))
            if image.strip() != image:
                causes.append(
                    _invalid(
                        f"{path}[{i}].image", go_quote(image), "must not have leading or trailing whitespace"
                    )
                )
    nads, oads = nspec.get("activeDeadlineSeconds"), ospec.get("activeDeadlineSeconds")
    if isinstance(nads, int):
        if nads < 0 or nads > MAX_INT32:
            causes.append(
                _invalid(
                    "spec.activeDeadlineSeconds", str(nads), f"must be between 0 and {MAX_INT32}, inclusive"
                )
            )
            return causes
        if isinstance(oads, int) and oads < nads:
            causes.append(
                _invalid(
                    "spec.activeDeadlineSeconds", str(nads), "must be less than or equal to previous value"
                )
            )
            return causes
    elif oads is not None:
        causes.append(
            _invalid(
                "spec.activeDeadlineSeconds", NULL, "must not update from a positive integer to nil value"
            )
        )
    causes.extend(
        _validate_only_added_tolerations(
            nspec.get("tolerations"), ospec.get("tolerations"), "spec.tolerations"
        )
    )
    old_gates = {_s(g.get("name")) for g in _ld(ospec.get("schedulingGates"))}
    for i, gate in enumerate(_ld(nspec.get("schedulingGates"))):
        name = _s(gate.get("name"))
        if name not in old_gates:
            causes.append(
                _forbidden(
                    f"spec.schedulingGates[{i}].name",
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    if _norm(nspec) == _norm(ospec):
        return causes
    munged = _copy(nspec)
    for key in ("containers", "initContainers"):
        for c, oc in zip(_ld(munged.get(key)), _ld(ospec.get(key)), strict=False):
            if "image" in oc:
                c["image"] = oc["image"]
            else:
                c.pop("image", None)
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in ospec:
            munged[key] = ospec[key]
        else:
            munged.pop(key, None)
    otg = ospec.get("terminationGracePeriodSeconds")
    if isinstance(otg, int) and otg < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = otg
    if _l(ospec.get("schedulingGates")):
        # Gated pods may add to nodeSelector and node affinity (approximation: any change allowed).
        for key in ("nodeSelector",):
            if key in ospec:
                munged[key] = ospec[key]
            else:
                munged.pop(key, None)
    if _norm(munged) != _norm(ospec):
        detail = f"pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n"
        causes.append(_forbidden("spec", detail + _spec_diff("core.PodSpec", ospec, munged)))
    return causes


def validate_ephemeral_containers_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """ValidatePodEphemeralContainersUpdate for the pods/ephemeralcontainers endpoint (metadata is
    validation.py's part): the new pod as a whole, then existing ephemeral containers may be
    neither removed nor changed (matched by name: a patch may reorder them); static pods have none."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    causes = _validate_pod(new)
    if MIRROR_POD_ANNOTATION in _d(_meta(old).get("annotations")):
        return [_forbidden("", "static pods do not support ephemeral containers")]
    path = "spec.ephemeralContainers"
    by_name = {_s(c.get("name")): c for c in _ld(_d(new.get("spec")).get("ephemeralContainers"))}
    for oc in _ld(_d(old.get("spec")).get("ephemeralContainers")):
        name = _s(oc.get("name"))
        nc = by_name.get(name)
        if nc is None:
            causes.append(
                _forbidden(path, f"existing ephemeral containers {go_quote(name)} may not be removed\n")
            )
        elif _norm(nc) != _norm(oc):
            diff = _spec_diff("core.EphemeralContainer", oc, nc)
            causes.append(
                _forbidden(path, f"existing ephemeral containers {go_quote(name)} may not be changed\n{diff}")
            )
    return causes


def _selector_immutable(new: JSON, old: JSON) -> list[Cause]:
    nsel = _d(new.get("spec")).get("selector")
    osel = _d(old.get("spec")).get("selector")
    return _immutable("spec.selector", nsel, osel, _go_selector(nsel) if nsel is not None else NULL)


def _validate_deployment_update(new: JSON, old: JSON) -> list[Cause]:
    return _validate_deployment(new) + _selector_immutable(new, old)


def _validate_replica_set_update(new: JSON, old: JSON) -> list[Cause]:
    return _validate_replica_set(new) + _selector_immutable(new, old)


def _validate_daemon_set_update(new: JSON, old: JSON) -> list[Cause]:
    return _validate_daemon_set(new) + _selector_immutable(new, old)


def _validate_stateful_set_update(new: JSON, old: JSON) -> list[Cause]:
    causes = _validate_stateful_set(new)
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    clone = dict(nspec)
    for key in ("replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                "persistentVolumeClaimRetentionPolicy"):  # fmt: skip
        if key in ospec:
            clone[key] = ospec[key]
        else:
            clone.pop(key, None)
    if _norm(clone) != _norm(ospec):
        causes.append(_forbidden("spec", STS_UPDATE_FORBIDDEN))
    return causes


def _go_pod_template(tmpl: Any) -> str:
    """%#v of core.PodTemplateSpec is a page of Go syntax; this keeps its head and the JSON."""
    return "core.PodTemplateSpec" + orjson.dumps(tmpl if tmpl is not None else {}).decode()


def _validate_config_map_update(new: JSON, old: JSON) -> list[Cause]:
    causes: list[Cause] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            causes.append(_forbidden("immutable", IMMUTABLE_WHEN_SET))
        for key in ("data", "binaryData"):
            if _map_changed(new, old, key):
                causes.append(_forbidden(key, IMMUTABLE_WHEN_SET))
    return causes + _validate_config_map(new)


def _map_changed(new: JSON, old: JSON, key: str) -> bool:
    """A map field differs, counting nil and empty apart (Go's reflect.DeepEqual)."""
    return _d(new.get(key)) != _d(old.get(key)) or (new.get(key) is None) != (old.get(key) is None)


def _validate_secret_update(new: JSON, old: JSON) -> list[Cause]:
    causes = _immutable("type", new.get("type"), old.get("type"), go_quote(_s(new.get("type"))))
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            causes.append(_forbidden("immutable", IMMUTABLE_WHEN_SET))
        if _map_changed(new, old, "data"):
            causes.append(_forbidden("data", IMMUTABLE_WHEN_SET))
    return causes + _validate_secret(new)


def _validate_pvc_update(new: JSON, old: JSON) -> list[Cause]:
    causes = _validate_pvc(new)
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    nclone, oclone = _copy(nspec), _copy(ospec)
    if not _s(ospec.get("volumeName")):
        if "volumeName" in nclone:
            oclone["volumeName"] = nclone["volumeName"]
        else:
            oclone.pop("volumeName", None)
    oann = _d(_meta(old).get("annotations"))
    nann = _d(_meta(new).get("annotations"))
    old_sc, new_sc = ospec.get("storageClassName"), nspec.get("storageClassName")
    if (
        BETA_STORAGE_CLASS_ANNOTATION in oann
        and old_sc is None
        and new_sc is not None
        and new_sc == oann[BETA_STORAGE_CLASS_ANNOTATION]
        and (BETA_STORAGE_CLASS_ANNOTATION not in nann or nann[BETA_STORAGE_CLASS_ANNOTATION] == new_sc)
    ):
        nclone.pop("storageClassName", None)
    else:
        nv, ov = _s(nann.get(BETA_STORAGE_CLASS_ANNOTATION)), _s(oann.get(BETA_STORAGE_CLASS_ANNOTATION))
        if nv != ov:
            causes.append(
                _invalid(
                    f"metadata.annotations.{BETA_STORAGE_CLASS_ANNOTATION}", go_quote(nv), FIELD_IMMUTABLE
                )
            )
        if (
            new_sc is not None
            and old_sc is None
            and (BETA_STORAGE_CLASS_ANNOTATION not in oann or new_sc == oann[BETA_STORAGE_CLASS_ANNOTATION])
        ):
            nclone.pop("storageClassName", None)
    # The strategy keeps the stored status, so the phase is the old one.
    bound = _d(old.get("status")).get("phase") == "Bound"
    nres = _d(nclone.get("resources"))
    if bound and isinstance(nres.get("requests"), dict):
        ostorage = _d(_d(ospec.get("resources")).get("requests")).get("storage")
        if ostorage is None:
            nres["requests"].pop("storage", None)
        else:
            nres["requests"]["storage"] = ostorage
    if bound and nclone.get("volumeAttributesClassName") is not None:
        if "volumeAttributesClassName" in oclone:
            nclone["volumeAttributesClassName"] = oclone["volumeAttributesClassName"]
        else:
            nclone.pop("volumeAttributesClassName", None)
    if _norm(nclone) != _norm(oclone):
        causes.append(
            _forbidden(
                "spec",
                PVC_SPEC_IMMUTABLE + "\n" + _spec_diff("core.PersistentVolumeClaimSpec", oclone, nclone),
            )
        )
    old_size = quantity_value(_d(_d(ospec.get("resources")).get("requests")).get("storage"))
    new_size = quantity_value(_d(_d(nspec.get("resources")).get("requests")).get("storage"))
    if (new_size or Fraction(0)) < (old_size or Fraction(0)):
        causes.append(
            _forbidden("spec.resources.requests.storage", "field can not be less than previous value")
        )
    nvm, ovm = nspec.get("volumeMode"), ospec.get("volumeMode")
    if nvm != ovm:
        causes.append(
            _invalid("volumeMode", go_quote(nvm) if isinstance(nvm, str) else NULL, FIELD_IMMUTABLE)
        )
    return causes + _volume_attributes_class_update(nspec, ospec)


def _validate_role_binding_update(new: JSON, old: JSON) -> list[Cause]:
    nref, oref = _d(new.get("roleRef")), _d(old.get("roleRef"))
    keys = ("apiGroup", "kind", "name")
    if any(_s(nref.get(k)) != _s(oref.get(k)) for k in keys):
        rendered = (
            "rbac.RoleRef{APIGroup:"
            + go_quote(_s(nref.get("apiGroup")))
            + ", Kind:"
            + go_quote(_s(nref.get("kind")))
            + ", Name:"
            + go_quote(_s(nref.get("name")))
            + "}"
        )
        return [_invalid("roleRef", rendered, "cannot change roleRef")]
    return []


def _cluster_ips(spec: JSON) -> list[str]:
    return [_s(x) for x in _l(spec.get("clusterIPs"))]


def _validate_service_update(new: JSON, old: JSON) -> list[Cause]:
    causes: list[Cause] = []
    nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
    ntype, otype = _s(nspec.get("type")), _s(ospec.get("type"))
    if "ExternalName" not in (ntype, otype):
        nh, oh = _is_headless(nspec), _is_headless(ospec)
        nips, oips = _cluster_ips(nspec), _cluster_ips(ospec)
        rendered = _go_strings(nspec.get("clusterIPs"))
        if not (nh and oh):
            if len(oips) == len(nips):
                for i, ip in enumerate(oips):
                    if ip != nips[i]:
                        causes.append(_invalid(f"spec.clusterIPs[{i}]", rendered, "may not change once set"))
            elif len(oips) > len(nips):
                if not nips:
                    causes.append(
                        _invalid("spec.clusterIPs[0]", rendered, "primary clusterIP can not be unset")
                    )
                if oips and nips and nips[0] != oips[0]:
                    causes.append(_invalid("spec.clusterIPs[0]", rendered, "may not change once set"))
                if len(nips) == 1 and nspec.get("ipFamilyPolicy") != "SingleStack":
                    pol = nspec.get("ipFamilyPolicy")
                    causes.append(
                        _invalid(
                            "spec.ipFamilyPolicy",
                            go_quote(pol) if isinstance(pol, str) else NULL,
                            "must be set to 'SingleStack' when releasing the secondary clusterIP",
                        )
                    )
            elif oips and nips[0] != oips[0]:
                causes.append(_invalid("spec.clusterIPs[0]", rendered, "may not change once set"))
        if nh == oh and not nh:
            nf, of = (
                [_s(x) for x in _l(nspec.get("ipFamilies"))],
                [_s(x) for x in _l(ospec.get("ipFamilies"))],
            )
            frendered = (
                "[]core.IPFamily{" + ", ".join(go_quote(f) for f in nf) + "}"
                if nf
                else "[]core.IPFamily(nil)"
            )
            if len(of) == len(nf):
                for i, fam in enumerate(of):
                    if fam != nf[i]:
                        causes.append(_invalid("spec.ipFamilies[0]", frendered, "may not change once set"))
            elif len(of) > len(nf):
                if not nips:
                    causes.append(
                        _invalid("spec.ipFamilies[0]", frendered, "primary ipFamily can not be unset")
                    )
                if nf and nf[0] != of[0]:
                    causes.append(_invalid("spec.ipFamilies[0]", rendered, "may not change once set"))
                if len(nf) == 1 and nspec.get("ipFamilyPolicy") != "SingleStack":
                    pol = nspec.get("ipFamilyPolicy")
                    causes.append(
                        _invalid(
                            "spec.ipFamilyPolicy",
                            go_quote(pol) if isinstance(pol, str) else NULL,
                            "must be set to 'SingleStack' when releasing the secondary ipFamily",
                        )
                    )
            elif of and nf and nf[0] != of[0]:
                causes.append(_invalid("spec.ipFamilies[0]", rendered, "may not change once set"))
    if otype == "LoadBalancer" and ntype == "LoadBalancer":
        ncls, ocls = nspec.get("loadBalancerClass"), ospec.get("loadBalancerClass")
        if ncls != ocls:
            causes.append(
                _invalid(
                    "spec.loadBalancerClass",
                    go_quote(ncls) if isinstance(ncls, str) else NULL,
                    "may not change once set",
                )
            )
    return causes + _validate_service(new)


_UPDATE_VALIDATORS: dict[tuple[str, str], Callable[[JSON, JSON], list[Cause]]] = {
    ("", "Pod"): _validate_pod_update,
    ("", "Service"): _validate_service_update,
    ("", "ReplicationController"): lambda n, o: _validate_replication_controller(n),
    ("", "ConfigMap"): _validate_config_map_update,
    ("", "Secret"): _validate_secret_update,
    ("", "PersistentVolumeClaim"): _validate_pvc_update,
    ("apps", "Deployment"): _validate_deployment_update,
    ("apps", "ReplicaSet"): _validate_replica_set_update,
    ("apps", "DaemonSet"): _validate_daemon_set_update,
    ("apps", "StatefulSet"): _validate_stateful_set_update,
    ("rbac.authorization.k8s.io", "Role"): lambda n, o: _validate_policy_rules(n, namespaced=True),
    ("rbac.authorization.k8s.io", "ClusterRole"): lambda n, o: _validate_cluster_role(n),
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda n, o: (
        _validate_binding(n, namespaced=True) + _validate_role_binding_update(n, o)
    ),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda n, o: (
        _validate_binding(n, namespaced=False) + _validate_role_binding_update(n, o)
    ),
    ("scheduling.k8s.io", "PriorityClass"): _validate_priority_class_update,
    ("policy", "PodDisruptionBudget"): lambda n, o: _validate_pdb(n),
    ("networking.k8s.io", "Ingress"): lambda n, o: _validate_ingress(n),
    ("autoscaling", "HorizontalPodAutoscaler"): hpa.validate_update,
}


def validate_update(
    old: dict[str, Any], new: dict[str, Any], group: str, version: str, kind: str
) -> list[Cause]:
    """The 422 causes of an update (main endpoint, not /status): the new object's spec validation
    followed by the immutability rules, in upstream's order. Run after `admit_update` and the
    strategy's `prepare_for_update` (so `new.status` is the stored status)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    fn = _kind_modules().UPDATE_VALIDATORS.get((group, kind)) or _UPDATE_VALIDATORS.get((group, kind))
    return fn(new, old) if fn is not None else []


# ============================================================================ strategy helpers
def job_generate_selector(job: dict[str, Any], uid: str) -> None:
    """The Job strategy's PrepareForCreate step (pkg/registry/batch/job/strategy.go generateSelector):
    unless `spec.manualSelector` is true, add `job-name`, `batch.kubernetes.io/job-name`,
    `controller-uid` and `batch.kubernetes.io/controller-uid` to the template labels (keeping labels
    the user set) and `batch.kubernetes.io/controller-uid=<uid>` to `spec.selector.matchLabels`.
    Call it once the uid is assigned (after `strategy.prepare_for_create`)."""
    if not isinstance(job, dict):
        return
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return
    name = _s(_meta(job).get("name"))
    tmpl = spec.get("template")
    if tmpl is None:
        tmpl = spec["template"] = {}
    if not isinstance(tmpl, dict):
        return
    md = tmpl.get("metadata")
    if md is None:
        md = tmpl["metadata"] = {}
    if not isinstance(md, dict):
        return
    labels = md.get("labels")
    if labels is None:
        labels = md["labels"] = {}
    if not isinstance(labels, dict):
        return
    for label in JOB_NAME_LABELS:
        labels.setdefault(label, name)
    for label in CONTROLLER_UID_LABELS:
        labels.setdefault(label, uid)
    sel = spec.get("selector")
    if sel is None:
        sel = spec["selector"] = {}
    if not isinstance(sel, dict):
        return
    ml = sel.get("matchLabels")
    if ml is None:
        ml = sel["matchLabels"] = {}
    if isinstance(ml, dict):
        ml.setdefault("batch.kubernetes.io/controller-uid", uid)


def pod_qos_class(pod: dict[str, Any]) -> str:
    """ComputePodQOS (pkg/apis/core/helper/qos): BestEffort, Burstable or Guaranteed.

    Sums cpu/memory requests and limits over containers and init containers (zero quantities
    ignored); Guaranteed needs cpu and memory limits on every container and requests equal to
    limits. Run on the defaulted pod (requests copied from limits)."""
    spec = _d(_d(pod).get("spec"))
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for c in _ld(spec.get("containers")) + _ld(spec.get("initContainers")):
        res = _d(c.get("resources"))
        for name, q in _d(res.get("requests")).items():
            v = quantity_value(q)
            if name in ("cpu", "memory") and v is not None and v > 0:
                requests[name] = requests.get(name, Fraction(0)) + v
        found = set()
        for name, q in _d(res.get("limits")).items():
            v = quantity_value(q)
            if name in ("cpu", "memory") and v is not None and v > 0:
                found.add(name)
                limits[name] = limits.get(name, Fraction(0)) + v
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed:
        for name, req in requests.items():
            if limits.get(name) != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# ============================================================================ admission
def _random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_NAME_ALPHABET) for _ in range(n))


def _token_volume(name: str) -> JSON:
    """The projected volume of ServiceAccount admission (TokenVolumeSource), defaults included."""
    return {
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
            "defaultMode": 420,
        },
    }


def _pod_forbidden(pod: JSON, why: str) -> StatusError:
    return forbidden("pods", "", _name_for_message(pod), why)


def _secret_references_error(sa: JSON, spec: JSON) -> str | None:
    """limitSecretReferences, for ServiceAccounts annotated enforce-mountable-secrets=true."""
    mountable = {_s(s.get("name")) for s in _ld(sa.get("secrets"))}
    sa_name = _s(_meta(sa).get("name"))
    for vol in _ld(spec.get("volumes")):
        secret = vol.get("secret")
        if isinstance(secret, dict):
            name = _s(secret.get("secretName"))
            if name not in mountable:
                return (
                    f'volume with secret.secretName="{name}" is not allowed because service account '
                    f"{sa_name} does not reference that secret"
                )
    for key, what in (("initContainers", "init container"), ("containers", "container")):
        for c in _ld(spec.get(key)):
            cname = _s(c.get("name"))
            for env in _ld(c.get("env")):
                ref = _d(_d(env.get("valueFrom")).get("secretKeyRef"))
                if ref and _s(ref.get("name")) not in mountable:
                    return (
                        f"{what} {cname} with envVar {_s(env.get('name'))} referencing "
                        f'secret.secretName="{_s(ref.get("name"))}" is not allowed because service account '
                        f"{sa_name} does not reference that secret"
                    )
            for env_from in _ld(c.get("envFrom")):
                ref = _d(env_from.get("secretRef"))
                if ref and _s(ref.get("name")) not in mountable:
                    return (
                        f'{what} {cname} with envFrom referencing secret.secretName="{_s(ref.get("name"))}" '
                        f"is not allowed because service account {sa_name} does not reference that secret"
                    )
    pull = {_s(s.get("name")) for s in _ld(sa.get("imagePullSecrets"))}
    for i, ref in enumerate(_ld(spec.get("imagePullSecrets"))):
        if _s(ref.get("name")) not in pull:
            return (
                f'imagePullSecrets[{i}].name="{_s(ref.get("name"))}" is not allowed because service account '
                f"{sa_name} does not reference that imagePullSecret"
            )
    return None


def _admit_service_account(pod: JSON, spec: JSON, namespace: str, lookup: Lookup) -> None:
    """plugin/pkg/admission/serviceaccount: default SA, existence check, token volume, pull secrets."""
    ann = _d(_meta(pod).get("annotations"))
    if MIRROR_POD_ANNOTATION in ann:
        if _s(spec.get("serviceAccountName")):
            raise _pod_forbidden(pod, "a mirror pod may not reference service accounts")
        for vol in _ld(spec.get("volumes")):
            if vol.get("secret") is not None:
                raise _pod_forbidden(pod, "a mirror pod may not reference secrets")
            for src in _ld(_d(vol.get("projected")).get("sources")):
                if src.get("serviceAccountToken") is not None:
                    raise _pod_forbidden(
                        pod, "a mirror pod may not use ServiceAccountToken volume projections"
                    )
        return
    sa_name = _s(spec.get("serviceAccountName")) or "default"
    spec["serviceAccountName"] = sa_name
    sa = lookup("ServiceAccount", namespace, sa_name)
    if not isinstance(sa, dict):
        raise _pod_forbidden(
            pod,
            f'error looking up service account {namespace}/{sa_name}: serviceaccount "{sa_name}" not found',
        )
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken")
    if automount is not False:
        _mount_token(spec)
    if not _l(spec.get("imagePullSecrets")):
        pull = [{"name": _s(s.get("name"))} for s in _ld(sa.get("imagePullSecrets"))]
        if pull:
            spec["imagePullSecrets"] = pull
    if _s(_d(_meta(sa).get("annotations")).get(ENFORCE_MOUNTABLE_SECRETS)).lower() in ("true", "1", "t"):
        err = _secret_references_error(sa, spec)
        if err:
            raise _pod_forbidden(pod, err)


def _mount_token(spec: JSON) -> None:
    volumes = spec.get("volumes")
    existing = None
    for vol in _ld(volumes):
        if _s(vol.get("name")).startswith(SA_VOLUME_PREFIX):
            existing = _s(vol.get("name"))
            break
    name = existing or SA_VOLUME_PREFIX + _random_suffix()
    needs = False
    for key in ("initContainers", "containers"):
        for c in _ld(spec.get(key)):
            mounts = c.get("volumeMounts")
            if any(_s(m.get("mountPath")) == SA_MOUNT_PATH for m in _ld(mounts)):
                continue
            mount = {"name": name, "readOnly": True, "mountPath": SA_MOUNT_PATH}
            if isinstance(mounts, list):
                mounts.append(mount)
            else:
                c["volumeMounts"] = [mount]
            needs = True
    if existing is None and needs:
        if isinstance(volumes, list):
            volumes.append(_token_volume(name))
        else:
            spec["volumes"] = [_token_volume(name)]


def _admit_default_tolerations(spec: JSON) -> None:
    """DefaultTolerationSeconds: not-ready and unreachable NoExecute tolerations for 300 s."""
    not_ready = unreachable = False
    for t in _ld(spec.get("tolerations")):
        key, effect = _s(t.get("key")), _s(t.get("effect"))
        if effect in ("NoExecute", ""):
            if key in (NOT_READY_TAINT, ""):
                not_ready = True
            if key in (UNREACHABLE_TAINT, ""):
                unreachable = True
    added = []
    for present, key in ((not_ready, NOT_READY_TAINT), (unreachable, UNREACHABLE_TAINT)):
        if not present:
            added.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    if added:
        tolerations = spec.get("tolerations")
        if isinstance(tolerations, list):
            tolerations.extend(added)
        else:
            spec["tolerations"] = added


def _admit_priority(pod: JSON, spec: JSON, lookup: Lookup, list_objects: ObjectLister | None) -> None:
    """plugin/pkg/admission/priority on create."""
    pc_name = _s(spec.get("priorityClassName"))
    preemption: str | None
    if not pc_name:
        default = None
        if list_objects is not None:
            for pc in list_objects("PriorityClass", ""):
                if (
                    isinstance(pc, dict)
                    and pc.get("globalDefault") is True
                    and (default is None or _i(pc.get("value")) < _i(default.get("value")))
                ):
                    default = pc
        if default is not None:
            spec["priorityClassName"] = _s(_meta(default).get("name"))
            priority = _i(default.get("value"))
            preemption = (
                default.get("preemptionPolicy") if isinstance(default.get("preemptionPolicy"), str) else None
            )
        else:
            priority, preemption = 0, "PreemptLowerPriority"
    else:
        pc = lookup("PriorityClass", "", pc_name)
        if isinstance(pc, dict):
            priority = _i(pc.get("value"))
            preemption = pc.get("preemptionPolicy") if isinstance(pc.get("preemptionPolicy"), str) else None
        elif pc_name in SYSTEM_PRIORITY_CLASSES:
            priority, preemption = SYSTEM_PRIORITY_CLASSES[pc_name], "PreemptLowerPriority"
        else:
            raise _pod_forbidden(pod, f"no PriorityClass with name {pc_name} was found")
    given = spec.get("priority")
    if isinstance(given, int) and not isinstance(given, bool) and given != priority:
        raise _pod_forbidden(
            pod,
            f"the integer value of priority ({given}) must not be provided in pod spec; priority admission "
            f"controller computed {priority} from the given PriorityClass name",
        )
    spec["priority"] = priority
    if preemption is not None:
        given_pp = spec.get("preemptionPolicy")
        if isinstance(given_pp, str) and given_pp != preemption:
            raise _pod_forbidden(
                pod,
                f"the string value of PreemptionPolicy ({given_pp}) must not be provided in pod spec; "
                f"priority admission controller computed {preemption} from the given PriorityClass name",
            )
        spec["preemptionPolicy"] = preemption


def _is_default_class(obj: Any) -> bool:
    ann = _d(_meta(_d(obj)).get("annotations"))
    return (
        ann.get(DEFAULT_STORAGE_CLASS_ANNOTATION) == "true"
        or ann.get(BETA_DEFAULT_STORAGE_CLASS_ANNOTATION) == "true"
    )


def _admit_pvc(obj: JSON, list_objects: ObjectLister | None) -> None:
    """StorageObjectInUseProtection (finalizer) and DefaultStorageClass."""
    _add_finalizer(obj, PVC_PROTECTION_FINALIZER)
    spec = obj.get("spec")
    if not isinstance(spec, dict) or list_objects is None:
        return
    if spec.get("storageClassName") is not None:
        return
    if BETA_STORAGE_CLASS_ANNOTATION in _d(_meta(obj).get("annotations")):
        return
    defaults = [sc for sc in list_objects("StorageClass", "") if _is_default_class(sc)]
    if not defaults:
        return
    # The newest default class wins (then the name), as GetDefaultClass sorts them.
    defaults.sort(
        key=lambda sc: (_s(_meta(sc).get("creationTimestamp")), _s(_meta(sc).get("name"))), reverse=True
    )
    spec["storageClassName"] = _s(_meta(defaults[0]).get("name"))


def _set_annotation(obj: JSON, key: str, value: str) -> None:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        return
    ann = md.get("annotations")
    if ann is None:
        md["annotations"] = {key: value}
    elif isinstance(ann, dict):
        ann[key] = value


def _add_finalizer(obj: JSON, finalizer: str) -> None:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        return
    fins = md.get("finalizers")
    if fins is None:
        md["finalizers"] = [finalizer]
    elif isinstance(fins, list) and finalizer not in fins:
        fins.append(finalizer)


def _admit_ingress(obj: JSON, list_objects: ObjectLister | None) -> None:
    """DefaultIngressClass: an Ingress without a class gets the default IngressClass."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or list_objects is None or spec.get("ingressClassName") is not None:
        return
    if "kubernetes.io/ingress.class" in _d(_meta(obj).get("annotations")):
        return
    defaults = [
        c
        for c in list_objects("IngressClass", "")
        if _d(_meta(_d(c)).get("annotations")).get("ingressclass.kubernetes.io/is-default-class") == "true"
    ]
    if defaults:
        defaults.sort(
            key=lambda c: (_s(_meta(c).get("creationTimestamp")), _s(_meta(c).get("name"))), reverse=True
        )
        spec["ingressClassName"] = _s(_meta(defaults[0]).get("name"))


def admit_create(
    obj: dict[str, Any],
    group: str,
    version: str,
    kind: str,
    lookup: Lookup,
    *,
    namespace: str | None = None,
    list_objects: ObjectLister | None = None,
) -> None:
    """Run the mutating and validating admission plugins a default kube-apiserver 1.32 enables, on
    a create of `obj` (already defaulted by `defaults.apply_defaults`).

    Pods: ServiceAccount (serviceAccountName/serviceAccount "default", the `kube-api-access-xxxxx`
    projected token volume mounted read-only in every init and regular container unless
    `automountServiceAccountToken: false` on the pod or its SA, imagePullSecrets from the SA),
    DefaultTolerationSeconds and Priority. PVCs: the `kubernetes.io/pvc-protection` finalizer and the
    default StorageClass. PVs: `kubernetes.io/pv-protection`. Ingresses: the default IngressClass.
    DaemonSets: the `deprecated.daemonset.template.generation: "1"` annotation.

    `lookup(kind, namespace, name)` reads stored objects (ServiceAccount, PriorityClass);
    `list_objects(kind, namespace)` (optional) lists them, for the global-default PriorityClass, the
    default StorageClass and IngressClass. `namespace` defaults to `metadata.namespace`.
    Raises `StatusError` 403 Forbidden with the plugin's message.
    """
    if not isinstance(obj, dict):
        return
    if group == "" and kind == "Pod":
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return
        ns = namespace if namespace is not None else _s(_meta(obj).get("namespace"))
        _admit_service_account(obj, spec, ns, lookup)
        if _s(spec.get("serviceAccountName")):
            # v1 conversion mirrors the name into the deprecated field.
            spec["serviceAccount"] = spec["serviceAccountName"]
        _admit_priority(obj, spec, lookup, list_objects)
        _admit_default_tolerations(spec)
    elif group == "" and kind == "PersistentVolumeClaim":
        _admit_pvc(obj, list_objects)
        # VolumeAttributesClass is beta and off in 1.32: the strategy drops the field.
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.pop("volumeAttributesClassName", None)
    elif group == "apps" and kind == "DaemonSet":
        # PrepareForCreate sets templateGeneration 1; apps/v1 keeps it in this annotation.
        _set_annotation(obj, DS_TEMPLATE_GENERATION, "1")
    elif group == "" and kind == "PersistentVolume":
        _add_finalizer(obj, PV_PROTECTION_FINALIZER)
    elif group == "networking.k8s.io" and kind == "Ingress":
        _admit_ingress(obj, list_objects)
    elif group == "scheduling.k8s.io" and kind == "PriorityClass":
        _admit_priority_class(obj, list_objects)


def _admit_priority_class(obj: JSON, list_objects: ObjectLister | None, old: JSON | None = None) -> None:
    """The Priority plugin's validatePriorityClass: one global default at most (403 otherwise)."""
    if obj.get("globalDefault") is not True or list_objects is None:
        return
    name = _s(_meta(obj).get("name"))
    defaults = [pc for pc in list_objects("PriorityClass", "") if _d(pc).get("globalDefault") is True]
    if not defaults:
        return
    current = min(defaults, key=lambda pc: _i(pc.get("value")))  # the lowest value wins a race
    current_name = _s(_meta(current).get("name"))
    if old is None or current_name != name:
        raise forbidden(
            "priorityclasses",
            "scheduling.k8s.io",
            name,
            f"PriorityClass {current_name} is already marked as default. Only one default can exist",
        )


# ---------------------------------------------------------------------------- update
def _needs_cluster_ip(spec: JSON) -> bool:
    return spec.get("type") != "ExternalName"


def _needs_node_port(spec: JSON) -> bool:
    stype = spec.get("type")
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False:
        return False
    return stype in ("NodePort", "LoadBalancer")


def _needs_hc_node_port(spec: JSON) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _admit_service_update(new: JSON, old: JSON) -> None:
    """The Service REST update hooks: patchAllocatedValues, NormalizeClusterIPs and the strategy's
    dropTypeDependentFields, so a PUT without the allocated values keeps them."""
    nspec, ospec = new.get("spec"), _d(old.get("spec"))
    if not isinstance(nspec, dict):
        return
    # dropTypeDependentFields (PrepareForUpdate) on what the client sent.
    if _needs_cluster_ip(ospec) and not _needs_cluster_ip(nspec):
        if _cluster_ips(nspec) == _cluster_ips(ospec) and nspec.get("clusterIP") == ospec.get("clusterIP"):
            nspec.pop("clusterIP", None)
            nspec.pop("clusterIPs", None)
        if _l(nspec.get("ipFamilies")) == _l(ospec.get("ipFamilies")):
            nspec.pop("ipFamilies", None)
        if nspec.get("ipFamilyPolicy") == ospec.get("ipFamilyPolicy"):
            nspec.pop("ipFamilyPolicy", None)
    if _needs_node_port(ospec) and not _needs_node_port(nspec):
        same = [_i(p.get("nodePort")) for p in _ld(nspec.get("ports"))] == [
            _i(p.get("nodePort")) for p in _ld(ospec.get("ports"))
        ]
        if same:
            for p in _ld(nspec.get("ports")):
                p.pop("nodePort", None)
    if (
        _needs_hc_node_port(ospec)
        and not _needs_hc_node_port(nspec)
        and nspec.get("healthCheckNodePort") == ospec.get("healthCheckNodePort")
    ):
        nspec.pop("healthCheckNodePort", None)
    if ospec.get("type") == "LoadBalancer" and nspec.get("type") != "LoadBalancer":
        a, b = nspec.get("allocateLoadBalancerNodePorts"), ospec.get("allocateLoadBalancerNodePorts")
        if a is not None and b is not None and a == b:
            nspec.pop("allocateLoadBalancerNodePorts", None)
        if nspec.get("loadBalancerClass") == ospec.get("loadBalancerClass"):
            nspec.pop("loadBalancerClass", None)
    o_ext = ospec.get("type") in ("LoadBalancer", "NodePort") or (
        ospec.get("type") == "ClusterIP" and bool(ospec.get("externalIPs"))
    )
    n_ext = nspec.get("type") in ("LoadBalancer", "NodePort") or (
        nspec.get("type") == "ClusterIP" and bool(nspec.get("externalIPs"))
    )
    if o_ext and not n_ext and nspec.get("externalTrafficPolicy") == ospec.get("externalTrafficPolicy"):
        nspec.pop("externalTrafficPolicy", None)
    # patchAllocatedValues (beginUpdate).
    if _needs_cluster_ip(ospec) and _needs_cluster_ip(nspec):
        if not _s(nspec.get("clusterIP")) and ospec.get("clusterIP") is not None:
            nspec["clusterIP"] = ospec["clusterIP"]
        if not _l(nspec.get("clusterIPs")) and _l(ospec.get("clusterIPs")):
            nspec["clusterIPs"] = list(ospec["clusterIPs"])
        # The allocator keeps the families and policy a client left out (issue 4 owns the rest).
        if not _l(nspec.get("ipFamilies")) and _l(ospec.get("ipFamilies")):
            nspec["ipFamilies"] = list(ospec["ipFamilies"])
        if nspec.get("ipFamilyPolicy") is None and ospec.get("ipFamilyPolicy") is not None:
            nspec["ipFamilyPolicy"] = ospec["ipFamilyPolicy"]
    if _needs_node_port(ospec) and _needs_node_port(nspec):
        old_ports = _ld(ospec.get("ports"))
        new_ports = _ld(nspec.get("ports"))
        used = {_i(p.get("nodePort")) for p in old_ports} & {_i(p.get("nodePort")) for p in new_ports}
        by_name = {_s(p.get("name")): _i(p.get("nodePort")) for p in old_ports}
        for p in new_ports:
            if not _i(p.get("nodePort")):
                value = by_name.get(_s(p.get("name")), 0)
                if value and value not in used:
                    p["nodePort"] = value
    if (
        _needs_hc_node_port(ospec)
        and _needs_hc_node_port(nspec)
        and not _i(nspec.get("healthCheckNodePort"))
        and ospec.get("healthCheckNodePort") is not None
    ):
        nspec["healthCheckNodePort"] = ospec["healthCheckNodePort"]
    # NormalizeClusterIPs for an update.
    oips, nips = _cluster_ips(ospec), _cluster_ips(nspec)
    if oips and not nips and ospec.get("clusterIP") == nspec.get("clusterIP"):
        nspec["clusterIPs"] = list(ospec.get("clusterIPs") or [])
    ocip, ncip = _s(ospec.get("clusterIP")), _s(nspec.get("clusterIP"))
    if ocip != ncip:
        same = _cluster_ips(nspec) == oips
        if ocip and not ncip:
            if same:
                nspec.pop("clusterIPs", None)
        elif same:
            nspec["clusterIPs"] = [ncip]


def admit_update(
    old: dict[str, Any],
    new: dict[str, Any],
    group: str,
    version: str,
    kind: str,
    *,
    lookup: Lookup | None = None,
    list_objects: ObjectLister | None = None,
) -> None:
    """Mutations kube-apiserver applies to an update before validating it.

    Pods: DefaultTolerationSeconds (runs on update too) and Priority's carry-over of `priority` and
    `preemptionPolicy`. Services: the allocated ClusterIPs, families, NodePorts and health-check
    port are kept when the client left them out, and type-dependent fields are dropped when the
    type changes (clusterIPs when switching to ExternalName, nodePorts to ClusterIP, ...).
    PersistentVolumeClaims: PersistentVolumeClaimResize (needs `lookup` for the StorageClass);
    raises 403 when the claim may not grow. DaemonSets: the `deprecated.daemonset.template.generation`
    annotation is bumped when the template changes.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    if group == "" and kind == "Pod":
        nspec, ospec = new.get("spec"), _d(old.get("spec"))
        if not isinstance(nspec, dict):
            return
        _admit_default_tolerations(nspec)
        for key in ("priority", "preemptionPolicy"):
            if nspec.get(key) is None and ospec.get(key) is not None:
                nspec[key] = ospec[key]
    elif group == "" and kind == "Service":
        _admit_service_update(new, old)
    elif group == "" and kind == "PersistentVolumeClaim":
        nspec = new.get("spec")
        if isinstance(nspec, dict) and _d(old.get("spec")).get("volumeAttributesClassName") is None:
            nspec.pop("volumeAttributesClassName", None)
        if lookup is not None:
            _admit_pvc_resize(new, old, lookup)
    elif group == "apps" and kind == "DaemonSet":
        generation = _s(_d(_meta(old).get("annotations")).get(DS_TEMPLATE_GENERATION))
        value = int(generation) if generation.isascii() and generation.isdigit() else 0
        if _norm(_d(new.get("spec")).get("template")) != _norm(_d(old.get("spec")).get("template")):
            value += 1
        _set_annotation(new, DS_TEMPLATE_GENERATION, str(value))
    elif group == "scheduling.k8s.io" and kind == "PriorityClass":
        _admit_priority_class(new, list_objects, old)


def _admit_pvc_resize(new: JSON, old: JSON, lookup: Lookup) -> None:
    """PersistentVolumeClaimResize: only bound claims of expandable storage classes may grow."""
    nreq = quantity_value(_d(_d(_d(new.get("spec")).get("resources")).get("requests")).get("storage"))
    oreq = quantity_value(_d(_d(_d(old.get("spec")).get("resources")).get("requests")).get("storage"))
    if nreq is None or oreq is None or nreq <= oreq:
        return
    if _d(old.get("status")).get("phase") != "Bound":
        return  # spec validation reports the immutable spec
    sc_name = _s(_d(old.get("spec")).get("storageClassName"))
    sc = lookup("StorageClass", "", sc_name) if sc_name else None
    if not isinstance(sc, dict) or sc.get("allowVolumeExpansion") is not True:
        raise forbidden(
            "persistentvolumeclaims",
            "",
            _s(_meta(new).get("name")),
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc "
            "must support resize",
        )


def admission_reads(
    obj: dict[str, Any],
    group: str,
    kind: str,
    *,
    old: dict[str, Any] | None = None,
    namespace: str | None = None,
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """What `admit_create` (or, with `old`, `admit_update`) will read, so that an async caller can
    fetch it first and pass dict-backed `lookup`/`list_objects` callables:
    `([(kind, namespace, name), ...], [(kind, namespace), ...])`."""
    gets: list[tuple[str, str, str]] = []
    lists: list[tuple[str, str]] = []
    if not isinstance(obj, dict):
        return gets, lists
    spec = _d(obj.get("spec"))
    if group == "scheduling.k8s.io" and kind == "PriorityClass" and obj.get("globalDefault") is True:
        lists.append(("PriorityClass", ""))
    if old is not None:
        if group == "" and kind == "PersistentVolumeClaim":
            sc = _s(_d(old.get("spec")).get("storageClassName"))
            if sc:
                gets.append(("StorageClass", "", sc))
        return gets, lists
    if group == "" and kind == "Pod":
        ns = namespace if namespace is not None else _s(_meta(obj).get("namespace"))
        sa = _s(spec.get("serviceAccountName")) or _s(spec.get("serviceAccount")) or "default"
        gets.append(("ServiceAccount", ns, sa))
        pc = _s(spec.get("priorityClassName"))
        if pc:
            gets.append(("PriorityClass", "", pc))
        else:
            lists.append(("PriorityClass", ""))
    elif group == "" and kind == "PersistentVolumeClaim" and spec.get("storageClassName") is None:
        lists.append(("StorageClass", ""))
    elif group == "networking.k8s.io" and kind == "Ingress" and spec.get("ingressClassName") is None:
        lists.append(("IngressClass", ""))
    return gets, lists
