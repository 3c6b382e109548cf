"""The user's kubeconfig ($KUBECONFIG or ~/.kube/config): read merged like kubectl, edit, write back."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

from vcluster.cli.ui import CliError
from vcluster.fsutil import write_atomic

_LISTS = {"clusters": "cluster", "users": "user", "contexts": "context"}
# File references that a self-contained copy embeds as *-data.
_FILE_KEYS = {
    "clusters": (("certificate-authority", "certificate-authority-data"),),
    "users": (("client-certificate", "client-certificate-data"), ("client-key", "client-key-data")),
}


def kubeconfig_paths() -> list[Path]:
    """$KUBECONFIG's files in order, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    files = [Path(os.path.expanduser(p)) for p in env.split(os.pathsep) if p]
    return files or [Path.home() / ".kube" / "config"]


def _broken(path: Path, problem: str) -> CliError:
    return CliError(
        f"kubeconfig {path} is broken: {problem}; fix or move that file (or point KUBECONFIG elsewhere) "
        "and run the command again"
    )


def _load_file(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise _broken(path, "it is a directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise _broken(path, f"cannot read it ({getattr(e, 'strerror', None) or e})") from None
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise _broken(path, f"invalid YAML{where} ({problem})") from None
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise _broken(path, "expected a mapping at the top level")
    for key, body_key in _LISTS.items():
        items = cfg.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise _broken(path, f"{key!r} must be a list")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
                raise _broken(path, f"{key}[{i}] must be a mapping with a name")
            if item.get(body_key) is not None and not isinstance(item[body_key], dict):
                raise _broken(path, f"{key}[{i}].{body_key} must be a mapping")
    cur = cfg.get("current-context")
    if cur is not None and not isinstance(cur, str):
        raise _broken(path, "current-context must be a string")
    return cfg


class UserKubeconfig:
    """The merged kubeconfig files; edits go to the file defining an entry, new ones to the default file."""

    def __init__(self, paths: list[Path] | None = None) -> None:
        self.paths = paths or kubeconfig_paths()
        self.files: dict[Path, dict[str, Any]] = {}
        for p in self.paths:
            if p in self.files:
                continue
            cfg = _load_file(p)
            if cfg is not None:
                self.files[p] = cfg
        self._dirty: set[Path] = set()
        cur = self.current_context
        if cur and self.context(cur) is None:
            where = self._current_file() or self.default_file
            raise CliError(
                f"kubeconfig {where}: current-context {cur!r} is not among its contexts; "
                "run `kubectl config use-context CONTEXT` with an existing context (or unset it) and retry"
            )

    @property
    def default_file(self) -> Path:
        """kubectl's destination for new entries: the first existing file, else the last one listed."""
        for p in self.paths:
            if p in self.files:
                return p
        return self.paths[-1]

    def _target(self) -> dict[str, Any]:
        p = self.default_file
        if p not in self.files:
            self.files[p] = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
        return self.files[p]

    def _current_file(self) -> Path | None:
        for p in self.paths:
            cfg = self.files.get(p)
            if cfg and cfg.get("current-context"):
                return p
        return None

    # ------------------------------------------------------------------ reading
    @property
    def current_context(self) -> str | None:
        p = self._current_file()
        return self.files[p]["current-context"] if p is not None else None

    def _find(self, kind: str, name: str) -> tuple[Path, dict[str, Any]] | None:
        for p in self.paths:
            for item in (self.files.get(p) or {}).get(kind) or []:
                if item.get("name") == name:
                    return p, item
        return None

    def _body(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self._find(kind, name)
        if found is None:
            return None
        return found[1].get(_LISTS[kind]) or {}

    def context(self, name: str) -> dict[str, Any] | None:
        return self._body("contexts", name)

    def cluster(self, name: str) -> dict[str, Any] | None:
        return self._body("clusters", name)

    def user(self, name: str) -> dict[str, Any] | None:
        return self._body("users", name)

    def context_names(self) -> list[str]:
        seen: list[str] = []
        for p in self.paths:
            for item in (self.files.get(p) or {}).get("contexts") or []:
                if item["name"] not in seen:
                    seen.append(item["name"])
        return seen

    # ------------------------------------------------------------------ editing
    def set_entry(self, kind: str, name: str, body: dict[str, Any]) -> None:
        """Add or replace the cluster/user/context `name` (kind: clusters|users|contexts)."""
        found = self._find(kind, name)
        if found is not None:
            path, item = found
            item[_LISTS[kind]] = body
        else:
            path = self.default_file
            cfg = self._target()
            items = cfg.get(kind)
            if not isinstance(items, list):
                items = cfg[kind] = []
            items.append({"name": name, _LISTS[kind]: body})
        self._dirty.add(path)

    def remove_entry(self, kind: str, name: str) -> bool:
        """Remove every entry `name` of `kind`; whether one existed."""
        removed = False
        for p, cfg in self.files.items():
            items = cfg.get(kind) or []
            keep = [i for i in items if i.get("name") != name]
            if len(keep) != len(items):
                cfg[kind] = keep
                self._dirty.add(p)
                removed = True
        return removed

    def set_current(self, name: str | None) -> None:
        """Make `name` the current context (None unsets it)."""
        path = self._current_file() or self.default_file
        if path not in self.files:
            self._target()
        cfg = self.files[path]
        if name:
            cfg["current-context"] = name
        else:
            cfg.pop("current-context", None)
        self._dirty.add(path)

    def save(self) -> None:
        for p in sorted(self._dirty):
            p.parent.mkdir(parents=True, exist_ok=True)
            data = yaml.safe_dump(self.files[p], sort_keys=False, default_flow_style=False)
            write_atomic(p, data.encode(), 0o600)
        self._dirty.clear()

    # ------------------------------------------------------------------ self-contained copies
    def flatten(self, context: str) -> dict[str, Any]:
        """A kubeconfig holding just `context` with file references embedded (for background processes)."""
        ctx = self.context(context)
        if ctx is None:
            raise CliError(f"kube context {context!r} does not exist; see `kubectl config get-contexts`")
        out: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": []}
        for kind, ref in (("clusters", ctx.get("cluster")), ("users", ctx.get("user"))):
            if not ref:
                continue
            found = self._find(kind, str(ref))
            if found is None:
                raise CliError(
                    f"kube context {context!r} refers to {_LISTS[kind]} {ref!r}, which is not defined; "
                    "fix the kubeconfig and retry"
                )
            path, item = found
            body = dict(item.get(_LISTS[kind]) or {})
            for file_key, data_key in _FILE_KEYS.get(kind, ()):
                if body.get(file_key) and not body.get(data_key):
                    f = Path(os.path.expanduser(str(body.pop(file_key))))
                    if not f.is_absolute():
                        f = path.parent / f
                    try:
                        body[data_key] = base64.b64encode(f.read_bytes()).decode()
                    except OSError as e:
                        raise CliError(
                            f"cannot read {file_key} {f} of kube context {context!r}: {e.strerror or e}"
                        ) from None
            if body.get("tokenFile"):
                tf = Path(os.path.expanduser(str(body["tokenFile"])))
                body["tokenFile"] = str(tf if tf.is_absolute() else path.parent / tf)
            out[kind].append({"name": str(ref), _LISTS[kind]: body})
        out["contexts"] = [{"name": context, "context": {k: v for k, v in ctx.items() if k != "namespace"}}]
        out["current-context"] = context
        return out


def write_private(path: Path, cfg: dict[str, Any]) -> None:
    """Write a kubeconfig with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, yaml.safe_dump(cfg, sort_keys=False).encode(), 0o600)
