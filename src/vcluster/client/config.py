"""Connection settings from kubeconfig files or the in-cluster service account."""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REFRESH_SECONDS = 60.0  # client-go re-reads token files at most once a minute


class ConfigError(ValueError):
    """A kubeconfig (or in-cluster environment) that cannot be used; the message names what is wrong."""


@dataclass
class KubeConfig:
    """Everything needed to reach one API server: URL, TLS context, credentials."""

    server: str
    ssl: ssl.SSLContext | bool = True  # a context, True (system trust store) or False (no verification)
    token: str | None = None
    token_file: Path | None = None  # re-read every TOKEN_REFRESH_SECONDS (rotated SA tokens)
    username: str | None = None
    password: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra static headers
    namespace: str | None = None  # the context's default namespace
    tls_server_name: str | None = None
    ca_pem: bytes | None = None  # the cluster CA (PEM) when the kubeconfig names one
    context: str | None = None
    source: str = ""  # where this came from (file path or "in-cluster")
    _cached_token: str | None = field(default=None, repr=False)
    _token_read_at: float = field(default=0.0, repr=False)

    def auth_header(self) -> str | None:
        """The Authorization header value, re-reading a token file when it is due."""
        if self.token_file is not None:
            now = time.monotonic()
            if self._cached_token is None or now - self._token_read_at >= TOKEN_REFRESH_SECONDS:
                try:
                    self._cached_token = self.token_file.read_text().strip()
                    self._token_read_at = now
                except OSError:
                    if self._cached_token is None and self.token is None:
                        raise
            if self._cached_token:
                return f"Bearer {self._cached_token}"
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None:
            raw = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        return None


def _named(cfg: dict[str, Any], key: str, body_key: str, name: str, path: str) -> dict[str, Any]:
    kind = key[:-1]
    for item in cfg.get(key) or []:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(body_key)
            if body is None:
                return {}
            if not isinstance(body, dict):
                raise ConfigError(f"{kind} {name!r} in {path} must be a mapping")
            return body
    raise ConfigError(f"{kind} {name!r} not found in {path}")


def _b64(value: Any, what: str, path: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"{what} in {path} is not valid base64: {e}") from e


def _resolve(base: Path | None, value: Any) -> Path:
    p = Path(os.path.expanduser(str(value)))
    if not p.is_absolute() and base is not None:
        p = base / p
    return p


def _read(p: Path, what: str, path: str) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {what} {str(p)!r} (from {path}): {e.strerror or e}") from e


def _load_cert_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes, path: str) -> None:
    """Load an in-memory certificate + key (the ssl module only reads files: use a private temp dir)."""
    with tempfile.TemporaryDirectory(prefix="vcluster-cert-") as d:
        cf, kf = Path(d) / "tls.crt", Path(d) / "tls.key"
        for f, data in ((cf, cert_pem), (kf, key_pem)):
            fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        try:
            ctx.load_cert_chain(str(cf), str(kf))
        except (ssl.SSLError, OSError) as e:
            raise ConfigError(f"client certificate/key in {path} cannot be loaded: {e}") from e


def make_ssl_context(
    *,
    ca_pem: bytes | None = None,
    insecure: bool = False,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    source: str = "config",
) -> ssl.SSLContext:
    """A TLS client context: trust `ca_pem` (else the system store), optional client certificate."""
    if insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_pem is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_verify_locations(cadata=ca_pem.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as e:
            raise ConfigError(f"certificate authority in {source} cannot be loaded: {e}") from e
    else:
        ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if (cert_pem is None) != (key_pem is None):
        missing = "client-key(-data)" if key_pem is None else "client-certificate(-data)"
        raise ConfigError(f"{missing} missing in {source}: a client certificate needs both cert and key")
    if cert_pem is not None and key_pem is not None:
        _load_cert_chain(ctx, cert_pem, key_pem, source)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _merge(files: list[Path]) -> tuple[dict[str, Any], Path]:
    """Merge several kubeconfig files like kubectl: the first file defining a name or setting wins."""
    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    first: Path | None = None
    for p in files:
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as e:
            raise ConfigError(f"cannot read kubeconfig {str(p)!r}: {e.strerror or e}") from e
        try:
            cfg = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"kubeconfig {str(p)!r} is not valid YAML: {e}") from e
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, dict):
            raise ConfigError(f"kubeconfig {str(p)!r}: expected a mapping at top level")
        if first is None:
            first = p
        for key in ("clusters", "users", "contexts"):
            items = cfg.get(key) or []
            if not isinstance(items, list):
                raise ConfigError(f"kubeconfig {str(p)!r}: {key!r} must be a list")
            have = {i.get("name") for i in merged[key]}
            for item in items:
                if isinstance(item, dict) and item.get("name") not in have:
                    # Remember the defining file: relative paths resolve against it.
                    merged[key].append({**item, "_dir": p.parent})
        if not merged.get("current-context") and cfg.get("current-context"):
            merged["current-context"] = cfg["current-context"]
    if first is None:
        raise ConfigError("no kubeconfig found at " + os.pathsep.join(str(f) for f in files))
    return merged, first


