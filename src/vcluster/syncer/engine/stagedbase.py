"""The three-way base while a reconcile's writes are under way.

A reconcile writes up to four times (virtual spec, virtual status, host spec, host status) and
only then stores the new base. If it stops in between (a write refused, a 409, the process
killed), the old base would make what the reconcile had already copied look like a change of the
side it was copied to: a host label copied to the virtual object would be pushed back over a
later host removal. So after each write the base is stored as far as the writes got: per base
path, `(new virtual, new host)` once both sides are written, `(old virtual base plus what the
virtual write took from the host, host as read)` once only the virtual side is, the old base
before that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vcluster.syncer.merge import diff_map, get_path, semantic_equal, set_path
from vcluster.syncer.result import SyncResult


def half_synced_base(
    vbase: Mapping[str, Any] | None,
    virtual: Mapping[str, Any],
    new_virtual: Mapping[str, Any] | None,
    paths: tuple[str, ...],
) -> dict[str, Any]:
    """The virtual side of the base once `virtual` became `new_virtual` and the host side is
    still as read (its base is then the host as read): the old base plus exactly what the write
    changed — the host's changes it took, key by key in maps (labels, annotations, data), whole
    otherwise. The virtual side's own changes still differ from this base, so they still go to
    the host; what came from the host no longer looks like a virtual change."""
    out: dict[str, Any] = {}
    for path in paths:
        old, before, after = get_path(vbase, path), get_path(virtual, path), get_path(new_virtual, path)
        if semantic_equal(before, after):
            value = old
        elif isinstance(before or {}, dict) and isinstance(after or {}, dict) and isinstance(old or {}, dict):
            value = dict(old or {})
            for k, v in diff_map(before, after).items():
                if v is None:
                    value.pop(k, None)
                else:
                    value[k] = v
        else:
            value = after
        if value is not None:
            set_path(out, path, value)
    return out


def _is_status(path: str) -> bool:
    return path == "status" or path.startswith("status.")


@dataclass
class WriteStages:
    """Which of a SyncResult's writes are done; `base()` is the base that matches them."""

    res: SyncResult
    virtual: Mapping[str, Any]
    host: Mapping[str, Any]
    vbase: Mapping[str, Any] | None
    hbase: Mapping[str, Any] | None
    paths: tuple[str, ...]
    # (side, status?) -> done; a write with nothing to write is done from the start
    done: dict[tuple[str, bool], bool] = field(init=False)

    def __post_init__(self) -> None:
        r = self.res
        self.done = {
            ("virtual", False): not r.virtual_patch,
            ("virtual", True): not r.virtual_status_patch,
            ("host", False): not r.host_patch,
            ("host", True): not r.host_status_patch,
        }

    def written(self, side: str, status: bool) -> None:
        self.done[(side, status)] = True

    def base(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(virtual base, host base) for the writes done so far."""
        half = half_synced_base(self.vbase, self.virtual, self.res.virtual, self.paths)
        vb: dict[str, Any] = {}
        hb: dict[str, Any] = {}
        for path in self.paths:
            status = _is_status(path)
            v_done, h_done = self.done[("virtual", status)], self.done[("host", status)]
            if v_done and h_done:
                v, h = get_path(self.res.virtual, path), get_path(self.res.host, path)
            elif v_done:
                v, h = get_path(half, path), get_path(self.host, path)
            else:
                v, h = get_path(self.vbase, path), get_path(self.hbase, path)
            if v is not None:
                set_path(vb, path, v)
            if h is not None:
                set_path(hb, path, h)
        return vb, hb
