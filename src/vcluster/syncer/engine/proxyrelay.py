"""The proxy subresources of a virtual cluster, relayed to the host through its API with the
syncer's host credentials (as the exec/attach/port-forward relay is).

- `pods/proxy` (and `services/proxy`, whose endpoint the virtual API server chose: a virtual pod and
  a port) go to `pods/<scheme:host pod:port>/proxy/<path>` of the host pod, refused (400) unless the
  virtual pod runs as this virtual cluster's host pod. The host rewrites redirects and HTML links
  under its own API path; they are moved under the virtual one here.
- `nodes/proxy` goes to the host node's (a virtual node's name is its host node's) with vCluster's
  sub-path policy (spec §8.9): `healthz` is forwarded; `pods`, `stats/summary` and `metrics/*` are
  fetched and rewritten (host pod names to virtual ones, other tenants' pods dropped);
  `containerLogs/<ns>/<pod>/<container>` only for a synced virtual pod that has that container (the
  path rewritten to the host names); any other sub-path is forbidden when real host nodes are
  synced (`sync.fromHost.nodes.enabled`) and forwarded unchanged with fake nodes.

Upgrade requests (WebSocket, SPDY) take the raw road (`upgradeproxy.proxy_upgrade`) to the host API
server, which proxies them on: after its 101 the bytes are copied both ways.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from aiohttp import web
from yarl import URL

from vcluster.apiserver import proxyhttp
from vcluster.apiserver.errors import StatusError, forbidden
from vcluster.apiserver.proxysubresource import ProxyTarget
from vcluster.apiserver.upgradeproxy import is_upgrade_request, proxy_upgrade
from vcluster.client import ApiError, ConnectionFailed
from vcluster.syncer import constants as c
from vcluster.syncer import kinds, metadata

JSON = dict[str, Any]
_REWRITTEN = ("pods", "stats", "metrics")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _ident(scheme: str, name: str, port: str) -> str:
    if scheme:
        return f"{scheme}:{name}:{port}"
    return f"{name}:{port}" if port else name


class ProxyRelay:
    """Relays for one syncer (`syncer` gives the host client, names and the pod informers)."""

    def __init__(self, syncer: Any) -> None:
        self.s = syncer

    async def relay(self, target: ProxyTarget, request: web.Request) -> web.StreamResponse:
        if target.kind == "pods":
            hname = self.s._synced_host_pod(target.namespace, target.name)
            ident = _ident(target.scheme, hname, target.port)
            host_prefix = f"/api/v1/namespaces/{self.s.host_namespace}/pods/{ident}/proxy"
            return await self._forward(request, host_prefix, target.path, target.prefix)
        return await self._node(target, request)

    # ------------------------------------------------------------------ forwarding
    def _fwd(self, url: URL, host_prefix: str, prefix: str) -> proxyhttp.Forward:
        host = self.s.host
        cfg = host.config
        headers = {"User-Agent": host.user_agent, **cfg.headers}
        auth = cfg.auth_header()
        if auth:
            headers["Authorization"] = auth

        def to_virtual(u: str) -> str:
            parts = urlsplit(u)
            if not parts.path.startswith(host_prefix):
                return u
            return urlunsplit(
                parts._replace(scheme="", netloc="", path=prefix + parts.path[len(host_prefix) :])
            )

        def unreachable(message: str) -> web.StreamResponse:
            err = StatusError(503, "ServiceUnavailable", f"the host cluster is unreachable: {message}", {})
            return web.Response(status=503, body=err.body(), content_type="application/json")

        return proxyhttp.Forward(
            url=url,
            display=f"{url.host}:{url.port}",
            prefix=prefix,
            ssl=cfg.ssl if url.scheme == "https" else False,
            server_hostname=cfg.tls_server_name,
            headers=headers,
            keep_host=False,
            rewrite=to_virtual,
            on_dial_error=unreachable,
        )

    def _url(self, host_path: str, request: web.Request) -> URL:
        url = URL(self.s.host.server).with_path(host_path)
        query = request.rel_url.raw_query_string
        return url.with_query(query) if query else url

    async def _forward(
        self, request: web.Request, host_prefix: str, path: str, prefix: str
    ) -> web.StreamResponse:
        fwd = self._fwd(self._url(host_prefix + path, request), host_prefix, prefix)
        if is_upgrade_request(request.headers):
            return await self._upgrade(request, fwd)
        return await proxyhttp.forward(request, fwd, path)

    async def _upgrade(self, request: web.Request, fwd: proxyhttp.Forward) -> web.StreamResponse:
        """An upgrade (WebSocket, SPDY) relayed as raw bytes through the host API server's proxy."""
        url = fwd.url
        skip = ("authorization", "host")
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in skip and not k.lower().startswith("impersonate-")
        ]
        headers += list(fwd.headers.items())
        tls = fwd.ssl if isinstance(fwd.ssl, ssl.SSLContext) else None
        assert fwd.on_dial_error is not None
        return await proxy_upgrade(
            request,
            url.host or "",
            url.port or (443 if tls else 80),
            ssl_context=tls,
            server_hostname=(fwd.server_hostname or url.host) if tls else None,
            headers=headers,
            error=fwd.on_dial_error,
            path_qs=url.raw_path_qs,
        )

    # ------------------------------------------------------------------ nodes (§8.9)
    async def _node(self, target: ProxyTarget, request: web.Request) -> web.StreamResponse:
        path = target.path
        host_prefix = f"/api/v1/nodes/{_ident(target.scheme, target.name, target.port)}/proxy"
        segments = path.lstrip("/").split("/")
        first = segments[0]
        if first in ("", "healthz"):
            return await self._forward(request, host_prefix, path, target.prefix)
        if first == "containerLogs":
            host_path = await self._container_logs_path(segments)
            return await self._forward(request, host_prefix, host_path, target.prefix)
        if first in _REWRITTEN and request.method in ("GET", "HEAD"):
            return await self._rewritten(request, host_prefix + path)
        if self.s.config.sync.from_host.nodes.enabled:
            why = f"proxying {path} of a real host node is not allowed"
            raise forbidden("nodes/proxy", "", target.name, why)
        return await self._forward(request, host_prefix, path, target.prefix)

    async def _container_logs_path(self, segments: list[str]) -> str:
        """`containerLogs/<ns>/<pod>/<container>` of a synced virtual pod, with the host names."""
        if len(segments) < 4 or not all(segments[1:4]):
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        ns, name, container = segments[1:4]
        try:
            pod = await self.s.virtual.get("v1", "pods", name, ns)
        except ApiError:
            pod = None
        if pod is None:
            raise StatusError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        spec = pod.get("spec") or {}
        names = {
            str(ct.get("name"))
            for key in ("containers", "initContainers", "ephemeralContainers")
            for ct in spec.get(key) or []
        }
        if container not in names:
            raise StatusError(
                404,
                "NotFound",
                f"container {container} is not valid for pod {name}",
                {"name": name, "kind": "pods"},
            )
        hname = self.s._synced_host_pod(ns, name)
        rest = "/".join(segments[4:])
        return f"/containerLogs/{self.s.host_namespace}/{hname}/{container}" + (f"/{rest}" if rest else "")

    def _virtual_pod(self, host_ns: str, host_name: str) -> tuple[str, str] | None:
        """The virtual (namespace, name) of a host pod of this virtual cluster, None otherwise."""
        return self._virtual_of("pods", kinds.POD, host_ns, host_name)

    def _virtual_claim(self, host_ns: str, host_name: str) -> tuple[str, str] | None:
        """The virtual (namespace, name) of a host PVC of this virtual cluster, None otherwise."""
        return self._virtual_of("persistentvolumeclaims", kinds.PVC, host_ns, host_name)

    def _virtual_of(
        self, plural: str, kind: kinds.Kind, host_ns: str, host_name: str
    ) -> tuple[str, str] | None:
        if host_ns != self.s.host_namespace:
            return None
        syncer = self.s.controllers.get(plural)
        host = syncer.hinf.get(host_name, host_ns) if syncer is not None else None
        if host is None or not metadata.is_managed(host, self.s.ctx, kind, self.s.owner_lookup):
            return None
        ann = metadata.annotations_of(host)
        name, ns = ann.get(c.NAME_ANNOTATION), ann.get(c.NAMESPACE_ANNOTATION)
        return (ns, name) if ns and name else None

    async def _rewritten(self, request: web.Request, host_path: str) -> web.StreamResponse:
        """A kubelet listing fetched from the host and given with virtual names only."""
        query = dict(request.query)
        try:
            status, headers, body = await self.s.host.request("GET", host_path, params=query or None)
        except ConnectionFailed as e:
            raise StatusError(
                503, "ServiceUnavailable", f"the host cluster is unreachable: {e}", {}
            ) from None
        ctype = headers.get("Content-Type", "")
        if status == 200:
            if "json" in ctype:
                body = orjson.dumps(rewrite_kubelet_json(orjson.loads(body), self._virtual_pod))
            elif ctype.startswith("text/plain"):
                text = body.decode("utf-8", "replace")
                body = rewrite_metrics(text, self._virtual_pod, self._virtual_claim).encode()
        out = {"Content-Type": ctype} if ctype else {}
        return web.Response(status=status, body=b"" if request.method == "HEAD" else body, headers=out)


