"""Defaulting of built-in objects as kube-apiserver 1.32 does it when it decodes a request body.

This is the Python counterpart of the `SetDefaults_*` functions in kubernetes' `pkg/apis/*/v1*/
defaults.go` and of the generated `zz_generated.defaults.go` walkers that call them on every nested
struct (pod templates inside workloads, volumes, containers, probes, ...), plus the two effects of
Go's JSON encoding that show up in every stored object:

* `resource.Quantity` values are re-serialised in canonical form (`"0.5"` -> `"500m"`,
  `1.5Gi` -> `1536Mi`), and ResourceLists are rounded up to milli precision
  (`SetDefaults_ResourceList`); see `canonical_quantity`.
* non-pointer struct fields are always emitted: `resources: {}` in containers and
  `metadata: {creationTimestamp: null}` in embedded templates (1.32 still prints the null time);
  the pipeline adds every other value field of the Go types after defaulting (`govalues.py`).

kube-apiserver also applies these defaults when it reads an object back from etcd, so the object a
client sees is "defaulted after the strategy ran" (a PVC's `status.phase: Pending`, a Job's
metadata labels copied from the generated template labels). Callers should therefore run
`apply_defaults` on the decoded body *and* once more after the registry strategy prepared the
object for storage; the function is idempotent.

Not done here (other owners): namespace label/finalizer and Secret `stringData` (strategy.py), the
Service ClusterIP/ipFamilies/nodePort allocation (issue 4), admission plugins (admission.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

__all__ = [
    "apply_defaults",
    "canonical_quantity",
    "image_pull_policy",
    "initial_status",
    "parse_quantity",
    "quantity_value",
]

JSON = dict[str, Any]

TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_GRACE_PERIOD = 30
RBAC_GROUP = "rbac.authorization.k8s.io"


# ============================================================================ Quantity
# k8s.io/apimachinery/pkg/api/resource: ParseQuantity, CanonicalizeBytes, RoundUp.
_DEC_SUFFIX_EXP = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_EXP_SUFFIX = {v: k for k, v in _DEC_SUFFIX_EXP.items()}
_BIN_SUFFIX_EXP = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_EXP_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = Fraction(1, 10**9)
_MILLI = Fraction(1, 1000)
_MAX_INT64 = 2**63 - 1
_BINARY, _DECIMAL_SI, _DECIMAL_EXP = "BinarySI", "DecimalSI", "DecimalExponent"
# Bounds for exact arithmetic (Go's inf.Dec has none; these only skip absurd inputs).
_MAX_DIGITS = 1000
_MAX_EXPONENT = 1000


class _Quantity:
    """A parsed Quantity: exact value, Go format, the int64 fast-path scale and the kept string."""

    __slots__ = ("fast_scale", "fmt", "keep", "value")

    def __init__(self, value: Fraction, fmt: str, fast_scale: int | None, keep: str) -> None:
        self.value = value
        self.fmt = fmt
        self.fast_scale = fast_scale  # int64Amount scale, None for the inf.Dec representation
        self.keep = keep  # the original string when Go keeps it (already canonical), else ""


def _split_quantity(s: str) -> tuple[bool, str, str, str] | None:
    """parseQuantityString: (positive, numerator, denominator, suffix) or None (ErrFormatWrong)."""
    pos, end, positive = 0, len(s), True
    if end and s[0] in "+-":
        positive = s[0] == "+"
        pos = 1
    while pos < end and s[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and s[pos].isascii() and s[pos].isdigit():
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos].isascii() and s[pos].isdigit():
            pos += 1
        denom = s[start:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos].isascii() and s[pos].isdigit():
        pos += 1
    if pos < end:
        return None
    return positive, num, denom, s[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int, str] | None:
    """(base, exponent, format) for a suffix, as quantitySuffixer.interpret."""
    if suffix in _DEC_SUFFIX_EXP:
        return 10, _DEC_SUFFIX_EXP[suffix], _DECIMAL_SI
    if suffix in _BIN_SUFFIX_EXP:
        return 2, _BIN_SUFFIX_EXP[suffix], _BINARY
    if len(suffix) > 1 and suffix[0] in "eE":
        rest = suffix[1:]
        digits = rest[1:] if rest[0] in "+-" else rest
        if digits.isascii() and digits.isdigit():
            exp = int(rest)
            if -(2**31) <= exp < 2**31:
                return 10, exp, _DECIMAL_EXP
    return None


def _round_away(v: Fraction, step: Fraction) -> Fraction:
    """Round |v| up to a multiple of `step`, keeping the sign (inf.RoundUp: away from zero)."""
    q = abs(v) / step
    n = q.numerator // q.denominator
    if n * q.denominator != q.numerator:
        n += 1
    r = n * step
    return r if v >= 0 else -r


def parse_quantity(s: str) -> _Quantity | None:
    """ParseQuantity; None when the string is not a quantity."""
    s = s.strip()
    if not s:
        return None
    parts = _split_quantity(s)
    if parts is None:
        return None
    positive, num, denom, suffix = parts
    interp = _interpret_suffix(suffix)
    if interp is None:
        return None
    base, exponent, fmt = interp
    if len(num) + len(denom) > _MAX_DIGITS or abs(exponent) > _MAX_EXPONENT:
        return None  # far outside any real quantity; left as written rather than computed
    sign = 1 if positive else -1
    # int64 fast path (the representation decides whether Go keeps the original string).
    if fmt in (_DECIMAL_SI, _DECIMAL_EXP):
        precision = 18 - (len(num) + len(denom))
        scale = exponent - len(denom)
        if precision >= 0 and scale >= -9:
            shifted = num + denom
            mant = int(shifted)
            if mant <= _MAX_INT64:
                value = Fraction(sign * mant) * (Fraction(10) ** scale)
                keep = ""
                if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                    keep = s
                return _Quantity(value, fmt, scale, keep)
    elif not denom:
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        if precision >= 0:
            mant = int(num)
            result = mant << exponent
            if result <= _MAX_INT64:
                keep = s if mant & 0x07 else ""
                return _Quantity(Fraction(sign * result), fmt, 0, keep)
    # inf.Dec path: exact value, rounded up to nano, binary capped at int64 max.
    amount = Fraction(int(num + denom)) / (10 ** len(denom))
    amount = amount * (Fraction(10) ** exponent) if base == 10 else amount * (2**exponent)
    if amount != 0:
        amount = _round_away(amount, _NANO)
    if fmt == _BINARY and amount > _MAX_INT64:
        amount = Fraction(_MAX_INT64)
    if fmt == _BINARY and 0 < amount < 1:
        fmt = _DECIMAL_SI
    return _Quantity(sign * amount, fmt, None, "")


def _canonical(q: _Quantity) -> str:
    """Quantity.String(): the kept string, else CanonicalizeBytes."""
    if q.keep:
        return q.keep
    v = q.value
    if v == 0:
        return "0"
    fmt = q.fmt
    if fmt == _BINARY and (-1024 < v < 1024 or v.denominator != 1):
        fmt = _DECIMAL_SI
    sign = "-" if v < 0 else ""
    a = abs(v)
    if fmt == _BINARY:
        n, e = a.numerator, 0
        while n % 1024 == 0:
            n //= 1024
            e += 1
        return f"{sign}{n}{_BIN_EXP_SUFFIX.get(e, '')}"
    # base 10: mantissa * 10**exp with the exponent lowered to a multiple of 3
    exp = 0
    while a.denominator != 1:
        a *= 10
        exp -= 1
    m = a.numerator
    while m % 10 == 0:
        m //= 10
        exp += 1
    while exp % 3:
        m *= 10
        exp -= 1
    if fmt == _DECIMAL_EXP:
        return f"{sign}{m}" if exp == 0 else f"{sign}{m}e{exp}"
    suffix = _DEC_EXP_SUFFIX.get(exp)
    if suffix is None:  # beyond E: fall back to exponent notation
        return f"{sign}{m}e{exp}"
    return f"{sign}{m}{suffix}"


def _quantity_text(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else None
    return None


def canonical_quantity(v: Any, *, round_milli: bool = False) -> Any:
    """The string kube-apiserver stores for a Quantity written as `v` (a string or JSON number).

    `round_milli` applies `SetDefaults_ResourceList` (round up to milli precision), as for
    container requests/limits. Values that are not quantities are returned unchanged.
    """
    text = _quantity_text(v)
    if text is None:
        return v
    q = parse_quantity(text)
    if q is None:
        return v
    if round_milli and not (q.fast_scale is not None and q.fast_scale >= -3):
        # RoundUp(-3): the int64 form keeps its string down to milli scale, anything finer is
        # rounded up (away from zero) and re-serialised.
        q = _Quantity(_round_away(q.value, _MILLI), q.fmt, None, "")
    return _canonical(q)


def quantity_value(v: Any) -> Fraction | None:
    """The exact numeric value of a Quantity (string or number), or None."""
    text = _quantity_text(v)
    if text is None:
        return None
    q = parse_quantity(text)
    return None if q is None else q.value


def _default_resource_list(parent: Any, key: str) -> None:
    rl = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(rl, dict):
        for k, v in rl.items():
            rl[k] = canonical_quantity(v, round_milli=True)


# ============================================================================ image references
# github.com/distribution/reference (ParseNormalizedNamed) as used by pkg/util/parsers.ParseImageName.
_ALNUM = r"[a-z0-9]+"
_SEP = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEP + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|" + _IPV6 + r")(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_REFERENCE_RE = re.compile(r"(" + _NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?", re.ASCII)
_HEX64_RE = re.compile(r"[a-f0-9]{64}")
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}


def _image_tag(image: str) -> str:
    """The tag ParseImageName finds: "" when the image does not parse or has only a digest."""
    if _HEX64_RE.fullmatch(image):
        return ""
    m = _REFERENCE_RE.fullmatch(image)
    if m is None:
        return ""
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    if len(name) > 255:
        return ""
    if digest:
        algo, _, hexpart = digest.partition(":")
        want = _DIGEST_HEX.get(algo)
        if want is None or len(hexpart) != want or hexpart != hexpart.lower():
            return ""
    if tag:
        return tag
    return "" if digest else "latest"


def image_pull_policy(image: Any) -> str:
    """SetDefaults_Container's rule: `Always` for a `latest` (or missing) tag, else `IfNotPresent`."""
    return "Always" if isinstance(image, str) and _image_tag(image) == "latest" else "IfNotPresent"


