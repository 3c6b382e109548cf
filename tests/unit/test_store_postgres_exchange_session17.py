"""The PostgreSQL log on a real server: a commit is one exchange with the server (the INSERT and the
sequence's setval in one statement), setval runs only when every row went in, and while the writer
has lost the server and retries (inside its retry window) the storage health checks fail as
kube-apiserver's etcd checks do when their range request cannot be answered."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from multidict import MultiDict
from tests.pgserver import PgServer, pg_server
from tests.unit.test_store_postgres_session17 import CM, CutProxy, cm, db, dsn, open_store, proxy, rows

from vcluster.apiserver import health
from vcluster.store.postgres import _WRITE_BATCH, PostgresLog, _columns
from vcluster.store.sqlite import Row

__all__ = ["db", "pg_server", "proxy"]  # fixtures


def sequence(pg: PgServer, db: str) -> int:
    return int(pg.sql("SELECT last_value FROM kine_id_seq", db)[0][0])


def test_a_commit_is_one_exchange(pg_server: PgServer, db: str, proxy: CutProxy) -> None:
    async def main() -> None:
        s = await open_store(dsn(proxy.port, db))
        for i in range(8):  # past psycopg's prepare threshold (preparing costs one exchange, once)
            await s.create(f"{CM}warm{i}", cm(f"warm{i}"))
        proxy.requests = 0
        made = [await s.create(f"{CM}k{i:02d}", cm(f"k{i:02d}")) for i in range(20)]
        # one send, so one exchange, per commit (the pipelined BEGIN .. COMMIT: ~9 sends, 3 round trips)
        assert proxy.requests == 20
        await s.close()
        assert [r[1] for r in rows(pg_server, db)][-20:] == [f"{CM}k{i:02d}" for i in range(20)]
        assert sequence(pg_server, db) == made[-1].mod_rev  # kine would continue after the last row

    asyncio.run(main())


def test_a_failed_batch_moves_neither_rows_nor_the_sequence(pg_server: PgServer, db: str) -> None:
    """setval is not transactional: it must not run when the INSERT fails (here on a duplicate id)."""
    log = PostgresLog(pg_server.dsn(db))
    log.open()
    conn = log._conn
    assert conn is not None

    def row(rev: int, name: str) -> Row:
        return Row(rev, CM + name, True, False, rev, 0, 0, b"{}", None)

    try:
        conn.execute(_WRITE_BATCH, [*_columns([("rows", [row(1, "a"), row(2, "b")], 0, 0)]), 2])
        assert sequence(pg_server, db) == 2
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(_WRITE_BATCH, [*_columns([("rows", [row(3, "c"), row(2, "d")], 0, 0)]), 3])
        assert sequence(pg_server, db) == 2 and rows(pg_server, db) == [(1, CM + "a"), (2, CM + "b")]
    finally:
        log.close()


def test_readyz_fails_while_the_writer_reconnects(pg_server: PgServer, db: str, proxy: CutProxy) -> None:
    """Inside the retry window the write waits (and lands once the server is back), but the etcd
    health checks fail meanwhile: kube's are a range request with a 2 s timeout, which fails while
    the database cannot be reached."""

    async def main() -> None:
        s = await open_store(dsn(proxy.port, db))

        def check(path: str, **query: str) -> tuple[int, str]:
            resp = health.answer(path, MultiDict(query), lambda: s.unavailable)
            return resp.status, resp.text or ""

        a = await s.create(CM + "a", cm("a"))
        assert check("/readyz") == (200, "ok")
        proxy.block()
        write = asyncio.create_task(s.create(CM + "b", cm("b")))
        t0 = time.monotonic()
        while s.unavailable is None:
            assert time.monotonic() - t0 < 1.0, "the lost server was not reported"
            await asyncio.sleep(0.02)
        assert not write.done()  # still inside the retry window
        for path in ("/readyz", "/livez", "/healthz", "/readyz/etcd-readiness"):
            assert check(path)[0] == 500, path
        status, text = check("/readyz/etcd")
        assert status == 500 and "storage is unavailable: lost postgres://" in text and "reconnecting" in text
        assert "[-]etcd failed: reason withheld" in check("/readyz", verbose="1")[1]
        await asyncio.sleep(0.5)
        assert check("/readyz")[0] == 500  # for as long as the server is away
        proxy.blocked = False
        b = await asyncio.wait_for(write, 10)
        assert b.mod_rev == a.mod_rev + 1 and s.unavailable is None
        assert check("/readyz") == (200, "ok")
        await s.close()
        assert rows(pg_server, db) == [(a.mod_rev, CM + "a"), (b.mod_rev, CM + "b")]

    asyncio.run(main())
