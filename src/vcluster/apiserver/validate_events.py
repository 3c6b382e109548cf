"""Create and update validation of Events, as kube-apiserver 1.32's
`pkg/apis/core/validation/events.go`: core/v1 writes get the legacy checks only, events.k8s.io/v1
writes the strict ones as well. Both run on the internal (core) shape, so an events.k8s.io/v1 object
is converted first and its errors name the internal fields (`involvedObject`, `message`, `count`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vcluster.apiserver.conversion import events_v1_to_core
from vcluster.apiserver.validate_common import (
    FIELD_IMMUTABLE,
    JSON,
    Cause,
    _d,
    _invalid,
    _required,
    _s,
    go_int,
    go_quote,
)
from vcluster.apiserver.validation import is_dns1123_subdomain, validate_qualified_name

_REPORTING_INSTANCE_LIMIT = 128
_ACTION_LIMIT = 128
_REASON_LIMIT = 128
_NOTE_LIMIT = 1024
_NS_MISMATCH = "does not match event.namespace"


def _set(v: Any) -> bool:
    """A timestamp that is not Go's zero time."""
    return isinstance(v, str) and bool(v) and not v.startswith("0001-01-01T00:00:00")


def _too_long(path: str, value: str, limit: int) -> list[Cause]:
    if len(value.encode()) > limit:
        return [_invalid(path, '""', f"can have at most {limit} characters")]
    return []


def _legacy_new_style(event: JSON, ns: str, involved_ns: str, controller_path: str) -> list[Cause]:
    """legacyValidateEvent for an event with eventTime: the reporting fields are required."""
    causes: list[Cause] = []
    if not involved_ns and ns not in ("default", "kube-system"):
        causes.append(_invalid("involvedObject.namespace", go_quote(involved_ns), _NS_MISMATCH))
    controller = _s(event.get("reportingComponent"))
    if not controller:
        causes.append(_required(controller_path))
    causes.extend(
        _invalid(controller_path, go_quote(controller), m) for m in validate_qualified_name(controller)
    )
    for key, path, limit in (
        ("reportingInstance", "reportingInstance", _REPORTING_INSTANCE_LIMIT),
        ("action", "action", _ACTION_LIMIT),
        ("reason", "reason", _REASON_LIMIT),
    ):
        value = _s(event.get(key))
        if not value:
            causes.append(_required(path))
        causes += _too_long(path, value, limit)
    return causes + _too_long("message", _s(event.get("message")), _NOTE_LIMIT)


