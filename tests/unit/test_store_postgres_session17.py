"""The PostgreSQL log when its connection breaks mid-commit (a TCP proxy in front of a real server
cuts it before the request reaches the server, or after the server committed but before its answer
comes back), when the database lost committed rows, and when the server is read-only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.pgserver import PASSWORD, SUPERUSER, PgServer, pg_server

from vcluster.store.datasource import DatastoreError
from vcluster.store.interface import StoreUnavailableError
from vcluster.store.logstore import LogStore
from vcluster.store.postgres import PostgresLog

__all__ = ["pg_server"]

CM = "/registry/configmaps/default/"
# the answer to a batch's write (one statement on an autocommit session): its CommandComplete and the
# ReadyForQuery after it, which the server sends once the statement's implicit transaction committed
COMMIT_DONE = b"C\x00\x00\x00\x0dSELECT 1\x00Z"


def cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}


class CutProxy:
    """A loopback TCP proxy to the server that, once armed, cuts the connection: `request` at what
    the client sends next (the server never sees it), `answer` at the server's answer to a batch's write
    (the commit is done, the client never hears of it)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.mode: str | None = None
        self.cuts = 0
        self.requests = 0  # what the clients sent, in reads of the proxy (one per exchange)
        self.blocked = False  # while set, new connections are closed at once (the server is "down")
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.blocked:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, "request"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "answer"), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                self.requests += direction == "request"
                if self.mode == direction and (direction == "request" or COMMIT_DONE in data):
                    self.mode, self.cuts = None, self.cuts + 1
                    for s in (src, dst):
                        s.shutdown(socket.SHUT_RDWR)
                    return
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def block(self) -> None:
        """Cut every connection and refuse new ones, as a server that went away."""
        self.blocked = True
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()


@pytest.fixture
def db(pg_server: PgServer) -> str:
    return pg_server.create_database()


@pytest.fixture
def proxy(pg_server: PgServer) -> Iterator[CutProxy]:
    p = CutProxy(pg_server.port)
    try:
        yield p
    finally:
        p.close()


def dsn(port: int, db: str) -> str:
    return f"postgres://{SUPERUSER}:{PASSWORD}@127.0.0.1:{port}/{db}"


async def open_store(datastore: str) -> LogStore:
    s = LogStore(log=PostgresLog(datastore), compact_interval=0)
    await s.start()
    return s


def rows(pg: PgServer, db: str) -> list[tuple[int, str]]:
    return [
        (int(r[0]), str(r[1]))
        for r in pg.sql(f"SELECT id, name FROM kine WHERE name LIKE '{CM}%' ORDER BY id", db)
    ]


