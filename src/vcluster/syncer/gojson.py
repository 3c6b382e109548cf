"""Byte-exact Go `encoding/json` output for the few values the syncer serialises into annotations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json_string(s: str) -> str:
    """json.Marshal of a Go string (HTML-safe escaping, raw UTF-8 otherwise)."""
    out = json.dumps(s, ensure_ascii=False)
    for raw, esc in _HTML.items():
        out = out.replace(raw, esc)
    return out


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return go_json_string(str(v))


def owner_references_json(refs: list[Mapping[str, Any]]) -> str:
    """json.Marshal([]metav1.OwnerReference): fixed field order, controller/blockOwnerDeletion omitempty."""
    items = []
    for r in refs:
        fields = [
            f'"apiVersion":{_value(r.get("apiVersion", ""))}',
            f'"kind":{_value(r.get("kind", ""))}',
            f'"name":{_value(r.get("name", ""))}',
            f'"uid":{_value(r.get("uid", ""))}',
        ]
        for key in ("controller", "blockOwnerDeletion"):
            if r.get(key) is not None:
                fields.append(f'"{key}":{_value(bool(r[key]))}')
        items.append("{" + ",".join(fields) + "}")
    return "[" + ",".join(items) + "]"
