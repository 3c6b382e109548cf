"""Pod Security Standards (k8s.io/pod-security-admission 1.32): the versioned checks, namespace
policies from labels, and PodSecurity's messages. Used by the API server's PodSecurity admission
(`apiserver/podsecurityadmission.py`) and by the syncer's `policies.podSecurityStandard`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.podsecurity.api import LATEST, LevelVersion
from vcluster.podsecurity.checks import Violation
from vcluster.podsecurity.registry import EVALUATOR, forbidden_detail

__all__ = ["LEVELS", "Violation", "check_pod", "event_message", "forbidden_message"]

Pod = Mapping[str, Any]
LEVELS = ("", "privileged", "baseline", "restricted")


def check_pod(pod: Pod, level: str) -> list[Violation]:
    """Violations of `pod` against a level at `latest` ("" or "privileged" allow everything)."""
    if level not in LEVELS:
        raise ValueError(f"unknown pod security level {level!r}")
    if level in ("", "privileged"):
        return []
    return EVALUATOR.evaluate(LevelVersion(level, LATEST), pod.get("metadata") or {}, pod.get("spec") or {})


def forbidden_message(pod: Pod, level: str) -> str | None:
    """`violates PodSecurity "<level>:latest": reason (detail), …` or None when allowed."""
    violations = check_pod(pod, level) if level else []
    if not violations:
        return None
    return f'violates PodSecurity "{level}:latest": ' + forbidden_detail(violations)


def event_message(pod: Pod, level: str) -> str | None:
    """The virtual-pod event text vCluster records: `Pod <n> is forbidden: pods "<n>" is forbidden: …`."""
    msg = forbidden_message(pod, level)
    if msg is None:
        return None
    name = (pod.get("metadata") or {}).get("name", "")
    return f'Pod {name} is forbidden: pods "{name}" is forbidden: {msg}'
