"""What `EtcdStore` keeps in etcd and reads back past its cache: values stamped with their
revision, lists at an older revision, and history replayed by an etcd watch."""

from __future__ import annotations

import contextlib
from typing import Any

import orjson

from vcluster.store.etcdclient import (
    EtcdClient,
    EtcdCompacted,
    EtcdError,
    EtcdFutureRevision,
    KeyValue,
)
from vcluster.store.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    Entry,
    EntryFilter,
    Event,
    FutureRevisionError,
    ListResult,
    StoreUnavailableError,
    extract_labels,
    prefix_end,
)
from vcluster.store.logstore import _stamp

ALL = "\x00"  # as key and range_end: the whole keyspace
PAGE = 1000


def stamped(key: str, kv: KeyValue, rev: int | None = None) -> Entry:
    """The cache entry of a stored value: JSON objects get `metadata.resourceVersion` = the revision."""
    rev = kv.mod_revision if rev is None else rev
    try:
        obj = orjson.loads(kv.value)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):  # not ours (a shared etcd): served as it is
        return Entry(key, rev, kv.create_revision, kv.value, None, kv.lease)
    return Entry(key, rev, kv.create_revision, _stamp(obj, rev), extract_labels(obj), kv.lease)


def restamped(prev: Entry, rev: int) -> Entry:
    """A deleted key's last state with the deletion's revision (what watchers are sent)."""
    try:
        obj = orjson.loads(prev.raw)
    except orjson.JSONDecodeError:
        obj = None
    raw = _stamp(obj, rev) if isinstance(obj, dict) else prev.raw
    return Entry(prev.key, rev, prev.create_rev, raw, prev.labels, prev.lease)


def storage_bytes(obj: dict[str, Any]) -> bytes:
    """The value written to etcd: the object without its resourceVersion (kube's
    PrepareObjectForStorage); `obj` is left as it was."""
    md = obj.get("metadata")
    if isinstance(md, dict) and "resourceVersion" in md:
        rv = md.pop("resourceVersion")
        try:
            return orjson.dumps(obj)
        finally:
            md["resourceVersion"] = rv
    return orjson.dumps(obj)


def key_of(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


async def list_at(
    client: EtcdClient,
    prefix: str,
    revision: int,
    start_after: str | None,
    limit: int,
    match: EntryFilter | None,
    *,
    compacted: int,
    current: int,
) -> ListResult:
    """A snapshot older than the cache: from etcd, in pages (kube's paginated list at a revision)."""
    hi = prefix_end(prefix)
    cursor = start_after + "\x00" if start_after is not None and start_after >= prefix else prefix
    out: list[Entry] = []
    page = max(limit * 2, 256) if limit else PAGE
    while True:
        try:
            _, kvs, more = await client.range(cursor, hi, revision=revision, limit=page)
        except EtcdCompacted:
            raise CompactedError(revision, compacted) from None
        except EtcdFutureRevision:
            raise FutureRevisionError(revision, current) from None
        except EtcdError as e:
            raise StoreUnavailableError(f"cannot list {prefix}: {e}") from None
        for kv in kvs:
            key = key_of(kv.key)
            if key is None:
                continue
            e = stamped(key, kv)
            if match is not None and not match(e):
                continue
            if limit and len(out) >= limit:
                return ListResult(out, revision, True, None)
            out.append(e)
        if not more or not kvs:
            return ListResult(out, revision, False, None)
        cursor = kvs[-1].key.decode() + "\x00"


async def replay(client: EtcdClient, prefix: str, after: int, upto: int, *, compacted: int) -> list[Event]:
    """Ask etcd for the history: a watch over the whole keyspace from after+1, so that every
    revision up to `upto` arrives as an event and the end of the replay is known."""
    out: list[Event] = []
    try:
        async with contextlib.aclosing(client.watch(ALL, ALL, after + 1)) as stream:
            async for res in stream:
                if res.canceled:
                    if res.compact_revision:
                        raise CompactedError(after, max(res.compact_revision, compacted))
                    raise StoreUnavailableError(f"etcd canceled the replay: {res.cancel_reason}")
                newest = after
                for we in res.events:
                    rev = we.kv.mod_revision
                    newest = max(newest, rev)
                    key = key_of(we.kv.key)
                    if rev > upto or key is None or not key.startswith(prefix):
                        continue
                    prev = stamped(key, we.prev) if we.prev is not None else None
                    if we.deleted:
                        if prev is not None:
                            out.append(Event(DELETED, restamped(prev, rev), prev))
                    else:
                        created = we.kv.version == 1
                        out.append(
                            Event(
                                ADDED if created else MODIFIED,
                                stamped(key, we.kv),
                                None if created else prev,
                            )
                        )
                if newest >= upto:
                    return out
    except EtcdError as e:
        raise StoreUnavailableError(f"cannot replay history from etcd: {e}") from None
    return out
