"""Build the translation SyncContext from a validated vcluster.yaml (`vcluster.config`)."""

from __future__ import annotations

import os
from typing import Any

from vcluster.config import VClusterConfig
from vcluster.syncer.context import SyncContext, run_as_id


def _selector(switch: Any, enabled: bool) -> dict[str, Any] | None:
    sel = getattr(switch, "selector", None)
    if not enabled or sel is None or sel.is_empty():
        return None
    return sel.model_dump(by_alias=True, exclude_defaults=True)


def context_from_config(
    cfg: VClusterConfig,
    *,
    name: str,
    host_namespace: str,
    kube_ip: str = "",
    kube_port: int = 443,
    dns_ip: str = "",
    owner_uid: str = "",
    host_minor: int = 32,
    virtual_kubernetes_version: str = "v1.32.0",
    uid: int | None = None,
    gid: int | None = None,
) -> SyncContext:
    """SyncContext for vCluster `name` in `host_namespace`; network facts come from the running engine.

    `uid`/`gid` are the syncer's own (this process's unless given): helper containers it adds to
    host pods run as them, or as 1001 when the syncer runs as root."""
    th, fh = cfg.sync.to_host, cfg.sync.from_host
    pods = th.pods
    init = pods.rewrite_hosts.init_container
    proxy = cfg.networking.advanced.proxy_kubelets
    return SyncContext(
        vcluster=name,
        host_namespace=host_namespace,
        cluster_domain=cfg.cluster_domain,
        kube_ip=kube_ip,
        kube_port=kube_port,
        dns_ip=dns_ip,
        owner_uid=owner_uid,
        set_owner=cfg.experimental.sync_settings.set_owner,
        workload_service_account=cfg.workload_service_account(name),
        sync_service_accounts=cfg.sync_enabled("serviceaccounts"),
        sync_priority_classes=cfg.sync_enabled("priorityclasses", "toHost"),
        sync_storage_classes=cfg.sync_enabled("storageclasses", "toHost"),
        sync_persistent_volumes=cfg.sync_enabled("persistentvolumes"),
        sync_resource_claims=th.resource_claims.enabled,
        configmaps_all=th.config_maps.all,
        secrets_all=th.secrets.all,
        from_host_priority_classes=fh.priority_classes.enabled,
        from_host_priority_class_selector=_selector(fh.priority_classes, fh.priority_classes.enabled),
        from_host_runtime_class_selector=_selector(fh.runtime_classes, fh.runtime_classes.enabled),
        from_host_ingress_class_selector=_selector(fh.ingress_classes, fh.ingress_classes.enabled),
        from_host_storage_class_selector=_selector(
            fh.storage_classes, cfg.sync_enabled("storageclasses", "fromHost")
        ),
        translate_image=dict(pods.translate_image),
        enforce_tolerations=tuple(pods.enforce_tolerations),
        use_secrets_for_sa_tokens=pods.use_secrets_for_sa_tokens,
        pod_runtime_class_name=pods.runtime_class_name,
        pod_priority_class_name=pods.priority_class_name,
        rewrite_hosts=pods.rewrite_hosts.enabled,
        rewrite_hosts_image=cfg.rewrite_hosts_image,
        rewrite_hosts_resources={
            "limits": {k: str(v) for k, v in init.resources.limits.items()},
            "requests": {k: str(v) for k, v in init.resources.requests.items()},
        },
        rewrite_hosts_uid=run_as_id(os.getuid() if uid is None else uid),
        rewrite_hosts_gid=run_as_id(os.getgid() if gid is None else gid),
        virtual_scheduler=cfg.scheduling_in_virtual_cluster,
        host_path_mapper=cfg.control_plane.host_path_mapper.enabled
        and not cfg.control_plane.host_path_mapper.central,
        host_minor=host_minor,
        pod_security_standard=cfg.policies.pod_security_standard,
        real_nodes=cfg.real_nodes,
        node_selector_labels=dict(fh.nodes.selector.labels),
        node_selector_all=cfg.sync_all_nodes,
        clear_image_status=fh.nodes.clear_image_status,
        proxy_kubelets_by_hostname=proxy.by_hostname,
        proxy_kubelets_by_ip=proxy.by_ip,
        virtual_kubernetes_version=virtual_kubernetes_version,
    )
