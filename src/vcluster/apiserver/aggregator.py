"""kube-aggregator's serving side: the stored APIServices in memory, the proxy to service-backed
(non-local) ones and their group versions in discovery.

- `APIServiceIndex` keeps every stored APIService, updated by a synchronous store watch (a write is
  seen by the next request), and tells its listeners (the controllers, discovery) what changed.
- `Aggregator.proxy` is handler_proxy.go: a request under `/apis/<group>/<version>` of a
  service-backed APIService goes to the Service (ClusterIP, or an endpoint address with
  `--enable-aggregator-routing`) over TLS verified with `caBundle` for `<service>.<namespace>.svc`
  (`insecureSkipTLSVerify` skips it), presenting the front-proxy client certificate
  (`--proxy-client-cert-file`, remote.BuildTransportConfig's CertData/KeyData), the requester named
  by the front-proxy headers `X-Remote-User`/`X-Remote-Group`/`X-Remote-Extra-*` (no `X-Remote-Uid`:
  1.32 sends it only with the alpha RemoteRequestHeaderUID gate; the client's Authorization and
  Impersonate-* headers are not passed on); an APIService that is not Available, or whose Service
  cannot be resolved, answers `503 service unavailable` in plain text as kube does. Upgrade
  requests (SPDY, WebSocket) are relayed byte for byte after the backend's 101 (`upgradeproxy.py`).
- Discovery: `/apis` and `/apis/<group>` list the service-backed group versions; their resources
  come from the backend's `/apis/<group>/<version>` document, fetched by the availability check
  (controllers/apiserviceavailability.py). A version whose check fails keeps its last resources
  and is `Stale` in aggregated discovery (with no resources when none were ever fetched).
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from vcluster.apiserver import apiregistration as apireg
from vcluster.apiserver.discovery import RemoteVersion
from vcluster.apiserver.resources import ResourceType, Subresource
from vcluster.apiserver.serviceresolver import ClusterResolver, ServiceResolver
from vcluster.apiserver.upgradeproxy import is_upgrade_request, proxy_upgrade
from vcluster.store.interface import Event, Storage

log = logging.getLogger("vcluster.apiserver.aggregator")

JSON = dict[str, Any]
PREFIX = "/registry/apiregistration.k8s.io/apiservices/"
# hop-by-hop headers (net/http/httputil) and the ones the client library recomputes
_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
_LEGAL_HEADER_BYTES = set(b"!#$&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
MAX_BODY = 64 * 1024 * 1024
ClientCert = tuple[Path, Path]  # (certificate file, key file)


def header_key_escape(key: str) -> str:
    """client-go's headerKeyEscape: percent-encode what may not appear in a header name."""
    return "".join(chr(b) if b in _LEGAL_HEADER_BYTES else f"%{b:02X}" for b in key.encode())


def unavailable(text: str = "service unavailable") -> web.Response:
    """proxyError(w, req, "service unavailable", 503), or the responder's Error: http.Error's
    plain-text 503."""
    return web.Response(
        status=503,
        body=f"{text}\n".encode(),
        headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
    )


def ssl_context_for(obj: JSON, client_cert: ClientCert | None = None) -> ssl.SSLContext:
    """TLS to the backend: the caBundle as the only roots, none checked with insecureSkipTLSVerify,
    the system roots otherwise; `client_cert` (the front-proxy client certificate) presented."""
    spec = apireg.spec_of(obj)
    if spec.get("insecureSkipTLSVerify") is True:
        return insecure_context(client_cert)
    ctx: ssl.SSLContext | None = None
    ca = spec.get("caBundle")
    if isinstance(ca, str) and ca:
        try:
            pem = base64.b64decode(ca).decode("utf-8", "replace")
            ctx = ssl.create_default_context(cadata=pem)
        except (binascii.Error, ssl.SSLError, ValueError) as e:
            log.warning("APIService %s: unusable caBundle: %s", _name(obj), e)
    ctx = ctx or ssl.create_default_context()
    _present(ctx, client_cert)
    return ctx