def _legacy(event: JSON, core_request: bool) -> list[Cause]:
    """legacyValidateEvent: its errors name the reporting controller by the field name of the request's
    version (`reportingComponent` in core/v1, `reportingController` in events.k8s.io/v1)."""
    ns = _s(_d(event.get("metadata")).get("namespace"))
    involved_ns = _s(_d(event.get("involvedObject")).get("namespace"))
    causes: list[Cause] = []
    if _set(event.get("eventTime")):
        controller_path = "reportingComponent" if core_request else "reportingController"
        causes = _legacy_new_style(event, ns, involved_ns, controller_path)
    elif (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
        causes.append(_invalid("involvedObject.namespace", go_quote(involved_ns), _NS_MISMATCH))
    return causes + [_invalid("namespace", go_quote(ns), m) for m in is_dns1123_subdomain(ns)]


def _series(event: JSON) -> list[Cause]:
    """validateV1EventSeries."""
    series = event.get("series")
    if not isinstance(series, dict):
        return []
    causes: list[Cause] = []
    if go_int(series.get("count")) < 2:
        causes.append(_invalid("series.count", '""', "should be at least 2"))
    if not _set(series.get("lastObservedTime")):
        causes.append(_required("series.lastObservedTime"))
    return causes


def _strict_create(event: JSON) -> list[Cause]:
    """The events.k8s.io/v1 rules of ValidateEventCreate (after the metadata)."""
    causes = _series(event)
    if not _set(event.get("eventTime")):
        causes.append(_required("eventTime"))
    etype = _s(event.get("type"))
    if etype not in ("Normal", "Warning"):
        causes.append(_invalid("type", '""', f"has invalid value: {etype}"))
    for key in ("firstTimestamp", "lastTimestamp"):
        if _set(event.get(key)):
            causes.append(_invalid(key, '""', "needs to be unset"))
    if go_int(event.get("count")):
        causes.append(_invalid("count", '""', "needs to be unset"))
    source = _d(event.get("source"))
    if _s(source.get("component")) or _s(source.get("host")):
        causes.append(_invalid("source", '""', "needs to be unset"))
    return causes


def validate_core_event(obj: JSON) -> list[Cause]:
    """A core/v1 Event (create or update): the legacy rules only."""
    return _legacy(obj, core_request=True)


def validate_events_v1_event(obj: JSON) -> list[Cause]:
    """An events.k8s.io/v1 Event created: legacy and strict rules on the internal shape."""
    event = events_v1_to_core(obj)
    return _legacy(event, core_request=False) + _strict_create(event)


# ---------------------------------------------------------------------------- update
def _go_time(v: Any) -> str:
    """time.Time.String() of an RFC 3339 timestamp (what ErrorBody prints for metav1.Time)."""
    if not _set(v):
        return "0001-01-01 00:00:00 +0000 UTC"
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return go_quote(str(v))
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return t.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


def _go_object_reference(ref: Any) -> str:
    ref = _d(ref)
    fields = ("Kind", "Namespace", "Name", "UID", "APIVersion", "ResourceVersion", "FieldPath")
    keys = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    body = ", ".join(f"{f}:{go_quote(_s(ref.get(k)))}" for f, k in zip(fields, keys, strict=True))
    return "core.ObjectReference{" + body + "}"


def _go_source(v: Any) -> str:
    src = _d(v)
    component, host = go_quote(_s(src.get("component"))), go_quote(_s(src.get("host")))
    return f"core.EventSource{{Component:{component}, Host:{host}}}"


def _immutable_fields(new: JSON, old: JSON) -> list[Cause]:
    """The ValidateImmutableField calls of ValidateEventUpdate, in upstream's order (reason twice)."""
    checks: list[tuple[str, str, Any]] = [
        ("involvedObject", "involvedObject", _go_object_reference),
        ("reason", "reason", lambda v: go_quote(_s(v))),
        ("message", "message", lambda v: go_quote(_s(v))),
        ("source", "source", _go_source),
        ("firstTimestamp", "firstTimestamp", _go_time),
        ("lastTimestamp", "lastTimestamp", _go_time),
        ("count", "count", lambda v: str(go_int(v))),
        ("reason", "reason", lambda v: go_quote(_s(v))),
        ("type", "type", lambda v: go_quote(_s(v))),
        ("eventTime", "eventTime", _go_time),
        ("action", "action", lambda v: go_quote(_s(v))),
        ("related", "related", lambda v: _go_object_reference(v) if isinstance(v, dict) else "null"),
        ("reportingComponent", "reportingController", lambda v: go_quote(_s(v))),
        ("reportingInstance", "reportingInstance", lambda v: go_quote(_s(v))),
    ]  # fmt: skip
    causes: list[Cause] = []
    for key, path, render in checks:
        if render(new.get(key)) != render(old.get(key)):
            causes.append(_invalid(path, render(new.get(key)), FIELD_IMMUTABLE))
    return causes


def validate_events_v1_event_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateEventUpdate for events.k8s.io/v1: legacy rules, a changed series, fixed fields.
    Both objects are in the events.k8s.io/v1 shape."""
    nevent, oevent = events_v1_to_core(new), events_v1_to_core(old)
    causes = _legacy(nevent, core_request=False)
    if nevent.get("series") != oevent.get("series"):
        causes += _series(nevent)
    return causes + _immutable_fields(nevent, oevent)
