"""Type guards for decoded JSON: a value of the expected type, else that type's empty value, so
code can walk user-supplied objects (`_d(obj.get("spec")).get("x")`) without checks at each step."""

from __future__ import annotations

from typing import Any


def as_dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def as_list(v: object) -> list[Any]:
    return v if isinstance(v, list) else []


def as_str(v: object) -> str:
    return v if isinstance(v, str) else ""
