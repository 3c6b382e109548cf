"""Give freed memory back to the OS after large responses (glibc keeps it otherwise).

Multi-megabyte LIST bodies and their TLS copies are malloc'ed outside Python's allocator; glibc
raises its mmap threshold after the first such buffer is freed and then serves the next ones from
the heap, which it rarely shrinks. Measured with kbench's list phase: RSS 116 MB, 73 MB after
malloc_trim(0). So the heap is trimmed shortly after large buffers (a fixed mmap threshold was
tried too: it made LISTs 50% slower and kept the memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging

log = logging.getLogger("vcluster.memtrim")

LARGE = 1 << 20  # responses from this size on schedule a trim
_DELAY = 1.0

_libc: ctypes.CDLL | None = None
_pending: asyncio.TimerHandle | None = None


def _load() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name) if name else None
            if lib is not None and hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt"):
                _libc = lib
        except OSError:
            _libc = None
    return _libc


def _trim() -> None:
    global _pending
    _pending = None
    lib = _load()
    if lib is not None:
        lib.malloc_trim(0)


def released(nbytes: int) -> None:
    """A buffer of `nbytes` is about to be freed; trim the heap a little later if it was large."""
    global _pending
    if nbytes < LARGE or _pending is not None or _load() is None:
        return
    with contextlib.suppress(RuntimeError):
        _pending = asyncio.get_running_loop().call_later(_DELAY, _trim)
