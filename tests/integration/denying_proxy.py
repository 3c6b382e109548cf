"""A loopback HTTP proxy in front of a host API server that answers chosen requests with
kube-apiserver's 403 Forbidden (as RBAC would) and forwards everything else, watches included:
the local host enforces no RBAC, a real cluster does."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import aiohttp
import orjson
import yaml
from aiohttp import web

from .loopthread import LoopThread

_HOP = {"host", "content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}
_LIST_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/([^/]+)$")


def forbidden_status(user: str, verb: str, resource: str, namespace: str) -> dict[str, object]:
    """The Status RBAC's authorizer makes kube-apiserver send."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{resource} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "" in the namespace "{namespace}"',
        "reason": "Forbidden",
        "details": {"kind": resource},
        "code": 403,
    }


class DenyingProxy(LoopThread):
    """Forwards to `upstream` (https, CA `ca_file`); core/v1 lists and watches of `resource` in
    `namespace` get 403. `url` is the proxy's http:// address once started."""

    def __init__(self, upstream: str, ca_file: Path, namespace: str, resource: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.ca_file = ca_file
        self.namespace = namespace
        self.resource = resource
        self.denied = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _start(self) -> None:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # a watch's handler ends when its client drops the connection (a stopped virtual cluster),
        # not only at the host's next event: stopping the proxy then waits for nothing
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _denies(self, request: web.Request) -> bool:
        m = _LIST_PATH.match(request.path)
        return request.method == "GET" and m is not None and m.groups() == (self.namespace, self.resource)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._denies(request):
            self.denied += 1
            verb = "watch" if request.query.get("watch") in ("1", "true") else "list"
            body = forbidden_status("system:serviceaccount:test:vc", verb, self.resource, self.namespace)
            return web.Response(status=403, body=orjson.dumps(body), content_type="application/json")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.rel_url.path_qs,
            headers=headers,
            data=await request.read() if request.can_read_body else None,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        ) as up:
            out = web.StreamResponse(status=up.status)
            for k, v in up.headers.items():
                if k.lower() not in _HOP:
                    out.headers[k] = v
            await out.prepare(request)
            try:
                async for chunk in up.content.iter_any():
                    await out.write(chunk)
                await out.write_eof()
            except (ConnectionError, aiohttp.ClientError):
                pass  # the client went away (a watch it stopped)
            return out


def write_kubeconfig(path: Path, proxy: DenyingProxy, token: str) -> Path:
    """A kubeconfig at `path` reaching the host through `proxy` with the host's `token`."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "h", "cluster": {"server": proxy.url}}],
                "users": [{"name": "u", "user": {"token": token}}],
                "contexts": [{"name": "h", "context": {"cluster": "h", "user": "u"}}],
                "current-context": "h",
            }
        )
    )
    return path
