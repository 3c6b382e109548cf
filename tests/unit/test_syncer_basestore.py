"""The three-way sync bases (spec §6.1, issue 5 item 6): kept in memory as JSON, written to the
virtual store in the background, read back after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vcluster.store.logstore import LogStore
from vcluster.syncer.engine.basestore import PREFIX, BaseStore, base_key
from vcluster.syncer.kinds import POD

PATHS = ("metadata.labels", "status.conditions")


def test_bases_round_trip_write_once_and_survive_a_restart(tmp_path: Path) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store, flush_delay=0.01)
        v = {
            "metadata": {"labels": {"a": "1"}},
            "spec": {"x": 1},
            "status": {"conditions": [{"type": "Ready"}]},
        }
        h = {"metadata": {"labels": {"a": "1", "managed": "yes"}}, "spec": {"y": 2}}
        assert bases.get(POD, "ns", "p") == (None, None)
        await bases.put(POD, "ns", "p", v, h, PATHS)
        got_v, got_h = bases.get(POD, "ns", "p")
        assert got_v == {"metadata": {"labels": {"a": "1"}}, "status": {"conditions": [{"type": "Ready"}]}}
        assert got_h == {"metadata": {"labels": {"a": "1", "managed": "yes"}}}
        got_v["metadata"]["labels"]["a"] = "changed by the caller"  # a private copy
        assert bases.get(POD, "ns", "p")[0]["metadata"]["labels"] == {"a": "1"}
        await bases.flush()
        key = base_key(POD, "ns", "p")
        entry = await store.get(key)
        assert entry is not None and bases._mem[key] is entry.raw  # one copy of the bytes
        writes = store.writes
        await bases.put(POD, "ns", "p", v, h, PATHS)  # nothing changed: nothing to write
        await bases.flush()
        assert store.writes == writes
        h["metadata"]["labels"]["b"] = "2"
        await bases.put(POD, "ns", "p", v, h, PATHS)
        await bases.flush()
        assert store.writes == writes + 1
        await store.close()

        store2 = LogStore(tmp_path / "state.db", compact_interval=0)
        await store2.start()
        again = BaseStore(store2)
        assert await again.load() == 1
        assert again.get(POD, "ns", "p")[1] == {
            "metadata": {"labels": {"a": "1", "managed": "yes", "b": "2"}}
        }
        assert (await store2.list(PREFIX)).entries[0].key == key
        await again.forget(POD, "ns", "p")
        assert again.get(POD, "ns", "p") == (None, None) and await store2.get(key) is None
        await store2.close()

    asyncio.run(main())
