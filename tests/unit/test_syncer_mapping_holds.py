"""MappingStore holds: a pod about to be created counts as a user of its ConfigMaps and Secrets
(so their controllers sync them first) until its own mapping, saved in the real store, takes over."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vcluster.store.logstore import LogStore
from vcluster.syncer import kinds
from vcluster.syncer.engine.mappingstore import MappingStore
from vcluster.syncer.mappings import Reference


def test_a_hold_counts_as_a_user_until_the_owner_mapping_takes_over(tmp_path: Path) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        try:
            ms = MappingStore(store)
            heard: list[tuple[str, str, str]] = []
            ms.on_reference_change("ConfigMap", lambda *k: heard.append(k))
            cfg = Reference.of(kinds.CONFIGMAP, "team", "cfg", "hns", "cfg-x-team-x-vc")
            assert not ms.used("ConfigMap", "team", "cfg")
            ms.hold(cfg, "Pod/team/web")
            assert ms.used("ConfigMap", "team", "cfg") and heard == [("ConfigMap", "team", "cfg")]
            # the pod is created and its mapping saved: the object stays used, nobody is told
            owner = Reference.of(kinds.POD, "team", "web", "hns", "web-x-team-x-vc")
            assert await ms.record(owner, [cfg])
            ms.release(cfg, "Pod/team/web")
            assert ms.used("ConfigMap", "team", "cfg") and len(heard) == 1
            # a create that failed: the hold alone made it used, its release makes it unused again
            other = Reference.of(kinds.CONFIGMAP, "team", "other", "hns", "other-x-team-x-vc")
            ms.hold(other, "Pod/team/failed")
            ms.release(other, "Pod/team/failed")
            assert not ms.used("ConfigMap", "team", "other")
            assert heard[1:] == [("ConfigMap", "team", "other")] * 2
            # holds are in memory only: nothing of them is in the store
            res = await store.list("/vcluster/mappings/")
            assert len(res.entries) == 1
        finally:
            await store.close()

    asyncio.run(main())
