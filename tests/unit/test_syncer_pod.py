"""Pod translation against the syncer spec §3 (worked example §3.13) and the update/status paths."""

from __future__ import annotations

import copy
import json

import pytest

from vcluster.syncer import constants as c
from vcluster.syncer.context import SyncContext
from vcluster.syncer.mappings import Reference
from vcluster.syncer.podspec import TolerationError, parse_toleration
from vcluster.syncer.podvolumes import TranslationError, token_requests
from vcluster.syncer.resources import pod as podres

CTX = SyncContext(
    vcluster="my-vc",
    host_namespace="vcluster-my-vc",
    kube_ip="10.96.0.10",
    dns_ip="10.96.0.53",
    owner_uid="svc-uid",
)
NS_LABELS = {"kubernetes.io/metadata.name": "default"}


def virtual_pod(**spec_extra: object) -> dict:
    """Pod `default/nginx` as the virtual API server stores it (defaults and kube-api-access applied)."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "nginx",
            "namespace": "default",
            "uid": "vuid",
            "resourceVersion": "17",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"app": "web"},
            "managedFields": [{"manager": "kubectl"}],
        },
        "spec": {
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "enableServiceLinks": True,
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "priority": 0,
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx",
                    "env": [
                        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}}
                    ],
                    "volumeMounts": [
                        {
                            "name": "kube-api-access-x1",
                            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                            "readOnly": True,
                        }
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "kube-api-access-x1",
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {
                                                "apiVersion": "v1",
                                                "fieldPath": "metadata.namespace",
                                            },
                                        }
                                    ]
                                }
                            },
                        ],
                    },
                }
            ],
            **spec_extra,
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }
    return pod


def translate(vpod: dict, ctx: SyncContext = CTX, **kw: object) -> podres.Translation:
    tokens = {r.key: f"jwt-{r.key}" for r in token_requests(vpod, ctx)}
    kw.setdefault("namespace_labels", NS_LABELS)
    return podres.translate_pod(vpod, ctx, tokens=tokens, token_suffix=lambda seed: "abcdefgh", **kw)


def test_worked_example_3_13() -> None:
    vpod = virtual_pod()
    before = copy.deepcopy(vpod)
    out = translate(vpod)
    assert vpod == before, "translation must not mutate its input"
    host = out.obj
    m = host["metadata"]
    assert m["name"] == "nginx-x-default-x-my-vc"
    assert m["namespace"] == "vcluster-my-vc"
    assert m["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "my-vc", "uid": "svc-uid", "controller": False}
    ]
    for gone in ("uid", "resourceVersion", "creationTimestamp", "managedFields"):
        assert gone not in m
    assert m["labels"] == {
        "app": "web",
        "vcluster.loft.sh/managed-by": "my-vc",
        "vcluster.loft.sh/namespace": "default",
        "vcluster.loft.sh/ns-label-my-vc-x-cf1227b7b2": "default",
    }
    assert m["annotations"] == {
        "vcluster.loft.sh/object-name": "nginx",
        "vcluster.loft.sh/object-namespace": "default",
        "vcluster.loft.sh/object-uid": "vuid",
        "vcluster.loft.sh/object-kind": "/v1, Kind=Pod",
        "vcluster.loft.sh/object-host-name": "nginx-x-default-x-my-vc",
        "vcluster.loft.sh/object-host-namespace": "vcluster-my-vc",
        "vcluster.loft.sh/name": "nginx",
        "vcluster.loft.sh/namespace": "default",
        "vcluster.loft.sh/uid": "vuid",
        "vcluster.loft.sh/service-account-name": "default",
        "vcluster.loft.sh/labels": 'app="web"',
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
        "vcluster.loft.sh/token-abcdefgh": "jwt-kube-api-access-x1/0",
    }
    spec = host["spec"]
    assert spec["serviceAccountName"] == "vc-workload-my-vc"
    assert "serviceAccount" not in spec
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["hostname"] == "nginx"
    assert "priority" not in spec and "priorityClassName" not in spec
    env = spec["containers"][0]["env"]
    assert env[-1] == {
        "name": "PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "creds-x-default-x-my-vc", "key": "pw"}},
    }
    assert [e["name"] for e in env[:-1]] == sorted(e["name"] for e in env[:-1])
    assert {"name": "KUBERNETES_SERVICE_HOST", "value": "10.96.0.10"} in env
    assert {"name": "KUBERNETES_PORT_443_TCP", "value": "tcp://10.96.0.10:443"} in env
    sources = spec["volumes"][0]["projected"]["sources"]
    assert sources[0] == {
        "downwardAPI": {
            "items": [
                {
                    "path": "token",
                    "fieldRef": {
                        "apiVersion": "v1",
                        "fieldPath": "metadata.annotations['vcluster.loft.sh/token-abcdefgh']",
                    },
                    "mode": 0o644,
                }
            ]
        }
    }
    assert sources[1]["configMap"]["name"] == "vcluster-kube-root-ca.crt-x-my-vc"
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['vcluster.loft.sh/namespace']"
    )
    assert spec["hostAliases"] == [
        {
            "ip": "10.96.0.10",
            "hostnames": [
                "kubernetes.default.svc.cluster.local",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
            ],
        }
    ]
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"] == {
        "nameservers": ["10.96.0.53"],
        "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
        "options": [{"name": "ndots", "value": "5"}],
    }
    assert "status" not in host
    assert out.refs == [
        Reference("Secret", "default", "creds", "vcluster-my-vc", "creds-x-default-x-my-vc"),
        Reference(
            "ConfigMap", "default", "kube-root-ca.crt", "vcluster-my-vc", "vcluster-kube-root-ca.crt-x-my-vc"
        ),
    ]


def test_service_links_only_when_enabled_and_sorted_first() -> None:
    services = [
        {
            "metadata": {"name": "my-db"},
            "spec": {"clusterIP": "10.0.0.5", "ports": [{"name": "pg", "port": 5432}]},
        },
        {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}},
    ]
    vpod = virtual_pod()
    vpod["spec"]["containers"][0]["env"].insert(0, {"name": "MY_DB_SERVICE_HOST", "value": "mine"})
    env = {
        e["name"]: e.get("value")
        for e in translate(vpod, services=services).obj["spec"]["containers"][0]["env"]
    }
    assert env["MY_DB_SERVICE_HOST"] == "mine"  # the container's own definition wins
    assert env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_PG"] == "5432"
    assert env["MY_DB_PORT"] == "tcp://10.0.0.5:5432"
    assert env["MY_DB_PORT_5432_TCP_ADDR"] == "10.0.0.5"
    assert not any(k.startswith("HEADLESS") for k in env)
    vpod["spec"]["enableServiceLinks"] = False
    env = {e["name"] for e in translate(vpod, services=services).obj["spec"]["containers"][0]["env"]}
    assert {k for k in env if k.startswith("MY_DB")} == {"MY_DB_SERVICE_HOST"}  # only the container's own
    assert "KUBERNETES_SERVICE_PORT_HTTPS" in env  # always present


def test_references_of_every_volume_kind_and_env_source() -> None:
    vpod = virtual_pod(
        imagePullSecrets=[{"name": "regcred"}],
        initContainers=[
            {"name": "init", "image": "busybox", "envFrom": [{"configMapRef": {"name": "settings"}}]}
        ],
    )
    vpod["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": "bulk"}}]
    vpod["spec"]["containers"][0]["env"].append(
        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x"}}}
    )
    vpod["spec"]["volumes"] += [
        {"name": "cm", "configMap": {"name": "cfg"}},
        {"name": "sec", "secret": {"secretName": "tls"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
        {"name": "csi", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "csi-creds"}}},
        {"name": "az", "azureFile": {"secretName": "az", "shareName": "s"}},
        {"name": "gl", "glusterfs": {"endpoints": "gluster", "path": "p"}},
        {"name": "rbd", "rbd": {"monitors": ["m"], "image": "i", "secretRef": {"name": "ceph"}}},
        {
            "name": "dw",
            "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]},
        },
    ]
    out = translate(vpod)
    spec = out.obj["spec"]
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["cm"]["configMap"]["name"] == "cfg-x-default-x-my-vc"
    assert vols["sec"]["secret"]["secretName"] == "tls-x-default-x-my-vc"
    assert vols["data"]["persistentVolumeClaim"]["claimName"] == "data-x-default-x-my-vc"
    assert vols["scratch"] == {
        "name": "scratch",
        "persistentVolumeClaim": {"claimName": "nginx-scratch-x-default-x-my-vc"},
    }
    assert vols["csi"]["csi"]["nodePublishSecretRef"]["name"] == "csi-creds-x-default-x-my-vc"
    assert vols["az"]["azureFile"]["secretName"] == "az-x-default-x-my-vc"
    assert vols["gl"]["glusterfs"]["endpoints"] == "gluster-x-default-x-my-vc"
    assert vols["rbd"]["rbd"]["secretRef"]["name"] == "ceph-x-default-x-my-vc"
    assert vols["dw"]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['vcluster.loft.sh/labels']"
    )
    assert spec["imagePullSecrets"] == [{"name": "regcred-x-default-x-my-vc"}]
    assert spec["initContainers"][0]["envFrom"] == [{"configMapRef": {"name": "settings-x-default-x-my-vc"}}]
    assert spec["containers"][0]["envFrom"] == [{"secretRef": {"name": "bulk-x-default-x-my-vc"}}]
    got = {(r.kind, r.name) for r in out.refs}
    assert got == {
        ("Secret", "creds"),
        ("Secret", "bulk"),
        ("Secret", "regcred"),
        ("Secret", "tls"),
        ("Secret", "csi-creds"),
        ("Secret", "az"),
        ("Secret", "ceph"),
        ("ConfigMap", "cfg"),
        ("ConfigMap", "settings"),
        ("ConfigMap", "kube-root-ca.crt"),
        ("PersistentVolumeClaim", "data"),
        ("PersistentVolumeClaim", "nginx-scratch"),
        ("Endpoints", "gluster"),
    }
    assert len(out.refs) == len(got), "each reference recorded once"
    assert {(r.kind, r.name) for r in podres.references(vpod, CTX)} == got


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("metadata.name", "metadata.annotations['vcluster.loft.sh/name']"),
        ("metadata.namespace", "metadata.annotations['vcluster.loft.sh/namespace']"),
        ("metadata.uid", "metadata.annotations['vcluster.loft.sh/uid']"),
        ("spec.serviceAccountName", "metadata.annotations['vcluster.loft.sh/service-account-name']"),
        ("metadata.labels", "metadata.annotations['vcluster.loft.sh/labels']"),
        ("metadata.labels['app']", "metadata.labels['app']"),
        ("metadata.labels['release']", "metadata.labels['vcluster.loft.sh/label-my-vc-x-a4d451ec23']"),
        ("status.podIP", "status.podIP"),
        ("spec.nodeName", "spec.nodeName"),
    ],
)
def test_downward_api_env_field_refs(path: str, want: str) -> None:
    vpod = virtual_pod()
    vpod["spec"]["containers"][0]["env"] = [{"name": "F", "valueFrom": {"fieldRef": {"fieldPath": path}}}]
    env = translate(vpod).obj["spec"]["containers"][0]["env"]
    assert env[-1]["valueFrom"]["fieldRef"]["fieldPath"] == want


def test_release_label_hashed_and_labels_annotation_is_go_json() -> None:
    vpod = virtual_pod()
    vpod["metadata"]["labels"] = {"release": "v1", "app": 'a"b<c>'}
    m = translate(vpod).obj["metadata"]
    assert m["labels"]["vcluster.loft.sh/label-my-vc-x-a4d451ec23"] == "v1"
    assert "release" not in m["labels"]
    assert m["annotations"][c.POD_LABELS_ANNOTATION] == 'app="a\\"b\\u003cc\\u003e"\nrelease="v1"'


def test_owner_annotations_for_controlled_pods() -> None:
    vpod = virtual_pod()
    vpod["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-7d",
            "uid": "rs-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    m = translate(vpod).obj["metadata"]
    assert m["annotations"][c.SAFE_TO_EVICT_ANNOTATION] == "true"
    assert m["annotations"][c.OWNER_SET_KIND_ANNOTATION] == "ReplicaSet"
    assert m["annotations"][c.OWNER_REFERENCES_ANNOTATION] == (
        '[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d","uid":"rs-uid","controller":true,"blockOwnerDeletion":true}]'
    )
    assert m["ownerReferences"][0]["controller"] is True  # host owner is the vCluster service, flag mirrors
    vpod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "u", "controller": True}
    ]
    ann = translate(vpod).obj["metadata"]["annotations"]
    assert ann[c.DAEMONSET_POD_ANNOTATION] == "true"
    vpod["metadata"]["ownerReferences"] = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u", "controller": True}
    ]
    ann = translate(vpod).obj["metadata"]["annotations"]
    assert c.OWNER_SET_KIND_ANNOTATION not in ann  # Job is batch/v1: never matches (spec open question 7)


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("nginx", "nginx"),
        ("a.b.c", "a-b-c"),
        ("x" * 70, "x" * 63),
        ("y" * 62 + ".z", "y" * 62),  # cut to 63 gives a trailing '.' → '-' → trimmed
        ("a" * 61 + "--b", "a" * 61),  # every trailing dash goes (one left would be invalid)
        ("a" * 60 + ".-.b", "a" * 60),
    ],
)
def test_hostname(name: str, want: str) -> None:
    vpod = virtual_pod()
    vpod["metadata"]["name"] = name
    assert translate(vpod).obj["spec"]["hostname"] == want
    vpod["spec"]["hostname"] = "keep"
    assert translate(vpod).obj["spec"]["hostname"] == "keep"


def test_subdomain_rewrites_etc_hosts() -> None:
    vpod = virtual_pod(subdomain="db", initContainers=[{"name": "init", "image": "busybox"}])
    vpod["spec"]["hostname"] = "web-0"
    spec = translate(vpod).obj["spec"]
    ann = translate(vpod).obj["metadata"]["annotations"]
    assert "subdomain" not in spec
    assert ann[c.HOSTS_REWRITTEN_ANNOTATION] == "true"
    init = spec["initContainers"][0]
    assert init["name"] == "vcluster-rewrite-hosts"
    assert init["image"] == "mirror.gcr.io/library/alpine:3.20"
    assert init["command"] == ["sh"]
    assert init["args"] == [
        "-c",
        "sed -E -e 's/^(\\d+.\\d+.\\d+.\\d+\\s+)web-0$/\\1 web-0.db.default.svc.cluster.local web-0/' "
        "/etc/hosts > /hosts/hosts",
    ]
    assert init["securityContext"]["runAsUser"] == 1001
    assert init["securityContext"]["runAsNonRoot"] is True
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert init["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert init["resources"] == {
        "limits": {"cpu": "30m", "memory": "64Mi"},
        "requests": {"cpu": "30m", "memory": "64Mi"},
    }
    assert init["volumeMounts"] == [{"name": "vcluster-rewrite-hosts", "mountPath": "/hosts"}]
    mount = {"name": "vcluster-rewrite-hosts", "mountPath": "/etc/hosts", "subPath": "hosts"}
    assert mount in spec["containers"][0]["volumeMounts"]
    assert mount in spec["initContainers"][1]["volumeMounts"]
    assert {"name": "vcluster-rewrite-hosts", "emptyDir": {}} in spec["volumes"]
    off = translate(vpod, CTX.replace(rewrite_hosts=False)).obj
    assert "subdomain" not in off["spec"] and len(off["spec"]["initContainers"]) == 1
    assert c.HOSTS_REWRITTEN_ANNOTATION not in off["metadata"]["annotations"]


@pytest.mark.parametrize(
    ("policy", "host_network", "dns_config", "want_policy", "want_config"),
    [
        ("Default", False, None, "Default", None),
        ("None", False, {"nameservers": ["1.1.1.1"]}, "None", {"nameservers": ["1.1.1.1"]}),
        ("ClusterFirst", True, None, "ClusterFirst", None),
        (
            "ClusterFirstWithHostNet",
            True,
            {
                "nameservers": ["1.1.1.1", "10.96.0.53"],
                "searches": ["corp", "svc.cluster.local"],
                "options": [{"name": "edns0"}],
            },
            "None",
            {
                "nameservers": ["10.96.0.53", "1.1.1.1"],
                "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp"],
                "options": [{"name": "ndots", "value": "5"}],
            },
        ),
    ],
)
def test_dns(
    policy: str, host_network: bool, dns_config: dict | None, want_policy: str, want_config: dict | None
) -> None:
    extra: dict = {"dnsPolicy": policy, "hostNetwork": host_network}
    if dns_config is not None:
        extra["dnsConfig"] = dns_config
    spec = translate(virtual_pod(**extra)).obj["spec"]
    assert spec["dnsPolicy"] == want_policy
    assert spec.get("dnsConfig") == want_config


def test_priority_classes() -> None:
    vpod = virtual_pod(priorityClassName="high", priority=2_000_000_000)
    spec = translate(vpod).obj["spec"]
    assert "priorityClassName" not in spec and "priority" not in spec
    out = translate(vpod, CTX.replace(sync_priority_classes=True))
    assert out.obj["spec"]["priorityClassName"] == "vcluster-high-x-vcluster-my-vc-x-my-vc"
    assert out.obj["spec"]["priority"] == 1_000_000_000
    assert (
        Reference(
            "PriorityClass", "", "high", "", "vcluster-high-x-vcluster-my-vc-x-my-vc", "scheduling.k8s.io"
        )
        in out.refs
    )
    spec = translate(vpod, CTX.replace(from_host_priority_classes=True)).obj["spec"]
    assert spec["priorityClassName"] == "high" and spec["priority"] == 2_000_000_000
    spec = translate(virtual_pod(priority=5), CTX.replace(pod_priority_class_name="tenant")).obj["spec"]
    assert spec["priorityClassName"] == "tenant" and "priority" not in spec


def test_service_account_sync_and_images_and_runtime_class() -> None:
    ctx = CTX.replace(
        sync_service_accounts=True,
        translate_image={"nginx": "registry.local/nginx"},
        pod_runtime_class_name="gvisor",
        enforce_tolerations=("dedicated=tenant:NoSchedule", "*"),
    )
    vpod = virtual_pod(serviceAccountName="builder", tolerations=[{"operator": "Exists"}])
    spec = translate(vpod, ctx).obj["spec"]
    assert spec["serviceAccountName"] == "builder-x-default-x-my-vc"
    assert spec["containers"][0]["image"] == "registry.local/nginx"
    assert spec["runtimeClassName"] == "gvisor"
    assert spec["tolerations"] == [
        {"operator": "Exists"},
        {"key": "dedicated", "operator": "Equal", "value": "tenant", "effect": "NoSchedule"},
    ]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("*", {"operator": "Exists"}),
        ("key", {"key": "key"}),
        ("key=value", {"key": "key", "value": "value"}),
        ("key:NoSchedule", {"key": "key", "operator": "Exists", "effect": "NoSchedule"}),
        ("key=value:NoExecute", {"key": "key", "operator": "Equal", "value": "value", "effect": "NoExecute"}),
    ],
)
def test_parse_toleration(text: str, want: dict) -> None:
    assert parse_toleration(text) == want


@pytest.mark.parametrize("bad", ["a:b:c", "a=b=c", "a=b=c:NoSchedule"])
def test_parse_toleration_rejects(bad: str) -> None:
    with pytest.raises(TolerationError, match="invalid toleration spec"):
        parse_toleration(bad)


def test_pod_affinity_terms_confined_to_this_vcluster() -> None:
    term = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Exists"}]}]
            }
        },
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                term,
                {**term, "namespaces": ["a", "b"]},
                {**term, "namespaceSelector": {"matchLabels": {"team": "x"}}},
                {**term, "namespaces": ["a"], "namespaceSelector": {"matchLabels": {"team": "x"}}},
                {**term, "namespaces": ["a"], "namespaceSelector": {}},
            ]
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5, "podAffinityTerm": term}]
        },
    }
    out = translate(virtual_pod(affinity=affinity))
    aff = out.obj["spec"]["affinity"]
    assert aff["nodeAffinity"] == affinity["nodeAffinity"]
    req = aff["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    marker = {c.MARKER_LABEL: "my-vc"}
    assert req[0]["labelSelector"] == {"matchLabels": {"app": "db", c.NAMESPACE_LABEL: "default", **marker}}
    assert req[0]["topologyKey"] == "zone"
    assert req[1]["labelSelector"] == {
        "matchLabels": {"app": "db", **marker},
        "matchExpressions": [{"key": c.NAMESPACE_LABEL, "operator": "In", "values": ["a", "b"]}],
    }
    assert "namespaces" not in req[1]
    assert req[2]["labelSelector"] == {
        "matchLabels": {"app": "db", "vcluster.loft.sh/ns-label-my-vc-x-" + _hex10("team"): "x", **marker}
    }
    assert req[3]["labelSelector"]["matchExpressions"] == [
        {"key": c.NAMESPACE_LABEL, "operator": "In", "values": ["a"]}
    ]
    assert req[4]["labelSelector"] == {"matchLabels": {"app": "db", **marker}}  # {} selects every namespace
    assert [e.reason for e in out.events] == ["SyncWarning"]
    pref = aff["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert pref["weight"] == 5 and pref["podAffinityTerm"] == req[0]


def _hex10(key: str) -> str:
    import hashlib

    return hashlib.sha256(key.encode()).hexdigest()[:10]


def test_topology_spread_and_node_selector_and_virtual_scheduler() -> None:
    tsc = [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    ctx = CTX.replace(node_selector_labels={"pool": "tenants"})
    spec = translate(virtual_pod(topologySpreadConstraints=tsc, nodeSelector={"disk": "ssd"}), ctx).obj[
        "spec"
    ]
    assert spec["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"app": "web", c.NAMESPACE_LABEL: "default", c.MARKER_LABEL: "my-vc"}
    }
    assert spec["nodeSelector"] == {"disk": "ssd", "pool": "tenants"}
    spec = translate(virtual_pod(nodeName="n1", nodeSelector={"disk": "ssd"}), ctx).obj["spec"]
    assert spec["nodeSelector"] == {"disk": "ssd"} and spec["nodeName"] == "n1"
    sched = CTX.replace(virtual_scheduler=True)
    spec = translate(
        virtual_pod(topologySpreadConstraints=tsc, nodeSelector={"a": "b"}, affinity={"nodeAffinity": {}}),
        sched,
    ).obj["spec"]
    assert not {"topologySpreadConstraints", "nodeSelector", "affinity"} & spec.keys()


def test_host_path_rewriting() -> None:
    vpod = virtual_pod()
    vpod["spec"]["volumes"] += [
        {"name": "logs", "hostPath": {"path": "/var/log/pods/"}},
        {"name": "varlog", "hostPath": {"path": "/var/log"}},
        {"name": "kubelet", "hostPath": {"path": "/var/lib/kubelet/pods"}},
        {"name": "other-pod", "hostPath": {"path": "/var/lib/kubelet/pods/vuid-2/volumes"}},
        {"name": "etc", "hostPath": {"path": "/etc"}},
    ]
    vpod["spec"]["containers"][0]["volumeMounts"] += [
        {"name": "logs", "mountPath": "/var/log/pods"},
        {"name": "etc", "mountPath": "/etc/x"},
    ]
    spec = translate(vpod, host_uid_for={"vuid-2": "huid-2"}.get).obj["spec"]
    paths = {v["name"]: v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v}
    assert paths == {
        "logs": "/tmp/vcluster/vcluster-my-vc/my-vc/log/pods",
        "varlog": "/tmp/vcluster/vcluster-my-vc/my-vc/log",
        "kubelet": "/tmp/vcluster/vcluster-my-vc/my-vc/kubelet/pods",
        "other-pod": "/var/lib/kubelet/pods/huid-2/volumes",
        "etc": "/etc",
    }
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["logs"]["mountPropagation"] == "HostToContainer"
    assert "mountPropagation" not in mounts["etc"]
    mapped = translate(vpod, CTX.replace(host_path_mapper=True)).obj["spec"]
    extra = {
        v["name"]: v["hostPath"]["path"] for v in mapped["volumes"] if v["name"].endswith("vcluster-physical")
    }
    assert extra == {
        "logs-vcluster-physical": "/var/log/pods",
        "varlog-vcluster-physical": "/var/log",
        "kubelet-vcluster-physical": "/var/lib/kubelet/pods",
    }
    assert {
        "name": "logs-vcluster-physical",
        "mountPath": "/var/vcluster/physical/log/pods",
    } in mapped["containers"][0]["volumeMounts"]


def test_tokens_in_secret_mode() -> None:
    ctx = CTX.replace(use_secrets_for_sa_tokens=True)
    out = translate(virtual_pod(), ctx)
    src = out.obj["spec"]["volumes"][0]["projected"]["sources"][0]
    assert src == {
        "secret": {
            "name": "nginx-sa-token-x-default-x-my-vc",
            "items": [{"key": "kube-api-access-x1", "path": "token", "mode": 0o644}],
        }
    }
    assert not any(k.startswith(c.TOKEN_ANNOTATION_PREFIX) for k in out.obj["metadata"]["annotations"])
    (secret,) = out.extra
    assert secret["metadata"] == {
        "name": "nginx-sa-token-x-default-x-my-vc",
        "namespace": "vcluster-my-vc",
        "annotations": {"vcluster.loft.sh/skip-backsync": "true"},
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Service", "name": "my-vc", "uid": "svc-uid", "controller": False}
        ],
    }
    assert secret["type"] == "Opaque"
    assert secret["data"] == {
        "kube-api-access-x1": "and0LWt1YmUtYXBpLWFjY2Vzcy14MS8w"
    }  # base64("jwt-kube-api-access-x1/0")


def test_token_requests_and_missing_token() -> None:
    vpod = virtual_pod(serviceAccountName="builder")
    vpod["spec"]["volumes"][0]["projected"]["sources"].append(
        {"serviceAccountToken": {"audience": "vault", "path": "vault-token"}}
    )
    reqs = token_requests(vpod, CTX)
    assert [(r.key, r.service_account, r.audiences) for r in reqs] == [
        (
            "kube-api-access-x1/0",
            "builder",
            (
                "https://kubernetes.default.svc.cluster.local",
                "https://kubernetes.default.svc",
                "https://kubernetes.default",
            ),
        ),
        ("kube-api-access-x1/3", "builder", ("vault",)),
    ]
    body = reqs[0].body()
    assert body["spec"]["expirationSeconds"] == 315_360_000
    assert body["spec"]["boundObjectRef"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "nginx",
        "uid": "vuid",
    }
    with pytest.raises(TranslationError, match="missing service account token"):
        podres.translate_pod(vpod, CTX, tokens={})
    # default suffixes are deterministic, lowercase and distinct per source
    out = podres.translate_pod(vpod, CTX, tokens={r.key: "t" for r in reqs})
    keys = [k for k in out.obj["metadata"]["annotations"] if k.startswith(c.TOKEN_ANNOTATION_PREFIX)]
    assert len(keys) == 2 and all(
        len(k) == len(c.TOKEN_ANNOTATION_PREFIX) + 8 and k[-8:].isalpha() for k in keys
    )
    again = podres.translate_pod(vpod, CTX, tokens={r.key: "t" for r in reqs})
    assert again.obj == out.obj


def test_pod_level_resources_dropped_on_old_hosts_and_resource_claims() -> None:
    vpod = virtual_pod(
        resources={"limits": {"cpu": "1"}}, resourceClaims=[{"name": "gpu", "resourceClaimName": "gpu-claim"}]
    )
    spec = translate(vpod).obj["spec"]
    assert "resources" not in spec and spec["resourceClaims"][0]["resourceClaimName"] == "gpu-claim"
    spec = translate(vpod, CTX.replace(host_minor=34, sync_resource_claims=True)).obj["spec"]
    assert spec["resources"] == {"limits": {"cpu": "1"}}
    assert (
        spec["resourceClaims"][0]["resourceClaimName"].startswith("v")
        and len(spec["resourceClaims"][0]["resourceClaimName"]) == 14
    )


# ---------------------------------------------------------------- preconditions (§3.1)


def test_preconditions_in_order() -> None:
    assert podres.create_precondition(virtual_pod(), CTX) is None
    started = virtual_pod()
    started["status"]["startTime"] = "2025-01-01T00:00:01Z"
    b = podres.create_precondition(started, CTX)
    assert b is not None and b.delete is not None
    assert (b.delete.side, b.delete.grace_seconds, b.delete.uid) == ("virtual", 0, "vuid")
    assert b.delete.reason == "pod is being deleted & there is no physical pod"
    b = podres.create_precondition(virtual_pod(), CTX, host_seen_before=True)
    assert b is not None and b.delete is not None
    b = podres.create_precondition(virtual_pod(), CTX.replace(dns_ip=""))
    assert b is not None and b.retry and b.message == "waiting for DNS service IP"
    b = podres.create_precondition(virtual_pod(), CTX.replace(kube_ip=""))
    assert b is not None and b.retry and b.message == "waiting for the vCluster service IP"
    priv = virtual_pod(hostNetwork=True)
    b = podres.create_precondition(priv, CTX.replace(pod_security_standard="baseline"))
    assert b is not None and b.event is not None
    assert b.event.type == "Warning" and b.event.reason == "SyncError"
    assert b.event.message == (
        'Pod nginx is forbidden: pods "nginx" is forbidden: violates PodSecurity "baseline:latest": '
        "host namespaces (hostNetwork=true)"
    )
    sel = CTX.replace(node_selector_labels={"pool": "a"})
    b = podres.create_precondition(virtual_pod(nodeName="n1"), sel, virtual_node_exists=lambda n: False)
    assert b is not None and b.requeue_after == 15.0
    assert (
        podres.create_precondition(virtual_pod(nodeName="n1"), sel, virtual_node_exists=lambda n: True)
        is None
    )
    b = podres.create_precondition(virtual_pod(), CTX.replace(virtual_scheduler=True))
    assert b is not None and not b.retry and b.delete is None


def test_priority_class_selector_precondition() -> None:
    ctx = CTX.replace(
        from_host_priority_classes=True, from_host_priority_class_selector={"matchLabels": {"tenant": "yes"}}
    )
    classes = {
        "ok": {"metadata": {"name": "ok", "labels": {"tenant": "yes"}}},
        "no": {"metadata": {"name": "no"}},
    }
    assert (
        podres.create_precondition(virtual_pod(priorityClassName="ok"), ctx, host_priority_class=classes.get)
        is None
    )
    assert podres.create_precondition(virtual_pod(priorityClassName="system-node-critical"), ctx) is None
    for name in ("no", "missing"):
        b = podres.create_precondition(
            virtual_pod(priorityClassName=name), ctx, host_priority_class=classes.get
        )
        assert b is not None and b.event is not None and b.event.reason == "SyncWarning"
        assert f'priority class "{name}"' in b.event.message


# ---------------------------------------------------------------- update path (§3.9-§3.12)


def synced_pair(**spec_extra: object) -> tuple[dict, dict]:
    vpod = virtual_pod(**spec_extra)
    host = translate(vpod).obj
    host["metadata"]["uid"] = "huid"
    host["metadata"]["resourceVersion"] = "3"
    return vpod, host


def test_sync_of_an_unchanged_pair_writes_nothing() -> None:
    vpod, host = synced_pair()
    vpod["status"] = {}
    res = podres.sync_pod(vpod, host, vpod, host, CTX, namespace_labels=NS_LABELS)
    assert not res.changed, (
        res.virtual_patch,
        res.host_patch,
        res.virtual_status_patch,
        res.host_status_patch,
    )


def test_sync_pushes_mutable_spec_fields_only() -> None:
    vpod, host = synced_pair(initContainers=[{"name": "init", "image": "busybox"}], subdomain="s")
    old = copy.deepcopy(vpod)
    vpod["spec"]["containers"][0]["image"] = "nginx:2"
    vpod["spec"]["initContainers"][0]["image"] = "busybox:2"
    vpod["spec"]["activeDeadlineSeconds"] = 60
    vpod["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    vpod["spec"]["schedulingGates"] = []
    vpod["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]  # immutable: not propagated
    host["spec"]["tolerations"] = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    ]
    before_v, before_h = copy.deepcopy(vpod), copy.deepcopy(host)
    res = podres.sync_pod(vpod, host, old, host, CTX.replace(enforce_tolerations=("x:NoSchedule",)))
    assert (vpod, host) == (before_v, before_h)
    spec = res.host_patch["spec"]
    assert spec["activeDeadlineSeconds"] == 60
    assert [x["image"] for x in spec["containers"]] == ["nginx:2"]
    assert [x["image"] for x in spec["initContainers"]] == ["mirror.gcr.io/library/alpine:3.20", "busybox:2"]
    assert spec["tolerations"] == [
        {"key": "k", "operator": "Exists"},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "x", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert "ports" not in spec["containers"][0]
    assert res.virtual_patch is None


def test_labels_flow_both_ways_virtual_wins_conflicts() -> None:
    vpod, host = synced_pair()
    v_old, h_old = copy.deepcopy(vpod), copy.deepcopy(host)
    host["metadata"]["labels"]["from-host"] = "1"
    res = podres.sync_pod(vpod, host, v_old, h_old, CTX, namespace_labels=NS_LABELS)
    assert res.virtual_patch == {"metadata": {"labels": {"from-host": "1"}}}
    assert res.host_patch == {
        "metadata": {"annotations": {c.POD_LABELS_ANNOTATION: 'app="web"\nfrom-host="1"'}}
    }
    vpod2 = copy.deepcopy(vpod)
    vpod2["metadata"]["labels"]["app"] = "api"
    host2 = copy.deepcopy(host)
    host2["metadata"]["labels"]["app"] = "db"
    res = podres.sync_pod(vpod2, host2, vpod, host, CTX, namespace_labels=NS_LABELS)
    assert res.host_patch["metadata"]["labels"] == {"app": "api"}  # only the virtual diff is applied
    assert res.virtual_patch is None
    # namespace labels are recomputed, not merged
    res = podres.sync_pod(vpod, host, vpod, host, CTX, namespace_labels={"team": "x"})
    assert res.host_patch["metadata"]["labels"] == {
        "vcluster.loft.sh/ns-label-my-vc-x-cf1227b7b2": None,
        "vcluster.loft.sh/ns-label-my-vc-x-" + _hex10("team"): "x",
    }


def test_first_sync_after_restart_repushes_virtual_labels() -> None:
    vpod, host = synced_pair()
    del host["metadata"]["labels"]["app"]
    res = podres.sync_pod(vpod, host, None, None, CTX, namespace_labels=NS_LABELS)
    assert res.host_patch == {"metadata": {"labels": {"app": "web"}}}


def test_annotations_exclusions() -> None:
    vpod, host = synced_pair()
    v_old, h_old = copy.deepcopy(vpod), copy.deepcopy(host)
    host["metadata"]["annotations"]["note"] = "hi"
    host["metadata"]["annotations"][c.POD_UID_ANNOTATION] = "changed"
    host["metadata"]["annotations"]["vcluster.loft.sh/token-zzzzzzzz"] = "tok"
    res = podres.sync_pod(vpod, host, v_old, h_old, CTX, namespace_labels=NS_LABELS)
    assert res.virtual_patch == {"metadata": {"annotations": {"note": "hi"}}}
    v2 = copy.deepcopy(vpod)
    v2["metadata"]["annotations"] = {c.NAME_ANNOTATION: "evil", "x": "y"}
    res = podres.sync_pod(v2, h_old, vpod, h_old, CTX, namespace_labels=NS_LABELS)
    assert res.host_patch == {"metadata": {"annotations": {"x": "y", c.MANAGED_ANNOTATIONS_ANNOTATION: "x"}}}


def test_status_back_sync() -> None:
    vpod, host = synced_pair(initContainers=[{"name": "init", "image": "busybox"}], subdomain="s")
    host["status"] = {
        "phase": "Running",
        "qosClass": "Burstable",
        "podIP": "10.1.0.7",
        "hostIP": "192.168.0.2",
        "startTime": "2025-01-01T00:00:02Z",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "nginx", "ready": True}, {"name": "istio-proxy", "ready": True}],
        "initContainerStatuses": [{"name": "vcluster-rewrite-hosts"}, {"name": "init"}],
    }
    res = podres.sync_pod(vpod, host, vpod, host, CTX, namespace_labels=NS_LABELS)
    assert res.virtual_patch is None and res.host_patch is None and res.host_status_patch is None
    status = res.virtual["status"]
    assert (
        status["phase"] == "Running" and status["podIP"] == "10.1.0.7" and status["hostIP"] == "192.168.0.2"
    )
    assert status["qosClass"] == "BestEffort"
    assert [s["name"] for s in status["containerStatuses"]] == ["nginx"]
    assert [s["name"] for s in status["initContainerStatuses"]] == ["init"]
    assert status["conditions"] == [{"type": "Ready", "status": "True"}]
    assert set(res.virtual_status_patch["status"]) >= {"phase", "podIP", "conditions", "containerStatuses"}


def test_conditions_changed_virtually_go_to_the_host() -> None:
    vpod, host = synced_pair()
    host["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
    vpod["status"] = {
        "phase": "Running",
        "qosClass": "BestEffort",
        "conditions": [{"type": "Ready", "status": "False"}],
    }
    v_old = copy.deepcopy(vpod)
    vpod["status"]["conditions"].append({"type": "example.com/gate", "status": "True"})
    res = podres.sync_pod(vpod, host, v_old, host, CTX, namespace_labels=NS_LABELS)
    assert res.host_status_patch == {
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "example.com/gate", "status": "True"},
            ]
        }
    }
    assert res.virtual_status_patch is None


def test_deletion_decisions() -> None:
    vpod, host = synced_pair()
    assert podres.deletion_decision(vpod, host) == []
    h = copy.deepcopy(host)
    h["metadata"].update(deletionTimestamp="2025-01-01T00:00:00Z", deletionGracePeriodSeconds=10)
    (d,) = podres.deletion_decision(vpod, h)
    assert (d.side, d.grace_seconds, d.uid) == ("virtual", 30, "vuid")
    v = copy.deepcopy(vpod)
    v["metadata"].update(deletionTimestamp="2025-01-01T00:00:00Z", deletionGracePeriodSeconds=5)
    (d,) = podres.deletion_decision(v, host)
    assert (d.side, d.grace_seconds, d.uid) == ("host", 5, "huid")
    # both terminating: the host's grace is passed on only when it is shorter (a longer one cannot
    # change a deletion under way, and sending it again on every update would be a loop of writes)
    assert podres.deletion_decision(v, h) == []
    v["metadata"]["deletionGracePeriodSeconds"] = 30
    (d,) = podres.deletion_decision(v, h)
    assert (d.side, d.grace_seconds) == ("virtual", 10)
    v["metadata"]["deletionGracePeriodSeconds"] = 10
    assert podres.deletion_decision(v, h) == []


def test_node_decisions_and_binding() -> None:
    vpod, host = synced_pair()
    assert podres.node_decision(vpod, host, virtual_node_exists=False) is None
    host["spec"]["nodeName"] = "node-1"
    d = podres.node_decision(vpod, host, virtual_node_exists=False)
    assert d is not None and d.need_node == "node-1" and d.bind_node is None
    d = podres.node_decision(vpod, host, virtual_node_exists=True)
    assert d is not None and d.bind_node == "node-1"
    assert podres.binding(vpod, "node-1") == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "nginx", "namespace": "default"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    vpod["spec"]["nodeName"] = "node-1"
    assert podres.node_decision(vpod, host, virtual_node_exists=True) is None
    vpod["spec"]["nodeName"] = "node-2"
    d = podres.node_decision(vpod, host, virtual_node_exists=True)
    assert d is not None and d.delete is not None and d.delete.side == "virtual"
    del host["spec"]["nodeName"]
    d = podres.node_decision(vpod, host, virtual_node_exists=True)
    assert d is not None and d.delete is not None and d.delete.grace_seconds == 30


def test_ephemeral_containers_and_resize() -> None:
    vpod, host = synced_pair()
    assert podres.ephemeral_containers_to_add(vpod, host, CTX) is None
    vpod["spec"]["ephemeralContainers"] = [
        {
            "name": "debug",
            "image": "busybox",
            "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        }
    ]
    t = podres.ephemeral_containers_to_add(vpod, host, CTX)
    assert t is not None
    (ctr,) = t.obj["ephemeralContainers"]
    assert ctr["env"][-1]["valueFrom"]["secretKeyRef"]["name"] == "s-x-default-x-my-vc"
    assert any(e["name"] == "KUBERNETES_SERVICE_HOST" for e in ctr["env"])
    assert t.refs == [Reference("Secret", "default", "s", "vcluster-my-vc", "s-x-default-x-my-vc")]
    host["spec"]["ephemeralContainers"] = [ctr]
    assert podres.ephemeral_containers_to_add(vpod, host, CTX) is None
    vpod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "2"}}
    assert podres.resize_patch(vpod, host, CTX) is None  # host older than 1.35
    assert podres.resize_patch(vpod, host, CTX.replace(host_minor=35)) == {
        "spec": {"containers": [{"name": "nginx", "resources": {"requests": {"cpu": "2"}}}]}
    }


def test_translation_is_json_serialisable_and_deterministic() -> None:
    a = translate(virtual_pod(subdomain="x")).obj
    b = translate(virtual_pod(subdomain="x")).obj
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
