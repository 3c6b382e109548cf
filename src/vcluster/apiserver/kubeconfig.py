"""Self-contained kubeconfig files (CA and client credentials embedded) for the virtual cluster."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from vcluster.fsutil import write_atomic


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def admin_kubeconfig(
    server: str,
    ca_pem: bytes,
    *,
    token: str | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    cluster: str = "vcluster",
    user: str = "admin",
    context: str = "vcluster",
    namespace: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig dict with one cluster, user and context, selected as current-context.

    Credentials: ``token`` and/or ``client_cert`` + ``client_key`` (file contents are embedded as
    ``client-certificate-data`` / ``client-key-data``). With none, the user entry is empty
    (anonymous access).
    """
    if (client_cert is None) != (client_key is None):
        raise ValueError("admin_kubeconfig: client_cert and client_key must be given together")
    auth: dict[str, Any] = {}
    if token is not None:
        if not token:
            raise ValueError("admin_kubeconfig: token must not be empty")
        auth["token"] = token
    if client_cert is not None and client_key is not None:
        auth["client-certificate-data"] = _b64(Path(client_cert).read_bytes())
        auth["client-key-data"] = _b64(Path(client_key).read_bytes())
    ctx: dict[str, Any] = {"cluster": cluster, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}
        ],
        "users": [{"name": user, "user": auth}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, cfg: dict[str, Any]) -> None:
    """Write ``cfg`` as YAML to ``path`` with mode 0600, atomically (temporary file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False).encode("utf-8")
    write_atomic(path, data, 0o600)


_LISTS = {"clusters": "cluster", "users": "user", "contexts": "context"}


def load_kubeconfig(path: Path) -> dict[str, Any]:
    """Read and shape-check a kubeconfig. Raises ValueError naming the file if it is broken.

    Checks: a YAML mapping; ``clusters``/``users``/``contexts`` (if present) are lists of mappings with a
    string ``name`` and a mapping body; ``current-context`` (if set) is a string naming a context.
    OSError (e.g. FileNotFoundError) propagates unchanged.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"kubeconfig {str(path)!r} is not valid YAML: {e}") from e
    if cfg is None:
        raise ValueError(f"kubeconfig {str(path)!r} is empty")
    if not isinstance(cfg, dict):
        raise ValueError(
            f"kubeconfig {str(path)!r}: expected a mapping at top level, got {type(cfg).__name__}"
        )
    names: dict[str, set[str]] = {}
    for key, body_key in _LISTS.items():
        items = cfg.get(key)
        if items is None:
            names[key] = set()
            continue
        if not isinstance(items, list):
            raise ValueError(f"kubeconfig {str(path)!r}: {key!r} must be a list, got {type(items).__name__}")
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise ValueError(
                    f"kubeconfig {str(path)!r}: {key}[{i}] must be a mapping with a non-empty 'name'"
                )
            body = item.get(body_key)
            if body is not None and not isinstance(body, dict):
                raise ValueError(f"kubeconfig {str(path)!r}: {key}[{i}].{body_key} must be a mapping")
            seen.add(item["name"])
        names[key] = seen
    current = cfg.get("current-context")
    if current not in (None, ""):
        if not isinstance(current, str):
            raise ValueError(f"kubeconfig {str(path)!r}: 'current-context' must be a string")
        if current not in names["contexts"]:
            raise ValueError(
                f"kubeconfig {str(path)!r}: current-context {current!r} is not among its contexts"
            )
    return cfg
