"""Two races of the simulated kubelet: an exec'd command's output arriving with the WebSocket upgrade
(which kubectl 1.32 drops before it has created its streams), and a container's log counted empty
by `/stats/summary` in the first second after a sub-second container start."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from vcluster.apiserver.certs import ensure_pki, kubelet_client_ssl_context
from vcluster.apiserver.podexec import STDOUT, V5, decode_frame
from vcluster.hostsim.kubeletserver import EXEC_START_SECONDS, KubeletServer, log_source
from vcluster.hostsim.kubeletviews import NodeViews
from vcluster.hostsim.podstatus import running_status

T0 = 1_700_000_000.0  # a whole second


def running_pod(started: float) -> dict[str, Any]:
    """A pod on node n1 whose containers `web` (nginx) and `side` run since `started`."""
    p: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "uid-1"},
        "spec": {
            "nodeName": "n1",
            "containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "side", "image": "busybox"}],
        },
        "status": {"phase": "Pending"},
    }
    p["status"] = {**p["status"], **running_status(p, "127.0.0.1", "10.244.1.2", started, True, started)}
    return p


def test_exec_output_never_arrives_with_the_upgrade(tmp_path: Path) -> None:
    """The command starts a runtime's exec start after the upgrade, so the client has its streams
    before the first byte of output (client-go < 1.33 discards frames that come earlier)."""
    pki = ensure_pki(tmp_path / "pki", ["127.0.0.1"])
    pod = running_pod(time.time() - 5)

    async def run() -> list[tuple[float, int, bytes]]:
        server = KubeletServer(lambda ns, n: pod if (ns, n) == ("ns", "p") else None, client_ca=pki.ca_pem)
        port = await server.start()
        frames: list[tuple[float, int, bytes]] = []
        try:
            connector = aiohttp.TCPConnector(ssl=kubelet_client_ssl_context(pki))
            async with aiohttp.ClientSession(connector=connector) as s:
                url = f"https://127.0.0.1:{port}/exec/ns/p/web?command=echo&command=on-p&output=1&error=1"
                async with s.ws_connect(url, protocols=(V5,)) as ws:
                    upgraded = time.monotonic()
                    async for msg in ws:
                        channel, data = decode_frame(msg.data, V5)
                        frames.append((time.monotonic() - upgraded, channel, data))
        finally:
            await server.stop()
        return frames

    frames = asyncio.run(run())
    out = [(t, data) for t, channel, data in frames if channel == STDOUT and data]
    assert b"".join(data for _, data in out) == b"on-p\n", frames
    assert frames[0][1:] == (STDOUT, b"")  # "the connection is established"
    assert out[0][0] >= EXEC_START_SECONDS / 2, frames  # not in the same read as the upgrade


def test_summary_counts_a_log_already_served_in_the_first_second() -> None:
    """A container started at T0+0.6 has logged its startup lines at T0+0.9: the Summary (whose
    times are whole seconds, T0) still measures the log at T0+0.9, as the kubelet's `du` does."""
    started, now = T0 + 0.6, T0 + 0.9
    pod = running_pod(started)
    kubelet = SimpleNamespace(running_pods=lambda: [pod], started_at=lambda uid: started)
    sim = SimpleNamespace(
        kubelet=kubelet,
        config=SimpleNamespace(log_line_seconds=5.0, memory="32Gi", ephemeral_storage="100Gi"),
    )
    views = NodeViews(sim, clock=lambda: now)  # type: ignore[arg-type]
    served = log_source(pod, "web", previous=False, interval=5.0, started=started).lines(now)
    assert served  # what `kubectl logs` shows at that moment
    s = views.summary("n1")
    web = next(c for c in s["pods"][0]["containers"] if c["name"] == "web")
    assert web["logs"]["usedBytes"] > 0 and web["logs"]["time"] == "2023-11-14T22:13:20Z"
    assert web["startTime"] == "2023-11-14T22:13:20Z"
    ephemeral = s["pods"][0]["ephemeral-storage"]["usedBytes"]
    assert ephemeral >= sum(c["logs"]["usedBytes"] for c in s["pods"][0]["containers"])
