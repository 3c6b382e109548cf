"""Front-proxy (requestheader) authentication with real TLS: the published
kube-system/extension-apiserver-authentication ConfigMap, an aggregated API server that trusts the
X-Remote-* headers only from the front-proxy client certificate (so the aggregator must present it),
our own server authenticating the front proxy's headers (SelfSubjectReview), the headers ignored
with other credentials, a front-proxy certificate never being an x509 user, and a restart that keeps
the certificates and writes nothing."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.integration.httpclient import Client

from .aggregated_server import GROUP, PLURAL, VERSION, AggregatedServer
from .conftest import Kubectl, Server, server_fixture

server = server_fixture(args=["--enable-aggregator-routing"])
CM = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication"
SSR = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.fixture(scope="module")
def k(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(server, tmp_path_factory.mktemp("kcache"))


@pytest.fixture(scope="module")
def api(server: Server) -> Client:
    return Client(server.url, server.ca_file, server.token)


def _wait(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")


def _configmap(api: Client) -> dict[str, Any]:
    return _wait(lambda: (r := api.call("GET", CM)).status == 200 and r.body)  # type: ignore[no-any-return]


def _pki(server: Server) -> Path:
    return server.data_dir / "pki"


def _request(
    server: Server,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    cert: tuple[Path, Path] | None = None,
    body: Any = None,
) -> tuple[int, Any]:
    """One request on a fresh TLS connection, headers sent as given (repeated names too)."""
    ctx = ssl.create_default_context(cafile=str(server.ca_file))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    u = urlsplit(server.url)
    conn = http.client.HTTPSConnection(u.hostname or "127.0.0.1", u.port, context=ctx, timeout=15)
    try:
        data = json.dumps(body).encode() if body is not None else b""
        conn.putrequest(method, path)
        for k, v in [*headers, ("Content-Type", "application/json"), ("Content-Length", str(len(data)))]:
            conn.putheader(k, v)
        conn.endheaders(data)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        return resp.status, raw


def _whoami(server: Server, headers: list[tuple[str, str]], cert: tuple[Path, Path] | None) -> Any:
    status, body = _request(server, "POST", SSR, headers, cert, REVIEW)
    if status != 201:
        return status, body
    return status, body["status"]["userInfo"]


def _front_proxy_cert(server: Server) -> tuple[Path, Path]:
    return _pki(server) / "front-proxy-client.crt", _pki(server) / "front-proxy-client.key"


def _issue(tmp: Path, ca: str, server: Server, cn: str) -> tuple[Path, Path]:
    """A client certificate with `cn` from the data dir's CA `ca` ("ca" or "front-proxy-ca")."""
    ca_cert = x509.load_pem_x509_certificate((_pki(server) / f"{ca}.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((_pki(server) / f"{ca}.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    c, kf = tmp / f"{ca}-{cn}.crt", tmp / f"{ca}-{cn}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kf.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return c, kf


# ------------------------------------------------------------------------------------------ ConfigMap


def test_configmap_published(server: Server, api: Client, k: Kubectl) -> None:
    data = _configmap(api)["data"]
    assert sorted(data) == [
        "client-ca-file",
        "requestheader-allowed-names",
        "requestheader-client-ca-file",
        "requestheader-extra-headers-prefix",
        "requestheader-group-headers",
        "requestheader-username-headers",
    ]
    assert data["client-ca-file"] == (_pki(server) / "ca.crt").read_text()
    assert data["requestheader-client-ca-file"] == (_pki(server) / "front-proxy-ca.crt").read_text()
    assert data["client-ca-file"] != data["requestheader-client-ca-file"]
    assert data["requestheader-allowed-names"] == '["front-proxy-client"]'
    assert data["requestheader-username-headers"] == '["X-Remote-User"]'
    assert data["requestheader-group-headers"] == '["X-Remote-Group"]'
    assert data["requestheader-extra-headers-prefix"] == '["X-Remote-Extra-"]'
    # kubeadm's front-proxy-client: CN front-proxy-client, no O, signed by the front-proxy CA
    cert = x509.load_pem_x509_certificate(_front_proxy_cert(server)[0].read_bytes())
    ca = x509.load_pem_x509_certificate(data["requestheader-client-ca-file"].encode())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=front-proxy-client"
    assert ca.subject.rfc4514_string() == "CN=front-proxy-ca"
    # who may read it: the bootstrap Role/RoleBinding extension-apiserver-authentication-reader
    role = json.loads(
        k("get", "role", "-n", "kube-system", "extension-apiserver-authentication-reader", "-o", "json")
    )
    assert role["rules"][0]["resourceNames"] == ["extension-apiserver-authentication"]
    can = k.run(
        "auth", "can-i", "get", "configmap/extension-apiserver-authentication", "-n", "kube-system",
        "--as", "system:kube-scheduler", check=False,
    )  # fmt: skip
    assert can.stdout.strip() == "yes"


def test_configmap_repaired(api: Client) -> None:
    """A changed ConfigMap is put back (stored CAs and names are kept, unknown keys dropped)."""
    cm = _configmap(api)
    cm["data"]["requestheader-allowed-names"] = '["other-proxy"]'
    cm["data"]["stray"] = "x"
    del cm["data"]["requestheader-group-headers"]
    r = api.call("PUT", CM, cm)
    assert r.status == 200, r.body
    fixed = _wait(lambda: "stray" not in (d := _configmap(api)["data"]) and d)
    assert fixed["requestheader-allowed-names"] == '["other-proxy","front-proxy-client"]'
    assert fixed["requestheader-group-headers"] == '["X-Remote-Group"]'
    # restore the upstream content for the tests below: delete it, the controller recreates it
    assert api.call("DELETE", CM).status == 200
    again = _wait(lambda: (r := api.call("GET", CM)).status == 200 and r.body["data"])
    assert again["requestheader-allowed-names"] == '["front-proxy-client"]'


# ------------------------------------------------------------------------------------------ aggregator


@pytest.fixture(scope="module")
def backend(api: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AggregatedServer]:
    data = _configmap(api)["data"]
    names = json.loads(data["requestheader-allowed-names"])
    srv = AggregatedServer(
        tmp_path_factory.mktemp("agg"),
        ["api.wardle.svc"],
        front_proxy=(data["requestheader-client-ca-file"].encode(), names),
    )
    yield srv
    srv.stop()


def test_aggregated_server_trusts_front_proxy(
    server: Server, api: Client, k: Kubectl, backend: AggregatedServer
) -> None:
    k("create", "namespace", "wardle")
    svc = {"metadata": {"name": "api"}, "spec": {"ports": [{"name": "https", "port": 443}]}}
    assert api.call("POST", "/api/v1/namespaces/wardle/services", svc).status == 201
    ep = {
        "metadata": {"name": "api"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": backend.port}]}],
    }
    assert api.call("POST", "/api/v1/namespaces/wardle/endpoints", ep).status == 201
    apisvc = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"{VERSION}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "version": VERSION,
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "service": {"namespace": "wardle", "name": "api", "port": 443},
            "caBundle": base64.b64encode(backend.ca_pem).decode(),
        },
    }
    assert api.call("POST", "/apis/apiregistration.k8s.io/v1/apiservices", apisvc).status == 201

    def available() -> Any:
        r = api.call("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{VERSION}.{GROUP}")
        conds = (r.body.get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "Available" and c["status"] == "True"), None)

    cond = _wait(available)
    assert cond["reason"] == "Passed"  # the discovery check presented the front-proxy certificate
    out = json.loads(k("get", PLURAL, "-n", "wardle", "-o", "json"))
    assert [i["metadata"]["name"] for i in out["items"]] == ["hello"]
    whoami = json.loads(k("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    path = f"/apis/{GROUP}/{VERSION}/namespaces/wardle/{PLURAL}"
    seen = [i for i in backend.identities if i[0] == path]
    assert seen[-1] == (path, whoami["username"], whoami["groups"], "front-proxy-client")
    # an impersonated user reaches the backend as that user, with its groups
    k("get", PLURAL, "-n", "wardle", "--as", "jane", "--as-group", "system:masters", "--as-group", "dev")
    want = ("jane", ["system:masters", "dev", "system:authenticated"], "front-proxy-client")
    assert backend.identities[-1][1:] == want
    # the backend does check: the same headers without the certificate are refused
    ctx = ssl.create_default_context(cadata=backend.ca_pem.decode())
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", backend.port, context=ctx, timeout=10)
    conn.request("GET", path, headers={"X-Remote-User": "mallory", "X-Remote-Group": "system:masters"})
    assert conn.getresponse().status == 401
    conn.close()
    assert backend.rejected[-1] == (path, "no client certificate")


# ------------------------------------------------------------------------------------------ our server


def test_front_proxy_headers_authenticate(server: Server) -> None:
    headers = [
        ("X-Remote-User", "alice"),
        ("X-Remote-Group", "team-a"),
        ("X-Remote-Group", "team-b"),
        ("X-Remote-Extra-Scopes.example.com%2Fkey", "one"),
        ("X-Remote-Extra-Scopes.example.com%2Fkey", "two"),
    ]
    status, user = _whoami(server, headers, _front_proxy_cert(server))
    assert status == 201, user
    assert user == {
        "username": "alice",
        "groups": ["team-a", "team-b", "system:authenticated"],
        "extra": {"scopes.example.com/key": ["one", "two"]},
    }


def test_headers_ignored_with_other_credentials(server: Server, tmp_path: Path) -> None:
    spoof = [("X-Remote-User", "alice"), ("X-Remote-Group", "system:masters")]
    admin = (_pki(server) / "admin.crt", _pki(server) / "admin.key")
    status, user = _whoami(server, spoof, admin)
    assert (status, user["username"]) == (201, "kubernetes-admin")
    assert "alice" not in json.dumps(user)
    status, user = _whoami(server, [*spoof, ("Authorization", f"Bearer {server.token}")], None)
    assert (status, user["username"]) == (201, "admin")
    status, body = _whoami(server, spoof, None)  # anonymous stays anonymous
    assert status == 403 and '"system:anonymous"' in body["message"], body
    # a cluster-CA certificate named front-proxy-client is an ordinary x509 user, not the front proxy
    status, user = _whoami(server, spoof, _issue(tmp_path, "ca", server, "front-proxy-client"))
    assert (status, user["username"]) == (201, "front-proxy-client")


def test_front_proxy_cert_is_no_x509_user(server: Server, tmp_path: Path) -> None:
    status, body = _whoami(server, [], _front_proxy_cert(server))
    assert status == 401 and body["reason"] == "Unauthorized", body
    status, user = _whoami(server, [("Authorization", f"Bearer {server.token}")], _front_proxy_cert(server))
    assert (status, user["username"]) == (201, "admin")  # the token still counts
    # a front-proxy-CA certificate whose CN is not allowed: its headers count for nothing
    other = _issue(tmp_path, "front-proxy-ca", server, "someone-else")
    status, body = _whoami(server, [("X-Remote-User", "alice")], other)
    assert status == 401, body


def test_restart_keeps_certs_and_writes_nothing(server: Server, api: Client) -> None:
    """Runs last: restarts the module's server."""
    names = ("front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-client.crt", "front-proxy-client.key")
    before = {n: (_pki(server) / n).read_bytes() for n in names}
    rv = _configmap(api)["metadata"]["resourceVersion"]
    writes = server.log_path.read_text().count("writing updated authentication info")
    server.stop()
    server.start()
    fresh = Client(server.url, server.ca_file, server.token)
    assert {n: (_pki(server) / n).read_bytes() for n in names} == before
    # the controller runs: a removed key comes back, and only that was written
    status, user = _whoami(server, [("X-Remote-User", "bob")], _front_proxy_cert(server))
    assert (status, user["username"]) == (201, "bob")
    time.sleep(0.5)
    assert _configmap(fresh)["metadata"]["resourceVersion"] == rv
    assert server.log_path.read_text().count("writing updated authentication info") == writes
    cm = _configmap(fresh)
    del cm["data"]["requestheader-username-headers"]
    assert fresh.call("PUT", CM, cm).status == 200
    _wait(lambda: "requestheader-username-headers" in _configmap(fresh)["data"])
    assert server.log_path.read_text().count("writing updated authentication info") == writes + 1
