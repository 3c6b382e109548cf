"""What the policy type check resolves through the API, as kube-controller-manager's TypeChecker:
kinds by discovery (the RESTMapper's KindsFor) and schemas from ``/openapi/v3`` (the
ClientDiscoveryResolver), one document per group version, cached for one sync."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from vcluster.apiserver.cel import lazy_module

if TYPE_CHECKING:
    from vcluster.client import Client

_typecheck = lazy_module("vcluster.apiserver.cel.typecheck")


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if group == "" else f"apis/{group}/{version}"


class SchemaResolver:
    """Discovery and OpenAPI documents fetched once per resolver."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._docs: dict[str, dict[str, Any] | None] = {}

    async def _get(self, path: str) -> dict[str, Any] | None:
        if path not in self._docs:
            status, _, body = await self.client.request("GET", path)
            doc = None
            if status == 200:
                try:
                    parsed = orjson.loads(body)
                except orjson.JSONDecodeError:
                    parsed = None
                doc = parsed if isinstance(parsed, dict) else None
            self._docs[path] = doc
        return self._docs[path]

    async def kinds_for(self, group: str, version: str, resource: str) -> list[str]:
        """KindsFor of a fully specified resource: its kind, or none when not served."""
        doc = await self._get("/" + _gv_path(group, version))
        for r in (doc or {}).get("resources") or ():
            if isinstance(r, dict) and r.get("name") == resource and isinstance(r.get("kind"), str):
                return [r["kind"]]
        return []

    async def schema(self, gvk: tuple[str, str, str]) -> dict[str, Any] | None:
        """ResolveSchema: the kind's schema with its refs populated, or None (not found)."""
        group, version, _ = gvk
        if not gvk[2]:
            return None
        doc = await self._get("/openapi/v3/" + _gv_path(group, version))
        if doc is None:
            return None
        found = _typecheck.find_schema(doc, gvk)
        return None if found is None else _typecheck.populate_refs(doc, found)

    async def resolve(self, spec: dict[str, Any]) -> Any:
        """The typecheck.Resolved of a policy spec."""
        kinds: dict[tuple[str, str, str], list[str]] = {}
        for gvr in _typecheck.resources_to_check(spec):
            if gvr not in kinds:
                kinds[gvr] = await self.kinds_for(*gvr)
        gvks = _typecheck.types_to_check(spec, lambda g, v, r: kinds.get((g, v, r), []))
        resolved = [(gvk, await self.schema(gvk)) for gvk in gvks]
        pgvk = _typecheck.params_gvk(spec)
        params = await self.schema(pgvk) if pgvk is not None else None
        return _typecheck.Resolved(resolved, params)
