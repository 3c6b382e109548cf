"""One reconcile loop per synced kind (spec §8.3, §8.4): virtual and host informers feed a work
queue keyed by the virtual namespaced name; each reconcile reads both sides and the persisted
three-way base, decides, writes only what differs, and records mappings."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, Informer, WorkQueue
from vcluster.syncer import constants as c
from vcluster.syncer import lifecycle, metadata
from vcluster.syncer.engine.kindsyncer import KindSyncer
from vcluster.syncer.engine.stagedbase import WriteStages
from vcluster.syncer.mappings import Reference
from vcluster.syncer.merge import get_path, set_path
from vcluster.syncer.result import Delete, SyncResult

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

# A 409 means our cache was behind: read again soon (experimental.engine.conflictRequeueDelay),
# doubling while it keeps happening (vCluster waits a flat second, which shows up in every burst).
CONFLICT_REQUEUE_MAX = 2.0


class Requeue(Exception):
    """Reconcile again after `after` seconds without counting it as a failure."""

    def __init__(self, after: float, why: str) -> None:
        super().__init__(why)
        self.after = after


def split_key(key: str) -> tuple[str, str]:
    ns, _, name = key.rpartition("/")
    return ns, name


class SyncController:
    """Reconciles one kind between the virtual and the host cluster."""

    def __init__(self, engine: Syncer, ks: KindSyncer) -> None:
        self.engine = engine
        self.ks = ks
        ks.engine = engine
        self.kind = ks.kind
        self.log = logging.getLogger(f"vcluster.syncer.{ks.name}")
        self.queue = WorkQueue(ks.name, base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay)
        self.vinf: Informer = engine.virtual_informers.informer(ks.kind.api_version, ks.kind.plural)
        hns = engine.ctx.host_namespace if ks.hkind.namespaced else None
        # The host copies are read by the reconciles alone, a few times per change: kept as JSON
        # (a host pod 21 → 6 KB; no CPU cost measured, the collector has fewer objects to walk).
        self.hinf: Informer = engine.host_informers.informer(
            ks.hkind.api_version, ks.hkind.plural, hns, compact=True
        )
        self._host_keys: dict[str, tuple[str, str]] = {}  # virtual key -> host (ns, name) seen
        self._conflicts: dict[str, int] = {}  # key -> 409s in a row
        self.vinf.add_handler(self._on_virtual)
        self.hinf.add_handler(self._on_host)
        ks.attach(self)

    def decision(
        self, action: str, ns: str, name: str, host: Mapping[str, Any] | None, detail: str = ""
    ) -> None:
        """One log line per write or sync decision: the action, the kind, the virtual and the host
        names (also as fields `action`, `kind`, `virtual`, `host` of a JSON log line)."""
        if host is not None:
            hm = metadata.meta(host)
            hns, hname = hm.get("namespace", ""), hm.get("name", "")
        else:
            hns, hname = self.ks.host_name(self.engine.ctx, ns, name)
        vref, href = f"{ns}/{name}" if ns else name, f"{hns}/{hname}" if hns else hname
        fields = {"action": action, "kind": self.ks.name, "virtual": vref, "host": href}
        tail = f", {detail}" if detail else ""
        self.log.info(
            "%s %s %s (host %s)%s", action, self.ks.name, vref, href, tail, extra={"fields": fields}
        )

    # ------------------------------------------------------------------ event sources
    def enqueue(self, namespace: str, name: str) -> None:
        self.queue.add(f"{namespace}/{name}")

    def _on_virtual(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        m = metadata.meta(obj)
        self.enqueue(m.get("namespace", ""), m.get("name", ""))

    def _on_host(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        ctx = self.engine.ctx
        if not metadata.is_managed(obj, ctx, self.ks.hkind, self.engine.owner_lookup) and not self.ks.adopts(
            obj
        ):
            return
        vkey = self.ks.virtual_name(ctx, obj)
        if vkey is None:
            return
        m = metadata.meta(obj)
        key = f"{vkey[0]}/{vkey[1]}"
        self._host_keys[key] = (m.get("namespace", ""), m.get("name", ""))
        self.queue.add(key)

    # ------------------------------------------------------------------ run
    async def migrate(self) -> int:
        """vCluster's startup Migrate (§7.3), for what a crash can lose: a synced object whose
        mapping was never saved (the process died between the host create and the save) gets its
        mapping and references back before any controller decides what is used. Returns how many."""
        ks, ctx = self.ks, self.engine.ctx
        if ks.direction != "to_host":
            return 0
        saved = 0
        for virtual in self.vinf.list():
            m = metadata.meta(virtual)
            ns, name = m.get("namespace", ""), m.get("name", "")
            if ks.ignores(ns, name) or self.engine.mappings.get(ks.kind, ns, name) is not None:
                continue
            hns, hname = ks.host_name(ctx, ns, name)
            host = self.hinf.get(hname, hns or None)
            if host is None or not metadata.is_managed(host, ctx, ks.hkind, self.engine.owner_lookup):
                continue
            try:
                refs = await ks.current_references(virtual)
            except Exception as e:  # a translation that fails now: the reconcile will say why
                self.log.debug("not migrating %s %s/%s: %s", ks.name, ns, name, e)
                continue
            await self._record(ns, name, host, refs)
            self.log.info("Migrated the mapping of %s %s/%s (%d references)", ks.name, ns, name, len(refs))
            saved += 1
        return saved

    async def run(self, workers: int) -> None:
        try:
            await self.queue.run(self._reconcile_key, workers=workers)
        finally:
            self.vinf.remove_handler(self._on_virtual)
            self.hinf.remove_handler(self._on_host)

    async def _reconcile_key(self, key: str) -> None:
        started = time.perf_counter()
        metrics = self.engine.metrics
        try:
            await self.reconcile(key)
            self._conflicts.pop(key, None)
        except Requeue as r:
            self.log.debug("requeue %s in %.1fs: %s", key, r.after, r)
            self.queue.add_after(key, r.after)
        except ApiError as e:
            # a patch or update of an object deleted since it was read (a virtual pod deleted with
            # grace 0 while its status is copied) is the same race as a conflict: the next
            # reconcile sees the deletion; not an error to report on the object
            gone = e.not_found and e.method in ("PATCH", "PUT")
            if e.conflict or e.already_exists or gone:
                self.log.debug("conflict on %s, requeue: %s", key, e.message)
                n = self._conflicts.get(key, 0)
                self._conflicts[key] = n + 1
                self.queue.add_after(key, min(self.engine.conflict_delay * 2**n, CONFLICT_REQUEUE_MAX))
            else:
                metrics.errors.labels(self.ks.name).inc()
                self._error_event(key, e)
                raise
        except Exception as e:
            metrics.errors.labels(self.ks.name).inc()
            self.log.exception("sync %s %s failed", self.ks.name, key)
            self._error_event(key, e)
            raise
        finally:
            metrics.latency.labels(self.ks.name).observe(time.perf_counter() - started)

    def _error_event(self, key: str, err: Exception) -> None:
        ns, name = split_key(key)
        virtual = self.vinf.get(name, ns or None)
        if virtual is not None:
            msg = getattr(err, "message", None) or str(err)
            self.engine.virtual_events.event(
                virtual, "Warning", "SyncError", f"Error syncing: {msg}", kind=self.kind.kind,
                api_version=self.kind.api_version,
            )  # fmt: skip

    # ------------------------------------------------------------------ reconcile (§8.4)
    async def reconcile(self, key: str) -> None:
        ctx = self.engine.ctx
        ks = self.ks
        ns, name = split_key(key)
        if ks.ignores(ns, name):
            return
        virtual = self.vinf.get(name, ns or None)
        if virtual is not None and metadata.is_controlled_by_other(virtual):
            return
        hns, hname = self._host_keys.get(key) or ks.host_name(ctx, ns, name)
        host = self.hinf.get(hname, hns or None)
        # vCluster's ReconcileStart (Endpoints, §5.2): True = done; a Delete = that host object first
        verdict = await ks.reconcile_start(ns, name, virtual, host)
        if verdict is True:
            return
        if isinstance(verdict, Delete):
            await self._delete(verdict, virtual, host)
            host = None
        if (
            host is not None
            and not metadata.is_managed(host, ctx, ks.hkind, self.engine.owner_lookup)
            and not ks.adopts(host)
        ):
            if virtual is not None and ks.wants(virtual):
                msg = (
                    f"cannot sync {ks.kind.kind.lower()} {ns}/{name}: host object {hns}/{hname} exists and "
                    "is not managed by this virtual cluster"
                )
                self.engine.virtual_events.event(virtual, "Warning", "SyncError", msg)
                self.log.warning(msg)
            return
        if host is not None and not ks.adopts(host) and metadata.names_other_object(host, ns, name, ks.hkind):
            # Another virtual object's copy under the same host name: neither taken over nor deleted
            # (vCluster would delete it as "virtual object uid is different", and the two would
            # fight: the other one creates it again).
            if virtual is not None and ks.wants(virtual):
                ann = metadata.annotations_of(host)
                owner = f"{ann.get(c.NAMESPACE_ANNOTATION, '')}/{ann.get(c.NAME_ANNOTATION, '')}".lstrip("/")
                msg = (
                    f"cannot sync {ks.kind.kind.lower()} {ns}/{name}: host object {hns}/{hname} is the copy "
                    f"of {owner}, whose name joins to the same host name"
                )
                self.engine.virtual_events.event(virtual, "Warning", "SyncError", msg)
                self.log.warning(msg)
            return
        vbase, hbase = self.engine.bases.get(ks.kind, ns, name, virtual)
        if virtual is not None and host is not None:
            await self._both(key, ns, name, virtual, host, vbase, hbase)
        elif virtual is not None:
            await self._virtual_only(key, ns, name, virtual, hbase is not None)
        elif host is not None:
            await self._host_only(key, ns, name, host, vbase is not None)
        else:
            self._host_keys.pop(key, None)
            await self.engine.bases.forget(ks.kind, ns, name)
            await self.engine.mappings.remove(ks.kind, ns, name)

    async def _both(
        self,
        key: str,
        ns: str,
        name: str,
        virtual: dict[str, Any],
        host: dict[str, Any],
        vbase: dict[str, Any] | None,
        hbase: dict[str, Any] | None,
    ) -> None:
        ks = self.ks
        if ks.uid_deletion and metadata.uid_mismatch(host, virtual, ks.kind):
            if metadata.is_deleting(host):
                raise Requeue(1.0, "old host object still terminating")
            await self._delete(
                Delete("host", "virtual object uid is different", None, metadata.meta(host).get("uid")),
                virtual,
                host,
            )
            return
        if ks.direction == "to_host" and not ks.wants(virtual):
            if lifecycle.delete_under_way(host):
                return  # deleted already, waiting for its finalizers
            await self._delete(
                lifecycle.host_delete(host, "virtual object is not used any more"), virtual, host
            )
            return
        if vbase is None and hbase is None:
            vbase, hbase = self._derived_base(ns, name, virtual, host)
        res = await ks.sync(virtual, host, vbase, hbase)
        await self.apply(key, virtual, host, res, vbase, hbase)

    def _derived_base(
        self, ns: str, name: str, virtual: dict[str, Any], host: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """A pair without a stored base whose host object we created for this very virtual object
        (the syncer died between the create and saving the base): the base is the pair as the
        create left it, so every difference left between the two objects is a change of one side
        and is synced. Its virtual side is the virtual object as of the create, recorded ahead of
        it (`BaseStore.put_created_ahead`), so a virtual change made after the create wins over the
        value the create wrote; its host side is the host object with the labels and annotations
        the create wrote, and the other base fields the record has (a ConfigMap's data; a pod's
        conditions, which the create does not write, stay as the host has them). Without a record
        (written by an older version, or lost with the create's crash) the virtual object as it
        is stands in for it, and its translation for the host labels and annotations."""
        from vcluster.syncer import constants as c

        vuid = metadata.meta(virtual).get("uid")
        if not vuid or metadata.annotations_of(host).get(c.UID_ANNOTATION) != vuid:
            return None, None  # vCluster's first-sight rule (virtual labels are pushed)
        vbase: dict[str, Any] = virtual
        record = self.engine.bases.created(self.ks.kind, ns, name, vuid)
        hbase = dict(host)
        if record is not None:  # rare: a crash right after the create
            vbase, written = record[0], metadata.meta(record[1])
            self.log.info(
                "No saved base for %s %s/%s: derived from its create's record", self.ks.name, ns, name
            )
            # other base fields the create wrote (a ConfigMap's data): as written, so a host change
            # made since (while the syncer was down) counts as one
            for path in self.ks.base_paths:
                value = get_path(record[1], path)
                if value is not None and not path.startswith("metadata."):
                    set_path(hbase, path, value, copy_on_write=True)
        else:
            written = metadata.host_metadata(virtual, self.engine.ctx, self.ks.hkind)
        hbase["metadata"] = {
            **metadata.meta(host),
            "labels": written.get("labels") or {},
            "annotations": written.get("annotations") or {},
        }
        return vbase, hbase

    async def apply(
        self,
        key: str,
        virtual: dict[str, Any],
        host: dict[str, Any],
        res: SyncResult,
        vbase: dict[str, Any] | None = None,
        hbase: dict[str, Any] | None = None,
    ) -> None:
        """Write a SyncResult: virtual side first, then host, each spec before status (§6.4).
        After each write the base is kept as far as the writes got (`stagedbase.WriteStages`): a
        later write that fails, or a crash before it, must not make what was already copied
        look like a change of the side it was copied to on the next reconcile."""
        ks, w = self.ks, self.engine.writer
        ns, name = split_key(key)
        for ev in res.events:
            self.engine.virtual_events.event(virtual, ev.type, ev.reason, ev.message)
        for d in res.deletes:
            await self._delete(d, virtual, host)
        if res.deletes:
            return
        if res.recreate_virtual:
            await self._recreate_virtual(virtual, res)
            return
        stages = WriteStages(res, virtual, host, vbase, hbase, ks.base_paths)
        bases, paths, keep = self.engine.bases, ks.base_paths, ks.base_annotations
        # a pair seen for the first time (no base, none derived) keeps vCluster's first-sight
        # rule until its writes are all done: no partial base in between
        staged = vbase is not None or hbase is not None

        async def written(side: str, status: bool) -> None:
            stages.written(side, status)
            if staged:
                await bases.put(ks.kind, ns, name, *stages.base(), paths, keep)

        async def patch_virtual(obj: dict[str, Any], patch: dict[str, Any], status: bool) -> dict[str, Any]:
            """The write, with the base it leads to stored ahead of it (`BaseStore.put_ahead`)."""
            if not staged:
                return await w.patch_virtual(ks.kind, obj, patch, status=status)
            before = stages.base()
            stages.written("virtual", status)
            after = stages.base()
            ahead = await bases.put_ahead(ks.kind, ns, name, after, before, obj, patch, paths, keep)
            try:
                out = await w.patch_virtual(ks.kind, obj, patch, status=status)
            except BaseException:
                if ahead:
                    await bases.put(ks.kind, ns, name, *before, paths, keep)  # the write is not in
                raise
            # the doc stored ahead reads as `after` while the virtual object shows the write: no write
            await bases.put(ks.kind, ns, name, *after, paths, keep, shown_by=out)
            return out

        new_virtual, new_host = virtual, host
        if res.virtual_patch:
            self.decision("Update virtual", ns, name, host)
            new_virtual = await patch_virtual(virtual, res.virtual_patch, False)
        if res.bind_node:
            # before the status copy: a pod has its node before it has an IP, as when a scheduler
            # binds it (controllers such as EndpointSlice's look the node up by the pod's IP)
            self.decision("Bind virtual", ns, name, host, f"to node {res.bind_node}")
            await self.engine.bind_virtual_pod(new_virtual, res.bind_node)
            m = metadata.meta(virtual)
            await self.vinf.wait_until(
                m.get("name", ""),
                m.get("namespace") or None,
                lambda cur: cur is None or bool((cur.get("spec") or {}).get("nodeName")),
                2.0,
            )
            new_virtual = self.vinf.get(m.get("name", ""), m.get("namespace") or None) or new_virtual
        if res.virtual_status_patch:
            self.decision("Update virtual status", ns, name, host)
            new_virtual = await patch_virtual(new_virtual, res.virtual_status_patch, True)
        if res.host_patch:
            self.decision("Update host", ns, name, host)
            new_host = await w.patch_host(ks.hkind, host, res.host_patch)
            await written("host", False)
        if res.host_status_patch:
            self.decision("Update host status", ns, name, host)
            new_host = await w.patch_host(ks.hkind, new_host, res.host_status_patch, status=True)
        # the next reconcile of this key must not act on a cache older than these writes (a
        # stale resourceVersion is a 409 and a retry)
        if new_virtual is not virtual:
            await self._cached(self.vinf, new_virtual)
        if new_host is not host:
            await self._cached(self.hinf, new_host)
        self.engine.metrics.syncs.labels(ks.name, "sync" if res.changed else "unchanged").inc()
        await self.engine.bases.put(
            ks.kind, ns, name, res.virtual, res.host, ks.base_paths, ks.base_annotations, shown_by=new_virtual
        )
        if res.refs:
            await self._record(ns, name, host, res.refs)
        if res.requeue_after:
            raise Requeue(res.requeue_after, "requested by the syncer")

    async def _recreate_virtual(self, virtual: dict[str, Any], res: SyncResult) -> None:
        """Delete and create the virtual object again (a Service takes the host's ClusterIP)."""
        ks, m = self.ks, metadata.meta(virtual)
        self.log.info(
            "%s",
            res.extra.get("reason") or f"recreating virtual {ks.name} {m.get('namespace')}/{m.get('name')}",
        )
        await self._delete(Delete("virtual", "recreate", 0, m.get("uid")), virtual, None)
        created = await self.engine.writer.create_virtual(ks.kind, res.extra["body"])
        await self._cached(self.vinf, created)
        self.engine.metrics.syncs.labels(ks.name, "recreate_virtual").inc()

    async def _virtual_only(
        self, key: str, ns: str, name: str, virtual: dict[str, Any], host_seen: bool
    ) -> None:
        ks, ctx = self.ks, self.engine.ctx
        if ks.direction != "to_host":
            # from-host kinds: the host object is gone, so the virtual copy goes
            if metadata.annotations_of(virtual).get("vcluster.loft.sh/host-object") or host_seen:
                await self._delete(
                    lifecycle.virtual_delete(virtual, ks.kind, "host object was deleted"), virtual, None
                )
            return
        if not ks.wants(virtual):
            return
        blocked = await ks.precondition(virtual, host_seen)
        if blocked is not None:
            if blocked.event:
                self.engine.virtual_events.event(virtual, *blocked.event)
            if blocked.delete_virtual:
                await self._delete(lifecycle.virtual_delete(virtual, ks.kind, blocked.reason), virtual, None)
                return
            if blocked.requeue_after:
                raise Requeue(blocked.requeue_after, blocked.reason)
            if blocked.event:  # a refusal the user is told about (pod security, ...): a decision
                fields = {"action": "skip", "kind": ks.name, "virtual": key}
                self.log.info("Not syncing %s %s: %s", ks.name, key, blocked.reason, extra={"fields": fields})
            else:
                self.log.debug("not syncing %s %s: %s", ks.name, key, blocked.reason)
            return
        if metadata.is_deleting(virtual):
            return  # finalizers of the virtual object are not the host's business
        decision, reason = lifecycle.virtual_only(virtual, ks.kind, host_seen_before=host_seen)
        if decision == "delete_virtual":
            await self._delete(lifecycle.virtual_delete(virtual, ks.kind, reason), virtual, None)
            return
        tr = await ks.to_host(virtual)
        for ev in tr.events:
            self.engine.virtual_events.event(virtual, ev.type, ev.reason, ev.message)
        hns, hname = ks.host_name(ctx, ns, name)
        held = await ks.before_create(virtual, tr)
        bases = self.engine.bases
        try:
            extra = [await self.engine.writer.create_or_update_host(obj) for obj in tr.extra]
            # what the create copies, queued in the store ahead of it (no wait): a crash before
            # the base's save below still lets the derived base tell a later virtual change apart
            await bases.put_created_ahead(
                ks.kind, ns, name, virtual, tr.obj, ks.base_paths, ks.base_annotations
            )
            created = await self.engine.writer.create_host(ks.hkind, tr.obj)
            # the base first (kept in memory, saved as the loop comes round): until it is saved
            # the record derives it, but a crash forgets that the host object existed (a host
            # delete while the syncer is down is then taken for a missing copy, recreated). When
            # the base holds a status field the host fills (a pod's conditions), the pair's next
            # base write follows within moments and carries it (BaseStore.settle_delay at most)
            await bases.put(
                ks.kind, ns, name, virtual, created, ks.base_paths, ks.base_annotations,
                settle=any(p == "status" or p.startswith("status.") for p in ks.base_paths),
            )  # fmt: skip
            await ks.created_on_host(created, extra)
            await self._cached(self.hinf, created)
            self.decision("Create host", ns, name, created)
            self.engine.metrics.syncs.labels(ks.name, "create_host").inc()
            self._host_keys[key] = (hns, hname)
            await self._record(ns, name, created, ks.references(virtual, tr))
        finally:
            if held:
                ks.after_create(virtual, held)

    async def _host_only(
        self, key: str, ns: str, name: str, host: dict[str, Any], virtual_seen: bool
    ) -> None:
        ks = self.ks
        decision, reason = ks.host_only(host, virtual_seen)
        if decision == "delete_host":
            await self._delete(lifecycle.host_delete(host, reason), None, host)
            return
        if decision == "create_virtual":
            obj = await ks.to_virtual(host, ns, name)
            if obj is None:
                return
            created = await self.engine.writer.create_virtual(ks.kind, obj)
            await self._cached(self.vinf, created)
            self.decision("Create virtual", ns, name, host)
            self.engine.metrics.syncs.labels(ks.name, "create_virtual").inc()
            await self.engine.bases.put(ks.kind, ns, name, created, host, ks.base_paths, ks.base_annotations)

    async def _cached(self, inf: Informer, obj: Mapping[str, Any], gone: bool = False) -> None:
        """Wait (at most 2 s) until the informer shows our write, so that the next reconcile of this
        key does not act on a stale cache (vCluster's blocking cache client does the same)."""
        m = metadata.meta(obj)
        name, ns, uid, rv = (
            m.get("name", ""),
            m.get("namespace") or None,
            m.get("uid"),
            m.get("resourceVersion"),
        )

        def visible(cur: dict[str, Any] | None) -> bool:
            if gone:
                return cur is None or metadata.meta(cur).get("uid") != uid or metadata.is_deleting(cur)
            if cur is None or metadata.meta(cur).get("uid") != uid:
                return False
            try:
                return int(metadata.meta(cur).get("resourceVersion") or 0) >= int(rv or 0)
            except ValueError:
                return True

        await inf.wait_until(name, ns, visible, 2.0)

    async def _delete(
        self, d: Delete, virtual: Mapping[str, Any] | None, host: Mapping[str, Any] | None
    ) -> None:
        ks, w = self.ks, self.engine.writer
        if d.side == "host" and host is not None:
            vns, vname = self._virtual_name(virtual, host)
            self.decision("Delete host", vns, vname, host, f"because {d.reason}")
            await w.delete(self.engine.host, ks.hkind, host, d)
            await self._cached(self.hinf, host, gone=True)
            if virtual is not None:
                # we removed the host copy on purpose (unused, stale uid): it does not count as
                # "deleted on the host", so a later create must not take the virtual object with it
                vm = metadata.meta(virtual)
                await self.engine.bases.forget(ks.kind, vm.get("namespace", ""), vm.get("name", ""))
            self.engine.metrics.syncs.labels(ks.name, "delete_host").inc()
        elif d.side == "virtual" and virtual is not None:
            m = metadata.meta(virtual)
            self.decision(
                "Delete virtual", m.get("namespace", ""), m.get("name", ""), host, f"because {d.reason}"
            )
            await w.delete(self.engine.virtual, ks.kind, virtual, d)
            await self._cached(self.vinf, virtual, gone=True)
            self.engine.metrics.syncs.labels(ks.name, "delete_virtual").inc()

    def _virtual_name(self, virtual: Mapping[str, Any] | None, host: Mapping[str, Any]) -> tuple[str, str]:
        """The virtual (namespace, name) of a pair, from the virtual object or the host one."""
        if virtual is not None:
            m = metadata.meta(virtual)
            return m.get("namespace", ""), m.get("name", "")
        return self.ks.virtual_name(self.engine.ctx, host) or ("", "?")

    async def _record(self, ns: str, name: str, host: Mapping[str, Any] | None, refs: list[Any]) -> None:
        ks, ctx = self.ks, self.engine.ctx
        hm = metadata.meta(host) if host is not None else {}
        hns, hname = (hm.get("namespace", ""), hm.get("name", "")) if hm else ks.host_name(ctx, ns, name)
        owner = Reference.of(ks.kind, ns, name, hns, hname)
        await self.engine.mappings.record(owner, [r for r in refs if isinstance(r, Reference)])


def conflict_tolerant(queue: WorkQueue, fn: Any, engine: Any) -> Any:
    """A queue worker calling `fn(key)` that treats 409s (a concurrent write, or a create that
    lost a race) as a quiet requeue after the engine's conflict delay instead of an error with
    backoff, and measures every call like a SyncController's reconcile (latency, errors; queue
    depth and retries are read when scraped), labelled with the queue's name: the metrics of the
    engine's other controllers (events, nodes, classes, imports, fake volumes, ...)."""
    kind, metrics = queue.name, engine.metrics

    async def work(key: str) -> None:
        started = time.perf_counter()
        try:
            await fn(key)
        except ApiError as e:
            if not (e.conflict or e.already_exists):
                metrics.errors.labels(kind).inc()
                raise
            queue.add_after(key, engine.conflict_delay)
        except Exception:
            metrics.errors.labels(kind).inc()
            raise
        finally:
            metrics.latency.labels(kind).observe(time.perf_counter() - started)

    return work
