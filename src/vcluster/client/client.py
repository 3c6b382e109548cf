"""The async Kubernetes REST client: CRUD, paginated lists, watches, raw requests (aiohttp + orjson)."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import ssl as _ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from vcluster import __version__
from vcluster.client.config import KubeConfig, load_incluster_config, load_kubeconfig
from vcluster.client.errors import ApiError, ConnectionFailed
from vcluster.client.local import LocalHandler, LocalStreamOpener, is_local_path

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0  # total seconds for one ordinary request
WATCH_GRACE = 30.0  # extra read time over a watch's timeoutSeconds before the socket is deemed dead
CONNECTION_LIMIT = 64  # concurrent ordinary requests per client (watches/streams are not counted)

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}

Params = Mapping[str, Any] | None


def resource_path(
    api_version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The URL path of a collection or object: /api/v1/... for core, /apis/GROUP/VERSION/... otherwise.
    An empty or None namespace addresses cluster scope (all namespaces for namespaced kinds)."""
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    parts = [base]
    if namespace:  # None or "" (like client-go): cluster scope / all namespaces
        parts.append("namespaces/" + quote(namespace, safe=""))
    parts.append(plural)
    if name is not None:
        if not name:
            raise ValueError(f"empty name for {plural}")
        parts.append(quote(name, safe=""))
    elif subresource is not None:
        raise ValueError("a subresource needs an object name")
    if subresource is not None:
        parts.append(subresource)
    return "/".join(parts)


def selector_str(selector: str | Mapping[str, str] | None) -> str | None:
    """A label/field selector given as a string or as an equality mapping {"k": "v"} -> "k=v,..."."""
    if selector is None or isinstance(selector, str):
        return selector or None
    return ",".join(f"{k}={v}" for k, v in selector.items()) or None


def _query(params: Params) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (params or {}).items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        else:
            out[k] = str(v)
    return out


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


