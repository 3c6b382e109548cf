"""Spec §3.1 item 2 at a restart: a virtual pod whose host pod vanished while the syncer was down
is deleted with grace 0 when the pod had started (`status.startTime`), whatever its sync base
holds, and is created on the host again when it had not started and no saved base shows the host
pod was seen — a create record included, which proves only that the create was sent (the state
the chaos soak's "stayed in the virtual cluster" pods were left in). The states are built while
`vcluster start` is down: sync-base rows removed or replaced by a record in state.db, host pods
force-deleted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .syncer_harness import (
    HOST_NS,
    annotations,
    get_json,
    host_name,
    pod_manifest,
    pod_running,
    start_pair,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

NS = "restart17"
STARTED = ("started-record", "started-nothing")  # Running before the kill
PENDING = ("pending-record", "pending-nothing")  # unschedulable on the host: no startTime
UNSCHEDULABLE = "  nodeSelector:\n    no-such-label: anywhere\n"
DELETED_BECAUSE = "because pod is being deleted & there is no physical pod"


def _base_key(name: str) -> str:
    return f"/vcluster/syncbase/v1/pod/{NS}/{name}"


def _latest(db: Path, key: str) -> tuple[int, dict[str, Any]] | None:
    """(revision, value) of `key`'s latest live row in a state.db, None when it has none."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)
    try:
        row = con.execute(
            "SELECT id, deleted, value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1", (key,)
        ).fetchone()
    finally:
        con.close()
    if row is None or row[1]:
        return None
    return row[0], json.loads(row[2])


def _rows_after(db: Path, key: str, revision: int) -> list[tuple[int, dict[str, Any] | None]]:
    """(deleted, value) of every row of `key` written after `revision`."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)
    try:
        rows = con.execute(
            "SELECT deleted, value FROM kine WHERE name = ? AND id > ? ORDER BY id", (key, revision)
        ).fetchall()
    finally:
        con.close()
    return [(d, json.loads(v) if v else None) for d, v in rows]


def _max_revision(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)
    try:
        return int(con.execute("SELECT MAX(id) FROM kine").fetchone()[0])
    finally:
        con.close()


def _saved(db: Path, name: str) -> bool:
    """Whether pod `name` has a saved base (not only a create's record)."""
    got = _latest(db, _base_key(name))
    if got is None:
        return False
    doc = got[1]
    return (doc.get("ahead") or doc).get("host") is not None


def _leave_only_a_record(db: Path, name: str, uid: str) -> None:
    """Replace the pod's base by the record its host create left (as after a kill before the
    base's save: the state of the soak's failing pods)."""
    got = _latest(db, _base_key(name))
    assert got is not None, f"no base saved for {name}"
    doc = got[1].get("ahead") or got[1]
    record = {
        "virtual": None,
        "host": None,
        "created": {"uid": uid, "virtual": doc["virtual"], "host": doc["host"]},
    }
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM kine WHERE name = ?", (_base_key(name),))
        con.execute(
            "INSERT INTO kine (name, created, deleted, create_revision, prev_revision, lease, value, "
            "old_value) VALUES (?, 1, 0, 0, 0, 0, ?, NULL)",
            (_base_key(name), json.dumps(record).encode()),
        )


def _forget_base(db: Path, name: str) -> None:
    with sqlite3.connect(db) as con:
        assert con.execute("DELETE FROM kine WHERE name = ?", (_base_key(name),)).rowcount > 0


def test_host_pods_deleted_while_down_a_started_pod_goes_a_pod_never_started_is_created_again(
    tmp_path: Path,
) -> None:
    p = start_pair(tmp_path)
    vdb, hdb = p.vc.data_dir / "state.db", p.host.data_dir / "state.db"
    try:
        virtual_namespace(p.kv, NS)
        for name in STARTED:
            p.kv.create(pod_manifest(name, NS))
        for name in PENDING:
            p.kv.create(pod_manifest(name, NS, spec_extra=UNSCHEDULABLE))
        uids: dict[str, str] = {}
        for name in STARTED:
            v = wait_until(lambda n=name: pod_running(p.kv, n, NS), 30, what=f"{name} Running")
            assert v["status"].get("startTime")
            uids[name] = v["metadata"]["uid"]

        def unscheduled(name: str) -> dict[str, Any] | None:
            v = get_json(p.kv, "pod", name, "-n", NS)
            conds = (v or {}).get("status", {}).get("conditions") or []
            return v if any(c["type"] == "PodScheduled" and c["status"] == "False" for c in conds) else None

        for name in PENDING:
            v = wait_until(lambda n=name: unscheduled(n), 30, what=f"{name}'s host status copied")
            assert not v["status"].get("startTime")
            uids[name] = v["metadata"]["uid"]
        for name in STARTED + PENDING:
            wait_until(lambda n=name: _saved(vdb, n), 10, what=f"{name}'s base saved")

        p.vc.kill()
        _leave_only_a_record(vdb, "started-record", uids["started-record"])
        _leave_only_a_record(vdb, "pending-record", uids["pending-record"])
        _forget_base(vdb, "started-nothing")
        _forget_base(vdb, "pending-nothing")
        for name in STARTED + PENDING:
            p.kh(
                "delete",
                "pod",
                host_name(name, NS),
                "-n",
                HOST_NS,
                "--grace-period=0",
                "--force",
                "--wait=true",
            )
            assert get_json(p.kh, "pod", host_name(name, NS), "-n", HOST_NS) is None
        host_mark, virtual_mark = _max_revision(hdb), _max_revision(vdb)
        p.vc.start()

        # never started: created on the host again, the virtual pod kept
        for name in PENDING:
            h = wait_until(
                lambda n=name: get_json(p.kh, "pod", host_name(n, NS), "-n", HOST_NS),
                30,
                what=f"{name} created on the host again\n{p.logs()}",
            )
            assert annotations(h)["vcluster.loft.sh/object-uid"] == uids[name]
            v = get_json(p.kv, "pod", name, "-n", NS)
            assert v is not None and v["metadata"]["uid"] == uids[name]
            assert not v["metadata"].get("deletionTimestamp")
        # started: the virtual pod deleted at once (grace 0: no row with a deletionTimestamp
        # before it is gone), never created on the host again
        log = p.vc.log_path.read_text()
        for name in STARTED:
            wait_until(
                lambda n=name: get_json(p.kv, "pod", n, "-n", NS) is None,
                30,
                what=f"{name} deleted in the virtual cluster\n{p.logs()}",
            )
            rows = _rows_after(vdb, f"/registry/pods/{NS}/{name}", virtual_mark)
            assert rows and rows[-1][0] == 1, rows
            assert not any(v and v["metadata"].get("deletionTimestamp") for d, v in rows if not d), rows
            assert _rows_after(hdb, f"/registry/pods/{HOST_NS}/{host_name(name, NS)}", host_mark) == []
            log = p.vc.log_path.read_text()
            assert (
                f"Delete virtual pod {NS}/{name} (host {HOST_NS}/{host_name(name, NS)}), {DELETED_BECAUSE}"
                in log
            )
        for name in PENDING:
            assert f"Delete virtual pod {NS}/{name} " not in log
    finally:
        p.stop()
