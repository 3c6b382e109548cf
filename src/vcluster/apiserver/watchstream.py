"""WATCH: newline-delimited events, selectors applied to old and new states, bookmarks, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from vcluster.apiserver import printers, views
from vcluster.apiserver.errors import StatusError, bad_request, too_large_rv
from vcluster.apiserver.request import Accept, query_int
from vcluster.apiserver.resources import ResourceType
from vcluster.apiserver.rest import Selection, collection_prefix, object_key, parse_rv
from vcluster.store.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    Entry,
    Event,
    FutureRevisionError,
    Storage,
)

BOOKMARK_INTERVAL = 15.0
MIN_REQUEST_TIMEOUT = 1800


class WatchRequest:
    def __init__(self, rt: ResourceType, namespace: str, query: Any, accept: Accept) -> None:
        self.rt = rt
        self.namespace = namespace
        self.accept = accept
        self.sel = Selection(rt, query)
        self.bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        rv_s = query.get("resourceVersion", "")
        self.rv = parse_rv(rv_s) if rv_s else None
        t = query_int(query, "timeoutSeconds")
        if t is not None:
            self.timeout = float(max(0, t))
        else:
            self.timeout = float(random.randint(MIN_REQUEST_TIMEOUT, 2 * MIN_REQUEST_TIMEOUT))
        sie = query.get("sendInitialEvents")
        rvm = query.get("resourceVersionMatch")
        self.send_initial: bool
        self.watch_list = False  # sendInitialEvents: end the initial events with a marked bookmark
        if sie is not None:
            if sie not in ("true", "false", "1", "0"):
                raise bad_request(f'invalid value for sendInitialEvents: "{sie}"')
            if rvm != "NotOlderThan":
                raise bad_request(
                    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                )
            self.send_initial = self.watch_list = sie in ("true", "1")
            if self.send_initial and not self.bookmarks:
                raise bad_request(
                    'ListOptions.meta.k8s.io "" is invalid: allowWatchBookmarks: Forbidden: '
                    "sendInitialEvents requires setting allowWatchBookmarks to true"
                )
        else:
            if rvm:
                raise bad_request(
                    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
                )
            # resourceVersion unset or "0": start with the current state as ADDED events.
            self.send_initial = self.rv in (None, 0)
        self.include_object = views.include_object_param(query) if accept.table else "Object"
        self.plain_accept = not (accept.table or accept.partial_metadata or accept.yaml)
        self.first_table = True
        self.converter: Any = None

    @property
    def plain(self) -> bool:
        """Events are the stored bytes as they are (no Table, view or conversion)."""
        return self.plain_accept and self.converter is None

    def prefix(self) -> str:
        name = self.sel.single_name()
        if name is not None and (self.namespace or not self.rt.namespaced):
            return object_key(self.rt, self.namespace, name)
        return collection_prefix(self.rt, self.namespace)

    def classify(self, ev: Event) -> str | None:
        """The event type this watcher sees, given selectors on the old and new state."""
        if self.sel.empty:
            return ev.type
        new_ok = ev.type != DELETED and self.sel.matches_entry(ev.entry)
        old_ok = ev.prev is not None and self.sel.matches_entry(ev.prev)
        if ev.type == DELETED:
            return DELETED if old_ok else None
        if new_ok:
            return MODIFIED if old_ok else ADDED
        return DELETED if old_ok else None

    def line(self, typ: str, entry: Entry) -> bytes:
        if self.accept.table or self.converter is not None or self.accept.partial_metadata:
            obj = entry.decode()
            if self.converter is not None:
                obj = self.converter(obj)
            if self.accept.table:
                build = views.custom_table if self.rt.custom is not None else _builtin_table
                table = build(
                    self.rt,
                    [obj],
                    datetime.now(UTC),
                    self.include_object,
                    {"resourceVersion": str(entry.mod_rev)},
                    self.first_table,
                )
                self.first_table = False
                return orjson.dumps({"type": typ, "object": table}) + b"\n"
            if self.accept.partial_metadata:
                obj = views.partial_metadata(obj)
            return orjson.dumps({"type": typ, "object": obj}) + b"\n"
        return b'{"type":"' + typ.encode() + b'","object":' + entry.raw + b"}\n"

    def bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        md: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            orjson.dumps(
                {
                    "type": "BOOKMARK",
                    "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version, "metadata": md},
                }
            )
            + b"\n"
        )


def error_line(code: int, reason: str, message: str) -> bytes:
    return (
        orjson.dumps(
            {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": message,
                    "reason": reason,
                    "code": code,
                },
            }
        )
        + b"\n"
    )


async def serve_watch(store: Storage, wr: WatchRequest, request: web.Request) -> web.StreamResponse:
    if wr.rv is not None and wr.rv > store.revision and not wr.send_initial:
        # kube-apiserver waits briefly for a future revision before giving up.
        deadline = time.monotonic() + 3
        while wr.rv > store.revision and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if wr.rv > store.revision:
            raise too_large_rv(wr.rv, store.revision)
    prefix = wr.prefix()
    initial: list[Entry] = []
    if wr.send_initial:
        res = await store.list(prefix, match=wr.sel.predicate())
        initial = res.entries
        start = res.revision
    else:
        start = wr.rv or 0
    local = getattr(request, "stream", None)  # an in-process watch (apiserver/local.py)
    resp: Any = (
        local
        if local is not None
        else web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
    )
    resp.enable_chunked_encoding()
    try:
        watcher = await store.watch(prefix, start)
    except CompactedError as e:
        await resp.prepare(request)
        await resp.write(
            error_line(410, "Expired", f"too old resource version: {e.requested} ({e.compacted})")
        )
        await resp.write_eof()
        return resp
    except FutureRevisionError as e:
        raise too_large_rv(e.requested, e.current) from None
    try:
        await resp.prepare(request)
        if initial:
            await resp.write(b"".join(wr.line(ADDED, e) for e in initial))
        if wr.watch_list:
            await resp.write(wr.bookmark(start, initial_end=True))
        if wr.plain:
            _attach_sink(watcher, wr, request)
        await _pump(watcher, wr, resp)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    except StatusError as e:
        with contextlib.suppress(Exception):
            await resp.write(error_line(e.code, e.reason, e.message))
    finally:
        watcher.close()
    with contextlib.suppress(Exception):
        await resp.write_eof()
    return resp


# A watch whose client has this much unsent data is too slow; it is ended (kube-apiserver drops
# watchers that cannot keep up) and the client re-watches.
MAX_UNSENT = 16 * 1024 * 1024


def _attach_sink(watcher: Any, wr: WatchRequest, request: web.Request) -> None:
    """Write plain JSON events straight to the connection from the publishing loop: with many
    watchers this saves a task wake-up per watcher per event. The lines of one published batch
    (a group commit) go out together: one HTTP/1.1 chunk, one TLS record and one send per watcher,
    or one item of an in-process watch's queue."""
    lines: list[bytes] = []

    def sink(ev: Event) -> bool:
        typ = wr.classify(ev)
        if typ is not None:
            lines.append(b'{"type":"' + typ.encode() + b'","object":' + ev.entry.raw + b"}\n")
        return True

    local = getattr(request, "stream", None)
    if local is not None:

        def local_flush() -> bool:
            if local.closed:
                return False
            if lines:
                data = b"".join(lines)
                lines.clear()
                local.push(data)
            return bool(local.pending < MAX_UNSENT)

        watcher.set_sink(sink, local_flush)
        return
    transport = request.transport
    if transport is None:
        return

    def flush() -> bool:
        if transport.is_closing():
            return False
        if lines:
            data = b"".join(lines)
            lines.clear()
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))  # one HTTP/1.1 chunk
        return transport.get_write_buffer_size() < MAX_UNSENT

    watcher.set_sink(sink, flush)


