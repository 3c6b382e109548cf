"""The ConfigMaps and Secrets a pod needs before its containers run, checked as kubelet 1.32 does.

* Volumes: a `configMap` or `secret` volume, or such a source of a `projected` volume, whose
  object is missing or lacks one of its `items[].key` (and is not `optional`) fails
  MountVolume.SetUp; the pod stays ContainerCreating. Only volumes some container mounts (or
  maps as a device) are set up: the volume manager skips unused ones.
* Environment: `envFrom[].configMapRef`/`secretRef` (the object) and
  `env[].valueFrom.configMapKeyRef`/`secretKeyRef` (object and key; a ConfigMap's `data` only)
  are resolved when a container is created; the container waits in CreateContainerConfigError.
  Init containers start one after another, so the first blocked one holds up the rest.

The messages are the kubelet's (pkg/volume/configmap, pkg/volume/secret, pkg/volume/projected,
pkg/kubelet/kubelet_pods.go makeEnvironmentVariables; the watch-based object managers report a
missing object as `configmap "x" not found` / `secret "x" not found`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CONFIGMAP = "ConfigMap"
SECRET = "Secret"
PLURALS = {CONFIGMAP: "configmaps", SECRET: "secrets"}

RefKey = tuple[str, str, str]  # (namespace, kind, name)
Lookup = Callable[[RefKey], dict[str, Any] | None]  # the object, or None when it does not exist


@dataclass(frozen=True, slots=True)
class Failure:
    """A volume that cannot be set up, or a container whose configuration cannot be built."""

    name: str  # the volume or the container
    error: str  # the kubelet's error text
    refs: tuple[RefKey, ...]  # the objects the error is about
    field: str = ""  # for containers: `containers` or `initContainers`

    @property
    def mount_message(self) -> str:
        """The FailedMount event's message."""
        return f'MountVolume.SetUp failed for volume "{self.name}" : {self.error}'


# ---------------------------------------------------------------------------- helpers
def _optional(src: dict[str, Any]) -> bool:
    return src.get("optional") is True


def _has_key(obj: dict[str, Any], key: Any, *, binary: bool) -> bool:
    if key in (obj.get("data") or {}):
        return True
    return binary and key in (obj.get("binaryData") or {})


def _item_keys(src: dict[str, Any]) -> list[Any]:
    return [item.get("key") for item in src.get("items") or [] if isinstance(item, dict)]


def _mounted(spec: dict[str, Any]) -> set[str]:
    """The volumes some container (init, regular or ephemeral) mounts or maps as a device."""
    out: set[str] = set()
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(kind) or []:
            if not isinstance(c, dict):
                continue
            for field in ("volumeMounts", "volumeDevices"):
                for m in c.get(field) or []:
                    if isinstance(m, dict) and isinstance(m.get("name"), str):
                        out.add(m["name"])
    return out


def keys_only(obj: dict[str, Any]) -> dict[str, Any]:
    """An informer transform keeping of a ConfigMap or Secret what the kubelet checks: its
    identity and key names (values emptied), so that a cache of many stays small."""
    md = obj.get("metadata") or {}
    out: dict[str, Any] = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", ""),
        "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in md},
    }
    for field in ("data", "binaryData"):
        d = obj.get(field)
        if isinstance(d, dict):
            out[field] = dict.fromkeys(d, "")
    return out


# ---------------------------------------------------------------------------- volumes
def configmap_error(src: dict[str, Any], obj: dict[str, Any] | None) -> str:
    """Why a configMap volume (or projected source) cannot be set up; "" when it can."""
    name = src.get("name") or ""
    return _source_error("configmap", name, src, obj, "configmap references non-existent config key", True)


def secret_error(src: dict[str, Any], name: str, obj: dict[str, Any] | None) -> str:
    """Why a secret volume (or projected source) named `name` cannot be set up; "" when it can."""
    return _source_error("secret", name, src, obj, "references non-existent secret key", False)


def _source_error(
    what: str, name: str, src: dict[str, Any], obj: dict[str, Any] | None, missing_key: str, binary: bool
) -> str:
    """The volume plugins' SetUp checks: the object (unless optional), then every item's key."""
    optional = _optional(src)
    if obj is None:
        if not optional:
            return f'{what} "{name}" not found'
        obj = {}
    for key in _item_keys(src):
        if not optional and not _has_key(obj, key, binary=binary):
            return f"{missing_key}: {key}"
    return ""


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several deduplicated in brackets."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _projected_failure(
    volume: str, projected: dict[str, Any], namespace: str, lookup: Lookup
) -> Failure | None:
    errors: list[str] = []
    refs: list[RefKey] = []
    for source in projected.get("sources") or []:
        if not isinstance(source, dict):
            continue
        cm, sec = source.get("configMap"), source.get("secret")
        if isinstance(cm, dict):
            ref = (namespace, CONFIGMAP, cm.get("name") or "")
            error = configmap_error(cm, lookup(ref))
        elif isinstance(sec, dict):
            ref = (namespace, SECRET, sec.get("name") or "")
            error = secret_error(sec, ref[2], lookup(ref))
        else:
            continue  # serviceAccountToken, downwardAPI, clusterTrustBundle: nothing to wait for
        if error:
            errors.append(error)
            refs.append(ref)
    return Failure(volume, _aggregate(errors), tuple(dict.fromkeys(refs))) if errors else None


