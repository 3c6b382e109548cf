"""Fewer sync-base writes per synced object, the same crash safety: the base after a host create
waits for the pair's next write (its record in the store derives it meanwhile), a doc stored ahead
of a virtual write stands for the base after it while the virtual object shows that write, and a
doc stored ahead is in the store before the write it guards on every backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from tests.etcdserver import EtcdServer, etcd_server

from vcluster.store.etcdclient import EtcdEndpoint
from vcluster.store.etcdstore import EtcdStore
from vcluster.store.logstore import LogStore
from vcluster.syncer.engine.basestore import BaseStore, base_key
from vcluster.syncer.kinds import POD

__all__ = ["etcd_server"]

PATHS = ("metadata.labels", "metadata.annotations", "status.conditions")
KEY = base_key(POD, "ns", "p")


def _pod(uid: str, labels: dict[str, str], rv: str = "1", ready: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "ns", "uid": uid, "resourceVersion": rv, "labels": labels},
        "spec": {"x": 1},
    }
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", "status": ready}]}
    return obj


def _host(labels: dict[str, str], ready: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"labels": labels, "annotations": {"uid": "u1"}}}
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", "status": ready}]}
    return obj


async def _saved(store: LogStore) -> dict[str, Any] | None:
    entry = await store.get(KEY)
    return None if entry is None else orjson.loads(entry.raw)


async def _committed(store: LogStore, bases: BaseStore) -> None:
    """Every base write handed to the store so far is committed."""
    await bases.idle()
    await asyncio.sleep(0.05)


async def _reopen(path: Path) -> tuple[LogStore, BaseStore]:
    store = LogStore(path, compact_interval=0)
    await store.start()
    bases = BaseStore(store)
    await bases.load()
    return store, bases


def test_a_crash_before_the_base_after_a_create_is_saved_leaves_the_create_record(tmp_path: Path) -> None:
    """The base after the create is not written at once: a crash then leaves the record, which the
    restart reads exactly as before (no base, the record for the derived base)."""

    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store, settle_delay=30.0)
        virtual, host = _pod("u1", {"b": "v1"}), _host({"b": "v1", "managed": "yes"})
        writes = store.writes
        await bases.put_created_ahead(POD, "ns", "p", virtual, host, PATHS)
        await bases.put(POD, "ns", "p", virtual, host, PATHS, settle=True)  # the create answered
        assert bases.get(POD, "ns", "p") == ({"metadata": {"labels": {"b": "v1"}}}, host)
        assert bases.created(POD, "ns", "p", "u1") is None  # in memory: the base, no record
        await _committed(store, bases)
        assert store.writes == writes + 1  # the record only
        saved = await _saved(store)
        assert saved is not None and saved["created"]["uid"] == "u1"
        await store.close()  # killed: the settling base is never written

        store2, again = await _reopen(tmp_path / "state.db")
        assert again.get(POD, "ns", "p", virtual) == (None, None)
        assert again.created(POD, "ns", "p", "u1") == (
            {"metadata": {"labels": {"b": "v1"}}},
            {"metadata": {"labels": {"b": "v1", "managed": "yes"}, "annotations": {"uid": "u1"}}},
        )
        await store2.close()

    asyncio.run(main())


def test_the_base_after_a_create_is_written_with_the_next_write_or_after_the_settle_delay(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store, settle_delay=30.0)
        virtual, host = _pod("u1", {"b": "v1"}), _host({"b": "v1"})
        await bases.put_created_ahead(POD, "ns", "p", virtual, host, PATHS)
        await bases.put(POD, "ns", "p", virtual, host, PATHS, settle=True)
        await _committed(store, bases)
        writes = store.writes
        # the first status copy: its doc, stored ahead of the virtual write, carries the base
        # after the create as its base from before the write, and the record is gone
        running = _host({"b": "v1"}, ready="True")
        before = bases.get(POD, "ns", "p")
        after = (bases.get(POD, "ns", "p")[0] | {"status": running["status"]}, running)
        patch = {"status": {"conditions": running["status"]["conditions"]}}
        assert await bases.put_ahead(POD, "ns", "p", after, before, virtual, patch, PATHS)
        await _committed(store, bases)
        assert store.writes == writes + 1
        saved = await _saved(store)
        assert saved is not None and "created" not in saved
        assert (saved["virtual"], saved["host"]) == before
        await asyncio.sleep(0.05)
        assert store.writes == writes + 1  # no settling write left behind
        await store.close()

        # nothing follows the create: the base is written once the settle delay is over
        store2 = LogStore(tmp_path / "state2.db", compact_interval=0)
        await store2.start()
        bases2 = BaseStore(store2, settle_delay=0.1)
        await bases2.put_created_ahead(POD, "ns", "p", virtual, host, PATHS)
        await bases2.put(POD, "ns", "p", virtual, host, PATHS, settle=True)
        await _committed(store2, bases2)
        saved = await _saved(store2)
        assert saved is not None and "created" in saved
        await asyncio.sleep(0.3)
        saved = await _saved(store2)
        assert saved == {"virtual": {"metadata": {"labels": {"b": "v1"}}}, "host": host}
        # and at stop, whatever still settles is written
        await bases2.forget(POD, "ns", "p")
        bases2.settle_delay = 30.0
        await bases2.put_created_ahead(POD, "ns", "p", virtual, host, PATHS)
        await bases2.put(POD, "ns", "p", virtual, host, PATHS, settle=True)
        await bases2.flush()
        saved = await _saved(store2)
        assert saved is not None and "created" not in saved
        await store2.close()

    asyncio.run(main())


def _label_copy() -> tuple[
    tuple[dict[str, Any], dict[str, Any]],
    tuple[dict[str, Any], dict[str, Any]],
    dict[str, Any],
    dict[str, Any],
]:
    """(before, after, the virtual object before, the patch) of a host label `k` copied to the
    virtual object."""
    before = ({"metadata": {"labels": {"app": "x"}}}, {"metadata": {"labels": {"app": "x"}}})
    after = (
        {"metadata": {"labels": {"app": "x", "k": "h"}}},
        {"metadata": {"labels": {"app": "x", "k": "h"}}},
    )
    virtual = {"metadata": {"resourceVersion": "5", "labels": {"app": "x"}}}
    return before, after, virtual, {"metadata": {"labels": {"k": "h"}}}


def test_the_doc_stored_ahead_stands_for_the_base_after_the_write_until_the_virtual_object_moves(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store)
        paths = ("metadata.labels",)
        before, after, virtual, patch = _label_copy()
        await bases.put(POD, "ns", "p", *before, paths)
        await bases.flush()
        writes = store.writes
        assert await bases.put_ahead(POD, "ns", "p", after, before, virtual, patch, paths)
        answer = {"metadata": {"resourceVersion": "6", "labels": {"app": "x", "k": "h"}}}
        # the write is in: its base is kept, and not written (the doc stored ahead reads as it)
        await bases.put(POD, "ns", "p", *after, paths, shown_by=answer)
        await bases.put(POD, "ns", "p", *after, paths, shown_by=answer)  # the reconcile's last put
        await _committed(store, bases)
        assert store.writes == writes + 1 and bases.skipped == 1
        assert bases.get(POD, "ns", "p", answer) == after
        assert bases.get(POD, "ns", "p") == after  # without the virtual object too
        assert bases.seen(POD, "ns", "p") == (True, True)
        # a crash now: the restart reads the doc stored ahead as the base after the write
        store2, again = await _reopen(tmp_path / "state.db")
        assert again.get(POD, "ns", "p", answer) == after
        await store2.close()
        # the user removes the label the write had copied: the doc would now read as the base
        # from before the write (k absent on both sides: the host's k would come back), so the
        # base after the write is written as soon as a reconcile sees that
        removed = {"metadata": {"resourceVersion": "7", "labels": {"app": "x"}}}
        assert bases.get(POD, "ns", "p", removed) == after
        await _committed(store, bases)
        assert store.writes == writes + 2
        assert await _saved(store) == {"virtual": after[0], "host": after[1]}
        await store.close()
        store3, third = await _reopen(tmp_path / "state.db")
        assert third.get(POD, "ns", "p", removed) == after
        await store3.close()

    asyncio.run(main())


def test_a_base_the_doc_stored_ahead_does_not_read_as_is_written(tmp_path: Path) -> None:
    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store)
        paths = ("metadata.labels",)
        before, after, virtual, patch = _label_copy()
        await bases.put(POD, "ns", "p", *before, paths)
        await bases.flush()
        assert await bases.put_ahead(POD, "ns", "p", after, before, virtual, patch, paths)
        await _committed(store, bases)
        writes = store.writes
        # an answer at the resourceVersion the patch required (nothing written) shows no write
        await bases.put(POD, "ns", "p", *after, paths, shown_by=virtual)
        await _committed(store, bases)
        assert store.writes == writes + 1 and bases.skipped == 0
        # the write is in, but the reconcile's host write changed the base further
        answer = {"metadata": {"resourceVersion": "6", "labels": {"app": "x", "k": "h"}}}
        assert await bases.put_ahead(POD, "ns", "p", after, before, virtual, patch, paths)
        further = (after[0], {"metadata": {"labels": {"app": "x", "k": "h", "more": "1"}}})
        await bases.put(POD, "ns", "p", *further, paths, shown_by=answer)
        await _committed(store, bases)
        assert store.writes == writes + 3 and bases.skipped == 0
        assert await _saved(store) == {"virtual": further[0], "host": further[1]}
        await store.close()

    asyncio.run(main())


class _SlowStore(LogStore):
    """A LogStore whose writes reach it a moment after they are called, in no promised order (as
    etcd's requests do)."""

    @property
    def writes_ordered_by_call(self) -> bool:
        return False

    async def create(self, key: str, obj: dict[str, Any], *, lease: int = 0, dry_run: bool = False) -> Any:
        await asyncio.sleep(0.05)
        return await super().create(key, obj, lease=lease, dry_run=dry_run)

    async def update(
        self, key: str, obj: dict[str, Any], *, expected_rev: int | None, dry_run: bool = False
    ) -> Any:
        await asyncio.sleep(0.05)
        return await super().update(key, obj, expected_rev=expected_rev, dry_run=dry_run)


def test_a_store_that_does_not_order_writes_by_call_has_the_doc_before_put_ahead_returns(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        store = _SlowStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store)
        paths = ("metadata.labels",)
        before, after, virtual, patch = _label_copy()
        assert await bases.put_ahead(POD, "ns", "p", after, before, virtual, patch, paths)
        saved = store.get_now(KEY)
        assert saved is not None and b'"ahead"' in saved.raw
        # a create record goes to the host, not to this store: queued, the create not held up
        await bases.put_created_ahead(POD, "ns", "q", _pod("u1", {}), _host({}), PATHS)
        assert store.get_now(base_key(POD, "ns", "q")) is None
        await bases.flush()
        saved = store.get_now(base_key(POD, "ns", "q"))
        assert saved is not None and b'"created"' in saved.raw
        await store.close()

    asyncio.run(main())


def test_on_etcd_the_doc_stored_ahead_is_committed_before_the_write_it_guards(
    etcd_server: EtcdServer,
) -> None:
    async def main() -> None:
        store = EtcdStore(EtcdEndpoint(etcd_server.url), compact_interval=0)
        await store.start()
        try:
            assert not store.writes_ordered_by_call
            bases = BaseStore(store)
            paths = ("metadata.labels",)
            before, after, virtual, patch = _label_copy()
            key = base_key(POD, "basewrites", "p")
            assert await bases.put_ahead(POD, "basewrites", "p", after, before, virtual, patch, paths)
            saved = store.get_now(key)  # etcd answered the write, its cache holds it
            assert saved is not None and orjson.loads(saved.raw)["ahead"]["sets"] == [
                ["metadata.labels", {"k": "h"}]
            ]
        finally:
            await store.close()

    asyncio.run(main())


def test_a_host_data_change_after_a_create_whose_base_was_lost_is_copied_back(tmp_path: Path) -> None:
    """Soak seed 9: a ConfigMap created on the host, the syncer killed before the base's save, a
    host-side data key added while it was down. The derived base takes the data the create wrote
    from the record (not the host's data as it is now), so the host's key counts as a change."""
    from types import SimpleNamespace

    from vcluster.syncer.constants import UID_ANNOTATION
    from vcluster.syncer.context import SyncContext
    from vcluster.syncer.engine import registry
    from vcluster.syncer.engine.controller import SyncController
    from vcluster.syncer.kinds import CONFIGMAP
    from vcluster.syncer.resources import configmap

    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        ctx = SyncContext(vcluster="my-vc", host_namespace="vc-ns")
        ks = registry.build("configmaps")
        assert ks is not None
        virtual = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "ns", "uid": "u1", "resourceVersion": "3"},
            "data": {"a": "x91"},
        }
        created = configmap.translate_configmap(virtual, ctx).obj
        assert created["metadata"]["annotations"][UID_ANNOTATION] == "u1"
        bases = BaseStore(store)
        await bases.put_created_ahead(CONFIGMAP, "ns", "cm", virtual, created, ks.base_paths)
        await _committed(store, bases)
        await store.close()  # killed before the create's base was saved

        store2, again = await _reopen(tmp_path / "state.db")
        host = {**created, "data": {"a": "x91", "h": "h3"}}  # written on the host while down
        fake = SimpleNamespace(
            ks=ks, engine=SimpleNamespace(bases=again, ctx=ctx), log=SimpleNamespace(info=lambda *a: None)
        )
        vbase, hbase = SyncController._derived_base(fake, "ns", "cm", virtual, host)  # type: ignore[arg-type]
        assert hbase is not None and hbase["data"] == {"a": "x91"}
        assert host["data"] == {"a": "x91", "h": "h3"}  # the informer's object is left alone
        res = configmap.sync_configmap(virtual, host, vbase, hbase, ctx)
        assert res.virtual is not None and res.virtual["data"] == {"a": "x91", "h": "h3"}
        await store2.close()

    asyncio.run(main())
