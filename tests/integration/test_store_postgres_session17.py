"""`vcluster apiserver --datastore postgres://...` while the database restarts, its sessions are cut
(pg_terminate_backend) or it fails over to a promoted streaming standby: the writes in flight land
exactly once, none is lost, a kubectl watch sees every write once with no gap, the writer lock is held
again on the new session, and a read-only standby is refused for writes."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.pgserver import PASSWORD, PgServer, start_pg_server

from .conftest import Kubectl, LineReader, Server

pytestmark = pytest.mark.integration

NS = "pgfail"
WATCH_FORMAT = '{.type} {.object.metadata.name} {.object.metadata.resourceVersion}{"\\n"}'


@dataclass
class Writers:
    """Threads creating ConfigMaps with kubectl, one at a time each, until stopped."""

    k: Kubectl
    threads: int = 2
    acked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Writers:
        for t in range(self.threads):
            w = threading.Thread(target=self._run, args=(t,), daemon=True)
            w.start()
            self._workers.append(w)
        return self

    def _run(self, t: int) -> None:
        i = 0
        while not self._stop.is_set():
            name = f"w{t}-{i:03d}"
            p = self.k.run(
                "create", "configmap", name, "-n", NS, f"--from-literal=i={i}", check=False, timeout=40
            )
            (self.acked if p.returncode == 0 else self.failed).append(f"{name}: {p.stderr.strip()}")
            i += 1

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acked) >= count, (self.acked, self.failed)

    def stop(self) -> list[str]:
        """Stop the writers; the names of the acknowledged ConfigMaps."""
        self._stop.set()
        for w in self._workers:
            w.join(45)
        return [a.split(":", 1)[0] for a in self.acked]


def watch(k: Kubectl) -> LineReader:
    return LineReader(
        k.popen("get", "cm", "-n", NS, "-w", "--output-watch-events", "-o", f"jsonpath={WATCH_FORMAT}")
    )


def kine_configmaps(pg: PgServer, dbname: str) -> list[tuple[str, int]]:
    """(name, id) of every ConfigMap creation row in the kine table, in id order."""
    rows = pg.sql(
        f"SELECT name, id FROM kine WHERE name LIKE '/registry/configmaps/{NS}/%' AND created = 1 "
        "ORDER BY id",
        dbname,
    )
    return [(str(r[0]).rsplit("/", 1)[1], int(r[1])) for r in rows]


def writer_lock_holders(pg: PgServer, dbname: str) -> list[str]:
    rows = pg.sql(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted",
        dbname,
    )
    return [str(r[0]) for r in rows]


def check_no_loss_no_gap(acked: list[str], rows: list[tuple[str, int]], seen: list[str]) -> None:
    """Every acknowledged ConfigMap has exactly one creation row; the watch saw each row once, with
    its id as resourceVersion (no gap, no duplicate)."""
    names = [n for n, _ in rows]
    assert len(names) == len(set(names)), f"duplicate rows: {rows}"
    assert set(acked) <= set(names), f"lost: {set(acked) - set(names)}"
    added = [(n, int(rv)) for _, n, rv in (line.split() for line in seen if line.startswith("ADDED "))]
    # the watch's initial list (if a write came first) is in name order, its events in id order
    assert sorted(added, key=lambda a: a[1]) == rows and len(set(added)) == len(added), (added, rows)


@pytest.fixture
def pg() -> Iterator[PgServer]:
    """A PostgreSQL of the test's own: the tests stop, restart and kill it."""
    server = start_pg_server()
    try:
        yield server
    finally:
        server.destroy()


def start_apiserver(tmp_path: Path, dsn: str) -> tuple[Server, Kubectl]:
    server = Server(tmp_path / "vc", args=["--datastore", dsn])
    server.start()
    k = Kubectl(server, tmp_path / "kcache")
    try:
        k.namespace(NS)
    except BaseException:
        server.stop()
        raise
    return server, k


