"""Levels, versions and namespace policies of Pod Security admission (k8s.io/pod-security-admission/api)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"
VALID_LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)

LABEL_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LEVEL_LABEL = LABEL_PREFIX + "enforce"
ENFORCE_VERSION_LABEL = LABEL_PREFIX + "enforce-version"
AUDIT_LEVEL_LABEL = LABEL_PREFIX + "audit"
AUDIT_VERSION_LABEL = LABEL_PREFIX + "audit-version"
WARN_LEVEL_LABEL = LABEL_PREFIX + "warn"
WARN_VERSION_LABEL = LABEL_PREFIX + "warn-version"

# Audit annotations (AuditAnnotationPrefix + key), as the plugin adds them to the audit event.
ENFORCED_POLICY_ANNOTATION = LABEL_PREFIX + "enforce-policy"
AUDIT_VIOLATIONS_ANNOTATION = LABEL_PREFIX + "audit-violations"
EXEMPTION_REASON_ANNOTATION = LABEL_PREFIX + "exempt"
ERROR_ANNOTATION = LABEL_PREFIX + "error"

_GO_MAX_INT = 2**63 - 1
_VERSION_RE = re.compile(r"v1\.([0-9]|[1-9][0-9]*)")


class Version(NamedTuple):
    """A policy version: `v1.<minor>`, or `latest` (minor None, newer than every other)."""

    minor: int | None

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"

    def older(self, other: Version) -> bool:
        if self.minor is None:
            return False
        return other.minor is None or self.minor < other.minor


LATEST = Version(None)


class LevelVersion(NamedTuple):
    """One mode's level and version, printed as `restricted:latest`."""

    level: str
    version: Version

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


class Policy(NamedTuple):
    """The enforce, audit and warn level/versions in effect for a namespace."""

    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion


class FieldError(NamedTuple):
    """field.Invalid of a namespace label: its path, the value and why."""

    path: str
    value: str
    detail: str


PRIVILEGED_LATEST = LevelVersion(PRIVILEGED, LATEST)
DEFAULT_POLICY = Policy(PRIVILEGED_LATEST, PRIVILEGED_LATEST, PRIVILEGED_LATEST)


def parse_level(level: str) -> tuple[str, str | None]:
    """ParseLevel: the level, or `restricted` and an error for anything else."""
    if level in VALID_LEVELS:
        return level, None
    return RESTRICTED, "must be one of " + ", ".join(VALID_LEVELS)


def parse_version(version: str) -> tuple[Version, str | None]:
    """ParseVersion: `latest` or `v1.x`; anything else is `latest` and an error."""
    if version == "latest":
        return LATEST, None
    m = _VERSION_RE.fullmatch(version)
    if m is None or int(m.group(1)) > _GO_MAX_INT:  # strconv.Atoi's range
        return LATEST, 'must be "latest" or "v1.x"'
    return Version(int(m.group(1))), None


def _label_path(label: str) -> str:
    return f"metadata.labels[{label}]"


def policy_to_evaluate(
    labels: Mapping[str, str] | None, defaults: Policy = DEFAULT_POLICY
) -> tuple[Policy, list[FieldError]]:
    """PolicyToEvaluate: the namespace's labels over the defaults. Always a usable policy: an invalid
    enforce level is `restricted`, an invalid audit or warn level `privileged` (fail open), an invalid
    version `latest`; the errors say which labels were wrong."""
    if not labels:
        return defaults, []
    errs: list[FieldError] = []
    modes = [defaults.enforce, defaults.audit, defaults.warn]
    for i, (level_label, version_label) in enumerate(
        (
            (ENFORCE_LEVEL_LABEL, ENFORCE_VERSION_LABEL),
            (AUDIT_LEVEL_LABEL, AUDIT_VERSION_LABEL),
            (WARN_LEVEL_LABEL, WARN_VERSION_LABEL),
        )
    ):
        level, version = modes[i]
        if (raw := labels.get(level_label)) is not None:
            level, err = parse_level(raw)
            if err is not None:
                errs.append(FieldError(_label_path(level_label), raw, err))
                if i > 0:
                    level = PRIVILEGED  # fail open for audit and warn
        if (raw := labels.get(version_label)) is not None:
            version, err = parse_version(raw)
            if err is not None:
                errs.append(FieldError(_label_path(version_label), raw, err))
        modes[i] = LevelVersion(level, version)
    return Policy(*modes), errs


def compare_levels(a: str, b: str) -> int:
    """CompareLevels: 0 when equal, -1 when `a` is less strict than `b`, +1 when stricter."""
    if a == b:
        return 0
    if a == PRIVILEGED:
        return -1
    if a == RESTRICTED:
        return 1
    if b == PRIVILEGED:
        return 1
    if b == RESTRICTED:
        return -1
    return 0
