"""kube-apiserver's cluster authentication trust controller (1.32
pkg/controlplane/controller/clusterauthenticationtrust, the `start-cluster-authentication-info-controller`
post-start hook), run inside the API server process.

It keeps `kube-system/extension-apiserver-authentication` holding what aggregated API servers need to
trust this server: `client-ca-file` (--client-ca-file) and, with a requestheader CA,
`requestheader-client-ca-file`, `requestheader-allowed-names`, `requestheader-username-headers`,
`requestheader-group-headers` and `requestheader-extra-headers-prefix` (JSON arrays as Go's
json.Marshal writes them). What is stored is combined with what is required, as upstream does: the
CA bundles keep the stored certificates first (expired ones dropped, duplicates removed), the lists
keep the stored names first; `requestheader-uid-headers` is neither read nor written (1.32's
RemoteRequestHeaderUID gate is off) and other keys are dropped. Nothing is written when the result
equals what is stored. It syncs at start, when the ConfigMap changes and every minute.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from vcluster.client import ApiError
from vcluster.client.workqueue import WorkQueue

if TYPE_CHECKING:
    from vcluster.client import Client

log = logging.getLogger("vcluster.controllers.clusterauthtrust")

NAMESPACE = "kube-system"
NAME = "extension-apiserver-authentication"
KEY = f"{NAMESPACE}/{NAME}"
RESYNC_SECONDS = 60.0  # "run once a minute just to be sure we stay in sync"
EXPIRY_SLACK = dt.timedelta(minutes=5)  # filterExpiredCerts


@dataclass(frozen=True)
class AuthenticationInfo:
    """ClusterAuthenticationInfo: None for what is not set."""

    client_ca: bytes | None = None
    requestheader_ca: bytes | None = None
    username_headers: tuple[str, ...] | None = None
    group_headers: tuple[str, ...] | None = None
    extra_header_prefixes: tuple[str, ...] | None = None
    allowed_names: tuple[str, ...] | None = None


def go_json_strings(values: tuple[str, ...]) -> str:
    """json.Marshal of a []string: compact, HTML characters and U+2028/2029 escaped."""
    out = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        out = out.replace(ch, esc)
    return out.replace("\u2029", "\\u2029")


def _json_strings(text: str | None, key: str) -> tuple[str, ...] | None:
    """jsonDeserializeStringSlice: None for an empty value, ValueError for anything but a string list."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{key}: {e}") from None
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key}: json: cannot unmarshal {text!r} into Go value of type []string")
    return tuple(value)


def info_from_data(data: dict[str, str]) -> AuthenticationInfo:
    """getClusterAuthenticationInfoFor (ValueError for malformed stored data)."""
    return AuthenticationInfo(
        client_ca=data["client-ca-file"].encode() if data.get("client-ca-file") else None,
        requestheader_ca=(
            data["requestheader-client-ca-file"].encode()
            if data.get("requestheader-client-ca-file")
            else None
        ),
        username_headers=_json_strings(data.get("requestheader-username-headers"), "username headers"),
        group_headers=_json_strings(data.get("requestheader-group-headers"), "group headers"),
        extra_header_prefixes=_json_strings(data.get("requestheader-extra-headers-prefix"), "extra prefixes"),
        allowed_names=_json_strings(data.get("requestheader-allowed-names"), "allowed names"),
    )


def _unique(lhs: tuple[str, ...] | None, rhs: tuple[str, ...] | None) -> tuple[str, ...]:
    """combineUniqueStringSlices."""
    out: list[str] = []
    for v in (*(lhs or ()), *(rhs or ())):
        if v not in out:
            out.append(v)
    return tuple(out)