def test_a_restart_and_cut_sessions_during_writes_lose_nothing_and_the_watch_has_no_gap(
    pg: PgServer, tmp_path: Path
) -> None:
    db = pg.create_database("vc")
    server, k = start_apiserver(tmp_path, pg.dsn(db))
    w = watch(k)
    writers = Writers(k)
    try:
        writers.start().wait_for(4)
        pg.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'vcluster %'"
        )
        writers.wait_for(len(writers.acked) + 4)
        pg.stop("fast")  # ends every session, as a restart does
        time.sleep(0.5)  # writes queue up meanwhile
        pg.start()
        writers.wait_for(len(writers.acked) + 4)
        acked = writers.stop()
        last = acked[-1]
        w.wait_for(lambda line: line.split()[:2] == ["ADDED", last])
        k("get", "--raw", "/readyz")
        holders = writer_lock_holders(pg, db)
    finally:
        writers.stop()
        seen, _ = w.stop()
        server.stop()
    assert writers.failed == []  # the restart took less than the retry window: no write failed
    assert any(h.startswith("vcluster writer") for h in holders), holders  # the lock, taken again
    check_no_loss_no_gap(acked, kine_configmaps(pg, db), seen)
    log = server.log_path.read_text()
    assert log.count("; retrying ") >= 2 and "reconnected to" in log  # writes were in flight at each cut


def start_standby(primary: PgServer) -> PgServer:
    """A streaming standby of `primary` on another port (pg_basebackup -R), made synchronous so
    that every commit the primary acknowledges is on the standby too."""
    standby = PgServer(primary.bin, primary.settings)
    try:
        if standby._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(standby.root, pw.pw_uid, pw.pw_gid)
        basebackup = str(primary.bin / "pg_basebackup")
        standby._run(
            basebackup, "-d", primary.dsn(), "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast"
        )
        standby.start()
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while primary.sql("SELECT sync_state FROM pg_stat_replication") != [("sync",)]:
            assert time.monotonic() < deadline, primary.sql("SELECT * FROM pg_stat_replication")
            time.sleep(0.05)
    except BaseException:
        standby.destroy()
        raise
    return standby


def test_failover_to_a_promoted_standby_keeps_every_acknowledged_write(pg: PgServer, tmp_path: Path) -> None:
    db = pg.create_database("vc")
    standby = start_standby(pg)
    try:
        # a standby alone is refused for writes, with what to do
        p = subprocess.run(
            [sys.executable, "-m", "vcluster", "apiserver", "--data-dir", str(tmp_path / "ro"), "--port", "0",
             "--controllers=", "--datastore", standby.dsn(db)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (
            p.returncode == 1
            and f"answered from a read-only server (127.0.0.1:{standby.port}: a standby in recovery)"
            in p.stderr
        ), p.stderr
        assert "target_session_attrs" not in p.stderr and "Traceback" not in p.stderr

        both = f"postgres://postgres:{PASSWORD}@127.0.0.1:{pg.port},127.0.0.1:{standby.port}/{db}"
        server, k = start_apiserver(tmp_path, both)
        w = watch(k)
        writers = Writers(k)
        try:
            writers.start().wait_for(6)
            pg.stop("immediate")  # the primary dies
            time.sleep(0.3)
            standby._run(str(standby.bin / "pg_ctl"), "-D", str(standby.data), "-w", "promote")
            writers.wait_for(len(writers.acked) + 6)
            acked = writers.stop()
            w.wait_for(lambda line: line.split()[:2] == ["ADDED", acked[-1]])
            holders = writer_lock_holders(standby, db)
        finally:
            writers.stop()
            seen, _ = w.stop()
            server.stop()
        assert writers.failed == []
        assert "; retrying " in server.log_path.read_text()  # a write was in flight when the primary died
        assert any(h.startswith("vcluster writer") for h in holders), holders
        check_no_loss_no_gap(acked, kine_configmaps(standby, db), seen)
        top = standby.sql("SELECT MAX(id), last_value FROM kine, kine_id_seq GROUP BY last_value", db)
        assert top[0][0] == top[0][1]  # the sequence follows the ids on the new primary
    finally:
        standby.destroy()