def insecure_context(client_cert: ClientCert | None = None) -> ssl.SSLContext:
    """TLS without checking the server, presenting `client_cert`."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    _present(ctx, client_cert)
    return ctx


def _present(ctx: ssl.SSLContext, client_cert: ClientCert | None) -> None:
    if client_cert is not None:
        ctx.load_cert_chain(certfile=str(client_cert[0]), keyfile=str(client_cert[1]))


def _name(obj: JSON) -> str:
    md = obj.get("metadata")
    return str(md.get("name") or "") if isinstance(md, dict) else ""


def resource_types(group: str, version: str, doc: JSON) -> tuple[ResourceType, ...]:
    """An APIResourceList's resources as discovery entries (subresources attached to their parent)."""
    entries = [
        r for r in doc.get("resources") or [] if isinstance(r, dict) and isinstance(r.get("name"), str)
    ]
    subs: dict[str, list[Subresource]] = {}
    for r in entries:
        parent, _, sub = r["name"].partition("/")
        if sub:
            subs.setdefault(parent, []).append(
                Subresource(
                    sub,
                    tuple(str(v) for v in r.get("verbs") or []),
                    r.get("group") if isinstance(r.get("group"), str) else None,
                    r.get("version") if isinstance(r.get("version"), str) else None,
                    r.get("kind") if isinstance(r.get("kind"), str) else None,
                )
            )
    out = []
    for r in entries:
        if "/" in r["name"]:
            continue
        out.append(
            ResourceType(
                group,
                version,
                r["name"],
                str(r.get("singularName") or ""),
                str(r.get("kind") or ""),
                bool(r.get("namespaced")),
                short_names=tuple(str(s) for s in r.get("shortNames") or []),
                categories=tuple(str(c) for c in r.get("categories") or []),
                verbs=tuple(str(v) for v in r.get("verbs") or []),
                subresources=tuple(subs.get(r["name"], ())),
            )
        )
    return tuple(out)


class APIServiceIndex:
    """The stored APIServices by name; listeners get the name of every one that changed."""

    def __init__(self) -> None:
        self.by_name: dict[str, JSON] = {}
        self.listeners: list[Callable[[str, JSON | None, JSON | None], None]] = []
        self._watch: Any = None

    async def start(self, store: Storage) -> None:
        res = await store.list(PREFIX)
        for e in res.entries:
            obj = e.decode()
            self.by_name[_name(obj)] = obj
        self._watch = await store.watch(PREFIX, res.revision)
        if not self._watch.set_sink(self._apply):  # pragma: no cover
            raise RuntimeError("the APIService index needs a store whose watches deliver synchronously")

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _apply(self, ev: Event) -> bool:
        name = ev.key.rsplit("/", 1)[-1]
        old = self.by_name.get(name)
        if ev.type == "DELETED":
            self.by_name.pop(name, None)
            new = None
        else:
            new = self.by_name[name] = orjson.loads(ev.entry.raw)
        for listener in list(self.listeners):
            try:
                listener(name, old, new)
            except Exception:  # a listener must not stop the others or the watch
                log.exception("APIService listener failed for %s", name)
        return True

    def get(self, name: str) -> JSON | None:
        return self.by_name.get(name)

    def all(self) -> list[JSON]:
        return list(self.by_name.values())


