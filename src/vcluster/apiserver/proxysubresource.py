"""`pods/proxy`, `services/proxy` and `nodes/proxy` as kube-apiserver 1.32 serves them (ProxyREST of
pkg/registry/core/{pod/rest/subresources.go, service/proxy.go, node/rest/proxy.go}).

The request was authenticated and authorized by the server (`<verb> pods/proxy`, the verb from the
method: GET/HEAD get, POST create, PUT update, PATCH patch, DELETE delete); here, as rest.go
ConnectResource: the method must be one ProxyREST serves, `dryRun` is refused, the options
(`PodProxyOptions` / `ServiceProxyOptions` / `NodeProxyOptions`, `path` = everything after `/proxy`)
go through CONNECT admission (a mutating webhook may change the path), then the location is
resolved (`ResourceLocation` of the pod, service or node strategy) and the request proxied
(`proxyhttp.forward`, or `upgradeproxy.proxy_upgrade` for `Connection: Upgrade`).

Locations, with kube's errors:

- pod `[scheme:]name[:port]`: 400 `invalid pod request`, 404 for a missing pod, the first declared
  container port when none is named, 400 `address not allowed` unless the pod IP is a global
  unicast address;
- service `[scheme:]name[:port]`: a port number is looked up among the Service's ports (503 `no
  service port N found for service "name"`), then the Endpoints' subset with that port name, an
  address whose targetRef is a pod of the namespace holding that IP (isValidAddress) — 503 `no
  endpoints available for service ...` otherwise;
- node `[scheme:]name[:port]`: the kubelet (https, the API server's kubelet client certificate) when
  no port or the kubelet port is named, else `scheme://address:port` without it; the node's address
  must resolve to global unicast addresses only (isProxyableHostname: 400 `address not allowed`).

A virtual cluster's API server has `Rest.proxy_hook`: pods (and the pod a service location chose)
and nodes are relayed by the syncer to the host objects (see `syncer/engine/proxyrelay.py`).

The simulated host (`vcluster host`) sets `Rest.proxy_network` to a `SimulatedNetwork`: its pods
have no network namespace, so — as its kubelet's port-forward does — a dial to a pod IP of a
simulated node goes to 127.0.0.1 on the same port of this machine (a process listening there
answers; none: kube's 503 `Error trying to reach service: 'dial tcp <pod IP>:<port>: connect:
connection refused'`); its kubelets listen on a loopback address, which the simulated network
declares proxyable (a real cluster's nodes never have one).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import ssl as _ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from yarl import URL

from vcluster.apiserver import connectoptions, proxyhttp
from vcluster.apiserver.errors import StatusError, bad_request, method_not_allowed, not_found
from vcluster.apiserver.podlogs import kubelet_location, kubelet_ssl
from vcluster.apiserver.request import RequestInfo
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import Rest, object_key
from vcluster.apiserver.upgradeproxy import is_upgrade_request, proxy_upgrade
from vcluster.apiserver.webhookadmission import admit_connect

JSON = dict[str, Any]
PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_VALID_SCHEMES = ("", "http", "https")


class ProxyNetwork(Protocol):
    """How the API server reaches proxy locations (the machine's network unless simulated)."""

    def dial(self, host: str, port: int) -> tuple[str, int]: ...

    def proxyable(self, host: str) -> bool: ...


class SimulatedNetwork:
    """The simulated host's network: pod IPs of its nodes' pod CIDRs are this machine's loopback,
    and its kubelets' (loopback) address may be proxied to."""

    def __init__(
        self, pod_cidrs: Callable[[], Iterable[str]], kubelet_hosts: Callable[[], Iterable[str]]
    ) -> None:
        self._cidrs = pod_cidrs
        self._kubelets = kubelet_hosts

    def dial(self, host: str, port: int) -> tuple[str, int]:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return host, port
        for cidr in self._cidrs():
            if ip in ipaddress.ip_network(cidr, strict=False):
                return ("127.0.0.1" if ip.version == 4 else "::1"), port
        return host, port

    def proxyable(self, host: str) -> bool:
        return host in set(self._kubelets())


@dataclass
class ProxyTarget:
    """What a virtual cluster's syncer relays: a pod (of a pod or service location) or a node."""

    kind: str  # "pods" | "nodes"
    namespace: str
    name: str
    scheme: str
    port: str
    path: str  # the backend path (after /proxy)
    prefix: str  # the API path before it


@dataclass
class Location:
    scheme: str
    host: str
    port: str  # as named ("" → the scheme's default; a name is looked up as Go's dialer does)
    kubelet: bool = False  # dial with the API server's kubelet client certificate
    pod: str = ""  # services: the endpoint's pod (its targetRef)


def split_scheme_name_port(ident: str) -> tuple[str, str, str] | None:
    """utilnet.SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port`; None if invalid."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in _VALID_SCHEMES:
        return None
    return scheme, name, port


def global_unicast(text: str) -> bool:
    """net.IP.IsGlobalUnicast of a parsed address (private ranges included); False if unparsable."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    if ip.is_unspecified or ip.is_loopback or ip.is_multicast or ip.is_link_local:
        return False
    return not (ip.version == 4 and str(ip) == "255.255.255.255")


def _go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64), None on error."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


