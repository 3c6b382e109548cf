"""A plain JSON watch gets the events of one commit batch in one HTTP chunk (one TLS record, one
send) instead of one chunk per event: replayed history arrives as a single chunk, and live events
of concurrent writes, over HTTP and in process, arrive complete, once each and in order."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from vcluster.apiserver.server import APIServer, ServerConfig
from vcluster.client import Client

pytestmark = pytest.mark.integration


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}}


async def _chunks(srv: APIServer, query: str, want: int) -> list[list[dict[str, Any]]]:
    """The HTTP chunks of a configmaps watch in `default` until `want` non-bookmark events came,
    each as its list of events."""
    token = yaml.safe_load(srv.kubeconfig_path.read_text())["users"][0]["user"]["token"]
    ctx = ssl.create_default_context(cafile=str(srv.cfg.data_dir / "pki" / "ca.crt"))
    url = f"{srv.url}/api/v1/namespaces/default/configmaps?watch=1&{query}"
    out: list[list[dict[str, Any]]] = []
    got, buf = 0, b""
    async with (
        aiohttp.ClientSession() as s,
        s.get(url, headers={"Authorization": f"Bearer {token}"}, ssl=ctx) as resp,
    ):
        assert resp.status == 200
        chunk: list[dict[str, Any]] = []
        async for data, end in resp.content.iter_chunks():
            buf += data
            *lines, buf = buf.split(b"\n")
            chunk += [orjson.loads(ln) for ln in lines if ln.strip()]
            if end:
                events = [e for e in chunk if e["type"] != "BOOKMARK"]
                if events:
                    out.append(events)
                    got += len(events)
                chunk = []
                if got >= want:
                    return out
    raise AssertionError(f"the watch ended after {got} of {want} events")


def _names(chunks: list[list[dict[str, Any]]]) -> list[str]:
    return [e["object"]["metadata"]["name"] for c in chunks for e in c]


def _serve(tmp_path: Path, check: Any) -> None:
    async def main() -> None:
        srv = APIServer(ServerConfig(data_dir=tmp_path, port=0))
        await srv.start()
        try:
            async with (
                await Client.from_kubeconfig(str(srv.kubeconfig_path)) as http,
                await Client.from_kubeconfig(
                    str(srv.kubeconfig_path), local=srv.handle_local, local_stream=srv.open_local_stream
                ) as local,
            ):
                await check(srv, http, local)
        finally:
            await srv.stop()

    asyncio.run(main())


def test_replayed_history_comes_in_one_chunk(tmp_path: Path) -> None:
    async def check(srv: APIServer, http: Client, _local: Client) -> None:
        rv = (await http.list("v1", "configmaps", "default"))["metadata"]["resourceVersion"]
        for i in range(6):
            await http.create("v1", "configmaps", _cm(f"h{i}"), "default")
        chunks = await asyncio.wait_for(_chunks(srv, f"resourceVersion={rv}", 6), 10)
        assert _names(chunks) == [f"h{i}" for i in range(6)]
        assert len(chunks) == 1  # one write for the six replayed events (six before)
        assert all(e["type"] == "ADDED" for e in chunks[0])

    _serve(tmp_path, check)


def test_live_batches_arrive_complete_and_in_order(tmp_path: Path) -> None:
    async def check(srv: APIServer, http: Client, local: Client) -> None:
        rv = (await http.list("v1", "configmaps", "default"))["metadata"]["resourceVersion"]
        n = 60
        seen_local: list[str] = []

        async def local_watch() -> None:
            async for etype, obj in local.watch("v1", "configmaps", "default", resource_version=rv):
                if etype == "ADDED":
                    seen_local.append(obj["metadata"]["name"])
                    if len(seen_local) == n:
                        return

        http_watch = asyncio.create_task(_chunks(srv, f"resourceVersion={rv}", n))
        in_process = asyncio.create_task(local_watch())
        await asyncio.sleep(0.3)  # both watches registered: what follows is live
        await asyncio.gather(
            *(http.create("v1", "configmaps", _cm(f"c{i:02d}"), "default") for i in range(n))
        )
        chunks = await asyncio.wait_for(http_watch, 20)
        await asyncio.wait_for(in_process, 20)
        names = _names(chunks)
        revs = [int(e["object"]["metadata"]["resourceVersion"]) for c in chunks for e in c]
        assert sorted(names) == [f"c{i:02d}" for i in range(n)] and len(set(names)) == n
        assert revs == sorted(revs)  # commit order
        assert len(chunks) <= n
        assert sorted(seen_local) == sorted(names)
        created = await http.list("v1", "configmaps", "default")
        by_rv = sorted(created["items"], key=lambda o: int(o["metadata"]["resourceVersion"]))
        assert [o["metadata"]["name"] for o in by_rv if o["metadata"]["name"].startswith("c")] == names

    _serve(tmp_path, check)
