"""GET pods/{name}/log: validate like kube-apiserver's LogREST, then proxy the node's kubelet
(`https://<InternalIP>:<kubeletEndpoint.Port>/containerLogs/...`), streaming the body through."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from vcluster.apiserver.errors import (
    Cause,
    StatusError,
    bad_request,
    field_forbidden,
    field_invalid,
    invalid,
    not_found,
)
from vcluster.apiserver.request import RequestInfo, query_int
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import Rest, object_key

DEFAULT_KUBELET_PORT = 10250
ADDRESS_PREFERENCE = ("InternalIP", "Hostname", "InternalDNS", "ExternalIP", "ExternalDNS")
_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("", "0", "f", "F", "false", "FALSE", "False")
_MAX_ERROR_BODY = 4096
_CONNECT_TIMEOUT = 10.0


def _bool(query: Any, name: str) -> bool:
    v = query.get(name, "")
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise bad_request(f'strconv.ParseBool: parsing "{v}": invalid syntax')


def log_params(query: Any, pod_name: str) -> dict[str, str]:
    """The PodLogOptions of the query, checked (ValidatePodLogOptions), as the kubelet's query."""
    params: dict[str, str] = {}
    for name in ("follow", "previous", "timestamps"):
        if _bool(query, name):
            params[name] = "true"
    tail = query_int(query, "tailLines")
    limit = query_int(query, "limitBytes")
    since_s = query_int(query, "sinceSeconds")
    since_t = query.get("sinceTime") or None
    causes: list[Cause] = []
    if tail is not None and tail < 0:
        causes.append(field_invalid("tailLines", tail, "must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        causes.append(field_invalid("limitBytes", limit, "must be greater than 0"))
    if since_s is not None and since_t is not None:
        causes.append(field_forbidden("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_s is not None and since_s < 1:
        causes.append(field_invalid("sinceSeconds", since_s, "must be greater than 0"))
    if causes:
        # field.Error.Error() prints "<field>: <detail>" even for the root path ("": Forbidden: ...).
        parts = [f"{c.field}: {c.message}" for c in causes]
        joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        err = invalid("PodLogOptions", "", pod_name, causes)
        err.message = f'PodLogOptions "{pod_name}" is invalid: {joined}'
        raise err
    if since_s is not None:
        params["sinceSeconds"] = str(since_s)
    if since_t is not None:
        params["sinceTime"] = since_t
    if tail is not None:
        params["tailLines"] = str(tail)
    if limit is not None:
        params["limitBytes"] = str(limit)
    return params


def _names(spec: dict[str, Any], kind: str) -> list[str]:
    return [c.get("name", "") for c in spec.get(kind) or [] if isinstance(c, dict)]


def choose_container(pod: dict[str, Any], container: str) -> str:
    """validateContainer: the only container by default; a listed one otherwise."""
    spec = pod.get("spec") or {}
    name = (pod.get("metadata") or {}).get("name", "")
    containers = _names(spec, "containers")
    if not container:
        if len(containers) == 1:
            return containers[0]
        if not containers:
            raise bad_request(f"a container name must be specified for pod {name}")
        every = [*_names(spec, "initContainers"), *containers, *_names(spec, "ephemeralContainers")]
        raise bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(every)}]"
        )
    every = containers + _names(spec, "initContainers") + _names(spec, "ephemeralContainers")
    if container not in every:
        raise bad_request(f"container {container} is not valid for pod {name}")
    return container


def kubelet_location(node: dict[str, Any]) -> tuple[str, int]:
    """(host, port) of a node's kubelet: the preferred address and daemonEndpoints port."""
    status = node.get("status") or {}
    addrs = [a for a in status.get("addresses") or [] if isinstance(a, dict) and a.get("address")]
    host = ""
    for kind in ADDRESS_PREFERENCE:
        host = next((a["address"] for a in addrs if a.get("type") == kind), "")
        if host:
            break
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    name = (node.get("metadata") or {}).get("name", "")
    if not host:
        raise StatusError(500, "InternalError", f"Internal error occurred: node {name} has no address", {})
    return host, port if isinstance(port, int) and port > 0 else DEFAULT_KUBELET_PORT


def _upstream_error(status: int, body: str, name: str) -> StatusError:
    """GenericHttpResponseChecker: the kubelet's answer as an API error."""
    if status == 400:
        return bad_request(body)
    if status == 500:
        return StatusError(500, "InternalError", f"Internal error occurred: {body}", {})
    reason = {404: "NotFound", 403: "Forbidden", 401: "Unauthorized"}.get(status, "")
    msg = {
        404: "the server could not find the requested resource",
        403: "the server does not allow access to the requested resource",
        401: "the server has asked for the client to provide credentials",
    }.get(status, f"the server responded with the status code {status} but did not return more information")
    return StatusError(
        status,
        reason or "InternalError",
        f"{msg} ( pods/log {name})",
        {"name": name, "kind": "pods/log"},
        causes=[Cause("UnexpectedServerResponse", body)] if body else [],
    )


def _dial_error(hostport: str, e: BaseException) -> str:
    """Go's net/http wording for a failed connection."""
    os_error = getattr(e, "os_error", e)
    if isinstance(os_error, ConnectionRefusedError):
        return f"dial tcp {hostport}: connect: connection refused"
    if isinstance(e, TimeoutError | aiohttp.ServerTimeoutError):
        return f"dial tcp {hostport}: i/o timeout"
    return f"dial tcp {hostport}: {getattr(os_error, 'strerror', None) or e}"


def kubelet_ssl(rest: Rest) -> ssl.SSLContext:
    """TLS toward a kubelet: the API server's kubelet client certificate when it has its PKI; the
    kubelet's certificate is not verified (kube-apiserver without --kubelet-certificate-authority)."""
    if rest.kubelet_ssl is not None:
        return rest.kubelet_ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def pod_log(
    rest: Rest, registry: Registry, info: RequestInfo, request: web.Request
) -> web.StreamResponse:
    """Serve GET /api/v1/namespaces/{ns}/pods/{name}/log."""
    pods_rt = registry.get("", "v1", "pods")
    nodes_rt = registry.get("", "v1", "nodes")
    assert pods_rt is not None and nodes_rt is not None
    query = request.query
    params = log_params(query, info.name)
    pod = (await rest.current(pods_rt, info.namespace, info.name)).decode()
    container = choose_container(pod, query.get("container", ""))
    if rest.pod_log_hook is not None:  # a virtual cluster: the pod runs on the host
        return await rest.pod_log_hook(info.namespace, info.name, request)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return web.Response(status=204)  # LocationStreamer without a location: no content
    node_entry = await rest.store.get(object_key(nodes_rt, "", node_name))
    if node_entry is None:
        raise not_found("nodes", "", node_name)
    host, port = kubelet_location(node_entry.decode())
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    url = f"https://{hostport}/containerLogs/{info.namespace}/{info.name}/{container}"
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=kubelet_ssl(rest), force_close=True), timeout=timeout
    ) as session:
        try:
            upstream = await session.get(url, params=params)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            # A transport error is not a Status: kube-apiserver answers 500 with an empty reason.
            full = f"{url}?{urlencode(params)}" if params else url
            raise StatusError(500, "", f'Get "{full}": {_dial_error(hostport, e)}', {}) from None
        async with upstream:
            if upstream.status < 200 or upstream.status > 206:
                body = (await upstream.content.read(_MAX_ERROR_BODY)).decode(errors="replace").strip()
                raise _upstream_error(upstream.status, body, info.name)
            resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
            with contextlib.suppress(ConnectionResetError):
                await resp.write_eof()
            return resp
