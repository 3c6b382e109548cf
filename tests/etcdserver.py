"""A real etcd for tests (Debian's etcd-server, /usr/bin/etcd 3.4): a private data dir, client and
peer URLs on free 127.0.0.1 ports, always stopped at the end.

`EtcdServer(tls=True)` serves clients over TLS with a certificate for 127.0.0.1/localhost and
requires a client certificate signed by its CA (`--client-cert-auth`); the CA, an unrelated CA and
a client certificate are made with `cryptography` (`tests.pgserver.make_tls_files`).
Fixtures: `etcd_server` (module-scoped, plain HTTP) and `etcd_tls_server`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import PgTls, free_port, make_tls_files

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


class EtcdServer:
    def __init__(self, *, tls: bool = False, fsync: bool = False) -> None:
        self.fsync = fsync  # tests run without fsync (--unsafe-no-fsync); a bench may want it
        self.root = Path(tempfile.mkdtemp(prefix="vcluster-etcd-"))
        self.port = free_port()
        self.peer_port = free_port()
        self.tls: PgTls | None = make_tls_files(self.root / "tls") if tls else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.root / "etcd.log"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EtcdServer:
        args = [
            ETCD,
            "--name", "test",
            "--data-dir", str(self.root / "data"),
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
            "--initial-cluster", f"test=http://127.0.0.1:{self.peer_port}",
            "--log-level", "warn",
        ]  # fmt: skip
        if not self.fsync:
            args.append("--unsafe-no-fsync")
        if self.tls is not None:
            args += [
                "--cert-file", str(self.tls.server_cert),
                "--key-file", str(self.tls.server_key),
                "--trusted-ca-file", str(self.tls.ca),
                "--client-cert-auth",
            ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {self.log.read_text()[-2000:]}")
            if self._healthy():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd did not start: {self.log.read_text()[-2000:]}")

    def _healthy(self) -> bool:
        if self.tls is None:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    return b'"true"' in r.read()
            except OSError:
                return False
        import ssl

        ctx = ssl.create_default_context(cafile=str(self.tls.ca))
        ctx.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1, context=ctx) as r:
                return b'"true"' in r.read()
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def wipe(self) -> None:
        """Stop and start with an empty data dir (a fresh keyspace for the next test)."""
        self.stop()
        shutil.rmtree(self.root / "data", ignore_errors=True)
        self.start()

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_etcd(*, tls: bool = False) -> Iterator[EtcdServer]:
    if not Path(ETCD).exists():
        pytest.skip("etcd is not installed (Debian: apt-get install etcd-server)")
    srv = EtcdServer(tls=tls)
    try:
        yield srv.start()
    finally:
        srv.destroy()


@pytest.fixture(scope="module")
def etcd_server() -> Iterator[EtcdServer]:
    with running_etcd() as srv:
        yield srv


@pytest.fixture(scope="module")
def etcd_tls_server() -> Iterator[EtcdServer]:
    with running_etcd(tls=True) as srv:
        yield srv
