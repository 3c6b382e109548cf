"""Admission plugins, create validation and immutability rules (apiserver/admission.py).

Messages are kube-apiserver 1.32's, taken from the upstream sources cited per test
(plugin/pkg/admission/*, pkg/apis/{core,apps,batch}/validation, pkg/registry/*/strategy.go) and
from the 422 answers users paste from real clusters (e.g. the Deployment selector and Job
restartPolicy messages).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcluster.apiserver.admission import (
    _validate_container_resource_name,
    _validate_quota_resource_name,
    admission_reads,
    admit_create,
    admit_update,
    job_generate_selector,
    pod_qos_class,
    validate_create,
    validate_update,
)
from vcluster.apiserver.defaults import apply_defaults
from vcluster.apiserver.errors import Cause, StatusError, invalid

DEFAULT_SA = {
    "apiVersion": "v1",
    "kind": "ServiceAccount",
    "metadata": {"name": "default", "namespace": "ns"},
}


def make_lookup(*objects: dict[str, Any]):
    index = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}

    def lookup(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return index.get((kind, namespace, name))

    return lookup


def copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "app", "image": "nginx"}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec}


def created_pod(obj: dict[str, Any], *objects: dict[str, Any]) -> dict[str, Any]:
    obj = copy(obj)
    apply_defaults(obj, "", "v1", "Pod")
    admit_create(obj, "", "v1", "Pod", make_lookup(DEFAULT_SA, *objects))
    return obj


def messages(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" if c.field else c.message for c in causes]


# ============================================================================ ServiceAccount admission
TOKEN_VOLUME_SOURCE = {
    # plugin/pkg/admission/serviceaccount TokenVolumeSource, as stored (defaultMode set explicitly).
    "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {
            "downwardAPI": {
                "items": [
                    {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                ]
            }
        },
    ],
    "defaultMode": 420,
}


def test_service_account_token_volume() -> None:
    p = created_pod(pod(initContainers=[{"name": "init", "image": "busybox"}]))
    spec = p["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    (vol,) = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol["name"])
    assert vol["projected"] == TOKEN_VOLUME_SOURCE
    mount = {
        "name": vol["name"],
        "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    }
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert "imagePullSecrets" not in spec


def test_service_account_opt_out_and_existing_mounts() -> None:
    # shouldAutomount: the pod's setting wins over the ServiceAccount's.
    assert "volumes" not in created_pod(pod(automountServiceAccountToken=False))["spec"]
    sa = {
        **DEFAULT_SA,
        "metadata": {"name": "quiet", "namespace": "ns"},
        "automountServiceAccountToken": False,
    }
    assert "volumes" not in created_pod(pod(serviceAccountName="quiet"), sa)["spec"]
    forced = created_pod(pod(serviceAccountName="quiet", automountServiceAccountToken=True), sa)
    assert forced["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    # A container that already mounts something at the token path keeps it; no volume is added.
    own = {"name": "own", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    p = created_pod(
        pod(containers=[{"name": "c", "image": "x", "volumeMounts": [own]}], volumes=[{"name": "own"}])
    )
    assert p["spec"]["containers"][0]["volumeMounts"] == [own]
    assert [v["name"] for v in p["spec"]["volumes"]] == ["own"]


def test_service_account_pull_secrets_copied() -> None:
    sa = {**DEFAULT_SA, "imagePullSecrets": [{"name": "regcred"}]}
    p = copy(pod())
    apply_defaults(p, "", "v1", "Pod")
    admit_create(p, "", "v1", "Pod", make_lookup(sa))
    assert p["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


def test_missing_service_account_is_forbidden() -> None:
    p = copy(pod(serviceAccountName="builder"))
    with pytest.raises(StatusError) as ei:
        admit_create(p, "", "v1", "Pod", make_lookup(DEFAULT_SA))
    err = ei.value
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        'pods "p" is forbidden: error looking up service account ns/builder: serviceaccount "builder" not '
        "found"
    )
    assert err.status()["details"] == {"name": "p", "kind": "pods"}
    gen = copy(pod())
    gen["metadata"] = {"generateName": "web-", "namespace": "ns"}
    with pytest.raises(StatusError) as ei:
        admit_create(gen, "", "v1", "Pod", make_lookup())
    assert ei.value.message.startswith(
        'pods "web-" is forbidden: error looking up service account ns/default'
    )


def test_enforce_mountable_secrets() -> None:
    sa = {
        **DEFAULT_SA,
        "metadata": {
            **DEFAULT_SA["metadata"],
            "annotations": {"kubernetes.io/enforce-mountable-secrets": "true"},
        },
        "secrets": [{"name": "ok"}],
    }
    allowed = pod(volumes=[{"name": "s", "secret": {"secretName": "ok"}}])
    created_pod(allowed, sa)  # the lookup finds `sa` last: it replaces DEFAULT_SA
    denied = pod(volumes=[{"name": "s", "secret": {"secretName": "other"}}])
    with pytest.raises(StatusError) as ei:
        created_pod(denied, sa)
    assert ei.value.message == (
        'pods "p" is forbidden: volume with secret.secretName="other" is not allowed because service account '
        "default does not reference that secret"
    )


def test_mirror_pods() -> None:
    p = pod(serviceAccountName="x")
    p["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    with pytest.raises(StatusError) as ei:
        admit_create(copy(p), "", "v1", "Pod", make_lookup())
    assert ei.value.message == 'pods "p" is forbidden: a mirror pod may not reference service accounts'


# ============================================================================ DefaultTolerationSeconds
NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {**NOT_READY, "key": "node.kubernetes.io/unreachable"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # plugin/pkg/admission/defaulttolerationseconds admission_test.go cases.
        ([], [NOT_READY, UNREACHABLE]),
        (
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 60,
                }
            ],
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 60,
                },
                UNREACHABLE,
            ],
        ),
        ([{"operator": "Exists"}], [{"operator": "Exists"}]),  # tolerates everything
        (
            [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}],
            [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"},
                NOT_READY,
                UNREACHABLE,
            ],
        ),
    ],
)
def test_default_toleration_seconds(given: list[Any], expected: list[Any]) -> None:
    p = created_pod(pod(tolerations=given) if given else pod())
    assert p["spec"]["tolerations"] == expected


# ============================================================================ Priority
def test_priority_defaults_and_classes() -> None:
    p = created_pod(pod())
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in p["spec"]
    high = {"kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}
    p = created_pod(pod(priorityClassName="high"), high)
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (1000, "Never")
    p = created_pod(pod(priorityClassName="system-node-critical"))
    assert p["spec"]["priority"] == 2000001000
    with pytest.raises(StatusError) as ei:
        created_pod(pod(priorityClassName="missing"))
    assert ei.value.message == 'pods "p" is forbidden: no PriorityClass with name missing was found'
    with pytest.raises(StatusError) as ei:
        created_pod(pod(priorityClassName="high", priority=5), high)
    assert ei.value.message == (
        'pods "p" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority '
        "admission controller computed 1000 from the given PriorityClass name"
    )


def test_global_default_priority_class() -> None:
    classes = [
        {"kind": "PriorityClass", "metadata": {"name": "a"}, "value": 50, "globalDefault": True},
        {"kind": "PriorityClass", "metadata": {"name": "b"}, "value": 10, "globalDefault": True,
         "preemptionPolicy": "Never"},
    ]  # fmt: skip
    p = copy(pod())
    apply_defaults(p, "", "v1", "Pod")
    admit_create(p, "", "v1", "Pod", make_lookup(DEFAULT_SA), list_objects=lambda kind, ns: classes)
    assert (p["spec"]["priorityClassName"], p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (
        "b",
        10,
        "Never",
    )


def test_pod_update_keeps_priority_and_tolerations() -> None:
    old = created_pod(pod())
    new = copy(old)
    for key in ("priority", "preemptionPolicy", "tolerations"):
        del new["spec"][key]
    admit_update(old, new, "", "v1", "Pod")
    assert new["spec"] == old["spec"]
    assert validate_update(old, new, "", "v1", "Pod") == []


# ============================================================================ QoS
def res(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if requests is not None:
        out["requests"] = requests
    if limits is not None:
        out["limits"] = limits
    return out


@pytest.mark.parametrize(
    ("containers", "init", "qos"),
    [
        # pkg/apis/core/helper/qos/qos_test.go TestComputePodQOS.
        ([res()], [], "BestEffort"),
        ([res({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "1"})], [], "BestEffort"),
        ([res({"cpu": "0"})], [], "BestEffort"),
        ([res({"cpu": "100m"})], [], "Burstable"),
        ([res({"cpu": "100m", "memory": "100Mi"}, {"cpu": "100m", "memory": "100Mi"})], [], "Guaranteed"),
        ([res(None, {"cpu": "1", "memory": "1Gi"})], [], "Guaranteed"),  # requests defaulted from limits
        ([res({"cpu": "100m", "memory": "100Mi"}, {"cpu": "200m", "memory": "100Mi"})], [], "Burstable"),
        ([res(None, {"cpu": "1", "memory": "1Gi"}), res()], [], "Burstable"),
        ([res(None, {"cpu": "1", "memory": "1Gi"})], [res()], "Burstable"),
        (
            [res(None, {"cpu": "1", "memory": "1Gi"})],
            [res(None, {"cpu": "2", "memory": "2Gi"})],
            "Guaranteed",
        ),
        ([res(None, {"cpu": "1000m", "memory": "1Gi"})], [], "Guaranteed"),
        ([res({"memory": "1Gi"}, {"memory": "1Gi"})], [], "Burstable"),
    ],
)
def test_qos_class(containers: list[Any], init: list[Any], qos: str) -> None:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": "x", "resources": r} for i, r in enumerate(containers)]
    }
    if init:
        spec["initContainers"] = [{"name": f"i{i}", "image": "x", "resources": r} for i, r in enumerate(init)]
    p = {"spec": spec}
    apply_defaults(p, "", "v1", "Pod")
    assert pod_qos_class(p) == qos


# ============================================================================ Job selector generation
def test_job_generate_selector() -> None:
    # pkg/registry/batch/job/strategy.go generateSelector (TestJobStrategy_PrepareForCreate).
    job = {
        "metadata": {"name": "pi", "namespace": "ns"},
        "spec": {"template": {"metadata": {"labels": {"app": "pi", "job-name": "mine"}}, "spec": {}}},
    }
    job_generate_selector(job, "uid-1")
    assert job["spec"]["template"]["metadata"]["labels"] == {
        "app": "pi",
        "job-name": "mine",  # a label the user set is kept (validation then rejects it)
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "uid-1",
        "batch.kubernetes.io/controller-uid": "uid-1",
    }
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-1"}}
    manual = {"metadata": {"name": "m"}, "spec": {"manualSelector": True, "template": {}}}
    job_generate_selector(manual, "u")
    assert manual == {"metadata": {"name": "m"}, "spec": {"manualSelector": True, "template": {}}}


def created_job(job: dict[str, Any], uid: str = "3c2b5a36-0000-4000-8000-000000000001") -> dict[str, Any]:
    job = copy(job)
    job["metadata"]["uid"] = uid
    apply_defaults(job, "batch", "v1", "Job")
    job_generate_selector(job, uid)
    apply_defaults(job, "batch", "v1", "Job")  # as read back from storage
    return job


JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "pi", "namespace": "ns"},
    "spec": {
        "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}
    },
}


def test_job_labels_after_storage_round_trip() -> None:
    # The Job example of kubernetes.io/docs/concepts/workloads/controllers/job: metadata labels
    # equal the generated template labels.
    job = created_job(JOB)
    uid = job["metadata"]["uid"]
    expected = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi",
    }
    assert job["metadata"]["labels"] == expected
    assert job["spec"]["template"]["metadata"]["labels"] == expected
    assert validate_create(job, "batch", "v1", "Job") == []


# ============================================================================ create validation
def valid_pod(**spec: Any) -> dict[str, Any]:
    return created_pod(pod(**spec))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # pkg/apis/core/validation validateContainers / validateContainerCommon / validateContainerPorts.
        ({"containers": []}, ["spec.containers: Required value"]),
        (
            {"containers": [{}]},
            ["spec.containers[0].name: Required value", "spec.containers[0].image: Required value"],
        ),
        (
            {"containers": [{"name": "Web_1", "image": "x"}]},
            [
                'spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist '
                "of lower "
                "case alphanumeric characters or '-', and must start and end with an alphanumeric character "
                "(e.g. "
                "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ],
        ),
        (
            {"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]},
            ['spec.containers[1].name: Duplicate value: "c"'],
        ),
        (
            {
                "containers": [
                    {"name": "c", "image": "x", "ports": [{"containerPort": 70000, "name": "HTTP"}]}
                ]
            },
            [
                'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only alpha-numeric '
                "characters (a-z, 0-9), and hyphens (-)",
                'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain at least one letter '
                "(a-z)",
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and "
                "65535, "
                "inclusive",
            ],
        ),
        (
            {
                "containers": [
                    {"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}
                ]
            },
            [
                'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", '
                '"TCP", "UDP"'
            ],
        ),
        (
            {
                "containers": [
                    {
                        "name": "c",
                        "image": "x",
                        "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                    }
                ]
            },
            [
                'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to '
                "cpu limit of 1"
            ],
        ),
        (
            {
                "containers": [
                    {"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}
                ]
            },
            ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
        ),
        (
            {"containers": [{"name": "c", "image": "x", "env": [{"name": "1BAD"}]}]},
            [
                'spec.containers[0].env[0].name: Invalid value: "1BAD": a valid environment variable name '
                "must "
                "consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a "
                "digit (e.g. "
                "'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is "
                "'[-._a-zA-Z][-._a-zA-Z0-9]*')"
            ],
        ),
        (
            {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Sometimes"},
            [
                'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
                '"OnFailure", "Never"'
            ],
        ),
        (
            {"containers": [{"name": "c", "image": " x"}]},
            ['spec.containers[0].image: Invalid value: " x": must not have leading or trailing whitespace'],
        ),
        (
            {
                "containers": [
                    {
                        "name": "c",
                        "image": "x",
                        "livenessProbe": {"exec": {"command": ["t"]}, "successThreshold": 2},
                    }
                ]
            },
            ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
        ),
        (
            {"containers": [{"name": "c", "image": "x"}], "volumes": [{"name": "v", "configMap": {}}]},
            ["spec.volumes[0].configMap.name: Required value"],
        ),
        (
            {
                "containers": [{"name": "c", "image": "x"}],
                "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}],
            },
            [
                'spec.tolerations[0].operator: Invalid value: "v": value must be empty when `operator` is '
                "'Exists'"
            ],
        ),
    ],
)
def test_pod_create_validation(spec: dict[str, Any], expected: list[str]) -> None:
    p = copy(pod(**spec))
    apply_defaults(p, "", "v1", "Pod")
    p["spec"]["serviceAccountName"] = "default"
    assert messages(validate_create(p, "", "v1", "Pod")) == expected


def test_valid_pod_has_no_causes() -> None:
    assert validate_create(valid_pod(), "", "v1", "Pod") == []


def deployment(selector: Any, labels: Any, **spec: Any) -> dict[str, Any]:
    tmpl: dict[str, Any] = {"spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}
    if labels is not None:
        tmpl["metadata"] = {"labels": labels}
    dep: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "ns"},
        "spec": {"template": tmpl, **spec},
    }
    if selector is not None:
        dep["spec"]["selector"] = selector
    apply_defaults(dep, "apps", "v1", "Deployment")
    return dep


def test_deployment_selector_must_match_template() -> None:
    dep = deployment({"matchLabels": {"app": "web"}}, {"app": "nginx", "tier": "fe"})
    causes = validate_create(dep, "apps", "v1", "Deployment")
    assert messages(causes) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx", "tier":"fe"}: '
        "`selector` does not match template `labels`"
    ]
    err = invalid("Deployment", "apps", "nginx", causes)
    assert err.message == (
        'Deployment.apps "nginx" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"nginx", "tier":"fe"}: `selector` does not match template `labels`'
    )


def test_deployment_missing_and_empty_selector() -> None:
    # apps/v1 requires a selector: a missing one also fails the template match (Nothing selector).
    assert messages(validate_create(deployment(None, {"app": "nginx"}), "apps", "v1", "Deployment")) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx"}: '
        "`selector` does not match template `labels`",
    ]
    assert messages(validate_create(deployment({}, {"app": "nginx"}), "apps", "v1", "Deployment")) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    ]
    bad = deployment(
        {"matchExpressions": [{"key": "app", "operator": "Equals", "values": ["x"]}]}, {"app": "x"}
    )
    assert messages(validate_create(bad, "apps", "v1", "Deployment")) == [
        'spec.selector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator',
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        'MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", '
        'Operator:"Equals", Values:[]string{"x"}}}}: invalid label selector',
    ]


def test_deployment_strategy_and_template_rules() -> None:
    dep = deployment(
        {"matchLabels": {"a": "b"}}, {"a": "b"}, strategy={"type": "Recreate", "rollingUpdate": {}}
    )
    assert messages(validate_create(dep, "apps", "v1", "Deployment")) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    ]
    dep = deployment(
        {"matchLabels": {"a": "b"}},
        {"a": "b"},
        strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}},
    )
    assert messages(validate_create(dep, "apps", "v1", "Deployment")) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, "
        'StrVal:""}: may not be 0 when `maxSurge` is 0'
    ]
    dep = deployment({"matchLabels": {"a": "b"}}, {"a": "b"})
    dep["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    dep["spec"]["progressDeadlineSeconds"] = 0
    assert messages(validate_create(dep, "apps", "v1", "Deployment")) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        "spec.progressDeadlineSeconds: Invalid value: 0: must be greater than minReadySeconds",
    ]


def test_job_restart_policy_required() -> None:
    job = copy(JOB)
    del job["spec"]["template"]["spec"]["restartPolicy"]
    causes = validate_create(created_job(job), "batch", "v1", "Job")
    assert invalid("Job", "batch", "pi", causes).message == (
        'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: '
        '"OnFailure", "Never"'
    )


def test_job_selector_not_generated() -> None:
    job = created_job(JOB)
    job["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": "other"}}
    assert messages(validate_create(job, "batch", "v1", "Job")) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"
        '"batch.kubernetes.io/controller-uid":"other"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
        "`selector` not auto-generated",
        "spec.template.metadata.labels: Invalid value: map[string]string{"
        f'"batch.kubernetes.io/controller-uid":"{job["metadata"]["uid"]}", '
        '"batch.kubernetes.io/job-name":"pi", '
        f'"controller-uid":"{job["metadata"]["uid"]}", "job-name":"pi"}}: `selector` does not match '
        "template `labels`",
    ]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # robfig/cron/v3 ParseStandard errors, as the CronJob validation wraps them.
        ("hello", 'spec.schedule: Invalid value: "hello": expected exactly 5 fields, found 1: [hello]'),
        (
            "60 * * * *",
            'spec.schedule: Invalid value: "60 * * * *": end of range (60) above maximum (59): 60',
        ),
        (
            "* * 0 * *",
            'spec.schedule: Invalid value: "* * 0 * *": beginning of range (0) below minimum (1): 0',
        ),
        (
            "5-1 * * * *",
            'spec.schedule: Invalid value: "5-1 * * * *": beginning of range (5) beyond end of range (1): '
            "5-1",
        ),
        (
            "x * * * *",
            'spec.schedule: Invalid value: "x * * * *": failed to parse int from x: strconv.Atoi: parsing '
            '"x": '
            "invalid syntax",
        ),
        (
            "*/0 * * * *",
            'spec.schedule: Invalid value: "*/0 * * * *": step of range should be a positive number: */0',
        ),
        (
            "@fortnightly",
            'spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly',
        ),
        (
            "TZ=UTC 0 * * * *",
            'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use '
            "timeZone "
            "field instead",
        ),
        ("*/5 * * JAN-mar mon-fri", None),
        ("@hourly", None),
    ],
)
def test_cronjob_schedule(schedule: str, expected: str | None) -> None:
    cj = {
        "metadata": {"name": "cj"},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "OnFailure"}
                    }
                }
            },
        },
    }
    apply_defaults(cj, "batch", "v1", "CronJob")
    assert messages(validate_create(cj, "batch", "v1", "CronJob")) == ([expected] if expected else [])


def test_cronjob_template_restart_policy() -> None:
    cj = {
        "metadata": {"name": "cj"},
        "spec": {
            "schedule": "@daily",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}},
        },
    }
    apply_defaults(cj, "batch", "v1", "CronJob")
    assert messages(validate_create(cj, "batch", "v1", "CronJob")) == [
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", '
        '"Never"'
    ]


def test_service_validation() -> None:
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 443}], "type": "Bogus"}}
    apply_defaults(svc, "", "v1", "Service")
    assert messages(validate_create(svc, "", "v1", "Service")) == [
        "spec.ports[0].name: Required value",
        "spec.ports[1].name: Required value",
        'spec.type: Unsupported value: "Bogus": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", '
        '"NodePort"',
    ]
    ext = {"metadata": {"name": "s"}, "spec": {"type": "ExternalName"}}
    apply_defaults(ext, "", "v1", "Service")
    assert messages(validate_create(ext, "", "v1", "Service")) == ["spec.externalName: Required value"]
    dup = {
        "metadata": {"name": "s"},
        "spec": {"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
    }
    apply_defaults(dup, "", "v1", "Service")
    assert messages(validate_create(dup, "", "v1", "Service")) == [
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
        "AppProtocol:(*string)(nil), "
        'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    ]


def test_pvc_validation() -> None:
    pvc = {"metadata": {"name": "c"}, "spec": {}}
    apply_defaults(pvc, "", "v1", "PersistentVolumeClaim")
    assert messages(validate_create(pvc, "", "v1", "PersistentVolumeClaim")) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value",
    ]


def test_ingress_validation() -> None:
    # pkg/apis/networking/validation validateHTTPIngressPath / validateIngressBackend.
    ing = {
        "metadata": {"name": "i"},
        "spec": {
            "rules": [
                {
                    "host": "*.Example.com",
                    "http": {
                        "paths": [
                            {"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                            {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web"}}},
                        ]
                    },
                }
            ]
        },
    }
    assert messages(validate_create(ing, "networking.k8s.io", "v1", "Ingress")) == [
        'spec.rules[0].host: Invalid value: "*.Example.com": a wildcard DNS-1123 subdomain must start with '
        "'*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, "
        "'-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation "
        "is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        'spec.rules[0].http.paths[1].path: Invalid value: "api": must be an absolute path',
        "spec.rules[0].http.paths[1].backend: Required value: port name or number is required",
    ]
    assert messages(validate_create({"spec": {}}, "networking.k8s.io", "v1", "Ingress")) == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be "
        "specified"
    ]


# ============================================================================ update validation
POD_UPDATE_PREFIX = (
    "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
    "previously negative)\n  core.PodSpec{"
)


def pod_update(old: dict[str, Any], change) -> list[str]:
    new = copy(old)
    change(new["spec"])
    apply_defaults(new, "", "v1", "Pod")
    admit_update(old, new, "", "v1", "Pod")
    return messages(validate_update(old, new, "", "v1", "Pod"))


def test_pod_updates() -> None:
    old = valid_pod(activeDeadlineSeconds=100, terminationGracePeriodSeconds=-1)
    assert pod_update(old, lambda s: s["containers"][0].update(image="nginx:1.27")) == []
    assert pod_update(old, lambda s: s.update(activeDeadlineSeconds=50)) == []
    assert pod_update(old, lambda s: s.update(terminationGracePeriodSeconds=1)) == []
    assert pod_update(old, lambda s: s["tolerations"].append({"key": "k", "operator": "Exists"})) == []
    assert pod_update(old, lambda s: s.update(activeDeadlineSeconds=200)) == [
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
    ]
    assert pod_update(old, lambda s: s["containers"].append({"name": "b", "image": "x"})) == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    ]
    # DefaultTolerationSeconds puts its own tolerations back; a user's toleration may not go away.
    assert pod_update(old, lambda s: s["tolerations"].pop(0)) == []
    tolerant = valid_pod(tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}])
    assert pod_update(tolerant, lambda s: s["tolerations"].pop(0)) == [
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    ]
    (msg,) = pod_update(old, lambda s: s.update(nodeSelector={"disk": "ssd"}))
    assert msg.startswith(POD_UPDATE_PREFIX)
    assert '+ \tNodeSelector: {"disk":"ssd"},' in msg
    (msg,) = pod_update(old, lambda s: s["containers"][0].update(ports=[{"containerPort": 80}]))
    assert msg.startswith(POD_UPDATE_PREFIX)


def selector_update(kind: str, group: str, obj: dict[str, Any]) -> list[Cause]:
    new = copy(obj)
    new["spec"]["selector"] = {"matchLabels": {"app": "nginx2"}}
    new["spec"]["template"]["metadata"]["labels"] = {"app": "nginx2"}
    return validate_update(obj, new, group, "v1", kind)


def test_workload_selectors_are_immutable() -> None:
    dep = deployment({"matchLabels": {"app": "nginx"}}, {"app": "nginx"})
    causes = selector_update("Deployment", "apps", dep)
    # The message users know from `kubectl apply` after changing a Deployment's selector.
    assert invalid("Deployment", "apps", "nginx", causes).message == (
        'Deployment.apps "nginx" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"nginx2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
        "immutable"
    )
    for kind in ("ReplicaSet", "DaemonSet"):
        obj = copy(dep)
        del obj["spec"]["strategy"]
        apply_defaults(obj, "apps", "v1", kind)
        assert messages(selector_update(kind, "apps", obj))[-1].endswith(": field is immutable")
    same = copy(dep)
    same["spec"]["replicas"] = 3
    assert validate_update(dep, same, "apps", "v1", "Deployment") == []


def test_statefulset_update() -> None:
    sts = {
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    apply_defaults(sts, "apps", "v1", "StatefulSet")
    ok = copy(sts)
    ok["spec"]["replicas"] = 5
    ok["spec"]["template"]["spec"]["containers"][0]["image"] = "y"
    assert validate_update(sts, ok, "apps", "v1", "StatefulSet") == []
    bad = copy(sts)
    bad["spec"]["serviceName"] = "other"
    assert messages(validate_update(sts, bad, "apps", "v1", "StatefulSet")) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
        "'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]
    bad = copy(sts)
    bad["spec"]["revisionHistoryLimit"] = 3  # not yet mutable in 1.32
    assert len(validate_update(sts, bad, "apps", "v1", "StatefulSet")) == 1


def test_job_update() -> None:
    job = created_job(JOB)
    new = copy(job)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:5"
    (msg,) = messages(validate_update(job, new, "batch", "v1", "Job"))
    assert msg.startswith("spec.template: Invalid value: core.PodTemplateSpec")
    assert msg.endswith(": field is immutable")
    new = copy(job)
    new["spec"]["completionMode"] = "Indexed"
    assert 'spec.completionMode: Invalid value: "Indexed": field is immutable' in messages(
        validate_update(job, new, "batch", "v1", "Job")
    )
    # A suspended Job that never started may change its scheduling directives.
    suspended = copy(job)
    suspended["spec"]["suspend"] = True
    new = copy(suspended)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert validate_update(suspended, new, "batch", "v1", "Job") == []
    new = copy(job)
    new["spec"]["parallelism"] = 4
    assert validate_update(job, new, "batch", "v1", "Job") == []


def test_immutable_config_maps_and_secrets() -> None:
    # pkg/apis/core/validation ValidateConfigMapUpdate / ValidateSecretUpdate.
    cm = {"metadata": {"name": "c"}, "immutable": True, "data": {"a": "1"}}
    new = copy(cm)
    new["data"]["a"] = "2"
    assert messages(validate_update(cm, new, "", "v1", "ConfigMap")) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]
    new = copy(cm)
    new["immutable"] = False
    assert messages(validate_update(cm, new, "", "v1", "ConfigMap")) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"
    ]
    new = copy(cm)
    new["metadata"]["labels"] = {"x": "y"}
    assert validate_update(cm, new, "", "v1", "ConfigMap") == []
    mutable = {"metadata": {"name": "c"}, "data": {"a": "1"}}
    new = copy(mutable)
    new["immutable"] = True
    new["data"] = {"b": "2"}
    assert validate_update(mutable, new, "", "v1", "ConfigMap") == []
    secret = {"metadata": {"name": "s"}, "type": "Opaque", "immutable": True, "data": {"k": "dg=="}}
    new = copy(secret)
    new["type"] = "kubernetes.io/tls"
    new["data"] = {"tls.crt": "", "tls.key": ""}
    assert messages(validate_update(secret, new, "", "v1", "Secret")) == [
        'type: Invalid value: "kubernetes.io/tls": field is immutable',
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


def pvc(storage: str, phase: str = "Pending", **spec: Any) -> dict[str, Any]:
    obj = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}, **spec},
        "status": {"phase": phase},
    }
    apply_defaults(obj, "", "v1", "PersistentVolumeClaim")
    return obj


def test_pvc_updates() -> None:
    bound = pvc("1Gi", "Bound", storageClassName="standard", volumeName="pv-1")
    grown = copy(bound)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert validate_update(bound, grown, "", "v1", "PersistentVolumeClaim") == []
    shrunk = copy(bound)
    shrunk["spec"]["resources"]["requests"]["storage"] = "512Mi"
    assert messages(validate_update(bound, shrunk, "", "v1", "PersistentVolumeClaim")) == [
        "spec.resources.requests.storage: Forbidden: field can not be less than previous value"
    ]
    modes = copy(bound)
    modes["spec"]["accessModes"] = ["ReadWriteMany"]
    (msg,) = messages(validate_update(bound, modes, "", "v1", "PersistentVolumeClaim"))
    assert msg.startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests and "
        "volumeAttributesClassName for bound claims\n  core.PersistentVolumeClaimSpec{"
    )
    pending = pvc("1Gi", storageClassName="standard")
    bind = copy(pending)
    bind["spec"]["volumeName"] = "pv-9"  # the PV controller may set volumeName once
    assert validate_update(pending, bind, "", "v1", "PersistentVolumeClaim") == []


def test_pvc_resize_admission() -> None:
    bound = pvc("1Gi", "Bound", storageClassName="standard")
    grown = copy(bound)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    fixed = {"kind": "StorageClass", "metadata": {"name": "standard"}, "provisioner": "x"}
    with pytest.raises(StatusError) as ei:
        admit_update(bound, grown, "", "v1", "PersistentVolumeClaim", lookup=make_lookup(fixed))
    assert ei.value.message == (
        'persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized and the '
        "storageclass that provisions the pvc must support resize"
    )
    expandable = {**fixed, "allowVolumeExpansion": True}
    admit_update(bound, grown, "", "v1", "PersistentVolumeClaim", lookup=make_lookup(expandable))


def test_storage_class_and_role_binding_updates() -> None:
    sc = {"metadata": {"name": "fast"}, "provisioner": "a", "parameters": {"type": "ssd"}}
    apply_defaults(sc, "storage.k8s.io", "v1", "StorageClass")
    new = copy(sc)
    new.update(
        provisioner="b",
        parameters={"type": "hdd"},
        reclaimPolicy="Retain",
        volumeBindingMode="WaitForFirstConsumer",
    )
    assert messages(validate_update(sc, new, "storage.k8s.io", "v1", "StorageClass")) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "provisioner: Forbidden: updates to provisioner are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.",
        'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ]
    rb = {
        "metadata": {"name": "rb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    }
    new = copy(rb)
    new["roleRef"]["name"] = "edit"
    assert messages(validate_update(rb, new, "rbac.authorization.k8s.io", "v1", "RoleBinding")) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", '
        'Name:"edit"}: cannot change roleRef'
    ]


def service(**spec: Any) -> dict[str, Any]:
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}], **spec}}
    apply_defaults(svc, "", "v1", "Service")
    return svc


def test_service_update_keeps_allocated_values() -> None:
    old = service(
        clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack"
    )
    replaced = service()  # `kubectl replace` of the original manifest
    admit_update(old, replaced, "", "v1", "Service")
    assert replaced["spec"]["clusterIP"] == "10.96.0.10"
    assert replaced["spec"]["clusterIPs"] == ["10.96.0.10"]
    assert replaced["spec"]["ipFamilies"] == ["IPv4"]
    assert validate_update(old, replaced, "", "v1", "Service") == []
    changed = service(clusterIP="10.96.0.99")
    admit_update(old, changed, "", "v1", "Service")
    assert changed["spec"]["clusterIPs"] == ["10.96.0.99"]  # NormalizeClusterIPs
    assert messages(validate_update(old, changed, "", "v1", "Service")) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set'
    ]
    np_old = service(type="NodePort", clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    np_old["spec"]["ports"][0]["nodePort"] = 30080
    np_new = service(type="NodePort")
    admit_update(np_old, np_new, "", "v1", "Service")
    assert np_new["spec"]["ports"][0]["nodePort"] == 30080
    to_external = copy(old)
    to_external["spec"] = {
        "type": "ExternalName",
        "externalName": "example.com",
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "sessionAffinity": "None",
    }
    admit_update(old, to_external, "", "v1", "Service")
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"} & set(to_external["spec"])
    assert validate_update(old, to_external, "", "v1", "Service") == []


# ============================================================================ other admission
def test_pvc_protection_and_default_storage_class() -> None:
    classes = [
        {"metadata": {"name": "old", "creationTimestamp": "2024-01-01T00:00:00Z",
                      "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
        {"metadata": {"name": "new", "creationTimestamp": "2025-01-01T00:00:00Z",
                      "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}},
        {"metadata": {"name": "plain"}},
    ]  # fmt: skip
    claim = pvc("1Gi")
    admit_create(claim, "", "v1", "PersistentVolumeClaim", make_lookup(), list_objects=lambda k, ns: classes)
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert claim["spec"]["storageClassName"] == "new"
    explicit = pvc("1Gi", storageClassName="")
    admit_create(
        explicit, "", "v1", "PersistentVolumeClaim", make_lookup(), list_objects=lambda k, ns: classes
    )
    assert explicit["spec"]["storageClassName"] == ""
    pv = {"metadata": {"name": "pv"}, "spec": {}}
    admit_create(pv, "", "v1", "PersistentVolume", make_lookup())
    assert pv["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]


def test_daemonset_template_generation_annotation() -> None:
    ds = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }
    apply_defaults(ds, "apps", "v1", "DaemonSet")
    admit_create(ds, "apps", "v1", "DaemonSet", make_lookup())
    assert ds["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    new = copy(ds)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "y"
    admit_update(ds, new, "apps", "v1", "DaemonSet")
    assert new["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    same = copy(new)
    admit_update(new, same, "apps", "v1", "DaemonSet")
    assert same["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"


def test_admission_reads() -> None:
    assert admission_reads(pod(), "", "Pod") == (
        [("ServiceAccount", "ns", "default")],
        [("PriorityClass", "")],
    )
    assert admission_reads(pod(serviceAccountName="b", priorityClassName="high"), "", "Pod") == (
        [("ServiceAccount", "ns", "b"), ("PriorityClass", "", "high")],
        [],
    )
    assert admission_reads(pvc("1Gi"), "", "PersistentVolumeClaim") == ([], [("StorageClass", "")])
    bound = pvc("1Gi", "Bound", storageClassName="standard")
    assert admission_reads(bound, "", "PersistentVolumeClaim", old=bound) == (
        [("StorageClass", "", "standard")],
        [],
    )


# ============================================================================ robustness
_KEYS = st.sampled_from(
    [
        "spec", "template", "metadata", "containers", "initContainers", "volumes", "resources", "limits",
        "requests", "ports", "image", "name", "labels", "selector", "matchLabels", "matchExpressions",
        "strategy", "rollingUpdate", "maxSurge", "type", "schedule", "jobTemplate", "tolerations", "key",
        "operator", "clusterIP", "clusterIPs", "data", "immutable", "roleRef", "priorityClassName",
        "serviceAccountName", "automountServiceAccountToken", "volumeMounts", "status", "phase", "x",
    ]
)  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=30,
)
_KINDS = [
    ("", "Pod"), ("", "Service"), ("", "ConfigMap"), ("", "Secret"), ("", "PersistentVolumeClaim"),
    ("", "ReplicationController"), ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "DaemonSet"),
    ("apps", "StatefulSet"), ("batch", "Job"), ("batch", "CronJob"), ("storage.k8s.io", "StorageClass"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(old=st.dictionaries(_KEYS, _JSON, max_size=4), new=st.dictionaries(_KEYS, _JSON, max_size=4),
       gk=st.sampled_from(_KINDS))  # fmt: skip
def test_random_objects_only_raise_status_errors(
    old: dict[str, Any], new: dict[str, Any], gk: tuple[str, str]
) -> None:
    group, kind = gk
    for obj in (old, new):
        apply_defaults(obj, group, "v1", kind)
        try:
            admit_create(
                obj, group, "v1", kind, make_lookup(DEFAULT_SA), namespace="ns", list_objects=lambda k, n: []
            )
        except StatusError as e:
            assert e.code == 403
        assert all(isinstance(c, Cause) for c in validate_create(obj, group, "v1", kind))
    try:
        admit_update(old, new, group, "v1", kind, lookup=make_lookup())
    except StatusError as e:
        assert e.code == 403
    for c in validate_update(old, new, group, "v1", kind):
        assert isinstance(c, Cause) and isinstance(c.message, str)
    orjson.dumps(new)  # still JSON


_BASES: list[tuple[str, str, dict[str, Any]]] = [
    ("", "Pod", pod(initContainers=[{"name": "i", "image": "x"}], volumes=[{"name": "v", "emptyDir": {}}])),
    ("apps", "Deployment", deployment({"matchLabels": {"a": "b"}}, {"a": "b"})),
    ("batch", "Job", JOB),
    (
        "batch",
        "CronJob",
        {"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": JOB["spec"]}}},
    ),
    ("", "Service", service(type="NodePort", clusterIP="10.0.0.1", clusterIPs=["10.0.0.1"])),
    ("", "PersistentVolumeClaim", {"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"]}}),
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(_BASES),
    picks=st.lists(st.tuples(st.integers(0, 10_000), _JSON), min_size=1, max_size=4),
)
def test_mutated_realistic_objects(
    base: tuple[str, str, dict[str, Any]], picks: list[tuple[int, Any]]
) -> None:
    """Random values at random places of real objects: only 403 StatusErrors or causes come out."""
    group, kind, obj = base
    old = copy(obj)
    apply_defaults(old, group, "v1", kind)
    new = copy(old)
    for index, value in picks:
        paths = [p for p in _paths(new) if p]
        path = paths[index % len(paths)]
        target = new
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    for o in (copy(new), new):
        apply_defaults(o, group, "v1", kind)
    try:
        admit_create(copy(new), group, "v1", kind, make_lookup(DEFAULT_SA), namespace="ns")
    except StatusError as e:
        assert e.code == 403
    assert all(isinstance(c, Cause) for c in validate_create(new, group, "v1", kind))
    try:
        admit_update(old, new, group, "v1", kind, lookup=make_lookup())
    except StatusError as e:
        assert e.code == 403
    assert all(isinstance(c, Cause) for c in validate_update(old, new, group, "v1", kind))


def test_hugepages_names_for_containers_and_for_quotas() -> None:
    """IsStandardContainerResourceName takes `hugepages-*` only (IsHugePageResourceName), a quota
    also `requests.hugepages-*` (IsQuotaHugePageResourceName)."""
    assert _validate_container_resource_name("hugepages-2Mi", "r") == []
    causes = _validate_container_resource_name("requests.hugepages-2Mi", "r")
    assert [(c.field, c.message) for c in causes] == [
        ("r", 'Invalid value: "requests.hugepages-2Mi": must be a standard resource for containers')
    ]
    assert _validate_quota_resource_name("requests.hugepages-2Mi", "r") == []


def test_volume_source_messages_follow_upstream() -> None:
    """hostPath types are listed sorted (sets.List); an empty nfs path is Required and not absolute."""

    def pod(volume: dict[str, Any]) -> dict[str, Any]:
        return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}],
                                                    "volumes": [{"name": "v", **volume}]}}  # fmt: skip

    def volume_causes(volume: dict[str, Any]) -> list[Any]:
        obj = pod(volume)
        apply_defaults(obj, "", "v1", "Pod")
        return [c for c in validate_create(obj, "", "v1", "Pod") if c.field.startswith("spec.volumes")]

    causes = volume_causes({"hostPath": {"path": "/x", "type": "Dir"}})
    assert [c.message for c in causes] == [
        'Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", '
        '"DirectoryOrCreate", "File", "FileOrCreate", "Socket"'
    ]
    causes = volume_causes({"nfs": {"server": "s", "path": ""}})
    assert [(c.field, c.message) for c in causes] == [
        ("spec.volumes[0].nfs.path", "Required value"),
        ("spec.volumes[0].nfs.path", 'Invalid value: "": must be an absolute path'),
    ]
