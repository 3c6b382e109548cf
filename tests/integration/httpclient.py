"""A small synchronous HTTPS client for raw API requests against a test server.

One persistent `http.client` connection, verified against the cluster CA, bearer token by default.
Bodies may be bytes, str, or any JSON value but None (sent as `application/json` unless a Content-Type
is given); None or no body sends none.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_NO_BODY = object()


@dataclass
class Reply:
    status: int
    raw: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def body(self) -> Any:
        """The parsed JSON body, or the text when it is not JSON."""
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw.decode("utf-8", "replace")

    def __iter__(self):  # `status, body = client.call(...)`
        return iter((self.status, self.body))


class Client:
    """Raw HTTPS requests with a reused connection; reconnects when the server closed it."""

    def __init__(
        self, url: str, ca_file: Path | str, token: str | None = None, timeout: float = 15.0
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 443
        self.token = token
        self.timeout = timeout
        self.ctx = ssl.create_default_context(cafile=str(ca_file))
        self._conn: http.client.HTTPSConnection | None = None
        self._used = False  # the connection has already carried a complete exchange

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._used = False

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.ctx
            )
            self._used = False
        return self._conn

    def call(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        headers: dict[str, str] | None = None,
        token: str | object | None = _NO_BODY,
    ) -> Reply:
        """Send one request. `token=None` sends no Authorization header; a string overrides the default."""
        hdrs = dict(headers or {})
        lower = {k.lower() for k in hdrs}
        data: bytes | None
        if body is _NO_BODY or body is None:
            data = None
        elif isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8", "surrogatepass")
        else:
            data = json.dumps(body).encode()
            if "content-type" not in lower:
                hdrs["Content-Type"] = "application/json"
        tok = self.token if token is _NO_BODY else token
        if tok is not None and "authorization" not in lower:
            hdrs["Authorization"] = f"Bearer {tok}"
        if data is not None and "content-length" not in lower:
            hdrs["Content-Length"] = str(len(data))
        reused = self._conn is not None and self._used
        try:
            return self._exchange(method, path, data, hdrs)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            # A kept-alive connection the server closed in between: retry once on a new one.
            # On a fresh connection the failure is the answer to this request: raise it.
            if not reused:
                raise
            return self._exchange(method, path, data, hdrs)

    def _exchange(self, method: str, path: str, data: bytes | None, hdrs: dict[str, str]) -> Reply:
        conn = self._connection()
        try:
            try:
                conn.request(method, path, body=data, headers=hdrs)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                # The server may answer (413) and close before it has read a large body.
                if data is None or len(data) < 1024 * 1024:
                    raise
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        headers = {k.lower(): v for k, v in resp.getheaders()}
        if resp.will_close:
            self.close()
        else:
            self._used = True
        return Reply(resp.status, raw, headers)
