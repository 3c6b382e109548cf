"""Pod volume translation: references, SA tokens (§3.4) and hostPath rewriting (§3.7)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vcluster.controllers.base import ephemeral_claim_name
from vcluster.syncer import constants as c
from vcluster.syncer import kinds
from vcluster.syncer.context import SyncContext
from vcluster.syncer.podenv import translate_field_ref
from vcluster.syncer.refs import RefRecorder

TOKEN_EXPIRATION_SECONDS = 10 * 365 * 24 * 60 * 60  # 315 360 000 s, never refreshed
TOKEN_FILE_MODE = 0o644
PHYSICAL_SUFFIX = "vcluster-physical"
POD_LOGS_PATH = "/var/log/pods"
LOGS_PATH = "/var/log"
KUBELET_PODS_PATH = "/var/lib/kubelet/pods"
_PHYSICAL_MOUNTS = {
    POD_LOGS_PATH: "/var/vcluster/physical/log/pods",
    LOGS_PATH: "/var/vcluster/physical/log",
    KUBELET_PODS_PATH: "/var/vcluster/physical/kubelet/pods",
}

TokenSuffix = Callable[[str], str]
HostUidLookup = Callable[[str], "str | None"]


class TranslationError(Exception):
    """Translation cannot proceed yet (missing token, unknown DNS IP, …); the engine retries."""


@dataclass(frozen=True)
class TokenRequest:
    """A TokenRequest the engine must send to the virtual API server before translating the pod."""

    key: str
    namespace: str
    service_account: str
    audiences: tuple[str, ...]
    pod_name: str
    pod_uid: str
    expiration_seconds: int = TOKEN_EXPIRATION_SECONDS

    def body(self) -> dict[str, Any]:
        """The authentication.k8s.io/v1 TokenRequest to POST to `serviceaccounts/<sa>/token`."""
        return {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": list(self.audiences),
                "expirationSeconds": self.expiration_seconds,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": self.pod_name,
                    "uid": self.pod_uid,
                },
            },
        }


def pod_service_account(vpod: Mapping[str, Any]) -> str:
    """The pod's virtual SA: serviceAccountName, else the deprecated field, else `default`."""
    spec = vpod.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


def default_audiences(cluster_domain: str) -> tuple[str, ...]:
    """Audiences of a projected token without an explicit audience."""
    return (
        f"https://kubernetes.default.svc.{cluster_domain}",
        "https://kubernetes.default.svc",
        "https://kubernetes.default",
    )


def token_key(volume: str, index: int) -> str:
    """Key of one projected `serviceAccountToken` source: `<volume>/<source index>`."""
    return f"{volume}/{index}"


def token_requests(vpod: Mapping[str, Any], ctx: SyncContext) -> list[TokenRequest]:
    """Every token the pod's projected volumes need, bound to the virtual pod, valid 10 years."""
    m = vpod.get("metadata") or {}
    out = []
    for vol in (vpod.get("spec") or {}).get("volumes") or []:
        for i, src in enumerate((vol.get("projected") or {}).get("sources") or []):
            sat = src.get("serviceAccountToken")
            if sat is None:
                continue
            audiences = (sat["audience"],) if sat.get("audience") else default_audiences(ctx.cluster_domain)
            out.append(
                TokenRequest(
                    token_key(vol.get("name", ""), i),
                    m.get("namespace", ""),
                    pod_service_account(vpod),
                    audiences,
                    m.get("name", ""),
                    m.get("uid", ""),
                )
            )
    return out


def default_token_suffix(seed: str) -> str:
    """8 lowercase letters derived from `seed` (deterministic stand-in for vCluster's random suffix)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:8])


def token_secret_name(ctx: SyncContext, pod_name: str, namespace: str) -> str:
    """Host Secret holding a pod's tokens in `useSecretsForSATokens` mode."""
    return ctx.host_name_for(kinds.SECRET, f"{pod_name}-sa-token", namespace)