# ============================================================================ helpers
def _dict(parent: Any, key: str) -> JSON | None:
    if not isinstance(parent, dict):
        return None
    v = parent.get(key)
    return v if isinstance(v, dict) else None


def _dicts(parent: Any, key: str) -> list[JSON]:
    if not isinstance(parent, dict):
        return []
    v = parent.get(key)
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _ensure(parent: JSON, key: str) -> JSON | None:
    """parent[key] as a dict, created when absent or null; None when it holds something else."""
    v = parent.get(key)
    if v is None:
        v = parent[key] = {}
    return v if isinstance(v, dict) else None


def _unset(d: JSON, key: str) -> bool:
    """Go's zero-value test for optional scalars: absent, null or empty string."""
    v = d.get(key)
    return v is None or v == ""


def _set_default(d: JSON, key: str, value: Any) -> None:
    if _unset(d, key):
        d[key] = value


def _set_if_absent(d: JSON, key: str, value: Any) -> None:
    """For pointer fields: only nil (absent or null) gets the default."""
    if d.get(key) is None:
        d[key] = value


def _zero_int(d: JSON, key: str) -> bool:
    v = d.get(key)
    return v is None or v == 0


def _template_meta(tmpl: JSON) -> None:
    """An embedded ObjectMeta is a non-pointer struct: Go 1.32 emits `creationTimestamp: null`."""
    md = tmpl.get("metadata")
    if md is None:
        tmpl["metadata"] = {"creationTimestamp": None}
    elif isinstance(md, dict) and "creationTimestamp" not in md:
        md["creationTimestamp"] = None


