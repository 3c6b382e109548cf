"""CPU of a `vcluster host` process per pod it schedules and runs: N pods created by a client, the
host's CPU (/proc) read until all are Running and again once the process is quiet (the kubelet's
events written).

Per pod the host serves the create, the scheduler's binding, the kubelet's status patch (Running)
and five events (Scheduled, Pulling, Pulled, Created, Started); its simulated scheduler and
kubelet run in the same process, so the difference between two source trees (PYTHONPATH) at the
same API server is their cost. The pod is the host pod the syncer makes of a bare one
(bench/fixtures/hostsim_synced_pod.json, with its ServiceAccount and root-CA ConfigMap), or the
bare pod itself with --bare.

Usage:  .venv/bin/python bench/hostsim_cost.py [-n 600] [--bare] [--runs 1] [--cprofile FILE]
        (PYTHONPATH=OTHER/src to measure another tree)
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "syncer"))

from procs import cpu_seconds, wait_quiet

from vcluster.client import Client

NS = "test-namespace"
READY = re.compile(r"ready at (https://\S+); kubeconfig (\S+)")
PODS_PER_NODE = 100  # below a node's 110-pod capacity
SYNCED = Path(__file__).parent / "fixtures" / "hostsim_synced_pod.json"
BARE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"bench": "1"}},
    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx"}]},
}
# `python -c PROFILED FILE MODULE ARGS...`: run MODULE under cProfile timed by the main thread's CPU
# (the store's writer thread and idle waits left out), the stats written to FILE at exit
PROFILED = """
import cProfile, runpy, sys, time
out, sys.argv = sys.argv[1], sys.argv[2:]
prof = cProfile.Profile(time.thread_time)
try:
    prof.runcall(runpy.run_module, sys.argv[0], run_name="__main__", alter_sys=True)
finally:
    prof.dump_stats(out)
"""


def start_host(data: Path, nodes: int, cprofile: str | None) -> tuple[subprocess.Popen[bytes], str]:
    """`vcluster host` on a free port (under cProfile if asked); the process and its kubeconfig."""
    prefix = ["-c", PROFILED, cprofile] if cprofile else ["-m"]
    args = ["host", "--data-dir", str(data), "--port", "0", "--nodes", str(nodes), "--run-seconds", "3"]
    log = open(data.parent / "host.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen([sys.executable, *prefix, "vcluster", *args], stdout=subprocess.PIPE, stderr=log)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = READY.search(line.decode())
        if m:
            return proc, m.group(2)
    proc.kill()
    raise RuntimeError(f"vcluster host did not start; see {data.parent / 'host.log'}")


def stop_host(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def bounded(n: int, conc: int, fn: Callable[[int], Awaitable[Any]]) -> None:
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            await fn(i)

    await asyncio.gather(*(worker() for _ in range(conc)))


async def prepare(c: Client, pod: dict[str, Any]) -> None:
    """The namespace and what the pod needs (its ServiceAccount, the ConfigMaps it mounts)."""
    await c.create("v1", "namespaces", {"metadata": {"name": NS}})
    sa = pod["spec"].get("serviceAccountName", "default")
    if sa != "default":
        await c.create("v1", "serviceaccounts", {"metadata": {"name": sa}}, NS)
    for v in pod["spec"].get("volumes") or []:
        for src in (v.get("projected") or {}).get("sources") or []:
            if "configMap" in src:
                body = {"metadata": {"name": src["configMap"]["name"]}, "data": {"ca.crt": "x"}}
                await c.create("v1", "configmaps", body, NS)


async def run_once(n: int, conc: int, pod: dict[str, Any], cprofile: str | None) -> dict[str, float]:
    base = Path(tempfile.mkdtemp(prefix="bench-hostsim-"))
    proc, kubeconfig = start_host(base / "host", max(2, -(-n // PODS_PER_NODE)), cprofile)
    try:
        async with await Client.from_kubeconfig(kubeconfig, user_agent="hostsim-cost") as c:
            await prepare(c, pod)
            await asyncio.sleep(1.0)  # the namespace's default ServiceAccount, controllers settle
            await asyncio.to_thread(wait_quiet, proc.pid)
            rv = (await c.list("v1", "pods", NS))["metadata"]["resourceVersion"]
            running: set[str] = set()
            all_running = asyncio.Event()

            async def watch() -> None:
                async for etype, obj in c.watch("v1", "pods", NS, resource_version=rv):
                    if etype != "BOOKMARK" and (obj.get("status") or {}).get("phase") == "Running":
                        running.add(obj["metadata"]["name"])
                        if len(running) == n:
                            all_running.set()
                            return

            watcher = asyncio.create_task(watch())

            def named(i: int) -> dict[str, Any]:
                body = copy.deepcopy(pod)
                body["metadata"]["name"] = f"p{i}"
                return body

            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            await bounded(n, conc, lambda i: c.create("v1", "pods", named(i), NS))
            await asyncio.wait_for(all_running.wait(), 600)
            cpu_run, t_run = cpu_seconds(proc.pid), time.monotonic()
            await watcher
            await asyncio.to_thread(wait_quiet, proc.pid, below=0.03)
            cpu_quiet = cpu_seconds(proc.pid)
            events = len((await c.list("v1", "events", NS))["items"])
    finally:
        stop_host(proc)
        shutil.rmtree(base, ignore_errors=True)
    return {
        "running_ms": (cpu_run - cpu0) / n * 1000,
        "quiet_ms": (cpu_quiet - cpu0) / n * 1000,
        "wall_s": t_run - t0,
        "events_per_pod": events / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=600, help="pods per run")
    ap.add_argument("-c", "--concurrency", type=int, default=20, help="parallel creates")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--bare", action="store_true", help="a bare pod instead of the synced host pod")
    ap.add_argument("--cprofile", metavar="FILE", help="run the host under cProfile into FILE")
    args = ap.parse_args()
    pod = BARE if args.bare else json.loads(SYNCED.read_text())
    tree = os.environ.get("PYTHONPATH") or "this tree"
    for i in range(args.runs):
        r = asyncio.run(run_once(args.n, args.concurrency, pod, args.cprofile))
        print(
            f"[{tree}] run {i + 1}: {args.n} {'bare' if args.bare else 'synced'} pods: host CPU "
            f"{r['running_ms']:.2f} ms/pod until Running ({r['wall_s']:.1f} s), "
            f"{r['quiet_ms']:.2f} ms/pod until quiet; {r['events_per_pod']:.2f} events/pod",
            flush=True,
        )


if __name__ == "__main__":
    main()
