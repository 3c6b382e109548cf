"""Front-proxy (requestheader) authentication, as k8s.io/apiserver 1.32's
pkg/authentication/request/headerrequest wrapped in request/x509's Verifier.

A request whose client certificate was issued by a CA of `--requestheader-client-ca-file` and whose
CN is in `--requestheader-allowed-names` (empty: any) is the user named by the first non-empty
username header, with every non-empty value of the group headers as groups and the extra headers
(`<prefix><key>`, key lower-cased and %-unescaped) as extra. Without a username header the
authenticator has nothing to say (the next one is asked); a certificate that is not the front
proxy's (another CA, a CN not allowed) is an authentication error that another authenticator may
still outweigh. `--requestheader-uid-headers` is not offered: in 1.32 it needs the alpha
RemoteRequestHeaderUID gate, off by default.

`CABundle` also serves the x509 client-certificate authenticator (auth.py), so that the two
CAs stay apart even though the TLS layer accepts certificates of both.
"""

from __future__ import annotations

import datetime as dt
import functools
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# kubeadm's values (cmd/kubeadm/app/phases/controlplane/manifests.go), our flags' defaults
DEFAULT_ALLOWED_NAMES: tuple[str, ...] = ("front-proxy-client",)
DEFAULT_USERNAME_HEADERS: tuple[str, ...] = ("X-Remote-User",)
DEFAULT_GROUP_HEADERS: tuple[str, ...] = ("X-Remote-Group",)
DEFAULT_EXTRA_PREFIXES: tuple[str, ...] = ("X-Remote-Extra-",)

HeaderUser = tuple[str, tuple[str, ...], dict[str, list[str]]]  # name, groups, extra


class CertificateRejected(Exception):
    """The client certificate does not authenticate through this authenticator (kube's error)."""


@dataclass(frozen=True)
class RequestHeaderOptions:
    """kube-apiserver's --requestheader-* and --proxy-client-* flags; files None: the data dir's."""

    client_ca_file: Path | None = None
    allowed_names: tuple[str, ...] = DEFAULT_ALLOWED_NAMES
    username_headers: tuple[str, ...] = DEFAULT_USERNAME_HEADERS
    group_headers: tuple[str, ...] = DEFAULT_GROUP_HEADERS
    extra_headers_prefix: tuple[str, ...] = DEFAULT_EXTRA_PREFIXES
    proxy_client_cert_file: Path | None = None
    proxy_client_key_file: Path | None = None

    def __post_init__(self) -> None:
        for flag, values in (
            ("--requestheader-username-headers", self.username_headers),
            ("--requestheader-group-headers", self.group_headers),
            ("--requestheader-extra-headers-prefix", self.extra_headers_prefix),
        ):
            object.__setattr__(self, _attr(flag), trim_headers(flag, values))
        if (self.proxy_client_cert_file is None) != (self.proxy_client_key_file is None):
            raise ValueError("--proxy-client-cert-file and --proxy-client-key-file must be given together")


def _attr(flag: str) -> str:
    return flag.removeprefix("--requestheader-").replace("-", "_")


def trim_headers(flag: str, names: Iterable[str]) -> tuple[str, ...]:
    """headerrequest.trimHeaders: names trimmed; an empty one is an error."""
    out = []
    for name in names:
        trimmed = name.strip()
        if not trimmed:
            raise ValueError(f"{flag}: empty header {name!r}")
        out.append(trimmed)
    return tuple(out)


