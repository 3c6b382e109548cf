"""GarbageCollector (kube-controller-manager `garbagecollector`): cascading deletion through
ownerReferences, as pkg/controller/garbagecollector does it.

A graph builder keeps a node per object uid (with its ownerReferences and its dependents) from an
informer on every resource that can be listed, watched and deleted (preferred versions from
discovery, events excepted; custom resources are picked up at start, when CRDs change and every
`discovery_interval` seconds). Owners referenced but not seen are "virtual" nodes that are checked
against the API server.

* Background: a dependent whose owners are all gone (404 or another uid) is deleted with a uid
  precondition; owners that are gone are dropped from a dependent that still has a live owner.
* Foreground: an owner with deletionTimestamp and the `foregroundDeletion` finalizer gets its
  dependents deleted (those with dependents of their own in foreground too) and loses the finalizer
  once no dependent with `blockOwnerDeletion: true` is left.
* Orphan: an owner with the `orphan` finalizer is removed from its dependents' ownerReferences,
  then loses the finalizer.

A namespaced owner must be in the dependent's namespace (else it counts as absent, with an
`OwnerRefInvalidNamespace` warning event); a cluster-scoped dependent cannot have a namespaced
owner (never collected).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from vcluster.client import ApiError, Informer, WorkQueue
from vcluster.controllers.base import EVENT_WARNING, EventRecorder, meta
from vcluster.controllers.discovery import APIResource, RESTMapper, discover

if TYPE_CHECKING:
    from vcluster.client import Client, SharedInformers

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
ABSENT_CACHE_SIZE = 500
CRD_API_VERSION = "apiextensions.k8s.io/v1"

log = logging.getLogger("vcluster.controllers.garbagecollector")


class Identity(NamedTuple):
    """objectReference: owner-reference coordinates plus the namespace."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str

    def __str__(self) -> str:
        return (
            f"[{self.api_version}/{self.kind}, namespace: {self.namespace}, "
            f"name: {self.name}, uid: {self.uid}]"
        )


def _coords(ref: dict[str, Any], namespace: str) -> Identity:
    return Identity(
        ref.get("apiVersion", ""), ref.get("kind", ""), ref.get("name", ""), ref.get("uid", ""), namespace
    )


def _matches_coords(ref: dict[str, Any], ident: Identity) -> bool:
    return (
        ref.get("apiVersion") == ident.api_version
        and ref.get("kind") == ident.kind
        and ref.get("name") == ident.name
        and ref.get("uid") == ident.uid
    )


def _has_finalizer(obj: dict[str, Any], finalizer: str) -> bool:
    return finalizer in (meta(obj).get("finalizers") or [])


def _being_deleted(obj: dict[str, Any] | None) -> bool:
    return obj is not None and bool(meta(obj).get("deletionTimestamp"))


def _deletion_starts_with(old: dict[str, Any] | None, new: dict[str, Any], finalizer: str) -> bool:
    if not _being_deleted(new) or not _has_finalizer(new, finalizer):
        return False
    return old is None or not _being_deleted(old) or not _has_finalizer(old, finalizer)


@dataclass(eq=False)
class Node:
    """A vertex of the dependency graph."""

    identity: Identity
    owners: list[dict[str, Any]] = field(default_factory=list)
    dependents: set[str] = field(default_factory=set)
    virtual: bool = False
    being_deleted: bool = False
    deleting_dependents: bool = False

    @property
    def uid(self) -> str:
        return self.identity.uid


class _VirtualDeleteEnqueued(Exception):
    """The object is gone: the graph got a virtual delete; do not requeue."""


class _NamespacedOwnerOfClusterScoped(Exception):
    """cluster-scoped objects cannot refer to namespaced owners (never resolves: do not requeue)."""


class RestMappingError(Exception):
    """No served resource for an apiVersion/kind (yet): retried with backoff."""


@dataclass
class _Monitor:
    resource: APIResource
    informer: Informer
    private: bool


