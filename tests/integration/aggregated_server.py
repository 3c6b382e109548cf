"""A tiny real aggregated API server for tests: HTTPS on loopback (its own CA, a certificate for
127.0.0.1 and the Service's DNS name), serving one group version with one namespaced resource
(discovery document, list and get), recording the headers of every request it answers.

With `front_proxy=(requestheader CA PEM, allowed names)` (what kube-system/extension-apiserver-authentication
publishes) it authenticates as k8s.io/apiserver's delegating authenticator does: the X-Remote-* headers
count only from a client certificate verified against that CA whose CN is allowed (any when the list
is empty); every other request is answered 401. `identities` records who each request was."""

from __future__ import annotations

import json
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
