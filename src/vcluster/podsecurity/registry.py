"""The versioned check registry of k8s.io/pod-security-admission/policy (registry.go), release-1.32.

Each check has one or more versions; a version applies from its minimum policy version up to the
next one. A restricted check may override baseline checks (skipped at the restricted level from
the versions it applies to). Policy versions newer than the newest check version, and `latest`,
evaluate as that newest version (v1.32): kube-apiserver 1.32 also caps them at its own version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from vcluster.podsecurity import checks as c
from vcluster.podsecurity.api import BASELINE, PRIVILEGED, RESTRICTED, LevelVersion
from vcluster.podsecurity.checks import CheckFn, Violation


class VersionedCheck(NamedTuple):
    """One version of a check: the first policy minor it applies to, and what it overrides."""

    minimum_minor: int
    check: CheckFn
    overrides: tuple[str, ...] = ()


class Check(NamedTuple):
    id: str
    level: str
    versions: tuple[VersionedCheck, ...]


_SECCOMP_BASELINE = "seccompProfile_baseline"
_CAPABILITIES_BASELINE = "capabilities_baseline"
_HOST_PATH = "hostPathVolumes"

CHECKS: tuple[Check, ...] = (
    Check("appArmorProfile", BASELINE, (VersionedCheck(0, c.app_armor),)),
    Check(_CAPABILITIES_BASELINE, BASELINE, (VersionedCheck(0, c.capabilities_baseline),)),
    Check("hostNamespaces", BASELINE, (VersionedCheck(0, c.host_namespaces),)),
    Check(_HOST_PATH, BASELINE, (VersionedCheck(0, c.host_path_volumes),)),
    Check("hostPorts", BASELINE, (VersionedCheck(0, c.host_ports),)),
    Check("privileged", BASELINE, (VersionedCheck(0, c.privileged),)),
    Check("procMount", BASELINE, (VersionedCheck(0, c.proc_mount),)),
    Check("seLinuxOptions", BASELINE, (VersionedCheck(0, c.selinux),)),
    Check(
        _SECCOMP_BASELINE,
        BASELINE,
        (VersionedCheck(0, c.seccomp_baseline_1_0), VersionedCheck(19, c.seccomp_baseline_1_19)),
    ),
    Check(
        "sysctls",
        BASELINE,
        (
            VersionedCheck(0, c.sysctls(c.SYSCTLS_1_0)),
            VersionedCheck(27, c.sysctls(c.SYSCTLS_1_27)),
            VersionedCheck(29, c.sysctls(c.SYSCTLS_1_29)),
            VersionedCheck(32, c.sysctls(c.SYSCTLS_1_32)),
        ),
    ),
    Check("windowsHostProcess", BASELINE, (VersionedCheck(0, c.windows_host_process),)),
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (
            VersionedCheck(8, c.allow_privilege_escalation_1_8),
            VersionedCheck(25, c.linux_only(c.allow_privilege_escalation_1_8)),
        ),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (
            VersionedCheck(22, c.capabilities_restricted_1_22, (_CAPABILITIES_BASELINE,)),
            VersionedCheck(25, c.linux_only(c.capabilities_restricted_1_22), (_CAPABILITIES_BASELINE,)),
        ),
    ),
    Check("restrictedVolumes", RESTRICTED, (VersionedCheck(0, c.restricted_volumes, (_HOST_PATH,)),)),
    Check("runAsNonRoot", RESTRICTED, (VersionedCheck(0, c.run_as_non_root),)),
    Check("runAsUser", RESTRICTED, (VersionedCheck(23, c.run_as_user),)),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (
            VersionedCheck(19, c.seccomp_restricted_1_19, (_SECCOMP_BASELINE,)),
            VersionedCheck(25, c.linux_only(c.seccomp_restricted_1_19), (_SECCOMP_BASELINE,)),
        ),
    ),
)


class Evaluator:
    """The checks of each level at each policy version (populate in registry.go)."""

    def __init__(self, checks: tuple[Check, ...] = CHECKS) -> None:
        self.max_minor = max(ch.versions[-1].minimum_minor for ch in checks)
        ordered = sorted(ch.id for ch in checks if ch.level == BASELINE) + sorted(
            ch.id for ch in checks if ch.level == RESTRICTED
        )
        self._baseline: list[tuple[CheckFn, ...]] = []
        self._restricted: list[tuple[CheckFn, ...]] = []
        for minor in range(self.max_minor + 1):
            at: dict[str, VersionedCheck] = {}
            levels: dict[str, str] = {}
            for ch in checks:
                current = [v for v in ch.versions if v.minimum_minor <= minor]
                if current:
                    at[ch.id], levels[ch.id] = current[-1], ch.level
            overridden = {o for i, v in at.items() if levels[i] == RESTRICTED for o in v.overrides}
            self._baseline.append(tuple(at[i].check for i in ordered if i in at and levels[i] == BASELINE))
            self._restricted.append(tuple(at[i].check for i in ordered if i in at and i not in overridden))

    def checks(self, lv: LevelVersion) -> tuple[CheckFn, ...]:
        """The checks a pod must pass at `lv` (none for privileged)."""
        if lv.level == PRIVILEGED:
            return ()
        minor = lv.version.minor
        if minor is None or minor > self.max_minor:
            minor = self.max_minor
        return (self._baseline if lv.level == BASELINE else self._restricted)[minor]

    def evaluate(self, lv: LevelVersion, meta: Mapping[str, Any], spec: Mapping[str, Any]) -> list[Violation]:
        """EvaluatePod: the violations of a pod's metadata and spec, in PodSecurity's check order."""
        return [v for check in self.checks(lv) if (v := check(meta, spec)) is not None]


EVALUATOR = Evaluator()


def forbidden_detail(violations: list[Violation]) -> str:
    """AggregateCheckResult.ForbiddenDetail: `reason (detail), reason, ...`."""
    return ", ".join(str(v) for v in violations)


def forbidden_reason(violations: list[Violation]) -> str:
    """AggregateCheckResult.ForbiddenReason: the reasons only (namespace-wide warnings)."""
    return ", ".join(v.reason for v in violations)
