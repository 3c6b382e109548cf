"""A small PKI for the API server: CA, serving certificate, admin client certificate, SA signing keys,
and kubeadm's front-proxy pair (a CA of its own and the `front-proxy-client` certificate the aggregator
presents to aggregated API servers).

Everything lives in one directory. `ensure_pki` is idempotent: existing, valid material is reused
byte for byte; only what is missing, broken, expiring or (for the serving certificate) lacking a
requested host is (re)generated. The CA is never replaced while it is valid, so kubeconfigs written
earlier keep working after a restart or after binding to a new address.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vcluster.fsutil import write_atomic

CA_CN = "vcluster-ca"
SERVER_CN = "kube-apiserver"
ADMIN_CN = "kubernetes-admin"
ADMIN_ORG = "system:masters"
KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"  # kubeadm's name for the API server's kubelet identity
FRONT_PROXY_CA_CN = "front-proxy-ca"  # kubeadm's front-proxy CA, kept apart from the cluster CA
FRONT_PROXY_CLIENT_CN = "front-proxy-client"  # kubeadm's --proxy-client-cert-file subject

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
# Leaf certificates with less than this left are renewed on the next start; a CA with less than
# this left is replaced (together with everything it signed).
RENEW_BEFORE = dt.timedelta(days=30)
BACKDATE = dt.timedelta(hours=1)  # tolerate small clock skew between client and server

DEFAULT_DNS_SANS: tuple[str, ...] = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
DEFAULT_IP_SANS: tuple[str, ...] = ("127.0.0.1", "::1")


@dataclass
class PKI:
    """Paths of the PKI files (all inside one directory) and the CA certificate PEM."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    kubelet_client_cert: Path  # what the API server presents to kubelets (logs, exec, attach)
    kubelet_client_key: Path
    sa_key: Path  # RSA 2048 private key (PKCS#8 PEM) for signing service-account JWTs (RS256)
    sa_pub: Path  # its public key (SubjectPublicKeyInfo PEM)
    front_proxy_ca_cert: Path  # --requestheader-client-ca-file
    front_proxy_ca_key: Path
    front_proxy_client_cert: Path  # --proxy-client-cert-file (CN front-proxy-client, no O)
    front_proxy_client_key: Path  # --proxy-client-key-file
    ca_pem: bytes


def pki_paths(pki_dir: Path) -> dict[str, Path]:
    return {
        "ca_cert": pki_dir / "ca.crt",
        "ca_key": pki_dir / "ca.key",
        "server_cert": pki_dir / "apiserver.crt",
        "server_key": pki_dir / "apiserver.key",
        "admin_cert": pki_dir / "admin.crt",
        "admin_key": pki_dir / "admin.key",
        "kubelet_client_cert": pki_dir / "apiserver-kubelet-client.crt",
        "kubelet_client_key": pki_dir / "apiserver-kubelet-client.key",
        "sa_key": pki_dir / "sa.key",
        "sa_pub": pki_dir / "sa.pub",
        "front_proxy_ca_cert": pki_dir / "front-proxy-ca.crt",
        "front_proxy_ca_key": pki_dir / "front-proxy-ca.key",
        "front_proxy_client_cert": pki_dir / "front-proxy-client.crt",
        "front_proxy_client_key": pki_dir / "front-proxy-client.key",
    }


# --------------------------------------------------------------------------------------------- helpers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> CertificateIssuerPrivateKeyTypes | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        return key
    return None


def _public_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pair_ok(cert: x509.Certificate | None, key: CertificateIssuerPrivateKeyTypes | None) -> bool:
    """Certificate and key exist, belong together and the certificate is not about to expire."""
    if cert is None or key is None:
        return False
    if _public_der(cert.public_key()) != _public_der(key.public_key()):
        return False
    now = _now()
    return cert.not_valid_before_utc <= now + BACKDATE and cert.not_valid_after_utc - now > RENEW_BEFORE


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _parse_hosts(hosts: list[str]) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    """Split host entries into DNS names and IP addresses (defaults first, no duplicates).

    `[v6]` brackets are stripped; the unspecified addresses (0.0.0.0, ::) are skipped since no
    client connects to them; DNS names are lower-cased.
    """
    dns: list[str] = list(DEFAULT_DNS_SANS)
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [
        ipaddress.ip_address(a) for a in DEFAULT_IP_SANS
    ]
    for raw in hosts:
        h = raw.strip()
        if h.startswith("[") and h.endswith("]"):
            h = h[1:-1]
        if not h:
            continue
        try:
            ip = ipaddress.ip_address(h)
        except ValueError:
            name = h.lower().rstrip(".")
            if not name.isascii():
                try:
                    name = name.encode("idna").decode("ascii")
                except UnicodeError as e:
                    raise ValueError(f"invalid host name for the serving certificate: {raw!r}") from e
            if name and name not in dns:
                dns.append(name)
            continue
        if ip.is_unspecified:
            continue
        if ip not in ips:
            ips.append(ip)
    return dns, ips