# ============================================================================ core/v1 pieces
def _default_http_get(action: Any) -> None:
    if isinstance(action, dict):
        _set_default(action, "path", "/")
        _set_default(action, "scheme", "HTTP")


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if _zero_int(probe, key):
            probe[key] = value
    _default_http_get(probe.get("httpGet"))
    grpc = _dict(probe, "grpc")
    if grpc is not None:
        _set_if_absent(grpc, "service", "")  # +default="" (GRPCAction.Service)


def _default_field_ref(ref: Any) -> None:
    if isinstance(ref, dict):
        _set_default(ref, "apiVersion", "v1")


def _default_container(c: JSON) -> None:
    """SetDefaults_Container plus the generated walk over ports, env, resources, probes, lifecycle."""
    if _unset(c, "imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(c.get("image"))
    if "resources" not in c or c.get("resources") is None:
        c["resources"] = {}
    _set_default(c, "terminationMessagePath", TERMINATION_MESSAGE_PATH)
    _set_default(c, "terminationMessagePolicy", "File")
    for port in _dicts(c, "ports"):
        _set_default(port, "protocol", "TCP")
    for env in _dicts(c, "env"):
        vf = _dict(env, "valueFrom")
        if vf is not None:
            _default_field_ref(vf.get("fieldRef"))
    res = _dict(c, "resources")
    if res is not None:
        _default_resource_list(res, "limits")
        _default_resource_list(res, "requests")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))
    lifecycle = _dict(c, "lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            h = _dict(lifecycle, hook)
            if h is not None:
                _default_http_get(h.get("httpGet"))


_VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def _default_pvc_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    _set_if_absent(spec, "volumeMode", "Filesystem")
    _set_if_absent(spec, "resources", {})  # non-pointer struct: always encoded
    res = _dict(spec, "resources")
    if res is not None:
        _default_resource_list(res, "limits")
        _default_resource_list(res, "requests")


_VOLUME_SOURCE_KEYS = frozenset(_VOLUME_SOURCES)


def _default_volume(vol: JSON) -> None:
    present = _VOLUME_SOURCE_KEYS.intersection(vol)  # only the sources the volume has need a look
    if not any(vol[k] is not None for k in present):
        vol["emptyDir"] = {}
        present = {"emptyDir"}
    for key in present:
        src = vol[key]
        if not isinstance(src, dict):
            continue
        if key in _DEFAULT_MODE_SOURCES:
            _set_if_absent(src, "defaultMode", 420)
        if key == "hostPath":
            _set_if_absent(src, "type", "")
        elif key == "downwardAPI":
            for item in _dicts(src, "items"):
                _default_field_ref(item.get("fieldRef"))
        elif key == "projected":
            for source in _dicts(src, "sources"):
                for item in _dicts(_dict(source, "downwardAPI"), "items"):
                    _default_field_ref(item.get("fieldRef"))
                sat = _dict(source, "serviceAccountToken")
                if sat is not None:
                    _set_if_absent(sat, "expirationSeconds", 3600)
        elif key == "ephemeral":
            tmpl = _dict(src, "volumeClaimTemplate")
            if tmpl is not None:
                _template_meta(tmpl)
                _default_pvc_spec(tmpl.get("spec"))
        elif key == "emptyDir" and "sizeLimit" in src:
            src["sizeLimit"] = canonical_quantity(src["sizeLimit"])


_DEFAULT_MODE_SOURCES = frozenset(("secret", "configMap", "downwardAPI", "projected"))


def _default_pod_spec(spec: JSON) -> None:
    """SetDefaults_PodSpec and the generated walk (shared by Pods and every pod template)."""
    # v1 <-> internal conversion: `serviceAccount` is the deprecated alias of serviceAccountName.
    sa = spec.get("serviceAccountName")
    if not sa and isinstance(spec.get("serviceAccount"), str) and spec["serviceAccount"]:
        sa = spec["serviceAccountName"] = spec["serviceAccount"]
    if isinstance(sa, str) and sa:
        spec["serviceAccount"] = sa
    _set_default(spec, "dnsPolicy", "ClusterFirst")
    _set_default(spec, "restartPolicy", "Always")
    _set_if_absent(spec, "securityContext", {})
    _set_if_absent(spec, "terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
    _set_default(spec, "schedulerName", DEFAULT_SCHEDULER)
    for vol in _dicts(spec, "volumes"):
        _default_volume(vol)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _dicts(spec, key):
            _default_container(c)
    _default_resource_list(spec, "overhead")


def _default_pod_template(tmpl: Any) -> None:
    if isinstance(tmpl, dict):
        _template_meta(tmpl)
        spec = _ensure(tmpl, "spec")
        if spec is not None:
            _default_pod_spec(spec)


def _default_pod(pod: JSON) -> None:
    spec = _ensure(pod, "spec")
    if spec is None:
        return
    # SetDefaults_Pod runs before SetDefaults_PodSpec: requests from limits (Pods only).
    for key in ("containers", "initContainers"):
        for c in _dicts(spec, key):
            res = _dict(c, "resources")
            limits = _dict(res, "limits")
            if res is None or limits is None:
                continue
            requests = res.get("requests")
            if requests is None:
                requests = res["requests"] = {}
            if isinstance(requests, dict):
                for k, v in limits.items():
                    if k not in requests:
                        requests[k] = v
    _set_if_absent(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in _dicts(spec, key):
                for port in _dicts(c, "ports"):
                    cp = port.get("containerPort")
                    if _zero_int(port, "hostPort") and cp:
                        port["hostPort"] = cp
    _default_pod_spec(spec)


def _default_pod_template_obj(obj: JSON) -> None:
    _default_pod_template(obj.get("template"))


def _default_replication_controller(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    tmpl = _dict(spec, "template")
    labels = _dict(tmpl, "metadata")
    labels = labels.get("labels") if labels is not None else None
    if isinstance(labels, dict) and labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        md = obj.get("metadata")
        if isinstance(md, dict) and not md.get("labels"):
            md["labels"] = dict(labels)
    _set_if_absent(spec, "replicas", 1)
    if tmpl is not None:
        _default_pod_template(tmpl)


def _default_service(obj: JSON) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    _set_default(spec, "sessionAffinity", "None")
    if spec.get("sessionAffinity") == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec.get("sessionAffinity") == "ClientIP":
        cfg = _dict(spec, "sessionAffinityConfig")
        cip = _dict(cfg, "clientIP")
        if cip is None or cip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    _set_default(spec, "type", "ClusterIP")
    for port in _dicts(spec, "ports"):
        _set_default(port, "protocol", "TCP")
        tp = port.get("targetPort")
        if tp is None or tp == 0 or tp == "":
            port["targetPort"] = port.get("port", 0)
    stype = spec.get("type")
    externally = stype in ("LoadBalancer", "NodePort") or (
        stype == "ClusterIP" and bool(spec.get("externalIPs"))
    )
    if externally:
        _set_default(spec, "externalTrafficPolicy", "Cluster")
    if spec.get("internalTrafficPolicy") is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec["internalTrafficPolicy"] = "Cluster"
    if stype == "LoadBalancer":
        _set_if_absent(spec, "allocateLoadBalancerNodePorts", True)
        lb = _dict(_dict(obj, "status"), "loadBalancer")
        for ing in _dicts(lb, "ingress"):
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def _default_secret(obj: JSON) -> None:
    _set_default(obj, "type", "Opaque")


def _default_pvc(obj: JSON) -> None:
    status = _ensure(obj, "status")
    if status is not None:
        _set_default(status, "phase", "Pending")
        _default_resource_list(status, "capacity")
        _default_resource_list(status, "allocatedResources")
    spec = _ensure(obj, "spec")
    if spec is not None:
        _default_pvc_spec(spec)


def _default_pv(obj: JSON) -> None:
    status = _ensure(obj, "status")
    if status is not None:
        _set_default(status, "phase", "Pending")
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_default(spec, "persistentVolumeReclaimPolicy", "Retain")
    _set_if_absent(spec, "volumeMode", "Filesystem")
    _default_resource_list(spec, "capacity")
    hp = _dict(spec, "hostPath")
    if hp is not None:
        _set_if_absent(hp, "type", "")


def _default_endpoints(obj: JSON) -> None:
    for subset in _dicts(obj, "subsets"):
        for port in _dicts(subset, "ports"):
            _set_default(port, "protocol", "TCP")


def _default_node(obj: JSON) -> None:
    status = _dict(obj, "status")
    if status is None:
        return
    if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
    _default_resource_list(status, "capacity")
    _default_resource_list(status, "allocatable")


def _default_limit_range(obj: JSON) -> None:
    for item in _dicts(_dict(obj, "spec"), "limits"):
        if item.get("type") == "Container":
            default = _ensure(item, "default")
            default_request = _ensure(item, "defaultRequest")
            if default is not None and default_request is not None:
                for src, dst in (("max", default), ("default", default_request), ("min", default_request)):
                    values = _dict(item, src) or {}
                    for k, v in values.items():
                        dst.setdefault(k, v)
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _default_resource_list(item, key)


def _default_resource_quota(obj: JSON) -> None:
    _default_resource_list(_dict(obj, "spec"), "hard")
    status = _dict(obj, "status")
    _default_resource_list(status, "hard")
    _default_resource_list(status, "used")


# ============================================================================ apps/v1
def _default_deployment(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_if_absent(spec, "replicas", 1)
    strategy = _ensure(spec, "strategy")
    if strategy is not None:
        _set_default(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            ru = _ensure(strategy, "rollingUpdate")
            if ru is not None:
                _set_if_absent(ru, "maxUnavailable", "25%")
                _set_if_absent(ru, "maxSurge", "25%")
    _set_if_absent(spec, "revisionHistoryLimit", 10)
    _set_if_absent(spec, "progressDeadlineSeconds", 600)
    _default_pod_template(_ensure(spec, "template"))


def _default_replica_set(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_if_absent(spec, "replicas", 1)
    _default_pod_template(_ensure(spec, "template"))


def _default_daemon_set(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    strategy = _ensure(spec, "updateStrategy")
    if strategy is not None:
        _set_default(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            ru = _ensure(strategy, "rollingUpdate")
            if ru is not None:
                _set_if_absent(ru, "maxUnavailable", 1)
                _set_if_absent(ru, "maxSurge", 0)
    _set_if_absent(spec, "revisionHistoryLimit", 10)
    _default_pod_template(_ensure(spec, "template"))


def _default_stateful_set(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_default(spec, "podManagementPolicy", "OrderedReady")
    strategy = _ensure(spec, "updateStrategy")
    if strategy is not None:
        if _unset(strategy, "type"):
            strategy["type"] = "RollingUpdate"
            _set_if_absent(strategy, "rollingUpdate", {})
        ru = _dict(strategy, "rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and ru is not None:
            _set_if_absent(ru, "partition", 0)
    policy = _ensure(spec, "persistentVolumeClaimRetentionPolicy")
    if policy is not None:
        _set_default(policy, "whenDeleted", "Retain")
        _set_default(policy, "whenScaled", "Retain")
    _set_if_absent(spec, "replicas", 1)
    _set_if_absent(spec, "revisionHistoryLimit", 10)
    _default_pod_template(_ensure(spec, "template"))
    for pvc in _dicts(spec, "volumeClaimTemplates"):
        # apps/v1 conversion sets the embedded TypeMeta; the PVC defaults apply to each template.
        pvc["apiVersion"] = "v1"
        pvc["kind"] = "PersistentVolumeClaim"
        _template_meta(pvc)
        _default_pvc(pvc)


# ============================================================================ batch/v1
def _default_job_spec_template(spec: JSON) -> None:
    _default_pod_template(_ensure(spec, "template"))
    for rule in _dicts(_dict(spec, "podFailurePolicy"), "rules"):
        for pattern in _dicts(rule, "onPodConditions"):
            _set_default(pattern, "status", "True")


def _default_job(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set_if_absent(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2**31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6
    tmpl_md = _dict(_dict(spec, "template"), "metadata")
    tmpl_labels = tmpl_md.get("labels") if tmpl_md is not None else None
    md = obj.get("metadata")
    if isinstance(tmpl_labels, dict) and tmpl_labels and isinstance(md, dict) and not md.get("labels"):
        md["labels"] = dict(tmpl_labels)
    _set_if_absent(spec, "completionMode", "NonIndexed")
    _set_if_absent(spec, "suspend", False)
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
        )
    _set_if_absent(spec, "manualSelector", False)
    _default_job_spec_template(spec)


def _default_cron_job(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_default(spec, "concurrencyPolicy", "Allow")
    _set_if_absent(spec, "suspend", False)
    _set_if_absent(spec, "successfulJobsHistoryLimit", 3)
    _set_if_absent(spec, "failedJobsHistoryLimit", 1)
    jt = _ensure(spec, "jobTemplate")
    if jt is not None:
        _template_meta(jt)
        jspec = _ensure(jt, "spec")
        if jspec is not None:
            _default_job_spec_template(jspec)


# ============================================================================ other groups
def _default_network_policy(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    spec.setdefault("podSelector", {})
    for direction in ("ingress", "egress"):
        for rule in _dicts(spec, direction):
            for port in _dicts(rule, "ports"):
                _set_if_absent(port, "protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def _default_ingress_class(obj: JSON) -> None:
    params = _dict(_dict(obj, "spec"), "parameters")
    if params is not None:
        _set_if_absent(params, "scope", "Cluster")


def _default_subjects(obj: JSON) -> None:
    for subject in _dicts(obj, "subjects"):
        if _unset(subject, "apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = RBAC_GROUP


def _default_role_binding(obj: JSON) -> None:
    ref = _dict(obj, "roleRef")
    if ref is not None:
        _set_default(ref, "apiGroup", RBAC_GROUP)
    _default_subjects(obj)


def _default_storage_class(obj: JSON) -> None:
    _set_if_absent(obj, "reclaimPolicy", "Delete")
    _set_if_absent(obj, "volumeBindingMode", "Immediate")


def _default_csi_driver(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_if_absent(spec, "attachRequired", True)
    _set_if_absent(spec, "podInfoOnMount", False)
    _set_if_absent(spec, "storageCapacity", False)
    _set_if_absent(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if not spec.get("volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    _set_if_absent(spec, "requiresRepublish", False)
    _set_if_absent(spec, "seLinuxMount", False)


def _default_volume_attachment(obj: JSON) -> None:
    inline = _dict(_dict(_dict(obj, "spec"), "source"), "inlineVolumeSpec")
    if inline is not None:
        _set_default(inline, "persistentVolumeReclaimPolicy", "Retain")
        _set_if_absent(inline, "volumeMode", "Filesystem")


def _default_priority_class(obj: JSON) -> None:
    _set_if_absent(obj, "preemptionPolicy", "PreemptLowerPriority")


def _default_endpoint_slice(obj: JSON) -> None:
    for port in _dicts(obj, "ports"):
        _set_if_absent(port, "name", "")
        _set_if_absent(port, "protocol", "TCP")


def _hpa_rules(rules: Any, defaults: JSON) -> JSON:
    if not isinstance(rules, dict):
        return {k: (list(v) if isinstance(v, list) else v) for k, v in defaults.items()}
    for k, v in defaults.items():
        if rules.get(k) is None:
            rules[k] = [dict(p) for p in v] if isinstance(v, list) else v
    return rules


_HPA_SCALE_UP = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_HPA_SCALE_DOWN = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


def _default_hpa_v2(obj: JSON) -> None:
    from vcluster.apiserver.hpaconversion import normalize_v2  # imports this module

    normalize_v2(obj)
    spec = _ensure(obj, "spec")
    if spec is None:
        return
    _set_if_absent(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]
    behavior = _dict(spec, "behavior")
    if behavior is not None:
        behavior["scaleUp"] = _hpa_rules(behavior.get("scaleUp"), _HPA_SCALE_UP)
        behavior["scaleDown"] = _hpa_rules(behavior.get("scaleDown"), _HPA_SCALE_DOWN)


def _default_hpa_v1(obj: JSON) -> None:
    spec = _ensure(obj, "spec")
    if spec is not None:
        _set_if_absent(spec, "minReplicas", 1)


def _default_webhooks(obj: JSON, mutating: bool) -> None:
    for hook in _dicts(obj, "webhooks"):
        _set_if_absent(hook, "failurePolicy", "Fail")
        _set_if_absent(hook, "matchPolicy", "Equivalent")
        _set_if_absent(hook, "namespaceSelector", {})
        _set_if_absent(hook, "objectSelector", {})
        _set_if_absent(hook, "timeoutSeconds", 10)
        if mutating:
            _set_if_absent(hook, "reinvocationPolicy", "Never")
        for rule in _dicts(hook, "rules"):
            _set_if_absent(rule, "scope", "*")
        svc = _dict(_dict(hook, "clientConfig"), "service")
        if svc is not None:
            _set_if_absent(svc, "port", 443)


def _default_apiservice(obj: JSON) -> None:
    """apiregistration/v1 SetDefaults_ServiceReference."""
    from vcluster.apiserver.apiregistration import default_apiservice

    default_apiservice(obj)


def _default_vap(obj: JSON) -> None:
    from vcluster.apiserver.vapvalidation import default_policy

    default_policy(obj)


def _default_vap_binding(obj: JSON) -> None:
    from vcluster.apiserver.vapvalidation import default_binding

    default_binding(obj)


_DEFAULTERS: dict[tuple[str, str, str], Callable[[JSON], None]] = {
    ("", "v1", "Pod"): _default_pod,
    ("", "v1", "PodTemplate"): _default_pod_template_obj,
    ("", "v1", "ReplicationController"): _default_replication_controller,
    ("", "v1", "Service"): _default_service,
    ("", "v1", "Secret"): _default_secret,
    ("", "v1", "PersistentVolumeClaim"): _default_pvc,
    ("", "v1", "PersistentVolume"): _default_pv,
    ("", "v1", "Endpoints"): _default_endpoints,
    ("", "v1", "Node"): _default_node,
    ("", "v1", "LimitRange"): _default_limit_range,
    ("", "v1", "ResourceQuota"): _default_resource_quota,
    ("apps", "v1", "Deployment"): _default_deployment,
    ("apps", "v1", "ReplicaSet"): _default_replica_set,
    ("apps", "v1", "DaemonSet"): _default_daemon_set,
    ("apps", "v1", "StatefulSet"): _default_stateful_set,
    ("batch", "v1", "Job"): _default_job,
    ("batch", "v1", "CronJob"): _default_cron_job,
    ("networking.k8s.io", "v1", "NetworkPolicy"): _default_network_policy,
    ("networking.k8s.io", "v1", "IngressClass"): _default_ingress_class,
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): _default_role_binding,
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): _default_role_binding,
    ("storage.k8s.io", "v1", "StorageClass"): _default_storage_class,
    ("storage.k8s.io", "v1", "CSIDriver"): _default_csi_driver,
    ("storage.k8s.io", "v1", "VolumeAttachment"): _default_volume_attachment,
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"): lambda o: _flowcontrol().default_flow_schema(o),
    ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"): (
        lambda o: _flowcontrol().default_priority_level(o)
    ),
    ("scheduling.k8s.io", "v1", "PriorityClass"): _default_priority_class,
    ("discovery.k8s.io", "v1", "EndpointSlice"): _default_endpoint_slice,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): _default_hpa_v2,
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): _default_hpa_v1,
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"): (
        lambda o: _default_webhooks(o, False)
    ),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"): (
        lambda o: _default_webhooks(o, True)
    ),
    ("apiregistration.k8s.io", "v1", "APIService"): _default_apiservice,
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"): _default_vap,
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"): _default_vap_binding,
}


def _flowcontrol() -> Any:
    """validate_flowcontrol holds the flowcontrol defaults; it imports this module, so lazily."""
    from vcluster.apiserver import validate_flowcontrol

    return validate_flowcontrol


def apply_defaults(obj: dict[str, Any], group: str, version: str, kind: str) -> None:
    """Fill in, in place, the defaults kube-apiserver 1.32 sets on `group/version, Kind=kind`.

    Unknown kinds and malformed objects (wrong JSON types anywhere) are left as they are: this
    function never raises for a dict input.
    """
    if not isinstance(obj, dict):
        return
    fn = _DEFAULTERS.get((group, version, kind))
    if fn is not None:
        fn(obj)


# Go's zero value of a kind's status struct as encoding/json writes it: fields without `omitempty`
# appear even when zero. This is what a create returns once the strategy reset the status.
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Service"): {"loadBalancer": {}},
    ("", "ReplicationController"): {"replicas": 0},
    ("apps", "Deployment"): {},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    ("batch", "Job"): {},
    ("batch", "CronJob"): {},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
    ("policy", "PodDisruptionBudget"): {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    ("autoscaling", "HorizontalPodAutoscaler"): {"desiredReplicas": 0},
    ("", "ResourceQuota"): {},
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): {},
}


def initial_status(group: str, version: str, kind: str) -> dict[str, Any] | None:
    """The `status` kube-apiserver stores for a newly created object of this kind (a fresh dict),
    or None when the kind's create keeps/omits it (Pods and Namespaces have their own rules).
    autoscaling/v1 HPAs read back as `{currentReplicas: 0, desiredReplicas: 0}`."""
    if (group, version, kind) == ("autoscaling", "v1", "HorizontalPodAutoscaler"):
        return {"currentReplicas": 0, "desiredReplicas": 0}
    status = _INITIAL_STATUS.get((group, kind))
    return dict(status) if status is not None else None