def token_secret(ctx: SyncContext, vpod: Mapping[str, Any], tokens: Mapping[str, str]) -> dict[str, Any]:
    """The Opaque host Secret (key = volume name), skip-backsync, owned by the vCluster Service."""
    m = vpod.get("metadata") or {}
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": token_secret_name(ctx, m.get("name", ""), m.get("namespace", "")),
            "namespace": ctx.host_namespace,
            "annotations": {c.SKIP_BACKSYNC_ANNOTATION: "true"},
        },
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in tokens.items()},
    }
    if ctx.set_owner and ctx.owner_uid:
        secret["metadata"]["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "name": ctx.vcluster,
                "uid": ctx.owner_uid,
                "controller": False,
            }
        ]
    return secret


def translate_volumes(
    pod: dict[str, Any],
    vpod: Mapping[str, Any],
    refs: RefRecorder,
    tokens: Mapping[str, str],
    token_suffix: TokenSuffix | None = None,
) -> dict[str, str]:
    """Rewrite `pod`'s volumes in place; returns the secret-mode token data (volume name → token)."""
    ns = (vpod.get("metadata") or {}).get("namespace", "")
    pod_name = (vpod.get("metadata") or {}).get("name", "")
    secret_tokens: dict[str, str] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        _translate_volume(vol, ns, pod_name, refs)
        if vol.get("projected"):
            _translate_projected(vol, pod, vpod, refs, tokens, token_suffix, secret_tokens)
    return secret_tokens


def _rename(obj: dict[str, Any] | None, field: str, kind: kinds.Kind, ns: str, refs: RefRecorder) -> None:
    if obj and obj.get(field):
        obj[field] = refs.host(kind, obj[field], ns)


def _translate_volume(vol: dict[str, Any], ns: str, pod_name: str, refs: RefRecorder) -> None:
    _rename(vol.get("configMap"), "name", kinds.CONFIGMAP, ns, refs)
    _rename(vol.get("secret"), "secretName", kinds.SECRET, ns, refs)
    _rename(vol.get("persistentVolumeClaim"), "claimName", kinds.PVC, ns, refs)
    if vol.get("ephemeral") is not None:
        # The virtual ephemeral-volume controller creates PVC `<pod>-<volume>`; use its host copy.
        claim = refs.host(kinds.PVC, ephemeral_claim_name(pod_name, vol), ns)
        vol.pop("ephemeral")
        vol["persistentVolumeClaim"] = {"claimName": claim}
    for item in (vol.get("downwardAPI") or {}).get("items") or []:
        translate_field_ref(item.get("fieldRef"), refs.ctx.vcluster)
    for source in ("iscsi", "rbd", "flexVolume", "cinder", "cephfs", "scaleIO", "storageos"):
        _rename((vol.get(source) or {}).get("secretRef"), "name", kinds.SECRET, ns, refs)
    _rename(vol.get("azureFile"), "secretName", kinds.SECRET, ns, refs)
    _rename((vol.get("csi") or {}).get("nodePublishSecretRef"), "name", kinds.SECRET, ns, refs)
    _rename(vol.get("glusterfs"), "endpoints", kinds.ENDPOINTS, ns, refs)


def _translate_projected(
    vol: dict[str, Any],
    pod: dict[str, Any],
    vpod: Mapping[str, Any],
    refs: RefRecorder,
    tokens: Mapping[str, str],
    token_suffix: TokenSuffix | None,
    secret_tokens: dict[str, str],
) -> None:
    ctx = refs.ctx
    vm = vpod.get("metadata") or {}
    ns, vol_name = vm.get("namespace", ""), vol.get("name", "")
    for i, src in enumerate(vol["projected"].get("sources") or []):
        _rename(src.get("secret"), "name", kinds.SECRET, ns, refs)
        _rename(src.get("configMap"), "name", kinds.CONFIGMAP, ns, refs)
        for item in (src.get("downwardAPI") or {}).get("items") or []:
            translate_field_ref(item.get("fieldRef"), ctx.vcluster)
        sat = src.pop("serviceAccountToken", None)
        if sat is None:
            continue
        key = token_key(vol_name, i)
        token = tokens.get(key)
        if not token:
            raise TranslationError(f"missing service account token for volume {vol_name!r} (source {i})")
        path = sat.get("path", "")
        if ctx.use_secrets_for_sa_tokens:
            secret_tokens[vol_name] = token
            src["secret"] = {
                "name": token_secret_name(ctx, vm.get("name", ""), ns),
                "items": [{"key": vol_name, "path": path, "mode": TOKEN_FILE_MODE}],
            }
            continue
        annotations = pod["metadata"].setdefault("annotations", {})
        suffix_of = token_suffix or default_token_suffix
        attempt = 0
        while True:
            seed = f"{vm.get('uid', '')}/{key}/{attempt}"
            name = c.TOKEN_ANNOTATION_PREFIX + suffix_of(seed)
            if not annotations.get(name):
                break
            attempt += 1
        annotations[name] = token
        src["downwardAPI"] = {
            "items": [
                {
                    "path": path,
                    "fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.annotations['{name}']"},
                    "mode": TOKEN_FILE_MODE,
                }
            ]
        }


