"""`KindSyncer`: what the engine needs to know about one resource kind. The translation itself is
pure (`vcluster.syncer.resources.<kind>`, with the kind's field directions declared there); a
KindSyncer adds the lookups it needs (informer caches, tokens) and the create/delete decisions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from vcluster.syncer import lifecycle, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import FieldDirections, visible_annotations
from vcluster.syncer.result import SyncResult, Translation

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer


@dataclass
class Blocked:
    """A virtual object that must not (yet) reach the host, and what to do about it."""

    reason: str
    event: tuple[str, str, str] | None = None  # (type, reason, message) on the virtual object
    requeue_after: float | None = None
    delete_virtual: bool = False


@dataclass
class KindSyncer:
    """One synced kind: names, informers, and the three reconcile cases (spec §8.3)."""

    name: str  # controller name, as vCluster logs it: pod, service, configmap, ...
    kind: Kind  # the virtual kind
    fields: FieldDirections
    translate: Callable[[Mapping[str, Any], SyncContext], Translation] | None = None
    sync_fn: Callable[..., SyncResult] | None = None
    host_kind: Kind | None = None  # when the host kind differs (never for the built-in set)
    # to_host: virtual objects are the source; from_host: the host is (events, nodes, classes)
    direction: str = "to_host"
    extra: dict[str, Any] = field(default_factory=dict)
    engine: Syncer | None = None
    # Delete a host object whose object-uid annotation names another virtual object (§8.4 step 5);
    # off for Services and PVCs, whose recreated virtual object adopts the host one (§5.1).
    uid_deletion: bool = True
    # on the host only while something uses it (ConfigMaps, Secrets): a pod about to be created
    # holds its references as used (MappingStore.hold) so that they are synced before it
    used_only: ClassVar[bool] = False

    @property
    def hkind(self) -> Kind:
        return self.host_kind or self.kind

    @property
    def base_paths(self) -> tuple[str, ...]:
        """What the three-way merge reads from the base: the fields that sync both ways."""
        return self.fields.paths()["both"]

    def base_annotations(self, annotations: Mapping[str, str] | None) -> dict[str, str]:
        """The annotations a base keeps: those that cross sides (a host pod's token is not one)."""
        f = self.fields
        return visible_annotations(annotations, f.excluded_annotations, f.excluded_annotation_prefixes)

    # ---- names
    def host_name(self, ctx: SyncContext, namespace: str, name: str) -> tuple[str, str]:
        hns = ctx.host_namespace if self.kind.namespaced else ""
        return hns, ctx.host_name_for(self.kind, name, namespace)

    def virtual_name(self, ctx: SyncContext, host: Mapping[str, Any]) -> tuple[str, str] | None:
        """The virtual (namespace, name) of a managed host object."""
        assert self.engine is not None
        m = metadata.meta(host)
        return metadata.reverse_lookup(
            ctx,
            self.kind,
            m.get("namespace", ""),
            m.get("name", ""),
            host=host,
            store_lookup=self.engine.mapping_lookup,
        )

    # ---- the three cases
    def attach(self, controller: Any) -> None:
        """Called once by the kind's SyncController: extra event sources it needs (none by default)."""

    def adopts(self, host: Mapping[str, Any]) -> bool:
        """A host object this virtual cluster did not make that the syncer still handles (host
        volumes bound to its claims); all others not managed by it are left alone."""
        return False

    def ignores(self, namespace: str, name: str) -> bool:
        """Keys this syncer never touches (e.g. objects that share one host object)."""
        return False

    def wants(self, virtual: Mapping[str, Any]) -> bool:
        """Whether the virtual object should be on the host at all (used ConfigMaps, ...)."""
        return True

    async def precondition(self, virtual: Mapping[str, Any], host_seen_before: bool) -> Blocked | None:
        return None

    async def reconcile_start(
        self, namespace: str, name: str, virtual: Mapping[str, Any] | None, host: Mapping[str, Any] | None
    ) -> Any:
        """Before the ownership checks (vCluster's ReconcileStart): True ends the reconcile, a
        `lifecycle.Delete` deletes that host object first; anything else goes on as usual."""
        return False

    async def to_host(self, virtual: Mapping[str, Any]) -> Translation:
        assert self.translate is not None and self.engine is not None
        return self.translate(virtual, self.engine.ctx)

    async def before_create(self, virtual: Mapping[str, Any], tr: Translation) -> list[Any]:
        """Called right before the host object is created: what `after_create` gets (none here)."""
        return []

    def after_create(self, virtual: Mapping[str, Any], held: list[Any]) -> None:
        """Called once the create and its mapping are done, or failed, with what before_create gave."""

    async def created_on_host(self, host: Mapping[str, Any], extra: list[dict[str, Any]]) -> None:
        """After the host object and the translation's extra objects (`extra`, as written) exist."""

    async def sync(
        self,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        virtual_old: Mapping[str, Any] | None,
        host_old: Mapping[str, Any] | None,
    ) -> SyncResult:
        assert self.sync_fn is not None and self.engine is not None
        return self.sync_fn(virtual, host, virtual_old, host_old, self.engine.ctx)

    def host_only(self, host: Mapping[str, Any], virtual_seen_before: bool) -> tuple[lifecycle.HostOnly, str]:
        return lifecycle.host_only(host, self.kind, virtual_seen_before=virtual_seen_before)

    async def to_virtual(self, host: Mapping[str, Any], namespace: str, name: str) -> dict[str, Any] | None:
        """The virtual object to create for a host-only object (import path); None: do not."""
        return None

    async def current_references(self, virtual: Mapping[str, Any]) -> list[Any]:
        """What the virtual object references now (the translation's record)."""
        return list((await self.to_host(virtual)).refs)

    def references(self, virtual: Mapping[str, Any], translation: Translation | None) -> list[Any]:
        return list(translation.refs) if translation is not None else []
