"""The local record of one virtual cluster (vcluster.json in its state directory) and its status."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vcluster.cli import paths, proc
from vcluster.fsutil import write_atomic

RECORD_FILE = "vcluster.json"

# Phases written by the CLI; the status shown is derived from the phase and the process.
CREATING, RUNNING, PAUSED, DELETING = "creating", "running", "paused", "deleting"


def context_name(name: str, namespace: str, parent: str) -> str:
    """vCluster's kube context name for a virtual cluster: `vcluster_<name>_<namespace>_<parent>`."""
    return f"vcluster_{name}_{namespace}_{parent}"


def parse_context_name(ctx: str) -> tuple[str, str, str] | None:
    """(name, namespace, parent context) of a `vcluster_...` context name, else None."""
    if not ctx.startswith("vcluster_"):
        return None
    parts = ctx.split("_", 3)
    if len(parts) != 4 or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3]


@dataclass
class Record:
    """What the CLI knows about one virtual cluster it runs."""

    name: str
    namespace: str
    host_context: str
    version: str = ""
    created: str = ""
    phase: str = CREATING
    pid: int = 0
    port: int = 0
    url: str = ""
    log_offset: int = 0
    namespace_created: bool = False
    values_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ locations
    @property
    def dir(self) -> Path:
        return paths.vcluster_dir(self.host_context, self.namespace, self.name)

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def log_path(self) -> Path:
        return self.dir / "vcluster.log"

    @property
    def pid_path(self) -> Path:
        return self.dir / "vcluster.pid"

    @property
    def host_kubeconfig(self) -> Path:
        return self.dir / "host.kubeconfig"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def lock_path(self) -> Path:
        return self.dir / ".lock"

    @property
    def context(self) -> str:
        return context_name(self.name, self.namespace, self.host_context)

    # ------------------------------------------------------------------ persistence
    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(dataclasses.asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        write_atomic(self.dir / RECORD_FILE, data + b"\n", 0o600)

    @classmethod
    def load(cls, path: Path) -> Record | None:
        try:
            raw = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(raw, dict):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError:
            return None

    # ------------------------------------------------------------------ process state
    @property
    def marker(self) -> str:
        """An argument only this virtual cluster's process has (its data dir)."""
        return str(self.data_dir)

    def running(self) -> bool:
        return proc.alive(self.pid, self.marker)

    def ready(self) -> bool:
        """The current run printed its ready line."""
        return proc.find_ready(self.log_path, self.log_offset, f"vcluster {self.name} ") is not None

    def status(self) -> str:
        """Running, Starting, Paused, Exited, Creating (never came up) or Deleting."""
        if self.phase == DELETING:
            return "Deleting"
        if self.running():
            return "Running" if self.ready() else "Starting"
        if self.phase == PAUSED:
            return "Paused"
        if self.phase == CREATING:
            return "Failed"
        return "Exited"


def find(host_context: str, name: str, namespace: str | None) -> list[Record]:
    """Records of `name` on a host (in `namespace`, or in any namespace when None)."""
    base = paths.vclusters_root() / paths.host_id(host_context)
    if namespace is not None:
        r = Record.load(base / namespace / name / RECORD_FILE)
        return [r] if r is not None else []
    out = []
    for f in sorted(base.glob(f"*/{name}/{RECORD_FILE}")):
        r = Record.load(f)
        if r is not None:
            out.append(r)
    return out


def all_on_host(host_context: str) -> list[Record]:
    base = paths.vclusters_root() / paths.host_id(host_context)
    out = []
    for f in sorted(base.glob(f"*/*/{RECORD_FILE}")):
        r = Record.load(f)
        if r is not None:
            out.append(r)
    return out
