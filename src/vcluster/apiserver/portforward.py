"""pods/{name}/portforward: authorized, admitted (CONNECT with PodPortForwardOptions, `podexec.admit`)
and validated like kube-apiserver's PortForwardREST, then relayed as exec is (`podexec.proxy_stream`).

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

from vcluster.apiserver.podexec import PORTFORWARD_PROTOCOLS, admit, authorize, node_of, relay_to_kubelet
from vcluster.apiserver.request import RequestInfo
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import Rest


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
    opts, request = await admit(registry, info, request)
    pods_rt = registry.get("", "v1", "pods")
    assert pods_rt is not None
    pod = (await rest.current(pods_rt, info.namespace, info.name)).decode()
    node_name = node_of(pod, info.name)
    if rest.pod_exec_hook is not None:  # a virtual cluster: the pod runs on the host
        return await rest.pod_exec_hook("portforward", info.namespace, info.name, "", request)
    ports = opts.get("ports") or []
    query = [("port", ",".join(str(p) for p in ports))] if ports else []
    path = f"/portForward/{info.namespace}/{info.name}"
    return await relay_to_kubelet(
        rest, registry, request, node_name, path, query, "portforward", PORTFORWARD_PROTOCOLS
    )
