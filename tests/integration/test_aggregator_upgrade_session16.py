"""kube-aggregator's proxy of upgrade requests (UpgradeAwareHandler's tryUpgrade): a WebSocket and a
raw SPDY/3.1 upgrade under a service-backed APIService reach a real HTTPS aggregated server that
trusts the front-proxy headers only from the front-proxy client certificate; after the 101 the bytes
flow both ways unchanged; a backend refusal is given back as it is, a non-upgrading success is
kube's 503."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from .aggregated_server import GROUP, PLURAL, VERSION, AggregatedServer
from .conftest import Server, server_fixture
from .httpclient import Client

pytestmark = pytest.mark.integration

server = server_fixture(args=["--enable-aggregator-routing"])
CM = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
BASE = f"/apis/{GROUP}/{VERSION}/namespaces/wardle/{PLURAL}/hello"


def _wait(fn: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[Client]:
    c = Client(server.url, server.ca_file, server.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def backend(api: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AggregatedServer]:
    """The aggregated server behind Service wardle/api (endpoint routing), Available."""
    data = _wait(lambda: (r := api.call("GET", CM)).status == 200 and r.body)["data"]
    names = json.loads(data["requestheader-allowed-names"])
    srv = AggregatedServer(
        tmp_path_factory.mktemp("agg-upgrade"),
        ["api.wardle.svc"],
        front_proxy=(data["requestheader-client-ca-file"].encode(), names),
    )
    ns = {"metadata": {"name": "wardle"}}
    svc = {"metadata": {"name": "api"}, "spec": {"ports": [{"name": "https", "port": 443}]}}
    ep = {
        "metadata": {"name": "api"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": srv.port}]}],
    }
    apisvc = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"{VERSION}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "version": VERSION,
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "service": {"namespace": "wardle", "name": "api", "port": 443},
            "caBundle": base64.b64encode(srv.ca_pem).decode(),
        },
    }
    for path, body in (
        ("/api/v1/namespaces", ns),
        ("/api/v1/namespaces/wardle/services", svc),
        ("/api/v1/namespaces/wardle/endpoints", ep),
        ("/apis/apiregistration.k8s.io/v1/apiservices", apisvc),
    ):
        r = api.call("POST", path, body)
        assert r.status == 201, r.body

    def available() -> bool:
        r = api.call("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{VERSION}.{GROUP}")
        conds = (r.body.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Available" and c["status"] == "True" for c in conds)

    _wait(available)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def username(api: Client) -> str:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    r = api.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
    return str(r.body["status"]["userInfo"]["username"])


def _client_ssl(server: Server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_file))


def _raw_upgrade(server: Server, path: str, upgrade: str, token: str | None) -> tuple[ssl.SSLSocket, bytes]:
    """Send an upgrade request on a raw TLS connection; (the socket, the response head and any
    bytes read with it)."""
    host, port = server.url.split("://", 1)[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    tls = _client_ssl(server).wrap_socket(sock, server_hostname=host)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: Upgrade", f"Upgrade: {upgrade}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = tls.recv(65536)
        if not chunk:
            break
        head += chunk
    return tls, head


def _recv_exactly(tls: ssl.SSLSocket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = tls.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test_spdy_upgrade_relays_raw_bytes(server: Server, backend: AggregatedServer, username: str) -> None:
    tls, head = _raw_upgrade(server, f"{BASE}/echo", "SPDY/3.1", server.token)
    try:
        status_line, _, rest = head.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 101 Switching Protocols", head
        headers, _, extra = rest.partition(b"\r\n\r\n")
        assert b"Upgrade: SPDY/3.1" in headers.split(b"\r\n"), head
        assert extra == b""
        for payload in (b"hello spdy", b"\x80\x03\x00\x01 binary frame \xff" * 100):
            tls.sendall(payload)
            assert _recv_exactly(tls, len(payload)) == payload.upper()
    finally:
        tls.close()
    path, upgrade, user = backend.upgrades[-1]
    assert (path, upgrade, user) == (f"{BASE}/echo", "SPDY/3.1", username)
    # the backend trusted the identity because the front-proxy certificate came with it
    assert backend.identities[-1][0] == f"{BASE}/echo"
    assert backend.identities[-1][3] == "front-proxy-client"
    seen = backend.seen(f"{BASE}/echo")[-1]
    assert "authorization" not in seen  # the client's credentials stay with the aggregator
    assert seen["x-forwarded-for"] == ["127.0.0.1"]


def test_websocket_upgrade_relays_messages(server: Server, backend: AggregatedServer, username: str) -> None:
    async def run() -> list[Any]:
        got: list[Any] = []
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                server.url + f"{BASE}/echo",
                ssl=_client_ssl(server),
                headers={"Authorization": f"Bearer {server.token}"},
            ) as ws,
        ):
            await ws.send_str("ping")
            got.append((await ws.receive(timeout=10)).data)
            await ws.send_bytes(b"\x00\x01binary")
            got.append((await ws.receive(timeout=10)).data)
            big = "x" * 5000
            await ws.send_str(big)
            got.append((await ws.receive(timeout=10)).data == f"{username}:{big}")
        return got

    got = asyncio.run(run())
    assert got == [f"{username}:ping", f"{username}:".encode() + b"\x00\x01binary", True]
    assert backend.upgrades[-1] == (f"{BASE}/echo", "websocket", username)


def _response(tls: ssl.SSLSocket, head: bytes) -> tuple[bytes, dict[str, str], bytes]:
    """(status line, headers, body) of an HTTP answer whose head (and maybe more) was read."""
    top, _, body = head.partition(b"\r\n\r\n")
    status, *lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    body += _recv_exactly(tls, int(headers.get("content-length", "0")) - len(body))
    return status.encode(), headers, body


def test_upgrade_refusals(server: Server, backend: AggregatedServer) -> None:
    # the backend's error answer comes back as it is
    tls, head = _raw_upgrade(server, f"{BASE}/deny", "SPDY/3.1", server.token)
    try:
        status, headers, body = _response(tls, head)
    finally:
        tls.close()
    assert status.startswith(b"HTTP/1.1 403 "), head
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert (doc["code"], doc["message"]) == (403, "no echo for you")
    # a backend that answers without upgrading: the responder's 503
    tls, head = _raw_upgrade(server, f"{BASE}/plain", "SPDY/3.1", server.token)
    try:
        status, headers, body = _response(tls, head)
    finally:
        tls.close()
    assert status.startswith(b"HTTP/1.1 503 "), head
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body == b"invalid upgrade response: status code 200\n"
    # no credentials: anonymous, refused by our authorization; the backend never asked
    count = len(backend.upgrades)
    tls, head = _raw_upgrade(server, f"{BASE}/echo", "SPDY/3.1", None)
    try:
        status, _, body = _response(tls, head)
    finally:
        tls.close()
    assert status.startswith(b"HTTP/1.1 403 "), head
    assert 'User \\"system:anonymous\\" cannot get resource \\"flunders/echo\\"' in body.decode(), body
    assert len(backend.upgrades) == count
