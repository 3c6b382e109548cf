"""The virtual cluster's DNS (spec §8.1 step 5, §8.8, §11): CoreDNS manifests applied into the
virtual cluster at start, so synced pods, whose nameserver is the host ClusterIP of the virtual
`kube-system/kube-dns` Service (§3.5), have a DNS server that answers with virtual names; and the
`NodeHosts` lines of the `kube-system/coredns` ConfigMap (node address and hostname per virtual
node). Following vCluster's `pkg/coredns/template.go` for Kubernetes 1.32.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

NAMESPACE = "kube-system"
CONFIG_MAP = "coredns"
NODE_HOSTS_KEY = "NodeHosts"
SERVICE = "kube-dns"
LABEL = ("k8s-app", "vcluster-kube-dns")
IMAGE = "coredns/coredns:1.11.3"  # vCluster's CoreDNSVersionMap for Kubernetes 1.32
RUN_AS = 1001  # vCluster's default uid/gid when the syncer runs as root (context.DEFAULT_RUN_AS)


def corefile(
    cluster_domain: str = "cluster.local", *, rewrite_node_names: bool = True, fallback_dns: str = ""
) -> str:
    """The Corefile: the virtual cluster's names through the kubernetes plugin (pods, services),
    node hostnames from NodeHosts, everything else forwarded to the node's resolver.

    `fallback_dns` (`networking.advanced.fallbackHostCluster`): a cluster name the virtual cluster
    does not know falls through to the host cluster's DNS server at that address, which also
    answers every other name, as vCluster's chart template does."""
    domains = "cluster.local" if cluster_domain == "cluster.local" else f"{cluster_domain} cluster.local"
    fallthrough = f"{domains} in-addr.arpa ip6.arpa" if fallback_dns else "in-addr.arpa ip6.arpa"
    rewrite = (
        "    rewrite name regex .*\\.nodes\\.vcluster\\.com kubernetes.default.svc.cluster.local\n"
        if rewrite_node_names
        else ""
    )
    return (
        ".:1053 {\n"
        "    errors\n"
        "    health\n"
        "    ready\n"
        f"{rewrite}"
        f"    kubernetes {domains} in-addr.arpa ip6.arpa {{\n"
        "        pods insecure\n"
        f"        fallthrough {fallthrough}\n"
        "    }\n"
        "    hosts /etc/coredns/NodeHosts {\n"
        "        ttl 60\n"
        "        reload 15s\n"
        "        fallthrough\n"
        "    }\n"
        "    prometheus :9153\n"
        f"    forward . {fallback_dns or '/etc/resolv.conf'}\n"
        "    cache 30\n"
        "    loop\n"
        "    reload\n"
        "    loadbalance\n"
        "}\n"
        "\n"
        "import /etc/coredns/custom/*.server"
    )


def _dns_ports(with_metrics: bool = True) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = [
        {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
    ]
    if with_metrics:
        ports.append({"name": "metrics", "port": 9153, "protocol": "TCP"})
    return ports


def service() -> dict[str, Any]:
    """`kube-system/kube-dns`, selecting the CoreDNS pods."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": SERVICE,
            "namespace": NAMESPACE,
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            "labels": {
                LABEL[0]: LABEL[1],
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
        },
        "spec": {"selector": {LABEL[0]: LABEL[1]}, "ports": _dns_ports()},
    }


def manifests(
    image: str = IMAGE,
    *,
    cluster_domain: str = "cluster.local",
    rewrite_node_names: bool = True,
    pod_security: bool = False,
    fallback_dns: str = "",
    run_as_user: int = RUN_AS,
    run_as_group: int = RUN_AS,
) -> list[dict[str, Any]]:
    """ServiceAccount, RBAC, ConfigMap, Deployment and Service of CoreDNS, in the order applied.

    `run_as_user`/`run_as_group`: the syncer's own uid/gid (RUN_AS in place of root's), as
    vCluster fills its manifests' RUN_AS_USER/RUN_AS_GROUP."""
    rbac = "rbac.authorization.k8s.io/v1"
    pod_spec: dict[str, Any] = {
        "priorityClassName": "",
        "serviceAccountName": "coredns",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "containers": [
            {
                "name": "coredns",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": ["-conf", "/etc/coredns/Corefile"],
                "volumeMounts": [
                    {"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True},
                    {"name": "custom-config-volume", "mountPath": "/etc/coredns/custom", "readOnly": True},
                ],
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": run_as_user,
                    "runAsGroup": run_as_group,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                    "readOnlyRootFilesystem": True,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                    "initialDelaySeconds": 60,
                    "periodSeconds": 10,
                    "timeoutSeconds": 1,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
                "readinessProbe": {
                    "httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"},
                    "initialDelaySeconds": 0,
                    "periodSeconds": 2,
                    "timeoutSeconds": 1,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
            }
        ],
        "dnsPolicy": "Default",
        "volumes": [
            {
                "name": "config-volume",
                "configMap": {
                    "name": CONFIG_MAP,
                    "items": [
                        {"key": "Corefile", "path": "Corefile"},
                        {"key": NODE_HOSTS_KEY, "path": NODE_HOSTS_KEY},
                    ],
                },
            },
            {"name": "custom-config-volume", "configMap": {"name": "coredns-custom", "optional": True}},
        ],
    }
    if pod_security:
        pod_spec["securityContext"] = {"seccompProfile": {"type": "RuntimeDefault"}}
    labels = {LABEL[0]: LABEL[1]}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": NAMESPACE},
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {
                "name": "system:coredns",
                "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            },
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {
                "name": "system:coredns",
                "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
                "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            },
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:coredns",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": NAMESPACE}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CONFIG_MAP, "namespace": NAMESPACE},
            "data": {
                "Corefile": corefile(
                    cluster_domain, rewrite_node_names=rewrite_node_names, fallback_dns=fallback_dns
                ),
                NODE_HOSTS_KEY: "",
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "coredns",
                "namespace": NAMESPACE,
                "labels": {**labels, "kubernetes.io/name": "CoreDNS"},
            },
            "spec": {
                "replicas": 1,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": dict(labels)}, "spec": pod_spec},
            },
        },
        service(),
    ]


def nameservers(resolv_conf: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf text, in order."""
    out = []
    for line in resolv_conf.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            out.append(fields[1])
    return out


def node_hosts(nodes: Iterable[Mapping[str, Any]]) -> str:
    """`<InternalIP> <hostname>` per node (the Hostname address, else the node name), sorted, as
    vCluster's NodeHosts controller writes them."""
    lines = []
    for node in nodes:
        address, hostname = "", (node.get("metadata") or {}).get("name", "")
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                address = a.get("address", "")
            elif a.get("type") == "Hostname":
                hostname = a.get("address", "")
        lines.append(f"{address} {hostname}")
    return "\n".join(sorted(lines))


def is_old_dns_service(svc: Mapping[str, Any]) -> bool:
    """The kube-dns Service earlier versions created (selector `k8s-app: kube-dns`, no CoreDNS
    behind it), which start-up moves to the CoreDNS pods."""
    return (svc.get("spec") or {}).get("selector") == {"k8s-app": "kube-dns"}
