"""A real HTTPS admission webhook for tests: a CA and a serving certificate made with cryptography,
a threaded HTTP server on loopback, and per-path behaviours (allow, deny, patch, warn, slow). Every
AdmissionReview received is recorded by path."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Behaviour = Callable[[dict[str, Any]], dict[str, Any]]


def make_ca_and_cert(tmp: Path, dns_names: list[str]) -> tuple[bytes, Path, Path]:
    """(CA PEM, cert file, key file): a CA and a serving certificate for 127.0.0.1 and `dns_names`."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    sans += [x509.DNSName(n) for n in dns_names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "webhook.crt", tmp / "webhook.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


def allow(review: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"uid": review["request"]["uid"], "allowed": True, **extra}


def patch_response(review: dict[str, Any], ops: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return allow(
        review, patchType="JSONPatch", patch=base64.b64encode(json.dumps(ops).encode()).decode(), **extra
    )


class WebhookServer:
    """HTTPS webhooks on 127.0.0.1: `behaviours[path](review) -> response`; `received[path]`."""

    def __init__(self, tmp: Path, dns_names: list[str] | None = None) -> None:
        self.ca_pem, cert, key = make_ca_and_cert(tmp, dns_names or [])
        self.behaviours: dict[str, Behaviour] = {}
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                review = json.loads(body)
                review["_query"] = query
                with outer.lock:
                    outer.received.setdefault(path, []).append(review)
                fn = outer.behaviours.get(path)
                if fn is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = fn(review)
                out = json.dumps(
                    {"apiVersion": review["apiVersion"], "kind": "AdmissionReview", "response": answer}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                # the API server may have given up waiting (the timeout tests): nothing to answer
                with contextlib.suppress(ssl.SSLError, ConnectionError):
                    self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca_pem).decode()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def reviews(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.received.get(path, []))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def slow(seconds: float) -> Behaviour:
    def fn(review: dict[str, Any]) -> dict[str, Any]:
        time.sleep(seconds)
        return allow(review)

    return fn
