"""`vcluster apiserver --datastore postgres://...` on a real PostgreSQL, used by the real kubectl:
kine rows with id == resourceVersion, restarts, one writer per database, CLI messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pgserver import PgServer, free_port, pg_server

from .conftest import Kubectl, LineReader, Server

pytestmark = pytest.mark.integration
__all__ = ["pg_server"]

NS = "pgtest"


@dataclass
class Setup:
    pg: PgServer
    dbname: str
    dsn: str
    server: Server
    k: Kubectl

    def sql(self, statement: str) -> list[str]:
        """A query through the real psql (as a user would run it); its rows, `|`-separated."""
        psql = shutil.which("psql")
        if psql is None:
            return ["|".join(str(c) for c in r) for r in self.pg.sql(statement, self.dbname)]
        out = subprocess.run(
            [psql, self.dsn, "-At", "-c", statement], capture_output=True, text=True, timeout=30, check=True
        )
        return out.stdout.splitlines()


@pytest.fixture(scope="module")
def setup(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("pgstore")
    dbname = pg_server.create_database("vc")
    dsn = pg_server.dsn(dbname)
    server = Server(base / "vc", args=["--datastore", dsn])
    server.start()
    try:
        k = Kubectl(server, base / "kcache")
        k.namespace(NS)
        yield Setup(pg_server, dbname, dsn, server, k)
    finally:
        server.stop()


def apiserver(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vcluster", "apiserver", "--data-dir", str(tmp_path / "d"), "--port", "0",
         "--controllers=", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_kubectl_objects_are_kine_rows_whose_id_is_the_resource_version(setup: Setup) -> None:
    k = setup.k
    watch = LineReader(k.popen("get", "cm", "-n", NS, "-w", "--output-watch-events"))
    try:
        k("create", "configmap", "one", "-n", NS, "--from-literal=a=1")
        k("create", "configmap", "two", "-n", NS, "--from-literal=b=2")
        k("label", "configmap", "one", "-n", NS, "x=y")
        watch.wait_for(lambda line: line.split()[:2] == ["ADDED", "two"])
        watch.wait_for(lambda line: line.split()[:2] == ["MODIFIED", "one"])
    finally:
        watch.stop()
    items = k.get_json("cm", "-n", NS)["items"]
    rvs = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in items}
    assert set(rvs) >= {"one", "two"} and items[0]["metadata"]["labels"] == {"x": "y"}
    rows = setup.sql(
        f"SELECT name, id FROM kine WHERE name LIKE '/registry/configmaps/{NS}/%' AND id IN "
        f"(SELECT MAX(id) FROM kine GROUP BY name) ORDER BY name"
    )
    latest = dict(r.split("|") for r in rows)
    assert latest[f"/registry/configmaps/{NS}/one"] == rvs["one"]
    assert latest[f"/registry/configmaps/{NS}/two"] == rvs["two"]
    assert "/registry/namespaces/default" in setup.sql("SELECT name FROM kine WHERE name LIKE '/registry/%'")


def test_a_restart_after_sigkill_keeps_objects_and_continues_the_revisions(setup: Setup) -> None:
    k = setup.k
    k("create", "configmap", "durable", "-n", NS, "--from-literal=c=3")
    before = {
        i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in k.get_json("cm", "-n", NS)["items"]
    }
    top = int(setup.sql("SELECT MAX(id) FROM kine")[0])
    setup.server.kill()  # nothing flushed on the way out: every acknowledged write is committed
    setup.server.start()
    after = {
        i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in k.get_json("cm", "-n", NS)["items"]
    }
    assert after == before
    rv = json.loads(k("create", "configmap", "next", "-n", NS, "-o", "json"))["metadata"]["resourceVersion"]
    assert int(rv) > top and setup.sql(f"SELECT name FROM kine WHERE id = {rv}") == [
        f"/registry/configmaps/{NS}/next"
    ]


def test_a_second_apiserver_on_the_same_database_is_refused(setup: Setup, tmp_path: Path) -> None:
    p = apiserver(tmp_path, "--datastore", setup.dsn)
    assert p.returncode == 1, p.stderr
    assert (
        f"Error: the datastore postgres://postgres@127.0.0.1:{setup.pg.port}/{setup.dbname} is in use by "
        in (p.stderr)
    )
    assert "one vcluster writes one database" in p.stderr and "Traceback" not in p.stderr
    assert setup.server.alive()


def test_datastore_errors_are_one_clear_message(pg_server: PgServer, tmp_path: Path) -> None:
    port = pg_server.port
    cases = [
        ("mysql://u:p@127.0.0.1/db", 2, "'mysql' scheme is not a supported datastore; give postgres://"),
        (
            pg_server.dsn("nosuchdb"),
            1,
            f"create the database first, e.g. createdb -h 127.0.0.1 -p {port} nosuchdb",
        ),
        (pg_server.dsn("postgres", password="bad"), 1, "check the user and password"),
        (f"postgresql://postgres:x@127.0.0.1:{free_port()}/db", 1, "Is the server running on that host"),
        (f"host=127.0.0.1 port={free_port()} dbname=db user=u", 1, "Connection refused"),
    ]
    for dsn, code, msg in cases:
        p = apiserver(tmp_path, "--datastore", dsn)
        assert (p.returncode, msg in p.stderr, "Traceback" in p.stderr) == (code, True, False), p.stderr
        assert ":bad@" not in p.stderr and ":x@" not in p.stderr


def test_vcluster_yaml_external_database_is_checked_and_the_flag_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "vcluster.yaml"
    cfg.write_text(
        "controlPlane:\n  backingStore:\n    database:\n      external:\n"
        "        enabled: true\n        dataSource: mysql://u:p@h/db\n"
    )
    args = [sys.executable, "-m", "vcluster", "start", "--name", "vc", "--data-dir", str(tmp_path / "d"),
            "--host-namespace", "ns", "--config", str(cfg)]  # fmt: skip
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "controlPlane.backingStore.database.external.dataSource: " in p.stderr
    assert "'mysql' scheme is not a supported datastore" in p.stderr
    p = subprocess.run([*args, "--datastore", "sqlite:///x"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "Invalid value for '--datastore'" in p.stderr
