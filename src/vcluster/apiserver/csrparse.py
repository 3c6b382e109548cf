"""PEM and X.509 parsing for CertificateSigningRequests, with Go's error texts where they reach users.

`pem_decode` follows encoding/pem.Decode (the first well-formed block, skipping text before it;
headers are collected), `parse_csr` is pkg/apis/certificates.ParseCSR plus the signature check of
validateCSR, `validate_certificate` the status.certificate check of the validation package.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

CSR_BLOCK = "CERTIFICATE REQUEST"
CERT_BLOCK = "CERTIFICATE"

_BEGIN = re.compile(rb"-----BEGIN ([^\r\n]*?)-----[ \t]*\r?\n")


@dataclass(slots=True)
class PEMBlock:
    """One decoded PEM block (encoding/pem.Block)."""

    type: str
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)


def pem_decode(data: bytes) -> tuple[PEMBlock | None, bytes]:
    """The first PEM block of `data` and the bytes after it, or (None, data) as pem.Decode."""
    rest = data
    while True:
        m = _BEGIN.search(rest)
        if m is None:
            return None, data
        block_type = m.group(1).decode("latin-1")
        after = rest[m.end() :]
        end_marker = b"-----END " + m.group(1) + b"-----"
        end = after.find(end_marker)
        if end < 0:
            rest = after
            continue
        body, remainder = after[:end], after[end + len(end_marker) :]
        headers, lines = _split_headers(body.split(b"\n"))
        try:
            decoded = base64.b64decode(b"".join(x.strip() for x in lines), validate=True)
        except (binascii.Error, ValueError):
            rest = after
            continue
        if remainder.startswith(b"\r\n"):
            remainder = remainder[2:]
        elif remainder.startswith(b"\n"):
            remainder = remainder[1:]
        return PEMBlock(block_type, decoded, headers), remainder


def _split_headers(lines: list[bytes]) -> tuple[dict[str, str], list[bytes]]:
    """RFC 1421 headers (`Key: value` lines before a blank line) and the base64 lines after them."""
    headers: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if b":" not in line:
            break
        key, _, value = line.partition(b":")
        headers[key.strip().decode("latin-1")] = value.strip().decode("latin-1")
        i += 1
    if headers and i < len(lines) and not lines[i].strip():
        i += 1
    return headers, lines[i:]


def parse_csr_pem(pem_bytes: bytes) -> x509.CertificateSigningRequest:
    """certificates.ParseCSR: ValueError with Go's text when the data is not a PKCS#10 request."""
    block, _ = pem_decode(pem_bytes)
    if block is None or block.type != CSR_BLOCK:
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        return x509.load_der_x509_csr(block.data)
    except ValueError:
        raise ValueError("asn1: structure error: malformed certificate request") from None


def signature_error(csr: x509.CertificateSigningRequest) -> str:
    """CertificateRequest.CheckSignature: "" when the request is signed by its own key."""
    try:
        ok = csr.is_signature_valid
        key = csr.public_key()
    except Exception as e:  # an unsupported algorithm: x509's ErrUnsupportedAlgorithm
        return f"x509: cannot verify signature: {e}"
    if ok:
        return ""
    if isinstance(key, rsa.RSAPublicKey):
        return "crypto/rsa: verification error"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "x509: ECDSA verification failure"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "x509: Ed25519 verification failure"
    return "x509: cannot verify signature: algorithm unimplemented"


def validate_csr(pem_bytes: bytes) -> str:
    """validateCSR: "" for a well-formed, correctly signed request, else the error text."""
    try:
        csr = parse_csr_pem(pem_bytes)
    except ValueError as e:
        return str(e)
    return signature_error(csr)


def validate_certificate(pem_bytes: bytes) -> str:
    """validateCertificate (status.certificate): "" when empty or only CERTIFICATE blocks that parse."""
    if not pem_bytes:
        return ""
    blocks = 0
    rest = pem_bytes
    while True:
        block, remaining = pem_decode(rest)
        if block is None:
            break
        if block.type != CERT_BLOCK:
            return f'only CERTIFICATE PEM blocks are allowed, found "{block.type}"'
        if block.headers:
            return "no PEM block headers are permitted"
        blocks += 1
        try:
            x509.load_der_x509_certificate(block.data)
        except ValueError:
            return "x509: malformed certificate"
        rest = remaining
    if blocks == 0:
        return "must contain at least one CERTIFICATE PEM block"
    return ""


def first_certificate(pem_bytes: bytes) -> x509.Certificate | None:
    """The first certificate of a PEM bundle, or None when there is none that parses."""
    block, _ = pem_decode(pem_bytes)
    if block is None:
        return None
    try:
        return x509.load_der_x509_certificate(block.data)
    except ValueError:
        return None


def go_bytes(data: bytes | None) -> str:
    """A []byte as Go's %#v prints it in a field error (`[]byte{0x2d, 0x2d}`, `[]byte(nil)`)."""
    if data is None:
        return "[]byte(nil)"
    return "[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}"
