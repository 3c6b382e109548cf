"""The durable log in PostgreSQL: kine's pgsql table, written by one thread with group commit.

Same contract as `SqliteLog`: the in-memory store assigns every revision before the write and rows
are inserted with that explicit id, so `id` is the resourceVersion; the `kine_id_seq` sequence is
moved along with `setval` in the same statement (one exchange per commit), so kine (or anyone
inserting without an id) continues after the last row. A restart reads MAX(id) and continues from
there.

One process writes one database: the writer connection holds a session advisory lock for as long as
it lives, and a second vcluster on the same database is refused at start. When the connection
drops (server restart, pg_terminate_backend, failover to a promoted standby), the batch in flight
is retried on a new connection for up to `retry_window` seconds: the new session takes the lock
again, must be writable and hold every committed row, and settles the commit that was in doubt
(the batch's rows all there: it committed; else whatever lies above the last known commit is
deleted and the batch written again), so each write lands exactly once. Past the window the batch
fails like a failed SQLite transaction (StoreUnavailableError, the store falls back to its committed
state) and later batches try one reconnect each, without the window, until one succeeds; the rows of
a commit in doubt are deleted then (their writers were told it failed, and no other process writes
while we hold the lock). From the first failure until a reconnect succeeds, `down` says the server
is lost, so the storage health checks fail (inside the window too), as kube-apiserver's etcd checks
fail while their range request cannot be answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from vcluster.store.datasource import DatastoreError, describe
from vcluster.store.interface import prefix_end
from vcluster.store.sqlite import COMPACT_KEY, LoadedState, Row
from vcluster.store.writerthread import WriterThread

log = logging.getLogger("vcluster.store.postgres")

# kine pkg/drivers/pgsql/pgsql.go (kine v0.13): bigint ids and revisions, names in "C" collation so
# that range and LIKE comparisons use the indexes and sort as the in-memory store does (bytewise).
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kine (
  id BIGSERIAL PRIMARY KEY,
  name text COLLATE "C",
  created INTEGER,
  deleted INTEGER,
  create_revision BIGINT,
  prev_revision BIGINT,
  lease INTEGER,
  value bytea,
  old_value bytea
)""",
    "CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)",
    "CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name,id)",
    "CREATE INDEX IF NOT EXISTS kine_id_deleted_index ON kine (id,deleted)",
    "CREATE INDEX IF NOT EXISTS kine_prev_revision_index ON kine (prev_revision)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    "CREATE INDEX IF NOT EXISTS kine_list_query_index on kine(name, id DESC, deleted)",
)

_COLUMNS = "id, name, created, deleted, create_revision, prev_revision, lease, value, old_value"
# One statement per batch: the rows as arrays. A create's prev_revision is the key's last row (its
# tombstone) or 0: given when that row is in the same batch (the statement does not see its own
# rows), else NULL and read from the table.
_INSERT_BATCH = (
    f"INSERT INTO kine({_COLUMNS}) SELECT t.id, t.name, t.created, t.deleted, t.create_revision, "
    "COALESCE(t.prev_revision, (SELECT COALESCE(MAX(k.id), 0) FROM kine k WHERE k.name = t.name)), "
    "t.lease, t.value, t.old_value FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], "
    f"%s::bigint[], %s::bigint[], %s::int[], %s::bytea[], %s::bytea[]) AS t({_COLUMNS})"
)
# A batch's commit: the INSERT and the setval of kine_id_seq in one statement, so one exchange with the
# server (a statement on an autocommit session is its own transaction: all rows or none). setval is not
# transactional anyway; it reads the inserted rows' count first, so it runs only once every row is in,
# as it did after the INSERT inside BEGIN .. COMMIT (which took three exchanges).
_WRITE_BATCH = (
    f"WITH ins AS ({_INSERT_BATCH} RETURNING 1) "
    "SELECT setval(pg_get_serial_sequence('kine', 'id'), %s) FROM (SELECT count(*) FROM ins) AS n"
)
# The newest row of each key (DISTINCT ON walks kine_list_query_index), then only the live ones.
_LATEST = (
    "SELECT id, name, created, create_revision, prev_revision, lease, value FROM ("
    "SELECT DISTINCT ON (name) id, name, created, deleted, create_revision, prev_revision, lease, value "
    "FROM kine WHERE {where} ORDER BY name, id DESC) m WHERE deleted = 0 ORDER BY name"
)
_COMPACT = (
    "DELETE FROM kine AS kv USING ("
    "SELECT kp.prev_revision AS id FROM kine AS kp WHERE kp.name != %(key)s AND kp.prev_revision != 0 "
    "AND kp.id > %(lo)s AND kp.id <= %(hi)s "
    "UNION SELECT kd.id AS id FROM kine AS kd WHERE kd.deleted != 0 AND kd.id > %(lo)s AND kd.id <= %(hi)s"
    ") AS ks WHERE kv.id = ks.id"
)

