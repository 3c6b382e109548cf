"""A tiny real aggregated API server for tests: HTTPS on loopback (its own CA, a certificate for
127.0.0.1 and the Service's DNS name), serving one group version with one namespaced resource
(discovery document, list and get), recording the headers of every request it answers."""

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

    def __init__(self, tmp: Path, dns_names: list[str]) -> None:
        import ssl

        self.ca_pem, cert, key = make_ca_and_cert(tmp, dns_names)
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
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

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                headers: dict[str, list[str]] = {}
                for k, v in self.headers.items():
                    headers.setdefault(k.lower(), []).append(v)
                with outer.lock:
                    outer.requests.append((path, headers))
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
        ctx.load_cert_chain(cert, key)
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
