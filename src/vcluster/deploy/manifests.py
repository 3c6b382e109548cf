"""Manifests that run `vcluster start` inside a real host cluster as StatefulSet NAME (pod NAME-0)."""

from __future__ import annotations

from typing import Any

import yaml

from vcluster import __version__
from vcluster.config import VClusterConfig, load_config

DEFAULT_IMAGE = f"vcluster:{__version__}"
API_PORT = 8443
DATA_DIR = "/data"
CONFIG_DIR = "/etc/vcluster"
DEFAULT_STORAGE = "5Gi"

# What the syncer reads and writes in its host namespace (pods and what they reference, services and
# their endpoints, and the kinds synced to the host by the OSS defaults and their options).
_NAMESPACED_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": [
            "pods",
            "pods/status",
            "pods/log",
            "pods/exec",
            "pods/attach",
            "pods/portforward",
            "pods/ephemeralcontainers",
            "services",
            "endpoints",
            "configmaps",
            "secrets",
            "serviceaccounts",
            "persistentvolumeclaims",
            "events",
        ],
        "verbs": ["create", "delete", "patch", "update", "get", "list", "watch"],
    },
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["create", "delete", "patch", "update", "get", "list", "watch"],
    },
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses", "networkpolicies"],
        "verbs": ["create", "delete", "patch", "update", "get", "list", "watch"],
    },
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["create", "delete", "update", "get", "list"],
    },
    {
        "apiGroups": ["policy"],
        "resources": ["poddisruptionbudgets"],
        "verbs": ["create", "delete", "patch", "update", "get", "list", "watch"],
    },
    {
        "apiGroups": ["apps"],
        "resources": ["statefulsets", "replicasets", "deployments"],
        "verbs": ["get", "list", "watch"],
    },
]
# Cluster-wide reads: nodes (synced into the virtual cluster) and the classes synced from the host.
_CLUSTER_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["nodes", "nodes/status"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": ["storage.k8s.io"],
        "resources": ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingressclasses"],
        "verbs": ["get", "list", "watch"],
    },
    {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list", "watch"]},
]


_WRITE = ["create", "delete", "patch", "update", "get", "list", "watch"]
_READ = ["get", "list", "watch"]
# Cluster-scoped kinds synced to the host, when switched on: (config kind, API group, resource).
_CLUSTER_WRITES = (
    ("priorityclasses", "scheduling.k8s.io", "priorityclasses"),
    ("storageclasses", "storage.k8s.io", "storageclasses"),
    ("persistentvolumes", "", "persistentvolumes"),
)


def cluster_rules(cfg: VClusterConfig) -> list[dict[str, Any]]:
    """The ClusterRole: the reads every virtual cluster needs, plus writes for the cluster-scoped
    kinds the configuration syncs to the host (`sync.toHost.priorityClasses` …), and the host's
    metrics.k8s.io for `integrations.metricsServer`."""
    rules = list(_CLUSTER_RULES)
    for kind, group, resource in _CLUSTER_WRITES:
        if cfg.sync_enabled(kind, "toHost"):
            rules.append({"apiGroups": [group], "resources": [resource], "verbs": _WRITE})
    if cfg.integrations.metrics_server.enabled:
        metrics = {"apiGroups": ["metrics.k8s.io"], "resources": ["nodes", "pods"], "verbs": ["get", "list"]}
        rules.append(metrics)
    return rules


def import_namespaces(cfg: VClusterConfig, namespace: str) -> dict[str, list[str]]:
    """Host namespaces other than the virtual cluster's own whose objects are read: the sources
    of `sync.fromHost.configMaps/secrets` mappings and of `networking.replicateServices.fromHost`."""
    out: dict[str, set[str]] = {}
    fh = cfg.sync.from_host
    for kind, switch in (("configmaps", fh.config_maps), ("secrets", fh.secrets)):
        if cfg.sync_enabled(kind, "fromHost"):
            for key in switch.mappings.by_name:
                ns = key.partition("/")[0] if "/" in key else ""
                if ns and ns != namespace:
                    out.setdefault(ns, set()).add(kind)
    for rep in cfg.networking.replicate_services.from_host:
        ns = rep.from_.partition("/")[0] if "/" in rep.from_ else ""
        if ns and ns != namespace:
            out.setdefault(ns, set()).update(("services", "endpoints"))
    return {ns: sorted(resources) for ns, resources in sorted(out.items())}


