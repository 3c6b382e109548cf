"""A container's environment as the kubelet builds it (pkg/kubelet/kubelet_pods.go
makeEnvironmentVariables), for the commands `kubectl exec` runs in a simulated container.

In order: `envFrom` (ConfigMap `data`, Secret `data` decoded, each key with its `prefix`; a later
source wins), then `env` in declaration order (`value` with `$(VAR)` expanded against what is
defined so far and the service variables; `valueFrom` fieldRef, resourceFieldRef, configMapKeyRef
and secretKeyRef), then the service variables not defined already: the `kubernetes` service of the
`default` namespace always, the pod's namespace's services with a ClusterIP when
`enableServiceLinks` is not false.

The kubelet resolves all this once, when it creates the container; the simulation resolves it when
a command is exec'd, from the objects as they are then. A reference that is gone by then (its
container started, so it existed) leaves its variable out rather than failing the exec.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.gostr import go_quote
from vcluster.hostsim.resources import quantity
from vcluster.serviceenv import has_cluster_ip, service_env_vars

_ENV_REF = re.compile(r"\$(\$|\(([^)]*)\))")
_SUBSCRIPT = re.compile(r"^metadata\.(annotations|labels)\['(.*)'\]$")
_LIMITS_FROM_NODE = ("cpu", "memory", "ephemeral-storage")  # defaultPodLimitsForDownwardAPI


@dataclass(slots=True)
class EnvSources:
    """What a container's environment is made from, fetched beforehand: the ConfigMaps and
    Secrets by name (None: not found), the services it may see, the node's allocatable."""

    configmaps: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    services: list[dict[str, Any]] = field(default_factory=list)
    allocatable: dict[str, Any] = field(default_factory=dict)


