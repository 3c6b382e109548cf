"""How simulated containers exit, declared on the pod (pure).

Two pod annotations in the hostsim's domain script the containers (they are copied to the host pod
by the syncer, so they work from a virtual cluster too), in the form of `cpu-usage` (usage.py): a
value for the pod's containers, `<container>=<value>` entries, or both, comma-separated:

* `hostsim.vcluster.loft.sh/exit-code`: the exit code (0-255) the container ends with, e.g. `"1"`,
  `"app=3"`, `"1,setup=0"`;
* `hostsim.vcluster.loft.sh/run-seconds`: how long it runs before it exits (a number >= 0), e.g.
  `"2"`, `"app=0.5,setup=3"`;
* `hostsim.vcluster.loft.sh/stop-seconds`: how long the process takes to exit on SIGTERM (a number
  >= 0; without it at once, exit code 0), when the kubelet stops the container (pod deletion, a
  changed image): it keeps running and ready meanwhile, and is killed (exit code 137) once the grace
  period ends first.

A value without a name applies to `spec.containers`; init containers (and sidecars: init containers
with restartPolicy Always) are scripted by name only. A container that is given an exit code or a
run time exits; one without runs as without annotations: an init container completes at once, a
sidecar and a container of a restartPolicy Always pod run until the pod stops, the others run
`run_seconds` (HostSimConfig, `--run-seconds`); without an exit code a container exits 0.
An entry that cannot be read or names no container of the pod is ignored and reported (the kubelet
cannot reject a pod: the simulated kubelet posts a Warning event on it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXIT_CODE_ANNOTATION = "hostsim.vcluster.loft.sh/exit-code"
RUN_SECONDS_ANNOTATION = "hostsim.vcluster.loft.sh/run-seconds"
STOP_SECONDS_ANNOTATION = "hostsim.vcluster.loft.sh/stop-seconds"
ANNOTATIONS = (EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION, STOP_SECONDS_ANNOTATION)
INVALID_REASON = "InvalidHostSimAnnotation"  # the Warning event's reason


@dataclass(frozen=True)
class Rule:
    """What one container does: run `run_for` seconds (None: until stopped), exit with `exit_code`;
    `restart` is the policy the kubelet applies to it (Always, OnFailure or Never); on SIGTERM it
    exits 0 after `stop_for` seconds."""

    run_for: float | None
    exit_code: int
    restart: str
    stop_for: float = 0.0

    def restarts(self, code: int) -> bool:
        return self.restart == "Always" or (self.restart == "OnFailure" and code != 0)


@dataclass(frozen=True)
class Script:
    """The parsed annotations of one pod."""

    exit_codes: dict[str, int] = field(default_factory=dict)
    run_seconds: dict[str, float] = field(default_factory=dict)
    default_exit: int | None = None
    default_run: float | None = None
    problems: tuple[str, ...] = ()
    stop_seconds: dict[str, float] = field(default_factory=dict)
    default_stop: float | None = None

    def rule(
        self, pod: Mapping[str, Any], kind: str, container: Mapping[str, Any], run_seconds: float
    ) -> Rule:
        """The rule of `container` (`kind`: `containers` or `initContainers`)."""
        name = str(container.get("name", ""))
        policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
        regular = kind == "containers"
        sidecar = not regular and container.get("restartPolicy") == "Always"
        code = self.exit_codes.get(name, self.default_exit if regular else None)
        run = self.run_seconds.get(name, self.default_run if regular else None)
        if regular:
            restart = policy
            if run is None and (code is not None or policy != "Always"):
                run = run_seconds
        elif sidecar:
            restart = "Always"
            if run is None and code is not None:
                run = run_seconds
        else:
            restart = "Never" if policy == "Never" else "OnFailure"
            if run is None:
                run = 0.0
        stop = self.stop_seconds.get(name, self.default_stop if regular else None)
        return Rule(run, code if code is not None else 0, restart, stop or 0.0)


def _annotations(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    ann = (pod.get("metadata") or {}).get("annotations")
    return ann if isinstance(ann, dict) else {}


def is_scripted(pod: Mapping[str, Any]) -> bool:
    """Whether the pod carries one of the annotations (cheap: three lookups)."""
    ann = _annotations(pod)
    return any(a in ann for a in ANNOTATIONS)


def _exit_code(text: str) -> int | None:
    try:
        code = int(text)
    except ValueError:
        return None
    return code if 0 <= code <= 255 else None


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _names(pod: Mapping[str, Any]) -> set[str]:
    spec = pod.get("spec") or {}
    return {
        str(c.get("name"))
        for kind in ("initContainers", "containers")
        for c in spec.get(kind) or []
        if isinstance(c, dict)
    }


def _parse(
    pod: Mapping[str, Any], key: str, what: str, convert: Any
) -> tuple[dict[str, Any], Any, list[str]]:
    """(by container, for every container, problems) of one annotation."""
    raw = _annotations(pod).get(key)
    if raw is None:
        return {}, None, []
    if not isinstance(raw, str):
        return {}, None, [f"annotation {key}: not a string; ignored"]
    named: dict[str, Any] = {}
    default: Any = None
    problems: list[str] = []
    known = _names(pod)
    for entry in raw.split(","):
        entry = entry.strip()
        name, sep, text = entry.rpartition("=")
        name, value = name.strip(), convert(text.strip())
        if value is None:
            problems.append(f'annotation {key}: "{entry}" is not {what}; ignored')
        elif sep and name not in known:
            problems.append(f'annotation {key}: "{entry}": the pod has no container "{name}"; ignored')
        elif sep:
            named[name] = value
        else:
            default = value
    return named, default, problems


def parse(pod: Mapping[str, Any]) -> Script | None:
    """The pod's script; None if it carries neither annotation."""
    if not is_scripted(pod):
        return None
    codes, code, p1 = _parse(pod, EXIT_CODE_ANNOTATION, "an exit code (an integer from 0 to 255)", _exit_code)
    runs, run, p2 = _parse(pod, RUN_SECONDS_ANNOTATION, "a number of seconds (0 or more)", _seconds)
    stops, stop, p3 = _parse(pod, STOP_SECONDS_ANNOTATION, "a number of seconds (0 or more)", _seconds)
    return Script(codes, runs, code, run, tuple(p1 + p2 + p3), stops, stop)
