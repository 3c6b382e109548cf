"""ConfigMaps and Secrets imported from host namespaces (`sync.fromHost.configMaps/secrets`, spec §4.2).

A host object matched by `mappings.byName` is copied into the virtual cluster under the mapped
namespace and name; the host wins on every field (virtual edits are overwritten) and the copy goes
when the host object goes or stops being mapped. The copy carries `vcluster.loft.sh/object-host-name`
and `-namespace` naming its source, so an import is recognised after a restart as well (vCluster
remembers it in memory only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vcluster.syncer import constants as c
from vcluster.syncer import generic, kinds, metadata
from vcluster.syncer.context import KUBE_ROOT_CA, SyncContext
from vcluster.syncer.kinds import Kind
from vcluster.syncer.merge import FieldDirections

# The host wins on every copied field; nothing flows back.
FIELDS: dict[Kind, FieldDirections] = {
    kinds.CONFIGMAP: FieldDirections(
        from_host=("data", "binaryData", "metadata.labels", "metadata.annotations"), both=()
    ),
    kinds.SECRET: FieldDirections(
        from_host=("type", "data", "metadata.labels", "metadata.annotations"), both=()
    ),
}

Ref = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True)
class ImportMap:
    """`mappings.byName` of one kind: host `ns/name` → virtual `ns/name` and the way back.

    Forms (vCluster's `matchesHostObject`, in this priority): `"hostNs/name": "vNs/vName"` (a
    `vNs/*` value keeps the name), `"hostNs/*": "vNs/*"`, `"/name": "vNs/vName"` (a name in the
    virtual cluster's own host namespace) and `"": "vNs"` or `"vNs/*"` (all of that namespace)."""

    by_name: Mapping[str, str]
    host_namespace: str

    def host_namespaces(self) -> set[str]:
        """The host namespaces whose objects can be imported (each needs a watch)."""
        out = set()
        for key in self.by_name:
            ns = key.partition("/")[0] if "/" in key else ""
            out.add(ns or self.host_namespace)
        return out

    def virtual_namespaces(self) -> set[str]:
        return {v.partition("/")[0] for v in self.by_name.values()}

    def target(self, hns: str, hname: str) -> Ref | None:
        """The virtual (namespace, name) a host object is imported as, or None."""
        m = self.by_name
        value = m.get(f"{hns}/{hname}")
        if value is not None:
            vns, slash, vname = value.partition("/")
            if slash and vname:
                return vns, hname if vname == "*" else vname
        value = m.get(f"{hns}/*")
        if value is not None and "/" in value:
            return value.partition("/")[0], hname
        if hns != self.host_namespace:
            return None
        value = m.get(f"/{hname}")
        if value is not None and "/" in value:
            vns, _, vname = value.partition("/")
            return vns, hname if vname in ("", "*") else vname
        value = m.get("")
        if value is not None:
            return value.partition("/")[0], hname
        return None

    def candidates(self, vns: str, vname: str) -> list[Ref]:
        """The host objects that would be imported as (vns, vname), the one to use first."""
        out: list[Ref] = []
        for key in sorted(self.by_name):
            hns, slash, hname = key.partition("/")
            if not slash:  # "": every object of the host namespace, by its own name
                ref = (self.host_namespace, vname)
            elif hname == "*":
                ref = (hns, vname)
            else:
                ref = (hns or self.host_namespace, hname)
            if ref not in out and self.target(*ref) == (vns, vname):
                out.append(ref)
        rank = {ref: _priority(self, ref) for ref in out}
        return sorted(out, key=lambda r: rank[r])


def _priority(m: ImportMap, ref: Ref) -> int:
    """Which rule of `target` matched (lower wins when two host objects claim one virtual name)."""
    hns, hname = ref
    if f"{hns}/{hname}" in m.by_name:
        return 0
    if f"{hns}/*" in m.by_name:
        return 1
    if f"/{hname}" in m.by_name:
        return 2
    return 3


def importable(host: Mapping[str, Any], kind: Kind) -> bool:
    """False for what is never imported: objects this or another virtual cluster synced to the
    host (the marker label) and the host's own `kube-root-ca.crt`."""
    if c.MARKER_LABEL in metadata.labels_of(host):
        return False
    return not (kind == kinds.CONFIGMAP and metadata.meta(host).get("name") == KUBE_ROOT_CA)


def imported_from(virtual: Mapping[str, Any]) -> Ref | None:
    """The host (namespace, name) a virtual object was imported from, if it was."""
    a = metadata.annotations_of(virtual)
    hname, hns = a.get(c.HOST_NAME_ANNOTATION), a.get(c.HOST_NAMESPACE_ANNOTATION)
    return (hns, hname) if hname and hns else None


def virtual_copy(host: Mapping[str, Any], kind: Kind, target: Ref, ctx: SyncContext) -> dict[str, Any]:
    """The virtual object for a host one: `VirtualMetadata`, the data, the source annotations."""
    hm = metadata.meta(host)
    out = generic.from_host_copy(host, ctx, target[1], target[0], keep_status=False)
    out.pop("immutable", None)  # the copy must stay updatable when the host object is replaced
    out.setdefault("apiVersion", kind.api_version)
    out.setdefault("kind", kind.kind)
    annotations = out["metadata"].setdefault("annotations", {})
    annotations[c.HOST_NAME_ANNOTATION] = hm.get("name", "")
    annotations[c.HOST_NAMESPACE_ANNOTATION] = hm.get("namespace", "")
    return out


def plan(
    virtual: Mapping[str, Any] | None, want: Mapping[str, Any] | None, kind: Kind
) -> tuple[str, dict[str, Any] | None]:
    """("create", obj) / ("patch", patch) / ("recreate", None) / ("delete", None) / ("", None).

    `want` None means no host object is imported under this name: the virtual object is deleted
    only when it is an import (a user's own object of that name is left alone)."""
    if want is None:
        return ("delete", None) if virtual is not None and imported_from(virtual) else ("", None)
    if virtual is None:
        return "create", dict(want)
    patch = generic.overwrite_patch(virtual, want)
    if not patch:
        return "", None
    type_differs = (virtual.get("type") or "Opaque") != (want.get("type") or "Opaque")
    if virtual.get("immutable") or (kind == kinds.SECRET and type_differs):
        return "recreate", None  # neither an immutable object nor a Secret's type can be changed
    return "patch", patch
