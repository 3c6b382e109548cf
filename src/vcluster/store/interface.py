"""The storage interface the API layer talks to, and the values it exchanges.

A backend is a key-value store with a global, strictly increasing revision, as etcd and kine
provide: every write gets a new revision, which is the object's `resourceVersion`. The API layer
never sees SQL; a PostgreSQL or etcd backend implements `Storage` and plugs in unchanged.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"


class StoreError(Exception):
    """Base class of storage errors."""


class KeyExistsError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflictError(StoreError):
    """Compare-and-swap failed: the key's latest revision is not the expected one."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"revision conflict on {key}: expected {expected}, latest {actual}")
        self.key, self.expected, self.actual = key, expected, actual


class CompactedError(StoreError):
    """The requested revision is older than the oldest kept revision."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (compact revision {compacted})")
        self.requested, self.compacted = requested, compacted


class FutureRevisionError(StoreError):
    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested, self.current = requested, current


class StoreUnavailableError(StoreError):
    """The durable log failed; the write was not persisted."""


@dataclass(slots=True)
class Entry:
    """One key's state at `mod_rev`. `raw` is the object's JSON with `metadata.resourceVersion`
    already equal to `str(mod_rev)`, so it can be served without re-encoding."""

    key: str
    mod_rev: int
    create_rev: int
    raw: bytes
    labels: dict[str, str] | None
    lease: int = 0

    def decode(self) -> dict[str, Any]:
        """A fresh, caller-owned copy of the object."""
        return orjson.loads(self.raw)


@dataclass(slots=True)
class Event:
    """A committed change. For DELETED, `entry` is the last state re-stamped with the deletion's
    revision (what watchers are sent) and `prev` the state before."""

    type: str
    entry: Entry
    prev: Entry | None

    @property
    def rev(self) -> int:
        return self.entry.mod_rev

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass(slots=True)
class ListResult:
    entries: list[Entry]
    revision: int  # the snapshot revision the list was read at
    more: bool  # another page follows
    remaining: int | None  # entries after this page (None when unknown)


# A predicate on entries, used to filter lists (label selectors are checked on Entry.labels).
EntryFilter = Callable[[Entry], bool]


class WatchStream(abc.ABC):
    """Events with revision > the start revision for keys under a prefix, in revision order."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Event]: ...

    @abc.abstractmethod
    async def next(self, timeout: float | None) -> Event | None:
        """The next event, or None when `timeout` passes without one. Raises `CompactedError` if
        the stream fell too far behind, `StopAsyncIteration` once closed."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def set_sink(self, sink: Callable[[Event], bool], flush: Callable[[], bool] | None = None) -> bool:
        """Optionally deliver events by calling `sink` synchronously as they are published (returns
        False when the backend does not support it; events then come through `next`), and
        `flush()` once after each published batch that reached `sink`."""
        return False

    @property
    @abc.abstractmethod
    def last_revision(self) -> int:
        """The newest revision the stream is known to be complete up to (for bookmarks)."""


class Storage(abc.ABC):
    """What the API layer needs from a backend."""

    @property
    @abc.abstractmethod
    def revision(self) -> int:
        """The current (newest committed) revision."""

    @property
    @abc.abstractmethod
    def compact_revision(self) -> int: ...

    @abc.abstractmethod
    async def create(self, key: str, obj: dict[str, Any], *, lease: int = 0, dry_run: bool = False) -> Entry:
        """Store a new key; sets `obj.metadata.resourceVersion`. Raises KeyExistsError."""

    @abc.abstractmethod
    async def update(
        self, key: str, obj: dict[str, Any], *, expected_rev: int | None, dry_run: bool = False
    ) -> Entry:
        """Replace a key's value if its latest revision is `expected_rev` (None: unconditionally).
        Raises KeyNotFoundError or RevisionConflictError."""

    @abc.abstractmethod
    async def delete(self, key: str, *, expected_rev: int | None, dry_run: bool = False) -> Event:
        """Write a tombstone. Raises KeyNotFoundError or RevisionConflictError."""

    @abc.abstractmethod
    async def get(self, key: str) -> Entry | None: ...

    async def get_for_update(self, key: str) -> Entry | None:
        """The newest accepted state of a key, the base of a read-modify-write: a write to it may
        still be committing, and an update based on it is ordered after that write (reading the
        committed state instead would conflict until the commit lands). Defaults to `get`."""
        return await self.get(key)

    def get_now(self, key: str) -> Entry | None:
        """`get` for synchronous callers (authentication); backends that cache the live state
        serve it from memory, others cannot."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous reads")

    @abc.abstractmethod
    async def list(
        self,
        prefix: str,
        *,
        revision: int | None = None,
        start_after: str | None = None,
        limit: int = 0,
        match: EntryFilter | None = None,
    ) -> ListResult:
        """Latest entries under `prefix` in key order (at `revision` when given), after
        `start_after`, at most `limit` (0 = all) entries that pass `match`."""

    @abc.abstractmethod
    async def watch(self, prefix: str, since_rev: int) -> WatchStream:
        """Raises CompactedError when `since_rev` < compact revision and FutureRevisionError when it
        is newer than the current revision."""

    @abc.abstractmethod
    async def compact(self, target: int | None = None) -> int:
        """Drop history up to `target` (default: the backend's retention policy); returns the new
        compact revision."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def close_watches(self) -> None:
        """End every open watch stream (on shutdown)."""

    @property
    def writes_ordered_by_call(self) -> bool:
        """Whether a write called before another, even one not awaited yet, is committed before it
        or fails with it (the later one then fails too). False unless a backend promises it: a
        caller that needs the order then waits for the first write's answer."""
        return False

    @property
    def unavailable(self) -> str | None:
        """Why writes fail now (for the etcd health checks), or None while they go through."""
        return None

    def object_count(self) -> int:
        """Live keys (for metrics); -1 when the backend cannot tell cheaply."""
        return -1

    def watch_count(self) -> int:
        return -1


def prefix_end(prefix: str) -> str:
    """The smallest string greater than every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def extract_labels(obj: dict[str, Any]) -> dict[str, str] | None:
    md = obj.get("metadata")
    if not isinstance(md, dict):
        return None
    labels = md.get("labels")
    return labels if isinstance(labels, dict) and labels else None