def _volume_failure(vol: dict[str, Any], namespace: str, lookup: Lookup) -> Failure | None:
    name = vol.get("name") or ""
    cm, sec, projected = vol.get("configMap"), vol.get("secret"), vol.get("projected")
    if isinstance(cm, dict):
        ref = (namespace, CONFIGMAP, cm.get("name") or "")
        error = configmap_error(cm, lookup(ref))
        return Failure(name, error, (ref,)) if error else None
    if isinstance(sec, dict):
        ref = (namespace, SECRET, sec.get("secretName") or "")
        error = secret_error(sec, ref[2], lookup(ref))
        return Failure(name, error, (ref,)) if error else None
    if isinstance(projected, dict):
        return _projected_failure(name, projected, namespace, lookup)
    return None


def _needs_objects(vol: Any) -> bool:
    return isinstance(vol, dict) and any(
        isinstance(vol.get(k), dict) for k in ("configMap", "secret", "projected")
    )


def mount_failures(pod: dict[str, Any], lookup: Lookup) -> list[Failure]:
    """The pod's mounted volumes that cannot be set up now, in the spec's order."""
    spec = pod.get("spec") or {}
    candidates = [v for v in spec.get("volumes") or [] if _needs_objects(v)]
    if not candidates:
        return []
    namespace = (pod.get("metadata") or {}).get("namespace") or ""
    mounted = _mounted(spec)
    out = []
    for vol in candidates:
        if vol.get("name") in mounted:
            failure = _volume_failure(vol, namespace, lookup)
            if failure is not None:
                out.append(failure)
    return out


# ---------------------------------------------------------------------------- environment
def _env_from_error(namespace: str, source: dict[str, Any], lookup: Lookup) -> tuple[str, RefKey] | None:
    for field, kind, what in (("configMapRef", CONFIGMAP, "configmap"), ("secretRef", SECRET, "secret")):
        ref = source.get(field)
        if isinstance(ref, dict):
            key = (namespace, kind, ref.get("name") or "")
            if lookup(key) is None and not _optional(ref):
                return f'{what} "{key[2]}" not found', key
    return None


def _env_error(namespace: str, value_from: dict[str, Any], lookup: Lookup) -> tuple[str, RefKey] | None:
    for field, kind, what in (
        ("configMapKeyRef", CONFIGMAP, "configmap"),
        ("secretKeyRef", SECRET, "secret"),
    ):
        ref = value_from.get(field)
        if not isinstance(ref, dict):
            continue
        key = (namespace, kind, ref.get("name") or "")
        obj = lookup(key)
        if obj is None:
            return None if _optional(ref) else (f'{what} "{key[2]}" not found', key)
        if not _has_key(obj, ref.get("key"), binary=False) and not _optional(ref):
            return f"couldn't find key {ref.get('key')} in {kind} {namespace}/{key[2]}", key
    return None


def container_error(namespace: str, c: dict[str, Any], lookup: Lookup) -> tuple[str, RefKey] | None:
    """makeEnvironmentVariables' first error for container `c` (envFrom, then env), or None."""
    for source in c.get("envFrom") or []:
        if isinstance(source, dict) and (hit := _env_from_error(namespace, source, lookup)):
            return hit
    for env in c.get("env") or []:
        value_from = env.get("valueFrom") if isinstance(env, dict) else None
        if isinstance(value_from, dict) and (hit := _env_error(namespace, value_from, lookup)):
            return hit
    return None


def config_failures(pod: dict[str, Any], lookup: Lookup) -> list[Failure]:
    """The first init container that cannot be created, else the containers that cannot be."""
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or ""
    for c in spec.get("initContainers") or []:
        if isinstance(c, dict) and (hit := container_error(namespace, c, lookup)):
            return [Failure(c.get("name") or "", hit[0], (hit[1],), "initContainers")]
    out = []
    for c in spec.get("containers") or []:
        if isinstance(c, dict) and (hit := container_error(namespace, c, lookup)):
            out.append(Failure(c.get("name") or "", hit[0], (hit[1],), "containers"))
    return out
