"""The engine side of `sync.toHost.persistentVolumes` (translation and field directions in
`syncer/resources/persistentvolume.py`): the volume syncer, which also handles host volumes it did
not make but that are bound to its claims, and the claim syncer that names the virtual volume of a
bound host claim. Needs rights on PersistentVolumes of the host (they are cluster-scoped)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import kinds, lifecycle, metadata
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine.kindsyncer import Blocked, KindSyncer
from vcluster.syncer.resources import persistentvolume as pvres
from vcluster.syncer.resources import pvc
from vcluster.syncer.result import Delete, SyncResult, Translation


class PersistentVolumeSyncer(KindSyncer):
    """Virtual volumes to the host, and mirrors of the host volumes bound to virtual claims."""

    def __init__(self) -> None:
        super().__init__(
            "persistentvolume", kinds.PV, pvres.FIELDS, pvres.translate_pv, None, uid_deletion=False
        )

    # ---- lookups
    def virtual_claim(self, hns: str, hname: str) -> Mapping[str, Any] | None:
        """The virtual claim of a host claim (mappings store, else the host claim's annotations)."""
        assert self.engine is not None
        eng = self.engine
        found = eng.mapping_lookup(kinds.PVC, hns, hname)
        if found is None:
            claims = eng.controllers.get("persistentvolumeclaims")
            hpvc = claims.hinf.get(hname, hns) if claims is not None else None
            if hpvc is not None and metadata.is_managed(hpvc, eng.ctx, kinds.PVC, eng.owner_lookup):
                a = metadata.annotations_of(hpvc)
                found = (a.get(c.NAMESPACE_ANNOTATION, ""), a.get(c.NAME_ANNOTATION, ""))
        if found is None:
            return None
        return eng.virtual_informers.informer("v1", "persistentvolumeclaims").get(found[1], found[0])

    def _virtual(self, name: str) -> Mapping[str, Any] | None:
        assert self.engine is not None
        return self.engine.virtual_informers.informer(kinds.PV.api_version, kinds.PV.plural).get(name)

    # ---- names
    def host_name(self, ctx: SyncContext, namespace: str, name: str) -> tuple[str, str]:
        v = self._virtual(name)
        mirrored = pvres.host_pv_of(v) if v is not None else ""
        return "", mirrored or ctx.host_name_cluster(name)

    def virtual_name(self, ctx: SyncContext, host: Mapping[str, Any]) -> tuple[str, str] | None:
        if self.adopts(host):
            return "", metadata.meta(host).get("name", "")
        return super().virtual_name(ctx, host)

    def adopts(self, host: Mapping[str, Any]) -> bool:
        assert self.engine is not None
        ctx = self.engine.ctx
        if metadata.is_managed(host, ctx, kinds.PV, self.engine.owner_lookup):
            return False
        name = metadata.meta(host).get("name", "")
        mirror = self._virtual(name)
        if mirror is not None and pvres.host_pv_of(mirror) == name:
            return True  # mirrored already (also when the host volume is being deleted)
        return pvres.should_mirror(host, ctx, self.virtual_claim)

    # ---- the three cases
    async def precondition(self, virtual: Mapping[str, Any], host_seen_before: bool) -> Blocked | None:
        """Virtual volume without a host one: a deleted one may go (its finalizer is dropped, the
        pv-protection controller would wait for an unbound phase copied from a host that is gone);
        a mirror goes with its host volume; any other is created on the host."""
        assert self.engine is not None
        m = metadata.meta(virtual)
        if metadata.is_deleting(virtual):
            if m.get("finalizers"):
                await self.engine.virtual.patch(
                    "v1", "persistentvolumes", m.get("name", ""), {"metadata": {"finalizers": None}}
                )
            return Blocked("being deleted")
        if pvres.host_pv_of(virtual):
            return Blocked("its host volume is gone", delete_virtual=True)
        return None

    async def sync(
        self,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        virtual_old: Mapping[str, Any] | None,
        host_old: Mapping[str, Any] | None,
    ) -> SyncResult:
        assert self.engine is not None
        ctx = self.engine.ctx
        vspec = virtual.get("spec") or {}
        mirror = bool(pvres.host_pv_of(virtual))
        if metadata.is_deleting(virtual):
            res = SyncResult(dict(virtual), dict(host), requeue_after=1.0)
            provisioned = vspec.get("claimRef") and vspec.get("persistentVolumeReclaimPolicy") == "Delete"
            if not mirror and not provisioned and not metadata.is_deleting(host):
                res.deletes.append(lifecycle.host_delete(host, "virtual persistent volume is deleted"))
            elif mirror or provisioned:  # the host side decides; the virtual one may go now
                m = metadata.meta(virtual)
                if m.get("finalizers"):
                    await self.engine.virtual.patch(
                        "v1", "persistentvolumes", m.get("name", ""), {"metadata": {"finalizers": None}}
                    )
            return res
        if mirror and not pvres.should_mirror(host, ctx, self.virtual_claim):
            m = metadata.meta(virtual)
            return SyncResult(
                dict(virtual),
                dict(host),
                deletes=[Delete("virtual", "no virtual claim uses the host volume", None, m.get("uid"))],
            )
        res = pvres.sync_pv(virtual, host, virtual_old, host_old, ctx, self.virtual_claim)
        if self._claim_not_seen_yet(host):
            res.requeue_after = 1.0  # bound to a claim the caches do not show yet: look again
        return res

    def _claim_not_seen_yet(self, host: Mapping[str, Any]) -> bool:
        assert self.engine is not None
        ref = (host.get("spec") or {}).get("claimRef") or {}
        if (host.get("status") or {}).get("phase") != "Bound" or ref.get(
            "namespace"
        ) != self.engine.ctx.host_namespace:
            return False
        if self.virtual_claim(ref["namespace"], ref.get("name", "")) is not None:
            return False
        claims = self.engine.controllers.get("persistentvolumeclaims")
        return claims is not None and claims.hinf.get(ref.get("name", ""), ref["namespace"]) is None

    def host_only(self, host: Mapping[str, Any], virtual_seen_before: bool) -> tuple[lifecycle.HostOnly, str]:
        if self.adopts(host):
            return "create_virtual", "host volume bound to a virtual claim"
        return "delete_host", "virtual persistent volume was deleted"

    async def to_virtual(self, host: Mapping[str, Any], namespace: str, name: str) -> dict[str, Any] | None:
        assert self.engine is not None
        return pvres.mirror_of_host(host, self.engine.ctx, self.virtual_claim)


class ClaimSyncer(KindSyncer):
    """PVCs when volumes are synced: a bound claim names the virtual volume of its host volume."""

    def __init__(self) -> None:
        super().__init__(
            "persistent-volume-claim", kinds.PVC, pvc.FIELDS, pvc.translate_pvc, None, uid_deletion=False
        )

    async def to_host(self, virtual: Mapping[str, Any]) -> Translation:
        """With volumes synced, a class the host does not have is translated (spec §5.5)."""
        assert self.engine is not None
        ctx = self.engine.ctx
        if not ctx.sync_persistent_volumes:
            return pvc.translate_pvc(virtual, ctx)
        classes = self.engine.host_informers.informer("storage.k8s.io/v1", "storageclasses")
        await classes.wait_synced(10.0)
        return pvc.translate_pvc(
            virtual,
            ctx,
            host_storage_class_exists=lambda name: classes.get(name) is not None,
            mirrored_volume=self._mirrored_volume,
        )

    def _mirrored_volume(self, name: str) -> str | None:
        """The host volume the virtual volume `name` mirrors (§1.6: `vcluster.loft.sh/host-pv`)."""
        assert self.engine is not None
        vpv = self.engine.virtual_informers.informer(kinds.PV.api_version, kinds.PV.plural).get(name)
        return metadata.annotations_of(vpv).get(c.HOST_PV_ANNOTATION) or None if vpv is not None else None

    def volume_for_host(self, host_volume: str) -> str | None:
        assert self.engine is not None
        volumes = self.engine.controllers.get("persistentvolumes")
        hpv = volumes.hinf.get(host_volume) if volumes is not None else None
        if hpv is None:
            return None
        if metadata.is_managed(hpv, self.engine.ctx, kinds.PV, self.engine.owner_lookup):
            return metadata.annotations_of(hpv).get(c.NAME_ANNOTATION) or None
        return host_volume  # mirrored under its own name

    async def sync(
        self,
        virtual: Mapping[str, Any],
        host: Mapping[str, Any],
        virtual_old: Mapping[str, Any] | None,
        host_old: Mapping[str, Any] | None,
    ) -> SyncResult:
        assert self.engine is not None
        return pvc.sync_pvc(virtual, host, virtual_old, host_old, self.engine.ctx, self.volume_for_host)