# The session advisory lock that makes one process the database's only writer.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"vcluster kine writer").digest()[:8], "big", signed=True)
RECONNECT_PAUSE = 1.0  # in an outage, one reconnect per batch but at most one per this many seconds
RETRY_WINDOW = 10.0  # how long a batch whose connection dropped is retried on new connections
RETRY_PAUSES = (0.05, 1.0)  # the first and the longest pause between those reconnects
_CONNECT_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}


class QmarkConnection:
    """The writer connection as `LogStore`'s jobs use it: sqlite3-style `?` parameters."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(sql.replace("%", "%%").replace("?", "%s"), params)  # type: ignore[arg-type]


def _row(r: tuple[Any, ...]) -> Row:
    """A Row from (id, name, created, deleted, create_revision, prev_revision, lease, value, old_value)."""
    return Row(r[0], r[1], bool(r[2]), bool(r[3]), r[4], r[5], r[6] or 0, bytes(r[7]), _opt_bytes(r[8]))


def _live_row(r: tuple[Any, ...]) -> Row:
    """A Row from _LATEST's (id, name, created, create_revision, prev_revision, lease, value)."""
    return Row(r[0], r[1], bool(r[2]), False, r[3], r[4], r[5] or 0, bytes(r[6]), None)


def _columns(batch: list[Any]) -> list[list[Any]]:
    """The batch's rows as one list per column, for _INSERT_BATCH."""
    cols: list[list[Any]] = [[] for _ in range(9)]
    last: dict[str, int] = {}  # key -> its newest row id in this batch
    for _, rows, _token, _epoch in batch:
        for r in rows:
            prev = last.get(r.name) if r.created else r.prev_revision
            last[r.name] = r.id
            values = (r.id, r.name, int(r.created), int(r.deleted), r.create_revision, prev, r.lease,
                      r.value, r.old_value)  # fmt: skip
            for col, v in zip(cols, values, strict=True):
                col.append(v)
    return cols


def _opt_bytes(v: Any) -> bytes | None:
    return None if v is None else bytes(v)


_AUTH = re.compile(r"authentication failed|no password supplied|role \".*\" does not exist", re.I)
_NO_DB = re.compile(r"database \".*\" does not exist", re.I)
_TLS_FILES = "caFile/certFile/keyFile (libpq's sslrootcert/sslcert/sslkey)"
# libpq's TLS failures (fe-secure-openssl.c) and what to fix, first match wins
_TLS_HINTS = (
    (
        re.compile(r"certificate verify failed", re.I),
        "the server's certificate is not signed by the CA in caFile (sslrootcert): give the CA that "
        "signed the PostgreSQL server's certificate",
    ),
    (
        re.compile(r"server certificate for .* does not match host name", re.I),
        "connect with a host name or address the server's certificate holds, or set sslmode=verify-ca "
        "in the data source to check the CA only",
    ),
    (
        re.compile(r"valid client certificate|certificate authentication failed", re.I),
        "the server wants a client certificate for this user: set certFile and keyFile (sslcert/sslkey) "
        "to a certificate whose CN is the user, signed by a CA the server trusts",
    ),
    (
        re.compile(r"server does not support SSL", re.I),
        "the server does not speak TLS: turn ssl on in PostgreSQL, or remove caFile/certFile/keyFile "
        "and sslmode from the configuration",
    ),
    (
        re.compile(
            r"certificate file|private key file|\bcertificate\b.*does not exist|key values mismatch", re.I
        ),
        f"check {_TLS_FILES}: the files must exist, be readable, the key must be mode 0600 and match "
        "the certificate",
    ),
)


class DatastoreUnreachableError(DatastoreError):
    """No writable server could be reached (down, restarting, a standby not yet promoted): worth
    retrying, unlike a lock held by another process."""


