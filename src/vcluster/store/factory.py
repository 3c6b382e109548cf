"""The store a server opens for its `--datastore`, and the rule that a data dir keeps its store kind.

As vCluster refuses to switch the backing store of an existing virtual cluster (its data would stay
behind in the old one), the data dir records the kind it was created with in `DIR/backingstore`
(sqlite, postgres or etcd); a data dir with a state.db and no record is SQLite's. Starting it on
another kind is refused with a message naming both.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from vcluster.store.datasource import DatastoreError, check_datastore, describe, is_etcd
from vcluster.store.interface import Storage

MARKER = "backingstore"
_NAMES = {"sqlite": "SQLite (DIR/state.db)", "postgres": "PostgreSQL", "etcd": "etcd"}


def store_kind(datastore: str | None) -> str:
    if not datastore:
        return "sqlite"
    return "etcd" if is_etcd(datastore) else "postgres"


def check_store_kind(data_dir: Path, datastore: str | None) -> None:
    """Refuse a data dir made with another kind of store."""
    kind = store_kind(datastore)
    marker = data_dir / MARKER
    try:
        recorded = marker.read_text().strip()
    except OSError:
        recorded = "sqlite" if (data_dir / "state.db").exists() else ""
    if recorded and recorded != kind:
        now = describe(datastore) if datastore else f"SQLite ({data_dir / 'state.db'})"
        raise DatastoreError(
            f"the data directory {data_dir} was created with the {_NAMES.get(recorded, recorded)} store and "
            f"cannot start on {now}: the backing store of a virtual cluster cannot change after creation "
            "(its objects stay in the old store); start it on its original store, or use a new data "
            "directory (a new virtual cluster) for the other one"
        )


def record_store_kind(data_dir: Path, datastore: str | None) -> None:
    """Write `DIR/backingstore` once the store has opened (a start that failed records nothing)."""
    marker = data_dir / MARKER
    if not marker.exists():
        with contextlib.suppress(OSError):  # the data dir's own errors are reported elsewhere
            marker.write_text(store_kind(datastore) + "\n")


def open_store(
    data_dir: Path, datastore: str | None, *, tls_files: dict[str, str] | None = None, compact_interval: float
) -> Storage:
    """SQLite in `data_dir/state.db` (no datastore), kine's table in PostgreSQL, or etcd."""
    if datastore:
        try:
            datastore = check_datastore(datastore)
        except ValueError as e:
            raise DatastoreError(f"--datastore: {e}") from None
    check_store_kind(data_dir, datastore)
    if datastore and is_etcd(datastore):
        from vcluster.store.etcdclient import EtcdEndpoint
        from vcluster.store.etcdstore import EtcdStore

        files = tls_files or {}
        endpoint = EtcdEndpoint(
            datastore, files.get("caFile", ""), files.get("certFile", ""), files.get("keyFile", "")
        )
        try:
            endpoint.ssl_context()
        except (OSError, ValueError) as e:
            raise DatastoreError(f"cannot use the TLS files for {describe(datastore)}: {e}") from None
        store: Storage = EtcdStore(endpoint, compact_interval=compact_interval)
    else:
        from vcluster.store.logstore import LogStore

        log = None
        if datastore:
            from vcluster.store.postgres import PostgresLog

            log = PostgresLog(datastore)
        store = LogStore(data_dir / "state.db", compact_interval=compact_interval, log=log)
    store.after_start = lambda: record_store_kind(data_dir, datastore)  # type: ignore[attr-defined]
    return store
