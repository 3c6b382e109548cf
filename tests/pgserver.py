"""A real PostgreSQL server for tests: initdb into a temp dir, run as the `postgres` user on a free
127.0.0.1 port with password (scram) auth over TCP, stopped at the end.

Import the fixtures into a test module (`from tests.pgserver import pg_database, pg_server`): one
server per module (~1 s), a fresh database per test; or use `start_pg_server` in a bench.

With `tls=True` (fixture `pg_tls_server`) the server also speaks TLS (ssl=on) with a certificate for
127.0.0.1 and localhost from a CA of its own (`PgTls`: the CA, another CA that signed nothing of
it, and a client certificate for the role `certuser`, who may only log in over TLS with it).
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
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "vcluster-test"
SUPERUSER = "postgres"
CERT_USER = "certuser"  # logs in with a client certificate only (pg_hba `cert`)
_db_seq = itertools.count(1)


@dataclass
class PgTls:
    """The TLS files of a server started with tls=True (PEM; keys mode 0600)."""

    ca: Path  # signed the server's and the client's certificates
    other_ca: Path  # a CA that signed neither
    client_cert: Path  # CN=certuser
    client_key: Path
    server_cert: Path
    server_key: Path


def _pem_key(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(cn: str, issuer: tuple[object, object] | None, *, sans: bool = False, ca: bool = False):  # type: ignore[no-untyped-def]
    """A P-256 key and a certificate for `cn`, signed by `issuer` (cert, key) or self-signed."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)  # type: ignore[attr-defined]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256()), key  # type: ignore[arg-type]


def make_tls_files(root: Path) -> PgTls:
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate for CERT_USER and an
    unrelated CA, written under `root`."""
    from cryptography.hazmat.primitives import serialization

    root.mkdir(parents=True, exist_ok=True)
    ca = _issue("vcluster-test-pg-ca", None, ca=True)
    other = _issue("some-other-ca", None, ca=True)
    server = _issue("127.0.0.1", ca, sans=True)
    client = _issue(CERT_USER, ca)
    files = PgTls(*(root / n for n in ("ca.crt", "other-ca.crt", "client.crt", "client.key", "server.crt",
                                       "server.key")))  # fmt: skip
    pem = serialization.Encoding.PEM
    contents = {
        files.ca: ca[0].public_bytes(pem),
        files.other_ca: other[0].public_bytes(pem),
        files.client_cert: client[0].public_bytes(pem),
        files.client_key: _pem_key(client[1]),
        files.server_cert: server[0].public_bytes(pem),
        files.server_key: _pem_key(server[1]),
    }
    for path, data in contents.items():
        path.write_bytes(data)
        path.chmod(0o600 if path.suffix == ".key" else 0o644)
    return files


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

    def __init__(self, bin_dir: Path, settings: dict[str, str] | None = None, *, tls: bool = False) -> None:
        self.bin = bin_dir
        self.settings = {"fsync": "off", "full_page_writes": "off", **(settings or {})}
        self.root = Path(tempfile.mkdtemp(prefix="vcluster-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0  # postgres refuses to run as root
        self.tls: PgTls | None = None
        if tls:
            self.tls = make_tls_files(self.root / "tls")
            self.settings.update(
                ssl="on",
                ssl_cert_file=str(self.tls.server_cert),
                ssl_key_file=str(self.tls.server_key),
                ssl_ca_file=str(self.tls.ca),
            )

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
        if self.tls is not None:
            self._setup_tls(self.tls)
        return self

    def _setup_tls(self, tls: PgTls) -> None:
        """Let postgres read its key, and CERT_USER log in with its client certificate only."""
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            for path in (tls.server_key.parent, tls.server_cert, tls.server_key, tls.ca):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"hostssl all {CERT_USER} 127.0.0.1/32 cert\n" + hba.read_text())

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


def start_pg_server(settings: dict[str, str] | None = None, *, tls: bool = False) -> PgServer:
    """Start a PostgreSQL for a test session or a bench; skip (or fail when we could have installed
    it) when the binaries are missing."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        msg = "PostgreSQL binaries (/usr/lib/postgresql/*/bin/postgres) are missing: run scripts/bootstrap.sh"
        if os.geteuid() == 0 and shutil.which("apt-get"):
            pytest.fail(msg + " (it installs them when run as root)")
        pytest.skip(msg + " as root, or apt-get install postgresql")
    server = PgServer(bin_dir, settings, tls=tls)
    t0 = time.monotonic()
    try:
        server.init().start()
        if tls:
            server.sql(f"CREATE ROLE {CERT_USER} LOGIN")
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


@pytest.fixture(scope="module")
def pg_tls_server() -> Iterator[PgServer]:
    """One PostgreSQL server with TLS (`server.tls`) for a test module."""
    server = start_pg_server(tls=True)
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_database(pg_server: PgServer) -> str:
    """A fresh database on the session's server; its data source URL."""
    return pg_server.dsn(pg_server.create_database())
