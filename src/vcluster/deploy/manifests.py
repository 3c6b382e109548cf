"""Manifests that run `vcluster start` inside a real host cluster as StatefulSet NAME (pod NAME-0)."""

from __future__ import annotations

from typing import Any

import yaml

from vcluster import __version__

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
    return [
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
            "rules": _CLUSTER_RULES,
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


def to_yaml(docs: list[dict[str, Any]]) -> str:
    """A multi-document YAML stream."""
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
