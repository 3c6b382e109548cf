"""vCluster's fake kubelet (spec §8.9; `pkg/server/filters/{nodename,kubelet}.go`,
`pkg/authorization/kubeletauthorizer`): a request to the virtual API server whose Host header names
a virtual node's kubelet — `<node with . → ->.nodes.vcluster.com` (or the 0.14 form
`<node>.<vcluster>.<host namespace>.nodes.vcluster.com`), or with `proxyKubelets.byIP` the ClusterIP
of the node's host Service — is that node's kubelet: it is authorized as a kubelet authorizes
(`stats/summary` → `get nodes/stats`, the metrics paths → `get nodes/metrics`, any other path as a
non-resource request; resource paths are forbidden) and relayed as `nodes/<node>/proxy/<path>` with
the sub-path policy of `nodes/proxy` (`proxyrelay.py`).

Clients inside the virtual cluster reach it so: metrics-server and Prometheus scrape a node's
`daemonEndpoints` port at its address (the `Hostname`/`InternalIP` of §9.2), which CoreDNS or the
node Service send to the virtual API server.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from vcluster.apiserver.proxysubresource import ProxyTarget
from vcluster.apiserver.rbac_authorizer import Attributes
from vcluster.syncer import metadata
from vcluster.syncer.resources import node as noderes

BY_KUBELET_HOST = "vcluster.loft.sh/kubelet-host"  # virtual nodes by the hostnames of their kubelet
BY_CLUSTER_IP = "vcluster.loft.sh/node-service-ip"  # this cluster's node Services by ClusterIP
STATS_SUFFIX = "/stats/summary"
METRICS_SUFFIXES = (
    "/metrics",
    "/metrics/cadvisor",
    "/metrics/probes",
    "/metrics/resource",
    "/metrics/resource/v1alpha1",
    "/metrics/resource/v1beta1",
)


def split_host_port(host: str) -> str | None:
    """The host part of a `host:port` Host header (Go's net.SplitHostPort: `[v6]:port` too); None
    without a port, as vCluster then does not look for a node."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or not host[end + 1 :].startswith(":"):
            return None
        return host[1:end]
    name, sep, _ = host.rpartition(":")
    if not sep or ":" in name:
        return None  # no port, or an IPv6 address without brackets ("too many colons")
    return name


def legacy_node_hostname(name: str, vcluster: str, host_namespace: str) -> str:
    """GetNodeHostLegacy: the kubelet hostname of vCluster 0.14."""
    return f"{name.replace('.', '-')}.{vcluster}.{host_namespace}.nodes.vcluster.com"


def kubelet_attributes(node: str, path: str, method: str) -> Attributes:
    """What the kubelet authorizer checks for `method path` on `node` (kubeletauthorizer.go)."""
    verb = method.lower()
    if path.endswith(STATS_SUFFIX):
        return Attributes(verb="get", resource_request=True, version="v1", resource="nodes",
                          subresource="stats", name=node)  # fmt: skip
    if path.endswith(METRICS_SUFFIXES):
        return Attributes(verb="get", resource_request=True, version="v1", resource="nodes",
                          subresource="metrics", name=node)  # fmt: skip
    return Attributes(verb=verb, resource_request=False, path=path)


class FakeKubelet:
    """The Host-header interception of one syncer (`syncer` gives the informers and the relay)."""

    def __init__(self, syncer: Any) -> None:
        self.s = syncer
        ctx = syncer.ctx
        self.vnodes = syncer.virtual_informers.informer("v1", "nodes")
        if not self.vnodes.has_index(BY_KUBELET_HOST):
            self.vnodes.add_index(
                BY_KUBELET_HOST,
                lambda n: [
                    noderes.node_hostname(name := metadata.meta(n).get("name", "")),
                    legacy_node_hostname(name, ctx.vcluster, ctx.host_namespace),
                ],
            )
        services = syncer.controllers.get("services")
        self.hservices = services.hinf if services is not None else None
        if self.hservices is not None and not self.hservices.has_index(BY_CLUSTER_IP):
            self.hservices.add_index(BY_CLUSTER_IP, self._node_service_ip)

    def _node_service_ip(self, svc: dict[str, Any]) -> list[str]:
        """vCluster's IndexByClusterIP: the ClusterIP of a Service labelled as this cluster's."""
        if metadata.labels_of(svc).get(noderes.SERVICE_CLUSTER_LABEL) != self.s.ctx.vcluster:
            return []
        ip = (svc.get("spec") or {}).get("clusterIP") or ""
        return [ip] if ip and ip != "None" else []

    def node_for(self, host_header: str | None) -> str | None:
        """The virtual node whose kubelet `host_header` addresses, None for any other request."""
        host = split_host_port(host_header or "")
        if not host:
            return None
        nodes = self.vnodes.by_index(BY_KUBELET_HOST, host)
        if len(nodes) == 1:
            return str(metadata.meta(nodes[0]).get("name", "")) or None
        if not self.s.ctx.proxy_kubelets_by_ip or self.hservices is None or not _is_ip(host):
            return None
        for svc in self.hservices.by_index(BY_CLUSTER_IP, host):
            node = metadata.labels_of(svc).get(noderes.SERVICE_NODE_LABEL, "")
            if node:
                return node
        return None

    @staticmethod
    def attributes(node: str, path: str, method: str) -> Attributes:
        return kubelet_attributes(node, path, method)

    async def serve(self, node: str, request: web.Request) -> web.StreamResponse:
        """The request relayed as `nodes/<node>/proxy<path>` (vCluster's WithFakeKubelet)."""
        from vcluster.syncer.engine.proxyrelay import ProxyRelay

        path = request.path if request.path.startswith("/") else "/" + request.path
        target = ProxyTarget(kind="nodes", namespace="", name=node, scheme="", port="", path=path, prefix="")
        return await ProxyRelay(self.s).relay(target, request)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
