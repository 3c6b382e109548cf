"""``fieldPath`` of a validation rule: kube's ValidFieldPath (schema/cel/validation.go), a JSON
path of ``.field`` and ``['key']`` steps checked against the schema, normalized for field errors."""

from __future__ import annotations

import re
from typing import Any

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "'": "'", "\\": "\\"}


class FieldPathError(Exception):
    """The path is not valid for the schema; ``str()`` is kube's reason."""


def _tokens(path: str) -> list[str]:
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        c = path[i]
        if c == "'":
            j = i + 1
            while j < n and not (path[j] == "'" and path[j - 1] != "\\"):
                j += 1
            out.append(path[i : j + 1])
            i = j + 1
        elif c in ".[]":
            out.append(c)
            i += 1
        else:
            j = i
            while j < n and path[j] not in ".[]":
                j += 1
            out.append(path[i:j])
            i = j
    return out


def _unescape(s: str) -> str:
    def repl(m: re.Match[str]) -> str:
        out = _ESCAPES.get(m.group(0)[1])
        if out is None:
            raise FieldPathError(f"invalid string literal: invalid escape char {m.group(0)}")
        return out

    return re.sub(r"\\.", repl, s)


def valid_field_path(path: str, schema: dict[str, Any]) -> str:
    """The field.Path text of ``path`` relative to ``schema`` (``spec.replicas``, ``labels[app]``)."""
    rendered = ""
    node: dict[str, Any] | None = schema
    toks = _tokens(path)
    i = 0

    def step(name: str) -> None:
        nonlocal rendered, node
        assert node is not None
        props = node.get("properties")
        if isinstance(props, dict) and props:
            sub = props.get(name)
            if not isinstance(sub, dict):
                raise FieldPathError("does not refer to a valid field")
            rendered = f"{rendered}.{name}" if rendered else name
            node = sub
        elif isinstance(node.get("additionalProperties"), dict):
            rendered += f"[{name}]"
            node = node["additionalProperties"]
        else:
            raise FieldPathError("does not refer to a valid field")

    while i < len(toks):
        tok = toks[i]
        if tok == "[":
            i += 1
            if i >= len(toks):
                raise FieldPathError("unexpected end of JSON path")
            tok = toks[i]
            if len(tok) < 2 or tok[0] != "'" or tok[-1] != "'":
                raise FieldPathError(f"expected single quoted string but got {tok}")
            step(_unescape(tok[1:-1]))
            i += 1
            if i >= len(toks):
                raise FieldPathError("unexpected end of JSON path")
            if toks[i] != "]":
                raise FieldPathError(f"expected ] but got {toks[i]}")
        elif tok == ".":
            i += 1
            if i >= len(toks):
                raise FieldPathError("unexpected end of JSON path")
            step(toks[i])
        else:
            raise FieldPathError(f"expected [ or . but got: {tok}")
        i += 1
    return rendered