def referenced(container: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The names of the ConfigMaps and of the Secrets the container's environment reads."""
    cms: set[str] = set()
    secrets: set[str] = set()
    for src in _dicts(container.get("envFrom")):
        _add_name(cms, src.get("configMapRef"))
        _add_name(secrets, src.get("secretRef"))
    for var in _dicts(container.get("env")):
        vf = var.get("valueFrom")
        if isinstance(vf, dict):
            _add_name(cms, vf.get("configMapKeyRef"))
            _add_name(secrets, vf.get("secretKeyRef"))
    return cms, secrets


def expand(value: str, env: Mapping[str, str]) -> str:
    """The kubelet's `$(VAR)` expansion: known names are replaced, `$$` is a literal `$`."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        return env.get(m.group(2), m.group(0))

    return _ENV_REF.sub(sub, value)


def service_variables(pod: Mapping[str, Any], services: list[dict[str, Any]]) -> dict[str, str]:
    """getServiceEnvVarMap: `default/kubernetes` always, the pod's namespace's services with
    service links on; services without a ClusterIP never."""
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    links = (pod.get("spec") or {}).get("enableServiceLinks") is not False
    chosen: dict[str, dict[str, Any]] = {}
    for svc in services:
        md = svc.get("metadata") or {}
        name = md.get("name")
        if not isinstance(name, str) or not has_cluster_ip(svc):
            continue
        if md.get("namespace") == "default" and name == "kubernetes":
            chosen.setdefault(name, svc)
        elif md.get("namespace") == ns and links:
            chosen[name] = svc
    out: dict[str, str] = {}
    for svc in chosen.values():
        out.update(service_env_vars(svc))
    return out


def container_env(
    pod: Mapping[str, Any], container: Mapping[str, Any], sources: EnvSources
) -> dict[str, str]:
    """The container's variables, in the order the kubelet defines them (see the module doc)."""
    env: dict[str, str] = {}
    for src in _dicts(container.get("envFrom")):
        prefix = src.get("prefix") if isinstance(src.get("prefix"), str) else ""
        if isinstance(src.get("configMapRef"), dict):
            data = _data(sources.configmaps, src["configMapRef"], binary=False)
        elif isinstance(src.get("secretRef"), dict):
            data = _data(sources.secrets, src["secretRef"], binary=True)
        else:
            continue
        for k, v in data.items():
            env[prefix + k] = v
    services = service_variables(pod, sources.services)
    for var in _dicts(container.get("env")):
        name = var.get("name")
        if not isinstance(name, str) or not name:
            continue
        value = var.get("value")
        if isinstance(value, str) and value:
            env[name] = expand(value, {**services, **env})
            continue
        vf = var.get("valueFrom")
        if not isinstance(vf, dict):
            env[name] = ""
            continue
        resolved = _value_from(pod, container, vf, sources)
        if resolved is not None:
            env[name] = resolved
    for k, v in services.items():
        env.setdefault(k, v)
    return env


# ---------------------------------------------------------------------------- valueFrom
def _value_from(
    pod: Mapping[str, Any], container: Mapping[str, Any], vf: dict[str, Any], sources: EnvSources
) -> str | None:
    if isinstance(vf.get("fieldRef"), dict):
        return field_value(pod, str(vf["fieldRef"].get("fieldPath") or ""))
    if isinstance(vf.get("resourceFieldRef"), dict):
        return resource_value(pod, container, vf["resourceFieldRef"], sources.allocatable)
    if isinstance(vf.get("configMapKeyRef"), dict):
        ref = vf["configMapKeyRef"]
        return _data(sources.configmaps, ref, binary=False).get(str(ref.get("key")))
    if isinstance(vf.get("secretKeyRef"), dict):
        ref = vf["secretKeyRef"]
        return _data(sources.secrets, ref, binary=True).get(str(ref.get("key")))
    return None


def field_value(pod: Mapping[str, Any], path: str) -> str | None:
    """podFieldSelectorRuntimeValue + fieldpath.ExtractFieldPathAsString; None for a path the
    kubelet cannot resolve (validation keeps those out of env)."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    m = _SUBSCRIPT.match(path)
    if m:
        return str((md.get(m.group(1)) or {}).get(m.group(2), ""))
    if path in ("metadata.annotations", "metadata.labels"):
        values = md.get(path.split(".")[1]) or {}
        return "\n".join(f"{k}={go_quote(str(v))}" for k, v in sorted(values.items()))
    simple = {
        "metadata.name": md.get("name"),
        "metadata.namespace": md.get("namespace"),
        "metadata.uid": md.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": _ips(status.get("podIPs"))[:1] or status.get("podIP"),
        "status.hostIPs": _ips(status.get("hostIPs")) or status.get("hostIP"),
        "status.podIPs": _ips(status.get("podIPs")) or status.get("podIP"),
    }
    if path not in simple:
        return None
    v = simple[path]
    if isinstance(v, list):
        return ",".join(v)
    return v if isinstance(v, str) else ""


def resource_value(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    ref: Mapping[str, Any],
    allocatable: Mapping[str, Any],
) -> str | None:
    """containerResourceRuntimeValue: a request or limit in units of `divisor` (default 1), rounded
    up; an unset cpu, memory or ephemeral-storage limit is the node's allocatable."""
    target = container
    cname = ref.get("containerName")
    if isinstance(cname, str) and cname:
        spec = pod.get("spec") or {}
        found = [
            c
            for kind in ("containers", "initContainers")
            for c in _dicts(spec.get(kind))
            if c.get("name") == cname
        ]
        if not found:
            return None
        target = found[0]
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not name:
        return None
    if name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
        return None
    res = target.get("resources") if isinstance(target.get("resources"), dict) else {}
    values = res.get(kind) if isinstance(res.get(kind), dict) else {}
    raw = values.get(name)
    if raw is None and kind == "limits" and name in _LIMITS_FROM_NODE:
        raw = allocatable.get(name)
    # cpu as MilliValue(), the rest as Value(), both rounded up; a zero divisor counts as 1
    amount = quantity(name, raw if raw is not None else 0)
    divisor = quantity(name, ref.get("divisor")) or quantity(name, "1")
    return str(math.ceil(amount / divisor))


# ---------------------------------------------------------------------------- helpers
def _dicts(v: Any) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _add_name(out: set[str], ref: Any) -> None:
    if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]:
        out.add(ref["name"])


def _ips(v: Any) -> list[str]:
    return [x["ip"] for x in _dicts(v) if isinstance(x.get("ip"), str)]


def _data(
    objects: Mapping[str, dict[str, Any] | None], ref: Mapping[str, Any], *, binary: bool
) -> dict[str, str]:
    """A ConfigMap's `data` or a Secret's decoded `data` ({} when missing)."""
    obj = objects.get(str(ref.get("name")))
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, dict):
        return {}
    if not binary:
        return {str(k): str(v) for k, v in data.items()}
    out: dict[str, str] = {}
    for k, v in data.items():
        try:
            out[str(k)] = base64.b64decode(str(v), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    return out