def _certs(pem: bytes) -> list[x509.Certificate]:
    """cert.ParseCertsPEM (ValueError when the bundle holds no certificate or a broken one)."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise ValueError(f"data does not contain any valid RSA or ECDSA certificates: {e}") from None


def _combine_certs(lhs: bytes | None, rhs: bytes | None, now: dt.datetime) -> bytes | None:
    """combineCertLists: both bundles, unexpired (5 minutes of slack), without duplicates."""
    certs = [*(_certs(lhs) if lhs else []), *(_certs(rhs) if rhs else [])]
    ders: list[bytes] = []
    for c in certs:
        if c.not_valid_after_utc <= now - EXPIRY_SLACK:
            continue
        der = c.public_bytes(serialization.Encoding.DER)
        if der not in ders:
            ders.append(der)
    if not ders:
        return None
    return b"".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM) for d in ders)


def combined(existing: AuthenticationInfo, required: AuthenticationInfo) -> AuthenticationInfo:
    """combinedClusterAuthenticationInfo (stored first)."""
    now = dt.datetime.now(dt.UTC)
    return AuthenticationInfo(
        client_ca=_combine_certs(existing.client_ca, required.client_ca, now),
        requestheader_ca=_combine_certs(existing.requestheader_ca, required.requestheader_ca, now),
        username_headers=_unique(existing.username_headers, required.username_headers),
        group_headers=_unique(existing.group_headers, required.group_headers),
        extra_header_prefixes=_unique(existing.extra_header_prefixes, required.extra_header_prefixes),
        allowed_names=_unique(existing.allowed_names, required.allowed_names),
    )


def data_for(info: AuthenticationInfo) -> dict[str, str]:
    """getConfigMapDataFor."""
    data: dict[str, str] = {}
    if info.client_ca:
        data["client-ca-file"] = info.client_ca.decode()
    if info.requestheader_ca:
        data["requestheader-username-headers"] = go_json_strings(info.username_headers or ())
        data["requestheader-group-headers"] = go_json_strings(info.group_headers or ())
        data["requestheader-extra-headers-prefix"] = go_json_strings(info.extra_header_prefixes or ())
        data["requestheader-client-ca-file"] = info.requestheader_ca.decode()
        data["requestheader-allowed-names"] = go_json_strings(info.allowed_names or ())
    return data


class ClusterAuthenticationTrustController:
    """Keeps kube-system/extension-apiserver-authentication current; `watch_event` requeues it."""

    def __init__(self, client: Client, required: AuthenticationInfo, resync: float = RESYNC_SECONDS) -> None:
        self.client = client
        self.required = required
        self.resync = resync
        self.queue = WorkQueue("cluster_authentication_trust_controller", base_delay=0.05, max_delay=30.0)
        self.writes = 0  # ConfigMap creates and updates, for tests and logs

    def enqueue(self) -> None:
        self.queue.add(KEY)

    async def run(self) -> None:
        self.queue.add(KEY)
        await self.queue.run(self.sync, 1)

    def stop(self) -> None:
        self.queue.shutdown()

    async def sync(self, key: str) -> None:
        try:
            await self.sync_config_map()
        finally:
            self.queue.add_after(KEY, self.resync)

    async def sync_config_map(self) -> None:
        """syncConfigMap."""
        try:
            original: dict[str, Any] | None = await self.client.get("v1", "configmaps", NAME, NAMESPACE)
        except ApiError as e:
            if not e.not_found:
                raise
            original = None
        data = dict((original or {}).get("data") or {})
        try:
            info = combined(info_from_data(data), self.required)
        except ValueError as e:
            log.error("%s: cannot read the stored authentication info: %s", KEY, e)
            raise
        wanted = data_for(info)
        if original is not None and wanted == data:
            return
        log.info("writing updated authentication info to %s configmaps/%s", NAMESPACE, NAME)
        await self._ensure_namespace()
        if original is None:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"namespace": NAMESPACE, "name": NAME},
            }
            await self.client.create("v1", "configmaps", {**body, "data": wanted}, NAMESPACE)
        else:
            await self.client.update("v1", "configmaps", {**original, "data": wanted}, NAMESPACE)
        self.writes += 1

    async def _ensure_namespace(self) -> None:
        """createNamespaceIfNeeded."""
        try:
            await self.client.get("v1", "namespaces", NAMESPACE)
            return
        except ApiError as e:
            if not e.not_found:
                raise
        try:
            await self.client.create(
                "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
            )
        except ApiError as e:
            if e.reason != "AlreadyExists":
                raise
