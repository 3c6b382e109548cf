"""The upgrade path of apimachinery's UpgradeAwareHandler (`tryUpgrade`), as kube-aggregator's proxy
uses it for `Connection: Upgrade` requests (SPDY/3.1, WebSocket, anything else): the request is
written to a direct TLS connection to the backend (the same TLS configuration as the proxied
requests, so the front-proxy client certificate), the backend's answer decides:

- 101 Switching Protocols: its raw response bytes go to the client, whose connection is taken over,
  and bytes are copied both ways until either side ends, which closes both;
- an error (400 or more): the backend's response is given to the client as it is;
- anything else: the responder's error, `invalid upgrade response: status code N` (503 in
  kube-aggregator's responder).

A dial failure is the responder's error too, with Go's dial text.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

_DIAL_TIMEOUT = 10.0
_MAX_HEAD = 64 * 1024
_MAX_ERROR_BODY = 1024 * 1024
_CHUNK = 64 * 1024
# hop-by-hop headers not copied from an error answer (the client library recomputes them)
_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "proxy-connection", "te"}
)

ErrorResponder = Callable[[str], web.StreamResponse]


def is_upgrade_request(headers: Any) -> bool:
    """httpstream.IsUpgradeRequest: a `Connection` header that contains "upgrade"."""
    return any("upgrade" in v.lower() for v in headers.getall("Connection", []))


class Hijacked(web.StreamResponse):
    """The answer of a connection taken over after a 101: aiohttp writes nothing more on it."""

    def __init__(self) -> None:
        super().__init__(status=101)

    @property
    def prepared(self) -> bool:
        return True

    async def prepare(self, request: web.BaseRequest) -> None:  # type: ignore[override]
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class _Feed:
    """What the server protocol hands the bytes after the upgrade to (as it does a WebSocketReader)."""

    def __init__(self, reader: aiohttp.StreamReader) -> None:
        self.reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self.reader.feed_eof()


def _dial_text(host: str, port: int, e: BaseException) -> str:
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(e, ConnectionRefusedError):
        return f"dial tcp {hostport}: connect: connection refused"
    if isinstance(e, TimeoutError):
        return f"dial tcp {hostport}: i/o timeout"
    if isinstance(e, ssl.SSLError):
        return f"tls: {e.reason or e}"
    return f"dial tcp {hostport}: {e}"


def _request_head(
    request: web.BaseRequest,
    host: str,
    port: int,
    headers: Iterable[tuple[str, str]],
    path_qs: str | None = None,
) -> bytes:
    """The request line and headers as net/http writes the cloned request (Host: the location)."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    target = path_qs if path_qs is not None else request.rel_url.raw_path_qs
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {netloc}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, CIMultiDict[str]]:
    text = head.decode("latin-1")
    status_line, _, rest = text.partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"malformed HTTP status line {status_line!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in rest.split("\r\n"):
        if ":" in line:
            k, _, v = line.partition(":")
            headers.add(k.strip(), v.strip())
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: CIMultiDict[str]) -> bytes:
    """The body of a non-101 answer (Content-Length, chunked, or up to EOF), capped."""
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        return await reader.readexactly(min(int(length), _MAX_ERROR_BODY))
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        body = b""
        while len(body) < _MAX_ERROR_BODY:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await reader.readexactly(size)
            await reader.readline()
        return body
    return await reader.read(_MAX_ERROR_BODY)


async def proxy_upgrade(
    request: web.Request,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None,
    headers: list[tuple[str, str]],
    error: ErrorResponder,
    path_qs: str | None = None,
) -> web.StreamResponse:
    """Relay an upgrade request to https://host:port (http:// without `ssl_context`; see the module
    docstring); `headers` are the ones to send (the upgrade headers kept), `error` builds the
    responder's error answer; `path_qs` replaces the request's path and query."""
    protocol: Any = getattr(request, "protocol", None)  # none on the in-process transport
    if protocol is None or request.transport is None:
        return error("the connection cannot be upgraded")
    body = await request.read() if request.can_read_body else b""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host, port, ssl=ssl_context, server_hostname=server_hostname, limit=_MAX_HEAD
            ),
            _DIAL_TIMEOUT,
        )
    except (OSError, TimeoutError, ssl.SSLError) as e:
        return error(_dial_text(host, port, e))
    try:
        fwd = list(headers)
        if body:
            fwd.append(("Content-Length", str(len(body))))
        writer.write(_request_head(request, host, port, fwd, path_qs) + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status, resp_headers = _parse_head(head)
        if status != 101:
            if status < 400:
                return error(f"invalid upgrade response: status code {status}")
            raw = await _read_body(reader, resp_headers)
            out = CIMultiDict((k, v) for k, v in resp_headers.items() if k.lower() not in _HOP)
            resp = web.Response(status=status, body=raw, headers=out)
            resp.force_close()  # the connection ends after it, as the hijacked one does upstream
            return resp
        client_in = aiohttp.StreamReader(protocol, _CHUNK, loop=asyncio.get_running_loop())
        protocol.set_parser(_Feed(client_in))
        await request.writer.write(head)
        await _pump(client_in, request, reader, writer)
        return Hijacked()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
        return error(f"error proxying the upgrade: {e}")
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _pump(
    client_in: aiohttp.StreamReader,
    request: web.Request,
    backend_in: asyncio.StreamReader,
    backend_out: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways; when one direction ends both connections are closed."""

    async def up() -> None:
        while data := await client_in.readany():
            backend_out.write(data)
            await backend_out.drain()

    async def down() -> None:
        while data := await backend_in.read(_CHUNK):
            await request.writer.write(data)

    tasks = {asyncio.create_task(up()), asyncio.create_task(down())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        protocol: Any = request.protocol
        with contextlib.suppress(AttributeError):
            protocol.force_close()
        if request.transport is not None:
            request.transport.close()
