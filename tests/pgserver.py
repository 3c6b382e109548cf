"""A real PostgreSQL server for tests: initdb into a temp dir, run as the `postgres` user on a free
127.0.0.1 port with password (scram) auth over TCP, stopped at the end.

Import the fixtures into a test module (`from tests.pgserver import pg_database, pg_server`): one
server per module (~1 s), a fresh database per test; or use `start_pg_server` in a bench.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = "vcluster-test"
SUPERUSER = "postgres"
_db_seq = itertools.count(1)


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin dir (Debian layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster in a temp dir (`settings` go to postgres as -c options)."""

    def __init__(self, bin_dir: Path, settings: dict[str, str] | None = None) -> None:
        self.bin = bin_dir
        self.settings = {"fsync": "off", "full_page_writes": "off", **(settings or {})}
        self.root = Path(tempfile.mkdtemp(prefix="vcluster-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0  # postgres refuses to run as root

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [*(["runuser", "-u", "postgres", "--"] if self._as_postgres else []), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)

    def init(self) -> PgServer:
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        pwfile.chmod(0o644)
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile), "-E", "UTF8",
            "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
            "--no-instructions",
        )  # fmt: skip
        pwfile.unlink()
        return self

    def start(self) -> PgServer:
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.root}"
        opts += "".join(f" -c {k}={v}" for k, v in self.settings.items())
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start"
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` ends the sessions: clients see their connection drop)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", *, user: str = SUPERUSER, password: str = PASSWORD) -> str:
        return f"postgres://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser (autocommit); the rows it returns."""
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            cur = conn.execute(statement)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its name."""
        name = f"{prefix}{os.getpid()}_{next(_db_seq)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return name


def start_pg_server(settings: dict[str, str] | None = None) -> PgServer:
    """Start a PostgreSQL for a test session or a bench; skip (or fail when we could have installed
    it) when the binaries are missing."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        msg = "PostgreSQL binaries (/usr/lib/postgresql/*/bin/postgres) are missing: run scripts/bootstrap.sh"
        if os.geteuid() == 0 and shutil.which("apt-get"):
            pytest.fail(msg + " (it installs them when run as root)")
        pytest.skip(msg + " as root, or apt-get install postgresql")
    server = PgServer(bin_dir, settings)
    t0 = time.monotonic()
    try:
        server.init().start()
    except BaseException:
        print(server.log.read_text() if server.log.exists() else "")
        server.destroy()
        raise
    print(f"PostgreSQL on 127.0.0.1:{server.port} ready in {time.monotonic() - t0:.1f}s")
    return server


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for a test module (import this fixture into the module)."""
    server = start_pg_server()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_database(pg_server: PgServer) -> str:
    """A fresh database on the session's server; its data source URL."""
    return pg_server.dsn(pg_server.create_database())
