"""Pod Security admission pieces: versioned checks and overrides, namespace label parsing, the
existing-pods warnings, significant pod updates and the PodSecurityConfiguration."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcluster.apiserver import podsecurityadmission as psa
from vcluster.podsecurity.api import (
    LATEST,
    PRIVILEGED,
    RESTRICTED,
    FieldError,
    LevelVersion,
    Policy,
    Version,
    compare_levels,
    parse_version,
    policy_to_evaluate,
)
from vcluster.podsecurity.config import ConfigError, load_admission_config, parse_pod_security_configuration
from vcluster.podsecurity.registry import EVALUATOR, forbidden_detail


def reasons(level: str, minor: int | None, spec: dict, annotations: dict | None = None) -> list[str]:
    meta = {"annotations": annotations} if annotations else {}
    return [v.reason for v in EVALUATOR.evaluate(LevelVersion(level, Version(minor)), meta, spec)]


def test_restricted_checks_start_at_their_minimum_versions() -> None:
    spec = {"securityContext": {"runAsNonRoot": True}, "containers": [{"name": "c", "image": "x"}]}
    assert reasons("restricted", 7, spec) == []
    assert reasons("restricted", 8, spec) == ["allowPrivilegeEscalation != false"]
    assert reasons("restricted", 19, spec) == ["allowPrivilegeEscalation != false", "seccompProfile"]
    assert reasons("restricted", 22, spec) == [
        "allowPrivilegeEscalation != false",
        "unrestricted capabilities",
        "seccompProfile",
    ]
    # capabilities_restricted overrides capabilities_baseline from v1.22 on
    add = {"containers": [{"name": "c", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}
    assert "non-default capabilities" in reasons("restricted", 21, add)
    assert "non-default capabilities" not in reasons("restricted", 22, add)
    assert reasons("baseline", 22, add) == ["non-default capabilities"]


def test_windows_pods_are_exempt_from_three_restricted_checks_from_v1_25() -> None:
    spec = {
        "os": {"name": "windows"},
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "c", "image": "x"}],
    }
    assert reasons("restricted", 24, spec) == [
        "allowPrivilegeEscalation != false",
        "unrestricted capabilities",
        "seccompProfile",
    ]
    assert reasons("restricted", 25, spec) == []
    assert reasons("restricted", None, spec) == []


def test_seccomp_annotations_before_v1_19_and_fields_after() -> None:
    ann = {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    spec = {"containers": [{"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}]}
    v118 = EVALUATOR.evaluate(LevelVersion("baseline", Version(18)), {"annotations": ann}, spec)
    assert forbidden_detail(v118) == (
        'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")'
    )
    v119 = EVALUATOR.evaluate(LevelVersion("baseline", Version(19)), {"annotations": ann}, spec)
    assert forbidden_detail(v119) == (
        'seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined")'
    )


def test_sysctl_allow_lists_grow_by_version_and_newer_versions_cap_at_latest() -> None:
    spec = {"securityContext": {"sysctls": [{"name": n} for n in ("net.ipv4.ip_local_reserved_ports",)]}}
    assert reasons("baseline", 26, spec) == ["forbidden sysctls"]
    assert reasons("baseline", 27, spec) == []
    rmem = {"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem"}, {"name": "kernel.msgmax"}]}}
    assert forbidden_detail(EVALUATOR.evaluate(LevelVersion("baseline", Version(31)), {}, rmem)) == (
        "forbidden sysctls (net.ipv4.tcp_rmem, kernel.msgmax)"
    )
    assert forbidden_detail(EVALUATOR.evaluate(LevelVersion("baseline", Version(99)), {}, rmem)) == (
        "forbidden sysctls (kernel.msgmax)"
    )
    assert EVALUATOR.checks(LevelVersion(RESTRICTED, Version(40))) == EVALUATOR.checks(
        LevelVersion(RESTRICTED, LATEST)
    )
    assert EVALUATOR.checks(LevelVersion(PRIVILEGED, LATEST)) == ()


def test_labels_parse_as_upstream_with_fallbacks_for_invalid_values() -> None:
    policy, errs = policy_to_evaluate(
        {
            "pod-security.kubernetes.io/enforce": "strict",
            "pod-security.kubernetes.io/enforce-version": "v1.25",
            "pod-security.kubernetes.io/warn": "nope",
            "pod-security.kubernetes.io/audit-version": "1.30",
        }
    )
    assert policy == Policy(
        LevelVersion("restricted", Version(25)),  # invalid enforce: the strictest level
        LevelVersion("privileged", LATEST),  # invalid audit version: latest
        LevelVersion("privileged", LATEST),  # invalid warn: fail open
    )
    assert errs == [
        FieldError(
            "metadata.labels[pod-security.kubernetes.io/enforce]",
            "strict",
            "must be one of privileged, baseline, restricted",
        ),
        FieldError(
            "metadata.labels[pod-security.kubernetes.io/audit-version]", "1.30", 'must be "latest" or "v1.x"'
        ),
        FieldError(
            "metadata.labels[pod-security.kubernetes.io/warn]",
            "nope",
            "must be one of privileged, baseline, restricted",
        ),
    ]
    for bad in ("v1.01", "v2.0", "v1.", "V1.2", "latest ", "v1.99999999999999999999"):
        assert parse_version(bad)[1] is not None, bad
    assert parse_version("v1.0") == (Version(0), None)
    assert compare_levels("baseline", "restricted") == -1 and compare_levels("restricted", "privileged") == 1


def _pod(name: str, spec: dict, owner_uid: str | None = None) -> dict:
    meta: dict = {"name": name}
    if owner_uid:
        meta["ownerReferences"] = [{"uid": owner_uid, "controller": True, "kind": "ReplicaSet", "name": "rs"}]
    return {"metadata": meta, "spec": spec}


PRIV = {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}


def test_existing_pod_warnings_group_reasons_and_respect_the_pod_limit() -> None:
    pods = [_pod(f"r-{i}", PRIV, "rs1") for i in range(3)] + [
        _pod("solo", {"hostPID": True, "containers": []})
    ]
    lv = LevelVersion("baseline", LATEST)
    assert psa.evaluate_pods_in_namespace("ns", lv, pods) == [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
        "r-0 (and 2 other pods): privileged",
        "solo: host namespaces",
    ]
    # one pod per controller first: with a limit of 2 the second pod checked is `solo`
    assert psa.evaluate_pods_in_namespace("ns", lv, pods, max_pods=2) == [
        "new PodSecurity enforce level only checked against the first 2 of 4 existing pods",
        'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
        "r-0: privileged",
        "solo: host namespaces",
    ]
    assert psa.evaluate_pods_in_namespace("ns", lv, [_pod("fine", {"containers": []})]) == []


def test_significant_pod_updates() -> None:
    old = {"metadata": {}, "spec": {"containers": [{"name": "c", "image": "a"}]}}
    assert not psa.is_significant_pod_update({"metadata": {"labels": {"x": "y"}}, "spec": old["spec"]}, old)
    assert psa.is_significant_pod_update(
        {"metadata": {}, "spec": {"containers": [{"name": "c", "image": "b"}]}}, old
    )
    with_ephemeral = {
        "metadata": {},
        "spec": {**old["spec"], "ephemeralContainers": [{"name": "d", "image": "a"}]},
    }
    assert psa.is_significant_pod_update(with_ephemeral, old)
    assert not psa.is_significant_pod_update(with_ephemeral, with_ephemeral)
    seccomp = {
        "metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "x"}},
        "spec": old["spec"],
    }
    assert psa.is_significant_pod_update(seccomp, old)


def test_pod_security_configuration_defaults_validation_and_file_forms(tmp_path: Path) -> None:
    base = {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration"}
    cfg = parse_pod_security_configuration(
        {**base, "defaults": {"audit": "restricted", "audit-version": "v1.30"}}
    )
    assert cfg.defaults == Policy(
        LevelVersion("privileged", LATEST),
        LevelVersion("restricted", Version(30)),
        LevelVersion("privileged", LATEST),
    )
    with pytest.raises(ConfigError) as e:
        parse_pod_security_configuration(
            {**base, "exemptions": {"namespaces": ["ok", "Bad_NS", "ok"], "usernames": [""]}}
        )
    msg = str(e.value)
    assert 'exemptions.namespaces[1]: Invalid value: "Bad_NS"' in msg
    assert 'exemptions.namespaces[2]: Duplicate value: "ok"' in msg
    assert 'exemptions.usernames[0]: Invalid value: "": username must not be empty' in msg
    (tmp_path / "psa.yaml").write_text(
        "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
        "exemptions: {usernames: [alice]}\n"
    )
    (tmp_path / "admission.yaml").write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
        "plugins:\n- name: Other\n  path: nowhere.yaml\n- name: PodSecurity\n  path: psa.yaml\n"
    )
    assert load_admission_config(tmp_path / "admission.yaml").usernames == frozenset({"alice"})
    (tmp_path / "empty.yaml").write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\n"
    )
    assert load_admission_config(tmp_path / "empty.yaml") == psa.PodSecurityConfiguration()
