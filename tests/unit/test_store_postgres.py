"""The store contract on both durable logs, SQLite and a real PostgreSQL (same test code), and what
only PostgreSQL has: the writer lock, connection errors, losing and regaining the server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.pgserver import PgServer, pg_server

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
from vcluster.store.logstore import LogStore

__all__ = ["pg_server"]  # the module-scoped server fixture, used through `backend`

CM = "/registry/configmaps/"


def cm(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "data": {"k": name},
    }


@dataclass
class Backend:
    """One durable log to test: how to open a LogStore on it and query its kine table."""

    kind: str
    where: str  # the SQLite file or the PostgreSQL data source
    pg: PgServer | None = None

    def store(self, **kw: Any) -> LogStore:
        if self.pg is None:
            return LogStore(Path(self.where), compact_interval=0, **kw)
        from vcluster.store.postgres import PostgresLog

        return LogStore(log=PostgresLog(self.where), compact_interval=0, **kw)

    async def open(self, **kw: Any) -> LogStore:
        s = self.store(**kw)
        await s.start()
        return s

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.pg is None:
            with sqlite3.connect(self.where) as conn:
                return conn.execute(sql).fetchall()
        return self.pg.sql(sql, self.where.rsplit("/", 1)[1])


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", str(tmp_path / "state.db"))
    pg: PgServer = request.getfixturevalue("pg_server")
    return Backend("postgres", pg.dsn(pg.create_database()), pg)


@pytest.fixture
def pg_backend(pg_server: PgServer) -> Backend:
    return Backend("postgres", pg_server.dsn(pg_server.create_database()), pg_server)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------------- the contract, both logs
def test_create_update_delete_cas_and_kine_rows(backend: Backend) -> None:
    async def main() -> None:
        s = await backend.open()
        a = await s.create(CM + "default/a", cm("a"))
        b = await s.create(CM + "default/b", cm("b"))
        assert b.mod_rev == a.mod_rev + 1
        with pytest.raises(KeyExistsError):
            await s.create(CM + "default/a", cm("a"))
        a2 = await s.update(CM + "default/a", cm("a", x="1"), expected_rev=a.mod_rev)
        assert a2.create_rev == a.mod_rev and a2.mod_rev == b.mod_rev + 1
        with pytest.raises(RevisionConflictError):
            await s.update(CM + "default/a", cm("a"), expected_rev=a.mod_rev)
        ev = await s.delete(CM + "default/a", expected_rev=a2.mod_rev)
        assert ev.type == DELETED and ev.rev == a2.mod_rev + 1
        with pytest.raises(KeyNotFoundError):
            await s.delete(CM + "default/a", expected_rev=None)
        again = await s.create(CM + "default/a", cm("a"))
        assert (await s.get(CM + "default/a")).mod_rev == again.mod_rev == ev.rev + 1  # type: ignore[union-attr]
        await s.close()

    run(main())
    rows = backend.query(
        "SELECT id, created, deleted, create_revision, prev_revision, value FROM kine "
        "WHERE name = '/registry/configmaps/default/a' ORDER BY id"
    )
    # create, update, tombstone, re-create; the row id is the resourceVersion in the stored object
    assert [(r[1], r[2]) for r in rows] == [(1, 0), (0, 0), (0, 1), (1, 0)]
    assert rows[1][4] == rows[0][0] and rows[2][4] == rows[1][0] and rows[3][4] == rows[2][0]
    assert rows[1][3] == rows[0][0]
    assert f'"resourceVersion":"{rows[3][0]}"'.encode() in bytes(rows[3][5])


def test_list_at_a_revision_with_pagination_and_selector(backend: Backend) -> None:
    async def main() -> None:
        s = await backend.open()
        for i in range(10):
            await s.create(f"{CM}ns1/c{i:02d}", cm(f"c{i:02d}", "ns1", even=str(i % 2 == 0)))
        await s.create(CM + "ns2/x", cm("x", "ns2"))
        await s.create("/registry/configmapsX/ns1/y", cm("y", "ns1"))
        snap = s.revision
        await s.delete(CM + "ns1/c00", expected_rev=None)
        await s.update(CM + "ns1/c01", cm("c01", "ns1", changed="yes"), expected_rev=None)
        await s.create(CM + "ns1/c99", cm("c99", "ns1"))
        # an old snapshot comes from the log: later writes are not in it, in key order, paginated
        old = await s.list(CM + "ns1/", revision=snap)
        assert [e.key.rsplit("/", 1)[1] for e in old.entries] == [f"c{i:02d}" for i in range(10)]
        assert old.revision == snap and old.entries[1].labels == {"even": "False"}
        page = await s.list(CM + "ns1/", revision=snap, limit=4)
        assert [e.key[-3:] for e in page.entries] == ["c00", "c01", "c02", "c03"] and page.more
        rest = await s.list(CM + "ns1/", revision=snap, limit=100, start_after=page.entries[-1].key)
        assert [e.key[-3:] for e in rest.entries] == [f"c{i:02d}" for i in range(4, 10)] and not rest.more
        even = await s.list(
            CM + "ns1/", revision=snap, match=lambda e: (e.labels or {}).get("even") == "True"
        )
        assert len(even.entries) == 5
        assert (await s.list(CM, revision=snap)).entries[-1].key == CM + "ns2/x"  # not configmapsX
        with pytest.raises(FutureRevisionError):
            await s.list(CM + "ns1/", revision=s.revision + 5)
        now = await s.list(CM + "ns1/")
        assert [e.key[-3:] for e in now.entries] == [f"c{i:02d}" for i in range(1, 10)] + ["c99"]
        await s.close()

    run(main())


def test_watch_from_an_old_revision_replays_from_the_log(backend: Backend) -> None:
    async def main() -> None:
        s = await backend.open(ring_size=3)
        start = s.revision
        e1 = await s.create(CM + "ns1/a", cm("a", "ns1"))
        await s.create(CM + "ns2/b", cm("b", "ns2"))
        e3 = await s.update(CM + "ns1/a", cm("a", "ns1", v="2"), expected_rev=e1.mod_rev)
        await s.delete(CM + "ns1/a", expected_rev=None)
        for i in range(5):  # push the above out of the in-memory ring
            await s.create(f"{CM}ns3/f{i}", cm(f"f{i}", "ns3"))
        w = await s.watch(CM + "ns1/", start)
        got = [await w.next(2) for _ in range(3)]
        assert [(g.type, g.rev) for g in got if g] == [
            (ADDED, e1.mod_rev),
            (MODIFIED, e3.mod_rev),
            (DELETED, e3.mod_rev + 1),
        ]
        assert got[1].prev is not None and got[1].prev.mod_rev == e1.mod_rev  # type: ignore[union-attr]
        assert got[2].entry.decode()["metadata"]["labels"] == {"v": "2"}  # type: ignore[union-attr]
        e5 = await s.create(CM + "ns1/c", cm("c", "ns1"))  # ... and then it goes on live
        nxt = await w.next(2)
        assert nxt is not None and nxt.rev == e5.mod_rev
        w.close()
        await s.close()

    run(main())


def test_compaction_and_compacted_errors(backend: Backend) -> None:
    async def main() -> None:
        s = await backend.open(min_retain=1000, ring_size=10)
        e = await s.create(CM + "default/hot", cm("hot"))
        first = e.mod_rev
        gone = await s.create(CM + "default/gone", cm("gone"))
        await s.delete(CM + "default/gone", expected_rev=gone.mod_rev)
        for i in range(1200):
            e = await s.update(CM + "default/hot", cm("hot", n=str(i)), expected_rev=e.mod_rev)
        target = await s.compact()
        assert target == s.revision - 1000
        with pytest.raises(CompactedError):
            await s.watch(CM, first)
        with pytest.raises(CompactedError):
            await s.list(CM, revision=first)
        w = await s.watch(CM, target)  # what is kept still replays, from the log
        ev = await w.next(2)
        assert ev is not None and ev.rev == target + 1
        w.close()
        await s.close()
        assert backend.query(f"SELECT COUNT(*) FROM kine WHERE name = '{CM}default/gone'")[0][0] == 0
        n = backend.query(f"SELECT COUNT(*) FROM kine WHERE name = '{CM}default/hot'")[0][0]
        assert 1000 <= n <= 1002
        assert backend.query("SELECT prev_revision FROM kine WHERE name = 'compact_rev_key'") == [(target,)]
        s2 = await backend.open()
        assert s2.compact_revision == target
        assert (await s2.get(CM + "default/hot")).mod_rev == e.mod_rev  # type: ignore[union-attr]
        await s2.close()

    run(main())


def test_restart_keeps_objects_and_revisions_and_continues(backend: Backend) -> None:
    async def first() -> tuple[int, dict[str, int]]:
        s = await backend.open()
        revs = {}
        for i in range(5):
            e = await s.create(f"{CM}default/c{i}", cm(f"c{i}"))
            revs[e.key] = e.mod_rev
        await s.delete(CM + "default/c4", expected_rev=None)
        del revs[CM + "default/c4"]
        rev = s.revision
        await s.close()
        return rev, revs

    async def second(rev: int, revs: dict[str, int]) -> None:
        s = await backend.open()
        assert s.revision == rev
        assert {e.key: e.mod_rev for e in (await s.list(CM + "default/")).entries} == revs
        w = await s.watch(CM + "default/", 0)
        types = []
        while (ev := await w.next(0.2)) is not None:
            types.append(ev.type)
        assert types.count(ADDED) == 5 and types.count(DELETED) == 1
        assert (await s.create(CM + "default/new", cm("new"))).mod_rev == rev + 1
        await s.close()

    rev, revs = run(first())
    run(second(rev, revs))


def test_concurrent_writes_are_group_committed_and_conflict(backend: Backend) -> None:
    async def main() -> None:
        s = await backend.open()
        await asyncio.gather(*(s.create(f"{CM}default/p{i:03d}", cm(f"p{i}")) for i in range(300)))
        assert len((await s.list(CM + "default/")).entries) == 300
        base = await s.get(CM + "default/p000")
        assert base is not None
        results = await asyncio.gather(
            *(
                s.update(CM + "default/p000", cm("p0", w=str(i)), expected_rev=base.mod_rev)
                for i in range(10)
            ),
            return_exceptions=True,
        )
        assert sum(1 for r in results if isinstance(r, RevisionConflictError)) == 9
        assert s.log.commits < 300
        rev = s.revision
        await s.close()
        assert backend.query("SELECT MAX(id), COUNT(*) FROM kine") == [(rev, rev)]  # no gaps

    run(main())


_REFUSE = {
    "sqlite": ["CREATE TRIGGER full BEFORE INSERT ON kine BEGIN SELECT RAISE(ABORT, 'disk is full'); END"],
    "postgres": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk is full'; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_writes BEFORE INSERT ON kine FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
_ALLOW = {"sqlite": "DROP TRIGGER full", "postgres": "DROP TRIGGER refuse_writes ON kine"}


def test_a_failed_transaction_fails_its_writes_and_the_next_one_commits(backend: Backend) -> None:
    async def main() -> None:
        s = await backend.open()
        await s.create(CM + "default/a", cm("a"))
        for stmt in _REFUSE[backend.kind]:
            backend.query(stmt)
        results = await asyncio.gather(
            *(s.create(f"{CM}default/b{i}", cm(f"b{i}")) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, StoreUnavailableError) for r in results), results
        assert "disk is full" in str(results[0]) and s.unavailable is not None
        assert await s.get(CM + "default/b0") is None
        backend.query(_ALLOW[backend.kind])
        b = await s.create(CM + "default/b0", cm("b0"))
        assert s.unavailable is None and b.mod_rev == s.revision
        await s.close()

    run(main())


# ---------------------------------------------------------------------------- PostgreSQL only
def _dbname(b: Backend) -> str:
    return b.where.rsplit("/", 1)[1]


def test_ids_are_the_revisions_and_the_sequence_follows_them(pg_backend: Backend) -> None:
    """Rows are inserted with the store's revisions as ids; kine_id_seq is moved along, so a plain
    INSERT (kine's, psql's) gets the next id, and a restart continues from MAX(id)."""

    async def write(n: int) -> list[int]:
        s = await pg_backend.open()
        revs = [(await s.create(f"{CM}default/s{s.revision}", cm("s"))).mod_rev for _ in range(n)]
        await s.close()
        return revs

    revs = run(write(3))
    ids = [r[0] for r in pg_backend.query(f"SELECT id FROM kine WHERE name LIKE '{CM}%' ORDER BY id")]
    assert ids == revs
    nxt = pg_backend.query("INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, "
                           "value) VALUES ('/outside', 1, 0, 0, 0, 0, '{}') RETURNING id")  # fmt: skip
    assert nxt == [(revs[-1] + 1,)]
    assert run(write(1)) == [revs[-1] + 2]


def test_a_second_writer_on_the_same_database_is_refused(pg_backend: Backend) -> None:
    from vcluster.store.datasource import DatastoreError

    async def main() -> None:
        s = await pg_backend.open()
        await s.create(CM + "default/a", cm("a"))
        other = pg_backend.store()
        with pytest.raises(DatastoreError) as e:
            await other.start()
        msg = str(e.value)
        assert "is in use by vcluster writer pid" in msg and "one vcluster writes one database" in msg
        assert "127.0.0.1" in msg and "vcluster-test" not in msg  # named, password hidden
        await s.close()
        again = await pg_backend.open()  # the lock goes with the first process's connection
        assert (await again.get(CM + "default/a")) is not None
        await again.close()

    run(main())


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        (lambda pg, db: pg.dsn(db, password="wrong"), "check the user and password"),
        (lambda pg, db: pg.dsn("nosuchdb"), "create the database first, e.g. createdb -h 127.0.0.1 -p"),
        (
            lambda pg, db: f"postgres://postgres:x@127.0.0.1:{_closed_port()}/{db}",
            "Connection refused Is the server running on that host and accepting TCP/IP connections?",
        ),
    ],
    ids=["bad-password", "missing-database", "unreachable"],
)
def test_connection_errors_say_what_to_fix(
    pg_backend: Backend, change: Callable[[PgServer, str], str], expect: str
) -> None:
    from vcluster.store.datasource import DatastoreError
    from vcluster.store.postgres import PostgresLog

    assert pg_backend.pg is not None
    dsn = change(pg_backend.pg, _dbname(pg_backend))
    with pytest.raises(DatastoreError) as e:
        PostgresLog(dsn).open()
    assert expect in str(e.value) and "cannot use the datastore postgres://postgres@127.0.0.1:" in str(
        e.value
    )
    assert "vcluster-test" not in str(e.value) and ":x@" not in str(e.value)


def _closed_port() -> int:
    from tests.pgserver import free_port

    return free_port()


def test_losing_the_server_fails_writes_and_the_store_recovers_when_it_is_back(pg_backend: Backend) -> None:
    """A server down for longer than the retry window: the writes in flight fail
    (StoreUnavailableError), none of the acknowledged ones is lost, reads are served from memory
    meanwhile, and the next write after the server is back reconnects and takes the writer lock again."""
    pg = pg_backend.pg
    assert pg is not None

    async def main() -> None:
        s = await pg_backend.open(ring_size=2)
        s.log.retry_window = 0.3  # type: ignore[attr-defined]
        start = s.revision
        acked = [await s.create(f"{CM}default/k{i}", cm(f"k{i}")) for i in range(3)]
        await asyncio.to_thread(pg.stop)
        with pytest.raises(StoreUnavailableError):
            await s.create(CM + "default/lost", cm("lost"))
        assert s.unavailable is not None
        assert len((await s.list(CM + "default/")).entries) == 3  # reads go on from memory
        await asyncio.to_thread(pg.start)
        after = await s.create(CM + "default/after", cm("after"))
        assert after.mod_rev == acked[-1].mod_rev + 1 and s.unavailable is None
        assert s.log.reconnects == 1  # type: ignore[attr-defined]
        w = await s.watch(CM + "default/", start)  # history from the log (the ring holds 2)
        got = [await w.next(2) for _ in range(4)]
        assert [g.entry.key.rsplit("/", 1)[1] for g in got if g] == ["k0", "k1", "k2", "after"]
        w.close()
        await s.close()
        # the lock came back with the new connection: a second writer is still refused meanwhile
        assert (await pg_backend.open()).revision == after.mod_rev

    run(main())


def test_rows_of_a_commit_in_doubt_are_removed_before_writing_again(pg_backend: Backend) -> None:
    """Rows above the last known commit that are not the batch being retried (here: put there by
    hand, as the commit in doubt of a batch whose writers were told it failed would be) are deleted
    on reconnect, so memory and table agree and ids stay unique; the write in flight is retried on
    the new connection and succeeds."""
    pg = pg_backend.pg
    assert pg is not None

    async def main() -> None:
        s = await pg_backend.open()
        a = await s.create(CM + "default/a", cm("a"))
        db = _dbname(pg_backend)
        pg.sql(
            "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, value) "
            f"VALUES ({a.mod_rev + 1}, '{CM}default/in-doubt', 1, 0, 0, 0, 0, '{{}}')",
            db,
        )
        pg.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
            "'vcluster writer%'",
            db,
        )
        b = await s.create(CM + "default/b", cm("b"))
        assert b.mod_rev == a.mod_rev + 1 and s.log.reconnects == 1  # type: ignore[attr-defined]
        await s.close()
        rows = pg_backend.query(f"SELECT id, name FROM kine WHERE id > {a.mod_rev} ORDER BY id")
        assert rows == [(b.mod_rev, CM + "default/b")]

    run(main())


def test_the_history_and_range_queries_use_the_indexes(pg_backend: Backend) -> None:
    """With a few thousand rows, a watch replay of one namespace and a paginated list at an old
    revision read through kine's indexes, not the whole table."""

    async def main() -> None:
        s = await pg_backend.open()
        await asyncio.gather(
            *(s.create(f"{CM}ns{i % 50:02d}/c{i:05d}", cm(f"c{i}", f"ns{i % 50:02d}")) for i in range(4000))
        )
        await s.close()

    run(main())
    pg_backend.query("ANALYZE kine")
    history = pg_backend.query(
        f"EXPLAIN SELECT * FROM kine WHERE id > 3900 AND id <= 4000 AND name >= '{CM}ns07/' "
        f"AND name < '{CM}ns070' ORDER BY id"
    )
    ns_range = pg_backend.query(
        "EXPLAIN SELECT id FROM (SELECT DISTINCT ON (name) id, name, deleted FROM kine "
        f"WHERE name >= '{CM}ns07/' AND name < '{CM}ns070' AND id <= 3000 ORDER BY name, id DESC) m "
        "WHERE deleted = 0 ORDER BY name LIMIT 50"
    )
    for plan in (history, ns_range):
        text = "\n".join(r[0] for r in plan)
        assert "Index" in text and "Seq Scan" not in text, text


