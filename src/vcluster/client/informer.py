"""Informers: a list+watch cache of one resource with event handlers and indexes, shared by key."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from vcluster.client.client import Client, selector_str
from vcluster.client.errors import ApiError
from vcluster.jsonbytes import lasting_dumps

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace or "", name)
Handler = Callable[[str, dict[str, Any], dict[str, Any] | None], None]
IndexFunc = Callable[[dict[str, Any]], list[str]]
Transform = Callable[[dict[str, Any]], dict[str, Any]]

SHORT_WATCH = 1.0  # a watch that ends this fast without any event counts as a failure (backoff)


def obj_key(obj: Mapping[str, Any]) -> Key:
    """The cache key of an object: (namespace or "", name)."""
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def _rv(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def strip_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A transform that drops metadata.managedFields (often half an object's size) from cached objects."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


class Backoff:
    """Exponential delays from `base` doubling up to `cap`, with up to 20% jitter (never above cap)."""

    def __init__(self, base: float = 0.2, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        d = self.base * (2 ** min(self.failures, 32))
        self.failures += 1
        return min(self.cap, d * random.uniform(1.0, 1.2))

    def reset(self) -> None:
        self.failures = 0


class InformerSyncError(TimeoutError):
    """An informer did not complete its first list (`informer`; `refused`: the server refused it,
    else the wait timed out); the message says which list and the last error."""

    def __init__(self, informer: Informer, *, refused: bool) -> None:
        self.informer = informer
        self.refused = refused
        self.cause = informer.first_list_error
        where = f"{informer.plural}" + (f" in namespace {informer.namespace!r}" if informer.namespace else "")
        why = ""
        if isinstance(self.cause, ApiError):
            why = self.cause.message or self.cause.reason or str(self.cause.status)
        elif self.cause is not None:
            why = str(self.cause) or type(self.cause).__name__
        if refused:
            msg = f"cannot list {where}: {why}"
        else:
            msg = f"listing {where} did not complete" + (f" (last error: {why})" if why else "")
        super().__init__(msg)


class Informer:
    """A local cache of one resource kept current by LIST + WATCH, with synchronous event handlers.

    Handlers are called as ``handler(event, obj, old)`` with event "add" (old None), "update"
    (old = previous cached object; on resync obj is old) or "delete" (obj = last known state, old =
    the cached object or None). Cached objects are shared with handlers: treat them as read-only.
    The informer lists in pages, watches from the list resourceVersion with bookmarks (tracking the
    last seen resourceVersion), relists on 410 (diffing against the cache so handlers see adds,
    updates and deletes), reconnects when nothing arrived for ``silence_timeout`` seconds, and backs
    off exponentially (0.2 s .. 30 s) on errors. It runs until stop().

    With ``compact`` the cache holds each object as its JSON bytes (a third of the memory of the
    dict or less) and every read decodes a fresh copy: for kinds that are numerous and seldom
    read back, such as events.
    """

    def __init__(
        self,
        client: Client,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | Mapping[str, str] | None = None,
        resync_seconds: float | None = None,
        silence_timeout: float = 60.0,
        page_size: int = 500,
        watch_timeout: int = 300,
        min_backoff: float = 0.2,
        max_backoff: float = 30.0,
        transform: Transform | None = None,
        compact: bool = False,
    ) -> None:
        self.client = client
        self.compact = compact
        self.api_version = api_version
        self.plural = plural
        self.namespace = namespace or None
        self.label_selector = selector_str(label_selector)
        self.field_selector = selector_str(field_selector)
        self.resync_seconds = resync_seconds
        self.silence_timeout = silence_timeout
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.transform = transform
        self.name = f"{api_version}/{plural}" + (f"@{namespace}" if namespace else "")
        self._backoff = Backoff(min_backoff, max_backoff)
        # values are dicts, or JSON bytes when compact (read them through _load)
        self._cache: dict[Key, Any] = {}
        self._by_ns: dict[str, dict[Key, Any]] = {}
        # wait_until(): per key, (predicate on the cached object or None, future to resolve)
        self._key_waiters: dict[Key, list[tuple[Callable[[dict[str, Any] | None], bool], Any]]] = {}
        self._handlers: list[Handler] = []
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[Key]]] = {}
        self._index_values: dict[str, dict[Key, list[str]]] = {}
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._rv = ""
        self._need_list = True
        # why the first list has not succeeded yet, and since when (for wait_synced's callers)
        self.first_list_error: Exception | None = None
        self._failing_since: float | None = None
        # Metrics.
        self.lists_total = 0
        self.watches_total = 0
        self.events_total = 0
        self.errors_total = 0
        self.handler_errors_total = 0
        self.last_sync_time: float | None = None

    # ------------------------------------------------------------------ public API

    def add_handler(self, handler: Handler) -> None:
        """Register a callback; objects already cached are replayed to it as "add" events."""
        self._handlers.append(handler)
        for v in list(self._cache.values()):
            self._call(handler, "add", self._load(v), None)

    def remove_handler(self, handler: Handler) -> None:
        """Stop calling `handler` (a controller that is switched off)."""
        with contextlib.suppress(ValueError):
            self._handlers.remove(handler)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Maintain an index `name`: fn(obj) -> the values under which obj is found by by_index."""
        if name in self._index_funcs:
            raise ValueError(f"index {name!r} already exists on informer {self.name}")
        self._index_funcs[name] = fn
        self._indices[name] = {}
        self._index_values[name] = {}
        for key, v in self._cache.items():
            self._index_add(name, key, self._load(v))

    def has_index(self, name: str) -> bool:
        return name in self._index_funcs

    def by_index(self, index_name: str, value: str) -> list[dict[str, Any]]:
        return list(self.iter_index(index_name, value))

    def iter_index(self, index_name: str, value: str) -> Iterator[dict[str, Any]]:
        """The objects of by_index(), lazily (over a snapshot of the keys)."""
        keys = self._indices[index_name].get(value)
        for k in list(keys) if keys else ():
            v = self._cache.get(k)
            if v is not None:
                yield self._load(v)

    def _load(self, v: Any) -> dict[str, Any]:
        """A cached value as the object (decoded when compact)."""
        return orjson.loads(v) if self.compact else v  # type: ignore[no-any-return]

    def _cached(self, key: Key) -> dict[str, Any] | None:
        v = self._cache.get(key)
        return v if v is None or not self.compact else orjson.loads(v)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self._cached((namespace or "", name))

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """All cached objects, or those of one namespace."""
        values = self._cache.values() if namespace is None else self._by_ns.get(namespace, {}).values()
        return [orjson.loads(v) for v in values] if self.compact else list(values)

    def keys(self) -> list[Key]:
        return list(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    @property
    def resource_version(self) -> str:
        """The last resourceVersion seen (list, event or bookmark)."""
        return self._rv

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    async def start(self) -> None:
        """Start listing and watching in the background (idempotent)."""
        self._start()

    def _start(self) -> None:
        if self.running:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name=f"informer {self.name}")]
        if self.resync_seconds:
            self._tasks.append(loop.create_task(self._resync_loop(), name=f"informer resync {self.name}"))

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait for the first complete list; raises TimeoutError after `timeout` seconds."""
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that arrives
        # as the awaited thing completes (an in-process request completes at once)
        async with asyncio.timeout(timeout):
            await self._synced.wait()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ loop

    async def _run(self) -> None:
        while True:
            listed = False
            try:
                if self._need_list:
                    await self._list()
                    listed = True
                if await self._watch():
                    self._backoff.reset()
                    continue
                delay = self._backoff.next()
                log.debug("informer %s: watch ended early; rewatching in %.2fs", self.name, delay)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                self.errors_total += 1
                self._note_first_list_failure(e)
                if e.gone and not listed:
                    # The watch's resourceVersion is too old: relist right away (a 410 straight
                    # after a fresh list would loop, so that case backs off below).
                    log.info("informer %s: %s; relisting", self.name, e.message or e.reason)
                    self._need_list = True
                    continue
                if e.status != 0:
                    self._need_list = True  # the server said something unusual: start over cleanly
                delay = self._backoff.next()
                self._log_failure(str(e), delay)
            except Exception as e:
                self.errors_total += 1
                self._note_first_list_failure(e)
                self._need_list = True
                delay = self._backoff.next()
                log.exception("informer %s: unexpected error; retrying in %.1fs", self.name, delay)
            await asyncio.sleep(delay)

    def _note_first_list_failure(self, e: Exception) -> None:
        if self._synced.is_set():
            return
        self.first_list_error = e
        if self._failing_since is None:
            self._failing_since = time.monotonic()

    def refused_for(self) -> float:
        """Seconds the server has been refusing this informer's first list as unauthorized,
        forbidden or not served (0 once it has listed, or while it fails for other reasons)."""
        e = self.first_list_error
        if self._synced.is_set() or not isinstance(e, ApiError) or e.status not in (401, 403, 404):
            return 0.0
        return time.monotonic() - (self._failing_since or time.monotonic())

    def _log_failure(self, what: str, delay: float) -> None:
        n = self._backoff.failures
        level = logging.WARNING if n == 1 or n % 10 == 0 else logging.DEBUG
        log.log(level, "informer %s: %s; retrying in %.1fs (failure %d)", self.name, what, delay, n)

    async def _list(self) -> None:
        self.lists_total += 1
        items, rv = await self.client.list_all(
            self.api_version,
            self.plural,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size,
        )
        self._replace(items)
        self._rv = rv
        self._need_list = False
        self.first_list_error = self._failing_since = None
        self.last_sync_time = time.time()
        self._synced.set()

    async def _watch(self) -> bool:
        """One watch from the current RV; True if it delivered something or lasted a while."""
        self.watches_total += 1
        started = time.monotonic()
        got = False
        timeout = int(self.watch_timeout * (1 + random.random()))
        events = self.client.watch(
            self.api_version,
            self.plural,
            self.namespace,
            resource_version=self._rv,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            allow_bookmarks=True,
            timeout_seconds=timeout,
        )
        try:
            while True:
                try:
                    async with asyncio.timeout(self.silence_timeout):
                        etype, obj = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    log.info(
                        "informer %s: nothing received for %.0fs; reconnecting",
                        self.name,
                        self.silence_timeout,
                    )
                    return True
                got = True
                self._event(etype, obj)
        finally:
            await events.aclose()
        return got or time.monotonic() - started >= SHORT_WATCH

    # ------------------------------------------------------------------ cache updates

    def _event(self, etype: str, obj: dict[str, Any]) -> None:
        rv = _rv(obj)
        if etype == "BOOKMARK":
            if rv:
                self._rv = rv
            return
        self.events_total += 1
        obj.setdefault("apiVersion", self.api_version)
        if self.transform is not None:
            obj = self.transform(obj)
        key = obj_key(obj)
        if etype in ("ADDED", "MODIFIED"):
            old = self._cached(key)
            self._put(key, obj, old)
            self._emit("add" if old is None else "update", obj, old)
        elif etype == "DELETED":
            old = self._remove(key)
            self._emit("delete", obj, old)
        else:
            log.warning("informer %s: unknown watch event type %r", self.name, etype)
        if rv:
            self._rv = rv

    def _replace(self, items: list[dict[str, Any]]) -> None:
        """Make the cache equal to a fresh list, emitting the differences."""
        fresh: dict[Key, dict[str, Any]] = {}
        for obj in items:
            if self.transform is not None:
                obj = self.transform(obj)
            fresh[obj_key(obj)] = obj
        for key in [k for k in self._cache if k not in fresh]:
            old = self._remove(key)
            if old is not None:
                self._emit("delete", old, old)
        for key, obj in fresh.items():
            old = self._cached(key)
            if old is None:
                self._put(key, obj, None)
                self._emit("add", obj, None)
            elif _rv(old) != _rv(obj) or not _rv(obj):
                self._put(key, obj, old)
                self._emit("update", obj, old)

    def _put(self, key: Key, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is not None:
            for name in self._index_funcs:
                self._index_remove(name, key)
        stored = lasting_dumps(obj) if self.compact else obj
        self._cache[key] = stored
        self._by_ns.setdefault(key[0], {})[key] = stored
        for name in self._index_funcs:
            self._index_add(name, key, obj)
        if self._key_waiters:
            self._wake(key)

    def _wake(self, key: Key) -> None:
        waiters = self._key_waiters.get(key)
        if not waiters:
            return
        cur = self._cached(key)
        for pred, fut in waiters:
            if not fut.done():
                try:
                    ok = pred(cur)
                except Exception:
                    ok = True  # a broken predicate must not leave its caller waiting
                if ok:
                    fut.set_result(None)

    async def wait_until(
        self,
        name: str,
        namespace: str | None,
        pred: Callable[[dict[str, Any] | None], bool],
        timeout: float,
    ) -> bool:
        """Wait (at most `timeout` seconds) until `pred(cached object or None)` holds for one key,
        woken by the cache updates of that key (no polling). True when it held in time."""
        key = (namespace or "", name)
        if pred(self._cached(key)):
            return True
        fut = asyncio.get_running_loop().create_future()
        entry = (pred, fut)
        self._key_waiters.setdefault(key, []).append(entry)
        try:
            async with asyncio.timeout(timeout):
                await fut
            return True
        except TimeoutError:
            return bool(pred(self._cached(key)))
        finally:
            waiters = self._key_waiters.get(key)
            if waiters is not None:
                waiters.remove(entry)
                if not waiters:
                    del self._key_waiters[key]

    def _remove(self, key: Key) -> dict[str, Any] | None:
        v = self._cache.pop(key, None)
        if v is None:
            return None
        old = self._load(v)
        ns = self._by_ns.get(key[0])
        if ns is not None:
            ns.pop(key, None)
            if not ns:
                del self._by_ns[key[0]]
        for name in self._index_funcs:
            self._index_remove(name, key)
        if self._key_waiters:
            self._wake(key)
        return old

    def _index_add(self, name: str, key: Key, obj: dict[str, Any]) -> None:
        try:
            values = list(self._index_funcs[name](obj) or [])
        except Exception:
            log.exception("informer %s: index %r failed on %s/%s", self.name, name, *key)
            values = []
        if not values:
            return
        self._index_values[name][key] = values
        index = self._indices[name]
        for v in values:
            index.setdefault(v, set()).add(key)

    def _index_remove(self, name: str, key: Key) -> None:
        values = self._index_values[name].pop(key, None)
        if not values:
            return
        index = self._indices[name]
        for v in values:
            keys = index.get(v)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[v]

    def _emit(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for h in self._handlers:
            self._call(h, event, obj, old)

    def _call(self, h: Handler, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        try:
            h(event, obj, old)
        except Exception:
            self.handler_errors_total += 1
            log.exception("informer %s: %s handler failed for %s/%s", self.name, event, *obj_key(obj))

    async def _resync_loop(self) -> None:
        assert self.resync_seconds
        while True:
            await asyncio.sleep(self.resync_seconds)
            if not self._synced.is_set():
                continue
            for v in list(self._cache.values()):
                obj = self._load(v)
                self._emit("update", obj, obj)


class SharedInformers:
    """One Informer per (api_version, plural, namespace, selectors), shared by all controllers.

    Informers requested after start() are started immediately.
    """

    def __init__(
        self,
        client: Client,
        resync_seconds: float | None = None,
        *,
        silence_timeout: float = 60.0,
        page_size: int = 500,
        transform: Transform | None = None,
    ) -> None:
        self.client = client
        self.resync_seconds = resync_seconds
        self.silence_timeout = silence_timeout
        self.page_size = page_size
        self.transform = transform
        self._informers: dict[tuple[str, str, str | None, str | None, str | None], Informer] = {}
        self._started = False

    def informer(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        *,
        label_selector: str | Mapping[str, str] | None = None,
        field_selector: str | Mapping[str, str] | None = None,
        compact: bool = False,
    ) -> Informer:
        """The shared informer for these arguments; `compact` (see Informer) applies when this call
        creates it."""
        key = (api_version, plural, namespace, selector_str(label_selector), selector_str(field_selector))
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(
                self.client,
                api_version,
                plural,
                namespace,
                label_selector=key[3],
                field_selector=key[4],
                resync_seconds=self.resync_seconds,
                silence_timeout=self.silence_timeout,
                page_size=self.page_size,
                transform=self.transform,
                compact=compact,
            )
            self._informers[key] = inf
            if self._started:
                inf._start()
        return inf

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        self._started = True
        for inf in list(self._informers.values()):
            inf._start()

    async def wait_synced(self, timeout: float | None = None, *, refused_grace: float | None = None) -> None:
        """Wait until every informer (including ones added meanwhile) has listed once.

        Raises InformerSyncError naming an informer that has not listed: after `timeout` seconds,
        or, with `refused_grace`, as soon as the server has refused one's list for that long (401,
        403, 404: waiting longer will not help unless someone changes the host)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            pending = [i for i in self._informers.values() if not i.has_synced]
            if not pending:
                return
            if refused_grace is not None:
                refused = [i for i in pending if i.refused_for() >= refused_grace]
                if refused:
                    raise InformerSyncError(refused[0], refused=True)
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise InformerSyncError(pending[0], refused=False)
            step = left if refused_grace is None else min(left if left is not None else 1.0, 1.0)
            waits = asyncio.ensure_future(asyncio.gather(*(i.wait_synced() for i in pending)))
            try:
                await asyncio.wait({waits}, timeout=step)
            finally:
                if not waits.done():
                    waits.cancel()
                    await asyncio.gather(waits, return_exceptions=True)

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(i.stop() for i in self._informers.values()))
