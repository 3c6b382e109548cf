"""`vcluster create -f values.yaml` with `controlPlane.backingStore.etcd.external` on a real etcd
with TLS and client-certificate auth: errors before anything is created, then create, connect,
`describe` (the endpoint, the mapping count read from etcd) and `delete` keeping the data."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.etcdserver import EtcdServer, etcd_tls_server
from tests.integration.test_cli_commands import HostCluster, User, host, kill_pids, pids_with
from tests.pgserver import free_port

pytestmark = pytest.mark.integration
__all__ = ["etcd_tls_server", "host"]


@pytest.fixture
def user(tmp_path: Path, host: HostCluster) -> Iterator[User]:
    u = User(tmp_path, host)
    try:
        yield u
    finally:
        kill_pids(str(tmp_path))


def values(path: Path, endpoint: str, **tls: str) -> Path:
    """A vcluster.yaml with an enabled external etcd."""
    lines = "".join(f"          {k}: '{v}'\n" for k, v in tls.items())
    path.write_text(
        "controlPlane:\n  backingStore:\n    etcd:\n      external:\n        enabled: true\n"
        f"        endpoint: '{endpoint}'\n" + (f"        tls:\n{lines}" if lines else "")
    )
    return path


def etcd_has(etcd: EtcdServer, key: str) -> bool:
    tls = etcd.tls
    assert tls is not None
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    ctx.load_cert_chain(str(tls.client_cert), str(tls.client_key))
    body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
    with urllib.request.urlopen(f"{etcd.url}/v3/kv/range", body, timeout=5, context=ctx) as r:
        return bool(json.loads(r.read()).get("kvs"))


def test_create_on_etcd_with_client_certificates_and_delete_keeps_the_data(
    user: User, host: HostCluster, etcd_tls_server: EtcdServer, tmp_path: Path
) -> None:
    etcd = etcd_tls_server
    tls = etcd.tls
    assert tls is not None
    hostport = etcd.url.removeprefix("https://")
    files = {"caFile": str(tls.ca), "certFile": str(tls.client_cert), "keyFile": str(tls.client_key)}

    def refused(name: str, match: str, endpoint: str = hostport, **tls_files: str) -> None:
        path = values(tmp_path / name, endpoint, **tls_files)
        user.fails("create", "etcd-a", "-n", "etcd-ns", "-f", str(path), match=match)

    where = rf"cannot use the datastore etcd https://127.0.0.1:{etcd.port}: "
    refused(
        "wrong-ca.yaml",
        where + r".*certificate verify failed.*caFile must be the CA",
        **{**files, "caFile": str(tls.other_ca)},
    )
    refused("no-cert.yaml", where + r".*etcd asks for a client certificate", caFile=str(tls.ca))
    relative = r"controlPlane.backingStore.etcd.external.tls.caFile: 'ca.crt' is a relative path"
    refused("relative.yaml", relative, **{**files, "caFile": "ca.crt"})
    refused(
        "down.yaml", r"cannot reach etcd at .*check that etcd is running", f"127.0.0.1:{free_port()}", **files
    )
    assert not host.exists("ns", "etcd-ns") and not (user.data / "vclusters").exists()

    good = values(tmp_path / "good.yaml", hostport, **files)  # HOST:PORT with TLS files: https
    user.ok("create", "etcd-a", "-n", "etcd-ns", "-f", str(good), "--connect=false")
    user.ok("connect", "etcd-a", "-n", "etcd-ns", "--", "kubectl", "create", "configmap", "in-etcd")
    assert etcd_has(etcd, "/registry/configmaps/default/in-etcd")
    d = user.describe("etcd-a", "etcd-ns")
    assert d["status"] == "Running" and d["datastore"] == f"etcd https://127.0.0.1:{etcd.port}"
    assert d["mappings"] >= 1  # the syncer's /vcluster/mappings/ keys, counted in etcd
    assert not (Path(d["dataDir"]) / "state.db").exists()
    assert (Path(d["dataDir"]) / "backingstore").read_text().strip() == "etcd"

    r = user.ok("delete", "etcd-a", "-n", "etcd-ns")
    assert f"Kept the state in the external datastore etcd https://127.0.0.1:{etcd.port}" in r.stderr
    assert etcd_has(etcd, "/registry/configmaps/default/in-etcd")
    assert not host.exists("ns", "etcd-ns") and not pids_with(str(user.root))
