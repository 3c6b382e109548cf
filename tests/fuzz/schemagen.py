"""Random values for Kubernetes 1.32 types, driven by the OpenAPI definitions the API server loads
(`vcluster.apiserver.schema.definitions()`, kubernetes-validate's JSON-schema form).

The walk follows the schema (`$ref`, `properties`, `required`, `items`, `additionalProperties`,
`oneOf`) and fills leaves from the field's name and type: enum values are read from the
descriptions' "Possible enum values" lists, union types (volume sources, projections, handlers,
env sources) get exactly one member, list-map keys are kept unique. What the schema does not say
(a container image, a label key, a downward-API field path) comes from `HINTS`. Everything is
drawn from one `random.Random`, so a seed reproduces the objects.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable
from typing import Any

from vcluster.apiserver.schema import definitions

REF = "#/$defs/"
_ENUM_PHRASE = re.compile(
    r"(?:[Oo]ne of|[Vv]alid (?:values|options) are|[Pp]ossible values are|[Mm]ust be|[Cc]an be|either)"
    r"\s*:?\s*(.*?)(?:\.(?:\s|$)|$)"
)
_ENUM_WORD = re.compile(r'"?\b([A-Z][A-Za-z0-9]+)\b"?')
_OMIT = object()

# Definitions whose properties are alternatives: exactly one is set (the rest are common fields).
UNIONS: dict[str, tuple[str, ...]] = {
    "io.k8s.api.core.v1.Volume": ("name",),
    "io.k8s.api.core.v1.VolumeProjection": (),
    "io.k8s.api.core.v1.EnvVarSource": (),
    "io.k8s.api.core.v1.LifecycleHandler": (),
    "io.k8s.api.core.v1.Probe": (
        "failureThreshold", "initialDelaySeconds", "periodSeconds", "successThreshold",
        "terminationGracePeriodSeconds", "timeoutSeconds",
    ),
    "io.k8s.api.core.v1.EnvFromSource": ("prefix",),
    "io.k8s.api.networking.v1.NetworkPolicyPeer": (),
    "io.k8s.api.networking.v1.IngressBackend": (),
}  # fmt: skip

# Fields never generated: server-set, needing cluster state, or covered by the scenarios instead.
SKIP = {
    "io.k8s.api.core.v1.PodSpec": {
        "nodeName", "ephemeralContainers", "serviceAccount", "resourceClaims", "overhead",
        "runtimeClassName", "priority", "hostUsers", "preemptionPolicy",
    },
    "io.k8s.api.core.v1.Container": {"resizePolicy", "restartPolicy"},
    "io.k8s.api.core.v1.ServiceSpec": {
        "clusterIP", "clusterIPs", "healthCheckNodePort", "loadBalancerIP", "externalIPs",
    },
    "io.k8s.api.core.v1.ServicePort": {"nodePort"},
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": {"volumeName", "dataSource", "dataSourceRef"},
    "io.k8s.api.core.v1.EndpointAddress": {"nodeName"},
    "io.k8s.api.discovery.v1.Endpoint": {"nodeName", "zone"},
    "io.k8s.api.core.v1.PodSecurityContext": {"seLinuxChangePolicy"},
    "io.k8s.api.core.v1.ObjectReference": {"resourceVersion", "fieldPath"},
}  # fmt: skip

# references whose `name` is optional in the schema but what the fuzzing is about
NAMED_REFS = {
    "io.k8s.api.core.v1." + t
    for t in ("ConfigMapKeySelector", "SecretKeySelector", "ConfigMapEnvSource", "SecretEnvSource",
              "ConfigMapVolumeSource", "ConfigMapProjection", "SecretProjection", "LocalObjectReference")
}  # fmt: skip

LABEL_PREFIXES = (
    "", "", "", "example.com/", "a.b-c.d/", "app.kubernetes.io/", "vcluster.loft.sh/",
)  # fmt: skip
# keys a tenant could try to forge: the syncer's own labels and annotations (spec §2)
FORGED_LABELS = (
    "vcluster.loft.sh/managed-by", "vcluster.loft.sh/namespace", "vcluster.loft.sh/controlled-by",
    "release", "vcluster.loft.sh/label-my-vcluster-x-a4d451ec23", "vcluster.loft.sh/ns-label-x",
    "vcluster.loft.sh/fake-node", "vcluster.loft.sh/managed-by-other",
)  # fmt: skip
FORGED_ANNOTATIONS = (
    "vcluster.loft.sh/object-name", "vcluster.loft.sh/object-namespace", "vcluster.loft.sh/object-uid",
    "vcluster.loft.sh/object-kind", "vcluster.loft.sh/object-host-name",
    "vcluster.loft.sh/object-host-namespace", "vcluster.loft.sh/managed-annotations",
    "vcluster.loft.sh/managed-labels", "vcluster.loft.sh/name", "vcluster.loft.sh/uid",
    "vcluster.loft.sh/namespace", "vcluster.loft.sh/labels", "vcluster.loft.sh/service-account-name",
    "vcluster.loft.sh/owner-references", "vcluster.loft.sh/token-abcdefgh", "vcluster.loft.sh/skip-backsync",
    "vcluster.loft.sh/block-deletion", "vcluster.loft.sh/object-imported", "vcluster.loft.sh/host-pv",
    "vcluster.loft.sh/hosts-rewritten", "vcluster.loft.sh/skip-translate",
)  # fmt: skip
UNICODE = ("", "ü", "日本", "🚀", " ", "\t", "'", '"', "\\", "=", "\n", "&<>", "\u200b")
POD_FIELD_PATHS = (
    "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels['{k}']",
    "metadata.annotations['{k}']", "spec.nodeName", "spec.serviceAccountName", "status.hostIP",
    "status.hostIPs", "status.podIP", "status.podIPs",
)  # fmt: skip
VOLUME_FIELD_PATHS = (
    "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations",
    "metadata.labels['{k}']", "metadata.annotations['{k}']",
)  # fmt: skip


def enum_values(description: str) -> list[str]:
    """The values an enum-like string field lists in its description ("One of Always, Never.")."""
    m = _ENUM_PHRASE.search(description)
    if not m:
        return []
    words = _ENUM_WORD.findall(m.group(1))
    return [w for w in words if w not in ("Defaults", "Default", "Deprecated", "If", "The", "This")]


class Gen:
    """One seeded generator; `value(ref)` returns a random instance of a definition."""

    def __init__(self, rng: random.Random, names: dict[str, list[str]] | None = None) -> None:
        self.rng = rng
        self.defs = definitions()
        self.names = names if names is not None else {}  # kind -> existing virtual names to refer to
        self.depth_budget = 7

    # ------------------------------------------------------------------ primitives
    def dns_label(self, max_len: int = 12) -> str:
        """A DNS-1123 label, sometimes digits-only or with inner dashes."""
        r = self.rng.random()
        if r < 0.1:
            return str(self.rng.randrange(10**6))
        n = self.rng.randint(1, max_len)
        chars = "abcdefghijklmnopqrstuvwxyz0123456789-"
        body = "".join(self.rng.choice(chars) for _ in range(n))
        body = self.rng.choice("abcdefghijklmnopqrstuvwxyz") + body
        return body.strip("-")[:max_len] or "a"

    def dns_subdomain(self, max_len: int = 253) -> str:
        """A DNS-1123 subdomain of up to `max_len` characters (dots, digits, the maximum length)."""
        r = self.rng.random()
        if r < 0.15:
            parts: list[str] = []
            while sum(len(p) + 1 for p in parts) < max_len - 64:
                parts.append(self.dns_label(63))
            s = ".".join(parts)
            return s[:max_len].rstrip(".-") or "a"
        if r < 0.3:
            return ".".join(self.dns_label(8) for _ in range(self.rng.randint(2, 4)))
        return self.dns_label(self.rng.choice((8, 20, 63)))

    def port_name(self) -> str:
        """An IANA_SVC_NAME: at most 15 lowercase alphanumerics or '-', with a letter."""
        return self.rng.choice("abcdefghijklmnopqrstuvwxyz") + self.dns_label(10)[:10].replace("--", "-")

    def label_key(self) -> str:
        """A qualified label key, now and then one of the syncer's own keys."""
        if self.rng.random() < 0.12:
            return self.rng.choice(FORGED_LABELS)
        prefix = self.rng.choice(LABEL_PREFIXES)
        name_len = self.rng.choice((1, 5, 20, 63))
        chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
        name = self.rng.choice("abcXYZ019") + "".join(self.rng.choice(chars) for _ in range(name_len - 1))
        name = name.rstrip("-_.")
        name = name if name else "k"
        return prefix + name[:63]

    def label_value(self) -> str:
        """A label value: empty, short, or up to 63 characters."""
        r = self.rng.random()
        if r < 0.15:
            return ""
        n = self.rng.choice((1, 8, 63))
        chars = "abcdefghijklmnopqrstuvwxyz0123456789-_."
        v = self.rng.choice("aZ0") + "".join(self.rng.choice(chars) for _ in range(n - 1))
        v = v.rstrip("-_.")
        return v[:63]

    def text(self, max_len: int = 40) -> str:
        """Free text with unicode, quotes, newlines."""
        n = self.rng.randint(0, max_len)
        pieces = [self.rng.choice(("a", "Z", "0", " ", "-", "/", ":", *UNICODE)) for _ in range(n)]
        return "".join(pieces)

    def labels(self, n_max: int = 6) -> dict[str, str]:
        """A label map: empty, a few, or many."""
        n = self.rng.choice((0, 1, 2, n_max, n_max * 4))
        return {self.label_key(): self.label_value() for _ in range(n)}

    def annotations(self, n_max: int = 6) -> dict[str, str]:
        """An annotation map with forged syncer keys now and then and long or unicode values."""
        out: dict[str, str] = {}
        for _ in range(self.rng.choice((0, 1, 3, n_max, n_max * 3))):
            if self.rng.random() < 0.25:
                key = self.rng.choice(FORGED_ANNOTATIONS)
            else:
                key = self.label_key()
            r = self.rng.random()
            if r < 0.1:
                val = "x" * self.rng.choice((1000, 20_000))
            elif r < 0.2:
                val = '{"json": ["value", 1]}'
            else:
                val = self.text()
            out[key] = val
        return out

    def config_key(self) -> str:
        """A ConfigMap/Secret key: alphanumerics, '-', '_' or '.', up to 253 characters."""
        n = self.rng.choice((1, 10, 100, 253))
        chars = "abcXYZ0189-_."
        key = "".join(self.rng.choice(chars) for _ in range(n))
        return key if key not in (".", "..") and not key.startswith("..") else "k" + key[:252]

    def quantity(self) -> str | int:
        return self.rng.choice(("1", "100m", "64Mi", "1Gi", "0.5", "2", "1k", "1e3", 1, "250M"))

    def ref_name(self, kind: str) -> str:
        """The name of an existing virtual object of `kind` (mostly) or of a missing one."""
        existing = self.names.get(kind) or []
        if existing and self.rng.random() < 0.6:
            return self.rng.choice(existing)
        return self.dns_subdomain(self.rng.choice((20, 63, 253)))

    def field_path(self, paths: tuple[str, ...]) -> str:
        return self.rng.choice(paths).replace("{k}", self.label_key())

    # ------------------------------------------------------------------ schema walk
    def value(self, ref: str, depth: int = 0) -> Any:
        """A random instance of definition `ref` (a full name like io.k8s.api.core.v1.PodSpec)."""
        hint = DEF_HINTS.get(ref)
        if hint is not None:
            return hint(self, depth)
        return self._node(self.defs[ref], ref, "", depth)

    def _node(self, s: dict[str, Any], owner: str, field: str, depth: int) -> Any:
        if "$ref" in s:
            return self.value(s["$ref"][len(REF) :], depth)
        if "oneOf" in s or "allOf" in s:
            return self._node(self.rng.choice(s.get("oneOf") or s["allOf"]), owner, field, depth)
        hint = FIELD_HINTS.get((owner, field)) or FIELD_HINTS.get(("*", field))
        if hint is not None:
            return hint(self, depth)
        types = s.get("type") or "object"
        t = types if isinstance(types, str) else next(x for x in types if x != "null")
        if t == "object" and "properties" in s:
            return self._object(s, owner, depth)
        if t == "object":
            extra = s.get("additionalProperties")
            if isinstance(extra, dict):
                n = self.rng.choice((0, 1, 3))
                return {self.label_key(): self._node(extra, owner, "", depth + 1) for _ in range(n)}
            return {}
        if t == "array":
            return self._array(s, owner, field, depth)
        if t == "string":
            enum = enum_values(s.get("description") or "")
            if enum:
                return self.rng.choice(enum)
            if s.get("format") == "byte":
                return base64.b64encode(self.text(20).encode()).decode()
            return self.dns_label()
        if t == "integer":
            return self.rng.choice((0, 1, 2, 5, 30))
        if t == "number":
            return self.rng.choice((0, 1.5, 3))
        if t == "boolean":
            return self.rng.random() < 0.5
        return None

    def _object(self, s: dict[str, Any], owner: str, depth: int) -> dict[str, Any]:
        props: dict[str, Any] = s["properties"]
        required = set(s.get("required") or ())
        skip = SKIP.get(owner, set())
        out: dict[str, Any] = {}
        names = [p for p in props if p not in skip]
        if owner in UNIONS:
            common = UNIONS[owner]
            members = [p for p in names if p not in common]
            names = [p for p in names if p in common] + ([self.rng.choice(members)] if members else [])
            required |= set(names) - set(common)
        if owner in NAMED_REFS:
            required.add("name")
        p_opt = max(0.05, 0.45 - 0.08 * depth)
        for p in names:
            if p in ("apiVersion", "kind", "status", "metadata"):
                continue
            if p not in required and (depth >= self.depth_budget or self.rng.random() > p_opt):
                continue
            v = self._node(props[p], owner, p, depth + 1)
            if v is not _OMIT:
                out[p] = v
        return out

    def _array(self, s: dict[str, Any], owner: str, field: str, depth: int) -> list[Any]:
        n = self.rng.choice((0, 1, 1, 2, 3)) if depth < self.depth_budget else 0
        items = [self._node(s.get("items") or {}, owner, field, depth + 1) for _ in range(n)]
        items = [x for x in items if x is not _OMIT]
        keys = s.get("x-kubernetes-list-map-keys") or []
        if s.get("x-kubernetes-list-type") == "set":
            seen: list[Any] = []
            for x in items:
                if x not in seen:
                    seen.append(x)
            items = seen
        if keys:
            unique: dict[tuple[Any, ...], Any] = {}
            for x in items:
                if isinstance(x, dict):
                    unique.setdefault(tuple(repr(x.get(k)) for k in keys), x)
            items = list(unique.values())
        return items


