"""Sync-base writes per key: a key's write waits for no other key's (slow) write, a key's docs are
committed in the order they were kept on every backend (SQLite and PostgreSQL commit in call order,
etcd does not), and a base after a host create settles unless the pair writes again or the syncer
stops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.etcdserver import EtcdServer, etcd_server
from tests.pgserver import PgServer, pg_server

from vcluster.store.etcdclient import EtcdEndpoint
from vcluster.store.etcdstore import EtcdStore
from vcluster.store.interface import Storage
from vcluster.store.logstore import LogStore
from vcluster.syncer.engine.basestore import BaseStore, base_key
from vcluster.syncer.kinds import CONFIGMAP, POD

__all__ = ["etcd_server", "pg_server"]

PATHS = ("metadata.labels",)


class _Delayed:
    """Mixin for a store: the writes of the keys in `delays` take that long (the first of them
    only, with `once`). Where the store commits in call order (`ordered`), the write is called at
    once and its answer comes late (as a write waiting behind a busy log's commits); else the write
    reaches the store late, as an etcd request may. `calls` lists (key, doc) of the writes the
    store took, in its order, `answered` the keys whose write was answered."""

    delays: dict[str, float]
    once: bool
    ordered: bool
    calls: list[tuple[str, dict[str, Any]]]
    answered: list[str]

    def setup_delays(self, delays: dict[str, float], *, ordered: bool, once: bool = False) -> None:
        self.delays, self.ordered, self.once = dict(delays), ordered, once
        self.calls, self.answered = [], []

    @property
    def writes_ordered_by_call(self) -> bool:
        return self.ordered

    async def _delayed(self, key: str, obj: dict[str, Any], call: Callable[[], Any]) -> Any:
        delay = self.delays.get(key, 0.0)
        if self.once:
            self.delays.pop(key, None)
        if delay and not self.ordered:
            await asyncio.sleep(delay)
        e = await call()  # takes its place in the store's order before it first suspends
        self.calls.append((key, obj))
        if delay and self.ordered:
            await asyncio.sleep(delay)
        self.answered.append(key)
        return e

    async def create(self, key: str, obj: dict[str, Any], *, lease: int = 0, dry_run: bool = False) -> Any:
        sup = super()
        return await self._delayed(key, obj, lambda: sup.create(key, obj, lease=lease, dry_run=dry_run))  # type: ignore[misc]

    async def update(
        self, key: str, obj: dict[str, Any], *, expected_rev: int | None, dry_run: bool = False
    ) -> Any:
        sup = super()
        return await self._delayed(
            key,
            obj,
            lambda: sup.update(key, obj, expected_rev=expected_rev, dry_run=dry_run),  # type: ignore[misc]
        )


class _DelayedLogStore(_Delayed, LogStore):
    pass


class _DelayedEtcdStore(_Delayed, EtcdStore):
    pass


def _labels(v: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"v": v}}}


async def _put(bases: BaseStore, name: str, v: str, ns: str = "ns") -> None:
    await bases.put(CONFIGMAP, ns, name, _labels(v), _labels(v), PATHS)


def _stored(store: Storage, key: str) -> dict[str, Any] | None:
    e = store.get_now(key)
    return None if e is None else orjson.loads(e.raw)


async def _until(pred: Callable[[], bool], timeout: float = 2.0) -> float:
    """Seconds until `pred()` holds (polled every 2 ms); fails after `timeout`."""
    t0 = time.monotonic()
    while not pred():
        assert time.monotonic() - t0 < timeout, "timed out"
        await asyncio.sleep(0.002)
    return time.monotonic() - t0


async def _sqlite(
    tmp_path: Path, delays: dict[str, float], *, ordered: bool, once: bool = False
) -> _DelayedLogStore:
    store = _DelayedLogStore(tmp_path / "state.db", compact_interval=0)
    store.setup_delays(delays, ordered=ordered, once=once)
    await store.start()
    return store


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered-by-call", "unordered"])
def test_a_slow_write_of_one_key_does_not_delay_another_keys_commit(tmp_path: Path, ordered: bool) -> None:
    """Key a's writes take 0.6 s; b, marked dirty while a's write is in flight (a plain write, then
    a doc stored ahead of a virtual write), and c after both, are committed within moments."""

    async def main() -> None:
        a, b, c = (base_key(CONFIGMAP, "ns", n) for n in "abc")
        store = await _sqlite(tmp_path, {a: 0.6}, ordered=ordered)
        bases = BaseStore(store)
        await _put(bases, "a", "1")
        await asyncio.sleep(0.02)  # a's write is in flight
        await _put(bases, "b", "1")
        lag_b = await _until(lambda: _stored(store, b) == {"virtual": _labels("1"), "host": _labels("1")})
        assert lag_b < 0.3 and a not in store.answered
        # a doc stored ahead of a virtual write of a, slow too, then c
        before, after = (_labels("1"), _labels("1")), (_labels("2"), _labels("2"))
        virtual = {"metadata": {"resourceVersion": "5", "labels": {"v": "1"}}}
        if ordered:  # on an unordered store put_ahead waits for its own (slow) write, as it must
            assert await bases.put_ahead(CONFIGMAP, "ns", "a", after, before, virtual, _labels("2"), PATHS)
        await _put(bases, "c", "1")
        lag_c = await _until(lambda: _stored(store, c) is not None)
        assert lag_c < 0.3 and a not in store.answered
        await bases.flush()
        assert store.answered.count(a) >= 1
        await store.close()

    asyncio.run(main())


def test_a_keys_docs_are_committed_in_order_on_a_store_that_does_not_order_writes(tmp_path: Path) -> None:
    """The first write of a is slow to reach the store; the docs kept after it are written after it,
    the latest last (written at once, they would be overwritten by the slow first one)."""

    async def main() -> None:
        a = base_key(CONFIGMAP, "ns", "a")
        store = await _sqlite(tmp_path, {a: 0.3}, ordered=False, once=True)
        bases = BaseStore(store)
        for v in "123":
            await _put(bases, "a", v)
            await asyncio.sleep(0.02)  # each in its own round, while the first write is in flight
        await _put(bases, "b", "1")
        await _until(lambda: _stored(store, base_key(CONFIGMAP, "ns", "b")) is not None)
        assert a not in store.answered
        await bases.flush()
        versions = [doc["virtual"]["metadata"]["labels"]["v"] for key, doc in store.calls if key == a]
        assert versions == sorted(versions) and versions[0] == "1" and versions[-1] == "3"
        assert len(versions) == 2  # the docs kept while the first write was in flight: written once
        assert _stored(store, a) == {"virtual": _labels("3"), "host": _labels("3")}
        await store.close()

    asyncio.run(main())


def test_a_doc_stored_ahead_follows_the_keys_slow_write_on_a_store_that_does_not_order_writes(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        a = base_key(CONFIGMAP, "ns", "a")
        store = await _sqlite(tmp_path, {a: 0.3}, ordered=False, once=True)
        bases = BaseStore(store)
        await _put(bases, "a", "1")
        await asyncio.sleep(0.02)
        before, after = (_labels("1"), _labels("1")), (_labels("2"), _labels("2"))
        virtual = {"metadata": {"resourceVersion": "5", "labels": {"v": "1"}}}
        assert await bases.put_ahead(CONFIGMAP, "ns", "a", after, before, virtual, _labels("2"), PATHS)
        # returned once its doc is in, after the slow write before it
        assert [key for key, _ in store.calls] == [a, a] and store.answered == [a, a]
        stored = _stored(store, a)
        assert stored is not None and stored["ahead"]["virtual"] == _labels("2")
        await bases.flush()
        assert _stored(store, a) == stored
        await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_doc_stored_ahead_is_in_the_log_before_the_guarded_write_while_the_keys_write_is_in_flight(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    """SQLite and PostgreSQL commit in call order: put_ahead does not wait for the key's earlier
    write, and its doc is committed before the virtual write called after it returns."""

    async def main() -> None:
        a = base_key(CONFIGMAP, "ns", "a")
        if backend == "sqlite":
            store = _DelayedLogStore(tmp_path / "state.db", compact_interval=0)
        else:
            from vcluster.store.postgres import PostgresLog

            pg: PgServer = request.getfixturevalue("pg_server")
            store = _DelayedLogStore(log=PostgresLog(pg.dsn(pg.create_database())), compact_interval=0)
        store.setup_delays({a: 0.5}, ordered=True, once=True)
        await store.start()
        bases = BaseStore(store)
        await _put(bases, "a", "1")
        await asyncio.sleep(0.02)  # a's first write called, its answer slow
        before, after = (_labels("1"), _labels("1")), (_labels("2"), _labels("2"))
        virtual = {"metadata": {"resourceVersion": "5", "labels": {"v": "1"}}}
        t0 = time.monotonic()
        assert await bases.put_ahead(CONFIGMAP, "ns", "a", after, before, virtual, _labels("2"), PATHS)
        assert time.monotonic() - t0 < 0.2 and store.answered == []
        head = await store.get_for_update(a)  # the latest write the store took, committed or not
        assert head is not None and "ahead" in orjson.loads(head.raw)
        guarded = await store.create("/registry/configmaps/ns/a", {"metadata": {"name": "a"}})
        await bases.idle()
        entry = store.get_now(a)
        assert entry is not None and "ahead" in orjson.loads(entry.raw)
        assert entry.mod_rev < guarded.mod_rev
        await store.close()

    asyncio.run(main())


def test_on_etcd_a_keys_docs_are_committed_in_order_and_other_keys_do_not_wait(
    etcd_server: EtcdServer,
) -> None:
    async def main() -> None:
        a, b = base_key(CONFIGMAP, "rounds", "a"), base_key(CONFIGMAP, "rounds", "b")
        store = _DelayedEtcdStore(EtcdEndpoint(etcd_server.url), compact_interval=0)
        assert not EtcdStore.writes_ordered_by_call.__get__(store)  # type: ignore[attr-defined]
        store.setup_delays({a: 0.4}, ordered=False, once=True)
        await store.start()
        try:
            bases = BaseStore(store)
            await _put(bases, "a", "1", "rounds")
            await asyncio.sleep(0.02)
            await _put(bases, "a", "2", "rounds")
            await _put(bases, "b", "1", "rounds")
            lag_b = await _until(lambda: _stored(store, b) is not None)
            assert lag_b < 0.25 and a not in store.answered
            before, after = (_labels("2"), _labels("2")), (_labels("3"), _labels("3"))
            virtual = {"metadata": {"resourceVersion": "5", "labels": {"v": "2"}}}
            assert await bases.put_ahead(
                CONFIGMAP, "rounds", "a", after, before, virtual, _labels("3"), PATHS
            )
            await bases.flush()
            stored = await store.get(a)
            assert stored is not None and orjson.loads(stored.raw)["ahead"]["virtual"] == _labels("3")
            versions = [doc["virtual"]["metadata"]["labels"]["v"] for key, doc in store.calls if key == a]
            assert versions == ["1", "2"] and "ahead" in store.calls[-1][1]
        finally:
            await store.close()

    asyncio.run(main())


def _pod(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "1", "labels": labels}
    }


def test_a_settling_base_is_not_written_by_other_keys_rounds(tmp_path: Path) -> None:
    """The base after a host create waits its settle delay even while other keys are written."""

    async def main() -> None:
        store = LogStore(tmp_path / "state.db", compact_interval=0)
        await store.start()
        bases = BaseStore(store, settle_delay=0.8)
        key = base_key(POD, "ns", "p")
        virtual, host = _pod({"b": "1"}), {"metadata": {"labels": {"b": "1", "managed": "y"}}}
        paths = ("metadata.labels", "status.conditions")
        await bases.put_created_ahead(POD, "ns", "p", virtual, host, paths)
        await bases.put(POD, "ns", "p", virtual, host, paths, settle=True)
        await bases.idle()
        writes = store.writes
        for i in range(5):  # busy: a round every 40 ms
            await _put(bases, f"o{i}", "1")
            await asyncio.sleep(0.04)
        await bases.idle()
        assert store.writes == writes + 5
        stored = _stored(store, key)
        assert stored is not None and "created" in stored
        await _until(lambda: "created" not in (_stored(store, key) or {"created": 1}), timeout=2.0)
        await bases.idle()
        assert store.writes == writes + 6
        await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered-by-call", "unordered"])
def test_a_base_forgotten_while_its_first_write_is_in_flight_leaves_no_row(
    tmp_path: Path, ordered: bool
) -> None:
    async def main() -> None:
        a = base_key(CONFIGMAP, "ns", "a")
        store = await _sqlite(tmp_path, {a: 0.2}, ordered=ordered)
        bases = BaseStore(store)
        await _put(bases, "a", "1")
        await asyncio.sleep(0.02)  # its create is in flight
        await bases.forget(CONFIGMAP, "ns", "a")
        await bases.idle()
        assert _stored(store, a) is None and await store.get(a) is None
        assert bases.get(CONFIGMAP, "ns", "a") == (None, None)
        await store.close()

    asyncio.run(main())
