"""`half_synced_base` and `WriteStages`: the base after a reconcile wrote some of its writes but
not all (a refused or failed host write, a crash in between). What the written side took from
the other counts as synced, the own changes of a side still count as changes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from vcluster.store.logstore import LogStore
from vcluster.syncer.engine.basestore import BaseStore, base_key
from vcluster.syncer.engine.stagedbase import WriteStages, half_synced_base
from vcluster.syncer.kinds import POD
from vcluster.syncer.merge import merge_both_ways
from vcluster.syncer.result import SyncResult

PATHS = ("metadata.labels", "metadata.annotations", "spec.type")


def _obj(labels: dict[str, str], type_: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": {"labels": labels}}
    if type_ is not None:
        out["spec"] = {"type": type_}
    return out


def test_keys_taken_from_the_host_join_the_base_and_virtual_changes_stay_changes() -> None:
    base = _obj({"app": "x", "old": "1", "both": "b0"})
    virtual = _obj({"app": "x", "old": "1", "mine": "v1", "both": "vb"})  # virtual added mine, set both
    host = {"metadata": {"labels": {"app": "x", "theirs": "h1", "both": "hb"}}}  # host: +theirs -old ~both
    new_v, _ = merge_both_ways(
        base["metadata"]["labels"],
        virtual["metadata"]["labels"],
        base["metadata"]["labels"],
        host["metadata"]["labels"],
    )
    assert new_v == {"app": "x", "mine": "v1", "both": "vb", "theirs": "h1"}
    half = half_synced_base(base, virtual, {"metadata": {"labels": new_v}}, PATHS)
    assert half == {"metadata": {"labels": {"app": "x", "both": "b0", "theirs": "h1"}}}
    # the next reconcile (host write not done, host as read is its base): only the virtual
    # changes go to the host, nothing comes back
    again_v, again_h = merge_both_ways(
        half["metadata"]["labels"], new_v, host["metadata"]["labels"], host["metadata"]["labels"]
    )
    assert again_v == new_v
    assert again_h == {"app": "x", "mine": "v1", "both": "vb", "theirs": "h1"}
    # ... and a host removal of what it had added is followed, not undone
    removed = {"app": "x", "both": "hb"}
    later_v, later_h = merge_both_ways(half["metadata"]["labels"], new_v, host["metadata"]["labels"], removed)
    assert "theirs" not in later_v and "theirs" not in later_h


def test_whole_fields_and_missing_bases() -> None:
    virtual = _obj({"a": "1"}, "ClusterIP")
    new_virtual = _obj({"a": "1"}, "NodePort")  # the host's type came over
    assert half_synced_base(_obj({"a": "0"}, "ClusterIP"), virtual, new_virtual, PATHS) == _obj(
        {"a": "0"}, "NodePort"
    )
    # no base at all (first sight): only what the write changed
    assert half_synced_base(None, virtual, _obj({"a": "1", "b": "2"}), PATHS) == _obj({"b": "2"})
    # nothing changed: the old base as it was
    assert half_synced_base(_obj({"a": "0"}), virtual, virtual, PATHS) == _obj({"a": "0"})


def _pod(labels: dict[str, str], ready: str) -> dict[str, Any]:
    return {"metadata": {"labels": labels}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def test_write_stages_keep_the_base_as_far_as_the_writes_got() -> None:
    paths = ("metadata.labels", "status.conditions")
    vbase, hbase = _pod({"app": "x"}, "False"), _pod({"app": "x"}, "False")
    virtual = _pod({"app": "x", "mine": "v"}, "False")  # the virtual side added `mine`
    host = _pod({"app": "x", "theirs": "h"}, "True")  # the host added `theirs`, became Ready
    res = SyncResult(
        virtual=_pod({"app": "x", "mine": "v", "theirs": "h"}, "True"),
        host=_pod({"app": "x", "mine": "v", "theirs": "h"}, "True"),
        virtual_patch={"metadata": {"labels": {"theirs": "h"}}},
        virtual_status_patch={"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        host_patch={"metadata": {"labels": {"mine": "v"}}},
    )
    stages = WriteStages(res, virtual, host, vbase, hbase, paths)
    stages.written("virtual", False)
    vb, hb = stages.base()
    # labels: the host's `theirs` is synced, the virtual `mine` still a change; the status copy
    # is not written yet, so its base is the old one on both sides
    assert vb == _pod({"app": "x", "theirs": "h"}, "False")
    assert hb == _pod({"app": "x", "theirs": "h"}, "False")
    stages.written("virtual", True)
    assert stages.base() == (_pod({"app": "x", "theirs": "h"}, "True"), host)
    stages.written("host", False)  # nothing for the host status: everything is written
    assert stages.base() == (res.virtual, res.host)


def test_a_base_stored_ahead_of_a_virtual_write_is_taken_when_the_write_is_in(tmp_path: Path) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store)
        paths = ("metadata.labels",)
        before = ({"metadata": {"labels": {"app": "x"}}}, {"metadata": {"labels": {"app": "x", "k": "h"}}})
        after = ({"metadata": {"labels": {"app": "x", "k": "h"}}}, before[1])
        await bases.put(POD, "ns", "p", *before, paths)
        await bases.flush()
        virtual = {"metadata": {"resourceVersion": "5", "labels": {"app": "x"}}}
        patch = {"metadata": {"labels": {"k": "h", "gone": None}}}
        assert await bases.put_ahead(POD, "ns", "p", after, before, virtual, patch, paths)
        # queued before the next store write (the virtual patch): never committed after it
        other = await store.create("/registry/pods/ns/p", {"metadata": {"name": "p"}})
        await bases.flush()
        saved = await store.get(base_key(POD, "ns", "p"))
        assert saved is not None and saved.mod_rev < other.mod_rev
        # a restart: the write in or not decides which base holds
        again = BaseStore(store)
        await again.load()
        written = {"metadata": {"resourceVersion": "6", "labels": {"app": "x", "k": "h"}}}
        assert again.get(POD, "ns", "p", written) == after
        assert again.get(POD, "ns", "p", virtual) == before  # still at the version the patch needed
        moved = {"metadata": {"resourceVersion": "6", "labels": {"app": "x", "k": "other"}}}
        assert again.get(POD, "ns", "p", moved) == before  # someone else's write, not ours
        assert again.get(POD, "ns", "p") == before
        # a patch that sets no base path stores nothing ahead
        assert not await bases.put_ahead(POD, "ns", "p", after, before, virtual, {"spec": {"x": 1}}, paths)
        await store.close()

    asyncio.run(main())
