"""API discovery: legacy (/api, /apis, /api/v1, /apis/<g>[/<v>]) and aggregated (apidiscovery v2)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from vcluster.apiserver.resources import Registry, ResourceType

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> str | None:
    """The aggregated discovery version the Accept header asks for first, if any."""
    if not accept:
        return None
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0] not in ("application/json", "*/*"):
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in ("v2", "v2beta1"):
                return params["v"]
        elif len(parts) == 1 or "as" not in params:
            return None  # plain JSON preferred before any aggregated form
    return None


@dataclass(frozen=True, slots=True)
class RemoteVersion:
    """A group version an aggregated API server serves: its resources as last discovered, and
    whether that discovery failed (aggregated discovery then marks it Stale, as kube does)."""

    group: str
    version: str
    types: tuple[ResourceType, ...] = ()
    stale: bool = False


class Discovery:
    """Renders discovery documents from the registry; cached until the registry changes."""

    def __init__(
        self,
        registry: Registry,
        server_address: str,
        extra: Callable[[], Iterable[ResourceType]] | None = None,
        remote: Callable[[], Iterable[RemoteVersion]] | None = None,
    ) -> None:
        """`extra`: the resources of the API services served beside the registry (apiservices.py),
        listed after every registry group; `remote`: the group versions of service-backed
        APIServices (aggregator.py), listed last; call `invalidate` when they change."""
        self.registry = registry
        self.server_address = server_address
        self._extra = extra or (lambda: ())
        self._remote = remote or (lambda: ())
        self._cache: dict[str, tuple[bytes, str]] = {}

    def _groups(self) -> dict[str, list[str]]:
        """group -> versions: the registry's, then the API services'."""
        out = self.registry.groups()
        for t in self._extra():
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        for r in self._remote():
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return out

    def _remote_version(self, group: str, version: str) -> RemoteVersion | None:
        return next((r for r in self._remote() if (r.group, r.version) == (group, version)), None)

    def _types(self, group: str, version: str) -> list[ResourceType]:
        extra = [t for t in self._extra() if t.group == group and t.version == version]
        remote = self._remote_version(group, version)
        return self.registry.in_group_version(group, version) + extra + list(remote.types if remote else ())

    def _is_extra(self, t: ResourceType) -> bool:
        return any(t is e for e in self._extra()) or any(t is e for r in self._remote() for e in r.types)

    def invalidate(self) -> None:
        self._cache.clear()

    def _cached(self, key: str, build: Any) -> tuple[bytes, str]:
        hit = self._cache.get(key)
        if hit is None:
            body = orjson.dumps(build())
            hit = (body, hashlib.sha256(body).hexdigest()[:32])
            self._cache[key] = hit
        return hit

    # ---- legacy
    def api_versions(self) -> tuple[bytes, str]:
        return self._cached(
            "api",
            lambda: {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}
                ],
            },
        )

    def _group(self, group: str, versions: list[str]) -> dict[str, Any]:
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def api_groups(self) -> tuple[bytes, str]:
        return self._cached(
            "apis",
            lambda: {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._group(g, vs) for g, vs in self._groups().items() if g],
            },
        )

    def api_group(self, group: str) -> tuple[bytes, str] | None:
        versions = self._groups().get(group)
        if not group or not versions:
            return None
        return self._cached(
            f"group/{group}", lambda: {"kind": "APIGroup", "apiVersion": "v1", **self._group(group, versions)}
        )

    def resource_list(self, group: str, version: str) -> tuple[bytes, str] | None:
        types = self._types(group, version)
        if not types:
            return None

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for t in sorted(types, key=lambda t: t.plural):
                resources.append(_legacy_resource(t, stored=not self._is_extra(t)))
                for s in t.subresources:
                    r: dict[str, Any] = {
                        "name": f"{t.plural}/{s.name}",
                        "singularName": "",
                        "namespaced": t.namespaced,
                        "kind": s.kind or t.kind,
                        "verbs": list(s.verbs),
                    }
                    if s.group is not None:
                        r["group"] = s.group
                        r["version"] = s.version
                    resources.append(r)
            gv = f"{group}/{version}" if group else version
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

        return self._cached(f"res/{group}/{version}", build)

    # ---- aggregated
    def aggregated(self, legacy_core: bool, version: str) -> tuple[bytes, str]:
        def build() -> dict[str, Any]:
            items = []
            for g, versions in self._groups().items():
                if (g == "") != legacy_core:
                    continue
                vlist = []
                for v in versions:
                    remote = self._remote_version(g, v)
                    stale = remote is not None and remote.stale
                    vlist.append(
                        {
                            "version": v,
                            "resources": [
                                _aggregated_resource(t)
                                for t in sorted(self._types(g, v), key=lambda t: t.plural)
                            ],
                            "freshness": "Stale" if stale else "Current",
                        }
                    )
                items.append({"metadata": {"name": g} if g else {}, "versions": vlist})
            return {
                "kind": "APIGroupDiscoveryList",
                "apiVersion": f"apidiscovery.k8s.io/{version}",
                "metadata": {},
                "items": items,
            }

        return self._cached(f"agg/{legacy_core}/{version}", build)


def _legacy_resource(t: ResourceType, stored: bool = True) -> dict[str, Any]:
    r: dict[str, Any] = {
        "name": t.plural,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": list(t.verbs),
    }
    if t.short_names:
        r["shortNames"] = list(t.short_names)
    if t.categories:
        r["categories"] = list(t.categories)
    if stored:  # an aggregated API's resources have none
        r["storageVersionHash"] = _storage_version_hash(t)
    return r


def _storage_version_hash(t: ResourceType) -> str:
    import base64

    group, version, kind = t.storage_gvk  # upstream hashes the storage version's group/version/kind
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _aggregated_resource(t: ResourceType) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resource": t.plural,
        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
        "scope": "Namespaced" if t.namespaced else "Cluster",
        "singularResource": t.singular,
        "verbs": list(t.verbs),
    }
    if t.short_names:
        r["shortNames"] = list(t.short_names)
    if t.categories:
        r["categories"] = list(t.categories)
    subs = []
    for s in t.subresources:
        subs.append(
            {
                "subresource": s.name,
                "responseKind": {
                    "group": s.group if s.group is not None else t.group,
                    "version": s.version or t.version,
                    "kind": s.kind or t.kind,
                },
                "verbs": list(s.verbs),
            }
        )
    if subs:
        r["subresources"] = subs
    return r
