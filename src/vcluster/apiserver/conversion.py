"""Conversion between core/v1 Event (the storage version) and events.k8s.io/v1 Event."""

from __future__ import annotations

from typing import Any

# core/v1 field -> events.k8s.io/v1 field (top level).
_RENAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "source": "deprecatedSource",
}
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
