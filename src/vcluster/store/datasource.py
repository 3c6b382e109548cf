"""Which store backs the API: `--datastore` / `controlPlane.backingStore.database.external` /
`controlPlane.backingStore.etcd.external`.

No value means the default, SQLite in `DATA_DIR/state.db`. A PostgreSQL data source is a
`postgres://` or `postgresql://` URL or a libpq `key=value` string, as kine takes it; the password
may also come from PGPASSWORD or ~/.pgpass (libpq reads them), which keeps it off the command line.
An `http://` or `https://` URL is an etcd endpoint (as kine's --endpoint takes it), or several
members' URLs separated by commas (kine splits its etcd endpoint on commas, kube-apiserver's
--etcd-servers is such a list), with its TLS files (caFile, certFile, keyFile) given beside it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import asyncio

    from vcluster.store.sqlite import LoadedState, Row

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_KEYVALUE = re.compile(r"^\s*[A-Za-z_]+\s*=")
FORMS = (
    "postgres://USER:PASSWORD@HOST:PORT/DATABASE, postgresql://... or 'host=... dbname=... user=...' "
    "(PostgreSQL), or https://HOST:PORT / http://HOST:PORT (etcd; several members comma-separated)"
)


class DatastoreError(Exception):
    """The datastore cannot be used; the message names it (password hidden) and says what to fix."""


class KineLog(Protocol):
    """What `LogStore` needs from its durable log (SqliteLog, PostgresLog)."""

    commits: int
    rows_written: int
    down: str | None  # why the backend cannot be reached while the writer reconnects, else None

    def open(self) -> LoadedState: ...
    def start(self, loop: asyncio.AbstractEventLoop, deliver: Any) -> None: ...
    def submit(self, rows: list[Row], token: Any, epoch: int = 0) -> None: ...
    def submit_job(self, fn: Any, token: Any) -> None: ...
    async def history(self, lo: str, hi: str, after: int, upto: int) -> list[Row]: ...
    async def range_at(
        self, lo: str, hi: str, revision: int, start_after: str | None, limit: int
    ) -> list[Row]: ...
    def compact_sync(self, conn: Any, current_compact: int, target: int, compact_row_id: int) -> int: ...
    def close(self) -> None: ...


def is_postgres(datastore: str) -> bool:
    m = _URL.match(datastore)
    return m.group(1).lower() in ("postgres", "postgresql") if m else bool(_KEYVALUE.match(datastore))


def is_etcd(datastore: str) -> bool:
    m = _URL.match(datastore)
    return bool(m) and m.group(1).lower() in ("http", "https")  # type: ignore[union-attr]


def check_datastore(datastore: str) -> str:
    """The data source if it is one we can use; ValueError saying which forms are accepted."""
    if not datastore.strip():
        raise ValueError(f"an empty data source; give {FORMS}, or leave it out for SQLite in the data dir")
    if is_etcd(datastore):
        from vcluster.store.etcdclient import normalize_endpoint

        return normalize_endpoint(datastore, tls=datastore.lower().startswith("https"))
    if not is_postgres(datastore):
        scheme = _URL.match(datastore)
        what = f"the {scheme.group(1)!r} scheme" if scheme else repr(datastore)
        raise ValueError(f"{what} is not a supported datastore; give {FORMS}")
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ValueError("PostgreSQL needs the psycopg driver: pip install 'vcluster[postgres]'") from None
    import psycopg

    try:
        conninfo_to_dict(datastore)
    except psycopg.Error as e:
        raise ValueError(f"cannot parse the data source: {str(e).strip()}; give {FORMS}") from None
    return datastore


# vcluster.yaml's TLS files and the libpq keys they become (kine's --ca-file, --cert-file, --key-file)
TLS_KEYS = {"caFile": "sslrootcert", "certFile": "sslcert", "keyFile": "sslkey"}
EXTERNAL = "controlPlane.backingStore.database.external"


def with_tls_files(datastore: str, files: dict[str, str]) -> str:
    """The data source with the TLS files (`files`: vcluster.yaml key -> path), as kine's pgsql
    prepareDSN does: each becomes its libpq key unless the data source already sets that key, and
    adding any of them means sslmode=verify-full unless the data source sets sslmode."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(datastore)
    extra = {TLS_KEYS[k]: v for k, v in files.items() if v and TLS_KEYS[k] not in given}
    if not extra:
        return datastore
    if "sslmode" not in given:
        extra["sslmode"] = "verify-full"
    return make_conninfo(datastore, **extra)


def external_datastore(ext: Any) -> str | None:
    """The data source of vcluster.yaml's `controlPlane.backingStore.database.external` (an
    `ExternalDatabase`) with its TLS files, or None when it is not enabled; ValueError naming the key."""
    if not ext.enabled:
        return None
    try:
        datastore = check_datastore(ext.data_source)
    except ValueError as e:
        raise ValueError(f"{EXTERNAL}.dataSource: {e}") from None
    return with_tls_files(datastore, ext.tls_files())


def external_etcd(ext: Any) -> str | None:
    """The endpoint of vcluster.yaml's `controlPlane.backingStore.etcd.external` (an `ExternalEtcd`)
    as http(s)://HOST:PORT (comma-separated for several members), or None when it is not enabled;
    ValueError naming the key."""
    if not ext.enabled:
        return None
    from vcluster.store.etcdclient import normalize_endpoint

    try:
        return normalize_endpoint(ext.endpoint, tls=bool(ext.tls_files()))
    except ValueError as e:
        raise ValueError(f"{EXTERNAL_ETCD}.endpoint: {e}") from None


def configured_datastore(cfg: Any) -> tuple[str | None, dict[str, str]]:
    """The datastore vcluster.yaml's backingStore names, with its TLS files for etcd (PostgreSQL's
    are in the data source): (None, {}) for the default SQLite; ValueError naming the key."""
    store = cfg.control_plane.backing_store
    etcd = external_etcd(store.etcd.external)
    if etcd is not None:
        return etcd, store.etcd.external.tls_files()
    return external_datastore(store.database.external), {}


EXTERNAL_ETCD = "controlPlane.backingStore.etcd.external"


def tls_file_problems(ext: Any, where_key: str = EXTERNAL) -> list[str]:
    """What is wrong with the TLS file paths of an enabled external database or etcd, for `vcluster
    create`: its process reads them at every start, from another directory, so they must be
    absolute and readable."""
    import os

    out = []
    for key, path in ext.tls_files().items() if ext.enabled else ():
        where = f"{where_key}.{key}"
        if not os.path.isabs(path):
            out.append(f"{where}: {path!r} is a relative path; give an absolute one")
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            out.append(f"{where}: cannot read {path}: {e.strerror or e}")
    return out


def describe(datastore: str) -> str:
    """The data source without its password, for messages: postgres://USER@HOST:PORT/DB (several
    servers: HOST1:PORT1,HOST2:PORT2), or etcd https://HOST:PORT."""
    if is_etcd(datastore):
        return f"etcd {datastore}"
    try:
        from psycopg.conninfo import conninfo_to_dict

        d = conninfo_to_dict(datastore)
    except Exception:
        return "the PostgreSQL datastore"
    user = f"{d['user']}@" if d.get("user") else ""
    hosts = str(d.get("host") or d.get("hostaddr") or "localhost").split(",")
    ports = str(d.get("port") or "").split(",")
    if len(ports) == 1:  # one port for every host (libpq)
        ports *= len(hosts)
    where = ",".join(h + (f":{p}" if p else "") for h, p in zip(hosts, ports, strict=False))
    return f"postgres://{user}{where}/{d.get('dbname') or ''}"
