"""The host create's window: `vcluster start` SIGKILLed after it sent a host create and before the
pair's base is saved (found by tests/soak/syncer_chaos.py, seeds 4-6, 8, 9). A proxy in front of
the host holds the create of one pod, so the kill lands exactly there: before the create reaches
the host, or after the host made it but before the syncer has the answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from .conftest import Kubectl
from .denying_proxy import DenyingProxy, write_kubeconfig
from .syncer_harness import (
    HOST_NS,
    HostCluster,
    Pair,
    VirtualCluster,
    annotations,
    get_json,
    host_name,
    labels,
    pod_manifest,
    pod_running,
    wait_until,
)

pytestmark = pytest.mark.integration

BASE_KEY = "/vcluster/syncbase/v1/pod/default/p"


class CreateHoldingProxy(DenyingProxy):
    """Forwards everything to the host, except the create of host pod `name` while `holding`:
    `arrived` is set, and once `release` is set it goes to the host (`created` set when the host
    answered) and is never answered to the syncer."""

    def __init__(self, upstream: str, ca_file: Path, name: str) -> None:
        super().__init__(upstream, ca_file, HOST_NS, "pods")
        self.name = name
        self.holding = True
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.created = threading.Event()

    def _denies(self, request: web.Request) -> bool:
        return False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not (
            self.holding and request.method == "POST" and request.path == f"/api/v1/namespaces/{HOST_NS}/pods"
        ):
            return await super()._handle(request)
        body = await request.read()
        if (orjson.loads(body).get("metadata") or {}).get("name") != self.name:
            return await super()._handle(request)
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with self._session.post(
            self.upstream + request.rel_url.path_qs, headers=headers, data=body
        ) as up:
            await up.read()
            assert up.status == 201, up.status
        self.created.set()
        await asyncio.sleep(3600)  # the syncer dies waiting for the answer
        return web.Response(status=504)


def _record_saved(data_dir: Path) -> bool:
    """Whether state.db holds the create's record of pod default/p (read while the process runs)."""
    con = sqlite3.connect(f"file:{data_dir / 'state.db'}?mode=ro", uri=True, timeout=20)
    try:
        row = con.execute(
            "SELECT value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1", (BASE_KEY,)
        ).fetchone()
    finally:
        con.close()
    return row is not None and b'"created"' in bytes(row[0] or b"")


def _ab(obj: dict[str, Any] | None) -> dict[str, str]:
    return {k: v for k, v in labels(obj).items() if k in ("a", "b")}


def _start(tmp_path: Path) -> tuple[CreateHoldingProxy, Pair]:
    host = HostCluster(tmp_path / "host", nodes=1).start()
    proxy = CreateHoldingProxy(host.url, host.ca_file, host_name("p"))
    try:
        proxy.start()
        via = HostCluster(tmp_path / "via-proxy")
        (tmp_path / "via-proxy").mkdir(parents=True)
        write_kubeconfig(via.kubeconfig, proxy, host.token)
        vc = VirtualCluster(tmp_path / "vc", host=via).start()
    except BaseException:
        proxy.stop()
        host.stop()
        raise
    return proxy, Pair(host, vc, Kubectl(host, tmp_path / "kc-host"), Kubectl(vc, tmp_path / "kc-vc"))


def _stop(proxy: CreateHoldingProxy, p: Pair) -> None:
    p.vc.stop()
    proxy.stop()
    p.host.stop()


def test_a_virtual_label_changed_after_the_host_create_wins_after_a_crash_before_the_base(
    tmp_path: Path,
) -> None:
    proxy, p = _start(tmp_path)
    hpod = host_name("p")
    try:
        p.kv.create(pod_manifest("p", "default", labels_={"b": "v1"}))
        wait_until(proxy.arrived.is_set, 20, what="the syncer's host create of the pod")
        # the create is on its way with b=v1; the virtual pod changes b meanwhile
        p.kv("label", "pod", "p", "b=v2", "--overwrite")
        wait_until(lambda: _record_saved(p.vc.data_dir), 10, what="the create's record in state.db")
        proxy.release.set()
        wait_until(proxy.created.is_set, 10, what="the host pod created")
        p.vc.kill()  # the syncer never had the create's answer: no base saved for the pair
        assert _ab(get_json(p.kh, "pod", hpod, "-n", HOST_NS)) == {"b": "v1"}
        # a host change while the syncer is down, to another key
        p.kh("label", "pod", hpod, "-n", HOST_NS, "a=h1")
        proxy.holding = False
        p.vc.start()
        want = {"a": "h1", "b": "v2"}
        wait_until(
            lambda: (
                _ab(get_json(p.kh, "pod", hpod, "-n", HOST_NS)) == want
                and _ab(get_json(p.kv, "pod", "p")) == want
            ),
            20,
            what=f"both sides merged ({want}): the virtual change and the host's\n{p.logs()}",
        )
        v = wait_until(lambda: pod_running(p.kv, "p", "default"), 20, what="the virtual pod Running")
        h = get_json(p.kh, "pod", hpod, "-n", HOST_NS)
        assert h is not None and annotations(h)["vcluster.loft.sh/object-uid"] == v["metadata"]["uid"]
        assert (
            "No saved base for pod default/p: derived from its create's record" in p.vc.log_path.read_text()
        )
    finally:
        _stop(proxy, p)


@pytest.mark.parametrize("reached_host", [False, True], ids=["create-never-sent", "host-deleted-while-down"])
def test_a_recorded_create_without_a_host_pod_creates_it_and_keeps_the_virtual_pod(
    tmp_path: Path, reached_host: bool
) -> None:
    """The record says a create was sent, not that the host made it: with no host pod at the
    restart the two cases look the same, and the virtual pod (never Running) is never deleted
    for it; the host pod is created (again)."""
    proxy, p = _start(tmp_path)
    hpod = host_name("p")
    try:
        p.kv.create(pod_manifest("p", "default", labels_={"b": "v1"}))
        vuid = get_json(p.kv, "pod", "p")["metadata"]["uid"]  # type: ignore[index]
        wait_until(proxy.arrived.is_set, 20, what="the syncer's host create of the pod")
        wait_until(lambda: _record_saved(p.vc.data_dir), 10, what="the create's record in state.db")
        first_uid = None
        if reached_host:
            proxy.release.set()
            wait_until(proxy.created.is_set, 10, what="the host pod created")
        p.vc.kill()
        if reached_host:
            first = get_json(p.kh, "pod", hpod, "-n", HOST_NS)
            assert first is not None
            first_uid = first["metadata"]["uid"]
            p.kh("delete", "pod", hpod, "-n", HOST_NS, "--grace-period=0", "--force", "--wait=true")
        assert get_json(p.kh, "pod", hpod, "-n", HOST_NS) is None
        proxy.holding = False
        p.vc.start()
        v = wait_until(
            lambda: pod_running(p.kv, "p", "default"), 30, what=f"the virtual pod Running\n{p.logs()}"
        )
        assert v["metadata"]["uid"] == vuid
        h = get_json(p.kh, "pod", hpod, "-n", HOST_NS)
        assert h is not None and annotations(h)["vcluster.loft.sh/object-uid"] == vuid
        assert h["metadata"]["uid"] != first_uid
        assert _ab(h) == {"b": "v1"} and _ab(v) == {"b": "v1"}
    finally:
        _stop(proxy, p)
