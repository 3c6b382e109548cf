"""The controller of fake PersistentVolumes (translation in `syncer/resources/fakepv.py`): keyed
by volume name; a fake volume exists exactly while a virtual claim names it as its volumeName."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vcluster.client import ApiError, WorkQueue
from vcluster.syncer import kinds, metadata
from vcluster.syncer.engine.controller import conflict_tolerant
from vcluster.syncer.resources import fakepv

if TYPE_CHECKING:
    from vcluster.syncer.engine.syncer import Syncer

log = logging.getLogger("vcluster.syncer.fakepv")
_BY_VOLUME = "fakepv/volume-name"


def _volume_name(pvc: dict[str, Any]) -> list[str]:
    name = (pvc.get("spec") or {}).get("volumeName")
    return [name] if name else []


class FakePVController:
    name = "fake-persistentvolume"

    def __init__(self, engine: Syncer) -> None:
        self.engine = engine
        self.queue = WorkQueue(
            self.name, base_delay=engine.retry_base_delay, max_delay=engine.retry_max_delay
        )
        self.pvcs = engine.virtual_informers.informer("v1", "persistentvolumeclaims")
        self.pvs = engine.virtual_informers.informer("v1", "persistentvolumes")
        if not self.pvcs.has_index(_BY_VOLUME):  # kept from an earlier controller (live config)
            self.pvcs.add_index(_BY_VOLUME, _volume_name)
        self.pvcs.add_handler(self._on_pvc)
        self.pvs.add_handler(self._on_pv)

    def _on_pvc(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        for name in {*_volume_name(obj), *(_volume_name(old) if old else [])}:
            self.queue.add(name)

    def _on_pv(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if fakepv.is_fake(obj) or event == "delete":
            self.queue.add(metadata.meta(obj).get("name", ""))

    def stop(self) -> None:
        self.pvcs.remove_handler(self._on_pvc)
        self.pvs.remove_handler(self._on_pv)
        self.queue.shutdown()

    async def run(self, workers: int) -> None:
        await self.queue.run(conflict_tolerant(self.queue, self.reconcile, self.engine), workers=workers)

    async def reconcile(self, name: str) -> None:
        claims = [
            p for p in self.pvcs.by_index(_BY_VOLUME, name) if not metadata.meta(p).get("deletionTimestamp")
        ]
        pv = self.pvs.get(name)
        virtual = self.engine.virtual
        if claims and pv is None:
            claim = min(
                claims,
                key=lambda p: (metadata.meta(p).get("namespace", ""), metadata.meta(p).get("name", "")),
            )
            cm = metadata.meta(claim)
            log.info(
                "Create fake persistent volume %s for PVC %s/%s", name, cm.get("namespace"), cm.get("name")
            )
            await self.engine.writer.create_virtual(kinds.PV, fakepv.fake_pv(name, claim))
            await virtual.patch(
                "v1", "persistentvolumes", name, {"status": {"phase": "Bound"}}, subresource="status"
            )
        elif not claims and pv is not None and fakepv.is_fake(pv):
            log.info("Delete fake persistent volume %s, no virtual claim uses it", name)
            try:
                await virtual.delete("v1", "persistentvolumes", name)
                if metadata.meta(pv).get("finalizers"):  # pv-protection would wait for an unbound phase
                    await virtual.patch("v1", "persistentvolumes", name, {"metadata": {"finalizers": None}})
            except ApiError as e:
                if not e.not_found:
                    raise
        elif (
            claims
            and pv is not None
            and fakepv.is_fake(pv)
            and (pv.get("status") or {}).get("phase") != "Bound"
        ):
            await virtual.patch(
                "v1", "persistentvolumes", name, {"status": {"phase": "Bound"}}, subresource="status"
            )
