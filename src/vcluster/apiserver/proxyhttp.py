"""The plain-HTTP road of apimachinery's UpgradeAwareHandler as the proxy subresources use it
(`pods/proxy`, `services/proxy`, `nodes/proxy`, wrapped in `proxy.Transport`): the request goes to the
location with the client's method, headers, body and query; the answer comes back as it is, with
kube's rewriting:

- a GET/HEAD of the bare `.../proxy` (empty backend path) is answered `301` to `.../proxy/`;
- the request carries `X-Forwarded-Uri` (the API path) and `X-Forwarded-For`; hop-by-hop headers,
  the client's `Authorization` and `Impersonate-*` headers (consumed by the API server's
  authentication and impersonation filters) are not forwarded; the `Host` header stays the client's,
  as Go's ReverseProxy leaves it;
- a `Location` header and the URL attributes of a `text/html` answer that point at the backend by
  absolute path are rewritten under the API path (`transport.go` rewriteURL / rewriteHTML;
  gzip/deflate bodies are decoded and encoded again); CORS headers are dropped;
- a failed dial is `503` text/plain `Error trying to reach service: '<Go's dial error>'`.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import ssl as _ssl
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import escape, unescape
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from vcluster.apiserver.podlogs import _dial_error

_CONNECT_TIMEOUT = 30.0  # kube-apiserver's proxy dialer
_MAX_HTML = 32 * 1024 * 1024
# net/http's hop-by-hop headers (httputil.ReverseProxy removes them both ways)
HOP_HEADERS = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_CORS = frozenset(
    {
        "access-control-allow-credentials",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-allow-origin",
    }
)
# transport.go atomsToAttrs: the attributes of each tag that hold URLs
_URL_ATTRS: dict[str, frozenset[str]] = {
    tag: frozenset(attrs.split())
    for tag, attrs in {
        "a": "href",
        "applet": "codebase",
        "area": "href",
        "audio": "src",
        "base": "href",
        "blockquote": "cite",
        "body": "background",
        "button": "formaction",
        "command": "icon",
        "del": "cite",
        "embed": "src",
        "form": "action",
        "frame": "longdesc src",
        "head": "profile",
        "html": "manifest",
        "iframe": "longdesc src",
        "img": "longdesc src usemap",
        "input": "src usemap formaction",
        "ins": "cite",
        "link": "href",
        "object": "classid codebase data usemap",
        "q": "cite",
        "script": "src",
        "source": "src",
        "video": "poster src",
    }.items()
}
_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9]*)(\s[^<>]*?)?(/?)>")
_ATTR = re.compile(rb"""(\s+)([^\s=/>"']+)(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""")


def join_preserving_trailing_slash(*elems: str) -> str:
    """net.JoinPreservingTrailingSlash: path.Join, keeping a trailing slash of the last element."""
    joined = posixpath.normpath("/".join(e for e in elems if e)) if any(elems) else ""
    if joined == ".":
        joined = ""
    if joined.startswith("//"):
        joined = "/" + joined.lstrip("/")
    if elems and elems[-1].endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined


def rewrite_url(target: str, source_host: str, request_host: str, prepend: str) -> str:
    """transport.go rewriteURL for a server-side Transport (no scheme/host of its own): an
    absolute-path URL on the backend's host (or the client's) goes under `prepend`."""
    try:
        u = urlsplit(target)
    except ValueError:
        return target
    if (u.netloc and u.netloc not in (source_host, request_host)) or not u.path.startswith("/"):
        return target
    if u.netloc != request_host:
        u = u._replace(scheme="", netloc="")
    if u.path.startswith(prepend):
        return urlunsplit(u)
    new_path = posixpath.normpath(prepend + "/" + u.path) if prepend else u.path
    if u.path.endswith("/") and not new_path.endswith("/"):
        new_path += "/"
    return urlunsplit(u._replace(path=new_path))


def rewrite_html(body: bytes, rewrite: Callable[[str], str]) -> bytes:
    """rewriteHTML: the URL attributes of the tags kube knows (atomsToAttrs) passed to `rewrite`."""

    def tag(m: re.Match[bytes]) -> bytes:
        name = m.group(1).decode("ascii").lower()
        attrs = _URL_ATTRS.get(name)
        if attrs is None or not m.group(2):
            return m.group(0)

        def attr(a: re.Match[bytes]) -> bytes:
            key = a.group(2).decode("utf-8", "replace").lower()
            if key not in attrs:
                return a.group(0)
            raw = a.group(4)
            quoted = raw[:1] in (b'"', b"'")
            value = unescape((raw[1:-1] if quoted else raw).decode("utf-8", "replace"))
            new = escape(rewrite(value), quote=True).encode()
            return a.group(1) + a.group(2) + b'="' + new + b'"'

        return b"<" + m.group(1) + _ATTR.sub(attr, m.group(2)) + m.group(3) + b">"

    return _TAG.sub(tag, body)


def _decode(body: bytes, encoding: str) -> bytes | None:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body, -zlib.MAX_WBITS)
    return body if encoding == "" else None


def _encode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        return c.compress(body) + c.flush()
    return body


