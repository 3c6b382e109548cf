"""Objects every cluster has from its first start: system namespaces, `default/kubernetes`, and the
API server's own endpoints."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from vcluster.apiserver import strategy
from vcluster.apiserver.rbac_policy import ensure_bootstrap_policy
from vcluster.apiserver.resources import Registry
from vcluster.apiserver.rest import object_key
from vcluster.store.interface import KeyExistsError, Storage

log = logging.getLogger("vcluster.apiserver.bootstrap")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"


def kubernetes_service_ip(service_cidr: str) -> str:
    net = ipaddress.ip_network(service_cidr, strict=False)
    return str(net.network_address + 1)


def kubernetes_service(spec: dict[str, Any]) -> dict[str, Any]:
    """`default/kubernetes` with kube-apiserver's labels: a ClusterIP Service, no affinity, `spec`
    added (ports and ClusterIP: those of this API server, or in a virtual cluster the host's)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {"type": "ClusterIP", "sessionAffinity": "None", **spec},
    }


def kubernetes_endpoints(ip: str, port: int) -> dict[str, Any]:
    """`default/kubernetes` Endpoints naming one API server (not mirrored into a slice: the API
    server writes that itself)."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [
            {"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
        ],
    }


async def ensure_bootstrap_objects(
    store: Storage,
    registry: Registry,
    *,
    advertise_ip: str,
    port: int,
    service_cidr: str = DEFAULT_SERVICE_CIDR,
) -> None:
    async def create(group: str, version: str, plural: str, obj: dict[str, Any]) -> None:
        rt = registry.get(group, version, plural)
        assert rt is not None
        md = obj["metadata"]
        key = object_key(rt, md.get("namespace", ""), md["name"])
        if await store.get(key) is not None:
            return
        strategy.prepare_for_create(rt, obj)
        try:
            await store.create(key, obj)
            log.info("created %s %s", plural, md["name"])
        except KeyExistsError:
            pass

    for ns in SYSTEM_NAMESPACES:
        await create(
            "",
            "v1",
            "namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {}},
        )
    service_ip = kubernetes_service_ip(service_cidr)
    service = kubernetes_service(
        {
            "clusterIP": service_ip,
            "clusterIPs": [service_ip],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        }
    )  # stored directly, so with the fields defaulting would add
    service["status"] = {"loadBalancer": {}}
    await create("", "v1", "services", service)
    await create("", "v1", "endpoints", kubernetes_endpoints(advertise_ip, port))
    await create(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [advertise_ip], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
    )
    for name, value in (("system-cluster-critical", 2000000000), ("system-node-critical", 2000001000)):
        await create(
            "scheduling.k8s.io",
            "v1",
            "priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "preemptionPolicy": "PreemptLowerPriority",
                "description": "Used for system critical pods that must run in the cluster, but can be "
                "moved to another node if necessary."
                if name == "system-cluster-critical"
                else "Used for system critical pods that must not be moved from their current node.",
            },
        )
    await ensure_bootstrap_policy(store, registry)  # kube's rbac/bootstrap-roles post-start hook
