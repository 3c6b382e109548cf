"""kube-controller-manager's `csrsigning` controller: approved CertificateSigningRequests of the
kubernetes.io signers are signed with the cluster CA (the one the API server trusts for client
certificates), as pkg/controller/certificates/signer and authority of 1.32 do.

* kube-apiserver-client: usages `client auth` plus optionally `digital signature` and `key
  encipherment`; any subject (CertificateSubjectRestriction has already refused system:masters);
* kube-apiserver-client-kubelet and kubelet-serving: the kubelet rules of
  pkg/apis/certificates/helpers.go (`system:nodes` organisation, `system:node:` common name, SANs
  and exact usages);
* a request breaking its signer's rules gets the Failed condition (reason SignerValidationFailure);
* the validity: `spec.expirationSeconds` (at least 10 minutes) capped by `cert_ttl` (the
  `--cluster-signing-duration`, 1 year by default) and by the CA's own expiry; NotBefore is 5
  minutes in the past, and certificates of 8 h or more end 5 minutes early (the backdate).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from vcluster.apiserver import certificates as capi
from vcluster.apiserver import csrparse
from vcluster.controllers.base import BaseController, clone, fmt_time

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

API_VERSION = "certificates.k8s.io/v1"
PLURAL = "certificatesigningrequests"
SIGNERS = (capi.KUBE_APISERVER_CLIENT, capi.KUBE_APISERVER_CLIENT_KUBELET, capi.KUBELET_SERVING)
DEFAULT_CERT_TTL = dt.timedelta(hours=24 * 365)  # --cluster-signing-duration
MIN_DURATION = dt.timedelta(minutes=10)
BACKDATE = dt.timedelta(minutes=5)
SHORT = dt.timedelta(hours=8)

# keyUsageDict / extKeyUsageDict of authority/policies.go; the extended usages sorted as Go's
# x509.ExtKeyUsage constants order them.
_KEY_USAGES = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
_EXT_KEY_USAGES: dict[str, tuple[int, ObjectIdentifier]] = {
    "any": (0, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE),
    "server auth": (1, ExtendedKeyUsageOID.SERVER_AUTH),
    "client auth": (2, ExtendedKeyUsageOID.CLIENT_AUTH),
    "code signing": (3, ExtendedKeyUsageOID.CODE_SIGNING),
    "email protection": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "s/mime": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "ipsec end system": (5, ObjectIdentifier("1.3.6.1.5.5.7.3.5")),
    "ipsec tunnel": (6, ObjectIdentifier("1.3.6.1.5.5.7.3.6")),
    "ipsec user": (7, ObjectIdentifier("1.3.6.1.5.5.7.3.7")),
    "timestamping": (8, ExtendedKeyUsageOID.TIME_STAMPING),
    "ocsp signing": (9, ExtendedKeyUsageOID.OCSP_SIGNING),
    "microsoft sgc": (10, ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")),
    "netscape sgc": (11, ObjectIdentifier("2.16.840.1.113730.4.1")),
}
# pkix.Name.ToRDNSequence: the attributes Go keeps from a parsed subject, in the order it writes them
# (each type as one RDN holding all its values).
_SUBJECT_ORDER = (
    NameOID.COUNTRY_NAME,
    NameOID.STATE_OR_PROVINCE_NAME,
    NameOID.LOCALITY_NAME,
    NameOID.STREET_ADDRESS,
    NameOID.POSTAL_CODE,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
)


class SignerValidationError(Exception):
    """The request breaks its signer's rules (the Failed condition's message)."""


# ---------------------------------------------------------------------------- signer rules
def _san_values(req: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def _sans(req: x509.CertificateSigningRequest) -> tuple[list[str], list[Any], list[str], list[str]]:
    """(DNS names, IPs, emails, URIs) of the request's subjectAltName extension."""
    san = _san_values(req)
    if san is None:
        return [], [], [], []
    return (
        san.get_values_for_type(x509.DNSName),
        san.get_values_for_type(x509.IPAddress),
        san.get_values_for_type(x509.RFC822Name),
        san.get_values_for_type(x509.UniformResourceIdentifier),
    )