Lookup = Callable[[str, str], "tuple[str, str] | None"]


def _rename(ref: JSON, lookup: Lookup) -> bool:
    """Rename a {namespace, name} reference to the virtual pod's; False if it is not ours."""
    got = lookup(str(ref.get("namespace") or ""), str(ref.get("name") or ""))
    if got is None:
        return False
    ref["namespace"], ref["name"] = got
    return True


def rewrite_kubelet_json(doc: Any, lookup: Lookup) -> Any:
    """The kubelet's `/pods` PodList or `/stats/summary` Summary with this virtual cluster's pods only,
    under their virtual names."""
    if not isinstance(doc, dict):
        return doc
    if isinstance(doc.get("items"), list):  # /pods
        doc["items"] = [
            p for p in doc["items"] if isinstance(p, dict) and _rename(p.setdefault("metadata", {}), lookup)
        ]
    if isinstance(doc.get("pods"), list):  # /stats/summary
        doc["pods"] = [
            p for p in doc["pods"] if isinstance(p, dict) and _rename(p.setdefault("podRef", {}), lookup)
        ]
    return doc


def rewrite_metrics(text: str, pods: Lookup, claims: Lookup | None = None) -> str:
    """Prometheus text as vCluster's metrics.Rewrite gives it: samples with neither a `pod` nor a
    `persistentvolumeclaim` label kept as they are (node and slice cgroups); the others kept only
    when the pod (and the claim) is this virtual cluster's, relabelled with the virtual names."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or "{" not in line:
            out.append(line)
            continue
        start, end = line.index("{"), line.rfind("}") + 1
        labels = dict(_LABEL.findall(line[start:end]))
        pod, claim = labels.get("pod", ""), labels.get("persistentvolumeclaim", "")
        if not pod and not claim:
            out.append(line)
            continue
        new: dict[str, str] = {}
        for label, value, lookup in (("pod", pod, pods), ("persistentvolumeclaim", claim, claims)):
            got = lookup(labels.get("namespace", ""), value) if value and lookup is not None else None
            if value and got is None:
                break
            if got is not None:
                new["namespace"], new[label] = got
        else:
            block = _LABEL.sub(
                lambda m, new=new: f'{m[1]}="{new[m[1]]}"' if m[1] in new else m[0], line[start:end]
            )
            out.append(line[:start] + block + line[end:])
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
