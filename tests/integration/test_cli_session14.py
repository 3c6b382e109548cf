"""`vcluster create -f values.yaml` with `controlPlane.backingStore.database.external` on a real
PostgreSQL with TLS: the TLS files as libpq's sslrootcert/sslcert/sslkey (verify-full), errors
before anything is created, and `describe` / `list` / `delete` on it (the database is kept)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli_commands import HostCluster, User, host, kill_pids, pids_with
from tests.pgserver import CERT_USER, PgServer, PgTls, pg_tls_server

pytestmark = pytest.mark.integration
__all__ = ["host", "pg_tls_server"]


@pytest.fixture
def user(tmp_path: Path, host: HostCluster) -> Iterator[User]:
    u = User(tmp_path, host)
    try:
        yield u
    finally:
        kill_pids(str(tmp_path))


def values(path: Path, data_source: str, **external: str) -> Path:
    """A vcluster.yaml with an enabled external database."""
    lines = [f"        dataSource: '{data_source}'"] + [f"        {k}: '{v}'" for k, v in external.items()]
    body = "\n".join(lines)
    path.write_text(
        f"controlPlane:\n  backingStore:\n    database:\n      external:\n        enabled: true\n{body}\n"
    )
    return path


def nothing_created(user: User, host: HostCluster, ns: str) -> bool:
    return not host.exists("ns", ns) and not (user.data / "vclusters").exists()


def test_create_on_postgres_with_tls_files_and_delete_keeps_the_database(
    user: User, host: HostCluster, pg_tls_server: PgServer, tmp_path: Path
) -> None:
    pg = pg_tls_server
    tls: PgTls = pg.tls  # type: ignore[assignment]
    db = pg.create_database("cli")
    pg.sql(f'ALTER DATABASE "{db}" OWNER TO {CERT_USER}')
    cert_dsn = f"postgres://{CERT_USER}@localhost:{pg.port}/{db}"
    where = f"postgres://{CERT_USER}@localhost:{pg.port}/{db}"

    # refused before anything is created: a CA that did not sign the server's certificate ...
    wrong_ca = values(tmp_path / "wrong-ca.yaml", pg.dsn(db), caFile=str(tls.other_ca))
    user.fails(
        "create", "pg-a", "-n", "pg-ns", "-f", str(wrong_ca),
        match=r"cannot use the datastore postgres://postgres@127.0.0.1:\d+/\w+: .*certificate verify failed; "
        r"the server's certificate is not signed by the CA in caFile",
    )  # fmt: skip
    # ... no client certificate for a user that needs one, a relative path, a wrong password
    no_cert = values(tmp_path / "no-cert.yaml", cert_dsn, caFile=str(tls.ca))
    user.fails(
        "create", "pg-a", "-n", "pg-ns", "-f", str(no_cert),
        match=r"requires a valid client certificate; .*set certFile and keyFile",
    )  # fmt: skip
    relative = values(tmp_path / "relative.yaml", cert_dsn, caFile="ca.crt")
    user.fails(
        "create", "pg-a", "-n", "pg-ns", "-f", str(relative),
        match=r"controlPlane.backingStore.database.external.caFile: 'ca.crt' is a relative path",
    )  # fmt: skip
    bad_pw = values(tmp_path / "bad-pw.yaml", pg.dsn(db, password="wrong"), caFile=str(tls.ca))
    user.fails("create", "pg-a", "-n", "pg-ns", "-f", str(bad_pw), match=r"check the user and password")
    assert nothing_created(user, host, "pg-ns")

    # verify-full with the CA, logged in with the client certificate (no password anywhere)
    good = values(
        tmp_path / "good.yaml", cert_dsn, caFile=str(tls.ca), certFile=str(tls.client_cert),
        keyFile=str(tls.client_key),
    )  # fmt: skip
    user.ok("create", "pg-a", "-n", "pg-ns", "-f", str(good), "--connect=false")
    user.ok("connect", "pg-a", "-n", "pg-ns", "--", "kubectl", "create", "configmap", "in-pg")
    assert pg.sql("SELECT count(*) FROM kine WHERE name = '/registry/configmaps/default/in-pg'", db) == [(1,)]
    sessions = pg.sql(
        "SELECT s.ssl, a.usename FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
        f"WHERE a.datname = '{db}' AND a.application_name LIKE 'vcluster writer%'"
    )
    assert sessions == [(True, CERT_USER)]
    d = user.describe("pg-a", "pg-ns")
    assert d["status"] == "Running" and d["datastore"] == where and d["mappings"] >= 1
    assert not (Path(d["dataDir"]) / "state.db").exists()
    assert stat.S_IMODE(Path(d["valuesFile"]).stat().st_mode) == 0o600  # it may hold a password
    rows = json.loads(user.ok("list", "-o", "json").stdout)
    assert [(r["Name"], r["Status"]) for r in rows] == [("pg-a", "Running")]

    # a second vCluster on the same database is refused before it creates anything
    user.fails(
        "create", "pg-b", "-n", "pg-ns2", "-f", str(good),
        match=rf"the datastore {where} is in use by vcluster writer pid {d['pid']} ",
    )  # fmt: skip
    assert not host.exists("ns", "pg-ns2")
    # --upgrade of the running one is not refused by its own lock
    user.ok("create", "pg-a", "-n", "pg-ns", "-f", str(good), "--upgrade", "--connect=false")

    r = user.ok("delete", "pg-a", "-n", "pg-ns")
    assert f"Kept the state in the external datastore {where}" in r.stderr
    assert pg.sql("SELECT count(*) FROM kine WHERE name = '/registry/configmaps/default/in-pg'", db) == [(1,)]
    assert nothing_created(user, host, "pg-ns") and not pids_with(str(user.root))
