"""The record a host create leaves ahead of itself (`BaseStore.put_created_ahead`): saved before
the create is answered, read back after a crash, and never taken for a base of the pair."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vcluster.store.logstore import LogStore
from vcluster.syncer.engine.basestore import BaseStore, base_key
from vcluster.syncer.kinds import POD

PATHS = ("metadata.labels", "metadata.annotations", "status.conditions")


def _pod(uid: str, labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": uid, "labels": labels}, "spec": {"x": 1}}


def test_the_create_record_is_saved_at_once_survives_a_restart_and_is_no_base(tmp_path: Path) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store, flush_delay=10.0)  # only the record's own write may save it
        virtual = _pod("u1", {"b": "v1"})
        host = {"metadata": {"labels": {"b": "v1", "managed": "yes"}, "annotations": {"uid": "u1"}}}
        await bases.put_created_ahead(POD, "ns", "p", virtual, host, PATHS)
        key = base_key(POD, "ns", "p")
        # queued in the store without waiting for it: committed once the store's writer comes round
        for _ in range(200):
            if await store.get(key) is not None:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the create's record was never written")
        # no base: to the lifecycle the pair is still one never synced (a record is no create)
        assert bases.get(POD, "ns", "p", virtual) == (None, None)
        assert bases.seen(POD, "ns", "p") == (False, False)
        assert bases.created(POD, "ns", "p", "u1") == (
            {"metadata": {"labels": {"b": "v1"}}},
            {"metadata": {"labels": {"b": "v1", "managed": "yes"}, "annotations": {"uid": "u1"}}},
        )
        assert bases.created(POD, "ns", "p", "u2") is None  # another object of that name
        await store.close()

        store2 = LogStore(tmp_path / "state.db", compact_interval=0)
        await store2.start()
        again = BaseStore(store2, flush_delay=0.0)
        assert await again.load() == 1
        assert again.get(POD, "ns", "p") == (None, None)
        rec = again.created(POD, "ns", "p", "u1")
        assert rec is not None and rec[0] == {"metadata": {"labels": {"b": "v1"}}}
        # the create answered: its base replaces the record
        await again.put(POD, "ns", "p", virtual, host, PATHS)
        assert again.created(POD, "ns", "p", "u1") is None
        assert again.get(POD, "ns", "p")[0] == {"metadata": {"labels": {"b": "v1"}}}
        await again.flush()
        entry = await store2.get(key)
        assert entry is not None and b"created" not in entry.raw
        await store2.close()

    asyncio.run(main())


def test_a_create_record_keeps_the_base_already_there(tmp_path: Path) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store)
        old = _pod("u0", {"b": "old"})
        await bases.put(POD, "ns", "p", old, old, PATHS)
        await bases.put_created_ahead(POD, "ns", "p", _pod("u1", {"b": "v1"}), {"metadata": {}}, PATHS)
        assert bases.get(POD, "ns", "p")[1] == {"metadata": {"labels": {"b": "old"}}}
        assert bases.seen(POD, "ns", "p") == (True, True)
        assert bases.created(POD, "ns", "p", "u1") == ({"metadata": {"labels": {"b": "v1"}}}, {})
        await bases.flush()
        writes = store.writes
        # the same create tried again (refused the first time): recorded already, nothing written
        await bases.put_created_ahead(POD, "ns", "p", _pod("u1", {"b": "v1"}), {"metadata": {}}, PATHS)
        await bases.flush()
        assert store.writes == writes
        await store.close()

    asyncio.run(main())