@dataclass
class Forward:
    """Where and how to send one proxied request."""

    url: URL  # the URL dialed (path and query included)
    display: str  # host:port named in dial errors (the location, before any simulated mapping)
    prefix: str  # the API path before the backend path (transport.go PathPrepend)
    ssl: _ssl.SSLContext | bool = False
    server_hostname: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # set on the request (credentials)
    keep_host: bool = True  # send the client's Host header (Go's ReverseProxy does)
    # URL rewriting of Location headers and HTML attributes; None: kube's rewriteURL
    rewrite: Callable[[str], str] | None = None
    on_dial_error: Callable[[str], web.StreamResponse] | None = None


def dial_failed(message: str) -> web.Response:
    """transport.go's answer to a failed round trip."""
    return web.Response(
        status=503,
        text=f"Error trying to reach service: '{message}'",
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


def request_headers(request: web.BaseRequest, fwd: Forward, backend_path: str) -> CIMultiDict[str]:
    """The headers sent to the backend (see the module docstring)."""
    out: CIMultiDict[str] = CIMultiDict()
    connection_named = {
        t.strip().lower() for v in request.headers.getall("Connection", []) for t in v.split(",")
    }
    for k, v in request.headers.items():
        lk = k.lower()
        if lk in HOP_HEADERS or lk in connection_named or lk == "authorization":
            continue
        if lk.startswith("impersonate-") or (lk == "host" and not fwd.keep_host):
            continue
        out.add(k, v)
    uri = posixpath.join(fwd.prefix, backend_path.lstrip("/")) if fwd.prefix else backend_path
    if backend_path.endswith("/") and not uri.endswith("/"):
        uri += "/"
    out["X-Forwarded-Uri"] = uri
    remote = request.remote or ""
    prior = ", ".join(request.headers.getall("X-Forwarded-For", []))
    if remote:
        out["X-Forwarded-For"] = f"{prior}, {remote}" if prior else remote
    out.update(fwd.headers)
    return out


def _response_headers(headers: Iterable[tuple[str, str]], drop: Iterable[str] = ()) -> CIMultiDict[str]:
    skip = HOP_HEADERS | _CORS | {d.lower() for d in drop}
    return CIMultiDict((k, v) for k, v in headers if k.lower() not in skip)


async def forward(request: web.Request, fwd: Forward, backend_path: str) -> web.StreamResponse:
    """Send `request` to `fwd.url` and relay the answer (see the module docstring)."""
    body = request.content if request.body_exists else None  # streamed, not held in memory
    headers = request_headers(request, fwd, backend_path)
    source_host = f"{fwd.url.host}:{fwd.url.port}"
    request_host = request.headers.get("Host", "")
    rewrite = fwd.rewrite or (lambda u: rewrite_url(u, source_host, request_host, fwd.prefix))
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT, connect=_CONNECT_TIMEOUT)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=fwd.ssl, force_close=True),
        timeout=timeout,
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
    )
    extra: dict[str, Any] = {"server_hostname": fwd.server_hostname} if fwd.server_hostname else {}
    try:
        try:
            upstream = await session.request(
                request.method, fwd.url, headers=headers, data=body, allow_redirects=False, **extra
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            message = _dial_error(fwd.display, e)
            return fwd.on_dial_error(message) if fwd.on_dial_error else dial_failed(message)
        async with upstream:
            return await _relay_answer(request, upstream, rewrite)
    finally:
        await session.close()


async def _relay_answer(
    request: web.Request, upstream: aiohttp.ClientResponse, rewrite: Callable[[str], str]
) -> web.StreamResponse:
    out = _response_headers(upstream.headers.items(), drop=("content-length",))
    location = upstream.headers.get("Location")
    ctype = upstream.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if location:
        out["Location"] = rewrite(location)
    elif ctype == "text/html" and request.method != "HEAD":
        raw = await upstream.content.read(_MAX_HTML)
        encoding = upstream.headers.get("Content-Encoding", "").strip().lower()
        try:
            plain = _decode(raw, encoding)
        except (OSError, zlib.error, EOFError):
            plain = None
        if plain is not None:
            raw = _encode(rewrite_html(plain, rewrite), encoding)
        return web.Response(status=upstream.status, body=raw, headers=out)
    if request.method == "HEAD" or upstream.status in (204, 304):
        if upstream.content_length is not None:
            out["Content-Length"] = str(upstream.content_length)
        resp = web.Response(status=upstream.status, headers=out)
        return resp
    resp = web.StreamResponse(status=upstream.status, headers=out)
    if upstream.content_length is not None:
        resp.content_length = upstream.content_length
    await resp.prepare(request)
    async for chunk in upstream.content.iter_any():
        await resp.write(chunk)
    await resp.write_eof()
    return resp


def redirect_to_slash(request: web.BaseRequest) -> web.Response:
    """proxyRedirectsforRootPath: a GET/HEAD with an empty backend path goes to `<path>/`."""
    query = request.rel_url.raw_query_string
    target = request.rel_url.raw_path + "/" + (f"?{query}" if query else "")
    return web.Response(status=301, headers={"Location": target})
