"""Supervised background processes: spawn detached, find again by pid, wait for `ready`, stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

READY = re.compile(r"ready at (https://\S+); kubeconfig (\S+)")


@dataclass
class Spawned:
    """A process started by this CLI invocation (its Popen lets us see its exit code)."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int  # where this run's output starts in the log

    @property
    def pid(self) -> int:
        return self.popen.pid


def vcluster_command(*args: str) -> list[str]:
    """`python -m vcluster ARGS` with the interpreter running this CLI."""
    return [sys.executable, "-m", "vcluster", *args]


def spawn(argv: list[str], log_path: Path, pid_path: Path | None = None) -> Spawned:
    """Start `argv` in its own session with stdout+stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        offset = log.tell()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    if pid_path is not None:
        pid_path.write_text(f"{popen.pid}\n")
    return Spawned(popen, log_path, offset)


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether `pid` runs (not a zombie) and, where /proc tells, has `marker` among its arguments
    (guards against a recycled pid)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return marker is None
    if not Path("/proc").is_dir():
        return True
    if _zombie(pid):
        return False
    if marker is None:
        return True
    args = _cmdline(pid)
    if args is None:
        return False
    return not args or marker in args


def stop(pid: int | None, marker: str | None = None, timeout: float = 15.0) -> bool:
    """SIGTERM the process (and its session), SIGKILL after `timeout`; whether it was running."""
    if not alive(pid, marker):
        return False
    assert pid is not None
    _signal(pid, signal.SIGTERM)
    if _wait_gone(pid, marker, timeout):
        return True
    _signal(pid, signal.SIGKILL)
    _wait_gone(pid, marker, 5.0)
    return True


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait_gone(pid: int, marker: str | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        if not alive(pid, marker):
            return True
        time.sleep(0.05)
    return not alive(pid, marker)


def read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def find_ready(path: Path, offset: int, banner: str) -> tuple[str, str] | None:
    """(url, kubeconfig) of the `<banner> ready at URL; kubeconfig FILE` line after `offset`."""
    for line in read_from(path, offset).splitlines():
        if line.startswith(banner):
            m = READY.search(line)
            if m:
                return m.group(1), m.group(2)
    return None


class ExitedError(Exception):
    """The process ended before it printed its ready line."""

    def __init__(self, code: int | None, tail: str) -> None:
        super().__init__(f"exited with code {code}")
        self.code = code
        self.tail = tail


def last_error_line(text: str) -> str:
    """The most telling line of a failed start-up's output (the last `Error:`/exception line)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        low = ln.lower()
        if low.startswith(("error", "usage:")) or " error " in low or "exception" in low or "error:" in low:
            return ln
    return lines[-1] if lines else ""


def wait_ready(
    spawned: Spawned,
    banner: str,
    timeout: float,
    still_wanted: Callable[[], bool] | None = None,
) -> tuple[str, str]:
    """Poll the log for the ready line; ExitedError if the process ends, TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        found = find_ready(spawned.log_path, spawned.log_offset, banner)
        if found:
            return found
        code = spawned.popen.poll()
        if code is not None:
            found = find_ready(spawned.log_path, spawned.log_offset, banner)
            if found:
                return found
            raise ExitedError(code, read_from(spawned.log_path, spawned.log_offset)[-4000:])
        if time.monotonic() >= deadline or (still_wanted is not None and not still_wanted()):
            raise TimeoutError(banner)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def free_port(preferred: int = 0, bind: str = "127.0.0.1") -> int:
    """`preferred` when nothing listens there, else a port the kernel picks."""
    import socket

    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
            try:
                s.bind((bind, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port")
