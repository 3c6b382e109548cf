"""Pod Security Standards checks and PodSecurity's exact message format."""

from __future__ import annotations

import pytest

from vcluster.podsecurity import check_pod, event_message, forbidden_message


def pod(spec: dict, annotations: dict | None = None) -> dict:
    meta: dict = {"name": "p", "namespace": "default"}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec}


def ctr(name: str = "app", **sc: object) -> dict:
    out: dict = {"name": name, "image": "x"}
    if sc:
        out["securityContext"] = sc
    return out


RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        ctr(allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
    ],
    "volumes": [{"name": "c", "configMap": {"name": "c"}}, {"name": "e", "emptyDir": {}}],
}


def test_plain_pod_passes_baseline_and_fails_restricted_with_the_known_message() -> None:
    p = pod({"containers": [ctr("nginx")]})
    assert forbidden_message(p, "baseline") is None
    assert forbidden_message(p, "privileged") is None
    assert forbidden_message(p, "") is None
    assert forbidden_message(p, "restricted") == (
        'violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "nginx" must set '
        "securityContext.allowPrivilegeEscalation=false), "
        'unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )


def test_fully_restricted_pod_passes() -> None:
    assert check_pod(pod(RESTRICTED_OK), "restricted") == []


def test_baseline_violations_in_check_id_order() -> None:
    p = pod(
        {
            "hostNetwork": True,
            "hostPID": True,
            "containers": [
                ctr("x", privileged=True),
                ctr("y", privileged=True, capabilities={"add": ["SYS_ADMIN", "NET_ADMIN", "CHOWN"]}),
                {
                    "name": "z",
                    "image": "i",
                    "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 1, "hostPort": 443}],
                },
            ],
            "volumes": [{"name": "v", "hostPath": {"path": "/"}}],
        }
    )
    assert forbidden_message(p, "baseline") == (
        'violates PodSecurity "baseline:latest": '
        'non-default capabilities (container "y" must not include "NET_ADMIN", "SYS_ADMIN" in '
        "securityContext.capabilities.add), "
        "host namespaces (hostNetwork=true, hostPID=true), "
        'hostPath volumes (volume "v"), '
        'hostPort (container "z" uses hostPorts 443, 8080), '
        'privileged (containers "x", "y" must not set securityContext.privileged=true)'
    )
    assert event_message(p, "baseline").startswith(
        'Pod p is forbidden: pods "p" is forbidden: violates PodSecurity'
    )


@pytest.mark.parametrize(
    ("spec", "annotations", "want"),
    [
        (
            {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}, "containers": [ctr()]},
            None,
            'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")',
        ),
        (
            {"containers": [ctr()]},
            {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"},
            "forbidden AppArmor profile (annotation must not set AppArmor profile type to "
            '"container.apparmor.security.beta.kubernetes.io/app="unconfined"")',
        ),
        (
            {"containers": [ctr(procMount="Unmasked")]},
            None,
            'procMount (container "app" must not set securityContext.procMount to "Unmasked")',
        ),
        (
            {
                "securityContext": {"seLinuxOptions": {"type": "spc_t"}},
                "containers": [ctr(seLinuxOptions={"user": "u", "type": "x"})],
            },
            None,
            'seLinuxOptions (pod and container "app" set forbidden securityContext.seLinuxOptions: '
            'types "spc_t", "x"; user may not be set)',
        ),
        (
            {"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [ctr()]},
            None,
            'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
        ),
        (
            {
                "securityContext": {
                    "sysctls": [
                        {"name": "kernel.msgmax", "value": "1"},
                        {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                    ]
                },
                "containers": [ctr()],
            },
            None,
            "forbidden sysctls (kernel.msgmax)",
        ),
        (
            {"containers": [ctr(windowsOptions={"hostProcess": True})]},
            None,
            'hostProcess (container "app" must not set securityContext.windowsOptions.hostProcess=true)',
        ),
    ],
)
def test_single_baseline_checks(spec: dict, annotations: dict | None, want: str) -> None:
    assert [str(v) for v in check_pod(pod(spec, annotations), "baseline")] == [want]


def test_restricted_overrides_and_extra_checks() -> None:
    spec = {
        **RESTRICTED_OK,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 0,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [
            ctr(
                "init",
                allowPrivilegeEscalation=False,
                runAsNonRoot=False,
                capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]},
            )
        ],
        "volumes": [
            {"name": "h", "hostPath": {"path": "/"}},
            {"name": "n", "nfs": {"server": "s", "path": "/"}},
        ],
    }
    assert [str(v) for v in check_pod(pod(spec), "restricted")] == [
        'unrestricted capabilities (container "init" must not include "SYS_ADMIN" in '
        "securityContext.capabilities.add)",
        'restricted volume types (volumes "h", "n" use restricted volume types "hostPath", "nfs")',
        'runAsNonRoot != true (container "init" must not set securityContext.runAsNonRoot=false)',
        "runAsUser=0 (pod must not set runAsUser=0)",
    ]
    # baseline keeps its own hostPath / capabilities checks
    assert [v.reason for v in check_pod(pod(spec), "baseline")] == [
        "non-default capabilities",
        "hostPath volumes",
    ]


def test_windows_pods_are_exempt_from_linux_only_restricted_checks() -> None:
    p = pod({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True}, "containers": [ctr()]})
    assert check_pod(p, "restricted") == []


def test_unknown_level_rejected() -> None:
    with pytest.raises(ValueError, match="unknown pod security level"):
        check_pod(pod({"containers": []}), "strict")
