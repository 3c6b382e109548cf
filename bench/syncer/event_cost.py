"""CPU per copied host event: the vcluster process's cost of bringing one host Event about a synced
pod into the virtual cluster (host watch, EventController, virtual create, store), and the host's
cost of the create, measured from /proc around N host-side creates.

Why: after a burst is Running, its pods' kubelet events are most of what the vcluster process
still does ("until quiet" in bench_syncer.py); this isolates that per-event cost.

Usage:  .venv/bin/python bench/syncer/event_cost.py [N] [--profile FILE --py-spy PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from procs import cpu_seconds, start_profiler, started_pair, stop_profiler, wait_quiet

from vcluster.client import ApiError, Client

HOST_NS = "test-namespace"
POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx"}]},
}


def event(i: int, ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"bench-{i}", "namespace": HOST_NS},
        "involvedObject": ref,
        "reason": "Benchmark",
        "message": f"event number {i}",
        "type": "Normal",
        "source": {"component": "bench"},
        "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }


async def running_host_pod(h: Client) -> dict[str, Any]:
    for _ in range(200):
        items = (await h.list("v1", "pods", HOST_NS, label_selector="vcluster.loft.sh/managed-by"))["items"]
        if items and (items[0].get("status") or {}).get("phase") == "Running":
            return items[0]
        await asyncio.sleep(0.1)
    raise RuntimeError("the synced pod did not run on the host")


async def copied(v: Client, names: list[str]) -> bool:
    """Whether every one of these events is in the virtual `default` namespace."""
    for name in names:
        try:
            await v.get("v1", "events", name, "default")
        except ApiError as e:
            if e.not_found:
                return False
            raise
    return True


async def virtual_events(v: Client) -> int:
    return len((await v.list("v1", "events", "default"))["items"])


async def main(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-events-"))
    async with started_pair(base, host_ns=HOST_NS) as (host, vc, v, h):
        await v.create("v1", "pods", POD, "default")
        hp = await running_host_pod(h)
        wait_quiet(vc.pid)
        before = await virtual_events(v)
        md = hp["metadata"]
        ref = {"kind": "Pod", "namespace": HOST_NS, "name": md["name"], "uid": md["uid"], "apiVersion": "v1"}
        prof = start_profiler(args.py_spy, vc.pid, Path(args.profile)) if args.profile else None
        c0, h0, t0 = cpu_seconds(vc.pid), cpu_seconds(host.pid), time.monotonic()
        sem = asyncio.Semaphore(args.concurrency)

        async def one(i: int) -> None:
            async with sem:
                await h.create("v1", "events", event(i, ref), HOST_NS)

        await asyncio.gather(*(one(i) for i in range(args.n)))
        # the copies keep the host names: wait for the last few created (cheap GETs; listing every
        # event while waiting would itself cost the vcluster process), then check all, unmeasured
        last = [f"bench-{i}" for i in range(max(0, args.n - args.concurrency), args.n)]
        while not await copied(v, last):
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - t0
        wait_quiet(vc.pid)
        c1, h1 = cpu_seconds(vc.pid), cpu_seconds(host.pid)
        if prof is not None:
            stop_profiler(prof)
        for _ in range(100):
            if await virtual_events(v) >= before + args.n:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("not every host event reached the virtual cluster")
    n = args.n
    print(f"{n} host events copied into the virtual cluster in {elapsed:.1f} s ({n / elapsed:.0f}/s)")
    print(f"vcluster process CPU per copied event: {(c1 - c0) / n * 1000:.3f} ms")
    print(f"host process CPU per event (create, watches): {(h1 - h0) / n * 1000:.3f} ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--profile", metavar="FILE", help="py-spy the vcluster process into FILE (speedscope)")
    ap.add_argument("--py-spy", default="py-spy")
    asyncio.run(main(ap.parse_args()))