def connect_error(datastore: str, e: psycopg.Error) -> DatastoreError:
    """What to fix when the server cannot be used. libpq gives no SQLSTATE for a failed connection,
    so its (English) message is matched; anything else gets the generic hint. A server that is down
    or read-only gives DatastoreUnreachableError (it may come back, or a standby be promoted)."""
    d = _conninfo(datastore)
    reason = " ".join(str(e).split()) or type(e).__name__
    where = f"cannot use the datastore {describe(datastore)}: {reason}"
    tls_hint = next((hint for pattern, hint in _TLS_HINTS if pattern.search(reason)), None)
    if tls_hint is not None:
        return DatastoreError(f"{where}; {tls_hint}")
    if _AUTH.search(reason):
        return DatastoreError(
            f"{where}; check the user and password (in the data source, PGPASSWORD or ~/.pgpass)"
        )
    if _NO_DB.search(reason):
        db, host = d.get("dbname") or d.get("user") or "", d.get("host") or "localhost"
        port = d.get("port") or 5432
        return DatastoreError(f"{where}; create the database first, e.g. createdb -h {host} -p {port} {db}")
    if getattr(e, "sqlstate", None) == "42501":
        return DatastoreError(
            f"{where}; the user needs the right to create tables in the database's public schema"
        )
    if "Is the server running" in reason:  # libpq's own hint for a refused connection
        return DatastoreUnreachableError(where)
    if _READ_ONLY.search(reason):  # libpq refused every server for target_session_attrs=read-write
        return DatastoreUnreachableError(f"{where}; {READ_ONLY_HINT}")
    hint = "check that PostgreSQL runs and accepts TCP connections at that host and port"
    return DatastoreUnreachableError(f"{where}; {hint}")


_READ_ONLY = re.compile(r"read-only|not a primary|in recovery|hot standby", re.I)
READ_ONLY_HINT = (
    "vcluster writes to the primary: give the primary's address, or every server's (host=a,b "
    "port=p1,p2 or postgres://USER@a:p1,b:p2/DB) so that the writable one is picked"
)


def _conninfo(datastore: str) -> dict[str, Any]:
    try:
        return conninfo_to_dict(datastore)
    except psycopg.Error:
        return {}


