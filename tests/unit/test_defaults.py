"""Defaulting (apiserver/defaults.py) against what kube-apiserver 1.32 stores.

Expected values come from the upstream defaulting tests (kubernetes/pkg/apis/*/v1*/defaults_test.go,
cited per case), apimachinery's quantity_test.go, and objects as a 1.32 server returns them
(`kubectl create deployment nginx --image=nginx -o yaml`, the Job and StatefulSet examples of the
kubernetes.io documentation).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver.defaults import apply_defaults, canonical_quantity, image_pull_policy, initial_status


def defaulted(obj: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    obj = orjson.loads(orjson.dumps(obj))
    apply_defaults(obj, group, version, kind)
    return obj


CONTAINER_DEFAULTS = {
    "resources": {},
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}
POD_SPEC_DEFAULTS = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


# ---------------------------------------------------------------------------- whole objects
def test_deployment_as_kubectl_create_deployment_stores_it() -> None:
    # `kubectl create deployment nginx --image=nginx` against a 1.32 server, spec as returned.
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
            },
            "strategy": {},
        },
    }
    assert defaulted(dep, "apps", "v1", "Deployment")["spec"] == {
        "progressDeadlineSeconds": 600,
        "replicas": 1,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": {"app": "nginx"}},
        "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
        "template": {
            "metadata": {"creationTimestamp": None, "labels": {"app": "nginx"}},
            "spec": {
                "containers": [
                    {"image": "nginx", "imagePullPolicy": "Always", "name": "nginx", **CONTAINER_DEFAULTS}
                ],
                **POD_SPEC_DEFAULTS,
            },
        },
    }


def test_pod_defaults() -> None:
    # pkg/apis/core/v1/defaults_test.go TestSetDefaultPodSpec*, TestSetDefaultEnableServiceLinks.
    pod = {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    assert defaulted(pod, "", "v1", "Pod")["spec"] == {
        "containers": [
            {"name": "c", "image": "busybox:1.36", "imagePullPolicy": "IfNotPresent", **CONTAINER_DEFAULTS}
        ],
        "enableServiceLinks": True,
        **POD_SPEC_DEFAULTS,
    }


def test_pod_template_gets_no_pod_only_defaults() -> None:
    # TestDefaultRequestIsNotSetForReplicationController / enableServiceLinks is SetDefaults_Pod only.
    rc = {
        "spec": {
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "100m"}}}]
                },
            }
        }
    }
    out = defaulted(rc, "", "v1", "ReplicationController")
    spec = out["spec"]["template"]["spec"]
    assert "enableServiceLinks" not in spec
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "100m"}}
    assert out["spec"]["replicas"] == 1  # +default=1
    assert out["spec"]["selector"] == {"a": "b"}


def test_replication_controller_selector_and_labels_from_template() -> None:
    # TestSetDefaultReplicationControllerSelector / ...Labels.
    rc = {"metadata": {}, "spec": {"template": {"metadata": {"labels": {"foo": "bar"}}, "spec": {}}}}
    out = defaulted(rc, "", "v1", "ReplicationController")
    assert out["spec"]["selector"] == {"foo": "bar"}
    assert out["metadata"]["labels"] == {"foo": "bar"}
    rc["metadata"]["labels"] = {"mine": "x"}
    rc["spec"]["selector"] = {"sel": "y"}
    out = defaulted(rc, "", "v1", "ReplicationController")
    assert out["spec"]["selector"] == {"sel": "y"}
    assert out["metadata"]["labels"] == {"mine": "x"}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        # TestSetDefaultImagePullPolicy (pkg/apis/core/v1/defaults_test.go).
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("docker.io/library/nginx", "Always"),
        ("registry.k8s.io/pause:3.10", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("nginx:1.0@sha256:" + "a" * 64, "IfNotPresent"),
        ("NGINX", "IfNotPresent"),  # not a valid reference: ParseImageName fails, tag ""
        ("", "IfNotPresent"),
        ("a" * 64, "IfNotPresent"),  # 64-hex identifiers are refused
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    assert image_pull_policy(image) == policy
    pod = defaulted({"spec": {"containers": [{"name": "c", "image": image}]}}, "", "v1", "Pod")
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_pull_policy_kept() -> None:
    pod = defaulted(
        {"spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]}},
        "",
        "v1",
        "Pod",
    )
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_requests_default_to_limits_for_pods() -> None:
    # TestSetDefaultRequestsPod: limits copied where requests are missing; existing requests kept.
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "resources": {"limits": {"cpu": "100m", "memory": "1Gi"}}},
                {
                    "name": "b",
                    "image": "x",
                    "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}},
                },
            ],
            "initContainers": [{"name": "i", "image": "x", "resources": {"limits": {"memory": "64Mi"}}}],
        }
    }
    spec = defaulted(pod, "", "v1", "Pod")["spec"]
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "1Gi"}
    assert spec["containers"][1]["resources"]["requests"] == {"cpu": "500m"}
    assert spec["initContainers"][0]["resources"]["requests"] == {"memory": "64Mi"}


def test_host_network_ports() -> None:
    # TestSetDefaultHostPort (defaultHostNetworkPorts): Pods only.
    pod = {
        "spec": {
            "hostNetwork": True,
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "ports": [{"containerPort": 8080}, {"containerPort": 9, "hostPort": 9}],
                }
            ],
            "initContainers": [
                {"name": "i", "image": "x", "ports": [{"containerPort": 53, "protocol": "UDP"}]}
            ],
        }
    }
    spec = defaulted(pod, "", "v1", "Pod")["spec"]
    assert spec["containers"][0]["ports"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"},
        {"containerPort": 9, "hostPort": 9, "protocol": "TCP"},
    ]
    assert spec["initContainers"][0]["ports"] == [{"containerPort": 53, "protocol": "UDP", "hostPort": 53}]
    tmpl = defaulted({"spec": {"template": {"spec": pod["spec"]}}}, "apps", "v1", "Deployment")
    assert "hostPort" not in tmpl["spec"]["template"]["spec"]["containers"][0]["ports"][0]


def test_probe_defaults() -> None:
    # TestSetDefaultProbe + SetDefaults_HTTPGetAction + GRPCAction.Service +default="".
    c = {
        "name": "c",
        "image": "x",
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
        "startupProbe": {"grpc": {"port": 9000}},
        "lifecycle": {"preStop": {"httpGet": {"port": "http"}}, "postStart": {"exec": {"command": ["true"]}}},
    }
    out = defaulted({"spec": {"containers": [c]}}, "", "v1", "Pod")["spec"]["containers"][0]
    assert out["livenessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert out["readinessProbe"]["periodSeconds"] == 5
    assert out["startupProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert out["lifecycle"]["preStop"]["httpGet"] == {"port": "http", "path": "/", "scheme": "HTTP"}


def test_volume_defaults() -> None:
    # TestSetDefaultVolume (emptyDir), TestSetDefaults*VolumeSource (defaultMode 0644 = 420),
    # TestSetDefaultHostPathVolumeSource (type ""), ServiceAccountTokenProjection (3600 s),
    # TestSetDefaultObjectFieldSelectorAPIVersion.
    volumes = [
        {"name": "none"},
        {"name": "cm", "configMap": {"name": "x"}},
        {"name": "sec", "secret": {"secretName": "x", "defaultMode": 256}},
        {
            "name": "dapi",
            "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]},
        },
        {"name": "hp", "hostPath": {"path": "/data"}},
        {
            "name": "proj",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "t", "audience": "vault"}},
                    {"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                ]
            },
        },
        {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
    ]
    out = defaulted({"spec": {"containers": [], "volumes": volumes}}, "", "v1", "Pod")["spec"]["volumes"]
    assert out[0] == {"name": "none", "emptyDir": {}}
    assert out[1]["configMap"] == {"name": "x", "defaultMode": 420}
    assert out[2]["secret"] == {"secretName": "x", "defaultMode": 256}
    assert out[3]["downwardAPI"] == {
        "items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}],
        "defaultMode": 420,
    }
    assert out[4]["hostPath"] == {"path": "/data", "type": ""}
    assert out[5]["projected"]["defaultMode"] == 420
    assert out[5]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert out[5]["projected"]["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert out[6]["ephemeral"]["volumeClaimTemplate"] == {
        "metadata": {"creationTimestamp": None},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem", "resources": {}},
    }


def test_env_field_ref_and_service_account_alias() -> None:
    pod = {
        "spec": {
            "serviceAccount": "builder",
            "containers": [
                {
                    "name": "c",
                    "image": "x",
                    "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                }
            ],
        }
    }
    spec = defaulted(pod, "", "v1", "Pod")["spec"]
    assert spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"] == {
        "fieldPath": "spec.nodeName",
        "apiVersion": "v1",
    }
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("builder", "builder")
    dep = defaulted(
        {"spec": {"template": {"spec": {"serviceAccountName": "sa", "containers": []}}}},
        "apps",
        "v1",
        "Deployment",
    )
    assert dep["spec"]["template"]["spec"]["serviceAccount"] == "sa"


# ---------------------------------------------------------------------------- apps/v1
def test_statefulset_defaults() -> None:
    # pkg/apis/apps/v1/defaults_test.go TestSetDefaultStatefulSet (PVC retention policy gate on),
    # volumeClaimTemplates as `kubectl get sts -o yaml` shows them.
    sts = {
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "serviceName": "web",
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        }
    }
    spec = defaulted(sts, "apps", "v1", "StatefulSet")["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["replicas"] == 1
    assert spec["revisionHistoryLimit"] == 10
    assert "minReadySeconds" not in spec
    assert spec["volumeClaimTemplates"] == [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "www", "creationTimestamp": None},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "volumeMode": "Filesystem",
            },
            "status": {"phase": "Pending"},
        }
    ]


def test_statefulset_update_strategy_given() -> None:
    # An explicit RollingUpdate without rollingUpdate stays without it; OnDelete stays OnDelete.
    spec = defaulted({"spec": {"updateStrategy": {"type": "RollingUpdate"}}}, "apps", "v1", "StatefulSet")[
        "spec"
    ]
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}
    spec = defaulted(
        {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {}}}},
        "apps",
        "v1",
        "StatefulSet",
    )["spec"]
    assert spec["updateStrategy"]["rollingUpdate"] == {"partition": 0}
    spec = defaulted({"spec": {"updateStrategy": {"type": "OnDelete"}}}, "apps", "v1", "StatefulSet")["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}


def test_daemonset_defaults() -> None:
    # TestSetDefaultDaemonSetSpec: RollingUpdate maxUnavailable 1, maxSurge 0 (ints), history 10.
    spec = defaulted({"spec": {"template": {"spec": {}}}}, "apps", "v1", "DaemonSet")["spec"]
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert spec["revisionHistoryLimit"] == 10
    spec = defaulted({"spec": {"updateStrategy": {"type": "OnDelete"}}}, "apps", "v1", "DaemonSet")["spec"]
    assert spec["updateStrategy"] == {"type": "OnDelete"}


def test_deployment_recreate_and_explicit_values() -> None:
    # TestSetDefaultDeployment: Recreate gets no rollingUpdate; given values are kept.
    spec = defaulted(
        {"spec": {"replicas": 5, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 0}},
        "apps",
        "v1",
        "Deployment",
    )["spec"]
    assert spec["strategy"] == {"type": "Recreate"}
    assert (spec["replicas"], spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (5, 0, 600)
    spec = defaulted({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 2}}}}, "apps", "v1", "Deployment")[
        "spec"
    ]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 2, "maxUnavailable": "25%"},
    }


def test_replicaset_replicas() -> None:
    # TestSetDefaultReplicaSetReplicas.
    assert defaulted({"spec": {}}, "apps", "v1", "ReplicaSet")["spec"]["replicas"] == 1
    assert defaulted({"spec": {"replicas": 0}}, "apps", "v1", "ReplicaSet")["spec"]["replicas"] == 0


# ---------------------------------------------------------------------------- batch/v1
def test_job_defaults() -> None:
    # pkg/apis/batch/v1/defaults_test.go TestSetDefaultJob "All unspecified -> sets all to default
    # values" (JobPodReplacementPolicy on in 1.32, manualSelector defaulted false).
    job = {
        "metadata": {"name": "pi"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "pi"}},
                "spec": {"containers": [], "restartPolicy": "Never"},
            }
        },
    }
    out = defaulted(job, "batch", "v1", "Job")
    spec = out["spec"]
    assert {k: spec[k] for k in spec if k != "template"} == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False,
    }
    assert out["metadata"]["labels"] == {"app": "pi"}  # labels copied from the template
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # TestSetDefaultJob: "parallelism only", "completions only", "backoffLimitPerIndex".
        ({"parallelism": 3}, {"parallelism": 3}),
        ({"completions": 4}, {"completions": 4, "parallelism": 1}),
        ({"backoffLimitPerIndex": 1, "completions": 2}, {"backoffLimit": 2147483647}),
        (
            {"podFailurePolicy": {"rules": [{"onPodConditions": [{"type": "DisruptionTarget"}]}]}},
            {"podReplacementPolicy": "Failed"},
        ),
    ],
)
def test_job_defaults_partial(given: dict[str, Any], expected: dict[str, Any]) -> None:
    spec = defaulted({"spec": given}, "batch", "v1", "Job")["spec"]
    for k, v in expected.items():
        assert spec[k] == v
    if "completions" not in given and "parallelism" in given:
        assert "completions" not in spec
    if "podFailurePolicy" in given:
        assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


def test_cronjob_defaults() -> None:
    # TestSetDefaultCronJob; the job template spec gets pod-template defaults only.
    cj = {
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}},
        }
    }
    spec = defaulted(cj, "batch", "v1", "CronJob")["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"]) == ("Allow", False)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    jt = spec["jobTemplate"]
    assert jt["metadata"] == {"creationTimestamp": None}
    assert "backoffLimit" not in jt["spec"]
    assert jt["spec"]["template"]["metadata"] == {"creationTimestamp": None}
    assert jt["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


# ---------------------------------------------------------------------------- core/v1 others
def test_service_defaults() -> None:
    # TestSetDefaultService, TestSetDefaultServiceTargetPort, TestSetDefaultServiceInternalTrafficPolicy,
    # TestSetDefaultServiceSessionAffinityConfig.
    svc = {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}
    spec = defaulted(svc, "", "v1", "Service")["spec"]
    assert spec == {
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 53, "protocol": "UDP", "targetPort": "dns"},
        ],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
    }
    lb = defaulted({"spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}}, "", "v1", "Service")["spec"]
    assert (lb["externalTrafficPolicy"], lb["allocateLoadBalancerNodePorts"]) == ("Cluster", True)
    ext = defaulted({"spec": {"type": "ExternalName", "externalName": "x.example"}}, "", "v1", "Service")[
        "spec"
    ]
    assert "internalTrafficPolicy" not in ext and "externalTrafficPolicy" not in ext
    cip = defaulted({"spec": {"sessionAffinity": "ClientIP"}}, "", "v1", "Service")["spec"]
    assert cip["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    none = defaulted(
        {"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}, "", "v1", "Service"
    )["spec"]
    assert "sessionAffinityConfig" not in none


def test_secret_pvc_pv_endpoints_defaults() -> None:
    # TestSetDefaultSecret, TestSetDefaultPersistentVolumeClaim, TestSetDefaultPersistentVolume,
    # TestSetDefaultEndpointsProtocol.
    assert defaulted({}, "", "v1", "Secret")["type"] == "Opaque"
    assert defaulted({"type": "kubernetes.io/tls"}, "", "v1", "Secret")["type"] == "kubernetes.io/tls"
    pvc = defaulted(
        {"spec": {"resources": {"requests": {"storage": "1.5Gi"}}}}, "", "v1", "PersistentVolumeClaim"
    )
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1536Mi"
    assert pvc["status"] == {"phase": "Pending"}
    pv = defaulted({"spec": {"hostPath": {"path": "/x"}}}, "", "v1", "PersistentVolume")
    assert (pv["spec"]["persistentVolumeReclaimPolicy"], pv["spec"]["volumeMode"]) == ("Retain", "Filesystem")
    assert pv["status"] == {"phase": "Pending"}
    ep = defaulted({"subsets": [{"ports": [{"port": 1}]}]}, "", "v1", "Endpoints")
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"


def test_limit_range_and_node() -> None:
    # TestSetDefaultLimitRangeItem, TestSetDefaultNodeStatusAllocatable.
    lr = {"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "100Mi"}}]}}
    item = defaulted(lr, "", "v1", "LimitRange")["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "100Mi"}
    node = defaulted({"status": {"capacity": {"cpu": "4", "memory": "8Gi"}}}, "", "v1", "Node")
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}


def test_other_groups() -> None:
    # networking/v1 TestSetDefaultNetworkPolicy, rbac/v1 TestRoleBindingDefaulting (subject apiGroup),
    # storage/v1 TestSetDefaultVolumeBindingMode, scheduling/v1 TestSetDefaultPreemptionPolicy,
    # discovery/v1 TestSetDefaultEndpointPort, autoscaling/v2 TestSetDefaultHPA.
    np = defaulted(
        {"spec": {"egress": [{"ports": [{"port": 53}]}], "ingress": [{}]}},
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
    )["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["egress"][0]["ports"][0]["protocol"] == "TCP"
    assert np["podSelector"] == {}
    assert defaulted({"spec": {}}, "networking.k8s.io", "v1", "NetworkPolicy")["spec"]["policyTypes"] == [
        "Ingress"
    ]
    rb = defaulted(
        {
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [
                {"kind": "User", "name": "u"},
                {"kind": "ServiceAccount", "name": "s", "namespace": "n"},
            ],
        },
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
    )
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in rb["subjects"][1]
    sc = defaulted({"provisioner": "x"}, "storage.k8s.io", "v1", "StorageClass")
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    pc = defaulted({"value": 10}, "scheduling.k8s.io", "v1", "PriorityClass")
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    es = defaulted({"ports": [{"port": 80}]}, "discovery.k8s.io", "v1", "EndpointSlice")
    assert es["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    hpa = defaulted({"spec": {"maxReplicas": 3}}, "autoscaling", "v2", "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] == 1
    assert hpa["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]
    hpa = defaulted(
        {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
    )["spec"]["behavior"]
    assert hpa["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}
    assert hpa["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def test_webhook_defaults() -> None:
    # admissionregistration/v1 TestDefaultAdmissionWebhook.
    cfg = {
        "webhooks": [
            {
                "name": "w",
                "clientConfig": {"service": {"name": "s", "namespace": "n"}},
                "rules": [{"operations": ["CREATE"]}],
            }
        ]
    }
    hook = defaulted(cfg, "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration")["webhooks"][0]
    assert hook["failurePolicy"] == "Fail"
    assert hook["matchPolicy"] == "Equivalent"
    assert hook["namespaceSelector"] == {} and hook["objectSelector"] == {}
    assert hook["timeoutSeconds"] == 10
    assert hook["reinvocationPolicy"] == "Never"
    assert hook["rules"][0]["scope"] == "*"
    assert hook["clientConfig"]["service"]["port"] == 443


def test_idempotent() -> None:
    dep = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "0.5"}}}]
                }
            }
        }
    }
    once = defaulted(dep, "apps", "v1", "Deployment")
    assert defaulted(once, "apps", "v1", "Deployment") == once


def test_initial_status() -> None:
    # Zero-value status structs as encoding/json writes them (fields without omitempty appear).
    assert initial_status("apps", "v1", "StatefulSet") == {"replicas": 0, "availableReplicas": 0}
    assert initial_status("apps", "v1", "Deployment") == {}
    assert initial_status("policy", "v1", "PodDisruptionBudget") == {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    }
    assert initial_status("", "v1", "Service") == {"loadBalancer": {}}
    assert initial_status("", "v1", "ConfigMap") is None
    status = initial_status("", "v1", "Service")
    assert status is not None
    status["x"] = 1
    assert initial_status("", "v1", "Service") == {"loadBalancer": {}}  # a fresh dict each time


# ---------------------------------------------------------------------------- quantities
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        # apimachinery resource/quantity_test.go TestQuantityParse / TestQuantityString cases.
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1.5", "1500m"),
        ("100m", "100m"),
        ("1Gi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("1024Ki", "1Mi"),
        ("0.5Ki", "512"),
        ("1e3", "1e3"),
        ("12e4", "120e3"),
        ("1.5k", "1500"),
        ("0", "0"),
        ("0m", "0"),
        ("+1k", "+1k"),  # a canonical string is kept as written
        ("128974848", "128974848"),
        ("129M", "129M"),
        ("0.0001", "100u"),
        ("1e-20", "1e-9"),  # rounded up to nano
        (0.5, "500m"),  # JSON numbers are quantities too
        (2, "2"),
        ("nonsense", "nonsense"),  # not a quantity: untouched (the decoder reports it)
    ],
)
def test_canonical_quantity(given: Any, stored: str) -> None:
    assert canonical_quantity(given) == stored


@pytest.mark.parametrize(
    ("given", "stored"),
    # SetDefaults_ResourceList rounds up to milli precision (TestSetDefaultResourceList? RoundUp(-3)).
    [("0.0001", "1m"), ("100n", "1m"), ("1.0005", "1001m"), ("250m", "250m"), ("2Gi", "2Gi")],
)
def test_resource_list_rounding(given: str, stored: str) -> None:
    assert canonical_quantity(given, round_milli=True) == stored
    pod = defaulted(
        {"spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": given}}}]}},
        "",
        "v1",
        "Pod",
    )
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == stored


# ---------------------------------------------------------------------------- robustness
_KINDS = [
    ("", "v1", "Pod"),
    ("", "v1", "Service"),
    ("", "v1", "PersistentVolumeClaim"),
    ("", "v1", "ReplicationController"),
    ("", "v1", "LimitRange"),
    ("", "v1", "Node"),
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "StatefulSet"),
    ("apps", "v1", "DaemonSet"),
    ("batch", "v1", "Job"),
    ("batch", "v1", "CronJob"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
]
_KEYS = st.sampled_from(
    [
        "spec", "template", "metadata", "containers", "initContainers", "volumes", "resources", "limits",
        "requests", "cpu", "ports", "image", "labels", "selector", "strategy", "rollingUpdate", "type",
        "jobTemplate", "volumeClaimTemplates", "projected", "sources", "hostNetwork", "status", "behavior",
        "webhooks", "subsets", "env", "valueFrom", "fieldRef", "livenessProbe", "httpGet", "x",
    ]
)  # fmt: skip
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(obj=st.dictionaries(_KEYS, _JSON, max_size=4), gvk=st.sampled_from(_KINDS))
def test_random_objects_never_raise(obj: dict[str, Any], gvk: tuple[str, str, str]) -> None:
    apply_defaults(obj, *gvk)
    twice = orjson.loads(orjson.dumps(obj))
    apply_defaults(twice, *gvk)
    assert twice == obj  # idempotent on whatever it produced


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789.+-eEinumkKMGTPi ", max_size=14))
def test_random_quantities(text: str) -> None:
    out = canonical_quantity(text)
    assert isinstance(out, str)
    assert canonical_quantity(out) == out  # canonical strings are stable