async def _get(rest: Rest, registry: Registry, plural: str, namespace: str, name: str) -> JSON:
    rt = registry.get("", "v1", plural)
    assert rt is not None
    entry = await rest.store.get(object_key(rt, namespace, name))
    if entry is None:
        raise not_found(plural, "", name)
    obj: JSON = entry.decode()
    return obj


def pod_ip(pod: JSON) -> str:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    return str(ips[0]) if ips else str(status.get("podIP") or "")


async def pod_location(rest: Rest, registry: Registry, namespace: str, ident: str) -> Location:
    """pod.ResourceLocation."""
    parsed = split_scheme_name_port(ident)
    if parsed is None:
        raise bad_request(f'invalid pod request "{ident}"')
    scheme, name, port = parsed
    pod = await _get(rest, registry, "pods", namespace, name)
    if not port:
        for c in (pod.get("spec") or {}).get("containers") or []:
            ports = c.get("ports") or []
            if ports:
                port = str(ports[0].get("containerPort", ""))
                break
    ip = pod_ip(pod)
    if not global_unicast(ip):
        raise bad_request("address not allowed")
    return Location(scheme or "http", ip, port, pod=name)


def dial_port(port: str, scheme: str) -> int | None:
    """The TCP port Go's dialer uses for a location's port: "" → the scheme's, a number, or a
    service name from the system's services database; None when it knows none."""
    if not port:
        return 443 if scheme == "https" else 80
    n = _go_int(port)
    if n is not None:
        return n if 0 <= n < 65536 else None
    try:
        return socket.getservbyname(port, "tcp")
    except OSError:
        return None


async def service_location(rest: Rest, registry: Registry, namespace: str, ident: str) -> Location:
    """The service REST's ResourceLocation (the endpoint chosen at random, as kube does)."""
    parsed = split_scheme_name_port(ident)
    if parsed is None:
        raise bad_request(f'invalid service request "{ident}"')
    scheme, name, port_name = parsed
    number = _go_int(port_name)
    if number is not None:
        svc = await _get(rest, registry, "services", namespace, name)
        for sp in (svc.get("spec") or {}).get("ports") or []:
            if sp.get("port") == number:
                port_name = str(sp.get("name") or "")
                break
        else:
            raise StatusError(
                503, "ServiceUnavailable", f'no service port {number} found for service "{name}"', {}
            )
    eps = await _get(rest, registry, "endpoints", namespace, name)
    subsets = [s for s in eps.get("subsets") or [] if isinstance(s, dict)]
    if not subsets:
        raise StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"', {})
    start = random.randrange(len(subsets))
    for i in range(len(subsets)):
        ss = subsets[(start + i) % len(subsets)]
        addresses = [a for a in ss.get("addresses") or [] if isinstance(a, dict)]
        if not addresses:
            continue
        for p in ss.get("ports") or []:
            if str(p.get("name") or "") != port_name:
                continue
            first = random.randrange(len(addresses))
            for j in range(len(addresses)):
                addr = addresses[(first + j) % len(addresses)]
                pod = await _valid_address(rest, registry, namespace, addr)
                if pod is not None:
                    return Location(scheme or "http", str(addr["ip"]), str(p.get("port") or ""), pod=pod)
    raise StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{ident}"', {})


