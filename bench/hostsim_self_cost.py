"""The simulated host's own CPU per pod, without the API server: the real scheduler, kubelet and
event recorder of hostsim/ against an in-memory stand-in for the API (a dict of pods whose writes
are echoed to the handlers as watch events), so what is measured is their work alone — informer
handlers, scheduling, the kubelet's syncs and status building, the status patch, events, queues.

Per pod, as on a real host: the pod appears unbound, the scheduler binds it (Scheduled event), the
kubelet starts it (Pulling/Pulled/Created/Started, one status patch to Running), and sees its own
write come back. The stand-in's own time (applying the patch with the API server's strategic merge,
copying objects) is measured and left out. The pod is the synced host pod of hostsim_cost.py.

Usage:  .venv/bin/python bench/hostsim_self_cost.py [-n 2000] [--runs 5]   (PYTHONPATH=OTHER/src)
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import time
from pathlib import Path
from typing import Any

from vcluster.apiserver.smp import strategic_merge_patch
from vcluster.hostsim.config import HostSimConfig
from vcluster.hostsim.events import EventRecorder
from vcluster.hostsim.kubelet import Kubelet
from vcluster.hostsim.nodes import SimNode, node_cidr
from vcluster.hostsim.podstatus import rfc3339
from vcluster.hostsim.scheduler import Scheduler

NS = "test-namespace"
SYNCED = Path(__file__).parent / "fixtures" / "hostsim_synced_pod.json"
NODES = 8


class FakeInformer:
    """An informer's cache and handlers; `put` is a watch event."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.handlers: list[Any] = []

    def add_handler(self, handler: Any) -> None:
        self.handlers.append(handler)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.items.get((namespace or "", name))

    def list(self) -> list[dict[str, Any]]:
        return list(self.items.values())

    def put(self, obj: dict[str, Any]) -> None:
        md = obj["metadata"]
        key = (md.get("namespace", ""), md["name"])
        old = self.items.get(key)
        self.items[key] = obj
        for h in self.handlers:
            h("add" if old is None else "update", obj, old)


class FakeApi:
    """What hostsim asks of the API: bindings, status patches, events; its own CPU in `seconds`."""

    def __init__(self, pods: FakeInformer) -> None:
        self.pods = pods
        self.rv = 1000
        self.seconds = 0.0
        self.events = 0
        self.server = "https://127.0.0.1:6443"

    def with_user_agent(self, _ua: str) -> FakeApi:
        return self

    def _commit(self, pod: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        pod["metadata"]["resourceVersion"] = str(self.rv)
        asyncio.get_running_loop().call_soon(self.pods.put, copy.deepcopy(pod))
        return pod

    async def create(
        self,
        _v: str,
        plural: str,
        body: dict[str, Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        t = time.process_time()
        try:
            if subresource == "binding":
                pod = copy.deepcopy(self.pods.get(body["metadata"]["name"], namespace))
                assert pod is not None
                pod["spec"]["nodeName"] = body["target"]["name"]
                cond = {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(),
                }
                pod["status"]["conditions"] = [cond]
                self._commit(pod)
                return {"kind": "Status", "status": "Success"}
            assert plural == "events"
            self.events += 1
            return {**body, "metadata": {**body["metadata"], "uid": f"e{self.events}"}}
        finally:
            self.seconds += time.process_time() - t

    async def patch(
        self, _v: str, _plural: str, name: str, body: dict[str, Any], namespace: str | None = None, **_kw: Any
    ) -> dict[str, Any]:
        t = time.process_time()
        try:
            pod = self.pods.get(name, namespace)
            assert pod is not None
            return self._commit(strategic_merge_patch(pod, body, "", "v1", "Pod"))
        finally:
            self.seconds += time.process_time() - t


def _pods(n: int) -> list[dict[str, Any]]:
    base = json.loads(SYNCED.read_text())
    out = []
    for i in range(n):
        pod = copy.deepcopy(base)
        md = pod["metadata"]
        md.update(name=f"p{i}", namespace=NS, uid=f"uid-{i}", resourceVersion=str(i + 1))
        md["creationTimestamp"] = rfc3339()
        pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        out.append(pod)
    return out


def _node(i: int) -> dict[str, Any]:
    alloc = {"cpu": "64", "memory": "256Gi", "pods": "110000", "ephemeral-storage": "1Ti"}
    return {
        "metadata": {"name": f"node-{i}", "labels": {"kubernetes.io/hostname": f"node-{i}"}},
        "spec": {},
        "status": {"allocatable": alloc, "capacity": alloc},
    }


async def run_once(n: int) -> tuple[float, int]:
    """hostsim CPU seconds for `n` pods (the stand-in's left out) and the events written."""
    pods, nodes_inf, cms, secrets = FakeInformer(), FakeInformer(), FakeInformer(), FakeInformer()
    api = FakeApi(pods)
    cfg = HostSimConfig(nodes=NODES)
    events = EventRecorder(api, workers=cfg.event_workers, queue_size=10 * n + 100)  # type: ignore[arg-type]
    sched = Scheduler(api, cfg, pods, nodes_inf, events)  # type: ignore[arg-type]
    sim_nodes = {f"node-{i}": SimNode(f"node-{i}", i, f"10.0.0.{i}", node_cidr(i)) for i in range(1, 9)}
    kubelet = Kubelet(api, cfg, pods, sim_nodes, events, cms, secrets)  # type: ignore[arg-type]
    for i in range(1, NODES + 1):
        nodes_inf.put(_node(i))
    cm = {
        "metadata": {"name": "vcluster-kube-root-ca.crt-x-my-vcluster", "namespace": NS},
        "data": {"ca.crt": "x"},
    }
    cms.put(cm)
    todo = _pods(n)
    await events.start()
    await sched.start()
    await kubelet.start()
    t0, api0 = time.process_time(), api.seconds
    for pod in todo:
        pods.put(pod)
    while kubelet.started_total < n or api.events < 5 * n:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the echo of the last status writes
    spent = time.process_time() - t0 - (api.seconds - api0)
    for part in (sched, kubelet):
        await part.stop()
    await events.stop()
    running = sum(1 for p in pods.list() if p["status"].get("phase") == "Running")
    assert running == n, f"{running} of {n} pods Running"
    return spent, api.events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="pods per run")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tree = os.environ.get("PYTHONPATH") or "this tree"
    results = []
    for _ in range(args.runs):
        spent, events = asyncio.run(run_once(args.n))
        results.append(spent / args.n * 1000)
    print(
        f"[{tree}] hostsim's own CPU per pod ({args.n} pods, {events / args.n:.0f} events each): "
        f"min {min(results):.3f} ms, median {sorted(results)[len(results) // 2]:.3f} ms "
        f"({', '.join(f'{r:.3f}' for r in results)})",
        flush=True,
    )


if __name__ == "__main__":
    main()
