"""The log-structured store on a real SQLite file: revisions, CAS, lists, watches, restarts."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest

from vcluster.store.interface import (
    ADDED,
    DELETED,
    MODIFIED,
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
)
from vcluster.store.logstore import LogStore


def cm(name: str, ns: str = "default", **labels: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "data": {"k": name},
    }


async def open_store(path: Path, **kw: object) -> LogStore:
    s = LogStore(path, compact_interval=0, **kw)  # type: ignore[arg-type]
    await s.start()
    return s


def run(coro):
    return asyncio.run(coro)


def test_revisions_cas_and_tombstones(tmp_path: Path) -> None:
    async def main() -> None:
        s = await open_store(tmp_path / "state.db")
        a = await s.create("/registry/configmaps/default/a", cm("a"))
        b = await s.create("/registry/configmaps/default/b", cm("b"))
        assert b.mod_rev == a.mod_rev + 1
        assert b'"resourceVersion":"%d"' % a.mod_rev in a.raw
        with pytest.raises(KeyExistsError):
            await s.create("/registry/configmaps/default/a", cm("a"))
        a2 = await s.update("/registry/configmaps/default/a", cm("a", x="1"), expected_rev=a.mod_rev)
        assert a2.create_rev == a.mod_rev and a2.mod_rev == b.mod_rev + 1
        with pytest.raises(RevisionConflictError):
            await s.update("/registry/configmaps/default/a", cm("a"), expected_rev=a.mod_rev)
        ev = await s.delete("/registry/configmaps/default/a", expected_rev=None)
        assert ev.type == DELETED and ev.rev == a2.mod_rev + 1
        assert ev.entry.decode()["metadata"]["resourceVersion"] == str(ev.rev)
        with pytest.raises(KeyNotFoundError):
            await s.delete("/registry/configmaps/default/a", expected_rev=None)
        # Re-create after delete works (prev_revision points at the tombstone).
        again = await s.create("/registry/configmaps/default/a", cm("a"))
        assert again.mod_rev == ev.rev + 1
        await s.close()
        rows = (
            sqlite3.connect(tmp_path / "state.db")
            .execute(
                "SELECT id, name, created, deleted, prev_revision FROM kine "
                "WHERE name LIKE '/registry/%' ORDER BY id"
            )
            .fetchall()
        )
        names = [r[1] for r in rows]
        assert names.count("/registry/configmaps/default/a") == 4  # create, update, tombstone, create
        tomb = next(r for r in rows if r[3] == 1)
        recreate = rows[-1]
        assert recreate[2] == 1 and recreate[4] == tomb[0]

    run(main())


def test_list_prefix_pagination_and_selector(tmp_path: Path) -> None:
    async def main() -> None:
        s = await open_store(tmp_path / "state.db")
        for i in range(10):
            await s.create(f"/registry/configmaps/ns1/c{i:02d}", cm(f"c{i:02d}", "ns1", even=str(i % 2 == 0)))
        await s.create("/registry/configmaps/ns2/x", cm("x", "ns2"))
        await s.create("/registry/configmapsX/ns1/y", cm("y", "ns1"))
        res = await s.list("/registry/configmaps/ns1/")
        assert [e.key.rsplit("/", 1)[1] for e in res.entries] == [f"c{i:02d}" for i in range(10)]
        assert (await s.list("/registry/configmaps/")).entries[-1].key.endswith("ns2/x")
        page = await s.list("/registry/configmaps/ns1/", limit=4)
        assert len(page.entries) == 4 and page.more and page.remaining == 6
        rest = await s.list("/registry/configmaps/ns1/", limit=100, start_after=page.entries[-1].key)
        assert len(rest.entries) == 6 and not rest.more
        even = await s.list(
            "/registry/configmaps/ns1/", match=lambda e: (e.labels or {}).get("even") == "True"
        )
        assert len(even.entries) == 5
        # A historical snapshot comes from SQLite and ignores later writes.
        snap = s.revision
        await s.delete("/registry/configmaps/ns1/c00", expected_rev=None)
        await s.create("/registry/configmaps/ns1/c99", cm("c99", "ns1"))
        old = await s.list("/registry/configmaps/ns1/", revision=snap)
        assert [e.key.rsplit("/", 1)[1] for e in old.entries] == [f"c{i:02d}" for i in range(10)]
        assert old.revision == snap
        with pytest.raises(FutureRevisionError):
            await s.list("/registry/configmaps/ns1/", revision=s.revision + 5)
        await s.close()

    run(main())


def test_the_event_ring_is_bounded_by_bytes_and_older_history_comes_from_sqlite(tmp_path: Path) -> None:
    """Large objects written often must not pin their old versions in memory: the ring keeps
    what fits in `ring_bytes` (at least the newest event), and a watch from before it replays
    every version from SQLite."""

    async def main() -> None:
        s = await open_store(tmp_path / "state.db", ring_bytes=10_000)
        start = s.revision
        big = cm("big", "ns1")
        revs = []
        prev = None
        for i in range(20):
            big["data"] = {"k": f"{i:03d}" + "x" * 4000}
            e = await (s.create if prev is None else s.update)(  # type: ignore[operator]
                "/registry/configmaps/ns1/big", big, **({} if prev is None else {"expected_rev": prev})
            )
            prev = e.mod_rev
            revs.append(e.mod_rev)
        assert s._ring_held <= 10_000 and 1 <= len(s._ring) <= 2
        assert s._ring_held == sum(len(ev.entry.raw) for ev in s._ring)
        w = await s.watch("/registry/configmaps/ns1/", start)
        got = [await w.next(2) for _ in range(20)]
        assert [g.rev for g in got if g is not None] == revs
        assert [orjson.loads(g.entry.raw)["data"]["k"][:3] for g in got if g is not None] == [
            f"{i:03d}" for i in range(20)
        ]
        w.close()
        # one event larger than the whole budget is still kept: a watch at the head needs it
        big["data"] = {"k": "y" * 50_000}
        e = await s.update("/registry/configmaps/ns1/big", big, expected_rev=prev)
        assert [ev.rev for ev in s._ring] == [e.mod_rev]
        await s.close()

    run(main())


def test_watch_live_and_replay_from_ring_and_sqlite(tmp_path: Path) -> None:
    async def main() -> None:
        s = await open_store(tmp_path / "state.db", ring_size=3)
        start = s.revision
        w_live = await s.watch("/registry/configmaps/ns1/", start)
        e1 = await s.create("/registry/configmaps/ns1/a", cm("a", "ns1"))
        await s.create("/registry/configmaps/ns2/b", cm("b", "ns2"))
        e3 = await s.update("/registry/configmaps/ns1/a", cm("a", "ns1", v="2"), expected_rev=e1.mod_rev)
        await s.delete("/registry/configmaps/ns1/a", expected_rev=None)
        got = [await w_live.next(2) for _ in range(3)]
        assert [(g.type, g.rev) for g in got] == [
            (ADDED, e1.mod_rev),
            (MODIFIED, e3.mod_rev),
            (DELETED, e3.mod_rev + 1),
        ]
        assert await w_live.next(0.05) is None
        w_live.close()
        # Ring holds only 3 events: a replay from `start` must come from SQLite, identically.
        w_old = await s.watch("/registry/configmaps/ns1/", start)
        replay = [await w_old.next(2) for _ in range(3)]
        assert [(g.type, g.rev) for g in replay] == [(g.type, g.rev) for g in got]
        assert replay[1].prev is not None and replay[1].prev.mod_rev == e1.mod_rev
        # ... and continues live afterwards.
        e5 = await s.create("/registry/configmaps/ns1/c", cm("c", "ns1"))
        nxt = await w_old.next(2)
        assert nxt is not None and nxt.rev == e5.mod_rev
        with pytest.raises(FutureRevisionError):
            await s.watch("/registry/configmaps/", s.revision + 10)
        await s.close()

    run(main())


def test_restart_keeps_objects_and_revisions(tmp_path: Path) -> None:
    async def first() -> tuple[int, dict[str, int]]:
        s = await open_store(tmp_path / "state.db")
        revs = {}
        for i in range(5):
            e = await s.create(f"/registry/configmaps/default/c{i}", cm(f"c{i}"))
            revs[e.key] = e.mod_rev
        await s.delete("/registry/configmaps/default/c4", expected_rev=None)
        del revs["/registry/configmaps/default/c4"]
        rev = s.revision
        await s.close()
        return rev, revs

    async def second(rev: int, revs: dict[str, int]) -> None:
        s = await open_store(tmp_path / "state.db")
        assert s.revision == rev
        res = await s.list("/registry/configmaps/default/")
        assert {e.key: e.mod_rev for e in res.entries} == revs
        w = await s.watch(
            "/registry/configmaps/default/", 0 if s.compact_revision == 0 else s.compact_revision
        )
        types = []
        while (ev := await w.next(0.2)) is not None:
            types.append(ev.type)
        assert types.count(ADDED) == 5 and types.count(DELETED) == 1
        nxt = await s.create("/registry/configmaps/default/new", cm("new"))
        assert nxt.mod_rev == rev + 1
        await s.close()

    rev, revs = run(first())
    run(second(rev, revs))


def test_compaction_keeps_latest_and_expires_old_watches(tmp_path: Path) -> None:
    async def main() -> None:
        s = await open_store(tmp_path / "state.db", min_retain=1000)
        e = await s.create("/registry/configmaps/default/hot", cm("hot"))
        first = e.mod_rev
        for i in range(1500):
            e = await s.update(
                "/registry/configmaps/default/hot", cm("hot", n=str(i)), expected_rev=e.mod_rev
            )
        target = await s.compact()
        assert target == s.revision - 1000
        with pytest.raises(CompactedError):
            await s.watch("/registry/configmaps/", first)
        # Retained history still replays.
        w = await s.watch("/registry/configmaps/", target)
        ev = await w.next(2)
        assert ev is not None and ev.rev == target + 1
        await s.close()
        conn = sqlite3.connect(tmp_path / "state.db")
        n = conn.execute(
            "SELECT COUNT(*) FROM kine WHERE name = '/registry/configmaps/default/hot'"
        ).fetchone()[0]
        assert 1000 <= n <= 1002
        assert (
            conn.execute("SELECT prev_revision FROM kine WHERE name='compact_rev_key'").fetchone()[0]
            == target
        )
        s2 = await open_store(tmp_path / "state.db")
        assert s2.compact_revision == target
        got = await s2.get("/registry/configmaps/default/hot")
        assert got is not None and got.mod_rev == e.mod_rev
        await s2.close()

    run(main())


def test_concurrent_writers_group_commit_and_conflicts(tmp_path: Path) -> None:
    async def main() -> None:
        s = await open_store(tmp_path / "state.db")
        await asyncio.gather(
            *(s.create(f"/registry/configmaps/default/p{i}", cm(f"p{i}")) for i in range(300))
        )
        assert len((await s.list("/registry/configmaps/default/")).entries) == 300
        base = await s.get("/registry/configmaps/default/p0")
        assert base is not None
        results = await asyncio.gather(
            *(
                s.update("/registry/configmaps/default/p0", cm("p0", w=str(i)), expected_rev=base.mod_rev)
                for i in range(10)
            ),
            return_exceptions=True,
        )
        assert sum(1 for r in results if not isinstance(r, Exception)) == 1
        assert sum(1 for r in results if isinstance(r, RevisionConflictError)) == 9
        assert s.log.commits < 300  # writes were grouped into fewer transactions
        await s.close()

    run(main())


def test_a_read_modify_write_bases_on_the_write_still_committing(tmp_path: Path) -> None:
    """`get_for_update` is the newest accepted state: an update based on the committed state while
    another write to the key is still being committed would conflict until that commit lands (a
    PATCH without a precondition spent its retries that way and answered 409 under load)."""

    async def main() -> None:
        s = await open_store(tmp_path / "state.db")
        key = "/registry/configmaps/default/a"
        a = await s.create(key, cm("a"))
        pending = asyncio.create_task(s.update(key, cm("a", x="1"), expected_rev=a.mod_rev))
        await asyncio.sleep(0)  # accepted (ordered), its commit not delivered yet
        head = await s.get_for_update(key)
        assert head is not None and head.mod_rev == a.mod_rev + 1
        # an update on top of it is accepted at once and lands after the pending one
        b = await s.update(key, cm("a", x="2"), expected_rev=head.mod_rev)
        assert (await pending).mod_rev == head.mod_rev and b.mod_rev == head.mod_rev + 1
        assert (await s.get(key)).decode()["metadata"]["labels"] == {"x": "2"}
        await s.close()

    run(main())


def test_a_failed_write_is_reported_until_a_later_one_commits(tmp_path: Path) -> None:
    # SQLite refusing the insert (as on a full disk) fails the write with StoreUnavailableError,
    # `unavailable` says why (the API server's etcd health checks read it), nothing is half-stored,
    # and the store recovers by itself once writes go through again
    from multidict import MultiDict

    from vcluster.apiserver import health
    from vcluster.store.interface import StoreUnavailableError

    db = tmp_path / "state.db"

    async def main() -> None:
        s = await open_store(db)
        await s.create("/registry/configmaps/default/a", cm("a"))
        assert s.unavailable is None
        other = sqlite3.connect(db)
        refuse = "SELECT RAISE(ABORT, 'disk is full')"
        other.execute(f"CREATE TRIGGER full BEFORE INSERT ON kine BEGIN {refuse}; END")
        other.commit()
        with pytest.raises(StoreUnavailableError, match="disk is full"):
            await s.create("/registry/configmaps/default/b", cm("b"))
        assert s.unavailable is not None and "disk is full" in s.unavailable
        assert await s.get("/registry/configmaps/default/b") is None
        failing = health.answer("/readyz", MultiDict(verbose=""), lambda: s.unavailable)
        assert failing.status == 500 and "[-]etcd failed: reason withheld" in (failing.text or "")
        assert health.answer("/livez/ping", MultiDict(), lambda: s.unavailable).status == 200
        other.execute("DROP TRIGGER full")
        other.commit()
        other.close()
        await s.create("/registry/configmaps/default/b", cm("b"))
        assert s.unavailable is None
        assert health.answer("/readyz", MultiDict(), lambda: s.unavailable).status == 200
        await s.close()

    run(main())