Hint = Callable[[Gen, int], Any]


def _choice(*values: Any) -> Hint:
    return lambda g, _d: g.rng.choice(values)


def _maybe(p: float, hint: Hint) -> Hint:
    return lambda g, d: hint(g, d) if g.rng.random() < p else _OMIT


def _labels_selector(g: Gen, _d: int) -> dict[str, Any]:
    """A metav1.LabelSelector with every operator."""
    out: dict[str, Any] = {}
    if g.rng.random() < 0.7:
        out["matchLabels"] = {g.label_key(): g.label_value() for _ in range(g.rng.randint(0, 3))}
    if g.rng.random() < 0.5:
        exprs = []
        for op in g.rng.sample(["In", "NotIn", "Exists", "DoesNotExist"], g.rng.randint(1, 4)):
            e: dict[str, Any] = {"key": g.label_key(), "operator": op}
            if op in ("In", "NotIn"):
                e["values"] = sorted({g.label_value() for _ in range(g.rng.randint(1, 3))})
            exprs.append(e)
        out["matchExpressions"] = exprs
    return out


def _node_selector_requirement(g: Gen, _d: int) -> dict[str, Any]:
    op = g.rng.choice(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
    e: dict[str, Any] = {"key": g.label_key(), "operator": op}
    if op in ("In", "NotIn"):
        e["values"] = [g.label_value() for _ in range(g.rng.randint(1, 3))]
    elif op in ("Gt", "Lt"):
        e["values"] = [str(g.rng.randint(0, 99))]
    return e


def _toleration(g: Gen, _d: int) -> dict[str, Any]:
    op = g.rng.choice(("Exists", "Equal", None))
    t: dict[str, Any] = {}
    if g.rng.random() < 0.8 or op != "Exists":
        t["key"] = g.label_key()
    if op:
        t["operator"] = op
    if op != "Exists" and g.rng.random() < 0.7:
        t["value"] = g.label_value()
    effect = g.rng.choice(("NoSchedule", "PreferNoSchedule", "NoExecute", None))
    if effect:
        t["effect"] = effect
    if effect == "NoExecute" and g.rng.random() < 0.5:
        t["tolerationSeconds"] = g.rng.randint(0, 3600)
    return t


def _topology_spread(g: Gen, _d: int) -> dict[str, Any]:
    c: dict[str, Any] = {
        "maxSkew": g.rng.randint(1, 3),
        "topologyKey": g.rng.choice(("kubernetes.io/hostname", "topology.kubernetes.io/zone", g.label_key())),
        "whenUnsatisfiable": g.rng.choice(("DoNotSchedule", "ScheduleAnyway")),
        "labelSelector": _labels_selector(g, 0),
    }
    if g.rng.random() < 0.3:
        c["matchLabelKeys"] = [g.label_key()]
    if g.rng.random() < 0.3:
        c["nodeAffinityPolicy"] = g.rng.choice(("Honor", "Ignore"))
    if g.rng.random() < 0.3:
        c["nodeTaintsPolicy"] = g.rng.choice(("Honor", "Ignore"))
    if c["whenUnsatisfiable"] == "DoNotSchedule" and g.rng.random() < 0.3:
        c["minDomains"] = g.rng.randint(1, 3)
    return c


def _env_var(g: Gen, d: int) -> dict[str, Any]:
    e: dict[str, Any] = {"name": g.rng.choice(("A", "my_var", "X.Y-Z", "_u", "HOME"))}
    r = g.rng.random()
    if r < 0.3:
        e["value"] = g.text() + "$(A)" * (g.rng.random() < 0.2)
    elif r < 0.9:
        e["valueFrom"] = g.value("io.k8s.api.core.v1.EnvVarSource", d)
    return e


def _object_field_selector(g: Gen, _d: int) -> dict[str, Any]:
    return {
        "fieldPath": g.field_path(POD_FIELD_PATHS),
        **({"apiVersion": "v1"} if g.rng.random() < 0.5 else {}),
    }


def _downward_file(g: Gen, _d: int) -> dict[str, Any]:
    f: dict[str, Any] = {"path": _rel_path(g, 0)}
    if g.rng.random() < 0.7:
        f["fieldRef"] = {"fieldPath": g.field_path(VOLUME_FIELD_PATHS)}
    else:
        f["resourceFieldRef"] = {
            "resource": g.rng.choice(("limits.cpu", "requests.memory")),
            "containerName": "c0",
        }
    if g.rng.random() < 0.3:
        f["mode"] = g.rng.choice((0o400, 0o644, 0o777))
    return f


def _rel_path(g: Gen, _d: int) -> str:
    return "/".join(
        g.rng.choice(("a", "b.txt", "..data2", "dir", "日本", "x-y")) for _ in range(g.rng.randint(1, 3))
    )


def _abs_path(g: Gen, _d: int) -> str:
    return "/" + "/".join(g.dns_label(6) for _ in range(g.rng.randint(1, 3)))


def _int_or_string_port(g: Gen, _d: int) -> int | str:
    return g.rng.randint(1, 65535) if g.rng.random() < 0.6 else g.port_name()


def _percent_or_int(g: Gen, _d: int) -> int | str:
    return g.rng.choice((0, 1, 3, "0%", "50%", "100%"))


def _container(g: Gen, d: int) -> dict[str, Any]:
    c = g._object(g.defs["io.k8s.api.core.v1.Container"], "io.k8s.api.core.v1.Container", d)
    c["name"] = "c" + str(g.rng.randrange(1000))
    c["image"] = _image(g, d)
    return c


def _key_to_path(g: Gen, _d: int) -> dict[str, Any]:
    k: dict[str, Any] = {"key": g.rng.choice(("a", "b.conf", "key_1", "x-y.z")), "path": _rel_path(g, 0)}
    if g.rng.random() < 0.3:
        k["mode"] = g.rng.choice((0o400, 0o644))
    return k


def _service_account_token_projection(g: Gen, _d: int) -> dict[str, Any]:
    p: dict[str, Any] = {"path": _rel_path(g, 0)}
    if g.rng.random() < 0.5:
        p["audience"] = g.rng.choice(("vault", "https://kubernetes.default.svc", ""))
    if g.rng.random() < 0.5:
        p["expirationSeconds"] = g.rng.choice((600, 3600, 86400))
    return p


def _ip(g: Gen, _d: int) -> str:
    return f"10.{g.rng.randrange(256)}.{g.rng.randrange(256)}.{g.rng.randrange(1, 255)}"


def _image(g: Gen, _d: int) -> str:
    return g.rng.choice(
        ("nginx", "busybox:1.36", "registry.example.com:5000/team/app:v1.2.3",
         "ghcr.io/a/b@sha256:" + "a" * 64, "alpine:3.20")
    )  # fmt: skip


DEF_HINTS: dict[str, Hint] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": _labels_selector,
    "io.k8s.api.core.v1.NodeSelectorRequirement": _node_selector_requirement,
    "io.k8s.api.core.v1.Toleration": _toleration,
    "io.k8s.api.core.v1.TopologySpreadConstraint": _topology_spread,
    "io.k8s.api.core.v1.EnvVar": _env_var,
    "io.k8s.api.core.v1.ObjectFieldSelector": _object_field_selector,
    "io.k8s.api.core.v1.DownwardAPIVolumeFile": _downward_file,
    "io.k8s.api.core.v1.KeyToPath": _key_to_path,
    "io.k8s.api.core.v1.ServiceAccountTokenProjection": _service_account_token_projection,
    "io.k8s.api.core.v1.Container": _container,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": lambda g, _d: g.quantity(),
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": _int_or_string_port,
}

