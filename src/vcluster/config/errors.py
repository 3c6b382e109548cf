"""`ConfigError`: every problem of a configuration as `<key path>: <problem>`, one per line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError

from ._types import show
from .yamlbools import BOOL_WORDS

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")

# Keys vCluster itself removed; naming the release turns "unknown key" into something actionable.
REMOVED_KEYS: dict[str, str] = {
    "sync.toHost.volumeSnapshots": "removed in vCluster v0.36",
    "sync.toHost.volumeSnapshotContents": "removed in vCluster v0.36",
    "sync.fromHost.volumeSnapshotClasses": "removed in vCluster v0.36",
}


class ConfigIssue(NamedTuple):
    """One problem: the dotted key path (empty for file-level problems) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ValueError):
    """An invalid, unreadable or unparsable configuration; `str()` lists every issue on its own line."""

    def __init__(self, issues: Sequence[ConfigIssue] | str, source: str | None = None) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue("", issues)]
        self.issues: list[ConfigIssue] = list(issues)
        self.source = source
        super().__init__("\n".join(str(i) for i in self.issues))

    @property
    def paths(self) -> list[str]:
        """The key paths of all issues, in order."""
        return [i.path for i in self.issues]


def join_path(parts: Iterable[Any]) -> str:
    """`('sync', 'toHost', 'pods')` → `sync.toHost.pods`; odd keys as `["a.b"]`, indices as `[0]`."""
    out = ""
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        elif isinstance(p, str) and _PLAIN_KEY.fullmatch(p):
            out += f".{p}" if out else p
        else:
            out += f"[{show(p)}]"
    return out


def _message(err: dict[str, Any]) -> str:
    """A pydantic error as a sentence for a CLI user."""
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind in ("bool_type", "bool_parsing"):
        if isinstance(value, str) and value in BOOL_WORDS:
            return f"expected a boolean, got the string {show(value)} (write it without quotes)"
        return f"expected a boolean, got {show(value)}"
    if kind in ("string_type", "string_unicode"):
        if isinstance(value, bool):  # e.g. `pool: on`: YAML reads on/off, yes/no, y/n as booleans
            hint = "quote true/false, yes/no, on/off, y/n to keep them as strings"
            return f"expected a string, got {show(value)} ({hint})"
        return f"expected a string, got {show(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {show(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {show(value)}"
    if kind == "finite_number":
        return f"expected a finite number, got {show(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"expected a mapping, got {show(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {show(value)}"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        return f"must be {bounds[kind]} {limit}, got {show(value)}"
    return str(err.get("msg", kind))


def issues_from_validation(exc: ValidationError) -> list[ConfigIssue]:
    """Every pydantic error as a ConfigIssue with a vcluster.yaml key path."""
    out: list[ConfigIssue] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc = list(err.get("loc") or ())
        key_error = bool(loc) and loc[-1] == "[key]"
        if key_error:
            loc = loc[:-1]
        path = join_path(loc)
        if key_error:
            msg = f"keys must be strings, got {show(err.get('input'))}"
        elif not loc and err["type"] in ("model_type", "dict_type", "model_attributes_type"):
            msg = f"expected a mapping at the top level, got {show(err.get('input'))}"
        else:
            msg = _message(err)
            if err["type"] == "extra_forbidden" and path in REMOVED_KEYS:
                msg += f" ({REMOVED_KEYS[path]})"
        if (path, msg) not in seen:
            seen.add((path, msg))
            out.append(ConfigIssue(path, msg))
    return out
