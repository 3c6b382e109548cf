"""The kubeconfig Secret `vc-<name>` in the host namespace (spec §8.1 step 5, §10, §13.15).

vCluster writes the virtual cluster's admin kubeconfig into the host Secret `vc-<name>`, keys
`config` (the kubeconfig), `certificate-authority`, `client-certificate`, `client-key` and
`token` (each credential on its own, empty when the kubeconfig has none), labelled `app=vcluster`,
`vcluster-name=<name>`; tools that find a virtual cluster through the host read it from there.
Pure functions; engine/kubeconfigsecret.py writes it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import yaml

from vcluster.syncer.context import SyncContext

PREFIX = "vc-"
KEYS = ("config", "certificate-authority", "client-certificate", "client-key", "token")


def secret_name(vcluster: str) -> str:
    """`vc-<name>` (vCluster's kubeconfig.GetDefaultSecretName)."""
    return PREFIX + vcluster


def _named(kubeconfig: Mapping[str, Any], section: str, name: str, body: str) -> dict[str, Any]:
    for entry in kubeconfig.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            return dict(entry.get(body) or {})
    return {}


def _decoded(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def credentials(kubeconfig: Mapping[str, Any]) -> dict[str, bytes]:
    """The current context's CA, client certificate and key, and token (b"" where absent)."""
    ctx = _named(kubeconfig, "contexts", str(kubeconfig.get("current-context") or ""), "context")
    cluster = _named(kubeconfig, "clusters", str(ctx.get("cluster") or ""), "cluster")
    user = _named(kubeconfig, "users", str(ctx.get("user") or ""), "user")
    token = user.get("token")
    return {
        "certificate-authority": _decoded(cluster.get("certificate-authority-data")),
        "client-certificate": _decoded(user.get("client-certificate-data")),
        "client-key": _decoded(user.get("client-key-data")),
        "token": token.encode() if isinstance(token, str) else b"",
    }


def kubeconfig_secret(ctx: SyncContext, kubeconfig: Mapping[str, Any]) -> dict[str, Any]:
    """The host Secret `vc-<name>` carrying `kubeconfig` (owned by the vCluster Service when
    setOwner is on and its UID is known, as vCluster's owner reference)."""
    raw = {"config": yaml.safe_dump(dict(kubeconfig), sort_keys=False).encode(), **credentials(kubeconfig)}
    meta: dict[str, Any] = {
        "name": secret_name(ctx.vcluster),
        "namespace": ctx.host_namespace,
        "labels": {"app": "vcluster", "vcluster-name": ctx.vcluster},
    }
    if ctx.set_owner and ctx.owner_uid:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Service", "name": ctx.vcluster, "uid": ctx.owner_uid}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "Opaque",
        "data": {k: base64.b64encode(raw[k]).decode("ascii") for k in KEYS},
    }


def update_patch(current: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any] | None:
    """Merge patch bringing an existing Secret to `want` (data and our labels; other labels,
    annotations and keys someone added are left alone); None when nothing differs."""
    patch: dict[str, Any] = {}
    data = current.get("data") or {}
    changed = {k: v for k, v in (want.get("data") or {}).items() if data.get(k) != v}
    if changed:
        patch["data"] = changed
    labels = (current.get("metadata") or {}).get("labels") or {}
    want_labels = (want.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in want_labels.items()):
        patch["metadata"] = {"labels": dict(want_labels)}
    return patch or None
