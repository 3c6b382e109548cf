"""Conversion between the version a resource is served in and the version it is stored in.

A `ResourceType` with a `conversion` is served in one version and stored in another: every object
read from storage goes through `to_version`, every object written through `to_storage`. Two uses:
events.k8s.io/v1 Events stored as core/v1 Events (below), and autoscaling/v1 HorizontalPodAutoscalers
stored as autoscaling/v2 (`hpaconversion.py`); multi-version custom resources have their own
(`customresources.CustomInfo`, the `None` strategy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vcluster.apiserver import govalues

Converter = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class VersionConversion:
    """The two directions between a served version and the storage version (whole objects)."""

    to_version: Converter
    to_storage: Converter


# core/v1 field -> events.k8s.io/v1 field (top level).
_RENAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "source": "deprecatedSource",
}
# events.k8s.io/v1 scalars tagged `omitempty`.
_V1_OMITEMPTY = (
    "reason",
    "note",
    "type",
    "action",
    "reportingController",
    "reportingInstance",
    "deprecatedCount",
)
_SAME = (
    "metadata",
    "eventTime",
    "series",
    "reason",
    "type",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
)


def core_to_events_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
    for k in _SAME:
        if k in obj:
            out[k] = obj[k]
    if "reportingComponent" in out:
        out["reportingController"] = out.pop("reportingComponent")
    for src, dst in _RENAMES.items():
        if src in obj:
            out[dst] = obj[src]
    series = out.get("series")
    if isinstance(series, dict) and "lastObservedTime" not in series and "lastObservedTime" in obj:
        series["lastObservedTime"] = obj["lastObservedTime"]
    # encoded as the events.k8s.io/v1 Go struct: these are `omitempty` there (core/v1's
    # reportingComponent/reportingInstance are not), its value fields are always written
    for k in _V1_OMITEMPTY:
        if k in out and not out[k]:
            del out[k]
    govalues.fill(out, "events.k8s.io", "v1", "Event")
    return out


def events_v1_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "v1"}
    for k in _SAME:
        if k in obj:
            out[k] = obj[k]
    if "reportingController" in obj:
        out["reportingComponent"] = obj["reportingController"]
    for src, dst in _RENAMES.items():
        if dst in obj:
            out[src] = obj[dst]
    if "involvedObject" not in out:
        out["involvedObject"] = {}
    return out


EVENTS_V1 = VersionConversion(core_to_events_v1, events_v1_to_core)
