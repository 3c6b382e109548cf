"""Where the CLI keeps per-user state: `$XDG_DATA_HOME/vcluster` (default ~/.local/share/vcluster)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

LOCAL_HOST_CONTEXT = "vcluster-local-host"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def data_home() -> Path:
    """The CLI's data directory (not created here)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "vcluster"


def local_host_dir() -> Path:
    """State of the embedded host cluster: data/, host.log, host.pid, host.json."""
    return data_home() / "hosts" / "local"


def host_id(context: str) -> str:
    """A directory name for a host kube context (unsafe characters become `_`)."""
    safe = _UNSAFE.sub("_", context).strip(".") or "_"
    return safe[:200]


def vclusters_root() -> Path:
    return data_home() / "vclusters"


def vcluster_dir(host_context: str, namespace: str, name: str) -> Path:
    """The state directory of one virtual cluster: data/, vcluster.log, vcluster.pid, vcluster.json."""
    return vclusters_root() / host_id(host_context) / namespace / name


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` for the duration of the block; the lock file (and the
    directories created for it) are removed afterwards when nothing else was put beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            if all(p.name == path.name for p in path.parent.iterdir()):
                path.unlink(missing_ok=True)
                remove_empty_parents(path.parent, data_home())
        except OSError:
            pass
        os.close(fd)


def remove_empty_parents(path: Path, stop: Path) -> None:
    """Remove `path` and its parents while they are empty, up to (and including) `stop`."""
    p = path
    while p == stop or stop in p.parents:
        try:
            p.rmdir()
        except OSError:
            return
        if p == stop:
            return
        p = p.parent
