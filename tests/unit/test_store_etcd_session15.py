"""The store contract on a real etcd (the scenarios of test_store_postgres.py's contract tests), and
what only etcd has: values stored without resourceVersion, leases, two processes on one etcd,
kube's compactor, losing and regaining etcd, TLS with client certificates, and the wiring
(config, data dir store kind)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.etcdserver import EtcdServer, etcd_server, etcd_tls_server, running_etcd

from vcluster.store.datasource import DatastoreError
from vcluster.store.etcdclient import EtcdClient, EtcdEndpoint, normalize_endpoint
from vcluster.store.etcdstore import EtcdStore
from vcluster.store.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StoreUnavailableError,
)

__all__ = ["etcd_server", "etcd_tls_server"]

CM = "/registry/configmaps/"
_ns = itertools.count(1)


def cm(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "data": {"k": name},
    }


def fresh_ns() -> str:
    """A namespace no other test of the module wrote (they share one etcd)."""
    return f"t{next(_ns)}"


async def open_store(srv: EtcdServer, **kw: Any) -> EtcdStore:
    kw.setdefault("compact_interval", 0)
    s = EtcdStore(EtcdEndpoint(srv.url), **kw)
    await s.start()
    return s


async def raw_value(srv: EtcdServer, key: str) -> bytes:
    client = EtcdClient(EtcdEndpoint(srv.url))
    try:
        _, kvs, _ = await client.range(key)
        return kvs[0].value
    finally:
        await client.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------- the contract
def test_create_update_delete_cas_and_what_etcd_holds(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()

    async def main() -> None:
        s = await open_store(etcd_server)
        a = await s.create(f"{CM}{ns}/a", cm("a", ns))
        b = await s.create(f"{CM}{ns}/b", cm("b", ns))
        assert b.mod_rev == a.mod_rev + 1 == s.revision
        assert orjson.loads(a.raw)["metadata"]["resourceVersion"] == str(a.mod_rev)
        # etcd holds the object without its resourceVersion, as kube's etcd3 store writes it
        assert "resourceVersion" not in orjson.loads(await raw_value(etcd_server, f"{CM}{ns}/a"))["metadata"]
        with pytest.raises(KeyExistsError):
            await s.create(f"{CM}{ns}/a", cm("a", ns))
        a2 = await s.update(f"{CM}{ns}/a", cm("a", ns, x="1"), expected_rev=a.mod_rev)
        assert a2.create_rev == a.mod_rev and a2.mod_rev == b.mod_rev + 1
        with pytest.raises(RevisionConflictError) as conflict:
            await s.update(f"{CM}{ns}/a", cm("a", ns), expected_rev=a.mod_rev)
        assert conflict.value.actual == a2.mod_rev
        with pytest.raises(KeyNotFoundError):
            await s.update(f"{CM}{ns}/nope", cm("nope", ns), expected_rev=None)
        ev = await s.delete(f"{CM}{ns}/a", expected_rev=a2.mod_rev)
        assert ev.type == DELETED and ev.rev == a2.mod_rev + 1 and ev.prev is not None
        assert ev.entry.decode()["metadata"]["resourceVersion"] == str(ev.rev)
        assert ev.entry.labels == {"x": "1"}
        with pytest.raises(KeyNotFoundError):
            await s.delete(f"{CM}{ns}/a", expected_rev=None)
        again = await s.create(f"{CM}{ns}/a", cm("a", ns))
        got = await s.get(f"{CM}{ns}/a")
        assert got is not None and got.mod_rev == again.mod_rev == again.create_rev == ev.rev + 1
        assert s.get_now(f"{CM}{ns}/a") is got
        # dry runs check against the cache and write nothing
        dry = await s.create(f"{CM}{ns}/d", cm("d", ns), dry_run=True)
        assert dry.mod_rev == 0 and await s.get(f"{CM}{ns}/d") is None
        # the syncer's mappings are plain JSON values under /vcluster/
        m = await s.create("/vcluster/mappings/" + ns, {"virtual": "x"})
        assert orjson.loads(m.raw) == {"virtual": "x"}
        await s.close()

    run(main())


def test_list_at_a_revision_with_pagination_and_selector(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()
    p = f"{CM}{ns}/"

    async def main() -> None:
        s = await open_store(etcd_server)
        for i in range(10):
            await s.create(f"{p}c{i:02d}", cm(f"c{i:02d}", ns, even=str(i % 2 == 0)))
        await s.create(f"{CM}{ns}x/x", cm("x", ns + "x"))
        snap = s.revision
        await s.delete(f"{p}c00", expected_rev=None)
        await s.update(f"{p}c01", cm("c01", ns, changed="yes"), expected_rev=None)
        await s.create(f"{p}c99", cm("c99", ns))
        old = await s.list(p, revision=snap)  # older than the cache: read from etcd at that revision
        assert [e.key.rsplit("/", 1)[1] for e in old.entries] == [f"c{i:02d}" for i in range(10)]
        assert old.revision == snap and old.entries[1].labels == {"even": "False"}
        assert old.entries[3].decode()["metadata"]["resourceVersion"] == str(old.entries[3].mod_rev)
        page = await s.list(p, revision=snap, limit=4)
        assert [e.key[-3:] for e in page.entries] == ["c00", "c01", "c02", "c03"] and page.more
        rest = await s.list(p, revision=snap, limit=100, start_after=page.entries[-1].key)
        assert [e.key[-3:] for e in rest.entries] == [f"c{i:02d}" for i in range(4, 10)] and not rest.more
        even = await s.list(p, revision=snap, match=lambda e: (e.labels or {}).get("even") == "True")
        assert len(even.entries) == 5
        with pytest.raises(FutureRevisionError):
            await s.list(p, revision=s.revision + 5)
        now = await s.list(p)  # from the cache
        assert [e.key[-3:] for e in now.entries] == [f"c{i:02d}" for i in range(1, 10)] + ["c99"]
        assert now.revision == s.revision
        first = await s.list(p, limit=3)
        assert first.more and first.remaining == 7
        await s.close()

    run(main())


def test_watch_replays_from_the_ring_or_from_etcd_and_goes_on_live(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()
    p = f"{CM}{ns}/"

    async def main() -> None:
        s = await open_store(etcd_server, ring_size=3)
        start = s.revision
        e1 = await s.create(f"{p}a", cm("a", ns))
        await s.create(f"{CM}{ns}z/b", cm("b", ns + "z"))
        e3 = await s.update(f"{p}a", cm("a", ns, v="2"), expected_rev=e1.mod_rev)
        await s.delete(f"{p}a", expected_rev=None)
        for i in range(5):  # push the above out of the in-memory ring
            await s.create(f"{CM}{ns}y/f{i}", cm(f"f{i}", ns + "y"))
        w = await s.watch(p, start)
        got = [await w.next(2) for _ in range(3)]
        assert [(g.type, g.rev) for g in got if g] == [
            (ADDED, e1.mod_rev),
            (MODIFIED, e3.mod_rev),
            (DELETED, e3.mod_rev + 1),
        ]
        assert got[1].prev is not None and got[1].prev.mod_rev == e1.mod_rev  # type: ignore[union-attr]
        assert got[2].entry.decode()["metadata"]["labels"] == {"v": "2"}  # type: ignore[union-attr]
        e5 = await s.create(f"{p}c", cm("c", ns))  # ... and then it goes on live
        nxt = await w.next(2)
        assert nxt is not None and nxt.rev == e5.mod_rev
        w.close()
        recent = await s.watch(p, e5.mod_rev - 1)  # in the ring
        ev = await recent.next(2)
        assert ev is not None and ev.rev == e5.mod_rev
        recent.close()
        with pytest.raises(FutureRevisionError):
            await s.watch(p, s.revision + 10)
        await s.close()

    run(main())


def test_compaction_as_kube_and_compacted_errors(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()
    p = f"{CM}{ns}/"

    async def main() -> None:
        s = await open_store(etcd_server, ring_size=5)
        other = await open_store(etcd_server)
        e = await s.create(f"{p}hot", cm("hot", ns))
        first = e.mod_rev
        for i in range(20):
            e = await s.update(f"{p}hot", cm("hot", ns, n=str(i)), expected_rev=e.mod_rev)
        target = e.mod_rev - 3
        assert await s.compact(target) == target == s.compact_revision
        await other._caught_up(s.revision)
        assert other.compact_revision == target  # compact_rev_key is shared through the watch
        with pytest.raises(CompactedError):
            await s.watch(p, first)
        with pytest.raises(CompactedError):
            await s.list(p, revision=first)
        w = await s.watch(p, target)  # what is kept still replays, from etcd (the ring holds 5)
        ev = await w.next(2)
        assert ev is not None and ev.rev == target + 1
        w.close()
        # kube's compactor: one round per compact_rev_key version, whoever claims it first
        version = s._compact_version
        won, _ = await s._compact_step(version, 0)
        lost, _ = await other._compact_step(version, 0)
        assert won == version + 1 and lost == version + 1  # the loser learns the new version
        await other.close()
        await s.close()

    run(main())


def test_restart_keeps_objects_and_revisions_and_continues(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()
    p = f"{CM}{ns}/"

    async def first() -> tuple[int, dict[str, int]]:
        s = await open_store(etcd_server)
        revs = {}
        for i in range(5):
            e = await s.create(f"{p}c{i}", cm(f"c{i}", ns))
            revs[e.key] = e.mod_rev
        await s.delete(f"{p}c4", expected_rev=None)
        del revs[f"{p}c4"]
        rev = s.revision
        await s.close()
        return rev, revs

    async def second(rev: int, revs: dict[str, int]) -> None:
        s = await open_store(etcd_server)
        assert s.revision == rev
        assert {e.key: e.mod_rev for e in (await s.list(p)).entries} == revs
        w = await s.watch(p, min(revs.values()) - 1)  # before this process started: etcd replays it
        types = []
        while (ev := await w.next(0.3)) is not None:
            types.append(ev.type)
        assert types.count(ADDED) == 5 and types.count(DELETED) == 1
        w.close()
        assert (await s.create(f"{p}new", cm("new", ns))).mod_rev == rev + 1
        await s.close()

    rev, revs = run(first())
    run(second(rev, revs))


def test_concurrent_writes_and_conflicts(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()
    p = f"{CM}{ns}/"

    async def main() -> None:
        s = await open_store(etcd_server)
        await asyncio.gather(*(s.create(f"{p}p{i:03d}", cm(f"p{i}", ns)) for i in range(100)))
        assert len((await s.list(p)).entries) == 100
        base = await s.get(f"{p}p000")
        assert base is not None
        results = await asyncio.gather(
            *(s.update(f"{p}p000", cm("p0", ns, w=str(i)), expected_rev=base.mod_rev) for i in range(10)),
            return_exceptions=True,
        )
        assert sum(1 for r in results if isinstance(r, RevisionConflictError)) == 9
        # unconditional updates all land, each on the newest state
        done = await asyncio.gather(
            *(s.update(f"{p}p001", cm("p1", ns, w=str(i)), expected_rev=None) for i in range(10))
        )
        assert len({e.mod_rev for e in done}) == 10
        got = await s.get(f"{p}p001")
        assert got is not None and got.mod_rev == max(e.mod_rev for e in done)
        await s.close()

    run(main())


# ---------------------------------------------------------------------------- etcd only
def test_leases_are_shared_as_kube_does_and_expire_keys(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()

    async def main() -> None:
        s = await open_store(etcd_server)
        evs = [await s.create(f"/registry/events/{ns}/e{i}", cm(f"e{i}", ns), lease=3600) for i in range(5)]
        assert len({e.lease for e in evs}) == 1 and s.leases.granted == 1  # one lease for the burst
        assert (await s.update(evs[0].key, cm("e0", ns, u="1"), expected_rev=None)).lease != 0
        w = await s.watch(f"/registry/events/{ns}/", s.revision)
        short = await s.create(f"/registry/events/{ns}/short", cm("short", ns), lease=1)
        assert short.lease != evs[0].lease
        added = await w.next(2)
        assert added is not None and added.type == ADDED
        ev = await w.next(8)  # etcd expires the lease; the cache and watchers see the delete
        assert ev is not None and ev.type == DELETED and ev.key == short.key
        assert await s.get(short.key) is None and await s.get(evs[1].key) is not None
        w.close()
        await s.close()

    run(main())


def test_two_stores_on_one_etcd_see_each_others_writes(etcd_server: EtcdServer) -> None:
    ns = fresh_ns()
    p = f"{CM}{ns}/"

    async def main() -> None:
        a = await open_store(etcd_server)
        b = await open_store(etcd_server)
        wb = await b.watch(p, b.revision)
        x = await a.create(f"{p}x", cm("x", ns))
        got = await b.get(f"{p}x")  # a consistent read waits for b's cache to catch up
        assert got is not None and got.mod_rev == x.mod_rev and got.raw == x.raw
        ev = await wb.next(2)
        assert ev is not None and ev.type == ADDED and ev.rev == x.mod_rev
        with pytest.raises(KeyExistsError):
            await b.create(f"{p}x", cm("x", ns))
        # a stale base in one process loses the compare-and-swap in etcd
        await b.update(f"{p}x", cm("x", ns, by="b"), expected_rev=x.mod_rev)
        with pytest.raises(RevisionConflictError):
            await a.update(f"{p}x", cm("x", ns, by="a"), expected_rev=x.mod_rev)
        # an unconditional update from a cache that may lag still lands on the newest state
        y = await a.update(f"{p}x", cm("x", ns, by="a2"), expected_rev=None)
        assert (await b.get(f"{p}x")).labels == {"by": "a2"} and y.mod_rev == a.revision  # type: ignore[union-attr]
        await asyncio.gather(*(a.get(f"{p}x") for _ in range(20)))
        assert a.probes < 20  # concurrent consistent reads share revision probes
        wb.close()
        await a.close()
        await b.close()

    run(main())


def test_losing_etcd_fails_writes_and_the_store_recovers_when_it_is_back() -> None:
    """etcd stopped under a running store: writes fail with StoreUnavailableError, reads go on from
    the cache, `unavailable` says why; once it is back the watch resumes from its revision and
    nothing acknowledged is lost."""
    with running_etcd() as srv:

        async def main() -> None:
            s = await open_store(srv)
            w = await s.watch(CM, s.revision)
            acked = [await s.create(f"{CM}default/k{i}", cm(f"k{i}")) for i in range(3)]
            await asyncio.to_thread(srv.stop)
            with pytest.raises(StoreUnavailableError):
                await s.create(f"{CM}default/lost", cm("lost"))
            assert s.unavailable is not None
            assert len((await s.list(f"{CM}default/")).entries) == 3  # reads from the cache
            await asyncio.to_thread(srv.start)
            after = await s.create(f"{CM}default/after", cm("after"))
            assert after.mod_rev == acked[-1].mod_rev + 1
            for _ in range(50):
                if s.unavailable is None:
                    break
                await asyncio.sleep(0.1)
            assert s.unavailable is None and s.reconnects >= 1
            got = [await w.next(3) for _ in range(4)]
            assert [g.key.rsplit("/", 1)[1] for g in got if g] == ["k0", "k1", "k2", "after"]
            w.close()
            await s.close()

        run(main())


def test_tls_with_client_certificates_and_what_to_fix(etcd_tls_server: EtcdServer) -> None:
    tls = etcd_tls_server.tls
    assert tls is not None
    good = EtcdEndpoint(etcd_tls_server.url, str(tls.ca), str(tls.client_cert), str(tls.client_key))

    async def main() -> None:
        s = EtcdStore(good, compact_interval=0)
        await s.start()
        e = await s.create(f"{CM}default/tls", cm("tls"))
        assert (await s.get(e.key)) is not None
        await s.close()
        cases = [
            (EtcdEndpoint(etcd_tls_server.url, str(tls.ca)), "client certificate"),
            (
                EtcdEndpoint(
                    etcd_tls_server.url, str(tls.other_ca), str(tls.client_cert), str(tls.client_key)
                ),
                "caFile",
            ),
            (EtcdEndpoint(etcd_tls_server.url.replace("https", "http")), "use https://"),
        ]
        for endpoint, hint in cases:
            bad = EtcdStore(endpoint, compact_interval=0)
            with pytest.raises(DatastoreError) as err:
                await bad.start()
            assert hint in str(err.value) and f"cannot use the datastore etcd {endpoint.url}" in str(
                err.value
            )

    run(main())


def test_endpoints_config_and_the_store_kind_of_a_data_dir(tmp_path: Path) -> None:
    from vcluster.config import ConfigError, load_config
    from vcluster.store.datasource import check_datastore, configured_datastore
    from vcluster.store.factory import check_store_kind, record_store_kind

    assert normalize_endpoint("etcd.example:2379", tls=True) == "https://etcd.example:2379"
    assert normalize_endpoint("127.0.0.1:2379", tls=False) == "http://127.0.0.1:2379"
    assert check_datastore("https://10.0.0.1") == "https://10.0.0.1:2379"
    with pytest.raises(ValueError, match="not HOST:PORT"):
        normalize_endpoint("https://h:1/path", tls=True)
    cfg = load_config(
        "controlPlane:\n  backingStore:\n    etcd:\n      external:\n        enabled: true\n"
        "        endpoint: etcd:2379\n        tls: {caFile: /ca.crt, certFile: /c.crt, keyFile: /c.key}\n"
        "      deploy: {enabled: false}\n"
    )
    assert configured_datastore(cfg) == (
        "https://etcd:2379",
        {"caFile": "/ca.crt", "certFile": "/c.crt", "keyFile": "/c.key"},
    )
    for text, message in [
        ("etcd: {deploy: {enabled: true}}", "controlPlane.backingStore.etcd.deploy: not supported"),
        ("etcd: {embedded: {enabled: true}}", "controlPlane.backingStore.etcd.embedded: not supported"),
        (
            "etcd: {external: {enabled: true, endpoint: 'e:1'}}\n    database: {external: {enabled: true}}",
            "controlPlane.backingStore.etcd.external and controlPlane.backingStore.database.external "
            "are both enabled",
        ),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config(f"controlPlane:\n  backingStore:\n    {text}\n")
    bad = load_config(
        "controlPlane:\n  backingStore:\n    etcd: {external: {enabled: true, endpoint: 'ftp://x'}}\n"
    )
    with pytest.raises(ValueError, match=r"^controlPlane.backingStore.etcd.external.endpoint: 'ftp://x'"):
        configured_datastore(bad)
    # a data dir keeps its store kind
    check_store_kind(tmp_path, "https://e:2379")  # nothing recorded yet
    record_store_kind(tmp_path, "https://e:2379")
    with pytest.raises(DatastoreError, match="was created with the etcd store and cannot start on SQLite"):
        check_store_kind(tmp_path, None)
    old = tmp_path / "old"
    old.mkdir()
    (old / "state.db").write_bytes(b"")
    with pytest.raises(
        DatastoreError, match=r"created with the SQLite \(DIR/state.db\) store and cannot start on etcd"
    ):
        check_store_kind(old, "https://e:2379")
