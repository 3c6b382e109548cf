"""The durable log: kine's SQLite table, written by one thread with group commit.

Rows are appended with explicit ids assigned by the in-memory store (it is the only writer), so
an object's resourceVersion is known before its row is written and equals the row id. Readers of
history (watch replay from old revisions, paginated lists at an old snapshot) run on a second
connection in a reader thread; WAL lets them run beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vcluster.store.writerthread import WriterThread

log = logging.getLogger("vcluster.store.sqlite")

COMPACT_KEY = "compact_rev_key"

# kine pkg/drivers/sqlite/sqlite.go (as given in shared/spec/python-stack.md), verbatim.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT,
  created INTEGER,
  deleted INTEGER,
  create_revision INTEGER,
  prev_revision INTEGER,
  lease INTEGER,
  value BLOB,
  old_value BLOB
)""",
    "CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)",
    "CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name,id)",
    "CREATE INDEX IF NOT EXISTS kine_id_deleted_index ON kine (id,deleted)",
    "CREATE INDEX IF NOT EXISTS kine_prev_revision_index ON kine (prev_revision)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    "CREATE INDEX IF NOT EXISTS kine_id_compact_rev_key_with_prev_revision_index "
    "ON kine(id, name, prev_revision) WHERE name != 'compact_rev_key' AND prev_revision != 0",
)

