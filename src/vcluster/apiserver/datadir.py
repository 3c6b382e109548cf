"""One process per data directory: an exclusive lock on `DIR/lock` (held while the process runs,
released by the OS when it dies, so a crash never leaves a stale lock), and the errors that name
what to fix when the directory cannot be used."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DataDirError(Exception):
    """The data directory cannot be used; the message says why and what to do."""


class DataDirLock:
    """Hold `DIR/lock` (flock, exclusive, non-blocking) for the life of the process."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise DataDirError(f"cannot use the data directory {self.path.parent}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DataDirError(
                f"the data directory {self.path.parent} is in use by {holder}: stop that process first "
                "(two processes on one state.db would corrupt it), or use another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the flock
            self._fd = None
