"""Everything the pure translation layer needs to know about this virtual cluster (no I/O)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from vcluster.syncer import kinds, names
from vcluster.syncer.kinds import Kind

KUBE_ROOT_CA = "kube-root-ca.crt"
DEFAULT_REWRITE_HOSTS_IMAGE = "mirror.gcr.io/library/alpine:3.20"
DEFAULT_REWRITE_HOSTS_RESOURCES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "limits": MappingProxyType({"cpu": "30m", "memory": "64Mi"}),
        "requests": MappingProxyType({"cpu": "30m", "memory": "64Mi"}),
    }
)
# uid/gid of the containers the syncer adds to host pods when the syncer itself runs as root
DEFAULT_RUN_AS = 1001
# Kinds whose `default/kubernetes` object is the vCluster's own host service (§1.6).
_KUBERNETES_SERVICE_KINDS = (kinds.SERVICE, kinds.ENDPOINTS, kinds.ENDPOINT_SLICE)


def run_as_id(process_id: int) -> int:
    """vCluster's GetUserID/GetGroupID: the syncer's own id, DEFAULT_RUN_AS in place of root's 0."""
    return process_id or DEFAULT_RUN_AS


def _frozen(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(m or {}))


@dataclass(frozen=True)
class SyncContext:
    """Static inputs of translation: names, network facts and config switches."""

    vcluster: str
    host_namespace: str
    cluster_domain: str = "cluster.local"
    # Host ClusterIP of the vCluster service `HNS/<VC>` ("kube IP"): KUBERNETES_* env, hostAliases.
    kube_ip: str = ""
    kube_port: int = 443
    # Host ClusterIP of the synced virtual `kube-system/kube-dns` ("DNS IP"); "" = not known yet.
    dns_ip: str = ""
    # UID of the host vCluster Service; synced namespaced host objects are owned by it (setOwner).
    owner_uid: str = ""
    set_owner: bool = True
    workload_service_account: str = ""
    # sync.toHost switches the translation depends on
    sync_service_accounts: bool = False
    sync_priority_classes: bool = False
    sync_storage_classes: bool = False
    sync_persistent_volumes: bool = False
    sync_resource_claims: bool = False
    configmaps_all: bool = False
    secrets_all: bool = False
    # sync.fromHost switches
    from_host_priority_classes: bool = False
    from_host_priority_class_selector: Mapping[str, Any] | None = None
    from_host_runtime_class_selector: Mapping[str, Any] | None = None
    from_host_ingress_class_selector: Mapping[str, Any] | None = None
    from_host_storage_class_selector: Mapping[str, Any] | None = None
    # sync.toHost.pods
    translate_image: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    enforce_tolerations: tuple[str, ...] = ()
    use_secrets_for_sa_tokens: bool = False
    pod_runtime_class_name: str = ""
    pod_priority_class_name: str = ""
    rewrite_hosts: bool = True
    rewrite_hosts_image: str = DEFAULT_REWRITE_HOSTS_IMAGE
    rewrite_hosts_resources: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: DEFAULT_REWRITE_HOSTS_RESOURCES
    )
    rewrite_hosts_uid: int = DEFAULT_RUN_AS
    rewrite_hosts_gid: int = DEFAULT_RUN_AS
    virtual_scheduler: bool = False
    host_path_mapper: bool = False
    # Host Kubernetes minor version: pod-level `spec.resources` is dropped below 1.34.
    host_minor: int = 32
    pod_security_standard: str = ""
    # sync.fromHost.nodes
    real_nodes: bool = False
    node_selector_labels: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    node_selector_all: bool = False
    clear_image_status: bool = False
    proxy_kubelets_by_hostname: bool = True
    proxy_kubelets_by_ip: bool = True
    virtual_kubernetes_version: str = "v1.32.0"
    node_arch: str = "amd64"

    def __post_init__(self) -> None:
        for name in ("translate_image", "node_selector_labels"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "enforce_tolerations", tuple(self.enforce_tolerations))

    def replace(self, **changes: Any) -> SyncContext:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def workload_sa(self) -> str:
        """Service account every host pod runs as unless service accounts are synced."""
        return self.workload_service_account or f"vc-workload-{self.vcluster}"

    @property
    def marker(self) -> str:
        """`managed-by` label value of namespaced host objects."""
        return self.vcluster

    @property
    def cluster_marker(self) -> str:
        """`managed-by` label value of cluster-scoped host objects."""
        return names.cluster_marker(self.host_namespace, self.vcluster)

    def host_name(self, name: str, namespace: str) -> str:
        """`<name>-x-<namespace>-x-<vc>` (§1.3)."""
        return names.host_name(name, namespace, self.vcluster)

    def host_name_cluster(self, name: str) -> str:
        """`vcluster-<name>-x-<hostns>-x-<vc>` (§1.5)."""
        return names.host_name_cluster(name, self.host_namespace, self.vcluster)

    def host_name_for(self, kind: Kind, name: str, namespace: str = "") -> str:
        """Host name of a virtual object of `kind`, with the special names of §1.6."""
        if not name:
            return ""
        if kind == kinds.CONFIGMAP and name == KUBE_ROOT_CA:
            return names.safe_concat_name("vcluster", KUBE_ROOT_CA, "x", self.vcluster)
        if kind in _KUBERNETES_SERVICE_KINDS and namespace == "default" and name == "kubernetes":
            return self.vcluster
        if not kind.namespaced:
            return self.host_name_cluster(name) if self._cluster_translated(kind) else name
        return self.host_name(name, namespace)

    def host_namespace_for(self, kind: Kind) -> str:
        """Every namespaced virtual object lands in the one host namespace."""
        return self.host_namespace if kind.namespaced else ""

    def _cluster_translated(self, kind: Kind) -> bool:
        if kind == kinds.PRIORITY_CLASS:
            return self.sync_priority_classes
        if kind == kinds.STORAGE_CLASS:
            return self.sync_storage_classes
        if kind == kinds.PV:
            return self.sync_persistent_volumes
        return False

    @property
    def kube_root_ca_host_name(self) -> str:
        """Host name of every virtual `kube-root-ca.crt` ConfigMap."""
        return self.host_name_for(kinds.CONFIGMAP, KUBE_ROOT_CA, "default")