def parse_ca_bundle(pem: bytes, source: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle (ValueError when there are none or one is broken)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise ValueError(f"error loading certs from {source}: {e}") from None
    return certs


class CABundle:
    """A set of trusted CA certificates; `issued(cert)`: `cert` is valid now, usable for client
    auth and signed directly by one of them (signature checks are cached per certificate)."""

    def __init__(self, certs: Iterable[x509.Certificate]) -> None:
        self.certs = list(certs)
        self._ders = tuple(c.public_bytes(serialization.Encoding.DER) for c in self.certs)

    def issued(self, cert: x509.Certificate) -> bool:
        if not usable_for_client_auth(cert):
            return False
        return _signed_by_der(cert.public_bytes(serialization.Encoding.DER), self._ders)


@functools.lru_cache(maxsize=256)
def _signed_by_der(cert_der: bytes, roots_der: tuple[bytes, ...]) -> bool:
    cert = x509.load_der_x509_certificate(cert_der)
    return signed_by(cert, [x509.load_der_x509_certificate(r) for r in roots_der])


@functools.lru_cache(maxsize=256)
def parse_der(der: bytes) -> x509.Certificate | None:
    """A peer certificate from its DER bytes (None if broken)."""
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def usable_for_client_auth(cert: x509.Certificate) -> bool:
    """Within its validity period, with the clientAuth (or any) usage or no EKU (Go's verifier)."""
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return False
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.CLIENT_AUTH in eku or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku


def signed_by(cert: x509.Certificate, roots: Iterable[x509.Certificate]) -> bool:
    """Signed directly by one of `roots` (our CAs issue leaves directly; no intermediates)."""
    for root in roots:
        if root.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def common_name(cert: x509.Certificate) -> str:
    """The subject CN as Go's pkix.Name keeps it (the last one)."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[-1].value) if cns else ""


@dataclass
class RequestHeaderAuthenticator:
    """The front-proxy authenticator of one API server."""

    cas: CABundle
    options: RequestHeaderOptions = field(default_factory=RequestHeaderOptions)

    def authenticate(self, cert: x509.Certificate | None, headers: Mapping[str, str]) -> HeaderUser | None:
        """(name, groups, extra) of the front proxy's user; None when this authenticator does not
        apply (no certificate, no username header); CertificateRejected for another's certificate."""
        if cert is None:
            return None
        if not self.cas.issued(cert):
            raise CertificateRejected("verifying certificate failed: not signed by the requestheader CA")
        allowed = self.options.allowed_names
        if allowed and common_name(cert) not in allowed:
            raise CertificateRejected(f"x509: subject with cn={common_name(cert)} is not in the allowed list")
        name = next((v for h in self.options.username_headers if (v := _first(headers, h))), "")
        if not name:
            return None
        groups = [v for h in self.options.group_headers for v in _all(headers, h) if v]
        return name, tuple(groups), new_extra(headers, self.options.extra_headers_prefix)


def _first(headers: Mapping[str, str], name: str) -> str:
    """http.Header.Get: the first value (case-insensitively)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        values = getall(name, [])
        return str(values[0]) if values else ""
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), "")


def _all(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return [str(v) for v in getall(name, [])]
    return [str(v) for k, v in headers.items() if k.lower() == name.lower()]


def new_extra(headers: Mapping[str, str], prefixes: Iterable[str]) -> dict[str, list[str]]:
    """headerrequest.newExtra: per prefix, every header starting with it (case-insensitively)."""
    out: dict[str, list[str]] = {}
    for prefix in prefixes:
        for k, v in headers.items():
            if len(k) >= len(prefix) and k[: len(prefix)].lower() == prefix.lower():
                out.setdefault(unescape_extra_key(k[len(prefix) :].lower()), []).append(str(v))
    return out


def unescape_extra_key(encoded: str) -> str:
    """url.PathUnescape, the encoded key kept when it is malformed."""
    i = 0
    while (i := encoded.find("%", i)) >= 0:
        if len(encoded) < i + 3 or any(c not in "0123456789abcdefABCDEF" for c in encoded[i + 1 : i + 3]):
            return encoded
        i += 3
    return urllib.parse.unquote(encoded, errors="surrogateescape")


@dataclass
class FrontProxy:
    """What one API server uses of the front-proxy setup: the requestheader CA bundle (PEM, for the
    TLS layer and the ConfigMap), its authenticator and the aggregator's client certificate."""

    ca_pem: bytes
    authenticator: RequestHeaderAuthenticator
    client_cert: Path
    client_key: Path

    @property
    def options(self) -> RequestHeaderOptions:
        return self.authenticator.options


def load_front_proxy(
    options: RequestHeaderOptions, ca_file: Path, cert_file: Path, key_file: Path
) -> FrontProxy:
    """The front proxy of `options`, the given files standing in for the flags left unset (the data
    dir's front-proxy CA and client certificate). ValueError for an unreadable or empty CA bundle."""
    ca_path = options.client_ca_file or ca_file
    try:
        pem = ca_path.read_bytes()
    except OSError as e:
        raise ValueError(f"error reading {ca_path}: {e.strerror or e}") from None
    certs = parse_ca_bundle(pem, str(ca_path))
    return FrontProxy(
        ca_pem=pem,
        authenticator=RequestHeaderAuthenticator(CABundle(certs), options),
        client_cert=options.proxy_client_cert_file or cert_file,
        client_key=options.proxy_client_key_file or key_file,
    )
