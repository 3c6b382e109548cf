"""Event copies yield to pods (EventController._pods_first): best effort, never starved, and
woken by the pods queue itself (WorkQueue.idle), with no polling."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from vcluster.client import WorkQueue
from vcluster.syncer.engine import events
from vcluster.syncer.kinds import POD


def _controller(queue: WorkQueue | None) -> events.EventController:
    ec = object.__new__(events.EventController)
    controllers = {} if queue is None else {"pods": SimpleNamespace(queue=queue)}
    ec.engine = SimpleNamespace(controllers=controllers)  # type: ignore[assignment]
    return ec


def test_workqueue_idle_follows_the_ready_keys() -> None:
    async def main() -> None:
        q = WorkQueue("t")
        assert q.idle.is_set()
        q.add("a")
        q.add("b")
        assert not q.idle.is_set()
        assert await q.get() == "a" and not q.idle.is_set()
        q.add("a")  # re-added while processing: queued again at done()
        assert await q.get() == "b" and q.idle.is_set()
        q.done("a")
        assert not q.idle.is_set() and q.depth == 1
        assert await q.get() == "a" and q.idle.is_set()
        q.add("c")
        q.shutdown()
        assert q.idle.is_set()

    asyncio.run(main())


def test_event_copies_wait_for_the_pods_queue_but_never_long(monkeypatch: object) -> None:
    async def main() -> None:
        monkeypatch.setattr(events, "EVENTS_YIELD_SECONDS", 0.3)  # type: ignore[attr-defined]
        pods = WorkQueue("pods")
        for i in range(5):
            pods.add(f"p{i}")
        busy = _controller(pods)
        t0 = time.monotonic()
        await busy._pods_first()  # pods keep waiting: the copy goes ahead after the cap
        waited = time.monotonic() - t0
        assert 0.25 <= waited < 1.0, waited
        # the pods queue drains: waiting copies go at once
        task = asyncio.create_task(busy._pods_first())
        await asyncio.sleep(0.05)
        assert not task.done()
        for _ in range(5):
            await pods.get()
        await asyncio.wait_for(task, 0.1)
        for ec in (_controller(WorkQueue("empty")), _controller(None)):  # idle, or pods not synced
            t0 = time.monotonic()
            await ec._pods_first()
            assert time.monotonic() - t0 < 0.01

    asyncio.run(main())


class _Cache:
    """An informer's read side (get by name and namespace)."""

    def __init__(self, *objs: dict) -> None:
        self.objs = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objs}

    def get(self, name: str, namespace: str | None = None) -> dict | None:
        return self.objs.get((namespace or "", name))


def _events_engine(host_pods: _Cache, virtual_pods: _Cache, created: list[dict]) -> events.EventController:
    from vcluster.config import load_config
    from vcluster.syncer.configctx import context_from_config

    async def create_virtual(kind: object, obj: dict) -> dict:
        created.append(obj)
        return {**obj, "metadata": {**obj["metadata"], "uid": "u", "resourceVersion": "1"}}

    metric = SimpleNamespace(inc=lambda: None)
    ec = object.__new__(events.EventController)
    pods = SimpleNamespace(
        queue=WorkQueue("pods"), hinf=host_pods, vinf=virtual_pods, ks=SimpleNamespace(kind=POD)
    )
    ec.engine = SimpleNamespace(  # type: ignore[assignment]
        ctx=context_from_config(load_config("{}"), name="my-vcluster", host_namespace="hns"),
        controllers={"pods": pods},
        controller_for=lambda group, kind: pods if (group, kind) == ("", "Pod") else None,
        mapping_lookup=lambda kind, ns, name: None,  # the pod's mapping is not saved yet
        mappings=SimpleNamespace(get=lambda kind, ns, name: None),
        virtual_namespaces=_Cache({"metadata": {"name": "team"}}),
        writer=SimpleNamespace(create_virtual=create_virtual),
        metrics=SimpleNamespace(syncs=SimpleNamespace(labels=lambda *a: metric)),
    )
    ec.queue = WorkQueue("event")
    ec._written, ec._waits = {}, {}
    return ec


def test_an_event_before_the_mapping_is_copied_by_the_host_objects_annotations() -> None:
    """Spec §1.8: without a mapping yet, the involved host pod's object-name/namespace annotations
    name the virtual pod (a pod's first events often come before its mapping is saved); an event
    whose involved pod is not cached yet is looked at again, one about a pod not ours is dropped."""
    hname = "web-x-team-x-my-vcluster"
    host_pod = {
        "metadata": {
            "name": hname, "namespace": "hns",
            "labels": {"vcluster.loft.sh/managed-by": "my-vcluster"},
            "annotations": {"vcluster.loft.sh/object-name": "web",
                            "vcluster.loft.sh/object-namespace": "team",
                            "vcluster.loft.sh/object-kind": "/v1, Kind=Pod",
                            "vcluster.loft.sh/object-host-name": hname,
                            "vcluster.loft.sh/object-host-namespace": "hns"},
        }
    }  # fmt: skip
    vpod = {"metadata": {"name": "web", "namespace": "team", "uid": "v-uid", "resourceVersion": "7"}}

    def hevent(name: str, pod: str) -> dict:
        return {
            "metadata": {"name": name, "namespace": "hns"},
            "involvedObject": {"kind": "Pod", "namespace": "hns", "name": pod, "uid": "h-uid"},
            "reason": "Started", "message": f"Started container in {pod}", "type": "Normal", "count": 1,
        }  # fmt: skip

    async def main() -> None:
        created: list[dict] = []
        ec = _events_engine(_Cache(host_pod), _Cache(vpod), created)
        ec.hevents = _Cache(hevent(f"{hname}.1", hname), hevent("other.1", "not-ours"))  # type: ignore[assignment]
        await ec.reconcile(f"{hname}.1")
        assert len(created) == 1
        inv = created[0]["involvedObject"]
        assert (inv["namespace"], inv["name"], inv["uid"]) == ("team", "web", "v-uid")
        assert created[0]["metadata"]["namespace"] == "team" and "web" in created[0]["message"]
        # the involved pod is not in the host cache yet: looked at again shortly, then given up
        await ec.reconcile("other.1")
        assert created[1:] == [] and ec._waits == {"other.1": 1} and ec.queue.waiting == 1
        for _ in range(20):
            await ec.reconcile("other.1")
        assert ec._waits == {"other.1": 10} and len(created) == 1  # ten looks, then given up
        # cached but not ours (no mapping, no annotations): dropped at once
        ec.engine.controllers["pods"].hinf = _Cache(
            host_pod, {"metadata": {"name": "not-ours", "namespace": "hns"}}
        )
        await ec.reconcile("other.1")
        assert ec._waits == {} and len(created) == 1

    asyncio.run(main())
