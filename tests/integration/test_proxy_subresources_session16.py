"""`pods/proxy`, `services/proxy` and `nodes/proxy` end to end, with the real kubectl (`get --raw`,
`create --raw`) and raw HTTPS: against `vcluster host` directly (the simulated pods' IPs are this
machine's loopback, so the backend is an HTTP server this test starts on a free port, named as the
pod's containerPort) and through a virtual cluster (virtual API server → syncer relay → host API
server → backend). One host + virtual cluster pair for the module."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .conftest import Kubectl
from .httpclient import Client
from .syncer_harness import Pair, get_json, pair_fixture, pod_running, virtual_namespace, wait_until
from .webhook_server import WebhookServer, allow

pytestmark = pytest.mark.integration

pair = pair_fixture(nodes=1)
VWC = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


# ---------------------------------------------------------------------------------------------- backend
class _Echo(BaseHTTPRequestHandler):
    """Answers every method with what it received (JSON); `/page` is HTML with links, `/go`
    redirects to `/target`."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.headers.get("Upgrade"):
            self._upgrade()
            return
        body = self._body()
        if self.path.startswith("/page"):
            out = b'<html><body><a href="/docs/">docs</a> <img src="rel.png"><a href="http://elsewhere/x">x</a></body></html>'
            self._send(200, "text/html; charset=utf-8", out)
            return
        if self.path.startswith("/go"):
            self.send_response(302)
            self.send_header("Location", "/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        out = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": body.decode(),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self._send(200, "application/json", out)

    def _body(self) -> bytes:
        """The request body, Content-Length or chunked (a client streaming a body sends it chunked,
        and the API server's proxy forwards it so)."""
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            body = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return body
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upgrade(self) -> None:
        """101, then every byte received is sent back upper-cased (with the path first)."""
        self.send_response(101)
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", self.headers["Upgrade"])
        self.end_headers()
        self.wfile.flush()
        self.connection.sendall(self.path.encode() + b"\n")
        while data := self.connection.recv(65536):
            self.connection.sendall(data.upper())
        self.close_connection = True

    def _send(self, status: int, ctype: str, out: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer


@pytest.fixture(scope="module")
def backend() -> Iterator[int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield int(srv.server_address[1])
    finally:
        srv.shutdown()
        srv.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


APP = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: nginx
    ports: [{{containerPort: {port}, name: http}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: closed
  namespace: {ns}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: nginx
    ports: [{{containerPort: {closed}}}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: {port}}}
---
apiVersion: v1
kind: Service
metadata:
  name: nobody
  namespace: {ns}
spec:
  selector: {{app: nobody}}
  ports:
  - {{port: 80}}
"""


def _deploy(k: Kubectl, ns: str, port: int) -> str:
    k.apply(APP.format(ns=ns, port=port, closed=_closed_port()))
    for name in ("web", "closed"):
        wait_until(lambda n=name: pod_running(k, n, ns), 30, what=f"pod {name} Running")

    def endpoints_ready() -> bool:
        ep = get_json(k, "endpoints", "web", "-n", ns) or {}
        return any(s.get("addresses") for s in ep.get("subsets") or [])

    wait_until(endpoints_ready, 20, what="endpoints of web")
    return ns


@pytest.fixture(scope="module")
def hns(pair: Pair, backend: int) -> str:
    return _deploy(pair.kh, virtual_namespace(pair.kh, "proxy-host"), backend)


@pytest.fixture(scope="module")
def vns(pair: Pair, backend: int) -> str:
    return _deploy(pair.kv, virtual_namespace(pair.kv, "proxy-virtual"), backend)


@pytest.fixture(scope="module")
def hapi(pair: Pair) -> Iterator[Client]:
    c = Client(pair.host.url, pair.host.ca_file, pair.host.token)
    yield c
    c.close()


@pytest.fixture(scope="module")
def vapi(pair: Pair) -> Iterator[Client]:
    c = Client(pair.vc.url, pair.vc.ca_file, pair.vc.token)
    yield c
    c.close()


def _side(pair: Pair, side: str, request: pytest.FixtureRequest) -> tuple[Kubectl, Client, str]:
    if side == "host":
        return pair.kh, request.getfixturevalue("hapi"), request.getfixturevalue("hns")
    return pair.kv, request.getfixturevalue("vapi"), request.getfixturevalue("vns")


SIDES = pytest.mark.parametrize("side", ["host", "virtual"])


# ---------------------------------------------------------------------------------------------- tests
@SIDES
def test_pod_and_service_proxy_get_with_path_and_query(
    pair: Pair, side: str, backend: int, request: pytest.FixtureRequest
) -> None:
    k, _, ns = _side(pair, side, request)
    for target in (
        f"pods/web:{backend}",
        "pods/web",
        "services/web:80",
        "services/web:http",
        "services/http:web:80",
    ):
        base = f"/api/v1/namespaces/{ns}/{target}/proxy"
        got = json.loads(k("get", "--raw", f"{base}/some/path/?a=1&b=two"))
        assert (got["method"], got["path"]) == ("GET", "/some/path/?a=1&b=two"), (target, got)
        # through a virtual cluster the host API server proxies last: its path is the one forwarded
        uri = got["headers"]["x-forwarded-uri"]
        assert uri == f"{base}/some/path/" if side == "host" else uri.endswith("/proxy/some/path/"), uri
        assert "authorization" not in got["headers"]  # the client's credentials stay with the API server


@SIDES
def test_proxied_post_put_patch_delete_with_bodies(
    pair: Pair, side: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    k, api, ns = _side(pair, side, request)
    body = tmp_path / "body.json"
    body.write_text('{"hello": "world"}')
    got = json.loads(
        k("create", "--raw", f"/api/v1/namespaces/{ns}/services/web:80/proxy/submit", "-f", str(body))
    )
    assert (got["method"], got["path"], got["body"]) == ("POST", "/submit", '{"hello": "world"}'), got
    for method in ("PUT", "PATCH", "DELETE"):
        r = api.call(
            method, f"/api/v1/namespaces/{ns}/pods/web/proxy/x", b"payload", {"Content-Type": "text/plain"}
        )
        assert r.status == 200, r.body
        assert (r.body["method"], r.body["path"], r.body["body"]) == (method, "/x", "payload")
    r = api.call("HEAD", f"/api/v1/namespaces/{ns}/pods/web/proxy/x")
    assert (r.status, r.raw) == (200, b"")
    assert "access-control-allow-origin" not in {h.lower() for h in r.headers}  # CORS headers dropped


@SIDES
def test_redirects_and_html_links_rewritten_under_the_api_path(
    pair: Pair, side: str, request: pytest.FixtureRequest
) -> None:
    _, api, ns = _side(pair, side, request)
    base = f"/api/v1/namespaces/{ns}/pods/web/proxy"
    r = api.call("GET", base + "?q=1")
    assert (r.status, r.headers.get("location")) == (301, base + "/?q=1")
    r = api.call("GET", f"{base}/go")
    assert (r.status, r.headers.get("location")) == (302, f"{base}/target")
    r = api.call("GET", f"{base}/page")
    assert r.status == 200
    page = r.raw.decode()
    assert f'href="{base}/docs/"' in page, page
    assert 'src="rel.png"' in page and 'href="http://elsewhere/x"' in page  # relative, other host: kept


@SIDES
def test_kube_errors_for_bad_names_ports_and_unreachable_backends(
    pair: Pair, side: str, request: pytest.FixtureRequest
) -> None:
    _, api, ns = _side(pair, side, request)
    base = f"/api/v1/namespaces/{ns}"
    cases = [
        (
            f"{base}/services/web:81/proxy/",
            503,
            "ServiceUnavailable",
            'no service port 81 found for service "web"',
        ),
        (
            f"{base}/services/web:nope/proxy/",
            503,
            "ServiceUnavailable",
            'no endpoints available for service "web:nope"',
        ),
        (
            f"{base}/services/nobody/proxy/",
            503,
            "ServiceUnavailable",
            'no endpoints available for service "nobody"',
        ),
        (f"{base}/services/ftp:web:80/proxy/", 400, "BadRequest", 'invalid service request "ftp:web:80"'),
        (f"{base}/pods/a:b:c:d/proxy/", 400, "BadRequest", 'invalid pod request "a:b:c:d"'),
        (f"{base}/pods/missing/proxy/", 404, "NotFound", 'pods "missing" not found'),
        (f"{base}/services/missing:80/proxy/", 404, "NotFound", 'services "missing" not found'),
    ]
    for path, code, reason, message in cases:
        r = api.call("GET", path)
        assert (r.status, r.body.get("reason"), r.body.get("message")) == (code, reason, message), (
            path,
            r.body,
        )
    r = api.call("GET", f"{base}/pods/closed/proxy/")
    assert r.status == 503, r.body
    assert r.raw.startswith(b"Error trying to reach service: 'dial tcp "), r.raw
    assert b"connect: connection refused'" in r.raw
    r = api.call("TRACE", f"{base}/pods/web/proxy/")
    assert r.status == 405


@SIDES
def test_proxy_needs_rbac_on_the_proxy_subresource(
    pair: Pair, side: str, request: pytest.FixtureRequest
) -> None:
    k, _, ns = _side(pair, side, request)
    p = k.run("get", "--raw", f"/api/v1/namespaces/{ns}/pods/web/proxy/", "--as=mallory", check=False)
    assert p.returncode == 1
    assert (
        'Error from server (Forbidden): pods "web" is forbidden: User "mallory" cannot get resource '
        f'"pods/proxy" in API group "" in the namespace "{ns}"'
    ) in p.stderr, p.stderr
    p = k.run(
        "create",
        "--raw",
        f"/api/v1/namespaces/{ns}/services/web:80/proxy/",
        "-f",
        "/dev/null",
        "--as=mallory",
        check=False,
    )
    assert 'cannot create resource "services/proxy"' in p.stderr, p.stderr


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    ws = WebhookServer(tmp_path_factory.mktemp("proxy-webhook"))
    yield ws
    ws.stop()


@SIDES
def test_connect_webhook_sees_proxy_options_and_can_deny(
    pair: Pair, side: str, hooks: WebhookServer, request: pytest.FixtureRequest
) -> None:
    k, api, ns = _side(pair, side, request)
    path = f"/deny-proxy-{side}"

    def deny_admin(review: dict[str, Any]) -> dict[str, Any]:
        if "/admin" in str((review["request"].get("object") or {}).get("path")):
            return {
                "uid": review["request"]["uid"],
                "allowed": False,
                "status": {"code": 403, "reason": "Forbidden", "message": "no admin pages"},
            }
        return allow(review)

    hooks.behaviours[path] = deny_admin
    cfg = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": f"proxy-{side}"},
        "webhooks": [
            {
                "name": "proxy.connect.example.com",
                "clientConfig": {"url": hooks.url(path), "caBundle": hooks.ca_bundle},
                "rules": [
                    {
                        "operations": ["CONNECT"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods/proxy", "services/proxy"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    assert api.call("POST", VWC, cfg).status == 201
    try:
        p = k.run("get", "--raw", f"/api/v1/namespaces/{ns}/services/web:80/proxy/admin/x", check=False)
        assert (
            'admission webhook "proxy.connect.example.com" denied the request: no admin pages' in p.stderr
        ), p.stderr
        got = json.loads(k("get", "--raw", f"/api/v1/namespaces/{ns}/pods/web/proxy/public"))
        assert got["path"] == "/public"
    finally:
        assert api.call("DELETE", f"{VWC}/proxy-{side}").status == 200
    req = hooks.reviews(path)[-1]["request"]
    assert req["operation"] == "CONNECT" and req["subResource"] == "proxy"
    assert req["kind"] == {"group": "", "version": "v1", "kind": "PodProxyOptions"}
    assert req["object"] == {"kind": "PodProxyOptions", "apiVersion": "v1", "path": "/public"}


def test_node_proxy_reaches_the_simulated_kubelet(pair: Pair, hns: str) -> None:
    node = json.loads(pair.kh("get", "nodes", "-o", "json"))["items"][0]["metadata"]["name"]
    assert pair.kh("get", "--raw", f"/api/v1/nodes/{node}/proxy/healthz") == "ok"
    pods = json.loads(pair.kh("get", "--raw", f"/api/v1/nodes/{node}/proxy/pods"))
    assert pods["kind"] == "PodList"
    assert ("web", hns) in {(p["metadata"]["name"], p["metadata"]["namespace"]) for p in pods["items"]}
    p = pair.kh.run("get", "--raw", "/api/v1/nodes/missing/proxy/healthz", check=False)
    assert 'nodes "missing" not found' in p.stderr, p.stderr


def test_node_proxy_of_a_virtual_node_is_relayed_and_rewritten(pair: Pair, vns: str) -> None:
    node = pair.kv.get_json("pod", "web", "-n", vns)["spec"]["nodeName"]
    assert pair.kv("get", "--raw", f"/api/v1/nodes/{node}/proxy/healthz") == "ok"
    pods = json.loads(pair.kv("get", "--raw", f"/api/v1/nodes/{node}/proxy/pods"))
    names = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods["items"]}
    assert (vns, "web") in names and (vns, "closed") in names, names
    assert all(ns == vns or not ns.startswith("proxy-host") for ns, _ in names)  # host pods not shown
    logs = pair.kv("get", "--raw", f"/api/v1/nodes/{node}/proxy/containerLogs/{vns}/web/main")
    assert logs == pair.kv("logs", "web", "-n", vns)
    p = pair.kv.run("get", "--raw", f"/api/v1/nodes/{node}/proxy/containerLogs/{vns}/web/nope", check=False)
    assert "container nope is not valid for pod web" in p.stderr, p.stderr


def _raw_upgrade(url: str, ca_file: Path, token: str, path: str) -> tuple[bytes, socket.socket]:
    """An upgrade request on a raw TLS connection: (the answer's head, the connection)."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(ca_file))
    sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10), server_hostname=host)
    head = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: Upgrade\r\nUpgrade: echo\r\n\r\n"
    )
    sock.sendall(head.encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got, sock


@SIDES
def test_upgrade_requests_are_relayed_as_raw_connections(
    pair: Pair, side: str, request: pytest.FixtureRequest
) -> None:
    _, _, ns = _side(pair, side, request)
    server = pair.host if side == "host" else pair.vc
    head, sock = _raw_upgrade(
        server.url, server.ca_file, server.token, f"/api/v1/namespaces/{ns}/pods/web/proxy/ws?x=1"
    )
    with sock:
        assert head.startswith(b"HTTP/1.1 101"), head
        rest = head.split(b"\r\n\r\n", 1)[1]
        while not rest.endswith(b"\n"):
            rest += sock.recv(65536)
        assert rest == b"/ws?x=1\n"
        sock.sendall(b"hello through the proxy")
        got = b""
        while len(got) < len(b"hello through the proxy"):
            got += sock.recv(65536)
        assert got == b"HELLO THROUGH THE PROXY"
