"""Response rendering: JSON bytes, lists assembled from stored bytes, Tables, metadata views."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import yaml
from aiohttp import web

from vcluster import memtrim
from vcluster.apiserver import printers
from vcluster.apiserver.errors import StatusError, bad_request
from vcluster.apiserver.request import Accept
from vcluster.apiserver.resources import ResourceType

JSON_CT = "application/json"


def respond(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None, accept: Accept | None = None
) -> web.Response:
    memtrim.released(len(body))
    if accept is not None and accept.yaml:
        body = yaml.safe_dump(orjson.loads(body), sort_keys=False).encode()
        return web.Response(body=body, status=status, content_type="application/yaml", headers=headers)
    return web.Response(body=body, status=status, content_type=JSON_CT, headers=headers)


def status_response(err: StatusError) -> web.Response:
    headers = dict(err.headers or {})
    if err.code == 429 and err.details and err.details.get("retryAfterSeconds"):
        headers["Retry-After"] = str(err.details["retryAfterSeconds"])
    return web.Response(body=err.body(), status=err.code, content_type=JSON_CT, headers=headers or None)


def success_status(name: str, group: str, kind: str, uid: str) -> bytes:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["uid"] = uid
    return orjson.dumps(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
    )


def list_bytes(
    rt: ResourceType, raws: list[bytes], rv: int, cont: str | None, remaining: int | None
) -> bytes:
    md: dict[str, Any] = {"resourceVersion": str(rv)}
    if cont:
        md["continue"] = cont
        if remaining is not None and remaining > 0:
            md["remainingItemCount"] = remaining
    head = (
        b'{"kind":"'
        + rt.list_kind.encode()
        + b'","apiVersion":"'
        + rt.api_version.encode()
        + b'","metadata":'
    )
    # One allocation for the whole body: a + b + c would copy the multi-megabyte items twice more.
    parts = [head, orjson.dumps(md), b',"items":[']
    for i, raw in enumerate(raws):
        if i:
            parts.append(b",")
        parts.append(raw)
    parts.append(b"]}")
    return b"".join(parts)


# ---------------------------------------------------------------------------- continue tokens
def encode_continue(rv: int, start_key_suffix: str) -> str:
    token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start_key_suffix + "\x00"})
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, key suffix to continue after)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        rv = int(data["rv"])
        start = str(data["start"])
        if data.get("v") != "meta.k8s.io/v1" or rv <= 0 or not start.endswith("\x00"):
            raise ValueError
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise bad_request(f"invalid continue token: {token[:80]}") from None
    if "/" in start[:-1] and start[:-1].count("/") > 1:
        raise bad_request("invalid continue token: continue key is not valid")
    return rv, start[:-1]


# ---------------------------------------------------------------------------- tables and metadata
def table_bytes(
    rt: ResourceType,
    objs: list[dict[str, Any]],
    include_object: str,
    list_meta: dict[str, Any],
    with_columns: bool = True,
) -> bytes:
    now = datetime.now(UTC)
    if rt.custom is not None:
        return orjson.dumps(custom_table(rt, objs, now, include_object, list_meta, with_columns))
    return orjson.dumps(
        printers.build_table(rt.group, rt.plural, objs, now, include_object, list_meta, with_columns)
    )


def custom_table(
    rt: ResourceType,
    objs: list[dict[str, Any]],
    now: datetime,
    include_object: str,
    list_meta: dict[str, Any],
    with_columns: bool,
) -> dict[str, Any]:
    """A Table of custom resources with the CRD version's additionalPrinterColumns."""
    info = rt.custom
    rows: list[dict[str, Any]] = []
    for obj in objs:
        row: dict[str, Any] = {"cells": info.row(obj, now)}
        if include_object == "Metadata":
            row["object"] = partial_metadata(obj)
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [dict(c) for c in info.columns] if with_columns else [],
        "rows": rows,
    }


def include_object_param(query: Any) -> str:
    v = query.get("includeObject", "Metadata") or "Metadata"
    if v not in ("Metadata", "Object", "None"):
        raise bad_request(
            f'includeObject: Unsupported value: "{v}": supported values: "None", "Metadata", "Object"'
        )
    return v


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def partial_metadata_list(objs: list[dict[str, Any]], list_meta: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "items": [partial_metadata(o) for o in objs],
        }
    )
