"""In-process cost of the vcluster process's per-pod merge work, on a real synced pod's states.

The states are taken once from a real `vcluster host` + `vcluster start` pair (the bench's bare pod,
created in the virtual cluster, watched on both sides until Running) and cached in a JSON file;
then each step is timed with `timeit` (best of `--repeat`, µs per call):

- `sync_pod` of the status copy (virtual pod Pending, host pod Running, bases from the create) and
  of a resync with nothing to do (both Running, bases up to date), `create_merge_patch` and
  `apply_directions` within them;
- the base's projection and comparison (`BaseStore.put`'s `project` + `semantic_equal`);
- `govalues.fill` of the virtual pod as the API server stores it (on a fresh decoding; the decoding
  alone is subtracted).

Usage (repository root):  .venv/bin/python bench/syncer/merge_cost.py [--states FILE] [--capture]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))

from bench_syncer import pod

from vcluster.apiserver import govalues
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine.basestore import project
from vcluster.syncer.merge import apply_directions, create_merge_patch, semantic_equal, visible_annotations
from vcluster.syncer.resources import pod as podres

VC, HNS = "my-vcluster", "test-namespace"
DEFAULT_STATES = Path(tempfile.gettempdir()) / "vcluster-merge-cost-states.json"


async def capture(path: Path) -> None:
    """Watch one bare pod through its sync until both sides are Running; save every state seen."""
    from procs import started_pair

    base = Path(tempfile.mkdtemp(prefix="bench-mergecost-"))
    async with started_pair(base, name=VC, host_ns=HNS) as (_, _, v, h):
        await v.create("v1", "pods", pod("p", "default"), "default")
        vstates: list[dict[str, Any]] = []
        hstates: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            vp = await v.get("v1", "pods", "p", "default")
            got = (await h.list("v1", "pods", HNS))["items"]
            if not vstates or vstates[-1] != vp:
                vstates.append(vp)
            if got and (not hstates or hstates[-1] != got[0]):
                hstates.append(got[0])
            if (vp.get("status") or {}).get("phase") == "Running" and len(vstates) > 1:
                await asyncio.sleep(1.0)  # the events and the last status copy
                vstates.append(await v.get("v1", "pods", "p", "default"))
                hstates.append((await h.list("v1", "pods", HNS))["items"][0])
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("the pod did not reach Running")
    path.write_bytes(orjson.dumps({"virtual": vstates, "host": hstates}))
    print(f"captured {len(vstates)} virtual and {len(hstates)} host states into {path}")


def best_us(fn: Any, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def bases(v: dict[str, Any], h: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The base BaseStore keeps for a pair (the both-ways paths, the visible annotations)."""
    paths = podres.FIELDS.paths()["both"]
    return project(v, paths, _keep), project(h, paths, _keep)


def _keep(m: Any) -> dict[str, str]:
    f = podres.FIELDS
    return visible_annotations(m, f.excluded_annotations, f.excluded_annotation_prefixes)


def run(states: dict[str, list[dict[str, Any]]], number: int, repeat: int) -> None:
    ctx = SyncContext(vcluster=VC, host_namespace=HNS)
    vs, hs = states["virtual"], states["host"]
    # the last virtual state before the Running status came back, and the host pod as it is then
    v_pending = [x for x in vs if (x.get("status") or {}).get("phase") != "Running"][-1]
    h_first, h_running = hs[0], hs[-1]
    v_running = vs[-1]
    vb0, hb0 = bases(v_pending, h_first)
    vb1, hb1 = bases(v_running, h_running)
    paths = podres.FIELDS.paths()["both"]
    res = podres.sync_pod(v_pending, h_running, vb0, hb0, ctx)
    rows: list[tuple[str, float]] = []

    def add(name: str, fn: Any) -> None:
        rows.append((name, best_us(fn, number, repeat)))

    add(
        "sync_pod: status copy (Pending <- Running)",
        lambda: podres.sync_pod(v_pending, h_running, vb0, hb0, ctx),
    )
    add("sync_pod: resync, nothing to do", lambda: podres.sync_pod(v_running, h_running, vb1, hb1, ctx))
    add(
        "  apply_directions: status copy",
        lambda: apply_directions(v_pending, h_running, vb0, hb0, podres.FIELDS, ctx),
    )
    add("  create_merge_patch: virtual -> with status", lambda: create_merge_patch(v_pending, res.virtual))
    add("  create_merge_patch: host, unchanged", lambda: create_merge_patch(h_running, res.host))
    add("base: project both sides", lambda: bases(res.virtual, res.host))
    old = orjson.loads(orjson.dumps({"virtual": vb0, "host": hb0}))
    new = {"virtual": project(res.virtual, paths, _keep), "host": project(res.host, paths, _keep)}
    same = orjson.loads(orjson.dumps(new))
    add("base: semantic_equal(old, new), changed", lambda: semantic_equal(old, new))
    add("base: semantic_equal(old, new), same", lambda: semantic_equal(same, new))
    raw = orjson.dumps({k: v for k, v in v_running.items()})
    loads = best_us(lambda: orjson.loads(raw), number, repeat)
    fill = best_us(lambda: govalues.fill(orjson.loads(raw), "", "v1", "Pod"), number, repeat)
    rows.append(("govalues.fill: the Running virtual pod", fill - loads))
    width = max(len(n) for n, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.1f} µs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--states", type=Path, default=DEFAULT_STATES, help="cached pod states (JSON)")
    ap.add_argument("--capture", action="store_true", help="take the states again from a live pair")
    ap.add_argument("--number", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    if args.capture or not args.states.exists():
        asyncio.run(capture(args.states))
    run(orjson.loads(args.states.read_bytes()), args.number, args.repeat)


if __name__ == "__main__":
    main()