# ---------------------------------------------------------------- hostPath (§3.7)


def _virtual_paths(ctx: SyncContext) -> dict[str, str]:
    base = f"/tmp/vcluster/{ctx.host_namespace}/{ctx.vcluster}"
    return {
        POD_LOGS_PATH: f"{base}/log/pods",
        LOGS_PATH: f"{base}/log",
        KUBELET_PODS_PATH: f"{base}/kubelet/pods",
    }


def rewrite_host_paths(
    pod: dict[str, Any], ctx: SyncContext, host_uid_for: HostUidLookup | None = None
) -> None:
    """Redirect log/kubelet hostPaths into the vCluster's directory; HostToContainer propagation."""
    spec = pod.get("spec") or {}
    volumes = spec.get("volumes") or []
    if not volumes:
        return
    targets = _virtual_paths(ctx)
    physical_done: dict[str, set[str]] = {p: set() for p in targets}
    for vol in list(volumes):
        hp = vol.get("hostPath")
        if not hp or vol.get("name", "").endswith(PHYSICAL_SUFFIX):
            continue
        path = (hp.get("path") or "").rstrip("/") or hp.get("path", "")
        if path in targets:
            hp["path"] = targets[path]
            if ctx.host_path_mapper:
                _add_physical(spec, vol, path, physical_done[path])
        elif path.startswith(KUBELET_PODS_PATH + "/") and host_uid_for is not None:
            rest = path[len(KUBELET_PODS_PATH) + 1 :]
            vuid, _, tail = rest.partition("/")
            huid = host_uid_for(vuid)
            if huid:
                hp["path"] = f"{KUBELET_PODS_PATH}/{huid}" + (f"/{tail}" if tail else "")
    for container in spec.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPath") in targets:
                mount["mountPropagation"] = "HostToContainer"


def _add_physical(spec: dict[str, Any], vol: Mapping[str, Any], path: str, done: set[str]) -> None:
    name = f"{vol['name']}-{PHYSICAL_SUFFIX}"
    hp: dict[str, Any] = {"path": path}
    if vol["hostPath"].get("type") is not None:
        hp["type"] = vol["hostPath"]["type"]
    spec["volumes"].append({"name": name, "hostPath": hp})
    for container in spec.get("containers") or []:
        if container.get("name") in done:
            continue
        for mount in list(container.get("volumeMounts") or []):
            if mount.get("name") == vol["name"]:
                container["volumeMounts"].append({**mount, "name": name, "mountPath": _PHYSICAL_MOUNTS[path]})
                done.add(container.get("name", ""))


def token_secret_owner_patch(
    secret: Mapping[str, Any], host_pod: Mapping[str, Any], ctx: SyncContext
) -> dict[str, Any] | None:
    """Merge patch re-owning the token Secret by its host pod instead of the vCluster Service (§3.9e)."""
    pm = host_pod.get("metadata") or {}
    if not pm.get("uid"):
        return None
    pod_ref = {"apiVersion": "v1", "kind": "Pod", "name": pm.get("name", ""), "uid": pm["uid"]}
    owners = [dict(o) for o in (secret.get("metadata") or {}).get("ownerReferences") or []]
    if any(o.get("kind") == "Pod" and o.get("uid") == pm["uid"] for o in owners):
        return None
    replaced = False
    for i, o in enumerate(owners):
        if ctx.owner_uid and o.get("uid") == ctx.owner_uid:
            owners[i], replaced = pod_ref, True
            break
    if not replaced:
        owners.append(pod_ref)
    return {"metadata": {"ownerReferences": owners}}