def _labels(name: str) -> dict[str, str]:
    return {"app": "vcluster", "release": name}


def _meta(name: str, namespace: str | None, release: str, **labels: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "labels": {**_labels(release), **labels}}
    if namespace is not None:
        m["namespace"] = namespace
    return m


def render(
    name: str,
    namespace: str,
    *,
    image: str = DEFAULT_IMAGE,
    values: str | None = None,
    storage: str = DEFAULT_STORAGE,
) -> list[dict[str, Any]]:
    """The objects to apply in `namespace` (which must exist) for virtual cluster `name`."""
    sa = f"vc-{name}"
    cluster_role = f"vc-{name}-v-{namespace}"
    selector = _labels(name)
    args = [
        "start",
        "--name",
        name,
        "--data-dir",
        DATA_DIR,
        "--host-namespace",
        namespace,
        "--config",
        f"{CONFIG_DIR}/config.yaml",
        "--bind",
        "0.0.0.0",
        "--port",
        str(API_PORT),
    ]
    probe = {"httpGet": {"path": "/readyz", "port": API_PORT, "scheme": "HTTPS"}, "periodSeconds": 5}
    cfg = load_config(values) if values is not None else load_config(None)
    readers: list[dict[str, Any]] = []
    for ns, resources in import_namespaces(cfg, namespace).items():
        role = f"vc-{name}-v-{namespace}"
        readers += [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": _meta(role, ns, name),
                "rules": [{"apiGroups": [""], "resources": resources, "verbs": _READ}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": _meta(role, ns, name),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
            },
        ]
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(sa, namespace, name)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(sa, namespace, name),
            "rules": _NAMESPACED_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(sa, namespace, name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(cluster_role, None, name),
            "rules": cluster_rules(cfg),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(cluster_role, None, name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(f"vc-config-{name}", namespace, name),
            "type": "Opaque",
            "stringData": {"config.yaml": values if values is not None else "{}\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, namespace, name, **{"vcluster.loft.sh/service": "true"}),
            "spec": {
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "https", "port": 443, "targetPort": API_PORT, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(f"{name}-headless", namespace, name),
            "spec": {
                "clusterIP": "None",
                "selector": selector,
                "ports": [{"name": "https", "port": 443, "targetPort": API_PORT, "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _meta(name, namespace, name),
            "spec": {
                "replicas": 1,
                "serviceName": f"{name}-headless",
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {
                        "serviceAccountName": sa,
                        "terminationGracePeriodSeconds": 10,
                        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                        "containers": [
                            {
                                "name": "syncer",
                                "image": image,
                                "args": args,
                                "ports": [{"name": "https", "containerPort": API_PORT, "protocol": "TCP"}],
                                "readinessProbe": probe,
                                "livenessProbe": {
                                    **probe,
                                    "httpGet": {**probe["httpGet"], "path": "/livez"},
                                    "failureThreshold": 10,
                                },
                                "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}},
                                "volumeMounts": [
                                    {"name": "data", "mountPath": DATA_DIR},
                                    {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                ],
                            }
                        ],
                        "volumes": [{"name": "config", "secret": {"secretName": f"vc-config-{name}"}}],
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": storage}},
                        },
                    }
                ],
            },
        },
    ]
    return [*objs, *readers]  # Roles in the other host namespaces read from


def to_yaml(docs: list[dict[str, Any]]) -> str:
    """A multi-document YAML stream."""
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
