"""What a translation or sync decision hands back to the engine: objects, patches and actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vcluster.syncer.mappings import Reference

Side = Literal["virtual", "host"]


@dataclass(frozen=True)
class Event:
    """An event the engine records on the virtual object."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Delete:
    """Delete one side's object (optionally with a grace period and a UID precondition)."""

    side: Side
    reason: str
    grace_seconds: int | None = None
    uid: str | None = None


@dataclass
class Translation:
    """A translated object plus the references it made and events to record."""

    obj: dict[str, Any]
    refs: list[Reference] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SyncResult:
    """Outcome of a sync of an existing pair: minimal merge patches (None = nothing to write) and actions."""

    virtual: dict[str, Any]
    host: dict[str, Any]
    virtual_patch: dict[str, Any] | None = None
    virtual_status_patch: dict[str, Any] | None = None
    host_patch: dict[str, Any] | None = None
    host_status_patch: dict[str, Any] | None = None
    deletes: list[Delete] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    refs: list[Reference] = field(default_factory=list)
    bind_node: str | None = None
    requeue_after: float | None = None
    recreate_virtual: bool = False
    # the virtual object may not reach the host now (a pod violating policies.podSecurityStandard):
    # nothing host-bound is to be done beyond what the patches say
    blocked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when anything has to be written or done."""
        return bool(
            self.virtual_patch
            or self.virtual_status_patch
            or self.host_patch
            or self.host_status_patch
            or self.deletes
            or self.bind_node
            or self.recreate_virtual
        )
