"""kube-apiserver's audit flags (k8s.io/apiserver/pkg/server/options/audit.go, log backend): the
table both `vcluster apiserver`'s options and vcluster.yaml's
`controlPlane.distro.k8s.apiServer.extraArgs` are read from, their validation and defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

MODES = ("batch", "blocking", "blocking-strict")
FORMATS = ("legacy", "json")
GROUP_VERSIONS = ("audit.k8s.io/v1",)


class AuditConfigError(ValueError):
    """The audit flags or the policy file cannot be used (the message names the problem)."""


@dataclass(frozen=True)
class AuditOptions:
    policy_file: str = ""
    log_path: str = ""
    log_maxage: int = 0
    log_maxbackup: int = 0
    log_maxsize: int = 0
    log_compress: bool = False
    log_format: str = "json"
    log_mode: str = "blocking"
    log_batch_buffer_size: int = 10000
    log_batch_max_size: int = 1
    log_batch_max_wait: float = 0.0
    log_truncate_enabled: bool = False
    log_truncate_max_batch_size: int = 10 * 1024 * 1024
    log_truncate_max_event_size: int = 100 * 1024
    log_version: str = "audit.k8s.io/v1"

    @property
    def enabled(self) -> bool:
        """A policy and a backend: without either kube-apiserver records nothing."""
        return bool(self.policy_file and self.log_path)

    def validate(self) -> list[str]:
        """AuditLogOptions.Validate (only when the log backend is enabled, as upstream)."""
        if not self.log_path:
            return []
        errs = []
        if self.log_mode not in MODES:
            errs.append(f'invalid audit log mode {self.log_mode}, allowed modes are "{",".join(MODES)}"')
        elif self.log_mode == "batch":
            if self.log_batch_buffer_size <= 0:
                size = self.log_batch_buffer_size
                errs.append(f"invalid audit batch log buffer size {size}, must be a positive number")
            if self.log_batch_max_size <= 0:
                size = self.log_batch_max_size
                errs.append(f"invalid audit batch log max batch size {size}, must be a positive number")
        if self.log_truncate_max_event_size <= 0:
            errs.append(
                f"invalid audit truncate log max event size {self.log_truncate_max_event_size}, "
                "must be a positive number"
            )
        elif self.log_truncate_max_batch_size < self.log_truncate_max_event_size:
            errs.append(
                f"invalid audit truncate log max batch size {self.log_truncate_max_batch_size}, must be "
                f"greater than max event size ({self.log_truncate_max_event_size})"
            )
        if self.log_version not in GROUP_VERSIONS:
            errs.append(f'invalid group version, allowed versions are "[{" ".join(GROUP_VERSIONS)}]"')
        if self.log_format not in FORMATS:
            errs.append(
                f'invalid audit log format {self.log_format}, allowed formats are "{",".join(FORMATS)}"'
            )
        for flag, value in (
            ("maxage", self.log_maxage),
            ("maxbackup", self.log_maxbackup),
            ("maxsize", self.log_maxsize),
        ):
            if value < 0:
                errs.append(f"--audit-log-{flag} {value} can't be a negative number")
        return errs

    def under(self, base: Path) -> AuditOptions:
        """Relative policy and log paths taken as relative to `base` (a virtual cluster's data dir)."""
        changes: dict[str, Any] = {}
        for name in ("policy_file", "log_path"):
            value = getattr(self, name)
            if value and value != "-" and not Path(value).is_absolute():
                changes[name] = str(base / value)
        return replace(self, **changes)


def flag_name(attr: str) -> str:
    """`log_maxage` -> `audit-log-maxage`."""
    return "audit-" + attr.replace("_", "-")


FLAGS: dict[str, Any] = {flag_name(f.name): f for f in fields(AuditOptions)}

HELP = {
    "policy_file": "Path to the file that defines the audit policy configuration.",
    "log_path": "If set, all requests coming to the apiserver will be logged to this file. '-' means "
    "standard out. A relative path in vcluster.yaml's extraArgs is under the data directory.",
    "log_maxage": "The maximum number of days to retain old audit log files based on the timestamp "
    "encoded in their filename.",
    "log_maxbackup": "The maximum number of old audit log files to retain. Setting a value of 0 will mean "
    "there's no restriction on the number of files.",
    "log_maxsize": "The maximum size in megabytes of the audit log file before it gets rotated.",
    "log_compress": "If set, the rotated log files will be compressed using gzip.",
    "log_format": 'Format of saved audits. "legacy" indicates 1-line text format for each event. "json" '
    "indicates structured json format. Known formats are legacy,json.",
    "log_mode": "Strategy for sending audit events. Blocking and batch both hand events to a writer "
    "thread; batch drops events beyond the buffer size. Known modes are batch,blocking,blocking-strict.",
    "log_batch_buffer_size": "The size of the buffer to store events before batching and writing. Only "
    "used in batch mode.",
    "log_batch_max_size": "The maximum size of a batch. Only used in batch mode.",
    "log_batch_max_wait": "The amount of time to wait before force writing the batch that hadn't reached "
    "the max size. Only used in batch mode.",
    "log_truncate_enabled": "Whether event and batch truncating is enabled.",
    "log_truncate_max_batch_size": "Maximum size of the batch sent to the underlying backend.",
    "log_truncate_max_event_size": "Maximum size of the audit event sent to the underlying backend. If the "
    "size of an event is greater than this number, first request and response are removed, and if this "
    "doesn't reduce the size enough, event is discarded.",
    "log_version": "API group and version used for serializing audit events written to log.",
}

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    s = text.strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if m is None:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def convert(attr: str, raw: str) -> Any:
    """A flag's text as the option's type (pflag's parsing and messages)."""
    f = FLAGS[flag_name(attr)]
    default = getattr(AuditOptions(), f.name)
    if isinstance(default, bool):
        if raw.lower() in ("1", "t", "true"):
            return True
        if raw.lower() in ("0", "f", "false"):
            return False
        raise ValueError(f'invalid argument "{raw}" for "--{flag_name(attr)}" flag: strconv.ParseBool: '
                         f'parsing "{raw}": invalid syntax')  # fmt: skip
    if isinstance(default, int):
        try:
            return int(raw, 0)
        except ValueError:
            raise ValueError(
                f'invalid argument "{raw}" for "--{flag_name(attr)}" flag: strconv.ParseInt: parsing '
                f'"{raw}": invalid syntax'
            ) from None
    if isinstance(default, float):
        try:
            return parse_duration(raw)
        except ValueError as e:
            raise ValueError(f'invalid argument "{raw}" for "--{flag_name(attr)}" flag: {e}') from None
    return raw


def from_args(args: list[str]) -> tuple[AuditOptions, list[str]]:
    """The audit flags among kube-apiserver arguments (`--flag=value` or `--flag value`; a bool flag
    alone means true) and the arguments that are not audit flags. Raises AuditConfigError."""
    values: dict[str, Any] = {}
    others: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        name, eq, raw = arg.lstrip("-").partition("=")
        f = FLAGS.get(name) if arg.startswith("-") else None
        if f is None:
            others.append(arg)
            continue
        if not eq:
            if isinstance(getattr(AuditOptions(), f.name), bool):
                raw = "true"
            elif i < len(args):
                raw, i = args[i], i + 1
            else:
                raise AuditConfigError(f"flag needs an argument: --{name}")
        try:
            values[f.name] = convert(f.name, raw)
        except ValueError as e:
            raise AuditConfigError(str(e)) from None
    return AuditOptions(**values), others