_INSERT_CREATE = (
    "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
    "VALUES (?, ?, 1, 0, 0, (SELECT COALESCE(MAX(k.id), 0) FROM kine k WHERE k.name = ?), ?, ?, NULL)"
)
_INSERT = (
    "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
    "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class Row:
    """One kine row. Creates get `prev_revision` (the key's last tombstone) filled in by SQL."""

    id: int
    name: str
    created: bool
    deleted: bool
    create_revision: int
    prev_revision: int
    lease: int
    value: bytes
    old_value: bytes | None


@dataclass(slots=True)
class LoadedState:
    revision: int
    compact_revision: int
    live: list[Row]


class SqliteLog(WriterThread):
    """kine-layout SQLite file with one writer thread and one reader thread."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.fsync = fsync
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kine-reader")
        self._reader_local = threading.local()
        self._conn: sqlite3.Connection | None = None  # the writer thread's

    # ------------------------------------------------------------------ connections
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def open(self) -> LoadedState:
        """Create the schema if needed and read every live key (synchronous, at start-up)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in SCHEMA:
                conn.execute(stmt)
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            revision = conn.execute("SELECT COALESCE(MAX(id), 0) FROM kine").fetchone()[0]
            row = conn.execute(
                "SELECT prev_revision FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1", (COMPACT_KEY,)
            ).fetchone()
            compact_rev = int(row[0]) if row else 0
            live = [
                Row(r[0], r[1], bool(r[2]), False, r[3], r[4], r[5] or 0, bytes(r[6]), None)
                for r in conn.execute(
                    "SELECT k.id, k.name, k.created, k.create_revision, k.prev_revision, k.lease, k.value "
                    "FROM kine k JOIN (SELECT MAX(id) AS id FROM kine GROUP BY name) m ON k.id = m.id "
                    "WHERE k.deleted = 0 AND k.name != ? ORDER BY k.name",
                    (COMPACT_KEY,),
                )
            ]
        finally:
            conn.close()
        return LoadedState(revision, compact_rev, live)

    # ------------------------------------------------------------------ writer
    def _writer_begin(self) -> None:
        self._conn = self._connect()

    def _writer_end(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _write_batch(self, batch: list[Any]) -> None:
        batch = self._live(batch)
        if not batch:
            return
        conn = self._conn
        assert conn is not None
        others: list[tuple[Any, ...]] = []
        err: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            for _, rows, _token, _epoch in batch:
                for r in rows:
                    if r.created:
                        # Creates are inserted one by one: the prev_revision sub-select must see
                        # the tombstones written earlier in this same batch.
                        if others:
                            conn.executemany(_INSERT, others)
                            others.clear()
                        conn.execute(_INSERT_CREATE, (r.id, r.name, r.name, r.lease, r.value))
                    else:
                        others.append(
                            (
                                r.id,
                                r.name,
                                int(r.deleted),
                                r.create_revision,
                                r.prev_revision,
                                r.lease,
                                r.value,
                                r.old_value,
                            )
                        )
            if others:
                conn.executemany(_INSERT, others)
            conn.execute("COMMIT")
            self._committed(batch)
        except BaseException as e:  # the whole batch failed: nothing of it is durable
            err = e
            self._failed(batch)
            log.error("kine write failed (%d writes): %s", len(batch), e)
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        self._post([(item[2], err) for item in batch])

    def _run_job(self, item: Any) -> None:
        _, fn, token = item
        try:
            result = fn(self._conn)
            self._post([((token, result), None)])
        except BaseException as e:
            self._post([((token, None), e)])

    # ------------------------------------------------------------------ readers
    def _reader_conn(self) -> sqlite3.Connection:
        conn = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._reader_local.conn = conn
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, lambda: fn(self._reader_conn()))

    async def history(self, lo: str, hi: str, after: int, upto: int) -> list[Row]:
        """Rows with after < id <= upto and lo <= name < hi, in id order."""

        def q(conn: sqlite3.Connection) -> list[Row]:
            return [
                Row(
                    r[0],
                    r[1],
                    bool(r[2]),
                    bool(r[3]),
                    r[4],
                    r[5],
                    r[6] or 0,
                    bytes(r[7]),
                    bytes(r[8]) if r[8] is not None else None,
                )
                for r in conn.execute(
                    "SELECT id, name, created, deleted, create_revision, prev_revision, lease, value, "
                    "old_value FROM kine WHERE id > ? AND id <= ? AND name >= ? AND name < ? ORDER BY id",
                    (after, upto, lo, hi),
                )
            ]

        return await self._read(q)

    async def range_at(
        self, lo: str, hi: str, revision: int, start_after: str | None, limit: int
    ) -> list[Row]:
        """The latest live row of each key in [lo, hi) as of `revision`, in key order."""

        def q(conn: sqlite3.Connection) -> list[Row]:
            start = start_after if start_after is not None and start_after >= lo else None
            sql = (
                "SELECT k.id, k.name, k.created, k.create_revision, k.prev_revision, k.lease, k.value "
                "FROM kine k JOIN (SELECT MAX(id) AS id FROM kine WHERE name >= ? AND name < ? AND id <= ? "
                + ("AND name > ? " if start is not None else "")
                + "GROUP BY name) m ON k.id = m.id WHERE k.deleted = 0 ORDER BY k.name"
                + (" LIMIT ?" if limit > 0 else "")
            )
            args: list[Any] = [lo, hi, revision]
            if start is not None:
                args.append(start)
            if limit > 0:
                args.append(limit)
            return [
                Row(r[0], r[1], bool(r[2]), False, r[3], r[4], r[5] or 0, bytes(r[6]), None)
                for r in conn.execute(sql, args)
            ]

        return await self._read(q)

    # ------------------------------------------------------------------ compaction
    @staticmethod
    def compact_sync(
        conn: sqlite3.Connection, current_compact: int, target: int, compact_row_id: int, batch: int = 1000
    ) -> int:
        """kine's compaction: delete superseded rows and tombstones with id <= target, in batches
        of `batch` revisions; then record the new compact revision. Runs on the writer thread."""
        start = current_compact
        deleted_rows = 0
        t0 = time.monotonic()
        while start < target:
            end = min(start + batch, target)
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute(
                    "DELETE FROM kine WHERE id IN (SELECT prev_revision FROM kine WHERE name != ? "
                    "AND prev_revision != 0 AND id > ? AND id <= ?)",
                    (COMPACT_KEY, start, end),
                )
                deleted_rows += cur.rowcount
                cur = conn.execute("DELETE FROM kine WHERE deleted = 1 AND id > ? AND id <= ?", (start, end))
                deleted_rows += cur.rowcount
                conn.execute(
                    "UPDATE kine SET prev_revision = ? WHERE name = ? AND id = ?",
                    (end, COMPACT_KEY, compact_row_id),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            start = end
        if deleted_rows:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        log.debug("compacted to %d: %d rows in %.3fs", target, deleted_rows, time.monotonic() - t0)
        return deleted_rows

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        if self._stop_writer():
            self._reader.shutdown(wait=True)
