"""A small subset of kubectl's JSONPath templates: `{.a.b}`, `{.a[0]}`, `{.a['k.x']}`, `{.a[*].b}`, text."""

from __future__ import annotations

import json
import re
from typing import Any

_FIELD = re.compile(r"\.([A-Za-z0-9_-]+)|\.?\[(\d+|\*)\]|\.?\['([^']*)'\]|\.?\[\"([^\"]*)\"\]|\.\*")


class JSONPathError(ValueError):
    """A template this subset does not understand (the message says where)."""


def _steps(expr: str) -> list[str | int | None]:
    """`.a[0]['b.c'][*]` → ['a', 0, 'b.c', None] (None = every element)."""
    expr = expr.strip()
    if expr.startswith("$"):
        expr = expr[1:]
    if expr in ("", "."):
        return []
    steps: list[str | int | None] = []
    pos = 0
    while pos < len(expr):
        m = _FIELD.match(expr, pos)
        if m is None:
            raise JSONPathError(f"unsupported JSONPath {expr!r} at {expr[pos:]!r}")
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(None if m.group(2) == "*" else int(m.group(2)))
        elif m.group(3) is not None:
            steps.append(m.group(3))
        elif m.group(4) is not None:
            steps.append(m.group(4))
        else:
            steps.append(None)
        pos = m.end()
    return steps


def _walk(values: list[Any], steps: list[str | int | None]) -> list[Any]:
    for step in steps:
        nxt: list[Any] = []
        for v in values:
            if step is None:
                if isinstance(v, dict):
                    nxt.extend(v.values())
                elif isinstance(v, list):
                    nxt.extend(v)
            elif isinstance(step, int):
                if isinstance(v, list) and step < len(v):
                    nxt.append(v[step])
            elif isinstance(v, dict) and step in v:
                nxt.append(v[step])
        values = nxt
    return values


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def render(template: str, data: Any) -> str:
    """Fill the `{...}` expressions of `template` from `data` (missing fields render empty, as kubectl
    does with --allow-missing-template-keys)."""
    out: list[str] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            out.append(template[pos:])
            break
        out.append(template[pos:start])
        end = template.find("}", start)
        if end < 0:
            raise JSONPathError(f"unclosed '{{' in JSONPath template {template!r}")
        values = _walk([data], _steps(template[start + 1 : end]))
        out.append(" ".join(_text(v) for v in values))
        pos = end + 1
    return "".join(out).replace("\\n", "\n").replace("\\t", "\t")
