"""Virtual → host name and label-key translation, exactly as vCluster does it (spec §1, §2.2)."""

from __future__ import annotations

import functools
import hashlib

MAX_NAME = 63
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"

# Virtual label keys that would collide with the syncer's own labels are hashed on the host (§2.2).
RESERVED_LABEL_KEYS = (
    "release",
    "vcluster.loft.sh/namespace",
    "vcluster.loft.sh/managed-by",
    "vcluster.loft.sh/controlled-by",
)
LABEL_PREFIX = "vcluster.loft.sh/label"
NS_LABEL_PREFIX = "vcluster.loft.sh/ns-label"


def safe_concat_name(*parts: str) -> str:
    """Join with '-'; past 63 bytes keep 52, add '-' and 10 hex of SHA-256 of the whole, collapse '.-'."""
    joined = "-".join(parts)
    if len(joined) <= MAX_NAME:
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:10]
    return (joined[:52] + "-" + digest).replace(".-", "-")


def host_name(name: str, namespace: str, vcluster: str) -> str:
    """`<name>-x-<namespace>-x-<vcluster>` for namespaced objects (single-namespace mode)."""
    if not name:
        return ""
    return safe_concat_name(name, "x", namespace, "x", vcluster)


def host_name_cluster(name: str, host_namespace: str, vcluster: str) -> str:
    """`vcluster-<name>-x-<hostns>-x-<vcluster>` for cluster-scoped objects synced to the host."""
    if not name:
        return ""
    return safe_concat_name("vcluster", name, "x", host_namespace, "x", vcluster)


def base36(data: bytes) -> str:
    """Big-endian base-36 digits, one leading '0' per leading zero byte."""
    n = int.from_bytes(data, "big")
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = _BASE36[r] + digits
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "0" * zeros + digits


def host_name_short(name: str, namespace: str, vcluster: str) -> str:
    """`v` + 13 base-36 digits of SHA-256 of the long form (always starts with a letter)."""
    digest = hashlib.sha256(f"{name}-x-{namespace}-x-{vcluster}".encode()).digest()
    return "v" + base36(digest)[:13]


def cluster_marker(host_namespace: str, vcluster: str) -> str:
    """The `managed-by` label value of cluster-scoped host objects."""
    return safe_concat_name(host_namespace, "x", vcluster)


@functools.lru_cache(maxsize=256)
def _hashed_key(prefix: str, key: str, vcluster: str) -> str:
    """A reserved key's host form (computed once per key and virtual cluster: a sync compares
    every label key against the four of them)."""
    return safe_concat_name(prefix, vcluster, "x", hashlib.sha256(key.encode()).hexdigest()[:10])


def label_key_to_host(key: str, vcluster: str) -> str:
    """Virtual label keys are copied unchanged except the four reserved ones, which are hashed."""
    return _hashed_key(LABEL_PREFIX, key, vcluster) if key in RESERVED_LABEL_KEYS else key


def label_key_from_host(key: str, vcluster: str) -> str | None:
    """The virtual key of a host label key; None for keys that never reach the virtual object."""
    for reserved in RESERVED_LABEL_KEYS:
        if key == _hashed_key(LABEL_PREFIX, reserved, vcluster):
            return reserved
    if key in RESERVED_LABEL_KEYS or key.startswith(NS_LABEL_PREFIX):
        return None
    return key


def ns_label_key(key: str, vcluster: str) -> str:
    """Host label key carrying a label of the pod's virtual namespace."""
    return _hashed_key(NS_LABEL_PREFIX, key, vcluster)


def gvk_string(group: str, version: str, kind: str) -> str:
    """Go's GroupVersionKind.String(): `/v1, Kind=Pod`, `apps/v1, Kind=Deployment`."""
    return f"{group}/{version}, Kind={kind}"
