"""CPU per API request type of the write path the syncer drives, in one process.

An API server runs in this process and a client talks to it over its Unix socket (HTTP, as
`vcluster start`'s parts did before requests went in process); for each request type N requests
run at concurrency 20, and the process CPU time per request is reported (client and server
together; the client part is the same for every type, see "get pod"). Each type runs in R rounds;
the minimum and the median of the rounds are printed, the minimum being the least disturbed by the
VM's neighbours.

The objects are those of the syncer benchmark (bench/fixtures/apiserver_ops.json): a pod as the
syncer writes it to the host (about 7 KB with its managedFields), the kubelet status it then gets,
a host event, and a plain pod for comparison. With `--distinct` every synced pod differs the way
the syncer's and the kubelet's do (its token annotation, its service-account volume and its pod IP
are its own), so per-shape caches (managedFields documents) do not hit as they do for identical pods.

Usage:  .venv/bin/python bench/apiserver_ops.py [--n 300] [--rounds 4] [--in-process] [--distinct]
        PYTHONPATH=<other checkout>/src .venv/bin/python bench/apiserver_ops.py   # another version
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvloop

from vcluster.apiserver.server import APIServer, ServerConfig, tune_gc
from vcluster.client import Client

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "apiserver_ops.json"
NS = "test-namespace"


def _copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


def _distinct(obj: Any, i: int) -> Any:
    """A copy of a synced pod or its status with pod i's own token annotation, volume and pod IP."""
    text = orjson.dumps(obj).decode()
    suffix = f"{i:05d}"  # the fixture's random suffixes are 5 characters
    text = text.replace("token-kydscgex", f"token-kyd{suffix[:5]}").replace("85hwp", suffix)
    return orjson.loads(text.replace("10.244.6.62", f"10.244.{i // 250}.{i % 250 + 2}"))


async def run(
    n: int, rounds: int, in_process: bool = False, distinct: bool = False
) -> dict[str, list[float]]:
    fx = json.loads(FIXTURES.read_text())
    data = Path(tempfile.mkdtemp(prefix="apiserver-ops-"))
    srv = APIServer(ServerConfig(data_dir=data, port=0))
    await srv.start()
    tune_gc()
    kw: dict[str, Any] = {"unix_socket": str(srv.unix_socket)}
    if in_process:  # as the controllers and the syncer talk to their own API server
        kw.update(local=srv.handle_local, local_stream=srv.open_local_stream)
    c = await Client.from_kubeconfig(str(srv.kubeconfig_path), **kw)
    results: dict[str, list[float]] = {}
    try:
        await c.create("v1", "namespaces", {"metadata": {"name": NS}})
        for sa in ("default", "vc-workload-my-vcluster"):
            await c.create("v1", "serviceaccounts", {"metadata": {"name": sa}}, namespace=NS)
        sem = asyncio.Semaphore(20)

        async def timed(name: str, fn: Callable[[int], Awaitable[Any]]) -> None:
            async def one(i: int) -> None:
                async with sem:
                    await fn(i)

            t0 = time.process_time()
            await asyncio.gather(*(one(i) for i in range(n)))
            results.setdefault(name, []).append((time.process_time() - t0) / n * 1000)

        def create_pod(template: dict[str, Any], prefix: str) -> Callable[[int], Awaitable[Any]]:
            def fn(i: int) -> Awaitable[Any]:
                obj = _distinct(template, i) if distinct and template is fx["synced_pod"] else _copy(template)
                obj["metadata"]["name"] = f"{prefix}-{i}"
                obj["metadata"]["namespace"] = NS
                return c.create("v1", "pods", obj, namespace=NS)

            return fn

        for r in range(rounds):
            await timed("create plain pod", create_pod(fx["plain_pod"], f"plain{r}"))
            await timed("create synced pod", create_pod(fx["synced_pod"], f"p{r}"))

            def bind(i: int, r: int = r) -> Awaitable[Any]:
                body = {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": f"p{r}-{i}"},
                    "target": {"kind": "Node", "name": "n1"},
                }
                return c.create("v1", "pods", body, namespace=NS, name=f"p{r}-{i}", subresource="binding")

            await timed("bind synced pod", bind)

            def status(i: int, r: int = r) -> Awaitable[Any]:
                patch = {
                    "status": _distinct(fx["synced_pod_status"], i) if distinct else fx["synced_pod_status"]
                }
                return c.patch(
                    "v1", "pods", f"p{r}-{i}", patch, NS, subresource="status", patch_type="strategic"
                )

            await timed("status patch synced pod", status)

            def event(i: int, r: int = r) -> Awaitable[Any]:
                obj = _copy(fx["host_event"])
                obj["metadata"]["name"] = f"ev{r}-{i}"
                obj["metadata"]["namespace"] = NS
                return c.create("v1", "events", obj, namespace=NS)

            await timed("create event", event)
            await timed("get pod", lambda i, r=r: c.get("v1", "pods", f"p{r}-{i}", namespace=NS))
    finally:
        await c.close()
        await srv.stop()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="requests per type and round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--in-process", action="store_true", help="requests in process, not over the socket")
    ap.add_argument("--distinct", action="store_true", help="each synced pod its own, as in the syncer burst")
    args = ap.parse_args()
    results = uvloop.run(run(args.n, args.rounds, args.in_process, args.distinct))
    how = "in process" if args.in_process else "over the Unix socket"
    if args.distinct:
        how += ", distinct synced pods"
    print(
        f"CPU per request (client + server, {how}), {args.n} requests x {args.rounds} rounds, concurrency 20"
    )
    for name, values in results.items():
        print(f"  {name:26s} min {min(values):6.3f} ms   median {statistics.median(values):6.3f} ms")


if __name__ == "__main__":
    main()
