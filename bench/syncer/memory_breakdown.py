"""Where the vcluster process's memory goes with N synced pods: runs `vcluster start`'s control
plane in this process (against a `vcluster host` subprocess), creates N bare pods in the virtual
cluster, waits until they are Running and the process is quiet, then walks the main structures
(store, informers, syncer controllers) and prints the bytes of Python objects each one holds,
every object counted once, in the order listed (a structure shared by two parts counts for the
first). RSS includes the interpreter, the schemas and the allocator's slack, which no structure owns.

Usage:  .venv/bin/python bench/syncer/memory_breakdown.py [N]     (default 2000)
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from procs import host_proc, rss_mb

from vcluster.apiserver.server import ServerConfig
from vcluster.client import Client
from vcluster.config import load_config
from vcluster.controlplane import ControlPlane, ControlPlaneConfig, SyncerSpec

CONFIG = "experimental:\n  engine:\n    hostQPS: 5000\n    hostBurst: 10000\n"


def deep_size(root: Any, seen: set[int]) -> int:
    """Bytes of the objects reachable from root through containers and vcluster objects' fields
    (not already in `seen`, which it extends)."""
    total, stack = 0, [root]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        try:
            total += sys.getsizeof(x)
        except TypeError:
            continue
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list | tuple | set | frozenset | deque):
            stack.extend(x)
        elif isinstance(x, str | bytes | int | float | bool) or x is None or isinstance(x, type):
            continue
        elif type(x).__module__.startswith(("vcluster", "sortedcontainers")):
            for slot in getattr(type(x), "__slots__", ()):
                if hasattr(x, slot):
                    stack.append(getattr(x, slot))
            if hasattr(x, "__dict__"):
                stack.append(x.__dict__)
    return total


async def main(n: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="vc-mem-"))
    host = host_proc(base, nodes=n // 100 + 2).start()
    try:
        server = ServerConfig(data_dir=base / "vc", bind="127.0.0.1", port=0, allocate_service_ips=False)
        spec = SyncerSpec(
            name="my-vcluster", host_kubeconfig=str(host.kubeconfig), host_namespace="test-namespace",
            config=load_config(CONFIG),
        )  # fmt: skip
        cp = ControlPlane(ControlPlaneConfig(server, syncer=spec))
        await cp.start()
        c = await Client.from_kubeconfig(str(cp.server.kubeconfig_path), user_agent="memory-breakdown")
        await c.create("v1", "namespaces", {"metadata": {"name": "mem"}})
        sem = asyncio.Semaphore(50)
        pod_spec = {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx"}]}

        async def create(i: int) -> None:
            async with sem:
                body = {"metadata": {"name": f"m-{i}", "labels": {"bench": "1"}}, "spec": pod_spec}
                await c.create("v1", "pods", body, namespace="mem")

        await asyncio.gather(*(create(i) for i in range(n)))
        while True:
            pods = (await c.list("v1", "pods", "mem"))["items"]
            running = sum(1 for p in pods if p["status"].get("phase") == "Running")
            if running >= n:
                break
            await asyncio.sleep(1)
        del pods
        await asyncio.sleep(20)  # the events and their copies
        gc.collect()
        rss = rss_mb(os.getpid())
        sy, st = cp.syncer, cp.server.store
        seen: set[int] = {id(sy), id(cp), id(cp.server), id(st)}
        parts: dict[str, int] = {
            "store: event ring": deep_size(st._ring, seen),
            "store: live objects": deep_size(st._live, seen),
        }
        for side, infs in (("virtual", sy.virtual_informers), ("host", sy.host_informers)):
            for inf in infs.informers():
                parts[f"informer {side} {inf.name}" + (" (compact)" if inf.compact else "")] = deep_size(
                    inf.__dict__, seen
                )
        ctls = {**sy.controllers, **sy.extra}
        seen.update(id(x) for x in ctls.values())
        for kind, ctl in ctls.items():
            for attr, value in ctl.__dict__.items():
                parts[f"syncer {kind}.{attr}"] = deep_size(value, seen)
        for attr, value in sy.__dict__.items():
            parts[f"syncer.{attr}"] = deep_size(value, seen)
        parts["controllers"] = deep_size(cp.controllers.__dict__, seen) if cp.controllers else 0
        parts["store: the rest"] = deep_size(st.__dict__, seen)
        print(f"{n} synced pods; RSS {rss:.0f} MB")
        for name, size in sorted(parts.items(), key=lambda kv: -kv[1]):
            if size >= 100_000:
                print(f"{size / 1e6:8.1f} MB  {size / n / 1000:6.1f} KB/pod  {name}")
        print(f"{sum(parts.values()) / 1e6:8.1f} MB  in the structures above")
        await c.close()
        await cp.stop()
    finally:
        host.stop()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
