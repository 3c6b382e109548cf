"""The built-in resource types a Kubernetes 1.32 server serves, as discovery lists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vcluster.apiserver.conversion import EVENTS_V1
from vcluster.apiserver.hpaconversion import V1_CONVERSION as HPA_V1

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")

# Name rules (apimachinery validation): which validator a kind's metadata.name uses.
DNS1123_SUBDOMAIN = "subdomain"
DNS1123_LABEL = "label"
DNS1035_LABEL = "dns1035"
PATH_SEGMENT = "path-segment"  # RBAC objects: any name usable as a path segment


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    verbs: tuple[str, ...]
    # GVK of the subresource's body when it differs from the parent (scale -> autoscaling/v1 Scale).
    group: str | None = None
    version: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    name_rule: str = DNS1123_SUBDOMAIN
    name_max: int = 253
    # kube-apiserver stores bump metadata.generation on spec changes only for these.
    has_generation: bool = False
    # Stores that answer DELETE with the deleted object instead of a Status.
    delete_returns_object: bool = False
    # The etcd key segment (kube-apiserver: events under "events", services under "services/specs").
    storage_resource: str = ""
    # Object kinds sharing storage with another group's resource (events.k8s.io/v1 -> core events):
    # every write goes through that resource's pipeline.
    storage_group: str | None = None
    # The version objects are stored in when it is not this one (autoscaling/v1 HPAs are stored as
    # autoscaling/v2); with `conversion`, objects are converted on every read and write.
    storage_version: str | None = None
    # conversion.VersionConversion between this version and the storage version (None: the same).
    conversion: Any = field(default=None, compare=False)
    extra_field_labels: tuple[str, ...] = field(default=())
    # Custom resources: their CRD-derived schema, printer columns and managedFields type.
    custom: Any = field(default=None, compare=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_gvk(self) -> tuple[str, str, str]:
        """(group, version, kind) of the stored objects (what storageVersionHash is computed from)."""
        group = self.storage_group if self.storage_group is not None else self.group
        return group, self.storage_version or self.version, self.kind

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key_prefix(self) -> str:
        """`/registry/<group>/<resource>/` as kube-apiserver lays out etcd (core and legacy groups
        have no group segment)."""
        group = self.storage_group if self.storage_group is not None else self.group
        res = self.storage_resource or self.plural
        if group in _UNPREFIXED_GROUPS:
            return f"/registry/{res}/"
        return f"/registry/{group}/{res}/"

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None

    def has_status(self) -> bool:
        return self.subresource("status") is not None


# kube-apiserver keeps these groups' objects without a group segment in etcd keys (legacy layout).
_UNPREFIXED_GROUPS = {
    "",
    "apps",
    "batch",
    "extensions",
    "policy",
    "networking.k8s.io",
    "storage.k8s.io",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "autoscaling",
    "certificates.k8s.io",
    "events.k8s.io",
    "admissionregistration.k8s.io",
    "flowcontrol.apiserver.k8s.io",
}


def _status(extra_verbs: tuple[str, ...] = STATUS_VERBS) -> Subresource:
    return Subresource("status", extra_verbs)


def _scale() -> Subresource:
    return Subresource("scale", STATUS_VERBS, "autoscaling", "v1", "Scale")


POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
)
EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

R = ResourceType
S = Subresource

BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    # ---- core/v1
    R(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        False,
        ("ns",),
        subresources=(S("finalize", ("update",)), _status()),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        name_rule=DNS1123_LABEL,
        name_max=63,
        extra_field_labels=("status.phase",),
    ),
    R(
        "",
        "v1",
        "pods",
        "pod",
        "Pod",
        True,
        ("po",),
        ("all",),
        subresources=(
            S("attach", ("create", "get")),
            S("binding", ("create",)),
            S("ephemeralcontainers", STATUS_VERBS),
            S("eviction", ("create",), "policy", "v1", "Eviction"),
            S("exec", ("create", "get")),
            S("log", ("get",)),
            S("portforward", ("create", "get")),
            S("proxy", ("create", "delete", "get", "patch", "update")),
            _status(),
        ),
        delete_returns_object=True,
        extra_field_labels=POD_FIELDS,
    ),
    R("", "v1", "bindings", "binding", "Binding", True, verbs=("create",)),
    R(
        "",
        "v1",
        "services",
        "service",
        "Service",
        True,
        ("svc",),
        ("all",),
        subresources=(S("proxy", ("create", "delete", "get", "patch", "update")), _status()),
        name_rule=DNS1035_LABEL,
        name_max=63,
        delete_returns_object=True,
        storage_resource="services/specs",
        extra_field_labels=("spec.clusterIP", "spec.type"),
    ),
    R("", "v1", "endpoints", "endpoints", "Endpoints", True, ("ep",), storage_resource="services/endpoints"),
    R("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    R("", "v1", "secrets", "secret", "Secret", True, extra_field_labels=("type",)),
    R(
        "",
        "v1",
        "serviceaccounts",
        "serviceaccount",
        "ServiceAccount",
        True,
        ("sa",),
        subresources=(S("token", ("create",), "authentication.k8s.io", "v1", "TokenRequest"),),
        delete_returns_object=True,
    ),
    R(
        "",
        "v1",
        "nodes",
        "node",
        "Node",
        False,
        ("no",),
        subresources=(S("proxy", ("create", "delete", "get", "patch", "update")), _status()),
        storage_resource="minions",
        extra_field_labels=("spec.unschedulable",),
    ),
    R("", "v1", "events", "event", "Event", True, ("ev",), extra_field_labels=EVENT_FIELDS),
    R(
        "",
        "v1",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        True,
        ("pvc",),
        subresources=(_status(),),
        delete_returns_object=True,
    ),
    R(
        "",
        "v1",
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        False,
        ("pv",),
        subresources=(_status(),),
        delete_returns_object=True,
    ),
    R(
        "",
        "v1",
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        True,
        ("quota",),
        subresources=(_status(),),
        delete_returns_object=True,
    ),
    R("", "v1", "limitranges", "limitrange", "LimitRange", True, ("limits",)),
    R("", "v1", "podtemplates", "podtemplate", "PodTemplate", True, delete_returns_object=True),
    R(
        "",
        "v1",
        "replicationcontrollers",
        "replicationcontroller",
        "ReplicationController",
        True,
        ("rc",),
        ("all",),
        subresources=(_scale(), _status()),
        has_generation=True,
        extra_field_labels=("status.replicas",),
    ),
    R(
        "",
        "v1",
        "componentstatuses",
        "componentstatus",
        "ComponentStatus",
        False,
        ("cs",),
        verbs=("get", "list"),
    ),
    # ---- apiregistration.k8s.io/v1 (kube-aggregator: apiregistration.py, aggregator.py)
    R(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "apiservice",
        "APIService",
        False,
        categories=("api-extensions",),
        subresources=(_status(),),
        name_rule=PATH_SEGMENT,
    ),
    # ---- apps/v1
    R("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", True),
    R(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        True,
        ("ds",),
        ("all",),
        subresources=(_status(),),
        has_generation=True,
    ),
    R(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        True,
        ("deploy",),
        ("all",),
        subresources=(_scale(), _status()),
        has_generation=True,
    ),
    R(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        True,
        ("rs",),
        ("all",),
        subresources=(_scale(), _status()),
        has_generation=True,
        extra_field_labels=("status.replicas",),
    ),
    R(
        "apps",
        "v1",
        "statefulsets",
        "statefulset",
        "StatefulSet",
        True,
        ("sts",),
        ("all",),
        subresources=(_scale(), _status()),
        has_generation=True,
    ),
    # ---- events.k8s.io/v1 (same storage as core events)
    R(
        "events.k8s.io",
        "v1",
        "events",
        "event",
        "Event",
        True,
        ("ev",),
        storage_group="",
        conversion=EVENTS_V1,
    ),
    # ---- autoscaling/v2 (storage version, preferred) and autoscaling/v1 (converted)
    R(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("all",),
        subresources=(_status(),),
    ),
    R(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        ("all",),
        subresources=(_status(),),
        storage_version="v2",
        conversion=HPA_V1,
    ),
    # ---- authentication / authorization (virtual, create-only)
    R(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        False,
        verbs=("create",),
    ),
    R("authentication.k8s.io", "v1", "tokenreviews", "tokenreview", "TokenReview", False, verbs=("create",)),
    R(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        True,
        verbs=("create",),
    ),
    R(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
    R(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        False,
        verbs=("create",),
    ),
    R(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        False,
        verbs=("create",),
    ),
    # ---- batch/v1
    R(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        True,
        ("cj",),
        ("all",),
        subresources=(_status(),),
        has_generation=True,
        name_max=52,
    ),
    R(
        "batch",
        "v1",
        "jobs",
        "job",
        "Job",
        True,
        (),
        ("all",),
        subresources=(_status(),),
        has_generation=True,
        name_max=63,
        extra_field_labels=("status.successful",),
    ),
    # ---- certificates.k8s.io/v1
    R(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "certificatesigningrequest",
        "CertificateSigningRequest",
        False,
        ("csr",),
        subresources=(S("approval", STATUS_VERBS), _status()),
        name_rule=PATH_SEGMENT,
        extra_field_labels=("spec.signerName",),
    ),
    # ---- networking.k8s.io/v1
    R("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False),
    R(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        True,
        ("ing",),
        subresources=(_status(),),
        has_generation=True,
        storage_resource="ingress",
    ),
    R(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        True,
        ("netpol",),
        has_generation=True,
    ),
    # ---- policy/v1
    R(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        subresources=(_status(),),
        has_generation=True,
    ),
    # ---- rbac.authorization.k8s.io/v1
    R(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        False,
        name_rule=PATH_SEGMENT,
    ),
    R(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "clusterrole",
        "ClusterRole",
        False,
        name_rule=PATH_SEGMENT,
    ),
    R(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "rolebinding",
        "RoleBinding",
        True,
        name_rule=PATH_SEGMENT,
    ),
    R("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True, name_rule=PATH_SEGMENT),
    # ---- storage.k8s.io/v1
    R("storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", False, delete_returns_object=True),
    R("storage.k8s.io", "v1", "csinodes", "csinode", "CSINode", False, delete_returns_object=True),
    R("storage.k8s.io", "v1", "csistoragecapacities", "csistoragecapacity", "CSIStorageCapacity", True),
    R(
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "storageclass",
        "StorageClass",
        False,
        ("sc",),
        delete_returns_object=True,
    ),
    R(
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "volumeattachment",
        "VolumeAttachment",
        False,
        subresources=(_status(),),
        delete_returns_object=True,
    ),
    # ---- admissionregistration.k8s.io/v1 (webhookadmission.py calls the configured webhooks)
    R(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        False,
        categories=("api-extensions",),
        has_generation=True,
    ),
    # vapadmission.py enforces the policies through their bindings
    R(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicies",
        "validatingadmissionpolicy",
        "ValidatingAdmissionPolicy",
        False,
        categories=("api-extensions",),
        subresources=(_status(),),
        has_generation=True,
    ),
    R(
        "admissionregistration.k8s.io",
        "v1",
        "validatingadmissionpolicybindings",
        "validatingadmissionpolicybinding",
        "ValidatingAdmissionPolicyBinding",
        False,
        categories=("api-extensions",),
        has_generation=True,
    ),
    R(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        False,
        categories=("api-extensions",),
        has_generation=True,
    ),
    # ---- scheduling.k8s.io/v1
    R("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", False, ("pc",)),
    # ---- coordination.k8s.io/v1
    R("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    # ---- node.k8s.io/v1
    R("node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", False),
    # ---- discovery.k8s.io/v1
    R(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        True,
        has_generation=True,
    ),
    # ---- flowcontrol.apiserver.k8s.io/v1 (apf.py classifies requests; no queuing)
    R(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "flowschemas",
        "flowschema",
        "FlowSchema",
        False,
        subresources=(_status(),),
        has_generation=True,
    ),
    R(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
        "prioritylevelconfiguration",
        "PriorityLevelConfiguration",
        False,
        subresources=(_status(),),
        has_generation=True,
    ),
)

# Group order as kube-apiserver lists them (the RESTMapper prefers earlier groups).
GROUP_ORDER: tuple[str, ...] = (
    "",
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
)

# Kinds that are not stored: POST answers them directly (reviews) or acts on another object.
VIRTUAL_KINDS = {
    "SelfSubjectReview",
    "TokenReview",
    "LocalSubjectAccessReview",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SubjectAccessReview",
    "Binding",
}


class Registry:
    """Lookup of resource types by (group, version, plural) and by kind."""

    def __init__(self, types: tuple[ResourceType, ...] = BUILTIN_RESOURCES) -> None:
        self._types: list[ResourceType] = []
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_gvk: dict[tuple[str, str, str], ResourceType] = {}
        for t in types:
            self.add(t)

    def add(self, t: ResourceType) -> None:
        self._types.append(t)
        self._by_gvr[(t.group, t.version, t.plural)] = t
        self._by_gvk.setdefault((t.group, t.version, t.kind), t)

    def remove(self, group: str, version: str, plural: str) -> None:
        t = self._by_gvr.pop((group, version, plural), None)
        if t is None:
            return
        self._types.remove(t)
        if self._by_gvk.get((t.group, t.version, t.kind)) is t:
            del self._by_gvk[(t.group, t.version, t.kind)]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        return self._by_gvk.get((group, version, kind))

    def all(self) -> list[ResourceType]:
        return list(self._types)

    def groups(self) -> dict[str, list[str]]:
        """group -> versions (preferred first), in kube-apiserver order."""
        out: dict[str, list[str]] = {}
        for t in self._types:
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types if t.group == group and t.version == version]
