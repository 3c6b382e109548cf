"""kubeconfig / in-cluster loading and ApiError construction (no server needed)."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from vcluster.apiserver.certs import ensure_pki
from vcluster.client import ApiError, ConfigError, ConnectionFailed, load_incluster_config, load_kubeconfig
from vcluster.client import config as config_mod
from vcluster.client.client import resource_path, selector_str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


def two_contexts(pki: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c1",
                "cluster": {
                    "server": "https://127.0.0.1:6443/",
                    "certificate-authority-data": b64(pki.ca_pem),
                },
            },
            {"name": "c2", "cluster": {"server": "http://localhost:8080"}},
        ],
        "users": [
            {"name": "u1", "user": {"token": "tok-1"}},
            {"name": "u2", "user": {"username": "alice", "password": "s3cret"}},
        ],
        "contexts": [
            {"name": "one", "context": {"cluster": "c1", "user": "u1", "namespace": "team-a"}},
            {"name": "two", "context": {"cluster": "c2", "user": "u2"}},
        ],
        "current-context": "one",
    }


def test_current_and_named_context(tmp_path: Path, pki: Any) -> None:
    path = write(tmp_path / "kc", two_contexts(pki))
    cfg = load_kubeconfig(path)
    assert cfg.server == "https://127.0.0.1:6443"
    assert cfg.namespace == "team-a"
    assert cfg.context == "one"
    assert cfg.auth_header() == "Bearer tok-1"
    assert isinstance(cfg.ssl, ssl.SSLContext)
    assert cfg.ssl.verify_mode == ssl.CERT_REQUIRED and cfg.ssl.check_hostname
    assert len(cfg.ssl.get_ca_certs()) == 1

    two = load_kubeconfig(path, context="two")
    assert two.server == "http://localhost:8080"
    assert two.auth_header() == "Basic " + b64(b"alice:s3cret")
    assert two.namespace is None


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c.update({"current-context": "nope"}), "context 'nope' not found in"),
        (lambda c: c.pop("current-context"), "no current-context set in"),
        (lambda c: c["contexts"][0]["context"].update(cluster="gone"), "cluster 'gone' not found in"),
        (lambda c: c["contexts"][0]["context"].update(user="nobody"), "user 'nobody' not found in"),
        (lambda c: c["clusters"][0]["cluster"].pop("server"), "cluster 'c1' in"),
        (
            lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": "!!"}),
            "not valid base64",
        ),
        (
            lambda c: c["users"][0]["user"].update({"exec": {"command": "x"}}),
            "exec credentials are not supported",
        ),
        (
            lambda c: c["clusters"][0]["cluster"].update({"certificate-authority": "missing.crt"}),
            "missing.crt",
        ),
    ],
)
def test_errors_name_what_is_missing(tmp_path: Path, pki: Any, mutate: Any, message: str) -> None:
    cfg = two_contexts(pki)
    if "certificate-authority" in message or "missing.crt" in message:
        del cfg["clusters"][0]["cluster"]["certificate-authority-data"]
    mutate(cfg)
    path = write(tmp_path / "kc", cfg)
    with pytest.raises(ConfigError) as ei:
        load_kubeconfig(path)
    assert message in str(ei.value)
    if "not found in" in message or "no current-context" in message:
        assert str(path) in str(ei.value)


def test_missing_named_context_message(tmp_path: Path, pki: Any) -> None:
    path = write(tmp_path / "kc", two_contexts(pki))
    with pytest.raises(ConfigError, match=rf"context 'x' not found in {path}"):
        load_kubeconfig(path, context="x")
    with pytest.raises(ConfigError, match="no kubeconfig found"):
        load_kubeconfig(tmp_path / "absent")


def test_files_resolve_relative_to_the_kubeconfig_and_client_cert_loads(tmp_path: Path, pki: Any) -> None:
    d = tmp_path / "conf"
    d.mkdir()
    (d / "ca.crt").write_bytes(pki.ca_pem)
    (d / "me.crt").write_bytes(pki.admin_cert.read_bytes())
    (d / "me.key").write_bytes(pki.admin_key.read_bytes())
    (d / "token").write_text("file-token\n")
    cfg = {
        "clusters": [{"name": "c", "cluster": {"server": "https://h:1", "certificate-authority": "ca.crt"}}],
        "users": [
            {
                "name": "u",
                "user": {"client-certificate": "me.crt", "client-key": "me.key", "tokenFile": "token"},
            }
        ],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    kc = load_kubeconfig(write(d / "kc.yaml", cfg))
    assert isinstance(kc.ssl, ssl.SSLContext) and len(kc.ssl.get_ca_certs()) == 1
    assert kc.token_file == d / "token"
    assert kc.auth_header() == "Bearer file-token"

    # A key without a certificate is an error that says so.
    del cfg["users"][0]["user"]["client-certificate"]
    with pytest.raises(ConfigError, match=r"client-certificate\(-data\) missing"):
        load_kubeconfig(write(d / "kc.yaml", cfg))
    # A key that does not match the certificate is refused at load time.
    cfg["users"][0]["user"]["client-certificate-data"] = b64(pki.admin_cert.read_bytes())
    cfg["users"][0]["user"]["client-key-data"] = b64(pki.server_key.read_bytes())
    del cfg["users"][0]["user"]["client-key"]
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_kubeconfig(write(d / "kc.yaml", cfg))


def test_token_file_is_reread_after_refresh_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tok = tmp_path / "token"
    tok.write_text("one")
    cfg = {
        "clusters": [{"name": "c", "cluster": {"server": "https://h:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"tokenFile": str(tok)}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    kc = load_kubeconfig(write(tmp_path / "kc", cfg))
    assert isinstance(kc.ssl, ssl.SSLContext) and kc.ssl.verify_mode == ssl.CERT_NONE
    assert kc.auth_header() == "Bearer one"
    tok.write_text("two")
    assert kc.auth_header() == "Bearer one"  # cached
    monkeypatch.setattr(config_mod, "TOKEN_REFRESH_SECONDS", 0.0)
    assert kc.auth_header() == "Bearer two"


def test_kubeconfig_env_merges_files_first_wins(
    tmp_path: Path, pki: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = two_contexts(pki)
    b = {
        "clusters": [{"name": "c1", "cluster": {"server": "https://other:1"}}],
        "users": [{"name": "u3", "user": {"token": "tok-3"}}],
        "contexts": [{"name": "three", "context": {"cluster": "c1", "user": "u3"}}],
        "current-context": "three",
    }
    pa, pb = write(tmp_path / "a", a), write(tmp_path / "b", b)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'nonexistent'}:{pa}:{pb}")
    cfg = load_kubeconfig()
    assert cfg.context == "one" and cfg.server == "https://127.0.0.1:6443"
    three = load_kubeconfig(context="three")
    assert three.server == "https://127.0.0.1:6443"  # cluster c1 from the first file wins
    assert three.auth_header() == "Bearer tok-3"


def test_in_cluster_config(tmp_path: Path, pki: Any) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST"):
        load_incluster_config(sa, env={})
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "8443"}
    with pytest.raises(ConfigError, match="token"):
        load_incluster_config(sa, env=env)
    (sa / "token").write_text("sa-token")
    (sa / "ca.crt").write_bytes(pki.ca_pem)
    (sa / "namespace").write_text("kube-system")
    cfg = load_incluster_config(sa, env=env)
    assert cfg.server == "https://[fd00::1]:8443"
    assert cfg.namespace == "kube-system"
    assert cfg.auth_header() == "Bearer sa-token"


def test_api_error_from_status_and_text() -> None:
    body = (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" already'
        b' exists","reason":"AlreadyExists","details":{"name":"x","kind":"pods","retryAfterSeconds":3},'
        b'"code":409}'
    )
    e = ApiError.from_response(409, body, method="POST", path="/api/v1/namespaces/d/pods")
    assert (e.status, e.reason, e.message) == (409, "AlreadyExists", 'pods "x" already exists')
    assert e.already_exists and not e.conflict and not e.not_found
    assert e.details["name"] == "x" and e.retry_after == 3.0
    assert e.body["kind"] == "Status"
    assert "POST /api/v1/namespaces/d/pods" in str(e)

    conflict = ApiError.from_status({"kind": "Status", "code": 409, "reason": "Conflict", "message": "m"})
    assert conflict.conflict and not conflict.already_exists
    gone = ApiError.from_status({"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})
    assert gone.gone and gone.status == 410
    assert ApiError.from_status({"reason": "Invalid", "code": 422}).invalid
    assert ApiError(403).forbidden and ApiError(401).unauthorized and ApiError(503).retriable

    text = ApiError.from_response(502, b"upstream broke\n")
    assert (text.status, text.reason, text.message, text.body) == (502, "Unknown", "upstream broke", {})
    assert ApiError.from_response(404, b"").reason == "NotFound"


def test_connection_failed_is_caught_as_apierror_oserror_and_aiohttp_error() -> None:
    e = ConnectionFailed("refused", method="GET", path="/api")
    assert isinstance(e, ApiError) and isinstance(e, OSError) and isinstance(e, aiohttp.ClientError)
    assert e.status == 0 and e.reason == "ConnectionFailed" and e.retriable
    assert "refused" in str(e)


def test_paths_and_selectors() -> None:
    assert resource_path("v1", "pods") == "/api/v1/pods"
    assert resource_path("v1", "pods", "ns") == "/api/v1/namespaces/ns/pods"
    assert (
        resource_path("apps/v1", "deployments", "ns", "d", "scale")
        == "/apis/apps/v1/namespaces/ns/deployments/d/scale"
    )
    assert (
        resource_path("rbac.authorization.k8s.io/v1", "clusterroles", None, "system:a b")
        == "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aa%20b"
    )
    assert resource_path("v1", "namespaces", None, "default") == "/api/v1/namespaces/default"
    assert resource_path("v1", "pods", "") == "/api/v1/pods"  # "" = cluster scope, like client-go
    with pytest.raises(ValueError):
        resource_path("v1", "pods", "ns", None, "status")
    assert selector_str({"app": "x", "tier": "db"}) == "app=x,tier=db"
    assert selector_str("a in (b)") == "a in (b)"
    assert selector_str({}) is None and selector_str("") is None