class GarbageCollector:
    """The dependency graph plus the attemptToDelete and attemptToOrphan workers."""

    name = "garbagecollector"
    component = "garbage-collector-controller"

    def __init__(
        self,
        client: Client,
        informers: SharedInformers,
        *,
        discovery_interval: float = 30.0,
        sync_timeout: float = 60.0,
        recorder: EventRecorder | None = None,
        base_delay: float = 0.005,
        max_delay: float = 60.0,
        **options: Any,
    ) -> None:
        self.client = client
        self.informers = informers
        self.options = options
        self.discovery_interval = discovery_interval
        self.sync_timeout = sync_timeout
        self.recorder = recorder or EventRecorder(client, self.component)
        self.delete_queue = WorkQueue(
            "garbage_collector_attempt_to_delete", base_delay=base_delay, max_delay=max_delay
        )
        self.orphan_queue = WorkQueue(
            "garbage_collector_attempt_to_orphan", base_delay=base_delay, max_delay=max_delay
        )
        self.nodes: dict[str, Node] = {}
        self.absent: OrderedDict[Identity, None] = OrderedDict()
        self.mapper = RESTMapper()
        self.monitors: dict[tuple[str, str, str], _Monitor] = {}
        self._rediscover = asyncio.Event()
        self.crds = informers.informer(CRD_API_VERSION, "customresourcedefinitions")
        self.crds.add_handler(self._on_crd)

    # ------------------------------------------------------------------ monitors
    def _on_crd(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if (
            event == "update"
            and old is not None
            and (old.get("spec"), old.get("status"))
            == (
                obj.get("spec"),
                obj.get("status"),
            )
        ):
            return
        self._rediscover.set()

    def _crd_resources(self) -> set[tuple[str, str]]:
        out = set()
        for crd in self.crds.list():
            spec = crd.get("spec") or {}
            out.add((spec.get("group") or "", (spec.get("names") or {}).get("plural") or ""))
        return out

    async def sync_monitors(self) -> bool:
        """Discover and start/stop informers so every deletable resource is watched; returns
        whether the set changed."""
        found = await discover(self.client)
        if not found.resources:
            log.info("no resources reported by discovery, skipping garbage collector sync")
            return False
        self.mapper.reset(found.resources)
        custom = self._crd_resources()
        wanted: dict[tuple[str, str, str], APIResource] = {}
        for r in found.resources:
            if (r.group, r.plural) in IGNORED_RESOURCES or not r.supports("delete", "list", "watch"):
                continue
            wanted[(r.group, r.version, r.plural)] = r
        changed = False
        failed_gvs = set(found.failed)
        for key, mon in list(self.monitors.items()):
            gv = mon.resource.api_version
            if key in wanted or gv in failed_gvs:
                continue
            del self.monitors[key]
            changed = True
            if mon.private:
                await mon.informer.stop()
        new: list[_Monitor] = []
        for key, r in wanted.items():
            if key in self.monitors:
                continue
            private = (r.group, r.plural) in custom
            if private:
                inf = Informer(self.client, r.api_version, r.plural)
            else:
                inf = self.informers.informer(r.api_version, r.plural)
            mon = _Monitor(r, inf, private)
            self.monitors[key] = mon
            inf.add_handler(self._handler(key, mon))
            if private or not self.informers.started:
                await inf.start()
            new.append(mon)
            changed = True
        if new:
            try:
                async with asyncio.timeout(self.sync_timeout):
                    await asyncio.gather(*(m.informer.wait_synced() for m in new))
            except TimeoutError:
                log.warning("timed out waiting for dependency graph builder sync")
        return changed

    def _handler(self, key: tuple[str, str, str], mon: _Monitor) -> Any:
        def handle(event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            if self.monitors.get(key) is not mon:
                return
            self.process_event(mon.resource, event, obj, old)

        return handle

    def is_synced(self) -> bool:
        return bool(self.monitors) and all(m.informer.has_synced for m in self.monitors.values())

    # ------------------------------------------------------------------ graph builder
    def process_event(
        self, r: APIResource, event: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        md = meta(obj)
        uid = md.get("uid")
        if not uid:
            return
        ident = Identity(r.api_version, r.kind, md.get("name", ""), uid, md.get("namespace") or "")
        if event == "delete":
            self._graph_delete(ident, virtual=False)
        else:
            self._graph_upsert(ident, obj, old)

    def _graph_upsert(self, ident: Identity, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        existing = self.nodes.get(ident.uid)
        if existing is not None and existing.virtual:
            if existing.identity != ident:
                for dep in self._nonmatching_dependents(existing, ident):
                    if ident.namespace and dep.identity.namespace != ident.namespace:
                        self._report_invalid_namespace(dep, ident.uid)
                    self.delete_queue.add(dep.uid)
                existing.identity = ident
            existing.virtual = False
        owners = [r for r in meta(obj).get("ownerReferences") or [] if isinstance(r, dict)]
        if existing is None:
            node = Node(
                identity=ident,
                owners=owners,
                being_deleted=_being_deleted(obj),
                deleting_dependents=_being_deleted(obj) and _has_finalizer(obj, FOREGROUND),
            )
            self.nodes[ident.uid] = node
            self._add_dependent_to_owners(node, owners)
            self._process_transitions(old, obj, node)
            return
        added, removed, changed = _references_diffs(existing.owners, owners)
        if added or removed or changed:
            self._add_unblocked_owners(removed, changed)
            existing.owners = owners
            self._add_dependent_to_owners(existing, added)
            for ref in removed:
                owner = self.nodes.get(ref.get("uid", ""))
                if owner is not None:
                    owner.dependents.discard(existing.uid)
        if _being_deleted(obj):
            existing.being_deleted = True
        self._process_transitions(old, obj, existing)

    def _add_dependent_to_owners(self, n: Node, owners: list[dict[str, Any]]) -> None:
        potentially_invalid = False
        for ref in owners:
            ouid = ref.get("uid", "")
            owner = self.nodes.get(ouid)
            if owner is None:
                owner = Node(identity=_coords(ref, n.identity.namespace), virtual=True)
                self.nodes[ouid] = owner
                owner.dependents.add(n.uid)
                self.delete_queue.add(ouid)
                continue
            owner.dependents.add(n.uid)
            if potentially_invalid:
                continue
            owner_namespaced = bool(owner.identity.namespace)
            if owner_namespaced and owner.identity.namespace != n.identity.namespace:
                if not owner.virtual:
                    self._report_invalid_namespace(n, ouid)
                potentially_invalid = True
            elif not _matches_coords(ref, owner.identity) or (
                not owner_namespaced and owner.identity.namespace != n.identity.namespace and owner.virtual
            ):
                potentially_invalid = True
        if potentially_invalid:
            self.delete_queue.add(n.uid)

    def _report_invalid_namespace(self, n: Node, owner_uid: str) -> None:
        ref = next((r for r in n.owners if r.get("uid") == owner_uid), None)
        if ref is None:
            return
        bad = _coords(ref, n.identity.namespace)
        self.recorder.event(
            {"metadata": {"name": n.identity.name, "namespace": n.identity.namespace, "uid": n.uid}},
            EVENT_WARNING,
            "OwnerRefInvalidNamespace",
            f'ownerRef {bad} does not exist in namespace "{n.identity.namespace}"',
            kind=n.identity.kind,
            api_version=n.identity.api_version,
        )

    def _add_unblocked_owners(self, removed: list[dict[str, Any]], changed: list[tuple[dict, dict]]) -> None:
        for ref in removed:
            if ref.get("blockOwnerDeletion") and ref.get("uid") in self.nodes:
                self.delete_queue.add(ref["uid"])
        for old_ref, new_ref in changed:
            unblocked = old_ref.get("blockOwnerDeletion") and not new_ref.get("blockOwnerDeletion")
            if unblocked and new_ref.get("uid") in self.nodes:
                self.delete_queue.add(new_ref["uid"])

    def _process_transitions(self, old: dict[str, Any] | None, new: dict[str, Any], n: Node) -> None:
        if _deletion_starts_with(old, new, ORPHAN):
            self.orphan_queue.add(n.uid)
            return
        if _deletion_starts_with(old, new, FOREGROUND):
            n.deleting_dependents = True
            for dep in n.dependents:
                self.delete_queue.add(dep)
            self.delete_queue.add(n.uid)

    def _nonmatching_dependents(self, owner: Node, ident: Identity) -> list[Node]:
        return self._partition(owner, ident)[1]

    def _partition(self, owner: Node, ident: Identity) -> tuple[list[Node], list[Node]]:
        """partitionDependents: dependents whose ref to `ident.uid` matches `ident`, and the others."""
        matching: list[Node] = []
        nonmatching: list[Node] = []
        namespaced = bool(ident.namespace)
        for duid in owner.dependents:
            dep = self.nodes.get(duid)
            if dep is None:
                continue
            match = mismatch = False
            if namespaced and ident.namespace != dep.identity.namespace:
                mismatch = True
            else:
                for ref in dep.owners:
                    if ref.get("uid") == ident.uid:
                        if _matches_coords(ref, ident):
                            match = True
                        else:
                            mismatch = True
            if match:
                matching.append(dep)
            if mismatch:
                nonmatching.append(dep)
        return matching, nonmatching

    def _graph_delete(self, ident: Identity, *, virtual: bool) -> None:
        existing = self.nodes.get(ident.uid)
        if existing is None:
            return
        remove = True
        if virtual:
            if existing.virtual:
                matching, nonmatching = self._partition(existing, ident)
                if nonmatching:
                    remove = False
                    if matching:
                        self._absent_add(ident)
                        for dep in matching:
                            self.delete_queue.add(dep.uid)
                    if existing.identity == ident:
                        alternates = sorted(
                            _coords(ref, dep.identity.namespace)
                            for dep in nonmatching
                            for ref in dep.owners
                            if ref.get("uid") == ident.uid
                        )
                        alt = next((a for a in alternates if a != ident), None)
                        if alt is not None:
                            existing.identity = alt
                            self.delete_queue.add_rate_limited(ident.uid)
            elif existing.identity != ident:
                remove = False
                matching, _ = self._partition(existing, ident)
                if matching:
                    self._absent_add(ident)
                    for dep in matching:
                        self.delete_queue.add(dep.uid)
        if not remove:
            return
        del self.nodes[ident.uid]
        for ref in existing.owners:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is not None:
                owner.dependents.discard(existing.uid)
        if existing.dependents:
            self._absent_add(ident)
        for dep in existing.dependents:
            self.delete_queue.add(dep)
        for ref in existing.owners:
            owner = self.nodes.get(ref.get("uid", ""))
            if owner is not None and owner.deleting_dependents:
                self.delete_queue.add(owner.uid)

    def _absent_add(self, ident: Identity) -> None:
        self.absent[ident] = None
        self.absent.move_to_end(ident)
        while len(self.absent) > ABSENT_CACHE_SIZE:
            self.absent.popitem(last=False)

    # ------------------------------------------------------------------ API helpers
    def _resource(self, api_version: str, kind: str) -> APIResource:
        r = self.mapper.for_kind(api_version, kind)
        if r is None:
            raise RestMappingError(f"unable to get REST mapping for {api_version}/{kind}")
        return r

    async def _get(self, ident: Identity) -> dict[str, Any]:
        r = self._resource(ident.api_version, ident.kind)
        return await self.client.get(
            r.api_version, r.plural, ident.name, ident.namespace if r.namespaced else None
        )

    async def _get_latest(self, item: Node) -> dict[str, Any]:
        """getObject, turning 404 / another uid into a virtual delete."""
        try:
            latest = await self._get(item.identity)
        except ApiError as e:
            if e.not_found:
                self._graph_delete(item.identity, virtual=True)
                raise _VirtualDeleteEnqueued() from None
            raise
        if meta(latest).get("uid") != item.uid:
            self._graph_delete(item.identity, virtual=True)
            raise _VirtualDeleteEnqueued()
        return latest

    async def _delete_object(self, ident: Identity, policy: str) -> None:
        r = self._resource(ident.api_version, ident.kind)
        try:
            await self.client.delete(
                r.api_version,
                r.plural,
                ident.name,
                ident.namespace if r.namespaced else None,
                propagation_policy=policy,
                preconditions={"uid": ident.uid},
            )
        except ApiError as e:
            if e.not_found:
                return
            if e.conflict and "Precondition failed" in (e.message or ""):
                return  # replaced by a new object of the same name
            raise

    async def _patch_meta(self, ident: Identity, patch_meta: dict[str, Any]) -> None:
        r = self._resource(ident.api_version, ident.kind)
        await self.client.patch(
            r.api_version,
            r.plural,
            ident.name,
            {"metadata": patch_meta},
            ident.namespace if r.namespaced else None,
            patch_type="merge",
        )

    async def _remove_owner_refs(self, item: Node, owner_uids: set[str]) -> None:
        """deleteOwnerRefJSONMergePatch: drop the refs to `owner_uids` (404 is fine)."""
        for _ in range(5):
            try:
                cur = await self._get(item.identity)
            except ApiError as e:
                if e.not_found:
                    return
                raise
            md = meta(cur)
            if md.get("uid") != item.uid:
                return
            refs = md.get("ownerReferences") or []
            keep = [r for r in refs if r.get("uid") not in owner_uids]
            if len(keep) == len(refs):
                return
            try:
                await self._patch_meta(
                    item.identity,
                    {
                        "ownerReferences": keep or None,
                        "resourceVersion": md.get("resourceVersion"),
                        "uid": item.uid,
                    },
                )
                return
            except ApiError as e:
                if e.not_found:
                    return
                if not e.conflict:
                    raise
        raise RuntimeError(f"too many conflicts removing owner references from {item.identity}")

    async def _unblock_owner_refs(self, item: Node) -> None:
        """unblockOwnerReferences: set blockOwnerDeletion=false on every ref of the item."""
        cur = await self._get(item.identity)
        md = meta(cur)
        refs = [
            dict(r, blockOwnerDeletion=False) if r.get("blockOwnerDeletion") else r
            for r in md.get("ownerReferences") or []
        ]
        await self._patch_meta(
            item.identity,
            {"ownerReferences": refs, "resourceVersion": md.get("resourceVersion"), "uid": item.uid},
        )

    async def _remove_finalizer(self, owner: Node, finalizer: str) -> None:
        for _ in range(5):
            try:
                cur = await self._get(owner.identity)
            except ApiError as e:
                if e.not_found:
                    return
                raise
            md = meta(cur)
            if md.get("uid") != owner.uid:
                return
            fins = list(md.get("finalizers") or [])
            if finalizer not in fins:
                return
            keep = [f for f in fins if f != finalizer]
            try:
                await self._patch_meta(
                    owner.identity, {"finalizers": keep or None, "resourceVersion": md.get("resourceVersion")}
                )
                return
            except ApiError as e:
                if e.not_found:
                    return
                if not e.conflict:
                    raise
        raise RuntimeError(
            "updateMaxRetries(5) has reached. The garbage collector will retry later for owner "
            f"{owner.identity}"
        )

    # ------------------------------------------------------------------ attemptToDelete
    async def _is_dangling(self, ref: dict[str, Any], item: Node) -> tuple[bool, dict[str, Any] | None]:
        key = _coords(ref, "")
        if key in self.absent:
            return True, None
        key_ns = key._replace(namespace=item.identity.namespace)
        if key_ns in self.absent:
            return True, None
        r = self._resource(ref.get("apiVersion", ""), ref.get("kind", ""))
        if not r.namespaced:
            key_ns = key
        if not item.identity.namespace and r.namespaced:
            raise _NamespacedOwnerOfClusterScoped()
        try:
            owner = await self.client.get(
                r.api_version,
                r.plural,
                ref.get("name", ""),
                item.identity.namespace if r.namespaced else None,
            )
        except ApiError as e:
            if e.not_found:
                self._absent_add(key_ns)
                return True, None
            raise
        if meta(owner).get("uid") != ref.get("uid"):
            self._absent_add(key_ns)
            return True, None
        return False, owner

    async def attempt_to_delete_item(self, item: Node) -> None:
        """attemptToDeleteItem."""
        if item.being_deleted and not item.deleting_dependents:
            return
        latest = await self._get_latest(item)
        if item.deleting_dependents:
            await self._process_deleting_dependents(item)
            return
        refs = [r for r in meta(latest).get("ownerReferences") or [] if isinstance(r, dict)]
        if not refs:
            return
        solid: list[dict[str, Any]] = []
        dangling: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        for ref in refs:
            is_dangling, owner = await self._is_dangling(ref, item)
            if is_dangling:
                dangling.append(ref)
            elif owner is not None and _being_deleted(owner) and _has_finalizer(owner, FOREGROUND):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            if dangling or waiting:
                await self._remove_owner_refs(item, {r.get("uid", "") for r in dangling + waiting})
            return
        if waiting and item.dependents:
            for duid in list(item.dependents):
                dep = self.nodes.get(duid)
                if dep is not None and dep.deleting_dependents:
                    await self._unblock_owner_refs(item)
                    break
            await self._delete_object(item.identity, "Foreground")
            return
        if _has_finalizer(latest, ORPHAN):
            policy = "Orphan"
        elif _has_finalizer(latest, FOREGROUND):
            policy = "Foreground"
        else:
            policy = "Background"
        log.debug("deleting %s with propagationPolicy %s", item.identity, policy)
        await self._delete_object(item.identity, policy)

    async def _process_deleting_dependents(self, item: Node) -> None:
        blocking = []
        for duid in list(item.dependents):
            dep = self.nodes.get(duid)
            if dep is None:
                continue
            if any(r.get("uid") == item.uid and r.get("blockOwnerDeletion") for r in dep.owners):
                blocking.append(dep)
        if not blocking:
            await self._remove_finalizer(item, FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.delete_queue.add(dep.uid)

    async def _attempt_to_delete(self, uid: str) -> bool:
        """One attemptToDelete key; True means requeue with backoff."""
        n = self.nodes.get(uid)
        if n is None:
            return False
        try:
            await self.attempt_to_delete_item(n)
        except (_VirtualDeleteEnqueued, _NamespacedOwnerOfClusterScoped):
            return False
        cur = self.nodes.get(uid)
        return cur is not None and cur.virtual  # poll until observed via an informer

    async def _attempt_to_orphan(self, uid: str) -> bool:
        owner = self.nodes.get(uid)
        if owner is None:
            return False
        deps = [self.nodes[d] for d in list(owner.dependents) if d in self.nodes]
        results = await asyncio.gather(
            *(self._remove_owner_refs(d, {uid}) for d in deps), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise RuntimeError(f"failed to orphan dependents of owner {owner.identity}, got errors: {errors}")
        await self._remove_finalizer(owner, ORPHAN)
        return False

    # ------------------------------------------------------------------ run
    async def _worker(self, queue: WorkQueue, fn: Any) -> None:
        while True:
            key = await queue.get()
            if key is None:
                return
            try:
                requeue = await fn(key)
            except asyncio.CancelledError:
                queue.done(key)
                raise
            except RestMappingError as e:
                log.debug("%s: %s", queue.name, e)
                queue.done(key)
                queue.add_rate_limited(key)
                continue
            except Exception as e:
                level = logging.DEBUG if isinstance(e, ApiError) and e.conflict else logging.WARNING
                log.log(level, "%s: error syncing item %s: %s", queue.name, key, e)
                queue.done(key)
                queue.add_rate_limited(key)
                continue
            queue.done(key)
            if requeue:
                queue.add_rate_limited(key)
            else:
                queue.forget(key)

    async def _resync_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.discovery_interval):
                    await self._rediscover.wait()
            self._rediscover.clear()
            await asyncio.sleep(0.2)  # let a burst of CRD changes settle
            try:
                if await self.sync_monitors():
                    log.info("synced garbage collector with updated resources from discovery")
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("garbage collector resource sync failed: %s", e)

    async def run(self, workers: int = 2) -> None:
        """Build the graph, then run the workers until cancelled."""
        if self.delete_queue.shutting_down:  # restarted after a crash: fresh queues
            self.delete_queue = WorkQueue(
                self.delete_queue.name,
                base_delay=self.delete_queue.base_delay,
                max_delay=self.delete_queue.max_delay,
            )
            self.orphan_queue = WorkQueue(
                self.orphan_queue.name,
                base_delay=self.orphan_queue.base_delay,
                max_delay=self.orphan_queue.max_delay,
            )
            for uid in list(self.nodes):
                self.delete_queue.add(uid)
            for mon in self.monitors.values():
                if mon.private:
                    await mon.informer.start()
        try:
            await self.crds.wait_synced()
            while True:
                try:
                    await self.sync_monitors()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.warning("garbage collector resource discovery failed: %s", e)
                if self.monitors:
                    break
                await asyncio.sleep(1.0)
            tasks = [self._resync_loop()]
            for _ in range(workers):
                tasks.append(self._worker(self.delete_queue, self._attempt_to_delete))
                tasks.append(self._worker(self.orphan_queue, self._attempt_to_orphan))
            await asyncio.gather(*tasks)
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop the workers' queues, the private informers and the event poster."""
        self.delete_queue.shutdown()
        self.orphan_queue.shutdown()
        for mon in self.monitors.values():
            if mon.private:
                await mon.informer.stop()
        await self.recorder.close()


def _references_diffs(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    old_by_uid = {r.get("uid"): r for r in old}
    added: list[dict[str, Any]] = []
    changed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen = set()
    for r in new:
        uid = r.get("uid")
        if uid in old_by_uid:
            seen.add(uid)
            if old_by_uid[uid] != r:
                changed.append((old_by_uid[uid], r))
        else:
            added.append(r)
    removed = [r for uid, r in old_by_uid.items() if uid not in seen]
    return added, removed, changed
