"""Service replication (`networking.replicateServices`, spec §5.4): which services are mirrored
where, and what the mirror looks like. The engine part (informers, writes) is
`vcluster.syncer.engine.servicesync`.

* fromHost: a host Service appears in the virtual cluster as a selector-less headless Service
  (label `vcluster.loft.sh/controlled-by: vcluster`, ports copied without nodePorts) plus
  Endpoints that point at the host ClusterIP, or at the host Service's own endpoints when it is
  headless.
* toHost: a virtual Service appears in the host namespace under the configured name, selecting
  the host pods of the virtual pods it selects (translated selector + marker + namespace labels),
  owned by the vCluster Service.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vcluster.syncer import constants as c
from vcluster.syncer.selectors import host_service_selector

CONTROLLED_BY_VALUE = "vcluster"
Direction = Literal["fromHost", "toHost"]


@dataclass(frozen=True)
class Replication:
    """One mirrored service: `source` on one side, `target` on the other, as (namespace, name)."""

    direction: Direction
    source: tuple[str, str]
    target: tuple[str, str]

    @property
    def key(self) -> str:
        return f"{self.direction}:{self.source[0]}/{self.source[1]}"


def replications(replicate: Any, host_namespace: str) -> list[Replication]:
    """The configured replications (`config.networking.replicate_services`); a fromHost source
    without a namespace is in the host namespace, a toHost target always is (vCluster's parseMapping)."""
    out: list[Replication] = []
    for m in replicate.from_host:
        src = m.from_ if "/" in m.from_ else f"{host_namespace}/{m.from_}"
        out.append(Replication("fromHost", _split(src), _split(m.to)))
    for m in replicate.to_host:
        out.append(Replication("toHost", _split(m.from_), (host_namespace, m.to)))
    return out


def _split(ref: str) -> tuple[str, str]:
    ns, _, name = ref.partition("/")
    return ns, name


def is_replica(obj: Mapping[str, Any] | None) -> bool:
    """Whether this object is a replica we made (label `controlled-by: vcluster`)."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(c.CONTROLLER_LABEL) == CONTROLLED_BY_VALUE


def _ports(source: Mapping[str, Any]) -> list[dict[str, Any]]:
    ports = copy.deepcopy((source.get("spec") or {}).get("ports") or [])
    for p in ports:
        p.pop("nodePort", None)
    return ports


def _headless(svc: Mapping[str, Any]) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


# ---------------------------------------------------------------- fromHost: virtual Service + Endpoints


def virtual_replica(source: Mapping[str, Any], target: tuple[str, str]) -> dict[str, Any]:
    """The virtual Service mirroring host Service `source`: headless, no selector."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": target[1],
            "namespace": target[0],
            "labels": {c.CONTROLLER_LABEL: CONTROLLED_BY_VALUE},
        },
        "spec": {"clusterIP": "None", "ports": _ports(source)},
    }


def virtual_replica_update(replica: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that brings the replica's ports in line with the source (None: in line)."""
    want = _ports(source)
    if ((replica.get("spec") or {}).get("ports") or []) == want:
        return None
    return {"spec": {"ports": want or None}}


def _endpoint_ports(ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in ports:
        ep: dict[str, Any] = {"port": p.get("port"), "protocol": p.get("protocol") or "TCP"}
        if p.get("name"):
            ep["name"] = p["name"]
        if p.get("appProtocol"):
            ep["appProtocol"] = p["appProtocol"]
        out.append(ep)
    return out


def replica_subsets(
    source: Mapping[str, Any], source_endpoints: Mapping[str, Any] | None, replica: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """The Endpoints subsets of a fromHost replica: the host ClusterIP with the replica's ports, or
    the host endpoints' own subsets for a headless source (None while those are not known)."""
    if _headless(source):
        if source_endpoints is None:
            return None
        return copy.deepcopy(source_endpoints.get("subsets") or [])
    ip = (source.get("spec") or {}).get("clusterIP") or ""
    if not ip:
        return None
    return [
        {"addresses": [{"ip": ip}], "ports": _endpoint_ports((replica.get("spec") or {}).get("ports") or [])}
    ]


def replica_endpoints(target: tuple[str, str], subsets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": target[1],
            "namespace": target[0],
            "labels": {c.CONTROLLER_LABEL: CONTROLLED_BY_VALUE},
        },
        "subsets": subsets,
    }


# ---------------------------------------------------------------- toHost: host Service


def host_replica(
    source: Mapping[str, Any], target: tuple[str, str], vcluster: str, owner_uid: str, set_owner: bool
) -> dict[str, Any]:
    """The host Service exposing virtual Service `source` in the host namespace."""
    md = source.get("metadata") or {}
    spec: dict[str, Any] = {"ports": _ports(source)}
    if _headless(source):
        spec["clusterIP"] = "None"
    selector = host_service_selector(
        (source.get("spec") or {}).get("selector"), vcluster, md.get("namespace", "")
    )
    if selector:
        spec["selector"] = selector
    meta: dict[str, Any] = {
        "name": target[1],
        "namespace": target[0],
        "labels": {c.CONTROLLER_LABEL: CONTROLLED_BY_VALUE},
    }
    if set_owner and owner_uid:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Service", "name": vcluster, "uid": owner_uid}
        ]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def host_replica_update(
    replica: Mapping[str, Any], source: Mapping[str, Any], vcluster: str
) -> dict[str, Any] | None:
    """The merge patch for the host replica's ports and selector (None: in line)."""
    spec = replica.get("spec") or {}
    want_ports = _ports(source)
    ns = (source.get("metadata") or {}).get("namespace", "")
    want_sel = host_service_selector((source.get("spec") or {}).get("selector"), vcluster, ns) or {}
    patch: dict[str, Any] = {}
    if (spec.get("ports") or []) != want_ports:
        patch["ports"] = want_ports or None
    have_sel = spec.get("selector") or {}
    if have_sel != want_sel:
        patch["selector"] = {**{k: None for k in have_sel if k not in want_sel}, **want_sel} or None
    return {"spec": patch} if patch else None


def owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    """Whether `obj` is owned by the vCluster Service with this UID."""
    return bool(owner_uid) and any(
        (r or {}).get("uid") == owner_uid for r in (obj.get("metadata") or {}).get("ownerReferences") or []
    )