class PostgresLog(WriterThread):
    """kine-layout PostgreSQL table with one writer thread (holding the lock) and one reader thread."""

    thread_name = "kine-pg-writer"

    def __init__(self, datastore: str) -> None:
        super().__init__()
        self.datastore = datastore
        self.where = describe(datastore)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kine-pg-reader")
        self._reader_conn: psycopg.Connection[Any] | None = None
        self._conn: psycopg.Connection[Any] | None = None  # the writer's, with the lock
        self._last_connect_error: tuple[float, BaseException] | None = None
        self._durable = 0  # the highest id known committed: rows above it after a drop were in doubt
        self._outage = False  # a batch failed for want of a server: later ones get no retry window
        self.retry_window = RETRY_WINDOW
        self.reconnects = 0

    # ------------------------------------------------------------------ connections
    def _connect(self, purpose: str) -> psycopg.Connection[Any]:
        given = _conninfo(self.datastore)
        params = {k: v for k, v in _CONNECT_DEFAULTS.items() if k not in given}
        if (
            "," in str(given.get("host") or given.get("hostaddr") or "")
            and "target_session_attrs" not in given
        ):
            # several servers (a primary and its standbys): libpq tries them in turn, and only the
            # primary can take our writes (and has every committed row for the reader)
            params["target_session_attrs"] = "read-write"
        params["application_name"] = self._app_name(purpose)
        try:
            return psycopg.connect(self.datastore, autocommit=True, **params)
        except psycopg.Error as e:
            raise connect_error(self.datastore, e) from None

    def _check_writable(self, conn: psycopg.Connection[Any]) -> None:
        """DatastoreUnreachableError (the connection closed) when `conn` reached a read-only server:
        a standby in recovery, or one whose transactions are read-only."""
        row = conn.execute("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").fetchone()
        if row and (row[0] or row[1] == "on"):
            what = "a standby in recovery" if row[0] else "its sessions are read-only"
            server = f"{conn.info.host}:{conn.info.port}"
            conn.close()
            raise DatastoreUnreachableError(
                f"the datastore {self.where} answered from a read-only server ({server}: {what}); "
                + READ_ONLY_HINT
            )

    def _take_lock(self, conn: psycopg.Connection[Any], *, reclaim: bool = False) -> None:
        """The writer lock, or DatastoreError naming who holds it. With `reclaim`, a session of this
        process that the server still holds (the connection died without the server noticing) is
        ended and the lock taken again."""
        for _ in range(2):
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            if got and got[0]:
                return
            holder = conn.execute(
                "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
                ((LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF),
            ).fetchone()
            if not (reclaim and holder and holder[1] == self._app_name("writer")):
                break
            log.warning("ending this process's stale session %s on %s", holder[0], self.where)
            conn.execute("SELECT pg_terminate_backend(%s, 5000)", (holder[0],))
        who = f"{holder[1]} ({holder[2] or 'local socket'})" if holder else "another process"
        conn.close()
        raise DatastoreError(
            f"the datastore {self.where} is in use by {who}: one vcluster writes one database "
            "(two would corrupt each other's state); stop that process first, or use another database"
        )

    @staticmethod
    def _app_name(purpose: str) -> str:
        """application_name of our sessions: names the holder when the lock is refused."""
        return f"vcluster {purpose} pid {os.getpid()} on {socket.gethostname()}"[:63]

    def open(self) -> LoadedState:
        """Connect, take the writer lock, create the schema if needed and read every live key."""
        conn = self._connect("writer")
        try:
            self._check_writable(conn)
            self._take_lock(conn)
            with conn.transaction():
                for stmt in SCHEMA:
                    conn.execute(stmt)  # type: ignore[arg-type]
            revision = conn.execute("SELECT COALESCE(MAX(id), 0) FROM kine").fetchone()[0]  # type: ignore[index]
            row = conn.execute(
                "SELECT prev_revision FROM kine WHERE name = %s ORDER BY id DESC LIMIT 1", (COMPACT_KEY,)
            ).fetchone()
            compact_rev = int(row[0]) if row else 0
            sql = _LATEST.format(where="name != %s")
            live = [_live_row(r) for r in conn.cursor(binary=True).execute(sql, (COMPACT_KEY,))]  # type: ignore[arg-type]
            self._sync_sequence(conn, revision)
        except psycopg.Error as e:
            conn.close()
            raise DatastoreError(f"the datastore {self.where} failed: {str(e).strip()}") from None
        except BaseException:
            conn.close()
            raise
        self._conn, self._durable = conn, revision
        return LoadedState(revision, compact_rev, live)

    @staticmethod
    def _sync_sequence(conn: psycopg.Connection[Any], revision: int) -> None:
        if revision > 0:
            conn.execute("SELECT setval(pg_get_serial_sequence('kine', 'id'), %s)", (revision,))

    def _writer_conn(
        self, attempted: list[tuple[int, str]] | None = None, *, paced: bool = True
    ) -> tuple[psycopg.Connection[Any], bool]:
        """The writer connection, a new one after a drop, and whether the `attempted` rows (id, name)
        of a batch whose connection dropped during its commit turned out committed. `paced`: not
        within RECONNECT_PAUSE of a failed reconnect (wait out the rest)."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn, False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
            self._conn = None
        failed = self._last_connect_error
        if paced and failed is not None:  # one reconnect per RECONNECT_PAUSE in an outage
            time.sleep(max(0.0, failed[0] + RECONNECT_PAUSE - time.monotonic()))
        try:
            conn = self._connect("writer")
            committed = self._resume(conn, attempted)
        except (psycopg.Error, DatastoreError) as e:
            self._last_connect_error = (time.monotonic(), e)
            raise
        self._last_connect_error = None
        self.reconnects += 1
        self._conn = conn
        self.down = None
        return conn, committed

    def _resume(self, conn: psycopg.Connection[Any], attempted: list[tuple[int, str]] | None) -> bool:
        """Make a new writer session safe to write on: a writable server, the lock, every committed
        row present (a promoted standby that missed some would fork the history: refused), and
        nothing above the last known commit but, when they are all there, the `attempted` rows
        (then True: their commit went through). Rows of commits in doubt are deleted."""
        try:
            self._check_writable(conn)
            self._take_lock(conn, reclaim=True)
            top = conn.execute("SELECT COALESCE(MAX(id), 0) FROM kine").fetchone()[0]  # type: ignore[index]
            if top < self._durable:
                raise DatastoreError(
                    f"the datastore {self.where} lacks committed writes: its newest revision is {top}, "
                    f"this vcluster had committed {self._durable} (a standby promoted before it had "
                    "replayed them, e.g. with asynchronous replication, or a restored backup); writes "
                    "are refused so that the history does not fork; restart vcluster to serve what the "
                    "database holds"
                )
            above = conn.execute(
                "SELECT id, name FROM kine WHERE id > %s ORDER BY id", (self._durable,)
            ).fetchall()
            if attempted is not None and above and [tuple(r) for r in above] == sorted(attempted):
                log.warning(
                    "reconnected to %s; the commit in doubt of %d rows went through", self.where, len(above)
                )
                return True
            if above:
                with conn.transaction():
                    conn.execute("DELETE FROM kine WHERE id > %s", (self._durable,))
                    self._sync_sequence(conn, self._durable)
            else:
                self._sync_sequence(conn, self._durable)  # a promoted standby's sequence may differ
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        log.warning(
            "reconnected to %s%s", self.where, f"; removed {len(above)} in-doubt rows" if above else ""
        )
        return False

    def _drop_if_broken(self) -> None:
        """After an error: forget a connection that is no longer usable, so the next write reconnects."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            with contextlib.suppress(Exception):
                conn.close()

    def _lost_server(self, e: BaseException) -> bool:
        """Whether `e` means the server went away (worth a retry on a new connection), not that the
        statement or the lock was refused."""
        if isinstance(e, DatastoreUnreachableError):
            return True
        if isinstance(e, DatastoreError):
            return False
        conn = self._conn
        if isinstance(e, psycopg.errors.ReadOnlySqlTransaction) and conn is not None:
            conn.close()  # the server became read-only under us (demoted): find the primary again
            return True
        return isinstance(e, psycopg.OperationalError) or (
            isinstance(e, psycopg.Error) and conn is not None and (conn.closed or conn.broken)
        )

    # ------------------------------------------------------------------ writer
    def _writer_end(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()

    def _write_batch(self, batch: list[Any]) -> None:
        batch = self._live(batch)
        if not batch:
            return
        top = max(r.id for item in batch for r in item[1])
        err = self._commit(batch, top)
        if err is None:
            self._durable = top
            self._committed(batch)
        else:  # the whole batch failed: nothing of it is durable
            self._failed(batch)
            log.error("kine write to %s failed (%d writes): %s", self.where, len(batch), err)
        self._post([(item[2], err) for item in batch])

    def _commit(self, batch: list[Any], top: int) -> BaseException | None:
        """Commit `batch` in one transaction, riding out a lost server for `retry_window` seconds
        (unless already in an outage): None, or the error that failed it."""
        rows = [(r.id, r.name) for item in batch for r in item[1]]
        deadline = None if self._outage else time.monotonic() + self.retry_window
        pause, attempted, first = RETRY_PAUSES[0], False, True
        while True:
            try:
                conn, committed = self._writer_conn(rows if attempted else None, paced=first)
                if not committed:
                    attempted = True
                    conn.execute(_WRITE_BATCH, [*_columns(batch), top])
                self._outage = False
                return None
            except BaseException as e:
                first = False
                self._drop_if_broken()
                lost = self._lost_server(e)
                if lost:  # kube's etcd checks (a range with a timeout) would fail now: so do ours
                    self.down = f"lost {self.where} ({' '.join(str(e).split())}); reconnecting"
                if not lost or deadline is None or self._closed or time.monotonic() + pause > deadline:
                    self._outage = self._outage or lost
                    return e
                if pause == RETRY_PAUSES[0]:
                    log.warning(
                        "lost %s (%s); retrying %d writes for up to %.0fs",
                        self.where, " ".join(str(e).split()), len(batch), self.retry_window,
                    )  # fmt: skip
                time.sleep(pause)
                pause = min(pause * 2, RETRY_PAUSES[1])

    def _run_job(self, item: Any) -> None:
        _, fn, token = item
        try:
            conn, _ = self._writer_conn()
            result = fn(QmarkConnection(conn))
            self._durable = conn.execute("SELECT COALESCE(MAX(id), 0) FROM kine").fetchone()[0]  # type: ignore[index]
            self._post([((token, result), None)])
        except BaseException as e:
            self._drop_if_broken()
            self._post([((token, None), e)])

    # ------------------------------------------------------------------ readers
    def _read_sync(self, fn: Callable[[psycopg.Cursor[Any]], list[Row]]) -> list[Row]:
        """Run a read on the reader connection; one retry on a fresh connection after a drop."""
        for attempt in (0, 1):
            if self._reader_conn is None or self._reader_conn.closed or self._reader_conn.broken:
                self._close_reader()
                conn = self._connect("reader")
                self._check_writable(conn)  # a standby may lag behind: history comes from the primary
                self._reader_conn = conn
            try:
                with self._reader_conn.cursor(binary=True) as cur:
                    return fn(cur)
            except psycopg.OperationalError:
                self._close_reader()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            with contextlib.suppress(Exception):
                self._reader_conn.close()
            self._reader_conn = None

    async def _read(self, fn: Callable[[psycopg.Cursor[Any]], list[Row]]) -> list[Row]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_sync, fn)

    async def history(self, lo: str, hi: str, after: int, upto: int) -> list[Row]:
        """Rows with after < id <= upto and lo <= name < hi, in id order."""

        def q(cur: psycopg.Cursor[Any]) -> list[Row]:
            cur.execute(
                f"SELECT {_COLUMNS} FROM kine WHERE id > %s AND id <= %s AND name >= %s AND name < %s "
                "ORDER BY id",
                (after, upto, lo, hi),
            )
            return [_row(r) for r in cur]

        return await self._read(q)

    async def range_at(
        self, lo: str, hi: str, revision: int, start_after: str | None, limit: int
    ) -> list[Row]:
        """The latest live row of each key in [lo, hi) as of `revision`, in key order."""
        start = start_after if start_after is not None and start_after >= lo else None
        where = "name >= %s AND name < %s AND id <= %s" + (" AND name > %s" if start is not None else "")
        sql = _LATEST.format(where=where) + (" LIMIT %s" if limit > 0 else "")
        args: list[Any] = [lo, hi, revision]
        if start is not None:
            args.append(start)
        if limit > 0:
            args.append(limit)

        def q(cur: psycopg.Cursor[Any]) -> list[Row]:
            cur.execute(sql, args)  # type: ignore[arg-type]
            return [_live_row(r) for r in cur]

        return await self._read(q)

    # ------------------------------------------------------------------ compaction
    @staticmethod
    def compact_sync(
        conn: QmarkConnection, current_compact: int, target: int, compact_row_id: int, batch: int = 1000
    ) -> int:
        """kine's compaction: delete superseded rows and tombstones with id <= target, `batch`
        revisions per transaction; then record the new compact revision. Runs on the writer thread."""
        raw = conn.raw
        start, deleted_rows, t0 = current_compact, 0, time.monotonic()
        while start < target:
            end = min(start + batch, target)
            with raw.transaction():
                deleted_rows += raw.execute(_COMPACT, {"key": COMPACT_KEY, "lo": start, "hi": end}).rowcount
                raw.execute(
                    "UPDATE kine SET prev_revision = %s WHERE name = %s AND id = %s",
                    (end, COMPACT_KEY, compact_row_id),
                )
            start = end
        log.debug("compacted to %d: %d rows in %.3fs", target, deleted_rows, time.monotonic() - t0)
        return deleted_rows

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Write what is queued, then close the connections (which releases the lock)."""
        started = self._writer is not None
        if not self._stop_writer():
            return
        if not started and self._conn is not None:  # opened but never started
            with contextlib.suppress(Exception):
                self._conn.close()
        with contextlib.suppress(RuntimeError):
            self._reader.submit(self._close_reader).result(timeout=10)
        self._reader.shutdown(wait=True)


def probe(datastore: str, *, lock: bool = True) -> None:
    """Check, before a vcluster is started on it, that the datastore can be used: connect as the store
    does and, with `lock`, check that no other process holds the writer lock. DatastoreError saying
    what to fix (the password hidden)."""
    pg = PostgresLog(datastore)
    try:
        conn = pg._connect("check")
        try:
            pg._check_writable(conn)
            if lock:
                pg._take_lock(conn)  # released when the connection closes
        finally:
            conn.close()
    finally:
        pg._reader.shutdown(wait=False)


def live_count(datastore: str, prefix: str, timeout: int = 3) -> int | None:
    """How many live keys start with `prefix` (for `vcluster describe`); None when it cannot be read."""
    sql = _LATEST.format(where="name >= %s AND name < %s")
    hi = prefix_end(prefix)
    try:
        with psycopg.connect(datastore, connect_timeout=timeout, autocommit=True) as conn:
            row = conn.execute(f"SELECT COUNT(*) FROM ({sql}) c", (prefix, hi)).fetchone()  # type: ignore[arg-type]
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


__all__ = ["SCHEMA", "DatastoreError", "PostgresLog", "QmarkConnection", "live_count", "probe"]
