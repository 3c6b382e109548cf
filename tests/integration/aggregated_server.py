"""A tiny real aggregated API server for tests: HTTPS on loopback (its own CA, a certificate for
127.0.0.1 and the Service's DNS name), serving one group version with one namespaced resource
(discovery document, list and get), recording the headers of every request it answers.

With `front_proxy=(requestheader CA PEM, allowed names)` (what kube-system/extension-apiserver-authentication
publishes) it authenticates as k8s.io/apiserver's delegating authenticator does: the X-Remote-* headers
count only from a client certificate verified against that CA whose CN is allowed (any when the list
is empty); every other request is answered 401. `identities` records who each request was.

Upgrade requests (`Connection: Upgrade`) to `.../flunders/<name>/echo` are switched: a WebSocket
answers every message with `<X-Remote-User>:<message>`, any other protocol (SPDY/3.1) echoes the raw
bytes upper-cased until the client closes; `.../deny` answers an upgrade with a 403 Status and
`.../plain` with a 200 (no upgrade). `upgrades` records (path, Upgrade header, X-Remote-User)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .webhook_server import make_ca_and_cert

GROUP, VERSION, PLURAL, KIND = "wardle.example.com", "v1alpha1", "flunders", "Flunder"


class AggregatedServer:
    """`/apis/wardle.example.com/v1alpha1` with `flunders`; `requests` holds (path, headers)."""

    def __init__(
        self, tmp: Path, dns_names: list[str], front_proxy: tuple[bytes, list[str]] | None = None
    ) -> None:
        import ssl

        self.ca_pem, cert, key = make_ca_and_cert(tmp, dns_names)
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        # (path, user, groups, client certificate CN) of the requests the front proxy authenticated
        self.identities: list[tuple[str, str, list[str], str]] = []
        self.rejected: list[tuple[str, str]] = []  # (path, why) of the requests answered 401
        self.upgrades: list[tuple[str, str, str]] = []  # (path, Upgrade header, X-Remote-User)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _untrusted(self, headers: dict[str, list[str]]) -> str:
                """Why the front-proxy headers are not trusted ("" when they are)."""
                assert front_proxy is not None
                peer = self.connection.getpeercert()  # type: ignore[attr-defined]
                if not peer:
                    return "no client certificate"
                cn = next((v for rdn in peer["subject"] for k, v in rdn if k == "commonName"), "")
                if front_proxy[1] and cn not in front_proxy[1]:
                    return f"x509: subject with cn={cn} is not in the allowed list"
                user = (headers.get("x-remote-user") or [""])[0]
                if not user:
                    return "no X-Remote-User"
                with outer.lock:
                    outer.identities.append(
                        (self.path.partition("?")[0], user, headers.get("x-remote-group") or [], cn)
                    )
                return ""

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                headers: dict[str, list[str]] = {}
                for k, v in self.headers.items():
                    headers.setdefault(k.lower(), []).append(v)
                with outer.lock:
                    outer.requests.append((path, headers))
                if front_proxy is not None:
                    why = self._untrusted(headers)
                    if why:
                        with outer.lock:
                            outer.rejected.append((path, why))
                        self._send(
                            401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 401}
                        )
                        return
                base = f"/apis/{GROUP}/{VERSION}"
                if "upgrade" in self.headers.get("Connection", "").lower():
                    self._upgrade(path, headers)
                    return
                if path == base:
                    self._send(200, outer.discovery())
                    return
                parts = path[len(base) :].strip("/").split("/")
                if path.startswith(base + "/") and parts[-1] == PLURAL:
                    ns = parts[1] if len(parts) == 3 else "wardle"
                    user = (headers.get("x-remote-user") or [""])[0]
                    items = [outer.flunder(ns, "hello", user)]
                    self._send(
                        200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": f"{KIND}List", "items": items}
                    )
                    return
                self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

            def _upgrade(self, path: str, headers: dict[str, list[str]]) -> None:
                upgrade = self.headers.get("Upgrade", "")
                user = (headers.get("x-remote-user") or [""])[0]
                with outer.lock:
                    outer.upgrades.append((path, upgrade, user))
                sub = path.rsplit("/", 1)[-1]
                if sub == "deny":
                    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403}
                    self._send(403, {**status, "reason": "Forbidden", "message": "no echo for you"})
                    return
                if sub != "echo":
                    self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
                    return
                self.close_connection = True
                self.send_response(101)
                self.send_header("Connection", "Upgrade")
                self.send_header("Upgrade", upgrade)
                if upgrade.lower() == "websocket":
                    key = self.headers.get("Sec-WebSocket-Key", "") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
                    accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
                    self.send_header("Sec-WebSocket-Accept", accept)
                    self.end_headers()
                    self._websocket_echo(user)
                    return
                self.end_headers()
                while data := self.rfile.read1(65536):  # type: ignore[attr-defined]
                    self.wfile.write(data.upper())

            def _websocket_echo(self, user: str) -> None:
                """Unmask each client frame and answer `<user>:<payload>` (close answered by close)."""
                while len(head := self.rfile.read(2)) == 2:
                    opcode, n = head[0] & 0x0F, head[1] & 0x7F
                    if n == 126:
                        n = struct.unpack("!H", self.rfile.read(2))[0]
                    elif n == 127:
                        n = struct.unpack("!Q", self.rfile.read(8))[0]
                    mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
                    if opcode == 8:
                        self.wfile.write(bytes((0x88, len(payload[:2]))) + payload[:2])
                        return
                    out = (user + ":").encode() + payload if opcode in (1, 2) else payload
                    if len(out) < 126:
                        self.wfile.write(bytes((0x80 | opcode, len(out))) + out)
                    else:
                        self.wfile.write(bytes((0x80 | opcode, 126)) + struct.pack("!H", len(out)) + out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if front_proxy is not None:  # only the requestheader CA verifies clients
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if front_proxy is not None:
            ctx.verify_mode = ssl.CERT_OPTIONAL  # a certificate of another CA fails the handshake
            ctx.load_verify_locations(cadata=front_proxy[0].decode())
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def discovery() -> dict[str, Any]:
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{GROUP}/{VERSION}",
            "resources": [
                {
                    "name": PLURAL,
                    "singularName": "flunder",
                    "namespaced": True,
                    "kind": KIND,
                    "verbs": ["get", "list"],
                    "shortNames": ["fl"],
                }
            ],
        }

    @staticmethod
    def flunder(namespace: str, name: str, user: str) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "creationTimestamp": "2025-01-01T00:00:00Z",
                "annotations": {"seen-user": user},
            },
        }

    def seen(self, path: str) -> list[dict[str, list[str]]]:
        with self.lock:
            return [h for p, h in self.requests if p == path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
