"""Resource discovery for the namespace controller, the garbage collector and the quota controller.

`discover()` reads legacy discovery (/api, /apis, then one APIResourceList per preferred group
version, concurrently) like client-go's ServerPreferredResources and returns the top-level
resources (no subresources) with their kind, scope and verbs. Groups that fail are reported, not
fatal: callers work with what was found, as kube-controller-manager does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from vcluster.client import Client

log = logging.getLogger("vcluster.controllers.discovery")


@dataclass(frozen=True, slots=True)
class APIResource:
    """One served resource of a preferred group version."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`plural.group` (`pods` for core), the form of quota `count/` names."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def supports(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)

    def gvr(self) -> str:
        """schema.GroupVersionResource.String(): `apps/v1, Resource=deployments`."""
        return f"{self.group}/{self.version}, Resource={self.plural}"


@dataclass
class Discovered:
    """The result of one discovery pass."""

    resources: list[APIResource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # group version -> error text

    def error_text(self) -> str:
        """discovery.ErrGroupDiscoveryFailed.Error()."""
        parts = [f"{gv}: {err}" for gv, err in sorted(self.failed.items())]
        return "unable to retrieve the complete list of server APIs: " + ", ".join(parts)


class RESTMapper:
    """(apiVersion, kind) -> resource lookups over a discovery result."""

    def __init__(self, resources: Iterable[APIResource] = ()) -> None:
        self._by_gk: dict[tuple[str, str], APIResource] = {}
        self._by_gr: dict[tuple[str, str], APIResource] = {}
        self.reset(resources)

    def reset(self, resources: Iterable[APIResource]) -> None:
        by_gk: dict[tuple[str, str], APIResource] = {}
        by_gr: dict[tuple[str, str], APIResource] = {}
        for r in resources:
            by_gk.setdefault((r.group, r.kind), r)
            by_gr.setdefault((r.group, r.plural), r)
        self._by_gk, self._by_gr = by_gk, by_gr

    def for_kind(self, api_version: str, kind: str) -> APIResource | None:
        """The resource of `kind` in the group of `api_version` (any served version of it)."""
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        return self._by_gk.get((group, kind))

    def for_resource(self, group: str, plural: str) -> APIResource | None:
        return self._by_gr.get((group, plural))

    def all(self) -> list[APIResource]:
        return list(self._by_gk.values())


async def _get_json(client: Client, path: str) -> Any:
    status, _, body = await client.request("GET", path)
    if status != 200:
        raise RuntimeError(f"the server returned {status} for {path}")
    return orjson.loads(body)


def _parse_resource_list(group: str, version: str, doc: Any) -> list[APIResource]:
    out: list[APIResource] = []
    for r in doc.get("resources") or [] if isinstance(doc, dict) else []:
        if not isinstance(r, dict):
            continue
        name = r.get("name") or ""
        if not name or "/" in name:
            continue
        out.append(
            APIResource(
                group=group,
                version=version,
                plural=name,
                kind=r.get("kind") or "",
                namespaced=bool(r.get("namespaced")),
                verbs=frozenset(v for v in r.get("verbs") or [] if isinstance(v, str)),
            )
        )
    return out


async def discover(client: Client) -> Discovered:
    """Preferred-version resources of every group the server serves."""
    result = Discovered()
    gvs: list[tuple[str, str]] = []
    try:
        core = await _get_json(client, "/api")
        gvs.extend(("", v) for v in (core.get("versions") or [])[:1])
    except Exception as e:
        result.failed["v1"] = str(e)
    try:
        groups = await _get_json(client, "/apis")
        for g in groups.get("groups") or []:
            name = g.get("name") or ""
            pref = (g.get("preferredVersion") or {}).get("version")
            if not pref:
                versions = g.get("versions") or []
                pref = versions[0].get("version") if versions else None
            if name and pref:
                gvs.append((name, pref))
    except Exception as e:
        result.failed["apis"] = str(e)

    async def one(group: str, version: str) -> list[APIResource]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            return _parse_resource_list(group, version, await _get_json(client, path))
        except Exception as e:
            result.failed[f"{group}/{version}" if group else version] = str(e)
            return []

    for lst in await asyncio.gather(*(one(g, v) for g, v in gvs)):
        result.resources.extend(lst)
    if result.failed:
        log.info("discovery failed for some groups: %s", result.error_text())
    return result
