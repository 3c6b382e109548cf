"""ReplicationController controller (kube-controller-manager `replicationcontroller`).

As pkg/controller/replication does it: the ReplicaSet controller run on v1 ReplicationControllers
through a conversion layer. The differences are the kind and resource (owner references with
`apiVersion: v1, kind: ReplicationController`, status written to `replicationcontrollers/status`
as a ReplicationControllerStatus), the events' source component (`replication-controller`) and
the selector: an RC's `spec.selector` is a plain label map, which the conversion turns into a
LabelSelector with those `matchLabels`. An empty or missing map selects nothing (the RC lister's
GetPodControllers; validation rejects such an RC anyway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vcluster.controllers.replicaset import BURST_REPLICAS, ReplicaSetController

__all__ = ["BURST_REPLICAS", "ReplicationManager", "rc_selector"]


def rc_selector(rc: Mapping[str, Any]) -> dict[str, Any] | None:
    """Convert_Map_to_v1_LabelSelector of an RC's `spec.selector` (None, i.e. nothing, if empty)."""
    sel = (rc.get("spec") or {}).get("selector")
    if not isinstance(sel, Mapping) or not sel:
        return None
    return {"matchLabels": {str(k): str(v) for k, v in sel.items()}}


class ReplicationManager(ReplicaSetController):
    """pkg/controller/replication: ReplicaSetController over ReplicationControllers."""

    name = "replicationcontroller"
    component = "replication-controller"
    kind = "ReplicationController"
    api_version = "v1"
    plural = "replicationcontrollers"

    def selector_of(self, rs: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return rc_selector(rs)