class Aggregator:
    """Proxy and discovery for the service-backed APIServices of one API server."""

    def __init__(
        self, store: Storage, registry: Any, cluster: ClusterResolver, *, endpoint_routing: bool = False
    ) -> None:
        self.index = APIServiceIndex()
        self.resolver = ServiceResolver(store, registry, cluster, endpoint_routing=endpoint_routing)
        self.on_change: Callable[[], None] = lambda: None  # discovery's invalidate
        self._discovered: dict[str, tuple[ResourceType, ...]] = {}  # name -> last resources
        self._stale: set[str] = set()  # names whose last discovery failed
        self._ssl: dict[tuple[str, str], ssl.SSLContext] = {}  # (name, resourceVersion) -> context
        self._session: aiohttp.ClientSession | None = None
        # --proxy-client-cert-file/--proxy-client-key-file: presented to every backend
        self.proxy_client_cert: ClientCert | None = None
        self._insecure: ssl.SSLContext | None = None
        self.index.listeners.append(self._changed)

    async def start(self, store: Storage) -> None:
        await self.index.start(store)

    async def stop(self) -> None:
        self.index.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), auto_decompress=False
            )
        return self._session

    def _changed(self, name: str, old: JSON | None, new: JSON | None) -> None:
        if new is None or apireg.service_ref(new) is None:
            self._discovered.pop(name, None)
            self._stale.discard(name)
        if (old is not None and apireg.service_ref(old) is not None) or (
            new is not None and apireg.service_ref(new) is not None
        ):
            self.on_change()

    # ------------------------------------------------------------------ lookups
    def remote(self, group: str, version: str) -> JSON | None:
        """The service-backed APIService serving group/version, if any."""
        obj = self.index.get(apireg.apiservice_name(group, version))
        if obj is None or apireg.service_ref(obj) is None:
            return None
        spec = apireg.spec_of(obj)
        if (spec.get("group"), spec.get("version")) != (group, version):
            return None
        return obj

    def remote_versions(self) -> list[RemoteVersion]:
        """Service-backed group versions for discovery, by group priority (highest first), then by
        version priority, as kube orders APIServices."""
        remote = [o for o in self.index.all() if apireg.service_ref(o) is not None]

        def key(o: JSON) -> tuple[int, str, int, str]:
            s = apireg.spec_of(o)
            return (
                -int(s.get("groupPriorityMinimum") or 0),
                str(s.get("group") or ""),
                -int(s.get("versionPriority") or 0),
                str(s.get("version") or ""),
            )

        out = []
        for o in sorted(remote, key=key):
            s, name = apireg.spec_of(o), _name(o)
            if not s.get("group"):
                continue  # the legacy group is never proxied in discovery
            out.append(
                RemoteVersion(
                    str(s["group"]),
                    str(s.get("version") or ""),
                    self._discovered.get(name, ()),
                    name in self._stale or name not in self._discovered,
                )
            )
        return out

    def set_discovery(self, name: str, group: str, version: str, doc: JSON | None) -> None:
        """The result of a discovery check: the backend's APIResourceList, or None (failed)."""
        if doc is None:
            changed = name not in self._stale
            self._stale.add(name)
        else:
            types = resource_types(group, version, doc)
            changed = name in self._stale or self._discovered.get(name) != types
            self._stale.discard(name)
            self._discovered[name] = types
        if changed:
            self.on_change()

    def ssl_context(self, obj: JSON) -> ssl.SSLContext:
        key = (_name(obj), str((obj.get("metadata") or {}).get("resourceVersion") or ""))
        ctx = self._ssl.get(key)
        if ctx is None:
            self._ssl = {k: v for k, v in self._ssl.items() if k[0] != key[0]}
            ctx = self._ssl[key] = ssl_context_for(obj, self.proxy_client_cert)
        return ctx

    async def endpoint(self, obj: JSON) -> tuple[str, int, str]:
        """(host, port, TLS server name) of an APIService's Service (ValueError if none)."""
        svc = apireg.service_ref(obj) or {}
        ns, name, port = (
            str(svc.get("namespace") or ""),
            str(svc.get("name") or ""),
            int(svc.get("port") or 443),
        )
        host, p = await self.resolver.resolve(ns, name, port)
        return host, p, f"{name}.{ns}.svc"

    async def target(self, obj: JSON) -> tuple[str, str]:
        """(https://host:port, TLS server name) of an APIService's Service (ValueError if none)."""
        host, port, server_name = await self.endpoint(obj)
        netloc = f"[{host}]" if ":" in host else host
        return f"https://{netloc}:{port}", server_name

    # ------------------------------------------------------------------ proxy
    async def proxy(self, request: web.Request, obj: JSON, user: Any, watch: bool) -> web.StreamResponse:
        """Forward one authenticated, authorized request to the APIService's backend."""
        if not apireg.is_available(obj):
            return unavailable()
        try:
            host, port, server_name = await self.endpoint(obj)
        except ValueError as e:
            log.info("APIService %s: error resolving its service: %s", _name(obj), e)
            return unavailable()
        if is_upgrade_request(request.headers):  # SPDY, WebSocket: UpgradeAwareHandler's tryUpgrade
            headers = _forward_headers(request.headers, user, upgrade=True)
            headers = _append_forwarded_for(headers, request.remote)
            return await proxy_upgrade(
                request,
                host,
                port,
                ssl_context=self.ssl_context(obj),
                server_hostname=server_name,
                headers=headers,
                error=unavailable,
            )
        base = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        headers = _forward_headers(request.headers, user)
        body = await request.content.read() if request.method not in ("GET", "HEAD") else b""
        timeout = aiohttp.ClientTimeout(total=None if watch else 60, sock_connect=10)
        try:
            upstream = await self.session().request(
                request.method,
                base + request.path_qs,
                headers=headers,
                data=body or None,
                ssl=self.ssl_context(obj),
                server_hostname=server_name,
                timeout=timeout,
                allow_redirects=False,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            log.warning("APIService %s: proxying %s failed: %s", _name(obj), request.path, e)
            return unavailable()
        async with upstream:
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
            if not watch:
                raw = await upstream.content.read(MAX_BODY)
                return web.Response(status=upstream.status, body=raw, headers=out_headers)
            resp: Any = getattr(request, "stream", None) or web.StreamResponse(
                status=upstream.status, headers=out_headers
            )
            resp.status = upstream.status
            await resp.prepare(request)
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ availability check
    async def discovery_check(self, obj: JSON) -> str | None:
        """The remote availability controller's discovery GET (as `system:kube-aggregator` in
        `system:masters`, TLS unchecked, the front-proxy client certificate presented, 5 s); None
        when it passed, else kube's failure text.
        The answer's resources become this group version's discovery."""
        spec = apireg.spec_of(obj)
        group, version = str(spec.get("group") or ""), str(spec.get("version") or "")
        name = _name(obj)
        try:
            base, _ = await self.target(obj)
        except ValueError as e:
            self.set_discovery(name, group, version, None)
            return str(e)
        path = f"/api/{version}" if name == "v1." else f"/apis/{group}/{version}"
        url = base + path
        if self._insecure is None:
            self._insecure = insecure_context(self.proxy_client_cert)
        insecure = self._insecure
        headers = {"X-Remote-User": "system:kube-aggregator", "X-Remote-Group": "system:masters"}
        try:
            async with self.session().get(
                url,
                headers=headers,
                ssl=insecure,
                timeout=aiohttp.ClientTimeout(total=5),
                allow_redirects=False,
            ) as resp:
                raw = await resp.content.read(MAX_BODY)
                if not 200 <= resp.status < 300:
                    self.set_discovery(name, group, version, None)
                    return f"failing or missing response from {url}: bad status from {url}: {resp.status}"
        except TimeoutError:
            self.set_discovery(name, group, version, None)
            return f'failing or missing response from {url}: Get "{url}": context deadline exceeded'
        except (aiohttp.ClientError, OSError) as e:
            self.set_discovery(name, group, version, None)
            return f'failing or missing response from {url}: Get "{url}": {_dial_text(e, url)}'
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            doc = None
        self.set_discovery(name, group, version, doc if isinstance(doc, dict) else {})
        return None


def _append_forwarded_for(headers: list[tuple[str, str]], remote: str | None) -> list[tuple[str, str]]:
    """utilnet.AppendForwardedForHeader: the client's address after any earlier X-Forwarded-For."""
    if not remote:
        return headers
    prior = [v for k, v in headers if k.lower() == "x-forwarded-for"]
    rest = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
    return [*rest, ("X-Forwarded-For", ", ".join([*prior, remote]))]


def _dial_text(e: BaseException, url: str) -> str:
    os_err = getattr(e, "os_error", None) or e
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    if isinstance(os_err, ConnectionRefusedError):
        return f"dial tcp {hostport}: connect: connection refused"
    return str(os_err)


def _forward_headers(headers: Any, user: Any, upgrade: bool = False) -> list[tuple[str, str]]:
    """The request's headers minus hop-by-hop (but `Connection` and `Upgrade` of an upgrade
    request), credentials and identity headers, plus the front-proxy identity
    (transport.SetAuthProxyHeaders)."""
    out: list[tuple[str, str]] = []
    for k, v in headers.items():
        lk = k.lower()
        if upgrade and lk in ("connection", "upgrade"):
            out.append((k, v))
            continue
        if (
            lk in _HOP
            or lk == "authorization"
            or lk.startswith("impersonate-")
            or lk in ("x-remote-user", "x-remote-uid", "x-remote-group")
            or lk.startswith("x-remote-extra-")
        ):
            continue
        out.append((k, v))
    out.append(("X-Remote-User", user.username))
    for g in user.groups:
        out.append(("X-Remote-Group", g))
    for key, values in (user.extra or {}).items():
        for v in values:
            out.append(("X-Remote-Extra-" + header_key_escape(key), v))
    return out
