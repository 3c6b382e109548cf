"""CoreDNS in the virtual cluster: its manifests created at start when missing (a restart writes
nothing; a user's edits stay), and the NodeHosts maintainer of spec §8.8, which keeps the
`NodeHosts` key of `kube-system/coredns` equal to the virtual nodes' addresses and hostnames."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, WorkQueue
from vcluster.syncer import coredns, kinds
from vcluster.syncer.engine.controller import conflict_tolerant

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.coredns")

_PLURALS = {"ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles",
            "ClusterRoleBinding": "clusterrolebindings", "ConfigMap": "configmaps",
            "Deployment": "deployments", "Service": "services"}  # fmt: skip
_KEY = "nodehosts"
RESOLV_CONF = Path("/etc/resolv.conf")


class CoreDNSController:
    name = "coredns"

    def __init__(self, engine: Syncer) -> None:
        self.engine = engine
        self.queue = WorkQueue(
            "coredns", base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay
        )
        self.vnodes = engine.virtual_informers.informer("v1", "nodes")
        self.vconfigmaps = engine.virtual_informers.informer("v1", "configmaps")
        self.vnodes.add_handler(self._on_node)
        self.vconfigmaps.add_handler(self._on_config_map)

    def _on_node(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is None or (obj.get("status") or {}).get("addresses") != (old.get("status") or {}).get(
            "addresses"
        ):
            self.queue.add(_KEY)

    def _on_config_map(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        m = obj.get("metadata") or {}
        if (m.get("namespace"), m.get("name")) == (
            coredns.NAMESPACE,
            coredns.CONFIG_MAP,
        ) and event != "delete":
            self.queue.add(_KEY)

    def manifests(self, fallback_dns: str = "") -> list[dict[str, Any]]:
        cfg = self.engine.config
        image = f"{cfg.control_plane.advanced.default_image_registry.rstrip('/')}/{coredns.IMAGE}".lstrip("/")
        return coredns.manifests(
            image,
            cluster_domain=cfg.cluster_domain,
            rewrite_node_names=cfg.networking.advanced.proxy_kubelets.by_hostname,
            pod_security=bool(cfg.policies.pod_security_standard),
            fallback_dns=fallback_dns,
            run_as_user=self.engine.ctx.rewrite_hosts_uid,
            run_as_group=self.engine.ctx.rewrite_hosts_gid,
        )

    async def host_cluster_dns(self) -> str:
        """The host cluster's DNS server for `networking.advanced.fallbackHostCluster`: in a pod, the
        first nameserver of its resolv.conf (where vCluster reads it); elsewhere the ClusterIP of the
        host's `kube-system/kube-dns` Service when the host lets us read it; else "" (CoreDNS then
        forwards to its own resolver, as vCluster does when it finds no nameserver)."""
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            with contextlib.suppress(OSError):
                servers = coredns.nameservers(RESOLV_CONF.read_text())
                if servers:
                    return servers[0]
        try:
            svc = await self.engine.host.get("v1", "services", "kube-dns", "kube-system")
        except ApiError as e:
            svc, why = None, f"{e.status} {e.reason}"
        else:
            why = "it has no ClusterIP"
        ip = ((svc or {}).get("spec") or {}).get("clusterIP") or ""
        if ip and ip != "None":
            return str(ip)
        log.warning(
            "networking.advanced.fallbackHostCluster: no host cluster DNS found (not running in a pod, "
            "and the host Service kube-system/kube-dns cannot be used: %s); CoreDNS forwards to "
            "/etc/resolv.conf",
            why,
        )
        return ""

    async def apply(self) -> None:
        """Create every CoreDNS object that does not exist yet (read first: a restart writes
        nothing); a kube-dns Service of an earlier version is moved to the CoreDNS pods."""
        virtual = self.engine.virtual
        fallback = ""
        if self.engine.config.networking.advanced.fallback_host_cluster:
            fallback = await self.host_cluster_dns()
        for obj in self.manifests(fallback):
            kind, m = obj["kind"], obj["metadata"]
            api_version, plural, ns = obj["apiVersion"], _PLURALS[kind], m.get("namespace")
            try:
                have = await virtual.get(api_version, plural, m["name"], ns)
            except ApiError as e:
                if not e.not_found:
                    raise
                have = None
            if have is None:
                try:
                    await virtual.create(api_version, plural, obj, ns)
                    log.info(
                        "Create virtual %s %s (CoreDNS)",
                        kind.lower(),
                        f"{ns}/{m['name']}" if ns else m["name"],
                    )
                except ApiError as e:
                    if not e.already_exists:
                        raise
            elif kind == "Service" and coredns.is_old_dns_service(have):
                patch = {"metadata": {"labels": m["labels"]}, "spec": {"selector": obj["spec"]["selector"]}}
                await self.engine.writer.patch_virtual(kinds.SERVICE, have, patch)
                log.info("Update virtual service %s/%s to select the CoreDNS pods", ns, m["name"])

    async def run(self, workers: int) -> None:
        self.queue.add(_KEY)
        await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=1)

    async def reconcile(self, key: str) -> None:
        """NodeHosts := one `<address> <hostname>` line per virtual node (only when it differs)."""
        cm = self.vconfigmaps.get(coredns.CONFIG_MAP, coredns.NAMESPACE)
        if cm is None:
            return
        want = coredns.node_hosts(self.vnodes.list())
        if (cm.get("data") or {}).get(coredns.NODE_HOSTS_KEY) == want:
            return
        await self.engine.writer.patch_virtual(kinds.CONFIGMAP, cm, {"data": {coredns.NODE_HOSTS_KEY: want}})
        # the next reconcile must not compare with a cache older than this write
        await self.vconfigmaps.wait_until(
            coredns.CONFIG_MAP,
            coredns.NAMESPACE,
            lambda c: c is None or (c.get("data") or {}).get(coredns.NODE_HOSTS_KEY) == want,
            2.0,
        )
        log.info("Update virtual configmap %s/%s NodeHosts (%d nodes)", cm["metadata"]["namespace"],
                 cm["metadata"]["name"], len(want.splitlines()) if want else 0)  # fmt: skip