_CORE = "io.k8s.api.core.v1."
FIELD_HINTS: dict[tuple[str, str], Hint] = {
    ("*", "image"): _image,
    ("*", "protocol"): _choice("TCP", "UDP", "SCTP"),
    ("*", "containerPort"): lambda g, _d: g.rng.randint(1, 65535),
    ("*", "port"): lambda g, _d: g.rng.randint(1, 65535),
    ("*", "hostPort"): lambda g, _d: _OMIT,
    ("*", "targetPort"): _int_or_string_port,
    ("*", "mountPath"): _abs_path,
    ("*", "subPath"): _maybe(0.5, _rel_path),
    ("*", "ip"): _ip,
    ("*", "hostIP"): lambda g, _d: _OMIT,
    ("*", "nodeSelector"): lambda g, _d: {g.label_key(): g.label_value() for _ in range(g.rng.randint(0, 2))},
    ("*", "labels"): lambda g, _d: g.labels(),
    ("*", "matchLabels"): lambda g, _d: g.labels(2),
    ("*", "topologyKey"): _choice("kubernetes.io/hostname", "topology.kubernetes.io/zone"),
    ("*", "maxUnavailable"): _percent_or_int,
    ("*", "minAvailable"): _percent_or_int,
    ("*", "claimName"): lambda g, _d: g.ref_name("persistentvolumeclaims"),
    ("*", "secretName"): lambda g, _d: g.ref_name("secrets"),
    ("*", "hostname"): lambda g, _d: g.dns_label(20),
    ("*", "subdomain"): lambda g, _d: g.dns_label(20),
    ("*", "serviceAccountName"): lambda g, _d: (
        g.ref_name("serviceaccounts") if g.rng.random() < 0.3 else _OMIT
    ),
    ("*", "priorityClassName"): lambda g, _d: g.rng.choice(g.names.get("priorityclasses") or [None]) or _OMIT,
    ("*", "schedulerName"): _choice("default-scheduler", "my-scheduler"),
    ("*", "storageClassName"): _choice("standard", "fast", ""),
    ("*", "ingressClassName"): lambda g, _d: _OMIT,
    ("*", "command"): lambda g, _d: [g.text(10) for _ in range(g.rng.randint(0, 3))],
    ("*", "args"): lambda g, _d: [g.text(10) for _ in range(g.rng.randint(0, 3))],
    ("*", "key"): lambda g, _d: g.rng.choice(("a", "b.conf", "key_1", "x-y.z", "missing")),
    (_CORE + "ConfigMapKeySelector", "name"): lambda g, _d: g.ref_name("configmaps"),
    (_CORE + "SecretKeySelector", "name"): lambda g, _d: g.ref_name("secrets"),
    (_CORE + "ConfigMapEnvSource", "name"): lambda g, _d: g.ref_name("configmaps"),
    (_CORE + "SecretEnvSource", "name"): lambda g, _d: g.ref_name("secrets"),
    (_CORE + "ConfigMapVolumeSource", "name"): lambda g, _d: g.ref_name("configmaps"),
    (_CORE + "ConfigMapProjection", "name"): lambda g, _d: g.ref_name("configmaps"),
    (_CORE + "SecretProjection", "name"): lambda g, _d: g.ref_name("secrets"),
    (_CORE + "LocalObjectReference", "name"): lambda g, _d: g.ref_name("secrets"),
    (_CORE + "ResourceFieldSelector", "resource"): _choice("limits.cpu", "requests.memory", "limits.memory"),
    (_CORE + "ResourceFieldSelector", "containerName"): lambda g, _d: _OMIT,
    (_CORE + "ResourceRequirements", "claims"): lambda g, _d: _OMIT,
    (_CORE + "ResourceRequirements", "limits"): lambda g, _d: {"cpu": "1", "memory": "128Mi"},
    (_CORE + "ResourceRequirements", "requests"): lambda g, _d: {"cpu": "100m", "memory": "64Mi"},
    (_CORE + "VolumeResourceRequirements", "requests"): lambda g, _d: {
        "storage": g.rng.choice(("1Gi", "10Mi"))
    },
    (_CORE + "VolumeResourceRequirements", "limits"): lambda g, _d: _OMIT,
    (_CORE + "HostPathVolumeSource", "path"): _abs_path,
    (_CORE + "HTTPGetAction", "path"): _abs_path,
    (_CORE + "ContainerPort", "name"): lambda g, _d: g.port_name(),
    (_CORE + "ServicePort", "name"): lambda g, _d: g.port_name(),
    (_CORE + "EndpointPort", "name"): lambda g, _d: g.port_name(),
    (_CORE + "Volume", "name"): lambda g, _d: g.dns_label(20),
    (_CORE + "VolumeMount", "name"): lambda g, _d: g.dns_label(20),
    (_CORE + "PersistentVolumeClaimSpec", "accessModes"): lambda g, _d: [
        g.rng.choice(("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"))
    ],
    (_CORE + "ServiceSpec", "selector"): lambda g, _d: g.labels(2) if g.rng.random() < 0.7 else _OMIT,
    (_CORE + "ServiceSpec", "externalName"): lambda g, _d: g.dns_subdomain(40),
    (_CORE + "ObjectReference", "kind"): _choice("Pod", "Node"),
    (_CORE + "ObjectReference", "name"): lambda g, _d: g.ref_name("pods"),
    (_CORE + "ObjectReference", "namespace"): lambda g, _d: _OMIT,
    (_CORE + "ObjectReference", "uid"): lambda g, _d: _OMIT,
    (_CORE + "ObjectReference", "apiVersion"): lambda g, _d: _OMIT,
    ("io.k8s.api.networking.v1.IngressServiceBackend", "name"): lambda g, _d: g.ref_name("services"),
    ("io.k8s.api.networking.v1.IngressTLS", "hosts"): lambda g, _d: [g.dns_subdomain(40)],
    ("io.k8s.api.networking.v1.IngressRule", "host"): lambda g, _d: (
        g.rng.choice(("*.", "")) + "a.example.com"
    ),
    ("io.k8s.api.networking.v1.HTTPIngressPath", "path"): _abs_path,
    ("io.k8s.api.networking.v1.IPBlock", "cidr"): _choice("10.0.0.0/8", "192.168.1.0/24", "fd00::/64"),
    ("io.k8s.api.networking.v1.IPBlock", "except"): lambda g, _d: _OMIT,
    ("io.k8s.api.networking.v1.NetworkPolicyPort", "endPort"): lambda g, _d: _OMIT,
    ("io.k8s.api.networking.v1.NetworkPolicyPort", "port"): _int_or_string_port,
    ("io.k8s.api.discovery.v1.Endpoint", "addresses"): lambda g, _d: [_ip(g, 0)],
    ("io.k8s.api.discovery.v1.EndpointSlice", "addressType"): _choice("IPv4"),
    ("io.k8s.api.discovery.v1.EndpointPort", "name"): lambda g, _d: g.port_name(),
    ("io.k8s.api.discovery.v1.EndpointPort", "port"): lambda g, _d: g.rng.randint(1, 65535),
    ("io.k8s.api.discovery.v1.EndpointPort", "appProtocol"): lambda g, _d: _OMIT,
    ("*", "reclaimPolicy"): _choice("Delete", "Retain"),
    ("*", "volumeBindingMode"): _choice("Immediate", "WaitForFirstConsumer"),
    ("*", "ipFamilies"): lambda g, _d: [g.rng.choice(("IPv4", "IPv6"))],
    (_CORE + "PodSpec", "dnsPolicy"): _choice("ClusterFirst", "Default", "ClusterFirstWithHostNet"),
    ("*", "appProtocol"): _choice("http", "kubernetes.io/h2c", "example.com/custom"),
    ("*", "fsType"): _choice("ext4", "xfs"),
    ("*", "provisioner"): _choice("example.com/csi", "kubernetes.io/no-provisioner"),
    ("io.k8s.api.core.v1.CSIVolumeSource", "driver"): _choice("csi.example.com"),
    ("io.k8s.api.core.v1.EphemeralVolumeSource", "volumeClaimTemplate"): lambda g, _d: {
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    },
}