async def _pump(watcher: Any, wr: WatchRequest, resp: web.StreamResponse) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wr.timeout
    next_bookmark = loop.time() + BOOKMARK_INTERVAL
    transport = resp._req.transport if resp._req is not None else None
    while True:
        now = loop.time()
        if now >= deadline:
            return
        if transport is not None and transport.is_closing():
            return
        if getattr(resp, "closed", False) is True:  # an in-process client went away
            return
        wait = min(deadline, next_bookmark) - now
        try:
            ev = await watcher.next(wait)
        except CompactedError as e:
            await resp.write(
                error_line(410, "Expired", f"too old resource version: {e.requested} ({e.compacted})")
            )
            return
        except StopAsyncIteration:
            return
        if ev is None:
            if wr.bookmarks and loop.time() >= next_bookmark:
                await resp.write(wr.bookmark(watcher.last_revision))
                next_bookmark = loop.time() + BOOKMARK_INTERVAL
            continue
        batch = [ev, *watcher.drain_ready()]
        out = []
        for e in batch:
            typ = wr.classify(e)
            if typ is not None:
                out.append(wr.line(typ, e.entry))
        if out:
            await resp.write(b"".join(out))


def _builtin_table(
    rt: Any,
    objs: list[dict[str, Any]],
    now: datetime,
    include_object: str,
    list_meta: dict[str, Any],
    with_columns: bool,
) -> dict[str, Any]:
    return printers.build_table(rt.group, rt.plural, objs, now, include_object, list_meta, with_columns)