def _attr_values(name: x509.Name, oid: ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def _common_name(req: x509.CertificateSigningRequest) -> str:
    cns = _attr_values(req.subject, NameOID.COMMON_NAME)
    return cns[-1] if cns else ""


def _go_set_list(values: set[str]) -> str:
    return "[" + " ".join(sorted(values)) + "]"


_KUBELET_CLIENT_USAGES = (
    {"digital signature", "key encipherment", "client auth"},
    {"digital signature", "client auth"},
)
_KUBELET_SERVING_USAGES = (
    {"digital signature", "key encipherment", "server auth"},
    {"digital signature", "server auth"},
)


def validate_kubelet_client(req: x509.CertificateSigningRequest, usages: set[str]) -> None:
    """ValidateKubeletClientCSR."""
    if _attr_values(req.subject, NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        raise SignerValidationError("subject organization is not system:nodes")
    dns, ips, emails, uris = _sans(req)
    if dns:
        raise SignerValidationError("DNS subjectAltNames are not allowed")
    if emails:
        raise SignerValidationError("Email subjectAltNames are not allowed")
    if ips:
        raise SignerValidationError("IP subjectAltNames are not allowed")
    if uris:
        raise SignerValidationError("URI subjectAltNames are not allowed")
    if not _common_name(req).startswith("system:node:"):
        raise SignerValidationError("subject common name does not begin with system:node:")
    if usages not in _KUBELET_CLIENT_USAGES:
        raise SignerValidationError(f"usages did not match {_go_set_list(_KUBELET_CLIENT_USAGES[0])}")


def validate_kubelet_serving(req: x509.CertificateSigningRequest, usages: set[str]) -> None:
    """ValidateKubeletServingCSR."""
    if _attr_values(req.subject, NameOID.ORGANIZATION_NAME) != ["system:nodes"]:
        raise SignerValidationError("subject organization is not system:nodes")
    dns, ips, emails, uris = _sans(req)
    if not dns and not ips:
        raise SignerValidationError("DNS or IP subjectAltName is required")
    if emails:
        raise SignerValidationError("Email subjectAltNames are not allowed")
    if uris:
        raise SignerValidationError("URI subjectAltNames are not allowed")
    if usages not in _KUBELET_SERVING_USAGES:
        raise SignerValidationError(f"usages did not match {_go_set_list(_KUBELET_SERVING_USAGES[0])}")
    if not _common_name(req).startswith("system:node:"):
        raise SignerValidationError("subject common name does not begin with system:node:")


def validate_apiserver_client(req: x509.CertificateSigningRequest, usages: list[str]) -> None:
    """validAPIServerClientUsages."""
    has_client_auth = False
    for u in usages:
        if u in ("digital signature", "key encipherment"):
            continue
        if u == "client auth":
            has_client_auth = True
            continue
        raise SignerValidationError(f"invalid usage for client certificate: {u}")
    if not has_client_auth:
        raise SignerValidationError("missing required usage for client certificate: client auth")


def check_signer_rules(signer: str, req: x509.CertificateSigningRequest, usages: list[str]) -> None:
    """isRequestForSignerFn of the three kubernetes.io signers this controller serves."""
    if signer == capi.KUBELET_SERVING:
        validate_kubelet_serving(req, set(usages))
    elif signer == capi.KUBE_APISERVER_CLIENT_KUBELET:
        validate_kubelet_client(req, set(usages))
    elif signer == capi.KUBE_APISERVER_CLIENT:
        validate_apiserver_client(req, usages)


# ---------------------------------------------------------------------------- the authority
class CertificateAuthority:
    """The signing CA read from its files, reread when they change (the dynamic CA provider)."""

    def __init__(self, cert_file: str | Path, key_file: str | Path) -> None:
        self.cert_file, self.key_file = Path(cert_file), Path(key_file)
        self._stamp: tuple[float, float] | None = None
        self.cert: x509.Certificate | None = None
        self.key: Any = None

    def current(self) -> tuple[x509.Certificate, Any]:
        stamp = (os.stat(self.cert_file).st_mtime, os.stat(self.key_file).st_mtime)
        if stamp != self._stamp or self.cert is None:
            self.cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
            self.key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
            self._stamp = stamp
        return self.cert, self.key

    def sign(
        self, req: x509.CertificateSigningRequest, usages: list[str], ttl: dt.timedelta, now: dt.datetime
    ) -> bytes:
        """CertificateAuthority.Sign with PermissiveSigningPolicy: the PEM of the new certificate."""
        ca_cert, ca_key = self.current()
        if not req.is_signature_valid:
            raise ValueError(
                f"unable to verify certificate request signature: {csrparse.signature_error(req)}"
            )
        key_usage, ext_usages = _key_usages(usages)
        not_before = now - BACKDATE
        not_after = now + ttl if ttl < SHORT else now + ttl - BACKDATE
        ca_not_after = ca_cert.not_valid_after_utc
        if not_after >= ca_not_after:
            not_after = ca_not_after
        if not_before >= ca_not_after:
            raise ValueError(f"the signer has expired: NotAfter={ca_not_after}")
        if now >= ca_not_after:
            raise ValueError(
                f"refusing to sign a certificate that expired in the past: NotAfter={ca_not_after}"
            )
        subject = _go_subject(req.subject)
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_cert.subject)
            .public_key(req.public_key())  # type: ignore[arg-type]
            .serial_number(int.from_bytes(os.urandom(16), "big") or 1)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        if key_usage:
            b = b.add_extension(_key_usage_ext(key_usage), critical=True)
        if ext_usages:
            b = b.add_extension(x509.ExtendedKeyUsage(ext_usages), critical=False)
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        try:
            ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
        except x509.ExtensionNotFound:
            pass
        san = _san_values(req)
        if san is not None and len(san):
            b = b.add_extension(san, critical=len(subject) == 0)
        algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        if not isinstance(ca_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError("unsupported CA key type")
        cert = b.sign(ca_key, algorithm)
        return cert.public_bytes(serialization.Encoding.PEM)


def _go_subject(name: x509.Name) -> x509.Name:
    """The subject as Go writes a parsed pkix.Name back (ToRDNSequence): known attributes in a fixed
    order, one RDN per type, the last common name, the serial number; others dropped."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for oid in _SUBJECT_ORDER:
        attrs = name.get_attributes_for_oid(oid)
        if attrs:
            rdns.append(
                x509.RelativeDistinguishedName([x509.NameAttribute(oid, str(a.value)) for a in attrs])
            )
    for oid in (NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER):
        attrs = name.get_attributes_for_oid(oid)
        if attrs and attrs[-1].value:
            rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(oid, str(attrs[-1].value))]))
    return x509.Name(rdns)


def _key_usages(usages: list[str]) -> tuple[set[str], list[ObjectIdentifier]]:
    """keyUsagesFromStrings: the key usage bits and the sorted extended usages."""
    bits: set[str] = set()
    ext: dict[int, ObjectIdentifier] = {}
    unknown: list[str] = []
    for u in usages:
        if u in _KEY_USAGES:
            bits.add(_KEY_USAGES[u])
        elif u in _EXT_KEY_USAGES:
            order, oid = _EXT_KEY_USAGES[u]
            ext[order] = oid
        else:
            unknown.append(u)
    if unknown:
        raise ValueError("unrecognized usage values: [" + " ".join(f'"{u}"' for u in unknown) + "]")
    return bits, [ext[k] for k in sorted(ext)]


def _key_usage_ext(bits: set[str]) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    flags = {n: n in bits for n in names}
    if not flags["key_agreement"]:  # x509.KeyUsage allows encipher/decipher only with key agreement
        flags["encipher_only"] = flags["decipher_only"] = False
    return x509.KeyUsage(**flags)


def signing_duration(expiration_seconds: Any, cert_ttl: dt.timedelta) -> dt.timedelta:
    """signer.duration: the requested duration within [10 min, cert_ttl]; none asked: cert_ttl."""
    if not isinstance(expiration_seconds, int) or isinstance(expiration_seconds, bool):
        return cert_ttl
    requested = dt.timedelta(seconds=expiration_seconds)
    if requested > cert_ttl:
        return cert_ttl
    return max(requested, MIN_DURATION)


# ---------------------------------------------------------------------------- the controller
class CSRSigningController(BaseController):
    """Signs approved requests of the kubernetes.io signers with the cluster CA."""

    name = "csrsigning"
    component = "csrsigning-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        cluster_signing_cert_file: str | None = None,
        cluster_signing_key_file: str | None = None,
        cert_ttl: dt.timedelta | float = DEFAULT_CERT_TTL,
        **options: Any,
    ) -> None:
        super().__init__(client, informers, **options)
        self.csrs = informers.informer(API_VERSION, PLURAL)
        self.csrs.add_handler(self._on_csr)
        self.cert_ttl = cert_ttl if isinstance(cert_ttl, dt.timedelta) else dt.timedelta(seconds=cert_ttl)
        self.ca: CertificateAuthority | None = None
        if cluster_signing_cert_file and cluster_signing_key_file:
            self.ca = CertificateAuthority(cluster_signing_cert_file, cluster_signing_key_file)
        else:
            self.log.warning(
                "no cluster signing certificate and key: CertificateSigningRequests are not signed"
            )

    def _on_csr(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if event != "delete":
            self.enqueue(obj)

    async def run(self, workers: int = 2) -> None:
        await self.csrs.wait_synced()
        await super().run(workers)

    async def sync(self, key: str) -> None:
        cached = self.csrs.get(key)
        if cached is None or self.ca is None or capi.certificate_bytes(cached):
            return
        csr = clone(cached)
        csr["apiVersion"], csr["kind"] = API_VERSION, capi.KIND
        signer = capi.spec_of(csr).get("signerName")
        approved, _ = capi.approval_state(csr)
        if not approved or capi.has_true_condition(csr, capi.FAILED) or signer not in SIGNERS:
            return
        try:
            req = csrparse.parse_csr_pem(capi.request_bytes(csr) or b"")
        except ValueError as e:
            raise ValueError(f'unable to parse csr "{key}": {e}') from None
        usages = [u for u in capi.spec_of(csr).get("usages") or [] if isinstance(u, str)]
        try:
            check_signer_rules(str(signer), req, usages)
        except SignerValidationError as e:
            self._fail(csr, str(e))
            await self.client.update(API_VERSION, PLURAL, csr, subresource="status")
            return
        ttl = signing_duration(capi.spec_of(csr).get("expirationSeconds"), self.cert_ttl)
        pem = self.ca.sign(req, usages, ttl, self.now())
        csr.setdefault("status", {})["certificate"] = base64.b64encode(pem).decode()
        await self.client.update(API_VERSION, PLURAL, csr, subresource="status")

    def _fail(self, csr: dict[str, Any], message: str) -> None:
        status = csr.setdefault("status", {})
        status.setdefault("conditions", []).append(
            {
                "type": capi.FAILED,
                "status": "True",
                "reason": "SignerValidationFailure",
                "message": message,
                "lastUpdateTime": fmt_time(self.now()),
            }
        )
