"""Patch application. JSON merge patch (RFC 7386) here; JSON patch and strategic merge patch
arrive with schemas (issue 3)."""

from __future__ import annotations

from typing import Any

import orjson


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            out[k] = merge_patch(out.get(k), v)
        else:
            out[k] = v
    return out


def json_copy(v: Any) -> Any:
    """A deep copy of a JSON value (orjson round trip; a plain walk for what orjson refuses)."""
    if not isinstance(v, (dict, list)):
        return v
    try:
        return orjson.loads(orjson.dumps(v))
    except (TypeError, ValueError):
        return _walk_copy(v)


def _walk_copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _walk_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_walk_copy(x) for x in v]
    return v