async def _valid_address(rest: Rest, registry: Registry, namespace: str, addr: JSON) -> str | None:
    """isValidAddress: the address names a pod of this namespace that has its IP; the pod's name."""
    ref = addr.get("targetRef") or {}
    if not ref or ref.get("namespace") != namespace or not ref.get("name"):
        return None
    try:
        pod = await _get(rest, registry, "pods", namespace, str(ref["name"]))
    except StatusError:
        return None
    ips = {p.get("ip") for p in (pod.get("status") or {}).get("podIPs") or [] if isinstance(p, dict)}
    return str(ref["name"]) if addr.get("ip") in ips else None


async def node_location(rest: Rest, registry: Registry, ident: str, network: ProxyNetwork | None) -> Location:
    """node.ResourceLocation."""
    parsed = split_scheme_name_port(ident)
    if parsed is None:
        raise bad_request(f'invalid node request "{ident}"')
    scheme, name, port = parsed
    node = await _get(rest, registry, "nodes", "", name)
    host, kubelet_port = kubelet_location(node)
    await _check_proxyable(host, network)
    if not port or port == str(kubelet_port):
        return Location("https", host, str(kubelet_port), kubelet=True)
    return Location(scheme or "http", host, port)


async def virtual_node(rest: Rest, registry: Registry, ident: str) -> Location:
    """A virtual cluster's node: the name checked and the node looked up (no address needed)."""
    parsed = split_scheme_name_port(ident)
    if parsed is None:
        raise bad_request(f'invalid node request "{ident}"')
    await _get(rest, registry, "nodes", "", parsed[1])
    return Location(parsed[0] or "https", "", parsed[2])


async def _check_proxyable(host: str, network: ProxyNetwork | None) -> None:
    if network is not None and network.proxyable(host):
        return
    try:
        ipaddress.ip_address(host)
        addrs = [host]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as e:
            raise bad_request(f"lookup {host}: {e}") from None
        addrs = [str(info[4][0]) for info in infos]
    if not addrs:
        raise bad_request("no addresses for hostname")
    if not all(global_unicast(a) for a in addrs):
        raise bad_request("address not allowed")


# ------------------------------------------------------------------------------------------ request
def backend_path(request: web.BaseRequest, info: RequestInfo) -> str:
    """getRequestOptions' subpath: what follows `<name>/proxy` (a leading slash added, the
    original trailing slash kept)."""
    parts = request.path.strip("/").split("/")
    start = 7 if info.namespace else 5  # api v1 [namespaces ns] resource name proxy
    sub = "/".join(parts[start:])
    if sub and not sub.startswith("/"):
        sub = "/" + sub
    if request.path.endswith("/") and not sub.endswith("/"):
        sub += "/"
    return sub


def api_prefix(request: web.BaseRequest, location_path: str) -> str:
    """defaultProxyTransport's PathPrepend: the request path without the backend path."""
    suffix = location_path
    if request.path.endswith("/") and not suffix.endswith("/"):
        suffix += "/"
    path = request.path
    return path[: len(path) - len(suffix)] if suffix and path.endswith(suffix) else path


async def admit(rt: Any, info: RequestInfo, request: web.Request, path: str) -> str:
    """rest.go ConnectResource before Connect: dryRun refused, the options through CONNECT
    admission; the (possibly mutated) path."""
    if "dryRun" in request.query:
        raise bad_request("dryRun is not supported")
    kind = connectoptions.option_kind(rt.kind, "proxy")
    opts: JSON = {"kind": kind, "apiVersion": "v1"}
    if path:
        opts["path"] = path
    admitted = await admit_connect(rt, "proxy", info.namespace, info.name, opts)
    return str(admitted.get("path") or "")