def load_kubeconfig(path: str | os.PathLike[str] | None = None, context: str | None = None) -> KubeConfig:
    """Read a kubeconfig (`path`, else $KUBECONFIG, else ~/.kube/config, else in-cluster config).

    Supports certificate-authority(-data), insecure-skip-tls-verify, tls-server-name,
    client-certificate(-data)/client-key(-data), token/tokenFile and username/password.
    Raises ConfigError naming what is missing, e.g. ``context "x" not found in FILE``.
    """
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        files = [Path(os.path.expanduser(p)) for p in env.split(os.pathsep) if p]
        if not files:
            default = Path(os.path.expanduser("~/.kube/config"))
            if not default.exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
                return load_incluster_config()
            files = [default]
    else:
        files = [Path(os.fspath(path))]
    cfg, first = _merge(files)
    where = os.pathsep.join(str(f) for f in files)
    ctx_name = context or cfg.get("current-context")
    if not ctx_name:
        raise ConfigError(f"no context given and no current-context set in {where}")
    ctx = _named(cfg, "contexts", "context", ctx_name, where)
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise ConfigError(f"context {ctx_name!r} in {where} names no cluster")
    cluster = _named(cfg, "clusters", "cluster", cluster_name, where)
    user_name = ctx.get("user")
    user = _named(cfg, "users", "user", user_name, where) if user_name else {}
    cdir = next((c["_dir"] for c in cfg["clusters"] if c.get("name") == cluster_name), first.parent)
    udir = next((u["_dir"] for u in cfg["users"] if u.get("name") == user_name), first.parent)

    server = cluster.get("server")
    if not server:
        raise ConfigError(f"cluster {cluster_name!r} in {where} has no server")
    server = str(server).rstrip("/")
    for unsupported in ("exec", "auth-provider"):
        if user.get(unsupported):
            raise ConfigError(f"user {user_name!r} in {where}: {unsupported} credentials are not supported")

    ca_pem: bytes | None = None
    if cluster.get("certificate-authority-data"):
        ca_pem = _b64(cluster["certificate-authority-data"], "certificate-authority-data", where)
    elif cluster.get("certificate-authority"):
        ca_pem = _read(_resolve(cdir, cluster["certificate-authority"]), "certificate-authority", where)
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    if user.get("client-certificate-data"):
        cert_pem = _b64(user["client-certificate-data"], "client-certificate-data", where)
    elif user.get("client-certificate"):
        cert_pem = _read(_resolve(udir, user["client-certificate"]), "client-certificate", where)
    if user.get("client-key-data"):
        key_pem = _b64(user["client-key-data"], "client-key-data", where)
    elif user.get("client-key"):
        key_pem = _read(_resolve(udir, user["client-key"]), "client-key", where)

    ssl_ctx: ssl.SSLContext | bool = True
    if server.startswith("https://"):
        ssl_ctx = make_ssl_context(
            ca_pem=ca_pem,
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            cert_pem=cert_pem,
            key_pem=key_pem,
            source=f"user {user_name!r} / cluster {cluster_name!r} in {where}",
        )
    elif not server.startswith("http://"):
        raise ConfigError(f"cluster {cluster_name!r} in {where}: server {server!r} is not an http(s) URL")

    token_file = _resolve(udir, user["tokenFile"]) if user.get("tokenFile") else None
    if token_file is not None and not token_file.exists() and not user.get("token"):
        raise ConfigError(f"tokenFile {str(token_file)!r} of user {user_name!r} in {where} does not exist")
    headers: dict[str, str] = {}
    if user.get("as"):
        headers["Impersonate-User"] = str(user["as"])
    return KubeConfig(
        server=server,
        ssl=ssl_ctx,
        token=str(user["token"]) if user.get("token") else None,
        token_file=token_file,
        username=str(user["username"]) if user.get("username") is not None else None,
        password=str(user["password"]) if user.get("password") is not None else None,
        headers=headers,
        namespace=ctx.get("namespace") or None,
        tls_server_name=cluster.get("tls-server-name") or None,
        ca_pem=ca_pem,
        context=ctx_name,
        source=where,
    )


def load_incluster_config(sa_dir: Path | None = None, env: dict[str, str] | None = None) -> KubeConfig:
    """The pod's service-account config: KUBERNETES_SERVICE_HOST/PORT, ca.crt, a rotating token file."""
    env = dict(os.environ) if env is None else env
    sa_dir = SA_DIR if sa_dir is None else Path(sa_dir)
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
    token_file = sa_dir / "token"
    if not token_file.exists():
        raise ConfigError(f"in-cluster config: service account token {str(token_file)!r} does not exist")
    ca_pem = _read(sa_dir / "ca.crt", "in-cluster CA", str(sa_dir))
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    ns_file = sa_dir / "namespace"
    namespace = ns_file.read_text().strip() if ns_file.exists() else None
    return KubeConfig(
        server=f"https://{host}:{port}",
        ssl=make_ssl_context(ca_pem=ca_pem, source=str(sa_dir)),
        ca_pem=ca_pem,
        token_file=token_file,
        namespace=namespace or None,
        source="in-cluster",
    )
