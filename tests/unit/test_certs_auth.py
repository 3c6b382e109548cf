"""PKI, TLS client-certificate / token authentication and kubeconfig files, over real TLS (no mocks)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import socket
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from cryptography.x509.oid import NameOID

from vcluster.apiserver.auth import ANONYMOUS, Authenticator, UserInfo, parse_tokens_csv, user_from_peercert
from vcluster.apiserver.certs import PKI, client_ssl_context, ensure_pki, server_ssl_context
from vcluster.apiserver.kubeconfig import admin_kubeconfig, load_kubeconfig, write_kubeconfig

KUBECTL = "/usr/bin/kubectl"
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.4"}
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


def _files(pki: PKI) -> dict[str, bytes]:
    names = (
        "ca_cert", "ca_key", "server_cert", "server_key", "admin_cert", "admin_key",
        "kubelet_client_cert", "kubelet_client_key", "sa_key", "sa_pub",
        "front_proxy_ca_cert", "front_proxy_ca_key", "front_proxy_client_cert", "front_proxy_client_key",
    )  # fmt: skip
    return {n: getattr(pki, n).read_bytes() for n in names}


def _sans(path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)), {
        str(i) for i in ext.get_values_for_type(x509.IPAddress)
    }


# ------------------------------------------------------------------------------------------------ PKI


def test_ensure_pki_creates_everything(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    t0 = time.perf_counter()
    pki = ensure_pki(d, ["10.0.0.7", "vc.example.com", "[fd00::1]", "0.0.0.0"])
    assert time.perf_counter() - t0 < 1.0
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for key in (pki.ca_key, pki.server_key, pki.admin_key, pki.kubelet_client_key, pki.sa_key):
        assert key.parent == d
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert pki.ca_pem == pki.ca_cert.read_bytes()

    ca = x509.load_pem_x509_certificate(pki.ca_pem)
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "vcluster-ca"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650

    dns, ips = _sans(pki.server_cert)
    assert {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "vc.example.com",
    } <= dns
    assert {"127.0.0.1", "::1", "10.0.0.7", "fd00::1"} <= ips
    assert "0.0.0.0" not in ips  # the unspecified bind address is not a name clients use
    srv = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    srv.verify_directly_issued_by(ca)

    adm = x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())
    adm.verify_directly_issued_by(ca)
    assert adm.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert [a.value for a in adm.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters"
    ]
    assert (adm.not_valid_after_utc - adm.not_valid_before_utc).days >= 365
    # the API server's identity toward kubelets (kubeadm's apiserver-kubelet-client), a client cert
    kub = x509.load_pem_x509_certificate(pki.kubelet_client_cert.read_bytes())
    kub.verify_directly_issued_by(ca)
    assert kub.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kube-apiserver-kubelet-client"
    assert kub.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
    )

    sa = load_pem_private_key(pki.sa_key.read_bytes(), None)
    assert isinstance(sa, ec.EllipticCurvePrivateKey) and sa.curve.name == "secp256r1"
    assert load_pem_public_key(pki.sa_pub.read_bytes()).public_numbers() == sa.public_key().public_numbers()


def test_existing_rsa_service_account_key_is_kept(tmp_path: Path) -> None:
    """A data dir from before the ECDSA default keeps its RSA key (tokens already issued stay valid)."""
    pki = ensure_pki(tmp_path / "pki", ["127.0.0.1"])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pki.sa_key.write_bytes(pem)
    again = ensure_pki(tmp_path / "pki", ["127.0.0.1"])
    assert again.sa_key.read_bytes() == pem
    pub = load_pem_public_key(again.sa_pub.read_bytes())
    assert pub.public_numbers() == key.public_key().public_numbers()


def test_ensure_pki_is_idempotent(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    first = _files(ensure_pki(d, ["10.0.0.7"]))
    t0 = time.perf_counter()
    again = ensure_pki(d, ["10.0.0.7"])
    assert time.perf_counter() - t0 < 0.5
    assert _files(again) == first
    # hosts already covered (defaults, subsets, different spelling) do not regenerate anything
    assert _files(ensure_pki(d, [])) == first
    assert _files(ensure_pki(d, ["LOCALHOST", "127.0.0.1", "[::1]"])) == first
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) == sorted(
        p.name
        for p in (
            again.ca_cert,
            again.ca_key,
            again.server_cert,
            again.server_key,
            again.admin_cert,
            again.admin_key,
            again.kubelet_client_cert,
            again.kubelet_client_key,
            again.sa_key,
            again.sa_pub,
            again.front_proxy_ca_cert,
            again.front_proxy_ca_key,
            again.front_proxy_client_cert,
            again.front_proxy_client_key,
        )
    )


def test_ensure_pki_regenerates_serving_cert_for_new_host(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    before = _files(ensure_pki(d, ["10.0.0.7"]))
    after = _files(pki := ensure_pki(d, ["10.0.0.7", "192.168.5.5", "new.example.org"]))
    assert after["server_cert"] != before["server_cert"]
    assert after["server_key"] != before["server_key"]
    for kept in ("ca_cert", "ca_key", "admin_cert", "admin_key", "kubelet_client_cert", "sa_key", "sa_pub"):
        assert after[kept] == before[kept], kept
    dns, ips = _sans(pki.server_cert)
    assert "new.example.org" in dns and {"10.0.0.7", "192.168.5.5"} <= ips
    # names of the previous serving certificate are kept even when no longer passed
    pki2 = ensure_pki(d, ["other.example.org"])
    dns, ips = _sans(pki2.server_cert)
    assert {"new.example.org", "other.example.org"} <= dns and {"10.0.0.7", "192.168.5.5"} <= ips
    x509.load_pem_x509_certificate(pki2.server_cert.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(pki2.ca_pem)
    )


def test_ensure_pki_repairs_broken_or_missing_files(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    pki = ensure_pki(d, [])
    before = _files(pki)
    pki.server_cert.write_bytes(b"garbage")
    pki.admin_key.unlink()
    pki.kubelet_client_cert.write_bytes(b"garbage")
    pki.sa_pub.unlink()
    os.chmod(pki.sa_key, 0o644)
    after = _files(ensure_pki(d, []))
    assert after["ca_cert"] == before["ca_cert"] and after["ca_key"] == before["ca_key"]
    assert after["server_cert"] != b"garbage"
    assert after["admin_cert"] != before["admin_cert"]
    assert after["kubelet_client_cert"] not in (b"garbage", before["kubelet_client_cert"])
    assert after["kubelet_client_key"] != before["kubelet_client_key"]
    assert after["sa_key"] == before["sa_key"] and after["sa_pub"] == before["sa_pub"]
    assert stat.S_IMODE(pki.sa_key.stat().st_mode) == 0o600
    # a new CA invalidates every certificate it signed
    pki.ca_key.unlink()
    renewed = _files(ensure_pki(d, []))
    for changed in (
        "ca_cert", "ca_key", "server_cert", "server_key", "admin_cert", "admin_key", "kubelet_client_cert",
    ):  # fmt: skip
        assert renewed[changed] != after[changed], changed
    assert renewed["sa_key"] == after["sa_key"]


def test_ssl_contexts(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", [])
    s = server_ssl_context(pki)
    assert s.verify_mode == ssl.CERT_OPTIONAL
    assert s.minimum_version == ssl.TLSVersion.TLSv1_2
    assert s.get_ca_certs()[0]["subject"] == ((("commonName", "vcluster-ca"),),)
    c = client_ssl_context(pki.ca_pem)
    assert c.verify_mode == ssl.CERT_REQUIRED and c.check_hostname
    with pytest.raises(ValueError):
        client_ssl_context(pki.ca_pem, key=pki.admin_key)


# ------------------------------------------------------------------------------------------------ auth


def test_tokens_file_created_and_reused(tmp_path: Path) -> None:
    f = tmp_path / "auth" / "tokens.csv"
    a = Authenticator(f)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    tok = a.admin_token
    assert len(tok) >= 32
    rows = parse_tokens_csv(f.read_text())
    assert rows == [(tok, UserInfo("admin", "admin", ("system:masters",)))]
    assert Authenticator(f).admin_token == tok
    u = a.authenticate(f"Bearer {tok}", None)
    assert u == UserInfo("admin", "admin", ("system:masters", "system:authenticated"))
    assert a.authenticate(f"bearer {tok}", None) == u  # scheme is case-insensitive (as in kube)


def test_token_file_parsing_and_semantics(tmp_path: Path) -> None:
    f = tmp_path / "tokens.csv"
    f.write_text(
        "# comment\n"
        'tok-a,alice,u-1,"dev,ops"\n'
        "\n"
        "tok-b, bob, u-2\n"
        ",nobody,u-x\n"
        'tok-c,carol,u-3,"system:authenticated"\n'
    )
    a = Authenticator(f)
    assert a.authenticate("Bearer tok-a", None) == UserInfo(
        "alice", "u-1", ("dev", "ops", "system:authenticated")
    )
    assert a.authenticate("Bearer tok-b", None) == UserInfo("bob", "u-2", ("system:authenticated",))
    assert a.authenticate("Bearer tok-c", None).groups == ("system:authenticated",)  # type: ignore[union-attr]
    assert a.authenticate("Bearer tok-", None) is None
    # headers kube's bearertoken authenticator ignores: the request is anonymous
    assert a.authenticate("Bearer ", None) is ANONYMOUS
    assert a.authenticate("Bearer", None) is ANONYMOUS
    assert a.authenticate("Basic YWxpY2U6c2VjcmV0", None) is ANONYMOUS
    assert a.authenticate("tok-a", None) is ANONYMOUS
    assert a.authenticate(None, None) is ANONYMOUS
    assert a.authenticate("   ", None) is ANONYMOUS
    assert ANONYMOUS.username == "system:anonymous" and ANONYMOUS.groups == ("system:unauthenticated",)
    with pytest.raises(LookupError):
        _ = a.admin_token

    bad = tmp_path / "bad.csv"
    bad.write_text("only,two\n")
    with pytest.raises(ValueError, match="at least 3 columns"):
        Authenticator(bad)


def test_token_validators(tmp_path: Path) -> None:
    a = Authenticator(tmp_path / "tokens.csv")
    calls: list[str] = []

    def broken(tok: str) -> UserInfo | None:
        calls.append(tok)
        raise RuntimeError("boom")

    def sa(tok: str) -> UserInfo | None:
        if tok == "jwt.sa.token":
            return UserInfo("system:serviceaccount:default:x", "uid-x", ("system:serviceaccounts",))
        return None

    a.add_token_validator(broken)
    a.add_token_validator(sa)
    u = a.authenticate("Bearer jwt.sa.token", None)
    assert u is not None and u.username == "system:serviceaccount:default:x"
    assert u.groups == ("system:serviceaccounts", "system:authenticated")
    assert a.authenticate("Bearer nope", None) is None
    assert calls == ["jwt.sa.token", "nope"]
    # static tokens are found without consulting the validators
    assert a.authenticate(f"Bearer {a.admin_token}", None).username == "admin"  # type: ignore[union-attr]
    assert calls == ["jwt.sa.token", "nope"]


def test_peercert_mapping(tmp_path: Path) -> None:
    a = Authenticator(tmp_path / "tokens.csv")
    cert = {
        "subject": (
            (("organizationName", "system:masters"),),
            (("organizationName", "team-a"), ("commonName", "jane")),
        )
    }
    assert user_from_peercert(cert) == UserInfo("jane", "", ("system:masters", "team-a"))
    assert a.authenticate(None, cert) == UserInfo(
        "jane", "", ("system:masters", "team-a", "system:authenticated")
    )
    # x509 is tried first: a certificate user wins over a bad or foreign Authorization header
    assert a.authenticate("Bearer wrong", cert).username == "jane"  # type: ignore[union-attr]
    assert a.authenticate("Basic eDp5", cert).username == "jane"  # type: ignore[union-attr]
    # unverified ({}), absent (None) or CN-less certificates authenticate nobody
    assert a.authenticate(None, {}) is ANONYMOUS
    no_cn = {"subject": ((("organizationName", "x"),),)}
    assert a.authenticate(None, no_cn) is ANONYMOUS
    assert a.authenticate("Bearer wrong", no_cn) is None
    assert hash(UserInfo("x", extra={"a": ["b"]})) == hash(UserInfo("x"))


# ------------------------------------------------------------------------------------------------ server


class TLSServer:
    """An aiohttp HTTPS server in a background thread, authenticating every request."""

    def __init__(self, pki: PKI, authn: Authenticator) -> None:
        self.pki = pki
        self.authn = authn
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _user(self, request: web.Request) -> UserInfo | None:
        assert request.transport is not None
        return self.authn.authenticate(
            request.headers.get("Authorization"), request.transport.get_extra_info("peercert")
        )

    async def whoami(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if user is None:
            return web.json_response(UNAUTHORIZED, status=401)
        assert request.transport is not None
        ssl_obj = request.transport.get_extra_info("ssl_object")
        return web.json_response(
            {"username": user.username, "groups": list(user.groups), "alpn": ssl_obj.selected_alpn_protocol()}
        )

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response(VERSION)

    async def api(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if user is None or user.is_anonymous:
            return web.json_response(UNAUTHORIZED, status=401)
        return web.json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                ],
            }
        )

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/whoami", self.whoami)
        app.router.add_get("/version", self.version)
        app.router.add_get("/api", self.api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=server_ssl_context(self.pki))
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return ensure_pki(tmp_path_factory.mktemp("srv") / "pki", ["127.0.0.1"])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return ensure_pki(tmp_path_factory.mktemp("other") / "pki", [])


@pytest.fixture(scope="module")
def authn(tmp_path_factory: pytest.TempPathFactory) -> Authenticator:
    return Authenticator(tmp_path_factory.mktemp("auth") / "tokens.csv")


@pytest.fixture(scope="module")
def server(pki: PKI, authn: Authenticator) -> Iterator[TLSServer]:
    srv = TLSServer(pki, authn)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _get(
    port: int,
    ctx: ssl.SSLContext,
    path: str = "/whoami",
    *,
    host: str = "127.0.0.1",
    headers: dict | None = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


async def _aio_get(port: int, ctx: ssl.SSLContext, headers: dict | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"https://127.0.0.1:{port}/whoami", ssl=ctx, headers=headers or {}) as r,
    ):
        return r.status, await r.json()


def test_aiohttp_client_token_and_anonymous(server: TLSServer, pki: PKI, authn: Authenticator) -> None:
    ctx = client_ssl_context(pki.ca_pem)

    async def run() -> list[tuple[int, Any]]:
        return [
            await _aio_get(server.port, ctx, {"Authorization": f"Bearer {authn.admin_token}"}),
            await _aio_get(server.port, ctx, {"Authorization": "Bearer wrong-token"}),
            await _aio_get(server.port, ctx, {"Authorization": "Basic YWRtaW46YWRtaW4="}),
            await _aio_get(server.port, ctx),
        ]

    admin, wrong, basic, anon = asyncio.run(run())
    assert admin == (
        200,
        {"username": "admin", "groups": ["system:masters", "system:authenticated"], "alpn": "http/1.1"},
    )
    assert wrong == (401, UNAUTHORIZED)
    assert basic == anon  # kube has no basic-auth authenticator: the header is ignored
    assert anon == (
        200,
        {"username": "system:anonymous", "groups": ["system:unauthenticated"], "alpn": "http/1.1"},
    )


def test_aiohttp_client_certificate(server: TLSServer, pki: PKI) -> None:
    ctx = client_ssl_context(pki.ca_pem, pki.admin_cert, pki.admin_key)

    async def run() -> list[tuple[int, Any]]:
        return [
            await _aio_get(server.port, ctx),
            await _aio_get(server.port, ctx, {"Authorization": "Bearer bad"}),
        ]

    plain, with_bad_token = asyncio.run(run())
    assert plain[0] == 200 and plain[1]["username"] == "kubernetes-admin"
    assert plain[1]["groups"] == ["system:masters", "system:authenticated"]
    assert with_bad_token == plain  # x509 is tried first, as in kube-apiserver


def test_http_client_token_and_cert(server: TLSServer, pki: PKI, authn: Authenticator) -> None:
    ctx = client_ssl_context(pki.ca_pem)
    assert (
        _get(server.port, ctx, headers={"Authorization": f"Bearer {authn.admin_token}"})[1]["username"]
        == "admin"
    )
    assert _get(server.port, ctx, headers={"Authorization": "Bearer x"}) == (401, UNAUTHORIZED)
    assert _get(server.port, ctx)[1]["username"] == "system:anonymous"
    assert _get(server.port, ctx, "/api")[0] == 401
    cctx = client_ssl_context(pki.ca_pem, pki.admin_cert, pki.admin_key)
    status, body = _get(server.port, cctx)
    assert status == 200 and body["username"] == "kubernetes-admin" and "system:masters" in body["groups"]
    assert _get(server.port, cctx, "/api")[0] == 200


@pytest.mark.parametrize("tls_max", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_foreign_client_certificates_are_rejected(
    server: TLSServer, pki: PKI, other_pki: PKI, tls_max: ssl.TLSVersion
) -> None:
    # a client certificate from another CA, and our own *serving* certificate (no clientAuth usage)
    for cert, key in ((other_pki.admin_cert, other_pki.admin_key), (pki.server_cert, pki.server_key)):
        ctx = client_ssl_context(pki.ca_pem, cert, key)
        ctx.maximum_version = tls_max
        try:
            status, body = _get(server.port, ctx)
        except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError):
            continue  # TLS 1.2: handshake fails; TLS 1.3: the server's alert arrives on the first read
        pytest.fail(f"foreign certificate {cert} was accepted: {status} {body}")


def test_hostname_verification(server: TLSServer, pki: PKI, other_pki: PKI) -> None:
    ctx = client_ssl_context(pki.ca_pem)
    for host in ("localhost", "127.0.0.1"):
        assert _get(server.port, ctx, host=host)[0] == 200
    # the serving certificate's names are really checked ...
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
        pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn.t match"),
    ):
        ctx.wrap_socket(sock, server_hostname="not-in-the-cert.example")
    # ... and only our CA is trusted
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client_ssl_context(other_pki.ca_pem).wrap_socket(sock, server_hostname="localhost")
    # ALPN: only http/1.1 is offered, never h2
    actx = client_ssl_context(pki.ca_pem)
    actx.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
        actx.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


# ------------------------------------------------------------------------------------------------ kubeconfig


def test_kubeconfig_roundtrip(tmp_path: Path, pki: PKI) -> None:
    cfg = admin_kubeconfig("https://127.0.0.1:6443", pki.ca_pem, token="t0k", namespace="team-a")
    path = tmp_path / "sub" / "kubeconfig"
    write_kubeconfig(path, cfg)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_kubeconfig(path) == cfg
    assert cfg["current-context"] == "vcluster"
    assert base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]) == pki.ca_pem
    assert cfg["users"][0] == {"name": "admin", "user": {"token": "t0k"}}
    assert cfg["contexts"][0]["context"] == {"cluster": "vcluster", "user": "admin", "namespace": "team-a"}

    cert_cfg = admin_kubeconfig(
        "https://localhost:6443",
        pki.ca_pem,
        client_cert=pki.admin_cert,
        client_key=pki.admin_key,
        cluster="c",
        user="u",
        context="x",
    )
    write_kubeconfig(path, cert_cfg)  # atomic replace of the existing file
    loaded = load_kubeconfig(path)
    assert loaded == cert_cfg and loaded["current-context"] == "x"
    user = loaded["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == pki.admin_cert.read_bytes()
    assert base64.b64decode(user["client-key-data"]) == pki.admin_key.read_bytes()
    assert "token" not in user
    assert [p.name for p in path.parent.iterdir()] == ["kubeconfig"]  # no temporary files left behind

    with pytest.raises(ValueError):
        admin_kubeconfig("https://x", pki.ca_pem, client_cert=pki.admin_cert)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("clusters: [\n  - name: a\n", "not valid YAML"),
        ("", "empty"),
        ("- a\n- b\n", "mapping at top level"),
        ("clusters: {}\n", "'clusters' must be a list"),
        ("users:\n- user: {}\n", r"users\[0\]"),
        ("contexts:\n- name: a\n  context: [1]\n", r"contexts\[0\].context must be a mapping"),
        ("contexts: []\ncurrent-context: nope\n", "current-context 'nope'"),
    ],
)
def test_load_kubeconfig_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as ei:
        load_kubeconfig(path)
    assert str(path) in str(ei.value)


# ------------------------------------------------------------------------------------------------ kubectl


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl not installed")
def test_kubectl_smoke(
    tmp_path: Path, server: TLSServer, pki: PKI, other_pki: PKI, authn: Authenticator
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "HTTPS_PROXY", "https_proxy")}
    env["HOME"] = str(tmp_path)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"

    def kubectl(name: str, cfg: dict, *args: str) -> subprocess.CompletedProcess[str]:
        kc = tmp_path / f"{name}.kubeconfig"
        write_kubeconfig(kc, cfg)
        cache = tmp_path / f"cache-{name}"
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(kc), "--cache-dir", str(cache), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )

    for host in ("127.0.0.1", "localhost"):
        url = f"https://{host}:{server.port}"
        variants = {
            "token": admin_kubeconfig(url, pki.ca_pem, token=authn.admin_token),
            "cert": admin_kubeconfig(url, pki.ca_pem, client_cert=pki.admin_cert, client_key=pki.admin_key),
        }
        for name, cfg in variants.items():
            r = kubectl(f"{name}-{host}", cfg, "get", "--raw", "/api")
            assert r.returncode == 0, (name, host, r.stdout, r.stderr)
            assert json.loads(r.stdout)["kind"] == "APIVersions"
            who = kubectl(f"{name}-{host}", cfg, "get", "--raw", "/whoami")
            assert who.returncode == 0, who.stderr
            expected = "admin" if name == "token" else "kubernetes-admin"
            assert json.loads(who.stdout)["username"] == expected

    url = f"https://127.0.0.1:{server.port}"
    bad = kubectl("bad", admin_kubeconfig(url, pki.ca_pem, token="not-a-token"), "get", "--raw", "/api")
    assert bad.returncode != 0 and "Unauthorized" in bad.stderr, bad.stderr
    anon = kubectl("anon", admin_kubeconfig(url, pki.ca_pem), "get", "--raw", "/api")
    # with an empty user entry kubectl asks for a username on a 401 (stdin is /dev/null here): a failure
    assert anon.returncode != 0, anon.stdout
    foreign_ca = kubectl(
        "foreign", admin_kubeconfig(url, other_pki.ca_pem, token=authn.admin_token), "get", "--raw", "/api"
    )
    assert foreign_ca.returncode != 0 and "certificate" in foreign_ca.stderr, foreign_ca.stderr
