"""The audit log backend: event lines written by a thread of their own, so a request never waits for
the disk, to a file rotated as kube-apiserver's lumberjack.Logger rotates it (by --audit-log-maxsize
megabytes, 100 when 0; backups `NAME-2006-01-02T15-04-05.000.EXT` in UTC, pruned by
--audit-log-maxbackup and --audit-log-maxage days, gzipped with --audit-log-compress) or to stdout."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import queue
import shutil
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("vcluster.apiserver.audit")

MEGABYTE = 1024 * 1024
DEFAULT_MAX_SIZE_MB = 100  # lumberjack's default when MaxSize is 0
BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"


class RotatingFile:
    """lumberjack.Logger: appends, rotates before a write that would pass the size limit."""

    def __init__(
        self,
        path: Path,
        max_size_mb: int = 0,
        max_backups: int = 0,
        max_age_days: int = 0,
        compress: bool = False,
    ) -> None:
        self.path = path
        self.max = (max_size_mb or DEFAULT_MAX_SIZE_MB) * MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.compress = compress
        self._f: BinaryIO | None = None
        self.size = 0

    def ensure(self) -> None:
        """Create the directory (0700) and the file (0600) now, as kube's ensureLogFile: a path that
        cannot be written fails the start, not the first request."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        os.close(fd)

    def _open(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = -1
        if size >= 0 and size + incoming >= self.max:
            self._rotate()
            return
        self._f = open(self.path, "ab")  # noqa: SIM115 (kept open across writes)
        self.size = max(size, 0)

    def write(self, data: bytes) -> None:
        if len(data) > self.max:
            raise OSError(f"write length {len(data)} exceeds maximum file size {self.max}")
        if self._f is None:
            self._open(len(data))
        elif self.size + len(data) > self.max:
            self._rotate()
        assert self._f is not None
        self._f.write(data)
        self.size += len(data)

    def flush(self) -> None:
        if self._f is not None:
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def backup_name(self, now: datetime) -> Path:
        stem, ext = os.path.splitext(self.path.name)
        stamp = now.strftime(BACKUP_TIME_FORMAT) + f".{now.microsecond // 1000:03d}"
        return self.path.with_name(f"{stem}-{stamp}{ext}")

    def _rotate(self) -> None:
        self.close()
        mode = 0o600
        if self.path.exists():
            mode = self.path.stat().st_mode & 0o777
            now = datetime.now(UTC)
            while (dest := self.backup_name(now)).exists() or dest.with_name(dest.name + ".gz").exists():
                now += timedelta(milliseconds=1)  # two rotations within a millisecond keep both files
            os.replace(self.path, dest)
        fd = os.open(self.path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, mode)
        self._f = os.fdopen(fd, "ab")
        self.size = 0
        self._mill()

    def backups(self) -> list[tuple[datetime, Path]]:
        """The old log files, newest first."""
        stem, ext = os.path.splitext(self.path.name)
        out = []
        for p in self.path.parent.iterdir():
            name = p.name
            if not name.startswith(stem + "-"):
                continue
            for suffix in (ext, ext + ".gz"):
                if name.endswith(suffix):
                    stamp = name[len(stem) + 1 : len(name) - len(suffix)]
                    try:
                        t = datetime.strptime(stamp, BACKUP_TIME_FORMAT + ".%f").replace(tzinfo=UTC)
                    except ValueError:
                        continue
                    out.append((t, p))
                    break
        return sorted(out, reverse=True)

    def _mill(self) -> None:
        """millRunOnce: drop backups beyond the count and the age, compress the rest if asked."""
        if not (self.max_backups or self.max_age_days or self.compress):
            return
        files = self.backups()
        remove: list[Path] = []
        if self.max_backups:
            kept: list[tuple[datetime, Path]] = []
            for t, p in files:
                if len(kept) < self.max_backups:
                    kept.append((t, p))
                else:
                    remove.append(p)
            files = kept
        if self.max_age_days:
            cutoff = datetime.now(UTC) - timedelta(days=self.max_age_days)
            remove += [p for t, p in files if t < cutoff]
            files = [(t, p) for t, p in files if t >= cutoff]
        for p in remove:
            try:
                p.unlink()
            except OSError as e:
                log.warning("cannot remove the old audit log %s: %s", p, e)
        if self.compress:
            for _, p in files:
                if not p.name.endswith(".gz"):
                    _gzip(p)


def _gzip(p: Path) -> None:
    dest = p.with_name(p.name + ".gz")
    try:
        with open(p, "rb") as src, gzip.open(dest, "wb") as out:
            shutil.copyfileobj(src, out)
        p.unlink()
    except OSError as e:
        log.warning("cannot compress the old audit log %s: %s", p, e)


class _Stdout:
    def write(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)

    def flush(self) -> None:
        sys.stdout.buffer.flush()

    def close(self) -> None:
        self.flush()


class LogBackend:
    """Event lines to a writer thread, handed over once per event-loop iteration (one wake-up of the
    thread for all the lines of the iteration). Blocking (and blocking-strict) mode keeps every
    line; batch mode holds at most `buffer_size` lines and drops (with an error logged) beyond, as
    kube's buffered backend does, writing up to `max_batch` lines at once or after `max_wait`."""

    def __init__(
        self,
        sink: RotatingFile | _Stdout,
        *,
        batch: bool = False,
        buffer_size: int = 10000,
        max_batch: int = 1,
        max_wait: float = 30.0,
    ) -> None:
        self.sink = sink
        self.batch = batch
        self.buffer_size = buffer_size
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.dropped = 0
        self.queued = 0  # lines handed over or pending, not yet written (batch mode's buffer)
        self._last_drop_warning = 0.0
        self._pending: list[bytes] = []
        self._q: queue.SimpleQueue[list[bytes] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()

    @classmethod
    def to_path(cls, path: str, **kw: object) -> LogBackend:
        """The backend of --audit-log-path (`-`: stdout) with the rotation settings in `kw`."""
        keys = ("max_size_mb", "max_backups", "max_age_days", "compress")
        rotation = {k: kw.pop(k) for k in keys if k in kw}
        if path == "-":
            return cls(_Stdout(), **kw)  # type: ignore[arg-type]
        f = RotatingFile(Path(path), **rotation)  # type: ignore[arg-type]
        f.ensure()
        return cls(f, **kw)  # type: ignore[arg-type]

    def submit(self, line: bytes) -> None:
        if self.batch and self.queued >= self.buffer_size:
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_drop_warning > 10:
                self._last_drop_warning = now
                log.error("audit buffer queue blocked: %d events dropped so far", self.dropped)
            return
        self.queued += 1
        pending = self._pending
        pending.append(line)
        if len(pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self._hand_over)
            except RuntimeError:  # not on an event loop
                self._hand_over()

    def _hand_over(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self._q.put(lines)

    def _run(self) -> None:
        q = self._q
        while True:
            item = q.get()
            if item is None:
                break
            lines = list(item)
            done = self._gather(lines)
            step = self.max_batch if self.batch else max(len(lines), 1)
            for i in range(0, len(lines), step):  # batch mode: flushed every max_batch lines
                try:
                    for line in lines[i : i + step]:
                        self.sink.write(line)
                    self.sink.flush()
                except OSError as e:
                    log.error("cannot write the audit log: %s", e)
            self.queued -= len(lines)
            if done:
                break
        self.sink.close()

    def _gather(self, lines: list[bytes]) -> bool:
        """More queued lines for one write (in batch mode up to `max_batch`, waiting up to
        `max_wait` for them); True when the end marker came with them."""
        q = self._q
        deadline = time.monotonic() + self.max_wait if self.batch and self.max_batch > 1 else 0.0
        while not self.batch or len(lines) < self.max_batch:
            try:
                item = q.get_nowait() if not deadline else q.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                break
            if item is None:
                return True
            lines.extend(item)
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        self._hand_over()
        self._q.put(None)
        self._thread.join(timeout)