def _sans(cert: x509.Certificate) -> tuple[set[str], set[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    dns = {d.lower() for d in ext.get_values_for_type(x509.DNSName)}
    ips = {
        ip
        for ip in ext.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    }
    return dns, ips


# --------------------------------------------------------------------------------------------- builders


def _make_ca(cn: str = CA_CN) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: x509.SubjectAlternativeName | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_ec_key()
    now = _now()
    not_after = min(now + LEAF_VALIDITY, ca_cert.not_valid_after_utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if sans is not None:
        b = b.add_extension(sans, critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


# --------------------------------------------------------------------------------------------- public API


@contextlib.contextmanager
def _dir_lock(pki_dir: Path) -> Iterator[None]:
    """Serialize concurrent `ensure_pki` calls on the same directory (several processes starting)."""
    fd = os.open(pki_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _ensure_ca(
    cert_path: Path, key_path: Path, cn: str
) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes, bool]:
    """A CA kept while valid, else a new one: (certificate, key, whether it is new)."""
    cert, key = _load_cert(cert_path), _load_key(key_path)
    if _pair_ok(cert, key):
        assert cert is not None and key is not None
        return cert, key, False
    cert, key = _make_ca(cn)
    write_atomic(key_path, _key_pem(key), 0o600)
    write_atomic(cert_path, _cert_pem(cert), 0o644)
    return cert, key, True


def _ensure_client(
    cert_path: Path,
    key_path: Path,
    ca: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes, bool],
    subject: x509.Name,
) -> None:
    """A client certificate of `ca`, kept while valid and issued by it, else (re)issued."""
    ca_cert, ca_key, new_ca = ca
    old_cert = _load_cert(cert_path)
    ok = not new_ca and _pair_ok(old_cert, _load_key(key_path))
    if not ok or old_cert is None or not _issued_by(old_cert, ca_cert):
        cert, key = _make_leaf(ca_cert, ca_key, subject, ExtendedKeyUsageOID.CLIENT_AUTH)
        write_atomic(key_path, _key_pem(key), 0o600)
        write_atomic(cert_path, _cert_pem(cert), 0o644)


def ensure_pki(pki_dir: Path, hosts: list[str]) -> PKI:
    """Create (or reuse) the CA, serving certificate, admin client certificate and SA key pair."""
    pki_dir = Path(pki_dir)
    if not pki_dir.is_dir():
        pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(pki_dir, 0o700)  # mkdir's mode is filtered by the umask
    p = pki_paths(pki_dir)
    with _dir_lock(pki_dir):
        # CA: keep a valid one, otherwise start over (which invalidates every leaf below).
        ca = _ensure_ca(p["ca_cert"], p["ca_key"], CA_CN)
        ca_cert, ca_key, new_ca = ca

        # Serving certificate: also regenerated when a requested host is not among its SANs.
        dns, ips = _parse_hosts(hosts)
        srv_cert = _load_cert(p["server_cert"])
        srv_ok = not new_ca and _pair_ok(srv_cert, _load_key(p["server_key"]))
        if srv_ok:
            assert srv_cert is not None
            have_dns, have_ips = _sans(srv_cert)
            srv_ok = _issued_by(srv_cert, ca_cert) and set(dns) <= have_dns and set(ips) <= have_ips
        if not srv_ok:
            if srv_cert is not None and not new_ca:
                # Keep the names of the previous certificate so addresses used before stay valid.
                old_dns, old_ips = _sans(srv_cert)
                dns += sorted(old_dns - set(dns))
                ips += sorted(old_ips - set(ips), key=lambda a: (a.version, int(a)))
            sans = x509.SubjectAlternativeName(
                [x509.DNSName(d) for d in dns] + [x509.IPAddress(ip) for ip in ips]
            )
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_CN)])
            cert, key = _make_leaf(ca_cert, ca_key, subject, ExtendedKeyUsageOID.SERVER_AUTH, sans)
            write_atomic(p["server_key"], _key_pem(key), 0o600)
            write_atomic(p["server_cert"], _cert_pem(cert), 0o644)

        # Client certificates: the admin's, and the API server's own toward kubelets.
        for which, cn in (("admin", ADMIN_CN), ("kubelet_client", KUBELET_CLIENT_CN)):
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ADMIN_ORG),
                    x509.NameAttribute(NameOID.COMMON_NAME, cn),
                ]
            )
            _ensure_client(p[f"{which}_cert"], p[f"{which}_key"], ca, subject)

        # kubeadm's front-proxy CA (its own key pair, so its certificates are no x509 users of the
        # cluster CA) and the aggregator's client certificate `front-proxy-client`.
        fp_ca = _ensure_ca(p["front_proxy_ca_cert"], p["front_proxy_ca_key"], FRONT_PROXY_CA_CN)
        fp_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FRONT_PROXY_CLIENT_CN)])
        _ensure_client(p["front_proxy_client_cert"], p["front_proxy_client_key"], fp_ca, fp_subject)

        # Service-account signing key pair (independent of the CA; never rotated automatically).
        # New keys are ECDSA P-256 (ES256, which kube-apiserver accepts as well as RSA): a token is
        # minted for every synced pod and ES256 signs 5x faster than RSA-2048 (0.07 against
        # 0.38 ms here). An existing RSA key is kept.
        sa_key = _load_key(p["sa_key"])
        if not isinstance(sa_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            sa_key = _new_ec_key()
            write_atomic(p["sa_key"], _key_pem(sa_key), 0o600)
            sa_pub_ok = False
        else:
            try:
                pub = serialization.load_pem_public_key(p["sa_pub"].read_bytes())
                sa_pub_ok = _public_der(pub) == _public_der(sa_key.public_key())
            except (OSError, ValueError, TypeError):
                sa_pub_ok = False
        if not sa_pub_ok:
            pub_pem = sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            write_atomic(p["sa_pub"], pub_pem, 0o644)

        # Tighten key file modes left loose by hand edits or copies.
        for k in (
            "ca_key",
            "server_key",
            "admin_key",
            "kubelet_client_key",
            "sa_key",
            "front_proxy_ca_key",
            "front_proxy_client_key",
        ):
            if p[k].stat().st_mode & 0o077:
                os.chmod(p[k], 0o600)

        ca_pem = p["ca_cert"].read_bytes()
    return PKI(ca_pem=ca_pem, **p)


def server_ssl_context(pki: PKI, extra_client_cas: bytes = b"") -> ssl.SSLContext:
    """TLS server context: serving chain, client certificates optional but verified against the CA
    (and `extra_client_cas`, the requestheader CA bundle, as kube-apiserver's union of client CAs).

    With CERT_OPTIONAL the server sends a CertificateRequest, so kubectl presents its client
    certificate if it has one; a presented certificate that does not verify fails the handshake.
    Which CA issued it is the authenticators' business (auth.py): kube keeps the two apart.
    ALPN offers only http/1.1 (the server does not speak HTTP/2).
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=str(pki.server_cert), keyfile=str(pki.server_key))
    ctx.load_verify_locations(cadata=pki.ca_pem.decode("ascii"))
    if extra_client_cas.strip():
        ctx.load_verify_locations(cadata=extra_client_cas.decode("ascii"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def kubelet_client_ssl_context(pki: PKI) -> ssl.SSLContext:
    """TLS client context toward kubelets: presents the API server's kubelet client certificate;
    the kubelet's serving certificate is not verified (kube-apiserver without
    --kubelet-certificate-authority)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=str(pki.kubelet_client_cert), keyfile=str(pki.kubelet_client_key))
    return ctx


def client_ssl_context(ca_pem: bytes, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """TLS client context trusting only `ca_pem`, with hostname checks and an optional client cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED + check_hostname
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=ca_pem.decode("ascii"))
    if cert is not None:
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key) if key is not None else None)
    elif key is not None:
        raise ValueError("client_ssl_context: a client key was given without a certificate")
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
