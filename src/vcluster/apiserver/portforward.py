"""pods/{name}/portforward: validated and authorized like kube-apiserver's PortForwardREST, then
relayed as exec is (`podexec.proxy_stream`).

kubectl 1.31+ tunnels SPDY/3.1 in a WebSocket (subprotocol `SPDY/3.1+portforward.k8s.io`); every
hop relays the WebSocket messages verbatim, so the SPDY session runs between kubectl and the
kubelet (`hostsim/portforward.py`) without being parsed on the way. A virtual cluster hands the
request to `Rest.pod_exec_hook` (the syncer relays it to the host pod, `ports` unchanged); a host
proxies it to the node's kubelet at `https://<InternalIP>:<port>/portForward/{ns}/{pod}`, the
`ports` option passed as one comma-separated `port` as kube-apiserver's streamParams does.
kubectl's fallback, a plain SPDY upgrade, goes down the same chain as a plain request and ends in
a 400 that says so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from yarl import URL

from vcluster.apiserver.errors import StatusError, bad_request
from vcluster.apiserver.podexec import (
    PORTFORWARD_PROTOCOLS,
    UpstreamRefused,
    UpstreamUnreachable,
    authorize,
    kubelet_error,
    proxy_stream,
    spdy_unsupported,
)
from vcluster.apiserver.podlogs import kubelet_location, kubelet_ssl
from vcluster.apiserver.request import RequestInfo
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import Rest, object_key


async def pod_portforward(
    rest: Rest,
    registry: Registry,
    info: RequestInfo,
    request: web.Request,
    user: Any,
    authorizer: Any,
) -> web.StreamResponse:
    """Serve /api/v1/namespaces/{ns}/pods/{name}/portforward (GET upgrade or POST)."""
    authorize(authorizer, user, info)  # `create` on pods/portforward
    pods_rt = registry.get("", "v1", "pods")
    nodes_rt = registry.get("", "v1", "nodes")
    assert pods_rt is not None and nodes_rt is not None
    pod = (await rest.current(pods_rt, info.namespace, info.name)).decode()
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise bad_request(f"pod {info.name} does not have a host assigned")
    if rest.pod_exec_hook is not None:  # a virtual cluster: the pod runs on the host
        return await rest.pod_exec_hook("portforward", info.namespace, info.name, "", request)
    node_entry = await rest.store.get(object_key(nodes_rt, "", node_name))
    if node_entry is None:
        raise StatusError(500, "InternalError", f'Internal error occurred: node "{node_name}" not found', {})
    host, port = kubelet_location(node_entry.decode())
    ports = [p for value in request.query.getall("ports", []) for p in value.split(",") if p]
    url = URL.build(
        scheme="https", host=host, port=port, path=f"/portForward/{info.namespace}/{info.name}"
    ).with_query([("port", ",".join(ports))] if ports else [])
    try:
        return await proxy_stream(request, url, ssl=kubelet_ssl(rest), protocols=PORTFORWARD_PROTOCOLS)
    except UpstreamRefused as e:
        if e.upgrade_required:
            raise spdy_unsupported(request, "portforward") from None
        raise kubelet_error(e) from None
    except UpstreamUnreachable as e:
        raise StatusError(500, "InternalError", f"error dialing backend: {e.dial_message()}", {}) from None
