"""Asynchronous core/v1 Event recording with client-go style aggregation (count + lastTimestamp).

Events never block the caller: they go through a bounded queue (dropped when full, like
client-go's broadcaster) to a few writer tasks; events with the same key always go to the same
writer, so a repeated event patches the count of the first one instead of creating another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from vcluster.client import ApiError, Client
from vcluster.hostsim.podstatus import rfc3339
from vcluster.tasks import cancel_and_wait

log = logging.getLogger("vcluster.hostsim.events")

_MAX_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class Source:
    """Who reports: component (`kubelet`, `default-scheduler`) and host/instance."""

    component: str
    host: str = ""
    instance: str = ""


def object_ref(obj: dict[str, Any], field_path: str = "") -> dict[str, Any]:
    """An ObjectReference to `obj` (kind/apiVersion from the object, Pod by default)."""
    md = obj.get("metadata") or {}
    ref: dict[str, Any] = {"kind": obj.get("kind") or "Pod"}
    if md.get("namespace"):
        ref["namespace"] = md["namespace"]
    ref["name"] = md.get("name", "")
    if md.get("uid"):
        ref["uid"] = md["uid"]
    ref["apiVersion"] = obj.get("apiVersion") or "v1"
    if md.get("resourceVersion"):
        ref["resourceVersion"] = md["resourceVersion"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    """Posts Events for objects; `event()` is synchronous and never raises."""

    def __init__(self, client: Client, *, workers: int = 8, queue_size: int = 10000) -> None:
        self.client = client
        self._queues: list[asyncio.Queue[tuple[Any, ...]]] = [
            asyncio.Queue(maxsize=max(1, queue_size // max(1, workers))) for _ in range(max(1, workers))
        ]
        self._seen: OrderedDict[tuple[Any, ...], tuple[str, str, int]] = (
            OrderedDict()
        )  # key -> ns, name, count
        self._tasks: list[asyncio.Task[None]] = []
        self._last_ns = 0
        self.posted_total = 0
        self.dropped_total = 0
        self.errors_total = 0

    def event(
        self,
        ref: dict[str, Any],
        etype: str,
        reason: str,
        message: str,
        source: Source,
        *,
        action: str = "",
    ) -> None:
        """Queue an event about the object `ref` (an ObjectReference, see object_ref)."""
        key = (
            ref.get("namespace", ""),
            ref.get("kind", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("fieldPath", ""),
            etype,
            reason,
            message,
            source.component,
            source.host,
        )
        q = self._queues[zlib.crc32(repr(key[:4]).encode()) % len(self._queues)]
        try:
            q.put_nowait((key, ref, etype, reason, message, source, action, time.time()))
        except asyncio.QueueFull:
            self.dropped_total += 1

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._work(q), name="hostsim events") for q in self._queues]

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued events are written (for shutdown and tests)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)), timeout)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(tasks)

    async def _work(self, q: asyncio.Queue[tuple[Any, ...]]) -> None:
        while True:
            item = await q.get()
            try:
                await self._write(*item)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                self.errors_total += 1
                log.debug("event %s for %s not written: %s", item[3], item[1].get("name"), e)
            except Exception:
                self.errors_total += 1
                log.exception("event %s for %s not written", item[3], item[1].get("name"))
            finally:
                q.task_done()

    def _name(self, base: str, now: float) -> str:
        ns = max(int(now * 1e9), self._last_ns + 1)
        self._last_ns = ns
        return f"{base}.{ns:x}"

    async def _write(
        self,
        key: tuple[Any, ...],
        ref: dict[str, Any],
        etype: str,
        reason: str,
        message: str,
        source: Source,
        action: str,
        now: float,
    ) -> None:
        ns = ref.get("namespace") or "default"
        ts = rfc3339(now)
        seen = self._seen.get(key)
        if seen is not None:
            ev_ns, ev_name, count = seen
            try:
                await self.client.patch(
                    "v1",
                    "events",
                    ev_name,
                    {"count": count + 1, "lastTimestamp": ts},
                    namespace=ev_ns,
                    patch_type="merge",
                )
                self._remember(key, (ev_ns, ev_name, count + 1))
                self.posted_total += 1
                return
            except ApiError as e:
                if not e.not_found:
                    raise
                self._seen.pop(key, None)
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": self._name(ref.get("name", "event"), now), "namespace": ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": {"component": source.component, **({"host": source.host} if source.host else {})},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "type": etype,
            "reportingComponent": source.component,
            "reportingInstance": source.instance or source.host,
        }
        if action:
            body["action"] = action
        created = await self.client.create("v1", "events", body, namespace=ns)
        self._remember(key, (ns, created["metadata"]["name"], 1))
        self.posted_total += 1

    def _remember(self, key: tuple[Any, ...], value: tuple[str, str, int]) -> None:
        self._seen[key] = value
        self._seen.move_to_end(key)
        while len(self._seen) > _MAX_REMEMBERED:
            self._seen.popitem(last=False)