@pytest.mark.parametrize("cut", ["request", "answer"])
def test_a_write_whose_connection_is_cut_mid_commit_lands_exactly_once(
    pg_server: PgServer, db: str, proxy: CutProxy, cut: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Cut before the server saw the commit: it is written again on a new connection. Cut after
    the server committed: the new connection finds the batch's rows and does not write them again.
    Either way the caller gets its write, once, and the watch sees it once."""

    async def main() -> None:
        s = await open_store(dsn(proxy.port, db))
        a = await s.create(CM + "a", cm("a"))
        w = await s.watch(CM, a.mod_rev)
        proxy.mode = cut
        b = await s.create(CM + "b", cm("b"))
        c = await s.create(CM + "c", cm("c"))
        got = [await w.next(2) for _ in range(2)]
        assert [(e.entry.key, e.rev) for e in got if e] == [(CM + "b", b.mod_rev), (CM + "c", c.mod_rev)]
        assert proxy.cuts == 1 and s.log.reconnects == 1  # type: ignore[attr-defined]
        assert (b.mod_rev, c.mod_rev) == (a.mod_rev + 1, a.mod_rev + 2) and s.unavailable is None
        w.close()
        await s.close()
        assert rows(pg_server, db) == [(a.mod_rev, CM + "a"), (b.mod_rev, CM + "b"), (c.mod_rev, CM + "c")]

    with caplog.at_level(logging.WARNING, "vcluster.store.postgres"):
        asyncio.run(main())
    went_through = "the commit in doubt of 1 rows went through" in caplog.text
    assert went_through == (cut == "answer"), caplog.text


def test_a_database_that_lost_committed_rows_is_refused_for_writes(pg_server: PgServer, db: str) -> None:
    """After a reconnect to a database whose newest row is older than what this process committed
    (a standby promoted before it replayed them), writes fail with what happened, at once and not
    after the retry window, and nothing is written over the hole."""

    async def main() -> None:
        s = await open_store(pg_server.dsn(db))
        await s.create(CM + "a", cm("a"))
        b = await s.create(CM + "b", cm("b"))
        pg_server.sql(f"DELETE FROM kine WHERE id = {b.mod_rev}", db)  # as if never replicated
        pg_server.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'vcluster%'",
            db,
        )
        t0 = time.monotonic()
        with pytest.raises(
            StoreUnavailableError,
            match=rf"its newest revision is {b.mod_rev - 1}, this vcluster had committed {b.mod_rev}",
        ):
            await s.create(CM + "c", cm("c"))
        assert time.monotonic() - t0 < 2
        assert s.unavailable is not None and "lacks committed writes" in s.unavailable
        await s.close()
        assert rows(pg_server, db)[-1][1] == CM + "a"

    asyncio.run(main())


def test_a_read_only_server_is_refused_with_what_to_do(pg_server: PgServer, db: str) -> None:
    """A server whose sessions are read-only (a hot standby, or default_transaction_read_only) is
    refused at open, naming the server and how to give the primary."""
    pg_server.sql(f'ALTER DATABASE "{db}" SET default_transaction_read_only = on')
    log = PostgresLog(pg_server.dsn(db))
    with pytest.raises(DatastoreError) as e:
        log.open()
    assert (
        f"answered from a read-only server (127.0.0.1:{pg_server.port}: its sessions are read-only)"
        in str(e.value)
    )
    assert "target_session_attrs" not in str(e.value) and "postgres://USER@a:p1,b:p2/DB" in str(e.value)
    log.close()


def test_several_hosts_ask_libpq_for_the_read_write_one(pg_server: PgServer, db: str) -> None:
    """With several hosts and no target_session_attrs, the writer asks for read-write: a dead first
    host is skipped, and a read-only session is refused by libpq itself (then the next host is tried)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    hosts = f"host=127.0.0.1,127.0.0.1 port={dead},{pg_server.port}"
    log = PostgresLog(f"{hosts} dbname={db} user={SUPERUSER} password={PASSWORD}")
    conn = log._connect("writer")
    try:
        assert conn.info.port == pg_server.port
        assert psycopg.conninfo.conninfo_to_dict(conn.info.dsn).get("target_session_attrs") == "read-write"
    finally:
        conn.close()
    assert log.where == f"postgres://{SUPERUSER}@127.0.0.1:{dead},127.0.0.1:{pg_server.port}/{db}"
    log.close()


def test_a_server_turned_read_only_under_the_writer_is_left_for_a_writable_one(
    pg_server: PgServer, db: str
) -> None:
    """A write refused as read-only on the live session (the server was demoted) is retried on new
    connections, which refuse the read-only server, until a writable one answers: the write lands once."""

    def set_read_only(on: bool) -> None:
        with psycopg.connect(
            pg_server.dsn(db), autocommit=True, options="-c default_transaction_read_only=off"
        ) as c:
            c.execute(f"ALTER SYSTEM SET default_transaction_read_only = {'on' if on else 'off'}")
            c.execute("SELECT pg_reload_conf()")

    async def main() -> None:
        s = await open_store(pg_server.dsn(db))
        a = await s.create(CM + "a", cm("a"))
        set_read_only(True)
        time.sleep(0.2)  # the reload reaches the writer's session
        loop = asyncio.get_running_loop()
        loop.call_later(0.8, set_read_only, False)
        t0 = time.monotonic()
        b = await s.create(CM + "b", cm("b"))
        assert 0.7 < time.monotonic() - t0 < 5 and b.mod_rev == a.mod_rev + 1
        assert s.log.reconnects == 1  # type: ignore[attr-defined]
        await s.close()
        assert rows(pg_server, db) == [(a.mod_rev, CM + "a"), (b.mod_rev, CM + "b")]

    try:
        asyncio.run(main())
    finally:
        set_read_only(False)
        pg_server.sql("ALTER SYSTEM RESET default_transaction_read_only")
        pg_server.sql("SELECT pg_reload_conf()")
