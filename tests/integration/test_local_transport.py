"""In-process requests (apiserver/local.py, client/local.py): a client of the API server's own
process gets the same answers and watch events as over HTTP, and the requests are counted in the
server's metrics like any other."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from vcluster.apiserver.server import APIServer, ServerConfig
from vcluster.client import ApiError, Client
from vcluster.client.local import is_local_path

pytestmark = pytest.mark.integration


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def _pair(tmp_path: Path) -> tuple[APIServer, Client, Client]:
    srv = APIServer(ServerConfig(data_dir=tmp_path, port=0))
    await srv.start()
    kw: dict[str, Any] = {"unix_socket": str(srv.unix_socket)}
    local = await Client.from_kubeconfig(
        str(srv.kubeconfig_path), local=srv.handle_local, local_stream=srv.open_local_stream, **kw
    )
    http = await Client.from_kubeconfig(str(srv.kubeconfig_path), **kw)
    return srv, local, http


def _with_pair(tmp_path: Path, check: Callable[[APIServer, Client, Client], Awaitable[None]]) -> None:
    """Run `check(server, in-process client, HTTP client)` against a fresh server, then stop all."""

    async def main() -> None:
        srv, local, http = await _pair(tmp_path)
        try:
            await check(srv, local, http)
        finally:
            await local.close()
            await http.close()
            await srv.stop()

    asyncio.run(main())


async def _error(coro: Any) -> tuple[int, str, str]:
    with pytest.raises(ApiError) as ei:
        await coro
    return ei.value.status, ei.value.reason, ei.value.message


def _requests(srv: APIServer, verb: str, resource: str) -> float:
    total = 0.0
    for metric in srv.metrics.registry.collect():
        for s in metric.samples:
            if (
                s.name == "apiserver_request_total"
                and s.labels["verb"] == verb
                and s.labels["resource"] == resource
            ):
                total += s.value
    return total


def test_local_and_http_answers_are_the_same(tmp_path: Path) -> None:
    async def check(srv: APIServer, local: Client, http: Client) -> None:
        await local.create("v1", "namespaces", {"metadata": {"name": "t"}})
        a = await local.create("v1", "configmaps", _cm("a", k="1"), "t")
        b = await http.create("v1", "configmaps", _cm("b", k="1"), "t")
        assert a["metadata"]["uid"] and a["metadata"]["managedFields"][0]["manager"] == "vcluster"
        assert set(a["metadata"]) == set(b["metadata"])  # same server-side processing
        # reads, patches (with a subresource-free merge patch), lists with selectors
        got = await local.get("v1", "configmaps", "a", "t")
        assert got == a
        patched = await local.patch("v1", "configmaps", "a", {"data": {"k": "2"}}, "t")
        assert patched["data"] == {"k": "2"}
        assert int(patched["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
        names = [i["metadata"]["name"] for i in (await local.list("v1", "configmaps", "t"))["items"]]
        assert {"a", "b"} <= set(names)
        # errors: the same Status code, reason and message both ways
        for client in (local, http):
            assert await _error(client.create("v1", "configmaps", _cm("a"), "t")) == (
                409,
                "AlreadyExists",
                'configmaps "a" already exists',
            )
        missing = [await _error(c.get("v1", "configmaps", "zz", "t")) for c in (local, http)]
        assert missing[0] == missing[1] and missing[0][0] == 404
        bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}
        invalid = [await _error(c.create("v1", "configmaps", bad, "t")) for c in (local, http)]
        assert invalid[0] == invalid[1] and invalid[0][:2] == (422, "Invalid")
        # counted like network requests
        assert _requests(srv, "create", "configmaps") >= 5
        # deletes
        await local.delete("v1", "configmaps", "a", "t")
        assert (await _error(http.get("v1", "configmaps", "a", "t")))[0] == 404
        assert local._session is None  # none of it went over HTTP
        assert http._session is not None

    _with_pair(tmp_path, check)


def test_watches_in_process(tmp_path: Path) -> None:
    """Watches stream in process too: the same events as over HTTP, errors (410) as ApiErrors,
    and a client that stops reading ends the server side of its watch."""

    async def check(srv: APIServer, local: Client, http: Client) -> None:
        await local.create("v1", "namespaces", {"metadata": {"name": "w"}})
        base_watches = srv.store.watch_count()
        seen: dict[str, list[tuple[str, str]]] = {"local": [], "http": []}

        async def watch(c: Client, into: list[tuple[str, str]]) -> None:
            async for etype, obj in c.watch("v1", "configmaps", "w", timeout_seconds=10):
                into.append((etype, obj["metadata"]["name"]))
                if obj["metadata"]["name"] == "c2" and etype == "MODIFIED":
                    return

        tasks = [
            asyncio.create_task(watch(local, seen["local"])),
            asyncio.create_task(watch(http, seen["http"])),
        ]
        await asyncio.sleep(0.3)
        await local.create("v1", "configmaps", _cm("c1"), "w")
        await local.create("v1", "configmaps", _cm("c2"), "w")
        await local.patch("v1", "configmaps", "c2", {"data": {"x": "y"}}, "w")
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert seen["local"] == seen["http"] == [("ADDED", "c1"), ("ADDED", "c2"), ("MODIFIED", "c2")]
        assert local._session is None  # the watch did not use the socket
        # the local watch ended on the server when the client stopped reading
        deadline = asyncio.get_running_loop().time() + 5
        while srv.store.watch_count() > base_watches and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert srv.store.watch_count() == base_watches

        # a resourceVersion from the future is refused before streaming, as over HTTP (both asked
        # at once: the server waits a few seconds for the revision before it answers)
        async def future_watch(c: Client) -> tuple[int, str]:
            with pytest.raises(ApiError) as ei:
                async for _ in c.watch("v1", "configmaps", "w", resource_version="999999"):
                    pass
            return ei.value.status, ei.value.reason

        errors = await asyncio.gather(future_watch(local), future_watch(http))
        assert errors[0] == errors[1]

    _with_pair(tmp_path, check)


def test_strict_field_validation_in_process(tmp_path: Path) -> None:
    """Unknown fields are refused alike; a body sent as bytes may repeat a key and is checked for it
    (only bodies our client encodes from a dict skip the duplicate scan)."""

    async def check(srv: APIServer, local: Client, http: Client) -> None:
        await local.create("v1", "namespaces", {"metadata": {"name": "s"}})
        strict = {"fieldValidation": "Strict"}
        path = "/api/v1/namespaces/s/configmaps"
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}, "bogus": 1}
        answers = []
        for c in (local, http):
            status, _, raw = await c.request("POST", path, params=strict, json=body)
            answers.append((status, orjson.loads(raw)["message"]))
        assert answers[0] == answers[1] and answers[0][0] == 400
        assert 'unknown field "bogus"' in answers[0][1]
        dup = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"d"}}'
        answers = []
        for c in (local, http):
            status, _, raw = await c.request(
                "POST", path, params=strict, data=dup, content_type="application/json"
            )
            answers.append((status, orjson.loads(raw)["message"]))
        assert answers[0] == answers[1] and answers[0][0] == 400
        assert 'duplicate field "metadata.name"' in answers[0][1]
        # a merge patch given as a dict goes in process and is applied
        await local.create("v1", "configmaps", _cm("m", a="1"), "s")
        out = await local.patch("v1", "configmaps", "m", {"data": {"a": "2"}}, "s")
        assert out["data"] == {"a": "2"} and local._session is None

    _with_pair(tmp_path, check)


@pytest.mark.parametrize(
    "path,params,local",
    [
        ("/api/v1/namespaces/t/configmaps", None, True),
        ("/api/v1/namespaces/t/pods/p/status", None, True),
        ("/api/v1/namespaces/t/configmaps", {"watch": True}, False),
        ("/api/v1/namespaces/t/configmaps", {"watch": "false"}, True),
        ("/api/v1/namespaces/t/pods/p/log", {"follow": True}, False),
        ("/api/v1/namespaces/t/pods/p/exec", None, False),
        ("/api/v1/nodes/n/proxy/metrics", None, False),
        ("/api/v1/watch/namespaces/t/configmaps", None, False),
    ],
)
def test_what_goes_in_process(path: str, params: dict[str, Any] | None, local: bool) -> None:
    assert is_local_path(path, params) is local