class Client:
    """An async client for one Kubernetes API server.

    Resources are addressed by (api_version, plural), e.g. ("v1", "pods") or ("apps/v1",
    "deployments"); ``namespace=None`` means cluster scope. Non-2xx answers raise ApiError;
    connection problems and request timeouts raise ConnectionFailed (an ApiError with status 0 that
    is also an OSError). One aiohttp session per client, created lazily inside the running loop.
    """

    def __init__(
        self,
        server: str,
        *,
        ssl: _ssl.SSLContext | bool | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        user_agent: str = "vcluster",
        timeout: float = DEFAULT_TIMEOUT,
        connection_limit: int = CONNECTION_LIMIT,
        field_manager: str | None = None,
        config: KubeConfig | None = None,
        unix_socket: str | None = None,
        local: LocalHandler | None = None,
        local_stream: LocalStreamOpener | None = None,
    ) -> None:
        if config is None:
            config = KubeConfig(server=server.rstrip("/"), ssl=True if ssl is None else ssl, token=token)
        else:
            if ssl is not None:
                config.ssl = ssl
            if token is not None:
                config.token = token
        self.config = config
        self.server = config.server.rstrip("/")
        self.user_agent = user_agent if "/" in user_agent else f"{user_agent}/{__version__} (python)"
        self.timeout = timeout
        self.field_manager = field_manager or user_agent.split("/")[0]
        self._headers = {
            "Accept": "application/json",
            "User-Agent": self.user_agent,
            **config.headers,
            **(headers or {}),
        }
        # A process talking to an API server it runs itself uses its Unix socket: plain HTTP with
        # the same authentication, no TLS or TCP on loopback (server URL only names the host).
        self.unix_socket = unix_socket
        if unix_socket:
            self.server = "http://localhost"
        # ...and its ordinary requests go to the server in process (apiserver/local.py).
        self._local = local
        self._local_stream = local_stream  # watches, in process as well
        self._base = URL(self.server)
        self._limit = asyncio.Semaphore(connection_limit)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._root: Client = self  # the client owning the session (see with_user_agent)
        # Counters for metrics exporters.
        self.requests_total = 0
        self.errors_total = 0

    # ------------------------------------------------------------------ construction / lifecycle

    @classmethod
    def from_config(cls, config: KubeConfig, **kw: Any) -> Client:
        return cls(config.server, config=config, **kw)

    @classmethod
    async def from_kubeconfig(
        cls,
        path: str | os.PathLike[str] | None = None,
        context: str | None = None,
        *,
        user_agent: str = "vcluster",
        **kw: Any,
    ) -> Client:
        """A client for `context` (default: current-context) of the kubeconfig at `path`
        (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account)."""
        cfg = await asyncio.to_thread(load_kubeconfig, path, context)
        return cls.from_config(cfg, user_agent=user_agent, **kw)

    @classmethod
    async def in_cluster(cls, *, user_agent: str = "vcluster", **kw: Any) -> Client:
        """A client for the pod's own cluster (service account token, KUBERNETES_SERVICE_HOST)."""
        cfg = await asyncio.to_thread(load_incluster_config)
        return cls.from_config(cfg, user_agent=user_agent, **kw)

    @property
    def namespace(self) -> str | None:
        """The default namespace of the kubeconfig context (or the pod's namespace in-cluster)."""
        return self.config.namespace

    def with_user_agent(self, user_agent: str) -> Client:
        """This client under another User-Agent (and so another default field manager), sharing its
        session, request limit and in-process handlers: each component of one process writes as
        itself, as kube-controller-manager, the scheduler and the kubelet do. The original client
        owns the session; closing the returned one does nothing."""
        other = copy.copy(self)
        other.user_agent = user_agent if "/" in user_agent else f"{user_agent}/{__version__} (python)"
        other.field_manager = user_agent.split("/")[0]
        other._headers = {**self._headers, "User-Agent": other.user_agent}
        other._root = self._root
        other.requests_total = other.errors_total = 0
        return other

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._root is not self:
            return self._root.session
        if self._session is None or self._session.closed:
            if self._closed:
                raise RuntimeError("Client is closed")
            # No pool limit here: every watch pins a connection for its lifetime, so only ordinary
            # requests are bounded (by self._limit) and watches can never starve them.
            connector: aiohttp.BaseConnector
            if self.unix_socket:
                connector = aiohttp.UnixConnector(path=self.unix_socket, limit=0, keepalive_timeout=60.0)
            else:
                connector = aiohttp.TCPConnector(
                    limit=0,
                    ssl=self.config.ssl if self.server.startswith("https") else False,
                    keepalive_timeout=60.0,
                    enable_cleanup_closed=True,
                )
            self._session = aiohttp.ClientSession(
                connector=connector,
                read_bufsize=1 << 20,
            )
        return self._session

    async def close(self) -> None:
        if self._root is not self:
            return
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ raw HTTP

    def _url(self, path: str, params: Params) -> URL:
        if not path.startswith("/"):
            path = "/" + path
        url = URL(self.server + path, encoded=True)
        q = _query(params)
        return url.with_query(q) if q else url

    def _request_headers(self, content_type: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        h = dict(self._headers)
        auth = self.config.auth_header()
        if auth:
            h["Authorization"] = auth
        if content_type:
            h["Content-Type"] = content_type
        if extra:
            h.update(extra)
        return h

    def _extra_kw(self) -> dict[str, Any]:
        return {"server_hostname": self.config.tls_server_name} if self.config.tls_server_name else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        """Send one request; return (status, headers, body) whatever the status. Raises only
        ConnectionFailed (connection errors and timeouts)."""
        encoded_here = json is not None  # from a dict: no repeated keys
        if json is not None:
            if data is not None:
                raise ValueError("give json or data, not both")
            data = orjson.dumps(json)
            content_type = content_type or "application/json"
        if isinstance(data, str):
            data = data.encode()
        url = self._url(path, params)
        hdrs = self._request_headers(content_type, headers)
        self.requests_total += 1
        if self._local is not None and is_local_path(path, params):
            return await self._local(method, url, hdrs, data or b"", encoded_here)
        to = aiohttp.ClientTimeout(total=timeout or self.timeout)
        try:
            async with (
                self._limit,
                self.session.request(
                    method, url, data=data, headers=hdrs, timeout=to, **self._extra_kw()
                ) as r,
            ):
                body = await r.read()
                return r.status, r.headers, body
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            self.errors_total += 1
            if isinstance(e, ConnectionFailed):
                raise
            raise ConnectionFailed(_describe(e), method=method, path=path) from e

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        status, _, body = await self.request(
            method, path, params=params, json=json, data=data, content_type=content_type
        )
        if status >= 300:
            self.errors_total += 1
            raise ApiError.from_response(status, body, method=method, path=path)
        if not body:
            return None
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise ApiError(
                status, "InvalidResponse", f"response is not JSON: {e}", method=method, path=path
            ) from e

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        params: Params = None,
        *,
        read_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A streaming response (watch, logs -f): no total timeout, `read_timeout` between reads.
        A non-2xx answer raises ApiError before anything is yielded."""
        url = self._url(path, params)
        to = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=read_timeout)
        hdrs = self._request_headers(None, headers)
        self.requests_total += 1
        try:
            async with self.session.request(method, url, headers=hdrs, timeout=to, **self._extra_kw()) as r:
                if r.status >= 300:
                    body = await r.read()
                    self.errors_total += 1
                    raise ApiError.from_response(r.status, body, method=method, path=path)
                yield r
        except ApiError:
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            self.errors_total += 1
            raise ConnectionFailed(_describe(e), method=method, path=path) from e

    # ------------------------------------------------------------------ typed verbs

    async def get(
        self,
        api_version: str,
        plural: str,
        name: str,
        namespace: str | None = None,
        *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        return await self._call("GET", resource_path(api_version, plural, namespace, name, subresource))

    async def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | Mapping[str, str] | None = None,
        limit: int | None = None,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """One page: the raw List object (items, metadata.resourceVersion, metadata.continue)."""
        params = {
            "labelSelector": selector_str(label_selector),
            "fieldSelector": selector_str(field_selector),
            "limit": limit,
            "continue": continue_ or None,
            "resourceVersion": resource_version,
        }
        return await self._call("GET", resource_path(api_version, plural, namespace), params=params)

    async def list_all(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | Mapping[str, str] | None = None,
        page_size: int = 500,
    ) -> tuple[list[dict[str, Any]], str]:
        """All items (following continue tokens) and the list resourceVersion.

        Items get ``apiVersion``/``kind`` filled in (List items omit them). When a continue token
        expires (410) the list starts over; after 3 such restarts it is fetched in one piece.
        """
        restarts = 0
        while True:
            items: list[dict[str, Any]] = []
            cont: str | None = None
            try:
                while True:
                    page = await self.list(
                        api_version,
                        plural,
                        namespace,
                        label_selector=label_selector,
                        field_selector=field_selector,
                        limit=page_size if restarts < 3 else None,
                        continue_=cont,
                    )
                    page_items = page.get("items") or []
                    kind = str(page.get("kind") or "")
                    kind = kind[:-4] if kind.endswith("List") else ""
                    for it in page_items:
                        if "kind" not in it and kind:
                            it["kind"] = kind
                        if "apiVersion" not in it:
                            it["apiVersion"] = api_version
                    items.extend(page_items)
                    meta = page.get("metadata") or {}
                    cont = meta.get("continue") or None
                    if not cont:
                        return items, str(meta.get("resourceVersion") or "")
            except ApiError as e:
                if not (e.gone and cont):
                    raise
                restarts += 1
                log.info("list %s %s: continue token expired, relisting (%d)", api_version, plural, restarts)

    async def create(
        self,
        api_version: str,
        plural: str,
        obj: Mapping[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        name: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """POST. `namespace` defaults to obj.metadata.namespace; with `subresource` (e.g. "binding",
        "eviction") the object `name` (default obj.metadata.name) is part of the path."""
        meta = _meta(obj)
        ns = namespace or meta.get("namespace") or None
        if subresource is not None:
            path = resource_path(api_version, plural, ns, name or meta.get("name"), subresource)
        else:
            path = resource_path(api_version, plural, ns)
        params = {"fieldManager": field_manager, "dryRun": "All" if dry_run else None}
        return await self._call("POST", path, params=params, json=obj)

    async def update(
        self,
        api_version: str,
        plural: str,
        obj: Mapping[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        """PUT the whole object (optimistic concurrency via metadata.resourceVersion)."""
        meta = _meta(obj)
        ns = namespace or meta.get("namespace") or None
        name = meta.get("name")
        if not name:
            raise ValueError("update: obj.metadata.name is required")
        path = resource_path(api_version, plural, ns, name, subresource)
        return await self._call("PUT", path, params={"fieldManager": field_manager}, json=obj)

    async def patch(
        self,
        api_version: str,
        plural: str,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        """PATCH with patch_type "merge" | "strategic" | "json" | "apply" (server-side apply; the
        field manager defaults to the client's)."""
        try:
            ctype = PATCH_TYPES[patch_type]
        except KeyError:
            raise ValueError(f"unknown patch_type {patch_type!r}; use one of {sorted(PATCH_TYPES)}") from None
        if patch_type == "apply" and field_manager is None:
            field_manager = self.field_manager
        params = {"fieldManager": field_manager, "force": force}
        path = resource_path(api_version, plural, namespace, name, subresource)
        if not isinstance(patch, bytes | str):
            return await self._call("PATCH", path, params=params, json=patch, content_type=ctype)
        data = patch.encode() if isinstance(patch, str) else patch
        return await self._call("PATCH", path, params=params, data=data, content_type=ctype)

    async def delete(
        self,
        api_version: str,
        plural: str,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """DELETE; returns the server's answer (the object, possibly with deletionTimestamp, or a
        Status). A missing object raises ApiError (``.not_found``)."""
        body = _delete_options(grace_period_seconds, propagation_policy, preconditions)
        path = resource_path(api_version, plural, namespace, name)
        return await self._call("DELETE", path, json=body)

    async def delete_collection(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | Mapping[str, str] | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any] | None:
        """DELETE on a collection (deletecollection verb)."""
        params = {
            "labelSelector": selector_str(label_selector),
            "fieldSelector": selector_str(field_selector),
        }
        body = _delete_options(grace_period_seconds, propagation_policy, None)
        path = resource_path(api_version, plural, namespace)
        return await self._call("DELETE", path, params=params, json=body)

    async def watch(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | Mapping[str, str] | None = None,
        allow_bookmarks: bool = True,
        timeout_seconds: int | None = None,
        send_initial_events: bool = False,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield (type, object) per watch event: ADDED, MODIFIED, DELETED, BOOKMARK.

        An ERROR event raises ApiError built from its Status (``.gone`` for 410 Expired: relist).
        The iteration ends when the server closes the stream (e.g. after timeoutSeconds).
        ``send_initial_events`` asks for the current objects as ADDED events followed by a
        BOOKMARK annotated ``k8s.io/initial-events-end`` (the WatchList protocol).
        """
        params: dict[str, Any] = {
            "watch": "true",
            "resourceVersion": resource_version or None,
            "labelSelector": selector_str(label_selector),
            "fieldSelector": selector_str(field_selector),
            "allowWatchBookmarks": True if allow_bookmarks else None,
            "timeoutSeconds": timeout_seconds,
        }
        if send_initial_events:
            params["sendInitialEvents"] = True
            params["resourceVersionMatch"] = "NotOlderThan"
            params["allowWatchBookmarks"] = True
        path = resource_path(api_version, plural, namespace)
        if self._local_stream is not None:
            async for item in self._watch_local(path, params):
                yield item
            return
        read_timeout = timeout_seconds + WATCH_GRACE if timeout_seconds else None
        async with self.stream("GET", path, params, read_timeout=read_timeout) as resp:
            try:
                async for line in iter_lines(resp):
                    yield _watch_event(line, path)
            except (TimeoutError, aiohttp.ClientError, OSError) as e:
                if isinstance(e, ApiError):
                    raise
                self.errors_total += 1
                raise ConnectionFailed(_describe(e), method="GET", path=path) from e

    async def _watch_local(self, path: str, params: Params) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A watch answered in process (the same lines as over HTTP, without the connection)."""
        assert self._local_stream is not None
        self.requests_total += 1
        status, _, answer = await self._local_stream(
            "GET", self._url(path, params), self._request_headers(None, None)
        )
        if isinstance(answer, bytes | bytearray):
            self.errors_total += 1
            raise ApiError.from_response(status, bytes(answer), method="GET", path=path)
        try:
            async for line in answer.lines():
                yield _watch_event(line, path)
        finally:
            await answer.close()


def _watch_event(line: bytes, path: str) -> tuple[str, dict[str, Any]]:
    """One watch line as (type, object); an ERROR event raises its Status as ApiError."""
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise ApiError(500, "InvalidResponse", f"bad watch event: {e}", method="GET", path=path) from e
    etype = ev.get("type")
    obj = ev.get("object")
    if etype == "ERROR":
        raise ApiError.from_status(obj if isinstance(obj, dict) else {}, method="GET", path=path)
    if not isinstance(obj, dict) or not isinstance(etype, str):
        raise ApiError(500, "InvalidResponse", f"bad watch event: {line[:200]!r}", method="GET", path=path)
    return etype, obj


async def iter_lines(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Newline-delimited records of a streaming body, with no line-length limit (empty lines skipped)."""
    pending: list[bytes] = []
    async for chunk in resp.content.iter_any():
        start = 0
        while True:
            i = chunk.find(b"\n", start)
            if i < 0:
                if start < len(chunk):
                    pending.append(chunk[start:])
                break
            piece = chunk[start:i]
            if pending:
                pending.append(piece)
                piece = b"".join(pending)
                pending.clear()
            if piece.strip():
                yield piece
            start = i + 1
    if pending:
        tail = b"".join(pending)
        if tail.strip():
            yield tail


def _delete_options(
    grace_period_seconds: int | None,
    propagation_policy: str | None,
    preconditions: Mapping[str, str] | None,
) -> dict[str, Any] | None:
    body: dict[str, Any] = {}
    if grace_period_seconds is not None:
        body["gracePeriodSeconds"] = grace_period_seconds
    if propagation_policy is not None:
        body["propagationPolicy"] = propagation_policy
    if preconditions:
        body["preconditions"] = dict(preconditions)
    if not body:
        return None
    return {"kind": "DeleteOptions", "apiVersion": "v1", **body}


def _describe(e: BaseException) -> str:
    if isinstance(e, TimeoutError):
        return "request timed out"
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"
