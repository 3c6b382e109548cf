"""Front-proxy pieces without a server: the requestheader authenticator and its place in the
authenticator chain, the trust ConfigMap's data as kube's controller computes it, the CLI flags."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from multidict import CIMultiDict

from vcluster.apiserver.auth import ANONYMOUS, Authenticator
from vcluster.apiserver.certs import PKI, ensure_pki
from vcluster.apiserver.requestheader import (
    CABundle,
    CertificateRejected,
    RequestHeaderAuthenticator,
    RequestHeaderOptions,
    load_front_proxy,
    unescape_extra_key,
)
from vcluster.cli.main import main
from vcluster.cli.requestheaderopts import _string_slice
from vcluster.controllers.clusterauthtrust import (
    AuthenticationInfo,
    combined,
    data_for,
    go_json_strings,
    info_from_data,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1"])


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _make_ca(cn: str, days: float = 30) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=60))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str, usage: x509.ObjectIdentifier
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _peer(cert: x509.Certificate) -> tuple[dict[str, object], bytes]:
    """(getpeercert() dict, DER) as the TLS layer hands them over."""
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return {"subject": ((("commonName", cn),),)}, cert.public_bytes(serialization.Encoding.DER)


# ------------------------------------------------------------------------------ requestheader authenticator


def test_requestheader_user_from_headers(pki: PKI) -> None:
    opts = RequestHeaderOptions(username_headers=("X-First", "X-Remote-User"))
    auth = RequestHeaderAuthenticator(CABundle([_load(pki.front_proxy_ca_cert)]), opts)
    cert = _load(pki.front_proxy_client_cert)
    headers = CIMultiDict(
        [
            ("x-first", ""),
            ("X-Remote-User", "alice"),
            ("X-Remote-Group", "a"),
            ("X-Remote-Group", ""),
            ("x-remote-group", "b"),
            ("X-Remote-Extra-Scopes%2FOne", "1"),
            ("X-REMOTE-EXTRA-scopes%2fone", "2"),
            ("X-Remote-Extra-bad%zz", "3"),
        ]
    )
    assert auth.authenticate(cert, headers) == (
        "alice",
        ("a", "b"),
        {"scopes/one": ["1", "2"], "bad%zz": ["3"]},
    )
    assert auth.authenticate(cert, CIMultiDict([("X-Remote-Group", "a")])) is None  # no user header
    assert auth.authenticate(None, headers) is None


def test_requestheader_rejects_other_certificates(pki: PKI) -> None:
    fp_ca = _load(pki.front_proxy_ca_cert)
    auth = RequestHeaderAuthenticator(CABundle([fp_ca]), RequestHeaderOptions())
    with pytest.raises(CertificateRejected, match="not signed"):
        auth.authenticate(_load(pki.admin_cert), {"X-Remote-User": "alice"})
    other_ca, other_key = _make_ca("front-proxy-ca")  # same name, another key
    forged = _leaf(other_ca, other_key, "front-proxy-client", ExtendedKeyUsageOID.CLIENT_AUTH)
    with pytest.raises(CertificateRejected):
        auth.authenticate(forged, {"X-Remote-User": "alice"})
    # a CN outside --requestheader-allowed-names; any CN with an empty list
    ca, key = _make_ca("proxy-ca")
    cert = _leaf(ca, key, "other-proxy", ExtendedKeyUsageOID.CLIENT_AUTH)
    strict = RequestHeaderAuthenticator(CABundle([ca]), RequestHeaderOptions())
    with pytest.raises(CertificateRejected, match="cn=other-proxy is not in the allowed list"):
        strict.authenticate(cert, {"X-Remote-User": "alice"})
    anyone = RequestHeaderAuthenticator(CABundle([ca]), RequestHeaderOptions(allowed_names=()))
    assert anyone.authenticate(cert, {"X-Remote-User": "alice"}) == ("alice", (), {})
    server_only = _leaf(ca, key, "front-proxy-client", ExtendedKeyUsageOID.SERVER_AUTH)
    with pytest.raises(CertificateRejected):
        anyone.authenticate(server_only, {"X-Remote-User": "alice"})


def test_unescape_extra_key() -> None:
    assert unescape_extra_key("example.org%2fkey%20one") == "example.org/key one"
    assert unescape_extra_key("a%2") == "a%2"
    assert unescape_extra_key("plain") == "plain"


def test_options_validation() -> None:
    with pytest.raises(ValueError, match="empty header"):
        RequestHeaderOptions(group_headers=(" ",))
    assert RequestHeaderOptions(username_headers=(" X-User ",)).username_headers == ("X-User",)
    with pytest.raises(ValueError, match="together"):
        RequestHeaderOptions(proxy_client_cert_file=Path("/x"))


# ------------------------------------------------------------------------------ the authenticator chain


def test_chain_keeps_the_two_cas_apart(pki: PKI, tmp_path: Path) -> None:
    (tmp_path / "tokens.csv").write_text('tok,admin,uid1,"system:masters"\n')
    auth = Authenticator(tmp_path / "tokens.csv")
    fp = load_front_proxy(
        RequestHeaderOptions(),
        pki.front_proxy_ca_cert,
        pki.front_proxy_client_cert,
        pki.front_proxy_client_key,
    )
    auth.configure_x509([_load(pki.ca_cert)], fp.authenticator)
    fp_peer, fp_der = _peer(_load(pki.front_proxy_client_cert))
    adm_peer, adm_der = _peer(_load(pki.admin_cert))
    spoof = CIMultiDict([("X-Remote-User", "alice"), ("X-Remote-Group", "g")])

    user = auth.authenticate(None, fp_peer, peer_der=fp_der, headers=spoof)
    assert user is not None and (user.username, user.groups) == ("alice", ("g", "system:authenticated"))
    # the front proxy's certificate alone: no x509 user, an error -> 401; a token still counts
    assert auth.authenticate(None, fp_peer, peer_der=fp_der, headers=CIMultiDict()) is None
    user = auth.authenticate("Bearer tok", fp_peer, peer_der=fp_der, headers=CIMultiDict())
    assert user is not None and user.username == "admin"
    # an ordinary client certificate: the headers are ignored
    user = auth.authenticate(None, adm_peer, peer_der=adm_der, headers=spoof)
    assert user is not None and user.username == "kubernetes-admin"
    # a client-CA certificate without a CN: no x509 user, and the requestheader check failed -> 401
    # (kube's union keeps that error; without a front proxy it would be anonymous)
    ca = _load(pki.ca_cert)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    nameless = _leaf(ca, ca_key, "x", ExtendedKeyUsageOID.CLIENT_AUTH)
    _, nameless_der = _peer(nameless)
    no_cn: dict[str, object] = {"subject": ((("organizationName", "nobody"),),)}
    assert auth.authenticate(None, no_cn, peer_der=nameless_der, headers=spoof) is None
    auth.requestheader = None
    assert auth.authenticate(None, no_cn, peer_der=nameless_der, headers=spoof) is ANONYMOUS
    # a verified peer without its DER bytes authenticates nobody once the CAs are configured
    assert auth.authenticate(None, adm_peer, headers=spoof) is ANONYMOUS
    assert auth.authenticate(None, None, headers=spoof) is ANONYMOUS


# ------------------------------------------------------------------------------ trust ConfigMap data


def test_go_json_strings() -> None:
    assert go_json_strings(("X-Remote-User",)) == '["X-Remote-User"]'
    assert go_json_strings(()) == "[]"
    assert go_json_strings(("a<b>&c", "é\u2028")) == '["a\\u003cb\\u003e\\u0026c","é\\u2028"]'


def _pem(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.PEM)


def test_combined_keeps_stored_first_and_drops_expired() -> None:
    old, _ = _make_ca("old-proxy-ca")
    expired, _ = _make_ca("expired-ca", days=-1)
    cur, _ = _make_ca("front-proxy-ca")
    client, _ = _make_ca("vcluster-ca")
    stored = {
        "client-ca-file": _pem(client).decode(),
        "requestheader-client-ca-file": (_pem(old) + _pem(expired) + _pem(cur)).decode(),
        "requestheader-allowed-names": '["other"]',
        "requestheader-username-headers": "null",
        "stray": "x",
    }
    required = AuthenticationInfo(
        client_ca=_pem(client),
        requestheader_ca=_pem(cur),
        username_headers=("X-Remote-User",),
        group_headers=("X-Remote-Group",),
        extra_header_prefixes=("X-Remote-Extra-",),
        allowed_names=("front-proxy-client", "other"),
    )
    data = data_for(combined(info_from_data(stored), required))
    assert data == {
        "client-ca-file": _pem(client).decode(),
        "requestheader-client-ca-file": (_pem(old) + _pem(cur)).decode(),
        "requestheader-allowed-names": '["other","front-proxy-client"]',
        "requestheader-username-headers": '["X-Remote-User"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
    }
    # the result is stable: combining it again changes nothing
    assert data_for(combined(info_from_data(data), required)) == data
    # without a requestheader CA only the client CA is published
    assert data_for(AuthenticationInfo(client_ca=_pem(client))) == {"client-ca-file": _pem(client).decode()}


def test_malformed_stored_data_is_an_error() -> None:
    with pytest.raises(ValueError):
        info_from_data({"requestheader-allowed-names": "not json"})
    with pytest.raises(ValueError):
        info_from_data({"requestheader-group-headers": '{"a": 1}'})
    with pytest.raises(ValueError):
        combined(info_from_data({"client-ca-file": "garbage"}), AuthenticationInfo())


# ------------------------------------------------------------------------------ CLI flags


def test_string_slice_flags() -> None:
    assert _string_slice(("a,b", "c")) == ("a", "b", "c")
    assert _string_slice(("",)) == ()
    assert _string_slice(('"x,y",z',)) == ("x,y", "z")


def test_cli_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate\n")
    runner = CliRunner()
    res = runner.invoke(
        main, ["apiserver", "--data-dir", str(tmp_path / "d"), "--requestheader-client-ca-file", str(bad)]
    )
    assert res.exit_code == 2 and "--requestheader-client-ca-file" in res.output, res.output
    res = runner.invoke(
        main, ["apiserver", "--data-dir", str(tmp_path / "d"), "--proxy-client-cert-file", str(bad)]
    )
    assert res.exit_code == 2 and "must be given together" in res.output, res.output
    res = runner.invoke(
        main,
        [
            "apiserver", "--data-dir", str(tmp_path / "d"),
            "--proxy-client-cert-file", str(bad), "--proxy-client-key-file", str(bad),
        ],
    )  # fmt: skip
    assert res.exit_code == 2 and "--proxy-client-cert-file" in res.output, res.output
    assert not (tmp_path / "d").exists()  # nothing started


def test_ssl_context_accepts_both_cas(pki: PKI) -> None:
    from vcluster.apiserver.certs import server_ssl_context

    ctx = server_ssl_context(pki, pki.front_proxy_ca_cert.read_bytes())
    subjects = {dict(x[0] for x in c["subject"])["commonName"] for c in ctx.get_ca_certs()}
    assert subjects == {"vcluster-ca", "front-proxy-ca"}
    assert ctx.verify_mode == ssl.CERT_OPTIONAL
