"""API server CPU per pod write (create, binding, kubelet status patch) for a bare pod and for
the host pod the syncer makes of it, at a low and a high client concurrency.

Why a synced pod costs the host more than a bare one: it is about twice the JSON (managedFields,
the token annotation, env, volumes, DNS, host aliases), and during a burst through the syncer the
host's writes arrive a few at a time instead of fifty at once. The synced pod is taken from a real
`vcluster host` + `vcluster start` pair; the writes then go to a fresh `vcluster apiserver`, whose
CPU (/proc) is read around each phase.

Usage:  .venv/bin/python bench/syncer/pod_write_cost.py [N]     (default 600 pods per case)
"""

from __future__ import annotations

import asyncio
import copy
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from procs import Proc, cpu_seconds, started_pair

from vcluster.client import Client
from vcluster.hostsim.podstatus import running_status

TOKEN_PREFIX = "vcluster.loft.sh/token-"
BARE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"bench": "1"}},
    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": "nginx"}]},
}


async def synced_pod(base: Path) -> dict[str, Any]:
    """The host pod the syncer creates for BARE (as the syncer sends it: no server fields)."""
    async with started_pair(base) as (_, _, v, h):
        await v.create("v1", "pods", BARE, "default")
        for _ in range(100):
            got = (await h.list("v1", "pods", "test-namespace", label_selector="bench=1"))["items"]
            if got:
                pod = got[0]
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the synced pod did not reach the host")
    md = pod["metadata"]
    for k in (
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "ownerReferences",
        "generation",
    ):
        md.pop(k, None)
    pod.pop("status", None)
    pod["spec"].pop("nodeName", None)
    return pod


def unique_token_key(pod: dict[str, Any], i: int) -> None:
    """Give a synced pod a token annotation key of its own, as the syncer does (a random suffix per
    pod), pointing its token volume at it, and a kube-api-access-xxxxx volume name of its own, as
    the ServiceAccount admission does: both are in the pod's managedFields, so the server's FieldsV1
    caches see a set of its own per pod, as in a real burst."""
    spec = pod["spec"]
    for vol in spec.get("volumes") or []:
        old_vol = vol.get("name", "")
        if old_vol.startswith("kube-api-access-"):
            vol["name"] = f"kube-api-access-{i:05x}"
            for c in spec.get("containers") or []:
                for m in c.get("volumeMounts") or []:
                    if m.get("name") == old_vol:
                        m["name"] = vol["name"]
    ann = pod["metadata"].get("annotations") or {}
    old = next((k for k in ann if k.startswith(TOKEN_PREFIX)), None)
    if old is None:
        return
    new = f"{TOKEN_PREFIX}{i:08x}"
    ann[new] = ann.pop(old)
    for vol in pod["spec"].get("volumes") or []:
        for src in (vol.get("projected") or {}).get("sources") or []:
            for item in (src.get("downwardAPI") or {}).get("items") or []:
                ref = item.get("fieldRef") or {}
                if ref.get("fieldPath") == f"metadata.annotations['{old}']":
                    ref["fieldPath"] = f"metadata.annotations['{new}']"


async def bounded(n: int, conc: int, fn: Callable[[int], Awaitable[Any]]) -> None:
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            await fn(i)

    await asyncio.gather(*(worker() for _ in range(conc)))


async def case(c: Client, pid: int, body: dict[str, Any], tag: str, n: int, conc: int) -> dict[str, float]:
    ns = tag

    def named(i: int) -> dict[str, Any]:
        b = copy.deepcopy(body)
        b["metadata"]["name"] = f"p{i}"
        b["metadata"]["namespace"] = ns
        unique_token_key(b, i)
        return b

    await c.create("v1", "namespaces", {"metadata": {"name": ns}})
    sa = body["spec"].get("serviceAccountName", "default")
    if sa != "default":  # the synced pod runs as the workload ServiceAccount of the host namespace
        await c.create("v1", "serviceaccounts", {"metadata": {"name": sa}}, ns)
    await asyncio.sleep(0.5)  # the namespace's default ServiceAccount
    out: dict[str, float] = {}
    t = cpu_seconds(pid)
    await bounded(n, conc, lambda i: c.create("v1", "pods", named(i), ns))
    out["create"], t = cpu_seconds(pid) - t, cpu_seconds(pid)
    binding = {"apiVersion": "v1", "kind": "Binding", "target": {"kind": "Node", "name": "node-1"}}
    await bounded(
        n,
        conc,
        lambda i: c.create(
            "v1", "pods", {**binding, "metadata": {"name": f"p{i}"}}, ns, subresource="binding"
        ),
    )
    out["binding"] = cpu_seconds(pid) - t
    pods = {p["metadata"]["name"]: p for p in (await c.list("v1", "pods", ns))["items"]}
    t = cpu_seconds(pid)

    async def status(i: int) -> None:
        pod = pods[f"p{i}"]
        now = time.time()
        st = running_status(pod, "10.0.0.1", f"10.1.{i // 250}.{i % 250}", now, True, now)
        await c.patch(
            "v1", "pods", f"p{i}", {"metadata": {"uid": pod["metadata"]["uid"]}, "status": st}, ns,
            subresource="status", patch_type="strategic",
        )  # fmt: skip

    await bounded(n, conc, status)
    out["status"] = cpu_seconds(pid) - t
    return {k: v / n * 1000 for k, v in out.items()}


async def main(n: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="vc-podcost-"))
    synced = await synced_pod(base / "pair")
    srv = Proc(
        "apiserver", ["apiserver", "--data-dir", str(base / "srv"), "--port", "0"], base / "srv"
    ).start()
    try:
        async with await Client.from_kubeconfig(str(srv.kubeconfig), user_agent="pod-write-cost") as c:
            await c.create("v1", "nodes", {"metadata": {"name": "node-1"}})
            print(f"server CPU per write (ms), {n} pods per case; bare pod JSON vs synced pod JSON")
            for conc in (1, 10, 50):
                for tag, body in (("bare", BARE), ("synced", synced)):
                    r = await case(c, srv.pid, body, f"{tag}-c{conc}", n, conc)
                    total = sum(r.values())
                    parts = "  ".join(f"{k} {v:.2f}" for k, v in r.items())
                    print(f"concurrency {conc:2d}  {tag:6s}  {parts}  = {total:.2f} ms per pod", flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 600))