def test_a_stale_session_of_this_process_holding_the_lock_is_ended_on_reconnect(pg_backend: Backend) -> None:
    """If the server still holds the lock for our dead connection (it has not noticed the drop),
    the reconnecting writer ends that session of its own and takes the lock; another process's
    session would be refused instead (test above)."""
    import psycopg

    from vcluster.store.postgres import LOCK_KEY, PostgresLog

    async def main() -> None:
        s = await pg_backend.open()
        await s.create(CM + "default/a", cm("a"))
        db = _dbname(pg_backend)
        assert pg_backend.pg is not None
        pg_backend.pg.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
            "'vcluster writer%'",
            db,
        )
        stale = psycopg.connect(
            pg_backend.where, autocommit=True, application_name=PostgresLog._app_name("writer")
        )
        assert stale.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone() == (True,)
        await s.create(CM + "default/b", cm("b"))  # retried on a new connection, which ends `stale`
        assert stale.broken or stale.closed or _dead(stale)
        await s.close()

    run(main())


def _dead(conn: Any) -> bool:
    import psycopg

    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_delete_and_recreate_in_one_transaction_chain_prev_revision(backend: Backend) -> None:
    """A delete and a re-create of one key accepted together are committed in one transaction:
    the create's prev_revision is the tombstone written in that same transaction."""

    async def main() -> tuple[int, int]:
        s = await backend.open()
        a = await s.create(CM + "default/a", cm("a"))
        tomb, again = await asyncio.gather(
            s.delete(CM + "default/a", expected_rev=a.mod_rev), s.create(CM + "default/a", cm("a", v="2"))
        )
        commits_before = s.log.commits
        await s.close()
        assert commits_before >= 1
        return tomb.rev, again.mod_rev

    tomb, again = run(main())
    rows = backend.query(
        f"SELECT id, created, deleted, prev_revision FROM kine WHERE name = '{CM}default/a' ORDER BY id"
    )
    assert rows[-2:] == [(tomb, 0, 1, tomb - 1), (again, 1, 0, tomb)]
