"""Service → address for the aggregator: kube-apiserver's ClusterIP resolver (the webhook
admission's `WebhookAdmission.resolve`, which also maps `default/kubernetes:443` to this server) or,
with `--enable-aggregator-routing`, k8s.io/apiserver/pkg/util/proxy.ResolveEndpoint: a ready
address of the Service's Endpoints, on the endpoint port named like the Service port.

Errors are ValueError with kube's texts (`service "x" not found`, `no endpoints available for
service "x"`, ...).
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from vcluster.apiserver.resources import Registry
from vcluster.jsonguards import as_dict as _d
from vcluster.store.interface import Storage


class ClusterResolver(Protocol):
    async def resolve(self, namespace: str, name: str, port: int) -> tuple[str, int]: ...


class ServiceResolver:
    """`resolve(namespace, name, port) -> (host, port)` as kube-apiserver's aggregator resolves."""

    def __init__(
        self, store: Storage, registry: Registry, cluster: ClusterResolver, *, endpoint_routing: bool = False
    ) -> None:
        self.store = store
        self.registry = registry
        self.cluster = cluster
        self.endpoint_routing = endpoint_routing
        self.loopback: tuple[str, int] | None = None

    async def get_core(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        rt = self.registry.get("", "v1", plural)
        e = await self.store.get(f"{rt.key_prefix}{namespace}/{name}") if rt is not None else None
        return e.decode() if e is not None else None

    async def resolve(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        if not self.endpoint_routing:
            return await self.cluster.resolve(namespace, name, port)
        if (namespace, name, port) == ("default", "kubernetes", 443) and self.loopback is not None:
            return self.loopback  # NewLoopbackServiceResolver
        return await self.resolve_endpoint(namespace, name, port)

    async def resolve_endpoint(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        """proxy.ResolveEndpoint."""
        svc = await self.get_core("services", namespace, name)
        if svc is None:
            raise ValueError(f'service "{name}" not found')
        spec = _d(svc.get("spec"))
        stype = spec.get("type") or "ClusterIP"
        if stype not in ("ClusterIP", "LoadBalancer", "NodePort"):
            raise ValueError(f'unsupported service type "{stype}"')
        svc_port = next(
            (p for p in spec.get("ports") or [] if isinstance(p, dict) and p.get("port") == port), None
        )
        if svc_port is None:
            raise ValueError(f'no service port {port} found for service "{name}"')
        eps = await self.get_core("endpoints", namespace, name)
        if eps is None:
            raise ValueError(f'endpoints "{name}" not found')
        subsets = [s for s in eps.get("subsets") or [] if isinstance(s, dict)]
        port_name = svc_port.get("name") or ""
        if subsets:
            seed = random.randrange(len(subsets))
            for i in range(len(subsets)):
                ss = subsets[(seed + i) % len(subsets)]
                addresses = [a for a in ss.get("addresses") or [] if isinstance(a, dict) and a.get("ip")]
                if not addresses:
                    continue
                for p in ss.get("ports") or []:
                    if isinstance(p, dict) and (p.get("name") or "") == port_name:
                        return str(random.choice(addresses)["ip"]), int(p.get("port") or 0)
        raise ValueError(f'no endpoints available for service "{name}"')
