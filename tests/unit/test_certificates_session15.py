"""CertificateSigningRequest pieces without a server: PEM decoding, signerName and condition
validation, the status/approval strategies, the signer's rules and validity, the cleaner's rules
and the CONDITION column."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vcluster.apiserver import certificates as capi
from vcluster.apiserver import csrparse
from vcluster.apiserver.certs import ensure_pki
from vcluster.apiserver.printers import row_cells
from vcluster.controllers.csrcleaner import cleanup_reason
from vcluster.controllers.csrsigning import (
    DEFAULT_CERT_TTL,
    CertificateAuthority,
    SignerValidationError,
    check_signer_rules,
    signing_duration,
)

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _csr_pem(
    cn: str, orgs: tuple[str, ...] = (), dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()
) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _csr(pem: bytes, **spec: object) -> dict[str, object]:
    full = {
        "request": base64.b64encode(pem).decode(),
        "signerName": "example.com/s",
        "usages": ["client auth"],
    }
    full.update(spec)
    return {"metadata": {"name": "x"}, "spec": full, "status": {}}


def test_pem_decode_skips_text_and_reads_headers() -> None:
    pem = _csr_pem("a")
    block, rest = csrparse.pem_decode(b"leading junk\n" + pem + b"trailer")
    assert block is not None and block.type == "CERTIFICATE REQUEST" and rest == b"trailer"
    with_headers = pem.replace(b"REQUEST-----\n", b"REQUEST-----\nProc-Type: 4,ENCRYPTED\n\n", 1)
    block, _ = csrparse.pem_decode(with_headers)
    assert block is not None and block.headers == {"Proc-Type": "4,ENCRYPTED"}
    assert csrparse.pem_decode(b"-----BEGIN X-----\n!!!\n-----END X-----\n")[0] is None


def test_request_validation_texts() -> None:
    assert csrparse.validate_csr(_csr_pem("a")) == ""
    assert csrparse.validate_csr(b"") == "PEM block type must be CERTIFICATE REQUEST"
    cert_pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert csrparse.validate_csr(cert_pem) == "PEM block type must be CERTIFICATE REQUEST"
    assert csrparse.go_bytes(b"-\n") == "[]byte{0x2d, 0xa}"
    assert csrparse.go_bytes(None) == "[]byte(nil)"


@pytest.mark.parametrize(
    ("signer", "fields"),
    [
        ("example.com/signer", []),
        ("example.com/ns.name-1", []),
        ("", ["Required value"]),
        ("example.com", ["must be a fully qualified domain and path"]),
        ("a/b/c", ["must be a fully qualified domain and path"]),
        ("example/x", ["should be a domain with at least two segments separated by dots"]),
        ("Example.com/x", ['validating label "Example": a lowercase RFC 1123 label']),
        ("example.com/UPPER", ['validating label "UPPER": a lowercase RFC 1123 subdomain']),
    ],
)
def test_signer_name_validation(signer: str, fields: list[str]) -> None:
    causes = capi.validate_signer_name("spec.signerName", signer)
    assert len(causes) == len(fields)
    for cause, text in zip(causes, fields, strict=True):
        assert cause.field == "spec.signerName" and text in cause.message


def test_create_validation_and_legacy_signer() -> None:
    pem = _csr_pem("a")
    assert capi.validate_create(_csr(pem)) == []
    causes = capi.validate_create(_csr(pem, signerName=capi.LEGACY_UNKNOWN, usages=[], expirationSeconds=599))
    assert [(c.field, c.reason) for c in causes] == [
        ("spec.usages", "FieldValueRequired"),
        ("spec.signerName", "FieldValueInvalid"),
        ("spec.expirationSeconds", "FieldValueInvalid"),
    ]
    assert "the legacy signerName is not allowed via this API version" in causes[1].message


def test_condition_rules() -> None:
    csr = _csr(_csr_pem("a"))
    csr["status"] = {
        "conditions": [
            {"type": "Approved", "status": "False"},
            {"type": "Denied", "status": "True"},
            {"type": "Custom", "status": "Maybe"},
            {"type": "Custom", "status": "True"},
        ]
    }
    causes = capi.validate_create(csr)
    assert [(c.field, c.reason) for c in causes] == [
        ("status.conditions[0].status", "FieldValueNotSupported"),
        ("status.conditions[1].type", "FieldValueInvalid"),
        ("status.conditions[2].status", "FieldValueNotSupported"),
        ("status.conditions[3].type", "FieldValueDuplicate"),
    ]
    assert 'supported values: "True"' in causes[0].message
    assert 'supported values: "False", "True", "Unknown"' in causes[2].message


def test_status_strategy_keeps_approval_and_certificate_rules() -> None:
    stamp = "2026-01-01T00:00:00Z"
    approved = {
        "type": "Approved",
        "status": "True",
        "reason": "R",
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
    }
    old = _csr(_csr_pem("a"))
    old["status"] = {"conditions": [approved]}
    new = {
        **old,
        "status": {"conditions": [{**approved, "reason": "changed"}, {"type": "Failed", "status": "True"}]},
    }
    assert capi.prepare_for_update(old, new, "status") is True
    conds = new["status"]["conditions"]  # type: ignore[index]
    assert conds[0] == approved  # the stored Approved instance is kept
    assert conds[1]["lastUpdateTime"] and conds[1]["lastTransitionTime"]
    assert capi.validate_status_update(new, old) == []
    # /status may not add Approved, the main endpoint may not set a certificate
    added = {**old, "status": {"conditions": [approved, {"type": "Denied", "status": "True"}]}}
    capi.prepare_for_update(old, added, "status")
    messages = [c.message for c in capi.validate_status_update(added, old)]
    assert 'Forbidden: updates may not add a condition of type "Denied"' in messages
    with_cert = {**old, "status": {**old["status"], "certificate": base64.b64encode(b"x").decode()}}  # type: ignore[dict-item]
    messages = [c.message for c in capi.validate_update(with_cert, old)]
    assert "Forbidden: updates may not set certificate content" in messages


def test_approval_strategy_changes_only_conditions() -> None:
    old = _csr(_csr_pem("a"))
    old["status"] = {"certificate": "Y2VydA=="}
    new = {
        "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {"signerName": "other.io/x"},
        "status": {"certificate": "", "conditions": [{"type": "Approved", "status": "True"}]},
    }
    assert capi.prepare_for_update(old, new, "approval") is True
    assert new["spec"] == old["spec"]
    assert new["status"]["certificate"] == "Y2VydA=="  # type: ignore[index]
    assert new["metadata"]["labels"] == {"a": "b"}  # type: ignore[index]
    assert capi.status_summary(new) == "Approved,Issued"


def test_signer_rules() -> None:
    kubelet = x509.load_pem_x509_csr(_csr_pem("system:node:n1", ("system:nodes",)))
    check_signer_rules(capi.KUBE_APISERVER_CLIENT_KUBELET, kubelet, ["digital signature", "client auth"])
    with pytest.raises(
        SignerValidationError, match=r"usages did not match \[client auth digital signature key"
    ):
        check_signer_rules(capi.KUBE_APISERVER_CLIENT_KUBELET, kubelet, ["client auth"])
    with pytest.raises(SignerValidationError, match="DNS or IP subjectAltName is required"):
        check_signer_rules(capi.KUBELET_SERVING, kubelet, ["digital signature", "server auth"])
    serving = x509.load_pem_x509_csr(_csr_pem("system:node:n1", ("system:nodes",), dns=("n1",)))
    check_signer_rules(
        capi.KUBELET_SERVING, serving, ["digital signature", "key encipherment", "server auth"]
    )
    with pytest.raises(SignerValidationError, match="DNS subjectAltNames are not allowed"):
        check_signer_rules(capi.KUBE_APISERVER_CLIENT_KUBELET, serving, ["digital signature", "client auth"])
    user = x509.load_pem_x509_csr(_csr_pem("bob"))
    with pytest.raises(SignerValidationError, match="subject organization is not system:nodes"):
        check_signer_rules(capi.KUBE_APISERVER_CLIENT_KUBELET, user, ["digital signature", "client auth"])
    with pytest.raises(
        SignerValidationError, match="missing required usage for client certificate: client auth"
    ):
        check_signer_rules(capi.KUBE_APISERVER_CLIENT, user, ["digital signature"])


def test_signing_duration() -> None:
    assert signing_duration(None, DEFAULT_CERT_TTL) == DEFAULT_CERT_TTL
    assert signing_duration(600, DEFAULT_CERT_TTL) == dt.timedelta(minutes=10)
    assert signing_duration(10**9, DEFAULT_CERT_TTL) == DEFAULT_CERT_TTL
    assert signing_duration(3600, dt.timedelta(minutes=30)) == dt.timedelta(minutes=30)


def test_authority_signs_with_policy(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", [])
    ca = CertificateAuthority(pki.ca_cert, pki.ca_key)
    req = x509.load_pem_x509_csr(_csr_pem("n", ("b", "a"), dns=("n.example",), ips=("10.0.0.1",)))
    short = x509.load_pem_x509_certificate(
        ca.sign(req, ["client auth", "digital signature"], dt.timedelta(hours=1), NOW)
    )
    assert short.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert short.not_valid_after_utc == NOW + dt.timedelta(hours=1)
    ku = short.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    eku = short.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    bc = short.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    san = short.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["n.example"]
    # Go's subject order: organisations (one RDN) before the common name
    assert [a.oid for a in short.subject] == [NameOID.ORGANIZATION_NAME] * 2 + [NameOID.COMMON_NAME]
    long = x509.load_pem_x509_certificate(
        ca.sign(req, ["server auth", "client auth"], dt.timedelta(days=2), NOW)
    )
    assert long.not_valid_after_utc == NOW + dt.timedelta(days=2) - dt.timedelta(minutes=5)
    assert list(long.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    capped = x509.load_pem_x509_certificate(ca.sign(req, ["client auth"], dt.timedelta(days=36500), NOW))
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    assert capped.not_valid_after_utc == ca_cert.not_valid_after_utc
    with pytest.raises(ValueError, match="unrecognized usage values"):
        ca.sign(req, ["bogus"], dt.timedelta(hours=1), NOW)


def _at(delta: dt.timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cleanup_reasons() -> None:
    hour = dt.timedelta(hours=1, seconds=1)
    fresh = {"metadata": {"creationTimestamp": _at(dt.timedelta(hours=23))}, "status": {}}
    assert cleanup_reason(fresh, NOW) == ""
    old = {"metadata": {"creationTimestamp": _at(dt.timedelta(hours=25))}, "status": {}}
    assert cleanup_reason(old, NOW) == "pending for more than 24h0m0s"
    denied = {"status": {"conditions": [{"type": "Denied", "status": "True", "lastUpdateTime": _at(hour)}]}}
    assert cleanup_reason(denied, NOW) == "denied more than 1h0m0s ago"
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "lastUpdateTime": _at(hour)}]}}
    assert cleanup_reason(failed, NOW) == "failed more than 1h0m0s ago"
    approved = {
        "status": {"conditions": [{"type": "Approved", "status": "True", "lastUpdateTime": _at(hour)}]}
    }
    assert cleanup_reason(approved, NOW) == ""  # approved but never issued: kept


def test_csr_table_row() -> None:
    csr = _csr(_csr_pem("a"), expirationSeconds=3600, username="alice")
    csr["metadata"] = {"name": "x", "creationTimestamp": _at(dt.timedelta(minutes=3))}
    csr["status"] = {"conditions": [{"type": "Denied"}, {"type": "Failed"}]}
    assert row_cells("certificates.k8s.io", "certificatesigningrequests", csr, NOW) == [
        "x",
        "3m",
        "example.com/s",
        "alice",
        "60m",
        "Denied,Failed",
    ]
