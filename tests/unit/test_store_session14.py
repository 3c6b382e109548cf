"""The external datastore: vcluster.yaml's TLS files as kine maps them, `connector` refused, and a
PostgreSQL connection opened at start that does not stall the event loop."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.pgserver import pg_database, pg_server

from vcluster.config import ConfigError, load_config
from vcluster.store.datasource import DatastoreError, external_datastore, with_tls_files
from vcluster.store.logstore import LogStore

psycopg = pytest.importorskip("psycopg")
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

__all__ = ["pg_database", "pg_server"]
URL = "postgres://u:p%40ss@db.example:5433/vc"


def test_tls_files_become_libpq_keys_with_verify_full_as_kine_does() -> None:
    dsn = with_tls_files(URL, {"caFile": "/ca.pem", "certFile": "/c.pem", "keyFile": "/k.pem"})
    assert conninfo_to_dict(dsn) == {
        "user": "u", "password": "p@ss", "host": "db.example", "port": "5433", "dbname": "vc",
        "sslrootcert": "/ca.pem", "sslcert": "/c.pem", "sslkey": "/k.pem", "sslmode": "verify-full",
    }  # fmt: skip
    # what the data source says wins; sslmode is only added when a file was
    kept = with_tls_files(URL + "?sslmode=verify-ca&sslrootcert=/mine.pem", {"caFile": "/ca.pem"})
    assert conninfo_to_dict(kept) == conninfo_to_dict(URL + "?sslmode=verify-ca&sslrootcert=/mine.pem")
    both = conninfo_to_dict(
        with_tls_files(URL + "?sslrootcert=/mine.pem", {"caFile": "/ca", "keyFile": "/k"})
    )
    assert (both["sslrootcert"], both["sslkey"], both["sslmode"]) == ("/mine.pem", "/k", "verify-full")
    assert with_tls_files(URL, {}) == URL
    kv = conninfo_to_dict(with_tls_files("host=h dbname=d user=u", {"caFile": "/ca.pem"}))
    assert kv == {"host": "h", "dbname": "d", "user": "u", "sslrootcert": "/ca.pem", "sslmode": "verify-full"}


def _external(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "vcluster.yaml"
    lines = "".join(f"        {line}\n" for line in body.splitlines())
    path.write_text(f"controlPlane:\n  backingStore:\n    database:\n      external:\n{lines}")
    return path


def test_vcluster_yaml_external_database_maps_to_the_data_source(tmp_path: Path) -> None:
    cfg = load_config(_external(tmp_path, f"enabled: true\ndataSource: {URL}\ncaFile: /etc/pg/ca.pem"))
    ext = cfg.control_plane.backing_store.database.external
    assert conninfo_to_dict(external_datastore(ext) or "")["sslrootcert"] == "/etc/pg/ca.pem"
    assert not cfg.control_plane.backing_store  # the TLS files are used: not named as unused
    off = load_config(_external(tmp_path, f"enabled: false\ndataSource: {URL}\ncaFile: /ca.pem"))
    assert external_datastore(off.control_plane.backing_store.database.external) is None
    bad = load_config(_external(tmp_path, "enabled: true\ndataSource: mysql://u:p@h/db"))
    with pytest.raises(
        ValueError, match=r"^controlPlane.backingStore.database.external.dataSource: the 'mysql' scheme"
    ):
        external_datastore(bad.control_plane.backing_store.database.external)


def test_connector_is_refused_naming_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(_external(tmp_path, "enabled: true\nconnector: my-db-connector"))
    [issue] = e.value.issues
    assert issue.path == "controlPlane.backingStore.database.external.connector"
    assert issue.message.startswith("not supported: a connector needs vCluster Platform")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a PostgreSQL that hangs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


async def _max_stall_while(coro: object) -> tuple[float, BaseException | None]:
    """Run `coro`; the longest gap between ticks of a 20 ms ticker meanwhile, and what it raised."""
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        await coro  # type: ignore[misc]
        err = None
    except BaseException as e:
        err = e
    await asyncio.sleep(0.05)  # one more tick: it measures a stall that has just ended
    tick.cancel()
    return max(gaps, default=0.0), err


def test_opening_postgres_does_not_block_the_event_loop(silent_server: int) -> None:
    from vcluster.store.postgres import PostgresLog

    dsn = f"postgres://u:p@127.0.0.1:{silent_server}/db?connect_timeout=2"
    store = LogStore(log=PostgresLog(dsn))
    t0 = time.monotonic()
    stall, err = asyncio.run(_max_stall_while(store.start()))
    assert isinstance(err, DatastoreError) and "timeout" in str(err).lower(), err
    assert time.monotonic() - t0 >= 1.5  # it did wait for the connect timeout ...
    assert stall < 0.5  # ... without stalling everything else on the loop


def test_a_cancelled_start_releases_the_postgres_writer_lock(pg_database: str) -> None:
    from vcluster.store.postgres import PostgresLog

    async def go() -> None:
        store = LogStore(log=PostgresLog(pg_database))
        task = asyncio.create_task(store.start())
        await asyncio.sleep(0)  # the open has begun on its thread
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the connection that open() made, with the writer lock, was closed: a new store gets it
        again = LogStore(log=PostgresLog(pg_database))
        await again.start()
        await again.create("/registry/configmaps/default/a", {"metadata": {"name": "a"}})
        await again.close()
        del store

    asyncio.run(go())
