"""Events flow from the host (spec §5.5): a host event about a synced object appears in the
virtual namespace of that object, named and worded with its virtual name; later host updates
(count, timestamps) follow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import orjson

from vcluster.client import ApiError, WorkQueue
from vcluster.jsonbytes import lasting_dumps
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.engine.nodes import log_decision
from vcluster.syncer.resources import event as eventres

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.event")

EVENTS_YIELD_SECONDS = 1.0
_INVOLVED_TRIES = 10  # 0.1 s, 0.2 s, ... apart: 5.5 s in all

# §5: the involved-object kinds whose host events are copied (core group; vCluster's table lists
# the misspelt kind `Endpoint`, here it is `Endpoints`), each while its to-host controller runs
INVOLVED_KINDS = frozenset(
    k.kind for k in (kinds.POD, kinds.SERVICE, kinds.SECRET, kinds.CONFIGMAP, kinds.ENDPOINTS)
)


def _kept(vevent: dict[str, Any]) -> bytes:
    """What a later count bump needs of the virtual event we wrote: its identity and resourceVersion
    (the patch precondition) and the fields a host update can change, as JSON (a few hundred
    bytes, where the same as a dict costs several times that, once per copied event)."""
    m = metadata.meta(vevent)
    out: dict[str, Any] = {"metadata": {k: m[k] for k in _KEPT_META if k in m}}
    for key in eventres.UPDATED_FIELDS:
        if key in vevent:
            out[key] = vevent[key]
    return lasting_dumps(out)


_KEPT_META = ("name", "namespace", "uid", "resourceVersion")


def _namespace_refused(e: ApiError) -> bool:
    """A create refused because the namespace is gone (404) or terminating (403 with the
    NamespaceTerminating cause): our namespace cache was behind."""
    causes = e.details.get("causes") or []
    terminating = any(isinstance(x, dict) and x.get("reason") == "NamespaceTerminating" for x in causes)
    return e.not_found or (e.forbidden and terminating)


class EventController:
    """Keyed by host event name; creates or patches the virtual copy."""

    name = "event"

    def __init__(self, engine: Syncer) -> None:
        self.engine = engine
        self.queue = WorkQueue("event", base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay)
        # host events are many (five per pod) and each is read back once: kept as JSON bytes
        self.hevents = engine.host_informers.informer("v1", "events", engine.ctx.host_namespace, compact=True)
        self.hevents.add_handler(self._on_host)
        # host event name -> the virtual event as we last wrote it (we are its only writer), so
        # a count bump on the host costs one PATCH and no GET
        self._written: dict[str, bytes] = {}
        self._waits: dict[str, int] = {}  # host event name -> looks for its involved object so far

    def stop(self) -> None:
        """Detach from the host events (event sync was switched off)."""
        self.hevents.remove_handler(self._on_host)
        self.queue.shutdown()

    def _on_host(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        name = metadata.meta(obj).get("name", "")
        if event == "delete":
            self._written.pop(name, None)
            self._waits.pop(name, None)
        else:
            self.queue.add(name)

    def _synced(self, kind: str) -> tuple[kinds.Kind | None, Any]:
        """The Kind of an involved-object kind name and its running SyncController, if any."""
        controller = self.engine.controller_for("", kind) if kind in INVOLVED_KINDS else None
        return (controller.ks.kind, controller) if controller is not None else (None, None)

    def _lookup(self, kind: str, host_name: str) -> dict[str, Any] | None:
        """The virtual object an event's involved host object stands for: the mappings store, else
        the host object's own annotations (spec §1.8) — a pod's first events can arrive before its
        mapping is saved, and were dropped when only the store was asked."""
        k, controller = self._synced(kind)
        if k is None or controller is None:
            return None
        hns = self.engine.ctx.host_namespace
        hit = self.engine.mapping_lookup(k, hns, host_name)  # the usual case: no host object read
        if hit is None:
            host = controller.hinf.get(host_name, hns)
            hit = metadata.reverse_lookup(self.engine.ctx, k, hns, host_name, host=host)
        if hit is None:
            return None
        return controller.vinf.get(hit[1], hit[0] or None)

    def _virtual_names(self, message: str, namespace: str, name: str) -> str:
        """The host names of what the pod references (ConfigMaps, Secrets, claims, ...) in a
        message, e.g. kubelet's `configmap "cfg-x-team-x-vc" not found`, as the user named them."""
        mapping = self.engine.mappings.get(kinds.POD, namespace, name)
        if mapping is None:
            return message
        for ref in sorted(mapping.references, key=lambda r: -len(r.host_name)):
            if ref.host_name and ref.host_name in message:
                message = message.replace(
                    f"{ref.host_namespace}/{ref.host_name}", f"{ref.namespace}/{ref.name}"
                )
                message = message.replace(ref.host_name, ref.name)
        return message

    def _wait_for_involved(self, host_name: str, hevent: dict[str, Any]) -> None:
        """An event about a host object of a synced kind that is not in our cache yet (the events
        and the objects come by separate watches) is looked at again a few times, then dropped."""
        inv = hevent.get("involvedObject") or {}
        _, controller = self._synced(inv.get("kind", ""))
        hns = self.engine.ctx.host_namespace
        if (
            controller is None
            or inv.get("namespace") != hns
            or controller.hinf.get(inv.get("name", ""), hns) is not None  # cached, and not ours
        ):
            self._waits.pop(host_name, None)
            return
        tries = self._waits.get(host_name, 0)
        if tries >= _INVOLVED_TRIES:
            return  # given up (kept, so that a resync does not start over; a change still counts)
        self._waits[host_name] = tries + 1
        self.queue.add_after(host_name, 0.1 * (tries + 1))

    async def run(self, workers: int) -> None:
        await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=workers)

    async def _pods_first(self) -> None:
        """Events are best effort (as kube's are): while pods wait to be synced, a copy waits too,
        up to a second, so that a burst's pods reach the host and come back Running first."""
        pods = self.engine.controllers.get("pods")
        if pods is None or pods.queue.idle.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EVENTS_YIELD_SECONDS):
                await pods.queue.idle.wait()

    def _namespace_closed(self, ns: str) -> bool:
        """The virtual namespace is missing or terminating: no event is created in it (§5.5)."""
        nsobj = self.engine.virtual_namespaces.get(ns)
        return nsobj is None or metadata.is_deleting(nsobj)

    async def reconcile(self, host_name: str) -> None:
        await self._pods_first()
        hevent = self.hevents.get(host_name, self.engine.ctx.host_namespace)
        if hevent is None:
            self._waits.pop(host_name, None)
            return
        want = eventres.translate_event(hevent, self.engine.ctx, self._lookup)
        if want is None:
            self._wait_for_involved(host_name, hevent)
            return
        self._waits.pop(host_name, None)
        inv = want.get("involvedObject") or {}
        if inv.get("kind") == "Pod" and want.get("message"):
            want["message"] = self._virtual_names(
                want["message"], inv.get("namespace", ""), inv.get("name", "")
            )
        m = metadata.meta(want)
        ns, name = m.get("namespace", ""), m.get("name", "")
        kept = self._written.get(host_name)
        current: dict[str, Any] | None = orjson.loads(kept) if kept is not None else None
        cm = metadata.meta(current) if current is not None else {}
        if (cm.get("namespace"), cm.get("name")) != (ns, name):
            current = None
        href = f"{self.engine.ctx.host_namespace}/{host_name}"
        if current is None:
            if self._namespace_closed(ns):
                log.debug(
                    "not copying host event %s: virtual namespace %s is missing or terminating", href, ns
                )
                return
            # most host events are new: create first, read only when it exists already
            try:
                self._written[host_name] = _kept(await self.engine.writer.create_virtual(kinds.EVENT, want))
                log_decision(log, "Create virtual", "event", f"{ns}/{name}", href)
                self.engine.metrics.syncs.labels("event", "create_virtual").inc()
                return
            except ApiError as e:
                if _namespace_refused(e):
                    log.debug("not copying host event %s: %s", href, e.message)
                    return
                if not e.already_exists:
                    raise
            current = await self.engine.virtual.get("v1", "events", name, ns)
        patch = eventres.event_update_patch(current, want)
        if patch:
            try:
                written = await self.engine.writer.patch_virtual(kinds.EVENT, current, patch)
                log_decision(log, "Update virtual", "event", f"{ns}/{name}", href)
                self._written[host_name] = _kept(written)
            except ApiError as e:
                self._written.pop(host_name, None)  # someone else changed or deleted it: read again
                if e.not_found:
                    return
                raise
        else:
            self._written[host_name] = _kept(current)
