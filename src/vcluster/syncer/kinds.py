"""The kinds the syncer knows: group, version, kind, plural and scope (one place for GVK strings)."""

from __future__ import annotations

from typing import NamedTuple

from vcluster.syncer.names import gvk_string


class Kind(NamedTuple):
    """A resource kind as the syncer addresses it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """`v1` for the core group, `group/version` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gvk(self) -> str:
        """Go's GroupVersionKind.String(), the value of `vcluster.loft.sh/object-kind`."""
        return gvk_string(self.group, self.version, self.kind)


POD = Kind("", "v1", "Pod", "pods")
SERVICE = Kind("", "v1", "Service", "services")
ENDPOINTS = Kind("", "v1", "Endpoints", "endpoints")
ENDPOINT_SLICE = Kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
CONFIGMAP = Kind("", "v1", "ConfigMap", "configmaps")
SECRET = Kind("", "v1", "Secret", "secrets")
SERVICE_ACCOUNT = Kind("", "v1", "ServiceAccount", "serviceaccounts")
PVC = Kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
PV = Kind("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False)
EVENT = Kind("", "v1", "Event", "events")
NODE = Kind("", "v1", "Node", "nodes", namespaced=False)
NAMESPACE = Kind("", "v1", "Namespace", "namespaces", namespaced=False)
INGRESS = Kind("networking.k8s.io", "v1", "Ingress", "ingresses")
INGRESS_CLASS = Kind("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False)
NETWORK_POLICY = Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies")
PDB = Kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets")
PRIORITY_CLASS = Kind("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False)
STORAGE_CLASS = Kind("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False)
RUNTIME_CLASS = Kind("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", namespaced=False)
CSI_DRIVER = Kind("storage.k8s.io", "v1", "CSIDriver", "csidrivers", namespaced=False)
CSI_NODE = Kind("storage.k8s.io", "v1", "CSINode", "csinodes", namespaced=False)
RESOURCE_CLAIM = Kind("resource.k8s.io", "v1beta1", "ResourceClaim", "resourceclaims")
RESOURCE_CLAIM_TEMPLATE = Kind(
    "resource.k8s.io", "v1beta1", "ResourceClaimTemplate", "resourceclaimtemplates"
)

ALL: tuple[Kind, ...] = (
    POD,
    SERVICE,
    ENDPOINTS,
    ENDPOINT_SLICE,
    CONFIGMAP,
    SECRET,
    SERVICE_ACCOUNT,
    PVC,
    PV,
    EVENT,
    NODE,
    NAMESPACE,
    INGRESS,
    INGRESS_CLASS,
    NETWORK_POLICY,
    PDB,
    PRIORITY_CLASS,
    STORAGE_CLASS,
    RUNTIME_CLASS,
    CSI_DRIVER,
    CSI_NODE,
    RESOURCE_CLAIM,
    RESOURCE_CLAIM_TEMPLATE,
)
_BY_GVK = {k.gvk: k for k in ALL}
_BY_API_KIND = {(k.api_version, k.kind): k for k in ALL}


def by_gvk(gvk: str) -> Kind | None:
    """The Kind whose GVK string is `gvk`."""
    return _BY_GVK.get(gvk)


def by_api_version_kind(api_version: str, kind: str) -> Kind | None:
    """The Kind for an object's apiVersion/kind pair."""
    return _BY_API_KIND.get((api_version, kind))