async def serve(
    rest: Rest, registry: Registry, rt: Any, info: RequestInfo, request: web.Request
) -> web.StreamResponse:
    """One `<resource>/<name>/proxy[/path]` request (authorized already)."""
    if request.method not in PROXY_METHODS:
        raise method_not_allowed()
    path = await admit(rt, info, request, backend_path(request, info))
    location_path = proxyhttp.join_preserving_trailing_slash("", path)
    if not location_path and request.path.endswith("/"):
        location_path = "/"
    hook = rest.proxy_hook
    network: ProxyNetwork | None = rest.proxy_network
    if rt.kind == "Pod":
        loc = await pod_location(rest, registry, info.namespace, info.name)
    elif rt.kind == "Service":
        loc = await service_location(rest, registry, info.namespace, info.name)
    elif hook is None:
        loc = await node_location(rest, registry, info.name, network)
    else:  # a virtual node stands for the host node, whose location the host resolves
        loc = await virtual_node(rest, registry, info.name)
    upgrade = is_upgrade_request(request.headers)
    if not location_path and request.method in ("GET", "HEAD") and not upgrade:
        return proxyhttp.redirect_to_slash(request)
    prefix = api_prefix(request, location_path)
    if hook is not None:
        if rt.kind == "Node":
            parsed = split_scheme_name_port(info.name)
            assert parsed is not None
            target = ProxyTarget("nodes", "", info.name, parsed[0], parsed[2], location_path, prefix)
        else:
            parsed = split_scheme_name_port(info.name)
            assert parsed is not None
            port = parsed[2] if rt.kind == "Pod" else loc.port
            target = ProxyTarget("pods", info.namespace, loc.pod, parsed[0], port, location_path, prefix)
        response: web.StreamResponse = await hook(target, request)
        return response
    return await dial(rest, network, loc, location_path, prefix, request)


async def dial(
    rest: Rest,
    network: ProxyNetwork | None,
    loc: Location,
    location_path: str,
    prefix: str,
    request: web.Request,
) -> web.StreamResponse:
    """Proxy to a resolved location (the machine's network, or the simulated one)."""
    bracketed = f"[{loc.host}]" if ":" in loc.host else loc.host
    port = dial_port(loc.port, loc.scheme)
    if port is None:
        return proxyhttp.dial_failed(f"dial tcp: lookup tcp/{loc.port}: unknown port")
    host, to_port = network.dial(loc.host, port) if network is not None else (loc.host, port)
    display = f"{bracketed}:{port}"
    tls: _ssl.SSLContext | bool = False
    if loc.scheme == "https":
        tls = kubelet_ssl(rest) if loc.kubelet else _insecure()
    if is_upgrade_request(request.headers):
        return await _upgrade(request, host, to_port, tls, location_path)
    url = URL.build(scheme=loc.scheme, host=host, port=to_port, path=location_path or "/")
    url = url.with_query(request.rel_url.raw_query_string) if request.rel_url.raw_query_string else url
    fwd = proxyhttp.Forward(url=url, display=display, prefix=prefix, ssl=tls)
    return await proxyhttp.forward(request, fwd, location_path)


def _insecure() -> _ssl.SSLContext:
    """The proxy transport's TLS toward pods and services: the backend's certificate is not
    verified (kube-apiserver's proxy transport has InsecureSkipVerify)."""
    ctx = _ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = _ssl.CERT_NONE
    return ctx


async def _upgrade(
    request: web.Request, host: str, port: int, tls: _ssl.SSLContext | bool, location_path: str
) -> web.StreamResponse:
    """tryUpgrade: the raw connection relayed after the backend's 101; a dial failure is the
    responder's error (a 500 Status `error dialing backend: ...`)."""

    def error(message: str) -> web.StreamResponse:
        err = StatusError(500, "InternalError", f"error dialing backend: {message}", {})
        return web.Response(status=500, body=err.body(), content_type="application/json")

    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in ("authorization", "host")]
    headers = [(k, v) for k, v in headers if not k.lower().startswith("impersonate-")]
    query = request.rel_url.raw_query_string
    return await proxy_upgrade(
        request,
        host,
        port,
        ssl_context=tls if isinstance(tls, _ssl.SSLContext) else None,
        server_hostname=host if isinstance(tls, _ssl.SSLContext) else None,
        headers=headers,
        error=error,
        path_qs=(location_path or "/") + (f"?{query}" if query else ""),
    )
